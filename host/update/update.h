/* dfota update: drive a BC20-style module (or dfota-modem) through a DFOTA
 * update over a serial port, a pty or TCP. docs/cli.md#update. */
#ifndef DFOTA_UPDATE_H
#define DFOTA_UPDATE_H

/* Exit codes of `dfota update`. 2-5 are the CLI's shared classes. */
enum {
    UPDATE_OK = 0,
    UPDATE_EXIT_INTERNAL = 1,
    UPDATE_EXIT_USAGE = 2,
    UPDATE_EXIT_IO = 3,          /* the port cannot be opened or configured */
    UPDATE_EXIT_INVALID = 4,     /* --check-url: the URL does not serve a valid package */
    UPDATE_EXIT_SOURCE = 5,      /* --check-url: the package is for another revision */
    UPDATE_EXIT_NO_ANSWER = 10,  /* the module does not answer AT */
    UPDATE_EXIT_NO_NETWORK = 11, /* SIM, registration or address check failed */
    UPDATE_EXIT_DOWNLOAD = 12,   /* HTTPEND <http_err> != 0, or AT+QFOTADL refused */
    UPDATE_EXIT_UPDATE = 13,     /* END <err> != 0 */
    UPDATE_EXIT_TIMEOUT = 14,    /* --timeout passed */
    UPDATE_EXIT_UNCHANGED = 15,  /* the module came back on its old (or an unexpected) revision */
    UPDATE_EXIT_INTERRUPTED = 130,
};

int cmd_update(int argc, char **argv);

#endif
