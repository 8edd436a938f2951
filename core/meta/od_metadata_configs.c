/* od_metadata_configs.c - config changes as metadata records: topic
 * overrides and dynamic broker configs.
 *
 * An AlterConfigs/IncrementalAlterConfigs never edits the image: each
 * change becomes a ConfigRecord (resource type 2 = topic, 4 = broker with
 * name "" for the cluster-wide default or a node id; a null value removes
 * the setting), all of one resource proposed together so they commit
 * atomically. When the control plane has committed them it applies them
 * (od_metadata.c apply_config), which pushes the new od_log_config_t to the
 * open logs; a restart replays the same records. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_metadata_configs.h"

#include "od_core.h"
#include "od_lifecycle.h"
#include "od_metadata_int.h"
#include "od_partition.h"
#include "od_topic_config.h"
#include "od_proto_gen.h"

static int propose_configs(od_core_t *core, int8_t type, const char *name, const od_kv_t *kv,
                           size_t n, od_meta_done_cb cb, void *arg, char *err, size_t errsz)
{
    if (n == 0) { /* nothing to change: done at once */
        if (cb)
            cb(arg, OD_ERR_NONE, NULL);
        return 0;
    }
    od_meta_batch_t b = {0};
    for (size_t i = 0; i < n; i++)
        od_metadata_encode_config(&b, type, name, kv[i].key, kv[i].value);
    return od_meta_propose(core, &b, cb, arg, err, errsz);
}

int od_metadata_alter_configs(od_core_t *core, const char *topic, const od_kv_t *kv, size_t n,
                              od_meta_done_cb cb, void *arg, char *err, size_t errsz)
{
    return propose_configs(core, OD_CONFIG_RESOURCE_TOPIC, topic, kv, n, cb, arg, err, errsz);
}

int od_metadata_alter_broker_configs(od_core_t *core, const char *name, const od_kv_t *kv,
                                     size_t n, od_meta_done_cb cb, void *arg, char *err,
                                     size_t errsz)
{
    return propose_configs(core, OD_CONFIG_RESOURCE_BROKER, name, kv, n, cb, arg, err, errsz);
}

/* ---- dynamic broker configs ---- */

int od_broker_config_dynamic(const char *bkey, size_t len, const od_topic_key_t **tk)
{
    /* Kafka's DynamicLogConfig.ReconfigurableConfigs: the first broker
     * synonym of every topic config (log.retention.ms, not .hours). */
    for (size_t i = 0; i < od_topic_keys_count(); i++) {
        const od_topic_key_t *k = od_topic_key_at(i);
        if (strlen(k->broker_key) == len && memcmp(k->broker_key, bkey, len) == 0) {
            if (tk)
                *tk = k;
            return 1;
        }
    }
    return 0;
}

static const char *kv_find(const od_kv_t *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0)
            return kv[i].value;
    return NULL;
}

const char *od_dynamic_broker_value(od_core_t *core, const char *bkey, od_cfg_source_t *src)
{
    const od_image_t *img = &core->image;
    const char *v = kv_find(img->broker_configs, img->nbroker_configs, bkey);
    if (v) {
        *src = OD_CFGSRC_DYNAMIC_BROKER;
        return v;
    }
    v = kv_find(img->broker_default_configs, img->nbroker_default_configs, bkey);
    if (v) {
        *src = OD_CFGSRC_DYNAMIC_DEFAULT_BROKER;
        return v;
    }
    return NULL;
}

int od_metadata_apply_broker_config(od_core_t *core, const char *name, int32_t nlen,
                                    const char *key, int32_t klen, const char *value, int32_t vlen,
                                    char *err, size_t errsz)
{
    od_image_t *img = &core->image;
    char id[24];
    int n = snprintf(id, sizeof(id), "%lld", (long long)core->conf.node_id);
    int dflt = nlen <= 0;
    if (!dflt && (nlen != n || memcmp(name, id, (size_t)n) != 0))
        return 0; /* another broker's own setting */
    if (klen <= 0) {
        snprintf(err, errsz, "broker ConfigRecord without a name");
        return -1;
    }
    if (od_kv_set(dflt ? &img->broker_default_configs : &img->broker_configs,
                  dflt ? &img->nbroker_default_configs : &img->nbroker_configs, key,
                  (size_t)klen, value, vlen) < 0) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    od_logf(OD_LOG_INFO, "dynamic broker config %.*s of %s: %s%.*s", (int)klen, key,
            dflt ? "the cluster default" : "this broker", vlen < 0 ? "removed" : "set to ",
            vlen < 0 ? 0 : (int)vlen, vlen < 0 ? "" : value);
    /* Topic defaults may have changed: every open log takes its effective
     * settings again (retention, segment size, ...). */
    for (od_topic_t *t = od_image_next_topic(img, NULL); t; t = od_image_next_topic(img, t)) {
        od_topic_cfg_resolve(core, t, NULL, &t->cfg);
        for (int32_t i = 0; i < t->npartitions; i++)
            if (t->partitions[i])
                od_partition_reconfigure(core, t->partitions[i]);
    }
    return 0;
}
