/* test_compact.c - log compaction in the segment backend: 100,000 writes
 * over 1,000 keys cleaned in many small steps to one record per key with
 * offsets unchanged; tombstones, min.compaction.lag.ms, the dirty ratio, a
 * tiny key map (partial rounds), and crashes in the middle of a swap.
 * Linked with the backend's sources and the core library. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../modules/storage_segment/segment.h"
#include "../../modules/storage_segment/segment_clean.h"
#include "tap.h"

void od_logging_set_level(int level);

#define NKEYS   1000
#define NWRITES 100000
#define TS0     1700000000000LL
#define RETAIN  60000 /* delete.retention.ms */

static char root[256];
static int codec; /* compress the batches fill() writes with this codec */

/* ---- batches ------------------------------------------------------------------ */

static size_t put_var(uint8_t *p, int64_t v)
{
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 0;
    while (u >= 0x80) {
        p[n++] = (uint8_t)(u | 0x80);
        u >>= 7;
    }
    p[n++] = (uint8_t)u;
    return n;
}
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
static int64_t get_var(const uint8_t **pp)
{
    uint64_t u = 0;
    const uint8_t *p = *pp;
    for (int i = 0; i < 10; i++) {
        u |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *pp = p + i + 1;
            return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
        }
    }
    *pp = p + 10;
    return 0;
}

/* Key of write w (offset w): a scrambled walk over the keys. */
static int key_of(int64_t w) { return (int)((w * 7919) % NKEYS); }
/* Tombstones: the last write of keys below 50 is a null value. */
static int is_tomb(int64_t w, int64_t nwrites)
{
    return key_of(w) < 50 && w >= nwrites - NKEYS;
}

/* A batch of n records starting at offset base: key "k<key>", value
 * "v<offset>" (or null), timestamp TS0 + offset. */
static size_t mk_batch(uint8_t *out, int64_t base, int n, int64_t nwrites, int tombs)
{
    size_t pos = SEG_HDR_SIZE;
    for (int i = 0; i < n; i++) {
        uint8_t body[128];
        char k[16], v[32];
        size_t bl = 0;
        int kl = snprintf(k, sizeof k, "k%d", key_of(base + i));
        int vl = snprintf(v, sizeof v, "v%lld", (long long)(base + i));
        body[bl++] = 0;
        bl += put_var(body + bl, i); /* timestamp delta */
        bl += put_var(body + bl, i); /* offset delta */
        bl += put_var(body + bl, kl);
        memcpy(body + bl, k, (size_t)kl);
        bl += (size_t)kl;
        if (tombs && is_tomb(base + i, nwrites)) {
            bl += put_var(body + bl, -1);
        } else {
            bl += put_var(body + bl, vl);
            memcpy(body + bl, v, (size_t)vl);
            bl += (size_t)vl;
        }
        bl += put_var(body + bl, 0); /* headers */
        pos += put_var(out + pos, (int64_t)bl);
        memcpy(out + pos, body, bl);
        pos += bl;
    }
    memset(out, 0, SEG_HDR_SIZE);
    be64(out, (uint64_t)base);
    be32(out + 8, (uint32_t)(pos - 12));
    be32(out + 12, 0);
    out[16] = 2;
    be32(out + 23, (uint32_t)(n - 1));
    be64(out + 27, (uint64_t)(TS0 + base));
    be64(out + 35, (uint64_t)(TS0 + base + n - 1));
    be64(out + 43, (uint64_t)-1);
    out[51] = 0xff;
    out[52] = 0xff;
    be32(out + 53, 0xffffffffu);
    be32(out + 57, (uint32_t)n);
    if (codec) {
        uint8_t *z = NULL;
        size_t zlen = 0;
        char err[128];
        if (od_codec_compress(codec, out + SEG_HDR_SIZE, pos - SEG_HDR_SIZE, &z, &zlen, err,
                              sizeof err) == 0) {
            memcpy(out + SEG_HDR_SIZE, z, zlen);
            pos = SEG_HDR_SIZE + zlen;
            be32(out + 8, (uint32_t)(pos - 12));
            out[22] = (uint8_t)codec;
        }
        free(z);
    }
    be32(out + 17, od_crc32c(0, out + 21, pos - 21));
    return pos;
}

