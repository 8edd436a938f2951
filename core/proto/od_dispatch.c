/* od_dispatch.c - request header, version checks, handler call. */
#include "od_dispatch.h"

#include <stdio.h>
#include <stdlib.h>

#include "od_core.h"
#include "od_ext.h"
#include "od_cp_route.h"
#include "od_envelope.h"
#include "od_handlers.h"
#include "od_metrics.h"
#include "od_net.h"
#include "od_sasl.h"

/* The APIs this broker serves. Their version ranges are not written here:
 * they come from the .ods schemas in core/proto/schema through the generated
 * od_proto_api() (the versions both request and response schemas cover),
 * so a schema that grows a version is served and advertised in that
 * version without a second edit. `cap` lowers the highest version where a
 * handler does not yet implement all the schema has (-1: no cap). */
#define API(k, f, w, c) {.key = (k), .fn = (f), .may_wait = (w), .cap = (c)}
#define NOCAP (-1)
static od_api_entry_t api_table[] = {
    API(OD_API_PRODUCE, od_h_produce, 0, NOCAP),
    API(OD_API_FETCH, od_h_fetch, 0, NOCAP), /* keeps only its decoded state */
    API(OD_API_LIST_OFFSETS, od_h_list_offsets, 0, NOCAP),
    API(OD_API_METADATA, od_h_metadata, 1, NOCAP),
    API(OD_API_API_VERSIONS, od_h_api_versions, 0, NOCAP),
    API(OD_API_CREATE_TOPICS, od_h_create_topics, 1, NOCAP),
    API(OD_API_DELETE_TOPICS, od_h_delete_topics, 1, NOCAP),
    API(OD_API_DESCRIBE_CONFIGS, od_h_describe_configs, 0, NOCAP),
    API(OD_API_CREATE_PARTITIONS, od_h_create_partitions, 1, NOCAP),
    API(OD_API_DESCRIBE_CLUSTER, od_h_describe_cluster, 0, NOCAP),
    API(OD_API_OFFSET_COMMIT, od_h_offset_commit, 0, NOCAP),
    API(OD_API_OFFSET_FETCH, od_h_offset_fetch, 0, NOCAP),
    API(OD_API_FIND_COORDINATOR, od_h_find_coordinator, 0, NOCAP),
    API(OD_API_JOIN_GROUP, od_h_join_group, 1, NOCAP),
    API(OD_API_HEARTBEAT, od_h_heartbeat, 0, NOCAP),
    API(OD_API_LEAVE_GROUP, od_h_leave_group, 0, NOCAP),
    API(OD_API_SYNC_GROUP, od_h_sync_group, 1, NOCAP),
    API(OD_API_DESCRIBE_GROUPS, od_h_describe_groups, 0, NOCAP),
    API(OD_API_LIST_GROUPS, od_h_list_groups, 0, NOCAP),
    API(OD_API_DELETE_GROUPS, od_h_delete_groups, 0, NOCAP),
    API(OD_API_OFFSET_DELETE, od_h_offset_delete, 0, NOCAP),
    API(OD_API_DELETE_RECORDS, od_h_delete_records, 0, NOCAP),
    API(OD_API_ALTER_CONFIGS, od_h_alter_configs, 1, NOCAP),
    API(OD_API_INCREMENTAL_ALTER_CONFIGS, od_h_incremental_alter_configs, 1, NOCAP),
    API(OD_API_INIT_PRODUCER_ID, od_h_init_producer_id, 1, NOCAP),
    API(OD_API_DESCRIBE_ACLS, od_h_describe_acls, 0, NOCAP),
    API(OD_API_CREATE_ACLS, od_h_create_acls, 1, NOCAP),
    API(OD_API_DELETE_ACLS, od_h_delete_acls, 1, NOCAP),
    API(OD_API_SASL_HANDSHAKE, od_h_sasl_handshake, 0, NOCAP),
    API(OD_API_SASL_AUTHENTICATE, od_h_sasl_authenticate, 0, NOCAP),
    API(OD_API_DESCRIBE_USER_SCRAM_CREDENTIALS, od_h_describe_user_scram_credentials, 0, NOCAP),
    API(OD_API_ALTER_USER_SCRAM_CREDENTIALS, od_h_alter_user_scram_credentials, 1, NOCAP),
    API(OD_API_OFFSET_FOR_LEADER_EPOCH, od_h_offset_for_leader_epoch, 0, NOCAP),
    API(OD_API_ALTER_PARTITION, od_h_alter_partition, 1, NOCAP), /* waits for the commit */
    API(OD_API_ELECT_LEADERS, od_h_elect_leaders, 1, NOCAP),
    API(OD_API_ALTER_PARTITION_REASSIGNMENTS, od_h_alter_partition_reassignments, 1, NOCAP),
    API(OD_API_LIST_PARTITION_REASSIGNMENTS, od_h_list_partition_reassignments, 0, NOCAP),
    API(OD_API_DESCRIBE_LOG_DIRS, od_h_describe_log_dirs, 0, NOCAP),
    API(OD_API_BROKER_REGISTRATION, od_h_broker_registration, 1, NOCAP), /* controllers */
    API(OD_API_BROKER_HEARTBEAT, od_h_broker_heartbeat, 1, NOCAP),
    API(OD_API_ALLOCATE_PRODUCER_IDS, od_h_allocate_producer_ids, 1, NOCAP),
};
#define NAPIS (sizeof(api_table) / sizeof(api_table[0]))

