/* od_group.h - the consumer-group coordinator (classic rebalance protocol).
 *
 * One coordinator per broker (core->coord; made by od_groups_start, freed by
 * od_groups_stop; unit tests make their own). A group lives on the partition
 * abs(javaHash(group.id)) % offsets.topic.num.partitions of
 * __consumer_offsets; this broker coordinates the groups whose partition it
 * leads. Group metadata and committed offsets are records in that
 * partition (od_group_store.c) and are rebuilt from it at start.
 *
 * The state machine (od_group_join.c) never sees a request: JoinGroup and
 * SyncGroup register a callback that is called (perhaps at once, perhaps
 * when the rebalance completes) exactly once; the handlers (od_h_groups.c)
 * encode responses in those callbacks. So the machine can be driven
 * directly by unit tests.
 *
 * Everything runs on the loop thread. Strings in od_group_t/od_gmember_t
 * are owned (malloc'd) by the coordinator. */
#ifndef OD_GROUP_H
#define OD_GROUP_H

#include <stddef.h>
#include <stdint.h>

#include <sys/types.h>

#include "od_buf.h"
#include "od_loop.h"
#include "od_proto_gen.h"
#include "odradek-module.h"

struct od_core;

#define OD_GROUP_OFFSETS_TOPIC "__consumer_offsets"

typedef enum od_gstate {
    OD_GS_EMPTY = 0,
    OD_GS_PREPARING, /* PreparingRebalance: waiting for members to (re)join */
    OD_GS_COMPLETING, /* CompletingRebalance: waiting for the leader's SyncGroup */
    OD_GS_STABLE,
    OD_GS_DEAD
} od_gstate_t;

/* Kafka's names ("Empty", "PreparingRebalance", ...). */
const char *od_gstate_name(od_gstate_t s);

typedef struct od_group od_group_t;
typedef struct od_gmember od_gmember_t;

typedef struct od_gproto {
    char *name;
    uint8_t *meta;
    int32_t meta_len;
} od_gproto_t;

/* What a JoinGroup answers. Strings are borrowed for the duration of the
 * callback. members_of != NULL: the answer is for the leader and lists the
 * members with their metadata for the chosen protocol. */
typedef struct od_join_result {
    int16_t error;
    const char *member_id;
    int32_t generation;
    const char *protocol_type; /* NULL when unknown */
    const char *protocol_name; /* NULL when unknown */
    const char *leader;
    int skip_assignment;
    const od_group_t *members_of;
} od_join_result_t;

typedef void (*od_join_cb)(void *ctx, const od_join_result_t *res);
/* SyncGroup's answer; on success g is the group (protocol type/name). */
typedef void (*od_sync_cb)(void *ctx, int16_t error, const od_group_t *g, const uint8_t *assignment,
                           int32_t assignment_len);

struct od_gmember {
    od_group_t *g;
    char *id;
    char *instance_id; /* NULL: dynamic member */
    char *client_id;
    char *client_host;
    char *protocol_type;
    int32_t session_timeout;
    int32_t rebalance_timeout;
    od_gproto_t *protos; /* in the member's order of preference */
    int32_t nprotos;
    uint8_t *assignment;
    int32_t assignment_len;
    od_join_cb join_cb; /* non-NULL: awaiting the JoinGroup answer */
    void *join_ctx;
    od_sync_cb sync_cb; /* non-NULL: awaiting the SyncGroup answer */
    void *sync_ctx;
    int is_new;
    int64_t join_started; /* monotonic ms */
    int64_t deadline;     /* monotonic ms: session expiry */
    int64_t timer;        /* loop timer for the session, 0 if none */
};

typedef struct od_goffset {
    char *topic;
    int32_t partition;
    int32_t leader_epoch;
    int64_t offset;
    /* Commit metadata is a string on the wire but clients put any bytes in
     * it (NULs included): kept as bytes, metadata_len of them, plus a
     * trailing NUL for logging. */
    char *metadata;
    size_t metadata_len;
    int64_t commit_ts; /* wall clock ms */
    int64_t expire_ts; /* -1: by offsets.retention.minutes */
} od_goffset_t;

