/* od_loop.c - epoll plus a timer heap. */
#include "od_loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "od_metrics.h"
#include "odradek-module.h"

typedef struct od_watch {
    od_loop_fd_cb cb;
    void *arg;
    uint32_t events;
    int active;
} od_watch_t;

typedef struct od_timer {
    int64_t id;
    int64_t due;
    od_loop_timer_cb cb;
    void *arg;
} od_timer_t;

struct od_loop {
    int epfd;
    int running;
    int64_t now;
    od_watch_t *watches; /* indexed by fd */
    int nwatches;
    od_timer_t *heap;
    size_t nheap, heap_cap;
    int64_t next_id;
};

int64_t od_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t od_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

od_loop_t *od_loop_new(void)
{
    od_loop_t *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        free(l);
        return NULL;
    }
    l->now = od_mono_ms();
    l->next_id = 1;
    return l;
}

void od_loop_free(od_loop_t *l)
{
    if (!l)
        return;
    close(l->epfd);
    free(l->watches);
    free(l->heap);
    free(l);
}

static uint32_t to_epoll(uint32_t ev)
{
    uint32_t e = 0;
    if (ev & OD_LOOP_READ)
        e |= EPOLLIN | EPOLLRDHUP;
    if (ev & OD_LOOP_WRITE)
        e |= EPOLLOUT;
    return e;
}

int od_loop_watch(od_loop_t *l, int fd, uint32_t events, od_loop_fd_cb cb, void *arg)
{
    if (fd < 0)
        return -1;
    if (fd >= l->nwatches) {
        int n = l->nwatches ? l->nwatches : 64;
        while (n <= fd)
            n *= 2;
        od_watch_t *w = realloc(l->watches, (size_t)n * sizeof(*w));
        if (!w)
            return -1;
        memset(w + l->nwatches, 0, (size_t)(n - l->nwatches) * sizeof(*w));
        l->watches = w;
        l->nwatches = n;
    }
    od_watch_t *w = &l->watches[fd];
    struct epoll_event ee = {.events = to_epoll(events), .data.fd = fd};
    int op = w->active ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (w->active && w->events == events) {
        w->cb = cb;
        w->arg = arg;
        return 0;
    }
    if (epoll_ctl(l->epfd, op, fd, &ee) < 0)
        return -1;
    w->cb = cb;
    w->arg = arg;
    w->events = events;
    w->active = 1;
    return 0;
}

void od_loop_unwatch(od_loop_t *l, int fd)
{
    if (fd < 0 || fd >= l->nwatches || !l->watches[fd].active)
        return;
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
    memset(&l->watches[fd], 0, sizeof(od_watch_t));
}

/* ---- timer heap (min-heap on due, then id for stable order) ---- */

static int timer_less(const od_timer_t *a, const od_timer_t *b)
{
    return a->due < b->due || (a->due == b->due && a->id < b->id);
}

static void heap_up(od_loop_t *l, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!timer_less(&l->heap[i], &l->heap[p]))
            break;
        od_timer_t t = l->heap[i];
        l->heap[i] = l->heap[p];
        l->heap[p] = t;
        i = p;
    }
}

static void heap_down(od_loop_t *l, size_t i)
{
    for (;;) {
        size_t a = 2 * i + 1, b = a + 1, m = i;
        if (a < l->nheap && timer_less(&l->heap[a], &l->heap[m]))
            m = a;
        if (b < l->nheap && timer_less(&l->heap[b], &l->heap[m]))
            m = b;
        if (m == i)
            return;
        od_timer_t t = l->heap[i];
        l->heap[i] = l->heap[m];
        l->heap[m] = t;
        i = m;
    }
}

static void heap_remove_at(od_loop_t *l, size_t i)
{
    l->nheap--;
    if (i == l->nheap)
        return;
    l->heap[i] = l->heap[l->nheap];
    heap_down(l, i);
    heap_up(l, i);
}

int64_t od_loop_timer(od_loop_t *l, int64_t after_ms, od_loop_timer_cb cb, void *arg)
{
    if (l->nheap == l->heap_cap) {
        size_t n = l->heap_cap ? l->heap_cap * 2 : 64;
        od_timer_t *h = realloc(l->heap, n * sizeof(*h));
        if (!h)
            return -1;
        l->heap = h;
        l->heap_cap = n;
    }
    if (after_ms < 0)
        after_ms = 0;
    od_timer_t *t = &l->heap[l->nheap];
    t->id = l->next_id++;
    t->due = od_mono_ms() + after_ms;
    t->cb = cb;
    t->arg = arg;
    l->nheap++;
    int64_t id = t->id;
    heap_up(l, l->nheap - 1);
    return id;
}

void od_loop_cancel(od_loop_t *l, int64_t id)
{
    for (size_t i = 0; i < l->nheap; i++) {
        if (l->heap[i].id == id) {
            heap_remove_at(l, i);
            return;
        }
    }
}

int64_t od_loop_now(const od_loop_t *l) { return l->now; }

void od_loop_stop(od_loop_t *l) { l->running = 0; }

static void run_due_timers(od_loop_t *l)
{
    l->now = od_mono_ms();
    /* Timers added by callbacks run on a later pass, so a timer that
     * re-arms itself with 0 ms cannot starve the loop. */
    int64_t limit = l->next_id;
    while (l->nheap > 0 && l->heap[0].due <= l->now && l->heap[0].id < limit) {
        od_timer_t t = l->heap[0];
        heap_remove_at(l, 0);
        t.cb(t.arg);
        if (!l->running)
            return;
    }
}

int od_loop_run(od_loop_t *l)
{
    struct epoll_event evs[128];
    l->running = 1;
    while (l->running) {
        int timeout = -1;
        l->now = od_mono_ms();
        if (l->nheap > 0) {
            int64_t d = l->heap[0].due - l->now;
            timeout = d <= 0 ? 0 : (d > 60000 ? 60000 : (int)d);
        }
        od_metrics_loop_sleep();
        int n = epoll_wait(l->epfd, evs, 128, timeout);
        od_metrics_loop_wake();
        if (n < 0) {
            if (errno == EINTR)
                continue;
            od_logf(OD_LOG_ERROR, "event loop: epoll_wait: %s", strerror(errno));
            return -1;
        }
        l->now = od_mono_ms();
        for (int i = 0; i < n && l->running; i++) {
            int fd = evs[i].data.fd;
            if (fd < 0 || fd >= l->nwatches || !l->watches[fd].active)
                continue;
            uint32_t e = 0;
            if (evs[i].events & (EPOLLIN | EPOLLRDHUP))
                e |= OD_LOOP_READ;
            if (evs[i].events & EPOLLOUT)
                e |= OD_LOOP_WRITE;
            if (evs[i].events & EPOLLERR)
                e |= OD_LOOP_ERROR;
            if (evs[i].events & EPOLLHUP)
                e |= OD_LOOP_HUP;
            od_watch_t w = l->watches[fd];
            w.cb(w.arg, fd, e);
        }
        run_due_timers(l);
    }
    return 0;
}
