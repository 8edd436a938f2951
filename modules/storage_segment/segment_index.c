/* segment_index.c - the sparse offset index (.index) and the time index
 * (.timeindex) of one segment.
 *
 * Both live in memory as arrays (lookups never touch the disk). The files
 * are written whole, with no descriptor kept open: when the segment rolls,
 * when the log closes, and when recovery rebuilds them. The files of the
 * active segment are rebuilt at every open anyway (recovery always scans
 * the last segment), so writing them entry by entry would only cost two
 * descriptors per partition. */
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }

void seg_index_init(seg_index_t *ix)
{
    memset(ix, 0, sizeof *ix);
    ix->max_ts = -1;
}

void seg_index_reset(seg_index_t *ix)
{
    ix->noff = ix->ntime = 0;
    ix->bytes_since = 0;
    ix->max_ts = -1;
    ix->max_ts_rel = 0;
    ix->dirty = 1;
}

void seg_index_free(seg_index_t *ix)
{
    free(ix->off);
    free(ix->time);
    ix->off = NULL;
    ix->time = NULL;
    ix->noff = ix->ntime = ix->off_cap = ix->time_cap = 0;
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    size_t ncap;
    void *n;
    if (need <= *cap)
        return 0;
    ncap = *cap ? *cap * 2 : 64;
    while (ncap < need)
        ncap *= 2;
    n = realloc(*arr, ncap * elem);
    if (!n)
        return -1;
    *arr = n;
    *cap = ncap;
    return 0;
}

static void push_off(seg_index_t *ix, int32_t rel, int32_t pos)
{
    /* A sparse index may miss entries: on allocation failure readers only
     * scan a little further. */
    if (grow((void **)&ix->off, &ix->off_cap, ix->noff + 1, sizeof *ix->off) < 0)
        return;
    ix->off[ix->noff].rel = rel;
    ix->off[ix->noff].pos = pos;
    ix->dirty = 1;
    ix->noff++;
}

static void push_time(seg_index_t *ix, int64_t ts, int32_t rel)
{
    if (grow((void **)&ix->time, &ix->time_cap, ix->ntime + 1, sizeof *ix->time) < 0)
        return;
    ix->time[ix->ntime].ts = ts;
    ix->time[ix->ntime].rel = rel;
    ix->dirty = 1;
    ix->ntime++;
}

static int64_t last_ts(const seg_index_t *ix)
{
    return ix->ntime ? ix->time[ix->ntime - 1].ts : -1;
}

int seg_index_would_add(const struct od_log *log, const seg_index_t *ix)
{
    return ix->bytes_since > log->cfg.index_interval_bytes &&
           (int64_t)ix->noff < log->max_oentries;
}

void seg_index_add_batch(const struct od_log *log, seg_segment_t *s, int32_t rel, int32_t pos,
                         int64_t batch_size, int64_t max_ts)
{
    seg_index_t *ix = &s->idx;
    if (max_ts > ix->max_ts) {
        ix->max_ts = max_ts;
        ix->max_ts_rel = rel;
    }
    if (ix->bytes_since > log->cfg.index_interval_bytes) {
        if ((int64_t)ix->noff < log->max_oentries)
            push_off(ix, rel, pos);
        if (ix->max_ts > last_ts(ix) && (int64_t)ix->ntime < log->max_tentries)
            push_time(ix, ix->max_ts, ix->max_ts_rel);
        ix->bytes_since = 0;
    }
    ix->bytes_since += batch_size;
}

void seg_index_finalize(const struct od_log *log, seg_segment_t *s)
{
    (void)log;
    /* Like Kafka, the final entry may exceed the size cap by one: it makes
     * the segment's max timestamp known without a scan after restart. */
    if (s->idx.max_ts > last_ts(&s->idx))
        push_time(&s->idx, s->idx.max_ts, s->idx.max_ts_rel);
}

int seg_index_full(const struct od_log *log, const seg_index_t *ix)
{
    return (int64_t)ix->noff >= log->max_oentries || (int64_t)ix->ntime >= log->max_tentries;
}

int64_t seg_index_lookup(const seg_index_t *ix, int32_t rel, int32_t *entry_rel)
{
    size_t lo = 0, hi = ix->noff; /* find the first entry with rel > `rel` */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->off[mid].rel <= rel)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0) {
        *entry_rel = -1;
        return 0;
    }
    *entry_rel = ix->off[lo - 1].rel;
    return ix->off[lo - 1].pos;
}

int64_t seg_index_floor_pos(const seg_index_t *ix, int64_t pos, int32_t *entry_rel)
{
    size_t lo = 0, hi = ix->noff;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->off[mid].pos <= pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return -1;
    *entry_rel = ix->off[lo - 1].rel;
    return ix->off[lo - 1].pos;
}

int32_t seg_index_lookup_time(const seg_index_t *ix, int64_t ts)
{
    size_t lo = 0, hi = ix->ntime;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->time[mid].ts < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? 0 : ix->time[lo - 1].rel;
}

/* Read a whole index file: 1 read, 0 missing or not a multiple of `unit`,
 * -1 I/O error. Caller frees *buf. */
