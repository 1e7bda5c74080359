/* Flash work and RAM of one update on a 1 MiB image with a realistic
 * change (a function inserted, one removed, constants and pointers moved),
 * for both layouts: what `make bench` reports for the device engine. */
#include <stdio.h>
#include <stdlib.h>
#include "dfota/engine.h"
#include "dfota/error.h"
#include "encoder.h"
#include "host_port.h"
#include "testutil.h"

static int one(const char *name, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
               int kind, uint32_t scratch)
{
    struct tu_device d;
    struct dfota_engine *e = malloc(sizeof *e);
    size_t plen;
    uint8_t *pkg = tu_package(a, alen, b, blen, kind == DFOTA_LAYOUT_INPLACE, 4096, 2, 0, "", &plen);
    uint32_t s, first, nsect, max = 0;
    int rc;

    struct dfota_pkg_header h;
    if (dfota_pkg_parse(&h, pkg, plen) != DFOTA_OK)
        return 1;
    /* staging: the package and, in place, the digest table after it */
    tu_device_init(&d, kind, 4096, (uint32_t)(alen > blen ? alen : blen), scratch,
                   dfota_staging_need(&h, 4096, 16));
    tu_device_load(&d, 0, a, alen, pkg, plen);
    rc = dfota_init(e, &d.cfg);
    simflash_reset_counters(&d.flash);
    if (!rc)
        rc = dfota_install(e);
    if (rc) {
        fprintf(stderr, "engine_bench: %s\n", dfota_strerror(rc));
        return 1;
    }
    /* the most erases of any firmware sector (A/B: both banks) */
    first = d.cfg.layout.slot[0] / 4096;
    nsect = d.cfg.layout.slot_size / 4096 * (kind == DFOTA_LAYOUT_AB ? 2 : 1);
    for (s = first; s < first + nsect; s++)
        if (d.flash.erase_count[s] > max)
            max = d.flash.erase_count[s];
    printf("%-22s %9zu %8zu %7llu %9llu %12llu %10u %9u %9u\n", name, blen, plen,
           (unsigned long long)d.flash.erases, (unsigned long long)d.flash.progs,
           (unsigned long long)d.flash.prog_bytes, max, (unsigned)((blen + 4095) / 4096),
           (unsigned)sizeof(struct dfota_engine));
    free(pkg);
    free(e);
    tu_device_free(&d);
    return 0;
}

int main(void)
{
    size_t n = 1u << 20, blen;
    uint8_t *a = tu_image(n, 1), *b = tu_release(a, n, 2, &blen);
    int rc;

    printf("engine: one update of a 1 MiB image, 4 KiB sectors, 16-byte program unit, lag 2\n");
    printf("%-22s %9s %8s %7s %9s %12s %10s %9s %9s\n", "layout", "target", "package", "erases",
           "programs", "bytes-prog", "max-erase", "fw-sects", "RAM(host)");
    rc = one("A/B", a, n, b, blen, DFOTA_LAYOUT_AB, 0) ||
         one("in-place, 4 scratch", a, n, b, blen, DFOTA_LAYOUT_INPLACE, 4) ||
         one("in-place, 8 scratch", a, n, b, blen, DFOTA_LAYOUT_INPLACE, 8) ||
         one("in-place, 16 scratch", a, n, b, blen, DFOTA_LAYOUT_INPLACE, 16);
    printf("max-erase: most erases of any firmware sector; in place, a checkpoint with the\n"
           "decoder state (~16 KiB) is written every scratch - lag - 1 blocks\n");
    free(a);
    free(b);
    return rc;
}
