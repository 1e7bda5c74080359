/* qemu_at_example: fota_task.c on an emulated Cortex-M4 (QEMU mps2-an386)
 * against a scripted BC20 behind a fake UART. The module answers the first
 * two ATs with nothing (still booting), registers on the second AT+CEREG?,
 * echoes until ATE0, and after AT+QFOTADL sends the guide's URCs (", N%"
 * form, the HTTPTART misspelling, a garbled line, a repeated URC), END,0,
 * then reboots with the MT2625 banner into the new revision. The UART hands
 * over at most 7 bytes per read, so lines arrive in pieces. Exit status 0
 * when the task ends with the new revision and LwM2M result 1. */
#include <stdio.h>
#include <string.h>
#include "fota_task.h"

static char out_q[8192];         /* module -> MCU */
static size_t q_head, q_tail;
static char cmd[300];            /* MCU -> module, one command line */
static size_t cmd_len;
static int echo = 1, at_count, cereg_count;
static const char *revision = "BC20NBR01A08";

static void q(const char *s)
{
    size_t n = strlen(s);
    if (q_tail + n <= sizeof out_q) {
        memcpy(out_q + q_tail, s, n);
        q_tail += n;
    }
}

static void module_command(const char *c)
{
    if (echo) {
        q(c);
        q("\r");
    }
    if (!strcmp(c, "AT")) {
        if (++at_count > 2)
            q("\r\nOK\r\n");
    } else if (!strcmp(c, "ATE0")) {
        echo = 0;
        q("\r\nOK\r\n");
    } else if (!strcmp(c, "AT+CGMR")) {
        q("\r\nRevision: ");
        q(revision);
        q("\r\n\r\nOK\r\n");
    } else if (!strcmp(c, "AT+CEREG?")) {
        q(++cereg_count < 2 ? "\r\n+CEREG: 0,2\r\n\r\nOK\r\n" : "\r\n+CEREG: 0,1\r\n\r\nOK\r\n");
    } else if (!strcmp(c, "AT+CGPADDR=1")) {
        q("\r\n+CGPADDR: 1,10.0.0.5\r\n\r\nOK\r\n");
    } else if (!strncmp(c, "AT+QFOTADL=\"http://", 19)) {
        q("\r\nOK\r\n");
        q("\r\n+QIND: \"FOTA\",\"HTTPTART\"\r\n");
        q("\r\n+QIND: \"FOTA\",\"DOWNLOADING\", 1%\r\n");
        q("\r\n+QIND: \"FOTA\",\"DOWNLOADING\", 1%\r\n");
        q("\r\n+QIND: \"FOTA\",\"DOWNLO\x01\xff\r\n");
        q("\r\n+QIND: \"FOTA\",\"DOWNLOADING\", 100%\r\n");
        q("\r\n+QIND: \"FOTA\",\"HTTPEND\",0\r\n");
        q("\r\n+QIND: \"FOTA\",\"START\"\r\n");
        q("\r\n+QIND: \"FOTA\",\"UPDATING\", 50%\r\n");
        q("\r\n+QIND: \"FOTA\",\"UPDATING\", 100%\r\n");
        q("\r\n+QIND: \"FOTA\",\"END\",0\r\n");
        q("F1: 0000 0000\n\rV0: 0000 0000 [0001]\n\r00: 0006 000C\n\rLeaving the BROM\n\r");
        q("\r\n+CPIN: READY\r\n\r\n+IP: 10.0.0.5\r\n");
        echo = 1;
        revision = "BC20NBR01A09";
    } else {
        q("\r\nERROR\r\n");
    }
}

void board_uart_write(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r') {
            cmd[cmd_len] = 0;
            module_command(cmd);
            cmd_len = 0;
        } else if (cmd_len < sizeof cmd - 1) {
            cmd[cmd_len++] = s[i];
        }
    }
}

size_t board_uart_read(uint8_t *buf, size_t max)
{
    size_t n = q_tail - q_head;
    if (n > 7)
        n = 7;
    if (n > max)
        n = max;
    memcpy(buf, out_q + q_head, n);
    q_head += n;
    return n;
}

void board_log(const char *line)
{
    printf("log: %s\n", line);
}

int main(void)
{
    static struct fota_task t;
    uint32_t now = 0;
    int rc = 0;

    fota_task_start(&t, "http://10.0.0.1:8080/bc20-a08-a09.pkg", now, 30u * 60u * 1000u);
    for (unsigned i = 0; i < 1000000u && rc == 0; i++) {
        now += 10;                  /* a 10 ms tick */
        rc = fota_task_poll(&t, now);
    }
    printf("result %d: %s -> %s, HTTPEND %ld, END %ld, LwM2M state %d result %d, %lu ms\n", rc,
           t.old_rev, t.new_rev, (long)t.http_err, (long)t.err, (int)t.lwm2m_state,
           (int)t.lwm2m_result, (unsigned long)now);
    if (rc != 1 || strcmp(t.old_rev, "BC20NBR01A08") || strcmp(t.new_rev, "BC20NBR01A09") ||
        t.http_err != 0 || t.err != 0 || t.lwm2m_result != DFOTA_LWM2M_SUCCESS ||
        t.lwm2m_state != DFOTA_LWM2M_IDLE) {
        printf("FAIL%s%s\n", t.why ? ": " : "", t.why ? t.why : "");
        return 1;
    }
    printf("PASS\n");
    return 0;
}
