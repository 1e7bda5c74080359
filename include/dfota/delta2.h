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
#define DZ2_MODE_RC_SMALL 2u  /* range coded with the small model (the 4k profile) */

/* Decoder RAM profiles. A build with DFOTA_CFG_DECODER_RAM_SMALL=1 holds
 * only the small model (struct dfota_patch within DFOTA_DECODER_RAM_4K
 * bytes) and decodes only DZ2_MODE_RC_SMALL and stored payloads; a default
 * build decodes both models. */
#ifndef DFOTA_CFG_DECODER_RAM_SMALL
#define DFOTA_CFG_DECODER_RAM_SMALL 0
#endif
#define DFOTA_DECODER_RAM_4K  4096u
#define DFOTA_DECODER_RAM_16K 16384u

/* The small model: the same tables as the full one, each cut to a prefix
 * (docs/delta-format.md, "The small model"). Its contexts: */
#define DZ2S_LIT_CTX   2u     /* literal trees: by lane parity (full: DZ_LIT_CTX) */
#define DZ2S_DVAL      2u     /* difference trees: by lane parity (full: predicted? x DZ_LANES) */
#define DZ2S_ZERO2     32u    /* d_zero2: by the previous byte's top 4 bits, run 0 */
#define DZ2S_NUM_ROWS  1u     /* numbers: mantissa rows (full: 8; the preamble's 32) */
#define DZ2S_MAP_MAX   76u    /* shift map entries */
#define DZ2S_PRED      2u     /* d_zero by prediction kind: none, predicted */

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

/* Table dimensions of this build: the full model's, or the small model's
 * alone in a small build. */
#if DFOTA_CFG_DECODER_RAM_SMALL
#define DZ2_NUM_ROWS   DZ2S_NUM_ROWS
#define DZ2_PRED_N     DZ2S_PRED
#define DZ2_ZERO2_N    DZ2S_ZERO2
#define DZ2_DVAL_N     DZ2S_DVAL
#define DZ2_LIT_N      DZ2S_LIT_CTX
#define DZ2_MAP_ROWS   DZ2S_NUM_ROWS
#else
/* DZ2's numbers: DZ1's number coder (dfota/delta.h), except that bit
 * lengths above DZ2_NUM_ROWS share the mantissa tree of length
 * DZ2_NUM_ROWS (large offsets and distances are rare; the RAM goes to the
 * matched literals instead). */
#define DZ2_NUM_ROWS   8u
#define DZ2_PRED_N     DZ_PRED_KINDS
#define DZ2_ZERO2_N    512u
#define DZ2_DVAL_N     (2u * DZ_LANES)
#define DZ2_LIT_N      DZ_LIT_CTX
#define DZ2_MAP_ROWS   DZ_NUM_MAXBITS  /* the preamble's numbers, as DZ1's */
#endif

struct dz2_num {
    uint16_t len[DZ_NUM_MAXBITS];
    uint16_t mant[DZ2_NUM_ROWS][1u << DZ_NUM_CTXBITS];
};

/* The preamble's numbers: DZ1's coder, mantissa contexts for bit lengths
 * with one of DZ2_MAP_ROWS rows (all 32 in the full model), plain bits
 * for longer ones. */
struct dz2_mapnum {
    uint16_t len[DZ_NUM_MAXBITS];
    uint16_t mant[DZ2_MAP_ROWS][1u << DZ_NUM_CTXBITS];
};

/* Matched literals: the first literal byte after an approximate or an
 * exact copy is coded against the "match byte", the byte the copy would
 * have produced next (LZMA's matched literal). While the bits coded so far
 * agree with the match byte's, the bit-tree node is looked up in
 * mlit[ctx][match bit * 256 + node] (ctx 1 after an approximate copy, 0
 * after an exact one); from the first disagreeing bit on, in the plain
 * literal tree. The small model has none (its literals are plain). */
#define DZ2_MLIT_CTX  2u

