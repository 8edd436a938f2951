/* od_h_groups.c - FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
 * LeaveGroup, DescribeGroups, ListGroups, DeleteGroups: decoding and
 * encoding around the state machine of od_group_join.c. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "od_authz.h"
#include "od_core.h"
#include "od_dispatch.h"
#include "od_ext.h"
#include "od_group.h"
#include "od_handlers.h"
#include "od_net.h"

/* "/host" as Kafka reports a member's client host. */
static const char *client_host(od_req_t *r, char *out, size_t n)
{
    const char *peer = r->conn ? r->conn->peer : "";
    const char *colon = strrchr(peer, ':');
    size_t len = colon ? (size_t)(colon - peer) : strlen(peer);
    if (len >= 2 && peer[0] == '[' && peer[len - 1] == ']') {
        peer++;
        len -= 2;
    }
    snprintf(out, n, "/%.*s", (int)len, peer);
    return out;
}

static const od_endpoint_t *endpoint_of(od_core_t *core, od_req_t *r, int32_t node)
{
    const od_broker_reg_t *b = od_image_broker(&core->image, node);
    const char *lname = r->conn && r->conn->listener ? r->conn->listener->spec.name : "PLAINTEXT";
    if (!b || b->fenced)
        return NULL;
    for (size_t j = 0; j < b->nendpoints; j++)
        if (strcmp(b->endpoints[j].name, lname) == 0)
            return &b->endpoints[j];
    return NULL;
}

/* ---- FindCoordinator ---- */

static void find_one(od_core_t *core, od_req_t *r, od_str_t key, int8_t type, int16_t *ec,
                     int32_t *node, od_str_t *host, int32_t *port, od_str_t *msg)
{
    *node = -1;
    *host = od_str_c("");
    *port = -1;
    *msg = od_str_c(NULL);
    if (type == 0 && !od_authz_group(r, OD_ACL_OP_DESCRIBE, key.p, OD_STR_LEN(key))) {
        *ec = OD_ERR_GROUP_AUTHORIZATION_FAILED;
    } else if (type == 1 && !od_authz_txn(r, OD_ACL_OP_DESCRIBE, key.p, OD_STR_LEN(key))) {
        *ec = OD_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    } else if (type == 1) { /* transactions are not coordinated here yet */
        *ec = OD_ERR_COORDINATOR_NOT_AVAILABLE;
    } else if (type != 0) {
        *ec = OD_ERR_INVALID_REQUEST;
    } else if (key.len < 0) {
        *ec = OD_ERR_INVALID_REQUEST;
    } else {
        int32_t part;
        *ec = od_coord_check(core->coord, key.p ? key.p : "", (size_t)key.len, &part);
        if (*ec == OD_ERR_NONE || *ec == OD_ERR_NOT_COORDINATOR) {
            od_topic_t *t = od_image_topic(&core->image, OD_GROUP_OFFSETS_TOPIC,
                                           strlen(OD_GROUP_OFFSETS_TOPIC));
            int32_t leader = t ? t->partitions[part]->leader : -1;
            const od_endpoint_t *ep = leader >= 0 ? endpoint_of(core, r, leader) : NULL;
            if (ep) {
                *ec = OD_ERR_NONE;
                *node = leader;
                *host = od_str_c(ep->host);
                *port = ep->port;
            } else {
                *ec = OD_ERR_COORDINATOR_NOT_AVAILABLE;
            }
        }
    }
    if (*ec != OD_ERR_NONE)
        *msg = od_str_c(od_err_name(*ec));
}

void od_h_find_coordinator(od_req_t *r, void *body)
{
    od_core_t *core = r->conn->core;
    od_FindCoordinatorRequest_t *req = body;
    od_FindCoordinatorResponse_t resp;
    od_FindCoordinatorResponse_init(&resp);
    if (r->hdr.api_version >= 4) {
        int32_t n = req->coordinator_keys_count > 0 ? req->coordinator_keys_count : 0;
        resp.coordinators = od_arena_calloc(&r->arena, n ? (size_t)n : 1, sizeof(*resp.coordinators));
        if (!resp.coordinators) {
            od_req_drop(r);
            return;
        }
        resp.coordinators_count = n;
        for (int32_t i = 0; i < n; i++) {
            od_FindCoordinatorResponse_Coordinator_t *c = &resp.coordinators[i];
            c->key = req->coordinator_keys[i];
            find_one(core, r, c->key, req->key_type, &c->error_code, &c->node_id, &c->host,
                     &c->port, &c->error_message);
        }
    } else {
        find_one(core, r, req->key, req->key_type, &resp.error_code, &resp.node_id, &resp.host,
                 &resp.port, &resp.error_message);
    }
    od_FindCoordinatorResponse_encode(&r->resp, r->hdr.api_version, &resp);
    od_req_done(r);
}

