/* In place: the DZ1 or DZ2 decoder state as journal bytes
 * (docs/journal-format.md, "The decoder snapshot"). Every field is written explicitly, little-endian,
 * and range-checked when read back, so that another build of the engine
 * resumes it or refuses it, and never reads out of bounds. A change of the
 * decoder's behaviour or state needs a new SNAP_FMT_* id. */
#include <stddef.h>
#include "engine_priv.h"

#if DFOTA_CFG_INPLACE

#define MODEL_N ((uint32_t)(sizeof(struct dz_model) / sizeof(uint16_t)))
#define MODEL2_N ((uint32_t)(sizeof(struct dz2_model) / sizeof(uint16_t)))
_Static_assert(sizeof(struct dz_model) % sizeof(uint16_t) == 0, "the model is probabilities");
_Static_assert(sizeof(struct dz2_model) % sizeof(uint16_t) == 0, "the model is probabilities");
/* DZ2 after the map: rep[4], align, mstart. Its ring is empty at a block
 * start (where snapshots are taken) and is not saved. */
#define SNAP_DZ2_EXTRA (6u * 4u)
_Static_assert(2u * MODEL2_N + SNAP_DZ2_EXTRA <= 2u * MODEL_N, "DZ1's snapshot is the largest");

/* model count; 11 words; 14 bytes; base, map_n (then the probabilities
 * and the map) */
#define SNAP_HEAD (4u + 11u * 4u + 14u + 8u)

/* The probabilities a snapshot holds, as runs of struct dz2_model (in
 * uint16_t units): DZ1 and the full model hold the whole model; the small
 * model (SNAP_FMT_DZ2S) the prefix of each table it uses, so that a small
 * build and a default one write the same bytes for it. */
struct snap_run {
    uint16_t off, n;
};
#define RUN(f, n) { (uint16_t)(offsetof(struct dz2_model, f) / 2u), (uint16_t)(n) }
#define RUN_NUM(f) RUN(f.len, DZ2S_NUM_N)    /* len, then the first mantissa rows */
static const struct snap_run small_runs[] = {
    RUN(kind, DZ2_OP_KINDS * DZ2_K_N),
    RUN_NUM(copy_len), RUN_NUM(lit_len), RUN_NUM(off_mag), RUN_NUM(map_num),
    RUN(off_zero, 2), RUN(off_sign, 2),
    RUN(d_zero, DZ2S_PRED * DZ_ZCTX_N), RUN(d_zero2, DZ2S_ZERO2), RUN(d_mru, DZ_LANES * 2u),
    RUN(d_val, DZ2S_DVAL * 256u), RUN(lit, DZ2S_LIT_CTX * 256u),
    RUN_NUM(m_len), RUN_NUM(r_len), RUN_NUM(t_dist), RUN(o_zero, 1), RUN(o_sign, 1),
};
#define NRUNS (sizeof small_runs / sizeof small_runs[0])
_Static_assert(offsetof(struct dz2_num, mant) == 2u * DZ_NUM_MAXBITS, "len, then mant");

/* The probabilities of state s: count, and the k-th run */
static uint32_t model_n(uint32_t fmt)
{
    return fmt == SNAP_FMT_DZ2S ? DZ2S_MODEL_N : fmt == SNAP_FMT_DZ2 ? MODEL2_N : MODEL_N;
}

static struct snap_run model_run(uint32_t fmt, uint32_t k)
{
    struct snap_run r = { 0, 0 };
    if (DFOTA_CFG_DZ2 && fmt == SNAP_FMT_DZ2S)
        return small_runs[k];
    r.n = (uint16_t)model_n(fmt);
    return r;
}

static uint32_t model_runs(uint32_t fmt)
{
    return DFOTA_CFG_DZ2 && fmt == SNAP_FMT_DZ2S ? (uint32_t)NRUNS : 1u;
}

static uint32_t map_max(uint32_t fmt)
{
    return fmt == SNAP_FMT_DZ2S ? DZ2S_MAP_MAX : DZ_MAP_MAX;
}

uint32_t dfota__snap_size(const struct dfota_patch_state *s)
{
    uint32_t fmt = SNAP_FMT_OF(s), n = s->map_n > map_max(fmt) ? map_max(fmt) : s->map_n;
    return SNAP_HEAD + 2u * model_n(fmt) + 8u * n +
           (s->alg == DFOTA_ALG_DZ2 ? SNAP_DZ2_EXTRA : 0u);
}

uint32_t dfota__snap_max(void)
{
#if DFOTA_CFG_DECODER_RAM_SMALL
    return SNAP_HEAD + 2u * DZ2S_MODEL_N + 8u * DZ2S_MAP_MAX + SNAP_DZ2_EXTRA;
#else
    return SNAP_HEAD + 2u * MODEL_N + 8u * DZ_MAP_MAX;
#endif
}

