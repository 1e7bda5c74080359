/* See fz_device.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dfota/delta2.h"
#include "dfota/engine.h"
#include "dfota/error.h"
#include "dfota/sha256.h"
#include "encoder.h"
#include "fuzz_common.h"
#include "fz_device.h"

#define FZD_SECTOR 1024u
#define FZD_SLOT   8192u
#define FZD_LAG    1u

static struct {
    int built;
    uint8_t *pkg;
    size_t pkg_len;
    uint8_t dst[FZ_DST_MAX];
    size_t dst_len;
} pk[6];                          /* [0] A/B, [1] in place, [2] in place 4k, [3] in place
                                     in runs, [4] in place with target copies over the
                                     whole block (DFOTA_PKG_F_BLOCKWIN), [5] in place with
                                     a saved source sector (DFOTA_PKG_F_SAVED) */

/* [3]: the write order in runs (DFOTA_PKG_F_RUNS) of the 6 sectors of
 * release 1 (6000 bytes, the last sector short): 0-1, 5-4 (the short one
 * first), 2-3. The in-place device on flash that erases to 0x00 uses it. */
static const struct dfota_pkg_run fzd_runs[] = { { 0, 2, 0 }, { 4, 2, 1 }, { 2, 2, 0 } };

static uint8_t g_src[FZ_SRC_SIZE];
static uint8_t g_pk[32];

int fzd_ram4k;

static void build(unsigned idx)
{
    int inplace = idx != 0;
    struct dfota_diff_opts o;
    struct dfota_pkg_meta meta = { FZ_PRODUCT, "1.0.0", "1.1.0", FZ_COUNTER, 0 };
    uint8_t sk[64];

    fz_image(g_src, FZ_SRC_SIZE, FZ_SRC_SEED);
    fz_keypair(g_pk, sk);
    memset(&o, 0, sizeof o);
    o.inplace = inplace;
    o.sector_size = FZD_SECTOR;
    /* [5]: lag 0 (the device's scratch has room for lag 1) and direction
     * auto, the one that saves sectors: release 4 swaps two sectors, one of
     * which the order must have overwritten when the other reads it */
    o.lag = idx == 5 ? 0 : FZD_LAG;
    o.direction = idx == 3 ? 2 : idx == 5 ? 0 : inplace ? 1 : 0;
    o.order = idx == 3 ? fzd_runs : NULL;
    o.norder = idx == 3 ? (uint32_t)(sizeof fzd_runs / sizeof fzd_runs[0]) : 0;
    o.decoder_ram = idx == 2 ? DFOTA_DECODER_RAM_4K : 0;
    /* [4]: DZ2 (the flag is DZ2's), a target that repeats new bytes within
     * a sector beyond the decoder's ring; window auto gives the flag */
    o.codec = idx == 4 ? DFOTA_ALG_DZ2 : 0;
    pk[idx].dst_len = fz_release(g_src, pk[idx].dst, idx == 5 ? 4 : idx == 4 ? 3 : inplace ? 1 : 0);
    if (dfota_package_build(g_src, FZ_SRC_SIZE, pk[idx].dst, pk[idx].dst_len, &o, &meta,
                            sk, &pk[idx].pkg, &pk[idx].pkg_len, NULL)) {
        fprintf(stderr, "fz_device: package build failed\n");
        abort();
    }
    if (idx == 3) {
        struct dfota_pkg_header h;
        if (dfota_pkg_parse(&h, pk[idx].pkg, pk[idx].pkg_len) || !(h.flags & DFOTA_PKG_F_RUNS) ||
            dz_block_count(h.dst_size, FZD_SECTOR) != 6) {
            fprintf(stderr, "fz_device: the package in runs has no such order\n");
            abort();
        }
    }
    if (idx == 4) {
        struct dfota_pkg_header h;
        if (dfota_pkg_parse(&h, pk[idx].pkg, pk[idx].pkg_len) || !(h.flags & DFOTA_PKG_F_BLOCKWIN)) {
            fprintf(stderr, "fz_device: the package has no DFOTA_PKG_F_BLOCKWIN\n");
            abort();
        }
    }
    if (idx == 5) {
        struct dfota_pkg_header h;
        if (dfota_pkg_parse(&h, pk[idx].pkg, pk[idx].pkg_len) || !(h.flags & DFOTA_PKG_F_SAVED) ||
            h.nsaved != 1) {
            fprintf(stderr, "fz_device: the package has no saved source sector\n");
            abort();
        }
    }
    pk[idx].built = 1;
}

