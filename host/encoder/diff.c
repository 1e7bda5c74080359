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
#include "par.h"

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

/* The counts of the distinct settings (dz_setting_bits), one a job. */
struct count_job {
    const struct dz_match_ctx *c;
    const struct dz_copyrun *runs;
    size_t n;
    const struct dz_xparams *x;
    int dz2;
    unsigned flags[NSETTINGS];
    double pair[NSETTINGS][2];
};

static void count_run(void *p, unsigned i)
{
    struct count_job *j = p;
    struct dz_xparams x = *j->x;
    x.flags = j->flags[i];
    dz_setting_bits(j->c, j->runs, j->n, &x, j->dz2, j->pair[i]);
}

/* The payloads of the settings chosen, one a job. */
struct enc_job {
    const struct dz_match_ctx *c;
    const struct dz_oplist *ops;
    const struct dz2_oplist *ops2;
    const struct dz_xparams *x;
    unsigned flags[NSETTINGS];
    uint8_t *p[NSETTINGS];
    size_t plen[NSETTINGS];
    int rc[NSETTINGS];
    struct dz2_costs *cost;   /* the first payload's counted costs, if not NULL */
};

static void enc_run(void *p, unsigned i)
{
    struct enc_job *j = p;
    struct dz_xparams x = *j->x;
    x.flags = j->flags[i];
    j->p[i] = NULL;
    j->plen[i] = 0;
    if (!i && j->cost)
        j->rc[i] = dz2_encode_costs(j->c, j->ops2, &x, j->cost, &j->p[i], &j->plen[i]);
    else
        j->rc[i] = j->ops ? dz_encode_ops(j->c, j->ops, &x, &j->p[i], &j->plen[i])
                          : dz2_encode_ops(j->c, j->ops2, &x, &j->p[i], &j->plen[i]);
}

static void enc_run_rest(void *p, unsigned i)
{
    enc_run(p, i + 1);
}

/* Encode ops (DZ1) or ops2 (DZ2) with the settings whose copy bytes and
 * preamble cost the least (xselect.c); keep the smallest payload in res,
 * and (unless NULL) the settings and size of the smallest one made here in
 * *kept_flags and *kept_size (size -1 if none), and in *cost (DZ2, unless
 * NULL) what that one spends (dz2_encode_costs). The counts, then the payloads, are made in parallel (par.h) and taken in
 * the order of settings[], as one after the other would.
 * DFOTA_XSEL=all (tests, bench): encode with every setting, and print the
 * counts against the payload sizes on stderr. */
static int encode_best(const struct dz_match_ctx *c, const struct dz_oplist *ops,
                       const struct dz2_oplist *ops2, const struct dz_xparams *x, unsigned extra,
                       const struct dfota_diff_opts *o, struct dfota_diff_result *res,
                       unsigned *kept_flags, size_t *kept_size, struct dz2_costs *cost)
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
    double bits[NSETTINGS], best = 0;
    const char *env = getenv("DFOTA_XSEL");
    int all = env && !strcmp(env, "all"), rc = DFOTA_OK;
    unsigned s, todo = 0, done = 0, nf = 0, slot[NSETTINGS], m = 0, i, sel[NSETTINGS];
    struct count_job cj;
    struct enc_job *ej;

    if (kept_size)
        *kept_size = (size_t)-1;
    runs = malloc((nops ? nops : 1) * sizeof *runs);
    ej = malloc(sizeof *ej);
    if (!runs || !ej) {
        free(runs);
        free(ej);
        return DFOTA_ERR_ARG;
    }
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
    /* one count gives a setting with and without DZ_X_BYTECTX */
    for (s = 0; s < NSETTINGS; s++) {
        unsigned f = settings[s] & ~DZ_X_BYTECTX, j;
        for (j = 0; j < nf && cj.flags[j] != f; j++)
            ;
        if (j == nf)
            cj.flags[nf++] = f;
        slot[s] = j;
    }
    cj.c = c;
    cj.runs = runs;
    cj.n = n;
    cj.x = x;
    cj.dz2 = ops == NULL;
    dz_par(nf, count_run, &cj);
    free(runs);
    for (s = 0; s < NSETTINGS; s++) {
        bits[s] = cj.pair[slot[s]][(settings[s] & DZ_X_BYTECTX) != 0];
        if (bits[s] == 0)
            rc = DFOTA_ERR_ARG;
        if (!s || bits[s] < best)
            best = bits[s];
    }
    for (s = 0; s < NSETTINGS; s++)
        if (all || bits[s] <= best + XSEL_MARGIN) {
            ej->flags[m] = settings[s] | extra;
            sel[m++] = s;
        }
    todo = m;
    ej->c = c;
    ej->ops = ops;
    ej->ops2 = ops2;
    ej->x = x;
    ej->cost = cost;
    for (i = 0; i < m; i++)
        ej->p[i] = NULL;
    /* After the first payload the others are made only if the payload kept
     * is not above lose: known before when res holds one not above it. */
    if (!rc && m) {
        if (all || (res->payload && res->payload_size <= lose)) {
            dz_par(m, enc_run, ej);
        } else {
            size_t kept;
            enc_run(ej, 0);
            kept = !res->payload || ej->plen[0] < res->payload_size ? ej->plen[0] : res->payload_size;
            if (!ej->rc[0] && kept <= lose)
                dz_par(m - 1, enc_run_rest, ej);
            else
                m = 1;
        }
    }
    for (i = 0; !rc && i < m; i++) {
        if (!all && done && res->payload && res->payload_size > lose)
            break;   /* the other settings code the same bytes to within the margin: they lose too */
        s = sel[i];
        phase(o, DFOTA_DIFF_ENCODE, done++, todo);
        rc = ej->rc[i];
        if (all && !rc)
            fprintf(stderr, "xsel dz%d x=%2u: counted %.1f B over the cheapest, payload %zu B\n",
                    ops ? 1 : 2, settings[s], (bits[s] - best) / 8, ej->plen[i]);
        if (!rc && kept_size && (*kept_size == (size_t)-1 || ej->plen[i] < *kept_size)) {
            *kept_size = ej->plen[i];
            *kept_flags = ej->flags[i];
        }
        keep(res, &rc, ej->p[i], ej->plen[i], ops ? DFOTA_ALG_DZ1 : DFOTA_ALG_DZ2);
        ej->p[i] = NULL;
    }
    if (!rc && cost && m && *kept_size != (size_t)-1 && *kept_flags != ej->flags[0]) {
        struct dz_xparams xx = *x;
        xx.flags = *kept_flags;
        rc = dz2_encode_costs(c, ops2, &xx, cost, NULL, NULL);
    }
    for (i = 0; i < m; i++)
        free(ej->p[i]);
    free(ej);
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

