/* od_h_reassign.c - AlterPartitionReassignments (api 45) and
 * ListPartitionReassignments (api 46) on the active controller (other
 * brokers forward them there). The moves themselves are core/repl's
 * od_reassign.c; this file checks the request and answers once each
 * partition's change is committed. A new order of the same replicas is
 * committed at once; a move to other brokers starts and is listed by
 * ListPartitionReassignments until the controller completes it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_dispatch.h"
#include "od_handlers.h"
#include "od_meta_batch.h"
#include "od_proto_gen.h"
#include "od_repl.h"
#include "od_req_wait.h"

typedef od_AlterPartitionReassignmentsResponse_ReassignablePartitionResponse_t ra_out_t;

typedef od_req_wait_t ra_pending_t;

typedef struct ra_slot {
    ra_pending_t *pd;
    ra_out_t *out;
} ra_slot_t;

static void encode(od_req_t *r, const void *resp)
{
    od_AlterPartitionReassignmentsResponse_encode(&r->resp, r->hdr.api_version, resp);
}

static void committed(void *arg, int status, const char *msg)
{
    ra_slot_t *s = arg;
    s->out->error_code = od_meta_status_error(status);
    if (status != 0 && msg)
        s->out->error_message = od_req_msg(s->pd->r, msg);
    od_req_wait_done(s->pd);
}

static void start_or_cancel(od_core_t *core, od_req_t *r, ra_pending_t *pd, od_partition_t *p,
                            const int32_t *reps, int32_t n, ra_out_t *o)
{
    char msg[256] = "";
    ra_slot_t *s = od_arena_calloc(&r->arena, 1, sizeof(*s));
    if (!s) {
        o->error_code = OD_ERR_UNKNOWN_SERVER_ERROR;
        return;
    }
    s->pd = pd;
    s->out = o;
    od_req_wait_add(pd);
    int rc = n < 0 ? od_reassign_cancel(core, p, committed, s, msg, sizeof(msg))
                   : od_reassign_start(core, p, reps, n, committed, s, msg, sizeof(msg));
    if (rc == 0)
        return; /* answered at the commit */
    od_req_wait_done(pd);
    o->error_code = rc > 0 ? OD_ERR_NONE : (int16_t)-rc;
    if (rc < 0)
        o->error_message = od_req_msg(r, msg);
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
    *pd = (ra_pending_t){.r = r, .resp = resp, .encode = encode};
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
                o->error_message = od_req_msg(r, "The partition does not exist.");
            } else {
                start_or_cancel(core, r, pd, t->partitions[ip->partition_index], ip->replicas,
                                ip->replicas_count < 0 ? -1 : ip->replicas_count, o);
            }
        }
    }
    od_req_wait_issued(pd);
}

static int in_list(const int32_t *v, int32_t n, int32_t id)
{
    for (int32_t i = 0; i < n; i++)
        if (v[i] == id)
            return 1;
    return 0;
}

typedef od_ListPartitionReassignmentsResponse_OngoingTopicReassignment_t lr_topic_t;
typedef od_ListPartitionReassignmentsResponse_OngoingPartitionReassignment_t lr_part_t;

/* The moves in progress of t (all of its partitions, or those listed in
 * want when filter is set): appended to out; -1 out of memory. */
static int list_topic(od_req_t *r, od_topic_t *t, int filter, const int32_t *want, int32_t nwant,
                      lr_topic_t *out)
{
    int32_t n = 0;
    out->name = od_str_c(t->name);
    out->partitions = od_arena_calloc(&r->arena, t->npartitions ? (size_t)t->npartitions : 1,
                                      sizeof(*out->partitions));
    if (!out->partitions)
        return -1;
    for (int32_t i = 0; i < t->npartitions; i++) {
        od_partition_t *p = t->partitions[i];
        if (!od_reassign_in_progress(p) || (filter && !in_list(want, nwant, i)))
            continue;
        lr_part_t *o = &out->partitions[n++];
        o->partition_index = i;
        o->replicas = p->replicas;
        o->replicas_count = p->nreplicas;
        o->adding_replicas = p->adding;
        o->adding_replicas_count = p->nadding;
        o->removing_replicas = p->removing;
        o->removing_replicas_count = p->nremoving;
    }
    out->partitions_count = n;
    return 0;
}

void od_h_list_partition_reassignments(od_req_t *r, void *body)
{
    od_core_t *core = r->conn->core;
    od_ListPartitionReassignmentsRequest_t *req = body;
    od_ListPartitionReassignmentsResponse_t resp;
    od_ListPartitionReassignmentsResponse_init(&resp);
    size_t cap = req->topics_count >= 0 ? (size_t)req->topics_count : core->image.ntopics;
    resp.topics = od_arena_calloc(&r->arena, cap ? cap : 1, sizeof(*resp.topics));
    if (!resp.topics) {
        od_req_drop(r);
        return;
    }
    int32_t n = 0;
    if (req->topics_count >= 0) {
        /* Named topics that do not exist are left out, as Kafka does. */
        for (int32_t i = 0; i < req->topics_count; i++) {
            od_str_t name = req->topics[i].name;
            od_topic_t *t = name.len > 0 ? od_image_topic(&core->image, name.p, (size_t)name.len)
                                         : NULL;
            if (!t)
                continue;
            int32_t nw = req->topics[i].partition_indexes_count;
            if (list_topic(r, t, 1, req->topics[i].partition_indexes, nw > 0 ? nw : 0,
                           &resp.topics[n]) < 0) {
                od_req_drop(r);
                return;
            }
            n += resp.topics[n].partitions_count > 0;
        }
    } else {
        for (od_topic_t *t = od_image_next_topic(&core->image, NULL); t && (size_t)n < cap;
             t = od_image_next_topic(&core->image, t)) {
            if (list_topic(r, t, 0, NULL, 0, &resp.topics[n]) < 0) {
                od_req_drop(r);
                return;
            }
            n += resp.topics[n].partitions_count > 0;
        }
    }
    resp.topics_count = n;
    od_ListPartitionReassignmentsResponse_encode(&r->resp, r->hdr.api_version, &resp);
    od_req_done(r);
}
