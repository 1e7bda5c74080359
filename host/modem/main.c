/* dfota-modem: a BC20-style module on a laptop. The module core
 * (module/, include/dfota/module.h) and libdfota do everything a module
 * does; this file is its board: the command line, the flash file, the
 * serial port, the network and the clock, in one poll loop. */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "dfota/error.h"
#include "modem.h"
#include "util.h"

#define CUT_EXIT 137      /* status after a simulated power cut, as after kill -9 */

static const char usage_text[] =
"usage: dfota-modem --flash FILE [--firmware IMG --revision REV] [transport] [options]\n"
"\n"
"A BC20-style NB-IoT module doing DFOTA, with libdfota inside: send it\n"
"AT+QFOTADL=\"<url>\" and watch the +QIND: \"FOTA\",... URCs (docs/modem.md).\n"
"\n"
"Flash (geometry is fixed when FILE is made and kept in its header):\n"
"  --flash FILE              the module's whole flash; kill -9 is a power cut\n"
"  --firmware IMG            first use: make FILE with IMG in the firmware slot\n"
"  --revision REV            first use: the revision IMG reports (ATI, AT+CGMR)\n"
"  --layout ab|inplace       two banks (default) or one region rewritten in place\n"
"  --sector-size N           erase sector, power of two >= 256 (default 4096)\n"
"  --prog-size N             program unit, power of two <= 256 (default 16)\n"
"  --scratch-sectors N       in place: scratch sectors, 2 to 16 (default 8)\n"
"  --slot-size N             bytes of a bank (default: the image + 1/4, >= 16 sectors)\n"
"  --staging-size N          bytes for the downloaded package (default: the slot size)\n"
"  --cut-after-flash-ops N   power cut when the Nth erase/program of this run starts\n"
"  --cut-torn                that operation is left half done (default: not done)\n"
"\n"
"Firmware checks:\n"
"  --pubkey FILE             Ed25519 public key packages must be signed with (PEM or\n"
"                            32 raw bytes); without it unsigned packages are accepted\n"
"  --product ID              accept only packages for this product id\n"
"  --security-counter N      refuse packages with a lower counter (default 0)\n"
"\n"
"Serial port (one of):\n"
"  (default)                 a pty; its path is printed on stdout\n"
"  --pty-link PATH           also make PATH a symlink to the pty\n"
"  --tcp PORT                one client at a time on 127.0.0.1:PORT (0: any free port;\n"
"                            127.0.0.1:PORT is printed on stdout)\n"
"  --stdio                   AT on stdin, responses on stdout; ends at EOF once idle\n"
"  --wait-connect            power up only when a host opens the pty / connects\n"
"\n"
"AT behaviour:\n"
"  --percent-form bc20|plain|percent   \", 1%\" (default), \",1\" or \",1%\"\n"
"  --manufacturer S          ATI line 1 (default Quectel_Ltd)\n"
"  --model S                 ATI line 2 (default Quectel_BC20)\n"
"  --stall-timeout S         a GET without data for S seconds is abandoned (default 30)\n"
"  --retries N               resumed GETs after a failure before HTTPEND,12 (default 3)\n"
"  --progress-ms N           a DOWNLOADING URC at least every N ms with news (default 2000)\n"
"\n"
"HTTP(S) and the link:\n"
"  --ca FILE                 CA certificates for HTTPS (default: the system's)\n"
"  --link nbiot|unlimited    preset: nbiot = 26 kbit/s down, 800 ms round trip\n"
"  --link-kbps N             downlink rate in kbit/s (default 0: unlimited)\n"
"  --latency-ms N            round trip; a GET waits 2 (http) or 3 (https) of them\n"
"  --outage-after-bytes N    the network drops once N body bytes have arrived\n"
"  --outage-at S             the network drops S seconds after start\n"
"  --outage-for S            and comes back after S seconds (default 30)\n"
"  --registration STATE      registered|roaming|searching|denied|none (default registered)\n"
"  --registration-delay-ms N searching for N ms after power-up and AT+CFUN=1 (default 0)\n"
"  --ip ADDR                 address of the default PDN (default 10.0.0.5)\n"
"  --operator MCCMNC         numeric operator for AT+COPS? (default 46011)\n"
"  --rxlev N, --ber N, --rsrq N, --rsrp N\n"
"                            AT+CESQ values (default 47, 6, 0, 54: the guide's example;\n"
"                            an NB-IoT module without GSM values prints 99,99)\n"
"\n"
"  -v, --verbose             log HTTP, network and core events on stderr\n"
"  -h, --help                this text\n"
"  --version                 the version\n";

