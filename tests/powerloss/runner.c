/* powerloss_runner: the engine against the fault models of the strict
 * simulated flash (host/port/simflash.c), over a sweep of geometries.
 *
 * Every case has an id "<geometry>:<model>:<k>" that replays it alone:
 *
 *   powerloss_runner --case ab-s4096-p16-ff:torn:57 -v
 *
 * Other uses:
 *   powerloss_runner --list-geometries | --list-models
 *   powerloss_runner --make-golden DIR ENGINE-ID   (golden journals of this engine)
 *   powerloss_runner --golden DIR                  (this engine resumes them)
 *   powerloss_runner [--sample | --all] [--models m1,m2] [--geometries g1,g2]
 *                    [--jobs N] [--max-fail N] [--thin N] [--cap N]
 *                    [--block-digest device|4|16]  (in place: the device's digest
 *                    table, the default, or a chain of 4- or 16-byte entries)
 *
 * For every case the runner requires:
 *  - boot: at every power-up where nothing is pending, the image the boot
 *    loader would start is the old image or the signed target, byte for
 *    byte (never a mix, never an unsigned or corrupt image);
 *  - A/B: at every power-up the active bank holds a complete image;
 *  - done: once the faults stop and the package is intact again, at most a
 *    few power-ups (each: dfota_init, then dfota_resume when pending, or
 *    dfota_install again when the old image boots) end with nothing pending
 *    and the target booting: nothing stays pending for ever;
 *  - the engine never breaks a rule of the flash port.
 * tests/powerloss/README.md describes the models and the ids. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "dfota/delta.h"
#include "dfota/error.h"
#include "dfota/sha256.h"
#include "testutil.h"

/* ---- geometries -------------------------------------------------------- */

struct geom {
    int kind;
    uint32_t sector, prog;
    uint8_t erased;
    uint32_t lag;
    int dir;                 /* in place: 1 forward, -1 backward, 0 chosen by the encoder,
                                2 the write order `order` names (DFOTA_PKG_F_RUNS) */
    uint32_t scratch;        /* in place: scratch sectors */
    uint32_t size;           /* bytes of the old image */
    int sample;              /* in the `make check` sample */
    char name[64];
    int order;               /* dir 2: enum order, runs of the target's sector count */
    int win;                 /* targets that repeat new bytes within a sector at distances
                                over 256: the package carries DFOTA_PKG_F_BLOCKWIN (its dry
                                run programs every block into scratch) */
    int saved;               /* -saved: targets in which `saved` pairs of sectors swap
                                places (each copies the other's source sector), which no
                                write order keeps readable at lag 0 or 1: the package
                                carries DFOTA_PKG_F_SAVED (the engine copies a source
                                sector of each pair into staging before the update) */
};

/* Explicit write orders (dir 2), made for each package from its target's
 * sector count n (the second update's target has its own). */
enum order {
    ORD_NONE,
    ORD_THIRDS,              /* the first third lowest first, the last third highest
                                first (the short last sector first of it), the middle
                                lowest first */
    ORD_SINGLES,             /* sector n/2 alone, 0 .. n/2-1, the short last sector alone,
                                then n/2+1 .. n-2 (runs lowest first, no two that make one) */
};
static const char *const order_names[] = { "", "thirds", "singles" };

static struct geom geoms[] = {
    /* the sweeps of the former tests/unit/test_powercut.c */
    { DFOTA_LAYOUT_AB, 4096, 16, 0xFF, 0, 0, 0, 40000, 1, "", ORD_NONE, 0, 0 },
    { DFOTA_LAYOUT_INPLACE, 4096, 16, 0xFF, 2, 1, 4, 40000, 1, "", ORD_NONE, 0, 0 },
    { DFOTA_LAYOUT_INPLACE, 4096, 16, 0xFF, 0, -1, 2, 40000, 1, "", ORD_NONE, 0, 0 },
    { DFOTA_LAYOUT_INPLACE, 1024, 16, 0xFF, 1, 0, 3, 12000, 1, "", ORD_NONE, 0, 0 },
    { DFOTA_LAYOUT_INPLACE, 4096, 16, 0xFF, 2, 1, 8, 40000, 1, "", ORD_NONE, 0, 0 },
    { DFOTA_LAYOUT_INPLACE, 1024, 16, 0xFF, 0, -1, 5, 12000, 1, "", ORD_NONE, 0, 0 },
    /* small sectors and program units, flash that erases to 0x00 */
    { DFOTA_LAYOUT_AB, 256, 1, 0x00, 0, 0, 0, 6000, 1, "", ORD_NONE, 0, 0 },
    { DFOTA_LAYOUT_INPLACE, 256, 256, 0x00, 1, 1, 3, 6000, 1, "", ORD_NONE, 0, 0 },
    { DFOTA_LAYOUT_AB, 1024, 2, 0x00, 0, 0, 0, 12000, 0, "", ORD_NONE, 0, 0 },
    { DFOTA_LAYOUT_INPLACE, 512, 4, 0xFF, 3, -1, 6, 10000, 0, "", ORD_NONE, 0, 0 },
    { DFOTA_LAYOUT_INPLACE, 2048, 32, 0x00, 0, 1, 2, 16000, 0, "", ORD_NONE, 0, 0 },
    { DFOTA_LAYOUT_INPLACE, 256, 8, 0xFF, 7, 0, 16, 9000, 0, "", ORD_NONE, 0, 0 },
    /* large sectors */
    { DFOTA_LAYOUT_AB, 131072, 256, 0xFF, 0, 0, 0, 300000, 0, "", ORD_NONE, 0, 0 },
    { DFOTA_LAYOUT_INPLACE, 131072, 8, 0x00, 1, 0, 3, 300000, 0, "", ORD_NONE, 0, 0 },
    { DFOTA_LAYOUT_AB, 65536, 64, 0x00, 0, 0, 0, 150000, 0, "", ORD_NONE, 0, 0 },
    /* in place in runs: explicit write orders (DFOTA_PKG_F_RUNS) */
    { DFOTA_LAYOUT_INPLACE, 1024, 16, 0xFF, 1, 2, 3, 8000, 1, "", ORD_THIRDS, 0, 0 },
    { DFOTA_LAYOUT_INPLACE, 512, 16, 0x00, 0, 2, 2, 5000, 1, "", ORD_SINGLES, 0, 0 },
    { DFOTA_LAYOUT_INPLACE, 4096, 16, 0xFF, 2, 2, 5, 40000, 0, "", ORD_SINGLES, 0, 0 },
    { DFOTA_LAYOUT_INPLACE, 256, 8, 0x00, 3, 2, 6, 9000, 0, "", ORD_THIRDS, 0, 0 },
    /* in place, target copies over the whole block (DFOTA_PKG_F_BLOCKWIN) */
    { DFOTA_LAYOUT_INPLACE, 1024, 16, 0xFF, 1, 1, 3, 6000, 1, "", ORD_NONE, 1, 0 },
    { DFOTA_LAYOUT_INPLACE, 512, 4, 0x00, 0, -1, 2, 4000, 1, "", ORD_NONE, 1, 0 },
    { DFOTA_LAYOUT_INPLACE, 4096, 16, 0xFF, 2, 0, 4, 40000, 0, "", ORD_NONE, 1, 0 },
    { DFOTA_LAYOUT_INPLACE, 2048, 256, 0x00, 3, 2, 7, 20000, 0, "", ORD_THIRDS, 1, 0 },
    { DFOTA_LAYOUT_INPLACE, 1024, 1, 0xFF, 0, 2, 3, 10000, 0, "", ORD_SINGLES, 1, 0 },
    /* in place, sectors that read each other: saved source sectors (DFOTA_PKG_F_SAVED) */
    { DFOTA_LAYOUT_INPLACE, 1024, 16, 0xFF, 0, 0, 2, 6000, 1, "", ORD_NONE, 0, 1 },
    { DFOTA_LAYOUT_INPLACE, 2048, 32, 0x00, 1, 0, 3, 20000, 0, "", ORD_NONE, 0, 2 },
    { DFOTA_LAYOUT_INPLACE, 4096, 16, 0xFF, 0, 0, 5, 40000, 0, "", ORD_NONE, 0, 1 },
    { DFOTA_LAYOUT_INPLACE, 1024, 4, 0x00, 0, 0, 3, 12000, 0, "", ORD_NONE, 0, 2 },
    { DFOTA_LAYOUT_INPLACE, 1024, 16, 0xFF, 1, 0, 4, 8000, 0, "", ORD_NONE, 1, 1 },
};
#define NGEOM (sizeof geoms / sizeof geoms[0])

