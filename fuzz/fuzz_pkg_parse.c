/* fuzz_pkg_parse: dfota_pkg_parse and dfota_pkg_check_size on the input as a
 * whole package. libFuzzer hands over a heap copy of exactly `size` bytes, so
 * AddressSanitizer catches any read past the input.
 *
 * Invariants checked besides "no crash, no UB":
 *  - the result is DFOTA_OK or a known negative dfota_err;
 *  - an accepted header is 312 bytes (format 1) or within v2's bounds
 *    (format 2), no longer than the input, and writing it back with
 *    dfota_pkg_write gives the same bytes (parse keeps nothing it would not
 *    write, and writes nothing it did not read: one encoding per header);
 *  - the same fields written in the other format parse back to the same
 *    header (a write order in runs, DFOTA_PKG_F_RUNS, target copies over
 *    the whole block, DFOTA_PKG_F_BLOCKWIN, and saved source sectors,
 *    DFOTA_PKG_F_SAVED, only format 2 holds: dfota_pkg_write refuses them
 *    as format 1);
 *  - in place with DFOTA_PKG_F_SAVED, 1 to DFOTA_MAX_SAVED saved sectors,
 *    ascending, each a sector of the target, and staging counts a sector
 *    for each (dfota_saved_size, dfota_staging_need); else none;
 *  - in place, the write order (the header's runs, or the one run without
 *    DFOTA_PKG_F_RUNS, backward as DFOTA_PKG_F_BACKWARD says) produces each
 *    sector exactly once, and dz_sector_block inverts dz_block_sector; an
 *    A/B header has no runs;
 *  - dfota_pkg_check_size accepts exactly header + payload bytes;
 *  - the signature check never accepts the input under the fixed key unless
 *    libsodium does. */
#include <string.h>
#include "dfota/delta.h"
#include "dfota/engine.h"
#include "dfota/error.h"
#include "dfota/package.h"
#include "fuzz_common.h"
#include "host_port.h"

static int known_err(int rc)
{
    return rc <= DFOTA_OK && rc >= DFOTA_ERR_RAM;
}

/* The write order of an accepted header (see above). Orders of more than
 * ORDER_MAX sectors are checked run by run only. */
#define ORDER_MAX 65536u
static void check_order(const struct dfota_pkg_header *h)
{
    static uint8_t seen[ORDER_MAX];
    uint32_t n, i, sum = 0;

    if (!(h->flags & DFOTA_PKG_F_INPLACE)) {
        FZ_CHECK(h->nruns == 0);
        return;
    }
    n = dz_block_count(h->dst_size, h->sector_size);
    FZ_CHECK(h->nruns >= 1 && h->nruns <= DFOTA_MAX_RUNS);
    if (!(h->flags & DFOTA_PKG_F_RUNS)) {
        FZ_CHECK(h->nruns == 1 && h->runs[0].first == 0 && h->runs[0].n == n &&
                 h->runs[0].back == ((h->flags & DFOTA_PKG_F_BACKWARD) != 0));
        if (!n)
            return;              /* an empty target: one run of no sectors */
    }
    for (i = 0; i < h->nruns; i++) {
        FZ_CHECK(h->runs[i].n >= 1 && h->runs[i].first < n && h->runs[i].n <= n - h->runs[i].first);
        FZ_CHECK(h->runs[i].back <= 1);
        sum += h->runs[i].n;
    }
    FZ_CHECK(sum == n);
    if (n > ORDER_MAX)
        return;
    memset(seen, 0, n);
    for (i = 0; i < n; i++) {
        uint32_t x = dz_block_sector(h->runs, h->nruns, i);
        FZ_CHECK(x < n && !seen[x]);
        seen[x] = 1;
        FZ_CHECK(dz_sector_block(h->runs, h->nruns, x) == i);
    }
}

