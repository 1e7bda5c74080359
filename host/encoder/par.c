/* Threads for the encoder (par.h). */
#include <stdlib.h>
#include <unistd.h>
#include "par.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned extra_busy;          /* threads started and not joined yet */

unsigned dz_threads(void)
{
    const char *e = getenv("DFOTA_THREADS");
    long n;
    if (e && *e) {
        n = strtol(e, NULL, 10);
        return n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
    }
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 8 ? 8 : (unsigned)n;
}

/* Take up to want threads from those free; returns how many. */
static unsigned reserve(unsigned want)
{
    unsigned max = dz_threads() - 1, got;
    pthread_mutex_lock(&mu);
    got = extra_busy >= max ? 0 : max - extra_busy;
    if (got > want)
        got = want;
    extra_busy += got;
    pthread_mutex_unlock(&mu);
    return got;
}

static void release(unsigned n)
{
    pthread_mutex_lock(&mu);
    extra_busy -= n;
    pthread_mutex_unlock(&mu);
}

static void *task_main(void *p)
{
    struct dz_task *t = p;
    t->fn(t->arg);
    return NULL;
}

int dz_try_fork(struct dz_task *t, void (*fn)(void *), void *arg)
{
    t->fn = fn;
    t->arg = arg;
    t->threaded = 0;
    if (reserve(1)) {
        if (pthread_create(&t->th, NULL, task_main, t) == 0) {
            t->threaded = 1;
            return 1;
        }
        release(1);
    }
    return 0;
}

void dz_fork(struct dz_task *t, void (*fn)(void *), void *arg)
{
    if (!dz_try_fork(t, fn, arg))
        fn(arg);
}

void dz_join(struct dz_task *t)
{
    if (t->threaded) {
        pthread_join(t->th, NULL);
        release(1);
        t->threaded = 0;
    }
}

struct par {
    pthread_mutex_t mu;
    unsigned next, n;
    void (*fn)(void *, unsigned);
    void *arg;
};

static void *par_main(void *p)
{
    struct par *q = p;
    for (;;) {
        unsigned i;
        pthread_mutex_lock(&q->mu);
        i = q->next < q->n ? q->next++ : q->n;
        pthread_mutex_unlock(&q->mu);
        if (i == q->n)
            return NULL;
        q->fn(q->arg, i);
    }
}

void dz_par(unsigned n, void (*fn)(void *, unsigned), void *arg)
{
    struct par q;
    pthread_t th[8];
    unsigned k, want = n > 1 ? n - 1 : 0, got, started = 0;

    if (want > 8)
        want = 8;
    got = want ? reserve(want) : 0;
    if (!got) {
        for (k = 0; k < n; k++)
            fn(arg, k);
        return;
    }
    q.next = 0;
    q.n = n;
    q.fn = fn;
    q.arg = arg;
    pthread_mutex_init(&q.mu, NULL);
    for (k = 0; k < got; k++)
        if (pthread_create(&th[started], NULL, par_main, &q) == 0)
            started++;
    release(got - started);
    par_main(&q);
    for (k = 0; k < started; k++)
        pthread_join(th[k], NULL);
    release(started);
    pthread_mutex_destroy(&q.mu);
}
