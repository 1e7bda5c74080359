/*
 * Console command shell: line editing, tokenising and the command table.
 */
#include "cmd.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "config.h"
#include "crc.h"
#include "evlog.h"
#include "filter.h"
#include "fixmath.h"
#include "fmt.h"
#include "modbus.h"
#include "profile.h"
#include "rtc.h"
#include "sensor.h"
#include "sha256.h"
#include "system.h"
#include "uart.h"
#include "version.h"
#if SAMPLE_VERSION >= 3
#include "telemetry.h"
#endif

typedef int (*cmd_fn)(int argc, char **argv);

typedef struct {
    const char *name;
    const char *args;
    const char *help;
    cmd_fn fn;
} command_t;

extern const uint8_t __image_start[];
extern const uint8_t __image_end[];

static char line[CMD_LINE_MAX];
static uint8_t line_len;
static char last_char;
static uint32_t commands_run;
static uint32_t command_errors;

static const command_t *find_command(const char *name);
static void print_usage(const command_t *c);

/* ---- handlers ---------------------------------------------------------- */

static int cmd_help(int argc, char **argv);

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    uint32_t size = (uint32_t)(__image_end - __image_start);
    uart_printf("%s %s (%s, Cortex-M4, cpuid %08lx)\r\n", SAMPLE_PRODUCT, SAMPLE_VERSION_STRING,
                SAMPLE_BOARD, (unsigned long)sys_cpuid());
    uart_printf("image %lu bytes, crc32 %08lx, gcc %s\r\n", (unsigned long)size,
                (unsigned long)crc32(__image_start, size), __VERSION__);
    uart_printf("boot #%lu, last reset: %s\r\n", (unsigned long)sys_boot_count(),
                sys_reset_reason_name(sys_reset_reason()));
    return CMD_OK;
}

static int cmd_status(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    app_print_status();
    return CMD_OK;
}

static int cmd_start(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    if (app_post(APP_EV_START) != 0) {
        uart_printf("cannot start from state %s\r\n", app_state_name(app_status()->state));
        return CMD_FAILED;
    }
    return CMD_OK;
}

static int cmd_stop(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    (void)app_post(APP_EV_STOP);
    return CMD_OK;
}

static int cmd_set(int argc, char **argv)
{
    if (argc != 3) {
        return CMD_USAGE;
    }
    config_result_t r = config_set(argv[1], argv[2]);
    if (r != CONFIG_OK) {
        uart_printf("%s: %s\r\n", argv[1], config_result_text(r));
        return CMD_FAILED;
    }
    app_apply_config();
    (void)config_print(argv[1]);
    return CMD_OK;
}

static int cmd_get(int argc, char **argv)
{
    if (argc > 2) {
        return CMD_USAGE;
    }
    if (config_print(argc == 2 ? argv[1] : NULL) != 0) {
        uart_printf("%s: unknown parameter\r\n", argv[1]);
        return CMD_FAILED;
    }
    return CMD_OK;
}

static int cmd_save(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    config_save();
    uart_printf("saved, crc %08lx\r\n", (unsigned long)config.crc);
    return CMD_OK;
}

static int cmd_defaults(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    config_defaults(&config);
    app_apply_config();
    evlog_add(EV_CONFIG_DEFAULTS, 1);
    uart_puts("defaults restored (not saved)\r\n");
    return CMD_OK;
}

static int cmd_log(int argc, char **argv)
{
    unsigned n = 16;
    if (argc == 2 && strcmp(argv[1], "clear") == 0) {
        evlog_init();
        return CMD_OK;
    }
    if (argc == 2) {
        char *end;
        n = (unsigned)strtoul(argv[1], &end, 10);
        if (*end != '\0' || n == 0) {
            return CMD_USAGE;
        }
    } else if (argc > 2) {
        return CMD_USAGE;
    }
    evlog_print(n);
    return CMD_OK;
}

static int cmd_filter(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        uart_printf("filter: %s, preset %u\r\n", filter_mode_name((filter_mode_t)config.filter_mode),
                    (unsigned)config.iir_preset);
        return argc == 1 ? CMD_OK : CMD_USAGE;
    }
    if (config_set("filter", argv[1]) != CONFIG_OK ||
        (argc == 3 && config_set("iir_preset", argv[2]) != CONFIG_OK)) {
        return CMD_USAGE;
    }
    app_apply_config();
    evlog_add(EV_FILTER, config.filter_mode);
    return CMD_OK;
}

