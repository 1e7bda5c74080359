/* dfota: the package tools. One binary, git-style subcommands. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dfota/engine.h"
#include "dfota/error.h"
#include "dfota/package.h"
#include "dfota/sha256.h"
#include "encoder.h"
#include "host_port.h"
#include "update.h"
#include "util.h"

#ifndef DFOTA_VERSION
#define DFOTA_VERSION "0"
#endif

static const char USAGE[] =
    "usage: dfota <command> [options]\n"
    "\n"
    "commands:\n"
    "  keygen -o KEY                 write an Ed25519 key pair: KEY (secret) and KEY.pub\n"
    "  diff [options] OLD NEW -o PKG build a signed delta package from OLD to NEW\n"
    "      --from-version V  --to-version V  [--product ID] [--key KEY]\n"
    "      [--layout ab|inplace] [--sector-size N] [--scratch-sectors N]\n"
    "      [--direction auto|forward|backward]\n"
    "      [--security-counter N]\n"
    "  inspect [--json] PKG          show what a package holds\n"
    "  verify [--pub KEY.pub] [--source OLD] PKG\n"
    "                                exit 0 only if PKG is intact, signed by KEY, built from OLD\n"
    "  apply [--pub KEY.pub] OLD PKG -o NEW\n"
    "                                apply PKG to OLD with the device engine\n"
    "  update --port DEVICE [options] URL\n"
    "                                update a module over AT+QFOTADL (dfota update --help)\n"
    "\n"
    "exit codes: 0 ok, 2 usage, 3 I/O, 4 invalid package, 5 wrong source, 6 bad signature\n";

static int usage_error(const char *msg)
{
    cli_err("%s (see 'dfota --help')", msg);
    return EXIT_USAGE;
}

static void diff_progress(void *ctx, uint64_t done, uint64_t total)
{
    cli_progress_update(ctx, done, total);
}

/* ---- keygen ---- */
static int cmd_keygen(int argc, char **argv)
{
    static const struct option lo[] = { { "output", required_argument, 0, 'o' }, { 0, 0, 0, 0 } };
    const char *out = NULL;
    uint8_t pk[32], sk[64];
    int c;

    while ((c = getopt_long(argc, argv, "o:", lo, NULL)) != -1) {
        if (c == 'o')
            out = optarg;
        else
            return EXIT_USAGE;
    }
    if (!out || optind != argc)
        return usage_error("keygen needs -o KEY and nothing else");
    if (dfota_host_keypair(NULL, pk, sk)) {
        cli_err("cannot generate a key pair");
        return EXIT_INTERNAL;
    }
    if (cli_write_keys(out, pk, sk))
        return EXIT_IO;
    printf("wrote %s (secret, keep it safe) and %s.pub\n", out, out);
    return 0;
}

/* ---- diff ---- */
static int parse_u32(const char *s, uint32_t *v)
{
    char *end;
    unsigned long long x = strtoull(s, &end, 0);
    if (!*s || *end || x > UINT32_MAX)
        return -1;
    *v = (uint32_t)x;
    return 0;
}