static od_log_config_t config(int64_t seg_bytes, double ratio)
{
    od_log_config_t c;
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    c.segment_bytes = seg_bytes;
    c.index_interval_bytes = 512;
    c.cleanup_policy = OD_CLEANUP_COMPACT;
    c.delete_retention_ms = RETAIN;
    c.min_cleanable_dirty_ratio = ratio;
    c.min_compaction_lag_ms = 0;
    c.max_compaction_lag_ms = INT64_MAX;
    c.retention_ms = -1;
    c.retention_bytes = -1;
    return c;
}

/* Append writes [from, to) in batches of 5. */
static int fill(struct od_log *log, int64_t from, int64_t to, int64_t nwrites, int tombs)
{
    static uint8_t buf[8192];
    char err[256];
    for (int64_t w = from; w < to; w += 5) {
        int n = to - w < 5 ? (int)(to - w) : 5;
        size_t len = mk_batch(buf, w, n, nwrites, tombs);
        if (seg_log_append(log, buf, len, 0, err, sizeof err) < 0) {
            tap_diag("append: %s", err);
            return -1;
        }
    }
    return 0;
}

/* ---- reading everything back ------------------------------------------------------ */

typedef struct seen {
    int64_t latest[NKEYS]; /* highest offset seen per key, -1 none */
    int tomb[NKEYS];       /* that record is a tombstone */
    int64_t records, dups; /* dups: records of a key seen before */
    int bad;               /* offsets not increasing or value != offset */
} seen_t;

static int read_all(struct od_log *log, seen_t *s)
{
    int64_t off = seg_log_start_offset(log), end = seg_log_end_offset(log), prev = -1;
    char err[256];
    memset(s, 0, sizeof *s);
    for (int k = 0; k < NKEYS; k++)
        s->latest[k] = -1;
    while (off < end) {
        od_log_read_t rd;
        uint8_t *buf;
        size_t at = 0;
        if (seg_log_read(log, off, 1 << 20, &rd, err, sizeof err) < 0) {
            tap_diag("read at %lld: %s", (long long)off, err);
            return -1;
        }
        if (rd.nranges == 0)
            break; /* a gap up to the (empty) active segment */
        buf = malloc(rd.total);
        for (size_t i = 0; i < rd.nranges; i++) {
            if (pread(rd.ranges[i].fd, buf + at, rd.ranges[i].len, rd.ranges[i].file_off) !=
                (ssize_t)rd.ranges[i].len)
                s->bad++;
            at += rd.ranges[i].len;
            rd.ranges[i].release(rd.ranges[i].opaque);
        }
        for (size_t p = 0; p + SEG_HDR_SIZE <= rd.total;) {
            seg_batch_t b;
            const uint8_t *q, *e;
            seg_batch_parse(buf + p, &b);
            if (od_crc32c(0, buf + p + 21, (size_t)seg_batch_size(&b) - 21) != b.crc)
                s->bad++;
            q = buf + p + SEG_HDR_SIZE;
            e = buf + p + seg_batch_size(&b);
            uint8_t *plain = NULL;
            if (b.attributes & 7) {
                size_t plen = 0;
                if (od_codec_decompress(b.attributes & 7, q, (size_t)(e - q), 1 << 24, &plain,
                                        &plen, err, sizeof err) < 0) {
                    s->bad++;
                    plain = NULL;
                } else {
                    q = plain;
                    e = plain + plen;
                }
            }
            for (int r = 0; r < b.record_count && q < e; r++) {
                int64_t len = get_var(&q), kl, vl, o;
                const uint8_t *next = q + len;
                char key[32] = {0}, val[40] = {0}, want[40];
                q++;
                get_var(&q);
                o = b.base_offset + get_var(&q);
                kl = get_var(&q);
                memcpy(key, q, (size_t)kl);
                q += kl;
                vl = get_var(&q);
                if (vl >= 0)
                    memcpy(val, q, (size_t)vl);
                snprintf(want, sizeof want, "v%lld", (long long)o);
                if (o <= prev || (vl >= 0 && strcmp(val, want) != 0) || key[0] != 'k') {
                    if (s->bad++ < 5)
                        tap_diag("bad record at %lld: %s=%s", (long long)o, key, val);
                }
                if (o >= off) {
                    int k = atoi(key + 1);
                    if (s->latest[k] >= 0)
                        s->dups++;
                    s->latest[k] = o;
                    s->tomb[k] = vl < 0;
                    s->records++;
                    prev = o;
                }
                q = next;
            }
            free(plain);
            off = seg_batch_last(&b) + 1;
            p += (size_t)seg_batch_size(&b);
        }
        free(buf);
    }
    return 0;
}

