/* od_metadata_int.h - what the files of the metadata image share
 * (od_metadata.c and od_metadata_*.c); other layers use od_metadata.h. */
#ifndef OD_METADATA_INT_H
#define OD_METADATA_INT_H

#include <stddef.h>
#include <stdint.h>

#include "od_meta_batch.h"
#include "od_metadata.h"
#include "od_proto_gen.h"

/* ConfigRecord resource types */
#define OD_CONFIG_RESOURCE_TOPIC 2
#define OD_CONFIG_RESOURCE_BROKER 4

/* Topics proposed but not applied yet: with a control plane that commits
 * later (group commit, a quorum) a second proposal of the same name would
 * otherwise be a second TopicRecord. Keyed by the collision-normalised name
 * (img->creating). */
struct od_creating {
    struct od_creating *next;
    size_t len;
    char name[]; /* NUL-terminated */
};

struct od_creating *od_image_creating_find(const od_image_t *img, const char *name, size_t len);
struct od_creating *od_image_creating_add(od_image_t *img, const char *name, size_t len);
void od_image_creating_remove(od_image_t *img, struct od_creating *c);

/* Unlink a topic, delete its logs, free it. */
void od_image_remove_topic(struct od_core *core, od_topic_t *t);
void od_image_free_broker(od_broker_reg_t *b);
/* Count n replicas on their brokers: in nreplicas (committed) or, pending
 * set, in npending (proposed). For max.broker.partitions. */
void od_image_count_replicas(od_image_t *img, const int32_t *reps, size_t n, int64_t delta,
                             int pending);

/* Set, replace, or (vlen < 0, a null value) remove key in a config list.
 * 0, or -1 out of memory (the list is as it was). */
int od_kv_set(od_kv_t **arr, size_t *n, const char *key, size_t klen, const char *value,
              int32_t vlen);
void od_kvs_free(od_kv_t **kv, size_t *n);

/* Applying records (od_metadata_apply hands each decoded record over). */
int od_metadata_apply_partition(struct od_core *core, const od_PartitionRecord_t *r, char *err,
                                size_t errsz);
int od_metadata_apply_partition_change(struct od_core *core, const od_PartitionChangeRecord_t *r,
                                       char *err, size_t errsz);
int od_metadata_apply_register_broker(struct od_core *core, const od_RegisterBrokerRecord_t *r,
                                      char *err, size_t errsz);
int od_metadata_apply_fence(struct od_core *core, const od_FenceBrokerRecord_t *r, char *err,
                            size_t errsz);
int od_metadata_apply_unfence(struct od_core *core, const od_UnfenceBrokerRecord_t *r, char *err,
                              size_t errsz);
/* While a snapshot is installed: the TopicRecord of a topic the image holds
 * with the same id (od_metadata_snapshot.c). */
void od_metadata_reset_keep_topic(struct od_core *core, od_topic_t *t);

/* Encoding records into a batch (proposals and snapshots). */
void od_metadata_encode_config(od_meta_batch_t *b, int8_t type, const char *resource,
                               const char *key, const char *value);
void od_metadata_encode_partition(od_meta_batch_t *b, const od_uuid_t *topic_id,
                                  const od_partition_t *p);
void od_metadata_encode_broker(od_meta_batch_t *b, const od_broker_reg_t *reg);

#endif
