/* kraft_log_repl.c - what Raft replication needs from the metadata log:
 * the leader copies whole batches out for its followers' Fetch requests
 * (kraft_log_read_raw), a follower appends the leader's batches as they are
 * (kraft_log_append_raw) and cuts a tail that diverges from the leader's
 * log (kraft_log_truncate). */
#include "kraft_log_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The segment that holds `offset`: the last one starting at or before it. */
static size_t seg_of(const kraft_log_t *log, int64_t offset)
{
    size_t i = log->nsegs;
    while (i > 1 && log->segs[i - 1].base_offset > offset)
        i--;
    return i - 1;
}

static int seg_fd(kraft_log_t *log, size_t i, char *err, size_t errsz)
{
    if (i + 1 == log->nsegs)
        return log->fd;
    return kraft_lg_open_segment(log, log->segs[i].base_offset, O_RDONLY, err, errsz);
}

static void seg_fd_done(const kraft_log_t *log, size_t i, int fd)
{
    if (fd >= 0 && i + 1 != log->nsegs)
        close(fd);
}

/* Byte position of the batch starting at `offset` (a scan of batch headers
 * from the segment's start, unless the last read ended there). Returns 0,
 * -1 on an I/O error, -2 when no batch starts there. */
static int locate(kraft_log_t *log, int64_t offset, size_t *seg_out, int64_t *pos_out,
                  char *err, size_t errsz)
{
    if (log->nsegs == 0 || offset < log->segs[0].base_offset || offset > log->end_offset) {
        snprintf(err, errsz, "offset %" PRId64 " is outside the metadata log [%" PRId64
                 ", %" PRId64 "]", offset, log->nsegs ? log->segs[0].base_offset : 0,
                 log->end_offset);
        return -2;
    }
    if (offset == log->end_offset) {
        *seg_out = log->nsegs - 1;
        *pos_out = log->segs[log->nsegs - 1].size;
        return 0;
    }
    if (log->rc_offset == offset && log->rc_seg < log->nsegs) {
        *seg_out = log->rc_seg;
        *pos_out = log->rc_pos;
        if (*pos_out < log->segs[*seg_out].size)
            return 0;
    }
    size_t i = seg_of(log, offset);
    int fd = seg_fd(log, i, err, errsz);
    if (fd < 0)
        return -1;
    int64_t pos = 0, at = log->segs[i].base_offset;
    int rc = -2;
    while (pos + KRAFT_BATCH_HEADER <= log->segs[i].size && at <= offset) {
        uint8_t hb[KRAFT_BATCH_HEADER];
        if (kraft_lg_pread(fd, hb, sizeof hb, pos) != (ssize_t)sizeof hb) {
            snprintf(err, errsz, "cannot read the metadata log: %s", strerror(errno));
            rc = -1;
            break;
        }
        batch_hdr_t h;
        kraft_lg_parse_hdr(hb, &h);
        if (h.base_offset == offset) {
            *seg_out = i;
            *pos_out = pos;
            rc = 0;
            break;
        }
        at = h.base_offset + h.record_count;
        pos += (int64_t)h.batch_length + 12;
    }
    seg_fd_done(log, i, fd);
    if (rc == -2)
        snprintf(err, errsz, "no metadata log batch starts at offset %" PRId64, offset);
    return rc;
}

int kraft_log_read_raw(kraft_log_t *log, int64_t offset, size_t max_bytes, uint8_t **out,
                       size_t *len, char *err, size_t errsz)
{
    size_t seg;
    int64_t pos;
    *out = NULL;
    *len = 0;
    int rc = locate(log, offset, &seg, &pos, err, errsz);
    if (rc < 0)
        return rc;
    uint8_t *buf = NULL;
    size_t total = 0;
    int64_t next = offset;
    while (seg < log->nsegs) {
        if (pos >= log->segs[seg].size) {
            if (seg + 1 >= log->nsegs)
                break;
            seg++;
            pos = 0;
            continue;
        }
        int fd = seg_fd(log, seg, err, errsz);
        if (fd < 0)
            goto fail;
        const char *why;
        size_t blen;
        uint8_t *b = kraft_lg_read_batch(fd, pos, log->segs[seg].size, next, 0, &blen, &why, err,
                                         errsz);
        seg_fd_done(log, seg, fd);
        if (!b) {
            if (why)
                snprintf(err, errsz, "metadata log batch at offset %" PRId64 ": %s", next, why);
            goto fail;
        }
        if (total > 0 && total + blen > max_bytes) {
            free(b);
            break;
        }
        uint8_t *nb = realloc(buf, total + blen);
        if (!nb) {
            free(b);
            snprintf(err, errsz, "out of memory");
            goto fail;
        }
        buf = nb;
        memcpy(buf + total, b, blen);
        total += blen;
        batch_hdr_t h;
        kraft_lg_parse_hdr(b, &h);
        free(b);
        next = h.base_offset + h.record_count;
        pos += (int64_t)blen;
        if (total >= max_bytes)
            break;
    }
    log->rc_offset = next;
    log->rc_seg = seg;
    log->rc_pos = pos;
    *out = buf;
    *len = total;
    return 0;
fail:
    free(buf);
    return -1;
}

