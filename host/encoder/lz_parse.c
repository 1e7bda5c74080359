/* The DZ2 parse. DZ1's matcher (match.c) finds the approximate copies;
 * those of DZ2_COPY_MIN bytes or more are kept. Everything between them is
 * parsed again over the joint address space (source, then the target in
 * stream order) by a cost-based parse in the manner of LZMA's optimal
 * parser: per stretch of at most DZ2_CHUNK positions, the cheapest path of
 * literals, repeat-distance copies and hash-chain matches, with estimated
 * prices in bits and the repeat distances carried along each path.
 * A second parse, priced from what the first one's payload spent, also
 * parses the approximate copies, free to keep any stretch of each as a
 * copy (docs/delta-format.md, "The DZ2 encoder"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__) && (defined(__GNUC__) || defined(__clang__))
#include <emmintrin.h>
#define CHAIN_SSE2 1
#endif
#include "dfota/error.h"
#include "dz2.h"

#define HASH_BITS_MAX 22     /* the hash table grows with the input, up to 16 MiB */
#define CHAIN_DEPTH 24
#define NICE_LEN    96        /* a match this long is taken without further search */
#define DZ2_CHUNK   4096u
#define MATCH_MIN_HASH 4u

struct node {
    float cost;
    uint32_t len;             /* step into this node: 0 = unreached, else its length */
    uint32_t u;               /* match: joint position; literal: unused */
    uint8_t kind;             /* DZ2_OP_LIT or DZ2_OP_MATCH */
    uint8_t lastlit;
    uint32_t rep[DZ2_REPS];
    int32_t align;
};

struct parser {
    const struct dz_match_ctx *c;
    const uint8_t *j;         /* source, then the target stream: jbuf, or the caller's
                               * images where they lie so and no filter is asked for */
    uint8_t *jbuf;
    size_t jlen, inserted;
    /* the hash chains (build_chains): link i is the last position before i
     * with the same hash, -1 if none; 3 bytes a link (little-endian,
     * 0xFFFFFF for none) when the joint image is under LINK3_MAX bytes,
     * else 4 (prev4) */
    uint8_t *prev3;
    int32_t *prev4;
    unsigned hash_bits;
    float lit_price[DZ_LIT_CTX][256];
    struct node *nodes;       /* (during dz2_parser_run only, as cpc and cps) */
    /* the second parse (dz2_parser_run with a first one): per stream
     * position what an approximate copy spends on its byte (bcost), the
     * estimated bits of a copy operation's header; the copy state's cost
     * and start per node */
    const uint16_t *bq;       /* in 1/256 bit of the first payload */
    float bscale, hdr;
    float *cpc;
    uint32_t *cps;
    double est;               /* estimated bits of the parse so far */
    int incopy;               /* the last stretch ended in a copy that may go on */
    /* state at the current position */
    uint32_t rep[DZ2_REPS];
    int32_t align;
    int lastlit;
};

/* (links of 3 bytes while every position and the marks of build_chains,
 * 2^23 + a hash, fit beside the "none" 0xFFFFFF) */
#define LINK3_MAX 0x7FFFFFu

/* Link i as stored: 3 or 4 bytes (prev3 holds one byte more, so a link
 * is read with one load of 4). */
static inline uint32_t link_raw(const struct parser *ps, size_t i)
{
    uint32_t v;
    if (ps->prev4)
        return (uint32_t)ps->prev4[i];
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(&v, ps->prev3 + 3 * i, 4);
    return v & 0xFFFFFFu;
#else
    v = (uint32_t)ps->prev3[3 * i] | (uint32_t)ps->prev3[3 * i + 1] << 8 |
        (uint32_t)ps->prev3[3 * i + 2] << 16;
    return v;
#endif
}

static inline void link_set_raw(struct parser *ps, size_t i, uint32_t v)
{
    if (ps->prev4) {
        ps->prev4[i] = (int32_t)v;
    } else {
        uint8_t *p = ps->prev3 + 3 * i;
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
        p[2] = (uint8_t)(v >> 16);
    }
}

/* The next position on i's chain, -1 if none. */
static inline int32_t link_at(const struct parser *ps, size_t i)
{
    uint32_t v = link_raw(ps, i);
    return ps->prev4 || v != 0xFFFFFFu ? (int32_t)v : -1;
}

/* The next link of a hash chain and its bytes asked for early: following
 * a chain waits on memory, one link after the other. */
static inline void chain_prefetch(const struct parser *ps, size_t u)
{
#if defined(__GNUC__) || defined(__clang__)
    int32_t nx = link_at(ps, u);
    if (nx >= 0) {
        if (ps->prev4)
            __builtin_prefetch(ps->prev4 + nx);
        else
            __builtin_prefetch(ps->prev3 + 3 * (size_t)nx);
        __builtin_prefetch(ps->j + nx);
    }
#else
    (void)ps;
    (void)u;
#endif
}

