/* od_h_allocpids.c - blocks of producer ids (KIP-730). Only the active
 * controller allocates them: it commits one ProducerIdsRecord at a time
 * (so two brokers never get the same block), for its own InitProducerId and
 * for AllocateProducerIds requests from the other brokers; a broker that is
 * not the controller sends AllocateProducerIds through the control plane's
 * forward op. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_dispatch.h"
#include "od_handlers.h"
#include "od_meta_batch.h"

#define PID_BLOCK 1000

typedef struct alloc_req {
    struct alloc_req *next;
    od_pids_cb cb;
    void *arg;
} alloc_req_t;

struct od_pid_alloc {
    alloc_req_t *head, **tail;
    int in_flight;
    int64_t start; /* of the block being committed */
};

static void next_block(od_core_t *core);

static void committed(void *arg, int status, const char *msg)
{
    od_core_t *core = arg;
    od_pid_alloc_t *pa = core->pid_alloc;
    if (!pa)
        return; /* shut down meanwhile */
    pa->in_flight = 0;
    alloc_req_t *q = pa->head;
    if (q) {
        pa->head = q->next;
        if (!pa->head)
            pa->tail = &pa->head;
    }
    int ok = status == 0 && core->image.next_producer_id == pa->start + PID_BLOCK;
    if (!ok)
        od_logf(OD_LOG_WARN, "allocating a producer id block failed: %s",
                status == 0 ? "another allocation came first" : (msg ? msg : "?"));
    if (q) {
        q->cb(q->arg, ok ? OD_ERR_NONE : OD_ERR_COORDINATOR_NOT_AVAILABLE, pa->start,
              PID_BLOCK);
        free(q);
    }
    next_block(core);
}

static void next_block(od_core_t *core)
{
    od_pid_alloc_t *pa = core->pid_alloc;
    if (!pa || pa->in_flight || !pa->head)
        return;
    od_ProducerIdsRecord_t rec;
    od_ProducerIdsRecord_init(&rec);
    pa->start = core->image.next_producer_id > 0 ? core->image.next_producer_id : 0;
    const od_broker_reg_t *b = od_image_broker(&core->image, (int32_t)core->conf.node_id);
    rec.broker_id = (int32_t)core->conf.node_id;
    rec.broker_epoch = b ? b->epoch : -1;
    rec.next_producer_id = pa->start + PID_BLOCK;
    od_meta_batch_t batch = {0};
    od_wbuf_t *w = od_meta_batch_add(&batch, OD_METAREC_PRODUCER_IDS, 0);
    if (w)
        od_ProducerIdsRecord_encode(w, 0, &rec);
    char err[256];
    pa->in_flight = 1;
    if (od_meta_propose_raw(core, &batch, committed, core, err, sizeof(err)) != OD_ERR_NONE)
        committed(core, -OD_ERR_UNKNOWN_SERVER_ERROR, err);
}

typedef struct fwd_pids {
    od_pids_cb cb;
    void *arg;
} fwd_pids_t;

static void forwarded(void *arg, int status, const uint8_t *body, size_t len)
{
    fwd_pids_t *f = arg;
    int16_t code = OD_ERR_COORDINATOR_NOT_AVAILABLE;
    int64_t start = -1;
    int32_t n = 0;
    if (status == 0) {
        od_arena_t a;
        od_slice_t s;
        od_AllocateProducerIdsResponse_t resp;
        od_arena_init(&a, 1 << 16);
        od_slice_init(&s, body, len);
        if (od_AllocateProducerIdsResponse_decode(&s, 0, &a, &resp) == 0) {
            code = resp.error_code;
            start = resp.producer_id_start;
            n = resp.producer_id_len;
        }
        od_arena_free(&a);
        if (code == OD_ERR_NONE && (start < 0 || n <= 0 || n > 1000000))
            code = OD_ERR_UNKNOWN_SERVER_ERROR;
        if (code == OD_ERR_NOT_CONTROLLER)
            code = OD_ERR_COORDINATOR_NOT_AVAILABLE; /* retriable for InitProducerId */
    }
    f->cb(f->arg, code, start, n);
    free(f);
}

