/* Power-cut sweep: for each layout, cut the power at every flash operation
 * of an update (cleanly before it, and torn in its middle), power up, run
 * the resume path (cut again on some runs), and require the exact target
 * and a clean journal at the end. A/B must boot a complete image at every
 * power-up. A failing case prints its id (layout, k, mode) to replay it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "dfota/error.h"
#include "testutil.h"

struct sweep {
    const char *name;
    int kind;
    uint32_t sector, lag;
    int direction;
    size_t size;
    uint32_t scratch;        /* in place: scratch sectors (0: lag + 2, one block per checkpoint) */
};

static unsigned long total_cuts;

/* One power-up: what a boot loader and the module do. */
static int power_up(struct tu_device *d, const uint8_t *src, size_t slen, const uint8_t *dst,
                    size_t dlen, const char *id)
{
    struct dfota_engine e;
    int rc = dfota_init(&e, &d->cfg);
    if (rc)
        return rc;
    if (d->cfg.layout.kind == DFOTA_LAYOUT_AB) {
        /* The bank the boot loader would start holds a complete image. */
        const uint8_t *m = d->flash.mem + d->cfg.layout.slot[dfota_active_slot(&e)];
        if (memcmp(m, src, slen) != 0 && memcmp(m, dst, dlen) != 0)
            fail_msg("%s: active bank holds neither image at power-up", id);
    }
    if (dfota_pending(&e))
        return dfota_resume(&e);
    /* Nothing pending: either done, or cut before the update began (the
     * host then asks again). */
    if (memcmp(d->flash.mem + d->cfg.layout.slot[dfota_active_slot(&e)], dst, dlen) == 0 &&
        (d->cfg.layout.kind == DFOTA_LAYOUT_INPLACE || dfota_active_slot(&e) == 1))
        return DFOTA_OK;
    return dfota_install(&e);
}

static void run_sweep(const struct sweep *s)
{
    size_t dlen, plen;
    uint8_t *src = tu_image(s->size, 21), *dst = tu_release(src, s->size, 22, &dlen);
    int inplace = s->kind == DFOTA_LAYOUT_INPLACE;
    uint8_t *pkg = tu_package(src, s->size, dst, dlen, inplace, s->sector, s->lag, s->direction,
                              "", &plen);
    struct tu_device d;
    uint8_t *initial;
    uint64_t total, k;
    unsigned long cuts = 0, resumes = 0;
    int mode;
    char id[96];

    tu_device_init(&d, s->kind, s->sector, s->size + 2 * s->sector,
                   s->scratch ? s->scratch : s->lag + 2, plen);
    tu_device_load(&d, 0, src, s->size, pkg, plen);
    initial = malloc(d.flash.size);
    memcpy(initial, d.flash.mem, d.flash.size);

    /* A clean run counts the operations. */
    {
        struct dfota_engine e;
        assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
        simflash_reset_counters(&d.flash);
        assert_int_equal(dfota_install(&e), DFOTA_OK);
        total = d.flash.ops;
    }

    for (k = 0; k <= total; k++) {
        for (mode = 0; mode < 2; mode++) {
            struct dfota_engine e;
            int rc, round;
            snprintf(id, sizeof id, "%s k=%llu %s", s->name, (unsigned long long)k,
                     mode ? "torn" : "clean");
            memcpy(d.flash.mem, initial, d.flash.size);
            simflash_power_on(&d.flash);
            simflash_reset_counters(&d.flash);
            d.flash.cut_after = k;
            d.flash.clean_cut = !mode;
            d.flash.tear_seed = (uint32_t)(k * 2654435761u + (uint32_t)mode + 1);
            rc = dfota_init(&e, &d.cfg);
            if (!rc)
                rc = dfota_install(&e);
            if (k < total && rc != DFOTA_ERR_IO)
                fail_msg("%s: install returned %s, not an I/O error", id, dfota_strerror(rc));
            cuts++;
            /* Power up again; on every third case cut once more during
             * the recovery, somewhere in its first operations. */
            for (round = 0; round < 3; round++) {
                simflash_power_on(&d.flash);
                simflash_reset_counters(&d.flash);
                if (round == 0 && k % 3 == 0) {
                    d.flash.cut_after = 1 + (k * 7919) % 97;
                    d.flash.clean_cut = (k & 1) != 0;
                }
                rc = power_up(&d, src, s->size, dst, dlen, id);
                if (getenv("PC_DEBUG"))
                    fprintf(stderr, "%s round %d: %s off=%d viol=%d %s\n", id, round, dfota_strerror(rc), d.flash.powered_off, d.flash.violation, d.flash.why);
                resumes++;
                if (rc == DFOTA_OK && !d.flash.powered_off)
                    break;
                if (rc != DFOTA_ERR_IO)
                    fail_msg("%s: recovery returned %s", id, dfota_strerror(rc));
            }
            if (round == 3)
                fail_msg("%s: recovery did not finish", id);
            assert_false(d.flash.violation);
            /* The end: target in the active bank, nothing pending. */
            assert_int_equal(dfota_init(&e, &d.cfg), DFOTA_OK);
            if (dfota_pending(&e))
                fail_msg("%s: journal not clean", id);
            if (memcmp(d.flash.mem + d.cfg.layout.slot[dfota_active_slot(&e)], dst, dlen) != 0)
                fail_msg("%s: target differs", id);
        }
    }
    printf("powercut %-22s %5llu flash ops per update, %6lu cut points, %6lu power-ups\n", s->name,
           (unsigned long long)total, cuts, resumes);
    total_cuts += cuts;
    free(initial);
    free(pkg);
    free(src);
    free(dst);
    tu_device_free(&d);
}

static void test_ab(void **st)
{
    static const struct sweep s = { "ab/4096", DFOTA_LAYOUT_AB, 4096, 0, 0, 40000, 0 };
    (void)st;
    run_sweep(&s);
}

static void test_inplace_forward_lag2(void **st)
{
    static const struct sweep s = { "inplace/4096/fwd/lag2", DFOTA_LAYOUT_INPLACE, 4096, 2, 1, 40000, 0 };
    (void)st;
    run_sweep(&s);
}

static void test_inplace_backward_lag0(void **st)
{
    static const struct sweep s = { "inplace/4096/bwd/lag0", DFOTA_LAYOUT_INPLACE, 4096, 0, -1, 40000, 0 };
    (void)st;
    run_sweep(&s);
}

static void test_inplace_small_sectors(void **st)
{
    static const struct sweep s = { "inplace/1024/auto/lag1", DFOTA_LAYOUT_INPLACE, 1024, 1, 0, 12000, 0 };
    (void)st;
    run_sweep(&s);
}

/* More scratch than lag + 2: a checkpoint every scratch - lag - 1 blocks. */
static void test_inplace_batched_checkpoints(void **st)
{
    static const struct sweep a = { "inplace/4096/fwd/lag2/k5", DFOTA_LAYOUT_INPLACE, 4096, 2, 1, 40000, 8 };
    static const struct sweep b = { "inplace/1024/bwd/lag0/k4", DFOTA_LAYOUT_INPLACE, 1024, 0, -1, 12000, 5 };
    (void)st;
    run_sweep(&a);
    run_sweep(&b);
}

int main(void)
{
    int rc;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ab),
        cmocka_unit_test(test_inplace_forward_lag2),
        cmocka_unit_test(test_inplace_backward_lag0),
        cmocka_unit_test(test_inplace_small_sectors),
        cmocka_unit_test(test_inplace_batched_checkpoints),
    };
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    printf("powercut total: %lu cut points exercised\n", total_cuts);
    return rc;
}
