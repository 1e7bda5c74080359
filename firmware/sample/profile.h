/* Temperature profiles: sequences of ramp-and-hold steps. */
#ifndef SAMPLE_PROFILE_H
#define SAMPLE_PROFILE_H

#include <stdint.h>

#include "fixmath.h"

#define PROFILE_MAX_STEPS 6

typedef struct {
    fix16_t target;       /* degC */
    fix16_t ramp_per_min; /* degC per minute, 0 = step change */
    uint16_t hold_min;    /* minutes at target */
} profile_step_t;

typedef struct {
    const char *name;
    const char *description;
    uint8_t step_count;
    profile_step_t steps[PROFILE_MAX_STEPS];
} profile_t;

int profile_start(const char *name);
void profile_stop(void);
int profile_active(void);
fix16_t profile_tick(uint32_t dt_ms, fix16_t measured, fix16_t fallback);
void profile_list(void);
void profile_print_status(void);
unsigned profile_count(void);

#endif
