/* dfota diff: OLD NEW -> a package. Every argument is checked before the
 * work starts; one progress bar covers the whole job. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "commands.h"
#include "dfota/delta2.h"
#include "dfota/error.h"
#include "encoder.h"
#include "host_port.h"
#include "util.h"

/* Seconds per MB of each step, measured with `dfota diff -v` on a 20 MB
 * code-like pair (docs/cli.md#progress). Only their ratios matter: the
 * bar recalibrates on the steps done and the running step's own rate. */
#define S_READ   0.003   /* per MB of OLD + NEW */
#define S_HASH   0.010   /* per MB of OLD + NEW */
#define S_SORT   0.240   /* per MB of OLD */
#define S_MATCH  0.070   /* per MB of NEW, per pass */
#define S_REFINE 0.200   /* per MB of NEW, per pass */
#define S_ENCODE 0.500   /* per MB of NEW, per pass (all the settings tried) */
#define S_SIGN   0.0005  /* per MB of NEW */
#define S_WRITE  0.004   /* per MB of the package (at most NEW) */

enum { K_READ, K_HASH, K_SORT, K_MATCH, K_REFINE, K_ENCODE, K_SIGN, K_WRITE };

struct diff_job {
    struct cli_bar bar;
    unsigned passes, pass;
    char label[24];
};

static void on_phase(void *ctx, int ph, unsigned i, unsigned n)
{
    struct diff_job *j = ctx;
    switch (ph) {
    case DFOTA_DIFF_HASH: cli_bar_next(&j->bar, "hash"); break;
    case DFOTA_DIFF_SORT: cli_bar_next(&j->bar, "sort"); break;
    case DFOTA_DIFF_MATCH:
        j->pass = i;
        if (j->passes > 1)
            snprintf(j->label, sizeof j->label, "match %u/%u", i + 1, n);
        else
            snprintf(j->label, sizeof j->label, "match");
        cli_bar_next(&j->bar, j->label);
        break;
    case DFOTA_DIFF_REFINE:
        if (j->passes > 1)
            snprintf(j->label, sizeof j->label, "refine %u/%u", i + 1, n);
        else
            snprintf(j->label, sizeof j->label, "refine");
        cli_bar_next(&j->bar, j->label);
        break;
    case DFOTA_DIFF_CODE: j->pass = i; break;
    case DFOTA_DIFF_ENCODE:
        if (j->passes > 1)
            snprintf(j->label, sizeof j->label, "enc %u/%u %u/%u", j->pass + 1, j->passes, i + 1, n);
        else
            snprintf(j->label, sizeof j->label, "encode %u/%u", i + 1, n);
        if (i == 0) {
            cli_bar_next(&j->bar, j->label);
        } else {
            cli_bar_label(&j->bar, j->label);
            cli_bar_frac(&j->bar, (double)i / n);
        }
        break;
    case DFOTA_DIFF_SIGN: cli_bar_next(&j->bar, "sign"); break;
    }
}

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    struct diff_job *j = ctx;
    cli_bar_frac(&j->bar, total ? (double)done / (double)total : 1.0);
}

/* --direction as runs of sectors: "a-b,c,d-e", a-b lowest first when
 * a < b, highest first when a > b. 0, or -1 for anything else. */
static int parse_runs(const char *s, struct dfota_pkg_run *r, uint32_t *nr)
{
    *nr = 0;
    for (;;) {
        char *end;
        unsigned long a, b;
        if (*s < '0' || *s > '9')
            return -1;
        a = strtoul(s, &end, 10);
        b = a;
        if (*end == '-') {
            s = end + 1;
            if (*s < '0' || *s > '9')
                return -1;
            b = strtoul(s, &end, 10);
        }
        if (a > 0xFFFFFFu || b > 0xFFFFFFu || *nr == DFOTA_MAX_RUNS)
            return -1;
        r[*nr].first = (uint32_t)(a < b ? a : b);
        r[*nr].n = (uint32_t)(a < b ? b - a : a - b) + 1u;
        r[*nr].back = (uint8_t)(a > b);
        (*nr)++;
        if (!*end)
            return 0;
        if (*end != ',')
            return -1;
        s = end + 1;
    }
}

