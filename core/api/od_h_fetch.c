/* od_h_fetch.c - Fetch: read whole batches from partition logs, long-poll
 * until min_bytes or max_wait_ms, and send record bytes straight from the
 * log files (sendfile) without copying them through the broker.
 *
 * Fetch sessions (KIP-227): this broker answers every fetch in full and
 * never creates a session (it returns session id 0), which the protocol
 * allows; an incremental fetch naming a session gets
 * FETCH_SESSION_ID_NOT_FOUND and the client falls back to full fetches. */
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_dispatch.h"
#include "od_handlers.h"
#include "od_metrics.h"

typedef struct fetch_wait fetch_wait_t;

/* A node linking a waiting fetch into one partition's waiter list. */
struct od_fetch_waiter {
    fetch_wait_t *fw;
    od_partition_t *p;
    od_fetch_waiter_t *next;
};

struct fetch_wait {
    od_core_t *core;
    od_req_t *r;
    od_FetchRequest_t *req;
    int64_t timer;
    od_fetch_waiter_t *nodes;
    size_t nnodes;
    fetch_wait_t *prev, *next; /* all waiting fetches */
};

static fetch_wait_t *waiting; /* one broker per process */

static od_partition_t *lookup(od_core_t *core, od_str_t topic, int32_t part, int16_t *err)
{
    od_topic_t *t = topic.len > 0 ? od_image_topic(&core->image, topic.p, (size_t)topic.len) : NULL;
    return od_partition_led_here(core, t, part, err);
}

static void release_read(od_log_read_t *rd)
{
    for (size_t i = 0; i < rd->nranges; i++)
        if (rd->ranges[i].release)
            rd->ranges[i].release(rd->ranges[i].opaque);
    rd->nranges = 0;
    rd->total = 0;
}

/* Build the response (encode = 1) or only count the bytes available and
 * whether any partition has an error (encode = 0). */