static void geom_names(void)
{
    size_t i;
    for (i = 0; i < NGEOM; i++) {
        struct geom *g = &geoms[i];
        if (g->kind == DFOTA_LAYOUT_AB)
            snprintf(g->name, sizeof g->name, "ab-s%u-p%u-%02x", g->sector, g->prog, g->erased);
        else
            snprintf(g->name, sizeof g->name, "ip-s%u-p%u-%02x-lag%u-%s%s-sc%u%s%s", g->sector,
                     g->prog, g->erased, g->lag,
                     g->dir == 2 ? "runs-" : g->dir > 0 ? "fwd" : g->dir < 0 ? "bwd" : "auto",
                     g->dir == 2 ? order_names[g->order] : "", g->scratch, g->win ? "-win" : "",
                     g->saved ? "-saved" : "");
    }
}

/* The runs of write order `order` for n sectors; returns their count. */
static uint32_t order_runs(int order, uint32_t n, struct dfota_pkg_run *r)
{
    uint32_t k = 0;
#define RUN(f, c, b)                                                                   \
    do {                                                                               \
        if ((c) > 0) {                                                                 \
            r[k].first = (f);                                                          \
            r[k].n = (c);                                                              \
            r[k].back = (b);                                                           \
            k++;                                                                       \
        }                                                                              \
    } while (0)
    if (order == ORD_THIRDS) {
        uint32_t a = n / 3, b = n - n / 3;
        RUN(0, a, 0);
        RUN(b, n - b, 1);
        RUN(a, b - a, 0);
    } else if (order == ORD_SINGLES && n) {
        uint32_t m = n / 2;
        RUN(m, 1, 0);
        RUN(0, m, 0);
        if (n - 1 > m) {
            RUN(n - 1, 1, 1);
            RUN(m + 1, n - 2 - m, 0);
        }
    }
#undef RUN
    return k;
}

/* The next release for a -win geometry: tu_release's, then in every
 * sector of the target a run of new random bytes (in no earlier image) and
 * the same run again further on in that sector, more than 256 bytes after
 * it. The encoder can copy the second from the first only over the whole
 * block: the package needs DFOTA_PKG_F_BLOCKWIN. */
static uint8_t *win_release(const uint8_t *img, size_t len, uint32_t sector, uint32_t seed,
                            size_t *out_len)
{
    uint8_t *q = tu_release(img, len, seed, out_len);
    uint32_t at, L = sector >= 1024 ? 160 : 96, off = sector / 16, r = seed * 2654435761u + 7;
    uint32_t span = sector - off - L; /* the second run ends within the sector */
    for (at = 0; at + sector <= *out_len; at += sector) {
        uint32_t d = 257 + tu_rand(&r) % (span - 257 + 1), k;   /* (> L: apart) */
        for (k = 0; k < L; k++)
            q[at + off + k] = q[at + off + d + k] = (uint8_t)tu_rand(&r);
    }
    return q;
}

/* The next release for a -saved geometry (win_release's with -win, else
 * tu_release's) in which g->saved groups of whole sectors read each other,
 * byte for byte from the old image, so that no write order keeps them all
 * readable: at lag 0 a pair a, b that swap places (a holds the old sector b,
 * b the old a): whichever the order writes first, the other has lost its
 * source; at lag 1 a triple a, b, c whose halves are the others' (a = b's
 * first half and c's second, b = c's and a's, c = a's and b's): the three
 * span at least 3 blocks, and the last one then reads the first, committed.
 * a = n/4 + p (+1 for an odd seed), b = a + n/4, c = a + n/2 of the n
 * whole sectors of both images, for group p. The encoder saves a source
 * sector of each group (DFOTA_PKG_F_SAVED); geom_package asserts it. */
static uint8_t *saved_release(const struct geom *g, const uint8_t *img, size_t len, uint32_t seed,
                              size_t *out_len)
{
    uint8_t *q = g->win ? win_release(img, len, g->sector, seed, out_len)
                        : tu_release(img, len, seed, out_len);
    size_t n = (*out_len < len ? *out_len : len) / g->sector, s = g->sector, h = s / 2, p;
    for (p = 0; p < (size_t)g->saved; p++) {
        size_t a = n / 4 + p + (seed & 1), b = a + n / 4, c = a + n / 2;
        if (c >= n || b <= a || c <= b)
            abort();
        if (!g->lag) {
            memcpy(q + a * s, img + c * s, s);
            memcpy(q + c * s, img + a * s, s);
            continue;
        }
        memcpy(q + a * s, img + b * s, h);
        memcpy(q + a * s + h, img + c * s + h, s - h);
        memcpy(q + b * s, img + c * s, h);
        memcpy(q + b * s + h, img + a * s + h, s - h);
        memcpy(q + c * s, img + a * s, h);
        memcpy(q + c * s + h, img + b * s + h, s - h);
    }
    return q;
}

/* A package of the geometry: with dir 2, in the write order it names for
 * the target's sector count, which the header must then hold. */
static uint8_t *geom_package(const struct geom *g, const uint8_t *a, size_t alen, const uint8_t *b,
                             size_t blen, size_t *plen)
{
    struct dfota_pkg_run r[DFOTA_MAX_RUNS];
    struct dfota_pkg_header h;
    uint32_t n = 0, nr, i;
    uint8_t *p;

    if (g->kind != DFOTA_LAYOUT_INPLACE || g->dir != 2) {
        p = tu_package(a, alen, b, blen, g->kind == DFOTA_LAYOUT_INPLACE, g->sector, g->lag,
                       g->dir, "", plen);
        nr = 0;
    } else {
        n = dz_block_count((uint32_t)blen, g->sector);
        nr = order_runs(g->order, n, r);
        p = tu_package_order(a, alen, b, blen, g->sector, g->lag, r, nr, "", plen);
    }
    if (dfota_pkg_parse(&h, p, *plen) != DFOTA_OK) {
        fprintf(stderr, "%s: the package does not parse\n", g->name);
        abort();
    }
    /* -win: DFOTA_PKG_F_BLOCKWIN, which auto sets with the device's digest
     * table (format 2) only; with a block digest chain it stays off */
    if (g->win && !(h.flags & DFOTA_PKG_F_BLOCKWIN) != (tu_block_digest != 0)) {
        fprintf(stderr, "%s: the package %s DFOTA_PKG_F_BLOCKWIN (flags 0x%x)\n", g->name,
                tu_block_digest ? "has" : "lacks", (unsigned)h.flags);
        abort();
    }
    /* -saved: one saved source sector per pair of swapped sectors, which
     * auto names with the device's digest table only (format 2) */
    if (g->saved && ((h.flags & DFOTA_PKG_F_SAVED) ? tu_block_digest != 0 || h.nsaved != (uint32_t)g->saved
                                                    : tu_block_digest == 0)) {
        fprintf(stderr, "%s: the package %s DFOTA_PKG_F_SAVED (flags 0x%x, %u saved sectors, %d wanted)\n",
                g->name, (h.flags & DFOTA_PKG_F_SAVED) ? "has" : "lacks", (unsigned)h.flags,
                (unsigned)h.nsaved, tu_block_digest ? 0 : g->saved);
        abort();
    }
    if (g->kind != DFOTA_LAYOUT_INPLACE || g->dir != 2)
        return p;
    if (!(h.flags & DFOTA_PKG_F_RUNS) || h.nruns != nr) {
        fprintf(stderr, "%s: the package has no write order in runs\n", g->name);
        abort();
    }
    for (i = 0; i < n; i++)
        if (dz_block_sector(h.runs, h.nruns, i) != dz_block_sector(r, nr, i)) {
            fprintf(stderr, "%s: block %u of the package writes another sector\n", g->name, i);
            abort();
        }
    return p;
}

/* ---- fault models ------------------------------------------------------ */

enum model {
    M_CLEAN, M_TORN, M_TORNBITS, M_ERASE_RANDOM, M_ERASE_PARTIAL, M_ECC, M_BITFLIP, M_MARGINAL,
    M_CACHE, M_STAGING, M_IOERR, M_MULTICUT, M_SECOND, M_COUNT
};

