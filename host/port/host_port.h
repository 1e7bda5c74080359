/* Host-side ports of libdfota: libsodium crypto and a simulated NOR flash.
 * Used by the CLI, the tests and the module simulator. */
#ifndef DFOTA_HOST_PORT_H
#define DFOTA_HOST_PORT_H

#include <stddef.h>
#include <stdint.h>
#include "dfota/port.h"

/* SHA-256 of a whole buffer with libsodium's faster code (host only; the
 * device library keeps its small one). */
void dfota_host_sha256(const void *data, size_t len, uint8_t out[32]);

/* libsodium's Ed25519 behind struct dfota_crypto. */
const struct dfota_crypto *dfota_host_crypto(void);
int dfota_host_sign(const uint8_t sk[64], const uint8_t *msg, size_t len, uint8_t sig[64]);
/* A key pair from a 32-byte seed (NULL: a fresh random seed). */
int dfota_host_keypair(const uint8_t *seed, uint8_t pk[32], uint8_t sk[64]);

/* A strict simulated NOR flash. It refuses what real NOR does not allow
 * (programming a byte that is not erased, misaligned operations), counts
 * operations, and can lose power after a given number of them: that
 * operation is torn (a prefix done, or for an erase a prefix erased and the
 * rest garbage) and every later call fails.
 *
 * Fault models (all off after simflash_init; tests/powerloss/ sweeps them):
 *  - how a cut operation tears (`tear`, enum simflash_tear);
 *  - ECC flash (`ecc`): a unit whose program or erase was cut returns
 *    SIMFLASH_ECC to every read that touches it until its sector is erased,
 *    and programming a unit twice without an erase is a violation even when
 *    its bytes read as erased (double-word / ECC program units);
 *  - one transient bit error (`flip_read`): read call number flip_read gets
 *    one bit of its buffer flipped, the flash itself is unchanged;
 *  - marginal programs (`marginal`): a program cut just at its end lands
 *    whole and reads valid at the next power-up, but decays (torn bits, and
 *    ECC errors when `ecc`) from the power-up after that;
 *  - writes held until sync (`cache`): programs and erases are visible to
 *    reads at once but reach the flash only at sync(); at a cut every write
 *    since the last sync lands or is lost, independently (so a later write
 *    may land while an earlier one is lost: reordered);
 *  - a port I/O error (`io_error_at`): that operation fails with
 *    SIMFLASH_IOERR and does nothing, once; the power stays on. */
enum simflash_fault {
    SIMFLASH_OK = 0,
    SIMFLASH_VIOLATION = -100,  /* the engine broke a rule of the port */
    SIMFLASH_POWERCUT = -101,   /* the power is off */
    SIMFLASH_ECC = -102,        /* read of a unit whose program or erase was cut (ecc) */
    SIMFLASH_IOERR = -103,      /* the injected port error (io_error_at) */
};

enum simflash_tear {
    SIMFLASH_TEAR_PREFIX = 0,   /* program: whole units, then one unit with some bytes;
                                 * erase: a prefix erased, the rest kept or scrambled */
    SIMFLASH_TEAR_BITS = 1,     /* every bit of the operation lands or not, at random */
    SIMFLASH_TEAR_RANDOM = 2,   /* program as PREFIX; erase: the whole sector random bytes */
    SIMFLASH_TEAR_PARTIAL = 3,  /* program as PREFIX; erase: a prefix erased, the rest unchanged */
};

struct simflash_pending;        /* cache: a write not yet synced */

struct simflash {
    struct dfota_flash port;    /* hand &port to the engine */
    uint8_t *mem;
    uint32_t size;
    /* power loss: after `cut_after` completed operations (erase or prog),
     * the next one is torn and all later ones fail; UINT64_MAX: never. */
    uint64_t cut_after;
    uint32_t tear_seed;         /* chooses how the cut operation is torn */
    int clean_cut;              /* the cut operation does nothing at all */
    int powered_off;
    int violation;              /* set on a rule break, with a message */
    char why[160];
    /* counters since the last reset */
    uint64_t ops, erases, progs, prog_bytes, read_bytes;
    uint32_t *erase_count;      /* per sector, over the whole life */

