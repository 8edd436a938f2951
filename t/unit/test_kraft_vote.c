/* test_kraft_vote.c - the kraft module as a voter of a 3-node quorum,
 * driven through its control-plane ops with a stand-in core (no loop, no
 * peers answering): Vote and pre-vote decisions, quorum-state persistence
 * (a restarted voter never votes twice in one epoch), BeginQuorumEpoch,
 * DescribeQuorum on a follower, and malformed KRaft requests (closed, no
 * crash). Requests are encoded with the module's generated codecs. */
#include "../../modules/kraft/kraft.h"
#include "kraft_proto_gen.h"
#include "tap.h"

#include <ftw.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void od_logf(int level, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (getenv("KRAFT_TEST_VERBOSE"))
        printf("# log(%d): %s\n", level, buf);
}

struct od_core {
    int32_t node_id;
    char data_dir[512];
};
struct od_module_ctx {
    const od_conf_def_t *conf;
    size_t nconf;
    const od_controlplane_ops_t *ops;
    void *self;
    void *data;
};

int od_register_config(od_module_ctx_t *ctx, const od_conf_def_t *defs, size_t n)
{
    ctx->conf = defs;
    ctx->nconf = n;
    return 0;
}
int od_register_controlplane(od_module_ctx_t *ctx, const od_controlplane_ops_t *ops, void *self)
{
    ctx->ops = ops;
    ctx->self = self;
    return 0;
}
void od_module_set_data(od_module_ctx_t *ctx, void *data) { ctx->data = data; }
void *od_module_get_data(od_module_ctx_t *ctx) { return ctx->data; }
int32_t od_core_node_id(od_core_t *core) { return core->node_id; }
const char *od_core_data_dir(od_core_t *core) { return core->data_dir; }
const char *od_core_config_get(od_core_t *core, const char *key)
{
    (void)core;
    if (strcmp(key, "process.roles") == 0)
        return "broker,controller";
    if (strcmp(key, "controller.listener.names") == 0)
        return "CONTROLLER";
    return NULL;
}
int64_t od_now_ms(void) { return 1700000000000; }
int64_t od_mono_ms(void) { return 1000; }
int od_metadata_snapshot(od_core_t *core, od_meta_record_t **recs, size_t *n)
{
    (void)core;
    *recs = NULL;
    *n = 0;
    return 0;
}
void od_metadata_reset_begin(od_core_t *core) { (void)core; }
void od_metadata_reset_end(od_core_t *core) { (void)core; }
int od_metadata_apply(od_core_t *core, const uint8_t *rec, size_t len, int64_t offset, char *err,
                      size_t errsz)
{
    (void)core, (void)rec, (void)len, (void)offset, (void)err, (void)errsz;
    return 0;
}
static int64_t timer_ids;
int64_t od_timer_add(od_core_t *core, int64_t after_ms, od_timer_cb cb, void *arg)
{
    (void)core, (void)after_ms, (void)cb, (void)arg;
    return ++timer_ids; /* never fires: the test drives every step */
}
void od_timer_cancel(od_core_t *core, int64_t id) { (void)core, (void)id; }
int od_fd_watch(od_core_t *core, int fd, uint32_t events, od_fd_cb cb, void *arg)
{
    (void)core, (void)fd, (void)events, (void)cb, (void)arg;
    return 0;
}
void od_fd_unwatch(od_core_t *core, int fd) { (void)core, (void)fd; }

/* The answer of the last request. */
static uint8_t reply_buf[65536];
static size_t reply_len;
static int replies, closes;
int od_cp_reply(od_cp_reply_t *reply, const uint8_t *body, size_t len)
{
    (void)reply;
    replies++;
    reply_len = len < sizeof reply_buf ? len : sizeof reply_buf;
    memcpy(reply_buf, body, reply_len);
    return 0;
}
void od_cp_reply_close(od_cp_reply_t *reply, const char *why)
{
    (void)reply, (void)why;
    closes++;
}

extern const od_module_t od_module;
static od_module_ctx_t ctx;
static od_core_t core = {.node_id = 1};

static void set_conf(const char *name, const char *sval)
{
    for (size_t i = 0; i < ctx.nconf; i++)
        if (strcmp(ctx.conf[i].name, name) == 0)
            *(const char **)ctx.conf[i].target = sval;
}

