/* odradek-module.h - the one header an Odradek module needs.
 *
 * Part 1 is what a module implements, part 2 is what the core offers.
 *
 * ABI policy
 *   OD_ABI_MAJOR changes when anything here is removed or changes meaning or
 *   layout; OD_ABI_MINOR changes when something is added. The core loads a
 *   module when the module's major equals the core's and the module's minor
 *   is not newer than the core's. Structs that cross the boundary only grow,
 *   at their end, and carry their own size (`struct_size`) so that the core
 *   can tell which fields an older module filled in. Kinds and event numbers
 *   are explicit and never reused.
 *
 * Every module exports one symbol, `od_module`, an od_module_t. The core
 * calls init() once after dlopen; registrations (storage backends, control
 * planes, config keys) are accepted only during init(). A failing init()
 * writes a reason into err and the core stops with the module's file name
 * and that reason.
 *
 * Threads: the core runs one event loop thread. Every callback below is
 * called on that thread unless it says otherwise, and every core service may
 * only be called from it.
 *
 * Ownership: pointers passed into a callback are borrowed for the duration
 * of the call unless the comment says otherwise. */
#ifndef ODRADEK_MODULE_H
#define ODRADEK_MODULE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OD_ABI_MAJOR 1
/* Changes, newest last (a module built for an older minor still loads):
 * 1.1: module start(), log lifecycle ops, compression services.
 * 1.2 (2026-12): module metrics (od_register_metrics, od_metrics_add); the
 *      control plane's owned_dirs (directories no partition log may use).
 * ABI 1.3 (h-quorum): APIs served by the control plane (od_cp_api_t, the
 *      apis/napis/handle/forward ops, od_cp_reply services).
 *      (h-repl): the storage backend's truncate_to (followers cut a
 *      divergent tail). */
#define OD_ABI_MINOR 2

/* Module kinds (bit flags). */
#define OD_KIND_STORAGE      (1u << 0)
#define OD_KIND_CONTROLPLANE (1u << 1)
#define OD_KIND_SERIALIZER   (1u << 2)
#define OD_KIND_PARTITIONER  (1u << 3)
#define OD_KIND_AUTHN        (1u << 4)
#define OD_KIND_AUTHZ        (1u << 5)
#define OD_KIND_OTHER        (1u << 31)

typedef struct od_core od_core_t;       /* the running broker (opaque) */
typedef struct od_module_ctx od_module_ctx_t; /* one loaded module (opaque) */

/* ======================================================================
 * Part 1: what a module implements
 * ==================================================================== */

typedef struct od_module {
    uint32_t abi_major;  /* OD_ABI_MAJOR the module was built with */
    uint32_t abi_minor;  /* OD_ABI_MINOR the module was built with */
    const char *name;    /* e.g. "storage_segment" */
    const char *version; /* the module's own version string */
    uint32_t kinds;      /* OD_KIND_* it provides */
    /* Register what the module provides. Return 0, or -1 with err set. */
    int (*init)(od_module_ctx_t *ctx, char *err, size_t errsz);
    /* Called once at shutdown, after everything it registered was stopped. */
    void (*fini)(od_module_ctx_t *ctx);
    /* ---- ABI 1.1 (read only when abi_minor >= 1) ---- */
    /* Called once after every configuration value is stored in its target
     * and before backends start; may be NULL. Return 0, or -1 with err to
     * stop the start. */
    int (*start)(od_module_ctx_t *ctx, char *err, size_t errsz);
} od_module_t;

#define OD_MODULE_SYMBOL "od_module"

/* ---- configuration keys ------------------------------------------------ */

typedef enum od_conf_type {
    OD_CONF_BOOL = 1,
    OD_CONF_INT,    /* int64 with bounds */
    OD_CONF_STRING,
    OD_CONF_LIST,   /* comma separated, kept as the raw string */
    OD_CONF_ENUM,   /* one of `choices` (comma separated) */
    OD_CONF_DOUBLE  /* double with bounds min..max */
} od_conf_type_t;

