/* The DZ1 decoder: a range decoder over the model of dfota/delta.h, reading
 * the payload and the source through small read-ahead buffers. */
#include <string.h>
#include "dfota/error.h"
#include "dfota/patch.h"

static uint8_t in_byte(struct dfota_patch *p, const struct dfota_patch_io *io)
{
    struct dfota_patch_state *s = &p->st;
    uint32_t at = s->in_pos;

    if (at - p->in_base >= p->in_len) {
        uint32_t n;
        int rc;
        if (at >= s->payload_size) {
            /* The stream asks for more than the payload holds. */
            if (!p->err)
                p->err = DFOTA_ERR_CORRUPT;
            return 0;
        }
        n = s->payload_size - at;
        if (n > DFOTA_PATCH_INBUF)
            n = DFOTA_PATCH_INBUF;
        rc = io->read_payload(io->ctx, at, p->in_buf, n);
        if (rc) {
            if (!p->err)
                p->err = rc;
            return 0;
        }
        p->in_base = at;
        p->in_len = n;
    }
    s->in_pos++;
    return p->in_buf[at - p->in_base];
}

/* One binary decision with probability prob (of a 0) out of DZ_PROB_ONE. */
static inline unsigned rc_decide(struct dfota_patch *p, const struct dfota_patch_io *io,
                                 uint32_t prob)
{
    struct dfota_patch_state *s = &p->st;
    uint32_t bound = (s->range >> DZ_PROB_BITS) * prob;
    unsigned bit;

    if (s->code < bound) {
        s->range = bound;
        bit = 0;
    } else {
        s->code -= bound;
        s->range -= bound;
        bit = 1;
    }
    /* With 12-bit probabilities one byte may not be enough. */
    while (s->range < DZ_RC_TOP) {
        s->range <<= 8;
        s->code = (s->code << 8) | in_byte(p, io);
    }
    return bit;
}

static unsigned rc_bit(struct dfota_patch *p, const struct dfota_patch_io *io, uint16_t *prob,
                       unsigned shift)
{
    unsigned bit = rc_decide(p, io, *prob);
    dz_adapt(prob, bit, shift);
    return bit;
}

/* A bit under two contexts: their average codes it, both adapt. */
static unsigned rc_bit2(struct dfota_patch *p, const struct dfota_patch_io *io, uint16_t *p1,
                        uint16_t *p2, unsigned shift)
{
    unsigned bit = rc_decide(p, io, ((uint32_t)*p1 + *p2) >> 1);
    dz_adapt(p1, bit, shift);
    dz_adapt(p2, bit, shift);
    return bit;
}

static unsigned rc_direct(struct dfota_patch *p, const struct dfota_patch_io *io)
{
    struct dfota_patch_state *s = &p->st;
    unsigned bit = 0;

    s->range >>= 1;
    if (s->code >= s->range) {
        s->code -= s->range;
        bit = 1;
    }
    while (s->range < DZ_RC_TOP) {
        s->range <<= 8;
        s->code = (s->code << 8) | in_byte(p, io);
    }
    return bit;
}

/* A number v >= 1: its bit length in unary, then the bits below the top. */
static uint32_t rc_num(struct dfota_patch *p, const struct dfota_patch_io *io, struct dz_num *c)
{
    unsigned n = 1, i, node = 1;
    uint32_t v = 1;

    while (n < DZ_NUM_MAXBITS && rc_bit(p, io, &c->len[n - 1], DZ_ADAPT_FAST))
        n++;
    for (i = 1; i < n; i++) {
        unsigned bit;
        if (i <= DZ_NUM_CTXBITS) {
            bit = rc_bit(p, io, &c->mant[n - 1][node], DZ_ADAPT_FAST);
            node = (node << 1) | bit;
        } else {
            bit = rc_direct(p, io);
        }
        v = (v << 1) | bit;
    }
    return v;
}

static unsigned rc_tree8(struct dfota_patch *p, const struct dfota_patch_io *io, uint16_t *t,
                         unsigned shift)
{
    unsigned node = 1;
    while (node < 256)
        node = (node << 1) | rc_bit(p, io, &t[node], shift);
    return node & 0xFF;
}

/* Make the read-ahead hold `need` source bytes from src_pos (1, or 4 for a
 * reference; the caller checked the copy and the block have them). It reads
 * ahead only within the current copy and block: in place, a byte may be
 * read only while producing the block that uses it, so a straight run reads
 * exactly what a resumed one reads. */
static int src_fill(struct dfota_patch *p, const struct dfota_patch_io *io, uint32_t need)
{
    struct dfota_patch_state *s = &p->st;
    uint32_t at = s->src_pos, n;
    int rc;

    if (at >= p->src_base && at - p->src_base + need <= p->src_len)
        return DFOTA_OK;
    n = s->remaining < s->block_end - s->out_pos ? s->remaining : s->block_end - s->out_pos;
    if (n > DFOTA_PATCH_SRCBUF)
        n = DFOTA_PATCH_SRCBUF;
    if ((rc = io->read_src(io->ctx, at, p->src_buf, n)))
        return rc;
    p->src_base = at;
    p->src_len = n;
    return DFOTA_OK;
}

static int src_byte(struct dfota_patch *p, const struct dfota_patch_io *io, uint8_t *b)
{
    int rc = src_fill(p, io, 1);
    if (!rc)
        *b = p->src_buf[p->st.src_pos - p->src_base];
    return rc;
}

