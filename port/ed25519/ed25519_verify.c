/* Ed25519 signature verification (RFC 8032, pure Ed25519), written for small
 * microcontrollers: 32-bit limbs with 64-bit products (no 128-bit types), no
 * tables beyond a few constants, no allocation, variable-time (all inputs are
 * public).
 *
 * Field elements mod p = 2^255 - 19 use ten signed limbs in radix 2^25.5:
 * limb i has weight 2^ceil(25.5 i), i.e. 26 bits for even i, 25 bits for odd
 * i. fe_mul outputs have |limb| <= 2^(w-1) (plus a tiny excess on limb 1),
 * fe_frombytes outputs 0 <= limb < 2^w, and fe_mul accepts any input with
 * |limb| <= 2^27: a sum or difference of up to four fe_mul outputs or two
 * fe_frombytes outputs. The curve formulas below stay within that (the
 * worst case is F = 2Z^2 + X^2 - Y^2 in ge_dbl).
 *
 * Points use extended twisted Edwards coordinates (X:Y:Z:T), x = X/Z,
 * y = Y/Z, xy = T/Z, on -x^2 + y^2 = 1 + d x^2 y^2 (Hisil-Wong-Carter-Dawson
 * 2008 formulas). */
#include "dfota_ed25519.h"

#include <string.h>

/* Carries below use >> on negative values and expect floor semantics. */
_Static_assert((-1 >> 1) == -1 && ((int64_t)-3 >> 1) == -2,
               "arithmetic right shift of negative values required");

typedef int32_t fe[10];

#define LIMB_BITS(i) (26 - ((i) & 1))

/* ---- constants, little-endian byte form -------------------------------- */

static const uint8_t D_BYTES[32] = { /* d = -121665/121666 */
    0xa3, 0x78, 0x59, 0x13, 0xca, 0x4d, 0xeb, 0x75, 0xab, 0xd8, 0x41, 0x41, 0x4d, 0x0a, 0x70, 0x00,
    0x98, 0xe8, 0x79, 0x77, 0x79, 0x40, 0xc7, 0x8c, 0x73, 0xfe, 0x6f, 0x2b, 0xee, 0x6c, 0x03, 0x52,
};
static const uint8_t D2_BYTES[32] = { /* 2d */
    0x59, 0xf1, 0xb2, 0x26, 0x94, 0x9b, 0xd6, 0xeb, 0x56, 0xb1, 0x83, 0x82, 0x9a, 0x14, 0xe0, 0x00,
    0x30, 0xd1, 0xf3, 0xee, 0xf2, 0x80, 0x8e, 0x19, 0xe7, 0xfc, 0xdf, 0x56, 0xdc, 0xd9, 0x06, 0x24,
};
static const uint8_t SQRTM1_BYTES[32] = { /* 2^((p-1)/4), a square root of -1 */
    0xb0, 0xa0, 0x0e, 0x4a, 0x27, 0x1b, 0xee, 0xc4, 0x78, 0xe4, 0x2f, 0xad, 0x06, 0x18, 0x43, 0x2f,
    0xa7, 0xd7, 0xfb, 0x3d, 0x99, 0x00, 0x4d, 0x2b, 0x0b, 0xdf, 0xc1, 0x4f, 0x80, 0x24, 0x83, 0x2b,
};
static const uint8_t BX_BYTES[32] = { /* base point B: x (even) */
    0x1a, 0xd5, 0x25, 0x8f, 0x60, 0x2d, 0x56, 0xc9, 0xb2, 0xa7, 0x25, 0x95, 0x60, 0xc7, 0x2c, 0x69,
    0x5c, 0xdc, 0xd6, 0xfd, 0x31, 0xe2, 0xa4, 0xc0, 0xfe, 0x53, 0x6e, 0xcd, 0xd3, 0x36, 0x69, 0x21,
};
static const uint8_t BY_BYTES[32] = { /* base point B: y = 4/5 */
    0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
    0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
};
static const uint8_t L_BYTES[32] = { /* group order L = 2^252 + 27742317777372353535851937790883648493 */
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
};

