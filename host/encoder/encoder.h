/* dfota encoder (host only): builds DZ1 payloads and whole packages. */
#ifndef DFOTA_ENCODER_H
#define DFOTA_ENCODER_H

#include <stddef.h>
#include <stdint.h>
#include "dfota/delta.h"
#include "dfota/package.h"

/* One operation of a delta, in target stream order. */
struct dz_op {
    uint8_t  lit;        /* 1: literal, 0: copy from source */
    uint32_t len;
    uint32_t src;        /* copy: source position of its first byte */
};

struct dz_oplist {
    struct dz_op *v;
    size_t n, cap;
};

/* In place: which write orders dfota_diff may use (dfota_diff_opts.direction). */
enum dfota_direction {
    DFOTA_DIR_AUTO = 0,      /* the order search's, from forward and from backward (order.c) */
    DFOTA_DIR_FORWARD = 1,   /* lowest sector first */
    DFOTA_DIR_BACKWARD = -1, /* highest sector first */
    DFOTA_DIR_RUNS = 2,      /* the runs of dfota_diff_opts.order */
    DFOTA_DIR_PLAIN = 3      /* the smaller of forward and backward: engines before
                                DFOTA_PKG_F_RUNS apply it */
};

/* In place, DZ2: how far back target copies may read (dfota_diff_opts.window). */
enum dfota_window {
    DFOTA_WIN_AUTO = 0,      /* dfota_package_build: BLOCK for engines that have
                                DFOTA_PKG_F_BLOCKWIN (format 2, the device's digest
                                table), else RING; dfota_diff alone: RING */
    DFOTA_WIN_RING = 1,      /* the decoder's 256-byte ring in the current block: the
                                dry run writes nothing */
    DFOTA_WIN_BLOCK = 2      /* the whole current block; dfota_package_build sets
                                DFOTA_PKG_F_BLOCKWIN when the payload does, and the
                                engine's dry run then programs each block into scratch */
};

struct dfota_diff_opts {
    int inplace;             /* make an in-place package */
    uint32_t sector_size;    /* in place: the device's erase sector */
    int direction;           /* in place: enum dfota_direction */
    const struct dfota_pkg_run *order; /* DFOTA_DIR_RUNS: the write order, norder runs */
    uint32_t norder;
    uint32_t order_bytes;    /* direction auto: the most bytes the runs may take in the header
                                (count byte included; 0: no limit); dfota_package_build sets
                                what keeps the header within DFOTA_PKG_HEADER_MAX */
    uint32_t lag;            /* in place: commit lag in blocks; the device needs lag+2 scratch sectors */
    int window;              /* in place, DZ2: enum dfota_window */
    int saved;               /* in place, direction auto: source sectors the device may save
                                (DFOTA_PKG_F_SAVED): 0 auto (dfota_package_build: up to
                                DFOTA_MAX_SAVED for engines that have them, format 2 and the
                                device's digest table; dfota_diff alone: none), -1 none, or
                                1 .. DFOTA_MAX_SAVED at most */
    /* progress(ctx, done, total) in bytes of target; may be NULL */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
    /* phase(progress_ctx, DFOTA_DIFF_*, index, count): a phase starts; may
     * be NULL. MATCH: pass index of count (two in place with direction
     * auto); CODE: pass index of count; ENCODE: setting index of count
     * within the pass being coded. */
    void (*phase)(void *ctx, int phase, unsigned index, unsigned count);
    int codec;               /* 0: the smallest of DZ1 and DZ2; else DFOTA_ALG_DZ1 or DFOTA_ALG_DZ2 only */
    uint32_t decoder_ram;    /* profile: 0 or DFOTA_DECODER_RAM_16K (the full models), or
                                DFOTA_DECODER_RAM_4K (DZ2's small model only) */
    uint32_t block_digest;   /* in place, how blocks are checked before their commit:
                                0, the device's digest table (DFOTA_PKG_F_DEVTABLE: no
                                chain in the package); or a block digest chain in the
                                payload, entries of DFOTA_BLOCK_DIGEST_LEN4 (4 bytes,
                                DFOTA_PKG_F_BLOCKHASH4: what engines before
                                DFOTA_PKG_F_DEVTABLE apply) or DFOTA_BLOCK_DIGEST_LEN
                                (16, engines before DFOTA_PKG_F_BLOCKHASH4);
                                dfota_package_build */
};