/* The second write order's matching (par.h). */
struct match_job {
    const uint8_t *src, *grams, *dst;
    size_t src_len, dst_len;
    const int32_t *sa;
    unsigned gram_bits;
    struct dfota_diff_opts o;
    struct pass *ps;
    int rc;
};

static void match_run(void *p)
{
    struct match_job *j = p;
    j->rc = match_one(j->src, j->src_len, j->sa, j->grams, j->gram_bits, j->dst, j->dst_len, &j->o, 1,
                      1, 2, j->ps);
}

/* A DZ2 parse (par.h). */
struct parse_job {
    const struct dz_match_ctx *c;
    const struct dz_oplist *ops;
    int blf, rc;
    struct dz2_oplist out;
    struct dz2_parser *pp;     /* kept for the second parse */
    struct dz2_costs cost;     /* what out's payload spends (encode_best) */
    int counted;               /* cost holds it (else dz2_second counts it) */
};

static void parse_run(void *p)
{
    struct parse_job *j = p;
    size_t n = j->c->dst_len ? j->c->dst_len : 1;
    j->pp = dz2_parser_new(j->c, j->blf);
    j->cost.q = malloc(n * sizeof *j->cost.q);
    j->rc = j->pp && j->cost.q ? dz2_parser_run(j->pp, j->ops, NULL, NULL, &j->out) : DFOTA_ERR_ARG;
}

/* The second DZ2 parse (dz2_parser_run) of a first one (j, with the
 * branch filter or not) whose payload with the settings flags was the
 * smaller, priced with what that payload spends (j->cost, counted here
 * unless j->counted); on j's parser (made again if freed); coded with the
 * same settings, kept if smaller. */
static int dz2_second(const struct dz_match_ctx *c, const struct dz_oplist *ops,
                      struct parse_job *j, const struct dz_xparams *x, unsigned flags,
                      const struct dfota_diff_opts *o, struct dfota_diff_result *res)
{
    struct dz_xparams xx = *x;
    struct dz2_oplist two = { 0 };
    uint8_t *p = NULL;
    size_t plen = 0;
    int rc = DFOTA_OK;

    xx.flags = flags;
    if (!j->counted) {
        if (!j->cost.q)
            j->cost.q = malloc((c->dst_len ? c->dst_len : 1) * sizeof *j->cost.q);
        rc = j->cost.q ? dz2_encode_costs(c, &j->out, &xx, &j->cost, NULL, NULL) : DFOTA_ERR_ARG;
        j->counted = !rc;
        if (rc)
            return rc;
    }
    if (!j->pp)
        j->pp = dz2_parser_new(c, j->blf);
    rc = j->pp ? dz2_parser_run(j->pp, ops, &j->out, &j->cost, &two) : DFOTA_ERR_ARG;
    dz2_parser_free(j->pp);
    j->pp = NULL;
    if (!rc) {
        phase(o, DFOTA_DIFF_ENCODE, 0, 1);
        rc = dz2_encode_ops(c, &two, &xx, &p, &plen);
        keep(res, &rc, p, plen, DFOTA_ALG_DZ2);
    }
    free(two.v);
    return rc;
}

