/* Approximate matching in the manner of bsdiff (Percival 2003): exact
 * matches from a suffix array, extended forwards and backwards through
 * mismatches while at least half the bytes agree; what lies between two
 * extended matches becomes a literal. In place, a copy may only read source
 * bytes that are still there when its target byte is produced. */
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__) && (defined(__GNUC__) || defined(__clang__))
#include <emmintrin.h>
#define MATCH_SSE2 1
#endif
#include "dfota/delta.h"
#include "dfota/error.h"
#include "encoder.h"

int dz_oplist_push(struct dz_oplist *l, int lit, uint32_t len, uint32_t src)
{
    if (len == 0)
        return 0;
    /* Literals merge; the format has no literal after a literal. */
    if (lit && l->n && l->v[l->n - 1].lit) {
        l->v[l->n - 1].len += len;
        return 0;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        struct dz_op *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return DFOTA_ERR_ARG;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n].lit = (uint8_t)(lit != 0);
    l->v[l->n].len = len;
    l->v[l->n].src = src;
    l->n++;
    return 0;
}

#define DZ_MATCH_CAP 0x7FFFFFFFu

/* Length of the common prefix of a[0..an) and b[0..bn): with SSE2 32
 * bytes a step (the binary search of a long run of erased flash compares
 * up to DZ_BRACKET bytes a step), else eight. */
static size_t common_prefix(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    size_t i = 0, n = an < bn ? an : bn;
#if defined(MATCH_SSE2)
    while (i + 32 <= n) {
        __m128i x0 = _mm_loadu_si128((const __m128i *)(const void *)(a + i));
        __m128i y0 = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
        __m128i x1 = _mm_loadu_si128((const __m128i *)(const void *)(a + i + 16));
        __m128i y1 = _mm_loadu_si128((const __m128i *)(const void *)(b + i + 16));
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x0, y0)) |
                     (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x1, y1)) << 16;
        if (m != 0xFFFFFFFFu)
            return i + (size_t)__builtin_ctz(~m);
        i += 32;
    }
#endif
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (i + 8 <= n) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y)
            return i + (size_t)(__builtin_ctzll(x ^ y) >> 3);
        i += 8;
    }
#endif
    for (; i < n && a[i] == b[i]; i++)
        ;
    return i;
}

/* Source byte p as seen from stream position t: -1 when it may not be read. */
static int src_at(const struct dz_match_ctx *c, size_t t, size_t p)
{
    if (p >= c->src_len || !dz_src_valid(c, t, p))
        return -1;
    return c->src[p];
}

/* How many of the len bytes of a copy of dst[t..] from src[p..] may be
 * read, from the start: block by block, the readable stretch of source
 * sectors from p (within one block the committed sectors are fixed). */
static size_t valid_len(const struct dz_match_ctx *c, size_t t, size_t p, size_t len)
{
    size_t k = 0;
    if (!c->inplace)
        return len;
    while (k < len) {
        size_t end, r;
        uint32_t off, blen, addr, blk = dz_stream_block(c, t + k);
        /* end of the block holding stream position t+k */
        dz_oblock(c, blk, &off, &blen, &addr);
        end = (size_t)off + blen - t;              /* first k of the next block */
        if (end > len)
            end = len;
        r = dz_src_valid_run(c, blk > c->lag ? blk - c->lag : 0, p + k, end - k);
        if (r < end - k)
            return k + r;
        k = end;
    }
    return len;
}

/* Longest readable exact match of dst[t..] in src: a binary search over
 * the suffix array brackets it (in place comparing at most DZ_BRACKET bytes
 * a step, as runs of erased flash make every step long there),
 * then the neighbours are measured, up to what may be read; in place, more
 * neighbours are tried when the nearest ones may not be read. */
#define DZ_BRACKET 4096u
#ifndef DZ_SPAN
#define DZ_SPAN 8
#endif

