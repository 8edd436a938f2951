/* od_route_copy.c - appending copies and dead letters: records are
 * grouped per target partition into batches (in the order the routes asked
 * for them), each batch at most the target's max.message.bytes; every batch
 * goes through OD_EVENT_APPEND (the producer as the client) and is appended
 * on this broker when it leads the target, else handed to the forwarder
 * (od_route_forward.c) for the leader. What cannot be appended is logged
 * and counted as lost. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_ext.h"
#include "od_metrics.h"
#include "od_partition.h"
#include "od_route_int.h"

typedef struct out_group {
    od_topic_t *t;
    od_partition_t *p;
    int32_t partition;
    od_batch_builder_t b;
    uint64_t ncopies, ndlq; /* records in b, for the metrics */
} out_group_t;

void od_route_outbox_init(od_route_outbox_t *ob, od_core_t *core, const od_client_t *client,
                          const char *source, int32_t source_partition)
{
    memset(ob, 0, sizeof(*ob));
    ob->core = core;
    ob->client = client;
    ob->source = source;
    ob->source_partition = source_partition;
    ob->low = -1;
}

int od_route_append_here(od_core_t *core, od_topic_t *t, od_partition_t *p, uint8_t *batch,
                         size_t blen, int32_t nrec, char *err, size_t errsz)
{
    od_batch_hdr_t h;
    od_batch_parse_header(batch, blen, &h);
    int64_t append_time = t->cfg.log_append_time ? od_now_ms() : -1;
    int64_t base = od_partition_log_end(core, p);
    int64_t next = od_batch_assign_offsets(batch, blen, base, p->leader_epoch, append_time);
    od_append_info_t info = {0};
    info.struct_size = sizeof(info);
    info.base_offset = base;
    info.last_offset = next - 1;
    info.max_timestamp = append_time >= 0 ? append_time : h.max_timestamp;
    info.offset_of_max_timestamp = base;
    info.record_count = nrec;
    info.batch_count = 1;
    if (od_partition_append(core, p, batch, blen, &info, err, errsz) < 0)
        return -1;
    od_metrics_topic_in(t, blen, nrec);
    return 0;
}

static void count(const od_route_outbox_t *ob, uint64_t copies, uint64_t dlq, int ok)
{
    if (ok) {
        od_route_metric("route", ob->source, OD_RMETRIC_COPIES, copies);
        od_route_metric("route", ob->source, OD_RMETRIC_DLQ, dlq);
    } else {
        od_route_metric("route", ob->source, OD_RMETRIC_LOST, copies + dlq);
    }
}

/* Append what g holds; g is empty (and ready for more) afterwards. */
static void flush_group(od_route_outbox_t *ob, out_group_t *g)
{
    if (g->b.count == 0)
        return;
    od_core_t *core = ob->core;
    const char *topic = g->t->name;
    int32_t nrec = g->b.count;
    size_t blen = 0;
    uint8_t *batch = od_batch_builder_finish(&g->b, &blen);
    od_batch_builder_free(&g->b);
    od_batch_builder_init(&g->b, 0);
    uint64_t nc = g->ncopies, nd = g->ndlq;
    g->ncopies = g->ndlq = 0;
    if (!batch) {
        od_logf(OD_LOG_ERROR, "route: out of memory building copies for %s-%d", topic,
                (int)g->partition);
        count(ob, nc, nd, 0);
        return;
    }
    char reason[256] = "";
    od_ev_append_t ev = {sizeof(ev), ob->client, topic, g->partition, batch, blen, nrec, reason,
                         sizeof(reason)};
    const char *who = NULL;
    if (od_event_wanted(core, OD_EVENT_APPEND) &&
        od_event_fire(core, OD_EVENT_APPEND, &ev, &who) == OD_DENY) {
        reason[sizeof(reason) - 1] = 0;
        od_logf(OD_LOG_INFO, "route: %d copies for %s-%d denied by module %s: %s; copy dropped",
                (int)nrec, topic, (int)g->partition, who ? who : "?", reason);
        free(batch);
        count(ob, nc, nd, 0);
        return;
    }
    if (g->p->leader != od_core_node_id(core)) {
        /* Another broker (or none yet) leads it: sent to the leader, the
         * source's route checkpoint held until it acknowledges. */
        od_route_forward_add(g->t, g->partition, batch, blen, nc, nd, ob->source,
                             ob->source_partition, ob->low);
        return;
    }
    char err[256];
    int rc = od_route_append_here(core, g->t, g->p, batch, blen, nrec, err, sizeof(err));
    free(batch);
    if (rc < 0) {
        od_logf(OD_LOG_ERROR, "route: append of %d copies to %s-%d failed: %s; copy dropped",
                (int)nrec, topic, (int)g->partition, err);
        count(ob, nc, nd, 0);
        return;
    }
    count(ob, nc, nd, 1);
}

