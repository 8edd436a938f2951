/* od_metadata_propose.c - admin intentions on topics turned into proposed
 * records: CreateTopics (TopicRecord, ConfigRecords, PartitionRecords),
 * DeleteTopics (RemoveTopicRecord) and CreatePartitions. What a proposal
 * holds while in flight (a name being created, a topic being deleted or
 * grown, replicas counted against max.broker.partitions) is released when
 * the control plane is done with it. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_metadata_int.h"
#include "od_placement.h"

typedef struct od_proposal {
    od_core_t *core;
    od_meta_done_cb cb;
    void *arg;
    int32_t *placed; /* replicas counted in their brokers' npending, owned */
    size_t nplaced;
    /* What the proposal holds while in flight, released when it is done: */
    struct od_creating *creating; /* a name being created */
    int deleting;                 /* topic_id's deleting flag */
    int32_t adding_to;            /* topic_id's adding_to */
    od_uuid_t topic_id;
} od_proposal_t;

static void release(od_image_t *img, od_proposal_t *p)
{
    if (p->creating)
        od_image_creating_remove(img, p->creating);
    p->creating = NULL;
    od_topic_t *t = (p->deleting || p->adding_to) ? od_image_topic_by_id(img, &p->topic_id) : NULL;
    if (t && p->deleting) /* still there: the deletion failed */
        t->deleting = 0;
    if (t && p->adding_to && t->adding_to == p->adding_to)
        t->adding_to = 0;
    p->deleting = 0;
    p->adding_to = 0;
}

static void proposal_done(void *arg, int status, const char *msg)
{
    od_proposal_t *p = arg;
    /* Committed replicas are in nreplicas now (apply came first). */
    /* At shutdown the control plane fails what it could not apply after
     * the image is gone (od_image_free zeroes it): nothing to release. */
    if (p->core->image.nbuckets) {
        od_image_count_replicas(&p->core->image, p->placed, p->nplaced, -1, 1);
        release(&p->core->image, p);
    }
    if (p->cb)
        p->cb(p->arg, od_meta_status_error(status), msg);
    free(p->placed);
    free(p);
}

/* Propose b's records. placed (owned, may be NULL): the replicas the
 * records put on brokers; held: what the proposal holds (released when
 * done, or at once when it cannot be proposed). */
static int propose_held(od_core_t *core, od_meta_batch_t *b, int32_t *placed, size_t nplaced,
                        const od_proposal_t *held, od_meta_done_cb cb, void *arg, char *err,
                        size_t errsz)
{
    od_proposal_t *p = calloc(1, sizeof(*p));
    if (!p) {
        od_proposal_t hold = *held;
        release(&core->image, &hold);
        snprintf(err, errsz, "out of memory");
        od_meta_batch_free(b);
        free(placed);
        return -1;
    }
    *p = *held;
    p->core = core;
    p->cb = cb;
    p->arg = arg;
    p->placed = placed;
    p->nplaced = nplaced;
    od_image_count_replicas(&core->image, placed, nplaced, 1, 1);
    if (od_meta_propose_raw(core, b, proposal_done, p, err, errsz) != OD_ERR_NONE) {
        od_image_count_replicas(&core->image, placed, nplaced, -1, 1);
        release(&core->image, p);
        free(placed);
        free(p);
        return -1;
    }
    return 0; /* p is the callback's now */
}

/* Kafka's per-operation record bound, and max.broker.partitions (KIP-578)
 * over committed and pending replicas. Returns 0 or -POLICY_VIOLATION. */
static int check_limits(od_core_t *core, size_t nrecords, const int32_t *placed, size_t nplaced,
                        char *err, size_t errsz)
{
    if (nrecords > OD_MAX_RECORDS_PER_USER_OP) {
        snprintf(err, errsz, OD_MSG_TOO_MANY_RECORDS " (%zu metadata records; at most %d in one "
                 "operation)", nrecords, OD_MAX_RECORDS_PER_USER_OP);
        return -OD_ERR_POLICY_VIOLATION;
    }
    od_image_t *img = &core->image;
    int64_t max = core->conf.max_broker_partitions;
    for (size_t b = 0; max > 0 && b < img->nbrokers; b++) {
        int64_t add = 0;
        for (size_t i = 0; i < nplaced; i++)
            add += placed[i] == img->brokers[b].id;
        int64_t total = img->brokers[b].nreplicas + img->brokers[b].npending + add;
        if (add > 0 && total > max) {
            snprintf(err, errsz, "broker %d would hold %lld partition replicas, more than "
                     "max.broker.partitions=%lld (it holds %lld)", img->brokers[b].id,
                     (long long)total, (long long)max,
                     (long long)(img->brokers[b].nreplicas + img->brokers[b].npending));
            return -OD_ERR_POLICY_VIOLATION;
        }
    }
    return 0;
}

