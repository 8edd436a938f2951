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

/* mkdir -p. */
int kraft_mkdirs(const char *path, char *err, size_t errsz);
/* Replace `path` with data durably (tmp, fsync, rename, fsync dir). */
int kraft_write_file_atomic(const char *path, const void *data, size_t len, char *err,
                            size_t errsz);
int kraft_fsync_dir(const char *dir, char *err, size_t errsz);

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

/* Epoch of the last batch, or -1 for an empty log. */
int32_t kraft_log_last_epoch(const kraft_log_t *log);
/* Raft's end-offset-for-epoch: finds the largest epoch <= `epoch` in the log
 * (*found_epoch, -1 if none) and returns the offset where it ends (the start
 * of the next epoch, or end_offset for the last one). With no such epoch it
 * returns the start offset of the first epoch (-1 for an empty log). */
int64_t kraft_log_end_offset_for_epoch(const kraft_log_t *log, int32_t epoch,
                                       int32_t *found_epoch);

/* ---- Raft state (kraft_module.c) ---------------------------------------- */

typedef enum kraft_role {
    KRAFT_UNATTACHED = 0, /* not started, or no leader known */
    KRAFT_CANDIDATE,      /* voted for itself in `epoch`, counting votes */
    KRAFT_LEADER
    /* KRAFT_FOLLOWER and KRAFT_RESIGNED arrive with multi-node quorums. */
} kraft_role_t;

typedef struct kraft_state {
    kraft_role_t role;
    int32_t node_id;
    int32_t epoch;     /* current leader epoch (Raft term) */
    int32_t leader_id; /* -1: unknown */
    int32_t voted_id;  /* -1: no vote in `epoch` */
    kraft_voter_t voters[KRAFT_MAX_VOTERS];
    size_t nvoters;
    int64_t epoch_start_offset; /* first offset the leader wrote in `epoch` */
    /* First offset not known to be committed (on a majority of voters). For
     * one voter it is the log end offset after each fsync. */
    int64_t high_watermark;
} kraft_state_t;

#endif
