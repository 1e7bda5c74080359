/* A strict NOR flash model for the engine, with the fault models of
 * tests/powerloss/: see host_port.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "host_port.h"

struct simflash_pending {
    uint32_t addr, len;          /* len 0: an erase of the sector at addr */
    uint8_t *data;
};

enum { U_ERASED = 0, U_PROG = 1, U_TORN = 2 };

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

/* Bits of a program that land: from the erased value towards buf's. */
static uint8_t land(uint8_t erased, uint8_t old, uint8_t want, uint8_t mask)
{
    (void)erased;
    return (uint8_t)((old & ~mask) | (want & mask));
}

/* A program reaching cells that may not be erased (cache reordering):
 * NOR only moves bits away from the erased value. */
static uint8_t prog_over(uint8_t erased, uint8_t old, uint8_t want)
{
    return erased == 0xFF ? (uint8_t)(old & want) : (uint8_t)(old | want);
}

static void units_mark(struct simflash *f, uint32_t addr, uint32_t len, uint8_t st)
{
    uint32_t u;
    if (!f->unit || !len)
        return;
    for (u = addr / f->port.prog_size; u <= (addr + len - 1) / f->port.prog_size; u++)
        f->unit[u] = st;
}

int simflash_ecc_torn(const struct simflash *f, uint32_t addr, uint32_t len)
{
    uint32_t u;
    if (!f->unit || !len)
        return 0;
    for (u = addr / f->port.prog_size; u <= (addr + len - 1) / f->port.prog_size; u++)
        if (f->unit[u] == U_TORN)
            return 1;
    return 0;
}

/* cache: the power went; every write since the last sync lands or not. */
static void cache_cut(struct simflash *f)
{
    uint32_t i, j, ss = f->port.sector_size;
    for (i = 0; i < f->npend; i++) {
        struct simflash_pending *p = &f->pend[i];
        if (rnd(&f->tear_seed) & 1) {
            if (!p->len)
                memset(f->durable + p->addr, f->port.erased, ss);
            else
                for (j = 0; j < p->len; j++)
                    f->durable[p->addr + j] =
                        prog_over(f->port.erased, f->durable[p->addr + j], p->data[j]);
        }
        free(p->data);
    }
    f->npend = 0;
    memcpy(f->mem, f->durable, f->size);
}

static int cache_log(struct simflash *f, uint32_t addr, const uint8_t *buf, uint32_t len)
{
    struct simflash_pending *p;
    if (f->npend == f->cap_pend) {
        uint32_t cap = f->cap_pend ? 2 * f->cap_pend : 64;
        void *n = realloc(f->pend, cap * sizeof *f->pend);
        if (!n)
            return -1;
        f->pend = n;
        f->cap_pend = cap;
    }
    p = &f->pend[f->npend];
    p->addr = addr;
    p->len = len;
    p->data = NULL;
    if (len) {
        p->data = malloc(len);
        if (!p->data)
            return -1;
        memcpy(p->data, buf, len);
    }
    f->npend++;
    return 0;
}

static int sf_sync(void *ctx)
{
    struct simflash *f = ctx;
    uint32_t i;
    if (f->powered_off)
        return SIMFLASH_POWERCUT;
    f->syncs++;
    if (f->cache) {
        for (i = 0; i < f->npend; i++) {
            struct simflash_pending *p = &f->pend[i];
            if (!p->len)
                memset(f->durable + p->addr, f->port.erased, f->port.sector_size);
            else
                memcpy(f->durable + p->addr, p->data, p->len);
            free(p->data);
        }
        f->npend = 0;
    }
    return 0;
}

/* Count an operation; return 1 when the power goes during it, -1 for the
 * injected I/O error. */
static int cut_now(struct simflash *f)
{
    if (f->ops >= f->cut_after) {
        f->powered_off = 1;
        if (f->cache)
            cache_cut(f);
        return 1;
    }
    if (f->ops == f->io_error_at) {
        f->io_error_at = UINT64_MAX;
        f->io_errors++;
        f->ops++;
        return -1;
    }
    f->ops++;
    return 0;
}