/* One row of a module's or the core's configuration table. The core parses
 * and validates the value and stores it in *target (int64_t for BOOL/INT,
 * char * (core-owned, valid until shutdown) for STRING/LIST/ENUM, double for DOUBLE). */
typedef struct od_conf_def {
    const char *name;     /* Kafka's key name where Kafka has the setting */
    od_conf_type_t type;
    const char *dflt;     /* default as text; NULL means "no default" (empty) */
    int64_t min, max;     /* OD_CONF_INT bounds, inclusive */
    const char *choices;  /* OD_CONF_ENUM */
    const char *doc;      /* one line for doc/configuration.md */
    void *target;         /* where the parsed value goes */
    unsigned flags;       /* OD_CONF_F_* */
} od_conf_def_t;

#define OD_CONF_F_TOPIC  1u /* also a per-topic config key */
#define OD_CONF_F_SIZE   2u /* INT that is a byte size (doc only) */
#define OD_CONF_F_SECRET 4u /* never printed */

/* ---- the append-log interface (storage backends) ----------------------- */

/* The settings that govern one partition's log; the core resolves topic
 * overrides and broker defaults before it opens or reconfigures a log. */
typedef struct od_log_config {
    size_t struct_size;
    int64_t segment_bytes;        /* segment.bytes */
    int64_t segment_ms;           /* segment.ms */
    int64_t index_interval_bytes; /* index.interval.bytes */
    int64_t segment_index_bytes;  /* segment.index.bytes */
    int64_t flush_messages;       /* flush.messages (log.flush.interval.messages) */
    int64_t flush_ms;             /* flush.ms (log.flush.interval.ms) */
    int64_t preallocate;          /* preallocate (bool) */
    /* ---- ABI 1.1 ---- */
    int64_t retention_ms;         /* retention.ms, -1 = keep forever */
    int64_t retention_bytes;      /* retention.bytes, -1 = no size limit */
    int64_t cleanup_policy;       /* OD_CLEANUP_DELETE | OD_CLEANUP_COMPACT */
    int64_t delete_retention_ms;  /* delete.retention.ms: tombstone lifetime */
    double min_cleanable_dirty_ratio; /* min.cleanable.dirty.ratio */
    int64_t min_compaction_lag_ms;    /* min.compaction.lag.ms */
    int64_t max_compaction_lag_ms;    /* max.compaction.lag.ms */
    int64_t file_delete_delay_ms;     /* file.delete.delay.ms */
    int64_t segment_jitter_ms;        /* segment.jitter.ms */
} od_log_config_t;

#define OD_CLEANUP_DELETE  1
#define OD_CLEANUP_COMPACT 2

/* What the core tells a backend about batches it appends. The core has
 * already validated them and assigned offsets (the bytes carry the final
 * baseOffset, and maxTimestamp for LogAppendTime). */
typedef struct od_append_info {
    size_t struct_size;
    int64_t base_offset;   /* first offset in the appended bytes */
    int64_t last_offset;   /* last offset in the appended bytes */
    int64_t max_timestamp; /* largest record timestamp in the bytes */
    int64_t offset_of_max_timestamp;
    int32_t record_count;
    int32_t batch_count;
} od_append_info_t;

/* A read result: ranges of whole batches starting with the batch that holds
 * the requested offset. Each range is either memory or a file range; the
 * reader owns one reference per range and gives it to the writer of the
 * response (od_ref_t from od_buf.h semantics: release(opaque) once). */
typedef struct od_log_range {
    int is_file;
    const uint8_t *mem; /* !is_file */
    int fd;             /* is_file */
    off_t file_off;     /* is_file */
    size_t len;
    void (*release)(void *opaque);
    void *opaque;
} od_log_range_t;

#define OD_LOG_READ_MAX_RANGES 8
typedef struct od_log_read {
    size_t nranges;
    od_log_range_t ranges[OD_LOG_READ_MAX_RANGES];
    size_t total; /* sum of range lengths */
} od_log_read_t;

