/* od_readcut.c - a log read cut at an offset: a consumer reading from a
 * leader whose followers do not all have the newest batches yet sees only
 * what lies below the high watermark. The storage backend reads whole
 * batches up to a byte budget, so the batches at and above the cut are
 * found by their headers (memory, or pread of file ranges) and dropped. */
#include <stdlib.h>
#include <unistd.h>

#include "od_batch.h"
#include "od_repl.h"

#define HDR 61

static int header_at(const od_log_range_t *g, size_t pos, od_batch_hdr_t *h)
{
    uint8_t b[HDR];
    const uint8_t *p = b;
    if (pos + HDR > g->len)
        return -1;
    if (g->is_file) {
        if (pread(g->fd, b, HDR, g->file_off + (off_t)pos) != HDR)
            return -1;
    } else {
        p = g->mem + pos;
    }
    return od_batch_parse_header(p, HDR, h) < 0 || h->batch_length < 49 ? -1 : 0;
}

void od_repl_cut_read(od_log_read_t *rd, int64_t upto)
{
    size_t i = 0, total = 0;
    int cut = 0;
    for (; i < rd->nranges && !cut; i++) {
        od_log_range_t *g = &rd->ranges[i];
        size_t pos = 0;
        while (pos < g->len) {
            od_batch_hdr_t h;
            if (header_at(g, pos, &h) < 0 || h.base_offset >= upto)
                break; /* an unreadable header ends what we dare send */
            size_t sz = 12 + (size_t)h.batch_length;
            if (sz > g->len - pos)
                break;
            pos += sz;
        }
        if (pos < g->len) {
            g->len = pos;
            cut = 1;
        }
        total += g->len;
    }
    /* Ranges after the cut (and an emptied one) go back to the backend. */
    size_t keep = i;
    if (keep > 0 && rd->ranges[keep - 1].len == 0)
        keep--;
    for (size_t k = keep; k < rd->nranges; k++)
        if (rd->ranges[k].release)
            rd->ranges[k].release(rd->ranges[k].opaque);
    rd->nranges = keep;
    rd->total = total;
}
