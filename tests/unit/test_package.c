/* The package header, both formats: every field round-trips, every
 * malformation has its own named error. v2 is checked against bytes laid
 * out here by hand from docs/package-format.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "dfota/error.h"
#include "dfota/engine.h"
#include "dfota/package.h"
#include "dfota/sha256.h"
#include "host_port.h"
#include "testutil.h"

static void sample(struct dfota_pkg_header *h)
{
    memset(h, 0, sizeof *h);
    h->format_version = DFOTA_PKG_FORMAT_V1;
    strcpy(h->product, "BC20");
    strcpy(h->src_version, "BC20JAR01A01");
    strcpy(h->dst_version, "BC20JAR01A02");
    h->src_size = 1000;
    h->dst_size = 2000;
    memset(h->src_sha256, 1, 32);
    memset(h->dst_sha256, 2, 32);
    h->algorithm = DFOTA_ALG_DZ1;
    h->coder = DFOTA_CODER_RC1;
    h->decoder_ram = 8192;
    h->payload_size = 77;
    memset(h->payload_sha256, 3, 32);
    h->security_counter = 5;
    h->stream_crc32 = 0xDEADBEEF;
    memset(h->key_id, 4, 8);
    memset(h->signature, 5, 64);
}

static void test_roundtrip(void **st)
{
    struct dfota_pkg_header h, g;
    uint8_t raw[DFOTA_PKG_V1_HEADER_SIZE];
    (void)st;
    sample(&h);
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_OK);
    assert_memory_equal(raw, "DFOTAPKG", 8);
    assert_int_equal(dfota_pkg_parse(&g, raw, sizeof raw), DFOTA_OK);
    assert_string_equal(g.product, "BC20");
    assert_string_equal(g.dst_version, "BC20JAR01A02");
    assert_int_equal(g.src_size, 1000);
    assert_int_equal(g.dst_size, 2000);
    assert_int_equal(g.payload_size, 77);
    assert_int_equal(g.security_counter, 5);
    assert_int_equal(g.stream_crc32, 0xDEADBEEF);
    assert_memory_equal(g.signature, h.signature, 64);
    assert_memory_equal(g.key_id, h.key_id, 8);
    /* little-endian on the wire, whatever the host */
    assert_int_equal(raw[DFOTA_V1_OFF_DST_SIZE], 2000 & 0xFF);
    assert_int_equal(raw[DFOTA_V1_OFF_DST_SIZE + 1], 2000 >> 8);
    assert_int_equal(dfota_pkg_check_size(&g, DFOTA_PKG_V1_HEADER_SIZE + 77), DFOTA_OK);
    assert_int_equal(dfota_pkg_check_size(&g, DFOTA_PKG_V1_HEADER_SIZE + 76), DFOTA_ERR_SIZE);
    assert_int_equal(dfota_pkg_check_size(&g, DFOTA_PKG_V1_HEADER_SIZE + 78), DFOTA_ERR_SIZE);
}

static int parse_mut(size_t off, uint8_t val)
{
    struct dfota_pkg_header h, g;
    uint8_t raw[DFOTA_PKG_V1_HEADER_SIZE];
    sample(&h);
    dfota_pkg_write(&h, raw);
    raw[off] = val;
    return dfota_pkg_parse(&g, raw, sizeof raw);
}

static void test_errors(void **st)
{
    struct dfota_pkg_header h, g;
    uint8_t raw[DFOTA_PKG_V1_HEADER_SIZE];
    (void)st;
    assert_int_equal(parse_mut(0, 'X'), DFOTA_ERR_MAGIC);
    assert_int_equal(parse_mut(DFOTA_V1_OFF_FORMAT_VERSION, 3), DFOTA_ERR_VERSION);
    assert_int_equal(parse_mut(DFOTA_V1_OFF_FORMAT_VERSION + 1, 1), DFOTA_ERR_VERSION);
    assert_int_equal(parse_mut(DFOTA_V1_OFF_FORMAT_VERSION, 0), DFOTA_ERR_VERSION);
    assert_int_equal(parse_mut(DFOTA_V1_OFF_HEADER_SIZE, 0), DFOTA_ERR_HEADER);
    assert_int_equal(parse_mut(DFOTA_V1_OFF_FLAGS + 1, 1), DFOTA_ERR_HEADER);
    assert_int_equal(parse_mut(DFOTA_V1_OFF_PRODUCT + 31, 'x'), DFOTA_ERR_HEADER);   /* no NUL */
    assert_int_equal(parse_mut(DFOTA_V1_OFF_PRODUCT + 1, 0x07), DFOTA_ERR_HEADER);   /* control char */
    assert_int_equal(parse_mut(DFOTA_V1_OFF_PRODUCT + 10, 'x'), DFOTA_ERR_HEADER);   /* text after NUL */
    assert_int_equal(parse_mut(DFOTA_V1_OFF_ALGORITHM, 9), DFOTA_ERR_ALGORITHM);
    assert_int_equal(parse_mut(DFOTA_V1_OFF_CODER, 9), DFOTA_ERR_ALGORITHM);
    assert_int_equal(parse_mut(DFOTA_V1_OFF_RESERVED, 1), DFOTA_ERR_HEADER);
    assert_int_equal(parse_mut(DFOTA_V1_OFF_LAG, 1), DFOTA_ERR_HEADER);               /* lag needs in place */
    assert_int_equal(parse_mut(DFOTA_V1_OFF_FLAGS, DFOTA_PKG_F_INPLACE), DFOTA_ERR_HEADER); /* no sector size */
    assert_int_equal(parse_mut(DFOTA_V1_OFF_FLAGS, DFOTA_PKG_F_BLOCKHASH4), DFOTA_ERR_HEADER);
    assert_int_equal(parse_mut(DFOTA_V1_OFF_FLAGS, 0x10), DFOTA_ERR_HEADER);
    assert_int_equal(parse_mut(DFOTA_V1_OFF_PAYLOAD_SIZE, 4), DFOTA_ERR_HEADER);

    sample(&h);
    dfota_pkg_write(&h, raw);
    assert_int_equal(dfota_pkg_parse(&g, raw, 7), DFOTA_ERR_MAGIC);
    assert_int_equal(dfota_pkg_parse(&g, raw, 100), DFOTA_ERR_SIZE);
    assert_int_equal(dfota_pkg_parse(&g, raw, DFOTA_PKG_V1_HEADER_SIZE - 1), DFOTA_ERR_SIZE);

    h.flags = DFOTA_PKG_F_INPLACE;
    h.sector_size = 3000;
    dfota_pkg_write(&h, raw);
    assert_int_equal(dfota_pkg_parse(&g, raw, sizeof raw), DFOTA_ERR_HEADER);
    h.sector_size = 4096;
    h.lag = 8;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_ERR_ARG);
    h.lag = 7;
    dfota_pkg_write(&h, raw);
    assert_int_equal(dfota_pkg_parse(&g, raw, sizeof raw), DFOTA_OK);
    assert_int_equal(g.lag, 7);

    sample(&h);
    memset(h.product, 'a', 32);
    h.product[32] = 0;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_ERR_ARG);
}

/* ---- format version 2 ---- */

static void sample2(struct dfota_pkg_header *h)
{
    sample(h);
    h->format_version = DFOTA_PKG_FORMAT_V2;
    h->stream_crc32 = 0;                  /* A/B: none in v2 */
}

