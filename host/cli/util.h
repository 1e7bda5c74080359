/* Host helpers of the dfota CLI: exit codes, messages, numbers, bounded
 * input, safe output, keys, images, progress. */
#ifndef DFOTA_CLI_UTIL_H
#define DFOTA_CLI_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "dfota/package.h"

/* Exit codes, one per class of error (docs/cli.md). */
enum {
    EXIT_OK_ = 0,
    EXIT_INTERNAL = 1,
    EXIT_USAGE = 2,
    EXIT_IO = 3,
    EXIT_INVALID = 4,
    EXIT_SOURCE = 5,
    EXIT_SIGNATURE = 6,
    EXIT_POLICY = 7,
};

/* Not a dfota_err: the CLI's own out-of-memory code for cli_exit_for. */
#define CLI_ERR_NOMEM (-1000)

/* Map a dfota_err (or CLI_ERR_NOMEM) to its exit code: the one table. */
int cli_exit_for(int err);

/* The subcommand running, for messages ("diff"); NULL outside one. */
extern const char *cli_cmd;
/* -q / -v of the running subcommand. */
extern int cli_quiet, cli_verbose;

/* Print "dfota: MSG" on stderr (printf-style). */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "dfota: MSG (see 'dfota CMD --help')" and EXIT_USAGE. */
int cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Out of memory: its message, and the exit code. */
int cli_oom(const char *what);

/* Numbers: C base-0 integers (0x.., 0..), with an optional size suffix when
 * sizes is set: k K KiB (1024), M MiB, G GiB; kB MB (1000). */
int cli_parse_u32(const char *s, uint32_t *v, int sizes);
int cli_parse_u64(const char *s, uint64_t *v, int sizes);
/* --input-format and --base of the image readers; 0 or EXIT_USAGE (printed). */
int cli_parse_format(const char *arg, const char **format);
int cli_parse_base(const char *arg, uint64_t *base);
/* A header string: printable ASCII, at most 31 bytes. Prints the error. */
int cli_check_id(const char *opt, const char *s);

void cli_hex(char *out, const uint8_t *in, size_t n);
/* An in-place write order as --direction takes it: "0-3,9-7,4-6" (a-b
 * highest first when a > b; a lone sector as "5"). out holds
 * CLI_RUNS_STR_MAX bytes. */
#define CLI_RUNS_STR_MAX (DFOTA_MAX_RUNS * 18u + 1u)
void cli_runs_str(char *out, const struct dfota_pkg_run *r, uint32_t n);
/* JSON string body with escapes; out holds 6 * strlen(s) + 1. */
const char *cli_json_str(char *out, const char *s);
/* Print ,"key":"escaped s" on stdout (no comma when comma is 0). */
void cli_json_put(const char *key, const char *s, int comma);

/* ---- input ---- */
/* Read all of path ("-": stdin), refusing more than max bytes: regular files
 * after a stat, others just past the bound. what names the kind in errors
 * ("image", "key"). Returns 0 or an exit code (message printed). */
int cli_read_input(const char *path, const char *what, uint64_t max, uint8_t **buf, size_t *len);
/* Exit code of an input over its bound (EXIT_USAGE; EXIT_POLICY when the
 * bound is the device's slot). what reads "an image", "a key file". */
extern int cli_over_exit;

/* Read a package from path ("-": stdin): the header first, then exactly the
 * payload it announces; parse it. Returns 0 or an exit code (message
 * printed, naming the field and the numbers). */
int cli_read_package(const char *path, uint8_t **pkg, size_t *len, struct dfota_pkg_header *h);

/* An image for diff/apply: raw binary, Intel HEX or ELF (format "auto",
 * "bin", "hex", "elf"); base: HEX/ELF load address of the image's first
 * byte (UINT64_MAX: the lowest address in the file). Returns 0 or an exit
 * code. */
