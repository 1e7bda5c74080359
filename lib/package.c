/* Package header parsing and writing: docs/package-format.md. */
#include <string.h>
#include "dfota/error.h"
#include "dfota/package.h"
#include "le.h"

/* A NUL-padded text field: printable ASCII, then only NULs. */
static int get_id(char *dst, const uint8_t *src)
{
    unsigned i, end = 0;

    while (end < DFOTA_PKG_ID_LEN && src[end])
        end++;
    if (end == DFOTA_PKG_ID_LEN)
        return DFOTA_ERR_HEADER;        /* no terminating NUL */
    for (i = 0; i < end; i++)
        if (src[i] < 0x20 || src[i] > 0x7E)
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
    size_t n = strlen(src), i;

    if (n >= DFOTA_PKG_ID_LEN)
        return DFOTA_ERR_ARG;
    for (i = 0; i < n; i++)
        if ((uint8_t)src[i] < 0x20 || (uint8_t)src[i] > 0x7E)
            return DFOTA_ERR_ARG;
    memset(dst, 0, DFOTA_PKG_ID_LEN);
    memcpy(dst, src, n);
    return DFOTA_OK;
}

int dfota_pkg_parse(struct dfota_pkg_header *h, const uint8_t *raw, size_t len)
{
    int rc;

    if (len < DFOTA_PKG_MAGIC_LEN || memcmp(raw, DFOTA_PKG_MAGIC, DFOTA_PKG_MAGIC_LEN) != 0)
        return DFOTA_ERR_MAGIC;
    if (len < DFOTA_OFF_FLAGS)
        return DFOTA_ERR_SIZE;
    memset(h, 0, sizeof *h);
    h->format_version = dfota_le16(raw + DFOTA_OFF_FORMAT_VERSION);
    h->header_size = dfota_le16(raw + DFOTA_OFF_HEADER_SIZE);
    if (h->format_version != DFOTA_PKG_FORMAT_VERSION)
        return DFOTA_ERR_VERSION;
    if (h->header_size != DFOTA_PKG_HEADER_SIZE)
        return DFOTA_ERR_HEADER;
    if (len < DFOTA_PKG_HEADER_SIZE)
        return DFOTA_ERR_SIZE;
    h->flags = dfota_le32(raw + DFOTA_OFF_FLAGS);
    if (h->flags & ~DFOTA_PKG_F_KNOWN)
        return DFOTA_ERR_HEADER;
    if ((rc = get_id(h->product, raw + DFOTA_OFF_PRODUCT)) ||
        (rc = get_id(h->src_version, raw + DFOTA_OFF_SRC_VERSION)) ||
        (rc = get_id(h->dst_version, raw + DFOTA_OFF_DST_VERSION)))
        return rc;
    h->src_size = dfota_le32(raw + DFOTA_OFF_SRC_SIZE);
    memcpy(h->src_sha256, raw + DFOTA_OFF_SRC_SHA256, DFOTA_SHA256_LEN);
    h->dst_size = dfota_le32(raw + DFOTA_OFF_DST_SIZE);
    memcpy(h->dst_sha256, raw + DFOTA_OFF_DST_SHA256, DFOTA_SHA256_LEN);
    h->algorithm = raw[DFOTA_OFF_ALGORITHM];
    h->coder = raw[DFOTA_OFF_CODER];
    h->lag = raw[DFOTA_OFF_LAG];
    h->sector_size = dfota_le32(raw + DFOTA_OFF_SECTOR_SIZE);
    h->decoder_ram = dfota_le32(raw + DFOTA_OFF_DECODER_RAM);
    h->payload_size = dfota_le32(raw + DFOTA_OFF_PAYLOAD_SIZE);
    memcpy(h->payload_sha256, raw + DFOTA_OFF_PAYLOAD_SHA256, DFOTA_SHA256_LEN);
    h->security_counter = dfota_le32(raw + DFOTA_OFF_SECURITY_CTR);
    h->stream_crc32 = dfota_le32(raw + DFOTA_OFF_STREAM_CRC32);
    memcpy(h->key_id, raw + DFOTA_OFF_KEY_ID, DFOTA_KEY_ID_LEN);
    memcpy(h->signature, raw + DFOTA_OFF_SIGNATURE, DFOTA_SIG_LEN);

    if ((h->algorithm != DFOTA_ALG_DZ1 && h->algorithm != DFOTA_ALG_DZ2) || h->coder != DFOTA_CODER_RC1)
        return DFOTA_ERR_ALGORITHM;
    if (raw[DFOTA_OFF_RESERVED] != 0 || h->lag > DFOTA_MAX_LAG)
        return DFOTA_ERR_HEADER;
    if (h->flags & DFOTA_PKG_F_INPLACE) {
        /* In place works in whole sectors: a power of two, at least 256. */
        if (h->sector_size < 256 || (h->sector_size & (h->sector_size - 1)))
            return DFOTA_ERR_HEADER;
    } else if (h->sector_size != 0 || h->lag != 0 ||
               (h->flags & (DFOTA_PKG_F_BACKWARD | DFOTA_PKG_F_BLOCKHASH))) {
        return DFOTA_ERR_HEADER;
    }
    /* A payload always holds at least the range coder's five bytes, and
     * the block digest chain (one entry per sector block) after them. */
    if ((uint64_t)h->payload_size < 5u + dfota_pkg_table_size(h))
        return DFOTA_ERR_HEADER;
    return DFOTA_OK;
}

