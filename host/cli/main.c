/* dfota: the package tools. One binary, git-style subcommands; each lives
 * in its own file (cmd_*.c) and has its help text in help.c. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "commands.h"
#include "update.h"
#include "util.h"

#ifndef DFOTA_VERSION
#define DFOTA_VERSION "0"
#endif

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
    const char *summary;
};

/* The subcommands, in the order `dfota --help` lists them. */
static const struct command COMMANDS[] = {
    { "keygen", cmd_keygen, HELP_KEYGEN, "write a new Ed25519 key pair, print its key id" },
    { "keyid", cmd_keyid, HELP_KEYID, "print the key id of a key file" },
    { "diff", cmd_diff, HELP_DIFF, "build a delta package from OLD to NEW" },
    { "inspect", cmd_inspect, HELP_INSPECT, "show everything a package's header holds" },
    { "verify", cmd_verify, HELP_VERIFY, "check a package: intact, signed, for this device" },
    { "apply", cmd_apply, HELP_APPLY, "apply a package to OLD with the device engine" },
    { "digest", cmd_digest, HELP_DIGEST, "print the bytes a detached signature covers" },
    { "sign", cmd_sign, HELP_SIGN, "sign a package, or insert a detached signature" },
    { "update", cmd_update, NULL, "update a module over AT+QFOTADL (host/update)" },
};
#define NCOMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static void usage(FILE *f)
{
    size_t i;
    fputs("usage: dfota <command> [options]   (dfota <command> --help, dfota help <command>)\n"
          "\ncommands:\n", f);
    for (i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-9s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fputs("\nexit codes: 0 ok, 1 internal error (e.g. out of memory), 2 usage, 3 I/O,\n"
          "            4 invalid package, 5 wrong source, 6 bad or missing signature,\n"
          "            7 refused by the device policy (product, counter, space, layout)\n"
          "\ndfota --version prints the version. Manual: man dfota.\n", f);
}

static const struct command *find(const char *name)
{
    size_t i;
    for (i = 0; i < NCOMMANDS; i++)
        if (!strcmp(COMMANDS[i].name, name))
            return &COMMANDS[i];
    return NULL;
}

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *lo)
{
    char so[64];
    int c, idx = -1;

    snprintf(so, sizeof so, ":%s", shortopts);
    opterr = 0;
    c = getopt_long(argc, argv, so, lo, &idx);
    if (c == 'h') {
        const struct command *cmd = find(cli_cmd);
        if (cmd && cmd->help)
            fputs(cmd->help, stdout);
        return 'h';
    }
    if (c == '?' || c == ':') {
        const char *arg = argv[optind - 1];
        if (c == ':')
            cli_usage("%s: option '%s' needs a value", cli_cmd, arg);
        else if (optopt && strncmp(arg, "--", 2))
            cli_usage("%s: unknown option '-%c'", cli_cmd, optopt);
        else
            cli_usage("%s: unknown option '%s'", cli_cmd, arg);
        return '?';
    }
    return c;
}

int main(int argc, char **argv)
{
    const struct command *cmd;

    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        if (argc > 2 && strcmp(argv[1], "help") == 0) {
            cmd = find(argv[2]);
            if (!cmd) {
                cli_err("no such command '%s' (see 'dfota --help')", argv[2]);
                return EXIT_USAGE;
            }
            if (!cmd->help) {         /* the command prints its own help */
                char *hv[] = { argv[2], "--help", NULL };
                cli_cmd = cmd->name;
                return cmd->fn(2, hv);
            }
            fputs(cmd->help, stdout);
            return 0;
        }
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("dfota %s (package formats %u and %u, writes %u)\n", DFOTA_VERSION, DFOTA_PKG_FORMAT_V1,
               DFOTA_PKG_FORMAT_V2, DFOTA_PKG_FORMAT_VERSION);
        return 0;
    }
    cmd = find(argv[1]);
    if (!cmd) {
        cli_err("unknown command '%s' (see 'dfota --help')", argv[1]);
        return EXIT_USAGE;
    }
    cli_cmd = cmd->name;
    return cmd->fn(argc - 1, argv + 1);
}