static inline uint32_t hash4(const struct parser *ps, const uint8_t *p)
{
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return (v * 2654435761u) >> (32 - ps->hash_bits);
}

/* The chains, all built before the parse: link i is the last position
 * before i with the same hash (-1 if none), as inserting the positions one
 * by one would leave it. The head table of 2^hash_bits entries is needed
 * only here, and one part of its hash range at a time: a table of
 * 2^part_bits entries, so the parse holds no head table and the chains are
 * the same. */
static int build_chains(struct parser *ps)
{
    unsigned part_bits = ps->hash_bits, q;
    size_t i, n = ps->jlen >= 4 ? ps->jlen - 3 : 0;
    /* (the mark: 2^31, or 2^23 for links of 3 bytes) */
    const uint32_t mark = ps->prev4 ? 0x80000000u : 0x800000u, all = ps->prev4 ? 0xFFFFFFFFu : 0xFFFFFFu;
    int32_t *head;

    while (part_bits > 12 && (sizeof(int32_t) << part_bits) > ps->jlen)
        part_bits--;
    head = malloc(sizeof(int32_t) << part_bits);
    if (!head)
        return DFOTA_ERR_ARG;
    /* link i holds the mark + the hash of i until i's part is done: the
     * parts read it instead of hashing every position again. A link (below
     * the mark, or -1 / 0xFFFFFF) less the mark wraps to the mark or more,
     * which no part's q reaches (hash_bits <= 22, part_bits >= 12). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (!ps->prev4) {
        /* (in order, a store of 4 bytes a link: the next one overwrites the
         * fourth, the last one the spare byte) */
        for (i = 0; i < n; i++) {
            uint32_t v = mark | hash4(ps, ps->j + i);
            memcpy(ps->prev3 + 3 * i, &v, 4);
        }
    } else
#endif
        for (i = 0; i < n; i++)
            link_set_raw(ps, i, mark | hash4(ps, ps->j + i));
    for (q = 0; q < 1u << (ps->hash_bits - part_bits); q++) {
        memset(head, 0xFF, sizeof(int32_t) << part_bits);
        i = 0;
#ifdef CHAIN_SSE2
        if (ps->prev4) {   /* four positions at a time: the same test, the same links */
            const __m128i qv = _mm_set1_epi32((int)q), top = _mm_set1_epi32(INT32_MIN),
                          sh = _mm_cvtsi32_si128((int)part_bits);
            for (; i + 4 <= n; i += 4) {
                __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(ps->prev4 + i));
                v = _mm_srl_epi32(_mm_sub_epi32(v, top), sh);
                unsigned mask = (unsigned)_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(v, qv)));
                while (mask) {
                    size_t x = i + (unsigned)__builtin_ctz(mask);
                    uint32_t h = ((uint32_t)ps->prev4[x] - 0x80000000u) & ((1u << part_bits) - 1);
                    mask &= mask - 1;
                    ps->prev4[x] = head[h];
                    head[h] = (int32_t)x;
                }
            }
        } else if (part_bits >= 16) {
            /* links of 3 bytes: a mark of this part is told by its top
             * byte, 0x80 | the hash's bits from 16 up (a link's is below
             * 0x80, none's 0xFF), sixteen links (48 bytes) at a time: the
             * same test, the same links, in the same order */
            const unsigned sb = part_bits - 16;
            const __m128i mv = _mm_set1_epi8((char)(uint8_t)(0xFFu << sb)),
                          pv = _mm_set1_epi8((char)(uint8_t)(0x80u | q << sb));
            for (; i + 16 <= n; i += 16) {
                const uint8_t *b = ps->prev3 + 3 * i;
                uint64_t mask = 0;
                unsigned k;
                for (k = 0; k < 3; k++) {
                    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(b + 16 * k));
                    mask |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(v, mv), pv))
                            << (16 * k);
                }
                mask &= 0x924924924924ull;     /* the top bytes: 2, 5, ..., 47 */
                while (mask) {
                    size_t x = i + (unsigned)__builtin_ctzll(mask) / 3;
                    uint32_t h = (link_raw(ps, x) - mark) & ((1u << part_bits) - 1);
                    mask &= mask - 1;
                    link_set_raw(ps, x, (uint32_t)head[h]);
                    head[h] = (int32_t)x;
                }
            }
        }
#endif
        for (; i < n; i++) {
            uint32_t h = (link_raw(ps, i) - mark) & all;
            if (h >> part_bits != q)
                continue;
            h &= (1u << part_bits) - 1;
            link_set_raw(ps, i, (uint32_t)head[h]);
            head[h] = (int32_t)i;
        }
    }
    free(head);
    return DFOTA_OK;
}

/* Positions before upto count as inserted (chain_head). */
static inline void insert_upto(struct parser *ps, size_t upto)
{
    if (ps->inserted < upto)
        ps->inserted = upto;
}

