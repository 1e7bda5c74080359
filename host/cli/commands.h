/* The dfota subcommands: one function and one help text each. main.c's
 * table dispatches them. */
#ifndef DFOTA_CLI_COMMANDS_H
#define DFOTA_CLI_COMMANDS_H

int cmd_keygen(int argc, char **argv);
int cmd_keyid(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_digest(int argc, char **argv);
int cmd_sign(int argc, char **argv);

extern const char HELP_KEYGEN[], HELP_KEYID[], HELP_DIFF[], HELP_INSPECT[], HELP_VERIFY[],
    HELP_APPLY[], HELP_DIGEST[], HELP_SIGN[];

/* getopt_long with the CLI's conventions: opterr off, "-h/--help" prints
 * help and returns 'h'; an unknown option or a missing value prints
 * "dfota: CMD: ... (see 'dfota CMD --help')" and returns '?'. */
struct option;
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *lo);

/* Image limits: 2 GiB, the most a package's sizes and the encoder take. */
#define CLI_IMAGE_MAX 0x7FFFFFFFull

#endif
