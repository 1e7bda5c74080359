/* SHA-256 (FIPS 180-4), used to fingerprint the running image. */
#ifndef SAMPLE_SHA256_H
#define SAMPLE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32

typedef struct {
    uint32_t state[8];
    uint64_t length; /* bytes */
    uint8_t block[64];
    uint8_t used;
} sha256_ctx_t;

void sha256_init(sha256_ctx_t *ctx);
void sha256_update(sha256_ctx_t *ctx, const void *data, size_t len);
void sha256_final(sha256_ctx_t *ctx, uint8_t digest[SHA256_DIGEST_LEN]);
void sha256(const void *data, size_t len, uint8_t digest[SHA256_DIGEST_LEN]);

#endif
