/* The engine: every rejection leaves the firmware untouched and bootable,
 * with not one flash write; a good package boots the target. */
#define _POSIX_C_SOURCE 200809L   /* setenv */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "dfota/error.h"
#include "dfota/patch.h"
#include "dfota/sha256.h"
#include "testutil.h"

#define N 60000

static int setup(void **st)
{
    *st = tu_pair_new(N, 3);
    return 0;
}

static int teardown(void **st)
{
    tu_pair_free(*st);
    return 0;
}

/* Install pkg on a fresh device of the given layout (testutil.h, tu_attempt). */
static void attempt(const struct tu_pair *f, int kind, const uint8_t *pkg, size_t plen,
                    const char *product, uint32_t scratch_sectors, int want)
{
    tu_attempt(f, kind, pkg, plen, product, scratch_sectors, 0, want);
}

static void test_good_both_layouts(void **st)
{
    struct tu_pair *f = *st;
    size_t plen;
    uint8_t *ab = tu_package(f->a, N, f->b, f->blen, 0, 0, 0, 0, "BC20", &plen);
    attempt(f, DFOTA_LAYOUT_AB, ab, plen, "BC20", 0, DFOTA_OK);
    free(ab);
    ab = tu_package(f->a, N, f->b, f->blen, 1, 4096, 2, 0, "BC20", &plen);
    attempt(f, DFOTA_LAYOUT_INPLACE, ab, plen, "BC20", 4, DFOTA_OK);
    free(ab);
}

static void test_wrong_product(void **st)
{
    struct tu_pair *f = *st;
    size_t plen;
    uint8_t *p = tu_package(f->a, N, f->b, f->blen, 0, 0, 0, 0, "BC66", &plen);
    attempt(f, DFOTA_LAYOUT_AB, p, plen, "BC20", 0, DFOTA_ERR_PRODUCT);
    free(p);
}

static void test_wrong_source(void **st)
{
    struct tu_pair *f = *st;
    size_t plen;
    uint8_t *other = tu_image(N, 1234);
    uint8_t *p = tu_package(other, N, f->b, f->blen, 0, 0, 0, 0, "", &plen);
    attempt(f, DFOTA_LAYOUT_AB, p, plen, NULL, 0, DFOTA_ERR_SOURCE);
    free(p);
    p = tu_package(other, N, f->b, f->blen, 1, 4096, 2, 0, "", &plen);
    attempt(f, DFOTA_LAYOUT_INPLACE, p, plen, NULL, 4, DFOTA_ERR_SOURCE);
    free(p);
    free(other);
}

/* The header size of a package, as parsed. */
static uint32_t header_size_of(const uint8_t *p, size_t plen)
{
    struct dfota_pkg_header h;
    assert_int_equal(dfota_pkg_parse(&h, p, plen), DFOTA_OK);
    return h.header_size;
}

/* A package with header h (written and, with resign, signed anew) and the
 * payload bytes given: a v2 header may change size with its numbers. */
static uint8_t *rebuild(struct dfota_pkg_header *h, const uint8_t *payload, size_t n, int resign,
                        size_t *out_len)
{
    uint8_t pk[32], sk[64], *out;
    uint32_t hs;
    h->payload_size = (uint32_t)n;
    hs = dfota_pkg_header_size(h);
    out = malloc(hs + n);
    assert_non_null(out);
    h->header_size = (uint16_t)hs;
    tu_keys(pk, sk);
    assert_int_equal(dfota_pkg_write(h, out), DFOTA_OK);
    if (resign)
        assert_int_equal(dfota_host_sign(sk, out, dfota_pkg_signed_size(h),
                                         out + dfota_pkg_signed_size(h)), 0);
    memcpy(out + hs, payload, n);
    *out_len = hs + n;
    return out;
}

static void test_bad_signature(void **st)
{
    struct tu_pair *f = *st;
    size_t plen, i, dv;
    unsigned fmt;
    for (fmt = DFOTA_PKG_FORMAT_V1; fmt <= DFOTA_PKG_FORMAT_V2; fmt++) {
        uint8_t *p;
        uint32_t hs;
        tu_pkg_format = fmt;
        p = tu_package(f->a, N, f->b, f->blen, 0, 0, 0, 0, "", &plen);
        tu_pkg_format = 0;
        hs = header_size_of(p, plen);
        if (fmt == DFOTA_PKG_FORMAT_V1)
            assert_int_equal(hs, DFOTA_PKG_V1_HEADER_SIZE);
        else
            assert_in_range(hs, DFOTA_PKG_V2_HEADER_MIN, DFOTA_PKG_V2_HEADER_MIN + 20);
        for (dv = 0; dv + 5 <= hs && memcmp(p + dv, "1.1.0", 5); dv++)
            ;
        assert_true(dv + 5 <= hs);
        /* a flipped bit in the signature (first, last byte), in a signed
         * number (v2: the security counter, just before the key id), in the
         * target version, in the key id */
        {
            size_t offs[] = { hs - 64, hs - 1, hs - 73, dv + 2, hs - 72 };
            for (i = 0; i < sizeof offs / sizeof offs[0]; i++) {
                p[offs[i]] ^= 0x01;
                attempt(f, DFOTA_LAYOUT_AB, p, plen, NULL, 0, DFOTA_ERR_SIGNATURE);
                p[offs[i]] ^= 0x01;
            }
        }
        /* an unsigned package where a key is required */
        memset(p + hs - DFOTA_KEY_ID_LEN - DFOTA_SIG_LEN, 0, DFOTA_KEY_ID_LEN + DFOTA_SIG_LEN);
        attempt(f, DFOTA_LAYOUT_AB, p, plen, NULL, 0, DFOTA_ERR_SIGNATURE);
        free(p);
    }
}

static void test_truncated_and_corrupt_payload(void **st)
{
    struct tu_pair *f = *st;
    size_t plen;
    uint8_t *p = tu_package(f->a, N, f->b, f->blen, 0, 0, 0, 0, "", &plen);
    /* truncated download: the tail of staging stays erased */
    attempt(f, DFOTA_LAYOUT_AB, p, plen - 10, NULL, 0, DFOTA_ERR_PAYLOAD);
    p[plen / 2] ^= 0x80;
    attempt(f, DFOTA_LAYOUT_AB, p, plen, NULL, 0, DFOTA_ERR_PAYLOAD);
    free(p);
}

static void test_layout_mismatch(void **st)
{
    struct tu_pair *f = *st;
    size_t plen;
    uint8_t *ab = tu_package(f->a, N, f->b, f->blen, 0, 0, 0, 0, "", &plen);
    attempt(f, DFOTA_LAYOUT_INPLACE, ab, plen, NULL, 4, DFOTA_ERR_LAYOUT);
    free(ab);
    ab = tu_package(f->a, N, f->b, f->blen, 1, 4096, 2, 0, "", &plen);
    attempt(f, DFOTA_LAYOUT_AB, ab, plen, NULL, 0, DFOTA_ERR_LAYOUT);
    attempt(f, DFOTA_LAYOUT_INPLACE, ab, plen, NULL, 3, DFOTA_ERR_LAYOUT);  /* scratch too small */
    free(ab);
    ab = tu_package(f->a, N, f->b, f->blen, 1, 1024, 2, 0, "", &plen);
    attempt(f, DFOTA_LAYOUT_INPLACE, ab, plen, NULL, 4, DFOTA_ERR_LAYOUT);  /* other sector size */
    free(ab);
}

/* A package whose payload is signed but undecodable (as an encoder bug
 * would make): in place the dry run must refuse it before any write. */
static uint8_t *resign_with_payload(const uint8_t *pkg, size_t plen, const uint8_t *payload,
                                    size_t n, size_t *out_len)
{
    struct dfota_pkg_header h;
    assert_int_equal(dfota_pkg_parse(&h, pkg, plen), DFOTA_OK);
    dfota_sha256(payload, n, h.payload_sha256);
    return rebuild(&h, payload, n, 1, out_len);
}

static void test_signed_garbage(void **st)
{
    struct tu_pair *f = *st;
    size_t plen, glen, i;
    uint8_t *p = tu_package(f->a, N, f->b, f->blen, 1, 4096, 2, 0, "", &plen), *g;
    uint8_t junk[3000];
    uint32_t s = 5;
    for (i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)tu_rand(&s);
    junk[0] = 0;
    g = resign_with_payload(p, plen, junk, sizeof junk, &glen);
    attempt(f, DFOTA_LAYOUT_INPLACE, g, glen, NULL, 4, DFOTA_ERR_CORRUPT);
    free(g);
    /* the real payload with its last bytes cut, re-signed */
    g = resign_with_payload(p, plen, p + header_size_of(p, plen),
                            plen - header_size_of(p, plen) - 8, &glen);
    attempt(f, DFOTA_LAYOUT_INPLACE, g, glen, NULL, 4, DFOTA_ERR_CORRUPT);
    free(g);
    free(p);
}

/* The block digest chain with 4-byte entries (DFOTA_PKG_F_BLOCKHASH4, the
 * default) and with 16-byte ones (the packages before it), and without a
 * chain: each applies; a signed package whose chain disagrees with its
 * stream in any byte of an entry is refused before a write. */
static void test_block_digest_lengths(void **st)
{
    static const unsigned lens[] = { 4, 16 };
    struct tu_pair *f = *st;
    size_t plen, glen, i;
    for (i = 0; i < 2; i++) {
        unsigned l = lens[i], j;
        struct dfota_pkg_header h;
        uint8_t *p, *g, *q;
        uint32_t hs, blocks, table;
        tu_block_digest = l;
        p = tu_package(f->a, N, f->b, f->blen, 1, 4096, 2, 0, "", &plen);
        tu_block_digest = 0;
        assert_int_equal(dfota_pkg_parse(&h, p, plen), DFOTA_OK);
        hs = h.header_size;
        blocks = (h.dst_size + 4095) / 4096;
        assert_true(h.flags & DFOTA_PKG_F_BLOCKHASH);
        assert_int_equal((h.flags & DFOTA_PKG_F_BLOCKHASH4) != 0, l == 4);
        assert_int_equal(dfota_pkg_chain_entry_len(&h), l);
        table = (uint32_t)dfota_pkg_table_size(&h);
        assert_int_equal(table, blocks * l);
        attempt(f, DFOTA_LAYOUT_INPLACE, p, plen, NULL, 4, DFOTA_OK);

        /* entry 0 (from the hashed payload), entry 1 (read while applying),
         * the last entry; the first and the last byte of each */
        q = malloc(plen - hs);
        assert_non_null(q);
        for (j = 0; j < 6; j++) {
            uint32_t entry = j / 2 == 0 ? 0 : j / 2 == 1 ? 1 : blocks - 1;
            memcpy(q, p + hs, plen - hs);
            q[h.payload_size - table + entry * l + (j % 2 ? l - 1 : 0)] ^= 0x01;
            g = resign_with_payload(p, plen, q, plen - hs, &glen);
            attempt(f, DFOTA_LAYOUT_INPLACE, g, glen, NULL, 4, DFOTA_ERR_CORRUPT);
            free(g);
        }
        /* the entry length is the flag's: the other length misreads the
         * table (and the stream's end) */
        {
            struct dfota_pkg_header o = h;
            o.flags ^= DFOTA_PKG_F_BLOCKHASH4;
            if (dfota_pkg_table_size(&o) + 5 <= plen - hs) {
                g = rebuild(&o, p + hs, plen - hs, 1, &glen);
                attempt(f, DFOTA_LAYOUT_INPLACE, g, glen, NULL, 4, DFOTA_ERR_CORRUPT);
                free(g);
            }
        }
        /* the entries cover the decoder's pending state at each block end
         * (DFOTA_PKG_F_BLOCKSTATE, the default): read as a chain without
         * it, every entry disagrees */
        {
            struct dfota_pkg_header o = h;
            assert_true(h.flags & DFOTA_PKG_F_BLOCKSTATE);
            o.flags &= ~DFOTA_PKG_F_BLOCKSTATE;
            g = rebuild(&o, p + hs, plen - hs, 1, &glen);
            attempt(f, DFOTA_LAYOUT_INPLACE, g, glen, NULL, 4, DFOTA_ERR_CORRUPT);
            free(g);
        }
        /* no chain: the stream alone, as before DFOTA_PKG_F_BLOCKHASH */
        {
            struct dfota_pkg_header o = h;
            o.flags &= ~(DFOTA_PKG_F_BLOCKHASH | DFOTA_PKG_F_BLOCKHASH4 | DFOTA_PKG_F_BLOCKSTATE);
            dfota_sha256(p + hs, h.payload_size - table, o.payload_sha256);
            g = rebuild(&o, p + hs, h.payload_size - table, 1, &glen);
            attempt(f, DFOTA_LAYOUT_INPLACE, g, glen, NULL, 4, DFOTA_OK);
            free(g);
        }
        free(q);
        free(p);
    }
}

/* ---- in place in runs (DFOTA_PKG_F_RUNS) ---------------------------------- */

/* The header of pkg holds the write order r (nr runs), block for block. */
static void assert_order(const uint8_t *pkg, size_t plen, const struct dfota_pkg_run *r,
                         uint32_t nr)
{
    struct dfota_pkg_header h;
    uint32_t n, i;
    assert_int_equal(dfota_pkg_parse(&h, pkg, plen), DFOTA_OK);
    assert_true(h.flags & DFOTA_PKG_F_RUNS);
    assert_false(h.flags & DFOTA_PKG_F_BACKWARD);
    assert_int_equal(h.nruns, nr);     /* (an order of no two runs that make one) */
    n = dz_block_count(h.dst_size, h.sector_size);
    for (i = 0; i < n; i++)
        assert_int_equal(dz_block_sector(h.runs, h.nruns, i), dz_block_sector(r, nr, i));
}

/* Packages made with an explicit write order apply in place to the exact
 * target: through dfota_install alone, after dfota_check, and cut in the
 * middle then resumed. 15 sectors, the last short: it comes first of a
 * backward run, and alone in the middle of the order. */
static void test_runs_order_applies(void **st)
{
    static const struct dfota_pkg_run thirds[] = { { 0, 5, 0 }, { 10, 5, 1 }, { 5, 5, 0 } };
    static const struct dfota_pkg_run singles[] = { { 7, 1, 0 }, { 0, 7, 0 }, { 14, 1, 0 },
                                                    { 8, 6, 0 } };
    static const struct { const struct dfota_pkg_run *r; uint32_t nr, lag; } cases[] = {
        { thirds, 3, 2 }, { singles, 4, 0 }, { thirds, 3, 0 }, { singles, 4, 1 } };
    struct tu_pair *f = *st;
    size_t plen, c;
    assert_int_equal(dz_block_count((uint32_t)f->blen, 4096), 15);
    for (c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint8_t *p = tu_package_order(f->a, N, f->b, f->blen, 4096, cases[c].lag, cases[c].r,
                                      cases[c].nr, "", &plen), *initial;
        struct tu_device d;
        struct dfota_engine e;
        uint64_t ops, k;
        assert_order(p, plen, cases[c].r, cases[c].nr);
        tu_attempt(f, DFOTA_LAYOUT_INPLACE, p, plen, NULL, cases[c].lag + 2, 0, DFOTA_OK);
        tu_attempt(f, DFOTA_LAYOUT_INPLACE, p, plen, NULL, cases[c].lag + 2, 1, DFOTA_OK);
        /* a power cut at a few points of the install, then dfota_resume */
        tu_device_init(&d, DFOTA_LAYOUT_INPLACE, 4096, N + 4096, cases[c].lag + 2, 2 * N);
        tu_device_load(&d, 0, f->a, N, p, plen);
        initial = malloc(d.flash.size);
        assert_non_null(initial);
        memcpy(initial, d.flash.mem, d.flash.size);
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        simflash_reset_counters(&d.flash);
        assert_int_equal(dfota_install(&e), DFOTA_OK);
        ops = d.flash.ops;
        for (k = ops / 7; k < ops; k += ops / 7) {
            memcpy(d.flash.mem, initial, d.flash.size);
            simflash_power_on(&d.flash);
            simflash_reset_counters(&d.flash);
            d.flash.cut_after = k;
            d.flash.tear_seed = (uint32_t)k + 1;
            assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
            assert_int_equal(dfota_install(&e), DFOTA_ERR_IO);
            simflash_power_on(&d.flash);
            assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
            if (dfota_pending(&e))
                assert_int_equal(dfota_resume(&e), DFOTA_OK);
            else
                assert_int_equal(dfota_install(&e), DFOTA_OK);
            assert_false(dfota_pending(&e));
            assert_memory_equal(d.flash.mem + d.cfg.layout.slot[dfota_active_slot(&e)], f->b,
                                f->blen);
            assert_false(d.flash.violation);
        }
        free(initial);
        tu_device_free(&d);
        free(p);
    }
}

