/* od_isr.c - the leader's ISR changes: a follower that has not caught up
 * for replica.lag.time.max.ms leaves the ISR, one that has everything up to
 * the high watermark (and from the current epoch) joins it again. The new
 * ISR goes to the active controller as AlterPartition (api 56); on the
 * controller itself, or without a controller to forward to, it is proposed
 * directly as a PartitionChangeRecord. Either way the leader only acts on
 * the ISR once the image has committed it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_meta_batch.h"
#include "od_proto_gen.h"
#include "od_repl_int.h"

/* How long an ISR change may be on its way before the leader tries again
 * (the controller answered nothing we could see). */
#define ALTER_RETRY_MS 5000

static int in_list(const int32_t *v, int32_t n, int32_t id)
{
    for (int32_t i = 0; i < n; i++)
        if (v[i] == id)
            return 1;
    return 0;
}

int16_t od_repl_propose_change(od_core_t *core, const od_partition_t *p,
                               od_PartitionChangeRecord_t *r,
                               void (*cb)(void *arg, int status, const char *msg), void *arg,
                               char *err, size_t errsz)
{
    r->partition_id = p->index;
    r->topic_id = p->topic->id;
    od_meta_batch_t b = {0};
    od_wbuf_t *w = od_meta_batch_add(&b, OD_METAREC_PARTITION_CHANGE, 0);
    if (w)
        od_PartitionChangeRecord_encode(w, 0, r);
    int16_t code = od_meta_propose_raw(core, &b, cb, arg, err, errsz);
    return code == OD_ERR_UNKNOWN_SERVER_ERROR ? OD_ERR_NOT_CONTROLLER : code;
}

int od_isr_propose(od_core_t *core, od_partition_t *p, const int32_t *isr, int32_t n,
                   void (*cb)(void *arg, int status, const char *msg), void *arg, char *err,
                   size_t errsz)
{
    od_PartitionChangeRecord_t r;
    od_PartitionChangeRecord_init(&r);
    r.isr = (int32_t *)isr;
    r.isr_count = n;
    return od_repl_propose_change(core, p, &r, cb, arg, err, errsz) == OD_ERR_NONE ? 0 : -1;
}

/* Names the partition across the wait: it may be gone when the answer comes. */
typedef struct alter_ctx {
    od_core_t *core;
    od_uuid_t topic_id;
    int32_t index;
    int32_t leader_epoch;
} alter_ctx_t;

static od_partition_t *ctx_partition(alter_ctx_t *c)
{
    od_topic_t *t = od_image_topic_by_id(&c->core->image, &c->topic_id);
    return t && c->index < t->npartitions ? t->partitions[c->index] : NULL;
}

static void alter_done(alter_ctx_t *c, int16_t err, const char *msg)
{
    od_partition_t *p = c->core->image.nbuckets ? ctx_partition(c) : NULL;
    if (p && p->repl && p->leader_epoch == c->leader_epoch) {
        p->repl->alter_inflight = 0;
        /* committed (the image's ISR has it now) or refused: either way
         * the image's ISR alone counts again, which may move the watermark */
        p->repl->nproposed = 0;
        od_replica_update_hw(c->core, p);
        if (err != OD_ERR_NONE)
            od_logf(OD_LOG_WARN, "%s-%d: ISR change refused: %s%s%s", p->topic->name, p->index,
                    od_err_name(err), msg && *msg ? ": " : "", msg ? msg : "");
    }
    free(c);
}

static void proposed(void *arg, int status, const char *msg)
{
    alter_done(arg, od_meta_status_error(status), msg);
}

static void forwarded(void *arg, int status, const uint8_t *body, size_t len)
{
    alter_ctx_t *c = arg;
    if (status < 0) {
        alter_done(c, (int16_t)-status, "no active controller reached");
        return;
    }
    od_arena_t a;
    od_arena_init(&a, 0);
    od_slice_t s;
    od_slice_init(&s, body, len);
    od_AlterPartitionResponse_t resp;
    int16_t err = OD_ERR_NONE;
    if (od_AlterPartitionResponse_decode(&s, 2, &a, &resp) < 0)
        err = OD_ERR_UNKNOWN_SERVER_ERROR;
    else if (resp.error_code != OD_ERR_NONE)
        err = resp.error_code;
    else if (resp.topics_count == 1 && resp.topics[0].partitions_count == 1)
        err = resp.topics[0].partitions[0].error_code;
    od_arena_free(&a);
    alter_done(c, err, NULL);
}

