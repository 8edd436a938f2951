/* segment.h - the "segment" storage backend: Kafka-style partition logs.
 *
 * One partition is one directory <base_dir>/<topic>-<partition>/ holding
 * segments named by their 20-digit zero-padded base offset:
 *   00000000000000000000.log        RecordBatches exactly as appended
 *   00000000000000000000.index      sparse offset index, 8-byte entries
 *                                   (relative offset int32 BE, position int32 BE)
 *   00000000000000000000.timeindex  time index, 12-byte entries
 *                                   (timestamp int64 BE, relative offset int32 BE)
 *
 * Files: segment.c (the partition log), segment_log.c (one segment's .log
 * file, batch headers, refcounted fds), segment_files.c (the pool of open
 * descriptors), segment_bg.c (fsyncs on a worker thread), segment_index.c
 * (.index and .timeindex), segment_recover.c (open and crash recovery),
 * segment_module.c (the od_storage_ops_t glue).
 *
 * This code runs on the core's event loop thread only (segment_bg.c's
 * worker touches nothing but paths it was given). The module .so may
 * only call the core functions od_logf, od_crc32c, od_now_ms and od_mono_ms
 * (see core/odradek.dynlist); everything else it needs is here. */
#ifndef SEGMENT_H
#define SEGMENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "odradek-module.h"

#define SEG_HDR_SIZE      61 /* RecordBatch header, baseOffset .. recordCount */
#define SEG_LOG_OVERHEAD  12 /* baseOffset + batchLength */
#define SEG_MIN_BATCH_LEN 49 /* batchLength of a batch without records */
#define SEG_CRC_FROM      21 /* the CRC covers attributes (byte 21) .. end */
#define SEG_NAME_DIGITS   20
#define SEG_OENTRY_SIZE   8
#define SEG_TENTRY_SIZE   12
/* Written at clean close, removed at open: its presence means the last
 * segment was fdatasync'ed and need not be CRC-checked again. */
#define SEG_CLEAN_MARKER ".odradek-clean-shutdown"

/* Defaults for unset (<= 0) settings: Kafka's. */
#define SEG_DEFAULT_SEGMENT_BYTES 1073741824LL
#define SEG_DEFAULT_SEGMENT_MS    604800000LL
#define SEG_DEFAULT_INDEX_BYTES   10485760LL
#define SEG_DEFAULT_INTERVAL      4096LL
#define SEG_NEVER                 INT64_MAX

/* ---- batch headers (segment_log.c) ------------------------------------- */

typedef struct seg_batch {
    int64_t base_offset;
    int32_t length; /* batchLength: bytes after the field */
    int32_t leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int32_t record_count;
} seg_batch_t;

/* Parse SEG_HDR_SIZE big-endian bytes at p. */
void seg_batch_parse(const uint8_t *p, seg_batch_t *b);
/* Structural checks of a parsed header: batchLength >= 49, the batch fits in
 * `room` bytes, magic 2, lastOffsetDelta >= 0. Returns NULL if fine, else a
 * static description of the first problem. */
const char *seg_batch_check(const seg_batch_t *b, int64_t room);
/* Saturating arithmetic for times and durations: record timestamps and
 * retention.ms, segment.ms, file.delete.delay.ms, ... come from clients and
 * may be anywhere in int64. */
static inline int64_t seg_sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}
static inline int64_t seg_sat_sub(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r))
        return b < 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static inline int64_t seg_batch_size(const seg_batch_t *b)
{
    return SEG_LOG_OVERHEAD + (int64_t)b->length;
}
static inline int64_t seg_batch_last(const seg_batch_t *b)
{
    return b->base_offset + b->last_offset_delta;
}

/* ---- a refcounted file descriptor ---------------------------------------- */

/* The .log fd of a segment. Read results hand out one reference per range,
 * so the fd stays open until the response was sent, even if the segment was
 * closed or its files deleted meanwhile. */
typedef struct seg_file {
    int fd;
    unsigned refs;
} seg_file_t;

seg_file_t *seg_file_new(int fd); /* refs = 1; NULL on allocation failure */
void seg_file_ref(seg_file_t *f);
void seg_file_unref(seg_file_t *f); /* closes and frees at 0 */
void seg_file_release(void *opaque); /* od_log_range_t.release */
size_t seg_files_live(void); /* descriptors open in seg_file_t's now */

/* ---- indexes (segment_index.c) ------------------------------------------- */

/* Like Kafka's, entries name a batch by its LAST offset (relative to the
 * segment's base offset), so the files are Kafka's format. */
