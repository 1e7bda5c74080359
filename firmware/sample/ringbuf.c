/*
 * Byte ring buffer. One slot stays free so that head == tail means empty;
 * head is only written by the producer and tail only by the consumer, so an
 * interrupt handler and the main loop can share one without locking.
 */
#include "ringbuf.h"

#include "system.h"

void rb_init(ringbuf_t *rb, uint8_t *storage, uint16_t size)
{
    SYS_ASSERT(size >= 2 && (size & (size - 1)) == 0);
    rb->buf = storage;
    rb->mask = (uint16_t)(size - 1);
    rb_clear(rb);
}

void rb_clear(ringbuf_t *rb)
{
    rb->head = 0;
    rb->tail = 0;
    rb->high_water = 0;
    rb->dropped = 0;
}

uint16_t rb_count(const ringbuf_t *rb)
{
    return (uint16_t)((rb->head - rb->tail) & rb->mask);
}

uint16_t rb_space(const ringbuf_t *rb)
{
    return (uint16_t)(rb->mask - rb_count(rb));
}

bool rb_put(ringbuf_t *rb, uint8_t byte)
{
    uint16_t head = rb->head;
    uint16_t next = (uint16_t)((head + 1u) & rb->mask);
    if (next == rb->tail) {
        rb->dropped++;
        return false;
    }
    rb->buf[head] = byte;
    rb->head = next;
    uint16_t n = rb_count(rb);
    if (n > rb->high_water) {
        rb->high_water = n;
    }
    return true;
}

bool rb_get(ringbuf_t *rb, uint8_t *byte)
{
    uint16_t tail = rb->tail;
    if (tail == rb->head) {
        return false;
    }
    *byte = rb->buf[tail];
    rb->tail = (uint16_t)((tail + 1u) & rb->mask);
    return true;
}

bool rb_peek(const ringbuf_t *rb, uint16_t offset, uint8_t *byte)
{
    if (offset >= rb_count(rb)) {
        return false;
    }
    *byte = rb->buf[(rb->tail + offset) & rb->mask];
    return true;
}

uint16_t rb_write(ringbuf_t *rb, const uint8_t *data, uint16_t len)
{
    uint16_t done = 0;
    while (done < len && rb_put(rb, data[done])) {
        done++;
    }
    return done;
}

uint16_t rb_read(ringbuf_t *rb, uint8_t *data, uint16_t len)
{
    uint16_t done = 0;
    while (done < len && rb_get(rb, &data[done])) {
        done++;
    }
    return done;
}

int rb_find(const ringbuf_t *rb, uint8_t byte)
{
    uint16_t n = rb_count(rb);
    for (uint16_t i = 0; i < n; i++) {
        if (rb->buf[(rb->tail + i) & rb->mask] == byte) {
            return i;
        }
    }
    return -1;
}
