/* od_repl.h - replication of partition logs between brokers (doc/cluster.md,
 * "Replication").
 *
 * Every partition replica here is a leader, a follower or neither, as the
 * committed image says (PartitionRecord / PartitionChangeRecord): the image
 * calls od_repl_partition_changed after applying either, and this layer
 * reacts (a follower fetches from its leader, a leader tracks what its
 * followers have).
 *
 * - Followers fetch from the leader with the Fetch API (replica_id = our
 *   node id) through one od_peer connection per leader broker, append the
 *   leader's batches as they are (the leader's offsets and epochs), follow
 *   the leader's high watermark and log start offset, and cut a divergent
 *   tail when the leader answers with a diverging epoch (KIP-320/595's
 *   Fetch v12 path; OffsetForLeaderEpoch serves the same lookup).
 * - A leader keeps each follower's log end offset from its fetches; the
 *   high watermark is the smallest log end offset over the ISR. A follower
 *   that has not caught up for replica.lag.time.max.ms leaves the ISR, one
 *   that has caught up rejoins it: the leader asks the active controller
 *   (AlterPartition, or a PartitionChangeRecord proposed directly when this
 *   node is the controller) and uses the ISR the image commits.
 * - acks=all produce requests wait (od_acks.c) until the high watermark
 *   passes their batches.
 * - The leader epoch cache (od_epochs.c): the first offset of every leader
 *   epoch in the log, persisted with the log (put_state). */
#ifndef OD_REPL_H
#define OD_REPL_H

#include <stddef.h>
#include <stdint.h>

#include "od_partition.h"

struct od_core;
struct od_req;
struct od_endpoint;
struct od_broker_reg;
typedef struct od_repl od_repl_t;
typedef struct od_replica od_replica_t;

/* ---- subsystem hooks (od_core.c's table) ---- */
int od_repl_register_config(struct od_core *core, char *err, size_t errsz);
int od_repl_start(struct od_core *core, char *err, size_t errsz);
void od_repl_tick(struct od_core *core, int64_t now_ms);
void od_repl_stop(struct od_core *core);

/* ---- the image's hooks ---- */
/* After a PartitionRecord or PartitionChangeRecord of p was applied (p's
 * leader, epochs, replicas and ISR are the new ones). */
void od_repl_partition_changed(struct od_core *core, od_partition_t *p);
/* p is about to be freed (topic deleted, shutdown). */
void od_repl_partition_removed(struct od_core *core, od_partition_t *p);

/* ---- the data path ---- */
/* The log of p was opened: load its leader epoch cache. */
void od_repl_log_opened(struct od_core *core, od_partition_t *p);
/* Batches [base, last] were appended to p's log (leader or follower):
 * note new leader epochs; on a leader, move the high watermark. */
void od_repl_appended(struct od_core *core, od_partition_t *p, const uint8_t *data, size_t len);
/* The leader's view of a follower fetch (replica_id >= 0): its log end
 * offset is fetch_offset. Returns a Kafka error for the partition
 * (NOT_LEADER_OR_FOLLOWER when replica_id is no replica of p). */
int16_t od_repl_follower_fetch(struct od_core *core, od_partition_t *p, int32_t replica_id,
                               int64_t fetch_offset);
/* 1 when a follower (replica_id) fetching at fetch_offset after an epoch
 * last_fetched_epoch diverged from this leader's log: *epoch and *end say
 * where its log must end (Fetch v12 DivergingEpoch). */
int od_repl_diverging(struct od_core *core, od_partition_t *p, int32_t last_fetched_epoch,
                      int64_t fetch_offset, int32_t *epoch, int64_t *end);
/* OffsetForLeaderEpoch: the largest epoch <= `epoch` in p's log and the
 * offset where it ends (the start of the next epoch, or the log end for
 * the latest); -1, -1 when unknown. */
void od_repl_end_offset_for_epoch(struct od_core *core, od_partition_t *p, int32_t epoch,
                                  int32_t *epoch_out, int64_t *end_out);
/* After a leader's own append to a partition with followers in its ISR:
 * the high watermark moves only as far as they have it. */
