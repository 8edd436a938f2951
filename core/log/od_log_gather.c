/* od_log_gather.c - a storage read result (memory and file ranges) copied
 * into one buffer, for readers that parse batches in place (the group and
 * route checkpoint loaders). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "od_partition.h"

uint8_t *od_log_read_gather(const od_log_read_t *rd, size_t *len)
{
    uint8_t *buf = malloc(rd->total ? rd->total : 1);
    size_t pos = 0;
    for (size_t i = 0; buf && i < rd->nranges; i++) {
        const od_log_range_t *r = &rd->ranges[i];
        if (!r->is_file) {
            memcpy(buf + pos, r->mem, r->len);
        } else {
            size_t got = 0;
            while (got < r->len) {
                ssize_t k = pread(r->fd, buf + pos + got, r->len - got, r->file_off + (off_t)got);
                if (k <= 0)
                    break;
                got += (size_t)k;
            }
            if (got < r->len) {
                free(buf);
                buf = NULL;
                break;
            }
        }
        pos += r->len;
    }
    for (size_t i = 0; i < rd->nranges; i++)
        if (rd->ranges[i].release)
            rd->ranges[i].release(rd->ranges[i].opaque);
    *len = pos;
    return buf;
}
