/* fuzz_engine: a whole device on the host's simulated NOR flash, the input
 * as the package in staging; dfota_init + dfota_install must return OK or an
 * error, never crash, and never leave a broken device.
 *
 * Input: byte 0 selects the mode, byte 1 a power cut, the rest is the
 * package.
 *   bit 0  a public key is configured (the fixed fuzz key): exercises the
 *          signature checks; without it (pubkey NULL) unsigned payloads
 *          reach the decoder
 *   bit 1  fix up the header's src_sha256 and payload_sha256 to match the
 *          flash before the install, so mutated payloads get past the
 *          digest checks to the decoder
 *   bit 2  decode the payload with a reference run of the decoder and fix up
 *          stream_crc32 and dst_sha256 (when it decodes), so mutated
 *          payloads get past the in-place dry run and the final verify
 *   bit 3  policy: product FZ_PRODUCT and security counter FZ_COUNTER
 *   bit 4  call dfota_check before dfota_install (it writes nothing but the
 *          in-place digest table, and with DFOTA_PKG_F_BLOCKWIN scratch)
 *   bit 5  flash erases to 0x00 instead of 0xFF
 *   bit 6  device layout opposite to the package's (A/B <-> in place)
 *   bit 7  program unit 256 bytes instead of 16
 * Byte 1: 0, no power cut; else dfota_check runs first, then the power goes
 * after 3 * (byte - 1) flash operations of dfota_install, tearing that
 * operation; the device powers up again (dfota_init) and finishes with
 * dfota_resume.
 * The device layout follows the package's in-place flag (unless bit 6), and
 * an in-place device takes the package's sector size when it is 256..4096.
 *
 * Invariants (each traps):
 *  - the result is OK or a known error, DFOTA_ERR_IO only when a power cut
 *    came before the update began; the engine never broke a flash rule;
 *  - staging is never written (in place but for its end: the digest table,
 *    and from dfota_install on the saved sectors' copies before it);
 *  - A/B: bank 0 (the running firmware) is never written; after an error
 *    bank 0 stays active, after OK bank 1 is active and holds the target;
 *  - in place: after any error but DFOTA_ERR_TARGET the firmware region is
 *    untouched (the dry run must reject a bad package before any write);
 *    DFOTA_ERR_TARGET only when the header's dst_sha256 is not the digest of
 *    what the payload decodes to;
 *  - after OK the firmware that boots has the header's dst_sha256 and, when
 *    a reference decode was done, is exactly its result;
 *  - with a power cut, in place: a package that passed dfota_check (the dry
 *    run) must finish with dfota_resume, OK or DFOTA_ERR_TARGET for a lying
 *    header: half the firmware is written, there is no way back (A/B: the
 *    invariants above hold after the resume);
 *  - a power-up afterwards (dfota_init on the same flash) succeeds, finds
 *    nothing pending (in place after DFOTA_ERR_TARGET: still pending, the
 *    FAILED state) and boots the same bank. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dfota/delta.h"
#include "dfota/engine.h"
#include "dfota/error.h"
#include "dfota/patch.h"
#include "dfota/sha256.h"
#include "fuzz_common.h"
#include "host_port.h"

#define M_KEY     0x01u
#define M_FIXDIG  0x02u
#define M_FIXDST  0x04u
#define M_POLICY  0x08u
#define M_CHECK   0x10u
#define M_ERASED0 0x20u
#define M_SWAP    0x40u
#define M_PROG256 0x80u

#define SLOT_SIZE   16384u
#define MAX_PKG     (64u * 1024u)
#define HDR         DFOTA_PKG_HEADER_MAX   /* staging holds at least this */

static uint8_t g_src[FZ_SRC_SIZE];
static uint8_t g_pk[32];

static uint32_t round_up(uint32_t v, uint32_t unit)
{
    return (v + unit - 1) / unit * unit;
}

static int known_err(int rc)
{
    return rc <= DFOTA_OK && rc >= DFOTA_ERR_RAM && rc != DFOTA_ERR_IO;
}

/* ---- the reference decode (bit 2) ---- */

