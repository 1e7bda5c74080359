/*
 * qemu_engine_apply: the real libdfota, built for Cortex-M4, with the
 * portable Ed25519 verifier (port/ed25519) as its crypto port, applies real
 * packages (sample_v1 -> sample_v2, made at build time by `dfota diff`) to a
 * simulated NOR flash held in SRAM, on qemu-system-arm mps2-an386.
 *
 * For each layout (A/B with two banks; in place with a 4-sector scratch):
 *   - a clean install: the booting slot holds exactly sample_v2, nothing
 *     is pending, and a reboot (dfota_init on a fresh engine) agrees;
 *   - power cuts at 10/50/90 % of the flash operations of the clean run,
 *     a torn program, a torn erase, a cut at the very first and at the very
 *     last operation, and a second cut during the resume: after each,
 *     "reboot", dfota_init, dfota_resume must finish the update;
 *   - one flipped byte in the package signature: DFOTA_ERR_SIGNATURE and
 *     not one byte of flash changed.
 *
 * The flash port enforces the rules of include/dfota/port.h: aligned
 * erase and program, program only bytes that are erased; any breach fails
 * the test. Output goes through semihosting; exit status 0 means pass.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dfota/engine.h"
#include "dfota/error.h"
#include "dfota_ed25519.h"

extern const unsigned char old_image[], old_image_end[];
extern const unsigned char new_image[], new_image_end[];
extern const unsigned char ab_pkg[], ab_pkg_end[];
extern const unsigned char inplace_pkg[], inplace_pkg_end[];
extern const unsigned char pubkey[], pubkey_end[];

#define SECTOR        4096u
#define PROG_UNIT     16u
#define ERASED        0xFFu
#define FLASH_SIZE    (256u * 1024u)
#define SCRATCH_SECT  4u          /* the in-place package is made for 4 */
#define NEVER         UINT32_MAX

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

/* ---- a strict simulated NOR flash in SRAM --------------------------------- */

enum cut_kind {
    CUT_CLEAN,       /* operation N does nothing; it and all later calls fail */
    CUT_TORN_PROG,   /* the first prog at or after N lands partly */
    CUT_TORN_ERASE,  /* the first erase at or after N is partly done */
};

struct vflash {
    uint8_t *mem;
    uint32_t size;
    uint32_t ops;                 /* erase + prog calls completed */
    uint32_t erases, progs, prog_bytes, reads, read_bytes;
    uint32_t cut_after;           /* power goes at this operation; NEVER */
    enum cut_kind cut_kind;
    uint32_t cut_addr;            /* where the power went */
    int cut_was_prog;
    int off;                      /* power is off: every call fails */
    int violation;
    char why[120];
    uint32_t seed;                /* how cut operations tear */
};

static uint8_t flash_mem[FLASH_SIZE];
static uint8_t flash_ref[FLASH_SIZE];
static struct vflash vf;

