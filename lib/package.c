/* Package header parsing and writing: docs/package-format.md. Format
 * version 1 is a fixed 312-byte layout; version 2 the same fields, compact:
 * length-prefixed strings, varints, the in-place fields only in place. */
#include <string.h>
#include "dfota/error.h"
#include "dfota/package.h"
#include "dfota/patch.h"
#include "le.h"

/* v2's largest header must fit the buffer every reader has (the engine's
 * on its stack): magic, version, flags of 2 (every flag is below 2^14), 3 strings of 31, 2 digests with a
 * 5-byte size each, algorithm, coder, the 6 in-place bytes, decoder RAM and
 * payload size of 5, the payload digest, counter of 5, key id, signature. */
_Static_assert(DFOTA_PKG_V2_HEADER_MAX == 8 + 1 + 2 + 3 * 32 + 2 * (5 + 32) + 2 + 6 + 5 + 5 + 32 +
                                             5 + DFOTA_KEY_ID_LEN + DFOTA_SIG_LEN,
               "DFOTA_PKG_V2_HEADER_MAX");
_Static_assert(DFOTA_PKG_F_KNOWN < (1u << 14), "flags: at most a 2-byte varint");
_Static_assert(DFOTA_PKG_V2_HEADER_MIN == 8 + 1 + 1 + 3 * 1 + 2 * (1 + 32) + 2 + 1 + 1 + 32 + 1 +
                                             DFOTA_KEY_ID_LEN + DFOTA_SIG_LEN,
               "DFOTA_PKG_V2_HEADER_MIN");
_Static_assert(DFOTA_PKG_V2_HEADER_MAX <= DFOTA_PKG_HEADER_MAX &&
                   DFOTA_PKG_V1_HEADER_SIZE <= DFOTA_PKG_HEADER_MAX,
               "DFOTA_PKG_HEADER_MAX holds every header");

/* The flags that go only with others: BACKWARD, BLOCKHASH, DEVTABLE, RUNS,
 * BLOCKWIN and SAVED only in place, BLOCKHASH4 and BLOCKSTATE only with BLOCKHASH (so
 * only in place), at most one of BLOCKHASH and DEVTABLE, and of BACKWARD
 * and RUNS. */
static int flags_ok(uint32_t f)
{
    if (f & ~DFOTA_PKG_F_KNOWN)
        return 0;
    if (!(f & DFOTA_PKG_F_INPLACE) &&
        (f & (DFOTA_PKG_F_BACKWARD | DFOTA_PKG_F_BLOCKHASH | DFOTA_PKG_F_DEVTABLE | DFOTA_PKG_F_RUNS |
              DFOTA_PKG_F_BLOCKWIN | DFOTA_PKG_F_SAVED)))
        return 0;
    if ((f & DFOTA_PKG_F_BLOCKHASH) && (f & DFOTA_PKG_F_DEVTABLE))
        return 0;
    if ((f & DFOTA_PKG_F_BACKWARD) && (f & DFOTA_PKG_F_RUNS))
        return 0;
    return !(f & (DFOTA_PKG_F_BLOCKHASH4 | DFOTA_PKG_F_BLOCKSTATE)) || (f & DFOTA_PKG_F_BLOCKHASH);
}

/* A payload always holds at least the range coder's five bytes, and the
 * block digest chain (one entry per sector block) after them. */
static int payload_fits(const struct dfota_pkg_header *h)
{
    return (uint64_t)h->payload_size < 5u + dfota_pkg_table_size(h) ? DFOTA_ERR_HEADER : DFOTA_OK;
}

/* Text fields (product id, versions): printable ASCII. */
static int printable(const uint8_t *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7E)
            return 0;
    return 1;
}

/* strnlen, which not every C library of a device has. */
static uint32_t str_len(const char *s)
{
    uint32_t n = 0;
    while (n < DFOTA_PKG_ID_LEN && s[n])
        n++;
    return n;
}

