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
#include "order.h"
#include "par.h"

/* Target bytes in the order the device produces them. */
static uint8_t *stream_order(const uint8_t *dst, size_t n, const struct dz_order *ord)
{
    uint32_t blocks = dz_block_count((uint32_t)n, ord->sector), i;
    uint8_t *t = malloc(n ? n : 1);

    if (!t)
        return NULL;
    for (i = 0; i < blocks; i++) {
        uint32_t off, len, addr;
        dz_block(i, (uint32_t)n, ord->sector, ord->runs, ord->nruns, &off, &len, &addr);
        memcpy(t + off, dst + addr, len);
    }
    return t;
}

/* The target in the write order of ps (in place): forward, the stream is
 * the image itself (dz_block: each block at its address), not copied;
 * else a copy in stream order (ps->t). 0 if out of memory. */
static int pass_stream(struct dz_match_ctx *c, uint8_t **t, const uint8_t *dst, size_t n)
{
    *t = NULL;
    if (!c->ord->flags) {
        c->dst = dst;
        return 1;
    }
    *t = stream_order(dst, n, c->ord);
    c->dst = *t;
    return *t != NULL;
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
    DZ_X_BYTECTX, DZ_X_BYTECTX | DZ_X_THUMB | DZ_X_PTR32, DZ_X_BYTECTX | DZ_X_ARM | DZ_X_PTR32,
    DZ2_X_RV | DZ_X_PTR32, DZ_X_BYTECTX | DZ2_X_RV | DZ_X_PTR32 };
#define NSETTINGS (sizeof settings / sizeof settings[0])

/* RISC-V prediction is DZ2's full model's, without the Thumb filter. */
static int setting_ok(unsigned s, const struct dz_match_ctx *c, int dz2, unsigned extra)
{
    return !(settings[s] & DZ2_X_RV) || (dz2 && !c->small && !(extra & DZ2_X_BLF));
}
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
    int all_costs;            /* with cost: every payload's counted (in ac[], the first's in cost) */
    struct dz2_costs ac[NSETTINGS];
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
    else if (j->cost && j->all_costs &&
             (j->ac[i].q = malloc((j->c->dst_len ? j->c->dst_len : 1) * sizeof *j->ac[i].q)) != NULL)
        j->rc[i] = dz2_encode_costs(j->c, j->ops2, &x, &j->ac[i], &j->p[i], &j->plen[i]);
    else
        j->rc[i] = j->ops ? dz_encode_ops(j->c, j->ops, &x, &j->p[i], &j->plen[i])
                          : dz2_encode_ops(j->c, j->ops2, &x, &j->p[i], &j->plen[i]);
}

static void enc_run_rest(void *p, unsigned i)
{
    enc_run(p, i + 1);
}

/* The size of the smallest payload kept: in res, or (have, (size_t)-1 for
 * none) one kept elsewhere that res is to be compared with afterwards. */
static size_t held(const struct dfota_diff_result *res, size_t have)
{
    return res->payload && res->payload_size < have ? res->payload_size : have;
}

/* encode_best (below) as if res held also a payload of have bytes (held):
 * the same payloads are made and the same kept. */
static int encode_best_h(const struct dz_match_ctx *c, const struct dz_oplist *ops,
                         const struct dz2_oplist *ops2, const struct dz_xparams *x, unsigned extra,
                         const struct dfota_diff_opts *o, struct dfota_diff_result *res,
                         unsigned *kept_flags, size_t *kept_size, struct dz2_costs *cost, size_t have,
                         int all_costs)
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
    unsigned s, todo = 0, done = 0, nf = 0, slot[NSETTINGS], m = 0, i, sel[NSETTINGS], ki = 0;
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
        if (!setting_ok(s, c, ops == NULL, extra))
            continue;
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
        if (!setting_ok(s, c, ops == NULL, extra))
            continue;
        bits[s] = cj.pair[slot[s]][(settings[s] & DZ_X_BYTECTX) != 0];
        if (bits[s] == 0)
            rc = DFOTA_ERR_ARG;
        if (!s || bits[s] < best)
            best = bits[s];
    }
    for (s = 0; s < NSETTINGS; s++)
        if (setting_ok(s, c, ops == NULL, extra) && (all || bits[s] <= best + XSEL_MARGIN)) {
            ej->flags[m] = settings[s] | extra;
            sel[m++] = s;
        }
    todo = m;
    ej->c = c;
    ej->ops = ops;
    ej->ops2 = ops2;
    ej->x = x;
    ej->cost = cost;
    ej->all_costs = all_costs;
    for (i = 0; i < m; i++) {
        ej->p[i] = NULL;
        ej->ac[i].q = NULL;
    }
    /* After the first payload the others are made only if the payload kept
     * is not above lose: known before when res holds one not above it. */
    if (!rc && m) {
        if (all || held(res, have) <= lose) {
            dz_par(m, enc_run, ej);
        } else {
            size_t kept;
            enc_run(ej, 0);
            kept = ej->plen[0] < held(res, have) ? ej->plen[0] : held(res, have);
            if (!ej->rc[0] && kept <= lose)
                dz_par(m - 1, enc_run_rest, ej);
            else
                m = 1;
        }
    }
    for (i = 0; !rc && i < m; i++) {
        if (!all && done && held(res, have) != (size_t)-1 && held(res, have) > lose)
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
            ki = i;
        }
        keep(res, &rc, ej->p[i], ej->plen[i], ops ? DFOTA_ALG_DZ1 : DFOTA_ALG_DZ2);
        ej->p[i] = NULL;
    }
    if (!rc && cost && m && *kept_size != (size_t)-1 && *kept_flags != ej->flags[0] && ej->ac[ki].q) {
        /* (counted with its payload: the same counts) */
        free(cost->q);
        *cost = ej->ac[ki];
        ej->ac[ki].q = NULL;
    } else if (!rc && cost && m && *kept_size != (size_t)-1 && *kept_flags != ej->flags[0]) {
        struct dz_xparams xx = *x;
        xx.flags = *kept_flags;
        rc = dz2_encode_costs(c, ops2, &xx, cost, NULL, NULL);
    }
    for (i = 0; i < m; i++) {
        free(ej->p[i]);
        free(ej->ac[i].q);
    }
    free(ej);
    return rc;
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
    return encode_best_h(c, ops, ops2, x, extra, o, res, kept_flags, kept_size, cost, (size_t)-1, 0);
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

