/* test_retention.c - the log lifecycle ops of the storage backends:
 * advance_start (reads below the start fail, whole segments go, the start
 * survives a reopen, offsets continue), delayed deletion and crash
 * leftovers, retention by time and by size on many small segments (the
 * active segment included), put_state/get_state (atomic replacement,
 * names, reopen), and the same ops of the memory backend. Linked with the
 * segment store's sources, the memory module and the core library. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../modules/storage_segment/segment.h"
#include "od_module.h"
#include "tap.h"

void od_logging_set_level(int level);

static char root[256];
static int dirno;

/* ---- batches --------------------------------------------------------------- */

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static void be64(uint8_t *p, uint64_t v)
{
    be32(p, (uint32_t)(v >> 32));
    be32(p + 4, (uint32_t)v);
}

/* One batch of one record (a 40-byte value) at `base` with timestamp ts:
 * 61 + 47 = 108 bytes, always the same size. */
#define BATCH_LEN 108
static size_t mk_batch(uint8_t *out, int64_t base, int64_t ts)
{
    size_t pos = SEG_HDR_SIZE;
    uint8_t *rec = out + pos;
    /* record: length 46 (zigzag 92), attrs, ts delta 0, offset delta 0,
     * key -1 (zigzag 1), value length 40 (zigzag 80), value, 0 headers */
    size_t n = 0;
    rec[n++] = 92;
    rec[n++] = 0;
    rec[n++] = 0;
    rec[n++] = 0;
    rec[n++] = 1;
    rec[n++] = 80;
    for (int i = 0; i < 40; i++)
        rec[n++] = (uint8_t)(base + i);
    rec[n++] = 0;
    pos += n;
    be64(out, (uint64_t)base);
    be32(out + 8, (uint32_t)(pos - 12));
    be32(out + 12, 0);
    out[16] = 2;
    out[21] = out[22] = 0;
    be32(out + 23, 0);
    be64(out + 27, (uint64_t)ts);
    be64(out + 35, (uint64_t)ts);
    be64(out + 43, (uint64_t)-1);
    out[51] = out[52] = 0xff;
    be32(out + 53, (uint32_t)-1);
    be32(out + 57, 1);
    be32(out + 17, od_crc32c(0, out + 21, pos - 21));
    return pos;
}

/* ---- the segment store ------------------------------------------------------ */

static od_log_config_t cfg_of(int64_t seg_bytes, int64_t ret_ms, int64_t ret_bytes,
                              int64_t policy, int64_t delay)
{
    od_log_config_t c;
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    c.segment_bytes = seg_bytes;
    c.segment_ms = 604800000;
    c.index_interval_bytes = 4096;
    c.segment_index_bytes = 10485760;
    c.flush_messages = INT64_MAX;
    c.flush_ms = INT64_MAX;
    c.retention_ms = ret_ms;
    c.retention_bytes = ret_bytes;
    c.cleanup_policy = policy;
    c.file_delete_delay_ms = delay;
    return c;
}

static char *new_dir(char *buf, size_t n)
{
    snprintf(buf, n, "%s/p-%d", root, ++dirno);
    return buf;
}

static od_log_t *open_log(const char *dir, const od_log_config_t *c)
{
    char err[512] = "";
    od_log_t *log = NULL;
    if (seg_log_open(dir, c, &log, err, sizeof err) < 0)
        tap_diag("open %s: %s", dir, err);
    return log;
}

static int append_ts(od_log_t *log, int64_t ts)
{
    uint8_t b[BATCH_LEN + 8];
    char err[512] = "";
    size_t len = mk_batch(b, seg_log_end_offset(log), ts);
    if (seg_log_append(log, b, len, od_mono_ms(), err, sizeof err) < 0) {
        tap_diag("append: %s", err);
        return -1;
    }
    return 0;
}

/* Files in dir ending in `suffix`. */
static int count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    size_t sl = strlen(suffix);
    if (!d)
        return -1;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l >= sl && strcmp(de->d_name + l - sl, suffix) == 0)
            n++;
    }
    closedir(d);
    return n;
}

/* Does a read at off succeed, and does it start with the batch holding off? */
static int read_ok(od_log_t *log, int64_t off)
{
    od_log_read_t r;
    char err[512];
    uint8_t hdr[8];
    int ok;
    if (seg_log_read(log, off, 1, &r, err, sizeof err) < 0)
        return 0;
    ok = r.nranges > 0 && pread(r.ranges[0].fd, hdr, 8, r.ranges[0].file_off) == 8;
    if (ok) {
        int64_t base = 0;
        for (int i = 0; i < 8; i++)
            base = base << 8 | hdr[i];
        ok = base == off; /* one record per batch */
    }
    for (size_t i = 0; i < r.nranges; i++)
        r.ranges[i].release(r.ranges[i].opaque);
    return ok;
}

