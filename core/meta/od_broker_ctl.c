/* od_broker_ctl.c - the active controller's side of the brokers' lifecycle
 * (KIP-631):
 *   - BrokerRegistration: checks the cluster id and the request and commits
 *     a RegisterBrokerRecord (fenced), answering after the commit;
 *   - BrokerHeartbeat: notes when it heard the broker and unfences it
 *     (UnfenceBrokerRecord) once its metadata offset reached its
 *     registration;
 *   - every tick: a broker not heard from for broker.session.timeout.ms is
 *     fenced (FenceBrokerRecord) and, in the same commit, the partitions it
 *     leads move to another live member of their ISR (PartitionChangeRecord,
 *     the fenced broker out of the ISR). A node that just became the
 *     controller gives every broker a full session first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_broker_life.h"
#include "od_core.h"
#include "od_dispatch.h"
#include "od_handlers.h"
#include "od_meta_batch.h"

static od_broker_seen_t *seen(od_broker_life_t *bl, int32_t id, int64_t now)
{
    for (size_t i = 0; i < bl->nseen; i++)
        if (bl->seen[i].id == id)
            return &bl->seen[i];
    if (bl->nseen == bl->seen_cap) {
        size_t cap = bl->seen_cap ? bl->seen_cap * 2 : 8;
        od_broker_seen_t *n = realloc(bl->seen, cap * sizeof(*n));
        if (!n)
            return NULL;
        bl->seen = n;
        bl->seen_cap = cap;
    }
    od_broker_seen_t *s = &bl->seen[bl->nseen++];
    memset(s, 0, sizeof(*s));
    s->id = id;
    s->epoch = -1;
    s->last_ms = now; /* first sight: a full session from now */
    return s;
}

typedef struct fence_call {
    od_core_t *core;
    int32_t id;
} fence_call_t;

static void fencing_done(void *arg, int status, const char *msg)
{
    fence_call_t *fc = arg;
    od_broker_life_t *bl = fc->core->blife;
    if (status != 0)
        od_logf(OD_LOG_WARN, "fencing change of broker %d failed: %s", fc->id, msg ? msg : "");
    for (size_t i = 0; bl && i < bl->nseen; i++)
        if (bl->seen[i].id == fc->id)
            bl->seen[i].pending = 0;
    free(fc);
}

static int in_list(const int32_t *v, int32_t n, int32_t id)
{
    for (int32_t i = 0; i < n; i++)
        if (v[i] == id)
            return 1;
    return 0;
}

static int live(od_core_t *core, int32_t id, int32_t except)
{
    const od_broker_reg_t *b = od_image_broker(&core->image, id);
    return id != except && b && !b->fenced;
}

/* PartitionChangeRecords moving every partition `id` leads to another live
 * ISR member, `id` out of the ISR; at most max of them. */
static void move_leaders(od_core_t *core, int32_t id, od_meta_batch_t *b, size_t max)
{
    for (od_topic_t *t = od_image_next_topic(&core->image, NULL); t && b->n < max;
         t = od_image_next_topic(&core->image, t))
        for (int32_t i = 0; i < t->npartitions && b->n < max; i++) {
            od_partition_t *p = t->partitions[i];
            if (p->leader != id || !in_list(p->isr, p->nisr, id))
                continue;
            int32_t next = -1, isr[64], nisr = 0;
            for (int32_t j = 0; j < p->nisr && nisr < 64; j++) {
                if (p->isr[j] == id)
                    continue;
                isr[nisr++] = p->isr[j];
                if (next < 0 && live(core, p->isr[j], id))
                    next = p->isr[j];
            }
            if (next < 0)
                continue; /* no one in sync to take over: unclean elections decide */
            od_PartitionChangeRecord_t r;
            od_PartitionChangeRecord_init(&r);
            r.partition_id = p->index;
            r.topic_id = t->id;
            r.leader = next;
            r.isr = isr;
            r.isr_count = nisr;
            od_wbuf_t *w = od_meta_batch_add(b, OD_METAREC_PARTITION_CHANGE, 0);
            if (!w)
                return; /* the proposal fails: out of memory */
            od_PartitionChangeRecord_encode(w, 0, &r);
            od_logf(OD_LOG_INFO, "%s-%d: leader %d is fenced; %d leads now", t->name, p->index,
                    id, next);
        }
}

/* Commits a Fence (with the leadership moves) or Unfence record, or with
 * fence == 2 only the moves (controlled shutdown). */
