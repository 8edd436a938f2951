/* od_loop.c - epoll plus a timer heap. */
#include "od_loop.h"

#include <errno.h>
#include <stdint.h>
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
    int64_t seq; /* creation order: ties on due, and "added by a callback" */
    int64_t due;
    uint32_t slot; /* index in slots[], which knows the heap position */
    od_loop_timer_cb cb;
    void *arg;
} od_timer_t;

/* A timer's id names a slot and the slot's generation, so cancel finds
 * the heap entry in O(1) (thousands of waiting fetches each own a timer)
 * and an id whose timer already ran or was cancelled matches nothing. */
typedef struct od_timer_slot {
    uint32_t gen;
    uint32_t next_free; /* free list, slot index + 1; 0 ends it */
    size_t heap_idx;    /* SIZE_MAX when the slot is free */
} od_timer_slot_t;

struct od_loop {
    int epfd;
    int running;
    int64_t now;
    od_watch_t *watches; /* indexed by fd */
    int nwatches;
    od_timer_t *heap;
    size_t nheap, heap_cap;
    od_timer_slot_t *slots;
    size_t nslots;
    uint32_t free_slot; /* head of the free list, index + 1; 0 if empty */
    int64_t next_seq;
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
    l->next_seq = 1;
    return l;
}

void od_loop_free(od_loop_t *l)
{
    if (!l)
        return;
    close(l->epfd);
    free(l->watches);
    free(l->heap);
    free(l->slots);
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

/* ---- timer heap (min-heap on due, then creation order) ---- */

static int timer_less(const od_timer_t *a, const od_timer_t *b)
{
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void heap_set(od_loop_t *l, size_t i, od_timer_t t)
{
    l->heap[i] = t;
    l->slots[t.slot].heap_idx = i;
}

static void heap_up(od_loop_t *l, size_t i)
{
    od_timer_t t = l->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!timer_less(&t, &l->heap[p]))
            break;
        heap_set(l, i, l->heap[p]);
        i = p;
    }
    heap_set(l, i, t);
}

static void heap_down(od_loop_t *l, size_t i)
{
    od_timer_t t = l->heap[i];
    for (;;) {
        size_t a = 2 * i + 1, b = a + 1, m = i;
        const od_timer_t *best = &t;
        if (a < l->nheap && timer_less(&l->heap[a], best)) {
            m = a;
            best = &l->heap[a];
        }
        if (b < l->nheap && timer_less(&l->heap[b], best))
            m = b;
        if (m == i)
            break;
        heap_set(l, i, l->heap[m]);
        i = m;
    }
    heap_set(l, i, t);
}

static void slot_release(od_loop_t *l, uint32_t slot)
{
    od_timer_slot_t *s = &l->slots[slot];
    s->gen++;
    s->heap_idx = SIZE_MAX;
    s->next_free = l->free_slot;
    l->free_slot = slot + 1;
}

static void heap_remove_at(od_loop_t *l, size_t i)
{
    slot_release(l, l->heap[i].slot);
    l->nheap--;
    if (i == l->nheap)
        return;
    heap_set(l, i, l->heap[l->nheap]);
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
    if (!l->free_slot) {
        size_t n = l->nslots ? l->nslots * 2 : 64;
        if (n > UINT32_MAX - 1)
            return -1;
        od_timer_slot_t *sl = realloc(l->slots, n * sizeof(*sl));
        if (!sl)
            return -1;
        for (size_t i = l->nslots; i < n; i++) {
            sl[i].gen = 0;
            sl[i].heap_idx = SIZE_MAX;
            sl[i].next_free = i + 1 < n ? (uint32_t)(i + 2) : 0;
        }
        l->slots = sl;
        l->free_slot = (uint32_t)l->nslots + 1;
        l->nslots = n;
    }
    uint32_t slot = l->free_slot - 1;
    l->free_slot = l->slots[slot].next_free;
    if (after_ms < 0)
        after_ms = 0;
    od_timer_t t = {.seq = l->next_seq++, .due = od_mono_ms() + after_ms, .slot = slot,
                    .cb = cb, .arg = arg};
    l->nheap++;
    heap_set(l, l->nheap - 1, t);
    heap_up(l, l->nheap - 1);
    /* id > 0: generation in the high half (31 bits), slot + 1 below. */
    return (int64_t)(l->slots[slot].gen & 0x7FFFFFFFu) << 32 | (int64_t)(slot + 1);
}

void od_loop_cancel(od_loop_t *l, int64_t id)
{
    if (id <= 0)
        return;
    uint64_t slot1 = (uint64_t)id & 0xFFFFFFFFu;
    uint32_t gen = (uint32_t)((uint64_t)id >> 32);
    if (slot1 == 0 || slot1 > l->nslots)
        return;
    od_timer_slot_t *s = &l->slots[slot1 - 1];
    if ((s->gen & 0x7FFFFFFFu) != gen || s->heap_idx == SIZE_MAX)
        return;
    heap_remove_at(l, s->heap_idx);
}

int64_t od_loop_now(const od_loop_t *l) { return l->now; }

void od_loop_stop(od_loop_t *l) { l->running = 0; }

static void run_due_timers(od_loop_t *l)
{
    l->now = od_mono_ms();
    /* Timers added by callbacks run on a later pass, so a timer that
     * re-arms itself with 0 ms cannot starve the loop. */
    int64_t limit = l->next_seq;
    while (l->nheap > 0 && l->heap[0].due <= l->now && l->heap[0].seq < limit) {
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
