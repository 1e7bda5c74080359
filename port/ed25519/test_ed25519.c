/* Tests for the dfota Ed25519 verifier against libsodium (host reference). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sodium.h>

#include "dfota_ed25519.h"
#include "sha512.h"

/* ---- helpers ---- */

static void hex2bin(uint8_t *out, size_t n, const char *hex)
{
    size_t got = 0;
    assert_int_equal(strlen(hex), 2 * n);
    assert_int_equal(sodium_hex2bin(out, n, hex, 2 * n, NULL, &got, NULL), 0);
    assert_int_equal(got, n);
}

/* Deterministic bytes: libsodium's ChaCha20 stream keyed by (tag, index). */
static void det_bytes(void *out, size_t n, uint32_t tag, uint32_t index)
{
    uint8_t seed[randombytes_SEEDBYTES] = {0};
    memcpy(seed, &tag, sizeof tag);
    memcpy(seed + 4, &index, sizeof index);
    randombytes_buf_deterministic(out, n, seed);
}

static uint64_t prng_state = 0x9e3779b97f4a7c15ULL;
static uint32_t prng(void)
{
    prng_state ^= prng_state << 13;
    prng_state ^= prng_state >> 7;
    prng_state ^= prng_state << 17;
    return (uint32_t)(prng_state >> 16);
}

static const uint8_t L_LE[32] = {
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
};

/* s += L (256-bit little-endian), returns the carry out. */
static unsigned add_l(uint8_t s[32])
{
    unsigned carry = 0;
    for (int i = 0; i < 32; i++) {
        unsigned v = s[i] + L_LE[i] + carry;
        s[i] = (uint8_t)v;
        carry = v >> 8;
    }
    return carry;
}

static int streamed(const uint8_t sig[64], const uint8_t *m, size_t n, const uint8_t pk[32])
{
    struct dfota_ed25519_verify_ctx c;
    size_t off = 0;

    (void)dfota_ed25519_verify_init(&c, sig, pk);
    while (off < n) {
        size_t take = prng() % 4 == 0 ? prng() % 300 : prng() % 9; /* 0 allowed */
        if (take > n - off)
            take = n - off;
        dfota_ed25519_verify_update(&c, m + off, take);
        off += take;
    }
    if (prng() & 1)
        dfota_ed25519_verify_update(&c, m, 0);
    return dfota_ed25519_verify_final(&c);
}

/* ---- SHA-512 ---- */

static void test_sha512_matches_libsodium(void **state)
{
    static uint8_t msg[1000];
    (void)state;
    det_bytes(msg, sizeof msg, 1, 0);
    for (size_t n = 0; n <= sizeof msg; n += (n < 300 ? 1 : 37)) {
        uint8_t ref[64], one[64], inc[64];
        struct dfota_sha512_ctx c;
        size_t off = 0;

        crypto_hash_sha512(ref, msg, n);
        dfota_sha512_init(&c);
        dfota_sha512_update(&c, msg, n);
        dfota_sha512_final(&c, one);
        assert_memory_equal(ref, one, 64);

        dfota_sha512_init(&c);
        while (off < n) {
            size_t take = prng() % 200;
            if (take > n - off)
                take = n - off;
            dfota_sha512_update(&c, msg + off, take);
            off += take;
        }
        dfota_sha512_final(&c, inc);
        assert_memory_equal(ref, inc, 64);
    }
}

/* ---- RFC 8032 section 7.1, tests 1-3 ---- */

struct rfc_vector {
    const char *secret, *pub, *msg, *sig;
};

static const struct rfc_vector rfc[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
     "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
     "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
     "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
};

static void test_rfc8032_vectors(void **state)
{
    (void)state;
    for (size_t v = 0; v < sizeof rfc / sizeof rfc[0]; v++) {
        uint8_t seed[32], pub[32], sig[64], msg[2], pk_ref[32], sk_ref[64], sig_ref[64];
        size_t mlen = strlen(rfc[v].msg) / 2;

        hex2bin(seed, 32, rfc[v].secret);
        hex2bin(pub, 32, rfc[v].pub);
        hex2bin(sig, 64, rfc[v].sig);
        if (mlen)
            hex2bin(msg, mlen, rfc[v].msg);

        /* the typed-in vectors agree with the reference implementation */
        crypto_sign_seed_keypair(pk_ref, sk_ref, seed);
        assert_memory_equal(pk_ref, pub, 32);
        crypto_sign_detached(sig_ref, NULL, msg, mlen, sk_ref);
        assert_memory_equal(sig_ref, sig, 64);

        assert_int_equal(dfota_ed25519_verify(sig, msg, mlen, pub), 0);
        assert_int_equal(streamed(sig, msg, mlen, pub), 0);
        /* a different message */
        msg[0] ^= 1;
        assert_int_equal(dfota_ed25519_verify(sig, msg, mlen ? mlen : 1, pub), -1);
    }
}

