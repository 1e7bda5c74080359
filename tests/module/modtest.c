/* Helpers of the module core tests: see modtest.h. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "modtest.h"

static void p_write(void *ctx, const void *buf, size_t len)
{
    struct mt *t = ctx;
    if (t->out_len + len + 1 > MT_OUT_MAX)
        fail_msg("module output over %u bytes", MT_OUT_MAX);
    if (t->ok_ops == UINT64_MAX && len == 6 && memcmp(buf, "\r\nOK\r\n", 6) == 0)
        t->ok_ops = t->flash.ops;
    memcpy(t->out + t->out_len, buf, len);
    t->out_len += len;
    t->out[t->out_len] = 0;
}

static int p_http_start(void *ctx, const struct dfota_mod_http_req *req)
{
    struct mt *t = ctx;
    struct mt_req *r;
    assert_false(t->active);                 /* at most one GET at a time */
    if (t->nreqs < (int)(sizeof t->reqs / sizeof t->reqs[0])) {
        r = &t->reqs[t->nreqs];
        snprintf(r->url, sizeof r->url, "%s", req->url);
        r->offset = req->offset;
        r->has_if_range = req->if_range != NULL;
        snprintf(r->if_range, sizeof r->if_range, "%s", req->if_range ? req->if_range : "");
    }
    t->nreqs++;
    t->active = 1;
    t->headers_sent = 0;
    t->sent_in_get = 0;
    /* If-Range: the rest when the validator matches (or none is sent and
     * the file is the same size), else the whole file */
    t->is_partial = req->offset > 0 &&
                    (!req->if_range || strcmp(req->if_range, t->srv.etag) == 0) &&
                    req->offset < t->srv.len;
    t->pos = t->is_partial ? req->offset : 0;
    return 0;
}

static void p_http_abort(void *ctx)
{
    struct mt *t = ctx;
    t->active = 0;
    t->aborts++;
    t->aborted_due = 1;                      /* http_end(ABORTED) at the next step */
}

static void p_set_radio(void *ctx, int on)
{
    struct mt *t = ctx;
    t->radio = on;
    /* the platform reports the network it now has, from inside the call */
    mt_net(t, on ? 1 : 0, on);
}

static void p_log(void *ctx, const char *msg)
{
    struct mt *t = ctx;
    size_t n = strlen(t->log);
    snprintf(t->log + n, sizeof t->log - n, "%s\n", msg);
    if (strlen(t->log) > sizeof t->log - 200)
        t->log[0] = 0;
}

void mt_init(struct mt *t, int kind, uint32_t sector, uint32_t slot_size, uint32_t scratch,
             uint32_t staging)
{
    uint32_t at, state = 2 * sector;

    memset(t, 0, sizeof *t);
    at = tu_layout(&t->cfg.engine.layout, kind, sector, slot_size, scratch, staging);
    if (state < 2 * DFOTA_MOD_REC_SIZE)
        state = 2 * DFOTA_MOD_REC_SIZE;
    t->cfg.state.addr = at;
    t->cfg.state.size = state;
    at += state;
    assert_int_equal(simflash_init(&t->flash, NULL, at, sector, 16, 0xFF), 0);
    tu_keys(t->pk, (uint8_t[64]){ 0 });
    t->cfg.engine.flash = &t->flash.port;
    t->cfg.engine.crypto = dfota_host_crypto();
    t->cfg.engine.pubkey = t->pk;
    t->cfg.engine.product = "dfota-test";
    t->cfg.ports.ctx = t;
    t->cfg.ports.serial_write = p_write;
    t->cfg.ports.http_start = p_http_start;
    t->cfg.ports.http_abort = p_http_abort;
    t->cfg.ports.set_radio = p_set_radio;
    t->cfg.ports.log = p_log;
    t->cfg.manufacturer = "Quectel_Ltd";
    t->cfg.model = "Quectel_BC20";
    t->cfg.percent_form = DFOTA_MOD_PCT_BC20;
    t->cfg.http_stall_ms = 5000;
    t->cfg.http_retries = 3;
    t->cfg.progress_ms = 2000;
    t->m = calloc(1, sizeof *t->m);
    t->out = malloc(MT_OUT_MAX);
    t->out[0] = 0;
    t->ok_ops = UINT64_MAX;
    t->srv.chunk = 700;
    t->srv.stall_at = UINT64_MAX;
    snprintf(t->srv.etag, sizeof t->srv.etag, "\"e-1\"");
    t->now = 1000;
    t->radio = 1;
}

