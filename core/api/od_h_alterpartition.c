/* od_h_alterpartition.c - AlterPartition (api 56, v0-3) on the active
 * controller: a partition leader asks for a new ISR (a follower fell
 * behind, or caught up). Checked against the committed image as Kafka's
 * controller does - the sender leads the partition (INVALID_REQUEST), in
 * the current leader epoch (FENCED_LEADER_EPOCH) and partition epoch
 * (INVALID_UPDATE_VERSION), the new ISR holds the leader and only replicas
 * of the partition (INVALID_REQUEST) that are not fenced
 * (INELIGIBLE_REPLICA) - then committed as a PartitionChangeRecord and
 * answered with the partition's state after the commit. */
#include <stdio.h>
#include <string.h>

#include "od_core.h"
#include "od_dispatch.h"
#include "od_handlers.h"
#include "od_meta_batch.h"
#include "od_repl.h"
#include "od_req_wait.h"

typedef od_AlterPartitionResponse_PartitionData_t ap_out_t;

typedef struct ap_pending {
    od_req_wait_t w;
    od_core_t *core;
} ap_pending_t;

typedef struct ap_slot {
    ap_pending_t *pd;
    ap_out_t *out;
    od_uuid_t topic_id;
    int32_t index;
} ap_slot_t;

static void fill_state(od_req_t *r, ap_out_t *o, const od_partition_t *p)
{
    o->leader_id = p->leader;
    o->leader_epoch = p->leader_epoch;
    o->partition_epoch = p->partition_epoch;
    o->isr = od_arena_calloc(&r->arena, p->nisr ? (size_t)p->nisr : 1, sizeof(*o->isr));
    if (o->isr) {
        memcpy(o->isr, p->isr, (size_t)p->nisr * sizeof(*o->isr));
        o->isr_count = p->nisr;
    }
}

static void encode(od_req_t *r, const void *resp)
{
    od_AlterPartitionResponse_encode(&r->resp, r->hdr.api_version, resp);
}

static void committed(void *arg, int status, const char *msg)
{
    ap_slot_t *s = arg;
    ap_pending_t *pd = s->pd;
    (void)msg;
    s->out->error_code = od_meta_status_error(status);
    od_topic_t *t = pd->core->image.nbuckets ? od_image_topic_by_id(&pd->core->image, &s->topic_id)
                                             : NULL;
    if (t && s->index < t->npartitions)
        fill_state(pd->w.r, s->out, t->partitions[s->index]);
    od_req_wait_done(&pd->w);
}

static int in_list(const int32_t *v, int32_t n, int32_t id)
{
    for (int32_t i = 0; i < n; i++)
        if (v[i] == id)
            return 1;
    return 0;
}

/* The error for one partition's change, or NONE with the new ISR in isr[0..*n). */
static int16_t check(od_core_t *core, const od_AlterPartitionRequest_t *req, od_partition_t *p,
                     const od_AlterPartitionRequest_PartitionData_t *in, int32_t *isr, int32_t *n)
{
    *n = 0;
    if (req->broker_id != p->leader)
        return OD_ERR_INVALID_REQUEST;
    if (in->leader_epoch != p->leader_epoch) /* either way, as Kafka's controller */
        return OD_ERR_FENCED_LEADER_EPOCH;
    if (in->partition_epoch != p->partition_epoch)
        return OD_ERR_INVALID_UPDATE_VERSION;
    int32_t cnt = in->new_isr_count > 0 ? in->new_isr_count : in->new_isr_with_epochs_count;
    if (cnt <= 0 || cnt > 64)
        return OD_ERR_INVALID_REQUEST;
    for (int32_t i = 0; i < cnt; i++) {
        int32_t id = in->new_isr_count > 0 ? in->new_isr[i] : in->new_isr_with_epochs[i].broker_id;
        if (!in_list(p->replicas, p->nreplicas, id) || in_list(isr, *n, id))
            return OD_ERR_INVALID_REQUEST;
        const od_broker_reg_t *b = od_image_broker(&core->image, id);
        if (!b || (b->fenced && !in_list(p->isr, p->nisr, id)))
            return OD_ERR_INELIGIBLE_REPLICA;
        if (in->new_isr_with_epochs_count > 0 && in->new_isr_with_epochs[i].broker_epoch >= 0 &&
            in->new_isr_with_epochs[i].broker_epoch != b->epoch)
            return OD_ERR_INELIGIBLE_REPLICA;
        isr[(*n)++] = id;
    }
    if (!in_list(isr, *n, p->leader))
        return OD_ERR_INVALID_REQUEST;
    return OD_ERR_NONE;
}

