/* segment_state.c - small named state files kept in a partition directory
 * (put_state/get_state of the storage interface: producer-state snapshots,
 * checkpoints) and the atomic file replacement they and the log start
 * offset checkpoint use.
 *
 * A state called NAME lives in "<dir>/NAME.state". The suffix keeps every
 * name apart from segment files (20 digits + .log/.index/.timeindex, which
 * recovery parses strictly) and from our own bookkeeping files. Replacement
 * is write "<file>.tmp", fsync, rename over the old file, fsync the
 * directory: a crash leaves either the old or the new contents, never a mix. */
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEG_STATE_SUFFIX   ".state"
#define SEG_STATE_NAME_MAX 200
/* A state is small by contract; a larger file is damage, not data. */
#define SEG_STATE_MAX_BYTES (256LL << 20)

int seg_atomic_write(const char *dir, const char *file, const void *data, size_t len, char *err,
                     size_t errsz)
{
    char path[4096], tmp[4200];
    int fd;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >= sizeof path) {
        seg_err(err, errsz, "%s/%s: path too long", dir, file);
        return -1;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        seg_err(err, errsz, "%s: open: %s", tmp, strerror(errno));
        return -1;
    }
    if (seg_pwrite_all(fd, data, len, 0) < 0 || fsync(fd) < 0) {
        seg_err(err, errsz, "%s: write: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    close(fd);
    if (rename(tmp, path) < 0) {
        seg_err(err, errsz, "%s: rename to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    if (seg_fsync_dir(dir) < 0) {
        seg_err(err, errsz, "%s: fsync: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

int seg_read_small_file(const char *path, int64_t max, void **data, size_t *len, char *err,
                        size_t errsz)
{
    struct stat st;
    uint8_t *buf;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    *data = NULL;
    *len = 0;
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        seg_err(err, errsz, "%s: open: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0 || st.st_size > max) {
        if (st.st_size > max)
            seg_err(err, errsz, "%s: %lld bytes is larger than the %lld allowed", path,
                    (long long)st.st_size, (long long)max);
        else
            seg_err(err, errsz, "%s: fstat: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    buf = malloc((size_t)st.st_size + 1); /* +1: room for a terminator, never 0 bytes */
    if (!buf) {
        seg_err(err, errsz, "%s: out of memory", path);
        close(fd);
        return -1;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* shrank meanwhile: take what is there */
        got += (size_t)n;
    }
    close(fd);
    buf[got] = 0;
    *data = buf;
    *len = got;
    return 1;
}

/* Names are [a-z0-9._-]+, not "." or "..", at most SEG_STATE_NAME_MAX. */
static int name_ok(const char *name, char *err, size_t errsz)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > SEG_STATE_NAME_MAX || !strcmp(name, ".") || !strcmp(name, ".."))
        goto bad;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            goto bad;
    }
    return 1;
bad:
    seg_err(err, errsz, "segment: bad state name (want 1-%d of [a-z0-9._-], not . or ..)",
            SEG_STATE_NAME_MAX);
    return 0;
}

int seg_log_put_state(struct od_log *log, const char *name, const void *data, size_t len,
                      char *err, size_t errsz)
{
    char file[SEG_STATE_NAME_MAX + sizeof SEG_STATE_SUFFIX];
    if (!name_ok(name, err, errsz))
        return -1;
    if ((int64_t)len > SEG_STATE_MAX_BYTES) {
        seg_err(err, errsz, "%s: state %s of %zu bytes is too large", log->dir, name, len);
        return -1;
    }
    snprintf(file, sizeof file, "%s%s", name, SEG_STATE_SUFFIX);
    return seg_atomic_write(log->dir, file, data ? data : "", data ? len : 0, err, errsz);
}

int seg_log_get_state(struct od_log *log, const char *name, void **data, size_t *len, char *err,
                      size_t errsz)
{
    char path[4096];
    *data = NULL;
    *len = 0;
    if (!name_ok(name, err, errsz))
        return -1;
    snprintf(path, sizeof path, "%s/%s%s", log->dir, name, SEG_STATE_SUFFIX);
    return seg_read_small_file(path, SEG_STATE_MAX_BYTES, data, len, err, errsz);
}
