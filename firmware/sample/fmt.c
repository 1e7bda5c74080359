/*
 * Small printf-style formatter used for the console and for building
 * telemetry strings. Output goes to a sink callback, one character at a time.
 */
#include "fmt.h"

#include <stdint.h>
#include <string.h>

#define FL_LEFT 0x01u
#define FL_PLUS 0x02u
#define FL_SPACE 0x04u
#define FL_ZERO 0x08u
#define FL_ALT 0x10u
#define FL_UPPER 0x20u

typedef struct {
    fmt_sink_t sink;
    void *ctx;
    int count;
} out_t;

typedef struct {
    unsigned flags;
    int width;
    int prec; /* -1: not given */
} spec_t;

static void put(out_t *o, char c)
{
    o->sink(o->ctx, c);
    o->count++;
}

static void put_repeat(out_t *o, char c, int n)
{
    while (n-- > 0) {
        put(o, c);
    }
}

static void put_str(out_t *o, const char *s, int len, const spec_t *sp)
{
    int pad = sp->width - len;
    if (!(sp->flags & FL_LEFT)) {
        put_repeat(o, ' ', pad);
    }
    for (int i = 0; i < len; i++) {
        put(o, s[i]);
    }
    if (sp->flags & FL_LEFT) {
        put_repeat(o, ' ', pad);
    }
}

static void put_number(out_t *o, unsigned long long v, int negative, unsigned base,
                       const spec_t *sp)
{
    static const char lower[] = "0123456789abcdef";
    static const char upper[] = "0123456789ABCDEF";
    const char *digits = (sp->flags & FL_UPPER) ? upper : lower;
    char buf[66];
    int n = 0;

    if (v == 0 && sp->prec == 0) {
        n = 0; /* "%.0d" of zero prints nothing */
    } else {
        do {
            buf[n++] = digits[v % base];
            v /= base;
        } while (v != 0);
    }

    int zeros = sp->prec > n ? sp->prec - n : 0;
    char sign = 0;
    if (negative) {
        sign = '-';
    } else if (sp->flags & FL_PLUS) {
        sign = '+';
    } else if (sp->flags & FL_SPACE) {
        sign = ' ';
    }
    const char *prefix = "";
    if (sp->flags & FL_ALT) {
        if (base == 16) {
            prefix = (sp->flags & FL_UPPER) ? "0X" : "0x";
        } else if (base == 8 && zeros == 0) {
            prefix = "0";
        } else if (base == 2) {
            prefix = "0b";
        }
    }
    int plen = (int)strlen(prefix);
    int len = n + zeros + (sign ? 1 : 0) + plen;
    int pad = sp->width > len ? sp->width - len : 0;

    if ((sp->flags & FL_ZERO) && !(sp->flags & FL_LEFT) && sp->prec < 0) {
#if SAMPLE_VERSION >= 2
        if (sign) {
            put(o, sign);
        }
        for (int i = 0; i < plen; i++) {
            put(o, prefix[i]);
        }
        put_repeat(o, '0', pad);
#else
        /* 1.0.0: the padding went in front of the sign ("00-42"). */
        put_repeat(o, '0', pad);
        if (sign) {
            put(o, sign);
        }
        for (int i = 0; i < plen; i++) {
            put(o, prefix[i]);
        }
#endif
    } else {
        if (!(sp->flags & FL_LEFT)) {
            put_repeat(o, ' ', pad);
        }
        if (sign) {
            put(o, sign);
        }
        for (int i = 0; i < plen; i++) {
            put(o, prefix[i]);
        }
    }
    put_repeat(o, '0', zeros);
    while (n > 0) {
        put(o, buf[--n]);
    }
    if (sp->flags & FL_LEFT) {
        put_repeat(o, ' ', pad);
    }
}

/* Q16.16 with sp->prec decimals, rounded half away from zero. */
static void put_fixed(out_t *o, int32_t q, const spec_t *sp)
{
    static const uint32_t pow10[] = { 1u, 10u, 100u, 1000u, 10000u, 100000u };
    int decimals = sp->prec < 0 ? 2 : (sp->prec > 5 ? 5 : sp->prec);
    int negative = q < 0;
    uint64_t mag = negative ? (uint64_t)(-(int64_t)q) : (uint64_t)q;
    uint64_t scaled = (mag * pow10[decimals] + 0x8000u) >> 16;
    uint32_t ipart = (uint32_t)(scaled / pow10[decimals]);
    uint32_t fpart = (uint32_t)(scaled % pow10[decimals]);
    char buf[24];
    int n = 0;

    for (int i = 0; i < decimals; i++) {
        buf[n++] = (char)('0' + fpart % 10u);
        fpart /= 10u;
    }
    if (decimals > 0) {
        buf[n++] = '.';
    }
    do {
        buf[n++] = (char)('0' + ipart % 10u);
        ipart /= 10u;
    } while (ipart != 0);
    if (negative && (scaled != 0)) {
        buf[n++] = '-';
    } else if (sp->flags & FL_PLUS) {
        buf[n++] = '+';
    }
    char text[24];
    for (int i = 0; i < n; i++) {
        text[i] = buf[n - 1 - i];
    }
    spec_t s = *sp;
    put_str(o, text, n, &s);
}

