/* The module core's FOTA state machine, driven directly with a fake HTTP
 * server on the strict simulated flash: every path of AT+QFOTADL, its URCs
 * and codes, and what boots afterwards. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "dfota/sha256.h"
#include "modtest.h"

#define ALEN 24000
#define SLOT 65536
#define STAGING 49152
#define URL "http://pkg.example/fw/update.bin"
#define REQ "AT+QFOTADL=\"" URL "\"\r"

struct fx {
    uint8_t *a, *b, *c;          /* source, target, another release */
    size_t blen, clen;
    uint8_t *pkg[2], *pkg_c[2];  /* a->b and a->c, A/B [0] and in place [1] */
    size_t plen[2], plen_c[2];
};
static struct fx F;

static uint8_t *build(const uint8_t *src, size_t slen, const uint8_t *dst, size_t dlen, int inplace,
                      const char *product, const char *to, const uint8_t *sk, size_t *plen)
{
    struct dfota_diff_opts o;
    struct dfota_pkg_meta meta = { product, "1.0.0", to, 0, 0 };
    uint8_t *pkg = NULL;
    memset(&o, 0, sizeof o);
    o.inplace = inplace;
    o.sector_size = 4096;
    o.lag = 2;
    assert_int_equal(dfota_package_build(src, slen, dst, dlen, &o, &meta, sk, &pkg, plen, NULL), 0);
    return pkg;
}

static uint8_t *build_sec(const uint8_t *src, size_t slen, const uint8_t *dst, size_t dlen,
                          const char *to, uint32_t sec, size_t *plen)
{
    struct dfota_diff_opts o;
    struct dfota_pkg_meta meta = { "dfota-test", "x", to, sec, 0 };
    uint8_t pk[32], sk[64], *pkg = NULL;
    tu_keys(pk, sk);
    memset(&o, 0, sizeof o);
    assert_int_equal(dfota_package_build(src, slen, dst, dlen, &o, &meta, sk, &pkg, plen, NULL), 0);
    return pkg;
}

/* A target with 16 KiB of new, incompressible bytes: packages of ~17 KiB,
 * several staging sectors, so that resumes have whole sectors to keep. */
static uint8_t *release(const uint8_t *a, uint32_t seed, size_t *len)
{
    size_t n, i;
    uint8_t *r = tu_release(a, ALEN, seed, &n), *q = malloc(n + 16384);
    memcpy(q, r, n);
    for (i = 0; i < 16384; i++)
        q[n + i] = (uint8_t)tu_rand(&seed);
    free(r);
    *len = n + 16384;
    return q;
}

static int group_setup(void **st)
{
    uint8_t pk[32], sk[64];
    int k;
    (void)st;
    tu_keys(pk, sk);
    F.a = tu_image(ALEN, 5);
    F.b = release(F.a, 6, &F.blen);
    F.c = release(F.a, 9, &F.clen);
    for (k = 0; k < 2; k++) {
        F.pkg[k] = build(F.a, ALEN, F.b, F.blen, k, "dfota-test", "1.1.0", sk, &F.plen[k]);
        F.pkg_c[k] = build(F.a, ALEN, F.c, F.clen, k, "dfota-test", "1.2.0", sk, &F.plen_c[k]);
    }
    return 0;
}

static int group_teardown(void **st)
{
    int k;
    (void)st;
    for (k = 0; k < 2; k++) {
        free(F.pkg[k]);
        free(F.pkg_c[k]);
    }
    free(F.a);
    free(F.b);
    free(F.c);
    return 0;
}

static struct mt *device(int inplace)
{
    struct mt *t = calloc(1, sizeof *t);
    mt_init(t, inplace ? DFOTA_LAYOUT_INPLACE : DFOTA_LAYOUT_AB, 4096, SLOT, 4, STAGING);
    mt_flash_image(t, F.a, ALEN);
    assert_int_equal(mt_power_up(t, "1.0.0"), 0);
    mt_send(t, "ATE0\r");
    t->srv.file = F.pkg[inplace];
    t->srv.len = F.plen[inplace];
    mt_clear(t);
    return t;
}

static void done(struct mt *t)
{
    mt_free(t);
    free(t);
}

/* The bank that boots holds exactly img. */
static void boots(struct mt *t, const uint8_t *img, size_t len)
{
    const struct dfota_layout *l = &t->cfg.engine.layout;
    unsigned s = dfota_active_slot(&t->m->engine);
    assert_false(dfota_pending(&t->m->engine));
    assert_memory_equal(t->flash.mem + l->slot[s], img, len);
}

static void fota(struct mt *t)
{
    assert_string_equal(mt_send(t, REQ), "\r\nOK\r\n\r\n+QIND: \"FOTA\",\"HTTPSTART\"\r\n");
    assert_int_equal(mt_run(t, 200000), 0);
}

