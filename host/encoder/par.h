/* Threads for the encoder's independent steps (diff.c): at most
 * dz_threads() run at once, the calling one included, whatever the
 * nesting; a step that finds no thread free runs in the caller. Every step
 * writes its own result, combined in a fixed order afterwards: the output
 * does not depend on the scheduling. Host only. */
#ifndef DFOTA_PAR_H
#define DFOTA_PAR_H

#include <pthread.h>

/* Threads the diff may use: DFOTA_THREADS=N (1 = none besides the caller),
 * else the processors online, at most 8. */
unsigned dz_threads(void);

/* A step started with dz_fork: running in its own thread (threaded = 1) or
 * done already in the caller. */
struct dz_task {
    pthread_t th;
    int threaded;
    void (*fn)(void *);
    void *arg;
};

/* Run fn(arg) in a thread of its own if one is free, else now; dz_join
 * waits for it. */
void dz_fork(struct dz_task *t, void (*fn)(void *), void *arg);
void dz_join(struct dz_task *t);

/* For a step that may turn out not to be needed: started in a thread of
 * its own if one is free (returns 1; dz_join waits for it), else not run
 * at all (returns 0). */
int dz_try_fork(struct dz_task *t, void (*fn)(void *), void *arg);

/* fn(arg, i) for every i < n, on the threads free and the caller. */
void dz_par(unsigned n, void (*fn)(void *, unsigned), void *arg);

#endif
