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
               int inplace)
{
    struct dfota_diff_opts o = { 0 };
    struct dfota_pkg_meta meta = { "bench", "1", "2", 0 };
    struct dfota_host_apply_stats st;
    uint8_t pk[32], sk[64], *pkg, *out;
    size_t plen, olen;
    int rc;

    o.inplace = inplace;
    o.sector_size = 4096;
    o.lag = 2;
    tu_keys(pk, sk);
    if ((rc = dfota_package_build(a, alen, b, blen, &o, &meta, sk, &pkg, &plen, NULL)) ||
        (rc = dfota_host_apply(a, alen, pkg, plen, pk, &out, &olen, NULL, NULL, &st))) {
        fprintf(stderr, "engine_bench: %s\n", dfota_strerror(rc));
        return 1;
    }
    printf("%-9s %9zu %8zu %7llu %9llu %12llu %10u %9u %9u\n", name, blen, plen,
           (unsigned long long)st.erases, (unsigned long long)st.progs,
           (unsigned long long)st.prog_bytes, st.max_sector_erases,
           (unsigned)((blen + 4095) / 4096), st.engine_ram);
    free(pkg);
    free(out);
    return 0;
}

int main(void)
{
    size_t n = 1u << 20, blen;
    uint8_t *a = tu_image(n, 1), *b = tu_release(a, n, 2, &blen);
    int rc;

    printf("engine: one update of a 1 MiB image, 4 KiB sectors, 16-byte program unit\n");
    printf("%-9s %9s %8s %7s %9s %12s %10s %9s %9s\n", "layout", "target", "package", "erases",
           "programs", "bytes-prog", "max-erase", "fw-sects", "RAM(host)");
    rc = one("A/B", a, n, b, blen, 0) || one("in-place", a, n, b, blen, 1);
    printf("max-erase: most erases of any firmware sector (A/B: of the target bank)\n");
    free(a);
    free(b);
    return rc;
}
