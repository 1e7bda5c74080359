/* A/B: the target goes to the bank that does not boot, a sector at a time,
 * each followed by a progress mark; the old bank is not touched, and the
 * journal switches banks only once the new one reads back right. */
#include "engine_priv.h"

#if DFOTA_CFG_AB

/* Mark block i done in the half of the newest record. */
static int mark_done(struct dfota_engine *e, uint32_t i)
{
    uint32_t at = dfota__mark_area(e, e->half) + i * FLASH(e)->prog_size;
    int rc = dfota__mark(e, at);
    if (!rc && !dfota__is_mark(e, at))
        rc = DFOTA_ERR_IO;               /* it did not stick: a new record next time */
    return rc;
}

/* A package that fails while decoding or reading back is given up: IDLE
 * with the untouched old bank still active. */
static int give_up(struct dfota_engine *e, int why)
{
    int rc;
    e->blocks_done = 0;
    if ((rc = dfota__journal_write(e, JR_KIND_IDLE)))
        return rc;
    e->state = DFOTA_STATE_IDLE;
    return why;
}

/* Write blocks blocks_done .. n-1, read the target back, switch banks. */
static int run(struct dfota_engine *e, int have_pkg)
{
    struct dfota__io c;
    struct dfota_patch_io io;
    uint32_t n = dfota__blocks(e), i, len, addr;
    int rc;

    if (have_pkg && e->blocks_done < n) {
        dfota__dec_io(e, &c, &io);
        for (i = e->blocks_done; i < n; i++) {
            dfota__progress(e, DFOTA_PHASE_APPLY, i, n);
            dfota__block_at(e, i, &len, &addr);
            if ((rc = dfota__erase(e, addr)) ||
                (rc = dfota__decode(e, &io, addr, len, NULL, NULL)) || (rc = dfota__sync(e)) ||
                (rc = mark_done(e, i)))
                return rc == DFOTA_ERR_IO ? rc : give_up(e, rc);
            e->blocks_done = i + 1;
        }
        if (!dfota_patch_done(&e->patch))
            return give_up(e, DFOTA_ERR_CORRUPT);
    }
    dfota__progress(e, DFOTA_PHASE_APPLY, n, n);
    rc = dfota__verify_target(e);
    if (rc)
        return rc == DFOTA_ERR_IO ? rc : give_up(e, rc);
    e->active = !e->active;
    e->blocks_done = 0;
    if ((rc = dfota__journal_write(e, JR_KIND_IDLE))) {
        e->active = !e->active;          /* not switched until that record is there */
        return rc;
    }
    e->state = DFOTA_STATE_IDLE;
    return DFOTA_OK;
}

int dfota__ab_install(struct dfota_engine *e)
{
    int rc;
    if ((rc = dfota__dec_start(e)))
        return rc;
    e->blocks_done = 0;
    /* From this record on, a power-up finishes the update. */
    if ((rc = dfota__journal_write(e, JR_KIND_APPLY)))
        return rc;
    e->state = DFOTA_STATE_PENDING;
    return run(e, 1);
}

int dfota__ab_resume(struct dfota_engine *e, int have_pkg)
{
    struct dfota__io c;
    struct dfota_patch_io io;
    uint32_t m = e->blocks_done, i, len, addr;
    int rc;

    if (have_pkg && m < dfota__blocks(e)) {
        /* Never program a unit of the old half again (a torn mark may read
         * as erased) and act only on marks written and read back in this
         * power cycle: a fresh record in the other half, marks 0..m-1. */
        if ((rc = dfota__journal_write(e, JR_KIND_APPLY)))
            return rc;
        for (i = 0; i < m; i++)
            if ((rc = mark_done(e, i)))
                return rc;
        /* Decode the finished blocks again, writing nothing, to bring the
         * decoder to where the power went (the old bank is intact). */
        if ((rc = dfota__dec_start(e)))
            return give_up(e, rc);
        dfota__dec_io(e, &c, &io);
        for (i = 0; i < m; i++) {
            dfota__block_at(e, i, &len, &addr);
            if ((rc = dfota__decode(e, &io, DFOTA_NO_ADDR, len, NULL, NULL)))
                return rc == DFOTA_ERR_IO ? rc : give_up(e, rc);
        }
    }
    return run(e, have_pkg);
}

#endif
