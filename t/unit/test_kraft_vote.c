/* test_kraft_vote.c - the kraft module as a voter of a 3-node quorum,
 * driven through its control-plane ops with a stand-in core (no loop, no
 * peers answering): Vote and pre-vote decisions, quorum-state persistence
 * (a restarted voter never votes twice in one epoch), BeginQuorumEpoch,
 * DescribeQuorum on a follower, malformed KRaft requests (closed, no
 * crash) and each RPC's frame errors (cluster id, counts, topic).
 * Requests are encoded with the module's generated codecs; the stand-in
 * core is kraft_fixture.c's. */
#include "../../modules/kraft/kraft_rpc.h"
#include "kraft_fixture.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static od_module_ctx_t ctx;
static od_core_t core;

static void send_raw(int16_t key, int16_t ver, const uint8_t *body, size_t len)
{
    od_cp_request_t req = {.api_key = key, .api_version = ver, .client_id = "test",
                           .flexible_header = 1, .body = body, .body_len = len, .peer = "t"};
    kfx_replies = kfx_closes = 0;
    ctx.ops->handle(ctx.self, &req, (od_cp_reply_t *)&req);
}

/* Sends the request encoded in w (and frees w). */
static void send_wbuf(int16_t key, int16_t ver, od_wbuf_t *w)
{
    size_t n;
    uint8_t *b = od_wbuf_flatten(w, &n);
    od_wbuf_free(w);
    send_raw(key, ver, b, n);
    free(b);
}

/* Vote (v2) from cand in epoch; returns granted (1/0), or -1 when no
 * answer. *err gets the partition error. */
static int vote(int32_t cand, int32_t epoch, int32_t last_epoch, int64_t last_offset, int pre,
                int16_t *err)
{
    od_VoteRequest_t in;
    od_VoteRequest_TopicData_t t;
    od_VoteRequest_PartitionData_t p;
    od_VoteRequest_init(&in);
    od_VoteRequest_TopicData_init(&t);
    od_VoteRequest_PartitionData_init(&p);
    in.voter_id = 1;
    t.topic_name = od_str_c("__cluster_metadata");
    p.candidate_epoch = epoch;
    p.candidate_id = cand;
    p.last_offset_epoch = last_epoch;
    p.last_offset = last_offset;
    p.pre_vote = (int8_t)pre;
    KRAFT_SET_SINGLE(in, topics, t, p);
    od_wbuf_t w;
    send_wbuf(OD_API_VOTE, 2, KRAFT_ENCODE(&w, od_VoteRequest_encode, 2, &in));
    if (kfx_replies != 1)
        return -1;
    od_arena_t a;
    const od_VoteResponse_t *out =
        kraft_decode_answer(&a, OD_API_VOTE, 2, kfx_reply_buf, kfx_reply_len);
    int granted = -1;
    if (out && KRAFT_SINGLE(out, topics)) {
        granted = out->topics[0].partitions[0].vote_granted;
        *err = out->topics[0].partitions[0].error_code;
    }
    od_arena_free(&a);
    return granted;
}

/* The frame every single-partition RPC checks (kraft_frame_error): asks
 * RPC key at ver three times - from another cluster, with two partitions,
 * for another topic - and sets codes[0..3] to the answers' top-level error
 * codes and then the last one's partition error (-1: none). Req, Topic and
 * Part name the generated request types, tf the topic's name field, Resp
 * the answer and rtopics its topic array. */
