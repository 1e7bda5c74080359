/* DZ2 on its own: payloads from dfota_diff with the codec forced to DZ2,
 * decoded by dfota_patch_* from buffers (source, payload, and the target
 * already produced for io->read_dst), in output pieces of many sizes, both
 * layouts; then through the engine (dfota_host_apply); damaged payloads
 * must fail cleanly or decode to something, never read out of bounds. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "dfota/error.h"
#include "dfota/patch.h"
#include "testutil.h"

struct bufio {
    const uint8_t *src, *payload, *dst_done;   /* dst_done: the target in address order */
    size_t src_len, payload_len, dst_len;
    uint32_t dst_reads;
};

static int rd_payload(void *ctx, uint32_t off, uint8_t *buf, uint32_t len)
{
    struct bufio *b = ctx;
    if (off > b->payload_len || len > b->payload_len - off)
        return DFOTA_ERR_IO;
    memcpy(buf, b->payload + off, len);
    return DFOTA_OK;
}

static int rd_src(void *ctx, uint32_t off, uint8_t *buf, uint32_t len)
{
    struct bufio *b = ctx;
    if (off > b->src_len || len > b->src_len - off)
        return DFOTA_ERR_IO;
    memcpy(buf, b->src + off, len);
    return DFOTA_OK;
}

static int rd_dst(void *ctx, uint32_t off, uint8_t *buf, uint32_t len)
{
    struct bufio *b = ctx;
    if (off > b->dst_len || len > b->dst_len - off)
        return DFOTA_ERR_IO;
    memcpy(buf, b->dst_done + off, len);
    b->dst_reads++;
    return DFOTA_OK;
}

struct lay {
    int inplace, direction;
    uint32_t sector, lag;
};

static const struct lay LAYS[] = {
    { 0, 0, 0, 0 }, { 1, 1, 4096, 2 }, { 1, -1, 4096, 0 }, { 1, 1, 256, 3 },
};

/* Decode res's payload in pieces of `piece` bytes (0: varying); the target
 * already produced is served from a copy in address order, written only as
 * pieces complete (what the engine has programmed). Returns the decoder's
 * error; on success out (stream order) is compared with dst. */
static int decode(const uint8_t *src, size_t slen, const uint8_t *dst, size_t dlen,
                  const struct dfota_diff_result *res, const uint8_t *payload, size_t plen,
                  uint32_t piece, int check)
{
    static struct dfota_patch p;
    struct dfota_pkg_header h;
    uint8_t *done = calloc(1, dlen + 1), *out = malloc(dlen + 1);
    struct bufio b = { src, payload, done, slen, plen, dlen, 0 };
    struct dfota_patch_io io = { &b, rd_payload, rd_src, rd_dst, res->runs, res->nruns };
    uint32_t pos = 0, k = 0, blocks, i;
    int rc;

    memset(&h, 0, sizeof h);
    h.algorithm = res->algorithm;
    h.coder = DFOTA_CODER_RC1;
    h.src_size = (uint32_t)slen;
    h.dst_size = (uint32_t)dlen;
    h.payload_size = (uint32_t)plen;
    h.flags = res->flags;
    h.nruns = res->nruns;
    memcpy(h.runs, res->runs, sizeof h.runs);
    h.sector_size = res->sector_size;
    rc = dfota_patch_init(&p, &h);
    assert_int_equal(rc, DFOTA_OK);
    while (pos < dlen) {
        uint32_t n = piece ? piece : 1 + (k++ * 37) % 300;
        if (n > dlen - pos)
            n = (uint32_t)(dlen - pos);
        if ((rc = dfota_patch_decode(&p, &io, out + pos, n)))
            break;
        pos += n;
        if (!(res->flags & DFOTA_PKG_F_INPLACE))
            memcpy(done, out, pos);          /* A/B: stream order is address order */
    }
    if (!rc && check) {
        assert_true(dfota_patch_done(&p));
        /* back to address order */
        blocks = dz_block_count((uint32_t)dlen, res->sector_size);
        for (i = 0; i < blocks; i++) {
            uint32_t off, len, addr;
            dz_block(i, (uint32_t)dlen, res->sector_size, res->runs, res->nruns, &off, &len, &addr);
            assert_memory_equal(out + off, dst + addr, len);
        }
    }
    free(done);
    free(out);
    return rc;
}

/* the decoder RAM profile of the payloads dfota_diff makes (0: 16k) */
static uint32_t g_ram;

static size_t dz2_roundtrip(const uint8_t *src, size_t slen, const uint8_t *dst, size_t dlen,
                            const struct lay *l, int expect_alg)
{
    struct dfota_diff_opts o;
    struct dfota_diff_result res;
    static const uint32_t pieces[] = { 0, 1, 7, 256, 4096, 0xFFFFFFFFu };
    size_t i, size;

    memset(&o, 0, sizeof o);
    o.inplace = l->inplace;
    o.sector_size = l->sector;
    o.lag = l->lag;
    o.direction = l->direction;
    o.codec = expect_alg ? expect_alg : (int)DFOTA_ALG_DZ2;
    o.decoder_ram = g_ram;
    assert_int_equal(dfota_diff(src, slen, dst, dlen, &o, &res), DFOTA_OK);
    assert_int_equal(res.algorithm, DFOTA_ALG_DZ2);
    if (g_ram == DFOTA_DECODER_RAM_4K) {
        /* the small model (or stored), and the header field says 4k */
        assert_true(res.payload[0] == DZ2_MODE_RC_SMALL || res.payload[0] == DZ2_MODE_STORED);
        assert_int_equal(res.decoder_ram, DFOTA_DECODER_RAM_4K);
    } else {
        assert_true(res.payload[0] != DZ2_MODE_RC_SMALL);
    }
    for (i = 0; i < sizeof pieces / sizeof pieces[0]; i++)
        assert_int_equal(decode(src, slen, dst, dlen, &res, res.payload, res.payload_size,
                                pieces[i] == 0xFFFFFFFFu ? (uint32_t)dlen : pieces[i], 1),
                         DFOTA_OK);
    size = res.payload_size;
    dfota_diff_result_free(&res);
    return size;
}

static void all(const uint8_t *src, size_t slen, const uint8_t *dst, size_t dlen)
{
    size_t i;
    for (i = 0; i < sizeof LAYS / sizeof LAYS[0]; i++)
        dz2_roundtrip(src, slen, dst, dlen, &LAYS[i], 0);
}