/* The saved source sectors of an accepted header (see above). */
static void check_saved(const struct dfota_pkg_header *h)
{
    uint32_t i, n = dz_block_count(h->dst_size, h->sector_size);
    if (!(h->flags & DFOTA_PKG_F_SAVED)) {
        FZ_CHECK(h->nsaved == 0 && dfota_saved_size(h) == 0);
        return;
    }
    FZ_CHECK(h->flags & DFOTA_PKG_F_INPLACE);
    FZ_CHECK(h->format_version == DFOTA_PKG_FORMAT_V2);
    FZ_CHECK(h->nsaved >= 1 && h->nsaved <= DFOTA_MAX_SAVED);
    for (i = 0; i < h->nsaved; i++)
        FZ_CHECK(h->saved[i] < n && (!i || h->saved[i] > h->saved[i - 1]));
    FZ_CHECK(dfota_saved_size(h) == h->nsaved * h->sector_size);
    {
        struct dfota_pkg_header g = *h;
        uint32_t need = dfota_staging_need(h, h->sector_size, 16);
        g.flags &= ~DFOTA_PKG_F_SAVED;
        g.nsaved = 0;
        FZ_CHECK(need == UINT32_MAX ||
                 need == dfota_staging_need(&g, h->sector_size, 16) + h->nsaved * h->sector_size);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t pk[32], sk[64];
    static int have_key;
    struct dfota_pkg_header h, h2;
    uint8_t raw[DFOTA_PKG_HEADER_MAX], raw2[DFOTA_PKG_HEADER_MAX];
    uint32_t hs;
    int rc, src;

    if (!have_key) {
        fz_keypair(pk, sk);
        have_key = 1;
    }
    rc = dfota_pkg_parse(&h, data, size);
    FZ_CHECK(known_err(rc));
    FZ_CHECK(dfota_strerror(rc) != NULL);
    if (rc != DFOTA_OK)
        return 0;

    hs = h.header_size;
    FZ_CHECK(h.format_version == DFOTA_PKG_FORMAT_V1 || h.format_version == DFOTA_PKG_FORMAT_V2);
    if (h.format_version == DFOTA_PKG_FORMAT_V1)
        FZ_CHECK(hs == DFOTA_PKG_V1_HEADER_SIZE);
    else
        FZ_CHECK(hs >= DFOTA_PKG_V2_HEADER_MIN &&
                 hs <= ((h.flags & (DFOTA_PKG_F_RUNS | DFOTA_PKG_F_SAVED)) ? DFOTA_PKG_HEADER_MAX
                                                                          : DFOTA_PKG_V2_HEADER_MAX));
    FZ_CHECK(size >= hs);
    FZ_CHECK(dfota_pkg_header_size(&h) == hs);
    check_saved(&h);
    FZ_CHECK(h.payload_size >= 5);

    src = dfota_pkg_check_size(&h, size);
    FZ_CHECK(src == DFOTA_OK || src == DFOTA_ERR_SIZE);
    FZ_CHECK((src == DFOTA_OK) == ((uint64_t)size == hs + (uint64_t)h.payload_size));

    /* Round trip: parse -> write -> same bytes -> parse again -> same header. */
    FZ_CHECK(dfota_pkg_write(&h, raw) == DFOTA_OK);
    FZ_CHECK(memcmp(raw, data, hs) == 0);
    FZ_CHECK(dfota_pkg_parse(&h2, raw, hs) == DFOTA_OK);
    FZ_CHECK(memcmp(&h, &h2, sizeof h) == 0);
    FZ_CHECK(dfota_pkg_write(&h2, raw2) == DFOTA_OK);
    FZ_CHECK(memcmp(raw, raw2, hs) == 0);
    /* a parse of fewer bytes than the header is a truncation */
    FZ_CHECK(dfota_pkg_parse(&h2, data, hs - 1) == DFOTA_ERR_SIZE);
    check_order(&h);

    /* The other format holds the same fields (v2 A/B: no stream CRC). */
    h2 = h;
    h2.format_version = h.format_version == DFOTA_PKG_FORMAT_V1 ? DFOTA_PKG_FORMAT_V2
                                                                : DFOTA_PKG_FORMAT_V1;
    if (h2.format_version == DFOTA_PKG_FORMAT_V2 && !(h2.flags & DFOTA_PKG_F_INPLACE))
        h2.stream_crc32 = 0;
    if (h.flags & (DFOTA_PKG_F_RUNS | DFOTA_PKG_F_BLOCKWIN | DFOTA_PKG_F_SAVED)) {
        /* format 2 only: format 1 has no room for the runs or the saved
         * sectors, and its engines no DFOTA_PKG_F_BLOCKWIN */
        FZ_CHECK(h.format_version == DFOTA_PKG_FORMAT_V2);
        FZ_CHECK(dfota_pkg_write(&h2, raw2) == DFOTA_ERR_ARG);
        goto signature;
    }
    FZ_CHECK(dfota_pkg_write(&h2, raw2) == DFOTA_OK);
    FZ_CHECK(dfota_pkg_parse(&h2, raw2, sizeof raw2) == DFOTA_OK);
    h2.format_version = h.format_version;
    h2.header_size = h.header_size;
    if (h.format_version == DFOTA_PKG_FORMAT_V1 && !(h.flags & DFOTA_PKG_F_INPLACE))
        h2.stream_crc32 = h.stream_crc32;
    FZ_CHECK(memcmp(&h, &h2, sizeof h) == 0);

signature:
    /* Signatures: no key accepts; the fixed key accepts only what verifies. */
    FZ_CHECK(dfota_pkg_check_signature(&h, data, NULL, NULL) == DFOTA_OK);
    rc = dfota_pkg_check_signature(&h, data, pk, dfota_host_crypto());
    FZ_CHECK(rc == DFOTA_OK || rc == DFOTA_ERR_SIGNATURE);
    if (rc == DFOTA_OK) {
        /* Only a real signature by the fixed key gets here: check it is one. */
        uint8_t sig[64];
        FZ_CHECK(dfota_host_sign(sk, data, dfota_pkg_signed_size(&h), sig) == 0);
        FZ_CHECK(memcmp(sig, h.signature, 64) == 0);   /* Ed25519 is deterministic */
    }
    return 0;
}
