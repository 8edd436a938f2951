/* test_loop.c - the loop's timer heap: order, cancel by id in any
 * position, stale ids, timers added by callbacks run on a later pass. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "od_loop.h"
#include "tap.h"

static od_loop_t *L;
static int order[4096];
static int norder;

static void record(void *arg)
{
    if (norder < 4096)
        order[norder++] = (int)(intptr_t)arg;
}

static void stop(void *arg)
{
    (void)arg;
    od_loop_stop(L);
}

static int64_t self_id;
static int self_runs;
static void rearm(void *arg)
{
    (void)arg;
    if (++self_runs < 3)
        self_id = od_loop_timer(L, 0, rearm, NULL);
    od_loop_cancel(L, self_id - 1000); /* an id never handed out: harmless */
}

int main(void)
{
    tap_no_plan();
    L = od_loop_new();
    tap_ok(L != NULL, "loop created");

    /* 1000 timers at the same time run in creation order; cancel every
     * third one, from the middle of the heap as well as its ends. */
    enum { N = 1000 };
    static int64_t ids[N];
    for (int i = 0; i < N; i++)
        ids[i] = od_loop_timer(L, 5, record, (void *)(intptr_t)i);
    int distinct = 1;
    for (int i = 1; i < N; i++)
        distinct &= ids[i] > 0 && ids[i] != ids[i - 1];
    tap_ok(distinct, "ids are positive and distinct");
    for (int i = 0; i < N; i += 3)
        od_loop_cancel(L, ids[i]);
    od_loop_cancel(L, ids[0]); /* twice: no-op */
    od_loop_timer(L, 50, stop, NULL);
    od_loop_run(L);
    int ok = 1, k = 0;
    for (int i = 0; i < N; i++)
        if (i % 3 != 0)
            ok &= k < norder && order[k++] == i;
    tap_ok(ok && k == norder, "the %d timers not cancelled ran once each, in order (%d ran)",
           N - (N + 2) / 3, norder);

    /* Stale ids: a timer that ran, and one cancelled, match nothing even
     * when their slots are reused. */
    norder = 0;
    int64_t a = od_loop_timer(L, 0, record, (void *)(intptr_t)1);
    od_loop_timer(L, 10, stop, NULL);
    od_loop_run(L);
    int64_t b = od_loop_timer(L, 5, record, (void *)(intptr_t)2); /* may reuse a's slot */
    od_loop_cancel(L, a);                                          /* stale: must not cancel b */
    od_loop_timer(L, 30, stop, NULL);
    od_loop_run(L);
    tap_ok(norder == 2 && order[0] == 1 && order[1] == 2, "cancelling a spent id leaves the "
           "timer now in its slot alone");
    (void)b;

    /* Different due times come out sorted, whatever the insertion order. */
    norder = 0;
    int dues[] = {40, 10, 30, 20, 0, 35, 5};
    for (size_t i = 0; i < sizeof(dues) / sizeof(dues[0]); i++)
        od_loop_timer(L, dues[i], record, (void *)(intptr_t)dues[i]);
    od_loop_timer(L, 80, stop, NULL);
    od_loop_run(L);
    int sorted = norder == 7;
    for (int i = 1; i < norder; i++)
        sorted &= order[i - 1] <= order[i];
    tap_ok(sorted, "timers run by due time");

    /* A 0 ms timer re-arming itself runs once per pass, not in a loop. */
    self_id = od_loop_timer(L, 0, rearm, NULL);
    od_loop_timer(L, 30, stop, NULL);
    od_loop_run(L);
    tap_is_int(self_runs, 3, "a self re-arming timer ran 3 times and stopped");

    od_loop_free(L);
    return tap_done();
}