static void test_release(void **st)
{
    size_t sizes[] = { 3000, 40000, 200000 }, i, nlen;
    (void)st;
    for (i = 0; i < 3; i++) {
        uint8_t *a = tu_image(sizes[i], (uint32_t)i + 3);
        uint8_t *b = tu_release(a, sizes[i], (uint32_t)i + 30, &nlen);
        all(a, sizes[i], b, nlen);
        all(b, nlen, a, sizes[i]);
        free(a);
        free(b);
    }
}

/* A target that repeats itself: target copies, repeats, overlapping copies. */
static void test_self_repeats(void **st)
{
    size_t n = 60000, i;
    uint8_t *a = tu_image(20000, 9), *b = malloc(n);
    uint32_t s = 5;
    (void)st;
    for (i = 0; i < n; i++) {
        if (i >= 3000 && (i / 700) % 3 == 1)
            b[i] = b[i - 1 - (i / 700) % 2000];          /* far and near repeats */
        else if (i >= 8 && (i / 50) % 5 == 2)
            b[i] = b[i - 3];                             /* overlapping short distance */
        else
            b[i] = (uint8_t)(tu_rand(&s) % 16);
    }
    all(a, 20000, b, n);
    all(NULL, 0, b, n);
    free(a);
    free(b);
}

static void test_random_stored(void **st)
{
    size_t n = 50000, i, sz;
    uint8_t *a = malloc(n), *b = malloc(n);
    uint32_t s = 77;
    (void)st;
    for (i = 0; i < n; i++) {
        a[i] = (uint8_t)tu_rand(&s);
        b[i] = (uint8_t)tu_rand(&s);
    }
    sz = dz2_roundtrip(a, n, b, n, &LAYS[0], DFOTA_ALG_DZ2);
    assert_true(sz <= n + 1);            /* the stored payload at worst */
    all(a, n, b, n);
    free(a);
    free(b);
}

static void test_tiny(void **st)
{
    static const uint8_t x[5] = { 1, 2, 3, 4, 5 }, y[9] = { 1, 2, 3, 4, 5, 1, 2, 3, 4 };
    (void)st;
    all(NULL, 0, y, 9);
    all(x, 5, y, 9);
    all(y, 9, x, 5);
}

/* Through the engine: A/B target copies are read back from flash. */
static unsigned algorithm_of(const uint8_t *pkg, size_t plen)
{
    struct dfota_pkg_header h;
    assert_int_equal(dfota_pkg_parse(&h, pkg, plen), DFOTA_OK);
    return h.algorithm;
}

static void test_engine(void **st)
{
    size_t nlen, plen, olen = 0;
    uint8_t *a = tu_image(100000, 21), *b = tu_release(a, 100000, 22, &nlen), *pkg, *out = NULL;
    uint8_t pk[32], sk[64];
    (void)st;
    setenv("DFOTA_CODEC", "2", 1);
    tu_keys(pk, sk);
    pkg = tu_package(a, 100000, b, nlen, 0, 0, 0, 0, "", &plen);
    assert_int_equal(algorithm_of(pkg, plen), DFOTA_ALG_DZ2);
    assert_int_equal(dfota_host_apply(a, 100000, pkg, plen, pk, &out, &olen, NULL, NULL, NULL),
                     DFOTA_OK);
    assert_int_equal(olen, nlen);
    assert_memory_equal(out, b, nlen);
    free(out);
    free(pkg);
    pkg = tu_package(a, 100000, b, nlen, 1, 4096, 1, 0, "", &plen);
    assert_int_equal(algorithm_of(pkg, plen), DFOTA_ALG_DZ2);
    out = NULL;
    assert_int_equal(dfota_host_apply(a, 100000, pkg, plen, pk, &out, &olen, NULL, NULL, NULL),
                     DFOTA_OK);
    assert_memory_equal(out, b, nlen);
    unsetenv("DFOTA_CODEC");
    free(out);
    free(pkg);
    free(a);
    free(b);
}

/* Damaged payloads: any result but a crash or an out-of-bounds read (the
 * buffer callbacks refuse those, ASan watches the rest). */
/* n copies of res's payload, each with one bit flipped (not the mode
 * byte), decoded whole and (with halves) also as if truncated to half:
 * any result but a crash or a read out of bounds. */
static void flipped(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                    const struct dfota_diff_result *res, size_t n, uint32_t s, int halves)
{
    size_t i;
    for (i = 0; i < n; i++) {
        uint8_t *p = malloc(res->payload_size);
        memcpy(p, res->payload, res->payload_size);
        p[1 + tu_rand(&s) % (res->payload_size - 1)] ^= (uint8_t)(1u << (tu_rand(&s) & 7));
        (void)decode(a, alen, b, blen, res, p, res->payload_size, 0, 0);
        if (halves)
            (void)decode(a, alen, b, blen, res, p, res->payload_size / 2, 0, 0);
        free(p);
    }
}

static void test_damaged(void **st)
{
    size_t nlen;
    uint8_t *a = tu_image(30000, 41), *b = tu_release(a, 30000, 42, &nlen);
    struct dfota_diff_opts o;
    struct dfota_diff_result res;
    (void)st;
    memset(&o, 0, sizeof o);
    o.codec = DFOTA_ALG_DZ2;
    o.decoder_ram = g_ram;
    assert_int_equal(dfota_diff(a, 30000, b, nlen, &o, &res), DFOTA_OK);
    flipped(a, 30000, b, nlen, &res, 300, 3, 1);
    dfota_diff_result_free(&res);
    free(a);
    free(b);
}

/* Thumb-2 code with BL calls into a table of functions; a release adds
 * code in the middle, so every call across the insertion changes its
 * offset while its target stays: the branch filter's case. */
static void put_bl(uint8_t *w, uint32_t at, uint32_t to)
{
    uint32_t v = ((to - at - 4u) >> 1) & 0x3FFFFFu;
    w[0] = (uint8_t)(v >> 11);
    w[1] = (uint8_t)(0xF0u | ((v >> 19) & 7u));
    w[2] = (uint8_t)v;
    w[3] = (uint8_t)(0xF8u | ((v >> 8) & 7u));
}

