/* Unit tests of the AT/URC parser (include/dfota/at.h): every URC form of
 * the spec's "what public sources add", final codes, echo, framing, and the
 * malformed lines a module or a noisy UART produces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "dfota/at.h"

#define MAXEV 64

struct rec {
    enum dfota_at_ev type;
    char line[DFOTA_AT_LINE_MAX];
    enum dfota_at_stage stage;
    char stage_name[16];
    int32_t value;
    uint8_t flags, bad;
};

static struct rec evs[MAXEV];
static int nev;

static void record(const struct dfota_at_event *ev)
{
    struct rec *r;
    assert_true(nev < MAXEV);
    r = &evs[nev++];
    r->type = ev->type;
    assert_non_null(ev->line);
    assert_int_equal(strlen(ev->line) <= ev->len, 1);
    memcpy(r->line, ev->line, ev->len);
    r->line[ev->len] = 0;
    r->stage = ev->stage;
    assert_non_null(ev->stage_name);
    strncpy(r->stage_name, ev->stage_name, sizeof r->stage_name - 1);
    r->stage_name[sizeof r->stage_name - 1] = 0;
    r->value = ev->value;
    r->flags = ev->flags;
    r->bad = ev->bad;
}

/* Feed bytes in chunks of `chunk` (0: all at once through dfota_at_feed). */
static void feed_n(struct dfota_at *p, const char *s, size_t n, size_t chunk)
{
    struct dfota_at_event ev;
    const uint8_t *b = (const uint8_t *)s;
    if (!chunk) {
        while (n) {
            size_t k = dfota_at_feed(p, b, n, &ev);
            assert_true(k > 0 && k <= n);
            if (ev.type != DFOTA_AT_EV_NONE)
                record(&ev);
            b += k;
            n -= k;
        }
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (dfota_at_putc(p, b[i], &ev))
            record(&ev);
}

static void feed(struct dfota_at *p, const char *s)
{
    feed_n(p, s, strlen(s), 0);
}

static void one(const char *bytes)
{
    struct dfota_at p;
    dfota_at_init(&p);
    nev = 0;
    feed(&p, bytes);
}

static void expect_fota(int i, enum dfota_at_stage st, int32_t v)
{
    assert_int_equal(evs[i].type, DFOTA_AT_EV_FOTA);
    assert_int_equal(evs[i].stage, st);
    assert_int_equal(evs[i].value, v);
}

static void test_guide_session(void **st)
{
    (void)st;
    one("\r\n+QIND: \"FOTA\",\"HTTPSTART\"\r\n"
        "\r\n+QIND: \"FOTA\",\"DOWNLOADING\", 1%\r\n"
        "\r\n+QIND: \"FOTA\",\"DOWNLOADING\", 100%\r\n"
        "\r\n+QIND: \"FOTA\",\"HTTPEND\",0\r\n"
        "\r\n+QIND: \"FOTA\",\"START\"\r\n"
        "\r\n+QIND: \"FOTA\",\"UPDATING\", 7%\r\n"
        "\r\n+QIND: \"FOTA\",\"END\",0\r\n");
    assert_int_equal(nev, 7);
    expect_fota(0, DFOTA_AT_STAGE_HTTPSTART, -1);
    expect_fota(1, DFOTA_AT_STAGE_DOWNLOADING, 1);
    assert_true(evs[1].flags & DFOTA_AT_F_PERCENT);
    expect_fota(2, DFOTA_AT_STAGE_DOWNLOADING, 100);
    expect_fota(3, DFOTA_AT_STAGE_HTTPEND, 0);
    expect_fota(4, DFOTA_AT_STAGE_START, -1);
    expect_fota(5, DFOTA_AT_STAGE_UPDATING, 7);
    expect_fota(6, DFOTA_AT_STAGE_END, 0);
    assert_string_equal(evs[6].stage_name, "END");
    assert_true(evs[0].flags & DFOTA_AT_F_UNSOLICITED);
}

static void test_percent_forms(void **st)
{
    (void)st;
    one("+QIND: \"FOTA\",\"DOWNLOADING\",5\r\n"
        "+QIND: \"FOTA\",\"DOWNLOADING\",6%\r\n"
        "+QIND: \"FOTA\",\"DOWNLOADING\", 7%\r\n"
        "+QIND: \"FOTA\",\"UPDATING\",1%,1,1\r\n"
        "+QIND:\"FOTA\",\"UPDATING\" , 9 % \r\n"
        "+QIND: \"FOTA\",\"UPDATING\",0\r\n");
    assert_int_equal(nev, 6);
    expect_fota(0, DFOTA_AT_STAGE_DOWNLOADING, 5);
    assert_false(evs[0].flags & DFOTA_AT_F_PERCENT);
    expect_fota(1, DFOTA_AT_STAGE_DOWNLOADING, 6);
    assert_true(evs[1].flags & DFOTA_AT_F_PERCENT);
    expect_fota(2, DFOTA_AT_STAGE_DOWNLOADING, 7);
    expect_fota(3, DFOTA_AT_STAGE_UPDATING, 1);
    assert_true(evs[3].flags & DFOTA_AT_F_EXTRA);
    expect_fota(4, DFOTA_AT_STAGE_UPDATING, 9);
    expect_fota(5, DFOTA_AT_STAGE_UPDATING, 0);
}

static void test_stage_names(void **st)
{
    (void)st;
    one("+QIND: \"FOTA\",\"HTTPTART\"\r\n"
        "+QIND: \"FOTA\",\"FTPSTART\"\r\n+QIND: \"FOTA\",\"FTPEND\",0\r\n"
        "+QIND: \"FOTA\",\"FILESTART\"\r\n+QIND: \"FOTA\",\"FILEEND\",3\r\n"
        "+QIND: \"FOTA\",\"RESTORE\",50%\r\n"
        "+QIND: \"FOTA\",\"REBOOTING\"\r\n"
        "+QIND: \"FOTA\",\"ENDX\",0\r\n"
        "+QIND: \"FOTA\",\"end\",255\r\n"
        "+QIND: \"FOTA\",\"HTTPEND\",701\r\n"
        "+QIND: \"FOTA\",\"START\",1\r\n");
    assert_int_equal(nev, 11);
    expect_fota(0, DFOTA_AT_STAGE_HTTPSTART, -1);
    assert_true(evs[0].flags & DFOTA_AT_F_MISSPELT);
    assert_string_equal(evs[0].stage_name, "HTTPTART");
    expect_fota(1, DFOTA_AT_STAGE_FTPSTART, -1);
    expect_fota(2, DFOTA_AT_STAGE_FTPEND, 0);
    expect_fota(3, DFOTA_AT_STAGE_FILESTART, -1);
    expect_fota(4, DFOTA_AT_STAGE_FILEEND, 3);
    expect_fota(5, DFOTA_AT_STAGE_RESTORE, 50);
    /* Unknown stages are reported with their name, not fatal. */
    expect_fota(6, DFOTA_AT_STAGE_UNKNOWN, -1);
    assert_string_equal(evs[6].stage_name, "REBOOTING");
    /* Whole names only: ENDX is not END. */
    expect_fota(7, DFOTA_AT_STAGE_UNKNOWN, 0);
    assert_string_equal(evs[7].stage_name, "ENDX");
    expect_fota(8, DFOTA_AT_STAGE_END, 255);
    expect_fota(9, DFOTA_AT_STAGE_HTTPEND, 701);
    expect_fota(10, DFOTA_AT_STAGE_START, 1);
}

/* The substring trap: HTTPSTART is not START, HTTPEND is not END. */
static void test_whole_names(void **st)
{
    (void)st;
    one("+QIND: \"FOTA\",\"HTTPSTART\"\r\n+QIND: \"FOTA\",\"HTTPEND\",12\r\n");
    expect_fota(0, DFOTA_AT_STAGE_HTTPSTART, -1);
    expect_fota(1, DFOTA_AT_STAGE_HTTPEND, 12);
    assert_int_not_equal(evs[0].stage, DFOTA_AT_STAGE_START);
    assert_int_not_equal(evs[1].stage, DFOTA_AT_STAGE_END);
}

static void expect_bad(int i, enum dfota_at_bad why)
{
    assert_int_equal(evs[i].type, DFOTA_AT_EV_FOTA_BAD);
    assert_int_equal(evs[i].bad, why);
}

static void test_malformed_fota(void **st)
{
    (void)st;
    one("+QIND: \"FOTA\",\"END\"\r\n"                 /* 0 END without its code */
        "+QIND: \"FOTA\",\"HTTPEND\",\r\n"            /* 1 */
        "+QIND: \"FOTA\",\"DOWNLOADING\",abc\r\n"     /* 2 */
        "+QIND: \"FOTA\",\"DOWNLOADING\",101\r\n"     /* 3 */
        "+QIND: \"FOTA\",\"UPDATING\",-1\r\n"         /* 4 */
        "+QIND: \"FOTA\",\"DOWNLOA\r\n"               /* 5 cut */
        "+QIND: \"FOTA,\"END\",0\r\n"                 /* 6 */
        "+QIND: \"FOTA\"\r\n"                         /* 7 */
        "+QIND: \"FOTA\",\r\n"                        /* 8 */
        "+QIND: \"FOTA\",\"END\",0x\r\n"              /* 9 */
        "+QIND: \"FOTA\",\"END\",12345678901\r\n"     /* 10 */
        "+QIND: \"FOTA\",\"DOWNLOADING\", 5%+QIND: \"FOTA\",\"DOWNLOADING\", 6%\r\n" /* 11 */
        "+QIND: \"FOTA\",\"END\",\x01" "0\r\n"        /* 12 */
        "+QIND: \"FOTA\",\"AVERYLONGSTAGENAME\",1\r\n" /* 13 */
        "+QIND: \"FOTA\",END\",0\r\n"                 /* 14 */
        "+QIND: \"FOTA\",\"DOWNLOADING\",,5\r\n"      /* 15 */
        "+QIND: \"FOTA\",\"UPDATING\",4294967296\r\n" /* 16 */
        "+QIND: \"FOTA\",\"UPDATING\",999999999\r\n"); /* 17 */
    assert_int_equal(nev, 18);
    expect_bad(0, DFOTA_AT_BAD_NO_VALUE);
    assert_int_equal(evs[0].stage, DFOTA_AT_STAGE_END);
    expect_bad(1, DFOTA_AT_BAD_NO_VALUE);
    expect_bad(2, DFOTA_AT_BAD_NUMBER);
    expect_bad(3, DFOTA_AT_BAD_RANGE);
    assert_int_equal(evs[3].value, 101);
    expect_bad(4, DFOTA_AT_BAD_NUMBER);
    expect_bad(5, DFOTA_AT_BAD_SYNTAX);
    expect_bad(6, DFOTA_AT_BAD_SYNTAX);
    expect_bad(7, DFOTA_AT_BAD_SYNTAX);
    expect_bad(8, DFOTA_AT_BAD_SYNTAX);
    expect_bad(9, DFOTA_AT_BAD_SYNTAX);
    expect_bad(10, DFOTA_AT_BAD_NUMBER);
    expect_bad(11, DFOTA_AT_BAD_SYNTAX);
    expect_bad(12, DFOTA_AT_BAD_SYNTAX);
    expect_bad(13, DFOTA_AT_BAD_SYNTAX);
    expect_bad(14, DFOTA_AT_BAD_SYNTAX);
    expect_bad(15, DFOTA_AT_BAD_NO_VALUE);
    expect_bad(16, DFOTA_AT_BAD_NUMBER);
    expect_bad(17, DFOTA_AT_BAD_RANGE);
    for (int i = 0; i < nev; i++)
        assert_non_null(dfota_at_bad_str((enum dfota_at_bad)evs[i].bad));
}

/* After a bad line the parser carries on with the next one. */
static void test_recovers(void **st)
{
    struct dfota_at p;
    (void)st;
    dfota_at_init(&p);
    nev = 0;
    {
        static const char g[] = "\xff\xfe\x00garbage\x01\x02\r\n+QIND: \"FOTA\",\"UPDATING\",200\r\n";
        feed_n(&p, g, sizeof g - 1, 0);
    }
    feed(&p, "+QIND: \"FOTA\",\"END\",0\r\n");
    assert_int_equal(nev, 3);
    assert_int_equal(evs[0].type, DFOTA_AT_EV_INFO);
    assert_true(evs[0].flags & DFOTA_AT_F_NOISE);
    expect_bad(1, DFOTA_AT_BAD_RANGE);
    expect_fota(2, DFOTA_AT_STAGE_END, 0);
}

static void test_noise_before_urc(void **st)
{
    (void)st;
    static const char g[] = "\x00\xff\x80+QIND: \"FOTA\",\"END\",254\r\n";
    struct dfota_at p;
    dfota_at_init(&p);
    nev = 0;
    feed_n(&p, g, sizeof g - 1, 1);
    assert_int_equal(nev, 1);
    expect_fota(0, DFOTA_AT_STAGE_END, 254);
    assert_true(evs[0].flags & DFOTA_AT_F_NOISE);
}

static void test_final_codes(void **st)
{
    struct dfota_at p;
    (void)st;
    dfota_at_init(&p);
    nev = 0;
    dfota_at_command(&p, "AT");
    assert_true(dfota_at_pending(&p));
    feed(&p, "\r\nOK\r\n");
    assert_false(dfota_at_pending(&p));
    dfota_at_command(&p, "AT+X");
    feed(&p, "\r\nERROR\r\n");
    dfota_at_command(&p, "AT+QFOTADL=\"x\"");
    feed(&p, "\r\n+CME ERROR: 50\r\n");
    dfota_at_command(&p, "AT+Y");
    feed(&p, "\r\n+CME ERROR: operation not allowed\r\n");
    feed(&p, "+CMS ERROR: 500\r\nNO CARRIER\r\n");
    assert_int_equal(nev, 6);
    assert_int_equal(evs[0].type, DFOTA_AT_EV_OK);
    assert_int_equal(evs[1].type, DFOTA_AT_EV_ERROR);
    assert_int_equal(evs[1].value, -1);
    assert_int_equal(evs[2].type, DFOTA_AT_EV_ERROR);
    assert_int_equal(evs[2].value, 50);
    assert_int_equal(evs[3].value, -2);
    assert_int_equal(evs[4].value, 500);
    assert_int_equal(evs[5].value, -3);
}

static void test_echo_on_and_off(void **st)
{
    struct dfota_at p;
    (void)st;
    dfota_at_init(&p);
    nev = 0;
    /* Echo on: the command comes back ending in CR, then the answer. */
    dfota_at_command(&p, "ATI\r");
    feed(&p, "ATI\r\r\nQuectel_Ltd\r\nQuectel_BC20\r\nRevision: BC20NBR01A08\r\n\r\nOK\r\n");
    dfota_at_command(&p, "ATE0");
    feed(&p, "ATE0\r\r\nOK\r\n");
    /* Echo off. */
    dfota_at_command(&p, "AT+CGMR");
    feed(&p, "\r\nRevision: BC20NBR01A08\r\n\r\nOK\r\n");
    assert_int_equal(nev, 9);
    assert_int_equal(evs[0].type, DFOTA_AT_EV_ECHO);
    assert_int_equal(evs[1].type, DFOTA_AT_EV_INFO);
    assert_false(evs[1].flags & DFOTA_AT_F_UNSOLICITED);
    assert_string_equal(evs[3].line, "Revision: BC20NBR01A08");
    assert_string_equal(dfota_at_revision(evs[3].line), "BC20NBR01A08");
    assert_int_equal(evs[4].type, DFOTA_AT_EV_OK);
    assert_int_equal(evs[5].type, DFOTA_AT_EV_ECHO);
    assert_int_equal(evs[6].type, DFOTA_AT_EV_OK);
    assert_int_equal(evs[7].type, DFOTA_AT_EV_INFO);
    assert_int_equal(evs[8].type, DFOTA_AT_EV_OK);
    /* Echo with nothing pending (typed by someone else). */
    one("AT+CGMR\r\r\n");
    assert_int_equal(evs[0].type, DFOTA_AT_EV_ECHO);
    one("ATTACHED\r\n");
    assert_int_equal(evs[0].type, DFOTA_AT_EV_INFO);
}

/* The guide's concatenated line: four answers, one OK; a URC between two
 * commands is a URC, an answer named by the command line is information. */
static void test_concatenation_and_urcs(void **st)
{
    struct dfota_at p;
    (void)st;
    dfota_at_init(&p);
    nev = 0;
    dfota_at_command(&p, "AT+CESQ;+CEREG?;+CPIN?;+COPS?");
    feed(&p, "\r\n+CESQ: 47,6,255,255,0,54\r\n\r\n+CEREG: 0,1\r\n\r\n+CPIN: READY\r\n"
             "\r\n+COPS: 0,2,\"46011\",9\r\n\r\nOK\r\n");
    feed(&p, "\r\n+IP: 10.0.0.5\r\n\r\n+CPIN: READY\r\n");
    dfota_at_command(&p, "AT+QFOTADL=\"http://h/a;+CESQ\"");
    feed(&p, "\r\n+CESQ: 1\r\n\r\nOK\r\n");
    assert_int_equal(nev, 9);
    for (int i = 0; i < 4; i++)
        assert_int_equal(evs[i].type, DFOTA_AT_EV_INFO);
    assert_int_equal(evs[4].type, DFOTA_AT_EV_OK);
    assert_int_equal(evs[5].type, DFOTA_AT_EV_URC);
    assert_int_equal(evs[6].type, DFOTA_AT_EV_URC);
    /* ";+CESQ" inside the quoted URL names no command. */
    assert_int_equal(evs[7].type, DFOTA_AT_EV_URC);
    assert_int_equal(evs[8].type, DFOTA_AT_EV_OK);
    /* FOTA URCs are URCs even while a command pends. */
    dfota_at_init(&p);
    nev = 0;
    dfota_at_command(&p, "AT+QIND?");
    feed(&p, "+QIND: \"FOTA\",\"END\",0\r\n+QIND: \"PSM\",\"ENTER\"\r\n");
    expect_fota(0, DFOTA_AT_STAGE_END, 0);
    assert_int_equal(evs[1].type, DFOTA_AT_EV_URC);
}

static void test_boot_lines(void **st)
{
    (void)st;
    one("F1: 0000 0000\n\rV0: 0000 0000 [0001]\n\r00: 0006 000C\n\rLeaving the BROM\n\r"
        "\r\n+CPIN: READY\r\n\r\n+IP: 10.0.0.5\r\n");
    assert_int_equal(nev, 6);
    assert_string_equal(evs[0].line, "F1: 0000 0000");
    assert_string_equal(evs[3].line, "Leaving the BROM");
    for (int i = 0; i < 4; i++) {
        assert_int_equal(evs[i].type, DFOTA_AT_EV_INFO);
        assert_true(evs[i].flags & DFOTA_AT_F_UNSOLICITED);
    }
    assert_int_equal(evs[4].type, DFOTA_AT_EV_URC);
    assert_int_equal(evs[5].type, DFOTA_AT_EV_URC);
}

static void test_boot_line_helper(void **st)
{
    struct dfota_at p;
    struct dfota_at_event ev;
    static const struct { const char *bytes; int pending, boot; } cases[] = {
        { "F1: 0000 0000\n\r", 0, 1 },  { "Leaving the BROM\n\r", 0, 1 },
        { "\r\nRDY\r\n", 0, 1 },        { "\r\n+CPIN: READY\r\n", 0, 1 },
        { "\r\n+IP: 10.0.0.5\r\n", 0, 0 }, { "\r\n+CEREG: 1\r\n", 0, 0 },
        { "\r\n+CPIN: READY\r\n", 1, 0 }, /* the answer to AT+CPIN? */
        { "\r\nQuectel_BC20\r\n", 0, 0 }, { "\r\nOK\r\n", 0, 0 },
    };
    (void)st;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *b = cases[i].bytes;
        size_t n = strlen(b), off = 0;
        dfota_at_init(&p);
        if (cases[i].pending)
            dfota_at_command(&p, "AT+CPIN?");
        ev.type = DFOTA_AT_EV_NONE;
        while (off < n && ev.type == DFOTA_AT_EV_NONE)
            off += dfota_at_feed(&p, (const uint8_t *)b + off, n - off, &ev);
        assert_int_not_equal(ev.type, DFOTA_AT_EV_NONE);
        assert_int_equal(dfota_at_is_boot_line(&ev), cases[i].boot);
    }
}

