/* dfota CLI: bounded input, packages, safe output. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "dfota/error.h"
#include "util.h"

static const char *shown(const char *path)
{
    return strcmp(path, "-") ? path : "(stdin)";
}

static int open_in(const char *path, struct stat *st)
{
    int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_NOCTTY) : 0;
    if (fd < 0) {
        cli_err("cannot open '%s': %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, st)) {
        cli_err("cannot read '%s': %s", shown(path), strerror(errno));
        if (fd)
            close(fd);
        return -1;
    }
    if (S_ISDIR(st->st_mode)) {
        cli_err("cannot read '%s': it is a directory", path);
        if (fd)
            close(fd);
        return -1;
    }
    return fd;
}

/* Read up to cap bytes; returns the count, or -1 on an error (printed). */
static ssize_t read_upto(int fd, const char *path, uint8_t *b, size_t cap)
{
    size_t n = 0;
    while (n < cap) {
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            cli_err("cannot read '%s': %s", shown(path), strerror(errno));
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    return (ssize_t)n;
}

/* Read the rest of fd into a growing buffer holding at most max bytes;
 * *over set when there was more. */
static int read_rest(int fd, const char *path, uint64_t max, size_t hint, uint8_t **buf,
                     size_t *len, int *over)
{
    uint8_t *b = NULL;
    size_t n = 0, cap = 0;

    *over = 0;
    for (;;) {
        ssize_t r;
        if (n == cap) {
            size_t nc;
            uint8_t *nb;
            if ((uint64_t)n > max) {
                *over = 1;
                break;
            }
            nc = cap ? cap * 2 : (hint ? hint + 1 : 65536);
            if ((uint64_t)nc > max + 1)
                nc = (size_t)max + 1;
            if (nc <= cap)
                nc = cap + 1;
            nb = realloc(b, nc);
            if (!nb) {
                free(b);
                return cli_oom("reading the input");
            }
            b = nb;
            cap = nc;
        }
        r = read_upto(fd, path, b + n, cap - n);
        if (r < 0) {
            free(b);
            return EXIT_IO;
        }
        n += (size_t)r;
        if (n < cap)
            break;
    }
    if (n > max)
        *over = 1;
    *buf = b ? b : malloc(1);
    if (!*buf)
        return cli_oom("reading the input");
    *len = n;
    return 0;
}

int cli_over_exit = EXIT_USAGE;

int cli_read_input(const char *path, const char *what, uint64_t max, uint8_t **buf, size_t *len)
{
    struct stat st;
    int fd = open_in(path, &st), over, rc;

    if (fd < 0)
        return EXIT_IO;
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max) {
        cli_err("'%s' is %lld bytes; %s may be at most %llu bytes", shown(path),
                (long long)st.st_size, what, (unsigned long long)max);
        if (fd)
            close(fd);
        return cli_over_exit;
    }
    rc = read_rest(fd, path, max, S_ISREG(st.st_mode) ? (size_t)st.st_size : 0, buf, len, &over);
    if (fd)
        close(fd);
    if (rc)
        return rc;
    if (over) {
        cli_err("'%s' holds more than %llu bytes, the most %s may have", shown(path),
                (unsigned long long)max, what);
        free(*buf);
        return cli_over_exit;
    }
    return 0;
}

static uint32_t le16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The header's fault in words, naming the field and its value. h is what
 * dfota_pkg_parse filled in before it stopped. */
