/* Internals shared by the DZ1 (patch.c) and DZ2 (dz2_decode.c) decoders:
 * the range decoder, the read-ahead buffers, the preamble and blocks. Not a
 * public header. */
#ifndef DFOTA_PATCH_INT_H
#define DFOTA_PATCH_INT_H

#include <string.h>
#include "dfota/error.h"
#include "dfota/patch.h"

/* In-place support (in_win, dfota_patch_pending): dfota/engine.h's
 * DFOTA_CFG_INPLACE, on unless a build sets it to 0. */
#if !defined(DFOTA_CFG_INPLACE) || DFOTA_CFG_INPLACE
#define DZ_INPLACE 1
#else
#define DZ_INPLACE 0
#endif

/* RISC-V prediction (DZ2_X_RV, dfota/delta2.h): DZ2's full model only. */
#if DFOTA_CFG_DZ2 && !DFOTA_CFG_DECODER_RAM_SMALL
#define DZ_RV 1
#define DZ_X_RV_ DZ2_X_RV
#else
#define DZ_RV 0
#define DZ_X_RV_ 0u
#endif

/* DZ_FN: how the helpers below are compiled. With both decoders in a build
 * for size (-Os or -Oz, where the compiler defines __OPTIMIZE_SIZE__) they
 * are ordinary external functions, defined once in patch.c (it defines
 * DFOTA_PATCH_INT_DEFINE before including this header), so that the two
 * decoders share one copy: about 1.7 KB less on Cortex-M4. Otherwise (the
 * host's -O2 build; a build with one decoder) they are static inline in
 * each decoder, for speed. -DDFOTA_PATCH_SHARED=0 or 1 overrides the choice.
 * Shared, their linker names carry the dfota__ prefix (the macros below),
 * so they cannot clash with an application's symbols. */
#ifndef DFOTA_PATCH_SHARED
#if defined(__OPTIMIZE_SIZE__) && DFOTA_CFG_DZ1 && DFOTA_CFG_DZ2
#define DFOTA_PATCH_SHARED 1
#else
#define DFOTA_PATCH_SHARED 0
#endif
#endif

#if DFOTA_PATCH_SHARED
#define DZ_FN
#if defined(DFOTA_PATCH_INT_DEFINE)
#define DZ_INT_BODIES 1
#else
#define DZ_INT_BODIES 0
#endif
#define in_byte        dfota__in_byte
#define rc_decide      dfota__rc_decide
#define rc_bit         dfota__rc_bit
#define rc_bit2        dfota__rc_bit2
#define rc_direct      dfota__rc_direct
#define rc_num_rows    dfota__rc_num_rows
#define rc_tree8       dfota__rc_tree8
#define src_fill       dfota__src_fill
#define src_byte       dfota__src_byte
#define src_peek       dfota__src_peek
#define read_preamble  dfota__read_preamble
#define enter_block    dfota__enter_block
#define enter_block_io dfota__enter_block_io
#define copy_byte      dfota__copy_byte
#else
#define DZ_FN static inline
#define DZ_INT_BODIES 1
#endif

DZ_FN uint8_t in_byte(struct dfota_patch *p, const struct dfota_patch_io *io);
DZ_FN unsigned rc_decide(struct dfota_patch *p, const struct dfota_patch_io *io, uint32_t prob);
DZ_FN unsigned rc_bit(struct dfota_patch *p, const struct dfota_patch_io *io, uint16_t *prob,
                      unsigned shift);
DZ_FN unsigned rc_bit2(struct dfota_patch *p, const struct dfota_patch_io *io, uint16_t *p1,
                       uint16_t *p2, unsigned shift);
DZ_FN unsigned rc_direct(struct dfota_patch *p, const struct dfota_patch_io *io);
DZ_FN uint32_t rc_num_rows(struct dfota_patch *p, const struct dfota_patch_io *io, uint16_t *len,
                           uint16_t (*mant)[1u << DZ_NUM_CTXBITS], unsigned rows);
DZ_FN unsigned rc_tree8(struct dfota_patch *p, const struct dfota_patch_io *io, uint16_t *t,
                        unsigned shift);
DZ_FN int src_fill(struct dfota_patch *p, const struct dfota_patch_io *io, uint32_t need);
DZ_FN int src_byte(struct dfota_patch *p, const struct dfota_patch_io *io, uint8_t *b);
DZ_FN int src_peek(struct dfota_patch *p, const struct dfota_patch_io *io, uint8_t *out,
                   uint32_t n);
DZ_FN int read_preamble(struct dfota_patch *p, const struct dfota_patch_io *io, uint16_t *len,
                        uint16_t (*mant)[1u << DZ_NUM_CTXBITS], unsigned rows, uint32_t map_max);
