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
 * 1.3 (2026-12): one status enum (od_status_t); module-tagged logging
 *      (od_mlogf); od_loop_post, the one service any thread may call; the
 *      client a connection stands for (od_client_t, with its principal);
 *      events (od_register_event: connection opened/closed, authenticate,
 *      authorize, request, append, admin, tick); module kinds SASL
 *      mechanism, credential backend, authorizer, partitioner and
 *      serializer, several of a kind at once, chosen by configuration;
 *      APIs served by the control plane (od_cp_api_t, the apis/napis/
 *      handle/forward ops, od_cp_reply services); the storage backend's
 *      truncate_to (followers cut a divergent tail); od_module_core;
 *      per-listener keys (OD_CONF_F_LISTENER, od_config_listener_get);
 *      od_scram_credential_get; the serializer's compatible and to_json
 *      ops; od_metadata_reset_begin/_end (installing a snapshot).
 * 1.4 (2026-12): the serializer's from_json op (`odr produce
 *      --value-format`). */
#define OD_ABI_MINOR 4

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
/* ABI 1.3: the key may be set per listener as Kafka's
 * listener.name.<listener name, lowercase>.<key> (and, for SASL keys,
 * listener.name.<listener>.<mechanism, lowercase>.<key>); the value is
 * validated like the key's own. Read with od_config_listener_get. */
#define OD_CONF_F_LISTENER 8u

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

    /* ---- ABI 1.3: replication (NULL in older backends) ---- */

    /* Remove every batch at or above `offset` (a follower dropping the
     * divergent tail that a new leader never had): afterwards end_offset is
     * `offset` when it fell on a batch boundary (replicas truncate at
     * batch boundaries: the leader's epoch ends are batch ends), or the
     * start of the batch that held it. `offset` == end is a no-op. An
     * offset below the log start, or past the end, empties the log, which
     * then starts (and ends) at `offset` (Kafka's truncateFullyAndStartAt:
     * a follower whose log ends before the leader's log start). Survives a
     * crash: what is cut never reappears. */
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

    /* ---- ABI 1.3: APIs served by the control plane ----------
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
     * node, so the active controller validates them against its image;
     * req is then a KIP-590 Envelope (api 58 v0, flexible header) around
     * the client's request, and cb gets the EnvelopeResponse body. The op
     * copies req->body before returning. NULL: no forwarding. */
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

/* ---- answers of control-plane APIs (ABI 1.3) ---- */
/* Answer a request handed to handle(): the core writes the response header
 * (the correlation id, and the empty tag buffer when the request header was
 * flexible) and then body. The reply handle is gone afterwards; when the
 * client has disconnected meanwhile the answer is dropped. Returns 0, -1 on
 * out of memory (the connection is closed). */
int od_cp_reply(od_cp_reply_t *reply, const uint8_t *body, size_t len);
/* Refuse it without an answer: the connection closes, as for a malformed
 * request, and `why` is logged. */
void od_cp_reply_close(od_cp_reply_t *reply, const char *why);

/* ---- installing a snapshot over the image (ABI 1.3) ---- */
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

/* ======================================================================
 * ABI 1.3: statuses, events and the module kinds of security and records
 * (read only by a core whose minor is >= 3; a module built for 1.1 or 1.2
 * never sees any of it)
 * ==================================================================== */

/* ---- statuses ---------------------------------------------------------- */

/* What core services and module ops return where no Kafka error code is
 * meant. OD_ERR_LIMIT equals OD_CODEC_ERR_LIMIT. */
typedef enum od_status {
    OD_OK = 0,
    OD_ERR = -1,          /* anything else; the message says what */
    OD_ERR_LIMIT = -2,    /* a size, count or budget would be passed */
    OD_ERR_NOMEM = -3,
    OD_ERR_INVALID = -4,  /* malformed input or a bad argument */
    OD_ERR_NOT_FOUND = -5,
    OD_ERR_DENIED = -6,   /* authentication or authorization said no */
    OD_ERR_PENDING = -7,  /* accepted; the answer comes later (see the op) */
    OD_ERR_IO = -8,
    OD_ERR_STOPPING = -9  /* the broker is shutting down */
} od_status_t;

/* ---- logging and threads ----------------------------------------------- */

/* The broker a module belongs to, for the services that take an
 * od_core_t (od_loop_post, timers, config lookups) in modules whose ops get
 * none (SASL mechanisms, credential backends, events). Valid from init to
 * fini. */
od_core_t *od_module_core(od_module_ctx_t *ctx);

/* Like od_logf, prefixed with the module's name. */
void od_mlogf(od_module_ctx_t *ctx, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The one service any thread may call: run fn(arg) on the event loop
 * thread soon (in the order posted). A module whose backend blocks (LDAP,
 * Kerberos, a remote policy service) does that work on its own thread and
 * posts the result back. Returns OD_OK, or OD_ERR_STOPPING once shutdown
 * began (fn will not run; arg stays the caller's), or OD_ERR_NOMEM. */
typedef void (*od_loop_fn)(void *arg);
int od_loop_post(od_core_t *core, od_loop_fn fn, void *arg);

/* The value of a key flagged OD_CONF_F_LISTENER for one listener: the
 * listener.name.<listener>.<key> setting when there is one, else the key's
 * own value. key may carry a SASL mechanism prefix ("plain.sasl.x"), which
 * falls back to the listener's unprefixed key, then to the base key.
 * listener is matched without regard to case. NULL when the key is unset
 * and has no default. The string stays valid until shutdown. */
const char *od_config_listener_get(od_core_t *core, const char *listener, const char *key);

/* ---- the client behind a connection ------------------------------------ */

/* Security protocols, numbered as Kafka's SecurityProtocol ids. */
#define OD_SECPROTO_PLAINTEXT      0
#define OD_SECPROTO_SSL            1
#define OD_SECPROTO_SASL_PLAINTEXT 2
#define OD_SECPROTO_SASL_SSL       3

/* What every hook knows about the client. Owned by the core, valid while
 * the connection is open (borrowed during a callback: copy what you keep).
 * principal is "User:ANONYMOUS" until SASL or a TLS client certificate
 * (ssl.principal.mapping.rules) authenticates the connection. */
typedef struct od_client {
    size_t struct_size;
    uint64_t conn_id;
    const char *listener;       /* listener name, e.g. "SASL_SSL" */
    int security_protocol;      /* OD_SECPROTO_* */
    const char *peer;           /* "address:port" */
    const char *host;           /* address only (ACL host) */
    const char *principal;      /* "User:alice" */
    const char *sasl_mechanism; /* NULL until SASL authenticated */
    const char *client_id;      /* of the latest request, may be NULL */
    int64_t session_expiry_ms;  /* wall clock; 0: the session never expires */
} od_client_t;

/* ---- events ------------------------------------------------------------ */

/* Callbacks of one event run in module load order. Each returns
 * OD_DEFER (no opinion: ask the next), OD_ALLOW or OD_DENY (decided: the
 * rest are not asked). When every callback defers, the default of the event
 * applies. */
#define OD_DEFER 0
#define OD_ALLOW 1
#define OD_DENY  2

#define OD_EVENT_CONN_OPENED  1 /* od_ev_conn_t;  deny closes it; default allow */
#define OD_EVENT_CONN_CLOSED  2 /* od_ev_conn_t;  the decision is ignored */
#define OD_EVENT_AUTHENTICATE 3 /* od_ev_auth_t;  deny fails the login; default allow */
#define OD_EVENT_AUTHORIZE    4 /* od_ev_authorize_t; default: the authorizer's answer,
                                   allow when none is configured */
#define OD_EVENT_REQUEST      5 /* od_ev_request_t; deny closes the connection */
#define OD_EVENT_APPEND       6 /* od_ev_append_t; deny: INVALID_RECORD, nothing of
                                   the partition's batches appended */
#define OD_EVENT_ADMIN        7 /* od_ev_admin_t; deny: POLICY_VIOLATION */
#define OD_EVENT_TICK         8 /* od_ev_tick_t;  about every 100 ms; ignored */

/* A callback may write a reason for a denial into reason (NUL-terminated,
 * at most reason_size bytes); the core puts it into the error message and
 * the audit log. */
typedef int (*od_event_cb)(void *arg, int event, const void *ev);

/* Only inside init. Several modules may register for one event. */
int od_register_event(od_module_ctx_t *ctx, int event, od_event_cb cb, void *arg);

typedef struct od_ev_conn {
    size_t struct_size;
    const od_client_t *client;
    const char *why; /* CONN_CLOSED: why it closed; NULL for CONN_OPENED */
    char *reason;
    size_t reason_size;
} od_ev_conn_t;

typedef struct od_ev_auth {
    size_t struct_size;
    const od_client_t *client;
    const char *mechanism; /* "PLAIN", ..., or "SSL" for a client certificate */
    /* The principal the login proved; a callback may rewrite it in place
     * (principal_size bytes with the NUL). */
    char *principal;
    size_t principal_size;
    char *reason;
    size_t reason_size;
} od_ev_auth_t;

/* Kafka's AclOperation, ResourceType, PatternType and AclPermissionType
 * codes, as on the wire. */
#define OD_ACL_OP_ANY              1
#define OD_ACL_OP_ALL              2
#define OD_ACL_OP_READ             3
#define OD_ACL_OP_WRITE            4
#define OD_ACL_OP_CREATE           5
#define OD_ACL_OP_DELETE           6
#define OD_ACL_OP_ALTER            7
#define OD_ACL_OP_DESCRIBE         8
#define OD_ACL_OP_CLUSTER_ACTION   9
#define OD_ACL_OP_DESCRIBE_CONFIGS 10
#define OD_ACL_OP_ALTER_CONFIGS    11
#define OD_ACL_OP_IDEMPOTENT_WRITE 12
#define OD_RES_ANY              1
#define OD_RES_TOPIC            2
#define OD_RES_GROUP            3
#define OD_RES_CLUSTER          4
#define OD_RES_TRANSACTIONAL_ID 5
#define OD_RES_DELEGATION_TOKEN 6
#define OD_RES_USER             7
#define OD_PATTERN_ANY      1
#define OD_PATTERN_MATCH    2
#define OD_PATTERN_LITERAL  3
#define OD_PATTERN_PREFIXED 4
#define OD_PERM_ANY   1
#define OD_PERM_DENY  2
#define OD_PERM_ALLOW 3

/* An ACL binding (Kafka's AclBinding; a filter uses the ANY values). */
typedef struct od_acl {
    size_t struct_size;
    int resource_type;  /* OD_RES_* */
    const char *resource_name;
    int pattern_type;   /* OD_PATTERN_* */
    const char *principal; /* "User:alice", "User:*" */
    const char *host;      /* "*" or an address */
    int operation;      /* OD_ACL_OP_* */
    int permission;     /* OD_PERM_* */
} od_acl_t;

/* One thing a request wants to do (Kafka's Action). The cluster resource is
 * named "kafka-cluster". */
typedef struct od_action {
    size_t struct_size;
    int operation;     /* OD_ACL_OP_* (never ANY or ALL) */
    int resource_type; /* OD_RES_* */
    const char *resource_name;
    size_t resource_name_len;
    int16_t api_key;   /* the request asking */
    int audit_allowed; /* log an allow to the audit log (Kafka's logIfAllowed) */
    int audit_denied;  /* log a deny (logIfDenied); 0 for filtering, e.g. Metadata
                          hiding topics */
} od_action_t;

typedef struct od_ev_authorize {
    size_t struct_size;
    const od_client_t *client;
    const od_action_t *action;
    char *reason;
    size_t reason_size;
} od_ev_authorize_t;

typedef struct od_ev_request {
    size_t struct_size;
    const od_client_t *client;
    int16_t api_key, api_version;
    int32_t correlation_id;
    size_t size; /* bytes of the request frame */
    char *reason;
    size_t reason_size;
} od_ev_request_t;

/* Batches bound for one partition, validated and about to be appended;
 * offsets are not assigned yet (baseOffset as the client sent it, normally
 * 0), the bytes are decompressed batches of magic 2 as the client sent
 * them (before the topic's compression.type re-encodes them). */
typedef struct od_ev_append {
    size_t struct_size;
    const od_client_t *client;
    const char *topic;
    int32_t partition;
    const uint8_t *batches;
    size_t len;
    int32_t record_count;
    char *reason;
    size_t reason_size;
} od_ev_append_t;

/* An administrative change about to be proposed, one resource at a time. */
#define OD_ADMIN_CREATE_TOPICS     1
#define OD_ADMIN_CREATE_PARTITIONS 2
#define OD_ADMIN_DELETE_TOPICS     3
#define OD_ADMIN_ALTER_CONFIGS     4 /* AlterConfigs and IncrementalAlterConfigs */
#define OD_ADMIN_DELETE_RECORDS    5
#define OD_ADMIN_CREATE_ACLS       6
#define OD_ADMIN_DELETE_ACLS       7
#define OD_ADMIN_DELETE_GROUPS     8

typedef struct od_config_entry {
    const char *name;
    const char *value; /* NULL: delete (incremental DELETE) or null value */
} od_config_entry_t;

typedef struct od_ev_admin {
    size_t struct_size;
    const od_client_t *client;
    int op;                 /* OD_ADMIN_* */
    int resource_type;      /* OD_RES_* of what is changed */
    const char *resource;   /* topic, group, broker id ("" for the cluster default) */
    int32_t partitions;     /* CREATE_TOPICS: count; CREATE_PARTITIONS: new total; else -1 */
    int16_t replication_factor; /* CREATE_TOPICS, else -1 */
    const od_config_entry_t *configs; /* CREATE_TOPICS, ALTER_CONFIGS */
    size_t nconfigs;
    const od_acl_t *acl;    /* CREATE_ACLS: the binding; DELETE_ACLS: the filter */
    char *reason;
    size_t reason_size;
} od_ev_admin_t;

typedef struct od_ev_tick {
    size_t struct_size;
    int64_t now_ms;
} od_ev_tick_t;

/* ---- SASL mechanisms --------------------------------------------------- */

/* The core runs SaslHandshake/SaslAuthenticate and hands each client
 * message of an exchange to the mechanism the client chose. */
typedef struct od_sasl_session od_sasl_session_t; /* one exchange (core-owned) */

#define OD_SASL_CONTINUE 1 /* more client messages expected */
#define OD_SASL_DONE     2 /* authenticated: the principal was set */

typedef struct od_sasl_mech_ops {
    size_t struct_size;
    const char *name; /* "PLAIN", "SCRAM-SHA-256", "GSSAPI", "OAUTHBEARER" */
    /* A new exchange; *state is the mechanism's, freed by end(). */
    int (*begin)(void *self, od_sasl_session_t *s, void **state, char *err, size_t errsz);
    /* One client message. Reply with od_sasl_reply (at most once per step),
     * then return OD_SASL_CONTINUE, OD_SASL_DONE (after od_sasl_set_principal),
     * OD_ERR_DENIED with err (the client gets SASL_AUTHENTICATION_FAILED and
     * err; the core closes the connection after the answer), or
     * OD_ERR_PENDING: the step finishes later by od_sasl_resume. */
    int (*step)(void *self, void *state, od_sasl_session_t *s, const uint8_t *in, size_t len,
                char *err, size_t errsz);
    void (*end)(void *self, void *state); /* also when the connection closes mid-exchange */
} od_sasl_mech_ops_t;

int od_register_sasl_mechanism(od_module_ctx_t *ctx, const od_sasl_mech_ops_t *ops, void *self);
/* Services for a mechanism during an exchange (loop thread only). */
const od_client_t *od_sasl_client(od_sasl_session_t *s);
/* The credential backend configured for this listener and mechanism, or
 * NULL (see sasl.credential.backend in doc/security.md). */
const struct od_credential_ops *od_sasl_credentials(od_sasl_session_t *s, void **self);
int od_sasl_reply(od_sasl_session_t *s, const uint8_t *data, size_t len);
/* lifetime_ms > 0: the session must re-authenticate or close by then
 * (KIP-368; also capped by connections.max.reauth.ms). */
int od_sasl_set_principal(od_sasl_session_t *s, const char *principal, int64_t lifetime_ms);
/* Finish a step that returned OD_ERR_PENDING, with what step() would have
 * returned (and err for OD_ERR_DENIED). A session whose connection closed
 * meanwhile is ended by the core; resume is then a no-op. */
void od_sasl_resume(od_sasl_session_t *s, int status, const char *err);

/* ---- credential backends ----------------------------------------------- */

#define OD_SCRAM_SHA_256 1 /* Kafka's ScramMechanism ids */
#define OD_SCRAM_SHA_512 2

/* A SCRAM credential as Kafka keeps it (UserScramCredentialRecord). */
typedef struct od_scram_cred {
    size_t struct_size;
    int mechanism; /* OD_SCRAM_* */
    uint8_t salt[64];
    size_t salt_len;
    uint8_t stored_key[64];
    uint8_t server_key[64];
    size_t key_len; /* 32 for SHA-256, 64 for SHA-512 */
    int32_t iterations;
} od_scram_cred_t;

/* Called on the loop thread with OD_OK, OD_ERR_DENIED or another status. */
typedef void (*od_cred_done_cb)(void *arg, int status, const char *err);

typedef struct od_credential_ops {
    size_t struct_size;
    const char *name; /* chosen by sasl.credential.backend: "scram", "argon2", "cyrus" */
    /* PLAIN: check user/password. Calls done exactly once, possibly before it
     * returns; returns OD_OK when done was or will be called. */
    int (*verify_password)(void *self, const od_client_t *c, const char *user,
                           const char *password, od_cred_done_cb done, void *arg);
    /* SCRAM: the stored credential. OD_OK, OD_ERR_NOT_FOUND, or an error. */
    int (*scram_lookup)(void *self, const char *user, int mechanism, od_scram_cred_t *out);
} od_credential_ops_t;

int od_register_credentials(od_module_ctx_t *ctx, const od_credential_ops_t *ops, void *self);
/* The SCRAM credentials the metadata log holds (UserScramCredentialRecord,
 * managed with AlterUserScramCredentials), for the `scram` backend: OD_OK
 * with *out filled, or OD_ERR_NOT_FOUND. */
int od_scram_credential_get(od_core_t *core, const char *user, int mechanism,
                            od_scram_cred_t *out);

/* ---- authorizers ------------------------------------------------------- */

typedef struct od_authorizer_ops {
    size_t struct_size;
    const char *name;
    /* authorizer.class.name values that select it (Kafka's class names
     * too, so a Kafka server.properties works), NULL-terminated. */
    const char *const *class_names;
    int (*start)(void *self, od_core_t *core, char *err, size_t errsz);
    void (*stop)(void *self);
    /* OD_ALLOW or OD_DENY (with reason). Fast: called for every action. */
    int (*authorize)(void *self, const od_client_t *c, const od_action_t *a, char *reason,
                     size_t reason_size);
    /* ACL bindings as the metadata log commits them (replay included), in
     * log order; id is the binding's 16-byte id. May be NULL. */
    void (*acl_added)(void *self, const uint8_t id[16], const od_acl_t *acl);
    void (*acl_removed)(void *self, const uint8_t id[16]);
} od_authorizer_ops_t;

int od_register_authorizer(od_module_ctx_t *ctx, const od_authorizer_ops_t *ops, void *self);

/* ---- partitioners and serializers (the records issue builds on them) --- */

typedef struct od_partitioner_ops {
    size_t struct_size;
    const char *name; /* "murmur2", "crc32", ... */
    /* The partition in [0, npartitions) for a record; key == NULL is a null
     * key. Negative: no opinion (e.g. a sticky partitioner for null keys). */
    int32_t (*partition)(void *self, const uint8_t *key, size_t key_len, const uint8_t *value,
                         size_t value_len, int32_t npartitions);
} od_partitioner_ops_t;

typedef struct od_serializer_ops {
    size_t struct_size;
    const char *name; /* "string", "json", "avro", "protobuf", ... */
    /* Compile a schema (NULL for schemaless formats) into *compiled. */
    int (*compile)(void *self, const char *schema, size_t len, void **compiled, char *err,
                   size_t errsz);
    void (*free_compiled)(void *self, void *compiled);
    /* OD_OK when data parses against compiled, else OD_ERR_INVALID with err. */
    int (*validate)(void *self, void *compiled, const uint8_t *data, size_t len, char *err,
                    size_t errsz);
    /* ---- ABI 1.3, added with the schema registry (read only when
     * struct_size covers it; NULL: the format has no evolution rules) ----
     * OD_OK when data written with the writer schema can be read with the
     * reader schema (both compiled by this serializer), else
     * OD_ERR_INVALID with err naming the first difference. */
    int (*compatible)(void *self, void *reader, void *writer, char *err, size_t errsz);
    /* ---- ABI 1.3, added with `odr consume --value-format` (read only when
     * struct_size covers it; NULL: the format cannot be shown as JSON) ----
     * The data as one JSON text (compact; a schemaless scalar is a JSON
     * scalar) in *out, malloc'd (the caller frees it), or OD_ERR_INVALID
     * with err when the data does not parse, as validate would say. */
    int (*to_json)(void *self, void *compiled, const uint8_t *data, size_t len, char **out,
                   char *err, size_t errsz);
    /* ---- ABI 1.4, added with `odr produce --value-format` (read only
     * when struct_size covers it; NULL: the format cannot be written from
     * JSON) ----
     * The inverse of to_json: one JSON text (json, json_len; not
     * NUL-terminated) encoded against compiled into *out / *out_len,
     * malloc'd (the caller frees it; a zero-length result may still be a
     * non-NULL pointer), or OD_ERR_INVALID with err naming where the text
     * does not fit the schema (a path such as "$.items[2].price"). What
     * from_json makes, validate accepts, and to_json of it gives the same
     * JSON value back. */
    int (*from_json)(void *self, void *compiled, const char *json, size_t json_len,
                     uint8_t **out, size_t *out_len, char *err, size_t errsz);
} od_serializer_ops_t;

int od_register_partitioner(od_module_ctx_t *ctx, const od_partitioner_ops_t *ops, void *self);
int od_register_serializer(od_module_ctx_t *ctx, const od_serializer_ops_t *ops, void *self);

#ifdef __cplusplus
}
#endif
#endif