/* A reference decode of a package's payload as its header says, with no
 * lag rule: its stream CRC, and the least lag at which every source read
 * is of a sector that a committed block has not written yet (the rule of
 * the engine's io_src: block j may read sector x while the block that
 * writes x is j - lag or later; sectors beyond the target always). */
struct ref_ctx {
    const struct dfota_pkg_header *h;
    const uint8_t *payload, *src;
    uint32_t slen;
    struct dfota_patch *p;
    uint32_t need;           /* the least lag */
};

static int ref_payload(void *ctx, uint32_t off, uint8_t *buf, uint32_t len)
{
    struct ref_ctx *r = ctx;
    if (len > r->h->payload_size || off > r->h->payload_size - len)
        return DFOTA_ERR_CORRUPT;
    memcpy(buf, r->payload + off, len);
    return DFOTA_OK;
}

static int ref_src(void *ctx, uint32_t off, uint8_t *buf, uint32_t len)
{
    struct ref_ctx *r = ctx;
    uint32_t ss = r->h->sector_size, n = dz_block_count(r->h->dst_size, ss), x;
    uint32_t cur = r->p->st.block;
    if (len > r->slen || off > r->slen - len)
        return DFOTA_ERR_CORRUPT;
    for (x = off / ss; len && x <= (off + len - 1) / ss && x < n; x++) {
        uint32_t b = dz_sector_block(r->h->runs, r->h->nruns, x);
        if (b < cur && cur - b > r->need)
            r->need = cur - b;
    }
    memcpy(buf, r->src + off, len);
    return DFOTA_OK;
}

static int ref_decode(const struct dfota_pkg_header *h, const uint8_t *payload,
                      const uint8_t *src, uint32_t slen, uint32_t *crc, uint32_t *need)
{
    struct ref_ctx r = { h, payload, src, slen, malloc(sizeof(struct dfota_patch)), 0 };
    struct dfota_patch_io io = { &r, ref_payload, ref_src, NULL, h->runs, h->nruns };
    uint32_t n = dz_block_count(h->dst_size, h->sector_size), i, off, len, addr;
    uint8_t *out = malloc(h->sector_size);
    int rc;
    assert_non_null(r.p);
    assert_non_null(out);
    *crc = 0;
    rc = dfota_patch_init(r.p, h);
    for (i = 0; i < n && !rc; i++) {
        dz_block(i, h->dst_size, h->sector_size, h->runs, h->nruns, &off, &len, &addr);
        if (!(rc = dfota_patch_decode(r.p, &io, out, len)))
            *crc = dfota_crc32(*crc, out, len);
    }
    if (!rc && !dfota_patch_done(r.p))
        rc = DFOTA_ERR_CORRUPT;
    *need = r.need;
    free(out);
    free(r.p);
    return rc;
}

/* A package whose header gives another write order than the one its
 * payload was made for (the same bytes, signed anew): its payload reads
 * source sectors that the header's order has already overwritten. The
 * decoder makes the same reads either way (a copy's source position
 * follows the stream, not the target address), and the stream CRC is set
 * to what the payload decodes to in the header's order, so only the
 * engine's source rule (lib/engine.c, io_src) can refuse it: with a lag
 * below the least one that allows every read, the dry run refuses it with
 * DFOTA_ERR_CORRUPT before a write, the old image intact and nothing
 * pending (tu_attempt); at that least lag the same payload passes
 * dfota_check, so the refusal is the rule's and no more. (The order is
 * signed like the payload: a package whose order is legal but not its
 * encoder's decodes to a permuted target, which only the final target
 * check sees; keeping them one is the encoder's part.) */
static void forbidden_order(const struct tu_pair *f, const uint8_t *pkg, size_t plen,
                            uint32_t flags, const struct dfota_pkg_run *r, uint32_t nr)
{
    struct dfota_pkg_header h, o;
    uint32_t crc, need, lags[2] = { 0, 0 }, i;
    uint8_t *g;
    size_t glen;

    assert_int_equal(dfota_pkg_parse(&h, pkg, plen), DFOTA_OK);
    o = h;
    o.flags = (h.flags & ~(DFOTA_PKG_F_BACKWARD | DFOTA_PKG_F_RUNS)) | flags;
    o.nruns = nr;
    memset(o.runs, 0, sizeof o.runs);
    memcpy(o.runs, r, nr * sizeof *r);
    assert_int_equal(ref_decode(&o, pkg + h.header_size, f->a, (uint32_t)f->alen, &crc, &need),
                     DFOTA_OK);
    /* the order makes reads that the package's own lag forbids */
    assert_true(need > h.lag);
    o.stream_crc32 = crc;
    /* the most lag that still forbids a read, and none */
    lags[0] = need - 1 > DFOTA_MAX_LAG ? DFOTA_MAX_LAG : need - 1;
    for (i = 0; i < (lags[0] ? 2u : 1u); i++) {
        o.lag = (uint8_t)lags[i];
        g = rebuild(&o, pkg + h.header_size, plen - h.header_size, 1, &glen);
        tu_attempt(f, DFOTA_LAYOUT_INPLACE, g, glen, NULL, lags[i] + 2, 1, DFOTA_ERR_CORRUPT);
        tu_attempt(f, DFOTA_LAYOUT_INPLACE, g, glen, NULL, lags[i] + 2, 0, DFOTA_ERR_CORRUPT);
        free(g);
    }
    if (need <= DFOTA_MAX_LAG) {
        struct tu_device d;
        struct dfota_engine e;
        o.lag = (uint8_t)need;
        g = rebuild(&o, pkg + h.header_size, plen - h.header_size, 1, &glen);
        tu_device_init(&d, DFOTA_LAYOUT_INPLACE, 4096, N + 4096, need + 2, 2 * N);
        tu_device_load(&d, 0, f->a, N, g, glen);
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        simflash_reset_counters(&d.flash);
        assert_int_equal(dfota_check(&e), DFOTA_OK);
        assert_memory_equal(d.flash.mem + d.cfg.layout.slot[0], f->a, N);
        tu_device_free(&d);
        free(g);
    }
    printf("order rewritten: the payload's reads need lag %u (package lag %u)\n", need, h.lag);
}

static void test_runs_forbidden_read(void **st)
{
    /* 15 sectors: 5-13 lowest first, then 0-4, then the short 14 where it was */
    static const struct dfota_pkg_run moved[] = { { 5, 9, 0 }, { 0, 5, 0 }, { 14, 1, 0 } };
    static const struct dfota_pkg_run fwd[] = { { 0, 15, 0 } };
    struct tu_pair *f = *st;
    size_t plen;
    uint8_t *p;
    assert_int_equal(dz_block_count((uint32_t)f->blen, 4096), 15);
    /* made forward, the header says runs */
    p = tu_package(f->a, N, f->b, f->blen, 1, 4096, 2, 1, "", &plen);
    forbidden_order(f, p, plen, DFOTA_PKG_F_RUNS, moved, 3);
    free(p);
    /* made in runs, the header says forward (no DFOTA_PKG_F_RUNS) */
    p = tu_package_order(f->a, N, f->b, f->blen, 4096, 2, moved, 3, "", &plen);
    assert_order(p, plen, moved, 3);
    forbidden_order(f, p, plen, 0, fwd, 1);
    free(p);
}

/* A/B with a signed undecodable payload: the engine writes the other bank,
 * fails, and keeps the old bank active with nothing pending. */
static void test_ab_signed_garbage_keeps_old_bank(void **st)
{
    struct tu_pair *f = *st;
    struct tu_device d;
    struct dfota_engine e;
    size_t plen, glen, i;
    uint8_t *p = tu_package(f->a, N, f->b, f->blen, 0, 0, 0, 0, "", &plen), *g, junk[3000];
    uint32_t s = 9;
    for (i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)tu_rand(&s);
    junk[0] = 0;
    g = resign_with_payload(p, plen, junk, sizeof junk, &glen);
    tu_device_init(&d, DFOTA_LAYOUT_AB, 4096, N + 4096, 0, 2 * N);
    tu_device_load(&d, 0, f->a, N, g, glen);
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    assert_int_equal(dfota_install(&e), DFOTA_ERR_CORRUPT);
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    assert_false(dfota_pending(&e));
    assert_int_equal(dfota_active_slot(&e), 0);
    assert_memory_equal(d.flash.mem + d.cfg.layout.slot[0], f->a, N);
    tu_device_free(&d);
    free(g);
    free(p);
}

static void test_downgrade_refused(void **st)
{
    struct tu_pair *f = *st;
    struct tu_device d;
    struct dfota_engine e;
    size_t plen;
    uint8_t *p = tu_package(f->a, N, f->b, f->blen, 0, 0, 0, 0, "", &plen);
    tu_device_init(&d, DFOTA_LAYOUT_AB, 4096, N + 4096, 0, 2 * N);
    tu_device_load(&d, 0, f->a, N, p, plen);
    d.cfg.security_counter = 3;          /* the package carries 0 */
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    assert_int_equal(dfota_install(&e), DFOTA_ERR_DOWNGRADE);
    tu_device_free(&d);
    free(p);
}

/* decoder_ram: a package made for more decoder RAM than this build has
 * (DFOTA_PATCH_RAM) is refused at the check, nothing written; one that
 * needs exactly as much, or a 4k package, installs. */
static void test_decoder_ram_checked(void **st)
{
    struct tu_pair *f = *st;
    struct dfota_pkg_header h;
    size_t plen, n;
    uint8_t *p = tu_package(f->a, N, f->b, f->blen, 0, 0, 0, 0, "", &plen), *q;
    assert_int_equal(dfota_pkg_parse(&h, p, plen), DFOTA_OK);
    assert_true(h.decoder_ram <= DFOTA_PATCH_RAM);
    h.decoder_ram = DFOTA_PATCH_RAM + 1;
    q = rebuild(&h, p + h.header_size, h.payload_size, 1, &n);
    attempt(f, DFOTA_LAYOUT_AB, q, n, "", 0, DFOTA_ERR_RAM);
    free(q);
    assert_int_equal(dfota_pkg_parse(&h, p, plen), DFOTA_OK);
    h.decoder_ram = DFOTA_PATCH_RAM;
    q = rebuild(&h, p + h.header_size, h.payload_size, 1, &n);
    attempt(f, DFOTA_LAYOUT_AB, q, n, "", 0, DFOTA_OK);
    free(q);
    free(p);
    tu_decoder_ram = "4k";
    p = tu_package(f->a, N, f->b, f->blen, 0, 0, 0, 0, "", &plen);
    tu_decoder_ram = "16k";
    assert_int_equal(dfota_pkg_parse(&h, p, plen), DFOTA_OK);
    assert_int_equal(h.decoder_ram, DFOTA_DECODER_RAM_4K);
    attempt(f, DFOTA_LAYOUT_AB, p, plen, "", 0, DFOTA_OK);
    free(p);
}

static void test_two_updates_alternate_banks(void **st)
{
    struct tu_pair *f = *st;
    struct tu_device d;
    struct dfota_engine e;
    size_t plen, clen;
    uint8_t *c = tu_release(f->b, f->blen, 99, &clen);
    uint8_t *p1 = tu_package(f->a, N, f->b, f->blen, 0, 0, 0, 0, "", &plen);
    tu_device_init(&d, DFOTA_LAYOUT_AB, 4096, N + 8192, 0, 2 * N);
    tu_device_load(&d, 0, f->a, N, p1, plen);
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    assert_int_equal(dfota_install(&e), DFOTA_OK);
    assert_int_equal(dfota_active_slot(&e), 1);
    free(p1);
    p1 = tu_package(f->b, f->blen, c, clen, 0, 0, 0, 0, "", &plen);
    memcpy(d.flash.mem + d.cfg.layout.staging, p1, plen);
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    assert_int_equal(dfota_active_slot(&e), 1);
    assert_int_equal(dfota_install(&e), DFOTA_OK);
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    assert_int_equal(dfota_active_slot(&e), 0);
    assert_memory_equal(d.flash.mem + d.cfg.layout.slot[0], c, clen);
    tu_device_free(&d);
    free(p1);
    free(c);
}


/* ---- issue 13: faults of real flash and boot loaders ------------------- */

/* The image the firmware region / active bank holds is the old or the new. */
static int boots_old_or_new(struct tu_device *d, struct tu_pair *f, unsigned slot)
{
    const uint8_t *m = d->flash.mem + d->cfg.layout.slot[slot];
    return memcmp(m, f->a, N) == 0 || memcmp(m, f->b, f->blen) == 0;
}

/* Power up until nothing is pending (at most 4 times); the target boots. */
static void settle_to_target(struct tu_device *d, struct tu_pair *f, const char *what)
{
    struct dfota_engine e;
    int i, rc = DFOTA_OK;
    for (i = 0; i < 4; i++) {
        simflash_power_on(&d->flash);
        assert_int_equal(dfota_init(&e, &d->cfg), DFOTA_OK);
        if (!dfota_pending(&e)) {
            if (!boots_old_or_new(d, f, dfota_active_slot(&e)))
                fail_msg("%s: nothing pending over an image that is neither", what);
            if (memcmp(d->flash.mem + d->cfg.layout.slot[dfota_active_slot(&e)], f->b, f->blen))
                rc = dfota_install(&e);   /* the old image boots: ask again */
            else
                return;
        } else {
            rc = dfota_resume(&e);
        }
        (void)rc;
    }
    fail_msg("%s: still not the target (%s)", what, dfota_strerror(rc));
}

/* Findings 1 and 2: one transient bit error in one read() of an in-place
 * update. Nothing unverified boots, nothing stays pending once the reads
 * are right again. */
static void test_transient_read_flip_inplace(void **st)
{
    struct tu_pair *f = *st;
    struct tu_device d;
    size_t plen;
    uint8_t *p = tu_package(f->a, N, f->b, f->blen, 1, 4096, 1, 0, "", &plen), *initial;
    uint64_t reads, k;
    struct dfota_engine e;
    unsigned failed_installs = 0;

    tu_device_init(&d, DFOTA_LAYOUT_INPLACE, 4096, N + 4096, 5, 2 * N);
    tu_device_load(&d, 0, f->a, N, p, plen);
    initial = malloc(d.flash.size);
    memcpy(initial, d.flash.mem, d.flash.size);
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    simflash_reset_counters(&d.flash);
    assert_int_equal(dfota_install(&e), DFOTA_OK);
    reads = d.flash.reads;
    for (k = 0; k < reads; k += 1 + reads / 150) {
        char id[64];
        int rc;
        snprintf(id, sizeof id, "flip read %llu", (unsigned long long)k);
        memcpy(d.flash.mem, initial, d.flash.size);
        simflash_power_on(&d.flash);
        simflash_reset_counters(&d.flash);
        d.flash.flip_read = k;
        d.flash.flip_seed = (uint32_t)k * 7919u + 1;
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        rc = dfota_install(&e);
        if (rc)
            failed_installs++;
        /* a failed install is pending or refused, never IDLE over a bad image */
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        if (!dfota_pending(&e) && !boots_old_or_new(&d, f, 0))
            fail_msg("%s: %s, nothing pending, a bad image boots", id, dfota_strerror(rc));
        settle_to_target(&d, f, id);
        assert_false(d.flash.violation);
    }
    printf("transient flips: %llu reads, %u installs failed and recovered\n",
           (unsigned long long)reads, failed_installs);
    free(initial);
    tu_device_free(&d);
    free(p);
}


