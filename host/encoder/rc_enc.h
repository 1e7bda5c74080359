/* The range encoder shared by the DZ1 (dz_encode.c) and DZ2 (dz2_encode.c)
 * encoders: the mirror of lib/patch_int.h. Host only. */
#ifndef DFOTA_RC_ENC_H
#define DFOTA_RC_ENC_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dfota/delta.h"
#include "dfota/delta2.h"
#include "dfota/error.h"
#include "encoder.h"

#if defined(__GNUC__) || defined(__clang__)
#define RC_INLINE __attribute__((always_inline))
#else
#define RC_INLINE
#endif

struct rc_enc {
    uint64_t low;
    uint32_t range;
    uint8_t  cache;
    uint64_t cache_size;
    uint8_t *buf;
    size_t len, cap;
    int oom;
    /* optional (dz2_encode_costs): what each bit costs, in 1/256 bit, added
     * to cost[pos] (saturating) below n, else to hdr[pos - n]; price[p] is
     * the cost of a bit of probability p/DZ_PROB_ONE */
    uint16_t *cost;
    const uint16_t *price;
    size_t pos, n;
    double hdr[DZ2_OP_KINDS];
};

static inline void rc_cost(struct rc_enc *r, unsigned q)
{
    if (r->pos < r->n) {
        uint32_t v = r->cost[r->pos] + q;
        r->cost[r->pos] = (uint16_t)(v < 0xFFFEu ? v : 0xFFFEu);
    } else {
        r->hdr[r->pos - r->n] += q;
    }
}

static inline void out_byte(struct rc_enc *r, uint8_t b)
{
    if (r->len == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 65536;
        uint8_t *nb = realloc(r->buf, cap);
        if (!nb) {
            r->oom = 1;
            return;
        }
        r->buf = nb;
        r->cap = cap;
    }
    r->buf[r->len++] = b;
}

/* Carry propagation: bytes 0xFF wait in cache_size until a carry is known. */
static inline void shift_low(struct rc_enc *r)
{
    if ((uint32_t)r->low < 0xFF000000u || (r->low >> 32) != 0) {
        uint8_t carry = (uint8_t)(r->low >> 32);
        uint8_t c = r->cache;
        do {
            out_byte(r, (uint8_t)(c + carry));
            c = 0xFF;
        } while (--r->cache_size != 0);
        r->cache = (uint8_t)(r->low >> 24);
    }
    r->cache_size++;
    r->low = (r->low & 0x00FFFFFFu) << 8;
}

static inline void rc_init(struct rc_enc *r)
{
    memset(r, 0, sizeof *r);
    r->range = 0xFFFFFFFFu;
    r->cache_size = 1;
}

/* Optional cost accounting (DFOTA_STATS=1): bits spent per part. */
enum { ST_OPS, ST_DZERO, ST_DMRU, ST_DVAL, ST_LIT, ST_PRE, ST_N };
/* (per thread: encodes run in parallel, par.h) */
static _Thread_local double st_bits[ST_N];
static _Thread_local int st_cat, st_on;

static inline RC_INLINE void rc_bit(struct rc_enc *r, uint16_t *prob, unsigned bit, unsigned shift)
{
    if (st_on)
        st_bits[st_cat] -= log2((bit ? DZ_PROB_ONE - *prob : *prob) / (double)DZ_PROB_ONE);
    if (r->cost)
        rc_cost(r, r->price[bit ? DZ_PROB_ONE - *prob : *prob]);
    uint32_t bound = (r->range >> DZ_PROB_BITS) * *prob;
    if (!bit) {
        r->range = bound;
    } else {
        r->low += bound;
        r->range -= bound;
    }
    dz_adapt(prob, bit, shift);
    while (r->range < DZ_RC_TOP) {
        r->range <<= 8;
        shift_low(r);
    }
}

static inline void rc_bit2(struct rc_enc *r, uint16_t *p1, uint16_t *p2, unsigned bit, unsigned shift)
{
    uint16_t avg = (uint16_t)(((uint32_t)*p1 + *p2) >> 1);
    uint16_t tmp = avg;
    rc_bit(r, &tmp, bit, shift);           /* codes with the average */
    dz_adapt(p1, bit, shift);
    dz_adapt(p2, bit, shift);
}

