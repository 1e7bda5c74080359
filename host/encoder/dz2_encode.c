/* Entropy coding of DZ2 operations: the mirror of lib/dz2_decode.c. Every
 * decision the decoder makes from decoded data is made here from the same
 * data, in the same order, with the same model (dfota/delta2.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "dfota/delta2.h"
#include "dfota/error.h"
#include "dz2.h"
#include "rc_enc.h"

struct dz2_ctx {
    uint32_t out_pos, addr, block, block_end, src_pos, zrun, zhist, mstart;
    uint32_t rep[DZ2_REPS];
    int32_t align;
    uint8_t prev_op, prev_byte;
    uint8_t mru[DZ_LANES];
    uint8_t pred[4], pred_n, pred_kind;
    uint8_t pred2[4], pred2_n;   /* DZ2_X_RV: an AUIPC pair's second word */
    uint8_t grp_n;             /* bytes of the Thumb filter group still to go */
};

/* A DZ2 number: the mirror of rc_num2 in lib/dz2_decode.c. */
static void rc_num2(struct rc_enc *r, struct dz2_num *c, unsigned sm, uint32_t v)
{
    unsigned n = 0, i, node = 1;
    uint16_t *mant;
    uint32_t t = v;

    while (t) {
        n++;
        t >>= 1;
    }
    for (i = 1; i < n; i++)
        rc_bit(r, &c->len[i - 1], 1, DZ_ADAPT_FAST);
    if (n < DZ_NUM_MAXBITS)
        rc_bit(r, &c->len[n - 1], 0, DZ_ADAPT_FAST);
    mant = c->mant[dz2_num_row(sm, n)];
    for (i = 1; i < n; i++) {
        unsigned bit = (v >> (n - 1 - i)) & 1u;
        if (i <= DZ_NUM_CTXBITS) {
            rc_bit(r, &mant[node], bit, DZ_ADAPT_FAST);
            node = (node << 1) | bit;
        } else {
            rc_direct(r, bit);
        }
    }
}

/* A matched literal: the mirror of rc_mlit in lib/dz2_decode.c. */
static void rc_mlit(struct rc_enc *r, uint16_t *mt, uint16_t *lt, unsigned v, unsigned mb)
{
    unsigned node = 1, i = 0;
    for (; i < 8; i++) {
        unsigned mbit = (mb >> (7 - i)) & 1u, bit = (v >> (7 - i)) & 1u;
        rc_bit(r, &mt[mbit << 8 | node], bit, DZ_ADAPT_SLOW);
        node = (node << 1) | bit;
        if (bit != mbit) {
            i++;
            break;
        }
    }
    for (; i < 8; i++) {
        unsigned bit = (v >> (7 - i)) & 1u;
        rc_bit(r, &lt[node], bit, DZ_ADAPT_SLOW);
        node = (node << 1) | bit;
    }
}

/* The match byte of a literal at x->out_pos right after an exact copy (the
 * mirror of match_byte in lib/dz2_decode.c): 1 with *b, 0 where the
 * decoder may not read it. */
static int match_byte_enc(const struct dz_match_ctx *c, const struct dz2_ctx *x, size_t bstart,
                          uint8_t *b)
{
    uint32_t u = x->mstart, ss = c->inplace ? c->sector : 0;
    if (u < c->src_len) {
        if (ss && (!(u & (ss - 1)) || x->out_pos == bstart))
            return 0;
        *b = c->src[u];
        return 1;
    }
    u -= (uint32_t)c->src_len;
    if (ss && (u < bstart || (!c->blockwin && x->out_pos - u > DZ2_RING)))
        return 0;
    *b = c->dst[u];
    return 1;
}

int dz2_stored(const struct dz_match_ctx *c, uint8_t **out, size_t *out_len)
{
    uint8_t *p = malloc(c->dst_len + 1);
    if (!p)
        return DFOTA_ERR_ARG;
    p[0] = DZ2_MODE_STORED;
    if (c->dst_len)
        memcpy(p + 1, c->dst, c->dst_len);
    *out = p;
    *out_len = c->dst_len + 1;
    return DFOTA_OK;
}

