/* The update engine's public calls: set-up, the engine state, check,
 * install and resume; the flash port and the decoder's one call site.
 * docs/engine.md has the state table and the order of flash operations;
 * the layouts are in apply_ab.c and apply_inplace.c. */
#include "engine_priv.h"

/* ---- the flash port ------------------------------------------------------- */

int dfota__read(struct dfota_engine *e, uint32_t addr, void *buf, uint32_t len)
{
    return FLASH(e)->read(FLASH(e)->ctx, addr, buf, len) ? DFOTA_ERR_IO : DFOTA_OK;
}

int dfota__prog(struct dfota_engine *e, uint32_t addr, const void *buf, uint32_t len)
{
    return FLASH(e)->prog(FLASH(e)->ctx, addr, buf, len) ? DFOTA_ERR_IO : DFOTA_OK;
}

int dfota__erase(struct dfota_engine *e, uint32_t addr)
{
    return FLASH(e)->erase(FLASH(e)->ctx, addr) ? DFOTA_ERR_IO : DFOTA_OK;
}

int dfota__sync(struct dfota_engine *e)
{
    if (FLASH(e)->sync && FLASH(e)->sync(FLASH(e)->ctx))
        return DFOTA_ERR_IO;
    return DFOTA_OK;
}

/* 32-bit arithmetic only: a 64-bit division pulls ~700 bytes of libgcc
 * into a Cortex-M image. */
void dfota__progress(struct dfota_engine *e, enum dfota_phase ph, uint32_t done, uint32_t total)
{
    unsigned pct;
    if (!e->cfg->progress)
        return;
    if (!total || done >= total)
        pct = 100;
    else if (total > 0x28F5C28u)              /* done * 100 would overflow */
        pct = done / (total / 100u);
    else
        pct = done * 100u / total;
    e->cfg->progress(e->cfg->progress_ctx, ph, pct);
}

/* ---- blocks and banks --------------------------------------------------------- */

uint32_t dfota__blocks(const struct dfota_engine *e)
{
    return dz_block_count(e->hdr.dst_size, FLASH(e)->sector_size);
}

uint32_t dfota__src_addr(const struct dfota_engine *e)
{
    return LAYOUT(e)->slot[IS_INPLACE(e) ? 0 : e->active];
}

uint32_t dfota__dst_addr(const struct dfota_engine *e)
{
    return LAYOUT(e)->slot[IS_INPLACE(e) ? 0 : !e->active];
}

/* Blocks are flash sectors: A/B writes the target a sector at a time in
 * address order; in place in the package's order. */
void dfota__block_at(const struct dfota_engine *e, uint32_t i, uint32_t *len, uint32_t *addr)
{
    uint32_t ss = FLASH(e)->sector_size;
#if DFOTA_CFG_INPLACE
    if (IS_INPLACE(e)) {
        uint32_t off;
        dfota_patch_block(i, e->hdr.dst_size, ss, e->hdr.runs, e->hdr.nruns, &off, len, addr);
        *addr += dfota__dst_addr(e);
        return;
    }
#endif
    *len = i + 1 == dfota__blocks(e) ? e->hdr.dst_size - i * ss : ss;
    *addr = dfota__dst_addr(e) + i * ss;
}

/* The digest table of a DFOTA_PKG_F_DEVTABLE package: groups of
 * DFOTA__TAB_GROUP 4-byte entries, each group programmed as one unit of
 * dfota__tab_unit bytes (16, or the program unit when that is larger). */
uint32_t dfota_devtable_size(const struct dfota_pkg_header *h, uint32_t prog_size)
{
    uint32_t ss = h->sector_size, unit = prog_size > 16u ? prog_size : 16u, g;
    if (!(h->flags & DFOTA_PKG_F_INPLACE) || !(h->flags & DFOTA_PKG_F_DEVTABLE) || !ss)
        return 0;
    g = (dz_block_count(h->dst_size, ss) + DFOTA__TAB_GROUP - 1) / DFOTA__TAB_GROUP;
    if (g > (UINT32_MAX - ss) / unit)    /* (32-bit arithmetic only, as progress) */
        return UINT32_MAX;
    return (g * unit + ss - 1) / ss * ss;
}

uint32_t dfota_saved_size(const struct dfota_pkg_header *h)
{
    if (!(h->flags & DFOTA_PKG_F_INPLACE) || !(h->flags & DFOTA_PKG_F_SAVED))
        return 0;
    return h->nsaved > DFOTA_MAX_SAVED || h->sector_size > UINT32_MAX / DFOTA_MAX_SAVED
               ? UINT32_MAX : h->nsaved * h->sector_size;
}

