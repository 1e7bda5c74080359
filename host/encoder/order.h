/* In place: write orders (order.c). */
#ifndef DFOTA_ORDER_H
#define DFOTA_ORDER_H

#include <stddef.h>
#include <stdint.h>
#include "encoder.h"

/* One run of every sector, lowest first or (backward) highest first. */
int dz_order_simple(struct dz_order *o, int backward, uint32_t dst_len, uint32_t sector);

/* What the target copies from where, sector by sector (dz_order_deps):
 * w bytes of target sector k come from source sector j (j != k, j inside
 * the target's sectors). */
struct dz_dep {
    uint32_t j, k, w;
};
struct dz_deps {
    struct dz_dep *v;
    size_t n;
    uint32_t nblocks, sector;
};

/* Find them with a quick matcher of its own (16-byte strings of the source
 * at every 8th byte): an estimate, which the order search needs, not the
 * encoder's matches. DFOTA_OK, or DFOTA_ERR_ARG when out of memory. */
int dz_order_deps(struct dz_deps *d, const uint8_t *src, size_t src_len, const uint8_t *dst,
                  size_t dst_len, uint32_t sector);
void dz_order_deps_free(struct dz_deps *d);

/* Bytes of d that order o (as production index per sector, pos) leaves
 * unreadable with commit lag lag. */
uint64_t dz_order_lost(const struct dz_deps *d, const uint32_t *pos, uint32_t lag);

/* Bytes of d that forward or (backward) backward leaves unreadable. */
uint64_t dz_order_plain_lost(const struct dz_deps *d, int backward, uint32_t lag);

/* The order search: from forward or (backward) backward, move stretches of
 * sectors within the order while that keeps more of d readable, in at most
 * DFOTA_MAX_RUNS runs that take at most max_bytes in the header (0: no
 * limit). o gets the order found, or the plain one when the search gains
 * too little (DZ_ORDER_MIN_GAIN bytes, or 1/64 of what the plain one leaves
 * unreadable) or search is 0; *est what o leaves unreadable, plus
 * BREAK_COST (32) bytes for each break in address order it has. */
#define DZ_ORDER_MIN_GAIN 512u

/* The source sectors worth saving in order o (DFOTA_PKG_F_SAVED): at most
 * max, each one whose copy would keep DZ_SAVE_MIN bytes of d readable, and
 * 1/4 of all that o leaves unreadable, which the order cannot (a cycle of
 * reads between sectors, say); the device copies them before the update
 * and reads them from there. o gets them (and its block_of marks them
 * readable to the end); *est loses the bytes they keep. DFOTA_OK, or
 * DFOTA_ERR_ARG when out of memory. */
#define DZ_SAVE_MIN 512u
int dz_order_save(struct dz_order *o, const struct dz_deps *d, uint32_t lag, uint32_t max,
                  uint64_t *est);
int dz_order_search(struct dz_order *o, const struct dz_deps *d, int backward, uint32_t lag,
                    uint32_t dst_len, int search, uint32_t max_bytes, uint64_t *est);

#endif
