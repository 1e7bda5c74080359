/* In place: one firmware region rewritten sector by sector through scratch
 * slots, with checkpoints (decoder snapshots) in the journal. Every block
 * is checked before it can be committed: against the package's block
 * digest chain when it has one (signed through the payload digest), or
 * against the digest table the dry run computed (DFOTA_PKG_F_DEVTABLE);
 * and every copy (scratch, firmware) is read back against the block's CRC. */
#include "engine_priv.h"

#if DFOTA_CFG_INPLACE

static uint32_t scratch_slots(const struct dfota_engine *e)
{
    uint32_t s = LAYOUT(e)->scratch_size / FLASH(e)->sector_size;
    return s > DFOTA_MAX_SCRATCH ? DFOTA_MAX_SCRATCH : s;
}

static uint32_t scratch_of(const struct dfota_engine *e, uint32_t i)
{
    return LAYOUT(e)->scratch + (i % scratch_slots(e)) * FLASH(e)->sector_size;
}

/* CRC-32 of len bytes of flash at addr; with stream, the same bytes also
 * carried on into *stream. */
static int crc_flash2(struct dfota_engine *e, uint32_t addr, uint32_t len, uint32_t *crc,
                      uint32_t *stream)
{
    uint32_t off;
    int rc;
    *crc = 0;
    for (off = 0; off < len; off += DFOTA_IO_BUF) {
        uint32_t n = len - off < DFOTA_IO_BUF ? len - off : DFOTA_IO_BUF;
        if ((rc = dfota__read(e, addr + off, e->buf, n)))
            return rc;
        *crc = dfota_crc32(*crc, e->buf, n);
        if (stream)
            *stream = dfota_crc32(*stream, e->buf, n);
    }
    return DFOTA_OK;
}

static int crc_flash(struct dfota_engine *e, uint32_t addr, uint32_t len, uint32_t *crc)
{
    return crc_flash2(e, addr, len, crc, NULL);
}

#define BD DFOTA_BLOCK_DIGEST_LEN
#define DEVTABLE(e) (((e)->hdr.flags & DFOTA_PKG_F_DEVTABLE) != 0)

/* The decoder's pending operation at the end of a block: decoded, but no
 * byte of this block checks it (a copy's length, say), and a checkpoint
 * saves it; a byte read wrong there would fail only later blocks, and
 * every resume from that checkpoint with them. So a block's digest covers
 * it (DFOTA_PKG_F_BLOCKSTATE; always with DFOTA_PKG_F_DEVTABLE). */
static void hash_pending(struct dfota_engine *e, struct dfota_sha256 *sha)
{
    uint8_t st[DFOTA_PATCH_PENDING_LEN];
    dfota_patch_pending(&e->patch.st, st);
    dfota_sha256_update(sha, st, sizeof st);
}

/* The block digest chain (package-format.md): entry i is SHA-256(block i ||
 * [pending state, with DFOTA_PKG_F_BLOCKSTATE] || entry i+1) cut to its
 * first L bytes (16, or 4 with DFOTA_PKG_F_BLOCKHASH4),
 * entry n is L zero bytes. chain holds entry i (then zeros up to
 * DFOTA_BLOCK_DIGEST_LEN), which came from signed bytes or from a block
 * already checked; entry i+1 is read from staging and is proved by the same
 * comparison. */
static int chain_next(struct dfota_engine *e, uint32_t i, uint32_t l, uint8_t next[BD])
{
    const struct dfota_pkg_header *h = &e->hdr;
    memset(next, 0, BD);
    if (i + 1 >= dfota__blocks(e))
        return DFOTA_OK;
    return dfota__read(e, LAYOUT(e)->staging + h->header_size + dfota__stream_size(h) +
                              (i + 1) * l, next, l);
}