/* AlterPartition v2 (topic ids, a plain ISR list) to the active controller. */
static int send_alter(od_core_t *core, od_partition_t *p, const int32_t *isr, int32_t n,
                      alter_ctx_t *c)
{
    od_AlterPartitionRequest_PartitionData_t pd;
    od_AlterPartitionRequest_PartitionData_init(&pd);
    pd.partition_index = p->index;
    pd.leader_epoch = p->leader_epoch;
    pd.new_isr = (int32_t *)isr;
    pd.new_isr_count = n;
    pd.partition_epoch = p->partition_epoch;
    od_AlterPartitionRequest_TopicData_t td;
    od_AlterPartitionRequest_TopicData_init(&td);
    td.topic_id = p->topic->id;
    td.partitions = &pd;
    td.partitions_count = 1;
    od_AlterPartitionRequest_t req;
    od_AlterPartitionRequest_init(&req);
    req.broker_id = (int32_t)core->conf.node_id;
    const od_broker_reg_t *me = od_image_broker(&core->image, req.broker_id);
    req.broker_epoch = me ? me->epoch : -1;
    req.topics = &td;
    req.topics_count = 1;
    od_wbuf_t w;
    od_wbuf_init(&w);
    od_AlterPartitionRequest_encode(&w, 2, &req);
    size_t len = 0;
    uint8_t *body = w.err ? NULL : od_wbuf_flatten(&w, &len);
    od_wbuf_free(&w);
    if (!body)
        return -1;
    od_cp_request_t cr;
    memset(&cr, 0, sizeof(cr));
    cr.api_key = OD_API_ALTER_PARTITION;
    cr.api_version = 2;
    cr.client_id = "odradek-replica";
    cr.flexible_header = 1;
    cr.body = body;
    cr.body_len = len;
    cr.peer = "self";
    int rc = core->cp->forward(core->cp_self, &cr, forwarded, c);
    free(body);
    return rc;
}

static int has_forward(const od_controlplane_ops_t *cp)
{
    return cp && cp->struct_size >= offsetof(od_controlplane_ops_t, forward) + sizeof(cp->forward) &&
           cp->forward && cp->controller_id;
}

static void change_isr(od_core_t *core, od_partition_t *p, const int32_t *isr, int32_t n,
                       const char *why)
{
    od_replica_t *rs = p->repl;
    alter_ctx_t *c = calloc(1, sizeof(*c));
    char err[256] = "";
    if (!c)
        return;
    c->core = core;
    c->topic_id = p->topic->id;
    c->index = p->index;
    c->leader_epoch = p->leader_epoch;
    rs->alter_inflight = 1;
    rs->alter_sent_ms = od_mono_ms();
    memcpy(rs->proposed_isr, isr, (size_t)n * sizeof(*isr));
    rs->nproposed = n;
    od_logf(OD_LOG_INFO, "%s-%d: ISR %d -> %d replica(s): %s", p->topic->name, p->index, p->nisr, n,
            why);
    int rc;
    if (has_forward(core->cp) &&
        core->cp->controller_id(core->cp_self) != (int32_t)core->conf.node_id)
        rc = send_alter(core, p, isr, n, c);
    else
        rc = od_isr_propose(core, p, isr, n, proposed, c, err, sizeof(err));
    if (rc < 0) {
        rs->alter_inflight = 0;
        rs->nproposed = 0;
        od_logf(OD_LOG_WARN, "%s-%d: ISR change not sent: %s", p->topic->name, p->index,
                err[0] ? err : "no control plane");
        free(c);
    }
}

void od_isr_check(od_core_t *core, od_partition_t *p, int64_t now)
{
    od_replica_t *rs = p->repl;
    if (!rs || rs->role != OD_ROLE_LEADER || !core->repl || !p->log || p->nreplicas <= 1)
        return;
    if (rs->alter_inflight && now - rs->alter_sent_ms < ALTER_RETRY_MS)
        return;
    int32_t isr[OD_REPL_MAX_ISR], n = 0;
    const char *why = NULL;
    char because[160] = "";
    int64_t epoch_start = -1;
    if (rs->nepochs && rs->epochs[rs->nepochs - 1].epoch == p->leader_epoch)
        epoch_start = rs->epochs[rs->nepochs - 1].start;
    for (int32_t i = 0; i < p->nisr && n < OD_REPL_MAX_ISR; i++) {
        int32_t id = p->isr[i];
        const od_follower_t *f = NULL;
        for (size_t k = 0; k < rs->nfollowers; k++)
            if (rs->followers[k].id == id)
                f = &rs->followers[k];
        if (f && now - f->caught_up_ms > core->repl->lag_max_ms) {
            snprintf(because, sizeof(because), "replica %d not caught up for %" PRId64 " ms", id,
                     now - f->caught_up_ms);
            why = because;
            continue;
        }
        isr[n++] = id;
    }
    if (!in_list(isr, n, (int32_t)core->conf.node_id) && n < OD_REPL_MAX_ISR)
        isr[n++] = (int32_t)core->conf.node_id; /* the leader is always in its ISR */
    for (size_t k = 0; k < rs->nfollowers && n < OD_REPL_MAX_ISR; k++) {
        const od_follower_t *f = &rs->followers[k];
        if (in_list(isr, n, f->id) || in_list(p->isr, p->nisr, f->id))
            continue;
        /* Kafka's isFollowerInSync: it has everything committed, from
         * this epoch on, and was caught up within replica.lag.time.max.ms
         * (a stopped follower's last fetch does not bring it back). */
        if (f->leo >= 0 && f->leo >= p->high_watermark && epoch_start >= 0 && f->leo >= epoch_start &&
            now - f->caught_up_ms <= core->repl->lag_max_ms && f->prev_fetch_ms > rs->role_since_ms) {
            const od_broker_reg_t *b = od_image_broker(&core->image, f->id);
            if (b && b->fenced)
                continue; /* the controller would refuse it (INELIGIBLE_REPLICA) */
            isr[n++] = f->id;
            if (!why) {
                snprintf(because, sizeof(because), "replica %d caught up", f->id);
                why = because;
            }
        }
    }
    int same = n == p->nisr;
    for (int32_t i = 0; same && i < n; i++)
        same = in_list(p->isr, p->nisr, isr[i]);
    if (!same)
        change_isr(core, p, isr, n, why ? why : "ISR changed");
}