typedef struct od_log od_log_t; /* one partition's log, defined by the backend */

typedef struct od_storage_ops {
    size_t struct_size;
    const char *name; /* backend name, chosen by log.storage.backend */
    /* Called once after configuration, before any log is opened. base_dir
     * is the first of log.dirs. */
    int (*start)(void *self, const char *base_dir, char *err, size_t errsz);
    void (*stop)(void *self);
    /* Open (creating if missing, recovering after a crash) the log of one
     * partition. dir_name is "<topic>-<partition>". */
    int (*open)(void *self, const char *dir_name, const od_log_config_t *cfg,
                od_log_t **out, char *err, size_t errsz);
    /* Flush and close (clean shutdown). */
    void (*close)(od_log_t *log);
    /* Close and delete all data of the log (topic deletion). */
    int (*remove)(od_log_t *log, char *err, size_t errsz);
    /* Append whole, validated batches. On error nothing of them is visible. */
    int (*append)(od_log_t *log, const uint8_t *data, size_t len,
                  const od_append_info_t *info, char *err, size_t errsz);
    /* Read whole batches from the batch holding `offset` on, stopping once
     * max_bytes is reached, but always at least one whole batch if there is
     * one. offset == end offset gives an empty read. Returns 0, or
     * -1 with err for offsets outside [start, end]. */
    int (*read)(od_log_t *log, int64_t offset, size_t max_bytes, od_log_read_t *out,
                char *err, size_t errsz);
    int64_t (*start_offset)(od_log_t *log); /* log start offset */
    int64_t (*end_offset)(od_log_t *log);   /* next offset to be assigned */
    /* First offset whose batch has maxTimestamp >= ts; -1 if none. *ts_out
     * gets that batch's max timestamp. */
    int64_t (*offset_for_time)(od_log_t *log, int64_t ts, int64_t *ts_out);
    int (*flush)(od_log_t *log);
    /* Periodic housekeeping (roll by segment.ms, flush by flush.ms). */
    void (*tick)(od_log_t *log, int64_t now_ms);
    /* New settings for an open log (config changed at run time). */
    void (*reconfigure)(od_log_t *log, const od_log_config_t *cfg);
    /* Bytes on disk / in memory, for DescribeLogDirs and metrics. */
    int64_t (*size_bytes)(od_log_t *log);

    /* ---- ABI 1.1: log lifecycle (NULL in 1.0 backends) ---- */

    /* Move the log start offset to new_start (DeleteRecords, retention):
     * offsets below it are no longer readable, whole segments below it are
     * deleted (after file.delete.delay.ms), and the new start survives a
     * restart. new_start must lie in [start, end]; an older value is a
     * no-op. Offsets are never reused. */
    int (*advance_start)(od_log_t *log, int64_t new_start, char *err, size_t errsz);
    /* Apply the time and size retention of the log's config (only when
     * cleanup_policy has OD_CLEANUP_DELETE): delete whole segments from the
     * front whose largest timestamp is older than retention.ms, or while the
     * log is larger than retention.bytes; the active segment goes too once
     * it is due (it is rolled first), as in Kafka. Returns the number of
     * segments deleted, or -1 with err. */
    int (*enforce_retention)(od_log_t *log, int64_t now_ms, char *err, size_t errsz);
    /* Small named state kept with the partition and replaced atomically
     * (producer-state snapshots, checkpoints). get_state returns 1 and a
     * malloc'd copy (caller frees), 0 when there is none, -1 on error. */
    int (*put_state)(od_log_t *log, const char *name, const void *data, size_t len, char *err,
                     size_t errsz);
    int (*get_state)(od_log_t *log, const char *name, void **data, size_t *len, char *err,
                     size_t errsz);
    /* Compaction (cleanup_policy has OD_CLEANUP_COMPACT): do at most about
     * budget_bytes of cleaning work and return, so produce and fetch are
     * never blocked for long; the core calls it from its timer until it
     * returns 0 (nothing left worth doing now). 1 = more work remains,
     * -1 = error (logged; the log is unchanged). */
    int (*compact_step)(od_log_t *log, int64_t now_ms, int64_t budget_bytes, char *err,
                        size_t errsz);

    /* ---- ABI 1.3: replication (h-repl; NULL in older backends) ---- */

    /* Remove every batch at or above `offset` (a follower dropping the
     * divergent tail that a new leader never had): afterwards end_offset is
     * `offset` when it fell on a batch boundary (replicas truncate at
     * batch boundaries: the leader's epoch ends are batch ends), or the
     * start of the batch that held it. `offset` >= end is a no-op; an
     * offset below the log start empties the log and moves its start and
     * end there. Survives a crash: what is cut never reappears. */
    int (*truncate_to)(od_log_t *log, int64_t offset, char *err, size_t errsz);
} od_storage_ops_t;

