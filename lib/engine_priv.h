/* The engine's private header: what its parts share. The public calls are
 * in engine.c; the journal (journal.c, docs/journal-format.md), the decoder
 * snapshot (snapshot.c), the package checks (check.c) and one file per
 * layout (apply_ab.c, apply_inplace.c), each compiled in by DFOTA_CFG_AB /
 * DFOTA_CFG_INPLACE. Nothing here is part of the library's interface. */
#ifndef DFOTA_ENGINE_PRIV_H
#define DFOTA_ENGINE_PRIV_H

#include <string.h>
#include "dfota/engine.h"
#include "dfota/error.h"
#include "dfota/sha256.h"
#include "le.h"

#if !DFOTA_CFG_AB && !DFOTA_CFG_INPLACE
#error "libdfota: enable DFOTA_CFG_AB, DFOTA_CFG_INPLACE or both"
#endif

_Static_assert(DFOTA_IO_BUF >= 256 && (DFOTA_IO_BUF & (DFOTA_IO_BUF - 1)) == 0,
               "DFOTA_IO_BUF must be a power of two, at least 256");
_Static_assert(DFOTA_PATCH_SRCBUF >= 4, "DFOTA_PATCH_SRCBUF must hold a 4-byte reference");
_Static_assert(DFOTA_PATCH_INBUF >= 1, "DFOTA_PATCH_INBUF must not be empty");

#define FLASH(e)  ((e)->cfg->flash)
#define LAYOUT(e) (&(e)->cfg->layout)

/* Is this layout kind compiled in and configured? */
#if DFOTA_CFG_AB && DFOTA_CFG_INPLACE
#define IS_INPLACE(e) (LAYOUT(e)->kind == DFOTA_LAYOUT_INPLACE)
#elif DFOTA_CFG_INPLACE
#define IS_INPLACE(e) 1
#else
#define IS_INPLACE(e) 0
#endif

static inline uint32_t dfota__round_up(uint32_t v, uint32_t unit)
{
    return (v + unit - 1) & ~(unit - 1);
}

/* ---- engine.c: the port, progress, the decoder's one call site ----------- */

int dfota__read(struct dfota_engine *e, uint32_t addr, void *buf, uint32_t len);
int dfota__prog(struct dfota_engine *e, uint32_t addr, const void *buf, uint32_t len);
int dfota__erase(struct dfota_engine *e, uint32_t addr);
int dfota__sync(struct dfota_engine *e);
void dfota__progress(struct dfota_engine *e, enum dfota_phase ph, uint32_t done, uint32_t total);

/* The decoder is reached only through these: dfota__dec_start (a fresh
 * decode of e->hdr), dfota__dec_io (the callbacks for a run), and
 * dfota__decode (the next len bytes of the target stream, optionally
 * programmed at addr, their CRC-32 and SHA-256 accumulated). */
struct dfota__io {
    struct dfota_engine *e;
    uint32_t src_base;       /* flash address of the source image */
    int inplace;             /* enforce "never read an overwritten sector" */
    uint32_t win;            /* in place, DFOTA_PKG_F_BLOCKWIN: flash address of the current
                                block's copy (a scratch slot), or DFOTA_NO_ADDR */
};
int dfota__dec_start(struct dfota_engine *e);
/* In place, DFOTA_PKG_F_SAVED: where the copy of saved sector k is. */
uint32_t dfota__saved_addr(const struct dfota_engine *e, uint32_t k);
void dfota__dec_io(struct dfota_engine *e, struct dfota__io *c, struct dfota_patch_io *io);
#define DFOTA_NO_ADDR UINT32_MAX
int dfota__decode(struct dfota_engine *e, const struct dfota_patch_io *io, uint32_t addr,
                  uint32_t len, uint32_t *crc, struct dfota_sha256 *sha);
/* Payload bytes of the DZ stream (the payload without the block table). */
uint32_t dfota__stream_size(const struct dfota_pkg_header *h);

uint32_t dfota__blocks(const struct dfota_engine *e);
/* Block i of the stream: its length and the flash address it goes to. */
void dfota__block_at(const struct dfota_engine *e, uint32_t i, uint32_t *len, uint32_t *addr);
uint32_t dfota__src_addr(const struct dfota_engine *e);
/* DFOTA_PKG_F_DEVTABLE: entries per program unit of the digest table */
#define DFOTA__TAB_GROUP 4u
uint32_t dfota__dst_addr(const struct dfota_engine *e);

/* ---- check.c ---------------------------------------------------------------- */

/* SHA-256 of len bytes of flash at addr. With cap, the cap_len bytes at
 * offset cap_off of the range are copied to cap as they are hashed. */
int dfota__hash_flash(struct dfota_engine *e, uint32_t addr, uint32_t len, uint8_t out[32],
                      enum dfota_phase ph, uint32_t cap_off, uint8_t *cap, uint32_t cap_len);
/* Read the header from staging once into raw; parse it into e->hdr, the
 * SHA-256 of its header_size bytes into digest, and run the per-package checks (sizes, product,
 * layout, slot size, security counter). */
int dfota__load_header(struct dfota_engine *e, uint8_t raw[DFOTA_PKG_HEADER_MAX],
                       uint8_t digest[32]);
/* Then the source (fresh: before an install) and the payload digest, and
 * the signature over raw. fresh also takes the block table's first entry
 * from the hashed bytes into e->chain. */
int dfota__check_pkg(struct dfota_engine *e, const uint8_t raw[DFOTA_PKG_HEADER_MAX], int fresh);

/* ---- journal.c (docs/journal-format.md) ------------------------------------ */

