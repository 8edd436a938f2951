/* segment_retention.c - the log start offset, retention, and deleting whole
 * segments from the front of a partition log.
 *
 * The log start offset may lie inside the first segment (DeleteRecords can
 * name any offset). It is kept in "<dir>/log-start-offset" (one decimal
 * number and a newline, replaced atomically) and read back at open, so a
 * restart keeps it; offsets below it are unreadable. A segment is deleted
 * when all of it lies below the start (advance_start), when its largest
 * timestamp is older than retention.ms, or while the log is larger than
 * retention.bytes (enforce_retention), always from the front, as Kafka does.
 *
 * Offsets are never reused: when every segment is due, the active one is
 * rolled first, so an empty segment at the end offset remains and the next
 * append continues there.
 *
 * Deleting is Kafka's two-step: the files are renamed to "*.deleted" at
 * once (so recovery, which parses names strictly, never sees them again)
 * and unlinked file.delete.delay.ms later by the log's tick. A crash in
 * between leaves "*.deleted" files that the next open removes. Reads
 * already handed out keep their file descriptors either way. */
#include "segment.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEG_START_FILE     "log-start-offset"
#define SEG_DELETED_SUFFIX ".deleted"

struct seg_doomed {
    struct seg_doomed *next;
    int64_t due_ms; /* monotonic */
    char *path;     /* segment path without extension, owned */
};

static const char *const seg_exts[] = {".log", ".index", ".timeindex"};
#define SEG_NEXTS (sizeof seg_exts / sizeof seg_exts[0])

/* ---- the checkpoint -------------------------------------------------------- */

static int write_start(struct od_log *log, int64_t start, char *err, size_t errsz)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%lld\n", (long long)start);
    return seg_atomic_write(log->dir, SEG_START_FILE, buf, (size_t)n, err, errsz);
}

/* The stored start, or -1 when there is none (or it is unreadable: then
 * with a warning, and the first segment's base is the start). */
static int64_t read_start(struct od_log *log)
{
    char path[4096], why[512];
    void *data;
    size_t len;
    char *end;
    long long v;
    int rc;
    snprintf(path, sizeof path, "%s/%s", log->dir, SEG_START_FILE);
    rc = seg_read_small_file(path, 64, &data, &len, why, sizeof why);
    if (rc <= 0) {
        if (rc < 0)
            od_logf(OD_LOG_WARN, "segment: %s; using the first segment's base", why);
        return -1;
    }
    errno = 0;
    v = strtoll(data, &end, 10);
    if (errno || end == (char *)data || (*end && *end != '\n') || v < 0) {
        od_logf(OD_LOG_WARN, "segment: %s: not a log start offset; using the first segment's "
                "base", path);
        v = -1;
    }
    free(data);
    return v;
}

/* ---- delayed deletion ------------------------------------------------------ */

static void unlink_files(const char *path, const char *suffix)
{
    for (size_t i = 0; i < SEG_NEXTS; i++) {
        char f[4200];
        snprintf(f, sizeof f, "%s%s%s", path, seg_exts[i], suffix);
        if (unlink(f) < 0 && errno != ENOENT)
            od_logf(OD_LOG_WARN, "segment: %s: unlink: %s", f, strerror(errno));
    }
}

void seg_doomed_sweep(struct od_log *log, int64_t now_ms, int force)
{
    struct seg_doomed **pp = &log->doomed;
    while (*pp) {
        struct seg_doomed *d = *pp;
        if (!force && d->due_ms > now_ms) {
            pp = &d->next;
            continue;
        }
        unlink_files(d->path, SEG_DELETED_SUFFIX);
        *pp = d->next;
        free(d->path);
        free(d);
    }
}

/* Remove "*.deleted" files a crash left behind (at open). */
static void remove_leftovers(struct od_log *log)
{
    DIR *d = opendir(log->dir);
    struct dirent *de;
    size_t sl = strlen(SEG_DELETED_SUFFIX);
    if (!d)
        return;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        char path[4096];
        if (n <= sl || strcmp(de->d_name + n - sl, SEG_DELETED_SUFFIX) != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", log->dir, de->d_name);
        if (unlink(path) < 0)
            od_logf(OD_LOG_WARN, "segment: %s: unlink: %s", path, strerror(errno));
    }
    closedir(d);
}

/* Take one segment's files out of the log: renamed now and unlinked after
 * the delay, or unlinked at once without one. The segment is freed. */