static size_t fetch_eval(od_core_t *core, od_req_t *r, od_FetchRequest_t *req, int encode,
                         int *any_error)
{
    int16_t ver = r->hdr.api_version;
    od_FetchResponse_t resp;
    od_FetchResponse_init(&resp);
    resp.throttle_time_ms = 0;
    resp.error_code = OD_ERR_NONE;
    resp.session_id = 0;
    int64_t limit = req->max_bytes > 0 ? req->max_bytes : INT32_MAX;
    if (limit > core->conf.fetch_max_bytes)
        limit = core->conf.fetch_max_bytes;
    size_t total = 0;
    int32_t nt = req->topics_count > 0 ? req->topics_count : 0;
    if (encode) {
        resp.responses = od_arena_calloc(&r->arena, nt ? (size_t)nt : 1, sizeof(*resp.responses));
        if (!resp.responses)
            return 0;
        resp.responses_count = nt;
    }
    for (int32_t i = 0; i < nt; i++) {
        od_FetchRequest_FetchTopic_t *ft = &req->topics[i];
        od_FetchResponse_FetchableTopicResponse_t *tr = encode ? &resp.responses[i] : NULL;
        int32_t np = ft->partitions_count > 0 ? ft->partitions_count : 0;
        if (tr) {
            tr->topic = ft->topic;
            tr->partitions = od_arena_calloc(&r->arena, np ? (size_t)np : 1, sizeof(*tr->partitions));
            if (!tr->partitions)
                return 0;
            tr->partitions_count = np;
        }
        for (int32_t j = 0; j < np; j++) {
            od_FetchRequest_FetchPartition_t *fp = &ft->partitions[j];
            od_FetchResponse_PartitionData_t *pd = tr ? &tr->partitions[j] : NULL;
            if (pd) {
                pd->partition_index = fp->partition;
                pd->high_watermark = -1;
                pd->last_stable_offset = -1;
                pd->log_start_offset = -1;
                pd->preferred_read_replica = -1;
                pd->aborted_transactions_count = -1;
                /* Clients expect empty record sets, never null ones. */
                pd->records.p = (const uint8_t *)"";
                pd->records.len = 0;
            }
            int16_t err;
            od_partition_t *p = lookup(core, ft->topic, fp->partition, &err);
            if (p)
                err = od_partition_check_epoch(p, fp->current_leader_epoch);
            int64_t start = p ? od_partition_log_start(core, p) : -1;
            int64_t hwm = p ? p->high_watermark : -1;
            if (p && err == OD_ERR_NONE && (fp->fetch_offset < start || fp->fetch_offset > hwm))
                err = OD_ERR_OFFSET_OUT_OF_RANGE;
            if (pd) {
                pd->error_code = err;
                pd->high_watermark = hwm;
                pd->last_stable_offset = hwm;
                pd->log_start_offset = start;
            }
            if (err != OD_ERR_NONE) {
                *any_error = 1;
                continue;
            }
            if (fp->fetch_offset == hwm || (int64_t)total >= limit)
                continue;
            int64_t want = limit - (int64_t)total;
            if (fp->partition_max_bytes < want)
                want = fp->partition_max_bytes;
            if (want <= 0)
                continue;
            /* Probing (encode == 0) reads into the stack and releases at once. */
            od_log_read_t probe;
            od_log_read_t *rd = encode ? od_arena_calloc(&r->arena, 1, sizeof(*rd)) : &probe;
            char why[256];
            if (!rd)
                return total;
            if (core->storage->read(p->log, fp->fetch_offset, (size_t)want, rd, why, sizeof(why)) < 0) {
                od_logf(OD_LOG_WARN, "fetch %.*s-%d at %lld: %s", (int)ft->topic.len, ft->topic.p,
                        fp->partition, (long long)fp->fetch_offset, why);
                if (pd)
                    pd->error_code = OD_ERR_KAFKA_STORAGE_ERROR;
                *any_error = 1;
                continue;
            }
            /* Only the first partition with data may exceed the limits (a
             * batch larger than max_bytes must still get through, or the
             * consumer stalls); later ones wait for the next fetch. */
            if (total > 0 && (int64_t)rd->total > want) {
                release_read(rd);
                continue;
            }
            total += rd->total;
            if (!encode && (int64_t)total >= (int64_t)req->min_bytes && req->min_bytes > 0) {
                release_read(rd);
                return total; /* enough to answer; no need to look further */
            }
            if (pd && rd->nranges > 0) {
                od_metrics_topic_out(p->topic, rd->total);
                pd->records.p = NULL;
                pd->records.len = (int32_t)rd->total;
                pd->records.read = rd; /* the encoder takes the references */
            } else {
                release_read(rd);
            }
        }
    }
    if (encode)
        od_FetchResponse_encode(&r->resp, ver, &resp);
    return total;
}

static void unlink_wait(fetch_wait_t *fw)
{
    for (size_t i = 0; i < fw->nnodes; i++) {
        od_fetch_waiter_t *n = &fw->nodes[i];
        if (!n->p)
            continue;
        for (od_fetch_waiter_t **pp = &n->p->waiters; *pp; pp = &(*pp)->next)
            if (*pp == n) {
                *pp = n->next;
                break;
            }
        n->p = NULL;
    }
    if (fw->prev)
        fw->prev->next = fw->next;
    else if (waiting == fw)
        waiting = fw->next;
    if (fw->next)
        fw->next->prev = fw->prev;
    fw->prev = fw->next = NULL;
}

static void answer_now(od_core_t *core, fetch_wait_t *fw)
{
    unlink_wait(fw);
    if (fw->timer > 0)
        od_loop_cancel(core->loop, fw->timer);
    od_req_t *r = fw->r;
    od_FetchRequest_t *req = fw->req;
    free(fw->nodes);
    free(fw);
    if (!r->conn) { /* the client went away while we waited */
        od_req_free(r);
        return;
    }
    int any_error = 0;
    fetch_eval(core, r, req, 1, &any_error);
    od_req_done(r);
}

static void on_timeout(void *arg)
{
    fetch_wait_t *fw = arg;
    fw->timer = 0;
    answer_now(fw->core, fw);
}

