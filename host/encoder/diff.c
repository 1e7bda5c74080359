/* dfota_diff: stream order, suffix array, matching, entropy coding. */
#include <divsufsort.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "dfota/error.h"
#include "dfota/patch.h"
#include "dfota/sha256.h"
#include "dz2.h"
#include "encoder.h"

/* Target bytes in the order the device produces them. */
static uint8_t *stream_order(const uint8_t *dst, size_t n, uint32_t sector, int backward)
{
    uint32_t blocks = dz_block_count((uint32_t)n, sector), i;
    uint8_t *t = malloc(n ? n : 1);

    if (!t)
        return NULL;
    for (i = 0; i < blocks; i++) {
        uint32_t off, len, addr;
        dz_block(i, (uint32_t)n, sector, backward, &off, &len, &addr);
        memcpy(t + off, dst + addr, len);
    }
    return t;
}

/* Keep payload p if it is the first or the smallest so far. */
static void keep(struct dfota_diff_result *res, int *rc, uint8_t *p, size_t plen, uint8_t alg)
{
    if (!*rc && (!res->payload || plen < res->payload_size)) {
        free(res->payload);
        res->payload = p;
        res->payload_size = plen;
        res->algorithm = alg;
    } else {
        free(p);
    }
}


static void phase(const struct dfota_diff_opts *o, int ph, unsigned i, unsigned n)
{
    if (o->phase)
        o->phase(o->progress_ctx, ph, i, n);
}

/* Reference prediction pays on code and costs a little elsewhere. The
 * settings tried: */
static const unsigned settings[] = {
    0, DZ_X_THUMB, DZ_X_PTR32, DZ_X_THUMB | DZ_X_PTR32, DZ_X_ARM, DZ_X_ARM | DZ_X_PTR32,
    DZ_X_BYTECTX, DZ_X_BYTECTX | DZ_X_THUMB | DZ_X_PTR32, DZ_X_BYTECTX | DZ_X_ARM | DZ_X_PTR32 };
#define NSETTINGS (sizeof settings / sizeof settings[0])
/* Settings counted within this many bits of the cheapest are encoded too
 * (the count is ideal code lengths; the coder adds a few bytes). */
#define XSEL_MARGIN 64.0

/* Encode ops (DZ1) or ops2 (DZ2) with the settings whose copy bytes and
 * preamble cost the least (xselect.c); keep the smallest payload in res,
 * and the settings of the smallest one encoded here in x->flags. With cost
 * (DZ2), what that one spends per position too (dz2_encode_costs).
 * DFOTA_XSEL=all (tests, bench): encode with every setting, and print the
 * counts against the payload sizes on stderr. */
static int encode_best(const struct dz_match_ctx *c, const struct dz_oplist *ops,
                       const struct dz2_oplist *ops2, struct dz_xparams *x, unsigned extra,
                       const struct dfota_diff_opts *o, struct dfota_diff_result *res,
                       struct dz2_costs *cost, size_t *kept_size)
{
    /* The stored payload (dst_len + 1 bytes) follows unless only DZ1 is
     * wanted. A payload above it by more than the margin, 0.4% (the count's
     * worst error seen is a few bytes) and 64 bytes cannot be beaten by the
     * stored one's rivals: the other settings are not encoded (random or
     * compressed targets, where DZ1 comes out ~2.4% over the stored size). */
    size_t lose = o->codec == DFOTA_ALG_DZ1 || c->dst_len < 4
                      ? (size_t)-1
                      : c->dst_len + 1 + (size_t)(XSEL_MARGIN / 8) + c->dst_len / 256 + 64;
    struct dz_copyrun *runs;
    size_t n = 0, k, t = 0, nops = ops ? ops->n : ops2->n;
    double bits[NSETTINGS], pair[NSETTINGS][2], best = 0;
    const char *env = getenv("DFOTA_XSEL");
    int all = env && !strcmp(env, "all"), rc = DFOTA_OK;
    unsigned s, todo = 0, done = 0, kept = 0, counted = 0;
    size_t kept_len = 0;

