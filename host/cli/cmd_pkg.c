/* dfota inspect, verify, apply, digest, sign: everything that reads a
 * package. verify and apply take the device's policy. */
#define _GNU_SOURCE
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "commands.h"
#include "dfota/engine.h"
#include "dfota/error.h"
#include "host_port.h"
#include "util.h"

static int is_signed(const struct dfota_pkg_header *h)
{
    size_t i;
    for (i = 0; i < DFOTA_KEY_ID_LEN; i++)
        if (h->key_id[i])
            return 1;
    return 0;
}

/* The engine RAM a device needs for this package: this build's engine with
 * the decoder the package asks for (a 4k package on a 4k build is smaller
 * than on this host build, whose decoder holds every model). */
static unsigned engine_ram_for(const struct dfota_pkg_header *h)
{
    size_t rest = sizeof(struct dfota_engine) - sizeof(struct dfota_patch);
    uint32_t dec = h->decoder_ram;
    if (dec == 0 || dec > sizeof(struct dfota_patch))
        dec = (uint32_t)sizeof(struct dfota_patch);
    return (unsigned)(rest + dec);
}

static const char *layout_name(const struct dfota_pkg_header *h)
{
    return (h->flags & DFOTA_PKG_F_INPLACE) ? "inplace" : "ab";
}

/* ---- the device policy of verify and apply ---- */
struct policy {
    struct dfota_host_device dev;
    int have_counter, require_signed;
    const char *format;      /* how OLD is read: --input-format, --base */
    uint64_t base;
};

enum { P_PRODUCT = 300, P_COUNTER, P_SLOT, P_LAYOUT, P_SECTOR, P_SCRATCH, P_REQSIG, P_PUB,
       P_SOURCE, P_PASSF, P_PASSE, P_FORMAT, P_BASE };

#define POLICY_OPTIONS                                                                     \
    { "product", required_argument, 0, P_PRODUCT },                                         \
    { "security-counter", required_argument, 0, P_COUNTER },                                \
    { "slot-size", required_argument, 0, P_SLOT },                                          \
    { "layout", required_argument, 0, P_LAYOUT },                                           \
    { "sector-size", required_argument, 0, P_SECTOR },                                      \
    { "scratch-sectors", required_argument, 0, P_SCRATCH },                                 \
    { "require-signed", no_argument, 0, P_REQSIG },                                        \
    { "input-format", required_argument, 0, P_FORMAT },                                     \
    { "base", required_argument, 0, P_BASE }

/* 1: handled, 0: not a policy option, <0: -exit code. */
static int policy_opt(struct policy *p, int c, const char *arg)
{
    switch (c) {
    case P_PRODUCT:
        if (cli_check_id("--product", arg))
            return -EXIT_USAGE;
        p->dev.product = arg;
        return 1;
    case P_COUNTER:
        if (cli_parse_u32(arg, &p->dev.security_counter, 0))
            return -cli_usage("--security-counter '%s': a number from 0 to 4294967295", arg);
        p->have_counter = 1;
        return 1;
    case P_SLOT:
        if (cli_parse_u32(arg, &p->dev.slot_size, 1) || !p->dev.slot_size ||
            p->dev.slot_size > 0x40000000u)
            return -cli_usage("--slot-size '%s': bytes from 1 to 1 GiB (suffixes k, M, KiB, MiB)",
                              arg);
        return 1;
    case P_LAYOUT:
        if (!strcmp(arg, "ab"))
            p->dev.layout = DFOTA_LAYOUT_AB;
        else if (!strcmp(arg, "inplace"))
            p->dev.layout = DFOTA_LAYOUT_INPLACE;
        else
            return -cli_usage("--layout '%s': it is 'ab' or 'inplace'", arg);
        return 1;
    case P_SECTOR:
        if (cli_parse_u32(arg, &p->dev.sector_size, 1) || p->dev.sector_size < 256 ||
            p->dev.sector_size > 1024 * 1024 || (p->dev.sector_size & (p->dev.sector_size - 1)))
            return -cli_usage("--sector-size '%s': a power of two from 256 to 1 MiB (bytes; 4k, "
                              "64KiB accepted)", arg);
        return 1;
    case P_SCRATCH:
        if (cli_parse_u32(arg, &p->dev.scratch_sectors, 0) || p->dev.scratch_sectors < 2 ||
            p->dev.scratch_sectors > DFOTA_MAX_SCRATCH)
            return -cli_usage("--scratch-sectors '%s': 2 to %u", arg, DFOTA_MAX_SCRATCH);
        return 1;
    case P_REQSIG:
        p->require_signed = 1;
        return 1;
    case P_FORMAT:
        return cli_parse_format(arg, &p->format) ? -EXIT_USAGE : 1;
    case P_BASE:
        return cli_parse_base(arg, &p->base) ? -EXIT_USAGE : 1;
    }
    return 0;
}

static int policy_validate(const struct policy *p)
{
    if (p->dev.slot_size && p->dev.sector_size && p->dev.slot_size % p->dev.sector_size)
        return cli_usage("--slot-size %u is not a whole number of %u-byte sectors",
                         p->dev.slot_size, p->dev.sector_size);
    if (p->dev.scratch_sectors && p->dev.layout == DFOTA_LAYOUT_AB)
        return cli_usage("--scratch-sectors is for --layout inplace");
    return 0;
}

