/* od_envelope.c - KIP-590 Envelope (api 58).
 *
 * A broker that is not the active controller forwards admin requests to it
 * (od_cp_route.c). Sent bare, the controller would judge them as the
 * forwarding broker's connection (User:ANONYMOUS on a PLAINTEXT controller
 * listener). Wrapped in an Envelope, the request carries its client's
 * principal and address; the controller checks that the sender may act for
 * the cluster (CLUSTER_ACTION), runs the inner request with that identity
 * (od_req_t.client) and wraps the inner response in the EnvelopeResponse.
 *
 * RequestPrincipal is Odradek's own principal serde: the principal string
 * as ACLs name it ("User:alice"), not the Java DefaultKafkaPrincipalBuilder
 * serialization, so envelopes pass between Odradek nodes only.
 *
 * The codec is generated from core/proto/schema/envelope.ods. As Kafka,
 * Envelope is served (and listed by ApiVersions) on controller listeners
 * only: an envelope asks the receiver to trust the principal it names, and
 * broker listeners face clients. */
#include "od_envelope.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_authz.h"
#include "od_core.h"
#include "od_dispatch.h"
#include "od_net.h"

int od_envelope_forwardable(int16_t key)
{
    switch (key) {
    case OD_API_CREATE_TOPICS:
    case OD_API_DELETE_TOPICS:
    case OD_API_CREATE_PARTITIONS:
    case OD_API_ALTER_CONFIGS:
    case OD_API_INCREMENTAL_ALTER_CONFIGS:
    case OD_API_ELECT_LEADERS: /* elections and reassignments are the controller's */
    case OD_API_ALTER_PARTITION_REASSIGNMENTS:
        return 1;
    default:
        return 0;
    }
}

uint8_t *od_envelope_wrap(const od_conn_t *c, const uint8_t *frame, size_t len, size_t *out_len)
{
    uint8_t addr[16];
    int32_t alen = 0;
    if (inet_pton(AF_INET, c->host, addr) == 1)
        alen = 4;
    else if (inet_pton(AF_INET6, c->host, addr) == 1)
        alen = 16;
    const char *principal = c->client.principal ? c->client.principal : "User:ANONYMOUS";
    od_EnvelopeRequest_t req;
    od_EnvelopeRequest_init(&req);
    req.request_data = (od_bytes_t){frame, (int32_t)len};
    req.request_principal = (od_bytes_t){(const uint8_t *)principal, (int32_t)strlen(principal)};
    req.client_host_address = (od_bytes_t){addr, alen};
    od_wbuf_t w;
    od_wbuf_init(&w);
    od_EnvelopeRequest_encode(&w, 0, &req);
    uint8_t *out = w.err ? NULL : od_wbuf_flatten(&w, out_len);
    od_wbuf_free(&w);
    return out;
}

/* The tagged section of a response header v1. */
static void skip_tags(od_slice_t *s)
{
    uint32_t n = od_read_uvarint(s);
    for (uint32_t i = 0; i < n && !s->err; i++) {
        (void)od_read_uvarint(s);
        od_skip(s, od_read_uvarint(s));
    }
}

int od_envelope_unwrap(const uint8_t *body, size_t len, int16_t inner_key, int16_t inner_version,
                       const uint8_t **inner, size_t *inner_len)
{
    od_slice_t s;
    od_slice_init(&s, body, len);
    od_arena_t a; /* the response has no arrays: nothing is allocated */
    od_arena_init(&a, 4096);
    od_EnvelopeResponse_t resp;
    int rc = od_EnvelopeResponse_decode(&s, 0, &a, &resp);
    od_arena_free(&a);
    if (rc < 0)
        return -1;
    if (resp.error_code != 0)
        return resp.error_code;
    if (resp.response_data.len < 4)
        return -1;
    od_slice_t r;
    od_slice_init(&r, resp.response_data.p, (size_t)resp.response_data.len);
    (void)od_read_i32(&r); /* the inner correlation id: the caller writes its client's */
    if (od_proto_response_header_version(inner_key, inner_version) == 1)
        skip_tags(&r);
    if (r.err)
        return -1;
    *inner = r.p;
    *inner_len = od_slice_left(&r);
    return 0;
}