static void put8s(struct dfota__js *w, const uint8_t *v, uint32_t n)
{
    dfota__js_put(w, v, n);
}

void dfota__snap_put(struct dfota__js *w, const struct dfota_patch_state *s)
{
    const uint16_t *m = (const uint16_t *)(const void *)&s->m2;
    uint32_t fmt = SNAP_FMT_OF(s), i, k;
    uint32_t n = s->map_n > map_max(fmt) ? map_max(fmt) : s->map_n;
    uint8_t b[14];

    dfota__js_put32(w, model_n(fmt));
    for (k = 0; k < model_runs(fmt); k++) {
        struct snap_run run = model_run(fmt, k);
        for (i = 0; i < run.n;) {
            uint8_t p[64];
            uint32_t j = 0;
            for (; j < sizeof p && i < run.n; j += 2, i++)
                dfota_put_le16(p + j, m[run.off + i]);
            dfota__js_put(w, p, j);
        }
    }
    dfota__js_put32(w, s->range);
    dfota__js_put32(w, s->in_win - s->code);     /* the low (dfota__snap_window) */
    dfota__js_put32(w, s->in_pos);
    dfota__js_put32(w, s->out_pos);
    dfota__js_put32(w, s->addr);
    dfota__js_put32(w, s->block);
    dfota__js_put32(w, s->block_end);
    dfota__js_put32(w, s->src_pos);
    dfota__js_put32(w, s->remaining);
    dfota__js_put32(w, s->zrun);
    dfota__js_put32(w, s->zhist);
    b[0] = s->op;
    b[1] = s->prev_op;
    b[2] = s->prev_byte;
    memcpy(b + 3, s->mru, 4);
    b[7] = s->xflags;
    memcpy(b + 8, s->pred, 4);
    b[12] = s->pred_n;
    b[13] = s->pred_kind;
    put8s(w, b, sizeof b);
    dfota__js_put32(w, s->base);
    dfota__js_put32(w, n);
    for (i = 0; i < n; i++) {
        dfota__js_put32(w, s->map[i].src);
        dfota__js_put32(w, (uint32_t)s->map[i].shift);
    }
    if (s->alg == DFOTA_ALG_DZ2) {
        for (i = 0; i < DZ2_REPS; i++)
            dfota__js_put32(w, s->rep[i]);
        dfota__js_put32(w, (uint32_t)s->align);
        dfota__js_put32(w, s->mstart);
    }
}

/* Read a snapshot of format fmt into e->patch for a checkpoint at
 * blocks_done, checking every field against the package (e->hdr) and the
 * block it must stand at. */
