/* sasl_worker.h - one worker thread for a credential backend whose checks
 * block (Argon2id hashing, Cyrus SASL, Kerberos): jobs run in order on the
 * thread and their results come back to the loop thread by od_loop_post.
 * Built into each module that uses it (a module has its own copy). */
#ifndef SASL_WORKER_H
#define SASL_WORKER_H

#include <pthread.h>

#include "odradek-module.h"

typedef struct sasl_job sasl_job_t;
struct sasl_job {
    void (*work)(sasl_job_t *j); /* on the worker thread */
    /* On the loop thread; frees the job. refused is set when the broker
     * stopped first (work may not have run): done must then refuse. */
    void (*done)(sasl_job_t *j);
    int refused;
    sasl_job_t *next;
};

#define SASL_WORKER_MAX_QUEUED 1024

typedef struct sasl_worker {
    od_core_t *core;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sasl_job_t *head, *tail;
    size_t queued;
    sasl_job_t *unposted; /* worked, but od_loop_post refused (shutdown) */
    int started, stopping;
} sasl_worker_t;

/* 0, or -1 when the thread cannot start. */
int sasl_worker_start(sasl_worker_t *w, od_core_t *core);
/* Queue a job: OD_OK, OD_ERR_LIMIT (SASL_WORKER_MAX_QUEUED jobs wait
 * already: the caller refuses the login), OD_ERR_STOPPING. */
int sasl_worker_submit(sasl_worker_t *w, sasl_job_t *j);
/* On the loop thread, at the module's fini: finish the running job, join
 * the thread, then run done for every job left (refused set for the ones
 * that never ran), so that no login stays waiting and nothing leaks. */
void sasl_worker_stop(sasl_worker_t *w);

#endif