/* An envelope refused as a whole: EnvelopeResponse with no ResponseData. */
static void answer_error(od_conn_t *c, const od_request_header_t *h, int16_t err, const char *why)
{
    od_logf(OD_LOG_WARN, "client %s (%s) correlation %d: Envelope refused: %s (error %d)", c->peer,
            c->client.principal, h->correlation_id, why, err);
    od_req_t *r = od_req_new(c);
    if (!r) {
        od_conn_close(c, "out of memory");
        return;
    }
    r->hdr = *h;
    r->hdr.client_id.len = -1;
    od_EnvelopeResponse_t resp;
    od_EnvelopeResponse_init(&resp); /* ResponseData null */
    resp.error_code = err;
    r->len_pos = od_wbuf_reserve(&r->resp, 4);
    od_response_header_encode(&r->resp, OD_API_ENVELOPE, 0, h->correlation_id);
    od_EnvelopeResponse_encode(&r->resp, 0, &resp);
    if (r->resp.err) {
        od_req_drop(r);
        return;
    }
    od_req_done(r);
}

static void set_host(od_envelope_t *e, od_bytes_t addr)
{
    int af = addr.len == 4 ? AF_INET : AF_INET6;
    if (!inet_ntop(af, addr.p, e->host, sizeof(e->host)))
        snprintf(e->host, sizeof(e->host), "unknown");
}

