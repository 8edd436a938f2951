/* od_scram_api.c - DescribeUserScramCredentials (50) and
 * AlterUserScramCredentials (51) with Kafka's per-user errors; changes go
 * through the control plane as UserScramCredentialRecord /
 * RemoveUserScramCredentialRecord and are answered once committed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "od_authz.h"
#include "od_core.h"
#include "od_dispatch.h"
#include "od_handlers.h"
#include "od_meta_batch.h"
#include "od_metadata.h"
#include "od_nameset.h"
#include "od_sasl.h"
#include "od_scram_store.h"

static int str_eq(od_str_t a, od_str_t b)
{
    return a.len == b.len && (a.len <= 0 || memcmp(a.p, b.p, (size_t)a.len) == 0);
}

static const char *arena_printf(od_arena_t *a, const char *fmt, const char *arg)
{
    char buf[512];
    snprintf(buf, sizeof(buf), fmt, arg);
    return od_arena_strndup(a, buf, strlen(buf));
}

static char *cstr(od_arena_t *a, od_str_t s)
{
    return od_arena_strndup(a, s.p ? s.p : "", s.len > 0 ? (size_t)s.len : 0);
}

/* ---- DescribeUserScramCredentials ---- */

typedef od_DescribeUserScramCredentialsResponse_DescribeUserScramCredentialsResult_t dresult_t;

static void describe_user(od_req_t *r, dresult_t *o, const char *user)
{
    int32_t it256 = 0, it512 = 0;
    unsigned m = od_scram_store_mechs(r->core, user, &it256, &it512);
    o->user = od_str_c(user);
    o->error_message.len = -1;
    if (!m) {
        o->error_code = OD_ERR_RESOURCE_NOT_FOUND;
        o->error_message = od_str_c(arena_printf(
            &r->arena, "Attempt to describe a user credential that does not exist: %s", user));
        return;
    }
    o->credential_infos = od_arena_calloc(&r->arena, 2, sizeof(*o->credential_infos));
    if (!o->credential_infos)
        return;
    if (m & (1u << OD_SCRAM_SHA_256)) {
        o->credential_infos[o->credential_infos_count].mechanism = OD_SCRAM_SHA_256;
        o->credential_infos[o->credential_infos_count++].iterations = it256;
    }
    if (m & (1u << OD_SCRAM_SHA_512)) {
        o->credential_infos[o->credential_infos_count].mechanism = OD_SCRAM_SHA_512;
        o->credential_infos[o->credential_infos_count++].iterations = it512;
    }
}

void od_h_describe_user_scram_credentials(od_req_t *r, void *body)
{
    od_DescribeUserScramCredentialsRequest_t *req = body;
    od_DescribeUserScramCredentialsResponse_t resp;
    od_DescribeUserScramCredentialsResponse_init(&resp);
    resp.error_message.len = -1;
    size_t n = 0;
    if (!od_authz_cluster(r, OD_ACL_OP_DESCRIBE)) { /* Kafka: DESCRIBE on the cluster */
        resp.error_code = OD_ERR_CLUSTER_AUTHORIZATION_FAILED;
        resp.results_count = 0;
        od_DescribeUserScramCredentialsResponse_encode(&r->resp, r->hdr.api_version, &resp);
        od_req_done(r);
        return;
    }
    if (req->users_count <= 0) { /* null or empty: every user with a credential */
        while (od_scram_store_user_at(r->core, n))
            n++;
    } else {
        n = (size_t)req->users_count;
    }
    resp.results = od_arena_calloc(&r->arena, n ? n : 1, sizeof(*resp.results));
    od_nameset_t names = {0};
    if (!resp.results || od_nameset_init(&names, req->users_count > 0 ? n : 1) < 0) {
        od_req_drop(r);
        return;
    }
    for (int32_t i = 0; i < req->users_count; i++) /* duplicates in O(n) */
        od_nameset_add(&names, req->users[i].name.p ? req->users[i].name.p : "",
                       req->users[i].name.len > 0 ? (size_t)req->users[i].name.len : 0);
    for (size_t i = 0; i < n; i++) {
        dresult_t *o = &resp.results[resp.results_count++];
        if (req->users_count <= 0) {
            describe_user(r, o, od_scram_store_user_at(r->core, i));
            continue;
        }
        od_str_t name = req->users[i].name;
        char *user = cstr(&r->arena, name);
        int dup = od_nameset_count(&names, name.p ? name.p : "",
                                   name.len > 0 ? (size_t)name.len : 0) > 1;
        if (!user) {
            od_nameset_free(&names);
            od_req_drop(r);
            return;
        }
        if (dup) {
            o->user = od_str_c(user);
            o->error_code = OD_ERR_DUPLICATE_RESOURCE;
            o->error_message = od_str_c(arena_printf(
                &r->arena,
                "Cannot describe SCRAM credentials for the same user twice in a single request: %s",
                user));
            continue;
        }
        describe_user(r, o, user);
    }
    od_nameset_free(&names);
    od_DescribeUserScramCredentialsResponse_encode(&r->resp, r->hdr.api_version, &resp);
    od_req_done(r);
}