static size_t measure(const struct dz_match_ctx *c, size_t t, size_t sp, size_t qn)
{
    /* In place, a sector at a time: the readable length first (a short
     * block walk), then the bytes; long runs of erased flash end early. */
    size_t n = c->src_len - sp < qn ? c->src_len - sp : qn, k = 0;
    if (!c->inplace)
        return common_prefix(c->src + sp, n, c->dst + t, n);
    while (k < n) {
        size_t want = n - k < c->sector ? n - k : c->sector;
        size_t v = valid_len(c, t + k, sp + k, want);
        size_t l = common_prefix(c->src + sp + k, v, c->dst + t + k, v);
        k += l;
        if (l < want)
            break;
    }
    return k;
}

/* In place, a run of one byte at least DZ_BRACKET long starts the same
 * DZ_BRACKET bytes at every position but its last DZ_BRACKET: the binary
 * search (which reads only those) brackets them all at the same index.
 * The caller's memo holds the stretch dst[rs..re) known to be one byte
 * and, once searched there with a whole bracket of it, that index. */
struct search_memo {
    size_t rs, re, lo;
    int has_lo;
};

static size_t search(const struct dz_match_ctx *c, size_t t, int64_t expect, size_t *pos,
                     struct search_memo *memo)
{
    const uint8_t *q = c->dst + t;
    size_t qn = c->dst_len - t < DZ_MATCH_CAP ? c->dst_len - t : DZ_MATCH_CAP;
    size_t bn = (!c->inplace || qn < DZ_BRACKET) ? qn : DZ_BRACKET;
    size_t lo = 0, hi = c->src_len, best = 0, bestpos = 0, k, span, llo = 0, lhi = 0;
    uint32_t gone;
    int run = 0;

    if (c->src_len == 0) {
        *pos = 0;
        return 0;
    }
    if (c->grams && qn >= 5 && !dz_gram_has(c->grams, c->gram_bits, c->inplace, q)) {
        /* No source string starts like this: nothing of 5 bytes or more
         * to find (encoder.h: what is reported then) */
        *pos = 0;
        return 0;
    }
    if (c->inplace && bn == DZ_BRACKET) {
        if (t < memo->rs || t >= memo->re) {
            size_t r = 1;
            if (memcmp(q, q + 1, 7) == 0)
                r += common_prefix(q, qn - 1, q + 1, qn - 1);
            memo->rs = t;
            memo->re = t + r;
            memo->has_lo = 0;
        }
        run = memo->re - t >= bn;
        if (run && memo->has_lo) {
            lo = memo->lo;
            hi = lo + 1;      /* (no binary search) */
        }
    }
    /* Invariant: the answer's suffix-order index lies in [lo, hi). Every
     * suffix between two compared ones starts with what both share with q
     * (llo, lhi bytes), so a step compares from there on. */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        size_t sp = (size_t)c->sa[mid];
        size_t m = llo < lhi ? llo : lhi;
        size_t l = m + common_prefix(c->src + sp + m, c->src_len - sp - m, q + m, bn - m);
        /* suffix < q: it ends first, or differs with a smaller byte */
        if (l == bn || sp + l == c->src_len || c->src[sp + l] < q[l]) {
            lo = mid;
            llo = l;
        } else {
            hi = mid;
            lhi = l;
        }
    }
    if (run && !memo->has_lo) {
        memo->lo = lo;
        memo->has_lo = 1;
    }
    /* Among equally long matches, the one nearest the current alignment
     * costs the fewest bits to point at (then the lowest index k).
     * Neighbours are measured from lo outwards, each side in turn: the
     * common prefix with q (capped at bn, the binary search's bracket) only
     * falls moving away from where q sorts, so once a side's falls below the
     * best length found, nothing further on that side can reach it. The
     * answer is the one a measurement of every neighbour gives. */
    span = c->inplace ? 24 : DZ_SPAN;
    gone = c->inplace ? dz_gone(c, t) : 0;
    {
        size_t kmin = lo >= span ? lo - span : 0, kmax = lo + span, bestk = 0;
        uint64_t bestdist = 0;
        int side;
        if (kmax >= c->src_len)
            kmax = c->src_len - 1;
        for (side = 0; side < 2; side++) {
            size_t k0 = side ? lo + 1 : lo, i;
            for (i = 0;; i++) {
                size_t sp, l, n, m, raw;
                uint64_t dist;
                if (side ? k0 + i > kmax : i > lo - kmin)
                    break;
                k = side ? k0 + i : k0 - i;
                sp = (size_t)c->sa[k];
                if (c->inplace && !dz_src_valid_gone(c, gone, sp))
                    continue;
                n = c->src_len - sp < qn ? c->src_len - sp : qn;
                m = n < bn ? n : bn;
                raw = common_prefix(c->src + sp, m, q, m);
                if (raw < m || m == n) {
                    /* raw is the whole common prefix */
                    if (raw < best && raw < bn)
                        break;
                    l = c->inplace ? valid_len(c, t, sp, raw) : raw;
                } else {
                    l = measure(c, t, sp, qn);   /* bn bytes agree: a sector at a time */
                }
#ifdef DZ_CHECK_MEASURE   /* -DDZ_CHECK_MEASURE: the same as measuring in full */
                if (l != measure(c, t, sp, qn))
                    abort();
#endif
                dist = (uint64_t)llabs((int64_t)sp - expect);
                if (l > best || (l == best && l && (dist < bestdist || (dist == bestdist && k < bestk)))) {
                    best = l;
                    bestpos = sp;
                    bestk = k;
                    bestdist = dist;
                }
            }
        }
    }
    if (!c->inplace && qn >= 5 && best < 5) {   /* A/B: as the 5-gram set says */
        *pos = 0;
        return 0;
    }
    *pos = bestpos;
    return best;
}