uint32_t dfota_staging_need(const struct dfota_pkg_header *h, uint32_t sector_size,
                            uint32_t prog_size)
{
    uint32_t n = h->header_size + h->payload_size, t = dfota_devtable_size(h, prog_size),
             v = dfota_saved_size(h);
    if (!sector_size || n < h->payload_size || n > UINT32_MAX - sector_size)
        return UINT32_MAX;
    n = (n + sector_size - 1) / sector_size * sector_size;
    if (t > UINT32_MAX - n || v > UINT32_MAX - n - t)
        return UINT32_MAX;
    return n + t + v;
}

/* ---- the decoder's one call site ------------------------------------------- */

uint32_t dfota__stream_size(const struct dfota_pkg_header *h)
{
    return h->payload_size - (uint32_t)dfota_pkg_table_size(h);
}

#if DFOTA_CFG_INPLACE
/* In place, what the decoder reads ends up in checkpoints: a byte read
 * wrong once may sit in the range coder's look-ahead or in an operation that
 * runs into the next block when a checkpoint saves the state, where no block
 * check has seen it, and every resume would then fail the same way. So the
 * decoder's inputs are read twice and must agree (a transient error is
 * read again); a persistent one is caught by the block checks. */
static int read_stable(struct dfota_engine *e, uint32_t addr, uint8_t *buf, uint32_t len)
{
    uint8_t again[32];
    unsigned tries;
    int rc = DFOTA_ERR_IO;

    for (tries = 0; tries < 3; tries++) {
        uint32_t off, n;
        if ((rc = dfota__read(e, addr, buf, len)))
            continue;
        for (off = 0; off < len; off += n) {
            n = len - off < sizeof again ? len - off : (uint32_t)sizeof again;
            if ((rc = dfota__read(e, addr + off, again, n)))
                break;
            if (memcmp(again, buf + off, n) != 0) {
                rc = DFOTA_ERR_IO;
                break;
            }
        }
        if (!rc)
            return DFOTA_OK;
    }
    return rc;
}
#endif

static int io_read(struct dfota__io *c, uint32_t addr, uint8_t *buf, uint32_t len)
{
#if DFOTA_CFG_INPLACE
    if (c->inplace)
        return read_stable(c->e, addr, buf, len);
#endif
    return dfota__read(c->e, addr, buf, len);
}

static int io_payload(void *ctx, uint32_t off, uint8_t *buf, uint32_t len)
{
    struct dfota__io *c = ctx;
    return io_read(c, LAYOUT(c->e)->staging + c->e->hdr.header_size + off, buf, len);
}

#if DFOTA_CFG_INPLACE
/* DFOTA_PKG_F_SAVED: 1 + the index of source sector x among the saved
 * ones, or 0. */
static uint32_t saved_index(const struct dfota_pkg_header *h, uint32_t x)
{
    uint32_t i;
    for (i = 0; i < h->nsaved && i < DFOTA_MAX_SAVED; i++)
        if (h->saved[i] == x)
            return i + 1;
    return 0;
}

uint32_t dfota__saved_addr(const struct dfota_engine *e, uint32_t k)
{
    uint32_t ss = FLASH(e)->sector_size;
    return LAYOUT(e)->staging + LAYOUT(e)->staging_size / ss * ss -
           dfota_devtable_size(&e->hdr, FLASH(e)->prog_size) - (e->hdr.nsaved - k) * ss;
}
#endif

/* In place, block i may read only source sectors that are still there:
 * those that blocks i-lag and later write (blocks 0 .. i-lag-1 are
 * committed), those beyond the target, and the saved ones
 * (DFOTA_PKG_F_SAVED): once a committed block has overwritten one, and the
 * update has made its copy at the end of staging (e->saved_live; not so in
 * the dry run of dfota_check, where nothing is overwritten), it is read
 * there. The package promises it; the engine checks it, so a bad package
 * fails in the dry run, before any write. */
