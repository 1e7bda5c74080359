/* The module core's AT engine and URL parser, driven directly: every AT
 * convention of docs/modem.md and every URL rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "modtest.h"

#define BANNER "F1: 0000 0000\n\rV0: 0000 0000 [0001]\n\r00: 0006 000C\n\r01: 0000 0000\n\r" \
               "U0: 0000 0001 [0000]\n\rT0: 0000 00B4\n\rLeaving the BROM\n\r"

static int setup(void **st)
{
    struct mt *t = calloc(1, sizeof *t);
    uint8_t *img = tu_image(20000, 1);
    mt_init(t, DFOTA_LAYOUT_AB, 4096, 32768, 0, 32768);
    mt_flash_image(t, img, 20000);
    free(img);
    assert_int_equal(mt_power_up(t, "BC20NBR01A10"), 0);
    *st = t;
    return 0;
}

static int teardown(void **st)
{
    struct mt *t = *st;
    mt_free(t);
    free(t);
    return 0;
}

static void boot_output(void **st)
{
    struct mt *t = *st;
    assert_string_equal(t->out, BANNER "\r\n+CPIN: READY\r\n\r\n+IP: 10.0.0.5\r\n");
    /* a reboot: the same again, and no +IP before the network is up */
    mt_clear(t);
    assert_int_equal(mt_power_up_offline(t, NULL), 0);
    assert_string_equal(t->out, BANNER "\r\n+CPIN: READY\r\n");
    mt_net(t, 1, 1);
    assert_string_equal(t->out, BANNER "\r\n+CPIN: READY\r\n\r\n+IP: 10.0.0.5\r\n");
}

static void echo(void **st)
{
    struct mt *t = *st;
    assert_string_equal(mt_send(t, "AT\r"), "AT\r\r\nOK\r\n");
    assert_string_equal(mt_send(t, "ATE0\r"), "ATE0\r\r\nOK\r\n");   /* ATE0 itself echoed */
    assert_string_equal(mt_send(t, "AT\r"), "\r\nOK\r\n");
    assert_string_equal(mt_send(t, "ATE1\r"), "\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AT\r"), "AT\r\r\nOK\r\n");
    assert_string_equal(mt_send(t, "ATE\r"), "ATE\r\r\nOK\r\n");     /* E alone is E0 */
    assert_string_equal(mt_send(t, "ATE2\r"), "\r\nERROR\r\n");
    assert_string_equal(mt_send(t, "ATE1\r"), "\r\nOK\r\n");
}

static void identification(void **st)
{
    struct mt *t = *st;
    mt_send(t, "ATE0\r");
    assert_string_equal(mt_send(t, "ATI\r"),
                        "\r\nQuectel_Ltd\r\n\r\nQuectel_BC20\r\n\r\nRevision: BC20NBR01A10\r\n\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AT+CGMR\r"), "\r\nRevision: BC20NBR01A10\r\n\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AT+CGMR=?\r"), "\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AT+CGMR=1\r"), "\r\nERROR\r\n");
    assert_string_equal(mt_revision(t), "BC20NBR01A10");
}

static void case_insensitive_names(void **st)
{
    struct mt *t = *st;
    mt_send(t, "ATE0\r");
    assert_string_equal(mt_send(t, "at+cgmr\r"), "\r\nRevision: BC20NBR01A10\r\n\r\nOK\r\n");
    assert_string_equal(mt_send(t, "aT+CgMr\r"), "\r\nRevision: BC20NBR01A10\r\n\r\nOK\r\n");
    assert_string_equal(mt_send(t, "At+cpin?\r"), "\r\n+CPIN: READY\r\n\r\nOK\r\n");
    assert_string_equal(mt_send(t, "ati\r"),
                        "\r\nQuectel_Ltd\r\n\r\nQuectel_BC20\r\n\r\nRevision: BC20NBR01A10\r\n\r\nOK\r\n");
    /* the argument keeps its case */
    assert_string_equal(mt_send(t, "at+qfotadl=\"HTTP://Example.COM:100/Up/DATE.zip\"\r"),
                        "\r\nOK\r\n\r\n+QIND: \"FOTA\",\"HTTPSTART\"\r\n");
    mt_step(t, 10);
    assert_int_equal(t->nreqs, 1);
    assert_string_equal(t->reqs[0].url, "HTTP://Example.COM:100/Up/DATE.zip");
}

