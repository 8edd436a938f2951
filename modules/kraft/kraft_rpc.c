/* kraft_rpc.c - the KRaft RPCs this node answers (ABI 1.3 handle op): Vote,
 * BeginQuorumEpoch, EndQuorumEpoch, Fetch of the metadata log,
 * DescribeQuorum and FetchSnapshot (kraft_rpc_snapshot.c). Requests are
 * decoded by the codecs generated from core/proto/schema/kraft/ into
 * kraft_proto_gen.c; anything malformed closes the connection, anything
 * well-formed but wrong is a Kafka error code in the answer (the frame's
 * checks are kraft_rpc_frame.c's). State changes go through kraft_raft.c. */
#include "kraft_rpc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kraft_net.h"

/* Fetch of the metadata log: v12 is the last version that names topics;
 * our followers send it. The others in their schemas' ranges. */
const od_cp_api_t kraft_apis[KRAFT_NAPIS] = {
    {OD_API_FETCH, 12, 12, 12, 0},
    {OD_API_VOTE, 0, 2, 0, 0},
    {OD_API_BEGIN_QUORUM_EPOCH, 0, 1, 1, 0},
    {OD_API_END_QUORUM_EPOCH, 0, 1, 1, 0},
    {OD_API_DESCRIBE_QUORUM, 0, 2, 0, OD_CP_API_ALL_LISTENERS},
    {OD_API_FETCH_SNAPSHOT, 0, 1, 0, 0},
};

#define FETCH_WAIT_MAX_MS 500 /* Kafka's controller.quorum.fetch... max wait (RaftConfig) */
#define FETCH_MAX_BYTES (8 * 1024 * 1024) /* beyond one batch, per answer */

/* ---- Vote --------------------------------------------------------------- */

static void decide_vote(kraft_t *k, const od_VoteRequest_PartitionData_t *rp,
                        od_VoteResponse_PartitionData_t *p)
{
    int32_t cand = rp->candidate_id, e = rp->candidate_epoch;
    p->vote_granted = 0;
    if (!k->is_voter || kraft_voter_index(k, cand) < 0 || cand == k->st.node_id) {
        p->error_code = OD_ERR_INCONSISTENT_VOTER_SET;
        goto out;
    }
    int up = kraft_log_up_to_date(k, rp->last_offset_epoch, rp->last_offset);
    if (rp->pre_vote) {
        /* A pre-vote changes nothing here; refused while we hear a leader. */
        int leader_alive = k->st.role == KRAFT_LEADER ||
                           (k->st.role == KRAFT_FOLLOWER &&
                            od_mono_ms() - k->leader_contact_ms < k->cfg_fetch_timeout_ms);
        p->vote_granted = e >= k->st.epoch && up && !leader_alive;
        goto out;
    }
    if (e < k->st.epoch) {
        p->error_code = OD_ERR_FENCED_LEADER_EPOCH;
        goto out;
    }
    if (e > k->st.epoch)
        kraft_become_unattached(k, e, -1);
    if (k->fatal[0] || k->st.leader_id >= 0 || k->st.role == KRAFT_CANDIDATE ||
        (k->st.voted_id >= 0 && k->st.voted_id != cand) || !up)
        goto out;
    /* Durable before it is granted (kraft_become_unattached persists). */
    kraft_become_unattached(k, e, cand);
    p->vote_granted = !k->fatal[0];
    if (p->vote_granted)
        od_logf(OD_LOG_INFO, "kraft: node %" PRId32 " votes for %" PRId32 " in epoch %" PRId32,
                k->st.node_id, cand, e);
out:
    p->leader_id = k->st.leader_id;
    p->leader_epoch = k->st.epoch;
}