/* The v2 bytes of sample2(), laid out by hand as the doc says. */
static size_t expect2(uint8_t *b)
{
    size_t n = 0;
    memcpy(b, "DFOTAPKG", 8), n = 8;
    b[n++] = 2;                           /* format version */
    b[n++] = 0;                           /* flags */
    b[n++] = 4, memcpy(b + n, "BC20", 4), n += 4;
    b[n++] = 12, memcpy(b + n, "BC20JAR01A01", 12), n += 12;
    b[n++] = 0xE8, b[n++] = 0x07;         /* src_size 1000 */
    memset(b + n, 1, 32), n += 32;
    b[n++] = 12, memcpy(b + n, "BC20JAR01A02", 12), n += 12;
    b[n++] = 0xD0, b[n++] = 0x0F;         /* dst_size 2000 */
    memset(b + n, 2, 32), n += 32;
    b[n++] = DFOTA_ALG_DZ1, b[n++] = DFOTA_CODER_RC1;
    b[n++] = 0x80, b[n++] = 0x40;         /* decoder_ram 8192 */
    b[n++] = 77;                          /* payload_size */
    memset(b + n, 3, 32), n += 32;
    b[n++] = 5;                           /* security counter */
    memset(b + n, 4, 8), n += 8;
    memset(b + n, 5, 64), n += 64;
    return n;
}
/* offsets in expect2's bytes */
enum { V2_FLAGS = 9, V2_PRODUCT = 10, V2_SRC_VERSION = 15, V2_SRC_SIZE = 28, V2_DST_VERSION = 62,
       V2_DST_SIZE = 75, V2_ALG = 109, V2_CODER = 110, V2_RAM = 111, V2_PAYLOAD_SIZE = 113,
       V2_CTR = 146, V2_KEY_ID = 147, V2_SIG = 155, V2_SIZE = 219 };

static void test_v2_bytes(void **st)
{
    struct dfota_pkg_header h, g;
    uint8_t raw[DFOTA_PKG_HEADER_MAX], want[DFOTA_PKG_HEADER_MAX];
    size_t n = expect2(want);
    (void)st;
    sample2(&h);
    assert_int_equal(n, V2_SIZE);
    assert_int_equal(dfota_pkg_header_size(&h), V2_SIZE);
    memset(raw, 0xEE, sizeof raw);
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_OK);
    assert_memory_equal(raw, want, n);
    assert_int_equal(raw[n], 0xEE);       /* nothing written past the header */
    assert_int_equal(dfota_pkg_parse(&g, raw, n), DFOTA_OK);
    assert_int_equal(g.format_version, 2);
    assert_int_equal(g.header_size, V2_SIZE);
    assert_string_equal(g.product, "BC20");
    assert_string_equal(g.src_version, "BC20JAR01A01");
    assert_string_equal(g.dst_version, "BC20JAR01A02");
    assert_int_equal(g.src_size, 1000);
    assert_int_equal(g.dst_size, 2000);
    assert_int_equal(g.decoder_ram, 8192);
    assert_int_equal(g.payload_size, 77);
    assert_int_equal(g.security_counter, 5);
    assert_int_equal(g.stream_crc32, 0);
    assert_memory_equal(g.src_sha256, h.src_sha256, 32);
    assert_memory_equal(g.dst_sha256, h.dst_sha256, 32);
    assert_memory_equal(g.payload_sha256, h.payload_sha256, 32);
    assert_memory_equal(g.key_id, h.key_id, 8);
    assert_memory_equal(g.signature, h.signature, 64);
    assert_int_equal(dfota_pkg_signed_size(&g), V2_SIG);
    assert_int_equal(dfota_pkg_key_id_offset(&g), V2_KEY_ID);
    /* what follows the header is not part of it */
    assert_int_equal(dfota_pkg_parse(&g, raw, sizeof raw), DFOTA_OK);
    assert_int_equal(g.header_size, V2_SIZE);
    assert_int_equal(dfota_pkg_check_size(&g, V2_SIZE + 77), DFOTA_OK);
    assert_int_equal(dfota_pkg_check_size(&g, V2_SIZE + 76), DFOTA_ERR_SIZE);
    assert_int_equal(dfota_pkg_check_size(&g, V2_SIZE + 78), DFOTA_ERR_SIZE);
    assert_int_equal(dfota_pkg_check_size(&g, DFOTA_PKG_V1_HEADER_SIZE + 77), DFOTA_ERR_SIZE);
}

/* Round trips of headers at the edges: the smallest and the largest v2
 * header, numbers at every varint length, in place both ways. */
static void roundtrip2(const struct dfota_pkg_header *h)
{
    struct dfota_pkg_header g;
    uint8_t raw[DFOTA_PKG_HEADER_MAX], raw2[DFOTA_PKG_HEADER_MAX];
    uint32_t n = dfota_pkg_header_size(h);
    assert_in_range(n, DFOTA_PKG_V2_HEADER_MIN, DFOTA_PKG_V2_HEADER_MAX);
    assert_int_equal(dfota_pkg_write(h, raw), DFOTA_OK);
    assert_int_equal(dfota_pkg_parse(&g, raw, n), DFOTA_OK);
    assert_int_equal(g.header_size, n);
    assert_int_equal(dfota_pkg_write(&g, raw2), DFOTA_OK);
    assert_memory_equal(raw, raw2, n);
    assert_int_equal(g.flags, h->flags);
    assert_int_equal(g.src_size, h->src_size);
    assert_int_equal(g.dst_size, h->dst_size);
    assert_int_equal(g.sector_size, h->sector_size);
    assert_int_equal(g.lag, h->lag);
    assert_int_equal(g.decoder_ram, h->decoder_ram);
    assert_int_equal(g.payload_size, h->payload_size);
    assert_int_equal(g.security_counter, h->security_counter);
    assert_int_equal(g.stream_crc32, h->stream_crc32);
    assert_string_equal(g.product, h->product);
    /* one byte short anywhere inside: truncated */
    assert_int_equal(dfota_pkg_parse(&g, raw, n - 1), DFOTA_ERR_SIZE);
}

