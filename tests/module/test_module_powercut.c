/* The module core under power cuts: a cut at every flash operation of a
 * small FOTA (the download, the module's records, the check, the install),
 * clean and torn, A/B and in place. At every power-up the module must run
 * the old or the new firmware and report that image's revision; the same
 * URL then (or the forced upgrade) ends on the new firmware. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "modtest.h"

#define ALEN 8000
#define SLOT 16384
#define STAGING 16384
#define REQ "AT+QFOTADL=\"http://h/p.bin\"\r"

static uint8_t *A, *B, *PKG[2];
static unsigned THIN = 1;        /* --thin N: every Nth cut point (under ASan) */
static size_t BLEN, PLEN[2];

static int group_setup(void **st)
{
    struct dfota_diff_opts o;
    struct dfota_pkg_meta meta = { "dfota-test", "1.0.0", "1.1.0", 0, 0 };
    uint8_t pk[32], sk[64];
    size_t n, i;
    uint32_t seed = 3;
    uint8_t *r;
    int k;
    (void)st;
    tu_keys(pk, sk);
    A = tu_image(ALEN, 21);
    r = tu_release(A, ALEN, 22, &n);
    B = malloc(n + 3000);
    memcpy(B, r, n);
    for (i = 0; i < 3000; i++)
        B[n + i] = (uint8_t)tu_rand(&seed);   /* a package of a few sectors */
    BLEN = n + 3000;
    free(r);
    for (k = 0; k < 2; k++) {
        memset(&o, 0, sizeof o);
        o.inplace = k;
        o.sector_size = 1024;
        o.lag = 1;
        assert_int_equal(dfota_package_build(A, ALEN, B, BLEN, &o, &meta, sk, &PKG[k], &PLEN[k],
                                             NULL), 0);
    }
    return 0;
}

static int group_teardown(void **st)
{
    (void)st;
    free(PKG[0]);
    free(PKG[1]);
    free(A);
    free(B);
    return 0;
}

struct run {
    int inplace, torn, ecc;
    int resumed;                 /* re-requests that resumed a staged download */
    int forced;                  /* power-ups that ran the forced upgrade */
};

static struct mt *device(const struct run *r)
{
    struct mt *t = calloc(1, sizeof *t);
    mt_init(t, r->inplace ? DFOTA_LAYOUT_INPLACE : DFOTA_LAYOUT_AB, 1024, SLOT, 3, STAGING);
    if (r->ecc)
        assert_int_equal(simflash_set_ecc(&t->flash, 1), 0);
    mt_flash_image(t, A, ALEN);
    assert_int_equal(mt_power_up(t, "1.0.0"), 0);
    t->srv.file = PKG[r->inplace];
    t->srv.len = PLEN[r->inplace];
    t->srv.chunk = 300;
    mt_send(t, "ATE0\r");
    mt_clear(t);
    return t;
}

static void done(struct mt *t)
{
    mt_free(t);
    free(t);
}

/* The module runs normally: its revision must be the booting image's. */
static int check_running(struct mt *t, const char *id)
{
    const struct dfota_layout *l = &t->cfg.engine.layout;
    const uint8_t *img;
    const char *rev = dfota_mod_revision(t->m);

    if (dfota_pending(&t->m->engine))
        fail_msg("%s: running with an update pending", id);
    img = t->flash.mem + l->slot[dfota_active_slot(&t->m->engine)];
    if (memcmp(img, B, BLEN) == 0) {
        if (strcmp(rev, "1.1.0") != 0)
            fail_msg("%s: new image boots, revision says %s", id, rev);
        return 1;
    }
    if (memcmp(img, A, ALEN) == 0) {
        if (strcmp(rev, "1.0.0") != 0)
            fail_msg("%s: old image boots, revision says %s", id, rev);
        return 0;
    }
    fail_msg("%s: neither image boots", id);
    return -1;
}

/* Power-ups (with a second cut when asked) until the new firmware runs. */
static void recover(struct mt *t, struct run *r, const char *id, uint64_t second_cut)
{
    int round;
    t->next_cut = second_cut;
    for (round = 0; round < 8; round++) {
        int rc;
        mt_clear(t);
        rc = mt_power_up(t, NULL);
        if (t->flash.powered_off)
            continue;                          /* cut again during the power-up */
        if (rc)
            fail_msg("%s: init failed: %d", id, rc);
        if (strstr(t->out, "\"START\""))
            r->forced++;
        if (dfota_mod_reboot_requested(t->m)) {
            if (!strstr(t->out, "\"END\",0"))
                fail_msg("%s: reboot without END,0:\n%s", id, t->out);
            continue;                          /* the forced upgrade ended: reboot */
        }
        if (check_running(t, id) == 1) {
            char b[32];
            mt_send(t, "ATE0\r");
            snprintf(b, sizeof b, "%s", strstr(mt_send(t, "AT+QFOTADL?\r"), "+QFOTADL: "));
            if (strncmp(b, "+QFOTADL: \"END\",0", 17) != 0)
                fail_msg("%s: last result %s", id, b);
            if (t->flash.violation)
                fail_msg("%s: flash rule broken: %s", id, t->flash.why);
            return;
        }
        /* the old firmware: the host asks again, the same URL */
        {
            int n0 = t->nreqs;
            mt_send(t, "ATE0\r");
            mt_clear(t);
            mt_send(t, REQ);
            if (mt_run(t, 100000))
                fail_msg("%s: FOTA did not end", id);
            if (t->nreqs > n0 && t->reqs[n0].offset > 0)
                r->resumed++;
            if (t->flash.powered_off)
                continue;
            if (!dfota_mod_reboot_requested(t->m))
                fail_msg("%s: FOTA again failed:\n%s", id, t->out);
        }
    }
    fail_msg("%s: not on the new firmware after %d power-ups", id, round);
}

