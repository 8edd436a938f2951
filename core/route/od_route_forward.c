/* od_route_forward.c - copies and dead letters for partitions another
 * broker leads, sent to that leader as a producer would (doc/routing.md,
 * "In a cluster").
 *
 * Each target partition has a FIFO of batches. New copies for it join the
 * open batch at its tail while that fits (the target's max.message.bytes,
 * at most FWD_BATCH_MAX), so a busy route sends few, large batches. One
 * Produce request (v8, acks=all) per target broker is in flight at a time,
 * carrying the head batch of every partition that broker leads. A batch
 * leaves the queue when the leader acknowledges it, or when the leader
 * refuses it for good (logged, counted as lost). Retriable answers,
 * timeouts and lost connections send it again, after a backoff that
 * doubles from FWD_BACKOFF_MS to FWD_BACKOFF_MAX_MS, to the leader the
 * image names then (this broker included: then it is appended here).
 *
 * At least once across crashes: every batch holds the route checkpoint of
 * the partitions its copies come from at the lowest source offset among
 * them (od_route_forward_low), so a restart replays what was not yet
 * acknowledged. Memory: the bytes of all queued batches; at
 * route.forward.buffer.bytes produces to routed topics are refused before
 * their append (od_route_forward_full), never copies of an accepted one.
 *
 * The receiving broker recognises a forwarded produce (its copies are not
 * routed again) by od_route_forwarded_request. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_authz.h"
#include "od_conn.h"
#include "od_core.h"
#include "od_net.h"
#include "od_partition.h"
#include "od_peer.h"
#include "od_proto_gen.h"
#include "od_repl.h"
#include "od_route_int.h"

#define FWD_VERSION        8 /* error messages, not flexible */
#define FWD_BATCH_MAX      ((size_t)1 << 20)
#define FWD_REQUEST_MAX    ((size_t)8 << 20)
#define FWD_TIMEOUT_MS     30000 /* Kafka's request.timeout.ms */
#define FWD_BACKOFF_MS     100   /* Kafka's retry.backoff.ms */
#define FWD_BACKOFF_MAX_MS 1000  /* Kafka's retry.backoff.max.ms */
#define FWD_CLIENT_PREFIX  "odradek-route-"

/* Where copies come from: a routed partition and its unacknowledged
 * offsets (holds), each shared by the batches of one routed produce. */
typedef struct fwd_hold {
    struct fwd_hold *prev, *next;
    int64_t offset;
    uint32_t refs;
} fwd_hold_t;

typedef struct fwd_source {
    struct fwd_source *next;
    char topic[256];
    int32_t partition;
    fwd_hold_t *holds;
} fwd_source_t;

typedef struct fwd_origin {
    fwd_source_t *src;
    fwd_hold_t *hold; /* NULL: dead letters only (not replayed, so nothing to hold) */
    uint64_t ncopies, ndlq;
} fwd_origin_t;

typedef struct fwd_item {
    struct fwd_item *next;
    od_batch_builder_t b; /* records while open */
    uint8_t *batch;       /* once sealed (sent once at least) */
    size_t len;
    size_t bytes; /* counted in the buffer */
    fwd_origin_t *origins;
    size_t norigins, ocap;
} fwd_item_t;

typedef struct fwd_queue {
    struct fwd_queue *next;
    char topic[256];
    int32_t partition;
    fwd_item_t *head, *tail;
    int inflight;          /* head is in a request */
    int attempts;          /* of the head, for the backoff */
    int64_t not_before_ms; /* monotonic */
} fwd_queue_t;

typedef struct fwd_broker {
    struct fwd_broker *next;
    int32_t id;
    char host[256];
    int port;
    od_peer_t *peer;
    fwd_queue_t **sent; /* the partitions of the request in flight */
    size_t nsent, cap;
    int busy;
} fwd_broker_t;

typedef struct fwd_state {
    od_core_t *core;
    fwd_queue_t *queues;
    fwd_source_t *sources;
    fwd_broker_t *brokers;
    size_t bytes;
    uint64_t records;
    int64_t kick_timer;
} fwd_state_t;

