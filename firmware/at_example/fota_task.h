/* fota_task: a complete, non-blocking AT+QFOTADL driver for an MCU that
 * drives a BC20-style module over a UART, built on dfota's AT/URC parser.
 * It is the example of docs/host.md; CI builds it for Cortex-M4 and runs it
 * on QEMU against a scripted module (qemu_main.c).
 *
 * The board supplies three functions (below). Call fota_task_start() once,
 * then fota_task_poll() from the main loop or an RTOS task as often as you
 * like (every few milliseconds); it never blocks. */
#ifndef FOTA_TASK_H
#define FOTA_TASK_H

#include <stddef.h>
#include <stdint.h>
#include "dfota/at.h"

/* Board hooks. */
void board_uart_write(const char *s, size_t n);   /* queue bytes to the module */
size_t board_uart_read(uint8_t *buf, size_t max); /* bytes received, never blocks */
void board_log(const char *line);                 /* a line for the developer */

enum fota_step {
    FOTA_SYNC,       /* AT until OK */
    FOTA_ECHO_OFF,   /* ATE0 */
    FOTA_REVISION,   /* AT+CGMR: the revision before */
    FOTA_NETWORK,    /* AT+CEREG? until registered */
    FOTA_ADDRESS,    /* AT+CGPADDR=1 until an address */
    FOTA_REQUEST,    /* AT+QFOTADL="url" */
    FOTA_FOLLOW,     /* the +QIND: "FOTA" URCs */
    FOTA_REBOOT,     /* END,0 came: wait for the module's boot */
    FOTA_VERIFY,     /* AT, ATE0, AT+CGMR: the revision after */
    FOTA_DONE,       /* the revision changed */
    FOTA_FAILED      /* see fota_task.why */
};

struct fota_task {
    struct dfota_at at;
    enum fota_step step;
    const char *url;
    uint32_t now, sent_at, step_deadline, deadline;
    uint8_t tries, verify_sub, rebooted;
    int32_t http_err, err;     /* last HTTPEND / END codes, -1 before */
    int32_t percent;           /* last DOWNLOADING / UPDATING percent */
    char old_rev[32], new_rev[32];
    const char *why;           /* FOTA_FAILED: what went wrong */
    /* The LwM2M /5 view of the same progress, for a client to report. */
    enum dfota_lwm2m_state lwm2m_state;
    enum dfota_lwm2m_result lwm2m_result;
};

/* total_ms bounds the whole update (download and install can take tens of
 * minutes on NB-IoT). */
void fota_task_start(struct fota_task *t, const char *url, uint32_t now_ms, uint32_t total_ms);

/* Returns 0 while running, 1 when done (revision changed), -1 on failure. */
int fota_task_poll(struct fota_task *t, uint32_t now_ms);

#endif
