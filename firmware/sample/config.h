/* Device configuration: defaults, named parameters, CRC-protected copy. */
#ifndef SAMPLE_CONFIG_H
#define SAMPLE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "fixmath.h"

#define CONFIG_MAGIC 0x43464731u /* "CFG1" */

#if SAMPLE_VERSION >= 2
#define CONFIG_ALARM_HIGH_DEFAULT FIX(80.0) /* 1.1.0: lowered after field reports */
#else
#define CONFIG_ALARM_HIGH_DEFAULT FIX(85.0)
#endif

typedef struct {
    uint32_t magic;
    uint16_t layout;
    uint16_t size;
    uint32_t sample_ms;
    fix16_t setpoint;
    fix16_t alarm_high;
    fix16_t alarm_hyst;
    fix16_t cal_offset;
    fix16_t cal_gain;
    fix16_t kp, ki, kd;
    uint32_t baud;
    uint8_t filter_mode;
    uint8_t iir_preset;
    uint8_t verbose;
    uint8_t autostart;
#if SAMPLE_VERSION >= 3
    uint8_t telemetry;
    uint8_t telemetry_every;
    uint16_t reserved;
#endif
    uint32_t crc;
} config_t;

typedef enum {
    CONFIG_OK = 0,
    CONFIG_UNKNOWN = -1,
    CONFIG_BAD_VALUE = -2,
    CONFIG_OUT_OF_RANGE = -3,
} config_result_t;

extern config_t config;

void config_defaults(config_t *cfg);
bool config_valid(const config_t *cfg);
uint32_t config_crc(const config_t *cfg);
void config_load(void);
void config_save(void);
config_result_t config_set(const char *name, const char *value);
int config_print(const char *name); /* NULL: all; returns -1 if unknown */
const char *config_result_text(config_result_t r);

#endif
