/* dfota - the DZ1 delta codec: the model both the encoder (host) and the
 * decoder (device) run. docs/delta-format.md specifies it byte by byte; this
 * header is the one description both sides compile, so they cannot drift. */
#ifndef DFOTA_DELTA_H
#define DFOTA_DELTA_H

#include <stdint.h>
#include "dfota/package.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Binary range coder (LZMA-style): 12-bit probabilities of a 0 bit,
 * 32-bit range, renormalised a byte at a time below 2^24. */
#define DZ_PROB_BITS   12
#define DZ_PROB_ONE    (1u << DZ_PROB_BITS)
#define DZ_PROB_INIT   (DZ_PROB_ONE / 2)
#define DZ_RC_TOP      (1u << 24)
/* Adaptation speed: larger is slower and steadier. */
#define DZ_ADAPT_FAST  4
#define DZ_ADAPT_SLOW  4

/* Number coder: v >= 1 is sent as its bit length n (unary, adaptive), then
 * the DZ_NUM_CTXBITS bits below the leading one through an adaptive tree per
 * n, then the rest as plain bits. */
#define DZ_NUM_MAXBITS  32
#define DZ_NUM_CTXBITS  3
struct dz_num {
    uint16_t len[DZ_NUM_MAXBITS];
    uint16_t mant[DZ_NUM_MAXBITS][1u << DZ_NUM_CTXBITS];
};

/* Operations. A copy adds difference bytes to source bytes; a literal
 * carries target bytes. A literal is always followed by a copy. */
#define DZ_OP_NONE  0
#define DZ_OP_COPY  1
#define DZ_OP_LIT   2

/* Contexts. A "lane" is the target address modulo 4: Thumb-2 and ARM code
 * and 32-bit pointers change at fixed byte positions in a word. */
#define DZ_LANES        4
#define DZ_RUN_BUCKETS  6   /* zero run since the last non-zero difference */
#define DZ_LIT_CTX      8   /* lane parity x top 2 bits of the previous byte */

static inline unsigned dz_run_bucket(uint32_t run)
{
    return run == 0 ? 0 : run == 1 ? 1 : run < 4 ? 2 : run < 8 ? 3 : run < 16 ? 4 : 5;
}

#define DZ_ZCTX_N (DZ_LANES * DZ_RUN_BUCKETS * 2)
/* Context of the "difference is zero" bit at target address addr; hist
 * holds the zero flags of the last difference bytes, newest in bit 0
 * (1 = non-zero). */
static inline unsigned dz_zero_ctx(uint32_t addr, uint32_t run, uint32_t hist)
{
    return ((addr & 3u) * DZ_RUN_BUCKETS + dz_run_bucket(run)) * 2u + ((hist >> 3) & 1u);
}

/* Reference prediction. When code moves, branch offsets and absolute
 * pointers into the moved code change by the shift. The payload opens with a
 * map of shifts over source addresses; inside copies, a Thumb-2 BL / B.W or a
 * 32-bit pointer into the image is predicted through that map and only the
 * difference from the prediction is coded. */
#define DZ_MAP_MAX     256u
#define DZ_X_THUMB     1u     /* predict Thumb-2 BL and B.W (T4) */
#define DZ_X_PTR32     2u     /* predict aligned 32-bit pointers into the image */
#define DZ_X_ARM       4u     /* predict A32 BL (ARM mode code) */
#define DZ_X_PRED      (DZ_X_THUMB | DZ_X_PTR32 | DZ_X_ARM)
#define DZ_X_BYTECTX   8u     /* "difference is zero" also by the previous byte */
#define DZ_X_KNOWN     (DZ_X_PRED | DZ_X_BYTECTX)
#define DZ_PRED_KINDS  3      /* none, branch, pointer */

struct dz_map_entry {
    uint32_t src;             /* source address where this shift begins */
    int32_t  shift;           /* target address - source address */
};

