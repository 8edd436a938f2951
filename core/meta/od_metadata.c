/* od_metadata.c - the metadata image: apply committed records, answer
 * lookups, and turn admin intentions into proposed records. */
#include "od_authz.h"
#include "od_metadata.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_acls.h"
#include "od_core.h"
#include "od_metadata_configs.h"
#include "od_nameset.h"
#include "od_handlers.h"
#include "od_net.h"
#include "od_placement.h"
#include "od_repl.h"
#include "od_proto_gen.h"
#include "od_schema.h"
#include "od_scram_store.h"
#include "od_topic_config.h"
#include "od_topic_config.h"
#include "od_topicname.h"

#define CONFIG_RESOURCE_TOPIC 2
#define CONFIG_RESOURCE_BROKER 4

/* ---- hashing and lookup ---- */

static uint64_t hash_norm(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)(p[i] == '.' ? '_' : p[i]);
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t hash_id(const od_uuid_t *id)
{
    return od_hash_bytes((const char *)id->b, sizeof(id->b));
}

void od_image_init(od_image_t *img)
{
    memset(img, 0, sizeof(*img));
    img->nbuckets = 256;
    img->buckets = calloc(img->nbuckets, sizeof(*img->buckets));
    img->id_buckets = calloc(img->nbuckets, sizeof(*img->id_buckets));
    img->norm_buckets = calloc(img->nbuckets, sizeof(*img->norm_buckets));
    img->creating = calloc(OD_CREATING_BUCKETS, sizeof(*img->creating));
    if (!img->buckets || !img->id_buckets || !img->norm_buckets || !img->creating) {
        free(img->creating);
        img->creating = NULL;
        free(img->buckets);
        free(img->id_buckets);
        free(img->norm_buckets);
        img->buckets = img->id_buckets = img->norm_buckets = NULL;
    }
    img->last_offset = -1;
}

static void link_topic(od_topic_t **names, od_topic_t **ids, od_topic_t **norms, size_t nb,
                       od_topic_t *t)
{
    size_t len = strlen(t->name);
    size_t b = od_hash_bytes(t->name, len) % nb;
    t->next_by_name = names[b];
    names[b] = t;
    b = hash_id(&t->id) % nb;
    t->next_by_id = ids[b];
    ids[b] = t;
    b = hash_norm(t->name, len) % nb;
    t->next_by_norm = norms[b];
    norms[b] = t;
}

/* Keeps chains short as topics are added: four times the buckets once there
 * are twice as many topics as buckets. Failure only leaves chains longer. */
static void maybe_grow(od_image_t *img)
{
    if (img->ntopics < img->nbuckets * 2 || img->nbuckets > SIZE_MAX / 8 / sizeof(od_topic_t *))
        return;
    size_t nb = img->nbuckets * 4;
    od_topic_t **names = calloc(nb, sizeof(*names));
    od_topic_t **ids = calloc(nb, sizeof(*ids));
    od_topic_t **norms = calloc(nb, sizeof(*norms));
    if (!names || !ids || !norms) {
        free(names);
        free(ids);
        free(norms);
        return;
    }
    for (size_t b = 0; b < img->nbuckets; b++) {
        od_topic_t *t = img->buckets[b];
        while (t) {
            od_topic_t *n = t->next_by_name;
            link_topic(names, ids, norms, nb, t);
            t = n;
        }
    }
    free(img->buckets);
    free(img->id_buckets);
    free(img->norm_buckets);
    img->buckets = names;
    img->id_buckets = ids;
    img->norm_buckets = norms;
    img->nbuckets = nb;
}

od_topic_t *od_image_topic(const od_image_t *img, const char *name, size_t len)
{
    if (!img->buckets)
        return NULL;
    od_topic_t *t = img->buckets[od_hash_bytes(name, len) % img->nbuckets];
    for (; t; t = t->next_by_name)
        if (strlen(t->name) == len && memcmp(t->name, name, len) == 0)
            return t;
    return NULL;
}

od_topic_t *od_image_topic_by_id(const od_image_t *img, const od_uuid_t *id)
{
    if (!img->id_buckets)
        return NULL;
    for (od_topic_t *t = img->id_buckets[hash_id(id) % img->nbuckets]; t; t = t->next_by_id)
        if (memcmp(t->id.b, id->b, 16) == 0)
            return t;
    return NULL;
}

od_topic_t *od_image_topic_colliding(const od_image_t *img, const char *name, size_t len)
{
    if (!img->norm_buckets)
        return NULL;
    for (od_topic_t *t = img->norm_buckets[hash_norm(name, len) % img->nbuckets]; t;
         t = t->next_by_norm) {
        if (strlen(t->name) != len)
            continue;
        size_t i = 0;
        for (; i < len; i++)
            if ((t->name[i] == '.' ? '_' : t->name[i]) != (name[i] == '.' ? '_' : name[i]))
                break;
        if (i == len)
            return t;
    }
    return NULL;
}

/* Topics proposed but not applied yet: with a control plane that commits
 * later (group commit, a quorum) a second proposal of the same name would
 * otherwise be a second TopicRecord. Keyed by the collision-normalised name. */
struct od_creating {
    struct od_creating *next;
    size_t len;
    char name[]; /* NUL-terminated */
};

static int same_norm(const char *a, const char *b, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((a[i] == '.' ? '_' : a[i]) != (b[i] == '.' ? '_' : b[i]))
            return 0;
    return 1;
}

static struct od_creating *creating_find(const od_image_t *img, const char *name, size_t len)
{
    if (!img->creating)
        return NULL;
    for (struct od_creating *c = img->creating[hash_norm(name, len) % OD_CREATING_BUCKETS]; c;
         c = c->next)
        if (c->len == len && same_norm(c->name, name, len))
            return c;
    return NULL;
}

static struct od_creating *creating_add(od_image_t *img, const char *name, size_t len)
{
    struct od_creating *c = img->creating ? malloc(sizeof(*c) + len + 1) : NULL;
    if (!c)
        return NULL;
    c->len = len;
    memcpy(c->name, name, len);
    c->name[len] = '\0';
    size_t b = hash_norm(name, len) % OD_CREATING_BUCKETS;
    c->next = img->creating[b];
    img->creating[b] = c;
    return c;
}

static void creating_remove(od_image_t *img, struct od_creating *c)
{
    if (!img->creating)
        return;
    for (struct od_creating **pp = &img->creating[hash_norm(c->name, c->len) % OD_CREATING_BUCKETS];
         *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            free(c);
            return;
        }
}

