/* test_kraft.c - the kraft module's files: metadata log (append, read,
 * recovery from torn and corrupt tails, segment rolls, locking, write
 * failure), quorum-state, meta.properties and controller.quorum.voters.
 *
 * Linked with the module's sources, core/log/od_crc32c.c and the stand-in
 * core of kraft_fixture.c, not with libodcore, so the module's
 * start/propose/replay glue is tested too. */
#include "kraft_fixture.h"
#include "tap.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *b = malloc(1 << 20);
    *len = fread(b, 1, 1 << 20, f);
    fclose(f);
    return b;
}

static void write_all(const char *path, const void *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(p, 1, len, f);
        fclose(f);
    }
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) < 0 ? -1 : st.st_size;
}

/* ---- records collected by a read ------------------------------------------- */

typedef struct seen {
    int n;
    int64_t offsets[256];
    int32_t epochs[256];
    int control[256];
    char values[256][32];
    int fail_at; /* offset at which the callback fails, -1 never */
} seen_t;

static int collect(void *arg, const kraft_record_t *r, char *err, size_t errsz)
{
    seen_t *s = arg;
    if (r->offset == s->fail_at) {
        snprintf(err, errsz, "refused %lld", (long long)r->offset);
        return -1;
    }
    if (s->n < 256) {
        s->offsets[s->n] = r->offset;
        s->epochs[s->n] = r->epoch;
        s->control[s->n] = r->control;
        snprintf(s->values[s->n], 32, "%.*s", r->value_len < 0 ? 0 : r->value_len,
                 r->value ? (const char *)r->value : "");
    }
    s->n++;
    return 0;
}

static int append_strs(kraft_log_t *log, int32_t epoch, const char **vals, size_t n,
                       int64_t *base)
{
    od_meta_record_t recs[16];
    char err[256];
    for (size_t i = 0; i < n; i++) {
        recs[i].data = (const uint8_t *)vals[i];
        recs[i].len = strlen(vals[i]);
    }
    int rc = kraft_log_append(log, epoch, 0, NULL, recs, n, 1700000000000, base, err, sizeof err);
    if (rc < 0)
        tap_diag("append: %s", err);
    return rc;
}

static void test_varint(void)
{
    int64_t vals[] = {0, 1, -1, 63, -64, 64, 300, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN};
    int ok = 1;
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        uint8_t b[10];
        size_t n = kraft_put_varint(b, vals[i]);
        const uint8_t *p = b;
        int64_t v;
        ok &= n == kraft_varint_size(vals[i]);
        ok &= kraft_get_varint(&p, b + n, 10, &v) == 0 && v == vals[i] && p == b + n;
        p = b;
        ok &= kraft_get_varint(&p, b + n - 1, 10, &v) < 0; /* truncated */
        p = b;
        int r32 = kraft_get_varint(&p, b + n, 5, &v);
        ok &= (vals[i] >= INT32_MIN && vals[i] <= INT32_MAX) ? r32 == 0 : r32 < 0;
    }
    tap_ok(ok, "zig-zag varints round-trip and reject truncation and overflow");
}

static void test_voters(void)
{
    kraft_voter_t v[4];
    size_t n;
    char err[256];
    tap_ok(kraft_parse_voters("1@localhost:9093", v, 4, &n, err, sizeof err) == 0 && n == 1 &&
               v[0].id == 1 && strcmp(v[0].host, "localhost") == 0 && v[0].port == 9093,
           "voters: one voter");
    tap_ok(kraft_parse_voters(" 3@[::1]:19093 , 7@h.example:1", v, 4, &n, err, sizeof err) == 0 &&
               n == 2 && v[0].id == 3 && strcmp(v[0].host, "::1") == 0 && v[0].port == 19093 &&
               v[1].id == 7 && strcmp(v[1].host, "h.example") == 0 && v[1].port == 1,
           "voters: two voters, IPv6 brackets, blanks");
    tap_ok(kraft_parse_voters(NULL, v, 4, &n, err, sizeof err) == 0 && n == 0 &&
               kraft_parse_voters("  ", v, 4, &n, err, sizeof err) == 0 && n == 0,
           "voters: empty means none");
    const char *bad[] = {"x@h:1",        "1@h",     "1@:9",   "1@h:0", "1@h:70000", "1@h:1,1@g:2",
                         "1@h:1,,2@h:2", "1@h:1,",  "-1@h:1", "1h:1",
                         "1@h:1,2@h:2,3@h:3,4@h:4,5@h:5"};
    int ok = 1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        int r = kraft_parse_voters(bad[i], v, 4, &n, err, sizeof err);
        if (r != -1 || !strstr(err, "controller.quorum.voters")) {
            tap_diag("'%s' accepted (%s)", bad[i], err);
            ok = 0;
        }
    }
    tap_ok(ok, "voters: malformed lists are rejected with a message");
}