typedef struct od_gpending {
    char *id;
    int64_t deadline; /* monotonic ms */
} od_gpending_t;

struct od_group {
    char *id;
    int32_t partition; /* of __consumer_offsets */
    od_gstate_t state;
    int64_t state_ts; /* wall clock ms of the last state change */
    int32_t generation;
    char *protocol_type; /* NULL: none yet (simple consumers) */
    char *protocol;      /* chosen protocol, NULL when none */
    char *leader;        /* member id, NULL when none */
    od_gmember_t **members; /* in join order */
    size_t nmembers, members_cap;
    od_gpending_t *pending; /* ids handed out with MEMBER_ID_REQUIRED */
    size_t npending, pending_cap;
    od_goffset_t *offsets;
    size_t noffsets, offsets_cap;
    int64_t join_timer;       /* rebalance (delayed join) timer, 0 if none */
    int initial_join;         /* the delayed join is the initial one */
    int new_member_added;     /* a member joined during the initial delay */
    int64_t initial_remaining; /* ms the initial delay may still extend */
    int32_t rebalance_timeout;
    int has_metadata; /* group metadata was written or loaded */
    struct od_gstore_wait *store_wait; /* a group record waiting for the ISR (od_group_store.c) */
    struct od_coord *coord; /* the coordinator whose table holds it */
    od_group_t *next; /* hash chain */
};

/* Where records go: append one batch to partition `partition` of
 * __consumer_offsets; returns a Kafka error code (already mapped the way
 * the coordinator answers: NONE, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR,
 * INVALID_COMMIT_OFFSET_SIZE, UNKNOWN_SERVER_ERROR). The batch is owned by
 * the caller. Unit tests replace it. */
typedef int16_t (*od_gappend_fn)(void *arg, int32_t partition, uint8_t *batch, size_t len);

typedef struct od_coord_conf {
    int64_t initial_delay_ms;  /* group.initial.rebalance.delay.ms */
    int64_t min_session_ms;    /* group.min.session.timeout.ms */
    int64_t max_session_ms;    /* group.max.session.timeout.ms */
    int64_t max_size;          /* group.max.size */
    int64_t metadata_max;      /* offset.metadata.max.bytes */
    int64_t retention_minutes; /* offsets.retention.minutes */
    int64_t retention_check_ms; /* offsets.retention.check.interval.ms */
    int64_t num_partitions;    /* offsets.topic.num.partitions */
    int64_t replication;       /* offsets.topic.replication.factor */
    int64_t segment_bytes;     /* offsets.topic.segment.bytes */
    int64_t load_buffer;       /* offsets.load.buffer.size */
} od_coord_conf_t;

typedef struct od_coord {
    od_loop_t *loop;
    struct od_core *core; /* NULL in unit tests */
    od_coord_conf_t conf;
    od_group_t **buckets;
    size_t nbuckets, ngroups;
    od_gappend_fn append;
    void *append_arg;
    int64_t last_retention_check; /* monotonic ms */
    int creating_topic;
} od_coord_t;

/* ---- od_group.c: the group table, members, offsets, hooks ---- */

/* Java's String.hashCode over the UTF-16 form of a UTF-8 string. */
int32_t od_java_string_hash(const char *p, size_t len);
/* Kafka's Utils.abs(hash) % n. */
int32_t od_group_partition_for(const char *id, size_t len, int32_t n);

/* Set up an empty coordinator in c (tests pass core NULL and their own
 * append). The default append gets c as its argument. */
void od_coord_init(od_coord_t *c, od_loop_t *loop, struct od_core *core,
                   const od_coord_conf_t *conf);
/* Free every group; pending JoinGroup/SyncGroup callbacks get
 * COORDINATOR_NOT_AVAILABLE. */
void od_coord_reset(od_coord_t *c);

