/* odr_encode.c - JSON text as record bytes (odr_encode.h). The formats are
 * the broker's own serializers (modules/serializers, compiled into odr as
 * for odr_decode.c); the schema is fetched and compiled once, before any
 * input is read, so a missing subject or an unreachable registry stops the
 * run before anything is sent. */
#include "odr_encode.h"
#include "odr_decode.h"

#include <getopt.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "odr_serializers.h"

static const char *const side_name[2] = {"key", "value"};

/* Longest --value-subject (the topic's own subjects are shorter: a topic
 * name is at most 249 bytes). */
#define ODR_ENCODE_MAX_SUBJECT 512

struct odr_encoder {
    const od_serializer_ops_t *ops;
    void *compiled;
    int32_t id;    /* the schema id written before the bytes */
    int wire;      /* write Confluent's wire format */
    int raw;       /* string: the text as it is */
    const char *side;
    const char *message; /* protobuf: the message type, NULL for the first */
};

int odr_encode_option(odr_encode_args_t *a, int c, const char *arg, int *code)
{
    int side = c == ODR_OPT_KEY_FORMAT || c == ODR_OPT_KEY_SCHEMA_ID ||
                       c == ODR_OPT_KEY_SUBJECT || c == ODR_OPT_KEY_MESSAGE
                   ? 0
                   : 1;
    switch (c) {
    case ODR_OPT_VALUE_FORMAT:
    case ODR_OPT_KEY_FORMAT:
        if (!odr_serializer_find(arg)) {
            *code = odr_usage("unknown format '%s' (known: %s)", arg, odr_serializer_names());
            return 1;
        }
        a->format[side] = arg;
        return 1;
    case ODR_OPT_VALUE_SCHEMA_ID:
    case ODR_OPT_KEY_SCHEMA_ID:
        if (odr_parse_i64(arg, 1, INT32_MAX, &a->schema_id[side]) != 0)
            *code = odr_usage("--%s-schema-id takes a schema id (a number >= 1), not '%s'",
                              side_name[side], arg);
        return 1;
    case ODR_OPT_VALUE_SUBJECT:
    case ODR_OPT_KEY_SUBJECT:
        if (!*arg || strlen(arg) > ODR_ENCODE_MAX_SUBJECT)
            *code = odr_usage("--%s-subject takes a subject of 1 to %d bytes", side_name[side],
                              ODR_ENCODE_MAX_SUBJECT);
        a->subject[side] = arg;
        return 1;
    case ODR_OPT_REGISTRY:
        a->registry = arg;
        return 1;
    case ODR_OPT_VALUE_MESSAGE:
    case ODR_OPT_KEY_MESSAGE:
        if (!*arg)
            *code = odr_usage("--%s-message must not be empty", side_name[side]);
        a->message[side] = arg;
        return 1;
    default:
        return 0;
    }
}

static void unreachable_hint(void)
{
    odr_fail(ODR_EXIT_UNREACHABLE, "the registry is --registry URL, else $ODR_SCHEMA_REGISTRY, "
             "else the profile's schema.registry.url, else http://127.0.0.1:8081");
}

/* The schema text of an id or of a subject's latest version: the
 * registry's answer in *j, the id in *id. 0, or an exit code. */
static int fetch_schema(odr_ctx_t *ctx, const odr_encode_args_t *a, int side, const char *topic,
                        json_t **j, int32_t *id)
{
    /* a subject is at most ODR_ENCODE_MAX_SUBJECT bytes, each escaped to at most 3 */
    char path[3 * ODR_ENCODE_MAX_SUBJECT + 64], seg[3 * ODR_ENCODE_MAX_SUBJECT + 1];
    char subject[ODR_ENCODE_MAX_SUBJECT + 16];
    if (a->schema_id[side] > 0) {
        snprintf(path, sizeof path, "/schemas/ids/%lld", (long long)a->schema_id[side]);
        int code = odr_registry_get(ctx, a->registry, path, j);
        if (code == ODR_EXIT_UNREACHABLE)
            unreachable_hint();
        if (code == ODR_EXIT_KAFKA)
            odr_fail(code, "schema id %lld for the %ss of '%s' is not in the registry; `odr "
                     "schema list` shows the subjects, `odr schema get SUBJECT` their ids",
                     (long long)a->schema_id[side], side_name[side], topic);
        *id = (int32_t)a->schema_id[side];
        return code;
    }
    if (a->subject[side])
        snprintf(subject, sizeof subject, "%s", a->subject[side]);
    else
        snprintf(subject, sizeof subject, "%s-%s", topic, side_name[side]);
    odr_registry_escape(subject, seg, sizeof seg);
    snprintf(path, sizeof path, "/subjects/%s/versions/latest", seg);
    int code = odr_registry_get(ctx, a->registry, path, j);
    if (code == ODR_EXIT_UNREACHABLE)
        unreachable_hint();
    if (code == ODR_EXIT_KAFKA) {
        odr_fail(code, "no schema for the %ss of '%s' under subject '%s': register one with "
                 "`odr schema register %s FILE`, or name another with --%s-subject or "
                 "--%s-schema-id", side_name[side], topic, subject, subject, side_name[side],
                 side_name[side]);
        return code;
    }
    if (code)
        return code;
    json_t *jid = json_object_get(*j, "id");
    if (!json_is_integer(jid) || json_integer_value(jid) < 1 ||
        json_integer_value(jid) > INT32_MAX) {
        json_decref(*j);
        return odr_fail(ODR_EXIT_KAFKA, "the registry's answer for subject '%s' has no schema id",
                        subject);
    }
    *id = (int32_t)json_integer_value(jid);
    return 0;
}

