/*
 * Binary telemetry frames (new in 1.2.0).
 *
 * Record layout, little endian: type, seq, time_ms (4), temperature Q16.16
 * (4), set-point Q16.16 (4), heater %, state, alarms (2), CRC-16/CCITT of
 * the preceding 18 bytes (2). The record is COBS encoded so that a zero
 * byte can delimit frames on a link that also carries text.
 */
#include "telemetry.h"

#if SAMPLE_VERSION >= 3

#include "config.h"
#include "crc.h"
#include "evlog.h"
#include "system.h"
#include "uart.h"

static uint8_t sequence;
static uint32_t frames_sent;
static uint32_t sample_count;

size_t cobs_encode(const uint8_t *in, size_t len, uint8_t *out)
{
    size_t code_pos = 0;
    size_t o = 1;
    uint8_t code = 1;
    for (size_t i = 0; i < len; i++) {
        if (in[i] == 0) {
            out[code_pos] = code;
            code_pos = o++;
            code = 1;
        } else {
            out[o++] = in[i];
            if (++code == 0xFF) {
                out[code_pos] = code;
                code_pos = o++;
                code = 1;
            }
        }
    }
    out[code_pos] = code;
    return o;
}

int cobs_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t i = 0;
    size_t o = 0;
    while (i < len) {
        uint8_t code = in[i++];
        if (code == 0) {
            return -1;
        }
        for (uint8_t k = 1; k < code; k++) {
            if (i >= len || in[i] == 0 || o >= cap) {
                return -1;
            }
            out[o++] = in[i++];
        }
        if (code != 0xFF && i < len) {
            if (o >= cap) {
                return -1;
            }
            out[o++] = 0;
        }
    }
    *out_len = o;
    return 0;
}

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    put_le16(p, (uint16_t)v);
    put_le16(p + 2, (uint16_t)(v >> 16));
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

size_t telemetry_build(uint8_t *frame, const app_status_t *st, uint32_t time_ms)
{
    uint8_t rec[TELEMETRY_RECORD_LEN];
    rec[0] = TELEMETRY_TYPE_STATUS;
    rec[1] = sequence++;
    put_le32(&rec[2], time_ms);
    put_le32(&rec[6], (uint32_t)st->temperature);
    put_le32(&rec[10], (uint32_t)config.setpoint);
    int32_t heater = fix_to_int(st->heater);
    rec[14] = (uint8_t)(heater < 0 ? 0 : heater > 100 ? 100 : heater);
    rec[15] = (uint8_t)st->state;
    put_le16(&rec[16], (uint16_t)st->alarms);
    put_le16(&rec[18], crc16_ccitt(0xFFFFu, rec, 18));
    size_t n = cobs_encode(rec, sizeof rec, frame);
    frame[n++] = 0;
    return n;
}

int telemetry_parse(const uint8_t *frame, size_t len, telemetry_record_t *r)
{
    uint8_t rec[TELEMETRY_RECORD_LEN + 2];
    size_t n;
    if (len > 0 && frame[len - 1] == 0) {
        len--;
    }
    if (cobs_decode(frame, len, rec, sizeof rec, &n) != 0 || n != TELEMETRY_RECORD_LEN) {
        return -1;
    }
    if (crc16_ccitt(0xFFFFu, rec, 18) != (uint16_t)(rec[18] | rec[19] << 8)) {
        return -2;
    }
    r->type = rec[0];
    r->seq = rec[1];
    r->time_ms = get_le32(&rec[2]);
    r->temperature = (fix16_t)get_le32(&rec[6]);
    r->setpoint = (fix16_t)get_le32(&rec[10]);
    r->heater_percent = rec[14];
    r->state = rec[15];
    r->alarms = (uint16_t)(rec[16] | rec[17] << 8);
    return 0;
}

void telemetry_send_once(void)
{
    uint8_t frame[TELEMETRY_FRAME_MAX + 1];
    size_t n = telemetry_build(frame, app_status(), sys_millis());
    uart_write(frame, n);
    frames_sent++;
}

void telemetry_sample(const app_status_t *st)
{
    (void)st;
    if (!config.telemetry) {
        sample_count = 0;
        return;
    }
    if (++sample_count >= config.telemetry_every) {
        sample_count = 0;
        telemetry_send_once();
        if ((frames_sent & 0xFFu) == 1u) {
            evlog_add(EV_TELEMETRY, (int32_t)frames_sent);
        }
    }
}

uint32_t telemetry_frames_sent(void)
{
    return frames_sent;
}

#endif