static void test_v2_roundtrip(void **st)
{
    struct dfota_pkg_header h;
    uint8_t raw[DFOTA_PKG_HEADER_MAX];
    uint32_t vals[] = { 0, 1, 127, 128, 16383, 16384, 2097151, 2097152, 268435455, 268435456,
                        0xFFFFFFFFu };
    size_t i;
    (void)st;
    /* smallest: empty strings, all numbers one byte, A/B */
    memset(&h, 0, sizeof h);
    h.format_version = 2;
    h.algorithm = DFOTA_ALG_DZ2;
    h.coder = DFOTA_CODER_RC1;
    h.payload_size = 5;
    assert_int_equal(dfota_pkg_header_size(&h), DFOTA_PKG_V2_HEADER_MIN);
    roundtrip2(&h);
    /* largest: 31-byte strings, 5-byte numbers, in place */
    memset(h.product, 'p', 31);
    memset(h.src_version, '~', 31);
    memset(h.dst_version, ' ', 31);
    h.src_size = h.dst_size = h.decoder_ram = h.security_counter = 0xFFFFFFFFu;
    h.payload_size = 0xFFFFFFFFu;
    /* (DEVTABLE excludes BLOCKHASH, RUNS BACKWARD; the runs below; no saved sectors) */
    h.flags = DFOTA_PKG_F_KNOWN & ~DFOTA_PKG_F_DEVTABLE & ~DFOTA_PKG_F_RUNS & ~DFOTA_PKG_F_SAVED;
    h.sector_size = 0x80000000u;
    h.lag = DFOTA_MAX_LAG;
    h.stream_crc32 = 0x12345678;
    assert_int_equal(dfota_pkg_header_size(&h), DFOTA_PKG_V2_HEADER_MAX);
    roundtrip2(&h);
    /* with a write order in runs a header may grow to DFOTA_PKG_HEADER_MAX
     * and no further: DFOTA_MAX_RUNS runs of 2^20 sectors of 256 bytes,
     * alternately each way, are 125 bytes more: the count; the firsts, 0
     * in one byte, 2^20 in three, the others in four; n * 2 + back in four */
    h.flags = (DFOTA_PKG_F_KNOWN & ~DFOTA_PKG_F_DEVTABLE & ~DFOTA_PKG_F_BACKWARD & ~DFOTA_PKG_F_SAVED);
    h.sector_size = 256;
    h.nruns = DFOTA_MAX_RUNS;
    for (i = 0; i < DFOTA_MAX_RUNS; i++) {
        h.runs[i].first = (uint32_t)(DFOTA_MAX_RUNS - 1 - i) << 20;
        h.runs[i].n = 1u << 20;
        h.runs[i].back = (uint8_t)(i & 1);
    }
    assert_int_equal(dfota_pkg_header_size(&h), DFOTA_PKG_V2_HEADER_MAX + 1 + 1 + 3 + 14 * 4 + 16 * 4);
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_ERR_ARG);
    memset(h.product, 0, sizeof h.product);      /* 31 bytes fewer */
    memset(h.src_version, 0, sizeof h.src_version);
    memset(h.dst_version, 0, sizeof h.dst_version);
    h.nruns = 11;                                /* the last 6 runs as one */
    h.runs[10].first = 0;
    h.runs[10].n = 6u << 20;
    assert_int_equal(dfota_pkg_header_size(&h), DFOTA_PKG_V2_HEADER_MAX - 93 + 1 + 10 * 8 + 1 + 4);
    roundtrip2(&h);
    /* every varint length, each numeric field */
    sample2(&h);
    h.flags = DFOTA_PKG_F_INPLACE;
    h.sector_size = 256;
    h.stream_crc32 = 0xDEADBEEF;
    for (i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        h.src_size = vals[i];
        h.dst_size = vals[(i + 3) % 11] / 16;    /* keeps the block table within payload */
        h.decoder_ram = vals[(i + 5) % 11];
        h.security_counter = vals[(i + 7) % 11];
        h.payload_size = vals[i] < 0x80000000u ? 0x80000000u + vals[i] : vals[i];
        roundtrip2(&h);
    }
}

/* The write order in runs (DFOTA_PKG_F_RUNS): parsed as written, and
 * refused unless it names every sector once in 1 to DFOTA_MAX_RUNS runs;
 * without it, one run as DFOTA_PKG_F_BACKWARD says. */
static int runs_parse(const struct dfota_pkg_header *h, struct dfota_pkg_header *g)
{
    uint8_t raw[DFOTA_PKG_HEADER_MAX];
    struct dfota_pkg_header w = *h;
    int rc;
    /* written with the checks off: the flags and sizes as they are */
    w.flags &= ~DFOTA_PKG_F_RUNS;
    assert_int_equal(dfota_pkg_write(&w, raw), DFOTA_OK);
    if (!(h->flags & DFOTA_PKG_F_RUNS))
        return dfota_pkg_parse(g, raw, dfota_pkg_header_size(&w));
    {
        /* the same header with RUNS set and the runs spliced in after the
         * stream CRC (which ends 4 + 2 bytes into the in-place fields) */
        uint8_t raw2[DFOTA_PKG_HEADER_MAX + 200], *p;
        size_t n = dfota_pkg_header_size(&w), at, k;
        /* the end of the in-place fields: the header without them and the
         * 4 numbers after them, less those */
        struct dfota_pkg_header ab = w;
        ab.flags = 0;
        at = dfota_pkg_header_size(&ab) + 6 - 32 - DFOTA_KEY_ID_LEN - DFOTA_SIG_LEN - 3;
        memcpy(raw2, raw, at);
        raw2[9] = (uint8_t)(raw2[9] | DFOTA_PKG_F_RUNS);
        p = raw2 + at;
        *p++ = (uint8_t)h->nruns;
        for (k = 0; k < h->nruns; k++) {
            /* (past the struct's DFOTA_MAX_RUNS: one more run, sector 0) */
            static const struct dfota_pkg_run more = { 0, 1, 0 };
            const struct dfota_pkg_run *rk = k < DFOTA_MAX_RUNS ? &h->runs[k] : &more;
            uint32_t v[2] = { rk->first, rk->n * 2u + rk->back }, j;
            for (j = 0; j < 2; j++) {
                uint32_t x = v[j];
                while (x >= 0x80) {
                    *p++ = (uint8_t)(x | 0x80);
                    x >>= 7;
                }
                *p++ = (uint8_t)x;
            }
        }
        memcpy(p, raw + at, n - at);
        p += n - at;
        rc = dfota_pkg_parse(g, raw2, (size_t)(p - raw2));
    }
    return rc;
}

