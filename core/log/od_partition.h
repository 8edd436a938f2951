/* od_partition.h - one partition's runtime state: its log (when this node
 * holds a replica), high watermark, and fetches waiting for data. */
#ifndef OD_PARTITION_H
#define OD_PARTITION_H

#include <stdint.h>

#include "odradek-module.h"

typedef struct od_topic od_topic_t;
typedef struct od_fetch_waiter od_fetch_waiter_t;

typedef struct od_partition {
    od_topic_t *topic;
    int32_t index;
    int32_t leader;
    int32_t leader_epoch;
    int32_t partition_epoch;
    int32_t *replicas;
    int32_t nreplicas;
    int32_t *isr;
    int32_t nisr;
    /* A reassignment in progress (KIP-455): replicas is the union of the
     * original and the target; these say which of them come and go. */
    int32_t *adding;
    int32_t nadding;
    int32_t *removing;
    int32_t nremoving;
    int64_t reassign_proposed_ms; /* the controller's completion proposal, to not repeat it */
    int32_t reassign_proposed_epoch;
    od_log_t *log;          /* NULL unless this node holds a replica */
    int offline;            /* a local replica whose log could not be opened */
    int64_t high_watermark; /* offsets below it are committed */
    od_fetch_waiter_t *waiters; /* long-polling fetches interested in it */
    struct od_pstate *producer_state; /* idempotent producers (od_producer.c), lazy */
    struct od_replica *repl; /* replication state (core/repl/od_replica.c), lazy */
} od_partition_t;

struct od_core;
/* Open (create/recover) the local log if this node is a replica. A log that
 * cannot be opened (I/O error, no file descriptors, a directory the control
 * plane owns) leaves the partition offline: -1 with err, p->offline set;
 * the rest of the broker goes on and requests for it answer
 * KAFKA_STORAGE_ERROR. A later successful open clears it. */
int od_partition_open_log(struct od_core *core, od_partition_t *p, char *err, size_t errsz);
/* Close (clean) or delete the local log. */
void od_partition_close_log(struct od_core *core, od_partition_t *p);
int od_partition_delete_log(struct od_core *core, od_partition_t *p, char *err, size_t errsz);
/* Append validated, offset-assigned batches as the leader; advances the
 * high watermark (a single-replica ISR commits at once, a larger one when
 * its followers have the batches: core/repl) and wakes waiting fetches. */
int od_partition_append(struct od_core *core, od_partition_t *p, const uint8_t *data, size_t len,
                        const od_append_info_t *info, char *err, size_t errsz);
int64_t od_partition_log_start(struct od_core *core, od_partition_t *p);
int64_t od_partition_log_end(struct od_core *core, od_partition_t *p);
/* Partition `index` of t when this node leads it and has its log open;
 * otherwise NULL with *err = UNKNOWN_TOPIC_OR_PARTITION (no such topic or
 * partition), KAFKA_STORAGE_ERROR (led here but offline) or
 * NOT_LEADER_OR_FOLLOWER. t may be NULL. */
od_partition_t *od_partition_led_here(struct od_core *core, const od_topic_t *t, int32_t index,
                                      int16_t *err);
/* A client's current leader epoch against ours, as Kafka checks it: -1 is
 * not checked, newer is UNKNOWN_LEADER_EPOCH, older FENCED_LEADER_EPOCH. */
int16_t od_partition_check_epoch(const od_partition_t *p, int32_t current_leader_epoch);
/* Apply changed topic configs to an open log. */
void od_partition_reconfigure(struct od_core *core, od_partition_t *p);
/* A read result's ranges copied into one malloc'd buffer (*len bytes; file
 * ranges with pread), every range released. NULL when out of memory or a
 * pread fails (od_log_gather.c). */
uint8_t *od_log_read_gather(const od_log_read_t *rd, size_t *len);

#endif