/* A string a header can carry: shorter than DFOTA_PKG_ID_LEN, printable. */
static int str_ok(const char *s)
{
    uint32_t n = str_len(s);
    return n < DFOTA_PKG_ID_LEN && printable((const uint8_t *)s, n);
}

/* A NUL-padded text field: printable ASCII, then only NULs. */
static int get_id(char *dst, const uint8_t *src)
{
    unsigned i, end = 0;

    while (end < DFOTA_PKG_ID_LEN && src[end])
        end++;
    if (end == DFOTA_PKG_ID_LEN)
        return DFOTA_ERR_HEADER;        /* no terminating NUL */
    if (!printable(src, end))
        return DFOTA_ERR_HEADER;
    for (i = end; i < DFOTA_PKG_ID_LEN; i++)
        if (src[i])
            return DFOTA_ERR_HEADER;
    memcpy(dst, src, end);
    dst[end] = 0;
    return DFOTA_OK;
}

static int put_id(uint8_t *dst, const char *src)
{
    if (!str_ok(src))
        return DFOTA_ERR_ARG;
    memset(dst, 0, DFOTA_PKG_ID_LEN);
    memcpy(dst, src, str_len(src));
    return DFOTA_OK;
}

/* An A/B-only build of the library (DFOTA_CFG_INPLACE 0) reads no write
 * order: it refuses every in-place package anyway (DFOTA_ERR_LAYOUT). */
#if !defined(DFOTA_CFG_INPLACE) || DFOTA_CFG_INPLACE
#define PKG_RUNS 1
#else
#define PKG_RUNS 0
#endif

/* In place: the write order holds every sector exactly once, in at most
 * DFOTA_MAX_RUNS runs of at least one sector each (so, all inside the
 * image and adding up to its sector count, pairwise apart). */
static int runs_ok(const struct dfota_pkg_header *h)
{
    uint32_t n = dz_block_count(h->dst_size, h->sector_size), sum = 0, i, j;
    const struct dfota_pkg_run *r = h->runs;

    if (h->nruns < 1 || h->nruns > DFOTA_MAX_RUNS)
        return 0;
    for (i = 0; i < h->nruns; i++) {
        if (r[i].n < 1 || r[i].first >= n || r[i].n > n - r[i].first)
            return 0;
        sum += r[i].n;
        for (j = 0; j < i; j++)
            if (r[i].first < r[j].first + r[j].n && r[j].first < r[i].first + r[i].n)
                return 0;
    }
    return sum == n;
}

/* DFOTA_PKG_F_SAVED: 1 to DFOTA_MAX_SAVED sectors, ascending, each one the
 * target overwrites (a source sector beyond the target is never written). */
static int saved_ok(const struct dfota_pkg_header *h)
{
    uint32_t n = dz_block_count(h->dst_size, h->sector_size), i;
    if (h->nsaved < 1 || h->nsaved > DFOTA_MAX_SAVED)
        return 0;
    for (i = 0; i < h->nsaved; i++)
        if (h->saved[i] >= n || (i && h->saved[i] <= h->saved[i - 1]))
            return 0;
    return 1;
}

/* Without DFOTA_PKG_F_RUNS an in-place header's order is one run. */
static void one_run(struct dfota_pkg_header *h)
{
    if (!PKG_RUNS || !(h->flags & DFOTA_PKG_F_INPLACE) || (h->flags & DFOTA_PKG_F_RUNS))
        return;
    h->nruns = 1;
    dz_one_run(&h->runs[0], h->dst_size, h->sector_size, (h->flags & DFOTA_PKG_F_BACKWARD) != 0);
}

