#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include "host_port.h"

static int verify(void *ctx, const uint8_t sig[64], const uint8_t *msg, size_t len,
                  const uint8_t pub[32])
{
    (void)ctx;
    return crypto_sign_ed25519_verify_detached(sig, msg, len, pub) == 0 ? 0 : -1;
}

static const struct dfota_crypto sodium_crypto = { NULL, verify };

const struct dfota_crypto *dfota_host_crypto(void)
{
    if (sodium_init() < 0)
        return NULL;
    return &sodium_crypto;
}

void dfota_host_sha256(const void *data, size_t len, uint8_t out[32])
{
    if (sodium_init() < 0)
        abort();
    crypto_hash_sha256(out, data, len);
}

int dfota_host_sign(const uint8_t sk[64], const uint8_t *msg, size_t len, uint8_t sig[64])
{
    if (sodium_init() < 0)
        return -1;
    return crypto_sign_ed25519_detached(sig, NULL, msg, len, sk);
}

int dfota_host_keypair(const uint8_t *seed, uint8_t pk[32], uint8_t sk[64])
{
    uint8_t s[32];
    int rc;

    if (sodium_init() < 0)
        return -1;
    if (seed)
        memcpy(s, seed, 32);
    else
        randombytes_buf(s, sizeof s);
    rc = crypto_sign_ed25519_seed_keypair(pk, sk, s);
    sodium_memzero(s, sizeof s);
    return rc;
}