/* Staging that changes while an in-place update applies (after install's
 * own check: a cell that decays, a read that goes wrong the same way every
 * time), one bit at a time, at every byte of the stream, then the package
 * restored (downloaded again): the update must finish, from whatever
 * checkpoint it reached. A checkpoint holds only what a block check saw:
 * the range decoder's look-ahead is read again on resume (the snapshot
 * holds its low) and the pending operation at each block end (a copy's
 * length, say) is covered by the block's chain entry
 * (DFOTA_PKG_F_BLOCKSTATE). No sector ever holds anything but the old or
 * the new image's bytes. DZ1 and DZ2. */
struct flipper {
    uint8_t *at;
    uint8_t bit;
    int done;
};

static void flip_on_apply(void *ctx, enum dfota_phase ph, unsigned pct)
{
    struct flipper *x = ctx;
    (void)pct;
    if (ph == DFOTA_PHASE_APPLY && !x->done) {
        *x->at ^= x->bit;
        x->done = 1;
    }
}

static void test_staging_decays_during_apply(void **st)
{
    static const char *codecs[] = { "1", "2", "1", "2" };
#if defined(__SANITIZE_ADDRESS__)
    const size_t stride = 5;             /* (the sanitizer build: a sample) */
#else
    const size_t stride = 1;
#endif
    struct tu_pair *f = *st;
    unsigned c;

    /* c = 0, 1: the device's digest table (the default); 2, 3: a 4-byte
     * block digest chain in the package */
    for (c = 0; c < 4; c++) {
        struct tu_device d;
        struct dfota_pkg_header h;
        struct dfota_engine e;
        struct flipper x;
        size_t plen, k, stream, failed = 0;
        uint8_t *p, *initial;

        setenv("DFOTA_CODEC", codecs[c], 1);
        tu_block_digest = c < 2 ? 0 : 4;
        p = tu_package(f->a, N, f->b, f->blen, 1, 4096, 2, 0, "", &plen);
        tu_block_digest = 0;
        unsetenv("DFOTA_CODEC");
        assert_int_equal(dfota_pkg_parse(&h, p, plen), DFOTA_OK);
        assert_true(c < 2 ? (h.flags & DFOTA_PKG_F_DEVTABLE) != 0
                          : (h.flags & DFOTA_PKG_F_BLOCKSTATE) != 0);
        stream = h.payload_size - (size_t)dfota_pkg_table_size(&h);
        tu_device_init(&d, DFOTA_LAYOUT_INPLACE, 4096, N + 4096, 4, 2 * N);
        tu_device_load(&d, 0, f->a, N, p, plen);
        initial = malloc(d.flash.size);
        assert_non_null(initial);
        memcpy(initial, d.flash.mem, d.flash.size);
        /* (the chain, c >= 2: every 3rd byte; its own sweep ran before the table came) */
        for (k = 0; k < stream; k += c < 2 ? stride : 3 * stride) {
            uint8_t *b = d.flash.mem + d.cfg.layout.staging + h.header_size + k;
            size_t o;
            char what[64];
            memcpy(d.flash.mem, initial, d.flash.size);
            simflash_power_on(&d.flash);
            x.at = b;
            x.bit = (uint8_t)(1u << (k % 8));
            x.done = 0;
            d.cfg.progress = flip_on_apply;
            d.cfg.progress_ctx = &x;
            assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
            if (dfota_install(&e) != DFOTA_OK)
                failed++;
            d.cfg.progress = NULL;
            *b ^= x.bit;                 /* the package restored */
            for (o = 0; o < f->blen; o += 4096) {
                size_t l = f->blen - o < 4096 ? f->blen - o : 4096;
                const uint8_t *fw = d.flash.mem + d.cfg.layout.slot[0] + o;
                if (memcmp(fw, f->b + o, l) && memcmp(fw, initial + d.cfg.layout.slot[0] + o, l))
                    fail_msg("DZ%s, stream byte %zu: sector %zu is neither image", codecs[c], k,
                             o / 4096);
            }
            snprintf(what, sizeof what, "DZ%s, stream byte %zu changed while applying", codecs[c], k);
            settle_to_target(&d, f, what);
        }
        /* nearly every change is caught (the rest hit bytes no decision reads) */
        assert_true(failed * 10 >= (stream / (c < 2 ? stride : 3 * stride)) * 9);
        free(initial);
        tu_device_free(&d);
        free(p);
    }
}

/* DFOTA_PKG_F_DEVTABLE (the default in place): the digest table at the end
 * of staging is the engine's own, and entries that are wrong are computed
 * again, never trusted. (1) An entry of the last block changed while the
 * update runs (after the dry run wrote it, with and without dfota_check
 * first): that block fails its check before a commit, the retry from the
 * checkpoint computes the rest of the table again, and the update ends.
 * (2) The power cut while applying and the whole table scribbled over: the
 * resume computes it again. (3) A staging area with no room for the table
 * refuses the package before any write. */
static void test_devtable_decay(void **st)
{
    struct tu_pair *f = *st;
    struct tu_device d;
    struct dfota_engine e;
    struct dfota_pkg_header h;
    struct flipper x;
    size_t plen;
    uint8_t *p = tu_package(f->a, N, f->b, f->blen, 1, 4096, 2, 0, "", &plen);
    uint32_t tab, n, at, i;
    uint64_t ops;
    int check_first;

    assert_int_equal(dfota_pkg_parse(&h, p, plen), DFOTA_OK);
    assert_true(h.flags & DFOTA_PKG_F_DEVTABLE);
    assert_false(h.flags & DFOTA_PKG_F_BLOCKHASH);
    assert_int_equal(dfota_pkg_table_size(&h), 0);
    tab = dfota_devtable_size(&h, 16);
    assert_int_equal(tab, 4096);
    n = (h.dst_size + 4095) / 4096;
    assert_true(n > 4);
    assert_int_equal(dfota_staging_need(&h, 4096, 16), (plen + 4095) / 4096 * 4096 + tab);

    for (check_first = 0; check_first < 2; check_first++) {
        tu_device_init(&d, DFOTA_LAYOUT_INPLACE, 4096, N + 4096, 4, 2 * N);
        tu_device_load(&d, 0, f->a, N, p, plen);
        at = d.cfg.layout.staging + d.cfg.layout.staging_size / 4096 * 4096 - tab;
        x.at = d.flash.mem + at + (n - 1) / 4 * 16 + (n - 1) % 4 * 4;
        x.bit = 0x10;
        x.done = 0;
        d.cfg.progress = flip_on_apply;
        d.cfg.progress_ctx = &x;
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        if (check_first)
            assert_int_equal(dfota_check(&e), DFOTA_OK);
        assert_int_equal(dfota_install(&e), DFOTA_OK);
        assert_true(x.done);
        assert_false(d.flash.violation);
        d.cfg.progress = NULL;
        simflash_power_on(&d.flash);
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        assert_false(dfota_pending(&e));
        assert_memory_equal(d.flash.mem + d.cfg.layout.slot[0], f->b, f->blen);
        tu_device_free(&d);
    }

    /* (2): an uncut run counts the operations; then a cut at 3/4 of them */
    tu_device_init(&d, DFOTA_LAYOUT_INPLACE, 4096, N + 4096, 4, 2 * N);
    tu_device_load(&d, 0, f->a, N, p, plen);
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    simflash_reset_counters(&d.flash);
    assert_int_equal(dfota_install(&e), DFOTA_OK);
    ops = d.flash.ops;
    tu_device_free(&d);
    tu_device_init(&d, DFOTA_LAYOUT_INPLACE, 4096, N + 4096, 4, 2 * N);
    tu_device_load(&d, 0, f->a, N, p, plen);
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    simflash_reset_counters(&d.flash);
    d.flash.cut_after = ops * 3 / 4;
    d.flash.clean_cut = 1;
    assert_int_equal(dfota_install(&e), DFOTA_ERR_IO);
    d.flash.cut_after = UINT64_MAX;
    at = d.cfg.layout.staging + d.cfg.layout.staging_size / 4096 * 4096 - tab;
    for (i = 0; i < tab; i++)
        d.flash.mem[at + i] = (uint8_t)(i * 37 + 11);
    simflash_power_on(&d.flash);
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    assert_true(dfota_pending(&e));
    assert_int_equal(dfota_resume(&e), DFOTA_OK);
    assert_false(d.flash.violation);
    assert_memory_equal(d.flash.mem + d.cfg.layout.slot[0], f->b, f->blen);
    tu_device_free(&d);

    /* (3): staging holds the package but not the table */
    tu_device_init(&d, DFOTA_LAYOUT_INPLACE, 4096, N + 4096, 4, (uint32_t)plen);
    tu_device_load(&d, 0, f->a, N, p, plen);
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    simflash_reset_counters(&d.flash);
    assert_int_equal(dfota_check(&e), DFOTA_ERR_NOSPACE);
    assert_int_equal(dfota_install(&e), DFOTA_ERR_NOSPACE);
    assert_int_equal(d.flash.erases + d.flash.progs, 0);
    tu_device_free(&d);
    free(p);
}

/* Findings 1 and 8: staging rewritten after dfota_check (interposer, bit
 * rot): install reads staging again and refuses it, writing nothing; the
 * package restored, it installs. (Changed while applying: the block chain
 * stops it before a commit; tests/powerloss, model staging.) */
static void test_staging_changed(void **st)
{
    struct tu_pair *f = *st;
    struct tu_device d;
    struct dfota_engine e;
    size_t plen, i;
    for (i = 0; i < 2; i++) {
        int inplace = i == 1;
        uint8_t *p = tu_package(f->a, N, f->b, f->blen, inplace, 4096, 1, 0, "", &plen);
        uint32_t at;
        tu_device_init(&d, inplace ? DFOTA_LAYOUT_INPLACE : DFOTA_LAYOUT_AB, 4096, N + 4096, 5,
                       2 * N);
        tu_device_load(&d, 0, f->a, N, p, plen);
        at = d.cfg.layout.staging + header_size_of(p, plen) + 40;
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        assert_int_equal(dfota_check(&e), DFOTA_OK);
        assert_int_equal(dfota_state(&e), DFOTA_STATE_CHECKED);
        d.flash.mem[at] ^= 0x10;
        simflash_reset_counters(&d.flash);
        assert_int_equal(dfota_install(&e), DFOTA_ERR_PAYLOAD);
        assert_int_equal(d.flash.erases + d.flash.progs, 0);
        assert_false(dfota_pending(&e));
        d.flash.mem[at] ^= 0x10;
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        assert_int_equal(dfota_install(&e), DFOTA_OK);
        settle_to_target(&d, f, "staging restored");
        tu_device_free(&d);
        free(p);
    }
}

/* Finding 8: the header is read once; its digest and its signature are
 * of the same bytes. An interposer that shows a forged header (whose
 * payload digest matches a forged payload) on the first read and the
 * genuine signed one after must not get the forged payload accepted. */
struct interposer {
    struct dfota_flash port;
    struct simflash *f;
    uint32_t staging;
    const uint8_t *forged;   /* DFOTA_PKG_HEADER_MAX bytes */
    unsigned header_reads;
};

static int ip_read(void *ctx, uint32_t addr, void *buf, uint32_t len)
{
    struct interposer *x = ctx;
    int rc = x->f->port.read(x->f->port.ctx, addr, buf, len);
    if (!rc && addr == x->staging && len >= DFOTA_PKG_HEADER_MAX && x->header_reads++ == 0)
        memcpy(buf, x->forged, DFOTA_PKG_HEADER_MAX);
    return rc;
}
static int ip_prog(void *ctx, uint32_t a, const void *b, uint32_t l)
{
    struct interposer *x = ctx;
    return x->f->port.prog(x->f->port.ctx, a, b, l);
}
static int ip_erase(void *ctx, uint32_t a)
{
    struct interposer *x = ctx;
    return x->f->port.erase(x->f->port.ctx, a);
}

static void test_header_read_once(void **st)
{
    struct tu_pair *f = *st;
    struct tu_device d;
    struct dfota_engine e;
    struct interposer x;
    struct dfota_pkg_header h;
    size_t plen, i;
    uint8_t *p = tu_package(f->a, N, f->b, f->blen, 0, 0, 0, 0, "", &plen),
            forged[DFOTA_PKG_HEADER_MAX];
    uint8_t *junk = malloc(plen);
    uint32_t s = 77, hs = header_size_of(p, plen);

    for (i = 0; i < plen; i++)
        junk[i] = (uint8_t)tu_rand(&s);
    tu_device_init(&d, DFOTA_LAYOUT_AB, 4096, N + 4096, 0, 2 * N);
    tu_device_load(&d, 0, f->a, N, p, plen);
    /* staging: the genuine header, a forged payload of the same size */
    memcpy(d.flash.mem + d.cfg.layout.staging + hs, junk, plen - hs);
    assert_int_equal(dfota_pkg_parse(&h, p, plen), DFOTA_OK);
    dfota_sha256(junk, plen - hs, h.payload_sha256);
    memcpy(forged, d.flash.mem + d.cfg.layout.staging, sizeof forged);
    assert_int_equal(dfota_pkg_write(&h, forged), DFOTA_OK);  /* signature: the genuine one */
    x.port = d.flash.port;
    x.port.ctx = &x;
    x.port.read = ip_read;
    x.port.prog = ip_prog;
    x.port.erase = ip_erase;
    x.f = &d.flash;
    x.staging = d.cfg.layout.staging;
    x.forged = forged;
    x.header_reads = 0;
    d.cfg.flash = &x.port;
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    simflash_reset_counters(&d.flash);
    assert_int_equal(dfota_check(&e), DFOTA_ERR_SIGNATURE);
    assert_int_equal(x.header_reads, 1);
    x.header_reads = 0;
    assert_int_not_equal(dfota_install(&e), DFOTA_OK);
    assert_int_equal(d.flash.erases + d.flash.progs, 0);
    free(junk);
    free(p);
    tu_device_free(&d);
}

/* Finding 6: after a port error, dfota_resume on the same engine (no
 * dfota_init) finishes the update: it reads the journal from flash. */
static void test_resume_after_io_error_same_engine(void **st)
{
    struct tu_pair *f = *st;
    size_t plen;
    int layout;
    for (layout = 0; layout < 2; layout++) {
        int inplace = layout == 1;
        uint8_t *p = tu_package(f->a, N, f->b, f->blen, inplace, 4096, 1, 0, "", &plen), *initial;
        struct tu_device d;
        struct dfota_engine e;
        uint64_t ops, k;
        tu_device_init(&d, inplace ? DFOTA_LAYOUT_INPLACE : DFOTA_LAYOUT_AB, 4096, N + 4096, 3,
                       2 * N);
        tu_device_load(&d, 0, f->a, N, p, plen);
        initial = malloc(d.flash.size);
        memcpy(initial, d.flash.mem, d.flash.size);
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        simflash_reset_counters(&d.flash);
        assert_int_equal(dfota_install(&e), DFOTA_OK);
        ops = d.flash.ops;
        for (k = 0; k < ops; k += 3) {
            int rc, tries;
            memcpy(d.flash.mem, initial, d.flash.size);
            simflash_power_on(&d.flash);
            simflash_reset_counters(&d.flash);
            d.flash.io_error_at = k;
            assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
            rc = dfota_install(&e);
            for (tries = 0; rc && tries < 3; tries++)
                rc = dfota_pending(&e) ? dfota_resume(&e) : dfota_install(&e);
            if (rc)
                fail_msg("%s io error at op %llu: %s", inplace ? "in place" : "A/B",
                         (unsigned long long)k, dfota_strerror(rc));
            assert_int_equal(dfota_state(&e), DFOTA_STATE_IDLE);
            assert_memory_equal(d.flash.mem + d.cfg.layout.slot[dfota_active_slot(&e)], f->b,
                                f->blen);
            assert_false(d.flash.violation);
        }
        free(initial);
        tu_device_free(&d);
        free(p);
    }
}

