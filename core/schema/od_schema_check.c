/* od_schema_check.c - broker-side schema validation on the produce path
 * (Confluent Server's confluent.key.schema.validation and
 * confluent.value.schema.validation). For each record of the partition's
 * batches, the key and/or the value must parse:
 *  - odradek.*.serializer=registry (the default): in Confluent's wire format
 *    (magic byte 0, a 4-byte big-endian schema id, the payload); the id must
 *    be a version of the subject <topic>-key / <topic>-value
 *    (TopicNameStrategy; confluent.*.subject.name.strategy may choose
 *    RecordNameStrategy, <record name>, or TopicRecordNameStrategy,
 *    <topic>-<record name>) and the payload validate against that schema;
 *  - any other value names a serializer that takes the raw bytes: string,
 *    int, long, double, json (with the subject's latest JSON schema when the
 *    subject has one, else any JSON), avro (the subject's latest Avro schema),
 *    or any serializer another module registers (modules/examples/serializer_upper).
 * A null key or value (a tombstone) is not checked. Every record is checked
 * and each refused one listed by batch index with its reason (Produce v8+
 * record_errors, KIP-467); the partition is refused as a whole with
 * INVALID_RECORD, so nothing of it is appended. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_batch.h"
#include "od_conn.h"
#include "od_core.h"
#include "od_ext.h"
#include "od_metadata.h"
#include "od_proto_gen.h"
#include "od_schema.h"
#include "od_schema_int.h"
#include "od_topic_config.h"

/* Most refused records listed one by one (all are counted): bounds the
 * answer a batch of many bad records makes the broker build. */
#define OD_SCHEMA_ERRORS_MAX 1000

/* What one side (key or value) of the topic's records must be. */
typedef struct side {
    const char *what; /* "key" or "value" */
    int on;
    const char *fmt;       /* odradek.*.serializer: "registry" or a serializer's name */
    int64_t strategy;      /* OD_SUBJECT_* */
    const char *topic;
    char subject[OD_SCHEMA_MAX_SUBJECT];
    /* raw formats: resolved once per request */
    const od_serializer_ops_t *ops;
    void *self, *compiled;
    char unusable[256]; /* why no record can pass (no serializer, no schema) */
} side_t;

typedef struct refused {
    int32_t index;
    const char *what;
    char reason[300];
} refused_t;

/* The topic's serializer setting says Confluent's wire format (the default). */
static int is_registry(const char *fmt)
{
    return !fmt || !*fmt || strcmp(fmt, "registry") == 0;
}

static void side_setup(od_core_t *core, side_t *s, const char *topic)
{
    snprintf(s->subject, sizeof(s->subject), "%s-%s", topic, s->what);
    if (!s->on || is_registry(s->fmt))
        return;
    const char *name = s->fmt;
    int schemaful = strcmp(name, "json") == 0 || strcmp(name, "avro") == 0;
    if (schemaful) {
        int32_t id = od_schema_version_id(core, s->subject, -1, NULL);
        od_schema_t *sc = id > 0 ? od_schema_by_id(core, id) : NULL;
        const char *want = strcmp(name, "avro") == 0 ? "AVRO" : "JSON";
        if (sc && strcmp(sc->type, want) == 0) {
            const void *ops;
            if (od_schema_compiled(core, sc, &ops, &s->self, &s->compiled, s->unusable,
                                   sizeof(s->unusable)) == 0)
                s->ops = ops;
            return;
        }
        if (strcmp(name, "avro") == 0) {
            snprintf(s->unusable, sizeof(s->unusable), "subject %.200s has no Avro schema",
                     s->subject);
            return;
        }
    }
    const od_ext_reg_t *reg = od_ext_find(core, OD_EXT_SERIALIZER, name);
    if (!reg) {
        snprintf(s->unusable, sizeof(s->unusable),
                 "no serializer '%s' is loaded (load_module serializers)", name);
        return;
    }
    s->ops = reg->ops;
    s->self = reg->self;
    s->compiled = NULL; /* schemaless */
}

