/* test_segment.c - the segment storage backend: append, roll, read,
 * offset_for_time, reopen, recovery from torn and corrupt tails, index
 * rebuilds, remove(). Linked with the backend's sources (not the module
 * glue) and the core library. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../modules/storage_segment/segment.h"
#include "tap.h"

/* From the core library (od_core.h): recovery warns a lot on purpose here. */
void od_logging_set_level(int level);

/* ---- a small RecordBatch builder ------------------------------------------ */

static size_t put_uvar(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}
static size_t put_var(uint8_t *p, int64_t v)
{
    return put_uvar(p, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
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

/* A v2 batch of nrec records with vlen-byte values; record i has timestamp
 * ts0 + i. Returns its size (out must hold 61 + nrec * (vlen + 32)). */
static size_t mk_batch(uint8_t *out, int64_t base, int nrec, int64_t ts0, size_t vlen)
{
    size_t pos = SEG_HDR_SIZE;
    for (int i = 0; i < nrec; i++) {
        uint8_t body[64 + 4096];
        size_t n = 0;
        body[n++] = 0; /* attributes */
        n += put_var(body + n, i);
        n += put_var(body + n, i);
        n += put_var(body + n, -1);
        n += put_var(body + n, (int64_t)vlen);
        for (size_t k = 0; k < vlen; k++)
            body[n++] = (uint8_t)(base + i + k);
        n += put_var(body + n, 0);
        pos += put_var(out + pos, (int64_t)n);
        memcpy(out + pos, body, n);
        pos += n;
    }
    be64(out, (uint64_t)base);
    be32(out + 8, (uint32_t)(pos - 12));
    be32(out + 12, 0);
    out[16] = 2;
    out[21] = 0;
    out[22] = 0;
    be32(out + 23, (uint32_t)(nrec - 1));
    be64(out + 27, (uint64_t)ts0);
    be64(out + 35, (uint64_t)(ts0 + nrec - 1));
    be64(out + 43, (uint64_t)-1);
    out[51] = 0xff;
    out[52] = 0xff;
    be32(out + 53, (uint32_t)-1);
    be32(out + 57, (uint32_t)nrec);
    be32(out + 17, od_crc32c(0, out + 21, pos - 21));
    return pos;
}

/* ---- the model: what the log should hold ----------------------------------- */

typedef struct mb {
    int64_t base, last, maxts;
    uint8_t *bytes;
    size_t len;
} mb_t;

typedef struct model {
    mb_t b[1024];
    size_t n;
} model_t;

static void model_free(model_t *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->b[i].bytes);
    m->n = 0;
}

static int64_t model_end(const model_t *m) { return m->n ? m->b[m->n - 1].last + 1 : 0; }

/* Build one batch continuing the model (not yet appended). */
static mb_t mk_next(const model_t *m, int nrec, int64_t ts0, size_t vlen)
{
    mb_t b;
    uint8_t *buf = malloc(SEG_HDR_SIZE + (size_t)nrec * (vlen + 32));
    b.base = model_end(m);
    b.len = mk_batch(buf, b.base, nrec, ts0, vlen);
    b.bytes = buf;
    b.last = b.base + nrec - 1;
    b.maxts = ts0 + nrec - 1;
    return b;
}

static int append_one(od_log_t *log, model_t *m, int nrec, int64_t ts0, size_t vlen)
{
    char err[512] = "";
    mb_t b = mk_next(m, nrec, ts0, vlen);
    if (seg_log_append(log, b.bytes, b.len, od_mono_ms(), err, sizeof err) < 0) {
        tap_diag("append: %s", err);
        free(b.bytes);
        return -1;
    }
    m->b[m->n++] = b;
    return 0;
}

/* Deterministic pseudo-random batch shapes. */
static unsigned rnd_state = 12345;
static unsigned rnd(void)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return (rnd_state >> 16) & 0x7fff;
}

static int64_t ts_for(size_t i) { return 1000000 + (int64_t)(i * 10) - (i % 7 == 3 ? 55 : 0); }

static int fill(od_log_t *log, model_t *m, size_t nbatches)
{
    for (size_t i = 0; i < nbatches; i++)
        if (append_one(log, m, 1 + (int)(rnd() % 4), ts_for(m->n), 5 + rnd() % 60) < 0)
            return -1;
    return 0;
}

/* ---- checking reads ------------------------------------------------------- */

static size_t model_find(const model_t *m, int64_t off)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->b[i].base <= off && off <= m->b[i].last)
            return i;
    return (size_t)-1;
}

/* One read; returns NULL if fine, else a description. */
static const char *check_read(od_log_t *log, const model_t *m, int64_t off, size_t max_bytes)
{
    static char why[600];
    char err[512] = "";
    od_log_read_t r;
    size_t k = model_find(m, off), j, total = 0, limit;
    uint8_t *buf;
    if (seg_log_read(log, off, max_bytes, &r, err, sizeof err) < 0) {
        snprintf(why, sizeof why, "read %lld: %s", (long long)off, err);
        return why;
    }
    if (k == (size_t)-1) {
        snprintf(why, sizeof why, "offset %lld not in the model", (long long)off);
        return why;
    }
    buf = malloc(r.total + 1);
    why[0] = 0;
    for (size_t i = 0; i < r.nranges; i++) {
        const od_log_range_t *rg = &r.ranges[i];
        if (!rg->is_file) /* a copy: served so when descriptors are scarce */
            memcpy(buf + total, rg->mem, rg->len);
        else if (pread(rg->fd, buf + total, rg->len, rg->file_off) != (ssize_t)rg->len)
            snprintf(why, sizeof why, "range %zu unreadable", i);
        total += rg->len;
    }
    if (!why[0] && (r.nranges == 0 || total != r.total))
        snprintf(why, sizeof why, "%zu ranges, total %zu vs %zu", r.nranges, total, r.total);
    /* The bytes must be batches k, k+1, ... exactly. */
    for (j = k; !why[0] && total > 0; j++) {
        size_t at = 0;
        for (size_t q = k; q < j; q++)
            at += m->b[q].len;
        if (at == total)
            break;
        if (j >= m->n || at + m->b[j].len > total || memcmp(buf + at, m->b[j].bytes, m->b[j].len))
            snprintf(why, sizeof why, "offset %lld: bytes differ at batch %zu", (long long)off, j);
    }
    limit = max_bytes > m->b[k].len ? max_bytes : m->b[k].len;
    if (!why[0] && total > limit)
        snprintf(why, sizeof why, "offset %lld max %zu: %zu bytes", (long long)off, max_bytes, total);
    if (!why[0] && j < m->n && total + m->b[j].len <= limit && r.nranges < OD_LOG_READ_MAX_RANGES)
        snprintf(why, sizeof why, "offset %lld max %zu: stopped early at %zu bytes", (long long)off,
                 max_bytes, total);
    for (size_t i = 0; i < r.nranges; i++)
        r.ranges[i].release(r.ranges[i].opaque);
    free(buf);
    return why[0] ? why : NULL;
}

