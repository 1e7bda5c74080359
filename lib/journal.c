/* The journal: two halves, the newest valid record wins; A/B progress marks
 * and the in-place batch mark after a record. docs/journal-format.md is the
 * byte-by-byte format; every field is written and read explicitly, and a
 * record is range-checked before the engine acts on it. */
#include "engine_priv.h"

/* Record head offsets (docs/journal-format.md). */
enum { J_MAGIC = 0, J_SEQ = 4, J_LEN = 8, J_KIND = 12, J_ACTIVE = 16, J_DONE = 20, J_PREV = 24,
       J_SNAP = 28, J_DST_SIZE = 32, J_FLAGS = 36, J_SECTOR = 40, J_LAG = 44, J_CRCS = 48,
       J_DIGEST = J_CRCS + 4 * 16, J_DST_SHA = J_DIGEST + 32, J_CHAIN = J_DST_SHA + 32,
       J_RESERVED = J_CHAIN + 32 };
_Static_assert(J_RESERVED + 8 == JR_HEAD, "journal record head layout");
_Static_assert(DFOTA_MAX_SCRATCH <= 16, "the record holds 16 block CRCs");

static int pow2(uint32_t v)
{
    return v && !(v & (v - 1));
}

uint32_t dfota_journal_record_size(void)
{
#if DFOTA_CFG_INPLACE
    return JR_HEAD + dfota__snap_max() + 4u;
#else
    return JR_HEAD + 4u;
#endif
}

uint32_t dfota_journal_half_size(int kind, uint32_t slot_size, uint32_t sector_size,
                                 uint32_t prog_size)
{
    uint64_t need;
    if (!pow2(sector_size) || !pow2(prog_size) || prog_size > sector_size)
        return 0;
    if (kind == DFOTA_LAYOUT_AB) {
        /* 32-bit division only: no libgcc 64-bit division on Cortex-M */
        uint32_t blocks = slot_size / sector_size + (slot_size % sector_size != 0);
        need = dfota__round_up(JR_HEAD + 4, prog_size) + (uint64_t)blocks * prog_size;
    } else if (DFOTA_CFG_INPLACE && kind == DFOTA_LAYOUT_INPLACE) {
        need = (uint64_t)dfota__round_up(dfota_journal_record_size(), prog_size) + prog_size;
    } else {
        return 0;
    }
    need = (need + sector_size - 1) & ~(uint64_t)(sector_size - 1);
    /* journal_size, a uint32_t, holds two halves: 0 says it cannot */
    return need > UINT32_MAX / 2 ? 0 : (uint32_t)need;
}

uint32_t dfota__half_size(const struct dfota_engine *e)
{
    return LAYOUT(e)->journal_size / 2;
}

static uint32_t half_addr(const struct dfota_engine *e, uint32_t h)
{
    return LAYOUT(e)->journal + h * dfota__half_size(e);
}

uint32_t dfota__mark_area(const struct dfota_engine *e, uint32_t h)
{
    return half_addr(e, h) + dfota__round_up(JR_HEAD + 4, FLASH(e)->prog_size);
}

uint32_t dfota__batch_mark_at(const struct dfota_engine *e, uint32_t h)
{
    return half_addr(e, h) + dfota__round_up(dfota_journal_record_size(), FLASH(e)->prog_size);
}

/* ---- marks ---------------------------------------------------------------- */

int dfota__mark(struct dfota_engine *e, uint32_t addr)
{
    int rc;
    /* the complement of the erased value, whatever the flash erases to */
    memset(e->buf, FLASH(e)->erased ^ 0xFF, FLASH(e)->prog_size);
    if ((rc = dfota__prog(e, addr, e->buf, FLASH(e)->prog_size)))
        return rc;
    return dfota__sync(e);
}

int dfota__is_mark(struct dfota_engine *e, uint32_t addr)
{
    uint32_t k, unit = FLASH(e)->prog_size;
    const uint8_t mark = (uint8_t)(FLASH(e)->erased ^ 0xFFu);
    /* A read error (ECC flash: a unit whose program was cut) is a torn
     * mark: not present. */
    if (dfota__read(e, addr, e->buf, unit))
        return 0;
    for (k = 0; k < unit && e->buf[k] == mark; k++)
        ;
    return k == unit;
}

/* ---- the record stream -------------------------------------------------- */

