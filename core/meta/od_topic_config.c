/* od_topic_config.c - topic configs: Kafka's keys, defaults and synonyms. */
#include "od_topic_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_metadata_configs.h"

#define LMAX INT64_MAX
#define IMAX INT32_MAX

/* Topic keys: Kafka 3.x names and defaults, with the broker key that sets
 * the default for every topic. */
static const od_topic_key_t topic_keys[] = {
    {{"cleanup.policy", OD_CONF_LIST, "delete", 0, 0, NULL,
      "delete and/or compact (comma separated)", NULL, 0}, "log.cleanup.policy"},
    {{"compression.type", OD_CONF_ENUM, "producer", 0, 0,
      "uncompressed,zstd,lz4,snappy,gzip,producer", "codec of stored batches; producer keeps the client's",
      NULL, 0}, "compression.type"},
    {{"delete.retention.ms", OD_CONF_INT, "86400000", 0, LMAX, NULL,
      "how long tombstones are kept on compacted topics", NULL, 0}, "log.cleaner.delete.retention.ms"},
    {{"file.delete.delay.ms", OD_CONF_INT, "60000", 0, LMAX, NULL,
      "delay before a deleted segment's files are removed", NULL, 0}, "log.segment.delete.delay.ms"},
    {{"flush.messages", OD_CONF_INT, "9223372036854775807", 1, LMAX, NULL,
      "fsync after this many messages", NULL, 0}, "log.flush.interval.messages"},
    {{"flush.ms", OD_CONF_INT, "9223372036854775807", 0, LMAX, NULL,
      "fsync after this many milliseconds", NULL, 0}, "log.flush.interval.ms"},
    {{"index.interval.bytes", OD_CONF_INT, "4096", 0, IMAX, NULL,
      "bytes of log between offset index entries", NULL, 0}, "log.index.interval.bytes"},
    {{"max.compaction.lag.ms", OD_CONF_INT, "9223372036854775807", 1, LMAX, NULL,
      "longest a record stays ineligible for compaction", NULL, 0}, "log.cleaner.max.compaction.lag.ms"},
    {{"max.message.bytes", OD_CONF_INT, "1048588", 0, IMAX, NULL,
      "largest record batch accepted", NULL, 0}, "message.max.bytes"},
    {{"message.timestamp.after.max.ms", OD_CONF_INT, "9223372036854775807", 0, LMAX, NULL,
      "how far a CreateTime timestamp may lie ahead of the broker's clock", NULL, 0},
     "log.message.timestamp.after.max.ms"},
    {{"message.timestamp.before.max.ms", OD_CONF_INT, "9223372036854775807", 0, LMAX, NULL,
      "how far a CreateTime timestamp may lie behind the broker's clock", NULL, 0},
     "log.message.timestamp.before.max.ms"},
    {{"message.timestamp.difference.max.ms", OD_CONF_INT, "9223372036854775807", 0, LMAX, NULL,
      "largest allowed difference between a CreateTime timestamp and the broker's clock", NULL, 0},
     "log.message.timestamp.difference.max.ms"},
    {{"message.timestamp.type", OD_CONF_ENUM, "CreateTime", 0, 0, "CreateTime,LogAppendTime",
      "CreateTime keeps the producer's timestamps; LogAppendTime uses the broker's", NULL, 0},
     "log.message.timestamp.type"},
    {{"min.cleanable.dirty.ratio", OD_CONF_DOUBLE, "0.5", 0, 1, NULL,
      "dirty share of a log that triggers compaction", NULL, 0}, "log.cleaner.min.cleanable.ratio"},
    {{"min.compaction.lag.ms", OD_CONF_INT, "0", 0, LMAX, NULL,
      "shortest time a record stays uncompacted", NULL, 0}, "log.cleaner.min.compaction.lag.ms"},
    {{"min.insync.replicas", OD_CONF_INT, "1", 1, IMAX, NULL,
      "replicas that must acknowledge an acks=all write", NULL, 0}, "min.insync.replicas"},
    {{"preallocate", OD_CONF_BOOL, "false", 0, 0, NULL, "preallocate segment files", NULL, 0},
     "log.preallocate"},
    {{"retention.bytes", OD_CONF_INT, "-1", -1, LMAX, NULL,
      "size a partition may grow to before old segments are deleted (-1: no limit)", NULL, 0},
     "log.retention.bytes"},
    {{"retention.ms", OD_CONF_INT, "604800000", -1, LMAX, NULL,
      "age after which segments are deleted (-1: no limit)", NULL, 0}, "log.retention.ms"},
    {{"segment.bytes", OD_CONF_INT, "1073741824", 14, IMAX, NULL, "size of one segment file", NULL, 0},
     "log.segment.bytes"},
    {{"segment.index.bytes", OD_CONF_INT, "10485760", 4, IMAX, NULL,
      "largest offset index of one segment", NULL, 0}, "log.index.size.max.bytes"},
    {{"segment.jitter.ms", OD_CONF_INT, "0", 0, LMAX, NULL, "random jitter subtracted from segment.ms",
      NULL, 0}, "log.roll.jitter.ms"},
    {{"segment.ms", OD_CONF_INT, "604800000", 1, LMAX, NULL,
      "time after which a segment is rolled even if not full", NULL, 0}, "log.roll.ms"},
    {{"unclean.leader.election.enable", OD_CONF_BOOL, "false", 0, 0, NULL,
      "allow an out-of-sync replica to become leader", NULL, 0}, "unclean.leader.election.enable"},
};
#define NKEYS (sizeof(topic_keys) / sizeof(topic_keys[0]))