static void send_raw(int16_t key, int16_t ver, const uint8_t *body, size_t len)
{
    od_cp_request_t req = {.api_key = key, .api_version = ver, .client_id = "test",
                           .flexible_header = 1, .body = body, .body_len = len, .peer = "t"};
    replies = closes = 0;
    ctx.ops->handle(ctx.self, &req, (od_cp_reply_t *)&req);
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
    t.partitions_count = 1;
    t.partitions = &p;
    in.topics_count = 1;
    in.topics = &t;
    od_wbuf_t w;
    od_wbuf_init(&w);
    od_VoteRequest_encode(&w, 2, &in);
    size_t n;
    uint8_t *b = od_wbuf_flatten(&w, &n);
    od_wbuf_free(&w);
    send_raw(52, 2, b, n);
    free(b);
    if (replies != 1)
        return -1;
    od_arena_t a;
    od_slice_t s;
    od_VoteResponse_t out;
    od_arena_init(&a, 1 << 20);
    od_slice_init(&s, reply_buf, reply_len);
    int granted = -1;
    if (od_VoteResponse_decode(&s, 2, &a, &out) == 0 && out.topics_count == 1 &&
        out.topics[0].partitions_count == 1) {
        granted = out.topics[0].partitions[0].vote_granted;
        *err = out.topics[0].partitions[0].error_code;
    }
    od_arena_free(&a);
    return granted;
}

static char root[256];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

int main(void)
{
    char err[512] = "", qs_path[700];
    int16_t perr = 0;
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(root, sizeof root, "%s/test_kraft_vote.XXXXXX", tmp);
    if (!mkdtemp(root))
        return 1;
    snprintf(core.data_dir, sizeof core.data_dir, "%s/data", root);
    snprintf(qs_path, sizeof qs_path, "%s/__cluster_metadata-0/quorum-state", core.data_dir);

    tap_ok(od_module.init(&ctx, err, sizeof err) == 0, "init");
    set_conf("controller.quorum.voters", "1@127.0.0.1:1,2@127.0.0.1:2,3@127.0.0.1:3");
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
        od_slice_t sl;
        od_DescribeQuorumResponse_t out;
        od_arena_init(&a, 1 << 20);
        od_slice_init(&sl, reply_buf, reply_len);
        if (replies == 1 && od_DescribeQuorumResponse_decode(&sl, 1, &a, &out) == 0 &&
            out.topics_count == 1 && out.topics[0].partitions_count == 1)
            code = out.topics[0].partitions[0].error_code;
        od_arena_free(&a);
        tap_ok(code == OD_ERR_UNKNOWN_TOPIC_OR_PARTITION,
               "DescribeQuorum for another topic: UNKNOWN_TOPIC_OR_PARTITION (%d)", code);
        ok[n++] = 0x55;
        send_raw(55, 1, ok, n);
        tap_ok(closes == 1, "bytes after the body close the connection");
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
        t.partitions_count = 1;
        t.partitions = &p;
        in.topics_count = 1;
        in.topics = &t;
        od_wbuf_t w;
        od_wbuf_init(&w);
        od_BeginQuorumEpochRequest_encode(&w, 1, &in);
        size_t n;
        uint8_t *b = od_wbuf_flatten(&w, &n);
        od_wbuf_free(&w);
        send_raw(53, 1, b, n);
        free(b);
    }
    tap_ok(replies == 1 && ctx.ops->controller_id(ctx.self) == 3,
           "BeginQuorumEpoch: 3 is the leader now");
    tap_ok(vote(2, 6, -1, 0, 1, &perr) == 0, "a pre-vote is refused while the leader is heard");
    tap_ok(kraft_qstate_read(qs_path, &qs, err, sizeof err) == 1 && qs.leader_id == 3 &&
               qs.leader_epoch == 6, "quorum-state: leader 3 in epoch 6");

    /* Bad input: truncated, garbage, bytes after the body, huge counts. */
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x01};
    send_raw(52, 2, junk, sizeof junk);
    tap_ok(closes == 1 && replies == 0, "a malformed Vote closes the connection");
    send_raw(53, 1, junk, 3);
    tap_ok(closes == 1 && replies == 0, "a truncated BeginQuorumEpoch closes it");
    uint8_t big[8] = {0x00, 0xff, 0xff, 0xff, 0xff, 0x0f};
    send_raw(1, 12, big, sizeof big);
    tap_ok(closes == 1, "a Fetch with an absurd count closes it");
    send_raw(55, 1, big, 0);
    tap_ok(closes == 1, "an empty DescribeQuorum body closes it");
    od_module.fini(&ctx);
    nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return tap_done();
}