/* What the head table would hold for the hash of position jt once every
 * position before max(jt, inserted) is in it: the last such position with
 * that hash. */
static int32_t chain_head(struct parser *ps, size_t jt)
{
    size_t x;
    uint32_t h;
    insert_upto(ps, jt);
    if (ps->inserted == jt)
        return link_at(ps, jt);
    h = hash4(ps, ps->j + jt);
    for (x = ps->inserted - 1; x > jt; x--)
        if (x + 4 <= ps->jlen && hash4(ps, ps->j + x) == h)
            return (int32_t)x;
    return (int32_t)jt;
}

void dz2_block_span(const struct dz_match_ctx *c, size_t t, size_t *start, size_t *end)
{
    uint32_t blk, off, len, addr;
    if (!c->inplace) {
        *start = 0;
        *end = c->dst_len;
        return;
    }
    blk = dz_stream_block(c, t);
    dz_oblock(c, blk, &off, &len, &addr);
    *start = off;
    *end = (size_t)off + len;
}

static uint32_t addr_of(const struct dz_match_ctx *c, size_t t)
{
    uint32_t off, len, addr;
    if (!c->inplace)
        return (uint32_t)t;
    dz_oblock(c, dz_stream_block(c, t), &off, &len, &addr);
    return addr + (uint32_t)(t - off);
}

/* Price of the number coder for v >= 1, in bits (an estimate). */
static inline float num_price(uint32_t v)
{
#if defined(__GNUC__) || defined(__clang__)
    unsigned n = v ? 32u - (unsigned)__builtin_clz(v) : 0u;   /* v's bit length */
#else
    unsigned n = 0;
    while (v) {
        n++;
        v >>= 1;
    }
#endif
    return 1.5f + 1.0f * (float)(n - 1) + 0.35f * (float)n;
}

/* Longest exact match of the target at stream position t with joint
 * position u, at most lim bytes, that the decoder may read; 0 if none. */
static uint32_t match_len(const struct parser *ps, size_t t, size_t u, uint32_t lim, size_t bstart)
{
    const struct dz_match_ctx *c = ps->c;
    size_t jt = c->src_len + t;
    uint32_t l = 0;

    if (u < c->src_len) {
        if (c->src_len - u < lim)
            lim = (uint32_t)(c->src_len - u);
        if (c->inplace) {
            uint32_t gone = dz_gone(c, t);
            lim = (uint32_t)dz_src_valid_run(c, gone, u, lim);
            if (!lim)
                return 0;
        }
    } else if (c->inplace) {
        size_t q = u - c->src_len;
        if (q < bstart || (!c->blockwin && t - q > DZ2_RING))
            return 0;
    }
    /* (8 bytes at a time, then the rest: the same length) */
    while (l + 8 <= lim) {
        uint64_t a, b;
        memcpy(&a, ps->j + u + l, 8);
        memcpy(&b, ps->j + jt + l, 8);
        if (a != b) {
#if (defined(__GNUC__) || defined(__clang__)) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return l + (uint32_t)__builtin_ctzll(a ^ b) / 8;
#else
            break;
#endif
        }
        l += 8;
    }
    while (l < lim && ps->j[u + l] == ps->j[jt + l])
        l++;
    return l;
}

static void relax(struct parser *ps, uint32_t i, uint32_t len, uint32_t u, float cost, int kind,
                  size_t t)
{
    struct node *from = &ps->nodes[i], *to = &ps->nodes[i + len];
    if (to->len && to->cost <= cost)
        return;
    to->cost = cost;
    to->len = len;
    to->u = u;
    to->kind = (uint8_t)kind;
    memcpy(to->rep, from->rep, sizeof to->rep);
    to->align = from->align;
    to->lastlit = kind == DZ2_OP_LIT;
    if (kind == DZ2_OP_COPY) {
        to->align = (int32_t)((int64_t)u - (int64_t)t);
    } else if (kind == DZ2_OP_MATCH) {
        uint32_t d = (uint32_t)(ps->c->src_len + t - u), r;
        for (r = 0; r < DZ2_REPS - 1 && to->rep[r] != d; r++)
            ;
        dz2_rep_use(to->rep, r, d);
        if (u < ps->c->src_len)
            to->align = (int32_t)((int64_t)u - (int64_t)t);
    }
}

static int push(struct dz2_oplist *l, unsigned kind, uint32_t len, uint32_t u)
{
    if (len == 0)
        return 0;
    if (kind == DZ2_OP_LIT && l->n && l->v[l->n - 1].kind == DZ2_OP_LIT) {
        l->v[l->n - 1].len += len;
        return 0;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        struct dz2_op *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return DFOTA_ERR_ARG;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n].kind = (uint8_t)kind;
    l->v[l->n].len = len;
    l->v[l->n].u = u;
    l->n++;
    return 0;
}

