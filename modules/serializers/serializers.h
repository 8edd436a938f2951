/* serializers.h - what the files of the `serializers` module share: each
 * format is a table of od_serializer_ops_t functions (compile, validate,
 * compatible) registered by serializers_module.c. */
#ifndef SERIALIZERS_H
#define SERIALIZERS_H

#include <stddef.h>
#include <stdint.h>

#include <odradek-module.h>

/* Deepest nesting a schema or a datum may have (JSON objects and arrays,
 * Avro records, arrays, maps and unions): hostile input ends in a clear
 * error, never in a deep recursion. */
#define SERIALIZERS_MAX_DEPTH 64

/* Largest schema text accepted (bytes). */
#define SERIALIZERS_MAX_SCHEMA (1024 * 1024)

/* Largest JSON text from_json reads and largest record it makes (bytes):
 * Avro field defaults can make a record larger than its JSON text. */
#define SERIALIZERS_MAX_ENCODED (16 * 1024 * 1024)

int serializers_errf(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Schemaless formats (serializers_prim.c). */
extern const od_serializer_ops_t serializers_string_ops;
extern const od_serializer_ops_t serializers_int_ops;
extern const od_serializer_ops_t serializers_long_ops;
extern const od_serializer_ops_t serializers_double_ops;
/* A JSON document, and with a schema the JSON Schema subset of doc/serializers.md. */
extern const od_serializer_ops_t serializers_json_ops;
/* Avro binary datum against an Avro schema (libavro parses the schema). */
extern const od_serializer_ops_t serializers_avro_ops;
/* Protobuf wire format against a message type of a FileDescriptorSet. */
extern const od_serializer_ops_t serializers_proto_ops;

/* Protobuf's from_json (serializers_proto_write.c) with the message type
 * chosen: message is its full name ("shop.Order.Item"), NULL for the
 * default, which is what the ops table's from_json uses. What the output
 * starts with depends on the schema's form, as validate and to_json read
 * records of it:
 *  - "Message.Name\n" + FileDescriptorSet: the records are that message
 *    type, no prefix; message must be NULL or that name.
 *  - the registry's base64 FileDescriptorProto: Confluent's message
 *    indexes naming the type come first (a lone 0 for the file's first
 *    message type, the default), then the message. A producer writing
 *    the registry's wire format puts only the magic byte 0 and the 4-byte
 *    schema id before this output (odr_decode.c strips just those 5).
 * JSON texts larger than SERIALIZERS_PROTO_MAX_JSON and outputs larger
 * than SERIALIZERS_PROTO_MAX_OUT are refused. */
#define SERIALIZERS_PROTO_MAX_JSON (16 * 1024 * 1024)
#define SERIALIZERS_PROTO_MAX_OUT (64 * 1024 * 1024)
int serializers_proto_from_json_as(void *compiled, const char *message, const char *json,
                                   size_t json_len, uint8_t **out, size_t *out_len, char *err,
                                   size_t errsz);

/* Whether p[0..len) is well-formed UTF-8 (no overlongs, no surrogates,
 * nothing past U+10FFFF); on failure *bad gets the offending offset. */
int serializers_utf8_ok(const uint8_t *p, size_t len, size_t *bad);

/* A double as JSON: a number, or for NaN and the infinities (which JSON
 * lacks) the strings "NaN", "Infinity", "-Infinity" (for to_json). */
struct json_t *serializers_real_json(double d);

/* ---- from_json's shared pieces (serializers_prim.c) ---- */
/* One JSON text (any value, duplicate keys refused, nested at most
 * SERIALIZERS_MAX_DEPTH, at most SERIALIZERS_MAX_ENCODED bytes), or NULL
 * with err ("not JSON: ... at byte N"). */
struct json_t *serializers_parse_json(const char *json, size_t len, char *err, size_t errsz);
/* What a JSON value is, for "expected X, got <this>": "a string", "an
 * integer", "a number", "an object", "an array", "a boolean", "null". */
const char *serializers_json_kind(const struct json_t *v);
/* Whether v nests at most SERIALIZERS_MAX_DEPTH - depth deep. */
int serializers_json_depth_ok(const struct json_t *v, int depth);
/* Where in a JSON document a value is: a chain of keys and indexes on the
 * walk's stack, made into text ("$.items[2].price") only for an error, so
 * a valid document costs no formatting. */
typedef struct serializers_path {
    const struct serializers_path *up;
    const char *key; /* NULL: an array index */
    size_t idx;
} serializers_path_t;
void serializers_path_text(const serializers_path_t *p, char *out, size_t outsz);
/* A double from to_json's forms: a number, or "NaN", "Infinity",
 * "-Infinity". 0, or -1 when v is none of them. */
int serializers_json_real(const struct json_t *v, double *out);

#endif
