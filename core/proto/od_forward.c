/* od_forward.c - admin requests that change metadata, received by a node
 * that is not the active controller: sent on to the active controller
 * inside a KIP-590 Envelope (od_envelope.c) through the control plane's
 * forward op, and its answer relayed, so that one node validates every
 * change against its committed image (two brokers racing the same
 * CreateTopics get one success and one TOPIC_ALREADY_EXISTS).
 *
 * As Kafka's forwarding channel (NodeToControllerChannelManager with
 * ForwardingManager), a request that finds no controller (none known, the
 * connection failed, or the controller answered NOT_CONTROLLER because it
 * moved) is sent again until request.timeout.ms has passed since it
 * arrived, then answered with the API's error response built from
 * REQUEST_TIMED_OUT. Any other failure of the envelope itself (an
 * EnvelopeResponse error, a malformed answer) is answered with the API's
 * error response too (Kafka's UNKNOWN_SERVER_ERROR): the client gets an
 * answer in its API's terms and keeps its connection. If this node becomes
 * the controller meanwhile, the request runs here.
 *
 * The request keeps its place in its connection's response order; when the
 * client goes away, the request is freed at once and a send in flight is
 * abandoned (its answer is dropped). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_cp_route.h"
#include "od_dispatch.h"
#include "od_envelope.h"
#include "od_fwd_error.h"
#include "od_net.h"

/* How soon a request that found no controller is sent again; Kafka's
 * channel waits for a metadata update, this node polls its control plane. */
#define RETRY_BACKOFF_MS 100

typedef struct fwd {
    od_req_t *r;     /* NULL once answered or cancelled while a send is in flight */
    od_core_t *core;
    void *body;      /* the request decoded into r->arena, for an error answer */
    uint8_t *env;    /* the EnvelopeRequest body, kept for the sends again */
    size_t env_len;
    char client_id[256];
    int64_t retry_timer, deadline_timer; /* 0: none */
    int in_flight;   /* the control plane holds this state for a callback */
} fwd_t;

static int has_forward_op(const od_controlplane_ops_t *cp)
{
    return cp && cp->struct_size >= offsetof(od_controlplane_ops_t, forward) + sizeof(cp->forward) &&
           cp->forward;
}

static int on_controller_listener(const od_conn_t *c)
{
    return c->listener && c->listener->spec.controller;
}

static void fwd_free(fwd_t *f)
{
    if (f->retry_timer > 0)
        od_timer_cancel(f->core, f->retry_timer);
    if (f->deadline_timer > 0)
        od_timer_cancel(f->core, f->deadline_timer);
    free(f->env);
    free(f);
}

/* The request leaves this file's hands (answered, run here or freed): the
 * state goes now, or with the callback of a send still in flight. */
static od_req_t *detach(fwd_t *f)
{
    od_req_t *r = f->r;
    f->r = NULL;
    if (r) {
        r->cancel = NULL;
        r->wait = NULL;
    }
    if (f->retry_timer > 0)
        od_timer_cancel(f->core, f->retry_timer);
    if (f->deadline_timer > 0)
        od_timer_cancel(f->core, f->deadline_timer);
    f->retry_timer = f->deadline_timer = 0;
    if (!f->in_flight)
        fwd_free(f);
    return r;
}

static void answer_error(fwd_t *f, int16_t code, const char *why)
{
    void *body = f->body;
    od_req_t *r = detach(f);
    if (r->conn)
        od_logf(OD_LOG_WARN, "client %s correlation %d: %s v%d forwarded to the active "
                "controller: %s; answering %s", r->conn->peer, r->hdr.correlation_id,
                od_proto_api(r->hdr.api_key)->name, r->hdr.api_version, why, od_err_name(code));
    if (od_fwd_error_response(r, body, code) < 0) {
        od_req_drop(r);
        return;
    }
    od_req_done(r);
}

/* This node is the active controller now: the local handler runs. */
static void run_here(fwd_t *f)
{
    void *body = f->body;
    od_req_t *r = detach(f);
    const od_api_entry_t *api = od_dispatch_api(r->hdr.api_key);
    api->fn(r, body);
}

static void attempt(fwd_t *f);

static void retry_due(void *arg)
{
    fwd_t *f = arg;
    f->retry_timer = 0;
    attempt(f);
}

static void retry_later(fwd_t *f)
{
    f->retry_timer = od_timer_add(f->core, RETRY_BACKOFF_MS, retry_due, f);
    if (f->retry_timer <= 0) {
        f->retry_timer = 0;
        answer_error(f, OD_ERR_REQUEST_TIMED_OUT, "no timer for another send");
    }
}

static void deadline_due(void *arg)
{
    fwd_t *f = arg;
    f->deadline_timer = 0;
    answer_error(f, OD_ERR_REQUEST_TIMED_OUT, "no answer within request.timeout.ms");
}

