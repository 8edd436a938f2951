/* od_route_fwd_queue.c - the forwarder's waiting batches (doc/routing.md,
 * "In a cluster"): per target partition a FIFO whose open tail batch takes
 * new copies while it fits; the holds each batch keeps on the route
 * checkpoints of the partitions its copies come from; the bytes counted
 * against route.forward.buffer.bytes. Sending is od_route_forward.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_route_fwd_int.h"

#define FWD_BATCH_MAX ((size_t)1 << 20)

od_route_fwd_t od_route_fwd;

static int64_t buffer_cap = 32 << 20;

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

int od_route_forward_full(void) { return od_route_fwd.bytes >= (size_t)buffer_cap; }

void od_route_forward_stats(uint64_t *records, uint64_t *bytes)
{
    *records = od_route_fwd.records;
    *bytes = od_route_fwd.bytes;
}

/* ---- holds: the route checkpoint's floor ---- */

static od_fwd_source_t *source_of(const char *topic, int32_t partition)
{
    for (od_fwd_source_t *s = od_route_fwd.sources; s; s = s->next)
        if (s->partition == partition && strcmp(s->topic, topic) == 0)
            return s;
    od_fwd_source_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    snprintf(s->topic, sizeof(s->topic), "%s", topic);
    s->partition = partition;
    s->next = od_route_fwd.sources;
    od_route_fwd.sources = s;
    return s;
}

static od_fwd_hold_t *hold_at(od_fwd_source_t *s, int64_t offset)
{
    if (s->holds && s->holds->offset == offset) { /* the same produce's other batches */
        s->holds->refs++;
        return s->holds;
    }
    od_fwd_hold_t *h = calloc(1, sizeof(*h));
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

static void hold_release(od_fwd_source_t *s, od_fwd_hold_t *h)
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
    for (od_fwd_source_t *s = od_route_fwd.sources; s; s = s->next)
        if (s->partition == partition && strcmp(s->topic, topic) == 0)
            for (od_fwd_hold_t *h = s->holds; h; h = h->next)
                if (low < 0 || h->offset < low)
                    low = h->offset;
    return low;
}

/* ---- items ---- */

static void item_free(od_fwd_item_t *it, int acked, const char *why)
{
    uint64_t n = 0;
    for (size_t i = 0; i < it->norigins; i++) {
        od_fwd_origin_t *o = &it->origins[i];
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
    od_route_fwd.bytes -= it->bytes;
    od_route_fwd.records -= n;
    od_batch_builder_free(&it->b);
    free(it->batch);
    free(it->origins);
    free(it);
}

static int item_origin(od_fwd_item_t *it, od_fwd_source_t *src, od_fwd_hold_t *hold, uint64_t nc,
                       uint64_t nd)
{
    if (it->norigins > 0) {
        od_fwd_origin_t *last = &it->origins[it->norigins - 1];
        if (last->src == src && last->hold == hold) {
            last->ncopies += nc;
            last->ndlq += nd;
            hold_release(src, hold); /* the origin holds it once already */
            return 0;
        }
    }
    if (it->norigins == it->ocap) {
        size_t cap = it->ocap ? 2 * it->ocap : 4;
        od_fwd_origin_t *o = realloc(it->origins, cap * sizeof(*o));
        if (!o)
            return -1;
        it->origins = o;
        it->ocap = cap;
    }
    it->origins[it->norigins++] = (od_fwd_origin_t){src, hold, nc, nd};
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

static od_fwd_queue_t *queue_of(const char *topic, int32_t partition)
{
    for (od_fwd_queue_t *q = od_route_fwd.queues; q; q = q->next)
        if (q->partition == partition && strcmp(q->topic, topic) == 0)
            return q;
    od_fwd_queue_t *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    snprintf(q->topic, sizeof(q->topic), "%s", topic);
    q->partition = partition;
    q->next = od_route_fwd.queues;
    od_route_fwd.queues = q;
    return q;
}

void od_route_forward_add(od_topic_t *t, int32_t partition, uint8_t *batch,
                          size_t len, uint64_t ncopies, uint64_t ndlq, const char *source,
                          int32_t source_partition, int64_t hold_offset)
{
    od_fwd_source_t *src = source_of(source, source_partition);
    od_fwd_queue_t *q = queue_of(t->name, partition);
    od_fwd_hold_t *hold = src && ncopies > 0 && hold_offset >= 0 ? hold_at(src, hold_offset) : NULL;
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
    od_fwd_item_t *tail = q->tail;
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
        od_fwd_item_t *it = calloc(1, sizeof(*it));
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
    od_route_fwd.bytes += len;
    od_route_fwd.records += ncopies + ndlq;
    od_route_fwd_kick();
}

/* The head's bytes, sealing it first. NULL: out of memory. */
od_fwd_item_t *od_route_fwd_seal_head(od_fwd_queue_t *q)
{
    od_fwd_item_t *it = q->head;
    if (!it->batch) {
        it->batch = od_batch_builder_finish(&it->b, &it->len);
        od_batch_builder_free(&it->b);
        od_batch_builder_init(&it->b, 0);
    }
    return it->batch ? it : NULL;
}

void od_route_fwd_pop_head(od_fwd_queue_t *q, int acked, const char *why)
{
    od_fwd_item_t *it = q->head;
    q->head = it->next;
    if (!q->head)
        q->tail = NULL;
    q->attempts = 0;
    q->not_before_ms = 0;
    item_free(it, acked, why);
}

void od_route_fwd_lose_head(od_fwd_queue_t *q, const char *why)
{
    od_fwd_item_t *it = q->head;
    uint64_t n = 0;
    for (size_t i = 0; i < it->norigins; i++)
        n += it->origins[i].ncopies + it->origins[i].ndlq;
    od_logf(OD_LOG_WARN, "route: %" PRIu64 " copies for %s-%d lost: %s", n, q->topic,
            (int)q->partition, why);
    od_route_fwd_pop_head(q, 0, why);
}

void od_route_fwd_free_queues(void)
{
    while (od_route_fwd.queues) {
        od_fwd_queue_t *q = od_route_fwd.queues;
        od_route_fwd.queues = q->next;
        while (q->head)
            od_route_fwd_pop_head(q, 0, NULL);
        free(q);
    }
    while (od_route_fwd.sources) {
        od_fwd_source_t *s = od_route_fwd.sources;
        od_route_fwd.sources = s->next;
        free(s);
    }
}
