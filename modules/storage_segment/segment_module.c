/* segment_module.c - the storage_segment module: registers the "segment"
 * storage backend (Kafka-style segment files, see doc/storage-segment.md).
 *
 * segment.bytes, segment.ms, index.interval.bytes, segment.index.bytes,
 * flush.messages and flush.ms (and their log.* broker forms) belong to the
 * core, which resolves topic overrides and hands an od_log_config_t to
 * open(). The module's one key of its own, storage.segment.max.open.files,
 * caps the descriptors the store keeps open (Kafka has none: it keeps every
 * segment open). */
#include "segment.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct seg_backend {
    char *base_dir; /* owned; set by start() */
} seg_backend_t;

static seg_backend_t backend;

/* storage.segment.max.open.files, 0 = auto (set by the core before start). */
static int64_t max_open_files;

static const od_conf_def_t seg_conf[] = {
    {
        .name = "storage.segment.max.open.files",
        .type = OD_CONF_INT,
        .dflt = "0",
        .min = 0,
        .max = 1048576,
        .doc = "Most segment .log files the segment store keeps open at once across all "
               "partitions; idle ones are closed and reopened on demand. 0 = a quarter of the "
               "soft RLIMIT_NOFILE at start (at least 16).",
        .target = &max_open_files,
    },
};

/* Remove "<name>.<hex>-delete" directories a crash left behind. */
static void remove_leftovers(const char *base_dir)
{
    DIR *d = opendir(base_dir);
    struct dirent *de;
    static const char suffix[] = "-delete";
    if (!d)
        return;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        char path[4096];
        if (n <= sizeof suffix - 1 || strcmp(de->d_name + n - (sizeof suffix - 1), suffix) != 0 ||
            !strchr(de->d_name, '.'))
            continue;
        snprintf(path, sizeof path, "%s/%s", base_dir, de->d_name);
        od_logf(OD_LOG_INFO, "segment: removing %s left by an interrupted deletion", path);
        if (seg_remove_tree(path) < 0)
            od_logf(OD_LOG_WARN, "segment: %s: %s", path, strerror(errno));
    }
    closedir(d);
}

static int b_start(void *self, const char *base_dir, char *err, size_t errsz)
{
    seg_backend_t *b = self;
    if (!base_dir || !*base_dir) {
        seg_err(err, errsz, "segment: no log directory configured");
        return -1;
    }
    if (seg_mkdirs(base_dir, err, errsz) < 0)
        return -1;
    /* Decided now: the core may have raised RLIMIT_NOFILE at its start. */
    seg_files_set_cap((size_t)max_open_files);
    od_logf(OD_LOG_INFO, "segment: keeping at most %zu segment files open", seg_files_cap());
    free(b->base_dir);
    b->base_dir = strdup(base_dir);
    if (!b->base_dir) {
        seg_err(err, errsz, "segment: out of memory");
        return -1;
    }
    remove_leftovers(base_dir);
    return 0;
}

static void b_stop(void *self)
{
    seg_backend_t *b = self;
    seg_bg_shutdown(); /* no thread may run module code after fini */
    free(b->base_dir);
    b->base_dir = NULL;
}

static int b_open(void *self, const char *dir_name, const od_log_config_t *cfg, od_log_t **out,
                  char *err, size_t errsz)
{
    seg_backend_t *b = self;
    char path[4096];
    *out = NULL;
    if (!b->base_dir) {
        seg_err(err, errsz, "segment: open of %s before start", dir_name);
        return -1;
    }
    /* The core validates topic names; this only keeps us inside base_dir. */
    if (!dir_name[0] || strchr(dir_name, '/') || !strcmp(dir_name, ".") ||
        !strcmp(dir_name, "..")) {
        seg_err(err, errsz, "segment: bad partition directory name '%s'", dir_name);
        return -1;
    }
    if ((size_t)snprintf(path, sizeof path, "%s/%s", b->base_dir, dir_name) >= sizeof path) {
        seg_err(err, errsz, "segment: path of %s too long", dir_name);
        return -1;
    }
    return seg_log_open(path, cfg, out, err, errsz);
}