static void forwarded(void *arg, int status, const uint8_t *body, size_t len)
{
    fwd_t *f = arg;
    f->in_flight = 0;
    if (!f->r) { /* answered at its deadline, or its client went away */
        fwd_free(f);
        return;
    }
    if (status < 0) {
        retry_later(f); /* no controller reached: -NOT_CONTROLLER from the forward op */
        return;
    }
    const uint8_t *inner = NULL;
    size_t inner_len = 0;
    int err = od_envelope_unwrap(body, len, f->r->hdr.api_key, f->r->hdr.api_version, &inner,
                                 &inner_len);
    if (err == OD_ERR_NOT_CONTROLLER) {
        retry_later(f); /* the controller moved meanwhile */
        return;
    }
    if (err == OD_ERR_UNSUPPORTED_VERSION) {
        /* Kafka closes the client's connection here so that it asks the
         * forwarding broker's ApiVersions again; this broker's ranges do
         * not follow the controller's, so the client is told instead. */
        answer_error(f, OD_ERR_UNSUPPORTED_VERSION, "the controller does not serve this version");
        return;
    }
    if (err != 0) {
        char why[96];
        if (err < 0)
            snprintf(why, sizeof(why), "malformed answer");
        else
            snprintf(why, sizeof(why), "envelope refused with %s", od_err_name((int16_t)err));
        answer_error(f, OD_ERR_UNKNOWN_SERVER_ERROR, why);
        return;
    }
    od_req_t *r = detach(f);
    od_write_raw(&r->resp, inner, inner_len);
    if (r->resp.err) {
        od_req_drop(r);
        return;
    }
    od_req_done(r);
}

static void attempt(fwd_t *f)
{
    od_core_t *core = f->core;
    const od_controlplane_ops_t *cp = core->cp;
    if (cp->controller_id(core->cp_self) == (int32_t)core->conf.node_id) {
        run_here(f);
        return;
    }
    od_req_t *r = f->r;
    od_cp_request_t req;
    memset(&req, 0, sizeof(req));
    req.api_key = OD_API_ENVELOPE;
    req.api_version = 0;
    req.correlation_id = r->hdr.correlation_id;
    req.client_id = f->client_id;
    req.flexible_header = 1;
    req.body = f->env;
    req.body_len = f->env_len;
    req.peer = r->conn ? r->conn->peer : "";
    f->in_flight = 1;
    if (cp->forward(core->cp_self, &req, forwarded, f) < 0) {
        f->in_flight = 0;
        retry_later(f); /* no controller known yet */
    }
}

/* The client went away: the request goes now (od_conn_close's contract). */
static void cancelled(od_req_t *r)
{
    fwd_t *f = r->wait;
    detach(f);
    od_req_free(r);
}

int od_cp_forward_maybe(od_conn_t *c, const od_request_header_t *h, const uint8_t *frame,
                        size_t len, const od_slice_t *body)
{
    od_core_t *core = c->core;
    const od_controlplane_ops_t *cp = core->cp;
    if (!od_envelope_forwardable(h->api_key) || !has_forward_op(cp) || on_controller_listener(c))
        return 0; /* a forwarded request is answered where it arrives: no loops */
    if (cp->controller_id(core->cp_self) == (int32_t)core->conf.node_id)
        return 0;
    od_req_t *r = od_req_new(c);
    fwd_t *f = r ? calloc(1, sizeof(*f)) : NULL;
    if (!f) {
        if (r)
            od_req_no_response(r);
        od_conn_close(c, "out of memory");
        return 1;
    }
    r->hdr = *h;
    r->hdr.client_id.len = -1;
    r->body = *body;
    r->frame_len = len;
    if (od_req_keep_frame(r, frame, len) < 0) {
        free(f);
        od_req_no_response(r);
        od_conn_close(c, "out of memory");
        return 1;
    }
    /* Decoded here as for a local request: a malformed one is not sent on,
     * and the decoded form is what an error answer names. */
    od_slice_t s = r->body;
    f->body = od_proto_decode_request(h->api_key, h->api_version, &s, &r->arena);
    if (!f->body) {
        od_logf(OD_LOG_WARN, "client %s correlation %d: %s v%d request: %s; closing", c->peer,
                h->correlation_id, od_proto_api(h->api_key)->name, h->api_version,
                r->arena.over_limit ? "decoding needs too much memory" : "malformed");
        free(f);
        od_req_no_response(r);
        od_conn_close(c, "malformed request");
        return 1;
    }
    od_req_account(r);
    r->len_pos = od_wbuf_reserve(&r->resp, 4);
    od_response_header_encode(&r->resp, h->api_key, h->api_version, h->correlation_id);
    snprintf(f->client_id, sizeof(f->client_id), "%.*s",
             h->client_id.len > 0 ? (int)h->client_id.len : 0,
             h->client_id.len > 0 ? h->client_id.p : "");
    f->r = r;
    f->core = core;
    /* KIP-590: the request goes inside an Envelope naming its client, so
     * the controller judges it as that client (od_envelope.c). */
    f->env = od_envelope_wrap(c, frame, len, &f->env_len);
    f->deadline_timer = f->env ? od_timer_add(core, core->conf.request_timeout_ms, deadline_due, f)
                               : -1;
    if (f->deadline_timer <= 0) {
        f->deadline_timer = 0;
        detach(f);
        od_req_drop(r);
        return 1;
    }
    r->wait = f;
    r->cancel = cancelled;
    attempt(f);
    return 1;
}