od_topic_t *od_image_next_topic(const od_image_t *img, od_topic_t *prev)
{
    size_t b = 0;
    if (prev) {
        if (prev->next_by_name)
            return prev->next_by_name;
        b = od_hash_bytes(prev->name, strlen(prev->name)) % img->nbuckets + 1;
    }
    for (; b < img->nbuckets; b++)
        if (img->buckets[b])
            return img->buckets[b];
    return NULL;
}

const char *od_topic_config(const od_topic_t *t, const char *key)
{
    for (size_t i = 0; i < t->nconfigs; i++)
        if (strcmp(t->configs[i].key, key) == 0)
            return t->configs[i].value;
    return NULL;
}

const od_broker_reg_t *od_image_broker(const od_image_t *img, int32_t id)
{
    for (size_t i = 0; i < img->nbrokers; i++)
        if (img->brokers[i].id == id)
            return &img->brokers[i];
    return NULL;
}

static void free_partition(od_core_t *core, od_partition_t *p)
{
    if (!p)
        return;
    od_fetch_partition_removed(core, p);
    od_repl_partition_removed(core, p);
    od_partition_close_log(core, p);
    free(p->replicas);
    free(p->isr);
    free(p->adding);
    free(p->removing);
    free(p);
}

static void free_topic(od_core_t *core, od_topic_t *t)
{
    for (int32_t i = 0; i < t->npartitions; i++)
        free_partition(core, t->partitions[i]);
    for (size_t i = 0; i < t->nconfigs; i++) {
        free(t->configs[i].key);
        free(t->configs[i].value);
    }
    free(t->configs);
    free(t->partitions);
    free(t->name);
    free(t);
}

static void free_broker(od_broker_reg_t *b)
{
    for (size_t i = 0; i < b->nendpoints; i++) {
        free(b->endpoints[i].name);
        free(b->endpoints[i].host);
    }
    free(b->endpoints);
    free(b->rack);
}

void od_image_free(od_core_t *core, od_image_t *img)
{
    for (size_t b = 0; b < img->nbuckets; b++) {
        od_topic_t *t = img->buckets[b];
        while (t) {
            od_topic_t *n = t->next_by_name;
            free_topic(core, t);
            t = n;
        }
    }
    for (size_t i = 0; i < img->nbrokers; i++)
        free_broker(&img->brokers[i]);
    for (size_t i = 0; i < img->nbroker_configs; i++) {
        free(img->broker_configs[i].key);
        free(img->broker_configs[i].value);
    }
    free(img->broker_configs);
    for (size_t i = 0; i < img->nbroker_default_configs; i++) {
        free(img->broker_default_configs[i].key);
        free(img->broker_default_configs[i].value);
    }
    free(img->broker_default_configs);
    free(img->brokers);
    free(img->buckets);
    free(img->id_buckets);
    free(img->norm_buckets);
    for (size_t b = 0; img->creating && b < OD_CREATING_BUCKETS; b++)
        while (img->creating[b]) {
            struct od_creating *c = img->creating[b];
            img->creating[b] = c->next;
            free(c);
        }
    free(img->creating);
    od_acls_free(img);
    memset(img, 0, sizeof(*img));
}

static void unlink_topic(od_image_t *img, od_topic_t *t)
{
    size_t len = strlen(t->name);
    od_topic_t **pp = &img->buckets[od_hash_bytes(t->name, len) % img->nbuckets];
    for (; *pp; pp = &(*pp)->next_by_name)
        if (*pp == t) {
            *pp = t->next_by_name;
            img->ntopics--;
            break;
        }
    for (pp = &img->id_buckets[hash_id(&t->id) % img->nbuckets]; *pp; pp = &(*pp)->next_by_id)
        if (*pp == t) {
            *pp = t->next_by_id;
            break;
        }
    for (pp = &img->norm_buckets[hash_norm(t->name, len) % img->nbuckets]; *pp;
         pp = &(*pp)->next_by_norm)
        if (*pp == t) {
            *pp = t->next_by_norm;
            break;
        }
}

static int set_kv(od_kv_t **arr, size_t *n, const char *key, size_t klen, const char *value,
                  int32_t vlen)
{
    for (size_t i = 0; i < *n; i++) {
        if (strlen((*arr)[i].key) == klen && memcmp((*arr)[i].key, key, klen) == 0) {
            free((*arr)[i].value);
            if (vlen < 0) { /* null value removes the override */
                free((*arr)[i].key);
                (*arr)[i] = (*arr)[--*n];
                return 0;
            }
            (*arr)[i].value = strndup(value, (size_t)vlen);
            return (*arr)[i].value ? 0 : -1;
        }
    }
    if (vlen < 0)
        return 0;
    od_kv_t *a = realloc(*arr, (*n + 1) * sizeof(**arr));
    if (!a)
        return -1;
    *arr = a;
    a[*n].key = strndup(key, klen);
    a[*n].value = strndup(value, (size_t)vlen);
    if (!a[*n].key || !a[*n].value)
        return -1;
    (*n)++;
    return 0;
}

static int32_t *copy_i32(const int32_t *v, int32_t n)
{
    if (n <= 0)
        return NULL;
    int32_t *c = malloc((size_t)n * sizeof(*c));
    if (c)
        memcpy(c, v, (size_t)n * sizeof(*c));
    return c;
}

/* Replica counts per broker, for max.broker.partitions. */
static void count_replicas(od_image_t *img, const int32_t *reps, int32_t n, int64_t delta)
{
    for (int32_t i = 0; i < n; i++)
        for (size_t b = 0; b < img->nbrokers; b++)
            if (img->brokers[b].id == reps[i])
                img->brokers[b].nreplicas += delta;
}

/* ---- applying records ---- */

static void remove_topic(od_core_t *core, od_topic_t *t);
static void reset_keep_topic(od_core_t *core, od_topic_t *t);