static uint8_t *thumb_image(size_t len, size_t ins, size_t ins_len, uint32_t seed, uint32_t code)
{
    uint8_t *m = malloc(len + ins_len);
    uint32_t s = seed, c = code, fn[64];
    size_t i, k, n = len + ins_len;
    for (k = 0; k < 64; k++)
        fn[k] = (uint32_t)(k * (len / 64)) & ~1u;       /* function starts, before the move */
    for (i = 0; i + 2 <= n; i += 2) {
        int fresh = i >= ins && i < ins + ins_len;
        uint32_t r = tu_rand(fresh ? &s : &c);
        if (i + 4 <= n && r % 7 == 0) {
            uint32_t to = fn[(r >> 8) % (fresh ? 4u : 64u)];  /* new code: a few callees */
            if (i >= ins + ins_len && to >= ins)
                to += (uint32_t)ins_len;                /* the callee moved too */
            put_bl(m + i, (uint32_t)i, to);
            i += 2;
        } else {
            m[i] = (uint8_t)(r >> 3);
            m[i + 1] = (uint8_t)(0x20u + (r >> 11) % 0x60u);   /* 16-bit Thumb, no BL prefix */
        }
        if (i + 2 == ins)
            c = code + 1;
    }
    return m;
}

static void test_thumb_filter(void **st)
{
    size_t len = 60000, ins = 20000, ins_len = 20000, nlen = len + ins_len;
    uint8_t *a = thumb_image(len, ins, 0, 1, 7), *b = thumb_image(len, ins, ins_len, 2, 7);
    struct dfota_diff_opts o;
    struct dfota_diff_result res;
    (void)st;
    /* the encoder picks the filter (mode 3) here, and every layout and
     * output piece size decodes it */
    memset(&o, 0, sizeof o);
    o.codec = DFOTA_ALG_DZ2;
    assert_int_equal(dfota_diff(a, len, b, nlen, &o, &res), DFOTA_OK);
    assert_int_equal(res.payload[0], DZ2_MODE_RC_BLF);
    flipped(a, len, b, nlen, &res, 200, 5, 0);
    dfota_diff_result_free(&res);
    all(a, len, b, nlen);
    /* the small model has no filter */
    g_ram = DFOTA_DECODER_RAM_4K;
    dz2_roundtrip(a, len, b, nlen, &LAYS[0], 0);
    g_ram = 0;
    free(a);
    free(b);
}

/* RISC-V code (RV64GC-like): 32-bit words and 16-bit compressed ones, with
 * calls into a table of functions (JAL ra, or AUIPC ra + JALR ra) and
 * address computations into a data area at the image's end (AUIPC + ADDI,
 * LD or SD). A release inserts code in the middle: every reference across
 * the insertion changes its offset while its target stays, the case of the
 * RISC-V prediction (mode 4, dfota/delta2.h). Positions and targets are in
 * the old image's coordinates, moved by the insertion (ins, ins_len). */
struct rvlay {
    size_t len, ins, ins_len;
};

static uint32_t rv_map(const struct rvlay *l, size_t x)
{
    return (uint32_t)(x >= l->ins ? x + l->ins_len : x);
}

static void rv_put(uint8_t *w, uint32_t v)
{
    w[0] = (uint8_t)v;
    w[1] = (uint8_t)(v >> 8);
    w[2] = (uint8_t)(v >> 16);
    w[3] = (uint8_t)(v >> 24);
}

/* Code at old positions [a, b) (fresh: new positions, the inserted code,
 * calling only the first functions) into m at position + sh. */
static void rv_seg(uint8_t *m, const struct rvlay *l, size_t a, size_t b, size_t sh, uint32_t seed,
                   int fresh)
{
    uint32_t s = seed;
    size_t i = a, data = l->len - 4096;
    while (i < b) {
        uint32_t r = tu_rand(&s), kind = r % 16, pc = (uint32_t)(i + sh), to, w;
        int64_t off, hi;
        if (kind < 6 && i + (kind < 2 ? 4u : 8u) <= b) {
            if (kind < 3)     /* a function: one of 64 (fresh code: of the first 4) */
                to = rv_map(l, ((r >> 8) % (fresh ? 4u : 64u)) * (data / 64) & ~(size_t)3);
            else              /* into the data area */
                to = rv_map(l, data + ((r >> 8) % 4096u & ~7u));
            off = (int64_t)to - pc;
            if (kind < 2) {   /* JAL ra */
                uint32_t v = (uint32_t)off;
                rv_put(m + pc, ((v >> 20) & 1u) << 31 | ((v >> 1) & 0x3FFu) << 21 |
                                   ((v >> 11) & 1u) << 20 | ((v >> 12) & 0xFFu) << 12 | 1u << 7 | 0x6Fu);
                i += 4;
                continue;
            }
            hi = (off + 0x800) & ~(int64_t)0xFFF;
            w = (uint32_t)(off - hi) & 0xFFFu;
            rv_put(m + pc, (uint32_t)((uint64_t)hi & 0xFFFFF000u) | (kind == 2 ? 1u : 15u) << 7 | 0x17u);
            if (kind == 2)            /* JALR ra, lo(ra) */
                rv_put(m + pc + 4, w << 20 | 1u << 15 | 1u << 7 | 0x67u);
            else if (kind == 3)       /* ADDI a5, a5, lo */
                rv_put(m + pc + 4, w << 20 | 15u << 15 | 15u << 7 | 0x13u);
            else if (kind == 4)       /* LD a1, lo(a5) */
                rv_put(m + pc + 4, w << 20 | 15u << 15 | 3u << 12 | 11u << 7 | 0x03u);
            else                      /* SD a1, lo(a5) */
                rv_put(m + pc + 4, (w >> 5) << 25 | 11u << 20 | 15u << 15 | 3u << 12 | (w & 31u) << 7 | 0x23u);
            i += 8;
        } else if (kind < 10 || i + 4 > b) {  /* a compressed instruction */
            m[pc] = (uint8_t)(((r >> 4) & 0xFCu) | 1u);
            m[pc + 1] = (uint8_t)(r >> 12);
            i += 2;
        } else {                      /* some other 32-bit instruction */
            rv_put(m + pc, (r & 0xFFFFF000u) | ((r >> 5) & 31u) << 7 | 0x33u);
            i += 4;
        }
    }
}

/* The image of length len (old: ins_len 0) or its release. */
static uint8_t *rv_image(size_t len, size_t ins, size_t ins_len, size_t *out_len)
{
    struct rvlay l = { len, ins, ins_len };
    size_t n = len + ins_len, i, data = len - 4096;
    uint8_t *m = malloc(n);
    uint32_t s = 99;
    rv_seg(m, &l, 0, ins, 0, 11, 0);
    rv_seg(m, &l, ins, ins + ins_len, 0, 12, 1);
    rv_seg(m, &l, ins, data, ins_len, 13, 0);
    for (i = data; i < len; i++)
        m[i + ins_len] = (uint8_t)tu_rand(&s);
    *out_len = n;
    return m;
}

