/* segment_clean.c - log compaction (cleanup.policy=compact), done in small
 * steps on the loop thread.
 *
 * One cleaning round of a log, like Kafka's cleaner:
 *   IDLE  decide whether cleaning is due: the dirty share (bytes from the
 *         cleaner checkpoint on) of the cleanable part of the log exceeds
 *         min.cleanable.dirty.ratio, or the oldest dirty record is older than
 *         max.compaction.lag.ms. The cleanable part ends at the active
 *         segment or at the first segment holding records younger than
 *         min.compaction.lag.ms.
 *   MAP   read the dirty part and record, per key digest, the latest offset
 *         (bounded map: when it is full the round covers only the offsets
 *         mapped so far, "map_end").
 *   CLEAN rewrite the segments below map_end, in groups of consecutive
 *         segments that fit one segment, into "<base>.log.cleaned": a record
 *         stays unless a later record has its key, it has no key, or it is a
 *         tombstone whose batch is older than delete.retention.ms. Batches
 *         keep their base offset, lastOffsetDelta, producer fields and
 *         timestamps; only the records section, length, count and CRC
 *         change, so every offset is preserved. A batch left without records
 *         is dropped (reads skip the gap). Then the group is swapped in:
 *           fdatasync .cleaned (and the raised gap limit, renamed into
 *           place, fsync dir); rename to .swap; fsync dir (commit point);
 *           unlink the group's old files; rename .swap to .log; write the
 *           index files; fsync them and the dir. The syncs run on the
 *           worker thread (segment_bg.c) and the steps wait for them
 *           between stages, so the loop never blocks on the disk.
 *         seg_clean_recover() finishes an interrupted swap at open (.cleaned
 *         files are deleted, .swap files replace the segments they cover).
 *   At the end of the round the checkpoint (first dirty offset = map_end) is
 *   stored in the partition directory.
 *
 * Every step does about budget_bytes of reading and returns; segments are
 * named by base offset between steps (never by pointer), so appends, rolls
 * and retention deleting segments in between are all fine: a round whose
 * segments vanished is abandoned and starts again. */
#include "segment.h"
#include "segment_clean.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CKPT_NAME ".odradek-cleaner-checkpoint"
#define ATTR_CODEC   0x07
#define ATTR_CONTROL 0x20
#define MAX_DECOMPRESSED (256u << 20) /* a bigger records section is kept as is */

enum { PH_IDLE, PH_MAP, PH_CLEAN };
enum { SW_NONE, SW_DATA, SW_CKPT, SW_COMMIT }; /* swap stages, see swap_group */
#define CLEAN_WAIT (-2) /* clean_batch: waiting for the sync worker */

typedef struct seg_cleaner {
    int phase;
    int ckpt_loaded;
    int64_t ckpt;      /* first offset not yet cleaned (cleaner checkpoint) */
    int64_t clean_end; /* first uncleanable offset of this round */
    int64_t map_end;   /* offsets below it are in the map */
    int64_t tomb_before; /* tombstones in batches older than this go */
    seg_cmap_t map;
    int64_t cur_base, cur_pos; /* cursor: segment (by base) and position */
    /* CLEAN: the current group [grp_first, grp_last] by base offsets */
    int64_t next_group;        /* base offset from which the next group starts */
    int64_t grp_first, grp_last;
    seg_segment_t *out;        /* the .cleaned segment being written, or NULL */
    int swap_stage;            /* SW_* */
    int grow_limit;            /* this swap raises the gap limit */
    seg_bg_job_t *job;         /* the stage's syncs on the worker, or NULL */
    uint8_t *buf, *obuf;       /* batch buffers */
    size_t buf_cap, obuf_cap;
} seg_cleaner_t;

static size_t map_slots_max = (size_t)1 << 17;
int seg_clean_test_crash_at;

/* The test hook: pretend to die at point n of a swap. */
static int crash_here(int n, char *err, size_t errsz)
{
    if (seg_clean_test_crash_at != n)
        return 0;
    seg_clean_test_crash_at = 0;
    seg_err(err, errsz, "test crash at swap point %d", n);
    return 1;
}

void seg_clean_set_map_slots(size_t slots) { map_slots_max = slots ? slots : (size_t)1 << 17; }

/* ---- small helpers ------------------------------------------------------- */

static int grow_buf(uint8_t **b, size_t *cap, size_t need)
{
    uint8_t *n;
    if (need <= *cap)
        return 0;
    n = realloc(*b, need);
    if (!n)
        return -1;
    *b = n;
    *cap = need;
    return 0;
}