void fzd_reset(struct fzd *d, uint8_t mode)
{
    int inplace = (mode & FZD_INPLACE) != 0;
    uint32_t prog = (mode & FZD_PROG256) ? 256 : 16, at = 0, jhalf, ss = FZD_SECTOR;
    uint8_t erased = (mode & FZD_ERASED0) ? 0x00 : 0xFF;
    struct dfota_layout *l = &d->cfg.layout;

    /* in place: the 4k profile's package; else on 0x00-erased flash with
     * 16-byte units the one in runs, with 256-byte units the one with a
     * saved source sector; on 0xFF-erased flash with 256-byte units the one
     * with target copies over the whole block, with 16-byte units the
     * forward one */
    unsigned idx = inplace ? (fzd_ram4k ? 2u
                              : (mode & FZD_ERASED0) ? ((mode & FZD_PROG256) ? 5u : 3u)
                              : (mode & FZD_PROG256) ? 4u : 1u) : 0u;

    if (!pk[idx].built)
        build(idx);
    if (d->f.mem && d->mode == (mode & FZD_GEOM) && d->pki == idx) {
        /* same geometry: reset the contents only */
        simflash_set_cache(&d->f, 0);
        simflash_set_ecc(&d->f, 0);
        memset(d->f.mem, erased, d->f.size);
        d->f.violation = 0;
        d->f.why[0] = 0;
        d->f.tear = SIMFLASH_TEAR_PREFIX;
        d->f.clean_cut = 0;
        simflash_power_on(&d->f);
        simflash_reset_counters(&d->f);
    } else {
        fzd_free(d);
        memset(d, 0, sizeof *d);
        d->mode = mode & FZD_GEOM;
        d->pki = idx;
        jhalf = dfota_journal_half_size(inplace ? DFOTA_LAYOUT_INPLACE : DFOTA_LAYOUT_AB, FZD_SLOT,
                                        ss, prog);
        l->kind = inplace ? DFOTA_LAYOUT_INPLACE : DFOTA_LAYOUT_AB;
        l->slot_size = FZD_SLOT;
        l->slot[0] = at;
        at += FZD_SLOT;
        if (inplace) {
            l->scratch = at;
            l->scratch_size = (FZD_LAG + 2) * ss;
            at += l->scratch_size;
        } else {
            l->slot[1] = at;
            at += FZD_SLOT;
        }
        l->journal = at;
        l->journal_size = 2 * jhalf;
        at += 2 * jhalf;
        l->staging = at;
        {
            /* the package, the copies of its saved source sectors and the
             * digest table an in-place dry run writes */
            struct dfota_pkg_header h;
            l->staging_size = ((uint32_t)pk[idx].pkg_len + ss - 1) / ss * ss;
            if (dfota_pkg_parse(&h, pk[idx].pkg, pk[idx].pkg_len) == DFOTA_OK)
                l->staging_size += dfota_saved_size(&h) + dfota_devtable_size(&h, prog);
        }
        at += l->staging_size;
        if (simflash_init(&d->f, NULL, at, ss, prog, erased))
            abort();
        d->cfg.flash = &d->f.port;
        d->cfg.crypto = dfota_host_crypto();
        d->cfg.pubkey = g_pk;
        d->cfg.product = FZ_PRODUCT;
        d->cfg.security_counter = FZ_COUNTER;
        d->nregion = 0;
        d->region[d->nregion][0] = l->journal;
        d->region[d->nregion++][1] = l->journal_size;
        if (inplace) {
            d->region[d->nregion][0] = l->scratch;
            d->region[d->nregion++][1] = l->scratch_size;
            d->region[d->nregion][0] = l->slot[0];
            d->region[d->nregion++][1] = FZD_SLOT;
            /* the saved sectors' copies (DFOTA_PKG_F_SAVED): the end of
             * staging before the digest table, made before the update's
             * first journal record; a resume reads them */
            {
                struct dfota_pkg_header h;
                uint32_t v;
                if (dfota_pkg_parse(&h, pk[idx].pkg, pk[idx].pkg_len) == DFOTA_OK &&
                    (v = dfota_saved_size(&h)) != 0) {
                    d->region[d->nregion][0] =
                        l->staging + l->staging_size - dfota_devtable_size(&h, prog) - v;
                    d->region[d->nregion++][1] = v;
                }
            }
        } else {
            d->region[d->nregion][0] = l->slot[1];
            d->region[d->nregion++][1] = FZD_SLOT;
        }
    }
    memcpy(d->f.mem + d->cfg.layout.slot[0], g_src, FZ_SRC_SIZE);
    memcpy(d->f.mem + d->cfg.layout.staging, pk[idx].pkg, pk[idx].pkg_len);
    d->pkg = pk[idx].pkg;
    d->pkg_len = pk[idx].pkg_len;
    d->dst = pk[idx].dst;
    d->dst_len = pk[idx].dst_len;
}