static void handle_vote(kraft_t *k, const od_cp_request_t *req, const od_VoteRequest_t *in,
                        od_cp_reply_t *reply)
{
    od_VoteResponse_t out;
    od_VoteResponse_TopicData_t t;
    od_VoteResponse_PartitionData_t p;
    od_VoteResponse_init(&out);
    od_VoteResponse_TopicData_init(&t);
    od_VoteResponse_PartitionData_init(&p);
    out.error_code = kraft_frame_error(k, in->cluster_id, KRAFT_SINGLE(in, topics));
    if (out.error_code == OD_ERR_NONE) {
        const od_VoteRequest_PartitionData_t *rp = &in->topics[0].partitions[0];
        t.topic_name = in->topics[0].topic_name;
        p.partition_index = rp->partition_index;
        if (!kraft_is_meta(t.topic_name, rp->partition_index))
            p.error_code = OD_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        else
            decide_vote(k, rp, &p);
        KRAFT_SET_SINGLE(out, topics, t, p);
    }
    od_wbuf_t w;
    kraft_send_wbuf(reply, KRAFT_ENCODE(&w, od_VoteResponse_encode, req->api_version, &out));
}

/* ---- BeginQuorumEpoch / EndQuorumEpoch ------------------------------------ */

static int16_t begin_epoch(kraft_t *k, int32_t leader, int32_t epoch)
{
    if (epoch < k->st.epoch)
        return OD_ERR_FENCED_LEADER_EPOCH;
    if (kraft_voter_index(k, leader) < 0 || leader == k->st.node_id)
        return OD_ERR_INCONSISTENT_VOTER_SET;
    if (k->st.role == KRAFT_LEADER && epoch == k->st.epoch)
        return OD_ERR_INVALID_REQUEST; /* two leaders in one epoch cannot be */
    if (epoch > k->st.epoch || k->st.role != KRAFT_FOLLOWER || k->st.leader_id != leader)
        kraft_become_follower(k, epoch, leader);
    else
        kraft_reset_fetch_timeout(k);
    return OD_ERR_NONE;
}

static void handle_begin(kraft_t *k, const od_cp_request_t *req,
                         const od_BeginQuorumEpochRequest_t *in, od_cp_reply_t *reply)
{
    od_BeginQuorumEpochResponse_t out;
    od_BeginQuorumEpochResponse_TopicData_t t;
    od_BeginQuorumEpochResponse_PartitionData_t p;
    od_BeginQuorumEpochResponse_init(&out);
    od_BeginQuorumEpochResponse_TopicData_init(&t);
    od_BeginQuorumEpochResponse_PartitionData_init(&p);
    out.error_code = kraft_frame_error(k, in->cluster_id, KRAFT_SINGLE(in, topics));
    if (out.error_code == OD_ERR_NONE) {
        const od_BeginQuorumEpochRequest_PartitionData_t *rp = &in->topics[0].partitions[0];
        t.topic_name = in->topics[0].topic_name;
        p.partition_index = rp->partition_index;
        p.error_code = kraft_is_meta(t.topic_name, rp->partition_index)
                           ? begin_epoch(k, rp->leader_id, rp->leader_epoch)
                           : OD_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        p.leader_id = k->st.leader_id;
        p.leader_epoch = k->st.epoch;
        KRAFT_SET_SINGLE(out, topics, t, p);
    }
    od_wbuf_t w;
    kraft_send_wbuf(reply,
                    KRAFT_ENCODE(&w, od_BeginQuorumEpochResponse_encode, req->api_version, &out));
}

static int16_t end_epoch(kraft_t *k, const od_EndQuorumEpochRequest_PartitionData_t *rp)
{
    if (rp->leader_epoch < k->st.epoch)
        return OD_ERR_FENCED_LEADER_EPOCH;
    if (rp->leader_epoch > k->st.epoch) {
        kraft_become_unattached(k, rp->leader_epoch, -1);
        return OD_ERR_NONE;
    }
    if (k->st.role != KRAFT_FOLLOWER || k->st.leader_id != rp->leader_id)
        return OD_ERR_NONE;
    /* The leader resigns: the preferred successors (most caught up first)
     * try first, the others back off longer. */
    int pos = -1;
    for (int32_t i = 0; i < rp->preferred_candidates_count && pos < 0; i++)
        if (rp->preferred_candidates[i].candidate_id == k->st.node_id)
            pos = (int)i;
    for (int32_t i = 0; i < rp->preferred_successors_count && pos < 0; i++)
        if (rp->preferred_successors[i] == k->st.node_id)
            pos = (int)i;
    kraft_leader_resigned(k, pos < 0 ? (int)k->st.nvoters : pos);
    return OD_ERR_NONE;
}