static inline void rc_direct(struct rc_enc *r, unsigned bit)
{
    if (st_on)
        st_bits[st_cat] += 1;
    if (r->cost)
        rc_cost(r, 256);
    r->range >>= 1;
    if (bit)
        r->low += r->range;
    while (r->range < DZ_RC_TOP) {
        r->range <<= 8;
        shift_low(r);
    }
}

static inline void rc_flush(struct rc_enc *r)
{
    int i;
    for (i = 0; i < 5; i++)
        shift_low(r);
}

/* The mirror of rc_num_rows in lib/patch_int.h: mantissa contexts for bit
 * lengths with one of the `rows` rows. */
static inline void rc_num_rows(struct rc_enc *r, uint16_t *len, uint16_t (*mant)[1u << DZ_NUM_CTXBITS],
                               unsigned rows, uint32_t v)
{
    unsigned n = 0, i, node = 1;
    uint32_t t = v;

    while (t) {
        n++;
        t >>= 1;
    }
    for (i = 1; i < n; i++)
        rc_bit(r, &len[i - 1], 1, DZ_ADAPT_FAST);
    if (n < DZ_NUM_MAXBITS)
        rc_bit(r, &len[n - 1], 0, DZ_ADAPT_FAST);
    for (i = 1; i < n; i++) {
        unsigned bit = (v >> (n - 1 - i)) & 1u;
        if (i <= DZ_NUM_CTXBITS && n - 1 < rows) {
            rc_bit(r, &mant[n - 1][node], bit, DZ_ADAPT_FAST);
            node = (node << 1) | bit;
        } else {
            rc_direct(r, bit);
        }
    }
}

#define rc_num(r, c, v) rc_num_rows(r, (c)->len, (c)->mant, DZ_NUM_MAXBITS, v)

static inline void rc_tree8(struct rc_enc *r, uint16_t *t, unsigned v, unsigned shift)
{
    unsigned node = 1, i;
    for (i = 0; i < 8; i++) {
        unsigned bit = (v >> (7 - i)) & 1u;
        rc_bit(r, &t[node], bit, shift);
        node = (node << 1) | bit;
    }
}

/* The preamble both codecs start with (delta-format.md): the DZ_X_* flags,
 * then with DZ_X_PRED the image base and the shift map, its numbers coded
 * with map_num. The mirror of read_preamble in lib/patch_int.h. */
static inline void rc_put_preamble(struct rc_enc *r, uint16_t *len,
                                   uint16_t (*mant)[1u << DZ_NUM_CTXBITS], unsigned rows,
                                   const struct dz_xparams *x)
{
    uint32_t i, prev = 0;

    for (i = 0; i < 4; i++)
        rc_direct(r, (x->flags >> i) & 1);
    if (!(x->flags & (DZ_X_PRED | DZ2_X_RV)))      /* (RISC-V's flag is the mode byte's) */
        return;
    for (i = 0; i < 32; i++)
        rc_direct(r, (x->base >> (31 - i)) & 1);
    rc_num_rows(r, len, mant, rows, x->map_n + 1);
    for (i = 0; i < x->map_n; i++) {
        int32_t sh = x->map[i].shift;
        uint32_t z = sh < 0 ? ((uint32_t)(-(int64_t)sh) << 1) - 1 : (uint32_t)sh << 1;
        rc_num_rows(r, len, mant, rows, x->map[i].src - prev + 1);
        rc_num_rows(r, len, mant, rows, z + 1);
        prev = x->map[i].src;
    }
}

/* End a payload: flush the coder and hand its buffer over. DFOTA_ERR_ARG
 * when it ran out of memory (the buffer is freed then). */
static inline int rc_finish(struct rc_enc *r, uint8_t **out, size_t *out_len)
{
    rc_flush(r);
    if (r->oom) {
        free(r->buf);
        return DFOTA_ERR_ARG;
    }
    *out = r->buf;
    *out_len = r->len;
    return DFOTA_OK;
}

#endif