static void retire(struct od_log *log, seg_segment_t *s, int64_t delay_ms)
{
    struct seg_doomed *d = NULL;
    if (delay_ms > 0 && (d = calloc(1, sizeof *d)) != NULL && (d->path = strdup(s->path))) {
        for (size_t i = 0; i < SEG_NEXTS; i++) {
            char from[4200], to[4300];
            snprintf(from, sizeof from, "%s%s", s->path, seg_exts[i]);
            snprintf(to, sizeof to, "%s%s", from, SEG_DELETED_SUFFIX);
            if (rename(from, to) < 0 && errno != ENOENT)
                od_logf(OD_LOG_WARN, "segment: %s: rename: %s", from, strerror(errno));
        }
        d->due_ms = seg_sat_add(od_mono_ms(), delay_ms);
        d->next = log->doomed;
        log->doomed = d;
    } else {
        if (d)
            free(d);
        unlink_files(s->path, "");
    }
    seg_segment_free(s);
}

/* Delete the first n segments. When that is all of them, the active one is
 * rolled first so that the end offset survives. */
static int drop_front(struct od_log *log, size_t n, char *err, size_t errsz)
{
    int64_t old_start = seg_log_start_offset(log);
    if (n == 0)
        return 0;
    if (n >= log->nsegs) {
        if (seg_log_roll(log, od_mono_ms(), err, errsz) < 0)
            return -1;
        if (n >= log->nsegs) /* the active segment was empty: it stays */
            n = log->nsegs - 1;
    }
    for (size_t i = 0; i < n; i++)
        retire(log, log->segs[i], log->cfg.file_delete_delay_ms);
    memmove(log->segs, log->segs + n, (log->nsegs - n) * sizeof *log->segs);
    log->nsegs -= n;
    seg_fsync_dir(log->dir);
    if (log->segs[0]->base > log->log_start)
        log->log_start = log->segs[0]->base;
    od_logf(OD_LOG_INFO, "segment: %s: deleted %zu segment(s); log start offset %lld -> %lld",
            log->dir, n, (long long)old_start, (long long)log->log_start);
    /* Only a start inside the first segment needs the file, but a stale
     * one must not survive either: keep it current. */
    if (log->log_start != old_start && write_start(log, log->log_start, err, errsz) < 0)
        od_logf(OD_LOG_WARN, "segment: %s", err); /* the segment bases still tell */
    return (int)n;
}

/* Segments (never the last) that lie wholly below the start. */
static size_t below_start(const struct od_log *log)
{
    size_t n = 0;
    while (n + 1 < log->nsegs && log->segs[n + 1]->base <= log->log_start)
        n++;
    return n;
}

int seg_start_load(struct od_log *log, char *err, size_t errsz)
{
    int64_t v = read_start(log), end = seg_log_end_offset(log);
    remove_leftovers(log);
    log->log_start = log->segs[0]->base;
    if (v > end) {
        od_logf(OD_LOG_WARN, "segment: %s: log start offset %lld is past the end %lld; using "
                "the end", log->dir, (long long)v, (long long)end);
        v = end;
    }
    if (v > log->log_start)
        log->log_start = v;
    /* A crash between the checkpoint and the deletion leaves segments below
     * the start: finish the job (no delay, nothing reads them yet). */
    if (below_start(log) > 0) {
        int64_t delay = log->cfg.file_delete_delay_ms;
        int rc;
        log->cfg.file_delete_delay_ms = 0;
        rc = drop_front(log, below_start(log), err, errsz);
        log->cfg.file_delete_delay_ms = delay;
        if (rc < 0)
            return -1;
    }
    return 0;
}

int seg_log_advance_start(struct od_log *log, int64_t new_start, char *err, size_t errsz)
{
    int64_t end = seg_log_end_offset(log);
    if (new_start > end || new_start < 0) {
        seg_err(err, errsz, "%s: new log start offset %lld is outside [0, %lld]", log->dir,
                (long long)new_start, (long long)end);
        return -1;
    }
    if (new_start <= seg_log_start_offset(log))
        return 0;
    /* Durable first: once we answer, the records are gone for good. */
    if (write_start(log, new_start, err, errsz) < 0)
        return -1;
    log->log_start = new_start;
    return drop_front(log, below_start(log), err, errsz) < 0 ? -1 : 0;
}