/* ---- JoinGroup ---- */

static void join_done(void *ctx, const od_join_result_t *res)
{
    od_req_t *r = ctx;
    if (!r->conn) {
        od_req_done(r);
        return;
    }
    int16_t v = r->hdr.api_version;
    od_JoinGroupResponse_t resp;
    od_JoinGroupResponse_init(&resp);
    resp.error_code = res->error;
    resp.generation_id = res->generation;
    resp.protocol_type = od_str_c(res->protocol_type);
    resp.protocol_name = res->protocol_name || v >= 7 ? od_str_c(res->protocol_name) : od_str_c("");
    resp.leader = od_str_c(res->leader ? res->leader : "");
    resp.member_id = od_str_c(res->member_id ? res->member_id : "");
    resp.skip_assignment = (int8_t)res->skip_assignment;
    const od_group_t *g = res->members_of;
    if (g && g->nmembers) {
        resp.members = od_arena_calloc(&r->arena, g->nmembers, sizeof(*resp.members));
        if (!resp.members) /* the leader must not assign to an empty group */
            resp.error_code = OD_ERR_UNKNOWN_SERVER_ERROR;
        if (resp.members) {
            resp.members_count = (int32_t)g->nmembers;
            for (size_t i = 0; i < g->nmembers; i++) {
                const od_gmember_t *m = g->members[i];
                od_JoinGroupResponse_JoinGroupResponseMember_init(&resp.members[i]);
                resp.members[i].member_id = od_str_c(m->id);
                resp.members[i].group_instance_id = od_str_c(m->instance_id);
                int32_t ml;
                const uint8_t *md = od_gmember_meta(m, g->protocol, &ml);
                resp.members[i].metadata.p = md ? md : (const uint8_t *)"";
                resp.members[i].metadata.len = md ? ml : 0;
            }
        }
    }
    od_JoinGroupResponse_encode(&r->resp, v, &resp);
    od_req_done(r);
}

void od_h_join_group(od_req_t *r, void *body)
{
    od_JoinGroupRequest_t *req = body;
    if (!od_authz_group(r, OD_ACL_OP_READ, req->group_id.p, OD_STR_LEN(req->group_id))) {
        od_join_result_t denied = {.error = OD_ERR_GROUP_AUTHORIZATION_FAILED, .generation = -1};
        join_done(r, &denied);
        return;
    }
    int32_t n = req->protocols_count > 0 ? req->protocols_count : 0;
    od_gproto_in_t *protos = od_arena_calloc(&r->arena, n ? (size_t)n : 1, sizeof(*protos));
    if (!protos) {
        od_req_drop(r);
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        protos[i].name = req->protocols[i].name;
        protos[i].meta = req->protocols[i].metadata;
    }
    char host[80];
    od_join_args_t a = {0};
    a.group_id = req->group_id;
    a.member_id = req->member_id;
    a.instance_id = r->hdr.api_version >= 5 ? req->group_instance_id : od_str_c(NULL);
    a.client_id = r->hdr.client_id.len >= 0 ? r->hdr.client_id : od_str_c("");
    a.client_host = client_host(r, host, sizeof(host));
    a.protocol_type = req->protocol_type;
    a.session_timeout = req->session_timeout_ms;
    /* v0 has no rebalance timeout: the session timeout serves. */
    a.rebalance_timeout = r->hdr.api_version >= 1 && req->rebalance_timeout_ms >= 0
                              ? req->rebalance_timeout_ms
                              : req->session_timeout_ms;
    a.protos = protos;
    a.nprotos = n;
    a.require_known_member_id = r->hdr.api_version >= 4;
    od_group_join(r->conn->core->coord, &a, join_done, r);
}

/* ---- SyncGroup ---- */