DZ_FN int enter_block(struct dfota_patch_state *s, const struct dfota_patch_io *io);
DZ_FN int enter_block_io(struct dfota_patch *p, const struct dfota_patch_io *io);
/* The tables of the copy-byte coding (copy_byte, below): DZ1 and the two
 * DZ2 models lay them out differently. For prediction kind k at lane l,
 * d_zero's row is min(k, zcap) and the difference tree
 * dval[min(k, dcap) * lanes + l % lanes]; d_zero2's context is the
 * previous byte >> z2shift and "run 0". */
struct dz_copy_tabs {
    uint16_t (*d_zero)[DZ_ZCTX_N];
    uint16_t *d_zero2;
    uint16_t *d_mru;
    uint16_t (*dval)[256];
    uint8_t zcap, dcap, lanes, z2shift;
};
DZ_FN int copy_byte(struct dfota_patch *p, const struct dfota_patch_io *io,
                    const struct dz_copy_tabs *t, uint8_t *out);

#define rc_num(p, io, c) rc_num_rows(p, io, (c)->len, (c)->mant, DZ_NUM_MAXBITS)

#if DZ_INT_BODIES

DZ_FN uint8_t in_byte(struct dfota_patch *p, const struct dfota_patch_io *io)
{
    struct dfota_patch_state *s = &p->st;
    uint32_t at = s->in_pos;

    if (at - p->in_base >= p->in_len) {
        uint32_t n;
        int rc;
        if (at >= s->payload_size) {
            /* The stream asks for more than the payload holds. */
            if (!p->err)
                p->err = DFOTA_ERR_CORRUPT;
            return 0;
        }
        n = s->payload_size - at;
        if (n > DFOTA_PATCH_INBUF)
            n = DFOTA_PATCH_INBUF;
        rc = io->read_payload(io->ctx, at, p->in_buf, n);
        if (rc) {
            if (!p->err)
                p->err = rc;
            return 0;
        }
        p->in_base = at;
        p->in_len = n;
    }
    s->in_pos++;
#if DZ_INPLACE
    /* the range decoder's look-ahead: code = in_win - low (mod 2^32), the
     * low being the encoder's, which the decisions alone determine */
    s->in_win = (s->in_win << 8) | p->in_buf[at - p->in_base];
#endif
    return p->in_buf[at - p->in_base];
}

/* One binary decision with probability prob (of a 0) out of DZ_PROB_ONE. */
DZ_FN unsigned rc_decide(struct dfota_patch *p, const struct dfota_patch_io *io,
                                 uint32_t prob)
{
    struct dfota_patch_state *s = &p->st;
    uint32_t bound = (s->range >> DZ_PROB_BITS) * prob;
    unsigned bit;

    if (s->code < bound) {
        s->range = bound;
        bit = 0;
    } else {
        s->code -= bound;
        s->range -= bound;
        bit = 1;
    }
    /* With 12-bit probabilities one byte may not be enough. */
    while (s->range < DZ_RC_TOP) {
        s->range <<= 8;
        s->code = (s->code << 8) | in_byte(p, io);
    }
    return bit;
}

DZ_FN unsigned rc_bit(struct dfota_patch *p, const struct dfota_patch_io *io, uint16_t *prob,
                       unsigned shift)
{
    unsigned bit = rc_decide(p, io, *prob);
    dz_adapt(prob, bit, shift);
    return bit;
}

/* A bit under two contexts: their average codes it, both adapt. */
DZ_FN unsigned rc_bit2(struct dfota_patch *p, const struct dfota_patch_io *io, uint16_t *p1,
                        uint16_t *p2, unsigned shift)
{
    unsigned bit = rc_decide(p, io, ((uint32_t)*p1 + *p2) >> 1);
    dz_adapt(p1, bit, shift);
    dz_adapt(p2, bit, shift);
    return bit;
}

DZ_FN unsigned rc_direct(struct dfota_patch *p, const struct dfota_patch_io *io)
{
    struct dfota_patch_state *s = &p->st;
    unsigned bit = 0;

    s->range >>= 1;
    if (s->code >= s->range) {
        s->code -= s->range;
        bit = 1;
    }
    while (s->range < DZ_RC_TOP) {
        s->range <<= 8;
        s->code = (s->code << 8) | in_byte(p, io);
    }
    return bit;
}

/* A number v >= 1: its bit length in unary, then the bits below the top,
 * the first DZ_NUM_CTXBITS of them through the tree of its bit length when
 * that has one of the `rows` mantissa rows (DZ1 and DZ2's full model: all
 * of them). */
