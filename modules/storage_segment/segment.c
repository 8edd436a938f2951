/* segment.c - one partition's log: a list of segments, the last one active.
 *
 * Appends go to the active segment; it rolls (a new segment starts at the
 * end offset) when the append would make it exceed segment.bytes, when
 * segment.ms passed since its first append, when its index is full, or
 * when relative offsets would overflow. Reads return file ranges of whole
 * batches that stay valid until released (see seg_file_t). */
#include "segment.h"

#include <dirent.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static seg_segment_t *active(struct od_log *log) { return log->segs[log->nsegs - 1]; }

/* Copy what the caller's struct has; unset (<= 0) values get Kafka's
 * defaults so that a zeroed config cannot make us roll on every append. */
static void set_config(struct od_log *log, const od_log_config_t *in)
{
    od_log_config_t c;
    size_t n = in && in->struct_size < sizeof c ? in->struct_size : sizeof c;
    memset(&c, 0, sizeof c);
    if (in)
        memcpy(&c, in, n);
    if (!in || n < sizeof c) { /* fields the caller does not know */
        if (n <= offsetof(od_log_config_t, index_interval_bytes))
            c.index_interval_bytes = SEG_DEFAULT_INTERVAL;
        if (n <= offsetof(od_log_config_t, flush_ms))
            c.flush_ms = SEG_NEVER;
    }
    c.struct_size = sizeof c;
    if (c.segment_bytes <= 0)
        c.segment_bytes = SEG_DEFAULT_SEGMENT_BYTES;
    if (c.segment_bytes > INT32_MAX) /* positions in the index are int32 */
        c.segment_bytes = INT32_MAX;
    if (c.segment_ms <= 0)
        c.segment_ms = SEG_DEFAULT_SEGMENT_MS;
    if (c.index_interval_bytes < 0)
        c.index_interval_bytes = SEG_DEFAULT_INTERVAL;
    if (c.segment_index_bytes <= 0)
        c.segment_index_bytes = SEG_DEFAULT_INDEX_BYTES;
    if (c.flush_messages <= 0)
        c.flush_messages = SEG_NEVER;
    if (c.flush_ms < 0)
        c.flush_ms = SEG_NEVER;
    log->cfg = c;
    log->max_oentries = c.segment_index_bytes / SEG_OENTRY_SIZE;
    log->max_tentries = c.segment_index_bytes / SEG_TENTRY_SIZE;
    if (log->max_oentries < 1)
        log->max_oentries = 1;
    if (log->max_tentries < 1)
        log->max_tentries = 1;
}

int seg_mkdirs(const char *path, char *err, size_t errsz)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf) {
        seg_err(err, errsz, "%s: bad directory name", path);
        return -1;
    }
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        buf[i] = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST) {
            seg_err(err, errsz, "%s: mkdir: %s", buf, strerror(errno));
            return -1;
        }
        buf[i] = path[i];
    }
    return 0;
}

static void free_log(struct od_log *log)
{
    seg_doomed_sweep(log, 0, 1);
    seg_clean_free(log);
    for (size_t i = 0; i < log->nsegs; i++)
        seg_segment_free(log->segs[i]);
    free(log->segs);
    free(log->dir);
    free(log);
}

int seg_log_open(const char *dir, const od_log_config_t *cfg, struct od_log **out, char *err,
                 size_t errsz)
{
    struct od_log *log = calloc(1, sizeof *log);
    *out = NULL;
    if (!log || !(log->dir = strdup(dir))) {
        free(log);
        seg_err(err, errsz, "%s: out of memory", dir);
        return -1;
    }
    set_config(log, cfg);
    if (seg_mkdirs(dir, err, errsz) < 0 || seg_recover(log, err, errsz) < 0 ||
        seg_start_load(log, err, errsz) < 0) {
        free_log(log);
        return -1;
    }
    log->last_flush_ms = od_mono_ms();
    if (active(log)->size > 0) /* segment.ms counts from this start on */
        active(log)->first_append_ms = log->last_flush_ms;
    *out = log;
    return 0;
}

int seg_log_flush(struct od_log *log, int64_t now_ms, char *err, size_t errsz)
{
    if (seg_segment_sync(active(log), err, errsz) < 0)
        return -1;
    if (log->dir_dirty) { /* a segment was created since: make its name durable */
        seg_fsync_dir(log->dir);
        log->dir_dirty = 0;
    }
    log->unflushed = 0;
    log->last_flush_ms = now_ms;
    od_metrics_add("storage_segment_flushes_total", 1);
    return 0;
}