static void sync_done(void *ctx, int16_t error, const od_group_t *g, const uint8_t *asg, int32_t alen)
{
    od_req_t *r = ctx;
    if (!r->conn) {
        od_req_done(r);
        return;
    }
    od_SyncGroupResponse_t resp;
    od_SyncGroupResponse_init(&resp);
    resp.error_code = error;
    resp.assignment.p = asg ? asg : (const uint8_t *)"";
    resp.assignment.len = asg ? alen : 0;
    if (g && error == OD_ERR_NONE) {
        resp.protocol_type = od_str_c(g->protocol_type);
        resp.protocol_name = od_str_c(g->protocol);
    }
    od_SyncGroupResponse_encode(&r->resp, r->hdr.api_version, &resp);
    od_req_done(r);
}

void od_h_sync_group(od_req_t *r, void *body)
{
    od_SyncGroupRequest_t *req = body;
    if (!od_authz_group(r, OD_ACL_OP_READ, req->group_id.p, OD_STR_LEN(req->group_id))) {
        sync_done(r, OD_ERR_GROUP_AUTHORIZATION_FAILED, NULL, NULL, 0);
        return;
    }
    int32_t n = req->assignments_count > 0 ? req->assignments_count : 0;
    od_sync_assign_t *asg = od_arena_calloc(&r->arena, n ? (size_t)n : 1, sizeof(*asg));
    if (!asg) {
        od_req_drop(r);
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        asg[i].member_id = req->assignments[i].member_id;
        asg[i].assignment = req->assignments[i].assignment;
    }
    od_str_t none = od_str_c(NULL);
    int16_t v = r->hdr.api_version;
    od_group_sync(r->conn->core->coord, req->group_id, req->generation_id, req->member_id,
                  v >= 3 ? req->group_instance_id : none, v >= 5 ? req->protocol_type : none,
                  v >= 5 ? req->protocol_name : none, asg, n, sync_done, r);
}

/* ---- Heartbeat ---- */

void od_h_heartbeat(od_req_t *r, void *body)
{
    od_HeartbeatRequest_t *req = body;
    od_HeartbeatResponse_t resp;
    od_HeartbeatResponse_init(&resp);
    resp.error_code =
        !od_authz_group(r, OD_ACL_OP_READ, req->group_id.p, OD_STR_LEN(req->group_id))
            ? OD_ERR_GROUP_AUTHORIZATION_FAILED
            : od_group_heartbeat(r->conn->core->coord, req->group_id, req->generation_id,
                                         req->member_id,
                                         r->hdr.api_version >= 3 ? req->group_instance_id
                                                                 : od_str_c(NULL));
    od_HeartbeatResponse_encode(&r->resp, r->hdr.api_version, &resp);
    od_req_done(r);
}

/* ---- LeaveGroup ---- */

void od_h_leave_group(od_req_t *r, void *body)
{
    od_LeaveGroupRequest_t *req = body;
    int16_t v = r->hdr.api_version;
    od_LeaveGroupResponse_t resp;
    od_LeaveGroupResponse_init(&resp);
    od_LeaveGroupRequest_MemberIdentity_t single;
    od_LeaveGroupRequest_MemberIdentity_t *members = req->members;
    int32_t n = req->members_count > 0 ? req->members_count : 0;
    if (v < 3) {
        od_LeaveGroupRequest_MemberIdentity_init(&single);
        single.member_id = req->member_id;
        single.group_instance_id = od_str_c(NULL);
        members = &single;
        n = 1;
    }
    resp.members = od_arena_calloc(&r->arena, n ? (size_t)n : 1, sizeof(*resp.members));
    if (!resp.members) {
        od_req_drop(r);
        return;
    }
    resp.members_count = n;
    int32_t part;
    od_str_t gid = req->group_id;
    od_coord_t *c = r->conn->core->coord;
    int16_t ec = !od_authz_group(r, OD_ACL_OP_READ, gid.p, OD_STR_LEN(gid))
                     ? OD_ERR_GROUP_AUTHORIZATION_FAILED
                 : gid.len <= 0 ? OD_ERR_INVALID_GROUP_ID
                                : od_coord_check(c, gid.p, (size_t)gid.len, &part);
    od_group_t *g = ec == OD_ERR_NONE ? od_group_find(c, gid.p, (size_t)gid.len) : NULL;
    if (g && g->state == OD_GS_DEAD)
        ec = OD_ERR_COORDINATOR_NOT_AVAILABLE;
    if (ec != OD_ERR_NONE) {
        resp.error_code = ec;
        resp.members_count = 0;
    } else {
        for (int32_t i = 0; i < n; i++) {
            od_LeaveGroupResponse_MemberResponse_t *o = &resp.members[i];
            o->member_id = members[i].member_id;
            o->group_instance_id = members[i].group_instance_id;
            /* The group may go away (or reappear) as members leave. */
            g = od_group_find(c, gid.p, (size_t)gid.len);
            o->error_code = g ? od_group_leave(g, members[i].member_id, members[i].group_instance_id)
                              : OD_ERR_UNKNOWN_MEMBER_ID;
            if (v < 3 && o->error_code != OD_ERR_NONE)
                resp.error_code = o->error_code; /* v0-2 carry the member's error */
        }
    }
    od_LeaveGroupResponse_encode(&r->resp, v, &resp);
    od_req_done(r);
}

