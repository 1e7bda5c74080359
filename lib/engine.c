/* The update engine: checks, apply, journal and resume. docs/engine.md has
 * the state table of the journal and the order of flash operations. */
#include <string.h>
#include "dfota/engine.h"
#include "dfota/error.h"
#include "dfota/sha256.h"
#include "le.h"

/* Journal record: a fixed head, an optional decoder snapshot, a CRC-32 of
 * everything before it. Little-endian. */
#define JR_MAGIC        0x314A4644u  /* "DFJ1" */
#define JR_HEAD         136u
#define JR_KIND_IDLE    1u
#define JR_KIND_APPLY   2u
/* Snapshots are raw struct bytes: a different build must not read them. */
#define JR_SNAP_TAG     ((uint32_t)sizeof(struct dfota_patch_state) | 0x01000000u)

enum { J_MAGIC = 0, J_SEQ = 4, J_LEN = 8, J_KIND = 12, J_ACTIVE = 16, J_DONE = 20,
       J_SNAP_TAG = 24, J_PREV = 28, J_CRCS = 32, J_DIGEST = 32 + 4 * DFOTA_MAX_SCRATCH,
       J_RESERVED = J_DIGEST + 32 };
_Static_assert(J_RESERVED + 8 == JR_HEAD, "journal record head layout");

_Static_assert(DFOTA_IO_BUF >= 256 && (DFOTA_IO_BUF & (DFOTA_IO_BUF - 1)) == 0,
               "DFOTA_IO_BUF must be a power of two, at least 256");
_Static_assert(DFOTA_PATCH_SRCBUF >= 4, "DFOTA_PATCH_SRCBUF must hold a 4-byte reference");
_Static_assert(DFOTA_PATCH_INBUF >= 1, "DFOTA_PATCH_INBUF must not be empty");

#define FLASH(e) ((e)->cfg->flash)
#define LAYOUT(e) (&(e)->cfg->layout)

static int fl_read(struct dfota_engine *e, uint32_t addr, void *buf, uint32_t len)
{
    return FLASH(e)->read(FLASH(e)->ctx, addr, buf, len) ? DFOTA_ERR_IO : DFOTA_OK;
}

static int fl_prog(struct dfota_engine *e, uint32_t addr, const void *buf, uint32_t len)
{
    return FLASH(e)->prog(FLASH(e)->ctx, addr, buf, len) ? DFOTA_ERR_IO : DFOTA_OK;
}

static int fl_erase(struct dfota_engine *e, uint32_t addr)
{
    return FLASH(e)->erase(FLASH(e)->ctx, addr) ? DFOTA_ERR_IO : DFOTA_OK;
}

static int fl_sync(struct dfota_engine *e)
{
    if (FLASH(e)->sync && FLASH(e)->sync(FLASH(e)->ctx))
        return DFOTA_ERR_IO;
    return DFOTA_OK;
}

/* 32-bit arithmetic only: a 64-bit division pulls ~700 bytes of libgcc
 * into a Cortex-M image. */
static void progress(struct dfota_engine *e, enum dfota_phase ph, uint32_t done, uint32_t total)
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

