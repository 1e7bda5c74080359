/* Round trips through the encoder and the device engine (dfota apply's
 * code path) on varied inputs, both layouts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "dfota/error.h"
#include "testutil.h"

struct layout_case {
    int inplace;
    uint32_t sector, lag;
    int direction;
};

static const struct layout_case CASES[] = {
    { 0, 0, 0, 0 },
    { 1, 4096, 2, 0 },
    { 1, 4096, 0, 1 },
    { 1, 4096, 0, -1 },
    { 1, 1024, 1, 1 },
    { 1, 256, 3, -1 },
};

static size_t roundtrip(const uint8_t *src, size_t slen, const uint8_t *dst, size_t dlen,
                        const struct layout_case *c)
{
    uint8_t pk[32], sk[64], *out = NULL;
    size_t plen, olen = 0;
    uint8_t *pkg = tu_package(src, slen, dst, dlen, c->inplace, c->sector, c->lag, c->direction,
                              "", &plen);
    struct dfota_host_apply_stats st;
    int rc;

    tu_keys(pk, sk);
    rc = dfota_host_apply(src, slen, pkg, plen, pk, &out, &olen, NULL, NULL, &st);
    if (rc)
        fprintf(stderr, "apply: %s (inplace=%d sector=%u lag=%u dir=%d, %zu -> %zu)\n",
                dfota_strerror(rc), c->inplace, c->sector, c->lag, c->direction, slen, dlen);
    assert_int_equal(rc, DFOTA_OK);
    assert_int_equal(olen, dlen);
    if (dlen)
        assert_memory_equal(out, dst, dlen);
    if (!c->inplace)
        assert_true(st.max_sector_erases <= 1);   /* A/B: each target sector once */
    free(out);
    free(pkg);
    return plen;
}

static void all_layouts(const uint8_t *src, size_t slen, const uint8_t *dst, size_t dlen)
{
    size_t i;
    for (i = 0; i < sizeof CASES / sizeof CASES[0]; i++)
        roundtrip(src, slen, dst, dlen, &CASES[i]);
}

static void test_empty_and_tiny(void **st)
{
    static const uint8_t one[1] = { 0x42 }, three[3] = { 1, 2, 3 };
    (void)st;
    all_layouts(NULL, 0, NULL, 0);
    all_layouts(NULL, 0, three, 3);
    all_layouts(three, 3, NULL, 0);
    all_layouts(one, 1, three, 3);
    all_layouts(three, 3, one, 1);
}

static void test_identical(void **st)
{
    uint8_t *a = tu_image(100000, 7);
    size_t plen;
    (void)st;
    all_layouts(a, 100000, a, 100000);
    plen = roundtrip(a, 100000, a, 100000, &CASES[0]);
    assert_true(plen < DFOTA_PKG_HEADER_MAX + 128);  /* next to nothing to say */
    free(a);
}

static void test_fully_different(void **st)
{
    uint8_t *a = malloc(70000), *b = malloc(65536);
    uint32_t s = 99;
    size_t i, plen;
    (void)st;
    for (i = 0; i < 70000; i++)
        a[i] = (uint8_t)tu_rand(&s);
    for (i = 0; i < 65536; i++)
        b[i] = (uint8_t)tu_rand(&s);
    all_layouts(a, 70000, b, 65536);
    plen = roundtrip(a, 70000, b, 65536, &CASES[0]);
    /* random bytes cannot shrink; the overhead must stay small */
    assert_true(plen < 65536 + 65536 / 50 + 1024);
    free(a);
    free(b);
}

static void test_release(void **st)
{
    size_t sizes[] = { 5000, 50000, 300000 }, i, nlen, ab, ip;
    (void)st;
    for (i = 0; i < 3; i++) {
        uint8_t *a = tu_image(sizes[i], (uint32_t)i + 1);
        uint8_t *b = tu_release(a, sizes[i], (uint32_t)i + 10, &nlen);
        all_layouts(a, sizes[i], b, nlen);
        /* and the reverse: a downgrade */
        all_layouts(b, nlen, a, sizes[i]);
        ab = roundtrip(a, sizes[i], b, nlen, &CASES[0]);
        ip = roundtrip(a, sizes[i], b, nlen, &CASES[1]);
        assert_true(ab < nlen / 4);
        /* in place adds the block digest chain: 4 bytes per block (16 with
         * --block-digest 16, the bound below) */
        assert_true(ip <= ab + ab / 4 + 64 + 16 * (nlen / 4096 + 1));
        free(a);
        free(b);
    }
}

