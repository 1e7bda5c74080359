/* Signal conditioning for the temperature channel (Q16.16 samples). */
#ifndef SAMPLE_FILTER_H
#define SAMPLE_FILTER_H

#include <stdbool.h>
#include <stdint.h>

#include "fixmath.h"
#include "tables.h"

#define MOVAVG_LEN 8
#define MEDIAN_LEN 5
#define RMS_LEN 16

typedef enum {
    FILTER_NONE = 0,
    FILTER_AVERAGE,
    FILTER_FIR,
    FILTER_IIR,
    FILTER_MEDIAN,
    FILTER_MODE_COUNT
} filter_mode_t;

typedef struct {
    fix16_t buf[MOVAVG_LEN];
    int64_t sum;
    uint8_t pos, count;
} movavg_t;

typedef struct {
    fix16_t hist[FIR_TAPS];
    uint8_t pos;
} fir_t;

#if SAMPLE_VERSION >= 2
typedef struct {
    fix16_t last;
    fix16_t max_step;
    uint16_t rejected;
    uint8_t primed;
    uint8_t run; /* consecutive rejections */
} despike_t;
#endif

typedef struct {
    const biquad_coeffs_t *c;
    fix16_t x1, x2, y1, y2;
} biquad_t;

typedef struct {
    fix16_t win[MEDIAN_LEN];
    uint8_t pos, count;
} median_t;

typedef struct {
    int32_t dev[RMS_LEN]; /* centi-degrees */
    uint8_t pos, count;
} rms_t;

typedef struct {
    filter_mode_t mode;
    movavg_t avg;
    fir_t fir;
#if SAMPLE_VERSION >= 2
    despike_t despike;
    bool despike_enabled;
#endif
    biquad_t iir;
    median_t median;
    rms_t rms;
    uint32_t noise_cdeg; /* RMS of input minus output */
    fix16_t last_out;
} filter_chain_t;

void movavg_init(movavg_t *f);
fix16_t movavg_update(movavg_t *f, fix16_t x);
void fir_init(fir_t *f);
fix16_t fir_update(fir_t *f, fix16_t x);
#if SAMPLE_VERSION >= 2
void despike_init(despike_t *f, fix16_t max_step);
fix16_t despike_update(despike_t *f, fix16_t x);
#endif
void biquad_init(biquad_t *f, unsigned preset);
fix16_t biquad_update(biquad_t *f, fix16_t x);
void median_init(median_t *f);
fix16_t median_update(median_t *f, fix16_t x);
#if SAMPLE_VERSION < 3
uint32_t isqrt32(uint32_t v);
#endif
void rms_init(rms_t *f);
uint32_t rms_update(rms_t *f, fix16_t x, fix16_t mean); /* centi-degrees */

void filter_chain_init(filter_chain_t *c, filter_mode_t mode, unsigned iir_preset);
fix16_t filter_chain_update(filter_chain_t *c, fix16_t x);
const char *filter_mode_name(filter_mode_t mode);
int filter_mode_parse(const char *name);

#endif
