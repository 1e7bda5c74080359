/* check_url.c: see check_url.h. */
#include "check_url.h"

#include <curl/curl.h>
#include <dlfcn.h>
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

/* libcurl, loaded on the first --check-url: linked, it and what it pulls in
 * (TLS, Kerberos, LDAP, ...) cost every dfota command about 5 MB of memory
 * at start. Only the headers are used at build time. */
static struct {
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    CURLcode (*setopt)(CURL *, CURLoption, ...);
    CURLcode (*perform)(CURL *);
    CURLcode (*getinfo)(CURL *, CURLINFO, ...);
    void (*cleanup)(CURL *);
    const char *(*strerror)(CURLcode);
} cu;

static int sym(void *lib, const char *name, void *fp, size_t size)
{
    void *p = dlsym(lib, name);
    if (!p)
        return -1;
    memcpy(fp, &p, size);   /* POSIX: a data pointer from dlsym holds a function */
    return 0;
}

static int load_curl(char *err, size_t errsize)
{
    static const char *const names[] = { "libcurl.so.4", "libcurl-gnutls.so.4", "libcurl.so" };
    void *lib = NULL;
    size_t i;

    if (cu.easy_init)
        return 0;
    for (i = 0; !lib && i < sizeof names / sizeof names[0]; i++)
        lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(err, errsize, "cannot load libcurl (libcurl.so.4): %s", dlerror());
        return -1;
    }
    if (sym(lib, "curl_global_init", &cu.global_init, sizeof cu.global_init) ||
        sym(lib, "curl_easy_setopt", &cu.setopt, sizeof cu.setopt) ||
        sym(lib, "curl_easy_perform", &cu.perform, sizeof cu.perform) ||
        sym(lib, "curl_easy_getinfo", &cu.getinfo, sizeof cu.getinfo) ||
        sym(lib, "curl_easy_cleanup", &cu.cleanup, sizeof cu.cleanup) ||
        sym(lib, "curl_easy_strerror", &cu.strerror, sizeof cu.strerror) ||
        sym(lib, "curl_easy_init", &cu.easy_init, sizeof cu.easy_init)) {
        snprintf(err, errsize, "libcurl lacks a function: %s", dlerror());
        cu.easy_init = NULL;
        dlclose(lib);
        return -1;
    }
    return 0;
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
    if (load_curl(r->error, sizeof r->error))
        return CHECK_URL_UNREACHABLE;
    cu.global_init(CURL_GLOBAL_DEFAULT);
    c = cu.easy_init();
    if (!c) {
        snprintf(r->error, sizeof r->error, "libcurl failed to start");
        return CHECK_URL_UNREACHABLE;
    }
    snprintf(range, sizeof range, "0-%u", DFOTA_PKG_HEADER_MAX - 1);
    cu.setopt(c, CURLOPT_URL, url);
    cu.setopt(c, CURLOPT_RANGE, range);
    cu.setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    cu.setopt(c, CURLOPT_WRITEDATA, &b);
    cu.setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    cu.setopt(c, CURLOPT_HEADERDATA, &b);
    cu.setopt(c, CURLOPT_ERRORBUFFER, r->error);
    cu.setopt(c, CURLOPT_TIMEOUT, (long)timeout_s);
    cu.setopt(c, CURLOPT_CONNECTTIMEOUT, (long)(timeout_s < 10 ? timeout_s : 10));
    cu.setopt(c, CURLOPT_NOSIGNAL, 1L);
    cu.setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (ca_file)
        cu.setopt(c, CURLOPT_CAINFO, ca_file);
    cc = cu.perform(c);
    cu.getinfo(c, CURLINFO_RESPONSE_CODE, &r->http_status);
    cu.cleanup(c);
    if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && b.len == sizeof b.data)) {
        if (!r->error[0])
            snprintf(r->error, sizeof r->error, "%s", cu.strerror(cc));
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
