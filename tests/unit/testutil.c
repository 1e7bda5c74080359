#ifdef TU_CLI
#define _POSIX_C_SOURCE 200809L
#include <unistd.h>
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "dfota/delta2.h"
#include "dfota/error.h"
#include "dfota/sha256.h"
#include "testutil.h"

uint32_t tu_rand(uint32_t *s)
{
    /* xorshift32 */
    uint32_t x = *s ? *s : 1;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

uint8_t *tu_image(size_t len, uint32_t seed)
{
    uint8_t *p = malloc(len ? len : 1);
    size_t i = 0;

    while (i < len) {
        uint32_t kind = tu_rand(&seed) % 10, n = 16 + tu_rand(&seed) % 240, k;
        for (k = 0; k < n && i < len; k++) {
            uint32_t r = tu_rand(&seed);
            if (kind < 6) {          /* code: a small alphabet of halfwords */
                static const uint8_t op[] = { 0x46, 0x68, 0x60, 0xb5, 0xbd, 0xf0, 0xf8, 0x47, 0x2b, 0xd1 };
                p[i] = (i & 1) ? op[r % sizeof op] : (uint8_t)(r % 64);
            } else if (kind < 8) {   /* pointers into flash */
                static const uint8_t w[4] = { 0x00, 0x00, 0x08, 0x00 };
                p[i] = (i % 4 == 0) ? (uint8_t)(r & 0xFC) : (i % 4 == 1) ? (uint8_t)(r % 8) : w[i % 4];
            } else if (kind < 9) {   /* text */
                p[i] = (uint8_t)('a' + r % 26);
            } else {                 /* padding */
                p[i] = 0xFF;
            }
            i++;
        }
    }
    return p;
}

uint8_t *tu_release(const uint8_t *img, size_t len, uint32_t seed, size_t *out_len)
{
    size_t ins_at = len / 3, ins_len = 600, del_at = 2 * len / 3, del_len = 300, i, o = 0;
    uint8_t *extra = tu_image(ins_len, seed ^ 0x5555);
    uint8_t *q = malloc(len + ins_len + 1);

    if (len < 2000) {
        memcpy(q, img, len);
        for (i = 0; i < len; i += 97)
            q[i] ^= 0x5A;
        *out_len = len;
        free(extra);
        return q;
    }
    for (i = 0; i < len; i++) {
        if (i == ins_at) {
            memcpy(q + o, extra, ins_len);
            o += ins_len;
        }
        if (i >= del_at && i < del_at + del_len)
            continue;
        q[o++] = img[i];
    }
    /* constants and pointers that moved */
    for (i = 0; i + 4 <= o; i += 509 + (tu_rand(&seed) % 64) * 4)
        q[i] = (uint8_t)(q[i] + 0x40);
    free(extra);
    *out_len = o;
    return q;
}

void tu_keys(uint8_t pk[32], uint8_t sk[64])
{
    uint8_t seed[32];
    memset(seed, 0x42, sizeof seed);
    if (dfota_host_keypair(seed, pk, sk))
        abort();
}

unsigned tu_pkg_format;
const char *tu_codec = "auto";
unsigned tu_block_digest;
#if DFOTA_CFG_DECODER_RAM_SMALL
const char *tu_decoder_ram = "4k";
#else
const char *tu_decoder_ram = "16k";
#endif

#ifdef TU_CLI
/* A build of libdfota with another decoder RAM profile cannot link the
 * encoder (its model tables have the default build's sizes): packages come
 * from the dfota CLI (TU_CLI), unsigned, and are signed here with the test
 * key as dfota_package_build signs. */
static void tu_write(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f))
        abort();
}

