/* filelog.c - an example control plane for a single node: the metadata
 * log is one file, every committed record appended to it and synced before
 * it counts. Topics, configs, ACLs and SCRAM credentials survive a
 * restart; there is no replication, no election and no snapshot (the file
 * only grows). Select it with
 *
 *     load_module /path/to/filelog.so
 *     control.plane.backend=filelog
 *
 * The core turns every metadata change (CreateTopics, AlterConfigs, ...)
 * into encoded KRaft metadata records and hands them to propose(); a
 * control plane orders and persists these opaque byte strings, applies
 * each committed one to the core's image with od_metadata_apply(), then
 * calls the proposer back. At start it replays what it kept.
 *
 * The file, <first of log.dirs>/__filelog_metadata/metadata.log:
 *     "FILELOG1 " <cluster id, 22 chars> "\n"        (32 bytes)
 *     then per record: length (u32 BE), CRC-32C of the body (u32 BE), body
 * A torn tail (a crash during a write) is cut off at the start.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <odradek-module.h>

#define FILELOG_DIR "__filelog_metadata"
#define FILELOG_HEADER_LEN 32
#define FILELOG_RECORD_MAX (1u << 20) /* a metadata record is small */
/* Kafka's KAFKA_STORAGE_ERROR, answered (negated) when the file fails. */
#define FILELOG_ERR_STORAGE 56

typedef struct filelog {
    od_core_t *core;
    int fd;
    char cluster_id[23];
    int64_t next_offset; /* offset the next record gets (records since the start) */
} filelog_t;

static filelog_t filelog = {.fd = -1};

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A new cluster id: 16 random bytes in URL-safe base64 without padding,
 * the shape Kafka's kafka-storage random-uuid prints. */
static int new_cluster_id(char out[23], char *err, size_t errsz)
{
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t u[18] = {0};
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, u, 16) != 16) {
        snprintf(err, errsz, "/dev/urandom: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    for (int i = 0, o = 0; o < 22; i += 3) {
        uint32_t v = (uint32_t)u[i] << 16 | (uint32_t)u[i + 1] << 8 | u[i + 2];
        for (int k = 18; k >= 0 && o < 22; k -= 6)
            out[o++] = b64[(v >> k) & 63];
    }
    out[22] = '\0';
    return 0;
}

/* Write all of buf (a short write is retried; an error leaves errno). */
static int write_all(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Read the file, replay every whole record into the core's image and cut
 * a torn tail. The file is small enough to read at once: metadata only. */
static int replay(filelog_t *fl, const char *path, char *err, size_t errsz)
{
    struct stat st;
    if (fstat(fl->fd, &st) < 0) {
        snprintf(err, errsz, "%s: %s", path, strerror(errno));
        return -1;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) {
        snprintf(err, errsz, "out of memory reading %s", path);
        return -1;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(fl->fd, buf + got, size - got, (off_t)got);
        if (n <= 0) {
            snprintf(err, errsz, "%s: %s", path, n < 0 ? strerror(errno) : "short read");
            free(buf);
            return -1;
        }
        got += (size_t)n;
    }
    if (size < FILELOG_HEADER_LEN || memcmp(buf, "FILELOG1 ", 9) != 0 ||
        buf[FILELOG_HEADER_LEN - 1] != '\n') {
        snprintf(err, errsz, "%s is not a filelog metadata file", path);
        free(buf);
        return -1;
    }
    memcpy(fl->cluster_id, buf + 9, 22);
    fl->cluster_id[22] = '\0';
    size_t pos = FILELOG_HEADER_LEN;
    while (size - pos >= 8) {
        uint32_t len = get_u32(buf + pos), crc = get_u32(buf + pos + 4);
        if (len > FILELOG_RECORD_MAX || len > size - pos - 8 ||
            od_crc32c(0, buf + pos + 8, len) != crc)
            break; /* a torn or damaged tail: the write never completed */
        if (od_metadata_apply(fl->core, buf + pos + 8, len, fl->next_offset, err, errsz) < 0) {
            free(buf);
            return -1; /* a record the core cannot decode: stop the start */
        }
        fl->next_offset++;
        pos += 8 + len;
    }
    free(buf);
    if (pos != size) {
        od_logf(OD_LOG_WARN, "filelog: %s: cutting %zu bytes of an incomplete write", path,
                size - pos);
        if (ftruncate(fl->fd, (off_t)pos) < 0 || fsync(fl->fd) < 0) {
            snprintf(err, errsz, "%s: %s", path, strerror(errno));
            return -1;
        }
    }
    return 0;
}

static int filelog_start(void *self, od_core_t *core, char *err, size_t errsz)
{
    filelog_t *fl = self;
    fl->core = core;
    fl->next_offset = 0;
    const char *base = od_core_data_dir(core);
    char dir[4096], path[4200];
    if (!base || !*base) {
        snprintf(err, errsz, "log.dirs is not set");
        return -1;
    }
    snprintf(dir, sizeof dir, "%s/" FILELOG_DIR, base);
    snprintf(path, sizeof path, "%s/metadata.log", dir);
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        snprintf(err, errsz, "%s: %s", dir, strerror(errno));
        return -1;
    }
    fl->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fl->fd < 0) {
        snprintf(err, errsz, "%s: %s", path, strerror(errno));
        return -1;
    }
    off_t end = lseek(fl->fd, 0, SEEK_END);
    if (end == 0) { /* a new cluster: write the header first */
        char hdr[FILELOG_HEADER_LEN + 1];
        if (new_cluster_id(fl->cluster_id, err, errsz) < 0)
            goto fail;
        snprintf(hdr, sizeof hdr, "FILELOG1 %s\n", fl->cluster_id);
        if (write_all(fl->fd, (const uint8_t *)hdr, FILELOG_HEADER_LEN) < 0 || fsync(fl->fd) < 0) {
            snprintf(err, errsz, "%s: %s", path, strerror(errno));
            goto fail;
        }
        od_logf(OD_LOG_INFO, "filelog: new cluster %s in %s", fl->cluster_id, path);
    } else if (replay(fl, path, err, errsz) < 0) {
        goto fail;
    }
    lseek(fl->fd, 0, SEEK_END);
    od_logf(OD_LOG_INFO, "filelog: metadata ready, %lld records replayed",
            (long long)fl->next_offset);
    return 0;
