/* The engine: every rejection leaves the firmware untouched and bootable,
 * with not one flash write; a good package boots the target. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "dfota/error.h"
#include "dfota/sha256.h"
#include "testutil.h"

#define N 60000

struct fixture {
    uint8_t *a, *b;
    size_t blen;
};

static int setup(void **st)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->a = tu_image(N, 3);
    f->b = tu_release(f->a, N, 4, &f->blen);
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    struct fixture *f = *st;
    free(f->a);
    free(f->b);
    free(f);
    return 0;
}

/* Install pkg on a fresh device of the given layout; expect `want`; on
 * failure check that nothing was written and the old firmware boots. */
static void attempt(struct fixture *f, int kind, const uint8_t *pkg, size_t plen, const char *product,
                    uint32_t scratch_sectors, int want)
{
    struct tu_device d;
    struct dfota_engine e;
    uint8_t *before;
    int rc;

    tu_device_init(&d, kind, 4096, N + 4096, scratch_sectors, 2 * N);
    tu_device_load(&d, 0, f->a, N, pkg, plen);
    d.cfg.product = product;
    before = malloc(d.flash.size);
    memcpy(before, d.flash.mem, d.flash.size);
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    simflash_reset_counters(&d.flash);
    rc = dfota_install(&e);
    if (rc != want)
        fprintf(stderr, "got %s, want %s\n", dfota_strerror(rc), dfota_strerror(want));
    assert_int_equal(rc, want);
    assert_false(d.flash.violation);
    if (want != DFOTA_OK) {
        assert_int_equal(d.flash.erases, 0);
        assert_int_equal(d.flash.progs, 0);
        assert_memory_equal(before, d.flash.mem, d.flash.size);
        /* and at the next power-up: nothing pending, bank 0 boots */
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        assert_false(dfota_pending(&e));
        assert_int_equal(dfota_active_slot(&e), 0);
    } else {
        uint32_t base;
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        assert_false(dfota_pending(&e));
        base = d.cfg.layout.slot[dfota_active_slot(&e)];
        assert_memory_equal(d.flash.mem + base, f->b, f->blen);
    }
    free(before);
    tu_device_free(&d);
}

static void test_good_both_layouts(void **st)
{
    struct fixture *f = *st;
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
    struct fixture *f = *st;
    size_t plen;
    uint8_t *p = tu_package(f->a, N, f->b, f->blen, 0, 0, 0, 0, "BC66", &plen);
    attempt(f, DFOTA_LAYOUT_AB, p, plen, "BC20", 0, DFOTA_ERR_PRODUCT);
    free(p);
}

static void test_wrong_source(void **st)
{
    struct fixture *f = *st;
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

static void test_bad_signature(void **st)
{
    struct fixture *f = *st;
    size_t plen, i;
    uint8_t *p = tu_package(f->a, N, f->b, f->blen, 0, 0, 0, 0, "", &plen);
    /* a flipped bit in the signature, in a signed field, in the key id */
    size_t offs[] = { DFOTA_OFF_SIGNATURE, DFOTA_OFF_SIGNATURE + 63, DFOTA_OFF_SECURITY_CTR,
                      DFOTA_OFF_DST_VERSION, DFOTA_OFF_KEY_ID };
    for (i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        p[offs[i]] ^= 0x01;
        attempt(f, DFOTA_LAYOUT_AB, p, plen, NULL, 0, DFOTA_ERR_SIGNATURE);
        p[offs[i]] ^= 0x01;
    }
    /* an unsigned package where a key is required */
    memset(p + DFOTA_OFF_KEY_ID, 0, DFOTA_KEY_ID_LEN + DFOTA_SIG_LEN);
    attempt(f, DFOTA_LAYOUT_AB, p, plen, NULL, 0, DFOTA_ERR_SIGNATURE);
    free(p);
}

static void test_truncated_and_corrupt_payload(void **st)
{
    struct fixture *f = *st;
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
    struct fixture *f = *st;
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
    uint8_t pk[32], sk[64], *out = malloc(DFOTA_PKG_HEADER_SIZE + n);
    assert_int_equal(dfota_pkg_parse(&h, pkg, plen), DFOTA_OK);
    h.payload_size = (uint32_t)n;
    dfota_sha256(payload, n, h.payload_sha256);
    tu_keys(pk, sk);
    assert_int_equal(dfota_pkg_write(&h, out), DFOTA_OK);
    assert_int_equal(dfota_host_sign(sk, out, DFOTA_PKG_SIGNED_SIZE, out + DFOTA_OFF_SIGNATURE), 0);
    memcpy(out + DFOTA_PKG_HEADER_SIZE, payload, n);
    *out_len = DFOTA_PKG_HEADER_SIZE + n;
    return out;
}

static void test_signed_garbage(void **st)
{
    struct fixture *f = *st;
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
    g = resign_with_payload(p, plen, p + DFOTA_PKG_HEADER_SIZE, plen - DFOTA_PKG_HEADER_SIZE - 8,
                            &glen);
    attempt(f, DFOTA_LAYOUT_INPLACE, g, glen, NULL, 4, DFOTA_ERR_CORRUPT);
    free(g);
    free(p);
}

/* A/B with a signed undecodable payload: the engine writes the other bank,
 * fails, and keeps the old bank active with nothing pending. */
static void test_ab_signed_garbage_keeps_old_bank(void **st)
{
    struct fixture *f = *st;
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
    struct fixture *f = *st;
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

static void test_two_updates_alternate_banks(void **st)
{
    struct fixture *f = *st;
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
        cmocka_unit_test(test_ab_signed_garbage_keeps_old_bank),
        cmocka_unit_test(test_downgrade_refused),
        cmocka_unit_test(test_two_updates_alternate_banks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
