/*
 * Temperature channel: thermistor curve lookup with linear interpolation,
 * two-point calibration, statistics, and the simulated analogue front end.
 */
#include "sensor.h"

#include <string.h>

#include "tables.h"

/* Thermal model of the heated block. */
#define SIM_HEAT_RATE FIX(0.80)   /* degC per second at 100 % heater */
#define SIM_LOSS_RATE FIX(0.010)  /* per second, towards ambient */
#define SIM_HUM_CODES 2           /* mains hum amplitude in ADC codes */
#define SIM_NOISE_MASK 7u         /* noise of -3..+4 codes */

static fix16_t cal_offset;
static fix16_t cal_gain = FIX_ONE;
static sensor_stats_t stats;

static struct {
    fix16_t temperature;
    fix16_t ambient;
    fix16_t hum_phase;
    uint32_t lfsr;
    sensor_status_t fault;
} sim = { FIX(22.5), FIX(22.5), 0, 0xACE1u, SENSOR_OK };

void sensor_init(void)
{
    cal_offset = 0;
    cal_gain = FIX_ONE;
    sensor_stats_reset();
}

void sensor_set_calibration(fix16_t offset, fix16_t gain)
{
    cal_offset = offset;
    cal_gain = gain;
}

void sensor_get_calibration(fix16_t *offset, fix16_t *gain)
{
    *offset = cal_offset;
    *gain = cal_gain;
}

fix16_t sensor_adc_to_celsius(uint16_t code)
{
    if (code > SENSOR_ADC_MAX) {
        code = SENSOR_ADC_MAX;
    }
    unsigned idx = code / NTC_STEP;
    unsigned frac = code % NTC_STEP;
    int32_t a = ntc_curve_cdeg[idx];
    int32_t b = ntc_curve_cdeg[idx + 1];
    int32_t cdeg = a + (b - a) * (int32_t)frac / (int32_t)NTC_STEP;
    return (fix16_t)(((int64_t)cdeg * FIX_ONE) / 100);
}

uint16_t sensor_celsius_to_adc(fix16_t celsius)
{
    int32_t cdeg = (int32_t)(((int64_t)celsius * 100) / FIX_ONE);
    /* The curve falls with the code: find lo with curve[lo] >= t > curve[lo+1]. */
    unsigned lo = 0;
    unsigned hi = NTC_POINTS - 1;
    if (cdeg >= ntc_curve_cdeg[0]) {
        return 0;
    }
    if (cdeg <= ntc_curve_cdeg[NTC_POINTS - 1]) {
        return SENSOR_ADC_MAX;
    }
    while (hi - lo > 1) {
        unsigned mid = (lo + hi) / 2;
        if (ntc_curve_cdeg[mid] >= cdeg) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    int32_t a = ntc_curve_cdeg[lo];
    int32_t b = ntc_curve_cdeg[hi];
    int32_t code = (int32_t)(lo * NTC_STEP) + (a - cdeg) * (int32_t)NTC_STEP / (a - b);
    return (uint16_t)(code > (int32_t)SENSOR_ADC_MAX ? (int32_t)SENSOR_ADC_MAX : code);
}

static uint32_t sim_noise(void)
{
    /* 32-bit Galois LFSR, taps 32,22,2,1 */
    uint32_t lsb = sim.lfsr & 1u;
    sim.lfsr >>= 1;
    if (lsb) {
        sim.lfsr ^= 0x80200003u;
    }
    return sim.lfsr;
}

uint16_t sensor_adc_read(void)
{
    if (sim.fault == SENSOR_SHORT) {
        return 3;
    }
    if (sim.fault == SENSOR_OPEN) {
        return SENSOR_ADC_MAX;
    }
    int32_t code = sensor_celsius_to_adc(sim.temperature);
    sim.hum_phase += FIX(0.3);
    if (sim.hum_phase > FIX_TWO_PI) {
        sim.hum_phase -= FIX_TWO_PI;
    }
    code += fix_to_int(fix_sin(sim.hum_phase) * SIM_HUM_CODES);
    code += (int32_t)(sim_noise() & SIM_NOISE_MASK) - 3;
    if (code < 0) {
        code = 0;
    } else if (code > (int32_t)SENSOR_ADC_MAX) {
        code = SENSOR_ADC_MAX;
    }
    return (uint16_t)code;
}

sensor_status_t sensor_read(fix16_t *celsius)
{
    uint16_t code = sensor_adc_read();
    stats.last_adc = code;
    if (code < SENSOR_ADC_SHORT || code > SENSOR_ADC_OPEN) {
        stats.faults++;
        return code < SENSOR_ADC_SHORT ? SENSOR_SHORT : SENSOR_OPEN;
    }
    fix16_t t = fix_mul(sensor_adc_to_celsius(code), cal_gain) + cal_offset;
    if (stats.samples == 0 || t < stats.min) {
        stats.min = t;
    }
    if (stats.samples == 0 || t > stats.max) {
        stats.max = t;
    }
    stats.sum += t;
    stats.samples++;
    *celsius = t;
    return SENSOR_OK;
}

const sensor_stats_t *sensor_stats(void)
{
    return &stats;
}

fix16_t sensor_mean(void)
{
    return stats.samples ? (fix16_t)(stats.sum / stats.samples) : 0;
}

void sensor_stats_reset(void)
{
    memset(&stats, 0, sizeof stats);
}

void sensor_sim_step(fix16_t heater_percent, uint32_t dt_ms)
{
    fix16_t dt = (fix16_t)(((int64_t)dt_ms * FIX_ONE) / 1000);
    fix16_t heat = fix_mul(SIM_HEAT_RATE, heater_percent / 100);
    fix16_t loss = fix_mul(SIM_LOSS_RATE, sim.temperature - sim.ambient);
    sim.temperature += fix_mul(heat - loss, dt);
}

void sensor_sim_set_ambient(fix16_t celsius)
{
    sim.ambient = celsius;
}

void sensor_sim_fault(sensor_status_t fault)
{
    sim.fault = fault;
}

fix16_t sensor_sim_true_temperature(void)
{
    return sim.temperature;
}
