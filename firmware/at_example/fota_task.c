/* fota_task: see fota_task.h. One parser, one step at a time; every wait is
 * bounded by a per-step deadline and by the whole update's deadline. */
#include "fota_task.h"

#include <string.h>

#define SYNC_TRIES      10u
#define SYNC_WAIT_MS    1000u
#define CMD_WAIT_MS     5000u
#define NET_WAIT_MS     60000u
#define NET_RETRY_MS    2000u
#define REBOOT_WAIT_MS  60000u

/* Signed difference, so the millisecond counter may wrap. */
static int after(uint32_t now, uint32_t t)
{
    return (int32_t)(now - t) >= 0;
}

static void send(struct fota_task *t, const char *cmd)
{
    board_uart_write(cmd, strlen(cmd));
    board_uart_write("\r", 1);
    dfota_at_command(&t->at, cmd);
    t->sent_at = t->now;
}

static void send_qfotadl(struct fota_task *t)
{
    static const char pre[] = "AT+QFOTADL=\"";
    char cmd[sizeof pre + 256 + 1];
    size_t n = strlen(t->url);
    if (n > 255) {
        t->step = FOTA_FAILED;
        t->why = "URL longer than 255 bytes";
        return;
    }
    memcpy(cmd, pre, sizeof pre - 1);
    memcpy(cmd + sizeof pre - 1, t->url, n);
    cmd[sizeof pre - 1 + n] = '"';
    cmd[sizeof pre + n] = 0;
    send(t, cmd);
}

static void fail(struct fota_task *t, const char *why)
{
    t->step = FOTA_FAILED;
    t->why = why;
    dfota_at_cancel(&t->at);
    board_log(why);
}

static void go(struct fota_task *t, enum fota_step s, const char *cmd)
{
    t->step = s;
    t->tries = 0;
    t->step_deadline = t->now + NET_WAIT_MS;
    if (cmd)
        send(t, cmd);
}

static void copy_rev(char *dst, const char *line)
{
    const char *r = dfota_at_revision(line);
    size_t n;
    if (!r)
        r = line;          /* some modules answer AT+CGMR with the bare revision */
    n = strlen(r);
    if (n > 31)
        n = 31;
    memcpy(dst, r, n);
    dst[n] = 0;
}

static void on_fota(struct fota_task *t, const struct dfota_at_event *ev)
{
    dfota_at_lwm2m(ev, &t->lwm2m_state, &t->lwm2m_result);
    switch (ev->stage) {
    case DFOTA_AT_STAGE_DOWNLOADING:
    case DFOTA_AT_STAGE_UPDATING:
        t->percent = ev->value;
        break;
    case DFOTA_AT_STAGE_HTTPEND:
        t->http_err = ev->value;
        if (ev->value != 0)
            fail(t, dfota_at_http_err_str(ev->value));
        break;
    case DFOTA_AT_STAGE_END:
        t->err = ev->value;
        if (ev->value != 0) {
            fail(t, dfota_at_fota_err_str(ev->value));
        } else {
            t->step = FOTA_REBOOT;
            t->step_deadline = t->now + REBOOT_WAIT_MS;
        }
        break;
    default:
        break;   /* START, HTTPSTART, unknown stages: nothing to decide */
    }
}

static void on_event(struct fota_task *t, const struct dfota_at_event *ev)
{
    int ok = ev->type == DFOTA_AT_EV_OK, err = ev->type == DFOTA_AT_EV_ERROR;

    if (ev->type == DFOTA_AT_EV_FOTA) {
        if (t->step == FOTA_FOLLOW || t->step == FOTA_REBOOT || t->step == FOTA_VERIFY) {
            if (t->step != FOTA_FOLLOW && ev->stage == DFOTA_AT_STAGE_START)
                t->step = FOTA_FOLLOW;     /* forced upgrade after a power cut */
            on_fota(t, ev);
        }
        return;
    }
    if (ev->type == DFOTA_AT_EV_FOTA_BAD) {
        board_log(ev->line);               /* garbled: log it, wait for the next */
        return;
    }
    if (dfota_at_is_boot_line(ev) && (t->step == FOTA_FOLLOW || t->step == FOTA_REBOOT)) {
        t->rebooted = 1;
        if (t->step == FOTA_REBOOT) {
            t->step = FOTA_VERIFY;
            t->verify_sub = 0;
            t->tries = 0;
            send(t, "AT");
        }
        return;
    }
    switch (t->step) {
    case FOTA_SYNC:
        if (ok)
            go(t, FOTA_ECHO_OFF, "ATE0");
        break;
    case FOTA_ECHO_OFF:
        if (ok || err)
            go(t, FOTA_REVISION, "AT+CGMR");
        break;
    case FOTA_REVISION:
    case FOTA_VERIFY:
        if (ev->type == DFOTA_AT_EV_INFO && dfota_at_pending(&t->at))
            copy_rev(t->step == FOTA_REVISION ? t->old_rev : t->new_rev, ev->line);
        if (t->step == FOTA_REVISION && ok) {
            if (!t->old_rev[0])
                fail(t, "no revision from AT+CGMR");
            else
                go(t, FOTA_NETWORK, "AT+CEREG?");
        } else if (t->step == FOTA_VERIFY && (ok || err)) {
            if (t->verify_sub == 0 && ok) {
                t->verify_sub = 1;
                send(t, "ATE0");
            } else if (t->verify_sub == 1) {
                t->verify_sub = 2;
                t->new_rev[0] = 0;
                send(t, "AT+CGMR");
            } else if (t->verify_sub == 2 && ok) {
                if (t->new_rev[0] && strcmp(t->new_rev, t->old_rev)) {
                    t->step = FOTA_DONE;
                    board_log("update done");
                } else {
                    fail(t, "the module still runs the old revision");
                }
            }
        }
        break;
    case FOTA_NETWORK:
    case FOTA_ADDRESS:
        if (ev->type == DFOTA_AT_EV_INFO) {
            const char *pr = dfota_at_params(ev->line, t->step == FOTA_NETWORK ? "+CEREG" : "+CGPADDR");
            int32_t stat;
            char addr[48];
            if (pr && t->step == FOTA_NETWORK && !dfota_at_param_int(pr, 1, &stat))
                t->tries = (stat == 1 || stat == 5) ? 0xff : t->tries;
            if (pr && t->step == FOTA_ADDRESS && dfota_at_param_str(pr, 1, addr, sizeof addr) > 0)
                t->tries = 0xff;
        }
        if (ok && t->tries == 0xff) {
            if (t->step == FOTA_NETWORK) {
                go(t, FOTA_ADDRESS, "AT+CGPADDR=1");
            } else {
                t->step = FOTA_REQUEST;
                send_qfotadl(t);
            }
        }
        break;
    case FOTA_REQUEST:
        if (ok) {
            t->step = FOTA_FOLLOW;
            board_log("download requested");
        } else if (err) {
            fail(t, "the module refused AT+QFOTADL (check the URL)");
        }
        break;
    default:
        break;
    }
}

