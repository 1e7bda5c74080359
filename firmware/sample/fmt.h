/*
 * Small printf-style formatter.
 *
 * Conversions: %d %i %u %x %X %o %b %c %s %p %% and %q (Q16.16 fixed point,
 * precision = decimals, default 2). Flags: - + space 0 #. Width and
 * precision may be given as numbers or '*'. Length: hh h l ll z.
 */
#ifndef SAMPLE_FMT_H
#define SAMPLE_FMT_H

#include <stdarg.h>
#include <stddef.h>

typedef void (*fmt_sink_t)(void *ctx, char c);

int fmt_vformat(fmt_sink_t sink, void *ctx, const char *fmt, va_list ap);
int fmt_snprintf(char *buf, size_t size, const char *fmt, ...);
int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

/* Hex dump of len bytes, 16 per line, prefixed by base + offset. */
void fmt_hexdump(fmt_sink_t sink, void *ctx, const void *data, size_t len, unsigned long base);

#endif
