/* od_h_metadata.c - Metadata, and topic auto-creation on first use. */
#include <stdio.h>
#include <string.h>

#include "od_authz.h"
#include "od_core.h"
#include "od_dispatch.h"
#include "od_handlers.h"
#include "od_net.h"
#include "od_topicname.h"

/* Starts the creation. *waiting = 1: this call proposed it and cb will be
 * called once with its outcome (else cb is never called). */
static int16_t auto_create(od_core_t *core, const char *name, size_t len, int allow,
                           od_meta_done_cb cb, void *arg, int *waiting)
{
    *waiting = 0;
    if (od_image_topic(&core->image, name, len))
        return OD_ERR_NONE;
    if (od_topic_name_valid(name, len, NULL, 0) != OD_ERR_NONE)
        return OD_ERR_INVALID_TOPIC_EXCEPTION;
    /* Internal topics are made by their owners with their own settings (the
     * control plane's never): not by a client's first use. */
    if (!allow || !core->conf.auto_create_topics_enable || od_topic_internal(name, len))
        return OD_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    od_new_topic_t nt = {0};
    nt.name = name;
    nt.name_len = len;
    nt.partitions = (int32_t)core->conf.num_partitions;
    nt.replication_factor = (int16_t)core->conf.default_replication_factor;
    char err[256];
    int rc = od_metadata_create_topic(core, &nt, cb, arg, err, sizeof(err));
    if (rc == -OD_ERR_TOPIC_ALREADY_EXISTS) /* another request's creation is in flight */
        return OD_ERR_LEADER_NOT_AVAILABLE;
    if (rc != 0) {
        od_logf(OD_LOG_WARN, "auto-create of %.*s failed: %s", (int)len, name, err);
        return rc < -1 ? (int16_t)-rc : OD_ERR_INVALID_REPLICATION_FACTOR;
    }
    od_logf(OD_LOG_INFO, "topic %.*s auto-created with %d partition(s)", (int)len, name,
            nt.partitions);
    *waiting = 1;
    return OD_ERR_LEADER_NOT_AVAILABLE;
}

typedef od_MetadataResponse_MetadataResponseTopic_t mtopic_t;

static int fill_topic(od_core_t *core, od_req_t *r, od_topic_t *t, mtopic_t *o)
{
    o->error_code = OD_ERR_NONE;
    o->name = od_str_c(t->name);
    o->topic_id = t->id;
    o->is_internal = (int8_t)t->internal;
    o->topic_authorized_operations = INT32_MIN;
    o->partitions_count = t->npartitions;
    o->partitions = od_arena_calloc(&r->arena, t->npartitions ? (size_t)t->npartitions : 1,
                                    sizeof(*o->partitions));
    if (!o->partitions)
        return -1;
    for (int32_t i = 0; i < t->npartitions; i++) {
        od_partition_t *p = t->partitions[i];
        od_MetadataResponse_MetadataResponsePartition_t *op = &o->partitions[i];
        op->error_code = p->leader >= 0 ? OD_ERR_NONE : OD_ERR_LEADER_NOT_AVAILABLE;
        op->partition_index = p->index;
        op->leader_id = p->leader;
        op->leader_epoch = p->leader_epoch;
        op->replica_nodes_count = p->nreplicas;
        op->replica_nodes = p->replicas;
        op->isr_nodes_count = p->nisr;
        op->isr_nodes = p->isr;
        op->offline_replicas_count = 0;
        /* Offline: replicas on brokers that are fenced or gone (as the
         * image says), and this node's own when its log cannot be opened. */
        int32_t *off = od_arena_calloc(&r->arena, p->nreplicas ? (size_t)p->nreplicas : 1,
                                       sizeof(*off));
        if (!off)
            return -1;
        op->offline_replicas = off;
        for (int32_t k = 0; k < p->nreplicas; k++) {
            const od_broker_reg_t *b = od_image_broker(&core->image, p->replicas[k]);
            int mine = p->replicas[k] == (int32_t)core->conf.node_id;
            if (!b || b->fenced || (mine && p->offline))
                off[op->offline_replicas_count++] = p->replicas[k];
        }
        if (p->offline && p->leader == (int32_t)core->conf.node_id)
            op->error_code = OD_ERR_KAFKA_STORAGE_ERROR;
        else if (p->offline && p->nreplicas <= 1)
            op->error_code = OD_ERR_KAFKA_STORAGE_ERROR;
    }
    return 0;
}