enum {
    O_FLASH = 256, O_FIRMWARE, O_REVISION, O_LAYOUT, O_SECTOR, O_PROG, O_SCRATCH, O_SLOT,
    O_STAGING, O_CUT, O_CUT_TORN, O_PUBKEY, O_PRODUCT, O_SECCNT, O_PTYLINK, O_TCP, O_STDIO,
    O_WAIT, O_PCT, O_MANUF, O_MODEL, O_STALL, O_RETRIES, O_PROGRESS, O_CA, O_LINK, O_KBPS,
    O_LATENCY, O_OUT_BYTES, O_OUT_AT, O_OUT_FOR, O_REG, O_REG_DELAY, O_IP, O_OPER, O_RSRQ,
    O_RSRP, O_RXLEV, O_BER, O_VERSION,
};

static const struct option long_opts[] = {
    { "flash", required_argument, 0, O_FLASH },
    { "firmware", required_argument, 0, O_FIRMWARE },
    { "revision", required_argument, 0, O_REVISION },
    { "layout", required_argument, 0, O_LAYOUT },
    { "sector-size", required_argument, 0, O_SECTOR },
    { "prog-size", required_argument, 0, O_PROG },
    { "scratch-sectors", required_argument, 0, O_SCRATCH },
    { "slot-size", required_argument, 0, O_SLOT },
    { "staging-size", required_argument, 0, O_STAGING },
    { "cut-after-flash-ops", required_argument, 0, O_CUT },
    { "cut-torn", no_argument, 0, O_CUT_TORN },
    { "pubkey", required_argument, 0, O_PUBKEY },
    { "product", required_argument, 0, O_PRODUCT },
    { "security-counter", required_argument, 0, O_SECCNT },
    { "pty-link", required_argument, 0, O_PTYLINK },
    { "tcp", required_argument, 0, O_TCP },
    { "stdio", no_argument, 0, O_STDIO },
    { "wait-connect", no_argument, 0, O_WAIT },
    { "percent-form", required_argument, 0, O_PCT },
    { "manufacturer", required_argument, 0, O_MANUF },
    { "model", required_argument, 0, O_MODEL },
    { "stall-timeout", required_argument, 0, O_STALL },
    { "retries", required_argument, 0, O_RETRIES },
    { "progress-ms", required_argument, 0, O_PROGRESS },
    { "ca", required_argument, 0, O_CA },
    { "link", required_argument, 0, O_LINK },
    { "link-kbps", required_argument, 0, O_KBPS },
    { "latency-ms", required_argument, 0, O_LATENCY },
    { "outage-after-bytes", required_argument, 0, O_OUT_BYTES },
    { "outage-at", required_argument, 0, O_OUT_AT },
    { "outage-for", required_argument, 0, O_OUT_FOR },
    { "registration", required_argument, 0, O_REG },
    { "registration-delay-ms", required_argument, 0, O_REG_DELAY },
    { "ip", required_argument, 0, O_IP },
    { "operator", required_argument, 0, O_OPER },
    { "rsrq", required_argument, 0, O_RSRQ },
    { "rsrp", required_argument, 0, O_RSRP },
    { "rxlev", required_argument, 0, O_RXLEV },
    { "ber", required_argument, 0, O_BER },
    { "verbose", no_argument, 0, 'v' },
    { "help", no_argument, 0, 'h' },
    { "version", no_argument, 0, O_VERSION },
    { 0, 0, 0, 0 },
};

