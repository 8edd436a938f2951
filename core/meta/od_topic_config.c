/* od_topic_config.c - topic configs: Kafka's keys, defaults and synonyms. */
#include "od_topic_config.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_codec.h"
#include "od_core.h"
#include "od_metadata_configs.h"

#define LMAX INT64_MAX
#define IMAX INT32_MAX

/* How a key's text becomes its od_topic_cfg_t field. */
enum { AS_INT, AS_DOUBLE, AS_POLICY, AS_CODEC, AS_TSTYPE, AS_ENUMIDX, AS_NONE };
#define NOFIELD ((size_t)-1)

#define KEY(name, type, dflt, min, max, choices, doc, bkey, as, field)                        \
    {{name, type, dflt, min, max, choices, doc, NULL, 0}, bkey, as,                            \
     offsetof(od_topic_cfg_t, field), NULL}
/* Accepted as Kafka 3.x accepts them, validated, shown by DescribeConfigs,
 * and otherwise ignored (note: why, logged when a topic sets one). */
#define IGNORED(name, type, dflt, choices, doc, bkey, note)                                   \
    {{name, type, dflt, 0, 0, choices, doc, NULL, 0}, bkey, AS_NONE, NOFIELD, note}

/* Topic keys: Kafka 3.x names and defaults, with the broker key that sets
 * the default for every topic, and the od_topic_cfg_t field each lands in. */
