/* In place: the DZ1 or DZ2 decoder state as journal bytes
 * (docs/journal-format.md, "The decoder snapshot"). Every field is written explicitly, little-endian,
 * and range-checked when read back, so that another build of the engine
 * resumes it or refuses it, and never reads out of bounds. A change of the
 * decoder's behaviour or state needs a new SNAP_FMT_* id. */
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

/* model count and probabilities; 11 words; 14 bytes; base, map_n; the map */
#define SNAP_FIXED (4u + 2u * MODEL_N + 11u * 4u + 14u + 8u)

uint32_t dfota__snap_size(const struct dfota_patch_state *s)
{
    uint32_t n = s->map_n > DZ_MAP_MAX ? DZ_MAP_MAX : s->map_n;
    if (s->alg == DFOTA_ALG_DZ2)
        return SNAP_FIXED - 2u * MODEL_N + 2u * MODEL2_N + SNAP_DZ2_EXTRA + 8u * n;
    return SNAP_FIXED + 8u * n;
}

uint32_t dfota__snap_max(void)
{
    return SNAP_FIXED + 8u * DZ_MAP_MAX;
}

static void put8s(struct dfota__js *w, const uint8_t *v, uint32_t n)
{
    dfota__js_put(w, v, n);
}

void dfota__snap_put(struct dfota__js *w, const struct dfota_patch_state *s)
{
    const uint16_t *m = (const uint16_t *)(const void *)&s->m;
    uint32_t i, n = s->map_n > DZ_MAP_MAX ? DZ_MAP_MAX : s->map_n;
    uint32_t mn = s->alg == DFOTA_ALG_DZ2 ? MODEL2_N : MODEL_N;
    uint8_t b[14];

    dfota__js_put32(w, mn);
    for (i = 0; i < mn;) {
        uint8_t p[64];
        uint32_t k = 0;
        for (; k < sizeof p && i < mn; k += 2, i++)
            dfota_put_le16(p + k, m[i]);
        dfota__js_put(w, p, k);
    }
    dfota__js_put32(w, s->range);
    dfota__js_put32(w, s->code);
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

/* Read a snapshot into e->patch for a checkpoint at blocks_done, checking
 * every field against the package (e->hdr) and the block it must stand at. */
int dfota__snap_get(struct dfota__js *r, struct dfota_engine *e)
{
    struct dfota_patch_state *s = &e->patch.st;
    uint16_t *m = (uint16_t *)(void *)&s->m;
    const struct dfota_pkg_header *h = &e->hdr;
    uint32_t i, done = e->blocks_done, off, len, addr;
    int dz2 = h->algorithm == DFOTA_ALG_DZ2;
    uint32_t mn = dz2 ? MODEL2_N : MODEL_N;
    uint8_t b[14];

    if (done == 0 || done >= dfota__blocks(e))
        return DFOTA_ERR_JOURNAL;        /* a checkpoint follows a block, before the last */
    memset(s, 0, sizeof *s);
    s->alg = h->algorithm;
    if (dfota__js_get32(r) != mn)
        return DFOTA_ERR_JOURNAL;
    for (i = 0; i < mn;) {
        uint8_t p[64];
        uint32_t k, c = mn - i < sizeof p / 2 ? mn - i : (uint32_t)sizeof p / 2;
        dfota__js_get(r, p, 2 * c);
        for (k = 0; k < c; k++, i++) {
            m[i] = dfota_le16(p + 2 * k);
            if (m[i] == 0 || m[i] >= DZ_PROB_ONE)
                return DFOTA_ERR_JOURNAL;    /* adaptation keeps 1 .. 4095 */
        }
    }
    s->range = dfota__js_get32(r);
    s->code = dfota__js_get32(r);
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
    if (r->rc || s->map_n > DZ_MAP_MAX)
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
    dz_block(done - 1, h->dst_size, h->sector_size, (h->flags & DFOTA_PKG_F_BACKWARD) != 0, &off,
             &len, &addr);
    if (r->rc || s->range < DZ_RC_TOP || s->in_pos < 5 || s->in_pos > s->payload_size ||
        s->block != done - 1 || s->out_pos != off + len || s->block_end != s->out_pos ||
        s->addr != addr + len || s->src_pos > s->src_size ||
        s->remaining > s->dst_size - s->out_pos ||
        (!dz2 && (s->op > DZ_OP_LIT || s->prev_op > DZ_OP_LIT)) ||
        (dz2 && ((s->op > DZ2_OP_MATCH && s->op != DZ2_OP_STORED) || s->prev_op > DZ2_OP_MATCH)) ||
        (s->op == DZ_OP_COPY && s->remaining > s->src_size - s->src_pos) ||
        (dz2 && s->op == DZ2_OP_MATCH && s->mstart < s->src_size &&
         s->remaining > s->src_size - s->mstart) ||
        (s->xflags & ~DZ_X_KNOWN) || s->pred_n > 4 || s->pred_kind >= DZ_PRED_KINDS)
        return DFOTA_ERR_JOURNAL;
    dfota_patch_restore(&e->patch, s);
    return DFOTA_OK;
}

#endif