/* Reads at every offset with several max_bytes; NULL or the first problem. */
static const char *all_reads(od_log_t *log, const model_t *m)
{
    static const size_t maxes[] = {0, 1, 150, 700, 2500, (size_t)-1};
    const char *why = NULL;
    int64_t start = seg_log_start_offset(log);
    for (int64_t off = start; !why && off < model_end(m); off++)
        for (size_t i = 0; !why && i < sizeof maxes / sizeof maxes[0]; i++)
            why = check_read(log, m, off, maxes[i]);
    return why;
}

static int check_all_reads(od_log_t *log, const model_t *m, const char *label)
{
    const char *why = all_reads(log, m);
    if (why)
        tap_diag("%s", why);
    return tap_ok(!why, "%s: reads at every offset return the right whole batches", label);
}

static int check_time(od_log_t *log, const model_t *m, const char *label)
{
    int bad = 0;
    for (int64_t ts = 999000; ts < ts_for(m->n) + 50 && !bad; ts += 7) {
        int64_t want = -1, want_ts = -1, got_ts = -1, got;
        for (size_t i = 0; i < m->n; i++)
            if (m->b[i].maxts >= ts) {
                want = m->b[i].base;
                want_ts = m->b[i].maxts;
                break;
            }
        got = seg_log_offset_for_time(log, ts, &got_ts);
        if (got != want || (want >= 0 && got_ts != want_ts)) {
            tap_diag("ts %lld: got %lld (%lld), want %lld (%lld)", (long long)ts, (long long)got,
                     (long long)got_ts, (long long)want, (long long)want_ts);
            bad = 1;
        }
    }
    return tap_ok(!bad, "%s: offset_for_time", label);
}

/* ---- files ------------------------------------------------------------- */

static char root[256];

static od_log_config_t mkcfg(int64_t seg_bytes, int64_t interval)
{
    od_log_config_t c;
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    c.segment_bytes = seg_bytes;
    c.segment_ms = 604800000;
    c.index_interval_bytes = interval;
    c.segment_index_bytes = 10485760;
    c.flush_messages = INT64_MAX;
    c.flush_ms = INT64_MAX;
    return c;
}

static od_log_t *open_log(const char *dir, const od_log_config_t *c)
{
    char err[512] = "";
    od_log_t *log;
    if (seg_log_open(dir, c, &log, err, sizeof err) < 0) {
        tap_diag("open %s: %s", dir, err);
        return NULL;
    }
    return log;
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) < 0 ? -1 : st.st_size;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    off_t n = file_size(path);
    uint8_t *buf;
    int fd = open(path, O_RDONLY);
    *len = 0;
    if (n < 0 || fd < 0) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    buf = malloc((size_t)n + 1);
    if (read(fd, buf, (size_t)n) != n) {
        close(fd);
        free(buf);
        return NULL;
    }
    close(fd);
    *len = (size_t)n;
    return buf;
}

static int write_file(const char *path, const uint8_t *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int ok = fd >= 0 && write(fd, p, n) == (ssize_t)n;
    if (fd >= 0)
        close(fd);
    return ok ? 0 : -1;
}

/* Copy a flat directory (the partition dir) to dst, replacing dst. */
static int copy_dir(const char *src, const char *dst)
{
    DIR *d;
    struct dirent *de;
    seg_remove_tree(dst);
    if (mkdir(dst, 0755) < 0 || !(d = opendir(src)))
        return -1;
    while ((de = readdir(d)) != NULL) {
        char a[512], b[512];
        uint8_t *buf;
        size_t n;
        if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
            continue;
        snprintf(a, sizeof a, "%s/%s", src, de->d_name);
        snprintf(b, sizeof b, "%s/%s", dst, de->d_name);
        buf = read_file(a, &n);
        if (!buf && n == 0 && file_size(a) != 0) {
            closedir(d);
            return -1;
        }
        write_file(b, buf ? buf : (const uint8_t *)"", n);
        free(buf);
    }
    closedir(d);
    return 0;
}

/* Sorted names of the .log files in dir, joined by spaces. */
static void list_logs(const char *dir, char *out, size_t outsz)
{
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, alphasort);
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(ents[i]->d_name);
        if (l > 4 && !strcmp(ents[i]->d_name + l - 4, ".log")) {
            strncat(out, ents[i]->d_name, outsz - strlen(out) - 1);
            strncat(out, " ", outsz - strlen(out) - 1);
        }
        free(ents[i]);
    }
    if (n >= 0)
        free(ents);
}

static void seg_name(char *buf, size_t n, const char *dir, int64_t base, const char *ext)
{
    snprintf(buf, n, "%s/%020lld%s", dir, (long long)base, ext);
}

/* ---- tests ------------------------------------------------------------- */

