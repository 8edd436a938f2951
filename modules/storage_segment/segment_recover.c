/* segment_recover.c - open a partition directory and recover after a crash.
 *
 * The rules (Kafka's, simplified):
 * - The last segment is always scanned batch by batch from its start, its
 *   indexes rebuilt and rewritten. The CRC-32C of every batch is checked
 *   unless the clean-shutdown marker was found (then everything had been
 *   fdatasync'ed at close and a structural scan is enough).
 * - An earlier segment is trusted when its index files look sane and the
 *   stretch from its last index entry to the end of the .log is well
 *   formed, CRCs included, and ends exactly where the next segment begins; otherwise it is scanned with CRCs and its
 *   indexes are rebuilt. Its descriptor goes back to the pool afterwards
 *   (segment_files.c), so a restart does not hold one per segment. (Rolled
 *   segments are fdatasync'ed in the background, so a crash of the machine
 *   may tear the tail of any segment, not only the active one.)
 * - The first invalid batch ends the log: a torn or corrupt tail is cut off
 *   with ftruncate and every later segment is deleted, each with a warning.
 * - A .index or .timeindex without its .log is removed; other files are
 *   left alone. */
#include "segment.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct scan_res {
    int64_t end_pos;  /* end of the last valid batch */
    int64_t next;     /* offset after the last valid batch */
    int64_t max_ts;   /* largest maxTimestamp seen, -1 none */
    int incomplete;   /* an index entry should have been there (no build) */
    int bad;          /* stopped at an invalid batch */
    char why[160];
} scan_res_t;

/* Scan batches of s from pos, the first one expected to start at offset
 * `expect`, or, if `first_last` >= 0, to end at offset first_last (an index
 * entry's). With `build`, feed them to the segment's index. Returns -1 on
 * I/O error. */
static int scan(struct od_log *log, seg_segment_t *s, int64_t pos, int64_t expect,
                int64_t first_last, int verify, int build, scan_res_t *res, char *err,
                size_t errsz)
{
    seg_reader_t r;
    int64_t since = 0;
    int rc = 0;

    int fd = seg_segment_fd(s, err, errsz);
    if (fd < 0)
        return -1;
    memset(res, 0, sizeof *res);
    res->max_ts = -1;
    seg_reader_init(&r, fd, s->size);
    while (pos < s->size) {
        seg_batch_t b;
        const char *why;
        const uint8_t *p = seg_reader_get(&r, pos, SEG_HDR_SIZE);
        int64_t bsz;
        if (!p && r.ioerr)
            goto ioerr;
        if (!p) {
            snprintf(res->why, sizeof res->why, "partial batch header");
            break;
        }
        seg_batch_parse(p, &b);
        why = seg_batch_check(&b, s->size - pos);
        if (why) {
            snprintf(res->why, sizeof res->why, "%s", why);
            break;
        }
        if (first_last >= 0) { /* the batch an index entry points at */
            if (seg_batch_last(&b) != first_last) {
                snprintf(res->why, sizeof res->why, "index entry for offset %lld points at "
                         "a batch ending at %lld", (long long)first_last,
                         (long long)seg_batch_last(&b));
                break;
            }
            expect = b.base_offset;
            first_last = -1;
        }
        /* A gap is legal only where compaction removed records. */
        if (b.base_offset < expect || (b.base_offset > expect && b.base_offset > log->clean_limit)) {
            snprintf(res->why, sizeof res->why, "batch at offset %lld where %lld was expected",
                     (long long)b.base_offset, (long long)expect);
            break;
        }
        bsz = seg_batch_size(&b);
        if (seg_batch_last(&b) - s->base > INT32_MAX || pos + bsz > INT32_MAX) {
            snprintf(res->why, sizeof res->why, "batch beyond the 2^31 limits of a segment");
            break;
        }
        if (verify) {
            uint32_t crc;
            p = seg_reader_get(&r, pos, (size_t)bsz);
            if (!p)
                goto ioerr; /* the size was checked above */
            crc = od_crc32c(0, p + SEG_CRC_FROM, (size_t)bsz - SEG_CRC_FROM);
            if (crc != b.crc) {
                snprintf(res->why, sizeof res->why, "CRC-32C mismatch (stored %08x, computed %08x)",
                         b.crc, crc);
                break;
            }
        }
        if (build) {
            seg_index_add_batch(log, s, (int32_t)(seg_batch_last(&b) - s->base), (int32_t)pos, bsz,
                                b.max_timestamp);
        } else {
            if (since > log->cfg.index_interval_bytes && (int64_t)s->idx.noff < log->max_oentries)
                res->incomplete = 1;
            since += bsz;
        }
        if (b.max_timestamp > res->max_ts)
            res->max_ts = b.max_timestamp;
        expect = seg_batch_last(&b) + 1;
        pos += bsz;
    }
    res->bad = res->why[0] != 0;
    res->end_pos = pos;
    res->next = expect;
    seg_reader_free(&r);
    return rc;
ioerr:
    seg_err(err, errsz, "%s.log: read at %lld: %s", s->path, (long long)pos,
            strerror(r.ioerr ? r.ioerr : EIO));
    seg_reader_free(&r);
    return -1;
}

