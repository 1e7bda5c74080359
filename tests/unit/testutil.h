/* Helpers shared by the unit tests: deterministic firmware-like images and
 * a device laid out on the simulated flash. */
#ifndef DFOTA_TESTUTIL_H
#define DFOTA_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include "dfota/engine.h"
#include "encoder.h"
#include "host_port.h"

uint32_t tu_rand(uint32_t *s);

/* A firmware-like image: Thumb-ish halfwords, pointer tables, strings. */
uint8_t *tu_image(size_t len, uint32_t seed);
/* A "next release" of img: a function inserted, one removed, constants and
 * pointers changed. *out_len receives its size. */
uint8_t *tu_release(const uint8_t *img, size_t len, uint32_t seed, size_t *out_len);

/* The test key pair (fixed seed). */
void tu_keys(uint8_t pk[32], uint8_t sk[64]);

/* Build a signed package (abort on failure). */
/* The header format tu_package writes: 0 the default (2), or 1. */
extern unsigned tu_pkg_format;
/* The decoder RAM profile tu_package builds for: "4k" (the default in a
 * build with the small profile, through the CLI) or "16k"; NULL or "16k" in a default build. */
extern const char *tu_decoder_ram;
/* The codec: "auto" (the default), "dz1" or "dz2". */
extern const char *tu_codec;
/* In place, how blocks are checked: 0 the default (the device's digest table,
 * DFOTA_PKG_F_DEVTABLE), or a block digest chain of 4- or 16-byte entries. */
extern unsigned tu_block_digest;
/* direction (in place): 0 auto, 1 forward, -1 backward, 3 plain (dfota_diff_opts) */
uint8_t *tu_package(const uint8_t *src, size_t slen, const uint8_t *dst, size_t dlen, int inplace,
                    uint32_t sector, uint32_t lag, int direction, const char *product,
                    size_t *plen);
/* An in-place package with the explicit write order of the norder runs of
 * order (dfota_diff_opts.direction 2, DFOTA_PKG_F_RUNS; dfota diff
 * --direction a-b,...). Through the CLI a single-sector run is written
 * lowest first whatever its back says (the same order). */
uint8_t *tu_package_order(const uint8_t *src, size_t slen, const uint8_t *dst, size_t dlen,
                          uint32_t sector, uint32_t lag, const struct dfota_pkg_run *order,
                          uint32_t norder, const char *product, size_t *plen);

/* A device: flash with slots, journal, scratch and staging. */
struct tu_device {
    struct simflash flash;
    struct dfota_config cfg;
    uint8_t pk[32];
};
/* The regions of a device, one after the other from address 0 (slots,
 * scratch in place, journal, staging; sizes rounded up to sectors, 16-byte
 * program unit); returns the first address after them. */
uint32_t tu_layout(struct dfota_layout *l, int kind, uint32_t sector, uint32_t slot_size,
                   uint32_t scratch_sectors, uint32_t staging_size);
void tu_device_init(struct tu_device *d, int kind, uint32_t sector, uint32_t slot_size,
                    uint32_t scratch_sectors, uint32_t staging_size);
void tu_device_free(struct tu_device *d);
/* Put the firmware in bank `slot` and the package in staging. */
void tu_device_load(struct tu_device *d, unsigned slot, const uint8_t *fw, size_t len,
                    const uint8_t *pkg, size_t plen);

/* A source image and its next release (tu_image(n, seed),
 * tu_release(..., seed + 1)), for cmocka fixtures. */
struct tu_pair {
    uint8_t *a, *b;
    size_t alen, blen;
};
struct tu_pair *tu_pair_new(size_t n, uint32_t seed);
void tu_pair_free(struct tu_pair *p);

/* Install pkg on a fresh device (layout kind, 4 KiB sectors, slots of
 * alen + 4096, staging 2 * alen) holding p->a in bank 0, through
 * dfota_check first when check_first, then dfota_install; assert the result
 * is `want`. After a failure nothing was written and bank 0 still boots;
 * after a success the target boots. product NULL: the device accepts any. */
void tu_attempt(const struct tu_pair *p, int kind, const uint8_t *pkg, size_t plen,
                const char *product, uint32_t scratch_sectors, int check_first, int want);

#endif
