/* od_cp_route.c - requests that are not the core's to answer (ABI 1.3).
 *
 * Two kinds, both decided before the core's own dispatch:
 *   - the control plane's own APIs (Raft's Vote, BeginQuorumEpoch, Fetch of
 *     the metadata log, DescribeQuorum, ...): the frame goes to the control
 *     plane's handle op with a reply handle, answered now or later through
 *     od_cp_reply. The core knows nothing of their contents.
 *   - admin requests that change metadata, received by a node that is not
 *     the active controller: sent on to it (od_forward.c).
 * It also says which of the core's APIs a controller listener serves
 * (od_listener_serves, Kafka's controller-listener set).
 * A reply handle is the request itself (od_req_t), which keeps its place in
 * the connection's response order; when the client goes away meanwhile the
 * request is orphaned and freed when the answer comes. */
#include "od_sasl.h"
#include "od_cp_route.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_dispatch.h"
#include "od_net.h"

/* The 1.3 ops exist in this control plane's struct. */
static int has_cp_ops(const od_controlplane_ops_t *cp)
{
    return cp && cp->struct_size >= offsetof(od_controlplane_ops_t, forward) + sizeof(cp->forward);
}

static int on_controller_listener(const od_conn_t *c)
{
    return c->listener && c->listener->spec.controller;
}

const od_cp_api_t *od_cp_api_for(const od_conn_t *c, int16_t key)
{
    const od_controlplane_ops_t *cp = c->core->cp;
    if (!has_cp_ops(cp) || !cp->handle || !cp->apis)
        return NULL;
    for (size_t i = 0; i < cp->napis; i++) {
        const od_cp_api_t *a = &cp->apis[i];
        if (a->api_key == key &&
            (on_controller_listener(c) || (a->flags & OD_CP_API_ALL_LISTENERS)))
            return a;
    }
    return NULL;
}

int od_listener_serves(const od_conn_t *c, int16_t key)
{
    if (!on_controller_listener(c))
        return 1;
    /* Kafka's controller listeners serve the APIs whose message schemas
     * name the "controller" listener: what brokers and admin tools send a
     * controller. Produce, Metadata, groups and the like are for broker
     * listeners only. */
    switch (key) {
    case OD_API_FETCH: /* the metadata log's, through the control plane */
    case OD_API_SASL_HANDSHAKE:
    case OD_API_API_VERSIONS:
    case OD_API_CREATE_TOPICS:
    case OD_API_DELETE_TOPICS:
    case OD_API_DESCRIBE_ACLS:
    case OD_API_CREATE_ACLS:
    case OD_API_DELETE_ACLS:
    case OD_API_DESCRIBE_CONFIGS:
    case OD_API_ALTER_CONFIGS:
    case OD_API_SASL_AUTHENTICATE:
    case OD_API_CREATE_PARTITIONS:
    case OD_API_ELECT_LEADERS:
    case OD_API_INCREMENTAL_ALTER_CONFIGS:
    case OD_API_ALTER_PARTITION_REASSIGNMENTS:
    case OD_API_LIST_PARTITION_REASSIGNMENTS:
    case OD_API_DESCRIBE_USER_SCRAM_CREDENTIALS:
    case OD_API_ALTER_USER_SCRAM_CREDENTIALS:
    case OD_API_ALTER_PARTITION:
    case OD_API_ENVELOPE:
    case OD_API_DESCRIBE_CLUSTER:
    case OD_API_BROKER_REGISTRATION:
    case OD_API_BROKER_HEARTBEAT:
    case OD_API_ALLOCATE_PRODUCER_IDS:
        return 1;
    default:
        return 0;
    }
}

/* Request header v1/v2 of a frame the core has no schema for: key, version,
 * correlation id, client id, and the tag section from flex_from on. */
static int read_header(od_slice_t *s, int flex, od_request_header_t *h)
{
    h->api_key = od_read_i16(s);
    h->api_version = od_read_i16(s);
    h->correlation_id = od_read_i32(s);
    h->client_id = od_read_str(s, 1);
    if (flex) {
        uint32_t n = od_read_uvarint(s);
        for (uint32_t i = 0; i < n && !s->err; i++) {
            (void)od_read_uvarint(s);
            od_skip(s, od_read_uvarint(s));
        }
    }
    return s->err ? -1 : 0;
}

