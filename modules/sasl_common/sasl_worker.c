/* sasl_worker.c - the worker thread of a blocking credential backend. */
#include "sasl_worker.h"

#include <stdlib.h>

static void run_done(void *arg)
{
    sasl_job_t *j = arg;
    j->done(j);
}

static void *loop(void *arg)
{
    sasl_worker_t *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->head && !w->stopping)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->stopping)
            break;
        sasl_job_t *j = w->head;
        w->head = j->next;
        if (!w->head)
            w->tail = NULL;
        w->queued--;
        pthread_mutex_unlock(&w->mu);
        j->work(j);
        pthread_mutex_lock(&w->mu);
        if (od_loop_post(w->core, run_done, j) != OD_OK) {
            j->next = w->unposted; /* sasl_worker_stop finishes it */
            w->unposted = j;
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int sasl_worker_start(sasl_worker_t *w, od_core_t *core)
{
    w->core = core;
    w->head = w->tail = NULL;
    w->unposted = NULL;
    w->queued = 0;
    w->stopping = 0;
    if (pthread_mutex_init(&w->mu, NULL) != 0)
        return -1;
    if (pthread_cond_init(&w->cv, NULL) != 0) {
        pthread_mutex_destroy(&w->mu);
        return -1;
    }
    if (pthread_create(&w->thread, NULL, loop, w) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        return -1;
    }
    w->started = 1;
    return 0;
}

int sasl_worker_submit(sasl_worker_t *w, sasl_job_t *j)
{
    if (!w->started)
        return OD_ERR_STOPPING;
    int rc = OD_OK;
    pthread_mutex_lock(&w->mu);
    if (w->stopping) {
        rc = OD_ERR_STOPPING;
    } else if (w->queued >= SASL_WORKER_MAX_QUEUED) {
        rc = OD_ERR_LIMIT;
    } else {
        j->next = NULL;
        if (w->tail)
            w->tail->next = j;
        else
            w->head = j;
        w->tail = j;
        w->queued++;
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

void sasl_worker_stop(sasl_worker_t *w)
{
    if (!w->started)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    while (w->unposted) {
        sasl_job_t *j = w->unposted;
        w->unposted = j->next;
        j->done(j);
    }
    while (w->head) {
        sasl_job_t *j = w->head;
        w->head = j->next;
        j->refused = 1;
        j->done(j);
    }
    w->tail = NULL;
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    w->started = 0;
}
