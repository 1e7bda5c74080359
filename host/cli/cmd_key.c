/* dfota keygen, dfota keyid. */
#define _GNU_SOURCE
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "commands.h"
#include "host_port.h"
#include "util.h"

int cmd_keygen(int argc, char **argv)
{
    static const struct option lo[] = { { "output", required_argument, 0, 'o' },
                                        { "force", no_argument, 0, 'f' },
                                        { "json", no_argument, 0, 'j' },
                                        { "quiet", no_argument, 0, 'q' },
                                        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    const char *out = NULL;
    char *pubpath, *sec, *pub, hex[17];
    size_t slen, plen;
    uint8_t pk[32], sk[64], kid[8];
    int c, force = 0, json = 0, rc;

    while ((c = cli_getopt(argc, argv, "o:fqh", lo)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'f': force = 1; break;
        case 'j': json = 1; break;
        case 'q': cli_quiet = 1; break;
        case 'h': return 0;
        default: return EXIT_USAGE;
        }
    }
    if (!out || optind != argc)
        return cli_usage("keygen needs -o KEY and nothing else");
    if (!strcmp(out, "-"))
        return cli_usage("keygen writes two files; -o - is not possible");
    pubpath = malloc(strlen(out) + 5);
    if (!pubpath)
        return cli_oom("");
    sprintf(pubpath, "%s.pub", out);
    if ((rc = cli_check_output(out, force, NULL, 0)) || (rc = cli_check_output(pubpath, force, NULL, 0))) {
        free(pubpath);
        return rc;
    }
    if (dfota_host_keypair(NULL, pk, sk)) {
        free(pubpath);
        cli_err("cannot generate a key pair");
        return EXIT_INTERNAL;
    }
    if (cli_key_pem(pk, sk, &sec, &slen, &pub, &plen)) {
        sodium_memzero(sk, sizeof sk);
        free(pubpath);
        return cli_oom("writing the keys");
    }
    sodium_memzero(sk, sizeof sk);
    rc = cli_write_pair(out, sec, slen, 0600, pubpath, pub, plen, 0644, force);
    sodium_memzero(sec, slen);
    free(sec);
    free(pub);
    if (!rc) {
        cli_key_id(pk, kid);
        cli_hex(hex, kid, 8);
        if (json)
        {
            putchar('{');
            cli_json_put("secret", out, 0);
            cli_json_put("public", pubpath, 1);
            printf(",\"key_id\":\"%s\"}\n", hex);
        }
        else if (!cli_quiet)
            printf("wrote %s (secret, keep it safe) and %s; key id %s\n", out, pubpath, hex);
    }
    free(pubpath);
    return rc;
}

int cmd_keyid(int argc, char **argv)
{
    enum { O_PASSF = 256, O_PASSE };
    static const struct option lo[] = { { "json", no_argument, 0, 'j' },
                                        { "pass-file", required_argument, 0, O_PASSF },
                                        { "pass-env", required_argument, 0, O_PASSE },
                                        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    struct cli_pass pass = { NULL, NULL };
    uint8_t pk[32], kid[8];
    char hex[17], pkhex[65];
    int c, json = 0, rc, i;

    while ((c = cli_getopt(argc, argv, "h", lo)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case O_PASSF: pass.file = optarg; break;
        case O_PASSE: pass.env = optarg; break;
        case 'h': return 0;
        default: return EXIT_USAGE;
        }
    }
    if (optind >= argc)
        return cli_usage("keyid needs a KEY file");
    for (i = optind; i < argc; i++) {
        if ((rc = cli_read_any_key(argv[i], &pass, pk)))
            return rc;
        cli_key_id(pk, kid);
        cli_hex(hex, kid, 8);
        cli_hex(pkhex, pk, 32);
        if (json)
        {
            putchar('{');
            cli_json_put("file", argv[i], 0);
            printf(",\"key_id\":\"%s\",\"public_key\":\"%s\"}\n", hex, pkhex);
        }
        else if (argc - optind > 1)
            printf("%s  %s\n", hex, argv[i]);
        else
            printf("%s\n", hex);
    }
    return 0;
}