static void test_advance_start(void)
{
    char dir[300], err[512];
    /* 3 batches per segment: 20 batches -> segments at 0,3,6,...,18 */
    od_log_config_t c = cfg_of(3 * BATCH_LEN, -1, -1, OD_CLEANUP_DELETE, 0);
    od_log_t *log = open_log(new_dir(dir, sizeof dir), &c);
    int bad = 0;
    if (!log) {
        tap_ok(0, "advance_start: open");
        return;
    }
    for (int i = 0; i < 20; i++)
        bad |= append_ts(log, od_now_ms());
    tap_ok(!bad && log->nsegs == 7, "20 batches in 7 segments (%zu)", log->nsegs);
    tap_is_int(seg_log_advance_start(log, 7, err, sizeof err), 0, "advance_start(7)");
    tap_is_int(seg_log_start_offset(log), 7, "start offset is 7");
    tap_ok(!read_ok(log, 6) && read_ok(log, 7) && read_ok(log, 19), "read below 7 fails, 7 and 19 work");
    tap_is_int(log->segs[0]->base, 6, "segments wholly below 7 deleted (first base 6)");
    tap_is_int(count_files(dir, ".log"), 5, "5 .log files left");
    tap_is_int(seg_log_advance_start(log, 5, err, sizeof err), 0, "an older start is a no-op");
    tap_is_int(seg_log_start_offset(log), 7, "start stays 7");
    tap_ok(seg_log_advance_start(log, 21, err, sizeof err) < 0, "a start past the end fails (%s)", err);
    seg_log_close(log);

    log = open_log(dir, &c);
    tap_ok(log && seg_log_start_offset(log) == 7 && !read_ok(log, 6) && read_ok(log, 7),
           "reopened: start 7 kept, reads below fail");
    if (!log)
        return;
    tap_is_int(append_ts(log, od_now_ms()), 0, "append after reopen");
    tap_is_int(seg_log_end_offset(log), 21, "offsets continue at 21");
    tap_is_int(seg_log_advance_start(log, 21, err, sizeof err), 0, "advance_start to the end");
    tap_ok(seg_log_start_offset(log) == 21 && log->nsegs == 1, "start 21, one segment left (%zu)",
           log->nsegs);
    tap_ok(!read_ok(log, 20), "read of 20 fails");
    seg_log_close(log);
    log = open_log(dir, &c);
    tap_ok(log && seg_log_start_offset(log) == 21 && seg_log_end_offset(log) == 21,
           "reopened: start = end = 21");
    if (log) {
        append_ts(log, od_now_ms());
        tap_ok(seg_log_end_offset(log) == 22 && read_ok(log, 21), "next append gets offset 21");
        seg_log_close(log);
    }
}

static void test_delayed_delete(void)
{
    char dir[300], err[512], path[400];
    od_log_config_t c = cfg_of(2 * BATCH_LEN, -1, -1, OD_CLEANUP_DELETE, 60000);
    od_log_t *log = open_log(new_dir(dir, sizeof dir), &c);
    int fd;
    if (!log) {
        tap_ok(0, "delayed: open");
        return;
    }
    for (int i = 0; i < 8; i++)
        append_ts(log, od_now_ms());
    tap_is_int(seg_log_advance_start(log, 4, err, sizeof err), 0, "advance_start(4) with a delay");
    tap_ok(count_files(dir, ".log.deleted") == 2 && count_files(dir, ".index.deleted") == 2,
           "two segments renamed to *.deleted");
    seg_log_tick(log, od_mono_ms() + 1000);
    tap_is_int(count_files(dir, ".deleted"), 6, "not yet due: still there");
    seg_log_tick(log, od_mono_ms() + 61000);
    tap_is_int(count_files(dir, ".deleted"), 0, "due: unlinked by the tick");
    tap_is_int(seg_log_advance_start(log, 6, err, sizeof err), 0, "advance_start(6)");
    seg_log_close(log); /* a leftover that a crash would leave too */
    snprintf(path, sizeof path, "%s/00000000000000000002.log.deleted", dir);
    fd = open(path, O_WRONLY | O_CREAT, 0644);
    if (fd >= 0)
        close(fd);
    log = open_log(dir, &c);
    tap_ok(log && count_files(dir, ".deleted") == 0 && seg_log_start_offset(log) == 6,
           "reopen removes *.deleted leftovers, start 6 kept");
    if (log)
        seg_log_close(log);

    /* A crash after the checkpoint but before the deletion: segments below
     * the stored start are removed at open. */
    log = open_log(new_dir(dir, sizeof dir), &c);
    if (!log)
        return;
    for (int i = 0; i < 8; i++)
        append_ts(log, od_now_ms());
    seg_log_close(log);
    snprintf(path, sizeof path, "%s/log-start-offset", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        if (write(fd, "5\n", 2) != 2)
            tap_diag("write failed");
        close(fd);
    }
    log = open_log(dir, &c);
    tap_ok(log && seg_log_start_offset(log) == 5 && log->segs[0]->base == 4 &&
               count_files(dir, ".log") == 2,
           "open with a checkpoint ahead of the segments: start 5, segments below it gone");
    if (log)
        seg_log_close(log);
}