static int cmd_diff(int argc, char **argv)
{
    enum { O_FROM = 256, O_TO, O_PRODUCT, O_KEY, O_LAYOUT, O_SECTOR, O_DIR, O_SEC, O_SCRATCH };
    static const struct option lo[] = {
        { "from-version", required_argument, 0, O_FROM }, { "to-version", required_argument, 0, O_TO },
        { "product", required_argument, 0, O_PRODUCT },   { "key", required_argument, 0, O_KEY },
        { "layout", required_argument, 0, O_LAYOUT },     { "sector-size", required_argument, 0, O_SECTOR },
        { "direction", required_argument, 0, O_DIR },     { "security-counter", required_argument, 0, O_SEC },
        { "scratch-sectors", required_argument, 0, O_SCRATCH },
        { "output", required_argument, 0, 'o' },          { 0, 0, 0, 0 }
    };
    struct dfota_pkg_meta meta = { "", NULL, NULL, 0 };
    struct dfota_diff_opts opts;
    struct dfota_diff_result st;
    struct cli_progress bar;
    const char *key = NULL, *out = NULL;
    uint8_t *src, *dst, *pkg, sk[64];
    size_t slen, dlen, plen;
    int c, rc;

    memset(&opts, 0, sizeof opts);
    opts.sector_size = 4096;
    opts.lag = 2;              /* a device scratch area of 4 sectors */
    while ((c = getopt_long(argc, argv, "o:", lo, NULL)) != -1) {
        switch (c) {
        case O_FROM: meta.src_version = optarg; break;
        case O_TO: meta.dst_version = optarg; break;
        case O_PRODUCT: meta.product = optarg; break;
        case O_KEY: key = optarg; break;
        case 'o': out = optarg; break;
        case O_LAYOUT:
            if (!strcmp(optarg, "ab"))
                opts.inplace = 0;
            else if (!strcmp(optarg, "inplace"))
                opts.inplace = 1;
            else
                return usage_error("--layout is 'ab' or 'inplace'");
            break;
        case O_SECTOR:
            if (parse_u32(optarg, &opts.sector_size) || opts.sector_size < 256 ||
                (opts.sector_size & (opts.sector_size - 1)))
                return usage_error("--sector-size must be a power of two, at least 256");
            break;
        case O_DIR:
            if (!strcmp(optarg, "auto"))
                opts.direction = 0;
            else if (!strcmp(optarg, "forward"))
                opts.direction = 1;
            else if (!strcmp(optarg, "backward"))
                opts.direction = -1;
            else
                return usage_error("--direction is auto, forward or backward");
            break;
        case O_SCRATCH: {
            uint32_t n;
            if (parse_u32(optarg, &n) || n < 2 || n > DFOTA_MAX_LAG + 2)
                return usage_error("--scratch-sectors is 2 to 9");
            opts.lag = n - 2;
            break;
        }
        case O_SEC:
            if (parse_u32(optarg, &meta.security_counter))
                return usage_error("--security-counter takes a number");
            break;
        default:
            return EXIT_USAGE;
        }
    }
    if (!meta.src_version || !meta.dst_version)
        return usage_error("diff needs --from-version and --to-version");
    if (!out || argc - optind != 2)
        return usage_error("diff needs OLD NEW -o PKG");
    if (strlen(meta.product) >= DFOTA_PKG_ID_LEN || strlen(meta.src_version) >= DFOTA_PKG_ID_LEN ||
        strlen(meta.dst_version) >= DFOTA_PKG_ID_LEN)
        return usage_error("product and version strings hold at most 31 characters");
    if (key && cli_read_secret_key(key, sk))
        return EXIT_IO;
    if (cli_read_file(argv[optind], &src, &slen))
        return EXIT_IO;
    if (cli_read_file(argv[optind + 1], &dst, &dlen)) {
        free(src);
        return EXIT_IO;
    }
    if (slen > 0x7FFFFFFF || dlen > 0x7FFFFFFF) {
        free(src);
        free(dst);
        cli_err("images over 2 GiB are not supported");
        return EXIT_USAGE;
    }
    cli_progress_start(&bar, "diff");
    opts.progress = diff_progress;
    opts.progress_ctx = &bar;
    rc = dfota_package_build(src, slen, dst, dlen, &opts, &meta, key ? sk : NULL, &pkg, &plen, &st);
    cli_progress_end(&bar);
    free(src);
    free(dst);
    if (rc) {
        cli_err("diff failed: %s", dfota_strerror(rc));
        return cli_exit_for(rc);
    }
    rc = cli_write_file(out, pkg, plen, 0644);
    free(pkg);
    if (rc)
        return EXIT_IO;
    if (!key)
        fprintf(stderr, "dfota: warning: package is unsigned (no --key); devices with a key refuse it\n");
    return 0;
}

/* ---- inspect ---- */
static int load_pkg(const char *path, uint8_t **pkg, size_t *len, struct dfota_pkg_header *h)
{
    int rc;
    if (cli_read_file(path, pkg, len))
        return EXIT_IO;
    rc = dfota_pkg_parse(h, *pkg, *len);
    if (!rc)
        rc = dfota_pkg_check_size(h, *len);
    if (rc) {
        cli_err("'%s': %s", path, dfota_strerror(rc));
        free(*pkg);
        return cli_exit_for(rc);
    }
    return 0;
}

static int is_signed(const struct dfota_pkg_header *h)
{
    size_t i;
    for (i = 0; i < DFOTA_KEY_ID_LEN; i++)
        if (h->key_id[i])
            return 1;
    return 0;
}

/* Header strings are printable ASCII; JSON needs " and \\ escaped. */
static const char *json_str(char *out, const char *s)
{
    char *o = out;
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            *o++ = '\\';
        *o++ = *s;
    }
    *o = 0;
    return out;
}

