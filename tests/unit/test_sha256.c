#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "dfota/sha256.h"

static void hex(char *o, const uint8_t *d)
{
    int i;
    for (i = 0; i < 32; i++)
        sprintf(o + 2 * i, "%02x", d[i]);
}

static void check(const char *msg, size_t len, const char *want)
{
    uint8_t d[32];
    char h[65];
    dfota_sha256(msg, len, d);
    hex(h, d);
    assert_string_equal(h, want);
}

static void test_vectors(void **st)
{
    (void)st;
    check("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    check("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_million_a_streamed(void **st)
{
    struct dfota_sha256 c;
    uint8_t buf[1000], d[32];
    char h[65];
    int i;
    (void)st;
    memset(buf, 'a', sizeof buf);
    dfota_sha256_init(&c);
    /* odd chunk sizes cross block boundaries in every way */
    for (i = 0; i < 1000; i++) {
        dfota_sha256_update(&c, buf, 333);
        dfota_sha256_update(&c, buf, 667);
    }
    dfota_sha256_final(&c, d);
    hex(h, d);
    assert_string_equal(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_crc32(void **st)
{
    (void)st;
    assert_int_equal(dfota_crc32(0, "123456789", 9), 0xCBF43926u);
    assert_int_equal(dfota_crc32(dfota_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
    assert_int_equal(dfota_crc32(0, "", 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_million_a_streamed),
        cmocka_unit_test(test_crc32),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
