/* A strict NOR flash model for the engine: see host_port.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "host_port.h"

static uint32_t rnd(uint32_t *s)
{
    /* xorshift32: enough to vary how cut operations tear */
    uint32_t x = *s ? *s : 0x9E3779B9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static int rule(struct simflash *f, const char *what, uint32_t addr, uint32_t len)
{
    f->violation = 1;
    snprintf(f->why, sizeof f->why, "%s at 0x%08x len %u", what, addr, len);
    return SIMFLASH_VIOLATION;
}

/* Count an operation; return nonzero when the power goes during it. */
static int cut_now(struct simflash *f)
{
    if (f->ops >= f->cut_after) {
        f->powered_off = 1;
        return 1;
    }
    f->ops++;
    return 0;
}

static int sf_read(void *ctx, uint32_t addr, void *buf, uint32_t len)
{
    struct simflash *f = ctx;
    if (f->powered_off)
        return SIMFLASH_POWERCUT;
    if ((uint64_t)addr + len > f->size)
        return rule(f, "read beyond flash", addr, len);
    memcpy(buf, f->mem + addr, len);
    f->read_bytes += len;
    return 0;
}

static int sf_prog(void *ctx, uint32_t addr, const void *buf, uint32_t len)
{
    struct simflash *f = ctx;
    const uint8_t *p = buf;
    uint32_t i, n = len;

    if (f->powered_off)
        return SIMFLASH_POWERCUT;
    if ((uint64_t)addr + len > f->size)
        return rule(f, "prog beyond flash", addr, len);
    if ((addr | len) & (f->port.prog_size - 1))
        return rule(f, "misaligned prog", addr, len);
    for (i = 0; i < len; i++)
        if (f->mem[addr + i] != f->port.erased)
            return rule(f, "prog of a byte that is not erased", addr + i, len);
    if (cut_now(f)) {
        if (f->clean_cut)
            return SIMFLASH_POWERCUT;
        /* Torn: a prefix of whole program units lands, then one unit with
         * some bits done (NOR programming only clears bits). */
        uint32_t units = len / f->port.prog_size;
        uint32_t done = units ? rnd(&f->tear_seed) % (units + 1) : 0;
        n = done * f->port.prog_size;
        memcpy(f->mem + addr, p, n);
        if (n < len) {
            for (i = 0; i < f->port.prog_size; i++)
                if (rnd(&f->tear_seed) & 1)
                    f->mem[addr + n + i] &= p[n + i];
        }
        return SIMFLASH_POWERCUT;
    }
    memcpy(f->mem + addr, p, len);
    f->progs++;
    f->prog_bytes += len;
    return 0;
}

static int sf_erase(void *ctx, uint32_t addr)
{
    struct simflash *f = ctx;
    uint32_t ss = f->port.sector_size;

    if (f->powered_off)
        return SIMFLASH_POWERCUT;
    if (addr % ss || (uint64_t)addr + ss > f->size)
        return rule(f, "misaligned or out-of-range erase", addr, ss);
    if (cut_now(f)) {
        if (f->clean_cut)
            return SIMFLASH_POWERCUT;
        /* Torn erase: part erased, the rest left as it was or scrambled. */
        uint32_t n = rnd(&f->tear_seed) % (ss + 1), i;
        memset(f->mem + addr, f->port.erased, n);
        if (rnd(&f->tear_seed) & 1)
            for (i = n; i < ss; i++)
                f->mem[addr + i] ^= (uint8_t)rnd(&f->tear_seed);
        return SIMFLASH_POWERCUT;
    }
    memset(f->mem + addr, f->port.erased, ss);
    f->erases++;
    if (f->erase_count)
        f->erase_count[addr / ss]++;
    return 0;
}

int simflash_init(struct simflash *f, uint8_t *mem, uint32_t size, uint32_t sector_size,
                  uint32_t prog_size, uint8_t erased)
{
    memset(f, 0, sizeof *f);
    if (!sector_size || size % sector_size || !prog_size || sector_size % prog_size)
        return -1;
    if (!mem) {
        mem = malloc(size ? size : 1);
        if (!mem)
            return -1;
        memset(mem, erased, size);
    }
    f->erase_count = calloc(size / sector_size + 1, sizeof *f->erase_count);
    if (!f->erase_count)
        return -1;
    f->mem = mem;
    f->size = size;
    f->cut_after = UINT64_MAX;
    f->port.ctx = f;
    f->port.read = sf_read;
    f->port.prog = sf_prog;
    f->port.erase = sf_erase;
    f->port.sync = NULL;
    f->port.sector_size = sector_size;
    f->port.prog_size = prog_size;
    f->port.erased = erased;
    return 0;
}

void simflash_free(struct simflash *f)
{
    free(f->mem);
    free(f->erase_count);
    f->mem = NULL;
    f->erase_count = NULL;
}

void simflash_reset_counters(struct simflash *f)
{
    f->ops = f->erases = f->progs = f->prog_bytes = f->read_bytes = 0;
}

void simflash_power_on(struct simflash *f)
{
    f->powered_off = 0;
    f->cut_after = UINT64_MAX;
}