/* A copy of len bytes of dst[t..] from src[p..]; in place, the stretches it
 * may not read become literals. */
static int emit_copy(const struct dz_match_ctx *c, struct dz_oplist *ops, size_t t, size_t p,
                     size_t len)
{
    size_t k = 0;
    while (k < len) {
        size_t r = k;
        int ok = dz_src_valid(c, t + k, p + k);
        while (r < len && dz_src_valid(c, t + r, p + r) == ok)
            r++;
        if (dz_oplist_push(ops, !ok, (uint32_t)(r - k), (uint32_t)(p + k)))
            return DFOTA_ERR_ARG;
        k = r;
    }
    return DFOTA_OK;
}

/* bsdiff's scoring leaves short exact matches inside literals (new code
 * written with the same idioms as old code). A second pass copies every
 * exact match of at least DZ_SHORT_MATCH bytes found there. The length a
 * search finds does not depend on the alignment expected (that only picks
 * among equally long ones): where dz_match's search found less (bit set in
 * miss, if not NULL), it is not searched again. */
#ifndef DZ_SHORT_MATCH
#define DZ_SHORT_MATCH 5
#endif
static int refine_literals(const struct dz_match_ctx *c, struct dz_oplist *ops, const uint8_t *miss)
{
    struct dz_oplist out = { 0 };
    struct search_memo memo = { 0, 0, 0, 0 };
    size_t i, t = 0, next_report = 0;
    int64_t expect_off = 0;

    for (i = 0; i < ops->n; i++) {
        const struct dz_op op = ops->v[i];
        if (c->progress && t >= next_report) {
            c->progress(c->progress_ctx, t, c->dst_len);
            next_report = t + (1u << 16);
        }
        if (!op.lit) {
            if (dz_oplist_push(&out, 0, op.len, op.src))
                goto oom;
            expect_off = (int64_t)op.src + op.len - (int64_t)(t + op.len);
        } else {
            size_t k = 0, lit_start = 0;
            while (k < op.len) {
                size_t pos, l;
                if (c->progress && t + k >= next_report) {
                    c->progress(c->progress_ctx, t + k, c->dst_len);
                    next_report = t + k + (1u << 16);
                }
                if (miss && (miss[(t + k) >> 3] >> ((t + k) & 7) & 1)) {
                    k++;        /* dz_match's search found under DZ_SHORT_MATCH here */
                    continue;
                }
                l = search(c, t + k, (int64_t)(t + k) + expect_off, &pos, &memo);
                if (l > op.len - k)
                    l = op.len - k;
                if (l >= DZ_SHORT_MATCH) {
                    if (dz_oplist_push(&out, 1, (uint32_t)(k - lit_start), 0) ||
                        dz_oplist_push(&out, 0, (uint32_t)l, (uint32_t)pos))
                        goto oom;
                    expect_off = (int64_t)pos - (int64_t)(t + k);
                    k += l;
                    lit_start = k;
                } else {
                    k++;
                }
            }
            if (dz_oplist_push(&out, 1, (uint32_t)(op.len - lit_start), 0))
                goto oom;
        }
        t += op.len;
    }
    free(ops->v);
    *ops = out;
    if (ops->n && ops->n < ops->cap) {
        /* (held through the coding: no room to spare) */
        struct dz_op *v = realloc(ops->v, ops->n * sizeof *v);
        if (v) {
            ops->v = v;
            ops->cap = ops->n;
        }
    }
    return DFOTA_OK;
oom:
    free(out.v);
    return DFOTA_ERR_ARG;
}

