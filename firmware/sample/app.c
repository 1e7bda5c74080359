/*
 * Thermostat application.
 *
 * Every sample: read the thermistor, condition the signal, check limits,
 * feed the state machine, run the PID controller when regulating and drive
 * the heater (simulated plant) and the LEDs.
 */
#include "app.h"

#include <stddef.h>

#include "config.h"
#include "evlog.h"
#include "filter.h"
#include "pid.h"
#include "profile.h"
#include "sensor.h"
#include "system.h"
#include "uart.h"
#if SAMPLE_VERSION >= 3
#include "telemetry.h"
#endif

#define SETPOINT_BAND FIX(1.5) /* |error| below which we call it "at set-point" */

typedef void (*action_fn)(void);

typedef struct {
    uint8_t from;
    uint8_t event;
    uint8_t to;
    action_fn action;
} transition_t;

static app_status_t st;
static fix16_t active_setpoint;
static filter_chain_t chain;
static pid_ctrl_t pid;

static void act_start(void);
static void act_heater_off(void);
static void act_alarm(void);
static void act_alarm_clear(void);
static void act_sensor_fault(void);

static const transition_t transitions[] = {
    { APP_IDLE, APP_EV_START, APP_HEATING, act_start },
    { APP_HEATING, APP_EV_AT_SETPOINT, APP_REGULATING, NULL },
    { APP_HEATING, APP_EV_STOP, APP_IDLE, act_heater_off },
    { APP_REGULATING, APP_EV_STOP, APP_IDLE, act_heater_off },
    { APP_HEATING, APP_EV_OVER_LIMIT, APP_ALARM, act_alarm },
    { APP_REGULATING, APP_EV_OVER_LIMIT, APP_ALARM, act_alarm },
    { APP_IDLE, APP_EV_OVER_LIMIT, APP_ALARM, act_alarm },
    { APP_ALARM, APP_EV_COOLED, APP_IDLE, act_alarm_clear },
    { APP_ALARM, APP_EV_STOP, APP_ALARM, act_heater_off },
    { APP_IDLE, APP_EV_SENSOR_FAIL, APP_FAULT, act_sensor_fault },
    { APP_HEATING, APP_EV_SENSOR_FAIL, APP_FAULT, act_sensor_fault },
    { APP_REGULATING, APP_EV_SENSOR_FAIL, APP_FAULT, act_sensor_fault },
    { APP_ALARM, APP_EV_SENSOR_FAIL, APP_FAULT, act_sensor_fault },
    { APP_FAULT, APP_EV_SENSOR_OK, APP_IDLE, NULL },
    { APP_FAULT, APP_EV_STOP, APP_FAULT, act_heater_off },
};

static const char *const state_names[APP_STATE_COUNT] = {
    "idle", "heating", "regulating", "ALARM", "FAULT",
};

static const char *const event_names[APP_EV_COUNT] = {
    "start", "stop", "at-setpoint", "over-limit", "cooled", "sensor-fail", "sensor-ok",
};

/* LED pattern per state: bit0 = heater, bit1 = alarm/fault. */
static const uint8_t state_leds[APP_STATE_COUNT] = { 0u, 1u, 1u, 2u, 3u };

static void act_start(void)
{
    pid_reset(&pid);
}

static void act_heater_off(void)
{
    st.heater = 0;
    pid_reset(&pid);
    profile_stop();
}

static void act_alarm(void)
{
    act_heater_off();
    st.alarms++;
    evlog_add(EV_ALARM, fix_to_int(st.temperature));
    uart_printf("\r\n** over-temperature %.1q degC (limit %.1q) **\r\n", st.temperature,
                config.alarm_high);
}

static void act_alarm_clear(void)
{
    evlog_add(EV_ALARM_CLEAR, fix_to_int(st.temperature));
}

static void act_sensor_fault(void)
{
    act_heater_off();
    evlog_add(EV_SENSOR_FAULT, sensor_stats()->last_adc);
}

int app_post(app_event_t ev)
{
    for (size_t i = 0; i < sizeof transitions / sizeof transitions[0]; i++) {
        const transition_t *t = &transitions[i];
        if (t->from == st.state && t->event == ev) {
            if (t->action) {
                t->action();
            }
            if (t->to != st.state) {
                evlog_add(EV_STATE, (int32_t)(t->from << 8 | t->to));
                st.state = (app_state_t)t->to;
                st.time_in_state_ms = 0;
                st.transitions++;
            }
            sys_led_set(state_leds[st.state]);
            return 0;
        }
    }
    return -1;
}

