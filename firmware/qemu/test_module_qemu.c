/*
 * qemu_module_fota: the module core (module/) with libdfota and
 * port/ed25519, built for Cortex-M4 and run on qemu-system-arm mps2-an386,
 * does what a BC20 does for the guide's session: the boot output, the
 * network checks answered byte for byte, AT+QFOTADL with the package
 * (sample_v1 -> sample_v2, signed, made at build time by `dfota diff`)
 * delivered by a fake HTTP client in chunks, the URCs in order, the reboot
 * into the target with ATI on 1.1.0. Then, A/B and in place, a power cut in
 * the middle of the install: the next power-up runs the forced upgrade and
 * ends on 1.1.0; and a power cut in the middle of the download: the old
 * firmware runs and the same URL then completes the update.
 *
 * The flash is a small strict NOR model in SRAM (aligned operations,
 * program only erased bytes). Output goes through semihosting; exit status
 * 0 means pass.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dfota/module.h"
#include "dfota_ed25519.h"

extern const unsigned char old_image[], old_image_end[];
extern const unsigned char new_image[], new_image_end[];
extern const unsigned char ab_pkg[], ab_pkg_end[];
extern const unsigned char inplace_pkg[], inplace_pkg_end[];
extern const unsigned char pubkey[], pubkey_end[];

#define SECTOR    4096u
#define PROG_UNIT 16u
#define SLOT      (12u * SECTOR)
#define STAGING   (4u * SECTOR)
#define NEVER     UINT32_MAX

static int failures;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            printf("FAIL line %d: ", __LINE__);                            \
            printf(__VA_ARGS__);                                           \
            printf("\n");                                                  \
            failures++;                                                    \
        }                                                                  \
    } while (0)

/* ---- flash ---------------------------------------------------------------- */

static uint8_t mem[2 * SLOT + 16u * SECTOR + STAGING + 2u * SECTOR];
static uint32_t ops, cut_at = NEVER;
static int off, violation;

static int f_read(void *ctx, uint32_t addr, void *buf, uint32_t len)
{
    (void)ctx;
    if (off)
        return -1;
    if ((uint64_t)addr + len > sizeof mem)
        return violation = -2;
    memcpy(buf, mem + addr, len);
    return 0;
}

static int f_prog(void *ctx, uint32_t addr, const void *buf, uint32_t len)
{
    uint32_t i;
    (void)ctx;
    if (off)
        return -1;
    if ((uint64_t)addr + len > sizeof mem || ((addr | len) & (PROG_UNIT - 1)))
        return violation = -2;
    for (i = 0; i < len; i++)
        if (mem[addr + i] != 0xFF)
            return violation = -2;
    if (ops++ >= cut_at)
        return off = 1, -1;
    memcpy(mem + addr, buf, len);
    return 0;
}

static int f_erase(void *ctx, uint32_t addr)
{
    (void)ctx;
    if (off)
        return -1;
    if (addr % SECTOR || (uint64_t)addr + SECTOR > sizeof mem)
        return violation = -2;
    if (ops++ >= cut_at)
        return off = 1, -1;
    memset(mem + addr, 0xFF, SECTOR);
    return 0;
}

static const struct dfota_flash flash = { NULL, f_read, f_prog, f_erase, NULL, SECTOR, PROG_UNIT, 0xFF };

static int verify(void *ctx, const uint8_t sig[64], const uint8_t *msg, size_t len,
                  const uint8_t pub[32])
{
    (void)ctx;
    return dfota_ed25519_verify(sig, msg, len, pub);
}

static const struct dfota_crypto crypto = { NULL, verify };

/* ---- the platform: serial capture, a fake HTTP client ---------------------- */

static char out[24576];
static size_t out_len;
static int get_running, get_count;
static uint32_t get_offset;
static char get_if_range[DFOTA_MOD_ETAG_MAX];
static const uint8_t *file;
static uint32_t file_len;