static void propose_fencing(od_core_t *core, od_broker_seen_t *s, const od_broker_reg_t *b,
                            int fence)
{
    enum { MAX_RECS = 4096 };
    od_meta_batch_t batch = {0};
    od_wbuf_t *w;
    if (fence == 1) {
        od_FenceBrokerRecord_t r;
        od_FenceBrokerRecord_init(&r);
        r.id = b->id;
        r.epoch = b->epoch;
        if ((w = od_meta_batch_add(&batch, OD_METAREC_FENCE_BROKER, 0)))
            od_FenceBrokerRecord_encode(w, 0, &r);
    } else if (fence == 0) {
        od_UnfenceBrokerRecord_t r;
        od_UnfenceBrokerRecord_init(&r);
        r.id = b->id;
        r.epoch = b->epoch;
        if ((w = od_meta_batch_add(&batch, OD_METAREC_UNFENCE_BROKER, 0)))
            od_UnfenceBrokerRecord_encode(w, 0, &r);
    }
    if (fence)
        move_leaders(core, b->id, &batch, MAX_RECS);
    fence_call_t *fc = calloc(1, sizeof(*fc));
    if (!fc || (batch.n == 0 && !batch.oom)) { /* shutdown of a broker that leads nothing */
        free(fc);
        od_meta_batch_free(&batch);
        return;
    }
    fc->core = core;
    fc->id = b->id;
    s->pending = 1;
    char err[256];
    od_logf(OD_LOG_INFO, "%s broker %d (epoch %lld)%s",
            fence == 2 ? "controlled shutdown of" : fence ? "fencing" : "unfencing", b->id,
            (long long)b->epoch,
            fence == 2 ? ": its partitions move to other ISR members"
            : fence ? ": no heartbeat within broker.session.timeout.ms" : "");
    if (od_meta_propose_raw(core, &batch, fencing_done, fc, err, sizeof(err)) != OD_ERR_NONE)
        fencing_done(fc, -OD_ERR_NOT_CONTROLLER, err);
}

void od_broker_ctl_tick(od_core_t *core, od_broker_life_t *bl, int is_controller, int64_t now)
{
    if (!is_controller) {
        bl->was_controller = 0;
        return;
    }
    if (!bl->was_controller) { /* new in the job: everyone gets a full session */
        bl->was_controller = 1;
        for (size_t i = 0; i < bl->nseen; i++) {
            bl->seen[i].last_ms = now;
            bl->seen[i].pending = 0;
        }
    }
    for (size_t i = 0; i < core->image.nbrokers; i++) {
        const od_broker_reg_t *b = &core->image.brokers[i];
        od_broker_seen_t *s = seen(bl, b->id, now);
        if (!s || b->fenced || s->pending || b->id == (int32_t)core->conf.node_id)
            continue;
        if (now - s->last_ms > bl->session_ms)
            propose_fencing(core, s, b, 1);
    }
}

int od_broker_ctl_movable(od_core_t *core, int32_t id)
{
    for (od_topic_t *t = od_image_next_topic(&core->image, NULL); t;
         t = od_image_next_topic(&core->image, t))
        for (int32_t i = 0; i < t->npartitions; i++) {
            od_partition_t *p = t->partitions[i];
            if (p->leader != id)
                continue;
            for (int32_t j = 0; j < p->nisr; j++)
                if (live(core, p->isr[j], id))
                    return 1;
        }
    return 0;
}

int16_t od_broker_ctl_heard(od_core_t *core, od_broker_life_t *bl, int32_t id, int64_t epoch,
                            int64_t offset, int want_shutdown, int64_t now)
{
    const od_broker_reg_t *b = od_image_broker(&core->image, id);
    if (!b)
        return OD_ERR_BROKER_ID_NOT_REGISTERED;
    if (b->epoch != epoch)
        return OD_ERR_STALE_BROKER_EPOCH;
    od_broker_seen_t *s = seen(bl, id, now);
    if (!s)
        return OD_ERR_UNKNOWN_SERVER_ERROR;
    s->last_ms = now;
    s->epoch = epoch;
    /* Caught up: it has applied the log at least to its own registration. */
    if (want_shutdown) {
        /* Controlled shutdown: leadership moves away first (KIP-631). */
        if (!s->pending && od_broker_ctl_movable(core, id))
            propose_fencing(core, s, b, 2);
        return OD_ERR_NONE;
    }
    if (b->fenced && offset >= b->epoch && !s->pending)
        propose_fencing(core, s, b, 0);
    return OD_ERR_NONE;
}