static int cmd_cal(int argc, char **argv)
{
    fix16_t offset, gain;
    if (argc == 1) {
        sensor_get_calibration(&offset, &gain);
        uart_printf("offset %.3q degC, gain %.4q\r\n", offset, gain);
        return CMD_OK;
    }
    if (argc != 3 || config_set("cal_offset", argv[1]) != CONFIG_OK ||
        config_set("cal_gain", argv[2]) != CONFIG_OK) {
        return CMD_USAGE;
    }
    app_apply_config();
    return CMD_OK;
}

static int cmd_crc(int argc, char **argv)
{
    uint32_t c32 = CRC32_INIT;
    uint16_t c16 = 0xFFFFu;
    size_t total = 0;
    char text[CMD_LINE_MAX];
    if (argc < 2) {
        return CMD_USAGE;
    }
    for (int i = 1; i < argc; i++) {
        size_t n = strlen(argv[i]);
        c32 = crc32_update(c32, argv[i], n);
        c16 = crc16_ccitt(c16, argv[i], n);
        memcpy(text + total, argv[i], n);
        total += n;
        if (i + 1 < argc) {
            c32 = crc32_update(c32, " ", 1);
            c16 = crc16_ccitt(c16, " ", 1);
            text[total++] = ' ';
        }
    }
    uart_printf("crc32 %08lx crc16 %04x crc8 %02x (%u bytes)\r\n", (unsigned long)crc32_final(c32),
                (unsigned)c16, (unsigned)crc8_maxim(text, total), (unsigned)total);
    return CMD_OK;
}

static int cmd_imgcrc(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    uint32_t size = (uint32_t)(__image_end - __image_start);
    uart_printf("image %p..%p (%lu bytes) crc32 %08lx\r\n", (const void *)__image_start,
                (const void *)__image_end, (unsigned long)size,
                (unsigned long)crc32(__image_start, size));
    return CMD_OK;
}

static int cmd_imghash(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    uint8_t digest[SHA256_DIGEST_LEN];
    sha256(__image_start, (size_t)(__image_end - __image_start), digest);
    uart_puts("sha256 ");
    for (unsigned i = 0; i < SHA256_DIGEST_LEN; i++) {
        uart_printf("%02x", digest[i]);
    }
    uart_puts("\r\n");
    return CMD_OK;
}

static int cmd_date(int argc, char **argv)
{
    char text[32];
    if (argc == 3 || argc == 2) {
        uint32_t epoch;
        if (rtc_parse(argv[1], argc == 3 ? argv[2] : NULL, &epoch) != 0) {
            return CMD_USAGE;
        }
        rtc_set(epoch);
    } else if (argc != 1) {
        return CMD_USAGE;
    }
    if (!rtc_is_set()) {
        uart_puts("clock not set\r\n");
        return CMD_OK;
    }
    rtc_format(rtc_now(), text, sizeof text);
    uart_printf("%s (epoch %lu)\r\n", text, (unsigned long)rtc_now());
    return CMD_OK;
}

static int cmd_profile(int argc, char **argv)
{
    if (argc == 1 || (argc == 2 && strcmp(argv[1], "status") == 0)) {
        profile_print_status();
        return CMD_OK;
    }
    if (argc == 2 && strcmp(argv[1], "list") == 0) {
        profile_list();
        return CMD_OK;
    }
    if (argc == 2 && strcmp(argv[1], "stop") == 0) {
        profile_stop();
        return CMD_OK;
    }
    if (argc == 3 && strcmp(argv[1], "run") == 0) {
        if (profile_start(argv[2]) != 0) {
            uart_printf("%s: no such profile\r\n", argv[2]);
            return CMD_FAILED;
        }
        if (app_status()->state == APP_IDLE) {
            (void)app_post(APP_EV_START);
        }
        return CMD_OK;
    }
    return CMD_USAGE;
}