static void spec_session(void **st)
{
    struct mt *t = *st;
    mt_send(t, "ATE0\r");
    /* the guide's example, byte for byte */
    assert_string_equal(mt_send(t, "AT+CESQ;+CEREG?;+CPIN?;+COPS?\r"),
                        "\r\n+CESQ: 47,6,255,255,0,54\r\n"
                        "\r\n+CEREG: 0,1\r\n"
                        "\r\n+CPIN: READY\r\n"
                        "\r\n+COPS: 0,2,\"46011\",9\r\n"
                        "\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AT+CGPADDR=1\r"), "\r\n+CGPADDR: 1,10.0.0.5\r\n\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AT+CGPADDR\r"), "\r\n+CGPADDR: 1,10.0.0.5\r\n\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AT+QFOTADL=?\r"), "\r\nOK\r\n");
}

static void concatenation(void **st)
{
    struct mt *t = *st;
    mt_send(t, "ATE0\r");
    /* stops at the first error: nothing after it runs */
    assert_string_equal(mt_send(t, "AT+CPIN?;+NOPE;+CMEE=0\r"),
                        "\r\n+CPIN: READY\r\n\r\nERROR\r\n");
    assert_string_equal(mt_send(t, "AT+CMEE?\r"), "\r\n+CMEE: 1\r\n\r\nOK\r\n");
    /* what ran before the error stays done */
    assert_string_equal(mt_send(t, "AT+CMEE=2;+CMEE=9;+CMEE=0\r"),
                        "\r\n+CME ERROR: incorrect parameters\r\n");
    assert_string_equal(mt_send(t, "AT+CMEE?\r"), "\r\n+CMEE: 2\r\n\r\nOK\r\n");
    /* basic commands run together, spaces and empty pieces mean nothing */
    assert_string_equal(mt_send(t, "ATE0I\r"),
                        "\r\nQuectel_Ltd\r\n\r\nQuectel_BC20\r\n\r\nRevision: BC20NBR01A10\r\n\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AT + CPIN? ; ; +CGMR;\r"),
                        "\r\n+CPIN: READY\r\n\r\nRevision: BC20NBR01A10\r\n\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AT;\r"), "\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AT\r"), "\r\nOK\r\n");
}

static void cmee(void **st)
{
    struct mt *t = *st;
    mt_send(t, "ATE0\r");
    assert_string_equal(mt_send(t, "AT+CMEE=?\r"), "\r\n+CMEE: (0-2)\r\n\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AT+CMEE=1\r"), "\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AT+CFUN=7\r"), "\r\n+CME ERROR: 50\r\n");
    assert_string_equal(mt_send(t, "AT+CMEE=2\r"), "\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AT+CFUN=7\r"), "\r\n+CME ERROR: incorrect parameters\r\n");
    assert_string_equal(mt_send(t, "AT+CMEE=0\r"), "\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AT+CFUN=7\r"), "\r\nERROR\r\n");
    /* syntax errors stay plain ERROR in every mode */
    assert_string_equal(mt_send(t, "AT+CMEE=2\r"), "\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AT+NOPE\r"), "\r\nERROR\r\n");
    assert_string_equal(mt_send(t, "AT+CFUN=x\r"), "\r\nERROR\r\n");
    assert_string_equal(mt_send(t, "AT+CMEE\r"), "\r\nERROR\r\n");
    assert_string_equal(mt_send(t, "AT+CMEE=\r"), "\r\nERROR\r\n");
}

