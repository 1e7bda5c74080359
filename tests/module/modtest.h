/* Helpers of the module core tests: a module on the strict simulated flash,
 * its serial output captured, a fake HTTP server behind the core's HTTP
 * port, a fake clock, and power cycles. */
#ifndef DFOTA_MODTEST_H
#define DFOTA_MODTEST_H

#include <stddef.h>
#include <stdint.h>
#include "dfota/module.h"
#include "testutil.h"

#define MT_OUT_MAX (1u << 20)

/* How the fake server answers (one GET at a time). */
struct mt_server {
    const uint8_t *file;
    size_t len;
    char etag[64];            /* "" sends no validator */
    int status;               /* 0: 200/206 as the request asks; else this status, no body */
    uint32_t chunk;           /* body bytes per step (default 700) */
    uint64_t fail_at;         /* end the GET with FAILED once this many body bytes were sent in it */
    int fail_count;           /* that many GETs fail so (-1: all) */
    uint64_t stall_at;        /* stop sending at this byte of the file (UINT64_MAX: never) */
    int no_length;            /* total 0 in the headers */
    uint64_t lie_total;       /* nonzero: Content-Length says this */
};

struct mt_req {
    char url[DFOTA_MOD_URL_MAX + 1];
    uint32_t offset;
    char if_range[DFOTA_MOD_ETAG_MAX];
    int has_if_range;
};

struct mt {
    struct simflash flash;
    struct dfota_mod_config cfg;
    struct dfota_mod *m;
    uint8_t pk[32];
    struct dfota_mod_net net;
    char *out;                /* everything the module wrote since mt_clear */
    size_t out_len;
    uint32_t now;
    int radio;
    struct mt_server srv;
    /* the GET in flight */
    int active, headers_sent, aborted_due;
    uint64_t pos, sent_in_get;
    int is_partial;
    /* every GET asked for */
    struct mt_req reqs[64];
    int nreqs, aborts;
    uint64_t next_cut;
    uint64_t ok_ops;          /* flash operations done when "\r\nOK\r\n" was first written
                                 after mt_clear (UINT64_MAX: not yet) */
    uint64_t ops_flushed;        /* nonzero: the next power-up loses power again after this many ops */
    char log[4096];
};

/* A device: layout kind, sector size, slot size, scratch sectors (in place),
 * staging size, and the state area (two sectors) after it all. */
void mt_init(struct mt *t, int kind, uint32_t sector, uint32_t slot_size, uint32_t scratch,
             uint32_t staging);
void mt_free(struct mt *t);
/* Put an image in bank 0 as if the factory had programmed it. */
void mt_flash_image(struct mt *t, const uint8_t *img, size_t len);
/* Power up: dfota_mod_init (provisioning revision rev on a blank state),
 * dfota_mod_boot, then the network comes up (attached). Returns init's rc. */
int mt_power_up(struct mt *t, const char *rev);
/* Power up without the network. */
int mt_power_up_offline(struct mt *t, const char *rev);
/* The network: registered and attached, or not. */
void mt_net(struct mt *t, int reg_stat, int attached);
void mt_clear(struct mt *t);
/* Send bytes to the module; returns the output they produced (NUL-terminated,
 * valid until the next call). */
const char *mt_send(struct mt *t, const char *s);
const char *mt_send_n(struct mt *t, const void *s, size_t n);
/* One step of the world: the server sends what it sends, the clock moves
 * dt ms, the module polls. */
void mt_step(struct mt *t, uint32_t dt);
/* Steps until the module is idle (no download, no update) or a reboot is
 * asked, or the flash lost power; at most max_steps. Returns 0 when it ended
 * so, -1 on timeout. */
int mt_run(struct mt *t, int max_steps);
/* Reboot when the module asked for it: a new power-up. */
void mt_reboot_if_asked(struct mt *t);
/* The +QIND lines of the output, one per line, "STAGE[,code]" (percent
 * forms reduced to the number), in buf. */
void mt_qinds(const struct mt *t, char *buf, size_t cap);
/* The sequence check of a download+update: HTTPSTART, DOWNLOADING never
 * backwards ending at 100, HTTPEND,<h>, then when h is 0 START, UPDATING
 * never backwards, END,<e>. */
void mt_assert_fota(const struct mt *t, int http_err, int err);
/* The revision ATI reports. */
const char *mt_revision(struct mt *t);

#endif