int kraft_log_append_raw(kraft_log_t *log, const uint8_t *data, size_t len, char *err,
                         size_t errsz)
{
    if (log->nsegs == 0 || log->fd < 0 || log->broken) {
        snprintf(err, errsz, "the metadata log is not writable");
        return -1;
    }
    /* Check every whole batch before anything is written. */
    size_t ok = 0;
    int nbatches = 0;
    int64_t expect = log->end_offset;
    int32_t min_epoch = kraft_log_last_epoch(log);
    while (len - ok >= KRAFT_BATCH_HEADER) {
        batch_hdr_t h;
        kraft_lg_parse_hdr(data + ok, &h);
        const char *why = kraft_lg_check_hdr(&h, expect);
        size_t blen = (size_t)h.batch_length + 12;
        if (!why && h.epoch < min_epoch)
            why = "leader epoch lower than the log's last";
        if (!why && blen > len - ok)
            break; /* a partial batch at the end: the next fetch brings it */
        if (!why && kraft_lg_walk_batch(data + ok, blen, NULL, NULL, &why, err, errsz) < 0 &&
            !why)
            why = "malformed batch";
        if (why) {
            snprintf(err, errsz, "batch at offset %" PRId64 " from the leader: %s", expect, why);
            return -2;
        }
        expect = h.base_offset + h.record_count;
        min_epoch = h.epoch;
        ok += blen;
        nbatches++;
    }
    if (nbatches == 0)
        return 0;
    kraft_segment_t *seg = &log->segs[log->nsegs - 1];
    if (seg->size > 0 && seg->size + (int64_t)ok > log->segment_bytes) {
        if (kraft_log_sync(log, err, errsz) < 0 || kraft_lg_roll(log, err, errsz) < 0)
            return -1;
        seg = &log->segs[log->nsegs - 1];
    }
    int64_t at = seg->size;
    if (kraft_lg_pwrite(log->fd, data, ok, at) < 0) {
        snprintf(err, errsz, "cannot write the metadata log at byte %" PRId64 ": %s", at,
                 strerror(errno));
        if (ftruncate(log->fd, at) < 0)
            log->broken = 1;
        return -1;
    }
    if (log->unsynced_pos < 0) {
        log->unsynced_pos = at;
        log->unsynced_nepochs = log->nepochs;
    }
    seg->size += (int64_t)ok;
    for (size_t p = 0; p < ok;) {
        batch_hdr_t h;
        kraft_lg_parse_hdr(data + p, &h);
        if (kraft_lg_note_epoch(log, h.epoch, h.base_offset) < 0)
            log->broken = 1;
        p += (size_t)h.batch_length + 12;
    }
    log->end_offset = expect;
    if (kraft_log_sync(log, err, errsz) < 0)
        return -1;
    return nbatches;
}

