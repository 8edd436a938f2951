/* od_topic_config.h - topic-level configuration keys (Kafka's names and
 * defaults), each with its broker-level synonym, validation, and resolution
 * of a topic's effective value: topic override, else broker setting, else
 * default. */
#ifndef OD_TOPIC_CONFIG_H
#define OD_TOPIC_CONFIG_H

#include <stddef.h>

#include "od_metadata.h"
#include "odradek-module.h"

struct od_core;

typedef enum od_cfg_source {
    OD_CFGSRC_TOPIC = 1,          /* DescribeConfigs TOPIC_CONFIG */
    OD_CFGSRC_DYNAMIC_BROKER = 2, /* DYNAMIC_BROKER_CONFIG */
    OD_CFGSRC_DYNAMIC_DEFAULT_BROKER = 3, /* DYNAMIC_DEFAULT_BROKER_CONFIG */
    OD_CFGSRC_STATIC_BROKER = 4,  /* STATIC_BROKER_CONFIG */
    OD_CFGSRC_DEFAULT = 5         /* DEFAULT_CONFIG */
} od_cfg_source_t;

typedef struct od_topic_key {
    od_conf_def_t def;      /* name, type, Kafka's topic default, bounds */
    const char *broker_key; /* synonym set in the broker config */
    int as;                 /* how the text is parsed into the field (od_topic_config.c) */
    size_t off;             /* offset of its od_topic_cfg_t field, (size_t)-1: none */
    const char *ignored;    /* set for keys accepted but ignored: why (logged) */
} od_topic_key_t;

size_t od_topic_keys_count(void);
const od_topic_key_t *od_topic_key_at(size_t i);
const od_topic_key_t *od_topic_key_find(const char *name, size_t len);
/* Broker-level keys behind the topic keys, registered by the core. */
const od_conf_def_t *od_topic_broker_defs(size_t *n);

/* Validate a topic config (for CreateTopics/AlterConfigs): known key and a
 * good value. Returns 0 or -1 with a reason (INVALID_CONFIG at the edge). */
int od_topic_config_check(const char *key, size_t klen, const char *value, int32_t vlen, char *err,
                          size_t errsz);
/* The effective text value of a topic key for topic t (t may be NULL for the
 * broker default), and where it came from. */
const char *od_topic_config_value(struct od_core *core, const od_topic_t *t, const char *key,
                                  od_cfg_source_t *source);
/* Resolve every topic key of t (NULL: the broker's defaults) into out;
 * od_metadata.c stores it in t->cfg whenever a TopicRecord or ConfigRecord
 * (topic or broker) is applied. changed: the key that record set (its
 * deprecation note is logged), or NULL. A stored value that no longer
 * passes validation falls back to the broker value, then the default. */
void od_topic_cfg_resolve(struct od_core *core, const od_topic_t *t, const char *changed,
                          od_topic_cfg_t *out);
/* The storage settings for partitions of t (from t->cfg). */
void od_topic_log_config(struct od_core *core, const od_topic_t *t, od_log_config_t *out);

#endif