static void s_write(void *ctx, const void *buf, size_t len)
{
    (void)ctx;
    if (out_len + len >= sizeof out)
        len = sizeof out - 1 - out_len;
    memcpy(out + out_len, buf, len);
    out_len += len;
    out[out_len] = 0;
}

static int h_start(void *ctx, const struct dfota_mod_http_req *req)
{
    (void)ctx;
    get_running = 1;
    get_count++;
    get_offset = req->offset;
    get_if_range[0] = 0;
    if (req->if_range)
        strncpy(get_if_range, req->if_range, sizeof get_if_range - 1);
    return 0;
}

static void h_abort(void *ctx)
{
    (void)ctx;
    get_running = 0;
}

static struct dfota_mod_config cfg;
static struct dfota_mod mod;
static uint32_t now = 1000;

static void layout(int kind)
{
    struct dfota_layout *l = &cfg.engine.layout;
    uint32_t at = 0;
    memset(&cfg, 0, sizeof cfg);
    l->kind = (uint8_t)kind;
    l->slot[0] = at;
    at += SLOT;
    if (kind == DFOTA_LAYOUT_AB) {
        l->slot[1] = at;
        at += SLOT;
    } else {
        l->scratch = at;
        l->scratch_size = 4 * SECTOR;
        at += l->scratch_size;
    }
    l->slot_size = SLOT;
    l->journal = at;
    l->journal_size = 2 * dfota_journal_half_size(kind, SLOT, SECTOR, PROG_UNIT);
    at += l->journal_size;
    l->staging = at;
    l->staging_size = STAGING;
    at += STAGING;
    cfg.state.addr = at;
    cfg.state.size = 2 * SECTOR;
    cfg.engine.flash = &flash;
    cfg.engine.crypto = &crypto;
    cfg.engine.pubkey = pubkey;
    cfg.engine.product = "dfota-sample";
    cfg.ports.serial_write = s_write;
    cfg.ports.http_start = h_start;
    cfg.ports.http_abort = h_abort;
    cfg.http_stall_ms = 5000;
    cfg.http_retries = 2;
    cfg.progress_ms = 2000;
    memset(mem, 0xFF, sizeof mem);
    memcpy(mem, old_image, (size_t)(old_image_end - old_image));
}

static void clear(void)
{
    out_len = 0;
    out[0] = 0;
}

static int power_up(const char *rev)
{
    struct dfota_mod_net net;
    int rc;
    off = 0;
    ops = 0;
    cut_at = NEVER;
    get_running = 0;
    rc = dfota_mod_init(&mod, &cfg);
    if (rc)
        return rc;
    if (!dfota_mod_provisioned(&mod) && (rc = dfota_mod_provision(&mod, rev)))
        return rc;
    dfota_mod_boot(&mod, now);
    memset(&net, 0, sizeof net);
    net.reg_stat = 1;
    net.attached = 1;
    strcpy(net.ip, "10.0.0.5");
    strcpy(net.oper, "46011");
    net.rxlev = 47;
    net.ber = 6;
    net.rsrq = 0;
    net.rsrp = 54;
    if (!dfota_mod_reboot_requested(&mod))
        dfota_mod_set_net(&mod, &net);
    return 0;
}

static const char *send(const char *s)
{
    size_t at = out_len;
    dfota_mod_input(&mod, s, strlen(s), now);
    return out + at;
}

#define Q "\r\n+QIND: \"FOTA\","

/* The fake server: the package to the running GET from its offset (206
 * when resumed), headers, 100-byte chunks and the end, one event per poll.
 * stop_at: the power goes once that many bytes of the file were sent. */
