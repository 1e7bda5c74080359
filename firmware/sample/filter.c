/*
 * Filters for the temperature channel: moving average, 31-tap FIR low-pass,
 * biquad low-pass presets, 5-point median and an RMS noise estimate.
 */
#include "filter.h"

#include <string.h>

/* ---- moving average ----------------------------------------------------- */

void movavg_init(movavg_t *f)
{
    memset(f, 0, sizeof *f);
}

fix16_t movavg_update(movavg_t *f, fix16_t x)
{
    if (f->count == MOVAVG_LEN) {
        f->sum -= f->buf[f->pos];
    } else {
        f->count++;
    }
    f->buf[f->pos] = x;
    f->sum += x;
    f->pos = (uint8_t)((f->pos + 1u) % MOVAVG_LEN);
    return (fix16_t)(f->sum / f->count);
}

/* ---- FIR ---------------------------------------------------------------- */

void fir_init(fir_t *f)
{
    memset(f, 0, sizeof *f);
}

fix16_t fir_update(fir_t *f, fix16_t x)
{
    f->hist[f->pos] = x;
    int64_t acc = 0;
    unsigned idx = f->pos;
    for (unsigned i = 0; i < FIR_TAPS; i++) {
        acc += (int64_t)fir_lowpass_q15[i] * f->hist[idx];
        idx = idx == 0 ? FIR_TAPS - 1u : idx - 1u;
    }
    f->pos = (uint8_t)((f->pos + 1u) % FIR_TAPS);
    return (fix16_t)((acc + (1 << 14)) >> 15);
}

#if SAMPLE_VERSION >= 2
/* ---- spike rejection (1.1.0) ---------------------------------------------
 * A sample that jumps by more than max_step from the last accepted one is
 * replaced by the last value, unless the jump persists for 3 samples (then
 * it is a real step and is accepted).
 */

void despike_init(despike_t *f, fix16_t max_step)
{
    memset(f, 0, sizeof *f);
    f->max_step = max_step;
}

fix16_t despike_update(despike_t *f, fix16_t x)
{
    if (!f->primed) {
        f->primed = 1;
        f->last = x;
        return x;
    }
    fix16_t step = fix_abs(x - f->last);
    if (step > f->max_step && f->run < 3) {
        f->run++;
        f->rejected++;
        return f->last;
    }
    f->run = 0;
    f->last = x;
    return x;
}
#endif

/* ---- biquad (direct form I, Q14 coefficients) ---------------------------- */

void biquad_init(biquad_t *f, unsigned preset)
{
    memset(f, 0, sizeof *f);
    f->c = &biquad_presets[preset < BIQUAD_PRESETS ? preset : BIQUAD_PRESETS - 1];
}

fix16_t biquad_update(biquad_t *f, fix16_t x)
{
    const biquad_coeffs_t *c = f->c;
    if (f->x1 == 0 && f->x2 == 0 && f->y1 == 0 && f->y2 == 0) {
        f->x1 = f->x2 = f->y1 = f->y2 = x; /* start settled */
    }
    int64_t acc = (int64_t)c->b0 * x + (int64_t)c->b1 * f->x1 + (int64_t)c->b2 * f->x2 -
                  (int64_t)c->a1 * f->y1 - (int64_t)c->a2 * f->y2;
    fix16_t y = (fix16_t)((acc + (1 << 13)) >> 14);
    f->x2 = f->x1;
    f->x1 = x;
    f->y2 = f->y1;
    f->y1 = y;
    return y;
}

/* ---- median ---------------------------------------------------------------- */

void median_init(median_t *f)
{
    memset(f, 0, sizeof *f);
}

fix16_t median_update(median_t *f, fix16_t x)
{
    fix16_t sorted[MEDIAN_LEN];
    f->win[f->pos] = x;
    f->pos = (uint8_t)((f->pos + 1u) % MEDIAN_LEN);
    if (f->count < MEDIAN_LEN) {
        f->count++;
    }
    unsigned n = f->count;
    memcpy(sorted, f->win, n * sizeof sorted[0]);
    for (unsigned i = 1; i < n; i++) {
        fix16_t v = sorted[i];
        unsigned j = i;
        while (j > 0 && sorted[j - 1] > v) {
            sorted[j] = sorted[j - 1];
            j--;
        }
        sorted[j] = v;
    }
    return sorted[n / 2];
}

/* ---- RMS noise -------------------------------------------------------------- */

#if SAMPLE_VERSION < 3
/* Integer square root, floor(sqrt(v)). */
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

void rms_init(rms_t *f)
{
    memset(f, 0, sizeof *f);
}

uint32_t rms_update(rms_t *f, fix16_t x, fix16_t mean)
{
    int32_t dev = (int32_t)(((int64_t)(x - mean) * 100) >> 16);
    if (dev > 16000) {
        dev = 16000;
    } else if (dev < -16000) {
        dev = -16000;
    }
    f->dev[f->pos] = dev;
    f->pos = (uint8_t)((f->pos + 1u) % RMS_LEN);
    if (f->count < RMS_LEN) {
        f->count++;
    }
    uint32_t sum = 0;
    for (unsigned i = 0; i < f->count; i++) {
        sum += (uint32_t)(f->dev[i] * f->dev[i]) / f->count;
    }
    return isqrt32(sum);
}

/* ---- chain ------------------------------------------------------------------ */

static const char *const filter_names[FILTER_MODE_COUNT] = {
    [FILTER_NONE] = "none", [FILTER_AVERAGE] = "avg", [FILTER_FIR] = "fir",
    [FILTER_IIR] = "iir",   [FILTER_MEDIAN] = "median",
};

void filter_chain_init(filter_chain_t *c, filter_mode_t mode, unsigned iir_preset)
{
    memset(c, 0, sizeof *c);
    c->mode = mode;
    movavg_init(&c->avg);
    fir_init(&c->fir);
#if SAMPLE_VERSION >= 2
    despike_init(&c->despike, FIX(5.0));
    c->despike_enabled = true;
#endif
    biquad_init(&c->iir, iir_preset);
    median_init(&c->median);
    rms_init(&c->rms);
}

fix16_t filter_chain_update(filter_chain_t *c, fix16_t x)
{
    fix16_t y;
#if SAMPLE_VERSION >= 2
    if (c->despike_enabled) {
        x = despike_update(&c->despike, x);
    }
#endif
    switch (c->mode) {
    case FILTER_AVERAGE:
        y = movavg_update(&c->avg, x);
        break;
    case FILTER_FIR:
        if (c->fir.hist[0] == 0 && c->fir.pos == 0) {
            for (unsigned i = 0; i < FIR_TAPS; i++) {
                c->fir.hist[i] = x; /* start settled */
            }
        }
        y = fir_update(&c->fir, x);
        break;
    case FILTER_IIR:
        y = biquad_update(&c->iir, x);
        break;
    case FILTER_MEDIAN:
        y = median_update(&c->median, x);
        break;
    default:
        y = x;
        break;
    }
    c->noise_cdeg = rms_update(&c->rms, x, y);
    c->last_out = y;
    return y;
}

const char *filter_mode_name(filter_mode_t mode)
{
    return (unsigned)mode < FILTER_MODE_COUNT ? filter_names[mode] : "?";
}

int filter_mode_parse(const char *name)
{
    for (int i = 0; i < FILTER_MODE_COUNT; i++) {
        if (strcmp(name, filter_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}
