/* The module's serial port: a pty (default), one TCP client on 127.0.0.1,
 * or stdin/stdout. Output goes through a 64 KiB buffer and non-blocking
 * writes, so a host that does not read never stalls the module; what does
 * not fit is dropped, as by a UART nobody listens to. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>
#include "modem.h"

static int nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int open_pty(struct serial *s)
{
    struct termios t;
    const char *name;

    s->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s->master < 0 || grantpt(s->master) || unlockpt(s->master) || !(name = ptsname(s->master))) {
        fprintf(stderr, "dfota-modem: cannot make a pty: %s\n", strerror(errno));
        return -1;
    }
    snprintf(s->name, sizeof s->name, "%s", name);
    /* Keep the slave open ourselves: its settings (raw, 115200) stay while
     * hosts come and go, and the master never sees a hang-up to spin on. */
    s->slave_hold = open(s->name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s->slave_hold < 0 || tcgetattr(s->slave_hold, &t)) {
        fprintf(stderr, "dfota-modem: cannot open '%s': %s\n", s->name, strerror(errno));
        return -1;
    }
    cfmakeraw(&t);
    cfsetispeed(&t, B115200);
    cfsetospeed(&t, B115200);
    t.c_cflag |= CLOCAL | CREAD;
    if (tcsetattr(s->slave_hold, TCSANOW, &t) || nonblock(s->master)) {
        fprintf(stderr, "dfota-modem: cannot set up '%s': %s\n", s->name, strerror(errno));
        return -1;
    }
    s->in_fd = s->out_fd = s->master;
    if (s->link) {
        struct stat st;
        if (lstat(s->link, &st) == 0 && !S_ISLNK(st.st_mode)) {
            fprintf(stderr, "dfota-modem: '%s' exists and is not a symlink\n", s->link);
            return -1;
        }
        unlink(s->link);
        if (symlink(s->name, s->link)) {
            fprintf(stderr, "dfota-modem: cannot link '%s': %s\n", s->link, strerror(errno));
            return -1;
        }
    }
    return 0;
}

static int open_tcp(struct serial *s, uint16_t port)
{
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int one = 1;

    s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s->listen_fd < 0)
        goto fail;
    setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s->listen_fd, (struct sockaddr *)&a, sizeof a) || listen(s->listen_fd, 1) ||
        getsockname(s->listen_fd, (struct sockaddr *)&a, &al))
        goto fail;
    snprintf(s->name, sizeof s->name, "127.0.0.1:%u", ntohs(a.sin_port));
    return 0;
fail:
    fprintf(stderr, "dfota-modem: cannot listen on 127.0.0.1:%u: %s\n", port, strerror(errno));
    return -1;
}

int serial_open(struct serial *s, int kind, uint16_t tcp_port, const char *link)
{
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->in_fd = s->out_fd = s->master = s->slave_hold = s->listen_fd = s->notify_fd = -1;
    s->link = link;
    switch (kind) {
    case SERIAL_PTY:
        return open_pty(s);
    case SERIAL_TCP:
        return open_tcp(s, tcp_port);
    default:
        s->in_fd = 0;
        s->out_fd = 1;
        snprintf(s->name, sizeof s->name, "stdio");
        /* restored at exit: the descriptions may be shared with a shell */
        s->stdio_fl[0] = fcntl(0, F_GETFL);
        s->stdio_fl[1] = fcntl(1, F_GETFL);
        if (nonblock(0) || nonblock(1)) {
            fprintf(stderr, "dfota-modem: cannot make stdin/stdout non-blocking\n");
            return -1;
        }
        return 0;
    }
}

void serial_close(struct serial *s)
{
    if (s->kind == SERIAL_PTY && s->link) {
        char target[sizeof s->name];
        ssize_t n = readlink(s->link, target, sizeof target - 1);
        /* remove the link only while it still names our pty */
        if (n > 0 && (target[n] = 0, strcmp(target, s->name) == 0))
            unlink(s->link);
    }
    if (s->kind == SERIAL_TCP && s->in_fd >= 0)
        close(s->in_fd);
    if (s->kind == SERIAL_STDIO) {
        if (s->stdio_fl[0] >= 0)
            fcntl(0, F_SETFL, s->stdio_fl[0]);
        if (s->stdio_fl[1] >= 0)
            fcntl(1, F_SETFL, s->stdio_fl[1]);
        s->in_fd = s->out_fd = -1;
    }
    if (s->master >= 0)
        close(s->master);
    if (s->slave_hold >= 0)
        close(s->slave_hold);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->notify_fd >= 0)
        close(s->notify_fd);
    s->in_fd = s->out_fd = s->master = s->slave_hold = s->listen_fd = s->notify_fd = -1;
}