/* An approximate copy the second parse may keep, in part or whole: stream
 * position t0 from source position s0. */
struct cspan {
    size_t t0;
    uint32_t s0;
};

static inline float bcost(const struct parser *ps, size_t t)
{
    return (float)ps->bq[t] * ps->bscale;
}

#define GATE_WIN  32u    /* in a copy, matches are searched where the copy's next */
#define GATE_BITS 12.0f  /* GATE_WIN bytes cost GATE_BITS or more (estimated), */
#define COPY_DEPTH 4u    /* with chains followed this deep only */

/* Parse target stream positions [a, b) in chunks; with cs, [a, b) lies in
 * that approximate copy, and the parse may also take any stretch of it as a
 * copy (at the byte costs of bcost). */
static int parse_gap(struct parser *ps, size_t a, size_t b, struct dz2_oplist *out,
                     const struct cspan *cs)
{
    const struct dz_match_ctx *c = ps->c;
    ps->incopy = 0;
    while (a < b) {
        size_t bs, be, c1;
        uint32_t L, i, k, skip_to = 0;
        struct node *nd = ps->nodes;
        float *cpc = ps->cpc, win = 0;
        uint32_t *cps = ps->cps;

        dz2_block_span(c, a, &bs, &be);
        c1 = b < be ? b : be;
        if (c1 - a > DZ2_CHUNK)
            c1 = a + DZ2_CHUNK;
        L = (uint32_t)(c1 - a);
        for (i = 0; i <= L; i++)
            nd[i].len = 0;
        nd[0].cost = 0;
        nd[0].len = 1;               /* reached */
        memcpy(nd[0].rep, ps->rep, sizeof ps->rep);
        nd[0].align = ps->align;
        nd[0].lastlit = (uint8_t)ps->lastlit;
        if (cs) {
            cpc[0] = ps->incopy ? 0.0f : HUGE_VALF;
            cps[0] = 0;
            for (i = 0; i < GATE_WIN && i < L; i++)
                win += bcost(ps, a + i);
        }
        for (i = 0; i <= L; i++) {
            size_t t = a + i, jt = c->src_len + t;
            uint32_t lim = L - i, best = 0, r, depth;
            float base;
            int32_t cand;
            if (cs) {
                /* the copy state: a copy ends here, or goes on (or starts) */
                float v = cpc[i];
                uint32_t st = cps[i];
                if (v < HUGE_VALF && i > st)
                    relax(ps, st, i - st, cs->s0 + (uint32_t)(a + st - cs->t0), v, DZ2_OP_COPY, a + st);
                if (i == L)
                    break;
                if (nd[i].len && nd[i].cost + ps->hdr < v) {
                    v = nd[i].cost + ps->hdr;
                    st = i;
                }
                cpc[i + 1] = v + bcost(ps, t);
                cps[i + 1] = st;
                if (i)
                    win += (i + GATE_WIN - 1 < L ? bcost(ps, t + GATE_WIN - 1) : 0.0f) -
                           bcost(ps, t - 1);
            } else if (i == L) {
                break;
            }
            if (!nd[i].len || i < skip_to)
                continue;
            base = nd[i].cost;
            insert_upto(ps, jt);
            {   /* a literal */
                uint8_t prevb = t ? ps->j[jt - 1] : 0;
                float p = ps->lit_price[dz_lit_ctx(addr_of(c, t), prevb)][ps->j[jt]];
                relax(ps, i, 1, 0, base + p + (nd[i].lastlit ? 0.0f : 4.0f), DZ2_OP_LIT, t);
            }
            /* repeat distances */
            for (r = 0; r < DZ2_REPS; r++) {
                uint32_t d = nd[i].rep[r], l, m;
                float pr;
                if (d == 0 || d > jt)
                    continue;
                /* (first bytes that differ: no match of DZ2_MATCH_MIN) */
                if (lim < DZ2_MATCH_MIN || memcmp(ps->j + jt - d, ps->j + jt, DZ2_MATCH_MIN))
                    continue;
                l = match_len(ps, t, jt - d, lim, bs);
                if (l < DZ2_MATCH_MIN)
                    continue;
                pr = base + 3.0f + (r == 0 ? 0.3f : r == 1 ? 1.3f : 2.0f);
                for (m = DZ2_MATCH_MIN; m <= l; m++) {
                    if (m != l && m > 8 && l - m > 8)
                        continue;  /* long matches: only short lengths and the full one */
                    relax(ps, i, m, (uint32_t)(jt - d), pr + num_price(m - 1), DZ2_OP_MATCH, t);
                }
                if (l > best)
                    best = l;
            }
            /* hash-chain matches */
            if (lim >= MATCH_MIN_HASH && best < NICE_LEN && jt + 4 <= ps->jlen && (!cs || win >= GATE_BITS)) {
                uint32_t top = 0, dmax = cs ? COPY_DEPTH : CHAIN_DEPTH;
                cand = chain_head(ps, jt);
                for (depth = 0; cand >= 0 && depth < dmax; depth++, cand = link_at(ps, (size_t)cand)) {
                    size_t u = (size_t)cand;
                    uint32_t l, d = (uint32_t)(jt - u);
                    float pr;
                    chain_prefetch(ps, u);
                    if (memcmp(ps->j + u, ps->j + jt, 4))
                        continue;
                    l = match_len(ps, t, u, lim, bs);
                    if (l < MATCH_MIN_HASH || l <= top)
                        continue;
                    top = l;
                    if (u >= c->src_len) {
                        pr = base + 3.0f + num_price(d);
                    } else {
                        int64_t delta = (int64_t)u - ((int64_t)t + nd[i].align);
                        pr = base + 3.0f + (delta ? 2.0f + num_price((uint32_t)(delta < 0 ? -delta : delta)) : 1.0f);
                    }
                    for (k = top > 16 ? top - 4 : MATCH_MIN_HASH; k <= top; k++)
                        relax(ps, i, k, (uint32_t)u, pr + num_price(k - 1), DZ2_OP_MATCH, t);
                    if (top >= NICE_LEN || top == lim)
                        break;
                }
                if (top > best)
                    best = top;
            }
            /* a long match is taken as it is: skip over it */
            if (best >= NICE_LEN)
                skip_to = i + best;
        }
        /* walk back from the end and emit */
        {
            uint32_t cnt = 0, pos = L;
            size_t first = out->n;
            while (pos > 0) {
                cnt++;
                pos -= nd[pos].len;
            }
            /* reserve cnt entries, fill from the back */
            for (k = 0; k < cnt; k++)
                if (push(out, DZ2_OP_MATCH, 1, 0))
                    return DFOTA_ERR_ARG;
            pos = L;
            for (k = 0; k < cnt; k++) {
                struct dz2_op *o = &out->v[first + cnt - 1 - k];
                o->kind = nd[pos].kind;
                o->len = nd[pos].len;
                o->u = nd[pos].u;
                pos -= nd[pos].len;
            }
            /* merge literal runs */
            {
                size_t w = first, x;
                for (x = first; x < out->n; x++) {
                    if (w > 0 && out->v[x].kind == DZ2_OP_LIT && out->v[w - 1].kind == DZ2_OP_LIT)
                        out->v[w - 1].len += out->v[x].len;
                    else if (w > 0 && out->v[x].kind == DZ2_OP_COPY &&
                             out->v[w - 1].kind == DZ2_OP_COPY &&
                             out->v[w - 1].u + out->v[w - 1].len == out->v[x].u)
                        out->v[w - 1].len += out->v[x].len;
                    else
                        out->v[w++] = out->v[x];
                }
                out->n = w;
            }
            memcpy(ps->rep, nd[L].rep, sizeof ps->rep);
            ps->align = nd[L].align;
            ps->lastlit = nd[L].lastlit;
            ps->incopy = nd[L].kind == DZ2_OP_COPY;
            ps->est += nd[L].cost;
        }
        a = c1;
    }
    return DFOTA_OK;
}