/* c may be NULL (groups not started): nothing is found or created. */
od_group_t *od_group_find(od_coord_t *c, const char *id, size_t len);
od_group_t *od_group_create(od_coord_t *c, const char *id, size_t len);
/* Take the group out of the table and free it (Dead). */
void od_group_destroy(od_group_t *g);
void od_group_set_state(od_group_t *g, od_gstate_t s);

od_gmember_t *od_group_member(const od_group_t *g, const char *id, size_t len);
od_gmember_t *od_group_static_member(const od_group_t *g, const char *inst, size_t len);
/* Static member fencing as Kafka: an instance id is known with another
 * member id. */
int od_group_static_fenced(const od_group_t *g, od_str_t member, od_str_t inst);
/* The member's metadata for a protocol (NULL/0 if it has none). */
const uint8_t *od_gmember_meta(const od_gmember_t *m, const char *proto, int32_t *len);
/* Unlink and free a member (timers cancelled; callbacks must have been
 * answered). Moves the leadership to the first remaining member. */
void od_group_drop_member(od_group_t *g, od_gmember_t *m);

od_goffset_t *od_group_offset(const od_group_t *g, const char *topic, size_t tlen, int32_t part);
/* Insert or replace (copies strings). 0, -1 out of memory. */
int od_group_offset_put(od_group_t *g, const od_goffset_t *o);
void od_group_offset_remove(od_group_t *g, od_goffset_t *o);

/* Topics the members are subscribed to (consumer protocol only): 1 when
 * topic is one of them. */
int od_group_subscribed(const od_group_t *g, const char *topic, size_t len);

/* Iterate groups: prev NULL starts (c may be NULL: no groups). */
od_group_t *od_group_next(od_coord_t *c, od_group_t *prev);

/* NONE if this broker coordinates group id (partition in *part),
 * COORDINATOR_NOT_AVAILABLE while __consumer_offsets is missing (its
 * creation is started), NOT_COORDINATOR if another broker leads. */
int16_t od_coord_check(od_coord_t *c, const char *id, size_t len, int32_t *part);
/* Create __consumer_offsets if missing. NONE once it exists. */
int16_t od_coord_ensure_topic(od_coord_t *c);

/* Core hooks (one entry in od_core.c's subsystem table). */
int od_groups_register_config(struct od_core *core, char *err, size_t errsz);
int od_groups_start(struct od_core *core, char *err, size_t errsz);
void od_groups_tick(struct od_core *core, int64_t now_ms);
void od_groups_stop(struct od_core *core);

/* ---- od_group_join.c: the rebalance state machine ---- */

typedef struct od_gproto_in {
    od_str_t name;
    od_bytes_t meta;
} od_gproto_in_t;

typedef struct od_join_args {
    od_str_t group_id;
    od_str_t member_id;
    od_str_t instance_id; /* len -1: dynamic */
    od_str_t client_id;
    const char *client_host;
    od_str_t protocol_type;
    int32_t session_timeout;
    int32_t rebalance_timeout;
    const od_gproto_in_t *protos;
    int32_t nprotos;
    int require_known_member_id; /* JoinGroup v4+ */
} od_join_args_t;

/* Everything in args is borrowed and copied; cb is called exactly once. */
void od_group_join(od_coord_t *c, const od_join_args_t *a, od_join_cb cb, void *ctx);

typedef struct od_sync_assign {
    od_str_t member_id;
    od_bytes_t assignment;
} od_sync_assign_t;

void od_group_sync(od_coord_t *c, od_str_t group_id, int32_t generation, od_str_t member_id,
                   od_str_t instance_id, od_str_t protocol_type, od_str_t protocol_name,
                   const od_sync_assign_t *asg, int32_t nasg, od_sync_cb cb, void *ctx);
int16_t od_group_heartbeat(od_coord_t *c, od_str_t group_id, int32_t generation,
                           od_str_t member_id, od_str_t instance_id);