void seg_log_close(struct od_log *log)
{
    char err[512];
    seg_segment_t *s;
    int ok = 1;
    if (!log)
        return;
    s = active(log);
    if (s->idx.dirty && seg_index_write_files(s, err, sizeof err) < 0)
        od_logf(OD_LOG_WARN, "segment: %s", err); /* rebuilt at the next open anyway */
    if (seg_log_flush(log, od_mono_ms(), err, sizeof err) < 0) {
        od_logf(OD_LOG_ERROR, "segment: %s", err);
        ok = 0;
    }
    /* The marker tells the next open that nothing needs checking, so the
     * rolled segments' background syncs must have finished too. */
    seg_bg_drain();
    if (ok) {
        char path[4096];
        int fd;
        snprintf(path, sizeof path, "%s/%s", log->dir, SEG_CLEAN_MARKER);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0)
            close(fd);
        else
            od_logf(OD_LOG_WARN, "segment: %s: %s", path, strerror(errno));
        seg_fsync_dir(log->dir);
    }
    free_log(log);
}

int seg_remove_tree(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;
    int rc = 0;
    if (!d)
        return errno == ENOENT ? 0 : (errno == ENOTDIR ? unlink(path) : -1);
    while ((de = readdir(d)) != NULL) {
        char sub[4096];
        struct stat st;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
        if (lstat(sub, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode) ? seg_remove_tree(sub) < 0 : unlink(sub) < 0)
            rc = -1;
    }
    closedir(d);
    if (rmdir(path) < 0)
        rc = -1;
    return rc;
}

int seg_log_remove(struct od_log *log, char *err, size_t errsz)
{
    char doomed[4096];
    const char *victim = doomed;
    static unsigned counter;
    char *dir = log->dir;
    int rc = 0;

    /* Close without a clean marker; outstanding read ranges keep their fds. */
    seg_doomed_sweep(log, 0, 1);
    seg_clean_free(log);
    log->dir = NULL;
    for (size_t i = 0; i < log->nsegs; i++)
        seg_segment_free(log->segs[i]);
    free(log->segs);
    free(log);

    /* Like Kafka: rename first, so a crash during the deletion leaves a
     * "-delete" directory (removed at the next start) and never a partial
     * log under the live name. */
    snprintf(doomed, sizeof doomed, "%s.%08x%08x-delete", dir,
             (unsigned)od_mono_ms() ^ (unsigned)getpid(), ++counter);
    if (rename(dir, doomed) < 0) {
        od_logf(OD_LOG_WARN, "segment: %s: rename to %s: %s; deleting in place", dir, doomed,
                strerror(errno));
        victim = dir;
    } else {
        char *slash = strrchr(dir, '/');
        if (slash) {
            *slash = '\0';
            seg_fsync_dir(dir[0] ? dir : "/");
            *slash = '/';
        }
    }
    if (seg_remove_tree(victim) < 0) {
        seg_err(err, errsz, "%s: delete: %s", victim, strerror(errno));
        rc = -1;
    }
    free(dir);
    return rc;
}

int seg_log_roll(struct od_log *log, int64_t now_ms, char *err, size_t errsz)
{
    seg_segment_t *old = active(log), *s;
    int64_t base = old->next;

    if (old->size == 0)
        return 0; /* an empty active segment is as good as a new one */
    /* The old segment becomes read-only: final time entry, its indexes made
     * durable, and its data flushed in the background (the loop must not
     * wait for a gigabyte to reach the disk). */
    seg_index_finalize(log, old);
    if (old->idx.dirty && seg_index_write_files(old, err, errsz) < 0)
        return -1;
    if (seg_segment_sync_async(old, log->dir, err, errsz) < 0)
        return -1;
    old->unsynced = 0; /* the worker has it (a clean close waits for it) */
    s = seg_segment_new(log->dir, base);
    if (!s) {
        seg_err(err, errsz, "%s: out of memory", log->dir);
        return -1;
    }
    if (seg_segment_open_log(s, 1, err, errsz) < 0)
        goto fail;
    if (s->size != 0) {
        seg_err(err, errsz, "%s.log: exists already with %lld bytes", s->path, (long long)s->size);
        goto fail;
    }
    if (seg_index_write_files(s, err, errsz) < 0)
        goto fail_unlink;
    if (log->nsegs == log->segs_cap) {
        size_t nc = log->segs_cap * 2;
        seg_segment_t **na = realloc(log->segs, nc * sizeof *na);
        if (!na) {
            seg_err(err, errsz, "%s: out of memory", log->dir);
            goto fail_unlink;
        }
        log->segs = na;
        log->segs_cap = nc;
    }
    log->segs[log->nsegs++] = s;
    log->dir_dirty = 1; /* the new segment's entry reaches the disk at the next flush */
    log->unflushed = 0;
    log->last_flush_ms = now_ms;
    od_metrics_add("storage_segment_rolls_total", 1);
    od_logf(OD_LOG_DEBUG, "segment: %s: rolled new segment at offset %lld", log->dir,
            (long long)base);
    return 0;
fail_unlink:
    seg_segment_unlink(s);
fail:
    seg_segment_free(s);
    return -1;
}