void od_envelope_serve(od_conn_t *c, const od_request_header_t *h, const uint8_t *frame,
                       size_t len, od_slice_t *s)
{
    (void)frame;
    if (!c->listener || !c->listener->spec.controller) {
        /* Kafka: an API not exposed on the listener closes the connection. */
        od_logf(OD_LOG_WARN, "client %s correlation %d: Envelope on a listener that is not a "
                "controller listener; closing", c->peer, h->correlation_id);
        od_conn_close(c, "Envelope outside controller.listener.names");
        return;
    }
    if (h->api_version != 0) {
        answer_error(c, h, OD_ERR_UNSUPPORTED_VERSION, "only version 0 is served");
        return;
    }
    if (od_authz_enabled(c->core)) {
        /* Kafka: the sender must be a broker (CLUSTER_ACTION on the cluster),
         * as it asks the controller to trust the principal it names. */
        od_req_t *probe = od_req_new(c);
        if (!probe) {
            od_conn_close(c, "out of memory");
            return;
        }
        probe->hdr = *h;
        probe->hdr.client_id.len = -1;
        int ok = od_authz_cluster(probe, OD_ACL_OP_CLUSTER_ACTION);
        od_req_no_response(probe);
        if (!ok) {
            answer_error(c, h, OD_ERR_CLUSTER_AUTHORIZATION_FAILED,
                         "sender lacks CLUSTER_ACTION on the cluster");
            return;
        }
    }
    od_arena_t a; /* the request has no arrays: nothing is allocated */
    od_arena_init(&a, 4096);
    od_EnvelopeRequest_t env;
    od_EnvelopeRequest_init(&env);
    int rc = od_EnvelopeRequest_decode(s, 0, &a, &env);
    od_arena_free(&a);
    od_bytes_t data = env.request_data;
    od_bytes_t principal = env.request_principal;
    od_bytes_t addr = env.client_host_address;
    if (rc < 0 || data.len < 8 || principal.len <= 0 || (addr.len != 4 && addr.len != 16)) {
        answer_error(c, h, OD_ERR_INVALID_REQUEST, "malformed envelope");
        return;
    }
    if ((size_t)principal.len >= sizeof(((od_envelope_t *)0)->principal) ||
        memchr(principal.p, 0, (size_t)principal.len)) {
        answer_error(c, h, OD_ERR_INVALID_REQUEST, "principal too long or not a string");
        return;
    }
    /* The inner frame lies inside the envelope's, so socket.request.max.bytes
     * bounds it too. */
    od_slice_t in;
    od_slice_init(&in, data.p, (size_t)data.len);
    od_request_header_t ih;
    if (od_request_header_decode(&in, &ih) < 0) {
        answer_error(c, h, OD_ERR_INVALID_REQUEST, "inner request header malformed");
        return;
    }
    const od_api_entry_t *api = od_dispatch_api(ih.api_key);
    if (!od_envelope_forwardable(ih.api_key) || !api) {
        /* Nested envelopes included: 58 is not forwardable. */
        answer_error(c, h, OD_ERR_INVALID_REQUEST, "inner api may not be forwarded");
        return;
    }
    if (ih.api_version < api->min_ver || ih.api_version > api->max_ver) {
        answer_error(c, h, OD_ERR_UNSUPPORTED_VERSION, "inner api version not supported");
        return;
    }
    od_req_t *r = od_req_new(c);
    od_envelope_t *e = calloc(1, sizeof *e);
    if (!r || !e) {
        free(e);
        if (r)
            od_req_no_response(r);
        od_conn_close(c, "out of memory");
        return;
    }
    memcpy(e->principal, principal.p, (size_t)principal.len);
    set_host(e, addr);
    e->outer_correlation_id = h->correlation_id;
    e->client = c->client; /* the listener and protocol stay the connection's */
    e->client.principal = e->principal;
    e->client.host = e->host;
    e->client.peer = e->host;
    e->client.sasl_mechanism = NULL;
    r->envelope = e;
    r->client = &e->client;
    r->hdr = ih;
    r->body = in;
    r->frame_len = len;
    if (od_req_keep_frame(r, data.p, (size_t)data.len) < 0) {
        od_req_no_response(r);
        od_conn_close(c, "out of memory");
        return;
    }
    r->hdr.client_id.len = ih.client_id.len > 0 ? ih.client_id.len : -1;
    if (r->hdr.client_id.len > 0) {
        char *cid = od_arena_strndup(&r->arena, ih.client_id.p, (size_t)ih.client_id.len);
        r->hdr.client_id.p = cid;
        if (!cid)
            r->hdr.client_id.len = -1;
    }
    e->client.client_id = r->hdr.client_id.len > 0 ? r->hdr.client_id.p : NULL;
    od_req_account(r);
    void *body = od_proto_decode_request(ih.api_key, ih.api_version, &r->body, &r->arena);
    if (!body) {
        od_logf(OD_LOG_WARN, "client %s correlation %d: enveloped %s v%d request malformed",
                c->peer, h->correlation_id, od_proto_api(ih.api_key)->name, ih.api_version);
        /* Answered as an envelope error, not as the inner API. */
        od_req_no_response(r);
        answer_error(c, h, OD_ERR_INVALID_REQUEST, "inner request malformed");
        return;
    }
    r->len_pos = od_wbuf_reserve(&r->resp, 4);
    od_response_header_encode(&r->resp, ih.api_key, ih.api_version, ih.correlation_id);
    od_logf(OD_LOG_DEBUG, "client %s correlation %d: enveloped %s v%d for %s at %s", c->peer,
            h->correlation_id, od_proto_api(ih.api_key)->name, ih.api_version, e->principal,
            e->host);
    api->fn(r, body);
}

int od_envelope_finish(od_req_t *r)
{
    size_t flat_len = 0;
    uint8_t *flat = od_wbuf_flatten(&r->resp, &flat_len);
    if (!flat || flat_len < r->len_pos + 4) {
        free(flat);
        return -1;
    }
    od_EnvelopeResponse_t resp;
    od_EnvelopeResponse_init(&resp);
    resp.response_data = (od_bytes_t){flat + r->len_pos + 4, (int32_t)(flat_len - r->len_pos - 4)};
    od_wbuf_free(&r->resp);
    od_wbuf_init(&r->resp);
    r->len_pos = od_wbuf_reserve(&r->resp, 4);
    od_response_header_encode(&r->resp, OD_API_ENVELOPE, 0, r->envelope->outer_correlation_id);
    od_EnvelopeResponse_encode(&r->resp, 0, &resp);
    free(flat);
    r->hdr.api_key = OD_API_ENVELOPE;
    r->hdr.api_version = 0;
    r->hdr.correlation_id = r->envelope->outer_correlation_id;
    free(r->envelope);
    r->envelope = NULL;
    r->client = NULL;
    return r->resp.err ? -1 : 0;
}