static int apply_topic(od_core_t *core, const od_TopicRecord_t *r, char *err, size_t errsz)
{
    od_image_t *img = &core->image;
    if (r->name.len <= 0) {
        snprintf(err, errsz, "TopicRecord without a name");
        return -1;
    }
    od_topic_t *old = od_image_topic(img, r->name.p, (size_t)r->name.len);
    if (old && img->resetting && memcmp(old->id.b, r->topic_id.b, 16) == 0) {
        reset_keep_topic(core, old); /* same topic: its logs stay open */
        return 0;
    }
    if (old && img->resetting) {
        remove_topic(core, old); /* the name now belongs to another topic */
    } else if (old) {
        snprintf(err, errsz, "TopicRecord for existing topic %.*s", (int)r->name.len, r->name.p);
        return -1;
    }
    od_topic_t *t = calloc(1, sizeof(*t));
    if (!t || !(t->name = strndup(r->name.p, (size_t)r->name.len))) {
        free(t);
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    t->id = r->topic_id;
    t->reset_seen = 1;
    t->internal = od_topic_is_internal(t->name);
    od_topic_cfg_resolve(core, t, NULL, &t->cfg);
    link_topic(img->buckets, img->id_buckets, img->norm_buckets, img->nbuckets, t);
    img->ntopics++;
    maybe_grow(img);
    return 0;
}

static int apply_partition(od_core_t *core, const od_PartitionRecord_t *r, char *err,
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
    od_partition_t *p;
    if (r->partition_id == t->npartitions) {
        if (t->npartitions == t->partitions_cap) { /* doubling: linear over a topic's records */
            int32_t cap = t->partitions_cap ? t->partitions_cap * 2 : 4;
            if (t->partitions_cap > INT32_MAX / 2)
                cap = INT32_MAX;
            od_partition_t **ps = realloc(t->partitions, (size_t)cap * sizeof(*ps));
            if (!ps)
                goto oom;
            t->partitions = ps;
            t->partitions_cap = cap;
        }
        p = calloc(1, sizeof(*p));
        if (!p)
            goto oom;
        t->partitions[t->npartitions++] = p;
        p->topic = t;
        p->index = r->partition_id;
    } else {
        p = t->partitions[r->partition_id];
        count_replicas(&core->image, p->replicas, p->nreplicas, -1);
        free(p->replicas);
        free(p->isr);
        free(p->adding);
        free(p->removing);
    }
    p->nadding = r->adding_replicas_count > 0 ? r->adding_replicas_count : 0;
    p->adding = p->nadding ? copy_i32(r->adding_replicas, p->nadding) : NULL;
    if (!p->adding)
        p->nadding = 0;
    p->nremoving = r->removing_replicas_count > 0 ? r->removing_replicas_count : 0;
    p->removing = p->nremoving ? copy_i32(r->removing_replicas, p->nremoving) : NULL;
    if (!p->removing)
        p->nremoving = 0;
    p->leader = r->leader;
    p->leader_epoch = r->leader_epoch;
    p->partition_epoch = r->partition_epoch;
    p->nreplicas = r->replicas_count > 0 ? r->replicas_count : 0;
    p->replicas = copy_i32(r->replicas, p->nreplicas);
    if (!p->replicas)
        p->nreplicas = 0;
    count_replicas(&core->image, p->replicas, p->nreplicas, 1);
    p->nisr = r->isr_count > 0 ? r->isr_count : 0;
    p->isr = copy_i32(r->isr, p->nisr);
    /* A log that cannot be opened takes only this partition offline: the
     * record is committed, so replay (and later changes) must go on. */
    char why[700];
    if (od_partition_open_log(core, p, why, sizeof(why)) < 0)
        od_logf(OD_LOG_ERROR, "topic %s partition %d is offline (KAFKA_STORAGE_ERROR): %s",
                t->name, p->index, why);
    od_repl_partition_changed(core, p);
    return 0;
oom:
    snprintf(err, errsz, "out of memory");
    return -1;
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
            od_logf(OD_LOG_ERROR, "topic %s partition %d is offline (KAFKA_STORAGE_ERROR): %s",
                    p->topic->name, p->index, why);
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

static int apply_partition_change(od_core_t *core, const od_PartitionChangeRecord_t *r, char *err,
                                  size_t errsz)
{
    od_topic_t *t = od_image_topic_by_id(&core->image, &r->topic_id);
    if (!t || r->partition_id < 0 || r->partition_id >= t->npartitions) {
        snprintf(err, errsz, "PartitionChangeRecord for unknown partition %d", r->partition_id);
        return -1;
    }
    od_partition_t *p = t->partitions[r->partition_id];
    if (r->isr_count >= 0) {
        free(p->isr);
        p->nisr = r->isr_count;
        p->isr = copy_i32(r->isr, r->isr_count);
    }
    if (r->replicas_count >= 0) {
        count_replicas(&core->image, p->replicas, p->nreplicas, -1);
        free(p->replicas);
        p->nreplicas = r->replicas_count;
        p->replicas = copy_i32(r->replicas, r->replicas_count);
        if (!p->replicas)
            p->nreplicas = 0;
        count_replicas(&core->image, p->replicas, p->nreplicas, 1);
    }
    if (r->adding_replicas_count >= 0) {
        free(p->adding);
        p->nadding = r->adding_replicas_count;
        p->adding = p->nadding ? copy_i32(r->adding_replicas, p->nadding) : NULL;
        if (!p->adding)
            p->nadding = 0;
    }
    if (r->removing_replicas_count >= 0) {
        free(p->removing);
        p->nremoving = r->removing_replicas_count;
        p->removing = p->nremoving ? copy_i32(r->removing_replicas, p->nremoving) : NULL;
        if (!p->removing)
            p->nremoving = 0;
    }
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

static int apply_remove_topic(od_core_t *core, const od_RemoveTopicRecord_t *r, char *err,
                              size_t errsz)
{
    od_topic_t *t = od_image_topic_by_id(&core->image, &r->topic_id);
    if (!t) {
        snprintf(err, errsz, "RemoveTopicRecord for unknown topic id");
        return -1;
    }
    remove_topic(core, t);
    return 0;
}

static void remove_topic(od_core_t *core, od_topic_t *t)
{
    unlink_topic(&core->image, t);
    for (int32_t i = 0; i < t->npartitions; i++) {
        od_partition_t *p = t->partitions[i];
        count_replicas(&core->image, p->replicas, p->nreplicas, -1);
        od_fetch_partition_removed(core, p);
        char why[700];
        /* An offline replica's directory may open now (say, file descriptors
         * were freed); a directory that stays behind would come back as the
         * log of a new topic of the same name, so say so loudly. */
        if (p->offline && od_partition_open_log(core, p, why, sizeof(why)) < 0)
            od_logf(OD_LOG_ERROR, "topic %s partition %d: offline log not deleted: %s", t->name,
                    i, why);
        if (p->log && od_partition_delete_log(core, p, why, sizeof(why)) < 0)
            od_logf(OD_LOG_WARN, "topic %s partition %d: deleting log: %s", t->name, i, why);
    }
    od_logf(OD_LOG_INFO, "topic %s deleted", t->name);
    free_topic(core, t);
}

/* ---- installing a snapshot (od_metadata_reset_*) ---- */

static void free_kvs(od_kv_t **kv, size_t *n)
{
    for (size_t i = 0; i < *n; i++) {
        free((*kv)[i].key);
        free((*kv)[i].value);
    }
    free(*kv);
    *kv = NULL;
    *n = 0;
}

/* A topic the snapshot holds with the same id: its configs are the
 * snapshot's from now on (ConfigRecords follow), partitions are updated in
 * place by the PartitionRecords. */
static void reset_keep_topic(od_core_t *core, od_topic_t *t)
{
    t->reset_seen = 1;
    free_kvs(&t->configs, &t->nconfigs);
    od_topic_cfg_resolve(core, t, NULL, &t->cfg);
    for (int32_t i = 0; i < t->npartitions; i++)
        od_partition_reconfigure(core, t->partitions[i]);
}

void od_metadata_reset_begin(od_core_t *core)
{
    od_image_t *img = &core->image;
    img->resetting = 1;
    for (od_topic_t *t = od_image_next_topic(img, NULL); t; t = od_image_next_topic(img, t))
        t->reset_seen = 0;
    for (size_t i = 0; i < img->nbrokers; i++)
        img->brokers[i].reset_seen = 0;
    free_kvs(&img->broker_configs, &img->nbroker_configs);
    free_kvs(&img->broker_default_configs, &img->nbroker_default_configs);
    img->next_producer_id = 0;
    /* ACL bindings, SCRAM credentials and schemas come back with the
     * snapshot's records; one the snapshot lacks was removed while this node
     * was behind and must not survive (a stale ACL or password would). */
    for (const od_acl_entry_t *e = od_acls_next(img, NULL); e; e = od_acls_next(img, e))
        od_authz_acl_removed(core, e->id);
    od_acls_free(img);
    od_scram_store_free(core);
    od_schema_store_free(core);
}

void od_metadata_reset_end(od_core_t *core)
{
    od_image_t *img = &core->image;
    img->resetting = 0;
    od_topic_t *t = od_image_next_topic(img, NULL);
    while (t) {
        od_topic_t *next = od_image_next_topic(img, t);
        if (!t->reset_seen)
            remove_topic(core, t);
        t = next;
    }
    size_t kept = 0;
    for (size_t i = 0; i < img->nbrokers; i++) {
        if (img->brokers[i].reset_seen) {
            img->brokers[kept++] = img->brokers[i];
        } else {
            od_logf(OD_LOG_INFO, "broker %d is not in the installed snapshot: dropped",
                    (int)img->brokers[i].id);
            free_broker(&img->brokers[i]);
        }
    }
    img->nbrokers = kept;
}

static int apply_config(od_core_t *core, const od_ConfigRecord_t *r, char *err, size_t errsz)
{
    if (r->name.len <= 0) {
        snprintf(err, errsz, "ConfigRecord without a name");
        return -1;
    }
    if (r->resource_type == CONFIG_RESOURCE_TOPIC) {
        od_topic_t *t = od_image_topic(&core->image, r->resource_name.p,
                                       r->resource_name.len > 0 ? (size_t)r->resource_name.len : 0);
        if (!t) {
            /* A config change proposed in the same loop turn as the topic's
             * deletion lands after it. Refusing it would stop the control
             * plane now and the replay at every start; the topic is gone, so
             * its config is moot. */
            od_logf(OD_LOG_WARN, "ConfigRecord for topic %.*s, which does not exist (deleted "
                    "before it was committed): skipped",
                    r->resource_name.len > 0 ? (int)r->resource_name.len : 0, r->resource_name.p);
            return 0;
        }
        if (set_kv(&t->configs, &t->nconfigs, r->name.p, (size_t)r->name.len, r->value.p,
                   r->value.len) < 0)
            goto oom;
        char key[256];
        snprintf(key, sizeof(key), "%.*s", (int)r->name.len, r->name.p);
        od_topic_cfg_resolve(core, t, key, &t->cfg);
        for (int32_t i = 0; i < t->npartitions; i++)
            od_partition_reconfigure(core, t->partitions[i]);
        return 0;
    }
    if (r->resource_type == CONFIG_RESOURCE_BROKER) /* od_metadata_configs.c */
        return od_metadata_apply_broker_config(core, r->resource_name.p, r->resource_name.len,
                                               r->name.p, r->name.len, r->value.p, r->value.len,
                                               err, errsz);
    return 0; /* other resource types (client quotas, groups) come later */
oom:
    snprintf(err, errsz, "out of memory");
    return -1;
}

static int apply_register_broker(od_core_t *core, const od_RegisterBrokerRecord_t *r, char *err,
                                 size_t errsz)
{
    od_image_t *img = &core->image;
    od_broker_reg_t *b = NULL;
    int64_t nreplicas = 0, npending = 0; /* survive a re-registration */
    for (size_t i = 0; i < img->nbrokers; i++)
        if (img->brokers[i].id == r->broker_id) {
            b = &img->brokers[i];
            nreplicas = b->nreplicas;
            npending = b->npending;
            free_broker(b);
        }
    if (!b) {
        od_broker_reg_t *a = realloc(img->brokers, (img->nbrokers + 1) * sizeof(*a));
        if (!a)
            goto oom;
        img->brokers = a;
        b = &a[img->nbrokers++];
    }
    memset(b, 0, sizeof(*b));
    b->reset_seen = 1;
    b->id = r->broker_id;
    b->incarnation = r->incarnation_id;
    b->epoch = r->broker_epoch;
    /* Fenced until the active controller unfences it (its own broker and a
     * single node register unfenced; BrokerRegistration fenced). */
    b->fenced = r->fenced != 0;
    b->nreplicas = nreplicas;
    b->npending = npending;
    if (r->rack.len >= 0)
        b->rack = strndup(r->rack.p, (size_t)r->rack.len);
    if (r->end_points_count > 0) {
        b->endpoints = calloc((size_t)r->end_points_count, sizeof(*b->endpoints));
        if (!b->endpoints)
            goto oom;
        for (int32_t i = 0; i < r->end_points_count; i++) {
            const od_RegisterBrokerRecord_BrokerEndpoint_t *e = &r->end_points[i];
            od_endpoint_t *o = &b->endpoints[i];
            o->name = strndup(e->name.p, e->name.len > 0 ? (size_t)e->name.len : 0);
            o->host = strndup(e->host.p, e->host.len > 0 ? (size_t)e->host.len : 0);
            o->port = e->port;
            o->security_protocol = e->security_protocol;
            b->nendpoints++;
        }
    }
    return 0;
oom:
    snprintf(err, errsz, "out of memory");
    return -1;
}

/* FenceBrokerRecord / UnfenceBrokerRecord: for the registration
 * they name (its broker epoch); a stale one changes nothing. */
static int apply_fencing(od_core_t *core, int32_t id, int64_t epoch, int fenced)
{
    for (size_t i = 0; i < core->image.nbrokers; i++)
        if (core->image.brokers[i].id == id && core->image.brokers[i].epoch == epoch)
            core->image.brokers[i].fenced = fenced;
    return 0;
}

static int apply_fence(od_core_t *core, const od_FenceBrokerRecord_t *r, char *err, size_t errsz)
{
    (void)err, (void)errsz;
    return apply_fencing(core, r->id, r->epoch, 1);
}

static int apply_unfence(od_core_t *core, const od_UnfenceBrokerRecord_t *r, char *err,
                         size_t errsz)
{
    (void)err, (void)errsz;
    return apply_fencing(core, r->id, r->epoch, 0);
}

int od_metadata_apply(od_core_t *core, const uint8_t *rec, size_t len, int64_t offset, char *err,
                      size_t errsz)
{
    od_slice_t s;
    od_slice_init(&s, rec, len);
    int16_t key, ver;
    if (od_metarec_peek(&s, &key, &ver) < 0) {
        snprintf(err, errsz, "metadata record at offset %" PRId64 ": bad header", offset);
        return -1;
    }
    od_arena_t a;
    od_arena_init(&a, 0);
    int rc = 0;
    char why[256] = "";
#define DECODE_APPLY(T, fn)                                                                        \
    do {                                                                                           \
        od_##T##_t r;                                                                              \
        if (od_##T##_decode(&s, ver, &a, &r) < 0) {                                                \
            snprintf(why, sizeof(why), #T " v%d does not decode", ver);                            \
            rc = -1;                                                                               \
        } else                                                                                     \
            rc = fn(core, &r, why, sizeof(why));                                                   \
    } while (0)
    switch (key) {
    case OD_METAREC_TOPIC:
        DECODE_APPLY(TopicRecord, apply_topic);
        break;
    case OD_METAREC_PARTITION:
        DECODE_APPLY(PartitionRecord, apply_partition);
        break;
    case OD_METAREC_PARTITION_CHANGE:
        DECODE_APPLY(PartitionChangeRecord, apply_partition_change);
        break;
    case OD_METAREC_REMOVE_TOPIC:
        DECODE_APPLY(RemoveTopicRecord, apply_remove_topic);
        break;
    case OD_METAREC_CONFIG:
        DECODE_APPLY(ConfigRecord, apply_config);
        break;
    case OD_METAREC_REGISTER_BROKER:
        DECODE_APPLY(RegisterBrokerRecord, apply_register_broker);
        break;
    case OD_METAREC_ACCESS_CONTROL_ENTRY:
        DECODE_APPLY(AccessControlEntryRecord, od_acls_apply_add);
        break;
    case OD_METAREC_REMOVE_ACCESS_CONTROL_ENTRY:
        DECODE_APPLY(RemoveAccessControlEntryRecord, od_acls_apply_remove);
        break;
    case OD_METAREC_FENCE_BROKER:
        DECODE_APPLY(FenceBrokerRecord, apply_fence);
        break;
    case OD_METAREC_UNFENCE_BROKER:
        DECODE_APPLY(UnfenceBrokerRecord, apply_unfence);
        break;
    case OD_METAREC_PRODUCER_IDS: {
        od_ProducerIdsRecord_t r;
        if (od_ProducerIdsRecord_decode(&s, ver, &a, &r) < 0) {
            snprintf(why, sizeof(why), "ProducerIdsRecord does not decode");
            rc = -1;
        } else
            core->image.next_producer_id = r.next_producer_id;
        break;
    }
    case OD_METAREC_USER_SCRAM_CREDENTIAL:
    case OD_METAREC_REMOVE_USER_SCRAM_CREDENTIAL:
        rc = od_scram_store_apply(core, key, ver, &s, why, sizeof(why));
        break;
    case OD_METAREC_SCHEMA: /* the schema registry (core/schema/) */
    case OD_METAREC_REMOVE_SCHEMA_SUBJECT:
    case OD_METAREC_SCHEMA_CONFIG:
        rc = od_schema_store_apply(core, key, ver, &s, why, sizeof(why));
        break;
    default:
        /* Records this broker does not act on (features, no-ops, ...) are
         * skipped: a newer controller may write them. */
        break;
    }
#undef DECODE_APPLY
    od_arena_free(&a);
    if (rc < 0) {
        snprintf(err, errsz, "metadata record at offset %" PRId64 " (type %d): %s", offset, key,
                 why);
        return -1;
    }
    core->image.last_offset = offset;
    return 0;
}

/* ---- proposing ---- */

typedef struct od_recset {
    od_wbuf_t *bufs;
    size_t n, cap;
} od_recset_t;

static od_wbuf_t *recset_add(od_recset_t *rs, int16_t key, int16_t ver)
{
    if (rs->n == rs->cap) {
        size_t c = rs->cap ? rs->cap * 2 : 8;
        od_wbuf_t *b = realloc(rs->bufs, c * sizeof(*b));
        if (!b)
            return NULL;
        rs->bufs = b;
        rs->cap = c;
    }
    od_wbuf_t *w = &rs->bufs[rs->n++];
    od_wbuf_init(w);
    od_metarec_frame(w, key, ver);
    return w;
}

static void recset_free(od_recset_t *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        od_wbuf_free(&rs->bufs[i]);
    free(rs->bufs);
}

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
        creating_remove(img, p->creating);
    p->creating = NULL;
    od_topic_t *t = (p->deleting || p->adding_to) ? od_image_topic_by_id(img, &p->topic_id) : NULL;
    if (t && p->deleting) /* still there: the deletion failed */
        t->deleting = 0;
    if (t && p->adding_to && t->adding_to == p->adding_to)
        t->adding_to = 0;
    p->deleting = 0;
    p->adding_to = 0;
}

static void reserve(od_image_t *img, const int32_t *placed, size_t n, int64_t delta)
{
    for (size_t i = 0; i < n; i++)
        for (size_t b = 0; b < img->nbrokers; b++)
            if (img->brokers[b].id == placed[i])
                img->brokers[b].npending += delta;
}

static void proposal_done(void *arg, int status, const char *msg)
{
    od_proposal_t *p = arg;
    int16_t code = status == 0 ? OD_ERR_NONE : (status < 0 && status > -1000 ? (int16_t)-status : OD_ERR_UNKNOWN_SERVER_ERROR);
    /* Committed replicas are in nreplicas now (apply came first). */
    /* At shutdown the control plane fails what it could not apply after
     * the image is gone (od_image_free zeroes it): nothing to release. */
    if (p->core->image.nbuckets) {
        reserve(&p->core->image, p->placed, p->nplaced, -1);
        release(&p->core->image, p);
    }
    if (p->cb)
        p->cb(p->arg, code, msg);
    free(p->placed);
    free(p);
}

/* placed (owned, may be NULL): the replicas the records put on brokers. */
static int recset_propose_held(od_core_t *core, od_recset_t *rs, int32_t *placed, size_t nplaced,
                               const od_proposal_t *held, od_meta_done_cb cb, void *arg, char *err,
                               size_t errsz);

static int recset_propose(od_core_t *core, od_recset_t *rs, int32_t *placed, size_t nplaced,
                          od_meta_done_cb cb, void *arg, char *err, size_t errsz)
{
    return recset_propose_held(core, rs, placed, nplaced, NULL, cb, arg, err, errsz);
}

/* held: what the proposal holds (released when done, or at once when it
 * cannot be proposed). */
static int recset_propose_held(od_core_t *core, od_recset_t *rs, int32_t *placed, size_t nplaced,
                               const od_proposal_t *held, od_meta_done_cb cb, void *arg, char *err,
                               size_t errsz)
{
    od_proposal_t hold = {0};
    if (held)
        hold = *held;
    int rc = -1;
    od_meta_record_t *recs = calloc(rs->n ? rs->n : 1, sizeof(*recs));
    uint8_t **flat = calloc(rs->n ? rs->n : 1, sizeof(*flat));
    od_proposal_t *p = calloc(1, sizeof(*p));
    if (!recs || !flat || !p) {
        snprintf(err, errsz, "out of memory");
        release(&core->image, &hold);
        goto out;
    }
    *p = hold;
    p->core = core;
    for (size_t i = 0; i < rs->n; i++) {
        if (rs->bufs[i].err || !(flat[i] = od_wbuf_flatten(&rs->bufs[i], &recs[i].len))) {
            snprintf(err, errsz, "out of memory");
            release(&core->image, p);
            goto out;
        }
        recs[i].data = flat[i];
    }
    if (!core->cp) {
        snprintf(err, errsz, "no control plane");
        release(&core->image, p);
        goto out;
    }
    p->cb = cb;
    p->arg = arg;
    p->placed = placed;
    p->nplaced = nplaced;
    placed = NULL;
    reserve(&core->image, p->placed, p->nplaced, 1);
    if (core->cp->propose(core->cp_self, recs, rs->n, proposal_done, p, err, errsz) < 0) {
        reserve(&core->image, p->placed, p->nplaced, -1);
        release(&core->image, p);
        placed = p->placed;
        goto out;
    }
    p = NULL; /* owned by the callback now */
    rc = 0;
out:
    free(placed);
    free(p);
    for (size_t i = 0; flat && i < rs->n; i++)
        free(flat[i]);
    free(flat);
    free(recs);
    recset_free(rs);
    return rc;
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

static void add_partition_record(od_recset_t *rs, const od_uuid_t *topic_id, int32_t index,
                                 int32_t *replicas, int32_t nreplicas)
{
    od_PartitionRecord_t pr;
    od_PartitionRecord_init(&pr);
    pr.partition_id = index;
    pr.topic_id = *topic_id;
    pr.replicas_count = nreplicas;
    pr.replicas = replicas;
    pr.isr_count = nreplicas;
    pr.isr = replicas;
    pr.removing_replicas_count = 0;
    pr.adding_replicas_count = 0;
    pr.leader = replicas[0];
    pr.leader_epoch = 0;
    pr.partition_epoch = 0;
    od_wbuf_t *w = recset_add(rs, OD_METAREC_PARTITION, 0);
    if (w)
        od_PartitionRecord_encode(w, 0, &pr);
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
    struct od_creating *busy = creating_find(&core->image, nt->name, nt->name_len);
    if (busy) {
        if (busy->len == nt->name_len && memcmp(busy->name, nt->name, nt->name_len) == 0) {
            snprintf(err, errsz, "Topic '%.*s' is already being created.", (int)nt->name_len,
                     nt->name);
            return -OD_ERR_TOPIC_ALREADY_EXISTS;
        }
        snprintf(err, errsz, "Topic '%.*s' collides with topic '%.80s' being created ('.' and '_' "
                 "collide)", (int)nt->name_len, nt->name, busy->name);
        return -OD_ERR_INVALID_TOPIC_EXCEPTION;
    }
    od_recset_t rs = {0};
    od_TopicRecord_t tr;
    od_TopicRecord_init(&tr);
    tr.name.p = nt->name;
    tr.name.len = (int32_t)nt->name_len;
    do
        randombytes_buf(tr.topic_id.b, sizeof(tr.topic_id.b));
    while (od_image_topic_by_id(&core->image, &tr.topic_id));
    od_wbuf_t *w = recset_add(&rs, OD_METAREC_TOPIC, 0);
    if (w)
        od_TopicRecord_encode(w, 0, &tr);
    for (size_t i = 0; i < nt->nconfigs; i++) {
        od_ConfigRecord_t cr;
        od_ConfigRecord_init(&cr);
        cr.resource_type = CONFIG_RESOURCE_TOPIC;
        cr.resource_name = tr.name;
        cr.name = od_str_c(nt->configs[i].key);
        cr.value = od_str_c(nt->configs[i].value);
        if ((w = recset_add(&rs, OD_METAREC_CONFIG, 0)))
            od_ConfigRecord_encode(w, 0, &cr);
    }
    int32_t replicas[64];
    if (nt->replication_factor > 64) {
        snprintf(err, errsz, "replication factor %d is too large", nt->replication_factor);
        recset_free(&rs);
        return -1;
    }
    if (nt->partitions > OD_MAX_RECORDS_PER_USER_OP) { /* before any allocation */
        recset_free(&rs);
        return check_limits(core, (size_t)nt->partitions + 1 + nt->nconfigs, NULL, 0, err, errsz);
    }
    size_t nplaced = 0;
    size_t per = nt->assignments ? 64 : (size_t)(nt->replication_factor > 0 ? nt->replication_factor : 1);
    int32_t *placed = calloc((size_t)(nt->partitions > 0 ? nt->partitions : 1) * per, sizeof(*placed));
    if (!placed) {
        snprintf(err, errsz, "out of memory");
        recset_free(&rs);
        return -1;
    }
    for (int32_t i = 0; i < nt->partitions; i++) {
        const int32_t *reps = replicas;
        int32_t nreps = nt->replication_factor;
        if (nt->assignments) {
            reps = nt->assignments[i].brokers;
            nreps = nt->assignments[i].n > 64 ? 64 : nt->assignments[i].n;
        } else if ((nreps = od_place_partition(&core->image, &tr.topic_id, i,
                                               nt->replication_factor, replicas, err, errsz)) < 0) {
            recset_free(&rs);
            free(placed);
            return nreps;
        } else {
            nreps = nt->replication_factor;
        }
        add_partition_record(&rs, &tr.topic_id, i, (int32_t *)reps, nreps);
        memcpy(placed + nplaced, reps, (size_t)nreps * sizeof(*reps));
        nplaced += (size_t)nreps;
    }
    int rc = check_limits(core, rs.n, placed, nplaced, err, errsz);
    if (rc < 0) {
        recset_free(&rs);
        free(placed);
        return rc;
    }
    od_proposal_t held = {0};
    if (!(held.creating = creating_add(&core->image, nt->name, nt->name_len))) {
        snprintf(err, errsz, "out of memory");
        recset_free(&rs);
        free(placed);
        return -1;
    }
    return recset_propose_held(core, &rs, placed, nplaced, &held, cb, arg, err, errsz);
}

int od_metadata_delete_topic(od_core_t *core, od_topic_t *t, od_meta_done_cb cb, void *arg,
                             char *err, size_t errsz)
{
    if (t->deleting) { /* a second RemoveTopicRecord would not apply */
        snprintf(err, errsz, "Topic '%s' is already being deleted.", t->name);
        return -OD_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    od_recset_t rs = {0};
    od_RemoveTopicRecord_t r;
    od_RemoveTopicRecord_init(&r);
    r.topic_id = t->id;
    od_wbuf_t *w = recset_add(&rs, OD_METAREC_REMOVE_TOPIC, 0);
    if (w)
        od_RemoveTopicRecord_encode(w, 0, &r);
    od_proposal_t held = {0};
    held.deleting = 1;
    held.topic_id = t->id;
    t->deleting = 1;
    return recset_propose_held(core, &rs, NULL, 0, &held, cb, arg, err, errsz);
}

int od_metadata_add_partitions(od_core_t *core, od_topic_t *t, int32_t new_total,
                               const od_assignment_t *assignments, od_meta_done_cb cb, void *arg,
                               char *err, size_t errsz)
{
    od_recset_t rs = {0};
    int32_t rf = t->npartitions > 0 ? t->partitions[0]->nreplicas : 1;
    int32_t replicas[64];
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
    int64_t add = (int64_t)new_total - t->npartitions;
    if (add <= 0)
        return recset_propose(core, &rs, NULL, 0, cb, arg, err, errsz);
    if (add > OD_MAX_RECORDS_PER_USER_OP)
        return check_limits(core, (size_t)add, NULL, 0, err, errsz);
    size_t nplaced = 0;
    int32_t *placed = calloc((size_t)add * (assignments ? 64 : (size_t)rf), sizeof(*placed));
    if (!placed) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    for (int32_t i = t->npartitions; i < new_total; i++) {
        const int32_t *reps = replicas;
        int32_t nreps = rf;
        if (assignments) {
            const od_assignment_t *a = &assignments[i - t->npartitions];
            reps = a->brokers;
            nreps = a->n > 64 ? 64 : a->n;
        } else if ((nreps = od_place_partition(&core->image, &t->id, i, rf, replicas, err,
                                               errsz)) < 0) {
            recset_free(&rs);
            free(placed);
            return nreps;
        } else {
            nreps = rf;
        }
        add_partition_record(&rs, &t->id, i, (int32_t *)reps, nreps);
        memcpy(placed + nplaced, reps, (size_t)nreps * sizeof(*reps));
        nplaced += (size_t)nreps;
    }
    int rc = check_limits(core, rs.n, placed, nplaced, err, errsz);
    if (rc < 0) {
        recset_free(&rs);
        free(placed);
        return rc;
    }
    od_proposal_t held = {0};
    held.adding_to = new_total;
    held.topic_id = t->id;
    t->adding_to = new_total;
    return recset_propose_held(core, &rs, placed, nplaced, &held, cb, arg, err, errsz);
}

int od_metadata_propose_broker(od_core_t *core, od_RegisterBrokerRecord_t *r, od_meta_done_cb cb,
                               void *arg, char *err, size_t errsz)
{
    od_recset_t rs = {0};
    r->broker_epoch = core->image.last_offset + 1;
    od_wbuf_t *w = recset_add(&rs, OD_METAREC_REGISTER_BROKER, 1);
    if (w)
        od_RegisterBrokerRecord_encode(w, 1, r);
    return recset_propose(core, &rs, NULL, 0, cb, arg, err, errsz);
}

int od_metadata_self_registered(od_core_t *core, const od_endpoint_t *eps, size_t neps)
{
    const od_broker_reg_t *cur = od_image_broker(&core->image, (int32_t)core->conf.node_id);
    int same = cur && cur->nendpoints == neps;
    for (size_t i = 0; same && i < neps; i++)
        same = strcmp(cur->endpoints[i].host, eps[i].host) == 0 &&
               cur->endpoints[i].port == eps[i].port &&
               strcmp(cur->endpoints[i].name, eps[i].name) == 0;
    const char *rack = core->conf.broker_rack && *core->conf.broker_rack ? core->conf.broker_rack : NULL;
    return same && ((cur->rack == NULL) == (rack == NULL)) && (!rack || strcmp(rack, cur->rack) == 0);
}

int od_metadata_register_self(od_core_t *core, char *err, size_t errsz)
{
    int32_t id = (int32_t)core->conf.node_id;
    od_endpoint_t eps[8];
    size_t neps = 0;
    if (od_listeners_advertised(core, eps, 8, &neps, err, errsz) < 0)
        return -1;
    if (od_metadata_self_registered(core, eps, neps)) {
        od_listeners_advertised_free(eps, neps);
        return 0;
    }
    const char *rack = core->conf.broker_rack && *core->conf.broker_rack ? core->conf.broker_rack : NULL;
    od_RegisterBrokerRecord_t r;
    od_RegisterBrokerRecord_init(&r);
    r.broker_id = id;
    randombytes_buf(r.incarnation_id.b, 16);
    od_RegisterBrokerRecord_BrokerEndpoint_t rep[8];
    for (size_t i = 0; i < neps; i++) {
        memset(&rep[i], 0, sizeof(rep[i]));
        rep[i].name = od_str_c(eps[i].name);
        rep[i].host = od_str_c(eps[i].host);
        rep[i].port = (uint16_t)eps[i].port;
        rep[i].security_protocol = eps[i].security_protocol;
    }
    r.end_points_count = (int32_t)neps;
    r.end_points = rep;
    r.features_count = 0;
    r.rack = od_str_c(rack);
    r.fenced = 0;
    int rc = od_metadata_propose_broker(core, &r, NULL, NULL, err, errsz);
    od_listeners_advertised_free(eps, neps);
    return rc;
}

static void snap_broker(od_recset_t *rs, const od_broker_reg_t *b)
{
    od_RegisterBrokerRecord_t r;
    od_RegisterBrokerRecord_init(&r);
    r.broker_id = b->id;
    r.incarnation_id = b->incarnation;
    r.broker_epoch = b->epoch;
    od_RegisterBrokerRecord_BrokerEndpoint_t eps[16];
    size_t n = b->nendpoints < 16 ? b->nendpoints : 16;
    for (size_t i = 0; i < n; i++) {
        memset(&eps[i], 0, sizeof(eps[i]));
        eps[i].name = od_str_c(b->endpoints[i].name);
        eps[i].host = od_str_c(b->endpoints[i].host);
        eps[i].port = (uint16_t)b->endpoints[i].port;
        eps[i].security_protocol = b->endpoints[i].security_protocol;
    }
    r.end_points_count = (int32_t)n;
    r.end_points = eps;
    r.features_count = 0;
    r.rack = od_str_c(b->rack);
    r.fenced = (int8_t)b->fenced;
    od_wbuf_t *w = recset_add(rs, OD_METAREC_REGISTER_BROKER, 1);
    if (w)
        od_RegisterBrokerRecord_encode(w, 1, &r);
}

static void snap_config(od_recset_t *rs, int8_t type, const char *resource, const od_kv_t *kv)
{
    od_ConfigRecord_t cr;
    od_ConfigRecord_init(&cr);
    cr.resource_type = type;
    cr.resource_name = od_str_c(resource);
    cr.name = od_str_c(kv->key);
    cr.value = od_str_c(kv->value);
    od_wbuf_t *w = recset_add(rs, OD_METAREC_CONFIG, 0);
    if (w)
        od_ConfigRecord_encode(w, 0, &cr);
}

static void snap_topic(od_recset_t *rs, const od_topic_t *t)
{
    od_TopicRecord_t tr;
    od_TopicRecord_init(&tr);
    tr.name = od_str_c(t->name);
    tr.topic_id = t->id;
    od_wbuf_t *w = recset_add(rs, OD_METAREC_TOPIC, 0);
    if (w)
        od_TopicRecord_encode(w, 0, &tr);
    for (size_t i = 0; i < t->nconfigs; i++)
        snap_config(rs, CONFIG_RESOURCE_TOPIC, t->name, &t->configs[i]);
    for (int32_t i = 0; i < t->npartitions; i++) {
        const od_partition_t *p = t->partitions[i];
        od_PartitionRecord_t pr;
        od_PartitionRecord_init(&pr);
        pr.partition_id = p->index;
        pr.topic_id = t->id;
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
        if ((w = recset_add(rs, OD_METAREC_PARTITION, 0)))
            od_PartitionRecord_encode(w, 0, &pr);
    }
}

/* Records that rebuild the current image from nothing, in an order that
 * od_metadata_apply accepts (brokers, then each topic with its configs and
 * partitions, then broker configs, ACLs and the producer id block). */
int od_metadata_snapshot(od_core_t *core, od_meta_record_t **recs, size_t *n)
{
    od_image_t *img = &core->image;
    od_recset_t rs = {0};
    *recs = NULL;
    *n = 0;
    for (size_t i = 0; i < img->nbrokers; i++)
        snap_broker(&rs, &img->brokers[i]);
    for (od_topic_t *t = od_image_next_topic(img, NULL); t; t = od_image_next_topic(img, t))
        snap_topic(&rs, t);
    char id[24];
    snprintf(id, sizeof(id), "%lld", (long long)core->conf.node_id);
    for (size_t i = 0; i < img->nbroker_configs; i++)
        snap_config(&rs, CONFIG_RESOURCE_BROKER, id, &img->broker_configs[i]);
    for (size_t i = 0; i < img->nbroker_default_configs; i++)
        snap_config(&rs, CONFIG_RESOURCE_BROKER, "", &img->broker_default_configs[i]);
    for (const od_acl_entry_t *e = od_acls_next(img, NULL); e; e = od_acls_next(img, e)) {
        od_wbuf_t *w = recset_add(&rs, OD_METAREC_ACCESS_CONTROL_ENTRY, 0);
        if (w)
            od_acls_encode(e, w);
    }
    if (img->next_producer_id > 0) {
        od_ProducerIdsRecord_t pr;
        od_ProducerIdsRecord_init(&pr);
        pr.broker_id = (int32_t)core->conf.node_id;
        pr.next_producer_id = img->next_producer_id;
        od_wbuf_t *w = recset_add(&rs, OD_METAREC_PRODUCER_IDS, 0);
        if (w)
            od_ProducerIdsRecord_encode(w, 0, &pr);
    }
    od_meta_record_t *out = calloc(rs.n ? rs.n : 1, sizeof(*out));
    int rc = out ? 0 : -1;
    size_t nout = rs.n;
    for (size_t i = 0; rc == 0 && i < rs.n; i++) {
        uint8_t *flat = rs.bufs[i].err ? NULL : od_wbuf_flatten(&rs.bufs[i], &out[i].len);
        if (!flat)
            rc = -1;
        out[i].data = flat;
    }
    if (rc == 0 && od_scram_store_snapshot(core, &out, &nout) < 0)
        rc = -1; /* SCRAM credentials (UserScramCredentialRecord) last */
    if (rc == 0 && od_schema_store_snapshot(core, &out, &nout) < 0)
        rc = -1; /* then the schema registry's records */
    if (rc < 0) {
        for (size_t i = 0; out && i < nout; i++)
            free((void *)out[i].data);
        free(out);
    } else {
        *recs = out;
        *n = nout;
    }
    recset_free(&rs);
    return rc;
}
