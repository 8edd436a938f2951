/* kraft_rpc_client.c - the KRaft requests this node sends and what their
 * answers do: Vote and pre-vote (candidates and prospectives),
 * BeginQuorumEpoch and EndQuorumEpoch (the leader), Fetch of the metadata
 * log (followers and observers), and the forwarding of the core's admin
 * requests to the active controller (ABI 1.3 forward op). An answer that
 * arrives after the state changed (another generation) is ignored. */
#include "kraft_rpc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kraft_net.h"

#define FETCH_MAX_BYTES (8 * 1024 * 1024)
#define FETCH_MAX_WAIT_MS 500

typedef struct call_ctx {
    kraft_t *k;
    uint32_t generation;
    int32_t peer_id;
    int pre_vote;
} call_ctx_t;

static call_ctx_t *ctx_new(kraft_t *k, int32_t peer_id, int pre_vote)
{
    call_ctx_t *c = calloc(1, sizeof *c);
    if (c) {
        c->k = k;
        c->generation = k->generation;
        c->peer_id = peer_id;
        c->pre_vote = pre_vote;
    }
    return c;
}

/* Is the answer still about the state it was asked in? */
static int current(const call_ctx_t *c) { return c->k->started && c->generation == c->k->generation; }

static int send_wbuf(kraft_t *k, size_t voter, int16_t key, int16_t version, int flex,
                     od_wbuf_t *w, int64_t timeout, kraft_resp_fn fn, call_ctx_t *ctx)
{
    size_t n = 0;
    uint8_t *b = !ctx || w->err ? NULL : od_wbuf_flatten(w, &n);
    od_wbuf_free(w);
    int rc = -1;
    if (b && k->peers[voter])
        rc = kraft_peer_send(k->peers[voter], key, version, flex, KRAFT_CLIENT_ID, b, n, timeout,
                             fn, ctx);
    free(b);
    if (rc < 0)
        free(ctx);
    return rc;
}

/* A peer's answer names a leader or a higher epoch: follow it. Returns 1
 * when the state changed. */
static int learn_leader(kraft_t *k, int32_t leader, int32_t epoch)
{
    if (epoch > k->st.epoch) {
        if (leader >= 0 && leader != k->st.node_id && kraft_voter_index(k, leader) >= 0)
            kraft_become_follower(k, epoch, leader);
        else
            kraft_become_unattached(k, epoch, -1);
        return 1;
    }
    if (epoch == k->st.epoch && leader >= 0 && leader != k->st.node_id &&
        k->st.role != KRAFT_FOLLOWER && k->st.role != KRAFT_LEADER &&
        kraft_voter_index(k, leader) >= 0) {
        kraft_become_follower(k, epoch, leader);
        return 1;
    }
    return 0;
}

/* ---- Vote ------------------------------------------------------------------ */

static void vote_answer(void *arg, int status, const uint8_t *body, size_t len)
{
    call_ctx_t *c = arg;
    kraft_t *k = c->k;
    if (status == 0 && current(c)) {
        od_arena_t a;
        const od_VoteResponse_t *out = kraft_decode_answer(&a, OD_API_VOTE, 2, body, len);
        if (out && out->error_code == 0 && KRAFT_SINGLE(out, topics)) {
            const od_VoteResponse_PartitionData_t *p = &out->topics[0].partitions[0];
            /* A grant counts first: a voter that grants still names the
             * leader it stopped hearing from. A refusal naming a leader
             * means that voter hears it: follow it too. */
            if (p->leader_epoch > k->st.epoch)
                learn_leader(k, p->leader_id, p->leader_epoch);
            else if (p->error_code == 0 && p->vote_granted)
                kraft_vote_granted(k, c->peer_id, c->pre_vote);
            else
                learn_leader(k, p->leader_id, p->leader_epoch);
        }
        od_arena_free(&a);
    }
    free(c);
}

void kraft_send_vote_requests(kraft_t *k, int pre_vote)
{
    for (size_t i = 0; i < k->st.nvoters; i++) {
        if (!k->peers[i])
            continue;
        od_VoteRequest_t in;
        od_VoteRequest_TopicData_t t;
        od_VoteRequest_PartitionData_t p;
        od_VoteRequest_init(&in);
        od_VoteRequest_TopicData_init(&t);
        od_VoteRequest_PartitionData_init(&p);
        in.cluster_id = kraft_cluster_str(k);
        in.voter_id = k->st.voters[i].id;
        t.topic_name = od_str_c(KRAFT_TOPIC);
        p.partition_index = 0;
        /* A pre-vote asks for the epoch we would run in. */
        p.candidate_epoch = pre_vote ? k->st.epoch + 1 : k->st.epoch;
        p.candidate_id = k->st.node_id;
        p.last_offset_epoch = kraft_log_last_epoch(&k->log);
        p.last_offset = k->log.end_offset;
        p.pre_vote = (int8_t)pre_vote;
        KRAFT_SET_SINGLE(in, topics, t, p);
        od_wbuf_t w;
        send_wbuf(k, i, OD_API_VOTE, 2, 1, KRAFT_ENCODE(&w, od_VoteRequest_encode, 2, &in),
                  k->cfg_request_timeout_ms, vote_answer, ctx_new(k, k->st.voters[i].id, pre_vote));
    }
}