static void begin_reply(od_req_t *r, int flex)
{
    r->len_pos = od_wbuf_reserve(&r->resp, 4);
    od_write_i32(&r->resp, r->hdr.correlation_id);
    if (flex)
        od_write_uvarint(&r->resp, 0);
}

static void fill_request(const od_req_t *r, int flex, const char *client_id,
                         od_cp_request_t *out)
{
    memset(out, 0, sizeof(*out));
    out->api_key = r->hdr.api_key;
    out->api_version = r->hdr.api_version;
    out->correlation_id = r->hdr.correlation_id;
    out->client_id = client_id;
    out->flexible_header = flex;
    out->body = r->body.p;
    out->body_len = od_slice_left(&r->body);
    out->peer = r->conn ? r->conn->peer : "";
}

int od_cp_route(od_conn_t *c, const uint8_t *frame, size_t len)
{
    if (len < 4)
        return 0;
    int16_t key = (int16_t)((unsigned)frame[0] << 8 | frame[1]);
    int16_t ver = (int16_t)((unsigned)frame[2] << 8 | frame[3]);
    const od_cp_api_t *a = od_cp_api_for(c, key);
    if (!a)
        return 0;
    int flex = a->flex_from >= 0 && ver >= a->flex_from;
    od_slice_t s;
    od_slice_init(&s, frame, len);
    od_request_header_t h;
    if (read_header(&s, flex, &h) < 0) {
        od_logf(OD_LOG_WARN, "client %s: api %d request header malformed; closing", c->peer, key);
        od_conn_close(c, "bad request header");
        return 1;
    }
    if (od_sasl_gate(c, &h) < 0)
        return 1; /* a SASL listener serves nothing else before authentication */
    if (ver < a->min_version || ver > a->max_version) {
        od_logf(OD_LOG_WARN, "client %s correlation %d: api %d v%d is not supported (%d-%d); "
                "closing", c->peer, h.correlation_id, key, ver, a->min_version, a->max_version);
        od_conn_close(c, "unsupported version");
        return 1;
    }
    od_req_t *r = od_req_new(c);
    if (!r) {
        od_conn_close(c, "out of memory");
        return 1;
    }
    r->hdr = h;
    r->hdr.client_id.len = -1; /* borrowed from the frame; the copy below is the one used */
    r->body = s;
    r->frame_len = len;
    char client_id[256];
    snprintf(client_id, sizeof(client_id), "%.*s", h.client_id.len > 0 ? (int)h.client_id.len : 0,
             h.client_id.len > 0 ? h.client_id.p : "");
    if (od_req_keep_frame(r, frame, len) < 0) {
        od_req_no_response(r);
        od_conn_close(c, "out of memory");
        return 1;
    }
    od_req_account(r);
    begin_reply(r, flex);
    od_cp_request_t req;
    fill_request(r, flex, client_id, &req);
    c->core->cp->handle(c->core->cp_self, &req, (od_cp_reply_t *)r);
    return 1;
}

int od_cp_reply(od_cp_reply_t *reply, const uint8_t *body, size_t len)
{
    od_req_t *r = (od_req_t *)reply;
    od_write_raw(&r->resp, body, len);
    if (r->resp.err) {
        od_req_drop(r);
        return -1;
    }
    od_req_done(r);
    return 0;
}

void od_cp_reply_close(od_cp_reply_t *reply, const char *why)
{
    od_req_t *r = (od_req_t *)reply;
    od_conn_t *c = r->conn;
    if (c)
        od_logf(OD_LOG_WARN, "client %s correlation %d: api %d v%d request: %s; closing", c->peer,
                r->hdr.correlation_id, r->hdr.api_key, r->hdr.api_version, why ? why : "refused");
    od_req_no_response(r);
    if (c)
        od_conn_close(c, "malformed request");
}
