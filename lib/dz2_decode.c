/* The DZ2 decoder (docs/delta-format.md, "DZ2"): DZ1's approximate copies
 * and literal runs, plus exact copies from the joint address space (the
 * source image, then the target produced so far) with four repeat
 * distances. Target bytes come from the caller's output buffer of this
 * call, the ring of recent bytes, or read back through io->read_dst (A/B;
 * in place, within the current block, with DFOTA_PKG_F_BLOCKWIN). No
 * allocation. */
#include <string.h>
#include "dfota/error.h"
#include "dfota/patch.h"
#include "patch_int.h"

#if DFOTA_CFG_DZ2

/* A DZ2 number (dfota/delta2.h): rc_num with the shared long rows (sm:
 * the small model's). */
static uint32_t rc_num2(struct dfota_patch *p, const struct dfota_patch_io *io, struct dz2_num *c,
                        unsigned sm)
{
    unsigned n = 1, i, node = 1;
    uint16_t *mant;
    uint32_t v = 1;

    while (n < DZ_NUM_MAXBITS && rc_bit(p, io, &c->len[n - 1], DZ_ADAPT_FAST))
        n++;
    mant = c->mant[dz2_num_row(sm, n)];
    for (i = 1; i < n; i++) {
        unsigned bit;
        if (i <= DZ_NUM_CTXBITS) {
            bit = rc_bit(p, io, &mant[node], DZ_ADAPT_FAST);
            node = (node << 1) | bit;
        } else {
            bit = rc_direct(p, io);
        }
        v = (v << 1) | bit;
    }
    return v;
}

#if !DFOTA_CFG_DECODER_RAM_SMALL
/* A matched literal (dfota/delta2.h): the tree follows mt while its bits
 * agree with the match byte mb, then the plain literal tree lt. */
static unsigned rc_mlit(struct dfota_patch *p, const struct dfota_patch_io *io, uint16_t *mt,
                        uint16_t *lt, unsigned mb)
{
    unsigned node = 1;
    while (node < 256) {
        unsigned mbit = (mb >> 7) & 1u, bit;
        mb <<= 1;
        bit = rc_bit(p, io, &mt[mbit << 8 | node], DZ_ADAPT_SLOW);
        node = (node << 1) | bit;
        if (bit != mbit)
            break;
    }
    while (node < 256)
        node = (node << 1) | rc_bit(p, io, &lt[node], DZ_ADAPT_SLOW);
    return node & 0xFF;
}
#endif


