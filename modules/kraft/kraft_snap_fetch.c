/* kraft_snap_fetch.c - a follower or observer whose Fetch answer names a
 * SnapshotId (its fetch offset is below the leader's log start) downloads
 * that snapshot with FetchSnapshot, chunk by chunk, into
 * <snapshot>.checkpoint.part; once complete it is fsync'd, renamed and
 * checked like any snapshot, then installed over the image
 * (kraft_snap_install) and fetching goes on from its end offset. While it
 * downloads, `fetching` stays set so no Fetch is sent; an answer of an
 * older state (generation) or any error drops the partial file and the
 * next Fetch starts again. */
#include "kraft_rpc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kraft_log_int.h"
#include "kraft_net.h"
#include "kraft_snapshot.h"

#define SNAP_FETCH_MAX_BYTES (1024 * 1024)

typedef struct dl_ctx {
    kraft_t *k;
    uint32_t generation;
} dl_ctx_t;

static void dl_abort(kraft_t *k, const char *why)
{
    if (!k->dl_active)
        return;
    if (why)
        od_logf(OD_LOG_WARN, "kraft: download of snapshot %020" PRId64 "-%010" PRId32
                " abandoned: %s", k->dl_id_end, k->dl_id_epoch, why);
    if (k->dl_fd >= 0)
        close(k->dl_fd);
    k->dl_fd = -1;
    kraft_snap_id_t id = {k->dl_id_end, k->dl_id_epoch};
    char *p = kraft_snap_path(k->part_dir, id, 1);
    if (p)
        unlink(p);
    free(p);
    k->dl_active = 0;
}

static void send_chunk(kraft_t *k);

static void finish(kraft_t *k)
{
    char err[512];
    kraft_snap_id_t id = {k->dl_id_end, k->dl_id_epoch};
    char *tmp = kraft_snap_path(k->part_dir, id, 1), *path = kraft_snap_path(k->part_dir, id, 0);
    int ok = tmp && path;
    if (ok)
        ok = kraft_commit_tmp(k->dl_fd, tmp, path, k->part_dir, err, sizeof err) == 0;
    else
        close(k->dl_fd);
    k->dl_fd = -1;
    free(tmp);
    free(path);
    if (!ok) {
        dl_abort(k, "cannot write it durably");
        return;
    }
    k->dl_active = 0;
    if (kraft_snap_load(k->part_dir, id, NULL, NULL, NULL, err, sizeof err) < 0) {
        od_logf(OD_LOG_WARN, "kraft: fetched snapshot refused: %s", err);
        char *p = kraft_snap_path(k->part_dir, id, 0);
        if (p)
            unlink(p);
        free(p);
        return;
    }
    if (kraft_snap_install(k, id.end_offset, id.epoch, err, 400) < 0) {
        snprintf(k->fatal, sizeof k->fatal, "installing snapshot %020" PRId64 ": %.400s",
                 id.end_offset, err);
        od_logf(OD_LOG_ERROR, "kraft: %s", k->fatal);
        return;
    }
    k->snapshots_fetched++;
}

static void chunk_answer(void *arg, int status, const uint8_t *body, size_t len)
{
    dl_ctx_t *c = arg;
    kraft_t *k = c->k;
    int stale = !k->started || c->generation != k->generation;
    free(c);
    if (stale) {
        dl_abort(k, NULL);
        return;
    }
    k->fetching = 0;
    if (status) {
        dl_abort(k, "no answer from the leader");
        kraft_fetch_later(k);
        return;
    }
    const char *why = NULL;
    od_arena_t a;
    const od_FetchSnapshotResponse_t *out =
        kraft_decode_answer(&a, OD_API_FETCH_SNAPSHOT, 0, body, len);
    const od_FetchSnapshotResponse_PartitionSnapshot_t *p = NULL;
    char msg[96];
    if (!out || !KRAFT_SINGLE(out, topics))
        why = out && out->error_code ? "an error answer" : "a malformed answer";
    if (!why) {
        p = &out->topics[0].partitions[0];
        if (p->error_code) {
            snprintf(msg, sizeof msg, "error %d", p->error_code);
            why = msg;
        } else if (p->position != k->dl_pos || p->size <= 0 || p->unaligned_records.len <= 0 ||
                   p->position + p->unaligned_records.len > p->size) {
            why = "a chunk that does not fit";
        }
    }
    if (!why && kraft_lg_pwrite(k->dl_fd, p->unaligned_records.p,
                                (size_t)p->unaligned_records.len, k->dl_pos) < 0)
        why = strerror(errno);
    if (why) {
        od_arena_free(&a);
        dl_abort(k, why);
        kraft_fetch_later(k);
        return;
    }
    kraft_reset_fetch_timeout(k); /* the leader is alive */
    k->dl_pos += p->unaligned_records.len;
    int64_t size = p->size;
    od_arena_free(&a);
    if (k->dl_pos < size) {
        send_chunk(k);
        return;
    }
    finish(k);
    kraft_send_fetch(k);
}