void od_replica_hw_after_append(struct od_core *core, od_partition_t *p);
/* Drop the batches of a read that start at or after `upto` (od_readcut.c). */
void od_repl_cut_read(od_log_read_t *rd, int64_t upto);
/* KIP-392: 1 when p is followed here and may serve consumers' reads. */
int od_repl_serves_reads(struct od_core *core, const od_partition_t *p);
/* With replica.selector.class = RackAwareReplicaSelector: the in-sync
 * replica in the client's rack a consumer should read from, or -1 (read
 * from the leader: same rack, no rack, none in sync there). */
int32_t od_repl_preferred_read_replica(struct od_core *core, const od_partition_t *p,
                                       const char *rack, size_t len);
/* offsets.commit.timeout.ms */
int64_t od_repl_commit_timeout_ms(const struct od_core *core);
/* Replicas in p's ISR (the image's view, as min.insync.replicas counts). */
int32_t od_repl_isr_size(const od_partition_t *p);
/* The endpoint brokers talk to each other on (replica fetches, forwarded
 * route copies): inter.broker.listener.name, else the first registered
 * endpoint that is not a controller listener. NULL: none. */
const struct od_endpoint *od_repl_broker_endpoint(struct od_core *core,
                                                  const struct od_broker_reg *b);

/* Propose p's ISR as `isr` (a PartitionChangeRecord through the control
 * plane; cb as od_propose_cb). For the controller's AlterPartition handler
 * and a leader that is the controller itself. */
int od_isr_propose(struct od_core *core, od_partition_t *p, const int32_t *isr, int32_t n,
                   void (*cb)(void *arg, int status, const char *msg), void *arg, char *err,
                   size_t errsz);

/* Elect a new leader for p on the controller (od_elect.c): preferred (the
 * first assigned replica, in the ISR and not fenced) or unclean (a
 * leaderless partition takes any live replica). 0 when proposed (cb runs
 * at the commit), else a negated Kafka error (ELECTION_NOT_NEEDED,
 * PREFERRED_LEADER_NOT_AVAILABLE, ELIGIBLE_LEADERS_NOT_AVAILABLE,
 * NOT_CONTROLLER) with Kafka's message in err. */
int od_elect_leader(struct od_core *core, od_partition_t *p, int unclean,
                    void (*cb)(void *arg, int status, const char *msg), void *arg, char *err,
                    size_t errsz);

/* ---- reassignment on the controller (od_reassign.c, KIP-455) ---- */
/* Move p to `target` (n brokers): 0 when proposed (cb at the commit), 1
 * when p already has exactly these replicas, else a negated Kafka error
 * (INVALID_REPLICA_ASSIGNMENT, NOT_CONTROLLER) with a message in err. */
int od_reassign_start(struct od_core *core, od_partition_t *p, const int32_t *target, int32_t n,
                      void (*cb)(void *arg, int status, const char *msg), void *arg, char *err,
                      size_t errsz);
/* Back to the replicas before the move: 0 proposed, else negated
 * NO_REASSIGNMENT_IN_PROGRESS or NOT_CONTROLLER. */
int od_reassign_cancel(struct od_core *core, od_partition_t *p,
                       void (*cb)(void *arg, int status, const char *msg), void *arg, char *err,
                       size_t errsz);
int od_reassign_in_progress(const od_partition_t *p);
/* The controller completes moves whose target replicas are all in sync. */
void od_reassign_tick(struct od_core *core, int64_t now_mono);

/* ---- acks=all (od_acks.c) ---- */
/* The high watermark of p moved: wake produce requests waiting on it. */
void od_acks_hw_moved(struct od_core *core, od_partition_t *p);
/* p is no longer led here (or is going away): its waiters finish with
 * `error` (NOT_LEADER_OR_FOLLOWER). */
void od_acks_fail_partition(struct od_core *core, od_partition_t *p, int16_t error);

/* Call cb(arg, NONE) once p's high watermark reaches `required`, or with
 * NOT_LEADER_OR_FOLLOWER / REQUEST_TIMED_OUT (timeout_ms). Returns 1 when
 * it already has (cb not called), 0 when waiting, -1 out of memory. */
typedef void (*od_hw_cb)(void *arg, int16_t error);
typedef struct od_hw_wait od_hw_wait_t;
int od_hw_wait(struct od_core *core, od_partition_t *p, int64_t required, int64_t timeout_ms,
               od_hw_cb cb, void *arg);

#endif
