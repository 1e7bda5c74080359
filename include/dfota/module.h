/* dfota - the module core: what a BC20-style cellular module runs to take
 * AT commands from a host and update its own firmware with libdfota.
 *
 * It holds the AT command engine (line assembly, echo, `;` concatenation,
 * final result codes, CMEE), the URL parser, and the FOTA state machine
 * (download into staging with resume, checks, update, reboot, forced upgrade
 * after a power cut, the +QIND URCs). Portable C11: no malloc, no stdio, no
 * OS. It reaches the world only through struct dfota_mod_ports, the flash
 * port of libdfota and the clock value passed to dfota_mod_poll(). The
 * caller owns struct dfota_mod. docs/modem.md describes the behaviour.
 *
 * A main loop looks like:
 *
 *     dfota_mod_init(&m, &cfg);            // at every power-up
 *     dfota_mod_boot(&m, now_ms());        // banner, forced upgrade if one is pending
 *     for (;;) {
 *         n = read_serial(buf);            // bytes from the host, if any
 *         dfota_mod_input(&m, buf, n, now_ms());
 *         ... feed HTTP events: dfota_mod_http_headers/data/end ...
 *         ... network changes: dfota_mod_set_net ...
 *         dfota_mod_poll(&m, now_ms());    // timers, the update itself
 *         if (dfota_mod_reboot_requested(&m)) { reset; dfota_mod_init + boot again }
 *     }
 */
#ifndef DFOTA_MODULE_H
#define DFOTA_MODULE_H

#include <stddef.h>
#include <stdint.h>
#include "dfota/engine.h"
#include "dfota/error.h"
#include "dfota/port.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DFOTA_MOD_URL_MAX  255u  /* bytes of a URL between the quotes */
#ifndef DFOTA_MOD_LINE_MAX
#define DFOTA_MOD_LINE_MAX 320u  /* AT line buffer: AT+QFOTADL="<255 bytes>" and more */
#endif
#define DFOTA_MOD_REV_MAX   33u  /* bytes of a revision string, with its NUL (a package version) */
#define DFOTA_MOD_ETAG_MAX  80u  /* bytes of a validator kept for resume, with its NUL */
#ifndef DFOTA_MOD_URC_QUEUE
#define DFOTA_MOD_URC_QUEUE 512u /* bytes of URCs held back while a command answers */
#endif
#ifndef DFOTA_MOD_RETRY_MS
#define DFOTA_MOD_RETRY_MS 1000u /* pause before a GET is retried */
#endif
#define DFOTA_MOD_REC_SIZE 512u  /* bytes of one module state record in flash */

/* ---- URLs -------------------------------------------------------------- */

/* A parsed http(s) URL; the strings point into the caller's buffer. */
struct dfota_url {
    uint8_t     https;       /* 0 http, 1 https */
    const char *host;        /* host name, IPv4, or IPv6 literal without brackets */
    size_t      host_len;
    uint16_t    port;        /* explicit, or 80 / 443 */
    const char *path;        /* from the first '/', "/" when absent */
    size_t      path_len;
};

/* Parse the text between the quotes of AT+QFOTADL (len bytes, not quoted).
 * Rules: at most DFOTA_MOD_URL_MAX bytes; scheme http or https in any case;
 * a non-empty host; port 1-65535; no spaces or control bytes.
 * Returns DFOTA_OK or DFOTA_ERR_ARG; docs/modem.md lists each rule. */
int dfota_url_parse(const char *s, size_t len, struct dfota_url *u);

/* ---- what the module core needs from its platform ----------------------- */

/* The network as the modem's radio and stack see it. */
struct dfota_mod_net {
    uint8_t reg_stat;        /* 27.007 <stat>: 0 not registered, 1 home, 2 searching,
                                3 denied, 5 roaming */
    uint8_t attached;        /* the default PDN is up and ip is valid */
    char    ip[46];          /* "10.0.0.5" */
    uint8_t rxlev, ber;      /* AT+CESQ first two values (99 unknown: NB-IoT has none) */
    uint8_t rsrq, rsrp;      /* AT+CESQ last two values, 255 unknown */
    char    oper[8];         /* numeric operator, "46011" */
};

/* One HTTP(S) GET the core asks for. The platform answers with
 * dfota_mod_http_headers(), any number of dfota_mod_http_data() and one
 * dfota_mod_http_end(), in that order, from its own loop (never from inside
 * http_start). */
struct dfota_mod_http_req {
    const char *url;         /* the URL as the host gave it, NUL-terminated */
    uint32_t    offset;      /* first byte wanted: 0, or where a resume starts */
    const char *if_range;    /* with offset > 0: the ETag (or Last-Modified) the
                                staged bytes came from; send Range + If-Range */
};