static int parse_v1(struct dfota_pkg_header *h, const uint8_t *raw, size_t len)
{
    int rc;

    if (len < DFOTA_V1_OFF_FLAGS)
        return DFOTA_ERR_SIZE;
    memset(h, 0, sizeof *h);
    h->format_version = dfota_le16(raw + DFOTA_V1_OFF_FORMAT_VERSION);
    h->header_size = dfota_le16(raw + DFOTA_V1_OFF_HEADER_SIZE);
    if (h->format_version != DFOTA_PKG_FORMAT_V1)
        return DFOTA_ERR_VERSION;
    if (h->header_size != DFOTA_PKG_V1_HEADER_SIZE)
        return DFOTA_ERR_HEADER;
    if (len < DFOTA_PKG_V1_HEADER_SIZE)
        return DFOTA_ERR_SIZE;
    h->flags = dfota_le32(raw + DFOTA_V1_OFF_FLAGS);
    if (!flags_ok(h->flags) || (h->flags & (DFOTA_PKG_F_RUNS | DFOTA_PKG_F_BLOCKWIN | DFOTA_PKG_F_SAVED)))
        return DFOTA_ERR_HEADER;             /* both are format 2 only */
    if ((rc = get_id(h->product, raw + DFOTA_V1_OFF_PRODUCT)) ||
        (rc = get_id(h->src_version, raw + DFOTA_V1_OFF_SRC_VERSION)) ||
        (rc = get_id(h->dst_version, raw + DFOTA_V1_OFF_DST_VERSION)))
        return rc;
    h->src_size = dfota_le32(raw + DFOTA_V1_OFF_SRC_SIZE);
    memcpy(h->src_sha256, raw + DFOTA_V1_OFF_SRC_SHA256, DFOTA_SHA256_LEN);
    h->dst_size = dfota_le32(raw + DFOTA_V1_OFF_DST_SIZE);
    memcpy(h->dst_sha256, raw + DFOTA_V1_OFF_DST_SHA256, DFOTA_SHA256_LEN);
    h->algorithm = raw[DFOTA_V1_OFF_ALGORITHM];
    h->coder = raw[DFOTA_V1_OFF_CODER];
    h->lag = raw[DFOTA_V1_OFF_LAG];
    h->sector_size = dfota_le32(raw + DFOTA_V1_OFF_SECTOR_SIZE);
    h->decoder_ram = dfota_le32(raw + DFOTA_V1_OFF_DECODER_RAM);
    h->payload_size = dfota_le32(raw + DFOTA_V1_OFF_PAYLOAD_SIZE);
    memcpy(h->payload_sha256, raw + DFOTA_V1_OFF_PAYLOAD_SHA256, DFOTA_SHA256_LEN);
    h->security_counter = dfota_le32(raw + DFOTA_V1_OFF_SECURITY_CTR);
    h->stream_crc32 = dfota_le32(raw + DFOTA_V1_OFF_STREAM_CRC32);
    memcpy(h->key_id, raw + DFOTA_V1_OFF_KEY_ID, DFOTA_KEY_ID_LEN);
    memcpy(h->signature, raw + DFOTA_V1_OFF_SIGNATURE, DFOTA_SIG_LEN);

    /* a codec this build does not decode (DFOTA_CFG_DZ1/DZ2) is unknown here */
    if (!dfota_patch_supported(h->algorithm) || h->coder != DFOTA_CODER_RC1)
        return DFOTA_ERR_ALGORITHM;
    if (raw[DFOTA_V1_OFF_RESERVED] != 0 || h->lag > DFOTA_MAX_LAG)
        return DFOTA_ERR_HEADER;
    if (h->flags & DFOTA_PKG_F_INPLACE) {
        /* In place works in whole sectors: a power of two, at least 256. */
        if (h->sector_size < 256 || (h->sector_size & (h->sector_size - 1)))
            return DFOTA_ERR_HEADER;
    } else if (h->sector_size != 0 || h->lag != 0) {
        return DFOTA_ERR_HEADER;
    }
    one_run(h);
    return payload_fits(h);
}

uint64_t dfota_pkg_table_size(const struct dfota_pkg_header *h)
{
    uint32_t n;
    if (!(h->flags & DFOTA_PKG_F_BLOCKHASH) || !h->sector_size)
        return 0;
    /* 32-bit division only (no libgcc 64-bit division on Cortex-M) */
    n = h->dst_size / h->sector_size + (h->dst_size % h->sector_size != 0);
    return (uint64_t)n * dfota_pkg_chain_entry_len(h);
}