void mt_free(struct mt *t)
{
    simflash_free(&t->flash);
    free(t->m);
    free(t->out);
}

void mt_flash_image(struct mt *t, const uint8_t *img, size_t len)
{
    memcpy(t->flash.mem + t->cfg.engine.layout.slot[0], img, len);
}

void mt_net(struct mt *t, int reg_stat, int attached)
{
    memset(&t->net, 0, sizeof t->net);
    t->net.reg_stat = (uint8_t)reg_stat;
    t->net.attached = (uint8_t)attached;
    if (attached)
        snprintf(t->net.ip, sizeof t->net.ip, "10.0.0.5");
    t->net.rxlev = 47;
    t->net.ber = 6;
    t->net.rsrq = 0;
    t->net.rsrp = 54;
    snprintf(t->net.oper, sizeof t->net.oper, "46011");
    dfota_mod_set_net(t->m, &t->net);
}

static int power(struct mt *t, const char *rev, int online)
{
    int rc;
    simflash_power_on(&t->flash);
    if (t->next_cut) {
        t->flash.cut_after = t->flash.ops + t->next_cut - 1;
        t->next_cut = 0;
    }
    t->active = 0;
    t->aborted_due = 0;
    rc = dfota_mod_init(t->m, &t->cfg);
    if (rc)
        return rc;
    if (!dfota_mod_provisioned(t->m) && rev)
        assert_int_equal(dfota_mod_provision(t->m, rev), DFOTA_OK);
    dfota_mod_boot(t->m, t->now);
    if (online && !dfota_mod_reboot_requested(t->m))
        mt_net(t, 1, 1);
    return 0;
}

int mt_power_up(struct mt *t, const char *rev)
{
    return power(t, rev, 1);
}

int mt_power_up_offline(struct mt *t, const char *rev)
{
    return power(t, rev, 0);
}

void mt_clear(struct mt *t)
{
    t->ok_ops = UINT64_MAX;
    t->out_len = 0;
    t->out[0] = 0;
}

const char *mt_send_n(struct mt *t, const void *s, size_t n)
{
    size_t at = t->out_len;
    dfota_mod_input(t->m, s, n, t->now);
    return t->out + at;
}

const char *mt_send(struct mt *t, const char *s)
{
    return mt_send_n(t, s, strlen(s));
}

void mt_step(struct mt *t, uint32_t dt)
{
    struct mt_server *s = &t->srv;

    if (t->aborted_due) {
        t->aborted_due = 0;
        dfota_mod_http_end(t->m, DFOTA_MOD_HTTP_ABORTED);
    }
    if (t->active && !t->flash.powered_off) {
        if (!t->headers_sent) {
            t->headers_sent = 1;
            if (s->status) {
                dfota_mod_http_headers(t->m, s->status, 0, 0, "");
                if (t->active) {
                    t->active = 0;
                    dfota_mod_http_end(t->m, DFOTA_MOD_HTTP_FAILED);
                }
            } else {
                uint32_t total = s->lie_total ? (uint32_t)s->lie_total : (uint32_t)s->len;
                if (s->no_length)
                    total = 0;
                dfota_mod_http_headers(t->m, t->is_partial ? 206 : 200,
                                       t->is_partial ? (uint32_t)t->pos : 0, total, s->etag);
            }
        } else if (t->pos >= s->len) {
            t->active = 0;
            dfota_mod_http_end(t->m, DFOTA_MOD_HTTP_OK);
        } else if (s->fail_count && t->sent_in_get >= s->fail_at) {
            t->active = 0;
            if (s->fail_count > 0)
                s->fail_count--;
            dfota_mod_http_end(t->m, DFOTA_MOD_HTTP_FAILED);
        } else if (t->pos < s->stall_at) {
            uint64_t n = s->len - t->pos;
            if (n > s->chunk)
                n = s->chunk;
            if (s->fail_count && n > s->fail_at - t->sent_in_get)
                n = s->fail_at - t->sent_in_get;
            if (t->pos + n > s->stall_at)
                n = s->stall_at - t->pos;
            t->pos += n;
            t->sent_in_get += n;
            dfota_mod_http_data(t->m, s->file + t->pos - n, (size_t)n);
        }
    }
    t->now += dt;
    if (!t->flash.powered_off)
        dfota_mod_poll(t->m, t->now);
}

