/* kraft_snapshot.h - snapshot files of the metadata image (kraft_snapshot.c). */
#ifndef KRAFT_SNAPSHOT_H
#define KRAFT_SNAPSHOT_H

#include "kraft.h"

/* Kafka's OffsetAndEpoch of a snapshot: the image holds every record below
 * end_offset; epoch is the leader epoch of the last one. */
typedef struct kraft_snap_id {
    int64_t end_offset;
    int32_t epoch;
} kraft_snap_id_t;

/* <dir>/<end offset>-<epoch>.checkpoint (part: the .checkpoint.part being
 * written). malloc'd. */
char *kraft_snap_path(const char *dir, kraft_snap_id_t id, int part);
/* The snapshots in dir, oldest first (*out malloc'd). Leftover .part files
 * are deleted. */
int kraft_snap_list(const char *dir, kraft_snap_id_t **out, size_t *n, char *err,
                    size_t errsz);
/* Writes the n records durably as snapshot id (see the file comment).
 * *bytes_out (may be NULL) gets the file size. Returns 0 or -1 with err. */
int kraft_snap_write(const char *dir, kraft_snap_id_t id, const od_meta_record_t *recs,
                     size_t n, int64_t last_ts, int64_t *bytes_out, char *err, size_t errsz);
/* Checks the whole file, then (if fn) hands each data record to fn in
 * order. Returns 0 with *nrecords, -1 with err when the file is not a valid
 * snapshot (nothing was handed out), -2 when fn failed. */
int kraft_snap_load(const char *dir, kraft_snap_id_t id, kraft_record_fn fn, void *arg,
                    int64_t *nrecords, char *err, size_t errsz);
/* Deletes all but the newest `keep` snapshots. */
int kraft_snap_prune(const char *dir, size_t keep, char *err, size_t errsz);

#endif