static void handle_end(kraft_t *k, const od_cp_request_t *req, const od_EndQuorumEpochRequest_t *in,
                       od_cp_reply_t *reply)
{
    od_EndQuorumEpochResponse_t out;
    od_EndQuorumEpochResponse_TopicData_t t;
    od_EndQuorumEpochResponse_PartitionData_t p;
    od_EndQuorumEpochResponse_init(&out);
    od_EndQuorumEpochResponse_TopicData_init(&t);
    od_EndQuorumEpochResponse_PartitionData_init(&p);
    out.error_code = kraft_frame_error(k, in->cluster_id, KRAFT_SINGLE(in, topics));
    if (out.error_code == OD_ERR_NONE) {
        const od_EndQuorumEpochRequest_PartitionData_t *rp = &in->topics[0].partitions[0];
        t.topic_name = in->topics[0].topic_name;
        p.partition_index = rp->partition_index;
        p.error_code = kraft_is_meta(t.topic_name, rp->partition_index)
                           ? end_epoch(k, rp)
                           : OD_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        p.leader_id = k->st.leader_id;
        p.leader_epoch = k->st.epoch;
        KRAFT_SET_SINGLE(out, topics, t, p);
    }
    od_wbuf_t w;
    kraft_send_wbuf(reply,
                    KRAFT_ENCODE(&w, od_EndQuorumEpochResponse_encode, req->api_version, &out));
}

/* ---- Fetch (the leader's side) ---------------------------------------------- */

/* Does a follower's log, ending at fetch_offset in last_epoch, diverge
 * from ours? Then epoch and end say where ours ends for that epoch. */
static int diverges(kraft_t *k, int64_t fetch_offset, int32_t last_epoch, int32_t *epoch,
                    int64_t *end)
{
    if (fetch_offset == 0 && last_epoch < 0)
        return 0;
    /* At the log start (a replica that installed a snapshot ending there)
     * the epochs below are gone with the trimmed segments: nothing to
     * compare, and the snapshot was committed. */
    int64_t start = kraft_log_start_offset(&k->log);
    if (start > 0 && fetch_offset == start &&
        (k->log.nepochs == 0 || last_epoch <= k->log.epochs[0].epoch))
        return 0;
    int32_t found;
    int64_t e = kraft_log_end_offset_for_epoch(&k->log, last_epoch, &found);
    if (found == last_epoch && last_epoch >= 0 && fetch_offset <= e)
        return 0;
    *epoch = found;
    *end = found < 0 ? 0 : e;
    return 1;
}

static void parked_timeout(void *arg)
{
    kraft_parked_t *pk = arg;
    kraft_t *k = pk->k;
    pk->timer = 0;
    for (kraft_parked_t **pp = &k->parked; *pp; pp = &(*pp)->next)
        if (*pp == pk) {
            *pp = pk->next;
            break;
        }
    kraft_answer_parked(k, pk);
}

