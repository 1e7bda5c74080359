/*
 * Modbus RTU slave.
 *
 * Input registers (function 04, read only)      Holding registers (03/06/16)
 *   0 temperature, 0.01 degC                      0 set-point, 0.01 degC
 *   1 raw temperature, 0.01 degC                  1 alarm limit, 0.01 degC
 *   2 heater, 0.1 %                               2 alarm hysteresis, 0.01 degC
 *   3 state                                       3 sample period, ms
 *   4 alarm count                                 4 filter mode
 *   5 uptime seconds, high word                   5 run (1 start, 0 stop)
 *   6 uptime seconds, low word
 *   7 firmware version (major << 8 | minor)
 *
 * The transport polls UART1 and ends a frame after 3.5 character times of
 * silence (rounded up to 2 ms).
 */
#include "modbus.h"

#include <stdbool.h>

#include "app.h"
#include "board.h"
#include "config.h"
#include "filter.h"
#include "system.h"
#include "version.h"

#define FC_READ_HOLDING 0x03u
#define FC_READ_INPUT 0x04u
#define FC_WRITE_SINGLE 0x06u
#define FC_WRITE_MULTIPLE 0x10u

#define EX_ILLEGAL_FUNCTION 0x01u
#define EX_ILLEGAL_ADDRESS 0x02u
#define EX_ILLEGAL_VALUE 0x03u
#define EX_DEVICE_FAILURE 0x04u

#define INPUT_REGS 8u
#define HOLDING_REGS 6u

#define UART1 ((cmsdk_uart_t *)UART1_BASE)

static modbus_stats_t stats;
static uint8_t rx_frame[MODBUS_MAX_FRAME];
static size_t rx_len;
static uint32_t rx_last_ms;

uint16_t modbus_crc16(const uint8_t *data, size_t len)
{
    uint16_t crc = 0xFFFFu;
    while (len--) {
        crc ^= *data++;
        for (int i = 0; i < 8; i++) {
            crc = (crc & 1u) ? (uint16_t)((crc >> 1) ^ 0xA001u) : (uint16_t)(crc >> 1);
        }
    }
    return crc;
}

static int16_t to_centi(fix16_t v)
{
    int32_t c = (int32_t)(((int64_t)v * 100 + (v >= 0 ? FIX_HALF : -FIX_HALF)) >> 16);
    return (int16_t)(c > 32767 ? 32767 : c < -32768 ? -32768 : c);
}

static fix16_t from_centi(uint16_t reg)
{
    return (fix16_t)(((int64_t)(int16_t)reg * FIX_ONE) / 100);
}

static uint16_t read_input(unsigned reg)
{
    const app_status_t *st = app_status();
    uint32_t up = (uint32_t)(sys_uptime_ms() / 1000u);
    switch (reg) {
    case 0:
        return (uint16_t)to_centi(st->temperature);
    case 1:
        return (uint16_t)to_centi(st->raw);
    case 2:
        return (uint16_t)(fix_to_int(st->heater * 10));
    case 3:
        return (uint16_t)st->state;
    case 4:
        return (uint16_t)st->alarms;
    case 5:
        return (uint16_t)(up >> 16);
    case 6:
        return (uint16_t)up;
    default:
        return (uint16_t)(SAMPLE_VERSION_MAJOR << 8 | SAMPLE_VERSION_MINOR);
    }
}

static uint16_t read_holding(unsigned reg)
{
    switch (reg) {
    case 0:
        return (uint16_t)to_centi(config.setpoint);
    case 1:
        return (uint16_t)to_centi(config.alarm_high);
    case 2:
        return (uint16_t)to_centi(config.alarm_hyst);
    case 3:
        return (uint16_t)config.sample_ms;
    case 4:
        return config.filter_mode;
    default: {
        app_state_t s = app_status()->state;
        return (uint16_t)(s == APP_HEATING || s == APP_REGULATING);
    }
    }
}

/* Returns 0 or a Modbus exception code. */
static uint8_t write_holding(unsigned reg, uint16_t v)
{
    switch (reg) {
    case 0:
        if ((int16_t)v < 0 || (int16_t)v > 12000) {
            return EX_ILLEGAL_VALUE;
        }
        config.setpoint = from_centi(v);
        break;
    case 1:
        if ((int16_t)v < 2000 || (int16_t)v > 12500) {
            return EX_ILLEGAL_VALUE;
        }
        config.alarm_high = from_centi(v);
        break;
    case 2:
        if (v < 50 || v > 2000) {
            return EX_ILLEGAL_VALUE;
        }
        config.alarm_hyst = from_centi(v);
        break;
    case 3:
        if (v < 10 || v > 10000) {
            return EX_ILLEGAL_VALUE;
        }
        config.sample_ms = v;
        break;
    case 4:
        if (v >= FILTER_MODE_COUNT) {
            return EX_ILLEGAL_VALUE;
        }
        config.filter_mode = (uint8_t)v;
        app_apply_config();
        break;
    case 5:
        if (v > 1) {
            return EX_ILLEGAL_VALUE;
        }
        (void)app_post(v ? APP_EV_START : APP_EV_STOP);
        break;
    default:
        return EX_ILLEGAL_ADDRESS;
    }
    return 0;
}

