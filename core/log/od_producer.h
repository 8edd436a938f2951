/* od_producer.h - idempotent producers (KIP-98): per-partition producer
 * state, its snapshots, and the broker's producer id allocation.
 *
 * Each partition keeps, for every producer id that wrote to it, the epoch
 * and the last OD_PSTATE_CACHED batches (first/last sequence, first/last
 * offset, timestamp). A produced batch is checked against it as Kafka's
 * ProducerStateManager does:
 *   - epoch older than the producer's current one: INVALID_PRODUCER_EPOCH;
 *   - same epoch and the same sequence range as one of the cached batches:
 *     a duplicate, answered with the original offsets and not appended;
 *   - a new producer id, or a newer epoch, must start at sequence 0;
 *   - otherwise the first sequence must follow the last one (wrapping from
 *     INT32_MAX to 0), else OUT_OF_ORDER_SEQUENCE_NUMBER.
 * The state is written with the storage backend's put_state ("producer-
 * state") together with the log offset it covers; loading a partition reads
 * that snapshot and replays the batch headers from that offset to the log
 * end, so the state after a restart (clean or not) is exactly the state
 * before it. */
#ifndef OD_PRODUCER_H
#define OD_PRODUCER_H

#include <stddef.h>
#include <stdint.h>

#include "od_partition.h"

#define OD_PSTATE_CACHED 5 /* batches remembered per producer (Kafka: 5) */

typedef struct od_pbatch {
    int32_t first_seq, last_seq;
    int64_t first_offset, last_offset;
    int64_t timestamp; /* batch max timestamp (LogAppendTime: append time) */
} od_pbatch_t;

typedef struct od_pentry {
    int64_t pid;
    int16_t epoch;
    int32_t nbatches;                    /* 0..OD_PSTATE_CACHED */
    od_pbatch_t batches[OD_PSTATE_CACHED]; /* oldest first */
    int64_t last_update_ms;              /* wall clock of the last write */
} od_pentry_t;

/* One partition's producer state: entries sorted by pid. */
typedef struct od_pstate {
    od_pentry_t *e;
    size_t n, cap;
    int64_t appends_since_snapshot;
    int64_t last_snapshot_ms;
    int dirty; /* changed since the last snapshot */
} od_pstate_t;

/* What od_pstate_check found. */
typedef struct od_pcheck {
    int duplicate;               /* 1: answer with these, do not append */
    int64_t dup_first_offset, dup_last_offset, dup_timestamp;
} od_pcheck_t;

od_pstate_t *od_pstate_new(void);
void od_pstate_free(od_pstate_t *s);
od_pentry_t *od_pstate_find(od_pstate_t *s, int64_t pid);

/* Sequence arithmetic as Kafka's: seq + delta wrapping past INT32_MAX to 0. */
int32_t od_pseq_add(int32_t seq, int32_t delta);

/* Check a batch of producer pid/epoch whose sequences are first..last.
 * Returns 0 (append it, or a duplicate when c->duplicate) or a Kafka error
 * code (OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH) with msg. */
int16_t od_pstate_check(od_pstate_t *s, int64_t pid, int16_t epoch, int32_t first_seq,
                        int32_t last_seq, od_pcheck_t *c, char *msg, size_t msgsz);
/* Record an appended batch (also used by replay, which trusts the log).
 * A different epoch replaces the cached batches. 0 ok, -1 out of memory. */
int od_pstate_update(od_pstate_t *s, int64_t pid, int16_t epoch, int32_t first_seq,
                     int32_t last_seq, int64_t first_offset, int64_t last_offset,
                     int64_t timestamp, int64_t now_ms);
/* Drop producers idle longer than max_idle_ms. Returns how many went. */
size_t od_pstate_expire(od_pstate_t *s, int64_t now_ms, int64_t max_idle_ms);

/* Snapshot: a malloc'd buffer (caller frees) describing s and the offset it
 * covers (the log end when it was taken). NULL on out of memory. */
uint8_t *od_pstate_encode(const od_pstate_t *s, int64_t covered_offset, size_t *len);
/* Decode into a fresh state; -1 with err for a corrupt or unknown snapshot
 * (the caller then rebuilds from the whole log). */
int od_pstate_decode(const uint8_t *p, size_t len, od_pstate_t **out, int64_t *covered_offset,
                     char *err, size_t errsz);

/* ---- the broker side (od_producer.c) ---- */

struct od_core;
/* The partition's state, loaded (snapshot + replay) on first use. NULL if
 * the partition has no local log or memory ran out. */
od_pstate_t *od_producer_state(struct od_core *core, od_partition_t *p);
/* Called after an append of a batch from producer pid (>= 0). */
void od_producer_appended(struct od_core *core, od_partition_t *p, int64_t pid, int16_t epoch,
                          int32_t first_seq, int32_t last_seq, int64_t first_offset,
                          int64_t last_offset, int64_t timestamp);
/* The log lost its tail (a follower cut a divergent one): the state is
 * dropped and rebuilt from the snapshot and the log on next use. */
void od_producer_truncated(struct od_core *core, od_partition_t *p);
/* The partition's log is being closed (snapshot first) or deleted. */
void od_producer_partition_closing(struct od_core *core, od_partition_t *p, int deleted);

/* Core hooks: config table, start (load every local partition), periodic
 * work (snapshots, expiry), stop (snapshot everything). */
int od_producer_register_config(struct od_core *core, char *err, size_t errsz);
int od_producer_start(struct od_core *core, char *err, size_t errsz);
void od_producer_tick(struct od_core *core, int64_t now_ms);
void od_producer_stop(struct od_core *core);

extern int64_t od_producer_id_expiration_ms;      /* producer.id.expiration.ms */
extern int64_t od_transactional_id_expiration_ms; /* transactional.id.expiration.ms */

/* InitProducerId's registry of producer ids this broker handed out
 * (od_h_initproducerid.c): expired with producer.id.expiration.ms. */
void od_initpid_expire(struct od_core *core, int64_t now_ms, int64_t max_idle_ms);
void od_initpid_reset(struct od_core *core);

#endif