/* Walk the batches of an append: structure and offset continuity. */
static int check_append(struct od_log *log, const uint8_t *data, size_t len, int64_t *last,
                        int64_t *records, char *err, size_t errsz)
{
    int64_t expect = active(log)->next;
    size_t pos = 0;
    *records = 0;
    if (len == 0 || len > INT32_MAX) {
        seg_err(err, errsz, "%s: cannot append %zu bytes", log->dir, len);
        return -1;
    }
    while (pos < len) {
        seg_batch_t b;
        const char *why = len - pos < SEG_HDR_SIZE ? "partial batch header" : NULL;
        if (!why) {
            seg_batch_parse(data + pos, &b);
            why = seg_batch_check(&b, (int64_t)(len - pos));
        }
        if (!why && b.base_offset != expect)
            why = "batch offsets do not continue the log";
        if (why) {
            seg_err(err, errsz, "%s: append at offset %lld, byte %zu: %s", log->dir,
                    (long long)expect, pos, why);
            return -1;
        }
        *records += b.record_count > 0 ? b.record_count : 0;
        expect = seg_batch_last(&b) + 1;
        pos += (size_t)seg_batch_size(&b);
    }
    *last = expect - 1;
    return 0;
}

static int need_roll(struct od_log *log, seg_segment_t *s, size_t len, int64_t last,
                     int64_t now_ms)
{
    if (s->size == 0)
        return 0;
    return s->size + (int64_t)len > log->cfg.segment_bytes ||
           (s->first_append_ms >= 0 &&
            seg_sat_sub(now_ms, s->first_append_ms) >= log->cfg.segment_ms) ||
           seg_index_full(log, &s->idx) || last - s->base > INT32_MAX;
}

/* Start writeback of every further WRITEBACK_STEP bytes of the active
 * segment without waiting for it. Dirty data then never piles up to a
 * whole segment, so the flush at roll (and the kernel's own throttling of
 * writers) stays short instead of stalling produce for a gigabyte's worth
 * of disk time. Durability is unchanged: this only starts I/O early. */
#define WRITEBACK_STEP (8 << 20)
static void kick_writeback(seg_segment_t *s)
{
    if (s->size - s->writeback_from < WRITEBACK_STEP || !s->log)
        return;
    (void)sync_file_range(s->log->fd, s->writeback_from, s->size - s->writeback_from,
                          SYNC_FILE_RANGE_WRITE);
    s->writeback_from = s->size;
}

