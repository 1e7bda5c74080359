/*
 * Temperature channel: a 12-bit ADC reading an NTC thermistor divider.
 * The MPS2 has no ADC, so the front end is simulated here (a first-order
 * thermal model of a heated block, mains hum and noise); everything from
 * the ADC code upwards is the real conversion path.
 */
#ifndef SAMPLE_SENSOR_H
#define SAMPLE_SENSOR_H

#include <stdint.h>

#include "fixmath.h"

#define SENSOR_ADC_MAX 4095u
#define SENSOR_ADC_SHORT 16u   /* below: thermistor shorted */
#define SENSOR_ADC_OPEN 4080u  /* above: thermistor open */

typedef enum {
    SENSOR_OK = 0,
    SENSOR_SHORT = -1,
    SENSOR_OPEN = -2,
} sensor_status_t;

typedef struct {
    uint32_t samples;
    uint32_t faults;
    fix16_t min, max;
    int64_t sum;
    uint16_t last_adc;
} sensor_stats_t;

void sensor_init(void);
void sensor_set_calibration(fix16_t offset, fix16_t gain);
void sensor_get_calibration(fix16_t *offset, fix16_t *gain);
fix16_t sensor_adc_to_celsius(uint16_t code);
uint16_t sensor_celsius_to_adc(fix16_t celsius);
uint16_t sensor_adc_read(void);
sensor_status_t sensor_read(fix16_t *celsius);
const sensor_stats_t *sensor_stats(void);
fix16_t sensor_mean(void);
void sensor_stats_reset(void);

/* Simulation of the physical side. */
void sensor_sim_step(fix16_t heater_percent, uint32_t dt_ms);
void sensor_sim_set_ambient(fix16_t celsius);
void sensor_sim_fault(sensor_status_t fault);
fix16_t sensor_sim_true_temperature(void);

#endif
