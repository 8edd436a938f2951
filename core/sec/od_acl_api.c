/* od_acl_api.c - CreateAcls, DescribeAcls, DeleteAcls (KIP-140): checks
 * with Kafka's errors, then records proposed to the control plane; the
 * answer goes out once they are committed (applied to the image and so
 * handed to the authorizer). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_acl.h"
#include "od_acls.h"
#include "od_authz.h"
#include "od_core.h"
#include "od_dispatch.h"
#include "od_ext.h"
#include "od_handlers.h"

#define MSG_NO_AUTHORIZER "No Authorizer is configured."

static od_str_t arena_msg(od_req_t *r, const char *msg)
{
    return od_str_c(msg ? od_arena_strndup(&r->arena, msg, strlen(msg)) : NULL);
}

/* A NUL-terminated copy of a wire string; NULL for null. */
static const char *cstr(od_req_t *r, od_str_t s, int *oom)
{
    if (s.len < 0)
        return NULL;
    char *c = od_arena_strndup(&r->arena, s.p ? s.p : "", (size_t)s.len);
    if (!c)
        *oom = 1;
    return c;
}

/* What od_audit_admin records about a binding besides its resource. */
static void binding_detail(const od_acl_t *a, char *out, size_t n)
{
    snprintf(out, n, "%s %s %s from host %s on %s pattern", a->principal ? a->principal : "*",
             od_acl_perm_name(a->permission), od_acl_op_name(a->operation),
             a->host ? a->host : "*", od_acl_pattern_name(a->pattern_type));
}

static void audit_binding(od_req_t *r, const char *change, const od_acl_t *a, int16_t code)
{
    char det[512];
    binding_detail(a, det, sizeof(det));
    const char *name = a->resource_name ? a->resource_name : "";
    od_audit_admin(r, change, a->resource_type, name, strlen(name), code, det);
}

/* Kafka's answer before any binding is looked at: SECURITY_DISABLED without
 * an authorizer, CLUSTER_AUTHORIZATION_FAILED without op on the cluster. */
static int16_t gate(od_req_t *r, int op, const char **msg)
{
    if (!od_authz_enabled(r->core)) {
        *msg = MSG_NO_AUTHORIZER;
        return OD_ERR_SECURITY_DISABLED;
    }
    if (!od_authz_cluster(r, op)) {
        *msg = NULL;
        return OD_ERR_CLUSTER_AUTHORIZATION_FAILED;
    }
    return OD_ERR_NONE;
}

/* ---- CreateAcls ---- */

typedef struct create_state {
    od_req_t *r;
    od_CreateAclsResponse_t resp;
    od_acl_t *acls; /* the bindings proposed, */
    int32_t *slot;  /* each one's result index */
    size_t n;
} create_state_t;

static void create_done(void *arg, int16_t code, const char *msg)
{
    create_state_t *st = arg;
    od_req_t *r = st->r;
    for (size_t i = 0; i < st->n; i++) {
        od_CreateAclsResponse_AclCreationResult_t *o = &st->resp.results[st->slot[i]];
        o->error_code = code;
        o->error_message = code ? arena_msg(r, msg ? msg : od_err_name(code)) : od_str_c(NULL);
        audit_binding(r, "CREATE_ACLS", &st->acls[i], code);
    }
    if (r->conn)
        od_CreateAclsResponse_encode(&r->resp, r->hdr.api_version, &st->resp);
    od_req_done(r);
}