    /* ---- fault models (see above) ---- */
    int tear;                   /* enum simflash_tear */
    int ecc;                    /* set with simflash_set_ecc() */
    int marginal;
    int cache;                  /* set with simflash_set_cache() */
    uint64_t flip_read;         /* index of the read call to corrupt (counted in `reads`); UINT64_MAX: none */
    uint32_t flip_seed;         /* which bit */
    uint64_t io_error_at;       /* index of the operation (counted in `ops`) that fails; UINT64_MAX: none */
    uint64_t reads, syncs;      /* read and sync calls since the last reset */
    unsigned power_cycles;      /* simflash_power_on() calls over the whole life */
    uint64_t ecc_errors, flips, io_errors; /* faults delivered over the whole life */
    /* internal state of the models */
    uint8_t *unit;              /* ecc: per program unit, 0 erased, 1 programmed, 2 torn */
    uint8_t *durable;           /* cache: what the flash holds */
    struct simflash_pending *pend;
    uint32_t npend, cap_pend;
    uint32_t marg_addr, marg_len; /* marginal: the program cut at its end (len 0: none) */
    unsigned marg_cycle;
    uint8_t *marg_data;
};

/* mem may be NULL (allocated and filled with the erased value). */
int simflash_init(struct simflash *f, uint8_t *mem, uint32_t size, uint32_t sector_size,
                  uint32_t prog_size, uint8_t erased);
void simflash_free(struct simflash *f);
void simflash_reset_counters(struct simflash *f);
/* Power back on: later operations work again, no cut scheduled; the
 * injected read flip and I/O error are cleared (the fault models stay on:
 * torn ECC units stay torn, a marginal program decays on schedule). */
void simflash_power_on(struct simflash *f);
/* ECC flash (on: unit states from the current contents, blank units erased). */
int simflash_set_ecc(struct simflash *f, int on);
/* Writes held until sync (on: allocates the durable copy, sets port.sync). */
int simflash_set_cache(struct simflash *f, int on);
/* ecc: nonzero when a read of [addr, addr+len) would fail. */
int simflash_ecc_torn(const struct simflash *f, uint32_t addr, uint32_t len);


/* Apply a package on the host with the device engine itself, on a simulated
 * flash laid out for the package (A/B, or in place with its sector size).
 * pubkey NULL skips the signature check. On success *out is malloc'd and
 * holds the target (its digest was checked by the engine). stats (may be
 * NULL) receives the flash counters of the update. */
struct dfota_host_apply_stats {
    uint64_t erases, progs, prog_bytes, read_bytes;
    uint32_t engine_ram;         /* sizeof(struct dfota_engine) */
    uint32_t max_sector_erases;  /* most erases of any firmware sector */
};
int dfota_host_apply(const uint8_t *src, size_t src_len, const uint8_t *pkg, size_t pkg_len,
                     const uint8_t *pubkey, uint8_t **out, size_t *out_len,
                     void (*progress)(void *ctx, int phase, unsigned percent), void *progress_ctx,
                     struct dfota_host_apply_stats *stats);

/* The device to simulate instead of one laid out for the package: its
 * policy and layout; zero fields take the package's values (layout kind,
 * sector size, lag + 2 scratch sectors) or the smallest slot that fits. */
struct dfota_host_device {
    const char *product;        /* NULL or "": any */
    uint32_t security_counter;
    int layout;                 /* 0, DFOTA_LAYOUT_AB or DFOTA_LAYOUT_INPLACE */
    uint32_t sector_size;       /* erase sector of the flash */
    uint32_t slot_size;         /* bytes of a bank / the firmware region */
    uint32_t scratch_sectors;   /* in place */
};
int dfota_host_apply_dev(const uint8_t *src, size_t src_len, const uint8_t *pkg, size_t pkg_len,
                         const uint8_t *pubkey, const struct dfota_host_device *dev,
                         uint8_t **out, size_t *out_len,
                         void (*progress)(void *ctx, int phase, unsigned percent),
                         void *progress_ctx, struct dfota_host_apply_stats *stats);

#endif