static int cmd_inspect(int argc, char **argv)
{
    static const struct option lo[] = { { "json", no_argument, 0, 'j' }, { 0, 0, 0, 0 } };
    struct dfota_pkg_header h;
    uint8_t *pkg;
    size_t len;
    char s_src[65], s_dst[65], s_pay[65], s_kid[17];
    char j_prod[2 * DFOTA_PKG_ID_LEN + 1], j_sv[2 * DFOTA_PKG_ID_LEN + 1], j_dv[2 * DFOTA_PKG_ID_LEN + 1];
    int c, json = 0, rc;
    uint8_t d[32];
    const char *payload_ok;

    while ((c = getopt_long(argc, argv, "j", lo, NULL)) != -1) {
        if (c == 'j')
            json = 1;
        else
            return EXIT_USAGE;
    }
    if (argc - optind != 1)
        return usage_error("inspect needs one PKG");
    if ((rc = load_pkg(argv[optind], &pkg, &len, &h)))
        return rc;
    dfota_host_sha256(pkg + DFOTA_PKG_HEADER_SIZE, h.payload_size, d);
    payload_ok = memcmp(d, h.payload_sha256, 32) ? "CORRUPT" : "ok";
    cli_hex(s_src, h.src_sha256, 32);
    cli_hex(s_dst, h.dst_sha256, 32);
    cli_hex(s_pay, h.payload_sha256, 32);
    cli_hex(s_kid, h.key_id, DFOTA_KEY_ID_LEN);
    if (json) {
        printf("{\"format_version\":%u,\"product\":\"%s\",\"layout\":\"%s\",\"direction\":\"%s\","
               "\"sector_size\":%u,\"source\":{\"version\":\"%s\",\"size\":%u,\"sha256\":\"%s\"},"
               "\"target\":{\"version\":\"%s\",\"size\":%u,\"sha256\":\"%s\"},"
               "\"algorithm\":%u,\"coder\":%u,\"package_size\":%zu,\"payload_size\":%u,"
               "\"payload_sha256\":\"%s\",\"payload_ok\":%s,\"security_counter\":%u,"
               "\"signed\":%s,\"key_id\":\"%s\",\"decoder_ram\":%u,\"engine_ram\":%u,"
               "\"sector_buffer\":0}\n",
               h.format_version, json_str(j_prod, h.product),
               (h.flags & DFOTA_PKG_F_INPLACE) ? "inplace" : "ab",
               (h.flags & DFOTA_PKG_F_BACKWARD) ? "backward" : "forward", h.sector_size,
               json_str(j_sv, h.src_version), h.src_size, s_src, json_str(j_dv, h.dst_version),
               h.dst_size, s_dst, h.algorithm,
               h.coder, len, h.payload_size, s_pay, *payload_ok == 'o' ? "true" : "false",
               h.security_counter, is_signed(&h) ? "true" : "false", s_kid, h.decoder_ram,
               (unsigned)sizeof(struct dfota_engine));
    } else {
        printf("package      %s (%zu bytes, format %u)\n", argv[optind], len, h.format_version);
        printf("product      %s\n", h.product[0] ? h.product : "(any)");
        printf("source       %-16s %9u bytes  sha256 %s\n", h.src_version, h.src_size, s_src);
        printf("target       %-16s %9u bytes  sha256 %s\n", h.dst_version, h.dst_size, s_dst);
        if (h.flags & DFOTA_PKG_F_INPLACE)
            printf("layout       in place, %u-byte sectors, written %s\n", h.sector_size,
                   (h.flags & DFOTA_PKG_F_BACKWARD) ? "last sector first" : "first sector first");
        else
            printf("layout       A/B (target goes to the other bank)\n");
        printf("delta        DZ1, range coder; payload %u bytes %s; package %.2f%% of target\n",
               h.payload_size, payload_ok, h.dst_size ? 100.0 * len / h.dst_size : 0.0);
        printf("device RAM   decoder %u bytes, whole engine %u bytes\n", h.decoder_ram,
               (unsigned)sizeof(struct dfota_engine));
        printf("security     counter %u\n", h.security_counter);
        printf("signature    %s\n", is_signed(&h) ? "Ed25519" : "none (unsigned package)");
        if (is_signed(&h))
            printf("key id       %s\n", s_kid);
    }
    free(pkg);
    return 0;
}

/* ---- verify ---- */
static int check_pkg(const char *path, const char *pubpath, const char *srcpath, uint8_t **pkg_out,
                     size_t *len_out, struct dfota_pkg_header *h, uint8_t *pk_out)
{
    uint8_t *pkg, pk[32], d[32];
    size_t len;
    int rc;

    if (pubpath && cli_read_public_key(pubpath, pk))
        return EXIT_IO;
    if ((rc = load_pkg(path, &pkg, &len, h)))
        return rc;
    dfota_host_sha256(pkg + DFOTA_PKG_HEADER_SIZE, h->payload_size, d);
    if (memcmp(d, h->payload_sha256, 32)) {
        cli_err("'%s': %s", path, dfota_strerror(DFOTA_ERR_PAYLOAD));
        free(pkg);
        return EXIT_INVALID;
    }
    if (pubpath) {
        rc = dfota_pkg_check_signature(h, pkg, pk, dfota_host_crypto());
        if (rc) {
            cli_err("'%s': %s (%s)", path, dfota_strerror(rc),
                    is_signed(h) ? "not signed by this key, or altered" : "package is unsigned");
            free(pkg);
            return EXIT_SIGNATURE;
        }
        if (pk_out)
            memcpy(pk_out, pk, 32);
    }
    /* Only now trust the header's source digest: a tampered header is an
     * invalid or forged package, not a wrong source. */
    if (srcpath) {
        uint8_t *src;
        size_t slen;
        if (cli_read_file(srcpath, &src, &slen)) {
            free(pkg);
            return EXIT_IO;
        }
        dfota_host_sha256(src, slen, d);
        free(src);
        if (slen != h->src_size || memcmp(d, h->src_sha256, 32)) {
            cli_err("'%s' was not built from '%s' (source %s expected): %s", path, srcpath,
                    h->src_version, dfota_strerror(DFOTA_ERR_SOURCE));
            free(pkg);
            return EXIT_SOURCE;
        }
    }
    *pkg_out = pkg;
    *len_out = len;
    return 0;
}

