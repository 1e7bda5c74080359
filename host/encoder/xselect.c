/* Choosing the reference prediction setting without encoding with each.
 *
 * A setting (DZ_X_* flags) changes only the preamble and how the bytes of
 * approximate copies are coded (dz_encode.c, copy_byte_enc in dz2_encode.c);
 * literals, lengths, offsets and exact copies are coded with models of their
 * own, the same under every setting. So the payloads of two settings differ
 * by the cost of those two parts alone, which is counted here with the same
 * adaptive models in ideal code lengths (what a range coder spends, to a few
 * bytes a payload), without running the range coder and without the rest of
 * the payload. diff.c then encodes only the settings counted cheapest. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "dfota/delta.h"
#include "dfota/delta2.h"
#include "dz2.h"
#include "encoder.h"

static float price_tab[DZ_PROB_ONE + 1];

static pthread_once_t price_once = PTHREAD_ONCE_INIT;

static void price_fill(void)
{
    unsigned i;
    price_tab[0] = 32.0f;                 /* never reached: probabilities stay inside (0, 1) */
    for (i = 1; i <= DZ_PROB_ONE; i++)
        price_tab[i] = (float)-log2((double)i / DZ_PROB_ONE);
}

/* (once, whichever thread counts first: par.h) */
static void price_init(void)
{
    pthread_once(&price_once, price_fill);
}

/* cost of coding bit with probability p (of a 0), and the model's update */
static inline float bit_cost(uint16_t *p, unsigned bit)
{
    float c = price_tab[bit ? DZ_PROB_ONE - *p : *p];
    dz_adapt(p, bit, DZ_ADAPT_FAST);
    return c;
}

static float num_cost(struct dz_num *c, unsigned rows, uint32_t v)
{
    unsigned n = 0, i, node = 1;
    uint32_t t = v;
    float s = 0;
    while (t) {
        n++;
        t >>= 1;
    }
    for (i = 1; i < n; i++)
        s += bit_cost(&c->len[i - 1], 1);
    if (n < DZ_NUM_MAXBITS)
        s += bit_cost(&c->len[n - 1], 0);
    for (i = 1; i < n; i++) {
        unsigned bit = (v >> (n - 1 - i)) & 1u;
        if (i <= DZ_NUM_CTXBITS && n - 1 < rows) {
            s += bit_cost(&c->mant[n - 1][node], bit);
            node = (node << 1) | bit;
        } else {
            s += 1.0f;
        }
    }
    return s;
}

/* The models the copy bytes are coded with (the same layout in both codecs,
 * but for the difference-value trees: DZ1 has one per prediction kind, DZ2
 * one for "not predicted" and one for "predicted"). */
struct cmodel {
    uint16_t d_zero[DZ_PRED_KINDS][DZ_ZCTX_N];
    uint16_t d_zero2[512];
    uint16_t d_mru[DZ_LANES * 2];
    uint16_t d_val[DZ_PRED_KINDS * DZ_LANES][256];
    struct dz_num map_num;
};

static float preamble_cost(struct cmodel *m, unsigned rows, const struct dz_xparams *x)
{
    uint32_t i, prev = 0;
    float s = 4;
    if (!(x->flags & DZ_X_PRED))
        return s;
    s += 32;
    s += num_cost(&m->map_num, rows, x->map_n + 1);
    for (i = 0; i < x->map_n; i++) {
        int32_t sh = x->map[i].shift;
        uint32_t z = sh < 0 ? ((uint32_t)(-(int64_t)sh) << 1) - 1 : (uint32_t)sh << 1;
        s += num_cost(&m->map_num, rows, x->map[i].src - prev + 1);
        s += num_cost(&m->map_num, rows, z + 1);
        prev = x->map[i].src;
    }
    return s;
}

/* The costs of setting xp->flags without and with DZ_X_BYTECTX (bits[0],
 * bits[1]) in one walk: that flag changes only the price of the "difference
 * is zero" bit (its probability is averaged with a by-previous-byte model),
 * while every model update and every other price is the same; the two sums
 * are kept apart, each in the order of its own walk. bits[] are 0 when out
 * of memory. */