/* A segment's largest timestamp; its file's mtime when it has none. */
static int64_t largest_ts(const seg_segment_t *s)
{
    char path[4096];
    struct stat st;
    if (s->idx.max_ts >= 0)
        return s->idx.max_ts;
    seg_segment_file(s, ".log", path, sizeof path);
    if (stat(path, &st) < 0)
        return INT64_MAX; /* unknown: keep it */
    if ((int64_t)st.st_mtim.tv_sec > INT64_MAX / 1000 || (int64_t)st.st_mtim.tv_sec < INT64_MIN / 1000)
        return st.st_mtim.tv_sec > 0 ? INT64_MAX : INT64_MIN; /* a wild mtime */
    return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

int seg_log_enforce_retention(struct od_log *log, int64_t now_ms, char *err, size_t errsz)
{
    const od_log_config_t *c = &log->cfg;
    size_t n = 0;
    int64_t total = seg_log_size(log);

    if (!(c->cleanup_policy & OD_CLEANUP_DELETE))
        return 0;
    /* The last segment counts only when it holds data (Kafka's rule: an
     * empty active segment is never due). */
#define DUE_OK(i) ((i) + 1 < log->nsegs || log->segs[i]->size > 0)
    if (c->retention_ms >= 0)
        while (n < log->nsegs && DUE_OK(n) && seg_sat_sub(now_ms, largest_ts(log->segs[n])) > c->retention_ms)
            total -= log->segs[n++]->size;
    if (c->retention_bytes >= 0 && total > c->retention_bytes) {
        int64_t diff = total - c->retention_bytes;
        while (n < log->nsegs && DUE_OK(n) && diff - log->segs[n]->size >= 0)
            diff -= log->segs[n++]->size;
    }
#undef DUE_OK
    return drop_front(log, n, err, errsz);
}

/* ---- cutting the tail (ABI 1.3 truncate_to) -------------------------------- */

/* Everything goes: a new empty segment at `offset` is the whole log. */
static int truncate_all(struct od_log *log, int64_t offset, char *err, size_t errsz)
{
    seg_segment_t *s = seg_segment_new(log->dir, offset);
    if (!s) {
        seg_err(err, errsz, "%s: out of memory", log->dir);
        return -1;
    }
    for (size_t i = 0; i < log->nsegs; i++)
        retire(log, log->segs[i], 0); /* at once: cut data must never come back */
    log->nsegs = 0;
    if (seg_segment_open_log(s, 1, err, errsz) < 0 || seg_index_write_files(s, err, errsz) < 0) {
        seg_segment_free(s);
        return -1;
    }
    log->segs[log->nsegs++] = s;
    log->log_start = offset;
    seg_fsync_dir(log->dir);
    return write_start(log, offset, err, errsz);
}

int seg_log_truncate_to(struct od_log *log, int64_t offset, char *err, size_t errsz)
{
    size_t i = 0, keep;
    int64_t pos = 0, old_end = seg_log_end_offset(log), next;
    seg_segment_t *s;
    seg_batch_t b;
    char why[256];
    int fd;

    if (offset == old_end)
        return 0;
    seg_clean_free(log); /* a compaction round over the old tail is moot */
    if (offset <= log->log_start || offset <= log->segs[0]->base || offset > old_end)
        return truncate_all(log, offset < 0 ? 0 : offset, err, errsz);
    while (i + 1 < log->nsegs && log->segs[i + 1]->base <= offset)
        i++;
    s = log->segs[i];
    /* Later segments go whole, newest first: a crash midway leaves a
     * shorter log, never a hole. */
    for (keep = log->nsegs; keep > i + 1; keep--)
        retire(log, log->segs[keep - 1], 0);
    log->nsegs = i + 1;
    /* Walk s from its start to the batch holding offset, rebuilding the
     * index entries of the batches that stay. */
    fd = seg_segment_fd(s, err, errsz);
    if (fd < 0)
        return -1;
    seg_index_reset(&s->idx);
    next = s->base;
    while (pos < s->size) {
        if (seg_read_header(fd, pos, s->size, &b, why, sizeof why) < 0) {
            seg_err(err, errsz, "%s.log: truncate: %s", s->path, why);
            return -1;
        }
        if (seg_batch_last(&b) >= offset)
            break;
        seg_index_add_batch(log, s, (int32_t)(seg_batch_last(&b) - s->base), (int32_t)pos,
                            seg_batch_size(&b), b.max_timestamp);
        next = seg_batch_last(&b) + 1;
        pos += seg_batch_size(&b);
    }
    if (seg_segment_truncate(s, pos, err, errsz) < 0)
        return -1;
    s->next = pos > 0 ? next : s->base;
    s->idx.dirty = 1;
    if (seg_index_write_files(s, err, errsz) < 0 || seg_segment_sync(s, err, errsz) < 0)
        return -1;
    s->unsynced = 0;
    if (s->writeback_from > pos)
        s->writeback_from = pos;
    seg_fsync_dir(log->dir);
    od_logf(OD_LOG_INFO, "segment: %s: truncated to offset %lld (end was %lld)", log->dir,
            (long long)s->next, (long long)old_end);
    return 0;
}
