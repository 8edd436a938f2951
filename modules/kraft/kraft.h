/* kraft.h - internal interfaces of the `kraft` control-plane module.
 *
 * The module keeps Odradek's cluster metadata in a KRaft-style metadata log
 * (__cluster_metadata-0) and orders changes through a Raft quorum. Today the
 * quorum has exactly one voter, this node, so every append is committed once
 * it is on the local disk. The pieces are split so that the multi-node issue
 * adds Vote/Fetch/BeginQuorumEpoch handling next to them instead of rewriting
 * them:
 *
 *   kraft_log.c          the metadata log on disk: segments of RecordBatches,
 *                        crash recovery, append, cursor reads, epoch cache.
 *   kraft_quorum_state.c small state files: quorum-state (Raft's persistent
 *                        epoch and vote), meta.properties (cluster and node
 *                        identity), the controller.quorum.voters parser.
 *   kraft_module.c       od_module export, config keys, the Raft state
 *                        machine (election, high watermark, apply) and the
 *                        od_controlplane_ops_t glue.
 *
 * A module may only call the core functions in core/odradek.dynlist, so the
 * byte helpers below are local instead of od_buf.c's. */
#ifndef KRAFT_H
#define KRAFT_H

#include <stddef.h>
#include <stdint.h>

#include "odradek-module.h"

/* ---- constants ---------------------------------------------------------- */

#define KRAFT_PARTITION_DIR "__cluster_metadata-0"
#define KRAFT_QUORUM_STATE_FILE "quorum-state"
#define KRAFT_META_PROPERTIES "meta.properties"

/* RecordBatch v2 header: baseOffset .. recordCount. */
#define KRAFT_BATCH_HEADER 61
/* Offset of the attributes field, where the CRC coverage starts. */
#define KRAFT_BATCH_CRC_START 21
/* The largest batch the log writes or accepts on recovery. A proposal is one
 * batch (all or none), so this also caps one proposal. */
#define KRAFT_MAX_BATCH_BYTES (64 * 1024 * 1024)
#define KRAFT_ATTR_CONTROL 0x20 /* attributes bit 5: control batch */
#define KRAFT_ATTR_COMPRESSION 0x07

/* Control record types (the int16 `type` in a control record's key). */
#define KRAFT_CONTROL_LEADER_CHANGE 2

#define KRAFT_MAX_VOTERS 64
#define KRAFT_CLUSTER_ID_LEN 22 /* base64url of 16 bytes, no padding */

/* Kafka error codes the module reports, negated, through od_propose_cb. */
#define KRAFT_ERR_MESSAGE_TOO_LARGE 10
#define KRAFT_ERR_NOT_CONTROLLER 41
#define KRAFT_ERR_KAFKA_STORAGE_ERROR 56

/* ---- big-endian and varint helpers ------------------------------------- */

static inline void kraft_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void kraft_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void kraft_put_be64(uint8_t *p, uint64_t v)
{
    kraft_put_be32(p, (uint32_t)(v >> 32));
    kraft_put_be32(p + 4, (uint32_t)v);
}
static inline uint16_t kraft_get_be16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}
static inline uint32_t kraft_get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t kraft_get_be64(const uint8_t *p)
{
    return (uint64_t)kraft_get_be32(p) << 32 | kraft_get_be32(p + 4);
}

/* Zig-zag varint/varlong (the same bytes for any value in int32 range). */
static inline size_t kraft_varint_size(int64_t v)
{
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 1;
    while (u >= 0x80) {
        u >>= 7;
        n++;
    }
    return n;
}
static inline size_t kraft_put_varint(uint8_t *p, int64_t v)
{
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 0;
    while (u >= 0x80) {
        p[n++] = (uint8_t)(u | 0x80);
        u >>= 7;
    }
    p[n++] = (uint8_t)u;
    return n;
}
/* Reads a zig-zag varint of at most maxbytes (5 for varint, 10 for
 * varlong) from [*p, end). Returns 0 and advances *p, or -1 when it is
 * truncated or too long. */