static int hex_nibble(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* "modbus 01 03 00 00 00 02": runs a request (CRC appended) through the slave. */
static int cmd_modbus(int argc, char **argv)
{
    uint8_t req[CMD_ARGS_MAX + 2];
    static uint8_t resp[MODBUS_MAX_FRAME];
    size_t n = 0;
    if (argc == 1) {
        const modbus_stats_t *s = modbus_get_stats();
        uart_printf("modbus addr %u: %lu frames, %lu crc errors, %lu exceptions, %lu other\r\n",
                    MODBUS_ADDRESS, (unsigned long)s->frames, (unsigned long)s->crc_errors,
                    (unsigned long)s->exceptions, (unsigned long)s->not_for_us);
        return CMD_OK;
    }
    for (int i = 1; i < argc; i++) {
        int hi = hex_nibble(argv[i][0]);
        int lo = argv[i][0] ? hex_nibble(argv[i][1]) : -1;
        if (hi < 0 || lo < 0 || argv[i][2] != '\0') {
            return CMD_USAGE;
        }
        req[n++] = (uint8_t)(hi << 4 | lo);
    }
    uint16_t crc = modbus_crc16(req, n);
    req[n++] = (uint8_t)crc;
    req[n++] = (uint8_t)(crc >> 8);
    size_t r = modbus_handle(req, n, resp, sizeof resp);
    uart_puts("reply:");
    for (size_t i = 0; i < r; i++) {
        uart_printf(" %02x", resp[i]);
    }
    uart_puts(r ? "\r\n" : " none\r\n");
    return CMD_OK;
}

static void uart_sink(void *ctx, char c)
{
    (void)ctx;
    uart_putc(c);
}

static int cmd_dump(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        return CMD_USAGE;
    }
    char *end;
    uint32_t addr = strtoul(argv[1], &end, 0);
    if (*end != '\0') {
        return CMD_USAGE;
    }
    uint32_t len = 64;
    if (argc == 3) {
        len = strtoul(argv[2], &end, 0);
        if (*end != '\0' || len == 0 || len > 1024u) {
            return CMD_USAGE;
        }
    }
    uint32_t img_end = (uint32_t)(uintptr_t)__image_end;
    int in_flash = addr < img_end && len <= img_end - addr;
    int in_ram = addr >= 0x20000000u && addr < 0x20010000u && len <= 0x20010000u - addr;
    if (!in_flash && !in_ram) {
        uart_puts("dump: address range not readable\r\n");
        return CMD_FAILED;
    }
    fmt_hexdump(uart_sink, NULL, (const void *)(uintptr_t)addr, len, addr);
    return CMD_OK;
}

static int cmd_math(int argc, char **argv)
{
    fix16_t x, y = 0, r;
    if (argc < 3 || fix_parse(argv[2], &x) != 0 || (argc == 4 && fix_parse(argv[3], &y) != 0)) {
        return CMD_USAGE;
    }
    const char *op = argv[1];
    if (strcmp(op, "sqrt") == 0) {
        r = fix_sqrt(x);
    } else if (strcmp(op, "sin") == 0) {
        r = fix_sin(x);
    } else if (strcmp(op, "cos") == 0) {
        r = fix_cos(x);
    } else if (strcmp(op, "exp") == 0) {
        r = fix_exp(x);
    } else if (strcmp(op, "ln") == 0) {
        r = fix_ln(x);
    } else if (strcmp(op, "log2") == 0) {
        r = fix_log2(x);
    } else if (strcmp(op, "atan2") == 0 && argc == 4) {
        r = fix_atan2(x, y);
    } else if (strcmp(op, "mul") == 0 && argc == 4) {
        r = fix_mul(x, y);
    } else if (strcmp(op, "div") == 0 && argc == 4) {
        r = fix_div(x, y);
    } else {
        return CMD_USAGE;
    }
    uart_printf("%s = %.5q (0x%08lx)\r\n", op, r, (unsigned long)r);
    return CMD_OK;
}