/* Cut a segment after its last valid batch. */
static int cut(seg_segment_t *s, const scan_res_t *res, char *err, size_t errsz)
{
    od_logf(OD_LOG_WARN, "segment: %s.log: %s at position %lld; truncating, dropping %lld bytes",
            s->path, res->why, (long long)res->end_pos, (long long)(s->size - res->end_pos));
    return seg_segment_truncate(s, res->end_pos, err, errsz);
}

/* Scan the (new) last segment fully, cut a bad tail, rebuild its indexes
 * and keep the index files open for appends. */
static int recover_active(struct od_log *log, seg_segment_t *s, int verify, char *err,
                          size_t errsz)
{
    scan_res_t res;
    seg_index_reset(&s->idx);
    if (scan(log, s, 0, s->base, -1, verify, 1, &res, err, errsz) < 0)
        return -1;
    if (res.bad && cut(s, &res, err, errsz) < 0)
        return -1;
    s->next = res.next;
    return seg_index_write_files(s, err, errsz);
}

/* Check or rebuild an earlier segment. Returns 1 if it was cut (it must
 * become the last one), 0 if fine, -1 on error. */
static int recover_inactive(struct od_log *log, seg_segment_t *s, int64_t next_base, char *err,
                            size_t errsz)
{
    scan_res_t res;
    int64_t rel_limit = next_base - s->base;
    int rc = seg_index_load(s, s->size, rel_limit, err, errsz);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        const seg_index_t *ix = &s->idx;
        int64_t pos = ix->noff ? ix->off[ix->noff - 1].pos : 0;
        int64_t at = ix->noff ? s->base + ix->off[ix->noff - 1].rel : -1;
        if (scan(log, s, pos, s->base, at, 1, 0, &res, err, errsz) < 0)
            return -1;
        if (!res.bad && !res.incomplete &&
            (res.next == next_base || (res.next < next_base && next_base <= log->clean_limit))) {
            s->next = res.next;
            if (res.max_ts > s->idx.max_ts)
                s->idx.max_ts = res.max_ts;
            return 0;
        }
    }
    od_logf(OD_LOG_WARN, "segment: %s.index: missing or inconsistent with its log; rebuilding",
            s->path);
    seg_index_reset(&s->idx);
    if (scan(log, s, 0, s->base, -1, 1, 1, &res, err, errsz) < 0)
        return -1;
    s->next = res.next;
    if (res.bad) {
        if (cut(s, &res, err, errsz) < 0)
            return -1;
        return 1;
    }
    seg_index_finalize(log, s);
    return seg_index_write_files(s, err, errsz);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* "<20 digits><ext>" -> base offset, or -1. */