static void test_stray_cr(void **st)
{
    (void)st;
    one("\r\r+QIND: \"FOTA\",\"DOWN\rLOADING\",\r 3%\r\r\n\r\rOK\r\r\n");
    assert_int_equal(nev, 2);
    expect_fota(0, DFOTA_AT_STAGE_DOWNLOADING, 3);
    assert_int_equal(evs[1].type, DFOTA_AT_EV_OK);
}

static void test_byte_by_byte_same(void **st)
{
    static const char s[] = "ATE0\r\r\nOK\r\n\r\n+QIND: \"FOTA\",\"DOWNLOADING\", 42%\r\n"
                            "\r\n+QIND: \"FOTA\",\"END\",2\r\nF1: 0000\n\r";
    struct rec a[MAXEV];
    int na;
    struct dfota_at p;
    (void)st;
    one(s);
    na = nev;
    memcpy(a, evs, sizeof a);
    dfota_at_init(&p);
    nev = 0;
    feed_n(&p, s, sizeof s - 1, 1);
    assert_int_equal(na, nev);
    assert_int_equal(na, 5);
    for (int i = 0; i < na; i++) {
        assert_int_equal(a[i].type, evs[i].type);
        assert_string_equal(a[i].line, evs[i].line);
        assert_int_equal(a[i].value, evs[i].value);
    }
}