static struct modem M;
static volatile int stop;
static int sigpipe_fd[2] = { -1, -1 };
static struct timespec t0;

uint32_t modem_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint32_t)((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
}

void modem_log(struct modem *mo, const char *fmt, ...)
{
    va_list ap;
    if (!mo->verbose)
        return;
    fprintf(stderr, "dfota-modem: [%u ms] ", modem_now());
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void die_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "dfota-modem: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(dfota-modem --help lists the options)\n");
    exit(2);
}

static uint64_t num(const char *s, const char *opt, uint64_t max)
{
    char *end;
    unsigned long long v;
    errno = 0;
    v = strtoull(s, &end, 0);
    if (errno || end == s || *end || s[0] == '-' || v > max)
        die_usage("bad number for %s", opt);
    return v;
}

static double seconds(const char *s, const char *opt)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= 0) || v > 1e7)
        die_usage("bad time in seconds for %s", opt);
    return v;
}

/* ---- the core's ports --------------------------------------------------- */

static void port_serial_write(void *ctx, const void *buf, size_t len)
{
    serial_write(&((struct modem *)ctx)->serial, buf, len);
}

static int port_http_start(void *ctx, const struct dfota_mod_http_req *req)
{
    struct modem *mo = ctx;
    return http_start(mo->http, req, modem_now());
}

static void port_http_abort(void *ctx)
{
    struct modem *mo = ctx;
    modem_log(mo, "GET aborted by the core");
    http_abort(mo->http);
}

static void port_set_radio(void *ctx, int on)
{
    struct modem *mo = ctx;
    if (on && !mo->radio)
        mo->reg_at = modem_now() + mo->reg_delay_ms;
    mo->radio = !!on;
    modem_log(mo, "radio %s", on ? "on" : "off");
}

static void port_log(void *ctx, const char *msg)
{
    modem_log(ctx, "core: %s", msg);
}

/* ---- the network -------------------------------------------------------- */

void modem_outage_start(struct modem *mo, uint32_t now)
{
    if (mo->outage_done)
        return;
    mo->outage = mo->outage_done = 1;
    mo->outage_end = now + (uint32_t)(mo->link.outage_for_s * 1000.0);
    modem_log(mo, "network outage for %.1f s", mo->link.outage_for_s);
}

/* The network as it is now; reports changes to the core. Returns ms until
 * it changes by itself next, or -1. */
static int net_update(struct modem *mo, uint32_t now)
{
    struct dfota_mod_net n = mo->net_cfg;
    int next = -1;

    if (mo->link.outage_at_s >= 0 && !mo->outage_done) {
        uint32_t at = (uint32_t)(mo->link.outage_at_s * 1000.0);
        if ((int32_t)(now - at) >= 0)
            modem_outage_start(mo, now);
        else
            next = (int)(at - now);
    }
    if (mo->outage && (int32_t)(now - mo->outage_end) >= 0) {
        mo->outage = 0;
        modem_log(mo, "network back");
    }
    if (!mo->radio) {
        n.reg_stat = 0;
        n.rxlev = n.ber = 99;
        n.rsrq = n.rsrp = 255;
    } else if (mo->outage) {
        n.reg_stat = 2;
        next = (int)(mo->outage_end - now);
    } else if ((int32_t)(now - mo->reg_at) < 0) {
        n.reg_stat = 2;
        next = next < 0 || (int)(mo->reg_at - now) < next ? (int)(mo->reg_at - now) : next;
    } else {
        n.reg_stat = mo->reg_target;
    }
    n.attached = n.reg_stat == 1 || n.reg_stat == 5;
    if (!n.attached)
        n.ip[0] = 0;
    if (!mo->net_reported || memcmp(&n, &mo->net_now, sizeof n) != 0) {
        mo->net_now = n;
        mo->net_reported = 1;
        modem_log(mo, "network: stat %u, %s%s", n.reg_stat, n.attached ? "attached, " : "detached",
                  n.attached ? n.ip : "");
        dfota_mod_set_net(&mo->core, &mo->net_now);
        if (!n.attached)
            http_net_down(mo->http);
    }
    return next;
}