int dfota_pkg_check_size(const struct dfota_pkg_header *h, uint64_t pkg_len)
{
    return pkg_len == (uint64_t)h->header_size + h->payload_size ? DFOTA_OK : DFOTA_ERR_SIZE;
}

static int write_v1(const struct dfota_pkg_header *h, uint8_t *raw)
{
    int rc;

    if (h->flags & (DFOTA_PKG_F_RUNS | DFOTA_PKG_F_BLOCKWIN | DFOTA_PKG_F_SAVED))
        return DFOTA_ERR_ARG;            /* format 2 only */
    memset(raw, 0, DFOTA_PKG_V1_HEADER_SIZE);
    memcpy(raw + DFOTA_V1_OFF_MAGIC, DFOTA_PKG_MAGIC, DFOTA_PKG_MAGIC_LEN);
    dfota_put_le16(raw + DFOTA_V1_OFF_FORMAT_VERSION, DFOTA_PKG_FORMAT_V1);
    dfota_put_le16(raw + DFOTA_V1_OFF_HEADER_SIZE, DFOTA_PKG_V1_HEADER_SIZE);
    dfota_put_le32(raw + DFOTA_V1_OFF_FLAGS, h->flags);
    if ((rc = put_id(raw + DFOTA_V1_OFF_PRODUCT, h->product)) ||
        (rc = put_id(raw + DFOTA_V1_OFF_SRC_VERSION, h->src_version)) ||
        (rc = put_id(raw + DFOTA_V1_OFF_DST_VERSION, h->dst_version)))
        return rc;
    dfota_put_le32(raw + DFOTA_V1_OFF_SRC_SIZE, h->src_size);
    memcpy(raw + DFOTA_V1_OFF_SRC_SHA256, h->src_sha256, DFOTA_SHA256_LEN);
    dfota_put_le32(raw + DFOTA_V1_OFF_DST_SIZE, h->dst_size);
    memcpy(raw + DFOTA_V1_OFF_DST_SHA256, h->dst_sha256, DFOTA_SHA256_LEN);
    raw[DFOTA_V1_OFF_ALGORITHM] = h->algorithm;
    raw[DFOTA_V1_OFF_CODER] = h->coder;
    if (h->lag > DFOTA_MAX_LAG)
        return DFOTA_ERR_ARG;
    raw[DFOTA_V1_OFF_LAG] = h->lag;
    dfota_put_le32(raw + DFOTA_V1_OFF_SECTOR_SIZE, h->sector_size);
    dfota_put_le32(raw + DFOTA_V1_OFF_DECODER_RAM, h->decoder_ram);
    dfota_put_le32(raw + DFOTA_V1_OFF_PAYLOAD_SIZE, h->payload_size);
    memcpy(raw + DFOTA_V1_OFF_PAYLOAD_SHA256, h->payload_sha256, DFOTA_SHA256_LEN);
    dfota_put_le32(raw + DFOTA_V1_OFF_SECURITY_CTR, h->security_counter);
    dfota_put_le32(raw + DFOTA_V1_OFF_STREAM_CRC32, h->stream_crc32);
    memcpy(raw + DFOTA_V1_OFF_KEY_ID, h->key_id, DFOTA_KEY_ID_LEN);
    memcpy(raw + DFOTA_V1_OFF_SIGNATURE, h->signature, DFOTA_SIG_LEN);
    return DFOTA_OK;
}

/* ---- format version 2 ------------------------------------------------------ */

/* A reader over [raw, raw + len): the first error sticks. */
struct rd {
    const uint8_t *p;
    size_t pos, len;
    int rc;
};

static const uint8_t *take(struct rd *r, size_t n)
{
    const uint8_t *q;
    if (r->rc)
        return NULL;
    if (r->len - r->pos < n) {
        r->rc = DFOTA_ERR_SIZE;          /* the header runs past the bytes given */
        return NULL;
    }
    q = r->p + r->pos;
    r->pos += n;
    return q;
}