int cli_read_image(const char *path, const char *format, uint64_t base, uint64_t max,
                   uint8_t **buf, size_t *len);

/* ---- output ---- */
/* Before the work: may path be written? Refuses one of the inputs (same
 * inode, even with force), an existing regular file without force, a
 * symbolic link, a directory. Returns 0 or an exit code. */
int cli_check_output(const char *path, int force, const char *const *inputs, size_t n);
/* Write the whole buffer: "-" and /dev/stdout, /dev/fd/N: into that
 * descriptor; a device or FIFO: into it; else atomically (a temporary
 * beside it, then a rename with force or a link that refuses to replace).
 * New files get mode & ~umask. Returns 0 or an exit code. */
int cli_write_output(const char *path, const void *buf, size_t len, int mode, int force);
/* MB of a regular file (1 for others: a guess). */
double cli_size_mb(const char *path);
/* "-" or /dev/stdout (or /dev/fd/1). */
int cli_is_stdout(const char *path);

/* ---- keys ---- */
struct cli_pass {
    const char *file;  /* --pass-file */
    const char *env;   /* --pass-env */
};
/* A secret Ed25519 key: PEM or DER PKCS#8, encrypted or not (never raw
 * bytes: a raw public key taken as a seed would sign with nobody's key).
 * sk is libsodium's 64-byte form. */
int cli_read_secret_key(const char *path, const struct cli_pass *pass, uint8_t sk[64]);
/* A public key: PEM or DER SubjectPublicKeyInfo, or raw 32 bytes. */
int cli_read_public_key(const char *path, const struct cli_pass *pass, uint8_t pk[32]);
/* The public key of any key file: public, or a secret one's public half. */
int cli_read_any_key(const char *path, const struct cli_pass *pass, uint8_t pk[32]);
/* Key id of a public key: the first 8 bytes of its SHA-256, as 16 hex. */
void cli_key_id(const uint8_t pk[32], uint8_t kid[8]);
/* PEM texts of a key pair (malloc'd, caller frees). */
int cli_key_pem(const uint8_t pk[32], const uint8_t sk[64], char **sec, size_t *slen, char **pub,
                size_t *plen);
/* Write two files as one: both or neither. */
int cli_write_pair(const char *p1, const void *b1, size_t n1, int m1, const char *p2,
                   const void *b2, size_t n2, int m2, int force);

/* ---- progress: one bar over a whole job ----
 * The job is planned as steps with a predicted cost (seconds per MB
 * measured on this kind of step, times MB). As it runs, the bar shows
 * elapsed / (elapsed + remaining), remaining from the running step's own
 * rate and the future steps' predictions, calibrated by how the finished
 * steps of the same kind (or all of them) compared with theirs. It never
 * goes back and fits 40 columns. */
#define CLI_BAR_STEPS 16
struct cli_bar {
    int tty;
    int n, cur;                      /* planned steps; the running one (-1: none) */
    int kind[CLI_BAR_STEPS];
    double pred[CLI_BAR_STEPS], took[CLI_BAR_STEPS];
    double t0, step_t0, frac, shown;
    char label[24], last_label[24], step_label[24];
    int drawn, last_pct;
};
void cli_bar_start(struct cli_bar *b);
/* Plan a step of this kind (any small int) and predicted cost. */
void cli_bar_plan(struct cli_bar *b, int kind, double pred);
/* The next planned step starts, named label (at most 11 columns). */
void cli_bar_next(struct cli_bar *b, const char *label);
/* Rename the running step (same step, e.g. "encode 3/9"). */
void cli_bar_label(struct cli_bar *b, const char *label);
/* Part done of the running step, 0..1. */
void cli_bar_frac(struct cli_bar *b, double frac);
/* The job is done: 100%, then the line is cleared. */
void cli_bar_finish(struct cli_bar *b);
/* The job stopped (error or done): clear the line. */
void cli_bar_end(struct cli_bar *b);
double cli_now(void);

#endif
