/* od_h_fetch.c - Fetch: read whole batches from partition logs, long-poll
 * until min_bytes or max_wait_ms, and send record bytes straight from the
 * log files (sendfile) without copying them through the broker.
 *
 * Fetch sessions (KIP-227): this broker answers every fetch in full and
 * never creates a session (it returns session id 0), which the protocol
 * allows; an incremental fetch naming a session gets
 * FETCH_SESSION_ID_NOT_FOUND and the client falls back to full fetches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_authz.h"
#include "od_core.h"
#include "od_dispatch.h"
#include "od_handlers.h"
#include "od_metrics.h"
#include "od_repl.h"

typedef struct fetch_wait fetch_wait_t;

/* A node linking a waiting fetch into one partition's waiter list; doubly
 * linked so a fetch leaves every list in O(1) per node. */
struct od_fetch_waiter {
    fetch_wait_t *fw;
    od_partition_t *p;
    od_fetch_waiter_t *prev, *next;
};

/* A waiting fetch keeps only its decoded request (topic names copied into
 * the request's arena), never the frame it came in. */
struct fetch_wait {
    od_core_t *core;
    od_req_t *r;
    od_FetchRequest_t *req;
    int64_t timer;
    od_fetch_waiter_t *nodes;
    size_t nnodes;
    uint64_t wake_stamp; /* last od_fetch_wake that collected it */
    int in_wake;         /* od_fetch_wake holds a pointer: do not free */
    int finished;        /* answered or cancelled while in_wake */
    int queued;          /* woken, in the answer queue */
    fetch_wait_t *prev, *next;   /* all waiting fetches */
    fetch_wait_t *qprev, *qnext; /* the answer queue */
};

/* One broker's waiting fetches (core->fetch_waits: made by od_fetch_start,
 * freed by od_fetch_stop). */
struct od_fetch_waits {
    fetch_wait_t *waiting; /* all of them */
    /* Woken fetches are answered one per loop turn, oldest first: building
     * a response for many partitions is long, and an append may wake many. */
    fetch_wait_t *queue_head, *queue_tail;
    int64_t queue_timer;
    uint64_t wake_stamp; /* of the last od_fetch_wake */
    /* fetch.wait.max.ms: a client's max_wait_ms is cut to this (a waiting
     * fetch holds memory). */
    int64_t wait_max_ms;
};

static const od_conf_def_t fetch_defs[] = {
    {"fetch.wait.max.ms", OD_CONF_INT, "30000", 0, INT32_MAX, NULL,
     "longest a Fetch waits for min_bytes; a larger max_wait_ms is cut to it (not in Kafka)",
     NULL, 0},
};

int od_fetch_register_config(od_core_t *core, char *err, size_t errsz)
{
    return od_config_register(&core->config, fetch_defs, sizeof(fetch_defs) / sizeof(fetch_defs[0]),
                              "core", err, errsz);
}

int od_fetch_start(od_core_t *core, char *err, size_t errsz)
{
    od_fetch_waits_t *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    /* The key has no static target: the value (validated when the
     * configuration was applied) is read into this broker's state. */
    const od_conf_def_t *d = &fetch_defs[0];
    if (od_conf_parse(d, od_config_get(&core->config, d->name), &w->wait_max_ms, err, errsz) < 0) {
        free(w);
        return -1;
    }
    core->fetch_waits = w;
    return 0;
}

void od_fetch_stop(od_core_t *core)
{
    if (!core->fetch_waits)
        return;
    od_fetch_answer_all(core); /* none is left normally: shutdown answered them */
    free(core->fetch_waits);
    core->fetch_waits = NULL;
}

static od_partition_t *lookup(od_core_t *core, od_str_t topic, int32_t part, int16_t *err)
{
    od_topic_t *t = topic.len > 0 ? od_image_topic(&core->image, topic.p, (size_t)topic.len) : NULL;
    return od_partition_led_here(core, t, part, err);
}

/* A partition to read for this request: the leader's, or (KIP-392) a
 * follower's for a consumer of Fetch v11+, which only asks a follower it
 * was sent to as its preferred read replica. */