static void get_bytes(struct rd *r, uint8_t *dst, size_t n)
{
    const uint8_t *q = take(r, n);
    if (q)
        memcpy(dst, q, n);
}

static uint8_t get_u8(struct rd *r)
{
    const uint8_t *q = take(r, 1);
    return q ? *q : 0;
}

/* Unsigned LEB128 of a 32-bit value: 7 bits a byte, low first, bit 7 set
 * on every byte but the last. At most 5 bytes, minimal (no high zero
 * byte), no value above 2^32 - 1: else DFOTA_ERR_HEADER. */
static uint32_t get_varint(struct rd *r)
{
    uint32_t v = 0;
    unsigned i;
    for (i = 0; i < 5; i++) {
        const uint8_t *q = take(r, 1);
        if (!q)
            return 0;
        if (i == 4 && *q > 0x0F)
            break;                        /* more than 32 bits, or a sixth byte */
        v |= (uint32_t)(*q & 0x7F) << (7 * i);
        if (!(*q & 0x80)) {
            if (i && !*q)
                break;                    /* not minimal */
            return v;
        }
    }
    if (!r->rc)
        r->rc = DFOTA_ERR_HEADER;
    return 0;
}

/* A length byte (at most 31), then that many bytes of 0x20..0x7E. */
static void get_str(struct rd *r, char *dst)
{
    uint8_t n = get_u8(r);
    const uint8_t *q;

    dst[0] = 0;
    if (!r->rc && n >= DFOTA_PKG_ID_LEN)
        r->rc = DFOTA_ERR_HEADER;
    if (!(q = take(r, n)))
        return;
    if (!printable(q, n)) {
        r->rc = DFOTA_ERR_HEADER;
        return;
    }
    memcpy(dst, q, n);
    dst[n] = 0;
}

static int parse_v2(struct dfota_pkg_header *h, const uint8_t *raw, size_t len)
{
    struct rd r = { raw, DFOTA_V2_OFF_FLAGS, len, DFOTA_OK };

    h->format_version = DFOTA_PKG_FORMAT_V2;
    h->flags = get_varint(&r);
    if (r.rc)
        return r.rc;
    if (!flags_ok(h->flags))
        return DFOTA_ERR_HEADER;
    get_str(&r, h->product);
    get_str(&r, h->src_version);
    h->src_size = get_varint(&r);
    get_bytes(&r, h->src_sha256, DFOTA_SHA256_LEN);
    get_str(&r, h->dst_version);
    h->dst_size = get_varint(&r);
    get_bytes(&r, h->dst_sha256, DFOTA_SHA256_LEN);
    h->algorithm = get_u8(&r);
    h->coder = get_u8(&r);
    if (r.rc)
        return r.rc;
    /* a codec this build does not decode (DFOTA_CFG_DZ1/DZ2) is unknown here */
    if (!dfota_patch_supported(h->algorithm) || h->coder != DFOTA_CODER_RC1)
        return DFOTA_ERR_ALGORITHM;
    if (h->flags & DFOTA_PKG_F_INPLACE) {
        uint8_t shift = get_u8(&r);
        h->lag = get_u8(&r);
        if (!r.rc && (shift < 8 || shift > 31 || h->lag > DFOTA_MAX_LAG))
            return DFOTA_ERR_HEADER;
        h->sector_size = (uint32_t)1 << (shift & 31);
        {
            const uint8_t *q = take(&r, 4);
            h->stream_crc32 = q ? dfota_le32(q) : 0;
        }
        if (!PKG_RUNS && (h->flags & DFOTA_PKG_F_RUNS))
            return DFOTA_ERR_LAYOUT;
        if (PKG_RUNS && (h->flags & DFOTA_PKG_F_RUNS)) {
            uint32_t i, v;
            h->nruns = get_u8(&r);
            for (i = 0; i < h->nruns && i < DFOTA_MAX_RUNS; i++) {
                h->runs[i].first = get_varint(&r);
                v = get_varint(&r);
                h->runs[i].n = v >> 1;
                h->runs[i].back = (uint8_t)(v & 1u);
            }
            if (!r.rc && !runs_ok(h))
                return DFOTA_ERR_HEADER;
        }
        if (!PKG_RUNS && (h->flags & DFOTA_PKG_F_SAVED))
            return DFOTA_ERR_LAYOUT;
        if (PKG_RUNS && (h->flags & DFOTA_PKG_F_SAVED)) {
            uint32_t i;
            h->nsaved = get_u8(&r);
            for (i = 0; i < h->nsaved && i < DFOTA_MAX_SAVED; i++)
                h->saved[i] = get_varint(&r);
            if (!r.rc && !saved_ok(h))
                return DFOTA_ERR_HEADER;
        }
        one_run(h);
    }
    h->decoder_ram = get_varint(&r);
    h->payload_size = get_varint(&r);
    get_bytes(&r, h->payload_sha256, DFOTA_SHA256_LEN);
    h->security_counter = get_varint(&r);
    get_bytes(&r, h->key_id, DFOTA_KEY_ID_LEN);
    get_bytes(&r, h->signature, DFOTA_SIG_LEN);
    if (r.rc)
        return r.rc;
    if (r.pos > DFOTA_PKG_HEADER_MAX)
        return DFOTA_ERR_HEADER;          /* (only runs can take it there) */
    h->header_size = (uint16_t)r.pos;
    return payload_fits(h);
}