struct dz_model {
    uint16_t op_lit[4];                            /* literal next? by previous op (start, copy) */
    struct dz_num copy_len;
    struct dz_num lit_len;
    uint16_t off_zero[2];                          /* source offset jumps (1) or continues (0)? by previous op */
    uint16_t off_sign[2];
    struct dz_num off_mag;
    uint16_t d_zero[DZ_PRED_KINDS][DZ_ZCTX_N];  /* difference byte is zero? */
    uint16_t d_zero2[512];                      /* with DZ_X_BYTECTX: by (previous byte, run 0) */
    uint16_t d_mru[DZ_LANES * 2];                  /* equals the lane's last non-zero difference? */
    uint16_t d_val[DZ_PRED_KINDS][DZ_LANES][256];               /* otherwise, the value (bit tree) */
    uint16_t lit[DZ_LIT_CTX][256];                 /* literal bytes (bit tree) */
    struct dz_num map_num;                         /* the preamble's numbers */
};


static inline unsigned dz_lit_ctx(uint32_t addr, uint8_t prev)
{
    return ((addr & 1u) << 2) | (unsigned)(prev >> 6);
}

/* Blocks: A/B packages produce the whole target as one block; in-place
 * packages one block per sector, in the write order of the header's runs
 * (struct dfota_pkg_run: a forward package is one run lowest sector first,
 * a backward one one run highest first), each block in address order. */
static inline uint32_t dz_block_count(uint32_t dst_size, uint32_t sector)
{
    /* (no overflow for a dst_size near 2^32) */
    return !dst_size ? 0u : sector ? (dst_size - 1u) / sector + 1u : 1u;
}

/* The order of an in-place package without DFOTA_PKG_F_RUNS into *r: one
 * run of every sector, highest first when back (DFOTA_PKG_F_BACKWARD). (Field
 * by field: a header's padding stays as it was.) */
static inline void dz_one_run(struct dfota_pkg_run *r, uint32_t dst_size, uint32_t sector, int back)
{
    r->first = 0;
    r->n = dz_block_count(dst_size, sector);
    r->back = back ? 1 : 0;
}

/* The sector block i writes: the i-th of the runs r[0 .. nr). A valid order
 * (dfota_pkg_parse checks it) holds every block; past its end, i itself. */
static inline uint32_t dz_block_sector(const struct dfota_pkg_run *r, uint32_t nr, uint32_t i)
{
    uint32_t k, j = i;
    for (k = 0; k < nr; k++) {
        if (j < r[k].n)
            return r[k].back ? r[k].first + r[k].n - 1u - j : r[k].first + j;
        j -= r[k].n;
    }
    return i;
}

/* The block that writes sector x (the inverse of dz_block_sector); a sector
 * the order does not hold, x itself (so no runs, nr 0, is forward). */
static inline uint32_t dz_sector_block(const struct dfota_pkg_run *r, uint32_t nr, uint32_t x)
{
    uint32_t k, i = 0;
    for (k = 0; k < nr; k++) {
        if (x - r[k].first < r[k].n)
            return i + (r[k].back ? r[k].first + r[k].n - 1u - x : x - r[k].first);
        i += r[k].n;
    }
    return x;
}

/* Stream offset and length of block i (0-based, in production order), and
 * the target address it starts at. Every block is a whole sector but the
 * one of the highest sector, which ends with the target. */
static inline void dz_block(uint32_t i, uint32_t dst_size, uint32_t sector,
                            const struct dfota_pkg_run *r, uint32_t nr, uint32_t *stream_off,
                            uint32_t *len, uint32_t *addr)
{
    uint32_t n = dz_block_count(dst_size, sector), last, x;
    if (!sector) {
        *stream_off = 0; *len = dst_size; *addr = 0;
        return;
    }
    last = dst_size - (n - 1) * sector;          /* length of the highest sector */
    x = dz_block_sector(r, nr, i);
    *addr = x * sector;
    *len = x == n - 1 ? last : sector;
    *stream_off = i * sector - (dz_sector_block(r, nr, n - 1) < i ? sector - last : 0);
}

static inline void dz_model_init(struct dz_model *m)
{
    uint16_t *p = (uint16_t *)(void *)m;
    uint32_t i, n = (uint32_t)(sizeof *m / sizeof(uint16_t));
    for (i = 0; i < n; i++)
        p[i] = DZ_PROB_INIT;
}

static inline void dz_adapt(uint16_t *p, unsigned bit, unsigned shift)
{
    if (bit)
        *p = (uint16_t)(*p - (*p >> shift));
    else
        *p = (uint16_t)(*p + ((DZ_PROB_ONE - *p) >> shift));
}