/* strcmp's equality, without pulling in the C library's. */
static int same_str(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

static uint32_t round_up(uint32_t v, uint32_t unit)
{
    return (v + unit - 1) & ~(unit - 1);
}

static int pow2(uint32_t v)
{
    return v && !(v & (v - 1));
}

uint32_t dfota_journal_record_size(void)
{
    return JR_HEAD + (uint32_t)sizeof(struct dfota_patch_state) + 4u;
}

uint32_t dfota_journal_half_size(int kind, uint32_t slot_size, uint32_t sector_size,
                                 uint32_t prog_size)
{
    uint32_t need;
    if (!pow2(sector_size) || !pow2(prog_size))
        return 0;
    if (kind == DFOTA_LAYOUT_AB)
        need = round_up(JR_HEAD + 4, prog_size) +
               (slot_size + sector_size - 1) / sector_size * prog_size;
    else
        need = round_up(dfota_journal_record_size(), prog_size) + prog_size;
    return round_up(need, sector_size);
}

/* ---- the journal ---------------------------------------------------------- */

static uint32_t half_size(const struct dfota_engine *e)
{
    return LAYOUT(e)->journal_size / 2;
}

/* Program len bytes of data at addr through the I/O buffer, a program unit at
 * a time; *fill counts bytes waiting in the buffer. */
static int put_bytes(struct dfota_engine *e, uint32_t *addr, uint32_t *fill, const void *data,
                     uint32_t len, uint32_t *crc)
{
    const uint8_t *p = data;
    *crc = dfota_crc32(*crc, data, len);
    while (len) {
        uint32_t n = DFOTA_IO_BUF - *fill;
        if (n > len)
            n = len;
        memcpy(e->buf + *fill, p, n);
        *fill += n; p += n; len -= n;
        if (*fill == DFOTA_IO_BUF) {
            int rc = fl_prog(e, *addr, e->buf, DFOTA_IO_BUF);
            if (rc)
                return rc;
            *addr += DFOTA_IO_BUF;
            *fill = 0;
        }
    }
    return DFOTA_OK;
}

static int flush_bytes(struct dfota_engine *e, uint32_t addr, uint32_t fill)
{
    uint32_t n = round_up(fill, FLASH(e)->prog_size);
    if (!fill)
        return DFOTA_OK;
    memset(e->buf + fill, FLASH(e)->erased, n - fill);
    return fl_prog(e, addr, e->buf, n);
}

/* Write the next record into the older half: erase it, then program. The
 * CRC at the end makes a record cut by a power loss invalid as a whole. */
static int journal_write(struct dfota_engine *e, uint32_t kind)
{
    uint8_t head[JR_HEAD];
    uint32_t seq = e->seq + 1, half = LAYOUT(e)->journal + (seq & 1) * half_size(e);
    /* In place the decoder state goes with the record; A/B replays the
     * decode from the start instead (its source is intact), so its records
     * are small and progress is a row of program units after them. */
    uint32_t snap = kind == JR_KIND_APPLY && LAYOUT(e)->kind == DFOTA_LAYOUT_INPLACE
                        ? (uint32_t)sizeof(struct dfota_patch_state) : 0;
    uint32_t addr = half, fill = 0, crc = 0, s;
    uint8_t crcb[4];
    int rc;

    memset(head, 0, sizeof head);
    dfota_put_le32(head + J_MAGIC, JR_MAGIC);
    dfota_put_le32(head + J_SEQ, seq);
    dfota_put_le32(head + J_LEN, JR_HEAD + snap + 4);
    dfota_put_le32(head + J_KIND, kind);
    dfota_put_le32(head + J_ACTIVE, e->active);
    dfota_put_le32(head + J_DONE, e->blocks_done);
    dfota_put_le32(head + J_SNAP_TAG, snap ? JR_SNAP_TAG : 0);
    dfota_put_le32(head + J_PREV, e->ckpt_prev);
    for (s = 0; s < DFOTA_MAX_SCRATCH; s++)
        dfota_put_le32(head + J_CRCS + 4 * s, e->block_crc[s]);
    memcpy(head + J_DIGEST, e->hdr_digest, 32);

    for (s = 0; s < half_size(e); s += FLASH(e)->sector_size)
        if ((rc = fl_erase(e, half + s)))
            return rc;
    if ((rc = put_bytes(e, &addr, &fill, head, JR_HEAD, &crc)))
        return rc;
    if (snap && (rc = put_bytes(e, &addr, &fill, &e->patch.st, snap, &crc)))
        return rc;
    dfota_put_le32(crcb, crc);
    if ((rc = put_bytes(e, &addr, &fill, crcb, 4, &s)) || (rc = flush_bytes(e, addr, fill)))
        return rc;
    if ((rc = fl_sync(e)))
        return rc;
    e->seq = seq;
    return DFOTA_OK;
}

/* A/B: where the progress units of the record in half h begin. */
static uint32_t progress_area(const struct dfota_engine *e, uint32_t h)
{
    return LAYOUT(e)->journal + h * half_size(e) + round_up(JR_HEAD + 4, FLASH(e)->prog_size);
}

/* In place: the program unit after the snapshot record of half h that marks
 * its commits done. */
static uint32_t batch_mark_at(const struct dfota_engine *e, uint32_t h)
{
    return LAYOUT(e)->journal + h * half_size(e) +
           round_up(dfota_journal_record_size(), FLASH(e)->prog_size);
}

static int mark_batch(struct dfota_engine *e)
{
    uint32_t unit = FLASH(e)->prog_size;
    int rc;
    memset(e->buf, FLASH(e)->erased ^ 0xFF, unit);
    if ((rc = fl_prog(e, batch_mark_at(e, e->seq & 1), e->buf, unit)))
        return rc;
    return fl_sync(e);
}

/* A/B: block i is written; a torn mark reads as not done. */
static int mark_done(struct dfota_engine *e, uint32_t i)
{
    uint32_t unit = FLASH(e)->prog_size;
    int rc;
    /* the complement of the erased value, whatever the flash erases to */
    memset(e->buf, FLASH(e)->erased ^ 0xFF, unit);
    if ((rc = fl_prog(e, progress_area(e, e->seq & 1) + i * unit, e->buf, unit)))
        return rc;
    return fl_sync(e);
}

/* Validate the record in one half; on success fill head. */
static int journal_check(struct dfota_engine *e, uint32_t half, uint8_t head[JR_HEAD])
{
    uint32_t len, off, crc;
    uint8_t crcb[4];
    int rc;

    if ((rc = fl_read(e, half, head, JR_HEAD)))
        return rc;
    len = dfota_le32(head + J_LEN);
    if (dfota_le32(head + J_MAGIC) != JR_MAGIC || len < JR_HEAD + 4 || len > half_size(e))
        return DFOTA_ERR_JOURNAL;
    crc = dfota_crc32(0, head, JR_HEAD);
    for (off = JR_HEAD; off < len - 4;) {
        uint32_t n = len - 4 - off;
        if (n > DFOTA_IO_BUF)
            n = DFOTA_IO_BUF;
        if ((rc = fl_read(e, half + off, e->buf, n)))
            return rc;
        crc = dfota_crc32(crc, e->buf, n);
        off += n;
    }
    if ((rc = fl_read(e, half + len - 4, crcb, 4)))
        return rc;
    return dfota_le32(crcb) == crc ? DFOTA_OK : DFOTA_ERR_JOURNAL;
}

static int journal_load(struct dfota_engine *e)
{
    uint8_t head[2][JR_HEAD];
    int ok[2], best = -1, rc;
    uint32_t i, seq[2];

    for (i = 0; i < 2; i++) {
        rc = journal_check(e, LAYOUT(e)->journal + i * half_size(e), head[i]);
        if (rc == DFOTA_ERR_IO)
            return rc;
        ok[i] = rc == DFOTA_OK;
        seq[i] = ok[i] ? dfota_le32(head[i] + J_SEQ) : 0;
    }
    if (ok[0] && ok[1])
        best = (int32_t)(seq[1] - seq[0]) > 0 ? 1 : 0;
    else if (ok[0] || ok[1])
        best = ok[1];
    e->pending = 0;
    e->blocks_done = 0;
    e->active = 0;
    e->seq = 0;
    e->torn_mark = 0;
    if (best < 0)
        return DFOTA_OK;                 /* a blank journal: bank 0, nothing pending */
    e->seq = seq[best];
    e->active = (uint8_t)(dfota_le32(head[best] + J_ACTIVE) & 1);
    if (LAYOUT(e)->kind == DFOTA_LAYOUT_INPLACE)
        e->active = 0;
    if (dfota_le32(head[best] + J_KIND) != JR_KIND_APPLY)
        return DFOTA_OK;
    memcpy(e->journal_digest, head[best] + J_DIGEST, 32);
    if (LAYOUT(e)->kind == DFOTA_LAYOUT_AB) {
        /* Count the blocks marked done after the record. */
        uint32_t unit = FLASH(e)->prog_size, at = progress_area(e, (uint32_t)best), k;
        const uint8_t mark = (uint8_t)(FLASH(e)->erased ^ 0xFFu);
        e->pending = 1;
        e->blocks_done = 0;
        for (; at + unit <= LAYOUT(e)->journal + ((uint32_t)best + 1) * half_size(e); at += unit) {
            if ((rc = fl_read(e, at, e->buf, unit)))
                return rc;
            for (k = 0; k < unit && e->buf[k] == mark; k++)
                ;
            if (k < unit) {
                /* A mark cut while being programmed cannot be programmed
                 * again: the resume starts a fresh row. */
                for (k = 0; k < unit && e->buf[k] == FLASH(e)->erased; k++)
                    ;
                e->torn_mark = k < unit;
                break;
            }
            e->blocks_done++;
        }
        return DFOTA_OK;
    }
    if (dfota_le32(head[best] + J_SNAP_TAG) != JR_SNAP_TAG ||
        dfota_le32(head[best] + J_LEN) != dfota_journal_record_size())
        return DFOTA_ERR_JOURNAL;        /* written by another build of the engine */
    e->pending = 1;
    e->blocks_done = dfota_le32(head[best] + J_DONE);
    for (i = 0; i < DFOTA_MAX_SCRATCH; i++)
        e->block_crc[i] = dfota_le32(head[best] + J_CRCS + 4 * i);
    e->ckpt_prev = dfota_le32(head[best] + J_PREV);
    /* Were this checkpoint's commits all done? (a torn mark reads as no) */
    {
        uint32_t unit = FLASH(e)->prog_size, k;
        const uint8_t mark = (uint8_t)(FLASH(e)->erased ^ 0xFFu);
        if ((rc = fl_read(e, batch_mark_at(e, (uint32_t)best), e->buf, unit)))
            return rc;
        for (k = 0; k < unit && e->buf[k] == mark; k++)
            ;
        e->batch_done = k == unit;
        if (e->batch_done)
            e->ckpt_prev = e->blocks_done;   /* the next batch starts here */
    }
    /* The snapshot goes straight into the decoder state. */
    rc = fl_read(e, LAYOUT(e)->journal + (uint32_t)best * half_size(e) + JR_HEAD, &e->patch.st,
                 (uint32_t)sizeof(struct dfota_patch_state));
    if (rc)
        return rc;
    dfota_patch_restore(&e->patch, &e->patch.st);
    return DFOTA_OK;
}

/* ---- set-up ---------------------------------------------------------------- */

static int config_check(const struct dfota_config *cfg)
{
    const struct dfota_flash *f = cfg->flash;
    const struct dfota_layout *l = &cfg->layout;
    uint32_t ss;

    if (!f || !f->read || !f->prog || !f->erase)
        return DFOTA_ERR_ARG;
    ss = f->sector_size;
    if (!pow2(ss) || ss < 256 || !pow2(f->prog_size) || f->prog_size > DFOTA_IO_BUF)
        return DFOTA_ERR_ARG;
    if (cfg->pubkey && (!cfg->crypto || !cfg->crypto->ed25519_verify))
        return DFOTA_ERR_ARG;
    if (l->kind != DFOTA_LAYOUT_AB && l->kind != DFOTA_LAYOUT_INPLACE)
        return DFOTA_ERR_ARG;
    if ((l->slot[0] | l->slot_size | l->journal | l->journal_size | l->staging) & (ss - 1))
        return DFOTA_ERR_ARG;
    if (l->kind == DFOTA_LAYOUT_AB && (l->slot[1] & (ss - 1)))
        return DFOTA_ERR_ARG;
    if (l->kind == DFOTA_LAYOUT_INPLACE &&
        ((l->scratch | l->scratch_size) & (ss - 1) || l->scratch_size < 2 * ss))
        return DFOTA_ERR_ARG;
    if (l->journal_size / 2 < dfota_journal_half_size(l->kind, l->slot_size, ss, f->prog_size) ||
        l->journal_size % (2 * ss))
        return DFOTA_ERR_ARG;
    return DFOTA_OK;
}

int dfota_init(struct dfota_engine *e, const struct dfota_config *cfg)
{
    int rc = config_check(cfg);
    if (rc)
        return rc;
    memset(e, 0, sizeof *e);
    e->cfg = cfg;
    return journal_load(e);
}

unsigned dfota_active_slot(const struct dfota_engine *e)
{
    return e->active;
}

int dfota_pending(const struct dfota_engine *e)
{
    return e->pending;
}

/* ---- checks ---------------------------------------------------------------- */

int dfota_pkg_check_signature(const struct dfota_pkg_header *h, const uint8_t *raw,
                              const uint8_t *pubkey, const struct dfota_crypto *crypto)
{
    uint8_t kid[32];

    if (!pubkey)
        return DFOTA_OK;
    dfota_sha256(pubkey, DFOTA_PUBKEY_LEN, kid);
    if (memcmp(kid, h->key_id, DFOTA_KEY_ID_LEN) != 0)
        return DFOTA_ERR_SIGNATURE;      /* unsigned, or signed by another key */
    if (!crypto || crypto->ed25519_verify(crypto->ctx, h->signature, raw, DFOTA_PKG_SIGNED_SIZE,
                                          pubkey) != 0)
        return DFOTA_ERR_SIGNATURE;
    return DFOTA_OK;
}

/* SHA-256 of len bytes of flash at addr, reporting progress in the check. */
static int hash_flash(struct dfota_engine *e, uint32_t addr, uint32_t len, uint8_t out[32],
                      enum dfota_phase ph)
{
    struct dfota_sha256 c;
    uint32_t off;
    int rc;

    dfota_sha256_init(&c);
    for (off = 0; off < len;) {
        uint32_t n = len - off;
        if (n > DFOTA_IO_BUF)
            n = DFOTA_IO_BUF;
        if ((rc = fl_read(e, addr + off, e->buf, n)))
            return rc;
        dfota_sha256_update(&c, e->buf, n);
        off += n;
        if ((off & 0xFFFF) == 0 && ph == DFOTA_PHASE_VERIFY)
            progress(e, ph, off, len);
    }
    dfota_sha256_final(&c, out);
    return DFOTA_OK;
}

/* Read, parse and vet the header in staging; keep its digest. */
static int load_header(struct dfota_engine *e, int with_signature)
{
    const struct dfota_layout *l = LAYOUT(e);
    uint8_t raw[DFOTA_PKG_HEADER_SIZE];
    struct dfota_pkg_header *h = &e->hdr;
    int rc;

    if (l->staging_size < DFOTA_PKG_HEADER_SIZE)
        return DFOTA_ERR_ARG;
    if ((rc = fl_read(e, l->staging, raw, DFOTA_PKG_HEADER_SIZE)))
        return rc;
    if ((rc = dfota_pkg_parse(h, raw, sizeof raw)))
        return rc;
    dfota_sha256(raw, sizeof raw, e->hdr_digest);
    if ((uint64_t)h->header_size + h->payload_size > l->staging_size)
        return DFOTA_ERR_SIZE;
    if (e->cfg->product && e->cfg->product[0] && !same_str(e->cfg->product, h->product))
        return DFOTA_ERR_PRODUCT;
    /* The package must be made for this layout and sector size. */
    if (l->kind == DFOTA_LAYOUT_INPLACE) {
        if (!(h->flags & DFOTA_PKG_F_INPLACE) || h->sector_size != FLASH(e)->sector_size ||
            (uint32_t)(h->lag + 2) * h->sector_size > l->scratch_size)
            return DFOTA_ERR_LAYOUT;
    } else if (h->flags & DFOTA_PKG_F_INPLACE) {
        return DFOTA_ERR_LAYOUT;
    }
    if (h->src_size > l->slot_size || h->dst_size > l->slot_size)
        return DFOTA_ERR_NOSPACE;
    if (h->security_counter < e->cfg->security_counter)
        return DFOTA_ERR_DOWNGRADE;
    if (!with_signature)
        return DFOTA_OK;
    return dfota_pkg_check_signature(h, raw, e->cfg->pubkey, e->cfg->crypto) == DFOTA_OK
               ? DFOTA_OK : DFOTA_ERR_SIGNATURE;
}

/* ---- decoding ---------------------------------------------------------------- */

struct io_ctx {
    struct dfota_engine *e;
    uint32_t src_base;       /* flash address of the source image */
    int inplace;             /* enforce "never read an overwritten sector" */
    uint32_t crc;
};

static int io_payload(void *ctx, uint32_t off, uint8_t *buf, uint32_t len)
{
    struct io_ctx *c = ctx;
    return fl_read(c->e, LAYOUT(c->e)->staging + DFOTA_PKG_HEADER_SIZE + off, buf, len);
}

/* In place, block i may read only source sectors that are still there:
 * those of blocks i-lag and later (blocks 0 .. i-lag-1 are committed). The
 * package promises it; the engine checks it, so a bad package fails in the
 * dry run, before any write. */
static int io_src(void *ctx, uint32_t off, uint8_t *buf, uint32_t len)
{
    struct io_ctx *c = ctx;
    struct dfota_engine *e = c->e;

    if (c->inplace && len) {
        const struct dfota_patch_state *s = &e->patch.st;
        uint32_t ss = s->sector_size, n = dz_block_count(s->dst_size, ss);
        uint32_t gone = s->block > e->hdr.lag ? s->block - e->hdr.lag : 0; /* committed blocks */
        uint32_t first = off / ss, last = (off + len - 1) / ss;
        if (s->flags & DFOTA_PKG_F_BACKWARD) {
            if (gone && last >= n - gone && first < n)
                return DFOTA_ERR_CORRUPT;        /* sectors n-gone .. n-1 are written */
        } else if (first < gone) {
            return DFOTA_ERR_CORRUPT;            /* sectors 0 .. gone-1 are written */
        }
    }
    return fl_read(e, c->src_base + off, buf, len);
}

static uint32_t dst_addr(const struct dfota_engine *e);

/* DZ2, A/B: target bytes that earlier decode calls produced were programmed
 * into the target slot (decode_to programs each buffer before the next
 * call), so they are read back from there; in a resumed run the finished
 * blocks are in flash from before the power cut. In place the decoder
 * never asks (its target copies use its RAM ring). */
static int io_dst(void *ctx, uint32_t off, uint8_t *buf, uint32_t len)
{
    struct io_ctx *c = ctx;
    if (c->inplace || off > c->e->hdr.dst_size || len > c->e->hdr.dst_size - off)
        return DFOTA_ERR_CORRUPT;
    return fl_read(c->e, dst_addr(c->e) + off, buf, len);
}

static uint32_t src_addr(const struct dfota_engine *e)
{
    return LAYOUT(e)->slot[LAYOUT(e)->kind == DFOTA_LAYOUT_AB ? e->active : 0];
}

static uint32_t dst_addr(const struct dfota_engine *e)
{
    return LAYOUT(e)->slot[LAYOUT(e)->kind == DFOTA_LAYOUT_AB ? !e->active : 0];
}

/* Decode len bytes and program them at addr (a sector start); *crc is
 * updated over the produced bytes. */
static int decode_to(struct dfota_engine *e, const struct dfota_patch_io *io, uint32_t addr,
                     uint32_t len, uint32_t *crc)
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
        p = round_up(n, FLASH(e)->prog_size);
        memset(e->buf + n, FLASH(e)->erased, p - n);
        if (addr != UINT32_MAX && (rc = fl_prog(e, addr + off, e->buf, p)))
            return rc;
        off += n;
    }
    return DFOTA_OK;
}