static void download(uint32_t stop_at)
{
    uint32_t pos = 0;
    int started = 0, steps;

    for (steps = 0; steps < 100000; steps++) {
        if (off || dfota_mod_reboot_requested(&mod))
            return;
        now += 10;
        dfota_mod_poll(&mod, now);
        if (off || dfota_mod_reboot_requested(&mod))
            return;
        if (!get_running) {
            if (dfota_mod_poll_in(&mod, now) < 0)
                return;                 /* idle: the FOTA ended */
            started = 0;
            continue;
        }
        if (!started) {
            started = 1;
            pos = get_offset;
            if (pos)
                dfota_mod_http_headers(&mod, 206, pos, file_len, "\"v1\"");
            else
                dfota_mod_http_headers(&mod, 200, 0, file_len, "\"v1\"");
            continue;
        }
        if (pos >= file_len) {
            get_running = 0;
            dfota_mod_http_end(&mod, DFOTA_MOD_HTTP_OK);
            continue;
        }
        if (pos >= stop_at) {
            off = 1;                    /* the power goes */
            return;
        }
        {
            uint32_t n = file_len - pos < 100 ? file_len - pos : 100;
            dfota_mod_http_data(&mod, file + pos, n);
            pos += n;
        }
    }
}

static int boots_new(void)
{
    const struct dfota_layout *l = &cfg.engine.layout;
    unsigned s = dfota_active_slot(&mod.engine);
    return !dfota_pending(&mod.engine) &&
           memcmp(mem + l->slot[s], new_image, (size_t)(new_image_end - new_image)) == 0;
}

static int boots_old(void)
{
    const struct dfota_layout *l = &cfg.engine.layout;
    unsigned s = dfota_active_slot(&mod.engine);
    return !dfota_pending(&mod.engine) &&
           memcmp(mem + l->slot[s], old_image, (size_t)(old_image_end - old_image)) == 0;
}

#define REQ "AT+QFOTADL=\"http://10.0.0.1/fw/update.pkg\"\r"

static void session(const char *name, int kind, const unsigned char *pkg, uint32_t plen)
{
    const char *o;
    printf("%s: guide session and update (%lu-byte package)\n", name, (unsigned long)plen);
    layout(kind);
    file = pkg;
    file_len = plen;
    clear();
    CHECK(power_up("1.0.0") == 0, "power-up");
    CHECK(strstr(out, "Leaving the BROM\n\r\r\n+CPIN: READY\r\n\r\n+IP: 10.0.0.5\r\n") != NULL,
          "boot output: %s", out);
    send("ATE0\r");
    o = send("AT+CESQ;+CEREG?;+CPIN?;+COPS?\r");
    CHECK(strcmp(o, "\r\n+CESQ: 47,6,255,255,0,54\r\n\r\n+CEREG: 0,1\r\n\r\n+CPIN: READY\r\n"
                    "\r\n+COPS: 0,2,\"46011\",9\r\n\r\nOK\r\n") == 0, "session: %s", o);
    o = send("ATI\r");
    CHECK(strstr(o, "\r\nRevision: 1.0.0\r\n\r\nOK\r\n") != NULL, "ATI: %s", o);
    clear();
    o = send(REQ);
    CHECK(strcmp(o, "\r\nOK\r\n" Q "\"HTTPSTART\"\r\n") == 0, "QFOTADL: %s", o);
    download(NEVER);
    CHECK(dfota_mod_reboot_requested(&mod), "no reboot: %s", out);
    CHECK(strstr(out, Q "\"DOWNLOADING\", 100%\r\n" Q "\"HTTPEND\",0\r\n" Q "\"START\"\r\n") != NULL,
          "download URCs: %s", out);
    CHECK(strstr(out, Q "\"UPDATING\", 100%\r\n" Q "\"END\",0\r\n") != NULL, "update URCs: %s", out);
    clear();
    CHECK(power_up(NULL) == 0, "reboot");
    CHECK(boots_new(), "the new image does not boot");
    send("ATE0\r");
    o = send("AT+CGMR\r");
    CHECK(strcmp(o, "\r\nRevision: 1.1.0\r\n\r\nOK\r\n") == 0, "CGMR: %s", o);
    o = send("AT+QFOTADL?\r");
    CHECK(strcmp(o, "\r\n+QFOTADL: \"END\",0\r\n\r\nOK\r\n") == 0, "result: %s", o);
    CHECK(!violation, "flash rule broken");
}

