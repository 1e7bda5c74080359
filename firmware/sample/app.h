/* Thermostat application: state machine, control loop, status. */
#ifndef SAMPLE_APP_H
#define SAMPLE_APP_H

#include <stdint.h>

#include "fixmath.h"

typedef enum {
    APP_IDLE = 0,
    APP_HEATING,
    APP_REGULATING,
    APP_ALARM,
    APP_FAULT,
    APP_STATE_COUNT
} app_state_t;

typedef enum {
    APP_EV_START = 0,
    APP_EV_STOP,
    APP_EV_AT_SETPOINT,
    APP_EV_OVER_LIMIT,
    APP_EV_COOLED,
    APP_EV_SENSOR_FAIL,
    APP_EV_SENSOR_OK,
    APP_EV_COUNT
} app_event_t;

typedef struct {
    app_state_t state;
    fix16_t temperature; /* filtered */
    fix16_t raw;
    fix16_t heater;      /* percent */
    uint32_t steps;
    uint32_t time_in_state_ms;
    uint32_t alarms;
    uint32_t transitions;
    uint32_t noise_cdeg;
} app_status_t;

void app_init(void);
void app_apply_config(void);
void app_step(uint32_t dt_ms);
int app_post(app_event_t ev); /* 0 if handled, -1 if ignored in this state */
const app_status_t *app_status(void);
const char *app_state_name(app_state_t s);
const char *app_event_name(app_event_t e);
void app_print_status(void);

#endif
