/* test_group.c - the group coordinator without a broker: the group ->
 * partition mapping, __consumer_offsets record layouts, the rebalance state
 * machine driven directly (a real loop with short timeouts, records
 * captured instead of appended), commits, deletes, loading and expiry. */
#include <stdlib.h>
#include <string.h>

#include "od_batch.h"
#include "od_group.h"
#include "tap.h"

/* ---- captured appends ---- */

static uint8_t *cap_buf;
static size_t cap_len;
static int cap_batches;
static int16_t cap_fail; /* error the fake append returns, NONE normally */

static int16_t fake_append(void *arg, int32_t partition, uint8_t *batch, size_t len)
{
    (void)arg;
    (void)partition;
    if (cap_fail != OD_ERR_NONE)
        return cap_fail;
    od_batch_assign_offsets(batch, len, 0, 0, -1);
    cap_buf = realloc(cap_buf, cap_len + len);
    memcpy(cap_buf + cap_len, batch, len);
    cap_len += len;
    cap_batches++;
    return OD_ERR_NONE;
}

/* ---- callbacks ---- */

typedef struct jres {
    int called;
    int16_t err;
    char member[128];
    char leader[128];
    char protocol[32];
    int32_t gen;
    int nmembers; /* members listed (leader only) */
} jres_t;

static void on_join(void *ctx, const od_join_result_t *r)
{
    jres_t *j = ctx;
    j->called++;
    j->err = r->error;
    snprintf(j->member, sizeof(j->member), "%s", r->member_id ? r->member_id : "");
    snprintf(j->leader, sizeof(j->leader), "%s", r->leader ? r->leader : "");
    snprintf(j->protocol, sizeof(j->protocol), "%s", r->protocol_name ? r->protocol_name : "");
    j->gen = r->generation;
    j->nmembers = r->members_of ? (int)r->members_of->nmembers : 0;
}

typedef struct sres {
    int called;
    int16_t err;
    char assignment[64];
} sres_t;

static void on_sync(void *ctx, int16_t err, const od_group_t *g, const uint8_t *a, int32_t alen)
{
    (void)g;
    sres_t *s = ctx;
    s->called++;
    s->err = err;
    snprintf(s->assignment, sizeof(s->assignment), "%.*s", (int)alen, a ? (const char *)a : "");
}

static od_loop_t *loop;
static od_coord_t coord; /* the coordinator under test (no broker core) */
static void stop_loop(void *arg) { od_loop_stop(arg); }
static void run_for(int ms)
{
    od_loop_timer(loop, ms, stop_loop, loop);
    od_loop_run(loop);
}

static od_gproto_in_t P_RANGE = {{"range", 5}, {(const uint8_t *)"\x00\x00\x00\x00\x00\x01\x00\x01t", 9}};
static od_gproto_in_t P_RR = {{"roundrobin", 10}, {(const uint8_t *)"\x00\x00\x00\x00\x00\x01\x00\x01t", 9}};

static void join(jres_t *j, const char *group, const char *member, const char *inst,
                 const od_gproto_in_t *protos, int n, int32_t session, int require_id)
{
    memset(j, 0, sizeof(*j));
    od_join_args_t a = {0};
    a.group_id = od_str_c(group);
    a.member_id = od_str_c(member);
    a.instance_id = od_str_c(inst);
    a.client_id = od_str_c("cli");
    a.client_host = "/127.0.0.1";
    a.protocol_type = od_str_c("consumer");
    a.session_timeout = session;
    a.rebalance_timeout = 300;
    a.protos = protos;
    a.nprotos = n;
    a.require_known_member_id = require_id;
    od_group_join(&coord, &a, on_join, j);
}

static void sync_(sres_t *s, const char *group, int32_t gen, const char *member,
                  const od_sync_assign_t *asg, int n)
{
    memset(s, 0, sizeof(*s));
    od_group_sync(&coord, od_str_c(group), gen, od_str_c(member), od_str_c(NULL),
                  od_str_c(NULL), od_str_c(NULL), asg, n, on_sync, s);
}

static int16_t hb(const char *group, int32_t gen, const char *member)
{
    return od_group_heartbeat(&coord, od_str_c(group), gen, od_str_c(member), od_str_c(NULL));
}

