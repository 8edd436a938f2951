/* memlog.c - an example storage backend: each partition's log is a list of
 * record batches kept in memory (gone at restart).
 *
 * The core does everything Kafka-specific: it validates produced batches,
 * assigns their offsets and rewrites baseOffset before it calls append(),
 * and it frames fetch responses from what read() returns. A backend only
 * keeps whole batches in offset order and finds them again. Select it with
 *
 *     load_module /path/to/memlog.so
 *     log.storage.backend=memlog
 *     memlog.max.bytes=67108864
 *
 * Only the ABI 1.0 ops are filled in; the 1.1 lifecycle ops (retention,
 * DeleteRecords, producer-state snapshots, compaction) stay NULL and the
 * core does without them. All ops run on the event loop thread, so no
 * locking is needed.
 */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <odradek-module.h>

/* One appended chunk (one or more batches, as produced). A fetch response
 * may still be sending a chunk after the log is deleted, so chunks are
 * reference counted: the log holds one reference, each read range another. */
typedef struct memlog_chunk {
    int64_t base_offset, last_offset, max_timestamp;
    size_t len;
    int refs;
    uint8_t data[]; /* the batches, exactly as the core handed them over */
} memlog_chunk_t;

struct od_log {
    char *name;
    memlog_chunk_t **chunks;
    size_t nchunks, cap;
    int64_t end_offset;
    int64_t bytes;
};

static int64_t memlog_max_bytes; /* memlog.max.bytes, per partition */

static const od_conf_def_t memlog_conf[] = {
    {.name = "memlog.max.bytes", .type = OD_CONF_INT, .dflt = "67108864", .min = 1024,
     .max = INT64_MAX, .doc = "Bytes one partition may hold in the memlog example backend; "
     "a produce past it fails.", .target = &memlog_max_bytes, .flags = OD_CONF_F_SIZE},
};

static void chunk_unref(void *opaque)
{
    memlog_chunk_t *c = opaque;
    if (--c->refs == 0)
        free(c);
}

static int memlog_start(void *self, const char *base_dir, char *err, size_t errsz)
{
    (void)self, (void)base_dir, (void)err, (void)errsz; /* nothing on disk */
    od_logf(OD_LOG_INFO, "memlog: partitions live in memory (%" PRId64 " bytes each at most)",
            memlog_max_bytes);
    return 0;
}

static void memlog_stop(void *self)
{
    (void)self;
}

