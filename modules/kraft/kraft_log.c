/* kraft_log.c - the metadata log on disk.
 *
 * <dir> is .../__cluster_metadata-0. It holds segments named by the 20-digit
 * offset of their first batch (00000000000000000000.log), each a plain run of
 * RecordBatch v2 batches, as in a Kafka partition. Every batch carries the
 * Raft epoch of the leader that wrote it in partitionLeaderEpoch; records
 * have null keys (control records excepted) and the encoded metadata record
 * as value.
 *
 * Durability: a batch is written fully and counts once fdatasync'ed; batches
 * written in one loop turn share one fdatasync (kraft_log_write, then
 * kraft_log_sync: group commit), and a failed sync takes them all back;
 * a new segment's directory entry is fsync'ed when it is created. After a
 * crash the tail may hold a partial batch; recovery checks every batch (CRC,
 * offsets, epochs, record framing) and truncates at the first bad one.
 *
 * There is no offset index: the log is only read sequentially (replay at
 * start, then a cursor that follows the appends). Serving Raft Fetch
 * requests from followers will want a sparse index like storage_segment's. */
#include "kraft.h"
#include "kraft_log_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- file helpers -------------------------------------------------------- */

char *kraft_lg_seg_path(const kraft_log_t *log, int64_t base)
{
    size_t n = strlen(log->dir) + 32;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%020" PRId64 ".log", log->dir, base);
    return p;
}