/* Finding 4 (a finished update never needs the package again): the IDLE
 * record lost (decayed) after the application erased staging; the record
 * before it has every block done: resume verifies and ends it from the
 * journal alone. */
static void test_finished_update_without_package(void **st)
{
    struct tu_pair *f = *st;
    size_t plen;
    int layout;
    for (layout = 0; layout < 2; layout++) {
        int inplace = layout == 1;
        uint8_t *p = tu_package(f->a, N, f->b, f->blen, inplace, 4096, 1, 0, "", &plen);
        struct tu_device d;
        struct dfota_engine e;
        uint32_t half, s;
        tu_device_init(&d, inplace ? DFOTA_LAYOUT_INPLACE : DFOTA_LAYOUT_AB, 4096, N + 4096, 3,
                       2 * N);
        tu_device_load(&d, 0, f->a, N, p, plen);
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        assert_int_equal(dfota_install(&e), DFOTA_OK);
        /* the IDLE record is the newest: lose it, erase staging */
        half = d.cfg.layout.journal + (e.seq & 1) * (d.cfg.layout.journal_size / 2);
        memset(d.flash.mem + half, 0xFF, d.cfg.layout.journal_size / 2);
        for (s = 0; s < d.cfg.layout.staging_size; s++)
            d.flash.mem[d.cfg.layout.staging + s] = 0xFF;
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        assert_true(dfota_pending(&e));
        assert_int_equal(dfota_resume(&e), DFOTA_OK);
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        assert_false(dfota_pending(&e));
        assert_int_equal(dfota_active_slot(&e), inplace ? 0 : 1);
        assert_memory_equal(d.flash.mem + d.cfg.layout.slot[dfota_active_slot(&e)], f->b, f->blen);
        tu_device_free(&d);
        free(p);
    }
}

/* Findings 3 and 7 on ECC flash: a unit whose program or erase was cut
 * reads as an error and must not be programmed again without an erase.
 * Cuts at every operation of an A/B and an in-place update. */
static void test_ecc_flash_cuts(void **st)
{
    struct tu_pair *f = *st;
    size_t plen;
    int layout;
    for (layout = 0; layout < 2; layout++) {
        int inplace = layout == 1;
        uint8_t *p = tu_package(f->a, N, f->b, f->blen, inplace, 4096, 1, 0, "", &plen), *initial;
        struct tu_device d;
        struct dfota_engine e;
        uint64_t ops, k;
        tu_device_init(&d, inplace ? DFOTA_LAYOUT_INPLACE : DFOTA_LAYOUT_AB, 4096, N + 4096, 3,
                       2 * N);
        tu_device_load(&d, 0, f->a, N, p, plen);
        assert_int_equal(simflash_set_ecc(&d.flash, 1), 0);
        initial = malloc(d.flash.size);
        memcpy(initial, d.flash.mem, d.flash.size);
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        simflash_reset_counters(&d.flash);
        assert_int_equal(dfota_install(&e), DFOTA_OK);
        ops = d.flash.ops;
        for (k = 0; k < ops; k += inplace ? 3 : 1) {
            char id[64];
            snprintf(id, sizeof id, "%s ecc cut %llu", inplace ? "in place" : "A/B",
                     (unsigned long long)k);
            memcpy(d.flash.mem, initial, d.flash.size);
            assert_int_equal(simflash_set_ecc(&d.flash, 0), 0);
            assert_int_equal(simflash_set_ecc(&d.flash, 1), 0);
            simflash_power_on(&d.flash);
            simflash_reset_counters(&d.flash);
            d.flash.cut_after = k;
            d.flash.tear_seed = (uint32_t)k * 2654435761u + 3;
            assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
            assert_int_equal(dfota_install(&e), DFOTA_ERR_IO);
            simflash_power_on(&d.flash);
            if (dfota_init(&e, &d.cfg) != DFOTA_OK)
                fail_msg("%s: dfota_init fails after the cut", id);
            settle_to_target(&d, f, id);
            if (d.flash.violation)
                fail_msg("%s: %s", id, d.flash.why);
        }
        free(initial);
        tu_device_free(&d);
        free(p);
    }
}

/* Finding 5: a checkpoint record with a valid CRC but a field out of
 * range is refused (DFOTA_ERR_JOURNAL, still pending), never read out of
 * bounds. Offsets from docs/journal-format.md. */
static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A power-up after the journal was damaged: resume refuses the record
 * (DFOTA_ERR_JOURNAL) and the update stays pending, FAILED. */
static void assert_resume_refused(struct tu_device *d, const char *what)
{
    struct dfota_engine e2;
    int rc;
    simflash_power_on(&d->flash);
    rc = dfota_init(&e2, &d->cfg);
    if (!rc)
        rc = dfota_resume(&e2);
    if (rc != DFOTA_ERR_JOURNAL)
        fail_msg("%s: %s, not refused", what, dfota_strerror(rc));
    assert_true(dfota_pending(&e2));
    assert_int_equal(dfota_state(&e2), DFOTA_STATE_FAILED);
}

static void test_snapshot_fields_range_checked(void **st)
{
    struct tu_pair *f = *st;
    size_t plen, i;
    uint8_t *p, *cut;
    struct tu_device d;
    struct dfota_engine e;
    struct dfota_pkg_header h;
    const uint32_t model = (uint32_t)sizeof(struct dz_model), s0 = 216;
    const uint32_t words = s0 + 4 + model, bytes = words + 44, tail = bytes + 14;
    /* field offsets in the record, and a bad value for each */
    const struct { uint32_t off, size, bad; const char *name; } bad[] = {
        { bytes + 13, 1, 7, "pred_kind" },
        { bytes + 12, 1, 9, "pred_n" },
        { bytes + 0, 1, 3, "op" },
        { tail + 4, 4, 100000, "map_n" },
        { words + 8, 4, 0x7FFFFFFF, "in_pos" },
        { words + 0, 4, 0, "range" },
        { words + 12, 4, 12345, "out_pos" },
        { s0 + 4, 2, 0, "a probability" },
        { s0, 4, 1, "model count" },
        { 20, 4, 999, "done" },
        { 36, 4, 0x80, "flags" },
    };
    /* the offsets are those of a DZ1 snapshot: a DZ1 package, whichever
     * codec the encoder would pick for this pair */
    setenv("DFOTA_CODEC", "1", 1);
    p = tu_package(f->a, N, f->b, f->blen, 1, 4096, 1, 0, "", &plen);
    unsetenv("DFOTA_CODEC");
    assert_int_equal(dfota_pkg_parse(&h, p, plen), DFOTA_OK);
    assert_int_equal(h.algorithm, DFOTA_ALG_DZ1);
    tu_device_init(&d, DFOTA_LAYOUT_INPLACE, 4096, N + 4096, 3, 2 * N);
    tu_device_load(&d, 0, f->a, N, p, plen);
    /* cut after a few checkpoints: the newest record has a snapshot */
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    d.flash.cut_after = 600;
    assert_int_equal(dfota_install(&e), DFOTA_ERR_IO);
    simflash_power_on(&d.flash);
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    assert_true(dfota_pending(&e));
    assert_true(e.blocks_done > 0 && e.blocks_done < 15);
    cut = malloc(d.flash.size);
    memcpy(cut, d.flash.mem, d.flash.size);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char what[64];
        uint32_t half = d.cfg.layout.journal + (e.seq & 1) * (d.cfg.layout.journal_size / 2);
        uint8_t *r = d.flash.mem + half;
        uint32_t len;
        memcpy(d.flash.mem, cut, d.flash.size);
        assert_int_equal(get32(r), 0x324A4644u);
        len = get32(r + 8);
        assert_true(len > tail);               /* a snapshot record */
        if (bad[i].size == 1)
            r[bad[i].off] = (uint8_t)bad[i].bad;
        else if (bad[i].size == 2)
            r[bad[i].off] = (uint8_t)bad[i].bad, r[bad[i].off + 1] = (uint8_t)(bad[i].bad >> 8);
        else
            put32(r + bad[i].off, bad[i].bad);
        put32(r + len - 4, dfota_crc32(0, r, len - 4));
        snprintf(what, sizeof what, "%s out of range", bad[i].name);
        assert_resume_refused(&d, what);
    }
    /* untouched, it resumes */
    memcpy(d.flash.mem, cut, d.flash.size);
    settle_to_target(&d, f, "snapshot intact");
    free(cut);
    free(p);
    tu_device_free(&d);
}

/* A DZ2 checkpoint carries snapshot format 0x00020003, the range decoder's
 * low in place of its code register (docs/journal-format.md). The same
 * record marked with the DZ2 format of engines before matched literals
 * (0x00020001), or with one of DZ1's, is refused: DFOTA_ERR_JOURNAL, the
 * update pending and FAILED, never resumed with a state it would misread.
 * Written in the previous serialisation (0x00020002: the code register, as
 * engines before 0x00020003 wrote it), it resumes. */
static void test_snapshot_dz2_old_format_refused(void **st)
{
    struct tu_pair *f = *st;
    static const uint32_t ids[] = { 0x00020001u, 0x00010001u, 0x00010002u };
    const uint32_t words = 216 + 4 + (uint32_t)sizeof(struct dz2_model);
    size_t plen, i;
    uint8_t *p, *cut;
    struct tu_device d;
    struct dfota_engine e;
    struct dfota_pkg_header h;
    uint32_t half;

    setenv("DFOTA_CODEC", "2", 1);
    p = tu_package(f->a, N, f->b, f->blen, 1, 4096, 1, 0, "", &plen);
    unsetenv("DFOTA_CODEC");
    assert_int_equal(dfota_pkg_parse(&h, p, plen), DFOTA_OK);
    assert_int_equal(h.algorithm, DFOTA_ALG_DZ2);
    tu_device_init(&d, DFOTA_LAYOUT_INPLACE, 4096, N + 4096, 3, 2 * N);
    tu_device_load(&d, 0, f->a, N, p, plen);
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    d.flash.cut_after = 600;
    assert_int_equal(dfota_install(&e), DFOTA_ERR_IO);
    simflash_power_on(&d.flash);
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    assert_true(e.blocks_done > 0 && e.blocks_done < 15);
    half = d.cfg.layout.journal + (e.seq & 1) * (d.cfg.layout.journal_size / 2);
    assert_int_equal(get32(d.flash.mem + half + 28), 0x00020003u);
    cut = malloc(d.flash.size);
    memcpy(cut, d.flash.mem, d.flash.size);
    for (i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        uint8_t *r = d.flash.mem + half;
        uint32_t len;
        char what[64];
        memcpy(d.flash.mem, cut, d.flash.size);
        len = get32(r + 8);
        put32(r + 28, ids[i]);
        put32(r + len - 4, dfota_crc32(0, r, len - 4));
        snprintf(what, sizeof what, "snapshot format 0x%08x", (unsigned)ids[i]);
        assert_resume_refused(&d, what);
    }
    memcpy(d.flash.mem, cut, d.flash.size);
    settle_to_target(&d, f, "DZ2 snapshot intact");
    {
        /* serialisation 2: code = the 4 stream bytes before in_pos - low */
        uint8_t *r;
        const uint8_t *w;
        uint32_t len, in_pos;
        memcpy(d.flash.mem, cut, d.flash.size);
        r = d.flash.mem + half;
        len = get32(r + 8);
        in_pos = get32(r + words + 8);
        w = d.flash.mem + d.cfg.layout.staging + h.header_size + in_pos - 4;
        put32(r + words + 4, ((uint32_t)w[0] << 24 | (uint32_t)w[1] << 16 | (uint32_t)w[2] << 8 | w[3]) -
                                 get32(r + words + 4));
        put32(r + 28, 0x00020002u);
        put32(r + len - 4, dfota_crc32(0, r, len - 4));
        settle_to_target(&d, f, "DZ2 snapshot, serialisation 2");
    }
    free(cut);
    free(p);
    tu_device_free(&d);
}

/* A journal of the previous format (DFJ1): its IDLE record's bank boots. */
static void test_dfj1_idle_record(void **st)
{
    struct tu_pair *f = *st;
    struct tu_device d;
    struct dfota_engine e;
    size_t plen;
    uint8_t *p, *r;
    tu_device_init(&d, DFOTA_LAYOUT_AB, 4096, N + 4096, 0, 2 * N);
    p = tu_package(f->b, f->blen, f->a, N, 0, 0, 0, 0, "", &plen);  /* from bank 1's image */
    tu_device_load(&d, 1, f->b, f->blen, p, plen);
    r = d.flash.mem + d.cfg.layout.journal + d.cfg.layout.journal_size / 2;   /* half 1, seq 1 */
    memset(r, 0, 140);
    put32(r, 0x314A4644u);
    put32(r + 4, 1);
    put32(r + 8, 140);
    put32(r + 12, 1);          /* IDLE */
    put32(r + 16, 1);          /* bank 1 boots */
    put32(r + 136, dfota_crc32(0, r, 136));
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    assert_false(dfota_pending(&e));
    assert_int_equal(dfota_active_slot(&e), 1);
    assert_int_equal(dfota_install(&e), DFOTA_OK);
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    assert_int_equal(dfota_active_slot(&e), 0);
    assert_memory_equal(d.flash.mem + d.cfg.layout.slot[0], f->a, N);
    free(p);
    tu_device_free(&d);
}

/* The engine state decides which calls are valid. */
static void test_state_calls(void **st)
{
    struct tu_pair *f = *st;
    struct tu_device d;
    struct dfota_engine e;
    size_t plen;
    uint8_t *p = tu_package(f->a, N, f->b, f->blen, 0, 0, 0, 0, "", &plen);
    tu_device_init(&d, DFOTA_LAYOUT_AB, 4096, N + 4096, 0, 2 * N);
    tu_device_load(&d, 0, f->a, N, p, plen);
    memset(&e, 0, sizeof e);
    assert_int_equal(dfota_state(&e), DFOTA_STATE_OFF);
    assert_int_equal(dfota_check(&e), DFOTA_ERR_STATE);
    assert_int_equal(dfota_install(&e), DFOTA_ERR_STATE);
    assert_int_equal(dfota_resume(&e), DFOTA_ERR_STATE);
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    assert_int_equal(dfota_state(&e), DFOTA_STATE_IDLE);
    assert_int_equal(dfota_resume(&e), DFOTA_OK);
    assert_int_equal(dfota_check(&e), DFOTA_OK);
    assert_int_equal(dfota_state(&e), DFOTA_STATE_CHECKED);
    d.flash.cut_after = 5;
    assert_int_equal(dfota_install(&e), DFOTA_ERR_IO);
    assert_int_equal(dfota_state(&e), DFOTA_STATE_PENDING);
    simflash_power_on(&d.flash);
    assert_int_equal(dfota_check(&e), DFOTA_ERR_STATE);
    assert_int_equal(dfota_install(&e), DFOTA_ERR_STATE);
    assert_int_equal(dfota_resume(&e), DFOTA_OK);
    assert_int_equal(dfota_state(&e), DFOTA_STATE_IDLE);
    assert_int_equal(dfota_active_slot(&e), 1);
    free(p);
    tu_device_free(&d);
}

