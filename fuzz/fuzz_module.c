/* fuzz_module: the module core (include/dfota/module.h) driven by a script
 * of outside events: serial bytes, HTTP headers, body bytes and endings,
 * network changes, clock steps, URLs, power cycles and power cuts, on the
 * strict simulated flash (A/B, 1 KiB sectors, no key: any package reaches
 * the engine's checks).
 *
 * Input: a sequence of operations, each an opcode byte (low 3 bits) then
 * its arguments:
 *   0 n bytes[n]   serial input          4 r            http_end(r % 4)
 *   1 t            clock += t * 50 ms    5 s            set_net(stat s % 6, attached s & 8)
 *   2 s a b v      http_headers          6 n bytes[n]   dfota_url_parse
 *   3 n bytes[n]   http_data             7 c            power cycle (c & 0x80: then a
 *                                                        cut after c & 0x3f ops, torn if c & 0x40)
 * HTTP events are delivered whether or not a GET runs: the core must ignore
 * what is not for it.
 *
 * Invariants besides "no crash, no UB": no rule of the flash broken; the
 * firmware bank that boots holds the factory image (nothing valid can be
 * installed from fuzzed bytes... unless the bytes are a package for it, so
 * only A/B bank 0 while it is the active bank); the revision is a short
 * NUL-terminated string; dfota_mod_poll_in is -1 or more; the output stays
 * bounded per operation. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dfota/module.h"
#include "host_port.h"

#define CHECK(c)                                                                              \
    do {                                                                                       \
        if (!(c)) {                                                                            \
            fprintf(stderr, "*** dfota fuzz invariant broken: %s (%s:%d)\n", #c, __FILE__,   \
                    __LINE__);                                                                 \
            __builtin_trap();                                                                  \
        }                                                                                      \
    } while (0)

#define SECTOR 1024u
#define SLOT (8u * SECTOR)
#define STAGING (8u * SECTOR)

static struct simflash flash;
static struct dfota_mod_config cfg;
static struct dfota_mod mod;
static uint8_t image[SLOT];
static size_t out_bytes;
static int running;          /* a GET the core started and did not abort */
static int up;               /* the power is on and the core initialised */

static void p_write(void *ctx, const void *buf, size_t len)
{
    (void)ctx;
    (void)buf;
    out_bytes += len;
}

static int p_start(void *ctx, const struct dfota_mod_http_req *req)
{
    (void)ctx;
    CHECK(!running);                              /* one GET at a time */
    CHECK(req->url && strlen(req->url) <= DFOTA_MOD_URL_MAX);
    CHECK(req->offset <= STAGING);
    CHECK(!req->if_range || strlen(req->if_range) < DFOTA_MOD_ETAG_MAX);
    running = 1;
    return 0;
}

static void p_abort(void *ctx)
{
    (void)ctx;
    running = 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct dfota_layout *l = &cfg.engine.layout;
    uint32_t jhalf, at = 0, i, s = 1;
    (void)argc;
    (void)argv;
    jhalf = dfota_journal_half_size(DFOTA_LAYOUT_AB, SLOT, SECTOR, 16);
    l->kind = DFOTA_LAYOUT_AB;
    l->slot[0] = at;
    at += SLOT;
    l->slot[1] = at;
    at += SLOT;
    l->slot_size = SLOT;
    l->journal = at;
    l->journal_size = 2 * jhalf;
    at += 2 * jhalf;
    l->staging = at;
    l->staging_size = STAGING;
    at += STAGING;
    cfg.state.addr = at;
    cfg.state.size = 2 * SECTOR;
    at += 2 * SECTOR;
    if (simflash_init(&flash, NULL, at, SECTOR, 16, 0xFF))
        abort();
    cfg.engine.flash = &flash.port;
    cfg.ports.serial_write = p_write;
    cfg.ports.http_start = p_start;
    cfg.ports.http_abort = p_abort;
    cfg.http_stall_ms = 3000;
    cfg.http_retries = 2;
    cfg.progress_ms = 500;
    for (i = 0; i < SLOT; i++) {
        s = s * 1103515245u + 12345u;
        image[i] = (uint8_t)(s >> 16);
    }
    return 0;
}

static void power_up(uint32_t now)
{
    simflash_power_on(&flash);
    running = 0;
    up = 0;
    if (dfota_mod_init(&mod, &cfg) != DFOTA_OK)
        return;                                   /* a cut during init: stays off */
    if (!dfota_mod_provisioned(&mod) && dfota_mod_provision(&mod, "FUZZ-1") != DFOTA_OK)
        return;
    dfota_mod_boot(&mod, now);
    up = !flash.powered_off;
}

