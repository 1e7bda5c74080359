/* dfota update: the host driver. Talks AT to a module over a serial port, a
 * pty or TCP, sends AT+QFOTADL and follows the +QIND: "FOTA" URCs with the
 * portable parser (include/dfota/at.h), then checks the revision after the
 * reboot. docs/cli.md#update has the steps, messages and exit codes. */
#define _GNU_SOURCE
#include "update.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "check_url.h"
#include "dfota/at.h"
#include "dfota/error.h"
#include "link.h"

#define SYNC_TRIES        10      /* AT, one second each, before "no answer" */
#define VERIFY_SYNC_TRIES 60      /* after a reboot the module may take a while */
#define CMD_TIMEOUT_MS    5000
#define QFOTADL_TIMEOUT_MS 5000   /* the spec says OK within 300 ms */
#define REBOOT_WAIT_MS    60000   /* END,0 to the first boot line */
#define SETTLE_MS         5000    /* after a reboot mid-update: wait for a forced upgrade's START */
#define REQUEST_RETRIES   2       /* AT+QFOTADL again after a reboot mid-download */
#define MAX_INFO          8

static volatile sig_atomic_t interrupts;

static void on_sigint(int sig)
{
    (void)sig;
    interrupts++;
}

enum phase { PH_SETUP, PH_REQUESTED, PH_DOWNLOAD, PH_DOWNLOADED, PH_UPDATE, PH_REBOOT, PH_VERIFY };

struct drv {
    struct link link;
    struct dfota_at at;
    uint8_t rbuf[512];
    size_t rlen, roff;
    const char *url, *expect, *port_name;
    int json, tty, net_timeout_s;
    long long deadline;
    /* what we learnt */
    char model[64], old_rev[64], new_rev[64], address[64];
    char info[MAX_INFO][DFOTA_AT_LINE_MAX];
    int ninfo;
    int32_t last_err_code;
    /* following the update */
    enum phase phase;
    int32_t http_err, err;
    int dl_pct, up_pct, printed_pct, bar_open;
    int reboot_seen, lost, requests, told_interrupt;
    long long last_fota_ms;
    char pkg_src[40], pkg_dst[40];
};