static void put32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Zigzag varint (records use them); returns bytes used, 0 if malformed. */
static size_t get_varint(const uint8_t *p, const uint8_t *end, int64_t *out)
{
    uint64_t v = 0;
    for (size_t i = 0; i < 10 && p + i < end; i++) {
        v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            return i + 1;
        }
    }
    return 0;
}

/* One record of a records section. */
typedef struct rec {
    const uint8_t *raw; /* the whole record, length varint included */
    size_t raw_len;
    int64_t offset;
    const uint8_t *key; /* NULL for a null key */
    size_t key_len;
    int tombstone; /* null value */
} rec_t;

/* Parse the record at *p; advances *p. Returns 0, -1 if malformed. */
static int next_rec(const uint8_t **pp, const uint8_t *end, int64_t base, rec_t *r)
{
    const uint8_t *p = *pp, *body, *bend;
    int64_t len, v;
    size_t n = get_varint(p, end, &len);
    if (!n || len < 1 || len > end - (p + n))
        return -1;
    body = p + n;
    bend = body + len;
    r->raw = p;
    r->raw_len = n + (size_t)len;
    p = body + 1; /* attributes */
    if (!(n = get_varint(p, bend, &v))) /* timestampDelta */
        return -1;
    p += n;
    if (!(n = get_varint(p, bend, &v)) || v < 0) /* offsetDelta */
        return -1;
    p += n;
    r->offset = base + v;
    if (!(n = get_varint(p, bend, &v)) || v < -1 || v > bend - (p + n))
        return -1;
    p += n;
    r->key = v < 0 ? NULL : p;
    r->key_len = v < 0 ? 0 : (size_t)v;
    p += v < 0 ? 0 : v;
    if (!(n = get_varint(p, bend, &v)) || v < -1 || v > bend - (p + n))
        return -1;
    r->tombstone = v < 0;
    *pp = bend;
    return 0;
}

/* ---- checkpoint ------------------------------------------------------------ */

/* The checkpoint file holds two offsets: the first dirty one (where the
 * next round's map starts) and the gap limit: records were only ever
 * removed below it, so recovery accepts offset gaps there and nowhere else
 * (a gap elsewhere is damage: a lost segment, a corrupt base offset). */
static int ckpt_read(const char *dir, int64_t *ckpt, int64_t *limit)
{
    char path[4096], text[64];
    FILE *f;
    long long a = 0, b = 0;
    snprintf(path, sizeof path, "%s/%s", dir, CKPT_NAME);
    *ckpt = *limit = 0;
    f = fopen(path, "re");
    if (!f)
        return 0;
    if (fgets(text, sizeof text, f) && sscanf(text, "%lld %lld", &a, &b) == 2 && a >= 0 &&
        b >= 0) {
        *ckpt = a;
        *limit = b;
    }
    fclose(f);
    return 0;
}

int64_t seg_clean_gap_limit(const char *dir)
{
    int64_t ckpt, limit;
    ckpt_read(dir, &ckpt, &limit);
    return limit;
}

/* The checkpoint's replacement, written to its .tmp file but not synced
 * or renamed (a swap does both in stages, off the loop thread). */