/* ---- field arithmetic mod p = 2^255 - 19 ------------------------------- */

static void fe_copy(fe h, const fe f) { memcpy(h, f, sizeof(fe)); }

static void fe_set_small(fe h, int32_t v)
{
    memset(h, 0, sizeof(fe));
    h[0] = v;
}

static void fe_add(fe h, const fe f, const fe g)
{
    for (int i = 0; i < 10; i++)
        h[i] = f[i] + g[i];
}

static void fe_sub(fe h, const fe f, const fe g)
{
    for (int i = 0; i < 10; i++)
        h[i] = f[i] - g[i];
}

static void fe_neg(fe h, const fe f)
{
    for (int i = 0; i < 10; i++)
        h[i] = -f[i];
}

/* Loads 255 bits (the top bit of s[31] is ignored); the value may be >= p. */
static void fe_frombytes(fe h, const uint8_t s[32])
{
    uint64_t acc = 0;
    int bits = 0, pos = 0;

    for (int i = 0; i < 10; i++) {
        int w = LIMB_BITS(i);
        while (bits < w) {
            acc |= (uint64_t)s[pos++] << bits;
            bits += 8;
        }
        h[i] = (int32_t)(acc & (((uint64_t)1 << w) - 1));
        acc >>= w;
        bits -= w;
    }
}

/* Writes the canonical encoding (value fully reduced into [0, p)). */
static void fe_tobytes(uint8_t s[32], const fe f)
{
    int32_t t[10], u[10], m;
    uint64_t acc = 0;
    int bits = 0, pos = 0;

    /* Floor carries, wrapping 2^255 = 19. Three passes leave every limb in
     * [0, 2^w) and the value in [0, 2^255): the first pass bounds the wrapped
     * carry to a few units, the second leaves a final carry of at most +-1,
     * and the third absorbs it without carrying out again. */
    fe_copy(t, f);
    for (int pass = 0; pass < 3; pass++) {
        for (int i = 0; i < 10; i++) {
            int w = LIMB_BITS(i);
            int32_t carry = t[i] >> w;
            t[i] -= carry * ((int32_t)1 << w);
            if (i < 9)
                t[i + 1] += carry;
            else
                t[0] += 19 * carry;
        }
    }

    /* t < 2^255; t >= p iff t + 19 >= 2^255, and then t - p = t + 19 - 2^255. */
    fe_copy(u, t);
    u[0] += 19;
    for (int i = 0; i < 9; i++) {
        int w = LIMB_BITS(i);
        u[i + 1] += u[i] >> w;
        u[i] &= ((int32_t)1 << w) - 1;
    }
    m = -(u[9] >> 25); /* all ones when t >= p */
    u[9] &= ((int32_t)1 << 25) - 1;
    for (int i = 0; i < 10; i++)
        t[i] = (t[i] & ~m) | (u[i] & m);

    for (int i = 0; i < 10; i++) {
        acc |= (uint64_t)(uint32_t)t[i] << bits;
        bits += LIMB_BITS(i);
        while (bits >= 8) {
            s[pos++] = (uint8_t)acc;
            acc >>= 8;
            bits -= 8;
        }
    }
    s[pos] = (uint8_t)acc; /* 255 bits: 31 full bytes plus 7 bits */
}