static od_coord_conf_t test_conf(void)
{
    od_coord_conf_t c = {0};
    c.initial_delay_ms = 50;
    c.min_session_ms = 10;
    c.max_session_ms = 100000;
    c.max_size = 100;
    c.metadata_max = 16;
    c.retention_minutes = 10080;
    c.retention_check_ms = 600000;
    c.num_partitions = 50;
    c.replication = 1;
    c.segment_bytes = 1 << 20;
    c.load_buffer = 1 << 20;
    return c;
}

static void reset_coord(void)
{
    od_coord_reset(&coord);
    od_coord_conf_t c = test_conf();
    od_coord_init(&coord, loop, NULL, &c);
    coord.append = fake_append;
}

/* ---- tests ---- */

static void test_hash(void)
{
    tap_is_int(od_java_string_hash("hello", 5), 99162322, "\"hello\".hashCode() as Java");
    tap_is_int(od_java_string_hash("", 0), 0, "empty string hashes to 0");
    tap_is_int(od_java_string_hash("my-group", 8), -1906497762, "\"my-group\".hashCode()");
    tap_is_int(od_java_string_hash("polygenelubricants", 18), INT32_MIN,
               "\"polygenelubricants\".hashCode() is Integer.MIN_VALUE");
    tap_is_int(od_group_partition_for("polygenelubricants", 18, 50), 0,
               "Utils.abs(MIN_VALUE) maps to partition 0");
    tap_is_int(od_group_partition_for("my-group", 8, 50), 36, "my-group -> partition 36 of 50");
    tap_is_int(od_java_string_hash("\xc3\xa9t\xc3\xa9", 5), 227742, "UTF-8 decoded to UTF-16 (été)");
    tap_is_int(od_java_string_hash("\xf0\x9f\x98\x80x", 5), 54959989,
               "supplementary code point hashes as a surrogate pair");
    tap_is_int(od_group_partition_for("hello", 5, 50), 22, "hello -> partition 22");
}

static void test_records(void)
{
    size_t len;
    uint8_t *k = od_gstore_offset_key("g", "t", 3, &len);
    static const uint8_t want_k[] = {0, 1, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 3};
    tap_ok(len == sizeof(want_k) && memcmp(k, want_k, len) == 0, "OffsetCommitKey v1 layout");
    free(k);
    od_goffset_t o = {"t", 3, 7, 0x0102030405060708LL, "md", 2, 1000, -1};
    uint8_t *v = od_gstore_offset_value(&o, &len);
    static const uint8_t want_v3[] = {0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 7, 0, 2, 'm', 'd',
                                      0, 0, 0, 0, 0, 0, 0x03, 0xe8};
    tap_ok(len == sizeof(want_v3) && memcmp(v, want_v3, len) == 0,
           "OffsetCommitValue v3 layout (offset, leader epoch, metadata, commit ts)");
    free(v);
    o.expire_ts = 2000;
    v = od_gstore_offset_value(&o, &len);
    static const uint8_t want_v1[] = {0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 0, 2, 'm', 'd', 0, 0, 0, 0,
                                      0, 0, 0x03, 0xe8, 0, 0, 0, 0, 0, 0, 0x07, 0xd0};
    tap_ok(len == sizeof(want_v1) && memcmp(v, want_v1, len) == 0,
           "OffsetCommitValue v1 when an expire timestamp is set");
    free(v);
    k = od_gstore_group_key("grp", &len);
    static const uint8_t want_gk[] = {0, 2, 0, 3, 'g', 'r', 'p'};
    tap_ok(len == sizeof(want_gk) && memcmp(k, want_gk, len) == 0, "GroupMetadataKey v2 layout");
    free(k);

    /* A group with one member, against a hand-built v3 value. */
    od_group_t g;
    memset(&g, 0, sizeof(g));
    od_gmember_t m;
    memset(&m, 0, sizeof(m));
    od_gproto_t pr = {"range", (uint8_t *)"S", 1};
    od_gmember_t *mp = &m;
    m.id = "m";
    m.instance_id = NULL;
    m.client_id = "c";
    m.client_host = "/h";
    m.session_timeout = 10000;
    m.rebalance_timeout = 20000;
    m.protos = &pr;
    m.nprotos = 1;
    m.assignment = (uint8_t *)"AB";
    m.assignment_len = 2;
    g.id = "grp";
    g.protocol_type = "consumer";
    g.protocol = "range";
    g.leader = "m";
    g.generation = 5;
    g.state_ts = 77;
    g.members = &mp;
    g.nmembers = 1;
    v = od_gstore_group_value(&g, &len);
    static const uint8_t want_gv[] = {
        0, 3,                                            /* version */
        0, 8, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r',    /* protocolType */
        0, 0, 0, 5,                                      /* generation */
        0, 5, 'r', 'a', 'n', 'g', 'e',                   /* protocol */
        0, 1, 'm',                                       /* leader */
        0, 0, 0, 0, 0, 0, 0, 77,                         /* currentStateTimestamp */
        0, 0, 0, 1,                                      /* members */
        0, 1, 'm', 0xff, 0xff,                           /* memberId, groupInstanceId null */
        0, 1, 'c', 0, 2, '/', 'h',                       /* clientId, clientHost */
        0, 0, 0x4e, 0x20, 0, 0, 0x27, 0x10,              /* rebalance, session timeout */
        0, 0, 0, 1, 'S', 0, 0, 0, 2, 'A', 'B'};          /* subscription, assignment */
    tap_ok(len == sizeof(want_gv) && memcmp(v, want_gv, len) == 0, "GroupMetadataValue v3 layout");
    if (len != sizeof(want_gv))
        tap_diag("len %zu want %zu", len, sizeof(want_gv));
    free(v);
}