/* Fill min_ver/max_ver from the schemas, once (one loop thread). An entry
 * without a schema keeps max_ver < min_ver: never served, never advertised
 * (t/0120-api-versions.t checks every advertised range against the
 * schemas). */
static void resolve(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    for (size_t i = 0; i < NAPIS; i++) {
        od_api_entry_t *e = &api_table[i];
        const od_proto_api_t *a = od_proto_api(e->key);
        e->min_ver = a ? a->min_ver : 0;
        e->max_ver = a ? a->max_ver : -1;
        if (a && e->cap >= 0 && e->cap < e->max_ver)
            e->max_ver = e->cap;
    }
}

const od_api_entry_t *od_dispatch_api(int16_t key)
{
    resolve();
    for (size_t i = 0; i < NAPIS; i++)
        if (api_table[i].key == key)
            return &api_table[i];
    return NULL;
}

const od_api_entry_t *od_dispatch_api_at(size_t i)
{
    resolve();
    return i < NAPIS ? &api_table[i] : NULL;
}

void od_req_no_response(od_req_t *r)
{
    od_conn_t *c = r->conn;
    if (c) {
        od_req_t **pp = &c->q_head, *prev = NULL;
        for (; *pp; prev = *pp, pp = &(*pp)->next) {
            if (*pp == r) {
                *pp = r->next;
                if (c->q_tail == r)
                    c->q_tail = prev;
                c->nq--;
                break;
            }
        }
    }
    od_req_free(r);
}

/* A request that cannot be answered (no memory for its response) must not
 * leave its client waiting in silence: the connection closes, as Kafka
 * closes it when a request fails outside the protocol's errors. */
void od_req_drop(od_req_t *r)
{
    od_conn_t *c = r->conn;
    if (c && !c->closing && od_proto_api(r->hdr.api_key))
        od_logf(OD_LOG_WARN, "client %s (%.*s) correlation %d: %s v%d could not be answered "
                "(no memory for the response); closing", c->peer,
                r->hdr.client_id.len > 0 ? (int)r->hdr.client_id.len : 0, r->hdr.client_id.p,
                r->hdr.correlation_id, od_proto_api(r->hdr.api_key)->name, r->hdr.api_version);
    od_req_no_response(r);
    if (c)
        od_conn_close(c, "request could not be answered");
}

static void begin_response(od_req_t *r)
{
    r->len_pos = od_wbuf_reserve(&r->resp, 4);
    od_response_header_encode(&r->resp, r->hdr.api_key, r->hdr.api_version,
                              r->hdr.correlation_id);
}

/* OD_EVENT_REQUEST (ABI 1.3): a module may refuse a request; the
 * connection closes, as Kafka does for a request it will not serve. */
static int request_denied(od_conn_t *c, const od_request_header_t *h, size_t len)
{
    if (!od_event_wanted(c->core, OD_EVENT_REQUEST))
        return 0;
    char reason[256] = "";
    od_ev_request_t ev = {sizeof(ev), &c->client, h->api_key, h->api_version, h->correlation_id,
                          len, reason, sizeof(reason)};
    const char *who;
    if (od_event_fire(c->core, OD_EVENT_REQUEST, &ev, &who) != OD_DENY)
        return 0;
    reason[sizeof(reason) - 1] = 0;
    od_logf(OD_LOG_INFO, "client %s (%s) correlation %d: %s v%d denied by module %s: %s; closing",
            c->peer, c->client.principal, h->correlation_id, od_proto_api(h->api_key)->name,
            h->api_version, who, reason[0] ? reason : "no reason given");
    od_conn_close(c, "request denied");
    return 1;
}