/* One leaving member of an existing group (LeaveGroup). */
int16_t od_group_leave(od_group_t *g, od_str_t member_id, od_str_t instance_id);
/* The protocol every member supports with the most first-choice votes. */
const char *od_group_select_protocol(const od_group_t *g);
/* Members' sessions restart (after loading). */
void od_group_start_sessions(od_group_t *g);
/* A member's session restarts now (heartbeat, commit). */
void od_gmember_touch(od_gmember_t *m);
/* Add a member as loaded from __consumer_offsets (no callbacks). */
int od_group_load_member(od_group_t *g, const od_join_args_t *a, const uint8_t *assignment,
                         int32_t assignment_len);
/* Purge expired MEMBER_ID_REQUIRED ids (called every second). */
void od_group_purge_pending(od_coord_t *c, int64_t now_mono);

/* Shared by od_group_join.c and od_group_member.c only. */
void od_group_try_complete(od_group_t *g); /* complete the join if everyone rejoined */
void od_group_member_gone(od_group_t *g, od_gmember_t *m, const char *reason);

/* ---- od_group_member.c: member ids, protocols, pending ids ---- */

/* "<prefix>-<UUID>" (Kafka's member id form). */
void od_gm_new_id(od_str_t prefix, char *out, size_t outsz);
/* Kafka's supportsProtocols (self: the joining member, NULL if new). */
int od_gm_supports(const od_group_t *g, const od_join_args_t *a, const od_gmember_t *self);
/* Copy protocols and timeouts from a JoinGroup. 0, -1 out of memory. */
int od_gm_set_protocols(od_gmember_t *m, const od_join_args_t *a);
/* Kafka's member.matches: the same protocols with the same metadata. */
int od_gm_same_protocols(const od_gmember_t *m, const od_join_args_t *a);
/* A new member appended to the group (no callbacks, no session yet). */
od_gmember_t *od_gm_new(od_group_t *g, const char *id, const od_join_args_t *a);
ssize_t od_gm_pending_index(const od_group_t *g, od_str_t id);
void od_gm_pending_remove(od_group_t *g, size_t i);
int od_gm_pending_add(od_group_t *g, const char *id, int32_t session);

/* ---- od_group_offsets.c: commits, deletes, expiry ---- */

typedef struct od_gcommit {
    od_str_t topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    od_str_t metadata;
    int64_t commit_ts; /* -1: now */
    int16_t error;     /* in: preset errors are kept; out: the result */
} od_gcommit_t;

/* Validate and store a commit (all partitions in one batch). The group
 * error (if any) is put on every partition. */
void od_group_commit(od_coord_t *c, od_str_t group_id, int32_t generation, od_str_t member_id,
                     od_str_t instance_id, int64_t retention_ms, od_gcommit_t *parts, size_t n);
/* DeleteGroups for one group. */
int16_t od_group_delete(od_coord_t *c, od_str_t group_id);
/* OffsetDelete: group-level error returned; per-partition errors in parts
 * (preset errors are kept). */
int16_t od_group_delete_offsets(od_coord_t *c, od_str_t group_id, od_gcommit_t *parts, size_t n);
/* Expire offsets (offsets.retention.minutes) and drop empty groups. */
void od_groups_expire(od_coord_t *c, int64_t now_wall);

/* Hand the member's pending JoinGroup its answer (od_group_join.c; the
 * callback is cleared first). */
void od_group_answer_join(od_gmember_t *m, const od_join_result_t *res);

/* ---- od_group_static.c: a static member replaced in a stable group ---- */
/* Write the group record naming m's new id and answer m's pending JoinGroup
 * once the ISR has it (the new id, the generation, old_leader as the
 * leader), or with the error, m taking old_id back. An error returned:
 * nothing was stored, nothing will be answered. */
int16_t od_group_static_store(od_group_t *g, od_gmember_t *m, const char *old_id,
                              const char *old_leader, int was_leader);
/* Undo a replacement: m takes *old_id back (and leads again if it led);
 * *old_id gets the new id, for the caller to free. */