#if SAMPLE_VERSION >= 2
/* 1.1.0: sensor and filter statistics. */
static int cmd_stats(int argc, char **argv)
{
    const sensor_stats_t *s = sensor_stats();
    if (argc == 2 && strcmp(argv[1], "reset") == 0) {
        sensor_stats_reset();
        return CMD_OK;
    }
    if (argc != 1) {
        return CMD_USAGE;
    }
    uart_printf("samples %lu, sensor faults %lu, last adc %u\r\n", (unsigned long)s->samples,
                (unsigned long)s->faults, (unsigned)s->last_adc);
    if (s->samples) {
        uart_printf("min %.2q max %.2q mean %.2q degC\r\n", s->min, s->max, sensor_mean());
    }
    uart_printf("commands %lu (%lu failed), events %lu\r\n", (unsigned long)commands_run,
                (unsigned long)command_errors, (unsigned long)evlog_total());
    return CMD_OK;
}
#endif

static int cmd_uart(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    uart_stats_t s;
    uart_get_stats(&s);
    uart_printf("baud %lu tx %lu rx %lu overruns %lu dropped %lu hw tx %u rx %u\r\n",
                (unsigned long)uart_baud(), (unsigned long)s.tx_bytes, (unsigned long)s.rx_bytes,
                (unsigned long)s.rx_overruns, (unsigned long)s.tx_dropped,
                (unsigned)s.tx_high_water, (unsigned)s.rx_high_water);
    return CMD_OK;
}

static int cmd_sim(int argc, char **argv)
{
    fix16_t t;
    if (argc == 3 && strcmp(argv[1], "ambient") == 0 && fix_parse(argv[2], &t) == 0) {
        sensor_sim_set_ambient(t);
        return CMD_OK;
    }
    if (argc == 3 && strcmp(argv[1], "fault") == 0) {
        if (strcmp(argv[2], "short") == 0) {
            sensor_sim_fault(SENSOR_SHORT);
        } else if (strcmp(argv[2], "open") == 0) {
            sensor_sim_fault(SENSOR_OPEN);
        } else if (strcmp(argv[2], "none") == 0) {
            sensor_sim_fault(SENSOR_OK);
        } else {
            return CMD_USAGE;
        }
        return CMD_OK;
    }
    if (argc == 3 && strcmp(argv[1], "run") == 0) {
        /* Fast-forward: run the control loop without waiting for ticks. */
        char *end;
        uint32_t seconds = strtoul(argv[2], &end, 10);
        if (*end != '\0' || seconds == 0 || seconds > 36000u) {
            return CMD_USAGE;
        }
        uint32_t steps = seconds * 1000u / config.sample_ms;
        for (uint32_t i = 0; i < steps; i++) {
            app_step(config.sample_ms);
        }
        uart_printf("simulated %lu s: %.2q degC (true %.2q), %s\r\n", (unsigned long)seconds,
                    app_status()->temperature, sensor_sim_true_temperature(),
                    app_state_name(app_status()->state));
        return CMD_OK;
    }
    if (argc == 1) {
        uart_printf("true temperature %.2q degC\r\n", sensor_sim_true_temperature());
        return CMD_OK;
    }
    return CMD_USAGE;
}

#if SAMPLE_VERSION >= 3
/* 1.2.0: telemetry control and uptime. */
static int cmd_telem(int argc, char **argv)
{
    if (argc == 1) {
        uart_printf("telemetry %s, every %u samples, %lu frames sent\r\n",
                    config.telemetry ? "on" : "off", (unsigned)config.telemetry_every,
                    (unsigned long)telemetry_frames_sent());
        return CMD_OK;
    }
    if (argc == 2 && strcmp(argv[1], "once") == 0) {
        telemetry_send_once();
        uart_puts("\r\n");
        return CMD_OK;
    }
    if (argc == 3 && strcmp(argv[1], "every") == 0) {
        return config_set("telem_every", argv[2]) == CONFIG_OK ? CMD_OK : CMD_USAGE;
    }
    if (argc == 2) {
        return config_set("telemetry", argv[1]) == CONFIG_OK ? CMD_OK : CMD_USAGE;
    }
    return CMD_USAGE;
}