/* Finding 9: sizes that do not fit 32 bits are refused, not wrapped. */
static void test_host_and_budget_overflows(void **st)
{
    struct tu_pair *f = *st;
    size_t plen;
    uint8_t *p = tu_package(f->a, N, f->b, f->blen, 0, 0, 0, 0, "", &plen), *out = NULL, *q;
    size_t olen = 0, qlen;
    struct dfota_pkg_header h;
    uint32_t sizes[] = { 0xFFFFFFFEu, 0xFFFFFFFFu, 0x80000000u }, i, hs = header_size_of(p, plen);
    for (i = 0; i < 3; i++) {
        assert_int_equal(dfota_pkg_parse(&h, p, plen), DFOTA_OK);
        h.dst_size = sizes[i];
        q = rebuild(&h, p + hs, plen - hs, 0, &qlen);   /* v2: a 5-byte size now */
        assert_int_not_equal(dfota_host_apply(f->a, N, q, qlen, NULL, &out, &olen, NULL, NULL,
                                              NULL), DFOTA_OK);
        assert_null(out);
        free(q);
    }
    /* a slot of about 4 GiB: the budget is right, or 0 when it cannot fit */
    assert_int_equal(dfota_journal_half_size(DFOTA_LAYOUT_AB, 0xFFFFFFFFu, 4096, 16),
                     (224u + 1048576u * 16u + 4095u) / 4096u * 4096u);
    assert_int_equal(dfota_journal_half_size(DFOTA_LAYOUT_AB, 0xFFFFFFFFu, 256, 256), 0);
    free(p);
}

/* ---- in place, target copies over the whole block (DFOTA_PKG_F_BLOCKWIN) ---- */

/* The pair's source, and a target that repeats itself within its 4 KiB
 * blocks beyond the decoder's 256-byte ring: in every other block a new
 * 600-byte random chunk at +300, again 1000 to 2000 bytes later. */
static struct tu_pair win_pair(const struct tu_pair *f)
{
    struct tu_pair w = { f->a, malloc(N), N, N };
    size_t b, i;
    uint32_t s = 17;
    assert_non_null(w.b);
    memcpy(w.b, f->a, N);
    for (b = 1; (b + 1) * 4096 <= N; b += 2) {
        size_t at = b * 4096 + 300, dist = 1000 + (b * 371) % 1001;
        for (i = 0; i < 600; i++)
            w.b[at + i] = (uint8_t)tu_rand(&s);
        memcpy(w.b + at + dist, w.b + at, 600);
    }
    return w;
}

/* An in-place package (4 KiB sectors) with the target window given (enum
 * dfota_window, as dfota diff --target-window), the block check (0: the
 * device's digest table, or a chain of 4- or 16-byte entries) and header
 * format (0: the default); *rc what dfota_package_build returned. */
static uint8_t *win_package_rc(const struct tu_pair *w, int window, uint32_t lag,
                               unsigned block_digest, unsigned format, size_t *plen, int *rc)
{
    struct dfota_diff_opts o;
    struct dfota_pkg_meta meta = { "", "1.0.0", "1.1.0", 0, format };
    uint8_t pk[32], sk[64], *pkg = NULL;
    memset(&o, 0, sizeof o);
    o.inplace = 1;
    o.sector_size = 4096;
    o.lag = lag;
    o.window = window;
    o.block_digest = block_digest;
    tu_keys(pk, sk);
    *rc = dfota_package_build(w->a, w->alen, w->b, w->blen, &o, &meta, sk, &pkg, plen, NULL);
    return pkg;
}

/* the same, with the device's digest table and format 2, which must build */
static uint8_t *win_package(const struct tu_pair *w, int window, uint32_t lag, size_t *plen)
{
    int rc;
    uint8_t *pkg = win_package_rc(w, window, lag, 0, 0, plen, &rc);
    assert_int_equal(rc, DFOTA_OK);
    return pkg;
}

/* The in-place flash of a device: where scratch and the digest table are. */
static uint32_t table_at(const struct tu_device *d, const uint8_t *pkg, size_t plen, uint32_t *tab)
{
    struct dfota_pkg_header h;
    assert_int_equal(dfota_pkg_parse(&h, pkg, plen), DFOTA_OK);
    *tab = dfota_devtable_size(&h, 16);
    return d->cfg.layout.staging + d->cfg.layout.staging_size / 4096 * 4096 - *tab;
}

/* after a dry run that failed (or was cut): nothing pending, the old
 * image in the firmware region, bank 0 active */
static void assert_old_boots(struct tu_device *d, const struct tu_pair *w, const char *what)
{
    struct dfota_engine e;
    simflash_power_on(&d->flash);
    assert_int_equal(dfota_init(&e, &d->cfg), DFOTA_OK);
    if (dfota_pending(&e))
        fail_msg("%s: an update is pending", what);
    assert_int_equal(dfota_active_slot(&e), 0);
    if (memcmp(d->flash.mem + d->cfg.layout.slot[0], w->a, N))
        fail_msg("%s: the old image was written over", what);
    assert_false(d->flash.violation);
}

/* dfota_package_build with window AUTO sets the flag for such a pair (and
 * RING does not): the package applies through dfota_check and
 * dfota_install. The dry run programs the blocks into scratch (each slot
 * holds the last block that took it) and writes neither the firmware nor
 * anything but scratch and the digest table; the ring's package writes no
 * scratch. */
static void test_blockwin_install(void **st)
{
    struct tu_pair *f = *st, w = win_pair(f);
    struct dfota_pkg_header h, hr;
    struct tu_device d;
    struct dfota_engine e;
    size_t plen, rlen;
    uint8_t *p = win_package(&w, DFOTA_WIN_AUTO, 2, &plen), *r, *before;
    uint32_t tab, at, n, i, sc;

    assert_int_equal(dfota_pkg_parse(&h, p, plen), DFOTA_OK);
    assert_int_equal(h.algorithm, DFOTA_ALG_DZ2);
    assert_true(h.flags & DFOTA_PKG_F_INPLACE);
    assert_true(h.flags & DFOTA_PKG_F_DEVTABLE);
    assert_true(h.flags & DFOTA_PKG_F_BLOCKWIN);
    r = win_package(&w, DFOTA_WIN_RING, 2, &rlen);
    assert_int_equal(dfota_pkg_parse(&hr, r, rlen), DFOTA_OK);
    assert_false(hr.flags & DFOTA_PKG_F_BLOCKWIN);
    print_message("blockwin package %zu bytes, ring %zu\n", plen, rlen);
    assert_true(plen < rlen);
    {
        /* window BLOCK on this pair: the flag too */
        size_t blen;
        uint8_t *q = win_package(&w, DFOTA_WIN_BLOCK, 2, &blen);
        struct dfota_pkg_header hb;
        assert_int_equal(dfota_pkg_parse(&hb, q, blen), DFOTA_OK);
        assert_true(hb.flags & DFOTA_PKG_F_BLOCKWIN);
        free(q);
    }
    /* and window AUTO on the plain release (no far repeats): the payload
     * decodes under the ring's rule, no flag */
    {
        size_t qlen;
        uint8_t *q = win_package(f, DFOTA_WIN_AUTO, 2, &qlen);
        struct dfota_pkg_header hq;
        assert_int_equal(dfota_pkg_parse(&hq, q, qlen), DFOTA_OK);
        if (hq.flags & DFOTA_PKG_F_BLOCKWIN)
            print_message("note: window AUTO set BLOCKWIN on the plain release too\n");
        tu_attempt(f, DFOTA_LAYOUT_INPLACE, q, qlen, NULL, 4, 1, DFOTA_OK);
        free(q);
    }

    tu_attempt(&w, DFOTA_LAYOUT_INPLACE, p, plen, NULL, 4, 1, DFOTA_OK);
    tu_attempt(&w, DFOTA_LAYOUT_INPLACE, p, plen, NULL, 4, 0, DFOTA_OK);
    tu_attempt(&w, DFOTA_LAYOUT_INPLACE, r, rlen, NULL, 4, 1, DFOTA_OK);

    /* the dry run, for both packages */
    for (i = 0; i < 2; i++) {
        const uint8_t *pk = i ? r : p;
        size_t pl = i ? rlen : plen;
        struct dfota_pkg_header *hh = i ? &hr : &h;
        tu_device_init(&d, DFOTA_LAYOUT_INPLACE, 4096, N + 4096, 4, 2 * N);
        tu_device_load(&d, 0, w.a, N, pk, pl);
        before = malloc(d.flash.size);
        assert_non_null(before);
        memcpy(before, d.flash.mem, d.flash.size);
        at = table_at(&d, pk, pl, &tab);
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        simflash_reset_counters(&d.flash);
        assert_int_equal(dfota_check(&e), DFOTA_OK);
        assert_false(d.flash.violation);
        /* the firmware region untouched */
        assert_memory_equal(d.flash.mem + d.cfg.layout.slot[0], before + d.cfg.layout.slot[0],
                            d.cfg.layout.slot_size);
        /* outside scratch and the table: nothing */
        sc = d.cfg.layout.scratch;
        assert_memory_equal(d.flash.mem, before, sc);
        assert_memory_equal(d.flash.mem + sc + d.cfg.layout.scratch_size,
                            before + sc + d.cfg.layout.scratch_size,
                            at - sc - d.cfg.layout.scratch_size);
        assert_memory_equal(d.flash.mem + at + tab, before + at + tab, d.flash.size - at - tab);
        n = dz_block_count(hh->dst_size, 4096);
        if (i == 0) {
            /* each slot holds the last block of the stream that took it:
             * blocks n-4 .. n-1 in slots (n-4) % 4 .. (n-1) % 4 */
            uint32_t j;
            assert_true(d.flash.erases >= n);
            for (j = n - 4; j < n; j++) {
                uint32_t off, len, addr;
                dz_block(j, hh->dst_size, 4096, hh->runs, hh->nruns, &off, &len, &addr);
                assert_memory_equal(d.flash.mem + sc + (j % 4) * 4096, w.b + addr, len);
            }
        } else {
            /* the ring's package: scratch as it was, no erase but the table's */
            assert_memory_equal(d.flash.mem + sc, before + sc, d.cfg.layout.scratch_size);
            assert_true(d.flash.erases <= tab / 4096);
        }
        /* then the install (no second dry run) ends on the target */
        assert_int_equal(dfota_install(&e), DFOTA_OK);
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        assert_false(dfota_pending(&e));
        assert_memory_equal(d.flash.mem + d.cfg.layout.slot[0], w.b, N);
        assert_false(d.flash.violation);
        free(before);
        tu_device_free(&d);
    }
    free(r);
    free(p);
    free(w.b);
}

/* A BLOCKWIN package of lag `lag` on a device of `slots` scratch sectors
 * (ecc 1: ECC flash; 2: writes held until sync, simflash_set_cache): a power cut at every step-th operation of the
 * install, then power-ups until the target boots. More slots than lag + 2
 * make batches of several blocks, so a resume finds up to slots - 1
 * uncommitted blocks in scratch beside the slot its dry run uses. */
static void win_cut_sweep(const struct tu_pair *w, uint32_t lag, uint32_t slots, int ecc,
                          unsigned parts)
{
    struct tu_device d;
    struct dfota_engine e;
    size_t plen;
    uint8_t *p = win_package(w, DFOTA_WIN_AUTO, lag, &plen), *initial;
    uint64_t ops, k;
    struct dfota_pkg_header h;

    assert_int_equal(dfota_pkg_parse(&h, p, plen), DFOTA_OK);
    assert_true(h.flags & DFOTA_PKG_F_BLOCKWIN);
    tu_device_init(&d, DFOTA_LAYOUT_INPLACE, 4096, N + 4096, slots, 2 * N);
    tu_device_load(&d, 0, w->a, N, p, plen);
    if (ecc == 1)
        assert_int_equal(simflash_set_ecc(&d.flash, 1), 0);
    if (ecc == 2)
        assert_int_equal(simflash_set_cache(&d.flash, 1), 0);
    initial = malloc(d.flash.size);
    assert_non_null(initial);
    memcpy(initial, d.flash.mem, d.flash.size);
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    simflash_reset_counters(&d.flash);
    assert_int_equal(dfota_install(&e), DFOTA_OK);
    ops = d.flash.ops;
    for (k = 0; k < ops; k += 1 + ops / parts) {
        char id[80];
        snprintf(id, sizeof id, "lag %u, %u slots%s: cut at %llu", lag, slots,
                 ecc == 1 ? ", ECC" : ecc == 2 ? ", cache" : "",
                 (unsigned long long)k);
        memcpy(d.flash.mem, initial, d.flash.size);
        if (ecc == 2) {
            assert_int_equal(simflash_set_cache(&d.flash, 0), 0);
            memcpy(d.flash.mem, initial, d.flash.size);
            assert_int_equal(simflash_set_cache(&d.flash, 1), 0);
        }
        if (ecc == 1) {
            assert_int_equal(simflash_set_ecc(&d.flash, 0), 0);
            assert_int_equal(simflash_set_ecc(&d.flash, 1), 0);
        }
        simflash_power_on(&d.flash);
        simflash_reset_counters(&d.flash);
        d.flash.cut_after = k;
        d.flash.tear_seed = (uint32_t)k * 40503u + 9;
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        assert_int_equal(dfota_install(&e), DFOTA_ERR_IO);
        simflash_power_on(&d.flash);
        if (dfota_init(&e, &d.cfg) != DFOTA_OK)
            fail_msg("%s: dfota_init fails after the cut", id);
        settle_to_target(&d, (struct tu_pair *)w, id);
        if (d.flash.violation)
            fail_msg("%s: %s", id, d.flash.why);
    }
    free(initial);
    tu_device_free(&d);
    free(p);
}

/* Power cuts: in the dry run of dfota_check (nothing pending after it,
 * the old image boots, an install then ends on the target), and at every
 * few operations of dfota_install (the dry run, then the apply; each
 * resume runs the dry run again from its checkpoint, into the slot of its
 * first block), with a second cut inside that resume too: the target
 * boots in the end. */
