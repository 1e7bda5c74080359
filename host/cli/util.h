/* Small host helpers of the dfota CLI: files, keys, progress, exit codes. */
#ifndef DFOTA_CLI_UTIL_H
#define DFOTA_CLI_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Exit codes, one per class of error (docs/cli.md). */
enum {
    EXIT_OK_ = 0,
    EXIT_INTERNAL = 1,
    EXIT_USAGE = 2,
    EXIT_IO = 3,
    EXIT_INVALID = 4,
    EXIT_SOURCE = 5,
    EXIT_SIGNATURE = 6,
};

/* Map a dfota_err to its exit code class. */
int cli_exit_for(int err);

/* Print "dfota: MSG" on stderr (printf-style). */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int cli_read_file(const char *path, uint8_t **buf, size_t *len);
/* Write atomically: a temporary file beside path, then rename. */
int cli_write_file(const char *path, const void *buf, size_t len, int mode);

int cli_read_secret_key(const char *path, uint8_t sk[64]);
int cli_read_public_key(const char *path, uint8_t pk[32]);
int cli_write_keys(const char *path, const uint8_t pk[32], const uint8_t sk[64]);

/* A progress bar on stderr when it is a terminal. */
struct cli_progress {
    const char *label;
    int tty;
    int last;
};
void cli_progress_start(struct cli_progress *p, const char *label);
void cli_progress_update(struct cli_progress *p, uint64_t done, uint64_t total);
void cli_progress_end(struct cli_progress *p);

void cli_hex(char *out, const uint8_t *in, size_t n);

#endif