/* Longest hash-chain match at stream position t, at most lim bytes. */
static uint32_t best_chain(struct parser *ps, size_t t, uint32_t lim, size_t *pos)
{
    const struct dz_match_ctx *c = ps->c;
    size_t jt = c->src_len + t, bs, be;
    uint32_t best = 0, depth;
    int32_t cand;

    if (lim < MATCH_MIN_HASH || jt + 4 > ps->jlen)
        return 0;
    dz2_block_span(c, t, &bs, &be);
    cand = chain_head(ps, jt);
    for (depth = 0; cand >= 0 && depth < CHAIN_DEPTH; depth++, cand = link_at(ps, (size_t)cand)) {
        uint32_t l;
        chain_prefetch(ps, (size_t)cand);
        if (memcmp(ps->j + cand, ps->j + jt, 4))
            continue;
        l = match_len(ps, t, (size_t)cand, lim, bs);
        if (l > best) {
            best = l;
            *pos = (size_t)cand;
            if (l == lim)
                break;
        }
    }
    return best;
}

/* An approximate copy of len bytes at stream position t0 from source s0.
 * Where its difference bytes are dense and an exact copy covers the same
 * bytes, that stretch goes to the LZ parse instead (target bytes repeated
 * in the target, code that moved by a different offset). */