static uint8_t *build(const uint8_t *src, size_t slen, const uint8_t *dst, size_t dlen,
                      int inplace, uint32_t sector, uint32_t lag, int direction,
                      const struct dfota_pkg_run *order, uint32_t norder, const char *product,
                      size_t *plen)
{
    char dir[] = "/tmp/dfota-tu-XXXXXX", cmd[2048], a[64], b[64], o[64], d[16 * 24 + 16];
    struct dfota_pkg_header h;
    uint8_t pk[32], sk[64], kid[32], *pkg;
    FILE *f;
    long n;
    int rc;

    if (!mkdtemp(dir))
        abort();
    snprintf(a, sizeof a, "%s/old", dir);
    snprintf(b, sizeof b, "%s/new", dir);
    snprintf(o, sizeof o, "%s/pkg", dir);
    tu_write(a, src, slen);
    tu_write(b, dst, dlen);
    /* --direction: a name, or the runs as a-b (b < a: highest first) */
    snprintf(d, sizeof d, "%s", direction == 1 ? "forward" : direction == -1 ? "backward"
                                : direction == 3 ? "plain" : "auto");
    if (direction == 2) {
        size_t at = 0;
        uint32_t k;
        if (!norder || norder > DFOTA_MAX_RUNS)
            abort();
        for (k = 0; k < norder; k++) {
            uint32_t lo = order[k].first, hi = order[k].first + order[k].n - 1;
            int w = lo == hi ? snprintf(d + at, sizeof d - at, "%s%u", k ? "," : "", lo)
                    : order[k].back ? snprintf(d + at, sizeof d - at, "%s%u-%u", k ? "," : "", hi, lo)
                                    : snprintf(d + at, sizeof d - at, "%s%u-%u", k ? "," : "", lo, hi);
            if (w < 0 || (size_t)w >= sizeof d - at)
                abort();
            at += (size_t)w;
        }
    }
    snprintf(cmd, sizeof cmd,
             "%s diff -q --unsigned --input-format bin --from-version 1.0.0 --to-version 1.1.0 "
             "--decoder-ram %s --codec %s --package-format %u --block-digest %s %s%s %s%s "
             "--sector-size %u --scratch-sectors %u --direction %s %s %s -o %s",
             TU_CLI, tu_decoder_ram, tu_codec, tu_pkg_format ? tu_pkg_format : 2u,
             tu_block_digest == 16 ? "16" : tu_block_digest == 4 ? "4" : "device",
             product && product[0] ? "--product " : "", product && product[0] ? product : "",
             "--layout ", inplace ? "inplace" : "ab", inplace ? sector : 4096u, lag + 2,
             d, a, b, o);
    if (system(cmd) != 0) {
        fprintf(stderr, "tu_package: %s failed\n", cmd);
        abort();
    }
    f = fopen(o, "rb");
    if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET))
        abort();
    pkg = malloc((size_t)n);
    if (!pkg || fread(pkg, 1, (size_t)n, f) != (size_t)n)
        abort();
    fclose(f);
    remove(a);
    remove(b);
    remove(o);
    rmdir(dir);
    /* sign it: key id, then the signature over the bytes before it (a
     * package of a codec this library lacks stays unsigned: it cannot parse
     * it, nor can the engine, which refuses it before the signature) */
    tu_keys(pk, sk);
    *plen = (size_t)n;
    rc = dfota_pkg_parse(&h, pkg, (size_t)n);
    if (rc == DFOTA_ERR_ALGORITHM)
        return pkg;
    if (rc)
        abort();
    dfota_sha256(pk, 32, kid);
    memcpy(h.key_id, kid, DFOTA_KEY_ID_LEN);
    if (dfota_pkg_write(&h, pkg) ||
        dfota_host_sign(sk, pkg, dfota_pkg_signed_size(&h), pkg + dfota_pkg_signed_size(&h)))
        abort();
    return pkg;
}
#else
static uint8_t *build(const uint8_t *src, size_t slen, const uint8_t *dst, size_t dlen,
                      int inplace, uint32_t sector, uint32_t lag, int direction,
                      const struct dfota_pkg_run *order, uint32_t norder, const char *product,
                      size_t *plen)
{
    struct dfota_diff_opts o;
    struct dfota_pkg_meta meta = { product, "1.0.0", "1.1.0", 0, 0 };
    uint8_t pk[32], sk[64], *pkg = NULL;
    int rc;

    memset(&o, 0, sizeof o);
    o.inplace = inplace;
    o.sector_size = sector;
    o.lag = lag;
    o.direction = direction;
    o.order = direction == 2 ? order : NULL;
    o.norder = direction == 2 ? norder : 0;
    meta.format_version = tu_pkg_format;
    tu_keys(pk, sk);
    o.decoder_ram = tu_decoder_ram && !strcmp(tu_decoder_ram, "4k") ? DFOTA_DECODER_RAM_4K : 0;
    o.block_digest = tu_block_digest;
    o.codec = !tu_codec || !strcmp(tu_codec, "auto") ? 0
              : !strcmp(tu_codec, "dz1") ? DFOTA_ALG_DZ1 : DFOTA_ALG_DZ2;
    rc = dfota_package_build(src, slen, dst, dlen, &o, &meta, sk, &pkg, plen, NULL);
    if (rc) {
        fprintf(stderr, "tu_package: %s\n", dfota_strerror(rc));
        abort();
    }
    return pkg;
}
#endif

uint8_t *tu_package(const uint8_t *src, size_t slen, const uint8_t *dst, size_t dlen, int inplace,
                    uint32_t sector, uint32_t lag, int direction, const char *product,
                    size_t *plen)
{
    if (direction == 2)
        abort();                 /* (tu_package_order) */
    return build(src, slen, dst, dlen, inplace, sector, lag, direction, NULL, 0, product, plen);
}

uint8_t *tu_package_order(const uint8_t *src, size_t slen, const uint8_t *dst, size_t dlen,
                          uint32_t sector, uint32_t lag, const struct dfota_pkg_run *order,
                          uint32_t norder, const char *product, size_t *plen)
{
    return build(src, slen, dst, dlen, 1, sector, lag, 2, order, norder, product, plen);
}