static void test_blockwin_cuts(void **st)
{
    struct tu_pair *f = *st, w = win_pair(f);
    struct tu_device d;
    struct dfota_engine e;
    size_t plen;
    uint8_t *p = win_package(&w, DFOTA_WIN_AUTO, 1, &plen), *initial;
    uint64_t ops, k, step;
    struct dfota_pkg_header h;

    assert_int_equal(dfota_pkg_parse(&h, p, plen), DFOTA_OK);
    assert_true(h.flags & DFOTA_PKG_F_BLOCKWIN);
    tu_device_init(&d, DFOTA_LAYOUT_INPLACE, 4096, N + 4096, 3, 2 * N);
    tu_device_load(&d, 0, w.a, N, p, plen);
    initial = malloc(d.flash.size);
    assert_non_null(initial);
    memcpy(initial, d.flash.mem, d.flash.size);

    /* (1) cut in dfota_check's dry run */
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    simflash_reset_counters(&d.flash);
    assert_int_equal(dfota_check(&e), DFOTA_OK);
    ops = d.flash.ops;
    assert_true(ops > 15 * 2);                   /* an erase and programs a block */
    for (k = 0; k < ops; k += 1 + ops / 40) {
        char id[64];
        snprintf(id, sizeof id, "dry run cut at %llu", (unsigned long long)k);
        memcpy(d.flash.mem, initial, d.flash.size);
        simflash_power_on(&d.flash);
        simflash_reset_counters(&d.flash);
        d.flash.cut_after = k;
        d.flash.tear_seed = (uint32_t)k + 5;
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        assert_int_equal(dfota_check(&e), DFOTA_ERR_IO);
        assert_old_boots(&d, &w, id);
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        assert_int_equal(dfota_install(&e), DFOTA_OK);
        assert_memory_equal(d.flash.mem + d.cfg.layout.slot[0], w.b, N);
    }

    /* (2) cut anywhere in dfota_install */
    memcpy(d.flash.mem, initial, d.flash.size);
    simflash_power_on(&d.flash);
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    simflash_reset_counters(&d.flash);
    assert_int_equal(dfota_install(&e), DFOTA_OK);
    ops = d.flash.ops;
#if defined(__SANITIZE_ADDRESS__)
    step = 1 + ops / 40;
#else
    step = 1 + ops / 150;
#endif
    for (k = 0; k < ops; k += step) {
        char id[64];
        snprintf(id, sizeof id, "install cut at %llu", (unsigned long long)k);
        memcpy(d.flash.mem, initial, d.flash.size);
        simflash_power_on(&d.flash);
        simflash_reset_counters(&d.flash);
        d.flash.cut_after = k;
        d.flash.tear_seed = (uint32_t)k * 2654435761u + 1;
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        assert_int_equal(dfota_install(&e), DFOTA_ERR_IO);
        settle_to_target(&d, &w, id);
        assert_false(d.flash.violation);
    }

    /* (3) a cut in the apply, then one inside the resume (its dry run
     * from the checkpoint, or its apply), then resume again */
    for (k = ops / 3; k < ops; k += ops / 3) {
        uint64_t rops, j;
        uint8_t *cut = malloc(d.flash.size);
        assert_non_null(cut);
        memcpy(d.flash.mem, initial, d.flash.size);
        simflash_power_on(&d.flash);
        simflash_reset_counters(&d.flash);
        d.flash.cut_after = k;
        d.flash.clean_cut = 1;
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        assert_int_equal(dfota_install(&e), DFOTA_ERR_IO);
        d.flash.clean_cut = 0;
        simflash_power_on(&d.flash);
        memcpy(cut, d.flash.mem, d.flash.size);
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        assert_true(dfota_pending(&e));
        assert_true(e.blocks_done > 0);
        simflash_reset_counters(&d.flash);
        assert_int_equal(dfota_resume(&e), DFOTA_OK);
        assert_memory_equal(d.flash.mem + d.cfg.layout.slot[0], w.b, N);
        rops = d.flash.ops;
        for (j = 0; j < rops; j += 1 + rops / 30) {
            char id[80];
            snprintf(id, sizeof id, "cut at %llu, then at %llu of the resume",
                     (unsigned long long)k, (unsigned long long)j);
            memcpy(d.flash.mem, cut, d.flash.size);
            simflash_power_on(&d.flash);
            simflash_reset_counters(&d.flash);
            d.flash.cut_after = j;
            d.flash.tear_seed = (uint32_t)j + 77;
            assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
            assert_int_equal(dfota_resume(&e), DFOTA_ERR_IO);
            settle_to_target(&d, &w, id);
            assert_false(d.flash.violation);
        }
        free(cut);
    }
    free(initial);
    tu_device_free(&d);
    free(p);
    /* (4) other batch sizes, on ECC flash and with writes held until sync too */
#if defined(__SANITIZE_ADDRESS__)
    win_cut_sweep(&w, 1, 6, 0, 30);
    win_cut_sweep(&w, 2, 4, 1, 30);
    win_cut_sweep(&w, 0, 5, 1, 30);
    win_cut_sweep(&w, 0, 2, 0, 30);
    win_cut_sweep(&w, 2, 4, 2, 30);
#else
    win_cut_sweep(&w, 1, 6, 0, 120);
    win_cut_sweep(&w, 2, 4, 1, 120);
    win_cut_sweep(&w, 0, 5, 1, 120);
    win_cut_sweep(&w, 2, 9, 0, 120);
    win_cut_sweep(&w, 0, 2, 0, 120);
    win_cut_sweep(&w, 2, 4, 2, 120);
#endif
    free(w.b);
}

/* Window AUTO means RING where the engine has no BLOCKWIN (a block digest
 * chain, format 1): no flag, and the packages install. Window BLOCK in
 * format 1 is refused (DFOTA_ERR_ARG); with a block digest chain it sets
 * the flag, and the package installs, also across power cuts (a resume
 * without a dry run: the apply reads the block back from its slot). */
static void test_blockwin_other_checks(void **st)
{
    struct tu_pair *f = *st, w = win_pair(f);
    struct dfota_pkg_header h;
    size_t plen;
    uint8_t *p;
    int rc;
    unsigned bd;

    p = win_package_rc(&w, DFOTA_WIN_BLOCK, 2, 0, DFOTA_PKG_FORMAT_V1, &plen, &rc);
    assert_int_equal(rc, DFOTA_ERR_ARG);
    free(p);
    p = win_package_rc(&w, DFOTA_WIN_AUTO, 2, 0, DFOTA_PKG_FORMAT_V1, &plen, &rc);
    assert_int_equal(rc, DFOTA_OK);
    assert_int_equal(dfota_pkg_parse(&h, p, plen), DFOTA_OK);
    assert_int_equal(h.format_version, DFOTA_PKG_FORMAT_V1);
    assert_false(h.flags & DFOTA_PKG_F_BLOCKWIN);
    tu_attempt(&w, DFOTA_LAYOUT_INPLACE, p, plen, NULL, 4, 1, DFOTA_OK);
    free(p);
    for (bd = 4; bd <= 16; bd += 12) {
        struct tu_device d;
        struct dfota_engine e;
        uint8_t *initial;
        uint64_t ops, k;
        p = win_package_rc(&w, DFOTA_WIN_AUTO, 2, bd, 0, &plen, &rc);
        assert_int_equal(rc, DFOTA_OK);
        assert_int_equal(dfota_pkg_parse(&h, p, plen), DFOTA_OK);
        assert_true(h.flags & DFOTA_PKG_F_BLOCKHASH);
        assert_false(h.flags & DFOTA_PKG_F_BLOCKWIN);
        tu_attempt(&w, DFOTA_LAYOUT_INPLACE, p, plen, NULL, 4, 1, DFOTA_OK);
        free(p);
        p = win_package_rc(&w, DFOTA_WIN_BLOCK, 2, bd, 0, &plen, &rc);
        assert_int_equal(rc, DFOTA_OK);
        assert_int_equal(dfota_pkg_parse(&h, p, plen), DFOTA_OK);
        assert_true(h.flags & DFOTA_PKG_F_BLOCKHASH);
        assert_true(h.flags & DFOTA_PKG_F_BLOCKWIN);
        tu_attempt(&w, DFOTA_LAYOUT_INPLACE, p, plen, NULL, 4, 1, DFOTA_OK);
        tu_attempt(&w, DFOTA_LAYOUT_INPLACE, p, plen, NULL, 4, 0, DFOTA_OK);
        tu_device_init(&d, DFOTA_LAYOUT_INPLACE, 4096, N + 4096, 4, 2 * N);
        tu_device_load(&d, 0, w.a, N, p, plen);
        initial = malloc(d.flash.size);
        assert_non_null(initial);
        memcpy(initial, d.flash.mem, d.flash.size);
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        simflash_reset_counters(&d.flash);
        assert_int_equal(dfota_install(&e), DFOTA_OK);
        ops = d.flash.ops;
        for (k = 0; k < ops; k += 1 + ops / 60) {
            char id[64];
            snprintf(id, sizeof id, "chain %u, cut at %llu", bd, (unsigned long long)k);
            memcpy(d.flash.mem, initial, d.flash.size);
            simflash_power_on(&d.flash);
            simflash_reset_counters(&d.flash);
            d.flash.cut_after = k;
            d.flash.tear_seed = (uint32_t)k + 3;
            assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
            assert_int_equal(dfota_install(&e), DFOTA_ERR_IO);
            settle_to_target(&d, &w, id);
            assert_false(d.flash.violation);
        }
        free(initial);
        tu_device_free(&d);
        free(p);
    }
    free(w.b);
}

/* A flash port between the engine and the simulated flash that fails in
 * the scratch area: the read_err-th read there returns an error, the
 * flip-th has a bit flipped, or the drop-th program there does not stick
 * (one byte of it stays erased). 0: off. */
struct winport {
    struct dfota_flash port;
    struct simflash *f;
    uint32_t lo, hi;             /* scratch */
    unsigned reads, progs, read_err, flip, drop, hit;
};

static int wp_read(void *ctx, uint32_t a, void *buf, uint32_t l)
{
    struct winport *x = ctx;
    int rc;
    if (a < x->hi && a + l > x->lo) {
        x->reads++;
        if (x->read_err && x->reads == x->read_err) {
            x->hit++;
            return SIMFLASH_IOERR;
        }
    }
    rc = x->f->port.read(x->f->port.ctx, a, buf, l);
    if (!rc && l && x->flip && a < x->hi && a + l > x->lo && x->reads == x->flip) {
        ((uint8_t *)buf)[(x->reads * 131u) % l] ^= 0x04;
        x->hit++;
    }
    return rc;
}

static int wp_prog(void *ctx, uint32_t a, const void *b, uint32_t l)
{
    struct winport *x = ctx;
    if (a < x->hi && a + l > x->lo && ++x->progs == x->drop && x->drop) {
        uint8_t t[DFOTA_IO_BUF];
        uint32_t i, at = (x->progs * 7u) % (l ? l : 1);
        if (l <= sizeof t) {
            memcpy(t, b, l);
            /* a byte that is not erased stays erased */
            for (i = 0; i < l && t[(at + i) % l] == 0xFF; i++)
                ;
            if (i < l) {
                t[(at + i) % l] = 0xFF;
                x->hit++;
                return x->f->port.prog(x->f->port.ctx, a, t, l);
            }
            x->drop++;                   /* all erased bytes: the next program */
        }
    }
    return x->f->port.prog(x->f->port.ctx, a, b, l);
}

static int wp_erase(void *ctx, uint32_t a)
{
    struct winport *x = ctx;
    return x->f->port.erase(x->f->port.ctx, a);
}

/* The dry run of a BLOCKWIN package with a read error in scratch, a read
 * of scratch that comes back wrong, and a scratch program that does not
 * stick: dfota_check (or dfota_install alone) fails with DFOTA_ERR_IO or
 * DFOTA_ERR_CORRUPT, nothing pending, the old image intact and bootable;
 * the faults gone, the package installs. A program that does not stick
 * later, in the apply, costs a retry from the checkpoint. */
static void test_blockwin_scratch_faults(void **st)
{
    struct tu_pair *f = *st, w = win_pair(f);
    struct tu_device d;
    struct dfota_engine e;
    struct winport x;
    size_t plen;
    uint8_t *p = win_package(&w, DFOTA_WIN_AUTO, 2, &plen), *initial;
    unsigned reads, progs, kind, k, failed[3] = { 0, 0, 0 }, runs[3] = { 0, 0, 0 }, applied = 0;
    int via;

    tu_device_init(&d, DFOTA_LAYOUT_INPLACE, 4096, N + 4096, 4, 2 * N);
    tu_device_load(&d, 0, w.a, N, p, plen);
    initial = malloc(d.flash.size);
    assert_non_null(initial);
    memcpy(initial, d.flash.mem, d.flash.size);
    memset(&x, 0, sizeof x);
    x.port = d.flash.port;
    x.port.ctx = &x;
    x.port.read = wp_read;
    x.port.prog = wp_prog;
    x.port.erase = wp_erase;
    x.port.sync = NULL;
    x.f = &d.flash;
    x.lo = d.cfg.layout.scratch;
    x.hi = d.cfg.layout.scratch + d.cfg.layout.scratch_size;
    d.cfg.flash = &x.port;
    /* a clean dry run: how many scratch reads and programs it makes */
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    x.reads = x.progs = 0;
    assert_int_equal(dfota_check(&e), DFOTA_OK);
    reads = x.reads;
    progs = x.progs;
    print_message("blockwin dry run: %u scratch reads, %u scratch programs\n", reads, progs);
    assert_true(reads > 15 && progs > 15);
    for (kind = 0; kind < 3; kind++) {
        unsigned total = kind == 2 ? progs : reads;
        for (k = 1; k <= total; k += 1 + total / 60) {
            for (via = 0; via < 2; via++) {
                char id[80];
                int rc;
                snprintf(id, sizeof id, "%s %u (dfota_%s)",
                         kind == 0 ? "read error" : kind == 1 ? "read flip" : "program dropped", k,
                         via ? "install" : "check");
                memcpy(d.flash.mem, initial, d.flash.size);
                simflash_power_on(&d.flash);
                x.reads = x.progs = x.hit = 0;
                x.read_err = kind == 0 ? k : 0;
                x.flip = kind == 1 ? k : 0;
                x.drop = kind == 2 ? k : 0;
                assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
                rc = via ? dfota_install(&e) : dfota_check(&e);
                if (!x.hit)
                    fail_msg("%s: the fault was not met", id);
                runs[kind]++;
                if (rc == DFOTA_OK) {
                    /* only a flipped byte that the decoder did not use may pass */
                    if (kind != 1)
                        fail_msg("%s: passed", id);
                    if (via)
                        assert_memory_equal(d.flash.mem + d.cfg.layout.slot[0], w.b, N);
                    continue;
                }
                failed[kind]++;
                if (rc != DFOTA_ERR_IO && rc != DFOTA_ERR_CORRUPT)
                    fail_msg("%s: %s", id, dfota_strerror(rc));
                if (kind == 0 && rc != DFOTA_ERR_IO)
                    fail_msg("%s: %s, not DFOTA_ERR_IO", id, dfota_strerror(rc));
                x.read_err = x.flip = x.drop = 0;
                assert_old_boots(&d, &w, id);
                /* the faults gone: it installs */
                assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
                assert_int_equal(dfota_install(&e), DFOTA_OK);
                assert_memory_equal(d.flash.mem + d.cfg.layout.slot[0], w.b, N);
            }
        }
    }
    print_message("blockwin scratch faults: %u/%u read errors, %u/%u flips, %u/%u dropped "
                  "programs refused\n", failed[0], runs[0], failed[1], runs[1], failed[2], runs[2]);
    /* a flip in the read-back of a block is always caught; only the
     * decoder's read-ahead of bytes it does not use may pass */
    assert_true(failed[1] * 2 >= runs[1]);
    /* a port error on an erase or a program of the dry run (simflash's
     * io_error_at): DFOTA_ERR_IO, the old image boots */
    memcpy(d.flash.mem, initial, d.flash.size);
    simflash_power_on(&d.flash);
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    simflash_reset_counters(&d.flash);
    assert_int_equal(dfota_check(&e), DFOTA_OK);
    {
        uint64_t ops = d.flash.ops, j;
        for (j = 0; j < ops; j += 1 + ops / 50) {
            char id[64];
            snprintf(id, sizeof id, "port error at op %llu of the dry run", (unsigned long long)j);
            memcpy(d.flash.mem, initial, d.flash.size);
            simflash_power_on(&d.flash);
            simflash_reset_counters(&d.flash);
            d.flash.io_error_at = j;
            assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
            if (dfota_check(&e) != DFOTA_ERR_IO)
                fail_msg("%s: not DFOTA_ERR_IO", id);
            assert_old_boots(&d, &w, id);
        }
    }
    /* and past the dry run, in the apply: a scratch program that does not
     * stick fails that block's check before its commit; the engine goes
     * on from its checkpoint (the resumed dry run programs the slot of the
     * checkpoint's block) and ends on the target */
    for (k = progs + 1; k < 3 * progs; k += 1 + progs / 20) {
        char id[64];
        int rc;
        snprintf(id, sizeof id, "apply: program %u dropped", k);
        memcpy(d.flash.mem, initial, d.flash.size);
        simflash_power_on(&d.flash);
        x.reads = x.progs = x.hit = 0;
        x.read_err = x.flip = 0;
        x.drop = k;
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        rc = dfota_install(&e);
        if (!x.hit)
            break;                       /* past the last program in scratch */
        x.drop = 0;
        if (rc != DFOTA_OK) {
            assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
            assert_true(dfota_pending(&e));
            rc = dfota_resume(&e);
        }
        if (rc != DFOTA_OK)
            fail_msg("%s: %s", id, dfota_strerror(rc));
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        assert_false(dfota_pending(&e));
        assert_memory_equal(d.flash.mem + d.cfg.layout.slot[0], w.b, N);
        assert_false(d.flash.violation);
        applied++;
    }
    assert_true(applied >= 10);
    free(initial);
    tu_device_free(&d);
    free(p);
    free(w.b);
}

