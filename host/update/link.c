/* link.c: see link.h. */
#define _GNU_SOURCE
#include "link.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

unsigned link_speed(unsigned baud)
{
    switch (baud) {
    case 9600: return B9600;
    case 19200: return B19200;
    case 38400: return B38400;
    case 57600: return B57600;
    case 115200: return B115200;
    case 230400: return B230400;
    case 460800: return B460800;
    case 921600: return B921600;
    default: return 0;
    }
}

static int open_serial(struct link *l, const char **why)
{
    struct termios t;
    int fd = open(l->device, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);

    if (fd < 0) {
        *why = "cannot open";
        return -1;
    }
    if (tcgetattr(fd, &t)) {
        int e = errno;
        close(fd);
        errno = e;
        *why = "not a serial port";
        return -1;
    }
    /* Raw 8N1, no echo, no line editing, no flow control unless asked:
     * the module's bytes reach the parser as they are. */
    cfmakeraw(&t);
    t.c_cflag |= CLOCAL | CREAD;
    t.c_cflag &= (tcflag_t)~CSTOPB;
    if (l->rtscts)
        t.c_cflag |= CRTSCTS;
    else
        t.c_cflag &= (tcflag_t)~CRTSCTS;
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    cfsetispeed(&t, (speed_t)link_speed(l->baud));
    cfsetospeed(&t, (speed_t)link_speed(l->baud));
    if (tcsetattr(fd, TCSANOW, &t)) {
        int e = errno;
        close(fd);
        errno = e;
        *why = "cannot configure";
        return -1;
    }
    l->fd = fd;
    return 0;
}

static int open_tcp(struct link *l, const char **why)
{
    char host[256];
    const char *colon = strrchr(l->tcp, ':');
    struct addrinfo hints, *res, *ai;
    int fd = -1, rc, one = 1;
    size_t hn;

    if (!colon || colon == l->tcp || !colon[1] || (hn = (size_t)(colon - l->tcp)) >= sizeof host) {
        errno = EINVAL;
        *why = "not HOST:PORT";
        return -1;
    }
    memcpy(host, l->tcp, hn);
    host[hn] = 0;
    if (host[0] == '[' && hn > 2 && host[hn - 1] == ']') {   /* [::1]:7000 */
        memmove(host, host + 1, hn - 2);
        host[hn - 2] = 0;
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc) {
        errno = ENOENT;
        *why = "cannot resolve";
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (!connect(fd, ai->ai_addr, ai->ai_addrlen))
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        *why = "cannot connect to";
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    l->fd = fd;
    return 0;
}

int link_open(struct link *l, const char **why)
{
    link_close(l);
    return l->tcp ? open_tcp(l, why) : open_serial(l, why);
}

void link_close(struct link *l)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
}

int link_write(struct link *l, const void *buf, size_t n, int timeout_ms)
{
    const uint8_t *p = buf;
    if (l->fd < 0)
        return -1;
    while (n) {
        ssize_t k = write(l->fd, p, n);
        if (k > 0) {
            p += k;
            n -= (size_t)k;
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pf = { l->fd, POLLOUT, 0 };
            int r = poll(&pf, 1, timeout_ms);
            if (r > 0 && !(pf.revents & (POLLERR | POLLHUP | POLLNVAL)))
                continue;
            if (r < 0 && errno == EINTR)
                continue;
        }
        return -1;
    }
    return 0;
}

int link_read(struct link *l, uint8_t *buf, size_t n, int timeout_ms)
{
    struct pollfd pf;
    ssize_t k;
    int r;

    if (l->fd < 0)
        return -1;
    pf.fd = l->fd;
    pf.events = POLLIN;
    pf.revents = 0;
    r = poll(&pf, 1, timeout_ms < 0 ? 0 : timeout_ms);
    if (r < 0)
        return errno == EINTR ? 0 : -1;
    if (r == 0)
        return 0;
    k = read(l->fd, buf, n);
    if (k > 0)
        return (int)k;
    if (k < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    return -1;   /* EOF on TCP, EIO on a pty whose other side went away */
}