static void check(void)
{
    const char *rev;
    CHECK(!flash.violation);
    if (!up)
        return;
    rev = dfota_mod_revision(&mod);
    CHECK(strlen(rev) < DFOTA_MOD_REV_MAX);
    CHECK(dfota_mod_poll_in(&mod, 0) >= -1);
    if (dfota_active_slot(&mod.engine) == 0 && !dfota_pending(&mod.engine))
        CHECK(memcmp(flash.mem + cfg.engine.layout.slot[0], image, SLOT) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    static const int status[] = { 200, 206, 404, 500, 416, 412, 301, 0 };
    static const char *validator[] = { "\"e1\"", "\"e2\"", "", "W/\"x\"" };
    uint32_t now = 1000;
    size_t i = 0;

    memset(flash.mem, 0xFF, flash.size);
    memcpy(flash.mem + cfg.engine.layout.slot[0], image, SLOT);
    simflash_reset_counters(&flash);
    flash.violation = 0;
    power_up(now);
    while (i < n) {
        uint8_t op = d[i++];
        size_t before = out_bytes;
        if ((op & 7) != 7 && (!up || flash.powered_off)) {
            /* the power is off: only a power cycle does something */
            if ((op & 7) == 0 || (op & 7) == 3 || (op & 7) == 6)
                i += i < n ? 1u + d[i] : 0u;
            else
                i += (op & 7) == 2 ? 4u : 1u;
            continue;
        }
        switch (op & 7) {
        case 0:
        case 3:
        case 6: {
            size_t len = i < n ? d[i++] : 0;
            if (len > n - i)
                len = n - i;
            if ((op & 7) == 0) {
                dfota_mod_input(&mod, d + i, len, now);
            } else if ((op & 7) == 3) {
                dfota_mod_http_data(&mod, d + i, len);
            } else {
                struct dfota_url u;
                if (dfota_url_parse((const char *)d + i, len, &u) == DFOTA_OK) {
                    CHECK(u.host_len > 0 && u.host >= (const char *)d + i);
                    CHECK(u.host + u.host_len <= (const char *)d + i + len);
                    CHECK(u.port >= 1 && u.path_len >= 1);
                }
            }
            i += len;
            break;
        }
        case 1:
            now += (uint32_t)(i < n ? d[i++] : 1) * 50u;
            dfota_mod_poll(&mod, now);
            break;
        case 2: {
            uint8_t a[4] = { 0, 0, 0, 0 };
            size_t k;
            for (k = 0; k < 4 && i < n; k++)
                a[k] = d[i++];
            dfota_mod_http_headers(&mod, status[a[0] & 7], (uint32_t)a[1] * 64u,
                                   ((uint32_t)a[2] << 6) | (a[3] >> 2), validator[a[3] & 3]);
            break;
        }
        case 4:
            if (i < n) {
                enum dfota_mod_http_result r = (enum dfota_mod_http_result)(d[i++] % 4);
                if (r != DFOTA_MOD_HTTP_ABORTED)
                    running = 0;
                dfota_mod_http_end(&mod, r);
            }
            break;
        case 5:
            if (i < n) {
                struct dfota_mod_net net;
                uint8_t s = d[i++];
                memset(&net, 0, sizeof net);
                net.reg_stat = (uint8_t)(s % 6);
                net.attached = (s & 8) != 0;
                strcpy(net.ip, "10.0.0.5");
                strcpy(net.oper, "46011");
                net.rxlev = net.ber = 99;
                net.rsrq = net.rsrp = 255;
                dfota_mod_set_net(&mod, &net);
            }
            break;
        default: {
            uint8_t c = i < n ? d[i++] : 0;
            power_up(now);
            if (c & 0x80) {
                flash.cut_after = flash.ops + (c & 0x3fu);
                flash.clean_cut = !(c & 0x40);
            }
            break;
        }
        }
        if (up && dfota_mod_reboot_requested(&mod))
            power_up(now);
        /* an operation answers with a bounded amount of text (echo, info
         * lines, URCs, the banner, an update's progress) */
        CHECK(out_bytes - before < 64u * 1024u);
        check();
    }
    if (up && !flash.powered_off) {
        now += 100000;
        dfota_mod_poll(&mod, now);
        check();
    }
    return 0;
}