/* Coding: the DZ1 payload, the DZ2 parse and payload, the stored one; the
 * smallest goes to res. */
static int code_one(struct pass *ps, const struct dfota_diff_opts *o, struct dfota_diff_result *res)
{
    struct dz_match_ctx *c = &ps->c;
    struct dz_oplist *ops = &ps->ops;
    size_t k, dst_len = c->dst_len;
    int rc = DFOTA_OK, dz1, dz2, blf, parsing = 0;
    unsigned f0 = 0, f1 = 0;
    size_t len0 = (size_t)-1, len1 = (size_t)-1;
    struct dz_xparams *x = calloc(1, sizeof *x);
    struct parse_job pj, bj;
    struct dz_task pt;

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
    dz1 = !rc && o->codec != DFOTA_ALG_DZ2 && !c->small;
    /* (an empty target is DZ1's, unless DZ2 is asked for or the only one) */
    dz2 = !rc && o->codec != DFOTA_ALG_DZ1 && (dst_len || o->codec == DFOTA_ALG_DZ2 || c->small);
    /* The DZ2 parse runs beside the DZ1 coding when it is likely to be
     * wanted (dz2_worth decides after DZ1, on its payload) and a thread is
     * free; else after it, when wanted. (Not beside the shift map's making
     * too: dz_guess_base's arrays and the parser's would be held at once.) */
    memset(&pj, 0, sizeof pj);
    pj.c = c;
    pj.ops = ops;
    if (dz2 && dz1 && (dst_len < 65536 || copied(ops) >= dst_len / 100 || !flat_bytes(c->dst, dst_len)))
        parsing = dz_try_fork(&pt, parse_run, &pj);
    if (dz1)
        rc = encode_best(c, ops, NULL, x, 0, o, res, NULL, NULL, NULL);
    if (parsing)
        dz_join(&pt);
    if (!rc && dz2) {
        /* DZ2: one parse, coded with the best settings; then the stored
         * payload, so no package grows much beyond the target. */
        if (dz2_worth(c, ops, res)) {
            if (!parsing)
                parse_run(&pj);
            rc = pj.rc;
            /* Thumb code: also with the branch filter (dfota/delta2.h),
             * unless the payload is already under 1/20 of the target: the
             * filter pays where much new code is coded (literals, exact
             * copies), on small steps the approximate copies' pointer
             * prediction already holds the moved branches (on the corpus
             * it won on no pair under 1/20, on every one above). That
             * parse runs beside the coding of the first when the payload
             * so far is well above 1/20 (DZ2's is a few % smaller) and a
             * thread is free. */
            blf = !rc && !c->small && thumb_code(c->dst, dst_len);
            memset(&bj, 0, sizeof bj);
            bj.c = c;
            bj.ops = ops;
            bj.blf = 1;
            parsing = 0;
            if (blf && res->payload && res->payload_size >= dst_len / 20 + dst_len / 100) {
                dz2_parser_free(pj.pp);         /* one parser at a time (made again if needed) */
                pj.pp = NULL;
                parsing = dz_try_fork(&pt, parse_run, &bj);
            }
            /* (with that parse beside, the one with the filter usually wins:
             * this one's costs are counted only if it wins after all) */
            if (!rc)
                rc = encode_best(c, NULL, &pj.out, x, 0, o, res, &f0, &len0, parsing ? NULL : &pj.cost);
            pj.counted = !parsing;
            if (parsing)
                dz_join(&pt);
            if (!rc && blf && res->payload_size >= dst_len / 20) {
                /* (its costs are not held beside the second one's: counted
                 * again if it wins) */
                free(pj.cost.q);
                pj.cost.q = NULL;
                pj.counted = 0;
                if (!parsing) {
                    dz2_parser_free(pj.pp);     /* (one parser at a time) */
                    pj.pp = NULL;
                    parse_run(&bj);
                }
                rc = bj.rc;
                if (!rc)
                    rc = encode_best(c, NULL, &bj.out, x, DZ2_X_BLF, o, res, &f1, &len1, &bj.cost);
                bj.counted = 1;
            }
            /* the second parse of the smaller of those */
            if (!rc && len0 != (size_t)-1) {
                struct parse_job *wj = len1 < len0 ? &bj : &pj, *lj = wj == &bj ? &pj : &bj;
                /* (the other one's parser, operations and counts are not
                 * needed any more: freed before the second parse's memory
                 * is taken) */
                dz2_parser_free(lj->pp);
                lj->pp = NULL;
                free(lj->out.v);
                lj->out.v = NULL;
                free(lj->cost.q);
                lj->cost.q = NULL;
                rc = dz2_second(c, ops, wj, x, wj == &bj ? f1 : f0, o, res);
            }
            free(bj.out.v);
            free(bj.cost.q);
            dz2_parser_free(bj.pp);
        }
        if (!rc && dst_len >= 4) {      /* a payload holds at least 5 bytes */
            uint8_t *p = NULL;
            size_t plen = 0;
            rc = dz2_stored(c, &p, &plen);
            keep(res, &rc, p, plen, DFOTA_ALG_DZ2);
        }
    }
    free(pj.out.v);
    free(pj.cost.q);
    dz2_parser_free(pj.pp);
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

/* In place, the two orders are coded side by side when old + new is under
 * this: each coding holds ~6 bytes per byte of old + new (the DZ2 parse's
 * chains and joint copy, the target in stream order), two at once would
 * take the peak RSS of bigger pairs beyond 10x old + new. */
#define DIFF_PAR_ORDERS_MAX 1000000u

struct code_job {
    struct pass *ps;
    struct dfota_diff_opts o;
    struct dfota_diff_result *res;
    int rc;
};

static void code_run(void *p)
{
    struct code_job *j = p;
    j->rc = code_one(j->ps, &j->o, j->res);
}

int dfota_diff(const uint8_t *src, size_t src_len, const uint8_t *dst, size_t dst_len,
               const struct dfota_diff_opts *o, struct dfota_diff_result *res)
{
    int32_t *sa = NULL;
    uint8_t *grams = NULL;
    unsigned gram_bits = DZ_GRAM_BITS, n, i;
    int rc = DFOTA_OK, n2done = 0;
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
    if (n == 2) {
        /* the two orders side by side (par.h); the second reports no
         * progress of its own, its phases follow the first's */
        struct match_job mj;
        struct dz_task mt;
        mj.src = src;
        mj.src_len = src_len;
        mj.sa = sa;
        mj.grams = grams;
        mj.gram_bits = gram_bits;
        mj.dst = dst;
        mj.dst_len = dst_len;
        mj.o = *o;
        mj.o.progress = NULL;
        mj.o.phase = NULL;
        mj.ps = &ps[1];
        dz_fork(&mt, match_run, &mj);
        rc = match_one(src, src_len, sa, grams, gram_bits, dst, dst_len, o, 0, 0, n, &ps[0]);
        dz_join(&mt);
        if (!rc)
            rc = mj.rc;
        phase(o, DFOTA_DIFF_MATCH, 1, n);
        phase(o, DFOTA_DIFF_REFINE, 1, n);
        ps[1].c.progress = o->progress;
        ps[1].c.phase = o->phase;
    } else {
        rc = match_one(src, src_len, sa, grams, gram_bits, dst, dst_len, o, o->direction < 0, 0, n,
                       &ps[0]);
    }
    free(sa);
    free(grams);
    if (n == 2 && !rc && src_len + dst_len < DIFF_PAR_ORDERS_MAX && dz_threads() > 1) {
        /* small pairs: the two orders coded side by side, the second with
         * no progress of its own (its phases follow the first's) */
        struct code_job cj;
        struct dz_task ct;
        cj.ps = &ps[1];
        cj.o = *o;
        cj.o.progress = NULL;
        cj.o.phase = NULL;
        cj.res = &r2[1];
        phase(o, DFOTA_DIFF_CODE, 0, n);
        dz_fork(&ct, code_run, &cj);
        rc = code_one(&ps[0], o, &r2[0]);
        dz_join(&ct);
        phase(o, DFOTA_DIFF_CODE, 1, n);
        phase(o, DFOTA_DIFF_ENCODE, 0, 1);
        if (rc && !cj.rc)
            dfota_diff_result_free(&r2[1]);
        if (!rc && cj.rc)
            dfota_diff_result_free(&r2[0]);
        if (!rc)
            rc = cj.rc;
        n2done = 1;
    }
    /* the second pass's target in stream order is made again when its
     * coding starts: not held while the first is coded */
    for (i = 1; i < n && !n2done; i++) {
        free(ps[i].t);
        ps[i].t = NULL;
        ps[i].c.dst = NULL;
    }
    for (i = 0; i < n && !rc && !n2done; i++) {
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