static const struct {
    const char *name;
    int sample;              /* in the `make check` sample (passes on main's engine) */
    const char *what;
} models[M_COUNT] = {
    [M_CLEAN] = { "clean", 1, "power cut before operation k (it does nothing)" },
    [M_TORN] = { "torn", 1, "operation k torn: program units prefix + a partial unit; erase prefix + kept or scrambled rest" },
    [M_TORNBITS] = { "tornbits", 1, "operation k torn: every bit lands or not at random" },
    [M_ERASE_RANDOM] = { "erase-random", 1, "operation k torn; a cut erase leaves random bytes" },
    [M_ERASE_PARTIAL] = { "erase-partial", 1, "operation k torn; a cut erase leaves a prefix erased, the rest unchanged" },
    [M_ECC] = { "ecc", 1, "operation k torn on ECC flash: reads of a cut unit fail until erased, no second program" },
    [M_BITFLIP] = { "bitflip", 1, "read call k returns one flipped bit (once; correct after a power cycle)" },
    [M_MARGINAL] = { "marginal", 1, "program k cut at its very end: valid at the next power-up, torn from the one after" },
    [M_CACHE] = { "cache", 1, "writes held until sync; cut at operation k: each unsynced write lost or landed (reordered)" },
    [M_STAGING] = { "staging", 1, "payload byte k rewritten in staging between dfota_check and dfota_install" },
    [M_IOERR] = { "ioerr", 1, "operation k fails with a port error; dfota_resume/install retried on the same engine" },
    [M_MULTICUT] = { "multicut", 1, "cut at operation k, then 1 to 6 more cuts in the recovery" },
    [M_SECOND] = { "second", 1, "a second update after the first: cut at its operation k/2 (clean if k even, torn if odd)" },
};

static int model_by_name(const char *s)
{
    int m;
    for (m = 0; m < M_COUNT; m++)
        if (strcmp(s, models[m].name) == 0)
            return m;
    return -1;
}

/* ---- a geometry's images, packages and device -------------------------- */

struct ctx {
    const struct geom *g;
    uint8_t *src, *dst, *dst2, *pkg, *pkg2;
    size_t slen, dlen, d2len, plen, p2len;
    uint32_t hsize;                /* the package's header size: where the payload starts */
    struct tu_device d;
    uint8_t *initial;        /* flash: old image, package 1 in staging */
    uint8_t *second;         /* flash: after update 1, package 2 in staging */
    uint64_t ops, reads;     /* of a clean install (update 1) */
    uint64_t ops2;           /* of a clean install of update 2 */
    uint64_t dry_ops;        /* of the dry run of update 1 (dfota_check): the first
                                operations of an install */
    struct saved_window {    /* -saved: where a clean install of update 1 ([0]) and of
                                update 2 ([1]) copies the saved sectors (save_sectors) */
        uint64_t op_lo, op_end;  /* operations op_lo .. op_end-1 are the copies' erases and
                                    programs; op_end is the next one (the first journal
                                    record); op_lo UINT64_MAX: no copies */
        uint64_t rd_lo, rd_end;  /* read calls from the first of those operations to the
                                    next (the source reads and both read-backs) */
        uint64_t copy_rd[16];    /* the first read calls of a copy after that: the
                                    decoder's source reads of an overwritten saved sector */
        unsigned ncopy;
    } sw[2];
    int ready;
};

static int verbose;

