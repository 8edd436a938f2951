/* od_h_configs.c - DescribeConfigs for topics and the broker, with sources
 * and synonyms as Kafka reports them. A broker key AlterConfigs may change
 * (od_broker_config_dynamic) is not read-only and shows its dynamic value:
 * this broker's (DYNAMIC_BROKER_CONFIG) before the cluster default
 * (DYNAMIC_DEFAULT_BROKER_CONFIG) before the static file
 * (STATIC_BROKER_CONFIG) before Kafka's default (DEFAULT_CONFIG). The
 * broker resource "" is the cluster default: its dynamic keys only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_authz.h"
#include "od_core.h"
#include "od_dispatch.h"
#include "od_handlers.h"
#include "od_metadata_configs.h"
#include "od_topic_config.h"

#define RES_TOPIC 2
#define RES_BROKER 4

typedef od_DescribeConfigsResponse_DescribeConfigsResourceResult_t cfg_out_t;
typedef od_DescribeConfigsResponse_DescribeConfigsSynonym_t syn_t;

static int8_t kafka_type(od_conf_type_t t)
{
    switch (t) { /* Kafka's ConfigType numbering */
    case OD_CONF_BOOL:
        return 1;
    case OD_CONF_STRING:
    case OD_CONF_ENUM:
        return 2;
    case OD_CONF_INT:
        return 5;
    case OD_CONF_DOUBLE:
        return 6;
    case OD_CONF_LIST:
        return 7;
    }
    return 0;
}

static int wanted(const od_DescribeConfigsRequest_DescribeConfigsResource_t *res, const char *name)
{
    if (res->configuration_keys_count < 0)
        return 1;
    for (int32_t i = 0; i < res->configuration_keys_count; i++)
        if (od_str_eq(res->configuration_keys[i], name))
            return 1;
    return 0;
}

static void add_syn(od_req_t *r, cfg_out_t *o, const char *name, const char *value, int8_t src)
{
    syn_t *s = &o->synonyms[o->synonyms_count++];
    s->name = od_str_c(name);
    s->value = od_str_c(value);
    s->source = src;
    (void)r;
}

static int describe_topic(od_core_t *core, od_req_t *r, const od_topic_t *t,
                          const od_DescribeConfigsRequest_DescribeConfigsResource_t *res,
                          int synonyms, int docs, od_DescribeConfigsResponse_DescribeConfigsResult_t *out)
{
    size_t n = od_topic_keys_count();
    out->configs = od_arena_calloc(&r->arena, n, sizeof(*out->configs));
    if (!out->configs)
        return -1;
    out->configs_count = 0;
    for (size_t i = 0; i < n; i++) {
        const od_topic_key_t *k = od_topic_key_at(i);
        if (!wanted(res, k->def.name))
            continue;
        cfg_out_t *o = &out->configs[out->configs_count++];
        od_cfg_source_t src;
        const char *v = od_topic_config_value(core, t, k->def.name, &src);
        o->name = od_str_c(k->def.name);
        o->value = od_str_c(v);
        o->read_only = 0;
        o->is_default = src == OD_CFGSRC_DEFAULT;
        o->config_source = (int8_t)src;
        o->is_sensitive = 0;
        o->config_type = kafka_type(k->def.type);
        o->documentation = od_str_c(docs ? k->def.doc : NULL);
        o->synonyms_count = 0;
        if (!synonyms)
            continue;
        o->synonyms = od_arena_calloc(&r->arena, 5, sizeof(*o->synonyms));
        if (!o->synonyms)
            return -1;
        const char *ov = od_topic_config(t, k->def.name);
        if (ov)
            add_syn(r, o, k->def.name, ov, OD_CFGSRC_TOPIC);
        /* Every broker level that sets it, highest first, as Kafka lists
         * them: this broker's dynamic value, the cluster default, the
         * static file, Kafka's default. */
        const od_image_t *img = &core->image;
        int dyn = 0;
        for (size_t j = 0; j < img->nbroker_configs; j++)
            if (strcmp(img->broker_configs[j].key, k->broker_key) == 0) {
                add_syn(r, o, k->broker_key, img->broker_configs[j].value, OD_CFGSRC_DYNAMIC_BROKER);
                dyn = 1;
            }
        for (size_t j = 0; j < img->nbroker_default_configs; j++)
            if (strcmp(img->broker_default_configs[j].key, k->broker_key) == 0) {
                add_syn(r, o, k->broker_key, img->broker_default_configs[j].value,
                        OD_CFGSRC_DYNAMIC_DEFAULT_BROKER);
                dyn = 1;
            }
        if (!dyn) {
            od_cfg_source_t bsrc;
            const char *bv = od_topic_config_value(core, NULL, k->def.name, &bsrc);
            if (bsrc != OD_CFGSRC_DEFAULT)
                add_syn(r, o, k->broker_key, bv, (int8_t)bsrc);
        } else {
            const od_conf_key_t *sk = od_config_find(&core->config, k->broker_key);
            if (sk && sk->value && sk->source != OD_CONF_SRC_DEFAULT)
                add_syn(r, o, k->broker_key, sk->value, OD_CFGSRC_STATIC_BROKER);
        }
        add_syn(r, o, k->broker_key, k->def.dflt, OD_CFGSRC_DEFAULT);
    }
    return 0;
}