static void test_overflow(void **st)
{
    char big[1000];
    struct dfota_at p;
    (void)st;
    memset(big, 'x', sizeof big);
    dfota_at_init(&p);
    nev = 0;
    feed_n(&p, big, sizeof big, 0);
    feed(&p, "\r\n+QIND: \"FOTA\",\"END\",0\r\n");
    assert_int_equal(nev, 2);
    assert_int_equal(evs[0].type, DFOTA_AT_EV_OVERFLOW);
    assert_int_equal(strlen(evs[0].line), DFOTA_AT_LINE_MAX - 1);
    expect_fota(1, DFOTA_AT_STAGE_END, 0);
    /* A line of exactly LINE_MAX - 1 bytes fits. */
    dfota_at_init(&p);
    nev = 0;
    feed_n(&p, big, DFOTA_AT_LINE_MAX - 1, 1);
    feed(&p, "\n");
    assert_int_equal(nev, 1);
    assert_int_equal(evs[0].type, DFOTA_AT_EV_INFO);
    /* The echo of a 255-byte URL fits. */
    assert_true(DFOTA_AT_LINE_MAX - 1 >= 13 + 255 + 2);
}

static void test_flush(void **st)
{
    struct dfota_at p;
    struct dfota_at_event ev;
    (void)st;
    dfota_at_init(&p);
    nev = 0;
    feed(&p, "\r\nOK\r");
    assert_int_equal(nev, 0);
    assert_true(dfota_at_flush(&p, &ev));
    assert_int_equal(ev.type, DFOTA_AT_EV_OK);
    assert_false(dfota_at_flush(&p, &ev));
}