static void test_rebalance(void)
{
    reset_coord();
    jres_t ja, jb;
    od_gproto_in_t pa[2] = {P_RANGE, P_RR}, pb[2] = {P_RR, P_RANGE};

    join(&ja, "g1", "", NULL, pa, 2, 5000, 1);
    tap_is_int(ja.err, OD_ERR_MEMBER_ID_REQUIRED, "v4 join without a member id: MEMBER_ID_REQUIRED");
    tap_ok(strncmp(ja.member, "cli-", 4) == 0 && strlen(ja.member) == 40,
           "generated member id is client.id-UUID (%s)", ja.member);
    char a_id[128];
    snprintf(a_id, sizeof(a_id), "%s", ja.member);
    join(&ja, "g1", a_id, NULL, pa, 2, 5000, 1);
    tap_is_int(ja.called, 0, "first join waits for the initial delay");
    join(&jb, "g1", "", NULL, pb, 2, 5000, 0);
    tap_is_int(jb.called, 0, "second member (v3, no handshake) waits too");
    od_group_t *g = od_group_find(&coord, "g1", 2);
    tap_ok(g && g->state == OD_GS_PREPARING, "group is PreparingRebalance");
    run_for(200);
    tap_ok(ja.called == 1 && jb.called == 1 && ja.err == 0 && jb.err == 0,
           "both joins answered after the delay");
    tap_is_int(ja.gen, 1, "generation 1");
    tap_ok(strcmp(ja.leader, a_id) == 0 && ja.nmembers == 2 && jb.nmembers == 0,
           "first member leads and alone sees the member list");
    tap_ok(strcmp(ja.protocol, "range") == 0 || strcmp(ja.protocol, "roundrobin") == 0,
           "a common protocol is chosen (%s)", ja.protocol);
    char b_id[128];
    snprintf(b_id, sizeof(b_id), "%s", jb.member);
    tap_is_int(hb("g1", 1, b_id), OD_ERR_NONE, "heartbeat during CompletingRebalance is fine");

    sres_t sa, sb;
    sync_(&sb, "g1", 1, b_id, NULL, 0);
    tap_is_int(sb.called, 0, "follower's SyncGroup waits for the leader");
    od_sync_assign_t asg[2] = {{od_str_c(a_id), {(const uint8_t *)"AA", 2}},
                               {od_str_c(b_id), {(const uint8_t *)"BB", 2}}};
    int before = cap_batches;
    sync_(&sa, "g1", 1, a_id, asg, 2);
    tap_ok(sa.called && sb.called && sa.err == 0 && sb.err == 0, "leader's SyncGroup answers both");
    tap_ok(strcmp(sa.assignment, "AA") == 0 && strcmp(sb.assignment, "BB") == 0,
           "each member gets its own assignment");
    tap_ok(g->state == OD_GS_STABLE && cap_batches == before + 1, "Stable, group metadata written");

    tap_is_int(hb("g1", 1, a_id), OD_ERR_NONE, "heartbeat in Stable");
    tap_is_int(hb("g1", 0, a_id), OD_ERR_ILLEGAL_GENERATION, "wrong generation: ILLEGAL_GENERATION");
    tap_is_int(hb("g1", 1, "nobody"), OD_ERR_UNKNOWN_MEMBER_ID, "unknown member: UNKNOWN_MEMBER_ID");
    tap_is_int(hb("nogroup", 1, "x"), OD_ERR_UNKNOWN_MEMBER_ID, "unknown group: UNKNOWN_MEMBER_ID");
    tap_is_int(hb("", 1, "x"), OD_ERR_INVALID_GROUP_ID, "empty group id: INVALID_GROUP_ID");

    /* A stable follower rejoining with the same metadata gets the current
     * generation at once. */
    join(&jb, "g1", b_id, NULL, pb, 2, 5000, 1);
    tap_ok(jb.called == 1 && jb.gen == 1 && g->state == OD_GS_STABLE,
           "unchanged follower rejoin: no rebalance");

    /* Leave: the rebalance completes as soon as everyone left rejoined. */
    tap_is_int(od_group_leave(g, od_str_c(a_id), od_str_c(NULL)), OD_ERR_NONE, "leader leaves");
    tap_ok(g->state == OD_GS_PREPARING, "leave starts a rebalance");
    tap_is_int(hb("g1", 1, b_id), OD_ERR_REBALANCE_IN_PROGRESS, "heartbeat: REBALANCE_IN_PROGRESS");
    join(&jb, "g1", b_id, NULL, pb, 2, 5000, 1);
    tap_ok(jb.called == 1 && jb.err == 0 && jb.gen == 2 && strcmp(jb.leader, b_id) == 0,
           "rejoin of the last member completes generation 2 at once, new leader");
    tap_ok(strcmp(jb.protocol, "roundrobin") == 0, "protocol follows the remaining member's preference");
    sync_(&sb, "g1", 2, b_id, asg + 1, 1);
    tap_ok(sb.called && sb.err == 0 && g->state == OD_GS_STABLE, "generation 2 stable");

    /* Session expiry: b stops heartbeating (session 5000 is too long for a
     * test, so a member with a short session joins then goes silent). */
    jres_t jc;
    join(&jc, "g1", "", NULL, pb, 2, 30, 0);
    tap_ok(g->state == OD_GS_PREPARING && jc.called == 0, "a third member starts a rebalance");
    join(&jb, "g1", b_id, NULL, pb, 2, 5000, 0);
    tap_ok(jb.called && jc.called && jb.gen == 3, "generation 3 with both");
    char c_id[128];
    snprintf(c_id, sizeof(c_id), "%s", jc.member);
    od_sync_assign_t asg3[1] = {{od_str_c(b_id), {(const uint8_t *)"B3", 2}}};
    sync_(&sb, "g1", 3, b_id, asg3, 1);
    tap_ok(sb.called && g->state == OD_GS_STABLE, "generation 3 stable without c's SyncGroup");
    for (int i = 0; i < 6; i++) { /* keep b alive, let c's 30 ms session run out */
        run_for(20);
        hb("g1", g->generation, b_id);
    }
    tap_ok(od_group_member(g, c_id, strlen(c_id)) == NULL, "silent member expired");
    tap_is_int(hb("g1", 3, b_id), OD_ERR_REBALANCE_IN_PROGRESS, "expiry triggers a rebalance");
    join(&jb, "g1", b_id, NULL, pb, 2, 5000, 0);
    tap_ok(jb.called && jb.gen == 4, "generation 4 after the expiry");

    /* Errors. */
    join(&jc, "g1", "", NULL, pb, 2, 5, 0);
    tap_is_int(jc.err, OD_ERR_INVALID_SESSION_TIMEOUT, "session below the minimum: INVALID_SESSION_TIMEOUT");
    od_gproto_in_t other = {{"other", 5}, {(const uint8_t *)"", 0}};
    join(&jc, "g1", "", NULL, &other, 1, 5000, 0);
    tap_is_int(jc.err, OD_ERR_INCONSISTENT_GROUP_PROTOCOL, "no common protocol: INCONSISTENT_GROUP_PROTOCOL");
    join(&jc, "", "", NULL, pb, 2, 5000, 0);
    tap_is_int(jc.err, OD_ERR_INVALID_GROUP_ID, "empty group id: INVALID_GROUP_ID");
    join(&jc, "g1", "stale-id", NULL, pb, 2, 5000, 0);
    tap_is_int(jc.err, OD_ERR_UNKNOWN_MEMBER_ID, "unknown member id: UNKNOWN_MEMBER_ID");
    coord.conf.max_size = 1;
    sync_(&sb, "g1", 4, b_id, asg3, 1);
    join(&jc, "g1", "", NULL, pb, 2, 5000, 0);
    tap_is_int(jc.err, OD_ERR_GROUP_MAX_SIZE_REACHED, "group.max.size: GROUP_MAX_SIZE_REACHED");
    coord.conf.max_size = 100;

    /* The last member leaves: Empty with a new generation, stored. */
    tap_is_int(od_group_leave(g, od_str_c(b_id), od_str_c(NULL)), OD_ERR_NONE, "last member leaves");
    tap_ok(g->state == OD_GS_EMPTY && g->generation == 5, "group is Empty, generation 5");
}