static void backspace_and_line_ends(void **st)
{
    struct mt *t = *st;
    mt_send(t, "ATE0\r");
    assert_string_equal(mt_send(t, "AT+CGMX\bR\r"), "\r\nRevision: BC20NBR01A10\r\n\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AT+CPIM\x7f" "N?\r"), "\r\n+CPIN: READY\r\n\r\nOK\r\n");
    /* back over "AT" itself, then a new one */
    assert_string_equal(mt_send(t, "AT\b\bAT\r"), "\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AX\bT\r"), "");   /* the A was dropped by X: not a command */
    /* CR ends the line; the LF after it (or any LF) is ignored */
    assert_string_equal(mt_send(t, "AT\r\nAT\r\n"), "\r\nOK\r\n\r\nOK\r\n");
    assert_string_equal(mt_send(t, "\n\nAT\n+CPIN?\r"), "\r\n+CPIN: READY\r\n\r\nOK\r\n");
    /* an empty line, or one without "AT", answers nothing */
    assert_string_equal(mt_send(t, "\r\r\n"), "");
    assert_string_equal(mt_send(t, "hello\r"), "");
    /* bytes before "AT" are ignored */
    assert_string_equal(mt_send(t, "xyzAT\r"), "\r\nOK\r\n");
    /* the line can arrive a byte at a time */
    {
        const char *l = "AT+CPIN?\r";
        size_t i, at = t->out_len;
        for (i = 0; l[i]; i++)
            mt_send_n(t, l + i, 1);
        assert_string_equal(t->out + at, "\r\n+CPIN: READY\r\n\r\nOK\r\n");
    }
    /* with echo on, everything is echoed as it comes, backspaces too */
    mt_send(t, "ATE1\r");
    assert_string_equal(mt_send(t, "AT+CGMX\bR\r"),
                        "AT+CGMX\bR\r\r\nRevision: BC20NBR01A10\r\n\r\nOK\r\n");
}

static void overlong_line(void **st)
{
    struct mt *t = *st;
    char line[DFOTA_MOD_LINE_MAX + 8];
    size_t n;

    mt_send(t, "ATE0\r");
    /* exactly DFOTA_MOD_LINE_MAX bytes: runs */
    strcpy(line, "AT+CMEE=2");
    for (n = strlen(line); n < DFOTA_MOD_LINE_MAX; n++)
        line[n] = ';';
    line[n] = '\r';
    line[n + 1] = 0;
    assert_string_equal(mt_send(t, line), "\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AT+CMEE?\r"), "\r\n+CMEE: 2\r\n\r\nOK\r\n");
    /* one byte more: ERROR, and nothing of it runs */
    strcpy(line, "AT+CMEE=0");
    for (n = strlen(line); n < DFOTA_MOD_LINE_MAX + 1; n++)
        line[n] = ';';
    line[n] = '\r';
    line[n + 1] = 0;
    assert_string_equal(mt_send(t, line), "\r\nERROR\r\n");
    assert_string_equal(mt_send(t, "AT+CMEE?\r"), "\r\n+CMEE: 2\r\n\r\nOK\r\n");
    /* a much longer one, with a command that would act */
    {
        char big[4000];
        memset(big, 'A', sizeof big);
        memcpy(big, "AT+CFUN=0;+CGMR", 15);
        big[sizeof big - 1] = 0;
        mt_send(t, big);
        assert_string_equal(mt_send(t, "\r"), "\r\nERROR\r\n");
    }
    assert_string_equal(mt_send(t, "AT+CFUN?\r"), "\r\n+CFUN: 1\r\n\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AT\r"), "\r\nOK\r\n");
}

static void binary_garbage(void **st)
{
    struct mt *t = *st;
    uint8_t g[20000];
    uint32_t s = 7;
    size_t i;
    for (i = 0; i < sizeof g; i++) {
        g[i] = (uint8_t)tu_rand(&s);
        if (g[i] == 'A' || g[i] == 'a')
            g[i] = 0;             /* keep it garbage: no command can form */
    }
    mt_send_n(t, g, sizeof g);
    /* also garbage after a valid prefix */
    mt_send(t, "AT");
    mt_send_n(t, g, 300);
    mt_send(t, "\r");
    mt_send(t, "ATE0\r");
    assert_string_equal(mt_send(t, "AT\r"), "\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AT+CGMR\r"), "\r\nRevision: BC20NBR01A10\r\n\r\nOK\r\n");
    /* the same with bytes that do form commands now and then: no crash,
     * and the module answers afterwards */
    s = 11;
    for (i = 0; i < sizeof g; i++) {
        g[i] = (uint8_t)tu_rand(&s);
        if (g[i] == 'F' || g[i] == 'f' || g[i] == 'Q' || g[i] == 'q' || g[i] == 'E' || g[i] == 'e')
            g[i] = 'x';           /* no CFUN, no QRST/QFOTADL, no ATE */
    }
    mt_send_n(t, g, sizeof g);
    mt_send(t, "\r");            /* ends whatever line the garbage left open */
    assert_string_equal(mt_send(t, "AT\r"), "\r\nOK\r\n");
    assert_false(dfota_mod_reboot_requested(t->m));
}

