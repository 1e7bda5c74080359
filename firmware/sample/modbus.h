/*
 * Modbus RTU slave on UART1: input registers expose the measurements,
 * holding registers the main settings.
 */
#ifndef SAMPLE_MODBUS_H
#define SAMPLE_MODBUS_H

#include <stddef.h>
#include <stdint.h>

#define MODBUS_ADDRESS 1u
#define MODBUS_MAX_FRAME 256u

typedef struct {
    uint32_t frames;
    uint32_t crc_errors;
    uint32_t exceptions;
    uint32_t not_for_us;
} modbus_stats_t;

uint16_t modbus_crc16(const uint8_t *data, size_t len);
/* Handles one complete request frame (with CRC); returns the response length. */
size_t modbus_handle(const uint8_t *req, size_t len, uint8_t *resp, size_t cap);
void modbus_init(void);
void modbus_poll(void);
const modbus_stats_t *modbus_get_stats(void);

#endif
