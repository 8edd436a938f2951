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
    void (*done)(sasl_job_t *j); /* on the loop thread; frees the job */
    void (*discard)(sasl_job_t *j); /* the broker stops before done could run; frees it */
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
    int started, stopping;
} sasl_worker_t;

/* 0, or -1 when the thread cannot start. */
int sasl_worker_start(sasl_worker_t *w, od_core_t *core);
/* Queue a job: OD_OK, OD_ERR_LIMIT (SASL_WORKER_MAX_QUEUED jobs wait
 * already: the caller refuses the login), OD_ERR_STOPPING. */
int sasl_worker_submit(sasl_worker_t *w, sasl_job_t *j);
/* Finish the running job, discard the queued ones, join the thread. */
void sasl_worker_stop(sasl_worker_t *w);

#endif