/* Decode pkg's target on a device (in place or A/B) with a power cut after
 * every step-th flash operation, then power up until it is done: the
 * target boots every time. */
static void cut_sweep(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, int inplace,
                      unsigned step)
{
    size_t plen;
    uint8_t *pkg = tu_package(a, alen, b, blen, inplace, 4096, 2, 0, "", &plen), *initial;
    struct tu_device d;
    struct dfota_engine e;
    struct dfota_pkg_header h;
    uint64_t ops, k;
    assert_int_equal(dfota_pkg_parse(&h, pkg, plen), DFOTA_OK);
    assert_int_equal(pkg[h.header_size], DZ2_MODE_RC_RV);      /* the case swept */
    tu_device_init(&d, inplace ? DFOTA_LAYOUT_INPLACE : DFOTA_LAYOUT_AB, 4096,
                   (uint32_t)(blen > alen ? blen : alen) + 4096, 4, 2 * (uint32_t)blen);
    tu_device_load(&d, 0, a, alen, pkg, plen);
    initial = malloc(d.flash.size);
    memcpy(initial, d.flash.mem, d.flash.size);
    assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
    simflash_reset_counters(&d.flash);
    assert_int_equal(dfota_install(&e), DFOTA_OK);
    ops = d.flash.ops;
    for (k = 0; k < ops; k += step) {
        int i, rc = DFOTA_OK;
        memcpy(d.flash.mem, initial, d.flash.size);
        simflash_power_on(&d.flash);
        simflash_reset_counters(&d.flash);
        d.flash.cut_after = k;
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        assert_int_equal(dfota_install(&e), DFOTA_ERR_IO);
        for (i = 0; i < 4; i++) {   /* resume, or install again over the old image */
            simflash_power_on(&d.flash);
            assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
            if (dfota_pending(&e))
                rc = dfota_resume(&e);
            else if (memcmp(d.flash.mem + d.cfg.layout.slot[dfota_active_slot(&e)], b, blen))
                rc = dfota_install(&e);
            else
                break;
        }
        if (dfota_pending(&e) ||
            memcmp(d.flash.mem + d.cfg.layout.slot[dfota_active_slot(&e)], b, blen))
            fail_msg("%s cut %llu: not the target (%s)", inplace ? "in place" : "A/B",
                     (unsigned long long)k, dfota_strerror(rc));
    }
    free(initial);
    tu_device_free(&d);
    free(pkg);
}

static void test_riscv(void **st)
{
    size_t len = 60000, ins = 20000, ins_len = 2000, alen, blen, dz2, dz1;
    uint8_t *a = rv_image(len, ins, 0, &alen), *b = rv_image(len, ins, ins_len, &blen);
    struct dfota_diff_opts o;
    struct dfota_diff_result res;
    (void)st;
    /* the encoder picks RISC-V prediction (mode 4), which pays: the
     * payload is a fraction of DZ1's, which has none */
    memset(&o, 0, sizeof o);
    o.codec = DFOTA_ALG_DZ2;
    assert_int_equal(dfota_diff(a, alen, b, blen, &o, &res), DFOTA_OK);
    assert_int_equal(res.payload[0], DZ2_MODE_RC_RV);
    dz2 = res.payload_size;
    flipped(a, alen, b, blen, &res, 200, 9, 0);
    dfota_diff_result_free(&res);
    o.codec = DFOTA_ALG_DZ1;
    assert_int_equal(dfota_diff(a, alen, b, blen, &o, &res), DFOTA_OK);
    dz1 = res.payload_size;
    dfota_diff_result_free(&res);
    print_message("riscv: DZ2 (mode 4) %zu bytes, DZ1 %zu\n", dz2, dz1);
    assert_true(dz2 * 2 < dz1);
    /* every layout and output piece size; the small model has none */
    all(a, alen, b, blen);
    g_ram = DFOTA_DECODER_RAM_4K;
    dz2_roundtrip(a, alen, b, blen, &LAYS[0], 0);
    g_ram = 0;
    /* through the engine, with power cuts, both layouts */
    cut_sweep(a, alen, b, blen, 1, 7);
    cut_sweep(a, alen, b, blen, 0, 5);
    free(a);
    free(b);
}

/* The 4k profile's small model (payload mode 2), decoded by this default
 * build: every layout and output piece size, and damaged payloads. */
static void test_small_model(void **st)
{
    size_t sizes[] = { 3000, 40000 }, i, nlen;
    (void)st;
    g_ram = DFOTA_DECODER_RAM_4K;
    for (i = 0; i < 2; i++) {
        uint8_t *a = tu_image(sizes[i], (uint32_t)i + 3);
        uint8_t *b = tu_release(a, sizes[i], (uint32_t)i + 30, &nlen);
        all(a, sizes[i], b, nlen);
        all(b, nlen, a, sizes[i]);
        free(a);
        free(b);
    }
    test_damaged(st);
    g_ram = 0;
}

/* The 4k profile is DZ2 only; other profile figures are refused. */
static void test_profile_args(void **st)
{
    struct dfota_diff_opts o;
    struct dfota_diff_result res;
    uint8_t a[64] = { 1 }, b[64] = { 2 };
    (void)st;
    memset(&o, 0, sizeof o);
    o.decoder_ram = DFOTA_DECODER_RAM_4K;
    o.codec = DFOTA_ALG_DZ1;
    assert_int_equal(dfota_diff(a, sizeof a, b, sizeof b, &o, &res), DFOTA_ERR_ARG);
    o.codec = 0;
    o.decoder_ram = 8192;
    assert_int_equal(dfota_diff(a, sizeof a, b, sizeof b, &o, &res), DFOTA_ERR_ARG);
    o.decoder_ram = DFOTA_DECODER_RAM_4K;
    assert_int_equal(dfota_diff(a, sizeof a, b, sizeof b, &o, &res), DFOTA_OK);
    assert_int_equal(res.algorithm, DFOTA_ALG_DZ2);
    assert_int_equal(res.decoder_ram, DFOTA_DECODER_RAM_4K);
    dfota_diff_result_free(&res);
}

/* In place with direction auto (0): byte for byte the package of one write
 * order, whether the orders are coded side by side (2 threads) or one after
 * the other (1), with both codecs or DZ1 only. That of the smaller order
 * (forward on a tie) where the orders are told apart or both coded to the
 * end (targets under 64 KiB); else (the first DZ2 payloads within 1/256 of
 * each other on a bigger target, docs/delta-format.md) at most 1/256 and 64
 * bytes above it. The pairs: content moved up by 10 sectors (backward
 * wins), moved down (forward wins), a release (inserts, deletes), a byte
 * edited in one sector of a 3000-byte target (the orders alike: both coded
 * to the end, a tie). */
