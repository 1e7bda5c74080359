/* SHA-512 (FIPS 180-4), small and portable, used by the Ed25519 verifier.
 * Incremental: init, any number of updates, final. No allocation. */
#ifndef DFOTA_SHA512_H
#define DFOTA_SHA512_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dfota_sha512_ctx {
    uint64_t h[8];    /* chaining value */
    uint64_t len;     /* bytes hashed so far (messages < 2^61 bytes) */
    uint8_t buf[128]; /* partial block, len % 128 bytes used */
};

void dfota_sha512_init(struct dfota_sha512_ctx *c);
void dfota_sha512_update(struct dfota_sha512_ctx *c, const void *data, size_t n);
void dfota_sha512_final(struct dfota_sha512_ctx *c, uint8_t out[64]);

#ifdef __cplusplus
}
#endif

#endif