typedef struct seg_oentry {
    int32_t rel; /* last offset of a batch - segment base */
    int32_t pos; /* the batch's position in the .log */
} seg_oentry_t;

typedef struct seg_tentry {
    int64_t ts;  /* largest batch maxTimestamp up to here */
    int32_t rel; /* relative last offset of the first batch reaching ts */
} seg_tentry_t;

typedef struct seg_index {
    seg_oentry_t *off;
    size_t noff, off_cap;
    seg_tentry_t *time;
    size_t ntime, time_cap;
    int64_t bytes_since; /* log bytes since the last offset entry */
    int64_t max_ts;      /* largest batch maxTimestamp in the segment, -1 none */
    int32_t max_ts_rel;  /* relative last offset of the first batch with it */
    int dirty;           /* the files lag behind memory: rewrite at roll/close */
    int suspect;         /* a read found a wrong entry (warned once) */
} seg_index_t;

/* ---- one segment (segment_log.c) ---------------------------------------- */

typedef struct seg_segment {
    int64_t base;  /* base offset, from the file name */
    int64_t next;  /* offset after its last batch (== base when empty) */
    int64_t size;  /* bytes of valid data in the .log */
    seg_file_t *log; /* NULL while closed: use seg_segment_fd() */
    struct seg_segment *lru_prev, *lru_next; /* the pool (segment_files.c) */
    int pooled;      /* `log` is counted in the pool */
    int unsynced;    /* written (or recovered after a crash) since the last fdatasync */
    seg_index_t idx;
    int64_t first_append_ms; /* monotonic ms of the first append, -1 none */
    int64_t writeback_from; /* .log bytes below this had writeback started */
    char *path;              /* "<dir>/<20 digits>", no extension (owned) */
} seg_segment_t;

/* The partition log; `od_log_t` of the storage interface. */
struct od_log {
    int dir_dirty; /* a segment file was created since the directory was last fsync'ed */
    char *dir; /* owned */
    od_log_config_t cfg; /* sanitized copy */
    int64_t max_oentries, max_tentries; /* from segment_index_bytes */
    seg_segment_t **segs; /* ascending base offsets, last one is active */
    size_t nsegs, segs_cap;
    int64_t unflushed;     /* records appended since the last fdatasync */
    int64_t last_flush_ms; /* monotonic */
    /* lifecycle (segment_retention.c): the log start offset (>= the first
     * segment's base, may lie inside it) and files awaiting deletion */
    int64_t log_start;
    struct seg_doomed *doomed;
    struct seg_cleaner *cleaner; /* compaction round state (segment_clean.c), or NULL */
    int64_t clean_limit; /* compaction removed offsets only below this: gaps are legal there */
};