static void test_retention_time(void)
{
    char dir[300], err[512];
    int64_t now = od_now_ms(), old = now - 100000;
    od_log_config_t c = cfg_of(3 * BATCH_LEN, 50000, -1, OD_CLEANUP_DELETE, 0);
    od_log_t *log = open_log(new_dir(dir, sizeof dir), &c);
    if (!log) {
        tap_ok(0, "retention time: open");
        return;
    }
    /* segments: [0-2 old] [3-5 old] [6-8 old,old,new] [9-11 new] [12-13 new] */
    for (int i = 0; i < 8; i++)
        append_ts(log, old);
    for (int i = 0; i < 6; i++)
        append_ts(log, now);
    tap_is_int(log->nsegs, 5, "5 segments");
    c.cleanup_policy = OD_CLEANUP_COMPACT;
    seg_log_reconfigure(log, &c);
    tap_is_int(seg_log_enforce_retention(log, now, err, sizeof err), 0,
               "compact-only policy: nothing deleted");
    c.cleanup_policy = OD_CLEANUP_DELETE | OD_CLEANUP_COMPACT;
    c.retention_ms = -1;
    seg_log_reconfigure(log, &c);
    tap_is_int(seg_log_enforce_retention(log, now, err, sizeof err), 0,
               "retention.ms -1: nothing deleted");
    c.retention_ms = 50000;
    seg_log_reconfigure(log, &c);
    tap_is_int(seg_log_enforce_retention(log, now, err, sizeof err), 2,
               "two wholly old segments deleted");
    tap_ok(seg_log_start_offset(log) == 6 && !read_ok(log, 5) && read_ok(log, 6),
           "start 6; the mixed segment stays");
    tap_is_int(seg_log_enforce_retention(log, now, err, sizeof err), 0, "again: nothing");
    tap_is_int(seg_log_enforce_retention(log, now + 60000, err, sizeof err), 3,
               "a minute later everything is due (active segment rolled and deleted)");
    tap_ok(seg_log_start_offset(log) == 14 && seg_log_end_offset(log) == 14 && log->nsegs == 1 &&
               log->segs[0]->base == 14 && log->segs[0]->size == 0,
           "start = end = 14, one empty segment at 14");
    tap_is_int(seg_log_enforce_retention(log, now + 60000, err, sizeof err), 0,
               "an empty active segment is never due");
    append_ts(log, now);
    tap_ok(seg_log_end_offset(log) == 15 && read_ok(log, 14), "offsets continue at 14");
    seg_log_close(log);
    log = open_log(dir, &c);
    tap_ok(log && seg_log_start_offset(log) == 14 && seg_log_end_offset(log) == 15,
           "reopened: [14, 15)");
    if (log)
        seg_log_close(log);
}