static const od_topic_key_t topic_keys[] = {
    KEY("cleanup.policy", OD_CONF_LIST, "delete", 0, 0, NULL,
        "delete and/or compact (comma separated)", "log.cleanup.policy", AS_POLICY,
        cleanup_policy),
    KEY("compression.type", OD_CONF_ENUM, "producer", 0, 0,
        "uncompressed,zstd,lz4,snappy,gzip,producer",
        "codec of stored batches; producer keeps the client's", "compression.type", AS_CODEC,
        compression_type),
    /* Broker-side schema validation (Confluent Server's names; core/schema/). */
    KEY("confluent.key.schema.validation", OD_CONF_BOOL, "false", 0, 0, NULL,
        "record keys must parse against the topic's schema (doc/serializers.md)",
        "confluent.key.schema.validation", AS_INT, key_schema_validation),
    KEY("confluent.key.subject.name.strategy", OD_CONF_ENUM, OD_SUBJECT_STRATEGY_DEFAULT, 0, 0,
        OD_SUBJECT_STRATEGY_CHOICES, "the subject a validated key's schema id must belong to",
        "confluent.key.subject.name.strategy", AS_ENUMIDX, key_subject_strategy),
    KEY("confluent.value.schema.validation", OD_CONF_BOOL, "false", 0, 0, NULL,
        "record values must parse against the topic's schema (doc/serializers.md)",
        "confluent.value.schema.validation", AS_INT, value_schema_validation),
    KEY("confluent.value.subject.name.strategy", OD_CONF_ENUM, OD_SUBJECT_STRATEGY_DEFAULT, 0, 0,
        OD_SUBJECT_STRATEGY_CHOICES, "the subject a validated value's schema id must belong to",
        "confluent.value.subject.name.strategy", AS_ENUMIDX, value_subject_strategy),
    KEY("delete.retention.ms", OD_CONF_INT, "86400000", 0, LMAX, NULL,
        "how long tombstones are kept on compacted topics", "log.cleaner.delete.retention.ms",
        AS_INT, delete_retention_ms),
    KEY("file.delete.delay.ms", OD_CONF_INT, "60000", 0, LMAX, NULL,
        "delay before a deleted segment's files are removed", "log.segment.delete.delay.ms",
        AS_INT, file_delete_delay_ms),
    KEY("flush.messages", OD_CONF_INT, "9223372036854775807", 1, LMAX, NULL,
        "fsync after this many messages", "log.flush.interval.messages", AS_INT, flush_messages),
    KEY("flush.ms", OD_CONF_INT, "9223372036854775807", 0, LMAX, NULL,
        "fsync after this many milliseconds", "log.flush.interval.ms", AS_INT, flush_ms),
    KEY("index.interval.bytes", OD_CONF_INT, "4096", 0, IMAX, NULL,
        "bytes of log between offset index entries", "log.index.interval.bytes", AS_INT,
        index_interval_bytes),
    KEY("max.compaction.lag.ms", OD_CONF_INT, "9223372036854775807", 1, LMAX, NULL,
        "longest a record stays ineligible for compaction", "log.cleaner.max.compaction.lag.ms",
        AS_INT, max_compaction_lag_ms),
    KEY("max.message.bytes", OD_CONF_INT, "1048588", 0, IMAX, NULL,
        "largest record batch accepted", "message.max.bytes", AS_INT, max_message_bytes),
    IGNORED("message.downconversion.enable", OD_CONF_BOOL, "true", NULL,
            "accepted and ignored: batches are stored and served as magic 2 only",
            "log.message.downconversion.enable",
            "odradekd never down-converts (it serves Fetch v4+ only, magic 2)"),
    IGNORED("message.format.version", OD_CONF_STRING, "3.0-IV1", NULL,
            "deprecated in Kafka 3.0 and ignored: batches are always stored as magic 2",
            "log.message.format.version",
            "deprecated since Kafka 3.0, which always writes message format v2"),
    KEY("message.timestamp.after.max.ms", OD_CONF_INT, "9223372036854775807", 0, LMAX, NULL,
        "how far a CreateTime timestamp may lie ahead of the broker's clock",
        "log.message.timestamp.after.max.ms", AS_INT, message_timestamp_after_max_ms),
    KEY("message.timestamp.before.max.ms", OD_CONF_INT, "9223372036854775807", 0, LMAX, NULL,
        "how far a CreateTime timestamp may lie behind the broker's clock",
        "log.message.timestamp.before.max.ms", AS_INT, message_timestamp_before_max_ms),
    KEY("message.timestamp.difference.max.ms", OD_CONF_INT, "9223372036854775807", 0, LMAX, NULL,
        "largest allowed difference between a CreateTime timestamp and the broker's clock",
        "log.message.timestamp.difference.max.ms", AS_INT, message_timestamp_difference_max_ms),
    KEY("message.timestamp.type", OD_CONF_ENUM, "CreateTime", 0, 0, "CreateTime,LogAppendTime",
        "CreateTime keeps the producer's timestamps; LogAppendTime uses the broker's",
        "log.message.timestamp.type", AS_TSTYPE, log_append_time),
    KEY("min.cleanable.dirty.ratio", OD_CONF_DOUBLE, "0.5", 0, 1, NULL,
        "dirty share of a log that triggers compaction", "log.cleaner.min.cleanable.ratio",
        AS_DOUBLE, min_cleanable_dirty_ratio),
    KEY("min.compaction.lag.ms", OD_CONF_INT, "0", 0, LMAX, NULL,
        "shortest time a record stays uncompacted", "log.cleaner.min.compaction.lag.ms", AS_INT,
        min_compaction_lag_ms),
    KEY("min.insync.replicas", OD_CONF_INT, "1", 1, IMAX, NULL,
        "replicas that must acknowledge an acks=all write", "min.insync.replicas", AS_INT,
        min_insync_replicas),
    /* A name, not an enum: a module may register more serializers. */
    {{"odradek.key.serializer", OD_CONF_STRING, "registry", 0, 0, NULL,
      "format validated keys are in: registry (Confluent wire format, schema by id) or the "
      "name of a loaded serializer applied to the raw bytes", NULL, 0},
     "odradek.key.serializer", AS_NONE, NOFIELD, NULL},
    /* A name, not an enum: a module may register more serializers. */
    {{"odradek.value.serializer", OD_CONF_STRING, "registry", 0, 0, NULL,
      "format validated values are in: registry (Confluent wire format, schema by id) or the "
      "name of a loaded serializer applied to the raw bytes", NULL, 0},
     "odradek.value.serializer", AS_NONE, NOFIELD, NULL},
    /* Odradek's keys (Kafka has no placement check): read as text by
     * core/route/od_route_place.c, doc/routing.md. */
    {{"placement.action", OD_CONF_ENUM, "reject", 0, 0, "reject,warn",
      "placement check: reject misplaced keyed records (INVALID_RECORD) or warn (counted and "
      "logged)", NULL, 0}, "placement.action", AS_NONE, NOFIELD, NULL},
    {{"placement.partitioner", OD_CONF_STRING, "", 0, 0, NULL,
      "partitioner (a module's or a Lua script's) keyed records must agree with; empty: no "
      "placement check", NULL, 0}, "placement.partitioner", AS_NONE, NOFIELD, NULL},
    KEY("preallocate", OD_CONF_BOOL, "false", 0, 0, NULL, "preallocate segment files",
        "log.preallocate", AS_INT, preallocate),
    KEY("retention.bytes", OD_CONF_INT, "-1", -1, LMAX, NULL,
        "size a partition may grow to before old segments are deleted (-1: no limit)",
        "log.retention.bytes", AS_INT, retention_bytes),
    KEY("retention.ms", OD_CONF_INT, "604800000", -1, LMAX, NULL,
        "age after which segments are deleted (-1: no limit)", "log.retention.ms", AS_INT,
        retention_ms),
    KEY("segment.bytes", OD_CONF_INT, "1073741824", 14, IMAX, NULL, "size of one segment file",
        "log.segment.bytes", AS_INT, segment_bytes),
    KEY("segment.index.bytes", OD_CONF_INT, "10485760", 4, IMAX, NULL,
        "largest offset index of one segment", "log.index.size.max.bytes", AS_INT,
        segment_index_bytes),
    KEY("segment.jitter.ms", OD_CONF_INT, "0", 0, LMAX, NULL,
        "random jitter subtracted from segment.ms", "log.roll.jitter.ms", AS_INT,
        segment_jitter_ms),
    KEY("segment.ms", OD_CONF_INT, "604800000", 1, LMAX, NULL,
        "time after which a segment is rolled even if not full", "log.roll.ms", AS_INT,
        segment_ms),
    KEY("unclean.leader.election.enable", OD_CONF_BOOL, "false", 0, 0, NULL,
        "allow an out-of-sync replica to become leader", "unclean.leader.election.enable", AS_INT,
        unclean_leader_election_enable),
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

/* Kafka's version strings: 0.10.0, 2.8, 3.0-IV1, ... */
static int version_ok(const char *v)
{
    int parts = 0;
    while (isdigit((unsigned char)*v)) {
        while (isdigit((unsigned char)*v))
            v++;
        parts++;
        if (*v != '.')
            break;
        v++;
    }
    if (parts < 2 || parts > 3 || v[-1] == '.')
        return 0;
    if (strncmp(v, "-IV", 3) == 0 && isdigit((unsigned char)v[3])) {
        for (v += 3; isdigit((unsigned char)*v); v++)
            ;
    }
    return *v == 0;
}

/* Parse v (NUL-terminated) for key k; with cfg, store it in its field. */
static int parse_value(const od_topic_key_t *k, const char *v, od_topic_cfg_t *cfg, char *err,
                       size_t errsz)
{
    union {
        int64_t i;
        double d;
    } x = {0};
    if (od_conf_parse(&k->def, v, &x, err, errsz) < 0)
        return -1;
    int64_t iv = x.i;
    switch (k->as) {
    case AS_POLICY: {
        iv = 0;
        const char *p = v;
        while (*p) {
            while (*p == ' ')
                p++;
            size_t n = strcspn(p, ",");
            size_t m = n;
            while (m > 0 && p[m - 1] == ' ')
                m--;
            if (m == 6 && memcmp(p, "delete", 6) == 0)
                iv |= OD_CLEANUP_DELETE;
            else if (m == 7 && memcmp(p, "compact", 7) == 0)
                iv |= OD_CLEANUP_COMPACT;
            else {
                snprintf(err, errsz, "cleanup.policy value '%.*s' is not delete or compact", (int)m,
                         p);
                return -1;
            }
            p += n;
            if (*p == ',')
                p++;
        }
        break;
    }
    case AS_CODEC:
        iv = od_codec_from_config(v);
        break;
    case AS_TSTYPE:
        iv = strcmp(v, "LogAppendTime") == 0;
        break;
    case AS_ENUMIDX: { /* the value's position in the choices (validated above) */
        size_t vl = strlen(v);
        iv = 0;
        for (const char *c = k->def.choices; *c; iv++) {
            size_t n = strcspn(c, ",");
            if (n == vl && memcmp(c, v, n) == 0)
                break;
            c += n;
            if (*c == ',')
                c++;
        }
        break;
    }
    case AS_NONE:
        if (strcmp(k->def.name, "message.format.version") == 0 && !version_ok(v)) {
            snprintf(err, errsz, "value '%s' for message.format.version is not a Kafka version "
                                 "(such as 2.8 or 3.0-IV1)", v);
            return -1;
        }
        return 0;
    }
    if (cfg && k->off != NOFIELD) {
        if (k->as == AS_DOUBLE)
            memcpy((char *)cfg + k->off, &x.d, sizeof(double));
        else
            memcpy((char *)cfg + k->off, &iv, sizeof(int64_t));
    }
    return 0;
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
    int rc = parse_value(k, v, NULL, err, errsz);
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

void od_topic_cfg_resolve(od_core_t *core, const od_topic_t *t, const char *changed,
                          od_topic_cfg_t *out)
{
    od_topic_cfg_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    for (size_t i = 0; i < NKEYS; i++) {
        const od_topic_key_t *k = &topic_keys[i];
        od_cfg_source_t src;
        const char *v = od_topic_config_value(core, t, k->def.name, &src);
        char why[256];
        /* Values were checked before they were proposed; one that is
         * refused now (written by an older broker, e.g. a ratio of nan)
         * falls back to the broker's value, then to Kafka's default. */
        if (!v || parse_value(k, v, &cfg, why, sizeof(why)) < 0) {
            if (v)
                od_logf(OD_LOG_WARN, "topic %s: %s=%s is refused (%s); using the %s",
                        t ? t->name : "(broker)", k->def.name, v, why,
                        src == OD_CFGSRC_TOPIC ? "broker value" : "default");
            v = src == OD_CFGSRC_TOPIC ? od_topic_config_value(core, NULL, k->def.name, &src)
                                       : NULL;
            if (!v || parse_value(k, v, &cfg, why, sizeof(why)) < 0)
                parse_value(k, k->def.dflt, &cfg, why, sizeof(why));
        }
        if (k->ignored && t && src == OD_CFGSRC_TOPIC && changed &&
            strcmp(changed, k->def.name) == 0)
            od_logf(OD_LOG_WARN, "topic %s: %s=%s is accepted and ignored: %s", t->name,
                    k->def.name, v, k->ignored);
    }
    *out = cfg;
}

void od_topic_log_config(od_core_t *core, const od_topic_t *t, od_log_config_t *out)
{
    od_topic_cfg_t broker;
    const od_topic_cfg_t *c = &broker;
    if (t)
        c = &t->cfg;
    else
        od_topic_cfg_resolve(core, NULL, NULL, &broker);
    memset(out, 0, sizeof(*out));
    out->struct_size = sizeof(*out);
    out->segment_bytes = c->segment_bytes;
    out->segment_ms = c->segment_ms;
    out->index_interval_bytes = c->index_interval_bytes;
    out->segment_index_bytes = c->segment_index_bytes;
    out->flush_messages = c->flush_messages;
    out->flush_ms = c->flush_ms;
    out->preallocate = c->preallocate;
    out->retention_ms = c->retention_ms;
    out->retention_bytes = c->retention_bytes;
    out->cleanup_policy = c->cleanup_policy;
    out->delete_retention_ms = c->delete_retention_ms;
    out->min_cleanable_dirty_ratio = c->min_cleanable_dirty_ratio;
    out->min_compaction_lag_ms = c->min_compaction_lag_ms;
    out->max_compaction_lag_ms = c->max_compaction_lag_ms;
    out->file_delete_delay_ms = c->file_delete_delay_ms;
    out->segment_jitter_ms = c->segment_jitter_ms;
}
