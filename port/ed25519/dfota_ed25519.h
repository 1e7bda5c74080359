/* dfota_ed25519: a small, portable Ed25519 signature verifier (RFC 8032,
 * pure Ed25519) for the device side of dfota.
 *
 * Verification only: no secret data is handled, so the code is variable-time.
 * No allocation, no stdio, constant RAM (see README.md for stack figures).
 *
 * Acceptance rules (the same as libsodium's crypto_sign_verify_detached in
 * its default, non-ED25519_COMPAT build; the tests cross-check them):
 *   - S must be canonical (S < L), otherwise the signature is rejected;
 *   - A must decode per RFC 8032 5.1.3 (y < p, x exists, not "x = 0 with the
 *     sign bit set") and must not be a point of small order;
 *   - [S]B - [k]A, k = SHA-512(R || A || M) mod L, must encode to exactly
 *     the 32 bytes R (so an R that fails decoding never matches), and R must
 *     not be a point of small order.
 */
#ifndef DFOTA_ED25519_H
#define DFOTA_ED25519_H

#include <stddef.h>
#include <stdint.h>

#include "sha512.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Returns 0 when sig is a valid Ed25519 signature (RFC 8032, pure Ed25519)
 * of msg under pub, -1 otherwise. */
int dfota_ed25519_verify(const uint8_t sig[64], const uint8_t *msg, size_t len,
                         const uint8_t pub[32]);

/* Incremental form, for a message streamed from flash:
 *
 *   struct dfota_ed25519_verify_ctx c;
 *   if (dfota_ed25519_verify_init(&c, sig, pub) != 0) -> reject early (optional)
 *   dfota_ed25519_verify_update(&c, chunk, n);   (any number of times)
 *   ok = dfota_ed25519_verify_final(&c) == 0;
 *
 * The context copies what it needs and keeps no pointer to caller memory.
 * init returns -1 when S or pub are unacceptable; final then returns -1 too,
 * so checking init's result is optional. final consumes the context: calling
 * it a second time (without a new init) returns -1. */
struct dfota_ed25519_verify_ctx {
    struct dfota_sha512_ctx hash; /* SHA-512(R || A || M) so far */
    uint8_t sig[64];              /* R || S */
    int32_t ax[10], ay[10];       /* decoded public key A, internal limb form */
    int state;                    /* internal: 1 = ready, 0 = rejected/consumed */
};

int dfota_ed25519_verify_init(struct dfota_ed25519_verify_ctx *c, const uint8_t sig[64],
                              const uint8_t pub[32]);
void dfota_ed25519_verify_update(struct dfota_ed25519_verify_ctx *c, const uint8_t *m, size_t n);
int dfota_ed25519_verify_final(struct dfota_ed25519_verify_ctx *c);

#ifdef __cplusplus
}
#endif

#endif
