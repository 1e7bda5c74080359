/* fuzz_at: the AT/URC parser (include/dfota/at.h) on arbitrary module output.
 *
 * Input layout: byte 0 picks the feeding (bits 0-2: chunk size 1 << n for
 * dfota_at_feed, 0 meaning byte by byte through dfota_at_putc; bit 3: tell
 * the parser a command is pending, taken from the input up to its first CR).
 * The rest is what the module sends; it ends with a flush, as an idle gap
 * would.
 *
 * Invariants besides "no crash, no UB, no read outside the parser's state":
 *  - every event has a known type, a NUL-terminated line of .len bytes with
 *    .len < DFOTA_AT_LINE_MAX, and a non-NULL stage name;
 *  - a well-formed FOTA event has a known stage, a value of -1 or 0..999999999,
 *    and a percent stage never says more than 100; only a bad FOTA event has
 *    a reason; only final codes clear the pending command;
 *  - feeding the same bytes one at a time gives the same events;
 *  - the LwM2M mapping keeps state 0-3 and result 0-9. */
#include <stdio.h>
#include <string.h>
#include "dfota/at.h"

#define CHECK(c)                                                                              \
    do {                                                                                       \
        if (!(c)) {                                                                            \
            fprintf(stderr, "*** dfota fuzz invariant broken: %s (%s:%d)\n", #c, __FILE__,   \
                    __LINE__);                                                                 \
            __builtin_trap();                                                                  \
        }                                                                                      \
    } while (0)

#define MAXREC 4096

struct rec {
    int type, stage, bad;
    int32_t value;
    uint32_t hash;
};

static struct rec recs[2][MAXREC];
static size_t nrec[2];
static enum dfota_lwm2m_state l_state;
static enum dfota_lwm2m_result l_result;

static void check_event(const struct dfota_at *p, const struct dfota_at_event *ev, int run)
{
    uint32_t h = 2166136261u;
    CHECK(ev->type > DFOTA_AT_EV_NONE && ev->type <= DFOTA_AT_EV_OVERFLOW);
    CHECK(ev->line != NULL && ev->stage_name != NULL);
    CHECK(ev->len < DFOTA_AT_LINE_MAX);
    CHECK(ev->line[ev->len] == 0);
    CHECK(ev->type == DFOTA_AT_EV_OVERFLOW || ev->len > 0);
    CHECK(strlen(ev->stage_name) < 16);
    CHECK((unsigned)ev->stage < DFOTA_AT_STAGE_COUNT);
    CHECK((ev->bad != 0) == (ev->type == DFOTA_AT_EV_FOTA_BAD));
    if (ev->type == DFOTA_AT_EV_FOTA) {
        CHECK(ev->value >= -1 && ev->value <= 999999999);
        if (dfota_at_stage_is_percent(ev->stage))
            CHECK(ev->value <= 100);
        if (dfota_at_stage_is_percent(ev->stage) || dfota_at_stage_is_code(ev->stage))
            CHECK(ev->value >= 0);
    }
    if (ev->type == DFOTA_AT_EV_OK || ev->type == DFOTA_AT_EV_ERROR)
        CHECK(!dfota_at_pending(p));
    CHECK(dfota_at_stage_str(ev->stage) != NULL);
    CHECK(dfota_at_bad_str((enum dfota_at_bad)ev->bad) != NULL);
    if (run == 0) {
        dfota_at_lwm2m(ev, &l_state, &l_result);
        CHECK((unsigned)l_state <= DFOTA_LWM2M_UPDATING);
        CHECK((unsigned)l_result <= DFOTA_LWM2M_PROTOCOL);
    }
    for (uint16_t i = 0; i < ev->len; i++)
        h = (h ^ (uint8_t)ev->line[i]) * 16777619u;
    if (nrec[run] < MAXREC) {
        struct rec *r = &recs[run][nrec[run]++];
        r->type = ev->type;
        r->stage = ev->stage;
        r->bad = ev->bad;
        r->value = ev->value;
        r->hash = h;
    }
}

static void run_once(const uint8_t *data, size_t size, unsigned mode, int run)
{
    struct dfota_at p;
    struct dfota_at_event ev;
    size_t chunk = (run == 1 || !(mode & 7)) ? 0 : (size_t)1 << (mode & 7);

    dfota_at_init(&p);
    nrec[run] = 0;
    if (mode & 8) {
        char cmd[64];
        size_t n = 0;
        while (n < size && n < sizeof cmd - 1 && data[n] != '\r') {
            cmd[n] = (char)data[n];
            n++;
        }
        cmd[n] = 0;
        dfota_at_command(&p, cmd);
        CHECK(dfota_at_pending(&p));
    }
    if (!chunk) {
        for (size_t i = 0; i < size; i++)
            if (dfota_at_putc(&p, data[i], &ev))
                check_event(&p, &ev, run);
    } else {
        size_t off = 0;
        while (off < size) {
            size_t n = size - off < chunk ? size - off : chunk;
            size_t k = dfota_at_feed(&p, data + off, n, &ev);
            CHECK(k > 0 && k <= n);
            if (ev.type != DFOTA_AT_EV_NONE)
                check_event(&p, &ev, run);
            else
                CHECK(k == n);
            off += k;
        }
    }
    if (dfota_at_flush(&p, &ev))
        check_event(&p, &ev, run);
    CHECK(!dfota_at_flush(&p, &ev));   /* nothing is left after a flush */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned mode;
    if (size < 1)
        return 0;
    mode = data[0];
    l_state = DFOTA_LWM2M_IDLE;
    l_result = DFOTA_LWM2M_INITIAL;
    run_once(data + 1, size - 1, mode, 0);
    run_once(data + 1, size - 1, mode, 1);
    CHECK(nrec[0] == nrec[1]);
    CHECK(memcmp(recs[0], recs[1], nrec[0] * sizeof recs[0][0]) == 0);
    return 0;
}