static void network_commands(void **st)
{
    struct mt *t = *st;
    mt_send(t, "ATE0\r");
    assert_string_equal(mt_send(t, "AT+CEREG=?\r"), "\r\n+CEREG: (0-1)\r\n\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AT+CEREG=1\r"), "\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AT+CEREG?\r"), "\r\n+CEREG: 1,1\r\n\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AT+CEREG=2\r"), "\r\n+CME ERROR: 50\r\n");
    assert_string_equal(mt_send(t, "AT+CFUN?\r"), "\r\n+CFUN: 1\r\n\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AT+CFUN=?\r"), "\r\n+CFUN: (0,1)\r\n\r\nOK\r\n");
    /* radio off: the +CEREG URC waits until the final result code */
    assert_string_equal(mt_send(t, "AT+CFUN=0;+CEREG?\r"),
                        "\r\n+CEREG: 1,0\r\n\r\nOK\r\n\r\n+CEREG: 0\r\n");
    assert_int_equal(t->radio, 0);
    assert_string_equal(mt_send(t, "AT+CGPADDR=1\r"), "\r\n+CGPADDR: 1\r\n\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AT+COPS?\r"), "\r\n+COPS: 0\r\n\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AT+CFUN=1\r"),
                        "\r\nOK\r\n\r\n+CEREG: 1\r\n\r\n+IP: 10.0.0.5\r\n");
    assert_string_equal(mt_send(t, "AT+COPS?\r"), "\r\n+COPS: 0,2,\"46011\",9\r\n\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AT+COPS=0\r"), "\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AT+COPS=1,2,\"46000\"\r"), "\r\n+CME ERROR: 4\r\n");
    assert_string_equal(mt_send(t, "AT+CGPADDR=2\r"), "\r\n+CME ERROR: 50\r\n");
    assert_string_equal(mt_send(t, "AT+CGPADDR=?\r"), "\r\n+CGPADDR: (1)\r\n\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AT+CESQ=?\r"),
                        "\r\n+CESQ: (0-63,99),(0-7,99),(0-63,255),(0-63,255),(0-34,255),(0-97,255)"
                        "\r\n\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AT+CPIN=?\r"), "\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AT+CEREG=0\r"), "\r\nOK\r\n");
    /* a URC from outside a command goes out at once */
    mt_clear(t);
    mt_net(t, 2, 0);
    assert_string_equal(t->out, "");
    mt_net(t, 1, 1);
    assert_string_equal(t->out, "\r\n+IP: 10.0.0.5\r\n");
}

static void unknown_commands(void **st)
{
    struct mt *t = *st;
    static const char *bad[] = { "AT+NOPE\r", "ATX\r", "AT+\r", "AT+CGMR?\r", "AT+CPIN\r",
                                 "AT&F\r", "AT+CESQ?\r", "ATI5\r", "AT+QFOTADL\r",
                                 "AT+CFUN=1,1\r", "AT+QRST\r", "AT+CEREG\r", "AT+CGPADDR=1,2\r",
                                 "AT+CPIN?x\r", "AT+CMEE==1\r", "AT+1\r" };
    size_t i;
    mt_send(t, "ATE0\r");
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *o = mt_send(t, bad[i]);
        if (strcmp(o, "\r\nERROR\r\n") != 0 && strncmp(o, "\r\n+CME ERROR: ", 14) != 0)
            fail_msg("%s -> %s", bad[i], o);
    }
    assert_string_equal(mt_send(t, "AT\r"), "\r\nOK\r\n");
}

static void qrst(void **st)
{
    struct mt *t = *st;
    mt_send(t, "ATE0\r");
    assert_string_equal(mt_send(t, "AT+QRST=?\r"), "\r\n+QRST: (1)\r\n\r\nOK\r\n");
    assert_string_equal(mt_send(t, "AT+QRST=1\r"), "\r\nOK\r\n");
    assert_true(dfota_mod_reboot_requested(t->m));
    /* nothing more is taken until the platform resets */
    assert_string_equal(mt_send(t, "AT\r"), "");
    mt_clear(t);
    mt_reboot_if_asked(t);
    assert_string_equal(t->out, BANNER "\r\n+CPIN: READY\r\n\r\n+IP: 10.0.0.5\r\n");
    /* settings are back to their defaults */
    assert_string_equal(mt_send(t, "AT\r"), "AT\r\r\nOK\r\n");
}

