/* HTTP(S) GETs for the module core with libcurl's multi interface, and the
 * simulated downlink: the bytes curl receives wait in a link buffer and reach
 * the core at the link rate (a token bucket), after the round trips a GET
 * needs; curl is paused while the buffer is full, so TCP flow control slows
 * the server down as a real narrow link would. */
#define _GNU_SOURCE
#include <ctype.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "modem.h"

#define LINK_BUF (4u * CURL_MAX_WRITE_SIZE)

struct http {
    struct modem *mo;
    const struct link_opts *o;
    CURLM *multi;
    CURL *easy;
    struct curl_slist *hdrs;
    char errbuf[CURL_ERROR_SIZE];
    /* the GET the core knows about */
    int active;
    int paused;
    int curl_done;
    CURLcode result;
    uint32_t start_ms, ready_ms;   /* headers and data not before ready_ms */
    /* the current response's headers */
    long status;
    int have_cr, headers_ready, headers_sent, bad_status, have_loc;
    uint64_t cr_first, cr_total, clen;
    int have_clen;
    char etag[DFOTA_MOD_ETAG_MAX + 48], lastmod[DFOTA_MOD_ETAG_MAX + 48];
    /* link buffer */
    uint8_t buf[LINK_BUF];
    size_t len;
    double tokens;
    uint32_t refill_ms;
    /* an event owed to the core without a transfer (start refused, net down) */
    int pending_end;
    enum dfota_mod_http_result pending_result;
    unsigned aborts;               /* http_end(ABORTED) owed for aborted GETs */
    uint64_t delivered;            /* bytes given to the core since start */
};

static uint64_t rate_bps(const struct http *h)
{
    return (uint64_t)h->o->kbps * 1000u / 8u;   /* bytes per second */
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\r' || s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = 0;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ctx)
{
    struct http *h = ctx;
    size_t n = size * nmemb;
    char line[512];
    const char *v;

    if (n >= sizeof line)
        return n;               /* no header we read is that long */
    memcpy(line, p, n);
    line[n] = 0;
    trim(line);
    if (!strncmp(line, "HTTP/", 5)) {
        /* a new response (after a redirect or a 100): forget the last one */
        const char *sp = strchr(line, ' ');
        h->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        h->have_cr = h->have_clen = 0;
        h->headers_ready = h->bad_status = h->have_loc = 0;
        h->cr_first = h->cr_total = h->clen = 0;
        h->etag[0] = h->lastmod[0] = 0;
        return n;
    }
    if (!line[0]) {
        /* end of this response's headers; an interim response or a
         * redirect curl follows is not the one the core wants */
        if (h->status >= 100 && h->status < 200)
            return n;
        if (h->status >= 300 && h->status < 400 && h->have_loc)
            return n;
        h->headers_ready = 1;
        if (h->status < 200 || h->status > 299)
            h->bad_status = 1;
        return n;
    }
    v = strchr(line, ':');
    if (!v)
        return n;
    for (v++; *v == ' ' || *v == '\t'; v++)
        ;
    if (!strncasecmp(line, "Content-Range:", 14)) {
        /* bytes FIRST-LAST/TOTAL, TOTAL may be '*' */
        unsigned long long a, b;
        char tot[32];
        if (sscanf(v, "bytes %llu-%llu/%31s", &a, &b, tot) == 3) {
            h->have_cr = 1;
            h->cr_first = a;
            h->cr_total = tot[0] == '*' ? 0 : strtoull(tot, NULL, 10);
        }
    } else if (!strncasecmp(line, "Content-Length:", 15)) {
        h->have_clen = 1;
        h->clen = strtoull(v, NULL, 10);
    } else if (!strncasecmp(line, "ETag:", 5)) {
        snprintf(h->etag, sizeof h->etag, "%s", v);
    } else if (!strncasecmp(line, "Location:", 9)) {
        h->have_loc = 1;
    } else if (!strncasecmp(line, "Last-Modified:", 14)) {
        snprintf(h->lastmod, sizeof h->lastmod, "%s", v);
    }
    return n;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ctx)
{
    struct http *h = ctx;
    size_t n = size * nmemb;
    if (h->status >= 300 && h->status < 400 && h->have_loc)
        return n;               /* the body of a redirect curl follows */
    if (!h->headers_ready)
        h->headers_ready = 1;   /* a server that sent no blank line: take what we have */
    if (h->bad_status)
        return 0;               /* an error page is not a package: stop at once */
    if (LINK_BUF - h->len < n) {
        h->paused = 1;
        return CURL_WRITEFUNC_PAUSE;
    }
    memcpy(h->buf + h->len, p, n);
    h->len += n;
    return n;
}

struct http *http_new(struct modem *mo, const struct link_opts *o)
{
    struct http *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->mo = mo;
    h->o = o;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) || !(h->multi = curl_multi_init())) {
        free(h);
        return NULL;
    }
    return h;
}