static void test_qstate(void)
{
    char err[512];
    char *p = kfx_path(kfx_root, "qs");
    kraft_qstate_t qs, back;
    tap_is_int(kraft_qstate_read(p, &qs, err, sizeof err), 0, "quorum-state: missing file");
    tap_ok(qs.leader_epoch == 0 && qs.leader_id == -1 && qs.voted_id == -1,
           "quorum-state: missing means epoch 0, no leader, no vote");
    kraft_qstate_init(&qs);
    qs.leader_id = 1;
    qs.leader_epoch = 3;
    qs.voters[0] = 1;
    qs.nvoters = 1;
    tap_is_int(kraft_qstate_write(p, &qs, err, sizeof err), 0, "quorum-state: write");
    size_t len;
    uint8_t *b = read_all(p, &len);
    const char *want = "{\"clusterId\":\"\",\"leaderId\":1,\"leaderEpoch\":3,\"votedId\":-1,"
                       "\"appliedOffset\":0,\"currentVoters\":[{\"voterId\":1}],\"data_version\":0}";
    tap_ok(b && len == strlen(want) && memcmp(b, want, len) == 0,
           "quorum-state: Kafka's QuorumStateData v0 JSON");
    tap_ok(access(kfx_path(kfx_root, "qs.tmp"), F_OK) != 0, "quorum-state: no tmp file left");
    tap_ok(kraft_qstate_read(p, &back, err, sizeof err) == 1 && back.leader_id == 1 &&
               back.leader_epoch == 3 && back.voted_id == -1 && back.nvoters == 1 &&
               back.voters[0] == 1,
           "quorum-state: read back");
    int ok = 1;
    for (size_t cut = 0; cut < len; cut++) {
        write_all(p, b, cut);
        err[0] = '\0';
        if (kraft_qstate_read(p, &back, err, sizeof err) != -1 || !strstr(err, "corrupt")) {
            tap_diag("prefix of %zu bytes accepted", cut);
            ok = 0;
        }
    }
    tap_ok(ok, "quorum-state: every truncation is reported as corrupt");
    free(b);
    const char *other = " {\n \"votedDirectoryId\": \"AAAAAAAAAAAAAAAAAAAAAA\", \"leaderId\": -1,\n"
                        " \"leaderEpoch\": 12, \"votedId\": 2, \"future\": {\"a\": [1, 2.5e3, "
                        "true, null, \"x\\\"y\"]}, \"data_version\": 1 }\n";
    write_all(p, other, strlen(other));
    tap_ok(kraft_qstate_read(p, &back, err, sizeof err) == 1 && back.leader_epoch == 12 &&
               back.voted_id == 2 && back.leader_id == -1 && back.nvoters == 0,
           "quorum-state: v1 layout, blanks and unknown keys are accepted");
    const char *bad[] = {"{\"leaderId\":1,\"leaderEpoch\":3,\"votedId\":-1,\"data_version\":2}",
                         "{\"leaderId\":1,\"leaderEpoch\":3,\"data_version\":0}",
                         "{\"leaderId\":1,\"leaderEpoch\":3.5,\"votedId\":-1,\"data_version\":0}",
                         "{\"leaderId\":1,\"leaderEpoch\":3,\"votedId\":-1,\"data_version\":0} x",
                         "{\"leaderId\":1,\"leaderEpoch\":99999999999,\"votedId\":-1,\"data_version\":0}",
                         "[]", ""};
    ok = 1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_all(p, bad[i], strlen(bad[i]));
        if (kraft_qstate_read(p, &back, err, sizeof err) != -1) {
            tap_diag("accepted: %s", bad[i]);
            ok = 0;
        }
    }
    tap_ok(ok, "quorum-state: bad versions, missing keys, bad numbers are rejected");
}