/* The last write of every key in [0, n). */
static void expected(int64_t n, int64_t *latest)
{
    for (int k = 0; k < NKEYS; k++)
        latest[k] = -1;
    for (int64_t w = 0; w < n; w++)
        latest[key_of(w)] = w;
}

static int run(struct od_log *log, int64_t now, int64_t budget, int *steps)
{
    char err[256];
    int r;
    *steps = 0;
    while ((r = seg_clean_step(log, now, budget, err, sizeof err)) == 1)
        if (++*steps > 1000000)
            return -1;
    if (r < 0)
        tap_diag("compact_step: %s", err);
    return r;
}

static int count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    size_t sl = strlen(suffix);
    while (d && (de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l >= sl && strcmp(de->d_name + l - sl, suffix) == 0)
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

/* ---- the big one ---------------------------------------------------------------------- */

static void test_main(void)
{
    char dir[300], err[256];
    struct od_log *log;
    od_log_config_t cfg = config(16384, 0.5);
    static int64_t want[NKEYS];
    seen_t *s = calloc(1, sizeof *s);
    int steps, ok, tombs = 0;
    int64_t start, end, now = TS0 + NWRITES + 1000, nsegs;

    snprintf(dir, sizeof dir, "%s/big-0", root);
    if (seg_log_open(dir, &cfg, &log, err, sizeof err) < 0) {
        tap_ok(0, "open: %s", err);
        return;
    }
    tap_ok(fill(log, 0, NWRITES, NWRITES, 1) == 0, "100,000 writes over 1,000 keys");
    seg_log_roll(log, 0, err, sizeof err);
    nsegs = (int64_t)log->nsegs;
    start = seg_log_start_offset(log);
    end = seg_log_end_offset(log);
    tap_diag("%lld segments before cleaning", (long long)nsegs);

    /* min.compaction.lag.ms: every record is younger than it. */
    cfg.min_compaction_lag_ms = 10 * NWRITES;
    seg_log_reconfigure(log, &cfg);
    tap_is_int(run(log, now, 4096, &steps), 0, "nothing cleanable under min.compaction.lag.ms");
    tap_is_int((int64_t)log->nsegs, nsegs, "no segment changed");
    /* Half of them are old enough. */
    cfg.min_compaction_lag_ms = NWRITES / 2 + 1000;
    seg_log_reconfigure(log, &cfg);
    {
        unsigned long syncs = seg_loop_syncs;
        int64_t before = seg_log_size(log);
        tap_is_int(run(log, now, 8192, &steps), 0, "partial clean under min.compaction.lag.ms");
        /* The swaps' fdatasync and directory fsyncs ran on the worker. */
        tap_ok(seg_log_size(log) < before && seg_loop_syncs == syncs,
               "segments swapped (%lld -> %lld bytes) without a sync on the calling thread (%lu)",
               (long long)before, (long long)seg_log_size(log), seg_loop_syncs - syncs);
    }
    read_all(log, s);
    ok = 1;
    for (int64_t w = NWRITES / 2 + 200; w < NWRITES; w += 97) {
        od_log_read_t rd;
        if (seg_log_read(log, w, 1, &rd, err, sizeof err) < 0 || rd.nranges != 1) {
            ok = 0;
            break;
        }
        rd.ranges[0].release(rd.ranges[0].opaque);
    }
    tap_ok(ok && s->bad == 0 && s->records > NWRITES / 2, "young records untouched (%lld left)",
           (long long)s->records);

    cfg.min_compaction_lag_ms = 0;
    seg_log_reconfigure(log, &cfg);
    tap_is_int(run(log, now, 4096, &steps), 0, "compacted to completion");
    tap_ok(steps > 100, "in many small steps (%d)", steps);
    expected(NWRITES, want);
    read_all(log, s);
    tap_is_int(s->bad, 0, "offsets increasing, values match their offsets, CRCs good");
    tap_is_int(s->records, NKEYS, "exactly one record per key");
    ok = 1;
    for (int k = 0; k < NKEYS; k++) {
        ok &= s->latest[k] == want[k];
        tombs += s->tomb[k];
    }
    tap_ok(ok, "each key's record is its latest write");
    tap_is_int(tombs, 50, "tombstones younger than delete.retention.ms stay");
    tap_is_int(seg_log_start_offset(log), start, "log start offset unchanged");
    tap_is_int(seg_log_end_offset(log), end, "end offset unchanged");
    /* Groups are formed by input size, as in Kafka: full segments shrink in
     * a first round and merge in later ones. */
    tap_ok((int64_t)log->nsegs < nsegs, "segments merged (%zu of %lld left)", log->nsegs,
           (long long)nsegs);

    /* Every surviving offset reads; a removed one reads the next batch. */
    ok = 1;
    for (int k = 0; k < NKEYS && ok; k++) {
        od_log_read_t rd;
        uint8_t hdr[SEG_HDR_SIZE];
        seg_batch_t b;
        if (seg_log_read(log, want[k], 1, &rd, err, sizeof err) < 0 || rd.nranges < 1) {
            ok = 0;
            tap_diag("read %lld: %s", (long long)want[k], err);
            break;
        }
        if (pread(rd.ranges[0].fd, hdr, sizeof hdr, rd.ranges[0].file_off) != sizeof hdr)
            ok = 0;
        seg_batch_parse(hdr, &b);
        ok &= b.base_offset <= want[k] && seg_batch_last(&b) >= want[k];
        for (size_t i = 0; i < rd.nranges; i++)
            rd.ranges[i].release(rd.ranges[i].opaque);
    }
    tap_ok(ok, "reads at every surviving offset");
    ok = 1;
    for (int64_t o = start; o < end; o += 37) {
        od_log_read_t rd;
        if (seg_log_read(log, o, 100, &rd, err, sizeof err) < 0) {
            ok = 0;
            break;
        }
        for (size_t i = 0; i < rd.nranges; i++)
            rd.ranges[i].release(rd.ranges[i].opaque);
    }
    tap_ok(ok, "reads at removed offsets do not fail");

    /* The dirty ratio: a little new data stays below 0.5. */
    fill(log, NWRITES, NWRITES + 500, NWRITES, 0);
    seg_log_roll(log, 0, err, sizeof err);
    nsegs = (int64_t)log->nsegs;
    tap_is_int(run(log, now, 4096, &steps), 0, "below min.cleanable.dirty.ratio: nothing");
    tap_ok((int64_t)log->nsegs == nsegs && steps == 0, "no cleaning below the ratio");

    /* Tombstones go once delete.retention.ms passed (the new data is dirty
     * enough with ratio 0.01). */
    cfg.min_cleanable_dirty_ratio = 0.01;
    seg_log_reconfigure(log, &cfg);
    tap_is_int(run(log, TS0 + NWRITES + RETAIN + 10, 4096, &steps), 0, "cleaned again");
    read_all(log, s);
    tombs = 0;
    for (int k = 0; k < NKEYS; k++)
        tombs += s->latest[k] >= 0 && s->tomb[k];
    tap_is_int(tombs, 0, "tombstones removed after delete.retention.ms");
    ok = s->bad == 0;
    expected(NWRITES + 500, want);
    for (int k = 0; k < NKEYS; k++) {
        int gone = want[k] < NWRITES && is_tomb(want[k], NWRITES);
        ok &= s->latest[k] == (gone ? -1 : want[k]);
    }
    tap_ok(ok && s->dups == 0, "deleted keys are gone, live keys keep their latest value");

    /* Reopen: recovery accepts the gaps. */
    seg_log_close(log);
    if (seg_log_open(dir, &cfg, &log, err, sizeof err) < 0) {
        tap_ok(0, "reopen: %s", err);
        free(s);
        return;
    }
    {
        seen_t *t = calloc(1, sizeof *t);
        read_all(log, t);
        tap_ok(t->bad == 0 && t->records == s->records &&
                   memcmp(t->latest, s->latest, sizeof t->latest) == 0,
               "reopened log reads the same (%lld records)", (long long)t->records);
        tap_is_int(seg_log_end_offset(log), end + 500, "end offset survives the reopen");
        free(t);
    }
    seg_log_close(log);
    free(s);
}

/* A tiny map: every round covers only a few keys, the result is the same. */
static void test_tiny_map(void)
{
    char dir[300], err[256];
    struct od_log *log;
    od_log_config_t cfg = config(4096, 0.0);
    static int64_t want[NKEYS];
    seen_t *s = calloc(1, sizeof *s);
    int steps, ok = 1;
    int64_t n = 5000;

    snprintf(dir, sizeof dir, "%s/tiny", root);
    seg_log_open(dir, &cfg, &log, err, sizeof err);
    fill(log, 0, n, n, 0);
    seg_log_roll(log, 0, err, sizeof err);
    seg_clean_set_map_slots(256); /* 192 keys per round */
    tap_is_int(run(log, TS0 + n, 2048, &steps), 0, "tiny map: compacted in partial rounds");
    seg_clean_set_map_slots(0);
    read_all(log, s);
    expected(n, want);
    for (int k = 0; k < NKEYS; k++)
        ok &= s->latest[k] == want[k];
    tap_ok(ok && s->bad == 0 && s->dups == 0 && s->records == NKEYS,
           "tiny map: one latest record per key (%lld records)", (long long)s->records);
    seg_log_close(log);
    free(s);
}

/* Compressed batches are decompressed, filtered and compressed again. */
static void test_compressed(void)
{
    char dir[300], err[256];
    struct od_log *log;
    od_log_config_t cfg = config(4096, 0.0);
    static int64_t want[NKEYS];
    seen_t *s = calloc(1, sizeof *s);
    int steps, ok = 1, compressed = 0;
    int64_t n = 4000;

    snprintf(dir, sizeof dir, "%s/gzip", root);
    seg_log_open(dir, &cfg, &log, err, sizeof err);
    codec = OD_CODEC_GZIP;
    fill(log, 0, n, n, 0);
    codec = 0;
    seg_log_roll(log, 0, err, sizeof err);
    tap_is_int(run(log, TS0 + n, 4096, &steps), 0, "compressed batches: compacted");
    read_all(log, s);
    expected(n, want);
    for (int k = 0; k < NKEYS; k++)
        ok &= s->latest[k] == want[k];
    for (size_t i = 0; i < log->nsegs; i++) {
        seg_batch_t b;
        if (log->segs[i]->size > 0 &&
            seg_segment_fd(log->segs[i], err, sizeof err) >= 0 &&
            seg_read_header(log->segs[i]->log->fd, 0, log->segs[i]->size, &b, err, sizeof err) == 0)
            compressed += (b.attributes & 7) == OD_CODEC_GZIP;
    }
    tap_ok(ok && s->bad == 0 && s->dups == 0 && s->records == NKEYS,
           "compressed batches: one latest record per key (%lld records)", (long long)s->records);
    tap_ok(compressed > 0, "rewritten batches stay gzip-compressed");
    seg_log_close(log);
    free(s);
}

/* Crashes: after every step of a round copy the directory (what a kill -9
 * would leave), and stop swaps at each of their points; every copy must open
 * to a log that still has each key's latest value. */
static void test_crash(void)
{
    char dir[300], copy[400], cmd[1000], err[256];
    struct od_log *log;
    od_log_config_t cfg = config(4096, 0.0);
    static int64_t want[NKEYS];
    seen_t *s = calloc(1, sizeof *s);
    int64_t n = 3000;
    int r, step = 0, copies = 0, bad = 0, leftovers = 0;

    snprintf(dir, sizeof dir, "%s/crash", root);
    seg_log_open(dir, &cfg, &log, err, sizeof err);
    fill(log, 0, n, n, 0);
    seg_log_roll(log, 0, err, sizeof err);
    expected(n, want);
    do {
        struct od_log *c;
        int crash_point = (step % 4); /* 0: plain copy between steps */
        if (step >= 160) { /* enough crashes: let the log finish its round */
            r = run(log, TS0 + n, 3000, &crash_point);
            break;
        }
        seg_clean_test_crash_at = crash_point;
        r = seg_clean_step(log, TS0 + n, 3000, err, sizeof err);
        seg_clean_test_crash_at = 0;
        snprintf(copy, sizeof copy, "%s/crash-copy-%d", root, step);
        snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", dir, copy);
        if (system(cmd) != 0) {
            bad++;
            break;
        }
        leftovers += count_files(copy, ".log.cleaned") + count_files(copy, ".log.swap");
        if (seg_log_open(copy, &cfg, &c, err, sizeof err) < 0) {
            tap_diag("open copy %d: %s", step, err);
            bad++;
        } else {
            int okk = 1;
            read_all(c, s);
            for (int k = 0; k < NKEYS; k++)
                okk &= s->latest[k] == want[k];
            if (!okk || s->bad) {
                tap_diag("copy %d (crash point %d): data lost", step, crash_point);
                bad++;
            }
            okk = count_files(copy, ".log.cleaned") + count_files(copy, ".log.swap") == 0;
            if (!okk) {
                tap_diag("copy %d: leftovers after recovery", step);
                bad++;
            }
            /* The recovered copy can be cleaned to the end too. */
            if (step % 7 == 3) {
                int st;
                if (run(c, TS0 + n, 1 << 20, &st) != 0)
                    bad++;
                read_all(c, s);
                for (int k = 0; k < NKEYS; k++)
                    if (s->latest[k] != want[k])
                        bad++;
                if (s->records != NKEYS)
                    bad++;
            }
            seg_log_close(c);
            copies++;
        }
        if (r < 0) { /* a simulated crash: the live log is gone, reopen it */
            seg_log_close(log);
            seg_log_open(dir, &cfg, &log, err, sizeof err);
            r = 1;
        }
        step++;
    } while (r == 1);
    tap_ok(copies > 20 && bad == 0, "%d crash copies all recover without loss", copies);
    tap_ok(leftovers > 0, "some copies held .cleaned/.swap files (%d)", leftovers);
    read_all(log, s);
    tap_ok(r == 0 && s->records == NKEYS && s->bad == 0 && s->dups == 0,
           "the crashed-and-resumed log ends compacted");
    seg_log_close(log);
    free(s);
}

int main(void)
{
    char cmd[300];
    od_logging_set_level(0);
    snprintf(root, sizeof root, "/tmp/odradek-compact-XXXXXX");
    if (!mkdtemp(root)) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    tap_no_plan();
    test_main();
    test_tiny_map();
    test_compressed();
    test_crash();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", root);
    return tap_done();
}
