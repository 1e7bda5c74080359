/* dfota apply: the device engine on a simulated flash. */
#include <stdlib.h>
#include <string.h>
#include "dfota/engine.h"
#include "dfota/error.h"
#include "host_port.h"

struct prog_fwd {
    void (*fn)(void *ctx, int phase, unsigned percent);
    void *ctx;
};

static void fwd_progress(void *ctx, enum dfota_phase ph, unsigned pct)
{
    struct prog_fwd *p = ctx;
    if (p->fn)
        p->fn(p->ctx, (int)ph, pct);
}

/* v rounded up to unit, in 64 bits: the caller checks it fits the flash */
static uint64_t up(uint64_t v, uint32_t unit)
{
    return (v + unit - 1) / unit * unit;
}

int dfota_host_apply(const uint8_t *src, size_t src_len, const uint8_t *pkg, size_t pkg_len,
                     const uint8_t *pubkey, uint8_t **out, size_t *out_len,
                     void (*progress)(void *ctx, int phase, unsigned percent), void *progress_ctx,
                     struct dfota_host_apply_stats *stats)
{
    return dfota_host_apply_dev(src, src_len, pkg, pkg_len, pubkey, NULL, out, out_len, progress,
                                progress_ctx, stats);
}

int dfota_host_apply_dev(const uint8_t *src, size_t src_len, const uint8_t *pkg, size_t pkg_len,
                         const uint8_t *pubkey, const struct dfota_host_device *dev,
                         uint8_t **out, size_t *out_len,
                         void (*progress)(void *ctx, int phase, unsigned percent),
                         void *progress_ctx, struct dfota_host_apply_stats *stats)
{
    static const struct dfota_host_device none;
    struct dfota_pkg_header h;
    struct dfota_config cfg;
    struct dfota_engine *e;
    struct simflash f;
    struct prog_fwd pf = { progress, progress_ctx };
    uint32_t ss, slot, jhalf;
    uint64_t total, at, slot64, staging;
    int rc;

    if ((rc = dfota_pkg_parse(&h, pkg, pkg_len)))
        return rc;
    if ((rc = dfota_pkg_check_size(&h, pkg_len)))
        return rc;
    if (!dev)
        dev = &none;
    memset(&cfg, 0, sizeof cfg);
    cfg.layout.kind = dev->layout ? (uint8_t)dev->layout
                    : (h.flags & DFOTA_PKG_F_INPLACE) ? DFOTA_LAYOUT_INPLACE : DFOTA_LAYOUT_AB;
    ss = dev->sector_size ? dev->sector_size
         : (h.flags & DFOTA_PKG_F_INPLACE) && h.sector_size ? h.sector_size : 4096;
    if (ss < 256 || (ss & (ss - 1)))
        return DFOTA_ERR_ARG;
    /* Every size in 64 bits until it is known to fit the 32-bit flash. */
    if (dev->slot_size) {
        slot64 = dev->slot_size;
        if (slot64 % ss)
            return DFOTA_ERR_ARG;
        if (src_len > slot64)
            return DFOTA_ERR_NOSPACE;
    } else {
        slot64 = up(src_len > h.dst_size ? src_len : h.dst_size, ss);
    }
    if (!slot64)
        slot64 = ss;
    /* the package, and in place the saved sectors' copies and the digest
     * table after it (dfota_staging_need) */
    staging = up(up(pkg_len, ss) + (uint64_t)dfota_saved_size(&h) + dfota_devtable_size(&h, 16), ss);
    if (slot64 > UINT32_MAX || staging > UINT32_MAX)
        return DFOTA_ERR_NOSPACE;
    slot = (uint32_t)slot64;
    jhalf = dfota_journal_half_size(cfg.layout.kind, slot, ss, 16);
    if (!jhalf)
        return DFOTA_ERR_NOSPACE;
    cfg.product = dev->product;
    cfg.security_counter = dev->security_counter;
    total = cfg.layout.kind == DFOTA_LAYOUT_AB ? 0
        : (dev->scratch_sectors ? dev->scratch_sectors : h.lag + 2u) * (uint64_t)ss;
    if (total > UINT32_MAX)
        return DFOTA_ERR_NOSPACE;
    cfg.layout.scratch_size = (uint32_t)total;
    /* slots (or slot and scratch), journal, staging: every address fits
     * in 32 bits when the end does */
    total = slot64 + (cfg.layout.kind == DFOTA_LAYOUT_AB ? slot64 : cfg.layout.scratch_size) +
            2 * (uint64_t)jhalf + staging;
    if (total > UINT32_MAX)
        return DFOTA_ERR_NOSPACE;
    at = 0;
    cfg.layout.slot[0] = (uint32_t)at;
    at += slot;
    if (cfg.layout.kind == DFOTA_LAYOUT_AB) {
        cfg.layout.slot[1] = (uint32_t)at;
        at += slot;
    } else {
        cfg.layout.scratch = (uint32_t)at;
        at += cfg.layout.scratch_size;
    }
    cfg.layout.slot_size = slot;
    cfg.layout.journal = (uint32_t)at;
    cfg.layout.journal_size = 2 * jhalf;
    at += 2 * (uint64_t)jhalf;
    cfg.layout.staging = (uint32_t)at;
    cfg.layout.staging_size = (uint32_t)staging;
    if (simflash_init(&f, NULL, (uint32_t)total, ss, 16, 0xFF))
        return DFOTA_ERR_ARG;
    if (src_len)
        memcpy(f.mem + cfg.layout.slot[0], src, src_len);
    memcpy(f.mem + cfg.layout.staging, pkg, pkg_len);

    cfg.flash = &f.port;
    cfg.crypto = dfota_host_crypto();
    cfg.pubkey = pubkey;
    cfg.progress = fwd_progress;
    cfg.progress_ctx = &pf;

    e = malloc(sizeof *e);
    if (!e) {
        simflash_free(&f);
        return DFOTA_ERR_ARG;
    }
    rc = dfota_init(e, &cfg);
    if (!rc)
        rc = dfota_install(e);
    if (!rc && f.violation)
        rc = DFOTA_ERR_IO;
    if (!rc) {
        uint32_t base = cfg.layout.slot[dfota_active_slot(e)];
        *out = malloc(h.dst_size ? h.dst_size : 1);
        if (!*out) {
            rc = DFOTA_ERR_ARG;
        } else {
            memcpy(*out, f.mem + base, h.dst_size);
            *out_len = h.dst_size;
        }
    }
    if (stats) {
        uint32_t s, first = cfg.layout.slot[0] / ss, n = slot / ss * (cfg.layout.kind == DFOTA_LAYOUT_AB ? 2 : 1);
        memset(stats, 0, sizeof *stats);
        stats->erases = f.erases;
        stats->progs = f.progs;
        stats->prog_bytes = f.prog_bytes;
        stats->read_bytes = f.read_bytes;
        stats->engine_ram = (uint32_t)sizeof(struct dfota_engine);
        for (s = first; s < first + n; s++)
            if (f.erase_count[s] > stats->max_sector_erases)
                stats->max_sector_erases = f.erase_count[s];
    }
    free(e);
    simflash_free(&f);
    return rc;
}