static void test_meta_props(void)
{
    char err[512], id[KRAFT_CLUSTER_ID_LEN + 1], id2[KRAFT_CLUSTER_ID_LEN + 1];
    char *dir = kfx_path(kfx_root, "mp");
    int created;
    tap_ok(kraft_mkdirs(kfx_path(dir, "a/b"), err, sizeof err) == 0, "mkdirs -p");
    tap_ok(kraft_meta_props_load(dir, 5, id, &created, err, sizeof err) == 0 && created &&
               strlen(id) == 22 && id[0] != '-' && strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"
                                                             "klmnopqrstuvwxyz0123456789-_") == 22,
           "meta.properties: created with a 22-char base64url cluster id");
    size_t len;
    char *text = (char *)read_all(kfx_path(dir, "meta.properties"), &len);
    tap_ok(text && strstr(text, "version=1\n") && strstr(text, "node.id=5\n") &&
               strstr(text, "cluster.id="),
           "meta.properties: version, cluster.id, node.id");
    free(text);
    tap_ok(kraft_meta_props_load(dir, 5, id2, &created, err, sizeof err) == 0 && !created &&
               strcmp(id, id2) == 0,
           "meta.properties: read back, same cluster id");
    tap_ok(kraft_meta_props_load(dir, 6, id2, &created, err, sizeof err) == -1 &&
               strstr(err, "node.id=5") && strstr(err, "node.id=6"),
           "meta.properties: another node.id is refused");
    const char *other = "#x\nnode.id=5\nversion=0\ncluster.id=abcdefghijklmnopqrstuv\n";
    write_all(kfx_path(dir, "meta.properties"), other, strlen(other));
    tap_ok(kraft_meta_props_load(dir, 5, id2, &created, err, sizeof err) == -1 &&
               strstr(err, "version"),
           "meta.properties: version 0 (ZooKeeper) is refused");
    other = "node.id=5\nversion=1\ncluster.id=short\n";
    write_all(kfx_path(dir, "meta.properties"), other, strlen(other));
    tap_ok(kraft_meta_props_load(dir, 5, id2, &created, err, sizeof err) == -1 &&
               strstr(err, "cluster.id"),

           "meta.properties: bad cluster id is refused");
}

/* A log with batches of 1, 3 and 2 records (epochs 1, 1, 2). */
static const char *vals_a[] = {"a0"};
static const char *vals_b[] = {"b1", "b2", "b3"};
static const char *vals_c[] = {"c4", "c5"};

static void test_log_basic(void)
{
    char err[512];
    char *dir = kfx_path(kfx_root, "log1");
    kraft_log_t log;
    int64_t base;
    tap_ok(kraft_log_open(&log, dir, 1 << 20, err, sizeof err) == 0 && log.end_offset == 0 &&
               file_size(kfx_path(dir, "00000000000000000000.log")) == 0,
           "log: a new log has an empty first segment");
    kraft_log_t other;
    tap_ok(kraft_log_open(&other, dir, 1 << 20, err, sizeof err) == -1 && strstr(err, "lock"),
           "log: a second open of the same directory fails on the lock");
    od_meta_record_t key = {(const uint8_t *)"\0\0\0\2", 4}, val = {(const uint8_t *)"LC", 2};
    tap_ok(kraft_log_append(&log, 1, 1, &key, &val, 1, 1, &base, err, sizeof err) == 0 &&
               base == 0,
           "log: control batch at 0");
    tap_ok(append_strs(&log, 1, vals_b, 3, &base) == 0 && base == 1, "log: 3 records at 1");
    tap_ok(append_strs(&log, 2, vals_c, 2, &base) == 0 && base == 4, "log: 2 records at 4");
    tap_ok(append_strs(&log, 1, vals_a, 1, &base) == -2, "log: an older epoch is refused");
    tap_is_int(log.end_offset, 6, "log: end offset 6");

    seen_t s = {.fail_at = -1};
    kraft_log_cursor_t c;
    kraft_log_cursor_init(&log, &c);
    tap_ok(kraft_log_read(&log, &c, 3, collect, &s, err, sizeof err) == 0 && s.n == 1 &&
               c.offset == 1,
           "log: read up to a mid-batch end stops before that batch");
    tap_ok(kraft_log_read(&log, &c, INT64_MAX, collect, &s, err, sizeof err) == 0 && s.n == 6 &&
               c.offset == 6,
           "log: read the rest");
    int ok = s.control[0] && s.epochs[0] == 1 && strcmp(s.values[0], "LC") == 0;
    const char *want[] = {"LC", "b1", "b2", "b3", "c4", "c5"};
    int32_t wep[] = {1, 1, 1, 1, 2, 2};
    for (int i = 0; i < 6; i++)
        ok &= s.offsets[i] == i && s.epochs[i] == wep[i] && strcmp(s.values[i], want[i]) == 0 &&
              s.control[i] == (i == 0);
    tap_ok(ok, "log: offsets, epochs, values, control flag in order");

    int32_t fe;
    tap_ok(kraft_log_end_offset_for_epoch(&log, 1, &fe) == 4 && fe == 1 &&
               kraft_log_end_offset_for_epoch(&log, 2, &fe) == 6 && fe == 2 &&
               kraft_log_end_offset_for_epoch(&log, 9, &fe) == 6 && fe == 2 &&
               kraft_log_end_offset_for_epoch(&log, 0, &fe) == 0 && fe == -1 &&
               kraft_log_last_epoch(&log) == 2,
           "log: end offset for epoch");
    kraft_log_close(&log);

    tap_ok(kraft_log_open(&log, dir, 1 << 20, err, sizeof err) == 0 && log.end_offset == 6 &&
               log.nepochs == 2 && kfx_warnings == 0,
           "log: reopened cleanly with the same end offset and epochs");
    s.n = 0;
    s.fail_at = 2;
    kraft_log_cursor_init(&log, &c);
    tap_ok(kraft_log_read(&log, &c, INT64_MAX, collect, &s, err, sizeof err) == -1 &&
               strstr(err, "refused 2") && c.offset == 1,
           "log: a failing callback stops the read at its batch");
    od_meta_record_t huge = {(const uint8_t *)"x", (size_t)KRAFT_MAX_BATCH_BYTES};
    tap_ok(kraft_log_append(&log, 2, 0, NULL, &huge, 1, 1, &base, err, sizeof err) == -2 &&
               log.end_offset == 6,
           "log: an oversized batch is refused");
    kraft_log_close(&log);
}