    runs = malloc((nops ? nops : 1) * sizeof *runs);
    if (!runs)
        return DFOTA_ERR_ARG;
    for (k = 0; k < nops; k++) {
        uint32_t len = ops ? ops->v[k].len : ops2->v[k].len;
        if (ops ? !ops->v[k].lit : ops2->v[k].kind == DZ2_OP_COPY) {
            runs[n].t = (uint32_t)t;
            runs[n].src = ops ? ops->v[k].src : ops2->v[k].u;
            runs[n].len = len;
            n++;
        }
        t += len;
    }
    for (s = 0; s < NSETTINGS; s++) {
        /* one count gives a setting with and without DZ_X_BYTECTX */
        unsigned f = settings[s] & ~DZ_X_BYTECTX, j;
        for (j = 0; j < s && (settings[j] & ~DZ_X_BYTECTX) != f; j++)
            ;
        if (j == s) {
            x->flags = f;
            dz_setting_bits(c, runs, n, x, ops == NULL, pair[s]);
        }
        bits[s] = pair[j][(settings[s] & DZ_X_BYTECTX) != 0];
        if (bits[s] == 0)
            rc = DFOTA_ERR_ARG;
        if (!s || bits[s] < best)
            best = bits[s];
    }
    free(runs);
    for (s = 0; s < NSETTINGS; s++)
        todo += all || bits[s] <= best + XSEL_MARGIN;
    for (s = 0; !rc && s < NSETTINGS; s++) {
        uint8_t *p = NULL;
        size_t plen = 0;
        if (!all && bits[s] > best + XSEL_MARGIN)
            continue;
        if (!all && done && res->payload && res->payload_size > lose)
            break;   /* the other settings code the same bytes to within the margin: they lose too */
        x->flags = settings[s] | extra;
        phase(o, DFOTA_DIFF_ENCODE, done, todo);
        if (cost && !done) {
            counted = x->flags;
            rc = dz2_encode_costs(c, ops2, x, cost, &p, &plen);
        } else {
            rc = ops ? dz_encode_ops(c, ops, x, &p, &plen) : dz2_encode_ops(c, ops2, x, &p, &plen);
        }
        done++;
        if (all && !rc)
            fprintf(stderr, "xsel dz%d x=%2u: counted %.1f B over the cheapest, payload %zu B\n",
                    ops ? 1 : 2, settings[s], (bits[s] - best) / 8, plen);
        if (!rc && (!kept_len || plen < kept_len)) {
            kept_len = plen;
            kept = x->flags;
        }
        keep(res, &rc, p, plen, ops ? DFOTA_ALG_DZ1 : DFOTA_ALG_DZ2);
    }
    x->flags = kept;
    if (kept_size)
        *kept_size = kept_len ? kept_len : (size_t)-1;
    if (!rc && cost && kept != counted)
        rc = dz2_encode_costs(c, ops2, x, cost, NULL, NULL);
    return rc;
}

/* Is the target Thumb-2 code, worth the branch filter? A BL (J1 = J2 = 1)
 * at least every 256 bytes on average. */
static int thumb_code(const uint8_t *d, size_t n)
{
    size_t i, bl = 0;
    for (i = 0; i + 4 <= n; i += 2)
        if (dz2_bl_first(d[i + 1]) && dz2_bl_second(d[i + 3])) {
            bl++;
            i += 2;
        }
    return n >= 1024 && bl * 256 >= n;
}

/* A first DZ2 parse (with the branch filter or not): the parser, kept for
 * the second parse, its operations, coded with the best settings (kept in
 * flags, their payload's size in len), and what they cost per position. */
struct dz2_try {
    struct dz2_parser *pp;
    struct dz2_oplist one;
    struct dz2_costs cost;
    unsigned flags;
    size_t len;
    int blf;
};

static int dz2_first(const struct dz_match_ctx *c, const struct dz_oplist *ops, int blf,
                     struct dz_xparams *x, const struct dfota_diff_opts *o,
                     struct dfota_diff_result *res, struct dz2_try *f)
{
    int rc;
    f->blf = blf;
    f->len = (size_t)-1;
    f->pp = dz2_parser_new(c, blf);
    f->cost.q = malloc((c->dst_len ? c->dst_len : 1) * sizeof *f->cost.q);
    rc = f->pp && f->cost.q ? DFOTA_OK : DFOTA_ERR_ARG;
    if (!rc)
        rc = dz2_parser_run(f->pp, ops, NULL, NULL, &f->one);
    if (!rc)
        rc = encode_best(c, NULL, &f->one, x, blf ? DZ2_X_BLF : 0, o, res, &f->cost, &f->len);
    f->flags = x->flags;
    return rc;
}

/* The DZ2 parses: the first, coded with the best settings; on Thumb code
 * also with the branch filter (dfota/delta2.h), unless the payload is
 * already under 1/20 of the target: the filter pays where much new code is
 * coded (literals, exact copies), on small steps the approximate copies'
 * pointer prediction already holds the moved branches (on the corpus it
 * won on no pair under 1/20, on every one above). Then the second parse of
 * the smaller of those (dz2_parser_run), priced with what the first one's
 * operations cost, coded with the same settings. The smallest payload goes
 * to res. */