static int src_peek4(struct dfota_patch *p, const struct dfota_patch_io *io, uint8_t out[4])
{
    int rc = src_fill(p, io, 4);
    if (!rc)
        memcpy(out, p->src_buf + (p->st.src_pos - p->src_base), 4);
    return rc;
}

/* The preamble: reference-prediction flags, image base and the shift map. */
static int read_preamble(struct dfota_patch *p, const struct dfota_patch_io *io)
{
    struct dfota_patch_state *s = &p->st;
    uint32_t i, prev = 0;

    for (i = 0; i < 4; i++)
        s->xflags = (uint8_t)(s->xflags | rc_direct(p, io) << i);
    if (!(s->xflags & DZ_X_PRED))
        return p->err;
    for (i = 0; i < 32; i++)
        s->base = (s->base << 1) | rc_direct(p, io);
    s->map_n = rc_num(p, io, &s->m.map_num) - 1;
    if (s->map_n > DZ_MAP_MAX)
        return DFOTA_ERR_CORRUPT;
    for (i = 0; i < s->map_n; i++) {
        uint32_t d = rc_num(p, io, &s->m.map_num) - 1, z = rc_num(p, io, &s->m.map_num) - 1;
        if (i && d == 0)
            return DFOTA_ERR_CORRUPT;             /* strictly increasing */
        prev += d;
        s->map[i].src = prev;
        s->map[i].shift = (int32_t)((z >> 1) ^ (0u - (z & 1)));  /* zigzag */
    }
    return p->err;
}

int dfota_patch_init(struct dfota_patch *p, const struct dfota_pkg_header *h)
{
    struct dfota_patch_state *s = &p->st;

    if (h->algorithm != DFOTA_ALG_DZ1 || h->coder != DFOTA_CODER_RC1)
        return DFOTA_ERR_ALGORITHM;
    memset(p, 0, sizeof *p);
    dz_model_init(&s->m);
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
}

int dfota_patch_done(const struct dfota_patch *p)
{
    return p->st.out_pos == p->st.dst_size && p->st.remaining == 0;
}

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

/* Move to the next block's target address when the stream crosses into it. */
static void enter_block(struct dfota_patch_state *s)
{
    uint32_t off, len, addr;

    if (s->out_pos == 0)
        s->block = 0;
    else
        s->block++;
    dz_block(s->block, s->dst_size, s->sector_size, (s->flags & DFOTA_PKG_F_BACKWARD) != 0,
             &off, &len, &addr);
    s->addr = addr;
    s->block_end = off + len;
}

/* Entering a block drops the source read-ahead (see src_byte). */
static void enter_block_io(struct dfota_patch *p)
{
    enter_block(&p->st);
    p->src_len = 0;
}

int dfota_patch_decode(struct dfota_patch *p, const struct dfota_patch_io *io,
                       uint8_t *out, uint32_t n)
{
    struct dfota_patch_state *s = &p->st;
    struct dz_model *m = &s->m;
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
        if ((rc0 = read_preamble(p, io)))
            return rc0;
    }
    while (n) {
        uint8_t b;
        int rc;

        if (s->out_pos == s->block_end)
            enter_block_io(p);
        if (s->remaining == 0) {
            rc = next_op(p, io);
            if (rc)
                return rc;
        }
        if (s->op == DZ_OP_LIT) {
            b = (uint8_t)rc_tree8(p, io, m->lit[dz_lit_ctx(s->addr, s->prev_byte)], DZ_ADAPT_SLOW);
        } else {
            unsigned lane = s->addr & 3u, nz, kind;
            uint8_t d = 0, sb;
            /* References start on even (Thumb) or word (A32, pointers)
             * addresses: only there is dz_predict worth a call. */
            if ((s->xflags & DZ_X_PRED) && !s->pred_n && !(s->addr & ((s->xflags & DZ_X_THUMB) ? 1u : 3u)) &&
                s->remaining >= 4 && s->block_end - s->out_pos >= 4) {
                uint8_t s4[4];
                if ((rc = src_peek4(p, io, s4)))
                    return rc;
                s->pred_kind = (uint8_t)dz_predict(s4, s->src_pos, s->addr, s->xflags, s->base,
                                                   s->map, s->map_n, s->src_size, s->pred);
                s->pred_n = s->pred_kind ? 4 : 0;
            }
            rc = src_byte(p, io, &sb);
            if (rc)
                return rc;
            kind = 0;
            if (s->pred_n) {
                kind = s->pred_kind;
                sb = s->pred[4 - s->pred_n--];
            }
            if (s->xflags & DZ_X_BYTECTX)
                nz = rc_bit2(p, io, &m->d_zero[kind][dz_zero_ctx(s->addr, s->zrun, s->zhist)],
                             &m->d_zero2[s->prev_byte * 2u + (s->zrun == 0)], DZ_ADAPT_FAST);
            else
                nz = rc_bit(p, io, &m->d_zero[kind][dz_zero_ctx(s->addr, s->zrun, s->zhist)],
                            DZ_ADAPT_FAST);
            if (nz) {
                unsigned mctx = lane * 2u + ((s->zhist >> 3) & 1u);
                if (rc_bit(p, io, &m->d_mru[mctx], DZ_ADAPT_FAST) == 0)
                    d = s->mru[lane];
                else
                    d = (uint8_t)rc_tree8(p, io, m->d_val[kind][lane], DZ_ADAPT_SLOW);
                s->mru[lane] = d;
                s->zrun = 0;
            } else {
                s->zrun++;
            }
            s->zhist = (s->zhist << 1) | nz;
            b = (uint8_t)(sb + d);
            s->src_pos++;
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
