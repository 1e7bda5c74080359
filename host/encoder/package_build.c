/* A whole package: header, signature, payload (docs/package-format.md). */
#include <stdlib.h>
#include <string.h>
#include "dfota/delta.h"
#include "dfota/error.h"
#include "dfota/patch.h"
#include "dfota/sha256.h"
#include "encoder.h"
#include "host_port.h"

/* In place: the block digest chain after the DZ stream (package-format.md).
 * Entry i = SHA-256(block i || [S_i] || entry i+1) cut to L bytes (16, or 4
 * with DFOTA_PKG_F_BLOCKHASH4), over the blocks in production order, entry
 * n = L zero bytes; so the device checks each block as it is produced with
 * the entry before it, starting from entry 0, which the payload digest
 * (signed through the header) covers. With DFOTA_PKG_F_BLOCKSTATE, S_i is
 * the decoder's pending operation at the end of block i
 * (dfota_patch_pending), taken from the device's own decoder run here on
 * the stream. */
struct mem_io {
    const uint8_t *src, *stream;
    size_t src_len, stream_len;
    uint8_t *dst;            /* DFOTA_PKG_F_BLOCKWIN: the target stream decoded so far */
    uint32_t dst_made;
};

/* len bytes at off of an image of size n, or DFOTA_ERR_CORRUPT past its end */
static int mem_read(const uint8_t *img, size_t n, uint32_t off, uint8_t *buf, uint32_t len)
{
    if (off > n || len > n - off)
        return DFOTA_ERR_CORRUPT;
    memcpy(buf, img + off, len);
    return DFOTA_OK;
}

static int mem_payload(void *ctx, uint32_t off, uint8_t *buf, uint32_t len)
{
    const struct mem_io *m = ctx;
    return mem_read(m->stream, m->stream_len, off, buf, len);
}

static int mem_src(void *ctx, uint32_t off, uint8_t *buf, uint32_t len)
{
    const struct mem_io *m = ctx;
    return mem_read(m->src, m->src_len, off, buf, len);
}

/* In place the decoder reads target bytes back only with
 * DFOTA_PKG_F_BLOCKWIN, and only of its current block, which the device
 * has in flash (a scratch slot): here the target in stream order, as far
 * as the decoder produced it. */
static int mem_dst(void *ctx, uint32_t off, uint8_t *buf, uint32_t len)
{
    const struct mem_io *m = ctx;
    if (!m->dst || off > m->dst_made || len > m->dst_made - off)
        return DFOTA_ERR_CORRUPT;
    memcpy(buf, m->dst + off, len);
    return DFOTA_OK;
}

/* S_i of every block: the stream decoded block by block, each block
 * compared with the target (an encoder that disagrees with the decoder
 * fails here, not on a device). */
static int pending_states(const struct dfota_pkg_header *h, const uint8_t *src, size_t src_len,
                          const uint8_t *stream, size_t stream_len, const uint8_t *dst,
                          uint8_t *states)
{
    uint32_t n = dz_block_count(h->dst_size, h->sector_size), i;
    struct mem_io m = { src, stream, src_len, stream_len, NULL, 0 };
    struct dfota_patch_io io = { &m, mem_payload, mem_src, mem_dst, h->runs, h->nruns };
    struct dfota_patch *p = malloc(sizeof *p);
    uint8_t *buf = malloc(h->sector_size);
    int rc = p && buf ? dfota_patch_init(p, h) : DFOTA_ERR_ARG;

    if (!rc)
        p->st.payload_size = (uint32_t)stream_len;
    if (!rc && (h->flags & DFOTA_PKG_F_BLOCKWIN) && !(m.dst = malloc(h->dst_size + 1u)))
        rc = DFOTA_ERR_ARG;
    for (i = 0; i < n && !rc; i++) {
        uint32_t off, len, addr, k;
        dz_block(i, h->dst_size, h->sector_size, h->runs, h->nruns, &off,
                 &len, &addr);
        /* in calls of 256 bytes at most, as the engine's (DFOTA_IO_BUF):
         * read-backs of earlier calls are tried as on a device */
        for (k = 0; k < len && !rc; k += 256u) {
            uint32_t l = len - k < 256u ? len - k : 256u;
            rc = dfota_patch_decode(p, &io, buf + k, l);
            if (!rc && m.dst) {
                memcpy(m.dst + off + k, buf + k, l);
                m.dst_made = off + k + l;
            }
        }
        if (!rc && memcmp(buf, dst + addr, len) != 0)
            rc = DFOTA_ERR_CORRUPT;
        if (!rc)
            dfota_patch_pending(&p->st, states + (size_t)i * DFOTA_PATCH_PENDING_LEN);
    }
    free(m.dst);
    free(buf);
    free(p);
    return rc;
}

