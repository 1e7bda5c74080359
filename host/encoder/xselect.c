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
    if (!(x->flags & (DZ_X_PRED | DZ2_X_RV)))
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

#if defined(__GNUC__) || defined(__clang__)
#define WALK_INLINE static inline __attribute__((always_inline))
#else
#define WALK_INLINE static inline
#endif

/* May a RISC-V prediction start at a source byte b (its opcode)? A JAL or
 * an AUIPC (dz2_rv_predict). */
static inline int rv_start(uint8_t b)
{
    return (b & 0x7Fu) == 0x6Fu || (b & 0x7Fu) == 0x17u;
}

/* The zero run's bucket (dz_run_bucket) for runs below 16, 5 from there. */
static const uint8_t run_bucket[16] = { 0, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4 };

/* The walk of dz_setting_bits over the copy bytes, made once for every
 * combination of the codec's model (mode: 0 DZ1, 1 DZ2, 2 DZ2's small one)
 * and the prediction flags in use, so that what depends on them is known
 * when it is compiled: the same sums, in the same order, as the plain walk
 * with those values. */
WALK_INLINE void walk(const struct dz_match_ctx *c, const struct dz_copyrun *runs, size_t n,
                      const struct dz_xparams *xp, struct cmodel *m, const unsigned mode,
                      const unsigned flags, double *total0, double *total1)
{
    const uint8_t *src = c->src, *dst = c->dst;
    const struct dz_map_entry *map = xp->map;
    const uint32_t ss = c->inplace ? c->sector : 0, base = xp->base, map_n = xp->map_n,
                   src_len = (uint32_t)c->src_len;
    const unsigned dz2 = mode != 0, sm = mode == 2;
    uint32_t zrun = 0, zhist = 0, block = 0, block_end = 0, addr = 0;
    uint8_t mru[DZ_LANES] = { 0 }, pred[4], pred2[4] = { 0 };
    unsigned pred_n = 0, pred_kind = 0, pred2_n = 0;
    double t0 = *total0, t1 = *total1;
    size_t k;

    for (k = 0; k < n; k++) {
        const struct dz_copyrun *r = &runs[k];
        /* bp, sp: the run's target and source bytes; a0 + i: the address of
         * its byte i; bend: where its block ends, e: the run's or the block's
         * end, whichever comes first (a prediction's 4 bytes fit before it) */
        const uint32_t t = r->t, len = r->len;
        const uint8_t *bp = dst + t, *sp = src + r->src;
        uint32_t i, a0, bend, e;
        uint8_t pb = t ? dst[t - 1] : 0;
        float s0 = 0, s1 = 0;
        /* the block and address at the run's start */
        {
            uint32_t off, blen;
            block = ss ? dz_stream_block(c, t) : 0;
            dz_oblock(c, block, &off, &blen, &addr);
            a0 = addr + t - off;
            block_end = off + blen;
            bend = block_end - t;
            e = bend < len ? bend : len;
        }
        for (i = 0; i < len; i++) {
            unsigned lane, kind = 0;
            uint8_t sb, d, b;
            uint16_t *pz, *p2, avg;
            /* the common case on its own, with few variables: a byte equal
             * to its source byte, no prediction running or starting, in the
             * block (the same sums as below) */
            {
                const uint32_t stop = ss && bend < len ? bend : len;
                uint16_t *row = m->d_zero[0], *z2 = m->d_zero2;
                while (i < stop && !((flags & (DZ_X_PRED | DZ2_X_RV)) && (pred_n || pred2_n)) &&
                       bp[i] == sp[i]) {
                    uint32_t a = a0 + i;
                    uint16_t *q0, *q2, z, zz;
                    /* four at a time from a word address on, 16 or more
                     * zeros into the run: each byte's contexts are then its
                     * lane's with run bucket 5, "not just after a non-zero"
                     * and (zhist >> 3 & 1) = 0; a prediction may start only
                     * at the first byte (any kind) and the third (Thumb) */
                    if (zrun >= 16 && !(a & 3u) && i + 8 <= e) {
                        uint16_t *r0 = &row[0 * DZ_RUN_BUCKETS * 2 + 10], *r1 = &row[1 * DZ_RUN_BUCKETS * 2 + 10],
                                 *r2 = &row[2 * DZ_RUN_BUCKETS * 2 + 10], *r3 = &row[3 * DZ_RUN_BUCKETS * 2 + 10];
                        while (i + 8 <= e && !memcmp(bp + i, sp + i, 4) &&
                               !((flags & DZ_X_THUMB) &&
                                 ((sp[i + 1] & 0xF8) == 0xF0 || (sp[i + 3] & 0xF8) == 0xF0)) &&
                               !((flags & DZ_X_ARM) && (sp[i + 3] & 0x0F) == 0x0B) &&
                               !((flags & DZ2_X_RV) && (rv_start(sp[i]) || rv_start(sp[i + 2]))) &&
                               !((flags & DZ_X_PTR32) &&
                                 ((uint32_t)sp[i] | (uint32_t)sp[i + 1] << 8 | (uint32_t)sp[i + 2] << 16 |
                                  (uint32_t)sp[i + 3] << 24) - base < src_len)) {
#define ZERO_STEP(rq, k)                                                                          \
    do {                                                                                          \
        q2 = &z2[dz2 ? dz2_zero2_ctx(sm, pb, 1) : pb * 2u];                                       \
        z = *(rq);                                                                                \
        zz = *q2;                                                                                 \
        s0 += price_tab[z];                                                                       \
        s1 += price_tab[(uint16_t)(((uint32_t)z + zz) >> 1)];                                     \
        *(rq) = (uint16_t)(z + ((DZ_PROB_ONE - z) >> DZ_ADAPT_FAST));                             \
        *q2 = (uint16_t)(zz + ((DZ_PROB_ONE - zz) >> DZ_ADAPT_FAST));                             \
        pb = bp[i + (k)];                                                                         \
    } while (0)
                            ZERO_STEP(r0, 0);
                            ZERO_STEP(r1, 1);
                            ZERO_STEP(r2, 2);
                            ZERO_STEP(r3, 3);
#undef ZERO_STEP
                            zrun += 4;
                            zhist <<= 4;
                            i += 4;
                        }
                        if (!(i < stop && bp[i] == sp[i]))
                            break;
                        a = a0 + i;
                    }
                    if ((flags & (DZ_X_PRED | DZ2_X_RV)) && i + 4 <= e &&
                        (((flags & DZ_X_THUMB) && !(a & 1u) && (sp[i + 1] & 0xF8) == 0xF0) ||
                         ((flags & DZ2_X_RV) && !(a & 1u) && rv_start(sp[i])) ||
                         ((flags & DZ_X_ARM) && !(a & 3u) && (sp[i + 3] & 0x0F) == 0x0B) ||
                         ((flags & DZ_X_PTR32) && !(a & 3u) &&
                          ((uint32_t)sp[i] | (uint32_t)sp[i + 1] << 8 | (uint32_t)sp[i + 2] << 16 |
                           (uint32_t)sp[i + 3] << 24) - base < src_len)))
                        break;
                    q0 = &row[((a & 3u) * DZ_RUN_BUCKETS + (zrun < 16 ? run_bucket[zrun] : 5u)) * 2u +
                              ((zhist >> 3) & 1u)];
                    q2 = &z2[dz2 ? dz2_zero2_ctx(sm, pb, zrun) : pb * 2u + (zrun == 0)];
                    z = *q0;
                    zz = *q2;
                    s0 += price_tab[z];
                    s1 += price_tab[(uint16_t)(((uint32_t)z + zz) >> 1)];
                    *q0 = (uint16_t)(z + ((DZ_PROB_ONE - z) >> DZ_ADAPT_FAST));
                    *q2 = (uint16_t)(zz + ((DZ_PROB_ONE - zz) >> DZ_ADAPT_FAST));
                    pb = bp[i];
                    zrun++;
                    zhist <<= 1;
                    i++;
                }
                if (i == len)
                    break;
            }
            b = bp[i];
            addr = a0 + i;
            if (ss && i == bend) {
                uint32_t off, blen;
                block++;
                dz_oblock(c, block, &off, &blen, &addr);
                block_end = off + blen;
                /* (lane stays the one before: that of a0 + i) */
                lane = (a0 + i) & 3u;
                a0 = addr - i;
                bend = block_end - t;
                e = bend < len ? bend : len;
            } else {
                lane = addr & 3u;
            }
            if ((flags & DZ2_X_RV) && !pred_n && pred2_n) {   /* an AUIPC pair's second word */
                memcpy(pred, pred2, 4);
                pred_n = 4;
                pred2_n = 0;
            }
            if ((flags & (DZ_X_PRED | DZ2_X_RV)) && !pred_n && i + 4 <= e &&
                (((flags & DZ_X_THUMB) && !(addr & 1u) && (sp[i + 1] & 0xF8) == 0xF0) ||
                 ((flags & DZ2_X_RV) && !(addr & 1u) && rv_start(sp[i])) ||
                 ((flags & DZ_X_ARM) && !(addr & 3u) && (sp[i + 3] & 0x0F) == 0x0B) ||
                 ((flags & DZ_X_PTR32) && !(addr & 3u) &&
                  ((uint32_t)sp[i] | (uint32_t)sp[i + 1] << 8 | (uint32_t)sp[i + 2] << 16 |
                   (uint32_t)sp[i + 3] << 24) - base < src_len))) {
                /* dz_predict where one of its kinds may apply: a Thumb BL's
                 * first halfword, an A32 BL's condition and opcode, a word
                 * that points into the image */
                unsigned got = 0;
                if ((flags & DZ2_X_RV) && !(addr & 1u) && rv_start(sp[i])) {
                    uint8_t w[8];
                    got = dz2_rv_predict(sp + i, i + 8 <= e ? 8u : 4u, r->src + i, addr, map, map_n,
                                         src_len, w);
                    if (got) {
                        memcpy(pred, w, 4);
                        memcpy(pred2, w + 4, 4);
                        pred2_n = got - 4u;
                        pred_kind = 1;
                    }
                }
                if (!got)
                    pred_kind = dz_predict(sp + i, r->src + i, addr, flags, base, map, map_n, src_len, pred);
                pred_n = pred_kind ? 4 : 0;
            }
            sb = sp[i];
            if ((flags & (DZ_X_PRED | DZ2_X_RV)) && pred_n) {
                kind = pred_kind;
                sb = pred[4 - pred_n--];
            }
            d = (uint8_t)(b - sb);
            pz = &m->d_zero[dz2 ? dz2_pred_row(sm, kind) : kind]
                           [((addr & 3u) * DZ_RUN_BUCKETS + (zrun < 16 ? run_bucket[zrun] : 5u)) * 2u +
                            ((zhist >> 3) & 1u)];
            p2 = &m->d_zero2[dz2 ? dz2_zero2_ctx(sm, pb, zrun) : pb * 2u + (zrun == 0)];
            pb = b;
            if (!d) {
                uint16_t z = *pz, z2 = *p2;
                avg = (uint16_t)(((uint32_t)z + z2) >> 1);
                s0 += price_tab[z];
                s1 += price_tab[avg];
                *pz = (uint16_t)(z + ((DZ_PROB_ONE - z) >> DZ_ADAPT_FAST));
                *p2 = (uint16_t)(z2 + ((DZ_PROB_ONE - z2) >> DZ_ADAPT_FAST));
                zrun++;
                zhist <<= 1;
                continue;
            }
            avg = (uint16_t)(((uint32_t)*pz + *p2) >> 1);
            s0 += price_tab[DZ_PROB_ONE - *pz];
            s1 += price_tab[DZ_PROB_ONE - avg];
            dz_adapt(pz, 1, DZ_ADAPT_FAST);
            dz_adapt(p2, 1, DZ_ADAPT_FAST);
            {
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
            }
            zhist = (zhist << 1) | 1u;
        }
        t0 += s0;
        t1 += s1;
    }
    *total0 = t0;
    *total1 = t1;
}