int seg_log_append(struct od_log *log, const uint8_t *data, size_t len, int64_t now_ms,
                   char *err, size_t errsz)
{
    seg_segment_t *s;
    seg_index_t saved;
    int64_t last, records;
    size_t pos = 0;

    if (check_append(log, data, len, &last, &records, err, errsz) < 0)
        return -1;
    if (need_roll(log, active(log), len, last, now_ms) &&
        seg_log_roll(log, now_ms, err, errsz) < 0)
        return -1;
    s = active(log);
    if (s->size + (int64_t)len > INT32_MAX || last - s->base > INT32_MAX) {
        seg_err(err, errsz, "%s: append of %zu bytes does not fit a segment", log->dir, len);
        return -1;
    }
    if (seg_segment_write(s, data, len, err, errsz) < 0)
        return -1;
    saved = s->idx;
    while (pos < len) {
        seg_batch_t b;
        seg_batch_parse(data + pos, &b);
        seg_index_add_batch(log, s, (int32_t)(seg_batch_last(&b) - s->base),
                            (int32_t)(s->size + (int64_t)pos), seg_batch_size(&b),
                            b.max_timestamp);
        pos += (size_t)seg_batch_size(&b);
    }
    log->unflushed += records;
    if (log->unflushed >= log->cfg.flush_messages &&
        seg_log_flush(log, now_ms, err, errsz) < 0) {
        /* Not durable: take the append back, the producer gets the error. */
        size_t noff = saved.noff, ntime = saved.ntime;
        if (!s->log || ftruncate(s->log->fd, (off_t)s->size) < 0)
            od_logf(OD_LOG_ERROR, "segment: %s.log: cannot cut back: %s", s->path,
                    strerror(errno));
        s->idx.noff = noff;
        s->idx.ntime = ntime;
        s->idx.bytes_since = saved.bytes_since;
        s->idx.max_ts = saved.max_ts;
        s->idx.max_ts_rel = saved.max_ts_rel;
        s->idx.dirty = 1;
        log->unflushed -= records;
        return -1;
    }
    s->size += (int64_t)len;
    s->next = last + 1;
    if (s->first_append_ms < 0)
        s->first_append_ms = now_ms;
    kick_writeback(s);
    return 0;
}