void od_h_alter_partition(od_req_t *r, void *body)
{
    od_core_t *core = r->conn->core;
    od_AlterPartitionRequest_t *req = body;
    int16_t ver = r->hdr.api_version;
    ap_pending_t *pd = od_arena_calloc(&r->arena, 1, sizeof(*pd));
    od_AlterPartitionResponse_t *resp = od_arena_calloc(&r->arena, 1, sizeof(*resp));
    if (!pd || !resp) {
        od_req_drop(r);
        return;
    }
    od_AlterPartitionResponse_init(resp);
    *pd = (ap_pending_t){{.r = r, .resp = resp, .encode = encode}, core};
    const od_controlplane_ops_t *cp = core->cp;
    int32_t controller = cp && cp->controller_id ? cp->controller_id(core->cp_self)
                                                 : (int32_t)core->conf.node_id;
    const od_broker_reg_t *sender = od_image_broker(&core->image, req->broker_id);
    if (controller != (int32_t)core->conf.node_id)
        resp->error_code = OD_ERR_NOT_CONTROLLER;
    else if (!sender || (req->broker_epoch >= 0 && req->broker_epoch != sender->epoch))
        resp->error_code = OD_ERR_STALE_BROKER_EPOCH;
    int32_t nt = resp->error_code == OD_ERR_NONE && req->topics_count > 0 ? req->topics_count : 0;
    resp->topics = od_arena_calloc(&r->arena, nt ? (size_t)nt : 1, sizeof(*resp->topics));
    if (!resp->topics) {
        od_req_drop(r);
        return;
    }
    resp->topics_count = nt;
    for (int32_t i = 0; i < nt; i++) {
        od_AlterPartitionRequest_TopicData_t *it = &req->topics[i];
        od_AlterPartitionResponse_TopicData_t *ot = &resp->topics[i];
        ot->topic_name = it->topic_name;
        ot->topic_id = it->topic_id;
        od_topic_t *t = ver >= 2 ? od_image_topic_by_id(&core->image, &it->topic_id)
                        : it->topic_name.len > 0
                            ? od_image_topic(&core->image, it->topic_name.p,
                                             (size_t)it->topic_name.len)
                            : NULL;
        int32_t np = it->partitions_count > 0 ? it->partitions_count : 0;
        ot->partitions = od_arena_calloc(&r->arena, np ? (size_t)np : 1, sizeof(*ot->partitions));
        if (!ot->partitions) {
            od_req_drop(r);
            return;
        }
        ot->partitions_count = np;
        for (int32_t j = 0; j < np; j++) {
            od_AlterPartitionRequest_PartitionData_t *in = &it->partitions[j];
            ap_out_t *o = &ot->partitions[j];
            o->partition_index = in->partition_index;
            o->leader_id = -1;
            o->leader_epoch = -1;
            if (!t) {
                o->error_code = ver >= 2 ? OD_ERR_UNKNOWN_TOPIC_ID : OD_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            if (in->partition_index < 0 || in->partition_index >= t->npartitions) {
                o->error_code = OD_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            od_partition_t *p = t->partitions[in->partition_index];
            int32_t isr[64], n;
            o->error_code = check(core, req, p, in, isr, &n);
            if (o->error_code != OD_ERR_NONE) {
                fill_state(r, o, p);
                continue;
            }
            ap_slot_t *s = od_arena_calloc(&r->arena, 1, sizeof(*s));
            char err[256] = "";
            if (!s) {
                o->error_code = OD_ERR_UNKNOWN_SERVER_ERROR;
                continue;
            }
            s->pd = pd;
            s->out = o;
            s->topic_id = t->id;
            s->index = p->index;
            od_req_wait_add(&pd->w);
            if (od_isr_propose(core, p, isr, n, committed, s, err, sizeof(err)) < 0) {
                od_req_wait_done(&pd->w);
                o->error_code = OD_ERR_UNKNOWN_SERVER_ERROR;
                od_logf(OD_LOG_WARN, "AlterPartition %s-%d: %s", t->name, p->index, err);
            }
        }
    }
    od_req_wait_issued(&pd->w);
}