enum dfota_mod_http_result {
    DFOTA_MOD_HTTP_OK = 0,       /* the body ended as the headers said */
    DFOTA_MOD_HTTP_FAILED,       /* connection, TLS, protocol or server error */
    DFOTA_MOD_HTTP_NET_DOWN,     /* the network went away (e.g. AT+CFUN=0) */
    DFOTA_MOD_HTTP_ABORTED,      /* the core called http_abort */
};

struct dfota_mod_ports {
    void *ctx;
    /* Bytes to the host: AT responses and URCs. */
    void (*serial_write)(void *ctx, const void *buf, size_t len);
    /* Start one GET (at most one runs at a time). 0, or negative when it
     * cannot even start (then no events follow). */
    int  (*http_start)(void *ctx, const struct dfota_mod_http_req *req);
    /* Stop the running GET; no events follow except http_end(ABORTED). */
    void (*http_abort)(void *ctx);
    /* AT+CFUN: radio off (0) or on (1). The platform reports the resulting
     * network state with dfota_mod_set_net(). */
    void (*set_radio)(void *ctx, int on);
    /* Optional: a line for the module's debug log (not the AT port). */
    void (*log)(void *ctx, const char *msg);
};

/* Where the module keeps its own small state (revisions, the last FOTA
 * result, a download in progress): two sectors used alternately, apart
 * from the engine's areas. */
struct dfota_mod_state_area {
    uint32_t addr;           /* sector-aligned */
    uint32_t size;           /* two or more sectors, an even number */
};

enum dfota_mod_percent_form {
    DFOTA_MOD_PCT_BC20    = 0,  /* ", 1%": the guide's example (default) */
    DFOTA_MOD_PCT_PLAIN   = 1,  /* ",1" */
    DFOTA_MOD_PCT_PERCENT = 2,  /* ",1%" */
};

struct dfota_mod_config {
    struct dfota_mod_ports ports;
    struct dfota_config engine;           /* libdfota: flash, layout, key, product */
    struct dfota_mod_state_area state;
    const char *manufacturer;             /* ATI first line, "Quectel_Ltd" */
    const char *model;                    /* ATI second line, "Quectel_BC20" */
    uint8_t  percent_form;                /* enum dfota_mod_percent_form */
    uint32_t http_stall_ms;               /* no data this long: the GET is abandoned */
    uint32_t http_retries;                /* resumed GETs after a failure, before HTTPEND,12 */
    uint32_t progress_ms;                 /* a DOWNLOADING URC at least this often (with news) */
};

/* ---- the module --------------------------------------------------------- */

enum dfota_mod_fota {                     /* what the FOTA state machine is doing */
    DFOTA_MOD_FOTA_IDLE = 0,
    DFOTA_MOD_FOTA_DOWNLOADING,
    DFOTA_MOD_FOTA_UPDATING,
    DFOTA_MOD_FOTA_REBOOTING,
};

/* One module state record as it lies in flash (DFOTA_MOD_REC_SIZE bytes,
 * native byte order; docs/modem.md "The module's state in flash"). Private. */
struct dfota_mod_rec {
    uint32_t magic, seq, crc;
    uint32_t sec_counter;                 /* highest security counter installed */
    uint32_t dl_total;                    /* Content-Length of the staged download; 0 none */
    uint32_t dl_staged;                   /* bytes durably in staging (whole sectors) */
    uint32_t next_size;                   /* the image an install is writing */
    uint32_t next_sec;
    uint8_t  next_sha[32];
    uint8_t  has_next, next_slot;         /* an install started: its target and bank */
    uint8_t  last_stage, last_code;       /* the last FOTA result (AT+QFOTADL?) */
    char     rev[DFOTA_MOD_REV_MAX];      /* revision of the firmware that boots */
    char     next_rev[DFOTA_MOD_REV_MAX]; /* revision of the install's target */
    char     url[DFOTA_MOD_URL_MAX + 1];  /* the staged download: URL, */
    char     etag[DFOTA_MOD_ETAG_MAX];    /* and its validator */
    uint8_t  pad[DFOTA_MOD_REC_SIZE - 64 - 4 - 2 * DFOTA_MOD_REV_MAX - DFOTA_MOD_URL_MAX - 1 -
                 DFOTA_MOD_ETAG_MAX];
};

/* The caller owns this; its fields are private to the core. Its size is the
 * core's whole RAM besides the stack (the engine included). */