/* The race (encoder.h): the literal bytes of ops up to covered (their end,
 * ops from *ni on starting at *at) not equal to the byte before them (runs
 * cost next to nothing to code) published for every chunk passed; 1 if
 * this order lost. */
static int race_on(const struct dz_match_ctx *c, const struct dz_oplist *ops, size_t covered,
                   size_t *ni, size_t *at, size_t *lits, size_t *chunk)
{
    struct dz_race *r = c->race;
    unsigned me = c->side;
    for (; *ni < ops->n; (*ni)++) {
        size_t k, end = *at + ops->v[*ni].len;
        if (ops->v[*ni].lit)
            for (k = *at ? *at : 1; k < end; k++)
                *lits += c->dst[k] != c->dst[k - 1];
        *at = end;
    }
    while (*chunk < r->chunks && covered >= (*chunk + 1) * (size_t)DZ_RACE_CHUNK) {
        size_t j = (*chunk)++;
        unsigned s;
        r->lits[me][j] = *lits;
        /* Chunk j is judged, for both orders, by the one that publishes it
         * second (sequentially consistent: of two publishing at once, one
         * sees the other's), and chunks in order: the first chunk where an
         * order is over wins whatever the threads' timing, so the package
         * does not depend on it. */
        __atomic_store_n(&r->pub[me], j + 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&r->pub[!me], __ATOMIC_SEQ_CST) > j)
            for (s = 0; s < 2; s++)
                if (r->lits[s][j] > 2 * r->lits[!s][j] + DZ_RACE_MARGIN &&
                    !__atomic_load_n(&r->lost[!s], __ATOMIC_SEQ_CST))
                    __atomic_store_n(&r->lost[s], 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&r->lost[me], __ATOMIC_SEQ_CST))
            return 1;
    }
    return __atomic_load_n(&r->lost[me], __ATOMIC_SEQ_CST);
}