static void copy_byte_enc(struct rc_enc *r, struct dz2_model *m, struct dz2_ctx *x,
                          const struct dz_match_ctx *c, const struct dz_xparams *xp,
                          uint32_t left, uint8_t b)
{
    unsigned lane = x->addr & 3u, kind = 0, sm = c->small;
    uint8_t sb, d;
    if (!x->pred_n && x->pred2_n) {       /* an AUIPC pair's second word */
        memcpy(x->pred, x->pred2, 4);
        x->pred_n = 4;
        x->pred2_n = 0;
    }
    if ((xp->flags & (DZ_X_PRED | DZ2_X_RV)) && !x->pred_n &&
        !(x->addr & ((xp->flags & (DZ_X_THUMB | DZ2_X_RV)) ? 1u : 3u)) && left >= 4 &&
        x->block_end - x->out_pos >= 4) {
        unsigned got = 0;
        if (xp->flags & DZ2_X_RV) {
            uint8_t w[8];
            unsigned avail = left >= 8 && x->block_end - x->out_pos >= 8 ? 8u : 4u;
            got = dz2_rv_predict(c->src + x->src_pos, avail, x->src_pos, x->addr, xp->map, xp->map_n,
                                 (uint32_t)c->src_len, w);
            if (got) {
                memcpy(x->pred, w, 4);
                memcpy(x->pred2, w + 4, 4);
                x->pred2_n = (uint8_t)(got - 4u);
                x->pred_kind = 1;
            }
        }
        if (!got)
            x->pred_kind = (uint8_t)dz_predict(c->src + x->src_pos, x->src_pos, x->addr, xp->flags,
                                               xp->base, xp->map, xp->map_n, (uint32_t)c->src_len,
                                               x->pred);
        x->pred_n = x->pred_kind ? 4 : 0;
    }
    sb = c->src[x->src_pos];
    if (x->pred_n) {
        kind = x->pred_kind;
        sb = x->pred[4 - x->pred_n--];
    }
    d = (uint8_t)(b - sb);
    {
        uint16_t *zp = &m->d_zero[dz2_pred_row(sm, kind)][dz_zero_ctx(x->addr, x->zrun, x->zhist)];
        if (xp->flags & DZ_X_BYTECTX)
            rc_bit2(r, zp, &m->d_zero2[dz2_zero2_ctx(sm, x->prev_byte, x->zrun)], d != 0,
                    DZ_ADAPT_FAST);
        else
            rc_bit(r, zp, d != 0, DZ_ADAPT_FAST);
    }
    if (d) {
        unsigned mctx = lane * 2u + ((x->zhist >> 3) & 1u);
        rc_bit(r, &m->d_mru[mctx], d != x->mru[lane], DZ_ADAPT_FAST);
        if (d != x->mru[lane])
            rc_tree8(r, m->d_val[dz2_dval_ctx(sm, kind, lane)], d, DZ_ADAPT_SLOW);
        x->mru[lane] = d;
        x->zrun = 0;
    } else {
        x->zrun++;
    }
    x->zhist = (x->zhist << 1) | (d != 0);
    x->src_pos++;
}

static int encode(const struct dz_match_ctx *c, const struct dz2_oplist *ops,
                  const struct dz_xparams *xp, uint8_t **out, size_t *out_len,
                  struct dz2_costs *cost, const uint16_t *price)
{
    struct dz2_model *m = malloc(sizeof *m);
    struct rc_enc r;
    struct dz2_ctx x;
    size_t k, bstart = 0, nops[DZ2_OP_KINDS] = { 0 }, nbytes[DZ2_OP_KINDS] = { 0 };
    unsigned sm = c->small, blf = (xp->flags & DZ2_X_BLF) != 0;
    int rc;