static void vlog(const char *fmt, ...)
{
    va_list ap;
    if (!verbose)
        return;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

static void device_init(struct tu_device *d, const struct geom *g, uint32_t staging_size)
{
    struct dfota_layout *l = &d->cfg.layout;
    uint32_t s = g->sector, slot = (g->size + 2 * s + s - 1) / s * s, jhalf, at = 0;

    memset(d, 0, sizeof *d);
    jhalf = dfota_journal_half_size(g->kind, slot, s, g->prog);
    staging_size = (staging_size + s - 1) / s * s;
    l->kind = (uint8_t)g->kind;
    l->slot[0] = at;
    at += slot;
    if (g->kind == DFOTA_LAYOUT_AB) {
        l->slot[1] = at;
        at += slot;
    } else {
        l->scratch = at;
        l->scratch_size = g->scratch * s;
        at += l->scratch_size;
    }
    l->slot_size = slot;
    l->journal = at;
    l->journal_size = 2 * jhalf;
    at += 2 * jhalf;
    l->staging = at;
    l->staging_size = staging_size;
    at += staging_size;
    if (simflash_init(&d->flash, NULL, at, s, g->prog, g->erased))
        abort();
    tu_keys(d->pk, (uint8_t[64]){ 0 });
    d->cfg.flash = &d->flash.port;
    d->cfg.crypto = dfota_host_crypto();
    d->cfg.pubkey = d->pk;
}

/* -saved: a flash port in front of simflash's that records where the
 * engine works on the saved sectors' copies (struct saved_window). */
struct watch {
    struct dfota_flash port;
    struct simflash *f;
    uint32_t lo, hi;               /* the copies: [lo, hi) of staging */
    int state;                     /* 0 before the copies, 1 making them, 2 after */
    struct saved_window *w;
};

static void watch_op(struct watch *t, uint32_t addr, uint32_t len)
{
    int in = addr < t->hi && addr + len > t->lo;
    if (t->state == 0 && in) {
        t->state = 1;
        t->w->op_lo = t->f->ops;
        t->w->rd_lo = t->f->reads;
    } else if (t->state == 1 && !in) {
        t->state = 2;
        t->w->op_end = t->f->ops;
        t->w->rd_end = t->f->reads;
    }
}

static int watch_read(void *ctx, uint32_t addr, void *buf, uint32_t len)
{
    struct watch *t = ctx;
    if (t->state == 2 && addr < t->hi && addr + len > t->lo && t->w->ncopy < 16)
        t->w->copy_rd[t->w->ncopy++] = t->f->reads;
    return t->f->port.read(t->f->port.ctx, addr, buf, len);
}

static int watch_prog(void *ctx, uint32_t addr, const void *buf, uint32_t len)
{
    struct watch *t = ctx;
    watch_op(t, addr, len);
    return t->f->port.prog(t->f->port.ctx, addr, buf, len);
}

static int watch_erase(void *ctx, uint32_t addr)
{
    struct watch *t = ctx;
    watch_op(t, addr, t->f->port.sector_size);
    return t->f->port.erase(t->f->port.ctx, addr);
}

/* A clean install of the package in staging, through a watch of where
 * its saved sectors' copies go (the end of staging, before the digest
 * table: package-format.md). */
static int install_watched(struct ctx *c, const uint8_t *pkg, size_t plen, struct saved_window *w)
{
    struct dfota_engine e;
    struct dfota_pkg_header h;
    struct watch t;
    const struct dfota_layout *l = &c->d.cfg.layout;
    uint32_t ss = c->g->sector, end;
    int rc;

    memset(w, 0, sizeof *w);
    w->op_lo = UINT64_MAX;
    if (dfota_pkg_parse(&h, pkg, plen) != DFOTA_OK)
        abort();
    memset(&t, 0, sizeof t);
    t.port = c->d.flash.port;
    t.port.ctx = &t;
    t.port.read = watch_read;
    t.port.prog = watch_prog;
    t.port.erase = watch_erase;
    t.f = &c->d.flash;
    t.w = w;
    end = l->staging + l->staging_size / ss * ss - dfota_devtable_size(&h, c->g->prog);
    t.hi = end;
    t.lo = end - dfota_saved_size(&h);
    c->d.cfg.flash = &t.port;
    rc = dfota_init(&e, &c->d.cfg);
    if (rc == DFOTA_OK)
        rc = dfota_install(&e);
    c->d.cfg.flash = &c->d.flash.port;
    if (rc == DFOTA_OK && t.lo < t.hi && t.state != 2) {
        fprintf(stderr, "%s: the install made no copies of its %u saved sectors\n", c->g->name,
                (unsigned)h.nsaved);
        abort();
    }
    if (t.lo < t.hi)
        vlog("%s: saved source sectors %u%s%.0u copied in operations %llu..%llu, read calls "
             "%llu..%llu, %u reads of a copy after\n",
             c->g->name, (unsigned)h.saved[0], h.nsaved > 1 ? "," : "",
             h.nsaved > 1 ? (unsigned)h.saved[1] : 0u, (unsigned long long)w->op_lo,
             (unsigned long long)w->op_end - 1, (unsigned long long)w->rd_lo,
             (unsigned long long)w->rd_end - 1, w->ncopy);
    return rc;
}

static const uint8_t *slot_mem(struct ctx *c, unsigned slot)
{
    return c->d.flash.mem + c->d.cfg.layout.slot[slot];
}

static void ctx_prepare(struct ctx *c, const struct geom *g)
{
    struct dfota_engine e;
    uint32_t seed = 21;

    memset(c, 0, sizeof *c);
    c->g = g;
    c->slen = g->size;
    c->src = tu_image(c->slen, seed);
    if (g->saved) {
        c->dst = saved_release(g, c->src, c->slen, 22, &c->dlen);
        c->dst2 = saved_release(g, c->dst, c->dlen, 23, &c->d2len);
    } else if (g->win) {
        c->dst = win_release(c->src, c->slen, g->sector, 22, &c->dlen);
        c->dst2 = win_release(c->dst, c->dlen, g->sector, 23, &c->d2len);
    } else {
        c->dst = tu_release(c->src, c->slen, 22, &c->dlen);
        c->dst2 = tu_release(c->dst, c->dlen, 23, &c->d2len);
    }
    c->pkg = geom_package(g, c->src, c->slen, c->dst, c->dlen, &c->plen);
    c->pkg2 = geom_package(g, c->dst, c->dlen, c->dst2, c->d2len, &c->p2len);
    {
        struct dfota_pkg_header h, h2;
        uint32_t need, need2;
        if (dfota_pkg_parse(&h, c->pkg, c->plen) != DFOTA_OK ||
            dfota_pkg_parse(&h2, c->pkg2, c->p2len) != DFOTA_OK)
            abort();
        c->hsize = h.header_size;
        /* room for each package and the digest table its dry run writes */
        need = dfota_staging_need(&h, g->sector, g->prog);
        need2 = dfota_staging_need(&h2, g->sector, g->prog);
        device_init(&c->d, g, need > need2 ? need : need2);
    }
    if (c->d2len > c->d.cfg.layout.slot_size)
        abort();
    memcpy(c->d.flash.mem + c->d.cfg.layout.slot[0], c->src, c->slen);
    memcpy(c->d.flash.mem + c->d.cfg.layout.staging, c->pkg, c->plen);
    c->initial = malloc(c->d.flash.size);
    c->second = malloc(c->d.flash.size);
    memcpy(c->initial, c->d.flash.mem, c->d.flash.size);

    /* The dry run alone: with DFOTA_PKG_F_BLOCKWIN it erases a scratch
     * slot for every block (the cuts of the first dry_ops operations of an
     * install fall in it), else it writes only the digest table. */
    {
        struct dfota_pkg_header h;
        uint32_t nb;
        if (dfota_pkg_parse(&h, c->pkg, c->plen) != DFOTA_OK || dfota_init(&e, &c->d.cfg) != DFOTA_OK)
            abort();
        nb = dz_block_count(h.dst_size, h.sector_size ? h.sector_size : g->sector);
        simflash_reset_counters(&c->d.flash);
        if (dfota_check(&e) != DFOTA_OK) {
            fprintf(stderr, "%s: check failed\n", g->name);
            abort();
        }
        c->dry_ops = c->d.flash.ops;
        vlog("%s: package flags 0x%x, %u blocks, the dry run: %llu operations, %llu erases\n",
             g->name, (unsigned)h.flags, nb, (unsigned long long)c->dry_ops,
             (unsigned long long)c->d.flash.erases);
        if (g->win && (h.flags & DFOTA_PKG_F_BLOCKWIN) && c->d.flash.erases < nb) {
            fprintf(stderr, "%s: the dry run erased %llu sectors, not one per block (%u)\n",
                    g->name, (unsigned long long)c->d.flash.erases, nb);
            abort();
        }
        memcpy(c->d.flash.mem, c->initial, c->d.flash.size);
    }
    /* A clean run counts the operations and reads of update 1. */
    simflash_reset_counters(&c->d.flash);
    if (install_watched(c, c->pkg, c->plen, &c->sw[0]) != DFOTA_OK) {
        fprintf(stderr, "%s: clean install failed\n", g->name);
        abort();
    }
    c->ops = c->d.flash.ops;
    c->reads = c->d.flash.reads;
    /* Then update 2 from there. */
    memset(c->d.flash.mem + c->d.cfg.layout.staging, g->erased, c->d.cfg.layout.staging_size);
    memcpy(c->d.flash.mem + c->d.cfg.layout.staging, c->pkg2, c->p2len);
    memcpy(c->second, c->d.flash.mem, c->d.flash.size);
    simflash_reset_counters(&c->d.flash);
    if (install_watched(c, c->pkg2, c->p2len, &c->sw[1]) != DFOTA_OK) {
        fprintf(stderr, "%s: clean second install failed\n", g->name);
        abort();
    }
    c->ops2 = c->d.flash.ops;
    c->ready = 1;
}

static void ctx_free(struct ctx *c)
{
    if (!c->ready)
        return;
    free(c->src);
    free(c->dst);
    free(c->dst2);
    free(c->pkg);
    free(c->pkg2);
    free(c->initial);
    free(c->second);
    tu_device_free(&c->d);
    c->ready = 0;
}

/* Reset the device to a starting flash image with every fault model off. */
static void device_reset(struct ctx *c, const uint8_t *image)
{
    struct simflash *f = &c->d.flash;
    simflash_set_cache(f, 0);
    simflash_set_ecc(f, 0);
    memcpy(f->mem, image, f->size);
    f->tear = SIMFLASH_TEAR_PREFIX;
    f->marginal = 0;
    f->violation = 0;
    f->why[0] = 0;
    f->marg_len = 0;
    simflash_power_on(f);
    simflash_reset_counters(f);
}

/* ---- one case ---------------------------------------------------------- */

struct expect {
    const uint8_t *from, *to;      /* the images that may boot */
    size_t flen, tlen;
    const uint8_t *pkg;            /* the package, restored before the recovery */
    size_t plen;
};

static int is_img(const uint8_t *m, const uint8_t *img, size_t len)
{
    return memcmp(m, img, len) == 0;
}

static int fail(char *why, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return 1;
}

/* What a boot loader would start, checked at a power-up: 0 fine. */
static int boot_check(struct ctx *c, struct dfota_engine *e, const struct expect *x, int *booted_to,
                      char *why, size_t n)
{
    const uint8_t *m = slot_mem(c, dfota_active_slot(e));
    int is_from = is_img(m, x->from, x->flen), is_to = is_img(m, x->to, x->tlen);
    *booted_to = 0;
    if (c->g->kind == DFOTA_LAYOUT_AB && !is_from && !is_to)
        return fail(why, n, "A/B: active bank %u holds neither the old nor the target image%s",
                    dfota_active_slot(e), dfota_pending(e) ? " (update pending)" : "");
    if (!dfota_pending(e)) {
        if (!is_from && !is_to)
            return fail(why, n, "nothing pending and the firmware is neither the old nor the target image");
        *booted_to = is_to;
    }
    return 0;
}

/* Further cuts during the recovery: count and where. */
struct recut {
    int n;                         /* cuts still to come */
    uint32_t seed;
    uint64_t span;                 /* cut within the first `span` operations of a power-up */
};

/* The update is done: the application erases staging (to download the
 * next package); two more power-ups must boot the target with nothing
 * pending, or finish what is pending without the package (a marginal
 * write may decay meanwhile). */
static int after_done(struct ctx *c, const struct expect *x, char *why, size_t n)
{
    struct simflash *f = &c->d.flash;
    const struct dfota_layout *l = &c->d.cfg.layout;
    uint32_t a;
    int round;

    simflash_power_on(f);
    for (a = 0; a < l->staging_size; a += l->staging_size ? c->g->sector : 1)
        if (f->port.erase(f, l->staging + a))
            return fail(why, n, "erasing staging failed: %s", f->why);
    for (round = 0; round < 2; round++) {
        struct dfota_engine e;
        int rc, to;
        simflash_power_on(f);
        rc = dfota_init(&e, &c->d.cfg);
        vlog("  after done, staging erased, power-up %d: init %s", round, dfota_strerror(rc));
        if (rc != DFOTA_OK) {
            vlog("\n");
            return fail(why, n, "after the update, with staging erased: init %s", dfota_strerror(rc));
        }
        vlog(" pending=%d active=%u\n", dfota_pending(&e), dfota_active_slot(&e));
        if (boot_check(c, &e, x, &to, why, n))
            return 1;
        if (dfota_pending(&e)) {
            /* pending again (a decayed record): it must finish without the package */
            rc = dfota_resume(&e);
            vlog("  resume %s\n", dfota_strerror(rc));
            if (rc != DFOTA_OK || dfota_pending(&e))
                return fail(why, n, "after the update, with staging erased: pending again, resume %s",
                            dfota_strerror(rc));
            to = is_img(slot_mem(c, dfota_active_slot(&e)), x->to, x->tlen);
        }
        if (!to)
            return fail(why, n, "after the update, with staging erased: the old image boots");
    }
    if (f->violation)
        return fail(why, n, "flash rule broken: %s", f->why);
    return 0;
}

/* Power-ups until the target boots with nothing pending. 0: pass. */
static int recover(struct ctx *c, const struct expect *x, struct recut *rc_cut, int tampered_rounds,
                   char *why, size_t n)
{
    struct simflash *f = &c->d.flash;
    int round, installs = 0, last = DFOTA_OK, pending = 0;
    int limit = 6 + (rc_cut ? rc_cut->n : 0) + tampered_rounds;
    uint8_t *stage = f->mem + c->d.cfg.layout.staging;
    uint8_t *saved = NULL;

    if (tampered_rounds) {
        saved = malloc(x->plen);
        memcpy(saved, stage, x->plen);
    }
    for (round = 0; round < limit; round++) {
        struct dfota_engine e;
        int rc, to;
        if (saved && round == tampered_rounds) {
            memcpy(stage, x->pkg, x->plen); /* the package is intact again */
            free(saved);
            saved = NULL;
        }
        simflash_power_on(f);
        simflash_reset_counters(f);
        if (rc_cut && rc_cut->n > 0) {
            f->cut_after = 1 + tu_rand(&rc_cut->seed) % (rc_cut->span ? rc_cut->span : 1);
            f->clean_cut = tu_rand(&rc_cut->seed) & 1;
            rc_cut->n--;
        }
        rc = dfota_init(&e, &c->d.cfg);
        vlog("  power-up %d: init %s", round, dfota_strerror(rc));
        if (f->violation)
            break;
        if (rc != DFOTA_OK) {
            vlog("\n");
            last = rc;
            continue;
        }
        pending = dfota_pending(&e);
        vlog(" pending=%d active=%u", pending, dfota_active_slot(&e));
        if (boot_check(c, &e, x, &to, why, n)) {
            vlog("\n");
            free(saved);
            return 1;
        }
        if (pending) {
            rc = dfota_resume(&e);
            vlog(" resume %s", dfota_strerror(rc));
        } else if (to) {
            if (!f->powered_off && !saved) {
                vlog(" target boots: done\n");
                return after_done(c, x, why, n);
            }
            vlog("\n");
            continue;
        } else {
            if (installs >= 3) {
                vlog("\n");
                return fail(why, n, "old image boots and 3 installs of the intact package failed (last %s)",
                            dfota_strerror(last));
            }
            rc = dfota_install(&e);
            vlog(" install %s", dfota_strerror(rc));
            if (!f->powered_off)
                installs++;     /* a cut one does not count */
        }
        vlog("%s\n", f->powered_off ? " (power cut)" : "");
        last = rc;
        if (f->violation)
            break;
    }
    free(saved);
    if (f->violation)
        return fail(why, n, "flash rule broken: %s", f->why);
    return fail(why, n, "stuck: after %d power-ups %s (last result %s)", limit,
                pending ? "the update is still pending" : "the target does not boot",
                dfota_strerror(last));
}

static const char *k_of(uint64_t k, char *b, size_t n)
{
    snprintf(b, n, "%llu", (unsigned long long)k);
    return b;
}

/* Number of k values of a model on a geometry. */
static uint64_t model_span(const struct ctx *c, int m)
{
    switch (m) {
    case M_BITFLIP:
        return c->reads;
    case M_STAGING:
        return c->plen - c->hsize;
    case M_SECOND:
        return 2 * (c->ops2 + 1);
    default:
        return c->ops + 1;
    }
}

/* Run case k of model m. 0: pass; else why holds the failure. */
static int run_case(struct ctx *c, int m, uint64_t k, char *why, size_t n)
{
    struct simflash *f = &c->d.flash;
    struct dfota_engine e;
    struct expect x = { c->src, c->dst, c->slen, c->dlen, c->pkg, c->plen };
    struct recut cut = { 0, 0, 0 }, *recut = NULL;
    int rc, tampered = 0;
    uint64_t total = c->ops;

    why[0] = 0;
    device_reset(c, m == M_SECOND ? c->second : c->initial);
    f->tear_seed = (uint32_t)(k * 2654435761u + (uint32_t)m * 40503u + 1);
    switch (m) {
    case M_CLEAN:
    case M_TORN:
        /* as the former test_powercut: every third k one more cut early in the recovery */
        f->tear_seed = (uint32_t)(k * 2654435761u + (uint32_t)(m == M_TORN) + 1);
        f->clean_cut = m == M_CLEAN;
        f->cut_after = k;
        if (k % 3 == 0) {
            cut.n = 1;
            cut.seed = (uint32_t)k * 7919u + 1;
            cut.span = 97;
            recut = &cut;
        }
        break;
    case M_TORNBITS:
        f->tear = SIMFLASH_TEAR_BITS;
        f->cut_after = k;
        break;
    case M_ERASE_RANDOM:
        f->tear = SIMFLASH_TEAR_RANDOM;
        f->cut_after = k;
        break;
    case M_ERASE_PARTIAL:
        f->tear = SIMFLASH_TEAR_PARTIAL;
        f->cut_after = k;
        break;
    case M_ECC:
        simflash_set_ecc(f, 1);
        f->cut_after = k;
        if (k % 2 == 0) {
            cut.n = 1;
            cut.seed = (uint32_t)k * 7919u + 7;
            cut.span = c->ops / 4 + 1;
            recut = &cut;
        }
        break;
    case M_BITFLIP:
        f->flip_read = k;
        f->flip_seed = (uint32_t)k * 2246822519u + 3;
        break;
    case M_MARGINAL:
        f->marginal = 1;
        f->cut_after = k;
        break;
    case M_CACHE:
        simflash_set_cache(f, 1);
        f->cut_after = k;
        break;
    case M_STAGING:
    case M_IOERR:
        break;
    case M_MULTICUT:
        f->cut_after = k;
        f->clean_cut = k & 1;
        cut.seed = (uint32_t)k * 2654435761u + 11;
        cut.n = 1 + (int)(tu_rand(&cut.seed) % 6);
        cut.span = c->ops / 2 + 1;
        recut = &cut;
        break;
    case M_SECOND:
        x.from = c->dst;
        x.flen = c->dlen;
        x.to = c->dst2;
        x.tlen = c->d2len;
        x.pkg = c->pkg2;
        x.plen = c->p2len;
        total = c->ops2;
        f->cut_after = k / 2;
        f->clean_cut = !(k & 1);
        k /= 2;
        break;
    }

    rc = dfota_init(&e, &c->d.cfg);
    if (m == M_STAGING) {
        /* an interposer (or bit rot) rewrites staging after the check */
        uint8_t *b = f->mem + c->d.cfg.layout.staging + c->hsize + k;
        if (rc == DFOTA_OK)
            rc = dfota_check(&e);
        if (rc != DFOTA_OK)
            return fail(why, n, "check of the intact package: %s", dfota_strerror(rc));
        *b ^= (uint8_t)(1u << (k % 8));
        tampered = 1;
    }
    if (m == M_IOERR)
        f->io_error_at = k;
    if (rc == DFOTA_OK)
        rc = dfota_install(&e);
    vlog("  install: %s%s\n", dfota_strerror(rc), f->powered_off ? " (power cut)" : "");
    if (f->violation)
        return fail(why, n, "flash rule broken: %s", f->why);
    switch (m) {
    case M_BITFLIP:
    case M_STAGING:
        break;
    case M_IOERR:
        if (k < total && rc != DFOTA_ERR_IO)
            return fail(why, n, "install returned %s, not an I/O error", dfota_strerror(rc));
        if (k < total) {
            /* docs/engine.md: after DFOTA_ERR_IO, try again (same engine, no power cycle) */
            int tries;
            for (tries = 0; tries < 3 && rc != DFOTA_OK; tries++) {
                rc = dfota_pending(&e) ? dfota_resume(&e) : dfota_install(&e);
                vlog("  retry %d: %s\n", tries, dfota_strerror(rc));
            }
            if (f->violation)
                return fail(why, n, "flash rule broken: %s", f->why);
            if (rc != DFOTA_OK)
                return fail(why, n, "retry after the I/O error on the same engine: %s",
                            dfota_strerror(rc));
            if (dfota_pending(&e) || !is_img(slot_mem(c, dfota_active_slot(&e)), x.to, x.tlen))
                return fail(why, n, "retry after the I/O error returned OK without the target active");
        }
        break;
    default:
        if (k < total && rc != DFOTA_ERR_IO)
            return fail(why, n, "install returned %s, not an I/O error", dfota_strerror(rc));
        if (k >= total && rc != DFOTA_OK)
            return fail(why, n, "install without a cut returned %s", dfota_strerror(rc));
        break;
    }
    (void)tampered;
    return recover(c, &x, recut, tampered, why, n);
}


/* ---- golden journals: resume by another build of the engine ------------- */

/* A golden case is a whole flash image as an update left it at a power cut,
 * made by the engine of an earlier commit (--make-golden), with a manifest
 * of its layout. --golden DIR requires that this build's engine resumes
 * each one to the signed target (whose digest is in the package in the
 * image's staging), also when the resume is cut once more. */
struct golden {
    struct dfota_layout l;
    uint32_t sector, prog, size;
    unsigned erased;
    char engine[64];
};

/* .flash files: runs of erased bytes squeezed out. A sequence of
 * [LE32 erased run][LE32 literal length][literal bytes] up to the size the
 * manifest gives. */
static int rle_write(FILE *f, const uint8_t *m, uint32_t size, uint8_t erased)
{
    uint32_t at = 0;
    while (at < size) {
        uint32_t e = at, l;
        uint8_t h[8];
        while (e < size && m[e] == erased)
            e++;
        l = e;
        /* a literal ends at 16 erased bytes in a row */
        while (l < size) {
            uint32_t z = l;
            while (z < size && z - l < 16 && m[z] == erased)
                z++;
            if (z - l >= 16 || z == size)
                break;
            l = z + 1;
        }
        if (l > size)
            l = size;
        h[0] = (uint8_t)(e - at); h[1] = (uint8_t)((e - at) >> 8);
        h[2] = (uint8_t)((e - at) >> 16); h[3] = (uint8_t)((e - at) >> 24);
        h[4] = (uint8_t)(l - e); h[5] = (uint8_t)((l - e) >> 8);
        h[6] = (uint8_t)((l - e) >> 16); h[7] = (uint8_t)((l - e) >> 24);
        if (fwrite(h, 1, 8, f) != 8 || fwrite(m + e, 1, l - e, f) != l - e)
            return 0;
        at = l;
    }
    return 1;
}

static int rle_read(FILE *f, uint8_t *m, uint32_t size, uint8_t erased)
{
    uint32_t at = 0;
    while (at < size) {
        uint8_t h[8];
        uint32_t e, l;
        if (fread(h, 1, 8, f) != 8)
            return 0;
        e = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
        l = (uint32_t)h[4] | (uint32_t)h[5] << 8 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 24;
        if (e > size - at || l > size - at - e)
            return 0;
        memset(m + at, erased, e);
        if (fread(m + at + e, 1, l, f) != l)
            return 0;
        at += e + l;
    }
    return 1;
}

static int golden_write(const char *dir, const char *name, struct ctx *c, const char *engine)
{
    char path[1024];
    FILE *f;
    const struct dfota_layout *l = &c->d.cfg.layout;
    int ok;

    snprintf(path, sizeof path, "%s/%s.flash", dir, name);
    f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return -1;
    }
    ok = rle_write(f, c->d.flash.mem, c->d.flash.size, c->g->erased);
    if (fclose(f) || !ok) {
        perror(path);
        return -1;
    }
    snprintf(path, sizeof path, "%s/%s.txt", dir, name);
    f = fopen(path, "w");
    if (!f) {
        perror(path);
        return -1;
    }
    fprintf(f, "engine %s\nkind %u\nsector %u\nprog %u\nerased %u\nsize %u\n"
               "slot0 %u\nslot1 %u\nslot_size %u\nscratch %u\nscratch_size %u\n"
               "journal %u\njournal_size %u\nstaging %u\nstaging_size %u\n",
            engine, l->kind, c->g->sector, c->g->prog, c->g->erased, c->d.flash.size, l->slot[0],
            l->slot[1], l->slot_size, l->scratch, l->scratch_size, l->journal, l->journal_size,
            l->staging, l->staging_size);
    return fclose(f) ? -1 : 0;
}

