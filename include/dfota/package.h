/* dfota - the package header: one description shared by the encoder (host)
 * and the device. docs/package-format.md is the byte-by-byte specification. */
#ifndef DFOTA_PACKAGE_H
#define DFOTA_PACKAGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DFOTA_PKG_MAGIC          "DFOTAPKG"
#define DFOTA_PKG_MAGIC_LEN      8
/* Header layouts (docs/package-format.md). Both are read; dfota_pkg_write
 * writes the one h->format_version names. */
#define DFOTA_PKG_FORMAT_V1      1      /* fixed 312-byte header, NUL-padded strings */
#define DFOTA_PKG_FORMAT_V2      2      /* compact: length-prefixed strings, varints */
#define DFOTA_PKG_FORMAT_VERSION DFOTA_PKG_FORMAT_V2  /* what dfota diff writes */
#define DFOTA_PKG_HEADER_MAX     312u   /* bytes: any header of any version fits (v1 312,
                                           v2 at most DFOTA_PKG_V2_HEADER_MAX) */
#define DFOTA_PKG_V1_HEADER_SIZE 312u   /* v1: bytes, signature included */
#define DFOTA_PKG_V1_SIGNED_SIZE 248u   /* v1: bytes covered by the signature */
#define DFOTA_PKG_V2_HEADER_MIN  188u   /* v2: empty strings, every number one byte, A/B */
#define DFOTA_PKG_V2_HEADER_MAX  308u   /* v2 without runs or saved sectors: 31-byte strings, 5-byte numbers,
                                           in place; with DFOTA_PKG_F_RUNS or _SAVED a header may
                                           take up to DFOTA_PKG_HEADER_MAX, no more */
#define DFOTA_PKG_ID_LEN         32u    /* v1 field size; strings hold at most 31 characters */
#define DFOTA_SHA256_LEN         32u
#define DFOTA_KEY_ID_LEN         8u
#define DFOTA_SIG_LEN            64u
#define DFOTA_PUBKEY_LEN         32u
#define DFOTA_MAX_LAG            7u     /* in place: most blocks of commit lag */
#define DFOTA_MAX_RUNS           16u    /* in place: most runs of the write order */
#define DFOTA_MAX_SAVED          2u     /* in place: most saved source sectors */

/* Format version 1: byte offsets of the header fields, all integers
 * little-endian. (Version 2 has variable-length fields: parse it.) */
enum dfota_pkg_off {
    DFOTA_V1_OFF_MAGIC          = 0x000, /* 8  "DFOTAPKG" */
    DFOTA_V1_OFF_FORMAT_VERSION = 0x008, /* u16 */
    DFOTA_V1_OFF_HEADER_SIZE    = 0x00A, /* u16 */
    DFOTA_V1_OFF_FLAGS          = 0x00C, /* u32, DFOTA_PKG_F_* */
    DFOTA_V1_OFF_PRODUCT        = 0x010, /* 32 */
    DFOTA_V1_OFF_SRC_VERSION    = 0x030, /* 32 */
    DFOTA_V1_OFF_SRC_SIZE       = 0x050, /* u32 */
    DFOTA_V1_OFF_SRC_SHA256     = 0x054, /* 32 */
    DFOTA_V1_OFF_DST_VERSION    = 0x074, /* 32 */
    DFOTA_V1_OFF_DST_SIZE       = 0x094, /* u32 */
    DFOTA_V1_OFF_DST_SHA256     = 0x098, /* 32 */
    DFOTA_V1_OFF_ALGORITHM      = 0x0B8, /* u8, DFOTA_ALG_* */
    DFOTA_V1_OFF_CODER          = 0x0B9, /* u8, DFOTA_CODER_* */
    DFOTA_V1_OFF_LAG            = 0x0BA, /* u8, in place: blocks a source sector outlives its block */
    DFOTA_V1_OFF_RESERVED       = 0x0BB, /* u8, zero */
    DFOTA_V1_OFF_SECTOR_SIZE    = 0x0BC, /* u32, in-place sector size, 0 for A/B */
    DFOTA_V1_OFF_DECODER_RAM    = 0x0C0, /* u32, bytes of decoder state the payload needs */
    DFOTA_V1_OFF_PAYLOAD_SIZE   = 0x0C4, /* u32 */
    DFOTA_V1_OFF_PAYLOAD_SHA256 = 0x0C8, /* 32 */
    DFOTA_V1_OFF_SECURITY_CTR   = 0x0E8, /* u32, anti-rollback counter */
    DFOTA_V1_OFF_STREAM_CRC32   = 0x0EC, /* u32, CRC-32 of the target in production order */
    DFOTA_V1_OFF_KEY_ID         = 0x0F0, /* 8, first bytes of SHA-256(public key) */
    DFOTA_V1_OFF_SIGNATURE      = 0x0F8, /* 64, Ed25519 over bytes [0, 0xF8) */
};
/* Format version 2: the fixed part; the rest follows field by field. */
#define DFOTA_V2_OFF_FORMAT_VERSION 0x008 /* u8 */
#define DFOTA_V2_OFF_FLAGS          0x009 /* varint */

