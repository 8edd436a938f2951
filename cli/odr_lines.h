/* odr_lines.h - the lines of a file descriptor, read with read(2) into a
 * buffer of its own, so that a caller knows when no whole line is there
 * and can do other work while it waits (odr produce serves librdkafka's
 * delivery reports, so `-v` prints each offset when it is acknowledged,
 * not when the next line is typed). stdio cannot say that: poll(2) on
 * stdin's descriptor misses what a FILE has buffered already. */
#ifndef ODR_LINES_H
#define ODR_LINES_H

#include <stddef.h>

typedef struct odr_lines {
    int fd;
    char *buf;
    size_t cap, start, end; /* the unread bytes are buf[start, end) */
    size_t scanned;         /* buf[start, scanned) holds no '\n' */
    int eof;
} odr_lines_t;

/* Called while no whole line has arrived, every idle_ms at most. */
typedef void (*odr_lines_idle_fn)(void *opaque);

void odr_lines_init(odr_lines_t *lr, int fd);
void odr_lines_free(odr_lines_t *lr);

/* The next line, without its '\n' and NUL-terminated (it may hold NULs:
 * len counts them), valid until the next call; the last line needs no
 * '\n'. Returns 1 with a line, 0 at the end of the input or when odr_stop
 * was set by a signal, -1 on a read error or no memory (errno says). */
int odr_lines_next(odr_lines_t *lr, char **line, size_t *len, odr_lines_idle_fn idle,
                   void *opaque, int idle_ms);

#endif
