/* odr_serializers.c - the table of odr_serializers.h. */
#include "odr_serializers.h"

#include <string.h>

static const odr_serializer_t formats[] = {
    {&serializers_avro_ops, ODR_SCHEMA_ALWAYS, "AVRO"},
    {&serializers_json_ops, ODR_SCHEMA_OPTIONAL, "JSON"},
    {&serializers_proto_ops, ODR_SCHEMA_ALWAYS, "PROTOBUF"},
    {&serializers_string_ops, ODR_SCHEMA_NONE, NULL},
    {&serializers_int_ops, ODR_SCHEMA_NONE, NULL},
    {&serializers_long_ops, ODR_SCHEMA_NONE, NULL},
    {&serializers_double_ops, ODR_SCHEMA_NONE, NULL},
};
#define NFORMATS (sizeof(formats) / sizeof(formats[0]))

const odr_serializer_t *odr_serializer_find(const char *name)
{
    for (size_t i = 0; i < NFORMATS; i++)
        if (strcmp(formats[i].ops->name, name) == 0)
            return &formats[i];
    return NULL;
}

const char *odr_serializer_of_type(const char *schema_type)
{
    for (size_t i = 0; i < NFORMATS; i++)
        if (formats[i].schema_type && strcmp(formats[i].schema_type, schema_type) == 0)
            return formats[i].ops->name;
    return "...";
}

const char *odr_serializer_names(void)
{
    return "avro, json, protobuf, string, int, long, double";
}