/* In place: decode the whole stream without writing, checking that it
 * decodes, reads only what will still be there, and yields the CRC the
 * package names. */
static int dry_run(struct dfota_engine *e)
{
    struct io_ctx c = { e, src_addr(e), 1, 0 };
    struct dfota_patch_io io = { &c, io_payload, io_src, io_dst };
    uint32_t done, total = e->hdr.dst_size, crc = 0;
    int rc;

    if ((rc = dfota_patch_init(&e->patch, &e->hdr)))
        return rc;
    for (done = 0; done < total;) {
        uint32_t n = total - done;
        if (n > FLASH(e)->sector_size)
            n = FLASH(e)->sector_size;
        if ((rc = decode_to(e, &io, UINT32_MAX, n, &crc)))
            return rc == DFOTA_ERR_IO ? rc : DFOTA_ERR_CORRUPT;
        done += n;
    }
    if (!dfota_patch_done(&e->patch) || crc != e->hdr.stream_crc32)
        return DFOTA_ERR_CORRUPT;
    return DFOTA_OK;
}

int dfota_check(struct dfota_engine *e)
{
    uint8_t d[32];
    int rc;

    e->checked = 0;
    if (e->pending)
        return DFOTA_ERR_STATE;
    progress(e, DFOTA_PHASE_CHECK, 0, 1);
    if ((rc = load_header(e, 0)))
        return rc;
    /* The source first: a package for other firmware is "mismatch", not
     * "invalid" (BC20 254 vs 255); then payload and signature. Nothing is
     * written before all of them pass. */
    if ((rc = hash_flash(e, src_addr(e), e->hdr.src_size, d, DFOTA_PHASE_CHECK)))
        return rc;
    if (memcmp(d, e->hdr.src_sha256, 32) != 0)
        return DFOTA_ERR_SOURCE;
    if ((rc = hash_flash(e, LAYOUT(e)->staging + DFOTA_PKG_HEADER_SIZE, e->hdr.payload_size, d,
                         DFOTA_PHASE_CHECK)))
        return rc;
    if (memcmp(d, e->hdr.payload_sha256, 32) != 0)
        return DFOTA_ERR_PAYLOAD;
    if ((rc = load_header(e, 1)))        /* the signature, over the same header */
        return rc;
    if (LAYOUT(e)->kind == DFOTA_LAYOUT_INPLACE && (rc = dry_run(e)))
        return rc;
    progress(e, DFOTA_PHASE_CHECK, 1, 1);
    e->checked = 1;
    return DFOTA_OK;
}

