/* The DZ1 decoder: a range decoder over the model of dfota/delta.h, reading
 * the payload and the source through small read-ahead buffers. DZ2 payloads
 * are handed to lib/dz2_decode.c. DFOTA_CFG_DZ1 / DFOTA_CFG_DZ2 choose the
 * codecs compiled in; a size build defines the helpers of patch_int.h here,
 * once for both decoders (DZ_FN there). */
#include <string.h>
#include "dfota/error.h"
#include "dfota/patch.h"
#include "le.h"
#define DFOTA_PATCH_INT_DEFINE
#include "patch_int.h"

int dfota_patch_supported(uint8_t alg)
{
    return (DFOTA_CFG_DZ1 && alg == DFOTA_ALG_DZ1) || (DFOTA_CFG_DZ2 && alg == DFOTA_ALG_DZ2);
}

void dfota_patch_block(uint32_t i, uint32_t dst_size, uint32_t sector, const struct dfota_pkg_run *r,
                       uint32_t nr, uint32_t *stream_off, uint32_t *len, uint32_t *addr)
{
    dz_block(i, dst_size, sector, r, nr, stream_off, len, addr);
}

int dfota_patch_init(struct dfota_patch *p, const struct dfota_pkg_header *h)
{
    struct dfota_patch_state *s = &p->st;

    unsigned i;

    if (!dfota_patch_supported(h->algorithm) || h->coder != DFOTA_CODER_RC1)
        return DFOTA_ERR_ALGORITHM;      /* (a small build has no room for DZ1's model) */
    memset(p, 0, sizeof *p);
    s->alg = h->algorithm;
    /* (written so that a build with one codec carries one model's code) */
#if DFOTA_CFG_DZ1
    if (!DFOTA_CFG_DZ2 || s->alg == DFOTA_ALG_DZ1)
        dz_model_init(&s->m);
    else
#endif
        dz2_model_init(&s->m2);
    for (i = 0; DFOTA_CFG_DZ2 && i < DZ2_REPS; i++)
        s->rep[i] = 1;
    s->range = 0xFFFFFFFFu;
    s->src_size = h->src_size;
    s->dst_size = h->dst_size;
    s->payload_size = h->payload_size;
    s->sector_size = (h->flags & DFOTA_PKG_F_INPLACE) ? h->sector_size : 0;
    s->flags = h->flags;
    s->block = 0;
    s->block_end = 0;       /* the first decode call enters block 0 */
    s->op = DZ_OP_NONE;
    s->prev_op = DZ_OP_NONE;
    return DFOTA_OK;
}

void dfota_patch_restore(struct dfota_patch *p, const struct dfota_patch_state *st)
{
    if (st != &p->st)
        p->st = *st;
    p->in_base = p->in_len = 0;
    p->src_base = p->src_len = 0;
    p->err = 0;
    p->ring_from = p->st.out_pos;
    p->dst_base = p->dst_len = 0;
}

#if DZ_INPLACE
void dfota_patch_pending(const struct dfota_patch_state *s, uint8_t out[DFOTA_PATCH_PENDING_LEN])
{
    unsigned i, dz2 = s->alg == DFOTA_ALG_DZ2;    /* (DZ1 has no use for DZ2's fields) */
    dfota_put_le32(out, s->op);
    dfota_put_le32(out + 4, s->remaining);
    dfota_put_le32(out + 8, s->src_pos);
    dfota_put_le32(out + 12, dz2 ? s->mstart : 0);
    dfota_put_le32(out + 16, dz2 ? (uint32_t)s->align : 0);
    for (i = 0; i < DZ2_REPS; i++)
        dfota_put_le32(out + 20 + 4 * i, dz2 ? s->rep[i] : 0);
}
#endif

int dfota_patch_done(const struct dfota_patch *p)
{
    return p->st.out_pos == p->st.dst_size && p->st.remaining == 0;
}

