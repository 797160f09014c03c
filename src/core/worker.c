/*
 * worker: the one way a background thread runs in this project (the release workers, the
 * chain worker). A step is called, then again at once while it says there is more work, else
 * after period_ms; stopping wakes the sleep, so shutdown never waits out a period.
 */
#include "core/core.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct coh_worker {
    coh_worker_step_fn step;
    void *arg;
    long period_ms;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop, woken;
};

static void deadline(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *worker_main(void *arg)
{
    coh_worker *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        pthread_mutex_unlock(&w->mu);
        int more = w->step(w->arg);
        pthread_mutex_lock(&w->mu);
        if (more > 0 || w->stop)
            continue;
        struct timespec ts;
        deadline(&ts, w->period_ms);
        while (!w->stop && !w->woken)
            if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) != 0)
                break; /* the period is over */
        w->woken = 0;
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int coh_worker_start(coh_worker **out, long period_ms, coh_worker_step_fn step, void *arg,
                     coh_err *err)
{
    assert(step);
    *out = NULL;
    coh_worker *w = calloc(1, sizeof *w);
    if (!w)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    w->step = step;
    w->arg = arg;
    w->period_ms = period_ms > 0 ? period_ms : 1000;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&w->mu, NULL);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return coh_err_set(err, COH_ERR_IO, "cannot create a worker thread");
    }
    *out = w;
    return 0;
}

void coh_worker_wake(coh_worker *w)
{
    pthread_mutex_lock(&w->mu);
    w->woken = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void coh_worker_stop(coh_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