/* ---- DFOTA_PKG_F_SAVED: saved source sectors -------------------------- */

/* The pair's source, and a target with the first 3 KiB of sectors 3 and 9
 * swapped (the rest as it was): each reads most of the other's source
 * sector, so no write order keeps both readable with lag 0 (or 1: they
 * are not side by side) and the encoder saves one. */
#define SWAP_A 3u
#define SWAP_B 9u
#define SWAP_LEN 3072u
static struct tu_pair swap_pair(const struct tu_pair *f)
{
    struct tu_pair w = { f->a, malloc(N), N, N };
    assert_non_null(w.b);
    memcpy(w.b, f->a, N);
    memcpy(w.b + SWAP_A * 4096, f->a + SWAP_B * 4096, SWAP_LEN);
    memcpy(w.b + SWAP_B * 4096, f->a + SWAP_A * 4096, SWAP_LEN);
    return w;
}

/* and sectors 5 and 12 swapped too: two sectors to save */
static struct tu_pair swap2_pair(const struct tu_pair *f)
{
    struct tu_pair w = swap_pair(f);
    memcpy(w.b + 5 * 4096, f->a + 12 * 4096, SWAP_LEN);
    memcpy(w.b + 12 * 4096, f->a + 5 * 4096, SWAP_LEN);
    return w;
}

/* An in-place package (4 KiB sectors, the device's digest table unless
 * block_digest, format 2) with dfota_diff_opts.saved and direction as given */
static uint8_t *saved_package_rc(const struct tu_pair *w, uint32_t lag, int saved, int direction,
                                 unsigned block_digest, size_t *plen, int *rc)
{
    struct dfota_diff_opts o;
    struct dfota_pkg_meta meta = { "", "1.0.0", "1.1.0", 0, 0 };
    uint8_t pk[32], sk[64], *pkg = NULL;
    memset(&o, 0, sizeof o);
    o.inplace = 1;
    o.sector_size = 4096;
    o.lag = lag;
    o.saved = saved;
    o.direction = direction;
    o.block_digest = block_digest;
    tu_keys(pk, sk);
    *rc = dfota_package_build(w->a, w->alen, w->b, w->blen, &o, &meta, sk, &pkg, plen, NULL);
    return pkg;
}

static uint8_t *saved_package(const struct tu_pair *w, uint32_t lag, int saved, size_t *plen,
                              struct dfota_pkg_header *h)
{
    int rc;
    uint8_t *p = saved_package_rc(w, lag, saved, DFOTA_DIR_AUTO, 0, plen, &rc);
    assert_int_equal(rc, DFOTA_OK);
    assert_int_equal(dfota_pkg_parse(h, p, *plen), DFOTA_OK);
    return p;
}

/* where the copy of saved sector k is: before the digest table at the end
 * of staging */
static uint32_t saved_at(const struct tu_device *d, const struct dfota_pkg_header *h, uint32_t k)
{
    uint32_t tab = dfota_devtable_size(h, 16);
    return d->cfg.layout.staging + d->cfg.layout.staging_size / 4096 * 4096 - tab -
           (h->nsaved - k) * 4096;
}

/* A device (lag + 2 scratch sectors) with staging of exactly what the
 * package needs plus `more` bytes (may be negative), loaded. */
static void saved_device(struct tu_device *d, const struct tu_pair *w, const uint8_t *p,
                         size_t plen, const struct dfota_pkg_header *h, int32_t more)
{
    uint32_t need = dfota_staging_need(h, 4096, 16);
    tu_device_init(d, DFOTA_LAYOUT_INPLACE, 4096, N + 4096, h->lag + 2u,
                   (uint32_t)((int32_t)need + more));
    tu_device_load(d, 0, w->a, N, p, plen);
}

/* dfota_package_build (direction auto) saves a source sector of the swap
 * pair, the package installs (with and without dfota_check first); without
 * saves (saved -1) no flag, a larger package. Nor does it save with
 * another direction or a block digest chain. Staging one sector short of
 * dfota_staging_need refuses it before any write (DFOTA_ERR_NOSPACE);
 * dfota_check makes no copy, dfota_install does, of the source as it was. */
static void test_saved_install(void **st)
{
    struct tu_pair *f = *st, w = swap_pair(f);
    struct dfota_pkg_header h, hn, h1;
    struct tu_device d;
    struct dfota_engine e;
    size_t plen, nlen, l1;
    uint8_t *p = saved_package(&w, 0, 0, &plen, &h), *q, *before;
    uint32_t k, tab, at;
    int rc;

    assert_true(h.flags & DFOTA_PKG_F_INPLACE);
    assert_true(h.flags & DFOTA_PKG_F_DEVTABLE);
    assert_true(h.flags & DFOTA_PKG_F_SAVED);
    assert_in_range(h.nsaved, 1, DFOTA_MAX_SAVED);
    assert_true(h.saved[0] == SWAP_A || h.saved[0] == SWAP_B ||
                (h.nsaved > 1 && (h.saved[1] == SWAP_A || h.saved[1] == SWAP_B)));
    q = saved_package(&w, 0, -1, &nlen, &hn);
    assert_false(hn.flags & DFOTA_PKG_F_SAVED);
    assert_int_equal(hn.nsaved, 0);
    print_message("swap pair, lag 0: saved sector %u (%u in all), %zu bytes; none saved %zu\n",
                  h.saved[0], h.nsaved, plen, nlen);
    assert_true(plen + 1024 < nlen);
    /* saved 1: at most one; and lag 1 */
    {
        uint8_t *r = saved_package(&w, 0, 1, &l1, &h1);
        assert_true(h1.flags & DFOTA_PKG_F_SAVED);
        assert_int_equal(h1.nsaved, 1);
        free(r);
        r = saved_package(&w, 1, 0, &l1, &h1);
        print_message("swap pair, lag 1: %u saved, %zu bytes\n", h1.nsaved, l1);
        if (h1.nsaved)
            tu_attempt(&w, DFOTA_LAYOUT_INPLACE, r, l1, NULL, 3, 1, DFOTA_OK);
        free(r);
    }
    /* no saves but with direction auto and the device's table */
    {
        static const int dirs[] = { DFOTA_DIR_FORWARD, DFOTA_DIR_BACKWARD, DFOTA_DIR_PLAIN };
        uint8_t *r;
        for (k = 0; k < 3; k++) {
            r = saved_package_rc(&w, 0, 0, dirs[k], 0, &l1, &rc);
            assert_int_equal(rc, DFOTA_OK);
            assert_int_equal(dfota_pkg_parse(&h1, r, l1), DFOTA_OK);
            assert_false(h1.flags & DFOTA_PKG_F_SAVED);
            free(r);
        }
        r = saved_package_rc(&w, 0, 0, DFOTA_DIR_AUTO, 4, &l1, &rc);
        assert_int_equal(rc, DFOTA_OK);
        assert_int_equal(dfota_pkg_parse(&h1, r, l1), DFOTA_OK);
        assert_false(h1.flags & DFOTA_PKG_F_SAVED);
        free(r);
        r = saved_package_rc(&w, 0, (int)DFOTA_MAX_SAVED + 1, DFOTA_DIR_AUTO, 0, &l1, &rc);
        assert_int_equal(rc, DFOTA_ERR_ARG);
        free(r);
    }
    tu_attempt(&w, DFOTA_LAYOUT_INPLACE, p, plen, NULL, 2, 1, DFOTA_OK);
    tu_attempt(&w, DFOTA_LAYOUT_INPLACE, p, plen, NULL, 2, 0, DFOTA_OK);
    /* two swaps: two sectors saved, each copy in its place */
    {
        struct tu_pair w2 = swap2_pair(f);
        uint8_t *r = saved_package(&w2, 0, 0, &l1, &h1);
        assert_int_equal(h1.nsaved, 2);
        assert_true(h1.saved[0] < h1.saved[1]);
        assert_true(h1.saved[0] == SWAP_A || h1.saved[0] == SWAP_B);
        assert_true(h1.saved[1] == 5 || h1.saved[1] == 12);
        tu_attempt(&w2, DFOTA_LAYOUT_INPLACE, r, l1, NULL, 2, 1, DFOTA_OK);
        saved_device(&d, &w2, r, l1, &h1, 0);
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        assert_int_equal(dfota_install(&e), DFOTA_OK);
        assert_memory_equal(d.flash.mem + d.cfg.layout.slot[0], w2.b, N);
        for (k = 0; k < 2; k++)
            assert_memory_equal(d.flash.mem + saved_at(&d, &h1, k), w2.a + h1.saved[k] * 4096,
                                4096);
        tu_device_free(&d);
        /* one sector short of the two copies */
        saved_device(&d, &w2, r, l1, &h1, -4096);
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        simflash_reset_counters(&d.flash);
        assert_int_equal(dfota_check(&e), DFOTA_ERR_NOSPACE);
        assert_int_equal(d.flash.erases + d.flash.progs, 0);
        tu_device_free(&d);
        free(r);
        r = saved_package(&w2, 0, 1, &l1, &h1);         /* saved 1: one of the two */
        assert_int_equal(h1.nsaved, 1);
        tu_attempt(&w2, DFOTA_LAYOUT_INPLACE, r, l1, NULL, 2, 0, DFOTA_OK);
        free(r);
        free(w2.b);
    }
    tu_attempt(&w, DFOTA_LAYOUT_INPLACE, q, nlen, NULL, 2, 1, DFOTA_OK);

    /* staging one sector short: refused, nothing written */
    assert_int_equal(dfota_staging_need(&h, 4096, 16),
                     (plen + 4095) / 4096 * 4096 + dfota_devtable_size(&h, 16) + h.nsaved * 4096);
    saved_device(&d, &w, p, plen, &h, -4096);
    before = malloc(d.flash.size);
    assert_non_null(before);
    memcpy(before, d.flash.mem, d.flash.size);
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    simflash_reset_counters(&d.flash);
    assert_int_equal(dfota_check(&e), DFOTA_ERR_NOSPACE);
    assert_int_equal(dfota_install(&e), DFOTA_ERR_NOSPACE);
    assert_int_equal(d.flash.erases + d.flash.progs, 0);
    assert_memory_equal(d.flash.mem, before, d.flash.size);
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    assert_false(dfota_pending(&e));
    free(before);
    tu_device_free(&d);

    /* exactly what it needs: dfota_check writes the digest table only,
     * no copy; dfota_install makes the copies, then ends on the target */
    saved_device(&d, &w, p, plen, &h, 0);
    before = malloc(d.flash.size);
    assert_non_null(before);
    memcpy(before, d.flash.mem, d.flash.size);
    tab = dfota_devtable_size(&h, 16);
    at = saved_at(&d, &h, 0);
    assert_int_equal(at + h.nsaved * 4096 + tab,
                     d.cfg.layout.staging + d.cfg.layout.staging_size);
    assert_true(at >= d.cfg.layout.staging + plen);
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    assert_int_equal(dfota_check(&e), DFOTA_OK);
    assert_false(d.flash.violation);
    assert_memory_equal(d.flash.mem, before, at + h.nsaved * 4096);
    assert_int_equal(dfota_install(&e), DFOTA_OK);
    assert_false(d.flash.violation);
    assert_memory_equal(d.flash.mem + d.cfg.layout.slot[0], w.b, N);
    for (k = 0; k < h.nsaved; k++)
        assert_memory_equal(d.flash.mem + saved_at(&d, &h, k),
                            before + d.cfg.layout.slot[0] + h.saved[k] * 4096, 4096);
    assert_memory_equal(d.flash.mem + d.cfg.layout.staging, before + d.cfg.layout.staging, plen);
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    assert_false(dfota_pending(&e));
    free(before);
    tu_device_free(&d);
    /* dfota_install alone too: one dry run, then the copies */
    saved_device(&d, &w, p, plen, &h, 0);
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    assert_int_equal(dfota_install(&e), DFOTA_OK);
    assert_memory_equal(d.flash.mem + d.cfg.layout.slot[0], w.b, N);
    assert_memory_equal(d.flash.mem + saved_at(&d, &h, 0), w.a + h.saved[0] * 4096,
                        h.saved[0] * 4096 + 4096 <= N ? 4096 : N - h.saved[0] * 4096);
    tu_device_free(&d);
    free(q);
    free(p);
    free(w.b);
}

/* A port over simflash that numbers the erases and programs (as simflash
 * counts them for cut_after) and notes which touch the saved copies and
 * the journal; in the save copy (from the first erase of a copy to the next
 * journal operation) the read_err-th read fails, the flip-th read comes
 * back with a bit flipped, the drop-th program leaves a byte erased. */
struct saveport {
    struct dfota_flash port;
    struct simflash *f;
    uint32_t lo, hi;             /* the saved copies */
    uint32_t jlo, jhi;           /* the journal */
    uint64_t ops, first_save, last_save, apply;  /* UINT64_MAX: none yet */
    uint64_t apply_last;         /* the first record's last operation */
    int armed, in_apply;
    unsigned reads, progs, read_err, flip, drop, hit;
};

static void sp_note(struct saveport *x, uint32_t a)
{
    if (a >= x->lo && a < x->hi) {
        if (x->first_save == UINT64_MAX) {
            x->first_save = x->ops;
            x->armed = 1;
        }
        x->last_save = x->ops;
    } else if (a >= x->jlo && a < x->jhi && x->first_save != UINT64_MAX) {
        if (x->apply == UINT64_MAX) {
            x->apply = x->ops;
            x->in_apply = 1;
        }
        if (x->in_apply)
            x->apply_last = x->ops;
        x->armed = 0;
    } else {
        x->in_apply = 0;
    }
    x->ops++;
}

static int sp_read(void *ctx, uint32_t a, void *buf, uint32_t l)
{
    struct saveport *x = ctx;
    int rc;
    if (x->armed) {
        x->reads++;
        if (x->read_err && x->reads == x->read_err) {
            x->hit++;
            return SIMFLASH_IOERR;
        }
    }
    rc = x->f->port.read(x->f->port.ctx, a, buf, l);
    if (!rc && l && x->armed && x->flip && x->reads == x->flip) {
        ((uint8_t *)buf)[(x->reads * 131u) % l] ^= 0x10;
        x->hit++;
    }
    return rc;
}

static int sp_prog(void *ctx, uint32_t a, const void *b, uint32_t l)
{
    struct saveport *x = ctx;
    int armed;
    sp_note(x, a);
    armed = x->armed;
    if (armed && x->drop && ++x->progs == x->drop) {
        uint8_t t[DFOTA_IO_BUF];
        uint32_t i, at = (x->progs * 7u) % (l ? l : 1);
        if (l <= sizeof t) {
            memcpy(t, b, l);
            for (i = 0; i < l && t[(at + i) % l] == 0xFF; i++)
                ;
            if (i < l) {
                t[(at + i) % l] = 0xFF;
                x->hit++;
                return x->f->port.prog(x->f->port.ctx, a, t, l);
            }
            x->drop++;
        }
    }
    return x->f->port.prog(x->f->port.ctx, a, b, l);
}

static int sp_erase(void *ctx, uint32_t a)
{
    struct saveport *x = ctx;
    sp_note(x, a);
    return x->f->port.erase(x->f->port.ctx, a);
}

