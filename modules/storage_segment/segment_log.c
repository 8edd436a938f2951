/* segment_log.c - one segment's .log file: batch headers, refcounted fds,
 * writing, truncating, and a windowed reader for recovery scans. The
 * descriptor itself comes from the pool (segment_files.c). */
#include "segment.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void seg_err(char *err, size_t errsz, const char *fmt, ...)
{
    va_list ap;
    if (!err || !errsz)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
}

/* ---- batch headers ------------------------------------------------------ */

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}
static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void seg_batch_parse(const uint8_t *p, seg_batch_t *b)
{
    b->base_offset = (int64_t)be64(p);
    b->length = (int32_t)be32(p + 8);
    b->leader_epoch = (int32_t)be32(p + 12);
    b->magic = (int8_t)p[16];
    b->crc = be32(p + 17);
    b->attributes = (int16_t)((uint16_t)p[21] << 8 | p[22]);
    b->last_offset_delta = (int32_t)be32(p + 23);
    b->base_timestamp = (int64_t)be64(p + 27);
    b->max_timestamp = (int64_t)be64(p + 35);
    b->record_count = (int32_t)be32(p + 57);
}

const char *seg_batch_check(const seg_batch_t *b, int64_t room)
{
    if (b->length < SEG_MIN_BATCH_LEN)
        return "batch length below the 49-byte minimum";
    if (seg_batch_size(b) > room)
        return "batch extends past the end of the data";
    if (b->magic != 2)
        return "magic is not 2";
    if (b->last_offset_delta < 0)
        return "negative lastOffsetDelta";
    if (b->base_offset < 0 || b->base_offset > INT64_MAX - b->last_offset_delta - 1)
        return "base offset out of range";
    return NULL;
}

/* ---- refcounted fds -------------------------------------------------------- */

/* Open seg_file_t descriptors: the pool's plus those only read ranges
 * still hold (loop thread only). */
static size_t live_files;

size_t seg_files_live(void) { return live_files; }

seg_file_t *seg_file_new(int fd)
{
    seg_file_t *f = malloc(sizeof *f);
    if (!f)
        return NULL;
    f->fd = fd;
    f->refs = 1;
    live_files++;
    return f;
}

void seg_file_ref(seg_file_t *f) { f->refs++; }

void seg_file_unref(seg_file_t *f)
{
    if (!f || --f->refs > 0)
        return;
    if (f->fd >= 0)
        close(f->fd);
    live_files--;
    free(f);
}

void seg_file_release(void *opaque) { seg_file_unref(opaque); }

/* ---- segments ------------------------------------------------------------ */

seg_segment_t *seg_segment_new(const char *dir, int64_t base)
{
    seg_segment_t *s = calloc(1, sizeof *s);
    size_t n = strlen(dir) + SEG_NAME_DIGITS + 2;
    if (!s)
        return NULL;
    s->path = malloc(n);
    if (!s->path) {
        free(s);
        return NULL;
    }
    snprintf(s->path, n, "%s/%020lld", dir, (long long)base);
    s->base = s->next = base;
    s->first_append_ms = -1;
    seg_index_init(&s->idx);
    return s;
}

void seg_segment_free(seg_segment_t *s)
{
    if (!s)
        return;
    seg_segment_close_fd(s);
    seg_index_free(&s->idx);
    free(s->path);
    free(s);
}

void seg_segment_file(const seg_segment_t *s, const char *ext, char *buf, size_t bufsz)
{
    snprintf(buf, bufsz, "%s%s", s->path, ext);
}