int dfota__snap_get(struct dfota__js *r, struct dfota_engine *e, uint32_t fmt)
{
    struct dfota_patch_state *s = &e->patch.st;
    uint16_t *m = (uint16_t *)(void *)&s->m2;
    const struct dfota_pkg_header *h = &e->hdr;
    uint32_t i, k, done = e->blocks_done, off, len, addr;
    int dz2 = h->algorithm == DFOTA_ALG_DZ2;
    uint8_t b[14];

    if (done == 0 || done >= dfota__blocks(e))
        return DFOTA_ERR_JOURNAL;        /* a checkpoint follows a block, before the last */
    fmt = SNAP_FMT_BASE(fmt);            /* (the field read as code is the low or the code) */
    /* the format of the package's codec, and one this build has */
    if (!SNAP_FMT_OK(fmt) || (dz2 ? fmt == SNAP_FMT_DZ1 : fmt != SNAP_FMT_DZ1))
        return DFOTA_ERR_JOURNAL;
    memset(s, 0, sizeof *s);
    s->alg = h->algorithm;
    s->small = fmt == SNAP_FMT_DZ2S;
    if (s->small)
        dz2_model_init(&s->m2);          /* the probabilities the small model leaves alone */
    if (dfota__js_get32(r) != model_n(fmt))
        return DFOTA_ERR_JOURNAL;
    for (k = 0; k < model_runs(fmt); k++) {
        struct snap_run run = model_run(fmt, k);
        for (i = 0; i < run.n;) {
            uint8_t p[64];
            uint32_t j, c = run.n - i < sizeof p / 2 ? run.n - i : (uint32_t)sizeof p / 2;
            dfota__js_get(r, p, 2 * c);
            for (j = 0; j < c; j++, i++) {
                uint16_t v = dfota_le16(p + 2 * j);
                if (v == 0 || v >= DZ_PROB_ONE)
                    return DFOTA_ERR_JOURNAL;    /* adaptation keeps 1 .. 4095 */
                m[run.off + i] = v;
            }
        }
    }
    s->range = dfota__js_get32(r);
    s->code = dfota__js_get32(r);        /* low or code: dfota__snap_window */
    s->in_pos = dfota__js_get32(r);
    s->out_pos = dfota__js_get32(r);
    s->addr = dfota__js_get32(r);
    s->block = dfota__js_get32(r);
    s->block_end = dfota__js_get32(r);
    s->src_pos = dfota__js_get32(r);
    s->remaining = dfota__js_get32(r);
    s->zrun = dfota__js_get32(r);
    s->zhist = dfota__js_get32(r);
    dfota__js_get(r, b, sizeof b);
    s->op = b[0];
    s->prev_op = b[1];
    s->prev_byte = b[2];
    memcpy(s->mru, b + 3, 4);
    s->xflags = b[7];
    memcpy(s->pred, b + 8, 4);
    s->pred_n = b[12];
    s->pred_kind = b[13];
    s->base = dfota__js_get32(r);
    s->map_n = dfota__js_get32(r);
    if (r->rc || s->map_n > map_max(fmt))
        return DFOTA_ERR_JOURNAL;
    for (i = 0; i < s->map_n; i++) {
        s->map[i].src = dfota__js_get32(r);
        s->map[i].shift = (int32_t)dfota__js_get32(r);
        if (i && s->map[i].src <= s->map[i - 1].src)
            return DFOTA_ERR_JOURNAL;    /* strictly increasing, as the preamble's */
    }
    if (dz2) {
        for (i = 0; i < DZ2_REPS; i++)
            s->rep[i] = dfota__js_get32(r);
        s->align = (int32_t)dfota__js_get32(r);
        s->mstart = dfota__js_get32(r);
    }
    /* The package's fields come from its header, not from the journal. */
    s->src_size = h->src_size;
    s->dst_size = h->dst_size;
    s->payload_size = dfota__stream_size(h);
    s->sector_size = h->sector_size;
    s->flags = h->flags;
    /* The state after the last byte of block done - 1. */
    dfota_patch_block(done - 1, h->dst_size, h->sector_size, h->runs, h->nruns, &off, &len, &addr);
    if (r->rc || s->range < DZ_RC_TOP || s->in_pos < 5 || s->in_pos > s->payload_size ||
        s->block != done - 1 || s->out_pos != off + len || s->block_end != s->out_pos ||
        s->addr != addr + len || s->src_pos > s->src_size ||
        s->remaining > s->dst_size - s->out_pos ||
        (!dz2 && (s->op > DZ_OP_LIT || s->prev_op > DZ_OP_LIT)) ||
        (dz2 && ((s->op > DZ2_OP_MATCH && s->op != DZ2_OP_STORED) || s->prev_op > DZ2_OP_MATCH)) ||
        (s->small && s->op == DZ2_OP_STORED) ||
        (s->op == DZ_OP_COPY && s->remaining > s->src_size - s->src_pos) ||
        (dz2 && s->op == DZ2_OP_MATCH && s->mstart < s->src_size &&
         s->remaining > s->src_size - s->mstart) ||
        (s->xflags & ~(DZ_X_KNOWN | (dz2 && !s->small ? DZ2_X_BLF | DZ2_X_RV : 0u))) ||
        ((s->xflags & DZ2_X_RV) && (s->xflags & (DZ_X_THUMB | DZ_X_ARM | DZ2_X_BLF))) || s->pred_n > 4 || s->pred_kind >= DZ_PRED_KINDS)
        return DFOTA_ERR_JOURNAL;
    dfota_patch_restore(&e->patch, s);
    return DFOTA_OK;
}

/* The range decoder's state is range, code and the 4 payload bytes before
 * in_pos that fed code (in_win): code = in_win - low (mod 2^32), where low,
 * the encoder's, follows from the decisions alone. A checkpoint passed its
 * block's checks, so its decisions are right; but a byte read wrong (staging
 * decayed after the check) may sit in the look-ahead, where no check has
 * seen it yet. The record therefore holds the low, and the look-ahead is
 * read again here, from staging as it is now: restored, it gives the right
 * code; still damaged, a wrong one that the next block's checks catch. */
int dfota__snap_window(struct dfota_engine *e, uint32_t fmt)
{
    struct dfota_patch_state *s = &e->patch.st;
    struct dfota__io c;
    struct dfota_patch_io io;
    uint8_t w[4];
    int rc, low = SNAP_FMT_BASE(fmt) == fmt;   /* (the older formats hold the code) */

    dfota__dec_io(e, &c, &io);
    if ((rc = io.read_payload(io.ctx, s->in_pos - 4u, w, 4)))
        return rc;
    s->in_win = (uint32_t)w[0] << 24 | (uint32_t)w[1] << 16 | (uint32_t)w[2] << 8 | w[3];
    if (low)
        s->code = s->in_win - s->code;
    if (s->code >= s->range)
        return low ? DFOTA_ERR_CORRUPT : DFOTA_ERR_JOURNAL;
    return DFOTA_OK;
}

#endif