static int cmd_uptime(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    uint64_t ms = sys_uptime_ms();
    uint32_t s = (uint32_t)(ms / 1000u);
    uart_printf("up %lud %02lu:%02lu:%02lu.%03lu\r\n", (unsigned long)(s / 86400u),
                (unsigned long)(s / 3600u % 24u), (unsigned long)(s / 60u % 60u),
                (unsigned long)(s % 60u), (unsigned long)(ms % 1000u));
    return CMD_OK;
}
#endif

static int cmd_reset(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    uart_puts("resetting\r\n");
    sys_reset(RESET_REASON_COMMAND);
}

/* ---- table ------------------------------------------------------------- */

#if SAMPLE_VERSION >= 3
/* Sorted by name: looked up with bsearch. */
static const command_t commands[] = {
    { "cal", "[offset gain]", "show or set the sensor calibration", cmd_cal },
    { "crc", "text...", "CRC-32/16/8 of the text", cmd_crc },
    { "date", "[yyyy-mm-dd [hh:mm:ss]]", "show or set the clock", cmd_date },
    { "defaults", "", "restore default configuration", cmd_defaults },
    { "dump", "addr [len]", "hex dump of flash or RAM", cmd_dump },
    { "filter", "[mode [preset]]", "show or select the input filter", cmd_filter },
    { "get", "[param]", "show configuration", cmd_get },
    { "help", "[command]", "list commands", cmd_help },
    { "imgcrc", "", "CRC-32 of the firmware image", cmd_imgcrc },
    { "imghash", "", "SHA-256 of the firmware image", cmd_imghash },
    { "log", "[n|clear]", "show the event log", cmd_log },
    { "math", "op x [y]", "fixed-point math check", cmd_math },
    { "modbus", "[hex bytes...]", "Modbus statistics or a test request", cmd_modbus },
    { "profile", "[list|run name|stop]", "temperature profiles", cmd_profile },
    { "reset", "", "restart the device", cmd_reset },
    { "save", "", "store configuration", cmd_save },
    { "set", "param value", "change a configuration value", cmd_set },
    { "sim", "[ambient t|fault f|run s]", "control the simulated sensor", cmd_sim },
    { "start", "", "start regulating", cmd_start },
    { "stats", "[reset]", "sensor and shell statistics", cmd_stats },
    { "status", "", "show controller status", cmd_status },
    { "stop", "", "stop heating", cmd_stop },
    { "telem", "[on|off|once|every n]", "binary telemetry", cmd_telem },
    { "uart", "", "console statistics", cmd_uart },
    { "uptime", "", "time since boot", cmd_uptime },
    { "version", "", "firmware version", cmd_version },
};
#else
static const command_t commands[] = {
    { "help", "[command]", "list commands", cmd_help },
    { "version", "", "firmware version", cmd_version },
    { "status", "", "show controller status", cmd_status },
    { "start", "", "start regulating", cmd_start },
    { "stop", "", "stop heating", cmd_stop },
    { "set", "param value", "change a configuration value", cmd_set },
    { "get", "[param]", "show configuration", cmd_get },
    { "save", "", "store configuration", cmd_save },
    { "defaults", "", "restore default configuration", cmd_defaults },
    { "filter", "[mode [preset]]", "show or select the input filter", cmd_filter },
    { "cal", "[offset gain]", "show or set the sensor calibration", cmd_cal },
    { "log", "[n|clear]", "show the event log", cmd_log },
    { "profile", "[list|run name|stop]", "temperature profiles", cmd_profile },
    { "date", "[yyyy-mm-dd [hh:mm:ss]]", "show or set the clock", cmd_date },
#if SAMPLE_VERSION >= 2
    { "stats", "[reset]", "sensor and shell statistics", cmd_stats },
#endif
    { "crc", "text...", "CRC-32/16/8 of the text", cmd_crc },
    { "imgcrc", "", "CRC-32 of the firmware image", cmd_imgcrc },
    { "imghash", "", "SHA-256 of the firmware image", cmd_imghash },
    { "dump", "addr [len]", "hex dump of flash or RAM", cmd_dump },
    { "math", "op x [y]", "fixed-point math check", cmd_math },
    { "modbus", "[hex bytes...]", "Modbus statistics or a test request", cmd_modbus },
    { "uart", "", "console statistics", cmd_uart },
    { "sim", "[ambient t|fault f|run s]", "control the simulated sensor", cmd_sim },
    { "reset", "", "restart the device", cmd_reset },
};
#endif