void kraft_answer_parked(kraft_t *k, kraft_parked_t *pk)
{
    od_FetchResponse_t out;
    od_FetchResponse_FetchableTopicResponse_t t;
    od_FetchResponse_PartitionData_t p;
    od_FetchResponse_init(&out);
    od_FetchResponse_FetchableTopicResponse_init(&t);
    od_FetchResponse_PartitionData_init(&p);
    uint8_t *data = NULL;
    size_t len = 0;
    if (pk->timer > 0)
        od_timer_cancel(k->core, pk->timer);
    pk->timer = 0;
    t.topic = od_str_c(KRAFT_TOPIC);
    p.partition_index = 0;
    p.current_leader.leader_id = k->st.leader_id;
    p.current_leader.leader_epoch = k->st.epoch;
    p.log_start_offset = k->log.nsegs ? k->log.segs[0].base_offset : 0;
    int32_t div_epoch;
    int64_t div_end;
    if (!k->started || k->st.role != KRAFT_LEADER) {
        p.error_code = OD_ERR_NOT_LEADER_OR_FOLLOWER;
    } else if (pk->current_epoch < k->st.epoch) {
        p.error_code = OD_ERR_FENCED_LEADER_EPOCH;
    } else if (pk->current_epoch > k->st.epoch) {
        p.error_code = OD_ERR_UNKNOWN_LEADER_EPOCH;
    } else {
        p.high_watermark = k->st.high_watermark;
        p.last_stable_offset = k->st.high_watermark;
        if (pk->fetch_offset < kraft_log_start_offset(&k->log) && k->snap_end >= 0) {
            /* Trimmed away: the replica must load the newest snapshot. */
            p.snapshot_id.end_offset = k->snap_end;
            p.snapshot_id.epoch = k->snap_epoch;
        } else if (diverges(k, pk->fetch_offset, pk->last_fetched_epoch, &div_epoch, &div_end)) {
            p.diverging_epoch.epoch = div_epoch;
            p.diverging_epoch.end_offset = div_end;
        } else {
            char err[256];
            size_t max = pk->max_bytes > 0 ? (size_t)pk->max_bytes : 1;
            int rc = kraft_log_read_raw(&k->log, pk->fetch_offset, max, &data, &len, err,
                                        sizeof err);
            if (rc < 0) {
                od_logf(OD_LOG_WARN, "kraft: fetch of replica %" PRId32 " at %" PRId64 ": %s",
                        pk->replica_id, pk->fetch_offset, err);
                p.error_code = rc == -2 ? OD_ERR_OFFSET_OUT_OF_RANGE : OD_ERR_KAFKA_STORAGE_ERROR;
            } else if (pk->replica_id >= 0) {
                kraft_replica(k, pk->replica_id)->hw_sent = k->st.high_watermark;
            }
        }
    }
    p.records.p = data ? data : (const uint8_t *)"";
    p.records.len = len;
    p.records.read = NULL;
    KRAFT_SET_SINGLE(out, responses, t, p);
    od_wbuf_t w;
    kraft_send_wbuf(pk->reply, KRAFT_ENCODE(&w, od_FetchResponse_encode, pk->version, &out));
    free(data);
    free(pk);
}

static void handle_fetch(kraft_t *k, const od_cp_request_t *req, const od_FetchRequest_t *in,
                         od_cp_reply_t *reply)
{
    /* Only the metadata partition is fetched here: another one is not a
     * partition error but a wrong request. */
    int16_t err = kraft_frame_error(k, in->cluster_id, KRAFT_SINGLE(in, topics));
    if (err == OD_ERR_NONE &&
        !kraft_is_meta(in->topics[0].topic, in->topics[0].partitions[0].partition))
        err = OD_ERR_INVALID_REQUEST;
    if (err != OD_ERR_NONE) {
        od_FetchResponse_t out;
        od_FetchResponse_init(&out);
        out.error_code = err;
        od_wbuf_t w;
        kraft_send_wbuf(reply, KRAFT_ENCODE(&w, od_FetchResponse_encode, req->api_version, &out));
        return;
    }
    const od_FetchRequest_FetchPartition_t *fp = &in->topics[0].partitions[0];
    kraft_parked_t *pk = calloc(1, sizeof *pk);
    if (!pk) {
        od_cp_reply_close(reply, "out of memory");
        return;
    }
    pk->k = k;
    pk->reply = reply;
    pk->version = req->api_version;
    pk->replica_id = in->replica_id;
    pk->fetch_offset = fp->fetch_offset;
    pk->last_fetched_epoch = fp->last_fetched_epoch;
    pk->current_epoch = fp->current_leader_epoch;
    pk->max_bytes = in->max_bytes < fp->partition_max_bytes ? in->max_bytes
                                                            : fp->partition_max_bytes;
    if (pk->max_bytes > FETCH_MAX_BYTES) /* what one answer may hold in memory */
        pk->max_bytes = FETCH_MAX_BYTES;
    int32_t de;
    int64_t dend;
    if (!k->started || k->st.role != KRAFT_LEADER || pk->current_epoch != k->st.epoch ||
        fp->fetch_offset < 0 ||
        diverges(k, pk->fetch_offset, pk->last_fetched_epoch, &de, &dend)) {
        kraft_answer_parked(k, pk); /* an error or the divergence, at once */
        return;
    }
    if (pk->replica_id >= 0)
        kraft_leader_fetched(k, pk->replica_id, pk->fetch_offset);
    kraft_replica_t *r = pk->replica_id >= 0 ? kraft_replica(k, pk->replica_id) : NULL;
    int32_t wait = in->max_wait_ms < FETCH_WAIT_MAX_MS ? in->max_wait_ms : FETCH_WAIT_MAX_MS;
    if (k->st.role != KRAFT_LEADER || pk->fetch_offset < k->log.end_offset || wait <= 0 ||
        (r && r->hw_sent < k->st.high_watermark)) {
        kraft_answer_parked(k, pk);
        return;
    }
    /* Nothing new for it: the answer waits for data, a new high
     * watermark or the follower's max wait. */
    pk->timer = od_timer_add(k->core, wait, parked_timeout, pk);
    pk->next = k->parked;
    k->parked = pk;
}