static void test_runs(void **st)
{
    struct dfota_pkg_header h, g;
    uint8_t raw[DFOTA_PKG_HEADER_MAX];
    size_t i;
    (void)st;
    memset(&h, 0, sizeof h);
    h.format_version = 2;
    h.algorithm = DFOTA_ALG_DZ2;
    h.coder = DFOTA_CODER_RC1;
    h.payload_size = 5;      /* (decoder_ram, payload_size and the counter: 1 byte each) */
    h.flags = DFOTA_PKG_F_INPLACE | DFOTA_PKG_F_DEVTABLE;
    h.sector_size = 4096;
    h.dst_size = 10 * 4096 - 100;            /* 10 sectors, the last short */
    /* no runs: one, forward or backward */
    assert_int_equal(runs_parse(&h, &g), DFOTA_OK);
    assert_int_equal(g.nruns, 1);
    assert_true(g.runs[0].first == 0 && g.runs[0].n == 10 && !g.runs[0].back);
    h.flags |= DFOTA_PKG_F_BACKWARD;
    assert_int_equal(runs_parse(&h, &g), DFOTA_OK);
    assert_true(g.nruns == 1 && g.runs[0].n == 10 && g.runs[0].back);
    h.flags &= ~DFOTA_PKG_F_BACKWARD;
    /* runs: 0-3, 9-7, 4-6 */
    h.flags |= DFOTA_PKG_F_RUNS;
    h.nruns = 3;
    h.runs[0] = (struct dfota_pkg_run){ 0, 4, 0 };
    h.runs[1] = (struct dfota_pkg_run){ 7, 3, 1 };
    h.runs[2] = (struct dfota_pkg_run){ 4, 3, 0 };
    assert_int_equal(runs_parse(&h, &g), DFOTA_OK);
    assert_int_equal(g.nruns, 3);
    assert_memory_equal(g.runs, h.runs, 3 * sizeof h.runs[0]);
    /* what dfota_pkg_write writes is what was parsed */
    assert_int_equal(dfota_pkg_write(&g, raw), DFOTA_OK);
    assert_int_equal(dfota_pkg_header_size(&g), g.header_size);
    /* the blocks: 0-3 forward, then 9 (the short one), 8, 7, then 4-6 */
    {
        static const uint32_t want[10] = { 0, 1, 2, 3, 9, 8, 7, 4, 5, 6 };
        uint32_t off, len, addr, at = 0;
        for (i = 0; i < 10; i++) {
            dz_block((uint32_t)i, g.dst_size, 4096, g.runs, g.nruns, &off, &len, &addr);
            assert_int_equal(addr, want[i] * 4096);
            assert_int_equal(off, at);
            assert_int_equal(len, want[i] == 9 ? 4096 - 100 : 4096);
            assert_int_equal(dz_sector_block(g.runs, g.nruns, want[i]), i);
            at += len;
        }
    }
    /* bad orders: a gap, an overlap, a run of 0, past the end, none, too
     * many, and RUNS with BACKWARD */
    h.runs[2] = (struct dfota_pkg_run){ 4, 2, 0 };
    assert_int_equal(runs_parse(&h, &g), DFOTA_ERR_HEADER);
    h.runs[2] = (struct dfota_pkg_run){ 3, 4, 0 };
    assert_int_equal(runs_parse(&h, &g), DFOTA_ERR_HEADER);
    h.runs[2] = (struct dfota_pkg_run){ 4, 3, 0 };
    h.nruns = 4;
    h.runs[3] = (struct dfota_pkg_run){ 5, 0, 0 };
    assert_int_equal(runs_parse(&h, &g), DFOTA_ERR_HEADER);
    h.nruns = 3;
    h.runs[2] = (struct dfota_pkg_run){ 3, 3, 0 };
    assert_int_equal(runs_parse(&h, &g), DFOTA_ERR_HEADER);   /* 3 twice, no 6 */
    h.nruns = 0;
    assert_int_equal(runs_parse(&h, &g), DFOTA_ERR_HEADER);
    h.nruns = DFOTA_MAX_RUNS + 1;
    h.dst_size = (DFOTA_MAX_RUNS + 1) * 4096;
    for (i = 0; i < h.nruns; i++)
        h.runs[i < DFOTA_MAX_RUNS ? i : 0] = (struct dfota_pkg_run){ (uint32_t)i, 1, 0 };
    assert_int_equal(runs_parse(&h, &g), DFOTA_ERR_HEADER);
    h.nruns = 1;
    h.runs[0] = (struct dfota_pkg_run){ 0, DFOTA_MAX_RUNS + 1, 1 };
    assert_int_equal(runs_parse(&h, &g), DFOTA_OK);
    h.flags |= DFOTA_PKG_F_BACKWARD;
    assert_int_equal(runs_parse(&h, &g), DFOTA_ERR_HEADER);
    /* a header that runs make longer than DFOTA_PKG_HEADER_MAX: 31-byte
     * strings and 16 runs of one sector, last first */
    {
        struct dfota_pkg_header l = h;
        memset(l.product, 'p', 31);
        memset(l.src_version, 's', 31);
        memset(l.dst_version, 'd', 31);
        l.flags &= ~DFOTA_PKG_F_BACKWARD;
        l.dst_size = DFOTA_MAX_RUNS * 4096;
        l.nruns = DFOTA_MAX_RUNS;
        for (i = 0; i < DFOTA_MAX_RUNS; i++)
            l.runs[i] = (struct dfota_pkg_run){ (uint32_t)(DFOTA_MAX_RUNS - 1 - i), 1, 0 };
        assert_true(dfota_pkg_header_size(&l) > DFOTA_PKG_HEADER_MAX);
        assert_int_equal(runs_parse(&l, &g), DFOTA_ERR_HEADER);
        assert_int_equal(dfota_pkg_write(&l, raw), DFOTA_ERR_ARG);
        l.nruns = 1;                               /* one run: it fits */
        l.runs[0] = (struct dfota_pkg_run){ 0, DFOTA_MAX_RUNS, 1 };
        assert_int_equal(runs_parse(&l, &g), DFOTA_OK);
    }
    /* and dfota_pkg_write refuses what it would not parse */
    h.flags &= ~DFOTA_PKG_F_BACKWARD;
    h.runs[0].n = 3;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_ERR_ARG);
    h.runs[0].n = DFOTA_MAX_RUNS + 1;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_OK);
    h.format_version = 1;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_ERR_ARG);   /* v1 has no room */
}

/* A v2 header with one byte changed (or the bytes from off on replaced). */
static int parse2_mut(size_t off, const uint8_t *bytes, size_t n, size_t len)
{
    struct dfota_pkg_header g;
    uint8_t raw[DFOTA_PKG_HEADER_MAX + 8];
    memset(raw, 0, sizeof raw);
    expect2(raw);
    memcpy(raw + off, bytes, n);
    return dfota_pkg_parse(&g, raw, len ? len : sizeof raw);
}
#define MUT(off, ...) parse2_mut(off, (const uint8_t[]){ __VA_ARGS__ }, \
                                 sizeof((const uint8_t[]){ __VA_ARGS__ }), 0)