/* Broker keys. Where Kafka derives a key from an hours/minutes variant, the
 * hours key is registered too and resolved in broker_value(). */
static od_conf_def_t broker_defs[NKEYS + 4];
static size_t nbroker_defs;

size_t od_topic_keys_count(void) { return NKEYS; }
const od_topic_key_t *od_topic_key_at(size_t i) { return i < NKEYS ? &topic_keys[i] : NULL; }

const od_topic_key_t *od_topic_key_find(const char *name, size_t len)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strlen(topic_keys[i].def.name) == len && memcmp(topic_keys[i].def.name, name, len) == 0)
            return &topic_keys[i];
    return NULL;
}

const od_conf_def_t *od_topic_broker_defs(size_t *n)
{
    if (nbroker_defs == 0) {
        for (size_t i = 0; i < NKEYS; i++) {
            od_conf_def_t d = topic_keys[i].def;
            d.name = topic_keys[i].broker_key;
            d.target = NULL;
            d.flags = OD_CONF_F_TOPIC;
            /* Kafka leaves these unset and derives them from other keys. */
            if (strcmp(d.name, "log.retention.ms") == 0 || strcmp(d.name, "log.roll.ms") == 0 ||
                strcmp(d.name, "log.flush.interval.ms") == 0)
                d.dflt = NULL;
            broker_defs[nbroker_defs++] = d;
        }
        static const od_conf_def_t extra[] = {
            {"log.retention.hours", OD_CONF_INT, "168", -1, INT32_MAX, NULL,
             "retention in hours, used when log.retention.ms and log.retention.minutes are unset", NULL, 0},
            {"log.retention.minutes", OD_CONF_INT, NULL, -1, INT32_MAX, NULL,
             "retention in minutes, used when log.retention.ms is unset", NULL, 0},
            {"log.roll.hours", OD_CONF_INT, "168", 1, INT32_MAX, NULL,
             "segment roll time in hours, used when log.roll.ms is unset", NULL, 0},
        };
        for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
            broker_defs[nbroker_defs++] = extra[i];
    }
    *n = nbroker_defs;
    return broker_defs;
}

