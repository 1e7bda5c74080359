/* dfota - the device update engine: checks a package lying in a staging
 * area of flash, turns the running firmware into the target firmware, and
 * finishes that job after any power cut. docs/engine.md explains the
 * layouts, the journal and the RAM and flash budgets. */
#ifndef DFOTA_ENGINE_H
#define DFOTA_ENGINE_H

#include <stdint.h>
#include "dfota/package.h"
#include "dfota/patch.h"
#include "dfota/port.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Layouts compiled in (docs/engine.md, "Building"): a device that uses one
 * does not carry the code of the other. Both are on by default. */
#ifndef DFOTA_CFG_AB
#define DFOTA_CFG_AB 1
#endif
#ifndef DFOTA_CFG_INPLACE
#define DFOTA_CFG_INPLACE 1
#endif

#ifndef DFOTA_MAX_SCRATCH
#define DFOTA_MAX_SCRATCH 16  /* in place: most scratch sectors the engine uses */
#endif

#ifndef DFOTA_IO_BUF
#define DFOTA_IO_BUF 256      /* bytes; the one I/O buffer of the engine */
#endif

/* The one state of an engine; it alone decides which calls are valid
 * (docs/engine.md, "The engine state"). */
enum dfota_state {
    DFOTA_STATE_OFF     = 0,  /* dfota_init not called, or it failed */
    DFOTA_STATE_IDLE    = 1,  /* nothing pending: dfota_check, dfota_install */
    DFOTA_STATE_CHECKED = 2,  /* the package in staging passed dfota_check */
    DFOTA_STATE_PENDING = 3,  /* an update is unfinished on flash: dfota_resume */
    DFOTA_STATE_FAILED  = 4,  /* still pending, and the last resume or install could not
                                 produce a verified image: do not boot, report, retry */
};

enum dfota_layout_kind {
    DFOTA_LAYOUT_AB      = 1, /* two banks; the target goes to the inactive one */
    DFOTA_LAYOUT_INPLACE = 2, /* one firmware region, overwritten sector by sector */
};

/* Where things live in the flash, as byte addresses of the port. */
struct dfota_layout {
    uint8_t  kind;            /* enum dfota_layout_kind */
    uint32_t slot[2];         /* A/B: bank 0 and bank 1; in place: slot[0] only */
    uint32_t slot_size;       /* bytes of one bank / of the firmware region */
    uint32_t staging;         /* the downloaded package */
    uint32_t staging_size;
    uint32_t journal;         /* two equal halves, each whole sectors */
    uint32_t journal_size;
    uint32_t scratch;         /* in place: at least lag + 2 sectors (docs/engine.md) */
    uint32_t scratch_size;
};

enum dfota_phase {
    DFOTA_PHASE_CHECK  = 1,   /* reading the package and the source */
    DFOTA_PHASE_APPLY  = 2,   /* writing the target */
    DFOTA_PHASE_VERIFY = 3,   /* reading the target back */
};

struct dfota_config {
    const struct dfota_flash  *flash;
    const struct dfota_crypto *crypto;  /* may be NULL only when pubkey is NULL */
    struct dfota_layout layout;
    const uint8_t *pubkey;              /* 32 bytes; NULL accepts unsigned packages (development) */
    const char *product;                /* NULL or "": any product id */
    uint32_t security_counter;          /* packages with a lower counter are refused */
    void (*progress)(void *ctx, enum dfota_phase phase, unsigned percent);
    void *progress_ctx;
};

/* The caller owns this struct (sizeof is the engine's whole RAM besides the
 * stack); nothing is allocated. */
