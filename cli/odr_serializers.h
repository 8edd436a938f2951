/* odr_serializers.h - the formats of modules/serializers that odr reads
 * records in (odr_decode.c, their to_json) and writes them in
 * (odr_encode.c, their from_json): one table, so that consume and produce
 * take the same names and agree on which formats have schemas. */
#ifndef ODR_SERIALIZERS_H
#define ODR_SERIALIZERS_H

#include "serializers.h"

/* Whether a format's records go with a schema of the registry. */
enum {
    ODR_SCHEMA_NONE = 0,     /* never (string, int, long, double) */
    ODR_SCHEMA_ALWAYS = 1,   /* always, records in Confluent's wire format (avro, protobuf) */
    ODR_SCHEMA_OPTIONAL = 2, /* json: in the wire format with one, plain JSON without */
};

typedef struct odr_serializer {
    const od_serializer_ops_t *ops; /* ops->name is the --value-format name */
    int schema;                     /* ODR_SCHEMA_* */
    const char *schema_type;        /* the registry's schemaType; NULL with ODR_SCHEMA_NONE */
} odr_serializer_t;

/* The format called name, NULL for none. */
const odr_serializer_t *odr_serializer_find(const char *name);
/* The name of the format of a registry schemaType ("AVRO" -> "avro"); "..."
 * for a type odr has no format for. */
const char *odr_serializer_of_type(const char *schema_type);
/* The names, for messages: "avro, json, ...". */
const char *odr_serializer_names(void);

#endif
