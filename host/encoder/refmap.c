/* The shift map for reference prediction (dfota/delta.h): where each part
 * of the source went in the target, read off the copies the matcher found,
 * coarsened to at most DZ_MAP_MAX pieces (DZ2S_MAP_MAX for the small
 * model). */
#include <stdlib.h>
#include <string.h>
#include "dfota/delta2.h"
#include "encoder.h"

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
    if (c->backward) {
        uint32_t last = (uint32_t)(c->dst_len - (size_t)(c->nblocks - 1) * c->sector);
        blk = t < last ? 0 : 1 + (uint32_t)((t - last) / c->sector);
    } else {
        blk = (uint32_t)(t / c->sector);
    }
    dz_block(blk, (uint32_t)c->dst_len, c->sector, c->backward, &off, &len, &addr);
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

/* Score the bases: how many aligned pointer words of the copies each one
 * predicts exactly. A word counts only where the target differs from the
 * source (the prediction must give the target and not the source word), so
 * the words that are copied unchanged, most of them, are skipped for every
 * base at once; the address runs along a copy, recomputed per block. */
static void score_bases(const struct dz_match_ctx *c, const struct dz_oplist *ops,
                        const struct dz_xparams *x, const uint32_t *base, uint32_t nbase,
                        size_t *hits)
{
    size_t i, t = 0;
    uint32_t b;
    for (b = 0; b < nbase; b++)
        hits[b] = 0;
    for (i = 0; i < ops->n; i++) {
        const struct dz_op *op = &ops->v[i];
        if (!op->lit && op->len >= 4) {
            size_t k;
            uint32_t left = 0, a = 0;
            for (k = 0; k + 4 <= op->len; k++, a++, left--) {
                const uint8_t *sp = c->src + op->src + k, *dp = c->dst + t + k;
                uint8_t pred[4];
                if (!left)
                    a = addr_of(c, t + k, &left);
                if ((a & 3) || memcmp(dp, sp, 4) == 0)
                    continue;
                for (b = 0; b < nbase; b++)
                    if (dz_predict(sp, (uint32_t)(op->src + k), a, DZ_X_PTR32, base[b], x->map,
                                   x->map_n, (uint32_t)c->src_len, pred) == 2 &&
                        memcmp(pred, dp, 4) == 0)
                        hits[b]++;
            }
        }
        t += op->len;
    }
}

uint32_t dz_guess_base(const struct dz_match_ctx *c, const struct dz_oplist *ops,
                       const struct dz_xparams *x)
{
    /* Usual flash addresses, and the reset vector (word 1 of a Cortex-M
     * image) rounded down to every power of two. */
    uint32_t cand[48], n = 0, i, best = 0;
    size_t best_score = 0, score[48];
    static const uint32_t common[] = { 0x00000000, 0x08000000, 0x00100000, 0x00400000,
                                       0x10000000, 0x00080000, 0x00200000, 0x60000000 };
    for (i = 0; i < sizeof common / sizeof common[0]; i++)
        cand[n++] = common[i];
    if (c->src_len >= 8) {
        uint32_t rv = (uint32_t)c->src[4] | (uint32_t)c->src[5] << 8 | (uint32_t)c->src[6] << 16 |
                      (uint32_t)c->src[7] << 24;
        for (i = 8; i < 28; i++)
            cand[n++] = rv & ~((1u << i) - 1);
    }
    score_bases(c, ops, x, cand, n, score);
    for (i = 0; i < n; i++) {
        if (score[i] > best_score) {
            best_score = score[i];
            best = cand[i];
        }
    }
    return best;
}