/* Error text helper: formats into err (may be NULL). */
void seg_err(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

seg_segment_t *seg_segment_new(const char *dir, int64_t base);
void seg_segment_free(seg_segment_t *s); /* drops the .log ref */
/* "<path><ext>" into buf. */
void seg_segment_file(const seg_segment_t *s, const char *ext, char *buf, size_t bufsz);
/* ---- the descriptor pool (segment_files.c) ---- */
/* Open (create if `create`) the .log and set size from its length. */
int seg_segment_open_log(seg_segment_t *s, int create, char *err, size_t errsz);
/* The .log descriptor, opened on demand (closing the least recently used
 * ones beyond the cap); -1 with err. Valid until the next call for another
 * segment: take a seg_file_t reference to keep it longer. */
int seg_segment_fd(seg_segment_t *s, char *err, size_t errsz);
/* open(2) for any file of the store: closes pooled descriptors when the
 * process is out of them, then tries again. */
int seg_open_room(const char *path, int flags);
/* Drop the segment's descriptor (read ranges keep theirs). */
void seg_segment_close_fd(seg_segment_t *s);
/* Most segments with an open .log at once across the store; 0 = a quarter
 * of the soft RLIMIT_NOFILE (at least 16). */
void seg_files_set_cap(size_t cap);
size_t seg_files_cap(void);
size_t seg_files_open(void); /* segments holding a descriptor now */

/* ---- background syncs (segment_bg.c) ---- */
typedef struct seg_bg_job seg_bg_job_t;
seg_bg_job_t *seg_bg_job_new(void);
/* Add a step: fdatasync the file at path (fsync if is_dir). -1 when full. */
int seg_bg_job_add(seg_bg_job_t *j, const char *path, int is_dir);
/* Queue the job (it runs inline when no thread can be started). With
 * `keep` the caller polls it with seg_bg_done and drops it with seg_bg_put;
 * without, it is freed when done. */
int seg_bg_submit(seg_bg_job_t *j, int keep);
/* 0 still running, 1 done, -1 a step failed (err says which). */
int seg_bg_done(seg_bg_job_t *j, char *err, size_t errsz);
/* Wait at most ms milliseconds for the job (the cleaner, between rounds). */
void seg_bg_wait(seg_bg_job_t *j, int64_t ms);
void seg_bg_put(seg_bg_job_t *j);
void seg_bg_drain(void);    /* wait until every queued job ran */
void seg_bg_shutdown(void); /* drain and stop the worker */

/* Write len bytes at s->size; on failure the file is cut back. Does not
 * change s->size. */
int seg_segment_write(seg_segment_t *s, const uint8_t *data, size_t len, char *err,
                      size_t errsz);
int seg_segment_truncate(seg_segment_t *s, int64_t size, char *err, size_t errsz);
int seg_segment_sync(seg_segment_t *s, char *err, size_t errsz);
/* Make a rolled segment (data, indexes, directory) durable on the
 * background worker (segment_bg.c). */
int seg_segment_sync_async(seg_segment_t *s, const char *dir, char *err, size_t errsz);
/* Unlink .log, .index and .timeindex (the open fds stay usable). */
void seg_segment_unlink(seg_segment_t *s);
/* Read and check the batch header at pos (pos + batch must be <= limit). */
int seg_read_header(int fd, int64_t pos, int64_t limit, seg_batch_t *b, char *err,
                    size_t errsz);
int seg_fsync_dir(const char *dir);
/* fsync/fdatasync calls made through seg_segment_sync and seg_fsync_dir,
 * i.e. on the loop thread (the worker counts none); for tests. */
extern unsigned long seg_loop_syncs;
int seg_pwrite_all(int fd, const void *p, size_t n, off_t off);

/* Forward reading with a window, for scans during recovery. */
typedef struct seg_reader {
    int fd;
    int64_t fsize;
    uint8_t *buf;
    size_t cap;
    int64_t wpos; /* file position of buf[0] */
    size_t wlen;
    int ioerr; /* errno of a failed read, else 0 */
} seg_reader_t;

void seg_reader_init(seg_reader_t *r, int fd, int64_t fsize);
void seg_reader_free(seg_reader_t *r);
/* Pointer to bytes [pos, pos+n), or NULL when they are not all in the file
 * (or on a read error, then r->ioerr is set). Valid until the next call. */
const uint8_t *seg_reader_get(seg_reader_t *r, int64_t pos, size_t n);

/* ---- index functions (segment_index.c) ------------------------------------ */

void seg_index_init(seg_index_t *ix);
void seg_index_reset(seg_index_t *ix);  /* forget all entries (keeps fds) */
void seg_index_free(seg_index_t *ix);
/* Account one batch (rel: its relative last offset) appended at pos (Kafka's
 * rule: an offset entry, and a time entry if the max timestamp grew, when
 * more than index.interval.bytes were written since the last entry). The
 * entries are in memory; the files follow at roll and close. */
void seg_index_add_batch(const struct od_log *log, seg_segment_t *s, int32_t rel, int32_t pos,
                         int64_t batch_size, int64_t max_ts);
/* Whether adding the batch would create an offset entry (used by recovery to
 * tell an incomplete index). */
int seg_index_would_add(const struct od_log *log, const seg_index_t *ix);
/* Final time entry for the segment's max timestamp (at roll). */
void seg_index_finalize(const struct od_log *log, seg_segment_t *s);
int seg_index_full(const struct od_log *log, const seg_index_t *ix);
/* Position of the last offset entry with rel <= `rel` (0 if none); *entry_rel
 * gets that entry's rel (-1 if none). */
int64_t seg_index_lookup(const seg_index_t *ix, int32_t rel, int32_t *entry_rel);
/* Position of the last offset entry whose position is <= pos, or -1;
 * *entry_rel gets its rel. */
int64_t seg_index_floor_pos(const seg_index_t *ix, int64_t pos, int32_t *entry_rel);
/* Relative offset of the last time entry with ts < `ts` (0 if none). */
int32_t seg_index_lookup_time(const seg_index_t *ix, int64_t ts);
/* Load .index and .timeindex from disk. Returns 1 if both exist and look
 * sane (entry sizes, monotonic, positions below log_size, relative offsets
 * below rel_limit), 0 if not (entries are then empty), -1 on I/O error. */
int seg_index_load(seg_segment_t *s, int64_t log_size, int64_t rel_limit, char *err,
                   size_t errsz);
/* Rewrite both files from memory (create them). */
int seg_index_write_files(seg_segment_t *s, char *err, size_t errsz);

/* ---- recovery (segment_recover.c) ----------------------------------------- */

/* Load or create the segments of log->dir (which exists). */
int seg_recover(struct od_log *log, char *err, size_t errsz);

/* ---- the partition log (segment.c) ---------------------------------------- */

/* Creates <dir> if missing. `dir` is copied. */
int seg_log_open(const char *dir, const od_log_config_t *cfg, struct od_log **out, char *err,
                 size_t errsz);
void seg_log_close(struct od_log *log);
int seg_log_remove(struct od_log *log, char *err, size_t errsz);
/* now_ms: monotonic milliseconds (segment.ms, flush.ms). */
int seg_log_append(struct od_log *log, const uint8_t *data, size_t len, int64_t now_ms,
                   char *err, size_t errsz);
int seg_log_read(struct od_log *log, int64_t offset, size_t max_bytes, od_log_read_t *out,
                 char *err, size_t errsz);
int64_t seg_log_start_offset(struct od_log *log);
int64_t seg_log_end_offset(struct od_log *log);
int64_t seg_log_offset_for_time(struct od_log *log, int64_t ts, int64_t *ts_out);
int seg_log_flush(struct od_log *log, int64_t now_ms, char *err, size_t errsz);
void seg_log_tick(struct od_log *log, int64_t now_ms);
void seg_log_reconfigure(struct od_log *log, const od_log_config_t *cfg);
int64_t seg_log_size(struct od_log *log);
/* Roll a new active segment at the end offset (tests and segment.ms). */
int seg_log_roll(struct od_log *log, int64_t now_ms, char *err, size_t errsz);
/* Delete a directory tree (used for "-delete" leftovers too). */
int seg_remove_tree(const char *path);
/* mkdir -p */
int seg_mkdirs(const char *path, char *err, size_t errsz);

/* ---- compaction (segment_clean.c) ------------------------------------------ */

/* The compact_step op: about budget bytes of cleaning work; 1 = more to do,
 * 0 = nothing due, -1 with err. now_ms: wall clock. */
int seg_clean_step(struct od_log *log, int64_t now_ms, int64_t budget, char *err, size_t errsz);
/* Drop the cleaner state of a log being closed (removes unfinished output). */
void seg_clean_free(struct od_log *log);
/* At open, before the segments are listed: delete "*.log.cleaned" and finish
 * interrupted swaps ("*.log.swap" replace the segments they cover). */
int seg_clean_recover(const char *dir, char *err, size_t errsz);
/* The offset below which compaction may have left gaps (0: never). */
int64_t seg_clean_gap_limit(const char *dir);

/* ---- lifecycle (segment_retention.c, segment_state.c) ---------------------- */

/* At open, after seg_recover: read the log start offset checkpoint, remove
 * "*.deleted" leftovers, delete segments wholly below the start. */
int seg_start_load(struct od_log *log, char *err, size_t errsz);
int seg_log_advance_start(struct od_log *log, int64_t new_start, char *err, size_t errsz);
/* now_ms: wall clock (record timestamps). Returns segments deleted or -1. */
int seg_log_enforce_retention(struct od_log *log, int64_t now_ms, char *err, size_t errsz);
/* The truncate_to op (ABI 1.3): drop every batch at or above `offset`. */
int seg_log_truncate_to(struct od_log *log, int64_t offset, char *err, size_t errsz);
/* Unlink renamed segment files that are due (all of them with `force`);
 * now_ms is monotonic. */
void seg_doomed_sweep(struct od_log *log, int64_t now_ms, int force);
int seg_log_put_state(struct od_log *log, const char *name, const void *data, size_t len,
                      char *err, size_t errsz);
int seg_log_get_state(struct od_log *log, const char *name, void **data, size_t *len,
                      char *err, size_t errsz);
/* Replace dir/file atomically (tmp, fsync, rename, fsync dir). */
int seg_atomic_write(const char *dir, const char *file, const void *data, size_t len,
                     char *err, size_t errsz);
/* Read a whole file of at most max bytes (NUL-terminated, caller frees):
 * 1, 0 when it does not exist, -1 with err. */
int seg_read_small_file(const char *path, int64_t max, void **data, size_t *len, char *err,
                        size_t errsz);

#endif
