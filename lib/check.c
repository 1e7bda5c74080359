/* The checks before any write (docs/engine.md, "The order of checks"):
 * the header, read once, then the source, the payload and the signature
 * over the very bytes whose digest the journal will name. */
#include "engine_priv.h"

int dfota_pkg_check_signature(const struct dfota_pkg_header *h, const uint8_t *raw,
                              const uint8_t *pubkey, const struct dfota_crypto *crypto)
{
    uint8_t kid[32];

    if (!pubkey)
        return DFOTA_OK;
    dfota_sha256(pubkey, DFOTA_PUBKEY_LEN, kid);
    if (memcmp(kid, h->key_id, DFOTA_KEY_ID_LEN) != 0)
        return DFOTA_ERR_SIGNATURE;      /* unsigned, or signed by another key */
    /* h from dfota_pkg_parse: header_size 312 or at least the v2 minimum */
    if (h->header_size < DFOTA_PKG_V2_HEADER_MIN || !crypto ||
        crypto->ed25519_verify(crypto->ctx, h->signature, raw, dfota_pkg_signed_size(h),
                                          pubkey) != 0)
        return DFOTA_ERR_SIGNATURE;
    return DFOTA_OK;
}

int dfota__hash_flash(struct dfota_engine *e, uint32_t addr, uint32_t len, uint8_t out[32],
                      enum dfota_phase ph, uint32_t cap_off, uint8_t *cap, uint32_t cap_len)
{
    struct dfota_sha256 c;
    uint32_t off;
    int rc;

    dfota_sha256_init(&c);
    for (off = 0; off < len;) {
        uint32_t n = len - off;
        if (n > DFOTA_IO_BUF)
            n = DFOTA_IO_BUF;
        if ((rc = dfota__read(e, addr + off, e->buf, n)))
            return rc;
        dfota_sha256_update(&c, e->buf, n);
        /* the bytes of [cap_off, cap_off + cap_len) in this piece */
        if (cap && cap_off < off + n && off < cap_off + cap_len) {
            uint32_t a = cap_off > off ? cap_off : off;
            uint32_t b = cap_off + cap_len < off + n ? cap_off + cap_len : off + n;
            memcpy(cap + (a - cap_off), e->buf + (a - off), b - a);
        }
        off += n;
        if ((off & 0xFFFF) == 0 && ph == DFOTA_PHASE_VERIFY)
            dfota__progress(e, ph, off, len);
    }
    dfota_sha256_final(&c, out);
    return DFOTA_OK;
}

/* strcmp's equality, without pulling in the C library's. */
static int same_str(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

int dfota__load_header(struct dfota_engine *e, uint8_t raw[DFOTA_PKG_HEADER_MAX],
                       uint8_t digest[32])
{
    const struct dfota_layout *l = LAYOUT(e);
    struct dfota_pkg_header *h = &e->hdr;
    uint32_t n = l->staging_size < DFOTA_PKG_HEADER_MAX ? l->staging_size : DFOTA_PKG_HEADER_MAX;
    int rc;

    /* As many bytes as the longest header (or staging holds): a v2 header
     * is shorter, and what follows it in raw (payload, or whatever staging
     * holds after a small package) is not part of it. */
    if (l->staging_size < DFOTA_PKG_V2_HEADER_MIN)
        return DFOTA_ERR_ARG;             /* no package fits */
    if ((rc = dfota__read(e, l->staging, raw, n)))
        return rc;
    if ((rc = dfota_pkg_parse(h, raw, n)))
        return rc;
    dfota_sha256(raw, h->header_size, digest);
    if ((uint64_t)h->header_size + h->payload_size > l->staging_size)
        return DFOTA_ERR_SIZE;
    if (e->cfg->product && e->cfg->product[0] && !same_str(e->cfg->product, h->product))
        return DFOTA_ERR_PRODUCT;
    /* The package must be made for this layout and sector size. */
    if (IS_INPLACE(e)) {
        if (!(h->flags & DFOTA_PKG_F_INPLACE) || h->sector_size != FLASH(e)->sector_size ||
            (uint32_t)(h->lag + 2) * h->sector_size > l->scratch_size)
            return DFOTA_ERR_LAYOUT;
        /* staging holds the package, the saved sectors' copies and the
         * digest table its dry run writes after it (package-format.md) */
        if ((uint64_t)h->header_size + h->payload_size + dfota_saved_size(h) +
                dfota_devtable_size(h, FLASH(e)->prog_size) >
            l->staging_size / h->sector_size * h->sector_size)
            return DFOTA_ERR_NOSPACE;
    } else if (h->flags & DFOTA_PKG_F_INPLACE) {
        return DFOTA_ERR_LAYOUT;
    }
    if (h->src_size > l->slot_size || h->dst_size > l->slot_size)
        return DFOTA_ERR_NOSPACE;
    /* A package made for a bigger decoder (the 16k profile on a 4k build). */
    if (h->decoder_ram > DFOTA_PATCH_RAM)
        return DFOTA_ERR_RAM;
    if (h->security_counter < e->cfg->security_counter)
        return DFOTA_ERR_DOWNGRADE;
    return DFOTA_OK;
}

int dfota__check_pkg(struct dfota_engine *e, const uint8_t raw[DFOTA_PKG_HEADER_MAX], int fresh)
{
    const struct dfota_pkg_header *h = &e->hdr;
    uint8_t d[32];
    int rc;

    /* The source first: a package for other firmware is "mismatch", not
     * "invalid" (BC20 254 vs 255); then payload and signature. */
    if (fresh) {
        if ((rc = dfota__hash_flash(e, dfota__src_addr(e), h->src_size, d, DFOTA_PHASE_CHECK, 0,
                                    NULL, 0)))
            return rc;
        if (memcmp(d, h->src_sha256, 32) != 0)
            return DFOTA_ERR_SOURCE;
    }
    /* In place with a block table, the first entry (the digest block 0
     * must give) is taken from the very bytes that are hashed here; a
     * 4-byte entry is followed by zeros in e->chain. */
    if (fresh)
        memset(e->chain, 0, sizeof e->chain);
    if ((rc = dfota__hash_flash(e, LAYOUT(e)->staging + h->header_size, h->payload_size, d,
                                DFOTA_PHASE_CHECK, dfota__stream_size(h),
                                fresh && (h->flags & DFOTA_PKG_F_BLOCKHASH) ? e->chain : NULL,
                                dfota_pkg_chain_entry_len(h))))
        return rc;
    if (memcmp(d, h->payload_sha256, 32) != 0)
        return DFOTA_ERR_PAYLOAD;
    /* The signature over the header bytes whose digest was taken. */
    return dfota_pkg_check_signature(h, raw, e->cfg->pubkey, e->cfg->crypto) == DFOTA_OK
               ? DFOTA_OK : DFOTA_ERR_SIGNATURE;
}