/* ---- random keys and messages signed by libsodium ---- */

static void test_random_libsodium_signatures(void **state)
{
    static uint8_t msg[1024];
    const int count = 2000;
    clock_t t0, spent = 0;
    (void)state;

    for (int i = 0; i < count; i++) {
        uint8_t seed[32], pk[32], sk[64], sig[64];
        uint32_t lenbuf;
        size_t len;

        det_bytes(seed, 32, 2, (uint32_t)i);
        det_bytes(&lenbuf, sizeof lenbuf, 3, (uint32_t)i);
        len = lenbuf % (i < 1000 ? 64 : sizeof msg + 1);
        det_bytes(msg, len, 4, (uint32_t)i);
        crypto_sign_seed_keypair(pk, sk, seed);
        crypto_sign_detached(sig, NULL, msg, len, sk);

        t0 = clock();
        int r = dfota_ed25519_verify(sig, msg, len, pk);
        spent += clock() - t0;
        if (r != 0)
            fail_msg("valid signature %d (len %zu) rejected", i, len);
    }
    print_message("average verify time: %.3f ms\n",
                  (double)spent * 1000.0 / CLOCKS_PER_SEC / count);
}

/* ---- single-bit flips of signature, message and key ---- */

static void test_bit_flips_rejected(void **state)
{
    static const size_t lens[] = {0, 1, 3, 16, 33, 64};
    (void)state;

    for (size_t t = 0; t < sizeof lens / sizeof lens[0]; t++) {
        uint8_t seed[32], pk[32], sk[64], sig[64], msg[64];
        size_t len = lens[t];

        det_bytes(seed, 32, 5, (uint32_t)t);
        det_bytes(msg, sizeof msg, 6, (uint32_t)t);
        crypto_sign_seed_keypair(pk, sk, seed);
        crypto_sign_detached(sig, NULL, msg, len, sk);
        assert_int_equal(dfota_ed25519_verify(sig, msg, len, pk), 0);

        for (int b = 0; b < 64 * 8; b++) {
            sig[b / 8] ^= (uint8_t)(1u << (b % 8));
            if (dfota_ed25519_verify(sig, msg, len, pk) != -1)
                fail_msg("signature bit %d flip accepted (len %zu)", b, len);
            assert_int_not_equal(crypto_sign_verify_detached(sig, msg, len, pk), 0);
            sig[b / 8] ^= (uint8_t)(1u << (b % 8));
        }
        for (size_t b = 0; b < len * 8; b++) {
            msg[b / 8] ^= (uint8_t)(1u << (b % 8));
            if (dfota_ed25519_verify(sig, msg, len, pk) != -1)
                fail_msg("message bit %zu flip accepted (len %zu)", b, len);
            msg[b / 8] ^= (uint8_t)(1u << (b % 8));
        }
        for (int b = 0; b < 32 * 8; b++) {
            pk[b / 8] ^= (uint8_t)(1u << (b % 8));
            if (dfota_ed25519_verify(sig, msg, len, pk) != -1)
                fail_msg("key bit %d flip accepted (len %zu)", b, len);
            pk[b / 8] ^= (uint8_t)(1u << (b % 8));
        }
        assert_int_equal(dfota_ed25519_verify(sig, msg, len, pk), 0);
    }
}

/* ---- non-canonical S ---- */

static void test_s_not_below_l_rejected(void **state)
{
    uint8_t seed[32], pk[32], sk[64], sig[64], bad[64], msg[40];
    (void)state;

    for (uint32_t t = 0; t < 20; t++) {
        det_bytes(seed, 32, 7, t);
        det_bytes(msg, sizeof msg, 8, t);
        crypto_sign_seed_keypair(pk, sk, seed);
        crypto_sign_detached(sig, NULL, msg, sizeof msg, sk);
        assert_int_equal(dfota_ed25519_verify(sig, msg, sizeof msg, pk), 0);

        /* S + L: the same value mod L, so the group equation still holds */
        memcpy(bad, sig, 64);
        assert_int_equal(add_l(bad + 32), 0);
        assert_int_equal(dfota_ed25519_verify(bad, msg, sizeof msg, pk), -1);
        assert_int_not_equal(crypto_sign_verify_detached(bad, msg, sizeof msg, pk), 0);
        /* S + 15L < 2^256 as well */
        for (int k = 2; k <= 15; k++)
            assert_int_equal(add_l(bad + 32), 0);
        assert_int_equal(dfota_ed25519_verify(bad, msg, sizeof msg, pk), -1);
        /* top bits set */
        memcpy(bad, sig, 64);
        bad[63] |= 0xe0;
        assert_int_equal(dfota_ed25519_verify(bad, msg, sizeof msg, pk), -1);
    }

    /* S = L, S = L + 1 and S = 2^256 - 1; S = L - 1 is merely wrong */
    memcpy(bad, sig, 32);
    memcpy(bad + 32, L_LE, 32);
    assert_int_equal(dfota_ed25519_verify(bad, msg, sizeof msg, pk), -1);
    bad[32] += 1;
    assert_int_equal(dfota_ed25519_verify(bad, msg, sizeof msg, pk), -1);
    memset(bad + 32, 0xff, 32);
    assert_int_equal(dfota_ed25519_verify(bad, msg, sizeof msg, pk), -1);
}