/* One write order: its matching context, the DZ1 ops found, and (in place,
 * but forward) the target in stream order. */
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
                     const struct dfota_diff_opts *o, const struct dz_order *ord, unsigned pass,
                     unsigned passes,
                     struct dz_race *race, struct pass *ps)
{
    struct dz_match_ctx *c = &ps->c;

    memset(ps, 0, sizeof *ps);
    c->race = race;
    c->side = pass;
    c->src = src;
    c->src_len = src_len;
    c->sa = sa;
    c->grams = grams;
    c->gram_bits = gram_bits;
    c->inplace = o->inplace;
    c->blockwin = o->inplace && o->window == DFOTA_WIN_BLOCK;
    c->ord = o->inplace ? ord : NULL;
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
        if (!pass_stream(c, &ps->t, dst, dst_len))
            return DFOTA_ERR_ARG;
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
    struct dz_race *race;
    const struct dz_order *ord;
    int rc;
};

static void match_run(void *p)
{
    struct match_job *j = p;
    j->rc = match_one(j->src, j->src_len, j->sa, j->grams, j->gram_bits, j->dst, j->dst_len, &j->o,
                      j->ord, 1, 2, j->race, j->ps);
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
    j->pp = dz2_parser_new(j->c, j->blf);
    j->rc = j->pp ? dz2_parser_run(j->pp, j->ops, NULL, NULL, &j->out) : DFOTA_ERR_ARG;
}

/* j's counts (2 bytes a target byte), taken when its payload is made
 * (not during its parse, nor at all when not counted); NULL if out of
 * memory. */
/* A parse job's parser, operations and counts freed (the job itself kept). */
static void job_drop(struct parse_job *j)
{
    dz2_parser_free(j->pp);
    j->pp = NULL;
    free(j->out.v);
    j->out.v = NULL;
    free(j->cost.q);
    j->cost.q = NULL;
}

static struct dz2_costs *cost_of(struct parse_job *j)
{
    if (!j->cost.q)
        j->cost.q = malloc((j->c->dst_len ? j->c->dst_len : 1) * sizeof *j->cost.q);
    return j->cost.q ? &j->cost : NULL;
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
    /* (the parser made first, as a first parse's is: its transient memory
     * is not added to the counts') */
    if (!j->pp)
        j->pp = dz2_parser_new(c, j->blf);
    if (!j->pp)
        return DFOTA_ERR_ARG;
    if (!j->counted) {
        rc = cost_of(j) ? dz2_encode_costs(c, &j->out, &xx, &j->cost, NULL, NULL) : DFOTA_ERR_ARG;
        j->counted = !rc;
        if (rc)
            return rc;
    }
    rc = dz2_parser_run(j->pp, ops, &j->out, &j->cost, &two);
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

/* One write order's coding, in three steps (code_dz1, code_dz2, code_end)
 * so that in place the two orders can be compared between them: the DZ1
 * payload; the DZ2 parse and its payload; the branch-filter parse, the
 * second parse and the stored payload. The smallest payload goes to res. */
struct coding {
    struct pass *ps;
    struct dfota_diff_opts o;
    struct dfota_diff_result *res;
    struct dz_xparams *x;
    struct parse_job pj, bj;
    struct dz_task pt;
    int rc, dz1, dz2, worth, blf;
    int coded;                 /* the DZ2 payloads and second parse made (code_wide) */
    int lazy;                  /* the first DZ2 payload's costs not counted with it (dz2_second
                                * or code_unpark counts them if wanted) */
    struct coding *next;       /* (code_orders) the coding whose first DZ2 parse starts beside
                                * this one's first DZ2 payloads, this one's parser freed */
    int parsing;               /* pj's parse started beside the DZ1 coding (dz_join in code_dz2) */
    int bparsing;              /* bj's parse started beside the first DZ2 coding (dz_join in code_end) */
    unsigned f0, f1;
    size_t len0, len1;         /* the DZ2 payloads without / with the branch filter, -1 if none */
};

/* The DZ1 payload; with fork, the DZ2 parse beside it when it is likely to
 * be wanted (dz2_worth decides after DZ1, on its payload) and a thread is
 * free (else code_dz2 runs it, when wanted). */
static void code_dz1(struct coding *cd, struct pass *ps, const struct dfota_diff_opts *o,
                     struct dfota_diff_result *res, int fork)
{
    struct dz_match_ctx *c = &ps->c;
    struct dz_oplist *ops = &ps->ops;
    size_t dst_len = c->dst_len;