static const char *read_result(struct mt *t)
{
    static char b[64];
    const char *o = mt_send(t, "AT+QFOTADL?\r"), *p = strstr(o, "+QFOTADL: ");
    assert_non_null(p);
    snprintf(b, sizeof b, "%.*s", (int)strcspn(p + 10, "\r"), p + 10);
    return b;
}

/* ---- success ---------------------------------------------------------------- */

static void success(int inplace)
{
    struct mt *t = device(inplace);
    char q[1 << 14];

    fota(t);
    mt_assert_fota(t, 0, 0);
    assert_true(dfota_mod_reboot_requested(t->m));
    assert_int_equal(t->nreqs, 1);
    assert_int_equal(t->reqs[0].offset, 0);
    assert_false(t->reqs[0].has_if_range);
    /* the URCs end the download output as the guide shows */
    assert_non_null(strstr(t->out, "\r\n+QIND: \"FOTA\",\"DOWNLOADING\", 100%\r\n"
                                   "\r\n+QIND: \"FOTA\",\"HTTPEND\",0\r\n"
                                   "\r\n+QIND: \"FOTA\",\"START\"\r\n"));
    assert_non_null(strstr(t->out, "\r\n+QIND: \"FOTA\",\"UPDATING\", 100%\r\n"
                                   "\r\n+QIND: \"FOTA\",\"END\",0\r\n"));
    mt_qinds(t, q, sizeof q);
    assert_non_null(strstr(q, "DOWNLOADING,1"));
    mt_clear(t);
    mt_reboot_if_asked(t);
    assert_non_null(strstr(t->out, "Leaving the BROM\n\r\r\n+CPIN: READY\r\n"));
    assert_null(strstr(t->out, "+QIND"));
    boots(t, F.b, F.blen);
    assert_string_equal(mt_revision(t), "1.1.0");
    mt_send(t, "ATE0\r");
    assert_non_null(strstr(mt_send(t, "ATI\r"), "\r\nRevision: 1.1.0\r\n\r\nOK\r\n"));
    assert_string_equal(read_result(t), "\"END\",0");
    /* and it stays so at every power-up */
    mt_power_up(t, NULL);
    assert_string_equal(mt_revision(t), "1.1.0");
    assert_string_equal(read_result(t), "\"END\",0");
    boots(t, F.b, F.blen);
    done(t);
}

static void success_ab(void **st)
{
    (void)st;
    success(0);
}

static void success_inplace(void **st)
{
    (void)st;
    success(1);
}

/* A second update from the new firmware: the module knows what it runs. */
static void two_updates(void **st)
{
    struct mt *t = device(0);
    uint8_t pk[32], sk[64];
    size_t plen;
    uint8_t *p2;
    (void)st;
    tu_keys(pk, sk);
    fota(t);
    mt_reboot_if_asked(t);
    assert_string_equal(mt_revision(t), "1.1.0");
    p2 = build(F.b, F.blen, F.c, F.clen, 0, "dfota-test", "1.2.0", sk, &plen);
    t->srv.file = p2;
    t->srv.len = plen;
    snprintf(t->srv.etag, sizeof t->srv.etag, "\"e-2\"");
    mt_send(t, "ATE0\r");
    mt_clear(t);
    fota(t);
    mt_assert_fota(t, 0, 0);
    mt_reboot_if_asked(t);
    assert_string_equal(mt_revision(t), "1.2.0");
    boots(t, F.c, F.clen);
    /* the same package again: built from 1.1.0, no longer the source */
    mt_send(t, "ATE0\r");
    mt_clear(t);
    fota(t);
    mt_assert_fota(t, 0, 254);
    assert_string_equal(mt_revision(t), "1.2.0");
    boots(t, F.c, F.clen);
    free(p2);
    done(t);
}

/* The module keeps the security counter of what it installed: an older
 * counter is refused afterwards (255), an equal one is fine. */
static void security_counter_kept(void **st)
{
    struct mt *t = device(0);
    uint8_t *p1, *p2, *p3;
    size_t l1, l2, l3;
    (void)st;
    p1 = build_sec(F.a, ALEN, F.b, F.blen, "1.1.0", 5, &l1);
    p2 = build_sec(F.b, F.blen, F.c, F.clen, "1.2.0", 3, &l2);
    p3 = build_sec(F.b, F.blen, F.c, F.clen, "1.2.1", 5, &l3);
    t->srv.file = p1;
    t->srv.len = l1;
    fota(t);
    mt_assert_fota(t, 0, 0);
    mt_reboot_if_asked(t);
    mt_send(t, "ATE0\r");
    t->srv.file = p2;
    t->srv.len = l2;
    snprintf(t->srv.etag, sizeof t->srv.etag, "\"e-2\"");
    mt_clear(t);
    fota(t);
    mt_assert_fota(t, 0, 255);
    assert_string_equal(mt_revision(t), "1.1.0");
    t->srv.file = p3;
    t->srv.len = l3;
    snprintf(t->srv.etag, sizeof t->srv.etag, "\"e-3\"");
    mt_clear(t);
    fota(t);
    mt_assert_fota(t, 0, 0);
    mt_reboot_if_asked(t);
    assert_string_equal(mt_revision(t), "1.2.1");
    free(p1);
    free(p2);
    free(p3);
    done(t);
}