/* ---- applying ---------------------------------------------------------------- */

static uint32_t block_count(const struct dfota_engine *e)
{
    return dz_block_count(e->hdr.dst_size, FLASH(e)->sector_size);
}

/* Block i of the stream: its length and the firmware address it goes to. */
static void block_at(const struct dfota_engine *e, uint32_t i, uint32_t *len, uint32_t *addr)
{
    uint32_t off;
    dz_block(i, e->hdr.dst_size, FLASH(e)->sector_size,
             (e->hdr.flags & DFOTA_PKG_F_BACKWARD) != 0, &off, len, addr);
    *addr += dst_addr(e);
}

/* In place, block i waits in scratch slot i mod (lag + 2) until it is
 * committed, lag blocks later: so its source sector outlives it by lag
 * blocks, and the slot is reused only after the journal stopped naming it. */
static uint32_t scratch_slots(const struct dfota_engine *e)
{
    uint32_t s = LAYOUT(e)->scratch_size / FLASH(e)->sector_size;
    return s > DFOTA_MAX_SCRATCH ? DFOTA_MAX_SCRATCH : s;
}

static uint32_t scratch_of(const struct dfota_engine *e, uint32_t i)
{
    return LAYOUT(e)->scratch + (i % scratch_slots(e)) * FLASH(e)->sector_size;
}