#define CARVE_MIN 12u
static int emit_copy2(struct parser *ps, size_t t0, uint32_t s0, uint32_t len, struct dz2_oplist *out)
{
    const struct dz_match_ctx *c = ps->c;
    uint32_t i = 0, piece = 0;
    int rc = DFOTA_OK;

    while (i < len && !rc) {
        size_t t = t0 + i, pos = 0;
        uint32_t l, k;
        float cc = 0, cl;
        if (c->dst[t] == c->src[s0 + i] || len - i < CARVE_MIN) {
            i++;
            continue;
        }
        l = best_chain(ps, t, len - i, &pos);
        if (l < CARVE_MIN) {
            i++;
            continue;
        }
        /* (with the branch filter, ps->j is the filtered view: a BL equal
         * there is one the copy's prediction usually gets right) */
        for (k = 0; k < l; k++)
            cc += c->dst[t + k] == c->src[s0 + i + k] ||
                  ps->j[c->src_len + t + k] == ps->j[s0 + i + k] ? 0.4f : 9.0f;
        cl = 16.0f + num_price(l) + num_price((uint32_t)(c->src_len + t - pos));
        if (cc <= 2.0f * cl) {   /* a clear win only: prediction, not counted here, makes many differences free */
            i++;
            continue;
        }
        if (i > piece) {
            rc = push(out, DZ2_OP_COPY, i - piece, s0 + piece);
            ps->align = (int32_t)((int64_t)s0 - (int64_t)t0);
            ps->lastlit = 0;
        }
        if (!rc)
            rc = parse_gap(ps, t, t + l, out, NULL);
        i += l;
        piece = i;
    }
    if (!rc && len > piece) {
        rc = push(out, DZ2_OP_COPY, len - piece, s0 + piece);
        ps->align = (int32_t)((int64_t)s0 - (int64_t)t0);
        ps->lastlit = 0;
    }
    return rc;
}

static inline uint8_t joint_at(const struct dz_match_ctx *c, size_t j)
{
    return j < c->src_len ? c->src[j] : c->dst[j - c->src_len];
}

uint32_t dz2_blf_good(const struct dz_match_ctx *c, size_t t0, uint32_t u, uint32_t len)
{
    size_t bs = 0, be = 0;
    uint32_t i = 0;

    while (i < len) {
        size_t t = t0 + i, j = (size_t)u + i;
        uint32_t a, sa = 1;
        if (t >= be)
            dz2_block_span(c, t, &bs, &be);
        a = addr_of(c, t);
        if (u < c->src_len) {
            sa = (uint32_t)j;
        } else {
            size_t dist = c->src_len + t - j;
            if (dist >= 4)
                sa = a - (uint32_t)dist;
        }
        if (len - i >= 4 && !(a & 1u) && be - t >= 4 && !(sa & 1u)) {
            uint8_t w[4];
            unsigned k, g;
            for (k = 0; k < 4; k++)
                w[k] = joint_at(c, j + k);
            g = dz2_bl_first(w[1]) ? 4u : 2u;
            if (g == 4)
                dz2_bl_add(w, (sa >> 1) - (a >> 1));
            if (memcmp(w, c->dst + t, g))
                return i;
            i += g;
        } else {
            if (joint_at(c, j) != c->dst[t])
                return i;
            i++;
        }
    }
    return len;
}

/* The filtered view of the joint image the matches are found in: the
 * source at its offsets, the target at its addresses. */
static void blf_view(const struct dz_match_ctx *c, uint8_t *j)
{
    size_t i;
    for (i = 0; i + 4 <= c->src_len; i += 2)
        if (dz2_bl_first(j[i + 1]) && dz2_bl_second(j[i + 3])) {
            dz2_bl_add(j + i, (uint32_t)(i >> 1));
            i += 2;
        }
    for (i = 0; i + 4 <= c->dst_len; i += 2) {
        uint8_t *w = j + c->src_len + i;
        uint32_t a = addr_of(c, i);
        if (!(a & 1u) && dz2_bl_first(w[1]) && dz2_bl_second(w[3])) {
            dz2_bl_add(w, a >> 1);
            i += 2;
        }
    }
}

/* Cut every exact copy where the decoder's filtered copy differs from the
 * target; the rest becomes literals. */
static int blf_fix(const struct dz_match_ctx *c, struct dz2_oplist *l)
{
    struct dz2_oplist o = { 0 };
    size_t k, t = 0;
    int rc = 0;

    for (k = 0; k < l->n && !rc; k++) {
        struct dz2_op op = l->v[k];
        if (op.kind == DZ2_OP_MATCH) {
            uint32_t g = dz2_blf_good(c, t, op.u, op.len);
            while (g < op.len && g >= DZ2_MATCH_MIN && dz2_blf_good(c, t, op.u, g) < g)
                g = dz2_blf_good(c, t, op.u, g);
            if (g < DZ2_MATCH_MIN) {
                rc = push(&o, DZ2_OP_LIT, op.len, 0);
            } else {
                rc = push(&o, DZ2_OP_MATCH, g, op.u);
                if (!rc)
                    rc = push(&o, DZ2_OP_LIT, op.len - g, 0);
            }
        } else {
            rc = push(&o, op.kind, op.len, op.u);
        }
        t += op.len;
    }
    free(l->v);
    *l = o;
    return rc;
}