static void test_v2_errors(void **st)
{
    struct dfota_pkg_header h, g;
    uint8_t raw[DFOTA_PKG_HEADER_MAX];
    size_t n;
    (void)st;
    /* every cut inside the header: truncated (before the version byte: no
     * version yet, the v1 rules say so) */
    n = expect2(raw);
    for (size_t len = 0; len < n; len++)
        assert_int_equal(dfota_pkg_parse(&g, raw, len),
                         len < 8 ? DFOTA_ERR_MAGIC : DFOTA_ERR_SIZE);
    assert_int_equal(dfota_pkg_parse(&g, raw, n), DFOTA_OK);

    /* version */
    assert_int_equal(MUT(8, 3), DFOTA_ERR_VERSION);
    assert_int_equal(MUT(8, 3, 0), DFOTA_ERR_VERSION);
    assert_int_equal(MUT(8, 0xFF, 0xFF), DFOTA_ERR_VERSION);
    /* flags: unknown bits, a non-minimal or too long varint, the in-place
     * bits without in place, in place without room for its fields */
    assert_int_equal(MUT(V2_FLAGS, 0x10), DFOTA_ERR_HEADER);
    assert_int_equal(MUT(V2_FLAGS, DFOTA_PKG_F_BLOCKHASH4), DFOTA_ERR_HEADER);
    assert_int_equal(MUT(V2_FLAGS, DFOTA_PKG_F_BLOCKHASH | DFOTA_PKG_F_BLOCKHASH4), DFOTA_ERR_HEADER);
    assert_int_equal(MUT(V2_FLAGS, 0x40), DFOTA_ERR_HEADER);
    assert_int_equal(MUT(V2_FLAGS, 0x80, 0x01), DFOTA_ERR_HEADER);
    assert_int_equal(MUT(V2_FLAGS, 0x80, 0x00), DFOTA_ERR_HEADER);         /* not minimal */
    assert_int_equal(MUT(V2_FLAGS, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00), DFOTA_ERR_HEADER);
    assert_int_equal(MUT(V2_FLAGS, DFOTA_PKG_F_BACKWARD), DFOTA_ERR_HEADER);
    assert_int_equal(MUT(V2_FLAGS, DFOTA_PKG_F_BLOCKHASH), DFOTA_ERR_HEADER);
    /* strings: too long, control characters, DEL, a high byte, a NUL */
    assert_int_equal(MUT(V2_PRODUCT, 32), DFOTA_ERR_HEADER);
    assert_int_equal(MUT(V2_PRODUCT, 255), DFOTA_ERR_HEADER);
    assert_int_equal(MUT(V2_PRODUCT + 2, 0x07), DFOTA_ERR_HEADER);
    assert_int_equal(MUT(V2_PRODUCT + 1, 0x7F), DFOTA_ERR_HEADER);
    assert_int_equal(MUT(V2_PRODUCT + 4, 0x80), DFOTA_ERR_HEADER);
    assert_int_equal(MUT(V2_SRC_VERSION + 12, 0), DFOTA_ERR_HEADER);
    assert_int_equal(MUT(V2_DST_VERSION, 40), DFOTA_ERR_HEADER);
    assert_int_equal(MUT(V2_DST_VERSION + 1, 0x0A), DFOTA_ERR_HEADER);
    /* numbers: more than 32 bits, a sixth byte, not minimal */
    assert_int_equal(MUT(V2_SRC_SIZE, 0xFF, 0xFF, 0xFF, 0xFF, 0x10), DFOTA_ERR_HEADER);
    assert_int_equal(MUT(V2_SRC_SIZE, 0xFF, 0xFF, 0xFF, 0xFF, 0x8F, 0x00), DFOTA_ERR_HEADER);
    assert_int_equal(MUT(V2_SRC_SIZE, 0xE8, 0x87, 0x00), DFOTA_ERR_HEADER);
    assert_int_equal(MUT(V2_DST_SIZE, 0xD0, 0x8F, 0x80, 0x00), DFOTA_ERR_HEADER);
    assert_int_equal(MUT(V2_RAM, 0x80, 0xC0, 0x00), DFOTA_ERR_HEADER);
    assert_int_equal(MUT(V2_CTR, 0x85, 0x00), DFOTA_ERR_HEADER);
    /* algorithm, coder */
    assert_int_equal(MUT(V2_ALG, 0), DFOTA_ERR_ALGORITHM);
    assert_int_equal(MUT(V2_ALG, 9), DFOTA_ERR_ALGORITHM);
    assert_int_equal(MUT(V2_CODER, 2), DFOTA_ERR_ALGORITHM);
    /* payload too small for the range coder */
    assert_int_equal(MUT(V2_PAYLOAD_SIZE, 4), DFOTA_ERR_HEADER);
    assert_int_equal(MUT(V2_PAYLOAD_SIZE, 5), DFOTA_OK);

    /* in place: sector shift 8..31, lag 0..7, the block table in the payload */
    sample2(&h);
    h.flags = DFOTA_PKG_F_INPLACE | DFOTA_PKG_F_BLOCKHASH;
    h.sector_size = 1024;
    h.lag = 3;
    h.stream_crc32 = 0xCAFEF00D;
    h.payload_size = 5 + 2 * DFOTA_BLOCK_DIGEST_LEN;          /* 2000 bytes: 2 blocks */
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_OK);
    n = dfota_pkg_header_size(&h);
    assert_int_equal(n, V2_SIZE + 6);
    assert_int_equal(raw[V2_CODER + 1], 10);                   /* log2(1024) */
    assert_int_equal(raw[V2_CODER + 2], 3);
    assert_int_equal(raw[V2_CODER + 3], 0x0D);                 /* CRC, little-endian */
    assert_int_equal(raw[V2_CODER + 6], 0xCA);
    assert_int_equal(dfota_pkg_parse(&g, raw, n), DFOTA_OK);
    assert_int_equal(g.sector_size, 1024);
    assert_int_equal(g.lag, 3);
    assert_int_equal(g.stream_crc32, 0xCAFEF00D);
    {
        static const uint8_t bad_shift[] = { 0, 7, 32, 255 }, bad_lag[] = { 8, 255 };
        size_t i;
        for (i = 0; i < sizeof bad_shift; i++) {
            uint8_t c[DFOTA_PKG_HEADER_MAX];
            memcpy(c, raw, n);
            c[V2_CODER + 1] = bad_shift[i];
            assert_int_equal(dfota_pkg_parse(&g, c, n), DFOTA_ERR_HEADER);
        }
        for (i = 0; i < sizeof bad_lag; i++) {
            uint8_t c[DFOTA_PKG_HEADER_MAX];
            memcpy(c, raw, n);
            c[V2_CODER + 2] = bad_lag[i];
            assert_int_equal(dfota_pkg_parse(&g, c, n), DFOTA_ERR_HEADER);
        }
    }
    h.payload_size = 4 + 2 * DFOTA_BLOCK_DIGEST_LEN;
    dfota_pkg_write(&h, raw);
    assert_int_equal(dfota_pkg_parse(&g, raw, n), DFOTA_ERR_HEADER);
    assert_int_equal(dfota_pkg_chain_entry_len(&h), DFOTA_BLOCK_DIGEST_LEN);
    assert_int_equal(dfota_pkg_table_size(&h), 2 * DFOTA_BLOCK_DIGEST_LEN);

    /* 4-byte chain entries: only with the block chain (so only in place);
     * the payload holds the range coder's five bytes and 4 bytes a block */
    h.flags = DFOTA_PKG_F_INPLACE | DFOTA_PKG_F_BLOCKHASH | DFOTA_PKG_F_BLOCKHASH4;
    assert_int_equal(dfota_pkg_chain_entry_len(&h), DFOTA_BLOCK_DIGEST_LEN4);
    assert_int_equal(dfota_pkg_table_size(&h), 2 * DFOTA_BLOCK_DIGEST_LEN4);
    h.payload_size = 5 + 2 * DFOTA_BLOCK_DIGEST_LEN4;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_OK);
    assert_int_equal(dfota_pkg_parse(&g, raw, n), DFOTA_OK);
    assert_int_equal(g.flags, h.flags);
    h.payload_size = 4 + 2 * DFOTA_BLOCK_DIGEST_LEN4;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_OK);
    assert_int_equal(dfota_pkg_parse(&g, raw, n), DFOTA_ERR_HEADER);
    h.payload_size = 5 + 2 * DFOTA_BLOCK_DIGEST_LEN4;
    h.flags = DFOTA_PKG_F_INPLACE | DFOTA_PKG_F_BLOCKHASH4;      /* no chain to shorten */
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_ERR_ARG);
    h.flags = DFOTA_PKG_F_INPLACE | DFOTA_PKG_F_BLOCKHASH | DFOTA_PKG_F_BLOCKHASH4;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_OK);
    raw[V2_FLAGS] = DFOTA_PKG_F_INPLACE | DFOTA_PKG_F_BLOCKHASH4;
    assert_int_equal(dfota_pkg_parse(&g, raw, n), DFOTA_ERR_HEADER);
    /* the chain over the decoder's pending state: only with the chain; it
     * does not change the entries' length */
    h.flags = DFOTA_PKG_F_INPLACE | DFOTA_PKG_F_BLOCKHASH | DFOTA_PKG_F_BLOCKHASH4 |
              DFOTA_PKG_F_BLOCKSTATE;
    assert_int_equal(dfota_pkg_table_size(&h), 2 * DFOTA_BLOCK_DIGEST_LEN4);
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_OK);
    assert_int_equal(dfota_pkg_parse(&g, raw, n), DFOTA_OK);
    assert_int_equal(g.flags, h.flags);
    raw[V2_FLAGS] = DFOTA_PKG_F_INPLACE | DFOTA_PKG_F_BLOCKSTATE;
    assert_int_equal(dfota_pkg_parse(&g, raw, n), DFOTA_ERR_HEADER);
    /* the device's digest table: in place only, never with a chain, and
     * no bytes of the payload */
    h.flags = DFOTA_PKG_F_INPLACE | DFOTA_PKG_F_DEVTABLE;
    assert_int_equal(dfota_pkg_table_size(&h), 0);
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_OK);
    assert_int_equal(dfota_pkg_parse(&g, raw, n), DFOTA_OK);
    assert_int_equal(g.flags, h.flags);
    raw[V2_FLAGS] = DFOTA_PKG_F_DEVTABLE;
    assert_int_equal(dfota_pkg_parse(&g, raw, n), DFOTA_ERR_HEADER);
    raw[V2_FLAGS] = DFOTA_PKG_F_INPLACE | DFOTA_PKG_F_DEVTABLE | DFOTA_PKG_F_BLOCKHASH;
    assert_int_equal(dfota_pkg_parse(&g, raw, n), DFOTA_ERR_HEADER);
    raw[V2_FLAGS] = DFOTA_PKG_F_INPLACE | DFOTA_PKG_F_DEVTABLE | DFOTA_PKG_F_BLOCKSTATE;
    assert_int_equal(dfota_pkg_parse(&g, raw, n), DFOTA_ERR_HEADER);
    h.flags = DFOTA_PKG_F_INPLACE | DFOTA_PKG_F_BLOCKHASH | DFOTA_PKG_F_BLOCKHASH4;

    /* what dfota_pkg_write refuses to write */
    sample2(&h);
    h.format_version = 3;
    assert_int_equal(dfota_pkg_header_size(&h), 0);
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_ERR_ARG);
    h.format_version = 0;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_ERR_ARG);
    sample2(&h);
    h.stream_crc32 = 1;                                        /* A/B: no place for it */
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_ERR_ARG);
    sample2(&h);
    h.sector_size = 4096;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_ERR_ARG);
    sample2(&h);
    h.flags = 0x10;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_ERR_ARG);
    h.flags = DFOTA_PKG_F_BLOCKHASH4;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_ERR_ARG);
    sample2(&h);
    h.flags = DFOTA_PKG_F_INPLACE;
    h.sector_size = 3000;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_ERR_ARG);
    h.sector_size = 128;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_ERR_ARG);
    h.sector_size = 4096;
    h.lag = 8;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_ERR_ARG);
    sample2(&h);
    memset(h.dst_version, 'a', 32);
    h.dst_version[32] = 0;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_ERR_ARG);
    sample2(&h);
    h.src_version[3] = 0x1F;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_ERR_ARG);
}

