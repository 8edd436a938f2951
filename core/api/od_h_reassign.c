/* od_h_reassign.c - AlterPartitionReassignments (api 45) and
 * ListPartitionReassignments (api 46) on the active controller.
 *
 * What is done: a new ORDER of a partition's replicas (the same brokers),
 * committed at once as a PartitionChangeRecord; the first replica is the
 * preferred leader, so this with ElectLeaders (or the automatic rebalance)
 * moves leadership where an operator wants it. What is not done yet:
 * moving a partition to other brokers (adding replicas that catch up,
 * then dropping the old ones); such a request is refused per partition
 * with INVALID_REPLICA_ASSIGNMENT and says so. No reassignment is ever in
 * progress, so the list is empty and a cancellation (null replicas) is
 * NO_REASSIGNMENT_IN_PROGRESS, as Kafka answers for a partition not moving. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_dispatch.h"
#include "od_handlers.h"
#include "od_proto_gen.h"

typedef od_AlterPartitionReassignmentsResponse_ReassignablePartitionResponse_t ra_out_t;

typedef struct ra_pending {
    od_req_t *r;
    od_AlterPartitionReassignmentsResponse_t *resp;
    int outstanding, started;
} ra_pending_t;

typedef struct ra_slot {
    ra_pending_t *pd;
    ra_out_t *out;
} ra_slot_t;

static void set_msg(od_req_t *r, ra_out_t *o, const char *msg)
{
    char *m = od_arena_strndup(&r->arena, msg, strlen(msg));
    o->error_message = m ? od_str_c(m) : (od_str_t){NULL, -1};
}

static void maybe_answer(ra_pending_t *pd)
{
    if (!pd->started || pd->outstanding > 0)
        return;
    od_req_t *r = pd->r;
    if (r->conn)
        od_AlterPartitionReassignmentsResponse_encode(&r->resp, r->hdr.api_version, pd->resp);
    od_req_done(r);
}

static void committed(void *arg, int status, const char *msg)
{
    ra_slot_t *s = arg;
    s->out->error_code = status == 0 ? OD_ERR_NONE
                         : status < 0 && status > -1000 ? (int16_t)-status
                                                        : OD_ERR_UNKNOWN_SERVER_ERROR;
    if (status != 0 && msg)
        set_msg(s->pd->r, s->out, msg);
    s->pd->outstanding--;
    maybe_answer(s->pd);
}

static int in_list(const int32_t *v, int32_t n, int32_t id)
{
    for (int32_t i = 0; i < n; i++)
        if (v[i] == id)
            return 1;
    return 0;
}

static void reorder(od_core_t *core, od_req_t *r, ra_pending_t *pd, od_partition_t *p,
                    const int32_t *reps, int32_t n, ra_out_t *o)
{
    char msg[256];
    if (n <= 0 || n > 64) {
        o->error_code = OD_ERR_INVALID_REPLICA_ASSIGNMENT;
        set_msg(r, o, "The replica list must name 1 to 64 brokers.");
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        if (!od_image_broker(&core->image, reps[i]) || in_list(reps, i, reps[i])) {
            snprintf(msg, sizeof(msg), "Broker %d is %s.", reps[i],
                     in_list(reps, i, reps[i]) ? "listed twice" : "not registered");
            o->error_code = OD_ERR_INVALID_REPLICA_ASSIGNMENT;
            set_msg(r, o, msg);
            return;
        }
    }
    int same_set = n == p->nreplicas;
    for (int32_t i = 0; same_set && i < n; i++)
        same_set = in_list(p->replicas, p->nreplicas, reps[i]);
    if (!same_set) {
        o->error_code = OD_ERR_INVALID_REPLICA_ASSIGNMENT;
        set_msg(r, o, "Moving replicas to other brokers is not supported yet; only a new order "
                      "of the current replicas is.");
        return;
    }
    if (memcmp(reps, p->replicas, (size_t)n * sizeof(*reps)) == 0) {
        o->error_code = OD_ERR_NONE; /* already so */
        return;
    }
    od_PartitionChangeRecord_t rec;
    od_PartitionChangeRecord_init(&rec);
    rec.partition_id = p->index;
    rec.topic_id = p->topic->id;
    rec.replicas = (int32_t *)reps;
    rec.replicas_count = n;
    od_wbuf_t w;
    od_wbuf_init(&w);
    od_metarec_frame(&w, OD_METAREC_PARTITION_CHANGE, 0);
    od_PartitionChangeRecord_encode(&w, 0, &rec);
    size_t len = 0;
    uint8_t *flat = w.err ? NULL : od_wbuf_flatten(&w, &len);
    od_wbuf_free(&w);
    ra_slot_t *s = od_arena_calloc(&r->arena, 1, sizeof(*s));
    if (!flat || !s || !core->cp) {
        free(flat);
        o->error_code = OD_ERR_UNKNOWN_SERVER_ERROR;
        return;
    }
    s->pd = pd;
    s->out = o;
    od_meta_record_t mr = {flat, len};
    pd->outstanding++;
    if (core->cp->propose(core->cp_self, &mr, 1, committed, s, msg, sizeof(msg)) < 0) {
        pd->outstanding--;
        o->error_code = OD_ERR_NOT_CONTROLLER;
        set_msg(r, o, msg);
    }
    free(flat);
}