static int cmd_verify(int argc, char **argv)
{
    enum { O_PUB = 256, O_SRC };
    static const struct option lo[] = { { "pub", required_argument, 0, O_PUB },
                                        { "source", required_argument, 0, O_SRC }, { 0, 0, 0, 0 } };
    const char *pub = NULL, *src = NULL;
    struct dfota_pkg_header h;
    uint8_t *pkg;
    size_t len;
    int c, rc;

    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == O_PUB)
            pub = optarg;
        else if (c == O_SRC)
            src = optarg;
        else
            return EXIT_USAGE;
    }
    if (argc - optind != 1)
        return usage_error("verify needs one PKG");
    if ((rc = check_pkg(argv[optind], pub, src, &pkg, &len, &h, NULL)))
        return rc;
    free(pkg);
    printf("%s: ok (%s -> %s%s%s)\n", argv[optind], h.src_version, h.dst_version,
           pub ? ", signature good" : (is_signed(&h) ? ", signature not checked" : ", unsigned"),
           src ? ", source matches" : "");
    return 0;
}

/* ---- apply ---- */
static void apply_progress(void *ctx, int phase, unsigned pct)
{
    struct cli_progress *p = ctx;
    p->label = phase == DFOTA_PHASE_CHECK ? "check" : phase == DFOTA_PHASE_APPLY ? "apply" : "verify";
    cli_progress_update(p, pct, 100);
}

static int cmd_apply(int argc, char **argv)
{
    enum { O_PUB = 256 };
    static const struct option lo[] = { { "pub", required_argument, 0, O_PUB },
                                        { "output", required_argument, 0, 'o' }, { 0, 0, 0, 0 } };
    const char *pub = NULL, *out = NULL;
    struct dfota_pkg_header h;
    struct cli_progress bar;
    uint8_t *pkg, *src, *dst, pk[32];
    size_t len, slen, dlen;
    int c, rc;

    while ((c = getopt_long(argc, argv, "o:", lo, NULL)) != -1) {
        if (c == O_PUB)
            pub = optarg;
        else if (c == 'o')
            out = optarg;
        else
            return EXIT_USAGE;
    }
    if (!out || argc - optind != 2)
        return usage_error("apply needs OLD PKG -o NEW");
    if ((rc = check_pkg(argv[optind + 1], pub, argv[optind], &pkg, &len, &h, pk)))
        return rc;
    if (cli_read_file(argv[optind], &src, &slen)) {
        free(pkg);
        return EXIT_IO;
    }
    cli_progress_start(&bar, "apply");
    rc = dfota_host_apply(src, slen, pkg, len, pub ? pk : NULL, &dst, &dlen, apply_progress, &bar,
                          NULL);
    cli_progress_end(&bar);
    free(src);
    free(pkg);
    if (rc) {
        cli_err("apply failed: %s", dfota_strerror(rc));
        return cli_exit_for(rc);
    }
    rc = cli_write_file(out, dst, dlen, 0644);
    free(dst);
    return rc ? EXIT_IO : 0;
}

int main(int argc, char **argv)
{
    const char *cmd;

    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("dfota %s\n", DFOTA_VERSION);
        return 0;
    }
    cmd = argv[1];
    argc--;
    argv++;
    if (!strcmp(cmd, "keygen"))
        return cmd_keygen(argc, argv);
    if (!strcmp(cmd, "diff"))
        return cmd_diff(argc, argv);
    if (!strcmp(cmd, "inspect"))
        return cmd_inspect(argc, argv);
    if (!strcmp(cmd, "verify"))
        return cmd_verify(argc, argv);
    if (!strcmp(cmd, "apply"))
        return cmd_apply(argc, argv);
    if (!strcmp(cmd, "update"))
        return cmd_update(argc, argv);
    cli_err("unknown command '%s' (see 'dfota --help')", cmd);
    return EXIT_USAGE;
}