static int64_t buffer_cap = 32 << 20;
static fwd_state_t fwd;

static od_conf_def_t fwd_defs[] = {
    {"route.forward.buffer.bytes", OD_CONF_INT, "33554432", 1024, INT64_MAX, NULL,
     "bytes of route copies waiting for another broker's acknowledgement; at this many, "
     "produces to topics with routes are refused with NOT_ENOUGH_REPLICAS (retriable)",
     &buffer_cap, 0},
};

int od_route_forward_register_config(od_core_t *core, char *err, size_t errsz)
{
    return od_config_register(&core->config, fwd_defs, sizeof(fwd_defs) / sizeof(fwd_defs[0]),
                              "core", err, errsz);
}

int od_route_forward_full(void) { return fwd.bytes >= (size_t)buffer_cap; }

void od_route_forward_stats(uint64_t *records, uint64_t *bytes)
{
    *records = fwd.records;
    *bytes = fwd.bytes;
}

/* ---- the receiving side ---- */

int od_route_forwarded_request(od_req_t *r)
{
    od_conn_t *c = r->conn;
    size_t pl = strlen(FWD_CLIENT_PREFIX);
    if (!c || !c->listener || r->hdr.client_id.len < (int32_t)pl ||
        memcmp(r->hdr.client_id.p, FWD_CLIENT_PREFIX, pl) != 0)
        return 0;
    /* Only on the listener the other brokers send to: the one this
     * broker's registration names for them, as they pick it. */
    od_core_t *core = r->core;
    const od_broker_reg_t *self = od_image_broker(&core->image, od_core_node_id(core));
    const od_endpoint_t *ep = self ? od_repl_broker_endpoint(core, self) : NULL;
    if (!ep || strcmp(ep->name, c->listener->spec.name) != 0)
        return 0;
    /* With an authorizer, only a broker's principal (CLUSTER_ACTION on the
     * cluster, as for replica fetches); without one, as in Kafka, anyone
     * on the inter-broker listener is trusted. A forwarder denied it is
     * refused rather than routed: its copies routed again could loop
     * between two brokers. */
    return od_authz_cluster(r, OD_ACL_OP_CLUSTER_ACTION) ? 1 : -1;
}

/* ---- holds: the route checkpoint's floor ---- */

static fwd_source_t *source_of(const char *topic, int32_t partition)
{
    for (fwd_source_t *s = fwd.sources; s; s = s->next)
        if (s->partition == partition && strcmp(s->topic, topic) == 0)
            return s;
    fwd_source_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    snprintf(s->topic, sizeof(s->topic), "%s", topic);
    s->partition = partition;
    s->next = fwd.sources;
    fwd.sources = s;
    return s;
}

static fwd_hold_t *hold_at(fwd_source_t *s, int64_t offset)
{
    if (s->holds && s->holds->offset == offset) { /* the same produce's other batches */
        s->holds->refs++;
        return s->holds;
    }
    fwd_hold_t *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->offset = offset;
    h->refs = 1;
    h->next = s->holds;
    if (s->holds)
        s->holds->prev = h;
    s->holds = h;
    return h;
}

static void hold_release(fwd_source_t *s, fwd_hold_t *h)
{
    if (!h || --h->refs > 0)
        return;
    if (h->prev)
        h->prev->next = h->next;
    else
        s->holds = h->next;
    if (h->next)
        h->next->prev = h->prev;
    free(h);
}

int64_t od_route_forward_low(const char *topic, int32_t partition)
{
    int64_t low = -1;
    for (fwd_source_t *s = fwd.sources; s; s = s->next)
        if (s->partition == partition && strcmp(s->topic, topic) == 0)
            for (fwd_hold_t *h = s->holds; h; h = h->next)
                if (low < 0 || h->offset < low)
                    low = h->offset;
    return low;
}

/* ---- items ---- */