DZ_FN uint32_t rc_num_rows(struct dfota_patch *p, const struct dfota_patch_io *io, uint16_t *len,
                           uint16_t (*mant)[1u << DZ_NUM_CTXBITS], unsigned rows)
{
    unsigned n = 1, i, node = 1;
    uint32_t v = 1;

    while (n < DZ_NUM_MAXBITS && rc_bit(p, io, &len[n - 1], DZ_ADAPT_FAST))
        n++;
    for (i = 1; i < n; i++) {
        unsigned bit;
        if (i <= DZ_NUM_CTXBITS && n - 1 < rows) {
            bit = rc_bit(p, io, &mant[n - 1][node], DZ_ADAPT_FAST);
            node = (node << 1) | bit;
        } else {
            bit = rc_direct(p, io);
        }
        v = (v << 1) | bit;
    }
    return v;
}

DZ_FN unsigned rc_tree8(struct dfota_patch *p, const struct dfota_patch_io *io, uint16_t *t,
                         unsigned shift)
{
    unsigned node = 1;
    while (node < 256)
        node = (node << 1) | rc_bit(p, io, &t[node], shift);
    return node & 0xFF;
}

/* Make the read-ahead hold `need` source bytes from src_pos (1, or 4 for a
 * reference; the caller checked the copy and the block have them). It reads
 * ahead only within the current copy and block: in place, a byte may be
 * read only while producing the block that uses it, so a straight run reads
 * exactly what a resumed one reads. */
DZ_FN int src_fill(struct dfota_patch *p, const struct dfota_patch_io *io, uint32_t need)
{
    struct dfota_patch_state *s = &p->st;
    uint32_t at = s->src_pos, n;
    int rc;

    if (at >= p->src_base && at - p->src_base + need <= p->src_len)
        return DFOTA_OK;
    n = s->remaining < s->block_end - s->out_pos ? s->remaining : s->block_end - s->out_pos;
    if (n > DFOTA_PATCH_SRCBUF)
        n = DFOTA_PATCH_SRCBUF;
    if ((rc = io->read_src(io->ctx, at, p->src_buf, n)))
        return rc;
    p->src_base = at;
    p->src_len = n;
    return DFOTA_OK;
}

DZ_FN int src_byte(struct dfota_patch *p, const struct dfota_patch_io *io, uint8_t *b)
{
    int rc = src_fill(p, io, 1);
    if (!rc)
        *b = p->src_buf[p->st.src_pos - p->src_base];
    return rc;
}

DZ_FN int src_peek(struct dfota_patch *p, const struct dfota_patch_io *io, uint8_t *out,
                   uint32_t n)
{
    int rc = src_fill(p, io, n);
    if (!rc)
        memcpy(out, p->src_buf + (p->st.src_pos - p->src_base), n);
    return rc;
}

/* The preamble: reference-prediction flags, image base and the shift map. */
DZ_FN int read_preamble(struct dfota_patch *p, const struct dfota_patch_io *io,
                                uint16_t *len, uint16_t (*mant)[1u << DZ_NUM_CTXBITS],
                                unsigned rows, uint32_t map_max)
{
    struct dfota_patch_state *s = &p->st;
    uint32_t i, prev = 0;

    for (i = 0; i < 4; i++)
        s->xflags = (uint8_t)(s->xflags | rc_direct(p, io) << i);
    if (!(s->xflags & (DZ_X_PRED | DZ_X_RV_)))
        return p->err;
    for (i = 0; i < 32; i++)
        s->base = (s->base << 1) | rc_direct(p, io);
    s->map_n = rc_num_rows(p, io, len, mant, rows) - 1;
    if (s->map_n > map_max)
        return DFOTA_ERR_CORRUPT;
    for (i = 0; i < s->map_n; i++) {
        uint32_t d = rc_num_rows(p, io, len, mant, rows) - 1;
        uint32_t z = rc_num_rows(p, io, len, mant, rows) - 1;
        if (i && d == 0)
            return DFOTA_ERR_CORRUPT;             /* strictly increasing */
        prev += d;
        s->map[i].src = prev;
        s->map[i].shift = (int32_t)((z >> 1) ^ (0u - (z & 1)));  /* zigzag */
    }
    return p->err;
}

/* Move to the next block's target address when the stream crosses into it:
 * in place, the next sector of the write order (io's runs, or without them
 * the one run the header's flags name). */
DZ_FN int enter_block(struct dfota_patch_state *s, const struct dfota_patch_io *io)
{
    uint32_t off, len, addr, nr = io->nruns;
    const struct dfota_pkg_run *r = io->runs;
    struct dfota_pkg_run one;

    if (s->out_pos == 0)
        s->block = 0;
    else
        s->block++;
    if (!DZ_INPLACE) {                     /* A/B: one block, the whole target */
        s->addr = 0;
        s->block_end = s->dst_size;
        return DFOTA_OK;
    }
    if (!r || !nr) {
        if (s->flags & DFOTA_PKG_F_RUNS)
            return DFOTA_ERR_ARG;          /* the caller did not hand the order over */
        dz_one_run(&one, s->dst_size, s->sector_size, (s->flags & DFOTA_PKG_F_BACKWARD) != 0);
        r = &one;
        nr = 1;
    }
    dfota_patch_block(s->block, s->dst_size, s->sector_size, r, nr, &off, &len, &addr);
    s->addr = addr;
    s->block_end = off + len;
    return DFOTA_OK;
}