static int make_golden(const char *dir, const char *engine)
{
    /* a small geometry of each layout; 4 torn cuts spread over the update */
    static const char *names[] = { "ab-s1024-p2-00", "ip-s1024-p16-ff-lag1-auto-sc3" };
    size_t i, gi;
    int n = 0;
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct ctx c;
        unsigned j;
        for (gi = 0; gi < NGEOM && strcmp(geoms[gi].name, names[i]); gi++)
            ;
        if (gi == NGEOM)
            return 2;
        ctx_prepare(&c, &geoms[gi]);
        for (j = 0; j < 4; j++) {
            struct dfota_engine e;
            uint64_t k = c.ops * (2 * j + 1) / 8;
            char name[128];
            device_reset(&c, c.initial);
            c.d.flash.cut_after = k;
            c.d.flash.tear_seed = (uint32_t)k * 2654435761u + 5;
            if (dfota_init(&e, &c.d.cfg) == DFOTA_OK)
                (void)dfota_install(&e);
            simflash_power_on(&c.d.flash);
            if (dfota_init(&e, &c.d.cfg) != DFOTA_OK || !dfota_pending(&e))
                continue;      /* only cuts that leave an update pending */
            snprintf(name, sizeof name, "%s@%llu", names[i], (unsigned long long)k);
            if (golden_write(dir, name, &c, engine)) {
                ctx_free(&c);
                return 1;
            }
            printf("wrote %s/%s.flash\n", dir, name);
            n++;
        }
        ctx_free(&c);
    }
    return n ? 0 : 1;
}