void serial_flush(struct serial *s)
{
    while (s->out_len && s->out_fd >= 0) {
        ssize_t n = write(s->out_fd, s->out, s->out_len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK && s->kind == SERIAL_TCP) {
                close(s->in_fd);   /* the host went away */
                s->in_fd = s->out_fd = -1;
            }
            return;
        }
        memmove(s->out, s->out + n, s->out_len - (size_t)n);
        s->out_len -= (size_t)n;
    }
}

void serial_write(struct serial *s, const void *buf, size_t len)
{
    size_t room = SERIAL_OUT_CAP - s->out_len;
    if (len > room) {
        s->dropped += len - room;
        len = room;
    }
    memcpy(s->out + s->out_len, buf, len);
    s->out_len += len;
    serial_flush(s);
}

int serial_pollfds(struct serial *s, struct pollfd *p)
{
    int n = 0;
    if (s->kind == SERIAL_TCP && s->listen_fd >= 0)
        p[n++] = (struct pollfd){ s->listen_fd, POLLIN, 0 };
    if (s->in_fd >= 0 && !s->eof) {
        if (s->in_fd == s->out_fd)
            p[n++] = (struct pollfd){ s->in_fd, (short)(POLLIN | (s->out_len ? POLLOUT : 0)), 0 };
        else
            p[n++] = (struct pollfd){ s->in_fd, POLLIN, 0 };
    }
    if (s->out_fd >= 0 && s->out_fd != s->in_fd && s->out_len)
        p[n++] = (struct pollfd){ s->out_fd, POLLOUT, 0 };
    return n;
}

static void tcp_accept(struct serial *s)
{
    int c = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (c < 0)
        return;
    if (s->in_fd >= 0) {
        /* one host at a time, as on a UART */
        static const char busy[] = "dfota-modem: the port is in use\r\n";
        ssize_t w = write(c, busy, sizeof busy - 1);
        (void)w;
        close(c);
        return;
    }
    s->in_fd = s->out_fd = c;
    serial_flush(s);
}

size_t serial_service(struct serial *s, const struct pollfd *p, int n, uint8_t *buf, size_t cap)
{
    size_t got = 0;
    int i;
    for (i = 0; i < n; i++) {
        if (!p[i].revents)
            continue;
        if (p[i].fd == s->listen_fd) {
            tcp_accept(s);
            continue;
        }
        if (p[i].revents & POLLOUT)
            serial_flush(s);
        if (p[i].fd == s->in_fd && (p[i].revents & (POLLIN | POLLHUP | POLLERR)) && !got) {
            ssize_t r = read(s->in_fd, buf, cap);
            if (r > 0) {
                got = (size_t)r;
            } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                if (s->kind == SERIAL_TCP) {
                    close(s->in_fd);
                    s->in_fd = s->out_fd = -1;
                } else if (s->kind == SERIAL_STDIO) {
                    s->eof = 1;
                }
            }
        }
    }
    return got;
}

int serial_watch(struct serial *s)
{
    /* pty: the slave node reports each open through inotify */
    if (s->kind != SERIAL_PTY)
        return 0;
    s->notify_fd = inotify_init1(IN_CLOEXEC);
    if (s->notify_fd < 0 || inotify_add_watch(s->notify_fd, s->name, IN_OPEN) < 0) {
        fprintf(stderr, "dfota-modem: cannot watch '%s': %s\n", s->name, strerror(errno));
        return -1;
    }
    return 0;
}

int serial_wait_host(struct serial *s, volatile int *stop)
{
    if (s->kind == SERIAL_STDIO)
        return 0;
    if (s->kind == SERIAL_TCP) {
        while (s->in_fd < 0 && !*stop) {
            struct pollfd p = { s->listen_fd, POLLIN, 0 };
            if (poll(&p, 1, -1) > 0)
                tcp_accept(s);
        }
        return *stop ? -1 : 0;
    }
    if (s->notify_fd < 0 && serial_watch(s))
        return -1;
    while (!*stop) {
        struct pollfd p = { s->notify_fd, POLLIN, 0 };
        char ev[256];
        if (poll(&p, 1, -1) > 0 && read(s->notify_fd, ev, sizeof ev) > 0)
            break;
    }
    close(s->notify_fd);
    s->notify_fd = -1;
    return *stop ? -1 : 0;
}

void serial_drain(struct serial *s, int timeout_ms)
{
    /* A pty moves written bytes to the reader's queue asynchronously, so
     * an empty queue counts only when it stays empty for 30 ms. */
    int waited = 0, empty = 0;
    for (;;) {
        int queued = 0;
        serial_flush(s);
        if (s->kind == SERIAL_PTY && s->slave_hold >= 0 && ioctl(s->slave_hold, FIONREAD, &queued))
            queued = 0;
        if ((!s->out_len || s->out_fd < 0) && !queued) {
            if (s->kind != SERIAL_PTY || ++empty >= 3)
                return;
        } else {
            empty = 0;
        }
        if (waited >= timeout_ms)
            return;
        poll(NULL, 0, 10);
        waited += 10;
    }
}