static int slurp(const char *path, size_t unit, uint8_t **buf, size_t *len, char *err,
                 size_t errsz)
{
    struct stat st;
    size_t got = 0;
    int fd = seg_open_room(path, O_RDONLY | O_CLOEXEC);
    *buf = NULL;
    *len = 0;
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        seg_err(err, errsz, "%s: open: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0) {
        seg_err(err, errsz, "%s: fstat: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (st.st_size % (off_t)unit != 0 || st.st_size > (off_t)INT32_MAX) {
        close(fd);
        return 0;
    }
    *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
    if (!*buf) {
        seg_err(err, errsz, "%s: out of memory", path);
        close(fd);
        return -1;
    }
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, *buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r < 0)
                seg_err(err, errsz, "%s: read: %s", path, strerror(errno));
            close(fd);
            free(*buf);
            *buf = NULL;
            return r < 0 ? -1 : 0;
        }
        got += (size_t)r;
    }
    close(fd);
    *len = got;
    return 1;
}

int seg_index_load(seg_segment_t *s, int64_t log_size, int64_t rel_limit, char *err,
                   size_t errsz)
{
    seg_index_t *ix = &s->idx;
    char path[4096];
    uint8_t *buf;
    size_t len;
    int rc, sane = 1;

    seg_index_reset(ix);
    seg_segment_file(s, ".index", path, sizeof path);
    rc = slurp(path, SEG_OENTRY_SIZE, &buf, &len, err, errsz);
    if (rc <= 0)
        return rc;
    for (size_t i = 0; sane && i < len / SEG_OENTRY_SIZE; i++) {
        int32_t rel = (int32_t)get32(buf + i * SEG_OENTRY_SIZE);
        int32_t pos = (int32_t)get32(buf + i * SEG_OENTRY_SIZE + 4);
        if (rel < 0 || rel >= rel_limit || pos < 0 || pos >= log_size ||
            (ix->noff && (rel <= ix->off[ix->noff - 1].rel || pos <= ix->off[ix->noff - 1].pos)))
            sane = 0;
        else
            push_off(ix, rel, pos);
    }
    free(buf);
    if (!sane) {
        seg_index_reset(ix);
        return 0;
    }

    seg_segment_file(s, ".timeindex", path, sizeof path);
    rc = slurp(path, SEG_TENTRY_SIZE, &buf, &len, err, errsz);
    if (rc <= 0) {
        seg_index_reset(ix);
        return rc;
    }
    for (size_t i = 0; sane && i < len / SEG_TENTRY_SIZE; i++) {
        int64_t ts = (int64_t)get64(buf + i * SEG_TENTRY_SIZE);
        int32_t rel = (int32_t)get32(buf + i * SEG_TENTRY_SIZE + 8);
        if (rel < 0 || rel >= rel_limit ||
            (ix->ntime && (ts <= ix->time[ix->ntime - 1].ts || rel < ix->time[ix->ntime - 1].rel)))
            sane = 0;
        else
            push_time(ix, ts, rel);
    }
    free(buf);
    if (!sane) {
        seg_index_reset(ix);
        return 0;
    }
    ix->dirty = 0;
    if (ix->ntime) {
        ix->max_ts = ix->time[ix->ntime - 1].ts;
        ix->max_ts_rel = ix->time[ix->ntime - 1].rel;
    }
    return 1;
}

static int write_file(const char *path, const uint8_t *buf, size_t len, char *err,
                      size_t errsz)
{
    int fd = seg_open_room(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC);
    if (fd < 0) {
        seg_err(err, errsz, "%s: open: %s", path, strerror(errno));
        return -1;
    }
    if (seg_pwrite_all(fd, buf, len, 0) < 0) {
        seg_err(err, errsz, "%s: write: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

int seg_index_write_files(seg_segment_t *s, char *err, size_t errsz)
{
    seg_index_t *ix = &s->idx;
    char path[4096];
    size_t olen = ix->noff * SEG_OENTRY_SIZE, tlen = ix->ntime * SEG_TENTRY_SIZE;
    uint8_t *buf = malloc((olen > tlen ? olen : tlen) + 1);
    int rc = -1;

    if (!buf) {
        seg_err(err, errsz, "%s.index: out of memory", s->path);
        return -1;
    }
    for (size_t i = 0; i < ix->noff; i++) {
        put32(buf + i * SEG_OENTRY_SIZE, (uint32_t)ix->off[i].rel);
        put32(buf + i * SEG_OENTRY_SIZE + 4, (uint32_t)ix->off[i].pos);
    }
    seg_segment_file(s, ".index", path, sizeof path);
    if (write_file(path, buf, olen, err, errsz) < 0)
        goto out;
    for (size_t i = 0; i < ix->ntime; i++) {
        put64(buf + i * SEG_TENTRY_SIZE, (uint64_t)ix->time[i].ts);
        put32(buf + i * SEG_TENTRY_SIZE + 8, (uint32_t)ix->time[i].rel);
    }
    seg_segment_file(s, ".timeindex", path, sizeof path);
    if (write_file(path, buf, tlen, err, errsz) < 0)
        goto out;
    ix->dirty = 0;
    rc = 0;
out:
    free(buf);
    return rc;
}