static int b_append(od_log_t *log, const uint8_t *data, size_t len, const od_append_info_t *info,
                    char *err, size_t errsz)
{
    (void)info; /* the batch headers carry everything we need */
    return seg_log_append(log, data, len, od_mono_ms(), err, errsz);
}

static int b_flush(od_log_t *log)
{
    char err[512];
    if (seg_log_flush(log, od_mono_ms(), err, sizeof err) < 0) {
        od_logf(OD_LOG_ERROR, "segment: %s", err);
        return -1;
    }
    return 0;
}

/* The core's now_ms may be wall-clock time; segment.ms and flush.ms are
 * measured on the monotonic clock that append() uses too. */
static void b_tick(od_log_t *log, int64_t now_ms)
{
    (void)now_ms;
    seg_log_tick(log, od_mono_ms());
}

static const od_storage_ops_t ops = {
    .struct_size = sizeof(od_storage_ops_t),
    .name = "segment",
    .start = b_start,
    .stop = b_stop,
    .open = b_open,
    .close = seg_log_close,
    .remove = seg_log_remove,
    .append = b_append,
    .read = seg_log_read,
    .start_offset = seg_log_start_offset,
    .end_offset = seg_log_end_offset,
    .offset_for_time = seg_log_offset_for_time,
    .flush = b_flush,
    .tick = b_tick,
    .reconfigure = seg_log_reconfigure,
    .size_bytes = seg_log_size,
    .advance_start = seg_log_advance_start,
    .enforce_retention = seg_log_enforce_retention,
    .put_state = seg_log_put_state,
    .get_state = seg_log_get_state,
    .compact_step = seg_clean_step,
    .truncate_to = seg_log_truncate_to,
};

/* Counted where the work happens (segment.c, segment_clean.c), served by
 * the core's metrics endpoint as odradek_<name> (ABI 1.2). */
static const od_metric_def_t metrics[] = {
    {"storage_segment_rolls_total", OD_METRIC_COUNTER, "Segments rolled (a new active segment)."},
    {"storage_segment_flushes_total", OD_METRIC_COUNTER,
     "Flushes of a log's active segment to disk (fdatasync)."},
    {"storage_segment_cleaner_rounds_total", OD_METRIC_COUNTER,
     "Compaction rounds completed (a log cleaned up to its dirty end)."},
    {"storage_segment_cleaner_segments_total", OD_METRIC_COUNTER,
     "Segments replaced by their compacted copies."},
    {"storage_segment_cleaner_read_bytes_total", OD_METRIC_COUNTER,
     "Bytes of batches the cleaner read to copy."},
    {"storage_segment_cleaner_written_bytes_total", OD_METRIC_COUNTER,
     "Bytes the cleaner wrote to compacted segments (kept records)."},
};

static int m_init(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    if (od_register_config(ctx, seg_conf, sizeof seg_conf / sizeof seg_conf[0]) < 0) {
        seg_err(err, errsz, "segment: cannot register storage.segment.max.open.files");
        return -1;
    }
    if (od_register_storage(ctx, &ops, &backend) < 0) {
        seg_err(err, errsz, "segment: cannot register the storage backend");
        return -1;
    }
    if (od_register_metrics(ctx, metrics, sizeof metrics / sizeof metrics[0]) < 0) {
        seg_err(err, errsz, "segment: cannot register its metrics");
        return -1;
    }
    return 0;
}

static void m_fini(od_module_ctx_t *ctx)
{
    (void)ctx;
    b_stop(&backend);
}

od_module_t od_module = {
    .abi_major = OD_ABI_MAJOR,
    .abi_minor = OD_ABI_MINOR,
    .name = "storage_segment",
    .version = "1.0",
    .kinds = OD_KIND_STORAGE,
    .init = m_init,
    .fini = m_fini,
};