void od_h_fetch(od_req_t *r, void *body)
{
    od_core_t *core = r->conn->core;
    od_FetchRequest_t *req = body;
    if (req->session_id != 0) {
        od_FetchResponse_t resp;
        od_FetchResponse_init(&resp);
        resp.error_code = OD_ERR_FETCH_SESSION_ID_NOT_FOUND;
        resp.session_id = 0;
        resp.responses_count = 0;
        od_FetchResponse_encode(&r->resp, r->hdr.api_version, &resp);
        od_req_done(r);
        return;
    }
    int any_error = 0;
    size_t avail = fetch_eval(core, r, req, 0, &any_error);
    if (any_error || req->max_wait_ms <= 0 || (int64_t)avail >= (int64_t)req->min_bytes ||
        core->stopping || req->topics_count <= 0) {
        fetch_eval(core, r, req, 1, &any_error);
        od_req_done(r);
        return;
    }
    /* Wait for data on any of the partitions, or until max_wait_ms. */
    fetch_wait_t *fw = calloc(1, sizeof(*fw));
    size_t n = 0;
    for (int32_t i = 0; i < req->topics_count; i++)
        n += req->topics[i].partitions_count > 0 ? (size_t)req->topics[i].partitions_count : 0;
    if (fw)
        fw->nodes = calloc(n ? n : 1, sizeof(*fw->nodes));
    if (!fw || !fw->nodes) {
        free(fw);
        fetch_eval(core, r, req, 1, &any_error);
        od_req_done(r);
        return;
    }
    fw->core = core;
    fw->r = r;
    fw->req = req;
    for (int32_t i = 0; i < req->topics_count; i++) {
        od_FetchRequest_FetchTopic_t *ft = &req->topics[i];
        for (int32_t j = 0; j < ft->partitions_count; j++) {
            int16_t err;
            od_partition_t *p = lookup(core, ft->topic, ft->partitions[j].partition, &err);
            if (!p)
                continue;
            od_fetch_waiter_t *node = &fw->nodes[fw->nnodes++];
            node->fw = fw;
            node->p = p;
            node->next = p->waiters;
            p->waiters = node;
        }
    }
    fw->next = waiting;
    if (waiting)
        waiting->prev = fw;
    waiting = fw;
    fw->timer = od_loop_timer(core->loop, req->max_wait_ms, on_timeout, fw);
}

void od_fetch_wake(od_core_t *core, od_partition_t *p)
{
    if (!p->waiters)
        return;
    /* Snapshot the distinct waiting fetches first: answering one unlinks
     * its nodes from this list. */
    size_t n = 0, cap = 0;
    fetch_wait_t **fws = NULL;
    for (od_fetch_waiter_t *q = p->waiters; q; q = q->next) {
        int seen = 0;
        for (size_t i = 0; i < n && !seen; i++)
            seen = fws[i] == q->fw;
        if (seen)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            fetch_wait_t **nf = realloc(fws, cap * sizeof(*nf));
            if (!nf)
                break;
            fws = nf;
        }
        fws[n++] = q->fw;
    }
    for (size_t i = 0; i < n; i++) {
        fetch_wait_t *fw = fws[i];
        int any_error = 0;
        if (fw->r->conn == NULL ||
            (int64_t)fetch_eval(core, fw->r, fw->req, 0, &any_error) >= (int64_t)fw->req->min_bytes ||
            any_error)
            answer_now(core, fw);
    }
    free(fws);
}

void od_fetch_partition_removed(od_core_t *core, od_partition_t *p)
{
    while (p->waiters) {
        fetch_wait_t *fw = p->waiters->fw;
        unlink_wait(fw);
        /* Answer on the next loop turn: the image is mid-change now. */
        if (fw->timer > 0)
            od_loop_cancel(core->loop, fw->timer);
        fw->next = waiting;
        if (waiting)
            waiting->prev = fw;
        waiting = fw;
        fw->timer = od_loop_timer(core->loop, 0, on_timeout, fw);
    }
}

void od_fetch_answer_all(od_core_t *core)
{
    while (waiting)
        answer_now(core, waiting);
}