/* Offsets of batch starts in a segment image. */
static void test_log_group_commit(void)
{
    char err[512];
    char dir[600];
    snprintf(dir, sizeof dir, "%s/loggc", kfx_root);
    kraft_log_t log;
    int64_t base, b2;
    od_meta_record_t v = {(const uint8_t *)"x1", 2};
    tap_ok(kraft_log_open(&log, dir, 1 << 20, err, sizeof err) == 0, "gc: open");
    int64_t syncs = log.nsyncs;
    tap_ok(kraft_log_write(&log, 1, 0, NULL, &v, 1, 1, &base, err, sizeof err) == 0 &&
               kraft_log_write(&log, 1, 0, NULL, &v, 1, 1, &b2, err, sizeof err) == 0 &&
               base == 0 && b2 == 1 && log.end_offset == 2 && log.synced_end == 0 &&
               log.nsyncs == syncs,
           "gc: two writes move end_offset, not synced_end, no fdatasync");
    tap_ok(kraft_log_sync(&log, err, sizeof err) == 0 && log.synced_end == 2 &&
               log.nsyncs == syncs + 1,
           "gc: one fdatasync makes both durable");
    tap_ok(kraft_log_sync(&log, err, sizeof err) == 0 && log.nsyncs == syncs + 1,
           "gc: nothing to sync is no fdatasync");
    tap_ok(kraft_log_append(&log, 1, 0, NULL, &v, 1, 1, &base, err, sizeof err) == 0 &&
               base == 2 && log.synced_end == 3 && log.nsyncs == syncs + 2,
           "gc: append is write + sync");
    kraft_log_close(&log);
    tap_ok(kraft_log_open(&log, dir, 1 << 20, err, sizeof err) == 0 && log.end_offset == 3 &&
               log.synced_end == 3,
           "gc: reopened log has all three batches");
    kraft_log_close(&log);
}

static size_t batch_starts(const uint8_t *b, size_t len, size_t *out, size_t max)
{
    size_t n = 0;
    for (size_t pos = 0; pos + 12 <= len && n < max;) {
        out[n++] = pos;
        pos += 12 + kraft_get_be32(b + pos + 8);
    }
    return n;
}

/* Truncating the segment at every byte: the log recovers to the last whole
 * batch, with a warning, and stays appendable. */
