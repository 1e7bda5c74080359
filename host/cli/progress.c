/* dfota CLI: one progress bar over a whole job, on stderr when it is a
 * terminal (or DFOTA_PROGRESS=1). See util.h for how the fraction is
 * estimated; the line is "match 1/2   [#######.........]  47%", 35
 * columns, so a 40-column terminal never wraps it. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "util.h"

#define BAR_W 16

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Seconds the job still takes: the running step from its own rate (once
 * it has run a while), each future step's prediction times the ratio
 * actual/predicted of the finished steps of its kind, else of the latest
 * finished step that took time, else of all. */
static double remaining(const struct cli_bar *b, double now)
{
    double all_t = 0, all_p = 0, rem = 0, k_all;
    int i, j;

    for (i = 0; i < b->cur && i < b->n; i++) {
        all_t += b->took[i];
        all_p += b->pred[i];
    }
    k_all = all_p > 1e-9 && all_t > 0.05 ? all_t / all_p : 1.0;
    /* a kind not seen yet scales like the latest finished step that took
     * time: on random data refine and encode are slow where match was */
    for (i = b->cur - 1; i >= 0 && i < b->n; i--)
        if (b->pred[i] > 1e-4 && b->took[i] > 0.05) {
            k_all = b->took[i] / b->pred[i];
            break;
        }
    if (b->cur >= 0 && b->cur < b->n) {
        double el = now - b->step_t0, est;
        if (b->frac > 0.05 && el > 0.25)
            est = el / b->frac;
        else
            est = b->pred[b->cur] * k_all;
        if (est < el)
            est = el;
        rem += est - el;
        /* the running step, once its rate is known, is the latest */
        if (b->frac > 0.1 && el > 1.0 && b->pred[b->cur] > 1e-4)
            k_all = est / b->pred[b->cur];
    }
    for (i = b->cur + 1; i < b->n; i++) {
        double kt = 0, kp = 0, k = k_all;
        for (j = 0; j < b->cur && j < b->n; j++)
            if (b->kind[j] == b->kind[i]) {
                kt += b->took[j];
                kp += b->pred[j];
            }
        if (kp > 1e-9 && kt > 0.05)
            k = kt / kp;
        rem += b->pred[i] * k;
    }
    return rem;
}

static void draw(struct cli_bar *b, int final)
{
    double now = cli_now(), el = now - b->t0, frac;
    int pct, i, fill;
    char bar[BAR_W + 1];

    if (final) {
        frac = 1;
    } else {
        double rem = remaining(b, now);
        frac = el + rem > 1e-9 ? el / (el + rem) : 0;
        if (frac > 0.99)
            frac = 0.99;           /* 100% only when the job is done */
    }
    if (frac < b->shown)
        frac = b->shown;           /* never backwards */
    b->shown = frac;
    if (!b->tty || cli_quiet)
        return;
    pct = (int)(frac * 100);
    fill = (int)(frac * BAR_W);
    if (b->drawn && pct == b->last_pct && !strcmp(b->label, b->last_label))
        return;
    b->last_pct = pct;
    snprintf(b->last_label, sizeof b->last_label, "%s", b->label);
    for (i = 0; i < BAR_W; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[BAR_W] = 0;
    fprintf(stderr, "\r%-11.11s [%s] %3d%%", b->label, bar, pct);
    fflush(stderr);
    b->drawn = 1;
}

static void step_done(struct cli_bar *b)
{
    double t = cli_now();
    if (b->cur < 0 || b->cur >= b->n)
        return;
    b->took[b->cur] = t - b->step_t0;
    if (cli_verbose) {
        if (b->drawn && b->tty && !cli_quiet)
            fprintf(stderr, "\r%*s\r", 39, "");
        fprintf(stderr, "dfota: %-11s %8.3f s\n", b->step_label, b->took[b->cur]);
        b->drawn = 0;
    }
}

void cli_bar_start(struct cli_bar *b)
{
    const char *f = getenv("DFOTA_PROGRESS");
    memset(b, 0, sizeof *b);
    b->tty = isatty(STDERR_FILENO) || (f && !strcmp(f, "1"));
    b->cur = -1;
    b->t0 = b->step_t0 = cli_now();
}

void cli_bar_plan(struct cli_bar *b, int kind, double pred)
{
    if (b->n < CLI_BAR_STEPS) {
        b->kind[b->n] = kind;
        b->pred[b->n] = pred > 0 ? pred : 0;
        b->n++;
    }
}

void cli_bar_next(struct cli_bar *b, const char *label)
{
    step_done(b);
    if (b->cur < b->n)
        b->cur++;
    b->frac = 0;
    b->step_t0 = cli_now();
    snprintf(b->label, sizeof b->label, "%s", label);
    snprintf(b->step_label, sizeof b->step_label, "%s", label);
    draw(b, 0);
}

void cli_bar_label(struct cli_bar *b, const char *label)
{
    snprintf(b->label, sizeof b->label, "%s", label);
    draw(b, 0);
}

void cli_bar_frac(struct cli_bar *b, double frac)
{
    if (frac < 0)
        frac = 0;
    if (frac > 1)
        frac = 1;
    if (frac > b->frac)
        b->frac = frac;
    draw(b, 0);
}

void cli_bar_finish(struct cli_bar *b)
{
    step_done(b);
    b->cur = b->n;
    draw(b, 1);
    cli_bar_end(b);
}

void cli_bar_end(struct cli_bar *b)
{
    if (b->cur < b->n)
        step_done(b);
    b->cur = b->n;
    if (b->drawn && b->tty && !cli_quiet)
        fprintf(stderr, "\r%*s\r", 39, "");
    fflush(stderr);
    b->drawn = 0;
}
