/* dfota - the DZ1 delta codec: the model both the encoder (host) and the
 * decoder (device) run. docs/delta-format.md specifies it byte by byte; this
 * header is the one description both sides compile, so they cannot drift. */
#ifndef DFOTA_DELTA_H
#define DFOTA_DELTA_H

#include <stdint.h>

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
#define DZ_ADAPT_SLOW  5

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

struct dz_model {
    uint16_t op_lit[4];                            /* after a copy: literal next? by (prev op, short copy) */
    struct dz_num copy_len;
    struct dz_num lit_len;
    uint16_t off_zero[2];                          /* source offset continues? by previous op */
    uint16_t off_sign[2];
    struct dz_num off_mag;
    uint16_t d_zero[DZ_LANES * DZ_RUN_BUCKETS * 2];/* difference byte is zero? */
    uint16_t d_mru[DZ_LANES * 2];                  /* equals the lane's last non-zero difference? */
    uint16_t d_val[DZ_LANES][256];                 /* otherwise, the value (bit tree) */
    uint16_t lit[DZ_LIT_CTX][256];                 /* literal bytes (bit tree) */
};

static inline unsigned dz_run_bucket(uint32_t run)
{
    return run == 0 ? 0 : run == 1 ? 1 : run < 4 ? 2 : run < 8 ? 3 : run < 16 ? 4 : 5;
}

/* Context of the "difference is zero" bit at target address addr; hist
 * holds the zero flags of the last 8 difference bytes, newest in bit 0
 * (1 = non-zero). */
static inline unsigned dz_zero_ctx(uint32_t addr, uint32_t run, uint32_t hist)
{
    return ((addr & 3u) * DZ_RUN_BUCKETS + dz_run_bucket(run)) * 2u + ((hist >> 3) & 1u);
}

static inline unsigned dz_lit_ctx(uint32_t addr, uint8_t prev)
{
    return ((addr & 1u) << 2) | (unsigned)(prev >> 6);
}

/* Target address of the byte at stream position t. A/B and forward in-place
 * packages produce the target in address order; backward in-place packages
 * produce sector blocks last to first, each in address order. */
static inline uint32_t dz_block_count(uint32_t dst_size, uint32_t sector)
{
    return sector ? (dst_size + sector - 1) / sector : (dst_size ? 1u : 0u);
}

/* Stream offset and length of block i (0-based, in production order), and
 * the target address it starts at. */
static inline void dz_block(uint32_t i, uint32_t dst_size, uint32_t sector, int backward,
                            uint32_t *stream_off, uint32_t *len, uint32_t *addr)
{
    uint32_t n = dz_block_count(dst_size, sector), last;
    if (!sector) {
        *stream_off = 0; *len = dst_size; *addr = 0;
        return;
    }
    last = dst_size - (n - 1) * sector;          /* length of the highest sector */
    if (!backward) {
        *stream_off = i * sector; *addr = i * sector;
        *len = (i == n - 1) ? last : sector;
    } else if (i == 0) {
        *stream_off = 0; *addr = (n - 1) * sector; *len = last;
    } else {
        *stream_off = last + (i - 1) * sector; *addr = (n - 1 - i) * sector; *len = sector;
    }
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

#ifdef __cplusplus
}
#endif
#endif