static void header_error(const char *path, int rc, const uint8_t *raw, size_t n,
                         const struct dfota_pkg_header *h)
{
    int v2 = n > DFOTA_V2_OFF_FORMAT_VERSION && raw[DFOTA_V2_OFF_FORMAT_VERSION] == DFOTA_PKG_FORMAT_V2;

    switch (rc) {
    case DFOTA_ERR_MAGIC:
        if (n < DFOTA_PKG_MAGIC_LEN)
            cli_err("'%s': not a dfota package (%zu bytes, shorter than the 8-byte magic)", path, n);
        else
            cli_err("'%s': not a dfota package (bad magic: it does not start with \"DFOTAPKG\")",
                    path);
        break;
    case DFOTA_ERR_SIZE:
        if (v2 || n < DFOTA_V1_OFF_FLAGS)
            cli_err("'%s': package is %zu bytes and ends inside its header (truncated?)", path, n);
        else
            cli_err("'%s': package is %zu bytes, shorter than its %u-byte header (truncated?)",
                    path, n, DFOTA_PKG_V1_HEADER_SIZE);
        break;
    case DFOTA_ERR_VERSION:
        cli_err("'%s': package format version %u, this dfota reads %u and %u", path,
                le16(raw + DFOTA_V1_OFF_FORMAT_VERSION), DFOTA_PKG_FORMAT_V1, DFOTA_PKG_FORMAT_V2);
        break;
    case DFOTA_ERR_ALGORITHM:
        cli_err("'%s': unknown delta algorithm %u or coder %u (%s)", path, h->algorithm, h->coder,
                dfota_strerror(rc));
        break;
    case DFOTA_ERR_HEADER:
        if (v2 && (h->flags & ~DFOTA_PKG_F_KNOWN))
            cli_err("'%s': inconsistent package header: unknown flags 0x%08x", path, h->flags);
        else if (v2)
            cli_err("'%s': %s (format 2, flags 0x%x: a string of more than 31 bytes or not "
                    "printable ASCII, a number not in minimal LEB128 or above 2^32-1, a sector "
                    "size or lag out of range, or a payload shorter than its block table)",
                    path, dfota_strerror(rc), h->flags);
        else if (le16(raw + DFOTA_V1_OFF_HEADER_SIZE) != DFOTA_PKG_V1_HEADER_SIZE)
            cli_err("'%s': inconsistent package header: header size %u, expected %u", path,
                    le16(raw + DFOTA_V1_OFF_HEADER_SIZE), DFOTA_PKG_V1_HEADER_SIZE);
        else if (le32(raw + DFOTA_V1_OFF_FLAGS) & ~DFOTA_PKG_F_KNOWN)
            cli_err("'%s': inconsistent package header: unknown flags 0x%08x", path,
                    le32(raw + DFOTA_V1_OFF_FLAGS));
        else
            cli_err("'%s': %s (flags 0x%x, sector size %u, lag %u, reserved %u, or a string "
                    "field)", path, dfota_strerror(rc), le32(raw + DFOTA_V1_OFF_FLAGS),
                    le32(raw + DFOTA_V1_OFF_SECTOR_SIZE), raw[DFOTA_V1_OFF_LAG],
                    raw[DFOTA_V1_OFF_RESERVED]);
        break;
    default:
        cli_err("'%s': %s", path, dfota_strerror(rc));
    }
}

int cli_read_package(const char *path, uint8_t **pkg, size_t *len, struct dfota_pkg_header *h)
{
    struct stat st;
    uint8_t raw[DFOTA_PKG_HEADER_MAX], *b, *rest = NULL;
    size_t rlen = 0, have, need;
    uint64_t want;
    ssize_t n;
    int fd = open_in(path, &st), rc, over;

    if (fd < 0)
        return EXIT_IO;
    /* The longest header's worth: a v2 header is shorter (and a whole small
     * v2 package may be shorter still), the rest of raw is payload. */
    n = read_upto(fd, path, raw, sizeof raw);
    if (n < 0) {
        if (fd)
            close(fd);
        return EXIT_IO;
    }
    rc = dfota_pkg_parse(h, raw, (size_t)n);
    if (rc) {
        header_error(shown(path), rc, raw, (size_t)n, h);
        if (fd)
            close(fd);
        return cli_exit_for(rc);
    }
    want = (uint64_t)h->header_size + h->payload_size;
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size != want && fd) {
        cli_err("'%s': package is %llu bytes, its header says %llu (%s?)", path,
                (unsigned long long)st.st_size, (unsigned long long)want,
                (uint64_t)st.st_size < want ? "truncated" : "padded");
        close(fd);
        return EXIT_INVALID;
    }
    have = (size_t)n;                   /* header and the payload's first bytes */
    if ((uint64_t)have > want) {
        cli_err("'%s': package is more than %llu bytes, its header says %llu (padded?)",
                shown(path), (unsigned long long)want, (unsigned long long)want);
        if (fd)
            close(fd);
        return EXIT_INVALID;
    }
    need = (size_t)(want - have);
    rc = 0;
    if (have == sizeof raw)             /* the input may go on */
        rc = read_rest(fd, path, need, S_ISREG(st.st_mode) ? need : 0, &rest, &rlen, &over);
    else
        over = 0;
    if (fd)
        close(fd);
    if (rc)
        return rc;
    if (over || rlen != need) {
        if (over)
            cli_err("'%s': package is more than %llu bytes, its header says %llu (padded?)",
                    shown(path), (unsigned long long)want, (unsigned long long)want);
        else
            cli_err("'%s': package is %llu bytes, its header says %llu (truncated?)", shown(path),
                    (unsigned long long)(have + rlen), (unsigned long long)want);
        free(rest);
        return EXIT_INVALID;
    }
    b = malloc((size_t)want ? (size_t)want : 1);
    if (!b) {
        free(rest);
        return cli_oom("reading the package");
    }
    memcpy(b, raw, have);
    if (rlen)
        memcpy(b + have, rest, rlen);
    free(rest);
    *pkg = b;
    *len = (size_t)want;
    return 0;
}

