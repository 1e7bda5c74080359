/* dfota AT/URC parser: see include/dfota/at.h for the contract. */
#include "dfota/at.h"

#include <string.h>

static int is_text(uint8_t c)
{
    return (c >= 0x20 && c < 0x7f) || c == '\t';
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int is_word(char c)
{
    return is_alpha(c) || is_digit(c) || c == '_';
}

static char upper(char c)
{
    return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

/* Case-insensitive: does s (length n) start with the NUL-terminated prefix? */
static int ci_prefix(const char *s, size_t n, const char *prefix)
{
    size_t i;
    for (i = 0; prefix[i]; i++)
        if (i >= n || upper(s[i]) != upper(prefix[i]))
            return 0;
    return 1;
}

static int ci_equal(const char *a, size_t n, const char *b)
{
    return strlen(b) == n && ci_prefix(a, n, b);
}

static void reset_line(struct dfota_at *p)
{
    p->len = 0;
    p->dropping = 0;
    p->noise = 0;
}

void dfota_at_init(struct dfota_at *p)
{
    memset(p, 0, sizeof *p);
}

void dfota_at_cancel(struct dfota_at *p)
{
    p->pending = 0;
    p->names[0] = 0;
    p->echo_len = 0;
}

int dfota_at_pending(const struct dfota_at *p)
{
    return p->pending;
}

/* Append name and ',' to the list; a name that does not fit is left out, so
 * its answers come as URCs rather than being lost. */
static void add_name(struct dfota_at *p, const char *name, size_t n)
{
    size_t used = strlen(p->names);
    if (n == 0 || used + n + 2 > sizeof p->names)
        return;
    memcpy(p->names + used, name, n);
    p->names[used + n] = ',';
    p->names[used + n + 1] = 0;
}

static int has_name(const struct dfota_at *p, const char *name, size_t n)
{
    const char *s = p->names;
    while (*s) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        if (len == n) {
            size_t i;
            for (i = 0; i < n && upper(s[i]) == upper(name[i]); i++)
                ;
            if (i == n)
                return 1;
        }
        if (!comma)
            break;
        s = comma + 1;
    }
    return 0;
}

void dfota_at_command(struct dfota_at *p, const char *cmd)
{
    size_t n = strlen(cmd), i = 0, e = 0;

    dfota_at_cancel(p);
    while (n && (cmd[n - 1] == '\r' || cmd[n - 1] == '\n' || is_space(cmd[n - 1])))
        n--;
    while (i < n && is_space(cmd[i]))
        i++;
    /* The echo is the command as sent (its first bytes). */
    for (e = 0; i + e < n && e < sizeof p->echo - 1; e++)
        p->echo[e] = cmd[i + e];
    p->echo[e] = 0;
    p->echo_len = (uint8_t)e;
    p->pending = 1;

    /* Names of the extended commands: AT+CESQ;+CEREG?;+CPIN? -> CESQ,CEREG,CPIN, */
    while (i < n) {
        size_t s;
        int quoted = 0;
        while (i < n && is_space(cmd[i]))
            i++;
        if (i + 1 < n && upper(cmd[i]) == 'A' && upper(cmd[i + 1]) == 'T')
            i += 2;
        if (i < n && (cmd[i] == '+' || cmd[i] == '^' || cmd[i] == '$' || cmd[i] == '#')) {
            i++;
            s = i;
            while (i < n && is_word(cmd[i]))
                i++;
            add_name(p, cmd + s, i - s);
        }
        while (i < n && (quoted || cmd[i] != ';')) {
            if (cmd[i] == '"')
                quoted = !quoted;
            i++;
        }
        if (i < n)
            i++;   /* the ';' */
    }
}

/* ---- FOTA URCs ---- */

static const char *const stage_names[DFOTA_AT_STAGE_COUNT] = {
    "UNKNOWN", "HTTPSTART", "DOWNLOADING", "HTTPEND", "FTPSTART", "FTPEND",
    "FILESTART", "FILEEND", "START", "UPDATING", "RESTORE", "END",
};

const char *dfota_at_stage_str(enum dfota_at_stage s)
{
    return ((unsigned)s < DFOTA_AT_STAGE_COUNT) ? stage_names[s] : stage_names[0];
}

int dfota_at_stage_is_percent(enum dfota_at_stage s)
{
    return s == DFOTA_AT_STAGE_DOWNLOADING || s == DFOTA_AT_STAGE_UPDATING ||
           s == DFOTA_AT_STAGE_RESTORE;
}

int dfota_at_stage_is_code(enum dfota_at_stage s)
{
    return s == DFOTA_AT_STAGE_HTTPEND || s == DFOTA_AT_STAGE_FTPEND ||
           s == DFOTA_AT_STAGE_FILEEND || s == DFOTA_AT_STAGE_END;
}

static enum dfota_at_stage stage_lookup(const char *s, size_t n, uint8_t *flags)
{
    unsigned i;
    for (i = 1; i < DFOTA_AT_STAGE_COUNT; i++)
        if (ci_equal(s, n, stage_names[i]))
            return (enum dfota_at_stage)i;
    if (ci_equal(s, n, "HTTPTART")) {
        *flags |= DFOTA_AT_F_MISSPELT;
        return DFOTA_AT_STAGE_HTTPSTART;
    }
    return DFOTA_AT_STAGE_UNKNOWN;
}

static size_t skip_spaces(const char *s, size_t i, size_t n)
{
    while (i < n && is_space(s[i]))
        i++;
    return i;
}

/* Parse the part after "+QIND:" of a line known to name "FOTA"; i is just
 * past "FOTA" (and its closing quote). */
static void parse_fota(struct dfota_at *p, size_t i, size_t n, struct dfota_at_event *ev)
{
    const char *s = p->line;
    size_t st, sn;
    int quoted = 0;
    uint32_t v = 0;
    unsigned digits = 0;

    ev->type = DFOTA_AT_EV_FOTA;
    for (st = 0; st < n; st++)
        if (!is_text((uint8_t)s[st]))
            goto syntax;

    i = skip_spaces(s, i, n);
    if (i >= n || s[i] != ',')
        goto syntax;
    i = skip_spaces(s, i + 1, n);
    if (i < n && s[i] == '"') {
        quoted = 1;
        i++;
    }
    st = i;
    while (i < n && is_word(s[i]))
        i++;
    sn = i - st;
    if (sn >= sizeof p->stage)
        sn = sizeof p->stage - 1;
    memcpy(p->stage, s + st, sn);
    p->stage[sn] = 0;
    if (i == st || i - st >= sizeof p->stage)
        goto syntax;
    ev->stage = stage_lookup(s + st, i - st, &ev->flags);
    if (quoted) {
        if (i >= n || s[i] != '"')
            goto syntax;
        i++;
    }
    i = skip_spaces(s, i, n);
    if (i >= n) {
        if (dfota_at_stage_is_percent(ev->stage) || dfota_at_stage_is_code(ev->stage)) {
            ev->type = DFOTA_AT_EV_FOTA_BAD;
            ev->bad = DFOTA_AT_BAD_NO_VALUE;
        }
        return;
    }
    if (s[i] != ',')
        goto syntax;
    i = skip_spaces(s, i + 1, n);
    if (i >= n || s[i] == ',') {
        ev->type = DFOTA_AT_EV_FOTA_BAD;
        ev->bad = DFOTA_AT_BAD_NO_VALUE;
        return;
    }
    while (i < n && is_digit(s[i])) {
        if (++digits > 9) {
            ev->type = DFOTA_AT_EV_FOTA_BAD;
            ev->bad = DFOTA_AT_BAD_NUMBER;
            return;
        }
        v = v * 10u + (uint32_t)(s[i] - '0');
        i++;
    }
    if (!digits) {
        ev->type = DFOTA_AT_EV_FOTA_BAD;
        ev->bad = DFOTA_AT_BAD_NUMBER;
        return;
    }
    ev->value = (int32_t)v;
    i = skip_spaces(s, i, n);
    if (i < n && s[i] == '%') {
        ev->flags |= DFOTA_AT_F_PERCENT;
        i = skip_spaces(s, i + 1, n);
    }
    if (i < n) {
        if (s[i] != ',')
            goto syntax;
        ev->flags |= DFOTA_AT_F_EXTRA;
    }
    if (dfota_at_stage_is_percent(ev->stage) && v > 100) {
        ev->type = DFOTA_AT_EV_FOTA_BAD;
        ev->bad = DFOTA_AT_BAD_RANGE;
    }
    return;
syntax:
    ev->type = DFOTA_AT_EV_FOTA_BAD;
    ev->bad = DFOTA_AT_BAD_SYNTAX;
}

/* A basic-command echo with no command pending: "AT", "ATE0", "ATI", "AT+X". */
static int looks_like_echo(const char *s, size_t n)
{
    if (n < 2 || upper(s[0]) != 'A' || upper(s[1]) != 'T')
        return 0;
    if (n == 2 || s[2] == '+' || s[2] == '&' || s[2] == '^' || s[2] == '$' || s[2] == '#')
        return 1;
    return is_alpha(s[2]) && (n == 3 || !is_alpha(s[3]));
}

static int finish_line(struct dfota_at *p, struct dfota_at_event *ev)
{
    const char *s = p->line;
    size_t n = p->len, i;

    if (p->dropping) {
        reset_line(p);
        return 0;
    }
    while (n && is_space(s[n - 1]))
        n--;
    if (!n) {
        reset_line(p);
        return 0;
    }
    p->line[n] = 0;
    p->len = (uint16_t)n;

    memset(ev, 0, sizeof *ev);
    ev->line = p->line;
    ev->len = (uint16_t)n;
    ev->value = -1;
    ev->stage_name = "";
    if (p->noise)
        ev->flags |= DFOTA_AT_F_NOISE;
    if (!p->pending)
        ev->flags |= DFOTA_AT_F_UNSOLICITED;
    p->len = 0;
    p->noise = 0;

    if (ci_equal(s, n, "OK")) {
        ev->type = DFOTA_AT_EV_OK;
        dfota_at_cancel(p);
        return 1;
    }
    if (ci_equal(s, n, "ERROR") || ci_prefix(s, n, "+CME ERROR:") || ci_prefix(s, n, "+CMS ERROR:")) {
        ev->type = DFOTA_AT_EV_ERROR;
        if (n > 5) {
            uint32_t v = 0;
            unsigned d = 0;
            i = skip_spaces(s, 11, n);
            while (i < n && is_digit(s[i]) && d < 9) {
                v = v * 10u + (uint32_t)(s[i++] - '0');
                d++;
            }
            ev->value = (d && skip_spaces(s, i, n) == n) ? (int32_t)v : -2;
        }
        dfota_at_cancel(p);
        return 1;
    }
    if (ci_equal(s, n, "NO CARRIER") || ci_equal(s, n, "BUSY") || ci_equal(s, n, "NO ANSWER") ||
        ci_equal(s, n, "NO DIALTONE")) {
        ev->type = DFOTA_AT_EV_ERROR;
        ev->value = -3;
        dfota_at_cancel(p);
        return 1;
    }
    if (ci_prefix(s, n, "+QIND:")) {
        int q = 0;
        i = skip_spaces(s, 6, n);
        if (i < n && s[i] == '"') {
            q = 1;
            i++;
        }
        if (ci_prefix(s + i, n - i, "FOTA") && (i + 4 == n || !is_word(s[i + 4]))) {
            i += 4;
            if (q) {
                if (i >= n || s[i] != '"') {
                    ev->type = DFOTA_AT_EV_FOTA_BAD;
                    ev->bad = DFOTA_AT_BAD_SYNTAX;
                    return 1;
                }
                i++;
            }
            parse_fota(p, i, n, ev);
            ev->stage_name = p->stage;
            return 1;
        }
        ev->type = DFOTA_AT_EV_URC;
        return 1;
    }
    if (p->pending ? (p->echo_len && n >= p->echo_len &&
                      ci_prefix(s, n, p->echo))
                   : looks_like_echo(s, n)) {
        ev->type = DFOTA_AT_EV_ECHO;
        return 1;
    }
    if (s[0] == '+') {
        for (i = 1; i < n && is_word(s[i]); i++)
            ;
        if (i > 1 && i < n && s[i] == ':') {
            ev->type = (p->pending && has_name(p, s + 1, i - 1)) ? DFOTA_AT_EV_INFO : DFOTA_AT_EV_URC;
            return 1;
        }
    }
    ev->type = DFOTA_AT_EV_INFO;
    return 1;
}

int dfota_at_putc(struct dfota_at *p, uint8_t c, struct dfota_at_event *ev)
{
    if (c == '\n')
        return finish_line(p, ev);
    if (c == '\r' || p->dropping)
        return 0;
    if (p->len == 0 && (c == ' ' || c == '\t'))
        return 0;
    if (p->len == 0 && !is_text(c)) {
        p->noise = 1;       /* garbage before a line: drop it, note it */
        return 0;
    }
    if (p->len >= sizeof p->line - 1) {
        memset(ev, 0, sizeof *ev);
        p->line[p->len] = 0;
        ev->type = DFOTA_AT_EV_OVERFLOW;
        ev->line = p->line;
        ev->len = p->len;
        ev->value = -1;
        ev->stage_name = "";
        p->dropping = 1;
        return 1;
    }
    p->line[p->len++] = (char)c;
    return 0;
}

size_t dfota_at_feed(struct dfota_at *p, const uint8_t *buf, size_t len, struct dfota_at_event *ev)
{
    size_t i;
    ev->type = DFOTA_AT_EV_NONE;
    for (i = 0; i < len; i++)
        if (dfota_at_putc(p, buf[i], ev))
            return i + 1;
    return len;
}

int dfota_at_flush(struct dfota_at *p, struct dfota_at_event *ev)
{
    return finish_line(p, ev);
}

/* ---- information line helpers ---- */

const char *dfota_at_params(const char *line, const char *name)
{
    size_t n = strlen(name);
    if (!ci_prefix(line, strlen(line), name) || line[n] != ':')
        return NULL;
    line += n + 1;
    while (is_space(*line))
        line++;
    return line;
}

/* Start and length of parameter idx, quotes kept. -1 if missing. */
static int param_span(const char *s, unsigned idx, const char **start, size_t *len)
{
    int quoted = 0;
    while (idx) {
        if (!*s)
            return -1;
        if (*s == '"')
            quoted = !quoted;
        else if (*s == ',' && !quoted)
            idx--;
        s++;
    }
    while (is_space(*s))
        s++;
    *start = s;
    quoted = 0;
    while (*s && (quoted || *s != ',')) {
        if (*s == '"')
            quoted = !quoted;
        s++;
    }
    while (s > *start && is_space(s[-1]))
        s--;
    *len = (size_t)(s - *start);
    return 0;
}

int dfota_at_param_int(const char *params, unsigned idx, int32_t *out)
{
    const char *s;
    size_t n, i = 0;
    uint32_t v = 0;
    int neg = 0;

    if (!params || param_span(params, idx, &s, &n) || !n)
        return -1;
    if (s[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i == n || n - i > 9)
        return -1;
    for (; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10u + (uint32_t)(s[i] - '0');
    }
    *out = neg ? -(int32_t)v : (int32_t)v;
    return 0;
}

int dfota_at_param_str(const char *params, unsigned idx, char *out, size_t n)
{
    const char *s;
    size_t len;

    if (!params || !n || param_span(params, idx, &s, &len))
        return -1;
    if (len >= 2 && s[0] == '"' && s[len - 1] == '"') {
        s++;
        len -= 2;
    }
    if (len >= n)
        return -1;
    memcpy(out, s, len);
    out[len] = 0;
    return (int)len;
}

const char *dfota_at_revision(const char *line)
{
    if (!ci_prefix(line, strlen(line), "Revision:"))
        return NULL;
    line += 9;
    while (is_space(*line))
        line++;
    return *line ? line : NULL;
}

int dfota_at_is_boot_line(const struct dfota_at_event *ev)
{
    if (!(ev->flags & DFOTA_AT_F_UNSOLICITED))
        return 0;
    if (ev->type == DFOTA_AT_EV_URC)
        return ci_prefix(ev->line, ev->len, "+CPIN:");
    if (ev->type != DFOTA_AT_EV_INFO)
        return 0;
    return ci_prefix(ev->line, ev->len, "F1: ") || ci_equal(ev->line, ev->len, "RDY") ||
           ci_equal(ev->line, ev->len, "Leaving the BROM");
}

/* ---- meanings (bc20-dfota.md tables) ---- */

const char *dfota_at_http_err_str(int32_t code)
{
    switch (code) {
    case 0:  return "downloaded successfully";
    case 12: return "HTTP(S) download failed";
    case 13: return "network deactivated";
    case 20: return "network activating";
    default: return "unknown download error";
    }
}

const char *dfota_at_fota_err_str(int32_t code)
{
    switch (code) {
    case 0:   return "upgraded successfully";
    case 1:   return "unknown error";
    case 2:   return "FOTA is busy";
    case 254: return "delta package mismatch: not built from this module's firmware";
    case 255: return "delta package invalid: corrupt, truncated, badly signed or unknown format";
    default:  return "unknown update error";
    }
}

const char *dfota_at_bad_str(enum dfota_at_bad b)
{
    switch (b) {
    case DFOTA_AT_BAD_NONE:     return "well formed";
    case DFOTA_AT_BAD_SYNTAX:   return "malformed FOTA URC";
    case DFOTA_AT_BAD_NO_VALUE: return "FOTA URC without its value";
    case DFOTA_AT_BAD_NUMBER:   return "FOTA URC value is not a number";
    case DFOTA_AT_BAD_RANGE:    return "FOTA URC percent outside 0-100";
    default:                    return "unknown";
    }
}

int dfota_at_lwm2m(const struct dfota_at_event *ev, enum dfota_lwm2m_state *state,
                   enum dfota_lwm2m_result *result)
{
    enum dfota_lwm2m_state s = *state;
    enum dfota_lwm2m_result r = *result;

    if (ev->type != DFOTA_AT_EV_FOTA)
        return 0;
    switch (ev->stage) {
    case DFOTA_AT_STAGE_HTTPSTART:
    case DFOTA_AT_STAGE_FTPSTART:
    case DFOTA_AT_STAGE_FILESTART:
    case DFOTA_AT_STAGE_DOWNLOADING:
        s = DFOTA_LWM2M_DOWNLOADING;
        r = DFOTA_LWM2M_INITIAL;
        break;
    case DFOTA_AT_STAGE_HTTPEND:
    case DFOTA_AT_STAGE_FTPEND:
    case DFOTA_AT_STAGE_FILEEND:
        if (ev->value == 0) {
            s = DFOTA_LWM2M_DOWNLOADED;
        } else {
            s = DFOTA_LWM2M_IDLE;
            r = DFOTA_LWM2M_CONN_LOST;
        }
        break;
    case DFOTA_AT_STAGE_START:
    case DFOTA_AT_STAGE_UPDATING:
    case DFOTA_AT_STAGE_RESTORE:
        s = DFOTA_LWM2M_UPDATING;
        break;
    case DFOTA_AT_STAGE_END:
        switch (ev->value) {
        case 0:   s = DFOTA_LWM2M_IDLE; r = DFOTA_LWM2M_SUCCESS; break;
        case 2:   return 0;   /* refused: the update that runs goes on */
        case 254: s = DFOTA_LWM2M_IDLE; r = DFOTA_LWM2M_UNSUPPORTED; break;
        case 255: s = DFOTA_LWM2M_IDLE; r = DFOTA_LWM2M_INTEGRITY; break;
        default:  s = DFOTA_LWM2M_IDLE; r = DFOTA_LWM2M_FAILED; break;
        }
        break;
    default:
        return 0;
    }
    if (s == *state && r == *result)
        return 0;
    *state = s;
    *result = r;
    return 1;
}
