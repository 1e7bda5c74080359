/* The byte link to a module: a serial port (or a pty) with termios set up,
 * or a TCP connection (dfota-modem --tcp). Host only. */
#ifndef DFOTA_UPDATE_LINK_H
#define DFOTA_UPDATE_LINK_H

#include <stddef.h>
#include <stdint.h>

struct link {
    int fd;
    const char *device;   /* serial port or pty path, or NULL */
    const char *tcp;      /* HOST:PORT, or NULL */
    unsigned baud;
    int rtscts;
};

/* Open (or reopen) the link. 0, or -1 with errno set; *why names the step. */
int link_open(struct link *l, const char **why);
void link_close(struct link *l);
/* Write all bytes (bounded by timeout_ms). 0 or -1 (link lost). */
int link_write(struct link *l, const void *buf, size_t n, int timeout_ms);
/* Wait up to timeout_ms for bytes. >0 bytes read, 0 nothing yet (or a signal
 * came: check your flags), -1 the link is gone (hang-up, EOF, EIO). */
int link_read(struct link *l, uint8_t *buf, size_t n, int timeout_ms);
/* termios speed constant for a baud rate, 0 if unsupported. */
unsigned link_speed(unsigned baud);

#endif