static od_partition_t *lookup_read(od_core_t *core, const od_FetchRequest_t *req, int16_t ver,
                                   od_str_t topic, int32_t part, int16_t *err)
{
    od_partition_t *p = lookup(core, topic, part, err);
    if (p || *err != OD_ERR_NOT_LEADER_OR_FOLLOWER || req->replica_id >= 0 || ver < 11)
        return p;
    od_topic_t *t = od_image_topic(&core->image, topic.p, (size_t)topic.len);
    od_partition_t *q = t && part >= 0 && part < t->npartitions ? t->partitions[part] : NULL;
    if (q && od_repl_serves_reads(core, q)) {
        *err = OD_ERR_NONE;
        return q;
    }
    return NULL;
}

static void release_read(od_log_read_t *rd)
{
    for (size_t i = 0; i < rd->nranges; i++)
        if (rd->ranges[i].release)
            rd->ranges[i].release(rd->ranges[i].opaque);
    rd->nranges = 0;
    rd->total = 0;
}

/* Release the log references taken for topics [0, nt) of a response that
 * will not be sent. */
static void release_response(od_FetchResponse_t *resp, int32_t nt)
{
    for (int32_t i = 0; i < nt; i++)
        for (int32_t j = 0; j < resp->responses[i].partitions_count; j++)
            if (resp->responses[i].partitions[j].records.read) /* ours, in the arena */
                release_read((od_log_read_t *)resp->responses[i].partitions[j].records.read);
}

/* Build the response (encode = 1) or only count the bytes available and
 * whether any partition has an error (encode = 0). With encode = 1 a
 * return of (size_t)-1 means the response could not be built (arena
 * limit or memory): the caller closes the connection, never sends a
 * response without a body. */