static void item_free(fwd_item_t *it, int acked, const char *why)
{
    uint64_t n = 0;
    for (size_t i = 0; i < it->norigins; i++) {
        fwd_origin_t *o = &it->origins[i];
        const char *src = o->src->topic;
        if (acked) {
            od_route_metric("route", src, OD_RMETRIC_COPIES, o->ncopies);
            od_route_metric("route", src, OD_RMETRIC_DLQ, o->ndlq);
            od_route_metric("route", src, OD_RMETRIC_FORWARDED, o->ncopies + o->ndlq);
        } else if (why) {
            od_route_metric("route", src, OD_RMETRIC_LOST, o->ncopies + o->ndlq);
        }
        n += o->ncopies + o->ndlq;
        hold_release(o->src, o->hold);
    }
    fwd.bytes -= it->bytes;
    fwd.records -= n;
    od_batch_builder_free(&it->b);
    free(it->batch);
    free(it->origins);
    free(it);
}

static int item_origin(fwd_item_t *it, fwd_source_t *src, fwd_hold_t *hold, uint64_t nc,
                       uint64_t nd)
{
    if (it->norigins > 0) {
        fwd_origin_t *last = &it->origins[it->norigins - 1];
        if (last->src == src && last->hold == hold) {
            last->ncopies += nc;
            last->ndlq += nd;
            hold_release(src, hold); /* the origin holds it once already */
            return 0;
        }
    }
    if (it->norigins == it->ocap) {
        size_t cap = it->ocap ? 2 * it->ocap : 4;
        fwd_origin_t *o = realloc(it->origins, cap * sizeof(*o));
        if (!o)
            return -1;
        it->origins = o;
        it->ocap = cap;
    }
    it->origins[it->norigins++] = (fwd_origin_t){src, hold, nc, nd};
    return 0;
}

/* Add the records of an uncompressed batch (the outbox's) to b. */
static int add_records(od_batch_builder_t *b, const uint8_t *batch, size_t len)
{
    od_batch_hdr_t h;
    if (od_batch_parse_header(batch, len, &h) < 0 || len < OD_BATCH_HEADER_SIZE)
        return -1;
    const uint8_t *p = batch + OD_BATCH_HEADER_SIZE;
    size_t left = len - OD_BATCH_HEADER_SIZE;
    od_record_header_t hdrs[64], *hv = hdrs;
    int rc = 0;
    for (int32_t i = 0; rc == 0 && i < h.record_count; i++) {
        od_record_t r;
        size_t used;
        if (od_record_iter(p, left, -1, &r, &used) < 0)
            return -1;
        if (r.header_count > 64 && hv == hdrs)
            hv = NULL;
        if (r.header_count > 64) {
            od_record_header_t *n = realloc(hv, (size_t)r.header_count * sizeof(*n));
            if (!n) {
                rc = -1;
                break;
            }
            hv = n;
        }
        size_t pos = 0;
        for (int32_t k = 0; rc == 0 && k < r.header_count; k++)
            rc = od_record_header_next(&r, &pos, &hv[k]);
        if (rc == 0)
            rc = od_batch_builder_add_hdrs(b, h.base_timestamp + r.timestamp_delta, r.key,
                                           r.key_len, r.value, r.value_len, hv, r.header_count);
        p += used;
        left -= used;
    }
    if (hv != hdrs)
        free(hv);
    return rc;
}

static fwd_queue_t *queue_of(const char *topic, int32_t partition)
{
    for (fwd_queue_t *q = fwd.queues; q; q = q->next)
        if (q->partition == partition && strcmp(q->topic, topic) == 0)
            return q;
    fwd_queue_t *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    snprintf(q->topic, sizeof(q->topic), "%s", topic);
    q->partition = partition;
    q->next = fwd.queues;
    fwd.queues = q;
    return q;
}

static void kick(void);