static inline int kraft_get_varint(const uint8_t **p, const uint8_t *end, int maxbytes,
                                   int64_t *out)
{
    uint64_t u = 0;
    for (int i = 0; i < maxbytes; i++) {
        if (*p >= end)
            return -1;
        uint8_t b = *(*p)++;
        u |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            int64_t v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
            if (maxbytes <= 5 && (v < INT32_MIN || v > INT32_MAX))
                return -1;
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* ---- small files (kraft_quorum_state.c) -------------------------------- */

typedef struct kraft_voter {
    int32_t id;
    char host[256];
    int port;
    /* Raft bookkeeping the leader keeps per voter. With one voter only the
     * leader's own entry is used; followers' entries get their end offsets
     * from Fetch requests once replication exists. */
    int64_t match_offset; /* log end offset known to be on that voter's disk */
} kraft_voter_t;

/* Parses controller.quorum.voters ("id@host:port,id@[v6]:port"). NULL or
 * blank gives n == 0. Returns 0, or -1 with err naming the bad entry. */
int kraft_parse_voters(const char *s, kraft_voter_t *out, size_t max, size_t *n, char *err,
                       size_t errsz);

/* Raft's persistent per-voter state, in the layout of Kafka's
 * QuorumStateData (data_version 0). */
typedef struct kraft_qstate {
    int32_t leader_id;      /* -1: not known */
    int32_t leader_epoch;   /* the current epoch; 0 for a fresh node */
    int32_t voted_id;       /* -1: no vote cast in leader_epoch */
    int64_t applied_offset; /* kept for Kafka's format; always written 0 */
    int32_t voters[KRAFT_MAX_VOTERS];
    size_t nvoters;
    int data_version;
} kraft_qstate_t;

/* Sets qs to the state of a node that never ran: epoch 0, no leader, no
 * vote. */
void kraft_qstate_init(kraft_qstate_t *qs);
/* Returns 1 when read, 0 when the file does not exist (qs initialised), -1
 * with err when it cannot be read or is not valid quorum-state JSON. */
int kraft_qstate_read(const char *path, kraft_qstate_t *qs, char *err, size_t errsz);
/* Writes atomically: tmp file, fsync, rename, fsync of the directory. */
int kraft_qstate_write(const char *path, const kraft_qstate_t *qs, char *err, size_t errsz);

/* <dir>/meta.properties: reads it and checks node.id, or creates it with a
 * fresh random cluster id. cluster_id gets the 22 chars and a NUL. */
int kraft_meta_props_load(const char *dir, int32_t node_id,
                          char cluster_id[KRAFT_CLUSTER_ID_LEN + 1], int *created, char *err,
                          size_t errsz);

/* Writes <dir>/meta.properties (version 1) with the given cluster id. */
int kraft_meta_props_write(const char *dir, int32_t node_id, const char *cluster_id, char *err,
                           size_t errsz);
/* A fresh random cluster id (22 base64url chars and a NUL). */
int kraft_new_cluster_id(char out[KRAFT_CLUSTER_ID_LEN + 1], char *err, size_t errsz);
int kraft_valid_cluster_id(const char *s, size_t len);

/* mkdir -p. */
int kraft_mkdirs(const char *path, char *err, size_t errsz);
/* Replace `path` with data durably (tmp, fsync, rename, fsync dir). */
int kraft_write_file_atomic(const char *path, const void *data, size_t len, char *err,
                            size_t errsz);
int kraft_fsync_dir(const char *dir, char *err, size_t errsz);
/* Makes the file written through fd at tmp durable as path: fsync, close
 * (fd is closed in every case), rename over path, fsync of dir. 0, or -1
 * with err (a tmp left behind is the caller's to remove). */
int kraft_commit_tmp(int fd, const char *tmp, const char *path, const char *dir, char *err,
                     size_t errsz);

/* ---- the metadata log (kraft_log.c) ------------------------------------ */

typedef struct kraft_segment {
    int64_t base_offset; /* from the file name, = offset of its first batch */
    int64_t size;        /* valid bytes (after recovery) */
} kraft_segment_t;

/* The first offset of each leader epoch present in the log, in increasing
 * order; what Raft followers use to find where their log diverges. */
typedef struct kraft_epoch_entry {
    int32_t epoch;
    int64_t start_offset;
} kraft_epoch_entry_t;

typedef struct kraft_log {
    char *dir;      /* owned: .../__cluster_metadata-0 */
    int dir_fd;     /* held open with an exclusive flock */
    int fd;         /* the active (last) segment, read-write */
    kraft_segment_t *segs;
    size_t nsegs, segs_cap;
    kraft_epoch_entry_t *epochs;
    size_t nepochs, epochs_cap;
    int64_t end_offset;    /* next offset to assign */
    int64_t synced_end;    /* offsets below it are on disk (fdatasync'ed) */
    int64_t unsynced_pos;  /* byte position in the active segment of the first
                              batch not synced yet; -1: none */
    size_t unsynced_nepochs; /* nepochs before that batch */
    int64_t nsyncs;        /* fdatasyncs of appended batches (group commits) */
    int64_t segment_bytes; /* roll threshold */
    int broken;            /* a failed append could not be undone */
    /* Where the last raw read ended (kraft_log_repl.c): followers fetch
     * sequentially, so the next read starts there without a scan. */
    int64_t rc_offset; /* -1: nothing cached */
    size_t rc_seg;
    int64_t rc_pos;
} kraft_log_t;

/* One record handed out by kraft_log_read; pointers borrowed for the call. */
typedef struct kraft_record {
    int64_t offset;
    int32_t epoch; /* partitionLeaderEpoch of its batch */
    int control;   /* from a control batch (leader change, ...) */
    const uint8_t *key;
    int32_t key_len; /* -1: null */
    const uint8_t *value;
    int32_t value_len; /* -1: null */
} kraft_record_t;

/* Returns 0 to go on, -1 (with err) to stop the read. */
typedef int (*kraft_record_fn)(void *arg, const kraft_record_t *rec, char *err, size_t errsz);

/* A read position: the next batch to read. */
typedef struct kraft_log_cursor {
    size_t seg;
    int64_t pos;    /* byte position in segs[seg] */
    int64_t offset; /* base offset of the batch at pos */
} kraft_log_cursor_t;

/* Opens (creating if needed) the log in dir, locks the directory and
 * recovers it: a torn or corrupt tail is truncated with a warning naming the
 * file and byte position; later segments are removed. Returns 0, or -1 with
 * err (log left closed). */
int kraft_log_open(kraft_log_t *log, const char *dir, int64_t segment_bytes, char *err,
                   size_t errsz);
/* The same for a log that may start above offset 0 because a snapshot
 * ending at snapshot_end (-1: none) covers what was trimmed; an empty log
 * then starts at snapshot_end. */
int kraft_log_open_from(kraft_log_t *log, const char *dir, int64_t segment_bytes,
                        int64_t snapshot_end, char *err, size_t errsz);
void kraft_log_close(kraft_log_t *log);

/* Appends one batch with n records written by the leader of `epoch`, at
 * end_offset, and fdatasyncs it. keys may be NULL (all keys null). The batch
 * is a control batch when `control`. Returns 0 with *base_out, -1 on an I/O
 * error (the log is truncated back; nothing of the batch stays) or -2 when
 * the batch is too large or the input invalid; err says why. */
int kraft_log_append(kraft_log_t *log, int32_t epoch, int control, const od_meta_record_t *keys,
                     const od_meta_record_t *values, size_t n, int64_t now_ms, int64_t *base_out,
                     char *err, size_t errsz);

/* Group commit: kraft_log_write appends a batch like kraft_log_append but
 * without the fdatasync (end_offset moves, synced_end not); kraft_log_sync
 * makes every written batch durable with one fdatasync. When the sync fails
 * all unsynced batches are truncated away (end_offset = synced_end again)
 * and -1 returned with err. kraft_log_append is write + sync. */
int kraft_log_write(kraft_log_t *log, int32_t epoch, int control, const od_meta_record_t *keys,
                    const od_meta_record_t *values, size_t n, int64_t now_ms, int64_t *base_out,
                    char *err, size_t errsz);
int kraft_log_sync(kraft_log_t *log, char *err, size_t errsz);

/* Positions c at the start of the log. */
void kraft_log_cursor_init(const kraft_log_t *log, kraft_log_cursor_t *c);
/* Reads whole batches from c up to (not including) end_offset: a batch
 * whose last offset is >= end_offset is not read. Calls fn for each record
 * of each batch in offset order and advances c past every batch fully
 * handed out. Returns 0, or -1 with err. */
int kraft_log_read(kraft_log_t *log, kraft_log_cursor_t *c, int64_t end_offset,
                   kraft_record_fn fn, void *arg, char *err, size_t errsz);

/* ---- replication (kraft_log_repl.c) ---- */

/* Copies whole batches from the batch starting at `offset` on, up to
 * max_bytes (always at least one batch when there is one), into a malloc'd
 * buffer (*out, *len; both 0 at the log end). Returns 0, -1 with err on an
 * I/O error, -2 when offset is not the start of a batch in the log. */
int kraft_log_read_raw(kraft_log_t *log, int64_t offset, size_t max_bytes, uint8_t **out,
                       size_t *len, char *err, size_t errsz);
/* Appends a leader's batches (a Fetch response's records) at end_offset
 * after checking each one (offsets contiguous, epochs not decreasing, CRC,
 * record framing), and makes them durable. A partial batch at the end is
 * ignored. Returns the number of batches appended, -1 on an I/O error,
 * -2 with err when the bytes are not valid batches for this position. */
int kraft_log_append_raw(kraft_log_t *log, const uint8_t *data, size_t len, char *err,
                         size_t errsz);
/* Removes every batch at or after `offset` (a batch boundary): what a
 * follower does when its tail diverges from the leader's log. */
int kraft_log_truncate(kraft_log_t *log, int64_t offset, char *err, size_t errsz);

/* Positions c at the batch starting at `offset` (a batch boundary or the
 * log end). Returns 0, -1 on an I/O error, -2 when no batch starts there. */
int kraft_log_cursor_at(kraft_log_t *log, int64_t offset, kraft_log_cursor_t *c, char *err,
                        size_t errsz);
/* Deletes the segments that lie wholly below `offset` (never the active
 * one): the log start offset moves to the first kept segment. Returns the
 * number of segments removed (cursors' seg indices must drop by as much),
 * or -1 with err. */
int kraft_log_trim(kraft_log_t *log, int64_t offset, char *err, size_t errsz);
/* Deletes every segment and starts the log empty at `offset` (a snapshot
 * of `epoch` fetched from the leader replaces it; its epoch stands as the
 * log's last until batches follow). The log stays locked. */
int kraft_log_reset(kraft_log_t *log, int64_t offset, int32_t epoch, char *err, size_t errsz);
/* First offset still in the log. */
int64_t kraft_log_start_offset(const kraft_log_t *log);

/* Epoch of the last batch, or -1 for an empty log. */
int32_t kraft_log_last_epoch(const kraft_log_t *log);
/* Raft's end-offset-for-epoch: finds the largest epoch <= `epoch` in the log
 * (*found_epoch, -1 if none) and returns the offset where it ends (the start
 * of the next epoch, or end_offset for the last one). With no such epoch it
 * returns the start offset of the first epoch (-1 for an empty log). */
int64_t kraft_log_end_offset_for_epoch(const kraft_log_t *log, int32_t epoch,
                                       int32_t *found_epoch);

/* ---- Raft state (kraft_raft.c) ------------------------------------------ */

/* Kafka's KRaft states (KIP-595, KIP-996). A node that is not a voter
 * (process.roles=broker) is only ever UNATTACHED or FOLLOWER: an observer. */
typedef enum kraft_role {
    KRAFT_UNATTACHED = 0, /* no leader known in `epoch` (voted_id may be set) */
    KRAFT_PROSPECTIVE,    /* asking for pre-votes for epoch + 1; epoch unchanged */
    KRAFT_CANDIDATE,      /* voted for itself in `epoch`, counting votes */
    KRAFT_LEADER,
    KRAFT_FOLLOWER        /* fetching from leader_id */
} kraft_role_t;

const char *kraft_role_name(kraft_role_t r);

typedef struct kraft_state {
    kraft_role_t role;
    int32_t node_id;
    int32_t epoch;     /* current leader epoch (Raft term) */
    int32_t leader_id; /* -1: unknown */
    int32_t voted_id;  /* -1: no vote in `epoch` */
    kraft_voter_t voters[KRAFT_MAX_VOTERS];
    size_t nvoters;
    int64_t epoch_start_offset; /* first offset the leader wrote in `epoch` */
    /* First offset not known to be committed (on a majority of voters). */
    int64_t high_watermark;
} kraft_state_t;

/* Control record types (the int16 `type` of a control record's key) beyond
 * Kafka's: the agreed cluster id, written by the first leader of a cluster
 * that was started without a format step. An Odradek extension. */
#define KRAFT_CONTROL_CLUSTER_ID 200

/* A replica's progress as the leader sees it (voters and observers). */
typedef struct kraft_replica {
    int32_t id;
    int64_t end_offset;       /* its last Fetch offset, -1 unknown */
    int64_t last_fetch_ms;    /* wall clock, -1 never */
    int64_t caught_up_ms;     /* last time it had the leader's end offset */
    int64_t hw_sent;          /* the high watermark of our last answer to it */
} kraft_replica_t;

typedef struct kraft_pending {
    struct kraft_pending *next;
    int64_t last_offset; /* committed once the high watermark passes it */
    od_propose_cb cb;
    void *arg;
} kraft_pending_t;

/* A follower's Fetch held by the leader until data or the wait runs out. */
typedef struct kraft_parked {
    struct kraft_parked *next;
    struct kraft *k;
    od_cp_reply_t *reply;
    int16_t version;
    int32_t replica_id;
    int64_t fetch_offset;
    int32_t last_fetched_epoch;
    int32_t current_epoch;
    int32_t max_bytes;
    int64_t timer;
} kraft_parked_t;

struct kraft_peer;

typedef struct kraft {
    od_core_t *core;
    /* configuration (filled by the core before start) */
    char *cfg_voters;
    char *cfg_bootstrap;
    char *cfg_log_dir;
    int64_t cfg_segment_bytes;
    int64_t cfg_election_timeout_ms;
    int64_t cfg_fetch_timeout_ms;
    int64_t cfg_election_backoff_ms;
    int64_t cfg_request_timeout_ms;
    int64_t cfg_retry_backoff_ms;
    int64_t cfg_snap_bytes;       /* metadata.log.max.record.bytes.between.snapshots */
    int64_t cfg_snap_interval_ms; /* metadata.log.max.snapshot.interval.ms */
    od_conf_def_t conf[11];

    char *meta_dir;     /* owned: metadata.log.dir, resolved */
    char *part_dir;     /* owned: <meta_dir>/__cluster_metadata-0 */
    char *qstate_path;  /* owned: <part_dir>/quorum-state */
    char cluster_id[KRAFT_CLUSTER_ID_LEN + 1]; /* "" until known */
    int cluster_id_adopted; /* from meta.properties or a committed record */
    char controller_listener[64]; /* first of controller.listener.names */
    kraft_state_t st;
    int is_voter;
    kraft_log_t log;
    int log_open;
    int started;
    kraft_log_cursor_t applied; /* next batch to hand to od_metadata_apply */
    int64_t records_applied;    /* since start, for the log */
    kraft_pending_t *pending, **pending_tail;
    int64_t flush_timer; /* > 0: a group commit is due at the end of this loop turn */
    char fatal[512]; /* set when the image and the log may disagree */

    /* Snapshots (kraft_snap_ctl.c) */
    int32_t applied_epoch;     /* epoch of the last record applied, -1 none */
    int64_t snap_end;          /* end offset of the newest snapshot, -1 none */
    int32_t snap_epoch;        /* and its epoch */
    int64_t snap_oldest_end;   /* of the oldest one kept: the log is trimmed
                                  below it only, so that a damaged newest one
                                  still has an older one to fall back on */
    int64_t snap_bytes_since;  /* record bytes applied since it */
    int64_t snap_last_ms;      /* mono: when it was written or loaded */
    int64_t snapshots_written; /* since start */
    int64_t snap_records_loaded; /* records of the snapshot loaded at start */
    int64_t segments_trimmed;  /* since start */
    int64_t snapshots_fetched; /* installed from the leader (FetchSnapshot), since start */
    int dl_active;             /* kraft_snap_fetch.c: a FetchSnapshot download */
    int dl_fd;
    int64_t dl_id_end, dl_pos;
    int32_t dl_id_epoch, dl_peer;

    /* Raft (kraft_raft.c) */
    struct kraft_peer *peers[KRAFT_MAX_VOTERS]; /* by index of st.voters; NULL for us */
    /* A second connection per voter for forwarded admin requests, which
     * wait for their commit: Raft's own requests never queue behind them. */
    struct kraft_peer *fwd_peers[KRAFT_MAX_VOTERS];
    uint32_t generation;   /* bumped by every state change: stale answers are ignored */
    int64_t election_timer;
    int64_t fetch_timer;   /* follower: the next Fetch after a backoff */
    int64_t leader_timer;  /* leader: BeginQuorumEpoch resends, quorum check */
    int fetching;          /* a Fetch is in flight */
    int64_t leader_contact_ms; /* mono: last answer from the leader */
    int64_t leader_since_ms;
    uint8_t granted[KRAFT_MAX_VOTERS];
    size_t bootstrap_next;  /* observer: the voter asked next for the leader */
    kraft_replica_t voter_state[KRAFT_MAX_VOTERS];
    kraft_replica_t observers[KRAFT_MAX_VOTERS];
    size_t nobservers;
    kraft_parked_t *parked;
    int backing_off;        /* prospective/candidate: waiting before the next round */
} kraft_t;

/* kraft_raft.c */
int kraft_raft_start(kraft_t *k, const kraft_qstate_t *qs, char *err, size_t errsz);
void kraft_raft_stop(kraft_t *k);
int kraft_persist_state(kraft_t *k, char *err, size_t errsz);
void kraft_become_follower(kraft_t *k, int32_t epoch, int32_t leader);
void kraft_become_unattached(kraft_t *k, int32_t epoch, int32_t voted);
void kraft_end_quorum_epoch(kraft_t *k);  /* a leader resigning at shutdown */
void kraft_leader_fetched(kraft_t *k, int32_t replica, int64_t offset); /* HW, parked */
void kraft_leader_appended(kraft_t *k); /* new data: answer parked fetches */
int kraft_voter_index(const kraft_t *k, int32_t id);
/* We heard from our leader (a Fetch answer, BeginQuorumEpoch): the fetch
 * timeout starts again, and pre-votes are refused for that long. */
void kraft_reset_fetch_timeout(kraft_t *k);
int kraft_log_up_to_date(const kraft_t *k, int32_t last_epoch, int64_t last_offset);
void kraft_on_committed(kraft_t *k); /* high watermark moved: apply and complete */
/* A Vote answer of this generation granted us voter's (pre-)vote. */
void kraft_vote_granted(kraft_t *k, int32_t voter, int pre_vote);
/* The leader's record of a replica (voters, then a bounded observer table). */
kraft_replica_t *kraft_replica(kraft_t *k, int32_t id);
/* The leader resigned (EndQuorumEpoch); position among its preferred
 * successors decides how soon we run. */
void kraft_leader_resigned(kraft_t *k, int position);
/* Follower: the next Fetch after controller.quorum.retry.backoff.ms. */
void kraft_fetch_later(kraft_t *k);

/* kraft_module.c */
void kraft_update_high_watermark(kraft_t *k);
void kraft_apply_committed(kraft_t *k);
void kraft_fail_pending(kraft_t *k, int status, const char *msg);
int kraft_append_leader_change(kraft_t *k, char *err, size_t errsz);

/* kraft_snap_ctl.c: opens the log after the newest valid snapshot, whose
 * records it applies; the applied cursor and the high watermark start at
 * its end. */
int kraft_snap_start(kraft_t *k, char *err, size_t errsz);
/* After records were applied: a snapshot when the thresholds say so, then
 * trimming of segments no replica needs any more. */
void kraft_snap_after_apply(kraft_t *k);
/* Replaces image and log by the snapshot (already fetched and checked):
 * the core's image is reset to its records, the log emptied to start at
 * its end offset. */
int kraft_snap_install(kraft_t *k, int64_t end_offset, int32_t epoch, char *err, size_t errsz);
/* kraft_snap_fetch.c: download the leader's snapshot, then install it. */
void kraft_snap_fetch_start(kraft_t *k, int32_t peer, int64_t end_offset, int32_t epoch);
void kraft_snap_fetch_stop(kraft_t *k);

/* kraft_rpc.c: the APIs served on the controller listener */
#define KRAFT_NAPIS 6
extern const od_cp_api_t kraft_apis[KRAFT_NAPIS];
void kraft_handle(void *self, const od_cp_request_t *req, od_cp_reply_t *reply);
int kraft_forward(void *self, const od_cp_request_t *req,
                  void (*cb)(void *arg, int status, const uint8_t *body, size_t len), void *arg);
void kraft_answer_parked(kraft_t *k, kraft_parked_t *pk);
/* Builds and sends our Fetch to the leader (or a bootstrap voter). */
void kraft_send_fetch(kraft_t *k);
void kraft_send_vote_requests(kraft_t *k, int pre_vote);
void kraft_send_begin_epoch(kraft_t *k, size_t voter);
void kraft_send_end_epoch(kraft_t *k);

#endif