/* Explain a policy refusal with the header's and the device's numbers. */
static void policy_explain(const char *path, int rc, const struct dfota_pkg_header *h,
                           const struct policy *p, size_t src_len)
{
    uint32_t ss = p->dev.sector_size ? p->dev.sector_size
                  : (h->flags & DFOTA_PKG_F_INPLACE) && h->sector_size ? h->sector_size : 4096;
    switch (rc) {
    case DFOTA_ERR_PRODUCT:
        cli_err("'%s': product '%s' in the header is not '%s' (%s)", path, h->product,
                p->dev.product ? p->dev.product : "", dfota_strerror(rc));
        break;
    case DFOTA_ERR_DOWNGRADE:
        cli_err("'%s': security counter %u in the header is lower than the device's %u (%s)", path,
                h->security_counter, p->dev.security_counter, dfota_strerror(rc));
        break;
    case DFOTA_ERR_NOSPACE:
        cli_err("'%s': source %u bytes, target %u bytes%s; the slot holds %u bytes (%s)", path,
                h->src_size, h->dst_size,
                src_len > h->src_size ? " (OLD is larger)" : "", p->dev.slot_size,
                dfota_strerror(rc));
        break;
    case DFOTA_ERR_LAYOUT:
        if (h->flags & DFOTA_PKG_F_INPLACE)
            cli_err("'%s': the package is for an in-place device with %u-byte sectors and at least "
                    "%u scratch sectors; this device is %s%s (%s)", path, h->sector_size, h->lag + 2u,
                    p->dev.layout == DFOTA_LAYOUT_AB ? "A/B" : "in place",
                    p->dev.layout == DFOTA_LAYOUT_AB ? "" : (ss != h->sector_size
                        ? ", other sector size" : ", too few scratch sectors"),
                    dfota_strerror(rc));
        else
            cli_err("'%s': the package is for an A/B device; this device updates in place (%s)",
                    path, dfota_strerror(rc));
        if (p->dev.layout == DFOTA_LAYOUT_INPLACE && (h->flags & DFOTA_PKG_F_INPLACE))
            fprintf(stderr, "dfota: device: %u-byte sectors, %u scratch sectors\n", ss,
                    p->dev.scratch_sectors ? p->dev.scratch_sectors : h->lag + 2u);
        break;
    default:
        cli_err("'%s': %s", path, dfota_strerror(rc));
    }
}

/* The engine's checks of load_header, in its order, on the CLI's side. */
static int policy_check(const struct dfota_pkg_header *h, const struct policy *p)
{
    int inplace_pkg = (h->flags & DFOTA_PKG_F_INPLACE) != 0;
    int kind = p->dev.layout ? p->dev.layout : inplace_pkg ? DFOTA_LAYOUT_INPLACE : DFOTA_LAYOUT_AB;
    uint32_t ss = p->dev.sector_size ? p->dev.sector_size
                  : inplace_pkg && h->sector_size ? h->sector_size : 4096;
    if (p->dev.product && p->dev.product[0] && strcmp(p->dev.product, h->product))
        return DFOTA_ERR_PRODUCT;
    if (kind == DFOTA_LAYOUT_INPLACE) {
        uint32_t scratch = p->dev.scratch_sectors ? p->dev.scratch_sectors : h->lag + 2u;
        if (!inplace_pkg || h->sector_size != ss || (uint32_t)h->lag + 2 > scratch)
            return DFOTA_ERR_LAYOUT;
    } else if (inplace_pkg) {
        return DFOTA_ERR_LAYOUT;
    }
    if (p->dev.slot_size && (h->src_size > p->dev.slot_size || h->dst_size > p->dev.slot_size))
        return DFOTA_ERR_NOSPACE;
    if (h->security_counter < p->dev.security_counter)
        return DFOTA_ERR_DOWNGRADE;
    return DFOTA_OK;
}

/* ---- shared checks ---- */
static int check_signature(const char *path, const struct dfota_pkg_header *h, const uint8_t *pkg,
                           const uint8_t pk[32])
{
    uint8_t kid[8];
    char a[17], b[17];
    if (!dfota_pkg_check_signature(h, pkg, pk, dfota_host_crypto()))
        return 0;
    cli_key_id(pk, kid);
    cli_hex(a, h->key_id, 8);
    cli_hex(b, kid, 8);
    if (!is_signed(h))
        cli_err("'%s': %s: the package is unsigned (key id 0000000000000000), the key is %s",
                path, dfota_strerror(DFOTA_ERR_SIGNATURE), b);
    else if (memcmp(kid, h->key_id, 8))
        cli_err("'%s': %s: signed by key %s, not by the given key %s", path,
                dfota_strerror(DFOTA_ERR_SIGNATURE), a, b);
    else
        cli_err("'%s': %s: key %s matches but the signature does not hold (header altered?)",
                path, dfota_strerror(DFOTA_ERR_SIGNATURE), a);
    return EXIT_SIGNATURE;
}