/* h = f * g. Inputs |limb| <= 2^27; output reduced. h may alias f or g. */
static void fe_mul(fe h, const fe f, const fe g)
{
    int64_t t[19] = {0}, carry;

    /* Schoolbook product by weight: limb weights add up exactly except that
     * two odd limbs (weights 25.5 i + 0.5 each) give one extra factor 2. */
    for (int i = 0; i < 10; i++) {
        int32_t fi = f[i];
        int32_t fi2 = (i & 1) ? 2 * fi : fi; /* for odd j */
        for (int j = 0; j < 10; j += 2) {
            t[i + j] += (int64_t)fi * g[j];
            t[i + j + 1] += (int64_t)fi2 * g[j + 1];
        }
    }
    /* Fold positions >= 10 down with 2^255 = 19. Worst case per column:
     * 10 products of at most 38 * 2^54, i.e. < 2^62.6: no overflow. */
    for (int k = 0; k < 9; k++)
        t[k] += 19 * t[k + 10];

    /* Rounding carries, limb pairs of 26 and 25 bits: afterwards
     * |t[i]| <= 2^(w-1), plus a small excess on t[1] from the final carry
     * out of t[0]. */
    for (int i = 0; i < 10; i += 2) {
        carry = (t[i] + ((int64_t)1 << 25)) >> 26;
        t[i] -= carry * ((int64_t)1 << 26);
        t[i + 1] += carry;
        carry = (t[i + 1] + ((int64_t)1 << 24)) >> 25;
        t[i + 1] -= carry * ((int64_t)1 << 25);
        if (i < 8)
            t[i + 2] += carry;
        else
            t[0] += 19 * carry;
    }
    carry = (t[0] + ((int64_t)1 << 25)) >> 26;
    t[0] -= carry * ((int64_t)1 << 26);
    t[1] += carry;

    for (int i = 0; i < 10; i++)
        h[i] = (int32_t)t[i];
}

static void fe_sq(fe h, const fe f) { fe_mul(h, f, f); }

/* h = f^(2^n) */
static void fe_sqn(fe h, const fe f, int n)
{
    fe_sq(h, f);
    while (--n > 0)
        fe_sq(h, h);
}

/* Shared start of the inversion and square-root exponent chains:
 * t = z^(2^250 - 1), z11 = z^11. */
static void fe_pow_2_250_1(fe t, fe z11, const fe z)
{
    fe a, b, c;

    fe_sq(a, z);               /* z^2 */
    fe_sqn(b, a, 2);           /* z^8 */
    fe_mul(b, b, z);           /* z^9 */
    fe_mul(z11, a, b);         /* z^11 */
    fe_sq(a, z11);             /* z^22 */
    fe_mul(a, a, b);           /* z^31 = z^(2^5 - 1) */
    fe_sqn(b, a, 5);
    fe_mul(a, b, a);           /* z^(2^10 - 1) */
    fe_sqn(b, a, 10);
    fe_mul(b, b, a);           /* z^(2^20 - 1) */
    fe_sqn(c, b, 20);
    fe_mul(c, c, b);           /* z^(2^40 - 1) */
    fe_sqn(c, c, 10);
    fe_mul(a, c, a);           /* z^(2^50 - 1) */
    fe_sqn(b, a, 50);
    fe_mul(b, b, a);           /* z^(2^100 - 1) */
    fe_sqn(c, b, 100);
    fe_mul(c, c, b);           /* z^(2^200 - 1) */
    fe_sqn(c, c, 50);
    fe_mul(t, c, a);           /* z^(2^250 - 1) */
}

/* h = 1/z = z^(p - 2) = z^((2^250 - 1) * 2^5 + 11) */
static void fe_invert(fe h, const fe z)
{
    fe t, z11;

    fe_pow_2_250_1(t, z11, z);
    fe_sqn(t, t, 5);
    fe_mul(h, t, z11);
}

/* h = z^((p - 5) / 8) = z^((2^250 - 1) * 4 + 1) */
static void fe_pow22523(fe h, const fe z)
{
    fe t, z11;

    fe_pow_2_250_1(t, z11, z);
    fe_sqn(t, t, 2);
    fe_mul(h, t, z);
}

static int fe_iszero(const fe f)
{
    uint8_t s[32], acc = 0;

    fe_tobytes(s, f);
    for (int i = 0; i < 32; i++)
        acc |= s[i];
    return acc == 0;
}

static int fe_equal(const fe f, const fe g)
{
    fe t;

    fe_sub(t, f, g);
    return fe_iszero(t);
}

/* "Negative" in RFC 8032 terms: the canonical value is odd. */
static int fe_isodd(const fe f)
{
    uint8_t s[32];

    fe_tobytes(s, f);
    return s[0] & 1;
}

