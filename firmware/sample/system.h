/* Core services: tick, reset, fault records, LEDs. */
#ifndef SAMPLE_SYSTEM_H
#define SAMPLE_SYSTEM_H

#include <stdint.h>

typedef enum {
    RESET_REASON_POWER_ON = 0,
    RESET_REASON_COMMAND,
    RESET_REASON_FAULT,
    RESET_REASON_PANIC,
    RESET_REASON_WATCHDOG,
    RESET_REASON_MAIN_RETURNED,
    RESET_REASON_COUNT
} reset_reason_t;

typedef enum {
    PANIC_NONE = 0,
    PANIC_UNEXPECTED_IRQ,
    PANIC_ASSERT,
    PANIC_STACK,
    PANIC_CONFIG,
} panic_code_t;

typedef struct {
    uint32_t pc, lr, xpsr;
    uint32_t cfsr, hfsr, bfar, mmfar;
    uint32_t count;
} fault_record_t;

extern volatile uint32_t sys_ticks_ms;

void system_init(void);
uint32_t sys_millis(void);
uint64_t sys_uptime_ms(void);
void sys_delay_ms(uint32_t ms);
void sys_led_set(uint32_t mask);
uint32_t sys_buttons(void);
uint32_t sys_cpuid(void);

reset_reason_t sys_reset_reason(void);
const char *sys_reset_reason_name(reset_reason_t reason);
const fault_record_t *sys_last_fault(void);
uint32_t sys_boot_count(void);

void sys_reset(reset_reason_t reason) __attribute__((noreturn));
void sys_panic(panic_code_t code, uint32_t arg) __attribute__((noreturn));
void sys_fault_capture(const uint32_t *frame) __attribute__((noreturn, used));

#define SYS_ASSERT(cond)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            sys_panic(PANIC_ASSERT, __LINE__);                                             \
        }                                                                                  \
    } while (0)

#ifdef SAMPLE_SELFTEST
void sys_semihost_write(const char *s);
void sys_semihost_exit(int status) __attribute__((noreturn));
#endif

#endif
