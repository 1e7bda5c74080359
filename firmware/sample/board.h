/*
 * Board support for the Arm MPS2+ AN386 (Cortex-M4) as emulated by QEMU:
 * memory map, CMSDK APB UART, FPGA I/O block and the Cortex-M system
 * registers the firmware touches.
 */
#ifndef SAMPLE_BOARD_H
#define SAMPLE_BOARD_H

#include <stdint.h>

#define SYSTEM_CORE_CLOCK_HZ 25000000u

/* ---- CMSDK APB UART ---------------------------------------------------- */
typedef struct {
    volatile uint32_t DATA;      /* 0x00 RX/TX data */
    volatile uint32_t STATE;     /* 0x04 buffer status */
    volatile uint32_t CTRL;      /* 0x08 enables */
    volatile uint32_t INTSTATUS; /* 0x0C read: status, write 1: clear */
    volatile uint32_t BAUDDIV;   /* 0x10 baud divider (>= 16) */
} cmsdk_uart_t;

#define UART0_BASE 0x40004000u
#define UART1_BASE 0x40005000u
#define UART0 ((cmsdk_uart_t *)UART0_BASE)

#define UART_STATE_TXFULL (1u << 0)
#define UART_STATE_RXFULL (1u << 1)
#define UART_STATE_TXOVR (1u << 2)
#define UART_STATE_RXOVR (1u << 3)

#define UART_CTRL_TXEN (1u << 0)
#define UART_CTRL_RXEN (1u << 1)
#define UART_CTRL_TXIE (1u << 2)
#define UART_CTRL_RXIE (1u << 3)
#define UART_CTRL_TXOIE (1u << 4)
#define UART_CTRL_RXOIE (1u << 5)

#define UART_INT_TX (1u << 0)
#define UART_INT_RX (1u << 1)
#define UART_INT_TXOVR (1u << 2)
#define UART_INT_RXOVR (1u << 3)

/* ---- MPS2 FPGA I/O ------------------------------------------------------ */
typedef struct {
    volatile uint32_t LED;      /* 0x00 user LEDs [1:0] */
    uint32_t reserved0;
    volatile uint32_t BUTTON;   /* 0x08 push buttons [1:0] */
    uint32_t reserved1;
    volatile uint32_t CLK1HZ;   /* 0x10 */
    volatile uint32_t CLK100HZ; /* 0x14 */
    volatile uint32_t COUNTER;  /* 0x18 free running */
    volatile uint32_t PRESCALE; /* 0x1C */
    volatile uint32_t PSCNTR;   /* 0x20 */
    uint32_t reserved2[10];
    volatile uint32_t MISC;     /* 0x4C */
} mps2_fpgaio_t;

#define FPGAIO ((mps2_fpgaio_t *)0x40028000u)

/* ---- Cortex-M4 system control space ------------------------------------- */
typedef struct {
    volatile uint32_t CTRL;
    volatile uint32_t LOAD;
    volatile uint32_t VAL;
    volatile uint32_t CALIB;
} systick_t;

#define SYSTICK ((systick_t *)0xE000E010u)
#define SYSTICK_CTRL_ENABLE (1u << 0)
#define SYSTICK_CTRL_TICKINT (1u << 1)
#define SYSTICK_CTRL_CLKSOURCE (1u << 2)

typedef struct {
    volatile uint32_t CPUID; /* 0x00 */
    volatile uint32_t ICSR;  /* 0x04 */
    volatile uint32_t VTOR;  /* 0x08 */
    volatile uint32_t AIRCR; /* 0x0C */
    volatile uint32_t SCR;   /* 0x10 */
    volatile uint32_t CCR;   /* 0x14 */
    volatile uint8_t SHPR[12];
    volatile uint32_t SHCSR; /* 0x24 */
    volatile uint32_t CFSR;  /* 0x28 */
    volatile uint32_t HFSR;  /* 0x2C */
    volatile uint32_t DFSR;  /* 0x30 */
    volatile uint32_t MMFAR; /* 0x34 */
    volatile uint32_t BFAR;  /* 0x38 */
} scb_t;

#define SCB ((scb_t *)0xE000ED00u)
#define SCB_AIRCR_VECTKEY (0x05FAu << 16)
#define SCB_AIRCR_SYSRESETREQ (1u << 2)
#define SCB_CCR_DIV_0_TRP (1u << 4)
#define SCB_CCR_UNALIGN_TRP (1u << 3)
#define SCB_SHCSR_USGFAULTENA (1u << 18)
#define SCB_SHCSR_BUSFAULTENA (1u << 17)
#define SCB_SHCSR_MEMFAULTENA (1u << 16)

#define NVIC_ISER ((volatile uint32_t *)0xE000E100u)
#define NVIC_ICER ((volatile uint32_t *)0xE000E180u)
#define NVIC_ICPR ((volatile uint32_t *)0xE000E280u)
#define NVIC_IPR ((volatile uint8_t *)0xE000E400u)

/* External interrupt numbers of the AN386. */
enum {
    IRQ_UART0_RX = 0,
    IRQ_UART0_TX = 1,
    IRQ_UART1_RX = 2,
    IRQ_UART1_TX = 3,
    IRQ_UART2_RX = 4,
    IRQ_UART2_TX = 5,
    IRQ_GPIO0 = 6,
    IRQ_GPIO1 = 7,
    IRQ_TIMER0 = 8,
    IRQ_TIMER1 = 9,
    IRQ_DUALTIMER = 10,
    IRQ_SPI = 11,
    IRQ_UART_OVF = 12,
    IRQ_ETHERNET = 13,
    IRQ_COUNT = 32
};

static inline void nvic_enable(unsigned irq)
{
    NVIC_ISER[irq >> 5] = 1u << (irq & 31u);
}

static inline void nvic_disable(unsigned irq)
{
    NVIC_ICER[irq >> 5] = 1u << (irq & 31u);
}

static inline void nvic_set_priority(unsigned irq, uint8_t prio)
{
    NVIC_IPR[irq] = (uint8_t)(prio << 5); /* 3 implemented priority bits */
}

static inline uint32_t irq_save(void)
{
    uint32_t primask;
    __asm__ volatile("mrs %0, primask\n cpsid i" : "=r"(primask)::"memory");
    return primask;
}

static inline void irq_restore(uint32_t primask)
{
    __asm__ volatile("msr primask, %0" ::"r"(primask) : "memory");
}

static inline void irq_enable(void)
{
    __asm__ volatile("cpsie i" ::: "memory");
}

static inline void cpu_wfi(void)
{
    __asm__ volatile("dsb\n wfi" ::: "memory");
}

static inline void cpu_dsb(void)
{
    __asm__ volatile("dsb" ::: "memory");
}

#endif
