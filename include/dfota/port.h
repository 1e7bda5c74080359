/* dfota - the ports: how the engine reaches flash and signature checking.
 * Everything the device library does to the outside world goes through
 * these two structs. */
#ifndef DFOTA_PORT_H
#define DFOTA_PORT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A NOR-like flash: erase a sector to `erased`, then program bytes that are
 * still erased. Callbacks return 0, or a negative value on a hardware error
 * (the engine reports it as DFOTA_ERR_IO). The engine promises:
 *  - erase() gets sector-aligned addresses;
 *  - prog() gets prog_size-aligned addresses and lengths, and only ever
 *    programs bytes erased since their last program;
 *  - read() may get any address and length.
 * A power cut during prog() or erase() may leave that unit in any state; the
 * engine never relies on a unit it was writing when the power went. */
struct dfota_flash {
    void *ctx;
    int (*read)(void *ctx, uint32_t addr, void *buf, uint32_t len);
    int (*prog)(void *ctx, uint32_t addr, const void *buf, uint32_t len);
    int (*erase)(void *ctx, uint32_t addr);
    int (*sync)(void *ctx);      /* optional: make earlier writes durable */
    uint32_t sector_size;        /* erase unit: a power of two, >= 256 */
    uint32_t prog_size;          /* program unit: a power of two, <= DFOTA_IO_BUF */
    uint8_t  erased;             /* value of an erased byte, usually 0xFF */
};

/* Signature checking. ed25519_verify returns 0 when sig is a valid Ed25519
 * signature of msg under pub. Hosts use libsodium (host/port/crypto_sodium.c),
 * devices a vendor library or port/ed25519. */
struct dfota_crypto {
    void *ctx;
    int (*ed25519_verify)(void *ctx, const uint8_t sig[64], const uint8_t *msg, size_t len,
                          const uint8_t pub[32]);
};

#ifdef __cplusplus
}
#endif
#endif
