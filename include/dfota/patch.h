/* dfota - the streaming patch decoder. It turns a payload into the target
 * stream a piece at a time, reading the source and the payload through
 * callbacks, with no allocation. The engine drives it; `dfota apply` on the
 * host drives the same engine. */
#ifndef DFOTA_PATCH_H
#define DFOTA_PATCH_H

#include <stddef.h>
#include <stdint.h>
#include "dfota/delta.h"
#include "dfota/delta2.h"
#include "dfota/package.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Codecs compiled in (docs/engine.md, "Building"): a device whose packages
 * all use one does not carry the other decoder. Both are on by default (DZ2
 * alone in the 4k decoder RAM profile, DFOTA_CFG_DECODER_RAM_SMALL). A
 * package of a codec the build lacks is refused with DFOTA_ERR_ALGORITHM by
 * dfota_pkg_parse (so by dfota_check, before anything is written) and by
 * dfota_patch_init. */
#ifndef DFOTA_CFG_DZ1
#if DFOTA_CFG_DECODER_RAM_SMALL
#define DFOTA_CFG_DZ1 0        /* DZ1's model needs 14 KB */
#else
#define DFOTA_CFG_DZ1 1        /* lib/patch.c */
#endif
#endif
#ifndef DFOTA_CFG_DZ2
#define DFOTA_CFG_DZ2 1        /* lib/dz2_decode.c */
#endif
#if !DFOTA_CFG_DZ1 && !DFOTA_CFG_DZ2
#error "libdfota: enable DFOTA_CFG_DZ1, DFOTA_CFG_DZ2 or both"
#endif
#if DFOTA_CFG_DECODER_RAM_SMALL && (DFOTA_CFG_DZ1 || !DFOTA_CFG_DZ2)
#error "libdfota: the 4k decoder RAM profile decodes DZ2 alone (DFOTA_CFG_DZ1=0, DFOTA_CFG_DZ2=1)"
#endif

#if DFOTA_CFG_DECODER_RAM_SMALL
#define DFOTA_PATCH_RB_DEFAULT 32
#else
#define DFOTA_PATCH_RB_DEFAULT 64
#endif
#ifndef DFOTA_PATCH_INBUF
#define DFOTA_PATCH_INBUF  DFOTA_PATCH_RB_DEFAULT   /* payload read-ahead, bytes */
#endif
#ifndef DFOTA_PATCH_SRCBUF
#define DFOTA_PATCH_SRCBUF DFOTA_PATCH_RB_DEFAULT   /* source read-ahead, bytes */
#endif
/* Shift map entries the state holds: DZ1's and the full model's limit, or
 * the small model's in a small build. */
#if DFOTA_CFG_DECODER_RAM_SMALL
#define DFOTA_PATCH_MAP_MAX DZ2S_MAP_MAX
#else
#define DFOTA_PATCH_MAP_MAX DZ_MAP_MAX
#endif

struct dfota_patch_io {
    void *ctx;
    /* Read len bytes of the payload at offset off / of the source image at
     * address off. Return 0 or a negative dfota_err. */
    int (*read_payload)(void *ctx, uint32_t off, uint8_t *buf, uint32_t len);
    int (*read_src)(void *ctx, uint32_t off, uint8_t *buf, uint32_t len);
    /* DZ2: read back len target bytes at stream position off that earlier
     * dfota_patch_decode calls produced (the engine programmed them, so
     * they are read from flash). A/B: any such byte; in place only with
     * DFOTA_PKG_F_BLOCKWIN, and only bytes of the current block (from
     * struct dfota_patch's ring_from on). May be NULL for DZ1 and for in-place
     * packages without DFOTA_PKG_F_BLOCKWIN. */
    int (*read_dst)(void *ctx, uint32_t off, uint8_t *buf, uint32_t len);
    /* In place: the package's write order, the nruns runs of its header
     * (dfota_pkg_parse fills them). May be NULL (or nruns 0) for A/B
     * packages and for forward and backward ones (their header flags tell);
     * a package with DFOTA_PKG_F_RUNS needs them (else DFOTA_ERR_ARG at its
     * first block). */
    const struct dfota_pkg_run *runs;
    uint32_t nruns;
};

/* Everything the decoder needs to go on: plain integers only, so the engine
 * can store it in the journal and restore it after a power cut. */