/* In place: copy block i from its scratch slot to the firmware. */
static int commit_block(struct dfota_engine *e, uint32_t i)
{
    uint32_t len, addr, off, crc = 0, from = scratch_of(e, i);
    uint32_t k = e->blocks_done - 1 - i;
    int rc;

    block_at(e, i, &len, &addr);
    /* Scratch was programmed whole before the journal named it; check it
     * anyway, it is the only copy of this block now. */
    for (off = 0; off < len; off += DFOTA_IO_BUF) {
        uint32_t n = len - off < DFOTA_IO_BUF ? len - off : DFOTA_IO_BUF;
        if ((rc = fl_read(e, from + off, e->buf, n)))
            return rc;
        crc = dfota_crc32(crc, e->buf, n);
    }
    if (k >= DFOTA_MAX_SCRATCH || crc != e->block_crc[k])
        return DFOTA_ERR_JOURNAL;
    if ((rc = fl_erase(e, addr)))
        return rc;
    for (off = 0; off < len; off += DFOTA_IO_BUF) {
        uint32_t n = len - off < DFOTA_IO_BUF ? len - off : DFOTA_IO_BUF;
        uint32_t p = round_up(n, FLASH(e)->prog_size);
        if ((rc = fl_read(e, from + off, e->buf, n)))
            return rc;
        memset(e->buf + n, FLASH(e)->erased, p - n);
        if ((rc = fl_prog(e, addr + off, e->buf, p)))
            return rc;
    }
    return fl_sync(e);
}