static void test_retention_size(void)
{
    char dir[300], err[512];
    int64_t now = od_now_ms();
    od_log_config_t c = cfg_of(BATCH_LEN, -1, -1, OD_CLEANUP_DELETE, 0);
    od_log_t *log = open_log(new_dir(dir, sizeof dir), &c);
    if (!log) {
        tap_ok(0, "retention size: open");
        return;
    }
    for (int i = 0; i < 10; i++)
        append_ts(log, now);
    tap_ok(log->nsegs == 10 && seg_log_size(log) == 10 * BATCH_LEN, "10 one-batch segments");
    c.retention_bytes = 3 * BATCH_LEN + BATCH_LEN / 2;
    seg_log_reconfigure(log, &c);
    tap_is_int(seg_log_enforce_retention(log, now, err, sizeof err), 6,
               "retention.bytes 3.5 segments: 6 deleted");
    tap_ok(seg_log_size(log) == 4 * BATCH_LEN && seg_log_start_offset(log) == 6,
           "4 segments left, start 6");
    tap_is_int(count_files(dir, ".log"), 4, "4 .log files");
    c.retention_bytes = 4 * BATCH_LEN;
    seg_log_reconfigure(log, &c);
    tap_is_int(seg_log_enforce_retention(log, now, err, sizeof err), 0,
               "exactly at retention.bytes: nothing");
    c.retention_bytes = 0;
    seg_log_reconfigure(log, &c);
    tap_is_int(seg_log_enforce_retention(log, now, err, sizeof err), 4,
               "retention.bytes 0: all 4 deleted");
    tap_ok(seg_log_start_offset(log) == 10 && seg_log_end_offset(log) == 10 && seg_log_size(log) == 0,
           "start = end = 10, nothing stored");
    append_ts(log, now);
    tap_ok(seg_log_end_offset(log) == 11 && read_ok(log, 10), "offsets continue at 10");
    seg_log_close(log);
}

static void test_state(void)
{
    char dir[300], err[512], path[400];
    od_log_config_t c = cfg_of(BATCH_LEN * 4, -1, -1, OD_CLEANUP_DELETE, 0);
    od_log_t *log = open_log(new_dir(dir, sizeof dir), &c);
    void *data = NULL;
    size_t len = 0;
    int fd;
    if (!log) {
        tap_ok(0, "state: open");
        return;
    }
    append_ts(log, od_now_ms());
    tap_is_int(seg_log_get_state(log, "producer-state", &data, &len, err, sizeof err), 0,
               "get_state of a missing state: 0");
    tap_is_int(seg_log_put_state(log, "producer-state", "hello world", 11, err, sizeof err), 0,
               "put_state");
    tap_ok(seg_log_get_state(log, "producer-state", &data, &len, err, sizeof err) == 1 &&
               len == 11 && !memcmp(data, "hello world", 11),
           "get_state returns the bytes");
    free(data);
    tap_is_int(seg_log_put_state(log, "producer-state", "bye", 3, err, sizeof err), 0,
               "put_state replaces");
    tap_ok(seg_log_get_state(log, "producer-state", &data, &len, err, sizeof err) == 1 &&
               len == 3 && !memcmp(data, "bye", 3),
           "the shorter replacement is read back whole");
    free(data);
    tap_is_int(seg_log_put_state(log, "empty.v1", NULL, 0, err, sizeof err), 0, "an empty state");
    tap_ok(seg_log_get_state(log, "empty.v1", &data, &len, err, sizeof err) == 1 && len == 0,
           "reads back as present and empty");
    free(data);
    static const char *const bad[] = {"", ".", "..", "../x", "a/b", "Upper", "sp ace",
                                      "x\n"};
    int refused = 1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        refused &= seg_log_put_state(log, bad[i], "x", 1, err, sizeof err) < 0 &&
                   seg_log_get_state(log, bad[i], &data, &len, err, sizeof err) < 0;
    tap_ok(refused, "bad names refused (%s)", err);
    tap_is_int(count_files(dir, ".tmp"), 0, "no temporary file left");
    /* A crash while writing leaves a .tmp; the old contents stay in force. */
    snprintf(path, sizeof path, "%s/producer-state.state.tmp", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        if (write(fd, "torn", 4) != 4)
            tap_diag("write failed");
        close(fd);
    }
    seg_log_close(log);
    log = open_log(dir, &c);
    tap_ok(log && seg_log_get_state(log, "producer-state", &data, &len, err, sizeof err) == 1 &&
               len == 3 && !memcmp(data, "bye", 3),
           "after reopen (and a torn .tmp) the state is the last complete one");
    free(data);
    tap_ok(log && seg_log_end_offset(log) == 1 && log->nsegs == 1,
           "state files do not disturb recovery");
    if (log) {
        tap_is_int(seg_log_put_state(log, "producer-state", "again", 5, err, sizeof err), 0,
                   "put_state over the torn .tmp");
        seg_log_close(log);
    }
}

/* ---- the memory store (through its registered ops) --------------------------- */

extern const od_module_t od_module; /* memory_module.c */

