/* In place: one firmware region rewritten sector by sector through scratch
 * slots, with checkpoints (decoder snapshots) in the journal. Every block
 * is checked before it can be committed: against the package's block
 * digest chain when it has one (signed through the payload digest), and
 * every copy (scratch, firmware) is read back against the block's CRC. */
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

/* CRC-32 of len bytes of flash at addr. */
static int crc_flash(struct dfota_engine *e, uint32_t addr, uint32_t len, uint32_t *crc)
{
    uint32_t off;
    int rc;
    *crc = 0;
    for (off = 0; off < len; off += DFOTA_IO_BUF) {
        uint32_t n = len - off < DFOTA_IO_BUF ? len - off : DFOTA_IO_BUF;
        if ((rc = dfota__read(e, addr + off, e->buf, n)))
            return rc;
        *crc = dfota_crc32(*crc, e->buf, n);
    }
    return DFOTA_OK;
}

/* The block digest chain (package-format.md): entry i is SHA-256(block i ||
 * [pending state, with DFOTA_PKG_F_BLOCKSTATE] || entry i+1) cut to its
 * first L bytes (16, or 4 with DFOTA_PKG_F_BLOCKHASH4),
 * entry n is L zero bytes. e->chain holds entry i (then zeros up to
 * DFOTA_BLOCK_DIGEST_LEN), which came from signed bytes or from a block
 * already checked; entry i+1 is read from staging and is proved by the same
 * comparison. */
#define BD DFOTA_BLOCK_DIGEST_LEN
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
    if (e->hdr.flags & DFOTA_PKG_F_BLOCKSTATE) {
        /* the decoder's pending operation: decoded, but no byte of this
         * block checks it (a copy's length, say), and a checkpoint saves
         * it; a byte read wrong there would fail only later blocks, and
         * every resume from that checkpoint with them */
        uint8_t st[DFOTA_PATCH_PENDING_LEN];
        dfota_patch_pending(&e->patch.st, st);
        dfota_sha256_update(sha, st, sizeof st);
    }
    dfota_sha256_update(sha, next, l);
    dfota_sha256_final(sha, d);
    if (memcmp(d, chain, l) != 0)
        return DFOTA_ERR_CORRUPT;
    memcpy(chain, next, BD);
    return DFOTA_OK;
}

/* Decode the whole stream without writing, checking that it decodes, reads
 * only what will still be there, matches the block chain and yields the
 * CRC the package names. */
int dfota__ip_dry_run(struct dfota_engine *e)
{
    struct dfota__io c;
    struct dfota_patch_io io;
    uint32_t i, n = dfota__blocks(e), len, addr, crc = 0;
    uint8_t chain[BD];
    int rc;

    if ((rc = dfota__dec_start(e)))
        return rc;
    dfota__dec_io(e, &c, &io);
    memcpy(chain, e->chain, BD);
    for (i = 0; i < n; i++) {
        struct dfota_sha256 sha;
        dfota__block_at(e, i, &len, &addr);
        dfota_sha256_init(&sha);
        if ((rc = dfota__decode(e, &io, DFOTA_NO_ADDR, len, &crc, &sha)) ||
            (rc = chain_check(e, i, &sha, chain)))
            return rc == DFOTA_ERR_IO ? rc : DFOTA_ERR_CORRUPT;
    }
    if (!dfota_patch_done(&e->patch) || crc != e->hdr.stream_crc32)
        return DFOTA_ERR_CORRUPT;
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
        uint32_t crc = 0, back;
        dfota__progress(e, DFOTA_PHASE_APPLY, i, n);
        dfota__block_at(e, i, &len, &addr);
        dfota_sha256_init(&sha);
        if ((rc = dfota__erase(e, scratch_of(e, i))) ||
            (rc = dfota__decode(e, &io, scratch_of(e, i), len, &crc, &sha)) ||
            (rc = dfota__sync(e)) || (rc = chain_check(e, i, &sha, e->chain)) ||
            (rc = crc_flash(e, scratch_of(e, i), len, &back)))
            return rc;
        if (back != crc)
            return DFOTA_ERR_CORRUPT;
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

    if (e->blocks_done < n) {
        if (!have_pkg)
            return DFOTA_ERR_JOURNAL;
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