static int ckpt_write_tmp(const struct od_log *log, int64_t ckpt, int64_t limit, char *err,
                          size_t errsz)
{
    char tmp[4096], text[64];
    int fd, n;
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", log->dir, CKPT_NAME);
    n = snprintf(text, sizeof text, "%lld %lld\n", (long long)ckpt, (long long)limit);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || seg_pwrite_all(fd, text, (size_t)n, 0) < 0) {
        seg_err(err, errsz, "%s: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* Replace the file (tmp, rename) without syncs: losing this update only
 * means re-cleaning clean data. The gap limit, which must be on disk before
 * a swap commits, is made durable by the swap itself. */
static int ckpt_write(const struct od_log *log, int64_t ckpt, int64_t limit, char *err,
                      size_t errsz)
{
    char path[4096], tmp[4096];
    if (ckpt_write_tmp(log, ckpt, limit, err, errsz) < 0)
        return -1;
    snprintf(path, sizeof path, "%s/%s", log->dir, CKPT_NAME);
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", log->dir, CKPT_NAME);
    if (rename(tmp, path) < 0) {
        seg_err(err, errsz, "%s: rename: %s", tmp, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- segments by base offset ------------------------------------------------ */

/* Index of the first segment with base >= b (nsegs if none). */
static size_t seg_at_or_after(const struct od_log *log, int64_t b)
{
    size_t lo = 0, hi = log->nsegs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (log->segs[mid]->base < b)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static seg_segment_t *seg_exact(const struct od_log *log, int64_t b, size_t *idx)
{
    size_t i = seg_at_or_after(log, b);
    if (i >= log->nsegs || log->segs[i]->base != b)
        return NULL;
    if (idx)
        *idx = i;
    return log->segs[i];
}

/* Read the whole batch at pos of s into c->buf. Returns its size, 0 at the
 * end of the segment, -1 on error. The CRC is checked: a damaged batch stops
 * the round rather than being rewritten with a fresh CRC. */
static int64_t read_batch(seg_cleaner_t *c, seg_segment_t *s, int64_t pos, seg_batch_t *b,
                          char *err, size_t errsz)
{
    int64_t sz;
    size_t got = 0;
    char why[256];
    int fd;
    if (pos >= s->size)
        return 0;
    if ((fd = seg_segment_fd(s, err, errsz)) < 0)
        return -1;
    if (seg_read_header(fd, pos, s->size, b, why, sizeof why) < 0) {
        seg_err(err, errsz, "%s.log: %s", s->path, why);
        return -1;
    }
    sz = seg_batch_size(b);
    if (grow_buf(&c->buf, &c->buf_cap, (size_t)sz) < 0) {
        seg_err(err, errsz, "%s.log: out of memory", s->path);
        return -1;
    }
    while (got < (size_t)sz) {
        ssize_t r = pread(fd, c->buf + got, (size_t)sz - got, (off_t)(pos + (int64_t)got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            seg_err(err, errsz, "%s.log: read at %lld: %s", s->path, (long long)pos,
                    r < 0 ? strerror(errno) : "unexpected end of file");
            return -1;
        }
        got += (size_t)r;
    }
    if (od_crc32c(0, c->buf + SEG_CRC_FROM, (size_t)sz - SEG_CRC_FROM) != b->crc) {
        seg_err(err, errsz, "%s.log: CRC mismatch in the batch at position %lld", s->path,
                (long long)pos);
        return -1;
    }
    return sz;
}

/* The records section of the batch in c->buf, decompressed if needed
 * (*dec is then malloc'd, caller frees). Returns 0, -1 if unreadable. */
static int records_of(seg_cleaner_t *c, const seg_batch_t *b, const uint8_t **recs, size_t *len,
                      uint8_t **dec)
{
    int codec = b->attributes & ATTR_CODEC;
    char why[256];
    *dec = NULL;
    *recs = c->buf + SEG_HDR_SIZE;
    *len = (size_t)(seg_batch_size(b) - SEG_HDR_SIZE);
    if (codec == OD_CODEC_NONE)
        return 0;
    if (od_codec_decompress(codec, *recs, *len, MAX_DECOMPRESSED, dec, len, why, sizeof why) < 0) {
        od_logf(OD_LOG_WARN, "segment: cleaner: batch at offset %lld: %s; kept as is",
                (long long)b->base_offset, why);
        return -1;
    }
    *recs = *dec;
    return 0;
}

/* ---- round control ------------------------------------------------------------ */

static void abandon(struct od_log *log, seg_cleaner_t *c)
{
    /* A swap past its commit point keeps its .swap file: recovery
     * finishes it at the next open. Earlier, only .cleaned exists. */
    seg_bg_put(c->job);
    c->job = NULL;
    c->swap_stage = SW_NONE;
    if (c->out) {
        char path[4096];
        seg_segment_file(c->out, ".log.cleaned", path, sizeof path);
        unlink(path);
        seg_segment_free(c->out);
        c->out = NULL;
    }
    seg_cmap_free(&c->map);
    c->phase = PH_IDLE;
    (void)log;
}

void seg_clean_free(struct od_log *log)
{
    seg_cleaner_t *c = log->cleaner;
    if (!c)
        return;
    abandon(log, c);
    free(c->buf);
    free(c->obuf);
    free(c);
    log->cleaner = NULL;
}

/* Is a round due? Sets c->clean_end. */
static int due(struct od_log *log, seg_cleaner_t *c, int64_t now_ms)
{
    const od_log_config_t *cfg = &log->cfg;
    int64_t clean = 0, dirty = 0, est = 0;
    size_t i, first_dirty = log->nsegs;
    c->clean_end = log->segs[log->nsegs - 1]->base;
    for (i = 0; i + 1 < log->nsegs; i++) {
        seg_segment_t *s = log->segs[i];
        if (cfg->min_compaction_lag_ms > 0 && s->idx.max_ts > seg_sat_sub(now_ms, cfg->min_compaction_lag_ms)) {
            c->clean_end = s->base;
            break;
        }
        if (s->next <= c->ckpt) {
            clean += s->size;
        } else {
            if (first_dirty == log->nsegs)
                first_dirty = i;
            dirty += s->size;
        }
    }
    if (dirty == 0 || first_dirty == log->nsegs)
        return 0;
    est = dirty;
    if ((double)dirty / (double)(clean + dirty) > cfg->min_cleanable_dirty_ratio)
        goto yes;
    if (cfg->max_compaction_lag_ms > 0 && cfg->max_compaction_lag_ms < INT64_MAX) {
        seg_segment_t *s = log->segs[first_dirty];
        seg_batch_t b;
        char why[256];
        if (s->size > 0 && seg_segment_fd(s, why, sizeof why) >= 0 &&
            seg_read_header(s->log->fd, 0, s->size, &b, why, sizeof why) == 0 &&
            b.max_timestamp >= 0 && b.max_timestamp < seg_sat_sub(now_ms, cfg->max_compaction_lag_ms))
            goto yes;
    }
    return 0;
yes:
    /* Records are at least 7 bytes: enough slots for every key, capped. */
    if (seg_cmap_init(&c->map, (size_t)(est / 7 + 1), map_slots_max) < 0)
        return -1;
    c->cur_base = log->segs[first_dirty]->base;
    c->cur_pos = 0;
    c->map_end = c->clean_end;
    c->tomb_before = cfg->delete_retention_ms >= 0 ? seg_sat_sub(now_ms, cfg->delete_retention_ms) : INT64_MIN;
    return 1;
}

/* MAP: one batch. Returns bytes consumed, 0 when the phase is over, -1. */
static int64_t map_batch(struct od_log *log, seg_cleaner_t *c, char *err, size_t errsz)
{
    size_t i;
    seg_segment_t *s = seg_exact(log, c->cur_base, &i);
    seg_batch_t b;
    int64_t sz;
    const uint8_t *p, *end;
    uint8_t *dec;
    size_t len;

    if (c->cur_base >= c->clean_end)
        return 0;
    if (!s) { /* retention deleted it meanwhile: start over */
        abandon(log, c);
        return 0;
    }
    sz = read_batch(c, s, c->cur_pos, &b, err, errsz);
    if (sz < 0)
        return -1;
    if (sz == 0) { /* next segment */
        c->cur_base = i + 1 < log->nsegs ? log->segs[i + 1]->base : c->clean_end;
        c->cur_pos = 0;
        return c->cur_base >= c->clean_end ? 0 : 1;
    }
    c->cur_pos += sz;
    if (seg_batch_last(&b) < c->ckpt) /* cleaned before: its keys are settled */
        return sz;
    if ((b.attributes & ATTR_CONTROL) || records_of(c, &b, &p, &len, &dec) < 0)
        return sz;
    end = p + len;
    for (int32_t n = 0; n < b.record_count && p < end; n++) {
        rec_t r;
        uint8_t d[SEG_CMAP_DIGEST];
        if (next_rec(&p, end, b.base_offset, &r) < 0)
            break; /* unreadable records stay: the rewrite keeps the batch */
        if (!r.key)
            continue;
        seg_cmap_digest(r.key, r.key_len, d);
        if (seg_cmap_put(&c->map, d, r.offset) < 0) {
            c->map_end = r.offset; /* full: this round covers less */
            free(dec);
            return 0;
        }
    }
    free(dec);
    return sz;
}

/* Should the record stay? */
static int keep(const seg_cleaner_t *c, const seg_batch_t *b, const rec_t *r)
{
    uint8_t d[SEG_CMAP_DIGEST];
    int64_t latest;
    if (r->offset >= c->map_end)
        return 1;
    if (!r->key)
        return 0; /* as Kafka: a compacted log holds keyed records only */
    seg_cmap_digest(r->key, r->key_len, d);
    latest = seg_cmap_get(&c->map, d);
    if (latest > r->offset)
        return 0;
    if (r->tombstone && b->max_timestamp < c->tomb_before)
        return 0;
    return 1;
}

/* Filter the batch in c->buf into c->obuf. Returns its new size (0: drop,
 * the old size: unchanged, copied), -1 on error. */
static int64_t filter_batch(seg_cleaner_t *c, const seg_batch_t *b, char *err, size_t errsz)
{
    int64_t sz = seg_batch_size(b);
    const uint8_t *p, *end, *section;
    uint8_t *dec, *packed = NULL, *kept;
    size_t len, klen = 0, slen;
    int32_t nkept = 0, n;
    int codec = b->attributes & ATTR_CODEC;
    char why[256];

    if ((b->attributes & ATTR_CONTROL) || records_of(c, b, &p, &len, &dec) < 0)
        goto as_is;
    end = p + len;
    if (grow_buf(&c->obuf, &c->obuf_cap, SEG_HDR_SIZE + len) < 0)
        goto nomem;
    kept = c->obuf + SEG_HDR_SIZE;
    for (n = 0; n < b->record_count && p < end; n++) {
        rec_t r;
        if (next_rec(&p, end, b->base_offset, &r) < 0)
            break;
        if (keep(c, b, &r)) {
            memcpy(kept + klen, r.raw, r.raw_len);
            klen += r.raw_len;
            nkept++;
        }
    }
    if (n != b->record_count || p != end) { /* malformed: do not touch it */
        free(dec);
        goto as_is;
    }
    if (nkept == b->record_count) {
        free(dec);
        goto as_is;
    }
    free(dec);
    if (nkept == 0)
        return 0;
    section = kept;
    slen = klen;
    if (codec != OD_CODEC_NONE) {
        if (od_codec_compress(codec, kept, klen, &packed, &slen, why, sizeof why) < 0) {
            od_logf(OD_LOG_WARN, "segment: cleaner: offset %lld: %s; batch kept as is",
                    (long long)b->base_offset, why);
            goto as_is;
        }
        section = packed;
        if (grow_buf(&c->obuf, &c->obuf_cap, SEG_HDR_SIZE + slen) < 0) {
            free(packed);
            goto nomem;
        }
    }
    memmove(c->obuf + SEG_HDR_SIZE, section, slen);
    free(packed);
    memcpy(c->obuf, c->buf, SEG_HDR_SIZE);
    put32be(c->obuf + 8, (uint32_t)(SEG_HDR_SIZE - SEG_LOG_OVERHEAD + slen));
    put32be(c->obuf + 57, (uint32_t)nkept);
    put32be(c->obuf + 17, od_crc32c(0, c->obuf + SEG_CRC_FROM, SEG_HDR_SIZE - SEG_CRC_FROM + slen));
    return (int64_t)(SEG_HDR_SIZE + slen);
as_is:
    if (grow_buf(&c->obuf, &c->obuf_cap, (size_t)sz) < 0)
        goto nomem;
    memcpy(c->obuf, c->buf, (size_t)sz);
    return sz;
nomem:
    seg_err(err, errsz, "cleaner: out of memory");
    return -1;
}

/* Pick the next group of segments (below map_end, never the active one)
 * and create its .cleaned file. Returns 1, 0 when none is left, -1. */
static int start_group(struct od_log *log, seg_cleaner_t *c, char *err, size_t errsz)
{
    size_t i = seg_at_or_after(log, c->next_group), j;
    int64_t total;
    char path[4096];
    int fd;
    if (i + 1 >= log->nsegs || log->segs[i]->base >= c->map_end)
        return 0;
    j = i;
    total = log->segs[i]->size;
    while (j + 2 < log->nsegs && log->segs[j + 1]->base < c->map_end &&
           total + log->segs[j + 1]->size <= log->cfg.segment_bytes &&
           log->segs[j + 1]->next - 1 - log->segs[i]->base <= INT32_MAX) {
        total += log->segs[j + 1]->size;
        j++;
    }
    c->grp_first = log->segs[i]->base;
    c->grp_last = log->segs[j]->base;
    c->cur_base = c->grp_first;
    c->cur_pos = 0;
    c->out = seg_segment_new(log->dir, c->grp_first);
    if (!c->out) {
        seg_err(err, errsz, "%s: out of memory", log->dir);
        return -1;
    }
    seg_segment_file(c->out, ".log.cleaned", path, sizeof path);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || !(c->out->log = seg_file_new(fd))) {
        seg_err(err, errsz, "%s: %s", path, fd < 0 ? strerror(errno) : "out of memory");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    c->out->size = 0;
    c->out->unsynced = 1; /* written with pwrite below: the swap must fdatasync it */
    return 1;
}

/* The cleaner's job on the sync worker: 0 still running, 1 done, -1 failed.
 * While it runs the step returns and the core calls again on its next
 * round; a short wait here keeps those rounds from spinning. */
static int job_wait(seg_cleaner_t *c, char *err, size_t errsz)
{
    int r = seg_bg_done(c->job, err, errsz);
    if (r == 0) {
        seg_bg_wait(c->job, 1);
        r = seg_bg_done(c->job, err, errsz);
    }
    if (r != 0) {
        seg_bg_put(c->job);
        c->job = NULL;
    }
    return r;
}

/* Queue fdatasync of up to two files (NULL: none) and optionally an fsync
 * of the log directory. */
static int job_start(struct od_log *log, seg_cleaner_t *c, const char *f1, const char *f2,
                     int dir, char *err, size_t errsz)
{
    c->job = seg_bg_job_new();
    if (!c->job) {
        seg_err(err, errsz, "%s: out of memory", log->dir);
        return -1;
    }
    if (f1)
        seg_bg_job_add(c->job, f1, 0);
    if (f2)
        seg_bg_job_add(c->job, f2, 0);
    if (dir)
        seg_bg_job_add(c->job, log->dir, 1);
    seg_bg_submit(c->job, 1);
    return 0;
}

#define SWAP_WAIT 2

/* Swap the finished group in (see the file comment for the order). The
 * durability syncs run on the worker thread (segment_bg.c), never on the
 * loop; each stage starts only once the previous one's syncs are done, so
 * the order on disk is the same as if they had been done here:
 *   SW_NONE  queue fdatasync of .cleaned (and of the new checkpoint's tmp
 *            file when the gap limit grows)
 *   SW_DATA  rename the checkpoint into place, queue the directory fsync
 *   SW_CKPT  the gap limit is durable: rename .cleaned to .swap, queue the
 *            directory fsync (the commit point)
 *   SW_COMMIT committed: unlink the old files, rename .swap to .log, write
 *            the indexes, switch the segments in memory; their syncs are
 *            queued without waiting (recovery rebuilds bad indexes).
 * Returns 0 when swapped (or abandoned), SWAP_WAIT while a sync runs, -1. */
static int swap_group(struct od_log *log, seg_cleaner_t *c, char *err, size_t errsz)
{
    seg_segment_t *out = c->out;
    char cleaned[4096], swap[4096], final[4096], ckpt_tmp[4096];
    size_t i, j;

    seg_segment_file(out, ".log.cleaned", cleaned, sizeof cleaned);
    seg_segment_file(out, ".log.swap", swap, sizeof swap);
    seg_segment_file(out, ".log", final, sizeof final);
    snprintf(ckpt_tmp, sizeof ckpt_tmp, "%s/%s.tmp", log->dir, CKPT_NAME);
    if (c->job) {
        int r = job_wait(c, err, errsz);
        if (r == 0)
            return SWAP_WAIT;
        if (r < 0)
            return -1; /* a .swap left behind is finished by recovery */
    }
    if (!seg_exact(log, c->grp_first, &i) || !seg_exact(log, c->grp_last, &j) || j + 1 >= log->nsegs) {
        /* Retention took segments meanwhile: start over. A committed swap
         * must not bring them back at the next open. */
        if (c->swap_stage == SW_COMMIT)
            unlink(swap);
        abandon(log, c);
        return 0;
    }
    if (c->swap_stage == SW_NONE) {
        seg_index_finalize(log, out);
        c->grow_limit = c->map_end > log->clean_limit; /* gaps below map_end become legal */
        if (c->grow_limit && ckpt_write_tmp(log, c->ckpt, c->map_end, err, errsz) < 0)
            return -1;
        if (job_start(log, c, cleaned, c->grow_limit ? ckpt_tmp : NULL, 0, err, errsz) < 0)
            return -1;
        c->swap_stage = SW_DATA;
        return SWAP_WAIT;
    }
    if (c->swap_stage == SW_DATA) {
        out->unsynced = 0;
        c->swap_stage = SW_CKPT; /* unless the gap limit grows, it is as it was */
        if (c->grow_limit) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", log->dir, CKPT_NAME);
            if (rename(ckpt_tmp, path) < 0) {
                seg_err(err, errsz, "%s: rename: %s", ckpt_tmp, strerror(errno));
                return -1;
            }
            log->clean_limit = c->map_end;
            if (job_start(log, c, NULL, NULL, 1, err, errsz) < 0)
                return -1;
            return SWAP_WAIT;
        }
    }
    if (c->swap_stage == SW_CKPT) {
        if (rename(cleaned, swap) < 0) {
            seg_err(err, errsz, "%s: rename: %s", cleaned, strerror(errno));
            return -1;
        }
        c->swap_stage = SW_COMMIT;
        if (job_start(log, c, NULL, NULL, 1, err, errsz) < 0)
            return -1; /* the .swap is finished by recovery */
        return SWAP_WAIT;
    }
    /* Committed: from here on recovery would finish the swap. */
    c->swap_stage = SW_NONE;
    if (crash_here(1, err, errsz))
        goto crashed;
    for (size_t k = i; k <= j; k++)
        seg_segment_unlink(log->segs[k]);
    if (crash_here(2, err, errsz))
        goto crashed;
    if (rename(swap, final) < 0) {
        /* Left for recovery; the old fds still serve reads until then. */
        seg_err(err, errsz, "%s: rename: %s", swap, strerror(errno));
        c->out = NULL;
        seg_segment_free(out);
        return -1;
    }
    if (crash_here(3, err, errsz))
        goto crashed;
    if (seg_index_write_files(out, err, errsz) < 0)
        od_logf(OD_LOG_WARN, "segment: %s (rebuilt at the next open)", err);
    seg_segment_close_fd(out); /* reopened through the pool when read */
    {
        seg_bg_job_t *jb = seg_bg_job_new();
        char ix[4096];
        if (jb) {
            seg_segment_file(out, ".index", ix, sizeof ix);
            seg_bg_job_add(jb, ix, 0);
            seg_segment_file(out, ".timeindex", ix, sizeof ix);
            seg_bg_job_add(jb, ix, 0);
            seg_bg_job_add(jb, log->dir, 1);
            seg_bg_submit(jb, 0);
        }
    }
    for (size_t k = i; k <= j; k++)
        seg_segment_free(log->segs[k]);
    log->segs[i] = out;
    memmove(&log->segs[i + 1], &log->segs[j + 1], (log->nsegs - j - 1) * sizeof *log->segs);
    log->nsegs -= j - i;
    c->out = NULL;
    c->next_group = out->base + 1;
    od_metrics_add("storage_segment_cleaner_segments_total", (int64_t)(j - i + 1));
    od_logf(OD_LOG_DEBUG, "segment: %s: cleaned %zu segment(s) from offset %lld into %lld bytes",
            log->dir, j - i + 1, (long long)out->base, (long long)out->size);
    return 0;
crashed: /* the files stay as they are; the test reopens a copy */
    c->out = NULL;
    seg_segment_free(out);
    return -1;
}

/* CLEAN: one batch (or one group switch). Returns bytes of work, 0 when the
 * phase is over, -1. */
static int64_t clean_batch(struct od_log *log, seg_cleaner_t *c, char *err, size_t errsz)
{
    size_t i;
    seg_segment_t *s;
    seg_batch_t b;
    int64_t sz, nsz, old_size;

    if (!c->out) {
        int r = start_group(log, c, err, errsz);
        return r <= 0 ? r : 1;
    }
    s = seg_exact(log, c->cur_base, &i);
    if (!s) {
        abandon(log, c);
        return 0;
    }
    sz = read_batch(c, s, c->cur_pos, &b, err, errsz);
    if (sz < 0)
        return -1;
    if (sz == 0) {
        if (c->cur_base < c->grp_last && i + 1 < log->nsegs) {
            c->cur_base = log->segs[i + 1]->base;
            c->cur_pos = 0;
            return 1;
        }
        old_size = s->size; /* s is freed by the swap */
        switch (swap_group(log, c, err, errsz)) {
        case -1:
            return -1;
        case SWAP_WAIT:
            return CLEAN_WAIT;
        default:
            break;
        }
        return c->phase == PH_IDLE ? 0 : old_size + 1;
    }
    c->cur_pos += sz;
    nsz = filter_batch(c, &b, err, errsz);
    if (nsz < 0)
        return -1;
    od_metrics_add("storage_segment_cleaner_read_bytes_total", sz);
    if (nsz > 0) {
        if (seg_pwrite_all(c->out->log->fd, c->obuf, (size_t)nsz, (off_t)c->out->size) < 0) {
            seg_err(err, errsz, "%s.log.cleaned: write: %s", c->out->path, strerror(errno));
            return -1;
        }
        seg_index_add_batch(log, c->out, (int32_t)(seg_batch_last(&b) - c->out->base),
                            (int32_t)c->out->size, nsz, b.max_timestamp);
        c->out->size += nsz;
        c->out->next = seg_batch_last(&b) + 1;
        od_metrics_add("storage_segment_cleaner_written_bytes_total", nsz);
    }
    return sz + nsz;
}

int seg_clean_step(struct od_log *log, int64_t now_ms, int64_t budget, char *err, size_t errsz)
{
    seg_cleaner_t *c = log->cleaner;
    int64_t start = log->segs[0]->base, end = log->segs[log->nsegs - 1]->next;

    if (!(log->cfg.cleanup_policy & OD_CLEANUP_COMPACT)) {
        if (c)
            abandon(log, c);
        return 0;
    }
    if (!c) {
        c = log->cleaner = calloc(1, sizeof *c);
        if (!c) {
            seg_err(err, errsz, "%s: out of memory", log->dir);
            return -1;
        }
    }
    if (!c->ckpt_loaded) {
        int64_t limit;
        ckpt_read(log->dir, &c->ckpt, &limit);
        c->ckpt_loaded = 1;
    }
    if (c->ckpt < start || c->ckpt > end) /* retention or a cut tail */
        c->ckpt = start;
    if (budget < 1)
        budget = 1;
    while (budget > 0) {
        int64_t w = 0;
        switch (c->phase) {
        case PH_IDLE: {
            int d = due(log, c, now_ms);
            if (d < 0) {
                seg_err(err, errsz, "%s: out of memory for the cleaner map", log->dir);
                return -1;
            }
            if (d == 0)
                return 0;
            c->phase = PH_MAP;
            continue;
        }
        case PH_MAP:
            w = map_batch(log, c, err, errsz);
            if (w == 0 && c->phase == PH_IDLE)
                continue; /* abandoned */
            if (w == 0) {
                if (c->map_end <= c->ckpt) {
                    seg_err(err, errsz, "%s: cleaner map too small for one record", log->dir);
                    abandon(log, c);
                    return -1;
                }
                c->phase = PH_CLEAN;
                c->next_group = log->segs[0]->base;
                continue;
            }
            break;
        case PH_CLEAN:
            w = clean_batch(log, c, err, errsz);
            if (w == CLEAN_WAIT)
                return 1; /* a sync of the swap is running: come back later */
            if (w == 0 && c->phase == PH_CLEAN && !c->out) { /* round complete */
                c->ckpt = c->map_end;
                od_metrics_add("storage_segment_cleaner_rounds_total", 1);
                if (ckpt_write(log, c->ckpt, log->clean_limit, err, errsz) < 0)
                    od_logf(OD_LOG_WARN, "segment: cleaner checkpoint: %s", err);
                abandon(log, c);
                continue;
            }
            if (w == 0) /* abandoned: try again from the start */
                continue;
            break;
        }
        if (w < 0) {
            abandon(log, c);
            return -1;
        }
        budget -= w;
    }
    return 1;
}

/* ---- recovery --------------------------------------------------------------- */

/* "<20 digits><ext>" -> base offset, or -1. */
static int64_t name_base(const char *name, const char *ext)
{
    int64_t v = 0;
    for (int i = 0; i < SEG_NAME_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9')
            return -1;
        v = v * 10 + (name[i] - '0');
    }
    return strcmp(name + SEG_NAME_DIGITS, ext) == 0 ? v : -1;
}

/* Last offset in a .swap file (its batches were fdatasync'ed before the
 * rename, so a structural walk is enough); base - 1 when it is empty. */
static int64_t swap_last(const char *path, int64_t base)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int64_t pos = 0, last = base - 1, size;
    seg_batch_t b;
    char why[256];
    if (fd < 0)
        return last;
    size = lseek(fd, 0, SEEK_END);
    while (pos < size && seg_read_header(fd, pos, size, &b, why, sizeof why) == 0) {
        last = seg_batch_last(&b);
        pos += seg_batch_size(&b);
    }
    close(fd);
    return last;
}

static void unlink_segment(const char *dir, int64_t base)
{
    static const char *const exts[] = {".log", ".index", ".timeindex"};
    char path[4096];
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%020lld%s", dir, (long long)base, exts[i]);
        unlink(path);
    }
}

/* The first "<base>.log.swap" in dir, or -1. */
static int64_t find_swap(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int64_t v = -1;
    while (d && (de = readdir(d)) != NULL)
        if ((v = name_base(de->d_name, ".log.swap")) >= 0)
            break;
    if (d)
        closedir(d);
    return v;
}

int seg_clean_recover(const char *dir, char *err, size_t errsz)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int64_t base;
    int changed = 0;

    if (!d) {
        seg_err(err, errsz, "%s: opendir: %s", dir, strerror(errno));
        return -1;
    }
    /* Output of a round that never reached its commit point. */
    while ((de = readdir(d)) != NULL) {
        char path[4096];
        if (name_base(de->d_name, ".log.cleaned") < 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        od_logf(OD_LOG_INFO, "segment: %s: removing an unfinished cleaner output", path);
        unlink(path);
        changed = 1;
    }
    closedir(d);
    /* Committed swaps: finish them. */
    while ((base = find_swap(dir)) >= 0) {
        char swap[4096], final[4096];
        int64_t last;
        snprintf(swap, sizeof swap, "%s/%020lld.log.swap", dir, (long long)base);
        snprintf(final, sizeof final, "%s/%020lld.log", dir, (long long)base);
        last = swap_last(swap, base);
        /* The replaced segments: every one whose base lies in [base, last]. */
        d = opendir(dir);
        while (d && (de = readdir(d)) != NULL) {
            int64_t v = name_base(de->d_name, ".log");
            if (v > base && v <= last)
                unlink_segment(dir, v);
        }
        if (d)
            closedir(d);
        unlink_segment(dir, base);
        od_logf(OD_LOG_INFO, "segment: %s: completing an interrupted cleaner swap", swap);
        if (rename(swap, final) < 0) {
            seg_err(err, errsz, "%s: rename: %s", swap, strerror(errno));
            return -1;
        }
        changed = 1;
    }
    if (changed)
        seg_fsync_dir(dir);
    return 0;
}
