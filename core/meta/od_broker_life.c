/* od_broker_life.c - a broker's registration with the active controller
 * (KIP-631's BrokerRegistration), both sides.
 *
 * Broker side (the "brokers" subsystem's tick): while the committed image
 * does not hold this broker with its advertised endpoints, it registers -
 * directly when this node is the active controller, else by sending
 * BrokerRegistration through the control plane's forward op (ABI 1.3). One
 * request at a time; the incarnation id stays the same for the process, so
 * a retry after a lost answer is recognised.
 * Controller side (od_h_broker_registration): checks the cluster id and the
 * request and commits a RegisterBrokerRecord, answering after the commit. */
#include "od_broker_life.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_dispatch.h"
#include "od_handlers.h"
#include "od_net.h"

struct od_broker_life {
    int is_broker;
    int inflight;
    od_uuid_t incarnation;
    int64_t last_log_ms;
};

static int has_role(const char *roles, const char *role)
{
    size_t n = strlen(role);
    for (const char *p = roles ? roles : ""; *p;) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t l = strcspn(p, ", ");
        if (l == n && memcmp(p, role, n) == 0)
            return 1;
        p += l;
    }
    return 0;
}

int od_broker_life_start(od_core_t *core, char *err, size_t errsz)
{
    od_broker_life_t *bl = calloc(1, sizeof(*bl));
    if (!bl) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    bl->is_broker = has_role(core->conf.process_roles, "broker");
    randombytes_buf(bl->incarnation.b, sizeof(bl->incarnation.b));
    core->blife = bl;
    return 0;
}

void od_broker_life_stop(od_core_t *core)
{
    /* An answer still in flight finds no state and is dropped. */
    free(core->blife);
    core->blife = NULL;
}

typedef struct reg_call {
    od_core_t *core;
} reg_call_t;

static void registered(void *arg, int status, const uint8_t *body, size_t len)
{
    reg_call_t *rc = arg;
    od_core_t *core = rc->core;
    free(rc);
    od_broker_life_t *bl = core->blife;
    if (!bl)
        return;
    bl->inflight = 0;
    int16_t code = status < 0 ? (int16_t)-status : OD_ERR_UNKNOWN_SERVER_ERROR;
    if (status == 0) {
        od_slice_t s;
        od_arena_t a;
        od_BrokerRegistrationResponse_t resp;
        od_arena_init(&a, 1 << 16);
        od_slice_init(&s, body, len);
        if (od_BrokerRegistrationResponse_decode(&s, 0, &a, &resp) == 0)
            code = resp.error_code;
        od_arena_free(&a);
    }
    int64_t now = od_mono_ms();
    if (code != OD_ERR_NONE && now - bl->last_log_ms > 10000) {
        bl->last_log_ms = now;
        od_logf(OD_LOG_WARN, "broker registration with the active controller failed: %s; "
                "retrying", od_err_name(code));
    }
}

static void send_registration(od_core_t *core, od_broker_life_t *bl, const od_endpoint_t *eps,
                              size_t neps, const char *cluster_id)
{
    od_BrokerRegistrationRequest_t req;
    od_BrokerRegistrationRequest_Listener_t ls[8];
    od_BrokerRegistrationRequest_init(&req);
    req.broker_id = (int32_t)core->conf.node_id;
    req.cluster_id = od_str_c(cluster_id);
    req.incarnation_id = bl->incarnation;
    for (size_t i = 0; i < neps && i < 8; i++) {
        od_BrokerRegistrationRequest_Listener_init(&ls[i]);
        ls[i].name = od_str_c(eps[i].name);
        ls[i].host = od_str_c(eps[i].host);
        ls[i].port = (uint16_t)eps[i].port;
        ls[i].security_protocol = eps[i].security_protocol;
    }
    req.listeners_count = (int32_t)(neps < 8 ? neps : 8);
    req.listeners = ls;
    const char *rack = core->conf.broker_rack && *core->conf.broker_rack ? core->conf.broker_rack
                                                                          : NULL;
    req.rack = od_str_c(rack);
    od_wbuf_t w;
    od_wbuf_init(&w);
    od_BrokerRegistrationRequest_encode(&w, 0, &req);
    size_t n = 0;
    uint8_t *bytes = w.err ? NULL : od_wbuf_flatten(&w, &n);
    od_wbuf_free(&w);
    reg_call_t *rc = bytes ? calloc(1, sizeof(*rc)) : NULL;
    if (!rc) {
        free(bytes);
        return;
    }
    rc->core = core;
    od_cp_request_t cr;
    memset(&cr, 0, sizeof(cr));
    cr.api_key = OD_API_BROKER_REGISTRATION;
    cr.api_version = 0;
    cr.client_id = "odradek-broker";
    cr.flexible_header = 1;
    cr.body = bytes;
    cr.body_len = n;
    cr.peer = "";
    bl->inflight = 1;
    if (core->cp->forward(core->cp_self, &cr, registered, rc) < 0) {
        bl->inflight = 0;
        free(rc);
    }
    free(bytes);
}

void od_broker_life_tick(od_core_t *core, int64_t now_ms)
{
    (void)now_ms;
    od_broker_life_t *bl = core->blife;
    const od_controlplane_ops_t *cp = core->cp;
    if (!bl || !bl->is_broker || bl->inflight || !cp)
        return;
    od_endpoint_t eps[8];
    size_t neps = 0;
    char err[256];
    if (od_listeners_advertised(core, eps, 8, &neps, err, sizeof(err)) < 0)
        return;
    if (!od_metadata_self_registered(core, eps, neps)) {
        const char *cid = cp->cluster_id(core->cp_self);
        int32_t ctl = cp->controller_id(core->cp_self);
        if (ctl == (int32_t)core->conf.node_id)
            od_metadata_register_self(core, err, sizeof(err));
        else if (ctl >= 0 && cid && cp->struct_size >= sizeof(od_controlplane_ops_t) &&
                 cp->forward)
            send_registration(core, bl, eps, neps, cid);
    }
    od_listeners_advertised_free(eps, neps);
}

/* ---- the active controller's side ------------------------------------------ */

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
    rec.fenced = 0;
    char err[256];
    if (od_metadata_propose_broker(core, &rec, committed, r, err, sizeof(err)) < 0)
        answer(r, OD_ERR_UNKNOWN_SERVER_ERROR);
}