static int golden_load(const char *txt, struct golden *g)
{
    FILE *f = fopen(txt, "r");
    char key[32];
    unsigned long v;
    char sval[64];
    int n = 0;
    if (!f)
        return -1;
    memset(g, 0, sizeof *g);
    while (fscanf(f, "%31s", key) == 1) {
        if (!strcmp(key, "engine")) {
            if (fscanf(f, "%63s", sval) == 1)
                snprintf(g->engine, sizeof g->engine, "%s", sval);
            continue;
        }
        if (fscanf(f, "%lu", &v) != 1)
            break;
        n++;
        if (!strcmp(key, "kind")) g->l.kind = (uint8_t)v;
        else if (!strcmp(key, "sector")) g->sector = (uint32_t)v;
        else if (!strcmp(key, "prog")) g->prog = (uint32_t)v;
        else if (!strcmp(key, "erased")) g->erased = (unsigned)v;
        else if (!strcmp(key, "size")) g->size = (uint32_t)v;
        else if (!strcmp(key, "slot0")) g->l.slot[0] = (uint32_t)v;
        else if (!strcmp(key, "slot1")) g->l.slot[1] = (uint32_t)v;
        else if (!strcmp(key, "slot_size")) g->l.slot_size = (uint32_t)v;
        else if (!strcmp(key, "scratch")) g->l.scratch = (uint32_t)v;
        else if (!strcmp(key, "scratch_size")) g->l.scratch_size = (uint32_t)v;
        else if (!strcmp(key, "journal")) g->l.journal = (uint32_t)v;
        else if (!strcmp(key, "journal_size")) g->l.journal_size = (uint32_t)v;
        else if (!strcmp(key, "staging")) g->l.staging = (uint32_t)v;
        else if (!strcmp(key, "staging_size")) g->l.staging_size = (uint32_t)v;
        else n--;
    }
    fclose(f);
    return n == 14 ? 0 : -1;
}