static int chain_check(struct dfota_engine *e, uint32_t i, struct dfota_sha256 *sha,
                       uint8_t chain[BD])
{
    uint8_t next[BD], d[32];
    uint32_t l = dfota_pkg_chain_entry_len(&e->hdr);
    int rc;
    if (!l)
        return DFOTA_OK;
    if ((rc = chain_next(e, i, l, next)))
        return rc;
    if (e->hdr.flags & DFOTA_PKG_F_BLOCKSTATE)
        hash_pending(e, sha);
    dfota_sha256_update(sha, next, l);
    dfota_sha256_final(sha, d);
    if (memcmp(d, chain, l) != 0)
        return DFOTA_ERR_CORRUPT;
    memcpy(chain, next, BD);
    return DFOTA_OK;
}

/* The digest table (DFOTA_PKG_F_DEVTABLE, package-format.md): entry i is
 * SHA-256(block i || pending state) cut to 4 bytes, as the dry run
 * computed it; DFOTA__TAB_GROUP entries to a program unit of tab_unit
 * bytes, from tab_addr, the last dfota_devtable_size bytes of staging. The
 * dry run proves the entries with the stream CRC before the first write,
 * and every resume computes the remaining ones again (a table that decayed
 * is rewritten, never trusted). While the blocks are applied, e->chain
 * holds the stream CRC of the blocks done (LE32, then zeros), which the
 * checkpoints save. */
static uint32_t tab_unit(const struct dfota_engine *e)
{
    return FLASH(e)->prog_size > 16u ? FLASH(e)->prog_size : 16u;
}

static uint32_t tab_addr(const struct dfota_engine *e)
{
    uint32_t ss = FLASH(e)->sector_size;
    return LAYOUT(e)->staging + LAYOUT(e)->staging_size / ss * ss -
           dfota_devtable_size(&e->hdr, FLASH(e)->prog_size);
}

static void tab_digest(struct dfota_engine *e, struct dfota_sha256 *sha, uint8_t d[32])
{
    hash_pending(e, sha);
    dfota_sha256_final(sha, d);
}

static int tab_check(struct dfota_engine *e, uint32_t i, struct dfota_sha256 *sha)
{
    uint8_t d[32], t[DFOTA_BLOCK_DIGEST_LEN4];
    int rc;
    tab_digest(e, sha, d);
    if ((rc = dfota__read(e, tab_addr(e) + i / DFOTA__TAB_GROUP * tab_unit(e) +
                                 i % DFOTA__TAB_GROUP * DFOTA_BLOCK_DIGEST_LEN4, t, sizeof t)))
        return rc;
    return memcmp(d, t, sizeof t) ? DFOTA_ERR_CORRUPT : DFOTA_OK;
}

/* Program group g of the table from the 16 bytes at grp (e->buf is free
 * between decode calls). */
static int tab_put(struct dfota_engine *e, uint32_t g, const uint8_t grp[16])
{
    uint32_t u = tab_unit(e);
    memcpy(e->buf, grp, 16);
    memset(e->buf + 16, FLASH(e)->erased, u - 16);
    return dfota__prog(e, tab_addr(e) + g * u, e->buf, u);
}

static int tab_erase(struct dfota_engine *e)
{
    uint32_t a = tab_addr(e), end = a + dfota_devtable_size(&e->hdr, FLASH(e)->prog_size);
    int rc;
    for (; a < end; a += FLASH(e)->sector_size)
        if ((rc = dfota__erase(e, a)))
            return rc;
    return DFOTA_OK;
}

static uint32_t stream_crc_done(const struct dfota_engine *e)
{
    return dfota_le32(e->chain);
}

/* Decode blocks from .. n-1 of the stream without writing the firmware,
 * from the decoder's state at block from and crc, the stream CRC of the
 * blocks before it: they must decode, read only what will still be there,
 * match the block chain (or, with a digest table, give its entries, which
 * are written here) and end with the CRC the package names.
 *
 * With DFOTA_PKG_F_BLOCKWIN the decoder reads back bytes of the current
 * block, so each block is programmed into a scratch slot, as run() will,
 * and read back against its CRC (a mismatch is the flash's fault,
 * DFOTA_ERR_IO). Before an update every slot is free and the blocks take
 * turns (slot i); on a resume from block from > 0 the slots of the blocks
 * not committed yet hold the only copy of their blocks: at most
 * K + lag = slots - 1 of them, [ckpt_prev - lag, from), so the slot of
 * block from is free, and every block of this run uses it. */