static void test_protocol_selection(void)
{
    reset_coord();
    coord.conf.initial_delay_ms = 0;
    jres_t j1, j2, j3;
    od_gproto_in_t p1[2] = {P_RANGE, P_RR}, p2[2] = {P_RR, P_RANGE}, p3[1] = {P_RR};
    join(&j1, "sel", "", NULL, p1, 2, 5000, 0);
    join(&j2, "sel", "", NULL, p2, 2, 5000, 0);
    join(&j3, "sel", "", NULL, p3, 1, 5000, 0);
    run_for(30);
    tap_ok(j1.called && strcmp(j1.protocol, "roundrobin") == 0,
           "only roundrobin is common to all: chosen");
    reset_coord();
    coord.conf.initial_delay_ms = 0;
    od_gproto_in_t q3[2] = {P_RR, P_RANGE};
    join(&j1, "sel", "", NULL, p1, 2, 5000, 0);
    join(&j2, "sel", "", NULL, p1, 2, 5000, 0);
    join(&j3, "sel", "", NULL, q3, 2, 5000, 0);
    run_for(30);
    tap_ok(j1.called && strcmp(j1.protocol, "range") == 0, "majority of first choices wins (range 2:1)");
    jres_t jx;
    memset(&jx, 0, sizeof(jx));
    od_join_args_t a = {0};
    a.group_id = od_str_c("sel");
    a.member_id = od_str_c("");
    a.instance_id = od_str_c(NULL);
    a.client_id = od_str_c("x");
    a.protocol_type = od_str_c("connect");
    a.session_timeout = 5000;
    a.rebalance_timeout = 300;
    a.protos = p1;
    a.nprotos = 2;
    od_group_join(&coord, &a, on_join, &jx);
    tap_is_int(jx.err, OD_ERR_INCONSISTENT_GROUP_PROTOCOL, "other protocol type: INCONSISTENT_GROUP_PROTOCOL");
}

