/* dfota - SHA-256 (FIPS 180-4), small and portable. */
#ifndef DFOTA_SHA256_H
#define DFOTA_SHA256_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dfota_sha256 {
    uint32_t state[8];
    uint64_t count;      /* bytes hashed so far */
    uint8_t  buf[64];
};

void dfota_sha256_init(struct dfota_sha256 *c);
void dfota_sha256_update(struct dfota_sha256 *c, const void *data, size_t len);
void dfota_sha256_final(struct dfota_sha256 *c, uint8_t out[32]);
void dfota_sha256(const void *data, size_t len, uint8_t out[32]);

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32). Start with crc = 0. */
uint32_t dfota_crc32(uint32_t crc, const void *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif
