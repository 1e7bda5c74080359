/* The module's flash as a file: a 4096-byte header with the geometry, then
 * the flash, mapped shared so that every program and erase is in the file
 * the moment it returns (kill -9 is a power cut, nothing is lost that a real
 * flash would keep). The strict NOR rules come from host/port/simflash.c;
 * this file adds the file, the layout and the --cut-after-flash-ops hook. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "dfota/sha256.h"
#include "modem.h"

#define MAGIC "DFOTAMF1"
enum { HDR_VERSION = 1, HDR_WORDS = 18 };

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void geom_words(const struct flash_geom *g, uint32_t w[HDR_WORDS])
{
    const struct dfota_layout *l = &g->layout;
    uint32_t v[HDR_WORDS] = { HDR_VERSION, MODEM_FLASH_HDR, g->flash_size, g->sector_size,
                              g->prog_size, g->erased, l->kind, l->slot[0], l->slot[1],
                              l->slot_size, l->scratch, l->scratch_size, l->journal,
                              l->journal_size, l->staging, l->staging_size, g->state,
                              g->state_size };
    memcpy(w, v, sizeof v);
}

static void hdr_write(uint8_t *h, const struct flash_geom *g)
{
    uint32_t w[HDR_WORDS], i;
    memset(h, 0, MODEM_FLASH_HDR);
    memcpy(h, MAGIC, 8);
    geom_words(g, w);
    for (i = 0; i < HDR_WORDS; i++)
        put32(h + 8 + 4 * i, w[i]);
    put32(h + 8 + 4 * HDR_WORDS, dfota_crc32(0, h, 8 + 4 * HDR_WORDS));
}

static int hdr_read(const uint8_t *h, struct flash_geom *g)
{
    uint32_t w[HDR_WORDS], i;
    if (memcmp(h, MAGIC, 8) != 0)
        return -1;
    if (get32(h + 8 + 4 * HDR_WORDS) != dfota_crc32(0, h, 8 + 4 * HDR_WORDS))
        return -2;
    for (i = 0; i < HDR_WORDS; i++)
        w[i] = get32(h + 8 + 4 * i);
    if (w[0] != HDR_VERSION || w[1] != MODEM_FLASH_HDR)
        return -3;
    memset(g, 0, sizeof *g);
    g->flash_size = w[2];
    g->sector_size = w[3];
    g->prog_size = w[4];
    g->erased = (uint8_t)w[5];
    g->layout.kind = (uint8_t)w[6];
    g->layout.slot[0] = w[7];
    g->layout.slot[1] = w[8];
    g->layout.slot_size = w[9];
    g->layout.scratch = w[10];
    g->layout.scratch_size = w[11];
    g->layout.journal = w[12];
    g->layout.journal_size = w[13];
    g->layout.staging = w[14];
    g->layout.staging_size = w[15];
    g->state = w[16];
    g->state_size = w[17];
    return 0;
}

static uint32_t up(uint64_t v, uint32_t unit)
{
    return (uint32_t)((v + unit - 1) / unit * unit);
}

static int pow2(uint32_t v)
{
    return v && !(v & (v - 1));
}

/* Lay the regions out one after the other: bank(s) or firmware + scratch,
 * the journal, staging, the core's state area. */
static int geom_plan(struct flash_geom *g, const struct flash_opts *o, uint64_t image_len)
{
    uint32_t ss = o->sector_size ? o->sector_size : 4096;
    uint32_t ps = o->prog_size ? o->prog_size : 16;
    uint32_t scratch = o->scratch_sectors ? o->scratch_sectors : 8;
    int kind = o->kind ? o->kind : DFOTA_LAYOUT_AB;
    uint64_t at = 0, slot, staging;

    if (!pow2(ss) || ss < 256) {
        fprintf(stderr, "dfota-modem: --sector-size must be a power of two >= 256\n");
        return -1;
    }
    if (!pow2(ps) || ps > DFOTA_IO_BUF || ps > ss) {
        fprintf(stderr, "dfota-modem: --prog-size must be a power of two <= %u\n", DFOTA_IO_BUF);
        return -1;
    }
    if (kind == DFOTA_LAYOUT_INPLACE && (scratch < 2 || scratch > DFOTA_MAX_SCRATCH)) {
        fprintf(stderr, "dfota-modem: --scratch-sectors must be 2 to %u\n", DFOTA_MAX_SCRATCH);
        return -1;
    }
    /* Room to grow: a target a quarter larger than the image still fits. */
    slot = o->slot_size ? up(o->slot_size, ss) : up(image_len + image_len / 4, ss);
    if (slot < 16ull * ss && !o->slot_size)
        slot = 16ull * ss;
    if (slot < image_len) {
        fprintf(stderr, "dfota-modem: --slot-size %llu is smaller than the firmware (%llu bytes)\n",
                (unsigned long long)slot, (unsigned long long)image_len);
        return -1;
    }
    staging = o->staging_size ? up(o->staging_size, ss) : slot;
    memset(g, 0, sizeof *g);
    g->sector_size = ss;
    g->prog_size = ps;
    g->erased = 0xFF;
    g->layout.kind = (uint8_t)kind;
    g->layout.slot[0] = 0;
    g->layout.slot_size = (uint32_t)slot;
    at = slot;
    if (kind == DFOTA_LAYOUT_AB) {
        g->layout.slot[1] = (uint32_t)at;
        at += slot;
    } else {
        g->layout.scratch = (uint32_t)at;
        g->layout.scratch_size = scratch * ss;
        at += g->layout.scratch_size;
    }
    g->layout.journal = (uint32_t)at;
    g->layout.journal_size = 2 * dfota_journal_half_size(kind, (uint32_t)slot, ss, ps);
    at += g->layout.journal_size;
    g->layout.staging = (uint32_t)at;
    g->layout.staging_size = (uint32_t)staging;
    at += staging;
    g->state = (uint32_t)at;
    g->state_size = 2 * ss;
    at += g->state_size;
    if (at + MODEM_FLASH_HDR > UINT32_MAX) {
        fprintf(stderr, "dfota-modem: the flash would exceed 4 GiB\n");
        return -1;
    }
    g->flash_size = (uint32_t)at;
    return 0;
}

static int geom_agrees(const struct flash_geom *g, const struct flash_opts *o, const char *path)
{
    const char *what = NULL;
    if (o->kind && o->kind != g->layout.kind)
        what = "--layout";
    else if (o->sector_size && o->sector_size != g->sector_size)
        what = "--sector-size";
    else if (o->prog_size && o->prog_size != g->prog_size)
        what = "--prog-size";
    else if (o->scratch_sectors && g->layout.kind == DFOTA_LAYOUT_INPLACE &&
             o->scratch_sectors * g->sector_size != g->layout.scratch_size)
        what = "--scratch-sectors";
    else if (o->slot_size && up(o->slot_size, g->sector_size) != g->layout.slot_size)
        what = "--slot-size";
    else if (o->staging_size && up(o->staging_size, g->sector_size) != g->layout.staging_size)
        what = "--staging-size";
    if (what) {
        fprintf(stderr, "dfota-modem: %s differs from the geometry '%s' was made with "
                "(remove the file to make a new flash)\n", what, path);
        return -1;
    }
    return 0;
}

/* ---- the flash port: simflash's rules, and the power cut ---------------- */

static void power_cut(struct flashdev *d, const char *op, uint32_t addr)
{
    extern void modem_power_cut(void);
    fprintf(stderr, "dfota-modem: power cut at flash operation %llu (%s 0x%08x%s)\n",
            (unsigned long long)d->ops, op, addr, d->cut_torn ? ", torn" : "");
    modem_power_cut();
}

static int fd_read(void *ctx, uint32_t addr, void *buf, uint32_t len)
{
    struct flashdev *d = ctx;
    int rc = d->sf.port.read(d->sf.port.ctx, addr, buf, len);
    if (rc == SIMFLASH_VIOLATION)
        fprintf(stderr, "dfota-modem: flash rule broken: %s\n", d->sf.why);
    return rc ? -1 : 0;
}

static int fd_prog(void *ctx, uint32_t addr, const void *buf, uint32_t len)
{
    struct flashdev *d = ctx;
    int rc;
    d->ops++;
    rc = d->sf.port.prog(d->sf.port.ctx, addr, buf, len);
    if (d->sf.powered_off)
        power_cut(d, "program", addr);
    if (rc == SIMFLASH_VIOLATION)
        fprintf(stderr, "dfota-modem: flash rule broken: %s\n", d->sf.why);
    return rc ? -1 : 0;
}

static int fd_erase(void *ctx, uint32_t addr)
{
    struct flashdev *d = ctx;
    int rc;
    d->ops++;
    rc = d->sf.port.erase(d->sf.port.ctx, addr);
    if (d->sf.powered_off)
        power_cut(d, "erase", addr);
    if (rc == SIMFLASH_VIOLATION)
        fprintf(stderr, "dfota-modem: flash rule broken: %s\n", d->sf.why);
    return rc ? -1 : 0;
}

static int map_file(struct flashdev *d, const char *path)
{
    d->map_len = MODEM_FLASH_HDR + (size_t)d->g.flash_size;
    d->map = mmap(NULL, d->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd, 0);
    if (d->map == MAP_FAILED) {
        d->map = NULL;
        fprintf(stderr, "dfota-modem: cannot map '%s': %s\n", path, strerror(errno));
        return -1;
    }
    if (simflash_init(&d->sf, d->map + MODEM_FLASH_HDR, d->g.flash_size, d->g.sector_size,
                      d->g.prog_size, d->g.erased)) {
        fprintf(stderr, "dfota-modem: bad geometry in '%s'\n", path);
        return -1;
    }
    if (d->cut_at) {
        d->sf.cut_after = d->cut_at - 1;   /* cut_at - 1 operations complete */
        d->sf.clean_cut = !d->cut_torn;
        d->sf.tear_seed = (uint32_t)(d->cut_at * 2654435761u) | 1u;
    }
    d->port.ctx = d;
    d->port.read = fd_read;
    d->port.prog = fd_prog;
    d->port.erase = fd_erase;
    d->port.sync = NULL;     /* a shared mapping is in the file at once */
    d->port.sector_size = d->g.sector_size;
    d->port.prog_size = d->g.prog_size;
    d->port.erased = d->g.erased;
    return 0;
}

static int lock_file(int fd, const char *path)
{
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        fprintf(stderr, "dfota-modem: '%s' is in use by another dfota-modem\n", path);
        return -1;
    }
    return 0;
}