/* ---- public keys and R values that must not be accepted ---- */

/* The eight points of small order (canonical encodings). */
static const char *const small_order[] = {
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
};

static const char *const undecodable[] = {
    /* y = p, p + 1, 2^255 - 1 (non-canonical y) */
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    /* x = 0 with the sign bit set */
    "0100000000000000000000000000000000000000000000000000000000000080",
    /* y = 2: (y^2 - 1) / (d y^2 + 1) is not a square */
    "0200000000000000000000000000000000000000000000000000000000000000",
};

static void test_bad_public_keys_rejected(void **state)
{
    uint8_t pk[32], sig[64], msg[] = "firmware";
    (void)state;

    /* a signature that makes the cofactorless equation hold for A = 0:
     * R = identity, S = 0 */
    memset(sig, 0, 64);
    sig[0] = 1;
    for (size_t i = 0; i < sizeof small_order / sizeof small_order[0]; i++) {
        hex2bin(pk, 32, small_order[i]);
        assert_int_equal(dfota_ed25519_verify(sig, msg, sizeof msg, pk), -1);
        assert_int_not_equal(crypto_sign_verify_detached(sig, msg, sizeof msg, pk), 0);
    }
    for (size_t i = 0; i < sizeof undecodable / sizeof undecodable[0]; i++) {
        struct dfota_ed25519_verify_ctx c;
        hex2bin(pk, 32, undecodable[i]);
        assert_int_equal(dfota_ed25519_verify(sig, msg, sizeof msg, pk), -1);
        assert_int_equal(dfota_ed25519_verify_init(&c, sig, pk), -1);
        dfota_ed25519_verify_update(&c, msg, sizeof msg);
        assert_int_equal(dfota_ed25519_verify_final(&c), -1);
        assert_int_not_equal(crypto_sign_verify_detached(sig, msg, sizeof msg, pk), 0);
    }
}

/* Builds (R, S) from a chosen nonce point directly: S = r + k a mod L. With
 * r = 0 and R = the identity the cofactorless equation holds, but libsodium
 * (and we) refuse R of small order. */
static void test_small_order_r_rejected(void **state)
{
    uint8_t seed[32], pk[32], sk[64], h[64], wide[64], a[32], k[32], r[32], ka[32], sig[64];
    uint8_t msg[] = "hello";
    crypto_hash_sha512_state hs;
    (void)state;

    det_bytes(seed, 32, 9, 0);
    crypto_sign_seed_keypair(pk, sk, seed);
    crypto_hash_sha512(h, seed, 32); /* secret scalar: clamped first half */
    h[0] &= 248;
    h[31] &= 127;
    h[31] |= 64;
    memset(wide, 0, 64);
    memcpy(wide, h, 32);
    crypto_core_ed25519_scalar_reduce(a, wide);

    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0) { /* sanity: a real nonce gives a valid signature */
            det_bytes(wide, 64, 10, 0);
            crypto_core_ed25519_scalar_reduce(r, wide);
            assert_int_equal(crypto_scalarmult_ed25519_base_noclamp(sig, r), 0);
        } else { /* r = 0, R = identity */
            memset(r, 0, 32);
            memset(sig, 0, 32);
            sig[0] = 1;
        }
        crypto_hash_sha512_init(&hs);
        crypto_hash_sha512_update(&hs, sig, 32);
        crypto_hash_sha512_update(&hs, pk, 32);
        crypto_hash_sha512_update(&hs, msg, sizeof msg);
        crypto_hash_sha512_final(&hs, wide);
        crypto_core_ed25519_scalar_reduce(k, wide);
        crypto_core_ed25519_scalar_mul(ka, k, a);
        crypto_core_ed25519_scalar_add(sig + 32, r, ka);

        int expect = pass == 0 ? 0 : -1;
        assert_int_equal(crypto_sign_verify_detached(sig, msg, sizeof msg, pk), expect);
        assert_int_equal(dfota_ed25519_verify(sig, msg, sizeof msg, pk), expect);
    }
}