void od_h_broker_heartbeat(od_req_t *r, void *body)
{
    od_core_t *core = r->core;
    od_BrokerHeartbeatRequest_t *req = body;
    od_BrokerHeartbeatResponse_t resp;
    od_BrokerHeartbeatResponse_init(&resp);
    if (!core->blife || core->cp->controller_id(core->cp_self) != (int32_t)core->conf.node_id) {
        resp.error_code = OD_ERR_NOT_CONTROLLER;
    } else {
        resp.error_code = od_broker_ctl_heard(core, core->blife, req->broker_id,
                                              req->broker_epoch, req->current_metadata_offset,
                                              req->want_shut_down, od_mono_ms());
        const od_broker_reg_t *b = od_image_broker(&core->image, req->broker_id);
        resp.is_fenced = b ? b->fenced : 1;
        resp.is_caught_up = b && req->current_metadata_offset >= b->epoch;
        resp.should_shut_down = req->want_shut_down && resp.error_code == OD_ERR_NONE &&
                                !od_broker_ctl_movable(core, req->broker_id);
    }
    od_BrokerHeartbeatResponse_encode(&r->resp, r->hdr.api_version, &resp);
    od_req_done(r);
}

static void answer(od_req_t *r, int16_t code)
{
    od_BrokerRegistrationResponse_t resp;
    od_BrokerRegistrationResponse_init(&resp);
    resp.error_code = code;
    const od_broker_reg_t *b = NULL;
    if (code == OD_ERR_NONE && r->wait)
        b = od_image_broker(&r->core->image, *(int32_t *)r->wait);
    resp.broker_epoch = b ? b->epoch : -1;
    od_BrokerRegistrationResponse_encode(&r->resp, r->hdr.api_version, &resp);
    od_req_done(r);
}

static void committed(void *arg, int16_t code, const char *msg)
{
    (void)msg;
    answer(arg, code);
}

void od_h_broker_registration(od_req_t *r, void *body)
{
    od_core_t *core = r->core;
    od_BrokerRegistrationRequest_t *req = body;
    const char *cid = core->cp->cluster_id(core->cp_self);
    int32_t *id = od_arena_alloc(&r->arena, sizeof(*id));
    if (!id) {
        od_req_drop(r);
        return;
    }
    *id = req->broker_id;
    r->wait = id;
    if (core->cp->controller_id(core->cp_self) != (int32_t)core->conf.node_id) {
        answer(r, OD_ERR_NOT_CONTROLLER);
        return;
    }
    if (!cid || req->cluster_id.len != (int32_t)strlen(cid) ||
        memcmp(req->cluster_id.p, cid, strlen(cid)) != 0) {
        answer(r, OD_ERR_INCONSISTENT_CLUSTER_ID);
        return;
    }
    if (req->broker_id < 0 || req->listeners_count < 0 || req->listeners_count > 16) {
        answer(r, OD_ERR_INVALID_REQUEST);
        return;
    }
    const od_broker_reg_t *cur = od_image_broker(&core->image, req->broker_id);
    if (cur && memcmp(cur->incarnation.b, req->incarnation_id.b, 16) == 0) {
        answer(r, OD_ERR_NONE); /* a retry of a registration already committed */
        return;
    }
    od_RegisterBrokerRecord_t rec;
    od_RegisterBrokerRecord_BrokerEndpoint_t eps[16];
    od_RegisterBrokerRecord_init(&rec);
    rec.broker_id = req->broker_id;
    rec.incarnation_id = req->incarnation_id;
    for (int32_t i = 0; i < req->listeners_count; i++) {
        memset(&eps[i], 0, sizeof(eps[i]));
        eps[i].name = req->listeners[i].name;
        eps[i].host = req->listeners[i].host;
        eps[i].port = req->listeners[i].port;
        eps[i].security_protocol = req->listeners[i].security_protocol;
    }
    rec.end_points_count = req->listeners_count;
    rec.end_points = eps;
    rec.features_count = 0;
    rec.rack = req->rack;
    /* Fenced until its first heartbeat shows it caught up; the controller's
     * own broker registers unfenced (od_metadata_register_self). */
    rec.fenced = 1;
    char err[256];
    if (od_metadata_propose_broker(core, &rec, committed, r, err, sizeof(err)) < 0)
        answer(r, OD_ERR_UNKNOWN_SERVER_ERROR);
}