/* Header flags. */
#define DFOTA_PKG_F_INPLACE   0x00000001u /* target is written over the source */
#define DFOTA_PKG_F_BACKWARD  0x00000002u /* in place: sectors are produced last to first */
#define DFOTA_PKG_F_BLOCKHASH 0x00000004u /* in place: the payload ends with the block digest
                                             chain (package-format.md) */
#define DFOTA_PKG_F_BLOCKHASH4 0x00000008u /* with DFOTA_PKG_F_BLOCKHASH: the chain's entries
                                              are 4 bytes, not 16 (package-format.md) */
#define DFOTA_PKG_F_BLOCKSTATE 0x00000010u /* with DFOTA_PKG_F_BLOCKHASH: each entry also
                                              covers the decoder's pending operation at
                                              the block's end (package-format.md) */
#define DFOTA_PKG_F_DEVTABLE 0x00000020u /* in place, instead of DFOTA_PKG_F_BLOCKHASH: no chain
                                             in the payload; the engine's dry run computes
                                             each block's digest into a table at the end of
                                             staging (package-format.md) */
#define DFOTA_PKG_F_RUNS     0x00000040u /* in place, format version 2 only, instead of
                                             DFOTA_PKG_F_BACKWARD: the header lists the
                                             order the sectors are produced in, as runs of
                                             adjacent sectors (package-format.md) */
#define DFOTA_PKG_F_BLOCKWIN 0x00000080u /* in place, format version 2 only: the payload's
                                             target copies may read the whole current block,
                                             not only the decoder's 256-byte ring; the
                                             engine's dry run programs each block into a
                                             scratch slot to serve them (delta-format.md) */
#define DFOTA_PKG_F_SAVED    0x00000100u /* in place, format version 2 only: the header names
                                             up to DFOTA_MAX_SAVED source sectors that the
                                             engine copies to the end of staging before the
                                             update's first write, and reads from there
                                             (package-format.md) */
#define DFOTA_PKG_F_KNOWN     (DFOTA_PKG_F_INPLACE | DFOTA_PKG_F_BACKWARD | DFOTA_PKG_F_BLOCKHASH | \
                               DFOTA_PKG_F_BLOCKHASH4 | DFOTA_PKG_F_BLOCKSTATE | DFOTA_PKG_F_DEVTABLE | \
                               DFOTA_PKG_F_RUNS | DFOTA_PKG_F_BLOCKWIN | DFOTA_PKG_F_SAVED)
#define DFOTA_BLOCK_DIGEST_LEN 16u        /* bytes of one entry of the block digest chain:
                                             SHA-256 cut to 128 bits; the longest entry */
#define DFOTA_BLOCK_DIGEST_LEN4 4u        /* with DFOTA_PKG_F_BLOCKHASH4: cut to 32 bits */

/* Delta algorithms. New ones get new ids; old packages keep applying. */
#define DFOTA_ALG_DZ1         1u   /* docs/delta-format.md */
#define DFOTA_ALG_DZ2         2u   /* docs/delta-format.md, "DZ2" */
/* Entropy coders. */
#define DFOTA_CODER_RC1       1u   /* adaptive binary range coder */

/* In place: one run of the write order, sectors first .. first + n - 1,
 * produced one after the other, lowest first, or highest first when back
 * is 1. On the wire (v2) n and back are one number, n * 2 + back. */
struct dfota_pkg_run {
    uint32_t first;
    uint32_t n;
    uint8_t  back;
};