struct ref_io {
    const uint8_t *payload, *src, *dst;
    uint32_t payload_size, src_size, dst_size;
};

/* DZ2 A/B target read-back: one decode call produces the whole A/B target,
 * so the decoder finds every byte in its output and never asks. */
static int ref_dst(void *ctx, uint32_t off, uint8_t *buf, uint32_t len)
{
    const struct ref_io *c = ctx;
    FZ_CHECK(0 && off && len);
    memcpy(buf, c->dst + off, len);
    return 0;
}

static int ref_payload(void *ctx, uint32_t off, uint8_t *buf, uint32_t len)
{
    const struct ref_io *c = ctx;
    FZ_CHECK(len <= c->payload_size && off <= c->payload_size - len);
    memcpy(buf, c->payload + off, len);
    return 0;
}

static int ref_src(void *ctx, uint32_t off, uint8_t *buf, uint32_t len)
{
    const struct ref_io *c = ctx;
    FZ_CHECK(len <= c->src_size && off <= c->src_size - len);
    memcpy(buf, c->src + off, len);
    return 0;
}

/* Decode the payload in staging against the firmware in slot, ignoring the
 * in-place lag rule; on success fill target (address order) and the stream
 * CRC. */
static int ref_decode(const struct dfota_pkg_header *h, const uint8_t *payload, const uint8_t *slot,
                      uint8_t *target, uint32_t *crc)
{
    struct dfota_patch *p = malloc(sizeof *p);
    struct ref_io c = { payload, slot, target, h->payload_size, h->src_size, h->dst_size };
    struct dfota_patch_io io = { &c, ref_payload, ref_src, ref_dst, h->runs, h->nruns };
    uint32_t nb = dz_block_count(h->dst_size, h->sector_size), i, off, len, addr;
    int rc = DFOTA_OK;

    FZ_CHECK(p != NULL);
    *crc = 0;
    if ((rc = dfota_patch_init(p, h)))
        goto out;
    for (i = 0; i < nb; i++) {
        dz_block(i, h->dst_size, h->sector_size, h->runs, h->nruns, &off, &len, &addr);
        FZ_CHECK(addr <= h->dst_size && len <= h->dst_size - addr);
        if ((rc = dfota_patch_decode(p, &io, target + addr, len)))
            goto out;
        *crc = dfota_crc32(*crc, target + addr, len);
    }
    if (!dfota_patch_done(p))
        rc = DFOTA_ERR_CORRUPT;
out:
    free(p);
    return rc;
}

/* ---- the device ---- */

struct device {
    struct simflash f;
    struct dfota_config cfg;
    uint32_t ss;
};

/* In place, the bytes at the end of staging that the engine may write for
 * the package there: its digest table (DFOTA_PKG_F_DEVTABLE), which the
 * dry run of dfota_check writes, and with `saved` before it the copies of
 * its saved source sectors (DFOTA_PKG_F_SAVED), which dfota_install makes;
 * staging is otherwise the package's, and left as it was. */
static uint32_t table_size(const struct device *d, int saved)
{
    struct dfota_pkg_header h;
    uint32_t t, v;
    if (d->cfg.layout.kind != DFOTA_LAYOUT_INPLACE ||
        dfota_pkg_parse(&h, d->f.mem + d->cfg.layout.staging, HDR) != DFOTA_OK ||
        h.sector_size != d->ss)
        return 0;
    t = dfota_devtable_size(&h, d->f.port.prog_size);
    v = dfota_saved_size(&h);
    /* (a package whose copies and table do not fit is refused before any write) */
    if ((uint64_t)h.header_size + h.payload_size + t + v > d->cfg.layout.staging_size)
        return 0;
    return saved ? t + v : t;
}

/* In place, with DFOTA_PKG_F_BLOCKWIN in the header in staging: the dry
 * run programs every block into a scratch slot (its target copies read it
 * back), so dfota_check may write scratch too. */