static size_t finish(uint8_t *resp, size_t n)
{
    uint16_t crc = modbus_crc16(resp, n);
    resp[n++] = (uint8_t)crc;
    resp[n++] = (uint8_t)(crc >> 8);
    return n;
}

static size_t exception(uint8_t *resp, uint8_t fc, uint8_t code)
{
    stats.exceptions++;
    resp[0] = MODBUS_ADDRESS;
    resp[1] = (uint8_t)(fc | 0x80u);
    resp[2] = code;
    return finish(resp, 3);
}

size_t modbus_handle(const uint8_t *req, size_t len, uint8_t *resp, size_t cap)
{
    if (len < 4 || cap < MODBUS_MAX_FRAME) {
        return 0;
    }
    if (modbus_crc16(req, len - 2) != (uint16_t)(req[len - 2] | req[len - 1] << 8)) {
        stats.crc_errors++;
        return 0;
    }
    if (req[0] != MODBUS_ADDRESS) {
        stats.not_for_us++;
        return 0;
    }
    stats.frames++;
    uint8_t fc = req[1];
    size_t body = len - 4; /* without address, function and CRC */
    unsigned addr = body >= 2 ? (unsigned)(req[2] << 8 | req[3]) : 0;
    unsigned count = body >= 4 ? (unsigned)(req[4] << 8 | req[5]) : 0;
    bool ok;

    resp[0] = MODBUS_ADDRESS;
    resp[1] = fc;
    switch (fc) {
    case FC_READ_HOLDING:
    case FC_READ_INPUT: {
        unsigned limit = fc == FC_READ_INPUT ? INPUT_REGS : HOLDING_REGS;
        if (body != 4 || count == 0 || count > 125) {
            return exception(resp, fc, EX_ILLEGAL_VALUE);
        }
        if (addr + count > limit) {
            return exception(resp, fc, EX_ILLEGAL_ADDRESS);
        }
        resp[2] = (uint8_t)(count * 2u);
        for (unsigned i = 0; i < count; i++) {
            uint16_t v = fc == FC_READ_INPUT ? read_input(addr + i) : read_holding(addr + i);
            resp[3 + 2 * i] = (uint8_t)(v >> 8);
            resp[4 + 2 * i] = (uint8_t)v;
        }
        return finish(resp, 3u + count * 2u);
    }
    case FC_WRITE_SINGLE: {
        if (body != 4) {
            return exception(resp, fc, EX_ILLEGAL_VALUE);
        }
        uint8_t ex = write_holding(addr, (uint16_t)count);
        if (ex) {
            return exception(resp, fc, ex);
        }
        for (unsigned i = 2; i < 6; i++) {
            resp[i] = req[i];
        }
        config.crc = config_crc(&config);
        return finish(resp, 6);
    }
    case FC_WRITE_MULTIPLE: {
        ok = body >= 5 && count >= 1 && count <= 123 && req[6] == count * 2u &&
             body == 5u + count * 2u;
        if (!ok) {
            return exception(resp, fc, EX_ILLEGAL_VALUE);
        }
        if (addr + count > HOLDING_REGS) {
            return exception(resp, fc, EX_ILLEGAL_ADDRESS);
        }
        for (unsigned i = 0; i < count; i++) {
            uint8_t ex = write_holding(addr + i, (uint16_t)(req[7 + 2 * i] << 8 | req[8 + 2 * i]));
            if (ex) {
                return exception(resp, fc, ex);
            }
        }
        config.crc = config_crc(&config);
        for (unsigned i = 2; i < 6; i++) {
            resp[i] = req[i];
        }
        return finish(resp, 6);
    }
    default:
        return exception(resp, fc, EX_ILLEGAL_FUNCTION);
    }
}

void modbus_init(void)
{
    UART1->CTRL = 0;
    UART1->BAUDDIV = SYSTEM_CORE_CLOCK_HZ / 19200u;
    UART1->CTRL = UART_CTRL_TXEN | UART_CTRL_RXEN;
    rx_len = 0;
}

static void send_frame(const uint8_t *p, size_t n)
{
    while (n--) {
        while (UART1->STATE & UART_STATE_TXFULL) {
        }
        UART1->DATA = *p++;
    }
}

void modbus_poll(void)
{
    uint32_t now = sys_millis();
    while (UART1->STATE & UART_STATE_RXFULL) {
        uint8_t b = (uint8_t)UART1->DATA;
        if (rx_len < sizeof rx_frame) {
            rx_frame[rx_len++] = b;
        }
        rx_last_ms = now;
    }
    if (rx_len > 0 && (uint32_t)(now - rx_last_ms) >= 2u) {
        static uint8_t resp[MODBUS_MAX_FRAME];
        size_t n = modbus_handle(rx_frame, rx_len, resp, sizeof resp);
        if (n > 0) {
            send_frame(resp, n);
        }
        rx_len = 0;
    }
}

const modbus_stats_t *modbus_get_stats(void)
{
    return &stats;
}