/* ---- BeginQuorumEpoch / EndQuorumEpoch ------------------------------------------ */

static void epoch_answer(void *arg, int status, const uint8_t *body, size_t len)
{
    call_ctx_t *c = arg;
    if (status == 0 && current(c)) {
        /* Answers of both have the same layout up to the partition. */
        od_arena_t a;
        const od_BeginQuorumEpochResponse_t *out =
            kraft_decode_answer(&a, OD_API_BEGIN_QUORUM_EPOCH, 1, body, len);
        if (out && KRAFT_SINGLE(out, topics)) {
            const od_BeginQuorumEpochResponse_PartitionData_t *p = &out->topics[0].partitions[0];
            if (p->leader_epoch > c->k->st.epoch)
                learn_leader(c->k, p->leader_id, p->leader_epoch);
        }
        od_arena_free(&a);
    }
    free(c);
}

/* BeginQuorumEpoch and EndQuorumEpoch requests have the same frame: our
 * cluster, the metadata partition p (of topic t) led by this node in its
 * epoch, and this node's endpoint ep. */
#define SET_EPOCH_FRAME(k, in, t, p, ep)                                                           \
    do {                                                                                           \
        int me_ = kraft_voter_index((k), (k)->st.node_id);                                         \
        (in).cluster_id = kraft_cluster_str(k);                                                    \
        (t).topic_name = od_str_c(KRAFT_TOPIC);                                                    \
        (p).leader_id = (k)->st.node_id;                                                           \
        (p).leader_epoch = (k)->st.epoch;                                                          \
        KRAFT_SET_SINGLE(in, topics, t, p);                                                        \
        (ep).name = od_str_c((k)->controller_listener);                                            \
        (ep).host = od_str_c(me_ >= 0 ? (k)->st.voters[me_].host : "");                            \
        (ep).port = (uint16_t)(me_ >= 0 ? (k)->st.voters[me_].port : 0);                           \
        (in).leader_endpoints_count = 1;                                                           \
        (in).leader_endpoints = &(ep);                                                             \
    } while (0)

void kraft_send_begin_epoch(kraft_t *k, size_t voter)
{
    if (voter >= k->st.nvoters || !k->peers[voter] || kraft_peer_busy(k->peers[voter]))
        return; /* one at a time: the leader timer sends the next */
    od_BeginQuorumEpochRequest_t in;
    od_BeginQuorumEpochRequest_TopicData_t t;
    od_BeginQuorumEpochRequest_PartitionData_t p;
    od_BeginQuorumEpochRequest_LeaderEndpoint_t ep;
    od_BeginQuorumEpochRequest_init(&in);
    od_BeginQuorumEpochRequest_TopicData_init(&t);
    od_BeginQuorumEpochRequest_PartitionData_init(&p);
    od_BeginQuorumEpochRequest_LeaderEndpoint_init(&ep);
    SET_EPOCH_FRAME(k, in, t, p, ep);
    in.voter_id = k->st.voters[voter].id;
    od_wbuf_t w;
    send_wbuf(k, voter, OD_API_BEGIN_QUORUM_EPOCH, 1, 1,
              KRAFT_ENCODE(&w, od_BeginQuorumEpochRequest_encode, 1, &in),
              k->cfg_request_timeout_ms, epoch_answer, ctx_new(k, k->st.voters[voter].id, 0));
}