/* In place, at the checkpoint blocks_done = c (previous one p): commit the
 * blocks that no later block reads, [p - lag, c - lag), or at the end all
 * that remain; then mark the batch done and start the next one at c. */
static int commit_batch(struct dfota_engine *e, uint32_t n, int mark)
{
    uint32_t lag = e->hdr.lag, c = e->blocks_done, p = e->ckpt_prev, i;
    uint32_t from = p > lag ? p - lag : 0, to = c == n ? n : (c > lag ? c - lag : 0);
    int rc;

    if (from < to) {
        for (i = from; i < to; i++)
            if ((rc = commit_block(e, i)))
                return rc;
        if (mark && (rc = mark_batch(e)))
            return rc;
    }
    e->ckpt_prev = c;
    e->batch_done = 1;
    return DFOTA_OK;
}

static int run(struct dfota_engine *e)
{
    int inplace = LAYOUT(e)->kind == DFOTA_LAYOUT_INPLACE;
    struct io_ctx c = { e, src_addr(e), inplace, 0 };
    struct dfota_patch_io io = { &c, io_payload, io_src, io_dst };
    uint32_t n = block_count(e), i, len, addr, lag = e->hdr.lag;
    int rc;

    /* In place, a checkpoint (a record with the decoder state) is written
     * every K blocks, K = scratch slots - lag - 1; after it the blocks that
     * no later block reads are committed and a mark says so. A resume whose
     * mark is missing commits that batch again (commits are idempotent
     * while the scratch slots hold, and nothing reuses them before the
     * mark). */
    uint32_t K = inplace ? scratch_slots(e) - lag - 1 : 0;
    if (inplace && !e->batch_done) {
        /* Its mark may be torn and cannot be programmed again: commit, then
         * a fresh record (with an empty batch) takes the mark's place. */
        if ((rc = commit_batch(e, n, 0)) || (rc = journal_write(e, JR_KIND_APPLY)))
            return rc;
    }
    if (!inplace && e->torn_mark) {
        if ((rc = journal_write(e, JR_KIND_APPLY)))
            return rc;
        for (i = 0; i < e->blocks_done; i++)
            if ((rc = mark_done(e, i)))
                return rc;
        e->torn_mark = 0;
    }
    if (!inplace && e->blocks_done) {
        /* A/B resume: decode the finished blocks again, writing nothing, to
         * bring the decoder to where the power went. */
        if ((rc = dfota_patch_init(&e->patch, &e->hdr)))
            return rc;
        for (i = 0; i < e->blocks_done; i++) {
            block_at(e, i, &len, &addr);
            if ((rc = decode_to(e, &io, UINT32_MAX, len, NULL)))
                return rc;
        }
    }
    for (i = e->blocks_done; i < n; i++) {
        progress(e, DFOTA_PHASE_APPLY, i, n);
        block_at(e, i, &len, &addr);
        if (inplace) {
            uint32_t crc = 0, k;
            if ((rc = fl_erase(e, scratch_of(e, i))) ||
                (rc = decode_to(e, &io, scratch_of(e, i), len, &crc)) || (rc = fl_sync(e)))
                return rc;
            for (k = DFOTA_MAX_SCRATCH - 1; k > 0; k--)
                e->block_crc[k] = e->block_crc[k - 1];
            e->block_crc[0] = crc;
            e->blocks_done = i + 1;
            if (e->blocks_done - e->ckpt_prev >= K || e->blocks_done == n) {
                if ((rc = journal_write(e, JR_KIND_APPLY)) || (rc = commit_batch(e, n, 1)))
                    return rc;
            }
        } else {
            if ((rc = fl_erase(e, addr)) || (rc = decode_to(e, &io, addr, len, NULL)) ||
                (rc = fl_sync(e)) || (rc = mark_done(e, i)))
                return rc;
            e->blocks_done = i + 1;
        }
    }
    if (!dfota_patch_done(&e->patch))
        return DFOTA_ERR_CORRUPT;
    progress(e, DFOTA_PHASE_APPLY, n, n);
    return DFOTA_OK;
}