struct dfota_pkg_header {
    uint16_t format_version;      /* DFOTA_PKG_FORMAT_V1 or _V2 */
    uint16_t header_size;         /* bytes before the payload, signature included: v1 312,
                                     v2 as parsed (dfota_pkg_write ignores it) */
    uint32_t flags;
    char     product[DFOTA_PKG_ID_LEN + 1];
    char     src_version[DFOTA_PKG_ID_LEN + 1];
    uint32_t src_size;
    uint8_t  src_sha256[DFOTA_SHA256_LEN];
    char     dst_version[DFOTA_PKG_ID_LEN + 1];
    uint32_t dst_size;
    uint8_t  dst_sha256[DFOTA_SHA256_LEN];
    uint8_t  algorithm;
    uint8_t  coder;
    uint8_t  lag;
    uint32_t sector_size;
    uint32_t decoder_ram;
    uint32_t payload_size;
    uint8_t  payload_sha256[DFOTA_SHA256_LEN];
    uint32_t security_counter;
    uint32_t stream_crc32;
    /* In place: the write order, every sector once, block 0 first. Parsed
     * from the header with DFOTA_PKG_F_RUNS; else one run of all sectors,
     * back as DFOTA_PKG_F_BACKWARD says (dfota_pkg_write writes the runs
     * only with DFOTA_PKG_F_RUNS). */
    uint32_t nruns;
    struct dfota_pkg_run runs[DFOTA_MAX_RUNS];
    /* In place, DFOTA_PKG_F_SAVED: the source sectors the engine saves
     * (ascending, each below the target's sector count); else 0. */
    uint32_t nsaved;
    uint32_t saved[DFOTA_MAX_SAVED];
    uint8_t  key_id[DFOTA_KEY_ID_LEN];
    uint8_t  signature[DFOTA_SIG_LEN];
};

/* Parse and sanity-check a raw header of either version from the len bytes
 * at raw (the header, and possibly payload after it: DFOTA_PKG_HEADER_MAX
 * bytes always suffice). Checks magic, format version, header size, flags,
 * strings, numbers, algorithm and coder; not the signature or digests.
 * h->header_size tells where the payload starts. Returns DFOTA_OK or a
 * negative dfota_err (DFOTA_ERR_SIZE: len ends inside the header). */
int dfota_pkg_parse(struct dfota_pkg_header *h, const uint8_t *raw, size_t len);

/* Both versions end the header with the key id, then the signature over
 * every byte before it. */
static inline uint32_t dfota_pkg_signed_size(const struct dfota_pkg_header *h)
{
    return (uint32_t)h->header_size - DFOTA_SIG_LEN;
}
static inline uint32_t dfota_pkg_key_id_offset(const struct dfota_pkg_header *h)
{
    return (uint32_t)h->header_size - DFOTA_SIG_LEN - DFOTA_KEY_ID_LEN;
}

/* Bytes of one entry of the block digest chain: 0 without
 * DFOTA_PKG_F_BLOCKHASH, DFOTA_BLOCK_DIGEST_LEN4 with DFOTA_PKG_F_BLOCKHASH4,
 * else DFOTA_BLOCK_DIGEST_LEN. */
static inline uint32_t dfota_pkg_chain_entry_len(const struct dfota_pkg_header *h)
{
    return !(h->flags & DFOTA_PKG_F_BLOCKHASH) ? 0u
           : (h->flags & DFOTA_PKG_F_BLOCKHASH4) ? DFOTA_BLOCK_DIGEST_LEN4 : DFOTA_BLOCK_DIGEST_LEN;
}

/* Bytes of the block digest chain at the end of the payload (0 without
 * DFOTA_PKG_F_BLOCKHASH); the DZ stream is the payload before it. */
uint64_t dfota_pkg_table_size(const struct dfota_pkg_header *h);

/* Check that a package of total length pkg_len holds exactly this header's
 * payload. DFOTA_ERR_SIZE when it does not. */
int dfota_pkg_check_size(const struct dfota_pkg_header *h, uint64_t pkg_len);

/* Bytes the header takes in the version h->format_version names (v1: 312;
 * v2: depends on the strings and numbers); 0 for any other version. What
 * dfota_pkg_write writes, and the offset of the payload. */
uint32_t dfota_pkg_header_size(const struct dfota_pkg_header *h);

/* Serialise a header in the version h->format_version names into raw,
 * dfota_pkg_header_size(h) bytes (at most DFOTA_PKG_HEADER_MAX), signature
 * included as it stands in h. DFOTA_ERR_ARG for what that version cannot
 * hold: another version, a string of 32 characters or more or with a byte
 * outside 0x20..0x7E, lag above 7; v2 also unknown flags, an in-place sector size that is
 * not a power of two of at least 256, or A/B with a sector size, lag or
 * stream CRC other than 0. */
int dfota_pkg_write(const struct dfota_pkg_header *h, uint8_t *raw);

#ifdef __cplusplus
}
#endif
#endif