void dfota__js_put(struct dfota__js *w, const void *data, uint32_t len)
{
    struct dfota_engine *e = w->e;
    const uint8_t *p = data;
    w->crc = dfota_crc32(w->crc, data, len);
    while (len && !w->rc) {
        uint32_t n = DFOTA_IO_BUF - w->fill;
        if (n > len)
            n = len;
        memcpy(e->buf + w->fill, p, n);
        w->fill += n;
        p += n;
        len -= n;
        if (w->fill == DFOTA_IO_BUF) {
            w->rc = dfota__prog(e, w->addr, e->buf, DFOTA_IO_BUF);
            w->addr += DFOTA_IO_BUF;
            w->fill = 0;
        }
    }
}

void dfota__js_put32(struct dfota__js *w, uint32_t v)
{
    uint8_t b[4];
    dfota_put_le32(b, v);
    dfota__js_put(w, b, 4);
}

void dfota__js_get(struct dfota__js *r, void *data, uint32_t len)
{
    struct dfota_engine *e = r->e;
    uint8_t *p = data;
    while (len) {
        uint32_t n;
        if (!r->fill) {
            n = r->end - r->addr;
            if (n > DFOTA_IO_BUF)
                n = DFOTA_IO_BUF;
            /* past the record, or a read error: the record is invalid */
            if (r->rc || !n || dfota__read(e, r->addr, e->buf, n)) {
                r->rc = DFOTA_ERR_JOURNAL;
                memset(p, 0, len);
                return;
            }
            r->addr += n;
            r->fill = n;
            r->pos = 0;
        }
        n = r->fill < len ? r->fill : len;
        memcpy(p, e->buf + r->pos, n);
        r->crc = dfota_crc32(r->crc, p, n);
        r->pos += n;
        r->fill -= n;
        p += n;
        len -= n;
    }
}

uint32_t dfota__js_get32(struct dfota__js *r)
{
    uint8_t b[4];
    dfota__js_get(r, b, 4);
    return dfota_le32(b);
}

/* Is there a whole record in half h? Fills head; 0 when torn, unreadable
 * or not a record. */
static int record_ok(struct dfota_engine *e, uint32_t h, uint8_t head[JR_HEAD])
{
    struct dfota__js r = { e, half_addr(e, h), 0, 0, 0, 0, 0 };
    uint32_t len, left, stored, magic;

    r.end = r.addr + JR_HEAD;
    dfota__js_get(&r, head, JR_HEAD);
    len = dfota_le32(head + J_LEN);
    magic = dfota_le32(head + J_MAGIC);
    /* DFJ1, the previous format, has a 136-byte head (journal-format.md) */
    if (r.rc || len > dfota__half_size(e) ||
        !((magic == JR_MAGIC && len >= JR_HEAD + 4) || (magic == JR_MAGIC_V1 && len >= 140)))
        return 0;
    /* the CRC of bytes [0, len - 4), read again from the start */
    r.addr = half_addr(e, h);
    r.end = r.addr + len;
    r.fill = 0;
    r.crc = 0;
    for (left = len - 4; left && !r.rc;) {
        uint8_t tmp[64];
        uint32_t n = left < sizeof tmp ? left : (uint32_t)sizeof tmp;
        dfota__js_get(&r, tmp, n);
        left -= n;
    }
    stored = r.crc;
    return dfota__js_get32(&r) == stored && !r.rc;
}

/* ---- writing ---------------------------------------------------------------- */