struct dz2_model {
    uint16_t kind[DZ2_OP_KINDS][DZ2_K_N];
    struct dz2_num copy_len;                    /* approximate copy: as DZ1 */
    struct dz2_num lit_len;
    struct dz2_num off_mag;                     /* approximate copy offset delta */
    struct dz2_mapnum map_num;                  /* the preamble's numbers */
    uint16_t off_zero[2];
    uint16_t off_sign[2];
    uint16_t d_zero[DZ2_PRED_N][DZ_ZCTX_N];
    uint16_t d_zero2[DZ2_ZERO2_N];
    uint16_t d_mru[DZ_LANES * 2];
    uint16_t d_val[DZ2_DVAL_N][256];            /* by dz2_dval_ctx */
    uint16_t lit[DZ2_LIT_N][256];
    struct dz2_num m_len;                       /* exact copy length - 1, new distance */
    struct dz2_num r_len;                       /* exact copy length - 1, repeat */
    struct dz2_num t_dist;                      /* target distance */
#define o_mag off_mag
    uint16_t o_zero, o_sign;
#if !DFOTA_CFG_DECODER_RAM_SMALL
    uint16_t mlit[DZ2_MLIT_CTX][512];           /* matched literals (not in the small model) */
#endif
};

/* Probabilities the small model has: its tables' prefixes, in the order of
 * struct dz2_model (kind, 7 numbers, off_zero/off_sign, d_zero, d_zero2,
 * d_mru, d_val, lit, o_zero/o_sign). A small build's struct dz2_model is
 * exactly these (lib/dz2_decode.c asserts it). */
#define DZ2S_NUM_N   (DZ_NUM_MAXBITS + DZ2S_NUM_ROWS * (1u << DZ_NUM_CTXBITS))
#define DZ2S_MODEL_N (DZ2_OP_KINDS * DZ2_K_N + 7u * DZ2S_NUM_N + 4u + DZ2S_PRED * DZ_ZCTX_N + \
                      DZ2S_ZERO2 + DZ_LANES * 2u + DZ2S_DVAL * 256u + DZ2S_LIT_CTX * 256u + 2u)

/* The contexts that differ between the models (sm: small model). In a
 * small build only the small model exists. */
#define DZ2_IS_SMALL(sm) (DFOTA_CFG_DECODER_RAM_SMALL || (sm))

/* Mantissa tree row of a DZ2 number of bit length n (1 .. 32): bit
 * lengths from the model's last row on share it. */
static inline unsigned dz2_num_row(unsigned sm, unsigned n)
{
    unsigned rows = DZ2_IS_SMALL(sm) ? DZ2S_NUM_ROWS : DZ2_NUM_ROWS;
    return n < rows ? n - 1 : rows - 1;
}

/* Mantissa rows of the preamble's numbers (map_num; rc_num_rows) */
static inline unsigned dz2_map_rows(unsigned sm)
{
    return DZ2_IS_SMALL(sm) ? DZ2S_NUM_ROWS : DZ_NUM_MAXBITS;
}

static inline uint32_t dz2_map_max(unsigned sm)
{
    return DZ2_IS_SMALL(sm) ? DZ2S_MAP_MAX : DZ_MAP_MAX;
}

static inline unsigned dz2_lit_ctx(unsigned sm, uint32_t addr, uint8_t prev)
{
    return DZ2_IS_SMALL(sm) ? (unsigned)(addr & 1u) : dz_lit_ctx(addr, prev);
}

/* the difference tree of prediction kind `kind` at lane `lane` */
static inline unsigned dz2_dval_ctx(unsigned sm, unsigned kind, unsigned lane)
{
    return DZ2_IS_SMALL(sm) ? (lane & 1u) : (kind != 0) * DZ_LANES + lane;
}

/* d_zero's row for prediction kind `kind` */
static inline unsigned dz2_pred_row(unsigned sm, unsigned kind)
{
    return DZ2_IS_SMALL(sm) ? (kind != 0) : kind;
}

/* d_zero2's context (with DZ_X_BYTECTX) */
static inline unsigned dz2_zero2_ctx(unsigned sm, uint8_t prev, uint32_t zrun)
{
    return (DZ2_IS_SMALL(sm) ? (unsigned)(prev >> 4) : prev) * 2u + (zrun == 0);
}

