/* The package header: every field round-trips, every malformation has its
 * own named error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "dfota/error.h"
#include "dfota/package.h"

static void sample(struct dfota_pkg_header *h)
{
    memset(h, 0, sizeof *h);
    strcpy(h->product, "BC20");
    strcpy(h->src_version, "BC20JAR01A01");
    strcpy(h->dst_version, "BC20JAR01A02");
    h->src_size = 1000;
    h->dst_size = 2000;
    memset(h->src_sha256, 1, 32);
    memset(h->dst_sha256, 2, 32);
    h->algorithm = DFOTA_ALG_DZ1;
    h->coder = DFOTA_CODER_RC1;
    h->decoder_ram = 8192;
    h->payload_size = 77;
    memset(h->payload_sha256, 3, 32);
    h->security_counter = 5;
    h->stream_crc32 = 0xDEADBEEF;
    memset(h->key_id, 4, 8);
    memset(h->signature, 5, 64);
}

static void test_roundtrip(void **st)
{
    struct dfota_pkg_header h, g;
    uint8_t raw[DFOTA_PKG_HEADER_SIZE];
    (void)st;
    sample(&h);
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_OK);
    assert_memory_equal(raw, "DFOTAPKG", 8);
    assert_int_equal(dfota_pkg_parse(&g, raw, sizeof raw), DFOTA_OK);
    assert_string_equal(g.product, "BC20");
    assert_string_equal(g.dst_version, "BC20JAR01A02");
    assert_int_equal(g.src_size, 1000);
    assert_int_equal(g.dst_size, 2000);
    assert_int_equal(g.payload_size, 77);
    assert_int_equal(g.security_counter, 5);
    assert_int_equal(g.stream_crc32, 0xDEADBEEF);
    assert_memory_equal(g.signature, h.signature, 64);
    assert_memory_equal(g.key_id, h.key_id, 8);
    /* little-endian on the wire, whatever the host */
    assert_int_equal(raw[DFOTA_OFF_DST_SIZE], 2000 & 0xFF);
    assert_int_equal(raw[DFOTA_OFF_DST_SIZE + 1], 2000 >> 8);
    assert_int_equal(dfota_pkg_check_size(&g, DFOTA_PKG_HEADER_SIZE + 77), DFOTA_OK);
    assert_int_equal(dfota_pkg_check_size(&g, DFOTA_PKG_HEADER_SIZE + 76), DFOTA_ERR_SIZE);
    assert_int_equal(dfota_pkg_check_size(&g, DFOTA_PKG_HEADER_SIZE + 78), DFOTA_ERR_SIZE);
}

static int parse_mut(size_t off, uint8_t val)
{
    struct dfota_pkg_header h, g;
    uint8_t raw[DFOTA_PKG_HEADER_SIZE];
    sample(&h);
    dfota_pkg_write(&h, raw);
    raw[off] = val;
    return dfota_pkg_parse(&g, raw, sizeof raw);
}

static void test_errors(void **st)
{
    struct dfota_pkg_header h, g;
    uint8_t raw[DFOTA_PKG_HEADER_SIZE];
    (void)st;
    assert_int_equal(parse_mut(0, 'X'), DFOTA_ERR_MAGIC);
    assert_int_equal(parse_mut(DFOTA_OFF_FORMAT_VERSION, 2), DFOTA_ERR_VERSION);
    assert_int_equal(parse_mut(DFOTA_OFF_HEADER_SIZE, 0), DFOTA_ERR_HEADER);
    assert_int_equal(parse_mut(DFOTA_OFF_FLAGS + 1, 1), DFOTA_ERR_HEADER);
    assert_int_equal(parse_mut(DFOTA_OFF_PRODUCT + 31, 'x'), DFOTA_ERR_HEADER);   /* no NUL */
    assert_int_equal(parse_mut(DFOTA_OFF_PRODUCT + 1, 0x07), DFOTA_ERR_HEADER);   /* control char */
    assert_int_equal(parse_mut(DFOTA_OFF_PRODUCT + 10, 'x'), DFOTA_ERR_HEADER);   /* text after NUL */
    assert_int_equal(parse_mut(DFOTA_OFF_ALGORITHM, 9), DFOTA_ERR_ALGORITHM);
    assert_int_equal(parse_mut(DFOTA_OFF_CODER, 9), DFOTA_ERR_ALGORITHM);
    assert_int_equal(parse_mut(DFOTA_OFF_RESERVED, 1), DFOTA_ERR_HEADER);
    assert_int_equal(parse_mut(DFOTA_OFF_LAG, 1), DFOTA_ERR_HEADER);               /* lag needs in place */
    assert_int_equal(parse_mut(DFOTA_OFF_FLAGS, DFOTA_PKG_F_INPLACE), DFOTA_ERR_HEADER); /* no sector size */
    assert_int_equal(parse_mut(DFOTA_OFF_PAYLOAD_SIZE, 4), DFOTA_ERR_HEADER);

    sample(&h);
    dfota_pkg_write(&h, raw);
    assert_int_equal(dfota_pkg_parse(&g, raw, 7), DFOTA_ERR_MAGIC);
    assert_int_equal(dfota_pkg_parse(&g, raw, 100), DFOTA_ERR_SIZE);
    assert_int_equal(dfota_pkg_parse(&g, raw, DFOTA_PKG_HEADER_SIZE - 1), DFOTA_ERR_SIZE);

    h.flags = DFOTA_PKG_F_INPLACE;
    h.sector_size = 3000;
    dfota_pkg_write(&h, raw);
    assert_int_equal(dfota_pkg_parse(&g, raw, sizeof raw), DFOTA_ERR_HEADER);
    h.sector_size = 4096;
    h.lag = 8;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_ERR_ARG);
    h.lag = 7;
    dfota_pkg_write(&h, raw);
    assert_int_equal(dfota_pkg_parse(&g, raw, sizeof raw), DFOTA_OK);
    assert_int_equal(g.lag, 7);

    sample(&h);
    memset(h.product, 'a', 32);
    h.product[32] = 0;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_ERR_ARG);
}

static void test_strerror(void **st)
{
    int e;
    (void)st;
    for (e = 0; e >= DFOTA_ERR_STATE; e--)
        assert_string_not_equal(dfota_strerror(e), "unknown error");
    assert_string_equal(dfota_strerror(-999), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