static void test_memory(void)
{
    od_module_ctx_t ctx;
    char err[512];
    const od_backend_reg_t *reg;
    const od_storage_ops_t *ops;
    od_log_t *log = NULL;
    od_log_config_t c = cfg_of(0, -1, -1, OD_CLEANUP_DELETE, 0);
    uint8_t b[BATCH_LEN + 8];
    od_append_info_t info;
    od_log_read_t rd;
    void *data = NULL;
    size_t len = 0;
    int64_t now = od_now_ms();

    memset(&ctx, 0, sizeof ctx);
    ctx.mod = &od_module;
    ctx.path = "memory";
    ctx.in_init = 1;
    if (od_module.init(&ctx, err, sizeof err) < 0 || !(reg = od_modules_storage("memory"))) {
        tap_ok(0, "memory: init");
        return;
    }
    ops = reg->ops;
    tap_ok(OD_OPS_HAS(ops, advance_start) && OD_OPS_HAS(ops, enforce_retention) &&
               OD_OPS_HAS(ops, put_state) && OD_OPS_HAS(ops, get_state) &&
               !OD_OPS_HAS(ops, compact_step),
           "memory: lifecycle ops present (compact_step NULL)");
    if (ops->open(reg->self, "m-0", &c, &log, err, sizeof err) < 0)
        return;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    for (int i = 0; i < 10; i++) {
        size_t n = mk_batch(b, i, i < 4 ? now - 100000 : now);
        ops->append(log, b, n, &info, err, sizeof err);
    }
    tap_is_int(ops->advance_start(log, 3, err, sizeof err), 0, "memory: advance_start(3)");
    tap_ok(ops->start_offset(log) == 3 && ops->read(log, 2, 100, &rd, err, sizeof err) < 0,
           "memory: start 3, read of 2 fails");
    tap_ok(ops->advance_start(log, 11, err, sizeof err) < 0, "memory: past the end fails");
    c.retention_ms = 50000;
    ops->reconfigure(log, &c);
    tap_is_int(ops->enforce_retention(log, now, err, sizeof err), 1, "memory: one old batch left to go");
    tap_is_int(ops->start_offset(log), 4, "memory: start 4");
    c.retention_ms = -1;
    c.retention_bytes = 2 * BATCH_LEN;
    ops->reconfigure(log, &c);
    tap_is_int(ops->enforce_retention(log, now, err, sizeof err), 4, "memory: by size, 4 batches");
    tap_ok(ops->start_offset(log) == 8 && ops->size_bytes(log) == 2 * BATCH_LEN,
           "memory: start 8, two batches kept");
    c.retention_bytes = 0;
    ops->reconfigure(log, &c);
    ops->enforce_retention(log, now, err, sizeof err);
    tap_ok(ops->start_offset(log) == 10 && ops->end_offset(log) == 10, "memory: all gone, [10, 10)");
    size_t n = mk_batch(b, 10, now);
    tap_ok(ops->append(log, b, n, &info, err, sizeof err) == 0 && ops->end_offset(log) == 11 &&
               ops->start_offset(log) == 10,
           "memory: offsets continue at 10");
    tap_ok(ops->put_state(log, "snap", "abc", 3, err, sizeof err) == 0 &&
               ops->get_state(log, "snap", &data, &len, err, sizeof err) == 1 && len == 3 &&
               !memcmp(data, "abc", 3),
           "memory: put/get_state");
    free(data);
    tap_ok(ops->get_state(log, "none", &data, &len, err, sizeof err) == 0 &&
               ops->put_state(log, "../x", "a", 1, err, sizeof err) < 0,
           "memory: missing state 0, bad name refused");
    ops->close(log);
    ops->stop(reg->self);
    if (od_module.fini)
        od_module.fini(&ctx);
}

/* Client-set extremes: record timestamps at the ends of int64 and
 * retention.ms, segment.ms, flush.ms, file.delete.delay.ms and the
 * compaction lags near INT64_MAX, with clocks at both ends. Built with
 * UBSan (-fno-sanitize-recover), any signed overflow aborts the test. */