void kraft_send_end_epoch(kraft_t *k)
{
    /* Preferred successors: the voters by how far their logs reach. */
    od_EndQuorumEpochRequest_ReplicaInfo_t cands[KRAFT_MAX_VOTERS];
    size_t n = 0;
    for (size_t i = 0; i < k->st.nvoters; i++) {
        if (!k->peers[i])
            continue;
        od_EndQuorumEpochRequest_ReplicaInfo_init(&cands[n]);
        cands[n++].candidate_id = k->st.voters[i].id;
    }
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0; j--) {
            int a = kraft_voter_index(k, cands[j - 1].candidate_id);
            int b = kraft_voter_index(k, cands[j].candidate_id);
            if (k->voter_state[a].end_offset >= k->voter_state[b].end_offset)
                break;
            od_EndQuorumEpochRequest_ReplicaInfo_t t = cands[j];
            cands[j] = cands[j - 1];
            cands[j - 1] = t;
        }
    for (size_t i = 0; i < k->st.nvoters; i++) {
        if (!k->peers[i])
            continue;
        od_EndQuorumEpochRequest_t in;
        od_EndQuorumEpochRequest_TopicData_t t;
        od_EndQuorumEpochRequest_PartitionData_t p;
        od_EndQuorumEpochRequest_LeaderEndpoint_t ep;
        od_EndQuorumEpochRequest_init(&in);
        od_EndQuorumEpochRequest_TopicData_init(&t);
        od_EndQuorumEpochRequest_PartitionData_init(&p);
        od_EndQuorumEpochRequest_LeaderEndpoint_init(&ep);
        SET_EPOCH_FRAME(k, in, t, p, ep);
        p.preferred_candidates_count = (int32_t)n;
        p.preferred_candidates = cands;
        od_wbuf_t w;
        send_wbuf(k, i, OD_API_END_QUORUM_EPOCH, 1, 1,
                  KRAFT_ENCODE(&w, od_EndQuorumEpochRequest_encode, 1, &in),
                  k->cfg_request_timeout_ms, epoch_answer, ctx_new(k, k->st.voters[i].id, 0));
    }
}

/* ---- Fetch (followers and observers) ---------------------------------------- */

/* The leader says our log diverges: cut it where both logs last agree. */
static void truncate_to(kraft_t *k, int32_t epoch, int64_t leader_end)
{
    int32_t found;
    int64_t mine = epoch < 0 ? 0 : kraft_log_end_offset_for_epoch(&k->log, epoch, &found);
    if (mine < 0)
        mine = 0;
    int64_t at = leader_end < mine ? leader_end : mine;
    char err[400];
    if (at < k->applied.offset) {
        snprintf(k->fatal, sizeof k->fatal, "the leader asks to truncate the metadata log to %"
                 PRId64 ", below the applied offset %" PRId64, at, k->applied.offset);
        od_logf(OD_LOG_ERROR, "kraft: %s", k->fatal);
        return;
    }
    if (kraft_log_truncate(&k->log, at, err, sizeof err) < 0) {
        snprintf(k->fatal, sizeof k->fatal, "truncating the metadata log: %s", err);
        od_logf(OD_LOG_ERROR, "kraft: %s", k->fatal);
        return;
    }
    /* The apply cursor may have pointed at the start of a segment that is
     * gone now; it was at the cut (never past it): put it at the end. */
    if (k->applied.seg >= k->log.nsegs || k->applied.offset >= k->log.end_offset) {
        k->applied.seg = k->log.nsegs - 1;
        k->applied.pos = k->log.segs[k->log.nsegs - 1].size;
        k->applied.offset = k->log.end_offset;
    }
}

static void fetch_answer(void *arg, int status, const uint8_t *body, size_t len)
{
    call_ctx_t *c = arg;
    kraft_t *k = c->k;
    int again = 0, later = 1;
    if (!current(c)) {
        free(c);
        return;
    }
    k->fetching = 0;
    if (status == 0) {
        od_arena_t a;
        const od_FetchResponse_t *out = kraft_decode_answer(&a, OD_API_FETCH, 12, body, len);
        if (out && out->error_code == 0 && KRAFT_SINGLE(out, responses)) {
            const od_FetchResponse_PartitionData_t *p = &out->responses[0].partitions[0];
            if (learn_leader(k, p->current_leader.leader_id, p->current_leader.leader_epoch)) {
                later = 0; /* the new state fetched already */
            } else if (p->error_code == 0 && k->st.role == KRAFT_FOLLOWER &&
                       c->peer_id == k->st.leader_id) {
                char err[512];
                kraft_reset_fetch_timeout(k);
                later = 0;
                again = 1;
                if (p->snapshot_id.end_offset >= 0) {
                    /* Below the leader's log start: its snapshot first. */
                    kraft_snap_fetch_start(k, c->peer_id, p->snapshot_id.end_offset,
                                           p->snapshot_id.epoch);
                    again = 0;
                    later = 0;
                } else if (p->diverging_epoch.epoch >= 0 || p->diverging_epoch.end_offset >= 0) {
                    truncate_to(k, p->diverging_epoch.epoch, p->diverging_epoch.end_offset);
                } else if (p->records.len > 0) {
                    int rc = kraft_log_append_raw(&k->log, p->records.p, (size_t)p->records.len,
                                                  err, sizeof err);
                    if (rc < 0) {
                        od_logf(OD_LOG_WARN, "kraft: metadata from leader %" PRId32 ": %s",
                                k->st.leader_id, err);
                        again = 0;
                        later = rc == -2;
                        if (rc == -1)
                            snprintf(k->fatal, sizeof k->fatal, "%s", err);
                    }
                }
                int64_t hw = p->high_watermark < k->log.synced_end ? p->high_watermark
                                                                   : k->log.synced_end;
                if (hw > k->st.high_watermark) {
                    k->st.high_watermark = hw;
                    kraft_on_committed(k);
                }
            } else if (p->error_code == OD_ERR_NOT_LEADER_OR_FOLLOWER &&
                       !k->is_voter) {
                k->bootstrap_next++; /* ask the next voter who leads */
            }
        } else if (out && out->error_code == OD_ERR_INCONSISTENT_CLUSTER_ID) {
            od_logf(OD_LOG_WARN, "kraft: voter %" PRId32 " belongs to another cluster than %s",
                    c->peer_id, k->cluster_id);
        }
        od_arena_free(&a);
    } else if (!k->is_voter && k->st.role != KRAFT_FOLLOWER) {
        k->bootstrap_next++;
    }
    free(c);
    if (k->fatal[0])
        return;
    if (again)
        kraft_send_fetch(k);
    else if (later && !k->fetching)
        kraft_fetch_later(k);
}

