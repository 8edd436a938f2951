/* od_broker_life.c - a broker's side of its lifecycle with the active
 * controller (KIP-631), the "brokers" subsystem:
 *   - while the committed image does not hold this broker with its
 *     advertised endpoints and this process's incarnation id
 *     (core->incarnation, new at every start), it registers: directly when
 *     this node is the active controller, else with BrokerRegistration
 *     through the control plane's forward op (ABI 1.3). So a restarted
 *     broker registers again and stays fenced until it has caught up with
 *     what happened while it was gone; within the process the id stays the
 *     same, so a retry after a lost answer is recognised;
 *   - once registered, a BrokerHeartbeat every broker.heartbeat.interval.ms
 *     (with how far it has applied the metadata log), which keeps it
 *     unfenced (od_broker_ctl.c is the controller's side).
 * One request at a time. */
#include "od_broker_life.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_dispatch.h"
#include "od_handlers.h"
#include "od_net.h"

static const od_conf_def_t life_defs[] = {
    {"broker.heartbeat.interval.ms", OD_CONF_INT, "2000", 1, INT32_MAX, NULL,
     "how often a broker heartbeats to the active controller", NULL, 0},
    {"broker.session.timeout.ms", OD_CONF_INT, "9000", 1, INT32_MAX, NULL,
     "the active controller fences a broker it has not heard from this long", NULL, 0},
};

int od_broker_life_register_config(od_core_t *core, char *err, size_t errsz)
{
    return od_config_register(&core->config, life_defs, sizeof(life_defs) / sizeof(life_defs[0]),
                              "core", err, errsz);
}

static int64_t conf_int(od_core_t *core, const char *key, int64_t dflt)
{
    const char *v = od_core_config_get(core, key);
    return v && *v ? atoll(v) : dflt;
}

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
    if (!bl->is_broker) { /* nothing to catch up with for clients: no registration */
        core->caught_up = 1;
        od_net_listeners_rewatch(core);
    }
    bl->hb_interval_ms = conf_int(core, "broker.heartbeat.interval.ms", 2000);
    bl->session_ms = conf_int(core, "broker.session.timeout.ms", 9000);
    core->blife = bl;
    return 0;
}

void od_broker_life_stop(od_core_t *core)
{
    /* An answer still in flight finds no state and is dropped. */
    if (core->blife)
        free(core->blife->seen);
    free(core->blife);
    core->blife = NULL;
}

typedef struct reg_call {
    od_core_t *core;
    int heartbeat;
} reg_call_t;

static void registered(void *arg, int status, const uint8_t *body, size_t len)
{
    reg_call_t *rc = arg;
    od_core_t *core = rc->core;
    int heartbeat = rc->heartbeat;
    free(rc);
    od_broker_life_t *bl = core->blife;
    if (!bl)
        return;
    bl->inflight = 0;
    int16_t code = status < 0 ? (int16_t)-status : OD_ERR_UNKNOWN_SERVER_ERROR;
    if (status == 0) {
        od_slice_t s;
        od_arena_t a;
        od_arena_init(&a, 1 << 16);
        od_slice_init(&s, body, len);
        if (heartbeat) {
            od_BrokerHeartbeatResponse_t hb;
            if (od_BrokerHeartbeatResponse_decode(&s, 0, &a, &hb) == 0)
                code = hb.error_code;
        } else {
            od_BrokerRegistrationResponse_t resp;
            if (od_BrokerRegistrationResponse_decode(&s, 0, &a, &resp) == 0)
                code = resp.error_code;
        }
        od_arena_free(&a);
    }
    int64_t now = od_mono_ms();
    if (code != OD_ERR_NONE && now - bl->last_log_ms > 10000) {
        bl->last_log_ms = now;
        od_logf(OD_LOG_WARN, "broker %s with the active controller failed: %s; retrying",
                heartbeat ? "heartbeat" : "registration", od_err_name(code));
    }
}