static void drop_easy(struct http *h)
{
    if (h->easy) {
        curl_multi_remove_handle(h->multi, h->easy);
        curl_easy_cleanup(h->easy);
        h->easy = NULL;
    }
    curl_slist_free_all(h->hdrs);
    h->hdrs = NULL;
}

void http_free(struct http *h)
{
    if (!h)
        return;
    drop_easy(h);
    curl_multi_cleanup(h->multi);
    curl_global_cleanup();
    free(h);
}

void *http_multi(struct http *h)
{
    return h->multi;
}

int http_running(const struct http *h)
{
    return h->active;
}

int http_owed(const struct http *h)
{
    return h->aborts != 0 || (h->active && h->pending_end);
}

uint64_t http_delivered(const struct http *h)
{
    return h->delivered;
}

static void reset_response(struct http *h)
{
    h->paused = h->curl_done = 0;
    h->result = CURLE_OK;
    h->status = 0;
    h->have_cr = h->have_clen = h->headers_ready = h->headers_sent = h->bad_status = h->have_loc = 0;
    h->cr_first = h->cr_total = h->clen = 0;
    h->etag[0] = h->lastmod[0] = 0;
    h->len = 0;
    h->tokens = 0;
    h->pending_end = 0;
    h->errbuf[0] = 0;
}

int http_start(struct http *h, const struct dfota_mod_http_req *req, uint32_t now)
{
    struct modem *mo = h->mo;
    int https = !strncasecmp(req->url, "https:", 6);
    char range[40];

    drop_easy(h);
    reset_response(h);
    h->active = 1;
    h->start_ms = now;
    /* TCP handshake and request: 2 round trips; TLS adds one (TLS 1.3) */
    h->ready_ms = now + h->o->latency_ms * (https ? 3u : 2u);
    h->refill_ms = h->ready_ms;
    if (!mo->net_now.attached) {
        /* no PDN: the GET fails as soon as the stack notices */
        h->pending_end = 1;
        h->pending_result = DFOTA_MOD_HTTP_NET_DOWN;
        h->ready_ms = now;
        return 0;
    }
    h->easy = curl_easy_init();
    if (!h->easy) {
        h->active = 0;
        return -1;
    }
    curl_easy_setopt(h->easy, CURLOPT_URL, req->url);
    curl_easy_setopt(h->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h->easy, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h->easy, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(h->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h->easy, CURLOPT_USERAGENT, "dfota-modem/" DFOTA_VERSION);
    curl_easy_setopt(h->easy, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(h->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h->easy, CURLOPT_HEADERDATA, h);
    curl_easy_setopt(h->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h->easy, CURLOPT_WRITEDATA, h);
    curl_easy_setopt(h->easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h->easy, CURLOPT_SSL_VERIFYHOST, 2L);
    if (h->o->ca)
        curl_easy_setopt(h->easy, CURLOPT_CAINFO, h->o->ca);
    if (h->o->connect_timeout_ms)
        curl_easy_setopt(h->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)h->o->connect_timeout_ms);
    if (req->offset) {
        snprintf(range, sizeof range, "%" PRIu32 "-", req->offset);
        curl_easy_setopt(h->easy, CURLOPT_RANGE, range);
        if (req->if_range && req->if_range[0]) {
            char hl[DFOTA_MOD_ETAG_MAX + 16];
            snprintf(hl, sizeof hl, "If-Range: %s", req->if_range);
            h->hdrs = curl_slist_append(h->hdrs, hl);
            curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, h->hdrs);
        }
    }
    if (curl_multi_add_handle(h->multi, h->easy)) {
        drop_easy(h);
        h->active = 0;
        return -1;
    }
    modem_log(mo, "GET %s from byte %" PRIu32 "%s%s", req->url, req->offset,
              req->offset && req->if_range && req->if_range[0] ? ", If-Range: " : "",
              req->offset && req->if_range ? req->if_range : "");
    return 0;
}

void http_abort(struct http *h)
{
    /* The core stopped the GET: nothing more of it reaches the core but
     * http_end(ABORTED), from the loop, before any event of a later GET. */
    if (h->active)
        h->aborts++;
    drop_easy(h);
    h->active = 0;
    h->pending_end = 0;
    h->len = 0;
}

void http_reset(struct http *h)
{
    drop_easy(h);
    h->active = 0;
    h->pending_end = 0;
    h->len = 0;
    h->aborts = 0;
}

void http_net_down(struct http *h)
{
    if (!h->active)
        return;
    drop_easy(h);
    h->len = 0;
    h->pending_end = 1;
    h->pending_result = DFOTA_MOD_HTTP_NET_DOWN;
    h->ready_ms = 0;            /* the stack notices at once */
}