/* ---- the control plane ------------------------------------------------- */

/* Metadata changes travel as encoded KRaft metadata records: an unsigned
 * varint api key (TopicRecord = 2, ...), an unsigned varint version, then
 * the record body. The core encodes and decodes them; a control plane only
 * orders, persists and replicates these opaque byte strings and hands back
 * committed ones in order through od_metadata_apply(). */
typedef struct od_meta_record {
    const uint8_t *data;
    size_t len;
} od_meta_record_t;

/* Called once the records are committed (status 0) or failed (negative
 * Kafka-style error, e.g. -OD_ERR_NOT_CONTROLLER); the records were applied
 * to the image before the callback. */
typedef void (*od_propose_cb)(void *arg, int status, const char *errmsg);

struct od_cp_api;     /* ABI 1.3, below */
struct od_cp_request;
struct od_cp_reply;

typedef struct od_controlplane_ops {
    size_t struct_size;
    const char *name; /* "kraft", "zookeeper" */
    /* Load persisted metadata and replay it through od_metadata_apply(),
     * then become ready. */
    int (*start)(void *self, od_core_t *core, char *err, size_t errsz);
    void (*stop)(void *self);
    /* Append records atomically (all or none). The control plane calls cb
     * exactly once, possibly before propose returns. Returns 0 when the
     * proposal was accepted for processing. */
    int (*propose)(void *self, const od_meta_record_t *recs, size_t n,
                   od_propose_cb cb, void *arg, char *err, size_t errsz);
    /* Node id of the active controller, or -1 if none is known. */
    int32_t (*controller_id)(void *self);
    /* Cluster id (22-char base64 uuid) once known, else NULL. */
    const char *(*cluster_id)(void *self);
    /* ABI 1.2: NULL-terminated names of the directories the control plane
     * keeps under log.dirs (e.g. "__cluster_metadata-0"). The core never
     * opens a partition log in one of them, whatever the metadata says. */
    const char *const *owned_dirs;

    /* ---- ABI 1.3: APIs served by the control plane (h-quorum) ----------
     * A quorum's own RPCs (Vote, BeginQuorumEpoch, Fetch of the metadata
     * log, DescribeQuorum, ...) are served by the control plane, not the
     * core: the core knows nothing of Raft. It hands every frame whose api
     * key and version an entry of `apis` covers to `handle` (on the
     * listeners of controller.listener.names, or on every listener with
     * OD_CP_API_ALL_LISTENERS) and advertises these ranges in ApiVersions
     * there. NULL/0 in older modules. */
    const struct od_cp_api *apis;
    size_t napis;
    /* req and its bytes are borrowed for the call; the answer goes through
     * od_cp_reply/od_cp_reply_close on `reply`, now or later, exactly once. */
    void (*handle)(void *self, const struct od_cp_request *req, struct od_cp_reply *reply);
    /* Send one request (header fields and body as in req) to the active
     * controller and call cb once with its response body (after the
     * response header), or with status < 0 (negated Kafka error, e.g.
     * -NOT_CONTROLLER when none is known within the request timeout). The
     * core forwards admin requests this way when controller_id() is not this
     * node, so the active controller validates them against its image
     * (KIP-590's idea, without the envelope). NULL: no forwarding. */
    int (*forward)(void *self, const struct od_cp_request *req,
                   void (*cb)(void *arg, int status, const uint8_t *body, size_t len),
                   void *arg);
} od_controlplane_ops_t;

