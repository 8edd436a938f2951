/* od_acks.c - produce requests with acks=all waiting for their batches to
 * be replicated: each partition's answer is decided once the high
 * watermark passes its last offset (then NONE, or
 * NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR fell below
 * min.insync.replicas meanwhile), when the partition stops being led here
 * (NOT_LEADER_OR_FOLLOWER) or at the request's timeout (REQUEST_TIMED_OUT),
 * as Kafka's DelayedProduce. A waiting request keeps only its decoded
 * state (topic names copied into its arena), never its frame, and is freed
 * at once when its connection closes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_acks.h"
#include "od_core.h"
#include "od_dispatch.h"
#include "od_repl_int.h"

typedef struct od_ack_wait od_ack_wait_t;

struct od_ack_node {
    od_ack_wait_t *w;
    od_partition_t *p;       /* NULL once decided */
    int64_t required;        /* the high watermark must reach this */
    od_ProduceResponse_PartitionProduceResponse_t *out;
    struct od_ack_node *prev, *next; /* in p->repl->acks */
};

struct od_ack_wait {
    od_core_t *core;
    od_req_t *r;
    od_ProduceResponse_t *resp; /* in r's arena */
    struct od_ack_node *nodes;
    size_t n, pending;
    int64_t timer;
};

static void unlink_node(struct od_ack_node *n)
{
    if (!n->p)
        return;
    od_replica_t *rs = n->p->repl;
    if (n->prev)
        n->prev->next = n->next;
    else if (rs)
        rs->acks = n->next;
    if (n->next)
        n->next->prev = n->prev;
    n->prev = n->next = NULL;
    n->p = NULL;
}

static void free_wait(od_ack_wait_t *w)
{
    for (size_t i = 0; i < w->n; i++)
        unlink_node(&w->nodes[i]);
    if (w->timer > 0)
        od_loop_cancel(w->core->loop, w->timer);
    w->r->cancel = NULL;
    w->r->wait = NULL;
    free(w->nodes);
    free(w);
}

static void answer(od_ack_wait_t *w)
{
    od_req_t *r = w->r;
    od_ProduceResponse_t *resp = w->resp;
    free_wait(w);
    if (!r->conn) {
        od_req_free(r);
        return;
    }
    od_ProduceResponse_encode(&r->resp, r->hdr.api_version, resp);
    od_req_done(r);
}

static void set_msg(od_req_t *r, struct od_ack_node *n, const char *msg)
{
    char *m = od_arena_strndup(&r->arena, msg, strlen(msg));
    if (m)
        n->out->error_message = od_str_c(m);
}

/* Decide n if it can be; 1 when it was. */
static int decide(od_ack_wait_t *w, struct od_ack_node *n)
{
    od_partition_t *p = n->p;
    od_core_t *core = w->core;
    if (!p)
        return 0;
    if (p->leader != (int32_t)core->conf.node_id || !p->log) {
        n->out->error_code = OD_ERR_NOT_LEADER_OR_FOLLOWER;
    } else if (p->high_watermark >= n->required) {
        int64_t min_isr = p->topic->cfg.min_insync_replicas;
        if (p->nisr < min_isr) {
            char m[256];
            n->out->error_code = OD_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND;
            snprintf(m, sizeof(m), "The number of insync replicas (%d) for partition %s-%d is "
                     "below min.insync.replicas=%lld after the append", p->nisr, p->topic->name,
                     p->index, (long long)min_isr);
            set_msg(w->r, n, m);
        } else {
            n->out->error_code = OD_ERR_NONE;
        }
    } else {
        return 0;
    }
    unlink_node(n);
    w->pending--;
    return 1;
}

static void on_timeout(void *arg)
{
    od_ack_wait_t *w = arg;
    w->timer = 0;
    for (size_t i = 0; i < w->n; i++) {
        struct od_ack_node *n = &w->nodes[i];
        if (!n->p)
            continue;
        if (!decide(w, n)) {
            n->out->error_code = OD_ERR_REQUEST_TIMED_OUT;
            set_msg(w->r, n, "the in-sync replicas did not all have the batch within the request "
                             "timeout");
            unlink_node(n);
            w->pending--;
        }
    }
    answer(w);
}

static void cancel(od_req_t *r)
{
    od_ack_wait_t *w = r->wait;
    free_wait(w);
    od_req_free(r);
}

/* Walk p's waiters, deciding what can be; a request whose last partition
 * is decided is answered (which unlinks its nodes, so start over). */
static void sweep(od_core_t *core, od_partition_t *p, int16_t force_error)
{
    (void)core;
again:
    for (struct od_ack_node *n = p->repl ? p->repl->acks : NULL; n; n = n->next) {
        od_ack_wait_t *w = n->w;
        int done = decide(w, n);
        if (!done && force_error != OD_ERR_NONE) {
            n->out->error_code = force_error;
            unlink_node(n);
            w->pending--;
            done = 1;
        }
        if (!done)
            continue;
        if (w->pending == 0)
            answer(w);
        goto again;
    }
}

void od_hw_sweep(od_core_t *core, od_partition_t *p, int16_t force_error);