/* ---- DescribeGroups ---- */

static void describe_one(od_req_t *r, od_str_t gid, int include_ops,
                         od_DescribeGroupsResponse_DescribedGroup_t *o)
{
    od_DescribeGroupsResponse_DescribedGroup_init(o);
    o->group_id = gid;
    o->group_state = od_str_c("");
    o->protocol_type = od_str_c("");
    o->protocol_data = od_str_c("");
    if (!od_authz_group(r, OD_ACL_OP_DESCRIBE, gid.p, OD_STR_LEN(gid))) {
        o->error_code = OD_ERR_GROUP_AUTHORIZATION_FAILED;
        return;
    }
    if (include_ops)
        o->authorized_operations = od_authz_ops_bitmask(r, OD_RES_GROUP, gid.p, OD_STR_LEN(gid));
    int32_t part;
    od_coord_t *c = r->conn->core->coord;
    o->error_code = gid.len < 0 ? OD_ERR_INVALID_GROUP_ID
                                : od_coord_check(c, gid.p ? gid.p : "", (size_t)gid.len, &part);
    if (o->error_code != OD_ERR_NONE)
        return;
    od_group_t *g = od_group_find(c, gid.p ? gid.p : "", (size_t)gid.len);
    if (!g) {
        o->group_state = od_str_c(od_gstate_name(OD_GS_DEAD));
        return;
    }
    int stable = g->state == OD_GS_STABLE;
    o->group_state = od_str_c(od_gstate_name(g->state));
    o->protocol_type = od_str_c(g->protocol_type ? g->protocol_type : "");
    o->protocol_data = od_str_c(stable && g->protocol ? g->protocol : "");
    if (!g->nmembers)
        return;
    o->members = od_arena_calloc(&r->arena, g->nmembers, sizeof(*o->members));
    if (!o->members) { /* an error, never a group that looks empty */
        o->error_code = OD_ERR_UNKNOWN_SERVER_ERROR;
        return;
    }
    o->members_count = (int32_t)g->nmembers;
    for (size_t i = 0; i < g->nmembers; i++) {
        const od_gmember_t *m = g->members[i];
        od_DescribeGroupsResponse_DescribedGroupMember_t *dm = &o->members[i];
        od_DescribeGroupsResponse_DescribedGroupMember_init(dm);
        dm->member_id = od_str_c(m->id);
        dm->group_instance_id = od_str_c(m->instance_id);
        dm->client_id = od_str_c(m->client_id);
        dm->client_host = od_str_c(m->client_host);
        int32_t ml = 0;
        const uint8_t *md = stable ? od_gmember_meta(m, g->protocol, &ml) : NULL;
        dm->member_metadata.p = md ? md : (const uint8_t *)"";
        dm->member_metadata.len = md ? ml : 0;
        dm->member_assignment.p = stable && m->assignment ? m->assignment : (const uint8_t *)"";
        dm->member_assignment.len = stable && m->assignment ? m->assignment_len : 0;
    }
}

void od_h_describe_groups(od_req_t *r, void *body)
{
    od_DescribeGroupsRequest_t *req = body;
    od_DescribeGroupsResponse_t resp;
    od_DescribeGroupsResponse_init(&resp);
    int32_t n = req->groups_count > 0 ? req->groups_count : 0;
    resp.groups = od_arena_calloc(&r->arena, n ? (size_t)n : 1, sizeof(*resp.groups));
    if (!resp.groups) {
        od_req_drop(r);
        return;
    }
    resp.groups_count = n;
    for (int32_t i = 0; i < n; i++)
        describe_one(r, req->groups[i],
                     r->hdr.api_version >= 3 && req->include_authorized_operations,
                     &resp.groups[i]);
    od_DescribeGroupsResponse_encode(&r->resp, r->hdr.api_version, &resp);
    od_req_done(r);
}