/* Sends an encoded request to the active controller (forward op). */
static void send_to_controller(od_core_t *core, od_broker_life_t *bl, int16_t key, od_wbuf_t *w,
                               int heartbeat)
{
    size_t n = 0;
    uint8_t *bytes = w->err ? NULL : od_wbuf_flatten(w, &n);
    od_wbuf_free(w);
    reg_call_t *rc = bytes ? calloc(1, sizeof(*rc)) : NULL;
    if (!rc) {
        free(bytes);
        return;
    }
    rc->core = core;
    rc->heartbeat = heartbeat;
    od_cp_request_t cr;
    memset(&cr, 0, sizeof(cr));
    cr.api_key = key;
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

static void send_heartbeat(od_core_t *core, od_broker_life_t *bl, const od_broker_reg_t *me)
{
    od_BrokerHeartbeatRequest_t req;
    od_BrokerHeartbeatRequest_init(&req);
    req.broker_id = me->id;
    req.broker_epoch = me->epoch;
    req.current_metadata_offset = core->image.last_offset;
    req.want_shut_down = (int8_t)bl->shutting_down;
    od_wbuf_t w;
    od_wbuf_init(&w);
    od_BrokerHeartbeatRequest_encode(&w, 0, &req);
    send_to_controller(core, bl, OD_API_BROKER_HEARTBEAT, &w, 1);
}

static void send_registration(od_core_t *core, od_broker_life_t *bl, const od_endpoint_t *eps,
                              size_t neps, const char *cluster_id)
{
    od_BrokerRegistrationRequest_t req;
    od_BrokerRegistrationRequest_Listener_t ls[8];
    od_BrokerRegistrationRequest_init(&req);
    req.broker_id = (int32_t)core->conf.node_id;
    req.cluster_id = od_str_c(cluster_id);
    memcpy(req.incarnation_id.b, core->incarnation, 16);
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
    send_to_controller(core, bl, OD_API_BROKER_REGISTRATION, &w, 0);
}

void od_broker_life_tick(od_core_t *core, int64_t now_ms)
{
    (void)now_ms;
    od_broker_life_t *bl = core->blife;
    const od_controlplane_ops_t *cp = core->cp;
    if (!bl || !cp)
        return;
    int64_t now = od_mono_ms();
    int32_t me = (int32_t)core->conf.node_id;
    int32_t ctl = cp->controller_id(core->cp_self);
    od_broker_ctl_tick(core, bl, ctl == me, now);
    if (!bl->is_broker || bl->inflight)
        return;
    od_endpoint_t eps[8];
    size_t neps = 0;
    char err[256];
    if (od_listeners_advertised(core, eps, 8, &neps, err, sizeof(err)) < 0)
        return;
    int can_forward = cp->struct_size >= sizeof(od_controlplane_ops_t) && cp->forward;
    if (!od_metadata_self_registered(core, eps, neps)) {
        const char *cid = cp->cluster_id(core->cp_self);
        if (ctl == me)
            od_metadata_register_self(core, err, sizeof(err));
        else if (ctl >= 0 && cid && can_forward)
            send_registration(core, bl, eps, neps, cid);
    } else if (now - bl->last_hb_ms >= bl->hb_interval_ms) {
        const od_broker_reg_t *reg = od_image_broker(&core->image, me);
        bl->last_hb_ms = now;
        if (ctl == me)
            od_broker_ctl_heard(core, bl, reg->id, reg->epoch, core->image.last_offset, 0, now);
        else if (ctl >= 0 && can_forward)
            send_heartbeat(core, bl, reg);
    }
    od_listeners_advertised_free(eps, neps);
}

/* ---- controlled shutdown --------------------------------------------------- */

#define CONTROLLED_SHUTDOWN_MAX_MS 5000

static void shutdown_step(void *arg)
{
    od_core_t *core = arg;
    od_broker_life_t *bl = core->blife;
    int32_t me = (int32_t)core->conf.node_id;
    int64_t now = od_mono_ms();
    const od_controlplane_ops_t *cp = core->cp;
    if (!bl || core->stopping)
        return;
    int32_t ctl = cp->controller_id(core->cp_self);
    if (!od_broker_ctl_movable(core, me) || now >= bl->shutdown_deadline || ctl < 0) {
        od_logf(OD_LOG_INFO, "controlled shutdown: %s; stopping",
                ctl < 0 ? "no active controller"
                : od_broker_ctl_movable(core, me) ? "leadership did not move in time"
                                                  : "this broker leads no partition another "
                                                    "replica could lead");
        core->stopping = 1;
        od_loop_stop(core->loop);
        return;
    }
    const od_broker_reg_t *reg = od_image_broker(&core->image, me);
    if (reg && ctl == me)
        od_broker_ctl_heard(core, bl, me, reg->epoch, core->image.last_offset, 1, now);
    else if (reg && ctl >= 0 && !bl->inflight)
        send_heartbeat(core, bl, reg);
    if (od_loop_timer(core->loop, 100, shutdown_step, core) <= 0) {
        core->stopping = 1;
        od_loop_stop(core->loop);
    }
}

int od_broker_life_shutdown(od_core_t *core)
{
    od_broker_life_t *bl = core->blife;
    const od_controlplane_ops_t *cp = core->cp;
    int32_t me = (int32_t)core->conf.node_id;
    if (!bl || !bl->is_broker || bl->shutting_down || !cp ||
        cp->struct_size < sizeof(od_controlplane_ops_t) || !cp->forward ||
        !od_image_broker(&core->image, me) || !od_broker_ctl_movable(core, me))
        return -1;
    bl->shutting_down = 1;
    /* Bounded: a stop must not hang on a controller that cannot commit. */
    bl->shutdown_deadline = od_mono_ms() + (bl->session_ms < CONTROLLED_SHUTDOWN_MAX_MS
                                                ? bl->session_ms
                                                : CONTROLLED_SHUTDOWN_MAX_MS);
    od_logf(OD_LOG_INFO, "controlled shutdown: asking the active controller to move this "
            "broker's partitions first");
    shutdown_step(core);
    return 0;
}