static void test_static(void)
{
    reset_coord();
    coord.conf.initial_delay_ms = 0;
    jres_t j;
    od_gproto_in_t p[1] = {P_RANGE};
    join(&j, "st", "", "inst-1", p, 1, 5000, 1);
    tap_is_int(j.called, 0, "static member skips MEMBER_ID_REQUIRED and waits");
    run_for(20);
    tap_ok(j.called && j.err == 0 && j.gen == 1, "static member joined generation 1");
    tap_ok(strncmp(j.member, "inst-1-", 7) == 0, "static member id starts with the instance id");
    char old_id[128];
    snprintf(old_id, sizeof(old_id), "%s", j.member);
    sres_t s;
    od_sync_assign_t asg = {od_str_c(old_id), {(const uint8_t *)"P0", 2}};
    sync_(&s, "st", 1, old_id, &asg, 1);
    od_group_t *g = od_group_find(&coord, "st", 2);
    tap_ok(g && g->state == OD_GS_STABLE, "stable");
    /* Restart within the session: same instance id, no member id. */
    join(&j, "st", "", "inst-1", p, 1, 5000, 1);
    tap_ok(j.called && j.err == 0 && j.gen == 1 && g->state == OD_GS_STABLE,
           "static rejoin answered at once, same generation, no rebalance");
    tap_ok(strcmp(j.member, old_id) != 0, "a new member id");
    sync_(&s, "st", 1, j.member, NULL, 0);
    tap_ok(s.called && s.err == 0 && strcmp(s.assignment, "P0") == 0,
           "SyncGroup returns the previous assignment");
    tap_is_int(od_group_heartbeat(&coord, od_str_c("st"), 1, od_str_c(old_id), od_str_c("inst-1")),
               OD_ERR_FENCED_INSTANCE_ID, "old member id: FENCED_INSTANCE_ID");
    tap_is_int(od_group_heartbeat(&coord, od_str_c("st"), 1, od_str_c(j.member), od_str_c("inst-1")),
               OD_ERR_NONE, "new member id heartbeats");
}