static int describe_broker(od_core_t *core, od_req_t *r,
                           const od_DescribeConfigsRequest_DescribeConfigsResource_t *res,
                           int synonyms, int docs, od_DescribeConfigsResponse_DescribeConfigsResult_t *out)
{
    const od_config_t *c = &core->config;
    const od_image_t *img = &core->image;
    out->configs = od_arena_calloc(&r->arena, c->nkeys ? c->nkeys : 1, sizeof(*out->configs));
    if (!out->configs)
        return -1;
    out->configs_count = 0;
    for (size_t i = 0; i < c->nkeys; i++) {
        const od_conf_key_t *k = &c->keys[i];
        if (!wanted(res, k->def->name))
            continue;
        cfg_out_t *o = &out->configs[out->configs_count++];
        int secret = (k->def->flags & OD_CONF_F_SECRET) != 0;
        int dynamic = od_broker_config_dynamic(k->def->name, strlen(k->def->name), NULL);
        int8_t ssrc = k->source == OD_CONF_SRC_DEFAULT ? OD_CFGSRC_DEFAULT : OD_CFGSRC_STATIC_BROKER;
        od_cfg_source_t dsrc = OD_CFGSRC_DEFAULT;
        const char *dv = dynamic ? od_dynamic_broker_value(core, k->def->name, &dsrc) : NULL;
        int8_t src = dv ? (int8_t)dsrc : ssrc;
        o->name = od_str_c(k->def->name);
        o->value = od_str_c(secret ? NULL : dv ? dv : k->value);
        o->read_only = (int8_t)!dynamic;
        o->is_default = src == OD_CFGSRC_DEFAULT;
        o->config_source = src;
        o->is_sensitive = (int8_t)secret;
        o->config_type = kafka_type(k->def->type);
        o->documentation = od_str_c(docs ? k->def->doc : NULL);
        o->synonyms_count = 0;
        if (!synonyms)
            continue;
        o->synonyms = od_arena_calloc(&r->arena, 4, sizeof(*o->synonyms));
        if (!o->synonyms)
            return -1;
        if (dynamic) {
            for (size_t j = 0; j < img->nbroker_configs; j++)
                if (strcmp(img->broker_configs[j].key, k->def->name) == 0)
                    add_syn(r, o, k->def->name, img->broker_configs[j].value, OD_CFGSRC_DYNAMIC_BROKER);
            for (size_t j = 0; j < img->nbroker_default_configs; j++)
                if (strcmp(img->broker_default_configs[j].key, k->def->name) == 0)
                    add_syn(r, o, k->def->name, img->broker_default_configs[j].value,
                            OD_CFGSRC_DYNAMIC_DEFAULT_BROKER);
        }
        if (ssrc != OD_CFGSRC_DEFAULT)
            add_syn(r, o, k->def->name, secret ? NULL : k->value, ssrc);
        if (k->def->dflt)
            add_syn(r, o, k->def->name, secret ? NULL : k->def->dflt, OD_CFGSRC_DEFAULT);
    }
    return 0;
}