/* 1 when the bytes pass; else 0 with why. */
static int check_bytes(od_core_t *core, side_t *s, const uint8_t *p, int32_t len, char *why,
                       size_t whysz)
{
    if (!p || len < 0)
        return 1; /* null: a tombstone, nothing to parse */
    char e[256] = "";
    if (!is_registry(s->fmt)) {
        if (!s->ops) {
            snprintf(why, whysz, "%s", s->unusable);
            return 0;
        }
        if (s->ops->validate(s->self, s->compiled, p, (size_t)len, e, sizeof(e)) == OD_OK)
            return 1;
        snprintf(why, whysz, "%s", e);
        return 0;
    }
    if (len < 5 || p[0] != 0) {
        snprintf(why, whysz, "not in the schema registry's wire format (magic byte 0 and a 4-byte "
                 "schema id)");
        return 0;
    }
    int32_t id = (int32_t)((uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4]);
    od_schema_t *sc = od_schema_by_id(core, id);
    if (!sc) {
        snprintf(why, whysz, "schema id %" PRId32 " does not exist", id);
        return 0;
    }
    const char *subject = s->subject;
    char byrec[OD_SCHEMA_MAX_SUBJECT * 2];
    if (s->strategy != OD_SUBJECT_TOPIC) {
        const char *rn = od_schema_record_name(sc, why, whysz);
        if (!rn)
            return 0;
        if (s->strategy == OD_SUBJECT_RECORD)
            snprintf(byrec, sizeof(byrec), "%s", rn);
        else
            snprintf(byrec, sizeof(byrec), "%s-%s", s->topic, rn);
        subject = byrec;
    }
    if (!od_schema_subject_has(core, subject, id, NULL)) {
        snprintf(why, whysz, "schema id %" PRId32 " is not a version of subject %.180s", id,
                 subject);
        return 0;
    }
    const void *ops;
    void *self, *compiled;
    if (od_schema_compiled(core, sc, &ops, &self, &compiled, e, sizeof(e)) < 0) {
        snprintf(why, whysz, "%s", e);
        return 0;
    }
    const od_serializer_ops_t *o = ops;
    if (o->validate(self, compiled, p + 5, (size_t)len - 5, e, sizeof(e)) == OD_OK)
        return 1;
    snprintf(why, whysz, "does not match schema id %" PRId32 ": %.220s", id, e);
    return 0;
}

/* Walk every record; fills the refused list. Returns the number refused,
 * or -1 with err when the records cannot be read. */
static int32_t walk(od_core_t *core, side_t *key, side_t *val, const uint8_t *batches, size_t len,
                    refused_t **listp, int32_t *nlisted, char *err, size_t errsz)
{
    od_batch_iter_t it;
    od_batch_hdr_t h;
    size_t off, size;
    int32_t nrefused = 0;
    int32_t base_index = 0; /* v3+ has one batch; older ones number across batches */
    od_batch_iter_init(&it, batches, len);
    while (od_batch_iter_next(&it, &h, &off, &size) == 1) {
        uint8_t *plain = NULL;
        const uint8_t *recs;
        size_t rlen, pos = 0;
        if (OD_BATCH_COMPRESSION(h.attributes) == OD_BATCH_CODEC_NONE) {
            recs = batches + off + OD_BATCH_HEADER_SIZE;
            rlen = size - OD_BATCH_HEADER_SIZE;
        } else if (od_batch_records_plain(batches + off, size, &plain, &rlen, err, errsz) < 0) {
            return -1;
        } else {
            recs = plain;
        }
        for (int32_t i = 0; i < h.record_count && pos < rlen; i++) {
            od_record_t rec;
            size_t used;
            if (od_record_iter(recs + pos, rlen - pos, -1, &rec, &used) < 0) {
                snprintf(err, errsz, "malformed record %d in the batch at byte %zu", i, off);
                free(plain);
                return -1;
            }
            pos += used;
            side_t *sides[2] = {key, val};
            const uint8_t *bytes[2] = {rec.key, rec.value};
            int32_t lens[2] = {rec.key_len, rec.value_len};
            for (int k = 0; k < 2; k++) {
                char why[256];
                if (!sides[k]->on || check_bytes(core, sides[k], bytes[k], lens[k], why,
                                                 sizeof(why)))
                    continue;
                if (!*listp && !(*listp = malloc(OD_SCHEMA_ERRORS_MAX * sizeof(**listp)))) {
                    snprintf(err, errsz, "out of memory");
                    free(plain);
                    return -1;
                }
                if (*nlisted < OD_SCHEMA_ERRORS_MAX) {
                    refused_t *r = &(*listp)[(*nlisted)++];
                    r->index = base_index + i;
                    r->what = sides[k]->what;
                    snprintf(r->reason, sizeof(r->reason), "%s", why);
                }
                nrefused++;
                break; /* one reason per record */
            }
        }
        free(plain);
        base_index += h.record_count;
    }
    return nrefused;
}

