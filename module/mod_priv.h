/* dfota module core: what at.c, fota.c and state.c share. Private. */
#ifndef DFOTA_MOD_PRIV_H
#define DFOTA_MOD_PRIV_H

#include "dfota/module.h"

/* m->line_state */
enum { LINE_IDLE = 0, LINE_A, LINE_CMD };

/* m->http */
enum { HTTP_NONE = 0, HTTP_WAIT, HTTP_RUN };

/* rec.last_stage: what AT+QFOTADL? reports */
enum {
    STAGE_NONE = 0,        /* no FOTA on record */
    STAGE_DOWNLOADING = 1, /* a download was staged and not finished */
    STAGE_HTTPEND = 2,     /* a download failed: last_code is the http_err */
    STAGE_UPDATING = 3,    /* an install started */
    STAGE_END = 4,         /* an update ended: last_code is the err */
};

/* Result of an AT command handler: 0 OK, AT_SYNTAX plain ERROR, or a
 * positive 27.007 +CME ERROR code. */
#define AT_SYNTAX (-1)
#define CME_NOT_ALLOWED 3
#define CME_NOT_SUPPORTED 4
#define CME_BAD_PARAM 50
#define CME_UNKNOWN 100

/* at.c: output */
void mod_write(struct dfota_mod *m, const char *s, size_t n);
void mod_puts(struct dfota_mod *m, const char *s);
/* One information line of the running command: \r\n<text>\r\n. */
void mod_info(struct dfota_mod *m, const char *text);
/* A URC: written now, or queued while a command is answering. */
void mod_urc(struct dfota_mod *m, const char *text);
void mod_log(struct dfota_mod *m, const char *msg);

/* Small string helpers (no libc beyond memcpy/memset/memcmp). */
size_t mod_strlen(const char *s);
size_t mod_strlcpy(char *dst, const char *src, size_t size);    /* always NUL-terminated */
/* Append s / an unsigned number to the NUL-terminated text in b (size cap). */
void mod_cat(char *b, size_t cap, const char *s);
void mod_cat_u(char *b, size_t cap, uint32_t v);

/* fota.c */
int fota_request(struct dfota_mod *m, const char *url, size_t len);   /* AT+QFOTADL=<url> */
void fota_read(struct dfota_mod *m);                                 /* AT+QFOTADL? */
void fota_radio_off(struct dfota_mod *m);                            /* AT+CFUN=0 */
void fota_abort_for_reboot(struct dfota_mod *m);                     /* AT+QRST=1 */

/* state.c */
int mod_state_load(struct dfota_mod *m);      /* newest valid record into m->rec */
int mod_state_save(struct dfota_mod *m);      /* m->rec as the next record */
/* The same, but while a command answers only once its final result code is
 * out (a sector erase must not delay OK). */
void mod_state_save_soon(struct dfota_mod *m);

#endif
