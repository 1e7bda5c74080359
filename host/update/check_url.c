/* check_url.c: see check_url.h. */
#include "check_url.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct buf {
    uint8_t data[DFOTA_PKG_HEADER_MAX];  /* the longest header: a v2 one is shorter */
    size_t len;
    uint64_t total;
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *ctx)
{
    struct buf *b = ctx;
    size_t n = size * nmemb, k = sizeof b->data - b->len;
    if (k > n)
        k = n;
    memcpy(b->data + b->len, p, k);
    b->len += k;
    /* A server that ignores Range sends the whole file: stop after the header. */
    return b->len == sizeof b->data ? (k == n ? n : 0) : n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ctx)
{
    struct buf *b = ctx;
    size_t n = size * nmemb;
    char line[256];
    unsigned long long v;

    if (n >= sizeof line)
        return n;
    memcpy(line, p, n);
    line[n] = 0;
    if (!strncasecmp(line, "Content-Range:", 14)) {
        const char *slash = strchr(line, '/');
        if (slash && sscanf(slash + 1, "%llu", &v) == 1)
            b->total = v;
    } else if (!strncasecmp(line, "Content-Length:", 15) && !b->total) {
        if (sscanf(line + 15, "%llu", &v) == 1)
            b->total = v | (1ull << 63);   /* marked: only the size of this answer */
    }
    return n;
}

int check_url(const char *url, const char *ca_file, int timeout_s, struct check_url_result *r)
{
    struct buf b;
    CURL *c;
    CURLcode cc;
    char range[32];
    int rc;

    memset(r, 0, sizeof *r);
    memset(&b, 0, sizeof b);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    c = curl_easy_init();
    if (!c) {
        snprintf(r->error, sizeof r->error, "libcurl failed to start");
        return CHECK_URL_UNREACHABLE;
    }
    snprintf(range, sizeof range, "0-%u", DFOTA_PKG_HEADER_MAX - 1);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_RANGE, range);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &b);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->error);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)timeout_s);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)(timeout_s < 10 ? timeout_s : 10));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
    cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->http_status);
    curl_easy_cleanup(c);
    if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && b.len == sizeof b.data)) {
        if (!r->error[0])
            snprintf(r->error, sizeof r->error, "%s", curl_easy_strerror(cc));
        return CHECK_URL_UNREACHABLE;
    }
    if (r->http_status >= 400 || (r->http_status != 200 && r->http_status != 206))
        return CHECK_URL_HTTP;
    /* 206: the total is after the slash of Content-Range; 200: the whole
     * file came, its Content-Length is the size. */
    if (r->http_status == 206)
        r->total = (b.total >> 63) ? 0 : b.total;
    else
        r->total = b.total & ~(1ull << 63);
    rc = dfota_pkg_parse(&r->h, b.data, b.len);
    if (rc) {
        r->parse_err = rc;
        return CHECK_URL_NOT_PACKAGE;
    }
    if (r->total && (rc = dfota_pkg_check_size(&r->h, r->total))) {
        r->parse_err = rc;
        return CHECK_URL_TRUNCATED;
    }
    return CHECK_URL_OK;
}