/* Phases of a diff, in the order they run (dfota_diff_opts.phase). */
enum dfota_diff_phase {
    DFOTA_DIFF_HASH = 1,     /* SHA-256 of source and target (package build) */
    DFOTA_DIFF_SORT = 2,     /* suffix array of the source */
    DFOTA_DIFF_MATCH = 3,    /* matching; progress() reports within it */
    DFOTA_DIFF_REFINE = 6,   /* short source matches inside literals (per pass, after MATCH) */
    DFOTA_DIFF_ENCODE = 4,   /* entropy coding with one setting */
    DFOTA_DIFF_SIGN = 5,     /* header and signature (package build) */
    DFOTA_DIFF_CODE = 7,     /* coding of pass index of count starts (after every pass's
                              * MATCH and REFINE), its ENCODE phases follow */
};

/* Result of a diff: the payload and the header fields it determines. */
struct dfota_diff_result {
    uint8_t *payload;        /* malloc'd */
    size_t   payload_size;
    uint32_t flags;          /* DFOTA_PKG_F_* */
    uint32_t nruns;          /* in place: the write order (with DFOTA_PKG_F_RUNS, else one
                                run of every sector) */
    struct dfota_pkg_run runs[DFOTA_MAX_RUNS];
    uint32_t nsaved;         /* in place: the saved source sectors (DFOTA_PKG_F_SAVED) */
    uint32_t saved[DFOTA_MAX_SAVED];
    uint32_t sector_size;
    uint32_t lag;
    uint32_t stream_crc32;
    uint32_t decoder_ram;
    uint8_t  algorithm;      /* DFOTA_ALG_* of the payload */
    size_t   literal_bytes;  /* statistics */
    size_t   copy_bytes;
    size_t   ops;
};

/* Compute the delta from src to dst. Returns 0, or a negative dfota_err. */
int dfota_diff(const uint8_t *src, size_t src_len, const uint8_t *dst, size_t dst_len,
               const struct dfota_diff_opts *opts, struct dfota_diff_result *res);
void dfota_diff_result_free(struct dfota_diff_result *res);

/* Internals shared by the encoder's files. */

/* In place: a write order (order.c), the header's runs and, for every
 * sector, the block that writes it, so that a test of a source byte is
 * O(1). */
struct dz_order {
    uint32_t nruns;
    struct dfota_pkg_run runs[DFOTA_MAX_RUNS];
    uint32_t flags;          /* what the header says: 0 (forward), DFOTA_PKG_F_BACKWARD or
                                DFOTA_PKG_F_RUNS */
    uint32_t nblocks, sector, dst_len;
    uint32_t tail;           /* block of the highest sector, the one short block */
    uint32_t nsaved;         /* the source sectors the device saves (dz_order_save) */
    uint32_t saved[DFOTA_MAX_SAVED];
    uint32_t *block_of;      /* sector -> block, nblocks entries (malloc'd); UINT32_MAX
                                for a saved sector: its copy stays readable */
    uint32_t *sector_of;     /* block -> sector, nblocks entries (malloc'd) */
};

/* Fill o from runs r[0 .. nr) over a target of dst_len bytes in sectors of
 * sector bytes (merged into the fewest runs); DFOTA_ERR_ARG when they are
 * not an order of its sectors, or out of memory. One run of every sector
 * is forward or backward. */
int dz_order_init(struct dz_order *o, const struct dfota_pkg_run *r, uint32_t nr,
                  uint32_t dst_len, uint32_t sector);
void dz_order_free(struct dz_order *o);

struct dz_match_ctx {
    const uint8_t *src;
    size_t src_len;
    const uint8_t *dst;      /* target in stream order */
    size_t dst_len;
    const int32_t *sa;       /* suffix array of src */
    const uint8_t *grams;    /* bit set of the hashes of src's 5-byte strings */
    unsigned gram_bits;      /* its size: 2^gram_bits bits */
    /* in place: */
    int inplace;
    int blockwin;            /* DFOTA_WIN_BLOCK: target copies reach the whole current block */
    const struct dz_order *ord;  /* the write order */
    uint32_t sector, nblocks, lag;
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
    void (*phase)(void *ctx, int phase, unsigned index, unsigned count);
    unsigned pass, passes;
    int small;               /* DZ2: the small model (the 4k decoder RAM profile) */
    struct dz_race *race;    /* in place, both write orders matched at once: else NULL */
    unsigned side;           /* this order's index in race */
};