/* Where source address x went: x plus the shift of the last map entry at or
 * below x; addresses outside the source stay put. */
static inline uint32_t dz_map_addr(const struct dz_map_entry *m, uint32_t n, uint32_t x,
                                   uint32_t src_size)
{
    uint32_t lo = 0, hi = n;
    if (x >= src_size || n == 0 || x < m[0].src)
        return x;
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (m[mid].src <= x)
            lo = mid;
        else
            hi = mid;
    }
    return (uint32_t)((int64_t)x + m[lo].shift);
}

/* Predict the 4 target bytes at address a from the 4 source bytes s at
 * source address sa. Returns the kind of prediction (0: none, out unset). */
static inline unsigned dz_predict(const uint8_t s[4], uint32_t sa, uint32_t a, unsigned xflags,
                                  uint32_t base, const struct dz_map_entry *m, uint32_t n,
                                  uint32_t src_size, uint8_t out[4])
{
    if ((xflags & DZ_X_THUMB) && !(a & 1) && (s[1] & 0xF8) == 0xF0 &&
        ((s[3] & 0xD0) == 0xD0 || (s[3] & 0xD0) == 0x90)) {
        uint32_t hi = (uint32_t)s[0] | (uint32_t)s[1] << 8, lo = (uint32_t)s[2] | (uint32_t)s[3] << 8;
        uint32_t S = (hi >> 10) & 1, j1 = (lo >> 13) & 1, j2 = (lo >> 11) & 1;
        uint32_t i1 = !(j1 ^ S), i2 = !(j2 ^ S);
        uint32_t imm = S << 24 | i1 << 23 | i2 << 22 | (hi & 0x3FF) << 12 | (lo & 0x7FF) << 1;
        int32_t off = (int32_t)((int64_t)(imm ^ 0x1000000u) - 0x1000000);  /* 25-bit signed */
        uint32_t to = (uint32_t)((int64_t)sa + 4 + off);
        int64_t noff = (int64_t)dz_map_addr(m, n, to, src_size) - ((int64_t)a + 4);
        if (noff < -(1 << 24) || noff >= (1 << 24))
            return 0;
        imm = (uint32_t)noff;
        S = (imm >> 24) & 1;
        j1 = !(((imm >> 23) & 1) ^ S);
        j2 = !(((imm >> 22) & 1) ^ S);
        hi = (hi & 0xF800) | S << 10 | ((imm >> 12) & 0x3FF);
        lo = (lo & 0xD000) | j1 << 13 | j2 << 11 | ((imm >> 1) & 0x7FF);
        out[0] = (uint8_t)hi; out[1] = (uint8_t)(hi >> 8);
        out[2] = (uint8_t)lo; out[3] = (uint8_t)(lo >> 8);
        return 1;
    }
    if ((xflags & DZ_X_ARM) && !(a & 3) && (s[3] & 0x0F) == 0x0B && (s[3] & 0xF0) != 0xF0) {
        uint32_t imm = (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16;
        int32_t off = (int32_t)((int64_t)(imm ^ 0x800000u) - 0x800000) * 4;  /* 24-bit signed words */
        uint32_t to = (uint32_t)((int64_t)sa + 8 + off);
        int64_t noff = (int64_t)dz_map_addr(m, n, to, src_size) - ((int64_t)a + 8);
        if ((noff & 3) || noff < -(1 << 25) || noff >= (1 << 25))
            return 0;
        imm = (uint32_t)(noff >> 2) & 0xFFFFFF;
        out[0] = (uint8_t)imm; out[1] = (uint8_t)(imm >> 8);
        out[2] = (uint8_t)(imm >> 16); out[3] = s[3];
        return 1;
    }
    if ((xflags & DZ_X_PTR32) && !(a & 3)) {
        uint32_t v = (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24;
        if (v - base < src_size) {
            v = base + dz_map_addr(m, n, v - base, src_size);
            out[0] = (uint8_t)v; out[1] = (uint8_t)(v >> 8);
            out[2] = (uint8_t)(v >> 16); out[3] = (uint8_t)(v >> 24);
            return 2;
        }
    }
    return 0;
}

#ifdef __cplusplus
}
#endif
#endif