void od_group_restore_old_id(od_group_t *g, od_gmember_t *m, char **old_id, int was_leader);

/* ---- od_group_store.c: __consumer_offsets records ---- */

typedef struct od_gbatch od_gbatch_t;
od_gbatch_t *od_gbatch_new(void);
void od_gbatch_free(od_gbatch_t *b);
int od_gbatch_offset(od_gbatch_t *b, const char *group, const od_goffset_t *o);
int od_gbatch_offset_tombstone(od_gbatch_t *b, const char *group, const char *topic,
                               int32_t partition);
int od_gbatch_group(od_gbatch_t *b, const od_group_t *g);
int od_gbatch_group_tombstone(od_gbatch_t *b, const char *group);
/* Append the batch to the group's partition (nothing if empty). */
int16_t od_gbatch_append(od_coord_t *c, od_gbatch_t *b, int32_t partition);
/* Write the group's metadata record (members, assignments). */
int16_t od_gstore_group(od_group_t *g);
/* Write it and call done(g, error) once the ISR of the group's partition
 * has it (Kafka's storeGroup, acks=-1 within offsets.commit.timeout.ms),
 * with Kafka's mapping of a failed wait: NOT_COORDINATOR (no longer the
 * leader), REBALANCE_IN_PROGRESS (timed out), COORDINATOR_NOT_AVAILABLE.
 * done runs at once without a replicated log (unit tests); it is not run
 * when the group is freed, changes generation or leaves
 * CompletingRebalance meanwhile. An error returned means done will not run. */
typedef void (*od_gstored_fn)(od_group_t *g, int16_t error);
int16_t od_gstore_group_replicated(od_group_t *g, od_gstored_fn done);
/* Write the group's record and call cb(arg, error) once, when the ISR of
 * its partition has it or the wait failed (the errors as above), at once
 * without a replicated log. Unlike od_gstore_group_replicated, cb always
 * runs, even when the group was freed or moved on meanwhile: arg must not
 * point into the group. An error returned means cb will not run. */
typedef void (*od_gstore_then_fn)(void *arg, int16_t error);
int16_t od_gstore_group_then(od_group_t *g, od_gstore_then_fn cb, void *arg);
/* The group is being freed: a pending wait forgets it. */
void od_gstore_detach(od_group_t *g);

/* Encoded record keys and values (malloc'd; caller frees). */
uint8_t *od_gstore_offset_key(const char *group, const char *topic, int32_t partition,
                              size_t *len);
uint8_t *od_gstore_offset_value(const od_goffset_t *o, size_t *len);
uint8_t *od_gstore_group_key(const char *group, size_t *len);
uint8_t *od_gstore_group_value(const od_group_t *g, size_t *len);

/* Apply one record (loading); returns 0, -1 when it does not decode. */
int od_gstore_apply(od_coord_t *c, const uint8_t *key, int32_t klen, const uint8_t *value,
                    int32_t vlen, int32_t partition);
/* Apply every record of the batches in buf; *next gets the offset after
 * the last complete batch. Returns the number of batches. */
int od_gstore_apply_batches(od_coord_t *c, const uint8_t *buf, size_t len, int32_t partition,
                            int64_t *next);
/* After loading: members' sessions start, states settle. */
void od_gstore_load_done(od_coord_t *c);
/* Load every __consumer_offsets partition this broker leads. */
int od_gstore_load(struct od_core *core, char *err, size_t errsz);
struct od_partition;
/* Leadership of one __consumer_offsets partition moved (core/repl): the
 * new leader loads its groups from the log it replicated, the old one
 * forgets them (members waiting on them are answered). */
void od_groups_partition_led(struct od_core *core, struct od_partition *p);
void od_groups_partition_lost(struct od_core *core, struct od_partition *p);
/* The default od_gappend_fn (arg: the od_coord_t): the partition's log. */
int16_t od_gstore_append_log(void *arg, int32_t partition, uint8_t *batch, size_t len);

#endif
