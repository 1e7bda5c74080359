/* dfota CLI: exit codes, messages, numbers, strings. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dfota/error.h"
#include "util.h"

const char *cli_cmd;
int cli_quiet, cli_verbose;

/* The one table of exit codes (docs/cli.md#exit-codes). */
int cli_exit_for(int err)
{
    switch (err) {
    case DFOTA_OK:            return 0;
    case DFOTA_ERR_IO:        return EXIT_IO;
    case DFOTA_ERR_ARG:       return EXIT_USAGE;
    case DFOTA_ERR_SOURCE:    return EXIT_SOURCE;
    case DFOTA_ERR_SIGNATURE: return EXIT_SIGNATURE;
    case DFOTA_ERR_MAGIC:
    case DFOTA_ERR_VERSION:
    case DFOTA_ERR_HEADER:
    case DFOTA_ERR_SIZE:
    case DFOTA_ERR_PAYLOAD:
    case DFOTA_ERR_ALGORITHM:
    case DFOTA_ERR_CORRUPT:
    case DFOTA_ERR_TARGET:    return EXIT_INVALID;
    case DFOTA_ERR_PRODUCT:
    case DFOTA_ERR_LAYOUT:
    case DFOTA_ERR_NOSPACE:
    case DFOTA_ERR_DOWNGRADE: return EXIT_POLICY;
    case CLI_ERR_NOMEM:       /* fall through: internal */
    default:                  return EXIT_INTERNAL;
    }
}

void cli_err(const char *fmt, ...)
{
    va_list ap;
    fputs("dfota: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_usage(const char *fmt, ...)
{
    va_list ap;
    fputs("dfota: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (cli_cmd)
        fprintf(stderr, " (see 'dfota %s --help')\n", cli_cmd);
    else
        fputs(" (see 'dfota --help')\n", stderr);
    return EXIT_USAGE;
}

int cli_oom(const char *what)
{
    cli_err("out of memory %s", what);
    return cli_exit_for(CLI_ERR_NOMEM);
}

int cli_parse_u64(const char *s, uint64_t *v, int sizes)
{
    char *end;
    unsigned long long x, mul = 1;

    if (!*s || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    errno = 0;
    x = strtoull(s, &end, 0);
    if (errno || end == s)
        return -1;
    if (*end) {
        if (!sizes)
            return -1;
        if (!strcmp(end, "k") || !strcmp(end, "K") || !strcmp(end, "KiB") || !strcmp(end, "Ki"))
            mul = 1024;
        else if (!strcmp(end, "M") || !strcmp(end, "MiB") || !strcmp(end, "Mi"))
            mul = 1024 * 1024;
        else if (!strcmp(end, "G") || !strcmp(end, "GiB") || !strcmp(end, "Gi"))
            mul = 1024ull * 1024 * 1024;
        else if (!strcmp(end, "kB") || !strcmp(end, "KB"))
            mul = 1000;
        else if (!strcmp(end, "MB"))
            mul = 1000 * 1000;
        else if (!strcmp(end, "GB"))
            mul = 1000ull * 1000 * 1000;
        else
            return -1;
        if (x > UINT64_MAX / mul)
            return -1;
    }
    *v = x * mul;
    return 0;
}

int cli_parse_u32(const char *s, uint32_t *v, int sizes)
{
    uint64_t x;
    if (cli_parse_u64(s, &x, sizes) || x > UINT32_MAX)
        return -1;
    *v = (uint32_t)x;
    return 0;
}

int cli_check_id(const char *opt, const char *s)
{
    size_t i, n = strlen(s);
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch > 0x7E) {
            cli_usage("%s '%s': byte %zu is 0x%02x; strings are printable ASCII (0x20-0x7e)", opt,
                      s, i + 1, ch);
            return EXIT_USAGE;
        }
    }
    if (n > DFOTA_PKG_ID_LEN - 1) {
        cli_usage("%s is %zu bytes long; the header holds at most %u bytes (31 characters)", opt, n,
                  DFOTA_PKG_ID_LEN - 1);
        return EXIT_USAGE;
    }
    return 0;
}

void cli_runs_str(char *out, const struct dfota_pkg_run *r, uint32_t n)
{
    uint32_t i;
    size_t at = 0;
    out[0] = 0;
    for (i = 0; i < n && i < DFOTA_MAX_RUNS; i++) {
        uint32_t lo = r[i].first, hi = r[i].first + r[i].n - 1;
        const char *sep = i ? "," : "";
        if (r[i].n == 1)
            at += (size_t)snprintf(out + at, CLI_RUNS_STR_MAX - at, "%s%u", sep, lo);
        else
            at += (size_t)snprintf(out + at, CLI_RUNS_STR_MAX - at, "%s%u-%u", sep,
                                   r[i].back ? hi : lo, r[i].back ? lo : hi);
    }
}

void cli_hex(char *out, const uint8_t *in, size_t n)
{
    static const char d[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = 0;
}

const char *cli_json_str(char *out, const char *s)
{
    char *o = out;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            *o++ = '\\';
            *o++ = (char)ch;
        } else if (ch < 0x20 || ch == 0x7F) {
            o += sprintf(o, "\\u%04x", ch);
        } else {
            *o++ = (char)ch;
        }
    }
    *o = 0;
    return out;
}

void cli_json_put(const char *key, const char *s, int comma)
{
    char *o = malloc(6 * strlen(s) + 1);
    printf("%s\"%s\":\"%s\"", comma ? "," : "", key, o ? cli_json_str(o, s) : "");
    free(o);
}

int cli_parse_format(const char *arg, const char **format)
{
    if (strcmp(arg, "auto") && strcmp(arg, "bin") && strcmp(arg, "hex") && strcmp(arg, "elf"))
        return cli_usage("--input-format '%s': it is auto, bin, hex or elf", arg);
    *format = arg;
    return 0;
}

int cli_parse_base(const char *arg, uint64_t *base)
{
    if (cli_parse_u64(arg, base, 0) || *base > 0xFFFFFFFFull)
        return cli_usage("--base '%s': a 32-bit address (e.g. 0x08000000)", arg);
    return 0;
}