/* The two write orders' matches run side by side (diff.c): each publishes
 * the literal bytes of its operations (those not equal to the byte before:
 * a run of erased flash costs next to nothing) as they pass every
 * DZ_RACE_CHUNK bytes of the target (lits[side][j]: up to the first operation end at
 * or past (j+1) * DZ_RACE_CHUNK; pub[side] of them published). An order
 * whose count there is over twice the other's there plus DZ_RACE_MARGIN
 * stops (lost[side] = 1, its operations unfinished): the DZ1 payloads would
 * tell the other apart (diff.c, code_orders) anyway. The first chunk where
 * one is over decides, judged when both have passed it (match.c, race_on):
 * the outcome depends on the two orders' operations alone, not on the
 * threads' timing; lost[] is read after both have ended. */
#define DZ_RACE_CHUNK 65536u
#define DZ_RACE_MARGIN 65536u
struct dz_race {
    size_t chunks;           /* dst_len / DZ_RACE_CHUNK */
    size_t *lits[2];
    size_t pub[2];           /* (atomic) */
    int lost[2];
};

int dz_match(const struct dz_match_ctx *c, struct dz_oplist *ops);
int dz_oplist_push(struct dz_oplist *l, int lit, uint32_t len, uint32_t src);

/* Reference prediction settings of one encoding (see dfota/delta.h). */
struct dz_xparams {
    unsigned flags;              /* DZ_X_* */
    uint32_t base;               /* load address of the image */
    uint32_t map_n;
    struct dz_map_entry map[DZ_MAP_MAX];
};

/* Entropy-code ops into a payload; also checks them against the constraint
 * of in-place packages. */
int dz_encode_ops(const struct dz_match_ctx *c, const struct dz_oplist *ops,
                  const struct dz_xparams *x, uint8_t **out, size_t *out_len);

/* Build the shift map from the copies, and guess the image's load address. */
void dz_build_map(const struct dz_match_ctx *c, const struct dz_oplist *ops, struct dz_xparams *x);
uint32_t dz_guess_base(const struct dz_match_ctx *c, const struct dz_oplist *ops,
                       const struct dz_xparams *x);

/* Choosing the setting (xselect.c): the approximate copies of a parse, and
 * the bits its copy bytes and preamble cost with setting x, counted with
 * the models of DZ1 (dz2 = 0) or DZ2 (dz2 = 1); the rest of a payload costs
 * the same with every setting. Returns 0 when out of memory. */
struct dz_copyrun {
    uint32_t t, src, len;        /* stream position, source position, length */
};
void dz_setting_bits(const struct dz_match_ctx *c, const struct dz_copyrun *runs, size_t n,
                     const struct dz_xparams *x, int dz2, double bits[2]);

/* The 5-gram set, 16 bits a source byte, at least 2^16 and at most 2^30
 * bits, so that it keeps filtering on big inputs and costs little memory on
 * small ones. In place, one bit a 5-byte string (dz_gram_hash): a search
 * the set lets through reports what it finds, even under 5 bytes (a
 * readable stretch of a longer match), and the packages depend on which
 * positions get through. A/B, a Bloom filter with 3 bits a string, all in
 * one 64-byte line (one cache miss a lookup; random data: about 0.5% of the
 * positions get through instead of 5%), and a search finding under 5 bytes
 * reports none, so the set only saves time. */
