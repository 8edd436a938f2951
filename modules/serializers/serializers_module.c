/* serializers_module.c - the `serializers` module: the formats records are
 * validated in (string, int, long, double, json, avro, protobuf), each registered
 * as a serializer (ABI 1.3) under its name. The core's schema registry and
 * the produce-path validation (core/schema/) find them by name. */
#include <stdio.h>

#include "serializers.h"

static const od_serializer_ops_t *const serializers_all[] = {
    &serializers_string_ops, &serializers_int_ops,  &serializers_long_ops,
    &serializers_double_ops, &serializers_json_ops, &serializers_avro_ops,
    &serializers_proto_ops,
};

static int serializers_init(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    for (size_t i = 0; i < sizeof(serializers_all) / sizeof(serializers_all[0]); i++) {
        if (od_register_serializer(ctx, serializers_all[i], NULL) != OD_OK) {
            snprintf(err, errsz, "cannot register serializer %s", serializers_all[i]->name);
            return -1;
        }
    }
    return 0;
}

od_module_t od_module = {
    .abi_major = OD_ABI_MAJOR,
    .abi_minor = OD_ABI_MINOR,
    .name = "serializers",
    .version = "1.0",
    .kinds = OD_KIND_SERIALIZER,
    .init = serializers_init,
};