int od_pids_allocate(od_core_t *core, od_pids_cb cb, void *arg)
{
    const od_controlplane_ops_t *cp = core->cp;
    if (!cp)
        return -1;
    int32_t me = (int32_t)core->conf.node_id;
    if (cp->controller_id(core->cp_self) != me) {
        if (cp->struct_size < sizeof(od_controlplane_ops_t) || !cp->forward)
            return -1;
        od_AllocateProducerIdsRequest_t req;
        od_AllocateProducerIdsRequest_init(&req);
        const od_broker_reg_t *b = od_image_broker(&core->image, me);
        req.broker_id = me;
        req.broker_epoch = b ? b->epoch : -1;
        od_wbuf_t w;
        od_wbuf_init(&w);
        od_AllocateProducerIdsRequest_encode(&w, 0, &req);
        size_t n = 0;
        uint8_t *bytes = w.err ? NULL : od_wbuf_flatten(&w, &n);
        od_wbuf_free(&w);
        fwd_pids_t *f = bytes ? calloc(1, sizeof(*f)) : NULL;
        if (!f) {
            free(bytes);
            return -1;
        }
        f->cb = cb;
        f->arg = arg;
        od_cp_request_t cr;
        memset(&cr, 0, sizeof(cr));
        cr.api_key = OD_API_ALLOCATE_PRODUCER_IDS;
        cr.client_id = "odradek-broker";
        cr.flexible_header = 1;
        cr.body = bytes;
        cr.body_len = n;
        cr.peer = "";
        int rc = cp->forward(core->cp_self, &cr, forwarded, f);
        free(bytes);
        if (rc < 0)
            free(f);
        return rc < 0 ? -1 : 0;
    }
    if (!core->pid_alloc) {
        od_pid_alloc_t *pa = calloc(1, sizeof(*pa));
        if (!pa)
            return -1;
        pa->tail = &pa->head;
        core->pid_alloc = pa;
    }
    alloc_req_t *q = calloc(1, sizeof(*q));
    if (!q)
        return -1;
    q->cb = cb;
    q->arg = arg;
    *core->pid_alloc->tail = q;
    core->pid_alloc->tail = &q->next;
    next_block(core);
    return 0;
}

void od_pids_alloc_free(od_core_t *core)
{
    od_pid_alloc_t *pa = core->pid_alloc;
    if (!pa)
        return;
    core->pid_alloc = NULL; /* a late commit finds nothing */
    while (pa->head) {
        alloc_req_t *q = pa->head;
        pa->head = q->next;
        q->cb(q->arg, OD_ERR_COORDINATOR_NOT_AVAILABLE, -1, 0);
        free(q);
    }
    free(pa);
}

static void answer(void *arg, int16_t err, int64_t start, int32_t len)
{
    od_req_t *r = arg;
    od_AllocateProducerIdsResponse_t resp;
    od_AllocateProducerIdsResponse_init(&resp);
    resp.error_code = err;
    resp.producer_id_start = err == OD_ERR_NONE ? start : -1;
    resp.producer_id_len = err == OD_ERR_NONE ? len : 0;
    od_AllocateProducerIdsResponse_encode(&r->resp, r->hdr.api_version, &resp);
    od_req_done(r);
}

void od_h_allocate_producer_ids(od_req_t *r, void *body)
{
    od_core_t *core = r->core;
    od_AllocateProducerIdsRequest_t *req = body;
    const od_broker_reg_t *b = od_image_broker(&core->image, req->broker_id);
    if (core->cp->controller_id(core->cp_self) != (int32_t)core->conf.node_id)
        answer(r, OD_ERR_NOT_CONTROLLER, -1, 0);
    else if (!b)
        answer(r, OD_ERR_BROKER_ID_NOT_REGISTERED, -1, 0);
    else if (b->epoch != req->broker_epoch)
        answer(r, OD_ERR_STALE_BROKER_EPOCH, -1, 0);
    else if (od_pids_allocate(core, answer, r) < 0)
        answer(r, OD_ERR_UNKNOWN_SERVER_ERROR, -1, 0);
}