/* Start the next operation (docs/delta-format.md, "DZ2 operations"). */
static int dz2_next_op(struct dfota_patch *p, const struct dfota_patch_io *io)
{
    struct dfota_patch_state *s = &p->st;
    struct dz2_model *m = &s->m2;
    uint16_t *k = m->kind[s->prev_op];
    uint32_t left = s->dst_size - s->out_pos, len;
    unsigned sm = s->small;

    if (s->prev_op != DZ2_OP_LIT && rc_bit(p, io, &k[DZ2_K_LIT], DZ_ADAPT_FAST)) {
        len = rc_num2(p, io, &m->lit_len, sm);
        if (p->err)
            return p->err;
        if (len > left)
            return DFOTA_ERR_CORRUPT;
        s->op = DZ2_OP_LIT;
    } else if (rc_bit(p, io, &k[DZ2_K_COPY], DZ_ADAPT_FAST)) {
        int32_t delta = 0;
        unsigned al = s->prev_op == DZ2_OP_LIT;
        len = rc_num2(p, io, &m->copy_len, sm);
        if (rc_bit(p, io, &m->off_zero[al], DZ_ADAPT_FAST)) {
            unsigned neg = rc_bit(p, io, &m->off_sign[al], DZ_ADAPT_FAST);
            uint32_t mag = rc_num2(p, io, &m->off_mag, sm);
            if (p->err)
                return p->err;
            if (mag > 0x7FFFFFFFu)
                return DFOTA_ERR_CORRUPT;
            delta = neg ? -(int32_t)mag : (int32_t)mag;
        }
        if (p->err)
            return p->err;
        if (len > left || (delta < 0 && (uint32_t)-delta > s->src_pos) ||
            (uint64_t)s->src_pos + (uint64_t)(int64_t)delta + len > s->src_size)
            return DFOTA_ERR_CORRUPT;
        s->src_pos = (uint32_t)((int64_t)s->src_pos + delta);
        s->op = DZ2_OP_COPY;
    } else {
        uint32_t d;
        uint64_t joint = (uint64_t)s->src_size + s->out_pos, u;
        if (rc_bit(p, io, &k[DZ2_K_REP], DZ_ADAPT_FAST)) {
            unsigned i = 0;
            if (rc_bit(p, io, &k[DZ2_K_REP0], DZ_ADAPT_FAST)) {
                i = 1;
                if (rc_bit(p, io, &k[DZ2_K_REP1], DZ_ADAPT_FAST))
                    i = 2 + rc_bit(p, io, &k[DZ2_K_REP2], DZ_ADAPT_FAST);
            }
            d = s->rep[i];
            dz2_rep_use(s->rep, i, d);
            len = rc_num2(p, io, &m->r_len, sm);
        } else {
            if (rc_bit(p, io, &k[DZ2_K_DST], DZ_ADAPT_FAST)) {
                d = rc_num2(p, io, &m->t_dist, sm);
            } else {
                /* a source position, from the alignment of the last source copy */
                int64_t at = (int64_t)s->out_pos + s->align;
                if (rc_bit(p, io, &m->o_zero, DZ_ADAPT_FAST)) {
                    unsigned neg = rc_bit(p, io, &m->o_sign, DZ_ADAPT_FAST);
                    uint32_t mag = rc_num2(p, io, &m->o_mag, sm);
                    at += neg ? -(int64_t)mag : (int64_t)mag;
                }
                if (at < 0 || at >= (int64_t)s->src_size)
                    return DFOTA_ERR_CORRUPT;
                d = (uint32_t)(joint - (uint64_t)at);
            }
            dz2_rep_use(s->rep, DZ2_REPS - 1, d);
            len = rc_num2(p, io, &m->m_len, sm);
        }
        if (p->err)
            return p->err;
        if (len == 0xFFFFFFFFu || len + 1 > left || d == 0 || d > joint)
            return DFOTA_ERR_CORRUPT;
        len++;
        u = joint - d;
        if (u < s->src_size) {
            if (u + len > s->src_size)
                return DFOTA_ERR_CORRUPT;    /* a copy never runs from source into target */
            s->src_pos = (uint32_t)u;
        }
        s->mstart = (uint32_t)u;
        s->op = DZ2_OP_MATCH;
    }
    s->remaining = len;
    return p->err;
}

/* Target stream byte q (q < out_pos), during a call whose output began at
 * stream position base into out0. */
static int dst_byte(struct dfota_patch *p, const struct dfota_patch_io *io, uint32_t q,
                    uint32_t base, const uint8_t *out0, uint8_t *b)
{
    struct dfota_patch_state *s = &p->st;
    uint32_t n;
    int rc;

    if (s->sector_size) {
        /* in place: the current block only (its first stream position is
         * ring_from); without DFOTA_PKG_F_BLOCKWIN only the ring */
        if (q < p->ring_from || (!(s->flags & DFOTA_PKG_F_BLOCKWIN) && s->out_pos - q > DZ2_RING))
            return DFOTA_ERR_CORRUPT;
        if (s->out_pos - q <= DZ2_RING) {
            *b = s->ring[q & (DZ2_RING - 1)];
            return DFOTA_OK;
        }
    }
    if (q >= base) {
        *b = out0[q - base];
        return DFOTA_OK;
    }
    if (q >= p->ring_from && s->out_pos - q <= DZ2_RING) {
        *b = s->ring[q & (DZ2_RING - 1)];
        return DFOTA_OK;
    }
    if (q - p->dst_base < p->dst_len) {
        *b = p->dst_buf[q - p->dst_base];
        return DFOTA_OK;
    }
    if (!io->read_dst)
        return DFOTA_ERR_CORRUPT;
    n = base - q;                        /* bytes of earlier calls only */
    if (n > s->remaining)
        n = s->remaining;
    if (n > DZ2_DSTBUF)
        n = DZ2_DSTBUF;
    if ((rc = io->read_dst(io->ctx, q, p->dst_buf, n)))
        return rc;
    p->dst_base = q;
    p->dst_len = n;
    *b = p->dst_buf[0];
    return DFOTA_OK;
}