struct dfota_patch_state {
    union {
#if !DFOTA_CFG_DECODER_RAM_SMALL
        struct dz_model m;        /* DZ1 (not in a small build: it needs 14 KB) */
#endif
        struct {                  /* DZ2 */
            struct dz2_model m2;
            /* the last DZ2_RING target bytes; the model is smaller than
             * DZ1's, so the ring costs no RAM. Valid from ring_from on. */
            uint8_t ring[DZ2_RING];
        };
    };
    uint32_t range, code;
    uint32_t in_pos;      /* payload bytes consumed by the range decoder */
    uint32_t in_win;      /* in place: the last 4 of them, as read (big-endian) */
    uint32_t out_pos;     /* target stream bytes produced */
    uint32_t addr;        /* target address of the next byte */
    uint32_t block;       /* index of the current block */
    uint32_t block_end;   /* stream position where that block ends */
    uint32_t src_pos;     /* next source byte of a copy */
    uint32_t remaining;   /* bytes left in the current operation */
    uint32_t zrun;        /* difference bytes since the last non-zero one */
    uint32_t zhist;       /* non-zero flags of the last difference bytes */
    uint8_t  op;          /* DZ_OP_* of the current operation */
    uint8_t  prev_op;
    uint8_t  prev_byte;
    uint8_t  mru[DZ_LANES];
    uint8_t  xflags;      /* DZ_X_* from the preamble */
    uint8_t  pred[4];     /* predicted source bytes of the current reference */
    uint8_t  pred_n;      /* how many of them are still to come (DZ2_X_RV: 8 for an
                           * AUIPC pair, whose second word waits in mstart) */
    uint8_t  pred_kind;
    uint8_t  alg;         /* DFOTA_ALG_* of the payload */
    uint8_t  small;       /* DZ2: 1 = the small model (DZ2_MODE_RC_SMALL) */
    uint32_t base;        /* load address of the image, for pointers */
    uint32_t map_n;
    struct dz_map_entry map[DFOTA_PATCH_MAP_MAX];
    /* DZ2 */
    uint32_t rep[DZ2_REPS];   /* repeat distances */
    int32_t  align;       /* source position - target position after the last source copy */
    uint32_t mstart;      /* exact copy: joint-space position of its next byte; at
                           * a literal after a copy: its match byte's (delta2.h); in
                           * an approximate copy: a predicted AUIPC pair's second word */
    /* copied from the header */
    uint32_t src_size, dst_size, payload_size, sector_size, flags;
};

struct dfota_patch {
    struct dfota_patch_state st;
    /* read-ahead buffers, refilled on demand; not part of the state */
    uint32_t in_base, in_len;      /* payload bytes [in_base, in_base + in_len) */
    uint32_t src_base, src_len;    /* source bytes [src_base, src_base + src_len) */
    int err;                       /* sticky error of a refill */
    uint8_t  in_buf[DFOTA_PATCH_INBUF];
    uint8_t  src_buf[DFOTA_PATCH_SRCBUF];
    /* DZ2: the first stream position st.ring holds (in place the ring is
     * emptied at every block start, where the journal saves the state; a
     * restore empties it too), and the target read-back buffer (A/B) */
    uint32_t ring_from;
    uint32_t dst_base, dst_len;    /* target bytes [dst_base, dst_base + dst_len) */
    uint8_t  dst_buf[DZ2_DSTBUF];
};

/* The decoder RAM this build has, against which the engine checks a
 * package's decoder_ram field before any write: in a small build the 4k
 * profile's figure (struct dfota_patch fits in it; lib/dz2_decode.c asserts
 * it), else sizeof(struct dfota_patch) but at least the 16k profile's. The
 * encoder writes sizeof(struct dfota_patch) of a default build into 16k
 * packages and DFOTA_DECODER_RAM_4K into 4k ones. */
#if DFOTA_CFG_DECODER_RAM_SMALL
#define DFOTA_PATCH_RAM DFOTA_DECODER_RAM_4K
#else
#define DFOTA_PATCH_RAM (sizeof(struct dfota_patch) > DFOTA_DECODER_RAM_16K ? \
                         (uint32_t)sizeof(struct dfota_patch) : DFOTA_DECODER_RAM_16K)
#endif

/* Nonzero when this build of the library decodes algorithm alg
 * (DFOTA_ALG_*): DZ1 with DFOTA_CFG_DZ1, DZ2 with DFOTA_CFG_DZ2. */
int dfota_patch_supported(uint8_t alg);

/* Start decoding the payload that header h describes. DFOTA_ERR_ALGORITHM
 * when this build does not decode its algorithm or coder. */
int dfota_patch_init(struct dfota_patch *p, const struct dfota_pkg_header *h);

/* dz_block (dfota/delta.h) out of line: the one copy of it the library's
 * decoder, engine and journal share. */
void dfota_patch_block(uint32_t i, uint32_t dst_size, uint32_t sector, const struct dfota_pkg_run *r,
                       uint32_t nr, uint32_t *stream_off, uint32_t *len, uint32_t *addr);

/* In place, with DFOTA_PKG_F_BLOCKSTATE: the decoder state at a block's
 * end that the block's bytes do not check (the current operation's kind,
 * the bytes it has left and where its next byte comes from: decoded, but
 * used only by later blocks), as the DFOTA_PATCH_PENDING_LEN bytes each
 * block digest chain entry covers after the block (package-format.md). */
#define DFOTA_PATCH_PENDING_LEN 36u
void dfota_patch_pending(const struct dfota_patch_state *s, uint8_t out[DFOTA_PATCH_PENDING_LEN]);

/* Produce the next n bytes of the target stream into out. Returns DFOTA_OK,
 * or DFOTA_ERR_CORRUPT when the payload is not a valid DZ1/DZ2 stream for these
 * sizes, or the error of a callback. */
int dfota_patch_decode(struct dfota_patch *p, const struct dfota_patch_io *io,
                       uint8_t *out, uint32_t n);

/* True once the whole target was produced and the last operation ended. */
int dfota_patch_done(const struct dfota_patch *p);

/* Replace the state with a saved one (after a power cut). The read-ahead
 * buffers are dropped. */
void dfota_patch_restore(struct dfota_patch *p, const struct dfota_patch_state *st);

#ifdef __cplusplus
}
#endif
#endif