int seg_pwrite_all(int fd, const void *p, size_t n, off_t off)
{
    const uint8_t *q = p;
    while (n > 0) {
        ssize_t w = pwrite(fd, q, n, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        if (w == 0) {
            errno = ENOSPC;
            return -1;
        }
        q += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

int seg_segment_write(seg_segment_t *s, const uint8_t *data, size_t len, char *err,
                      size_t errsz)
{
    int fd = seg_segment_fd(s, err, errsz);
    if (fd < 0)
        return -1;
    s->unsynced = 1;
    if (seg_pwrite_all(fd, data, len, (off_t)s->size) < 0) {
        int e = errno;
        char path[4096];
        seg_segment_file(s, ".log", path, sizeof path);
        seg_err(err, errsz, "%s: write of %zu bytes at %lld: %s", path, len,
                (long long)s->size, strerror(e));
        /* Nothing of a failed append may stay: readers and recovery would
         * otherwise meet a torn batch. */
        if (ftruncate(fd, (off_t)s->size) < 0)
            od_logf(OD_LOG_ERROR, "segment: %s: cannot cut back to %lld: %s", path,
                    (long long)s->size, strerror(errno));
        return -1;
    }
    return 0;
}

int seg_segment_truncate(seg_segment_t *s, int64_t size, char *err, size_t errsz)
{
    int fd = seg_segment_fd(s, err, errsz);
    if (fd < 0)
        return -1;
    s->unsynced = 1;
    if (ftruncate(fd, (off_t)size) < 0) {
        char path[4096];
        seg_segment_file(s, ".log", path, sizeof path);
        seg_err(err, errsz, "%s: truncate to %lld: %s", path, (long long)size,
                strerror(errno));
        return -1;
    }
    s->size = size;
    return 0;
}

unsigned long seg_loop_syncs;

int seg_segment_sync(seg_segment_t *s, char *err, size_t errsz)
{
    int fd;
    if (!s->unsynced)
        return 0; /* nothing new: no need to open an idle segment */
    fd = seg_segment_fd(s, err, errsz);
    if (fd < 0)
        return -1;
    seg_loop_syncs++;
    if (fdatasync(fd) < 0) {
        char path[4096];
        seg_segment_file(s, ".log", path, sizeof path);
        seg_err(err, errsz, "%s: fdatasync: %s", path, strerror(errno));
        return -1;
    }
    s->unsynced = 0;
    return 0;
}

/* A rolled segment is made durable on the background worker: data and
 * indexes, then the directory. Recovery checks the tail of every earlier
 * segment after a crash, so it does not rely on this having finished; an
 * explicit flush of the log fsyncs the directory itself, and a clean close
 * waits for the queue. */
int seg_segment_sync_async(seg_segment_t *s, const char *dir, char *err, size_t errsz)
{
    static const char *const exts[] = {".log", ".index", ".timeindex"};
    seg_bg_job_t *j = seg_bg_job_new();
    char path[4096];
    if (!j) { /* no memory for a job: do it here */
        if (seg_segment_sync(s, err, errsz) < 0)
            return -1;
        seg_fsync_dir(dir);
        return 0;
    }
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        seg_segment_file(s, exts[i], path, sizeof path);
        seg_bg_job_add(j, path, 0);
    }
    seg_bg_job_add(j, dir, 1);
    return seg_bg_submit(j, 0);
}

void seg_segment_unlink(seg_segment_t *s)
{
    static const char *const exts[] = {".log", ".index", ".timeindex"};
    char path[4096];
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        seg_segment_file(s, exts[i], path, sizeof path);
        if (unlink(path) < 0 && errno != ENOENT)
            od_logf(OD_LOG_WARN, "segment: %s: unlink: %s", path, strerror(errno));
    }
}

int seg_read_header(int fd, int64_t pos, int64_t limit, seg_batch_t *b, char *err,
                    size_t errsz)
{
    uint8_t hdr[SEG_HDR_SIZE];
    size_t got = 0;
    const char *why;
    if (limit - pos < SEG_HDR_SIZE) {
        seg_err(err, errsz, "partial batch header at position %lld", (long long)pos);
        return -1;
    }
    while (got < sizeof hdr) {
        ssize_t r = pread(fd, hdr + got, sizeof hdr - got, (off_t)(pos + (int64_t)got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            seg_err(err, errsz, "read at position %lld: %s", (long long)pos, strerror(errno));
            return -1;
        }
        if (r == 0) {
            seg_err(err, errsz, "unexpected end of file at position %lld", (long long)pos);
            return -1;
        }
        got += (size_t)r;
    }
    seg_batch_parse(hdr, b);
    why = seg_batch_check(b, limit - pos);
    if (why) {
        seg_err(err, errsz, "bad batch at position %lld: %s", (long long)pos, why);
        return -1;
    }
    return 0;
}

int seg_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc;
    if (fd < 0)
        return -1;
    seg_loop_syncs++;
    rc = fsync(fd);
    close(fd);
    return rc;
}

/* ---- windowed reader ------------------------------------------------------- */

#define SEG_READER_WINDOW (1u << 20)

void seg_reader_init(seg_reader_t *r, int fd, int64_t fsize)
{
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->fsize = fsize;
}

void seg_reader_free(seg_reader_t *r)
{
    free(r->buf);
    r->buf = NULL;
}

const uint8_t *seg_reader_get(seg_reader_t *r, int64_t pos, size_t n)
{
    size_t want;
    if (pos < 0 || pos > r->fsize || (uint64_t)(r->fsize - pos) < n)
        return NULL;
    if (r->buf && pos >= r->wpos && (uint64_t)(pos - r->wpos) + n <= r->wlen)
        return r->buf + (pos - r->wpos);
    want = n > SEG_READER_WINDOW ? n : SEG_READER_WINDOW;
    if ((uint64_t)(r->fsize - pos) < want)
        want = (size_t)(r->fsize - pos);
    if (r->cap < want) {
        uint8_t *nb = realloc(r->buf, want);
        if (!nb) {
            r->ioerr = ENOMEM;
            return NULL;
        }
        r->buf = nb;
        r->cap = want;
    }
    r->wpos = pos;
    r->wlen = 0;
    while (r->wlen < want) {
        ssize_t got = pread(r->fd, r->buf + r->wlen, want - r->wlen, (off_t)(pos + (int64_t)r->wlen));
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            r->ioerr = errno;
            r->wlen = 0;
            return NULL;
        }
        if (got == 0)
            break; /* the file shrank under us: treat as its end */
        r->wlen += (size_t)got;
    }
    return r->wlen >= n ? r->buf : NULL;
}