/* DFOTA_PKG_F_DEVTABLE: no chain to compute, but the stream is decoded
 * block by block as the device will, each block against the target (with
 * a library that has the payload's codec). */
static int decode_check(const struct dfota_pkg_header *h, const uint8_t *src, size_t src_len,
                        const uint8_t *stream, size_t stream_len, const uint8_t *dst)
{
    uint32_t n = dz_block_count(h->dst_size, h->sector_size);
    uint8_t *states;
    int rc;
    if (!dfota_patch_supported(h->algorithm))
        return DFOTA_OK;
    if (!(states = malloc((size_t)n * DFOTA_PATCH_PENDING_LEN + 1)))
        return DFOTA_ERR_ARG;
    rc = pending_states(h, src, src_len, stream, stream_len, dst, states);
    free(states);
    return rc;
}

static int block_chain(const struct dfota_pkg_header *h, const uint8_t *src, size_t src_len,
                       const uint8_t *stream, size_t stream_len, const uint8_t *dst,
                       uint8_t *table)
{
    uint32_t n = dz_block_count(h->dst_size, h->sector_size), i, l = dfota_pkg_chain_entry_len(h);
    uint8_t next[DFOTA_BLOCK_DIGEST_LEN], *states = NULL;
    int rc;

    if (!l)
        return DFOTA_OK;
    if (h->flags & DFOTA_PKG_F_BLOCKSTATE) {
        states = malloc((size_t)n * DFOTA_PATCH_PENDING_LEN + 1);
        if (!states)
            return DFOTA_ERR_ARG;
        if ((rc = pending_states(h, src, src_len, stream, stream_len, dst, states))) {
            free(states);
            return rc;
        }
    }
    memset(next, 0, sizeof next);
    for (i = n; i-- > 0;) {
        struct dfota_sha256 c;
        uint8_t d[32];
        uint32_t off, len, addr;
        dz_block(i, h->dst_size, h->sector_size, h->runs, h->nruns, &off,
                 &len, &addr);
        dfota_sha256_init(&c);
        dfota_sha256_update(&c, dst + addr, len);
        if (states)
            dfota_sha256_update(&c, states + (size_t)i * DFOTA_PATCH_PENDING_LEN,
                                DFOTA_PATCH_PENDING_LEN);
        dfota_sha256_update(&c, next, l);
        dfota_sha256_final(&c, d);
        memcpy(table + (size_t)i * l, d, l);
        memcpy(next, d, l);
    }
    free(states);
    return DFOTA_OK;
}

int dfota_package_build(const uint8_t *src, size_t src_len, const uint8_t *dst, size_t dst_len,
                        const struct dfota_diff_opts *opts, const struct dfota_pkg_meta *meta,
                        const uint8_t *sk, uint8_t **pkg, size_t *pkg_len,
                        struct dfota_diff_result *stats)
{
    struct dfota_pkg_header h;
    struct dfota_diff_result res;
    uint8_t *out;
    size_t table, hsize;
    int rc, win = 0, checked = 0;

    if (src_len > UINT32_MAX || dst_len > UINT32_MAX)
        return DFOTA_ERR_ARG;
    if (opts->block_digest && opts->block_digest != DFOTA_BLOCK_DIGEST_LEN4 &&
        opts->block_digest != DFOTA_BLOCK_DIGEST_LEN)
        return DFOTA_ERR_ARG;
    memset(&h, 0, sizeof h);
    h.format_version = (uint16_t)(meta->format_version ? meta->format_version
                                                       : DFOTA_PKG_FORMAT_VERSION);
    if (h.format_version != DFOTA_PKG_FORMAT_V1 && h.format_version != DFOTA_PKG_FORMAT_V2)
        return DFOTA_ERR_ARG;
    if (strlen(meta->product) >= DFOTA_PKG_ID_LEN || strlen(meta->src_version) >= DFOTA_PKG_ID_LEN ||
        strlen(meta->dst_version) >= DFOTA_PKG_ID_LEN)
        return DFOTA_ERR_ARG;
    strcpy(h.product, meta->product);
    strcpy(h.src_version, meta->src_version);
    strcpy(h.dst_version, meta->dst_version);
    h.security_counter = meta->security_counter;
    if (opts->phase)
        opts->phase(opts->progress_ctx, DFOTA_DIFF_HASH, 0, 1);
    h.src_size = (uint32_t)src_len;
    h.dst_size = (uint32_t)dst_len;
    dfota_host_sha256(src, src_len, h.src_sha256);
    dfota_host_sha256(dst, dst_len, h.dst_sha256);
    h.coder = DFOTA_CODER_RC1;