static int sf_read(void *ctx, uint32_t addr, void *buf, uint32_t len)
{
    struct simflash *f = ctx;
    uint64_t n;

    if (f->powered_off)
        return SIMFLASH_POWERCUT;
    if ((uint64_t)addr + len > f->size)
        return rule(f, "read beyond flash", addr, len);
    n = f->reads++;
    if (f->ecc && simflash_ecc_torn(f, addr, len)) {
        f->ecc_errors++;
        return SIMFLASH_ECC;
    }
    memcpy(buf, f->mem + addr, len);
    f->read_bytes += len;
    if (n == f->flip_read && len) {
        uint32_t bit = rnd(&f->flip_seed) % (len * 8u);
        ((uint8_t *)buf)[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        f->flip_read = UINT64_MAX;
        f->flips++;
    }
    return 0;
}

static int sf_prog(void *ctx, uint32_t addr, const void *buf, uint32_t len)
{
    struct simflash *f = ctx;
    const uint8_t *p = buf;
    uint32_t i, n = len, ps = f->port.prog_size;
    int c;

    if (f->powered_off)
        return SIMFLASH_POWERCUT;
    if ((uint64_t)addr + len > f->size)
        return rule(f, "prog beyond flash", addr, len);
    if ((addr | len) & (ps - 1))
        return rule(f, "misaligned prog", addr, len);
    for (i = 0; i < len; i++)
        if (f->mem[addr + i] != f->port.erased)
            return rule(f, "prog of a byte that is not erased", addr + i, len);
    if (f->unit)
        for (i = 0; i < len; i += ps)
            if (f->unit[(addr + i) / ps] != U_ERASED)
                return rule(f, f->unit[(addr + i) / ps] == U_TORN
                                   ? "prog of a unit whose write was cut, without an erase (ECC)"
                                   : "second prog of a unit without an erase (ECC)",
                            addr + i, len);
    c = cut_now(f);
    if (c < 0)
        return SIMFLASH_IOERR;
    if (c) {
        if (f->cache || f->clean_cut)
            return SIMFLASH_POWERCUT;
        if (f->marginal) {
            /* The program finished as the power went: it reads back whole
             * now, and decays two power-ups later. */
            memcpy(f->mem + addr, p, len);
            units_mark(f, addr, len, U_PROG);
            free(f->marg_data);
            f->marg_data = malloc(len);
            if (f->marg_data) {
                memcpy(f->marg_data, p, len);
                f->marg_addr = addr;
                f->marg_len = len;
                f->marg_cycle = f->power_cycles;
            }
            return SIMFLASH_POWERCUT;
        }
        if (f->tear == SIMFLASH_TEAR_BITS) {
            for (i = 0; i < len; i++)
                f->mem[addr + i] = land(f->port.erased, f->mem[addr + i], p[i],
                                        (uint8_t)rnd(&f->tear_seed));
            units_mark(f, addr, len, U_TORN);
            return SIMFLASH_POWERCUT;
        }
        /* Torn: a prefix of whole program units lands, then one unit with
         * some bytes done. */
        uint32_t units = len / ps;
        uint32_t done = units ? rnd(&f->tear_seed) % (units + 1) : 0;
        n = done * ps;
        memcpy(f->mem + addr, p, n);
        units_mark(f, addr, n, U_PROG);
        if (n < len) {
            for (i = 0; i < ps; i++)
                if (rnd(&f->tear_seed) & 1)
                    f->mem[addr + n + i] = p[n + i];
            units_mark(f, addr + n, ps, U_TORN);
        }
        return SIMFLASH_POWERCUT;
    }
    memcpy(f->mem + addr, p, len);
    units_mark(f, addr, len, U_PROG);
    if (f->cache && cache_log(f, addr, p, len))
        return rule(f, "out of memory (cache)", addr, len);
    f->progs++;
    f->prog_bytes += len;
    return 0;
}

static int sf_erase(void *ctx, uint32_t addr)
{
    struct simflash *f = ctx;
    uint32_t ss = f->port.sector_size, i;
    int c;

    if (f->powered_off)
        return SIMFLASH_POWERCUT;
    if (addr % ss || (uint64_t)addr + ss > f->size)
        return rule(f, "misaligned or out-of-range erase", addr, ss);
    c = cut_now(f);
    if (c < 0)
        return SIMFLASH_IOERR;
    if (c) {
        if (f->cache || f->clean_cut || f->marginal)
            return SIMFLASH_POWERCUT;
        switch (f->tear) {
        case SIMFLASH_TEAR_BITS:
            /* every bit erased or not */
            for (i = 0; i < ss; i++) {
                uint8_t m = (uint8_t)rnd(&f->tear_seed);
                f->mem[addr + i] = (uint8_t)((f->mem[addr + i] & ~m) | (f->port.erased & m));
            }
            break;
        case SIMFLASH_TEAR_RANDOM:
            for (i = 0; i < ss; i++)
                f->mem[addr + i] = (uint8_t)rnd(&f->tear_seed);
            break;
        case SIMFLASH_TEAR_PARTIAL: {
            uint32_t n = rnd(&f->tear_seed) % (ss + 1);
            memset(f->mem + addr, f->port.erased, n);
            break;
        }
        default: {
            /* Torn erase: part erased, the rest left as it was or scrambled. */
            uint32_t n = rnd(&f->tear_seed) % (ss + 1);
            memset(f->mem + addr, f->port.erased, n);
            if (rnd(&f->tear_seed) & 1)
                for (i = n; i < ss; i++)
                    f->mem[addr + i] ^= (uint8_t)rnd(&f->tear_seed);
            break;
        }
        }
        units_mark(f, addr, ss, U_TORN);
        return SIMFLASH_POWERCUT;
    }
    memset(f->mem + addr, f->port.erased, ss);
    units_mark(f, addr, ss, U_ERASED);
    if (f->marg_len && f->marg_addr >= addr && f->marg_addr < addr + ss)
        f->marg_len = 0;            /* rewritten: nothing left to decay */
    if (f->cache && cache_log(f, addr, NULL, 0))
        return rule(f, "out of memory (cache)", addr, ss);
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
    f->flip_read = UINT64_MAX;
    f->io_error_at = UINT64_MAX;
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

int simflash_set_ecc(struct simflash *f, int on)
{
    free(f->unit);
    f->unit = NULL;
    f->ecc = 0;
    if (!on)
        return 0;
    /* Units start programmed (their content is unknown); the caller's
     * images count as programmed, blank flash as erased. */
    f->unit = calloc(f->size / f->port.prog_size + 1, 1);
    if (!f->unit)
        return -1;
    for (uint32_t u = 0; u < f->size / f->port.prog_size; u++) {
        uint32_t i, ps = f->port.prog_size;
        for (i = 0; i < ps; i++)
            if (f->mem[u * ps + i] != f->port.erased)
                break;
        f->unit[u] = i < ps ? U_PROG : U_ERASED;
    }
    f->ecc = 1;
    return 0;
}

int simflash_set_cache(struct simflash *f, int on)
{
    uint32_t i;
    for (i = 0; i < f->npend; i++)
        free(f->pend[i].data);
    f->npend = 0;
    free(f->durable);
    f->durable = NULL;
    f->cache = 0;
    f->port.sync = NULL;
    if (!on)
        return 0;
    f->durable = malloc(f->size ? f->size : 1);
    if (!f->durable)
        return -1;
    memcpy(f->durable, f->mem, f->size);
    f->cache = 1;
    f->port.sync = sf_sync;
    return 0;
}

void simflash_free(struct simflash *f)
{
    simflash_set_cache(f, 0);
    free(f->pend);
    f->pend = NULL;
    f->cap_pend = 0;
    free(f->unit);
    free(f->marg_data);
    free(f->mem);
    free(f->erase_count);
    f->unit = NULL;
    f->marg_data = NULL;
    f->mem = NULL;
    f->erase_count = NULL;
}

void simflash_reset_counters(struct simflash *f)
{
    f->ops = f->erases = f->progs = f->prog_bytes = f->read_bytes = 0;
    f->reads = f->syncs = 0;
}

void simflash_power_on(struct simflash *f)
{
    if (f->cache && f->npend) {
        /* off without a cut (the caller switched the power): unsynced
         * writes are lost or land like at a cut */
        f->powered_off = 1;
        cache_cut(f);
    }
    f->powered_off = 0;
    f->cut_after = UINT64_MAX;
    f->flip_read = UINT64_MAX;
    f->io_error_at = UINT64_MAX;
    f->power_cycles++;
    if (f->marg_len && f->marg_data && f->power_cycles >= f->marg_cycle + 2) {
        /* The marginal program decays: some of its bits fall back towards
         * the erased value; on ECC flash its units fail to read. */
        uint32_t i;
        for (i = 0; i < f->marg_len; i++) {
            uint8_t m = (uint8_t)(rnd(&f->tear_seed) & rnd(&f->tear_seed));
            f->mem[f->marg_addr + i] =
                (uint8_t)((f->mem[f->marg_addr + i] & ~m) | (f->port.erased & m));
        }
        if (f->cache)
            memcpy(f->durable + f->marg_addr, f->mem + f->marg_addr, f->marg_len);
        units_mark(f, f->marg_addr, f->marg_len, U_TORN);
        f->marg_len = 0;
    }
}