void od_acks_hw_moved(od_core_t *core, od_partition_t *p)
{
    sweep(core, p, OD_ERR_NONE);
    od_hw_sweep(core, p, OD_ERR_NONE);
}

void od_acks_fail_partition(od_core_t *core, od_partition_t *p, int16_t error)
{
    sweep(core, p, error);
    od_hw_sweep(core, p, error);
}

int od_acks_wait(od_core_t *core, od_req_t *r, const od_ProduceResponse_t *resp,
                 const od_ack_pending_t *pending, size_t n, int64_t timeout_ms)
{
    od_ack_wait_t *w = calloc(1, sizeof(*w));
    od_ProduceResponse_t *copy = od_arena_alloc(&r->arena, sizeof(*copy));
    if (w)
        w->nodes = calloc(n, sizeof(*w->nodes));
    if (!w || !w->nodes || !copy)
        goto fail;
    *copy = *resp;
    /* Topic names borrow from the frame, which goes when this returns. */
    for (int32_t i = 0; i < copy->responses_count; i++) {
        od_str_t *t = &copy->responses[i].name;
        if (t->len <= 0)
            continue;
        char *c = od_arena_strndup(&r->arena, t->p, (size_t)t->len);
        if (!c)
            goto fail;
        t->p = c;
    }
    od_slice_init(&r->body, NULL, 0);
    w->timer = od_loop_timer(core->loop, timeout_ms > 0 ? timeout_ms : 1, on_timeout, w);
    if (w->timer < 0)
        goto fail;
    w->core = core;
    w->r = r;
    w->resp = copy;
    for (size_t i = 0; i < n; i++) {
        od_replica_t *rs = od_replica_of(core, pending[i].p);
        struct od_ack_node *node = &w->nodes[w->n++];
        node->w = w;
        node->out = pending[i].out;
        node->required = pending[i].required;
        if (!rs) { /* no memory for its state: it cannot be waited for */
            node->out->error_code = OD_ERR_REQUEST_TIMED_OUT;
            continue;
        }
        node->p = pending[i].p;
        node->next = rs->acks;
        if (rs->acks)
            rs->acks->prev = node;
        rs->acks = node;
        w->pending++;
    }
    r->wait = w;
    r->cancel = cancel;
    /* Replicas may already have it (the high watermark moved during the
     * request): decide those now. */
    for (size_t i = 0; i < w->n; i++)
        decide(w, &w->nodes[i]);
    if (w->pending == 0)
        answer(w);
    return 0;
fail:
    if (w) {
        if (w->timer > 0)
            od_loop_cancel(core->loop, w->timer);
        free(w->nodes);
        free(w);
    }
    return -1;
}

/* ---- plain high-watermark waits (offset commits of the coordinator) ---- */

struct od_hw_wait {
    od_core_t *core;
    od_partition_t *p; /* NULL once answered */
    int64_t required;
    int64_t timer;
    od_hw_cb cb;
    void *arg;
    struct od_hw_wait *prev, *next; /* in p->repl->hw_waits */
};

static void hw_unlink(struct od_hw_wait *w)
{
    od_replica_t *rs = w->p ? w->p->repl : NULL;
    if (w->prev)
        w->prev->next = w->next;
    else if (rs)
        rs->hw_waits = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->p = NULL;
}

static void hw_finish(struct od_hw_wait *w, int16_t err)
{
    hw_unlink(w);
    if (w->timer > 0)
        od_loop_cancel(w->core->loop, w->timer);
    od_hw_cb cb = w->cb;
    void *arg = w->arg;
    free(w);
    cb(arg, err);
}

static void hw_timeout(void *arg)
{
    struct od_hw_wait *w = arg;
    w->timer = 0;
    hw_finish(w, OD_ERR_REQUEST_TIMED_OUT);
}

void od_hw_sweep(od_core_t *core, od_partition_t *p, int16_t force_error)
{
    od_replica_t *rs = p->repl;
again:
    for (struct od_hw_wait *w = rs ? rs->hw_waits : NULL; w; w = w->next) {
        int16_t err = force_error;
        if (err == OD_ERR_NONE && (p->leader != (int32_t)core->conf.node_id || !p->log))
            err = OD_ERR_NOT_LEADER_OR_FOLLOWER;
        if (err == OD_ERR_NONE && p->high_watermark < w->required)
            continue;
        hw_finish(w, err);
        goto again;
    }
}

int od_hw_wait(od_core_t *core, od_partition_t *p, int64_t required, int64_t timeout_ms,
               od_hw_cb cb, void *arg)
{
    if (p->high_watermark >= required)
        return 1;
    od_replica_t *rs = od_replica_of(core, p);
    struct od_hw_wait *w = rs ? calloc(1, sizeof(*w)) : NULL;
    if (!w)
        return -1;
    w->timer = od_loop_timer(core->loop, timeout_ms > 0 ? timeout_ms : 1, hw_timeout, w);
    if (w->timer < 0) {
        free(w);
        return -1;
    }
    w->core = core;
    w->p = p;
    w->required = required;
    w->cb = cb;
    w->arg = arg;
    w->next = rs->hw_waits;
    if (rs->hw_waits)
        rs->hw_waits->prev = w;
    rs->hw_waits = w;
    return 0;
}
