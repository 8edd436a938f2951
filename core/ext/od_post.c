/* od_post.c - od_loop_post: the one core service any thread may call.
 *
 * Posters append to a mutex-protected FIFO and write the eventfd; the loop
 * wakes on it and runs the queue in posting order. Each drain takes the
 * whole queue at once and runs it outside the lock, so a callback may post
 * again (it runs on the next wake-up, never recursively). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "od_core.h"
#include "od_ext_int.h"

static void on_wake(void *arg, int fd, uint32_t events)
{
    (void)events;
    uint64_t v;
    /* Read before draining: a post after the drain's take writes again and
     * wakes the loop once more. */
    while (read(fd, &v, sizeof(v)) < 0 && errno == EINTR)
        ;
    od_ext_post_drain(arg);
}

int od_ext_post_init(od_ext_t *x)
{
    if (pthread_mutex_init(&x->mu, NULL) != 0)
        return -1;
    x->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (x->efd < 0) {
        pthread_mutex_destroy(&x->mu);
        return -1;
    }
    if (od_loop_watch(x->core->loop, x->efd, OD_LOOP_READ, on_wake, x) < 0) {
        close(x->efd);
        x->efd = -1;
        pthread_mutex_destroy(&x->mu);
        return -1;
    }
    return 0;
}

void od_ext_post_fini(od_ext_t *x)
{
    if (x->efd < 0)
        return;
    /* od_ext_stop ran the queue and closed it; anything still here was
     * posted by a core that never shut down, whose modules may be unloaded
     * already: running it could jump into unmapped code, so it is dropped. */
    pthread_mutex_lock(&x->mu);
    x->post_stopping = 1;
    od_ext_post_t *head = x->post_head;
    x->post_head = x->post_tail = NULL;
    pthread_mutex_unlock(&x->mu);
    size_t dropped = 0;
    for (od_ext_post_t *p = head, *n; p; p = n) {
        n = p->next;
        free(p);
        dropped++;
    }
    if (dropped)
        od_logf(OD_LOG_WARN, "%zu od_loop_post callback(s) dropped: the broker never shut down",
                dropped);
    od_loop_unwatch(x->core->loop, x->efd);
    close(x->efd);
    x->efd = -1;
    pthread_mutex_destroy(&x->mu);
}

void od_ext_post_drain(od_ext_t *x)
{
    pthread_mutex_lock(&x->mu);
    od_ext_post_t *p = x->post_head;
    x->post_head = x->post_tail = NULL;
    pthread_mutex_unlock(&x->mu);
    while (p) {
        od_ext_post_t *n = p->next;
        p->fn(p->arg);
        free(p);
        p = n;
    }
}

int od_loop_post(od_core_t *core, od_loop_fn fn, void *arg)
{
    if (!core || !core->ext || !fn)
        return OD_ERR_INVALID;
    od_ext_t *x = core->ext;
    od_ext_post_t *p = malloc(sizeof(*p));
    if (!p)
        return OD_ERR_NOMEM;
    p->fn = fn;
    p->arg = arg;
    p->next = NULL;
    pthread_mutex_lock(&x->mu);
    if (x->post_stopping) {
        pthread_mutex_unlock(&x->mu);
        free(p);
        return OD_ERR_STOPPING;
    }
    int was_empty = x->post_head == NULL;
    if (x->post_tail)
        x->post_tail->next = p;
    else
        x->post_head = p;
    x->post_tail = p;
    /* Written under the lock so that a concurrent od_ext_post_fini cannot
     * close the descriptor between the append and the write. */
    if (was_empty) {
        uint64_t one = 1;
        ssize_t w;
        do
            w = write(x->efd, &one, sizeof(one));
        while (w < 0 && errno == EINTR);
        /* EAGAIN: the counter is saturated, so the loop is woken anyway. */
    }
    pthread_mutex_unlock(&x->mu);
    return OD_OK;
}