/* ---- AlterUserScramCredentials ---- */

typedef od_AlterUserScramCredentialsResponse_AlterUserScramCredentialsResult_t aresult_t;

typedef struct alter_wait {
    od_req_t *r;
    od_AlterUserScramCredentialsResponse_t resp;
    int *proposed; /* per result: its records are in the proposal */
} alter_wait_t;

/* The result of each user, found through an open-addressing table of
 * result indexes (a request of n alterations costs O(n), not O(n^2)). */
typedef struct user_index {
    int32_t *slot; /* result index + 1; 0: empty */
    size_t mask;
} user_index_t;

static aresult_t *result_for(od_req_t *r, od_AlterUserScramCredentialsResponse_t *resp,
                             user_index_t *ix, od_str_t user)
{
    size_t len = user.len > 0 ? (size_t)user.len : 0;
    for (size_t h = (size_t)od_hash_bytes(user.p ? user.p : "", len) & ix->mask;;
         h = (h + 1) & ix->mask) {
        if (ix->slot[h] == 0) {
            aresult_t *o = &resp->results[resp->results_count];
            ix->slot[h] = ++resp->results_count;
            o->user = od_str_c(cstr(&r->arena, user));
            o->error_message.len = -1;
            return o;
        }
        aresult_t *o = &resp->results[ix->slot[h] - 1];
        if (str_eq(o->user, user) || (len == 0 && o->user.len <= 0))
            return o;
    }
}

static void set_error(od_req_t *r, aresult_t *o, int16_t code, const char *msg)
{
    if (o->error_code != OD_ERR_NONE)
        return; /* the first problem of a user is the one reported */
    o->error_code = code;
    o->error_message = od_str_c(od_arena_strndup(&r->arena, msg, strlen(msg)));
}

static void alter_answer(alter_wait_t *w)
{
    od_req_t *r = w->r;
    for (int32_t i = 0; i < w->resp.results_count; i++) {
        aresult_t *o = &w->resp.results[i];
        if (o->error_code == OD_ERR_CLUSTER_AUTHORIZATION_FAILED)
            continue; /* the denial is in the audit log already */
        od_audit_admin(r, "ALTER_USER_SCRAM_CREDENTIALS", OD_RES_USER, o->user.p,
                       o->user.len > 0 ? (size_t)o->user.len : 0, o->error_code,
                       o->error_message.len > 0 ? o->error_message.p : NULL);
    }
    od_AlterUserScramCredentialsResponse_encode(&r->resp, r->hdr.api_version, &w->resp);
    od_req_done(r);
    free(w->proposed);
    free(w);
}

static void alter_committed(void *arg, int16_t code, const char *msg)
{
    alter_wait_t *w = arg;
    for (int32_t i = 0; code != OD_ERR_NONE && i < w->resp.results_count; i++)
        if (w->proposed[i])
            set_error(w->r, &w->resp.results[i], code,
                      msg && msg[0] ? msg : "the change was not committed");
    alter_answer(w);
}

/* Checks of one upsertion (Kafka's ScramControlManager); NULL when fine. */
typedef od_AlterUserScramCredentialsRequest_ScramCredentialUpsertion_t upsertion_t;