static int io_src(void *ctx, uint32_t off, uint8_t *buf, uint32_t len)
{
    struct dfota__io *c = ctx;

#if DFOTA_CFG_INPLACE
    if (c->inplace && len) {
        const struct dfota_engine *e = c->e;
        const struct dfota_patch_state *s = &e->patch.st;
        uint32_t ss = s->sector_size, n = dz_block_count(s->dst_size, ss);
        uint32_t gone = s->block > e->hdr.lag ? s->block - e->hdr.lag : 0; /* committed blocks */
        while (len) {
            uint32_t x = off / ss, piece = ss - off % ss, k = 0, at = c->src_base + off;
            int rc;
            if (piece > len)
                piece = len;
            if (x < n && dz_sector_block(e->hdr.runs, e->hdr.nruns, x) < gone) {
                if (!(k = saved_index(&e->hdr, x)))
                    return DFOTA_ERR_CORRUPT;    /* written by a committed block */
                if (e->saved_live)
                    at = dfota__saved_addr(e, k - 1) + off % ss;
            }
            if ((rc = io_read(c, at, buf, piece)))
                return rc;
            off += piece;
            buf += piece;
            len -= piece;
        }
        return DFOTA_OK;
    }
#endif
    return io_read(c, c->src_base + off, buf, len);
}

/* DZ2, A/B: target bytes that earlier decode calls produced were programmed
 * into the target slot (dfota__decode programs each buffer before the next
 * call), so they are read back from there; a resumed run replays the
 * finished blocks, which are in flash from before the power cut. In place
 * the decoder asks only with DFOTA_PKG_F_BLOCKWIN, and only for bytes of
 * the current block: they are in the flash copy of the block being
 * decoded (c->win: its scratch slot, in the dry run too), which
 * dfota__decode programs the same way. Else its target copies use its RAM
 * ring. A build without DZ2 (DFOTA_CFG_DZ2=0) has no need of it. */
#if DFOTA_CFG_DZ2
static int io_dst(void *ctx, uint32_t off, uint8_t *buf, uint32_t len)
{
    struct dfota__io *c = ctx;
    if (off > c->e->hdr.dst_size || len > c->e->hdr.dst_size - off)
        return DFOTA_ERR_CORRUPT;
#if DFOTA_CFG_INPLACE
    if (c->inplace) {
        uint32_t from = c->e->patch.ring_from;   /* the current block's first byte */
        if (!(c->e->hdr.flags & DFOTA_PKG_F_BLOCKWIN) || c->win == DFOTA_NO_ADDR || off < from ||
            off - from + len > FLASH(c->e)->sector_size)
            return DFOTA_ERR_CORRUPT;
        return dfota__read(c->e, c->win + (off - from), buf, len);
    }
#else
    if (c->inplace)
        return DFOTA_ERR_CORRUPT;
#endif
    return dfota__read(c->e, dfota__dst_addr(c->e) + off, buf, len);
}
#endif

int dfota__dec_start(struct dfota_engine *e)
{
    int rc = dfota_patch_init(&e->patch, &e->hdr);
    /* The decoder reads the DZ stream only, not the block table after it. */
    e->patch.st.payload_size = dfota__stream_size(&e->hdr);
    return rc;
}

void dfota__dec_io(struct dfota_engine *e, struct dfota__io *c, struct dfota_patch_io *io)
{
    c->e = e;
    c->src_base = dfota__src_addr(e);
    c->inplace = IS_INPLACE(e);
    c->win = DFOTA_NO_ADDR;
    io->ctx = c;
    io->read_payload = io_payload;
    io->read_src = io_src;
    io->runs = e->hdr.runs;
    io->nruns = e->hdr.nruns;
#if DFOTA_CFG_DZ2
    io->read_dst = io_dst;
#else
    io->read_dst = NULL;
#endif
}

int dfota__decode(struct dfota_engine *e, const struct dfota_patch_io *io, uint32_t addr,
                  uint32_t len, uint32_t *crc, struct dfota_sha256 *sha)
{
    uint32_t off;
    int rc;

    for (off = 0; off < len;) {
        uint32_t n = len - off, p;
        if (n > DFOTA_IO_BUF)
            n = DFOTA_IO_BUF;
        if ((rc = dfota_patch_decode(&e->patch, io, e->buf, n)))
            return rc;
        if (crc)
            *crc = dfota_crc32(*crc, e->buf, n);
        if (sha)
            dfota_sha256_update(sha, e->buf, n);
        p = dfota__round_up(n, FLASH(e)->prog_size);
        memset(e->buf + n, FLASH(e)->erased, p - n);
        if (addr != DFOTA_NO_ADDR && (rc = dfota__prog(e, addr + off, e->buf, p)))
            return rc;
        off += n;
    }
    return DFOTA_OK;
}