/* Read the target back, then make it the firmware that boots. */
static int finish(struct dfota_engine *e)
{
    uint8_t d[32];
    int rc = hash_flash(e, dst_addr(e), e->hdr.dst_size, d, DFOTA_PHASE_VERIFY);
    if (rc)
        return rc;
    progress(e, DFOTA_PHASE_VERIFY, 1, 1);
    e->pending = 0;
    e->blocks_done = 0;
    if (memcmp(d, e->hdr.dst_sha256, 32) != 0) {
        /* A/B: the old bank is intact and stays active. */
        rc = journal_write(e, JR_KIND_IDLE);
        return rc ? rc : DFOTA_ERR_TARGET;
    }
    if (LAYOUT(e)->kind == DFOTA_LAYOUT_AB)
        e->active = !e->active;
    return journal_write(e, JR_KIND_IDLE);
}

/* A/B: a package that fails while decoding is given up, and the untouched
 * old bank stays active. A flash error or power loss keeps the update
 * pending for dfota_resume(). In place there is no way back: the dry run
 * in dfota_check() is what keeps a bad package from getting this far. */
static int run_and_finish(struct dfota_engine *e)
{
    int rc = run(e);
    if (!rc)
        return finish(e);
    if (rc != DFOTA_ERR_IO && LAYOUT(e)->kind == DFOTA_LAYOUT_AB) {
        int wrc;
        e->pending = 0;
        e->blocks_done = 0;
        wrc = journal_write(e, JR_KIND_IDLE);
        if (wrc)
            return wrc;
    }
    return rc;
}

