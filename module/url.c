/* dfota module core: the URL rules of AT+QFOTADL (docs/modem.md, "URLs").
 *
 *   http[s]://host[:port][/path...]      scheme in any case
 *   host: a name or IPv4 address (letters, digits, '-', '.', '_', '~'),
 *         or an IPv6 literal in brackets (hex digits, ':', '.')
 *   port: 1 to 5 digits, 1-65535; default 80 for http, 443 for https
 *   path: from the first '/', '?' or '#'; any printable ASCII
 * Refused: more than DFOTA_MOD_URL_MAX bytes, an empty host, user-info
 * ("user:pass@host": credentials would be kept in flash and echoed), any
 * space, control or non-ASCII byte. */
#include "mod_priv.h"

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static int prefix_ci(const char *s, size_t len, const char *p)
{
    size_t i;
    for (i = 0; p[i]; i++)
        if (i >= len || lower((unsigned char)s[i]) != p[i])
            return 0;
    return 1;
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_hex(int c)
{
    return is_digit(c) || (lower(c) >= 'a' && lower(c) <= 'f');
}

static int is_name(int c)
{
    return is_digit(c) || (lower(c) >= 'a' && lower(c) <= 'z') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

int dfota_url_parse(const char *s, size_t len, struct dfota_url *u)
{
    size_t i, at, hend;

    if (!s || !u || len == 0 || len > DFOTA_MOD_URL_MAX)
        return DFOTA_ERR_ARG;
    for (i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7F)
            return DFOTA_ERR_ARG;   /* spaces, controls, non-ASCII, NUL */
    if (prefix_ci(s, len, "http://")) {
        u->https = 0;
        u->port = 80;
        at = 7;
    } else if (prefix_ci(s, len, "https://")) {
        u->https = 1;
        u->port = 443;
        at = 8;
    } else {
        return DFOTA_ERR_ARG;
    }
    /* the authority ends at the path, query or fragment */
    for (hend = at; hend < len && s[hend] != '/' && s[hend] != '?' && s[hend] != '#'; hend++)
        if (s[hend] == '@')
            return DFOTA_ERR_ARG;   /* user-info */
    i = at;
    if (i < hend && s[i] == '[') {
        size_t st = ++i;
        while (i < hend && (is_hex((unsigned char)s[i]) || s[i] == ':' || s[i] == '.'))
            i++;
        if (i >= hend || s[i] != ']' || i - st < 2)
            return DFOTA_ERR_ARG;   /* "::" is the shortest literal */
        u->host = s + st;
        u->host_len = i - st;
        i++;
    } else {
        size_t st = i;
        while (i < hend && is_name((unsigned char)s[i]))
            i++;
        if (i == st)
            return DFOTA_ERR_ARG;
        u->host = s + st;
        u->host_len = i - st;
    }
    if (i < hend) {
        uint32_t port = 0;
        size_t st;
        if (s[i] != ':')
            return DFOTA_ERR_ARG;   /* a byte a host cannot hold */
        st = ++i;
        while (i < hend && is_digit((unsigned char)s[i]) && i - st < 5)
            port = port * 10 + (uint32_t)(s[i++] - '0');
        if (i == st || i != hend || port < 1 || port > 65535)
            return DFOTA_ERR_ARG;
        u->port = (uint16_t)port;
    }
    if (hend < len) {
        u->path = s + hend;
        u->path_len = len - hend;
    } else {
        u->path = "/";
        u->path_len = 1;
    }
    return DFOTA_OK;
}
