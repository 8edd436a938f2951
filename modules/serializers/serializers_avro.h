/* serializers_avro.h - what the avro serializer's reader and schema
 * resolution (serializers_avro.c) share with its writer
 * (serializers_avro_write.c): the compiled schema and the names its JSON
 * encoding uses. Private to the module. */
#ifndef SERIALIZERS_AVRO_H
#define SERIALIZERS_AVRO_H

#include <stdint.h>
#include <string.h>

#include <avro.h>
#include <jansson.h>

#include "serializers.h"

typedef struct avro_compiled {
    avro_schema_t schema;
    json_t *json; /* the schema text parsed, for field defaults */
} avro_compiled_t;

/* Avro's float and double are IEEE 754, little-endian on the wire: the
 * value of a datum's bits (the low 32 for a float), and the bits of a
 * value (a float rounded from d). */
static inline double serializers_avro_real_of(uint64_t bits, int is_float)
{
    if (is_float) {
        uint32_t b32 = (uint32_t)bits;
        float f;
        memcpy(&f, &b32, sizeof f);
        return f;
    }
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static inline uint64_t serializers_avro_bits_of(double d, int is_float)
{
    if (is_float) {
        float f = (float)d;
        uint32_t b32;
        memcpy(&b32, &f, sizeof b32);
        return b32;
    }
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    return bits;
}

/* The name a union branch is keyed by in Avro's JSON encoding as to_json
 * writes it: a named type's (unqualified) name, else the type's name. */
const char *serializers_avro_branch_name(avro_schema_t b);

/* from_json: Avro's JSON encoding as to_json prints it -> one binary datum. */
int serializers_avro_from_json(void *self, void *compiled, const char *json, size_t json_len,
                               uint8_t **out, size_t *out_len, char *err, size_t errsz);

#endif
