/*
 * Q16.16 fixed-point arithmetic: saturating multiply and divide, square
 * root, sine/cosine from a quarter-wave table, CORDIC atan2, exp and log2.
 */
#include "fixmath.h"

#include "tables.h"

fix16_t fix_add_sat(fix16_t a, fix16_t b)
{
    int64_t s = (int64_t)a + b;
    if (s > FIX_MAX) {
        return FIX_MAX;
    }
    if (s < FIX_MIN) {
        return FIX_MIN;
    }
    return (fix16_t)s;
}

static fix16_t saturate64(int64_t v)
{
    if (v > FIX_MAX) {
        return FIX_MAX;
    }
    if (v < (int64_t)FIX_MIN) {
        return FIX_MIN;
    }
    return (fix16_t)v;
}

fix16_t fix_mul(fix16_t a, fix16_t b)
{
    int64_t p = (int64_t)a * b;
    p += (p >= 0) ? 0x8000 : 0x7FFF; /* round to nearest */
    return saturate64(p >> 16);
}

fix16_t fix_div(fix16_t a, fix16_t b)
{
    if (b == 0) {
        return a >= 0 ? FIX_MAX : FIX_MIN;
    }
    int64_t n = (int64_t)a * 65536;
    int64_t q = n / b;
    int64_t r = n % b;
    /* round half away from zero */
    if (2 * (r < 0 ? -r : r) >= (b < 0 ? -(int64_t)b : b)) {
        q += ((n < 0) != (b < 0)) ? -1 : 1;
    }
    return saturate64(q);
}