static int dry_run(struct dfota_engine *e, uint32_t from, uint32_t crc)
{
    struct dfota__io c;
    struct dfota_patch_io io;
    uint32_t i, n = dfota__blocks(e), len, addr;
    uint8_t chain[BD], grp[16];
    int rc, dev = DEVTABLE(e), win = (e->hdr.flags & DFOTA_PKG_F_BLOCKWIN) != 0;

    dfota__dec_io(e, &c, &io);
    memcpy(chain, e->chain, BD);
    memset(grp, FLASH(e)->erased, sizeof grp);
    if (dev && (rc = tab_erase(e)))
        return rc;
    for (i = from; i < n; i++) {
        struct dfota_sha256 sha;
        dfota__block_at(e, i, &len, &addr);
        dfota_sha256_init(&sha);
        if (win) {
            uint32_t bcrc = 0, back;
            c.win = scratch_of(e, from ? from : i);
            if ((rc = dfota__erase(e, c.win)))
                return rc;
            if ((rc = dfota__decode(e, &io, c.win, len, &bcrc, &sha)))
                return rc == DFOTA_ERR_IO ? rc : DFOTA_ERR_CORRUPT;
            if ((rc = dfota__sync(e)) || (rc = crc_flash2(e, c.win, len, &back, &crc)))
                return rc;
            if (back != bcrc)
                return DFOTA_ERR_IO;
        } else if ((rc = dfota__decode(e, &io, DFOTA_NO_ADDR, len, &crc, &sha))) {
            return rc == DFOTA_ERR_IO ? rc : DFOTA_ERR_CORRUPT;
        }
        if (!dev && (rc = chain_check(e, i, &sha, chain)))
            return rc == DFOTA_ERR_IO ? rc : DFOTA_ERR_CORRUPT;
        if (dev) {
            uint8_t d[32];
            tab_digest(e, &sha, d);
            memcpy(grp + i % DFOTA__TAB_GROUP * DFOTA_BLOCK_DIGEST_LEN4, d,
                   DFOTA_BLOCK_DIGEST_LEN4);
            if (i % DFOTA__TAB_GROUP == DFOTA__TAB_GROUP - 1 || i + 1 == n) {
                if ((rc = tab_put(e, i / DFOTA__TAB_GROUP, grp)))
                    return rc;
                memset(grp, FLASH(e)->erased, sizeof grp);
            }
        }
    }
    if (!dfota_patch_done(&e->patch) || crc != e->hdr.stream_crc32)
        return DFOTA_ERR_CORRUPT;
    return dev ? dfota__sync(e) : DFOTA_OK;
}

int dfota__ip_dry_run(struct dfota_engine *e)
{
    int rc;
    if ((rc = dfota__dec_start(e)))
        return rc;
    e->saved_live = 0;             /* (the source is whole: its saved sectors are read there) */
    return dry_run(e, 0, 0);
}

/* DFOTA_PKG_F_SAVED: copy each saved source sector to its place at the end
 * of staging and read both back against each other, while the source is
 * whole: before the update's first record. A power cut in here leaves no
 * update begun (the next install copies again); after that record the
 * copies are complete, and a source read of a saved sector goes there once
 * the sector is overwritten (io_src). */
