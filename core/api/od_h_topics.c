/* od_h_topics.c - CreateTopics, DeleteTopics, CreatePartitions. Each
 * proposes metadata records and answers once the control plane committed
 * them (at once for a single voter). */
#include <stdio.h>
#include <string.h>

#include "od_authz.h"
#include "od_core.h"
#include "od_dispatch.h"
#include "od_ext.h"
#include "od_handlers.h"
#include "od_nameset.h"
#include "od_placement.h"
#include "od_topic_config.h"
#include "od_topicname.h"

/* A request waiting for several proposals. */
typedef struct pending {
    od_core_t *core;
    od_req_t *r;
    int outstanding;
    int started; /* all proposals issued */
    void (*finish)(struct pending *pd);
    void *resp;
    int validate_only; /* nothing changes: nothing to audit */
} pending_t;

typedef struct slot {
    pending_t *pd;
    int16_t *error_code;
    od_str_t *error_message;
} slot_t;

/* One admin change to the audit log (a denial is logged as it happens). */
static void audit(pending_t *pd, const char *change, od_str_t name, int16_t code, od_str_t msg)
{
    if (pd->validate_only || code == OD_ERR_TOPIC_AUTHORIZATION_FAILED)
        return;
    char detail[300];
    snprintf(detail, sizeof(detail), "%.*s", msg.len > 0 ? (int)msg.len : 0, msg.p ? msg.p : "");
    od_audit_admin(pd->r, change, OD_RES_TOPIC, name.p, OD_STR_LEN(name), code, detail);
}

static void maybe_finish(pending_t *pd)
{
    if (pd->started && pd->outstanding == 0)
        pd->finish(pd);
}

static void slot_done(void *arg, int16_t code, const char *msg)
{
    slot_t *s = arg;
    *s->error_code = code;
    if (code != OD_ERR_NONE && msg && s->error_message)
        *s->error_message = od_str_c(od_arena_strndup(&s->pd->r->arena, msg, strlen(msg)));
    s->pd->outstanding--;
    maybe_finish(s->pd);
}

static void set_error(od_req_t *r, int16_t *ec, od_str_t *em, int16_t code, const char *msg)
{
    *ec = code;
    if (em && msg)
        *em = od_str_c(od_arena_strndup(&r->arena, msg, strlen(msg)));
}

/* The pending state of a request answering n topics: its slots and the
 * response's n results (result_size bytes each, zeroed, into *results).
 * NULL when out of memory: the caller drops the request. */
static pending_t *start(od_req_t *r, void *resp, int32_t n, size_t result_size, void **results,
                        void (*finish)(pending_t *), slot_t **slots)
{
    size_t count = n ? (size_t)n : 1;
    pending_t *pd = od_arena_calloc(&r->arena, 1, sizeof(*pd));
    *slots = od_arena_calloc(&r->arena, count, sizeof(**slots));
    *results = od_arena_calloc(&r->arena, count, result_size);
    if (!pd || !*slots || !*results)
        return NULL;
    pd->core = r->conn->core;
    pd->r = r;
    pd->resp = resp;
    pd->finish = finish;
    return pd;
}

/* Slot i answers a proposal into ec/em; the request waits for it. */
static slot_t *slot_for(pending_t *pd, slot_t *slots, int32_t i, int16_t *ec, od_str_t *em)
{
    slots[i] = (slot_t){pd, ec, em};
    pd->outstanding++;
    return &slots[i];
}

/* After proposing through slot s: rc < 0 (-code, or -1) means it was not
 * proposed and will not answer, so the error is the result now. */
static void proposed(slot_t *s, int rc, const char *msg)
{
    if (rc == 0)
        return;
    s->pd->outstanding--;
    set_error(s->pd->r, s->error_code, s->error_message,
              rc < -1 ? (int16_t)-rc : OD_ERR_UNKNOWN_SERVER_ERROR, msg);
}

/* Counts the names of a request; NULL names are not counted. The caller
 * answers the request with od_req_drop when this fails (out of memory). */