static void test_log_torn_tail(void)
{
    char err[512];
    char *dir = kfx_path(kfx_root, "log1"), *seg = kfx_path(dir, "00000000000000000000.log");
    size_t len, starts[8];
    uint8_t *orig = read_all(seg, &len);
    size_t nb = batch_starts(orig, len, starts, 8);
    const int64_t first_offset[] = {0, 1, 4, 6};
    int ok = nb == 3, warned = 1;
    int64_t prev_end = 0;
    starts[nb] = len;
    for (size_t cut = 0; cut <= len && ok; cut++) {
        kraft_log_t log;
        write_all(seg, orig, cut);
        int w = kfx_warnings;
        if (kraft_log_open(&log, dir, 1 << 20, err, sizeof err) < 0) {
            tap_diag("open after cut %zu: %s", cut, err);
            ok = 0;
            continue;
        }
        size_t whole = 0; /* batches entirely below the cut */
        while (whole < nb && starts[whole + 1] <= cut)
            whole++;
        int64_t end = log.end_offset;
        off_t sz = file_size(seg);
        int torn = starts[whole] != cut;
        if (end != first_offset[whole] || sz != (off_t)starts[whole] ||
            (torn ? kfx_warnings == w : kfx_warnings != w)) {
            tap_diag("cut %zu: end %lld size %lld warnings %d", cut, (long long)end,
                     (long long)sz, kfx_warnings - w);
            ok = 0;
        }
        if (torn && !strstr(kfx_last_log, "00000000000000000000.log"))
            warned = 0;
        prev_end = end;
        int64_t base;
        if (append_strs(&log, 3, vals_a, 1, &base) < 0 || base != end)
            ok = 0;
        kraft_log_close(&log);
    }
    tap_ok(ok && prev_end == 6, "log: every truncation recovers to a whole batch, appendable");
    tap_ok(warned, "log: the truncation warning names the segment file");
    write_all(seg, orig, len);
    free(orig);
}

static void corrupt_case(const char *name, size_t batch, size_t at, uint8_t xor_with,
                         int64_t want_end)
{
    char err[512];
    char *dir = kfx_path(kfx_root, "log1"), *seg = kfx_path(dir, "00000000000000000000.log");
    size_t len, starts[8];
    uint8_t *orig = read_all(seg, &len);
    size_t nb = batch_starts(orig, len, starts, 8);
    uint8_t *copy = malloc(len);
    memcpy(copy, orig, len);
    copy[starts[batch] + at] ^= xor_with;
    write_all(seg, copy, len);
    kraft_log_t log;
    int w = kfx_warnings;
    int r = kraft_log_open(&log, dir, 1 << 20, err, sizeof err);
    tap_ok(nb == 3 && r == 0 && log.end_offset == want_end &&
               file_size(seg) == (off_t)starts[batch] && kfx_warnings > w,
           "log: %s is truncated at its batch", name);
    if (r == 0)
        kraft_log_close(&log);
    write_all(seg, orig, len);
    free(orig);
    free(copy);
}

static void test_log_corrupt(void)
{
    corrupt_case("a CRC mismatch", 1, 67, 0x01, 1); /* a value byte */
    corrupt_case("a wrong base offset", 2, 7, 0x01, 4);
    corrupt_case("an epoch going back", 2, 15, 0x02, 4); /* epoch 2 -> 0, after 1 */
    corrupt_case("a bad magic", 1, 16, 0x04, 1);
    corrupt_case("a huge batch length", 1, 8, 0x40, 1);
}