void kraft_send_fetch(kraft_t *k)
{
    if (!k->started || k->fetching || k->fatal[0] || k->st.role == KRAFT_LEADER)
        return;
    int target = -1;
    if (k->st.role == KRAFT_FOLLOWER) {
        target = kraft_voter_index(k, k->st.leader_id);
    } else if (!k->is_voter) {
        /* An observer without a leader asks the voters in turn. */
        for (size_t n = 0; n < k->st.nvoters && target < 0; n++) {
            size_t i = (k->bootstrap_next + n) % k->st.nvoters;
            if (k->peers[i])
                target = (int)i;
        }
    }
    if (target < 0 || !k->peers[target])
        return;
    od_FetchRequest_t in;
    od_FetchRequest_FetchTopic_t t;
    od_FetchRequest_FetchPartition_t p;
    od_FetchRequest_init(&in);
    od_FetchRequest_FetchTopic_init(&t);
    od_FetchRequest_FetchPartition_init(&p);
    in.cluster_id = kraft_cluster_str(k);
    in.replica_id = k->st.node_id;
    in.max_wait_ms = FETCH_MAX_WAIT_MS;
    in.min_bytes = 1;
    in.max_bytes = FETCH_MAX_BYTES;
    t.topic = od_str_c(KRAFT_TOPIC);
    p.partition = 0;
    p.current_leader_epoch = k->st.epoch;
    p.fetch_offset = k->log.end_offset;
    p.last_fetched_epoch = kraft_log_last_epoch(&k->log);
    p.log_start_offset = k->log.nsegs ? k->log.segs[0].base_offset : 0;
    p.partition_max_bytes = FETCH_MAX_BYTES;
    KRAFT_SET_SINGLE(in, topics, t, p);
    od_wbuf_t w;
    od_wbuf_init(&w);
    od_FetchRequest_encode(&w, 12, &in);
    call_ctx_t *ctx = ctx_new(k, k->st.voters[target].id, 0);
    k->fetching = 1;
    if (send_wbuf(k, (size_t)target, OD_API_FETCH, 12, 1, &w,
                  k->cfg_request_timeout_ms + FETCH_MAX_WAIT_MS, fetch_answer, ctx) < 0) {
        k->fetching = 0;
        if (!k->is_voter && k->st.role != KRAFT_FOLLOWER)
            k->bootstrap_next++;
        kraft_fetch_later(k);
    }
}

/* ---- forwarding (ABI 1.3) ------------------------------------------------------- */

typedef struct fwd {
    void (*cb)(void *arg, int status, const uint8_t *body, size_t len);
    void *arg;
} fwd_t;

static void forward_answer(void *arg, int status, const uint8_t *body, size_t len)
{
    fwd_t *f = arg;
    if (status == 0)
        f->cb(f->arg, 0, body, len);
    else
        f->cb(f->arg, -KRAFT_ERR_NOT_CONTROLLER, NULL, 0);
    free(f);
}

/* Admin requests wait on the controller for their commit, so they get
 * longer than the quorum's own requests. */
#define FORWARD_TIMEOUT_MS 30000

int kraft_forward(void *self, const od_cp_request_t *req,
                  void (*cb)(void *arg, int status, const uint8_t *body, size_t len), void *arg)
{
    kraft_t *k = self;
    if (!k->started || k->st.role == KRAFT_LEADER)
        return -1;
    int li = kraft_voter_index(k, k->st.leader_id);
    if (li < 0 || !k->fwd_peers[li])
        return -1;
    fwd_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->cb = cb;
    f->arg = arg;
    if (kraft_peer_send(k->fwd_peers[li], req->api_key, req->api_version, req->flexible_header,
                        req->client_id && *req->client_id ? req->client_id : KRAFT_CLIENT_ID,
                        req->body, req->body_len, FORWARD_TIMEOUT_MS, forward_answer, f) < 0) {
        free(f);
        return -1;
    }
    return 0;
}