static out_group_t *group_for(od_route_outbox_t *ob, od_topic_t *t, od_partition_t *p,
                              int32_t partition)
{
    out_group_t *g = ob->groups;
    for (size_t i = 0; i < ob->ngroups; i++)
        if (g[i].t == t && g[i].partition == partition)
            return &g[i];
    if (ob->ngroups == ob->cap) {
        size_t cap = ob->cap ? 2 * ob->cap : 8;
        g = realloc(ob->groups, cap * sizeof(*g));
        if (!g)
            return NULL;
        ob->groups = g;
        ob->cap = cap;
    }
    out_group_t *n = &ob->groups[ob->ngroups++];
    memset(n, 0, sizeof(*n));
    n->t = t;
    n->p = p;
    n->partition = partition;
    od_batch_builder_init(&n->b, 0);
    return n;
}

void od_route_outbox_add(od_route_outbox_t *ob, const char *topic, const char *partitioner,
                         int64_t *budget, int32_t partition, const od_route_rec_t *rec, int rekey,
                         const char *key, size_t key_len, const od_route_hdr_t *extra,
                         size_t nextra, int dead_letter)
{
    static uint32_t rr;
    od_core_t *core = ob->core;
    uint64_t nc = !dead_letter, nd = !!dead_letter;
    od_topic_t *t = od_image_topic(&core->image, topic, strlen(topic));
    if (!t || t->internal || t->npartitions <= 0) {
        od_logf(OD_LOG_WARN, "route: no topic %s to copy to (deleted since?); copy dropped",
                topic);
        count(ob, nc, nd, 0);
        return;
    }
    if (partitioner) {
        od_route_rec_t k = *rec;
        if (rekey) {
            k.key = (const uint8_t *)key;
            k.key_len = key ? (int32_t)key_len : -1;
        }
        partition = od_route_partition(core, partitioner, &k, t->npartitions, budget);
    }
    if (partition < 0 || partition >= t->npartitions)
        partition = (int32_t)(rr++ % (uint32_t)t->npartitions);
    out_group_t *g = group_for(ob, t, t->partitions[partition], partition);
    if (!g) {
        od_logf(OD_LOG_ERROR, "route: out of memory grouping copies for %s-%d; copy dropped",
                topic, (int)partition);
        count(ob, nc, nd, 0);
        return;
    }
    if (!dead_letter && ob->low < 0)
        ob->low = rec->offset; /* records come in offset order: the lowest copied */
    /* Keep each batch within max.message.bytes: a record that would pass
     * it is taken out again, what was there is appended, and it starts the
     * next batch. */
    size_t old_len = g->b.len;
    int32_t old_count = g->b.count;
    int64_t old_max = g->b.max_timestamp;
    int rc = od_route_add_record(&g->b, rec, rekey, key, key_len, extra, nextra);
    int64_t limit = t->cfg.max_message_bytes - OD_BATCH_HEADER_SIZE;
    if (rc == 0 && old_count > 0 && (int64_t)g->b.len > limit) {
        g->b.len = old_len;
        g->b.count = old_count;
        g->b.max_timestamp = old_max;
        flush_group(ob, g);
        rc = od_route_add_record(&g->b, rec, rekey, key, key_len, extra, nextra);
    }
    if (rc == 0 && (int64_t)g->b.len > limit) {
        od_logf(OD_LOG_WARN, "route: a copy for %s-%d is larger than max.message.bytes=%lld; "
                "copy dropped", topic, (int)partition, (long long)t->cfg.max_message_bytes);
        od_batch_builder_free(&g->b);
        od_batch_builder_init(&g->b, 0);
        count(ob, nc, nd, 0);
        return;
    }
    if (rc < 0) {
        od_logf(OD_LOG_ERROR, "route: cannot build a copy for %s-%d; copy dropped", topic,
                (int)partition);
        count(ob, nc + g->ncopies, nd + g->ndlq, 0);
        od_batch_builder_free(&g->b);
        od_batch_builder_init(&g->b, 0);
        g->ncopies = g->ndlq = 0;
        return;
    }
    g->ncopies += nc;
    g->ndlq += nd;
}

void od_route_outbox_flush(od_route_outbox_t *ob)
{
    for (size_t i = 0; i < ob->ngroups; i++) {
        flush_group(ob, &ob->groups[i]);
        od_batch_builder_free(&ob->groups[i].b);
    }
    free(ob->groups);
    ob->groups = NULL;
    ob->ngroups = ob->cap = 0;
}