    {
        /* A write order in runs (DFOTA_PKG_F_RUNS) is for engines that have
         * the device's digest table too; a v1 header cannot hold one. So
         * with a block digest chain or v1, auto means the plain orders. */
        struct dfota_diff_opts o2 = *opts;
        /* Target copies over the whole current block (DFOTA_PKG_F_BLOCKWIN)
         * are for the same engines: format 2, the device's digest table. */
        if (o2.inplace && o2.window == DFOTA_WIN_AUTO)
            o2.window = o2.block_digest || h.format_version == DFOTA_PKG_FORMAT_V1 ? DFOTA_WIN_RING
                                                                                   : DFOTA_WIN_BLOCK;
        if (o2.inplace && o2.window == DFOTA_WIN_BLOCK && h.format_version == DFOTA_PKG_FORMAT_V1)
            return DFOTA_ERR_ARG;
        win = o2.inplace && o2.window == DFOTA_WIN_BLOCK;
        /* Saved source sectors (DFOTA_PKG_F_SAVED) likewise, and only with
         * the searched order (engines before runs apply the plain ones). */
        if (!o2.inplace || o2.direction != DFOTA_DIR_AUTO || o2.block_digest ||
            h.format_version == DFOTA_PKG_FORMAT_V1)
            o2.saved = -1;
        else if (o2.saved == 0)
            o2.saved = (int)DFOTA_MAX_SAVED;
        else if (o2.saved > (int)DFOTA_MAX_SAVED)
            return DFOTA_ERR_ARG;
        if (o2.inplace && o2.direction == DFOTA_DIR_AUTO &&
            (o2.block_digest || h.format_version == DFOTA_PKG_FORMAT_V1))
            o2.direction = DFOTA_DIR_PLAIN;
        if (o2.inplace && o2.direction == DFOTA_DIR_AUTO) {
            /* the runs' room: what the header leaves of DFOTA_PKG_HEADER_MAX
             * with its numbers at their longest */
            struct dfota_pkg_header t = h;
            uint32_t base;
            t.flags = DFOTA_PKG_F_INPLACE | DFOTA_PKG_F_DEVTABLE | (win ? DFOTA_PKG_F_BLOCKWIN : 0);
            t.sector_size = opts->sector_size;
            t.decoder_ram = t.payload_size = 0xFFFFFFFFu;
            if (o2.saved > 0) {
                /* (room for the saved sectors, at their longest) */
                uint32_t k;
                t.flags |= DFOTA_PKG_F_SAVED;
                t.nsaved = (uint32_t)o2.saved;
                for (k = 0; k < t.nsaved; k++)
                    t.saved[k] = opts->sector_size ? (uint32_t)(dst_len / opts->sector_size) : 0;
            }
            base = dfota_pkg_header_size(&t);
            o2.order_bytes = base < DFOTA_PKG_HEADER_MAX - 2 ? DFOTA_PKG_HEADER_MAX - base : 1;
        }
        rc = dfota_diff(src, src_len, dst, dst_len, &o2, &res);
    }
    if (rc)
        return rc;
    if (res.payload_size > UINT32_MAX - DFOTA_PKG_HEADER_MAX) {
        dfota_diff_result_free(&res);
        return DFOTA_ERR_ARG;
    }
    if (opts->phase)
        opts->phase(opts->progress_ctx, DFOTA_DIFF_SIGN, 0, 1);
    h.algorithm = res.algorithm;
    h.flags = res.flags;
    h.nruns = res.nruns;
    memcpy(h.runs, res.runs, sizeof h.runs);
    h.nsaved = res.nsaved;
    memcpy(h.saved, res.saved, sizeof h.saved);
    if (h.nsaved)
        h.flags |= DFOTA_PKG_F_SAVED;
    h.sector_size = res.sector_size;
    h.lag = (uint8_t)res.lag;
    /* v2 carries the stream CRC only in place, the one layout that checks it */
    h.stream_crc32 = h.format_version == DFOTA_PKG_FORMAT_V1 || (h.flags & DFOTA_PKG_F_INPLACE)
                         ? res.stream_crc32 : 0;
    h.decoder_ram = res.decoder_ram;
    if ((h.flags & DFOTA_PKG_F_INPLACE) && !opts->block_digest)
        h.flags |= DFOTA_PKG_F_DEVTABLE;
    else if (h.flags & DFOTA_PKG_F_INPLACE)
        h.flags |= DFOTA_PKG_F_BLOCKHASH |
                   (opts->block_digest == DFOTA_BLOCK_DIGEST_LEN ? 0 : DFOTA_PKG_F_BLOCKHASH4) |
                   /* (the end states come from the library's decoder: a
                    * library built without the payload's codec, as some
                    * tests link, cannot give them) */
                   (dfota_patch_supported(h.algorithm) ? DFOTA_PKG_F_BLOCKSTATE : 0);
    /* The header says DFOTA_PKG_F_BLOCKWIN only when the payload reads
     * beyond the ring, so that the dry run of every other package writes
     * nothing: the payload is decoded under the ring's rule, and if that
     * fails, it needs the flag (and is decoded again with it below). A
     * library without DZ2 cannot tell, so there the flag is always set. */
    if (win && h.algorithm == DFOTA_ALG_DZ2) {
        if (!dfota_patch_supported(h.algorithm) ||
            decode_check(&h, src, src_len, res.payload, res.payload_size, dst))
            h.flags |= DFOTA_PKG_F_BLOCKWIN;
        else
            checked = (h.flags & DFOTA_PKG_F_DEVTABLE) != 0;
    }
    table = (size_t)dfota_pkg_table_size(&h);
    if (table > UINT32_MAX - DFOTA_PKG_HEADER_MAX ||
        res.payload_size > UINT32_MAX - DFOTA_PKG_HEADER_MAX - table) {
        dfota_diff_result_free(&res);
        return DFOTA_ERR_ARG;
    }
    h.payload_size = (uint32_t)(res.payload_size + table);

