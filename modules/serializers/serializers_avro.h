/* serializers_avro.h - what the avro serializer's reader and schema
 * resolution (serializers_avro.c) share with its writer
 * (serializers_avro_write.c): the compiled schema and the names its JSON
 * encoding uses. Private to the module. */
#ifndef SERIALIZERS_AVRO_H
#define SERIALIZERS_AVRO_H

#include <stdint.h>

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
    union { uint32_t u; float f; } f32 = {.u = (uint32_t)bits};
    union { uint64_t u; double d; } d64 = {.u = bits};
    return is_float ? (double)f32.f : d64.d;
}

static inline uint64_t serializers_avro_bits_of(double d, int is_float)
{
    if (is_float)
        return (union { float f; uint32_t u; }){.f = (float)d}.u;
    return (union { double d; uint64_t u; }){.d = d}.u;
}

/* The name a union branch is keyed by in Avro's JSON encoding as to_json
 * writes it: a named type's (unqualified) name, else the type's name. */
const char *serializers_avro_branch_name(avro_schema_t b);

/* from_json: Avro's JSON encoding as to_json prints it -> one binary datum. */
int serializers_avro_from_json(void *self, void *compiled, const char *json, size_t json_len,
                               uint8_t **out, size_t *out_len, char *err, size_t errsz);

#endif