static void percent_forms(void **st)
{
    static const char *want[] = { "\"DOWNLOADING\", 100%\r\n", "\"DOWNLOADING\",100\r\n",
                                  "\"DOWNLOADING\",100%\r\n" };
    int f;
    (void)st;
    for (f = 0; f < 3; f++) {
        struct mt *t = device(0);
        t->cfg.percent_form = (uint8_t)f;
        fota(t);
        mt_assert_fota(t, 0, 0);
        assert_non_null(strstr(t->out, want[f]));
        done(t);
    }
}

/* A slow link: a DOWNLOADING URC at least every progress_ms while bytes come,
 * never backwards. */
static void progress_heartbeat(void **st)
{
    struct mt *t = device(0);
    char q[1 << 16];
    int repeats = 0, prev = -1, seen[101] = { 0 }, i;
    char *line, *save = NULL;
    (void)st;
    t->cfg.progress_ms = 300;
    t->srv.chunk = 16;           /* 1 % is ~11 steps of 10 ms... */
    mt_send(t, REQ);
    while (t->m->fota != DFOTA_MOD_FOTA_IDLE && !dfota_mod_reboot_requested(t->m))
        mt_step(t, 40);          /* ...and of 40 ms: ~440 ms per percent */
    mt_assert_fota(t, 0, 0);
    mt_qinds(t, q, sizeof q);
    for (line = strtok_r(q, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        if (strncmp(line, "DOWNLOADING,", 12) == 0) {
            int p = atoi(line + 12);
            repeats += p == prev;
            prev = p;
            seen[p] = 1;
        }
    assert_true(repeats > 20);
    for (i = 1; i <= 100; i++)
        assert_true(seen[i]);                   /* small chunks: every percent */
    done(t);
}

/* ---- download failures ---------------------------------------------------------- */

/* dfota_mod_poll_in: what the core's timers need, so a platform can sleep. */
static void poll_deadlines(void **st)
{
    struct mt *t = device(0);
    (void)st;
    assert_int_equal(dfota_mod_poll_in(t->m, t->now), -1);          /* idle */
    mt_send(t, REQ);
    assert_int_equal(dfota_mod_poll_in(t->m, t->now), 0);           /* the GET is due */
    mt_step(t, 10);                                                 /* started */
    assert_int_equal(dfota_mod_poll_in(t->m, t->now), (int32_t)t->cfg.http_stall_ms);
    mt_step(t, 10);                                                 /* headers */
    mt_step(t, 10);                                                 /* 700 bytes */
    /* events carry the time of the last poll: 10 ms ago here */
    assert_int_equal(dfota_mod_poll_in(t->m, t->now), (int32_t)t->cfg.http_stall_ms - 10);
    t->srv.stall_at = 700;                                          /* the server stops */
    mt_step(t, 10);
    /* no bytes since the last URC: no heartbeat, the stall timer runs */
    assert_int_equal(dfota_mod_poll_in(t->m, t->now), (int32_t)t->cfg.http_stall_ms - 20);
    t->now += t->cfg.http_stall_ms;
    assert_int_equal(dfota_mod_poll_in(t->m, t->now), 0);
    mt_step(t, 0);                                                  /* the stall: a retry */
    assert_int_equal(dfota_mod_poll_in(t->m, t->now), DFOTA_MOD_RETRY_MS);
    done(t);
}

static void http_404(void **st)
{
    struct mt *t = device(0);
    (void)st;
    t->srv.status = 404;
    fota(t);
    mt_assert_fota(t, 12, 0);
    assert_int_equal(t->nreqs, 1);              /* a 404 is not retried */
    assert_false(dfota_mod_reboot_requested(t->m));
    assert_string_equal(mt_revision(t), "1.0.0");
    boots(t, F.a, ALEN);
    assert_string_equal(read_result(t), "\"HTTPEND\",12");
    mt_power_up(t, NULL);
    assert_string_equal(read_result(t), "\"HTTPEND\",12");
    done(t);
}

static void http_500_retried(void **st)
{
    struct mt *t = device(0);
    uint32_t t0 = t->now;
    (void)st;
    t->srv.status = 503;
    fota(t);
    mt_assert_fota(t, 12, 0);
    assert_int_equal(t->nreqs, 1 + 3);          /* http_retries = 3 */
    assert_true(t->now - t0 >= 3 * DFOTA_MOD_RETRY_MS);
    boots(t, F.a, ALEN);
    done(t);
}

static void retries_resume_with_if_range(void **st)
{
    struct mt *t = device(0);
    (void)st;
    t->srv.fail_at = 5000;                      /* each GET breaks after 5000 bytes */
    t->srv.fail_count = 2;
    fota(t);
    mt_assert_fota(t, 0, 0);
    assert_int_equal(t->nreqs, 3);
    assert_int_equal(t->reqs[0].offset, 0);
    assert_int_equal(t->reqs[1].offset, 5000);  /* exactly where it broke */
    assert_true(t->reqs[1].has_if_range);
    assert_string_equal(t->reqs[1].if_range, "\"e-1\"");
    assert_int_equal(t->reqs[2].offset, 10000);
    assert_string_equal(t->reqs[2].url, URL);
    mt_reboot_if_asked(t);
    assert_string_equal(mt_revision(t), "1.1.0");
    boots(t, F.b, F.blen);
    done(t);
}

static void no_validator_resumes_by_size(void **st)
{
    struct mt *t = device(0);
    (void)st;
    t->srv.etag[0] = 0;
    t->srv.fail_at = 6000;
    t->srv.fail_count = 1;
    fota(t);
    mt_assert_fota(t, 0, 0);
    assert_int_equal(t->nreqs, 2);
    assert_int_equal(t->reqs[1].offset, 6000);
    assert_false(t->reqs[1].has_if_range);
    done(t);
}

/* Retries used up: HTTPEND,12; the same URL again resumes from the whole
 * sectors staged. */
static void retries_exhausted_then_same_url(void **st)
{
    struct mt *t = device(0);
    (void)st;
    t->srv.fail_at = 3000;
    t->srv.fail_count = -1;
    fota(t);
    mt_assert_fota(t, 12, 0);
    assert_int_equal(t->nreqs, 4);
    assert_int_equal(t->reqs[3].offset, 9000);
    boots(t, F.a, ALEN);
    assert_string_equal(read_result(t), "\"HTTPEND\",12");
    t->srv.fail_count = 0;
    mt_clear(t);
    fota(t);
    mt_assert_fota(t, 0, 0);
    assert_int_equal(t->nreqs, 5);
    assert_int_equal(t->reqs[4].offset, 8192);  /* the two sectors on record */
    assert_string_equal(t->reqs[4].if_range, "\"e-1\"");
    mt_reboot_if_asked(t);
    assert_string_equal(mt_revision(t), "1.1.0");
    done(t);
}

/* Power lost during the download: after the power-up, the same URL resumes. */
static void power_loss_during_download(void **st)
{
    struct mt *t = device(0);
    (void)st;
    mt_send(t, REQ);
    while (t->pos < 13000)
        mt_step(t, 10);
    mt_power_up(t, NULL);                       /* the module simply restarts */
    mt_send(t, "ATE0\r");
    assert_string_equal(mt_revision(t), "1.0.0");
    boots(t, F.a, ALEN);
    {
        char want[40];
        snprintf(want, sizeof want, "\"DOWNLOADING\",%d", (int)(12288 * 100 / F.plen[0]));
        assert_string_equal(read_result(t), want);
    }
    mt_clear(t);
    fota(t);
    mt_assert_fota(t, 0, 0);
    assert_int_equal(t->nreqs, 2);
    assert_int_equal(t->reqs[1].offset, 12288);
    assert_string_equal(t->reqs[1].if_range, "\"e-1\"");
    mt_reboot_if_asked(t);
    assert_string_equal(mt_revision(t), "1.1.0");
    boots(t, F.b, F.blen);
    done(t);
}

/* The file changed on the server between the cut and the resume: the 200
 * answer to If-Range starts over; nothing of the old file is kept. */
static void validator_change_restarts(void **st)
{
    struct mt *t = device(0);
    (void)st;
    mt_send(t, REQ);
    while (t->pos < 13000)
        mt_step(t, 10);
    mt_power_up(t, NULL);
    t->srv.file = F.pkg_c[0];
    t->srv.len = F.plen_c[0];
    snprintf(t->srv.etag, sizeof t->srv.etag, "\"e-2\"");
    mt_send(t, "ATE0\r");
    mt_clear(t);
    fota(t);
    mt_assert_fota(t, 0, 0);
    assert_int_equal(t->reqs[1].offset, 12288);
    assert_string_equal(t->reqs[1].if_range, "\"e-1\"");
    assert_false(t->is_partial);                /* the server sent all of it */
    mt_reboot_if_asked(t);
    assert_string_equal(mt_revision(t), "1.2.0");
    boots(t, F.c, F.clen);
    done(t);
}

/* Same validator but the resume asked again in the same session after a
 * failure sees a different file size: it starts over too. */
static void resume_size_mismatch_restarts(void **st)
{
    struct mt *t = device(0);
    (void)st;
    t->srv.etag[0] = 0;                         /* no validator: the size must match */
    mt_send(t, REQ);
    while (t->pos < 13000)
        mt_step(t, 10);
    mt_power_up(t, NULL);
    t->srv.file = F.pkg_c[0];
    t->srv.len = F.plen_c[0];
    assert_true(F.plen_c[0] != F.plen[0]);
    mt_send(t, "ATE0\r");
    mt_clear(t);
    fota(t);
    mt_assert_fota(t, 0, 0);
    assert_int_equal(t->nreqs, 3);              /* the 206 refused, then the whole file */
    assert_int_equal(t->reqs[1].offset, 12288);
    assert_int_equal(t->reqs[2].offset, 0);
    mt_reboot_if_asked(t);
    assert_string_equal(mt_revision(t), "1.2.0");
    done(t);
}

static void stall(void **st)
{
    struct mt *t = device(0);
    uint32_t t0 = t->now, bound;
    (void)st;
    t->srv.stall_at = 7000;                     /* no byte past 7000, ever */
    fota(t);
    mt_assert_fota(t, 12, 0);
    assert_int_equal(t->nreqs, 4);
    assert_int_equal(t->aborts, 4);
    assert_int_equal(t->reqs[1].offset, 7000);
    bound = 4 * (t->cfg.http_stall_ms + DFOTA_MOD_RETRY_MS) + 1000;
    assert_true(t->now - t0 <= bound);
    assert_true(t->now - t0 >= 4 * t->cfg.http_stall_ms);
    boots(t, F.a, ALEN);
    /* the server is back: the same URL carries on */
    t->srv.stall_at = UINT64_MAX;
    mt_clear(t);
    fota(t);
    mt_assert_fota(t, 0, 0);
    assert_int_equal(t->reqs[4].offset, 4096);
    done(t);
}

static void cfun0_during_download(void **st)
{
    struct mt *t = device(0);
    const char *o;
    (void)st;
    mt_send(t, REQ);
    while (t->pos < 9000)
        mt_step(t, 10);
    {
        uint64_t ops0 = t->flash.ops;
        t->ok_ops = UINT64_MAX;
        o = mt_send(t, "AT+CFUN=0\r");
        assert_int_equal(t->ok_ops, ops0);    /* the record after the OK */
        assert_true(t->flash.ops > ops0);
    }
    /* OK first, then the URC */
    assert_string_equal(o, "\r\nOK\r\n\r\n+QIND: \"FOTA\",\"HTTPEND\",13\r\n");
    assert_int_equal(t->aborts, 1);
    assert_int_equal(t->m->fota, DFOTA_MOD_FOTA_IDLE);
    mt_assert_fota(t, 13, 0);
    assert_string_equal(read_result(t), "\"HTTPEND\",13");
    /* no network: the request ends with 20 at once */
    mt_clear(t);
    assert_string_equal(mt_send(t, REQ), "\r\nOK\r\n\r\n+QIND: \"FOTA\",\"HTTPSTART\"\r\n"
                                         "\r\n+QIND: \"FOTA\",\"HTTPEND\",20\r\n");
    assert_int_equal(t->nreqs, 1);
    /* radio back: the same URL resumes */
    mt_send(t, "AT+CFUN=1\r");
    mt_clear(t);
    fota(t);
    mt_assert_fota(t, 0, 0);
    assert_int_equal(t->reqs[1].offset, 8192);  /* the two sectors on record */
    mt_reboot_if_asked(t);
    assert_string_equal(mt_revision(t), "1.1.0");
    done(t);
}

static void network_lost_during_download(void **st)
{
    struct mt *t = device(0);
    (void)st;
    mt_send(t, REQ);
    while (t->pos < 5000)
        mt_step(t, 10);
    mt_net(t, 2, 0);
    mt_assert_fota(t, 13, 0);
    /* or the HTTP client reports it */
    mt_net(t, 1, 1);
    mt_clear(t);
    mt_send(t, REQ);
    while (t->pos < 9000)
        mt_step(t, 10);
    t->active = 0;
    dfota_mod_http_end(t->m, DFOTA_MOD_HTTP_NET_DOWN);
    mt_assert_fota(t, 13, 0);
    boots(t, F.a, ALEN);
    done(t);
}

static void not_registered(void **st)
{
    struct mt *t = device(0);
    uint64_t ops0;
    (void)st;
    mt_net(t, 2, 0);
    ops0 = t->flash.ops;
    mt_send(t, REQ);
    /* OK goes out before the module writes its record (an erase may take
     * a real flash hundreds of ms) */
    assert_int_equal(t->ok_ops, ops0);
    assert_true(t->flash.ops > ops0);
    assert_int_equal(mt_run(t, 1000), 0);
    mt_assert_fota(t, 20, 0);
    assert_int_equal(t->nreqs, 0);
    mt_net(t, 1, 0);                            /* registered, PDN not up yet */
    mt_clear(t);
    mt_send(t, REQ);
    assert_int_equal(mt_run(t, 1000), 0);
    mt_assert_fota(t, 20, 0);
    assert_int_equal(t->nreqs, 0);
    assert_string_equal(read_result(t), "\"HTTPEND\",20");
    done(t);
}

static void busy(void **st)
{
    struct mt *t = device(0);
    (void)st;
    mt_send(t, REQ);
    while (t->pos < 5000)
        mt_step(t, 10);
    assert_string_equal(mt_send(t, "AT+QFOTADL=\"http://other/x\"\r"),
                        "\r\nOK\r\n\r\n+QIND: \"FOTA\",\"END\",2\r\n");
    assert_memory_equal(read_result(t), "\"DOWNLOADING\",", 14);
    assert_int_equal(mt_run(t, 100000), 0);
    assert_int_equal(t->nreqs, 1);
    assert_non_null(strstr(t->out, "\"END\",0"));
    mt_reboot_if_asked(t);
    assert_string_equal(mt_revision(t), "1.1.0");
    done(t);
}

static void too_large(void **st)
{
    struct mt *t = device(0);
    (void)st;
    t->srv.lie_total = STAGING + 1;
    fota(t);
    mt_assert_fota(t, 12, 0);
    assert_int_equal(t->nreqs, 1);              /* at once, no retries */
    assert_int_equal(t->aborts, 1);
    /* no length at all: refused too */
    t->srv.lie_total = 0;
    t->srv.no_length = 1;
    mt_clear(t);
    fota(t);
    mt_assert_fota(t, 12, 0);
    assert_int_equal(t->nreqs, 2);
    boots(t, F.a, ALEN);
    done(t);
}

/* ---- update failures: END,<err>, old firmware unchanged ------------------------- */

static void refused(const uint8_t *pkg, size_t len, int inplace, int err)
{
    struct mt *t = device(inplace);
    const struct dfota_layout *l = &t->cfg.engine.layout;
    uint8_t *before = malloc(l->slot_size * 2);
    size_t nslots = inplace ? 1 : 2;

    memcpy(before, t->flash.mem + l->slot[0], l->slot_size);
    if (!inplace)
        memcpy(before + l->slot_size, t->flash.mem + l->slot[1], l->slot_size);
    t->srv.file = pkg;
    t->srv.len = len;
    fota(t);
    mt_assert_fota(t, 0, err);
    assert_false(dfota_mod_reboot_requested(t->m));
    assert_string_equal(mt_revision(t), "1.0.0");
    boots(t, F.a, ALEN);
    assert_int_equal(dfota_active_slot(&t->m->engine), 0);
    assert_memory_equal(before, t->flash.mem + l->slot[0], l->slot_size);
    if (nslots == 2 && err != 255)
        assert_memory_equal(before + l->slot_size, t->flash.mem + l->slot[1], l->slot_size);
    {
        char want[24];
        snprintf(want, sizeof want, "\"END\",%d", err);
        assert_string_equal(read_result(t), want);
        mt_power_up(t, NULL);
        assert_string_equal(read_result(t), want);
        assert_string_equal(mt_revision(t), "1.0.0");
        boots(t, F.a, ALEN);
    }
    free(before);
    done(t);
}

static void wrong_source(void **st)
{
    uint8_t pk[32], sk[64], *other = tu_image(ALEN, 77), *p;
    size_t plen;
    int k;
    (void)st;
    tu_keys(pk, sk);
    for (k = 0; k < 2; k++) {
        p = build(other, ALEN, F.b, F.blen, k, "dfota-test", "1.1.0", sk, &plen);
        refused(p, plen, k, 254);
        free(p);
    }
    free(other);
}

static void corrupt(void **st)
{
    int k;
    (void)st;
    for (k = 0; k < 2; k++) {
        uint8_t *p = malloc(F.plen[k]);
        memcpy(p, F.pkg[k], F.plen[k]);
        p[F.plen[k] / 2] ^= 0x10;                       /* payload */
        refused(p, F.plen[k], k, 255);
        memcpy(p, F.pkg[k], F.plen[k]);
        {   /* a signed header byte that is no digest: the last before the key id */
            struct dfota_pkg_header h;
            assert_int_equal(dfota_pkg_parse(&h, p, F.plen[k]), DFOTA_OK);
            p[dfota_pkg_key_id_offset(&h) - 1] ^= 0x01;
        }
        refused(p, F.plen[k], k, 255);
        refused(F.pkg[k], F.plen[k] - 100, k, 255);     /* truncated */
        refused(F.pkg[k], 200, k, 255);                 /* not even a header */
        memset(p, 0x5A, F.plen[k]);
        refused(p, F.plen[k], k, 255);                  /* not a package */
        free(p);
    }
}

static void unsigned_other_key_other_product(void **st)
{
    uint8_t pk[32], sk[64], seed[32], opk[32], osk[64], *p;
    size_t plen;
    int k;
    (void)st;
    tu_keys(pk, sk);
    memset(seed, 0x17, sizeof seed);
    assert_int_equal(dfota_host_keypair(seed, opk, osk), 0);
    for (k = 0; k < 2; k++) {
        p = build(F.a, ALEN, F.b, F.blen, k, "dfota-test", "1.1.0", NULL, &plen);
        refused(p, plen, k, 255);
        free(p);
        p = build(F.a, ALEN, F.b, F.blen, k, "dfota-test", "1.1.0", osk, &plen);
        refused(p, plen, k, 255);
        free(p);
        p = build(F.a, ALEN, F.b, F.blen, k, "other-product", "1.1.0", sk, &plen);
        refused(p, plen, k, 255);
        free(p);
    }
    /* the other layout's package */
    refused(F.pkg[1], F.plen[1], 0, 255);
    refused(F.pkg[0], F.plen[0], 1, 255);
}

/* After a refused package the same URL downloads it anew (it may have been
 * corrupted on the way), and a good one then installs. */
static void refused_then_fixed(void **st)
{
    struct mt *t = device(0);
    uint8_t *p = malloc(F.plen[0]);
    (void)st;
    memcpy(p, F.pkg[0], F.plen[0]);
    p[F.plen[0] - 10] ^= 0x80;
    t->srv.file = p;
    fota(t);
    mt_assert_fota(t, 0, 255);
    t->srv.file = F.pkg[0];
    mt_clear(t);
    fota(t);
    mt_assert_fota(t, 0, 0);
    assert_int_equal(t->reqs[1].offset, 0);
    mt_reboot_if_asked(t);
    assert_string_equal(mt_revision(t), "1.1.0");
    free(p);
    done(t);
}

static void end_code_table(void **st)
{
    (void)st;
    assert_int_equal(dfota_mod_end_code(DFOTA_OK), 0);
    assert_int_equal(dfota_mod_end_code(DFOTA_ERR_SOURCE), 254);
    assert_int_equal(dfota_mod_end_code(DFOTA_ERR_MAGIC), 255);
    assert_int_equal(dfota_mod_end_code(DFOTA_ERR_VERSION), 255);
    assert_int_equal(dfota_mod_end_code(DFOTA_ERR_HEADER), 255);
    assert_int_equal(dfota_mod_end_code(DFOTA_ERR_SIZE), 255);
    assert_int_equal(dfota_mod_end_code(DFOTA_ERR_PRODUCT), 255);
    assert_int_equal(dfota_mod_end_code(DFOTA_ERR_PAYLOAD), 255);
    assert_int_equal(dfota_mod_end_code(DFOTA_ERR_SIGNATURE), 255);
    assert_int_equal(dfota_mod_end_code(DFOTA_ERR_ALGORITHM), 255);
    assert_int_equal(dfota_mod_end_code(DFOTA_ERR_CORRUPT), 255);
    assert_int_equal(dfota_mod_end_code(DFOTA_ERR_TARGET), 255);
    assert_int_equal(dfota_mod_end_code(DFOTA_ERR_LAYOUT), 255);
    assert_int_equal(dfota_mod_end_code(DFOTA_ERR_NOSPACE), 255);
    assert_int_equal(dfota_mod_end_code(DFOTA_ERR_DOWNGRADE), 255);
    assert_int_equal(dfota_mod_end_code(DFOTA_ERR_STATE), 2);
    assert_int_equal(dfota_mod_end_code(DFOTA_ERR_IO), 1);
    assert_int_equal(dfota_mod_end_code(DFOTA_ERR_JOURNAL), 1);
    assert_int_equal(dfota_mod_end_code(DFOTA_ERR_ARG), 1);
    assert_int_equal(dfota_mod_end_code(-99), 1);
}

/* ---- power loss while UPDATING: the forced upgrade ------------------------------ */

static void forced_upgrade(int inplace)
{
    struct mt *t = device(inplace);
    uint64_t ops;
    const char *o;

    mt_send(t, REQ);
    while (t->pos < t->srv.len)
        mt_step(t, 10);
    ops = t->flash.ops;                         /* the next step ends the GET and installs */
    t->flash.cut_after = ops + (inplace ? 400 : 40); /* past the first journal record */
    mt_step(t, 10);
    if (!t->flash.powered_off)
        fail_msg("not cut: %llu ops\n%s", (unsigned long long)(t->flash.ops - ops), t->out);
    mt_clear(t);
    assert_int_equal(mt_power_up(t, NULL), 0);
    o = t->out;
    assert_non_null(strstr(o, "Leaving the BROM\n\r\r\n+QIND: \"FOTA\",\"START\"\r\n"));
    assert_non_null(strstr(o, "\r\n+QIND: \"FOTA\",\"UPDATING\", 100%\r\n"
                              "\r\n+QIND: \"FOTA\",\"END\",0\r\n"));
    assert_null(strstr(o, "+CPIN"));            /* the old firmware does not come up */
    assert_true(dfota_mod_reboot_requested(t->m));
    mt_clear(t);
    mt_reboot_if_asked(t);
    assert_non_null(strstr(t->out, "+CPIN: READY"));
    assert_null(strstr(t->out, "+QIND"));
    assert_string_equal(mt_revision(t), "1.1.0");
    assert_string_equal(read_result(t), "\"END\",0");
    boots(t, F.b, F.blen);
    done(t);
}

static void forced_upgrade_ab(void **st)
{
    (void)st;
    forced_upgrade(0);
}

static void forced_upgrade_inplace(void **st)
{
    (void)st;
    forced_upgrade(1);
}

/* ---- the module's own records ---------------------------------------------------- */

static void state_records_wrap(void **st)
{
    struct mt *t = device(0);
    int i;
    (void)st;
    /* many records: both halves fill and are erased in turn */
    for (i = 0; i < 40; i++) {
        mt_net(t, 2, 0);
        mt_send(t, REQ);                        /* HTTPEND,20: one record each */
        mt_net(t, 1, 1);
        assert_int_equal(mt_power_up(t, NULL), 0);
        assert_string_equal(mt_revision(t), "1.0.0");
        assert_string_equal(read_result(t), "\"HTTPEND\",20");
    }
    assert_false(t->flash.violation);
    done(t);
}

static void provision_rules(void **st)
{
    struct mt *t = calloc(1, sizeof *t);
    char rev[40];
    (void)st;
    mt_init(t, DFOTA_LAYOUT_AB, 4096, SLOT, 0, STAGING);
    assert_int_equal(dfota_mod_init(t->m, &t->cfg), 0);
    assert_false(dfota_mod_provisioned(t->m));
    memset(rev, 'r', sizeof rev);
    rev[DFOTA_MOD_REV_MAX] = 0;
    assert_int_equal(dfota_mod_provision(t->m, rev), DFOTA_ERR_ARG);
    rev[DFOTA_MOD_REV_MAX - 1] = 0;
    assert_int_equal(dfota_mod_provision(t->m, rev), DFOTA_OK);
    assert_int_equal(dfota_mod_provision(t->m, "x"), DFOTA_ERR_STATE);
    assert_int_equal(dfota_mod_init(t->m, &t->cfg), 0);
    assert_true(dfota_mod_provisioned(t->m));
    assert_string_equal(dfota_mod_revision(t->m), rev);
    /* a bad state area is refused */
    t->cfg.state.size = 4096;
    assert_int_equal(dfota_mod_init(t->m, &t->cfg), DFOTA_ERR_ARG);
    t->cfg.state.size = 8192;
    t->cfg.state.addr += 100;
    assert_int_equal(dfota_mod_init(t->m, &t->cfg), DFOTA_ERR_ARG);
    done(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(success_ab),
        cmocka_unit_test(success_inplace),
        cmocka_unit_test(two_updates),
        cmocka_unit_test(security_counter_kept),
        cmocka_unit_test(percent_forms),
        cmocka_unit_test(progress_heartbeat),
        cmocka_unit_test(poll_deadlines),
        cmocka_unit_test(http_404),
        cmocka_unit_test(http_500_retried),
        cmocka_unit_test(retries_resume_with_if_range),
        cmocka_unit_test(no_validator_resumes_by_size),
        cmocka_unit_test(retries_exhausted_then_same_url),
        cmocka_unit_test(power_loss_during_download),
        cmocka_unit_test(validator_change_restarts),
        cmocka_unit_test(resume_size_mismatch_restarts),
        cmocka_unit_test(stall),
        cmocka_unit_test(cfun0_during_download),
        cmocka_unit_test(network_lost_during_download),
        cmocka_unit_test(not_registered),
        cmocka_unit_test(busy),
        cmocka_unit_test(too_large),
        cmocka_unit_test(wrong_source),
        cmocka_unit_test(corrupt),
        cmocka_unit_test(unsigned_other_key_other_product),
        cmocka_unit_test(refused_then_fixed),
        cmocka_unit_test(end_code_table),
        cmocka_unit_test(forced_upgrade_ab),
        cmocka_unit_test(forced_upgrade_inplace),
        cmocka_unit_test(state_records_wrap),
        cmocka_unit_test(provision_rules),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