static void diff_dir(const uint8_t *src, size_t slen, const uint8_t *dst, size_t dlen, int dir,
                     int codec, struct dfota_diff_result *res)
{
    struct dfota_diff_opts o;
    memset(&o, 0, sizeof o);
    o.inplace = 1;
    o.sector_size = 4096;
    o.lag = 2;
    o.direction = dir;
    o.codec = codec;
    assert_int_equal(dfota_diff(src, slen, dst, dlen, &o, res), DFOTA_OK);
}

/* Direction plain: the smaller of forward and backward (the order search
 * of direction auto aside). */
static void test_direction_auto(void **st)
{
    const size_t n = 120000, shift = 40960;
    uint8_t *a = tu_image(n, 41), *fresh = tu_image(shift, 43), *up = malloc(n + shift), *rel;
    uint8_t *ed = malloc(n);
    size_t nlen, i, t, c;
    const char *threads[] = { "1", "2" };
    int codecs[] = { 0, DFOTA_ALG_DZ1 };
    (void)st;
    rel = tu_release(a, n, 42, &nlen);
    memcpy(up, fresh, shift);
    memcpy(up + shift, a, n);
    memcpy(ed, a, n);
    ed[1500] ^= 0x5A;
    for (t = 0; t < 2; t++) {
        setenv("DFOTA_THREADS", threads[t], 1);
        for (c = 0; c < 2; c++) {
            for (i = 0; i < 4; i++) {
                /* 0: a -> up, 1: up -> a (down), 2: a -> rel, 3: 3000 bytes a -> ed */
                const uint8_t *src = i == 1 ? up : a;
                const uint8_t *dst = i == 0 ? up : i == 1 ? a : i == 2 ? rel : ed;
                size_t slen = i == 1 ? n + shift : i == 3 ? 3000 : n;
                size_t dlen = i == 0 ? n + shift : i == 1 ? n : i == 2 ? nlen : 3000;
                struct dfota_diff_result f, b, au, *want;
                diff_dir(src, slen, dst, dlen, 1, codecs[c], &f);
                diff_dir(src, slen, dst, dlen, -1, codecs[c], &b);
                diff_dir(src, slen, dst, dlen, 3, codecs[c], &au);
                if (i == 0)
                    assert_true(b.payload_size < f.payload_size);
                if (i == 1)
                    assert_true(f.payload_size < b.payload_size);
                want = b.payload_size < f.payload_size ? &b : &f;
                if (i == 2 && au.flags != want->flags) {
                    /* the other order, told apart by its first DZ2 payload */
                    want = want == &b ? &f : &b;
                    assert_true(au.payload_size <= (f.payload_size < b.payload_size ? f.payload_size
                                                                                    : b.payload_size) *
                                                           257 / 256 + 64);
                }
                assert_int_equal(au.flags, want->flags);
                assert_int_equal(au.algorithm, want->algorithm);
                assert_int_equal(au.payload_size, want->payload_size);
                assert_memory_equal(au.payload, want->payload, au.payload_size);
                assert_int_equal(au.stream_crc32, want->stream_crc32);
                dfota_diff_result_free(&f);
                dfota_diff_result_free(&b);
                dfota_diff_result_free(&au);
            }
        }
    }
    unsetenv("DFOTA_THREADS");
    free(a);
    free(fresh);
    free(up);
    free(rel);
    free(ed);
}

/* A release that moved one region down and another up: forward loses the
 * copies of the region moved up (their source is written over first),
 * backward those of the region moved down. The order search of direction
 * auto writes the region moved up highest first, then the rest lowest
 * first (2 runs): a package far smaller than either plain order's, that
 * decodes exactly, the same with 1 and 2 threads. An explicit order does
 * too, and one that does not name every sector once is refused. */
static void test_direction_runs(void **st)
{
    const size_t n = 144 * 1024, k12 = 12 * 1024;
    uint8_t *a = tu_image(n, 61), *fresh = tu_image(2 * k12, 63), *b = malloc(n + k12);
    struct dfota_diff_result pl, au, au2, ex;
    struct dfota_diff_opts o;
    struct dfota_pkg_run r[2] = { { 3, 6, 0 }, { 0, 3, 1 } };
    size_t blen = n + k12, i;
    (void)st;
    /* P = a[0, 48K) moved down 12K (its first 12K gone), 24K fresh, then
     * Q R = a[48K, 144K) moved up 12K */
    memcpy(b, a + k12, 3 * k12);
    memcpy(b + 3 * k12, fresh, 2 * k12);
    memcpy(b + 5 * k12, a + 4 * k12, n - 4 * k12);
    setenv("DFOTA_THREADS", "1", 1);
    diff_dir(a, n, b, blen, 3, 0, &pl);
    diff_dir(a, n, b, blen, 0, 0, &au);
    setenv("DFOTA_THREADS", "2", 1);
    diff_dir(a, n, b, blen, 0, 0, &au2);
    unsetenv("DFOTA_THREADS");
    assert_int_equal(au.flags & (DFOTA_PKG_F_RUNS | DFOTA_PKG_F_BACKWARD), DFOTA_PKG_F_RUNS);
    assert_true(au.nruns >= 2 && au.nruns <= DFOTA_MAX_RUNS);
    assert_true(au.payload_size * 2 < pl.payload_size);
    assert_int_equal(au2.payload_size, au.payload_size);
    assert_memory_equal(au2.payload, au.payload, au.payload_size);
    assert_int_equal(au2.nruns, au.nruns);
    for (i = 0; i < au.nruns; i++)
        assert_true(au2.runs[i].first == au.runs[i].first && au2.runs[i].n == au.runs[i].n &&
                    au2.runs[i].back == au.runs[i].back);
    for (i = 0; i < 3; i++) {
        static const uint32_t pieces[] = { 1, 4096, 0xFFFFFFFFu };
        assert_int_equal(decode(a, n, b, blen, &au, au.payload, au.payload_size,
                                pieces[i] == 0xFFFFFFFFu ? (uint32_t)blen : pieces[i], 1),
                         DFOTA_OK);
    }
    /* an explicit order on a 36 KiB target: 3-8, then 2-0 */
    memset(&o, 0, sizeof o);
    o.inplace = 1;
    o.sector_size = 4096;
    o.lag = 2;
    o.direction = 2;
    o.order = r;
    o.norder = 2;
    assert_int_equal(dfota_diff(a, 3 * k12, b, 3 * k12, &o, &ex), DFOTA_OK);
    assert_int_equal(ex.flags & DFOTA_PKG_F_RUNS, DFOTA_PKG_F_RUNS);
    assert_int_equal(ex.nruns, 2);
    for (i = 0; i < 2; i++)
        assert_true(ex.runs[i].first == r[i].first && ex.runs[i].n == r[i].n &&
                    ex.runs[i].back == r[i].back);
    assert_int_equal(decode(a, 3 * k12, b, 3 * k12, &ex, ex.payload, ex.payload_size, 777, 1),
                     DFOTA_OK);
    dfota_diff_result_free(&ex);
    r[0].n = 5;               /* sector 8 left out */
    assert_int_equal(dfota_diff(a, 3 * k12, b, 3 * k12, &o, &ex), DFOTA_ERR_ARG);
    r[0].n = 6;
    r[1].first = 1;           /* 3 twice */
    assert_int_equal(dfota_diff(a, 3 * k12, b, 3 * k12, &o, &ex), DFOTA_ERR_ARG);
    dfota_diff_result_free(&pl);
    dfota_diff_result_free(&au);
    dfota_diff_result_free(&au2);
    free(a);
    free(fresh);
    free(b);
}

