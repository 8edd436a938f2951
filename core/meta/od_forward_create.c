/* od_forward_create.c - topics a broker creates on its own (Metadata's
 * auto-creation, the group coordinator's __consumer_offsets) when it is not
 * the active controller: it sends a CreateTopics request to the controller
 * through the control plane's forward op, as Kafka's brokers do, so the
 * controller validates it against its committed image. The caller's
 * callback runs once the topic is in this broker's image too (its metadata
 * log caught up), or with the controller's error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_metadata.h"
#include "od_proto_gen.h"

#define CREATE_VERSION 5      /* flexible, with per-topic error messages */
#define APPLY_WAIT_MS 10000   /* how long the created topic may take to reach us */
#define APPLY_POLL_MS 20

typedef struct fwd_create {
    od_core_t *core;
    od_meta_done_cb cb;
    void *arg;
    char *name;
    int16_t code;
    char msg[256];
    int64_t deadline;
} fwd_create_t;

static void finish(fwd_create_t *f, int16_t code, const char *msg)
{
    f->cb(f->arg, code, msg);
    free(f->name);
    free(f);
}

static void poll_applied(void *arg)
{
    fwd_create_t *f = arg;
    if (od_image_topic(&f->core->image, f->name, strlen(f->name)) || f->core->stopping ||
        od_mono_ms() >= f->deadline) {
        finish(f, f->code, f->msg[0] ? f->msg : NULL);
        return;
    }
    if (od_loop_timer(f->core->loop, APPLY_POLL_MS, poll_applied, f) <= 0)
        finish(f, f->code, NULL);
}

static void answered(void *arg, int status, const uint8_t *body, size_t len)
{
    fwd_create_t *f = arg;
    if (status < 0) {
        finish(f, OD_ERR_NOT_CONTROLLER, "the active controller did not answer");
        return;
    }
    od_arena_t a;
    od_slice_t s;
    od_CreateTopicsResponse_t resp;
    od_arena_init(&a, 1 << 20);
    od_slice_init(&s, body, len);
    f->code = OD_ERR_UNKNOWN_SERVER_ERROR;
    if (od_CreateTopicsResponse_decode(&s, CREATE_VERSION, &a, &resp) == 0 &&
        resp.topics_count == 1) {
        f->code = resp.topics[0].error_code;
        if (resp.topics[0].error_message.len > 0)
            snprintf(f->msg, sizeof(f->msg), "%.*s", (int)resp.topics[0].error_message.len,
                     resp.topics[0].error_message.p);
    }
    od_arena_free(&a);
    if (f->code == OD_ERR_NONE || f->code == OD_ERR_TOPIC_ALREADY_EXISTS) {
        f->deadline = od_mono_ms() + APPLY_WAIT_MS;
        poll_applied(f);
        return;
    }
    finish(f, f->code, f->msg[0] ? f->msg : NULL);
}

int od_forward_create_topic(od_core_t *core, const od_new_topic_t *nt, od_meta_done_cb cb,
                            void *arg)
{
    const od_controlplane_ops_t *cp = core->cp;
    if (!cp || cp->struct_size < sizeof(od_controlplane_ops_t) || !cp->forward ||
        cp->controller_id(core->cp_self) == (int32_t)core->conf.node_id)
        return -1;
    od_CreateTopicsRequest_t req;
    od_CreateTopicsRequest_CreatableTopic_t t;
    od_CreateTopicsRequest_init(&req);
    od_CreateTopicsRequest_CreatableTopic_init(&t);
    t.name.p = nt->name;
    t.name.len = (int32_t)nt->name_len;
    t.num_partitions = nt->assignments ? -1 : nt->partitions;
    t.replication_factor = nt->assignments ? -1 : nt->replication_factor;
    od_CreateTopicsRequest_CreatableReplicaAssignment_t as[256];
    od_CreateTopicsRequest_CreatableTopicConfig_t cs[64];
    if (nt->assignments) {
        if (nt->partitions > 256)
            return -1;
        for (int32_t i = 0; i < nt->partitions; i++) {
            od_CreateTopicsRequest_CreatableReplicaAssignment_init(&as[i]);
            as[i].partition_index = i;
            as[i].broker_ids = (int32_t *)nt->assignments[i].brokers;
            as[i].broker_ids_count = nt->assignments[i].n;
        }
        t.assignments = as;
        t.assignments_count = nt->partitions;
    }
    if (nt->nconfigs > 64)
        return -1;
    for (size_t i = 0; i < nt->nconfigs; i++) {
        od_CreateTopicsRequest_CreatableTopicConfig_init(&cs[i]);
        cs[i].name = od_str_c(nt->configs[i].key);
        cs[i].value = od_str_c(nt->configs[i].value);
    }
    t.configs = cs;
    t.configs_count = (int32_t)nt->nconfigs;
    req.topics = &t;
    req.topics_count = 1;
    req.timeout_ms = 30000;
    od_wbuf_t w;
    od_wbuf_init(&w);
    od_CreateTopicsRequest_encode(&w, CREATE_VERSION, &req);
    size_t n = 0;
    uint8_t *bytes = w.err ? NULL : od_wbuf_flatten(&w, &n);
    od_wbuf_free(&w);
    fwd_create_t *f = bytes ? calloc(1, sizeof(*f)) : NULL;
    char *name = f ? strndup(nt->name, nt->name_len) : NULL;
    if (!name) {
        free(bytes);
        free(f);
        return -1;
    }
    f->core = core;
    f->cb = cb;
    f->arg = arg;
    f->name = name;
    od_cp_request_t cr;
    memset(&cr, 0, sizeof(cr));
    cr.api_key = OD_API_CREATE_TOPICS;
    cr.api_version = CREATE_VERSION;
    cr.client_id = "odradek-broker";
    cr.flexible_header = 1;
    cr.body = bytes;
    cr.body_len = n;
    cr.peer = "";
    int rc = cp->forward(core->cp_self, &cr, answered, f);
    free(bytes);
    if (rc < 0) {
        free(f->name);
        free(f);
        return -1;
    }
    return 0;
}