static const char *upsertion_problem(const upsertion_t *u, int16_t *code)
{
    *code = OD_ERR_UNACCEPTABLE_CREDENTIAL;
    if (u->name.len <= 0)
        return "Username must not be empty";
    if (!od_scram_key_len(u->mechanism)) {
        *code = OD_ERR_UNSUPPORTED_SASL_MECHANISM;
        return "Unknown SCRAM mechanism";
    }
    if (u->iterations < OD_SCRAM_MIN_ITERATIONS)
        return "Too few iterations";
    if (u->iterations > OD_SCRAM_MAX_ITERATIONS)
        return "Too many iterations";
    if (u->salt.len <= 0 || (size_t)u->salt.len > sizeof(((od_scram_cred_t *)0)->salt))
        return "The salt must be 1 to 64 bytes";
    if (u->salted_password.len != (int32_t)od_scram_key_len(u->mechanism))
        return "The salted password does not have the mechanism's hash length";
    return NULL;
}

/* Item i of the request: the deletions first, then the upsertions. */
static void item_at(const od_AlterUserScramCredentialsRequest_t *req, size_t ndel, size_t i,
                    int *is_del, size_t *k, od_str_t *name, int8_t *mech)
{
    *is_del = i < ndel;
    *k = *is_del ? i : i - ndel;
    *name = *is_del ? req->deletions[*k].name : req->upsertions[*k].name;
    *mech = *is_del ? req->deletions[*k].mechanism : req->upsertions[*k].mechanism;
}

