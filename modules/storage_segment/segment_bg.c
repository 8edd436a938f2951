/* segment_bg.c - durability work off the loop thread.
 *
 * fdatasync of a rolled 1 GiB segment, of a compacted segment before it is
 * swapped in, or an fsync of a directory can take long enough to stall
 * every client if the event loop waited (Kafka flushes rolled segments
 * asynchronously too). One worker thread, started on first use, runs jobs
 * in submission order; a job is a list of steps (fdatasync a file, fsync a
 * directory) named by path, so it holds no descriptor while queued and the
 * store's descriptor cap is respected: the worker opens one file at a time.
 * On Linux, fsync on any descriptor of a file writes back all its dirty
 * pages, and a writeback error not yet seen is reported to a descriptor
 * opened later.
 *
 * A file that is gone by the time its step runs (retention deleted or
 * renamed the segment) is skipped: there is nothing left to make durable.
 *
 * The submitter either forgets the job (rolls) or keeps it and polls
 * seg_bg_done() from the loop (the cleaner's swap, which must not commit
 * before its data is on disk); seg_bg_put() drops the handle. Jobs are
 * refcounted so either side may finish first. When no thread can be
 * started, jobs run inline. */
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BG_MAX_STEPS 8

struct seg_bg_job {
    struct seg_bg_job *next;
    unsigned refs; /* under `mu` */
    int done;      /* under `mu` */
    int failed;    /* errno of the first failed step, 0 if none */
    size_t nsteps;
    struct {
        int dir;
        char path[4096];
    } steps[BG_MAX_STEPS];
    char why[512];
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER; /* work queued or quit */
static pthread_cond_t idle = PTHREAD_COND_INITIALIZER; /* a job finished */
static seg_bg_job_t *qhead, *qtail;
static int running, quitting, busy;
static pthread_t worker;

seg_bg_job_t *seg_bg_job_new(void)
{
    seg_bg_job_t *j = calloc(1, sizeof *j);
    if (j)
        j->refs = 1;
    return j;
}

int seg_bg_job_add(seg_bg_job_t *j, const char *path, int is_dir)
{
    if (j->nsteps == BG_MAX_STEPS)
        return -1;
    j->steps[j->nsteps].dir = is_dir;
    snprintf(j->steps[j->nsteps].path, sizeof j->steps[j->nsteps].path, "%s", path);
    j->nsteps++;
    return 0;
}

static void run(seg_bg_job_t *j)
{
    for (size_t i = 0; i < j->nsteps && !j->failed; i++) {
        const char *path = j->steps[i].path;
        int fd = open(path, (j->steps[i].dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
        int rc;
        if (fd < 0) {
            if (errno == ENOENT)
                continue;
            j->failed = errno;
            snprintf(j->why, sizeof j->why, "%.400s: open: %s", path, strerror(errno));
            break;
        }
        rc = j->steps[i].dir ? fsync(fd) : fdatasync(fd);
        if (rc < 0) {
            j->failed = errno;
            snprintf(j->why, sizeof j->why, "%.400s: %s: %s", path,
                     j->steps[i].dir ? "fsync" : "fdatasync", strerror(errno));
        }
        close(fd);
    }
    if (j->failed)
        od_logf(OD_LOG_WARN, "segment: background sync: %s", j->why);
}

/* Drop one reference; the caller holds `mu`. */
static void put_locked(seg_bg_job_t *j)
{
    if (--j->refs == 0)
        free(j);
}

static void *work(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    for (;;) {
        seg_bg_job_t *j;
        while (!qhead && !quitting)
            pthread_cond_wait(&wake, &mu);
        if (!qhead)
            break;
        j = qhead;
        qhead = j->next;
        if (!qhead)
            qtail = NULL;
        busy = 1;
        pthread_mutex_unlock(&mu);
        run(j);
        pthread_mutex_lock(&mu);
        busy = 0;
        j->done = 1;
        put_locked(j);
        pthread_cond_broadcast(&idle);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

/* The worker starts with every signal blocked: the broker takes SIGTERM
 * and SIGINT through a signalfd on the loop thread, and a process-directed
 * signal that found this thread unblocked would kill the process instead. */
static int start_worker(void)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&worker, NULL, work, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int seg_bg_submit(seg_bg_job_t *j, int keep)
{
    pthread_mutex_lock(&mu);
    if (!running && !quitting && start_worker() == 0)
        running = 1;
    if (!running) {
        pthread_mutex_unlock(&mu);
        run(j); /* no thread: here and now */
        pthread_mutex_lock(&mu);
        j->done = 1;
        if (!keep)
            put_locked(j);
        pthread_mutex_unlock(&mu);
        return 0;
    }
    if (keep)
        j->refs++;
    j->next = NULL;
    if (qtail)
        qtail->next = j;
    else
        qhead = j;
    qtail = j;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&mu);
    return 0;
}

int seg_bg_done(seg_bg_job_t *j, char *err, size_t errsz)
{
    int done;
    pthread_mutex_lock(&mu);
    done = j->done;
    pthread_mutex_unlock(&mu);
    if (!done)
        return 0;
    if (j->failed) {
        seg_err(err, errsz, "%s", j->why);
        return -1;
    }
    return 1;
}

void seg_bg_wait(seg_bg_job_t *j, int64_t ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&mu);
    while (!j->done && pthread_cond_timedwait(&idle, &mu, &until) == 0)
        ;
    pthread_mutex_unlock(&mu);
}

void seg_bg_put(seg_bg_job_t *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&mu);
    put_locked(j);
    pthread_mutex_unlock(&mu);
}

void seg_bg_drain(void)
{
    pthread_mutex_lock(&mu);
    while (qhead || busy)
        pthread_cond_wait(&idle, &mu);
    pthread_mutex_unlock(&mu);
}

void seg_bg_shutdown(void)
{
    int was;
    pthread_mutex_lock(&mu);
    quitting = 1;
    was = running;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&mu);
    if (was)
        pthread_join(worker, NULL); /* it finishes the queue first */
    pthread_mutex_lock(&mu);
    running = 0;
    quitting = 0; /* a later start (tests) may use it again */
    pthread_mutex_unlock(&mu);
}