void od_dispatch_frame(od_conn_t *c, const uint8_t *frame, size_t len)
{
    if (c->sasl && od_sasl_raw_frame(c, frame, len))
        return; /* a SASL token without a request header (after a v0 handshake) */
    if (od_cp_route(c, frame, len))
        return; /* the control plane's own API (ABI 1.3) */
    od_slice_t s;
    od_slice_init(&s, frame, len);
    od_request_header_t h;
    if (od_request_header_decode(&s, &h) < 0 || !od_slice_ok(&s)) {
        od_logf(OD_LOG_WARN, "client %s: request header too short (%zu bytes); closing", c->peer,
                len);
        od_conn_close(c, "bad request header");
        return;
    }
    od_conn_set_client_id(c, h.client_id.p, h.client_id.len);
    if (h.api_key == OD_API_ENVELOPE) {
        if (od_sasl_gate(c, &h) == 0 && !request_denied(c, &h, len))
            od_envelope_serve(c, &h, frame, len, &s);
        return; /* a forwarded admin request with its client's identity */
    }
    const od_api_entry_t *api = od_dispatch_api(h.api_key);
    if (!api || !od_proto_api(h.api_key)) {
        od_logf(OD_LOG_WARN, "client %s (%.*s) correlation %d: unknown api key %d; closing",
                c->peer, h.client_id.len > 0 ? (int)h.client_id.len : 0, h.client_id.p,
                h.correlation_id, h.api_key);
        od_conn_close(c, "unknown api key");
        return;
    }
    if (!od_listener_serves(c, h.api_key)) {
        /* Kafka: an API the listener does not expose closes the connection. */
        od_logf(OD_LOG_WARN, "client %s correlation %d: %s is not served on controller "
                "listener %s; closing", c->peer, h.correlation_id, od_proto_api(h.api_key)->name,
                c->listener->spec.name);
        od_conn_close(c, "api not served on this listener");
        return;
    }
    if (od_sasl_gate(c, &h) < 0)
        return; /* not served before authentication, or the session expired */
    if (h.api_version < api->min_ver || h.api_version > api->max_ver) {
        if (h.api_key == OD_API_API_VERSIONS) {
            /* Answer in the v0 layout so the client can pick a version. */
            od_req_t *r = od_req_new(c);
            if (!r) {
                od_conn_close(c, "out of memory");
                return;
            }
            r->hdr = h;
            r->hdr.api_version = 0;
            begin_response(r);
            od_h_api_versions(r, NULL);
            return;
        }
        od_logf(OD_LOG_WARN,
                "client %s (%.*s) correlation %d: %s v%d is not supported (%d-%d); closing",
                c->peer, h.client_id.len > 0 ? (int)h.client_id.len : 0, h.client_id.p,
                h.correlation_id, od_proto_api(h.api_key)->name, h.api_version, api->min_ver,
                api->max_ver);
        od_conn_close(c, "unsupported version");
        return;
    }
    if (request_denied(c, &h, len))
        return;
    if (od_cp_forward_maybe(c, &h, frame, len, &s))
        return; /* validated by the active controller */
    od_req_t *r = od_req_new(c);
    if (!r) {
        od_conn_close(c, "out of memory");
        return;
    }
    r->hdr = h;
    od_metrics_api_begin(r);
    r->body = s;
    r->frame_len = len;
    if (api->may_wait && od_req_keep_frame(r, frame, len) < 0) {
        od_req_no_response(r);
        od_conn_close(c, "out of memory");
        return;
    }
    /* The client id borrowed from the frame must not outlive it. */
    r->hdr.client_id.len = r->hdr.client_id.len > 0 ? r->hdr.client_id.len : -1;
    if (r->hdr.client_id.len > 0) {
        char *cid = od_arena_strndup(&r->arena, h.client_id.p, (size_t)h.client_id.len);
        r->hdr.client_id.p = cid;
        if (!cid)
            r->hdr.client_id.len = -1;
    }
    void *body = od_proto_decode_request(h.api_key, h.api_version, &r->body, &r->arena);
    const char *bad = NULL;
    char why[160];
    if (!body && r->arena.over_limit) {
        snprintf(why, sizeof(why), "decoding needs more than %zu bytes of memory "
                 "(socket.request.max.bytes)", r->arena.limit);
        bad = why;
    } else if (!body) {
        bad = "malformed";
    } else if (od_slice_left(&r->body) > 0) {
        /* As Kafka: the fields of the version are read and what follows
         * them is ignored. Real clients send such bytes (librdkafka 2.0's
         * ListGroups v4 and OffsetFetch v7 add a stray tag buffer). */
        od_logf(OD_LOG_DEBUG, "client %s correlation %d: %zu bytes after the %s v%d body ignored",
                c->peer, h.correlation_id, od_slice_left(&r->body), od_proto_api(h.api_key)->name,
                h.api_version);
    }
    if (bad) {
        od_logf(OD_LOG_WARN, "client %s (%.*s) correlation %d: %s v%d request: %s; closing",
                c->peer, r->hdr.client_id.len > 0 ? (int)r->hdr.client_id.len : 0,
                r->hdr.client_id.p, h.correlation_id, od_proto_api(h.api_key)->name,
                h.api_version, bad);
        od_req_no_response(r);
        od_conn_close(c, "malformed request");
        return;
    }
    od_req_account(r); /* the decoded form, and the frame copy if kept */
    begin_response(r);
    api->fn(r, body);
}