static void test_extremes(void)
{
    char dir[300], err[512];
    od_log_config_t c = cfg_of(3 * BATCH_LEN, INT64_MAX, -1, OD_CLEANUP_DELETE, INT64_MAX);
    od_log_t *log;
    int64_t ts_out = 0, v;
    int ok = 1;

    c.segment_ms = INT64_MAX;
    c.flush_ms = INT64_MAX;
    c.segment_jitter_ms = INT64_MAX;
    c.delete_retention_ms = INT64_MAX;
    c.min_compaction_lag_ms = INT64_MAX;
    c.max_compaction_lag_ms = INT64_MAX - 1;
    log = open_log(new_dir(dir, sizeof dir), &c);
    if (!log) {
        tap_ok(0, "extremes: open");
        return;
    }
    /* segments: [5 5 5] [MAX MAX MAX] [MIN+1 MIN+1 MIN+1] [active: 7] */
    for (int i = 0; i < 3; i++)
        ok &= append_ts(log, 5) == 0;
    for (int i = 0; i < 3; i++)
        ok &= append_ts(log, INT64_MAX) == 0;
    for (int i = 0; i < 3; i++)
        ok &= append_ts(log, INT64_MIN + 1) == 0;
    ok &= append_ts(log, 7) == 0;
    tap_ok(ok && log->nsegs == 4, "extremes: 4 segments with timestamps 5, MAX, MIN+1, 7");
    seg_log_tick(log, INT64_MIN);
    seg_log_tick(log, INT64_MAX);
    tap_is_int(log->nsegs, 4, "segment.ms and flush.ms near INT64_MAX: no roll at either clock end");
    tap_is_int(seg_log_enforce_retention(log, INT64_MAX, err, sizeof err), 0,
               "retention.ms INT64_MAX, now INT64_MAX: nothing due");
    tap_is_int(seg_log_enforce_retention(log, INT64_MIN, err, sizeof err), 0,
               "retention.ms INT64_MAX, now INT64_MIN: nothing due");
    c.retention_ms = 0;
    seg_log_reconfigure(log, &c);
    tap_is_int(seg_log_enforce_retention(log, INT64_MIN, err, sizeof err), 0,
               "retention.ms 0, now INT64_MIN: nothing due");
    tap_is_int(seg_log_enforce_retention(log, INT64_MAX, err, sizeof err), 1,
               "retention.ms 0, now INT64_MAX: the first segment is due, the MAX one is not");
    tap_ok(count_files(dir, ".log.deleted") == 1, "file.delete.delay.ms INT64_MAX: renamed");
    seg_log_tick(log, od_mono_ms() + ((int64_t)1 << 50)); /* ~35000 years on */
    tap_ok(count_files(dir, ".log.deleted") == 1, "... and not deleted by a tick");
    v = seg_log_offset_for_time(log, INT64_MAX, &ts_out);
    tap_ok(v == 3 && ts_out == INT64_MAX, "offset_for_time(INT64_MAX) = 3 (got %lld)", (long long)v);
    v = seg_log_offset_for_time(log, INT64_MIN, &ts_out);
    tap_ok(v == 3, "offset_for_time(INT64_MIN) = the start (got %lld)", (long long)v);
    tap_ok(seg_log_advance_start(log, INT64_MAX, err, sizeof err) < 0 &&
               seg_log_advance_start(log, INT64_MIN, err, sizeof err) < 0,
           "advance_start to INT64_MAX or INT64_MIN: refused");
    c.cleanup_policy = OD_CLEANUP_COMPACT;
    seg_log_reconfigure(log, &c);
    tap_ok(seg_clean_step(log, INT64_MIN, 1 << 20, err, sizeof err) >= 0 &&
               seg_clean_step(log, INT64_MAX, 1 << 20, err, sizeof err) >= 0,
           "compaction lags and delete.retention.ms near INT64_MAX at both clock ends");
    c.min_compaction_lag_ms = 0;
    c.max_compaction_lag_ms = 1;
    c.delete_retention_ms = 0;
    c.min_cleanable_dirty_ratio = 0.0;
    seg_log_reconfigure(log, &c);
    tap_ok(seg_clean_step(log, INT64_MIN, 1 << 20, err, sizeof err) >= 0 &&
               seg_clean_step(log, INT64_MAX, 1 << 20, err, sizeof err) >= 0,
           "compaction with small lags at both clock ends");
    seg_log_close(log);
    tap_ok(count_files(dir, ".log.deleted") == 0, "close removes the delayed files");
}

int main(void)
{
    snprintf(root, sizeof root, "/tmp/odtest-retention.XXXXXX");
    if (!mkdtemp(root)) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    if (!getenv("TEST_VERBOSE"))
        od_logging_set_level(OD_LOG_ERROR);
    tap_no_plan();
    test_advance_start();
    test_delayed_delete();
    test_retention_time();
    test_retention_size();
    test_state();
    test_memory();
    test_extremes();
    seg_remove_tree(root);
    return tap_done();
}