/* The second parse's copy costs: the bits the first parse's copies spent
 * per byte, and for the bytes of DZ1's copies that the first parse gave to
 * the LZ parse the mean of its copies' bytes, equal or not to the source;
 * all in the units of the parse's estimates (its estimate of what the rest
 * of the first payload cost, to what that cost). Literal prices from the
 * first parse's literals. */
static void second_prices(struct parser *ps, const struct dz_oplist *dz1,
                         const struct dz2_oplist *first, struct dz2_costs *cost, double est,
                         size_t cnt[DZ_LIT_CTX][256], size_t tot[DZ_LIT_CTX])
{
    const struct dz_match_ctx *c = ps->c;
    double sum[2] = { 0, 0 }, rest = 0, scale;
    size_t num[2] = { 0, 0 }, k, t = 0, ncopy = 0, i;
    uint16_t *q = cost->q, mean[2];

    memset(cnt, 0, sizeof(size_t) * DZ_LIT_CTX * 256);
    memset(tot, 0, sizeof(size_t) * DZ_LIT_CTX);
    for (k = 0; k < first->n; k++) {
        const struct dz2_op *op = &first->v[k];
        for (i = 0; i < op->len; i++, t++) {
            if (op->kind == DZ2_OP_COPY) {
                unsigned eq = c->dst[t] == c->src[op->u + i];
                sum[eq] += q[t];
                num[eq]++;
            } else {
                rest += q[t];
                q[t] = 0xFFFFu;     /* not a copy's */
            }
            if (op->kind == DZ2_OP_LIT) {
                unsigned x = dz_lit_ctx(addr_of(c, t), t ? c->dst[t - 1] : 0);
                cnt[x][c->dst[t]]++;
                tot[x]++;
            }
        }
        ncopy += op->kind == DZ2_OP_COPY;
    }
    rest = (rest + cost->hdr[DZ2_OP_LIT] + cost->hdr[DZ2_OP_MATCH]) / 256.0;
    scale = rest > 64.0 && est > 64.0 ? est / rest : 1.0;
    mean[0] = (uint16_t)(num[0] ? sum[0] / (double)num[0] + 0.5 : 8 * 256);
    mean[1] = (uint16_t)(num[1] ? sum[1] / (double)num[1] + 0.5 : 128);
    ps->hdr = (float)((ncopy ? cost->hdr[DZ2_OP_COPY] / 256.0 / (double)ncopy : 24.0) * scale);
    for (k = 0, t = 0; k < dz1->n; k++) {
        const struct dz_op *op = &dz1->v[k];
        for (i = 0; i < op->len; i++, t++)
            if (q[t] == 0xFFFFu)
                q[t] = op->lit ? 0 : mean[c->dst[t] == c->src[op->src + i]];
    }
    ps->bq = q;
    ps->bscale = (float)(scale / 256.0);
}

static void run_free(struct parser *ps)
{
    free(ps->nodes);
    free(ps->cpc);
    free(ps->cps);
    ps->nodes = NULL;
    ps->cpc = NULL;
    ps->cps = NULL;
}

struct dz2_parser {
    struct parser ps;
    int blf;
};

void dz2_parser_free(struct dz2_parser *pp)
{
    if (!pp)
        return;
    free(pp->ps.jbuf);
    free(pp->ps.prev3);
    free(pp->ps.prev4);
    run_free(&pp->ps);
    free(pp);
}

/* The joint image: the caller's images where they lie so and no filter is
 * asked for, else a copy (filtered with blf); 0 if out of memory. */
static int make_image(struct dz2_parser *pp)
{
    struct parser *ps = &pp->ps;
    const struct dz_match_ctx *c = ps->c;

    if (!pp->blf && c->src_len && c->dst_len && c->src + c->src_len == c->dst) {
        ps->j = c->src;          /* (no copy of its own: 1 byte a byte of old + new less) */
        return 1;
    }
    ps->j = ps->jbuf = malloc(ps->jlen ? ps->jlen : 1);
    if (!ps->jbuf)
        return 0;
    if (c->src_len)
        memcpy(ps->jbuf, c->src, c->src_len);
    if (c->dst_len)
        memcpy(ps->jbuf + c->src_len, c->dst, c->dst_len);
    if (pp->blf)
        blf_view(c, ps->jbuf);
    return 1;
}

void dz2_parser_drop_image(struct dz2_parser *pp)
{
    if (!pp)
        return;
    free(pp->ps.jbuf);
    pp->ps.jbuf = NULL;
    pp->ps.j = NULL;
}

struct dz2_parser *dz2_parser_new(const struct dz_match_ctx *c, int blf)
{
    struct dz2_parser *pp = calloc(1, sizeof *pp);
    struct parser *ps;