void od_route_forward_add(od_topic_t *t, int32_t partition, uint8_t *batch,
                          size_t len, uint64_t ncopies, uint64_t ndlq, const char *source,
                          int32_t source_partition, int64_t hold_offset)
{
    fwd_source_t *src = source_of(source, source_partition);
    fwd_queue_t *q = queue_of(t->name, partition);
    fwd_hold_t *hold = src && ncopies > 0 && hold_offset >= 0 ? hold_at(src, hold_offset) : NULL;
    if (!src || !q || (ncopies > 0 && hold_offset >= 0 && !hold)) {
        od_logf(OD_LOG_ERROR, "route: out of memory queueing copies for %s-%d; copy dropped",
                t->name, (int)partition);
        if (src)
            od_route_metric("route", source, OD_RMETRIC_LOST, ncopies + ndlq);
        if (src && hold)
            hold_release(src, hold);
        free(batch);
        return;
    }
    size_t limit = (size_t)t->cfg.max_message_bytes;
    if (limit > FWD_BATCH_MAX)
        limit = FWD_BATCH_MAX;
    fwd_item_t *tail = q->tail;
    int merged = 0;
    if (tail && !tail->batch && tail->b.len + len <= limit) {
        size_t old_len = tail->b.len;
        int32_t old_count = tail->b.count;
        int64_t old_max = tail->b.max_timestamp;
        if (add_records(&tail->b, batch, len) == 0 && !tail->b.err &&
            item_origin(tail, src, hold, ncopies, ndlq) == 0) {
            merged = 1;
        } else { /* take the half-added records out again; a batch of its own */
            tail->b.len = old_len;
            tail->b.count = old_count;
            tail->b.max_timestamp = old_max;
            tail->b.err = 0;
        }
    }
    if (merged) {
        tail->bytes += len;
        free(batch);
    } else {
        fwd_item_t *it = calloc(1, sizeof(*it));
        if (!it || item_origin(it, src, hold, ncopies, ndlq) < 0) {
            od_logf(OD_LOG_ERROR, "route: out of memory queueing copies for %s-%d; copy dropped",
                    t->name, (int)partition);
            od_route_metric("route", source, OD_RMETRIC_LOST, ncopies + ndlq);
            hold_release(src, hold);
            free(it);
            free(batch);
            return;
        }
        od_batch_builder_init(&it->b, 0);
        /* The outbox's batch as it is; later copies join it in a builder. */
        if (add_records(&it->b, batch, len) < 0 || it->b.err) {
            od_batch_builder_free(&it->b);
            it->batch = batch; /* sealed: sent as built */
            it->len = len;
        } else {
            free(batch);
        }
        it->bytes = len;
        if (q->tail)
            q->tail->next = it;
        else
            q->head = it;
        q->tail = it;
    }
    fwd.bytes += len;
    fwd.records += ncopies + ndlq;
    kick();
}

/* The head's bytes, sealing it first. NULL: out of memory. */
static fwd_item_t *seal_head(fwd_queue_t *q)
{
    fwd_item_t *it = q->head;
    if (!it->batch) {
        it->batch = od_batch_builder_finish(&it->b, &it->len);
        od_batch_builder_free(&it->b);
        od_batch_builder_init(&it->b, 0);
    }
    return it->batch ? it : NULL;
}

static void pop_head(fwd_queue_t *q, int acked, const char *why)
{
    fwd_item_t *it = q->head;
    q->head = it->next;
    if (!q->head)
        q->tail = NULL;
    q->attempts = 0;
    q->not_before_ms = 0;
    item_free(it, acked, why);
}

static void lose_head(fwd_queue_t *q, const char *why)
{
    fwd_item_t *it = q->head;
    uint64_t n = 0;
    for (size_t i = 0; i < it->norigins; i++)
        n += it->origins[i].ncopies + it->origins[i].ndlq;
    od_logf(OD_LOG_WARN, "route: %" PRIu64 " copies for %s-%d lost: %s", n, q->topic,
            (int)q->partition, why);
    pop_head(q, 0, why);
}