void od_h_create_acls(od_req_t *r, void *body)
{
    od_CreateAclsRequest_t *req = body;
    int32_t n = req->creations_count > 0 ? req->creations_count : 0;
    create_state_t *st = od_arena_calloc(&r->arena, 1, sizeof(*st));
    od_CreateAclsResponse_AclCreationResult_t *res =
        od_arena_calloc(&r->arena, n ? (size_t)n : 1, sizeof(*res));
    od_acl_t *acls = od_arena_calloc(&r->arena, n ? (size_t)n : 1, sizeof(*acls));
    int32_t *slot = od_arena_calloc(&r->arena, n ? (size_t)n : 1, sizeof(*slot));
    if (!st || !res || !acls || !slot) {
        od_req_drop(r);
        return;
    }
    st->r = r;
    od_CreateAclsResponse_init(&st->resp);
    st->resp.results = res;
    st->resp.results_count = n;
    st->acls = acls;
    st->slot = slot;
    const char *msg = NULL;
    int16_t all = gate(r, OD_ACL_OP_ALTER, &msg);
    int oom = 0;
    for (int32_t i = 0; i < n; i++) {
        const od_CreateAclsRequest_AclCreation_t *c = &req->creations[i];
        res[i].error_message = od_str_c(NULL);
        if (all != OD_ERR_NONE) {
            res[i].error_code = all;
            res[i].error_message = od_str_c(msg);
            continue;
        }
        od_acl_t a = {sizeof(a), c->resource_type, cstr(r, c->resource_name, &oom),
                      r->hdr.api_version >= 1 ? c->resource_pattern_type : OD_PATTERN_LITERAL,
                      cstr(r, c->principal, &oom), cstr(r, c->host, &oom), c->operation,
                      c->permission_type};
        char why[300];
        if (oom) {
            od_req_drop(r);
            return;
        }
        if (od_acl_check_binding(&a, why, sizeof(why)) < 0) {
            res[i].error_code = OD_ERR_INVALID_REQUEST;
            res[i].error_message = arena_msg(r, why);
            audit_binding(r, "CREATE_ACLS", &a, OD_ERR_INVALID_REQUEST);
            continue;
        }
        char reason[256] = "";
        od_ev_admin_t ev = {sizeof(ev), NULL /* od_admin_check fills it */, OD_ADMIN_CREATE_ACLS,
                            a.resource_type, a.resource_name, -1, -1, NULL, 0, &acls[st->n],
                            reason, sizeof(reason)};
        acls[st->n] = a;
        if (od_admin_check(r, &ev) == OD_DENY) {
            res[i].error_code = OD_ERR_POLICY_VIOLATION;
            res[i].error_message = arena_msg(r, *reason ? reason : "refused by policy");
            audit_binding(r, "CREATE_ACLS", &a, OD_ERR_POLICY_VIOLATION);
            continue;
        }
        slot[st->n++] = i;
    }
    char err[256];
    if (od_acls_propose_add(r->core, st->acls, st->n, create_done, st, err, sizeof(err)) < 0)
        create_done(st, OD_ERR_UNKNOWN_SERVER_ERROR, err);
}

/* ---- DescribeAcls ---- */

static int by_resource(const void *a, const void *b)
{
    const od_acl_t *x = *(const od_acl_t *const *)a, *y = *(const od_acl_t *const *)b;
    if (x->resource_type != y->resource_type)
        return x->resource_type - y->resource_type;
    if (x->pattern_type != y->pattern_type)
        return x->pattern_type - y->pattern_type;
    return strcmp(x->resource_name, y->resource_name);
}

static int same_resource(const od_acl_t *x, const od_acl_t *y)
{
    return x->resource_type == y->resource_type && x->pattern_type == y->pattern_type &&
           strcmp(x->resource_name, y->resource_name) == 0;
}

/* The matching bindings grouped by resource, as DescribeAcls answers. */
static int describe_matches(od_req_t *r, const od_acl_t *f, od_DescribeAclsResponse_t *resp)
{
    od_image_t *img = &r->core->image;
    size_t total = od_acls_count(img), n = 0;
    const od_acl_t **m = malloc((total ? total : 1) * sizeof(*m));
    if (!m)
        return -1;
    for (const od_acl_entry_t *e = od_acls_next(img, NULL); e; e = od_acls_next(img, e))
        if (od_acl_filter_matches(f, &e->acl))
            m[n++] = &e->acl;
    qsort(m, n, sizeof(*m), by_resource);
    size_t nres = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || !same_resource(m[i - 1], m[i]))
            nres++;
    od_DescribeAclsResponse_DescribeAclsResource_t *res =
        od_arena_calloc(&r->arena, nres ? nres : 1, sizeof(*res));
    od_DescribeAclsResponse_AclDescription_t *d = od_arena_calloc(&r->arena, n ? n : 1, sizeof(*d));
    if (!res || !d) {
        free(m);
        return -1;
    }
    int32_t k = -1;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || !same_resource(m[i - 1], m[i])) {
            k++;
            res[k].resource_type = (int8_t)m[i]->resource_type;
            res[k].resource_name = od_str_c(m[i]->resource_name);
            res[k].pattern_type = (int8_t)m[i]->pattern_type;
            res[k].acls = &d[i];
        }
        res[k].acls_count++;
        d[i].principal = od_str_c(m[i]->principal);
        d[i].host = od_str_c(m[i]->host);
        d[i].operation = (int8_t)m[i]->operation;
        d[i].permission_type = (int8_t)m[i]->permission;
    }
    resp->resources = res;
    resp->resources_count = (int32_t)nres;
    free(m);
    return 0;
}