static void sweep(struct run *r)
{
    struct mt *t = device(r);
    uint64_t ops0, total, k;
    char id[64];

    /* a clean run counts the operations */
    ops0 = t->flash.ops;
    mt_send(t, REQ);
    assert_int_equal(mt_run(t, 100000), 0);
    mt_assert_fota(t, 0, 0);
    total = t->flash.ops - ops0;
    done(t);

    for (k = 0; k <= total; k++) {
        if (k % THIN && k != total)
            continue;
        snprintf(id, sizeof id, "%s %s%s cut %llu/%llu", r->inplace ? "inplace" : "ab",
                 r->torn ? "torn" : "clean", r->ecc ? " ecc" : "", (unsigned long long)k,
                 (unsigned long long)total);
        t = device(r);
        t->flash.cut_after = t->flash.ops + k;
        t->flash.clean_cut = !r->torn;
        t->flash.tear_seed = (uint32_t)(k * 7919u + 1u);
        mt_send(t, REQ);
        if (mt_run(t, 100000))
            fail_msg("%s: FOTA did not end", id);
        if (k < total && !t->flash.powered_off)
            fail_msg("%s: no cut", id);
        if (!t->flash.powered_off) {
            /* the cut point is past the last operation: a plain reboot */
            assert_true(dfota_mod_reboot_requested(t->m));
        }
        /* every third case loses power again early in the recovery */
        recover(t, r, id, k % 3 == 0 ? 1 + k % 23 : 0);
        done(t);
    }
    print_message("%s %s%s: %llu cut points (every %u), %d resumed downloads, %d forced upgrades\n",
                  r->inplace ? "inplace" : "ab", r->torn ? "torn" : "clean", r->ecc ? " ecc" : "",
                  (unsigned long long)total + 1, THIN, r->resumed, r->forced);
    assert_true(r->resumed > 0);
    assert_true(r->forced > 0);
}

static void ab_clean(void **st)
{
    struct run r = { 0, 0, 0, 0, 0 };
    (void)st;
    sweep(&r);
}

static void ab_torn(void **st)
{
    struct run r = { 0, 1, 0, 0, 0 };
    (void)st;
    sweep(&r);
}

static void inplace_clean(void **st)
{
    struct run r = { 1, 0, 0, 0, 0 };
    (void)st;
    sweep(&r);
}

static void inplace_torn(void **st)
{
    struct run r = { 1, 1, 0, 0, 0 };
    (void)st;
    sweep(&r);
}

/* The module's own records: a cut (clean, torn, torn on ECC flash) at every
 * operation of a run of records that fills and erases the halves again and
 * again; every power-up finds the record before the cut or the one cut. */
static void state_records(void **st)
{
    static const char *res[2] = { "+QFOTADL: \"HTTPEND\",20", "+QFOTADL: \"HTTPEND\",12" };
    struct run r = { 0, 0, 0, 0, 0 };
    int mode, k, i, n = 14;
    (void)st;
    for (mode = 0; mode < 3; mode++) {
        for (k = 0;; k++) {
            struct mt *t;
            int cut = 0, last = -1;
            if (k % (int)THIN)
                continue;
            r.torn = mode > 0;
            r.ecc = mode == 2;
            t = device(&r);
            t->srv.status = 404;
            t->flash.cut_after = t->flash.ops + (uint64_t)k;
            t->flash.clean_cut = !r.torn;
            t->flash.tear_seed = (uint32_t)k * 31u + 7u;
            for (i = 0; i < n && !cut; i++) {
                mt_net(t, i & 1 ? 1 : 2, i & 1);  /* even: not registered (20); odd: 404 (12) */
                mt_send(t, REQ);
                mt_run(t, 1000);
                if (t->flash.powered_off)
                    cut = 1;
                else
                    last = i;
            }
            if (!cut) {
                done(t);
                break;                   /* k is past the last operation */
            }
            assert_int_equal(mt_power_up(t, NULL), 0);
            assert_string_equal(dfota_mod_revision(t->m), "1.0.0");
            mt_send(t, "ATE0\r");
            {
                const char *o = strstr(mt_send(t, "AT+QFOTADL?\r"), "+QFOTADL: ");
                int ok = (last >= 0 && strncmp(o, res[last & 1], strlen(res[last & 1])) == 0) ||
                         strncmp(o, res[(last + 1) & 1], strlen(res[(last + 1) & 1])) == 0 ||
                         (last < 0 && strncmp(o, "+QFOTADL: \"NONE\"", 16) == 0);
                if (!ok)
                    fail_msg("mode %d cut %d after record %d: %s", mode, k, last, o);
            }
            /* and records go on being written and read */
            mt_net(t, 2, 0);
            mt_send(t, REQ);
            assert_int_equal(mt_power_up(t, NULL), 0);
            mt_send(t, "ATE0\r");
            assert_non_null(strstr(mt_send(t, "AT+QFOTADL?\r"), res[0]));
            assert_false(t->flash.violation);
            done(t);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--thin") == 0 && atoi(argv[2]) > 0)
        THIN = (unsigned)atoi(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ab_clean),      cmocka_unit_test(ab_torn),
        cmocka_unit_test(inplace_clean), cmocka_unit_test(inplace_torn),
        cmocka_unit_test(state_records),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