int dz_match(const struct dz_match_ctx *c, struct dz_oplist *ops)
{
    const uint8_t *T = c->dst;
    size_t m = c->dst_len;
    size_t scan = 0, len = 0, pos = 0, lastscan = 0, lastpos = 0;
    int64_t lastoffset = 0;
    size_t next_report = 0;
    /* the stream positions whose search found under DZ_SHORT_MATCH bytes
     * (refine_literals; none marked if out of memory) */
    uint8_t *miss = calloc(m / 8 + 1, 1);
    struct search_memo memo = { 0, 0, 0, 0 };
    size_t ni = 0, at = 0, lits = 0, chunk = 0;
    int rc;

    while (scan < m) {
        size_t oldscore = 0, scsc;

        if (c->race && race_on(c, ops, lastscan, &ni, &at, &lits, &chunk)) {
            free(miss);
            return DFOTA_OK;
        }

        scsc = scan += len;
        if (c->progress && scan >= next_report && scan < m) {
            c->progress(c->progress_ctx, scan, m);
            next_report = scan + (1u << 16);
        }
        for (; scan < m; scan++) {
            if (c->progress && scan >= next_report) {
                c->progress(c->progress_ctx, scan, m);
                next_report = scan + (1u << 16);
            }
            len = search(c, scan, (int64_t)scan + lastoffset, &pos, &memo);
            if (miss && len < DZ_SHORT_MATCH)
                miss[scan >> 3] = (uint8_t)(miss[scan >> 3] | 1u << (scan & 7));
            for (; scsc < scan + len; scsc++) {
                int64_t sp = (int64_t)scsc + lastoffset;
                if (sp >= 0 && src_at(c, scsc, (size_t)sp) == T[scsc])
                    oldscore++;
            }
            /* Take the new match when it beats the old alignment clearly. */
            if ((len == oldscore && len != 0) || len > oldscore + 5)
                break;
            {
                int64_t sp = (int64_t)scan + lastoffset;
                if (sp >= 0 && src_at(c, scan, (size_t)sp) == T[scan])
                    oldscore--;
            }
        }
        if (len != oldscore || scan == m) {
            size_t lenf = 0, lenb = 0, i, s, best;
            int64_t score, bestscore;

            /* Extend the previous match forwards while it pays. */
            for (s = 0, i = 0, bestscore = 0; lastscan + i < scan && lastpos + i < c->src_len;) {
                /* a byte that may not be read counts as a mismatch */
                if (src_at(c, lastscan + i, lastpos + i) == T[lastscan + i])
                    s++;
                i++;
                score = (int64_t)s * 2 - (int64_t)i;
                if (score > bestscore) {
                    bestscore = score;
                    lenf = i;
                }
            }
            /* And the new one backwards. */
            if (scan < m) {
                for (s = 0, i = 1, bestscore = 0; scan >= lastscan + i && pos >= i; i++) {
                    if (src_at(c, scan - i, pos - i) == T[scan - i])
                        s++;
                    score = (int64_t)s * 2 - (int64_t)i;
                    if (score > bestscore) {
                        bestscore = score;
                        lenb = i;
                    }
                }
            }
            /* Where they overlap, split where the two alignments disagree best. */
            if (lastscan + lenf > scan - lenb) {
                size_t overlap = (lastscan + lenf) - (scan - lenb), lens = 0;
                int64_t sc = 0;
                for (i = 0, best = 0, bestscore = 0; i < overlap; i++) {
                    size_t t = lastscan + lenf - overlap + i;
                    if (src_at(c, t, lastpos + lenf - overlap + i) == T[t])
                        sc++;
                    if (src_at(c, t, pos - lenb + i) == T[t])
                        sc--;
                    if (sc > bestscore) {
                        bestscore = sc;
                        lens = i + 1;
                    }
                }
                (void)best;
                lenf += lens - overlap;
                lenb -= lens;
            }
            if (emit_copy(c, ops, lastscan, lastpos, lenf) ||
                dz_oplist_push(ops, 1, (uint32_t)((scan - lenb) - (lastscan + lenf)), 0)) {
                free(miss);
                return DFOTA_ERR_ARG;
            }
            lastscan = scan - lenb;
            lastpos = pos - lenb;
            lastoffset = (int64_t)pos - (int64_t)scan;
        }
    }
    if (c->race && race_on(c, ops, lastscan, &ni, &at, &lits, &chunk)) {
        free(miss);
        return DFOTA_OK;
    }
    if (c->progress)
        c->progress(c->progress_ctx, m, m);
    if (c->phase)
        c->phase(c->progress_ctx, DFOTA_DIFF_REFINE, c->pass, c->passes);
    rc = refine_literals(c, ops, miss);
    free(miss);
    return rc;
}
