/* dfota module core: the AT command engine (V.250 / 27.007 conventions of
 * docs/modem.md): line assembly with echo and backspace, `;` concatenation
 * with one final result code, CMEE, the commands, and URCs held back while
 * a command answers. */
#include <string.h>
#include "mod_priv.h"

/* ---- small strings ------------------------------------------------------ */

size_t mod_strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

size_t mod_strlcpy(char *dst, const char *src, size_t size)
{
    size_t n = 0;
    if (!size)
        return 0;
    while (src && src[n] && n + 1 < size) {
        dst[n] = src[n];
        n++;
    }
    dst[n] = 0;
    return n;
}

void mod_cat(char *b, size_t cap, const char *s)
{
    size_t n = mod_strlen(b);
    mod_strlcpy(b + n, s, cap - n);
}

void mod_cat_u(char *b, size_t cap, uint32_t v)
{
    char t[11];
    int i = 10;
    t[i] = 0;
    do {
        t[--i] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    mod_cat(b, cap, t + i);
}

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

/* ---- output ------------------------------------------------------------- */

void mod_write(struct dfota_mod *m, const char *s, size_t n)
{
    if (n)
        m->cfg->ports.serial_write(m->cfg->ports.ctx, s, n);
}

void mod_puts(struct dfota_mod *m, const char *s)
{
    mod_write(m, s, mod_strlen(s));
}

void mod_log(struct dfota_mod *m, const char *msg)
{
    if (m->cfg->ports.log)
        m->cfg->ports.log(m->cfg->ports.ctx, msg);
}

void mod_info(struct dfota_mod *m, const char *text)
{
    mod_write(m, "\r\n", 2);
    mod_puts(m, text);
    mod_write(m, "\r\n", 2);
}

void mod_urc(struct dfota_mod *m, const char *text)
{
    size_t n = mod_strlen(text);
    if (!m->in_response) {
        mod_info(m, text);
        return;
    }
    if (m->urc_len + n + 4 > sizeof m->urc_queue) {
        m->urc_lost = 1;
        mod_log(m, "at: URC queue full, a URC was dropped");
        return;
    }
    memcpy(m->urc_queue + m->urc_len, "\r\n", 2);
    memcpy(m->urc_queue + m->urc_len + 2, text, n);
    memcpy(m->urc_queue + m->urc_len + 2 + n, "\r\n", 2);
    m->urc_len = (uint16_t)(m->urc_len + n + 4);
}

/* After a final result code: the URCs held back, then a state record the
 * command made due. */
static void urc_flush(struct dfota_mod *m)
{
    m->in_response = 0;
    mod_write(m, m->urc_queue, m->urc_len);
    m->urc_len = 0;
    if (m->save_due) {
        m->save_due = 0;
        mod_state_save(m);
    }
}

static void final_result(struct dfota_mod *m, int r)
{
    char b[40];
    if (r == 0) {
        mod_puts(m, "\r\nOK\r\n");
        return;
    }
    if (r == AT_SYNTAX || m->cmee == 0) {
        mod_puts(m, "\r\nERROR\r\n");
        return;
    }
    b[0] = 0;
    mod_cat(b, sizeof b, "+CME ERROR: ");
    if (m->cmee == 1) {
        mod_cat_u(b, sizeof b, (uint32_t)r);
    } else {
        mod_cat(b, sizeof b, r == CME_NOT_ALLOWED     ? "operation not allowed"
                             : r == CME_NOT_SUPPORTED ? "operation not supported"
                             : r == CME_BAD_PARAM     ? "incorrect parameters"
                                                      : "unknown");
    }
    mod_info(m, b);
}

/* ---- argument parsing ---------------------------------------------------- */

/* A decimal number making up all of [p, e), at most 5 digits. */
static int parse_uint(const char *p, const char *e, uint32_t *v)
{
    uint32_t x = 0;
    if (p == e || e - p > 5)
        return -1;
    for (; p < e; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        x = x * 10u + (uint32_t)(*p - '0');
    }
    *v = x;
    return 0;
}

/* ---- commands ------------------------------------------------------------- */

enum op { OP_EXEC, OP_READ, OP_TEST, OP_SET };

struct cmd {
    const char *name;      /* upper case, after the '+' */
    int (*fn)(struct dfota_mod *m, enum op op, const char *a, const char *e);
};

static const char *revision(const struct dfota_mod *m)
{
    return m->rec.rev;
}

static int c_cgmr(struct dfota_mod *m, enum op op, const char *a, const char *e)
{
    char b[16 + DFOTA_MOD_REV_MAX];
    if (op == OP_TEST)
        return 0;
    if (op != OP_EXEC)
        return AT_SYNTAX;
    b[0] = 0;
    mod_cat(b, sizeof b, "Revision: ");
    mod_cat(b, sizeof b, revision(m));
    mod_info(m, b);
    return 0;
}

static int c_ati(struct dfota_mod *m)
{
    const struct dfota_mod_config *c = m->cfg;
    mod_info(m, c->manufacturer ? c->manufacturer : "Quectel_Ltd");
    mod_info(m, c->model ? c->model : "Quectel_BC20");
    return c_cgmr(m, OP_EXEC, NULL, NULL);
}

/* "+NAME: n" */
static void info_num(struct dfota_mod *m, const char *name, uint32_t v)
{
    char b[32];
    b[0] = 0;
    mod_cat(b, sizeof b, name);
    mod_cat(b, sizeof b, ": ");
    mod_cat_u(b, sizeof b, v);
    mod_info(m, b);
}

/* A set command with one number in [0, max]. */
static int set_small(enum op op, const char *a, const char *e, uint32_t max, uint8_t *out)
{
    uint32_t v;
    if (op != OP_SET || parse_uint(a, e, &v))
        return AT_SYNTAX;
    if (v > max)
        return CME_BAD_PARAM;
    *out = (uint8_t)v;
    return 0;
}

static int c_cmee(struct dfota_mod *m, enum op op, const char *a, const char *e)
{
    if (op == OP_READ) {
        info_num(m, "+CMEE", m->cmee);
        return 0;
    }
    if (op == OP_TEST) {
        mod_info(m, "+CMEE: (0-2)");
        return 0;
    }
    return set_small(op, a, e, 2, &m->cmee);
}

static int c_cesq(struct dfota_mod *m, enum op op, const char *a, const char *e)
{
    char b[48];
    if (op == OP_TEST) {
        mod_info(m, "+CESQ: (0-63,99),(0-7,99),(0-63,255),(0-63,255),(0-34,255),(0-97,255)");
        return 0;
    }
    if (op != OP_EXEC)
        return AT_SYNTAX;
    b[0] = 0;
    mod_cat(b, sizeof b, "+CESQ: ");
    mod_cat_u(b, sizeof b, m->net.rxlev);
    mod_cat(b, sizeof b, ",");
    mod_cat_u(b, sizeof b, m->net.ber);
    mod_cat(b, sizeof b, ",255,255,");
    mod_cat_u(b, sizeof b, m->net.rsrq);
    mod_cat(b, sizeof b, ",");
    mod_cat_u(b, sizeof b, m->net.rsrp);
    mod_info(m, b);
    return 0;
}

static int c_cereg(struct dfota_mod *m, enum op op, const char *a, const char *e)
{
    char b[24];
    if (op == OP_READ) {
        b[0] = 0;
        mod_cat(b, sizeof b, "+CEREG: ");
        mod_cat_u(b, sizeof b, m->cereg_n);
        mod_cat(b, sizeof b, ",");
        mod_cat_u(b, sizeof b, m->net.reg_stat);
        mod_info(m, b);
        return 0;
    }
    if (op == OP_TEST) {
        mod_info(m, "+CEREG: (0-1)");
        return 0;
    }
    return set_small(op, a, e, 1, &m->cereg_n);
}

static int c_cgpaddr(struct dfota_mod *m, enum op op, const char *a, const char *e)
{
    char b[64];
    uint32_t cid;
    if (op == OP_TEST) {
        mod_info(m, "+CGPADDR: (1)");
        return 0;
    }
    if (op == OP_SET) {
        if (parse_uint(a, e, &cid))
            return AT_SYNTAX;
        if (cid != 1)
            return CME_BAD_PARAM;
    } else if (op != OP_EXEC) {
        return AT_SYNTAX;
    }
    b[0] = 0;
    mod_cat(b, sizeof b, "+CGPADDR: 1");
    if (m->net.attached && m->net.ip[0]) {
        mod_cat(b, sizeof b, ",");
        mod_cat(b, sizeof b, m->net.ip);
    }
    mod_info(m, b);
    return 0;
}

static int c_cpin(struct dfota_mod *m, enum op op, const char *a, const char *e)
{
    if (op == OP_TEST)
        return 0;
    if (op != OP_READ)
        return AT_SYNTAX;
    mod_info(m, "+CPIN: READY");
    return 0;
}

static int registered(const struct dfota_mod *m)
{
    return m->cfun && (m->net.reg_stat == 1 || m->net.reg_stat == 5);
}

static int c_cops(struct dfota_mod *m, enum op op, const char *a, const char *e)
{
    char b[40];
    if (op == OP_READ) {
        b[0] = 0;
        mod_cat(b, sizeof b, "+COPS: 0");
        if (registered(m) && m->net.oper[0]) {
            mod_cat(b, sizeof b, ",2,\"");
            mod_cat(b, sizeof b, m->net.oper);
            mod_cat(b, sizeof b, "\",9");
        }
        mod_info(m, b);
        return 0;
    }
    if (op == OP_SET && e - a == 1 && a[0] == '0')
        return 0;               /* automatic selection: what the module does anyway */
    if (op == OP_SET)
        return CME_NOT_SUPPORTED;
    return AT_SYNTAX;
}

static int c_cfun(struct dfota_mod *m, enum op op, const char *a, const char *e)
{
    uint8_t v;
    int r;
    if (op == OP_READ) {
        info_num(m, "+CFUN", m->cfun);
        return 0;
    }
    if (op == OP_TEST) {
        mod_info(m, "+CFUN: (0,1)");
        return 0;
    }
    if ((r = set_small(op, a, e, 1, &v)))
        return r;
    if (v == m->cfun)
        return 0;
    m->cfun = v;
    if (!v)
        fota_radio_off(m);
    if (m->cfg->ports.set_radio)
        m->cfg->ports.set_radio(m->cfg->ports.ctx, v);
    return 0;
}

static int c_qrst(struct dfota_mod *m, enum op op, const char *a, const char *e)
{
    if (op == OP_TEST) {
        mod_info(m, "+QRST: (1)");
        return 0;
    }
    if (op != OP_SET || e - a != 1 || a[0] != '1')
        return op == OP_SET ? CME_BAD_PARAM : AT_SYNTAX;
    fota_abort_for_reboot(m);
    m->reboot = 1;
    return 0;
}

static int c_qfotadl(struct dfota_mod *m, enum op op, const char *a, const char *e)
{
    if (op == OP_TEST)
        return 0;
    if (op == OP_READ) {
        fota_read(m);
        return 0;
    }
    if (op != OP_SET)
        return AT_SYNTAX;
    /* exactly one quoted string */
    if (e - a < 2 || a[0] != '"' || e[-1] != '"')
        return AT_SYNTAX;
    a++;
    e--;
    for (const char *q = a; q < e; q++)
        if (*q == '"')
            return AT_SYNTAX;   /* two strings, or a quote inside */
    return fota_request(m, a, (size_t)(e - a));
}

static const struct cmd cmds[] = {
    { "CGMR", c_cgmr },       { "CMEE", c_cmee },   { "CESQ", c_cesq },
    { "CEREG", c_cereg },     { "CGPADDR", c_cgpaddr }, { "CPIN", c_cpin },
    { "COPS", c_cops },       { "CFUN", c_cfun },   { "QRST", c_qrst },
    { "QFOTADL", c_qfotadl },
};

static int name_is(const char *p, size_t n, const char *name)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!name[i] || lower((unsigned char)p[i]) != lower((unsigned char)name[i]))
            return 0;
    return name[n] == 0;
}