/* Reads exactly len bytes at off; returns bytes read (< len at EOF) or -1. */
ssize_t kraft_lg_pread(int fd, void *buf, size_t len, off_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t r = pread(fd, (uint8_t *)buf + done, len - done, off + (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

int kraft_lg_pwrite(int fd, const void *buf, size_t len, off_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t r = pwrite(fd, (const uint8_t *)buf + done, len - done, off + (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1; /* r == 0 cannot make progress: treat as an error */
        done += (size_t)r;
    }
    return 0;
}

/* ---- batch parsing --------------------------------------------------------- */

/* batch_hdr_t: kraft_log_int.h */

void kraft_lg_parse_hdr(const uint8_t *p, batch_hdr_t *h)
{
    h->base_offset = (int64_t)kraft_get_be64(p);
    h->batch_length = (int32_t)kraft_get_be32(p + 8);
    h->epoch = (int32_t)kraft_get_be32(p + 12);
    h->magic = (int8_t)p[16];
    h->crc = kraft_get_be32(p + 17);
    h->attributes = (int16_t)kraft_get_be16(p + 21);
    h->last_offset_delta = (int32_t)kraft_get_be32(p + 23);
    h->record_count = (int32_t)kraft_get_be32(p + 57);
}

/* Checks the header fields that can be checked before the body is read.
 * Returns NULL when fine, else why not. */
const char *kraft_lg_check_hdr(const batch_hdr_t *h, int64_t expect_offset)
{
    if (h->base_offset != expect_offset)
        return "unexpected base offset";
    if (h->batch_length < KRAFT_BATCH_HEADER - 12 ||
        h->batch_length > KRAFT_MAX_BATCH_BYTES - 12)
        return "batch length out of range";
    if (h->magic != 2)
        return "magic is not 2";
    if (h->attributes & KRAFT_ATTR_COMPRESSION)
        return "compressed batch (the metadata log is never compressed)";
    if (h->record_count < 1 || h->last_offset_delta != h->record_count - 1)
        return "record count does not match lastOffsetDelta";
    if (h->epoch < 0)
        return "negative leader epoch";
    return NULL;
}

/* Checks the CRC and the framing of every record of a whole batch b (len
 * bytes, header already checked) and, if fn, hands each record to it.
 * Returns 0; -1 with *why for a malformed batch; -2 when fn failed (err). */
int kraft_lg_walk_batch(const uint8_t *b, size_t len, kraft_record_fn fn, void *arg,
                      const char **why, char *err, size_t errsz)
{
    batch_hdr_t h;
    kraft_lg_parse_hdr(b, &h);
    if (od_crc32c(0, b + KRAFT_BATCH_CRC_START, len - KRAFT_BATCH_CRC_START) != h.crc) {
        *why = "CRC mismatch";
        return -1;
    }
    const uint8_t *p = b + KRAFT_BATCH_HEADER, *end = b + len;
    for (int32_t i = 0; i < h.record_count; i++) {
        int64_t rlen, v;
        if (kraft_get_varint(&p, end, 5, &rlen) < 0 || rlen < 1 || rlen > end - p)
            goto bad;
        const uint8_t *rend = p + rlen;
        kraft_record_t r;
        p++; /* attributes */
        if (kraft_get_varint(&p, rend, 10, &v) < 0) /* timestampDelta */
            goto bad;
        if (kraft_get_varint(&p, rend, 5, &v) < 0 || v != i) {
            *why = "offset delta out of order";
            return -1;
        }
        r.offset = h.base_offset + i;
        r.epoch = h.epoch;
        r.control = (h.attributes & KRAFT_ATTR_CONTROL) != 0;
        if (kraft_get_varint(&p, rend, 5, &v) < 0 || v < -1 || v > rend - p)
            goto bad;
        r.key_len = (int32_t)v;
        r.key = v < 0 ? NULL : p;
        p += v < 0 ? 0 : v;
        if (kraft_get_varint(&p, rend, 5, &v) < 0 || v < -1 || v > rend - p)
            goto bad;
        r.value_len = (int32_t)v;
        r.value = v < 0 ? NULL : p;
        p += v < 0 ? 0 : v;
        int64_t nh;
        if (kraft_get_varint(&p, rend, 5, &nh) < 0 || nh < 0)
            goto bad;
        for (int64_t j = 0; j < nh; j++) {
            if (kraft_get_varint(&p, rend, 5, &v) < 0 || v < 0 || v > rend - p)
                goto bad;
            p += v;
            if (kraft_get_varint(&p, rend, 5, &v) < 0 || v < -1 || v > rend - p)
                goto bad;
            p += v < 0 ? 0 : v;
        }
        if (p != rend)
            goto bad;
        if (fn && fn(arg, &r, err, errsz) < 0)
            return -2;
    }
    if (p != end)
        goto bad;
    return 0;
bad:
    *why = "malformed record";
    return -1;
}

/* Reads and checks the batch at pos of fd. Returns the batch (caller frees)
 * with its length, NULL with *why when what is there is not a valid batch
 * (torn or corrupt), NULL with *why == NULL and err on an I/O error. */
uint8_t *kraft_lg_read_batch(int fd, int64_t pos, int64_t file_size, int64_t expect_offset,
                           int32_t min_epoch, size_t *len_out, const char **why, char *err,
                           size_t errsz)
{
    uint8_t hb[KRAFT_BATCH_HEADER];
    *why = NULL;
    if (file_size - pos < KRAFT_BATCH_HEADER) {
        *why = "partial batch header";
        return NULL;
    }
    ssize_t r = kraft_lg_pread(fd, hb, sizeof hb, pos);
    if (r < 0) {
        snprintf(err, errsz, "read: %s", strerror(errno));
        return NULL;
    }
    if ((size_t)r < sizeof hb) {
        *why = "partial batch header";
        return NULL;
    }
    batch_hdr_t h;
    kraft_lg_parse_hdr(hb, &h);
    if ((*why = kraft_lg_check_hdr(&h, expect_offset)) != NULL)
        return NULL;
    if (h.epoch < min_epoch) {
        *why = "leader epoch lower than the previous batch's";
        return NULL;
    }
    size_t len = (size_t)h.batch_length + 12;
    if ((int64_t)len > file_size - pos) {
        *why = "partial batch";
        return NULL;
    }
    uint8_t *b = malloc(len);
    if (!b) {
        snprintf(err, errsz, "out of memory (batch of %zu bytes)", len);
        return NULL;
    }
    r = kraft_lg_pread(fd, b, len, pos);
    if (r < 0 || (size_t)r < len) {
        if (r < 0)
            snprintf(err, errsz, "read: %s", strerror(errno));
        else
            *why = "partial batch";
        free(b);
        return NULL;
    }
    if (kraft_lg_walk_batch(b, len, NULL, NULL, why, err, errsz) < 0) {
        free(b);
        return NULL;
    }
    *len_out = len;
    return b;
}

/* ---- bookkeeping ------------------------------------------------------------ */

int kraft_lg_note_epoch(kraft_log_t *log, int32_t epoch, int64_t offset)
{
    if (log->nepochs && log->epochs[log->nepochs - 1].epoch >= epoch)
        return 0;
    if (log->nepochs == log->epochs_cap) {
        size_t cap = log->epochs_cap ? log->epochs_cap * 2 : 8;
        kraft_epoch_entry_t *e = realloc(log->epochs, cap * sizeof *e);
        if (!e)
            return -1;
        log->epochs = e;
        log->epochs_cap = cap;
    }
    log->epochs[log->nepochs].epoch = epoch;
    log->epochs[log->nepochs].start_offset = offset;
    log->nepochs++;
    return 0;
}

static int push_segment(kraft_log_t *log, int64_t base)
{
    if (log->nsegs == log->segs_cap) {
        size_t cap = log->segs_cap ? log->segs_cap * 2 : 8;
        kraft_segment_t *s = realloc(log->segs, cap * sizeof *s);
        if (!s)
            return -1;
        log->segs = s;
        log->segs_cap = cap;
    }
    log->segs[log->nsegs].base_offset = base;
    log->segs[log->nsegs].size = 0;
    log->nsegs++;
    return 0;
}

static int cmp_seg(const void *a, const void *b)
{
    int64_t x = ((const kraft_segment_t *)a)->base_offset;
    int64_t y = ((const kraft_segment_t *)b)->base_offset;
    return x < y ? -1 : x > y;
}

/* Collects the "<20 digits>.log" files of the directory. */
static int list_segments(kraft_log_t *log, char *err, size_t errsz)
{
    DIR *d = opendir(log->dir);
    if (!d) {
        snprintf(err, errsz, "cannot read %s: %s", log->dir, strerror(errno));
        return -1;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (strlen(n) != 24 || strcmp(n + 20, ".log") != 0)
            continue;
        int64_t base = 0;
        int ok = 1;
        for (int i = 0; i < 20 && ok; i++) {
            if (n[i] < '0' || n[i] > '9' || base > (INT64_MAX - 9) / 10)
                ok = 0;
            else
                base = base * 10 + (n[i] - '0');
        }
        if (!ok)
            continue;
        if (push_segment(log, base) < 0) {
            closedir(d);
            snprintf(err, errsz, "out of memory");
            return -1;
        }
    }
    closedir(d);
    if (log->nsegs > 1)
        qsort(log->segs, log->nsegs, sizeof *log->segs, cmp_seg);
    return 0;
}

/* Truncates segment i at pos and removes every later segment. */
int kraft_lg_cut_tail(kraft_log_t *log, size_t i, int fd, int64_t pos, int64_t file_size,
                    const char *why, char *err, size_t errsz)
{
    char *path = kraft_lg_seg_path(log, log->segs[i].base_offset);
    od_logf(OD_LOG_WARN,
            "kraft: %s: %s at byte %" PRId64 "; truncating the metadata log there (%" PRId64
            " bytes dropped)",
            path ? path : log->dir, why, pos, file_size - pos);
    free(path);
    if (ftruncate(fd, pos) < 0 || fdatasync(fd) < 0) {
        snprintf(err, errsz, "cannot truncate metadata log segment %020" PRId64 ".log: %s",
                 log->segs[i].base_offset, strerror(errno));
        return -1;
    }
    for (size_t j = i + 1; j < log->nsegs; j++) {
        char *p = kraft_lg_seg_path(log, log->segs[j].base_offset);
        od_logf(OD_LOG_WARN, "kraft: removing metadata log segment %s after the truncation",
                p ? p : "?");
        if (!p || unlink(p) < 0) {
            snprintf(err, errsz, "cannot remove %s: %s", p ? p : "segment", strerror(errno));
            free(p);
            return -1;
        }
        free(p);
    }
    log->nsegs = i + 1;
    return kraft_fsync_dir(log->dir, err, errsz);
}

/* Scans segment i, which must start at log->end_offset. On return the
 * segment's size is its valid length and end_offset is past its last batch.
 * *cut is set when it was truncated (later segments are then gone). */
static int recover_segment(kraft_log_t *log, size_t i, int fd, int *cut, char *err,
                           size_t errsz)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        snprintf(err, errsz, "stat: %s", strerror(errno));
        return -1;
    }
    int64_t pos = 0, size = (int64_t)st.st_size;
    *cut = 0;
    while (pos < size) {
        const char *why;
        size_t len;
        int32_t min_epoch = log->nepochs ? log->epochs[log->nepochs - 1].epoch : 0;
        uint8_t *b = kraft_lg_read_batch(fd, pos, size, log->end_offset, min_epoch, &len, &why, err,
                                errsz);
        if (!b && !why)
            return -1;
        if (!b) {
            *cut = 1;
            if (kraft_lg_cut_tail(log, i, fd, pos, size, why, err, errsz) < 0)
                return -1;
            break;
        }
        batch_hdr_t h;
        kraft_lg_parse_hdr(b, &h);
        free(b);
        if (kraft_lg_note_epoch(log, h.epoch, h.base_offset) < 0) {
            snprintf(err, errsz, "out of memory");
            return -1;
        }
        log->end_offset = h.base_offset + h.record_count;
        pos += (int64_t)len;
    }
    log->segs[i].size = pos;
    return 0;
}

int kraft_lg_open_segment(kraft_log_t *log, int64_t base, int flags, char *err, size_t errsz)
{
    char *p = kraft_lg_seg_path(log, base);
    if (!p) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    int fd = open(p, flags | O_CLOEXEC, 0644);
    if (fd < 0)
        snprintf(err, errsz, "cannot open %s: %s", p, strerror(errno));
    free(p);
    return fd;
}

/* ---- open / close ------------------------------------------------------------ */

int kraft_log_open(kraft_log_t *log, const char *dir, int64_t segment_bytes, char *err,
                   size_t errsz)
{
    return kraft_log_open_from(log, dir, segment_bytes, -1, err, errsz);
}

int kraft_log_open_from(kraft_log_t *log, const char *dir, int64_t segment_bytes,
                        int64_t snapshot_end, char *err, size_t errsz)
{
    memset(log, 0, sizeof *log);
    log->rc_offset = -1;
    log->fd = log->dir_fd = -1;
    log->segment_bytes = segment_bytes;
    if (kraft_mkdirs(dir, err, errsz) < 0)
        return -1;
    if (!(log->dir = strdup(dir))) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    /* One process per metadata log: two writers would interleave batches. */
    log->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (log->dir_fd < 0) {
        snprintf(err, errsz, "cannot open %s: %s", dir, strerror(errno));
        goto fail;
    }
    if (flock(log->dir_fd, LOCK_EX | LOCK_NB) < 0) {
        snprintf(err, errsz, "cannot lock %s (%s): is another odradekd using it?", dir,
                 strerror(errno));
        goto fail;
    }
    if (list_segments(log, err, errsz) < 0)
        goto fail;
    /* A log trimmed below a snapshot starts where the snapshot took over;
     * without one the whole history is needed to rebuild the image. */
    if (log->nsegs && log->segs[0].base_offset != 0 &&
        (snapshot_end < 0 || log->segs[0].base_offset > snapshot_end)) {
        snprintf(err, errsz,
                 "the metadata log in %s starts at offset %" PRId64
                 ", not 0, and there is no snapshot to start from",
                 dir, log->segs[0].base_offset);
        goto fail;
    }
    log->end_offset = log->nsegs ? log->segs[0].base_offset : snapshot_end > 0 ? snapshot_end : 0;
    for (size_t i = 0; i < log->nsegs; i++) {
        if (log->segs[i].base_offset != log->end_offset) {
            snprintf(err, errsz,
                     "metadata log segment %020" PRId64 ".log in %s should start at offset "
                     "%" PRId64 ": a segment is missing",
                     log->segs[i].base_offset, dir, log->end_offset);
            goto fail;
        }
        int fd = kraft_lg_open_segment(log, log->segs[i].base_offset, O_RDWR, err, errsz);
        if (fd < 0)
            goto fail;
        int cut;
        int rc = recover_segment(log, i, fd, &cut, err, errsz);
        if (rc < 0) {
            close(fd);
            goto fail;
        }
        if (i + 1 == log->nsegs) { /* also true after a cut */
            log->fd = fd;
            break;
        }
        close(fd);
    }
    if (log->nsegs == 0) {
        if (push_segment(log, log->end_offset) < 0) {
            snprintf(err, errsz, "out of memory");
            goto fail;
        }
        log->fd = kraft_lg_open_segment(log, log->end_offset, O_RDWR | O_CREAT, err, errsz);
        if (log->fd < 0 || kraft_fsync_dir(dir, err, errsz) < 0)
            goto fail;
    }
    log->synced_end = log->end_offset; /* recovered bytes are on disk */
    log->unsynced_pos = -1;
    return 0;
fail:
    kraft_log_close(log);
    return -1;
}

void kraft_log_close(kraft_log_t *log)
{
    if (log->fd >= 0)
        close(log->fd);
    if (log->dir_fd >= 0)
        close(log->dir_fd); /* drops the flock */
    free(log->segs);
    free(log->epochs);
    free(log->dir);
    memset(log, 0, sizeof *log);
    log->fd = log->dir_fd = -1;
}

/* ---- append ------------------------------------------------------------------- */

static size_t record_size(int32_t delta, const od_meta_record_t *key,
                          const od_meta_record_t *val, size_t *body_out)
{
    size_t body = 1 + 1 + kraft_varint_size(delta); /* attributes, tsDelta 0, delta */
    body += key && key->data ? kraft_varint_size((int64_t)key->len) + key->len : 1;
    body += val->data ? kraft_varint_size((int64_t)val->len) + val->len : 1;
    body += 1; /* no headers */
    *body_out = body;
    return kraft_varint_size((int64_t)body) + body;
}

uint8_t *kraft_lg_encode_batch(int64_t base, int32_t epoch, int control,
                             const od_meta_record_t *keys, const od_meta_record_t *values,
                             size_t n, int64_t now_ms, size_t *len_out, char *err, size_t errsz)
{
    size_t total = KRAFT_BATCH_HEADER, body;
    for (size_t i = 0; i < n; i++) {
        const od_meta_record_t *k = keys ? &keys[i] : NULL;
        if (values[i].len > (size_t)INT32_MAX || (k && k->len > (size_t)INT32_MAX) ||
            total > (size_t)KRAFT_MAX_BATCH_BYTES) {
            total = (size_t)KRAFT_MAX_BATCH_BYTES + 1;
            break;
        }
        total += record_size((int32_t)i, k, &values[i], &body);
    }
    if (total > (size_t)KRAFT_MAX_BATCH_BYTES) {
        snprintf(err, errsz, "%zu metadata records do not fit in one %d-byte batch", n,
                 KRAFT_MAX_BATCH_BYTES);
        return NULL;
    }
    uint8_t *b = malloc(total);
    if (!b) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    kraft_put_be64(b, (uint64_t)base);
    kraft_put_be32(b + 8, (uint32_t)(total - 12));
    kraft_put_be32(b + 12, (uint32_t)epoch);
    b[16] = 2;
    kraft_put_be16(b + 21, control ? KRAFT_ATTR_CONTROL : 0);
    kraft_put_be32(b + 23, (uint32_t)(n - 1));
    kraft_put_be64(b + 27, (uint64_t)now_ms); /* baseTimestamp */
    kraft_put_be64(b + 35, (uint64_t)now_ms); /* maxTimestamp */
    kraft_put_be64(b + 43, (uint64_t)-1);     /* producerId */
    kraft_put_be16(b + 51, 0xffff);           /* producerEpoch */
    kraft_put_be32(b + 53, 0xffffffffu);      /* baseSequence */
    kraft_put_be32(b + 57, (uint32_t)n);
    uint8_t *p = b + KRAFT_BATCH_HEADER;
    for (size_t i = 0; i < n; i++) {
        const od_meta_record_t *k = keys ? &keys[i] : NULL;
        record_size((int32_t)i, k, &values[i], &body);
        p += kraft_put_varint(p, (int64_t)body);
        *p++ = 0; /* attributes */
        *p++ = 0; /* timestampDelta */
        p += kraft_put_varint(p, (int64_t)i);
        if (k && k->data) {
            p += kraft_put_varint(p, (int64_t)k->len);
            memcpy(p, k->data, k->len);
            p += k->len;
        } else {
            p += kraft_put_varint(p, -1);
        }
        if (values[i].data) {
            p += kraft_put_varint(p, (int64_t)values[i].len);
            memcpy(p, values[i].data, values[i].len);
            p += values[i].len;
        } else {
            p += kraft_put_varint(p, -1);
        }
        *p++ = 0; /* header count */
    }
    kraft_put_be32(b + 17, od_crc32c(0, b + KRAFT_BATCH_CRC_START, total - KRAFT_BATCH_CRC_START));
    *len_out = total;
    return b;
}

/* Starts a new segment at end_offset. The new file is created before the old
 * one is let go, so a failure leaves the log as it was. */
int kraft_lg_roll(kraft_log_t *log, char *err, size_t errsz)
{
    int fd = kraft_lg_open_segment(log, log->end_offset, O_RDWR | O_CREAT | O_EXCL, err, errsz);
    if (fd < 0)
        return -1;
    if (kraft_fsync_dir(log->dir, err, errsz) < 0)
        goto undo;
    if (push_segment(log, log->end_offset) < 0) {
        snprintf(err, errsz, "out of memory");
        goto undo;
    }
    close(log->fd);
    log->fd = fd;
    return 0;
undo:
    close(fd);
    char *p = kraft_lg_seg_path(log, log->end_offset);
    if (p)
        unlink(p);
    free(p);
    return -1;
}

int kraft_log_write(kraft_log_t *log, int32_t epoch, int control, const od_meta_record_t *keys,
                    const od_meta_record_t *values, size_t n, int64_t now_ms, int64_t *base_out,
                    char *err, size_t errsz)
{
    if (log->nsegs == 0 || log->fd < 0) {
        snprintf(err, errsz, "the metadata log is not open");
        return -1;
    }
    if (log->broken) {
        snprintf(err, errsz, "the metadata log is unusable after a failed write; restart");
        return -1;
    }
    if (n == 0 || n > (size_t)INT32_MAX || epoch < 0 ||
        (log->nepochs && epoch < log->epochs[log->nepochs - 1].epoch)) {
        snprintf(err, errsz, "invalid append (%zu records, epoch %" PRId32 ")", n, epoch);
        return -2;
    }
    size_t len;
    uint8_t *b = kraft_lg_encode_batch(log->end_offset, epoch, control, keys, values, n, now_ms, &len,
                              err, errsz);
    if (!b)
        return -2;
    kraft_segment_t *seg = &log->segs[log->nsegs - 1];
    if (seg->size > 0 && seg->size + (int64_t)len > log->segment_bytes) {
        /* Unsynced batches stay in the active segment: sync them before it
         * is let go (a failure there fails them, and this batch). */
        if (kraft_log_sync(log, err, errsz) < 0 || kraft_lg_roll(log, err, errsz) < 0) {
            free(b);
            return -1;
        }
        seg = &log->segs[log->nsegs - 1];
    }
    int64_t at = seg->size;
    if (kraft_lg_pwrite(log->fd, b, len, at) < 0) {
        char *p = kraft_lg_seg_path(log, seg->base_offset);
        snprintf(err, errsz, "cannot write the metadata log %s at byte %" PRId64 ": %s",
                 p ? p : log->dir, at, strerror(errno));
        free(p);
        free(b);
        /* Take back whatever part of the batch reached the file, so the next
         * append starts at a batch boundary. */
        if (ftruncate(log->fd, at) < 0) {
            od_logf(OD_LOG_ERROR, "kraft: cannot truncate the metadata log back: %s",
                    strerror(errno));
            log->broken = 1;
        }
        return -1;
    }
    free(b);
    if (log->unsynced_pos < 0) {
        log->unsynced_pos = at;
        log->unsynced_nepochs = log->nepochs;
    }
    seg->size += (int64_t)len;
    *base_out = log->end_offset;
    log->end_offset += (int64_t)n;
    if (kraft_lg_note_epoch(log, epoch, *base_out) < 0) {
        od_logf(OD_LOG_ERROR, "kraft: out of memory recording epoch %" PRId32, epoch);
        log->broken = 1;
    }
    return 0;
}

int kraft_log_sync(kraft_log_t *log, char *err, size_t errsz)
{
    if (log->unsynced_pos < 0)
        return 0;
    if (fdatasync(log->fd) == 0) {
        log->unsynced_pos = -1;
        log->synced_end = log->end_offset;
        log->nsyncs++;
        return 0;
    }
    kraft_segment_t *seg = &log->segs[log->nsegs - 1];
    char *p = kraft_lg_seg_path(log, seg->base_offset);
    snprintf(err, errsz, "cannot fdatasync the metadata log %s (%" PRId64 " records from offset %"
             PRId64 " lost): %s", p ? p : log->dir, log->end_offset - log->synced_end,
             log->synced_end, strerror(errno));
    free(p);
    /* Nothing unsynced counts: take it all back to the last durable batch. */
    if (ftruncate(log->fd, log->unsynced_pos) < 0) {
        od_logf(OD_LOG_ERROR, "kraft: cannot truncate the metadata log back: %s", strerror(errno));
        log->broken = 1;
    }
    seg->size = log->unsynced_pos;
    log->end_offset = log->synced_end;
    log->nepochs = log->unsynced_nepochs;
    log->unsynced_pos = -1;
    return -1;
}

int kraft_log_append(kraft_log_t *log, int32_t epoch, int control, const od_meta_record_t *keys,
                     const od_meta_record_t *values, size_t n, int64_t now_ms, int64_t *base_out,
                     char *err, size_t errsz)
{
    int rc = kraft_log_write(log, epoch, control, keys, values, n, now_ms, base_out, err, errsz);
    if (rc < 0)
        return rc;
    return kraft_log_sync(log, err, errsz);
}

/* ---- reading ----------------------------------------------------------------- */

void kraft_log_cursor_init(const kraft_log_t *log, kraft_log_cursor_t *c)
{
    c->seg = 0;
    c->pos = 0;
    c->offset = log->nsegs ? log->segs[0].base_offset : 0;
}

int kraft_log_read(kraft_log_t *log, kraft_log_cursor_t *c, int64_t end_offset,
                   kraft_record_fn fn, void *arg, char *err, size_t errsz)
{
    int fd = -1, own_fd = 0, rc = 0;
    size_t fd_seg = (size_t)-1;
    while (c->offset < end_offset && c->seg < log->nsegs) {
        kraft_segment_t *seg = &log->segs[c->seg];
        if (c->pos >= seg->size) {
            if (c->seg + 1 >= log->nsegs)
                break;
            c->seg++;
            c->pos = 0;
            continue;
        }
        if (fd_seg != c->seg) {
            if (own_fd)
                close(fd);
            own_fd = c->seg + 1 != log->nsegs;
            fd = own_fd ? kraft_lg_open_segment(log, seg->base_offset, O_RDONLY, err, errsz) : log->fd;
            if (fd < 0) {
                own_fd = 0;
                rc = -1;
                break;
            }
            fd_seg = c->seg;
        }
        const char *why;
        size_t len;
        uint8_t *b = kraft_lg_read_batch(fd, c->pos, seg->size, c->offset, 0, &len, &why, err, errsz);
        if (!b) {
            if (why)
                snprintf(err, errsz, "metadata log segment %020" PRId64 ".log, byte %" PRId64
                         ": %s", seg->base_offset, c->pos, why);
            rc = -1;
            break;
        }
        batch_hdr_t h;
        kraft_lg_parse_hdr(b, &h);
        if (h.base_offset + h.record_count > end_offset) {
            free(b); /* not committed yet */
            break;
        }
        int w = kraft_lg_walk_batch(b, len, fn, arg, &why, err, errsz);
        free(b);
        if (w < 0) {
            rc = -1;
            break;
        }
        c->pos += (int64_t)len;
        c->offset = h.base_offset + h.record_count;
    }
    if (own_fd)
        close(fd);
    return rc;
}

/* ---- epochs -------------------------------------------------------------------- */

int32_t kraft_log_last_epoch(const kraft_log_t *log)
{
    return log->nepochs ? log->epochs[log->nepochs - 1].epoch : -1;
}

int64_t kraft_log_end_offset_for_epoch(const kraft_log_t *log, int32_t epoch,
                                       int32_t *found_epoch)
{
    *found_epoch = -1;
    if (log->nepochs == 0)
        return -1;
    size_t i = log->nepochs;
    while (i > 0 && log->epochs[i - 1].epoch > epoch)
        i--;
    if (i == 0)
        return log->epochs[0].start_offset;
    *found_epoch = log->epochs[i - 1].epoch;
    return i < log->nepochs ? log->epochs[i].start_offset : log->end_offset;
}