    memset(cd, 0, sizeof *cd);
    memset(res, 0, sizeof *res);
    cd->ps = ps;
    cd->o = *o;
    cd->res = res;
    cd->len0 = cd->len1 = (size_t)-1;
    c->sa = NULL;                  /* freed by now */
    c->grams = NULL;
    cd->x = calloc(1, sizeof *cd->x);
    if (!cd->x)
        cd->rc = DFOTA_ERR_ARG;
    /* (the 4k decoder RAM profile has DZ2's small model only) */
    cd->dz1 = !cd->rc && o->codec != DFOTA_ALG_DZ2 && !c->small;
    /* (an empty target is DZ1's, unless DZ2 is asked for or the only one) */
    cd->dz2 = !cd->rc && o->codec != DFOTA_ALG_DZ1 && (dst_len || o->codec == DFOTA_ALG_DZ2 || c->small);
    cd->pj.c = c;
    cd->pj.ops = ops;
    /* (the parse needs neither the shift map nor the load address) */
    if (fork && cd->dz2 && cd->dz1 &&
        (dst_len < 65536 || copied(ops) >= dst_len / 100 || !flat_bytes(c->dst, dst_len)))
        cd->parsing = dz_try_fork(&cd->pt, parse_run, &cd->pj);
    if (!cd->rc) {
        dz_build_map(c, ops, cd->x);
        cd->x->base = dz_guess_base(c, ops, cd->x);
    }
    if (cd->dz1)
        cd->rc = encode_best(c, ops, NULL, cd->x, 0, &cd->o, res, NULL, NULL, NULL);
}

/* DZ2: one parse, coded with the best settings (len0). Thumb code:
 * also with the branch filter (dfota/delta2.h), unless the payload is
 * already under 1/20 of the target: the filter pays where much new code is
 * coded (literals, exact copies), on small steps the approximate copies'
 * pointer prediction already holds the moved branches (on the corpus it
 * won on no pair under 1/20, on every one above). With fork, that parse
 * (code_end) starts here, beside the coding of the first, when the payload
 * so far is well above 1/20 (DZ2's is a few % smaller) and a thread is
 * free; the first's parser is freed before (one parser at a time, made
 * again for the second parse if needed). */
static void code_dz2(struct coding *cd, int fork)
{
    struct dz_match_ctx *c = &cd->ps->c;
    struct dz_oplist *ops = &cd->ps->ops;
    struct dfota_diff_result *res = cd->res;
    size_t dst_len = c->dst_len;

    if (cd->parsing)
        dz_join(&cd->pt);
    if (cd->rc || !cd->dz2 || !dz2_worth(c, ops, res))
        return;
    cd->worth = 1;
    if (!cd->parsing)
        parse_run(&cd->pj);
    cd->parsing = 0;
    cd->rc = cd->pj.rc;
    cd->blf = !cd->rc && !c->small && thumb_code(c->dst, dst_len);
    cd->bj.c = c;
    cd->bj.ops = ops;
    cd->bj.blf = 1;
    if (fork && cd->blf && res->payload && res->payload_size >= dst_len / 20 + dst_len / 100) {
        dz2_parser_free(cd->pj.pp);
        cd->pj.pp = NULL;
        cd->bparsing = dz_try_fork(&cd->pt, parse_run, &cd->bj);
    }
    /* Not forked (in place, both orders coded before one is chosen): the
     * parser goes before the payloads take their memory. The coding stops
     * here a while (parked) or for good (dropped), or goes on with the
     * branch-filter parse, which frees it anyway; else dz2_second makes it
     * again. */
    if (!fork) {
        dz2_parser_free(cd->pj.pp);
        cd->pj.pp = NULL;
    }
    if (cd->next && !cd->rc)
        cd->next->parsing = dz_try_fork(&cd->next->pt, parse_run, &cd->next->pj);
    cd->next = NULL;
    /* (with that parse beside, the one with the filter usually wins: this
     * one's costs are counted only if it wins after all, dz2_second; so
     * too when lazy) */
    if (cd->bparsing)
        cd->lazy = 1;
    if (!cd->rc && !cd->lazy && !cost_of(&cd->pj))
        cd->rc = DFOTA_ERR_ARG;
    if (!cd->rc)
        cd->rc = encode_best(c, NULL, &cd->pj.out, cd->x, 0, &cd->o, res, &cd->f0, &cd->len0,
                             cd->lazy ? NULL : &cd->pj.cost);
    cd->pj.counted = !cd->lazy;
}

/* Is the branch-filter parse wanted (code_end), the first DZ2 payload
 * made? */
static int blf_wanted(const struct coding *cd)
{
    return cd->blf && cd->res->payload_size >= cd->ps->c.dst_len / 20;
}

/* What a coding holds besides res, freed (its threads joined first). */
static void code_free(struct coding *cd)
{
    if (cd->parsing)
        dz_join(&cd->pt);
    if (cd->bparsing)
        dz_join(&cd->pt);
    cd->parsing = cd->bparsing = 0;
    free(cd->bj.out.v);
    free(cd->bj.cost.q);
    dz2_parser_free(cd->bj.pp);
    free(cd->pj.out.v);
    free(cd->pj.cost.q);
    dz2_parser_free(cd->pj.pp);
    free(cd->x);
    memset(&cd->pj, 0, sizeof cd->pj);
    memset(&cd->bj, 0, sizeof cd->bj);
    cd->x = NULL;
}

/* The branch-filter parse and payload, the second parse of the smaller of
 * the two, the stored payload (so no package grows much beyond the
 * target); then res is filled in (or freed on error). Returns the error. */
static int code_end(struct coding *cd)
{
    struct dz_match_ctx *c = &cd->ps->c;
    struct dz_oplist *ops = &cd->ps->ops;
    struct dfota_diff_result *res = cd->res;
    struct parse_job *pj = &cd->pj, *bj = &cd->bj;
    size_t k, dst_len = c->dst_len;
    int rc = cd->rc;

    if (cd->bparsing)
        dz_join(&cd->pt);
    if (!rc && cd->worth && !cd->coded) {
        if (blf_wanted(cd)) {
            if (!cd->bparsing) {
                dz2_parser_free(pj->pp);     /* (one parser at a time) */
                pj->pp = NULL;
                parse_run(bj);
            }
            /* (the first one's costs are not held beside this one's:
             * counted again if it wins) */
            free(pj->cost.q);
            pj->cost.q = NULL;
            pj->counted = 0;
            rc = bj->rc;
            /* (its parser waits for the second parse without its image,
             * while the payloads and counts take their memory) */
            dz2_parser_drop_image(bj->pp);
            if (!rc && !cost_of(bj))
                rc = DFOTA_ERR_ARG;
            if (!rc)
                rc = encode_best(c, NULL, &bj->out, cd->x, DZ2_X_BLF, &cd->o, res, &cd->f1, &cd->len1,
                                 &bj->cost);
            bj->counted = 1;
        }
        cd->bparsing = 0;
        /* the second parse of the smaller of those */
        if (!rc && cd->len0 != (size_t)-1) {
            struct parse_job *wj = cd->len1 < cd->len0 ? bj : pj, *lj = wj == bj ? pj : bj;
            /* (the other one's parser, operations and counts are not
             * needed any more: freed before the second parse's memory is
             * taken) */
            job_drop(lj);
            rc = dz2_second(c, ops, wj, cd->x, wj == bj ? cd->f1 : cd->f0, &cd->o, res);
        }
    }
    cd->bparsing = 0;
    if (!rc && cd->dz2 && dst_len >= 4) {      /* a payload holds at least 5 bytes */
        uint8_t *p = NULL;
        size_t plen = 0;
        rc = dz2_stored(c, &p, &plen);
        keep(res, &rc, p, plen, DFOTA_ALG_DZ2);
    }
    code_free(cd);
    if (!rc) {
        res->flags = cd->o.inplace ? DFOTA_PKG_F_INPLACE | c->ord->flags : 0;
        if (cd->o.inplace) {
            res->nruns = c->ord->nruns;
            memcpy(res->runs, c->ord->runs, sizeof res->runs);
            res->nsaved = c->ord->nsaved;
            memcpy(res->saved, c->ord->saved, sizeof res->saved);
        }
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
    cd->rc = rc;
    return rc;
}

/* Coding: the DZ1 payload, the DZ2 parse and payload, the stored one; the
 * smallest goes to res. */
static int code_one(struct pass *ps, const struct dfota_diff_opts *o, struct dfota_diff_result *res)
{
    struct coding cd;
    code_dz1(&cd, ps, o, res, 1);
    code_dz2(&cd, 1);
    return code_end(&cd);
}

/* The branch-filter side of code_wide, in a thread of its own: its parse,
 * payloads (rb, as encode_best would keep them after the DZ1 payload, of
 * have bytes) and second parse (rs), made before it is known whether they
 * are wanted. */
struct wide_job {
    struct coding *cd;
    struct dfota_diff_opts o;          /* (no progress) */
    struct dfota_diff_result rb, rs;
    size_t have, len1;
    unsigned f1;
    int rc, rc2;                       /* of the payloads, of the second parse */
};

static void wide_run(void *p)
{
    struct wide_job *j = p;
    struct coding *cd = j->cd;
    struct dz_match_ctx *c = &cd->ps->c;
    struct parse_job *bj = &cd->bj;

    j->len1 = (size_t)-1;
    parse_run(bj);
    j->rc = bj->rc;
    dz2_parser_drop_image(bj->pp);
    if (!j->rc && !cost_of(bj))
        j->rc = DFOTA_ERR_ARG;
    if (!j->rc)
        j->rc = encode_best_h(c, NULL, &bj->out, cd->x, DZ2_X_BLF, &j->o, &j->rb, &j->f1, &j->len1,
                              &bj->cost, j->have, 1);
    bj->counted = 1;
    if (!j->rc && j->len1 != (size_t)-1)
        j->rc2 = dz2_second(c, &cd->ps->ops, bj, cd->x, j->f1, &j->o, &j->rs);
}

/* code_dz2 and the DZ2 part of code_end, with memory for two parsers at
 * once (in place, old + new under DIFF_PAR_ORDERS_MAX) and a thread free:
 * on Thumb code whose DZ1 payload is over 1/20 + 1/100 of the target and
 * not over it (code_dz2 would start the branch-filter parse beside the
 * first DZ2 coding), that parse, its coding and its second parse
 * (wide_run) run beside the first parse and its coding; then the
 * payloads are taken in code_end's order, the second parse of the first
 * parse made if that one is the smaller after all. The package is the
 * one code_dz2 and code_end make (DZ1's payload is below encode_best's
 * bound, encode_best_h). 0: not so (nothing done). */
static int code_wide(struct coding *cd)
{
    struct dz_match_ctx *c = &cd->ps->c;
    struct dz_oplist *ops = &cd->ps->ops;
    struct dfota_diff_result *res = cd->res;
    struct parse_job *pj = &cd->pj, *bj = &cd->bj;
    size_t dst_len = c->dst_len;
    struct wide_job j;
    struct dz_task t;
    int rc;

    if (cd->rc || !cd->dz2 || cd->parsing || c->small || !res->payload ||
        res->payload_size < dst_len / 20 + dst_len / 100 || res->payload_size > dst_len ||
        !dz2_worth(c, ops, res) || !thumb_code(c->dst, dst_len))
        return 0;
    memset(&j, 0, sizeof j);
    j.cd = cd;
    j.o = cd->o;
    j.o.progress = NULL;
    j.o.phase = NULL;
    j.have = res->payload_size;
    bj->c = c;
    bj->ops = ops;
    bj->blf = 1;
    if (!dz_try_fork(&t, wide_run, &j))
        return 0;
    cd->worth = 1;
    cd->coded = 1;
    parse_run(pj);
    rc = pj->rc;
    cd->blf = !rc;
    dz2_parser_free(pj->pp);
    pj->pp = NULL;
    if (!rc)
        rc = encode_best(c, NULL, &pj->out, cd->x, 0, &cd->o, res, &cd->f0, &cd->len0, NULL);
    pj->counted = 0;
    dz_join(&t);
    if (!rc && blf_wanted(cd)) {
        rc = j.rc;
        if (!rc) {
            cd->f1 = j.f1;
            cd->len1 = j.len1;
            if (j.rb.payload)
                keep(res, &rc, j.rb.payload, j.rb.payload_size, DFOTA_ALG_DZ2);
            j.rb.payload = NULL;
        }
        if (!rc && cd->len0 != (size_t)-1 && cd->len1 < cd->len0) {
            phase(&cd->o, DFOTA_DIFF_ENCODE, 0, 1);
            rc = j.rc2;
            if (!rc && j.rs.payload)
                keep(res, &rc, j.rs.payload, j.rs.payload_size, DFOTA_ALG_DZ2);
            j.rs.payload = NULL;
        }
    }
    dfota_diff_result_free(&j.rb);
    if (!rc && cd->len0 != (size_t)-1 && !(cd->len1 < cd->len0)) {
        /* the first parse's second parse; the other's not needed */
        dfota_diff_result_free(&j.rs);
        job_drop(bj);
        rc = dz2_second(c, ops, pj, cd->x, cd->f0, &cd->o, res);
    }
    dfota_diff_result_free(&j.rs);
    cd->rc = rc;
    return 1;
}

/* In place, the two orders' codings run side by side (code_both) when
 * old + new is under this: each holds ~5 bytes per byte of old + new in its
 * DZ2 parse (the parse's chains, 3 bytes, and joint copy, the backward
 * order's target in stream order), two at once would take the peak RSS of
 * bigger pairs beyond 10x old + new. */
#define DIFF_PAR_ORDERS_MAX 1000000u

/* In place, the two write orders' DZ1 payloads are compared, then (if not
 * told apart) their first DZ2 payloads: the rest of the coding (the DZ2
 * parse and payloads, then the branch-filter and second parses) is done
 * for the smaller order only when its payload is smaller by more than
 * 1/2^ORDER_DZ1_SHIFT (DZ1) or 1/2^ORDER_DZ2_SHIFT (DZ2) and by more than
 * ORDER_MIN bytes, or (order_dz2) the target has ORDER_BOTH_MAX bytes or
 * more; else both orders are coded to the end. (An order that lost the
 * matches' race, encoder.h, is not coded at all.) On the corpus
 * the order of the final package went against the DZ1 payloads' by up to
 * 5.8% (x-pybricks-ev3: its package 1.2% smaller backward) and against
 * the first DZ2 payloads' by 0.13% (2 bytes; both coded there). */
#define ORDER_DZ1_SHIFT 3
#define ORDER_DZ2_SHIFT 8
#define ORDER_MIN 64
/* Targets of this size and more are not coded in both orders to the end:
 * when the first DZ2 payloads do not tell the orders apart, the order of
 * the smaller one (forward on a tie) is coded on alone (order_dz2). */
#define ORDER_BOTH_MAX 65536u

/* 0 or 1: the order whose payload (size a or b, -1 for none) is smaller
 * by more than that; -1: neither. */
static int order_apart(size_t a, size_t b, unsigned shift)
{
    if (a == (size_t)-1 || b == (size_t)-1)
        return -1;
    if (b > a && b - a > a >> shift && b - a > ORDER_MIN)
        return 0;
    if (a > b && a - b > b >> shift && a - b > ORDER_MIN)
        return 1;
    return -1;
}

/* After the first DZ2 payloads: the order coded on alone (order_apart;
 * on a target of ORDER_BOTH_MAX bytes or more, failing that, the one with
 * the smaller payload, forward on a tie), -1: both to the end. */
static int order_dz2(const struct coding *cd, size_t dst_len)
{
    int w;
    if (cd[0].rc || cd[1].rc)
        return -1;
    w = order_apart(cd[0].len0, cd[1].len0, ORDER_DZ2_SHIFT);
    if (w < 0 && dst_len >= ORDER_BOTH_MAX && cd[0].len0 != (size_t)-1 && cd[1].len0 != (size_t)-1)
        w = cd[1].len0 < cd[0].len0;
    return w;
}

/* The DZ1 payload of coding cd, -1 if none. */
static size_t dz1_size(const struct coding *cd)
{
    return !cd->rc && cd->dz1 && cd->res->payload ? cd->res->payload_size : (size_t)-1;
}

struct step_job {
    struct coding *cd;
    struct pass *ps;
    struct dfota_diff_opts o;
    struct dfota_diff_result *res;
    int step;
};

static void step_run(void *p)
{
    struct step_job *j = p;
    if (j->step == 0)
        code_dz1(j->cd, j->ps, &j->o, j->res, 0);
    else if (j->step == 1)
        code_dz2(j->cd, 0);
    else
        code_end(j->cd);
}

/* Both orders' step (0: code_dz1, 1: code_dz2, 2: code_end), the second's
 * beside the first's when par (with no progress of its own: its phases
 * follow the first's). */
static void code_both(struct coding *cd, struct pass *ps, struct dfota_diff_result *r2, int step,
                      int par, const struct dfota_diff_opts *o)
{
    struct step_job j[2];
    struct dz_task t;
    unsigned i;
    for (i = 0; i < 2; i++) {
        j[i].cd = &cd[i];
        j[i].ps = &ps[i];
        j[i].res = &r2[i];
        j[i].step = step;
        j[i].o = *o;
    }
    if (par) {
        j[1].o.progress = NULL;
        j[1].o.phase = NULL;
        dz_fork(&t, step_run, &j[1]);
    } else {
        step_run(&j[1]);
    }
    step_run(&j[0]);
    if (par)
        dz_join(&t);
}

/* One after the other, coding cd waits while the other order is coded:
 * what it holds that can be made again is freed (its target in stream
 * order, the DZ2 parser and the first DZ2 payload's counted costs). */
static void code_park(struct coding *cd)
{
    struct pass *ps = cd->ps;
    dz2_parser_free(cd->pj.pp);
    cd->pj.pp = NULL;
    free(cd->pj.cost.q);
    cd->pj.cost.q = NULL;
    cd->pj.counted = 0;
    free(ps->t);
    ps->t = NULL;
    ps->c.dst = NULL;
}

/* ... and made again when its coding goes on (code_end): the counted costs
 * as encode_best counted them, with the settings of the smallest first DZ2
 * payload (f0), and the parser, unless the branch-filter parse comes first
 * (that one frees both anyway; dz2_second counts the costs again if this
 * parse wins). */
static void code_unpark(struct coding *cd, const uint8_t *dst, size_t dst_len)
{
    struct pass *ps = cd->ps;
    if (!pass_stream(&ps->c, &ps->t, dst, dst_len) && !cd->rc)
        cd->rc = DFOTA_ERR_ARG;
    if (!cd->rc && cd->worth && cd->len0 != (size_t)-1 && !blf_wanted(cd)) {
        struct dz_xparams xx = *cd->x;
        xx.flags = cd->f0;
        /* the second parse's parser, made before the costs as a first
         * parse's is: the parser's transient memory is not added to
         * theirs */
        cd->pj.pp = dz2_parser_new(&ps->c, 0);
        if (!cd->pj.pp) {
            cd->rc = DFOTA_ERR_ARG;
            return;
        }
        cd->rc = cost_of(&cd->pj) ? dz2_encode_costs(&ps->c, &cd->pj.out, &xx, &cd->pj.cost, NULL, NULL)
                                  : DFOTA_ERR_ARG;
        cd->pj.counted = !cd->rc;
    }
}

/* The order dropped (order_apart): nothing of its coding kept. */
static void drop(struct coding *cd, struct pass *ps, struct dfota_diff_result *r2, int *live, int i)
{
    code_free(&cd[i]);
    dfota_diff_result_free(&r2[i]);
    pass_free(&ps[i]);
    live[i] = 0;
}

/* In place with --direction auto: both write orders (ps[0] forward, ps[1]
 * backward, matched) coded as far as needed to tell which is smaller
 * (order_apart), that one to the end; the smaller result goes to res
 * (forward on a tie). The DZ1 payloads of both are made side by side when
 * old + new is under DIFF_PAR_ORDERS_MAX, else one after the other; the
 * one order told apart is coded on with its branch-filter parse beside its
 * first DZ2 coding (code_dz2 with fork). If not told apart: under
 * DIFF_PAR_ORDERS_MAX both first DZ2 parses and codings side by side, then
 * the rest (of both if still not told apart); else one order's DZ2 coding
 * after the other's, the first parked meanwhile (code_park: the second's
 * target in stream order is not held while the first is coded, nor the
 * first's parser while the second parses). */
static int code_orders(const uint8_t *dst, size_t dst_len, struct pass *ps,
                       const struct dfota_diff_opts *o, struct dfota_diff_result *res)
{
    struct coding cd[2];
    struct dfota_diff_result r2[2];
    int par = ps[0].c.src_len + dst_len < DIFF_PAR_ORDERS_MAX && dz_threads() > 1;
    int live[2] = { 1, 1 }, w, i, rc = DFOTA_OK;

    phase(o, DFOTA_DIFF_CODE, 0, 2);
    if (par) {
        code_both(cd, ps, r2, 0, par, o);
    } else {
        /* one after the other: the forward order's DZ2 parse, coded first
         * (code_dz2 below) or alone if DZ1 tells it apart, beside the DZ1
         * payloads (one parser: its chains and the DZ1 codings take less
         * than the DZ2 codings do later) */
        code_dz1(&cd[0], &ps[0], o, &r2[0], dz_threads() > 1);
        code_dz1(&cd[1], &ps[1], o, &r2[1], 0);
    }
    w = order_apart(dz1_size(&cd[0]), dz1_size(&cd[1]), ORDER_DZ1_SHIFT);
    if (w >= 0) {
        drop(cd, ps, r2, live, !w);
        cd[w].o = *o;              /* with progress now */
        phase(o, DFOTA_DIFF_CODE, (unsigned)w, 2);
        if (!par || !code_wide(&cd[w]))
            code_dz2(&cd[w], 1);
        code_end(&cd[w]);
    } else if (par) {
        code_both(cd, ps, r2, 1, par, o);
        w = order_dz2(cd, dst_len);
        if (w >= 0) {
            drop(cd, ps, r2, live, !w);
            cd[w].o = *o;
            phase(o, DFOTA_DIFF_CODE, (unsigned)w, 2);
            code_end(&cd[w]);
        } else {
            code_both(cd, ps, r2, 2, par, o);
            phase(o, DFOTA_DIFF_CODE, 1, 2);
            phase(o, DFOTA_DIFF_ENCODE, 0, 1);
        }
    } else {
        /* (the costs of a coding parked are freed, made again if wanted;
         * on Thumb code those of the second order's first DZ2 payload are
         * seldom wanted: counted if so) */
        const struct dz_match_ctx *c1 = &ps[1].c;
        cd[0].lazy = 1;
        cd[1].lazy = !cd[1].rc && !c1->small && thumb_code(c1->dst, dst_len);
        /* the backward order's DZ2 parse beside the forward one's first
         * payloads (which take little memory without their costs), as
         * code_dz1 would start it */
        if (!cd[1].rc && cd[1].dz2 && cd[1].dz1 && dz_threads() > 1 &&
            (dst_len < 65536 || copied(&ps[1].ops) >= dst_len / 100 || !flat_bytes(c1->dst, dst_len)))
            cd[0].next = &cd[1];
        code_dz2(&cd[0], 0);
        cd[0].next = NULL;         /* (still set if code_dz2 stopped before its payloads) */
        code_park(&cd[0]);
        phase(o, DFOTA_DIFF_CODE, 1, 2);
        code_dz2(&cd[1], 0);
        w = order_dz2(cd, dst_len);
        if (w == 0)
            drop(cd, ps, r2, live, 1);
        else
            code_end(&cd[1]);
        if (w == 1) {
            drop(cd, ps, r2, live, 0);
        } else {
            pass_free(&ps[1]);
            code_unpark(&cd[0], dst, dst_len);
            phase(o, DFOTA_DIFF_CODE, 0, 2);
            code_end(&cd[0]);
        }
    }
    for (i = 0; i < 2; i++)
        if (live[i] && cd[i].rc && !rc)
            rc = cd[i].rc;
    if (rc) {
        for (i = 0; i < 2; i++)
            if (live[i] && !cd[i].rc)
                dfota_diff_result_free(&r2[i]);
        return rc;
    }
    w = !live[0] || (live[1] && r2[1].payload_size < r2[0].payload_size);
    if (live[!w])
        dfota_diff_result_free(&r2[!w]);
    *res = r2[w];
    return DFOTA_OK;
}

/* In place, the write orders to match (order.c): with --direction auto
 * the order search's from forward (ord[0]) and from backward (ord[1]);
 * plain, forward and backward themselves; else the one asked for, in
 * ord[0]. */
static int write_orders(const uint8_t *src, size_t src_len, const uint8_t *dst, size_t dst_len,
                        const struct dfota_diff_opts *o, struct dz_order *ord, int *one)
{
    struct dz_deps d;
    int rc;

    if (o->direction == DFOTA_DIR_RUNS)
        return dz_order_init(&ord[0], o->order, o->norder, (uint32_t)dst_len, o->sector_size);
    if (o->direction == DFOTA_DIR_PLAIN) {
        rc = dz_order_simple(&ord[0], 0, (uint32_t)dst_len, o->sector_size);
        if (!rc && (rc = dz_order_simple(&ord[1], 1, (uint32_t)dst_len, o->sector_size)))
            dz_order_free(&ord[0]);
        return rc;
    }
    if (o->direction != DFOTA_DIR_AUTO)
        return dz_order_simple(&ord[0], o->direction == DFOTA_DIR_BACKWARD, (uint32_t)dst_len,
                               o->sector_size);
    if ((rc = dz_order_deps(&d, src, src_len, dst, dst_len, o->sector_size)))
        return rc;
    {
        /* an order that leaves over 4 times the other's bytes unreadable
         * (and 64 KiB more) is not searched: it would lose the race */
        uint64_t l0 = dz_order_plain_lost(&d, 0, o->lag), l1 = dz_order_plain_lost(&d, 1, o->lag);
        uint64_t e0 = 0, e1 = 0;
        rc = dz_order_search(&ord[0], &d, 0, o->lag, (uint32_t)dst_len, l0 <= 4 * l1 + 65536,
                             o->order_bytes, &e0);
        if (!rc)
            rc = dz_order_search(&ord[1], &d, 1, o->lag, (uint32_t)dst_len, l1 <= 4 * l0 + 65536,
                                 o->order_bytes, &e1);
        /* One base alone when its estimate (bytes unreadable, and 32 a
         * break in address order) is at most half the other's: on each of
         * the 23 corpus and own pairs where that held (2026-12-04), it was
         * the one that coding both kept; the other is then neither matched
         * nor coded. When the search changed that base's order, its plain
         * order is coded beside it instead (first: it wins a tie), so that
         * the coding, not the estimate, has the last word */
        if (!rc && d.n && d.nblocks >= 3 && (2 * e0 <= e1 || 2 * e1 <= e0)) {
            int keep = 2 * e1 <= e0 && !(2 * e0 <= e1);
            dz_order_free(&ord[!keep]);
            if (keep) {
                ord[0] = ord[1];
                memset(&ord[1], 0, sizeof ord[1]);
            }
            if (ord[0].flags & DFOTA_PKG_F_RUNS) {
                ord[1] = ord[0];
                rc = dz_order_simple(&ord[0], keep, (uint32_t)dst_len, o->sector_size);
            } else {
                *one = keep + 1;     /* (as raced below: the order kept, + 1) */
            }
        }
    }
    /* the sectors worth saving, in each order to be coded (the plain order
     * coded beside a searched one too: the coding has the last word) */
    if (!rc && o->saved > 0) {
        uint64_t e = 0;
        if (ord[0].block_of)
            rc = dz_order_save(&ord[0], &d, o->lag, (uint32_t)o->saved, &e);
        if (!rc && ord[1].block_of)
            rc = dz_order_save(&ord[1], &d, o->lag, (uint32_t)o->saved, &e);
    }
    dz_order_deps_free(&d);
    if (rc) {
        dz_order_free(&ord[0]);
        dz_order_free(&ord[1]);
    }
    return rc;
}

int dfota_diff(const uint8_t *src, size_t src_len, const uint8_t *dst, size_t dst_len,
               const struct dfota_diff_opts *o, struct dfota_diff_result *res)
{
    int32_t *sa = NULL;
    uint8_t *grams = NULL;
    unsigned gram_bits = DZ_GRAM_BITS, n, i, raced = 0;
    int rc = DFOTA_OK;
    struct pass ps[2];
    struct dz_order ord[2];
    int one = 0;              /* in place, direction auto: the one order to code + 1, when
                                 write_orders tells them apart (ord[0] holds it) */

    struct dfota_diff_opts oc;

    memset(res, 0, sizeof *res);
    memset(ps, 0, sizeof ps);
    memset(ord, 0, sizeof ord);
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
                       o->lag > DFOTA_MAX_LAG || o->direction < DFOTA_DIR_BACKWARD ||
                       o->direction > DFOTA_DIR_PLAIN))
        return DFOTA_ERR_ARG;
    if (o->inplace && (rc = write_orders(src, src_len, dst, dst_len, o, ord, &one)))
        return rc;
    if (src_len) {
        sa = malloc(src_len * sizeof *sa);
        if (!sa || divsufsort(src, sa, (saidx_t)src_len) != 0) {
            free(sa);
            dz_order_free(&ord[0]);
            dz_order_free(&ord[1]);
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
    n = o->inplace && (o->direction == DFOTA_DIR_AUTO || o->direction == DFOTA_DIR_PLAIN) && !one
            ? 2 : 1;
    if (n == 2) {
        /* the two orders side by side (par.h); the second reports no
         * progress of its own, its phases follow the first's */
        struct match_job mj;
        struct dz_task mt;
        struct dz_race race;
        memset(&race, 0, sizeof race);
        race.chunks = dst_len / DZ_RACE_CHUNK;
        if (race.chunks) {
            race.lits[0] = malloc(race.chunks * sizeof *race.lits[0]);
            race.lits[1] = malloc(race.chunks * sizeof *race.lits[1]);
            if (!race.lits[0] || !race.lits[1])
                race.chunks = 0;      /* (no race) */
        }
        mj.race = &race;
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
        mj.ord = &ord[1];
        dz_fork(&mt, match_run, &mj);
        rc = match_one(src, src_len, sa, grams, gram_bits, dst, dst_len, o, &ord[0], 0, n, &race,
                       &ps[0]);
        dz_join(&mt);
        if (!rc)
            rc = mj.rc;
        free(race.lits[0]);
        free(race.lits[1]);
        for (i = 0; i < 2; i++) {
            ps[i].c.race = NULL;
            if (race.lost[i]) {
                /* the order that lost the race (encoder.h): the other
                 * coded alone */
                pass_free(&ps[i]);
                raced = 2 - i;     /* the other order's index + 1 */
                if (!i) {
                    ps[0] = ps[1];
                    memset(&ps[1], 0, sizeof ps[1]);
                }
                n = 1;
                break;
            }
        }
        phase(o, DFOTA_DIFF_MATCH, 1, 2);
        phase(o, DFOTA_DIFF_REFINE, 1, 2);
        ps[n - 1].c.progress = o->progress;
        ps[n - 1].c.phase = o->phase;
        if (n == 1) {
            ps[0].c.pass = 0;
            ps[0].c.passes = 1;
        }
    } else {
        /* (one order told apart before matching: its phases are named as
         * of 2, as after the race) */
        rc = match_one(src, src_len, sa, grams, gram_bits, dst, dst_len, o, &ord[0],
                       one ? (unsigned)one - 1 : 0, one ? 2 : n, NULL, &ps[0]);
        raced = (unsigned)one;
    }
    free(sa);
    free(grams);
    if (!rc && n == 2) {
        rc = code_orders(dst, dst_len, ps, o, res);
    } else if (!rc) {
        /* (after the race, the progress names the order coded as of 2) */
        phase(o, DFOTA_DIFF_CODE, raced ? raced - 1 : 0, raced ? 2 : 1);
        rc = code_one(&ps[0], o, res);
    }
    for (i = 0; i < n; i++)
        pass_free(&ps[i]);
    dz_order_free(&ord[0]);
    dz_order_free(&ord[1]);
    return rc;
}

void dfota_diff_result_free(struct dfota_diff_result *res)
{
    free(res->payload);
    res->payload = NULL;
}