int dfota_install(struct dfota_engine *e)
{
    int rc;

    if (e->pending)
        return DFOTA_ERR_STATE;
    if (!e->checked && (rc = dfota_check(e)))
        return rc;
    e->checked = 0;
    if ((rc = dfota_patch_init(&e->patch, &e->hdr)))
        return rc;
    e->blocks_done = 0;
    e->ckpt_prev = 0;
    e->batch_done = 1;
    memset(e->block_crc, 0, sizeof e->block_crc);
    /* From this record on, a power-up finishes the update. */
    if ((rc = journal_write(e, JR_KIND_APPLY)))
        return rc;
    e->pending = 1;
    return run_and_finish(e);
}

int dfota_resume(struct dfota_engine *e)
{
    uint8_t d[32];
    int rc;

    if (!e->pending)
        return DFOTA_OK;
    progress(e, DFOTA_PHASE_CHECK, 0, 1);
    /* The package in staging must be the one the journal started. */
    rc = load_header(e, 1);
    if (!rc && memcmp(e->hdr_digest, e->journal_digest, 32) != 0)
        rc = DFOTA_ERR_JOURNAL;
    if (!rc && (rc = hash_flash(e, LAYOUT(e)->staging + DFOTA_PKG_HEADER_SIZE,
                                e->hdr.payload_size, d, DFOTA_PHASE_CHECK)) == DFOTA_OK &&
        memcmp(d, e->hdr.payload_sha256, 32) != 0)
        rc = DFOTA_ERR_PAYLOAD;
    if (rc == DFOTA_ERR_IO)
        return rc;
    if (rc) {
        if (LAYOUT(e)->kind == DFOTA_LAYOUT_AB) {
            /* The old bank was never touched: give up and keep it. */
            e->pending = 0;
            e->blocks_done = 0;
            memcpy(e->hdr_digest, e->journal_digest, 32);
            int wrc = journal_write(e, JR_KIND_IDLE);
            return wrc ? wrc : rc;
        }
        return rc;
    }
    if (LAYOUT(e)->kind == DFOTA_LAYOUT_AB && (rc = dfota_patch_init(&e->patch, &e->hdr)))
        return rc;
    if (e->blocks_done > block_count(e) || e->patch.st.dst_size != e->hdr.dst_size)
        return DFOTA_ERR_JOURNAL;
    progress(e, DFOTA_PHASE_CHECK, 1, 1);
    return run_and_finish(e);
}