/* ABI 1.3: one API range the control plane claims. */
#define OD_CP_API_ALL_LISTENERS 1u /* also on listeners not in controller.listener.names */
typedef struct od_cp_api {
    int16_t api_key;
    int16_t min_version, max_version;
    int16_t flex_from; /* first version with flexible headers, -1: none */
    uint16_t flags;
} od_cp_api_t;

/* ABI 1.3: a request for the control plane (or to forward). */
typedef struct od_cp_request {
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    const char *client_id;    /* NUL-terminated, "" when null */
    int flexible_header;      /* request header v2 / response header v1 */
    const uint8_t *body;      /* after the request header */
    size_t body_len;
    const char *peer;         /* "ip:port" of the client, for logs */
} od_cp_request_t;

typedef struct od_cp_reply od_cp_reply_t; /* one pending answer (opaque) */

/* ======================================================================
 * Part 2: what the core offers
 * ==================================================================== */

/* Registration (only inside init). `self` is passed back to every op. */
int od_register_storage(od_module_ctx_t *ctx, const od_storage_ops_t *ops, void *self);
int od_register_controlplane(od_module_ctx_t *ctx, const od_controlplane_ops_t *ops, void *self);
/* Register n configuration keys; rows must stay valid until fini. */
int od_register_config(od_module_ctx_t *ctx, const od_conf_def_t *defs, size_t n);
/* Per-module state pointer. */
void od_module_set_data(od_module_ctx_t *ctx, void *data);
void *od_module_get_data(od_module_ctx_t *ctx);

