/* Interrupt-driven driver for the CMSDK APB UART0 (console). */
#ifndef SAMPLE_UART_H
#define SAMPLE_UART_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t tx_bytes;
    uint32_t rx_bytes;
    uint32_t rx_overruns;
    uint32_t tx_dropped;
    uint16_t tx_high_water;
    uint16_t rx_high_water;
} uart_stats_t;

void uart_init(uint32_t baud);
uint32_t uart_baud(void);
void uart_putc(char c);
void uart_write(const void *data, size_t len);
void uart_puts(const char *s);
int uart_getc(void); /* -1 when nothing was received */
void uart_flush(void);
void uart_get_stats(uart_stats_t *stats);

/* Formatted console output, see fmt.h for the conversions. */
int uart_printf(const char *fmt, ...);
int uart_vprintf(const char *fmt, va_list ap);

void UART0RX_Handler(void);
void UART0TX_Handler(void);

#endif