static void test_log_segments(void)
{
    char err[512], dir[512];
    snprintf(dir, sizeof dir, "%s/log2", kfx_root);
    kraft_log_t log;
    int64_t base;
    char big[200];
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    const char *vals[] = {big, big};
    tap_ok(kraft_log_open(&log, dir, 1024, err, sizeof err) == 0, "segments: open");
    int ok = 1;
    for (int i = 0; i < 10; i++)
        ok &= append_strs(&log, 1, vals, 2, &base) == 0 && base == 2 * i;
    tap_ok(ok && log.nsegs >= 4, "segments: rolled at 1024 bytes (%zu segments)", log.nsegs);
    ok = 1;
    for (size_t i = 0; i < log.nsegs; i++) {
        char name[64];
        snprintf(name, sizeof name, "%020lld.log", (long long)log.segs[i].base_offset);
        ok &= file_size(kfx_path(dir, name)) == log.segs[i].size && log.segs[i].size <= 1024;
    }
    tap_ok(ok, "segments: files named by base offset, none above the limit");
    seen_t s = {.fail_at = -1};
    kraft_log_cursor_t c;
    kraft_log_cursor_init(&log, &c);
    ok = kraft_log_read(&log, &c, INT64_MAX, collect, &s, err, sizeof err) == 0 && s.n == 20;
    for (int i = 0; i < 20 && ok; i++)
        ok = s.offsets[i] == i;
    tap_ok(ok, "segments: a read crosses segments in order");
    size_t nsegs = log.nsegs;
    int64_t second = log.segs[1].base_offset;
    kraft_log_close(&log);

    tap_ok(kraft_log_open(&log, dir, 1024, err, sizeof err) == 0 && log.end_offset == 20 &&
               log.nsegs == nsegs,
           "segments: reopened");
    kraft_log_close(&log);

    /* corrupt the first segment's second batch: later segments go */
    char *seg0 = kfx_path(dir, "00000000000000000000.log");
    size_t len, starts[8];
    uint8_t *b = read_all(seg0, &len);
    size_t nb = batch_starts(b, len, starts, 8);
    b[starts[1] + 100] ^= 0xff;
    write_all(seg0, b, len);
    free(b);
    tap_ok(nb >= 2 && kraft_log_open(&log, dir, 1024, err, sizeof err) == 0 && log.nsegs == 1 &&
               log.end_offset == 2,
           "segments: corruption in an early segment removes the later ones");
    char name[64];
    snprintf(name, sizeof name, "%020lld.log", (long long)second);
    tap_ok(access(kfx_path(dir, name), F_OK) != 0, "segments: later segment files are deleted");
    for (int i = 0; i < 5; i++)
        append_strs(&log, 1, vals, 2, &base);
    kraft_log_close(&log);

    /* a missing middle segment is not silently skipped */
    int r = kraft_log_open(&log, dir, 1024, err, sizeof err);
    tap_ok(r == 0 && log.nsegs >= 3 && log.end_offset == 12, "segments: regrown");
    snprintf(name, sizeof name, "%020lld.log", (long long)(r == 0 ? log.segs[1].base_offset : 0));
    if (r == 0)
        kraft_log_close(&log);
    unlink(kfx_path(dir, name));
    r = kraft_log_open(&log, dir, 1024, err, sizeof err);
    tap_ok(r == -1 && strstr(err, "missing"), "segments: a missing segment fails the open");
    if (r == 0)
        kraft_log_close(&log);
    unlink(seg0);
    tap_ok(kraft_log_open(&log, dir, 1024, err, sizeof err) == -1 && strstr(err, "not 0"),
           "segments: a log not starting at 0 fails the open");
}

static void test_log_write_failure(void)
{
    char err[512];
    char *dir = kfx_path(kfx_root, "log3"), *seg = kfx_path(dir, "00000000000000000000.log");
    kraft_log_t log;
    int64_t base;
    tap_ok(kraft_log_open(&log, dir, 1 << 20, err, sizeof err) == 0 &&
               append_strs(&log, 1, vals_b, 3, &base) == 0,
           "write failure: setup");
    off_t before = file_size(seg);
    /* RLIMIT_FSIZE makes the write stop short and then fail with EFBIG. */
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = (rlim_t)before + 20;
    signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &lim);
    int r = append_strs(&log, 1, vals_c, 2, &base);
    setrlimit(RLIMIT_FSIZE, &old);
    tap_ok(r == -1 && file_size(seg) == before && log.end_offset == 3,
           "write failure: reported, and the partial batch is truncated away");
    tap_ok(append_strs(&log, 1, vals_c, 2, &base) == 0 && base == 3,
           "write failure: the next append works at the same offset");
    kraft_log_close(&log);
    tap_ok(kraft_log_open(&log, dir, 1 << 20, err, sizeof err) == 0 && log.end_offset == 5,
           "write failure: the log reopens consistent");
    kraft_log_close(&log);
}

/* ---- the module, against a stand-in core ------------------------------------ */

typedef struct cbres {
    int calls, status;
    char msg[256];
} cbres_t;

static void on_done(void *arg, int status, const char *msg)
{
    cbres_t *r = arg;
    r->calls++;
    r->status = status;
    snprintf(r->msg, sizeof r->msg, "%s", msg ? msg : "");
}

static int propose_strs(od_module_ctx_t *ctx, const char **vals, size_t n, cbres_t *r)
{
    od_meta_record_t recs[8];
    char err[256];
    for (size_t i = 0; i < n; i++) {
        recs[i].data = (const uint8_t *)vals[i];
        recs[i].len = strlen(vals[i]);
    }
    memset(r, 0, sizeof *r);
    int rc = ctx->ops->propose(ctx->self, recs, n, on_done, r, err, sizeof err);
    kfx_end_of_turn();
    return rc;
}