int od_topic_config_check(const char *key, size_t klen, const char *value, int32_t vlen, char *err,
                          size_t errsz)
{
    const od_topic_key_t *k = od_topic_key_find(key, klen);
    if (!k) {
        snprintf(err, errsz, "unknown topic config '%.*s'", (int)klen, key);
        return -1;
    }
    if (vlen < 0) {
        snprintf(err, errsz, "null value for topic config '%s'", k->def.name);
        return -1;
    }
    char *v = strndup(value, (size_t)vlen);
    if (!v) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    int rc = od_conf_parse(&k->def, v, NULL, err, errsz);
    if (rc == 0 && strcmp(k->def.name, "cleanup.policy") == 0) {
        char *save = NULL;
        for (char *tok = strtok_r(v, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            while (*tok == ' ')
                tok++;
            if (strcmp(tok, "delete") != 0 && strcmp(tok, "compact") != 0) {
                snprintf(err, errsz, "cleanup.policy value '%s' is not delete or compact", tok);
                rc = -1;
                break;
            }
        }
    }
    free(v);
    return rc;
}

static const char *broker_value(od_core_t *core, const char *bkey, od_cfg_source_t *src)
{
    static char buf[32];
    const char *dv = od_dynamic_broker_value(core, bkey, src); /* od_metadata_configs.c */
    if (dv)
        return dv;
    const od_conf_key_t *k = od_config_find(&core->config, bkey);
    if (k && k->value && k->source != OD_CONF_SRC_DEFAULT) {
        *src = OD_CFGSRC_STATIC_BROKER;
        return k->value;
    }
    /* Derived keys: ms from minutes or hours, as Kafka does. */
    const char *alt = NULL;
    int64_t mul = 0;
    if (strcmp(bkey, "log.retention.ms") == 0) {
        const od_conf_key_t *m = od_config_find(&core->config, "log.retention.minutes");
        if (m && m->source != OD_CONF_SRC_DEFAULT) {
            alt = m->value;
            mul = 60000;
        } else {
            m = od_config_find(&core->config, "log.retention.hours");
            alt = m ? m->value : NULL;
            mul = 3600000;
            if (m && m->source == OD_CONF_SRC_DEFAULT)
                alt = NULL;
        }
    } else if (strcmp(bkey, "log.roll.ms") == 0) {
        const od_conf_key_t *m = od_config_find(&core->config, "log.roll.hours");
        if (m && m->source != OD_CONF_SRC_DEFAULT) {
            alt = m->value;
            mul = 3600000;
        }
    }
    if (alt) {
        long long v = atoll(alt);
        snprintf(buf, sizeof(buf), "%lld", v < 0 ? -1 : v * (long long)mul);
        *src = OD_CFGSRC_STATIC_BROKER;
        return buf;
    }
    return NULL;
}

const char *od_topic_config_value(od_core_t *core, const od_topic_t *t, const char *key,
                                  od_cfg_source_t *source)
{
    od_cfg_source_t dummy;
    if (!source)
        source = &dummy;
    const od_topic_key_t *k = od_topic_key_find(key, strlen(key));
    if (!k)
        return NULL;
    if (t) {
        const char *v = od_topic_config(t, key);
        if (v) {
            *source = OD_CFGSRC_TOPIC;
            return v;
        }
    }
    const char *v = broker_value(core, k->broker_key, source);
    if (v)
        return v;
    *source = OD_CFGSRC_DEFAULT;
    return k->def.dflt;
}

int64_t od_topic_config_int(od_core_t *core, const od_topic_t *t, const char *key)
{
    const char *v = od_topic_config_value(core, t, key, NULL);
    if (!v)
        return 0;
    if (strcasecmp(v, "true") == 0)
        return 1;
    if (strcasecmp(v, "false") == 0)
        return 0;
    return strtoll(v, NULL, 10);
}

void od_topic_log_config(od_core_t *core, const od_topic_t *t, od_log_config_t *out)
{
    memset(out, 0, sizeof(*out));
    out->struct_size = sizeof(*out);
    out->segment_bytes = od_topic_config_int(core, t, "segment.bytes");
    out->segment_ms = od_topic_config_int(core, t, "segment.ms");
    out->index_interval_bytes = od_topic_config_int(core, t, "index.interval.bytes");
    out->segment_index_bytes = od_topic_config_int(core, t, "segment.index.bytes");
    out->flush_messages = od_topic_config_int(core, t, "flush.messages");
    out->flush_ms = od_topic_config_int(core, t, "flush.ms");
    out->preallocate = od_topic_config_int(core, t, "preallocate");
    out->retention_ms = od_topic_config_int(core, t, "retention.ms");
    out->retention_bytes = od_topic_config_int(core, t, "retention.bytes");
    const char *policy = od_topic_config_value(core, t, "cleanup.policy", NULL);
    out->cleanup_policy = (policy && strstr(policy, "delete") ? OD_CLEANUP_DELETE : 0) |
                          (policy && strstr(policy, "compact") ? OD_CLEANUP_COMPACT : 0);
    out->delete_retention_ms = od_topic_config_int(core, t, "delete.retention.ms");
    const char *ratio = od_topic_config_value(core, t, "min.cleanable.dirty.ratio", NULL);
    out->min_cleanable_dirty_ratio = ratio ? strtod(ratio, NULL) : 0.5;
    out->min_compaction_lag_ms = od_topic_config_int(core, t, "min.compaction.lag.ms");
    out->max_compaction_lag_ms = od_topic_config_int(core, t, "max.compaction.lag.ms");
    out->file_delete_delay_ms = od_topic_config_int(core, t, "file.delete.delay.ms");
    out->segment_jitter_ms = od_topic_config_int(core, t, "segment.jitter.ms");
}