static int save_sectors(struct dfota_engine *e)
{
    uint32_t k, off, ss = FLASH(e)->sector_size, a, b;
    int rc;

    e->saved_live = 0;
    for (k = 0; k < e->hdr.nsaved && k < DFOTA_MAX_SAVED; k++) {
        uint32_t from = dfota__src_addr(e) + e->hdr.saved[k] * ss, to = dfota__saved_addr(e, k);
        if ((rc = dfota__erase(e, to)))
            return rc;
        for (off = 0; off < ss; off += DFOTA_IO_BUF)
            if ((rc = dfota__read(e, from + off, e->buf, DFOTA_IO_BUF)) ||
                (rc = dfota__prog(e, to + off, e->buf, DFOTA_IO_BUF)))
                return rc;
        if ((rc = dfota__sync(e)) || (rc = crc_flash(e, from, ss, &a)) ||
            (rc = crc_flash(e, to, ss, &b)))
            return rc;
        if (a != b)
            return DFOTA_ERR_IO;
    }
    e->saved_live = 1;
    return DFOTA_OK;
}

/* Copy block i from its scratch slot to the firmware, then read it back. */
static int commit_block(struct dfota_engine *e, uint32_t i)
{
    uint32_t len, addr, off, crc, from = scratch_of(e, i), k = e->blocks_done - 1 - i;
    int rc;

    dfota__block_at(e, i, &len, &addr);
    if (k >= DFOTA_MAX_SCRATCH)
        return DFOTA_ERR_JOURNAL;
    /* The scratch copy is the only one of this block now: check it. */
    if ((rc = crc_flash(e, from, len, &crc)))
        return rc;
    if (crc != e->block_crc[k])
        return DFOTA_ERR_CORRUPT;
    if ((rc = dfota__erase(e, addr)))
        return rc;
    for (off = 0; off < len; off += DFOTA_IO_BUF) {
        uint32_t n = len - off < DFOTA_IO_BUF ? len - off : DFOTA_IO_BUF;
        uint32_t p = dfota__round_up(n, FLASH(e)->prog_size);
        if ((rc = dfota__read(e, from + off, e->buf, n)))
            return rc;
        memset(e->buf + n, FLASH(e)->erased, p - n);
        if ((rc = dfota__prog(e, addr + off, e->buf, p)))
            return rc;
    }
    if ((rc = dfota__sync(e)) || (rc = crc_flash(e, addr, len, &crc)))
        return rc;
    return crc == e->block_crc[k] ? DFOTA_OK : DFOTA_ERR_CORRUPT;
}

/* At the checkpoint blocks_done = c (previous one p): commit the blocks
 * that no later block reads, [p - lag, c - lag), or at the end all that
 * remain; then mark the batch done and start the next one at c. */
static int commit_batch(struct dfota_engine *e, int mark)
{
    uint32_t n = dfota__blocks(e), lag = e->hdr.lag, c = e->blocks_done, p = e->ckpt_prev, i;
    uint32_t from = p > lag ? p - lag : 0, to = c == n ? n : (c > lag ? c - lag : 0);
    int rc;

    if (from < to) {
        for (i = from; i < to; i++)
            if ((rc = commit_block(e, i)))
                return rc;
        if (mark && (rc = dfota__mark(e, dfota__batch_mark_at(e, e->half))))
            return rc;
    }
    e->ckpt_prev = c;
    e->batch_done = 1;
    return DFOTA_OK;
}

/* Decode blocks blocks_done .. n-1 into scratch, with a checkpoint (record
 * with the decoder state) every K = slots - lag - 1 blocks followed by the
 * batch of commits it allows; then read the target back and end the
 * update. A block is in a checkpoint only after it passed its checks. */
