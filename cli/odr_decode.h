/* odr_decode.h - record bytes as JSON for `odr consume --value-format` /
 * `--key-format`, with the serializers of modules/serializers compiled into
 * odr (their to_json op) and schemas fetched from the schema registry by
 * the id of Confluent's wire format (magic byte 0, 4-byte big-endian id). */
#ifndef ODR_DECODE_H
#define ODR_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "odr.h"

typedef struct odr_decoder odr_decoder_t;

/* The names --value-format takes, for messages. */
const char *odr_decode_formats(void);
/* A decoder for format (avro, json, protobuf, string, int, long, double);
 * NULL for an unknown name. registry: --registry URL or NULL (then
 * $ODR_SCHEMA_REGISTRY, the profile's schema.registry.url,
 * http://127.0.0.1:8081). */
odr_decoder_t *odr_decoder_new(odr_ctx_t *ctx, const char *format, const char *registry);
/* data as one compact JSON text in *out (malloc'd); 0, or -1 with err. */
int odr_decode_json(odr_decoder_t *d, const uint8_t *data, size_t len, char **out, char *err,
                    size_t errsz);
void odr_decoder_free(odr_decoder_t *d);

/* One GET against the registry (odr_schema.c); 0 with the answer's JSON in
 * *out, or an exit code after a message. */
int odr_registry_get(odr_ctx_t *ctx, const char *url, const char *path, json_t **out);
/* subject %-escaped as one path segment of the registry's URLs. */
void odr_registry_escape(const char *subject, char *out, size_t outsz);

#endif
