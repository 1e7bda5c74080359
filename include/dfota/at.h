/* dfota - the host-side AT/URC parser: bytes from a module in, events out.
 *
 * This is the library an external MCU (or a laptop: `dfota update`) links to
 * drive a BC20-style module through AT+QFOTADL. It assembles lines, tells
 * final result codes from information lines and URCs, and parses the
 * +QIND: "FOTA",<stage>[,<value>...] URCs in every form seen in the field.
 * Portable C11: no malloc, no stdio, no OS calls; the caller owns the state.
 *
 * The loop (complete, for an MCU; see docs/host.md):
 *
 *     struct dfota_at at;
 *     struct dfota_at_event ev;
 *     dfota_at_init(&at);
 *     uart_write("AT+QFOTADL=\"http://example.com/u.pkg\"\r");
 *     dfota_at_command(&at, "AT+QFOTADL=\"http://example.com/u.pkg\"");
 *     for (;;) {
 *         int c = uart_getc();                      // next byte from the module
 *         if (c >= 0 && dfota_at_putc(&at, (uint8_t)c, &ev))
 *             handle(&ev);                          // OK, ERROR, a line, a URC
 *         else if (c < 0 && idle_for_100ms() && dfota_at_flush(&at, &ev))
 *             handle(&ev);                          // a line that never got its LF
 *     }
 *
 * Framing. A line ends at LF. CR bytes are dropped wherever they are, so
 * "\r\nOK\r\n", boot lines ending in "\n\r", and a stray CR inside a line all
 * give the same clean lines. Empty lines are skipped. Leading and trailing
 * spaces are trimmed. A line longer than DFOTA_AT_LINE_MAX - 1 bytes is cut:
 * its first bytes are reported as DFOTA_AT_EV_OVERFLOW and the rest, up to
 * the next LF, is dropped. A NUL byte inside a line is kept and counted in
 * .len (C string functions stop at it; FOTA URCs with one are malformed).
 *
 * Classification of a line, in this order:
 *   OK                      -> DFOTA_AT_EV_OK (final)
 *   ERROR, +CME ERROR: <n>,
 *   +CMS ERROR: <n>,
 *   NO CARRIER, BUSY, ...   -> DFOTA_AT_EV_ERROR (final), code in .value
 *   +QIND: "FOTA",...       -> DFOTA_AT_EV_FOTA or DFOTA_AT_EV_FOTA_BAD
 *   the echo of the pending
 *   command, or any "AT..."
 *   line when none pends    -> DFOTA_AT_EV_ECHO
 *   +NAME: ... where +NAME
 *   is a command of the
 *   pending command line    -> DFOTA_AT_EV_INFO
 *   any other +NAME: ...    -> DFOTA_AT_EV_URC (e.g. +IP:, +CPIN: at boot)
 *   anything else           -> DFOTA_AT_EV_INFO ("Revision: A01", boot lines),
 *                              with DFOTA_AT_F_UNSOLICITED when no command pends
 * A command pends from dfota_at_command() until its final result code. */
#ifndef DFOTA_AT_H
#define DFOTA_AT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Line buffer, NUL included. The default holds the echo of a 255-byte
 * AT+QFOTADL URL. Define it the same for every file that includes this. */
#ifndef DFOTA_AT_LINE_MAX
#define DFOTA_AT_LINE_MAX 320
#endif
/* Command names of the pending command line ("+CESQ+CEREG+CPIN"). */
#define DFOTA_AT_NAMES_MAX 48
/* Bytes of the pending command kept to recognise its echo. */
#define DFOTA_AT_ECHO_MAX 40

enum dfota_at_ev {
    DFOTA_AT_EV_NONE = 0,
    DFOTA_AT_EV_OK,        /* final result OK */
    DFOTA_AT_EV_ERROR,     /* final result: ERROR (.value -1), +CME/+CMS ERROR: n (.value n,
                            * or -2 for a verbose text), or a V.250 failure (NO CARRIER ...: -3) */
    DFOTA_AT_EV_INFO,      /* an information line, or a line nobody asked for (boot banner) */
    DFOTA_AT_EV_ECHO,      /* the module echoing a command */
    DFOTA_AT_EV_URC,       /* an unsolicited +NAME: line other than a FOTA one */
    DFOTA_AT_EV_FOTA,      /* +QIND: "FOTA",<stage>[,<value>]: .stage, .value */
    DFOTA_AT_EV_FOTA_BAD,  /* a FOTA URC that cannot be trusted: .bad says why */
    DFOTA_AT_EV_OVERFLOW,  /* a line longer than the buffer (first bytes in .line) */
};