    if (!m)
        return DFOTA_ERR_ARG;
    if ((blf || (xp->flags & DZ2_X_RV)) && sm) {
        free(m);
        return DFOTA_ERR_ARG;       /* the filter and RISC-V prediction are the full model's */
    }
    if ((xp->flags & DZ2_X_RV) && (blf || (xp->flags & (DZ_X_THUMB | DZ_X_ARM)))) {
        free(m);
        return DFOTA_ERR_ARG;       /* RISC-V prediction replaces those (delta2.h) */
    }
    dz2_model_init(m);
    rc_init(&r);
    if (cost) {
        r.cost = cost->q;
        r.price = price;
        r.n = c->dst_len;
    }
    r.pos = c->dst_len + DZ2_OP_NONE;
    memset(&x, 0, sizeof x);
    for (k = 0; k < DZ2_REPS; k++)
        x.rep[k] = 1;
    st_on = getenv("DFOTA_STATS") != NULL;
    memset(st_bits, 0, sizeof st_bits);
    st_cat = ST_PRE;
    if (xp->map_n > dz2_map_max(sm))
        goto bad;
    rc_put_preamble(&r, m->map_num.len, m->map_num.mant, dz2_map_rows(sm), xp);
    for (k = 0; k < ops->n; k++) {
        const struct dz2_op *op = &ops->v[k];
        uint16_t *kp = m->kind[x.prev_op];
        uint64_t joint = (uint64_t)c->src_len + x.out_pos;
        uint32_t i, u = 0;

        if (op->len == 0 || x.out_pos + (uint64_t)op->len > c->dst_len)
            goto bad;
        st_cat = op->kind == DZ2_OP_MATCH ? ST_DMRU : ST_OPS;
        r.pos = c->dst_len + op->kind;
        nops[op->kind]++;
        nbytes[op->kind] += op->len;
        if (op->kind == DZ2_OP_LIT) {
            if (x.prev_op == DZ2_OP_LIT)
                goto bad;
            rc_bit(&r, &kp[DZ2_K_LIT], 1, DZ_ADAPT_FAST);
            rc_num2(&r, &m->lit_len, sm, op->len);
        } else {
            if (x.prev_op != DZ2_OP_LIT)
                rc_bit(&r, &kp[DZ2_K_LIT], 0, DZ_ADAPT_FAST);
            rc_bit(&r, &kp[DZ2_K_COPY], op->kind == DZ2_OP_COPY, DZ_ADAPT_FAST);
        }
        if (op->kind == DZ2_OP_COPY) {
            int64_t delta = (int64_t)op->u - (int64_t)x.src_pos;
            unsigned al = x.prev_op == DZ2_OP_LIT;
            if ((uint64_t)op->u + op->len > c->src_len)
                goto bad;
            rc_num2(&r, &m->copy_len, sm, op->len);
            rc_bit(&r, &m->off_zero[al], delta != 0, DZ_ADAPT_FAST);
            if (delta) {
                rc_bit(&r, &m->off_sign[al], delta < 0, DZ_ADAPT_FAST);
                rc_num2(&r, &m->off_mag, sm, (uint32_t)(delta < 0 ? -delta : delta));
            }
            x.src_pos = op->u;
        } else if (op->kind == DZ2_OP_MATCH) {
            uint32_t d, ri;
            if (op->len < DZ2_MATCH_MIN || op->u >= joint)
                goto bad;
            d = (uint32_t)(joint - op->u);
            u = op->u;
            if (u < c->src_len && (uint64_t)u + op->len > c->src_len)
                goto bad;
            if (blf && dz2_blf_good(c, x.out_pos, u, op->len) != op->len)
                goto bad;
            for (ri = 0; ri < DZ2_REPS && x.rep[ri] != d; ri++)
                ;
            rc_bit(&r, &kp[DZ2_K_REP], ri < DZ2_REPS, DZ_ADAPT_FAST);
            if (ri < DZ2_REPS) {
                rc_bit(&r, &kp[DZ2_K_REP0], ri != 0, DZ_ADAPT_FAST);
                if (ri) {
                    rc_bit(&r, &kp[DZ2_K_REP1], ri != 1, DZ_ADAPT_FAST);
                    if (ri > 1)
                        rc_bit(&r, &kp[DZ2_K_REP2], ri != 2, DZ_ADAPT_FAST);
                }
                dz2_rep_use(x.rep, ri, d);
                rc_num2(&r, &m->r_len, sm, op->len - 1);
            } else {
                rc_bit(&r, &kp[DZ2_K_DST], u >= c->src_len, DZ_ADAPT_FAST);
                if (u >= c->src_len) {
                    rc_num2(&r, &m->t_dist, sm, d);
                } else {
                    int64_t delta = (int64_t)u - ((int64_t)x.out_pos + x.align);
                    rc_bit(&r, &m->o_zero, delta != 0, DZ_ADAPT_FAST);
                    if (delta) {
                        if (delta > 0x7FFFFFFF || delta < -0x7FFFFFFF)
                            goto bad;
                        rc_bit(&r, &m->o_sign, delta < 0, DZ_ADAPT_FAST);
                        rc_num2(&r, &m->o_mag, sm, (uint32_t)(delta < 0 ? -delta : delta));
                    }
                }
                dz2_rep_use(x.rep, DZ2_REPS - 1, d);
                rc_num2(&r, &m->m_len, sm, op->len - 1);
            }
            if (u < c->src_len)
                x.src_pos = u;
        } else if (op->kind != DZ2_OP_LIT) {
            goto bad;
        }
        for (i = 0; i < op->len; i++) {
            uint8_t b;
            if (x.out_pos == x.block_end) {
                uint32_t off, len, addr;
                x.block = x.out_pos == 0 ? 0 : x.block + 1;
                dz_oblock(c, x.block, &off, &len, &addr);
                x.addr = addr;
                x.block_end = off + len;
                bstart = off;
            }
            b = c->dst[x.out_pos];
            r.pos = x.out_pos;
            st_cat = op->kind == DZ2_OP_LIT ? ST_LIT : ST_DZERO;
            if (op->kind == DZ2_OP_LIT && x.grp_n) {
                x.grp_n--;                    /* coded with its group */
            } else if (op->kind == DZ2_OP_LIT) {
                uint16_t *lt = m->lit[dz2_lit_ctx(sm, x.addr, x.prev_byte)];
                uint8_t mb, w[4];
                unsigned g = 1, gk;
                w[0] = b;
                /* a Thumb filter group (dfota/delta2.h) */
                if (blf && op->len - i >= 4 && !(x.addr & 1u) && x.block_end - x.out_pos >= 4) {
                    memcpy(w, c->dst + x.out_pos, 4);
                    g = dz2_bl_first(w[1]) ? 4u : 2u;
                    if (g == 4)
                        dz2_bl_add(w, (x.addr >> 1) + 2u);
                }
                if (i == 0 && x.prev_op == DZ2_OP_COPY)
                    x.mstart = x.src_pos;     /* where the approximate copy would go on */
                /* matched literals: the full model only */
                if (!sm && i == 0 && x.prev_op != DZ2_OP_NONE && match_byte_enc(c, &x, bstart, &mb))
                    rc_mlit(&r, m->mlit[x.prev_op == DZ2_OP_COPY], lt, w[0], mb);
                else
                    rc_tree8(&r, lt, w[0], DZ_ADAPT_SLOW);
                for (gk = 1; gk < g; gk++)
                    rc_tree8(&r, m->lit[dz2_lit_ctx(sm, x.addr + gk, w[gk - 1])], w[gk],
                             DZ_ADAPT_SLOW);
                x.grp_n = (uint8_t)(g - 1);
            } else if (op->kind == DZ2_OP_COPY) {
                if (!dz_src_valid(c, x.out_pos, x.src_pos))
                    goto bad;
                copy_byte_enc(&r, m, &x, c, xp, op->len - i, b);
            } else if (u + i < c->src_len) {
                if (!dz_src_valid(c, x.out_pos, x.src_pos) || (!blf && c->src[x.src_pos] != b))
                    goto bad;
                x.src_pos++;
            } else {
                size_t q = u + i - c->src_len;
                if ((!blf && c->dst[q] != b) || (c->inplace && (q < bstart || (!c->blockwin && x.out_pos - q > DZ2_RING))))
                    goto bad;
            }
            x.prev_byte = b;
            x.out_pos++;
            x.addr++;
        }
        x.prev_op = op->kind;
        if (op->kind == DZ2_OP_MATCH)
            x.mstart = u + op->len;
        if (op->kind == DZ2_OP_COPY || (op->kind == DZ2_OP_MATCH && u < c->src_len))
            x.align = (int32_t)((int64_t)x.src_pos - x.out_pos);
    }
    if (x.out_pos != c->dst_len)
        goto bad;
    if (st_on)
        fprintf(stderr, "dz2 stats x=%u: copy %zu ops %zu B (ops %.0f B, bytes %.0f B) | lit %zu runs %zu B "
                "-> %.0f B | match %zu ops %zu B (%.0f B) | pre %.0f B\n", xp->flags,
                nops[DZ2_OP_COPY], nbytes[DZ2_OP_COPY], st_bits[ST_OPS] / 8, st_bits[ST_DZERO] / 8,
                nops[DZ2_OP_LIT], nbytes[DZ2_OP_LIT], st_bits[ST_LIT] / 8, nops[DZ2_OP_MATCH],
                nbytes[DZ2_OP_MATCH], st_bits[ST_DMRU] / 8, st_bits[ST_PRE] / 8);
    free(m);
    if (cost)
        memcpy(cost->hdr, r.hdr, sizeof r.hdr);
    rc = rc_finish(&r, out, out_len);
    /* The mode byte: the coder's first byte is always 0 (DZ2_MODE_RC). */
    if (!rc && sm) {
        if ((*out)[0] != DZ2_MODE_RC) {
            free(*out);
            return DFOTA_ERR_CORRUPT;
        }
        (*out)[0] = DZ2_MODE_RC_SMALL;
    }
    if (!rc && (blf || (xp->flags & DZ2_X_RV))) {
        if ((*out)[0] != DZ2_MODE_RC) {
            free(*out);
            return DFOTA_ERR_CORRUPT;
        }
        (*out)[0] = blf ? DZ2_MODE_RC_BLF : DZ2_MODE_RC_RV;
    }
    return rc;
bad:
    free(m);
    free(r.buf);
    return DFOTA_ERR_CORRUPT;
}