static void test_offsets_and_load(void)
{
    reset_coord();
    free(cap_buf);
    cap_buf = NULL;
    cap_len = 0;
    od_gcommit_t c[3] = {
        {od_str_c("t"), 0, 42, 3, {"me\0ta", 5}, -1, OD_ERR_NONE}, /* metadata is bytes */
        {od_str_c("t"), 1, 7, -1, od_str_c(NULL), -1, OD_ERR_NONE},
        {od_str_c("t"), 2, 9, -1, od_str_c("this metadata is too long"), -1, OD_ERR_NONE},
    };
    od_group_commit(&coord, od_str_c("simple"), -1, od_str_c(""), od_str_c(NULL), -1, c, 3);
    tap_ok(c[0].error == 0 && c[1].error == 0, "simple consumer commits (generation -1)");
    tap_is_int(c[2].error, OD_ERR_OFFSET_METADATA_TOO_LARGE, "metadata too large: OFFSET_METADATA_TOO_LARGE");
    od_group_t *g = od_group_find(&coord, "simple", 6);
    od_goffset_t *o = g ? od_group_offset(g, "t", 1, 0) : NULL;
    tap_ok(o && o->offset == 42 && o->leader_epoch == 3 && o->metadata_len == 5 &&
               memcmp(o->metadata, "me\0ta", 5) == 0,
           "offset cached with epoch and all 5 metadata bytes (NUL inside)");
    tap_ok(g && od_group_offset(g, "t", 1, 2) == NULL, "rejected partition not stored");
    od_gcommit_t c2 = {od_str_c("t"), 0, 1, -1, od_str_c(""), -1, OD_ERR_NONE};
    od_group_commit(&coord, od_str_c("nogroup"), 3, od_str_c("m"), od_str_c(NULL), -1, &c2, 1);
    tap_is_int(c2.error, OD_ERR_ILLEGAL_GENERATION, "commit with a generation to an unknown group");
    cap_fail = OD_ERR_INVALID_COMMIT_OFFSET_SIZE;
    c2.error = OD_ERR_NONE;
    od_group_commit(&coord, od_str_c("simple"), -1, od_str_c(""), od_str_c(NULL), -1, &c2, 1);
    tap_is_int(c2.error, OD_ERR_INVALID_COMMIT_OFFSET_SIZE, "append error reaches the partition");
    cap_fail = OD_ERR_NONE;

    /* A consumer group with a member and offsets, then a reload. */
    coord.conf.initial_delay_ms = 0;
    jres_t j;
    od_gproto_in_t p[1] = {P_RANGE};
    join(&j, "cg", "", NULL, p, 1, 5000, 0);
    run_for(20);
    char mid[128];
    snprintf(mid, sizeof(mid), "%s", j.member);
    sres_t s;
    od_sync_assign_t asg = {od_str_c(mid), {(const uint8_t *)"AS", 2}};
    sync_(&s, "cg", 1, mid, &asg, 1);
    od_gcommit_t c3 = {od_str_c("t"), 0, 100, -1, od_str_c("x"), -1, OD_ERR_NONE};
    od_group_commit(&coord, od_str_c("cg"), 1, od_str_c(mid), od_str_c(NULL), -1, &c3, 1);
    tap_is_int(c3.error, OD_ERR_NONE, "member commits in its generation");
    c3.error = OD_ERR_NONE;
    od_group_commit(&coord, od_str_c("cg"), -1, od_str_c(""), od_str_c(NULL), -1, &c3, 1);
    tap_is_int(c3.error, OD_ERR_UNKNOWN_MEMBER_ID, "non-member commit to a live group: UNKNOWN_MEMBER_ID");
    tap_is_int(od_group_delete(&coord, od_str_c("cg")), OD_ERR_NON_EMPTY_GROUP, "DeleteGroups of a live group");
    tap_is_int(od_group_delete(&coord, od_str_c("none")), OD_ERR_GROUP_ID_NOT_FOUND, "DeleteGroups of an unknown group");
    od_gcommit_t d = {od_str_c("t"), 0, 0, 0, od_str_c(NULL), 0, OD_ERR_NONE};
    tap_is_int(od_group_delete_offsets(&coord, od_str_c("cg"), &d, 1), OD_ERR_NONE, "OffsetDelete on a live group");
    tap_is_int(d.error, OD_ERR_GROUP_SUBSCRIBED_TO_TOPIC, "subscribed topic: GROUP_SUBSCRIBED_TO_TOPIC");
    /* A deleted group's records must not come back. */
    od_gcommit_t c4 = {od_str_c("u"), 0, 5, -1, od_str_c(""), -1, OD_ERR_NONE};
    od_group_commit(&coord, od_str_c("gone"), -1, od_str_c(""), od_str_c(NULL), -1, &c4, 1);
    tap_is_int(od_group_delete(&coord, od_str_c("gone")), OD_ERR_NONE, "DeleteGroups of an empty group");

    /* Reload from the captured records. */
    uint8_t *buf = cap_buf;
    size_t len = cap_len;
    cap_buf = NULL;
    cap_len = 0;
    reset_coord();
    int64_t next = 0;
    int nb = od_gstore_apply_batches(&coord, buf, len, 7, &next);
    od_gstore_load_done(&coord);
    tap_ok(nb > 0, "loaded %d batch(es)", nb);
    g = od_group_find(&coord, "simple", 6);
    o = g ? od_group_offset(g, "t", 1, 0) : NULL;
    tap_ok(o && o->offset == 42 && o->leader_epoch == 3 && o->metadata_len == 5 &&
               memcmp(o->metadata, "me\0ta", 5) == 0,
           "simple group's offsets reloaded, metadata bytes past the NUL kept");
    g = od_group_find(&coord, "cg", 2);
    tap_ok(g && g->state == OD_GS_STABLE && g->generation == 1 && g->nmembers == 1 &&
               g->protocol && strcmp(g->protocol, "range") == 0,
           "consumer group reloaded Stable with its member and protocol");
    tap_ok(g && g->nmembers == 1 && g->members[0]->assignment_len == 2 &&
               memcmp(g->members[0]->assignment, "AS", 2) == 0,
           "member assignment reloaded");
    tap_ok(g && od_group_offset(g, "t", 1, 0) && od_group_offset(g, "t", 1, 0)->offset == 100,
           "consumer group offset reloaded");
    tap_ok(od_group_find(&coord, "gone", 4) == NULL, "deleted group stays deleted (tombstones)");
    tap_is_int(hb("cg", 1, mid), OD_ERR_NONE, "reloaded member can heartbeat");
    free(buf);

    /* Retention: the simple group's offsets expire after the retention. */
    od_groups_expire(&coord, od_now_ms() + 10080LL * 60000 + 1000);
    tap_ok(od_group_find(&coord, "simple", 6) == NULL, "expired simple group removed");
    g = od_group_find(&coord, "cg", 2);
    tap_ok(g && od_group_offset(g, "t", 1, 0), "offsets of a live subscribed group kept");
}

