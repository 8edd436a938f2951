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
#include "od_route_fwd_int.h"

#define FWD_VERSION        8 /* error messages, not flexible */
#define FWD_REQUEST_MAX    ((size_t)8 << 20)
#define FWD_TIMEOUT_MS     30000 /* Kafka's request.timeout.ms */
#define FWD_BACKOFF_MS     100   /* Kafka's retry.backoff.ms */
#define FWD_BACKOFF_MAX_MS 1000  /* Kafka's retry.backoff.max.ms */
#define FWD_CLIENT_PREFIX  "odradek-route-"

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

static void back_off(od_fwd_queue_t *q, const char *why)
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

static od_fwd_broker_t *broker_for(int32_t id)
{
    od_core_t *core = od_route_fwd.core;
    const od_broker_reg_t *b = od_image_broker(&core->image, id);
    const od_endpoint_t *ep = b ? od_repl_broker_endpoint(core, b) : NULL;
    if (!ep)
        return NULL;
    od_fwd_broker_t *fb = NULL;
    for (od_fwd_broker_t *x = od_route_fwd.brokers; x; x = x->next)
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
        fb->next = od_route_fwd.brokers;
        od_route_fwd.brokers = fb;
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
    od_fwd_broker_t *fb = arg;
    fb->busy = 0;
    const od_ProduceResponse_t *pr = st == OD_PEER_OK ? resp->decoded : NULL;
    for (size_t i = 0; i < fb->nsent; i++) {
        od_fwd_queue_t *q = fb->sent[i];
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
        od_topic_t *t = od_image_topic(&od_route_fwd.core->image, q->topic, strlen(q->topic));
        if (ec == OD_ERR_NONE) {
            od_route_fwd_pop_head(q, 1, NULL);
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
            od_route_fwd_lose_head(q, why);
        }
    }
    fb->nsent = 0;
    if (st != OD_PEER_ECLOSED)
        od_route_fwd_kick();
}

static int sent_add(od_fwd_broker_t *fb, od_fwd_queue_t *q)
{
    if (fb->nsent == fb->cap) {
        size_t cap = fb->cap ? 2 * fb->cap : 16;
        od_fwd_queue_t **n = realloc(fb->sent, cap * sizeof(*n));
        if (!n)
            return -1;
        fb->sent = n;
        fb->cap = cap;
    }
    fb->sent[fb->nsent++] = q;
    return 0;
}

static void send_request(od_fwd_broker_t *fb)
{
    od_arena_t a;
    od_arena_init(&a, 0);
    od_ProduceRequest_TopicProduceData_t *td = od_arena_calloc(&a, fb->nsent, sizeof(*td));
    od_ProduceRequest_PartitionProduceData_t *pd = od_arena_calloc(&a, fb->nsent, sizeof(*pd));
    int rc = -1;
    if (td && pd) {
        /* One topic entry per partition: Produce allows a name twice. */
        for (size_t i = 0; i < fb->nsent; i++) {
            od_fwd_queue_t *q = fb->sent[i];
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
static void append_here(od_fwd_queue_t *q, od_topic_t *t, od_partition_t *p)
{
    while (q->head) {
        od_fwd_item_t *it = od_route_fwd_seal_head(q);
        char err[256];
        if (!it) {
            od_route_fwd_lose_head(q, "out of memory");
            continue;
        }
        od_batch_hdr_t h;
        od_batch_parse_header(it->batch, it->len, &h);
        if (od_route_append_here(od_route_fwd.core, t, p, it->batch, it->len, h.record_count, err,
                                 sizeof(err)) < 0)
            od_route_fwd_lose_head(q, err);
        else
            od_route_fwd_pop_head(q, 1, NULL);
    }
}

static void on_kick(void *arg)
{
    (void)arg;
    od_route_fwd.kick_timer = 0;
    pump();
}

static void on_wake(void *arg)
{
    (void)arg;
    od_route_fwd.wake_timer = 0;
    pump();
}

void od_route_fwd_kick(void)
{
    if (od_route_fwd.core && !od_route_fwd.kick_timer && !od_route_fwd.core->stopping)
        od_route_fwd.kick_timer = od_loop_timer(od_route_fwd.core->loop, 1, on_kick, NULL);
    if (od_route_fwd.kick_timer < 0)
        od_route_fwd.kick_timer = 0; /* no timer: the next tick pumps */
}

static void pump(void)
{
    od_core_t *core = od_route_fwd.core;
    if (!core || core->stopping)
        return;
    int64_t now = od_mono_ms(), wake = 0;
    int32_t self = od_core_node_id(core);
    for (od_fwd_queue_t *q = od_route_fwd.queues; q; q = q->next) {
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
                od_route_fwd_lose_head(q, "the topic or partition is gone");
            continue;
        }
        od_partition_t *p = t->partitions[q->partition];
        if (p->leader == self) {
            append_here(q, t, p);
            continue;
        }
        od_fwd_broker_t *fb = p->leader >= 0 ? broker_for(p->leader) : NULL;
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
        if (!od_route_fwd_seal_head(q)) {
            od_route_fwd_lose_head(q, "out of memory");
            continue;
        }
        if (sent_add(fb, q) == 0)
            q->inflight = 1;
    }
    for (od_fwd_broker_t *fb = od_route_fwd.brokers; fb; fb = fb->next)
        if (!fb->busy && fb->nsent > 0)
            send_request(fb);
    if (wake && od_route_fwd.wake_timer && wake < od_route_fwd.wake_at) {
        od_loop_cancel(core->loop, od_route_fwd.wake_timer);
        od_route_fwd.wake_timer = 0;
    }
    if (wake && !od_route_fwd.wake_timer) {
        od_route_fwd.wake_at = wake;
        int64_t after = wake - now > 0 ? wake - now : 1;
        od_route_fwd.wake_timer = od_loop_timer(core->loop, after, on_wake, NULL);
        if (od_route_fwd.wake_timer < 0)
            od_route_fwd.wake_timer = 0;
    }
}

int od_route_forward_start(od_core_t *core)
{
    memset(&od_route_fwd, 0, sizeof(od_route_fwd));
    od_route_fwd.core = core;
    return 0;
}

void od_route_forward_tick(od_core_t *core)
{
    (void)core;
    pump(); /* leaders the image named since */
}

void od_route_forward_stop(od_core_t *core)
{
    if (!od_route_fwd.core)
        return;
    if (od_route_fwd.records > 0)
        od_logf(OD_LOG_INFO, "route: %" PRIu64 " copies for other brokers not acknowledged at "
                "stop: the route checkpoints hold them, the next start replays them",
                od_route_fwd.records);
    if (od_route_fwd.kick_timer)
        od_loop_cancel(core->loop, od_route_fwd.kick_timer);
    if (od_route_fwd.wake_timer)
        od_loop_cancel(core->loop, od_route_fwd.wake_timer);
    while (od_route_fwd.brokers) {
        od_fwd_broker_t *fb = od_route_fwd.brokers;
        od_route_fwd.brokers = fb->next;
        od_peer_free(fb->peer); /* the request in flight: ECLOSED */
        free(fb->sent);
        free(fb);
    }
    od_route_fwd_free_queues();
    memset(&od_route_fwd, 0, sizeof(od_route_fwd));
}
