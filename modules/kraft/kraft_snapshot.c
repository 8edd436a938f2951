/* kraft_snapshot.c - snapshots of the metadata image (KIP-630).
 *
 * A snapshot is the image at a committed offset, written as Kafka lays it
 * out: __cluster_metadata-0/<20-digit end offset>-<10-digit epoch>.checkpoint
 * holding RecordBatches (offsets from 0, the snapshot's epoch as leader
 * epoch) whose first record is a SnapshotHeader control record (type 3) and
 * whose last is a SnapshotFooter (type 4); the records between are the
 * core's od_metadata_snapshot(). It is written as <name>.checkpoint.part,
 * fsync'd, renamed and the directory fsync'd, so a crash leaves either the
 * whole file or a .part that the next start deletes. A reader checks every
 * batch (framing, offsets, CRC-32C) and the header/footer pair before it
 * hands out a single record, so a damaged file is refused as a whole. */
#include "kraft_log_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kraft_snapshot.h"

#define SNAP_SUFFIX ".checkpoint"
#define SNAP_PART_SUFFIX ".checkpoint.part"
/* Records per data batch: keeps each batch far below KRAFT_MAX_BATCH_BYTES
 * (a metadata record is at most a few KiB). */
#define SNAP_BATCH_RECORDS 1024
#define CONTROL_SNAPSHOT_HEADER 3
#define CONTROL_SNAPSHOT_FOOTER 4

char *kraft_snap_path(const char *dir, kraft_snap_id_t id, int part)
{
    size_t n = strlen(dir) + 64;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%020" PRId64 "-%010" PRId32 "%s", dir, id.end_offset, id.epoch,
                 part ? SNAP_PART_SUFFIX : SNAP_SUFFIX);
    return p;
}

static int parse_name(const char *name, kraft_snap_id_t *id, int *part)
{
    size_t len = strlen(name);
    if (len < 31 || name[20] != '-')
        return -1;
    for (size_t i = 0; i < 31; i++)
        if (i != 20 && (name[i] < '0' || name[i] > '9'))
            return -1;
    if (strcmp(name + 31, SNAP_SUFFIX) == 0)
        *part = 0;
    else if (strcmp(name + 31, SNAP_PART_SUFFIX) == 0)
        *part = 1;
    else
        return -1;
    int64_t off = strtoll(name, NULL, 10);
    long long ep = strtoll(name + 21, NULL, 10);
    if (off < 0 || ep > INT32_MAX)
        return -1;
    id->end_offset = off;
    id->epoch = (int32_t)ep;
    return 0;
}

static int cmp_id(const void *a, const void *b)
{
    const kraft_snap_id_t *x = a, *y = b;
    if (x->end_offset != y->end_offset)
        return x->end_offset < y->end_offset ? -1 : 1;
    return x->epoch < y->epoch ? -1 : x->epoch > y->epoch;
}

int kraft_snap_list(const char *dir, kraft_snap_id_t **out, size_t *n, char *err, size_t errsz)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errsz, "cannot list %s: %s", dir, strerror(errno));
        return -1;
    }
    size_t cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        kraft_snap_id_t id;
        int part;
        if (parse_name(e->d_name, &id, &part) < 0)
            continue;
        if (part) { /* a write that did not finish */
            char *p = kraft_snap_path(dir, id, 1);
            if (p && unlink(p) == 0)
                od_logf(OD_LOG_WARN, "kraft: removed unfinished snapshot %s", p);
            free(p);
            continue;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            kraft_snap_id_t *g = realloc(*out, cap * sizeof *g);
            if (!g) {
                snprintf(err, errsz, "out of memory");
                rc = -1;
                break;
            }
            *out = g;
        }
        (*out)[(*n)++] = id;
    }
    closedir(d);
    if (rc < 0) {
        free(*out);
        *out = NULL;
        *n = 0;
        return -1;
    }
    if (*n > 1)
        qsort(*out, *n, sizeof **out, cmp_id);
    return 0;
}

/* A control record: key = version 0, type; value = version 0, then for the
 * header LastContainedLogTimestamp; then an empty tagged-field section. */
static void control_record(uint8_t key[4], uint8_t *val, size_t *val_len, int16_t type,
                           int64_t last_ts)
{
    kraft_put_be16(key, 0);
    kraft_put_be16(key + 2, (uint16_t)type);
    kraft_put_be16(val, 0);
    size_t n = 2;
    if (type == CONTROL_SNAPSHOT_HEADER) {
        kraft_put_be64(val + 2, (uint64_t)last_ts);
        n += 8;
    }
    val[n++] = 0;
    *val_len = n;
}

static int write_batch(int fd, uint8_t *b, size_t len, int64_t *pos, char *err, size_t errsz)
{
    if (!b)
        return -1;
    int rc = kraft_lg_pwrite(fd, b, len, *pos);
    free(b);
    if (rc < 0) {
        snprintf(err, errsz, "write: %s", strerror(errno));
        return -1;
    }
    *pos += (int64_t)len;
    return 0;
}

static int write_control(int fd, int64_t *next, int32_t epoch, int16_t type, int64_t ts,
                         int64_t *pos, char *err, size_t errsz)
{
    uint8_t key[4], val[16];
    size_t vlen, len;
    control_record(key, val, &vlen, type, ts);
    od_meta_record_t k = {.data = key, .len = 4}, v = {.data = val, .len = vlen};
    uint8_t *b = kraft_lg_encode_batch(*next, epoch, 1, &k, &v, 1, ts, &len, err, errsz);
    (*next)++;
    return write_batch(fd, b, len, pos, err, errsz);
}

