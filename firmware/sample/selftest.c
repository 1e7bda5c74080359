/*
 * Self test for SAMPLE_SELFTEST builds: known-answer checks of the library
 * code, then a scripted console session driving the thermostat through the
 * simulated plant (heat up, regulate, over-temperature alarm, sensor fault).
 */
#include "selftest.h"

#include <stdint.h>
#include <string.h>

#include "app.h"
#include "cmd.h"
#include "config.h"
#include "crc.h"
#include "filter.h"
#include "fixmath.h"
#include "fmt.h"
#include "modbus.h"
#include "profile.h"
#include "ringbuf.h"
#include "rtc.h"
#include "sensor.h"
#include "sha256.h"
#include "uart.h"
#include "version.h"
#if SAMPLE_VERSION >= 3
#include "telemetry.h"
#endif

static int failures;

static void check(int ok, const char *what)
{
    if (!ok) {
        failures++;
        uart_printf("  FAIL: %s\r\n", what);
    }
}

static void check_near(fix16_t got, fix16_t want, fix16_t tol, const char *what)
{
    if (fix_abs(got - want) > tol) {
        failures++;
        uart_printf("  FAIL: %s: got %.5q want %.5q\r\n", what, got, want);
    }
}

static void check_str(const char *got, const char *want, const char *what)
{
    if (strcmp(got, want) != 0) {
        failures++;
        uart_printf("  FAIL: %s: got \"%s\" want \"%s\"\r\n", what, got, want);
    }
}

static void test_crc(void)
{
    static const char kat[] = "123456789";
    check(crc32(kat, 9) == 0xCBF43926u, "crc32 check value");
    check(crc16_ccitt(0xFFFFu, kat, 9) == 0x29B1u, "crc16/ccitt-false check value");
    check(crc8_maxim(kat, 9) == 0xA1u, "crc8/maxim check value");
}

static void test_sha256(void)
{
    static const uint8_t abc_digest[SHA256_DIGEST_LEN] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
        0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
    };
    uint8_t digest[SHA256_DIGEST_LEN];
    sha256("abc", 3, digest);
    check(memcmp(digest, abc_digest, sizeof digest) == 0, "sha256(abc)");
    /* 1000 x 'a' in uneven pieces must match one call */
    uint8_t a[1000];
    uint8_t d2[SHA256_DIGEST_LEN];
    memset(a, 'a', sizeof a);
    sha256(a, sizeof a, digest);
    sha256_ctx_t ctx;
    sha256_init(&ctx);
    for (size_t off = 0, step = 1; off < sizeof a; off += step, step = step * 3 % 97 + 1) {
        sha256_update(&ctx, a + off, off + step > sizeof a ? sizeof a - off : step);
    }
    sha256_final(&ctx, d2);
    check(memcmp(digest, d2, sizeof digest) == 0, "sha256 incremental");
}

static void test_rtc(void)
{
    char buf[32];
    uint32_t e;
    rtc_format(0, buf, sizeof buf);
    check_str(buf, "Thu 1970-01-01 00:00:00", "rtc epoch");
    check(rtc_parse("2024-02-29", "12:00:00", &e) == 0 && e == 1709208000u, "rtc parse leap day");
    rtc_format(e + 86400u, buf, sizeof buf);
    check_str(buf, "Fri 2024-03-01 12:00:00", "rtc format");
    check(rtc_parse("2023-02-29", NULL, &e) != 0, "rtc rejects 2023-02-29");
    check(rtc_parse("2100-12-31", "23:59:59", &e) == 0 && e == 4133980799u, "rtc 2100");
}

static void test_modbus(void)
{
    /* read holding register 0 (set-point) */
    uint8_t req[8] = { MODBUS_ADDRESS, 0x03, 0x00, 0x00, 0x00, 0x01, 0, 0 };
    uint8_t resp[MODBUS_MAX_FRAME];
    uint16_t crc = modbus_crc16(req, 6);
    req[6] = (uint8_t)crc;
    req[7] = (uint8_t)(crc >> 8);
    size_t n = modbus_handle(req, sizeof req, resp, sizeof resp);
    uint16_t sp = (uint16_t)(resp[3] << 8 | resp[4]);
    check(n == 7 && resp[2] == 2 && sp == 6000, "modbus read set-point");
    check(modbus_crc16(resp, n) == 0, "modbus response crc");
    req[1] = 0x2B; /* unsupported function */
    crc = modbus_crc16(req, 6);
    req[6] = (uint8_t)crc;
    req[7] = (uint8_t)(crc >> 8);
    n = modbus_handle(req, sizeof req, resp, sizeof resp);
    check(n == 5 && resp[1] == 0xAB && resp[2] == 0x01, "modbus illegal function");
    req[7] ^= 1u;
    check(modbus_handle(req, sizeof req, resp, sizeof resp) == 0, "modbus drops bad crc");
}