static int count_names(od_nameset_t *set, const od_str_t *names, int32_t n)
{
    if (od_nameset_init(set, n > 0 ? (size_t)n : 1) < 0)
        return -1;
    for (int32_t i = 0; i < n; i++)
        if (names[i].len >= 0 && od_nameset_add(set, names[i].p, (size_t)names[i].len) == 0)
            return -1;
    return 0;
}

static int dup_name(const od_nameset_t *set, od_str_t a)
{
    return a.len >= 0 && od_nameset_count(set, a.p, (size_t)a.len) > 1;
}

/* The records of all topics of one request count against Kafka's bound on
 * one user operation (a single topic is also checked where it is built). */
static int over_user_op(int64_t *records, int64_t more, char *msg, size_t msgsz)
{
    if (*records + more > OD_MAX_RECORDS_PER_USER_OP) {
        snprintf(msg, msgsz, OD_MSG_TOO_MANY_RECORDS " (this request needs more than %d metadata "
                 "records)", OD_MAX_RECORDS_PER_USER_OP);
        return 1;
    }
    *records += more;
    return 0;
}

/* ---- CreateTopics ---- */

typedef od_CreateTopicsResponse_CreatableTopicResult_t ct_result_t;

static void fill_created(od_core_t *core, od_req_t *r, ct_result_t *o)
{
    od_topic_t *t = od_image_topic(&core->image, o->name.p, (size_t)o->name.len);
    if (!t)
        return;
    o->topic_id = t->id;
    o->num_partitions = t->npartitions;
    o->replication_factor = (int16_t)(t->npartitions ? t->partitions[0]->nreplicas : 0);
    size_t n = od_topic_keys_count();
    o->configs = od_arena_calloc(&r->arena, n, sizeof(*o->configs));
    if (!o->configs)
        return;
    o->configs_count = (int32_t)n;
    for (size_t i = 0; i < n; i++) {
        const od_topic_key_t *k = od_topic_key_at(i);
        od_cfg_source_t src;
        o->configs[i].name = od_str_c(k->def.name);
        o->configs[i].value = od_str_c(od_topic_config_value(core, t, k->def.name, &src));
        o->configs[i].read_only = 0;
        o->configs[i].config_source = (int8_t)src;
        o->configs[i].is_sensitive = 0;
    }
}

static void create_finish(pending_t *pd)
{
    od_req_t *r = pd->r;
    od_CreateTopicsResponse_t *resp = pd->resp;
    od_core_t *core = pd->core;
    for (int32_t i = 0; i < resp->topics_count; i++) {
        ct_result_t *o = &resp->topics[i];
        audit(pd, "CREATE_TOPICS", o->name, o->error_code, o->error_message);
        if (o->error_code == OD_ERR_NONE) {
            fill_created(core, r, o);
            /* KIP-525: the configs only for those who may describe them. */
            if (!od_authz_quiet(r, OD_ACL_OP_DESCRIBE_CONFIGS, OD_RES_TOPIC, o->name.p,
                                OD_STR_LEN(o->name))) {
                o->configs = NULL;
                o->configs_count = -1;
                o->topic_config_error_code = OD_ERR_TOPIC_AUTHORIZATION_FAILED;
            }
        } else
            o->topic_config_error_code = OD_ERR_NONE;
    }
    if (r->conn)
        od_CreateTopicsResponse_encode(&r->resp, r->hdr.api_version, resp);
    od_req_done(r);
}

