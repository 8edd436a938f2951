/* od_route.h - partitioners in the broker, the per-topic placement check
 * and Lua routes on the produce path (doc/routing.md).
 *
 * The produce path calls od_route_produce once per partition, after the
 * idempotence check (so a deduplicated retry is never routed again) and
 * before OD_EVENT_APPEND; when the partition's batches are appended it
 * calls od_route_appended, which appends the copies and dead letters the
 * routes asked for (best-effort, see doc/routing.md), and od_route_done. */
#ifndef OD_ROUTE_H
#define OD_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "od_batch.h"

struct od_core;
struct od_req;
struct od_topic;

/* What a route decided for one record. */
enum { OD_ROUTE_ACCEPT = 0, OD_ROUTE_REJECT = 1, OD_ROUTE_DLQ = 2 };

typedef struct od_route_hdr {
    char *key;
    size_t key_len;
    char *value; /* NULL: a null value */
    size_t value_len;
} od_route_hdr_t;

typedef struct od_route_copy {
    char *topic;
    char *partitioner;
    int rekey; /* 1: key below replaces the record's */
    char *key; /* NULL with rekey: a null key */
    size_t key_len;
} od_route_copy_t;

/* One record as routes and partitioners see it (in: borrowed from the
 * decoded batch; out: owned, freed by od_route_rec_clear). */
typedef struct od_route_rec {
    const uint8_t *key; /* NULL: null key */
    int32_t key_len;
    const uint8_t *value; /* NULL: null value */
    int32_t value_len;
    od_record_t raw; /* the record as parsed (headers in raw form) */
    int64_t timestamp;
    int32_t partition;
    int64_t offset; /* in the log, once appended (the copies' odradek.copy.of) */
    /* out */
    int action;
    char *reason;
    char *dlq_topic;
    int hdrs_changed;
    od_route_hdr_t *hdrs; /* the new headers when hdrs_changed */
    size_t nhdrs;
    od_route_copy_t *copies;
    size_t ncopies;
} od_route_rec_t;

void od_route_rec_clear(od_route_rec_t *r);

/* The produce side. A partition's pending work between od_route_produce
 * and od_route_done. */
typedef struct od_route_pending od_route_pending_t;

/* Placement check and routes of one partition's validated batches
 * (data, len). Returns a Kafka error code (INVALID_RECORD with msg, or
 * UNKNOWN_SERVER_ERROR when out of memory); OD_ERR_NONE with *data and *len
 * possibly replaced by a rebuilt payload owned by *pending (NULL when the
 * topic has neither check nor route). *nrecords gets the records left. */
int16_t od_route_produce(struct od_req *r, struct od_topic *t, const char *topic, int32_t partition,
                         const uint8_t **data, size_t *len, int32_t *nrecords,
                         od_route_pending_t **pending, char *msg, size_t msgsz);
/* The original was appended from offset base (-1: nothing was): append the
 * copies and dead letters. */
void od_route_appended(struct od_core *core, od_route_pending_t *pending, int64_t base);
void od_route_done(od_route_pending_t *pending);
/* When the payload was rebuilt (returns 1): its batch count, largest
 * timestamp and that record's offset from the first. */
int od_route_summary(const od_route_pending_t *pending, int32_t *batches, int64_t *max_ts,
                     int64_t *rel_offset);

/* ---- partitioners by name: modules first, then Lua ---- */

/* 1 when name is a partitioner (a module's or a Lua script's). */
int od_route_partitioner_known(struct od_core *core, const char *name);
/* The partition of rec among n by partitioner name: [0, n), or -1 for "no
 * opinion" (the module's free choice) and -2 for a failure (unknown name, a
 * Lua error or an out-of-range answer; logged). lua_budget: the Lua
 * instructions left to one batch's partitioner calls (od_lua_vm_partition),
 * NULL for a call of its own. */
/* 1 when a module registers a partitioner of that name. */
int od_route_module_partitioner(struct od_core *core, const char *name);
/* The partition count of a topic copies and dead letters may go to, or
 * -1 (no such topic, or an internal one). */
int32_t od_route_copy_target(struct od_core *core, const char *topic);
int32_t od_route_partition(struct od_core *core, const char *name, const od_route_rec_t *rec,
                           int32_t n, int64_t *lua_budget);

/* ---- config and metrics ---- */

int od_route_register_config(struct od_core *core, char *err, size_t errsz);
/* The "routes" subsystem: the forwarder (od_route_forward.c), then the
 * route checkpoints (od_route_checkpoint.c: replay at start, write when
 * moved, write at stop). */
int od_route_start(struct od_core *core, char *err, size_t errsz);
void od_route_tick(struct od_core *core, int64_t now_ms);
void od_route_stop(struct od_core *core);
/* A Produce from another broker's forwarder (doc/routing.md, "In a
 * cluster"): 1, its copies are not routed again; 0, an ordinary produce;
 * -1, a forwarder's produce whose principal may not CLUSTER_ACTION
 * (refused). */
int od_route_forwarded_request(struct od_req *r);
/* Copies waiting for other brokers: records and bytes. */
void od_route_forward_stats(uint64_t *records, uint64_t *bytes);
int od_route_checkpoint_start(struct od_core *core, char *err, size_t errsz);
void od_route_checkpoint_tick(struct od_core *core, int64_t now_ms);
void od_route_checkpoint_stop(struct od_core *core);
/* The image has caught up (core->caught_up): the replays that waited for
 * it start now, before the broker accepts clients, as at a single node's
 * start. */
void od_route_checkpoint_caught_up(struct od_core *core);
/* Per-hook counters (od_route_metrics.c), rendered on the metrics page. */
enum {
    OD_RMETRIC_CALLS,   /* calls (a route: one per partition's batches) */
    OD_RMETRIC_REJECTS, /* batches a route rejected */
    OD_RMETRIC_ERRORS,  /* failed calls (error, budget, memory, bad result) */
    OD_RMETRIC_NS,      /* time in the hook */
    OD_RMETRIC_COPIES,  /* copies appended */
    OD_RMETRIC_DLQ,     /* records appended to a dead-letter topic */
    OD_RMETRIC_LOST,    /* copies and dead letters that could not be appended */
    OD_RMETRIC_FORWARDED, /* copies and dead letters another broker acknowledged */
    OD_RMETRIC_RETRIES,   /* forwarded batches sent again (or waiting for a leader) */
    OD_RMETRIC_REFUSED,   /* produces refused: route.forward.buffer.bytes reached */
    OD_RMETRIC_N
};
void od_route_metric(const char *kind, const char *name, int what, uint64_t v);
/* A record the placement check found misplaced (reject or warn). */
void od_route_metric_misplaced(const char *topic, const char *action, uint64_t n);
struct od_mtext;
void od_route_metrics_render(struct od_mtext *t);
int64_t od_route_now_ns(void);

#endif