/* In place with direction plain (forward or backward), a target whose
 * forward order loses many literals (the image moved up by 256 KiB of new
 * bytes: forward, the source is written over before it is read): the
 * forward match stops early (the race, encoder.h) or not, depending on the
 * threads; either way the package is the backward one, byte for byte. */
static void test_direction_race(void **st)
{
    const size_t n = 300000, shift = 262144;
    uint8_t *a = tu_image(n, 51), *fresh = tu_image(shift, 53), *up = malloc(n + shift);
    const char *threads[] = { "1", "2" };
    size_t t;
    (void)st;
    memcpy(up, fresh, shift);
    memcpy(up + shift, a, n);
    for (t = 0; t < 2; t++) {
        struct dfota_diff_result b, au;
        setenv("DFOTA_THREADS", threads[t], 1);
        diff_dir(a, n, up, n + shift, -1, 0, &b);
        diff_dir(a, n, up, n + shift, 3, 0, &au);
        assert_int_equal(au.flags, b.flags);
        assert_int_equal(au.payload_size, b.payload_size);
        assert_memory_equal(au.payload, b.payload, au.payload_size);
        dfota_diff_result_free(&b);
        dfota_diff_result_free(&au);
    }
    unsetenv("DFOTA_THREADS");
    free(a);
    free(fresh);
    free(up);
}

/* In place with direction auto on Thumb code whose DZ1 payloads tell the
 * orders apart, the payload well over 1/20 of the target (code moved up by
 * 3 sectors, backward wins; down, forward wins; half the image new code in
 * place of old): the branch-filter side of the coding runs
 * beside the first parse's (2 threads and more, diff.c code_wide) or after
 * it (1); either way the package is that of the winning order alone, byte
 * for byte. */
static void test_direction_wide(void **st)
{
    const size_t n = 200000, ins = 40000, ins_len = 12288, at = 90000, fl = 100000;
    uint8_t *a = thumb_image(n, ins, 0, 1, 7), *b = thumb_image(n, ins, ins_len, 2, 7);
    uint8_t *fresh = thumb_image(fl, 0, 0, 9, 99), *fresh2 = thumb_image(fl, 0, 0, 11, 101);
    uint8_t *a2 = malloc(n);
    const char *threads[] = { "1", "2", "3" };
    size_t t, i;
    (void)st;
    memcpy(a2, a, n);
    memcpy(a2 + at, fresh2, fl);
    memcpy(b + at + ins_len, fresh, fl);
    for (t = 0; t < 3; t++) {
        setenv("DFOTA_THREADS", threads[t], 1);
        for (i = 0; i < 2; i++) {
            /* 0: a -> b (up), 1: b -> a2 (down) */
            const uint8_t *src = i ? b : a, *dst = i ? a2 : b;
            size_t slen = i ? n + ins_len : n, dlen = i ? n : n + ins_len;
            struct dfota_diff_result one, au;
            diff_dir(src, slen, dst, dlen, i ? 1 : -1, 0, &one);
            diff_dir(src, slen, dst, dlen, 0, 0, &au);
            assert_true(one.payload_size >= dlen / 10);
            assert_int_equal(au.flags, one.flags);
            assert_int_equal(au.algorithm, one.algorithm);
            assert_int_equal(au.payload_size, one.payload_size);
            assert_memory_equal(au.payload, one.payload, au.payload_size);
            dfota_diff_result_free(&one);
            dfota_diff_result_free(&au);
        }
    }
    unsetenv("DFOTA_THREADS");
    free(a);
    free(a2);
    free(b);
    free(fresh);
    free(fresh2);
}

/* ---- in place, target copies over the whole block (DFOTA_PKG_F_BLOCKWIN) ---- */

/* A target that repeats itself within its 4 KiB blocks at distances over
 * the ring's 256 bytes: src with, in every other block, a new 600-byte
 * random chunk at +300 and the same chunk again at +300 + dist (dist 1000
 * to 2000: within the block), bytes the source has nowhere. */
static uint8_t *win_target(const uint8_t *src, size_t n, uint32_t sector, uint32_t seed)
{
    uint8_t *t = malloc(n);
    size_t b, i;
    uint32_t s = seed;
    memcpy(t, src, n);
    for (b = 1; (b + 1) * sector <= n; b += 2) {
        size_t at = b * sector + 300, dist = 1000 + (b * 371) % 1001;
        for (i = 0; i < 600; i++)
            t[at + i] = (uint8_t)tu_rand(&s);
        memcpy(t + at + dist, t + at, 600);
    }
    return t;
}

/* The in-place decode of a payload as a device sees it: the target stream
 * produced so far (stream order) is all read_dst may return, and only from
 * the block the decoder is in (from its first byte to what earlier calls
 * produced). A read outside that is recorded and refused (DFOTA_ERR_IO). */
struct winio {
    const uint8_t *src, *payload;
    size_t src_len, payload_len;
    const uint8_t *made;     /* the target stream produced so far */
    uint32_t made_len;
    const struct dfota_patch *p;
    uint32_t dst_size, sector;
    const struct dfota_pkg_run *runs;
    uint32_t nruns;
    uint32_t reads, bad;     /* read_dst calls, and those refused */
    uint32_t far;            /* bytes read that were more than 256 back */
    uint32_t end_pos;        /* the decoder's stream position when it stopped */
};