static void back_off(fwd_queue_t *q, const char *why)
{
    int64_t ms = FWD_BACKOFF_MS;
    for (int i = 0; i < q->attempts && ms < FWD_BACKOFF_MAX_MS; i++)
        ms *= 2;
    if (ms > FWD_BACKOFF_MAX_MS)
        ms = FWD_BACKOFF_MAX_MS;
    if (q->attempts == 0 || q->attempts % 20 == 0)
        od_logf(OD_LOG_INFO, "route: copies for %s-%d not acknowledged yet (%s); retrying",
                q->topic, (int)q->partition, why);
    q->attempts++;
    q->not_before_ms = od_mono_ms() + ms;
    od_route_metric("route", q->head->origins[0].src->topic, OD_RMETRIC_RETRIES, 1);
}

/* ---- sending ---- */

static fwd_broker_t *broker_for(int32_t id)
{
    od_core_t *core = fwd.core;
    const od_broker_reg_t *b = od_image_broker(&core->image, id);
    const od_endpoint_t *ep = b ? od_repl_broker_endpoint(core, b) : NULL;
    if (!ep)
        return NULL;
    fwd_broker_t *fb = NULL;
    for (fwd_broker_t *x = fwd.brokers; x; x = x->next)
        if (x->id == id)
            fb = x;
    if (fb && fb->peer && (strcmp(fb->host, ep->host) != 0 || fb->port != ep->port)) {
        if (fb->busy)
            return NULL; /* its request ends (ECLOSED on free) first */
        od_peer_free(fb->peer); /* re-registered elsewhere */
        fb->peer = NULL;
    }
    if (!fb) {
        fb = calloc(1, sizeof(*fb));
        if (!fb)
            return NULL;
        fb->id = id;
        fb->next = fwd.brokers;
        fwd.brokers = fb;
    }
    if (!fb->peer) {
        snprintf(fb->host, sizeof(fb->host), "%s", ep->host);
        fb->port = ep->port;
        char cid[64];
        snprintf(cid, sizeof(cid), FWD_CLIENT_PREFIX "%d", (int)od_core_node_id(core));
        od_peer_opts_t o = {0};
        o.client_id = cid;
        o.max_in_flight = 1;
        o.max_queued_bytes = FWD_REQUEST_MAX + (1u << 20);
        fb->peer = od_peer_new(core->loop, fb->host, fb->port, &o);
    }
    return fb->peer ? fb : NULL;
}

static int retriable(int16_t ec)
{
    switch (ec) {
    case OD_ERR_NOT_LEADER_OR_FOLLOWER:
    case OD_ERR_LEADER_NOT_AVAILABLE:
    case OD_ERR_REQUEST_TIMED_OUT:
    case OD_ERR_NOT_ENOUGH_REPLICAS:
    case OD_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case OD_ERR_KAFKA_STORAGE_ERROR:
    case OD_ERR_NETWORK_EXCEPTION:
    case OD_ERR_FENCED_LEADER_EPOCH:
    case OD_ERR_UNKNOWN_LEADER_EPOCH:
        return 1;
    default:
        return 0;
    }
}

static void pump(void);