static int run(struct dfota_engine *e)
{
    struct dfota__io c;
    struct dfota_patch_io io;
    uint32_t n = dfota__blocks(e), i, k, len, addr, K = scratch_slots(e) - e->hdr.lag - 1;
    int rc;

    dfota__dec_io(e, &c, &io);
    for (i = e->blocks_done; i < n; i++) {
        struct dfota_sha256 sha;
        uint32_t crc = 0, back, stream = stream_crc_done(e);
        dfota__progress(e, DFOTA_PHASE_APPLY, i, n);
        dfota__block_at(e, i, &len, &addr);
        dfota_sha256_init(&sha);
        c.win = scratch_of(e, i);    /* (read back by DFOTA_PKG_F_BLOCKWIN's target copies) */
        if ((rc = dfota__erase(e, scratch_of(e, i))) ||
            (rc = dfota__decode(e, &io, scratch_of(e, i), len, &crc, &sha)) ||
            (rc = dfota__sync(e)) ||
            (rc = DEVTABLE(e) ? tab_check(e, i, &sha) : chain_check(e, i, &sha, e->chain)) ||
            (rc = crc_flash2(e, scratch_of(e, i), len, &back, DEVTABLE(e) ? &stream : NULL)))
            return rc;
        if (back != crc)
            return DFOTA_ERR_CORRUPT;
        if (DEVTABLE(e))
            dfota_put_le32(e->chain, stream);
        for (k = DFOTA_MAX_SCRATCH - 1; k > 0; k--)
            e->block_crc[k] = e->block_crc[k - 1];
        e->block_crc[0] = crc;
        e->blocks_done = i + 1;
        if (e->blocks_done - e->ckpt_prev >= K || e->blocks_done == n) {
            if ((rc = dfota__journal_write(e, JR_KIND_APPLY)) || (rc = commit_batch(e, 1)))
                return rc;
        }
    }
    if (!dfota_patch_done(&e->patch))
        return DFOTA_ERR_CORRUPT;
    dfota__progress(e, DFOTA_PHASE_APPLY, n, n);
    return DFOTA_OK;
}

/* Every block committed: read the target back, then IDLE. A mismatch
 * leaves the update pending (never IDLE over an image that is not the
 * target); the caller retries or reports. */
static int finish(struct dfota_engine *e)
{
    int rc = dfota__verify_target(e);
    if (rc)
        return rc;
    e->blocks_done = 0;
    e->ckpt_prev = 0;
    if ((rc = dfota__journal_write(e, JR_KIND_IDLE)))
        return rc;
    e->state = DFOTA_STATE_IDLE;
    return DFOTA_OK;
}

int dfota__ip_install(struct dfota_engine *e)
{
    int rc;
    if ((rc = dfota__dec_start(e)))
        return rc;
    e->blocks_done = 0;
    e->ckpt_prev = 0;
    e->batch_done = 1;
    memset(e->block_crc, 0, sizeof e->block_crc);
    if ((rc = save_sectors(e)))
        return rc;
    /* From this record on, a power-up finishes the update. */
    if ((rc = dfota__journal_write(e, JR_KIND_APPLY)))
        return rc;
    e->state = DFOTA_STATE_PENDING;
    if ((rc = run(e)))
        return rc;
    return finish(e);
}

int dfota__ip_resume(struct dfota_engine *e, int have_pkg)
{
    uint32_t n = dfota__blocks(e);
    int rc;

    e->saved_live = 1;             /* (made before the first record: see save_sectors) */
    if (e->blocks_done < n) {
        if (!have_pkg)
            return DFOTA_ERR_JOURNAL;
        rc = e->blocks_done ? dfota__journal_restore(e) : dfota__dec_start(e);
        /* With a digest table, the rest of the stream is decoded once
         * more first: its entries are written again and the stream CRC
         * proves them (and the payload in staging) before the next write;
         * then the decoder starts again from the checkpoint. */
        if (!rc && DEVTABLE(e) && !(rc = dry_run(e, e->blocks_done, stream_crc_done(e))))
            rc = e->blocks_done ? dfota__journal_restore(e) : dfota__dec_start(e);
        if (rc)
            return rc;
    }
    /* A batch whose mark is missing or torn may have been cut anywhere:
     * commit it again from scratch (idempotent while the slots hold). Then
     * a fresh record (with an empty batch) replaces the one read, so the
     * engine acts only on a record it wrote and read back: a marginal one
     * cannot decay under it later. */
    if (!e->batch_done && (rc = commit_batch(e, 0)))
        return rc;
    e->ckpt_prev = e->blocks_done;
    if ((rc = dfota__journal_write(e, JR_KIND_APPLY)))
        return rc;
    if (e->blocks_done < n && (rc = run(e)))
        return rc;
    return finish(e);
}

#endif