#if DFOTA_CFG_DZ1
/* Start the next operation. */
static int next_op(struct dfota_patch *p, const struct dfota_patch_io *io)
{
    struct dfota_patch_state *s = &p->st;
    uint32_t left = s->dst_size - s->out_pos, len;
    unsigned lit;

    if (s->prev_op == DZ_OP_LIT)
        lit = 0;
    else
        lit = rc_bit(p, io, &s->m.op_lit[s->prev_op], DZ_ADAPT_FAST);
    len = rc_num(p, io, lit ? &s->m.lit_len : &s->m.copy_len);
    if (p->err)
        return p->err;
    if (len > left)
        return DFOTA_ERR_CORRUPT;
    if (!lit) {
        int32_t delta = 0;
        if (rc_bit(p, io, &s->m.off_zero[s->prev_op == DZ_OP_LIT], DZ_ADAPT_FAST)) {
            unsigned neg = rc_bit(p, io, &s->m.off_sign[s->prev_op == DZ_OP_LIT], DZ_ADAPT_FAST);
            uint32_t mag = rc_num(p, io, &s->m.off_mag);
            if (p->err)
                return p->err;
            if (mag > 0x7FFFFFFFu)
                return DFOTA_ERR_CORRUPT;
            delta = neg ? -(int32_t)mag : (int32_t)mag;
        }
        /* The copy must lie inside the source. */
        if ((delta < 0 && (uint32_t)-delta > s->src_pos) ||
            (uint64_t)s->src_pos + (uint64_t)(int64_t)delta + len > s->src_size)
            return DFOTA_ERR_CORRUPT;
        s->src_pos = (uint32_t)((int64_t)s->src_pos + delta);
    }
    s->op = lit ? DZ_OP_LIT : DZ_OP_COPY;
    s->remaining = len;
    return p->err;
}

static int dz1_decode(struct dfota_patch *p, const struct dfota_patch_io *io,
                      uint8_t *out, uint32_t n)
{
    struct dfota_patch_state *s = &p->st;
    struct dz_model *m = &s->m;
    const struct dz_copy_tabs t = { m->d_zero, m->d_zero2, m->d_mru,
                                    (uint16_t (*)[256])(void *)m->d_val, 2, 2, DZ_LANES, 0 };
    int rc0;

    if (n > s->dst_size - s->out_pos)
        return DFOTA_ERR_ARG;
    if (s->out_pos == 0 && s->in_pos == 0 && n) {
        /* Range decoder start: a zero byte, then four bytes of code. */
        unsigned i;
        if (in_byte(p, io) != 0 && !p->err)
            return DFOTA_ERR_CORRUPT;
        for (i = 0; i < 4; i++)
            s->code = (s->code << 8) | in_byte(p, io);
        if (p->err)
            return p->err;
        if ((rc0 = read_preamble(p, io, m->map_num.len, m->map_num.mant, DZ_NUM_MAXBITS,
                                 DZ_MAP_MAX)))
            return rc0;
    }
    while (n) {
        uint8_t b;
        int rc;

        if (s->out_pos == s->block_end && (rc = enter_block_io(p, io)))
            return rc;
        if (s->remaining == 0) {
            rc = next_op(p, io);
            if (rc)
                return rc;
        }
        if (s->op == DZ_OP_LIT) {
            b = (uint8_t)rc_tree8(p, io, m->lit[dz_lit_ctx(s->addr, s->prev_byte)], DZ_ADAPT_SLOW);
        } else {
            if ((rc = copy_byte(p, io, &t, &b)))
                return rc;
        }
        if (p->err)
            return p->err;
        s->prev_byte = b;
        *out++ = b;
        s->out_pos++;
        s->addr++;
        s->remaining--;
        n--;
        if (s->remaining == 0)
            s->prev_op = s->op;
    }
    return DFOTA_OK;
}
#endif /* DFOTA_CFG_DZ1 */

int dfota_patch_decode(struct dfota_patch *p, const struct dfota_patch_io *io,
                       uint8_t *out, uint32_t n)
{
    /* dfota_patch_init refused a codec not compiled in; a restored state
     * (dfota_patch_restore) may still name one. */
#if DFOTA_CFG_DZ2
    if (p->st.alg == DFOTA_ALG_DZ2)
        return dz2_decode(p, io, out, n);
#endif
#if DFOTA_CFG_DZ1
    if (p->st.alg == DFOTA_ALG_DZ1)
        return dz1_decode(p, io, out, n);
#endif
    (void)io;
    (void)out;
    (void)n;
    return DFOTA_ERR_ALGORITHM;
}
