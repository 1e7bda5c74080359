/*
 * Console UART: CMSDK APB UART0 at 0x40004000.
 *
 * Transmit goes through a ring buffer drained by the TX interrupt; when the
 * transmitter is idle the first byte is written directly to start the chain.
 * uart_flush() also drains by polling, so it works with interrupts masked
 * (fault and panic paths). Received bytes land in a second ring buffer.
 */
#include "uart.h"

#include "board.h"
#include "fmt.h"
#include "ringbuf.h"

#define UART_TX_BUF 1024u
#define UART_RX_BUF 128u

static uint8_t tx_storage[UART_TX_BUF];
static uint8_t rx_storage[UART_RX_BUF];
static ringbuf_t tx_rb;
static ringbuf_t rx_rb;
static volatile uint8_t tx_busy;
static uint32_t current_baud;
static uart_stats_t stats;

void uart_init(uint32_t baud)
{
    rb_init(&tx_rb, tx_storage, sizeof tx_storage);
    rb_init(&rx_rb, rx_storage, sizeof rx_storage);
    uint32_t div = SYSTEM_CORE_CLOCK_HZ / baud;
    if (div < 16u) {
        div = 16u;
    }
    current_baud = SYSTEM_CORE_CLOCK_HZ / div;
    UART0->CTRL = 0;
    UART0->BAUDDIV = div;
    UART0->INTSTATUS = UART_INT_TX | UART_INT_RX | UART_INT_TXOVR | UART_INT_RXOVR;
    UART0->CTRL = UART_CTRL_TXEN | UART_CTRL_RXEN | UART_CTRL_TXIE | UART_CTRL_RXIE;
    tx_busy = 0;
    nvic_set_priority(IRQ_UART0_RX, 2);
    nvic_set_priority(IRQ_UART0_TX, 3);
    nvic_enable(IRQ_UART0_RX);
    nvic_enable(IRQ_UART0_TX);
}

uint32_t uart_baud(void)
{
    return current_baud;
}

/* Moves one byte from the ring to the transmitter if it can take it. */
static void tx_kick(void)
{
    uint8_t b;
    if (UART0->STATE & UART_STATE_TXFULL) {
        return;
    }
    if (rb_get(&tx_rb, &b)) {
        tx_busy = 1;
        UART0->DATA = b;
        stats.tx_bytes++;
    } else {
        tx_busy = 0;
    }
}

void UART0TX_Handler(void)
{
    UART0->INTSTATUS = UART_INT_TX;
    tx_kick();
}

void UART0RX_Handler(void)
{
    UART0->INTSTATUS = UART_INT_RX;
    while (UART0->STATE & UART_STATE_RXFULL) {
        uint8_t b = (uint8_t)UART0->DATA;
        stats.rx_bytes++;
        if (!rb_put(&rx_rb, b)) {
            stats.rx_overruns++;
        }
    }
}

void uart_putc(char c)
{
    if (tx_rb.buf == 0) {
        return; /* console not up yet */
    }
    while (!rb_put(&tx_rb, (uint8_t)c)) {
        /* Full: make room by polling, interrupts may be masked. */
        uint32_t primask = irq_save();
        tx_kick();
        irq_restore(primask);
    }
    uint32_t primask = irq_save();
    if (!tx_busy) {
        tx_kick();
    }
    irq_restore(primask);
}

void uart_write(const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len--) {
        uart_putc((char)*p++);
    }
}

void uart_puts(const char *s)
{
    while (*s) {
        uart_putc(*s++);
    }
}

int uart_getc(void)
{
    uint8_t b;
    return rb_get(&rx_rb, &b) ? b : -1;
}

void uart_flush(void)
{
    if (tx_rb.buf == 0) {
        return; /* not initialised yet */
    }
    while (rb_count(&tx_rb) != 0 || (UART0->STATE & UART_STATE_TXFULL)) {
        uint32_t primask = irq_save();
        tx_kick();
        irq_restore(primask);
    }
    tx_busy = 0;
}

void uart_get_stats(uart_stats_t *out)
{
    *out = stats;
    out->tx_dropped = tx_rb.dropped;
    out->tx_high_water = tx_rb.high_water;
    out->rx_high_water = rx_rb.high_water;
}

static void uart_sink(void *ctx, char c)
{
    (void)ctx;
    uart_putc(c);
}

int uart_vprintf(const char *fmt, va_list ap)
{
    return fmt_vformat(uart_sink, 0, fmt, ap);
}

int uart_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = uart_vprintf(fmt, ap);
    va_end(ap);
    return n;
}