#define DZ_GRAM_BITS 16
#define DZ_GRAM_BITS_MAX 30
static inline uint32_t dz_gram_hash(const uint8_t *p, unsigned bits)
{
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return ((v * 2654435761u) ^ ((uint32_t)p[4] * 0x9E3779B1u)) >> (32 - bits);
}
static inline uint64_t dz_gram_mix(const uint8_t *p)
{
    uint64_t h = (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
                 (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32;
    h *= 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 32);
}
static inline uint8_t *dz_gram_line(const uint8_t *set, unsigned bits, uint64_t h)
{
    return (uint8_t *)(uintptr_t)(set + ((h >> (64 - (bits - 9))) << 6));
}
static inline void dz_gram_add(uint8_t *set, unsigned bits, int inplace, const uint8_t *p)
{
    uint64_t h;
    if (inplace) {
        uint32_t g = dz_gram_hash(p, bits);
        set[g >> 3] = (uint8_t)(set[g >> 3] | (1u << (g & 7)));
        return;
    }
    h = dz_gram_mix(p);
    uint8_t *l = dz_gram_line(set, bits, h);
    unsigned i;
    for (i = 0; i < 3; i++, h >>= 9)
        l[(h & 511) >> 3] = (uint8_t)(l[(h & 511) >> 3] | (1u << (h & 7)));
}
static inline int dz_gram_has(const uint8_t *set, unsigned bits, int inplace, const uint8_t *p)
{
    uint64_t h;
    if (inplace) {
        uint32_t g = dz_gram_hash(p, bits);
        return (set[g >> 3] >> (g & 7)) & 1u;
    }
    h = dz_gram_mix(p);
    const uint8_t *l = dz_gram_line(set, bits, h);
    unsigned i;
    for (i = 0; i < 3; i++, h >>= 9)
        if (!(l[(h & 511) >> 3] & (1u << (h & 7))))
            return 0;
    return 1;
}

/* In place: the block that produces stream position t (blocks are whole
 * sectors but block ord->tail, which is dst_len - (nblocks - 1) * sector). */
static inline uint32_t dz_stream_block(const struct dz_match_ctx *c, size_t t)
{
    const struct dz_order *o = c->ord;
    size_t q = (size_t)o->tail * c->sector, last = c->dst_len - (size_t)(c->nblocks - 1) * c->sector;
    if (t < q)
        return (uint32_t)(t / c->sector);
    if (t < q + last)
        return o->tail;
    return o->tail + 1 + (uint32_t)((t - q - last) / c->sector);
}

/* Block i of the order: its stream offset, length and target address (what
 * dz_block says, from the order's tables: the parser asks at every byte). */
static inline void dz_oblock(const struct dz_match_ctx *c, uint32_t i, uint32_t *off, uint32_t *len,
                             uint32_t *addr)
{
    const struct dz_order *o = c->ord;
    uint32_t S = c->sector, n, x, last;
    if (!S || !o || !o->sector_of) {
        dz_block(i, (uint32_t)c->dst_len, S, NULL, 0, off, len, addr);
        return;
    }
    n = c->nblocks;
    last = (uint32_t)c->dst_len - (n - 1) * S;
    x = o->sector_of[i];
    *addr = x * S;
    *len = x == n - 1 ? last : S;
    *off = i * S - (o->tail < i ? S - last : 0);
}

/* In place: how many blocks are committed when stream position t is
 * produced (blocks 0 .. blk-lag-1). */
static inline uint32_t dz_gone(const struct dz_match_ctx *c, size_t t)
{
    uint32_t blk = dz_stream_block(c, t);
    return blk > c->lag ? blk - c->lag : 0;
}

/* May source position p be read once gone blocks are committed? Yes beyond
 * the target's sectors, or when a later block writes p's sector. */
static inline int dz_src_valid_gone(const struct dz_match_ctx *c, uint32_t gone, size_t p)
{
    size_t x = p / c->sector;
    return x >= c->nblocks || c->ord->block_of[x] >= gone;
}

/* How many of the lim bytes from source position p may be read once gone
 * blocks are committed (in place). */
static inline size_t dz_src_valid_run(const struct dz_match_ctx *c, uint32_t gone, size_t p,
                                      size_t lim)
{
    size_t x = p / c->sector, r = 0;
    while (r < lim) {
        if (x >= c->nblocks)
            return lim;
        if (c->ord->block_of[x] < gone)
            return r;
        r = (x + 1) * c->sector - p;
        x++;
    }
    return lim;
}

static inline int dz_src_valid(const struct dz_match_ctx *c, size_t t, size_t p)
{
    return !c->inplace || dz_src_valid_gone(c, dz_gone(c, t), p);
}


/* ---- whole packages ---- */
struct dfota_pkg_meta {
    const char *product;
    const char *src_version;
    const char *dst_version;
    uint32_t security_counter;
    unsigned format_version;   /* header layout, DFOTA_PKG_FORMAT_V1 or _V2; 0: the default
                                  (DFOTA_PKG_FORMAT_VERSION) */
};

/* Diff src -> dst and wrap the payload in a header, signed with sk (a
 * 64-byte libsodium Ed25519 secret key) when sk is not NULL. On success
 * *pkg is malloc'd. res (may be NULL) receives the diff statistics. */
int dfota_package_build(const uint8_t *src, size_t src_len, const uint8_t *dst, size_t dst_len,
                        const struct dfota_diff_opts *opts, const struct dfota_pkg_meta *meta,
                        const uint8_t *sk, uint8_t **pkg, size_t *pkg_len,
                        struct dfota_diff_result *res);

#endif
