/* od_metadata.c - the metadata image's core: its hash tables and lookups,
 * topics and topic configs as records apply them, and od_metadata_apply,
 * which hands every committed record to its owner. The rest of the image
 * is in od_metadata_partitions.c (partition records, reassignment moves),
 * od_metadata_brokers.c (registration, fencing), od_metadata_propose.c
 * (topic proposals) and od_metadata_snapshot.c (snapshots, image reset). */
#include "od_metadata.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_acls.h"
#include "od_core.h"
#include "od_handlers.h"
#include "od_metadata_configs.h"
#include "od_metadata_int.h"
#include "od_nameset.h"
#include "od_repl.h"
#include "od_schema.h"
#include "od_scram_store.h"
#include "od_topic_config.h"
#include "od_topicname.h"

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

/* Equal once '.' and '_' are read as the same character. */
static int same_norm(const char *a, const char *b, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((a[i] == '.' ? '_' : a[i]) != (b[i] == '.' ? '_' : b[i]))
            return 0;
    return 1;
}

od_topic_t *od_image_topic_colliding(const od_image_t *img, const char *name, size_t len)
{
    if (!img->norm_buckets)
        return NULL;
    for (od_topic_t *t = img->norm_buckets[hash_norm(name, len) % img->nbuckets]; t;
         t = t->next_by_norm) {
        if (strlen(t->name) == len && same_norm(t->name, name, len))
            return t;
    }
    return NULL;
}

/* ---- topics being created (struct od_creating, od_metadata_int.h) ---- */

struct od_creating *od_image_creating_find(const od_image_t *img, const char *name,
                                           size_t len)
{
    if (!img->creating)
        return NULL;
    for (struct od_creating *c = img->creating[hash_norm(name, len) % OD_CREATING_BUCKETS]; c;
         c = c->next)
        if (c->len == len && same_norm(c->name, name, len))
            return c;
    return NULL;
}

struct od_creating *od_image_creating_add(od_image_t *img, const char *name, size_t len)
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

void od_image_creating_remove(od_image_t *img, struct od_creating *c)
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

/* ---- freeing ---- */

void od_kvs_free(od_kv_t **kv, size_t *n)
{
    for (size_t i = 0; i < *n; i++) {
        free((*kv)[i].key);
        free((*kv)[i].value);
    }
    free(*kv);
    *kv = NULL;
    *n = 0;
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
    od_kvs_free(&t->configs, &t->nconfigs);
    free(t->partitions);
    free(t->name);
    free(t);
}

void od_image_free_broker(od_broker_reg_t *b)
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
        od_image_free_broker(&img->brokers[i]);
    od_kvs_free(&img->broker_configs, &img->nbroker_configs);
    od_kvs_free(&img->broker_default_configs, &img->nbroker_default_configs);
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

int od_kv_set(od_kv_t **arr, size_t *n, const char *key, size_t klen, const char *value,
              int32_t vlen)
{
    for (size_t i = 0; i < *n; i++) {
        if (strlen((*arr)[i].key) == klen && memcmp((*arr)[i].key, key, klen) == 0) {
            if (vlen < 0) {
                free((*arr)[i].key);
                free((*arr)[i].value);
                (*arr)[i] = (*arr)[--*n];
                return 0;
            }
            char *nv = strndup(value, (size_t)vlen);
            if (!nv)
                return -1;
            free((*arr)[i].value);
            (*arr)[i].value = nv;
            return 0;
        }
    }
    if (vlen < 0)
        return 0;
    od_kv_t *a = realloc(*arr, (*n + 1) * sizeof(**arr));
    if (!a)
        return -1;
    *arr = a;
    char *k = strndup(key, klen), *v = strndup(value, (size_t)vlen);
    if (!k || !v) {
        free(k);
        free(v);
        return -1;
    }
    a[*n].key = k;
    a[*n].value = v;
    (*n)++;
    return 0;
}

void od_image_count_replicas(od_image_t *img, const int32_t *reps, size_t n, int64_t delta,
                             int pending)
{
    for (size_t i = 0; i < n; i++)
        for (size_t b = 0; b < img->nbrokers; b++)
            if (img->brokers[b].id == reps[i]) {
                if (pending)
                    img->brokers[b].npending += delta;
                else
                    img->brokers[b].nreplicas += delta;
            }
}

/* ---- applying topic and config records ---- */