static void test_basic(void)
{
    char dir[300], err[512] = "", want[4096] = "", got[4096];
    od_log_config_t c = mkcfg(1000, 100);
    model_t *m = calloc(1, sizeof *m);
    od_log_t *log;
    od_log_read_t r;
    int64_t seg_base = 0, seg_size = 0, nsegs = 1;
    size_t i;

    snprintf(dir, sizeof dir, "%s/basic-0", root);
    log = open_log(dir, &c);
    if (!tap_ok(log != NULL, "open creates a new log"))
        return;
    tap_is_int(seg_log_start_offset(log), 0, "empty: start 0");
    tap_is_int(seg_log_end_offset(log), 0, "empty: end 0");
    tap_ok(seg_log_read(log, 0, 100, &r, err, sizeof err) == 0 && r.nranges == 0,
           "read at the end offset is empty");
    tap_ok(seg_log_read(log, 1, 100, &r, err, sizeof err) < 0 && strstr(err, "outside"),
           "read past the end fails: %s", err);
    tap_is_int(seg_log_offset_for_time(log, 0, NULL), -1, "empty: offset_for_time -1");

    /* Many batches of varied size, each segment at most 1000 bytes. */
    snprintf(want, sizeof want, "%020d.log ", 0);
    for (i = 0; i < 150; i++) {
        size_t before = m->n;
        if (append_one(log, m, 1 + (int)(rnd() % 4), ts_for(m->n), 5 + rnd() % 60) < 0)
            break;
        if (seg_size > 0 && seg_size + (int64_t)m->b[before].len > 1000) {
            seg_base = m->b[before].base;
            seg_size = 0;
            nsegs++;
            snprintf(want + strlen(want), sizeof want - strlen(want), "%020lld.log ",
                     (long long)seg_base);
        }
        seg_size += (int64_t)m->b[before].len;
    }
    /* A batch larger than segment.bytes goes alone into a segment. */
    {
        size_t before = m->n;
        append_one(log, m, 3, ts_for(m->n), 600);
        snprintf(want + strlen(want), sizeof want - strlen(want), "%020lld.log ",
                 (long long)m->b[before].base);
        append_one(log, m, 1, ts_for(m->n), 10);
        snprintf(want + strlen(want), sizeof want - strlen(want), "%020lld.log ",
                 (long long)m->b[before + 1].base);
        nsegs += 2;
        tap_ok(m->b[before].len > 1000, "big batch is %zu bytes", m->b[before].len);
    }
    tap_is_int((int64_t)m->n, 152, "all appends succeeded");
    tap_is_int(seg_log_end_offset(log), model_end(m), "end offset");
    list_logs(dir, got, sizeof got);
    if (!tap_ok(!strcmp(got, want), "segments rolled at segment.bytes (%lld segments)",
                (long long)nsegs))
        tap_diag("got  %s\nwant %s", got, want);
    {
        int64_t sum = 0;
        for (i = 0; i < m->n; i++)
            sum += (int64_t)m->b[i].len;
        tap_is_int(seg_log_size(log), sum, "size_bytes is the sum of the batches");
    }
    {
        char f[512];
        seg_name(f, sizeof f, dir, 0, ".index");
        tap_ok(file_size(f) > 0 && file_size(f) % 8 == 0, "first .index has entries");
        seg_name(f, sizeof f, dir, 0, ".timeindex");
        tap_ok(file_size(f) > 0 && file_size(f) % 12 == 0, "first .timeindex has entries");
    }
    check_all_reads(log, m, "live");
    check_time(log, m, "live");
    tap_ok(seg_log_read(log, model_end(m), 1000, &r, err, sizeof err) == 0 && r.nranges == 0,
           "read at the end is empty");
    tap_ok(seg_log_read(log, model_end(m) + 1, 1000, &r, err, sizeof err) < 0,
           "read beyond the end fails");
    tap_ok(seg_log_read(log, -1, 1000, &r, err, sizeof err) < 0, "read below the start fails");

    {
        mb_t b = mk_next(m, 1, 5, 5);
        uint8_t bad[4096];
        size_t n = mk_batch(bad, b.base + 1, 1, 5, 5);
        tap_ok(seg_log_append(log, bad, n, od_mono_ms(), err, sizeof err) < 0,
               "append with a gap in offsets fails: %s", err);
        tap_ok(seg_log_append(log, b.bytes, b.len - 1, od_mono_ms(), err, sizeof err) < 0,
               "append of a partial batch fails: %s", err);
        tap_is_int(seg_log_end_offset(log), model_end(m), "failed appends leave the end alone");
        free(b.bytes);
    }
    /* A multi-batch append. */
    {
        uint8_t buf[8192];
        size_t n = 0;
        for (int k = 0; k < 3; k++) {
            mb_t b = mk_next(m, 2, ts_for(m->n), 20);
            memcpy(buf + n, b.bytes, b.len);
            n += b.len;
            m->b[m->n++] = b;
        }
        tap_ok(seg_log_append(log, buf, n, od_mono_ms(), err, sizeof err) == 0,
               "multi-batch append");
    }
    seg_log_close(log);

    {
        char marker[512];
        snprintf(marker, sizeof marker, "%s/%s", dir, SEG_CLEAN_MARKER);
        tap_ok(file_size(marker) == 0, "clean close leaves the marker");
        log = open_log(dir, &c);
        tap_ok(log && file_size(marker) < 0, "reopen removes the marker");
    }
    if (!log)
        return;
    tap_is_int(seg_log_end_offset(log), model_end(m), "reopen: end offset");
    tap_is_int(seg_log_start_offset(log), 0, "reopen: start offset");
    list_logs(dir, got, sizeof got);
    tap_ok(!strcmp(got, want), "reopen: same segments");
    check_all_reads(log, m, "reopened");
    check_time(log, m, "reopened");
    fill(log, m, 20);
    check_all_reads(log, m, "appended after reopen");
    seg_log_close(log);

    /* Index files: delete, garble and drop some, then compare the rebuilt
     * files with the originals. */
    {
        struct dirent **ents;
        int n = scandir(dir, &ents, NULL, alphasort);
        char names[64][600];
        uint8_t *orig[64];
        size_t olen[64], nf = 0;
        int same = 1, k;
        for (k = 0; k < n; k++) {
            size_t l = strlen(ents[k]->d_name);
            if (nf < 64 && ((l > 6 && !strcmp(ents[k]->d_name + l - 6, ".index")) ||
                            (l > 10 && !strcmp(ents[k]->d_name + l - 10, ".timeindex")))) {
                snprintf(names[nf], sizeof names[nf], "%s/%s", dir, ents[k]->d_name);
                orig[nf] = read_file(names[nf], &olen[nf]);
                nf++;
            }
            free(ents[k]);
        }
        free(ents);
        tap_ok(nf > 8, "%zu index files", nf);
        unlink(names[2]);                                     /* an .index */
        write_file(names[4], (const uint8_t *)"garbage!garbage!", 16);
        unlink(names[7]);                                     /* a .timeindex */
        unlink(names[nf - 2]);                                /* the last .index */
        log = open_log(dir, &c);
        if (log) {
            check_all_reads(log, m, "rebuilt indexes");
            check_time(log, m, "rebuilt indexes");
            seg_log_close(log);
        }
        for (size_t q = 0; q < nf; q++) {
            size_t l;
            uint8_t *now = read_file(names[q], &l);
            if (!now || l != olen[q] || memcmp(now, orig[q], l)) {
                tap_diag("%s differs (%zu vs %zu bytes)", names[q], l, olen[q]);
                same = 0;
            }
            free(now);
            free(orig[q]);
        }
        tap_ok(same, "deleted and garbage indexes were rebuilt identically");

        /* A sane-looking first entry that points at the next batch instead
         * of its own: recovery checks only the last entry, reads notice,
         * scan instead and have the file rebuilt at the next open. */
        for (size_t q = 0; q < nf; q++) {
            size_t l, ll;
            uint8_t *ix, *lg;
            char lname[600];
            if (!strstr(names[q], ".index") || q + 2 >= nf)
                continue;
            ix = read_file(names[q], &l);
            snprintf(lname, sizeof lname, "%.*s.log", (int)(strlen(names[q]) - 6), names[q]);
            lg = read_file(lname, &ll);
            if (ix && lg && l >= 16) {
                uint32_t p0 = (uint32_t)ix[4] << 24 | (uint32_t)ix[5] << 16 | ix[6] << 8 | ix[7];
                uint32_t p1 = (uint32_t)ix[12] << 24 | (uint32_t)ix[13] << 16 | ix[14] << 8 | ix[15];
                uint32_t next = p0 + 12 + ((uint32_t)lg[p0 + 10] << 8 | lg[p0 + 11]);
                if (next < p1) {
                    be32(ix + 4, next);
                    write_file(names[q], ix, l);
                    log = open_log(dir, &c);
                    if (log) {
                        check_all_reads(log, m, "index entry pointing at the wrong batch");
                        check_time(log, m, "index entry pointing at the wrong batch");
                        seg_log_close(log);
                    }
                    tap_ok(file_size(names[q]) < 0,
                           "wrong index removed for a rebuild");
                    log = open_log(dir, &c);
                    seg_log_close(log);
                    free(ix);
                    ix = read_file(names[q], &l);
                    tap_ok(ix && l >= 16 && ix[7] == (uint8_t)p0, "and rebuilt at the next open");
                    free(ix);
                    free(lg);
                    break;
                }
            }
            free(ix);
            free(lg);
        }
    }

    /* Orphan index files go, stray files stay. */
    {
        char f[512], s[512];
        seg_name(f, sizeof f, dir, 99999, ".index");
        write_file(f, (const uint8_t *)"12345678", 8);
        snprintf(s, sizeof s, "%s/stray.txt", dir);
        write_file(s, (const uint8_t *)"x", 1);
        log = open_log(dir, &c);
        tap_ok(log && file_size(f) < 0 && file_size(s) == 1, "orphan .index removed, stray kept");
        seg_log_close(log);
    }

    /* A missing middle segment: the log ends before the hole. */
    {
        char f[512];
        int64_t b2 = -1, b3 = -1;
        size_t kept;
        model_t *m2 = calloc(1, sizeof *m2);
        list_logs(dir, got, sizeof got);
        sscanf(got, "%*s %lld.log %lld.log", (long long *)&b2, (long long *)&b3);
        seg_name(f, sizeof f, dir, b2, ".log");
        unlink(f);
        log = open_log(dir, &c);
        tap_ok(log && seg_log_end_offset(log) == b2, "hole at segment %lld: log ends there",
               (long long)b2);
        seg_name(f, sizeof f, dir, b3, ".log");
        tap_ok(file_size(f) < 0, "segments after the hole were deleted");
        for (i = 0; i < m->n && m->b[i].base < b2; i++)
            m2->b[m2->n++] = m->b[i];
        kept = i;
        if (log) {
            check_all_reads(log, m2, "after hole");
            fill(log, m2, 5);
            check_all_reads(log, m2, "appended after hole");
            seg_log_close(log);
        }
        for (i = kept; i < m2->n; i++) /* the first `kept` are shared with m */
            free(m2->b[i].bytes);
        model_free(m);
        free(m2);
    }
    free(m);
}

