/* od_h_electleaders.c - ElectLeaders (api 43, v0-2): preferred (type 0)
 * or unclean (type 1) leader elections on the active controller
 * (kafka-leader-election.sh, AdminClient.electLeaders). Forwarded there
 * from other brokers. Per partition UNKNOWN_TOPIC_OR_PARTITION,
 * ELECTION_NOT_NEEDED, PREFERRED_LEADER_NOT_AVAILABLE or
 * ELIGIBLE_LEADERS_NOT_AVAILABLE with Kafka's messages; a null partition
 * list means every partition, and then only those elected are listed. The
 * answer comes once the PartitionChangeRecords are committed. */
#include <stdio.h>
#include <string.h>

#include "od_core.h"
#include "od_dispatch.h"
#include "od_handlers.h"
#include "od_meta_batch.h"
#include "od_repl.h"
#include "od_req_wait.h"

typedef od_ElectLeadersResponse_PartitionResult_t el_out_t;

typedef od_req_wait_t el_pending_t;

typedef struct el_slot {
    el_pending_t *pd;
    el_out_t *out;
} el_slot_t;

static void encode(od_req_t *r, const void *resp)
{
    od_ElectLeadersResponse_encode(&r->resp, r->hdr.api_version, resp);
}

static void elected(void *arg, int status, const char *msg)
{
    el_slot_t *s = arg;
    s->out->error_code = od_meta_status_error(status);
    if (status != 0)
        s->out->error_message = od_req_msg(s->pd->r, msg);
    od_req_wait_done(s->pd);
}

/* Elect one partition into *o (0 listed, -1: not needed and not listed). */
static int elect_one(od_core_t *core, od_req_t *r, el_pending_t *pd, od_topic_t *t, int32_t index,
                     int unclean, el_out_t *o, int all)
{
    o->partition_id = index;
    o->error_message.len = -1;
    if (!t || index < 0 || index >= t->npartitions) {
        o->error_code = OD_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        o->error_message = od_req_msg(r, "The partition does not exist.");
        return 0;
    }
    el_slot_t *s = od_arena_calloc(&r->arena, 1, sizeof(*s));
    if (!s) {
        o->error_code = OD_ERR_UNKNOWN_SERVER_ERROR;
        return 0;
    }
    s->pd = pd;
    s->out = o;
    char err[256] = "";
    od_req_wait_add(pd);
    int rc = od_elect_leader(core, t->partitions[index], unclean, elected, s, err, sizeof(err));
    if (rc < 0) {
        od_req_wait_done(pd);
        if (all && rc == -OD_ERR_ELECTION_NOT_NEEDED)
            return -1;
        o->error_code = (int16_t)-rc;
        o->error_message = od_req_msg(r, err);
    }
    return 0;
}

void od_h_elect_leaders(od_req_t *r, void *body)
{
    od_core_t *core = r->conn->core;
    od_ElectLeadersRequest_t *req = body;
    el_pending_t *pd = od_arena_calloc(&r->arena, 1, sizeof(*pd));
    od_ElectLeadersResponse_t *resp = od_arena_calloc(&r->arena, 1, sizeof(*resp));
    if (!pd || !resp) {
        od_req_drop(r);
        return;
    }
    od_ElectLeadersResponse_init(resp);
    *pd = (el_pending_t){.r = r, .resp = resp, .encode = encode};
    int unclean = req->election_type == 1;
    if (req->election_type != 0 && req->election_type != 1) {
        resp->error_code = OD_ERR_INVALID_REQUEST;
        od_req_wait_issued(pd);
        return;
    }
    int all = req->topic_partitions_count < 0; /* null: every partition */
    int32_t nt = all ? (int32_t)core->image.ntopics : req->topic_partitions_count;
    resp->replica_election_results =
        od_arena_calloc(&r->arena, nt > 0 ? (size_t)nt : 1, sizeof(*resp->replica_election_results));
    if (!resp->replica_election_results) {
        od_req_drop(r);
        return;
    }
    od_topic_t *it = all ? od_image_next_topic(&core->image, NULL) : NULL;
    int32_t out_topics = 0;
    for (int32_t i = 0; i < nt; i++) {
        od_ElectLeadersResponse_ReplicaElectionResult_t *ot =
            &resp->replica_election_results[out_topics];
        od_topic_t *t;
        int32_t np;
        const int32_t *parts = NULL;
        if (all) {
            if (!it)
                break;
            t = it;
            it = od_image_next_topic(&core->image, it);
            np = t->npartitions;
            ot->topic = od_str_c(t->name);
        } else {
            od_ElectLeadersRequest_TopicPartitions_t *tp = &req->topic_partitions[i];
            t = tp->topic.len > 0 ? od_image_topic(&core->image, tp->topic.p, (size_t)tp->topic.len)
                                  : NULL;
            np = tp->partitions_count > 0 ? tp->partitions_count : 0;
            parts = tp->partitions;
            ot->topic = tp->topic;
        }
        ot->partition_result = od_arena_calloc(&r->arena, np ? (size_t)np : 1,
                                               sizeof(*ot->partition_result));
        if (!ot->partition_result) {
            od_req_drop(r);
            return;
        }
        int32_t n = 0;
        for (int32_t j = 0; j < np; j++)
            if (elect_one(core, r, pd, t, parts ? parts[j] : j, unclean, &ot->partition_result[n],
                          all) == 0)
                n++;
        ot->partition_result_count = n;
        if (n > 0 || !all)
            out_topics++;
    }
    resp->replica_election_results_count = out_topics;
    od_req_wait_issued(pd);
}