uint32_t tu_layout(struct dfota_layout *l, int kind, uint32_t sector, uint32_t slot_size,
                   uint32_t scratch_sectors, uint32_t staging_size)
{
    uint32_t jhalf, at = 0;

    memset(l, 0, sizeof *l);
    slot_size = (slot_size + sector - 1) / sector * sector;
    jhalf = dfota_journal_half_size(kind, slot_size, sector, 16);
    staging_size = (staging_size + sector - 1) / sector * sector;
    l->kind = (uint8_t)kind;
    l->slot[0] = at;
    at += slot_size;
    if (kind == DFOTA_LAYOUT_AB) {
        l->slot[1] = at;
        at += slot_size;
    } else {
        l->scratch = at;
        l->scratch_size = scratch_sectors * sector;
        at += l->scratch_size;
    }
    l->slot_size = slot_size;
    l->journal = at;
    l->journal_size = 2 * jhalf;
    at += 2 * jhalf;
    l->staging = at;
    l->staging_size = staging_size;
    return at + staging_size;
}

void tu_device_init(struct tu_device *d, int kind, uint32_t sector, uint32_t slot_size,
                    uint32_t scratch_sectors, uint32_t staging_size)
{
    uint32_t at;

    memset(d, 0, sizeof *d);
    at = tu_layout(&d->cfg.layout, kind, sector, slot_size, scratch_sectors, staging_size);
    if (simflash_init(&d->flash, NULL, at, sector, 16, 0xFF))
        abort();
    tu_keys(d->pk, (uint8_t[64]){ 0 });
    d->cfg.flash = &d->flash.port;
    d->cfg.crypto = dfota_host_crypto();
    d->cfg.pubkey = d->pk;
}

void tu_device_free(struct tu_device *d)
{
    simflash_free(&d->flash);
}

void tu_device_load(struct tu_device *d, unsigned slot, const uint8_t *fw, size_t len,
                    const uint8_t *pkg, size_t plen)
{
    memcpy(d->flash.mem + d->cfg.layout.slot[slot], fw, len);
    memcpy(d->flash.mem + d->cfg.layout.staging, pkg, plen);
}

struct tu_pair *tu_pair_new(size_t n, uint32_t seed)
{
    struct tu_pair *p = calloc(1, sizeof *p);
    if (!p)
        abort();
    p->alen = n;
    p->a = tu_image(n, seed);
    p->b = tu_release(p->a, n, seed + 1, &p->blen);
    return p;
}

void tu_pair_free(struct tu_pair *p)
{
    if (p) {
        free(p->a);
        free(p->b);
        free(p);
    }
}

void tu_attempt(const struct tu_pair *p, int kind, const uint8_t *pkg, size_t plen,
                const char *product, uint32_t scratch_sectors, int check_first, int want)
{
    struct tu_device d;
    struct dfota_engine e;
    uint8_t *before;
    int rc;

    tu_device_init(&d, kind, 4096, (uint32_t)p->alen + 4096, scratch_sectors,
                   2 * (uint32_t)p->alen);
    tu_device_load(&d, 0, p->a, p->alen, pkg, plen);
    if (product)
        d.cfg.product = product;
    before = malloc(d.flash.size);
    assert_non_null(before);
    memcpy(before, d.flash.mem, d.flash.size);
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    simflash_reset_counters(&d.flash);
    rc = check_first ? dfota_check(&e) : DFOTA_OK;
    if (rc == DFOTA_OK)
        rc = dfota_install(&e);
    if (rc != want)
        fprintf(stderr, "got %s, want %s\n", dfota_strerror(rc), dfota_strerror(want));
    assert_int_equal(rc, want);
    assert_false(d.flash.violation);
    /* and at the next power-up: nothing pending */
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    assert_false(dfota_pending(&e));
    if (want != DFOTA_OK) {
        /* Nothing written; but an in-place package with a device digest
         * table (DFOTA_PKG_F_DEVTABLE) may have had its dry run begin the
         * table at the end of staging, beyond the package, and one with
         * saved source sectors (DFOTA_PKG_F_SAVED) its copies before it. */
        struct dfota_pkg_header h;
        uint32_t tab = 0, ss = d.cfg.flash->sector_size;
        if (kind == DFOTA_LAYOUT_INPLACE && dfota_pkg_parse(&h, pkg, plen) == DFOTA_OK)
            tab = dfota_devtable_size(&h, d.cfg.flash->prog_size) + dfota_saved_size(&h);
        if (tab) {
            uint32_t at = d.cfg.layout.staging + d.cfg.layout.staging_size / ss * ss - tab;
            assert_true(d.flash.erases <= tab / ss);
            memcpy(d.flash.mem + at, before + at, tab);
        } else {
            assert_int_equal(d.flash.erases, 0);
            assert_int_equal(d.flash.progs, 0);
        }
        assert_memory_equal(before, d.flash.mem, d.flash.size);
        assert_int_equal(dfota_active_slot(&e), 0);
    } else {
        uint32_t base = d.cfg.layout.slot[dfota_active_slot(&e)];
        assert_memory_equal(d.flash.mem + base, p->b, p->blen);
    }
    free(before);
    tu_device_free(&d);
}