    /* v2's size depends on the numbers in it, not on digests or signature */
    hsize = dfota_pkg_header_size(&h);
    out = malloc(hsize + res.payload_size + table);
    if (!out) {
        dfota_diff_result_free(&res);
        return DFOTA_ERR_ARG;
    }
    memcpy(out + hsize, res.payload, res.payload_size);
    rc = checked ? DFOTA_OK
         : (h.flags & DFOTA_PKG_F_DEVTABLE) ? decode_check(&h, src, src_len, out + hsize,
                                                         res.payload_size, dst)
                                          : block_chain(&h, src, src_len, out + hsize,
                                                        res.payload_size, dst,
                                                        out + hsize + res.payload_size);
    if (rc) {
        free(out);
        dfota_diff_result_free(&res);
        return rc;
    }
    dfota_host_sha256(out + hsize, h.payload_size, h.payload_sha256);
    if (sk) {
        /* The key id is the start of SHA-256(public key); libsodium keeps
         * the public key in the second half of the secret key. */
        uint8_t kid[32];
        dfota_sha256(sk + 32, 32, kid);
        memcpy(h.key_id, kid, DFOTA_KEY_ID_LEN);
    }
    rc = dfota_pkg_write(&h, out);
    /* the signature: the header's last 64 bytes, over every byte before them */
    h.header_size = (uint16_t)hsize;
    if (!rc && sk && dfota_host_sign(sk, out, dfota_pkg_signed_size(&h), out + dfota_pkg_signed_size(&h)))
        rc = DFOTA_ERR_SIGNATURE;
    if (rc) {
        free(out);
        dfota_diff_result_free(&res);
        return rc;
    }
    *pkg = out;
    *pkg_len = hsize + h.payload_size;
    if (stats) {
        *stats = res;
        stats->payload = NULL;
        stats->flags |= h.flags & (DFOTA_PKG_F_BLOCKWIN | DFOTA_PKG_F_SAVED);
    }
    dfota_diff_result_free(&res);
    return DFOTA_OK;
}