static inline void dz2_model_init(struct dz2_model *m)
{
    uint16_t *p = (uint16_t *)(void *)m;
    uint32_t i, n = (uint32_t)(sizeof *m / sizeof(uint16_t));
    for (i = 0; i < n; i++)
        p[i] = DZ_PROB_INIT;
}

/* The Thumb branch filter (mode DZ2_MODE_RC_BLF; decoder state: xflags
 * bit DZ2_X_BLF). Moved code changes every Thumb-2 BL's relative offset;
 * its absolute target often stays. With the filter, a literal run and an
 * exact copy produce their bytes in groups: at an even address a, with at
 * least 4 bytes left in the operation and in the block (and, for an exact
 * copy, a source address s that is even and, into the target, a distance
 * of 4 or more), the group is 4 bytes if its second byte is 0xF0-0xF7
 * (the first halfword of a BL), else 2 bytes. A 4-byte group whose fourth
 * byte is 0xF8-0xFF is a BL (J1 = J2 = 1): its 22-bit halfword offset
 * field v (dz2_bl_field) is changed, modulo 2^22, in the same bits:
 *  - literal: the run codes v + a/2 + 2, the absolute halfword target;
 *    the decoder subtracts it again;
 *  - exact copy from address s to a: v + s/2 - a/2, so that the copied BL
 *    keeps the absolute target it had at s.
 * The opcode bits stay, so the decoder sees a group's size and kind from
 * the bytes it has decoded or read. Literal bytes 2-4 of a group are coded
 * in the context of the coded byte before them. */
#define DZ2_MODE_RC_BLF 3u    /* range coded, full model, with the Thumb branch filter */
#define DZ2_X_BLF     0x10u   /* the decoder's xflags bit for DZ2_MODE_RC_BLF */

static inline int dz2_bl_first(uint8_t b1) { return (b1 & 0xF8u) == 0xF0u; }
static inline int dz2_bl_second(uint8_t b3) { return (b3 & 0xF8u) == 0xF8u; }

static inline uint32_t dz2_bl_field(const uint8_t w[4])
{
    return ((uint32_t)(w[1] & 7u) << 19) | ((uint32_t)w[0] << 11) | ((uint32_t)(w[3] & 7u) << 8) | w[2];
}

/* Add d (mod 2^22) to the offset field of the BL group w, if it is one. */
static inline void dz2_bl_add(uint8_t w[4], uint32_t d)
{
    uint32_t v;
    if (!dz2_bl_first(w[1]) || !dz2_bl_second(w[3]))
        return;
    v = (dz2_bl_field(w) + d) & 0x3FFFFFu;
    w[0] = (uint8_t)(v >> 11);
    w[1] = (uint8_t)(0xF0u | ((v >> 19) & 7u));
    w[2] = (uint8_t)v;
    w[3] = (uint8_t)(0xF8u | ((v >> 8) & 7u));
}

/* RISC-V reference prediction (mode DZ2_MODE_RC_RV; decoder state: xflags
 * bit DZ2_X_RV). Moved code changes the PC-relative offsets of calls and
 * of address computations whose target moved by another amount. With it, at
 * an even address a of an approximate copy whose source word there (source
 * address sa) is
 *  - a JAL with rd x0, x1 or x5 (4 bytes left in the copy and the block):
 *    its 21-bit offset is predicted as map(sa + offset) - a;
 *  - an AUIPC with rd != x0 followed by a JALR or ADDI (funct3 0), a load
 *    or a store (integer or FP) with rs1 = rd (8 bytes left in both): the
 *    pair's 32-bit offset hi20 + lo12 is predicted as
 *    map(sa + offset) - a, split again as hi20' = (o + 0x800) >> 12 and
 *    lo12' = o - (hi20' << 12);
 * with map = dz_map_addr, the preamble's shift map, and a prediction only
 * where that offset fits the instruction. The predicted words replace the
 * source words the difference bytes are added to, as dz_predict's do
 * (kind 1, "branch"); an aligned 32-bit pointer (DZ_X_PTR32) is tried
 * where neither applies. The words are little-endian, opcode in the low 7
 * bits; other bits stay. Mode 4 is the full model (0x00) with this in place
 * of the Thumb and A32 predictions (its preamble sets neither). */