int odr_encode_check(const odr_encode_args_t *a)
{
    for (int side = 0; side < 2; side++) {
        const char *what = side_name[side];
        int named = a->schema_id[side] || a->subject[side];
        if (!a->format[side] && named)
            return odr_usage("--%s-schema-id and --%s-subject need --%s-format", what, what, what);
        if (a->message[side] && (!a->format[side] || strcmp(a->format[side], "protobuf") != 0))
            return odr_usage("--%s-message names a protobuf message type: it needs "
                             "--%s-format protobuf", what, what);
        if (!a->format[side])
            continue;
        if (odr_serializer_find(a->format[side])->schema == ODR_SCHEMA_NONE && named)
            return odr_usage("--%s-format %s takes no schema (--%s-schema-id, --%s-subject)",
                             what, a->format[side], what, what);
        if (a->schema_id[side] && a->subject[side])
            return odr_usage("--%s-schema-id and --%s-subject exclude each other", what, what);
    }
    return 0;
}

/* The encoder of one side; *out stays NULL when no format was given. */
static int encoder_new(odr_ctx_t *ctx, const char *topic, const odr_encode_args_t *a, int side,
                       odr_encoder_t **out)
{
    *out = NULL;
    const char *what = side_name[side];
    if (!a->format[side])
        return 0;
    const odr_serializer_t *f = odr_serializer_find(a->format[side]);
    const od_serializer_ops_t *ops = f->ops;
    if (ops->struct_size < offsetof(od_serializer_ops_t, from_json) + sizeof ops->from_json ||
        !ops->from_json)
        return odr_fail(ODR_EXIT_USAGE, "this odr cannot write %s records from JSON (its "
                        "serializer has no from_json)", ops->name);
    odr_encoder_t *e = calloc(1, sizeof *e);
    if (!e)
        return odr_fail(ODR_EXIT_USAGE, "out of memory");
    e->ops = ops;
    e->side = what;
    e->raw = ops == &serializers_string_ops;
    e->message = a->message[side];
    int named = a->schema_id[side] || a->subject[side];
    if (f->schema == ODR_SCHEMA_ALWAYS || (f->schema == ODR_SCHEMA_OPTIONAL && named)) {
        json_t *j = NULL;
        int code = fetch_schema(ctx, a, side, topic, &j, &e->id);
        if (code) {
            free(e);
            return code;
        }
        json_t *text = json_object_get(j, "schema"), *type = json_object_get(j, "schemaType");
        const char *is = json_is_string(type) ? json_string_value(type) : "AVRO";
        char err[512] = "";
        if (!json_is_string(text))
            code = odr_fail(ODR_EXIT_KAFKA, "schema id %d: the registry's answer has no schema",
                            (int)e->id);
        else if (strcmp(is, f->schema_type) != 0)
            code = odr_fail(ODR_EXIT_USAGE, "schema id %d is %s, not %s: pass --%s-format %s, "
                            "or name a schema of type %s", (int)e->id, is,
                            f->schema_type, what, odr_serializer_of_type(is), f->schema_type);
        else if (ops->compile(NULL, json_string_value(text), json_string_length(text),
                              &e->compiled, err, sizeof err) != OD_OK)
            code = odr_fail(ODR_EXIT_KAFKA, "schema id %d does not compile: %s", (int)e->id, err);
        json_decref(j);
        if (code) {
            free(e);
            return code;
        }
        e->wire = 1;
    }
    *out = e;
    return 0;
}

int odr_encoders_new(odr_ctx_t *ctx, const char *topic, const odr_encode_args_t *a,
                     odr_encoder_t **key, odr_encoder_t **value)
{
    *key = *value = NULL;
    int code = encoder_new(ctx, topic, a, 0, key);
    if (!code && (code = encoder_new(ctx, topic, a, 1, value)) != 0) {
        odr_encoder_free(*key);
        *key = NULL;
    }
    return code;
}

int odr_encode(odr_encoder_t *e, const char *text, size_t len, odr_buf_t *out, char *err,
               size_t errsz)
{
    const char *pre = strcmp(e->side, "key") == 0 ? "key: " : "";
    out->len = 0;
    if (e->raw) {
        /* string takes the line as it is, as --serializer string does and
         * as Confluent's console producer reads keys: not a JSON string */
        char why[256];
        if (e->ops->validate(NULL, NULL, (const uint8_t *)text, len, why, sizeof why) != OD_OK) {
            snprintf(err, errsz, "%s%s", pre, why);
            return -1;
        }
        if (odr_buf_put(out, text, len) != 0) {
            snprintf(err, errsz, "out of memory");
            return -1;
        }
        return 0;
    }
    uint8_t *bytes = NULL;
    size_t n = 0;
    char why[512];
    why[0] = 0;
    int rc = e->message ? serializers_proto_from_json_as(e->compiled, e->message, text, len,
                                                         &bytes, &n, why, sizeof why)
                        : e->ops->from_json(NULL, e->compiled, text, len, &bytes, &n, why,
                                            sizeof why);
    if (rc != OD_OK) {
        snprintf(err, errsz, "%s%s", pre, why);
        return -1;
    }
    uint8_t head[5] = {0, (uint8_t)(e->id >> 24), (uint8_t)(e->id >> 16), (uint8_t)(e->id >> 8),
                       (uint8_t)e->id};
    rc = e->wire ? odr_buf_put(out, head, sizeof head) : 0;
    if (rc == 0)
        rc = odr_buf_put(out, bytes, n);
    free(bytes);
    if (rc != 0) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    return 0;
}

void odr_encoder_free(odr_encoder_t *e)
{
    if (!e)
        return;
    if (e->compiled)
        e->ops->free_compiled(NULL, e->compiled);
    free(e);
}