static void answer(od_req_t *r, const char *topic, int32_t partition, const refused_t *list,
                   int32_t nlisted, int32_t nrefused,
                   od_ProduceResponse_PartitionProduceResponse_t *out)
{
    char m[1400];
    size_t n = (size_t)snprintf(m, sizeof(m), "%" PRId32 " record(s) of %s-%" PRId32
                                " failed schema validation; the first: ", nrefused, topic,
                                partition);
    for (int32_t i = 0; i < nlisted && i < 3 && n < sizeof(m); i++)
        n += (size_t)snprintf(m + n, sizeof(m) - n, "%s[batch index %" PRId32 ", %s: %s]",
                              i ? ", " : "", list[i].index, list[i].what, list[i].reason);
    out->error_code = OD_ERR_INVALID_RECORD;
    char *pm = od_arena_strndup(&r->arena, m, strlen(m));
    if (pm)
        out->error_message = od_str_c(pm);
    out->record_errors = od_arena_calloc(&r->arena, (size_t)nlisted + 1,
                                         sizeof(*out->record_errors));
    if (!out->record_errors)
        return;
    int32_t k = 0;
    for (int32_t i = 0; i < nlisted; i++) {
        char em[400];
        snprintf(em, sizeof(em), "record at batch index %" PRId32 " (offset delta %" PRId32
                 "): %s %s", list[i].index, list[i].index, list[i].what, list[i].reason);
        char *e = od_arena_strndup(&r->arena, em, strlen(em));
        if (!e)
            break;
        out->record_errors[k].batch_index = list[i].index;
        out->record_errors[k].batch_index_error_message = od_str_c(e);
        k++;
    }
    out->record_errors_count = k;
}

int od_schema_produce_check(od_req_t *r, const od_topic_t *t, const char *topic,
                            int32_t partition, const uint8_t *batches, size_t len,
                            od_ProduceResponse_PartitionProduceResponse_t *out)
{
    if (!t->cfg.key_schema_validation && !t->cfg.value_schema_validation)
        return 0;
    od_core_t *core = r->core;
    const char *kfmt = od_topic_config_value(core, t, "odradek.key.serializer", NULL);
    const char *vfmt = od_topic_config_value(core, t, "odradek.value.serializer", NULL);
    side_t key = {"key", t->cfg.key_schema_validation != 0, kfmt,
                  t->cfg.key_subject_strategy % 3, topic, "", NULL, NULL, NULL, ""};
    side_t val = {"value", t->cfg.value_schema_validation != 0, vfmt,
                  t->cfg.value_subject_strategy % 3, topic, "", NULL, NULL, NULL, ""};
    side_setup(core, &key, topic);
    side_setup(core, &val, topic);
    refused_t *list = NULL; /* made at the first refused record */
    int32_t nlisted = 0;
    char err[256] = "";
    /* The batches were validated (and their decompression charged to the
     * request's budget) before; this second pass reads the same bounded
     * bytes, so it is not charged again. */
    size_t budget = od_batch_budget_left();
    od_batch_budget_end();
    int32_t nrefused = walk(core, &key, &val, batches, len, &list, &nlisted, err, sizeof(err));
    if (budget != SIZE_MAX)
        od_batch_budget_begin(budget);
    int refused = 1;
    if (nrefused < 0) {
        out->error_code = OD_ERR_CORRUPT_MESSAGE;
        char *pm = od_arena_strndup(&r->arena, err, strlen(err));
        if (pm)
            out->error_message = od_str_c(pm);
    } else if (nrefused > 0) {
        answer(r, topic, partition, list, nlisted, nrefused, out);
        od_logf(OD_LOG_DEBUG, "client %s: produce to %s-%d: %d record(s) failed schema validation",
                r->conn ? r->conn->peer : "?", topic, partition, (int)nrefused);
    } else {
        refused = 0;
    }
    free(list);
    return refused;
}