/* ---- group operations ---------------------------------------------------- */

struct ge {
    fe X, Y, Z, T;
};

/* A point prepared as the second operand of ge_add. */
struct ge_cached {
    fe YplusX, YminusX, T2d, Z2;
};

static void ge_identity(struct ge *p)
{
    fe_set_small(p->X, 0);
    fe_set_small(p->Y, 1);
    fe_set_small(p->Z, 1);
    fe_set_small(p->T, 0);
}

/* Completes a point whose X, Y hold affine x, y: Z = 1, T = xy. */
static void ge_complete_affine(struct ge *p)
{
    fe_set_small(p->Z, 1);
    fe_mul(p->T, p->X, p->Y);
}

/* -(x, y) = (-x, y): swaps Y + X with Y - X and negates T. */
static void ge_cached_neg(struct ge_cached *c)
{
    fe t;

    fe_copy(t, c->YplusX);
    fe_copy(c->YplusX, c->YminusX);
    fe_copy(c->YminusX, t);
    fe_neg(c->T2d, c->T2d);
}

static void ge_to_cached(struct ge_cached *c, const struct ge *p)
{
    fe d2;

    fe_frombytes(d2, D2_BYTES);
    fe_add(c->YplusX, p->Y, p->X);
    fe_sub(c->YminusX, p->Y, p->X);
    fe_mul(c->T2d, p->T, d2);
    fe_add(c->Z2, p->Z, p->Z);
}

/* Cached form of the affine point (x, y). */
static void ge_cached_from_affine(struct ge_cached *c, const fe x, const fe y)
{
    fe d2;

    fe_add(c->YplusX, y, x);
    fe_sub(c->YminusX, y, x);
    fe_frombytes(d2, D2_BYTES);
    fe_mul(c->T2d, x, y);
    fe_mul(c->T2d, c->T2d, d2);
    fe_set_small(c->Z2, 2);
}

/* r = p + q (add-2008-hwcd-3, a = -1). r may alias p. Temporaries are
 * reused to keep the stack small; the names in the comments are the
 * formula's: A..D, then E = B - A, F = D - C, G = D + C, H = B + A,
 * X3 = EF, Y3 = GH, T3 = EH, Z3 = FG. */
static void ge_add(struct ge *r, const struct ge *p, const struct ge_cached *q)
{
    fe a, b, c, d, e;

    fe_sub(a, p->Y, p->X);
    fe_mul(a, a, q->YminusX); /* A = (Y1 - X1)(Y2 - X2) */
    fe_add(b, p->Y, p->X);
    fe_mul(b, b, q->YplusX);  /* B = (Y1 + X1)(Y2 + X2) */
    fe_mul(c, p->T, q->T2d);  /* C = 2d T1 T2 */
    fe_mul(d, p->Z, q->Z2);   /* D = 2 Z1 Z2 */
    fe_sub(e, b, a);          /* E */
    fe_add(b, b, a);          /* H */
    fe_sub(a, d, c);          /* F */
    fe_add(d, d, c);          /* G */
    fe_mul(r->X, e, a);
    fe_mul(r->Y, d, b);
    fe_mul(r->T, e, b);
    fe_mul(r->Z, a, d);
}

/* r = 2p (dbl-2008-hwcd, a = -1): with A = X^2, B = Y^2, C = 2Z^2 it uses
 * H = A + B, E = H - (X + Y)^2, G = A - B, F = C + G (the formula's E, F,
 * G, H negated, which leaves the products unchanged), X3 = EF, Y3 = GH,
 * T3 = EH, Z3 = FG. r may alias p. */
static void ge_dbl(struct ge *r, const struct ge *p)
{
    fe a, b, c, h;

    fe_sq(a, p->X);
    fe_sq(b, p->Y);
    fe_sq(c, p->Z);
    fe_add(c, c, c);          /* C */
    fe_add(h, a, b);          /* H */
    fe_sub(a, a, b);          /* G */
    fe_add(b, p->X, p->Y);
    fe_sq(b, b);
    fe_sub(b, h, b);          /* E */
    fe_add(c, c, a);          /* F */
    fe_mul(r->X, b, c);
    fe_mul(r->Y, a, h);
    fe_mul(r->T, b, h);
    fe_mul(r->Z, c, a);
}