fix16_t fix_clamp(fix16_t v, fix16_t lo, fix16_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

fix16_t fix_lerp(fix16_t a, fix16_t b, fix16_t t)
{
    return a + fix_mul(b - a, t);
}

#if SAMPLE_VERSION >= 3
/* Integer square root, floor(sqrt(v)). Moved here from filter.c in 1.2.0. */
uint32_t isqrt32(uint32_t v)
{
    uint32_t res = 0;
    uint32_t bit = 1u << 30;
    while (bit > v) {
        bit >>= 2;
    }
    while (bit != 0) {
        if (v >= res + bit) {
            v -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    return res;
}
#endif

static uint32_t isqrt64(uint64_t v)
{
    uint64_t res = 0;
    uint64_t bit = 1ull << 62;
    while (bit > v) {
        bit >>= 2;
    }
    while (bit != 0) {
        if (v >= res + bit) {
            v -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    return (uint32_t)res;
}

fix16_t fix_sqrt(fix16_t v)
{
    if (v <= 0) {
        return 0;
    }
    return (fix16_t)isqrt64((uint64_t)(uint32_t)v << 16);
}

/* Angle in Q16.16 radians -> sine in Q16.16 using the quarter-wave table. */
fix16_t fix_sin(fix16_t rad)
{
    /* Map to a 0..1024 "quadrant units" phase with 16 extra fraction bits. */
    int64_t phase = ((int64_t)rad * (4 * SINE_TABLE_SIZE) * 65536) / FIX_TWO_PI; /* Q16.16 */
    int32_t units = (int32_t)(phase % (4 * SINE_TABLE_SIZE * 65536LL));
    if (units < 0) {
        units += 4 * SINE_TABLE_SIZE * 65536;
    }
    int32_t quadrant = units / (SINE_TABLE_SIZE * 65536);
    int32_t within = units % (SINE_TABLE_SIZE * 65536); /* 0 .. 256 << 16 */
    if (quadrant & 1) {
        within = SINE_TABLE_SIZE * 65536 - within;
    }
    int32_t idx = within >> 16;
    int32_t frac = within & 0xFFFF;
    int32_t a = sine_q15_quarter[idx];
    int32_t b = sine_q15_quarter[idx < SINE_TABLE_SIZE ? idx + 1 : idx];
    int32_t q15 = a + (int32_t)(((int64_t)(b - a) * frac) >> 16);
    fix16_t r = (q15 * 2) + (q15 >> 14); /* Q15 -> Q16 with 32767 -> 65536 */
    return (quadrant >= 2) ? -r : r;
}

fix16_t fix_cos(fix16_t rad)
{
    return fix_sin(rad + FIX_HALF_PI);
}

/* CORDIC vectoring: rotate (x, y) onto the x axis, summing the angles. */
fix16_t fix_atan2(fix16_t y, fix16_t x)
{
    if (x == 0 && y == 0) {
        return 0;
    }
    fix16_t offset = 0;
    if (x < 0) {
        offset = (y >= 0) ? FIX_PI : -FIX_PI;
        x = -x;
        y = -y;
    }
    /* Scale down to keep headroom for the gain of ~1.647. */
    int32_t xs = x >> 2;
    int32_t ys = y >> 2;
    fix16_t angle = 0;
    for (int i = 0; i < CORDIC_STEPS; i++) {
        int32_t xn;
        if (ys > 0) {
            xn = xs + (ys >> i);
            ys = ys - (xs >> i);
            angle += cordic_atan_q16[i];
        } else {
            xn = xs - (ys >> i);
            ys = ys + (xs >> i);
            angle -= cordic_atan_q16[i];
        }
        xs = xn;
    }
    fix16_t r = angle + offset;
    if (r > FIX_PI) {
        r -= FIX_TWO_PI;
    } else if (r < -FIX_PI) {
        r += FIX_TWO_PI;
    }
    return r;
}

/* e^x: x = k*ln2 + r with |r| <= ln2/2, Taylor series for e^r, then 2^k. */
fix16_t fix_exp(fix16_t x)
{
    if (x >= FIX(10.3972)) {
        return FIX_MAX;
    }
    if (x <= FIX(-11.7835)) {
        return 0;
    }
    int32_t k = fix_to_int(fix_div(x, FIX_LN2));
    fix16_t r = x - k * FIX_LN2;
    fix16_t term = FIX_ONE;
    fix16_t sum = FIX_ONE;
    for (int n = 1; n < 10; n++) {
        term = fix_mul(term, r) / n;
        sum += term;
        if (term == 0) {
            break;
        }
    }
    if (k >= 0) {
        return saturate64((int64_t)sum << k);
    }
    return sum >> -k;
}

/* log2 by normalisation plus repeated squaring for the fraction bits. */
fix16_t fix_log2(fix16_t x)
{
    if (x <= 0) {
        return FIX_MIN;
    }
    int32_t result = 0;
    uint32_t v = (uint32_t)x;
    while (v >= 2u * FIX_ONE) {
        result += FIX_ONE;
        v >>= 1;
    }
    while (v < (uint32_t)FIX_ONE) {
        result -= FIX_ONE;
        v <<= 1;
    }
    for (int32_t bit = FIX_HALF; bit > 0; bit >>= 1) {
        v = (uint32_t)(((uint64_t)v * v) >> 16);
        if (v >= 2u * FIX_ONE) {
            v >>= 1;
            result += bit;
        }
    }
    return result;
}

fix16_t fix_ln(fix16_t x)
{
    return fix_mul(fix_log2(x), FIX_LN2);
}

int fix_parse(const char *s, fix16_t *out)
{
    int negative = 0;
    uint32_t ipart = 0;
    uint32_t fnum = 0;
    uint32_t fden = 1;
    int digits = 0;

    if (*s == '-' || *s == '+') {
        negative = (*s == '-');
        s++;
    }
    while (*s >= '0' && *s <= '9') {
        ipart = ipart * 10u + (uint32_t)(*s++ - '0');
        if (ipart > 32767u) {
            return -1;
        }
        digits++;
    }
    if (*s == '.') {
        s++;
        while (*s >= '0' && *s <= '9') {
            if (fden < 100000u) {
                fnum = fnum * 10u + (uint32_t)(*s - '0');
                fden *= 10u;
            }
            s++;
            digits++;
        }
    }
    if (*s != '\0' || digits == 0) {
        return -1;
    }
    uint32_t frac = (uint32_t)(((uint64_t)fnum * 65536u + fden / 2u) / fden);
    int32_t v = (int32_t)((ipart << 16) + frac);
    *out = negative ? -v : v;
    return 0;
}
