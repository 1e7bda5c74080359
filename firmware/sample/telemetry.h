/*
 * Binary telemetry (new in 1.2.0): fixed records with a CRC-16, COBS
 * framed and terminated by a zero byte, interleaved with console text.
 */
#ifndef SAMPLE_TELEMETRY_H
#define SAMPLE_TELEMETRY_H

#if SAMPLE_VERSION >= 3

#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "fixmath.h"

#define TELEMETRY_TYPE_STATUS 0xA5u
#define TELEMETRY_RECORD_LEN 20u
#define TELEMETRY_FRAME_MAX (TELEMETRY_RECORD_LEN + TELEMETRY_RECORD_LEN / 254u + 2u)

typedef struct {
    uint8_t type;
    uint8_t seq;
    uint32_t time_ms;
    fix16_t temperature;
    fix16_t setpoint;
    uint8_t heater_percent;
    uint8_t state;
    uint16_t alarms;
} telemetry_record_t;

size_t cobs_encode(const uint8_t *in, size_t len, uint8_t *out);
int cobs_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *out_len);

size_t telemetry_build(uint8_t *frame, const app_status_t *st, uint32_t time_ms);
int telemetry_parse(const uint8_t *frame, size_t len, telemetry_record_t *rec);
void telemetry_sample(const app_status_t *st);
void telemetry_send_once(void);
uint32_t telemetry_frames_sent(void);

#endif
#endif