/* True when [8]p is the identity, i.e. p lies in the small-order subgroup.
 * Identity and order 2 are the only points with X = 0, and [8]p cannot have
 * order 2 (the curve has no points of order 16), so X = 0 is the full test.
 * Overwrites p with [8]p (saves a point on the stack). */
static int ge_has_small_order(struct ge *p)
{
    ge_dbl(p, p);
    ge_dbl(p, p);
    ge_dbl(p, p);
    return fe_iszero(p->X);
}

static void ge_tobytes(uint8_t s[32], const struct ge *p)
{
    fe zi, x, y;

    fe_invert(zi, p->Z);
    fe_mul(x, p->X, zi);
    fe_mul(y, p->Y, zi);
    fe_tobytes(s, y);
    s[31] |= (uint8_t)(fe_isodd(x) << 7);
}

/* RFC 8032 5.1.3 decoding: affine x, y from s. Returns 0 or -1. */
static int point_decode(fe x, fe y, const uint8_t s[32])
{
    fe d, one, u, v, v3, t;
    uint8_t chk[32];
    int sign = s[31] >> 7;

    fe_frombytes(y, s);
    fe_tobytes(chk, y); /* y < p iff re-encoding gives back the same bits */
    if (memcmp(chk, s, 31) != 0 || chk[31] != (s[31] & 0x7f))
        return -1;

    /* x^2 = u / v with u = y^2 - 1, v = d y^2 + 1 */
    fe_frombytes(d, D_BYTES);
    fe_set_small(one, 1);
    fe_sq(u, y);
    fe_mul(v, u, d);
    fe_sub(u, u, one);
    fe_add(v, v, one);

    /* candidate x = u v^3 (u v^7)^((p-5)/8) */
    fe_sq(v3, v);
    fe_mul(v3, v3, v);  /* v^3 */
    fe_sq(t, v3);
    fe_mul(t, t, v);    /* v^7 */
    fe_mul(t, t, u);    /* u v^7 */
    fe_pow22523(t, t);
    fe_mul(t, t, v3);
    fe_mul(x, t, u);

    fe_sq(t, x);
    fe_mul(t, t, v);    /* v x^2 */
    if (!fe_equal(t, u)) {
        fe_add(t, t, u);
        if (!fe_iszero(t))
            return -1;  /* u / v is not a square: no such point */
        fe_frombytes(t, SQRTM1_BYTES);
        fe_mul(x, x, t);
    }
    if (fe_iszero(x) && sign)
        return -1;
    if (fe_isodd(x) != sign)
        fe_neg(x, x);
    return 0;
}

/* ---- scalars mod L -------------------------------------------------------- */

/* 1 when s (32 bytes little-endian) < L. */
static int sc_is_canonical(const uint8_t s[32])
{
    for (int i = 31; i >= 0; i--) {
        if (s[i] != L_BYTES[i])
            return s[i] < L_BYTES[i];
    }
    return 0; /* s == L */
}

static uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* out = in mod L, in 64 bytes little-endian. Plain binary long division:
 * r = 2r + bit, minus L when r >= L. 512 cheap steps, tiny code. */
static void sc_reduce512(uint8_t out[32], const uint8_t in[64])
{
    uint32_t r[8] = {0}, l[8];

    for (int i = 0; i < 8; i++)
        l[i] = load_le32(L_BYTES + 4 * i);

    for (int bit = 511; bit >= 0; bit--) {
        uint32_t carry = (in[bit >> 3] >> (bit & 7)) & 1;
        int geq;

        /* r < L < 2^253, so 2r + 1 fits in 256 bits */
        for (int i = 0; i < 8; i++) {
            uint32_t top = r[i] >> 31;
            r[i] = (r[i] << 1) | carry;
            carry = top;
        }
        geq = 1; /* r >= L ? */
        for (int i = 7; i >= 0; i--) {
            if (r[i] != l[i]) {
                geq = r[i] > l[i];
                break;
            }
        }
        if (geq) {
            uint32_t borrow = 0;
            for (int i = 0; i < 8; i++) {
                uint64_t diff = (uint64_t)r[i] - l[i] - borrow;
                r[i] = (uint32_t)diff;
                borrow = (uint32_t)(diff >> 63);
            }
        }
    }
    for (int i = 0; i < 32; i++)
        out[i] = (uint8_t)(r[i >> 2] >> (8 * (i & 3)));
}