void od_h_describe_acls(od_req_t *r, void *body)
{
    od_DescribeAclsRequest_t *req = body;
    od_DescribeAclsResponse_t resp;
    od_DescribeAclsResponse_init(&resp);
    resp.resources_count = 0;
    const char *msg = NULL;
    int oom = 0;
    od_acl_t f = {sizeof(f), req->resource_type_filter, cstr(r, req->resource_name_filter, &oom),
                  r->hdr.api_version >= 1 ? req->pattern_type_filter : OD_PATTERN_LITERAL,
                  cstr(r, req->principal_filter, &oom), cstr(r, req->host_filter, &oom),
                  req->operation, req->permission_type};
    char why[256];
    if (oom) {
        od_req_drop(r);
        return;
    }
    resp.error_code = gate(r, OD_ACL_OP_DESCRIBE, &msg);
    if (resp.error_code == OD_ERR_NONE && od_acl_check_filter(&f, why, sizeof(why)) < 0) {
        resp.error_code = OD_ERR_INVALID_REQUEST;
        msg = why;
    }
    if (resp.error_code == OD_ERR_NONE && describe_matches(r, &f, &resp) < 0) {
        od_req_drop(r);
        return;
    }
    resp.error_message = arena_msg(r, msg);
    od_DescribeAclsResponse_encode(&r->resp, r->hdr.api_version, &resp);
    od_req_done(r);
}

/* ---- DeleteAcls ---- */

typedef od_DeleteAclsResponse_DeleteAclsMatchingAcl_t matching_t;

typedef struct delete_state {
    od_req_t *r;
    od_DeleteAclsResponse_t resp;
} delete_state_t;

static void delete_done(void *arg, int16_t code, const char *msg)
{
    delete_state_t *st = arg;
    od_req_t *r = st->r;
    for (int32_t i = 0; i < st->resp.filter_results_count; i++) {
        od_DeleteAclsResponse_DeleteAclsFilterResult_t *fr = &st->resp.filter_results[i];
        for (int32_t j = 0; j < fr->matching_acls_count; j++) {
            matching_t *m = &fr->matching_acls[j];
            m->error_code = code;
            m->error_message = code ? arena_msg(r, msg ? msg : od_err_name(code)) : od_str_c(NULL);
            od_acl_t a = {sizeof(a), m->resource_type, m->resource_name.p, m->pattern_type,
                          m->principal.p, m->host.p, m->operation, m->permission_type};
            audit_binding(r, "DELETE_ACLS", &a, code);
        }
    }
    if (r->conn)
        od_DeleteAclsResponse_encode(&r->resp, r->hdr.api_version, &st->resp);
    od_req_done(r);
}

/* The bindings filter f matches, into fr; their ids (each once per request)
 * appended to ids. */
