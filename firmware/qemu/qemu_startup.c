/*
 * Start-up code for dfota QEMU test programs (mps2-an386, Cortex-M4).
 *
 * Vector table, reset handler (copy .data, zero .bss, open the semihosting
 * handles, exit(main())) and fault handlers that report through
 * semihosting and end the run with a distinctive status, so a crashing test
 * fails at once instead of hanging until the timeout.
 */
#include <stdint.h>
#include <stdlib.h>

int main(void);
void initialise_monitor_handles(void);

void Reset_Handler(void);
void qemu_fault_handler(void);

extern uint32_t __stack_top;
extern uint32_t __data_start__, __data_end__, __data_load__;
extern uint32_t __bss_start__, __bss_end__;

#define SEMIHOST_SYS_WRITE0        0x04
#define SEMIHOST_SYS_EXIT_EXTENDED 0x20
#define ADP_STOPPED_APPLICATION_EXIT 0x20026

/* Exit status used when the core takes a fault. */
#define QEMU_FAULT_EXIT_STATUS 70

static int semihost(int op, const void *arg)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static void fault_puts(const char *s)
{
    semihost(SEMIHOST_SYS_WRITE0, s);
}

static void fault_puthex(uint32_t v)
{
    char buf[11];
    buf[0] = '0';
    buf[1] = 'x';
    for (int i = 0; i < 8; i++) {
        unsigned nib = (v >> (28 - 4 * i)) & 0xFu;
        buf[2 + i] = (char)(nib < 10 ? '0' + nib : 'a' + nib - 10);
    }
    buf[10] = '\0';
    fault_puts(buf);
}

/* Called with the stacked exception frame (r0-r3, r12, lr, pc, xpsr). */
void qemu_fault_report(const uint32_t *frame, uint32_t exc_return);
void qemu_fault_report(const uint32_t *frame, uint32_t exc_return)
{
    volatile const uint32_t *icsr = (volatile const uint32_t *)0xE000ED04u;
    volatile const uint32_t *cfsr = (volatile const uint32_t *)0xE000ED28u;
    volatile const uint32_t *hfsr = (volatile const uint32_t *)0xE000ED2Cu;
    volatile const uint32_t *bfar = (volatile const uint32_t *)0xE000ED38u;

    fault_puts("\n*** qemu test: fault, exception ");
    fault_puthex(*icsr & 0x1FFu);
    fault_puts(" pc=");
    fault_puthex(frame[6]);
    fault_puts(" lr=");
    fault_puthex(frame[5]);
    fault_puts(" cfsr=");
    fault_puthex(*cfsr);
    fault_puts(" hfsr=");
    fault_puthex(*hfsr);
    fault_puts(" bfar=");
    fault_puthex(*bfar);
    fault_puts(" exc_return=");
    fault_puthex(exc_return);
    fault_puts("\n");

    static const uint32_t block[2] = { ADP_STOPPED_APPLICATION_EXIT, QEMU_FAULT_EXIT_STATUS };
    semihost(SEMIHOST_SYS_EXIT_EXTENDED, block);
    for (;;) {
    }
}

__attribute__((naked)) void qemu_fault_handler(void)
{
    __asm__ volatile(
        "tst lr, #4\n"
        "ite eq\n"
        "mrseq r0, msp\n"
        "mrsne r0, psp\n"
        "mov r1, lr\n"
        "b qemu_fault_report\n");
}

void Reset_Handler(void)
{
    uint32_t *dst = &__data_start__;
    const uint32_t *src = &__data_load__;
    while (dst < &__data_end__) {
        *dst++ = *src++;
    }
    for (dst = &__bss_start__; dst < &__bss_end__; dst++) {
        *dst = 0;
    }
    initialise_monitor_handles();
    exit(main());
}

typedef void (*vector_t)(void);

/* 16 system exceptions + 32 external interrupts of the mps2-an386. */
__attribute__((section(".vectors"), used)) const vector_t qemu_vector_table[16 + 32] = {
    [0] = (vector_t)&__stack_top,
    [1] = Reset_Handler,
    [2] = qemu_fault_handler,  /* NMI */
    [3] = qemu_fault_handler,  /* HardFault */
    [4] = qemu_fault_handler,  /* MemManage */
    [5] = qemu_fault_handler,  /* BusFault */
    [6] = qemu_fault_handler,  /* UsageFault */
    [11] = qemu_fault_handler, /* SVCall */
    [12] = qemu_fault_handler, /* DebugMonitor */
    [14] = qemu_fault_handler, /* PendSV */
    [15] = qemu_fault_handler, /* SysTick */
    [16 ... 47] = qemu_fault_handler,
};
