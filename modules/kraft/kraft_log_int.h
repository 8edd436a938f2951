/* kraft_log_int.h - helpers shared by the metadata log's files
 * (kraft_log.c: open, recover, append, read; kraft_log_repl.c: what Raft
 * replication needs: raw batch reads, appends of a leader's batches,
 * truncation). Not for the rest of the module. */
#ifndef KRAFT_LOG_INT_H
#define KRAFT_LOG_INT_H

#include <sys/types.h>

#include "kraft.h"

typedef struct batch_hdr {
    int64_t base_offset;
    int32_t batch_length;
    int32_t epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int32_t record_count;
} batch_hdr_t;

char *kraft_lg_seg_path(const kraft_log_t *log, int64_t base);
ssize_t kraft_lg_pread(int fd, void *buf, size_t len, off_t off);
int kraft_lg_pwrite(int fd, const void *buf, size_t len, off_t off);
void kraft_lg_parse_hdr(const uint8_t *p, batch_hdr_t *h);
const char *kraft_lg_check_hdr(const batch_hdr_t *h, int64_t expect_offset);
int kraft_lg_walk_batch(const uint8_t *b, size_t len, kraft_record_fn fn, void *arg,
                        const char **why, char *err, size_t errsz);
uint8_t *kraft_lg_read_batch(int fd, int64_t pos, int64_t file_size, int64_t expect_offset,
                             int32_t min_epoch, size_t *len_out, const char **why, char *err,
                             size_t errsz);
int kraft_lg_note_epoch(kraft_log_t *log, int32_t epoch, int64_t offset);
int kraft_lg_cut_tail(kraft_log_t *log, size_t i, int fd, int64_t pos, int64_t file_size,
                      const char *why, char *err, size_t errsz);
int kraft_lg_open_segment(kraft_log_t *log, int64_t base, int flags, char *err, size_t errsz);
int kraft_lg_roll(kraft_log_t *log, char *err, size_t errsz);
/* One RecordBatch v2 of n records with offsets base.., malloc'd; NULL with
 * err when it would pass KRAFT_MAX_BATCH_BYTES. Snapshots use it too. */
uint8_t *kraft_lg_encode_batch(int64_t base, int32_t epoch, int control,
                               const od_meta_record_t *keys, const od_meta_record_t *values,
                               size_t n, int64_t now_ms, size_t *len_out, char *err,
                               size_t errsz);

#endif