void od_h_create_topics(od_req_t *r, void *body)
{
    od_core_t *core = r->conn->core;
    od_CreateTopicsRequest_t *req = body;
    od_CreateTopicsResponse_t *resp = od_arena_calloc(&r->arena, 1, sizeof(*resp));
    int32_t n = req->topics_count > 0 ? req->topics_count : 0;
    od_str_t *names = od_arena_calloc(&r->arena, n ? (size_t)n : 1, sizeof(*names));
    void *results = NULL;
    slot_t *slots = NULL;
    pending_t *pd = resp ? start(r, resp, n, sizeof(*resp->topics), &results, create_finish, &slots)
                         : NULL;
    if (!pd || !names) {
        od_req_drop(r);
        return;
    }
    od_CreateTopicsResponse_init(resp);
    resp->topics = results;
    resp->topics_count = n;
    for (int32_t i = 0; i < n; i++)
        names[i] = req->topics[i].name;
    od_nameset_t seen;
    if (count_names(&seen, names, n) < 0) {
        od_nameset_free(&seen);
        od_req_drop(r);
        return;
    }
    /* Kafka's controller bounds the records of one user operation
     * (MAX_RECORDS_PER_USER_OP); the whole request counts as one. */
    int64_t records = 0;
    /* CREATE on the cluster covers every topic; else each needs its own. */
    int cluster_create = od_authz_quiet(r, OD_ACL_OP_CREATE, OD_RES_CLUSTER, OD_CLUSTER_RESOURCE,
                                        strlen(OD_CLUSTER_RESOURCE));
    pd->validate_only = req->validate_only;
    for (int32_t i = 0; i < n; i++) {
        od_CreateTopicsRequest_CreatableTopic_t *ct = &req->topics[i];
        ct_result_t *o = &resp->topics[i];
        o->name = ct->name;
        o->error_message.len = -1;
        o->num_partitions = -1;
        o->replication_factor = -1;
        o->configs_count = -1;
        char msg[400];
        if (dup_name(&seen, ct->name)) {
            set_error(r, &o->error_code, &o->error_message, OD_ERR_INVALID_REQUEST,
                      "Duplicate topic name.");
            continue;
        }
        if (!cluster_create &&
            !od_authz_topic(r, OD_ACL_OP_CREATE, ct->name.p, OD_STR_LEN(ct->name))) {
            set_error(r, &o->error_code, &o->error_message, OD_ERR_TOPIC_AUTHORIZATION_FAILED,
                      "Authorization failed.");
            continue;
        }
        const od_internal_topic_t *it =
            ct->name.len > 0 ? od_topic_internal(ct->name.p, (size_t)ct->name.len) : NULL;
        if (it && (it->flags & OD_ITOPIC_CONTROL_PLANE)) {
            snprintf(msg, sizeof(msg), "Creation of internal topic %s is prohibited.", it->name);
            set_error(r, &o->error_code, &o->error_message, OD_ERR_INVALID_REQUEST, msg);
            continue;
        }
        if (ct->name.len < 0 ||
            od_topic_name_valid(ct->name.p, (size_t)ct->name.len, msg, sizeof(msg)) != OD_ERR_NONE) {
            set_error(r, &o->error_code, &o->error_message, OD_ERR_INVALID_TOPIC_EXCEPTION,
                      ct->name.len < 0 ? "null topic name" : msg);
            continue;
        }
        if (od_image_topic(&core->image, ct->name.p, (size_t)ct->name.len)) {
            snprintf(msg, sizeof(msg), "Topic '%.*s' already exists.", (int)ct->name.len, ct->name.p);
            set_error(r, &o->error_code, &o->error_message, OD_ERR_TOPIC_ALREADY_EXISTS, msg);
            continue;
        }
        char cname[256];
        snprintf(cname, sizeof(cname), "%.*s", (int)ct->name.len, ct->name.p);
        od_topic_t *other = od_image_topic_colliding(&core->image, ct->name.p, (size_t)ct->name.len);
        if (other) {
            snprintf(msg, sizeof(msg), "Topic '%.80s' collides with existing topic '%.80s' ('.' and '_' collide)",
                     cname, other->name);
            set_error(r, &o->error_code, &o->error_message, OD_ERR_INVALID_TOPIC_EXCEPTION, msg);
            continue;
        }
        int32_t parts = ct->num_partitions == -1 ? (int32_t)core->conf.num_partitions : ct->num_partitions;
        int16_t rf = ct->replication_factor == -1 ? (int16_t)core->conf.default_replication_factor
                                                  : ct->replication_factor;
        od_assignment_t *asg = NULL;
        if (ct->assignments_count > 0) {
            /* Manual assignment: partitions and rf come from it (Kafka
             * requires -1 for both). */
            if (ct->num_partitions != -1 || ct->replication_factor != -1) {
                set_error(r, &o->error_code, &o->error_message, OD_ERR_INVALID_REQUEST,
                          "Both numPartitions or replicationFactor and replicasAssignments were set. "
                          "Both cannot be used at the same time.");
                continue;
            }
            parts = ct->assignments_count;
            asg = od_arena_calloc(&r->arena, (size_t)parts, sizeof(*asg));
            int bad = !asg;
            for (int32_t j = 0; j < parts && !bad; j++) {
                od_CreateTopicsRequest_CreatableReplicaAssignment_t *ca = &ct->assignments[j];
                if (ca->partition_index < 0 || ca->partition_index >= parts ||
                    asg[ca->partition_index].brokers) {
                    snprintf(msg, sizeof(msg), "partition indices of the assignment must be 0..%d, each once",
                             parts - 1);
                    bad = 1;
                    break;
                }
                asg[ca->partition_index].brokers = ca->broker_ids;
                asg[ca->partition_index].n = ca->broker_ids_count;
            }
            if (!bad && od_metadata_check_assignment(core, asg, parts, msg, sizeof(msg)) < 0)
                bad = 1;
            if (bad) {
                set_error(r, &o->error_code, &o->error_message, OD_ERR_INVALID_REPLICA_ASSIGNMENT, msg);
                continue;
            }
            rf = (int16_t)asg[0].n;
        }
        if (parts <= 0) {
            set_error(r, &o->error_code, &o->error_message, OD_ERR_INVALID_PARTITIONS,
                      "Number of partitions must be larger than 0.");
            continue;
        }
        if (rf <= 0 || (!asg && od_place_check(&core->image, rf, msg, sizeof(msg)) < 0)) {
            if (rf <= 0)
                snprintf(msg, sizeof(msg), "Replication factor must be larger than 0, or -1 to use "
                         "the default value.");
            set_error(r, &o->error_code, &o->error_message, OD_ERR_INVALID_REPLICATION_FACTOR, msg);
            continue;
        }
        int32_t nc = ct->configs_count > 0 ? ct->configs_count : 0;
        od_kv_t *kv = od_arena_calloc(&r->arena, nc ? (size_t)nc : 1, sizeof(*kv));
        int bad = !kv;
        for (int32_t j = 0; j < nc && !bad; j++) {
            od_CreateTopicsRequest_CreatableTopicConfig_t *c = &ct->configs[j];
            if (c->name.len <= 0 ||
                od_topic_config_check(c->name.p, (size_t)c->name.len, c->value.p, c->value.len, msg,
                                      sizeof(msg)) < 0) {
                if (c->name.len <= 0)
                    snprintf(msg, sizeof(msg), "empty config name");
                set_error(r, &o->error_code, &o->error_message, OD_ERR_INVALID_CONFIG, msg);
                bad = 1;
                break;
            }
            kv[j].key = od_arena_strndup(&r->arena, c->name.p, (size_t)c->name.len);
            kv[j].value = od_arena_strndup(&r->arena, c->value.p, (size_t)c->value.len);
        }
        if (bad)
            continue;
        /* Policies (modules, Lua) see the topic as it would be created,
         * validate_only too, as Kafka's CreateTopicPolicy does. */
        od_config_entry_t *ce = od_arena_calloc(&r->arena, nc ? (size_t)nc : 1, sizeof(*ce));
        for (int32_t j = 0; ce && j < nc; j++)
            ce[j] = (od_config_entry_t){kv[j].key, kv[j].value};
        od_ev_admin_t pev = {.op = OD_ADMIN_CREATE_TOPICS, .resource_type = OD_RES_TOPIC,
                             .resource = cname, .partitions = parts, .replication_factor = rf,
                             .configs = ce, .nconfigs = ce ? (size_t)nc : 0};
        if (od_admin_refuse(r, &pev, &o->error_code, &o->error_message))
            continue;
        if (over_user_op(&records, 1 + (int64_t)nc + parts, msg, sizeof(msg))) {
            set_error(r, &o->error_code, &o->error_message, OD_ERR_POLICY_VIOLATION, msg);
            continue;
        }
        o->error_code = OD_ERR_NONE;
        if (req->validate_only)
            continue;
        od_new_topic_t nt = {ct->name.p, (size_t)ct->name.len, parts, rf, kv, (size_t)nc, asg};
        slot_t *sl = slot_for(pd, slots, i, &o->error_code, &o->error_message);
        int rc = od_metadata_create_topic(core, &nt, slot_done, sl, msg, sizeof(msg));
        proposed(sl, rc, msg);
        if (rc == 0)
            od_logf(OD_LOG_INFO, "client %s: created topic %s (%d partitions, rf %d)",
                    r->conn ? r->conn->peer : "?", cname, parts, rf);
    }
    od_nameset_free(&seen);
    pd->started = 1;
    maybe_finish(pd);
}