static void test_fmt(void)
{
    char buf[64];
    fmt_snprintf(buf, sizeof buf, "%5d|%-4s|%x|%#X|%c|%%", 42, "ab", 0xbeefu, 255u, 'z');
    check_str(buf, "   42|ab  |beef|0XFF|z|%", "fmt basic");
    fmt_snprintf(buf, sizeof buf, "%.2q %.3q %q", FIX(3.14159), FIX(-0.5), FIX(100.0));
    check_str(buf, "3.14 -0.500 100.00", "fmt fixed point");
    fmt_snprintf(buf, sizeof buf, "%08lx %llu %hhu %b", 0xC0FFEEul, 1234567890123ull, 300u, 5u);
    check_str(buf, "00c0ffee 1234567890123 44 101", "fmt lengths");
    fmt_snprintf(buf, sizeof buf, "%05d", -42);
#if SAMPLE_VERSION >= 2
    check_str(buf, "-0042", "fmt zero padded negative");
#else
    check_str(buf, "00-42", "fmt zero padded negative (1.0.0 behaviour)");
#endif
    int n = fmt_snprintf(buf, 8, "%s", "truncated output");
    check(n == 16 && strcmp(buf, "truncat") == 0, "fmt truncation");
}

static void test_fixmath(void)
{
    fix16_t v;
    check_near(fix_mul(FIX(1.5), FIX(-2.25)), FIX(-3.375), 1, "fix_mul");
    check_near(fix_div(FIX(1.0), FIX(3.0)), FIX(0.33333), 2, "fix_div");
    check_near(fix_sqrt(FIX(2.0)), FIX(1.41421), 2, "fix_sqrt");
    check(isqrt32(1000000u) == 1000u && isqrt32(999999u) == 999u, "isqrt32");
    check_near(fix_sin(FIX_HALF_PI), FIX_ONE, 8, "sin(pi/2)");
    check_near(fix_sin(FIX(-0.5)), FIX(-0.47943), 16, "sin(-0.5)");
    check_near(fix_cos(FIX_PI), -FIX_ONE, 8, "cos(pi)");
    check_near(fix_atan2(FIX(1.0), FIX(1.0)), FIX(0.78540), 16, "atan2(1,1)");
    check_near(fix_atan2(FIX(-1.0), FIX(-1.0)), FIX(-2.35619), 16, "atan2(-1,-1)");
    check_near(fix_exp(FIX_ONE), FIX_E, 16, "exp(1)");
    check_near(fix_log2(FIX(8.0)), FIX(3.0), 4, "log2(8)");
    check_near(fix_ln(FIX(10.0)), FIX(2.30259), 16, "ln(10)");
    check(fix_parse("-12.75", &v) == 0 && v == FIX(-12.75), "fix_parse");
    check(fix_parse("1.2.3", &v) != 0 && fix_parse("", &v) != 0, "fix_parse rejects junk");
}

static void test_ringbuf(void)
{
    uint8_t storage[8];
    uint8_t out[8];
    ringbuf_t rb;
    rb_init(&rb, storage, sizeof storage);
    check(rb_write(&rb, (const uint8_t *)"abcdefghij", 10) == 7, "ringbuf capacity");
    check(rb_read(&rb, out, 5) == 5 && memcmp(out, "abcde", 5) == 0, "ringbuf read");
    check(rb_write(&rb, (const uint8_t *)"XYZ", 3) == 3 && rb_count(&rb) == 5, "ringbuf wrap");
    check(rb_find(&rb, 'Y') == 3, "ringbuf find");
    check(rb_read(&rb, out, 8) == 5 && memcmp(out, "fgXYZ", 5) == 0, "ringbuf drain");
}

static void test_sensor(void)
{
    for (int t = 0; t <= 120; t += 15) {
        uint16_t code = sensor_celsius_to_adc(fix_from_int(t));
        /* one ADC code is worth up to ~0.2 degC at the hot end of the curve */
        check_near(sensor_adc_to_celsius(code), fix_from_int(t), FIX(0.25), "ntc round trip");
    }
    check_near(sensor_adc_to_celsius(2048), FIX(25.0), FIX(0.01), "ntc at mid scale");
}

static void test_filters(void)
{
    filter_chain_t c;
    fix16_t y = 0;
    for (int mode = FILTER_NONE; mode < FILTER_MODE_COUNT; mode++) {
        filter_chain_init(&c, (filter_mode_t)mode, 2);
        for (int i = 0; i < 200; i++) {
            y = filter_chain_update(&c, FIX(40.0));
        }
        check_near(y, FIX(40.0), FIX(0.05), filter_mode_name((filter_mode_t)mode));
    }
#if SAMPLE_VERSION >= 2
    despike_t d;
    despike_init(&d, FIX(5.0));
    (void)despike_update(&d, FIX(20.0));
    check(despike_update(&d, FIX(80.0)) == FIX(20.0), "despike rejects a spike");
    check(despike_update(&d, FIX(20.5)) == FIX(20.5), "despike passes normal steps");
#endif
}