#define JR_MAGIC      0x324A4644u  /* "DFJ2" */
#define JR_MAGIC_V1   0x314A4644u  /* "DFJ1", the format before: read, never written */
#define JR_HEAD       216u
#define JR_KIND_IDLE  1u
#define JR_KIND_APPLY 2u

/* A buffered stream of record bytes through e->buf, with the record CRC. */
struct dfota__js {
    struct dfota_engine *e;
    uint32_t addr;           /* flash address of the next unit to program / byte to read */
    uint32_t fill;           /* writing: bytes waiting in e->buf; reading: bytes left there */
    uint32_t pos;            /* reading: offset of the next byte in e->buf */
    uint32_t end;            /* reading: flash address where the readable bytes end */
    uint32_t crc;
    int rc;                  /* first error */
};
void dfota__js_put(struct dfota__js *w, const void *data, uint32_t len);
void dfota__js_get(struct dfota__js *r, void *data, uint32_t len);
void dfota__js_put32(struct dfota__js *w, uint32_t v);
uint32_t dfota__js_get32(struct dfota__js *r);

uint32_t dfota__half_size(const struct dfota_engine *e);
/* Write the next record (into the other half, verified by reading it back). */
int dfota__journal_write(struct dfota_engine *e, uint32_t kind);
/* Read the newest valid record into e: state, active, seq and, for an
 * update, its progress (A/B marks, in place batch mark). Read errors and
 * torn records are invalid records. */
int dfota__journal_load(struct dfota_engine *e);
/* In place: restore the decoder snapshot of the newest record. */
int dfota__journal_restore(struct dfota_engine *e);
/* Program one mark unit at addr, then sync. A mark reads as present only
 * when the whole unit holds the mark value and reads without error. */
int dfota__mark(struct dfota_engine *e, uint32_t addr);
int dfota__is_mark(struct dfota_engine *e, uint32_t addr);
uint32_t dfota__mark_area(const struct dfota_engine *e, uint32_t half);   /* A/B */
uint32_t dfota__batch_mark_at(const struct dfota_engine *e, uint32_t half); /* in place */

/* ---- snapshot.c (in place): the decoder state as bytes ------------------- */

/* The formats this engine writes hold the range decoder's low (the code
 * register is re-derived from the restored stream on resume: a damaged byte
 * that sat in the decoder's look-ahead at a checkpoint does not stay in the
 * journal); the older ones (the code register itself) are still read. */
#define SNAP_FMT_DZ1 0x00010002u   /* DZ1 decoder state, serialisation 2 (low) */
#define SNAP_FMT_DZ2 0x00020003u   /* DZ2 decoder state, serialisation 3 (matched literals, low) */
#define SNAP_FMT_DZ2S 0x00021002u  /* DZ2 small model (4k profile), serialisation 2 (low) */
#define SNAP_FMT_DZ1_C 0x00010001u /* serialisation 1 of each: the code register */
#define SNAP_FMT_DZ2_C 0x00020002u
#define SNAP_FMT_DZ2S_C 0x00021001u
/* A read format's current equivalent (the code forms map to theirs). */
#define SNAP_FMT_BASE(f) ((f) == SNAP_FMT_DZ1_C ? SNAP_FMT_DZ1 : (f) == SNAP_FMT_DZ2_C ? SNAP_FMT_DZ2 \
                          : (f) == SNAP_FMT_DZ2S_C ? SNAP_FMT_DZ2S : (f))
/* The snapshot format of a decoder state. */
#define SNAP_FMT_OF(st) (!DFOTA_CFG_DZ2 || (DFOTA_CFG_DZ1 && (st)->alg != DFOTA_ALG_DZ2) \
                         ? SNAP_FMT_DZ1 \
                         : DFOTA_CFG_DECODER_RAM_SMALL || (st)->small ? SNAP_FMT_DZ2S : SNAP_FMT_DZ2)
/* The formats this build reads: those of its codecs (a small build has
 * DZ2's small model only). */
#define SNAP_FMT_OK(f) ((DFOTA_CFG_DZ2 && SNAP_FMT_BASE(f) == SNAP_FMT_DZ2S) || \
                        (DFOTA_CFG_DZ1 && SNAP_FMT_BASE(f) == SNAP_FMT_DZ1) || \
                        (DFOTA_CFG_DZ2 && !DFOTA_CFG_DECODER_RAM_SMALL && SNAP_FMT_BASE(f) == SNAP_FMT_DZ2))
uint32_t dfota__snap_size(const struct dfota_patch_state *s);
uint32_t dfota__snap_max(void);
void dfota__snap_put(struct dfota__js *w, const struct dfota_patch_state *s);
/* fmt: the record's SNAP_FMT_* */
int dfota__snap_get(struct dfota__js *r, struct dfota_engine *e, uint32_t fmt);
/* After a snapshot of format fmt was read and its record checked: the
 * range decoder's look-ahead read again from staging (and, in the formats
 * that hold the low, the code register made from it). DFOTA_ERR_CORRUPT
 * when staging does not give a valid state (not the package the checkpoint
 * decoded: restore it and resume), DFOTA_ERR_IO on a read error. */
int dfota__snap_window(struct dfota_engine *e, uint32_t fmt);

/* ---- apply_ab.c / apply_inplace.c ------------------------------------------ */

int dfota__ab_install(struct dfota_engine *e);
int dfota__ab_resume(struct dfota_engine *e, int have_pkg);
int dfota__ip_dry_run(struct dfota_engine *e);
int dfota__ip_install(struct dfota_engine *e);
int dfota__ip_resume(struct dfota_engine *e, int have_pkg);

/* Read the target back: its SHA-256 must be hdr.dst_sha256. */
int dfota__verify_target(struct dfota_engine *e);

#endif