/* ---- ListGroups ---- */

static int state_wanted(const od_ListGroupsRequest_t *req, const char *state)
{
    if (req->states_filter_count <= 0)
        return 1;
    for (int32_t i = 0; i < req->states_filter_count; i++) {
        od_str_t f = req->states_filter[i];
        if (f.len >= 0 && strlen(state) == (size_t)f.len && strncasecmp(state, f.p, (size_t)f.len) == 0)
            return 1;
    }
    return 0;
}

void od_h_list_groups(od_req_t *r, void *body)
{
    od_ListGroupsRequest_t *req = body;
    od_ListGroupsResponse_t resp;
    od_ListGroupsResponse_init(&resp);
    od_coord_t *c = r->conn->core->coord;
    size_t n = c ? c->ngroups : 0;
    resp.groups = od_arena_calloc(&r->arena, n ? n : 1, sizeof(*resp.groups));
    if (!resp.groups) {
        od_req_drop(r);
        return;
    }
    /* DESCRIBE on the cluster lists every group; else those it may describe. */
    int every = od_authz_quiet(r, OD_ACL_OP_DESCRIBE, OD_RES_CLUSTER, OD_CLUSTER_RESOURCE,
                               strlen(OD_CLUSTER_RESOURCE));
    for (od_group_t *g = od_group_next(c, NULL); g && (size_t)resp.groups_count < n;
         g = od_group_next(c, g)) {
        const char *st = od_gstate_name(g->state);
        if (r->hdr.api_version >= 4 && !state_wanted(req, st))
            continue;
        if (!every && !od_authz_quiet(r, OD_ACL_OP_DESCRIBE, OD_RES_GROUP, g->id, strlen(g->id)))
            continue;
        od_ListGroupsResponse_ListedGroup_t *o = &resp.groups[resp.groups_count++];
        od_ListGroupsResponse_ListedGroup_init(o);
        o->group_id = od_str_c(g->id);
        o->protocol_type = od_str_c(g->protocol_type ? g->protocol_type : "");
        o->group_state = od_str_c(st);
    }
    od_ListGroupsResponse_encode(&r->resp, r->hdr.api_version, &resp);
    od_req_done(r);
}

/* ---- DeleteGroups ---- */

void od_h_delete_groups(od_req_t *r, void *body)
{
    od_DeleteGroupsRequest_t *req = body;
    od_DeleteGroupsResponse_t resp;
    od_DeleteGroupsResponse_init(&resp);
    int32_t n = req->groups_names_count > 0 ? req->groups_names_count : 0;
    resp.results = od_arena_calloc(&r->arena, n ? (size_t)n : 1, sizeof(*resp.results));
    if (!resp.results) {
        od_req_drop(r);
        return;
    }
    resp.results_count = n;
    for (int32_t i = 0; i < n; i++) {
        od_str_t g = req->groups_names[i];
        resp.results[i].group_id = g;
        if (!od_authz_group(r, OD_ACL_OP_DELETE, g.p, OD_STR_LEN(g))) {
            resp.results[i].error_code = OD_ERR_GROUP_AUTHORIZATION_FAILED;
            continue;
        }
        char *name = g.len >= 0 ? od_arena_strndup(&r->arena, g.p, (size_t)g.len) : NULL;
        od_ev_admin_t pev = {.op = OD_ADMIN_DELETE_GROUPS, .resource_type = OD_RES_GROUP,
                             .resource = name, .partitions = -1, .replication_factor = -1};
        if (!name || !od_admin_refuse(r, &pev, &resp.results[i].error_code, NULL))
            resp.results[i].error_code = od_group_delete(r->conn->core->coord, g);
        od_audit_admin(r, "DELETE_GROUPS", OD_RES_GROUP, g.p, OD_STR_LEN(g),
                       resp.results[i].error_code, NULL);
    }
    od_DeleteGroupsResponse_encode(&r->resp, r->hdr.api_version, &resp);
    od_req_done(r);
}
