/* Entropy coding of DZ1 operations: the mirror of lib/patch.c. Every
 * decision the decoder makes from decoded data is made here from the same
 * data, in the same order, with the same model (dfota/delta.h). */
#include <stdlib.h>
#include <string.h>
#include "dfota/delta.h"
#include "dfota/error.h"
#include "dfota/package.h"
#include "encoder.h"

#include "rc_enc.h"

/* The decoder's running context, advanced byte by byte exactly as there. */
struct dz_ctx {
    uint32_t out_pos, addr, block, block_end;
    uint32_t zrun, zhist;
    uint8_t prev_op, prev_byte;
    uint8_t mru[DZ_LANES];
    uint8_t pred[4], pred_n, pred_kind;
};

int dz_encode_ops(const struct dz_match_ctx *c, const struct dz_oplist *ops,
                  const struct dz_xparams *xp, uint8_t **out, size_t *out_len)
{
    struct dz_model *m = malloc(sizeof *m);
    struct rc_enc r;
    struct dz_ctx x;
    uint32_t src_pos = 0;
    size_t k;

    if (!m)
        return DFOTA_ERR_ARG;
    dz_model_init(m);
    rc_init(&r);
    memset(&x, 0, sizeof x);
    st_on = getenv("DFOTA_STATS") != NULL;
    memset(st_bits, 0, sizeof st_bits);
    st_cat = ST_PRE;
    rc_put_preamble(&r, m->map_num.len, m->map_num.mant, DZ_NUM_MAXBITS, xp);
    for (k = 0; k < ops->n; k++) {
        const struct dz_op *op = &ops->v[k];
        uint32_t i;

        if (op->len == 0 || x.out_pos + (uint64_t)op->len > c->dst_len)
            goto bad;
        st_cat = ST_OPS;
        if (x.prev_op == DZ_OP_LIT) {
            if (op->lit)
                goto bad;            /* the format has no literal after literal */
        } else {
            rc_bit(&r, &m->op_lit[x.prev_op], op->lit, DZ_ADAPT_FAST);
        }
        rc_num(&r, op->lit ? &m->lit_len : &m->copy_len, op->len);
        if (!op->lit) {
            int64_t delta = (int64_t)op->src - (int64_t)src_pos;
            unsigned after_lit = x.prev_op == DZ_OP_LIT;
            if ((uint64_t)op->src + op->len > c->src_len)
                goto bad;
            rc_bit(&r, &m->off_zero[after_lit], delta != 0, DZ_ADAPT_FAST);
            if (delta) {
                rc_bit(&r, &m->off_sign[after_lit], delta < 0, DZ_ADAPT_FAST);
                rc_num(&r, &m->off_mag, (uint32_t)(delta < 0 ? -delta : delta));
            }
            src_pos = op->src;
        }
        for (i = 0; i < op->len; i++) {
            uint8_t b;
            if (x.out_pos == x.block_end) {
                uint32_t off, len, addr;
                x.block = x.out_pos == 0 ? 0 : x.block + 1;
                dz_oblock(c, x.block, &off, &len, &addr);
                x.addr = addr;
                x.block_end = off + len;
            }
            b = c->dst[x.out_pos];
            if (op->lit) {
                st_cat = ST_LIT;
                rc_tree8(&r, m->lit[dz_lit_ctx(x.addr, x.prev_byte)], b, DZ_ADAPT_SLOW);
            } else {
                unsigned lane = x.addr & 3u, kind = 0;
                uint8_t sb, d;
                if (!dz_src_valid(c, x.out_pos, src_pos))
                    goto bad;
                if ((xp->flags & DZ_X_PRED) && !x.pred_n && op->len - i >= 4 && x.block_end - x.out_pos >= 4) {
                    x.pred_kind = (uint8_t)dz_predict(c->src + src_pos, (uint32_t)src_pos, x.addr,
                                                      xp->flags, xp->base, xp->map, xp->map_n,
                                                      (uint32_t)c->src_len, x.pred);
                    x.pred_n = x.pred_kind ? 4 : 0;
                }
                sb = c->src[src_pos];
                if (x.pred_n) {
                    kind = x.pred_kind;
                    sb = x.pred[4 - x.pred_n--];
                }
                d = (uint8_t)(b - sb);
                st_cat = ST_DZERO;
                if (xp->flags & DZ_X_BYTECTX)
                    rc_bit2(&r, &m->d_zero[kind][dz_zero_ctx(x.addr, x.zrun, x.zhist)],
                            &m->d_zero2[x.prev_byte * 2u + (x.zrun == 0)], d != 0,
                            DZ_ADAPT_FAST);
                else
                    rc_bit(&r, &m->d_zero[kind][dz_zero_ctx(x.addr, x.zrun, x.zhist)], d != 0,
                           DZ_ADAPT_FAST);
                if (d) {
                    unsigned mctx = lane * 2u + ((x.zhist >> 3) & 1u);
                    st_cat = ST_DMRU;
                    rc_bit(&r, &m->d_mru[mctx], d != x.mru[lane], DZ_ADAPT_FAST);
                    st_cat = ST_DVAL;
                    if (d != x.mru[lane])
                        rc_tree8(&r, m->d_val[kind][lane], d, DZ_ADAPT_SLOW);
                    x.mru[lane] = d;
                    x.zrun = 0;
                } else {
                    x.zrun++;
                }
                x.zhist = (x.zhist << 1) | (d != 0);
                src_pos++;
            }
            x.prev_byte = b;
            x.out_pos++;
            x.addr++;
        }
        x.prev_op = op->lit ? DZ_OP_LIT : DZ_OP_COPY;
    }
    if (x.out_pos != c->dst_len)
        goto bad;
    if (st_on) {
        size_t nl = 0, nc = 0, no = ops->n;
        for (k = 0; k < ops->n; k++)
            *(ops->v[k].lit ? &nl : &nc) += ops->v[k].len;
        fprintf(stderr, "dz stats x=%u: ops %zu (%.0f B) | dzero %.0f B | dmru %.0f B | dval %.0f B | "
                "lit %zu bytes -> %.0f B | copy %zu | pre %.0f B\n", xp->flags, no, st_bits[ST_OPS] / 8,
                st_bits[ST_DZERO] / 8, st_bits[ST_DMRU] / 8, st_bits[ST_DVAL] / 8, nl,
                st_bits[ST_LIT] / 8, nc, st_bits[ST_PRE] / 8);
    }
    free(m);
    return rc_finish(&r, out, out_len);
bad:
    free(m);
    free(r.buf);
    return DFOTA_ERR_CORRUPT;
}