void app_apply_config(void)
{
    filter_chain_init(&chain, (filter_mode_t)config.filter_mode, config.iir_preset);
    sensor_set_calibration(config.cal_offset, config.cal_gain);
    pid_set_gains(&pid, config.kp, config.ki, config.kd);
}

void app_init(void)
{
    st.state = APP_IDLE;
    active_setpoint = config.setpoint;
    pid_init(&pid, config.kp, config.ki, config.kd, 0, FIX(100.0));
    app_apply_config();
    sys_led_set(state_leds[APP_IDLE]);
    if (config.autostart) {
        (void)app_post(APP_EV_START);
    }
}

void app_step(uint32_t dt_ms)
{
    fix16_t raw;
    sensor_status_t s = sensor_read(&raw);

    st.steps++;
    st.time_in_state_ms += dt_ms;
    int profile_was_running = profile_active();
    active_setpoint = profile_tick(dt_ms, st.temperature, config.setpoint);
    if (profile_was_running && !profile_active()) {
        (void)app_post(APP_EV_STOP); /* profile complete: heater off */
    }
    if (s != SENSOR_OK) {
        (void)app_post(APP_EV_SENSOR_FAIL);
    } else {
        st.raw = raw;
        st.temperature = filter_chain_update(&chain, raw);
        st.noise_cdeg = chain.noise_cdeg;
        if (st.state == APP_FAULT) {
            (void)app_post(APP_EV_SENSOR_OK);
        }
        if (st.temperature >= config.alarm_high) {
            (void)app_post(APP_EV_OVER_LIMIT);
        } else if (st.state == APP_ALARM &&
                   st.temperature < config.alarm_high - config.alarm_hyst) {
            (void)app_post(APP_EV_COOLED);
        }
        if (st.state == APP_HEATING &&
            fix_abs(active_setpoint - st.temperature) < SETPOINT_BAND) {
            (void)app_post(APP_EV_AT_SETPOINT);
        }
    }

    if (st.state == APP_HEATING || st.state == APP_REGULATING) {
        fix16_t dt = (fix16_t)(((int64_t)dt_ms * FIX_ONE) / 1000);
        st.heater = pid_update(&pid, active_setpoint, st.temperature, dt);
    } else {
        st.heater = 0;
    }
    sensor_sim_step(st.heater, dt_ms);

    if (config.verbose) {
        uart_printf("t=%lu raw=%.2q filt=%.2q heater=%.1q%% %s\r\n", (unsigned long)st.steps,
                    st.raw, st.temperature, st.heater, app_state_name(st.state));
    }
#if SAMPLE_VERSION >= 3
    telemetry_sample(&st);
#endif
}

const app_status_t *app_status(void)
{
    return &st;
}

const char *app_state_name(app_state_t s)
{
    return (unsigned)s < APP_STATE_COUNT ? state_names[s] : "?";
}

const char *app_event_name(app_event_t e)
{
    return (unsigned)e < APP_EV_COUNT ? event_names[e] : "?";
}

void app_print_status(void)
{
    const sensor_stats_t *ss = sensor_stats();
    uart_printf("state      %s (%lu ms)\r\n", app_state_name(st.state),
                (unsigned long)st.time_in_state_ms);
    uart_printf("temp       %.2q degC (raw %.2q, adc %u, noise %u.%02u)\r\n", st.temperature,
                st.raw, (unsigned)ss->last_adc, (unsigned)(st.noise_cdeg / 100u),
                (unsigned)(st.noise_cdeg % 100u));
    uart_printf("setpoint   %.2q degC%s, alarm at %.2q (hyst %.2q)\r\n",
                profile_active() ? active_setpoint : config.setpoint,
                profile_active() ? " (profile)" : "", config.alarm_high, config.alarm_hyst);
    uart_printf("heater     %.1q %% (P %.2q I %.2q D %.2q)\r\n", st.heater, pid.p_term,
                pid.i_term, pid.d_term);
    uart_printf("filter     %s, steps %lu, alarms %lu, transitions %lu\r\n",
                filter_mode_name(chain.mode), (unsigned long)st.steps, (unsigned long)st.alarms,
                (unsigned long)st.transitions);
}
