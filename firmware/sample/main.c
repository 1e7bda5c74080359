/*
 * dfota sample firmware: a small thermostat controller for the MPS2 AN386.
 *
 * Boot: console, configuration, banner, application. Then the main loop
 * runs the control step every config.sample_ms and feeds console input to
 * the command shell, sleeping in WFI in between.
 */
#include <stdint.h>

#include "app.h"
#include "board.h"
#include "cmd.h"
#include "config.h"
#include "evlog.h"
#include "modbus.h"
#include "sensor.h"
#include "system.h"
#include "uart.h"
#include "version.h"
#ifdef SAMPLE_SELFTEST
#include "selftest.h"
#endif

static void banner(void)
{
    const fault_record_t *f = sys_last_fault();
    uart_printf("\r\n%s v%s (%s, Cortex-M4)\r\n", SAMPLE_PRODUCT, SAMPLE_VERSION_STRING,
                SAMPLE_BOARD);
    uart_printf("reset: %s, boot #%lu\r\n", sys_reset_reason_name(sys_reset_reason()),
                (unsigned long)sys_boot_count());
    if (f != 0) {
        uart_printf("last fault: pc=%08lx lr=%08lx cfsr=%08lx (%lu total)\r\n",
                    (unsigned long)f->pc, (unsigned long)f->lr, (unsigned long)f->cfsr,
                    (unsigned long)f->count);
    }
}

int main(void)
{
    evlog_init();
    config_load();
    uart_init(config.baud);
    banner();
    evlog_add(EV_BOOT, (int32_t)sys_reset_reason());

    sensor_init();
    app_init();
    cmd_init();
    modbus_init();

#ifdef SAMPLE_SELFTEST
    int failures = selftest_run();
    uart_printf("selftest: %s (%d failure%s)\r\n", failures ? "FAIL" : "PASS", failures,
                failures == 1 ? "" : "s");
    uart_flush();
    sys_semihost_exit(failures ? 1 : 0);
#else
    cmd_prompt();
    uint32_t next = sys_millis();
    for (;;) {
        int c;
        while ((c = uart_getc()) >= 0) {
            cmd_input_char((char)c);
        }
        modbus_poll();
        if ((int32_t)(sys_millis() - next) >= 0) {
            next += config.sample_ms;
            app_step(config.sample_ms);
        }
        cpu_wfi();
    }
#endif
}
