/* fuzz_seedgen: the build-time helper of the seed corpus. The packages
 * themselves are made by the dfota CLI (fuzz/CMakeLists.txt); this writes
 * its inputs and turns its outputs into the inputs of each fuzzer.
 *
 *   fuzz_seedgen images DIR
 *       DIR/src.bin (the fuzzers' fixed source firmware), DIR/dst<N>.bin
 *       (its releases) and DIR/fuzz.key (the fixed key, PEM PKCS#8 as
 *       `dfota keygen` writes it)
 *   fuzz_seedgen corpus CORPUS PKG...
 *       CORPUS/fuzz_pkg_parse/<pkg>       the package as is
 *       CORPUS/fuzz_engine/<pkg>.<mode><cut>  mode and power-cut bytes, the package
 *       CORPUS/fuzz_patch_decode/<pkg>.<mode>
 *                                         mode byte, target size, payload
 *   fuzz_seedgen journals CORPUS/fuzz_journal
 *       the flash regions of fuzz_journal's device (fz_device.h) at power
 *       cuts spread over a clean install, for six device geometries
 *   fuzz_seedgen snapshots CORPUS/fuzz_snapshot
 *       the decoder snapshot of a journal record cut mid-install (DFJ2)
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dfota/error.h"
#include "dfota/package.h"
#include "fuzz_common.h"
#include "fz_device.h"

static int write_file(const char *dir, const char *name, const char *suffix, const uint8_t *pre,
                      size_t pre_len, const uint8_t *data, size_t len)
{
    char path[4096];
    FILE *f;
    int ok;

    snprintf(path, sizeof path, "%s/%s%s", dir, name, suffix);
    f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return -1;
    }
    ok = fwrite(pre, 1, pre_len, f) == pre_len && fwrite(data, 1, len, f) == len;
    if (fclose(f) || !ok) {
        perror(path);
        return -1;
    }
    return 0;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;

    if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) ||
        !(buf = malloc((size_t)n + 1)) || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        perror(path);
        exit(1);
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static int images(const char *dir)
{
    static const uint8_t pkcs8[16] = { 0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
                                       0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20 };
    uint8_t src[FZ_SRC_SIZE], dst[FZ_DST_MAX], pk[32], sk[64], der[48];
    char name[32], b64[128], pem[256];
    int v;

    fz_image(src, sizeof src, FZ_SRC_SEED);
    if (write_file(dir, "src.bin", "", NULL, 0, src, sizeof src))
        return 1;
    for (v = 0; v < FZ_DST_VARIANTS; v++) {
        size_t n = fz_release(src, dst, v);
        snprintf(name, sizeof name, "dst%d.bin", v);
        if (write_file(dir, name, "", NULL, 0, dst, n))
            return 1;
    }
    /* libsodium's secret key starts with the 32-byte seed. */
    fz_keypair(pk, sk);
    memcpy(der, pkcs8, 16);
    memcpy(der + 16, sk, 32);
    sodium_bin2base64(b64, sizeof b64, der, sizeof der, sodium_base64_VARIANT_ORIGINAL);
    snprintf(pem, sizeof pem, "-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n", b64);
    return write_file(dir, "fuzz.key", "", NULL, 0, (const uint8_t *)pem, strlen(pem)) ? 1 : 0;
}