#if !DFOTA_CFG_DECODER_RAM_SMALL
/* The match byte of the literal right after a copy or an exact copy: the
 * byte at joint position mstart, where the copy would have gone on.
 * Returns 1 with *b, 0 where the decoder may not read it (in place: a
 * source byte at a sector start or in a new block, whose sector may be
 * overwritten by now; a target byte outside the ring, or with
 * DFOTA_PKG_F_BLOCKWIN outside the current block), or an error. */
static int match_byte(struct dfota_patch *p, const struct dfota_patch_io *io, uint32_t base,
                      const uint8_t *out0, uint8_t *b)
{
    struct dfota_patch_state *s = &p->st;
    uint32_t u = s->mstart;
    int rc;

    if (u < s->src_size) {
        if (s->sector_size && (!(u & (s->sector_size - 1)) || s->out_pos == p->ring_from))
            return 0;
        if (u - p->src_base < p->src_len) {
            *b = p->src_buf[u - p->src_base];
            return 1;
        }
        rc = io->read_src(io->ctx, u, b, 1);
        return rc ? rc : 1;
    }
    u -= s->src_size;
    if (u >= s->out_pos)
        return DFOTA_ERR_CORRUPT;         /* not produced yet (a bad restored state) */
    if (s->sector_size &&
        (u < p->ring_from || (!(s->flags & DFOTA_PKG_F_BLOCKWIN) && s->out_pos - u > DZ2_RING)))
        return 0;
    rc = dst_byte(p, io, u, base, out0, b);
    return rc ? rc : 1;
}
#endif

/* The payload's start: the mode byte (range coded: it is also the coder's
 * zero start byte), then the coder's first four bytes and the preamble. */
static int dz2_start(struct dfota_patch *p, const struct dfota_patch_io *io)
{
    struct dfota_patch_state *s = &p->st;
    struct dz2_model *m = &s->m2;
    unsigned i, mode = in_byte(p, io);
    int rc;

    if (p->err)
        return p->err;
    if (mode == DZ2_MODE_STORED) {
        if (s->payload_size != (uint64_t)s->dst_size + 1)
            return DFOTA_ERR_CORRUPT;
        s->op = DZ2_OP_STORED;
        s->remaining = s->dst_size;
        return DFOTA_OK;
    }
    if (mode != DZ2_MODE_RC_SMALL &&
        (DFOTA_CFG_DECODER_RAM_SMALL ||
         (mode != DZ2_MODE_RC && mode != DZ2_MODE_RC_BLF && mode != DZ2_MODE_RC_RV)))
        return DFOTA_ERR_CORRUPT;         /* a small build has the small model only */
    s->small = mode == DZ2_MODE_RC_SMALL;
    for (i = 0; i < 4; i++)
        s->code = (s->code << 8) | in_byte(p, io);
    if (p->err)
        return p->err;
    if (mode == DZ2_MODE_RC_RV)
        s->xflags = DZ2_X_RV;             /* (before the preamble: it has a map) */
    rc = read_preamble(p, io, m->map_num.len, m->map_num.mant, dz2_map_rows(s->small),
                       dz2_map_max(s->small));
    if (mode == DZ2_MODE_RC_BLF)
        s->xflags = (uint8_t)(s->xflags | DZ2_X_BLF);
    if (!rc && mode == DZ2_MODE_RC_RV && (s->xflags & (DZ_X_THUMB | DZ_X_ARM)))
        return DFOTA_ERR_CORRUPT;         /* RISC-V prediction in place of those */
    return rc;
}

/* The next byte of an exact copy (source or target), advancing it. */
static int match_next(struct dfota_patch *p, const struct dfota_patch_io *io, uint32_t base,
                      const uint8_t *out0, uint8_t *b)
{
    struct dfota_patch_state *s = &p->st;
    int rc;
    if (s->mstart < s->src_size) {
        if ((rc = src_byte(p, io, b)))
            return rc;
        s->src_pos++;
    } else {
        uint32_t q = s->mstart - s->src_size;
        if (q >= s->out_pos)
            return DFOTA_ERR_CORRUPT;
        if ((rc = dst_byte(p, io, q, base, out0, b)))
            return rc;
    }
    s->mstart++;
    return DFOTA_OK;
}