static void on_time(struct fota_task *t)
{
    int waiting = dfota_at_pending(&t->at);

    if (after(t->now, t->deadline)) {
        fail(t, "timeout");
        return;
    }
    switch (t->step) {
    case FOTA_SYNC:
        if (after(t->now, t->sent_at + SYNC_WAIT_MS)) {
            if (++t->tries >= SYNC_TRIES)
                fail(t, "the module does not answer AT");
            else
                send(t, "AT");
        }
        break;
    case FOTA_NETWORK:
    case FOTA_ADDRESS:
        if (!waiting && t->tries != 0xff && after(t->now, t->sent_at + NET_RETRY_MS)) {
            if (after(t->now, t->step_deadline))
                fail(t, t->step == FOTA_NETWORK ? "not registered on the network"
                                                : "no IP address (PDN not active)");
            else
                send(t, t->step == FOTA_NETWORK ? "AT+CEREG?" : "AT+CGPADDR=1");
        } else if (waiting && after(t->now, t->sent_at + CMD_WAIT_MS)) {
            fail(t, "no answer to a network query");
        }
        break;
    case FOTA_REBOOT:
        if (after(t->now, t->step_deadline)) {     /* no boot line seen: ask anyway */
            t->step = FOTA_VERIFY;
            t->verify_sub = 0;
            t->tries = 0;
            send(t, "AT");
        }
        break;
    case FOTA_VERIFY:
        if (waiting && after(t->now, t->sent_at + SYNC_WAIT_MS)) {
            if (++t->tries >= 3 * SYNC_TRIES) {
                fail(t, "the module does not answer after its reboot");
            } else {
                t->verify_sub = 0;
                send(t, "AT");
            }
        }
        break;
    case FOTA_ECHO_OFF:
    case FOTA_REVISION:
    case FOTA_REQUEST:
        if (waiting && after(t->now, t->sent_at + CMD_WAIT_MS))
            fail(t, "no final result code");
        break;
    default:
        break;
    }
}

void fota_task_start(struct fota_task *t, const char *url, uint32_t now_ms, uint32_t total_ms)
{
    memset(t, 0, sizeof *t);
    dfota_at_init(&t->at);
    t->url = url;
    t->now = now_ms;
    t->deadline = now_ms + total_ms;
    t->http_err = t->err = t->percent = -1;
    t->lwm2m_state = DFOTA_LWM2M_IDLE;
    t->lwm2m_result = DFOTA_LWM2M_INITIAL;
    t->step = FOTA_SYNC;
    send(t, "AT");
}

int fota_task_poll(struct fota_task *t, uint32_t now_ms)
{
    uint8_t buf[64];
    size_t n;

    t->now = now_ms;
    while (t->step != FOTA_DONE && t->step != FOTA_FAILED &&
           (n = board_uart_read(buf, sizeof buf)) > 0) {
        size_t off = 0;
        while (off < n && t->step != FOTA_DONE && t->step != FOTA_FAILED) {
            struct dfota_at_event ev;
            off += dfota_at_feed(&t->at, buf + off, n - off, &ev);
            if (ev.type != DFOTA_AT_EV_NONE)
                on_event(t, &ev);
        }
    }
    if (t->step != FOTA_DONE && t->step != FOTA_FAILED)
        on_time(t);
    return t->step == FOTA_DONE ? 1 : t->step == FOTA_FAILED ? -1 : 0;
}