struct dfota_engine {
    const struct dfota_config *cfg;
    struct dfota_pkg_header hdr;  /* the package (or, from the journal, its target fields) */
    uint8_t  hdr_digest[32];      /* SHA-256 of that package's header (header_size bytes) */
    uint8_t  chain[DFOTA_BLOCK_DIGEST_LEN]; /* in place, block chain: entry the next block must give
                                               (a 4-byte entry: then zeros) */
    uint32_t seq;                 /* sequence number of the newest journal record */
    uint8_t  state;               /* enum dfota_state */
    uint8_t  active;              /* bank that boots (A/B); 0 in place */
    uint8_t  half;                /* journal half of the newest record */
    uint8_t  batch_done;          /* in place: the last checkpoint's commits are marked done */
    uint8_t  saved_live;          /* in place, DFOTA_PKG_F_SAVED: the saved sectors' copies
                                     are made, source reads of them go there */
    uint32_t blocks_done;         /* blocks decoded (A/B: also written) */
    uint32_t ckpt_prev;           /* in place: blocks_done at the checkpoint before */
    uint32_t block_crc[DFOTA_MAX_SCRATCH]; /* in place: CRC of block blocks_done-1-k in scratch */
    struct dfota_patch patch;
    uint8_t  buf[DFOTA_IO_BUF];
};

/* Read the journal: which bank boots and whether an update is unfinished.
 * Call at every power-up before anything else. */
int dfota_init(struct dfota_engine *e, const struct dfota_config *cfg);

/* Bank to boot (0 or 1; always 0 in place). */
unsigned dfota_active_slot(const struct dfota_engine *e);

/* Nonzero when the journal holds an unfinished update (state PENDING or
 * FAILED): call dfota_resume(), and in place do not boot the firmware. */
int dfota_pending(const struct dfota_engine *e);

/* The engine state (enum dfota_state). */
enum dfota_state dfota_state(const struct dfota_engine *e);

/* Check the package in staging without writing anything: header, product,
 * layout, source digest, payload digest, signature; in place also a dry run
 * of the whole decode. */
int dfota_check(struct dfota_engine *e);

/* Check, then apply the package and make the target the firmware that boots. */
int dfota_install(struct dfota_engine *e);

/* Finish an update cut by a power loss (the BC20's forced upgrade). It reads
 * the journal again, so it may follow any failed call without dfota_init.
 * Returns DFOTA_OK at once when nothing is pending. */
int dfota_resume(struct dfota_engine *e);

/* Check a package header's signature: key id, then Ed25519 over the signed
 * bytes of raw (the dfota_pkg_signed_size(h) bytes before the signature). With pubkey NULL nothing is
 * checked and DFOTA_OK is returned (development devices without a key). */
int dfota_pkg_check_signature(const struct dfota_pkg_header *h, const uint8_t *raw,
                              const uint8_t *pubkey, const struct dfota_crypto *crypto);

/* Largest journal record, one holding a decoder snapshot (in place). */
uint32_t dfota_journal_record_size(void);

/* Bytes one journal half needs (a whole number of sectors) for a layout
 * kind and firmware slot size; journal_size is twice this or more. */
uint32_t dfota_journal_half_size(int kind, uint32_t slot_size, uint32_t sector_size,
                                 uint32_t prog_size);

/* In place, a package with DFOTA_PKG_F_DEVTABLE: the bytes (whole sectors
 * of h->sector_size) at the end of staging where the engine keeps the block
 * digests its dry run computes, for a flash programmed in units of
 * prog_size; 0 for every other package. */
uint32_t dfota_devtable_size(const struct dfota_pkg_header *h, uint32_t prog_size);

/* In place, a package with DFOTA_PKG_F_SAVED: the bytes (nsaved sectors)
 * before the digest table at the end of staging where the engine keeps its
 * copies of the saved source sectors; 0 for every other package. */
uint32_t dfota_saved_size(const struct dfota_pkg_header *h);

/* The staging bytes a package needs on a flash of this geometry: the
 * package (header_size + payload_size) rounded up to whole sectors, its
 * saved sectors and its digest table after it. A smaller staging area
 * refuses the package with DFOTA_ERR_NOSPACE. */
uint32_t dfota_staging_need(const struct dfota_pkg_header *h, uint32_t sector_size,
                            uint32_t prog_size);

#ifdef __cplusplus
}
#endif
#endif