int kraft_log_truncate(kraft_log_t *log, int64_t offset, char *err, size_t errsz)
{
    if (offset >= log->end_offset)
        return 0;
    if (kraft_log_sync(log, err, errsz) < 0)
        return -1;
    size_t i;
    int64_t pos;
    int rc = locate(log, offset, &i, &pos, err, errsz);
    if (rc < 0)
        return -1;
    if (pos == 0 && i > 0) { /* the whole segment goes: cut at the end of the one before */
        i--;
        pos = log->segs[i].size;
    }
    int active = i + 1 == log->nsegs;
    int fd = active ? log->fd
                    : kraft_lg_open_segment(log, log->segs[i].base_offset, O_RDWR, err, errsz);
    if (fd < 0)
        return -1;
    char why[96];
    snprintf(why, sizeof why, "diverges from the leader's log at offset %" PRId64, offset);
    if (kraft_lg_cut_tail(log, i, fd, pos, log->segs[i].size, why, err, errsz) < 0) {
        if (!active)
            close(fd);
        log->broken = 1;
        return -1;
    }
    if (!active) {
        close(log->fd);
        log->fd = fd;
    }
    log->segs[i].size = pos;
    while (log->nepochs && log->epochs[log->nepochs - 1].start_offset >= offset)
        log->nepochs--;
    log->end_offset = offset;
    if (log->synced_end > offset)
        log->synced_end = offset;
    log->unsynced_pos = -1;
    log->rc_offset = -1;
    return 0;
}

/* ---- start after a snapshot, trimming ---------------------------------------- */

int kraft_log_cursor_at(kraft_log_t *log, int64_t offset, kraft_log_cursor_t *c, char *err,
                        size_t errsz)
{
    size_t seg;
    int64_t pos;
    int rc = locate(log, offset, &seg, &pos, err, errsz);
    if (rc < 0)
        return rc;
    c->seg = seg;
    c->pos = pos;
    c->offset = offset;
    return 0;
}

int64_t kraft_log_start_offset(const kraft_log_t *log)
{
    return log->nsegs ? log->segs[0].base_offset : log->end_offset;
}

int kraft_log_trim(kraft_log_t *log, int64_t offset, char *err, size_t errsz)
{
    size_t drop = 0;
    /* Segment i lies wholly below offset when the next one starts at or
     * below it; the active (last) segment always stays. */
    while (drop + 1 < log->nsegs && log->segs[drop + 1].base_offset <= offset)
        drop++;
    if (drop == 0)
        return 0;
    for (size_t i = 0; i < drop; i++) {
        char *p = kraft_lg_seg_path(log, log->segs[i].base_offset);
        if (!p || (unlink(p) < 0 && errno != ENOENT)) {
            snprintf(err, errsz, "cannot delete metadata log segment %s: %s", p ? p : "?",
                     p ? strerror(errno) : "out of memory");
            free(p);
            drop = i; /* what is gone so far */
            break;
        }
        free(p);
    }
    if (drop == 0)
        return -1;
    memmove(log->segs, log->segs + drop, (log->nsegs - drop) * sizeof log->segs[0]);
    log->nsegs -= drop;
    int64_t start = log->segs[0].base_offset;
    /* Epochs that ended before the new start go; the one in force there
     * now starts at the log start. */
    size_t e = 0;
    while (e + 1 < log->nepochs && log->epochs[e + 1].start_offset <= start)
        e++;
    if (e > 0) {
        memmove(log->epochs, log->epochs + e, (log->nepochs - e) * sizeof log->epochs[0]);
        log->nepochs -= e;
    }
    if (log->nepochs && log->epochs[0].start_offset < start)
        log->epochs[0].start_offset = start;
    log->rc_offset = -1;
    if (kraft_fsync_dir(log->dir, err, errsz) < 0)
        return -1;
    return (int)drop;
}

int kraft_log_reset(kraft_log_t *log, int64_t offset, int32_t epoch, char *err, size_t errsz)
{
    /* The new empty segment first, so that a failure leaves the old log. */
    int fd = kraft_lg_open_segment(log, offset, O_RDWR | O_CREAT | O_TRUNC, err, errsz);
    if (fd < 0)
        return -1;
    for (size_t i = 0; i < log->nsegs; i++) {
        if (log->segs[i].base_offset == offset)
            continue;
        char *p = kraft_lg_seg_path(log, log->segs[i].base_offset);
        if (p && unlink(p) < 0 && errno != ENOENT)
            od_logf(OD_LOG_WARN, "kraft: cannot delete %s: %s", p, strerror(errno));
        free(p);
    }
    close(log->fd);
    log->fd = fd;
    log->segs[0].base_offset = offset;
    log->segs[0].size = 0;
    log->nsegs = 1;
    log->nepochs = 0;
    kraft_lg_note_epoch(log, epoch, offset); /* the snapshot's: Raft compares it */
    log->end_offset = log->synced_end = offset;
    log->unsynced_pos = -1;
    log->rc_offset = -1;
    return kraft_fsync_dir(log->dir, err, errsz);
}
