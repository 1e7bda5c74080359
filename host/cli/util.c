#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "dfota/error.h"
#include "util.h"

int cli_exit_for(int err)
{
    switch (err) {
    case DFOTA_OK:            return 0;
    case DFOTA_ERR_IO:        return EXIT_IO;
    case DFOTA_ERR_ARG:       return EXIT_USAGE;
    case DFOTA_ERR_SOURCE:    return EXIT_SOURCE;
    case DFOTA_ERR_SIGNATURE: return EXIT_SIGNATURE;
    case DFOTA_ERR_MAGIC:
    case DFOTA_ERR_VERSION:
    case DFOTA_ERR_HEADER:
    case DFOTA_ERR_SIZE:
    case DFOTA_ERR_PRODUCT:
    case DFOTA_ERR_PAYLOAD:
    case DFOTA_ERR_ALGORITHM:
    case DFOTA_ERR_CORRUPT:
    case DFOTA_ERR_TARGET:
    case DFOTA_ERR_LAYOUT:
    case DFOTA_ERR_NOSPACE:
    case DFOTA_ERR_DOWNGRADE: return EXIT_INVALID;
    default:                  return EXIT_INTERNAL;
    }
}

void cli_err(const char *fmt, ...)
{
    va_list ap;
    fputs("dfota: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_read_file(const char *path, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *b = NULL;
    size_t n = 0, cap = 0;

    if (!f) {
        cli_err("cannot open '%s': %s", path, strerror(errno));
        return -1;
    }
    for (;;) {
        size_t got;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 1 << 20;
            uint8_t *nb = realloc(b, nc);
            if (!nb) {
                cli_err("out of memory reading '%s'", path);
                free(b);
                fclose(f);
                return -1;
            }
            b = nb;
            cap = nc;
        }
        got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        cli_err("cannot read '%s': %s", path, strerror(errno));
        free(b);
        fclose(f);
        return -1;
    }
    fclose(f);
    *buf = b;
    *len = n;
    return 0;
}