/* The topic's authorized-operations bitmask when the client asks (v8+). */
static void topic_ops(od_req_t *r, const od_MetadataRequest_t *req, mtopic_t *o)
{
    if (r->hdr.api_version >= 8 && req->include_topic_authorized_operations)
        o->topic_authorized_operations =
            od_authz_ops_bitmask(r, OD_RES_TOPIC, o->name.p, OD_STR_LEN(o->name));
}

/* A Metadata request waiting for the topics it auto-creates: all of them
 * go into the same control-plane turn (one fdatasync), and the answer is
 * built once every one is committed, so the client sees them at once. */
typedef struct md_wait {
    od_req_t *r;
    od_MetadataRequest_t *req;
    int16_t *codes; /* per requested topic: auto-create outcome */
    int outstanding;
    int started;
} md_wait_t;

typedef struct md_slot {
    md_wait_t *w;
    int32_t i;
    int done; /* the callback came (possibly inside the proposing call) */
} md_slot_t;

static void md_answer(md_wait_t *w);

static void md_created(void *arg, int16_t code, const char *msg)
{
    md_slot_t *sl = arg;
    md_wait_t *w = sl->w;
    if (code != OD_ERR_NONE)
        od_logf(OD_LOG_WARN, "auto-create failed: %s (%s)", od_err_name(code), msg ? msg : "");
    w->codes[sl->i] = code;
    sl->done = 1;
    if (--w->outstanding == 0 && w->started)
        md_answer(w);
}

void od_h_metadata(od_req_t *r, void *body)
{
    od_core_t *core = r->conn->core;
    od_MetadataRequest_t *req = body;
    int16_t ver = r->hdr.api_version;
    int all = req->topics_count < 0 || (ver == 0 && req->topics_count == 0);
    int allow_auto = ver < 4 ? 1 : req->allow_auto_topic_creation;
    int32_t n = all ? 0 : req->topics_count;
    md_wait_t *w = od_arena_calloc(&r->arena, 1, sizeof(*w));
    md_slot_t *slots = od_arena_calloc(&r->arena, n ? (size_t)n : 1, sizeof(*slots));
    if (!w || !slots || !(w->codes = od_arena_calloc(&r->arena, n ? (size_t)n : 1, sizeof(*w->codes)))) {
        od_req_drop(r);
        return;
    }
    w->r = r;
    w->req = req;
    for (int32_t i = 0; i < n; i++) {
        od_MetadataRequest_MetadataRequestTopic_t *rt = &req->topics[i];
        if (rt->name.len < 0)
            continue; /* by id: never created */
        /* Kafka's order: DESCRIBE, then CREATE (cluster or topic) for a
         * topic that would be auto-created; either failing is
         * TOPIC_AUTHORIZATION_FAILED, and nothing is created. */
        if (!od_authz_topic(r, OD_ACL_OP_DESCRIBE, rt->name.p, (size_t)rt->name.len) ||
            (allow_auto && core->conf.auto_create_topics_enable &&
             !od_image_topic(&core->image, rt->name.p, (size_t)rt->name.len) &&
             !od_authz_quiet(r, OD_ACL_OP_CREATE, OD_RES_CLUSTER, OD_CLUSTER_RESOURCE,
                             strlen(OD_CLUSTER_RESOURCE)) &&
             !od_authz_topic(r, OD_ACL_OP_CREATE, rt->name.p, (size_t)rt->name.len))) {
            w->codes[i] = OD_ERR_TOPIC_AUTHORIZATION_FAILED;
            continue;
        }
        slots[i].w = w;
        slots[i].i = i;
        w->outstanding++;
        int waiting;
        int16_t ec = auto_create(core, rt->name.p, (size_t)rt->name.len, allow_auto, md_created,
                                 &slots[i], &waiting);
        if (!waiting) {
            w->codes[i] = ec;
            w->outstanding--; /* no callback comes */
        } else if (!slots[i].done) {
            w->codes[i] = ec; /* until the callback says more */
        }
    }
    w->started = 1;
    if (w->outstanding == 0)
        md_answer(w);
}