/* ---- time, output ---------------------------------------------------------- */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(const struct drv *d)
{
    long long l = d->deadline - now_ms();
    return l < 0 ? 0 : l > 1000000000 ? 1000000000 : (int)l;
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void end_bar(struct drv *d)
{
    if (d->bar_open) {
        fputc('\n', stdout);
        d->bar_open = 0;
    }
}

/* A human line on stdout (not in --json mode). */
static void say(struct drv *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct drv *d, const char *fmt, ...)
{
    va_list ap;
    if (d->json)
        return;
    end_bar(d);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

/* One JSON object on stdout (--json mode): "event" then key/value pairs,
 * given as a format of 's' (string), 'i' (int), 'b' (bool) and their keys. */
static void jev(struct drv *d, const char *event, const char *types, ...)
{
    va_list ap;
    if (!d->json)
        return;
    va_start(ap, types);
    printf("{\"event\":");
    json_str(stdout, event);
    for (const char *t = types; *t; t++) {
        const char *key = va_arg(ap, const char *);
        printf(",");
        json_str(stdout, key);
        printf(":");
        if (*t == 's') {
            const char *v = va_arg(ap, const char *);
            if (v)
                json_str(stdout, v);
            else
                printf("null");
        } else if (*t == 'b') {
            printf(va_arg(ap, int) ? "true" : "false");
        } else {
            printf("%d", va_arg(ap, int));
        }
    }
    printf("}\n");
    fflush(stdout);
    va_end(ap);
}

/* Failure: "dfota: MESSAGE" on stderr, an error object in --json mode. */
static int fail(struct drv *d, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct drv *d, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    end_bar(d);
    fflush(stdout);
    fprintf(stderr, "dfota: %s\n", msg);
    jev(d, "error", "isii", "exit", code, "message", msg, "http_err", (int)d->http_err, "err",
        (int)d->err);
    return code;
}

static void progress(struct drv *d, const char *label, int pct)
{
    if (d->json)
        return;
    if (d->tty) {
        char bar[41];
        for (int i = 0; i < 40; i++)
            bar[i] = i < pct * 40 / 100 ? '#' : '.';
        bar[40] = 0;
        printf("\r%-8s [%s] %3d%%", label, bar, pct);
        fflush(stdout);
        d->bar_open = 1;
        return;
    }
    /* Plain lines: every 10 % step, so a log stays readable. */
    if (pct / 10 != d->printed_pct / 10 || d->printed_pct < 0) {
        d->printed_pct = pct;
        say(d, "%s %d%%", label, pct);
    }
}

/* Copy at most n - 1 bytes and terminate: revisions and names are short, a
 * module that sends a long one gets it cut, not an overflow. */
static void copy_str(char *dst, size_t n, const char *src)
{
    size_t l = strlen(src);
    if (l >= n)
        l = n - 1;
    memcpy(dst, src, l);
    dst[l] = 0;
}

/* ---- the link and the event pump ------------------------------------------ */

static int reconnect(struct drv *d)
{
    const char *why;
    link_close(&d->link);
    d->rlen = d->roff = 0;
    dfota_at_init(&d->at);
    say(d, "lost the module's port; reopening %s", d->port_name);
    jev(d, "port_lost", "s", "port", d->port_name);
    while (left_ms(d) > 0 && interrupts < 2) {
        struct timespec ts = { 0, 200 * 1000000L };
        if (!link_open(&d->link, &why)) {
            jev(d, "port_reopened", "s", "port", d->port_name);
            return 0;
        }
        nanosleep(&ts, NULL);   /* a pty or USB port reappears when the module restarts */
    }
    return -1;
}

static int send_line(struct drv *d, const char *cmd)
{
    char buf[400];
    int n = snprintf(buf, sizeof buf, "%s\r", cmd);
    dfota_at_command(&d->at, cmd);
    if (n < 0 || (size_t)n >= sizeof buf)
        return -1;
    return link_write(&d->link, buf, (size_t)n, 2000);
}

static void observe(struct drv *d, const struct dfota_at_event *ev);

/* Next event within timeout_ms: 1 got one, 0 timeout, -1 the link is gone. */
static int pump(struct drv *d, int timeout_ms, struct dfota_at_event *ev)
{
    long long end = now_ms() + timeout_ms;
    for (;;) {
        int n, wait;
        while (d->roff < d->rlen) {
            d->roff += dfota_at_feed(&d->at, d->rbuf + d->roff, d->rlen - d->roff, ev);
            if (ev->type != DFOTA_AT_EV_NONE) {
                observe(d, ev);
                return 1;
            }
        }
        wait = (int)(end - now_ms());
        if (wait > left_ms(d))
            wait = left_ms(d);
        if (wait <= 0)
            return 0;
        if (interrupts && d->phase != PH_SETUP && !d->told_interrupt) {
            d->told_interrupt = 1;
            end_bar(d);
            fprintf(stderr,
                    "\ndfota: the module goes on with the update by itself; it does not need this "
                    "program.\n  To follow it, run this command again later, or open the port "
                    "(picocom -b %u %s) and watch +QIND: \"FOTA\" lines; read AT+CGMR after its "
                    "reboot.\n  Press Ctrl-C again to exit.\n",
                    d->link.baud, d->port_name);
            jev(d, "interrupt", "s", "message", "the module goes on by itself; Ctrl-C again exits");
        }
        if (interrupts >= 2 || (interrupts && d->phase == PH_SETUP))
            return 0;
        n = link_read(&d->link, d->rbuf, sizeof d->rbuf, wait > 250 ? 250 : wait);
        if (n < 0)
            return -1;
        d->rlen = (size_t)n;
        d->roff = 0;
    }
}

static int stop_requested(const struct drv *d)
{
    return interrupts >= 2 || (interrupts && d->phase == PH_SETUP);
}

/* Every event passes here first, whatever the driver waits for: a URC that
 * comes between two commands is never lost. */
static void observe(struct drv *d, const struct dfota_at_event *ev)
{
    if (ev->type == DFOTA_AT_EV_FOTA_BAD) {
        say(d, "warning: ignored a garbled FOTA URC (%s): %s", dfota_at_bad_str(ev->bad), ev->line);
        jev(d, "garbled", "ss", "line", ev->line, "reason", dfota_at_bad_str(ev->bad));
        return;
    }
    if (ev->type == DFOTA_AT_EV_OVERFLOW) {
        jev(d, "garbled", "ss", "line", ev->line, "reason", "line too long");
        return;
    }
    if (dfota_at_is_boot_line(ev) && d->phase >= PH_REQUESTED && d->phase != PH_VERIFY) {
        if (!d->reboot_seen) {
            say(d, "the module restarted");
            jev(d, "reboot", "s", "line", ev->line);
        }
        d->reboot_seen = 1;
        return;
    }
    if (ev->type != DFOTA_AT_EV_FOTA || d->phase == PH_SETUP)
        return;

    d->last_fota_ms = now_ms();
    jev(d, "fota", "sibs", "stage", ev->stage_name, "value", (int)ev->value, "known",
        ev->stage != DFOTA_AT_STAGE_UNKNOWN, "line", ev->line);
    switch (ev->stage) {
    case DFOTA_AT_STAGE_HTTPSTART:
    case DFOTA_AT_STAGE_FTPSTART:
    case DFOTA_AT_STAGE_FILESTART:
        if (d->phase < PH_DOWNLOAD) {
            d->phase = PH_DOWNLOAD;
            d->printed_pct = -1;
            say(d, "download started (%s)", ev->stage_name);
        }
        break;
    case DFOTA_AT_STAGE_DOWNLOADING:
        if (d->phase < PH_DOWNLOAD)
            d->phase = PH_DOWNLOAD;   /* HTTPSTART lost or never sent */
        if (ev->value >= d->dl_pct) {
            d->dl_pct = ev->value;
            progress(d, "download", ev->value);
        }
        break;
    case DFOTA_AT_STAGE_HTTPEND:
    case DFOTA_AT_STAGE_FTPEND:
    case DFOTA_AT_STAGE_FILEEND:
        d->http_err = ev->value;
        if (ev->value == 0) {
            d->phase = PH_DOWNLOADED;
            say(d, "download complete (%s 0)", ev->stage_name);
        }
        break;
    case DFOTA_AT_STAGE_START:
        if (d->phase == PH_REBOOT || d->reboot_seen)
            say(d, "the module carries on with the update after its restart (forced upgrade)");
        d->phase = PH_UPDATE;
        d->reboot_seen = d->lost = 0;
        d->printed_pct = -1;
        say(d, "update started");
        break;
    case DFOTA_AT_STAGE_UPDATING:
    case DFOTA_AT_STAGE_RESTORE:
        if (d->phase < PH_UPDATE)
            d->phase = PH_UPDATE;     /* START lost */
        if (ev->value >= d->up_pct || d->reboot_seen) {
            d->up_pct = ev->value;
            progress(d, ev->stage == DFOTA_AT_STAGE_RESTORE ? "restore" : "update", ev->value);
        }
        break;
    case DFOTA_AT_STAGE_END:
        d->err = ev->value;
        if (ev->value == 0) {
            d->phase = PH_REBOOT;
            d->reboot_seen = d->lost = 0;
            say(d, "update complete (END 0); waiting for the module to restart");
        }
        break;
    default:
        say(d, "note: unknown FOTA stage \"%s\" ignored", ev->stage_name);
        break;
    }
}

/* ---- commands -------------------------------------------------------------- */

/* Results of command() and the steps; negative so they never look like an exit code. */
enum { CMD_OK = 0, CMD_ERROR = -1, CMD_TIMEOUT = -2, CMD_LOST = -3, CMD_STOP = -4, CMD_DONE = -5 };

/* Send cmd and wait for its final result; its information lines land in
 * d->info (echo and URCs are handled by observe). */
static int command(struct drv *d, const char *cmd, int timeout_ms)
{
    struct dfota_at_event ev;
    long long end = now_ms() + timeout_ms;

    d->ninfo = 0;
    d->last_err_code = -1;
    if (send_line(d, cmd))
        return CMD_LOST;
    for (;;) {
        int wait = (int)(end - now_ms()), r;
        if (wait <= 0) {
            dfota_at_cancel(&d->at);
            return CMD_TIMEOUT;
        }
        r = pump(d, wait, &ev);
        if (r < 0)
            return CMD_LOST;
        if (stop_requested(d))
            return CMD_STOP;
        if (r == 0)
            continue;
        if (ev.type == DFOTA_AT_EV_OK)
            return CMD_OK;
        if (ev.type == DFOTA_AT_EV_ERROR) {
            d->last_err_code = ev.value;
            return CMD_ERROR;
        }
        if (ev.type == DFOTA_AT_EV_INFO && !(ev.flags & DFOTA_AT_F_UNSOLICITED) &&
            d->ninfo < MAX_INFO)
            snprintf(d->info[d->ninfo++], sizeof d->info[0], "%s", ev.line);
    }
}

static const char *info_with(const struct drv *d, const char *name)
{
    for (int i = 0; i < d->ninfo; i++) {
        const char *p = dfota_at_params(d->info[i], name);
        if (p)
            return p;
    }
    return NULL;
}

/* AT until OK. 0, or CMD_TIMEOUT / CMD_STOP. Reopens a lost port. */
static int sync_module(struct drv *d, int tries)
{
    for (int i = 0; i < tries && left_ms(d) > 0; i++) {
        int r = command(d, "AT", 1000);
        if (r == CMD_OK)
            return 0;
        if (r == CMD_STOP)
            return CMD_STOP;
        if (r == CMD_LOST) {
            d->lost = 1;
            if (d->phase >= PH_REQUESTED)
                d->reboot_seen = 1;
            if (reconnect(d))
                return CMD_TIMEOUT;
        }
    }
    return CMD_TIMEOUT;
}

static void read_revision(struct drv *d, char *out, size_t n)
{
    out[0] = 0;
    if (command(d, "AT+CGMR", CMD_TIMEOUT_MS) == CMD_OK) {
        for (int i = 0; i < d->ninfo && !out[0]; i++) {
            const char *r = dfota_at_revision(d->info[i]);
            copy_str(out, n, r ? r : d->info[i]);   /* some answer the bare revision */
        }
    }
    if (!out[0] && command(d, "ATI", CMD_TIMEOUT_MS) == CMD_OK) {
        for (int i = 0; i < d->ninfo; i++) {
            const char *r = dfota_at_revision(d->info[i]);
            if (r)
                copy_str(out, n, r);
        }
    }
}

static void identify(struct drv *d)
{
    d->model[0] = 0;
    if (command(d, "ATI", CMD_TIMEOUT_MS) == CMD_OK) {
        for (int i = 0; i < d->ninfo; i++)
            if (!dfota_at_revision(d->info[i]))
                copy_str(d->model, sizeof d->model, d->info[i]);  /* last: "Quectel_BC20" */
    }
}

/* ---- the steps ------------------------------------------------------------- */

static int step_network(struct drv *d)
{
    const char *p;
    char sim[32] = "";
    int32_t v, stat = -1, rsrp = -1;
    long long until = now_ms() + (long long)d->net_timeout_s * 1000;
    int r;

    r = command(d, "AT+CPIN?", CMD_TIMEOUT_MS);
    if (r == CMD_STOP)
        return CMD_STOP;
    if (r == CMD_OK && (p = info_with(d, "+CPIN")))
        dfota_at_param_str(p, 0, sim, sizeof sim);
    if (strcasecmp(sim, "READY"))
        return fail(d, UPDATE_EXIT_NO_NETWORK,
                    "the SIM is not ready (AT+CPIN? answered %s): insert or unlock the SIM, then "
                    "run again",
                    r == CMD_OK ? (sim[0] ? sim : "nothing") :
                    r == CMD_ERROR ? "ERROR" : "nothing in time");

    if (command(d, "AT+CESQ", CMD_TIMEOUT_MS) == CMD_OK && (p = info_with(d, "+CESQ")) &&
        !dfota_at_param_int(p, 5, &v))
        rsrp = v;

    for (;;) {
        r = command(d, "AT+CEREG?", CMD_TIMEOUT_MS);
        if (r == CMD_STOP)
            return CMD_STOP;
        if (r == CMD_OK && (p = info_with(d, "+CEREG")) && !dfota_at_param_int(p, 1, &v))
            stat = v;
        if (stat == 1 || stat == 5)
            break;
        if (stat == 3)
            return fail(d, UPDATE_EXIT_NO_NETWORK,
                        "registration denied by the network (+CEREG stat 3): check the SIM's "
                        "subscription and the band/operator settings");
        if (now_ms() >= until || !left_ms(d))
            return fail(d, UPDATE_EXIT_NO_NETWORK,
                        "not registered on the network after %d s (+CEREG stat %d%s): check the "
                        "antenna and the coverage, then run again",
                        d->net_timeout_s, (int)stat,
                        stat == 2 ? ", searching" : stat == 0 ? ", not searching" : "");
        {
            struct dfota_at_event ev;
            pump(d, 1000, &ev);     /* a +CEREG URC or just the time between polls */
            if (stop_requested(d))
                return CMD_STOP;
        }
    }
    for (;;) {
        char addr[64] = "";
        r = command(d, "AT+CGPADDR=1", CMD_TIMEOUT_MS);
        if (r == CMD_STOP)
            return CMD_STOP;
        if (r == CMD_OK && (p = info_with(d, "+CGPADDR")) && dfota_at_param_str(p, 1, addr, sizeof addr) > 0) {
            copy_str(d->address, sizeof d->address, addr);
            break;
        }
        if (now_ms() >= until || !left_ms(d))
            return fail(d, UPDATE_EXIT_NO_NETWORK,
                        "registered, but no IP address on the default PDN after %d s "
                        "(AT+CGPADDR=1): check the APN, then run again",
                        d->net_timeout_s);
        {
            struct dfota_at_event ev;
            pump(d, 1000, &ev);
            if (stop_requested(d))
                return CMD_STOP;
        }
    }
    if (rsrp >= 0 && rsrp <= 97)
        say(d, "network: SIM ready, registered (%s), address %s, RSRP %d dBm",
            stat == 1 ? "home" : "roaming", d->address, (int)rsrp - 141);
    else
        say(d, "network: SIM ready, registered (%s), address %s",
            stat == 1 ? "home" : "roaming", d->address);
    jev(d, "network", "sisi", "sim", sim, "registration", (int)stat, "address", d->address, "rsrp",
        (int)rsrp);
    return 0;
}

static int step_check_url(struct drv *d)
{
    struct check_url_result cr;
    int rc = check_url(d->url, NULL, 30, &cr);

    switch (rc) {
    case CHECK_URL_UNREACHABLE:
        return fail(d, UPDATE_EXIT_DOWNLOAD, "--check-url: cannot fetch %s: %s", d->url, cr.error);
    case CHECK_URL_HTTP:
        return fail(d, UPDATE_EXIT_DOWNLOAD,
                    "--check-url: the server answers HTTP %ld for %s: put the package there, or "
                    "fix the URL",
                    cr.http_status, d->url);
    case CHECK_URL_NOT_PACKAGE:
        return fail(d, UPDATE_EXIT_INVALID,
                    "--check-url: %s does not serve a dfota package (%s): check the URL and "
                    "upload the .pkg that `dfota diff` wrote",
                    d->url, dfota_strerror(cr.parse_err));
    case CHECK_URL_TRUNCATED:
        return fail(d, UPDATE_EXIT_INVALID,
                    "--check-url: the package at %s is %llu bytes, its header says %u: upload it "
                    "again",
                    d->url, (unsigned long long)cr.total,
                    (unsigned)(cr.h.header_size + cr.h.payload_size));
    default:
        break;
    }
    copy_str(d->pkg_src, sizeof d->pkg_src, cr.h.src_version);
    copy_str(d->pkg_dst, sizeof d->pkg_dst, cr.h.dst_version);
    jev(d, "package", "ssi", "source", cr.h.src_version, "target", cr.h.dst_version, "size",
        (int)cr.total);
    if (!strcmp(cr.h.dst_version, d->old_rev) && strcmp(cr.h.src_version, d->old_rev)) {
        /* e.g. run again after a power cut the module recovered from alone */
        say(d, "done: the module already runs %s, the package's target; nothing to do", d->old_rev);
        jev(d, "done", "issii", "exit", 0, "old_revision", d->old_rev, "new_revision", d->old_rev,
            "http_err", -1, "err", -1);
        return CMD_DONE;
    }
    if (strcmp(cr.h.src_version, d->old_rev))
        return fail(d, UPDATE_EXIT_SOURCE,
                    "the package was built for %s, the module runs %s: rebuild it with `dfota "
                    "diff --from-version %s` from the %s image",
                    cr.h.src_version, d->old_rev, d->old_rev, d->old_rev);
    say(d, "package: %s -> %s, %llu bytes (checked with a Range request)", cr.h.src_version,
        cr.h.dst_version, (unsigned long long)cr.total);
    if (!d->expect)
        d->expect = d->pkg_dst;
    return 0;
}

static int request(struct drv *d)
{
    char cmd[300];
    int r;
    snprintf(cmd, sizeof cmd, "AT+QFOTADL=\"%s\"", d->url);
    d->requests++;
    /* From here the URCs are ours: a module may queue END,2 (busy) or
     * HTTPSTART before its OK. */
    if (d->phase < PH_REQUESTED)
        d->phase = PH_REQUESTED;
    r = command(d, cmd, QFOTADL_TIMEOUT_MS);
    if (r == CMD_OK) {
        say(d, "AT+QFOTADL accepted; the module downloads %s", d->url);
        jev(d, "request", "s", "url", d->url);
        return 0;
    }
    if (r == CMD_STOP)
        return CMD_STOP;
    if (r == CMD_ERROR) {
        char code[32] = "ERROR";
        if (d->last_err_code >= 0)
            snprintf(code, sizeof code, "+CME ERROR: %d", (int)d->last_err_code);
        return fail(d, UPDATE_EXIT_DOWNLOAD,
                    "the module refused AT+QFOTADL (%s): the URL must be http:// or https://, a "
                    "host, an optional port 1-65535, at most 255 bytes",
                    code);
    }
    return fail(d, UPDATE_EXIT_NO_ANSWER, "the module did not answer AT+QFOTADL within %d s",
                QFOTADL_TIMEOUT_MS / 1000);
}

static const char *phase_name(enum phase p)
{
    switch (p) {
    case PH_REQUESTED: return "waiting for the download to start";
    case PH_DOWNLOAD: return "downloading";
    case PH_DOWNLOADED: return "downloaded, waiting for the update to start";
    case PH_UPDATE: return "updating";
    case PH_REBOOT: return "waiting for the reboot";
    case PH_VERIFY: return "reading the revision after the reboot";
    default: return "setting up";
    }
}

static int timeout_fail(struct drv *d)
{
    return fail(d, UPDATE_EXIT_TIMEOUT,
                "timed out (--timeout) while %s (download %d%%, update %d%%): the module may still "
                "be working; watch its port, or read AT+CGMR later",
                phase_name(d->phase), d->dl_pct, d->up_pct);
}

static int download_fail(struct drv *d)
{
    const char *what;
    switch (d->http_err) {
    case 12: what = "check that the URL serves the package to the module's network (--check-url "
                    "tests it from here), then run the same command again: the module resumes "
                    "from the bytes it already has"; break;
    case 13: what = "the network went away during the download; check the signal and "
                    "AT+CFUN, then run again: the download resumes"; break;
    case 20: what = "the network was still activating; wait for registration and an address, "
                    "then run again"; break;
    default: what = "see the module's documentation for this code, then run again"; break;
    }
    return fail(d, UPDATE_EXIT_DOWNLOAD, "download failed: HTTPEND %d (%s): %s", (int)d->http_err,
                dfota_at_http_err_str(d->http_err), what);
}

static int update_fail(struct drv *d)
{
    switch (d->err) {
    case 254:
        if (!d->pkg_src[0]) {
            struct check_url_result cr;
            if (check_url(d->url, NULL, 10, &cr) <= CHECK_URL_TRUNCATED && cr.h.src_version[0])
                copy_str(d->pkg_src, sizeof d->pkg_src, cr.h.src_version);
        }
        if (d->pkg_src[0])
            return fail(d, UPDATE_EXIT_UPDATE,
                        "update failed: END 254 (%s): the package was built for %s, the module "
                        "runs %s: rebuild it with `dfota diff` from %s",
                        dfota_at_fota_err_str(254), d->pkg_src, d->old_rev, d->old_rev);
        return fail(d, UPDATE_EXIT_UPDATE,
                    "update failed: END 254 (%s): the module runs %s: rebuild the package with "
                    "`dfota diff --from-version %s` from that image",
                    dfota_at_fota_err_str(254), d->old_rev, d->old_rev);
    case 255:
        return fail(d, UPDATE_EXIT_UPDATE,
                    "update failed: END 255 (%s): check it with `dfota verify --pub KEY.pub PKG` "
                    "(the module's key and product) and upload it again; the module still runs %s",
                    dfota_at_fota_err_str(255), d->old_rev);
    case 2:
        return fail(d, UPDATE_EXIT_UPDATE,
                    "update refused: END 2 (%s): another update runs on the module; let it end "
                    "(watch its +QIND URCs), then run again",
                    dfota_at_fota_err_str(2));
    default:
        return fail(d, UPDATE_EXIT_UPDATE,
                    "update failed: END %d (%s): the module keeps running %s", (int)d->err,
                    dfota_at_fota_err_str(d->err), d->old_rev);
    }
}

/* After the reboot: sync, echo off, the revision, the module's own record. */
static int verify(struct drv *d)
{
    int r;
    d->phase = PH_VERIFY;
    r = sync_module(d, VERIFY_SYNC_TRIES);
    if (r == CMD_STOP)
        return CMD_STOP;
    if (r)
        return left_ms(d) ? fail(d, UPDATE_EXIT_NO_ANSWER,
                                 "the module does not answer AT after its restart: power-cycle "
                                 "it and read AT+CGMR")
                          : timeout_fail(d);
    command(d, "ATE0", CMD_TIMEOUT_MS);
    read_revision(d, d->new_rev, sizeof d->new_rev);
    /* dfota-modem (and maybe others) keep the last result: +QFOTADL: "END",<err>. */
    if (d->err < 0 && command(d, "AT+QFOTADL?", CMD_TIMEOUT_MS) == CMD_OK) {
        const char *p = info_with(d, "+QFOTADL");
        char st[16];
        int32_t v;
        if (p && dfota_at_param_str(p, 0, st, sizeof st) > 0 && !strcmp(st, "END") &&
            !dfota_at_param_int(p, 1, &v))
            d->err = v;
    }
    return 0;
}

static int finish(struct drv *d)
{
    if (!d->new_rev[0])
        return fail(d, UPDATE_EXIT_UNCHANGED, "the module answers but reports no revision");
    if (d->expect && strcmp(d->new_rev, d->expect))
        return fail(d, UPDATE_EXIT_UNCHANGED,
                    "the module now runs %s, not the expected %s%s", d->new_rev, d->expect,
                    !strcmp(d->new_rev, d->old_rev) ? ": the update did not take" : "");
    if (!strcmp(d->new_rev, d->old_rev))
        return fail(d, UPDATE_EXIT_UNCHANGED,
                    "the module restarted but still runs %s: the update did not take%s", d->old_rev,
                    d->err > 0 ? "" : " (no END code was seen)");
    say(d, "done: the module runs %s (was %s)", d->new_rev, d->old_rev);
    jev(d, "done", "issii", "exit", 0, "old_revision", d->old_rev, "new_revision", d->new_rev,
        "http_err", (int)d->http_err, "err", (int)d->err);
    return UPDATE_OK;
}

/* Follow the URCs until the module runs new firmware, or something fails. */
static int follow(struct drv *d)
{
    struct dfota_at_event ev;
    long long reboot_at = 0, settle_from = 0;

    for (;;) {
        int r;
        if (stop_requested(d))
            return CMD_STOP;
        if (!left_ms(d))
            return timeout_fail(d);
        if (d->phase == PH_DOWNLOAD || d->phase == PH_REQUESTED || d->phase == PH_DOWNLOADED) {
            if (d->http_err > 0)
                return download_fail(d);
        }
        if (d->err > 0)
            return update_fail(d);

        if (d->phase == PH_REBOOT) {
            if (!reboot_at)
                reboot_at = now_ms();
            if (d->reboot_seen || d->lost || now_ms() - reboot_at > REBOOT_WAIT_MS) {
                /* give the boot a moment to print the rest of its lines */
                while (pump(d, 500, &ev) > 0)
                    ;
                if ((r = verify(d)))
                    return r;
                return finish(d);
            }
        } else if (d->reboot_seen || d->lost) {
            /* A restart before END: during the download, ask again (the
             * module resumes); during the update, a forced upgrade follows. */
            int quiet;
            if (!settle_from)
                settle_from = now_ms();
            quiet = now_ms() - settle_from > SETTLE_MS && now_ms() - d->last_fota_ms > SETTLE_MS;
            /* Before START (downloading, or downloaded but not started after
             * a quiet while): the module lost the request; ask again. */
            if ((d->phase == PH_REQUESTED || d->phase == PH_DOWNLOAD ||
                 (d->phase == PH_DOWNLOADED && quiet)) && d->http_err <= 0) {
                if (d->requests > REQUEST_RETRIES)
                    return fail(d, UPDATE_EXIT_DOWNLOAD,
                                "the module restarted %d times during the download", d->requests);
                while (pump(d, 500, &ev) > 0)
                    ;
                if (sync_module(d, VERIFY_SYNC_TRIES))
                    return stop_requested(d) ? CMD_STOP : timeout_fail(d);
                command(d, "ATE0", CMD_TIMEOUT_MS);
                say(d, "asking again: the module resumes the download");
                d->reboot_seen = d->lost = 0;
                settle_from = 0;
                d->phase = PH_REQUESTED;
                if ((r = request(d)))
                    return r;
                continue;
            }
            if (d->phase == PH_UPDATE && quiet) {
                /* No forced upgrade showed up: look at what the module runs. */
                if ((r = verify(d)))
                    return r;
                if (strcmp(d->new_rev, d->old_rev) && !(d->expect && strcmp(d->new_rev, d->expect)))
                    say(d, "the module restarted without reporting END");
                return finish(d);
            }
        }
        if (d->phase == PH_UPDATE && !d->reboot_seen && !d->lost)
            settle_from = 0;
        r = pump(d, 500, &ev);
        if (r < 0) {
            d->lost = 1;
            if (reconnect(d))
                return stop_requested(d) ? CMD_STOP : timeout_fail(d);
        }
    }
}

/* ---- the command ------------------------------------------------------------ */

static const char HELP[] =
    "usage: dfota update --port DEVICE [--baud 115200] [--rtscts] [--tcp HOST:PORT]\n"
    "                    [--timeout S] [--net-timeout S] [--expect-revision REV]\n"
    "                    [--check-url] [--json] URL\n"
    "\n"
    "Update a BC20-style module (or dfota-modem) from the package at URL: sync with AT,\n"
    "check SIM, registration and address, send AT+QFOTADL=\"URL\", follow the URCs, and\n"
    "succeed when the module comes back on a new revision.\n"
    "\n"
    "  --port DEVICE        serial port or pty (/dev/ttyUSB0, the simulator's --pty-link)\n"
    "  --baud N             9600 ... 921600 (default 115200)\n"
    "  --rtscts             hardware flow control\n"
    "  --tcp HOST:PORT      talk to dfota-modem --tcp instead of a port\n"
    "  --timeout S          the whole update, seconds (default 3600)\n"
    "  --net-timeout S      wait for registration and an address (default 60)\n"
    "  --expect-revision R  succeed only if the module then runs R\n"
    "  --check-url          first fetch the package header here (HTTP Range) and check it\n"
    "                       is a dfota package for the module's revision\n"
    "  --json               one JSON object per event on stdout\n"
    "\n"
    "exit codes: 0 updated, 2 usage, 3 port, 4 not a package (--check-url), 5 package for\n"
    "another revision (--check-url), 10 no answer, 11 no network, 12 download failed,\n"
    "13 update failed, 14 timeout, 15 revision unchanged, 130 interrupted\n";

static int valid_url(const char *u)
{
    size_t n = strlen(u);
    if (n == 0 || n > 255 || strchr(u, '"') || strpbrk(u, "\r\n"))
        return 0;
    if (!strncasecmp(u, "http://", 7))
        return n > 7;
    if (!strncasecmp(u, "https://", 8))
        return n > 8;
    return 0;
}

static int parse_secs(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v <= 0 || v > 7 * 24 * 3600)
        return -1;
    *out = (int)v;
    return 0;
}

int cmd_update(int argc, char **argv)
{
    enum { O_PORT = 256, O_BAUD, O_RTSCTS, O_TCP, O_TIMEOUT, O_NETTIMEOUT, O_EXPECT, O_CHECK, O_JSON, O_HELP };
    static const struct option lo[] = {
        { "port", required_argument, 0, O_PORT },       { "baud", required_argument, 0, O_BAUD },
        { "rtscts", no_argument, 0, O_RTSCTS },         { "tcp", required_argument, 0, O_TCP },
        { "timeout", required_argument, 0, O_TIMEOUT }, { "net-timeout", required_argument, 0, O_NETTIMEOUT },
        { "expect-revision", required_argument, 0, O_EXPECT },
        { "check-url", no_argument, 0, O_CHECK },       { "json", no_argument, 0, O_JSON },
        { "help", no_argument, 0, O_HELP },             { 0, 0, 0, 0 }
    };
    static struct drv dv;
    struct drv *d = &dv;
    struct sigaction sa;
    const char *why;
    int c, timeout_s = 3600, check = 0, rc;
    char *end;

    memset(d, 0, sizeof *d);
    d->link.fd = -1;
    d->link.baud = 115200;
    d->net_timeout_s = 60;
    d->http_err = d->err = -1;
    d->printed_pct = -1;
    opterr = 1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case O_PORT: d->link.device = optarg; break;
        case O_BAUD:
            d->link.baud = (unsigned)strtoul(optarg, &end, 10);
            if (*end || !link_speed(d->link.baud)) {
                fprintf(stderr, "dfota: --baud takes 9600, 19200, 38400, 57600, 115200, 230400, "
                                "460800 or 921600 (see 'dfota update --help')\n");
                return UPDATE_EXIT_USAGE;
            }
            break;
        case O_RTSCTS: d->link.rtscts = 1; break;
        case O_TCP: d->link.tcp = optarg; break;
        case O_TIMEOUT:
        case O_NETTIMEOUT:
            if (parse_secs(optarg, c == O_TIMEOUT ? &timeout_s : &d->net_timeout_s)) {
                fprintf(stderr, "dfota: --%s takes a number of seconds\n",
                        c == O_TIMEOUT ? "timeout" : "net-timeout");
                return UPDATE_EXIT_USAGE;
            }
            break;
        case O_EXPECT: d->expect = optarg; break;
        case O_CHECK: check = 1; break;
        case O_JSON: d->json = 1; break;
        case 'h':
        case O_HELP: fputs(HELP, stdout); return 0;
        default: return UPDATE_EXIT_USAGE;
        }
    }
    if (argc - optind != 1 || (!d->link.device == !d->link.tcp)) {
        fprintf(stderr, "dfota: update needs --port DEVICE or --tcp HOST:PORT, and one URL "
                        "(see 'dfota update --help')\n");
        return UPDATE_EXIT_USAGE;
    }
    d->url = argv[optind];
    if (!valid_url(d->url)) {
        fprintf(stderr, "dfota: '%s' is not a URL the module takes: http:// or https://, at most "
                        "255 bytes, no quotes\n", d->url);
        return UPDATE_EXIT_USAGE;
    }
    d->port_name = d->link.device ? d->link.device : d->link.tcp;
    d->tty = isatty(STDOUT_FILENO);
    d->deadline = now_ms() + (long long)timeout_s * 1000;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);   /* no SA_RESTART: poll returns at once */
    signal(SIGPIPE, SIG_IGN);

    if (link_open(&d->link, &why)) {
        fprintf(stderr, "dfota: %s %s: %s\n", why, d->port_name, strerror(errno));
        return UPDATE_EXIT_IO;
    }
    dfota_at_init(&d->at);
    jev(d, "port", "ss", "port", d->port_name, "transport", d->link.tcp ? "tcp" : "serial");

    /* 1. sync, echo off, who is there */
    rc = sync_module(d, SYNC_TRIES);
    if (rc == CMD_STOP)
        goto interrupted;
    if (rc) {
        rc = fail(d, UPDATE_EXIT_NO_ANSWER,
                  "no answer from the module on %s (%d tries of AT): check the port, the baud "
                  "rate (--baud), power and wiring, and that no other program holds the port",
                  d->port_name, SYNC_TRIES);
        goto out;
    }
    command(d, "ATE0", CMD_TIMEOUT_MS);
    command(d, "AT+CMEE=1", CMD_TIMEOUT_MS);   /* numeric +CME ERROR codes, where supported */
    identify(d);
    read_revision(d, d->old_rev, sizeof d->old_rev);
    if (stop_requested(d))
        goto interrupted;
    if (!d->old_rev[0]) {
        rc = fail(d, UPDATE_EXIT_NO_ANSWER, "the module answers AT but reports no revision "
                                            "(ATI, AT+CGMR)");
        goto out;
    }
    say(d, "module: %s, revision %s", d->model[0] ? d->model : "(unnamed)", d->old_rev);
    jev(d, "module", "ss", "model", d->model, "revision", d->old_rev);

    /* 2. network */
    if ((rc = step_network(d)))
        goto out_rc;
    /* 3. the package, from here */
    if (check && (rc = step_check_url(d))) {
        if (rc == CMD_DONE)
            rc = UPDATE_OK;
        goto out;
    }
    /* 4. the request, 5. the URCs, the reboot, the revision */
    if ((rc = request(d)))
        goto out_rc;
    rc = follow(d);
out_rc:
    if (rc == CMD_STOP)
        goto interrupted;
    goto out;
interrupted:
    end_bar(d);
    if (d->phase == PH_SETUP)
        fprintf(stderr, "dfota: interrupted before the update started; nothing was asked of the "
                        "module\n");
    else
        fprintf(stderr, "dfota: interrupted; the module goes on by itself (%s)\n",
                phase_name(d->phase));
    jev(d, "error", "is", "exit", UPDATE_EXIT_INTERRUPTED, "message", "interrupted");
    rc = UPDATE_EXIT_INTERRUPTED;
out:
    link_close(&d->link);
    return rc;
}