/* FOTA stages. Names match whole words, case-insensitively. */
enum dfota_at_stage {
    DFOTA_AT_STAGE_UNKNOWN = 0, /* a stage this parser does not know: .stage_name holds it */
    DFOTA_AT_STAGE_HTTPSTART,   /* also the guide's misspelling HTTPTART */
    DFOTA_AT_STAGE_DOWNLOADING, /* value: percent 0-100 */
    DFOTA_AT_STAGE_HTTPEND,     /* value: http_err (0, 12, 13, 20; others on other families) */
    DFOTA_AT_STAGE_FTPSTART,
    DFOTA_AT_STAGE_FTPEND,      /* value: error code */
    DFOTA_AT_STAGE_FILESTART,
    DFOTA_AT_STAGE_FILEEND,     /* value: error code */
    DFOTA_AT_STAGE_START,
    DFOTA_AT_STAGE_UPDATING,    /* value: percent 0-100 */
    DFOTA_AT_STAGE_RESTORE,     /* value: percent 0-100 */
    DFOTA_AT_STAGE_END,         /* value: err (0, 1, 2, 254, 255; others on other families) */
    DFOTA_AT_STAGE_COUNT
};

/* Why a FOTA URC was reported as DFOTA_AT_EV_FOTA_BAD. */
enum dfota_at_bad {
    DFOTA_AT_BAD_NONE = 0,
    DFOTA_AT_BAD_SYNTAX,    /* quotes, commas or stage name malformed, or bytes that are not text */
    DFOTA_AT_BAD_NO_VALUE,  /* a stage that carries a value (percent or code) came without one */
    DFOTA_AT_BAD_NUMBER,    /* the value is not a decimal number, or too large */
    DFOTA_AT_BAD_RANGE,     /* a percent outside 0-100 (the number is still in .value) */
};

/* Flags of an event. */
#define DFOTA_AT_F_PERCENT     0x01u /* the value carried a % sign */
#define DFOTA_AT_F_EXTRA       0x02u /* fields after the value were ignored (",1%,1,1") */
#define DFOTA_AT_F_UNSOLICITED 0x04u /* no command was pending when the line came */
#define DFOTA_AT_F_NOISE       0x08u /* bytes that are not text were dropped before the line */
#define DFOTA_AT_F_MISSPELT    0x10u /* the stage was the guide's "HTTPTART" */

struct dfota_at_event {
    enum dfota_at_ev type;
    const char *line;         /* the line, trimmed, NUL-terminated; valid until the next call */
    uint16_t len;
    uint8_t flags;            /* DFOTA_AT_F_* */
    uint8_t bad;              /* enum dfota_at_bad, for DFOTA_AT_EV_FOTA_BAD */
    enum dfota_at_stage stage;
    const char *stage_name;   /* FOTA: the stage as received (NUL-terminated), "" if none */
    int32_t value;            /* FOTA: percent or code, -1 when absent; ERROR: see above */
};

/* The parser state. Treat the fields as private. */
struct dfota_at {
    char line[DFOTA_AT_LINE_MAX];
    char names[DFOTA_AT_NAMES_MAX];
    char echo[DFOTA_AT_ECHO_MAX];
    char stage[16];
    uint16_t len;
    uint8_t pending;
    uint8_t dropping;   /* the current line overflowed: skip to LF */
    uint8_t noise;      /* non-text bytes seen in the current line */
    uint8_t echo_len;
};

void dfota_at_init(struct dfota_at *p);

/* Tell the parser which command line was just sent ("AT+CESQ;+CEREG?",
 * with or without the CR). Its +NAME: answers become DFOTA_AT_EV_INFO
 * instead of URCs, and its echo is recognised, until the final result. */
void dfota_at_command(struct dfota_at *p, const char *cmd);

/* Forget the pending command (e.g. after a timeout with no final result). */
void dfota_at_cancel(struct dfota_at *p);

/* Nonzero while a command waits for its final result code. */
int dfota_at_pending(const struct dfota_at *p);