/* walk() for one model and the flags in use */
#define WALK_FLAGS(mode)                                                                          \
    switch (flags) {                                                                              \
    case 0: walk(c, runs, n, xp, m, mode, 0, &total0, &total1); break;                            \
    case DZ_X_THUMB: walk(c, runs, n, xp, m, mode, DZ_X_THUMB, &total0, &total1); break;          \
    case DZ_X_PTR32: walk(c, runs, n, xp, m, mode, DZ_X_PTR32, &total0, &total1); break;          \
    case DZ_X_THUMB | DZ_X_PTR32:                                                                 \
        walk(c, runs, n, xp, m, mode, DZ_X_THUMB | DZ_X_PTR32, &total0, &total1); break;          \
    case DZ_X_ARM: walk(c, runs, n, xp, m, mode, DZ_X_ARM, &total0, &total1); break;              \
    case DZ_X_ARM | DZ_X_PTR32:                                                                   \
        walk(c, runs, n, xp, m, mode, DZ_X_ARM | DZ_X_PTR32, &total0, &total1); break;            \
    case DZ2_X_RV | DZ_X_PTR32:                                                                   \
        walk(c, runs, n, xp, m, mode, DZ2_X_RV | DZ_X_PTR32, &total0, &total1); break;            \
    default: walk(c, runs, n, xp, m, mode, flags, &total0, &total1); break;                       \
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
    unsigned flags = xp->flags & ~DZ_X_BYTECTX;
    double total0, total1;

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
    total0 = preamble_cost(m, dz2 ? dz2_map_rows(dz2 && c->small) : DZ_NUM_MAXBITS, xp);
    total1 = total0;
    if (!dz2)
        WALK_FLAGS(0)
    else if (!c->small)
        WALK_FLAGS(1)
    else
        WALK_FLAGS(2)
    free(m);
    bits[0] = total0;
    bits[1] = total1;
}
