/*
 * Configuration. The live copy is `config`; `config_save` seals it with a
 * CRC-32 into a backup area that survives warm resets (standing in for the
 * EEPROM emulation of a real part), `config_load` takes it back if intact.
 */
#include "config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "crc.h"
#include "evlog.h"
#include "filter.h"
#include "uart.h"

typedef enum { P_U32, P_U8, P_FIX, P_BOOL, P_FILTER } param_type_t;

typedef struct {
    const char *name;
    param_type_t type;
    uint16_t offset;
    int32_t min, max; /* integer units or Q16.16 */
    const char *help;
} param_t;

#define P(n, t, field, lo, hi, h) { n, t, offsetof(config_t, field), lo, hi, h }

static const param_t params[] = {
    P("sample_ms", P_U32, sample_ms, 10, 10000, "sample period in ms"),
    P("setpoint", P_FIX, setpoint, FIX(0.0), FIX(120.0), "target temperature, degC"),
    P("alarm_high", P_FIX, alarm_high, FIX(20.0), FIX(125.0), "over-temperature alarm, degC"),
    P("alarm_hyst", P_FIX, alarm_hyst, FIX(0.5), FIX(20.0), "alarm hysteresis, degC"),
    P("cal_offset", P_FIX, cal_offset, FIX(-10.0), FIX(10.0), "calibration offset, degC"),
    P("cal_gain", P_FIX, cal_gain, FIX(0.5), FIX(1.5), "calibration gain"),
    P("kp", P_FIX, kp, FIX(0.0), FIX(100.0), "proportional gain, %/degC"),
    P("ki", P_FIX, ki, FIX(0.0), FIX(10.0), "integral gain, %/(degC*s)"),
    P("kd", P_FIX, kd, FIX(0.0), FIX(100.0), "derivative gain, %*s/degC"),
    P("baud", P_U32, baud, 1200, 921600, "console baud rate"),
    P("filter", P_FILTER, filter_mode, 0, FILTER_MODE_COUNT - 1, "none|avg|fir|iir|median"),
    P("iir_preset", P_U8, iir_preset, 0, BIQUAD_PRESETS - 1, "IIR cut-off preset 0..4"),
    P("verbose", P_BOOL, verbose, 0, 1, "print every sample"),
    P("autostart", P_BOOL, autostart, 0, 1, "start regulating at boot"),
#if SAMPLE_VERSION >= 3
    P("telemetry", P_BOOL, telemetry, 0, 1, "binary telemetry frames on the console"),
    P("telem_every", P_U8, telemetry_every, 1, 100, "samples per telemetry frame"),
#endif
};

#define PARAM_COUNT (sizeof params / sizeof params[0])

config_t config;
static config_t backup __attribute__((section(".noinit")));

static const config_t defaults = {
    .magic = CONFIG_MAGIC,
    .layout = SAMPLE_VERSION,
    .size = sizeof(config_t),
    .sample_ms = 100,
    .setpoint = FIX(60.0),
    .alarm_high = CONFIG_ALARM_HIGH_DEFAULT,
    .alarm_hyst = FIX(3.0),
    .cal_offset = 0,
    .cal_gain = FIX_ONE,
    .kp = FIX(12.0),
    .ki = FIX(0.15),
    .kd = FIX(4.0),
    .baud = 115200,
    .filter_mode = FILTER_IIR,
    .iir_preset = 3,
    .verbose = 0,
    .autostart = 1,
#if SAMPLE_VERSION >= 3
    .telemetry = 0,
    .telemetry_every = 10,
#endif
};

void config_defaults(config_t *cfg)
{
    *cfg = defaults;
    cfg->crc = config_crc(cfg);
}

uint32_t config_crc(const config_t *cfg)
{
    return crc32(cfg, offsetof(config_t, crc));
}

static const param_t *find_param(const char *name)
{
    for (size_t i = 0; i < PARAM_COUNT; i++) {
        if (strcmp(params[i].name, name) == 0) {
            return &params[i];
        }
    }
    return NULL;
}

static int32_t param_get(const config_t *cfg, const param_t *p)
{
    const uint8_t *base = (const uint8_t *)cfg + p->offset;
    switch (p->type) {
    case P_U32:
    case P_FIX: {
        int32_t v;
        memcpy(&v, base, sizeof v);
        return v;
    }
    default:
        return *base;
    }
}

