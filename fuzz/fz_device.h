/* The device of fuzz_journal and of its seeds (fuzz_seedgen journals): the
 * fuzzers' source firmware, a signed package made in-process, and a
 * simulated flash laid out for it. The flash regions the fuzz input
 * overwrites (the journal, in place also scratch and the firmware, and for
 * a package with DFOTA_PKG_F_SAVED the saved sectors' copies at the end of
 * staging; A/B the inactive bank) are listed in region[]. */
#ifndef DFOTA_FZ_DEVICE_H
#define DFOTA_FZ_DEVICE_H

#include <stddef.h>
#include <stdint.h>
#include "dfota/engine.h"
#include "host_port.h"

#define FZD_INPLACE  0x01u   /* mode bit 0: in place (else A/B) */
#define FZD_ERASED0  0x02u   /* mode bit 1: flash erases to 0x00 */
#define FZD_PROG256  0x04u   /* mode bit 2: 256-byte program unit (else 16) */
#define FZD_GEOM     0x07u   /* the bits that choose the device */

struct fzd {
    struct simflash f;
    struct dfota_config cfg;
    uint8_t mode;
    unsigned pki;                   /* which package: 0 A/B, 1 in place (forward), 2 in
                                       place 4k, 3 in place in runs (0x00-erased flash),
                                       4 in place with DFOTA_PKG_F_BLOCKWIN (0xFF-erased
                                       flash, 256-byte units), 5 in place with a saved
                                       source sector, DFOTA_PKG_F_SAVED (0x00-erased
                                       flash, 256-byte units; 3 is 0x00 with 16) */
    const uint8_t *pkg, *dst;       /* the package in staging and its target */
    size_t pkg_len, dst_len;
    uint32_t region[4][2];          /* [addr, len] of the fuzzed regions, in input order */
    unsigned nregion;
};

/* Build (once per geometry, cached) and reset a device: source firmware in
 * slot 0, the package in staging, the rest erased. */
void fzd_reset(struct fzd *d, uint8_t mode);
/* In place: 1 makes the package a 4k decoder RAM profile one (dfota diff
 * --decoder-ram 4k: DZ2's small model, snapshot format SNAP_FMT_DZ2S) at the
 * next fzd_reset or fzd_snapshot_state. */
extern int fzd_ram4k;
void fzd_free(struct fzd *d);
/* 1 when the slot the engine boots holds exactly the target. */
int fzd_boots_target(const struct fzd *d, const struct dfota_engine *e);
/* Staging holds what `before` (a copy of it) held, but for the in-place
 * digest table at its end and the saved sectors' copies before it, which
 * the engine owns (DFOTA_PKG_F_DEVTABLE, DFOTA_PKG_F_SAVED). */
int fzd_staging_kept(const struct fzd *d, const uint8_t *before);
/* Abort on a flash rule violation (a re-program, a write outside the part, ...),
 * unless known(d) (may be NULL) says it is an open finding to tolerate. */
void fzd_check_flash(struct fzd *d, int (*known)(void));


/* The journal format the snapshot fuzzer writes records of
 * (docs/journal-format.md): magic "DFJ2", a 216-byte head with the record
 * length (head + snapshot + CRC) at offset 8 and the sequence number at 4,
 * then the decoder snapshot, then the CRC-32 (dfota_crc32 from 0) of all
 * bytes before it. */
#define FZD_JR_MAGIC 0x324A4644u
#define FZD_JR_HEAD  216u

/* An in-place device (mode FZD_INPLACE | erased/prog bits of mode) cut in
 * the middle of an install, so that the newest journal record holds a
 * decoder snapshot: fills *rec (flash address of that record) and *len (its
 * length field). Returns 0, or -1 when no such record was found (another
 * journal format). */
int fzd_snapshot_state(struct fzd *d, uint8_t mode, uint32_t *rec, uint32_t *len);
/* Recompute the CRC of the record at rec whose length is len. */
void fzd_record_crc(struct fzd *d, uint32_t rec, uint32_t len);

#endif