struct dfota_mod {
    const struct dfota_mod_config *cfg;
    struct dfota_config ecfg;             /* the engine's config, with the core's hooks */
    struct dfota_engine engine;
    struct dfota_mod_net net;
    struct dfota_mod_rec rec;             /* RAM image of the newest state record */
    uint32_t rec_half, rec_slot;          /* where the next record goes */
    uint8_t  provisioned, booted, reboot;
    uint8_t  save_due;                    /* a record waits until the final result code */
    /* AT engine */
    uint8_t  line_state;                  /* looking for "AT", saw 'A', in a command line */
    uint8_t  line_overflow;
    uint8_t  echo, cmee, cereg_n, cfun;
    uint8_t  in_response;                 /* URCs wait until the final result code */
    uint8_t  urc_lost;                    /* the queue was full: URCs were dropped */
    uint16_t line_len, urc_len;
    char     line[DFOTA_MOD_LINE_MAX + 1];
    char     urc_queue[DFOTA_MOD_URC_QUEUE];
    /* FOTA */
    uint8_t  fota;                        /* enum dfota_mod_fota */
    uint8_t  http;                        /* no GET, waiting to start one, one running */
    uint8_t  aborts;                      /* aborted GETs whose http_end(ABORTED) is due */
    uint8_t  dl_news;                     /* bytes came since the last DOWNLOADING URC */
    int16_t  dl_pct, up_pct;              /* last percent reported */
    uint32_t retries;                     /* failed GETs of this request */
    uint32_t req_offset;                  /* first byte asked of the running GET */
    uint32_t wpos, fill;                  /* staging bytes programmed; bytes in buf */
    uint32_t start_at, last_data_ms, last_urc_ms, now_ms;
    uint8_t  buf[DFOTA_IO_BUF];           /* staging writes, up to a sector at a time */
};

/* Load the module's state from flash (revision, last result, a download in
 * progress) and the engine's journal. Call at every power-up. */
int dfota_mod_init(struct dfota_mod *m, const struct dfota_mod_config *cfg);

/* First use of a blank flash: the firmware image is already programmed in
 * slot 0 (by the platform); record its revision. */
int dfota_mod_provision(struct dfota_mod *m, const char *revision);

/* Nonzero when the state area holds a module record (dfota_mod_provision
 * ran once on this flash). */
int dfota_mod_provisioned(const struct dfota_mod *m);

/* Power-up output: banner, +CPIN: READY; runs a forced upgrade (START,
 * UPDATING, END) first when the journal holds an unfinished update. */
void dfota_mod_boot(struct dfota_mod *m, uint32_t now_ms);

/* Bytes from the host's serial line. */
void dfota_mod_input(struct dfota_mod *m, const void *buf, size_t len, uint32_t now_ms);

/* The network changed (registration, address, signal); prints +CEREG / +IP
 * URCs as the settings ask, and fails a download when the PDN goes. */
void dfota_mod_set_net(struct dfota_mod *m, const struct dfota_mod_net *net);

/* HTTP events for the GET started by http_start. status is the HTTP status;
 * first/total come from Content-Range (206) or are 0/Content-Length (200);
 * total 0 means unknown; validator is the ETag (or Last-Modified) or "". */
void dfota_mod_http_headers(struct dfota_mod *m, int status, uint32_t first, uint32_t total,
                            const char *validator);
void dfota_mod_http_data(struct dfota_mod *m, const void *data, size_t len);
void dfota_mod_http_end(struct dfota_mod *m, enum dfota_mod_http_result r);

/* Timers (stall, retries, progress URCs) and the update itself, which runs
 * inside this call once the download is complete. */
void dfota_mod_poll(struct dfota_mod *m, uint32_t now_ms);

/* How many ms from now_ms the core next needs dfota_mod_poll (a retry, the
 * stall timer, a DOWNLOADING heartbeat): 0 at once (e.g. the install is
 * due), -1 when nothing is timed (idle: poll after input or events only).
 * A platform may sleep that long when no serial or HTTP event comes. */
int32_t dfota_mod_poll_in(const struct dfota_mod *m, uint32_t now_ms);

/* Nonzero after END,0 (or AT+QRST=1): the platform resets the module and
 * calls dfota_mod_init and dfota_mod_boot again. */
int dfota_mod_reboot_requested(const struct dfota_mod *m);

/* The revision the running firmware reports (ATI, AT+CGMR). */
const char *dfota_mod_revision(const struct dfota_mod *m);

/* The one table from libdfota's errors to the BC20 END codes
 * (0, 1 unknown, 2 busy, 254 wrong source, 255 invalid package). */
int dfota_mod_end_code(int dfota_err);

#ifdef __cplusplus
}
#endif
#endif
