/* od_metadata.h - the in-memory image of cluster metadata (topics,
 * partitions, configs, brokers), built only by applying committed metadata
 * records handed over by the control plane. Readers use the image; writers
 * propose records through the control plane (od_metadata_propose_*). */
#ifndef OD_METADATA_H
#define OD_METADATA_H

#include <stddef.h>
#include <stdint.h>

#include "od_buf.h"
#include "od_partition.h"
#include "od_topic_cfg.h"

typedef struct od_kv {
    char *key, *value;
} od_kv_t;

struct od_topic {
    char *name;
    od_uuid_t id;
    int32_t npartitions;
    int32_t partitions_cap; /* allocated slots of partitions (grows by doubling) */
    od_partition_t **partitions;
    od_kv_t *configs; /* topic overrides */
    size_t nconfigs;
    od_topic_cfg_t cfg; /* effective configs, typed; kept current by od_metadata.c */
    int internal;
    int deleting;          /* a RemoveTopicRecord is proposed, not yet applied */
    int32_t adding_to;     /* > npartitions: a CreatePartitions up to it is in flight */
    int reset_seen;        /* named by the snapshot being installed (od_metadata_reset_*) */
    struct od_topic *next_by_name; /* hash chains of the image: by name, */
    struct od_topic *next_by_id;   /* by topic id, */
    struct od_topic *next_by_norm; /* by name with '.' read as '_' (collisions) */
};

typedef struct od_endpoint {
    char *name; /* listener name, e.g. PLAINTEXT */
    char *host;
    int32_t port;
    int16_t security_protocol; /* 0 PLAINTEXT */
} od_endpoint_t;

typedef struct od_broker_reg {
    int32_t id;
    od_uuid_t incarnation;
    int64_t epoch;
    od_endpoint_t *endpoints;
    size_t nendpoints;
    char *rack;
    int fenced;
    int64_t nreplicas; /* partition replicas placed on it (committed) */
    int64_t npending;  /* ... and in proposals not committed yet */
    int reset_seen;    /* named by the snapshot being installed */
} od_broker_reg_t;

typedef struct od_image {
    od_topic_t **buckets;      /* by name */
    od_topic_t **id_buckets;   /* by topic id */
    od_topic_t **norm_buckets; /* by collision-normalised name */
    size_t nbuckets;           /* of each; grows with the topics */
    size_t ntopics;
    od_broker_reg_t *brokers;
    size_t nbrokers;
    od_kv_t *broker_configs; /* dynamic broker configs of this node (ConfigRecord type 4) */
    size_t nbroker_configs;
    od_kv_t *broker_default_configs; /* cluster-wide ones (type 4, name "") */
    size_t nbroker_default_configs;
    struct od_creating **creating; /* topics proposed, not yet applied (OD_CREATING_BUCKETS) */
    int64_t last_offset; /* offset of the last applied record */
    int64_t next_producer_id;
    struct od_acl_store *acls; /* ACL bindings (od_acls.c) */
    int resetting; /* between od_metadata_reset_begin and _end */
} od_image_t;

#define OD_CREATING_BUCKETS 256

struct od_core;

void od_image_init(od_image_t *img);
void od_image_free(struct od_core *core, od_image_t *img);
od_topic_t *od_image_topic(const od_image_t *img, const char *name, size_t len);
od_topic_t *od_image_topic_by_id(const od_image_t *img, const od_uuid_t *id);
/* A topic whose name equals name[0..len) once '.' and '_' are read as the
 * same character (Kafka's collision rule), including the same name. */
od_topic_t *od_image_topic_colliding(const od_image_t *img, const char *name, size_t len);
const char *od_topic_config(const od_topic_t *t, const char *key);
/* Iterate topics: pass NULL to start; returns NULL at the end. */
od_topic_t *od_image_next_topic(const od_image_t *img, od_topic_t *prev);
const od_broker_reg_t *od_image_broker(const od_image_t *img, int32_t id);

/* ---- proposals (what writers call) ---- */

typedef void (*od_meta_done_cb)(void *arg, int16_t error_code, const char *msg);

/* Replicas chosen by the client for one partition (manual assignment). */
typedef struct od_assignment {
    const int32_t *brokers;
    int32_t n;
} od_assignment_t;

typedef struct od_new_topic {
    const char *name;
    size_t name_len;
    int32_t partitions;
    int16_t replication_factor;
    const od_kv_t *configs;
    size_t nconfigs;
    const od_assignment_t *assignments; /* NULL: placed by the broker */
} od_new_topic_t;

/* Check a manual assignment for `count` partitions: every broker
 * registered, no broker twice in a partition, the same replica count
 * everywhere. Returns 0 or -1 with a reason (INVALID_REPLICA_ASSIGNMENT). */
int od_metadata_check_assignment(struct od_core *core, const od_assignment_t *a, int32_t count,
                                 char *err, size_t errsz);

/* Kafka's controller refuses a user operation of more records than this
 * (QuorumController.MAX_RECORDS_PER_USER_OP) with POLICY_VIOLATION. */
#define OD_MAX_RECORDS_PER_USER_OP 10000
#define OD_MSG_TOO_MANY_RECORDS "Unable to perform excessively large batch operation."

/* Create a topic with its partitions and configs; cb runs when committed.
 * Refused (-POLICY_VIOLATION, with a reason) beyond
 * OD_MAX_RECORDS_PER_USER_OP records or when a broker would hold more than
 * max.broker.partitions replicas, counting proposals not committed yet. */
/* On a node that is not the active controller the topic is created by a
 * CreateTopics sent to it (od_forward_create.c): cb runs once the topic is
 * in this node's image. Returns -1 when it cannot be sent (the caller then
 * proposes locally). */
int od_forward_create_topic(struct od_core *core, const od_new_topic_t *nt, od_meta_done_cb cb,
                            void *arg);
int od_metadata_create_topic(struct od_core *core, const od_new_topic_t *nt, od_meta_done_cb cb,
                             void *arg, char *err, size_t errsz);
int od_metadata_delete_topic(struct od_core *core, od_topic_t *t, od_meta_done_cb cb, void *arg,
                             char *err, size_t errsz);
int od_metadata_add_partitions(struct od_core *core, od_topic_t *t, int32_t new_total,
                               const od_assignment_t *assignments, od_meta_done_cb cb, void *arg,
                               char *err, size_t errsz);
/* Register this broker (endpoints from advertised.listeners) if the image
 * does not already hold the same registration. */
int od_metadata_register_self(struct od_core *core, char *err, size_t errsz);
/* Does the image hold this broker with these endpoints (and broker.rack)? */
int od_metadata_self_registered(struct od_core *core, const od_endpoint_t *eps, size_t neps);
/* Commit a RegisterBrokerRecord (its broker_epoch is set here), for
 * BrokerRegistration on the active controller. */
struct od_RegisterBrokerRecord;
int od_metadata_propose_broker(struct od_core *core, struct od_RegisterBrokerRecord *r,
                               od_meta_done_cb cb, void *arg, char *err, size_t errsz);

#endif