static int check_writes_scratch(const struct device *d)
{
    struct dfota_pkg_header h;
    return d->cfg.layout.kind == DFOTA_LAYOUT_INPLACE &&
           dfota_pkg_parse(&h, d->f.mem + d->cfg.layout.staging, HDR) == DFOTA_OK &&
           (h.flags & DFOTA_PKG_F_BLOCKWIN);
}

/* Flash images a and b are the same but for the digest table (and, with
 * DFOTA_PKG_F_BLOCKWIN, scratch). */
static int same_but_table(const struct device *d, const uint8_t *a, const uint8_t *b, size_t n)
{
    const struct dfota_layout *l = &d->cfg.layout;
    uint32_t t = table_size(d, 0), end = l->staging + l->staging_size;
    if (check_writes_scratch(d)) {
        uint32_t s0 = l->scratch, s1 = l->scratch + l->scratch_size;
        return memcmp(a, b, s0) == 0 && memcmp(a + s1, b + s1, end - t - s1) == 0 &&
               memcmp(a + end, b + end, n - end) == 0;
    }
    return memcmp(a, b, end - t) == 0 && memcmp(a + end, b + end, n - end) == 0;
}

static void device_init(struct device *d, uint8_t mode, int inplace, uint32_t ss, size_t pkg_len)
{
    struct dfota_layout *l = &d->cfg.layout;
    uint32_t at = 0;
    uint32_t jhalf = dfota_journal_half_size(inplace ? DFOTA_LAYOUT_INPLACE : DFOTA_LAYOUT_AB,
                                             SLOT_SIZE, ss, (mode & M_PROG256) ? 256 : 16);

    memset(d, 0, sizeof *d);
    d->ss = ss;
    l->kind = inplace ? DFOTA_LAYOUT_INPLACE : DFOTA_LAYOUT_AB;
    l->slot_size = SLOT_SIZE;
    l->slot[0] = at;
    at += SLOT_SIZE;
    if (inplace) {
        l->scratch = at;
        l->scratch_size = (DFOTA_MAX_LAG + 2) * ss;
        at += l->scratch_size;
    } else {
        l->slot[1] = at;
        at += SLOT_SIZE;
    }
    l->journal = at;
    l->journal_size = 2 * jhalf;
    at += 2 * jhalf;
    l->staging = at;
    /* (in place, room for the digest table of a DFOTA_PKG_F_DEVTABLE
     * package as large as the slot: 4 entries to a unit of 16 bytes or the
     * program unit, and for the copies of DFOTA_MAX_SAVED saved source
     * sectors, DFOTA_PKG_F_SAVED) */
    l->staging_size = round_up(pkg_len > HDR ? (uint32_t)pkg_len : HDR, ss) +
                      (inplace ? round_up((SLOT_SIZE / ss + 3) / 4 *
                                          ((mode & M_PROG256) ? 256u : 16u), ss) +
                                     DFOTA_MAX_SAVED * ss
                               : 0);
    at += l->staging_size;
    FZ_CHECK(simflash_init(&d->f, NULL, at, ss, (mode & M_PROG256) ? 256 : 16,
                           (mode & M_ERASED0) ? 0x00 : 0xFF) == 0);
    d->cfg.flash = &d->f.port;
    if (mode & M_KEY) {
        d->cfg.pubkey = g_pk;
        d->cfg.crypto = dfota_host_crypto();
    }
    if (mode & M_POLICY) {
        d->cfg.product = FZ_PRODUCT;
        d->cfg.security_counter = FZ_COUNTER;
    }
}

static void check_flash(const struct device *d)
{
    if (d->f.violation) {
        fprintf(stderr, "simflash: %s\n", d->f.why);
        FZ_CHECK(!d->f.violation);
    }
}