#define FRAME_CODES(Req, Topic, Part, tf, Resp, rtopics, key, ver, cid, codes)                     \
    do {                                                                                           \
        static const char *const topic_[] = {"abc", KRAFT_TOPIC, "abc"};                           \
        static const int nparts_[] = {1, 2, 1};                                                    \
        codes[3] = -1;                                                                             \
        for (int i_ = 0; i_ < 3; i_++) {                                                           \
            Req##_t in;                                                                            \
            Topic##_t t;                                                                           \
            Part##_t p[2];                                                                         \
            Req##_init(&in);                                                                       \
            Topic##_init(&t);                                                                      \
            Part##_init(&p[0]);                                                                    \
            Part##_init(&p[1]);                                                                    \
            in.cluster_id = i_ == 0 ? od_str_c("AAAAAAAAAAAAAAAAAAAAAA") : od_str_c(cid);          \
            t.tf = od_str_c(topic_[i_]);                                                           \
            t.partitions_count = nparts_[i_];                                                      \
            t.partitions = p;                                                                      \
            in.topics_count = 1;                                                                   \
            in.topics = &t;                                                                        \
            od_wbuf_t w;                                                                           \
            send_wbuf(key, ver, KRAFT_ENCODE(&w, Req##_encode, ver, &in));                         \
            od_arena_t a;                                                                          \
            const Resp##_t *out = kraft_decode_answer(&a, key, ver, kfx_reply_buf, kfx_reply_len); \
            codes[i_] = kfx_replies == 1 && out ? out->error_code : -1;                            \
            if (i_ == 2 && kfx_replies == 1 && out && KRAFT_SINGLE(out, rtopics))                  \
                codes[3] = out->rtopics[0].partitions[0].error_code;                               \
            od_arena_free(&a);                                                                     \
        }                                                                                          \
    } while (0)

/* Checks the frame's error codes of one RPC: INCONSISTENT_CLUSTER_ID,
 * INVALID_REQUEST, then UNKNOWN_TOPIC_OR_PARTITION for the partition of
 * another topic (or, want_top, INVALID_REQUEST for the whole request). */
static void frame_ok(const char *rpc, const int codes[4], int16_t want_top, int16_t want_part)
{
    tap_ok(codes[0] == OD_ERR_INCONSISTENT_CLUSTER_ID && codes[1] == OD_ERR_INVALID_REQUEST &&
               codes[2] == want_top && codes[3] == want_part,
           "%s: another cluster %d, two partitions %d, another topic %d/%d", rpc, codes[0],
           codes[1], codes[2], codes[3]);
}

/* The quorum's cluster id is known after a restart with meta.properties:
 * each RPC's frame then gets its error codes. */
static void test_frames(void)
{
    char err[512] = "", cid[KRAFT_CLUSTER_ID_LEN + 1] = "";
    ctx.ops->stop(ctx.self);
    tap_ok(kraft_new_cluster_id(cid, err, sizeof err) == 0 &&
               kraft_meta_props_write(core.data_dir, 1, cid, err, sizeof err) == 0 &&
               ctx.ops->start(ctx.self, &core, err, sizeof err) == 0 &&
               ctx.ops->cluster_id(ctx.self) && strcmp(ctx.ops->cluster_id(ctx.self), cid) == 0,
           "frames: restarted in cluster %s (%s)", cid, err);
    int codes[4];
    FRAME_CODES(od_VoteRequest, od_VoteRequest_TopicData, od_VoteRequest_PartitionData,
                topic_name, od_VoteResponse, topics, OD_API_VOTE, 2, cid, codes);
    frame_ok("Vote", codes, OD_ERR_NONE, OD_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    FRAME_CODES(od_BeginQuorumEpochRequest, od_BeginQuorumEpochRequest_TopicData,
                od_BeginQuorumEpochRequest_PartitionData, topic_name, od_BeginQuorumEpochResponse,
                topics, OD_API_BEGIN_QUORUM_EPOCH, 1, cid, codes);
    frame_ok("BeginQuorumEpoch", codes, OD_ERR_NONE, OD_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    FRAME_CODES(od_EndQuorumEpochRequest, od_EndQuorumEpochRequest_TopicData,
                od_EndQuorumEpochRequest_PartitionData, topic_name, od_EndQuorumEpochResponse,
                topics, OD_API_END_QUORUM_EPOCH, 1, cid, codes);
    frame_ok("EndQuorumEpoch", codes, OD_ERR_NONE, OD_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    FRAME_CODES(od_FetchSnapshotRequest, od_FetchSnapshotRequest_TopicSnapshot,
                od_FetchSnapshotRequest_PartitionSnapshot, name, od_FetchSnapshotResponse, topics,
                OD_API_FETCH_SNAPSHOT, 0, cid, codes);
    frame_ok("FetchSnapshot", codes, OD_ERR_NONE, OD_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    /* Fetch serves the metadata partition only: another is a wrong request. */
    FRAME_CODES(od_FetchRequest, od_FetchRequest_FetchTopic, od_FetchRequest_FetchPartition,
                topic, od_FetchResponse, responses, OD_API_FETCH, 12, cid, codes);
    frame_ok("Fetch", codes, OD_ERR_INVALID_REQUEST, -1);
}

int main(void)
{
    char err[512] = "", qs_path[700];
    int16_t perr = 0;
    if (kfx_root_make("test_kraft_vote") < 0)
        return 1;
    kfx_core_init(&core, 1, "data");
    core.listener_names = "CONTROLLER";
    snprintf(qs_path, sizeof qs_path, "%s/__cluster_metadata-0/quorum-state", core.data_dir);

    tap_ok(od_module.init(&ctx, err, sizeof err) == 0, "init");
    kfx_set_conf(&ctx, "controller.quorum.voters", "1@127.0.0.1:1,2@127.0.0.1:2,3@127.0.0.1:3", 0);
    tap_ok(ctx.ops->start(ctx.self, &core, err, sizeof err) == 0, "a voter of 3 starts (%s)", err);
    tap_ok(ctx.ops->controller_id(ctx.self) == -1 && ctx.ops->cluster_id(ctx.self) == NULL,
           "no leader and no cluster id before an election");

    tap_ok(vote(2, 5, -1, 0, 1, &perr) == 1, "a pre-vote for epoch 5 is granted");
    kraft_qstate_t qs;
    tap_ok(kraft_qstate_read(qs_path, &qs, err, sizeof err) >= 0 && qs.leader_epoch == 0 &&
               qs.voted_id == -1, "a pre-vote changes nothing on disk");
    tap_ok(vote(2, 5, -1, 0, 0, &perr) == 1 && perr == 0, "the vote of 2 in epoch 5 is granted");
    tap_ok(kraft_qstate_read(qs_path, &qs, err, sizeof err) == 1 && qs.leader_epoch == 5 &&
               qs.voted_id == 2, "the vote is in quorum-state (epoch 5, voted 2)");
    tap_ok(vote(2, 5, -1, 0, 0, &perr) == 1, "asking again gets the same vote");
    tap_ok(vote(3, 5, -1, 0, 0, &perr) == 0, "3 gets no vote in epoch 5");
    tap_ok(vote(3, 4, -1, 0, 0, &perr) == 0 && perr == OD_ERR_FENCED_LEADER_EPOCH,
           "a vote for an older epoch is FENCED_LEADER_EPOCH");
    tap_ok(vote(7, 6, -1, 0, 0, &perr) == 0 && perr == OD_ERR_INCONSISTENT_VOTER_SET,
           "a candidate that is not a voter is INCONSISTENT_VOTER_SET");

    ctx.ops->stop(ctx.self);
    tap_ok(ctx.ops->start(ctx.self, &core, err, sizeof err) == 0, "restart (%s)", err);
    tap_ok(vote(3, 5, -1, 0, 0, &perr) == 0, "after a restart 3 still gets no vote in epoch 5");
    tap_ok(vote(2, 5, -1, 0, 0, &perr) == 1, "and 2 keeps it");
    tap_ok(vote(3, 6, -1, 0, 0, &perr) == 1, "epoch 6 is a new vote: 3 gets it");

    {
        uint8_t ok[64];
        /* DescribeQuorum v1 for the wrong topic: an answer, not a crash. */
        size_t n = 0;
        ok[n++] = 2;                              /* one topic */
        ok[n++] = 4;                              /* "abc" */
        memcpy(ok + n, "abc", 3);
        n += 3;
        ok[n++] = 2;                              /* one partition */
        memset(ok + n, 0, 4);                     /* index 0 */
        n += 4;
        ok[n++] = 0;                              /* partition tags */
        ok[n++] = 0;                              /* topic tags */
        ok[n++] = 0;                              /* request tags */
        send_raw(55, 1, ok, n);
        int16_t code = -1;
        od_arena_t a;
        const od_DescribeQuorumResponse_t *out =
            kraft_decode_answer(&a, OD_API_DESCRIBE_QUORUM, 1, kfx_reply_buf, kfx_reply_len);
        if (kfx_replies == 1 && out && KRAFT_SINGLE(out, topics))
            code = out->topics[0].partitions[0].error_code;
        od_arena_free(&a);
        tap_ok(code == OD_ERR_UNKNOWN_TOPIC_OR_PARTITION,
               "DescribeQuorum for another topic: UNKNOWN_TOPIC_OR_PARTITION (%d)", code);
        ok[n++] = 0x55;
        send_raw(55, 1, ok, n);
        tap_ok(kfx_closes == 1, "bytes after the body close the connection");
    }
    /* BeginQuorumEpoch from 3 in epoch 6: we follow it. */
    {
        od_BeginQuorumEpochRequest_t in;
        od_BeginQuorumEpochRequest_TopicData_t t;
        od_BeginQuorumEpochRequest_PartitionData_t p;
        od_BeginQuorumEpochRequest_init(&in);
        od_BeginQuorumEpochRequest_TopicData_init(&t);
        od_BeginQuorumEpochRequest_PartitionData_init(&p);
        t.topic_name = od_str_c("__cluster_metadata");
        p.leader_id = 3;
        p.leader_epoch = 6;
        KRAFT_SET_SINGLE(in, topics, t, p);
        od_wbuf_t w;
        send_wbuf(OD_API_BEGIN_QUORUM_EPOCH, 1,
                  KRAFT_ENCODE(&w, od_BeginQuorumEpochRequest_encode, 1, &in));
    }
    tap_ok(kfx_replies == 1 && ctx.ops->controller_id(ctx.self) == 3,
           "BeginQuorumEpoch: 3 is the leader now");
    tap_ok(vote(2, 6, -1, 0, 1, &perr) == 0, "a pre-vote is refused while the leader is heard");
    tap_ok(kraft_qstate_read(qs_path, &qs, err, sizeof err) == 1 && qs.leader_id == 3 &&
               qs.leader_epoch == 6, "quorum-state: leader 3 in epoch 6");

    /* Bad input: truncated, garbage, bytes after the body, huge counts. */
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x01};
    send_raw(52, 2, junk, sizeof junk);
    tap_ok(kfx_closes == 1 && kfx_replies == 0, "a malformed Vote closes the connection");
    send_raw(53, 1, junk, 3);
    tap_ok(kfx_closes == 1 && kfx_replies == 0, "a truncated BeginQuorumEpoch closes it");
    uint8_t big[8] = {0x00, 0xff, 0xff, 0xff, 0xff, 0x0f};
    send_raw(1, 12, big, sizeof big);
    tap_ok(kfx_closes == 1, "a Fetch with an absurd count closes it");
    send_raw(55, 1, big, 0);
    tap_ok(kfx_closes == 1, "an empty DescribeQuorum body closes it");
    test_frames();
    od_module.fini(&ctx);
    kfx_image_clear(&core);
    kfx_root_remove();
    return tap_done();
}