/* The key test: cut the last segment at every byte of its last two
 * batches, corrupt every byte of its last batch; recovery must keep exactly
 * the valid prefix. */
static void test_recovery(void)
{
    char pristine[300], dir[300], f[512], marker[512], err[512];
    od_log_config_t c = mkcfg(2000, 150);
    model_t *m = calloc(1, sizeof *m);
    od_log_t *log;
    int64_t last_base;
    size_t seg_first, nb, tail_from;
    int bad_trunc = 0, bad_crc = 0, bad_clean = 0, iters = 0;

    snprintf(pristine, sizeof pristine, "%s/rec-0", root);
    snprintf(dir, sizeof dir, "%s/work-0", root);
    log = open_log(pristine, &c);
    if (!log)
        return;
    fill(log, m, 60);
    last_base = log->segs[log->nsegs - 1]->base;
    seg_log_close(log);
    for (seg_first = 0; m->b[seg_first].base < last_base; seg_first++)
        ;
    nb = m->n - seg_first;
    tap_ok(nb >= 4, "last segment holds %zu batches", nb);
    seg_name(f, sizeof f, dir, last_base, ".log");
    snprintf(marker, sizeof marker, "%s/%s", dir, SEG_CLEAN_MARKER);
    {
        size_t seg_pos = 0;
        for (size_t i = seg_first; i < m->n - 2; i++)
            seg_pos += m->b[i].len;
        tail_from = seg_pos;
    }

    for (int pass = 0; pass < 2; pass++) {
        size_t total = tail_from + m->b[m->n - 2].len + m->b[m->n - 1].len;
        for (size_t cutp = tail_from; cutp <= total; cutp++) {
            model_t keep;
            size_t pos = 0, k;
            const char *why = NULL;
            copy_dir(pristine, dir);
            if (pass == 1)
                unlink(marker);
            if (truncate(f, (off_t)cutp) < 0)
                why = "truncate";
            keep.n = 0;
            for (k = 0; k < m->n; k++) {
                if (k >= seg_first) {
                    if (pos + m->b[k].len > cutp)
                        break;
                    pos += m->b[k].len;
                }
                keep.b[keep.n++] = m->b[k];
            }
            log = why ? NULL : open_log(dir, &c);
            if (!why && !log)
                why = "open";
            if (!why && seg_log_end_offset(log) != model_end(&keep))
                why = "end offset";
            if (!why && file_size(f) != (off_t)pos)
                why = "file size";
            if (!why && (cutp == tail_from || cutp == total || cutp % 5 == 0))
                why = all_reads(log, &keep);
            else if (!why) {
                for (int64_t off = m->b[seg_first].base; !why && off < model_end(&keep); off++)
                    why = check_read(log, &keep, off, 0);
            }
            if (!why) {
                mb_t b = mk_next(&keep, 2, 5000000, 30);
                if (seg_log_append(log, b.bytes, b.len, od_mono_ms(), err, sizeof err) < 0)
                    why = "append after recovery";
                keep.b[keep.n++] = b;
                if (!why)
                    why = check_read(log, &keep, b.base, 0);
                seg_log_close(log);
                log = NULL;
                if (!why && !(log = open_log(dir, &c)))
                    why = "second open";
                if (!why && seg_log_end_offset(log) != model_end(&keep))
                    why = "end offset after second open";
                if (!why)
                    why = check_read(log, &keep, b.base, 1);
                free(b.bytes);
            }
            seg_log_close(log);
            iters++;
            if (why) {
                tap_diag("pass %d cut at %zu: %s", pass, cutp, why);
                bad_trunc++;
            }
        }
    }
    tap_ok(bad_trunc == 0, "torn tails: %d cuts recovered to the valid prefix", iters);

    /* Flip each byte of the last batch. Without the clean marker the CRC
     * catches everything except partitionLeaderEpoch (bytes 12..15), which
     * the CRC does not cover (Kafka's format). */
    {
        const mb_t *lb = &m->b[m->n - 1];
        size_t at = tail_from + m->b[m->n - 2].len;
        for (size_t i = 0; i < lb->len; i++) {
            size_t n;
            uint8_t *buf;
            int64_t want = (i >= 12 && i < 16) ? lb->last + 1 : lb->base;
            copy_dir(pristine, dir);
            unlink(marker);
            buf = read_file(f, &n);
            buf[at + i] ^= 0x10;
            write_file(f, buf, n);
            free(buf);
            log = open_log(dir, &c);
            if (!log || seg_log_end_offset(log) != want) {
                tap_diag("flip byte %zu: end %lld want %lld", i,
                         log ? (long long)seg_log_end_offset(log) : -1LL, (long long)want);
                bad_crc++;
            } else if (file_size(f) != (off_t)(want == lb->base ? at : at + lb->len)) {
                tap_diag("flip byte %zu: file size %lld", i, (long long)file_size(f));
                bad_crc++;
            }
            seg_log_close(log);
        }
        tap_ok(bad_crc == 0, "corrupt tail batch: every flipped byte outside the epoch is caught");
        /* With the marker, the structural scan does not look at CRCs. */
        copy_dir(pristine, dir);
        {
            size_t n;
            uint8_t *buf = read_file(f, &n);
            buf[at + 40] ^= 0x10;
            write_file(f, buf, n);
            free(buf);
        }
        log = open_log(dir, &c);
        if (!log || seg_log_end_offset(log) != lb->last + 1)
            bad_clean = 1;
        seg_log_close(log);
        tap_ok(!bad_clean, "after a clean close the tail is trusted without CRC checks");
    }

    /* Corruption in an earlier segment: the log ends there, later segments go. */
    {
        char f0[512];
        size_t n, pos = 0, k;
        uint8_t *buf;
        int64_t seg1 = -1;
        model_t keep;
        char names[4096];
        copy_dir(pristine, dir);
        unlink(marker);
        list_logs(dir, names, sizeof names);
        sscanf(names, "%*s %lld.log", (long long *)&seg1);
        seg_name(f0, sizeof f0, dir, 0, ".log");
        buf = read_file(f0, &n);
        keep.n = 0;
        for (k = 0; m->b[k].base < seg1; k++) {
            if (pos + m->b[k].len == n)
                break;
            pos += m->b[k].len;
            keep.b[keep.n++] = m->b[k];
        }
        buf[pos + 30] ^= 1; /* the last batch of the first segment */
        write_file(f0, buf, n);
        free(buf);
        log = open_log(dir, &c);
        tap_ok(log && seg_log_end_offset(log) == m->b[k].base,
               "corrupt batch in the first segment ends the log at offset %lld",
               (long long)m->b[k].base);
        seg_name(f0, sizeof f0, dir, seg1, ".log");
        tap_ok(file_size(f0) < 0, "later segments deleted");
        if (log) {
            check_all_reads(log, &keep, "after middle corruption");
            tap_is_int((int64_t)log->nsegs, 1, "one segment left");
        }
        seg_log_close(log);
    }
    model_free(m);
    free(m);
}