/* Thumb branch filter (dfota/delta2.h): may a group start here? */
static int blf_group_here(const struct dfota_patch_state *s)
{
#if DFOTA_CFG_DECODER_RAM_SMALL
    (void)s;                      /* a small build refuses mode 3: no filter code */
    return 0;
#else
    return (s->xflags & DZ2_X_BLF) && s->remaining >= 4 && !(s->addr & 1u) &&
           s->block_end - s->out_pos >= 4;
#endif
}

/* Byte j (1..3) of a filter group, read while the group's first byte is
 * the one being produced: from it on, the copy has remaining - j bytes and
 * the block block_end - out_pos - j (the group lies in both), and the
 * read-aheads (src_fill, dst_byte), sized from those two, must not run j
 * bytes past them (past the source image's end, or in place into what
 * another block reads). */
static int match_ahead(struct dfota_patch *p, const struct dfota_patch_io *io, uint32_t base,
                       const uint8_t *out0, uint32_t j, uint8_t *b)
{
    struct dfota_patch_state *s = &p->st;
    int rc;
    s->remaining -= j;
    s->block_end -= j;
    rc = match_next(p, io, base, out0, b);
    s->remaining += j;
    s->block_end += j;
    return rc;
}

/* A group of an exact copy whose first byte b0 is read: reads the rest,
 * retargets a BL, leaves the bytes after the first in pred. */
static int blf_match_group(struct dfota_patch *p, const struct dfota_patch_io *io, uint32_t base,
                           const uint8_t *out0, uint8_t *b0)
{
    struct dfota_patch_state *s = &p->st;
    uint32_t u = s->mstart - 1, sa;
    uint8_t w[4];
    int rc;

    if (u < s->src_size) {
        sa = u;
    } else {
        uint32_t dist = s->out_pos - (u - s->src_size);
        if (dist < 4)
            return DFOTA_OK;
        sa = s->addr - dist;
    }
    if (sa & 1u)
        return DFOTA_OK;
    w[0] = *b0;
    if ((rc = match_ahead(p, io, base, out0, 1, &w[1])))
        return rc;
    if (!dz2_bl_first(w[1])) {
        s->pred[3] = w[1];
        s->pred_n = 1;
        return DFOTA_OK;
    }
    if ((rc = match_ahead(p, io, base, out0, 2, &w[2])) ||
        (rc = match_ahead(p, io, base, out0, 3, &w[3])))
        return rc;
    dz2_bl_add(w, (sa >> 1) - (s->addr >> 1));
    memcpy(s->pred, w, 4);
    s->pred_n = 3;
    *b0 = w[0];
    return DFOTA_OK;
}

/* A literal group whose first byte b0 is decoded: decodes the rest,
 * undoes the filter of a BL, leaves the bytes after the first in pred. */
static void blf_lit_group(struct dfota_patch *p, const struct dfota_patch_io *io, unsigned sm,
                          uint8_t *b0)
{
    struct dfota_patch_state *s = &p->st;
    struct dz2_model *m = &s->m2;
    uint8_t w[4];
    unsigned k;

    w[0] = *b0;
    w[1] = (uint8_t)rc_tree8(p, io, m->lit[dz2_lit_ctx(sm, s->addr + 1, w[0])], DZ_ADAPT_SLOW);
    if (!dz2_bl_first(w[1])) {
        s->pred[3] = w[1];
        s->pred_n = 1;
        return;
    }
    for (k = 2; k < 4; k++)
        w[k] = (uint8_t)rc_tree8(p, io, m->lit[dz2_lit_ctx(sm, s->addr + k, w[k - 1])],
                                 DZ_ADAPT_SLOW);
    dz2_bl_add(w, 0u - (s->addr >> 1) - 2u);
    memcpy(s->pred, w, 4);
    s->pred_n = 3;
    *b0 = w[0];
}