static int64_t parse_name(const char *name, const char *ext)
{
    int64_t v = 0;
    for (int i = 0; i < SEG_NAME_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9')
            return -1;
        if (v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (name[i] - '0');
    }
    return strcmp(name + SEG_NAME_DIGITS, ext) == 0 ? v : -1;
}

static int push_i64(int64_t **arr, size_t *n, size_t *cap, int64_t v)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        int64_t *na = realloc(*arr, nc * sizeof *na);
        if (!na)
            return -1;
        *arr = na;
        *cap = nc;
    }
    (*arr)[(*n)++] = v;
    return 0;
}

/* Base offsets of the .log files, sorted; removes orphan index files. */
static int list_segments(const char *dir, int64_t **bases, size_t *n, char *err, size_t errsz)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int64_t *idx = NULL;
    size_t nidx = 0, idx_cap = 0, cap = 0;
    int rc = 0;

    *bases = NULL;
    *n = 0;
    if (!d) {
        seg_err(err, errsz, "%s: opendir: %s", dir, strerror(errno));
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        int64_t v;
        if ((v = parse_name(de->d_name, ".log")) >= 0)
            rc = push_i64(bases, n, &cap, v);
        else if ((v = parse_name(de->d_name, ".index")) >= 0 ||
                 (v = parse_name(de->d_name, ".timeindex")) >= 0)
            rc = push_i64(&idx, &nidx, &idx_cap, v);
        if (rc < 0) {
            seg_err(err, errsz, "%s: out of memory", dir);
            break;
        }
    }
    closedir(d);
    if (rc == 0) {
        if (*n)
            qsort(*bases, *n, sizeof **bases, cmp_i64);
        if (nidx)
            qsort(idx, nidx, sizeof *idx, cmp_i64);
        for (size_t i = 0; i < nidx; i++) {
            char path[4096];
            if ((i > 0 && idx[i] == idx[i - 1]) ||
                (*n && bsearch(&idx[i], *bases, *n, sizeof **bases, cmp_i64)))
                continue;
            od_logf(OD_LOG_WARN, "segment: %s: removing index files of %020lld without a .log",
                    dir, (long long)idx[i]);
            snprintf(path, sizeof path, "%s/%020lld.index", dir, (long long)idx[i]);
            unlink(path);
            snprintf(path, sizeof path, "%s/%020lld.timeindex", dir, (long long)idx[i]);
            unlink(path);
        }
    } else {
        free(*bases);
        *bases = NULL;
    }
    free(idx);
    return rc;
}

/* Delete the files of segments bases[from..n-1]. */
static void delete_from(struct od_log *log, const int64_t *bases, size_t from, size_t n)
{
    if (from >= n)
        return;
    od_logf(OD_LOG_WARN, "segment: %s: deleting %zu segment(s) from offset %lld on after an invalid "
            "point in the log", log->dir, n - from, (long long)bases[from]);
    for (size_t i = from; i < n; i++) {
        seg_segment_t *s = seg_segment_new(log->dir, bases[i]);
        if (s) {
            seg_segment_unlink(s);
            seg_segment_free(s);
        }
    }
}

static int add_segment(struct od_log *log, seg_segment_t *s, char *err, size_t errsz)
{
    if (log->nsegs == log->segs_cap) {
        size_t nc = log->segs_cap ? log->segs_cap * 2 : 8;
        seg_segment_t **na = realloc(log->segs, nc * sizeof *na);
        if (!na) {
            seg_err(err, errsz, "%s: out of memory", log->dir);
            return -1;
        }
        log->segs = na;
        log->segs_cap = nc;
    }
    log->segs[log->nsegs++] = s;
    return 0;
}

static int clean_marker(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, SEG_CLEAN_MARKER);
    if (unlink(path) < 0)
        return 0;
    /* Make the removal durable, so a crash from now on is seen as one. */
    seg_fsync_dir(dir);
    return 1;
}