/* The broker resource "": the cluster-wide dynamic defaults, as Kafka. */
static int describe_broker_default(od_core_t *core, od_req_t *r,
                                   const od_DescribeConfigsRequest_DescribeConfigsResource_t *res,
                                   int synonyms, int docs,
                                   od_DescribeConfigsResponse_DescribeConfigsResult_t *out)
{
    const od_image_t *img = &core->image;
    size_t n = img->nbroker_default_configs;
    out->configs = od_arena_calloc(&r->arena, n ? n : 1, sizeof(*out->configs));
    if (!out->configs)
        return -1;
    out->configs_count = 0;
    for (size_t i = 0; i < n; i++) {
        const od_kv_t *kv = &img->broker_default_configs[i];
        const od_topic_key_t *tk = NULL;
        if (!wanted(res, kv->key) || !od_broker_config_dynamic(kv->key, strlen(kv->key), &tk))
            continue;
        cfg_out_t *o = &out->configs[out->configs_count++];
        o->name = od_str_c(kv->key);
        o->value = od_str_c(kv->value);
        o->read_only = 0;
        o->is_default = 0;
        o->config_source = OD_CFGSRC_DYNAMIC_DEFAULT_BROKER;
        o->is_sensitive = 0;
        o->config_type = kafka_type(tk->def.type);
        o->documentation = od_str_c(docs ? tk->def.doc : NULL);
        o->synonyms_count = 0;
        if (!synonyms)
            continue;
        o->synonyms = od_arena_calloc(&r->arena, 1, sizeof(*o->synonyms));
        if (!o->synonyms)
            return -1;
        add_syn(r, o, kv->key, kv->value, OD_CFGSRC_DYNAMIC_DEFAULT_BROKER);
    }
    return 0;
}

void od_h_describe_configs(od_req_t *r, void *body)
{
    od_core_t *core = r->conn->core;
    od_DescribeConfigsRequest_t *req = body;
    int16_t ver = r->hdr.api_version;
    od_DescribeConfigsResponse_t resp;
    od_DescribeConfigsResponse_init(&resp);
    int32_t n = req->resources_count > 0 ? req->resources_count : 0;
    resp.results = od_arena_calloc(&r->arena, n ? (size_t)n : 1, sizeof(*resp.results));
    if (!resp.results)
        goto oom;
    resp.results_count = n;
    int synonyms = ver >= 1 && req->include_synonyms;
    int docs = ver >= 3 && req->include_documentation;
    for (int32_t i = 0; i < n; i++) {
        od_DescribeConfigsRequest_DescribeConfigsResource_t *res = &req->resources[i];
        od_DescribeConfigsResponse_DescribeConfigsResult_t *o = &resp.results[i];
        o->resource_type = res->resource_type;
        o->resource_name = res->resource_name;
        o->error_message.len = -1;
        o->configs_count = 0;
        o->error_code = od_authz_config(r, OD_ACL_OP_DESCRIBE_CONFIGS, res->resource_type,
                                        res->resource_name);
        if (o->error_code != OD_ERR_NONE)
            continue;
        if (res->resource_type == RES_TOPIC) {
            od_topic_t *t = res->resource_name.len > 0
                                ? od_image_topic(&core->image, res->resource_name.p,
                                                 (size_t)res->resource_name.len)
                                : NULL;
            if (!t) {
                o->error_code = OD_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                o->error_message = od_str_c("Topic does not exist");
                continue;
            }
            if (describe_topic(core, r, t, res, synonyms, docs, o) < 0)
                goto oom;
        } else if (res->resource_type == RES_BROKER) {
            char id[24];
            snprintf(id, sizeof(id), "%lld", (long long)core->conf.node_id);
            if (res->resource_name.len > 0 && !od_str_eq(res->resource_name, id)) {
                o->error_code = OD_ERR_INVALID_REQUEST;
                o->error_message = od_str_c("Unexpected broker id: this broker has another node.id");
                continue;
            }
            if ((res->resource_name.len > 0 ? describe_broker(core, r, res, synonyms, docs, o)
                                             : describe_broker_default(core, r, res, synonyms, docs, o)) < 0)
                goto oom;
        } else {
            o->error_code = OD_ERR_INVALID_REQUEST;
            o->error_message = od_str_c("Unsupported resource type");
            continue;
        }
        o->error_code = OD_ERR_NONE;
    }
    od_DescribeConfigsResponse_encode(&r->resp, ver, &resp);
    od_req_done(r);
    return;
oom:
    od_req_drop(r);
}