void od_h_alter_user_scram_credentials(od_req_t *r, void *body)
{
    od_AlterUserScramCredentialsRequest_t *req = body;
    od_core_t *core = r->core;
    size_t ndel = (size_t)(req->deletions_count > 0 ? req->deletions_count : 0);
    size_t total = ndel + (size_t)(req->upsertions_count > 0 ? req->upsertions_count : 0);
    alter_wait_t *w = calloc(1, sizeof(*w));
    if (w)
        w->proposed = calloc(total ? total : 1, sizeof(int));
    if (!w || !w->proposed) {
        if (w)
            free(w->proposed);
        free(w);
        od_req_drop(r);
        return;
    }
    w->r = r;
    od_AlterUserScramCredentialsResponse_init(&w->resp);
    w->resp.results = od_arena_calloc(&r->arena, total ? total : 1, sizeof(aresult_t));
    if (!w->resp.results) {
        free(w->proposed);
        free(w);
        od_req_drop(r);
        return;
    }
    int allowed = od_authz_cluster(r, OD_ACL_OP_ALTER); /* Kafka: ALTER on the cluster */
    if (total > OD_MAX_RECORDS_PER_USER_OP) {
        /* Kafka's controller refuses such a user operation as a whole. */
        for (size_t i = 0; i < total; i++) {
            int di;
            size_t k;
            od_str_t name;
            int8_t mech;
            item_at(req, ndel, i, &di, &k, &name, &mech);
            if (i < 1 || !str_eq(name, w->resp.results[w->resp.results_count - 1].user)) {
                aresult_t *o = &w->resp.results[w->resp.results_count++];
                o->user = name;
                o->error_code = OD_ERR_POLICY_VIOLATION;
                o->error_message = od_str_c(OD_MSG_TOO_MANY_RECORDS);
            }
        }
        alter_answer(w);
        return;
    }
    user_index_t ix = {0};
    size_t cap = 16;
    while (cap < 2 * total)
        cap *= 2;
    ix.slot = od_arena_calloc(&r->arena, cap, sizeof(*ix.slot));
    ix.mask = cap - 1;
    od_nameset_t pairs;
    char **keys = od_arena_calloc(&r->arena, total ? total : 1, sizeof(*keys));
    if (!ix.slot || !keys || od_nameset_init(&pairs, total ? total : 1) < 0) {
        free(w->proposed);
        free(w);
        od_req_drop(r);
        return;
    }
    /* Every (user, mechanism) at most once in the whole request: count the
     * pairs first, as "<mechanism byte><user>". */
    for (size_t i = 0; i < total; i++) {
        int di;
        size_t k;
        od_str_t name;
        int8_t mech;
        item_at(req, ndel, i, &di, &k, &name, &mech);
        size_t nl = name.len > 0 ? (size_t)name.len : 0;
        keys[i] = od_arena_calloc(&r->arena, nl + 1, 1);
        if (keys[i]) {
            keys[i][0] = (char)mech;
            if (nl)
                memcpy(keys[i] + 1, name.p, nl);
            od_nameset_add(&pairs, keys[i], nl + 1);
        }
    }
    for (size_t i = 0; i < total; i++) {
        int di;
        size_t k;
        od_str_t name;
        int8_t mech;
        item_at(req, ndel, i, &di, &k, &name, &mech);
        aresult_t *o = result_for(r, &w->resp, &ix, name);
        size_t nl = name.len > 0 ? (size_t)name.len : 0;
        if (!allowed)
            set_error(r, o, OD_ERR_CLUSTER_AUTHORIZATION_FAILED, "Cluster authorization failed.");
        if (!keys[i] || od_nameset_count(&pairs, keys[i], nl + 1) > 1)
            set_error(r, o, OD_ERR_DUPLICATE_RESOURCE,
                      "A user credential cannot be altered twice in the same request");
        if (di) {
            char *user = cstr(&r->arena, name);
            od_scram_cred_t c;
            if (name.len <= 0)
                set_error(r, o, OD_ERR_UNACCEPTABLE_CREDENTIAL, "Username must not be empty");
            else if (!od_scram_key_len(mech))
                set_error(r, o, OD_ERR_UNSUPPORTED_SASL_MECHANISM, "Unknown SCRAM mechanism");
            else if (!user || od_scram_credential_get(core, user, mech, &c) != OD_OK)
                set_error(r, o, OD_ERR_RESOURCE_NOT_FOUND,
                          "Attempt to delete a user credential that does not exist");
            OPENSSL_cleanse(&c, sizeof(c));
        } else {
            int16_t code;
            const char *why = upsertion_problem(&req->upsertions[k], &code);
            if (why)
                set_error(r, o, code, why);
        }
    }
    /* Users without an error go into one proposal; the rest are answered as
     * they are (Kafka applies each user's changes or none of them). */
    od_meta_batch_t batch = {0};
    int oom = 0;
    od_nameset_free(&pairs);
    for (size_t i = 0; i < total && !oom; i++) {
        int di;
        size_t k;
        od_str_t name;
        int8_t mech;
        item_at(req, ndel, i, &di, &k, &name, &mech);
        aresult_t *o = result_for(r, &w->resp, &ix, name);
        if (o->error_code != OD_ERR_NONE)
            continue;
        w->proposed[o - w->resp.results] = 1;
        if (di) {
            od_RemoveUserScramCredentialRecord_t rr;
            od_RemoveUserScramCredentialRecord_init(&rr);
            rr.name = name;
            rr.mechanism = req->deletions[k].mechanism;
            od_wbuf_t *wb = od_meta_batch_add(&batch, OD_METAREC_REMOVE_USER_SCRAM_CREDENTIAL, 0);
            if (wb)
                od_RemoveUserScramCredentialRecord_encode(wb, 0, &rr);
        } else {
            const upsertion_t *u = &req->upsertions[k];
            uint8_t stored[OD_SCRAM_MAX_KEY], server[OD_SCRAM_MAX_KEY];
            if (od_scram_keys(u->mechanism, u->salted_password.p, stored, server) < 0) {
                oom = 1;
                break;
            }
            size_t kl = od_scram_key_len(u->mechanism);
            od_UserScramCredentialRecord_t ur;
            od_UserScramCredentialRecord_init(&ur);
            ur.name = name;
            ur.mechanism = u->mechanism;
            ur.salt = u->salt;
            ur.stored_key.p = stored;
            ur.stored_key.len = (int32_t)kl;
            ur.server_key.p = server;
            ur.server_key.len = (int32_t)kl;
            ur.iterations = u->iterations;
            od_wbuf_t *wb = od_meta_batch_add(&batch, OD_METAREC_USER_SCRAM_CREDENTIAL, 0);
            if (wb)
                od_UserScramCredentialRecord_encode(wb, 0, &ur);
            OPENSSL_cleanse(stored, sizeof(stored));
            OPENSSL_cleanse(server, sizeof(server));
        }
        oom = batch.oom;
    }
    if (batch.n == 0 && !oom) {
        alter_answer(w);
        return;
    }
    char err[256] = "";
    if (oom)
        od_meta_batch_free(&batch);
    if (oom || od_meta_propose(core, &batch, alter_committed, w, err, sizeof(err)) < 0)
        alter_committed(w, OD_ERR_UNKNOWN_SERVER_ERROR, oom ? "out of memory" : err);
}
