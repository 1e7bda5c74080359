/* The codec switches DFOTA_CFG_DZ1 / DFOTA_CFG_DZ2 (docs/engine.md,
 * "Building"). This file is built three times, against libdfota built with
 * DZ1 only, DZ2 only and both (tests/CMakeLists.txt: libdfota_codec_*, with
 * the size build's shared decoder helpers, DFOTA_PATCH_SHARED=1). A package
 * of a codec the build lacks is refused with DFOTA_ERR_ALGORITHM by the
 * header parse, dfota_check and dfota_install before any flash write, in
 * both header formats and both layouts; one of a codec it has applies. */
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

#define N 24000

static const char *const build_name = DFOTA_CFG_DZ1 && DFOTA_CFG_DZ2 ? "DZ1+DZ2"
                                      : DFOTA_CFG_DZ1                ? "DZ1 only"
                                                                     : "DZ2 only";

static int setup(void **st)
{
    *st = tu_pair_new(N, 21);
    return 0;
}

static int teardown(void **st)
{
    tu_pair_free(*st);
    return 0;
}

static int built_in(uint8_t alg)
{
    return alg == DFOTA_ALG_DZ1 ? DFOTA_CFG_DZ1 : alg == DFOTA_ALG_DZ2 ? DFOTA_CFG_DZ2 : 0;
}

/* A signed package of codec alg (the encoder's choice forced). */
static uint8_t *package(const struct tu_pair *f, uint8_t alg, int inplace, unsigned format,
                        size_t *plen)
{
    struct dfota_diff_opts o;
    struct dfota_diff_result res;
    struct dfota_pkg_meta meta = { "", "1.0.0", "1.1.0", 0, 0 };
    uint8_t pk[32], sk[64], *pkg = NULL;

    memset(&o, 0, sizeof o);
    o.inplace = inplace;
    o.sector_size = 4096;
    o.lag = 2;
    o.codec = alg;
    meta.format_version = format;
    tu_keys(pk, sk);
    assert_int_equal(dfota_package_build(f->a, N, f->b, f->blen, &o, &meta, sk, &pkg, plen, &res),
                     DFOTA_OK);
    assert_int_equal(res.algorithm, alg);
    return pkg;
}

/* The library linked is the one this file was compiled for. */
static void test_supported(void **st)
{
    (void)st;
    assert_int_equal(!!dfota_patch_supported(DFOTA_ALG_DZ1), DFOTA_CFG_DZ1);
    assert_int_equal(!!dfota_patch_supported(DFOTA_ALG_DZ2), DFOTA_CFG_DZ2);
    assert_false(dfota_patch_supported(0));
    assert_false(dfota_patch_supported(3));
    assert_false(dfota_patch_supported(255));
}

/* dfota_pkg_parse and dfota_patch_init, both header formats. */
static void test_parse_and_init(void **st)
{
    struct tu_pair *f = *st;
    uint8_t alg;
    unsigned format;

    for (alg = DFOTA_ALG_DZ1; alg <= DFOTA_ALG_DZ2; alg++) {
        for (format = 1; format <= 2; format++) {
            struct dfota_pkg_header h;
            struct dfota_patch p;
            size_t plen;
            uint8_t *pkg = package(f, alg, 0, format, &plen);
            int want = built_in(alg) ? DFOTA_OK : DFOTA_ERR_ALGORITHM;

            assert_int_equal(dfota_pkg_parse(&h, pkg, plen), want);
            /* the decoder refuses it too, whoever hands it the header */
            memset(&h, 0, sizeof h);
            h.algorithm = alg;
            h.coder = DFOTA_CODER_RC1;
            h.dst_size = (uint32_t)f->blen;
            h.src_size = N;
            h.payload_size = 5;
            assert_int_equal(dfota_patch_init(&p, &h), want);
            free(pkg);
        }
    }
}

/* The engine: refused at the check with not one flash write (and nothing
 * pending after it), or applied and booting the target. */
static void test_engine(void **st)
{
    struct tu_pair *f = *st;
    uint8_t alg;
    unsigned format;
    int inplace;

    for (alg = DFOTA_ALG_DZ1; alg <= DFOTA_ALG_DZ2; alg++) {
        for (format = 1; format <= 2; format++) {
            for (inplace = 0; inplace <= 1; inplace++) {
                size_t plen;
                uint8_t *pkg = package(f, alg, inplace, format, &plen);
                int kind = inplace ? DFOTA_LAYOUT_INPLACE : DFOTA_LAYOUT_AB;

                if (!built_in(alg)) {
                    /* refused by the check, and by an install without one */
                    tu_attempt(f, kind, pkg, plen, NULL, 4, 1, DFOTA_ERR_ALGORITHM);
                    tu_attempt(f, kind, pkg, plen, NULL, 4, 0, DFOTA_ERR_ALGORITHM);
                } else {
                    tu_attempt(f, kind, pkg, plen, NULL, 4, 1, DFOTA_OK);
                }
                free(pkg);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_supported),
        cmocka_unit_test(test_parse_and_init),
        cmocka_unit_test(test_engine),
    };
    fprintf(stderr, "libdfota built with %s\n", build_name);
    return cmocka_run_group_tests(tests, setup, teardown);
}