/* A gzip batch written by someone else (a Kafka broker with
 * compression.type=gzip) still loads. */
static void test_compressed_load(void)
{
    reset_coord();
    od_goffset_t o = {"ct", 0, -1, 1234, "z", 1, 5, -1};
    size_t kl, vl;
    uint8_t *k = od_gstore_offset_key("zgroup", "ct", 0, &kl);
    uint8_t *v = od_gstore_offset_value(&o, &vl);
    od_batch_builder_t bb;
    od_batch_builder_init(&bb, 0);
    od_batch_builder_add(&bb, 5, k, (int32_t)kl, v, (int32_t)vl);
    size_t blen;
    uint8_t *plain = od_batch_builder_finish(&bb, &blen);
    uint8_t *z = NULL;
    size_t zl = 0;
    char err[128];
    int rc = od_codec_compress(OD_CODEC_GZIP, plain + OD_BATCH_HEADER_SIZE,
                               blen - OD_BATCH_HEADER_SIZE, &z, &zl, err, sizeof(err));
    tap_ok(rc == 0, "gzip available for the test");
    if (rc == 0) {
        size_t n = OD_BATCH_HEADER_SIZE + zl;
        uint8_t *batch = malloc(n);
        memcpy(batch, plain, OD_BATCH_HEADER_SIZE);
        memcpy(batch + OD_BATCH_HEADER_SIZE, z, zl);
        uint32_t bl = (uint32_t)(n - OD_BATCH_LOG_OVERHEAD);
        batch[8] = (uint8_t)(bl >> 24);
        batch[9] = (uint8_t)(bl >> 16);
        batch[10] = (uint8_t)(bl >> 8);
        batch[11] = (uint8_t)bl;
        batch[OD_BATCH_OFF_ATTRIBUTES + 1] |= OD_BATCH_CODEC_GZIP;
        uint32_t crc = od_batch_compute_crc(batch, n);
        batch[17] = (uint8_t)(crc >> 24);
        batch[18] = (uint8_t)(crc >> 16);
        batch[19] = (uint8_t)(crc >> 8);
        batch[20] = (uint8_t)crc;
        int64_t next = 0;
        od_gstore_apply_batches(&coord, batch, n, 3, &next);
        od_group_t *g = od_group_find(&coord, "zgroup", 6);
        od_goffset_t *lo = g ? od_group_offset(g, "ct", 2, 0) : NULL;
        tap_ok(lo && lo->offset == 1234 && strcmp(lo->metadata, "z") == 0,
               "offset loaded from a gzip batch");
        free(batch);
    }
    free(z);
    free(plain);
    free(k);
    free(v);
    od_batch_builder_free(&bb);
}