#if SAMPLE_VERSION >= 3
static void test_telemetry(void)
{
    uint8_t frame[TELEMETRY_FRAME_MAX + 1];
    telemetry_record_t rec;
    app_status_t st = { .state = APP_REGULATING, .temperature = FIX(59.5), .heater = FIX(42.4) };
    size_t n = telemetry_build(frame, &st, 123456u);
    check(memchr(frame, 0, n - 1) == NULL && frame[n - 1] == 0, "cobs frame has one delimiter");
    check(telemetry_parse(frame, n, &rec) == 0 && rec.time_ms == 123456u &&
              rec.temperature == FIX(59.5) && rec.heater_percent == 42 &&
              rec.state == APP_REGULATING,
          "telemetry round trip");
    frame[3] ^= 0x40u;
    check(telemetry_parse(frame, n, &rec) != 0, "telemetry detects corruption");
}
#endif

static int run(const char *command)
{
    char buf[CMD_LINE_MAX];
    strncpy(buf, command, sizeof buf - 1);
    buf[sizeof buf - 1] = '\0';
    uart_printf("> %s\r\n", command);
    return cmd_execute(buf);
}

static void test_session(void)
{
    check(run("version") == CMD_OK, "version");
    check(run("get setpoint") == CMD_OK, "get");
    check(run("crc 123456789") == CMD_OK, "crc");
    check(run("math sqrt 2") == CMD_OK, "math");
    check(run("nosuchcommand") != CMD_OK, "unknown command rejected");
    check(run("set setpoint 500") != CMD_OK, "out of range rejected");

    /* Heat from ambient to the 60 degC set-point and hold it. */
    check(run("sim run 300") == CMD_OK, "sim run");
    const app_status_t *st = app_status();
    check(st->state == APP_REGULATING, "regulating after warm-up");
    check_near(st->temperature, config.setpoint, FIX(1.5), "holds the set-point");
    check(run("status") == CMD_OK, "status");

    /* A set-point above the alarm limit must trip the alarm and cut the heater. */
    check(run("set setpoint 100") == CMD_OK, "raise set-point");
    check(run("sim run 200") == CMD_OK, "sim run to alarm");
    check(st->alarms >= 1 && st->state != APP_HEATING, "over-temperature alarm");
    check(run("stop") == CMD_OK, "stop");
    check(run("sim run 300") == CMD_OK, "sim run cool down");
    check(st->state == APP_IDLE, "idle after cool-down");

    /* Broken sensor wire. */
    check(run("sim fault open") == CMD_OK, "inject fault");
    check(run("sim run 1") == CMD_OK && st->state == APP_FAULT, "sensor fault detected");
    check(run("sim fault none") == CMD_OK, "clear fault");
    check(run("sim run 1") == CMD_OK && st->state == APP_IDLE, "sensor fault recovered");

    /* Calibration plateaus profile: 30, 50, 70 degC for 10 minutes each. */
    check(run("profile list") == CMD_OK, "profile list");
    check(run("set setpoint 60") == CMD_OK, "restore set-point");
    check(run("profile run calcheck") == CMD_OK && st->state == APP_HEATING, "profile start");
    check(run("sim run 1200") == CMD_OK, "sim run profile");
    check(run("profile") == CMD_OK && profile_active(), "profile running");
    check(run("sim run 1800") == CMD_OK && !profile_active(), "profile finished");
    check(st->state == APP_IDLE && st->alarms == 1, "idle after profile, no new alarm");
    check(run("modbus 01 04 00 00 00 08") == CMD_OK, "modbus command");
    check(run("date 2024-05-17 08:30:00") == CMD_OK, "date");
    check(run("imghash") == CMD_OK, "imghash");

    check(run("set setpoint 45.5") == CMD_OK && config.setpoint == FIX(45.5), "set fixed");
    check(run("filter fir") == CMD_OK, "filter");
    check(run("save") == CMD_OK && config_valid(&config), "save");
    check(run("log 6") == CMD_OK, "log");
#if SAMPLE_VERSION >= 2
    check(run("stats") == CMD_OK, "stats");
#endif
#if SAMPLE_VERSION >= 3
    check(run("telem") == CMD_OK, "telem");
    check(run("uptime") == CMD_OK, "uptime");
#endif
    check(run("imgcrc") == CMD_OK, "imgcrc");
    check(run("dump 0 32") == CMD_OK, "dump");
}

int selftest_run(void)
{
    failures = 0;
    uart_printf("selftest %s: %u commands\r\n", SAMPLE_VERSION_STRING, cmd_count());
    test_crc();
    test_sha256();
    test_rtc();
    test_modbus();
    test_fmt();
    test_fixmath();
    test_ringbuf();
    test_sensor();
    test_filters();
#if SAMPLE_VERSION >= 3
    test_telemetry();
#endif
    uart_printf("unit checks: %d failure(s)\r\n", failures);
    test_session();
    return failures;
}