static int apply_topic(od_core_t *core, const od_TopicRecord_t *r, char *err, size_t errsz)
{
    od_image_t *img = &core->image;
    if (r->name.len <= 0) {
        snprintf(err, errsz, "TopicRecord without a name");
        return -1;
    }
    od_topic_t *old = od_image_topic(img, r->name.p, (size_t)r->name.len);
    if (old && img->resetting && memcmp(old->id.b, r->topic_id.b, 16) == 0) {
        od_metadata_reset_keep_topic(core, old); /* same topic: its logs stay open */
        return 0;
    }
    if (old && img->resetting) {
        od_image_remove_topic(core, old); /* the name now belongs to another topic */
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

static int apply_remove_topic(od_core_t *core, const od_RemoveTopicRecord_t *r, char *err,
                              size_t errsz)
{
    od_topic_t *t = od_image_topic_by_id(&core->image, &r->topic_id);
    if (!t) {
        snprintf(err, errsz, "RemoveTopicRecord for unknown topic id");
        return -1;
    }
    od_image_remove_topic(core, t);
    return 0;
}

void od_image_remove_topic(od_core_t *core, od_topic_t *t)
{
    unlink_topic(&core->image, t);
    for (int32_t i = 0; i < t->npartitions; i++) {
        od_partition_t *p = t->partitions[i];
        od_image_count_replicas(&core->image, p->replicas, (size_t)p->nreplicas, -1, 0);
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

static int apply_config(od_core_t *core, const od_ConfigRecord_t *r, char *err, size_t errsz)
{
    if (r->name.len <= 0) {
        snprintf(err, errsz, "ConfigRecord without a name");
        return -1;
    }
    if (r->resource_type == OD_CONFIG_RESOURCE_TOPIC) {
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
        if (od_kv_set(&t->configs, &t->nconfigs, r->name.p, (size_t)r->name.len, r->value.p,
                      r->value.len) < 0) {
            snprintf(err, errsz, "out of memory");
            return -1;
        }
        char key[256];
        snprintf(key, sizeof(key), "%.*s", (int)r->name.len, r->name.p);
        od_topic_cfg_resolve(core, t, key, &t->cfg);
        for (int32_t i = 0; i < t->npartitions; i++)
            od_partition_reconfigure(core, t->partitions[i]);
        return 0;
    }
    if (r->resource_type == OD_CONFIG_RESOURCE_BROKER) /* od_metadata_configs.c */
        return od_metadata_apply_broker_config(core, r->resource_name.p, r->resource_name.len,
                                               r->name.p, r->name.len, r->value.p, r->value.len,
                                               err, errsz);
    return 0; /* other resource types (client quotas, groups) come later */
}

/* ---- od_metadata_apply ---- */

static int apply_producer_ids(od_core_t *core, const od_ProducerIdsRecord_t *r, char *err,
                              size_t errsz)
{
    (void)err, (void)errsz;
    core->image.next_producer_id = r->next_producer_id;
    return 0;
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
    case OD_METAREC_PARTITION: /* od_metadata_partitions.c */
        DECODE_APPLY(PartitionRecord, od_metadata_apply_partition);
        break;
    case OD_METAREC_PARTITION_CHANGE:
        DECODE_APPLY(PartitionChangeRecord, od_metadata_apply_partition_change);
        break;
    case OD_METAREC_REMOVE_TOPIC:
        DECODE_APPLY(RemoveTopicRecord, apply_remove_topic);
        break;
    case OD_METAREC_CONFIG:
        DECODE_APPLY(ConfigRecord, apply_config);
        break;
    case OD_METAREC_REGISTER_BROKER: /* od_metadata_brokers.c */
        DECODE_APPLY(RegisterBrokerRecord, od_metadata_apply_register_broker);
        break;
    case OD_METAREC_FENCE_BROKER:
        DECODE_APPLY(FenceBrokerRecord, od_metadata_apply_fence);
        break;
    case OD_METAREC_UNFENCE_BROKER:
        DECODE_APPLY(UnfenceBrokerRecord, od_metadata_apply_unfence);
        break;
    case OD_METAREC_ACCESS_CONTROL_ENTRY: /* od_acls.c */
        DECODE_APPLY(AccessControlEntryRecord, od_acls_apply_add);
        break;
    case OD_METAREC_REMOVE_ACCESS_CONTROL_ENTRY:
        DECODE_APPLY(RemoveAccessControlEntryRecord, od_acls_apply_remove);
        break;
    case OD_METAREC_PRODUCER_IDS:
        DECODE_APPLY(ProducerIdsRecord, apply_producer_ids);
        break;
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