/* Two coordinators on one loop share nothing: groups, offsets and settings
 * live on each coordinator object (core->coord in the broker). */
static void test_two_coordinators(void)
{
    od_coord_t other;
    od_coord_conf_t oc = test_conf();
    oc.metadata_max = 2;
    od_coord_init(&other, loop, NULL, &oc);
    other.append = fake_append;
    od_gcommit_t c = {od_str_c("t"), 0, 5, -1, od_str_c("meta"), -1, OD_ERR_NONE};
    od_group_commit(&other, od_str_c("only-other"), -1, od_str_c(""), od_str_c(NULL), -1, &c, 1);
    tap_is_int(c.error, OD_ERR_OFFSET_METADATA_TOO_LARGE, "other coordinator's own metadata limit");
    c.metadata = od_str_c("m");
    c.error = OD_ERR_NONE;
    od_group_commit(&other, od_str_c("only-other"), -1, od_str_c(""), od_str_c(NULL), -1, &c, 1);
    tap_is_int(c.error, OD_ERR_NONE, "commit on the other coordinator");
    tap_ok(od_group_find(&other, "only-other", 10) != NULL, "group on the other coordinator");
    tap_ok(od_group_find(&coord, "only-other", 10) == NULL, "not on the first coordinator");
    c.metadata = od_str_c("meta");
    c.error = OD_ERR_NONE;
    od_group_commit(&coord, od_str_c("first"), -1, od_str_c(""), od_str_c(NULL), -1, &c, 1);
    tap_is_int(c.error, OD_ERR_NONE, "first coordinator keeps its own metadata limit");
    tap_ok(od_group_find(&other, "first", 5) == NULL, "first's group not on the other");
    tap_is_int((int)other.ngroups, 1, "other coordinator holds one group");
    od_coord_reset(&other);
    tap_ok(od_group_find(&coord, "first", 5) != NULL, "resetting one leaves the other");
    tap_ok(od_group_find(&other, "only-other", 10) == NULL, "reset coordinator is empty");
    tap_ok(od_group_find(NULL, "first", 5) == NULL && od_group_next(NULL, NULL) == NULL,
           "no coordinator: no groups");
    int32_t part;
    tap_is_int(od_coord_check(NULL, "first", 5, &part), OD_ERR_COORDINATOR_NOT_AVAILABLE,
               "no coordinator: COORDINATOR_NOT_AVAILABLE");
}

int main(void)
{
    tap_no_plan();
    loop = od_loop_new();
    od_coord_conf_t c = test_conf();
    od_coord_init(&coord, loop, NULL, &c);
    coord.append = fake_append;
    test_hash();
    test_records();
    test_rebalance();
    test_protocol_selection();
    test_static();
    test_offsets_and_load();
    test_compressed_load();
    test_two_coordinators();
    od_coord_reset(&coord);
    od_loop_free(loop);
    free(cap_buf);
    return tap_done();
}
