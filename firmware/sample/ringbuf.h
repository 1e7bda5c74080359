/* Single-producer single-consumer byte ring buffer (ISR safe). */
#ifndef SAMPLE_RINGBUF_H
#define SAMPLE_RINGBUF_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint8_t *buf;
    uint16_t mask; /* size - 1, size is a power of two */
    volatile uint16_t head; /* written by the producer */
    volatile uint16_t tail; /* written by the consumer */
    uint16_t high_water;
    uint32_t dropped;
} ringbuf_t;

void rb_init(ringbuf_t *rb, uint8_t *storage, uint16_t size);
void rb_clear(ringbuf_t *rb);
bool rb_put(ringbuf_t *rb, uint8_t byte);
bool rb_get(ringbuf_t *rb, uint8_t *byte);
bool rb_peek(const ringbuf_t *rb, uint16_t offset, uint8_t *byte);
uint16_t rb_count(const ringbuf_t *rb);
uint16_t rb_space(const ringbuf_t *rb);
uint16_t rb_write(ringbuf_t *rb, const uint8_t *data, uint16_t len);
uint16_t rb_read(ringbuf_t *rb, uint8_t *data, uint16_t len);
int rb_find(const ringbuf_t *rb, uint8_t byte);

#endif