static int sc_bit(const uint8_t s[32], int i) { return (s[i >> 3] >> (i & 7)) & 1; }

/* ---- verification ------------------------------------------------------ */

/* r = [s]B - [k]A for the affine point A = (ax, ay), with s, k < L < 2^253.
 * Straus/Shamir: one doubling per bit and one addition of B, -A or B - A. */
static void double_scalarmult(struct ge *r, const uint8_t s[32], const uint8_t k[32],
                              const fe ax, const fe ay)
{
    struct ge_cached tab[3]; /* B, -A, B - A */

    fe_frombytes(r->X, BX_BYTES);
    fe_frombytes(r->Y, BY_BYTES);
    ge_cached_from_affine(&tab[0], r->X, r->Y);
    ge_cached_from_affine(&tab[1], ax, ay);
    ge_cached_neg(&tab[1]);
    ge_complete_affine(r);
    ge_add(r, r, &tab[1]);
    ge_to_cached(&tab[2], r);

    ge_identity(r);
    for (int i = 252; i >= 0; i--) {
        int idx = sc_bit(s, i) | sc_bit(k, i) << 1;
        ge_dbl(r, r);
        if (idx)
            ge_add(r, r, &tab[idx - 1]);
    }
}

#define CTX_READY 0x45443235 /* "ED25" */

int dfota_ed25519_verify_init(struct dfota_ed25519_verify_ctx *c, const uint8_t sig[64],
                              const uint8_t pub[32])
{
    struct ge a;

    c->state = 0;
    memcpy(c->sig, sig, 64);
    if (!sc_is_canonical(sig + 32))
        return -1;
    if (point_decode(a.X, a.Y, pub) != 0)
        return -1;
    fe_copy(c->ax, a.X);
    fe_copy(c->ay, a.Y);
    ge_complete_affine(&a);
    if (ge_has_small_order(&a))
        return -1;

    dfota_sha512_init(&c->hash);
    dfota_sha512_update(&c->hash, sig, 32);
    dfota_sha512_update(&c->hash, pub, 32);
    c->state = CTX_READY;
    return 0;
}

void dfota_ed25519_verify_update(struct dfota_ed25519_verify_ctx *c, const uint8_t *m, size_t n)
{
    if (c->state == CTX_READY && n > 0)
        dfota_sha512_update(&c->hash, m, n);
}

int dfota_ed25519_verify_final(struct dfota_ed25519_verify_ctx *c)
{
    uint8_t h[64], k[32];
    struct ge r;

    if (c->state != CTX_READY)
        return -1;
    c->state = 0;

    dfota_sha512_final(&c->hash, h);
    sc_reduce512(k, h);

    double_scalarmult(&r, c->sig + 32, k, c->ax, c->ay); /* [S]B - [k]A */

    ge_tobytes(h, &r); /* h reused for the encoding of [S]B - [k]A */
    if (memcmp(h, c->sig, 32) != 0)
        return -1;
    if (ge_has_small_order(&r)) /* R itself, since it encodes to sig[0..31] */
        return -1;
    return 0;
}

int dfota_ed25519_verify(const uint8_t sig[64], const uint8_t *msg, size_t len,
                         const uint8_t pub[32])
{
    struct dfota_ed25519_verify_ctx c;

    if (dfota_ed25519_verify_init(&c, sig, pub) != 0)
        return -1;
    dfota_ed25519_verify_update(&c, msg, len);
    return dfota_ed25519_verify_final(&c);
}
