/* odr_configs.c - see odr_configs.h. */
#include "odr_configs.h"
#include "odr_format.h"
#include "odr_raw.h"

#include <stdlib.h>
#include <string.h>

void odr_configs_free(odr_configs_t *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->e[i].name);
        free(c->e[i].value);
    }
    free(c->e);
    c->e = NULL;
    c->n = 0;
}

const char *odr_config_value_text(const odr_config_entry_t *e)
{
    return e->value ? e->value : e->sensitive ? "(secret)" : "-";
}

const char *odr_config_source_name(rd_kafka_ConfigSource_t s)
{
    switch (s) {
    case RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG: return "topic";
    case RD_KAFKA_CONFIG_SOURCE_DYNAMIC_BROKER_CONFIG: return "broker";
    case RD_KAFKA_CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG: return "cluster";
    case RD_KAFKA_CONFIG_SOURCE_STATIC_BROKER_CONFIG: return "static";
    case RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG: return "default";
    default: return "unknown";
    }
}

int odr_configs_get(odr_ctx_t *ctx, rd_kafka_t *rk, rd_kafka_ResourceType_t type,
                    const char *name, const char *kind, odr_configs_t *out)
{
    int code = 0;
    out->e = NULL;
    out->n = 0;
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(type, name);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = odr_admin_options(ctx, rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    rd_kafka_DescribeConfigs(rk, &res, 1, o, q);
    rd_kafka_event_t *ev = odr_admin_wait(ctx, q, kind, name, &code);
    if (ev) {
        const rd_kafka_DescribeConfigs_result_t *r = rd_kafka_event_DescribeConfigs_result(ev);
        size_t nres = 0;
        const rd_kafka_ConfigResource_t **rs = rd_kafka_DescribeConfigs_result_resources(r, &nres);
        if (nres != 1) {
            code = odr_fail(ODR_EXIT_KAFKA, "the broker answered for %zu resources, not 1", nres);
        } else if (rd_kafka_ConfigResource_error(rs[0])) {
            code = odr_kafka_fail(rd_kafka_ConfigResource_error(rs[0]),
                                  rd_kafka_ConfigResource_error_string(rs[0]), kind, name);
        } else {
            size_t n = 0;
            const rd_kafka_ConfigEntry_t **ce = rd_kafka_ConfigResource_configs(rs[0], &n);
            out->e = calloc(n ? n : 1, sizeof *out->e);
            for (size_t i = 0; out->e && i < n; i++) {
                odr_config_entry_t *e = &out->e[out->n++];
                const char *v = rd_kafka_ConfigEntry_value(ce[i]);
                e->name = strdup(rd_kafka_ConfigEntry_name(ce[i]));
                e->value = v ? strdup(v) : NULL;
                e->source = rd_kafka_ConfigEntry_source(ce[i]);
                e->read_only = rd_kafka_ConfigEntry_is_read_only(ce[i]);
                e->is_default = rd_kafka_ConfigEntry_is_default(ce[i]);
                e->sensitive = rd_kafka_ConfigEntry_is_sensitive(ce[i]);
            }
            if (!out->e)
                code = odr_fail(ODR_EXIT_KAFKA, "out of memory");
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    rd_kafka_ConfigResource_destroy(res);
    return code;
}

/* The source a value set on this resource has. */
static rd_kafka_ConfigSource_t own_source(rd_kafka_ResourceType_t type, const char *name)
{
    if (type == RD_KAFKA_RESOURCE_TOPIC)
        return RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG;
    return *name ? RD_KAFKA_CONFIG_SOURCE_DYNAMIC_BROKER_CONFIG
                 : RD_KAFKA_CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG;
}

#define API_INCREMENTAL_ALTER_CONFIGS 44

int odr_configs_incremental(odr_ctx_t *ctx, rd_kafka_ResourceType_t type, const char *name,
                            const char *kind, char **sets, size_t nsets, char **dels,
                            size_t ndels)
{
    if (ctx->no_incremental || !odr_raw_usable(ctx))
        return -1;
    odr_raw_t c;
    int code = odr_raw_open(ctx, &c);
    if (code) {
        odr_raw_close(&c);
        return code;
    }
    if (c.max_version[API_INCREMENTAL_ALTER_CONFIGS] < 1) {
        odr_raw_close(&c);
        return -1;
    }
    /* one resource; SET (0) for each k=v, DELETE (1) with a null value */
    odr_buf_t body = {0};
    char kbuf[512];
    const char *k, *v;
    int bad = odr_wr_uvarint(&body, 2) || odr_wr_be(&body, (uint64_t)type, 1) ||
              odr_wr_compact(&body, name, strlen(name)) ||
              odr_wr_uvarint(&body, nsets + ndels + 1);
    for (size_t i = 0; !bad && i < nsets; i++) {
        if (odr_split_kv(sets[i], kbuf, sizeof kbuf, &k, &v) != 0) {
            odr_buf_free(&body);
            odr_raw_close(&c);
            return odr_usage("--set takes key=value, not '%s'", sets[i]);
        }
        bad = odr_wr_compact(&body, k, strlen(k)) || odr_wr_be(&body, 0, 1) ||
              odr_wr_compact(&body, v, strlen(v)) || odr_wr_uvarint(&body, 0);
    }
    for (size_t i = 0; !bad && i < ndels; i++)
        bad = odr_wr_compact(&body, dels[i], strlen(dels[i])) || odr_wr_be(&body, 1, 1) ||
              odr_wr_compact_null(&body) || odr_wr_uvarint(&body, 0);
    bad = bad || odr_wr_uvarint(&body, 0) /* resource tags */ ||
          odr_wr_be(&body, 0, 1) /* ValidateOnly */ || odr_wr_uvarint(&body, 0);
    uint8_t *resp = NULL;
    odr_rd_t r;
    code = bad ? odr_fail(ODR_EXIT_KAFKA, "out of memory")
               : odr_raw_call(&c, API_INCREMENTAL_ALTER_CONFIGS, 1, 1, body.p, body.len, &resp,
                              &r);
    odr_buf_free(&body);
    odr_raw_close(&c);
    if (code)
        return code;
    odr_rd_i32(&r); /* throttle */
    int64_t n = odr_rd_compact_count(&r, 5);
    for (int64_t i = 0; r.ok && i < n; i++) {
        int16_t err = odr_rd_i16(&r);
        const char *msg, *rname;
        size_t mlen, rlen;
        odr_rd_compact_str(&r, &msg, &mlen);
        odr_rd_i8(&r);
        odr_rd_compact_str(&r, &rname, &rlen);
        odr_rd_skip_tags(&r);
        if (r.ok && err && code == 0) {
            char m[512];
            snprintf(m, sizeof m, "%.*s", (int)mlen, msg ? msg : "");
            code = odr_kafka_fail((rd_kafka_resp_err_t)err, m, kind, name);
        }
    }
    free(resp);
    if (!r.ok)
        return odr_fail(ODR_EXIT_KAFKA, "the broker's IncrementalAlterConfigs answer is not readable");
    if (n != 1 && code == 0)
        return odr_fail(ODR_EXIT_KAFKA, "the broker answered for %lld resources, not 1", (long long)n);
    return code;
}

int odr_configs_alter(odr_ctx_t *ctx, rd_kafka_t *rk, rd_kafka_ResourceType_t type,
                      const char *name, const char *kind, char **sets, size_t nsets,
                      char **dels, size_t ndels)
{
    /* One broker's own configs go to that broker (librdkafka routes the
     * AlterConfigs there); the raw client only knows the first bootstrap. */
    int code = type == RD_KAFKA_RESOURCE_BROKER && *name
                   ? -1
                   : odr_configs_incremental(ctx, type, name, kind, sets, nsets, dels, ndels);
    if (code >= 0)
        return code;
    odr_configs_t cur;
    code = odr_configs_get(ctx, rk, type, name, kind, &cur);
    if (code)
        return code;
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(type, name);
    char kbuf[512];
    const char *k, *v;
    /* Keep the resource's own values that this command does not touch. */
    for (size_t i = 0; i < cur.n; i++) {
        odr_config_entry_t *e = &cur.e[i];
        if (e->source != own_source(type, name) || !e->value)
            continue;
        int touched = 0;
        for (size_t d = 0; d < ndels; d++)
            touched |= strcmp(dels[d], e->name) == 0;
        for (size_t s = 0; s < nsets; s++)
            touched |= odr_split_kv(sets[s], kbuf, sizeof kbuf, &k, &v) == 0 &&
                       strcmp(k, e->name) == 0;
        if (!touched)
            rd_kafka_ConfigResource_set_config(res, e->name, e->value);
    }
    for (size_t d = 0; d < ndels; d++) {
        int known = 0;
        for (size_t i = 0; i < cur.n; i++)
            known |= strcmp(cur.e[i].name, dels[d]) == 0;
        if (!known && code == 0)
            code = odr_fail(ODR_EXIT_KAFKA, "INVALID_CONFIG: %s '%s' has no config '%s' to delete",
                            kind, name, dels[d]);
    }
    for (size_t s = 0; s < nsets && code == 0; s++) {
        if (odr_split_kv(sets[s], kbuf, sizeof kbuf, &k, &v) != 0)
            code = odr_usage("--set takes key=value, not '%s'", sets[s]);
        else
            rd_kafka_ConfigResource_set_config(res, k, v);
    }
    odr_configs_free(&cur);
    if (code) {
        rd_kafka_ConfigResource_destroy(res);
        return code;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = odr_admin_options(ctx, rk, RD_KAFKA_ADMIN_OP_ALTERCONFIGS);
    rd_kafka_AlterConfigs(rk, &res, 1, o, q);
    rd_kafka_event_t *ev = odr_admin_wait(ctx, q, kind, name, &code);
    if (ev) {
        size_t nres = 0;
        const rd_kafka_ConfigResource_t **rs =
            rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev), &nres);
        if (nres == 1 && rd_kafka_ConfigResource_error(rs[0]))
            code = odr_kafka_fail(rd_kafka_ConfigResource_error(rs[0]),
                                  rd_kafka_ConfigResource_error_string(rs[0]), kind, name);
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    rd_kafka_ConfigResource_destroy(res);
    return code;
}