static int delete_matches(od_req_t *r, const od_acl_t *f,
                          od_DeleteAclsResponse_DeleteAclsFilterResult_t *fr, uint8_t (*ids)[16],
                          size_t *nids, uint8_t *taken, size_t total)
{
    od_image_t *img = &r->core->image;
    size_t n = 0, k = 0;
    for (const od_acl_entry_t *e = od_acls_next(img, NULL); e; e = od_acls_next(img, e))
        n += od_acl_filter_matches(f, &e->acl) != 0;
    matching_t *m = od_arena_calloc(&r->arena, n ? n : 1, sizeof(*m));
    if (!m)
        return -1;
    size_t idx = 0;
    for (const od_acl_entry_t *e = od_acls_next(img, NULL); e && idx < total;
         e = od_acls_next(img, e), idx++) {
        if (!od_acl_filter_matches(f, &e->acl))
            continue;
        m[k].resource_type = (int8_t)e->acl.resource_type;
        /* Copies: the answer goes out after the bindings left the image. */
        m[k].resource_name = arena_msg(r, e->acl.resource_name);
        m[k].pattern_type = (int8_t)e->acl.pattern_type;
        m[k].principal = arena_msg(r, e->acl.principal);
        m[k].host = arena_msg(r, e->acl.host);
        if (!m[k].resource_name.p || !m[k].principal.p || !m[k].host.p)
            return -1;
        m[k].operation = (int8_t)e->acl.operation;
        m[k].permission_type = (int8_t)e->acl.permission;
        m[k].error_message = od_str_c(NULL);
        k++;
        if (!taken[idx]) {
            taken[idx] = 1;
            memcpy(ids[(*nids)++], e->id, 16);
        }
    }
    fr->matching_acls = m;
    fr->matching_acls_count = (int32_t)k;
    return 0;
}

void od_h_delete_acls(od_req_t *r, void *body)
{
    od_DeleteAclsRequest_t *req = body;
    int32_t n = req->filters_count > 0 ? req->filters_count : 0;
    size_t total = od_acls_count(&r->core->image);
    delete_state_t *st = od_arena_calloc(&r->arena, 1, sizeof(*st));
    od_DeleteAclsResponse_DeleteAclsFilterResult_t *frs =
        od_arena_calloc(&r->arena, n ? (size_t)n : 1, sizeof(*frs));
    uint8_t (*ids)[16] = od_arena_calloc(&r->arena, total ? total : 1, 16);
    uint8_t *taken = od_arena_calloc(&r->arena, total ? total : 1, 1);
    if (!st || !frs || !ids || !taken) {
        od_req_drop(r);
        return;
    }
    st->r = r;
    od_DeleteAclsResponse_init(&st->resp);
    st->resp.filter_results = frs;
    st->resp.filter_results_count = n;
    const char *msg = NULL;
    int16_t all = gate(r, OD_ACL_OP_ALTER, &msg);
    size_t nids = 0;
    int oom = 0;
    for (int32_t i = 0; i < n; i++) {
        const od_DeleteAclsRequest_DeleteAclsFilter_t *q = &req->filters[i];
        frs[i].error_message = od_str_c(NULL);
        if (all != OD_ERR_NONE) {
            frs[i].error_code = all;
            frs[i].error_message = od_str_c(msg);
            continue;
        }
        od_acl_t f = {sizeof(f), q->resource_type_filter, cstr(r, q->resource_name_filter, &oom),
                      r->hdr.api_version >= 1 ? q->pattern_type_filter : OD_PATTERN_LITERAL,
                      cstr(r, q->principal_filter, &oom), cstr(r, q->host_filter, &oom),
                      q->operation, q->permission_type};
        char why[256];
        if (oom) {
            od_req_drop(r);
            return;
        }
        if (od_acl_check_filter(&f, why, sizeof(why)) < 0) {
            frs[i].error_code = OD_ERR_INVALID_REQUEST;
            frs[i].error_message = arena_msg(r, why);
            continue;
        }
        char reason[256] = "";
        od_ev_admin_t ev = {sizeof(ev), NULL /* od_admin_check fills it */, OD_ADMIN_DELETE_ACLS,
                            f.resource_type, f.resource_name, -1, -1, NULL, 0, &f, reason,
                            sizeof(reason)};
        if (od_admin_check(r, &ev) == OD_DENY) {
            frs[i].error_code = OD_ERR_POLICY_VIOLATION;
            frs[i].error_message = arena_msg(r, *reason ? reason : "refused by policy");
            continue;
        }
        if (delete_matches(r, &f, &frs[i], ids, &nids, taken, total) < 0) {
            od_req_drop(r);
            return;
        }
    }
    char err[256];
    if (od_acls_propose_remove(r->core, (const uint8_t(*)[16])ids, nids, delete_done, st, err,
                               sizeof(err)) < 0)
        delete_done(st, OD_ERR_UNKNOWN_SERVER_ERROR, err);
}