static void saveport_init(struct saveport *x, struct tu_device *d, const struct dfota_pkg_header *h)
{
    memset(x, 0, sizeof *x);
    x->port = d->flash.port;
    x->port.ctx = x;
    x->port.read = sp_read;
    x->port.prog = sp_prog;
    x->port.erase = sp_erase;
    x->port.sync = NULL;
    x->f = &d->flash;
    x->lo = saved_at(d, h, 0);
    x->hi = x->lo + h->nsaved * 4096;
    x->jlo = d->cfg.layout.journal;
    x->jhi = d->cfg.layout.journal + d->cfg.layout.journal_size;
    x->first_save = x->last_save = x->apply = x->apply_last = UINT64_MAX;
}

static void saveport_reset(struct saveport *x)
{
    x->ops = 0;
    x->first_save = x->last_save = x->apply = x->apply_last = UINT64_MAX;
    x->armed = x->in_apply = 0;
    x->reads = x->progs = x->hit = 0;
}

/* the old image, nothing pending; then an install ends on the target */
static void saved_old_then_new(struct tu_device *d, const struct tu_pair *w, const char *what)
{
    struct dfota_engine e;
    assert_old_boots(d, w, what);
    assert_int_equal(dfota_init(&e, &d->cfg), DFOTA_OK);
    if (dfota_install(&e) != DFOTA_OK)
        fail_msg("%s: the next install fails", what);
    if (memcmp(d->flash.mem + d->cfg.layout.slot[0], w->b, N))
        fail_msg("%s: the next install is not the target", what);
    assert_false(d->flash.violation);
}

/* Power cuts at every erase and program of dfota_install (every step-th
 * but in the save copy and the first record; plain flash and ECC flash):
 * one before the update's first APPLY record (the dry run, the save copy,
 * the record itself torn) leaves nothing pending and the old image, and
 * the next install ends on the target; one after it is pending and
 * resumes to the target. */
static void saved_cut_sweep(const struct tu_pair *pw, uint32_t lag, uint32_t nsaved, uint64_t step)
{
    struct tu_pair w = *pw;
    struct dfota_pkg_header h;
    struct tu_device d;
    struct dfota_engine e;
    struct saveport x;
    size_t plen;
    uint8_t *p = saved_package(&w, lag, 0, &plen, &h), *initial;
    uint64_t ops, k;
    unsigned before = 0, after = 0, in_save = 0;
    int ecc;

    assert_true(h.flags & DFOTA_PKG_F_SAVED);
    assert_int_equal(h.nsaved, nsaved);
    assert_int_equal(h.lag, lag);
    saved_device(&d, &w, p, plen, &h, 0);
    initial = malloc(d.flash.size);
    assert_non_null(initial);
    memcpy(initial, d.flash.mem, d.flash.size);
    /* a clean install through the port: where the save copy and the
     * first record are */
    saveport_init(&x, &d, &h);
    d.cfg.flash = &x.port;
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    simflash_reset_counters(&d.flash);
    assert_int_equal(dfota_install(&e), DFOTA_OK);
    assert_memory_equal(d.flash.mem + d.cfg.layout.slot[0], w.b, N);
    ops = d.flash.ops;
    assert_int_equal(x.ops, ops);
    assert_true(x.first_save != UINT64_MAX && x.apply != UINT64_MAX);
    assert_true(x.first_save < x.last_save && x.last_save < x.apply);
    /* (an erase and 4096 / DFOTA_IO_BUF programs a sector) */
    assert_int_equal(x.last_save - x.first_save + 1, h.nsaved * (1 + 4096 / DFOTA_IO_BUF));
    d.cfg.flash = &d.flash.port;
    assert_true(x.apply <= x.apply_last && x.apply_last < ops);
    print_message("saved cuts, lag %u, %u saved: %llu operations, the save copy %llu..%llu, "
                  "first record %llu..%llu\n", lag, nsaved, (unsigned long long)ops,
                  (unsigned long long)x.first_save, (unsigned long long)x.last_save,
                  (unsigned long long)x.apply, (unsigned long long)x.apply_last);
    /* ecc 0: plain flash, 1: ECC flash, 2: writes held until sync (every
     * 3rd step) */
    for (ecc = 0; ecc < 3; ecc++) {
        for (k = 0; k < ops; k++) {
            char id[80];
            if (k % (ecc == 2 ? 3 * step : step) && (k < x.first_save || k > x.apply_last + 2))
                continue;                /* (a sample, but the save copy and the record whole) */
            snprintf(id, sizeof id, "saved, lag %u%s: cut at %llu", lag,
                     ecc == 1 ? ", ECC" : ecc == 2 ? ", cache" : "", (unsigned long long)k);
            memcpy(d.flash.mem, initial, d.flash.size);
            if (ecc == 1) {
                assert_int_equal(simflash_set_ecc(&d.flash, 0), 0);
                assert_int_equal(simflash_set_ecc(&d.flash, 1), 0);
            }
            if (ecc == 2) {
                assert_int_equal(simflash_set_cache(&d.flash, 0), 0);
                memcpy(d.flash.mem, initial, d.flash.size);
                assert_int_equal(simflash_set_cache(&d.flash, 1), 0);
            }
            simflash_power_on(&d.flash);
            simflash_reset_counters(&d.flash);
            d.flash.cut_after = k;
            d.flash.tear_seed = (uint32_t)k * 2654435761u + 7;
            assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
            assert_int_equal(dfota_install(&e), DFOTA_ERR_IO);
            simflash_power_on(&d.flash);
            if (dfota_init(&e, &d.cfg) != DFOTA_OK)
                fail_msg("%s: dfota_init fails after the cut", id);
            if (k < x.apply) {
                if (dfota_pending(&e))
                    fail_msg("%s: pending before the first record", id);
                if (k >= x.first_save)
                    in_save++;
                before++;
                saved_old_then_new(&d, &w, id);
            } else if (k <= x.apply_last && !dfota_pending(&e)) {
                /* (the record torn: no update began) */
                before++;
                saved_old_then_new(&d, &w, id);
            } else {
                if (k > x.apply_last && !dfota_pending(&e))
                    fail_msg("%s: nothing pending after the first record", id);
                after++;
                settle_to_target(&d, &w, id);
            }
            if (d.flash.violation)
                fail_msg("%s: %s", id, d.flash.why);
        }
        assert_int_equal(simflash_set_ecc(&d.flash, 0), 0);
        assert_int_equal(simflash_set_cache(&d.flash, 0), 0);
    }
    assert_true(in_save >= 3 * (x.last_save - x.first_save + 1));
    print_message("saved cuts: %u before the first record (%u in the save copy), %u after\n",
                  before, in_save, after);
    free(initial);
    tu_device_free(&d);
    free(p);
}

static void test_saved_cuts(void **st)
{
    struct tu_pair *f = *st, w = swap_pair(f), w2 = swap2_pair(f);
#if defined(__SANITIZE_ADDRESS__)
    saved_cut_sweep(&w, 0, 1, 3);
    saved_cut_sweep(&w2, 1, 2, 20);
#else
    saved_cut_sweep(&w, 0, 1, 1);
    saved_cut_sweep(&w2, 1, 2, 5);
#endif
    free(w.b);
    free(w2.b);
}

/* In the save copy: a read error, a read that comes back wrong (of the
 * source or of the copy), a program of the copy that does not stick:
 * DFOTA_ERR_IO, nothing pending, the old image; the fault gone, the
 * package installs. */
static void test_saved_faults(void **st)
{
    struct tu_pair *f = *st, w = swap_pair(f);
    struct dfota_pkg_header h;
    struct tu_device d;
    struct dfota_engine e;
    struct saveport x;
    size_t plen;
    uint8_t *p = saved_package(&w, 0, 0, &plen, &h), *initial;
    unsigned reads, progs, kind, k, runs = 0;
    int via;

    saved_device(&d, &w, p, plen, &h, 0);
    initial = malloc(d.flash.size);
    assert_non_null(initial);
    memcpy(initial, d.flash.mem, d.flash.size);
    saveport_init(&x, &d, &h);
    d.cfg.flash = &x.port;
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    assert_int_equal(dfota_install(&e), DFOTA_OK);
    reads = x.reads;
    progs = x.progs;
    /* (the copy's programs are counted only when a drop is asked for) */
    progs = h.nsaved * (4096 / DFOTA_IO_BUF);
    print_message("save copy: %u reads, %u programs\n", reads, progs);
    assert_true(reads >= h.nsaved * 3 * (4096 / DFOTA_IO_BUF));
    for (kind = 0; kind < 3; kind++) {
        unsigned total = kind == 2 ? progs : reads;
        for (k = 1; k <= total; k++) {
            for (via = 0; via < 2; via++) {
                char id[80];
                int rc;
                snprintf(id, sizeof id, "save copy: %s %u%s",
                         kind == 0 ? "read error" : kind == 1 ? "read flip" : "program dropped", k,
                         via ? " after dfota_check" : "");
                memcpy(d.flash.mem, initial, d.flash.size);
                simflash_power_on(&d.flash);
                saveport_reset(&x);
                x.read_err = x.flip = x.drop = 0;
                assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
                if (via)
                    assert_int_equal(dfota_check(&e), DFOTA_OK);
                saveport_reset(&x);
                x.read_err = kind == 0 ? k : 0;
                x.flip = kind == 1 ? k : 0;
                x.drop = kind == 2 ? k : 0;
                rc = dfota_install(&e);
                if (!x.hit)
                    fail_msg("%s: the fault was not met", id);
                if (rc != DFOTA_ERR_IO)
                    fail_msg("%s: %s, not DFOTA_ERR_IO", id, dfota_strerror(rc));
                if (x.apply != UINT64_MAX)
                    fail_msg("%s: the update began", id);
                x.read_err = x.flip = x.drop = 0;
                saved_old_then_new(&d, &w, id);
                runs++;
            }
        }
    }
    print_message("save copy faults: %u, each refused\n", runs);
    free(initial);
    tu_device_free(&d);
    free(p);
    free(w.b);
}

/* The copy decays after the update began: a power cut at every few
 * operations after the first record, a byte of the copy that the target
 * reads flipped, then power-ups. The engine must never end IDLE over an
 * image that is not the target: it ends on the target (the byte no longer
 * read) or fails. The copy restored, it ends on the target. Also decayed
 * while the apply runs (no cut). */
static void test_saved_decay(void **st)
{
    struct tu_pair *f = *st, w = swap_pair(f);
    struct dfota_pkg_header h;
    struct tu_device d;
    struct dfota_engine e;
    struct saveport x;
    struct flipper fl;
    size_t plen;
    uint8_t *p = saved_package(&w, 0, 0, &plen, &h), *initial, *b;
    uint64_t ops, k, step;
    unsigned caught = 0, done = 0, tries;
    int rc;

    assert_int_equal(h.nsaved, 1);
    assert_true(h.saved[0] == SWAP_A || h.saved[0] == SWAP_B);
    saved_device(&d, &w, p, plen, &h, 0);
    initial = malloc(d.flash.size);
    assert_non_null(initial);
    memcpy(initial, d.flash.mem, d.flash.size);
    saveport_init(&x, &d, &h);
    d.cfg.flash = &x.port;
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    simflash_reset_counters(&d.flash);
    assert_int_equal(dfota_install(&e), DFOTA_OK);
    ops = d.flash.ops;
    d.cfg.flash = &d.flash.port;
    /* a byte of the swapped part, which the other sector copies */
    b = d.flash.mem + saved_at(&d, &h, 0) + 1000;
#if defined(__SANITIZE_ADDRESS__)
    step = 4;
#else
    step = 1;
#endif
    for (k = x.apply_last + 1; k < ops; k += step) {
        char id[80];
        snprintf(id, sizeof id, "saved copy decayed after a cut at %llu", (unsigned long long)k);
        memcpy(d.flash.mem, initial, d.flash.size);
        simflash_power_on(&d.flash);
        simflash_reset_counters(&d.flash);
        d.flash.cut_after = k;
        d.flash.tear_seed = (uint32_t)k * 40503u + 1;
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        assert_int_equal(dfota_install(&e), DFOTA_ERR_IO);
        simflash_power_on(&d.flash);
        assert_int_equal(*b, w.a[h.saved[0] * 4096 + 1000]);   /* the copy, whole */
        *b ^= 0x21;
        rc = DFOTA_ERR_IO;
        for (tries = 0; tries < 3; tries++) {
            assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
            if (!dfota_pending(&e))
                break;
            rc = dfota_resume(&e);
        }
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        if (!dfota_pending(&e)) {
            if (memcmp(d.flash.mem + d.cfg.layout.slot[0], w.b, N))
                fail_msg("%s: IDLE over an image that is not the target", id);
            done++;
        } else {
            if (rc == DFOTA_OK)
                fail_msg("%s: DFOTA_OK with the update pending", id);
            caught++;
        }
        *b ^= 0x21;                       /* the copy restored */
        settle_to_target(&d, &w, id);
        assert_false(d.flash.violation);
    }
    print_message("saved copy decayed: %u caught, %u ended on the target\n", caught, done);
    assert_true(caught > 0);

    /* decayed while the apply runs */
    memcpy(d.flash.mem, initial, d.flash.size);
    simflash_power_on(&d.flash);
    fl.at = b;
    fl.bit = 0x08;
    fl.done = 0;
    d.cfg.progress = flip_on_apply;
    d.cfg.progress_ctx = &fl;
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    rc = dfota_install(&e);
    d.cfg.progress = NULL;
    assert_true(fl.done);
    assert_int_not_equal(rc, DFOTA_OK);
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    assert_true(dfota_pending(&e));
    *b ^= 0x08;
    settle_to_target(&d, &w, "saved copy decayed in the apply");
    free(initial);
    tu_device_free(&d);
    free(p);
    free(w.b);
}

int main(void)

{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_both_layouts),
        cmocka_unit_test(test_wrong_product),
        cmocka_unit_test(test_wrong_source),
        cmocka_unit_test(test_bad_signature),
        cmocka_unit_test(test_truncated_and_corrupt_payload),
        cmocka_unit_test(test_layout_mismatch),
        cmocka_unit_test(test_signed_garbage),
        cmocka_unit_test(test_block_digest_lengths),
        cmocka_unit_test(test_runs_order_applies),
        cmocka_unit_test(test_runs_forbidden_read),
        cmocka_unit_test(test_ab_signed_garbage_keeps_old_bank),
        cmocka_unit_test(test_downgrade_refused),
        cmocka_unit_test(test_decoder_ram_checked),
        cmocka_unit_test(test_two_updates_alternate_banks),
        cmocka_unit_test(test_staging_decays_during_apply),
        cmocka_unit_test(test_devtable_decay),
        cmocka_unit_test(test_transient_read_flip_inplace),
        cmocka_unit_test(test_staging_changed),
        cmocka_unit_test(test_header_read_once),
        cmocka_unit_test(test_resume_after_io_error_same_engine),
        cmocka_unit_test(test_finished_update_without_package),
        cmocka_unit_test(test_ecc_flash_cuts),
        cmocka_unit_test(test_snapshot_fields_range_checked),
        cmocka_unit_test(test_snapshot_dz2_old_format_refused),
        cmocka_unit_test(test_dfj1_idle_record),
        cmocka_unit_test(test_state_calls),
        cmocka_unit_test(test_host_and_budget_overflows),
        cmocka_unit_test(test_blockwin_install),
        cmocka_unit_test(test_blockwin_cuts),
        cmocka_unit_test(test_blockwin_scratch_faults),
        cmocka_unit_test(test_blockwin_other_checks),
        cmocka_unit_test(test_saved_install),
        cmocka_unit_test(test_saved_cuts),
        cmocka_unit_test(test_saved_faults),
        cmocka_unit_test(test_saved_decay),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
