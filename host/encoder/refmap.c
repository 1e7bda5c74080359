/* The shift map for reference prediction (dfota/delta.h): where each part
 * of the source went in the target, read off the copies the matcher found,
 * coarsened to at most DZ_MAP_MAX pieces (DZ2S_MAP_MAX for the small
 * model). */
#include <stdlib.h>
#include <string.h>
#include "dfota/delta2.h"
#include "encoder.h"

static uint32_t dfota_le32_(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

struct seg {
    uint32_t src, len;
    int32_t shift;
};

static int by_src(const void *a, const void *b)
{
    const struct seg *x = a, *y = b;
    if (x->src != y->src)
        return x->src < y->src ? -1 : 1;
    return x->len > y->len ? -1 : x->len < y->len;   /* longer first */
}

/* Target address of stream position t. */
static uint32_t addr_of(const struct dz_match_ctx *c, size_t t, uint32_t *block_left)
{
    uint32_t off, len, addr, blk;
    if (!c->inplace) {
        *block_left = (uint32_t)(c->dst_len - t);
        return (uint32_t)t;
    }
    blk = dz_stream_block(c, t);
    dz_oblock(c, blk, &off, &len, &addr);
    *block_left = off + len - (uint32_t)t;
    return addr + (uint32_t)(t - off);
}

/* The map from the segments of minlen bytes or more, if it fits in max
 * entries (returns 1; else 0, x->map_n unset). */
static int fill_map(const struct seg *v, size_t n, uint32_t minlen, uint32_t max, struct dz_xparams *x)
{
    size_t m = 0, k;
    int32_t last = 0;
    uint32_t end = 0;
    for (k = 0; k < n; k++) {
        if (v[k].len < minlen || v[k].src + v[k].len <= end)
            continue;                          /* short, or inside a longer one */
        if (m == 0 || v[k].shift != last) {
            if (m >= max)
                return 0;
            x->map[m].src = v[k].src > end ? v[k].src : end;
            x->map[m].shift = v[k].shift;
            last = v[k].shift;
            m++;
        }
        end = v[k].src + v[k].len;
    }
    x->map_n = (uint32_t)m;
    return 1;
}

void dz_build_map(const struct dz_match_ctx *c, const struct dz_oplist *ops, struct dz_xparams *x)
{
    size_t n = 0, cap = ops->n + 16, i, t = 0, k;
    struct seg *v = malloc(cap * sizeof *v);
    uint32_t minlen;

    x->map_n = 0;
    if (!v)
        return;
    for (i = 0; i < ops->n; i++) {
        const struct dz_op *op = &ops->v[i];
        if (!op->lit) {
            /* a copy may cross in-place blocks: one segment per block */
            size_t done = 0;
            while (done < op->len) {
                uint32_t left, a = addr_of(c, t + done, &left);
                uint32_t len = (uint32_t)(op->len - done) < left ? (uint32_t)(op->len - done) : left;
                if (n == cap) {
                    struct seg *nv = realloc(v, (cap *= 2) * sizeof *v);
                    if (!nv) {
                        free(v);
                        return;
                    }
                    v = nv;
                }
                v[n].src = (uint32_t)(op->src + done);
                v[n].len = len;
                v[n].shift = (int32_t)((int64_t)a - (int64_t)v[n].src);
                n++;
                done += len;
            }
        }
        t += op->len;
    }
    qsort(v, n, sizeof *v, by_src);
    /* Short copies are often chance matches; drop them, raising the bar
     * until the map fits. The small model's map is short: there the bar is
     * then lowered again, in steps of 1/8, as far as the map still fits,
     * so that it holds close to its DZ2S_MAP_MAX entries. */
    for (minlen = 32; !fill_map(v, n, minlen, c->small ? DZ2S_MAP_MAX : DZ_MAP_MAX, x); minlen *= 2)
        ;
    if (c->small && minlen > 32) {
        uint32_t lo = minlen / 2, step = lo / 8 ? lo / 8 : 1, ml;
        for (ml = lo + step; ml < minlen; ml += step)
            if (fill_map(v, n, ml, DZ2S_MAP_MAX, x))
                break;
        if (ml >= minlen)
            fill_map(v, n, minlen, DZ2S_MAP_MAX, x);
    }
    /* Entries must rise strictly (equal starts collapse to the later). */
    for (i = 0, k = 0; i < x->map_n; i++) {
        if (k && x->map[k - 1].src == x->map[i].src)
            k--;
        x->map[k++] = x->map[i];
    }
    x->map_n = (uint32_t)k;
    free(v);
}

/* The image base. A 32-bit word of a copy whose source value v points into
 * the source image (v - base < src_size) is predicted as
 * base + dz_map_addr(v - base): a hit where that is the target word and v
 * is not, a miss where v was kept and the prediction changes it. The base
 * is the one with the most hits less misses. Hits are counted for every
 * base at once: a changed word (v -> w) hits exactly for the bases that put
 * v - base into a map piece whose shift is w - v, an interval of bases per
 * piece, so a sweep over the interval ends finds the bases with the most
 * hits (wherever the image was linked, with no list of usual addresses);
 * misses are then counted for the best few of those, with the usual flash
 * addresses and the ones the reset vector suggests. */
struct pword {
    uint32_t v, w;               /* source and target value */
};

struct bevent {
    uint64_t at;                 /* first base of a change in the hit count */
    int32_t d;
};

static int by_at(const void *a, const void *b)
{
    const struct bevent *x = a, *y = b;
    return x->at < y->at ? -1 : x->at > y->at;
}

static int by_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* End of map piece j (exclusive). */
static uint32_t piece_end(const struct dz_xparams *x, uint32_t j, uint32_t src_size)
{
    return j + 1 < x->map_n ? x->map[j + 1].src : src_size;
}

/* The first of sorted kept[0..n) that is >= v (n if none). */
static size_t first_at_least(const uint32_t *kept, size_t n, uint64_t v)
{
    size_t a = 0, b = n;
    while (a < b) {
        size_t m = (a + b) / 2;
        if (kept[m] < v)
            a = m + 1;
        else
            b = m;
    }
    return a;
}

/* Values of kept words in [lo, hi) (sorted kept[0..n)). */
static size_t count_in(const uint32_t *kept, size_t n, uint64_t lo, uint64_t hi)
{
    return hi > lo ? first_at_least(kept, n, hi) - first_at_least(kept, n, lo) : 0;
}

static long score_base(const struct dz_xparams *x, uint32_t src_size, const struct pword *chg,
                       size_t nchg, const uint32_t *kept, size_t nkept, uint32_t base)
{
    long score = 0;
    size_t i;
    uint32_t j;

    for (i = 0; i < nchg; i++) {
        uint32_t o = chg[i].v - base;
        if (o < src_size && base + dz_map_addr(x->map, x->map_n, o, src_size) == chg[i].w)
            score++;
    }
    for (j = 0; j < x->map_n; j++)
        if (x->map[j].shift)
            score -= (long)count_in(kept, nkept, (uint64_t)base + x->map[j].src,
                                    (uint64_t)base + piece_end(x, j, src_size));
    return score;
}

/* The address in [lo, hi] with the most trailing zero bits. */
static uint32_t most_aligned(uint64_t lo, uint64_t hi)
{
    int b;
    if (lo == 0)
        return 0;
    for (b = 31; b > 0; b--) {
        uint64_t m = (uint64_t)1 << b, a = (lo + m - 1) & ~(m - 1);
        if (a <= hi)
            return (uint32_t)a;
    }
    return (uint32_t)lo;
}

#define SWEEP_TOP 12u

uint32_t dz_guess_base(const struct dz_match_ctx *c, const struct dz_oplist *ops,
                       const struct dz_xparams *x)
{
    static const uint32_t common[] = { 0x00000000, 0x08000000, 0x00100000, 0x00400000,
                                       0x10000000, 0x00080000, 0x00200000, 0x60000000 };
    uint32_t cand[64], top[SWEEP_TOP], src_size = (uint32_t)c->src_len, best = 0;
    size_t ntop = 0, topcnt[SWEEP_TOP], n = 0, i, t = 0, nchg = 0, nkept = 0, nev = 0, cap;
    struct pword *chg;
    uint32_t *kept;
    struct bevent *ev = NULL;
    long best_score = 0;

    if (!x->map_n || c->src_len < 8)
        return 0;
    for (i = 0, cap = 0; i < ops->n; i++)
        if (!ops->v[i].lit)
            cap += ops->v[i].len / 4 + 1;
    chg = malloc((cap + 1) * sizeof *chg);
    kept = malloc((cap + 1) * sizeof *kept);
    if (!chg || !kept)
        goto done;
    for (i = 0; i < ops->n; i++) {
        const struct dz_op *op = &ops->v[i];
        size_t k;
        if (!op->lit) {
            /* the address runs along a copy, recomputed per block */
            uint32_t left = 0, a = 0;
            for (k = 0; k + 4 <= op->len; k++, a++, left--) {
                uint32_t v, w;
                if (!left)
                    a = addr_of(c, t + k, &left);
                if (a & 3)
                    continue;
                v = dfota_le32_(c->src + op->src + k);
                w = dfota_le32_(c->dst + t + k);
                if (v != w) {
                    chg[nchg].v = v;
                    chg[nchg++].w = w;
                } else {
                    kept[nkept++] = v;
                }
            }
        }
        t += op->len;
    }
    qsort(kept, nkept, sizeof *kept, by_u32);
    /* hit intervals of the changed words, swept */
    for (i = 0, cap = 0; i < nchg; i++) {
        uint32_t j, d = chg[i].w - chg[i].v;
        for (j = 0; j < x->map_n; j++) {
            uint32_t lo = x->map[j].src, hi = piece_end(x, j, src_size);
            if ((uint32_t)x->map[j].shift != d || chg[i].v < lo || hi <= lo)
                continue;
            if (nev + 2 > cap) {
                struct bevent *ne = realloc(ev, (cap = cap ? 2 * cap : 4096) * sizeof *ev);
                if (!ne)
                    goto done;
                ev = ne;
            }
            ev[nev].at = chg[i].v >= hi - 1 ? chg[i].v - (hi - 1) : 0;
            ev[nev++].d = 1;
            ev[nev].at = (uint64_t)(chg[i].v - lo) + 1;
            ev[nev++].d = -1;
        }
    }
    if (nev)
        qsort(ev, nev, sizeof *ev, by_at);
    {
        long cnt = 0;
        for (i = 0; i < nev;) {
            uint64_t at = ev[i].at;
            for (; i < nev && ev[i].at == at; i++)
                cnt += ev[i].d;
            if (cnt > 0 && i < nev) {
                /* bases [at, ev[i].at) hit cnt words: keep the best few */
                uint32_t b = most_aligned(at, ev[i].at - 1);
                size_t k;
                if (ntop < SWEEP_TOP)
                    k = ntop++;
                else if (topcnt[SWEEP_TOP - 1] >= (size_t)cnt)
                    continue;
                else
                    k = SWEEP_TOP - 1;
                for (; k > 0 && topcnt[k - 1] < (size_t)cnt; k--) {
                    top[k] = top[k - 1];
                    topcnt[k] = topcnt[k - 1];
                }
                top[k] = b;
                topcnt[k] = (size_t)cnt;
            }
        }
    }
    /* candidates: the usual flash addresses, the reset vector (word 1 of a
     * Cortex-M image) rounded down to powers of two, the sweep's best */
    for (i = 0; i < sizeof common / sizeof common[0]; i++)
        cand[n++] = common[i];
    {
        uint32_t rv = dfota_le32_(c->src + 4), b;
        for (b = 8; b < 28; b++)
            cand[n++] = rv & ~((1u << b) - 1);
    }
    for (i = 0; i < ntop; i++)
        cand[n++] = top[i];
    for (i = 0; i < n; i++) {
        long s = score_base(x, src_size, chg, nchg, kept, nkept, cand[i]);
        if (s > best_score) {
            best_score = s;
            best = cand[i];
        }
    }
done:
    free(chg);
    free(kept);
    free(ev);
    return best;
}