int dz2_encode_ops(const struct dz_match_ctx *c, const struct dz2_oplist *ops,
                   const struct dz_xparams *xp, uint8_t **out, size_t *out_len)
{
    return encode(c, ops, xp, out, out_len, NULL, NULL);
}

int dz2_encode_costs(const struct dz_match_ctx *c, const struct dz2_oplist *ops,
                     const struct dz_xparams *xp, struct dz2_costs *cost, uint8_t **out,
                     size_t *out_len)
{
    uint16_t *price = malloc((DZ_PROB_ONE + 1) * sizeof *price);
    uint8_t *p = NULL;
    size_t plen = 0, i;
    int rc;

    if (!price)
        return DFOTA_ERR_ARG;
    price[0] = 32u * 256u;            /* never reached: probabilities stay inside (0, 1) */
    for (i = 1; i <= DZ_PROB_ONE; i++)
        price[i] = (uint16_t)lround(-log2((double)i / DZ_PROB_ONE) * 256.0);
    if (c->dst_len)
        memset(cost->q, 0, c->dst_len * sizeof *cost->q);
    rc = encode(c, ops, xp, &p, &plen, cost, price);
    free(price);
    if (!rc && out) {
        *out = p;
        *out_len = plen;
    } else {
        free(p);
    }
    return rc;
}