fail:
    close(fl->fd);
    fl->fd = -1;
    return -1;
}

static void filelog_stop(void *self)
{
    filelog_t *fl = self;
    if (fl->fd >= 0)
        close(fl->fd);
    fl->fd = -1;
}

/* All or none: the records go out in one write and one fsync; on failure
 * the file is cut back to where it was. Committed means synced, so the
 * image is updated and the caller told only after fsync returns. (A real
 * control plane would batch the syncs of one loop turn, as kraft does.) */
static int filelog_propose(void *self, const od_meta_record_t *recs, size_t n, od_propose_cb cb,
                           void *arg, char *err, size_t errsz)
{
    filelog_t *fl = self;
    (void)err, (void)errsz; /* every outcome goes through cb */
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (recs[i].len > FILELOG_RECORD_MAX) {
            cb(arg, -FILELOG_ERR_STORAGE, "metadata record too large");
            return 0;
        }
        total += 8 + recs[i].len;
    }
    uint8_t *buf = malloc(total ? total : 1);
    if (!buf) {
        cb(arg, -FILELOG_ERR_STORAGE, "out of memory");
        return 0;
    }
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        put_u32(buf + pos, (uint32_t)recs[i].len);
        put_u32(buf + pos + 4, od_crc32c(0, recs[i].data, recs[i].len));
        memcpy(buf + pos + 8, recs[i].data, recs[i].len);
        pos += 8 + recs[i].len;
    }
    off_t before = lseek(fl->fd, 0, SEEK_END);
    int bad = before < 0 || write_all(fl->fd, buf, total) < 0 || fdatasync(fl->fd) < 0;
    free(buf);
    if (bad) {
        char why[256];
        snprintf(why, sizeof why, "metadata log write: %s", strerror(errno));
        od_logf(OD_LOG_ERROR, "filelog: %s", why);
        if (before >= 0 && ftruncate(fl->fd, before) < 0)
            od_logf(OD_LOG_ERROR, "filelog: cannot cut back the failed write: %s",
                    strerror(errno));
        cb(arg, -FILELOG_ERR_STORAGE, why);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char why[256];
        if (od_metadata_apply(fl->core, recs[i].data, recs[i].len, fl->next_offset++, why,
                              sizeof why) < 0)
            od_logf(OD_LOG_ERROR, "filelog: committed record not applied: %s", why);
    }
    cb(arg, 0, NULL);
    return 0;
}

static int32_t filelog_controller_id(void *self)
{
    filelog_t *fl = self;
    return od_core_node_id(fl->core); /* a single node is always the controller */
}

static const char *filelog_cluster_id(void *self)
{
    filelog_t *fl = self;
    return fl->cluster_id[0] ? fl->cluster_id : NULL;
}

/* The core never opens a partition log in this directory. */
static const char *const filelog_owned_dirs[] = {FILELOG_DIR, NULL};

static const od_controlplane_ops_t filelog_ops = {
    .struct_size = sizeof(od_controlplane_ops_t),
    .name = "filelog",
    .start = filelog_start,
    .stop = filelog_stop,
    .propose = filelog_propose,
    .controller_id = filelog_controller_id,
    .cluster_id = filelog_cluster_id,
    .owned_dirs = filelog_owned_dirs,
};

static int filelog_init(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    if (od_register_controlplane(ctx, &filelog_ops, &filelog) != 0) {
        snprintf(err, errsz, "cannot register the filelog control plane");
        return -1;
    }
    return 0;
}

static void filelog_fini(od_module_ctx_t *ctx)
{
    (void)ctx;
}

od_module_t od_module = {
    .abi_major = OD_ABI_MAJOR,
    .abi_minor = OD_ABI_MINOR,
    .name = "filelog",
    .version = "1.0",
    .kinds = OD_KIND_CONTROLPLANE,
    .init = filelog_init,
    .fini = filelog_fini,
};