static int dz2_parses(const struct dz_match_ctx *c, const struct dz_oplist *ops,
                      struct dz_xparams *x, const struct dfota_diff_opts *o,
                      struct dfota_diff_result *res)
{
    struct dz2_try f[2];
    struct dz2_oplist two = { 0 };
    uint8_t *p = NULL;
    size_t plen = 0, dst_len = c->dst_len;
    int rc, w = 0, k;

    memset(f, 0, sizeof f);
    rc = dz2_first(c, ops, 0, x, o, res, &f[0]);
    if (!rc && !c->small && res->payload_size >= dst_len / 20 && thumb_code(c->dst, dst_len)) {
        dz2_parser_free(f[0].pp);           /* (one parser at a time) */
        f[0].pp = NULL;
        rc = dz2_first(c, ops, 1, x, o, res, &f[1]);
        w = f[1].len < f[0].len;
    }
    dz2_parser_free(f[!w].pp);              /* (one parser at a time) */
    f[!w].pp = NULL;
    free(f[!w].cost.q);
    f[!w].cost.q = NULL;
    if (!rc && !f[w].pp) {
        f[w].pp = dz2_parser_new(c, f[w].blf);
        if (!f[w].pp)
            rc = DFOTA_ERR_ARG;
    }
    if (!rc)
        rc = dz2_parser_run(f[w].pp, ops, &f[w].one, &f[w].cost, &two);
    for (k = 0; k < 2; k++) {
        dz2_parser_free(f[k].pp);
        free(f[k].cost.q);
        free(f[k].one.v);
    }
    if (!rc) {
        x->flags = f[w].flags;
        phase(o, DFOTA_DIFF_ENCODE, 0, 1);
        rc = dz2_encode_ops(c, &two, x, &p, &plen);
        keep(res, &rc, p, plen, DFOTA_ALG_DZ2);
    }
    free(two.v);
    return rc;
}

/* Does the target repeat itself? Every 16th position's next 24 bytes go
 * into a table, every position is looked up: any repeat of 40 bytes or more
 * is seen. Returns 1 when repeats cover at least 1/128 of n (or out of
 * memory: then the parse runs as usual). */
static int self_repeats(const uint8_t *d, size_t n)
{
    unsigned bits = 10;
    uint32_t *tab;
    size_t i, covered = 0;
    const size_t L = 24;

    while (bits < 26 && ((size_t)1 << bits) < n / 8)
        bits++;
    tab = malloc(sizeof *tab << bits);
    if (!tab)
        return 1;
    memset(tab, 0xFF, sizeof *tab << bits);
    for (i = 0; i + L <= n;) {
        uint64_t a, b, h;
        uint32_t e;
        memcpy(&a, d + i, 8);
        memcpy(&b, d + i + 16, 8);
        h = ((a * 0x9E3779B97F4A7C15ull) ^ (b * 0xC2B2AE3D27D4EB4Full)) >> (64 - bits);
        e = tab[h];
        if (e != 0xFFFFFFFFu && memcmp(d + e, d + i, L) == 0) {
            covered += L;
            i += L;
            continue;
        }
        if (!(i & 15))
            tab[h] = (uint32_t)i;
        i++;
    }
    free(tab);
    return covered >= n / 128;
}

/* Bytes of the target that DZ1's copies take from the source. */
static size_t copied(const struct dz_oplist *ops)
{
    size_t k, n = 0;
    for (k = 0; k < ops->n; k++)
        if (!ops->v[k].lit)
            n += ops->v[k].len;
    return n;
}

/* Does d look like random bytes to an order-0 model (at least 7.9 bits a
 * byte), so that no literal coder gains on it? */
static int flat_bytes(const uint8_t *d, size_t n)
{
    size_t cnt[256] = { 0 }, i;
    double bits = 0;
    for (i = 0; i < n; i++)
        cnt[d[i]]++;
    for (i = 0; i < 256; i++)
        if (cnt[i])
            bits -= (double)cnt[i] * log2((double)cnt[i] / (double)n);
    return bits >= 7.9 * (double)n;
}

/* Worth parsing for DZ2? Not when DZ1, which copies what the source holds
 * and codes literals with a context model, saved under 1% on a target of
 * 64 KiB or more that does not repeat itself either (random or compressed
 * data): then the stored payload is as good, and the parse's hash chains the
 * slowest part. The 4k profile runs no DZ1 payload to judge by: there DZ1's
 * copies covering under 1% of the target and bytes that look random to an
 * order-0 model stand in for it. */
