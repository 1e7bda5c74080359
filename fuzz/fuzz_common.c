#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_common.h"
#include "host_port.h"

uint32_t fz_rand(uint32_t *s)
{
    /* xorshift32 */
    uint32_t x = *s ? *s : 1;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

void fz_image(uint8_t *p, size_t len, uint32_t seed)
{
    static const uint8_t op[] = { 0x46, 0x68, 0x60, 0xb5, 0xbd, 0xf0, 0xf8, 0x47, 0x2b, 0xd1 };
    size_t i = 0;

    while (i < len) {
        uint32_t kind = fz_rand(&seed) % 10, n = 16 + fz_rand(&seed) % 240, k;
        for (k = 0; k < n && i < len; k++, i++) {
            uint32_t r = fz_rand(&seed);
            if (kind < 6)            /* code: a small alphabet of halfwords */
                p[i] = (i & 1) ? op[r % sizeof op] : (uint8_t)(r % 64);
            else if (kind < 8)       /* little-endian pointers into 0x0800xxxx */
                p[i] = (i % 4 == 0) ? (uint8_t)(r & 0xFC) : (i % 4 == 1) ? (uint8_t)(r % 8)
                     : (i % 4 == 2) ? 0x00 : 0x08;
            else if (kind < 9)       /* text */
                p[i] = (uint8_t)('a' + r % 26);
            else                     /* padding */
                p[i] = 0xFF;
        }
    }
}

size_t fz_release(const uint8_t *src, uint8_t *out, int variant)
{
    uint32_t seed = 0xC0FFEEu + (uint32_t)variant;
    size_t len = FZ_SRC_SIZE, o = 0, i;

    if (variant == 0) {
        size_t ins_at = len / 3, ins_len = 600, del_at = 2 * len / 3, del_len = 300;
        for (i = 0; i < len; i++) {
            if (i == ins_at) {
                fz_image(out + o, ins_len, seed ^ 0x5555u);
                o += ins_len;
            }
            if (i >= del_at && i < del_at + del_len)
                continue;
            out[o++] = src[i];
        }
    } else if (variant == 1 || variant == 3 || variant == 4) {
        memcpy(out, src, len);
        o = len;
    } else {
        o = len / 2 + 123;
        memcpy(out, src + 200, o);
    }
    /* constants and pointers that moved */
    for (i = 0; i + 4 <= o; i += 509 + (fz_rand(&seed) % 64) * 4)
        out[i] = (uint8_t)(out[i] + 0x40);
    if (variant == 3) {
        /* 96 new bytes at sector offset 32, again 257..352 bytes on */
        size_t at, k;
        for (at = 0; at + 512 <= o; at += 512) {
            size_t d = 257 + fz_rand(&seed) % 96;
            for (k = 0; k < 96; k++)
                out[at + 32 + k] = out[at + 32 + d + k] = (uint8_t)fz_rand(&seed);
        }
    }
    if (variant == 4) {
        /* bytes 1024..2047 and 4096..5119 swap places, byte for byte from src */
        memcpy(out + 1024, src + 4096, 1024);
        memcpy(out + 4096, src + 1024, 1024);
    }
    return o;
}

void fz_keypair(uint8_t pk[32], uint8_t sk[64])
{
    uint8_t seed[32];
    memset(seed, 0xF2, sizeof seed);
    if (dfota_host_keypair(seed, pk, sk))
        abort();
}

int fz_verbose(void)
{
    static int v = -1;
    if (v < 0)
        v = getenv("DFOTA_FUZZ_VERBOSE") != NULL;
    return v;
}

void fz_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "\n*** dfota fuzz invariant broken: %s (%s:%d)\n", what, file, line);
    fflush(stderr);
    __builtin_trap();
}