static void on_response(void *arg, od_peer_status_t st, const od_peer_response_t *resp)
{
    fwd_broker_t *fb = arg;
    fb->busy = 0;
    const od_ProduceResponse_t *pr = st == OD_PEER_OK ? resp->decoded : NULL;
    for (size_t i = 0; i < fb->nsent; i++) {
        fwd_queue_t *q = fb->sent[i];
        q->inflight = 0;
        if (st == OD_PEER_ECLOSED || !q->head)
            continue; /* stopping (or re-registered): replayed, or sent again */
        int16_t ec = -1;
        const char *msg = NULL;
        char m[256];
        for (int32_t a = 0; pr && ec < 0 && a < pr->responses_count; a++) {
            const od_ProduceResponse_TopicProduceResponse_t *tr = &pr->responses[a];
            if ((size_t)OD_STR_LEN(tr->name) != strlen(q->topic) ||
                memcmp(tr->name.p, q->topic, strlen(q->topic)) != 0)
                continue;
            for (int32_t b = 0; b < tr->partition_responses_count; b++)
                if (tr->partition_responses[b].index == q->partition) {
                    ec = tr->partition_responses[b].error_code;
                    od_str_t em = tr->partition_responses[b].error_message;
                    if (em.len > 0) {
                        snprintf(m, sizeof(m), "%.*s", (int)em.len, em.p);
                        msg = m;
                    }
                }
        }
        od_topic_t *t = od_image_topic(&fwd.core->image, q->topic, strlen(q->topic));
        if (ec == OD_ERR_NONE) {
            pop_head(q, 1, NULL);
        } else if (st != OD_PEER_OK || ec < 0) {
            back_off(q, st != OD_PEER_OK ? od_peer_status_name(st) : "no answer for it");
        } else if (retriable(ec) || (ec == OD_ERR_UNKNOWN_TOPIC_OR_PARTITION && t)) {
            /* UNKNOWN_TOPIC_OR_PARTITION while our image has the topic:
             * the leader's image is behind ours. */
            back_off(q, od_err_name(ec));
        } else {
            char why[400];
            snprintf(why, sizeof(why), "broker %d refused them with %s%s%s", (int)fb->id,
                     od_err_name(ec), msg ? ": " : "", msg ? msg : "");
            lose_head(q, why);
        }
    }
    fb->nsent = 0;
    if (st != OD_PEER_ECLOSED)
        kick();
}

static int sent_add(fwd_broker_t *fb, fwd_queue_t *q)
{
    if (fb->nsent == fb->cap) {
        size_t cap = fb->cap ? 2 * fb->cap : 16;
        fwd_queue_t **n = realloc(fb->sent, cap * sizeof(*n));
        if (!n)
            return -1;
        fb->sent = n;
        fb->cap = cap;
    }
    fb->sent[fb->nsent++] = q;
    return 0;
}

static void send_request(fwd_broker_t *fb)
{
    od_arena_t a;
    od_arena_init(&a, 0);
    od_ProduceRequest_TopicProduceData_t *td = od_arena_calloc(&a, fb->nsent, sizeof(*td));
    od_ProduceRequest_PartitionProduceData_t *pd = od_arena_calloc(&a, fb->nsent, sizeof(*pd));
    int rc = -1;
    if (td && pd) {
        /* One topic entry per partition: Produce allows a name twice. */
        for (size_t i = 0; i < fb->nsent; i++) {
            fwd_queue_t *q = fb->sent[i];
            od_ProduceRequest_PartitionProduceData_init(&pd[i]);
            pd[i].index = q->partition;
            pd[i].records.p = q->head->batch;
            pd[i].records.len = (int32_t)q->head->len;
            od_ProduceRequest_TopicProduceData_init(&td[i]);
            td[i].name = od_str_c(q->topic);
            td[i].partition_data = &pd[i];
            td[i].partition_data_count = 1;
        }
        od_ProduceRequest_t req;
        od_ProduceRequest_init(&req);
        req.acks = -1; /* a copy survives the target leader's failover */
        req.timeout_ms = FWD_TIMEOUT_MS;
        req.topic_data = td;
        req.topic_data_count = (int32_t)fb->nsent;
        od_wbuf_t w;
        od_wbuf_init(&w);
        od_ProduceRequest_encode(&w, FWD_VERSION, &req);
        rc = od_peer_send(fb->peer, OD_API_PRODUCE, FWD_VERSION, &w, FWD_TIMEOUT_MS + 5000,
                          OD_PEER_DECODE, on_response, fb);
        od_wbuf_free(&w);
    }
    od_arena_free(&a);
    if (rc == 0) {
        fb->busy = 1;
        return;
    }
    for (size_t i = 0; i < fb->nsent; i++) {
        fb->sent[i]->inflight = 0;
        back_off(fb->sent[i], "cannot queue the request");
    }
    fb->nsent = 0;
}