/* New partitions [first, end) of a topic into b: their replicas from
 * assignments[i - first] or placed by the broker (rf each, at most 64),
 * then proposed within check_limits' bounds holding *held. Frees b. */
static int propose_partitions(od_core_t *core, od_meta_batch_t *b, const od_uuid_t *topic_id,
                              int32_t first, int32_t end, int32_t rf,
                              const od_assignment_t *assignments, const od_proposal_t *held,
                              od_meta_done_cb cb, void *arg, char *err, size_t errsz)
{
    od_proposal_t hold = *held;
    size_t per = assignments ? 64 : (size_t)(rf > 0 ? rf : 1);
    size_t count = end > first ? (size_t)(end - first) : 1;
    size_t nplaced = 0;
    int32_t *placed = calloc(count * per, sizeof(*placed));
    int rc = -1;
    if (!placed) {
        snprintf(err, errsz, "out of memory");
        goto fail;
    }
    for (int32_t i = first; i < end; i++) {
        int32_t replicas[64];
        const int32_t *reps = replicas;
        int32_t nreps = rf;
        if (assignments) {
            reps = assignments[i - first].brokers;
            nreps = assignments[i - first].n > 64 ? 64 : assignments[i - first].n;
        } else if ((rc = od_place_partition(&core->image, topic_id, i, rf, replicas, err,
                                            errsz)) < 0) {
            goto fail;
        }
        od_partition_t p = {.index = i, .leader = reps[0]};
        p.replicas = p.isr = (int32_t *)reps;
        p.nreplicas = p.nisr = nreps;
        od_metadata_encode_partition(b, topic_id, &p);
        memcpy(placed + nplaced, reps, (size_t)nreps * sizeof(*reps));
        nplaced += (size_t)nreps;
    }
    if ((rc = check_limits(core, b->n, placed, nplaced, err, errsz)) < 0)
        goto fail;
    return propose_held(core, b, placed, nplaced, held, cb, arg, err, errsz);
fail:
    release(&core->image, &hold);
    od_meta_batch_free(b);
    free(placed);
    return rc;
}

int od_metadata_check_assignment(od_core_t *core, const od_assignment_t *a, int32_t count,
                                 char *err, size_t errsz)
{
    for (int32_t i = 0; i < count; i++) {
        if (a[i].n <= 0 || a[i].n > 64 || a[i].n != a[0].n) {
            snprintf(err, errsz, "partition %d: %d replicas; every partition needs the same number (1-64)",
                     i, a[i].n);
            return -1;
        }
        for (int32_t j = 0; j < a[i].n; j++) {
            if (!od_image_broker(&core->image, a[i].brokers[j])) {
                snprintf(err, errsz, "partition %d: broker %d is not registered", i, a[i].brokers[j]);
                return -1;
            }
            for (int32_t k = 0; k < j; k++)
                if (a[i].brokers[k] == a[i].brokers[j]) {
                    snprintf(err, errsz, "partition %d: broker %d appears twice", i, a[i].brokers[j]);
                    return -1;
                }
        }
    }
    return 0;
}

void od_metadata_encode_config(od_meta_batch_t *b, int8_t type, const char *resource,
                               const char *key, const char *value)
{
    od_ConfigRecord_t cr;
    od_ConfigRecord_init(&cr);
    cr.resource_type = type;
    cr.resource_name = od_str_c(resource);
    cr.name = od_str_c(key);
    cr.value = od_str_c(value); /* NULL -> null: delete */
    od_wbuf_t *w = od_meta_batch_add(b, OD_METAREC_CONFIG, 0);
    if (w)
        od_ConfigRecord_encode(w, 0, &cr);
}

/* The topic's name is not in the image; refuses one being created under
 * the same or a colliding name. 0 or a negative Kafka code. */
static int check_not_creating(od_core_t *core, const od_new_topic_t *nt, char *err, size_t errsz)
{
    struct od_creating *busy = od_image_creating_find(&core->image, nt->name, nt->name_len);
    if (!busy)
        return 0;
    if (busy->len == nt->name_len && memcmp(busy->name, nt->name, nt->name_len) == 0) {
        snprintf(err, errsz, "Topic '%.*s' is already being created.", (int)nt->name_len,
                 nt->name);
        return -OD_ERR_TOPIC_ALREADY_EXISTS;
    }
    snprintf(err, errsz, "Topic '%.*s' collides with topic '%.80s' being created ('.' and '_' "
             "collide)", (int)nt->name_len, nt->name, busy->name);
    return -OD_ERR_INVALID_TOPIC_EXCEPTION;
}