/* The signature covers every header byte before it: a change to any one of
 * them is refused, by the parse or by the signature. */
static void test_v2_signature(void **st)
{
    struct dfota_pkg_header h, g;
    uint8_t raw[DFOTA_PKG_HEADER_MAX], pk[32], sk[64], kid[32];
    size_t n, i;
    unsigned bit;
    (void)st;
    tu_keys(pk, sk);
    sample2(&h);
    dfota_sha256(pk, 32, kid);
    memcpy(h.key_id, kid, DFOTA_KEY_ID_LEN);
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_OK);
    n = dfota_pkg_header_size(&h);
    assert_int_equal(dfota_host_sign(sk, raw, n - 64, raw + n - 64), 0);
    assert_int_equal(dfota_pkg_parse(&g, raw, n), DFOTA_OK);
    assert_int_equal(dfota_pkg_check_signature(&g, raw, pk, dfota_host_crypto()), DFOTA_OK);
    for (i = 0; i < n; i++)
        for (bit = 0; bit < 8; bit += 7) {
            raw[i] ^= (uint8_t)(1u << bit);
            if (dfota_pkg_parse(&g, raw, n) == DFOTA_OK)
                assert_int_equal(dfota_pkg_check_signature(&g, raw, pk, dfota_host_crypto()),
                                 DFOTA_ERR_SIGNATURE);
            raw[i] ^= (uint8_t)(1u << bit);
        }
    /* unsigned: key id and signature zero */
    memset(raw + n - 72, 0, 72);
    assert_int_equal(dfota_pkg_parse(&g, raw, n), DFOTA_OK);
    assert_int_equal(dfota_pkg_check_signature(&g, raw, pk, dfota_host_crypto()),
                     DFOTA_ERR_SIGNATURE);
    assert_int_equal(dfota_pkg_check_signature(&g, raw, NULL, NULL), DFOTA_OK);
}

/* v1 and v2 of the same header carry the same fields. */
static void test_v1_v2_same_fields(void **st)
{
    struct dfota_pkg_header h, a, b;
    uint8_t r1[DFOTA_PKG_HEADER_MAX], r2[DFOTA_PKG_HEADER_MAX];
    (void)st;
    sample2(&h);
    h.flags = DFOTA_PKG_F_INPLACE | DFOTA_PKG_F_BACKWARD | DFOTA_PKG_F_BLOCKHASH |
              DFOTA_PKG_F_BLOCKHASH4;
    h.sector_size = 4096;
    h.lag = 2;
    h.stream_crc32 = 0x01020304;
    assert_int_equal(dfota_pkg_write(&h, r2), DFOTA_OK);
    h.format_version = 1;
    assert_int_equal(dfota_pkg_write(&h, r1), DFOTA_OK);
    assert_int_equal(dfota_pkg_parse(&a, r1, sizeof r1), DFOTA_OK);
    assert_int_equal(dfota_pkg_parse(&b, r2, sizeof r2), DFOTA_OK);
    assert_int_equal(a.format_version, 1);
    assert_int_equal(a.header_size, 312);
    assert_int_equal(b.format_version, 2);
    assert_int_equal(b.header_size, V2_SIZE + 6);
    a.format_version = b.format_version;
    a.header_size = b.header_size;
    assert_memory_equal(&a, &b, sizeof a);
}

/* DFOTA_PKG_F_BLOCKWIN (0x80, a 2-byte flags varint): in place and format 2
 * only. It round-trips in place; without DFOTA_PKG_F_INPLACE (A/B) and in
 * format 1 the parse refuses it (DFOTA_ERR_HEADER) and the write too
 * (DFOTA_ERR_ARG). */