int dfota__verify_target(struct dfota_engine *e)
{
    uint8_t d[32];
    int rc = dfota__hash_flash(e, dfota__dst_addr(e), e->hdr.dst_size, d, DFOTA_PHASE_VERIFY, 0,
                               NULL, 0);
    if (rc)
        return rc;
    dfota__progress(e, DFOTA_PHASE_VERIFY, 1, 1);
    return memcmp(d, e->hdr.dst_sha256, 32) == 0 ? DFOTA_OK : DFOTA_ERR_TARGET;
}

/* ---- set-up ---------------------------------------------------------------- */

static int pow2(uint32_t v)
{
    return v && !(v & (v - 1));
}

static int config_check(const struct dfota_config *cfg)
{
    const struct dfota_flash *f = cfg->flash;
    const struct dfota_layout *l = &cfg->layout;
    uint32_t ss, half;

    if (!f || !f->read || !f->prog || !f->erase)
        return DFOTA_ERR_ARG;
    ss = f->sector_size;
    if (!pow2(ss) || ss < 256 || !pow2(f->prog_size) || f->prog_size > DFOTA_IO_BUF)
        return DFOTA_ERR_ARG;
    if (cfg->pubkey && (!cfg->crypto || !cfg->crypto->ed25519_verify))
        return DFOTA_ERR_ARG;
    if (!(DFOTA_CFG_AB && l->kind == DFOTA_LAYOUT_AB) &&
        !(DFOTA_CFG_INPLACE && l->kind == DFOTA_LAYOUT_INPLACE))
        return DFOTA_ERR_ARG;            /* unknown, or not compiled in */
    if ((l->slot[0] | l->slot_size | l->journal | l->journal_size | l->staging) & (ss - 1))
        return DFOTA_ERR_ARG;
    if (l->kind == DFOTA_LAYOUT_AB && (l->slot[1] & (ss - 1)))
        return DFOTA_ERR_ARG;
    if (l->kind == DFOTA_LAYOUT_INPLACE &&
        ((l->scratch | l->scratch_size) & (ss - 1) || l->scratch_size < 2 * ss))
        return DFOTA_ERR_ARG;
    half = dfota_journal_half_size(l->kind, l->slot_size, ss, f->prog_size);
    if (!half || l->journal_size / 2 < half || l->journal_size % (2 * ss))
        return DFOTA_ERR_ARG;
    return DFOTA_OK;
}

int dfota_init(struct dfota_engine *e, const struct dfota_config *cfg)
{
    int rc;
    memset(e, 0, sizeof *e);
    if ((rc = config_check(cfg)))
        return rc;
    e->cfg = cfg;
    rc = dfota__journal_load(e);
    if (rc)
        e->state = DFOTA_STATE_FAILED;   /* a record out of range: do not boot */
    return rc;
}

unsigned dfota_active_slot(const struct dfota_engine *e)
{
    return e->active;
}

int dfota_pending(const struct dfota_engine *e)
{
    return e->state == DFOTA_STATE_PENDING || e->state == DFOTA_STATE_FAILED;
}

enum dfota_state dfota_state(const struct dfota_engine *e)
{
    return (enum dfota_state)e->state;
}

/* ---- check, install, resume ------------------------------------------------ */

int dfota_check(struct dfota_engine *e)
{
    uint8_t raw[DFOTA_PKG_HEADER_MAX], d[32];
    int rc;

    if (e->state != DFOTA_STATE_IDLE && e->state != DFOTA_STATE_CHECKED)
        return DFOTA_ERR_STATE;
    e->state = DFOTA_STATE_IDLE;
    dfota__progress(e, DFOTA_PHASE_CHECK, 0, 1);
    if ((rc = dfota__load_header(e, raw, d)) || (rc = dfota__check_pkg(e, raw, 1)))
        return rc;
    memcpy(e->hdr_digest, d, 32);
#if DFOTA_CFG_INPLACE
    if (IS_INPLACE(e) && (rc = dfota__ip_dry_run(e)))
        return rc;
#endif
    dfota__progress(e, DFOTA_PHASE_CHECK, 1, 1);
    e->state = DFOTA_STATE_CHECKED;
    return DFOTA_OK;
}

/* One attempt to go on with the update the journal holds, from flash alone.
 * The package is needed only while blocks remain to be decoded. */