static int corpus(const char *dir, int n, char **pkgs)
{
    /* fuzz_engine mode and power-cut bytes: plain; fixed key; check first
     * with digest and target fix-ups (a no-op on a good package, but the
     * mutations of this seed keep reaching the decoder); policy with
     * 0x00-erased flash and 256-byte program units; three power cuts. */
    static const uint8_t engine_modes[][2] = { { 0x00, 0 }, { 0x01, 0 }, { 0x16, 0 }, { 0xA8, 0 },
                                               { 0x00, 9 }, { 0x06, 40 }, { 0x80, 120 } };
    char sub[4096], suffix[16];
    int i, k;

    for (i = 0; i < n; i++) {
        struct dfota_pkg_header h;
        const char *base = strrchr(pkgs[i], '/');
        size_t len;
        uint8_t *pkg = read_file(pkgs[i], &len);
        uint8_t pre[3];

        base = base ? base + 1 : pkgs[i];
        if (dfota_pkg_parse(&h, pkg, len) || dfota_pkg_check_size(&h, len) ||
            h.src_size != FZ_SRC_SIZE) {
            fprintf(stderr, "%s: not a package for the fuzz source image\n", pkgs[i]);
            return 1;
        }
        /* the *_win_* packages are there for DFOTA_PKG_F_BLOCKWIN: they must have it */
        if (!strstr(base, "_win_") != !(h.flags & DFOTA_PKG_F_BLOCKWIN)) {
            fprintf(stderr, "%s: DFOTA_PKG_F_BLOCKWIN %s\n", pkgs[i],
                    (h.flags & DFOTA_PKG_F_BLOCKWIN) ? "set on a package not named _win_" : "missing");
            return 1;
        }
        /* and the *_saved* ones for DFOTA_PKG_F_SAVED (_saved2_: two sectors) */
        if (!strstr(base, "_saved") != !(h.flags & DFOTA_PKG_F_SAVED) ||
            ((h.flags & DFOTA_PKG_F_SAVED) && h.nsaved != (strstr(base, "_saved2_") ? 2u : 1u))) {
            fprintf(stderr, "%s: DFOTA_PKG_F_SAVED %s (%u sectors)\n", pkgs[i],
                    (h.flags & DFOTA_PKG_F_SAVED) ? "set, or not as the name says" : "missing",
                    (unsigned)h.nsaved);
            return 1;
        }
        snprintf(sub, sizeof sub, "%s/fuzz_pkg_parse", dir);
        if (write_file(sub, base, "", NULL, 0, pkg, len))
            return 1;

        snprintf(sub, sizeof sub, "%s/fuzz_engine", dir);
        for (k = 0; k < (int)(sizeof engine_modes / sizeof engine_modes[0]); k++) {
            snprintf(suffix, sizeof suffix, ".%02x%02x", engine_modes[k][0], engine_modes[k][1]);
            if (write_file(sub, base, suffix, engine_modes[k], 2, pkg, len))
                return 1;
        }

        /* fuzz_patch_decode: the header bits of this package, two chunkings
         * (they choose no write order in runs and no DFOTA_PKG_F_BLOCKWIN:
         * none for such a package) */
        if (h.flags & (DFOTA_PKG_F_RUNS | DFOTA_PKG_F_BLOCKWIN)) {
            free(pkg);
            continue;
        }
        if (h.dst_size > 0x3FFF || (h.flags & DFOTA_PKG_F_INPLACE &&
                                    (h.sector_size < 256 || h.sector_size > 2048))) {
            fprintf(stderr, "%s: does not fit fuzz_patch_decode's header choices\n", pkgs[i]);
            return 1;
        }
        pre[0] = 0;
        if (h.flags & DFOTA_PKG_F_INPLACE) {
            unsigned s = 0;
            while ((256u << s) < h.sector_size)
                s++;
            pre[0] = (uint8_t)(1u | ((h.flags & DFOTA_PKG_F_BACKWARD) ? 2u : 0u) | (s << 2));
        }
        pre[1] = (uint8_t)h.dst_size;
        pre[2] = (uint8_t)((h.dst_size >> 8) | (h.algorithm == DFOTA_ALG_DZ2 ? 0x40u : 0u) |
                           (h.format_version == DFOTA_PKG_FORMAT_V1 ? 0x80u : 0u));
        snprintf(sub, sizeof sub, "%s/fuzz_patch_decode", dir);
        for (k = 0; k < 2; k++) {
            uint8_t m = pre[0];
            pre[0] = (uint8_t)(m | (k ? 0xE0u : 0x60u));   /* all at once; 64 bytes a call */
            snprintf(suffix, sizeof suffix, ".%02x", pre[0]);
            if (write_file(sub, base, suffix, pre, 3, pkg + h.header_size,
                           len - h.header_size))
                return 1;
            pre[0] = m;
        }
        free(pkg);
    }
    return 0;
}

/* fuzz_journal seeds: the device as a power cut at operation k of an
 * install leaves it (a torn operation), as [mode][cut][regions]. */