int cli_write_file(const char *path, const void *buf, size_t len, int mode)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    int fd;
    const uint8_t *p = buf;

    if (!tmp)
        return -1;
    snprintf(tmp, plen + 16, "%s.tmpXXXXXX", path);
    fd = mkstemp(tmp);
    if (fd < 0) {
        cli_err("cannot create '%s': %s", path, strerror(errno));
        free(tmp);
        return -1;
    }
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            cli_err("cannot write '%s': %s", path, strerror(errno));
            close(fd);
            unlink(tmp);
            free(tmp);
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    if (fchmod(fd, (mode_t)mode) || fsync(fd) || close(fd) || rename(tmp, path)) {
        cli_err("cannot write '%s': %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

/* Ed25519 keys as PEM: PKCS#8 for the secret seed, SubjectPublicKeyInfo for
 * the public key, as OpenSSL writes them (`openssl pkey` reads both). */
static const uint8_t PKCS8_PREFIX[16] = { 0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
                                          0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20 };
static const uint8_t SPKI_PREFIX[12] = { 0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                         0x2b, 0x65, 0x70, 0x03, 0x21, 0x00 };

static int pem_decode(const uint8_t *text, size_t len, const char *label, uint8_t *der,
                      size_t cap, size_t *der_len)
{
    char begin[64], end[64];
    const char *b, *e;
    char *s = malloc(len + 1);
    int rc = -1;

    if (!s)
        return -1;
    memcpy(s, text, len);
    s[len] = 0;
    snprintf(begin, sizeof begin, "-----BEGIN %s-----", label);
    snprintf(end, sizeof end, "-----END %s-----", label);
    b = strstr(s, begin);
    e = b ? strstr(b, end) : NULL;
    if (b && e) {
        b += strlen(begin);
        rc = sodium_base642bin(der, cap, b, (size_t)(e - b), " \r\n\t", der_len, NULL,
                               sodium_base64_VARIANT_ORIGINAL);
    }
    free(s);
    return rc;
}

static int pem_write(FILE *f, const char *label, const uint8_t *der, size_t n)
{
    char b64[256];
    sodium_bin2base64(b64, sizeof b64, der, n, sodium_base64_VARIANT_ORIGINAL);
    return fprintf(f, "-----BEGIN %s-----\n%s\n-----END %s-----\n", label, b64, label) < 0;
}

int cli_read_secret_key(const char *path, uint8_t sk[64])
{
    uint8_t *buf, der[64], pk[32];
    size_t len, dl = 0;

    if (cli_read_file(path, &buf, &len))
        return -1;
    if (pem_decode(buf, len, "PRIVATE KEY", der, sizeof der, &dl) || dl != 48 ||
        memcmp(der, PKCS8_PREFIX, 16) != 0) {
        free(buf);
        cli_err("'%s' is not an Ed25519 private key (PEM PKCS#8, as `dfota keygen` writes)", path);
        return -1;
    }
    free(buf);
    if (sodium_init() < 0 || crypto_sign_ed25519_seed_keypair(pk, sk, der + 16)) {
        cli_err("cannot derive a key pair from '%s'", path);
        return -1;
    }
    sodium_memzero(der, sizeof der);
    return 0;
}

int cli_read_public_key(const char *path, uint8_t pk[32])
{
    uint8_t *buf, der[64];
    size_t len, dl = 0;

    if (cli_read_file(path, &buf, &len))
        return -1;
    if (len == 32) {
        /* a raw key, as a device embeds it */
        memcpy(pk, buf, 32);
        free(buf);
        return 0;
    }
    if (pem_decode(buf, len, "PUBLIC KEY", der, sizeof der, &dl) || dl != 44 ||
        memcmp(der, SPKI_PREFIX, 12) != 0) {
        free(buf);
        cli_err("'%s' is not an Ed25519 public key (PEM, or 32 raw bytes)", path);
        return -1;
    }
    free(buf);
    memcpy(pk, der + 12, 32);
    return 0;
}

int cli_write_keys(const char *path, const uint8_t pk[32], const uint8_t sk[64])
{
    uint8_t der[48];
    char *text = NULL, *pubpath;
    size_t tlen = 0;
    FILE *f;
    int rc;

    memcpy(der, PKCS8_PREFIX, 16);
    memcpy(der + 16, sk, 32);            /* the seed is the first half */
    f = open_memstream(&text, &tlen);
    if (!f)
        return -1;
    rc = pem_write(f, "PRIVATE KEY", der, 48);
    fclose(f);
    sodium_memzero(der, sizeof der);
    if (rc || cli_write_file(path, text, tlen, 0600)) {
        sodium_memzero(text, tlen);
        free(text);
        return -1;
    }
    sodium_memzero(text, tlen);
    free(text);

    memcpy(der, SPKI_PREFIX, 12);
    memcpy(der + 12, pk, 32);
    f = open_memstream(&text, &tlen);
    if (!f)
        return -1;
    rc = pem_write(f, "PUBLIC KEY", der, 44);
    fclose(f);
    pubpath = malloc(strlen(path) + 5);
    if (!pubpath) {
        free(text);
        return -1;
    }
    sprintf(pubpath, "%s.pub", path);
    rc = rc || cli_write_file(pubpath, text, tlen, 0644);
    free(pubpath);
    free(text);
    return rc ? -1 : 0;
}

void cli_progress_start(struct cli_progress *p, const char *label)
{
    p->label = label;
    p->tty = isatty(STDERR_FILENO);
    p->last = -1;
}

void cli_progress_update(struct cli_progress *p, uint64_t done, uint64_t total)
{
    int pct = total ? (int)(done * 100 / total) : 100, i;
    char bar[41];

    if (!p->tty || pct == p->last)
        return;
    p->last = pct;
    for (i = 0; i < 40; i++)
        bar[i] = i < pct * 40 / 100 ? '#' : '.';
    bar[40] = 0;
    fprintf(stderr, "\r%-8s [%s] %3d%%", p->label, bar, pct);
    fflush(stderr);
}

void cli_progress_end(struct cli_progress *p)
{
    if (p->tty && p->last >= 0)
        fprintf(stderr, "\r%*s\r", 60, "");
}

void cli_hex(char *out, const uint8_t *in, size_t n)
{
    static const char d[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = 0;
}