static void test_rolls_and_flush(void)
{
    char dir[300], err[512];
    od_log_config_t c = mkcfg(1 << 20, 0);
    model_t *m = calloc(1, sizeof *m);
    od_log_t *log;
    int64_t t0;

    /* segment.ms, on append and in tick(). */
    c.segment_ms = 1000;
    snprintf(dir, sizeof dir, "%s/time-0", root);
    log = open_log(dir, &c);
    if (!log)
        return;
    t0 = 1000000;
    {
        mb_t b = mk_next(m, 1, 1, 10);
        seg_log_append(log, b.bytes, b.len, t0, err, sizeof err);
        m->b[m->n++] = b;
        b = mk_next(m, 1, 2, 10);
        seg_log_append(log, b.bytes, b.len, t0 + 999, err, sizeof err);
        m->b[m->n++] = b;
        tap_is_int((int64_t)log->nsegs, 1, "no roll before segment.ms");
        b = mk_next(m, 1, 3, 10);
        seg_log_append(log, b.bytes, b.len, t0 + 1000, err, sizeof err);
        m->b[m->n++] = b;
        tap_is_int((int64_t)log->nsegs, 2, "append rolls after segment.ms");
        seg_log_tick(log, t0 + 1999);
        tap_is_int((int64_t)log->nsegs, 2, "tick: no roll yet");
        seg_log_tick(log, t0 + 2000);
        tap_is_int((int64_t)log->nsegs, 3, "tick rolls after segment.ms");
        tap_is_int(log->segs[2]->base, 3, "new segment starts at the end offset");
        seg_log_tick(log, t0 + 5000);
        tap_is_int((int64_t)log->nsegs, 3, "tick does not roll an empty segment");
        check_all_reads(log, m, "time rolls");
    }
    seg_log_close(log);
    model_free(m);

    /* A full index forces a roll: 24 bytes = 3 offset entries, 2 time entries. */
    c = mkcfg(1 << 20, 0);
    c.segment_index_bytes = 24;
    snprintf(dir, sizeof dir, "%s/idx-0", root);
    log = open_log(dir, &c);
    if (!log)
        return;
    fill(log, m, 12);
    tap_ok(log->nsegs >= 3, "full index rolls (%zu segments)", log->nsegs);
    {
        int ok = 1;
        for (size_t i = 0; i < log->nsegs; i++)
            ok &= log->segs[i]->idx.ntime <= 3 && log->segs[i]->idx.noff <= 3;
        tap_ok(ok, "index entries within segment.index.bytes");
    }
    check_all_reads(log, m, "index rolls");
    seg_log_close(log);
    model_free(m);

    /* Kafka's index rule: an entry for a batch once more than
     * index.interval.bytes were written since the last one; with 0 that is
     * every batch but a segment's first. And a segment may fill up to
     * exactly segment.bytes. */
    c = mkcfg(0, 0);
    snprintf(dir, sizeof dir, "%s/rule-0", root);
    {
        mb_t b = mk_next(m, 2, 1, 50);
        c.segment_bytes = (int64_t)b.len * 3;
        free(b.bytes);
    }
    log = open_log(dir, &c);
    if (!log)
        return;
    for (int k = 0; k < 4; k++)
        append_one(log, m, 2, 1 + k, 50);
    tap_ok(log->nsegs == 2 && log->segs[1]->base == m->b[3].base,
           "segment filled to exactly segment.bytes, then rolled");
    {
        char f[512];
        size_t n, pos = 0;
        uint8_t *ix;
        int ok = log->segs[0]->idx.noff == 2;
        seg_log_close(log);
        seg_name(f, sizeof f, dir, 0, ".index");
        ix = read_file(f, &n);
        ok = ok && ix && n == 16;
        for (size_t k = 1; ok && k < 3; k++) {
            const uint8_t *e = ix + (k - 1) * 8;
            pos += m->b[k - 1].len;
            ok = e[3] == (uint8_t)m->b[k].last && e[7] == (uint8_t)pos && !e[0] && !e[4];
        }
        tap_ok(ok, "index.interval.bytes 0: one entry per batch after the first, on disk");
        free(ix);
    }
    model_free(m);

    /* flush.messages and flush.ms. */
    c = mkcfg(1 << 20, 4096);
    c.flush_messages = 5;
    c.flush_ms = 100;
    snprintf(dir, sizeof dir, "%s/flush-0", root);
    log = open_log(dir, &c);
    if (!log)
        return;
    append_one(log, m, 3, 1, 5);
    tap_is_int(log->unflushed, 3, "3 records unflushed");
    append_one(log, m, 3, 2, 5);
    tap_is_int(log->unflushed, 0, "flush.messages reached: flushed");
    append_one(log, m, 1, 3, 5);
    seg_log_tick(log, log->last_flush_ms + 99);
    tap_is_int(log->unflushed, 1, "flush.ms not yet");
    seg_log_tick(log, log->last_flush_ms + 100);
    tap_is_int(log->unflushed, 0, "flush.ms elapsed: flushed");
    tap_ok(seg_log_flush(log, 0, err, sizeof err) == 0, "explicit flush");
    seg_log_close(log);
    model_free(m);
    free(m);
}

