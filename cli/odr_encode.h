/* odr_encode.h - JSON text as record bytes for `odr produce --value-format`
 * / `--key-format`, the inverse of odr_decode.h: the serializers of
 * modules/serializers compiled into odr (their from_json op), schemas
 * fetched from the schema registry by id or by subject, records in
 * Confluent's wire format (magic byte 0, 4-byte big-endian schema id, the
 * serializer's bytes). */
#ifndef ODR_ENCODE_H
#define ODR_ENCODE_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

#include "odr.h"
#include "odr_format.h"

/* The produce options this file reads (long options only). */
enum {
    ODR_OPT_VALUE_FORMAT = 0x1000,
    ODR_OPT_KEY_FORMAT,
    ODR_OPT_VALUE_SCHEMA_ID,
    ODR_OPT_KEY_SCHEMA_ID,
    ODR_OPT_VALUE_SUBJECT,
    ODR_OPT_KEY_SUBJECT,
    ODR_OPT_REGISTRY,
    ODR_OPT_VALUE_MESSAGE,
    ODR_OPT_KEY_MESSAGE,
};
#define ODR_ENCODE_LONGOPTS                                                                        \
    {"value-format", required_argument, NULL, ODR_OPT_VALUE_FORMAT},                               \
    {"key-format", required_argument, NULL, ODR_OPT_KEY_FORMAT},                                   \
    {"value-schema-id", required_argument, NULL, ODR_OPT_VALUE_SCHEMA_ID},                         \
    {"key-schema-id", required_argument, NULL, ODR_OPT_KEY_SCHEMA_ID},                             \
    {"value-subject", required_argument, NULL, ODR_OPT_VALUE_SUBJECT},                             \
    {"key-subject", required_argument, NULL, ODR_OPT_KEY_SUBJECT},                                 \
    {"registry", required_argument, NULL, ODR_OPT_REGISTRY},                                       \
    {"value-message", required_argument, NULL, ODR_OPT_VALUE_MESSAGE},                             \
    {"key-message", required_argument, NULL, ODR_OPT_KEY_MESSAGE}

/* The lines of `odr produce --help` about them. */
#define ODR_ENCODE_USAGE                                                                           \
    "  [--value-format F [--value-schema-id N | --value-subject S] [--value-message NAME]]\n"      \
    "  [--key-format F [--key-schema-id N | --key-subject S] [--key-message NAME]]\n"              \
    "  [--registry URL]: formats avro, json, protobuf, string, int, long, double; the text\n"     \
    "  is JSON (string: as it is); avro, protobuf (json with a schema named) in Confluent's\n"   \
    "  wire format, the schema from the registry: --*-schema-id, else the latest of\n"          \
    "  --*-subject, else of TOPIC-value / TOPIC-key; --*-message: protobuf's message type\n"    \
    "  (default the first); a bad line stops the run: the lines before it are sent, it\n"      \
    "  and the rest are not\n"

/* What the options asked for; [0] the key, [1] the value. */
typedef struct odr_encode_args {
    const char *format[2];  /* NULL: --serializer's bytes as they are */
    int64_t schema_id[2];   /* 0: none given */
    const char *subject[2]; /* NULL: none given */
    const char *message[2]; /* protobuf's message type (full name); NULL: the first */
    const char *registry;   /* --registry, or NULL (resolved as for consume) */
} odr_encode_args_t;

/* Store option c (one of ODR_OPT_*) with its argument. Returns 1 when c was
 * one of them (*code set to ODR_EXIT_USAGE after a message when the
 * argument is bad), 0 when it was not. */
int odr_encode_option(odr_encode_args_t *a, int c, const char *arg, int *code);

/* The options together: a schema only with a format that takes one, an id
 * or a subject, not both, a message type only for protobuf. 0, or
 * ODR_EXIT_USAGE after a message. */
int odr_encode_check(const odr_encode_args_t *a);

typedef struct odr_encoder odr_encoder_t;

/* The encoders of topic's keys and values (NULL where no format was
 * given), schemas resolved now, before any input is read: --*-schema-id,
 * else --*-subject, else (avro, protobuf) the subject TOPIC-key or
 * TOPIC-value, the latest version (Confluent's TopicNameStrategy); json
 * without either is plain JSON, not in the wire format. 0, or an exit code
 * after a message saying what to do. */
int odr_encoders_new(odr_ctx_t *ctx, const char *topic, const odr_encode_args_t *a,
                     odr_encoder_t **key, odr_encoder_t **value);
/* One line of input (text[0..len), JSON except for string, which takes
 * the text as it is) as record bytes in out (reset first). 0, or -1 with
 * err naming where the text is wrong ("$.price: expected a number, got a
 * string"; a key's errors start with "key: "). */
int odr_encode(odr_encoder_t *e, const char *text, size_t len, odr_buf_t *out, char *err,
               size_t errsz);
void odr_encoder_free(odr_encoder_t *e);

#endif