/* ---- DescribeQuorum ---------------------------------------------------------- */

static int64_t wall_of(int64_t mono)
{
    return mono < 0 ? -1 : od_now_ms() - (od_mono_ms() - mono);
}

static void replica_out(kraft_t *k, const kraft_replica_t *r,
                        od_DescribeQuorumResponse_ReplicaState_t *o)
{
    od_DescribeQuorumResponse_ReplicaState_init(o);
    o->replica_id = r->id;
    if (r->id == k->st.node_id) {
        o->log_end_offset = k->log.end_offset;
        o->last_fetch_timestamp = o->last_caught_up_timestamp = od_now_ms();
    } else {
        o->log_end_offset = r->end_offset;
        o->last_fetch_timestamp = wall_of(r->last_fetch_ms);
        o->last_caught_up_timestamp = wall_of(r->caught_up_ms);
    }
}

static void describe_here(kraft_t *k, const od_cp_request_t *req,
                          const od_DescribeQuorumRequest_t *in, od_cp_reply_t *reply)
{
    od_DescribeQuorumResponse_t out;
    od_DescribeQuorumResponse_TopicData_t t;
    od_DescribeQuorumResponse_PartitionData_t p;
    od_DescribeQuorumResponse_ReplicaState_t voters[KRAFT_MAX_VOTERS], obs[KRAFT_MAX_VOTERS];
    od_DescribeQuorumResponse_Node_t nodes[KRAFT_MAX_VOTERS];
    od_DescribeQuorumResponse_Listener_t lst[KRAFT_MAX_VOTERS];
    od_DescribeQuorumResponse_init(&out);
    od_DescribeQuorumResponse_TopicData_init(&t);
    od_DescribeQuorumResponse_PartitionData_init(&p);
    /* DescribeQuorum names no cluster. */
    out.error_code = kraft_frame_error(k, (od_str_t){NULL, -1}, KRAFT_SINGLE(in, topics));
    if (out.error_code == OD_ERR_NONE) {
        t.topic_name = in->topics[0].topic_name;
        p.partition_index = in->topics[0].partitions[0].partition_index;
        if (!kraft_is_meta(t.topic_name, p.partition_index)) {
            p.error_code = OD_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        } else if (k->st.role != KRAFT_LEADER) {
            p.error_code = OD_ERR_NOT_LEADER_OR_FOLLOWER;
            p.leader_id = k->st.leader_id;
            p.leader_epoch = k->st.epoch;
        } else {
            p.leader_id = k->st.node_id;
            p.leader_epoch = k->st.epoch;
            p.high_watermark = k->st.high_watermark;
            for (size_t i = 0; i < k->st.nvoters; i++)
                replica_out(k, &k->voter_state[i], &voters[i]);
            for (size_t i = 0; i < k->nobservers; i++)
                replica_out(k, &k->observers[i], &obs[i]);
            p.current_voters_count = (int32_t)k->st.nvoters;
            p.current_voters = voters;
            p.observers_count = (int32_t)k->nobservers;
            p.observers = obs;
            for (size_t i = 0; i < k->st.nvoters; i++) {
                od_DescribeQuorumResponse_Node_init(&nodes[i]);
                od_DescribeQuorumResponse_Listener_init(&lst[i]);
                nodes[i].node_id = k->st.voters[i].id;
                lst[i].name = od_str_c(k->controller_listener);
                lst[i].host = od_str_c(k->st.voters[i].host);
                lst[i].port = (uint16_t)k->st.voters[i].port;
                nodes[i].listeners_count = 1;
                nodes[i].listeners = &lst[i];
            }
            out.nodes_count = (int32_t)k->st.nvoters;
            out.nodes = nodes;
        }
        KRAFT_SET_SINGLE(out, topics, t, p);
    }
    od_wbuf_t w;
    kraft_send_wbuf(reply,
                    KRAFT_ENCODE(&w, od_DescribeQuorumResponse_encode, req->api_version, &out));
}

