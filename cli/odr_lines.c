/* odr_lines.c - lines of a file descriptor, waiting with poll(2) so the
 * caller's idle function runs while the input is quiet (odr_lines.h). */
#include "odr_lines.h"
#include "odr.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ODR_LINES_READ 65536

void odr_lines_init(odr_lines_t *lr, int fd)
{
    memset(lr, 0, sizeof(*lr));
    lr->fd = fd;
}

void odr_lines_free(odr_lines_t *lr)
{
    free(lr->buf);
    memset(lr, 0, sizeof(*lr));
}

/* Room for ODR_LINES_READ more bytes and a NUL after them: the unread
 * bytes moved to the front first, the buffer doubled only when a line is
 * longer than what it holds. */
static int make_room(odr_lines_t *lr)
{
    if (lr->start > 0) {
        size_t n = lr->end - lr->start;
        memmove(lr->buf, lr->buf + lr->start, n);
        lr->scanned -= lr->start;
        lr->end = n;
        lr->start = 0;
    }
    if (lr->cap - lr->end > ODR_LINES_READ)
        return 0;
    size_t cap = lr->cap ? lr->cap : ODR_LINES_READ + 1;
    while (cap - lr->end <= ODR_LINES_READ) {
        if (cap > ((size_t)-1) / 2) {
            errno = ENOMEM;
            return -1;
        }
        cap *= 2;
    }
    char *b = realloc(lr->buf, cap);
    if (!b)
        return -1;
    lr->buf = b;
    lr->cap = cap;
    return 0;
}

static int take(odr_lines_t *lr, size_t stop, size_t next, char **line, size_t *len)
{
    lr->buf[stop] = '\0';
    *line = lr->buf + lr->start;
    *len = stop - lr->start;
    lr->start = lr->scanned = next;
    return 1;
}

int odr_lines_next(odr_lines_t *lr, char **line, size_t *len, odr_lines_idle_fn idle,
                   void *opaque, int idle_ms)
{
    for (;;) {
        if (odr_stop)
            return 0;
        char *nl = lr->scanned < lr->end ? memchr(lr->buf + lr->scanned, '\n',
                                                  lr->end - lr->scanned)
                                         : NULL;
        if (nl) {
            size_t at = (size_t)(nl - lr->buf);
            return take(lr, at, at + 1, line, len);
        }
        lr->scanned = lr->end;
        if (lr->eof)
            return lr->start < lr->end ? take(lr, lr->end, lr->end, line, len) : 0;
        if (make_room(lr) < 0)
            return -1;
        struct pollfd p = {.fd = lr->fd, .events = POLLIN};
        int ready = poll(&p, 1, idle_ms);
        if (ready < 0 && errno != EINTR)
            return -1;
        if (ready <= 0) {
            if (ready == 0 && idle)
                idle(opaque);
            continue;
        }
        ssize_t n = read(lr->fd, lr->buf + lr->end, ODR_LINES_READ);
        if (n < 0 && errno != EINTR && errno != EAGAIN)
            return -1;
        if (n == 0)
            lr->eof = 1;
        else if (n > 0)
            lr->end += (size_t)n;
    }
}
