/* fuzz_snapshot: restoring the in-place decoder snapshot from a journal
 * record with a valid CRC. An in-place device is cut in the middle of an
 * install (fz_device.c), so its newest journal record holds a snapshot;
 * the fuzz input replaces that snapshot (and, in one mode, the record
 * head), the record CRC is recomputed (docs/journal-format.md), and the
 * device powers up: dfota_init, dfota_resume, possibly cut and resumed
 * again. The CRC is right, so every byte reaches the engine's range checks
 * and the decoder.
 *
 * Input: byte 0 the mode, byte 1 a power cut, then the bytes.
 *   bit 0     flash erases to 0x00      bit 1  256-byte program units
 *   bit 2     the bytes replace the record head (216 bytes) too
 *   bit 3     the record length follows the input (else the snapshot keeps
 *             its length: a short input changes a prefix only)
 *   bit 4     a power cut during the first resume after 3 * byte 1
 *             operations, then a power-up and resume
 *   bit 5     the package is a 4k decoder RAM profile one (DZ2's small
 *             model: the snapshot is SNAP_FMT_DZ2S)
 *   bits 6-7  how the cut tears (enum simflash_tear)
 *
 * Invariants (each traps): known results only; no flash rule broken;
 * staging never written; a resume that returns DFOTA_OK leaves the signed
 * target booting with nothing pending at the next power-up (a snapshot
 * that decodes wrongly must be caught before anything boots). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dfota/error.h"
#include "fuzz_common.h"
#include "fz_device.h"

#define M_HEAD    0x04u
#define M_LEN     0x08u
#define M_CUT     0x10u
#define M_RAM4K   0x20u

static struct fzd g_dev;
static uint8_t *g_base[8];          /* flash image per geometry (bits 0-1) and package (bit 5),
                                     * cut mid-install */
static uint32_t g_rec[8], g_len[8];

static int known(int rc)
{
    return strcmp(dfota_strerror(rc), "unknown error") != 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fzd *d = &g_dev;
    static struct dfota_engine e;
    uint8_t mode, cut, dmode;
    unsigned g;
    uint32_t rec, len, half, at, n;
    int rc, pending, rc_res = DFOTA_OK;
    uint8_t *staging;

    if (size < 2)
        return 0;
    mode = data[0];
    cut = data[1];
    data += 2;
    size -= 2;
    g = (mode & 3u) | ((mode & M_RAM4K) ? 4u : 0u);
    fzd_ram4k = (mode & M_RAM4K) != 0;
    dmode = (uint8_t)(FZD_INPLACE | ((mode & 1u) ? FZD_ERASED0 : 0) | ((mode & 2u) ? FZD_PROG256 : 0));
    if (!g_base[g]) {
        if (fzd_snapshot_state(d, dmode, &g_rec[g], &g_len[g])) {
            fprintf(stderr, "fuzz_snapshot: no DFJ2 record with a snapshot (journal format?)\n");
            abort();
        }
        g_base[g] = malloc(d->f.size);
        FZ_CHECK(g_base[g] != NULL);
        memcpy(g_base[g], d->f.mem, d->f.size);
    }
    fzd_reset(d, dmode);
    memcpy(d->f.mem, g_base[g], d->f.size);
    rec = g_rec[g];
    len = g_len[g];
    half = d->cfg.layout.journal_size / 2;
    at = (mode & M_HEAD) ? 0 : FZD_JR_HEAD;
    if (mode & M_LEN) {
        /* the record is as long as the input says (within the half) */
        n = size > half - at - 4 ? half - at - 4 : (uint32_t)size;
        len = at + n + 4;
        if (len < FZD_JR_HEAD + 4)
            len = FZD_JR_HEAD + 4;
    } else {
        n = size > len - 4 - at ? len - 4 - at : (uint32_t)size;
    }
    memcpy(d->f.mem + rec + at, data, n);
    if (!(mode & M_HEAD) || n < 12) {
        uint8_t *p = d->f.mem + rec + 8;
        p[0] = (uint8_t)len; p[1] = (uint8_t)(len >> 8); p[2] = (uint8_t)(len >> 16); p[3] = (uint8_t)(len >> 24);
    }
    {
        const uint8_t *p = d->f.mem + rec + 8;
        uint32_t l = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        if (l >= 4 && l <= half)
            fzd_record_crc(d, rec, l);
    }
    d->f.tear = mode >> 6;
    staging = malloc(d->cfg.layout.staging_size);
    FZ_CHECK(staging != NULL);
    memcpy(staging, d->f.mem + d->cfg.layout.staging, d->cfg.layout.staging_size);

    rc = dfota_init(&e, &d->cfg);
    FZ_CHECK(known(rc));
    fzd_check_flash(d, NULL);
    pending = rc == DFOTA_OK && dfota_pending(&e);
    if (pending) {
        if (mode & M_CUT) {
            d->f.cut_after = 3u * cut;
            d->f.tear_seed = 0x9E3779B9u * (cut + 1u);
        }
        rc_res = dfota_resume(&e);
        FZ_CHECK(known(rc_res));
        fzd_check_flash(d, NULL);
        if (d->f.powered_off) {
            FZ_CHECK(rc_res == DFOTA_ERR_IO);
            simflash_power_on(&d->f);
            rc = dfota_init(&e, &d->cfg);
            FZ_CHECK(known(rc));
            pending = rc == DFOTA_OK && dfota_pending(&e);
            rc_res = pending ? dfota_resume(&e) : rc;
            FZ_CHECK(known(rc_res));
            fzd_check_flash(d, NULL);
        } else {
            d->f.cut_after = UINT64_MAX;
        }
        if (pending && rc_res == DFOTA_OK) {
            FZ_CHECK(!dfota_pending(&e));
            FZ_CHECK(fzd_boots_target(d, &e));
            FZ_CHECK(dfota_init(&e, &d->cfg) == DFOTA_OK);
            FZ_CHECK(!dfota_pending(&e));
        }
    }
    FZ_CHECK(fzd_staging_kept(d, staging));
    if (fz_verbose())
        fprintf(stderr, "fuzz_snapshot: mode 0x%02x cut %u, %u bytes at +%u, len %u: init %s, "
                "pending %d, resume %s\n", mode, cut, n, at, len, dfota_strerror(rc), pending,
                dfota_strerror(rc_res));
    free(staging);
    return 0;
}