void od_h_alter_partition_reassignments(od_req_t *r, void *body)
{
    od_core_t *core = r->conn->core;
    od_AlterPartitionReassignmentsRequest_t *req = body;
    ra_pending_t *pd = od_arena_calloc(&r->arena, 1, sizeof(*pd));
    od_AlterPartitionReassignmentsResponse_t *resp = od_arena_calloc(&r->arena, 1, sizeof(*resp));
    int32_t nt = req->topics_count > 0 ? req->topics_count : 0;
    if (!pd || !resp) {
        od_req_drop(r);
        return;
    }
    od_AlterPartitionReassignmentsResponse_init(resp);
    pd->r = r;
    pd->resp = resp;
    resp->responses = od_arena_calloc(&r->arena, nt ? (size_t)nt : 1, sizeof(*resp->responses));
    if (!resp->responses) {
        od_req_drop(r);
        return;
    }
    resp->responses_count = nt;
    for (int32_t i = 0; i < nt; i++) {
        od_AlterPartitionReassignmentsRequest_ReassignableTopic_t *it = &req->topics[i];
        od_AlterPartitionReassignmentsResponse_ReassignableTopicResponse_t *ot = &resp->responses[i];
        int32_t np = it->partitions_count > 0 ? it->partitions_count : 0;
        ot->name = it->name;
        ot->partitions = od_arena_calloc(&r->arena, np ? (size_t)np : 1, sizeof(*ot->partitions));
        if (!ot->partitions) {
            od_req_drop(r);
            return;
        }
        ot->partitions_count = np;
        od_topic_t *t = it->name.len > 0 ? od_image_topic(&core->image, it->name.p,
                                                          (size_t)it->name.len)
                                         : NULL;
        for (int32_t j = 0; j < np; j++) {
            od_AlterPartitionReassignmentsRequest_ReassignablePartition_t *ip = &it->partitions[j];
            ra_out_t *o = &ot->partitions[j];
            o->partition_index = ip->partition_index;
            o->error_message.len = -1;
            if (!t || ip->partition_index < 0 || ip->partition_index >= t->npartitions) {
                o->error_code = OD_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                set_msg(r, o, "The partition does not exist.");
            } else if (ip->replicas_count < 0) {
                o->error_code = OD_ERR_NO_REASSIGNMENT_IN_PROGRESS;
                set_msg(r, o, "No reassignment is in progress for this partition.");
            } else {
                reorder(core, r, pd, t->partitions[ip->partition_index], ip->replicas,
                        ip->replicas_count, o);
            }
        }
    }
    pd->started = 1;
    maybe_answer(pd);
}

void od_h_list_partition_reassignments(od_req_t *r, void *body)
{
    (void)body;
    od_ListPartitionReassignmentsResponse_t resp;
    od_ListPartitionReassignmentsResponse_init(&resp);
    resp.topics_count = 0; /* reorders commit at once: nothing is ever in progress */
    od_ListPartitionReassignmentsResponse_encode(&r->resp, r->hdr.api_version, &resp);
    od_req_done(r);
}