int flashdev_open(struct flashdev *d, const char *path, const struct flash_opts *o,
                  const char *firmware, const char *tmp_path)
{
    struct stat st;
    uint8_t hdr[MODEM_FLASH_HDR];
    uint64_t cut_at = d->cut_at;
    int cut_torn = d->cut_torn, rc = 0;

    memset(d, 0, sizeof *d);
    d->cut_at = cut_at;
    d->cut_torn = cut_torn;
    d->fd = open(path, O_RDWR | O_CLOEXEC);
    if (d->fd >= 0) {
        if (lock_file(d->fd, path))
            goto fail;
        if (pread(d->fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr || (rc = hdr_read(hdr, &d->g))) {
            fprintf(stderr, "dfota-modem: '%s' is not a dfota-modem flash file%s\n", path,
                    rc == -2 ? " (header checksum wrong)" : "");
            goto fail;
        }
        if (fstat(d->fd, &st) || (uint64_t)st.st_size != MODEM_FLASH_HDR + (uint64_t)d->g.flash_size) {
            fprintf(stderr, "dfota-modem: '%s' has the wrong size for its header (truncated?)\n", path);
            goto fail;
        }
        if (geom_agrees(&d->g, o, path))
            goto fail;
        if (firmware)
            fprintf(stderr, "dfota-modem: '%s' exists: --firmware and --revision are ignored\n", path);
        return map_file(d, path) ? (flashdev_close(d), -1) : 0;
    }
    if (errno != ENOENT) {
        fprintf(stderr, "dfota-modem: cannot open '%s': %s\n", path, strerror(errno));
        return -1;
    }
    if (!firmware) {
        fprintf(stderr, "dfota-modem: '%s' does not exist: give --firmware IMG --revision REV "
                "to make it\n", path);
        return -1;
    }

    /* First use: build the whole file under a temporary name. */
    {
        FILE *img = fopen(firmware, "rb");
        long len;
        if (!img) {
            fprintf(stderr, "dfota-modem: cannot open '%s': %s\n", firmware, strerror(errno));
            return -1;
        }
        if (fseek(img, 0, SEEK_END) || (len = ftell(img)) < 0 || fseek(img, 0, SEEK_SET)) {
            fprintf(stderr, "dfota-modem: cannot read '%s'\n", firmware);
            fclose(img);
            return -1;
        }
        if (geom_plan(&d->g, o, (uint64_t)len)) {
            fclose(img);
            return -1;
        }
        unlink(tmp_path);
        d->fd = open(tmp_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (d->fd < 0) {
            fprintf(stderr, "dfota-modem: cannot create '%s': %s\n", tmp_path, strerror(errno));
            fclose(img);
            return -1;
        }
        if (lock_file(d->fd, tmp_path) ||
            ftruncate(d->fd, (off_t)(MODEM_FLASH_HDR + (uint64_t)d->g.flash_size)) ||
            map_file(d, tmp_path)) {
            fclose(img);
            goto fail_tmp;
        }
        memset(d->map + MODEM_FLASH_HDR, d->g.erased, d->g.flash_size);
        if (len && fread(d->map + MODEM_FLASH_HDR + d->g.layout.slot[0], 1, (size_t)len, img) !=
                       (size_t)len) {
            fprintf(stderr, "dfota-modem: cannot read '%s'\n", firmware);
            fclose(img);
            goto fail_tmp;
        }
        fclose(img);
        hdr_write(d->map, &d->g);
        d->created = 1;
    }
    return 0;
fail_tmp:
    flashdev_close(d);
    unlink(tmp_path);
    return -1;
fail:
    flashdev_close(d);
    return -1;
}

int flashdev_commit(struct flashdev *d, const char *tmp_path, const char *path)
{
    if (msync(d->map, d->map_len, MS_SYNC) || fsync(d->fd) || rename(tmp_path, path)) {
        fprintf(stderr, "dfota-modem: cannot create '%s': %s\n", path, strerror(errno));
        return -1;
    }
    d->created = 0;
    return 0;
}

void flashdev_close(struct flashdev *d)
{
    if (d->map) {
        munmap(d->map, d->map_len);
        d->sf.mem = NULL;          /* the mapping, not simflash's to free */
        simflash_free(&d->sf);
    }
    d->map = NULL;
    if (d->fd >= 0)
        close(d->fd);
    d->fd = -1;
}

void flashdev_describe(const struct flashdev *d, char *out, size_t cap)
{
    const struct flash_geom *g = &d->g;
    const struct dfota_layout *l = &g->layout;
    if (l->kind == DFOTA_LAYOUT_AB)
        snprintf(out, cap, "A/B, %u KiB flash, %u-byte sectors, banks 0x%x and 0x%x of %u KiB, "
                 "journal 0x%x, staging 0x%x (%u KiB), state 0x%x",
                 g->flash_size / 1024, g->sector_size, l->slot[0], l->slot[1],
                 l->slot_size / 1024, l->journal, l->staging, l->staging_size / 1024, g->state);
    else
        snprintf(out, cap, "in place, %u KiB flash, %u-byte sectors, firmware 0x%x (%u KiB), "
                 "%u scratch sectors, journal 0x%x, staging 0x%x (%u KiB), state 0x%x",
                 g->flash_size / 1024, g->sector_size, l->slot[0], l->slot_size / 1024,
                 l->scratch_size / g->sector_size, l->journal, l->staging, l->staging_size / 1024,
                 g->state);
}