int od_metadata_create_topic(od_core_t *core, const od_new_topic_t *nt, od_meta_done_cb cb,
                             void *arg, char *err, size_t errsz)
{
    if (od_image_topic(&core->image, nt->name, nt->name_len)) {
        snprintf(err, errsz, "Topic '%.*s' already exists.", (int)nt->name_len, nt->name);
        return -OD_ERR_TOPIC_ALREADY_EXISTS;
    }
    /* Not the active controller: it decides (od_forward_create.c). */
    if (cb && od_forward_create_topic(core, nt, cb, arg) == 0)
        return 0;
    int rc = check_not_creating(core, nt, err, errsz);
    if (rc < 0)
        return rc;
    if (nt->replication_factor > 64) {
        snprintf(err, errsz, "replication factor %d is too large", nt->replication_factor);
        return -1;
    }
    if (nt->partitions > OD_MAX_RECORDS_PER_USER_OP) /* before any allocation */
        return check_limits(core, (size_t)nt->partitions + 1 + nt->nconfigs, NULL, 0, err, errsz);
    od_proposal_t held = {0};
    if (!(held.creating = od_image_creating_add(&core->image, nt->name, nt->name_len))) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    od_meta_batch_t b = {0};
    od_TopicRecord_t tr;
    od_TopicRecord_init(&tr);
    tr.name.p = nt->name;
    tr.name.len = (int32_t)nt->name_len;
    do
        randombytes_buf(tr.topic_id.b, sizeof(tr.topic_id.b));
    while (od_image_topic_by_id(&core->image, &tr.topic_id));
    od_wbuf_t *w = od_meta_batch_add(&b, OD_METAREC_TOPIC, 0);
    if (w)
        od_TopicRecord_encode(w, 0, &tr);
    for (size_t i = 0; i < nt->nconfigs; i++)
        od_metadata_encode_config(&b, OD_CONFIG_RESOURCE_TOPIC, held.creating->name,
                                  nt->configs[i].key, nt->configs[i].value);
    return propose_partitions(core, &b, &tr.topic_id, 0, nt->partitions, nt->replication_factor,
                              nt->assignments, &held, cb, arg, err, errsz);
}

int od_metadata_delete_topic(od_core_t *core, od_topic_t *t, od_meta_done_cb cb, void *arg,
                             char *err, size_t errsz)
{
    if (t->deleting) { /* a second RemoveTopicRecord would not apply */
        snprintf(err, errsz, "Topic '%s' is already being deleted.", t->name);
        return -OD_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    od_meta_batch_t b = {0};
    od_RemoveTopicRecord_t r;
    od_RemoveTopicRecord_init(&r);
    r.topic_id = t->id;
    od_wbuf_t *w = od_meta_batch_add(&b, OD_METAREC_REMOVE_TOPIC, 0);
    if (w)
        od_RemoveTopicRecord_encode(w, 0, &r);
    od_proposal_t held = {0};
    held.deleting = 1;
    held.topic_id = t->id;
    t->deleting = 1;
    return propose_held(core, &b, NULL, 0, &held, cb, arg, err, errsz);
}

int od_metadata_add_partitions(od_core_t *core, od_topic_t *t, int32_t new_total,
                               const od_assignment_t *assignments, od_meta_done_cb cb, void *arg,
                               char *err, size_t errsz)
{
    int32_t rf = t->npartitions > 0 ? t->partitions[0]->nreplicas : 1;
    if (rf > 64)
        rf = 64;
    if (rf < 1)
        rf = 1;
    if (t->deleting) {
        snprintf(err, errsz, "Topic '%s' is being deleted.", t->name);
        return -OD_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    if (t->adding_to > t->npartitions) { /* both would write the same indices */
        snprintf(err, errsz, "Partitions of topic '%s' are being added (to %d) by another "
                 "request; retry.", t->name, t->adding_to);
        return -OD_ERR_INVALID_PARTITIONS;
    }
    od_meta_batch_t b = {0};
    od_proposal_t held = {0};
    int64_t add = (int64_t)new_total - t->npartitions;
    if (add <= 0) /* nothing to add: an empty proposal answers in commit order */
        return propose_held(core, &b, NULL, 0, &held, cb, arg, err, errsz);
    if (add > OD_MAX_RECORDS_PER_USER_OP)
        return check_limits(core, (size_t)add, NULL, 0, err, errsz);
    held.adding_to = new_total;
    held.topic_id = t->id;
    t->adding_to = new_total;
    return propose_partitions(core, &b, &t->id, t->npartitions, new_total, rf, assignments, &held,
                              cb, arg, err, errsz);
}