static int check_source(const char *path, const char *srcpath, const struct dfota_pkg_header *h,
                        const uint8_t *src, size_t slen)
{
    uint8_t d[32];
    char want[17], got[17];

    dfota_host_sha256(src, slen, d);
    if (slen == h->src_size && !memcmp(d, h->src_sha256, 32))
        return 0;
    cli_hex(want, h->src_sha256, 8);
    cli_hex(got, d, 8);
    if (slen == h->dst_size && !memcmp(d, h->dst_sha256, 32))
        cli_err("'%s' was not built from '%s': it already is the target %s (%zu bytes, sha256 "
                "%s...)", path, srcpath, h->dst_version, slen, got);
    else
        cli_err("'%s' was not built from '%s' (source %s expected: %u bytes, sha256 %s...; "
                "given: %zu bytes, sha256 %s...): %s", path, srcpath, h->src_version, h->src_size,
                want, slen, got, dfota_strerror(DFOTA_ERR_SOURCE));
    return EXIT_SOURCE;
}

static int payload_ok(const struct dfota_pkg_header *h, const uint8_t *pkg)
{
    uint8_t d[32];
    dfota_host_sha256(pkg + h->header_size, h->payload_size, d);
    return !memcmp(d, h->payload_sha256, 32);
}

/* ---- inspect ---- */
int cmd_inspect(int argc, char **argv)
{
    static const struct option lo[] = { { "json", no_argument, 0, 'j' },
                                        { "pub", required_argument, 0, P_PUB },
                                        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    struct dfota_pkg_header h;
    uint8_t *pkg, pk[32];
    size_t len;
    char s_src[65], s_dst[65], s_pay[65], s_kid[17], s_pk[17], s_sig[129];
    const char *pub = NULL, *path;
    int c, json = 0, rc, pok, sig = -1;
    char runs[CLI_RUNS_STR_MAX], saved[DFOTA_MAX_SAVED * 11 + 1];

    while ((c = cli_getopt(argc, argv, "jh", lo)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case P_PUB: pub = optarg; break;
        case 'h': return 0;
        default: return EXIT_USAGE;
        }
    }
    if (argc - optind != 1)
        return cli_usage("inspect needs one PKG ('-': stdin)");
    path = argv[optind];
    if (pub && (rc = cli_read_public_key(pub, NULL, pk)))
        return rc;
    if ((rc = cli_read_package(path, &pkg, &len, &h)))
        return rc;
    if (!strcmp(path, "-"))
        path = "(stdin)";
    pok = payload_ok(&h, pkg);
    if (pub) {
        uint8_t kid[8];
        sig = dfota_pkg_check_signature(&h, pkg, pk, dfota_host_crypto()) == 0;
        cli_key_id(pk, kid);
        cli_hex(s_pk, kid, 8);
    }
    cli_hex(s_src, h.src_sha256, 32);
    cli_hex(s_dst, h.dst_sha256, 32);
    cli_hex(s_pay, h.payload_sha256, 32);
    cli_hex(s_kid, h.key_id, DFOTA_KEY_ID_LEN);
    cli_hex(s_sig, h.signature, DFOTA_SIG_LEN);
    runs[0] = 0;
    if (h.flags & DFOTA_PKG_F_INPLACE)
        cli_runs_str(runs, h.runs, h.nruns);
    saved[0] = 0;
    {
        uint32_t k;
        for (k = 0; k < h.nsaved && k < DFOTA_MAX_SAVED; k++)
            snprintf(saved + strlen(saved), sizeof saved - strlen(saved), "%s%u", k ? "," : "",
                     h.saved[k]);
    }
    if (json) {
        putchar('{');
        printf("\"format_version\":%u", h.format_version);
        cli_json_put("product", h.product, 1);
        printf(",\"layout\":\"%s\",\"direction\":\"%s\",\"runs\":\"%s\",\"sector_size\":%u,"
               "\"lag\":%u,\"scratch_sectors\":%u,\"flags\":%u,\"target_window\":\"%s\","
               "\"saved\":\"%s\","
               "\"block_digest\":%u,"
               "\"block_check\":\"%s\",\"staging_need\":%u,\"source\":{",
               layout_name(&h),
               (h.flags & DFOTA_PKG_F_RUNS) ? "runs" : (h.flags & DFOTA_PKG_F_BACKWARD) ? "backward"
                                                                          : "forward",
               runs,
               h.sector_size, h.lag, (h.flags & DFOTA_PKG_F_INPLACE) ? h.lag + 2u : 0u, h.flags,
               !(h.flags & DFOTA_PKG_F_INPLACE) ? "all" : (h.flags & DFOTA_PKG_F_BLOCKWIN) ? "block" : "ring",
               saved, dfota_pkg_chain_entry_len(&h),
               (h.flags & DFOTA_PKG_F_DEVTABLE) ? "device" : (h.flags & DFOTA_PKG_F_BLOCKHASH)
                                                            ? "chain" : "none",
               dfota_staging_need(&h, (h.flags & DFOTA_PKG_F_INPLACE) ? h.sector_size : 4096u, 1));
        cli_json_put("version", h.src_version, 0);
        printf(",\"size\":%u,\"sha256\":\"%s\"},\"target\":{", h.src_size, s_src);
        cli_json_put("version", h.dst_version, 0);
        printf(",\"size\":%u,\"sha256\":\"%s\"},", h.dst_size, s_dst);
        printf("\"algorithm\":%u,\"coder\":%u,\"package_size\":%zu,\"payload_size\":%u,"
               "\"payload_sha256\":\"%s\",\"payload_ok\":%s,\"security_counter\":%u,"
               "\"stream_crc32\":\"%08x\",\"signed\":%s,\"key_id\":\"%s\",\"signature\":\"%s\","
               "\"signature_ok\":%s,\"header_size\":%u,"
               "\"decoder_ram\":%u,\"engine_ram\":%u,\"sector_buffer\":0}\n",
               h.algorithm, h.coder, len, h.payload_size, s_pay, pok ? "true" : "false",
               h.security_counter, h.stream_crc32, is_signed(&h) ? "true" : "false", s_kid, s_sig,
               sig < 0 ? "null" : sig ? "true" : "false", h.header_size, h.decoder_ram,
               engine_ram_for(&h));
    } else {
        printf("package      %s (%zu bytes, format %u, header %u bytes)\n", path, len,
               h.format_version, h.header_size);
        printf("product      %s\n", h.product[0] ? h.product : "(any)");
        printf("source       %-16s %9u bytes  sha256 %s\n", h.src_version, h.src_size, s_src);
        printf("target       %-16s %9u bytes  sha256 %s\n", h.dst_version, h.dst_size, s_dst);
        if (h.flags & DFOTA_PKG_F_RUNS)
            printf("layout       in place, %u-byte sectors, written in %u runs of sectors (%s); "
                   "lag %u: the device needs %u scratch sectors\n", h.sector_size, h.nruns, runs,
                   h.lag, h.lag + 2u);
        else if (h.flags & DFOTA_PKG_F_INPLACE)
            printf("layout       in place, %u-byte sectors, written %s; lag %u: the device needs "
                   "%u scratch sectors\n", h.sector_size,
                   (h.flags & DFOTA_PKG_F_BACKWARD) ? "last sector first" : "first sector first",
                   h.lag, h.lag + 2u);
        else
            printf("layout       A/B (target goes to the other bank)\n");
        if (h.flags & DFOTA_PKG_F_BLOCKHASH)
            printf("block chain  %u-byte entries, one per sector%s (%llu bytes at the payload's end)\n",
                   dfota_pkg_chain_entry_len(&h),
                   (h.flags & DFOTA_PKG_F_BLOCKSTATE) ? ", over each block's end state" : "",
                   (unsigned long long)dfota_pkg_table_size(&h));
        else if (h.flags & DFOTA_PKG_F_DEVTABLE)
            printf("block check  the device's digest table, over each block's end state (none in "
                   "the package; %u bytes after it in staging, flash programmed in units up to "
                   "16 bytes: staging >= %u bytes)\n", dfota_devtable_size(&h, 1),
                   dfota_staging_need(&h, h.sector_size, 1));
        else if (h.flags & DFOTA_PKG_F_INPLACE)
            printf("block chain  none\n");
        if (h.flags & DFOTA_PKG_F_BLOCKWIN)
            printf("copy window  target copies reach the whole current block: the dry run "
                   "programs each block into scratch\n");
        if (h.flags & DFOTA_PKG_F_SAVED)
            printf("saved        source sector%s %s: copied into staging before the update, "
                   "read there once overwritten (%u bytes of staging)\n", h.nsaved > 1 ? "s" : "",
                   saved, dfota_saved_size(&h));
        printf("delta        %s (algorithm %u), coder %u; payload %u bytes %s; package %.2f%% of "
               "target\n", h.algorithm == 1 ? "DZ1" : h.algorithm == 2 ? "DZ2" : "?", h.algorithm,
               h.coder, h.payload_size, pok ? "ok" : "CORRUPT",
               h.dst_size ? 100.0 * len / h.dst_size : 0.0);
        printf("payload      sha256 %s\n", s_pay);
        if (h.format_version == DFOTA_PKG_FORMAT_V1 || (h.flags & DFOTA_PKG_F_INPLACE))
            printf("stream CRC   %08x (CRC-32 of the target in production order)\n",
                   h.stream_crc32);
        else
            printf("stream CRC   none (an A/B header of format 2 carries none)\n");
        printf("device RAM   decoder %u bytes, whole engine %u bytes\n", h.decoder_ram,
               engine_ram_for(&h));
        printf("security     counter %u\n", h.security_counter);
        printf("signature    %s\n", !is_signed(&h) ? "none (unsigned package)"
                                    : sig < 0 ? "Ed25519 (not checked: give --pub KEY.pub)"
                                    : sig ? "Ed25519, good (checked with --pub)"
                                          : "Ed25519, BAD for the given key");
        if (is_signed(&h)) {
            printf("key id       %s\n", s_kid);
            printf("sig bytes    %.64s\n             %s\n", s_sig, s_sig + 64);
        }
        if (pub)
            printf("given key    %s\n", s_pk);
    }
    free(pkg);
    return 0;
}

/* ---- verify ---- */
int cmd_verify(int argc, char **argv)
{
    static const struct option lo[] = { { "pub", required_argument, 0, P_PUB },
                                        { "source", required_argument, 0, P_SOURCE },
                                        POLICY_OPTIONS,
                                        { "quiet", no_argument, 0, 'q' },
                                        { "json", no_argument, 0, 'j' },
                                        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    struct policy pol;
    const char *pub = NULL, *srcpath = NULL, *path;
    struct dfota_pkg_header h;
    uint8_t *pkg, *src, pk[32];
    size_t len, slen;
    int c, rc, json = 0;

    memset(&pol, 0, sizeof pol);
    pol.format = "auto";
    pol.base = UINT64_MAX;
    while ((c = cli_getopt(argc, argv, "qjh", lo)) != -1) {
        int r = policy_opt(&pol, c, optarg);
        if (r < 0)
            return -r;
        if (r)
            continue;
        switch (c) {
        case P_PUB: pub = optarg; break;
        case P_SOURCE: srcpath = optarg; break;
        case 'q': cli_quiet = 1; break;
        case 'j': json = 1; break;
        case 'h': return 0;
        default: return EXIT_USAGE;
        }
    }
    if (argc - optind != 1)
        return cli_usage("verify needs one PKG ('-': stdin)");
    if ((rc = policy_validate(&pol)))
        return rc;
    path = argv[optind];
    if (srcpath && !strcmp(srcpath, "-") && !strcmp(path, "-"))
        return cli_usage("the package and --source cannot both be stdin");
    if (pub && (rc = cli_read_public_key(pub, NULL, pk)))
        return rc;
    if ((rc = cli_read_package(path, &pkg, &len, &h)))
        return rc;
    if (!strcmp(path, "-"))
        path = "(stdin)";
    if (!payload_ok(&h, pkg)) {
        cli_err("'%s': %s", path, dfota_strerror(DFOTA_ERR_PAYLOAD));
        free(pkg);
        return EXIT_INVALID;
    }
    if (pub && (rc = check_signature(path, &h, pkg, pk))) {
        free(pkg);
        return rc;
    }
    if (!pub && pol.require_signed && !is_signed(&h)) {
        cli_err("'%s': the package is unsigned and --require-signed is given", path);
        free(pkg);
        return EXIT_SIGNATURE;
    }
    if ((rc = policy_check(&h, &pol))) {
        policy_explain(path, rc, &h, &pol, 0);
        free(pkg);
        return cli_exit_for(rc);
    }
    /* Only now trust the header's source digest: a tampered header is an
     * invalid or forged package, not a wrong source. */
    if (srcpath) {
        if (pol.dev.slot_size)
            cli_over_exit = EXIT_POLICY;     /* OLD larger than the slot: no space */
        if ((rc = cli_read_image(srcpath, pol.format, pol.base,
                                 pol.dev.slot_size ? pol.dev.slot_size : CLI_IMAGE_MAX, &src, &slen))) {
            free(pkg);
            return rc;
        }
        rc = check_source(path, srcpath, &h, src, slen);
        free(src);
        if (rc) {
            free(pkg);
            return rc;
        }
    }
    free(pkg);
    if (json) {
        char kid[17];
        cli_hex(kid, h.key_id, 8);
        putchar('{');
        cli_json_put("package", path, 0);
        printf(",\"ok\":true,\"signed\":%s,\"signature_checked\":%s,\"key_id\":\"%s\","
               "\"source_checked\":%s,\"policy_checked\":%s", is_signed(&h) ? "true" : "false",
               pub ? "true" : "false", kid, srcpath ? "true" : "false",
               (pol.dev.product || pol.have_counter || pol.dev.slot_size || pol.dev.layout ||
                pol.dev.sector_size || pol.dev.scratch_sectors) ? "true" : "false");
        cli_json_put("from", h.src_version, 1);
        cli_json_put("to", h.dst_version, 1);
        printf("}\n");
    } else if (!cli_quiet) {
        printf("%s: ok (%s -> %s%s%s%s)\n", path, h.src_version, h.dst_version,
               pub ? ", signature good" : (is_signed(&h) ? ", signature not checked" : ", unsigned"),
               srcpath ? ", source matches" : "",
               (pol.dev.product || pol.have_counter || pol.dev.slot_size || pol.dev.layout ||
                pol.dev.sector_size || pol.dev.scratch_sectors) ? ", fits the device" : "");
    }
    return 0;
}

/* ---- apply ---- */
struct apply_job {
    struct cli_bar bar;
    int phase;
};

enum { A_READ, A_CHECK, A_APPLY, A_VERIFY, A_WRITE };

static void apply_progress(void *ctx, int phase, unsigned pct)
{
    struct apply_job *j = ctx;
    if (phase > j->phase) {
        j->phase = phase;
        cli_bar_next(&j->bar, phase == DFOTA_PHASE_CHECK ? "check"
                              : phase == DFOTA_PHASE_APPLY ? "apply" : "verify");
    }
    if (phase == j->phase)
        cli_bar_frac(&j->bar, pct / 100.0);
}

int cmd_apply(int argc, char **argv)
{
    static const struct option lo[] = { { "pub", required_argument, 0, P_PUB },
                                        { "output", required_argument, 0, 'o' },
                                        POLICY_OPTIONS,
                                        { "force", no_argument, 0, 'f' },
                                        { "quiet", no_argument, 0, 'q' },
                                        { "verbose", no_argument, 0, 'v' },
                                        { "json", no_argument, 0, 'j' },
                                        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    struct policy pol;
    const char *pub = NULL, *out = NULL, *pkgpath, *srcpath, *inputs[3];
    struct dfota_pkg_header h;
    struct apply_job job;
    struct dfota_host_apply_stats stats;
    uint8_t *pkg, *src, *dst, pk[32];
    size_t len, slen, dlen;
    int c, rc, force = 0, json = 0;
    double t0 = cli_now(), secs;

    memset(&pol, 0, sizeof pol);
    pol.format = "auto";
    pol.base = UINT64_MAX;
    while ((c = cli_getopt(argc, argv, "o:fqvjh", lo)) != -1) {
        int r = policy_opt(&pol, c, optarg);
        if (r < 0)
            return -r;
        if (r)
            continue;
        switch (c) {
        case P_PUB: pub = optarg; break;
        case 'o': out = optarg; break;
        case 'f': force = 1; break;
        case 'q': cli_quiet = 1; break;
        case 'v': cli_verbose = 1; break;
        case 'j': json = 1; break;
        case 'h': return 0;
        default: return EXIT_USAGE;
        }
    }
    if (!out || argc - optind != 2)
        return cli_usage("apply needs OLD PKG -o NEW");
    if ((rc = policy_validate(&pol)))
        return rc;
    srcpath = argv[optind];
    pkgpath = argv[optind + 1];
    if (!strcmp(srcpath, "-") && !strcmp(pkgpath, "-"))
        return cli_usage("OLD and PKG cannot both be stdin");
    if (json && cli_is_stdout(out))
        return cli_usage("--json and -o - both want stdout");
    inputs[0] = srcpath;
    inputs[1] = pkgpath;
    inputs[2] = pub;
    if ((rc = cli_check_output(out, force, inputs, 3)))
        return rc;
    if (pub && (rc = cli_read_public_key(pub, NULL, pk)))
        return rc;
    cli_bar_start(&job.bar);
    job.phase = 0;
    {
        /* seconds per MB of target, measured with `dfota apply -v`; in
         * place the check includes a dry run of the whole decode */
        double mb = cli_size_mb(srcpath) + 0.001;
        cli_bar_plan(&job.bar, A_READ, 0.005 * mb);
        cli_bar_plan(&job.bar, A_CHECK, 0.02 * mb);
        cli_bar_plan(&job.bar, A_APPLY, 0.3 * mb);
        cli_bar_plan(&job.bar, A_VERIFY, 0.01 * mb);
        cli_bar_plan(&job.bar, A_WRITE, 0.004 * mb);
    }
    cli_bar_next(&job.bar, "read");
    if ((rc = cli_read_package(pkgpath, &pkg, &len, &h))) {
        cli_bar_end(&job.bar);
        return rc;
    }
    if (!strcmp(pkgpath, "-"))
        pkgpath = "(stdin)";
    rc = 0;
    if (!payload_ok(&h, pkg)) {
        cli_err("'%s': %s", pkgpath, dfota_strerror(DFOTA_ERR_PAYLOAD));
        rc = EXIT_INVALID;
    } else if (pub) {
        rc = check_signature(pkgpath, &h, pkg, pk);
    } else if (pol.require_signed && !is_signed(&h)) {
        cli_err("'%s': the package is unsigned and --require-signed is given", pkgpath);
        rc = EXIT_SIGNATURE;
    }
    if (pol.dev.slot_size)
        cli_over_exit = EXIT_POLICY;         /* OLD larger than the slot: no space */
    if (!rc && (rc = cli_read_image(srcpath, pol.format, pol.base,
                                    pol.dev.slot_size ? pol.dev.slot_size : CLI_IMAGE_MAX, &src,
                                    &slen)) == 0) {
        /* the source check names sizes and digests; the engine repeats it */
        rc = check_source(pkgpath, srcpath, &h, src, slen);
        if (rc)
            free(src);
    }
    if (rc) {
        cli_bar_end(&job.bar);
        free(pkg);
        return rc;
    }
    if (h.flags & DFOTA_PKG_F_INPLACE)
        job.bar.pred[A_CHECK] = job.bar.pred[A_APPLY];
    rc = dfota_host_apply_dev(src, slen, pkg, len, pub ? pk : NULL, &pol.dev, &dst, &dlen,
                              apply_progress, &job, &stats);
    free(src);
    if (rc) {
        cli_bar_end(&job.bar);
        if (rc == DFOTA_ERR_PRODUCT || rc == DFOTA_ERR_LAYOUT || rc == DFOTA_ERR_NOSPACE ||
            rc == DFOTA_ERR_DOWNGRADE)
            policy_explain(pkgpath, rc, &h, &pol, slen);
        else if (rc == DFOTA_ERR_ARG)
            cli_err("apply failed: the device configuration is not valid (%s)", dfota_strerror(rc));
        else
            cli_err("apply failed: %s", dfota_strerror(rc));
        free(pkg);
        return cli_exit_for(rc);
    }
    free(pkg);
    while (job.phase < DFOTA_PHASE_VERIFY)     /* steps the engine did not report */
        apply_progress(&job, job.phase + 1, 100);
    cli_bar_next(&job.bar, "write");
    rc = cli_write_output(out, dst, dlen, 0644, force);
    if (rc)
        cli_bar_end(&job.bar);
    else
        cli_bar_finish(&job.bar);
    free(dst);
    if (rc)
        return rc;
    secs = cli_now() - t0;
    if (json) {
        putchar('{');
        cli_json_put("output", out, 0);
        printf(",\"target_size\":%zu,\"layout\":\"%s\",\"erases\":%llu,\"programs\":%llu,"
               "\"bytes_programmed\":%llu,\"bytes_read\":%llu,\"max_sector_erases\":%u,"
               "\"engine_ram\":%u,\"seconds\":%.3f}\n", dlen, layout_name(&h),
               (unsigned long long)stats.erases, (unsigned long long)stats.progs,
               (unsigned long long)stats.prog_bytes, (unsigned long long)stats.read_bytes,
               stats.max_sector_erases, stats.engine_ram, secs);
    } else if (!cli_quiet) {
        fprintf(stderr, "dfota: %s: %zu bytes (%s -> %s), %s; %llu erases, %llu bytes programmed, "
                "%.2f s\n", cli_is_stdout(out) ? "(stdout)" : out, dlen, h.src_version,
                h.dst_version, (h.flags & DFOTA_PKG_F_INPLACE) ? "in place" : "A/B",
                (unsigned long long)stats.erases, (unsigned long long)stats.prog_bytes, secs);
        if (cli_verbose)
            fprintf(stderr, "dfota: %llu program operations, %llu bytes read, at most %u erases of "
                    "one sector, engine RAM %u bytes\n", (unsigned long long)stats.progs,
                    (unsigned long long)stats.read_bytes, stats.max_sector_erases,
                    stats.engine_ram);
    }
    return 0;
}

/* ---- detached signing ---- */

/* The signed bytes (every header byte before the signature) with the key
 * id of pk in place; returns their count. */
static size_t signed_bytes(uint8_t *msg, const uint8_t *pkg, const struct dfota_pkg_header *h,
                           const uint8_t pk[32])
{
    uint8_t kid[8];
    memcpy(msg, pkg, dfota_pkg_signed_size(h));
    cli_key_id(pk, kid);
    memcpy(msg + dfota_pkg_key_id_offset(h), kid, 8);
    return dfota_pkg_signed_size(h);
}

int cmd_digest(int argc, char **argv)
{
    static const struct option lo[] = { { "pub", required_argument, 0, P_PUB },
                                        { "output", required_argument, 0, 'o' },
                                        { "force", no_argument, 0, 'f' },
                                        { "json", no_argument, 0, 'j' },
                                        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    const char *pub = NULL, *out = NULL, *inputs[2];
    struct dfota_pkg_header h;
    uint8_t *pkg, pk[32], msg[DFOTA_PKG_HEADER_MAX], d[32];
    char hex[2 * DFOTA_PKG_HEADER_MAX + 1], dh[65], kh[17];
    size_t len, mlen;
    int c, rc, force = 0, json = 0;

    while ((c = cli_getopt(argc, argv, "o:fjh", lo)) != -1) {
        switch (c) {
        case P_PUB: pub = optarg; break;
        case 'o': out = optarg; break;
        case 'f': force = 1; break;
        case 'j': json = 1; break;
        case 'h': return 0;
        default: return EXIT_USAGE;
        }
    }
    if (!pub || argc - optind != 1)
        return cli_usage("digest needs --pub KEY.pub and one PKG");
    inputs[0] = argv[optind];
    inputs[1] = pub;
    if (out && (rc = cli_check_output(out, force, inputs, 2)))
        return rc;
    if ((rc = cli_read_public_key(pub, NULL, pk)))
        return rc;
    if ((rc = cli_read_package(argv[optind], &pkg, &len, &h)))
        return rc;
    if (!payload_ok(&h, pkg)) {
        cli_err("'%s': %s", argv[optind], dfota_strerror(DFOTA_ERR_PAYLOAD));
        free(pkg);
        return EXIT_INVALID;
    }
    mlen = signed_bytes(msg, pkg, &h, pk);
    free(pkg);
    if (out)
        return cli_write_output(out, msg, mlen, 0644, force);
    cli_hex(hex, msg, mlen);
    dfota_host_sha256(msg, mlen, d);
    cli_hex(dh, d, 32);
    cli_hex(kh, msg + dfota_pkg_key_id_offset(&h), 8);
    if (json)
        printf("{\"key_id\":\"%s\",\"message\":\"%s\",\"message_size\":%zu,\"sha256\":\"%s\"}\n", kh,
               hex, mlen, dh);
    else
        printf("%s\n", hex);
    return 0;
}

/* A detached signature file: 64 raw bytes, or 128 hex digits. */
static int read_signature(const char *path, uint8_t sig[64])
{
    uint8_t *b;
    size_t n, i, k = 0;
    int rc = cli_read_input(path, "a signature file", 4096, &b, &n);
    if (rc)
        return rc;
    if (n == 64) {
        memcpy(sig, b, 64);
        free(b);
        return 0;
    }
    for (i = 0; i < n && k <= 128; i++) {
        int v = b[i] >= '0' && b[i] <= '9' ? b[i] - '0' : b[i] >= 'a' && b[i] <= 'f' ? b[i] - 'a' + 10
              : b[i] >= 'A' && b[i] <= 'F' ? b[i] - 'A' + 10 : -1;
        if (v < 0) {
            if (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t')
                continue;
            k = 999;
            break;
        }
        if (k < 128)
            sig[k / 2] = (uint8_t)(k & 1 ? sig[k / 2] | v : v << 4);
        k++;
    }
    free(b);
    if (k != 128) {
        cli_err("'%s' is not an Ed25519 signature (64 raw bytes or 128 hex digits; %zu bytes)",
                path, n);
        return EXIT_IO;
    }
    return 0;
}

int cmd_sign(int argc, char **argv)
{
    enum { O_KEY = 400, O_SIG, O_PASSF, O_PASSE };
    static const struct option lo[] = { { "key", required_argument, 0, O_KEY },
                                        { "pub", required_argument, 0, P_PUB },
                                        { "signature", required_argument, 0, O_SIG },
                                        { "pass-file", required_argument, 0, O_PASSF },
                                        { "pass-env", required_argument, 0, O_PASSE },
                                        { "output", required_argument, 0, 'o' },
                                        { "force", no_argument, 0, 'f' },
                                        { "quiet", no_argument, 0, 'q' },
                                        { "json", no_argument, 0, 'j' },
                                        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    struct cli_pass pass = { NULL, NULL };
    const char *key = NULL, *pub = NULL, *sigpath = NULL, *out = NULL, *inputs[4];
    struct dfota_pkg_header h;
    uint8_t *pkg, pk[32], sk[64], msg[DFOTA_PKG_HEADER_MAX], sig[64];
    size_t len, mlen;
    int c, rc, force = 0, json = 0;
    char kh[17];

    while ((c = cli_getopt(argc, argv, "o:fqh", lo)) != -1) {
        switch (c) {
        case O_KEY: key = optarg; break;
        case P_PUB: pub = optarg; break;
        case O_SIG: sigpath = optarg; break;
        case O_PASSF: pass.file = optarg; break;
        case O_PASSE: pass.env = optarg; break;
        case 'o': out = optarg; break;
        case 'f': force = 1; break;
        case 'q': cli_quiet = 1; break;
        case 'j': json = 1; break;
        case 'h': return 0;
        default: return EXIT_USAGE;
        }
    }
    if (!out || argc - optind != 1)
        return cli_usage("sign needs one PKG and -o OUT");
    if (json && cli_is_stdout(out))
        return cli_usage("--json and -o - both want stdout");
    if (!key == !sigpath)
        return cli_usage("sign needs --key KEY, or --signature SIG with --pub KEY.pub");
    if (sigpath && !pub)
        return cli_usage("--signature needs --pub KEY.pub (the key that made it)");
    inputs[0] = argv[optind];
    inputs[1] = key;
    inputs[2] = pub;
    inputs[3] = sigpath;
    if ((rc = cli_check_output(out, force, inputs, 4)))
        return rc;
    if (key && (rc = cli_read_secret_key(key, &pass, sk)))
        return rc;
    if (key)
        memcpy(pk, sk + 32, 32);
    else if ((rc = cli_read_public_key(pub, NULL, pk)) || (rc = read_signature(sigpath, sig)))
        return rc;
    if ((rc = cli_read_package(argv[optind], &pkg, &len, &h))) {
        sodium_memzero(sk, sizeof sk);
        return rc;
    }
    if (!payload_ok(&h, pkg)) {
        cli_err("'%s': %s", argv[optind], dfota_strerror(DFOTA_ERR_PAYLOAD));
        sodium_memzero(sk, sizeof sk);
        free(pkg);
        return EXIT_INVALID;
    }
    mlen = signed_bytes(msg, pkg, &h, pk);
    if (key) {
        rc = dfota_host_sign(sk, msg, mlen, sig);
        sodium_memzero(sk, sizeof sk);
        if (rc) {
            cli_err("signing failed");
            free(pkg);
            return EXIT_INTERNAL;
        }
    }
    memcpy(pkg, msg, mlen);
    memcpy(pkg + mlen, sig, 64);
    if ((rc = dfota_pkg_parse(&h, pkg, len)) == 0 && (rc = check_signature(argv[optind], &h, pkg, pk))) {
        if (sigpath)
            cli_err("'%s' is not a signature of these bytes by this key ('dfota digest' prints "
                    "them)", sigpath);
        free(pkg);
        return rc;
    }
    rc = cli_write_output(out, pkg, len, 0644, force);
    free(pkg);
    cli_hex(kh, msg + dfota_pkg_key_id_offset(&h), 8);
    if (!rc && json) {
        putchar('{');
        cli_json_put("package", out, 0);
        printf(",\"key_id\":\"%s\",\"detached\":%s}\n", kh, sigpath ? "true" : "false");
    } else if (!rc && !cli_quiet) {
        fprintf(stderr, "dfota: %s: signed, key id %s\n", cli_is_stdout(out) ? "(stdout)" : out, kh);
    }
    return rc;
}