/* A queue whose partition is led here now: append its batches here. */
static void append_here(fwd_queue_t *q, od_topic_t *t, od_partition_t *p)
{
    while (q->head) {
        fwd_item_t *it = seal_head(q);
        char err[256];
        if (!it) {
            lose_head(q, "out of memory");
            continue;
        }
        od_batch_hdr_t h;
        od_batch_parse_header(it->batch, it->len, &h);
        if (od_route_append_here(fwd.core, t, p, it->batch, it->len, h.record_count, err,
                                 sizeof(err)) < 0)
            lose_head(q, err);
        else
            pop_head(q, 1, NULL);
    }
}

static void on_kick(void *arg)
{
    (void)arg;
    fwd.kick_timer = 0;
    pump();
}

static void kick(void)
{
    if (fwd.core && !fwd.kick_timer && !fwd.core->stopping)
        fwd.kick_timer = od_loop_timer(fwd.core->loop, 1, on_kick, NULL);
}

static void pump(void)
{
    od_core_t *core = fwd.core;
    if (!core || core->stopping)
        return;
    int64_t now = od_mono_ms(), wake = 0;
    int32_t self = od_core_node_id(core);
    for (fwd_queue_t *q = fwd.queues; q; q = q->next) {
        if (!q->head || q->inflight)
            continue;
        if (q->not_before_ms > now) {
            if (!wake || q->not_before_ms < wake)
                wake = q->not_before_ms;
            continue;
        }
        od_topic_t *t = od_image_topic(&core->image, q->topic, strlen(q->topic));
        if (!t || q->partition >= t->npartitions) {
            while (q->head)
                lose_head(q, "the topic or partition is gone");
            continue;
        }
        od_partition_t *p = t->partitions[q->partition];
        if (p->leader == self) {
            append_here(q, t, p);
            continue;
        }
        fwd_broker_t *fb = p->leader >= 0 ? broker_for(p->leader) : NULL;
        if (!fb) {
            back_off(q, p->leader < 0 ? "no leader" : "the leader has no endpoint");
            if (!wake || q->not_before_ms < wake)
                wake = q->not_before_ms;
            continue;
        }
        if (fb->busy)
            continue; /* its answer kicks again */
        size_t total = 0;
        for (size_t i = 0; i < fb->nsent; i++)
            total += fb->sent[i]->head->len;
        if (fb->nsent > 0 && total >= FWD_REQUEST_MAX)
            continue;
        if (!seal_head(q)) {
            lose_head(q, "out of memory");
            continue;
        }
        if (sent_add(fb, q) == 0)
            q->inflight = 1;
    }
    for (fwd_broker_t *fb = fwd.brokers; fb; fb = fb->next)
        if (!fb->busy && fb->nsent > 0)
            send_request(fb);
    if (wake && !fwd.kick_timer)
        fwd.kick_timer = od_loop_timer(core->loop, wake - now > 0 ? wake - now : 1, on_kick, NULL);
}

int od_route_forward_start(od_core_t *core)
{
    memset(&fwd, 0, sizeof(fwd));
    fwd.core = core;
    return 0;
}

void od_route_forward_tick(od_core_t *core)
{
    (void)core;
    pump(); /* leaders the image named since */
}

void od_route_forward_stop(od_core_t *core)
{
    if (!fwd.core)
        return;
    if (fwd.records > 0)
        od_logf(OD_LOG_INFO, "route: %" PRIu64 " copies for other brokers not acknowledged at "
                "stop: the route checkpoints hold them, the next start replays them",
                fwd.records);
    if (fwd.kick_timer)
        od_loop_cancel(core->loop, fwd.kick_timer);
    while (fwd.brokers) {
        fwd_broker_t *fb = fwd.brokers;
        fwd.brokers = fb->next;
        od_peer_free(fb->peer); /* the request in flight: ECLOSED */
        free(fb->sent);
        free(fb);
    }
    while (fwd.queues) {
        fwd_queue_t *q = fwd.queues;
        fwd.queues = q->next;
        while (q->head)
            pop_head(q, 0, NULL);
        free(q);
    }
    while (fwd.sources) {
        fwd_source_t *s = fwd.sources;
        fwd.sources = s->next;
        free(s);
    }
    memset(&fwd, 0, sizeof(fwd));
}
