/* kraft_rpc_snapshot.c - FetchSnapshot (api 59, KIP-630) as the leader
 * answers it: a replica whose fetch offset is below the leader's log start
 * (its Fetch answer names a SnapshotId) reads the snapshot file in chunks.
 * A chunk is at most the request's MaxBytes and at most
 * KRAFT_SNAPSHOT_CHUNK, so an answer never makes the leader hold more. */
#include "kraft_rpc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kraft_log_int.h"
#include "kraft_snapshot.h"

#define KRAFT_SNAPSHOT_CHUNK (1024 * 1024)

/* Reads the chunk into p (data malloc'd into *data) or sets an error. */
static void read_chunk(kraft_t *k, const od_FetchSnapshotRequest_PartitionSnapshot_t *rp,
                       int32_t max_bytes, od_FetchSnapshotResponse_PartitionSnapshot_t *p,
                       uint8_t **data)
{
    kraft_snap_id_t id = {rp->snapshot_id.end_offset, rp->snapshot_id.epoch};
    char *path = id.end_offset >= 0 && id.epoch >= 0 ? kraft_snap_path(k->part_dir, id, 0) : NULL;
    int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        if (path && errno != ENOENT)
            od_logf(OD_LOG_WARN, "kraft: FetchSnapshot: %s: %s", path, strerror(errno));
        p->error_code = OD_ERR_SNAPSHOT_NOT_FOUND;
        goto out;
    }
    p->size = st.st_size;
    if (rp->position < 0 || rp->position >= st.st_size) {
        p->error_code = OD_ERR_POSITION_OUT_OF_RANGE;
        goto out;
    }
    int64_t n = st.st_size - rp->position;
    if (n > max_bytes)
        n = max_bytes > 0 ? max_bytes : 1;
    if (n > KRAFT_SNAPSHOT_CHUNK)
        n = KRAFT_SNAPSHOT_CHUNK;
    *data = malloc((size_t)n);
    ssize_t got = *data ? kraft_lg_pread(fd, *data, (size_t)n, rp->position) : -1;
    if (got <= 0) {
        od_logf(OD_LOG_WARN, "kraft: FetchSnapshot: cannot read %s: %s", path,
                *data ? strerror(errno) : "out of memory");
        p->error_code = OD_ERR_KAFKA_STORAGE_ERROR;
        goto out;
    }
    p->position = rp->position;
    p->unaligned_records.p = *data;
    p->unaligned_records.len = (int32_t)got;
out:
    if (fd >= 0)
        close(fd);
    free(path);
}

void kraft_handle_fetch_snapshot(kraft_t *k, const od_cp_request_t *req,
                                 const od_FetchSnapshotRequest_t *in, od_cp_reply_t *reply)
{
    od_FetchSnapshotResponse_t out;
    od_FetchSnapshotResponse_TopicSnapshot_t t;
    od_FetchSnapshotResponse_PartitionSnapshot_t p;
    uint8_t *data = NULL;
    od_FetchSnapshotResponse_init(&out);
    od_FetchSnapshotResponse_TopicSnapshot_init(&t);
    od_FetchSnapshotResponse_PartitionSnapshot_init(&p);
    p.unaligned_records.p = (const uint8_t *)"";
    p.unaligned_records.len = 0;
    out.error_code = kraft_frame_error(k, in->cluster_id, KRAFT_SINGLE(in, topics));
    if (out.error_code == OD_ERR_NONE) {
        const od_FetchSnapshotRequest_PartitionSnapshot_t *rp = &in->topics[0].partitions[0];
        t.name = in->topics[0].name;
        p.index = rp->partition;
        p.snapshot_id.end_offset = rp->snapshot_id.end_offset;
        p.snapshot_id.epoch = rp->snapshot_id.epoch;
        p.current_leader.leader_id = k->st.leader_id;
        p.current_leader.leader_epoch = k->st.epoch;
        if (!kraft_is_meta(in->topics[0].name, rp->partition))
            p.error_code = OD_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        else if (k->st.role != KRAFT_LEADER)
            p.error_code = OD_ERR_NOT_LEADER_OR_FOLLOWER;
        else if (rp->current_leader_epoch < k->st.epoch)
            p.error_code = OD_ERR_FENCED_LEADER_EPOCH;
        else if (rp->current_leader_epoch > k->st.epoch)
            p.error_code = OD_ERR_UNKNOWN_LEADER_EPOCH;
        else
            read_chunk(k, rp, in->max_bytes, &p, &data);
        KRAFT_SET_SINGLE(out, topics, t, p);
    }
    od_wbuf_t w;
    kraft_send_wbuf(reply,
                    KRAFT_ENCODE(&w, od_FetchSnapshotResponse_encode, req->api_version, &out));
    free(data);
}