static int memlog_open(void *self, const char *dir_name, const od_log_config_t *cfg,
                       od_log_t **out, char *err, size_t errsz)
{
    (void)self, (void)cfg; /* segments, flushing and indexes mean nothing here */
    od_log_t *log = calloc(1, sizeof *log);
    if (!log || !(log->name = strdup(dir_name))) {
        free(log);
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    *out = log;
    return 0;
}

static void memlog_close(od_log_t *log)
{
    for (size_t i = 0; i < log->nchunks; i++)
        chunk_unref(log->chunks[i]);
    free(log->chunks);
    free(log->name);
    free(log);
}

static int memlog_remove(od_log_t *log, char *err, size_t errsz)
{
    (void)err, (void)errsz;
    memlog_close(log); /* in memory, closing is deleting */
    return 0;
}

static int memlog_append(od_log_t *log, const uint8_t *data, size_t len,
                         const od_append_info_t *info, char *err, size_t errsz)
{
    if (log->bytes + (int64_t)len > memlog_max_bytes) {
        snprintf(err, errsz, "%s is full (memlog.max.bytes=%" PRId64 ")", log->name,
                 memlog_max_bytes);
        return -1;
    }
    if (log->nchunks == log->cap) {
        size_t cap = log->cap ? log->cap * 2 : 16;
        memlog_chunk_t **n = realloc(log->chunks, cap * sizeof *n);
        if (!n) {
            snprintf(err, errsz, "out of memory");
            return -1;
        }
        log->chunks = n;
        log->cap = cap;
    }
    memlog_chunk_t *c = malloc(sizeof *c + len);
    if (!c) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    c->base_offset = info->base_offset;
    c->last_offset = info->last_offset;
    c->max_timestamp = info->max_timestamp;
    c->len = len;
    c->refs = 1;
    memcpy(c->data, data, len);
    log->chunks[log->nchunks++] = c;
    log->end_offset = info->last_offset + 1;
    log->bytes += (int64_t)len;
    return 0;
}

/* The first chunk whose last offset is >= offset (binary search). */
static size_t find_chunk(const od_log_t *log, int64_t offset)
{
    size_t lo = 0, hi = log->nchunks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (log->chunks[mid]->last_offset < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int memlog_read(od_log_t *log, int64_t offset, size_t max_bytes, od_log_read_t *out,
                       char *err, size_t errsz)
{
    memset(out, 0, sizeof *out);
    if (offset < 0 || offset > log->end_offset) {
        snprintf(err, errsz, "offset %" PRId64 " is outside [0, %" PRId64 "]", offset,
                 log->end_offset);
        return -1;
    }
    /* Whole chunks from the one holding `offset`; the first always goes,
     * even past max_bytes, so that a large batch cannot stall a consumer. */
    for (size_t i = find_chunk(log, offset); i < log->nchunks; i++) {
        memlog_chunk_t *c = log->chunks[i];
        if (out->nranges == OD_LOG_READ_MAX_RANGES ||
            (out->nranges > 0 && out->total + c->len > max_bytes))
            break;
        c->refs++;
        out->ranges[out->nranges++] = (od_log_range_t){
            .mem = c->data, .len = c->len, .release = chunk_unref, .opaque = c};
        out->total += c->len;
    }
    return 0;
}

static int64_t memlog_start_offset(od_log_t *log)
{
    (void)log;
    return 0; /* nothing is ever deleted from the front */
}

static int64_t memlog_end_offset(od_log_t *log)
{
    return log->end_offset;
}

static int64_t memlog_offset_for_time(od_log_t *log, int64_t ts, int64_t *ts_out)
{
    for (size_t i = 0; i < log->nchunks; i++)
        if (log->chunks[i]->max_timestamp >= ts) {
            *ts_out = log->chunks[i]->max_timestamp;
            return log->chunks[i]->base_offset;
        }
    return -1;
}

static int memlog_flush(od_log_t *log)
{
    (void)log;
    return 0;
}

static void memlog_tick(od_log_t *log, int64_t now_ms)
{
    (void)log, (void)now_ms;
}

static void memlog_reconfigure(od_log_t *log, const od_log_config_t *cfg)
{
    (void)log, (void)cfg;
}

static int64_t memlog_size_bytes(od_log_t *log)
{
    return log->bytes;
}

/* struct_size tells the core how much of the table this module knows: a
 * newer core never reads past it. Designated initializers leave the rest
 * (the ABI 1.1 lifecycle ops) NULL. */
static const od_storage_ops_t memlog_ops = {
    .struct_size = sizeof(od_storage_ops_t),
    .name = "memlog",
    .start = memlog_start,
    .stop = memlog_stop,
    .open = memlog_open,
    .close = memlog_close,
    .remove = memlog_remove,
    .append = memlog_append,
    .read = memlog_read,
    .start_offset = memlog_start_offset,
    .end_offset = memlog_end_offset,
    .offset_for_time = memlog_offset_for_time,
    .flush = memlog_flush,
    .tick = memlog_tick,
    .reconfigure = memlog_reconfigure,
    .size_bytes = memlog_size_bytes,
};

static int memlog_init(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    if (od_register_config(ctx, memlog_conf, sizeof memlog_conf / sizeof memlog_conf[0]) != 0 ||
        od_register_storage(ctx, &memlog_ops, NULL) != 0) {
        snprintf(err, errsz, "cannot register the memlog backend");
        return -1;
    }
    return 0;
}

static void memlog_fini(od_module_ctx_t *ctx)
{
    (void)ctx;
}

od_module_t od_module = {
    .abi_major = OD_ABI_MAJOR,
    .abi_minor = OD_ABI_MINOR,
    .name = "memlog",
    .version = "1.0",
    .kinds = OD_KIND_STORAGE,
    .init = memlog_init,
    .fini = memlog_fini,
};