static void test_insert_delete_patterns(void **st)
{
    /* shifts by more than the lag covers in both directions */
    size_t n = 200000;
    uint8_t *a = tu_image(n, 5), *b = malloc(n + 40000);
    (void)st;
    memcpy(b, a, 1000);
    memset(b + 1000, 0x11, 20000);                        /* +20000 near the start */
    memcpy(b + 21000, a + 1000, 100000);
    memcpy(b + 121000, a + 130000, n - 130000);           /* -29000 later */
    all_layouts(a, n, b, 121000 + n - 130000);
    all_layouts(b, 121000 + n - 130000, a, n);
    free(a);
    free(b);
}

/* An image linked at `base` with a pointer word every 32 bytes into itself,
 * and its next release: 600 new bytes at a third, so the pointers to what
 * follows them move by 600. */
static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static void linked_pair(size_t n, uint32_t base, uint8_t **a, uint8_t **b, size_t *blen)
{
    size_t at = n / 3, ins = 600, i;
    uint32_t seed = 99;
    uint8_t *x = tu_image(n, 31), *y = malloc(n + ins), *extra = tu_image(ins, 32);
    for (i = 64; i + 4 <= n; i += 32)
        put_le32(x + i, base + ((tu_rand(&seed) % (uint32_t)n) & ~3u) + 1);
    memcpy(y, x, at);
    memcpy(y + at, extra, ins);
    memcpy(y + at + ins, x + at, n - at);
    for (i = 64; i + 4 <= n; i += 32) {
        uint32_t v = (uint32_t)x[i] | (uint32_t)x[i + 1] << 8 | (uint32_t)x[i + 2] << 16 |
                     (uint32_t)x[i + 3] << 24;
        if (v - base >= at)
            v += (uint32_t)ins;
        put_le32(y + (i < at ? i : i + ins), v);
    }
    free(extra);
    *a = x;
    *b = y;
    *blen = n + ins;
}

/* Pointer prediction finds the image's base wherever it was linked: the
 * same pair linked at 0x08005000 (no usual flash address, and none the
 * reset vector rounded to a power of two gives) codes about as small as
 * linked at 0. */
static void test_pointer_base(void **st)
{
    size_t n = 65536, blen, p0, p1;
    uint8_t *a, *b;
    (void)st;
    linked_pair(n, 0, &a, &b, &blen);
    p0 = roundtrip(a, n, b, blen, &CASES[0]);
    free(a);
    free(b);
    linked_pair(n, 0x08005000u, &a, &b, &blen);
    put_le32(a + 4, 0x08005000u + 0x3A41u);   /* a reset vector */
    put_le32(b + 4, 0x08005000u + 0x3A41u);
    p1 = roundtrip(a, n, b, blen, &CASES[0]);
    free(a);
    free(b);
    if (p1 > p0 + p0 / 10 + 64)
        fail_msg("linked at 0x08005000: %zu bytes, at 0: %zu", p1, p0);
}

static void test_twenty_megabytes(void **st)
{
    size_t n = 20u << 20, nlen;
    uint8_t *a = tu_image(n, 77), *b = tu_release(a, n, 78, &nlen);
    (void)st;
    roundtrip(a, n, b, nlen, &CASES[0]);
    roundtrip(a, n, b, nlen, &CASES[1]);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_and_tiny),
        cmocka_unit_test(test_identical),
        cmocka_unit_test(test_fully_different),
        cmocka_unit_test(test_release),
        cmocka_unit_test(test_insert_delete_patterns),
        cmocka_unit_test(test_pointer_base),
        cmocka_unit_test(test_twenty_megabytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