/* the first stream position of the block that holds stream position pos */
static uint32_t block_start_of(const struct winio *w, uint32_t pos)
{
    uint32_t i, n = dz_block_count(w->dst_size, w->sector), off, len, addr;
    for (i = 0; i < n; i++) {
        dz_block(i, w->dst_size, w->sector, w->runs, w->nruns, &off, &len, &addr);
        if (pos >= off && pos - off < len)
            return off;
    }
    return w->dst_size;
}

static int win_payload(void *ctx, uint32_t off, uint8_t *buf, uint32_t len)
{
    struct winio *w = ctx;
    if (off > w->payload_len || len > w->payload_len - off)
        return DFOTA_ERR_IO;
    memcpy(buf, w->payload + off, len);
    return DFOTA_OK;
}

static int win_src(void *ctx, uint32_t off, uint8_t *buf, uint32_t len)
{
    struct winio *w = ctx;
    if (off > w->src_len || len > w->src_len - off)
        return DFOTA_ERR_IO;
    memcpy(buf, w->src + off, len);
    return DFOTA_OK;
}

static int win_dst(void *ctx, uint32_t off, uint8_t *buf, uint32_t len)
{
    struct winio *w = ctx;
    uint32_t pos = w->p->st.out_pos, from = block_start_of(w, pos);
    w->reads++;
    if (!len || off < from || off > w->made_len || len > w->made_len - off) {
        w->bad++;
        return DFOTA_ERR_IO;
    }
    if (pos - off > 256)
        w->far += len;
    memcpy(buf, w->made + off, len);
    return DFOTA_OK;
}

/* Decode an in-place payload (res's layout, sector `sector`, header flags
 * `flags`) in calls of `piece` bytes (0: varying sizes); the stream must
 * equal want (address order through the blocks) when want is not NULL.
 * Returns the decoder's error; *w has the read_dst figures. */
static int win_decode(const uint8_t *src, size_t slen, const uint8_t *want, size_t dlen,
                      const struct dfota_diff_result *res, const uint8_t *payload, size_t plen,
                      uint32_t sector, uint32_t flags, uint32_t piece, struct winio *w)
{
    static struct dfota_patch p;
    struct dfota_pkg_header h;
    uint8_t *out = malloc(dlen + 1);
    struct dfota_pkg_run one;
    struct dfota_patch_io io = { w, win_payload, win_src, win_dst, res->runs, res->nruns };
    uint32_t pos = 0, k = 0, i, n;
    int rc;

    assert_non_null(out);
    memset(w, 0, sizeof *w);
    w->src = src;
    w->src_len = slen;
    w->payload = payload;
    w->payload_len = plen;
    w->made = out;
    w->p = &p;
    w->dst_size = (uint32_t)dlen;
    w->sector = sector;
    /* the write order: the header's runs, or its one run (forward or backward) */
    if (flags & DFOTA_PKG_F_RUNS) {
        w->runs = res->runs;
        w->nruns = res->nruns;
    } else {
        dz_one_run(&one, (uint32_t)dlen, sector, (flags & DFOTA_PKG_F_BACKWARD) != 0);
        w->runs = &one;
        w->nruns = 1;
    }
    if (!(flags & DFOTA_PKG_F_RUNS))
        io.nruns = 0;
    memset(&h, 0, sizeof h);
    h.algorithm = res->algorithm;
    h.coder = DFOTA_CODER_RC1;
    h.src_size = (uint32_t)slen;
    h.dst_size = (uint32_t)dlen;
    h.payload_size = (uint32_t)plen;
    h.flags = flags;
    h.sector_size = sector;
    h.nruns = io.nruns;
    memcpy(h.runs, res->runs, sizeof h.runs);
    assert_int_equal(dfota_patch_init(&p, &h), DFOTA_OK);
    rc = DFOTA_OK;
    while (pos < dlen) {
        n = piece ? piece : 1 + (k++ * 53) % 700;
        if (n > dlen - pos)
            n = (uint32_t)(dlen - pos);
        if ((rc = dfota_patch_decode(&p, &io, out + pos, n)))
            break;
        pos += n;
        w->made_len = pos;           /* what the device has programmed by now */
    }
    w->end_pos = p.st.out_pos;
    if (!rc && !dfota_patch_done(&p))
        rc = DFOTA_ERR_CORRUPT;
    if (!rc && want) {
        n = dz_block_count((uint32_t)dlen, sector);
        for (i = 0; i < n; i++) {
            uint32_t off, len, addr;
            dz_block(i, (uint32_t)dlen, sector, w->runs, w->nruns, &off, &len, &addr);
            assert_memory_equal(out + off, want + addr, len);
        }
    }
    free(out);
    return rc;
}

static void win_diff(const uint8_t *src, size_t slen, const uint8_t *dst, size_t dlen,
                     uint32_t sector, int direction, int window, struct dfota_diff_result *res)
{
    struct dfota_diff_opts o;
    memset(&o, 0, sizeof o);
    o.inplace = 1;
    o.sector_size = sector;
    o.lag = 2;
    o.direction = direction;
    o.codec = DFOTA_ALG_DZ2;
    o.window = window;
    o.decoder_ram = g_ram;
    assert_int_equal(dfota_diff(src, slen, dst, dlen, &o, res), DFOTA_OK);
    assert_int_equal(res->algorithm, DFOTA_ALG_DZ2);
    assert_true(res->flags & DFOTA_PKG_F_INPLACE);
}

/* With window BLOCK the repeats are target copies (smaller than RING's
 * literals); with DFOTA_PKG_F_BLOCKWIN in the header the payload decodes
 * to the target, its far bytes read back from the current block only, in
 * any output piece size; the same payload under a header without the flag
 * fails with DFOTA_ERR_CORRUPT, never with a wrong target. The ring's
 * payload needs no read-back. dfota_diff alone takes AUTO as RING. Forward,
 * backward and the order search (direction auto), the full model and the
 * 4k profile's small one. */
