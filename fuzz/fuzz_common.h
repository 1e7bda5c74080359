/* Shared by the libFuzzer targets and the seed generator: the fixed source
 * firmware the fuzzers run against, its "next releases" the seed packages
 * are made from, the fixed key pair, and a check that traps. */
#ifndef DFOTA_FUZZ_COMMON_H
#define DFOTA_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* The source firmware: FZ_SRC_SIZE bytes of fz_image(FZ_SRC_SEED). Not a
 * whole number of sectors on purpose. */
#define FZ_SRC_SIZE  6000u
#define FZ_SRC_SEED  0x0DF07A01u

/* Product id and security counter of the seed packages, and what the engine
 * fuzzer configures in its "policy" mode. */
#define FZ_PRODUCT   "fuzz-board"
#define FZ_COUNTER   3u

/* A firmware-like image: Thumb-ish halfwords, pointer tables, text, padding. */
void fz_image(uint8_t *p, size_t len, uint32_t seed);

/* Target images made from src (FZ_SRC_SIZE bytes) for the seed packages:
 *  0: a function inserted, one removed, constants and pointers changed (grows);
 *  1: same size, scattered changes;
 *  2: shrinks to about half, with changes;
 *  3: same size, and in every 512-byte sector a run of new random bytes
 *     and the same run again more than 256 bytes further on in that
 *     sector: an in-place DZ2 package of it (sectors of 512 bytes or more)
 *     copies the second from the first only over the whole block, so it
 *     needs DFOTA_PKG_F_BLOCKWIN;
 *  4: as 1, then bytes 1024..2047 and 4096..5119 swap places (each the
 *     other's source bytes): whichever an in-place order writes first, the
 *     other has lost its source at lag 0, so the encoder saves a source
 *     sector (DFOTA_PKG_F_SAVED): one with 1024-byte sectors, two with
 *     512-byte ones.
 * Returns the size written to out (at most FZ_DST_MAX). */
#define FZ_DST_VARIANTS 5
#define FZ_DST_MAX      (FZ_SRC_SIZE + 1024u)
size_t fz_release(const uint8_t *src, uint8_t *out, int variant);

/* The fixed Ed25519 key pair of the seed packages (libsodium, fixed seed). */
void fz_keypair(uint8_t pk[32], uint8_t sk[64]);

uint32_t fz_rand(uint32_t *s);

/* DFOTA_FUZZ_VERBOSE set in the environment: the targets say what each input
 * did (to check a seed or a reproducer by hand). */
int fz_verbose(void);

/* A broken invariant: say which, then trap so libFuzzer keeps the input. */
void fz_fail(const char *what, const char *file, int line);
#define FZ_CHECK(c) do { if (!(c)) fz_fail(#c, __FILE__, __LINE__); } while (0)

/* The libFuzzer entry point (declared for -Wmissing-prototypes). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