#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static int cmd_help(int argc, char **argv)
{
    if (argc == 2) {
        const command_t *c = find_command(argv[1]);
        if (c == NULL) {
            uart_printf("%s: no such command\r\n", argv[1]);
            return CMD_FAILED;
        }
        print_usage(c);
        uart_printf("  %s\r\n", c->help);
        return CMD_OK;
    }
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        char head[40];
        fmt_snprintf(head, sizeof head, "%s %s", commands[i].name, commands[i].args);
        uart_printf("  %-30s %s\r\n", head, commands[i].help);
    }
    return CMD_OK;
}

#if SAMPLE_VERSION >= 3
static int command_compare(const void *key, const void *elem)
{
    return strcmp((const char *)key, ((const command_t *)elem)->name);
}

static const command_t *find_command(const char *name)
{
    return bsearch(name, commands, COMMAND_COUNT, sizeof commands[0], command_compare);
}
#else
static const command_t *find_command(const char *name)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        if (strcmp(commands[i].name, name) == 0) {
            return &commands[i];
        }
    }
    return NULL;
}
#endif

static void print_usage(const command_t *c)
{
    uart_printf("usage: %s %s\r\n", c->name, c->args);
}

/* ---- parser ------------------------------------------------------------ */

/* Splits on blanks; "double quotes" group words. Returns argc or -1. */
static int tokenize(char *s, char **argv, int max)
{
    int argc = 0;
    while (*s) {
        while (*s == ' ' || *s == '\t') {
            s++;
        }
        if (*s == '\0') {
            break;
        }
        if (argc == max) {
            return -1;
        }
        if (*s == '"') {
            argv[argc++] = ++s;
            while (*s && *s != '"') {
                s++;
            }
            if (*s != '"') {
                return -1;
            }
        } else {
            argv[argc++] = s;
            while (*s && *s != ' ' && *s != '\t') {
                s++;
            }
        }
        if (*s) {
            *s++ = '\0';
        }
    }
    return argc;
}

int cmd_execute(char *text)
{
    char *argv[CMD_ARGS_MAX];
    int argc = tokenize(text, argv, CMD_ARGS_MAX);
    if (argc < 0) {
        uart_puts("error: bad quoting or too many arguments\r\n");
        command_errors++;
        return CMD_USAGE;
    }
    if (argc == 0) {
        return CMD_OK;
    }
    const command_t *c = find_command(argv[0]);
    if (c == NULL) {
        uart_printf("%s: unknown command, try help\r\n", argv[0]);
        command_errors++;
        evlog_add(EV_COMMAND_ERROR, 0);
        return CMD_FAILED;
    }
    commands_run++;
    int r = c->fn(argc, argv);
    if (r == CMD_USAGE) {
        print_usage(c);
    }
    if (r != CMD_OK) {
        command_errors++;
        evlog_add(EV_COMMAND_ERROR, (int32_t)(c - commands));
    }
    return r;
}

unsigned cmd_count(void)
{
    return COMMAND_COUNT;
}

void cmd_init(void)
{
    line_len = 0;
    last_char = 0;
}

void cmd_prompt(void)
{
    uart_puts("> ");
}

void cmd_input_char(char c)
{
    if (c == '\n' && last_char == '\r') {
        last_char = c;
        return;
    }
    last_char = c;
    if (c == '\r' || c == '\n') {
        uart_puts("\r\n");
        line[line_len] = '\0';
        (void)cmd_execute(line);
        line_len = 0;
        cmd_prompt();
    } else if (c == 0x08 || c == 0x7F) {
#if SAMPLE_VERSION >= 2
        if (line_len > 0) {
            line_len--;
            uart_puts("\b \b");
        }
#else
        line_len--;
        uart_puts("\b \b");
#endif
    } else if (c == 0x03) {
        uart_puts("^C\r\n");
        line_len = 0;
        cmd_prompt();
    } else if (c >= 0x20 && c < 0x7F) {
        if (line_len < CMD_LINE_MAX - 1) {
            line[line_len++] = c;
            uart_putc(c);
        } else {
            uart_putc('\a');
        }
    }
}