static void net_power_up(struct modem *mo, uint32_t now)
{
    mo->radio = 1;
    mo->reg_at = now + mo->reg_delay_ms;
    mo->net_reported = 0;
    memset(&mo->net_now, 0, sizeof mo->net_now);
}

/* ---- power ----------------------------------------------------------------- */

/* Called by the flash port when the simulated power goes: what was sent on
 * the line is on the line, nothing else happens. */
void modem_power_cut(void);
void modem_power_cut(void)
{
    serial_drain(&M.serial, 1000);
    _exit(CUT_EXIT);
}

static int power_up(struct modem *mo, uint32_t now, int boot)
{
    int rc;
    memset(&mo->core, 0, sizeof mo->core);
    rc = dfota_mod_init(&mo->core, &mo->cfg);
    if (rc) {
        fprintf(stderr, "dfota-modem: the module core does not start on this flash: %s\n",
                dfota_strerror(rc));
        return -1;
    }
    net_power_up(mo, now);
    modem_log(mo, "power-up: bank %u boots, revision %s", dfota_active_slot(&mo->core.engine),
              dfota_mod_revision(&mo->core));
    if (boot)
        dfota_mod_boot(&mo->core, now);
    return 0;
}

/* How soon the core wants dfota_mod_poll again: -1 when only an event
 * (serial, HTTP, network) can give it work. */
static int core_wait_ms(struct modem *mo)
{
    int32_t t = dfota_mod_poll_in(&mo->core, modem_now());
    return t < 0 ? -1 : (int)t;
}

static void on_signal(int sig)
{
    ssize_t w;
    (void)sig;
    stop = 1;
    w = write(sigpipe_fd[1], "x", 1);
    (void)w;
}

