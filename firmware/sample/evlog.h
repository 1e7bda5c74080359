/* Event log: the last EVLOG_DEPTH events with time stamps. */
#ifndef SAMPLE_EVLOG_H
#define SAMPLE_EVLOG_H

#include <stdint.h>

#define EVLOG_DEPTH 32

typedef enum {
    EV_BOOT = 0,
    EV_STATE,
    EV_ALARM,
    EV_ALARM_CLEAR,
    EV_SENSOR_FAULT,
    EV_SENSOR_OK,
    EV_CONFIG_CHANGED,
    EV_CONFIG_SAVED,
    EV_CONFIG_DEFAULTS,
    EV_COMMAND_ERROR,
    EV_FILTER,
#if SAMPLE_VERSION >= 3
    EV_TELEMETRY,
#endif
    EV_CODE_COUNT
} evlog_code_t;

typedef struct {
    uint32_t time_ms;
    uint16_t code;
    uint16_t seq;
    int32_t arg;
} evlog_entry_t;

void evlog_init(void);
void evlog_add(evlog_code_t code, int32_t arg);
unsigned evlog_count(void);
uint32_t evlog_total(void);
const evlog_entry_t *evlog_get(unsigned newest_index); /* 0 = newest */
const char *evlog_name(unsigned code);
void evlog_print(unsigned max);

#endif