/* Index of the segment holding offset (the last with base <= offset). */
static size_t find_segment(struct od_log *log, int64_t offset)
{
    size_t lo = 0, hi = log->nsegs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (log->segs[mid]->base <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? lo - 1 : 0;
}

/* Position of the batch holding `offset` in s; *b gets its header. */
/* An index entry does not point at the batch it names: warn once and remove
 * the file so that the next open rebuilds it; meanwhile reads scan. */
static void index_is_wrong(struct od_log *log, seg_segment_t *s, int64_t offset)
{
    char path[4096];
    if (s->idx.suspect)
        return;
    s->idx.suspect = 1;
    seg_segment_file(s, ".index", path, sizeof path);
    od_logf(OD_LOG_WARN, "segment: %s: entry for offset %lld is wrong; scanning, rebuilt at the "
            "next open", path, (long long)offset);
    if (s != active(log))
        unlink(path); /* the active segment's is rebuilt at every open */
}

static int locate(struct od_log *log, seg_segment_t *s, int64_t offset, int64_t *pos_out, seg_batch_t *b, char *err,
                  size_t errsz)
{
    int32_t entry_rel;
    int64_t pos = seg_index_lookup(&s->idx, (int32_t)(offset - s->base), &entry_rel);
    char why[256];
    int fd = seg_segment_fd(s, err, errsz);
    if (fd < 0)
        return -1;
    if (seg_read_header(fd, pos, s->size, b, why, sizeof why) < 0 ||
        (entry_rel >= 0 && seg_batch_last(b) != s->base + entry_rel)) {
        index_is_wrong(log, s, s->base + entry_rel);
        pos = 0;
        if (seg_read_header(fd, pos, s->size, b, why, sizeof why) < 0)
            goto bad;
    }
    while (seg_batch_last(b) < offset) {
        pos += seg_batch_size(b);
        if (pos >= s->size) {
            snprintf(why, sizeof why, "offset %lld not found", (long long)offset);
            goto bad;
        }
        if (seg_read_header(fd, pos, s->size, b, why, sizeof why) < 0)
            goto bad;
    }
    *pos_out = pos;
    return 0;
bad:
    seg_err(err, errsz, "%s.log: %s", s->path, why);
    return -1;
}

/* Length of whole batches from pos (whose header is *first, or NULL when
 * the range may be empty) fitting in `budget` bytes; with `first`, at least
 * that batch. Index entries mark batch starts, so the walk jumps ahead. */
static int span(struct od_log *log, seg_segment_t *s, int64_t pos, const seg_batch_t *first, int64_t budget,
                int64_t *len_out, char *err, size_t errsz)
{
    int64_t end = pos, limit = budget, jump;
    int32_t jrel = 0;
    seg_batch_t b;
    char why[256];
    int fd = seg_segment_fd(s, err, errsz);
    if (fd < 0)
        return -1;
    if (first) {
        end = pos + seg_batch_size(first);
        if (limit < end - pos)
            limit = end - pos;
    }
    if (limit > s->size - pos)
        limit = s->size - pos;
    jump = seg_index_floor_pos(&s->idx, pos + limit, &jrel);
    if (jump > end) {
        /* Trust the entry only if it points at the batch it names. */
        if (seg_read_header(fd, jump, s->size, &b, why, sizeof why) == 0 &&
            seg_batch_last(&b) == s->base + jrel)
            end = jump;
        else
            index_is_wrong(log, s, s->base + jrel);
    }
    while (end < s->size) {
        if (seg_read_header(fd, end, s->size, &b, why, sizeof why) < 0) {
            seg_err(err, errsz, "%s.log: %s", s->path, why);
            return -1;
        }
        if (end + seg_batch_size(&b) - pos > limit)
            break;
        end += seg_batch_size(&b);
    }
    *len_out = end - pos;
    return 0;
}

/* A copy of the range in memory, for when descriptors are scarce. */
static int add_copy(od_log_read_t *out, seg_segment_t *s, int64_t pos, int64_t len, char *err,
                    size_t errsz)
{
    od_log_range_t *r;
    uint8_t *buf = malloc(len > 0 ? (size_t)len : 1);
    size_t got = 0;
    if (!buf) {
        seg_err(err, errsz, "%s.log: out of memory for a %lld-byte read", s->path, (long long)len);
        return -1;
    }
    while (got < (size_t)len) {
        ssize_t n = pread(s->log->fd, buf + got, (size_t)len - got, (off_t)(pos + (int64_t)got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            seg_err(err, errsz, "%s.log: read at %lld: %s", s->path, (long long)pos,
                    n < 0 ? strerror(errno) : "unexpected end of file");
            free(buf);
            return -1;
        }
        got += (size_t)n;
    }
    r = &out->ranges[out->nranges++];
    memset(r, 0, sizeof *r);
    r->mem = buf;
    r->len = (size_t)len;
    r->release = free;
    r->opaque = buf;
    out->total += (size_t)len;
    return 0;
}

/* The range takes its own reference on the file: the pool may close the
 * segment's descriptor before the response is sent, the range's stays
 * open until released. Those pinned descriptors count too: once as many
 * are open as the pool's cap, reads are served as copies in memory (the
 * core bounds a fetch's size), so one fetch across a thousand partitions
 * cannot pin a thousand descriptors. */
static int add_range(od_log_read_t *out, seg_segment_t *s, int64_t pos, int64_t len, char *err,
                     size_t errsz)
{
    od_log_range_t *r;
    if (seg_segment_fd(s, err, errsz) < 0)
        return -1;
    if (seg_files_live() > seg_files_cap())
        return add_copy(out, s, pos, len, err, errsz);
    r = &out->ranges[out->nranges++];
    memset(r, 0, sizeof *r);
    r->is_file = 1;
    r->fd = s->log->fd;
    r->file_off = (off_t)pos;
    r->len = (size_t)len;
    r->release = seg_file_release;
    r->opaque = s->log;
    seg_file_ref(s->log);
    out->total += (size_t)len;
    return 0;
}

static void release_all(od_log_read_t *out)
{
    for (size_t k = 0; k < out->nranges; k++)
        out->ranges[k].release(out->ranges[k].opaque);
    out->nranges = 0;
    out->total = 0;
}

/* A read served as copies returns at most this much (and at least one
 * batch): copies are memory the broker holds until the response is sent. */
#define SEG_COPY_MAX_BYTES (1 << 20)

int seg_log_read(struct od_log *log, int64_t offset, size_t max_bytes, od_log_read_t *out,
                 char *err, size_t errsz)
{
    int64_t start = seg_log_start_offset(log), end = seg_log_end_offset(log);
    int64_t budget = max_bytes > (size_t)INT64_MAX ? INT64_MAX : (int64_t)max_bytes;
    if (seg_files_live() >= seg_files_cap() && budget > SEG_COPY_MAX_BYTES)
        budget = SEG_COPY_MAX_BYTES; /* likely copies (add_range) */
    size_t i;
    int64_t pos, len;
    seg_batch_t first;

    out->nranges = 0;
    out->total = 0;
    if (offset < start || offset > end) {
        seg_err(err, errsz, "%s: offset %lld is outside the log [%lld, %lld]", log->dir,
                (long long)offset, (long long)start, (long long)end);
        return -1;
    }
    if (offset == end)
        return 0;
    i = find_segment(log, offset);
    /* Compaction leaves gaps: an offset after the last batch of its segment
     * is served by the next segment that has one. */
    while (i + 1 < log->nsegs && (offset >= log->segs[i]->next || log->segs[i]->size == 0))
        i++;
    if (log->segs[i]->size == 0 || offset >= log->segs[i]->next)
        return 0;
    if (offset < log->segs[i]->base)
        offset = log->segs[i]->base;
    if (locate(log, log->segs[i], offset, &pos, &first, err, errsz) < 0 ||
        span(log, log->segs[i], pos, &first, budget, &len, err, errsz) < 0 ||
        add_range(out, log->segs[i], pos, len, err, errsz) < 0)
        return -1;
    budget -= len;
    /* Continue into later segments while whole batches fit. */
    while (budget > 0 && pos + len == log->segs[i]->size && ++i < log->nsegs &&
           out->nranges < OD_LOG_READ_MAX_RANGES) {
        pos = 0;
        if (log->segs[i]->size == 0) { /* emptied by compaction */
            len = 0;
            continue;
        }
        if (span(log, log->segs[i], 0, NULL, budget, &len, err, errsz) < 0) {
            release_all(out);
            return -1;
        }
        if (len == 0)
            break;
        if (add_range(out, log->segs[i], 0, len, err, errsz) < 0) {
            release_all(out);
            return -1;
        }
        budget -= len;
    }
    return 0;
}

int64_t seg_log_start_offset(struct od_log *log)
{
    return log->log_start > log->segs[0]->base ? log->log_start : log->segs[0]->base;
}

int64_t seg_log_end_offset(struct od_log *log) { return active(log)->next; }

int64_t seg_log_offset_for_time(struct od_log *log, int64_t ts, int64_t *ts_out)
{
    for (size_t i = 0; i < log->nsegs; i++) {
        seg_segment_t *s = log->segs[i];
        int64_t pos;
        seg_batch_t b;
        char err[512];
        if (s->size == 0 || s->idx.max_ts < ts)
            continue;
        /* Batches before the time entry's batch all have smaller
         * timestamps; scan on from the batch holding it. */
        if (locate(log, s, s->base + seg_index_lookup_time(&s->idx, ts), &pos, &b, err,
                   sizeof err) < 0) {
            od_logf(OD_LOG_WARN, "segment: %s", err);
            continue;
        }
        for (;;) {
            if (b.max_timestamp >= ts && seg_batch_last(&b) >= seg_log_start_offset(log)) {
                if (ts_out)
                    *ts_out = b.max_timestamp;
                return b.base_offset > seg_log_start_offset(log) ? b.base_offset
                                                                 : seg_log_start_offset(log);
            }
            pos += seg_batch_size(&b);
            if (pos >= s->size)
                break;
            if (seg_segment_fd(s, err, sizeof err) < 0 ||
                seg_read_header(s->log->fd, pos, s->size, &b, err, sizeof err) < 0) {
                od_logf(OD_LOG_WARN, "segment: %s.log: %s", s->path, err);
                break;
            }
        }
    }
    return -1;
}

void seg_log_tick(struct od_log *log, int64_t now_ms)
{
    seg_segment_t *s = active(log);
    char err[512];
    if (s->size > 0 && s->first_append_ms >= 0 &&
        seg_sat_sub(now_ms, s->first_append_ms) >= log->cfg.segment_ms &&
        seg_log_roll(log, now_ms, err, sizeof err) < 0)
        od_logf(OD_LOG_ERROR, "segment: roll: %s", err);
    if (log->unflushed > 0 && seg_sat_sub(now_ms, log->last_flush_ms) >= log->cfg.flush_ms &&
        seg_log_flush(log, now_ms, err, sizeof err) < 0)
        od_logf(OD_LOG_ERROR, "segment: flush: %s", err);
    seg_doomed_sweep(log, now_ms, 0);
}

void seg_log_reconfigure(struct od_log *log, const od_log_config_t *cfg) { set_config(log, cfg); }

int64_t seg_log_size(struct od_log *log)
{
    int64_t n = 0;
    for (size_t i = 0; i < log->nsegs; i++)
        n += log->segs[i]->size;
    return n;
}