static void test_blockwin(void **st)
{
    struct dfota_pkg_header h, g;
    uint8_t raw[DFOTA_PKG_HEADER_MAX], ab[DFOTA_PKG_HEADER_MAX + 1];
    uint32_t n, f;
    size_t m;
    (void)st;
    /* v2 in place, with the device's digest table (what dfota diff makes) */
    sample2(&h);
    h.flags = DFOTA_PKG_F_INPLACE | DFOTA_PKG_F_DEVTABLE | DFOTA_PKG_F_BLOCKWIN;
    h.sector_size = 4096;
    h.lag = 2;
    h.stream_crc32 = 0x0BADF00D;
    n = dfota_pkg_header_size(&h);
    assert_int_equal(n, V2_SIZE + 6 + 1);                 /* flags of 2 bytes */
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_OK);
    f = h.flags;
    assert_int_equal(raw[V2_FLAGS], (f & 0x7F) | 0x80);
    assert_int_equal(raw[V2_FLAGS + 1], f >> 7);
    assert_int_equal(dfota_pkg_parse(&g, raw, n), DFOTA_OK);
    assert_int_equal(g.flags, f);
    assert_true(g.flags & DFOTA_PKG_F_BLOCKWIN);
    assert_int_equal(g.header_size, n);
    assert_int_equal(g.sector_size, 4096);
    assert_int_equal(g.lag, 2);
    assert_int_equal(g.stream_crc32, 0x0BADF00D);
    assert_int_equal(dfota_pkg_table_size(&g), 0);        /* no payload bytes of its own */
    roundtrip2(&h);
    /* without the flag: one byte shorter, the same fields otherwise */
    h.flags &= ~DFOTA_PKG_F_BLOCKWIN;
    assert_int_equal(dfota_pkg_header_size(&h), n - 1);
    h.flags |= DFOTA_PKG_F_BLOCKWIN;
    /* with the other in-place flags: a block digest chain, a write order in runs */
    h.flags = DFOTA_PKG_F_INPLACE | DFOTA_PKG_F_BLOCKHASH | DFOTA_PKG_F_BLOCKHASH4 |
              DFOTA_PKG_F_BLOCKSTATE | DFOTA_PKG_F_BLOCKWIN;
    h.payload_size = 5 + DFOTA_BLOCK_DIGEST_LEN4;          /* 2000 bytes: one block */
    roundtrip2(&h);
    h.flags = DFOTA_PKG_F_INPLACE | DFOTA_PKG_F_DEVTABLE | DFOTA_PKG_F_BLOCKWIN |
              DFOTA_PKG_F_BACKWARD;
    h.payload_size = 77;
    roundtrip2(&h);

    /* A/B: refused by the write, and by the parse (the flags varint of
     * expect2's A/B header replaced by 0x80 0x01, and by 0x81 0x01 too) */
    sample2(&h);
    h.flags = DFOTA_PKG_F_BLOCKWIN;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_ERR_ARG);
    m = expect2(raw);
    assert_int_equal(dfota_pkg_parse(&g, raw, m), DFOTA_OK);
    memcpy(ab, raw, V2_FLAGS);
    ab[V2_FLAGS] = 0x80;
    ab[V2_FLAGS + 1] = 0x01;
    memcpy(ab + V2_FLAGS + 2, raw + V2_FLAGS + 1, m - V2_FLAGS - 1);
    assert_int_equal(dfota_pkg_parse(&g, ab, m + 1), DFOTA_ERR_HEADER);
    ab[V2_FLAGS] = 0x80 | DFOTA_PKG_F_BLOCKHASH;            /* with another in-place bit */
    assert_int_equal(dfota_pkg_parse(&g, ab, m + 1), DFOTA_ERR_HEADER);

    /* the in-place header above with INPLACE taken out of its flags
     * byte (the rest as it is): refused */
    sample2(&h);
    h.flags = DFOTA_PKG_F_INPLACE | DFOTA_PKG_F_DEVTABLE | DFOTA_PKG_F_BLOCKWIN;
    h.sector_size = 4096;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_OK);
    n = dfota_pkg_header_size(&h);
    raw[V2_FLAGS] = (uint8_t)(raw[V2_FLAGS] & ~DFOTA_PKG_F_INPLACE);
    assert_int_equal(dfota_pkg_parse(&g, raw, n), DFOTA_ERR_HEADER);

    /* format 1: the write refuses it, and so does the parse of a v1
     * header with the bit set in its flags word */
    sample(&h);
    h.flags = DFOTA_PKG_F_INPLACE | DFOTA_PKG_F_BLOCKWIN;
    h.sector_size = 4096;
    h.lag = 2;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_ERR_ARG);
    h.flags = DFOTA_PKG_F_INPLACE | DFOTA_PKG_F_DEVTABLE | DFOTA_PKG_F_BLOCKWIN;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_ERR_ARG);
    h.flags = DFOTA_PKG_F_INPLACE | DFOTA_PKG_F_DEVTABLE;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_OK);
    assert_int_equal(dfota_pkg_parse(&g, raw, DFOTA_PKG_V1_HEADER_SIZE), DFOTA_OK);
    raw[DFOTA_V1_OFF_FLAGS] = (uint8_t)(raw[DFOTA_V1_OFF_FLAGS] | DFOTA_PKG_F_BLOCKWIN);
    assert_int_equal(dfota_pkg_parse(&g, raw, DFOTA_PKG_V1_HEADER_SIZE), DFOTA_ERR_HEADER);
    /* and a v2 BLOCKWIN header written again as v1 */
    sample2(&h);
    h.flags = DFOTA_PKG_F_INPLACE | DFOTA_PKG_F_DEVTABLE | DFOTA_PKG_F_BLOCKWIN;
    h.sector_size = 4096;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_OK);
    assert_int_equal(dfota_pkg_parse(&g, raw, sizeof raw), DFOTA_OK);
    g.format_version = DFOTA_PKG_FORMAT_V1;
    assert_int_equal(dfota_pkg_write(&g, raw), DFOTA_ERR_ARG);
}

/* DFOTA_PKG_F_SAVED (0x100): in place and format 2 only, 1 to
 * DFOTA_MAX_SAVED source sectors after the runs, a count byte then one
 * varint each, ascending and each below the target's sector count. The
 * sample below: 200 sectors of 4 KiB; its header ends with 108 bytes after
 * the saved sectors (decoder_ram 2, payload_size 1, payload digest 32,
 * counter 1, key id 8, signature 64). */
#define SAVED_TAIL 108u

static void sample_saved(struct dfota_pkg_header *h, uint32_t extra_flags)
{
    sample2(h);
    h->flags = DFOTA_PKG_F_INPLACE | DFOTA_PKG_F_DEVTABLE | DFOTA_PKG_F_SAVED | extra_flags;
    h->sector_size = 4096;
    h->lag = 1;
    h->dst_size = 200u * 4096u;
    h->src_size = 190u * 4096u + 5;
    h->stream_crc32 = 0x5AFE5AFE;
    if (extra_flags & DFOTA_PKG_F_RUNS) {
        h->nruns = 2;
        h->runs[0] = (struct dfota_pkg_run){ 0, 120, 0 };
        h->runs[1] = (struct dfota_pkg_run){ 120, 80, 1 };
    }
}

/* parse the header h with its saved-sector bytes (count byte first)
 * replaced by the m bytes at b */
static int saved_splice(const struct dfota_pkg_header *h, const uint8_t *b, size_t m)
{
    struct dfota_pkg_header g;
    uint8_t raw[DFOTA_PKG_HEADER_MAX], out[DFOTA_PKG_HEADER_MAX + 16];
    uint32_t n = dfota_pkg_header_size(h), i, q, len;
    assert_int_equal(dfota_pkg_write(h, raw), DFOTA_OK);
    len = 1;
    for (i = 0; i < h->nsaved; i++)
        len += h->saved[i] < 128 ? 1 : h->saved[i] < 16384 ? 2 : 3;
    q = n - SAVED_TAIL - len;
    assert_int_equal(raw[q], h->nsaved);
    memcpy(out, raw, q);
    memcpy(out + q, b, m);
    memcpy(out + q + m, raw + q + len, n - q - len);
    return dfota_pkg_parse(&g, out, n - len + m);
}
#define SPLICE(h, ...) saved_splice(h, (const uint8_t[]){ __VA_ARGS__ }, \
                                    sizeof((const uint8_t[]){ __VA_ARGS__ }))