/* Resume one golden image, optionally with a cut at operation cut (UINT64_MAX:
 * none). 0: the target boots with nothing pending. */
static int golden_case(const struct golden *g, const uint8_t *img, uint64_t cut, int torn,
                       char *why, size_t n)
{
    struct tu_device d;
    struct dfota_pkg_header h;
    uint8_t dig[32];
    int round, rc = DFOTA_OK, r = 1;

    memset(&d, 0, sizeof d);
    if (simflash_init(&d.flash, NULL, g->size, g->sector, g->prog, (uint8_t)g->erased))
        return fail(why, n, "bad manifest");
    memcpy(d.flash.mem, img, g->size);
    tu_keys(d.pk, (uint8_t[64]){ 0 });
    d.cfg.flash = &d.flash.port;
    d.cfg.crypto = dfota_host_crypto();
    d.cfg.pubkey = d.pk;
    d.cfg.layout = g->l;
    if (dfota_pkg_parse(&h, img + g->l.staging, DFOTA_PKG_HEADER_MAX) != DFOTA_OK) {
        simflash_free(&d.flash);
        return fail(why, n, "no package in the image's staging");
    }
    d.flash.cut_after = cut;
    d.flash.clean_cut = !torn;
    d.flash.tear_seed = (uint32_t)cut * 2654435761u + 9;
    for (round = 0; round < 4; round++) {
        struct dfota_engine e;
        rc = dfota_init(&e, &d.cfg);
        if (rc == DFOTA_OK && dfota_pending(&e))
            rc = dfota_resume(&e);
        if (rc == DFOTA_OK && !d.flash.powered_off && !dfota_pending(&e)) {
            dfota_sha256(d.flash.mem + g->l.slot[dfota_active_slot(&e)], h.dst_size, dig);
            if (memcmp(dig, h.dst_sha256, 32) != 0) {
                fail(why, n, "resumed, but the booting image is not the signed target");
                goto out;
            }
            r = 0;
            goto out;
        }
        simflash_power_on(&d.flash);
    }
    fail(why, n, "not resumed after 4 power-ups (last %s)", dfota_strerror(rc));
out:
    if (!r && d.flash.violation)
        r = fail(why, n, "flash rule broken: %s", d.flash.why);
    simflash_free(&d.flash);
    return r;
}

static int check_golden(const char *dir)
{
    char line[1024];
    DIR *ls;
    struct dirent *de;
    unsigned long pass = 0, failed = 0;

    ls = opendir(dir);
    if (!ls) {
        perror(dir);
        return 2;
    }
    while ((de = readdir(ls)) != NULL) {
        char base[1024], path[2300], why[256];
        struct golden g;
        uint8_t *img;
        FILE *f;
        size_t len;
        uint64_t cut;
        snprintf(line, sizeof line, "%s", de->d_name);
        len = strlen(line);
        if (len < 5 || strcmp(line + len - 4, ".txt"))
            continue;
        line[len - 4] = 0;
        snprintf(base, sizeof base, "%s", line);
        snprintf(path, sizeof path, "%s/%s.txt", dir, base);
        if (golden_load(path, &g)) {
            printf("FAIL golden %s: bad manifest\n", base);
            failed++;
            continue;
        }
        snprintf(path, sizeof path, "%s/%s.flash", dir, base);
        img = malloc(g.size);
        f = fopen(path, "rb");
        if (!f || !rle_read(f, img, g.size, (uint8_t)g.erased)) {
            printf("FAIL golden %s: cannot read %s\n", base, path);
            failed++;
            if (f)
                fclose(f);
            free(img);
            continue;
        }
        fclose(f);
        /* the resume alone, then cut at a spread of its first operations */
        for (cut = 0; cut <= 64; cut = cut ? cut * 2 : 1) {
            uint64_t at = cut ? cut - 1 : UINT64_MAX;
            int torn;
            for (torn = 0; torn < (cut ? 2 : 1); torn++) {
                if (golden_case(&g, img, at, torn, why, sizeof why)) {
                    printf("FAIL golden %s (engine %s), cut %s%s: %s\n", base, g.engine,
                           cut ? "at op " : "none", cut ? (torn ? "torn" : "clean") : "", why);
                    failed++;
                } else {
                    pass++;
                }
            }
        }
        free(img);
    }
    closedir(ls);
    printf("golden journals in %s: %lu cases, %lu pass, %lu fail\n", dir, pass + failed, pass,
           failed);
    return failed || !pass ? 1 : 0;
}

/* ---- selection and reporting ------------------------------------------- */

struct opts {
    int all;
    int models[M_COUNT];     /* selected */
    int geoms[NGEOM];
    int jobs;
    int max_fail_print;
    unsigned thin;           /* run only every thin-th selected case (sanitizer builds) */
    uint64_t cap;            /* --cap: at most about this many k per geometry and model */
};

/* The k values of a case list: all of them up to `cap`, else evenly spaced
 * ones plus the first and last 32. */
static int k_selected(uint64_t k, uint64_t span, uint64_t cap)
{
    uint64_t stride;
    if (span <= cap || k < 32 || k + 32 >= span)
        return 1;
    stride = (span + cap - 1) / cap;
    return k % stride == 0;
}

static uint64_t cap_for(const struct opts *o, const struct geom *g, int m)
{
    if (o->cap)
        return o->cap;
    if (o->all) {
        if (m == M_BITFLIP || m == M_STAGING)
            return 4000;
        return g->sector >= 65536 ? 1500 : 20000;
    }
    /* the sample: the former test_powercut coverage in full, the rest thinned */
    if ((m == M_CLEAN || m == M_TORN) && g->sample && g->sector >= 1024 && g->prog == 16)
        return UINT64_MAX;
    return g->sample ? 120 : 0;
}

/* -saved: k of model m falls where the install copies the saved sectors
 * (every such k runs, whatever the cap): operation-indexed models cut, tear,
 * fail or leave marginal the copies' erases and programs and the journal
 * record after them; bitflip flips a source read of the copy, either
 * read-back, or a later read of a copy; second does the same in update 2.
 * (staging flips payload bytes: nothing of the copies.) */
static int in_saved_window(const struct ctx *c, int m, uint64_t k)
{
    const struct saved_window *w = &c->sw[m == M_SECOND];
    unsigned i;
    if (w->op_lo == UINT64_MAX || m == M_STAGING)
        return 0;
    if (m == M_BITFLIP) {
        for (i = 0; i < w->ncopy; i++)
            if (k == w->copy_rd[i])
                return 1;
        return k >= w->rd_lo && k < w->rd_end;
    }
    if (m == M_SECOND)
        k /= 2;
    return k >= w->op_lo && k <= w->op_end;
}

struct tally {
    unsigned long pass[M_COUNT], fail[M_COUNT];
};

static void run_item(const struct opts *o, size_t gi, int m, struct ctx *c, struct tally *t, FILE *out)
{
    uint64_t span, k, cap = cap_for(o, &geoms[gi], m);
    char why[256], kb[32];
    if (!cap)
        return;
    if (!c->ready || c->g != &geoms[gi]) {
        ctx_free(c);
        ctx_prepare(c, &geoms[gi]);
    }
    unsigned long nsel = 0;
    span = model_span(c, m);
    for (k = 0; k < span; k++) {
        if (!k_selected(k, span, cap) && !in_saved_window(c, m, k))
            continue;
        if (o->thin > 1 && nsel++ % o->thin)
            continue;
        if (run_case(c, m, k, why, sizeof why)) {
            t->fail[m]++;
            fprintf(out, "FAIL %s:%s:%s: %s\n", geoms[gi].name, models[m].name, k_of(k, kb, sizeof kb),
                    why);
        } else {
            t->pass[m]++;
        }
    }
}

