/* Q16.16 fixed-point arithmetic. */
#ifndef SAMPLE_FIXMATH_H
#define SAMPLE_FIXMATH_H

#include <stdint.h>

typedef int32_t fix16_t;

#define FIX_ONE ((fix16_t)0x00010000)
#define FIX_HALF ((fix16_t)0x00008000)
#define FIX_MAX ((fix16_t)0x7FFFFFFF)
#define FIX_MIN ((fix16_t)0x80000000)
#define FIX_PI ((fix16_t)205887)     /* 3.14159 */
#define FIX_TWO_PI ((fix16_t)411775)
#define FIX_HALF_PI ((fix16_t)102944)
#define FIX_LN2 ((fix16_t)45426)
#define FIX_E ((fix16_t)178145)

/* Compile-time conversion of a decimal constant. */
#define FIX(x) ((fix16_t)((x) * 65536.0 + ((x) >= 0 ? 0.5 : -0.5)))

static inline fix16_t fix_from_int(int32_t v)
{
    return (fix16_t)((uint32_t)v << 16);
}

static inline int32_t fix_to_int(fix16_t v)
{
    return (v >= 0) ? (v + FIX_HALF) >> 16 : -((-v + FIX_HALF) >> 16);
}

static inline fix16_t fix_abs(fix16_t v)
{
    return v < 0 ? -v : v;
}

fix16_t fix_add_sat(fix16_t a, fix16_t b);
fix16_t fix_mul(fix16_t a, fix16_t b);
fix16_t fix_div(fix16_t a, fix16_t b);
fix16_t fix_clamp(fix16_t v, fix16_t lo, fix16_t hi);
fix16_t fix_lerp(fix16_t a, fix16_t b, fix16_t t);
fix16_t fix_sqrt(fix16_t v);
fix16_t fix_sin(fix16_t rad);
fix16_t fix_cos(fix16_t rad);
fix16_t fix_atan2(fix16_t y, fix16_t x);
fix16_t fix_exp(fix16_t x);
fix16_t fix_log2(fix16_t x);
fix16_t fix_ln(fix16_t x);

/* Parses "[-]123[.456]"; returns 0 and sets *out on success, -1 on error. */
int fix_parse(const char *s, fix16_t *out);

#if SAMPLE_VERSION >= 3
uint32_t isqrt32(uint32_t v);
#endif

#endif
