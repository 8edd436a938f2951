/* od_metadata_configs.h - config changes as metadata records: topic
 * overrides and dynamic broker configs (per broker and cluster-wide). */
#ifndef OD_METADATA_CONFIGS_H
#define OD_METADATA_CONFIGS_H

#include <stddef.h>

#include "od_metadata.h"
#include "od_topic_config.h"

struct od_core;

/* Is bkey a broker config Kafka lets AlterConfigs change at run time
 * (DynamicBrokerConfig) that Odradek has? Those are the broker synonyms of
 * topic configs (DynamicLogConfig: log.retention.ms, message.max.bytes,
 * ...); *tk gets the topic key whose default it sets. */
int od_broker_config_dynamic(const char *bkey, size_t len, const od_topic_key_t **tk);

/* The dynamic value of broker key bkey for this node: its own
 * (DYNAMIC_BROKER_CONFIG) before the cluster-wide default
 * (DYNAMIC_DEFAULT_BROKER_CONFIG); NULL if neither is set. */
const char *od_dynamic_broker_value(struct od_core *core, const char *bkey, od_cfg_source_t *src);

/* Propose ConfigRecords for the broker resource `name` ("" for the cluster
 * default, else this node's id): each kv sets key to value, NULL removes
 * it. Values must have been validated. cb runs once committed. */
int od_metadata_alter_broker_configs(struct od_core *core, const char *name, const od_kv_t *kv,
                                     size_t n, od_meta_done_cb cb, void *arg, char *err,
                                     size_t errsz);

/* Apply a committed ConfigRecord of resource type BROKER to the image
 * (od_metadata.c apply_config): a node id other than this one is ignored;
 * every open log is reconfigured, as topic defaults may have changed.
 * 0, or -1 with err. */
int od_metadata_apply_broker_config(struct od_core *core, const char *name, int32_t nlen,
                                    const char *key, int32_t klen, const char *value, int32_t vlen,
                                    char *err, size_t errsz);

#endif