static void md_answer(md_wait_t *w)
{
    od_req_t *r = w->r;
    if (!r->conn) { /* the client went away while we waited */
        od_req_done(r);
        return;
    }
    od_core_t *core = r->conn->core;
    od_MetadataRequest_t *req = w->req;
    int16_t ver = r->hdr.api_version;
    od_MetadataResponse_t resp;
    od_MetadataResponse_init(&resp);
    resp.throttle_time_ms = 0;
    const char *cid = core->cp->cluster_id(core->cp_self);
    resp.cluster_id = od_str_c(cid);
    resp.controller_id = core->cp->controller_id(core->cp_self);
    resp.cluster_authorized_operations =
        ver >= 8 && ver <= 10 && req->include_cluster_authorized_operations
            ? od_authz_cluster_ops(r)
            : INT32_MIN;

    /* Brokers: each one's endpoint on the listener this client came in on. */
    od_image_t *img = &core->image;
    const char *lname = r->conn->listener ? r->conn->listener->spec.name : "PLAINTEXT";
    resp.brokers = od_arena_calloc(&r->arena, img->nbrokers ? img->nbrokers : 1, sizeof(*resp.brokers));
    if (!resp.brokers)
        goto oom;
    for (size_t i = 0; i < img->nbrokers; i++) {
        const od_broker_reg_t *b = &img->brokers[i];
        const od_endpoint_t *ep = NULL;
        for (size_t j = 0; j < b->nendpoints; j++)
            if (strcmp(b->endpoints[j].name, lname) == 0)
                ep = &b->endpoints[j];
        if (!ep || b->fenced)
            continue;
        od_MetadataResponse_MetadataResponseBroker_t *o = &resp.brokers[resp.brokers_count++];
        o->node_id = b->id;
        o->host = od_str_c(ep->host);
        o->port = ep->port;
        o->rack = od_str_c(b->rack);
    }

    /* v0: an empty list means all topics; v1+: null means all. */
    int all = req->topics_count < 0 || (ver == 0 && req->topics_count == 0);
    if (all) {
        resp.topics = od_arena_calloc(&r->arena, img->ntopics ? img->ntopics : 1, sizeof(*resp.topics));
        if (!resp.topics)
            goto oom;
        for (od_topic_t *t = od_image_next_topic(img, NULL); t; t = od_image_next_topic(img, t)) {
            /* All topics: those it may not describe are left out, unlogged. */
            if (!od_authz_quiet(r, OD_ACL_OP_DESCRIBE, OD_RES_TOPIC, t->name, strlen(t->name)))
                continue;
            if (fill_topic(core, r, t, &resp.topics[resp.topics_count]) < 0)
                goto oom;
            topic_ops(r, req, &resp.topics[resp.topics_count++]);
        }
    } else {
        int32_t n = req->topics_count;
        resp.topics = od_arena_calloc(&r->arena, n ? (size_t)n : 1, sizeof(*resp.topics));
        if (!resp.topics)
            goto oom;
        resp.topics_count = n;
        for (int32_t i = 0; i < n; i++) {
            od_MetadataRequest_MetadataRequestTopic_t *rt = &req->topics[i];
            mtopic_t *o = &resp.topics[i];
            o->name = rt->name;
            o->topic_id = rt->topic_id;
            o->topic_authorized_operations = INT32_MIN;
            o->partitions_count = 0;
            od_topic_t *t = NULL;
            if (rt->name.len < 0) { /* by id (v10+) */
                t = od_image_topic_by_id(img, &rt->topic_id);
                /* An id it may not describe is answered as unknown: its
                 * name must not leak. */
                if (!t || !od_authz_topic(r, OD_ACL_OP_DESCRIBE, t->name, strlen(t->name))) {
                    o->error_code = OD_ERR_UNKNOWN_TOPIC_ID;
                    continue;
                }
            } else if (w->codes[i] == OD_ERR_TOPIC_AUTHORIZATION_FAILED) {
                o->error_code = OD_ERR_TOPIC_AUTHORIZATION_FAILED;
                continue;
            } else {
                int16_t ec = w->codes[i];
                t = od_image_topic(img, rt->name.p, (size_t)rt->name.len);
                if (!t) {
                    o->error_code = ec == OD_ERR_NONE ? OD_ERR_LEADER_NOT_AVAILABLE : ec;
                    o->is_internal = od_topic_internal(rt->name.p, (size_t)rt->name.len) != NULL;
                    continue;
                }
            }
            if (fill_topic(core, r, t, o) < 0)
                goto oom;
            topic_ops(r, req, o);
        }
    }
    od_MetadataResponse_encode(&r->resp, ver, &resp);
    od_req_done(r);
    return;
oom:
    od_req_drop(r);
}