int dfota__journal_write(struct dfota_engine *e, uint32_t kind)
{
    uint8_t head[JR_HEAD];
    uint32_t seq = e->seq + 1, h = seq & 1, s, snap = 0, crc;
    struct dfota__js w = { e, half_addr(e, h), 0, 0, 0, 0, 0 };
    int rc;

#if DFOTA_CFG_INPLACE
    /* In place, an APPLY record carries the decoder state after block
     * blocks_done - 1 (none before the first block and once every block
     * is decoded). A/B replays the
     * decode from its intact source instead. */
    if (IS_INPLACE(e) && kind == JR_KIND_APPLY && e->blocks_done &&
        e->blocks_done < dfota__blocks(e))
        snap = dfota__snap_size(&e->patch.st);
#endif
    {
        /* the u32 fields at 0 .. J_DIGEST, in their order */
        const uint32_t v[J_CRCS / 4] = { JR_MAGIC, seq, JR_HEAD + snap + 4, kind, e->active,
                                         e->blocks_done, e->ckpt_prev,
                                         snap ? SNAP_FMT_OF(&e->patch.st) : 0,
                                         e->hdr.dst_size, e->hdr.flags, e->hdr.sector_size,
                                         e->hdr.lag };
        memset(head, 0, sizeof head);
        for (s = 0; s < J_DIGEST / 4; s++)
            dfota_put_le32(head + 4 * s, s < J_CRCS / 4 ? v[s]
                                         : s - J_CRCS / 4 < DFOTA_MAX_SCRATCH
                                         ? e->block_crc[s - J_CRCS / 4] : 0);
    }
    memcpy(head + J_DIGEST, e->hdr_digest, 32);
    memcpy(head + J_DST_SHA, e->hdr.dst_sha256, 32);
    memcpy(head + J_CHAIN, e->chain, DFOTA_BLOCK_DIGEST_LEN);

    for (s = 0; s < dfota__half_size(e); s += FLASH(e)->sector_size)
        if ((rc = dfota__erase(e, w.addr + s)))
            return rc;
    dfota__js_put(&w, head, JR_HEAD);
#if DFOTA_CFG_INPLACE
    if (snap)
        dfota__snap_put(&w, &e->patch.st);
#endif
    crc = w.crc;
    dfota__js_put32(&w, crc);
    if (w.rc)
        return w.rc;
    if (w.fill) {
        uint32_t n = dfota__round_up(w.fill, FLASH(e)->prog_size);
        memset(e->buf + w.fill, FLASH(e)->erased, n - w.fill);
        if ((rc = dfota__prog(e, w.addr, e->buf, n)))
            return rc;
    }
    if ((rc = dfota__sync(e)))
        return rc;
    /* Act only on a record that reads back whole. */
    if (!record_ok(e, h, head) || dfota_le32(head + J_SEQ) != seq)
        return DFOTA_ERR_IO;
    e->seq = seq;
    e->half = (uint8_t)h;
    return DFOTA_OK;
}

/* ---- reading ---------------------------------------------------------------- */