    if (!pp)
        return NULL;
    ps = &pp->ps;
    pp->blf = blf;
    ps->c = c;
    ps->jlen = c->src_len + c->dst_len;
    for (ps->hash_bits = 12; ps->hash_bits < HASH_BITS_MAX && ((size_t)1 << ps->hash_bits) < ps->jlen;
         ps->hash_bits++)
        ;
    if (ps->jlen <= 0x7FFFFFFF && make_image(pp)) {
        if (ps->jlen <= LINK3_MAX)
            ps->prev3 = malloc(3 * ps->jlen + 1);
        else
            ps->prev4 = malloc(ps->jlen * sizeof(int32_t));
    }
    if (!ps->j || (!ps->prev3 && !ps->prev4) || build_chains(ps)) {
        dz2_parser_free(pp);
        return NULL;
    }
    return pp;
}

int dz2_parser_run(struct dz2_parser *pp, const struct dz_oplist *dz1,
                   const struct dz2_oplist *first, struct dz2_costs *cost, struct dz2_oplist *out)
{
    struct parser *ps = &pp->ps;
    const struct dz_match_ctx *c = ps->c;
    size_t i, t = 0, gap = 0, n, cnt[DZ_LIT_CTX][256], tot[DZ_LIT_CTX];
    int rc = DFOTA_OK;
    unsigned k, b;

    memset(out, 0, sizeof *out);
    if (!ps->j && !make_image(pp))
        return DFOTA_ERR_ARG;
    {   /* the nodes, held during the run only (a stretch is at most
         * DZ2_CHUNK positions and the target long); the copy states for
         * the second parse */
        size_t ncap = (c->dst_len < DZ2_CHUNK ? c->dst_len : DZ2_CHUNK) + 1;
        ps->nodes = malloc(ncap * sizeof *ps->nodes);
        if (first) {
            ps->cpc = malloc(ncap * sizeof *ps->cpc);
            ps->cps = malloc(ncap * sizeof *ps->cps);
        }
        if (!ps->nodes || (first && (!ps->cpc || !ps->cps))) {
            run_free(ps);
            return DFOTA_ERR_ARG;
        }
    }
    ps->inserted = 0;
    ps->est = 0;
    ps->align = 0;
    ps->lastlit = 0;
    ps->incopy = 0;
    ps->bq = NULL;
    for (k = 0; k < DZ2_REPS; k++)
        ps->rep[k] = 1;
    /* literal prices from the target's byte statistics per literal context
     * (the second parse: from the first one's literals) */
    if (first) {
        second_prices(ps, dz1, first, cost, first->est, cnt, tot);
    } else {
        memset(cnt, 0, sizeof cnt);
        memset(tot, 0, sizeof tot);
        for (i = 0; i < c->dst_len; i++) {
            unsigned x = dz_lit_ctx(addr_of(c, i), i ? c->dst[i - 1] : 0);
            cnt[x][c->dst[i]]++;
            tot[x]++;
        }
    }
    for (k = 0; k < DZ_LIT_CTX; k++)
        for (b = 0; b < 256; b++)
            ps->lit_price[k][b] = (float)-log2(((double)cnt[k][b] + 0.3) / ((double)tot[k] + 77.0));

    for (n = 0; n < dz1->n && !rc; n++) {
        const struct dz_op *op = &dz1->v[n];
        if (!op->lit && op->len >= DZ2_COPY_MIN) {
            if (t > gap)
                rc = parse_gap(ps, gap, t, out, NULL);
            if (!rc && first) {
                struct cspan cs;
                cs.t0 = t;
                cs.s0 = op->src;
                rc = parse_gap(ps, t, t + op->len, out, &cs);
            } else if (!rc) {
                rc = emit_copy2(ps, t, op->src, op->len, out);
            }
            t += op->len;
            gap = t;
        } else {
            t += op->len;
        }
    }
    if (!rc && t > gap)
        rc = parse_gap(ps, gap, t, out, NULL);
    run_free(ps);       /* (before blf_fix makes its list) */
    if (!rc && pp->blf)
        rc = blf_fix(c, out);
    if (!rc && out->n && out->n < out->cap) {
        /* (held beside the next parse: no room to spare) */
        struct dz2_op *v = realloc(out->v, out->n * sizeof *v);
        if (v) {
            out->v = v;
            out->cap = out->n;
        }
    }
    out->est = ps->est;
    ps->bq = NULL;
    if (rc) {
        free(out->v);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

int dz2_parse(const struct dz_match_ctx *c, const struct dz_oplist *dz1, int blf,
              struct dz2_oplist *out)
{
    struct dz2_parser *pp = dz2_parser_new(c, blf);
    int rc;

    memset(out, 0, sizeof *out);
    if (!pp)
        return DFOTA_ERR_ARG;
    rc = dz2_parser_run(pp, dz1, NULL, NULL, out);
    dz2_parser_free(pp);
    return rc;
}
