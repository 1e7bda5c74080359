/* The device of fuzz_journal and of its seeds (fuzz_seedgen journals): the
 * fuzzers' source firmware, a signed package made in-process, and a
 * simulated flash laid out for it. The flash regions the fuzz input
 * overwrites (the journal, in place also scratch and the firmware; A/B the
 * inactive bank) are listed in fzd_regions. */
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
    const uint8_t *pkg, *dst;       /* the package in staging and its target */
    size_t pkg_len, dst_len;
    uint32_t region[3][2];          /* [addr, len] of the fuzzed regions, in input order */
    unsigned nregion;
};

/* Build (once per geometry, cached) and reset a device: source firmware in
 * slot 0, the package in staging, the rest erased. */
void fzd_reset(struct fzd *d, uint8_t mode);
void fzd_free(struct fzd *d);

#endif