static void test_blockwin_decode(void **st)
{
    static const uint32_t pieces[] = { 0, 1, 200, 256, 257, 4096, 0xFFFFFFFFu };
    static const int dirs[] = { DFOTA_DIR_FORWARD, DFOTA_DIR_BACKWARD, DFOTA_DIR_AUTO };
    static const char *names[] = { "forward", "backward", "auto" };
    const size_t n = 40000;
    uint8_t *a = tu_image(n, 71), *b = win_target(a, n, 4096, 72);
    size_t d, i;
    (void)st;
    for (d = 0; d < 6; d++) {
        struct dfota_diff_result ring, blk, au;
        struct winio w;
        uint32_t fl;
        g_ram = d < 3 ? 0 : DFOTA_DECODER_RAM_4K;   /* the full model, then the small one */
        win_diff(a, n, b, n, 4096, dirs[d % 3], DFOTA_WIN_RING, &ring);
        win_diff(a, n, b, n, 4096, dirs[d % 3], DFOTA_WIN_BLOCK, &blk);
        win_diff(a, n, b, n, 4096, dirs[d % 3], DFOTA_WIN_AUTO, &au);
        g_ram = 0;
        print_message("blockwin %s%s: ring %zu bytes, block %zu\n", names[d % 3],
                      d < 3 ? "" : " (4k)", ring.payload_size, blk.payload_size);
        /* 4 blocks of 600 repeated bytes: literals under the ring */
        assert_true(blk.payload_size + 4 * 400 < ring.payload_size);
        assert_false(blk.flags & DFOTA_PKG_F_BLOCKWIN);   /* (the package sets it) */
        if (d % 3 != 2)
            assert_int_equal(blk.flags, ring.flags);
        assert_int_equal(au.payload_size, ring.payload_size);
        assert_memory_equal(au.payload, ring.payload, ring.payload_size);
        fl = blk.flags | DFOTA_PKG_F_BLOCKWIN;
        for (i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
            uint32_t piece = pieces[i] == 0xFFFFFFFFu ? (uint32_t)n : pieces[i];
            assert_int_equal(win_decode(a, n, b, n, &blk, blk.payload, blk.payload_size, 4096, fl,
                                        piece, &w), DFOTA_OK);
            assert_int_equal(w.bad, 0);
            if (piece < 1000)
                assert_true(w.far > 0);      /* the repeats came back through read_dst */
        }
        /* the same payload, the header without the flag */
        assert_int_equal(win_decode(a, n, b, n, &blk, blk.payload, blk.payload_size, 4096,
                                    blk.flags, 0, &w), DFOTA_ERR_CORRUPT);
        assert_int_equal(w.reads, 0);
        assert_int_equal(win_decode(a, n, b, n, &blk, blk.payload, blk.payload_size, 4096,
                                    blk.flags, (uint32_t)n, &w), DFOTA_ERR_CORRUPT);
        /* the ring's payload: no read-back, with the flag or without */
        assert_int_equal(win_decode(a, n, b, n, &ring, ring.payload, ring.payload_size, 4096,
                                    ring.flags, 0, &w), DFOTA_OK);
        assert_int_equal(w.reads, 0);
        dfota_diff_result_free(&ring);
        dfota_diff_result_free(&blk);
        dfota_diff_result_free(&au);
    }
    free(a);
    free(b);
}

/* The decoder never asks read_dst for a byte before the current block:
 * a payload made for 8 KiB blocks whose repeats cross the 4 KiB line
 * (chunk at 3000, again at 5000), decoded as if its blocks were 4 KiB
 * with the flag, is refused (DFOTA_ERR_CORRUPT) at the repeat, stream
 * byte 5000, with no read before the block start; and damaged BLOCKWIN payloads never make such a read
 * either (any other result is allowed). */
static void test_blockwin_block_start(void **st)
{
    const size_t n = 32768;
    uint8_t *a = tu_image(n, 81), *b = malloc(n);
    struct dfota_diff_result r8, blk;
    struct winio w;
    uint32_t s = 83, fl;
    size_t i, k;
    int rc;
    (void)st;
    memcpy(b, a, n);
    for (i = 0; i < 600; i++)
        b[3000 + i] = (uint8_t)tu_rand(&s);
    memcpy(b + 5000, b + 3000, 600);
    win_diff(a, n, b, n, 8192, DFOTA_DIR_FORWARD, DFOTA_WIN_BLOCK, &r8);
    fl = r8.flags | DFOTA_PKG_F_BLOCKWIN;
    /* at its own sector size it decodes, reading back across 4096 */
    assert_int_equal(win_decode(a, n, b, n, &r8, r8.payload, r8.payload_size, 8192, fl, 256, &w),
                     DFOTA_OK);
    assert_int_equal(w.bad, 0);
    assert_true(w.far > 0);
    for (k = 0; k < 3; k++) {
        static const uint32_t pieces[] = { 256, 0, 4096 };
        rc = win_decode(a, n, b, n, &r8, r8.payload, r8.payload_size, 4096, fl, pieces[k], &w);
        assert_int_equal(w.bad, 0);
        assert_int_equal(rc, DFOTA_ERR_CORRUPT);
        assert_int_equal(w.end_pos, 5000);   /* at the repeat, whose bytes are in block 0 */
    }
    dfota_diff_result_free(&r8);
    /* damaged payloads, with the flag: no read outside the block */
    free(b);
    b = win_target(a, n, 4096, 84);
    win_diff(a, n, b, n, 4096, DFOTA_DIR_FORWARD, DFOTA_WIN_BLOCK, &blk);
    fl = blk.flags | DFOTA_PKG_F_BLOCKWIN;
    for (k = 0; k < 300; k++) {
        uint8_t *p = malloc(blk.payload_size);
        memcpy(p, blk.payload, blk.payload_size);
        p[1 + tu_rand(&s) % (blk.payload_size - 1)] ^= (uint8_t)(1u << (tu_rand(&s) & 7));
        (void)win_decode(a, n, NULL, n, &blk, p, blk.payload_size, 4096, fl,
                         k % 2 ? 256 : 0, &w);
        if (w.bad)
            fail_msg("damaged payload %zu: %u read_dst calls outside the block", k, w.bad);
        free(p);
    }
    dfota_diff_result_free(&blk);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny),
        cmocka_unit_test(test_release),
        cmocka_unit_test(test_self_repeats),
        cmocka_unit_test(test_random_stored),
        cmocka_unit_test(test_engine),
        cmocka_unit_test(test_damaged),
        cmocka_unit_test(test_thumb_filter),
        cmocka_unit_test(test_riscv),
        cmocka_unit_test(test_small_model),
        cmocka_unit_test(test_profile_args),
        cmocka_unit_test(test_direction_auto),
        cmocka_unit_test(test_direction_race),
        cmocka_unit_test(test_direction_runs),
        cmocka_unit_test(test_direction_wide),
        cmocka_unit_test(test_blockwin_decode),
        cmocka_unit_test(test_blockwin_block_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
