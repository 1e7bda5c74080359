/*
 * Temperature profiles. While a profile runs it owns the set-point: each
 * step ramps the set-point at a limited rate towards the step's target,
 * waits until the block is there, holds for the given time, then moves on.
 */
#include "profile.h"

#include <string.h>

#include "uart.h"

#define PROFILE_ARRIVED_BAND FIX(2.0)

static const profile_t profiles[] = {
    { "dry", "filament drying, 55 degC for 4 h", 2,
      { { FIX(55.0), FIX(5.0), 240 }, { FIX(30.0), FIX(2.0), 0 } } },
    { "anneal", "PETG annealing with slow cool-down", 4,
      { { FIX(70.0), FIX(3.0), 30 }, { FIX(75.0), FIX(0.5), 60 },
        { FIX(60.0), FIX(0.5), 0 }, { FIX(40.0), FIX(1.0), 0 } } },
    { "cure", "epoxy post-cure", 3,
      { { FIX(40.0), FIX(1.0), 60 }, { FIX(65.0), FIX(0.5), 120 }, { FIX(30.0), FIX(0.5), 0 } } },
    { "burnin", "burn-in cycling 35/70 degC", 6,
      { { FIX(70.0), 0, 20 }, { FIX(35.0), 0, 20 }, { FIX(70.0), 0, 20 },
        { FIX(35.0), 0, 20 }, { FIX(70.0), 0, 20 }, { FIX(25.0), 0, 0 } } },
    { "calcheck", "calibration plateaus at 30/50/70 degC", 3,
      { { FIX(30.0), FIX(10.0), 10 }, { FIX(50.0), FIX(10.0), 10 }, { FIX(70.0), FIX(10.0), 10 } } },
};

#define PROFILE_COUNT (sizeof profiles / sizeof profiles[0])

typedef enum { PHASE_RAMP, PHASE_SETTLE, PHASE_HOLD } phase_t;

static struct {
    const profile_t *p;
    uint8_t step;
    phase_t phase;
    fix16_t setpoint;
    uint32_t hold_left_ms;
    uint32_t elapsed_ms;
} run;

unsigned profile_count(void)
{
    return PROFILE_COUNT;
}

int profile_start(const char *name)
{
    for (unsigned i = 0; i < PROFILE_COUNT; i++) {
        if (strcmp(profiles[i].name, name) == 0) {
            memset(&run, 0, sizeof run);
            run.p = &profiles[i];
            run.setpoint = FIX_MIN; /* taken from the first tick */
            return 0;
        }
    }
    return -1;
}

void profile_stop(void)
{
    run.p = NULL;
}

int profile_active(void)
{
    return run.p != NULL;
}

fix16_t profile_tick(uint32_t dt_ms, fix16_t measured, fix16_t fallback)
{
    if (run.p == NULL) {
        return fallback;
    }
    const profile_step_t *s = &run.p->steps[run.step];
    if (run.setpoint == FIX_MIN) {
        run.setpoint = measured;
    }
    run.elapsed_ms += dt_ms;

    switch (run.phase) {
    case PHASE_RAMP:
        if (s->ramp_per_min == 0) {
            run.setpoint = s->target;
        } else {
            fix16_t delta = (fix16_t)(((int64_t)s->ramp_per_min * dt_ms) / 60000);
            if (run.setpoint < s->target) {
                run.setpoint = run.setpoint + delta > s->target ? s->target : run.setpoint + delta;
            } else {
                run.setpoint = run.setpoint - delta < s->target ? s->target : run.setpoint - delta;
            }
        }
        if (run.setpoint == s->target) {
            run.phase = PHASE_SETTLE;
        }
        break;
    case PHASE_SETTLE:
        if (fix_abs(measured - s->target) < PROFILE_ARRIVED_BAND) {
            run.phase = PHASE_HOLD;
            run.hold_left_ms = s->hold_min * 60000u;
        }
        break;
    case PHASE_HOLD:
        run.hold_left_ms = run.hold_left_ms > dt_ms ? run.hold_left_ms - dt_ms : 0;
        if (run.hold_left_ms == 0) {
            if (run.step + 1u < run.p->step_count) {
                run.step++;
                run.phase = PHASE_RAMP;
            } else {
                uart_printf("profile %s finished after %lu min\r\n", run.p->name,
                            (unsigned long)(run.elapsed_ms / 60000u));
                run.p = NULL;
            }
        }
        break;
    }
    return run.setpoint;
}

void profile_list(void)
{
    for (unsigned i = 0; i < PROFILE_COUNT; i++) {
        const profile_t *p = &profiles[i];
        uint32_t hold = 0;
        for (unsigned k = 0; k < p->step_count; k++) {
            hold += p->steps[k].hold_min;
        }
        uart_printf("  %-9s %u steps, %3lu min hold  %s\r\n", p->name, (unsigned)p->step_count,
                    (unsigned long)hold, p->description);
    }
}

void profile_print_status(void)
{
    static const char *const phase_names[] = { "ramp", "settle", "hold" };
    if (run.p == NULL) {
        uart_puts("no profile running\r\n");
        return;
    }
    const profile_step_t *s = &run.p->steps[run.step];
    uart_printf("profile %s step %u/%u: %s to %.1q degC, set-point %.2q, %lu s left, %lu s total\r\n",
                run.p->name, (unsigned)run.step + 1u, (unsigned)run.p->step_count,
                phase_names[run.phase], s->target, run.setpoint,
                (unsigned long)(run.hold_left_ms / 1000u), (unsigned long)(run.elapsed_ms / 1000u));
}
