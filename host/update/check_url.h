/* --check-url: fetch a package's header with an HTTP Range request and check
 * it the way `dfota inspect` does, before the module spends minutes on it. */
#ifndef DFOTA_UPDATE_CHECK_URL_H
#define DFOTA_UPDATE_CHECK_URL_H

#include <stdint.h>
#include "dfota/package.h"

enum {
    CHECK_URL_OK = 0,
    CHECK_URL_UNREACHABLE,  /* no connection, TLS failure, timeout */
    CHECK_URL_HTTP,         /* an HTTP error status (404, 403, ...) */
    CHECK_URL_NOT_PACKAGE,  /* the bytes are not a dfota package header */
    CHECK_URL_TRUNCATED,    /* the file is shorter (or longer) than the header says */
};

struct check_url_result {
    long http_status;
    uint64_t total;          /* the file's size from Content-Range or Content-Length, 0 unknown */
    int parse_err;           /* dfota_err of dfota_pkg_parse / check_size */
    char error[256];         /* libcurl's message */
    struct dfota_pkg_header h;
};

int check_url(const char *url, const char *ca_file, int timeout_s, struct check_url_result *r);

#endif