/* Entering a block drops the source read-ahead (see src_byte). */
DZ_FN int enter_block_io(struct dfota_patch *p, const struct dfota_patch_io *io)
{
    p->src_len = 0;
    return enter_block(&p->st, io);
}

/* One byte of an approximate copy: the source byte (or the predicted one)
 * plus a coded difference, with the model tables t (struct dz_copy_tabs). */
DZ_FN int copy_byte(struct dfota_patch *p, const struct dfota_patch_io *io,
                            const struct dz_copy_tabs *t, uint8_t *out)
{
    struct dfota_patch_state *s = &p->st;
    unsigned lane = s->addr & 3u, nz, kind;
    uint16_t *zp;
    uint8_t d = 0, sb;
    int rc;

    /* References start on even (Thumb, RISC-V) or word (A32, pointers)
     * addresses: only there is a prediction worth a call. */
    if ((s->xflags & (DZ_X_PRED | DZ_X_RV_)) && !s->pred_n &&
        !(s->addr & ((s->xflags & (DZ_X_THUMB | DZ_X_RV_)) ? 1u : 3u)) && s->remaining >= 4 &&
        s->block_end - s->out_pos >= 4) {
        uint8_t s8[8];
        unsigned got = 0;
#if DZ_RV
        if (s->xflags & DZ2_X_RV) {
            /* (dfota/delta2.h: a pair lies in the copy and the block) */
            unsigned avail = s->remaining >= 8 && s->block_end - s->out_pos >= 8 ? 8u : 4u;
            uint8_t w[8];
            if ((rc = src_peek(p, io, s8, avail)))
                return rc;
            got = dz2_rv_predict(s8, avail, s->src_pos, s->addr, s->map, s->map_n, s->src_size, w);
            if (got) {
                memcpy(s->pred, w, 4);
                s->mstart = dz2_rv_word(w + 4);  /* (unused in an approximate copy) */
                s->pred_kind = 1;
            }
        } else
#endif
        if ((rc = src_peek(p, io, s8, 4)))
            return rc;
        if (!got)
            s->pred_kind = (uint8_t)dz_predict(s8, s->src_pos, s->addr, s->xflags, s->base,
                                               s->map, s->map_n, s->src_size, s->pred);
        s->pred_n = (uint8_t)(got ? got : s->pred_kind ? 4u : 0u);
    }
    rc = src_byte(p, io, &sb);
    if (rc)
        return rc;
    kind = 0;
    if (s->pred_n) {
        kind = s->pred_kind;
#if DZ_RV
        sb = s->pred[(0u - s->pred_n) & 3u];    /* (8..5: an AUIPC pair's first word) */
        if (--s->pred_n == 4)                   /* then its second, from mstart */
            dz2_rv_put(s->pred, s->mstart);
#else
        sb = s->pred[4 - s->pred_n--];
#endif
    }
    zp = &t->d_zero[kind < t->zcap ? kind : t->zcap][dz_zero_ctx(s->addr, s->zrun, s->zhist)];
    if (s->xflags & DZ_X_BYTECTX)
        nz = rc_bit2(p, io, zp, &t->d_zero2[(s->prev_byte >> t->z2shift) * 2u + (s->zrun == 0)],
                     DZ_ADAPT_FAST);
    else
        nz = rc_bit(p, io, zp, DZ_ADAPT_FAST);
    if (nz) {
        unsigned mctx = lane * 2u + ((s->zhist >> 3) & 1u);
        if (rc_bit(p, io, &t->d_mru[mctx], DZ_ADAPT_FAST) == 0)
            d = s->mru[lane];
        else
            d = (uint8_t)rc_tree8(p, io,
                                  t->dval[(kind < t->dcap ? kind : t->dcap) * t->lanes +
                                          (lane & (t->lanes - 1u))],
                                  DZ_ADAPT_SLOW);
        s->mru[lane] = d;
        s->zrun = 0;
    } else {
        s->zrun++;
    }
    s->zhist = (s->zhist << 1) | nz;
    *out = (uint8_t)(sb + d);
    s->src_pos++;
    return p->err;
}

#endif /* DZ_INT_BODIES */

int dz2_decode(struct dfota_patch *p, const struct dfota_patch_io *io, uint8_t *out, uint32_t n);

#endif