/* Feed one byte. Returns 1 and fills *ev when it completed an event. */
int dfota_at_putc(struct dfota_at *p, uint8_t c, struct dfota_at_event *ev);

/* Feed up to len bytes; stops after the first event. Returns the number of
 * bytes consumed; ev->type is DFOTA_AT_EV_NONE when none completed. */
size_t dfota_at_feed(struct dfota_at *p, const uint8_t *buf, size_t len, struct dfota_at_event *ev);

/* End the line being assembled as if an LF came (call after an idle gap).
 * Returns 1 and fills *ev when that made an event. */
int dfota_at_flush(struct dfota_at *p, struct dfota_at_event *ev);

/* ---- helpers for information lines -------------------------------------- */

/* If line starts with name (e.g. "+CEREG", case-insensitive) followed by ':',
 * return the parameters after it (spaces skipped), else NULL. */
const char *dfota_at_params(const char *line, const char *name);

/* The idx-th (0-based) comma-separated parameter as an integer. Returns 0 on
 * success, -1 if it is missing or not a number. */
int dfota_at_param_int(const char *params, unsigned idx, int32_t *out);

/* The idx-th parameter as text, quotes removed, NUL-terminated in out[n].
 * Returns its length, or -1 if it is missing or does not fit. */
int dfota_at_param_str(const char *params, unsigned idx, char *out, size_t n);

/* "Revision: BC20NBR01A10" -> "BC20NBR01A10". Returns the text after the
 * label or NULL when the line is not a revision line. */
const char *dfota_at_revision(const char *line);

/* Is this a line a module prints when it (re)boots, with no command pending?
 * The MT2625 boot-ROM banner ("F1: ...", "Leaving the BROM"), an unsolicited
 * +CPIN: (SIM start-up), "RDY" (other Quectel families). Not +IP:, which
 * also comes when the network returns after an outage. */
int dfota_at_is_boot_line(const struct dfota_at_event *ev);

/* ---- names and meanings -------------------------------------------------- */

/* "HTTPSTART", "DOWNLOADING", ..., "UNKNOWN". Never NULL. */
const char *dfota_at_stage_str(enum dfota_at_stage s);
/* The stage's value is a percent (DOWNLOADING, UPDATING, RESTORE). */
int dfota_at_stage_is_percent(enum dfota_at_stage s);
/* The stage's value is a result code (HTTPEND, FTPEND, FILEEND, END). */
int dfota_at_stage_is_code(enum dfota_at_stage s);
/* Meaning of HTTPEND's <http_err> (spec table), "unknown download error" otherwise. */
const char *dfota_at_http_err_str(int32_t code);
/* Meaning of END's <err> (spec table), "unknown update error" otherwise. */
const char *dfota_at_fota_err_str(int32_t code);
/* Why a FOTA URC was rejected. */
const char *dfota_at_bad_str(enum dfota_at_bad b);

/* ---- LwM2M Firmware Update object (/5) ------------------------------------ */

/* /5/0/3 State and /5/0/5 Update Result (OMA LwM2M 1.1). */
enum dfota_lwm2m_state {
    DFOTA_LWM2M_IDLE = 0, DFOTA_LWM2M_DOWNLOADING = 1, DFOTA_LWM2M_DOWNLOADED = 2,
    DFOTA_LWM2M_UPDATING = 3
};
enum dfota_lwm2m_result {
    DFOTA_LWM2M_INITIAL = 0, DFOTA_LWM2M_SUCCESS = 1, DFOTA_LWM2M_NO_FLASH = 2,
    DFOTA_LWM2M_NO_RAM = 3, DFOTA_LWM2M_CONN_LOST = 4, DFOTA_LWM2M_INTEGRITY = 5,
    DFOTA_LWM2M_UNSUPPORTED = 6, DFOTA_LWM2M_INVALID_URI = 7, DFOTA_LWM2M_FAILED = 8,
    DFOTA_LWM2M_PROTOCOL = 9
};

/* Update *state and *result for one well-formed FOTA event (the table of
 * docs/host.md). Returns 1 if it changed either, 0 if the event leaves the
 * object as it is (progress, unknown stages, END,2 busy). */
int dfota_at_lwm2m(const struct dfota_at_event *ev, enum dfota_lwm2m_state *state,
                   enum dfota_lwm2m_result *result);

#ifdef __cplusplus
}
#endif
#endif