/* Logging with context; level: 0 error, 1 warn, 2 info, 3 debug. */
void od_logf(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define OD_LOG_ERROR 0
#define OD_LOG_WARN  1
#define OD_LOG_INFO  2
#define OD_LOG_DEBUG 3

/* Broker identity and settings every module may need. */
int32_t od_core_node_id(od_core_t *core);
const char *od_core_data_dir(od_core_t *core); /* first of log.dirs */
/* Look up a configuration value as text (any registered key). */
const char *od_core_config_get(od_core_t *core, const char *key);
int64_t od_now_ms(void);  /* wall clock */
int64_t od_mono_ms(void); /* monotonic clock */

/* Hand one committed metadata record to the core's image, in log order.
 * Returns 0, or -1 with err if the record could not be decoded (the control
 * plane stops the start: the metadata log is corrupt). */
int od_metadata_apply(od_core_t *core, const uint8_t *rec, size_t len, int64_t offset,
                      char *err, size_t errsz);
/* Metadata records that describe the current image completely (for a
 * snapshot). Caller frees each .data and the array with free(). */
int od_metadata_snapshot(od_core_t *core, od_meta_record_t **recs, size_t *n);

/* Event loop services for modules (timers and file descriptors). */
typedef void (*od_timer_cb)(void *arg);
typedef void (*od_fd_cb)(void *arg, int fd, uint32_t events);
#define OD_EV_READ  1u
#define OD_EV_WRITE 4u
/* One-shot timer, returns an id > 0 or -1. */
int64_t od_timer_add(od_core_t *core, int64_t after_ms, od_timer_cb cb, void *arg);
void od_timer_cancel(od_core_t *core, int64_t id);
int od_fd_watch(od_core_t *core, int fd, uint32_t events, od_fd_cb cb, void *arg);
void od_fd_unwatch(od_core_t *core, int fd);

/* CRC-32C (Castagnoli), as used by RecordBatch. */
uint32_t od_crc32c(uint32_t crc, const void *data, size_t len);

/* ---- record compression (ABI 1.1) ---- */
/* Codec numbers as in RecordBatch attributes. */
#define OD_CODEC_NONE   0
#define OD_CODEC_GZIP   1
#define OD_CODEC_SNAPPY 2 /* xerial framing on output; raw and xerial accepted on input */
#define OD_CODEC_LZ4    3 /* LZ4 frame format */
#define OD_CODEC_ZSTD   4

/* Decompress a records section. *out is malloc'd (caller frees). Output
 * larger than max_out is an error (a decompression bomb is refused, not
 * allocated). Returns 0, or with err: OD_CODEC_ERR_LIMIT (-2) when the output
 * would pass max_out, -1 for anything else. */
#define OD_CODEC_ERR_LIMIT (-2)
int od_codec_decompress(int codec, const uint8_t *in, size_t len, size_t max_out, uint8_t **out,
                        size_t *out_len, char *err, size_t errsz);
/* Compress with the codec's default level. *out is malloc'd. */
int od_codec_compress(int codec, const uint8_t *in, size_t len, uint8_t **out, size_t *out_len,
                      char *err, size_t errsz);

/* ---- answers of control-plane APIs (ABI 1.3, h-quorum) ---- */
/* Answer a request handed to handle(): the core writes the response header
 * (the correlation id, and the empty tag buffer when the request header was
 * flexible) and then body. The reply handle is gone afterwards; when the
 * client has disconnected meanwhile the answer is dropped. Returns 0, -1 on
 * out of memory (the connection is closed). */
int od_cp_reply(od_cp_reply_t *reply, const uint8_t *body, size_t len);
/* Refuse it without an answer: the connection closes, as for a malformed
 * request, and `why` is logged. */
void od_cp_reply_close(od_cp_reply_t *reply, const char *why);

/* ---- installing a snapshot over the image (ABI 1.3, h-snap) ---- */
/* A replica that loads the leader's snapshot (KIP-630 FetchSnapshot) over
 * the image it has: reset_begin, then od_metadata_apply of every record of
 * the snapshot, then reset_end. Topics the snapshot holds keep their open
 * logs (partitions are updated in place); topics it does not hold are
 * removed as a RemoveTopicRecord would (their logs deleted), as are broker
 * registrations it does not hold; configs are exactly the snapshot's. */
void od_metadata_reset_begin(od_core_t *core);
void od_metadata_reset_end(od_core_t *core);

/* ---- metrics (ABI 1.2) ---- */
/* A module may report counters and gauges; the core serves them on its
 * Prometheus endpoint (metrics.listener, doc/metrics.md) as
 * odradek_<name>, next to the core's own metrics. Declare them during
 * init: names are "<module name>_<what>" in lowercase, digits and '_';
 * counters end in "_total", gauges do not. The core copies the rows. Then
 * od_metrics_add(name, delta) from the loop thread only (never from a
 * module's own threads): counters take delta >= 0, gauges any delta. It
 * returns -1 for a name that was not declared, which makes the calls safe
 * where the module's code runs without its init (unit tests). Labels are
 * not offered: a module's series are one per name, so a module cannot grow
 * the number of series. */
#define OD_METRIC_COUNTER 1
#define OD_METRIC_GAUGE   2
typedef struct od_metric_def {
    const char *name;
    int type; /* OD_METRIC_COUNTER or OD_METRIC_GAUGE */
    const char *help; /* one line for # HELP */
} od_metric_def_t;
/* Only inside init. Returns 0, or -1 (bad name or type, twice declared,
 * more than 64 module metrics; the reason is logged). */
int od_register_metrics(od_module_ctx_t *ctx, const od_metric_def_t *defs, size_t n);
int od_metrics_add(const char *name, int64_t delta);

#ifdef __cplusplus
}
#endif
#endif