static void param_put(config_t *cfg, const param_t *p, int32_t v)
{
    uint8_t *base = (uint8_t *)cfg + p->offset;
    switch (p->type) {
    case P_U32:
    case P_FIX:
        memcpy(base, &v, sizeof v);
        break;
    default:
        *base = (uint8_t)v;
        break;
    }
}

bool config_valid(const config_t *cfg)
{
    if (cfg->magic != CONFIG_MAGIC || cfg->size != sizeof(config_t) ||
        cfg->layout != SAMPLE_VERSION || cfg->crc != config_crc(cfg)) {
        return false;
    }
    for (size_t i = 0; i < PARAM_COUNT; i++) {
        int32_t v = param_get(cfg, &params[i]);
        if (v < params[i].min || v > params[i].max) {
            return false;
        }
    }
    return true;
}

void config_load(void)
{
    if (config_valid(&backup)) {
        config = backup;
    } else {
        config_defaults(&config);
        evlog_add(EV_CONFIG_DEFAULTS, 0);
    }
}

void config_save(void)
{
    config.crc = config_crc(&config);
    backup = config;
    evlog_add(EV_CONFIG_SAVED, (int32_t)config.crc);
}

static int parse_bool(const char *s)
{
    static const char *const yes[] = { "1", "on", "yes", "true" };
    static const char *const no[] = { "0", "off", "no", "false" };
    for (unsigned i = 0; i < 4; i++) {
        if (strcmp(s, yes[i]) == 0) {
            return 1;
        }
        if (strcmp(s, no[i]) == 0) {
            return 0;
        }
    }
    return -1;
}

config_result_t config_set(const char *name, const char *value)
{
    const param_t *p = find_param(name);
    if (p == NULL) {
        return CONFIG_UNKNOWN;
    }
    int32_t v;
    switch (p->type) {
    case P_U32:
    case P_U8: {
        char *end;
        unsigned long u = strtoul(value, &end, 0);
        if (*value == '\0' || *end != '\0' || u > 0x7FFFFFFFul) {
            return CONFIG_BAD_VALUE;
        }
        v = (int32_t)u;
        break;
    }
    case P_FIX:
        if (fix_parse(value, &v) != 0) {
            return CONFIG_BAD_VALUE;
        }
        break;
    case P_BOOL:
        v = parse_bool(value);
        if (v < 0) {
            return CONFIG_BAD_VALUE;
        }
        break;
    case P_FILTER:
        v = filter_mode_parse(value);
        if (v < 0) {
            return CONFIG_BAD_VALUE;
        }
        break;
    default:
        return CONFIG_BAD_VALUE;
    }
    if (v < p->min || v > p->max) {
        return CONFIG_OUT_OF_RANGE;
    }
    param_put(&config, p, v);
    config.crc = config_crc(&config);
    evlog_add(EV_CONFIG_CHANGED, (int32_t)(p - params));
    return CONFIG_OK;
}

static void print_param(const param_t *p)
{
    int32_t v = param_get(&config, p);
    uart_printf("  %-12s = ", p->name);
    switch (p->type) {
    case P_FIX:
        uart_printf("%-10.3q", v);
        break;
    case P_BOOL:
        uart_printf("%-10s", v ? "on" : "off");
        break;
    case P_FILTER:
        uart_printf("%-10s", filter_mode_name((filter_mode_t)v));
        break;
    default:
        uart_printf("%-10ld", (long)v);
        break;
    }
    uart_printf("  # %s\r\n", p->help);
}

int config_print(const char *name)
{
    if (name != NULL) {
        const param_t *p = find_param(name);
        if (p == NULL) {
            return -1;
        }
        print_param(p);
        return 0;
    }
    for (size_t i = 0; i < PARAM_COUNT; i++) {
        print_param(&params[i]);
    }
    uart_printf("  crc %08lx%s\r\n", (unsigned long)config.crc,
                config_valid(&backup) && backup.crc == config.crc ? " (saved)" : " (unsaved)");
    return 0;
}

const char *config_result_text(config_result_t r)
{
    switch (r) {
    case CONFIG_OK:
        return "ok";
    case CONFIG_UNKNOWN:
        return "unknown parameter";
    case CONFIG_BAD_VALUE:
        return "bad value";
    case CONFIG_OUT_OF_RANGE:
        return "out of range";
    }
    return "?";
}