uint64_t dfota_pkg_table_size(const struct dfota_pkg_header *h)
{
    uint32_t n;
    if (!(h->flags & DFOTA_PKG_F_BLOCKHASH) || !h->sector_size)
        return 0;
    /* 32-bit division only (no libgcc 64-bit division on Cortex-M) */
    n = h->dst_size / h->sector_size + (h->dst_size % h->sector_size != 0);
    return (uint64_t)n * DFOTA_BLOCK_DIGEST_LEN;
}

int dfota_pkg_check_size(const struct dfota_pkg_header *h, uint64_t pkg_len)
{
    return pkg_len == (uint64_t)h->header_size + h->payload_size ? DFOTA_OK : DFOTA_ERR_SIZE;
}

int dfota_pkg_write(const struct dfota_pkg_header *h, uint8_t *raw)
{
    int rc;

    memset(raw, 0, DFOTA_PKG_HEADER_SIZE);
    memcpy(raw + DFOTA_OFF_MAGIC, DFOTA_PKG_MAGIC, DFOTA_PKG_MAGIC_LEN);
    dfota_put_le16(raw + DFOTA_OFF_FORMAT_VERSION, DFOTA_PKG_FORMAT_VERSION);
    dfota_put_le16(raw + DFOTA_OFF_HEADER_SIZE, DFOTA_PKG_HEADER_SIZE);
    dfota_put_le32(raw + DFOTA_OFF_FLAGS, h->flags);
    if ((rc = put_id(raw + DFOTA_OFF_PRODUCT, h->product)) ||
        (rc = put_id(raw + DFOTA_OFF_SRC_VERSION, h->src_version)) ||
        (rc = put_id(raw + DFOTA_OFF_DST_VERSION, h->dst_version)))
        return rc;
    dfota_put_le32(raw + DFOTA_OFF_SRC_SIZE, h->src_size);
    memcpy(raw + DFOTA_OFF_SRC_SHA256, h->src_sha256, DFOTA_SHA256_LEN);
    dfota_put_le32(raw + DFOTA_OFF_DST_SIZE, h->dst_size);
    memcpy(raw + DFOTA_OFF_DST_SHA256, h->dst_sha256, DFOTA_SHA256_LEN);
    raw[DFOTA_OFF_ALGORITHM] = h->algorithm;
    raw[DFOTA_OFF_CODER] = h->coder;
    if (h->lag > DFOTA_MAX_LAG)
        return DFOTA_ERR_ARG;
    raw[DFOTA_OFF_LAG] = h->lag;
    dfota_put_le32(raw + DFOTA_OFF_SECTOR_SIZE, h->sector_size);
    dfota_put_le32(raw + DFOTA_OFF_DECODER_RAM, h->decoder_ram);
    dfota_put_le32(raw + DFOTA_OFF_PAYLOAD_SIZE, h->payload_size);
    memcpy(raw + DFOTA_OFF_PAYLOAD_SHA256, h->payload_sha256, DFOTA_SHA256_LEN);
    dfota_put_le32(raw + DFOTA_OFF_SECURITY_CTR, h->security_counter);
    dfota_put_le32(raw + DFOTA_OFF_STREAM_CRC32, h->stream_crc32);
    memcpy(raw + DFOTA_OFF_KEY_ID, h->key_id, DFOTA_KEY_ID_LEN);
    memcpy(raw + DFOTA_OFF_SIGNATURE, h->signature, DFOTA_SIG_LEN);
    return DFOTA_OK;
}