static void qfotadl_read(void **st)
{
    struct mt *t = *st;
    mt_send(t, "ATE0\r");
    assert_string_equal(mt_send(t, "AT+QFOTADL?\r"), "\r\n+QFOTADL: \"NONE\",0\r\n\r\nOK\r\n");
}

/* ---- the AT+QFOTADL argument ------------------------------------------------- */

static void qfotadl_syntax(void **st)
{
    struct mt *t = *st;
    char line[400], url[300];

    mt_send(t, "ATE0\r");
    /* unterminated quote, no quotes, text after the quote, two strings */
    assert_string_equal(mt_send(t, "AT+QFOTADL=\"http://h/x\r"), "\r\nERROR\r\n");
    assert_string_equal(mt_send(t, "AT+QFOTADL=http://h/x\r"), "\r\nERROR\r\n");
    assert_string_equal(mt_send(t, "AT+QFOTADL=\"http://h/x\"y\r"), "\r\nERROR\r\n");
    assert_string_equal(mt_send(t, "AT+QFOTADL=\"http://h/x\",\"b\"\r"), "\r\nERROR\r\n");
    assert_string_equal(mt_send(t, "AT+QFOTADL=\"\"\r"), "\r\n+CME ERROR: 50\r\n");
    /* a URL rule: +CME ERROR: 50 (ERROR with AT+CMEE=0) */
    assert_string_equal(mt_send(t, "AT+QFOTADL=\"ftp://h/x\"\r"), "\r\n+CME ERROR: 50\r\n");
    mt_send(t, "AT+CMEE=0\r");
    assert_string_equal(mt_send(t, "AT+QFOTADL=\"ftp://h/x\"\r"), "\r\nERROR\r\n");
    /* a space inside the quotes is kept (and refused by the URL rules) */
    assert_string_equal(mt_send(t, "AT+QFOTADL=\"http://h/a b\"\r"), "\r\nERROR\r\n");
    /* a 256-byte URL fits the line but not the rule; 255 bytes is accepted */
    memset(url, 'a', sizeof url);
    memcpy(url, "http://h/", 9);
    url[256] = 0;
    snprintf(line, sizeof line, "AT+QFOTADL=\"%s\"\r", url);
    assert_string_equal(mt_send(t, line), "\r\nERROR\r\n");
    url[255] = 0;
    snprintf(line, sizeof line, "AT+QFOTADL=\"%s\"\r", url);
    assert_string_equal(mt_send(t, line), "\r\nOK\r\n\r\n+QIND: \"FOTA\",\"HTTPSTART\"\r\n");
    mt_step(t, 10);
    assert_int_equal(t->nreqs, 1);
    assert_string_equal(t->reqs[0].url, url);
    assert_int_equal(t->reqs[0].offset, 0);
    /* a ';' inside the quotes does not split the line */
    t->srv.status = 404;
    mt_run(t, 100);
    mt_clear(t);
    assert_string_equal(mt_send(t, "AT+QFOTADL=\"http://h/a;b\";+CPIN?\r"),
                        "\r\n+CPIN: READY\r\n\r\nOK\r\n\r\n+QIND: \"FOTA\",\"HTTPSTART\"\r\n");
    mt_step(t, 10);
    assert_string_equal(t->reqs[1].url, "http://h/a;b");
}

static void url_ok(const char *s, int https, const char *host, unsigned port, const char *path)
{
    struct dfota_url u;
    int rc = dfota_url_parse(s, strlen(s), &u);
    if (rc)
        fail_msg("refused: %s", s);
    assert_int_equal(u.https, https);
    assert_int_equal(u.host_len, strlen(host));
    assert_memory_equal(u.host, host, u.host_len);
    assert_int_equal(u.port, port);
    assert_int_equal(u.path_len, strlen(path));
    assert_memory_equal(u.path, path, u.path_len);
}