static int dz2_worth(const struct dz_match_ctx *c, const struct dz_oplist *ops,
                     const struct dfota_diff_result *res)
{
    if (c->dst_len < 65536)
        return 1;
    if (res->payload ? res->payload_size < c->dst_len - c->dst_len / 100
                     : copied(ops) >= c->dst_len / 100 || !flat_bytes(c->dst, c->dst_len))
        return 1;
    return self_repeats(c->dst, c->dst_len);
}

/* One write order: its matching context, the DZ1 ops found, and (in place)
 * the target in stream order. */
struct pass {
    struct dz_match_ctx c;
    struct dz_oplist ops;
    uint8_t *t;
};

static void pass_free(struct pass *ps)
{
    free(ps->ops.v);
    free(ps->t);
    memset(ps, 0, sizeof *ps);
}

/* Matching: the only step that reads the suffix array and the 5-gram set. */
static int match_one(const uint8_t *src, size_t src_len, const int32_t *sa, const uint8_t *grams,
                     unsigned gram_bits, const uint8_t *dst, size_t dst_len,
                     const struct dfota_diff_opts *o, int backward, unsigned pass, unsigned passes,
                     struct pass *ps)
{
    struct dz_match_ctx *c = &ps->c;

    memset(ps, 0, sizeof *ps);
    c->src = src;
    c->src_len = src_len;
    c->sa = sa;
    c->grams = grams;
    c->gram_bits = gram_bits;
    c->inplace = o->inplace;
    c->backward = backward;
    c->sector = o->inplace ? o->sector_size : 0;
    c->nblocks = dz_block_count((uint32_t)dst_len, c->sector);
    c->lag = o->inplace ? o->lag : 0;
    c->progress = o->progress;
    c->progress_ctx = o->progress_ctx;
    c->phase = o->phase;
    c->pass = pass;
    c->passes = passes;
    c->small = o->decoder_ram == DFOTA_DECODER_RAM_4K;
    if (o->inplace) {
        ps->t = stream_order(dst, dst_len, c->sector, backward);
        if (!ps->t)
            return DFOTA_ERR_ARG;
        c->dst = ps->t;
    } else {
        c->dst = dst;
    }
    c->dst_len = dst_len;

    phase(o, DFOTA_DIFF_MATCH, pass, passes);
    return dz_match(c, &ps->ops);
}

/* Coding: the DZ1 payload, the DZ2 parse and payload, the stored one; the
 * smallest goes to res. */
static int code_one(struct pass *ps, const struct dfota_diff_opts *o, struct dfota_diff_result *res)
{
    struct dz_match_ctx *c = &ps->c;
    struct dz_oplist *ops = &ps->ops;
    size_t k, dst_len = c->dst_len;
    int rc = DFOTA_OK;
    struct dz_xparams *x = calloc(1, sizeof *x);

    memset(res, 0, sizeof *res);
    c->sa = NULL;                  /* freed by now */
    c->grams = NULL;
    if (!x)
        rc = DFOTA_ERR_ARG;
    if (!rc) {
        dz_build_map(c, ops, x);
        x->base = dz_guess_base(c, ops, x);
    }
    /* (the 4k decoder RAM profile has DZ2's small model only) */
    if (!rc && o->codec != DFOTA_ALG_DZ2 && !c->small)
        rc = encode_best(c, ops, NULL, x, 0, o, res, NULL, NULL);
    /* (an empty target is DZ1's, unless DZ2 is asked for or the only one) */
    if (!rc && o->codec != DFOTA_ALG_DZ1 && (dst_len || o->codec == DFOTA_ALG_DZ2 || c->small)) {
        /* DZ2: one parse, coded with the best settings; then the stored
         * payload, so no package grows much beyond the target. */
        if (dz2_worth(c, ops, res))
            rc = dz2_parses(c, ops, x, o, res);
        if (!rc && dst_len >= 4) {      /* a payload holds at least 5 bytes */
            uint8_t *p = NULL;
            size_t plen = 0;
            rc = dz2_stored(c, &p, &plen);
            keep(res, &rc, p, plen, DFOTA_ALG_DZ2);
        }
    }
    free(x);
    if (!rc) {
        res->flags = (o->inplace ? DFOTA_PKG_F_INPLACE : 0) |
                     (o->inplace && c->backward ? DFOTA_PKG_F_BACKWARD : 0);
        res->sector_size = c->sector;
        res->lag = c->lag;
        res->stream_crc32 = dfota_crc32(0, c->dst, dst_len);
        res->decoder_ram = c->small ? DFOTA_DECODER_RAM_4K : (uint32_t)sizeof(struct dfota_patch);
        res->ops = ops->n;
        for (k = 0; k < ops->n; k++) {
            if (ops->v[k].lit)
                res->literal_bytes += ops->v[k].len;
            else
                res->copy_bytes += ops->v[k].len;
        }
    } else {
        dfota_diff_result_free(res);
    }
    return rc;
}

