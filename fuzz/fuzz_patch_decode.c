/* fuzz_patch_decode: the DZ1 and DZ2 decoders alone, the fuzzer input as
 * their payload.
 *
 * Input: byte 0 selects the header, bytes 1-2 (little-endian, 14 bits) the
 * target size, bit 14 of them the codec (1 = DZ2), the rest is the payload.
 *   bit 0     in place (else A/B)
 *   bit 1     backward (in place only)
 *   bits 2-3  in-place sector size: 256 << n
 *   bit 4     empty source (src_size 0) instead of the fixed image
 *   bits 5-7  chunking of the decode calls (see CHUNKS)
 * The header is built with dfota_pkg_write and checked with dfota_pkg_parse,
 * so the decoder sees only headers the engine would accept (payloads under
 * 5 bytes, which dfota_pkg_parse refuses, are decoded all the same).
 *
 * The callbacks trap on any read outside the payload or the source, or longer
 * than the decoder's read-ahead buffer. Every call must return DFOTA_OK or
 * DFOTA_ERR_CORRUPT. The payload is decoded twice, the second time 256 bytes
 * at a time with the decoder state saved, the struct wiped and the state
 * restored between calls (what the engine does across a power cut; DZ2 in
 * place: at block starts only, where the engine's journal saves it): both
 * runs must agree byte for byte, in the result and in the final state.
 * DZ2's target read-back (A/B) is served from the bytes earlier calls
 * produced, and traps on any other. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dfota/error.h"
#include "dfota/package.h"
#include "dfota/patch.h"
#include "fuzz_common.h"

#define DST_MASK 0x3FFFu

static uint8_t g_src[FZ_SRC_SIZE];

struct io {
    const uint8_t *payload;
    uint32_t payload_size;
    uint32_t src_size;
    const uint8_t *dst;      /* target produced by earlier decode calls */
    uint32_t dst_done;
};

static int rd_dst(void *ctx, uint32_t off, uint8_t *buf, uint32_t len)
{
    const struct io *c = ctx;
    FZ_CHECK(len > 0 && len <= DZ2_DSTBUF);
    FZ_CHECK(off <= c->dst_done && len <= c->dst_done - off);
    memcpy(buf, c->dst + off, len);
    return 0;
}

static int rd_payload(void *ctx, uint32_t off, uint8_t *buf, uint32_t len)
{
    const struct io *c = ctx;
    FZ_CHECK(len > 0 && len <= DFOTA_PATCH_INBUF);
    FZ_CHECK(off <= c->payload_size && len <= c->payload_size - off);
    memcpy(buf, c->payload + off, len);
    return 0;
}

static int rd_src(void *ctx, uint32_t off, uint8_t *buf, uint32_t len)
{
    const struct io *c = ctx;
    FZ_CHECK(len > 0 && len <= DFOTA_PATCH_SRCBUF);
    FZ_CHECK(off <= c->src_size && len <= c->src_size - off);
    memcpy(buf, g_src + off, len);
    return 0;
}

static const uint32_t CHUNKS[8] = { 1, 3, 17, 64, 255, 256, 1000, 0 /* all at once */ };

/* Decode the whole target; returns the result, *pos the bytes produced. */
static int run_chunked(struct dfota_patch *p, const struct dfota_pkg_header *h,
                       const struct dfota_patch_io *io, uint8_t *out, uint32_t chunk)
{
    struct io *c = io->ctx;
    uint32_t done = 0;
    int rc;

    c->dst = out;
    c->dst_done = 0;
    FZ_CHECK(dfota_patch_init(p, h) == DFOTA_OK);
    while (done < h->dst_size) {
        uint32_t n = h->dst_size - done;
        uint8_t *buf;
        if (chunk && n > chunk)
            n = chunk;
        /* A buffer of exactly n bytes: ASan sees any write past it. */
        buf = malloc(n);
        FZ_CHECK(buf != NULL);
        rc = dfota_patch_decode(p, io, buf, n);
        FZ_CHECK(rc == DFOTA_OK || rc == DFOTA_ERR_CORRUPT);
        FZ_CHECK(p->st.in_pos <= h->payload_size);
        if (rc) {
            FZ_CHECK(p->st.out_pos >= done && p->st.out_pos - done < n);
            memcpy(out + done, buf, p->st.out_pos - done);
            free(buf);
            return rc;
        }
        FZ_CHECK(p->st.out_pos == done + n);
        memcpy(out + done, buf, n);
        free(buf);
        done += n;
        c->dst_done = done;
    }
    FZ_CHECK(dfota_patch_done(p));
    return DFOTA_OK;
}