int dz2_decode(struct dfota_patch *p, const struct dfota_patch_io *io, uint8_t *out, uint32_t n)
{
    struct dfota_patch_state *s = &p->st;
    struct dz2_model *m = &s->m2;
    uint32_t base = s->out_pos;
    const uint8_t *out0 = out;
    unsigned sm;
    struct dz_copy_tabs t;
    int rc;

    if (n > s->dst_size - s->out_pos)
        return DFOTA_ERR_ARG;
    if (s->out_pos == 0 && s->in_pos == 0 && n && (rc = dz2_start(p, io)))
        return rc;
    /* the difference contexts of this model (dfota/delta2.h) */
    sm = DZ2_IS_SMALL(s->small);
    t.d_zero = m->d_zero;
    t.d_zero2 = m->d_zero2;
    t.d_mru = m->d_mru;
    t.dval = m->d_val;
    t.zcap = (uint8_t)(DZ2_PRED_N - 1u);
    t.dcap = (uint8_t)(sm ? 0u : 1u);               /* dz2_dval_ctx */
    t.lanes = (uint8_t)(sm ? 2u : DZ_LANES);
    t.z2shift = (uint8_t)(sm ? 4u : 0u);
    if (sm)
        t.zcap = (uint8_t)(DZ2S_PRED - 1u);
    while (n) {
        uint8_t b, mb = 0;
        int first = 0;

        if (s->out_pos == s->block_end) {
            if ((rc = enter_block_io(p, io)))
                return rc;
            if (s->sector_size)
                p->ring_from = s->out_pos;
        }
        if (s->remaining == 0) {
            if ((rc = dz2_next_op(p, io)))
                return rc;
            first = 1;
        }
#if DFOTA_CFG_DECODER_RAM_SMALL
        (void)first;              /* (no matched literals) */
        (void)mb;
#endif
        switch (s->op) {
        case DZ2_OP_STORED:
            b = in_byte(p, io);
            break;
        case DZ2_OP_LIT: {
            uint16_t *lt = m->lit[dz2_lit_ctx(sm, s->addr, s->prev_byte)];
            if (s->pred_n) {              /* the rest of a filter group */
                b = s->pred[4 - s->pred_n--];
                break;
            }
            rc = 0;
#if !DFOTA_CFG_DECODER_RAM_SMALL
            /* a matched literal after a copy (the full model only) */
            if (!sm && first && s->prev_op != DZ2_OP_NONE) {
                if (s->prev_op == DZ2_OP_COPY)
                    s->mstart = s->src_pos;   /* where the approximate copy would go on */
                if ((rc = match_byte(p, io, base, out0, &mb)) < 0)
                    return rc;
            }
            if (rc)
                b = (uint8_t)rc_mlit(p, io, m->mlit[s->prev_op == DZ2_OP_COPY], lt, mb);
            else
#endif
                b = (uint8_t)rc_tree8(p, io, lt, DZ_ADAPT_SLOW);
            if (blf_group_here(s))
                blf_lit_group(p, io, sm, &b);
            break;
        }
        case DZ2_OP_COPY:
            if ((rc = copy_byte(p, io, &t, &b)))
                return rc;
            break;
        default:                          /* DZ2_OP_MATCH */
            if (s->pred_n) {              /* the rest of a filter group */
                b = s->pred[4 - s->pred_n--];
                break;
            }
            if ((rc = match_next(p, io, base, out0, &b)))
                return rc;
            if (blf_group_here(s) && (rc = blf_match_group(p, io, base, out0, &b)))
                return rc;
            break;
        }
        if (p->err)
            return p->err;
        s->prev_byte = b;
        s->ring[s->out_pos & (DZ2_RING - 1)] = b;
        *out++ = b;
        s->out_pos++;
        s->addr++;
        s->remaining--;
        n--;
        if (s->remaining == 0 && s->op != DZ2_OP_STORED) {
            s->prev_op = s->op;
            if (s->op == DZ2_OP_COPY || (s->op == DZ2_OP_MATCH && s->mstart <= s->src_size))
                s->align = (int32_t)((int64_t)s->src_pos - s->out_pos);
        }
    }
    return DFOTA_OK;
}

#endif /* DFOTA_CFG_DZ2 */

#if DFOTA_CFG_DECODER_RAM_SMALL
/* The 4k profile: the whole decoder, with the small model's tables (each
 * the prefix of the full model's that DZ2_MODE_RC_SMALL uses), its ring and
 * shift map, fits in 4 KiB. */
_Static_assert(sizeof(struct dz2_model) == 2u * DZ2S_MODEL_N,
               "a small build's model is the small model's tables alone (DZ2S_MODEL_N)");
_Static_assert(sizeof(struct dfota_patch) <= DFOTA_DECODER_RAM_4K,
               "the 4k profile's decoder must fit in 4 KiB");
#else
/* The ring shares the model's union with DZ1's larger model: no extra RAM. */
_Static_assert(sizeof(struct dz2_model) + DZ2_RING <= sizeof(struct dz_model),
               "DZ2 model and ring must fit in DZ1's model");
#endif
