/* od_metadata_partitions.c - partition records in the image: a
 * PartitionRecord creates (or, replayed over a snapshot, updates) a
 * partition and opens its log here when this node is a replica; a
 * PartitionChangeRecord moves leadership, the ISR and, for a
 * reassignment, the replica set, creating or deleting the local replica. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_handlers.h"
#include "od_metadata_int.h"
#include "od_repl.h"

static int32_t *copy_i32(const int32_t *v, int32_t n)
{
    if (n <= 0)
        return NULL;
    int32_t *c = malloc((size_t)n * sizeof(*c));
    if (c)
        memcpy(c, v, (size_t)n * sizeof(*c));
    return c;
}

/* Replace a replica list with a record's copy of it (count 0 when empty or
 * out of memory). */
static void set_list(int32_t **list, int32_t *n, const int32_t *v, int32_t count)
{
    free(*list);
    *n = count > 0 ? count : 0;
    *list = copy_i32(v, *n);
    if (!*list)
        *n = 0;
}

/* The replicas of a partition as a record names them, counted on their
 * brokers. */
static void set_replicas(od_core_t *core, od_partition_t *p, const int32_t *v, int32_t count)
{
    od_image_count_replicas(&core->image, p->replicas, (size_t)p->nreplicas, -1, 0);
    set_list(&p->replicas, &p->nreplicas, v, count);
    od_image_count_replicas(&core->image, p->replicas, (size_t)p->nreplicas, 1, 0);
}

static void log_offline(const od_partition_t *p, const char *why)
{
    od_logf(OD_LOG_ERROR, "topic %s partition %d is offline (KAFKA_STORAGE_ERROR): %s",
            p->topic->name, p->index, why);
}

/* A new partition at the end of t, or NULL out of memory. */
static od_partition_t *append_partition(od_topic_t *t)
{
    if (t->npartitions == t->partitions_cap) { /* doubling: linear over a topic's records */
        int32_t cap = t->partitions_cap ? t->partitions_cap * 2 : 4;
        if (t->partitions_cap > INT32_MAX / 2)
            cap = INT32_MAX;
        od_partition_t **ps = realloc(t->partitions, (size_t)cap * sizeof(*ps));
        if (!ps)
            return NULL;
        t->partitions = ps;
        t->partitions_cap = cap;
    }
    od_partition_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    t->partitions[t->npartitions] = p;
    p->topic = t;
    p->index = t->npartitions++;
    return p;
}

int od_metadata_apply_partition(od_core_t *core, const od_PartitionRecord_t *r, char *err,
                                size_t errsz)
{
    od_topic_t *t = od_image_topic_by_id(&core->image, &r->topic_id);
    if (!t) {
        snprintf(err, errsz, "PartitionRecord %d for unknown topic id", r->partition_id);
        return -1;
    }
    if (r->partition_id < 0 || r->partition_id > t->npartitions) {
        snprintf(err, errsz, "PartitionRecord %d out of order for topic %s", r->partition_id,
                 t->name);
        return -1;
    }
    od_partition_t *p = r->partition_id == t->npartitions ? append_partition(t)
                                                          : t->partitions[r->partition_id];
    if (!p) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    set_list(&p->adding, &p->nadding, r->adding_replicas, r->adding_replicas_count);
    set_list(&p->removing, &p->nremoving, r->removing_replicas, r->removing_replicas_count);
    p->leader = r->leader;
    p->leader_epoch = r->leader_epoch;
    p->partition_epoch = r->partition_epoch;
    set_replicas(core, p, r->replicas, r->replicas_count);
    free(p->isr);
    p->nisr = r->isr_count > 0 ? r->isr_count : 0;
    p->isr = copy_i32(r->isr, p->nisr);
    /* A log that cannot be opened takes only this partition offline: the
     * record is committed, so replay (and later changes) must go on. */
    char why[700];
    if (od_partition_open_log(core, p, why, sizeof(why)) < 0)
        log_offline(p, why);
    od_repl_partition_changed(core, p);
    return 0;
}

static int is_replica_here(od_core_t *core, const od_partition_t *p)
{
    for (int32_t i = 0; i < p->nreplicas; i++)
        if (p->replicas[i] == (int32_t)core->conf.node_id)
            return 1;
    return 0;
}

/* The replica set changed (a reassignment): a new replica here creates its
 * log and then follows; a replica dropped from here stops following and
 * deletes its log, as Kafka's StopReplica with delete does. */
static void replicas_moved(od_core_t *core, od_partition_t *p)
{
    char why[700];
    if (is_replica_here(core, p)) {
        if (!p->log && od_partition_open_log(core, p, why, sizeof(why)) < 0)
            log_offline(p, why);
        return;
    }
    if (!p->log)
        return;
    od_repl_partition_changed(core, p); /* no role here: stops following or leading first */
    od_fetch_partition_removed(core, p);
    od_repl_partition_removed(core, p);
    p->high_watermark = 0;
    if (od_partition_delete_log(core, p, why, sizeof(why)) < 0)
        od_logf(OD_LOG_WARN, "topic %s partition %d: deleting the moved-away replica: %s",
                p->topic->name, p->index, why);
    else
        od_logf(OD_LOG_INFO, "topic %s partition %d: replica moved away, log deleted",
                p->topic->name, p->index);
}

int od_metadata_apply_partition_change(od_core_t *core, const od_PartitionChangeRecord_t *r,
                                       char *err, size_t errsz)
{
    od_topic_t *t = od_image_topic_by_id(&core->image, &r->topic_id);
    if (!t || r->partition_id < 0 || r->partition_id >= t->npartitions) {
        snprintf(err, errsz, "PartitionChangeRecord for unknown partition %d", r->partition_id);
        return -1;
    }
    /* A count of -1 leaves the list as it is. */
    od_partition_t *p = t->partitions[r->partition_id];
    if (r->isr_count >= 0) {
        free(p->isr);
        p->nisr = r->isr_count;
        p->isr = copy_i32(r->isr, r->isr_count);
    }
    if (r->replicas_count >= 0)
        set_replicas(core, p, r->replicas, r->replicas_count);
    if (r->adding_replicas_count >= 0)
        set_list(&p->adding, &p->nadding, r->adding_replicas, r->adding_replicas_count);
    if (r->removing_replicas_count >= 0)
        set_list(&p->removing, &p->nremoving, r->removing_replicas, r->removing_replicas_count);
    if (r->leader != -2) {
        p->leader = r->leader;
        p->leader_epoch++;
    }
    p->partition_epoch++;
    if (r->replicas_count >= 0)
        replicas_moved(core, p);
    od_repl_partition_changed(core, p);
    return 0;
}

void od_metadata_encode_partition(od_meta_batch_t *b, const od_uuid_t *topic_id,
                                  const od_partition_t *p)
{
    od_PartitionRecord_t pr;
    od_PartitionRecord_init(&pr);
    pr.partition_id = p->index;
    pr.topic_id = *topic_id;
    pr.replicas_count = p->nreplicas;
    pr.replicas = p->replicas;
    pr.isr_count = p->nisr;
    pr.isr = p->isr;
    pr.removing_replicas_count = p->nremoving;
    pr.removing_replicas = p->removing;
    pr.adding_replicas_count = p->nadding;
    pr.adding_replicas = p->adding;
    pr.leader = p->leader;
    pr.leader_epoch = p->leader_epoch;
    pr.partition_epoch = p->partition_epoch;
    od_wbuf_t *w = od_meta_batch_add(b, OD_METAREC_PARTITION, 0);
    if (w)
        od_PartitionRecord_encode(w, 0, &pr);
}