static void test_saved(void **st)
{
    static const uint32_t extra[] = { 0, DFOTA_PKG_F_RUNS, DFOTA_PKG_F_BLOCKWIN,
                                      DFOTA_PKG_F_RUNS | DFOTA_PKG_F_BLOCKWIN };
    struct dfota_pkg_header h, g, w;
    uint8_t raw[DFOTA_PKG_HEADER_MAX], ab[DFOTA_PKG_HEADER_MAX + 1];
    uint32_t n, n0, need0, x;
    size_t m;
    (void)st;

    for (x = 0; x < sizeof extra / sizeof extra[0]; x++) {
        uint32_t k;
        for (k = 1; k <= DFOTA_MAX_SAVED; k++) {
            sample_saved(&h, extra[x]);
            h.nsaved = k;
            h.saved[0] = 3;               /* one varint byte */
            h.saved[1] = 199;             /* two: the last sector */
            n = dfota_pkg_header_size(&h);
            w = h;
            w.flags &= ~DFOTA_PKG_F_SAVED;
            w.nsaved = 0;
            n0 = dfota_pkg_header_size(&w);
            /* the count, the varints; flags of two bytes either way but
             * for the bare one (0x21: one byte) */
            assert_int_equal(n, n0 + 1 + (k == 1 ? 1 : 3) + (extra[x] & DFOTA_PKG_F_BLOCKWIN ? 0 : 1));
            assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_OK);
            assert_int_equal(raw[V2_FLAGS], (h.flags & 0x7F) | 0x80);
            assert_int_equal(raw[V2_FLAGS + 1], h.flags >> 7);
            /* the bytes, just before decoder_ram */
            assert_int_equal(raw[n - SAVED_TAIL - (k == 1 ? 2 : 4)], k);
            assert_int_equal(raw[n - SAVED_TAIL - (k == 1 ? 1 : 3)], 3);
            if (k == 2) {
                assert_int_equal(raw[n - SAVED_TAIL - 2], 0xC7);  /* 199 */
                assert_int_equal(raw[n - SAVED_TAIL - 1], 0x01);
            }
            assert_int_equal(dfota_pkg_parse(&g, raw, n), DFOTA_OK);
            assert_int_equal(g.header_size, n);
            assert_int_equal(g.flags, h.flags);
            assert_int_equal(g.nsaved, k);
            assert_int_equal(g.saved[0], 3);
            if (k == 2)
                assert_int_equal(g.saved[1], 199);
            assert_int_equal(g.stream_crc32, 0x5AFE5AFE);
            assert_int_equal(g.lag, 1);
            if (extra[x] & DFOTA_PKG_F_RUNS) {
                assert_int_equal(g.nruns, 2);
                assert_int_equal(g.runs[1].first, 120);
                assert_int_equal(g.runs[1].n, 80);
                assert_int_equal(g.runs[1].back, 1);
            }
            roundtrip2(&h);
            /* the staging it needs: the saved sectors besides the package
             * and the digest table */
            assert_int_equal(dfota_saved_size(&g), k * 4096);
            w = g;
            w.flags &= ~DFOTA_PKG_F_SAVED;
            need0 = dfota_staging_need(&w, 4096, 16);
            assert_int_equal(dfota_saved_size(&w), 0);
            assert_true(need0 > 0 && need0 != UINT32_MAX);
            assert_int_equal(dfota_staging_need(&g, 4096, 16), need0 + k * 4096);
            w = g;
            w.flags &= ~DFOTA_PKG_F_INPLACE;     /* (not in place: none) */
            assert_int_equal(dfota_saved_size(&w), 0);
        }
    }

    /* refused: the write (DFOTA_ERR_ARG), and the parse of the same
     * header with its saved bytes spliced (DFOTA_ERR_HEADER) */
    sample_saved(&h, 0);
    h.nsaved = 1;
    h.saved[0] = 5;
    assert_int_equal(SPLICE(&h, 1, 5), DFOTA_OK);           /* (the splice itself) */
    assert_int_equal(SPLICE(&h, 2, 4, 0xC7, 0x01), DFOTA_OK);
    assert_int_equal(SPLICE(&h, 0), DFOTA_ERR_HEADER);      /* none */
    assert_int_equal(SPLICE(&h, 3, 1, 2, 3), DFOTA_ERR_HEADER); /* three */
    assert_int_equal(SPLICE(&h, 2, 5, 3), DFOTA_ERR_HEADER);    /* not ascending */
    assert_int_equal(SPLICE(&h, 2, 4, 4), DFOTA_ERR_HEADER);    /* the same twice */
    assert_int_equal(SPLICE(&h, 1, 0xC8, 0x01), DFOTA_ERR_HEADER); /* 200: no such target sector */
    assert_int_equal(SPLICE(&h, 2, 0, 0xC8, 0x01), DFOTA_ERR_HEADER);
    assert_int_equal(SPLICE(&h, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F), DFOTA_ERR_HEADER);
    h.nsaved = 0;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_ERR_ARG);
    h.nsaved = 3;
    h.saved[0] = 1;
    h.saved[1] = 2;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_ERR_ARG);
    h.nsaved = 2;
    h.saved[0] = 5;
    h.saved[1] = 3;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_ERR_ARG);
    h.saved[0] = h.saved[1] = 4;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_ERR_ARG);
    h.nsaved = 1;
    h.saved[0] = 200;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_ERR_ARG);
    h.saved[0] = 199;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_OK);
    /* (the target's sector count, not the source's: 195 of 190.x source sectors) */
    h.src_size = 4096;
    h.saved[0] = 195;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_OK);
    /* a partial last target sector is one */
    h.dst_size = 10 * 4096 + 1;
    h.saved[0] = 10;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_OK);
    h.saved[0] = 11;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_ERR_ARG);

    /* A/B: the write refuses it, and the parse of expect2's A/B header
     * with flags 0x80 0x02 (and a count and a sector after nothing) */
    sample2(&h);
    h.flags = DFOTA_PKG_F_SAVED;
    h.nsaved = 1;
    h.saved[0] = 0;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_ERR_ARG);
    m = expect2(raw);
    memcpy(ab, raw, V2_FLAGS);
    ab[V2_FLAGS] = 0x80;
    ab[V2_FLAGS + 1] = 0x02;
    memcpy(ab + V2_FLAGS + 2, raw + V2_FLAGS + 1, m - V2_FLAGS - 1);
    assert_int_equal(dfota_pkg_parse(&g, ab, m + 1), DFOTA_ERR_HEADER);
    /* the in-place header with INPLACE taken out of its flags: refused */
    sample_saved(&h, 0);
    h.nsaved = 1;
    h.saved[0] = 3;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_OK);
    raw[V2_FLAGS] = (uint8_t)(raw[V2_FLAGS] & ~DFOTA_PKG_F_INPLACE);
    assert_int_equal(dfota_pkg_parse(&g, raw, dfota_pkg_header_size(&h)), DFOTA_ERR_HEADER);

    /* format 1: the write refuses it, the parse of a v1 header with the
     * bit set in its flags word too, and a v2 header written again as v1 */
    sample(&h);
    h.flags = DFOTA_PKG_F_INPLACE | DFOTA_PKG_F_DEVTABLE | DFOTA_PKG_F_SAVED;
    h.sector_size = 4096;
    h.lag = 1;
    h.nsaved = 1;
    h.saved[0] = 0;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_ERR_ARG);
    h.flags &= ~DFOTA_PKG_F_SAVED;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_OK);
    assert_int_equal(dfota_pkg_parse(&g, raw, DFOTA_PKG_V1_HEADER_SIZE), DFOTA_OK);
    raw[DFOTA_V1_OFF_FLAGS + 1] = (uint8_t)(raw[DFOTA_V1_OFF_FLAGS + 1] | (DFOTA_PKG_F_SAVED >> 8));
    assert_int_equal(dfota_pkg_parse(&g, raw, DFOTA_PKG_V1_HEADER_SIZE), DFOTA_ERR_HEADER);
    sample_saved(&h, 0);
    h.nsaved = 1;
    h.saved[0] = 3;
    assert_int_equal(dfota_pkg_write(&h, raw), DFOTA_OK);
    assert_int_equal(dfota_pkg_parse(&g, raw, sizeof raw), DFOTA_OK);
    g.format_version = DFOTA_PKG_FORMAT_V1;
    assert_int_equal(dfota_pkg_write(&g, raw), DFOTA_ERR_ARG);
}

static void test_strerror(void **st)
{
    int e;
    (void)st;
    for (e = 0; e >= DFOTA_ERR_RAM; e--)
        assert_string_not_equal(dfota_strerror(e), "unknown error");
    assert_string_equal(dfota_strerror(-999), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_v2_bytes),
        cmocka_unit_test(test_v2_roundtrip),
        cmocka_unit_test(test_runs),
        cmocka_unit_test(test_v2_errors),
        cmocka_unit_test(test_v2_signature),
        cmocka_unit_test(test_v1_v2_same_fields),
        cmocka_unit_test(test_blockwin),
        cmocka_unit_test(test_saved),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