/* After a power cut: power up and finish the update as a device would. */
static int recover(struct device *d, struct dfota_engine *e, int *resumed)
{
    int rc;

    simflash_power_on(&d->f);
    FZ_CHECK(dfota_init(e, &d->cfg) == DFOTA_OK);
    *resumed = dfota_pending(e);
    if (!*resumed)
        return DFOTA_ERR_IO;     /* the first journal record did not land: nothing began */
    rc = dfota_resume(e);
    FZ_CHECK(known_err(rc));
    FZ_CHECK(!dfota_pending(e) || rc != DFOTA_OK);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    struct device d;
    struct dfota_layout *l;
    struct dfota_pkg_header h;
    struct dfota_engine *e, *e2;
    const uint8_t *pkg;
    uint8_t *slot0, *staging, *target = NULL, *mem, dig[32], mode, cut;
    size_t pkg_len;
    uint32_t ss = 1024, crc = 0;
    int parsed, inplace, rc, rc_check = DFOTA_OK, ref_ok = 0, cut_hit = 0, resumed = 0;

    if (!ready) {
        uint8_t sk[64];
        fz_image(g_src, FZ_SRC_SIZE, FZ_SRC_SEED);
        fz_keypair(g_pk, sk);
        ready = 1;
    }
    if (size < 2 || size - 2 > MAX_PKG)
        return 0;
    mode = data[0];
    cut = data[1];
    pkg = data + 2;
    pkg_len = size - 2;

    /* The device the package asks for, as a product would be built. */
    parsed = dfota_pkg_parse(&h, pkg, pkg_len) == DFOTA_OK;
    inplace = parsed && (h.flags & DFOTA_PKG_F_INPLACE);
    if (inplace && h.sector_size >= 256 && h.sector_size <= 4096)
        ss = h.sector_size;
    if (mode & M_SWAP)
        inplace = !inplace;
    device_init(&d, mode, inplace, ss, pkg_len);
    l = &d.cfg.layout;
    mem = d.f.mem;
    memcpy(mem + l->slot[0], g_src, FZ_SRC_SIZE);
    memcpy(mem + l->staging, pkg, pkg_len);

    /* Fix-ups, on the copy in staging. */
    /* (digests and CRC are fixed-size fields in both formats: writing the
     * header back changes nothing else, its size included) */
    if (parsed && (mode & M_FIXDIG)) {
        if (h.src_size <= SLOT_SIZE)
            dfota_sha256(mem + l->slot[0], h.src_size, h.src_sha256);
        if ((uint64_t)h.header_size + h.payload_size <= l->staging_size)
            dfota_sha256(mem + l->staging + h.header_size, h.payload_size, h.payload_sha256);
        FZ_CHECK(dfota_pkg_write(&h, mem + l->staging) == DFOTA_OK);
    }
    if (parsed && (mode & M_FIXDST) && h.src_size <= SLOT_SIZE && h.dst_size <= SLOT_SIZE &&
        (uint64_t)h.header_size + h.payload_size <= l->staging_size) {
        target = malloc(h.dst_size + 1);
        FZ_CHECK(target != NULL);
        if (ref_decode(&h, mem + l->staging + h.header_size, mem + l->slot[0], target, &crc) ==
            DFOTA_OK) {
            ref_ok = 1;
            dfota_sha256(target, h.dst_size, h.dst_sha256);
            /* format 2 A/B carries no stream CRC (nothing checks it) */
            if (h.format_version == DFOTA_PKG_FORMAT_V1 || (h.flags & DFOTA_PKG_F_INPLACE))
                h.stream_crc32 = crc;
            FZ_CHECK(dfota_pkg_write(&h, mem + l->staging) == DFOTA_OK);
        }
    }
    if (parsed)   /* the header as the engine will see it */
        FZ_CHECK(dfota_pkg_parse(&h, mem + l->staging, HDR) == DFOTA_OK);

    slot0 = malloc(SLOT_SIZE);
    staging = malloc(l->staging_size);
    e = malloc(sizeof *e);
    e2 = malloc(sizeof *e2);
    FZ_CHECK(slot0 && staging && e && e2);
    memcpy(slot0, mem + l->slot[0], SLOT_SIZE);
    memcpy(staging, mem + l->staging, l->staging_size);

    FZ_CHECK(dfota_init(e, &d.cfg) == DFOTA_OK);
    FZ_CHECK(!dfota_pending(e) && dfota_active_slot(e) == 0);
    if ((mode & M_CHECK) || cut) {
        uint8_t *before = malloc(d.f.size);
        FZ_CHECK(before != NULL);
        memcpy(before, mem, d.f.size);
        rc_check = dfota_check(e);
        FZ_CHECK(known_err(rc_check));
        check_flash(&d);
        /* the check writes nothing, but for the in-place digest table */
        FZ_CHECK(same_but_table(&d, before, mem, d.f.size));
        free(before);
    }
    rc = rc_check;
    if (rc == DFOTA_OK) {
        if (cut) {
            d.f.cut_after = d.f.ops + 3u * (cut - 1u);
            d.f.tear_seed = 0x9E3779B9u * cut;
        }
        rc = dfota_install(e);
        if (d.f.powered_off) {
            cut_hit = 1;
            FZ_CHECK(rc == DFOTA_ERR_IO);
            check_flash(&d);
            rc = recover(&d, e, &resumed);
        } else {
            d.f.cut_after = UINT64_MAX;
        }
    }
    FZ_CHECK(known_err(rc) || (cut_hit && !resumed && rc == DFOTA_ERR_IO));
    check_flash(&d);
    FZ_CHECK(memcmp(staging, mem + l->staging, l->staging_size - table_size(&d, 1)) == 0);
    if (rc == DFOTA_OK)
        FZ_CHECK(parsed);    /* the engine parsed what we parsed */

    if (!inplace) {
        FZ_CHECK(memcmp(slot0, mem + l->slot[0], SLOT_SIZE) == 0);
        FZ_CHECK(dfota_active_slot(e) == (rc == DFOTA_OK ? 1u : 0u));
    } else {
        FZ_CHECK(dfota_active_slot(e) == 0);
        if (rc != DFOTA_OK && rc != DFOTA_ERR_TARGET && !resumed)
            FZ_CHECK(memcmp(slot0, mem + l->slot[0], SLOT_SIZE) == 0);
        if (resumed && rc_check == DFOTA_OK) {
            /* It passed the dry run, and half of it is written now. */
            if (rc != DFOTA_OK && rc != DFOTA_ERR_TARGET)
                fprintf(stderr, "in place: passed dfota_check, then after a power cut at "
                        "operation %u dfota_resume says: %s\n", 3u * (cut - 1u), dfota_strerror(rc));
            FZ_CHECK(rc == DFOTA_OK || rc == DFOTA_ERR_TARGET);
        }
    }
    if (rc == DFOTA_ERR_TARGET)
        FZ_CHECK(!ref_ok);   /* the header named the right digest: no excuse */
    if (rc == DFOTA_OK) {
        const uint8_t *fw = mem + l->slot[dfota_active_slot(e)];
        dfota_sha256(fw, h.dst_size, dig);
        FZ_CHECK(memcmp(dig, h.dst_sha256, 32) == 0);
        if (ref_ok)
            FZ_CHECK(memcmp(fw, target, h.dst_size) == 0);
    }
    if (fz_verbose())
        fprintf(stderr, "fuzz_engine: mode 0x%02x, cut %u%s, %s device (sector %u), %s package: "
                "check %s, result %s%s\n",
                mode, cut, cut_hit ? (resumed ? " (hit, resumed)" : " (hit, nothing pending)") : "",
                inplace ? "in-place" : "A/B", ss,
                parsed ? ((h.flags & DFOTA_PKG_F_INPLACE) ? "in-place" : "A/B") : "unparsable",
                dfota_strerror(rc_check), dfota_strerror(rc), ref_ok ? " (reference decode ok)" : "");

    /* Power-up after the install. */
    FZ_CHECK(dfota_init(e2, &d.cfg) == DFOTA_OK);
    /* In place, a header that lies about the target leaves the update
     * pending (FAILED: do not boot, report, retry), never IDLE over an
     * image that is not the target; anything else leaves nothing pending. */
    if (dfota_pending(e2))
        FZ_CHECK(inplace && rc == DFOTA_ERR_TARGET);
    FZ_CHECK(dfota_active_slot(e2) == dfota_active_slot(e));
    check_flash(&d);

    free(e);
    free(e2);
    free(slot0);
    free(staging);
    free(target);
    simflash_free(&d.f);
    return 0;
}