/* ---- DeleteTopics ---- */

static void delete_finish(pending_t *pd)
{
    od_req_t *r = pd->r;
    od_DeleteTopicsResponse_t *resp = pd->resp;
    for (int32_t i = 0; i < resp->responses_count; i++)
        audit(pd, "DELETE_TOPICS", resp->responses[i].name, resp->responses[i].error_code,
              resp->responses[i].error_message);
    if (r->conn)
        od_DeleteTopicsResponse_encode(&r->resp, r->hdr.api_version, pd->resp);
    od_req_done(r);
}

void od_h_delete_topics(od_req_t *r, void *body)
{
    od_core_t *core = r->conn->core;
    od_DeleteTopicsRequest_t *req = body;
    od_DeleteTopicsResponse_t *resp = od_arena_calloc(&r->arena, 1, sizeof(*resp));
    /* v0-5 name topics in topic_names; v6 in topics (by name or id). */
    int by_state = r->hdr.api_version >= 6;
    int32_t n = by_state ? req->topics_count : req->topic_names_count;
    if (n < 0)
        n = 0;
    void *results = NULL;
    slot_t *slots = NULL;
    pending_t *pd = resp ? start(r, resp, n, sizeof(*resp->responses), &results, delete_finish,
                                 &slots)
                         : NULL;
    if (!pd) {
        od_req_drop(r);
        return;
    }
    od_DeleteTopicsResponse_init(resp);
    resp->responses = results;
    resp->responses_count = n;
    for (int32_t i = 0; i < n; i++) {
        od_DeleteTopicsResponse_DeletableTopicResult_t *o = &resp->responses[i];
        od_str_t name = by_state ? req->topics[i].name : req->topic_names[i];
        o->name = name;
        o->error_message.len = -1;
        od_topic_t *t = NULL;
        if (name.len >= 0 && !od_authz_topic(r, OD_ACL_OP_DELETE, name.p, (size_t)name.len)) {
            o->error_code = OD_ERR_TOPIC_AUTHORIZATION_FAILED;
            continue;
        }
        if (name.len >= 0)
            t = od_image_topic(&core->image, name.p, (size_t)name.len);
        else if (by_state)
            t = od_image_topic_by_id(&core->image, &req->topics[i].topic_id);
        if (!t) {
            o->error_code = name.len >= 0 ? OD_ERR_UNKNOWN_TOPIC_OR_PARTITION : OD_ERR_UNKNOWN_TOPIC_ID;
            if (by_state)
                o->topic_id = req->topics[i].topic_id;
            continue;
        }
        o->topic_id = t->id;
        if (name.len < 0 && (!od_authz_topic(r, OD_ACL_OP_DESCRIBE, t->name, strlen(t->name)) ||
                             !od_authz_topic(r, OD_ACL_OP_DELETE, t->name, strlen(t->name)))) {
            o->error_code = OD_ERR_TOPIC_AUTHORIZATION_FAILED; /* by id: the name stays hidden */
            continue;
        }
        o->name = od_str_c(od_arena_strndup(&r->arena, t->name, strlen(t->name)));
        if (od_topic_is_internal(t->name)) {
            /* Its owner (group coordinator, control plane) keeps state there
             * that nothing would rebuild. */
            char msg[320];
            snprintf(msg, sizeof(msg), "Topic %s is an internal topic and cannot be deleted.",
                     t->name);
            set_error(r, &o->error_code, &o->error_message, OD_ERR_INVALID_TOPIC_EXCEPTION, msg);
            od_logf(OD_LOG_WARN, "client %s: refused to delete internal topic %s", r->conn->peer,
                    t->name);
            continue;
        }
        if (!core->conf.delete_topic_enable) {
            set_error(r, &o->error_code, &o->error_message, OD_ERR_TOPIC_DELETION_DISABLED,
                      "Topic deletion is disabled.");
            continue;
        }
        od_ev_admin_t pev = {.op = OD_ADMIN_DELETE_TOPICS, .resource_type = OD_RES_TOPIC,
                             .resource = t->name, .partitions = t->npartitions,
                             .replication_factor = -1};
        if (od_admin_refuse(r, &pev, &o->error_code, &o->error_message))
            continue;
        slot_t *sl = slot_for(pd, slots, i, &o->error_code, &o->error_message);
        char msg[256];
        od_logf(OD_LOG_INFO, "client %s: deleting topic %s", r->conn->peer, t->name);
        proposed(sl, od_metadata_delete_topic(core, t, slot_done, sl, msg, sizeof(msg)), msg);
    }
    pd->started = 1;
    maybe_finish(pd);
}