int dfota_pkg_parse(struct dfota_pkg_header *h, const uint8_t *raw, size_t len)
{
    if (len < DFOTA_PKG_MAGIC_LEN || memcmp(raw, DFOTA_PKG_MAGIC, DFOTA_PKG_MAGIC_LEN) != 0)
        return DFOTA_ERR_MAGIC;
    memset(h, 0, sizeof *h);
    /* Byte 8 names the version: v1 has a u16 there (01 00), v2 one byte. */
    if (len > DFOTA_V2_OFF_FORMAT_VERSION && raw[DFOTA_V2_OFF_FORMAT_VERSION] == DFOTA_PKG_FORMAT_V2)
        return parse_v2(h, raw, len);
    return parse_v1(h, raw, len);
}

static unsigned varint_len(uint32_t v)
{
    unsigned n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *put_varint(uint8_t *p, uint32_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static uint8_t *put_str(uint8_t *p, const char *s)
{
    size_t n = str_len(s);
    *p++ = (uint8_t)n;
    memcpy(p, s, n);
    return p + n;
}

uint32_t dfota_pkg_header_size(const struct dfota_pkg_header *h)
{
    uint32_t runs = 0, i;

    if (h->format_version == DFOTA_PKG_FORMAT_V1)
        return DFOTA_PKG_V1_HEADER_SIZE;
    if (h->format_version != DFOTA_PKG_FORMAT_V2)
        return 0;
    if ((h->flags & DFOTA_PKG_F_INPLACE) && (h->flags & DFOTA_PKG_F_RUNS)) {
        runs = 1;
        for (i = 0; i < h->nruns && i < DFOTA_MAX_RUNS; i++)
            runs += varint_len(h->runs[i].first) + varint_len(h->runs[i].n * 2u + h->runs[i].back);
    }
    if ((h->flags & DFOTA_PKG_F_INPLACE) && (h->flags & DFOTA_PKG_F_SAVED)) {
        runs++;
        for (i = 0; i < h->nsaved && i < DFOTA_MAX_SAVED; i++)
            runs += varint_len(h->saved[i]);
    }
    return runs + 8 + 1 + varint_len(h->flags) +
           1 + str_len(h->product) +
           1 + str_len(h->src_version) + varint_len(h->src_size) +
           DFOTA_SHA256_LEN + 1 + str_len(h->dst_version) +
           varint_len(h->dst_size) + DFOTA_SHA256_LEN + 2 +
           ((h->flags & DFOTA_PKG_F_INPLACE) ? 6u : 0u) + varint_len(h->decoder_ram) +
           varint_len(h->payload_size) + DFOTA_SHA256_LEN + varint_len(h->security_counter) +
           DFOTA_KEY_ID_LEN + DFOTA_SIG_LEN;
}

static int write_v2(const struct dfota_pkg_header *h, uint8_t *raw)
{
    uint8_t *p = raw;
    unsigned shift = 0;

    if (!str_ok(h->product) || !str_ok(h->src_version) || !str_ok(h->dst_version) ||
        h->lag > DFOTA_MAX_LAG || !flags_ok(h->flags) ||
        dfota_pkg_header_size(h) > DFOTA_PKG_HEADER_MAX)
        return DFOTA_ERR_ARG;
    if (h->flags & DFOTA_PKG_F_INPLACE) {
        if (h->sector_size < 256 || (h->sector_size & (h->sector_size - 1)) ||
            ((h->flags & DFOTA_PKG_F_RUNS) && !runs_ok(h)) ||
            ((h->flags & DFOTA_PKG_F_SAVED) && !saved_ok(h)))
            return DFOTA_ERR_ARG;
        while (((uint32_t)1 << shift) != h->sector_size)
            shift++;
    } else if (h->sector_size || h->lag || h->stream_crc32) {
        return DFOTA_ERR_ARG;             /* an A/B header has no place for them */
    }
    memcpy(p, DFOTA_PKG_MAGIC, DFOTA_PKG_MAGIC_LEN);
    p += DFOTA_PKG_MAGIC_LEN;
    *p++ = DFOTA_PKG_FORMAT_V2;
    p = put_varint(p, h->flags);
    p = put_str(p, h->product);
    p = put_str(p, h->src_version);
    p = put_varint(p, h->src_size);
    memcpy(p, h->src_sha256, DFOTA_SHA256_LEN);
    p += DFOTA_SHA256_LEN;
    p = put_str(p, h->dst_version);
    p = put_varint(p, h->dst_size);
    memcpy(p, h->dst_sha256, DFOTA_SHA256_LEN);
    p += DFOTA_SHA256_LEN;
    *p++ = h->algorithm;
    *p++ = h->coder;
    if (h->flags & DFOTA_PKG_F_INPLACE) {
        *p++ = (uint8_t)shift;
        *p++ = h->lag;
        dfota_put_le32(p, h->stream_crc32);
        p += 4;
        if (h->flags & DFOTA_PKG_F_RUNS) {
            uint32_t i;
            *p++ = (uint8_t)h->nruns;
            for (i = 0; i < h->nruns; i++) {
                p = put_varint(p, h->runs[i].first);
                p = put_varint(p, h->runs[i].n * 2u + h->runs[i].back);
            }
        }
        if (h->flags & DFOTA_PKG_F_SAVED) {
            uint32_t i;
            *p++ = (uint8_t)h->nsaved;
            for (i = 0; i < h->nsaved; i++)
                p = put_varint(p, h->saved[i]);
        }
    }
    p = put_varint(p, h->decoder_ram);
    p = put_varint(p, h->payload_size);
    memcpy(p, h->payload_sha256, DFOTA_SHA256_LEN);
    p += DFOTA_SHA256_LEN;
    p = put_varint(p, h->security_counter);
    memcpy(p, h->key_id, DFOTA_KEY_ID_LEN);
    p += DFOTA_KEY_ID_LEN;
    memcpy(p, h->signature, DFOTA_SIG_LEN);
    return DFOTA_OK;
}

int dfota_pkg_write(const struct dfota_pkg_header *h, uint8_t *raw)
{
    if (h->format_version == DFOTA_PKG_FORMAT_V1)
        return write_v1(h, raw);
    if (h->format_version == DFOTA_PKG_FORMAT_V2)
        return write_v2(h, raw);
    return DFOTA_ERR_ARG;
}