static uint32_t rnd(uint32_t *s)
{
    uint32_t x = *s ? *s : 0x9E3779B9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static int rule(const char *what, uint32_t addr, uint32_t len)
{
    if (!vf.violation)
        snprintf(vf.why, sizeof vf.why, "%s at 0x%05lx len %lu", what, (unsigned long)addr,
                 (unsigned long)len);
    vf.violation = 1;
    return -2;
}

/* Is operation `is_prog` the one during which the power goes? */
static int cut_now(int is_prog)
{
    if (vf.ops < vf.cut_after)
        return 0;
    if (vf.cut_kind == CUT_TORN_PROG && !is_prog)
        return 0;
    if (vf.cut_kind == CUT_TORN_ERASE && is_prog)
        return 0;
    vf.off = 1;
    return 1;
}

static int vf_read(void *ctx, uint32_t addr, void *buf, uint32_t len)
{
    (void)ctx;
    if (vf.off)
        return -1;
    if ((uint64_t)addr + len > vf.size)
        return rule("read beyond flash", addr, len);
    memcpy(buf, vf.mem + addr, len);
    vf.reads++;
    vf.read_bytes += len;
    return 0;
}

static int vf_prog(void *ctx, uint32_t addr, const void *buf, uint32_t len)
{
    const uint8_t *p = buf;
    uint32_t i;

    (void)ctx;
    if (vf.off)
        return -1;
    if ((uint64_t)addr + len > vf.size)
        return rule("prog beyond flash", addr, len);
    if ((addr | len) & (PROG_UNIT - 1))
        return rule("misaligned prog", addr, len);
    for (i = 0; i < len; i++)
        if (vf.mem[addr + i] != ERASED)
            return rule("prog of a byte that is not erased", addr + i, len);
    if (cut_now(1)) {
        vf.cut_addr = addr;
        vf.cut_was_prog = 1;
        if (vf.cut_kind != CUT_CLEAN) {
            /* whole units land, then one unit with some bits cleared */
            uint32_t units = len / PROG_UNIT, n = (rnd(&vf.seed) % (units + 1)) * PROG_UNIT;
            memcpy(vf.mem + addr, p, n);
            if (n < len)
                for (i = 0; i < PROG_UNIT; i++)
                    if (rnd(&vf.seed) & 1)
                        vf.mem[addr + n + i] &= p[n + i];
        }
        return -1;
    }
    memcpy(vf.mem + addr, p, len);
    vf.ops++;
    vf.progs++;
    vf.prog_bytes += len;
    return 0;
}

static int vf_erase(void *ctx, uint32_t addr)
{
    uint32_t i, n;

    (void)ctx;
    if (vf.off)
        return -1;
    if (addr % SECTOR || (uint64_t)addr + SECTOR > vf.size)
        return rule("misaligned or out-of-range erase", addr, SECTOR);
    if (cut_now(0)) {
        vf.cut_addr = addr;
        vf.cut_was_prog = 0;
        if (vf.cut_kind != CUT_CLEAN) {
            /* a prefix erased, the rest scrambled */
            n = rnd(&vf.seed) % (SECTOR + 1);
            memset(vf.mem + addr, ERASED, n);
            for (i = n; i < SECTOR; i++)
                vf.mem[addr + i] ^= (uint8_t)rnd(&vf.seed);
        }
        return -1;
    }
    memset(vf.mem + addr, ERASED, SECTOR);
    vf.ops++;
    vf.erases++;
    return 0;
}

static int vf_sync(void *ctx)
{
    (void)ctx;
    return vf.off ? -1 : 0;
}

static const struct dfota_flash flash_port = {
    NULL, vf_read, vf_prog, vf_erase, vf_sync, SECTOR, PROG_UNIT, ERASED,
};

/* Power on after a cut: counters from zero, no cut scheduled. */
static void power_on(void)
{
    vf.off = 0;
    vf.cut_after = NEVER;
    vf.cut_kind = CUT_CLEAN;
    vf.ops = vf.erases = vf.progs = vf.prog_bytes = vf.reads = vf.read_bytes = 0;
}

/* The port's own rules must bite, or the test proves nothing. */
static int port_selftest(void)
{
    static const uint8_t data[2 * PROG_UNIT] = { 1, 2, 3 };
    int ok = 1;

    vf.mem = flash_mem;
    vf.size = 2 * SECTOR;
    memset(flash_mem, 0, vf.size);
    power_on();
    ok &= vf_erase(NULL, 0) == 0 && flash_mem[SECTOR - 1] == ERASED && flash_mem[SECTOR] == 0;
    ok &= vf_prog(NULL, PROG_UNIT, data, sizeof data) == 0 && !vf.violation;
    ok &= vf_prog(NULL, 2 * PROG_UNIT, data, PROG_UNIT) != 0 && vf.violation; /* not erased */
    vf.violation = 0;
    ok &= vf_prog(NULL, 4 * PROG_UNIT + 4, data, PROG_UNIT) != 0 && vf.violation; /* address */
    vf.violation = 0;
    ok &= vf_prog(NULL, 6 * PROG_UNIT, data, PROG_UNIT / 2) != 0 && vf.violation; /* length */
    vf.violation = 0;
    ok &= vf_erase(NULL, SECTOR / 2) != 0 && vf.violation;
    vf.violation = 0;
    vf.cut_after = vf.ops;
    ok &= vf_erase(NULL, SECTOR) != 0 && vf.off && flash_mem[SECTOR] == 0;  /* clean cut */
    ok &= vf_read(NULL, 0, flash_mem + SECTOR, 1) != 0;                     /* power off */
    vf.violation = 0;
    power_on();
    return ok ? 0 : -1;
}

/* ---- the crypto port: port/ed25519 ---------------------------------------- */

static unsigned verify_calls;

static int ed25519_verify(void *ctx, const uint8_t sig[64], const uint8_t *msg, size_t len,
                          const uint8_t pub[32])
{
    (void)ctx;
    verify_calls++;
    return dfota_ed25519_verify(sig, msg, len, pub);
}

static const struct dfota_crypto crypto_port = { NULL, ed25519_verify };

/* ---- the device ------------------------------------------------------------- */

struct scenario {
    const char *name;
    int kind;
    const unsigned char *pkg;
    uint32_t pkg_len;
};

static struct dfota_config cfg;
static struct dfota_engine eng;
static uint32_t ops_at_apply;   /* flash operations before the first APPLY progress */

/* The first APPLY progress call comes right after the journal named the
 * update: from that operation on, a power-up resumes it. */
static void on_progress(void *ctx, enum dfota_phase phase, unsigned percent)
{
    (void)ctx;
    (void)percent;
    if (phase == DFOTA_PHASE_APPLY && ops_at_apply == NEVER)
        ops_at_apply = vf.ops;
}
static uint32_t flash_used;
static const struct scenario *cur;

static uint32_t old_len(void) { return (uint32_t)(old_image_end - old_image); }
static uint32_t new_len(void) { return (uint32_t)(new_image_end - new_image); }

static uint32_t up(uint32_t v, uint32_t unit)
{
    return (v + unit - 1) / unit * unit;
}

/* Slots, scratch (in place), journal (two halves), staging: as
 * tests/unit/testutil.c lays out a device. */
static int setup(const struct scenario *s)
{
    struct dfota_layout *l = &cfg.layout;
    uint32_t slot = up(old_len() > new_len() ? old_len() : new_len(), SECTOR);
    uint32_t jhalf = up(dfota_journal_record_size(), SECTOR), at = 0;

    cur = s;
    memset(&cfg, 0, sizeof cfg);
    l->kind = (uint8_t)s->kind;
    l->slot[0] = at;
    at += slot;
    if (s->kind == DFOTA_LAYOUT_AB) {
        l->slot[1] = at;
        at += slot;
    } else {
        l->scratch = at;
        l->scratch_size = SCRATCH_SECT * SECTOR;
        at += l->scratch_size;
    }
    l->slot_size = slot;
    l->journal = at;
    l->journal_size = 2 * jhalf;
    at += 2 * jhalf;
    l->staging = at;
    {
        /* the package, and the digest table an in-place dry run writes */
        struct dfota_pkg_header h;
        l->staging_size = up(s->pkg_len, SECTOR);
        if (dfota_pkg_parse(&h, s->pkg, s->pkg_len) == DFOTA_OK)
            l->staging_size += dfota_devtable_size(&h, PROG_UNIT);
    }
    at += l->staging_size;
    if (at > FLASH_SIZE) {
        printf("FAIL: %s needs %lu bytes of flash, have %lu\n", s->name, (unsigned long)at,
               (unsigned long)FLASH_SIZE);
        return -1;
    }
    flash_used = at;
    vf.mem = flash_mem;
    vf.size = at;
    cfg.flash = &flash_port;
    cfg.crypto = &crypto_port;
    cfg.pubkey = pubkey;
    cfg.product = "dfota-sample";
    cfg.progress = on_progress;
    return 0;
}

/* The factory state: erased flash, the old image in slot 0, the package in
 * staging (with one signature byte flipped when asked). */
static void load_flash(int flip_signature)
{
    memset(flash_mem, ERASED, flash_used);
    memcpy(flash_mem + cfg.layout.slot[0], old_image, old_len());
    memcpy(flash_mem + cfg.layout.staging, cur->pkg, cur->pkg_len);
    if (flip_signature) {
        struct dfota_pkg_header h;   /* the signature: the header's last 64 bytes */
        if (dfota_pkg_parse(&h, cur->pkg, cur->pkg_len) == DFOTA_OK)
            flash_mem[cfg.layout.staging + dfota_pkg_signed_size(&h) + 17] ^= 0x20;
    }
    vf.violation = 0;
    vf.why[0] = 0;
    power_on();
}

/* Power-up: a fresh engine struct, then dfota_init. */
static int reboot(void)
{
    memset(&eng, 0xA5, sizeof eng);
    power_on();
    return dfota_init(&eng, &cfg);
}

static const unsigned char *slot_mem(unsigned slot)
{
    return flash_mem + cfg.layout.slot[slot];
}

/* The update is complete: the booting slot holds sample_v2, nothing is
 * pending, and that survives another power-up. */
static void check_updated(const char *what)
{
    unsigned want = cur->kind == DFOTA_LAYOUT_AB ? 1u : 0u;
    int pass;

    CHECK(!vf.violation, "%s %s: flash rule broken: %s", cur->name, what, vf.why);
    for (pass = 0; pass < 2; pass++) {
        unsigned a = dfota_active_slot(&eng);
        CHECK(a == want, "%s %s: active slot %u, expected %u", cur->name, what, a, want);
        CHECK(memcmp(slot_mem(a), new_image, new_len()) == 0,
              "%s %s: slot %u does not hold the new image", cur->name, what, a);
        CHECK(!dfota_pending(&eng), "%s %s: still pending", cur->name, what);
        if (pass == 0) {
            int rc = reboot();
            CHECK(rc == DFOTA_OK, "%s %s: dfota_init after the update: %s", cur->name, what,
                  dfota_strerror(rc));
        }
    }
}

/* A clean install; returns its count of flash operations. */
static uint32_t clean_install(void)
{
    int rc;

    load_flash(0);
    rc = dfota_init(&eng, &cfg);
    CHECK(rc == DFOTA_OK, "%s: dfota_init: %s", cur->name, dfota_strerror(rc));
    CHECK(dfota_active_slot(&eng) == 0 && !dfota_pending(&eng), "%s: fresh device state",
          cur->name);
    ops_at_apply = NEVER;
    rc = dfota_install(&eng);
    CHECK(rc == DFOTA_OK, "%s: dfota_install: %s", cur->name, dfota_strerror(rc));
    printf("%-8s install ok: %lu erases, %lu progs (%lu bytes), %lu reads (%lu bytes); "
           "pending from op %lu of %lu\n",
           cur->name, (unsigned long)vf.erases, (unsigned long)vf.progs,
           (unsigned long)vf.prog_bytes, (unsigned long)vf.reads, (unsigned long)vf.read_bytes,
           (unsigned long)ops_at_apply, (unsigned long)vf.ops);
    {
        uint32_t ops = vf.ops;
        check_updated("clean install");
        return ops;
    }
}

static const char *cut_name(enum cut_kind k)
{
    return k == CUT_CLEAN ? "cut" : k == CUT_TORN_PROG ? "torn prog" : "torn erase";
}

/* Power cut at operation n of the install (second_cut: also at operation
 * second_cut of the first resume), then power-ups until the update is done. */
static void cut_install(uint32_t n, enum cut_kind kind, uint32_t second_cut, const char *label)
{
    char what[64];
    int rc, restarted = 0, cuts = 1;

    snprintf(what, sizeof what, "%s %s at op %lu", label, cut_name(kind), (unsigned long)n);
    load_flash(0);
    vf.seed = 0x1234567u + n * 2654435761u;
    rc = dfota_init(&eng, &cfg);
    CHECK(rc == DFOTA_OK, "%s %s: dfota_init: %s", cur->name, what, dfota_strerror(rc));
    vf.cut_after = n;
    vf.cut_kind = kind;
    rc = dfota_install(&eng);
    CHECK(rc == DFOTA_ERR_IO && vf.off, "%s %s: install returned %s, power %s", cur->name, what,
          dfota_strerror(rc), vf.off ? "cut" : "never cut");
    CHECK(!vf.violation, "%s %s: flash rule broken: %s", cur->name, what, vf.why);
    snprintf(what + strlen(what), sizeof what - strlen(what), " (%s 0x%05lx)",
             vf.cut_was_prog ? "prog" : "erase", (unsigned long)vf.cut_addr);

    rc = reboot();
    CHECK(rc == DFOTA_OK, "%s %s: dfota_init after the cut: %s", cur->name, what,
          dfota_strerror(rc));
    if (second_cut != NEVER) {
        CHECK(dfota_pending(&eng), "%s %s: nothing pending", cur->name, what);
        vf.cut_after = second_cut;
        rc = dfota_resume(&eng);
        CHECK(rc == DFOTA_ERR_IO && vf.off, "%s %s: resume with a cut returned %s", cur->name,
              what, dfota_strerror(rc));
        cuts++;
        rc = reboot();
        CHECK(rc == DFOTA_OK, "%s %s: dfota_init after the second cut: %s", cur->name, what,
              dfota_strerror(rc));
    }
    if (dfota_pending(&eng)) {
        rc = dfota_resume(&eng);
        CHECK(rc == DFOTA_OK, "%s %s: dfota_resume: %s", cur->name, what, dfota_strerror(rc));
    } else {
        /* Cut before the journal named the update: the old firmware must be
         * intact and booting, and the package can simply be installed. */
        unsigned a = dfota_active_slot(&eng);
        CHECK(a == 0 && memcmp(slot_mem(0), old_image, old_len()) == 0,
              "%s %s: not pending, but the old image is not intact", cur->name, what);
        rc = dfota_install(&eng);
        CHECK(rc == DFOTA_OK, "%s %s: re-install: %s", cur->name, what, dfota_strerror(rc));
        restarted = 1;
    }
    check_updated(what);
    printf("%-8s %-40s -> %s ok (%d cut%s)\n", cur->name, what,
           restarted ? "install again" : "resume", cuts, cuts > 1 ? "s" : "");
}

/* One flipped signature byte: refused, and the flash is untouched. */
static void bad_signature(void)
{
    int rc;

    load_flash(1);
    memcpy(flash_ref, flash_mem, flash_used);
    rc = dfota_init(&eng, &cfg);
    CHECK(rc == DFOTA_OK, "%s: dfota_init: %s", cur->name, dfota_strerror(rc));
    rc = dfota_install(&eng);
    CHECK(rc == DFOTA_ERR_SIGNATURE, "%s bad signature: install returned %s", cur->name,
          dfota_strerror(rc));
    CHECK(vf.erases == 0 && vf.progs == 0 && memcmp(flash_mem, flash_ref, flash_used) == 0,
          "%s bad signature: the flash was changed (%lu erases, %lu progs)", cur->name,
          (unsigned long)vf.erases, (unsigned long)vf.progs);
    CHECK(!dfota_pending(&eng) && dfota_active_slot(&eng) == 0,
          "%s bad signature: engine state changed", cur->name);
    printf("%-8s %-40s -> %s, flash unchanged\n", cur->name, "flipped signature byte",
           dfota_strerror(rc));
}

static void run_scenario(const struct scenario *s)
{
    uint32_t ops;

    if (setup(s)) {
        failures++;
        return;
    }
    printf("%-8s package %lu bytes; flash %lu KiB: slot %lu KiB x%d, %sjournal 2 x %lu KiB, "
           "staging %lu KiB\n",
           s->name, (unsigned long)s->pkg_len, (unsigned long)(flash_used / 1024),
           (unsigned long)(cfg.layout.slot_size / 1024), s->kind == DFOTA_LAYOUT_AB ? 2 : 1,
           s->kind == DFOTA_LAYOUT_AB ? "" : "scratch 4 sectors, ",
           (unsigned long)(cfg.layout.journal_size / 2048),
           (unsigned long)(cfg.layout.staging_size / 1024));
    ops = clean_install();
    if (ops < 20) {
        CHECK(0, "%s: only %lu flash operations in a clean install", s->name,
              (unsigned long)ops);
        return;
    }
    cut_install(ops * 10 / 100, CUT_CLEAN, NEVER, "10%");
    cut_install(ops * 50 / 100, CUT_CLEAN, NEVER, "50%");
    cut_install(ops * 90 / 100, CUT_CLEAN, NEVER, "90%");
    cut_install(ops * 30 / 100, CUT_TORN_PROG, NEVER, "30%+");
    cut_install(ops * 70 / 100, CUT_TORN_ERASE, NEVER, "70%+");
    cut_install(0, CUT_CLEAN, NEVER, "first");
    if (ops_at_apply > 0 && ops_at_apply < ops) {
        cut_install(ops_at_apply - 1, CUT_TORN_PROG, NEVER, "journal");  /* first record */
        cut_install(ops_at_apply, CUT_CLEAN, NEVER, "pending");          /* first block */
    } else {
        CHECK(0, "%s: no APPLY progress inside the install (op %lu of %lu)", s->name,
              (unsigned long)ops_at_apply, (unsigned long)ops);
    }
    cut_install(ops - 1, CUT_CLEAN, NEVER, "last");
    cut_install(ops * 40 / 100, CUT_TORN_PROG, ops / 4, "40%+,2nd");
    bad_signature();
}

int main(void)
{
    static const struct scenario scenarios[2] = {
        { "ab", DFOTA_LAYOUT_AB, ab_pkg, 0 },
        { "inplace", DFOTA_LAYOUT_INPLACE, inplace_pkg, 0 },
    };
    struct scenario s[2];

    memcpy(s, scenarios, sizeof s);
    s[0].pkg_len = (uint32_t)(ab_pkg_end - ab_pkg);
    s[1].pkg_len = (uint32_t)(inplace_pkg_end - inplace_pkg);

    printf("qemu_engine_apply: sample_v1 (%lu bytes) -> sample_v2 (%lu bytes)\n",
           (unsigned long)old_len(), (unsigned long)new_len());
    printf("sizeof(struct dfota_engine) = %lu bytes, journal record %lu bytes, "
           "flash %u-byte sectors, %u-byte program unit\n",
           (unsigned long)sizeof(struct dfota_engine), (unsigned long)dfota_journal_record_size(),
           SECTOR, PROG_UNIT);
    if (pubkey_end - pubkey != 32) {
        printf("FAIL: embedded public key is %ld bytes, not 32\n", (long)(pubkey_end - pubkey));
        return 1;
    }
    if (port_selftest()) {
        printf("FAIL: the simulated flash does not enforce its rules\n");
        return 1;
    }
    run_scenario(&s[0]);
    run_scenario(&s[1]);
    printf("%u signature checks (port/ed25519)\n", verify_calls);
    if (failures) {
        printf("qemu_engine_apply: FAIL (%d)\n", failures);
        return 1;
    }
    printf("qemu_engine_apply: PASS\n");
    return 0;
}
