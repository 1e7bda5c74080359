/* dfota-modem: the host glue around the portable module core
 * (include/dfota/module.h): a flash file, a serial transport (pty, TCP or
 * stdio), HTTP(S) with libcurl, the simulated NB-IoT link and the boot.
 * docs/modem.md describes the command line. */
#ifndef DFOTA_MODEM_H
#define DFOTA_MODEM_H

#include <stddef.h>
#include <stdint.h>
#include "dfota/engine.h"
#include "dfota/module.h"
#include "host_port.h"

/* ---- the flash file (flashfile.c) ---------------------------------------- */

/* Geometry and layout, kept in the first 4096 bytes of the file so that a
 * restart finds them; the flash itself follows at file offset 4096. */
#define MODEM_FLASH_HDR 4096u

struct flash_geom {
    uint32_t flash_size;      /* bytes of flash after the header */
    uint32_t sector_size, prog_size;
    uint8_t  erased;
    struct dfota_layout layout;
    uint32_t state, state_size;  /* the module core's own state area */
};

/* What the options ask for when a file is created. */
struct flash_opts {
    int      kind;            /* DFOTA_LAYOUT_AB or _INPLACE; 0: not given */
    uint32_t sector_size;     /* 0: not given */
    uint32_t prog_size;
    uint32_t scratch_sectors;
    uint32_t slot_size;       /* 0: from the firmware image */
    uint32_t staging_size;    /* 0: the slot size */
};

struct flashdev {
    struct simflash sf;       /* the strict NOR rules, over the mapped file */
    struct dfota_flash port;  /* what the engine and the core see */
    struct flash_geom g;
    int fd;
    uint8_t *map;             /* the whole file */
    size_t map_len;
    uint64_t ops;             /* erase + program operations since start */
    uint64_t cut_at;          /* power cut when operation cut_at starts; 0 never */
    int cut_torn;
    int created;              /* the file was made by this run */
};

/* Open FILE, or create it from the firmware image (then `created` is set
 * and the image is in slot 0). Geometry options given for an existing file
 * must agree with its header. Prints the reason and returns -1 on error. */
int flashdev_open(struct flashdev *d, const char *path, const struct flash_opts *o,
                  const char *firmware, const char *tmp_path);
/* The file of a created flash gets its final name (after provisioning). */
int flashdev_commit(struct flashdev *d, const char *tmp_path, const char *path);
void flashdev_close(struct flashdev *d);
void flashdev_describe(const struct flashdev *d, char *out, size_t cap);

/* ---- the serial side (serial.c) ------------------------------------------ */

enum serial_kind { SERIAL_PTY, SERIAL_TCP, SERIAL_STDIO };

#define SERIAL_OUT_CAP 65536u

struct serial {
    int kind;
    int in_fd, out_fd;        /* -1 when no host is attached */
    int master, slave_hold;   /* pty: our end, and the slave we keep open */
    int listen_fd;            /* tcp */
    int notify_fd;            /* pty: inotify on the slave, for --wait-connect */
    int eof;                  /* stdio: stdin ended */
    int stdio_fl[2];          /* stdio: the file flags to restore */
    char name[128];           /* pty path, or 127.0.0.1:port */
    const char *link;         /* --pty-link */
    uint8_t out[SERIAL_OUT_CAP];
    size_t out_len;
    uint64_t dropped;         /* output bytes nobody could take */
};

int  serial_open(struct serial *s, int kind, uint16_t tcp_port, const char *link);
void serial_close(struct serial *s);
/* Queue bytes for the host; what does not fit is dropped, as by a UART
 * nobody reads. */
void serial_write(struct serial *s, const void *buf, size_t len);
void serial_flush(struct serial *s);
/* Before the process ends: write what is queued and, on a pty, wait (at
 * most timeout_ms) until the host has read it, since the pty's buffer dies
 * with the process; bytes on the wire reach the host, as on a UART. */
void serial_drain(struct serial *s, int timeout_ms);
/* Poll set: fills up to 3 entries, returns their number. */
struct pollfd;
int  serial_pollfds(struct serial *s, struct pollfd *p);
/* After poll: accept a TCP host, read bytes (into buf, returns count). */
size_t serial_service(struct serial *s, const struct pollfd *p, int n, uint8_t *buf, size_t cap);
/* --wait-connect: watch for a host before the pty's name is printed, then
 * block until a host opens the pty / connects. */
int  serial_watch(struct serial *s);
int  serial_wait_host(struct serial *s, volatile int *stop);

/* ---- the link and HTTP (http.c) ------------------------------------------ */

struct link_opts {
    uint32_t kbps;            /* downlink, kbit/s (1000 bit); 0 unlimited */
    uint32_t latency_ms;      /* round trip time */
    uint64_t outage_after_bytes;  /* 0: none */
    double   outage_at_s;     /* <0: none */
    double   outage_for_s;
    const char *ca;
    uint32_t connect_timeout_ms;
    int      verbose;
};

struct modem;
struct http;
struct http *http_new(struct modem *mo, const struct link_opts *o);
void http_free(struct http *h);
int  http_start(struct http *h, const struct dfota_mod_http_req *req, uint32_t now);
void http_abort(struct http *h);
/* Drop a transfer without telling the core (reboot). */
void http_reset(struct http *h);
/* The network went down under a running GET: end it with NET_DOWN. */
void http_net_down(struct http *h);
int  http_running(const struct http *h);
/* Poll entries curl wants are handled by curl_multi_poll itself. */
void *http_multi(struct http *h);
void http_perform(struct http *h);
/* Deliver events to the core as the link allows; returns ms until the next
 * delivery (or -1 when it waits only for the network). */
int  http_pump(struct http *h, uint32_t now);
uint64_t http_delivered(const struct http *h);
/* Events are owed to the core at once (an aborted or failed GET's end). */
int  http_owed(const struct http *h);

/* ---- the whole module (main.c) ------------------------------------------- */

struct modem {
    struct dfota_mod core;
    struct dfota_mod_config cfg;
    struct flashdev flash;
    struct serial serial;
    struct http *http;
    struct link_opts link;
    int verbose;
    /* the network model */
    int radio;                /* AT+CFUN */
    uint8_t reg_target;       /* 27.007 stat once registered */
    uint32_t reg_delay_ms;
    uint32_t reg_at;          /* time registration completes */
    int outage, outage_done;
    uint32_t outage_end;
    struct dfota_mod_net net_cfg, net_now;
    int net_reported;
};

uint32_t modem_now(void);
void modem_log(struct modem *mo, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The link's outage trigger (after N bytes) */
void modem_outage_start(struct modem *mo, uint32_t now);

#endif