static int start_fails(od_module_ctx_t *ctx, od_core_t *core, const char *want)
{
    char err[512] = "";
    int r = ctx->ops->start(ctx->self, core, err, sizeof err);
    if (r == 0)
        ctx->ops->stop(ctx->self);
    if (r == 0 || !strstr(err, want)) {
        tap_diag("start: %d '%s', want '%s'", r, err, want);
        return 0;
    }
    return 1;
}

static void test_module(void)
{
    od_module_ctx_t ctx = {0};
    static od_core_t core; /* its image is large for the stack */
    char err[512] = "", qs_path[600];
    cbres_t r;
    kfx_core_init(&core, 1, "data");
    snprintf(qs_path, sizeof qs_path, "%s/__cluster_metadata-0/quorum-state", core.data_dir);

    tap_ok(od_module.abi_major == OD_ABI_MAJOR && od_module.init(&ctx, err, sizeof err) == 0 &&
               ctx.ops && strcmp(ctx.ops->name, "kraft") == 0 && ctx.nconf == 11 &&
               strcmp(ctx.conf[0].name, "controller.quorum.voters") == 0 &&
               strcmp(ctx.conf[1].name, "metadata.log.dir") == 0 &&
               strcmp(ctx.conf[2].name, "metadata.log.segment.bytes") == 0,
           "module: init registers the control plane and its keys");
    kfx_set_conf(&ctx, "metadata.log.segment.bytes", NULL, 1024);
    tap_ok(ctx.ops->controller_id(ctx.self) == -1, "module: no controller before start");
    tap_ok(ctx.ops->start(ctx.self, &core, err, sizeof err) == 0, "module: start (%s)", err);
    const char *cid = ctx.ops->cluster_id(ctx.self);
    tap_ok(ctx.ops->controller_id(ctx.self) == 1 && cid && strlen(cid) == 22,
           "module: leader, controller id = node.id, cluster id known");
    kraft_qstate_t qs;
    tap_ok(kraft_qstate_read(qs_path, &qs, err, sizeof err) == 1 && qs.leader_epoch == 1 &&
               qs.leader_id == 1 && qs.voted_id == -1 && qs.nvoters == 1 && qs.voters[0] == 1,
           "module: quorum-state says leader 1 of epoch 1");
    const char *v2[] = {"t1", "p1"};
    tap_ok(propose_strs(&ctx, v2, 2, &r) == 0 && r.calls == 1 && r.status == 0 &&
               core.applied == 2 && core.offsets[0] == 1 && core.offsets[1] == 2 &&
               strcmp(core.values[1], "p1") == 0,
           "module: propose commits, applies at offsets 1,2 (0 is the leader change), calls back");
    tap_ok(propose_strs(&ctx, v2, 0, &r) == 0 && r.calls == 1 && r.status == 0 && core.applied == 2,
           "module: an empty proposal succeeds without records");
    for (int i = 0; i < 5; i++) /* enough to roll segments at 1024 bytes */
        propose_strs(&ctx, v2, 2, &r);
    tap_ok(r.status == 0 && core.applied == 12, "module: more proposals");
    {
        /* Three proposals in one loop turn: the first commits at once, the
         * other two are written and committed by one fdatasync at the end
         * of the turn, then called back in order. */
        od_meta_record_t one = {(const uint8_t *)"g1", 2};
        cbres_t a, b, d;
        memset(&a, 0, sizeof a);
        memset(&b, 0, sizeof b);
        memset(&d, 0, sizeof d);
        int rc1 = ctx.ops->propose(ctx.self, &one, 1, on_done, &a, err, sizeof err);
        tap_ok(rc1 == 0 && a.calls == 1 && a.status == 0 && core.applied == 13,
               "module: the first proposal of a loop turn commits at once");
        int rc2 = ctx.ops->propose(ctx.self, &one, 1, on_done, &b, err, sizeof err);
        int rc3 = ctx.ops->propose(ctx.self, &one, 1, on_done, &d, err, sizeof err);
        tap_ok(rc2 == 0 && rc3 == 0 && b.calls == 0 && d.calls == 0 && core.applied == 13,
               "module: later ones of the turn wait for the group commit");
        kfx_end_of_turn();
        tap_ok(b.calls == 1 && d.calls == 1 && b.status == 0 && d.status == 0 &&
                   core.applied == 15,
               "module: after the turn's fdatasync both are applied and called back");
    }
    ctx.ops->stop(ctx.self);
    tap_ok(propose_strs(&ctx, v2, 1, &r) == 0 && r.calls == 1 &&
               r.status == -KRAFT_ERR_NOT_CONTROLLER && ctx.ops->controller_id(ctx.self) == -1,
           "module: after stop, proposals get NOT_CONTROLLER");

    kfx_image_clear(&core);
    tap_ok(ctx.ops->start(ctx.self, &core, err, sizeof err) == 0 && core.applied == 15 &&
               core.offsets[0] == 1 && core.offsets[14] == 15 &&
               strcmp(cid, ctx.ops->cluster_id(ctx.self)) == 0,
           "module: restart replays all 15 records in order, same cluster id");
    tap_ok(kraft_qstate_read(qs_path, &qs, err, sizeof err) == 1 && qs.leader_epoch == 2,
           "module: restart is epoch 2");
    tap_ok(propose_strs(&ctx, v2, 1, &r) == 0 && r.status == 0 && core.offsets[15] == 17,
           "module: next record after the epoch-2 leader change");
    core.refuse_at = 18;
    tap_ok(propose_strs(&ctx, v2, 1, &r) == 0 && r.calls == 1 &&
               r.status == -KRAFT_ERR_KAFKA_STORAGE_ERROR && strstr(r.msg, "offset 18"),
           "module: a record the image refuses fails the proposal");
    core.refuse_at = -1;
    tap_ok(propose_strs(&ctx, v2, 1, &r) == 0 && r.status == -KRAFT_ERR_KAFKA_STORAGE_ERROR,
           "module: and later proposals, as image and log disagree");
    ctx.ops->stop(ctx.self);

    core.refuse_at = 2;
    tap_ok(start_fails(&ctx, &core, "offset 2"),
           "module: a refused record fails the start, naming its offset");
    core.refuse_at = -1;
    core.roles = "broker";
    tap_ok(start_fails(&ctx, &core, "process.roles=broker needs controller.quorum.voters"),
           "module: broker-only without voters is refused");
    core.roles = "broker,controller";
    kfx_set_conf(&ctx, "controller.quorum.voters", "1@localhost:9093,2@localhost:9094", 0);
    tap_ok(start_fails(&ctx, &core, "needs controller.listener.names"),
           "module: a quorum without controller.listener.names is refused");
    kfx_set_conf(&ctx, "controller.quorum.voters", "2@localhost:9093", 0);
    tap_ok(start_fails(&ctx, &core, "node.id 1 is not in controller.quorum.voters"),
           "module: a controller that is not a voter is refused");
    kfx_set_conf(&ctx, "controller.quorum.voters", "", 0);
    core.node_id = 2;
    tap_ok(start_fails(&ctx, &core, "node.id=1"),
           "module: another node.id on the same directory is refused");
    core.node_id = 1;
    write_all(qs_path, "{\"leaderId\":", 12);
    tap_ok(start_fails(&ctx, &core, "corrupt"), "module: a corrupt quorum-state stops the start");
    unlink(qs_path);
    kfx_image_clear(&core);
    tap_ok(ctx.ops->start(ctx.self, &core, err, sizeof err) == 0 && core.applied == 17,
           "module: a missing quorum-state is a fresh epoch, log replayed (%s)", err);
    tap_ok(kraft_qstate_read(qs_path, &qs, err, sizeof err) == 1 && qs.leader_epoch == 4,
           "module: the epoch continues above the log's last epoch");
    ctx.ops->stop(ctx.self);

    char other[600];
    snprintf(other, sizeof other, "%s/meta", kfx_root);
    kfx_set_conf(&ctx, "metadata.log.dir", other, 0);
    kfx_image_clear(&core);
    tap_ok(ctx.ops->start(ctx.self, &core, err, sizeof err) == 0 && core.applied == 0 &&
               access(kfx_path(other, "meta.properties"), F_OK) == 0 &&
               access(kfx_path(other, "__cluster_metadata-0/00000000000000000000.log"), F_OK) == 0,
           "module: metadata.log.dir is used when set");
    od_module.fini(&ctx); /* stops a started plane too */
    kfx_image_clear(&core);
}

int main(void)
{
    if (kfx_root_make("test_kraft") < 0)
        return 1;
    test_varint();
    test_voters();
    test_qstate();
    test_meta_props();
    test_log_basic();
    test_log_group_commit();
    test_log_torn_tail();
    test_log_corrupt();
    test_log_segments();
    test_log_write_failure();
    test_module();
    kfx_root_remove();
    return tap_done();
}
