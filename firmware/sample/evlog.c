/*
 * Event log kept in RAM as a ring of fixed-size entries.
 */
#include "evlog.h"

#include "board.h"
#include "system.h"
#include "uart.h"

static evlog_entry_t entries[EVLOG_DEPTH];
static unsigned head;
static unsigned used;
static uint32_t total;

static const char *const names[EV_CODE_COUNT] = {
    [EV_BOOT] = "boot",
    [EV_STATE] = "state",
    [EV_ALARM] = "alarm",
    [EV_ALARM_CLEAR] = "alarm-clear",
    [EV_SENSOR_FAULT] = "sensor-fault",
    [EV_SENSOR_OK] = "sensor-ok",
    [EV_CONFIG_CHANGED] = "config",
    [EV_CONFIG_SAVED] = "config-saved",
    [EV_CONFIG_DEFAULTS] = "config-defaults",
    [EV_COMMAND_ERROR] = "cmd-error",
    [EV_FILTER] = "filter",
#if SAMPLE_VERSION >= 3
    [EV_TELEMETRY] = "telemetry",
#endif
};

void evlog_init(void)
{
    head = 0;
    used = 0;
    total = 0;
}

void evlog_add(evlog_code_t code, int32_t arg)
{
    uint32_t primask = irq_save();
    evlog_entry_t *e = &entries[head];
    e->time_ms = sys_millis();
    e->code = (uint16_t)code;
    e->seq = (uint16_t)total;
    e->arg = arg;
    head = (head + 1u) % EVLOG_DEPTH;
    if (used < EVLOG_DEPTH) {
        used++;
    }
    total++;
    irq_restore(primask);
}

unsigned evlog_count(void)
{
    return used;
}

uint32_t evlog_total(void)
{
    return total;
}

const evlog_entry_t *evlog_get(unsigned newest_index)
{
    if (newest_index >= used) {
        return 0;
    }
    unsigned idx = (head + EVLOG_DEPTH - 1u - newest_index) % EVLOG_DEPTH;
    return &entries[idx];
}

const char *evlog_name(unsigned code)
{
    return code < EV_CODE_COUNT ? names[code] : "?";
}

void evlog_print(unsigned max)
{
    unsigned n = used < max ? used : max;
    for (unsigned i = n; i-- > 0;) {
        const evlog_entry_t *e = evlog_get(i);
        uart_printf("%5u %8lu.%03lu  %-16s %ld\r\n", (unsigned)e->seq,
                    (unsigned long)(e->time_ms / 1000u), (unsigned long)(e->time_ms % 1000u),
                    evlog_name(e->code), (long)e->arg);
    }
    uart_printf("%u of %lu events shown\r\n", n, (unsigned long)total);
}
