/*
 * Vector table and reset handler of the sample firmware.
 */
#include <stdint.h>

#include "board.h"
#include "system.h"

extern uint32_t __stack_top;
extern uint32_t __data_start, __data_end, __data_load;
extern uint32_t __bss_start, __bss_end;

int main(void);
void Reset_Handler(void);
void Default_Handler(void);

#define HANDLER(name) void name(void) __attribute__((weak, alias("Default_Handler")))
#define FAULT_HANDLER(name) void name(void) __attribute__((weak, alias("HardFault_Handler")))

HANDLER(NMI_Handler);
HANDLER(SVC_Handler);
HANDLER(DebugMon_Handler);
HANDLER(PendSV_Handler);
HANDLER(SysTick_Handler);
HANDLER(UART0RX_Handler);
HANDLER(UART0TX_Handler);
HANDLER(UART1RX_Handler);
HANDLER(UART1TX_Handler);
HANDLER(UART2RX_Handler);
HANDLER(UART2TX_Handler);
HANDLER(GPIO0_Handler);
HANDLER(GPIO1_Handler);
HANDLER(TIMER0_Handler);
HANDLER(TIMER1_Handler);
HANDLER(DUALTIMER_Handler);
HANDLER(SPI_Handler);
HANDLER(UARTOVF_Handler);
HANDLER(ETHERNET_Handler);
void HardFault_Handler(void);
FAULT_HANDLER(MemManage_Handler);
FAULT_HANDLER(BusFault_Handler);
FAULT_HANDLER(UsageFault_Handler);

typedef void (*vector_t)(void);

__attribute__((section(".vectors"), used)) const vector_t vector_table[16 + IRQ_COUNT] = {
    (vector_t)&__stack_top,
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    0,
    0,
    0,
    0,
    SVC_Handler,
    DebugMon_Handler,
    0,
    PendSV_Handler,
    SysTick_Handler,
    [16 + IRQ_UART0_RX] = UART0RX_Handler,
    [16 + IRQ_UART0_TX] = UART0TX_Handler,
    [16 + IRQ_UART1_RX] = UART1RX_Handler,
    [16 + IRQ_UART1_TX] = UART1TX_Handler,
    [16 + IRQ_UART2_RX] = UART2RX_Handler,
    [16 + IRQ_UART2_TX] = UART2TX_Handler,
    [16 + IRQ_GPIO0] = GPIO0_Handler,
    [16 + IRQ_GPIO1] = GPIO1_Handler,
    [16 + IRQ_TIMER0] = TIMER0_Handler,
    [16 + IRQ_TIMER1] = TIMER1_Handler,
    [16 + IRQ_DUALTIMER] = DUALTIMER_Handler,
    [16 + IRQ_SPI] = SPI_Handler,
    [16 + IRQ_UART_OVF] = UARTOVF_Handler,
    [16 + IRQ_ETHERNET] = ETHERNET_Handler,
    [16 + IRQ_ETHERNET + 1 ... 16 + IRQ_COUNT - 1] = Default_Handler,
};

__attribute__((section(".text.Reset_Handler"))) void Reset_Handler(void)
{
    uint32_t *dst = &__data_start;
    const uint32_t *src = &__data_load;
    while (dst < &__data_end) {
        *dst++ = *src++;
    }
    for (dst = &__bss_start; dst < &__bss_end; dst++) {
        *dst = 0;
    }
    system_init();
    (void)main();
    sys_reset(RESET_REASON_MAIN_RETURNED);
}

/* Unexpected interrupt: record which one and restart. */
void Default_Handler(void)
{
    uint32_t active = SCB->ICSR & 0x1FFu;
    sys_panic(PANIC_UNEXPECTED_IRQ, active);
}

__attribute__((naked)) void HardFault_Handler(void)
{
    __asm__ volatile(
        "tst lr, #4\n"
        "ite eq\n"
        "mrseq r0, msp\n"
        "mrsne r0, psp\n"
        "b sys_fault_capture\n");
}