int cmd_diff(int argc, char **argv)
{
    enum { O_FROM = 256, O_TO, O_PRODUCT, O_KEY, O_LAYOUT, O_SECTOR, O_DIR, O_SEC, O_SCRATCH,
           O_UNSIGNED, O_PASSF, O_PASSE, O_FORMAT, O_BASE, O_PKGFMT, O_RAM, O_CODEC, O_BDIG, O_WIN, O_SAVED };
    static const struct option lo[] = {
        { "from-version", required_argument, 0, O_FROM }, { "to-version", required_argument, 0, O_TO },
        { "product", required_argument, 0, O_PRODUCT },   { "key", required_argument, 0, O_KEY },
        { "layout", required_argument, 0, O_LAYOUT },     { "sector-size", required_argument, 0, O_SECTOR },
        { "direction", required_argument, 0, O_DIR },     { "security-counter", required_argument, 0, O_SEC },
        { "scratch-sectors", required_argument, 0, O_SCRATCH },
        { "unsigned", no_argument, 0, O_UNSIGNED },
        { "pass-file", required_argument, 0, O_PASSF },   { "pass-env", required_argument, 0, O_PASSE },
        { "input-format", required_argument, 0, O_FORMAT }, { "base", required_argument, 0, O_BASE },
        { "package-format", required_argument, 0, O_PKGFMT },
        { "decoder-ram", required_argument, 0, O_RAM },
        { "codec", required_argument, 0, O_CODEC },
        { "block-digest", required_argument, 0, O_BDIG },
        { "target-window", required_argument, 0, O_WIN },
        { "saved-sectors", required_argument, 0, O_SAVED },
        { "output", required_argument, 0, 'o' },          { "force", no_argument, 0, 'f' },
        { "quiet", no_argument, 0, 'q' },                 { "verbose", no_argument, 0, 'v' },
        { "json", no_argument, 0, 'j' },                  { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 }
    };
    struct dfota_pkg_meta meta = { "", NULL, NULL, 0, 0 };
    struct dfota_diff_opts opts;
    struct dfota_pkg_run runs[DFOTA_MAX_RUNS];
    struct dfota_diff_result st;
    struct diff_job job;
    struct cli_pass pass = { NULL, NULL };
    const char *key = NULL, *out = NULL, *format = "auto", *inputs[3];
    uint8_t *src, *dst, *pkg, sk[64], kid[8];
    int joint = 0;            /* dst lies right after src, in its buffer */
    uint64_t base = UINT64_MAX;
    size_t slen, dlen, plen;
    int c, rc, force = 0, json = 0, unsig = 0;
    double t0 = cli_now(), secs;
    char khex[17];

    memset(&opts, 0, sizeof opts);
    opts.sector_size = 4096;
    opts.lag = 2;              /* a device scratch area of 4 sectors */
    while ((c = cli_getopt(argc, argv, "o:fqvjh", lo)) != -1) {
        switch (c) {
        case O_FROM: meta.src_version = optarg; break;
        case O_TO: meta.dst_version = optarg; break;
        case O_PRODUCT: meta.product = optarg; break;
        case O_KEY: key = optarg; break;
        case O_UNSIGNED: unsig = 1; break;
        case O_PASSF: pass.file = optarg; break;
        case O_PASSE: pass.env = optarg; break;
        case 'o': out = optarg; break;
        case 'f': force = 1; break;
        case 'q': cli_quiet = 1; break;
        case 'v': cli_verbose = 1; break;
        case 'j': json = 1; break;
        case 'h': return 0;
        case O_LAYOUT:
            if (!strcmp(optarg, "ab"))
                opts.inplace = 0;
            else if (!strcmp(optarg, "inplace"))
                opts.inplace = 1;
            else
                return cli_usage("--layout '%s': it is 'ab' or 'inplace'", optarg);
            break;
        case O_SECTOR:
            if (cli_parse_u32(optarg, &opts.sector_size, 1) || opts.sector_size < 256 ||
                opts.sector_size > 1024 * 1024 || (opts.sector_size & (opts.sector_size - 1)))
                return cli_usage("--sector-size '%s': a power of two from 256 to 1 MiB (bytes; "
                                 "4k, 64KiB accepted)", optarg);
            break;
        case O_DIR:
            if (!strcmp(optarg, "auto"))
                opts.direction = DFOTA_DIR_AUTO;
            else if (!strcmp(optarg, "forward"))
                opts.direction = DFOTA_DIR_FORWARD;
            else if (!strcmp(optarg, "backward"))
                opts.direction = DFOTA_DIR_BACKWARD;
            else if (!strcmp(optarg, "plain"))
                opts.direction = DFOTA_DIR_PLAIN;
            else if (parse_runs(optarg, runs, &opts.norder) == 0)
                opts.direction = DFOTA_DIR_RUNS, opts.order = runs;
            else
                return cli_usage("--direction '%s': it is auto, plain, forward, backward or runs of "
                                 "sectors (0-9,20-10,11-19: each a-b, a > b for highest first; at "
                                 "most %u)", optarg, DFOTA_MAX_RUNS);
            break;
        case O_WIN:
            if (!strcmp(optarg, "auto"))
                opts.window = DFOTA_WIN_AUTO;
            else if (!strcmp(optarg, "ring"))
                opts.window = DFOTA_WIN_RING;
            else if (!strcmp(optarg, "block"))
                opts.window = DFOTA_WIN_BLOCK;
            else
                return cli_usage("--target-window '%s': it is auto, ring or block", optarg);
            break;
        case O_SAVED: {
            uint32_t n;
            if (cli_parse_u32(optarg, &n, 0) || n > DFOTA_MAX_SAVED)
                return cli_usage("--saved-sectors '%s': 0 to %u", optarg, DFOTA_MAX_SAVED);
            opts.saved = n ? (int)n : -1;
            break;
        }
        case O_SCRATCH: {
            uint32_t n;
            if (cli_parse_u32(optarg, &n, 0) || n < 2 || n > DFOTA_MAX_LAG + 2)
                return cli_usage("--scratch-sectors '%s': 2 to %u", optarg, DFOTA_MAX_LAG + 2);
            opts.lag = n - 2;
            break;
        }
        case O_SEC:
            if (cli_parse_u32(optarg, &meta.security_counter, 0))
                return cli_usage("--security-counter '%s': a number from 0 to 4294967295", optarg);
            break;
        case O_FORMAT:
            if (cli_parse_format(optarg, &format))
                return EXIT_USAGE;
            break;
        case O_BASE:
            if (cli_parse_base(optarg, &base))
                return EXIT_USAGE;
            break;
        case O_PKGFMT:
            if (!strcmp(optarg, "1"))
                meta.format_version = DFOTA_PKG_FORMAT_V1;
            else if (!strcmp(optarg, "2"))
                meta.format_version = DFOTA_PKG_FORMAT_V2;
            else
                return cli_usage("--package-format '%s': it is 1 (the 312-byte header devices "
                                 "before format 2 read) or 2 (compact, the default)", optarg);
            break;
        case O_RAM:
            if (!strcmp(optarg, "4k") || !strcmp(optarg, "4K"))
                opts.decoder_ram = DFOTA_DECODER_RAM_4K;
            else if (!strcmp(optarg, "16k") || !strcmp(optarg, "16K"))
                opts.decoder_ram = DFOTA_DECODER_RAM_16K;
            else
                return cli_usage("--decoder-ram '%s': it is 16k (the default) or 4k (a smaller "
                                 "model for devices built with DFOTA_CFG_DECODER_RAM_SMALL)", optarg);
            break;
        case O_CODEC:
            if (!strcmp(optarg, "auto"))
                opts.codec = 0;
            else if (!strcmp(optarg, "dz1"))
                opts.codec = DFOTA_ALG_DZ1;
            else if (!strcmp(optarg, "dz2"))
                opts.codec = DFOTA_ALG_DZ2;
            else
                return cli_usage("--codec '%s': it is auto (the smaller of DZ1 and DZ2), dz1 or dz2 "
                                 "(for devices built with one codec)", optarg);
            break;
        case O_BDIG:
            if (!strcmp(optarg, "device"))
                opts.block_digest = 0;
            else if (!strcmp(optarg, "4"))
                opts.block_digest = DFOTA_BLOCK_DIGEST_LEN4;
            else if (!strcmp(optarg, "16"))
                opts.block_digest = DFOTA_BLOCK_DIGEST_LEN;
            else
                return cli_usage("--block-digest '%s': it is device (the default: the device "
                                 "computes its block digests), or 4 or 16 (bytes of a block "
                                 "digest chain entry in the package, for devices whose engine "
                                 "predates device digests; 16 predates 4-byte entries)", optarg);
            break;
        default: return EXIT_USAGE;
        }
    }
    if (!meta.src_version || !meta.dst_version)
        return cli_usage("diff needs --from-version and --to-version");
    if (!out || argc - optind != 2)
        return cli_usage("diff needs OLD NEW -o PKG");
    if (key && unsig)
        return cli_usage("--key and --unsigned exclude each other");
    if (opts.decoder_ram == DFOTA_DECODER_RAM_4K && opts.codec == DFOTA_ALG_DZ1)
        return cli_usage("--decoder-ram 4k is DZ2's small model: not with --codec dz1");
    if (json && cli_is_stdout(out))
        return cli_usage("--json and -o - both want stdout");
    if (opts.inplace && opts.window == DFOTA_WIN_BLOCK && meta.format_version == DFOTA_PKG_FORMAT_V1)
        return cli_usage("--target-window block needs --package-format 2 (a format 1 header has "
                         "no room for its flag)");
    if ((rc = cli_check_id("--product", meta.product)) || (rc = cli_check_id("--from-version", meta.src_version)) ||
        (rc = cli_check_id("--to-version", meta.dst_version)))
        return rc;
    inputs[0] = argv[optind];
    inputs[1] = argv[optind + 1];
    inputs[2] = key;
    if ((rc = cli_check_output(out, force, inputs, 3)))
        return rc;
    if (!strcmp(argv[optind], "-") && !strcmp(argv[optind + 1], "-"))
        return cli_usage("OLD and NEW cannot both be stdin");
    if (key && (rc = cli_read_secret_key(key, &pass, sk)))
        return rc;

#if defined(M_ARENA_MAX) && defined(M_MMAP_THRESHOLD)
    /* the encoder's threads (DFOTA_THREADS) allocate from one heap: an
     * arena of their own each would hold what they free, and the peak RSS
     * grow with it. Its big buffers (suffix array, parse chains) mapped
     * and unmapped at 128 KiB and up, whatever was freed before (glibc
     * would raise that threshold to the size of a freed one, and keep the
     * next ones in the heap): ~0.5-0.9 MB less peak RSS on 1 MB pairs,
     * the same speed. */
    mallopt(M_ARENA_MAX, 1);
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
    cli_bar_start(&job.bar);
    job.passes = opts.inplace && (opts.direction == DFOTA_DIR_AUTO || opts.direction == DFOTA_DIR_PLAIN)
                     ? 2 : 1;
    job.pass = 0;
    {
        /* sizes from a stat; stdin or HEX/ELF: the plan is rough until the
         * steps calibrate it */
        double mo = cli_size_mb(argv[optind]), mn = cli_size_mb(argv[optind + 1]);
        unsigned p;
        cli_bar_plan(&job.bar, K_READ, S_READ * (mo + mn));
        cli_bar_plan(&job.bar, K_HASH, S_HASH * (mo + mn));
        cli_bar_plan(&job.bar, K_SORT, S_SORT * mo);
        for (p = 0; p < job.passes; p++) {      /* every pass is matched, then every one coded */
            cli_bar_plan(&job.bar, K_MATCH, S_MATCH * mn);
            cli_bar_plan(&job.bar, K_REFINE, S_REFINE * mn);
        }
        for (p = 0; p < job.passes; p++)
            cli_bar_plan(&job.bar, K_ENCODE, S_ENCODE * mn);
        cli_bar_plan(&job.bar, K_SIGN, S_SIGN * mn);
        cli_bar_plan(&job.bar, K_WRITE, S_WRITE * mn);
    }
    cli_bar_next(&job.bar, "read");
    if ((rc = cli_read_image(argv[optind], format, base, CLI_IMAGE_MAX, &src, &slen))) {
        cli_bar_end(&job.bar);
        sodium_memzero(sk, sizeof sk);
        return rc;
    }
    if ((rc = cli_read_image(argv[optind + 1], format, base, CLI_IMAGE_MAX, &dst, &dlen))) {
        cli_bar_end(&job.bar);
        sodium_memzero(sk, sizeof sk);
        free(src);
        return rc;
    }
    if (opts.inplace && opts.direction == DFOTA_DIR_RUNS) {
        struct dz_order chk;
        uint32_t n = dz_block_count((uint32_t)dlen, opts.sector_size);
        if (dz_order_init(&chk, opts.order, opts.norder, (uint32_t)dlen, opts.sector_size)) {
            cli_bar_end(&job.bar);
            sodium_memzero(sk, sizeof sk);
            free(src);
            free(dst);
            return cli_usage("--direction: the runs must name each of NEW's %u sectors (0 to %u) "
                             "once", n, n ? n - 1 : 0);
        }
        dz_order_free(&chk);
    }
    if (slen && dlen) {
        /* old and new side by side in one buffer: the DZ2 parse without
         * the branch filter reads them there, with no copy of its own
         * (dz2_parser_new) */
        uint8_t *both = realloc(src, slen + dlen);
        if (both) {
            memcpy(both + slen, dst, dlen);
            free(dst);
            src = both;
            dst = both + slen;
            joint = 1;
        }
    }
    opts.progress = on_progress;
    opts.phase = on_phase;
    opts.progress_ctx = &job;
    errno = 0;
    rc = dfota_package_build(src, slen, dst, dlen, &opts, &meta, key ? sk : NULL, &pkg, &plen, &st);
    sodium_memzero(sk, sizeof sk);
    if (!joint)
        free(dst);
    free(src);
    if (rc) {
        cli_bar_end(&job.bar);
        if (rc == DFOTA_ERR_ARG && errno == ENOMEM)
            return cli_oom("building the package");
        cli_err("diff failed: %s", dfota_strerror(rc));
        return cli_exit_for(rc);
    }
    cli_bar_next(&job.bar, "write");
    rc = cli_write_output(out, pkg, plen, 0644, force);
    if (rc)
        cli_bar_end(&job.bar);
    else
        cli_bar_finish(&job.bar);
    if (rc) {
        free(pkg);
        return rc;
    }
    secs = cli_now() - t0;
    {
        struct dfota_pkg_header ph;
        if (dfota_pkg_parse(&ph, pkg, plen) == DFOTA_OK)
            memcpy(kid, pkg + dfota_pkg_key_id_offset(&ph), 8);
        else
            memset(kid, 0, sizeof kid);
    }
    cli_hex(khex, kid, 8);
    if (json) {
        printf("{");
        cli_json_put("package", out, 0);
        printf(",\"package_size\":%zu,\"payload_size\":%zu,\"source_size\":%zu,\"target_size\":%zu,"
               "\"ratio\":%.6f,\"layout\":\"%s\",\"direction\":\"%s\",\"target_window\":\"%s\","
               "\"sector_size\":%u,\"lag\":%u,"
               "\"signed\":%s,\"key_id\":\"%s\",\"literal_bytes\":%zu,\"copy_bytes\":%zu,"
               "\"ops\":%zu,\"seconds\":%.3f}\n",
               plen, st.payload_size, slen, dlen, dlen ? (double)plen / dlen : 0.0,
               (st.flags & DFOTA_PKG_F_INPLACE) ? "inplace" : "ab",
               (st.flags & DFOTA_PKG_F_RUNS) ? "runs" : (st.flags & DFOTA_PKG_F_BACKWARD) ? "backward"
                                                                            : "forward",
               !(st.flags & DFOTA_PKG_F_INPLACE) ? "all" : (st.flags & DFOTA_PKG_F_BLOCKWIN) ? "block" : "ring",
               st.sector_size, st.lag,
               key ? "true" : "false", khex, st.literal_bytes, st.copy_bytes, st.ops, secs);
    } else if (!cli_quiet) {
        fprintf(stderr, "dfota: %s: %zu bytes, %.2f%% of the %zu-byte target (source %zu bytes), "
                "%s, %s, %.2f s\n", cli_is_stdout(out) ? "(stdout)" : out, plen,
                dlen ? 100.0 * plen / dlen : 0.0, dlen, slen,
                (st.flags & DFOTA_PKG_F_INPLACE)
                    ? ((st.flags & DFOTA_PKG_F_RUNS)       ? "in place in runs"
                       : (st.flags & DFOTA_PKG_F_BACKWARD) ? "in place backward"
                                                           : "in place forward")
                    : "A/B",
                key ? "signed" : "unsigned", secs);
        if (cli_verbose)
            fprintf(stderr, "dfota: %zu operations, %zu bytes copied, %zu literal; %u-byte sectors, "
                    "lag %u (%u scratch sectors)%s%s, decoder RAM %u bytes%s%s\n", st.ops,
                    st.copy_bytes, st.literal_bytes, st.sector_size, st.lag, st.lag + 2,
                    (st.flags & DFOTA_PKG_F_BLOCKWIN) ? ", target copies over the whole block" : "",
                    st.nsaved ? ", saved source sectors" : "",
                    st.decoder_ram, key ? ", key id " : "", key ? khex : "");
    }
    if (!key && !unsig && !cli_quiet)
        fprintf(stderr, "dfota: warning: package is unsigned (no --key); devices with a key refuse it\n");
    free(pkg);
    return 0;
}