/* A of order 2 (y = -1): [k]A is the identity for even k, so with R = [S]B
 * and an S for which k = H(R || A || M) is even, the cofactorless equation
 * [S]B - [k]A = R holds with an R of large order. Only the small-order
 * check on A rejects it. */
static void test_small_order_a_rejected(void **state)
{
    uint8_t pk[32], sig[64], wide[64], k[32];
    uint8_t msg[] = "image";
    crypto_hash_sha512_state hs;
    int found = 0;
    (void)state;

    hex2bin(pk, 32, small_order[1]);
    for (uint32_t t = 0; t < 64 && found < 4; t++) {
        det_bytes(wide, 64, 15, t);
        crypto_core_ed25519_scalar_reduce(sig + 32, wide);
        assert_int_equal(crypto_scalarmult_ed25519_base_noclamp(sig, sig + 32), 0);
        crypto_hash_sha512_init(&hs);
        crypto_hash_sha512_update(&hs, sig, 32);
        crypto_hash_sha512_update(&hs, pk, 32);
        crypto_hash_sha512_update(&hs, msg, sizeof msg);
        crypto_hash_sha512_final(&hs, wide);
        crypto_core_ed25519_scalar_reduce(k, wide);
        if (k[0] & 1)
            continue;
        found++;
        assert_int_equal(dfota_ed25519_verify(sig, msg, sizeof msg, pk), -1);
        assert_int_not_equal(crypto_sign_verify_detached(sig, msg, sizeof msg, pk), 0);
    }
    assert_int_equal(found, 4);
}

/* ---- streaming equals one-shot ---- */

static void test_streaming_matches_one_shot(void **state)
{
    static uint8_t msg[3000];
    (void)state;

    for (uint32_t t = 0; t < 200; t++) {
        uint8_t seed[32], pk[32], sk[64], sig[64];
        size_t len = t < 100 ? t * 3 : prng() % (sizeof msg + 1);

        det_bytes(seed, 32, 11, t);
        det_bytes(msg, len, 12, t);
        crypto_sign_seed_keypair(pk, sk, seed);
        crypto_sign_detached(sig, NULL, msg, len, sk);
        if (t % 3 == 1) /* corrupt the signature */
            sig[prng() % 64] ^= (uint8_t)(1u << (prng() % 8));
        if (t % 3 == 2 && len) /* corrupt the message */
            msg[prng() % len] ^= (uint8_t)(1u << (prng() % 8));

        int one = dfota_ed25519_verify(sig, msg, len, pk);
        assert_int_equal(one, crypto_sign_verify_detached(sig, msg, len, pk) == 0 ? 0 : -1);
        for (int rep = 0; rep < 3; rep++)
            assert_int_equal(streamed(sig, msg, len, pk), one);
    }
}

static void test_context_use(void **state)
{
    uint8_t seed[32], pk[32], sk[64], sig[64], msg[100];
    struct dfota_ed25519_verify_ctx c;
    (void)state;

    det_bytes(seed, 32, 13, 0);
    det_bytes(msg, sizeof msg, 14, 0);
    crypto_sign_seed_keypair(pk, sk, seed);
    crypto_sign_detached(sig, NULL, msg, sizeof msg, sk);

    /* the context keeps copies: caller buffers may change after init */
    uint8_t sig2[64], pk2[32];
    memcpy(sig2, sig, 64);
    memcpy(pk2, pk, 32);
    assert_int_equal(dfota_ed25519_verify_init(&c, sig2, pk2), 0);
    memset(sig2, 0, 64);
    memset(pk2, 0, 32);
    dfota_ed25519_verify_update(&c, msg, 40);
    dfota_ed25519_verify_update(&c, msg + 40, 60);
    assert_int_equal(dfota_ed25519_verify_final(&c), 0);
    /* final consumes the context */
    assert_int_equal(dfota_ed25519_verify_final(&c), -1);

    /* a rejected init stays rejected */
    sig[63] |= 0xf0;
    assert_int_equal(dfota_ed25519_verify_init(&c, sig, pk), -1);
    dfota_ed25519_verify_update(&c, msg, sizeof msg);
    assert_int_equal(dfota_ed25519_verify_final(&c), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha512_matches_libsodium),
        cmocka_unit_test(test_rfc8032_vectors),
        cmocka_unit_test(test_random_libsodium_signatures),
        cmocka_unit_test(test_bit_flips_rejected),
        cmocka_unit_test(test_s_not_below_l_rejected),
        cmocka_unit_test(test_bad_public_keys_rejected),
        cmocka_unit_test(test_small_order_r_rejected),
        cmocka_unit_test(test_small_order_a_rejected),
        cmocka_unit_test(test_streaming_matches_one_shot),
        cmocka_unit_test(test_context_use),
    };

    if (sodium_init() < 0) {
        fprintf(stderr, "sodium_init failed\n");
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
