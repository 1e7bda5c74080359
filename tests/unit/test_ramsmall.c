/* The 4k decoder RAM profile: libdfota built with
 * DFOTA_CFG_DECODER_RAM_SMALL=1 fits its decoder in 4 KiB, applies 4k
 * packages (dfota diff --decoder-ram 4k) A/B and in place, and refuses a
 * 16k package (DZ1, or DZ2's full model) at the check, before any write. */
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

/* Check, then install pkg on a fresh device (testutil.h, tu_attempt). */
static void attempt(const struct tu_pair *f, int kind, const uint8_t *pkg, size_t plen, int want)
{
    tu_attempt(f, kind, pkg, plen, NULL, 4, 1, want);
}

static uint8_t *package(struct tu_pair *f, int inplace, const char *ram, const char *codec,
                        size_t *plen)
{
    uint8_t *p;
    struct dfota_pkg_header h;
    tu_decoder_ram = ram;
    tu_codec = codec;
    p = tu_package(f->a, N, f->b, f->blen, inplace, 4096, 2, 0, "", plen);
    tu_decoder_ram = "4k";
    tu_codec = "auto";
    /* (this build does not parse DZ1 headers: dfota_pkg_parse says
     * DFOTA_ERR_ALGORITHM for them) */
    assert_int_equal(dfota_pkg_parse(&h, p, *plen),
                     !strcmp(codec, "dz1") ? DFOTA_ERR_ALGORITHM : DFOTA_OK);
    if (!strcmp(codec, "dz1")) {
    } else if (!strcmp(ram, "4k")) {
        assert_int_equal(h.decoder_ram, DFOTA_DECODER_RAM_4K);
        assert_int_equal(h.algorithm, DFOTA_ALG_DZ2);
    } else {
        assert_true(h.decoder_ram > DFOTA_DECODER_RAM_4K);
    }
    return p;
}

static void test_fits(void **st)
{
    (void)st;
    fprintf(stderr, "sizeof(struct dfota_patch) = %zu with the small model\n",
            sizeof(struct dfota_patch));
    assert_true(sizeof(struct dfota_patch) <= DFOTA_DECODER_RAM_4K);
    assert_int_equal(DFOTA_PATCH_RAM, DFOTA_DECODER_RAM_4K);
}

static void test_small_ab(void **st)
{
    struct tu_pair *f = *st;
    size_t n;
    uint8_t *p = package(f, 0, "4k", "auto", &n);
    attempt(f, DFOTA_LAYOUT_AB, p, n, DFOTA_OK);
    free(p);
}

static void test_small_inplace(void **st)
{
    struct tu_pair *f = *st;
    size_t n;
    uint8_t *p = package(f, 1, "4k", "auto", &n);
    attempt(f, DFOTA_LAYOUT_INPLACE, p, n, DFOTA_OK);
    free(p);
}

/* A 16k package: the check refuses it, nothing written: DZ2's full model
 * by its decoder_ram (DFOTA_ERR_RAM), DZ1 by its codec, which a small
 * build does not carry (DFOTA_ERR_ALGORITHM, from the header parse). */
static void test_16k_refused(void **st)
{
    struct tu_pair *f = *st;
    size_t n;
    uint8_t *p = package(f, 0, "16k", "dz2", &n);
    attempt(f, DFOTA_LAYOUT_AB, p, n, DFOTA_ERR_RAM);
    free(p);
    p = package(f, 1, "16k", "dz2", &n);
    attempt(f, DFOTA_LAYOUT_INPLACE, p, n, DFOTA_ERR_RAM);
    free(p);
    p = package(f, 0, "16k", "dz1", &n);
    attempt(f, DFOTA_LAYOUT_AB, p, n, DFOTA_ERR_ALGORITHM);
    free(p);
    p = package(f, 1, "16k", "dz1", &n);
    attempt(f, DFOTA_LAYOUT_INPLACE, p, n, DFOTA_ERR_ALGORITHM);
    free(p);
}

/* The decoder on its own refuses what a small build does not hold: DZ1,
 * and a full-model DZ2 payload (mode byte 0) behind a header that claims
 * 4k. */
static int rd(void *ctx, uint32_t off, uint8_t *buf, uint32_t len)
{
    const uint8_t *p = ctx;
    memcpy(buf, p + off, len);
    return 0;
}

static void test_decoder_refuses_full_models(void **st)
{
    static struct dfota_patch pt;
    struct dfota_pkg_header h;
    uint8_t payload[16] = { 0 }, out[1];
    struct dfota_patch_io io = { payload, rd, rd, NULL, NULL, 0 };
    (void)st;
    memset(&h, 0, sizeof h);
    h.coder = DFOTA_CODER_RC1;
    h.src_size = 16;
    h.dst_size = 1;
    h.payload_size = sizeof payload;
    h.decoder_ram = DFOTA_DECODER_RAM_4K;
    h.algorithm = DFOTA_ALG_DZ1;
    assert_int_equal(dfota_patch_init(&pt, &h), DFOTA_ERR_ALGORITHM);
    h.algorithm = DFOTA_ALG_DZ2;
    assert_int_equal(dfota_patch_init(&pt, &h), DFOTA_OK);
    payload[0] = DZ2_MODE_RC;
    assert_int_equal(dfota_patch_decode(&pt, &io, out, 1), DFOTA_ERR_CORRUPT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fits),
        cmocka_unit_test(test_decoder_refuses_full_models),
        cmocka_unit_test_setup_teardown(test_small_ab, setup, teardown),
        cmocka_unit_test_setup_teardown(test_small_inplace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_16k_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