void http_perform(struct http *h)
{
    int running;
    CURLMsg *msg;
    int left;

    curl_multi_perform(h->multi, &running);
    while ((msg = curl_multi_info_read(h->multi, &left))) {
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == h->easy) {
            h->curl_done = 1;
            h->result = msg->data.result;
            if (h->result != CURLE_OK)
                modem_log(h->mo, "GET failed: %s", h->errbuf[0] ? h->errbuf
                                                              : curl_easy_strerror(h->result));
        }
    }
}

static void end_get(struct http *h, enum dfota_mod_http_result r)
{
    drop_easy(h);
    h->active = 0;
    h->pending_end = 0;
    h->len = 0;
    dfota_mod_http_end(&h->mo->core, r);
}

static void send_headers(struct http *h)
{
    uint64_t first = 0, total = 0;
    const char *validator = h->etag[0] ? h->etag : h->lastmod;

    if (h->have_cr) {
        first = h->cr_first;
        total = h->cr_total;
    } else if (h->have_clen && h->status != 206) {
        total = h->clen;
    }
    if (first > UINT32_MAX || total > UINT32_MAX)
        first = total = UINT32_MAX;   /* more than a module holds: the core refuses it */
    if (strlen(validator) >= DFOTA_MOD_ETAG_MAX)
        validator = "";               /* cut short it would not identify the file */
    h->headers_sent = 1;
    modem_log(h->mo, "HTTP %ld, first byte %" PRIu64 ", total %" PRIu64 "%s%s", h->status, first,
              total, validator[0] ? ", validator " : "", validator);
    dfota_mod_http_headers(&h->mo->core, (int)h->status, (uint32_t)first, (uint32_t)total,
                           validator);
}

int http_pump(struct http *h, uint32_t now)
{
    uint64_t rate = rate_bps(h), n;
    uint64_t chunk;

    while (h->aborts) {
        h->aborts--;
        dfota_mod_http_end(&h->mo->core, DFOTA_MOD_HTTP_ABORTED);
    }
    if (!h->active)
        return -1;
    if ((int32_t)(now - h->ready_ms) < 0)
        return (int)(h->ready_ms - now);
    if (h->pending_end) {
        end_get(h, h->pending_result);
        return -1;
    }
    if (h->headers_ready && !h->headers_sent) {
        send_headers(h);
        if (!h->active)
            return -1;          /* the core gave up on these headers */
    }
    while (h->len && h->active) {
        if (rate) {
            /* refill; the bucket holds at most 100 ms of the link */
            double cap = (double)rate / 10.0;
            h->tokens += (double)rate * (double)(uint32_t)(now - h->refill_ms) / 1000.0;
            h->refill_ms = now;
            if (h->tokens > cap && h->tokens > 512)
                h->tokens = cap > 512 ? cap : 512;
            n = (uint64_t)h->tokens;
            if (n > h->len)
                n = h->len;
            chunk = rate / 20 > 512 ? rate / 20 : 512;   /* at most 20 deliveries a second */
            if (n < h->len && n < chunk) {
                uint64_t want = (chunk < h->len ? chunk : h->len) - n;
                return (int)((want * 1000 + rate - 1) / rate);
            }
            h->tokens -= (double)n;
        } else {
            n = h->len;
        }
        if (h->mo->link.outage_after_bytes && !h->mo->outage_done &&
            h->delivered + n >= h->mo->link.outage_after_bytes)
            n = h->mo->link.outage_after_bytes - h->delivered;
        h->delivered += n;
        if (n)
            dfota_mod_http_data(&h->mo->core, h->buf, (size_t)n);
        if (!h->active)
            return -1;          /* the core aborted */
        memmove(h->buf, h->buf + n, h->len - (size_t)n);
        h->len -= (size_t)n;
        if (h->mo->link.outage_after_bytes && !h->mo->outage_done &&
            h->delivered >= h->mo->link.outage_after_bytes) {
            modem_outage_start(h->mo, now);
            return -1;
        }
        if (h->paused && LINK_BUF - h->len >= CURL_MAX_WRITE_SIZE) {
            h->paused = 0;
            curl_easy_pause(h->easy, CURLPAUSE_CONT);   /* may call on_body at once */
        }
    }
    if (!h->active)
        return -1;
    if (h->curl_done && !h->len && !h->paused) {
        if (h->result == CURLE_OK && h->headers_ready && !h->bad_status) {
            if (!h->headers_sent)
                send_headers(h);
            if (h->active)
                end_get(h, DFOTA_MOD_HTTP_OK);
        } else {
            end_get(h, DFOTA_MOD_HTTP_FAILED);
        }
        return -1;
    }
    return -1;
}