static int min_wait(int a, int b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

int main(int argc, char **argv)
{
    struct modem *mo = &M;
    struct flash_opts fo;
    const char *flash = NULL, *firmware = NULL, *revision = NULL, *pubkey = NULL;
    const char *product = NULL, *pty_link = NULL, *link_preset = NULL, *reg = "registered";
    uint64_t cut = 0;
    int cut_torn = 0, kind = SERIAL_PTY, wait_connect = 0, c, have_kbps = 0, have_latency = 0;
    uint16_t tcp_port = 0;
    static uint8_t pk[32];
    char *tmp_path;
    int pct = DFOTA_MOD_PCT_BC20;
    uint32_t seccnt = 0, retries = 3, progress_ms = 2000;
    double stall_s = 30;
    const char *manuf = "Quectel_Ltd", *model = "Quectel_BC20";
    struct sigaction sa;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    memset(mo, 0, sizeof *mo);
    memset(&fo, 0, sizeof fo);
    mo->link.outage_at_s = -1;
    mo->link.outage_for_s = 30;
    mo->reg_target = 1;
    snprintf(mo->net_cfg.ip, sizeof mo->net_cfg.ip, "10.0.0.5");
    snprintf(mo->net_cfg.oper, sizeof mo->net_cfg.oper, "46011");
    /* AT+CESQ as in the guide's example session */
    mo->net_cfg.rxlev = 47;
    mo->net_cfg.ber = 6;
    mo->net_cfg.rsrq = 0;
    mo->net_cfg.rsrp = 54;

    while ((c = getopt_long(argc, argv, "vh", long_opts, NULL)) != -1) {
        switch (c) {
        case O_FLASH: flash = optarg; break;
        case O_FIRMWARE: firmware = optarg; break;
        case O_REVISION:
            if (strlen(optarg) >= DFOTA_MOD_REV_MAX || !optarg[0])
                die_usage("--revision must have 1 to 32 characters: '%s'", optarg);
            revision = optarg;
            break;
        case O_LAYOUT:
            if (!strcmp(optarg, "ab"))
                fo.kind = DFOTA_LAYOUT_AB;
            else if (!strcmp(optarg, "inplace"))
                fo.kind = DFOTA_LAYOUT_INPLACE;
            else
                die_usage("--layout is ab or inplace, not '%s'", optarg);
            break;
        case O_SECTOR: fo.sector_size = (uint32_t)num(optarg, "--sector-size", 1u << 30); break;
        case O_PROG: fo.prog_size = (uint32_t)num(optarg, "--prog-size", 1u << 30); break;
        case O_SCRATCH: fo.scratch_sectors = (uint32_t)num(optarg, "--scratch-sectors", 1000); break;
        case O_SLOT: fo.slot_size = (uint32_t)num(optarg, "--slot-size", 1u << 31); break;
        case O_STAGING: fo.staging_size = (uint32_t)num(optarg, "--staging-size", 1u << 31); break;
        case O_CUT:
            cut = num(optarg, "--cut-after-flash-ops", UINT64_MAX - 1);
            if (!cut)
                die_usage("--cut-after-flash-ops counts from 1%s", "");
            break;
        case O_CUT_TORN: cut_torn = 1; break;
        case O_PUBKEY: pubkey = optarg; break;
        case O_PRODUCT:
            if (strlen(optarg) > 31)
                die_usage("--product has at most 31 characters: '%s'", optarg);
            product = optarg;
            break;
        case O_SECCNT: seccnt = (uint32_t)num(optarg, "--security-counter", UINT32_MAX); break;
        case O_PTYLINK: pty_link = optarg; break;
        case O_TCP: kind = SERIAL_TCP; tcp_port = (uint16_t)num(optarg, "--tcp", 65535); break;
        case O_STDIO: kind = SERIAL_STDIO; break;
        case O_WAIT: wait_connect = 1; break;
        case O_PCT:
            if (!strcmp(optarg, "bc20"))
                pct = DFOTA_MOD_PCT_BC20;
            else if (!strcmp(optarg, "plain"))
                pct = DFOTA_MOD_PCT_PLAIN;
            else if (!strcmp(optarg, "percent"))
                pct = DFOTA_MOD_PCT_PERCENT;
            else
                die_usage("--percent-form is bc20, plain or percent, not '%s'", optarg);
            break;
        case O_MANUF: manuf = optarg; break;
        case O_MODEL: model = optarg; break;
        case O_STALL: stall_s = seconds(optarg, "--stall-timeout"); break;
        case O_RETRIES: retries = (uint32_t)num(optarg, "--retries", 1000); break;
        case O_PROGRESS: progress_ms = (uint32_t)num(optarg, "--progress-ms", 3600000); break;
        case O_CA: mo->link.ca = optarg; break;
        case O_LINK:
            if (strcmp(optarg, "nbiot") && strcmp(optarg, "unlimited"))
                die_usage("--link is nbiot or unlimited, not '%s'", optarg);
            link_preset = optarg;
            break;
        case O_KBPS: mo->link.kbps = (uint32_t)num(optarg, "--link-kbps", 10000000); have_kbps = 1; break;
        case O_LATENCY:
            mo->link.latency_ms = (uint32_t)num(optarg, "--latency-ms", 600000);
            have_latency = 1;
            break;
        case O_OUT_BYTES:
            mo->link.outage_after_bytes = num(optarg, "--outage-after-bytes", UINT32_MAX);
            if (!mo->link.outage_after_bytes)
                die_usage("--outage-after-bytes must be at least 1%s", "");
            break;
        case O_OUT_AT: mo->link.outage_at_s = seconds(optarg, "--outage-at"); break;
        case O_OUT_FOR: mo->link.outage_for_s = seconds(optarg, "--outage-for"); break;
        case O_REG: reg = optarg; break;
        case O_REG_DELAY: mo->reg_delay_ms = (uint32_t)num(optarg, "--registration-delay-ms", 3600000); break;
        case O_IP:
            if (strlen(optarg) >= sizeof mo->net_cfg.ip)
                die_usage("--ip is too long: '%s'", optarg);
            snprintf(mo->net_cfg.ip, sizeof mo->net_cfg.ip, "%s", optarg);
            break;
        case O_OPER:
            if (strlen(optarg) >= sizeof mo->net_cfg.oper)
                die_usage("--operator has at most 7 characters: '%s'", optarg);
            snprintf(mo->net_cfg.oper, sizeof mo->net_cfg.oper, "%s", optarg);
            break;
        case O_RSRQ: mo->net_cfg.rsrq = (uint8_t)num(optarg, "--rsrq", 255); break;
        case O_RSRP: mo->net_cfg.rsrp = (uint8_t)num(optarg, "--rsrp", 255); break;
        case O_RXLEV: mo->net_cfg.rxlev = (uint8_t)num(optarg, "--rxlev", 255); break;
        case O_BER: mo->net_cfg.ber = (uint8_t)num(optarg, "--ber", 255); break;
        case 'v': mo->verbose = 1; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case O_VERSION: printf("dfota-modem %s\n", DFOTA_VERSION); return 0;
        default:
            fprintf(stderr, "(dfota-modem --help lists the options)\n");
            return 2;
        }
    }
    if (optind < argc)
        die_usage("unexpected argument '%s'", argv[optind]);
    if (!flash)
        die_usage("--flash FILE is required%s", "");
    if (firmware && !revision)
        die_usage("--firmware needs --revision%s", "");
    if (pty_link && kind != SERIAL_PTY)
        die_usage("--pty-link is for the pty transport%s", "");
    if (!strcmp(reg, "registered"))
        mo->reg_target = 1;
    else if (!strcmp(reg, "roaming"))
        mo->reg_target = 5;
    else if (!strcmp(reg, "searching"))
        mo->reg_target = 2;
    else if (!strcmp(reg, "denied"))
        mo->reg_target = 3;
    else if (!strcmp(reg, "none"))
        mo->reg_target = 0;
    else
        die_usage("--registration is registered, roaming, searching, denied or none, not '%s'", reg);
    /* A preset fills what the options did not say. NB-IoT Cat-NB1 (the
     * BC20's class): ~26 kbit/s downlink; ~800 ms round trip as measured on
     * a test network (docs/modem.md, research/fota-anchors.md section 11). */
    if (link_preset && !strcmp(link_preset, "nbiot")) {
        if (!have_kbps)
            mo->link.kbps = 26;
        if (!have_latency)
            mo->link.latency_ms = 800;
    }
    mo->link.verbose = mo->verbose;
    mo->link.connect_timeout_ms = (uint32_t)(stall_s * 1000.0) + 2 * mo->link.latency_ms;

    if (pubkey && cli_read_public_key(pubkey, &(struct cli_pass){ NULL, NULL }, pk))
        return 1;

    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sa.sa_handler = on_signal;
    if (pipe2(sigpipe_fd, O_CLOEXEC | O_NONBLOCK))
        return 1;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* the flash */
    mo->flash.cut_at = cut;
    mo->flash.cut_torn = cut_torn;
    tmp_path = malloc(strlen(flash) + 8);
    if (!tmp_path)
        return 1;
    sprintf(tmp_path, "%s.new", flash);
    if (flashdev_open(&mo->flash, flash, &fo, firmware, tmp_path))
        return 1;
    if (mo->verbose) {
        char d[300];
        flashdev_describe(&mo->flash, d, sizeof d);
        modem_log(mo, "flash '%s': %s", flash, d);
    }
    if (serial_open(&mo->serial, kind, tcp_port, pty_link))
        return 1;
    mo->http = http_new(mo, &mo->link);
    if (!mo->http) {
        fprintf(stderr, "dfota-modem: cannot start libcurl\n");
        return 1;
    }

    /* the module's configuration */
    mo->cfg.ports.ctx = mo;
    mo->cfg.ports.serial_write = port_serial_write;
    mo->cfg.ports.http_start = port_http_start;
    mo->cfg.ports.http_abort = port_http_abort;
    mo->cfg.ports.set_radio = port_set_radio;
    mo->cfg.ports.log = port_log;
    mo->cfg.engine.flash = &mo->flash.port;
    mo->cfg.engine.crypto = dfota_host_crypto();
    mo->cfg.engine.layout = mo->flash.g.layout;
    mo->cfg.engine.pubkey = pubkey ? pk : NULL;
    mo->cfg.engine.product = product;
    mo->cfg.engine.security_counter = seccnt;
    mo->cfg.state.addr = mo->flash.g.state;
    mo->cfg.state.size = mo->flash.g.state_size;
    mo->cfg.manufacturer = manuf;
    mo->cfg.model = model;
    mo->cfg.percent_form = (uint8_t)pct;
    mo->cfg.http_stall_ms = (uint32_t)(stall_s * 1000.0);
    mo->cfg.http_retries = retries;
    mo->cfg.progress_ms = progress_ms;

    if (!pubkey)
        fprintf(stderr, "dfota-modem: no --pubkey: unsigned development packages are accepted\n");

    if (mo->flash.created) {
        int rc;
        if (power_up(mo, modem_now(), 0))
            return 1;
        rc = dfota_mod_provision(&mo->core, revision);
        if (rc) {
            fprintf(stderr, "dfota-modem: cannot record revision '%s': %s\n", revision,
                    dfota_strerror(rc));
            unlink(tmp_path);
            return 1;
        }
        if (flashdev_commit(&mo->flash, tmp_path, flash))
            return 1;
        modem_log(mo, "made '%s' with firmware '%s', revision %s", flash, firmware, revision);
    }

    if (wait_connect && serial_watch(&mo->serial))
        return 1;
    if (kind != SERIAL_STDIO) {
        printf("%s\n", mo->serial.name);
        fflush(stdout);
    }
    if (wait_connect && serial_wait_host(&mo->serial, &stop))
        goto out;
    if (power_up(mo, modem_now(), 1))
        return 1;

    while (!stop) {
        struct pollfd p[4];
        uint8_t in[512];
        uint32_t now = modem_now();
        int wait, n, np;
        size_t got;

        wait = http_pump(mo->http, now);
        wait = min_wait(wait, net_update(mo, now));   /* after: the link may start an outage */
        dfota_mod_poll(&mo->core, now);
        if (dfota_mod_reboot_requested(&mo->core)) {
            modem_log(mo, "reboot");
            http_reset(mo->http);
            if (power_up(mo, modem_now(), 1))
                return 1;
            continue;
        }
        if (mo->serial.kind == SERIAL_STDIO && mo->serial.eof && !mo->serial.out_len &&
            core_wait_ms(mo) < 0 && !http_running(mo->http))
            break;
        wait = min_wait(wait, core_wait_ms(mo));
        if (http_owed(mo->http))
            wait = 0;
        p[0] = (struct pollfd){ sigpipe_fd[0], POLLIN, 0 };
        np = 1 + serial_pollfds(&mo->serial, p + 1);
        {
            /* one wait for the serial side, curl's sockets and the timers */
            struct curl_waitfd w[4];
            for (n = 0; n < np; n++)
                w[n] = (struct curl_waitfd){ p[n].fd, (short)p[n].events, 0 };
            curl_multi_poll(http_multi(mo->http), w, (unsigned)np, wait < 0 ? 60000 : wait, NULL);
            for (n = 0; n < np; n++)
                p[n].revents = w[n].revents;
        }
        if (p[0].revents) {
            char b[16];
            while (read(sigpipe_fd[0], b, sizeof b) > 0)
                ;
        }
        got = serial_service(&mo->serial, p + 1, np - 1, in, sizeof in);
        if (got)
            dfota_mod_input(&mo->core, in, got, modem_now());
        http_perform(mo->http);
    }
out:
    modem_log(mo, "stopping after %llu flash operations (%llu erases, %llu programs, %llu bytes programmed)",
              (unsigned long long)mo->flash.ops, (unsigned long long)mo->flash.sf.erases,
              (unsigned long long)mo->flash.sf.progs, (unsigned long long)mo->flash.sf.prog_bytes);
    serial_drain(&mo->serial, 1000);
    http_free(mo->http);
    serial_close(&mo->serial);
    flashdev_close(&mo->flash);
    free(tmp_path);
    return 0;
}
