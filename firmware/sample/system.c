/*
 * Core services: SysTick time base, reset with a reason that survives the
 * reset, fault capture, LED and button access on the FPGA I/O block.
 */
#include "system.h"

#include <stddef.h>
#include <string.h>

#include "board.h"
#include "uart.h"

#define NOINIT_MAGIC 0x5AFEB007u

typedef struct {
    uint32_t magic;
    uint32_t reason;
    uint32_t boots;
    uint32_t panic_code;
    uint32_t panic_arg;
    fault_record_t fault;
    uint32_t check; /* ~ of the fields above, XORed */
} noinit_t;

static noinit_t noinit_area __attribute__((section(".noinit")));

volatile uint32_t sys_ticks_ms;
static volatile uint32_t tick_wraps;
static reset_reason_t boot_reason;

static const char *const reset_reason_names[RESET_REASON_COUNT] = {
    [RESET_REASON_POWER_ON] = "power-on",     [RESET_REASON_COMMAND] = "command",
    [RESET_REASON_FAULT] = "fault",           [RESET_REASON_PANIC] = "panic",
    [RESET_REASON_WATCHDOG] = "watchdog",     [RESET_REASON_MAIN_RETURNED] = "main-returned",
};

static uint32_t noinit_check(const noinit_t *n)
{
    const uint32_t *w = (const uint32_t *)n;
    uint32_t x = 0xA5A5A5A5u;
    for (unsigned i = 0; i < offsetof(noinit_t, check) / 4; i++) {
        x = (x << 5 | x >> 27) ^ w[i];
    }
    return ~x;
}

static void noinit_seal(void)
{
    noinit_area.magic = NOINIT_MAGIC;
    noinit_area.check = noinit_check(&noinit_area);
}

void system_init(void)
{
    extern const uint32_t __image_start;

    SCB->VTOR = (uint32_t)&__image_start;
    SCB->CCR |= SCB_CCR_DIV_0_TRP;
    SCB->SHCSR |= SCB_SHCSR_USGFAULTENA | SCB_SHCSR_BUSFAULTENA | SCB_SHCSR_MEMFAULTENA;

    if (noinit_area.magic != NOINIT_MAGIC || noinit_area.check != noinit_check(&noinit_area)) {
        memset(&noinit_area, 0, sizeof noinit_area);
        noinit_area.reason = RESET_REASON_POWER_ON;
    }
    boot_reason = noinit_area.reason < RESET_REASON_COUNT ? (reset_reason_t)noinit_area.reason
                                                          : RESET_REASON_POWER_ON;
    noinit_area.boots++;
    noinit_area.reason = RESET_REASON_WATCHDOG; /* until someone says otherwise */
    noinit_seal();

    /* SysTick and PendSV lowest, UART above them. */
    SCB->SHPR[10] = 0xE0u;
    SCB->SHPR[11] = 0xC0u;
    SYSTICK->LOAD = SYSTEM_CORE_CLOCK_HZ / 1000u - 1u;
    SYSTICK->VAL = 0;
    SYSTICK->CTRL = SYSTICK_CTRL_CLKSOURCE | SYSTICK_CTRL_TICKINT | SYSTICK_CTRL_ENABLE;
}

void SysTick_Handler(void);
void SysTick_Handler(void)
{
    uint32_t t = sys_ticks_ms + 1u;
    sys_ticks_ms = t;
    if (t == 0) {
        tick_wraps++;
    }
}

uint32_t sys_millis(void)
{
    return sys_ticks_ms;
}

uint64_t sys_uptime_ms(void)
{
    uint32_t primask = irq_save();
    uint64_t t = ((uint64_t)tick_wraps << 32) | sys_ticks_ms;
    irq_restore(primask);
    return t;
}

void sys_delay_ms(uint32_t ms)
{
    uint32_t start = sys_ticks_ms;
    while ((uint32_t)(sys_ticks_ms - start) < ms) {
        cpu_wfi();
    }
}

void sys_led_set(uint32_t mask)
{
    FPGAIO->LED = mask & 3u;
}

uint32_t sys_buttons(void)
{
    return FPGAIO->BUTTON & 3u;
}

uint32_t sys_cpuid(void)
{
    return SCB->CPUID;
}

reset_reason_t sys_reset_reason(void)
{
    return boot_reason;
}

const char *sys_reset_reason_name(reset_reason_t reason)
{
    return (unsigned)reason < RESET_REASON_COUNT ? reset_reason_names[reason] : "?";
}

const fault_record_t *sys_last_fault(void)
{
    return noinit_area.fault.count ? &noinit_area.fault : 0;
}

uint32_t sys_boot_count(void)
{
    return noinit_area.boots;
}

#ifdef SAMPLE_SELFTEST
#define SEMIHOST_SYS_WRITE0 0x04
#define SEMIHOST_SYS_EXIT_EXTENDED 0x20
#define SEMIHOST_APPLICATION_EXIT 0x20026

static int semihost_call(int op, const void *arg)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void sys_semihost_write(const char *s)
{
    semihost_call(SEMIHOST_SYS_WRITE0, s);
}

void sys_semihost_exit(int status)
{
    const uint32_t block[2] = { SEMIHOST_APPLICATION_EXIT, (uint32_t)status };
    semihost_call(SEMIHOST_SYS_EXIT_EXTENDED, block);
    for (;;) {
    }
}
#endif

void sys_reset(reset_reason_t reason)
{
    uart_flush();
    noinit_area.reason = reason;
    noinit_seal();
#ifdef SAMPLE_SELFTEST
    /* Under test a reset ends the run, reporting the reason as status. */
    sys_semihost_exit(reason == RESET_REASON_COMMAND ? 0 : 10 + (int)reason);
#else
    cpu_dsb();
    SCB->AIRCR = SCB_AIRCR_VECTKEY | SCB_AIRCR_SYSRESETREQ;
    cpu_dsb();
    for (;;) {
    }
#endif
}

void sys_panic(panic_code_t code, uint32_t arg)
{
    (void)irq_save();
    noinit_area.panic_code = code;
    noinit_area.panic_arg = arg;
    uart_printf("\r\n!! panic %u (%08lx)\r\n", (unsigned)code, (unsigned long)arg);
    sys_reset(RESET_REASON_PANIC);
}

void sys_fault_capture(const uint32_t *frame)
{
    fault_record_t *f = &noinit_area.fault;
    f->lr = frame[5];
    f->pc = frame[6];
    f->xpsr = frame[7];
    f->cfsr = SCB->CFSR;
    f->hfsr = SCB->HFSR;
    f->bfar = SCB->BFAR;
    f->mmfar = SCB->MMFAR;
    f->count++;
    uart_printf("\r\n!! fault pc=%08lx lr=%08lx cfsr=%08lx hfsr=%08lx\r\n", (unsigned long)f->pc,
                (unsigned long)f->lr, (unsigned long)f->cfsr, (unsigned long)f->hfsr);
    sys_reset(RESET_REASON_FAULT);
}