static int run_restored(struct dfota_patch *p, const struct dfota_pkg_header *h,
                        const struct dfota_patch_io *io, uint8_t *out)
{
    struct dfota_patch_state saved;
    struct io *c = io->ctx;
    uint32_t done = 0, blk = 0;
    int rc;

    c->dst = out;
    c->dst_done = 0;
    FZ_CHECK(dfota_patch_init(p, h) == DFOTA_OK);
    while (done < h->dst_size) {
        uint32_t n = h->dst_size - done;
        if (h->algorithm == DFOTA_ALG_DZ2 && (h->flags & DFOTA_PKG_F_INPLACE)) {
            uint32_t off, len, addr;    /* one block a call */
            dz_block(blk++, h->dst_size, h->sector_size, h->runs, h->nruns, &off, &len, &addr);
            n = len;
        } else if (n > 256) {
            n = 256;
        }
        rc = dfota_patch_decode(p, io, out + done, n);
        if (rc)
            return rc;
        done += n;
        c->dst_done = done;
        /* A power cut: only the state survives (the journal snapshot). */
        memcpy(&saved, &p->st, sizeof saved);
        memset(p, 0xA5, sizeof *p);
        dfota_patch_restore(p, &saved);
    }
    return DFOTA_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    struct dfota_pkg_header h;
    uint8_t raw[DFOTA_PKG_HEADER_MAX];
    struct dfota_patch *p1, *p2;
    struct io c;
    struct dfota_patch_io io = { &c, rd_payload, rd_src, rd_dst, NULL, 0 };
    uint8_t mode, *out1, *out2;
    int rc1, rc2;

    if (!ready) {
        fz_image(g_src, FZ_SRC_SIZE, FZ_SRC_SEED);
        ready = 1;
    }
    if (size < 3 || size - 3 > UINT32_MAX)
        return 0;
    mode = data[0];

    memset(&h, 0, sizeof h);
    h.format_version = (data[2] & 0x80) ? DFOTA_PKG_FORMAT_V1 : DFOTA_PKG_FORMAT_V2;
    strcpy(h.product, FZ_PRODUCT);
    strcpy(h.src_version, "1.0.0");
    strcpy(h.dst_version, "1.1.0");
    h.flags = (mode & 1) ? DFOTA_PKG_F_INPLACE | ((mode & 2) ? DFOTA_PKG_F_BACKWARD : 0) : 0;
    h.sector_size = (mode & 1) ? 256u << ((mode >> 2) & 3) : 0;
    h.lag = (mode & 1) ? 2 : 0;
    h.src_size = (mode & 0x10) ? 0 : FZ_SRC_SIZE;
    h.dst_size = (uint32_t)(data[1] | (data[2] << 8)) & DST_MASK;
    h.algorithm = (data[2] & 0x40) ? DFOTA_ALG_DZ2 : DFOTA_ALG_DZ1;
    h.coder = DFOTA_CODER_RC1;
    h.payload_size = (uint32_t)(size - 3);
    FZ_CHECK(dfota_pkg_write(&h, raw) == DFOTA_OK);
    if (h.payload_size < 5) {
        /* dfota_pkg_parse refuses it: the engine never starts such a
         * decode. Run the decoder anyway, it must not care. */
        FZ_CHECK(dfota_pkg_parse(&h, raw, sizeof raw) == DFOTA_ERR_HEADER);
    } else {
        FZ_CHECK(dfota_pkg_parse(&h, raw, sizeof raw) == DFOTA_OK);
    }

    io.runs = h.runs;
    io.nruns = h.nruns;
    c.payload = data + 3;
    c.payload_size = h.payload_size;
    c.src_size = h.src_size;

    p1 = malloc(sizeof *p1);
    p2 = malloc(sizeof *p2);
    out1 = malloc(h.dst_size + 1);
    out2 = malloc(h.dst_size + 1);
    FZ_CHECK(p1 && p2 && out1 && out2);

    rc1 = run_chunked(p1, &h, &io, out1, CHUNKS[mode >> 5]);
    rc2 = run_restored(p2, &h, &io, out2);
    if (fz_verbose())
        fprintf(stderr, "fuzz_patch_decode: mode 0x%02x, dst %u, payload %u: %s after %u bytes, %u payload bytes read\n",
                mode, h.dst_size, h.payload_size, dfota_strerror(rc1), p1->st.out_pos, p1->st.in_pos);
    FZ_CHECK(rc1 == rc2);
    FZ_CHECK(p1->st.out_pos == p2->st.out_pos);
    FZ_CHECK(memcmp(out1, out2, p1->st.out_pos) == 0);
    /* Whole-struct compare: clang copies the state (padding too) with memcpy
     * in dfota_patch_restore, and dfota_patch_init zeroes it. */
    FZ_CHECK(memcmp(&p1->st, &p2->st, sizeof p1->st) == 0);

    free(p1);
    free(p2);
    free(out1);
    free(out2);
    return 0;
}