/* ---- CreatePartitions ---- */

static void partitions_finish(pending_t *pd)
{
    od_req_t *r = pd->r;
    od_CreatePartitionsResponse_t *resp = pd->resp;
    for (int32_t i = 0; i < resp->results_count; i++)
        audit(pd, "CREATE_PARTITIONS", resp->results[i].name, resp->results[i].error_code,
              resp->results[i].error_message);
    if (r->conn)
        od_CreatePartitionsResponse_encode(&r->resp, r->hdr.api_version, pd->resp);
    od_req_done(r);
}

void od_h_create_partitions(od_req_t *r, void *body)
{
    od_core_t *core = r->conn->core;
    od_CreatePartitionsRequest_t *req = body;
    od_CreatePartitionsResponse_t *resp = od_arena_calloc(&r->arena, 1, sizeof(*resp));
    int32_t n = req->topics_count > 0 ? req->topics_count : 0;
    od_str_t *names = od_arena_calloc(&r->arena, n ? (size_t)n : 1, sizeof(*names));
    void *results = NULL;
    slot_t *slots = NULL;
    pending_t *pd = resp ? start(r, resp, n, sizeof(*resp->results), &results, partitions_finish,
                                 &slots)
                         : NULL;
    if (!pd || !names) {
        od_req_drop(r);
        return;
    }
    od_CreatePartitionsResponse_init(resp);
    resp->results = results;
    resp->results_count = n;
    pd->validate_only = req->validate_only;
    int64_t added = 0;
    for (int32_t i = 0; i < n; i++)
        names[i] = req->topics[i].name;
    od_nameset_t seen;
    if (count_names(&seen, names, n) < 0) {
        od_nameset_free(&seen);
        od_req_drop(r);
        return;
    }
    int64_t records = 0;
    for (int32_t i = 0; i < n; i++) {
        od_CreatePartitionsRequest_CreatePartitionsTopic_t *ct = &req->topics[i];
        od_CreatePartitionsResponse_CreatePartitionsTopicResult_t *o = &resp->results[i];
        o->name = ct->name;
        o->error_message.len = -1;
        char msg[256];
        if (dup_name(&seen, ct->name)) {
            set_error(r, &o->error_code, &o->error_message, OD_ERR_INVALID_REQUEST,
                      "Duplicate topic name.");
            continue;
        }
        if (!od_authz_topic(r, OD_ACL_OP_ALTER, ct->name.p, OD_STR_LEN(ct->name))) {
            set_error(r, &o->error_code, &o->error_message, OD_ERR_TOPIC_AUTHORIZATION_FAILED,
                      "The topic authorization is failed.");
            continue;
        }
        od_topic_t *t = ct->name.len > 0 ? od_image_topic(&core->image, ct->name.p, (size_t)ct->name.len) : NULL;
        if (!t) {
            o->error_code = OD_ERR_UNKNOWN_TOPIC_OR_PARTITION;
            continue;
        }
        const od_internal_topic_t *it = od_topic_internal(t->name, strlen(t->name));
        if (it && (it->flags & OD_ITOPIC_CONTROL_PLANE)) {
            snprintf(msg, sizeof(msg), "Partitions of internal topic %s cannot be added.", it->name);
            set_error(r, &o->error_code, &o->error_message, OD_ERR_INVALID_REQUEST, msg);
            continue;
        }
        if (ct->count <= t->npartitions) {
            snprintf(msg, sizeof(msg), "Topic currently has %d partitions, %d would not be an increase.",
                     t->npartitions, ct->count);
            set_error(r, &o->error_code, &o->error_message, OD_ERR_INVALID_PARTITIONS, msg);
            continue;
        }
        /* Kafka bounds the records of one request (MAX_RECORDS_PER_USER_OP). */
        if ((added += ct->count - t->npartitions) > OD_MAX_RECORDS_PER_USER_OP) {
            set_error(r, &o->error_code, &o->error_message, OD_ERR_POLICY_VIOLATION,
                      "Unable to perform excessively large batch operation.");
            continue;
        }
        od_assignment_t *asg = NULL;
        if (ct->assignments_count >= 0 && ct->assignments) {
            int32_t add = ct->count - t->npartitions;
            if (ct->assignments_count != add) {
                snprintf(msg, sizeof(msg), "Increasing the number of partitions by %d but %d assignments provided.",
                         add, ct->assignments_count);
                set_error(r, &o->error_code, &o->error_message, OD_ERR_INVALID_REPLICA_ASSIGNMENT, msg);
                continue;
            }
            asg = od_arena_calloc(&r->arena, (size_t)add, sizeof(*asg));
            for (int32_t j = 0; asg && j < add; j++) {
                asg[j].brokers = ct->assignments[j].broker_ids;
                asg[j].n = ct->assignments[j].broker_ids_count;
            }
            int32_t rf = t->npartitions ? t->partitions[0]->nreplicas : 1;
            if (!asg || od_metadata_check_assignment(core, asg, add, msg, sizeof(msg)) < 0 ||
                asg[0].n != rf) {
                if (asg && asg[0].n != rf)
                    snprintf(msg, sizeof(msg), "Inconsistent replication factor between partitions, "
                             "partition 0 has %d while new partitions have %d", rf, asg[0].n);
                set_error(r, &o->error_code, &o->error_message, OD_ERR_INVALID_REPLICA_ASSIGNMENT, msg);
                continue;
            }
        }
        od_ev_admin_t pev = {.op = OD_ADMIN_CREATE_PARTITIONS, .resource_type = OD_RES_TOPIC,
                             .resource = t->name, .partitions = ct->count,
                             .replication_factor = -1};
        if (od_admin_refuse(r, &pev, &o->error_code, &o->error_message))
            continue;
        if (over_user_op(&records, (int64_t)ct->count - t->npartitions, msg, sizeof(msg))) {
            set_error(r, &o->error_code, &o->error_message, OD_ERR_POLICY_VIOLATION, msg);
            continue;
        }
        o->error_code = OD_ERR_NONE;
        if (req->validate_only)
            continue;
        slot_t *sl = slot_for(pd, slots, i, &o->error_code, &o->error_message);
        proposed(sl, od_metadata_add_partitions(core, t, ct->count, asg, slot_done, sl, msg,
                                                sizeof(msg)),
                 msg);
    }
    od_nameset_free(&seen);
    pd->started = 1;
    maybe_finish(pd);
}