static void test_params(void **st)
{
    const char *pr;
    int32_t v;
    char buf[32];
    (void)st;
    pr = dfota_at_params("+CEREG: 0,1", "+CEREG");
    assert_non_null(pr);
    assert_int_equal(dfota_at_param_int(pr, 1, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(dfota_at_param_int(pr, 2, &v), -1);
    assert_null(dfota_at_params("+CEREGX: 0,1", "+CEREG"));
    assert_null(dfota_at_params("+CEREG 0,1", "+CEREG"));
    pr = dfota_at_params("+CGPADDR: 1,10.0.0.5", "+cgpaddr");
    assert_int_equal(dfota_at_param_str(pr, 1, buf, sizeof buf), 8);
    assert_string_equal(buf, "10.0.0.5");
    pr = dfota_at_params("+CGPADDR: 1", "+CGPADDR");
    assert_int_equal(dfota_at_param_str(pr, 1, buf, sizeof buf), -1);
    pr = dfota_at_params("+COPS: 0,2,\"46,011\",9", "+COPS");
    assert_int_equal(dfota_at_param_str(pr, 2, buf, sizeof buf), 6);
    assert_string_equal(buf, "46,011");
    assert_int_equal(dfota_at_param_int(pr, 3, &v), 0);
    assert_int_equal(v, 9);
    pr = dfota_at_params("+CESQ: 99,99,255,255,-5,54", "+CESQ");
    assert_int_equal(dfota_at_param_int(pr, 4, &v), 0);
    assert_int_equal(v, -5);
    assert_int_equal(dfota_at_param_str(pr, 0, buf, 2), -1);
    assert_null(dfota_at_revision("Quectel_BC20"));
    assert_null(dfota_at_revision("Revision:  "));
}

static void test_meanings(void **st)
{
    (void)st;
    assert_string_equal(dfota_at_http_err_str(12), "HTTP(S) download failed");
    assert_string_equal(dfota_at_http_err_str(13), "network deactivated");
    assert_string_equal(dfota_at_http_err_str(20), "network activating");
    assert_string_equal(dfota_at_http_err_str(701), "unknown download error");
    assert_string_equal(dfota_at_fota_err_str(2), "FOTA is busy");
    assert_non_null(strstr(dfota_at_fota_err_str(254), "mismatch"));
    assert_non_null(strstr(dfota_at_fota_err_str(255), "invalid"));
    assert_string_equal(dfota_at_stage_str(DFOTA_AT_STAGE_HTTPEND), "HTTPEND");
    assert_string_equal(dfota_at_stage_str((enum dfota_at_stage)99), "UNKNOWN");
}

static void test_lwm2m(void **st)
{
    enum dfota_lwm2m_state s = DFOTA_LWM2M_IDLE;
    enum dfota_lwm2m_result r = DFOTA_LWM2M_INITIAL;
    struct dfota_at p;
    struct dfota_at_event ev;
    static const struct {
        const char *line;
        int changed;
        enum dfota_lwm2m_state s;
        enum dfota_lwm2m_result r;
    } steps[] = {
        { "+QIND: \"FOTA\",\"HTTPSTART\"\n", 1, DFOTA_LWM2M_DOWNLOADING, DFOTA_LWM2M_INITIAL },
        { "+QIND: \"FOTA\",\"DOWNLOADING\", 5%\n", 0, DFOTA_LWM2M_DOWNLOADING, DFOTA_LWM2M_INITIAL },
        { "+QIND: \"FOTA\",\"HTTPEND\",0\n", 1, DFOTA_LWM2M_DOWNLOADED, DFOTA_LWM2M_INITIAL },
        { "+QIND: \"FOTA\",\"START\"\n", 1, DFOTA_LWM2M_UPDATING, DFOTA_LWM2M_INITIAL },
        { "+QIND: \"FOTA\",\"END\",2\n", 0, DFOTA_LWM2M_UPDATING, DFOTA_LWM2M_INITIAL },
        { "+QIND: \"FOTA\",\"END\",0\n", 1, DFOTA_LWM2M_IDLE, DFOTA_LWM2M_SUCCESS },
        { "+QIND: \"FOTA\",\"HTTPSTART\"\n", 1, DFOTA_LWM2M_DOWNLOADING, DFOTA_LWM2M_INITIAL },
        { "+QIND: \"FOTA\",\"HTTPEND\",12\n", 1, DFOTA_LWM2M_IDLE, DFOTA_LWM2M_CONN_LOST },
        { "+QIND: \"FOTA\",\"END\",254\n", 1, DFOTA_LWM2M_IDLE, DFOTA_LWM2M_UNSUPPORTED },
        { "+QIND: \"FOTA\",\"END\",255\n", 1, DFOTA_LWM2M_IDLE, DFOTA_LWM2M_INTEGRITY },
        { "+QIND: \"FOTA\",\"END\",1\n", 1, DFOTA_LWM2M_IDLE, DFOTA_LWM2M_FAILED },
        { "+QIND: \"FOTA\",\"END\"\n", 0, DFOTA_LWM2M_IDLE, DFOTA_LWM2M_FAILED },
    };
    (void)st;
    dfota_at_init(&p);
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        const char *l = steps[i].line;
        size_t n = strlen(l);
        assert_int_equal(dfota_at_feed(&p, (const uint8_t *)l, n, &ev), n);
        assert_int_equal(dfota_at_lwm2m(&ev, &s, &r), steps[i].changed);
        assert_int_equal(s, steps[i].s);
        assert_int_equal(r, steps[i].r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guide_session),
        cmocka_unit_test(test_percent_forms),
        cmocka_unit_test(test_stage_names),
        cmocka_unit_test(test_whole_names),
        cmocka_unit_test(test_malformed_fota),
        cmocka_unit_test(test_recovers),
        cmocka_unit_test(test_noise_before_urc),
        cmocka_unit_test(test_final_codes),
        cmocka_unit_test(test_echo_on_and_off),
        cmocka_unit_test(test_concatenation_and_urcs),
        cmocka_unit_test(test_boot_lines),
        cmocka_unit_test(test_boot_line_helper),
        cmocka_unit_test(test_stray_cr),
        cmocka_unit_test(test_byte_by_byte_same),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_flush),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_meanings),
        cmocka_unit_test(test_lwm2m),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