static int resume_once(struct dfota_engine *e)
{
    uint8_t raw[DFOTA_PKG_HEADER_MAX], d[32];
    int rc, have_pkg, done;

    if ((rc = dfota__journal_load(e)))
        return rc;
    if (e->state == DFOTA_STATE_IDLE)
        return DFOTA_OK;
    done = e->blocks_done == dfota__blocks(e);
    dfota__progress(e, DFOTA_PHASE_CHECK, 0, 1);
    /* The package in staging must be the one the journal started. */
    rc = dfota__load_header(e, raw, d);
    if (!rc && memcmp(d, e->hdr_digest, 32) != 0)
        rc = DFOTA_ERR_JOURNAL;
    if (!rc)
        rc = dfota__check_pkg(e, raw, 0);
    if (rc == DFOTA_ERR_IO)
        return rc;
    have_pkg = rc == DFOTA_OK;
    if (!have_pkg) {
        int lrc = dfota__journal_load(e);   /* the target's fields, from the journal */
        if (lrc)
            return lrc;
        if (!done) {
#if DFOTA_CFG_AB
            if (!IS_INPLACE(e)) {
                /* The old bank was never touched: give up and keep it. */
                int wrc = dfota__journal_write(e, JR_KIND_IDLE);
                if (!wrc)
                    e->state = DFOTA_STATE_IDLE;
                return wrc ? wrc : rc;
            }
#endif
            return rc;                    /* in place: restore the package and resume */
        }
    }
    dfota__progress(e, DFOTA_PHASE_CHECK, 1, 1);
#if DFOTA_CFG_INPLACE
    if (IS_INPLACE(e))
        return dfota__ip_resume(e, have_pkg);
#endif
#if DFOTA_CFG_AB
    return dfota__ab_resume(e, have_pkg);
#else
    return DFOTA_ERR_ARG;
#endif
}

/* After a failed attempt: a flash error or power loss keeps the update
 * pending as it is. In place, anything else (a block that fails its check,
 * a scratch copy or a read-back that differs) is retried from the last
 * checkpoint, which holds only verified state; if it persists the update
 * stays pending in state FAILED: do not boot, report, retry later. */
static int settle(struct dfota_engine *e, int rc)
{
    unsigned tries;
    for (tries = 0; rc && rc != DFOTA_ERR_IO && IS_INPLACE(e) && tries < 2; tries++)
        rc = resume_once(e);
    if (rc && rc != DFOTA_ERR_IO && dfota_pending(e))
        e->state = DFOTA_STATE_FAILED;
    else if (rc == DFOTA_ERR_IO && e->state == DFOTA_STATE_FAILED)
        e->state = DFOTA_STATE_PENDING;
    return rc;
}

int dfota_install(struct dfota_engine *e)
{
    uint8_t raw[DFOTA_PKG_HEADER_MAX], d[32], checked[32];
    int rc, was = e->state == DFOTA_STATE_CHECKED;

    if (e->state != DFOTA_STATE_IDLE && e->state != DFOTA_STATE_CHECKED)
        return DFOTA_ERR_STATE;
    memcpy(checked, e->hdr_digest, 32);
    (void)was;
    e->state = DFOTA_STATE_IDLE;
    /* Staging is read and checked again whatever dfota_check found: it may
     * have changed since. Only the in-place dry run is not repeated when
     * the header is the one it ran on. */
    dfota__progress(e, DFOTA_PHASE_CHECK, 0, 1);
    if ((rc = dfota__load_header(e, raw, d)) || (rc = dfota__check_pkg(e, raw, 1)))
        return rc;
    memcpy(e->hdr_digest, d, 32);
#if DFOTA_CFG_INPLACE
    if (IS_INPLACE(e)) {
        if ((!was || memcmp(checked, d, 32) != 0) && (rc = dfota__ip_dry_run(e)))
            return rc;
        dfota__progress(e, DFOTA_PHASE_CHECK, 1, 1);
        return settle(e, dfota__ip_install(e));
    }
#endif
    dfota__progress(e, DFOTA_PHASE_CHECK, 1, 1);
#if DFOTA_CFG_AB
    return settle(e, dfota__ab_install(e));
#else
    return DFOTA_ERR_ARG;
#endif
}

int dfota_resume(struct dfota_engine *e)
{
    if (e->state == DFOTA_STATE_OFF)
        return DFOTA_ERR_STATE;
    /* Whatever RAM says: the journal on flash decides. */
    return settle(e, resume_once(e));
}