/* ---- output ---- */

/* "-", /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N: that descriptor. */
static int fd_path(const char *path)
{
    const char *n = NULL;
    char *end;
    long v;
    if (!strcmp(path, "-") || !strcmp(path, "/dev/stdout"))
        return 1;
    if (!strcmp(path, "/dev/stderr"))
        return 2;
    if (!strncmp(path, "/dev/fd/", 8))
        n = path + 8;
    else if (!strncmp(path, "/proc/self/fd/", 14))
        n = path + 14;
    if (!n || !*n)
        return -1;
    v = strtol(n, &end, 10);
    if (*end || v < 0 || v > 1 << 20)
        return -1;
    return (int)v;
}

double cli_size_mb(const char *path)
{
    struct stat st;
    if (strcmp(path, "-") && stat(path, &st) == 0 && S_ISREG(st.st_mode))
        return (double)st.st_size / 1e6;
    return 1.0;
}

int cli_is_stdout(const char *path)
{
    return fd_path(path) == 1;
}

static int write_all(int fd, const char *path, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            cli_err("cannot write '%s': %s", path, strerror(errno));
            return EXIT_IO;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int cli_check_output(const char *path, int force, const char *const *inputs, size_t n)
{
    struct stat st, ls, in;
    size_t i;

    if (fd_path(path) >= 0) {
        if (fstat(fd_path(path), &st)) {
            cli_err("cannot write '%s': %s", path, strerror(errno));
            return EXIT_IO;
        }
    } else if (stat(path, &st)) {
        if (errno == ENOENT && lstat(path, &ls) == 0) {
            cli_usage("'%s' is a symbolic link to nothing; dfota does not replace links", path);
            return EXIT_USAGE;
        }
        return 0;            /* a new file; a bad directory shows at the write */
    }
    for (i = 0; i < n; i++) {
        if (inputs[i] && strcmp(inputs[i], "-") && stat(inputs[i], &in) == 0 &&
            in.st_dev == st.st_dev && in.st_ino == st.st_ino && S_ISREG(st.st_mode)) {
            cli_usage("refusing to write '%s': it is the input '%s'", path, inputs[i]);
            return EXIT_USAGE;
        }
    }
    if (fd_path(path) >= 0)
        return 0;
    if (S_ISDIR(st.st_mode)) {
        cli_err("cannot write '%s': it is a directory", path);
        return EXIT_IO;
    }
    if (!S_ISREG(st.st_mode))
        return 0;            /* a device, FIFO or socket: written into */
    if (lstat(path, &ls) == 0 && S_ISLNK(ls.st_mode)) {
        cli_usage("'%s' is a symbolic link; dfota does not replace links (write to its target)",
                  path);
        return EXIT_USAGE;
    }
    if (!force) {
        cli_usage("'%s' exists; use -f/--force to replace it", path);
        return EXIT_USAGE;
    }
    return 0;
}

static mode_t umasked(int mode)
{
    mode_t m = umask(0);
    umask(m);
    return (mode_t)mode & ~m;
}

/* Write a temporary beside path; *tmp is malloc'd. */
static int write_temp(const char *path, const void *buf, size_t len, int mode, char **tmp)
{
    size_t plen = strlen(path);
    char *t = malloc(plen + 16);
    int fd, rc;

    if (!t)
        return cli_oom("writing the output");
    snprintf(t, plen + 16, "%s.tmpXXXXXX", path);
    fd = mkstemp(t);
    if (fd < 0) {
        cli_err("cannot create '%s': %s", path, strerror(errno));
        free(t);
        return EXIT_IO;
    }
    rc = write_all(fd, path, buf, len);
    if (!rc && (fchmod(fd, umasked(mode)) || fsync(fd))) {
        cli_err("cannot write '%s': %s", path, strerror(errno));
        rc = EXIT_IO;
    }
    if (close(fd) && !rc) {
        cli_err("cannot write '%s': %s", path, strerror(errno));
        rc = EXIT_IO;
    }
    if (rc) {
        unlink(t);
        free(t);
        return rc;
    }
    *tmp = t;
    return 0;
}

/* Move tmp to path: rename with force, else a link that fails on an
 * existing file (on file systems without links: check, then rename). */
static int place(const char *tmp, const char *path, int force)
{
    struct stat ls;
    if (lstat(path, &ls) == 0 && S_ISLNK(ls.st_mode)) {
        cli_err("'%s' is a symbolic link; dfota does not replace links", path);
        return EXIT_USAGE;
    }
    if (!force) {
        if (link(tmp, path) == 0) {
            unlink(tmp);
            return 0;
        }
        if (errno == EEXIST) {
            cli_err("'%s' exists; use -f/--force to replace it", path);
            return EXIT_USAGE;
        }
        if (errno != EPERM && errno != ENOTSUP && errno != EOPNOTSUPP && errno != EMLINK) {
            cli_err("cannot write '%s': %s", path, strerror(errno));
            return EXIT_IO;
        }
        if (lstat(path, &ls) == 0) {
            cli_err("'%s' exists; use -f/--force to replace it", path);
            return EXIT_USAGE;
        }
    }
    if (rename(tmp, path)) {
        cli_err("cannot write '%s': %s", path, strerror(errno));
        return EXIT_IO;
    }
    return 0;
}

/* A device, FIFO or descriptor: write into it. -1: not one of those. */
static int write_into(const char *path, const void *buf, size_t len)
{
    struct stat st;
    int fd = fd_path(path), rc;

    if (fd >= 0)
        return write_all(fd, path, buf, len);
    if (stat(path, &st) || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))
        return -1;
    fd = open(path, O_WRONLY | O_NOCTTY);
    if (fd < 0) {
        cli_err("cannot open '%s': %s", path, strerror(errno));
        return EXIT_IO;
    }
    rc = write_all(fd, path, buf, len);
    if (close(fd) && !rc) {
        cli_err("cannot write '%s': %s", path, strerror(errno));
        rc = EXIT_IO;
    }
    return rc;
}

int cli_write_output(const char *path, const void *buf, size_t len, int mode, int force)
{
    char *tmp;
    int rc = write_into(path, buf, len);

    if (rc >= 0)
        return rc;
    if ((rc = write_temp(path, buf, len, mode, &tmp)))
        return rc;
    rc = place(tmp, path, force);
    if (rc)
        unlink(tmp);
    free(tmp);
    return rc;
}

int cli_write_pair(const char *p1, const void *b1, size_t n1, int m1, const char *p2,
                   const void *b2, size_t n2, int m2, int force)
{
    char *t1 = NULL, *t2 = NULL;
    int rc;

    if ((rc = write_temp(p1, b1, n1, m1, &t1)))
        return rc;
    if ((rc = write_temp(p2, b2, n2, m2, &t2))) {
        unlink(t1);
        free(t1);
        return rc;
    }
    rc = place(t1, p1, force);
    if (!rc) {
        rc = place(t2, p2, force);
        if (rc)
            unlink(p1);      /* leave neither: the first is ours, just placed */
    }
    if (rc) {
        unlink(t1);
        unlink(t2);
    }
    free(t1);
    free(t2);
    return rc;
}