void fzd_free(struct fzd *d)
{
    if (d->f.mem)
        simflash_free(&d->f);
}

int fzd_staging_kept(const struct fzd *d, const uint8_t *before)
{
    const struct dfota_layout *l = &d->cfg.layout;
    struct dfota_pkg_header h;
    uint32_t keep = l->staging_size;
    if (l->kind == DFOTA_LAYOUT_INPLACE && dfota_pkg_parse(&h, d->pkg, d->pkg_len) == DFOTA_OK)
        keep -= dfota_saved_size(&h) + dfota_devtable_size(&h, d->f.port.prog_size);
    return memcmp(before, d->f.mem + l->staging, keep) == 0;
}

int fzd_boots_target(const struct fzd *d, const struct dfota_engine *e)
{
    return memcmp(d->f.mem + d->cfg.layout.slot[dfota_active_slot(e)], d->dst, d->dst_len) == 0;
}

void fzd_check_flash(struct fzd *d, int (*known)(void))
{
    if (d->f.violation) {
        fprintf(stderr, "simflash: %s\n", d->f.why);
        if (known && known()) {
            d->f.violation = 0;
            return;
        }
        FZ_CHECK(!d->f.violation);
    }
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void fzd_record_crc(struct fzd *d, uint32_t rec, uint32_t len)
{
    uint8_t *p = d->f.mem + rec;
    uint32_t crc = dfota_crc32(0, p, len - 4);
    p[len - 4] = (uint8_t)crc;
    p[len - 3] = (uint8_t)(crc >> 8);
    p[len - 2] = (uint8_t)(crc >> 16);
    p[len - 1] = (uint8_t)(crc >> 24);
}

int fzd_snapshot_state(struct fzd *d, uint8_t mode, uint32_t *rec, uint32_t *len)
{
    struct dfota_engine *e = malloc(sizeof *e);
    uint64_t total;
    uint32_t h, best_seq = 0, half;
    int found = 0;

    if (!e)
        return -1;
    mode |= FZD_INPLACE;
    fzd_reset(d, mode);
    if (dfota_init(e, &d->cfg) || dfota_install(e)) {
        free(e);
        return -1;
    }
    total = d->f.ops;
    fzd_reset(d, mode);
    d->f.cut_after = total / 2;
    d->f.clean_cut = 1;
    if (dfota_init(e, &d->cfg) == DFOTA_OK)
        (void)dfota_install(e);
    simflash_power_on(&d->f);
    free(e);
    half = d->cfg.layout.journal_size / 2;
    for (h = 0; h < 2; h++) {
        const uint8_t *p = d->f.mem + d->cfg.layout.journal + h * half;
        uint32_t l = le32(p + 8), seq = le32(p + 4);
        if (le32(p) != FZD_JR_MAGIC || l < FZD_JR_HEAD + 8 || l > half)
            continue;
        if (dfota_crc32(0, p, l - 4) != le32(p + l - 4))
            continue;
        if (!found || seq > best_seq) {
            found = 1;
            best_seq = seq;
            *rec = d->cfg.layout.journal + h * half;
            *len = l;
        }
    }
    return found ? 0 : -1;
}