static void cut_install(const char *name, int kind, const unsigned char *pkg, uint32_t plen)
{
    uint32_t total;
    printf("%s: power cut in the install, then the forced upgrade\n", name);
    /* a clean run counts the install's operations */
    layout(kind);
    file = pkg;
    file_len = plen;
    power_up("1.0.0");
    send(REQ);
    download(NEVER);
    total = ops;
    layout(kind);
    power_up("1.0.0");
    send(REQ);
    cut_at = total * 2 / 3;             /* past the download, inside the install */
    download(NEVER);
    CHECK(off, "no cut");
    clear();
    CHECK(power_up(NULL) == 0, "power-up after the cut");
    CHECK(strstr(out, "Leaving the BROM\n\r" Q "\"START\"\r\n") != NULL, "no forced upgrade: %s", out);
    CHECK(strstr(out, Q "\"END\",0\r\n") != NULL, "forced upgrade: %s", out);
    CHECK(dfota_mod_reboot_requested(&mod), "no reboot after the forced upgrade");
    power_up(NULL);
    CHECK(boots_new(), "the new image does not boot");
    CHECK(strcmp(dfota_mod_revision(&mod), "1.1.0") == 0, "revision %s", dfota_mod_revision(&mod));
    CHECK(!violation, "flash rule broken");
}

static void cut_download(const char *name, int kind, const unsigned char *pkg, uint32_t plen)
{
    printf("%s: power cut in the download, then the same URL again\n", name);
    layout(kind);
    /* the sample package is smaller than a sector, so the resume starts at
     * byte 0 here; tests/module covers resumes from staged sectors */
    file = pkg;
    file_len = plen;
    power_up("1.0.0");
    send(REQ);
    download(plen / 2);
    CHECK(off, "no cut");
    power_up(NULL);
    CHECK(boots_old() && strcmp(dfota_mod_revision(&mod), "1.0.0") == 0, "old firmware after the cut");
    send("ATE0\r");
    clear();
    send(REQ);
    get_count = 0;
    download(NEVER);
    CHECK(get_count == 1 && get_offset == (plen / 2) / SECTOR * SECTOR, "resume offset %lu",
          (unsigned long)get_offset);
    CHECK(get_offset == 0 || strcmp(get_if_range, "\"v1\"") == 0, "If-Range %s", get_if_range);
    CHECK(dfota_mod_reboot_requested(&mod), "no END,0: %s", out);
    power_up(NULL);
    CHECK(boots_new() && strcmp(dfota_mod_revision(&mod), "1.1.0") == 0, "new firmware");
    CHECK(!violation, "flash rule broken");
}

int main(void)
{
    uint32_t ab_len = (uint32_t)(ab_pkg_end - ab_pkg), ip_len = (uint32_t)(inplace_pkg_end - inplace_pkg);

    printf("qemu_module_fota: sizeof(struct dfota_mod) = %lu bytes (engine %lu)\n",
           (unsigned long)sizeof(struct dfota_mod), (unsigned long)sizeof(struct dfota_engine));
    if (pubkey_end - pubkey != 32) {
        printf("FAIL: embedded public key is %ld bytes, not 32\n", (long)(pubkey_end - pubkey));
        return 1;
    }
    session("ab", DFOTA_LAYOUT_AB, ab_pkg, ab_len);
    session("inplace", DFOTA_LAYOUT_INPLACE, inplace_pkg, ip_len);
    cut_install("ab", DFOTA_LAYOUT_AB, ab_pkg, ab_len);
    cut_install("inplace", DFOTA_LAYOUT_INPLACE, inplace_pkg, ip_len);
    cut_download("ab", DFOTA_LAYOUT_AB, ab_pkg, ab_len);
    if (failures) {
        printf("qemu_module_fota: %d failures\n", failures);
        return 1;
    }
    printf("qemu_module_fota: all passed\n");
    return 0;
}