/* One extended command "+NAME[?|=?|=args]" making up [p, e). */
static int run_extended(struct dfota_mod *m, const char *p, const char *e)
{
    const char *n = ++p;
    enum op op;
    size_t i;

    while (p < e && ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                     (*p >= '0' && *p <= '9')))
        p++;
    if (p == n)
        return AT_SYNTAX;
    if (p == e) {
        op = OP_EXEC;
    } else if (*p == '?' && p + 1 == e) {
        op = OP_READ;
    } else if (*p == '=' && p + 2 == e && p[1] == '?') {
        op = OP_TEST;
    } else if (*p == '=') {
        op = OP_SET;
    } else {
        return AT_SYNTAX;
    }
    for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (name_is(n, (size_t)(p - n), cmds[i].name))
            return cmds[i].fn(m, op, op == OP_SET ? p + 1 : e, e);
    return AT_SYNTAX;
}

/* One piece of a line between ';': basic commands (E[n], I[0]), then
 * possibly one extended command. */
static int run_piece(struct dfota_mod *m, const char *p, const char *e)
{
    while (p < e && *p != '+') {
        int c = lower((unsigned char)*p++);
        uint32_t v = 0;
        const char *d = p;
        while (p < e && *p >= '0' && *p <= '9' && p - d < 3)
            v = v * 10u + (uint32_t)(*p++ - '0');
        if (c == 'e' && v <= 1) {
            m->echo = (uint8_t)v;
        } else if (c == 'i' && v == 0) {
            c_ati(m);
        } else {
            return AT_SYNTAX;
        }
    }
    return p < e ? run_extended(m, p, e) : 0;
}

