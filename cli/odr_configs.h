/* odr_configs.h - topic and broker configs through DescribeConfigs and
 * AlterConfigs, shared by `odr topic` and `odr cluster config`.
 *
 * librdkafka 2.0.2 has no IncrementalAlterConfigs, so a change is a
 * read-modify-write: the resource's current dynamic values (those of the
 * resource's own source) are read, the change applied, and the whole set
 * written with AlterConfigs. A concurrent change by another client between
 * the read and the write is lost, and sensitive values (which the broker
 * never returns) must be set again in the same command. */
#ifndef ODR_CONFIGS_H
#define ODR_CONFIGS_H

#include "odr.h"

typedef struct odr_config_entry {
    char *name;
    char *value; /* NULL: null or sensitive */
    rd_kafka_ConfigSource_t source;
    int read_only, is_default, sensitive;
} odr_config_entry_t;

typedef struct odr_configs {
    odr_config_entry_t *e;
    size_t n;
} odr_configs_t;

/* kind and name are for messages ("topic", "orders"). Returns 0 or an exit code. */
int odr_configs_get(odr_ctx_t *ctx, rd_kafka_t *rk, rd_kafka_ResourceType_t type,
                    const char *name, const char *kind, odr_configs_t *out);
void odr_configs_free(odr_configs_t *c);
/* sets: "k=v" strings; dels: key names. Returns 0 or an exit code. */
int odr_configs_alter(odr_ctx_t *ctx, rd_kafka_t *rk, rd_kafka_ResourceType_t type,
                      const char *name, const char *kind, char **sets, size_t nsets,
                      char **dels, size_t ndels);
/* IncrementalAlterConfigs alone: an exit code, or -1 when it cannot be used
 * here (not PLAINTEXT, or the broker does not offer api 44 v1). */
int odr_configs_incremental(odr_ctx_t *ctx, rd_kafka_ResourceType_t type, const char *name,
                            const char *kind, char **sets, size_t nsets, char **dels,
                            size_t ndels);
/* A config's value for text output: the value, "(secret)" for a sensitive
 * one (never returned), else "-". */
const char *odr_config_value_text(const odr_config_entry_t *e);
/* "DYNAMIC_TOPIC_CONFIG" -> "dynamic topic config" style names for text output */
const char *odr_config_source_name(rd_kafka_ConfigSource_t s);

#endif
