/* dfota - the DZ2 delta codec: the model both the encoder (host) and the
 * decoder (device, lib/dz2_decode.c) run. DZ2 keeps DZ1's approximate
 * copies (difference bytes, reference prediction; dfota/delta.h) and adds
 * LZ operations over one address space, the source image followed by the
 * target produced so far: exact copies from the target already written,
 * short exact copies from the source, four repeat distances.
 * docs/delta-format.md ("DZ2") specifies it byte by byte. */
#ifndef DFOTA_DELTA2_H
#define DFOTA_DELTA2_H

#include <stdint.h>
#include "dfota/delta.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Payload modes (the first payload byte). */
#define DZ2_MODE_RC      0u   /* range coded; the byte is also the coder's start byte */
#define DZ2_MODE_STORED  1u   /* the target stream follows verbatim */

/* Operation kinds. */
#define DZ2_OP_NONE   0u      /* before the first operation */
#define DZ2_OP_COPY   1u      /* approximate copy from the source (DZ1's copy) */
#define DZ2_OP_LIT    2u      /* literal run */
#define DZ2_OP_MATCH  3u      /* exact copy: new distance (source or target) or a repeat */
#define DZ2_OP_KINDS  4u
#define DZ2_OP_STORED 0xFFu     /* decoder state only: the payload is the target verbatim */
#define DZ2_REPS      4u
#define DZ2_MATCH_MIN 2u      /* shortest exact copy */

/* In place, a target copy reads a RAM ring of the last DZ2_RING bytes of
 * the current block (the dry run writes nothing, so older target bytes are
 * nowhere to be read). A/B reads any older target byte back from flash. */
#define DZ2_RING      256u
#define DZ2_DSTBUF    32u     /* read-ahead of target bytes read back (A/B) */

/* Decisions of the operation kind, per previous kind. */
#define DZ2_K_LIT     0u      /* 1 = literal run */
#define DZ2_K_COPY    1u      /* 1 = approximate copy */
#define DZ2_K_REP     2u      /* 1 = repeat distance */
#define DZ2_K_REP0    3u      /* 1 = not rep0 */
#define DZ2_K_REP1    4u      /* 1 = not rep1 */
#define DZ2_K_REP2    5u      /* 1 = not rep2 (rep3) */
#define DZ2_K_DST     6u      /* new distance: 1 = into the target, 0 = into the source */
#define DZ2_K_N       8u

/* DZ2's numbers: DZ1's number coder (dfota/delta.h), except that bit
 * lengths above DZ2_NUM_ROWS share the mantissa tree of length
 * DZ2_NUM_ROWS (large offsets and distances are rare; the RAM goes to the
 * matched literals instead). */
#ifndef DZ2_NUM_ROWS
#define DZ2_NUM_ROWS  8u
#endif
struct dz2_num {
    uint16_t len[DZ_NUM_MAXBITS];
    uint16_t mant[DZ2_NUM_ROWS][1u << DZ_NUM_CTXBITS];
};

/* Mantissa tree row of a number of bit length n (1 .. 32). */
static inline unsigned dz2_num_row(unsigned n)
{
    return n < DZ2_NUM_ROWS ? n - 1 : DZ2_NUM_ROWS - 1;
}

/* Matched literals: the first literal byte after an approximate or an
 * exact copy is coded against the "match byte", the byte the copy would
 * have produced next (LZMA's matched literal). While the bits coded so far
 * agree with the match byte's, the bit-tree node is looked up in
 * mlit[ctx][match bit * 256 + node] (ctx 1 after an approximate copy, 0
 * after an exact one); from the first disagreeing bit on, in the plain
 * literal tree. */
#ifndef DZ2_MLIT_CTX
#define DZ2_MLIT_CTX  2u
#endif

struct dz2_model {
    uint16_t kind[DZ2_OP_KINDS][DZ2_K_N];
    struct dz2_num copy_len;                    /* approximate copy: as DZ1 */
    struct dz2_num lit_len;
    struct dz2_num off_mag;                     /* approximate copy offset delta */
    struct dz_num map_num;                      /* the preamble's numbers, as DZ1 */
    uint16_t off_zero[2];
    uint16_t off_sign[2];
    uint16_t d_zero[DZ_PRED_KINDS][DZ_ZCTX_N];
    uint16_t d_zero2[512];
    uint16_t d_mru[DZ_LANES * 2];
    uint16_t d_val[2][DZ_LANES][256];           /* by (predicted?, lane) */
    uint16_t lit[DZ_LIT_CTX][256];
    struct dz2_num m_len;                       /* exact copy length - 1, new distance */
    struct dz2_num r_len;                       /* exact copy length - 1, repeat */
    struct dz2_num t_dist;                      /* target distance */
#define o_mag off_mag
    uint16_t o_zero, o_sign;
    uint16_t mlit[DZ2_MLIT_CTX][512];           /* matched literals */
};

static inline void dz2_model_init(struct dz2_model *m)
{
    uint16_t *p = (uint16_t *)(void *)m;
    uint32_t i, n = (uint32_t)(sizeof *m / sizeof(uint16_t));
    for (i = 0; i < n; i++)
        p[i] = DZ_PROB_INIT;
}

/* Repeat distances: an exact copy's distance D in the joint address space
 * (source [0, src_size), then target stream position q at src_size + q) is
 * src_size + out_pos - start. A new distance goes to the front; a repeat
 * moves to the front. */
static inline void dz2_rep_use(uint32_t rep[DZ2_REPS], unsigned i, uint32_t d)
{
    while (i > 0) {
        rep[i] = rep[i - 1];
        i--;
    }
    rep[0] = d;
}

#ifdef __cplusplus
}
#endif
#endif