int mt_run(struct mt *t, int max_steps)
{
    int i;
    for (i = 0; i < max_steps; i++) {
        if (t->flash.powered_off || dfota_mod_reboot_requested(t->m))
            return 0;
        if (t->m->fota == DFOTA_MOD_FOTA_IDLE && !t->active && !t->aborted_due)
            return 0;
        mt_step(t, 10);
    }
    return -1;
}

void mt_reboot_if_asked(struct mt *t)
{
    if (dfota_mod_reboot_requested(t->m))
        assert_int_equal(mt_power_up(t, NULL), 0);
}

void mt_qinds(const struct mt *t, char *buf, size_t cap)
{
    const char *p = t->out;
    size_t o = 0;
    buf[0] = 0;
    while ((p = strstr(p, "+QIND: \"FOTA\",\"")) != NULL) {
        const char *e;
        p += strlen("+QIND: \"FOTA\",\"");
        e = strchr(p, '"');
        if (!e)
            break;
        o += (size_t)snprintf(buf + o, cap - o, "%.*s", (int)(e - p), p);
        p = e + 1;
        if (*p == ',') {
            p++;
            while (*p == ' ')
                p++;
            o += (size_t)snprintf(buf + o, cap - o, ",%d", atoi(p));
        }
        o += (size_t)snprintf(buf + o, cap - o, "\n");
        if (o >= cap - 1)
            fail_msg("too many URCs");
    }
}

void mt_assert_fota(const struct mt *t, int http_err, int err)
{
    static char q[1 << 16];
    char *line, *save = NULL, want[32];
    int stage = 0, last = -1;

    mt_qinds(t, q, sizeof q);
    for (line = strtok_r(q, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (stage == 0) {
            assert_string_equal(line, "HTTPSTART");
            stage = 1;
        } else if (stage == 1 && strncmp(line, "DOWNLOADING,", 12) == 0) {
            int p = atoi(line + 12);
            assert_true(p >= last && p <= 100);
            last = p;
        } else if (stage == 1) {
            snprintf(want, sizeof want, "HTTPEND,%d", http_err);
            assert_string_equal(line, want);
            if (http_err == 0)
                assert_int_equal(last, 100);
            stage = 2;
            last = -1;
        } else if (stage == 2) {
            assert_string_equal(line, "START");
            stage = 3;
        } else if (stage == 3 && strncmp(line, "UPDATING,", 9) == 0) {
            int p = atoi(line + 9);
            assert_true(p > last && p <= 100);
            last = p;
        } else if (stage == 3) {
            snprintf(want, sizeof want, "END,%d", err);
            assert_string_equal(line, want);
            if (err == 0)
                assert_int_equal(last, 100);
            stage = 4;
        } else {
            fail_msg("URC after the end: %s", line);
        }
    }
    assert_int_equal(stage, http_err ? 2 : 4);
}

const char *mt_revision(struct mt *t)
{
    static char rev[64];
    const char *o = mt_send(t, "AT+CGMR\r"), *p = strstr(o, "Revision: ");
    assert_non_null(p);
    p += 10;
    snprintf(rev, sizeof rev, "%.*s", (int)strcspn(p, "\r"), p);
    assert_string_equal(rev, dfota_mod_revision(t->m));
    return rev;
}