#define DZ2_MODE_RC_RV  4u    /* range coded, full model, RISC-V reference prediction */
#define DZ2_X_RV      0x20u   /* the decoder's xflags bit for DZ2_MODE_RC_RV */

static inline uint32_t dz2_rv_word(const uint8_t *w)
{
    return (uint32_t)w[0] | (uint32_t)w[1] << 8 | (uint32_t)w[2] << 16 | (uint32_t)w[3] << 24;
}

static inline void dz2_rv_put(uint8_t *w, uint32_t v)
{
    w[0] = (uint8_t)v;
    w[1] = (uint8_t)(v >> 8);
    w[2] = (uint8_t)(v >> 16);
    w[3] = (uint8_t)(v >> 24);
}

/* Predict the target words at address a from the source bytes s at source
 * address sa, of which avail (4 or 8) may be looked at. Returns how many
 * bytes of out it predicted: 0, 4 (a JAL) or 8 (an AUIPC pair). */
static inline unsigned dz2_rv_predict(const uint8_t *s, unsigned avail, uint32_t sa, uint32_t a,
                                      const struct dz_map_entry *m, uint32_t n, uint32_t src_size,
                                      uint8_t out[8])
{
    uint32_t w0 = dz2_rv_word(s), rd = (w0 >> 7) & 0x1Fu, w1 = 0, lo;
    unsigned st = 0;
    int64_t o, h;

    if ((w0 & 0x7Fu) == 0x6Fu && (rd == 0 || rd == 1 || rd == 5)) {          /* JAL */
        lo = ((w0 >> 31) & 1u) << 20 | ((w0 >> 21) & 0x3FFu) << 1 | ((w0 >> 20) & 1u) << 11 |
             ((w0 >> 12) & 0xFFu) << 12;
        o = (int64_t)(lo ^ 0x100000u) - 0x100000;                          /* 21-bit signed */
    } else if ((w0 & 0x7Fu) == 0x17u && rd != 0 && avail >= 8) {            /* AUIPC + use */
        uint32_t op;
        w1 = dz2_rv_word(s + 4);
        op = w1 & 0x7Fu;
        st = op == 0x23u || op == 0x27u;
        if (((w1 >> 15) & 0x1Fu) != rd ||
            !(((op == 0x67u || op == 0x13u) && !((w1 >> 12) & 7u)) || op == 0x03u || op == 0x07u || st))
            return 0;
        lo = st ? (w1 >> 25) << 5 | ((w1 >> 7) & 0x1Fu) : w1 >> 20;
        o = ((int64_t)(w0 & 0xFFFFF000u) ^ 0x80000000) - 0x80000000 + ((int64_t)(lo ^ 0x800u) - 0x800);
    } else {
        return 0;
    }
    o = (int64_t)dz_map_addr(m, n, (uint32_t)((int64_t)sa + o), src_size) - (int64_t)a;
    if (!w1) {
        if ((o & 1) || o < -0x100000 || o >= 0x100000)
            return 0;
        lo = (uint32_t)o;
        dz2_rv_put(out, (w0 & 0xFFFu) | ((lo >> 20) & 1u) << 31 | ((lo >> 1) & 0x3FFu) << 21 |
                            ((lo >> 11) & 1u) << 20 | ((lo >> 12) & 0xFFu) << 12);
        return 4;
    }
    if (o < -0x80000000LL + 0x800 || o >= 0x80000000LL - 0x800)
        return 0;
    h = (o + 0x800) & ~(int64_t)0xFFF;
    lo = (uint32_t)(o - h) & 0xFFFu;
    dz2_rv_put(out, (w0 & 0xFFFu) | (uint32_t)((uint64_t)h & 0xFFFFF000u));
    dz2_rv_put(out + 4, st ? (w1 & 0x01FFF07Fu) | (lo >> 5) << 25 | (lo & 0x1Fu) << 7
                            : (w1 & 0x000FFFFFu) | lo << 20);
    return 8;
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