static int run_all(const struct opts *o)
{
    struct tally total;
    int w, jobs = o->jobs > 0 ? o->jobs : 1, m, bad = 0;
    FILE *res[64];
    pid_t pid[64];
    size_t gi;
    unsigned long printed = 0, nfail = 0;

    if (jobs > 64)
        jobs = 64;
    memset(&total, 0, sizeof total);
    for (w = 0; w < jobs; w++) {
        res[w] = tmpfile();
        if (!res[w]) {
            perror("tmpfile");
            return 2;
        }
        fflush(NULL);
        pid[w] = jobs > 1 ? fork() : 0;
        if (pid[w] < 0) {
            perror("fork");
            return 2;
        }
        if (pid[w] == 0) {
            struct ctx c;
            struct tally t;
            size_t item = 0;
            memset(&c, 0, sizeof c);
            memset(&t, 0, sizeof t);
            for (gi = 0; gi < NGEOM; gi++) {
                if (!o->geoms[gi])
                    continue;
                for (m = 0; m < M_COUNT; m++) {
                    if (!o->models[m] || !cap_for(o, &geoms[gi], m))
                        continue;
                    if (item++ % (size_t)jobs != (size_t)w)
                        continue;
                    run_item(o, gi, m, &c, &t, res[w]);
                }
            }
            ctx_free(&c);
            for (m = 0; m < M_COUNT; m++)
                fprintf(res[w], "TALLY %d %lu %lu\n", m, t.pass[m], t.fail[m]);
            fflush(res[w]);
            if (jobs > 1)
                _exit(0);
        }
    }
    for (w = 0; w < jobs; w++) {
        char line[512];
        if (jobs > 1) {
            int st;
            if (waitpid(pid[w], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                fprintf(stderr, "worker %d died\n", w);
                bad = 1;
            }
        }
        rewind(res[w]);
        while (fgets(line, sizeof line, res[w])) {
            int mm;
            unsigned long p, fl;
            if (sscanf(line, "TALLY %d %lu %lu", &mm, &p, &fl) == 3 && mm >= 0 && mm < M_COUNT) {
                total.pass[mm] += p;
                total.fail[mm] += fl;
            } else if (strncmp(line, "FAIL ", 5) == 0) {
                nfail++;
                if (printed++ < (unsigned long)o->max_fail_print)
                    fputs(line, stdout);
            }
        }
        fclose(res[w]);
    }
    if (printed > (unsigned long)o->max_fail_print)
        printf("... %lu more failing cases not shown (--max-fail)\n",
               printed - (unsigned long)o->max_fail_print);
    printf("\n%-14s %9s %9s %9s\n", "model", "cases", "pass", "fail");
    {
        unsigned long tp = 0, tf = 0;
        for (m = 0; m < M_COUNT; m++) {
            if (!total.pass[m] && !total.fail[m])
                continue;
            printf("%-14s %9lu %9lu %9lu\n", models[m].name, total.pass[m] + total.fail[m],
                   total.pass[m], total.fail[m]);
            tp += total.pass[m];
            tf += total.fail[m];
        }
        printf("%-14s %9lu %9lu %9lu\n", "total", tp + tf, tp, tf);
    }
    if (nfail)
        printf("replay one: powerloss_runner --case <id> -v\n");
    return nfail || bad ? 1 : 0;
}

static int select_list(const char *list, int *sel, size_t n, int is_model)
{
    char buf[1024], *tok, *save;
    size_t i;
    memset(sel, 0, n * sizeof *sel);
    snprintf(buf, sizeof buf, "%s", list);
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int found = 0;
        for (i = 0; i < n; i++)
            if (strcmp(tok, is_model ? models[i].name : geoms[i].name) == 0)
                sel[i] = found = 1;
        if (!found) {
            fprintf(stderr, "unknown %s: %s\n", is_model ? "model" : "geometry", tok);
            return -1;
        }
    }
    return 0;
}

static int replay(const char *id)
{
    char g[128], mname[64], why[256];
    unsigned long long k;
    const char *a = strchr(id, ':'), *b = a ? strchr(a + 1, ':') : NULL;
    size_t gi;
    int m, r;
    struct ctx c;

    if (!a || !b || (size_t)(a - id) >= sizeof g || (size_t)(b - a - 1) >= sizeof mname ||
        sscanf(b + 1, "%llu", &k) != 1) {
        fprintf(stderr, "case id: <geometry>:<model>:<k>\n");
        return 2;
    }
    memcpy(g, id, (size_t)(a - id));
    g[a - id] = 0;
    memcpy(mname, a + 1, (size_t)(b - a - 1));
    mname[b - a - 1] = 0;
    m = model_by_name(mname);
    for (gi = 0; gi < NGEOM; gi++)
        if (strcmp(geoms[gi].name, g) == 0)
            break;
    if (gi == NGEOM || m < 0) {
        fprintf(stderr, "unknown geometry or model in %s (--list-geometries, --list-models)\n", id);
        return 2;
    }
    ctx_prepare(&c, &geoms[gi]);
    if (k >= model_span(&c, m)) {
        fprintf(stderr, "%s: k must be below %llu\n", id, (unsigned long long)model_span(&c, m));
        ctx_free(&c);
        return 2;
    }
    vlog("%s: %s\n", id, models[m].what);
    r = run_case(&c, m, k, why, sizeof why);
    printf("%s %s%s%s\n", id, r ? "FAIL" : "pass", r ? ": " : "", why);
    ctx_free(&c);
    return r;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: powerloss_runner [--sample | --all] [--models a,b] [--geometries a,b]\n"
            "                        [--jobs N] [--max-fail N] [--thin N] [--cap N]\n"
            "                        [--block-digest device|4|16]\n"
            "       powerloss_runner --case <geometry>:<model>:<k> [-v] [--block-digest device|4|16]\n"
            "       powerloss_runner --list-geometries | --list-models\n"
            "       powerloss_runner --make-golden DIR ENGINE-ID | --golden DIR\n");
}

int main(int argc, char **argv)
{
    struct opts o;
    int i, m;
    size_t gi;

    geom_names();
    setvbuf(stdout, NULL, _IOLBF, 0);
    memset(&o, 0, sizeof o);
    o.jobs = 1;
    o.max_fail_print = 50;
    for (m = 0; m < M_COUNT; m++)
        o.models[m] = 1;
    for (gi = 0; gi < NGEOM; gi++)
        o.geoms[gi] = 1;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-v"))
            verbose = 1;
        /* before --case too: the packages of every case are built with it */
        if (!strcmp(argv[i], "--block-digest") && i + 1 < argc) {
            tu_block_digest = strcmp(argv[i + 1], "device") ? (unsigned)atoi(argv[i + 1]) : 0;
            if (tu_block_digest != 0 && tu_block_digest != 4 && tu_block_digest != 16) {
                fprintf(stderr, "--block-digest: device (the default), 4 or 16\n");
                return 2;
            }
        }
    }
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-v")) {
            verbose = 1;
        } else if (!strcmp(a, "--all")) {
            o.all = 1;
        } else if (!strcmp(a, "--sample")) {
            o.all = 0;
            for (m = 0; m < M_COUNT; m++)
                o.models[m] = models[m].sample;
        } else if (!strcmp(a, "--models") && v) {
            if (select_list(v, o.models, M_COUNT, 1))
                return 2;
            i++;
        } else if (!strcmp(a, "--geometries") && v) {
            if (select_list(v, o.geoms, NGEOM, 0))
                return 2;
            i++;
        } else if (!strcmp(a, "--jobs") && v) {
            o.jobs = atoi(v);
            i++;
        } else if (!strcmp(a, "--block-digest") && v) {
            i++;                          /* (read above) */
        } else if (!strcmp(a, "--cap") && v) {
            o.cap = strtoull(v, NULL, 10);
            i++;
        } else if (!strcmp(a, "--thin") && v) {
            o.thin = (unsigned)atoi(v);
            i++;
        } else if (!strcmp(a, "--max-fail") && v) {
            o.max_fail_print = atoi(v);
            i++;
        } else if (!strcmp(a, "--golden") && v) {
            return check_golden(v);
        } else if (!strcmp(a, "--make-golden") && v && i + 2 < argc) {
            return make_golden(v, argv[i + 2]);
        } else if (!strcmp(a, "--case") && v) {
            return replay(v);
        } else if (!strcmp(a, "--list-geometries")) {
            for (gi = 0; gi < NGEOM; gi++)
                printf("%s%s\n", geoms[gi].name, geoms[gi].sample ? "  (sample)" : "");
            return 0;
        } else if (!strcmp(a, "--list-models")) {
            for (m = 0; m < M_COUNT; m++)
                printf("%-14s %s%s\n", models[m].name, models[m].what,
                       models[m].sample ? "  (sample)" : "");
            return 0;
        } else {
            usage();
            return 2;
        }
    }
    return run_all(&o);
}