static void url_bad(const char *s, size_t len)
{
    struct dfota_url u;
    if (dfota_url_parse(s, len, &u) != DFOTA_ERR_ARG)
        fail_msg("accepted: %.*s", (int)len, s);
}

#define BAD(s) url_bad(s, strlen(s))

static void url_rules(void **st)
{
    char u[300];
    (void)st;
    /* schemes, any case; default ports */
    url_ok("http://www.example.com:100/update.zip", 0, "www.example.com", 100, "/update.zip");
    url_ok("HTTP://host/x", 0, "host", 80, "/x");
    url_ok("https://host/x", 1, "host", 443, "/x");
    url_ok("HtTpS://host", 1, "host", 443, "/");
    url_ok("http://10.0.0.1?a=b", 0, "10.0.0.1", 80, "?a=b");
    url_ok("http://h#frag", 0, "h", 80, "#frag");
    url_ok("http://a-b.c_d~e/p/q@r:s", 0, "a-b.c_d~e", 80, "/p/q@r:s");  /* '@' in the path is fine */
    BAD("ftp://host/x");
    BAD("http:/host/x");
    BAD("http//host/x");
    BAD("httpx://host/x");
    BAD("//host/x");
    BAD("host/x");
    BAD("http://");
    BAD("http:///x");
    /* ports */
    url_ok("http://h:1/", 0, "h", 1, "/");
    url_ok("http://h:65535/", 0, "h", 65535, "/");
    url_ok("https://h:080/", 1, "h", 80, "/");
    BAD("http://h:0/");
    BAD("http://h:65536/");
    BAD("http://h:99999/");
    BAD("http://h:000001/");
    BAD("http://h:/");
    BAD("http://h:8a/");
    BAD("http://h:-1/");
    BAD("http://:80/");
    /* IPv6 literals */
    url_ok("http://[::1]:8080/x", 0, "::1", 8080, "/x");
    url_ok("https://[2001:db8::a:B]/", 1, "2001:db8::a:B", 443, "/");
    url_ok("http://[::ffff:10.0.0.1]", 0, "::ffff:10.0.0.1", 80, "/");
    BAD("http://[::1/x");
    BAD("http://[]/x");
    BAD("http://[:]/x");
    BAD("http://[zz::1]/x");
    BAD("http://[::1]x/");
    BAD("http://[::1]:0/");
    BAD("http://::1/x");
    /* user-info is refused */
    BAD("http://user@host/x");
    BAD("http://user:pass@host/x");
    BAD("http://@host/x");
    /* spaces, controls, non-ASCII anywhere */
    BAD("http://ho st/x");
    BAD("http://host/a b");
    BAD(" http://host/x");
    BAD("http://host/x ");
    BAD("http://host/\tx");
    BAD("http://host/\x7f");
    BAD("http://host/\xc3\xa9");
    url_bad("http://host/\0x", 14);
    BAD("http://ho\"st/");
    BAD("http://h!st/");
    /* length: 255 bytes yes, 256 no, empty no */
    memset(u, 'a', sizeof u);
    memcpy(u, "http://h/", 9);
    assert_int_equal(dfota_url_parse(u, 255, &(struct dfota_url){ 0 }), DFOTA_OK);
    url_bad(u, 256);
    url_bad(u, 0);
    assert_int_equal(dfota_url_parse(NULL, 5, &(struct dfota_url){ 0 }), DFOTA_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(boot_output, setup, teardown),
        cmocka_unit_test_setup_teardown(echo, setup, teardown),
        cmocka_unit_test_setup_teardown(identification, setup, teardown),
        cmocka_unit_test_setup_teardown(case_insensitive_names, setup, teardown),
        cmocka_unit_test_setup_teardown(spec_session, setup, teardown),
        cmocka_unit_test_setup_teardown(concatenation, setup, teardown),
        cmocka_unit_test_setup_teardown(cmee, setup, teardown),
        cmocka_unit_test_setup_teardown(backspace_and_line_ends, setup, teardown),
        cmocka_unit_test_setup_teardown(overlong_line, setup, teardown),
        cmocka_unit_test_setup_teardown(binary_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(network_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(qrst, setup, teardown),
        cmocka_unit_test_setup_teardown(qfotadl_read, setup, teardown),
        cmocka_unit_test_setup_teardown(qfotadl_syntax, setup, teardown),
        cmocka_unit_test(url_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