#define FETCH_FAILED ((size_t)-1)
#define FETCH_DENIED INT32_MIN /* partition_max_bytes of a partition it may not read */
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
    int follower = req->replica_id >= 0; /* another broker replicating (KIP-903 by version) */
    if (limit > core->conf.fetch_max_bytes)
        limit = core->conf.fetch_max_bytes;
    size_t total = 0;
    int32_t nt = req->topics_count > 0 ? req->topics_count : 0;
    if (encode) {
        resp.responses = od_arena_calloc(&r->arena, nt ? (size_t)nt : 1, sizeof(*resp.responses));
        if (!resp.responses)
            return FETCH_FAILED;
        resp.responses_count = nt;
    }
    for (int32_t i = 0; i < nt; i++) {
        od_FetchRequest_FetchTopic_t *ft = &req->topics[i];
        od_FetchResponse_FetchableTopicResponse_t *tr = encode ? &resp.responses[i] : NULL;
        int32_t np = ft->partitions_count > 0 ? ft->partitions_count : 0;
        if (tr) {
            tr->topic = ft->topic;
            tr->partitions = od_arena_calloc(&r->arena, np ? (size_t)np : 1, sizeof(*tr->partitions));
            if (!tr->partitions) {
                release_response(&resp, i);
                return FETCH_FAILED;
            }
            tr->partitions_count = np;
        }
        for (int32_t j = 0; j < np; j++) {
            od_FetchRequest_FetchPartition_t *fp = &ft->partitions[j];
            od_FetchResponse_PartitionData_t *pd = tr ? &tr->partitions[j] : NULL;
            if (pd) {
                /* Tagged fields (DivergingEpoch, CurrentLeader, SnapshotId)
                 * at their defaults go out absent, as they must. */
                od_FetchResponse_PartitionData_init(pd);
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
            if (fp->partition_max_bytes == FETCH_DENIED) {
                if (pd)
                    pd->error_code = OD_ERR_TOPIC_AUTHORIZATION_FAILED;
                *any_error = 1;
                continue;
            }
            int16_t err;
            od_partition_t *p = lookup_read(core, req, ver, ft->topic, fp->partition, &err);
            if (p)
                err = od_partition_check_epoch(p, fp->current_leader_epoch);
            int64_t start = p ? od_partition_log_start(core, p) : -1;
            int64_t hwm = p ? p->high_watermark : -1;
            int64_t leo = p ? od_partition_log_end(core, p) : -1;
            /* Followers read up to the log end, consumers up to the high
             * watermark; an offset between the two is no error (Kafka's
             * range is the log end), it just has nothing to read yet. */
            int64_t upto = follower ? leo : hwm;
            /* A follower whose log parted from ours learns where first (its
             * fetch offset may lie past our log end then). */
            int32_t div_epoch;
            int64_t div_end;
            if (p && err == OD_ERR_NONE && follower && ver >= 12 &&
                od_repl_diverging(core, p, fp->last_fetched_epoch, fp->fetch_offset, &div_epoch,
                                  &div_end)) {
                if (pd) { /* no records: the follower cuts its log first */
                    pd->error_code = OD_ERR_NONE;
                    pd->high_watermark = hwm;
                    pd->last_stable_offset = hwm;
                    pd->log_start_offset = start;
                    pd->diverging_epoch.epoch = div_epoch;
                    pd->diverging_epoch.end_offset = div_end;
                }
                *any_error = 1; /* answer at once */
                continue;
            }
            if (p && err == OD_ERR_NONE && (fp->fetch_offset < start || fp->fetch_offset > leo))
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
            /* KIP-392: a consumer in another rack is sent to a replica in its own. */
            int32_t prr = !follower && ver >= 11 && req->rack_id.len > 0 &&
                                  p->leader == (int32_t)core->conf.node_id
                              ? od_repl_preferred_read_replica(core, p, req->rack_id.p,
                                                               (size_t)req->rack_id.len)
                              : -1;
            if (prr >= 0) {
                if (pd)
                    pd->preferred_read_replica = prr;
                *any_error = 1; /* answer at once: the client moves there */
                continue;
            }
            if (fp->fetch_offset >= upto || (int64_t)total >= limit)
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
                continue; /* no room for the read: no data for it this time */
            if (core->storage->read(p->log, fp->fetch_offset, (size_t)want, rd, why, sizeof(why)) < 0) {
                od_logf(OD_LOG_WARN, "fetch %.*s-%d at %lld: %s", (int)ft->topic.len, ft->topic.p,
                        fp->partition, (long long)fp->fetch_offset, why);
                if (pd)
                    pd->error_code = OD_ERR_KAFKA_STORAGE_ERROR;
                *any_error = 1;
                continue;
            }
            if (upto < leo)
                od_repl_cut_read(rd, upto);
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

static void unlink_nodes(fetch_wait_t *fw)
{
    for (size_t i = 0; i < fw->nnodes; i++) {
        od_fetch_waiter_t *n = &fw->nodes[i];
        if (!n->p)
            continue;
        if (n->prev)
            n->prev->next = n->next;
        else
            n->p->waiters = n->next;
        if (n->next)
            n->next->prev = n->prev;
        n->p = NULL;
        n->prev = n->next = NULL;
    }
}

static void dequeue(fetch_wait_t *fw)
{
    if (!fw->queued)
        return;
    od_fetch_waits_t *w = fw->core->fetch_waits;
    if (fw->qprev)
        fw->qprev->qnext = fw->qnext;
    else
        w->queue_head = fw->qnext;
    if (fw->qnext)
        fw->qnext->qprev = fw->qprev;
    else
        w->queue_tail = fw->qprev;
    fw->qprev = fw->qnext = NULL;
    fw->queued = 0;
}

static void unlink_wait(fetch_wait_t *fw)
{
    unlink_nodes(fw);
    dequeue(fw);
    od_fetch_waits_t *w = fw->core->fetch_waits;
    if (fw->prev)
        fw->prev->next = fw->next;
    else if (w->waiting == fw)
        w->waiting = fw->next;
    if (fw->next)
        fw->next->prev = fw->prev;
    fw->prev = fw->next = NULL;
}

/* Take fw off every list and its timer; free it unless od_fetch_wake
 * still looks at it (then it frees it). */
static void finish_wait(od_core_t *core, fetch_wait_t *fw)
{
    unlink_wait(fw);
    if (fw->timer > 0)
        od_loop_cancel(core->loop, fw->timer);
    fw->timer = 0;
    fw->r->cancel = NULL;
    fw->r->wait = NULL;
    free(fw->nodes);
    fw->nodes = NULL;
    fw->nnodes = 0;
    if (fw->in_wake)
        fw->finished = 1;
    else
        free(fw);
}

static void fetch_fail(od_req_t *r, const char *why)
{
    od_logf(OD_LOG_WARN, "client %s (%.*s) correlation %d: %s; closing",
            r->conn ? r->conn->peer : "?", r->hdr.client_id.len > 0 ? (int)r->hdr.client_id.len : 0,
            r->hdr.client_id.p, r->hdr.correlation_id, why);
    if (r->conn)
        od_conn_close(r->conn, why); /* orphans r: it is ours to free */
    od_req_free(r);
}

static void answer(od_core_t *core, od_req_t *r, od_FetchRequest_t *req)
{
    int any_error = 0;
    if (fetch_eval(core, r, req, 1, &any_error) == FETCH_FAILED) {
        fetch_fail(r, "no memory for the Fetch response (request arena limit)");
        return;
    }
    od_req_done(r);
}

static void answer_now(od_core_t *core, fetch_wait_t *fw)
{
    od_req_t *r = fw->r;
    od_FetchRequest_t *req = fw->req;
    finish_wait(core, fw);
    if (!r->conn) { /* the client went away while we waited */
        od_req_free(r);
        return;
    }
    answer(core, r, req);
}

/* The connection closed while the fetch waited: free it now rather than
 * holding its memory until max_wait_ms. */
static void cancel_wait(od_req_t *r)
{
    fetch_wait_t *fw = r->wait;
    od_logf(OD_LOG_DEBUG, "fetch correlation %d: connection closed while it waited; dropped",
            r->hdr.correlation_id);
    finish_wait(fw->core, fw);
    od_req_free(r);
}

static void on_timeout(void *arg)
{
    fetch_wait_t *fw = arg;
    fw->timer = 0;
    answer_now(fw->core, fw);
}

static void drain_queue(void *arg)
{
    od_core_t *core = arg;
    od_fetch_waits_t *w = core->fetch_waits;
    w->queue_timer = 0;
    if (w->queue_head)
        answer_now(core, w->queue_head);
    if (w->queue_head && !w->queue_timer)
        w->queue_timer = od_loop_timer(core->loop, 0, drain_queue, core);
}

/* Answer fw soon: it stops listening to its partitions now. If no timer
 * can be had, answer at once. */
static void enqueue(od_core_t *core, fetch_wait_t *fw)
{
    if (fw->queued)
        return;
    od_fetch_waits_t *w = core->fetch_waits;
    unlink_nodes(fw);
    if (!w->queue_timer) {
        w->queue_timer = od_loop_timer(core->loop, 0, drain_queue, core);
        if (w->queue_timer < 0) {
            w->queue_timer = 0;
            answer_now(core, fw);
            return;
        }
    }
    fw->queued = 1;
    fw->qnext = NULL;
    fw->qprev = w->queue_tail;
    if (w->queue_tail)
        w->queue_tail->qnext = fw;
    else
        w->queue_head = fw;
    w->queue_tail = fw;
}

static uint32_t name_hash(od_str_t t, int32_t part)
{
    uint32_t x = 2166136261u;
    for (int32_t i = 0; i < t.len; i++)
        x = (x ^ (uint8_t)t.p[i]) * 16777619u;
    return (x ^ (uint32_t)part) * 2654435761u;
}

/* A partition listed more than once (clients never do; Kafka keeps one
 * entry per partition) gets no records after its first entry, so a
 * request repeating one partition a million times costs no million log
 * reads. Entries keep their place in the response. */
/* Authorization happens once, before the first look at the logs: a
 * partition of a topic the client may not read (a follower: without
 * CLUSTER_ACTION, every partition) keeps that in its max bytes, which a
 * waiting fetch re-reads on every wake. A negative max bytes from the
 * client reads nothing, as 0 does. */
static void mark_denied(od_req_t *r, od_FetchRequest_t *req)
{
    int follower_denied = req->replica_id >= 0 && !od_authz_cluster(r, OD_ACL_OP_CLUSTER_ACTION);
    for (int32_t i = 0; i < req->topics_count; i++) {
        od_FetchRequest_FetchTopic_t *ft = &req->topics[i];
        int denied = follower_denied ||
                     (req->replica_id < 0 &&
                      !od_authz_topic(r, OD_ACL_OP_READ, ft->topic.p, OD_STR_LEN(ft->topic)));
        for (int32_t j = 0; j < ft->partitions_count; j++) {
            int32_t *mb = &ft->partitions[j].partition_max_bytes;
            *mb = denied ? FETCH_DENIED : *mb < 0 ? 0 : *mb;
        }
    }
}

static void mark_duplicates(od_FetchRequest_t *req)
{
    size_t n = 0;
    for (int32_t i = 0; i < req->topics_count; i++)
        n += req->topics[i].partitions_count > 0 ? (size_t)req->topics[i].partitions_count : 0;
    if (n < 2)
        return;
    size_t cap = 4;
    while (cap < 2 * n)
        cap *= 2;
    struct slot {
        int32_t t, p; /* topic index + 1 (0: empty), partition entry index */
    } *tab = calloc(cap, sizeof(*tab));
    if (!tab)
        return; /* only a saving: answer them all */
    for (int32_t i = 0; i < req->topics_count; i++) {
        od_FetchRequest_FetchTopic_t *ft = &req->topics[i];
        for (int32_t j = 0; j < ft->partitions_count; j++) {
            int32_t part = ft->partitions[j].partition;
            size_t h = name_hash(ft->topic, part) & (cap - 1);
            for (;; h = (h + 1) & (cap - 1)) {
                if (tab[h].t == 0) {
                    tab[h].t = i + 1;
                    tab[h].p = j;
                    break;
                }
                od_FetchRequest_FetchTopic_t *o = &req->topics[tab[h].t - 1];
                if (o->partitions[tab[h].p].partition == part && o->topic.len == ft->topic.len &&
                    (ft->topic.len <= 0 || memcmp(o->topic.p, ft->topic.p, (size_t)ft->topic.len) == 0)) {
                    ft->partitions[j].partition_max_bytes = 0;
                    break;
                }
            }
        }
    }
    free(tab);
}

/* What a waiting fetch must keep beyond the frame: topic names (the
 * response repeats them). Fields only read at arrival are dropped. */
static int detach_from_frame(od_req_t *r, od_FetchRequest_t *req)
{
    for (int32_t i = 0; i < req->topics_count; i++) {
        od_str_t *t = &req->topics[i].topic;
        if (t->len <= 0)
            continue;
        char *copy = od_arena_strndup(&r->arena, t->p, (size_t)t->len);
        if (!copy)
            return -1;
        t->p = copy;
    }
    req->cluster_id.p = NULL;
    req->cluster_id.len = -1;
    req->rack_id.p = NULL;
    req->rack_id.len = -1;
    req->forgotten_topics_data = NULL;
    req->forgotten_topics_data_count = 0;
    od_slice_init(&r->body, NULL, 0);
    return 0;
}

/* A follower's fetch tells the leader how far its log goes (once, when
 * the request arrives, not at every re-evaluation while it waits). */
static void note_follower(od_core_t *core, od_FetchRequest_t *req)
{
    for (int32_t i = 0; i < req->topics_count; i++)
        for (int32_t j = 0; j < req->topics[i].partitions_count; j++) {
            od_FetchRequest_FetchPartition_t *fp = &req->topics[i].partitions[j];
            if (fp->partition_max_bytes == FETCH_DENIED)
                continue; /* no CLUSTER_ACTION: not a follower's fetch */
            int16_t err;
            od_partition_t *p = lookup(core, req->topics[i].topic, fp->partition, &err);
            if (p && od_partition_check_epoch(p, fp->current_leader_epoch) == OD_ERR_NONE)
                (void)od_repl_follower_fetch(core, p, req->replica_id, fp->fetch_offset);
        }
}

void od_h_fetch(od_req_t *r, void *body)
{
    od_core_t *core = r->conn->core;
    od_fetch_waits_t *w = core->fetch_waits;
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
    mark_duplicates(req);
    mark_denied(r, req);
    if (req->replica_id >= 0)
        note_follower(core, req);
    if (req->max_wait_ms <= 0 || req->min_bytes <= 0 || core->stopping || !w ||
        w->wait_max_ms <= 0) {
        answer(core, r, req); /* will not wait: no need to probe first */
        return;
    }
    int any_error = 0;
    size_t avail = fetch_eval(core, r, req, 0, &any_error);
    if (any_error || req->max_wait_ms <= 0 || (int64_t)avail >= (int64_t)req->min_bytes ||
        core->stopping || req->topics_count <= 0) {
        answer(core, r, req);
        return;
    }
    /* Wait for data on any of the partitions, or until max_wait_ms. */
    size_t n = 0;
    for (int32_t i = 0; i < req->topics_count; i++)
        n += req->topics[i].partitions_count > 0 ? (size_t)req->topics[i].partitions_count : 0;
    fetch_wait_t *fw = calloc(1, sizeof(*fw));
    if (fw)
        fw->nodes = calloc(n ? n : 1, sizeof(*fw->nodes));
    if (!fw || !fw->nodes || detach_from_frame(r, req) < 0) {
        if (fw)
            free(fw->nodes);
        free(fw);
        answer(core, r, req); /* no room to wait: answer with what is there */
        return;
    }
    int64_t wait_ms = req->max_wait_ms < w->wait_max_ms ? req->max_wait_ms : w->wait_max_ms;
    fw->timer = od_loop_timer(core->loop, wait_ms, on_timeout, fw);
    if (fw->timer < 0) {
        free(fw->nodes);
        free(fw);
        answer(core, r, req);
        return;
    }
    fw->core = core;
    fw->r = r;
    fw->req = req;
    for (int32_t i = 0; i < req->topics_count; i++) {
        od_FetchRequest_FetchTopic_t *ft = &req->topics[i];
        for (int32_t j = 0; j < ft->partitions_count; j++) {
            int16_t err;
            od_partition_t *p = lookup_read(core, req, r->hdr.api_version, ft->topic,
                                            ft->partitions[j].partition, &err);
            if (!p)
                continue;
            od_fetch_waiter_t *node = &fw->nodes[fw->nnodes++];
            node->fw = fw;
            node->p = p;
            node->prev = NULL;
            node->next = p->waiters;
            if (p->waiters)
                p->waiters->prev = node;
            p->waiters = node;
        }
    }
    fw->next = w->waiting;
    if (w->waiting)
        w->waiting->prev = fw;
    w->waiting = fw;
    r->wait = fw;
    r->cancel = cancel_wait;
}

void od_fetch_wake(od_core_t *core, od_partition_t *p)
{
    if (!p->waiters)
        return;
    /* Collect the distinct waiting fetches first (a stamp per fetch makes
     * that linear): answering one unlinks its nodes from this list, and
     * its connection closing may cancel others. */
    uint64_t stamp = ++core->fetch_waits->wake_stamp;
    size_t n = 0, cap = 0;
    fetch_wait_t **fws = NULL;
    for (od_fetch_waiter_t *q = p->waiters; q; q = q->next) {
        if (q->fw->wake_stamp == stamp)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            fetch_wait_t **nf = realloc(fws, ncap * sizeof(*nf));
            if (!nf)
                break; /* the rest are answered by their timers */
            fws = nf;
            cap = ncap;
        }
        q->fw->wake_stamp = stamp;
        q->fw->in_wake = 1;
        fws[n++] = q->fw;
    }
    for (size_t i = 0; i < n; i++) {
        fetch_wait_t *fw = fws[i];
        if (fw->finished)
            continue;
        int any_error = 0;
        if (fw->r->conn == NULL ||
            (int64_t)fetch_eval(core, fw->r, fw->req, 0, &any_error) >= (int64_t)fw->req->min_bytes ||
            any_error)
            enqueue(core, fw);
    }
    for (size_t i = 0; i < n; i++) {
        if (fws[i]->finished)
            free(fws[i]);
        else
            fws[i]->in_wake = 0;
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
        od_fetch_waits_t *w = core->fetch_waits;
        fw->next = w->waiting;
        if (w->waiting)
            w->waiting->prev = fw;
        w->waiting = fw;
        fw->timer = od_loop_timer(core->loop, 0, on_timeout, fw);
    }
}

void od_fetch_answer_all(od_core_t *core)
{
    od_fetch_waits_t *w = core->fetch_waits;
    if (!w)
        return;
    while (w->waiting)
        answer_now(core, w->waiting);
    if (w->queue_timer)
        od_loop_cancel(core->loop, w->queue_timer);
    w->queue_timer = 0;
}