/* The text after "AT" of one command line. */
static void run_line(struct dfota_mod *m)
{
    char *s = m->line;
    size_t n = m->line_len, i, o = 0;
    int q = 0, r = 0;

    /* spaces outside quotes mean nothing (V.250) */
    for (i = 0; i < n; i++) {
        if (s[i] == '"')
            q ^= 1;
        if (q || s[i] != ' ')
            s[o++] = s[i];
    }
    n = o;
    s[n] = 0;
    m->in_response = 1;
    for (i = 0; i < n && r == 0;) {
        size_t j = i;
        for (q = 0; j < n && (q || s[j] != ';'); j++)
            if (s[j] == '"')
                q ^= 1;
        if (q)
            r = AT_SYNTAX;       /* an unterminated quote */
        else if (j > i)
            r = run_piece(m, s + i, s + j);
        i = j + 1;
    }
    final_result(m, r);
    urc_flush(m);
}

void dfota_mod_input(struct dfota_mod *m, const void *buf, size_t len, uint32_t now_ms)
{
    const uint8_t *p = buf;
    size_t i;

    m->now_ms = now_ms;
    if (m->reboot)
        return;                  /* the module is resetting */
    for (i = 0; i < len; i++) {
        uint8_t c = p[i];
        if (m->echo)
            mod_write(m, (const char *)&c, 1);
        if (c == '\n')
            continue;            /* the LF after CR, or any LF: ignored */
        if (c == '\r') {
            if (m->line_state == LINE_CMD) {
                if (m->line_overflow) {
                    m->in_response = 1;
                    final_result(m, AT_SYNTAX);
                    urc_flush(m);
                } else {
                    run_line(m);
                }
            }
            m->line_state = LINE_IDLE;
            if (m->reboot)
                return;
            continue;
        }
        if (c == 0x08 || c == 0x7F) {        /* backspace (S5), or DEL from terminals */
            if (m->line_state == LINE_CMD && m->line_len > 0 && !m->line_overflow)
                m->line_len--;
            else if (m->line_state == LINE_CMD && !m->line_overflow)
                m->line_state = LINE_A;
            else if (m->line_state == LINE_A)
                m->line_state = LINE_IDLE;
            continue;
        }
        switch (m->line_state) {
        case LINE_IDLE:          /* bytes before "AT" are ignored (V.250) */
            if (c == 'A' || c == 'a')
                m->line_state = LINE_A;
            break;
        case LINE_A:
            if (c == 'T' || c == 't') {
                m->line_state = LINE_CMD;
                m->line_len = 0;
                m->line_overflow = 0;
            } else if (c != 'A' && c != 'a') {
                m->line_state = LINE_IDLE;
            }
            break;
        default:
            if (m->line_len + 3u <= DFOTA_MOD_LINE_MAX) /* "AT" + this byte */
                m->line[m->line_len++] = (char)c;
            else
                m->line_overflow = 1;
            break;
        }
    }
}