int dfota_diff(const uint8_t *src, size_t src_len, const uint8_t *dst, size_t dst_len,
               const struct dfota_diff_opts *o, struct dfota_diff_result *res)
{
    int32_t *sa = NULL;
    uint8_t *grams = NULL;
    unsigned gram_bits = DZ_GRAM_BITS, n, i;
    int rc = DFOTA_OK;
    struct pass ps[2];
    struct dfota_diff_result r2[2];

    struct dfota_diff_opts oc;

    memset(res, 0, sizeof *res);
    memset(ps, 0, sizeof ps);
    if (!o->codec && getenv("DFOTA_CODEC")) {
        /* bench and tests: force one codec (1 = DZ1, 2 = DZ2) */
        oc = *o;
        oc.codec = atoi(getenv("DFOTA_CODEC"));
        o = &oc;
    }
    phase(o, DFOTA_DIFF_SORT, 0, 1);
    if (src_len > 0x7FFFFFFF || dst_len > 0xFFFFFFFFu)
        return DFOTA_ERR_ARG;
    /* the profiles: the 4k one has DZ2's small model only */
    if ((o->decoder_ram && o->decoder_ram != DFOTA_DECODER_RAM_4K &&
         o->decoder_ram != DFOTA_DECODER_RAM_16K) ||
        (o->decoder_ram == DFOTA_DECODER_RAM_4K && o->codec == DFOTA_ALG_DZ1))
        return DFOTA_ERR_ARG;
    if (o->inplace && (o->sector_size < 256 || (o->sector_size & (o->sector_size - 1)) ||
                       o->lag > DFOTA_MAX_LAG))
        return DFOTA_ERR_ARG;
    if (src_len) {
        sa = malloc(src_len * sizeof *sa);
        if (!sa)
            return DFOTA_ERR_ARG;
        if (divsufsort(src, sa, (saidx_t)src_len) != 0) {
            free(sa);
            return DFOTA_ERR_ARG;
        }
        for (gram_bits = DZ_GRAM_BITS; gram_bits < DZ_GRAM_BITS_MAX && ((size_t)1 << gram_bits) < src_len * 16;
             gram_bits++)
            ;
        grams = calloc(1, (size_t)1 << (gram_bits - 3));
        if (grams) {
            size_t j;
            for (j = 0; j + 5 <= src_len; j++)
                dz_gram_add(grams, gram_bits, o->inplace, src + j);
        }
    }
    /* In place, the better write order depends on which way code moved:
     * both are matched, then both coded. The suffix array and the 5-gram set
     * go before the coding, which needs memory of its own (the DZ2 parse). */
    n = o->inplace && !o->direction ? 2 : 1;
    for (i = 0; i < n && !rc; i++)
        rc = match_one(src, src_len, sa, grams, gram_bits, dst, dst_len, o,
                       n == 2 ? (int)i : o->direction < 0, i, n, &ps[i]);
    free(sa);
    free(grams);
    /* the second pass's target in stream order is made again when its
     * coding starts: not held while the first is coded */
    for (i = 1; i < n; i++) {
        free(ps[i].t);
        ps[i].t = NULL;
        ps[i].c.dst = NULL;
    }
    for (i = 0; i < n && !rc; i++) {
        phase(o, DFOTA_DIFF_CODE, i, n);
        if (o->inplace && !ps[i].t) {
            ps[i].t = stream_order(dst, dst_len, ps[i].c.sector, ps[i].c.backward);
            if (!ps[i].t) {
                rc = DFOTA_ERR_ARG;
                if (i)
                    dfota_diff_result_free(&r2[0]);
                break;
            }
            ps[i].c.dst = ps[i].t;
        }
        rc = code_one(&ps[i], o, &r2[i]);
        pass_free(&ps[i]);
        if (rc && i)
            dfota_diff_result_free(&r2[0]);
    }
    for (i = 0; i < n; i++)
        pass_free(&ps[i]);
    if (rc)
        return rc;
    if (n == 2 && r2[1].payload_size < r2[0].payload_size) {
        dfota_diff_result_free(&r2[0]);
        *res = r2[1];
    } else {
        if (n == 2)
            dfota_diff_result_free(&r2[1]);
        *res = r2[0];
    }
    return DFOTA_OK;
}

void dfota_diff_result_free(struct dfota_diff_result *res)
{
    free(res->payload);
    res->payload = NULL;
}