static void send_chunk(kraft_t *k)
{
    int vi = kraft_voter_index(k, k->dl_peer);
    od_FetchSnapshotRequest_t in;
    od_FetchSnapshotRequest_TopicSnapshot_t t;
    od_FetchSnapshotRequest_PartitionSnapshot_t p;
    od_FetchSnapshotRequest_init(&in);
    od_FetchSnapshotRequest_TopicSnapshot_init(&t);
    od_FetchSnapshotRequest_PartitionSnapshot_init(&p);
    in.cluster_id = kraft_cluster_str(k);
    in.replica_id = k->st.node_id;
    in.max_bytes = SNAP_FETCH_MAX_BYTES;
    t.name = od_str_c(KRAFT_TOPIC);
    p.partition = 0;
    p.current_leader_epoch = k->st.epoch;
    p.snapshot_id.end_offset = k->dl_id_end;
    p.snapshot_id.epoch = k->dl_id_epoch;
    p.position = k->dl_pos;
    KRAFT_SET_SINGLE(in, topics, t, p);
    od_wbuf_t w;
    od_wbuf_init(&w);
    od_FetchSnapshotRequest_encode(&w, 0, &in);
    size_t n = 0;
    uint8_t *b = w.err ? NULL : od_wbuf_flatten(&w, &n);
    od_wbuf_free(&w);
    dl_ctx_t *c = b ? malloc(sizeof *c) : NULL;
    int rc = -1;
    if (c && vi >= 0 && k->peers[vi]) {
        c->k = k;
        c->generation = k->generation;
        rc = kraft_peer_send(k->peers[vi], OD_API_FETCH_SNAPSHOT, 0, 1, KRAFT_CLIENT_ID, b, n,
                             k->cfg_request_timeout_ms, chunk_answer, c);
    }
    free(b);
    if (rc < 0) {
        free(c);
        dl_abort(k, "cannot send FetchSnapshot");
        kraft_fetch_later(k);
        return;
    }
    k->fetching = 1;
}

void kraft_snap_fetch_start(kraft_t *k, int32_t peer, int64_t end_offset, int32_t epoch)
{
    dl_abort(k, NULL);
    kraft_snap_id_t id = {end_offset, epoch};
    char *tmp = end_offset > 0 && epoch >= 0 ? kraft_snap_path(k->part_dir, id, 1) : NULL;
    k->dl_fd = tmp ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
    if (k->dl_fd < 0) {
        od_logf(OD_LOG_WARN, "kraft: cannot create %s: %s", tmp ? tmp : "a snapshot file",
                strerror(errno));
        free(tmp);
        kraft_fetch_later(k);
        return;
    }
    free(tmp);
    k->dl_active = 1;
    k->dl_id_end = end_offset;
    k->dl_id_epoch = epoch;
    k->dl_pos = 0;
    k->dl_peer = peer;
    od_logf(OD_LOG_INFO, "kraft: fetching snapshot %020" PRId64 "-%010" PRId32 " from node %"
            PRId32 " (the leader's log starts above our end offset %" PRId64 ")", end_offset,
            epoch, peer, k->log.end_offset);
    send_chunk(k);
}

void kraft_snap_fetch_stop(kraft_t *k) { dl_abort(k, NULL); }