static void test_remove(void)
{
    char dir[300], err[512] = "";
    od_log_config_t c = mkcfg(500, 100);
    model_t *m = calloc(1, sizeof *m);
    od_log_t *log;
    od_log_read_t r;
    uint8_t buf[4096];
    int fd;

    snprintf(dir, sizeof dir, "%s/gone-0", root);
    log = open_log(dir, &c);
    if (!log)
        return;
    fill(log, m, 20);
    if (!tap_ok(seg_log_read(log, 0, 0, &r, err, sizeof err) == 0 && r.nranges == 1,
                "read a range before remove"))
        return;
    tap_ok(seg_log_remove(log, err, sizeof err) == 0, "remove");
    tap_ok(file_size(dir) < 0, "partition directory is gone");
    {
        DIR *d = opendir(root);
        struct dirent *de;
        int left = 0;
        while (d && (de = readdir(d)) != NULL)
            left |= strstr(de->d_name, "-delete") != NULL;
        if (d)
            closedir(d);
        tap_ok(!left, "no -delete directory left");
    }
    fd = r.ranges[0].fd;
    tap_ok(pread(fd, buf, r.ranges[0].len, r.ranges[0].file_off) == (ssize_t)r.ranges[0].len &&
               !memcmp(buf, m->b[0].bytes, m->b[0].len),
           "outstanding range still readable after remove");
    r.ranges[0].release(r.ranges[0].opaque);
    tap_ok(fcntl(fd, F_GETFD) < 0 && errno == EBADF, "fd closed at release");
    model_free(m);
    free(m);
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    int n = 0;
    while (d && (de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    if (d)
        closedir(d);
    return n - 1; /* the directory's own */
}

/* Many logs, few descriptors: the pool keeps at most `cap` .log files
 * open, reads still return the right bytes (as copies once descriptors are
 * scarce), held ranges stay readable, and a restart opens no more. */
#define POOL_LOGS 40
#define POOL_CAP  8
static void test_pool(void)
{
    od_log_config_t c = mkcfg(500, 100);
    od_log_t *logs[POOL_LOGS];
    model_t *m = calloc(POOL_LOGS, sizeof *m);
    od_log_read_t *held = calloc(POOL_LOGS, sizeof *held);
    char dir[300], err[512];
    int fds0 = count_fds(), ok = 1, reads_ok = 1, copies = 0, files = 0, held_ok = 1;
    size_t most = 0;

    seg_files_set_cap(POOL_CAP);
    for (int i = 0; i < POOL_LOGS; i++) {
        snprintf(dir, sizeof dir, "%s/pool-%d", root, i);
        logs[i] = open_log(dir, &c);
        ok &= logs[i] && fill(logs[i], &m[i], 20) == 0 && logs[i]->nsegs > 2;
        if (seg_files_open() > most)
            most = seg_files_open();
    }
    tap_ok(ok, "%d logs of several segments written", POOL_LOGS);
    tap_ok(most <= POOL_CAP && count_fds() <= fds0 + POOL_CAP + 1, /* + the sync worker's */
           "at most %d .log files open while writing (%zu; %d fds more than before)", POOL_CAP,
           most, count_fds() - fds0);
    for (int i = 0; ok && i < POOL_LOGS; i++)
        reads_ok &= all_reads(logs[i], &m[i]) == NULL;
    tap_ok(ok && reads_ok, "every offset of every log reads back right");
    /* Hold one read per log, as fetch responses waiting to be sent do. */
    for (int i = 0; ok && i < POOL_LOGS; i++) {
        held_ok &= seg_log_read(logs[i], 0, 100000, &held[i], err, sizeof err) == 0 &&
                   held[i].nranges > 0;
        for (size_t k = 0; k < held[i].nranges; k++) {
            if (held[i].ranges[k].is_file)
                files++;
            else
                copies++;
        }
    }
    tap_ok(held_ok && files > 0 && copies > 0,
           "held reads: %d file ranges, %d copies once descriptors ran short", files, copies);
    tap_ok(seg_files_live() <= 2 * POOL_CAP && count_fds() <= fds0 + 2 * POOL_CAP + 1,
           "held reads pin at most %d descriptors (%zu)", 2 * POOL_CAP, seg_files_live());
    for (int i = 0; held_ok && i < POOL_LOGS; i++) {
        size_t at = 0;
        for (size_t k = 0; k < held[i].nranges; k++) {
            od_log_range_t *rg = &held[i].ranges[k];
            uint8_t *buf = malloc(rg->len);
            if (rg->is_file)
                held_ok &= pread(rg->fd, buf, rg->len, rg->file_off) == (ssize_t)rg->len;
            else
                memcpy(buf, rg->mem, rg->len);
            /* the first range starts with batch 0 */
            if (k == 0)
                held_ok &= rg->len >= m[i].b[0].len && !memcmp(buf, m[i].b[0].bytes, m[i].b[0].len);
            at += rg->len;
            free(buf);
            rg->release(rg->opaque);
        }
        held_ok &= at == held[i].total;
    }
    tap_ok(held_ok, "held ranges stay readable while the pool closes files");
    tap_ok(seg_files_live() <= POOL_CAP, "released: %zu descriptors open", seg_files_live());
    for (int i = 0; i < POOL_LOGS; i++)
        seg_log_close(logs[i]);
    tap_ok(seg_files_live() == 0 && count_fds() == fds0, "closed: no descriptor left");
    most = 0;
    for (int i = 0; ok && i < POOL_LOGS; i++) {
        snprintf(dir, sizeof dir, "%s/pool-%d", root, i);
        logs[i] = open_log(dir, &c);
        ok &= logs[i] != NULL;
        if (seg_files_open() > most)
            most = seg_files_open();
    }
    tap_ok(ok && most <= POOL_CAP, "reopened %d logs with at most %d files open (%zu)", POOL_LOGS,
           POOL_CAP, most);
    reads_ok = 1;
    for (int i = 0; ok && i < POOL_LOGS; i++) {
        reads_ok &= all_reads(logs[i], &m[i]) == NULL;
        reads_ok &= append_one(logs[i], &m[i], 2, ts_for(m[i].n), 10) == 0;
        reads_ok &= all_reads(logs[i], &m[i]) == NULL;
    }
    tap_ok(ok && reads_ok, "after reopening: reads right, appends continue");
    for (int i = 0; ok && i < POOL_LOGS; i++) {
        seg_log_close(logs[i]);
        model_free(&m[i]);
    }
    seg_files_set_cap(0);
    free(held);
    free(m);
}

/* A log that cannot be opened gives an error with a message, holds no
 * descriptor or memory afterwards (ASan checks the latter), and opens
 * fine once the cause is gone. */
static void test_open_errors(void)
{
    od_log_config_t c = mkcfg(500, 100);
    model_t *m = calloc(1, sizeof *m);
    char dir[300], f[512], err[512];
    od_log_t *log;
    int fds0, rc;
    struct rlimit old, low;

    /* The partition directory is a file. */
    snprintf(dir, sizeof dir, "%s/notadir-0", root);
    write_file(dir, (const uint8_t *)"x", 1);
    fds0 = count_fds();
    err[0] = 0;
    rc = seg_log_open(dir, &c, &log, err, sizeof err);
    tap_ok(rc < 0 && !log && strstr(err, "notadir-0") && count_fds() == fds0,
           "directory is a file: error (%s)", err);
    unlink(dir);

    /* A segment in the middle is not a regular file. */
    snprintf(dir, sizeof dir, "%s/badseg-0", root);
    log = open_log(dir, &c);
    if (!log || fill(log, m, 30) < 0 || log->nsegs < 3) {
        tap_ok(0, "badseg: setup");
        return;
    }
    {
        int64_t b1 = log->segs[1]->base;
        seg_log_close(log);
        seg_name(f, sizeof f, dir, b1, ".log");
        unlink(f);
        mkdir(f, 0755);
    }
    fds0 = count_fds();
    err[0] = 0;
    rc = seg_log_open(dir, &c, &log, err, sizeof err);
    tap_ok(rc < 0 && !log && strstr(err, ".log") && count_fds() == fds0 && seg_files_live() == 0,
           "a segment that is a directory: error, nothing held (%s)", err);
    rmdir(f);

    /* Out of descriptors: the pool has nothing idle to give back. */
    snprintf(dir, sizeof dir, "%s/emfile-0", root);
    model_free(m);
    log = open_log(dir, &c);
    rc = log && fill(log, m, 30) == 0;
    seg_log_close(log);
    getrlimit(RLIMIT_NOFILE, &old);
    low = old;
    fds0 = count_fds();
    {
        int probe = dup(0); /* the lowest free descriptor number */
        close(probe);
        low.rlim_cur = (rlim_t)probe; /* no number below the limit is free */
    }
    if (!rc || setrlimit(RLIMIT_NOFILE, &low) < 0) {
        tap_ok(0, "emfile: setup: %s", strerror(errno));
        return;
    }
    err[0] = 0;
    rc = seg_log_open(dir, &c, &log, err, sizeof err);
    setrlimit(RLIMIT_NOFILE, &old);
    tap_ok(rc < 0 && !log && strstr(err, "Too many open files") && count_fds() == fds0 &&
               seg_files_live() == 0,
           "RLIMIT_NOFILE reached: error, nothing held (%s)", err);
    log = open_log(dir, &c);
    tap_ok(log && check_all_reads(log, m, "emfile: reopened with descriptors"),
           "the log opens and reads right once descriptors are available");
    seg_log_close(log);
    model_free(m);
    free(m);
}


/* truncate_to (ABI 1.3): cut inside a segment, at a batch boundary, across
 * segments, below the start; reads, appends and a reopen agree with it. */
static void test_truncate(void)
{
    char dir[300], err[512] = "";
    model_t m = {0};
    od_log_config_t c = mkcfg(4000, 300);
    od_log_t *log;
    int64_t cut;
    size_t k;

    snprintf(dir, sizeof dir, "%s/trunc-0", root);
    log = open_log(dir, &c);
    if (!log || fill(log, &m, 120) < 0) {
        tap_ok(0, "truncate: setup");
        return;
    }
    tap_ok(log->nsegs > 3, "truncate: %zu segments to cut through", log->nsegs);
    /* Inside a batch: the batch holding the offset goes too. */
    k = m.n - 10;
    cut = m.b[k].base + (m.b[k].last > m.b[k].base ? 1 : 0);
    tap_ok(seg_log_truncate_to(log, cut, err, sizeof err) == 0, "truncate inside batch %zu", k);
    tap_ok(seg_log_end_offset(log) == m.b[k].base, "end is that batch's base (%lld)",
           (long long)seg_log_end_offset(log));
    while (m.n > k)
        free(m.b[--m.n].bytes);
    tap_ok(check_all_reads(log, &m, "after truncate"), "reads match the shorter log");
    tap_ok(seg_log_truncate_to(log, seg_log_end_offset(log), err, sizeof err) == 0 &&
           seg_log_end_offset(log) == model_end(&m), "truncate at the end: no-op");
    /* Across segments: back to the middle of the log. */
    k = m.n / 2;
    tap_ok(seg_log_truncate_to(log, m.b[k].base, err, sizeof err) == 0 &&
           seg_log_end_offset(log) == m.b[k].base, "truncate at a boundary segments back");
    while (m.n > k)
        free(m.b[--m.n].bytes);
    tap_ok(fill(log, &m, 30) == 0, "appends continue at the new end");
    tap_ok(check_all_reads(log, &m, "truncate+append"), "reads match after appending again");
    seg_log_close(log);
    log = open_log(dir, &c);
    tap_ok(log && seg_log_end_offset(log) == model_end(&m), "reopen: same end (%lld)",
           log ? (long long)seg_log_end_offset(log) : -1LL);
    tap_ok(log && check_all_reads(log, &m, "truncate reopen"), "reopen: reads match");
    /* Below the start: an empty log at that offset. */
    tap_ok(log && seg_log_advance_start(log, m.b[3].base, err, sizeof err) == 0, "start moved");
    tap_ok(log && seg_log_truncate_to(log, m.b[1].base, err, sizeof err) == 0 &&
           seg_log_end_offset(log) == m.b[1].base && seg_log_start_offset(log) == m.b[1].base,
           "below the start: empty log starting there");
    if (log)
        seg_log_close(log);
    log = open_log(dir, &c);
    tap_ok(log && seg_log_end_offset(log) == m.b[1].base && seg_log_start_offset(log) == m.b[1].base,
           "reopen: still empty at %lld", (long long)m.b[1].base);
    /* Past the end (a follower behind the leader's log start): empty there. */
    tap_ok(log && seg_log_truncate_to(log, m.b[1].base + 1000, err, sizeof err) == 0 &&
           seg_log_start_offset(log) == m.b[1].base + 1000 &&
           seg_log_end_offset(log) == m.b[1].base + 1000, "past the end: empty, starting there");
    if (log)
        seg_log_close(log);
    log = open_log(dir, &c);
    tap_ok(log && seg_log_start_offset(log) == m.b[1].base + 1000 &&
           seg_log_end_offset(log) == m.b[1].base + 1000, "reopen: the same");
    if (log)
        seg_log_close(log);
    model_free(&m);
}

int main(void)
{
    snprintf(root, sizeof root, "/tmp/odtest-segment.XXXXXX");
    if (!mkdtemp(root)) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    if (!getenv("TEST_VERBOSE"))
        od_logging_set_level(OD_LOG_ERROR);
    tap_no_plan();
    test_basic();
    test_recovery();
    test_rolls_and_flush();
    test_remove();
    test_pool();
    test_open_errors();
    test_truncate();
    seg_remove_tree(root);
    return tap_done();
}