int fmt_vformat(fmt_sink_t sink, void *ctx, const char *fmt, va_list ap)
{
    out_t o = { sink, ctx, 0 };

    while (*fmt) {
        if (*fmt != '%') {
            put(&o, *fmt++);
            continue;
        }
        fmt++;
        spec_t sp = { 0, 0, -1 };

        for (;; fmt++) {
            if (*fmt == '-') {
                sp.flags |= FL_LEFT;
            } else if (*fmt == '+') {
                sp.flags |= FL_PLUS;
            } else if (*fmt == ' ') {
                sp.flags |= FL_SPACE;
            } else if (*fmt == '0') {
                sp.flags |= FL_ZERO;
            } else if (*fmt == '#') {
                sp.flags |= FL_ALT;
            } else {
                break;
            }
        }
        if (*fmt == '*') {
            sp.width = va_arg(ap, int);
            if (sp.width < 0) {
                sp.flags |= FL_LEFT;
                sp.width = -sp.width;
            }
            fmt++;
        } else {
            while (*fmt >= '0' && *fmt <= '9') {
                sp.width = sp.width * 10 + (*fmt++ - '0');
            }
        }
        if (*fmt == '.') {
            fmt++;
            sp.prec = 0;
            if (*fmt == '*') {
                sp.prec = va_arg(ap, int);
                fmt++;
            } else {
                while (*fmt >= '0' && *fmt <= '9') {
                    sp.prec = sp.prec * 10 + (*fmt++ - '0');
                }
            }
        }

        int length = 0; /* -2 hh, -1 h, 0 int, 1 long, 2 long long, 3 size_t */
        if (*fmt == 'h') {
            length = -1;
            if (*++fmt == 'h') {
                length = -2;
                fmt++;
            }
        } else if (*fmt == 'l') {
            length = 1;
            if (*++fmt == 'l') {
                length = 2;
                fmt++;
            }
        } else if (*fmt == 'z') {
            length = 3;
            fmt++;
        }

        char conv = *fmt;
        if (conv == '\0') {
            break;
        }
        fmt++;

        switch (conv) {
        case 'd':
        case 'i': {
            long long v;
            if (length == 2) {
                v = va_arg(ap, long long);
            } else if (length == 1) {
                v = va_arg(ap, long);
            } else if (length == 3) {
                v = (long long)va_arg(ap, size_t);
            } else {
                v = va_arg(ap, int);
                if (length == -1) {
                    v = (short)v;
                } else if (length == -2) {
                    v = (signed char)v;
                }
            }
            unsigned long long mag = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
            put_number(&o, mag, v < 0, 10, &sp);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'o':
        case 'b': {
            unsigned long long v;
            if (length == 2) {
                v = va_arg(ap, unsigned long long);
            } else if (length == 1) {
                v = va_arg(ap, unsigned long);
            } else if (length == 3) {
                v = va_arg(ap, size_t);
            } else {
                v = va_arg(ap, unsigned int);
                if (length == -1) {
                    v = (unsigned short)v;
                } else if (length == -2) {
                    v = (unsigned char)v;
                }
            }
            unsigned base = conv == 'u' ? 10u : conv == 'o' ? 8u : conv == 'b' ? 2u : 16u;
            if (conv == 'X') {
                sp.flags |= FL_UPPER;
            }
            put_number(&o, v, 0, base, &sp);
            break;
        }
        case 'p': {
            uintptr_t v = (uintptr_t)va_arg(ap, void *);
            sp.flags |= FL_ALT;
            sp.prec = 8;
            put_number(&o, v, 0, 16, &sp);
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            put_str(&o, &c, 1, &sp);
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (s == NULL) {
                s = "(null)";
            }
            int len = 0;
            while (s[len] && (sp.prec < 0 || len < sp.prec)) {
                len++;
            }
            put_str(&o, s, len, &sp);
            break;
        }
        case 'q':
            put_fixed(&o, va_arg(ap, int32_t), &sp);
            break;
        case '%':
            put(&o, '%');
            break;
        default:
            put(&o, '%');
            put(&o, conv);
            break;
        }
    }
    return o.count;
}

typedef struct {
    char *buf;
    size_t size;
    size_t pos;
} buf_sink_t;

static void buffer_sink(void *ctx, char c)
{
    buf_sink_t *b = ctx;
    if (b->pos + 1 < b->size) {
        b->buf[b->pos] = c;
    }
    b->pos++;
}

int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    buf_sink_t b = { buf, size, 0 };
    int n = fmt_vformat(buffer_sink, &b, fmt, ap);
    if (size > 0) {
        buf[b.pos < size ? b.pos : size - 1] = '\0';
    }
    return n;
}

int fmt_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = fmt_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

static int sink_printf(fmt_sink_t sink, void *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = fmt_vformat(sink, ctx, fmt, ap);
    va_end(ap);
    return n;
}

void fmt_hexdump(fmt_sink_t sink, void *ctx, const void *data, size_t len, unsigned long base)
{
    const uint8_t *p = data;
    for (size_t off = 0; off < len; off += 16) {
        size_t n = len - off < 16 ? len - off : 16;
        sink_printf(sink, ctx, "%08lx ", base + (unsigned long)off);
        for (size_t i = 0; i < 16; i++) {
            if (i < n) {
                sink_printf(sink, ctx, " %02x", p[off + i]);
            } else {
                sink_printf(sink, ctx, "   ");
            }
            if (i == 7) {
                sink(ctx, ' ');
            }
        }
        sink_printf(sink, ctx, "  |");
        for (size_t i = 0; i < n; i++) {
            uint8_t c = p[off + i];
            sink(ctx, (c >= 0x20 && c < 0x7f) ? (char)c : '.');
        }
        sink_printf(sink, ctx, "|\r\n");
    }
}