void dz_setting_bits(const struct dz_match_ctx *c, const struct dz_copyrun *runs, size_t n,
                     const struct dz_xparams *xp, int dz2, double bits[2])
{
    struct cmodel *m = malloc(sizeof *m);
    uint32_t ss = c->inplace ? c->sector : 0, zrun = 0, zhist = 0, block = 0, block_end = 0, addr = 0;
    uint8_t mru[DZ_LANES] = { 0 }, pred[4];
    unsigned pred_n = 0, pred_kind = 0, flags = xp->flags & ~DZ_X_BYTECTX, sm = dz2 && c->small;
    double total0, total1;
    float s0, s1;
    size_t k;

    bits[0] = bits[1] = 0;
    if (!m)
        return;
    price_init();
    {
        uint16_t *p = (uint16_t *)(void *)m;
        size_t i;
        for (i = 0; i < sizeof *m / sizeof *p; i++)
            p[i] = DZ_PROB_INIT;
    }
    total0 = preamble_cost(m, dz2 ? dz2_map_rows(sm) : DZ_NUM_MAXBITS, xp);
    total1 = total0;
    for (k = 0; k < n; k++) {
        const struct dz_copyrun *r = &runs[k];
        uint32_t t = r->t, sp = r->src, i;
        /* the block and address at the run's start */
        {
            uint32_t off, len;
            block = 0;
            if (ss && c->backward) {
                uint32_t last = (uint32_t)(c->dst_len - (size_t)(c->nblocks - 1) * ss);
                block = t < last ? 0 : 1 + (t - last) / ss;
            } else if (ss) {
                block = t / ss;
            }
            dz_block(block, (uint32_t)c->dst_len, ss, c->backward, &off, &len, &addr);
            addr += t - off;
            block_end = off + len;
        }
        s0 = s1 = 0;
        for (i = 0; i < r->len; i++, t++, sp++, addr++) {
            unsigned lane = addr & 3u, kind = 0;
            uint8_t sb, d, b = c->dst[t];
            uint16_t *pz, *p2, avg;
            if (t == block_end) {
                uint32_t off, len;
                block++;
                dz_block(block, (uint32_t)c->dst_len, ss, c->backward, &off, &len, &addr);
                block_end = off + len;
            }
            if ((flags & DZ_X_PRED) && !pred_n && r->len - i >= 4 && block_end - t >= 4) {
                pred_kind = dz_predict(c->src + sp, sp, addr, flags, xp->base, xp->map,
                                       xp->map_n, (uint32_t)c->src_len, pred);
                pred_n = pred_kind ? 4 : 0;
            }
            sb = c->src[sp];
            if (pred_n) {
                kind = pred_kind;
                sb = pred[4 - pred_n--];
            }
            d = (uint8_t)(b - sb);
            pz = &m->d_zero[dz2 ? dz2_pred_row(sm, kind) : kind][dz_zero_ctx(addr, zrun, zhist)];
            {
                uint8_t pb = t ? c->dst[t - 1] : 0;
                p2 = &m->d_zero2[dz2 ? dz2_zero2_ctx(sm, pb, zrun) : pb * 2u + (zrun == 0)];
            }
            avg = (uint16_t)(((uint32_t)*pz + *p2) >> 1);
            s0 += price_tab[d ? DZ_PROB_ONE - *pz : *pz];
            s1 += price_tab[d ? DZ_PROB_ONE - avg : avg];
            dz_adapt(pz, d != 0, DZ_ADAPT_FAST);
            dz_adapt(p2, d != 0, DZ_ADAPT_FAST);
            if (d) {
                float cm = bit_cost(&m->d_mru[lane * 2u + ((zhist >> 3) & 1u)], d != mru[lane]);
                s0 += cm;
                s1 += cm;
                if (d != mru[lane]) {
                    uint16_t *tr = m->d_val[dz2 ? dz2_dval_ctx(sm, kind, lane) : kind * DZ_LANES + lane];
                    unsigned node = 1, j;
                    for (j = 0; j < 8; j++) {
                        unsigned bit = (d >> (7 - j)) & 1u;
                        float cb = price_tab[bit ? DZ_PROB_ONE - tr[node] : tr[node]];
                        s0 += cb;
                        s1 += cb;
                        dz_adapt(&tr[node], bit, DZ_ADAPT_SLOW);
                        node = (node << 1) | bit;
                    }
                }
                mru[lane] = d;
                zrun = 0;
            } else {
                zrun++;
            }
            zhist = (zhist << 1) | (d != 0);
        }
        total0 += s0;
        total1 += s1;
    }
    free(m);
    bits[0] = total0;
    bits[1] = total1;
}
