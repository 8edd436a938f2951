/* od_repl_int.h - state shared by the replication files (core/repl/). */
#ifndef OD_REPL_INT_H
#define OD_REPL_INT_H

#include <stddef.h>
#include <stdint.h>

#include "od_peer.h"
#include "od_repl.h"

struct od_core;
struct od_ack_node;
typedef struct od_fetcher od_fetcher_t;

enum { OD_ROLE_NONE = 0, OD_ROLE_LEADER, OD_ROLE_FOLLOWER };

#define OD_REPL_MAX_ISR 64 /* the ISR a leader proposes holds at most this many */

/* One leader epoch of the log: its first offset (Kafka's
 * leader-epoch-checkpoint entries). */
typedef struct od_epoch_entry {
    int32_t epoch;
    int64_t start;
} od_epoch_entry_t;

/* What a leader knows of one follower, from its fetches. */
typedef struct od_follower {
    int32_t id;
    int64_t leo;          /* its log end offset (fetch offset), -1 unknown */
    int64_t caught_up_ms; /* last time it had everything the leader had (monotonic) */
    int64_t prev_fetch_ms;        /* monotonic time of its previous fetch */
    int64_t leader_leo_at_prev;   /* the leader's log end at that fetch */
} od_follower_t;

struct od_replica {
    od_partition_t *p;
    int role;
    int32_t role_epoch; /* the leader epoch the role was taken in */
    int64_t role_since_ms; /* monotonic time the leadership began */
    od_epoch_entry_t *epochs;
    size_t nepochs, epochs_cap;
    od_follower_t *followers;
    size_t nfollowers;
    int alter_inflight;       /* an ISR change is on its way to the controller */
    int64_t alter_sent_ms;    /* monotonic */
    /* The ISR that change proposes, until its answer: the high watermark
     * counts the committed ISR and these together (Kafka's maximal ISR). A
     * follower being added must have what is acknowledged meanwhile, or it
     * could be elected without it once the change commits; one being
     * removed still counts until the controller agrees. */
    int32_t proposed_isr[OD_REPL_MAX_ISR];
    int32_t nproposed;
    od_fetcher_t *fetcher;    /* follower: the fetcher of its leader */
    int64_t retry_at_ms;      /* follower: no fetch before this (monotonic) after an error */
    int warned_no_endpoint;   /* follower: its leader's endpoint was missing (logged once) */
    struct od_ack_node *acks; /* acks=all produce requests waiting on it */
    struct od_hw_wait *hw_waits; /* other waits for its high watermark (offset commits) */
};

/* One connection to a leader broker, fetching every partition this node
 * follows on it. */
struct od_fetcher {
    struct od_repl *repl;
    int32_t leader_id;
    od_peer_t *peer;
    char host[256];
    int port;
    od_replica_t **parts;
    size_t nparts, cap;
    int inflight;       /* a Fetch is out */
    int64_t retry_timer; /* backoff after a failed fetch */
    int64_t idle_timer;  /* a fetch is due although nothing is in flight */
    od_fetcher_t *next;
};

struct od_repl {
    struct od_core *core;
    int64_t lag_max_ms;             /* replica.lag.time.max.ms */
    int64_t fetch_max_bytes;        /* replica.fetch.max.bytes (per partition) */
    int64_t fetch_response_max_bytes; /* replica.fetch.response.max.bytes */
    int64_t fetch_wait_max_ms;      /* replica.fetch.wait.max.ms */
    int64_t fetch_min_bytes;        /* replica.fetch.min.bytes */
    int64_t fetch_backoff_ms;       /* replica.fetch.backoff.ms */
    int64_t socket_timeout_ms;      /* replica.socket.timeout.ms */
    int64_t commit_timeout_ms;      /* offsets.commit.timeout.ms */
    int rack_aware_reads;           /* replica.selector.class is RackAwareReplicaSelector */
    int64_t auto_rebalance;         /* auto.leader.rebalance.enable */
    int64_t imbalance_interval_ms;  /* leader.imbalance.check.interval.seconds, in ms */
    int64_t imbalance_pct;          /* leader.imbalance.per.broker.percentage */
    int64_t last_rebalance_ms;      /* monotonic */
    od_fetcher_t *fetchers;
};

/* od_replica.c */
od_replica_t *od_replica_of(struct od_core *core, od_partition_t *p); /* made on demand */
void od_replica_update_hw(struct od_core *core, od_partition_t *p);

/* od_epochs.c */
void od_epochs_load(struct od_core *core, od_partition_t *p);
/* A batch of epoch e starts at `start`: a new entry when e is newer than
 * the latest (persisted). */
void od_epochs_assign(struct od_core *core, od_partition_t *p, int32_t epoch, int64_t start);
/* The log was cut to end at `end`: entries starting at or after it go. */
void od_epochs_truncated(struct od_core *core, od_partition_t *p, int64_t end);
int32_t od_epochs_latest(const od_partition_t *p); /* -1 when none */
void od_epochs_end_offset(struct od_core *core, od_partition_t *p, int32_t epoch, int32_t *epoch_out,
                          int64_t *end_out);

/* od_fetcher.c */
void od_fetcher_add(struct od_core *core, od_replica_t *rs, int32_t leader);
void od_fetcher_remove(struct od_core *core, od_replica_t *rs);
void od_fetchers_free(struct od_core *core);

/* od_elect.c */
void od_elect_tick(struct od_core *core, int64_t now_mono);

/* od_isr.c */
void od_isr_check(struct od_core *core, od_partition_t *p, int64_t now_mono);
/* Propose r (its partition and topic set from p here) as one
 * PartitionChangeRecord; cb runs once with the control plane's status.
 * Returns OD_ERR_NONE or OD_ERR_NOT_CONTROLLER (refused, not built, no
 * control plane): its callers say failures as negated Kafka codes, and
 * UNKNOWN_SERVER_ERROR, Kafka's one negative code, would read as a
 * positive "nothing to do"; NOT_CONTROLLER is retried by clients. */
struct od_PartitionChangeRecord;
int16_t od_repl_propose_change(struct od_core *core, const od_partition_t *p,
                               struct od_PartitionChangeRecord *r,
                               void (*cb)(void *arg, int status, const char *msg), void *arg,
                               char *err, size_t errsz);

#endif