/* A new, empty log: its directory and first segment's names are made
 * durable by the background worker, not here. Creating a thousand
 * partitions in one request would otherwise stall the loop for a thousand
 * directory fsyncs. Nothing is lost meanwhile: a log whose directory or
 * empty segment a crash took is created again when the metadata replays,
 * and the first flush fsyncs the directory anyway (dir_dirty) before any
 * appended record is called durable. */
static void sync_new_dir_later(struct od_log *log)
{
    char parent[4096];
    const char *slash = strrchr(log->dir, '/');
    seg_bg_job_t *j = seg_bg_job_new();
    log->dir_dirty = 1;
    if (!j || seg_bg_job_add(j, log->dir, 1) < 0) {
        seg_bg_put(j);
        seg_fsync_dir(log->dir);
        log->dir_dirty = 0;
        return;
    }
    if (slash && (size_t)(slash - log->dir) < sizeof parent) {
        size_t n = slash > log->dir ? (size_t)(slash - log->dir) : 1;
        memcpy(parent, log->dir, n);
        parent[n] = '\0';
        seg_bg_job_add(j, parent, 1); /* the new directory's own entry */
    }
    seg_bg_submit(j, 0);
}

int seg_recover(struct od_log *log, char *err, size_t errsz)
{
    int clean = clean_marker(log->dir);
    int64_t *bases;
    size_t n, orig_n;
    size_t i = 0;
    int rc = -1;

    if (seg_clean_recover(log->dir, err, errsz) < 0 ||
        list_segments(log->dir, &bases, &n, err, errsz) < 0)
        return -1;
    log->clean_limit = seg_clean_gap_limit(log->dir);
    orig_n = n;
    if (n == 0) {
        seg_segment_t *s = seg_segment_new(log->dir, 0);
        if (!s || seg_segment_open_log(s, 1, err, errsz) < 0 ||
            seg_index_write_files(s, err, errsz) < 0 || add_segment(log, s, err, errsz) < 0) {
            if (!s)
                seg_err(err, errsz, "%s: out of memory", log->dir);
            seg_segment_free(s);
            return -1;
        }
        sync_new_dir_later(log);
        return 0;
    }
    while (i < n) {
        seg_segment_t *s = seg_segment_new(log->dir, bases[i]);
        int r;
        if (!s) {
            seg_err(err, errsz, "%s: out of memory", log->dir);
            goto out;
        }
        if (i > 0 && (s->base < log->segs[i - 1]->next ||
                      (s->base > log->segs[i - 1]->next && s->base > log->clean_limit))) {
            /* A hole or an overlap: the log ends with the previous segment,
             * which is redone as the active one. */
            od_logf(OD_LOG_WARN, "segment: %s.log starts at offset %lld but the log before it "
                    "ends at %lld", s->path, (long long)s->base,
                    (long long)log->segs[i - 1]->next);
            seg_segment_free(s);
            delete_from(log, bases, i, n);
            n = i;
            i--;
            seg_segment_free(log->segs[--log->nsegs]);
            continue;
        }
        if (seg_segment_open_log(s, 0, err, errsz) < 0) {
            seg_segment_free(s);
            goto out;
        }
        if (i + 1 < n) {
            r = recover_inactive(log, s, bases[i + 1], err, errsz);
            if (r == 1) {
                delete_from(log, bases, i + 1, n);
                n = i + 1;
                r = seg_index_write_files(s, err, errsz);
            }
        } else {
            /* Only the original last segment may skip CRCs after a clean
             * close; one that becomes last through a cut is checked. */
            r = recover_active(log, s, !(clean && n == orig_n), err, errsz);
            /* After a crash the tail may be in the page cache only: the
             * next clean close must fdatasync it before its marker. */
            s->unsynced = !(clean && n == orig_n);
        }
        if (r < 0 || add_segment(log, s, err, errsz) < 0) {
            seg_segment_free(s);
            goto out;
        }
        i++;
    }
    if (n != orig_n)
        seg_fsync_dir(log->dir);
    rc = 0;
out:
    free(bases);
    return rc;
}