int kraft_snap_write(const char *dir, kraft_snap_id_t id, const od_meta_record_t *recs,
                     size_t n, int64_t last_ts, int64_t *bytes_out, char *err, size_t errsz)
{
    char *tmp = kraft_snap_path(dir, id, 1), *path = kraft_snap_path(dir, id, 0);
    int fd = -1, rc = -1;
    if (!tmp || !path) {
        snprintf(err, errsz, "out of memory");
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errsz, "cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    int64_t pos = 0, next = 0;
    if (write_control(fd, &next, id.epoch, CONTROL_SNAPSHOT_HEADER, last_ts, &pos, err,
                      errsz) < 0)
        goto out;
    for (size_t i = 0; i < n; i += SNAP_BATCH_RECORDS) {
        size_t m = n - i < SNAP_BATCH_RECORDS ? n - i : SNAP_BATCH_RECORDS, len;
        uint8_t *b = kraft_lg_encode_batch(next, id.epoch, 0, NULL, recs + i, m, last_ts, &len,
                                           err, errsz);
        next += (int64_t)m;
        if (write_batch(fd, b, len, &pos, err, errsz) < 0)
            goto out;
    }
    if (write_control(fd, &next, id.epoch, CONTROL_SNAPSHOT_FOOTER, last_ts, &pos, err,
                      errsz) < 0)
        goto out;
    int committed = kraft_commit_tmp(fd, tmp, path, dir, err, errsz);
    fd = -1; /* closed */
    if (committed < 0)
        goto out;
    if (bytes_out)
        *bytes_out = pos;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc < 0 && tmp)
        unlink(tmp);
    free(tmp);
    free(path);
    return rc;
}

/* ---- reading ------------------------------------------------------------------ */

typedef struct snap_walk {
    kraft_record_fn fn; /* NULL: only check */
    void *arg;
    int64_t nrecords;   /* records seen so far */
    int header_seen, footer_seen;
    int64_t data_records;
} snap_walk_t;

static int control_type(const kraft_record_t *r)
{
    if (!r->control || !r->key || r->key_len < 4)
        return -1;
    return kraft_get_be16(r->key + 2);
}

static int walk_record(void *arg, const kraft_record_t *r, char *err, size_t errsz)
{
    snap_walk_t *w = arg;
    int type = control_type(r);
    if (w->footer_seen) {
        snprintf(err, errsz, "a record after the SnapshotFooter");
        return -1;
    }
    if (w->nrecords++ == 0) {
        if (type != CONTROL_SNAPSHOT_HEADER) {
            snprintf(err, errsz, "the first record is not a SnapshotHeader");
            return -1;
        }
        w->header_seen = 1;
        return 0;
    }
    if (type == CONTROL_SNAPSHOT_FOOTER) {
        w->footer_seen = 1;
        return 0;
    }
    if (r->control) {
        snprintf(err, errsz, "unexpected control record of type %d", type);
        return -1;
    }
    w->data_records++;
    return w->fn ? w->fn(w->arg, r, err, errsz) : 0;
}

static int walk_file(const char *path, snap_walk_t *w, char *err, size_t errsz)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errsz, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) < 0) {
        snprintf(err, errsz, "stat %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    int64_t pos = 0, next = 0;
    while (rc == 0 && pos < st.st_size) {
        const char *why;
        size_t len;
        char e2[256] = "";
        uint8_t *b = kraft_lg_read_batch(fd, pos, st.st_size, next, 0, &len, &why, e2,
                                         sizeof e2);
        if (!b) {
            snprintf(err, errsz, "%s, byte %" PRId64 ": %s", path, pos, why ? why : e2);
            rc = -1;
            break;
        }
        batch_hdr_t h;
        kraft_lg_parse_hdr(b, &h);
        int r = kraft_lg_walk_batch(b, len, walk_record, w, &why, e2, sizeof e2);
        free(b);
        if (r < 0) {
            snprintf(err, errsz, "%s, byte %" PRId64 ": %s", path, pos, r == -1 ? why : e2);
            rc = -1;
        }
        pos += (int64_t)len;
        next = h.base_offset + h.record_count;
    }
    close(fd);
    if (rc == 0 && !w->footer_seen) {
        snprintf(err, errsz, "%s has no SnapshotFooter (incomplete)", path);
        rc = -1;
    }
    return rc;
}

int kraft_snap_load(const char *dir, kraft_snap_id_t id, kraft_record_fn fn, void *arg,
                    int64_t *nrecords, char *err, size_t errsz)
{
    char *path = kraft_snap_path(dir, id, 0);
    if (!path) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    snap_walk_t check = {0};
    int rc = walk_file(path, &check, err, errsz); /* nothing is applied from a bad file */
    if (rc == 0 && fn) {
        snap_walk_t apply = {.fn = fn, .arg = arg};
        rc = walk_file(path, &apply, err, errsz) < 0 ? -2 : 0;
    }
    if (rc == 0 && nrecords)
        *nrecords = check.data_records;
    free(path);
    return rc;
}

int kraft_snap_prune(const char *dir, size_t keep, char *err, size_t errsz)
{
    kraft_snap_id_t *ids;
    size_t n;
    if (kraft_snap_list(dir, &ids, &n, err, errsz) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i + keep < n; i++) {
        char *p = kraft_snap_path(dir, ids[i], 0);
        if (!p || (unlink(p) < 0 && errno != ENOENT)) {
            snprintf(err, errsz, "cannot delete snapshot %s: %s", p ? p : "?", strerror(errno));
            rc = -1;
        }
        free(p);
    }
    free(ids);
    return rc;
}