int dfota__journal_load(struct dfota_engine *e)
{
    uint8_t head[JR_HEAD];
    int ok[2], best;
    uint32_t i, seq[2], kind, active, n, done, prev, snap;

    for (i = 0; i < 2; i++) {
        ok[i] = record_ok(e, i, head);
        seq[i] = ok[i] ? dfota_le32(head + J_SEQ) : 0;
    }
    e->state = DFOTA_STATE_IDLE;
    e->active = 0;
    e->seq = 0;
    e->half = 0;
    e->blocks_done = 0;
    e->ckpt_prev = 0;
    e->batch_done = 1;
    if (ok[0] && ok[1])
        best = (int32_t)(seq[1] - seq[0]) > 0 ? 1 : 0;
    else if (ok[0] || ok[1])
        best = ok[1];
    else
        return DFOTA_OK;                 /* a blank journal: bank 0, nothing pending */
    if (!record_ok(e, (uint32_t)best, head))
        return DFOTA_ERR_JOURNAL;        /* it read whole a moment ago */
    kind = dfota_le32(head + J_KIND);
    active = dfota_le32(head + J_ACTIVE);
    if (dfota_le32(head + J_MAGIC) == JR_MAGIC_V1) {
        /* Written by the engine before DFJ2: its IDLE names the bank that
         * boots; an A/B update it left pending is given up (its old bank
         * is intact and stays active; install again). An in-place one
         * cannot be resumed by this engine: do not boot, report. */
        if (kind != JR_KIND_IDLE && (kind != JR_KIND_APPLY || IS_INPLACE(e)))
            return DFOTA_ERR_JOURNAL;
        kind = JR_KIND_IDLE;
        if (IS_INPLACE(e))
            active = 0;
    }
    if ((kind != JR_KIND_IDLE && kind != JR_KIND_APPLY) || active > 1 ||
        (IS_INPLACE(e) && active))
        return DFOTA_ERR_JOURNAL;
    e->seq = seq[best];
    e->half = (uint8_t)best;
    e->active = (uint8_t)active;
    memset(&e->hdr, 0, sizeof e->hdr);
    e->hdr.dst_size = dfota_le32(head + J_DST_SIZE);
    e->hdr.flags = dfota_le32(head + J_FLAGS);
    e->hdr.sector_size = dfota_le32(head + J_SECTOR);
    e->hdr.lag = (uint8_t)dfota_le32(head + J_LAG);
    memcpy(e->hdr.dst_sha256, head + J_DST_SHA, 32);
    memcpy(e->hdr_digest, head + J_DIGEST, 32);
    memcpy(e->chain, head + J_CHAIN, DFOTA_BLOCK_DIGEST_LEN);
    if (kind == JR_KIND_IDLE)
        return DFOTA_OK;

    /* An update: every field in range before anything acts on it. */
    done = dfota_le32(head + J_DONE);
    prev = dfota_le32(head + J_PREV);
    snap = dfota_le32(head + J_SNAP);
    if (e->hdr.dst_size > LAYOUT(e)->slot_size || dfota_le32(head + J_LAG) > DFOTA_MAX_LAG ||
        (e->hdr.flags & ~DFOTA_PKG_F_KNOWN) ||
        ((e->hdr.flags & (DFOTA_PKG_F_BLOCKHASH4 | DFOTA_PKG_F_BLOCKSTATE)) &&
         !(e->hdr.flags & DFOTA_PKG_F_BLOCKHASH)) ||
        (DFOTA_CFG_INPLACE && (e->hdr.flags & DFOTA_PKG_F_DEVTABLE) &&
         (e->hdr.flags & DFOTA_PKG_F_BLOCKHASH)))
        return DFOTA_ERR_JOURNAL;
    if (IS_INPLACE(e) ? !(e->hdr.flags & DFOTA_PKG_F_INPLACE) ||
                            e->hdr.sector_size != FLASH(e)->sector_size
                      : (e->hdr.flags & DFOTA_PKG_F_INPLACE) || e->hdr.sector_size)
        return DFOTA_ERR_JOURNAL;
    n = dfota__blocks(e);
    e->state = DFOTA_STATE_PENDING;
    if (!IS_INPLACE(e)) {
        /* A/B: count the blocks marked done after the record. */
        uint32_t at = dfota__mark_area(e, (uint32_t)best), unit = FLASH(e)->prog_size;
        uint32_t end = half_addr(e, (uint32_t)best) + dfota__half_size(e);
        if (snap)
            return DFOTA_ERR_JOURNAL;
        for (; at + unit <= end && e->blocks_done < n && dfota__is_mark(e, at); at += unit)
            e->blocks_done++;
        return DFOTA_OK;
    }
    /* (the package header may not be read yet: that the snapshot is of
     * the package's codec is checked when it is restored) */
    if (done > n || prev > done || (done && done < n ? !SNAP_FMT_OK(snap) : snap != 0))
        return DFOTA_ERR_JOURNAL;
    e->blocks_done = done;
    e->ckpt_prev = prev;
    for (i = 0; i < DFOTA_MAX_SCRATCH; i++)
        e->block_crc[i] = dfota_le32(head + J_CRCS + 4 * i);
    /* Were this checkpoint's commits all done? (torn or unreadable: no) */
    e->batch_done = (uint8_t)dfota__is_mark(e, dfota__batch_mark_at(e, (uint32_t)best));
    if (e->batch_done)
        e->ckpt_prev = done;             /* the next batch starts here */
    return DFOTA_OK;
}

#if DFOTA_CFG_INPLACE
int dfota__journal_restore(struct dfota_engine *e)
{
    uint8_t head[JR_HEAD];
    struct dfota__js r = { e, half_addr(e, e->half), 0, 0, 0, 0, 0 };
    uint32_t len, stored;
    int rc;

    r.end = r.addr + JR_HEAD;
    dfota__js_get(&r, head, JR_HEAD);
    len = dfota_le32(head + J_LEN);
    if (r.rc || len > dfota__half_size(e) || len < JR_HEAD + 4 ||
        dfota_le32(head + J_SEQ) != e->seq)
        return DFOTA_ERR_JOURNAL;        /* (the snapshot of the package's codec: snap_get) */
    r.end = half_addr(e, e->half) + len - 4;
    rc = dfota__snap_get(&r, e, dfota_le32(head + J_SNAP));
    if (rc || r.rc || r.addr - r.fill != r.end)
        return DFOTA_ERR_JOURNAL;        /* fields out of range, or not the whole record */
    stored = r.crc;
    r.end += 4;
    if (dfota__js_get32(&r) != stored || r.rc)
        return DFOTA_ERR_JOURNAL;
    return dfota__snap_window(e, dfota_le32(head + J_SNAP));
}
#endif