typedef struct relay {
    kraft_t *k;
    od_cp_reply_t *reply;
    od_cp_request_t req;
    uint8_t *body; /* copy of the request body */
} relay_t;

/* Decodes req's body into the arena a (initialised here; the caller frees
 * it in every case): NULL, with why set, when malformed or followed by
 * more bytes. */
static void *decode_request(od_arena_t *a, const od_cp_request_t *req, const char **why)
{
    od_slice_t s;
    od_arena_init(a, KRAFT_DECODE_LIMIT);
    od_slice_init(&s, req->body, req->body_len);
    void *in = od_proto_decode_request(req->api_key, req->api_version, &s, a);
    *why = !in                    ? "malformed request"
           : od_slice_left(&s) > 0 ? "bytes after the request body"
                                   : NULL;
    return *why ? NULL : in;
}

static void relayed(void *arg, int status, const uint8_t *body, size_t len)
{
    relay_t *rl = arg;
    if (status == 0) {
        od_cp_reply(rl->reply, body, len);
    } else {
        /* The leader did not answer: say who we think leads. */
        od_arena_t a;
        const char *why;
        const od_DescribeQuorumRequest_t *in = decode_request(&a, &rl->req, &why);
        if (in)
            describe_here(rl->k, &rl->req, in, rl->reply);
        else
            od_cp_reply_close(rl->reply, why);
        od_arena_free(&a);
    }
    free(rl->body);
    free(rl);
}

/* DescribeQuorum reaches any broker (admin clients send it there, KIP-836);
 * only the leader knows the replicas' progress, so others relay it. */
static void handle_describe(kraft_t *k, const od_cp_request_t *req,
                            const od_DescribeQuorumRequest_t *in, od_cp_reply_t *reply)
{
    int li = k->st.role == KRAFT_LEADER ? -1 : kraft_voter_index(k, k->st.leader_id);
    if (li < 0 || !k->fwd_peers[li]) {
        describe_here(k, req, in, reply);
        return;
    }
    relay_t *rl = calloc(1, sizeof *rl);
    uint8_t *copy = rl ? malloc(req->body_len ? req->body_len : 1) : NULL;
    if (!rl || !copy) {
        free(rl);
        describe_here(k, req, in, reply);
        return;
    }
    memcpy(copy, req->body, req->body_len);
    rl->k = k;
    rl->reply = reply;
    rl->req = *req;
    rl->req.body = copy;
    rl->body = copy;
    if (kraft_peer_send(k->fwd_peers[li], req->api_key, req->api_version, req->flexible_header,
                        KRAFT_CLIENT_ID, copy, req->body_len, k->cfg_request_timeout_ms, relayed,
                        rl) < 0) {
        free(copy);
        free(rl);
        describe_here(k, req, in, reply);
    }
}

/* ---- dispatch ------------------------------------------------------------------- */

void kraft_handle(void *self, const od_cp_request_t *req, od_cp_reply_t *reply)
{
    kraft_t *k = self;
    if (!k->started) {
        od_cp_reply_close(reply, "the control plane is not running");
        return;
    }
    od_arena_t a;
    const char *why;
    void *in = decode_request(&a, req, &why);
    if (!in) {
        od_arena_free(&a);
        od_cp_reply_close(reply, why);
        return;
    }
    switch (req->api_key) {
    case OD_API_VOTE:
        handle_vote(k, req, in, reply);
        break;
    case OD_API_BEGIN_QUORUM_EPOCH:
        handle_begin(k, req, in, reply);
        break;
    case OD_API_END_QUORUM_EPOCH:
        handle_end(k, req, in, reply);
        break;
    case OD_API_FETCH:
        handle_fetch(k, req, in, reply);
        break;
    case OD_API_DESCRIBE_QUORUM:
        handle_describe(k, req, in, reply);
        break;
    case OD_API_FETCH_SNAPSHOT:
        kraft_handle_fetch_snapshot(k, req, in, reply);
        break;
    default: /* the core routes only kraft_apis here */
        od_cp_reply_close(reply, "not a KRaft request");
        break;
    }
    od_arena_free(&a);
}