static int journals(const char *dir)
{
    /* A/B; in place forward; A/B; in place in runs; in place with target
     * copies over the whole block (DFOTA_PKG_F_BLOCKWIN); in place with a
     * saved source sector (DFOTA_PKG_F_SAVED: fz_device.c) */
    static const uint8_t geoms[] = { 0x00, 0x01, 0x06, 0x03, 0x05, 0x07 };
    static struct fzd d;
    struct dfota_engine e;
    unsigned g, i;

    for (g = 0; g < sizeof geoms; g++) {
        uint64_t total;
        fzd_reset(&d, geoms[g]);
        if (dfota_init(&e, &d.cfg) || dfota_install(&e)) {
            fprintf(stderr, "journals: clean install failed (mode 0x%02x)\n", geoms[g]);
            return 1;
        }
        total = d.f.ops;
        for (i = 0; i < 12; i++) {
            uint64_t k = total * (2 * i + 1) / 24;
            uint8_t pre[2] = { geoms[g], (uint8_t)(i * 7) };
            char name[64];
            FILE *f;
            unsigned r;
            if (i % 3 == 1)
                pre[0] |= 0x10;                 /* and a cut during the resume */
            if (i % 4 == 2)
                pre[0] |= 0x20;                 /* install afterwards */
            fzd_reset(&d, geoms[g]);
            d.f.cut_after = k;
            d.f.tear_seed = (uint32_t)k * 2654435761u + 1;
            if (dfota_init(&e, &d.cfg) == DFOTA_OK)
                (void)dfota_install(&e);
            simflash_power_on(&d.f);
            snprintf(name, sizeof name, "%s/j%02x.%02u", dir, geoms[g], i);
            f = fopen(name, "wb");
            if (!f) {
                perror(name);
                return 1;
            }
            fwrite(pre, 1, 2, f);
            for (r = 0; r < d.nregion; r++)
                fwrite(d.f.mem + d.region[r][0], 1, d.region[r][1], f);
            if (fclose(f)) {
                perror(name);
                return 1;
            }
        }
    }
    fzd_free(&d);
    return 0;
}

/* fuzz_snapshot seeds: the snapshot of a record cut mid-install, as is
 * and with its head, for each geometry, with a 16k and a 4k package. */
static int snapshots(const char *dir)
{
    static struct fzd d;
    unsigned g;
    for (g = 0; g < 8; g++) {   /* (g 3: the device with a saved source sector) */
        uint8_t dmode = (uint8_t)(FZD_INPLACE | ((g & 1u) ? FZD_ERASED0 : 0) | ((g & 2u) ? FZD_PROG256 : 0));
        uint32_t rec, len;
        unsigned v;
        fzd_ram4k = (g & 4u) != 0;
        if (fzd_snapshot_state(&d, dmode, &rec, &len)) {
            fprintf(stderr, "snapshots: no DFJ2 record with a snapshot\n");
            return 1;
        }
        for (v = 0; v < 3; v++) {
            /* snapshot only; with the head; snapshot only, a cut in the resume */
            uint8_t pre[2] = { (uint8_t)((g & 3u) | ((g & 4u) ? 0x20u : 0) | (v == 1 ? 0x04u : 0) |
                                         (v == 2 ? 0x10u : 0)), 20 };
            uint32_t at = v == 1 ? 0 : FZD_JR_HEAD;
            char name[64];
            snprintf(name, sizeof name, (g & 4u) ? "s%u.%u.ram4k" : "s%u.%u", g & 3u, v);
            if (write_file(dir, name, "", pre, 2, d.f.mem + rec + at, len - 4 - at))
                return 1;
        }
    }
    fzd_free(&d);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "snapshots"))
        return snapshots(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "journals"))
        return journals(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "images"))
        return images(argv[2]);
    if (argc >= 4 && !strcmp(argv[1], "corpus"))
        return corpus(argv[2], argc - 3, argv + 3);
    fprintf(stderr, "usage: fuzz_seedgen images DIR | corpus CORPUS PKG... | journals DIR | snapshots DIR\n");
    return 2;
}
