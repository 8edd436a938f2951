/* segment_files.c - the store-wide pool of open segment .log descriptors.
 *
 * Kafka keeps every segment's files open; with a thousand partitions that
 * meets the common 1024 soft limit on open files half-way through creating
 * them. Here a segment holds its .log descriptor only while it is in use:
 * it is opened on demand (seg_segment_fd) and the least recently used ones
 * are closed once more than `cap` are open across all logs of the process
 * (storage.segment.max.open.files; 0 picks a quarter of the soft
 * RLIMIT_NOFILE). The active segment is no exception: a partition nobody
 * writes to costs no descriptor. Index files are never kept open (see
 * segment_index.c).
 *
 * Closing a pooled file only drops the segment's reference (seg_file_t):
 * a read range handed to the core keeps the descriptor open until the
 * response was sent and the range released, so sendfile never meets a
 * closed or reused fd. Those descriptors are briefly beyond the cap; their
 * number is bounded by the fetch responses in flight.
 *
 * All of it runs on the loop thread; nothing here is locked. */
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEG_FILES_MIN_AUTO 16

static struct {
    seg_segment_t *head, *tail; /* most recently used first */
    size_t open;                /* segments holding a descriptor */
    size_t cap;                 /* 0: not decided yet */
    size_t configured;          /* 0: auto */
} pool;

static size_t auto_cap(void)
{
    struct rlimit rl;
    size_t cap = 256;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        cap = (size_t)(rl.rlim_cur / 4);
    else if (rl.rlim_cur == RLIM_INFINITY)
        cap = 65536;
    return cap < SEG_FILES_MIN_AUTO ? SEG_FILES_MIN_AUTO : cap;
}

void seg_files_set_cap(size_t cap)
{
    pool.configured = cap;
    pool.cap = cap ? cap : auto_cap();
}

size_t seg_files_cap(void)
{
    if (!pool.cap)
        seg_files_set_cap(pool.configured);
    return pool.cap;
}

size_t seg_files_open(void) { return pool.open; }

static void unlink_lru(seg_segment_t *s)
{
    if (s->lru_prev)
        s->lru_prev->lru_next = s->lru_next;
    else
        pool.head = s->lru_next;
    if (s->lru_next)
        s->lru_next->lru_prev = s->lru_prev;
    else
        pool.tail = s->lru_prev;
    s->lru_prev = s->lru_next = NULL;
}

static void push_front(seg_segment_t *s)
{
    s->lru_prev = NULL;
    s->lru_next = pool.head;
    if (pool.head)
        pool.head->lru_prev = s;
    pool.head = s;
    if (!pool.tail)
        pool.tail = s;
}

void seg_segment_close_fd(seg_segment_t *s)
{
    if (!s->log)
        return;
    if (s->pooled) {
        unlink_lru(s);
        s->pooled = 0;
        pool.open--;
    }
    seg_file_unref(s->log); /* outstanding read ranges keep the fd */
    s->log = NULL;
}

/* Close least recently used files until fewer than `keep` are open. */
static void shrink_to(size_t keep)
{
    while (pool.open > keep && pool.tail)
        seg_segment_close_fd(pool.tail);
}

/* open(2) (mode 0644 with O_CREAT), making room in the pool first, and once
 * more after EMFILE or ENFILE (other parts of the process use descriptors
 * too). */
int seg_open_room(const char *path, int flags)
{
    int fd;
    size_t cap = seg_files_cap();
    shrink_to(cap > 0 ? cap - 1 : 0);
    fd = open(path, flags, 0644);
    if (fd < 0 && (errno == EMFILE || errno == ENFILE) && pool.open > 0) {
        shrink_to(pool.open / 2);
        fd = open(path, flags, 0644);
    }
    return fd;
}

static int adopt(seg_segment_t *s, int fd, const char *path, char *err, size_t errsz)
{
    s->log = seg_file_new(fd);
    if (!s->log) {
        seg_err(err, errsz, "%s: out of memory", path);
        close(fd);
        return -1;
    }
    s->pooled = 1;
    pool.open++;
    push_front(s);
    return 0;
}

int seg_segment_fd(seg_segment_t *s, char *err, size_t errsz)
{
    char path[4096];
    int fd;
    if (s->log) {
        if (s->pooled && pool.head != s) {
            unlink_lru(s);
            push_front(s);
        }
        return s->log->fd;
    }
    seg_segment_file(s, ".log", path, sizeof path);
    fd = seg_open_room(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        seg_err(err, errsz, "%s: open: %s", path, strerror(errno));
        return -1;
    }
    if (adopt(s, fd, path, err, errsz) < 0)
        return -1;
    return fd;
}

int seg_segment_open_log(seg_segment_t *s, int create, char *err, size_t errsz)
{
    char path[4096];
    struct stat st;
    int fd;
    seg_segment_close_fd(s);
    seg_segment_file(s, ".log", path, sizeof path);
    fd = seg_open_room(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0));
    if (fd < 0) {
        seg_err(err, errsz, "%s: open: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0) {
        seg_err(err, errsz, "%s: fstat: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        seg_err(err, errsz, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    if (adopt(s, fd, path, err, errsz) < 0)
        return -1;
    s->size = st.st_size;
    return 0;
}
