/* upper_ascii.c - an example serializer: a value is valid when it is
 * printable ASCII without lowercase letters ("SHOUTING TEXT 42!").
 *
 * A serializer is used by broker-side validation: a topic with
 *
 *     odradek.value.validation=true   (or confluent.value.schema.validation)
 *     odradek.value.serializer=uppercase-ascii
 *
 * has every produced value checked with validate(); a record that fails
 * makes the whole produce fail with INVALID_RECORD. Formats with schemas
 * (avro, json, protobuf in modules/serializers) compile the schema once in
 * compile() and get it back in validate(); this one has no schema, so it
 * compiles nothing. An optional per-format length limit shows how a
 * serializer reads its own configuration key.
 */
#include <stdio.h>
#include <stdlib.h>

#include <odradek-module.h>

static int64_t upper_max_length; /* uppercase.ascii.max.length, 0 = no limit */

static const od_conf_def_t upper_conf[] = {
    {.name = "uppercase.ascii.max.length", .type = OD_CONF_INT, .dflt = "0", .min = 0,
     .max = INT32_MAX, .doc = "Longest value the uppercase-ascii example serializer accepts "
     "(0: any length).", .target = &upper_max_length, .flags = OD_CONF_F_SIZE},
};

static int upper_compile(void *self, const char *schema, size_t len, void **compiled, char *err,
                         size_t errsz)
{
    (void)self, (void)len;
    if (schema) { /* a registry subject cannot name this format with a schema */
        snprintf(err, errsz, "uppercase-ascii takes no schema");
        return OD_ERR_INVALID;
    }
    *compiled = NULL;
    return OD_OK;
}

static void upper_free_compiled(void *self, void *compiled)
{
    (void)self, (void)compiled;
}

/* Called on the event loop for every record of a validated topic: it must
 * be quick and must not keep pointers into data. */
static int upper_validate(void *self, void *compiled, const uint8_t *data, size_t len, char *err,
                          size_t errsz)
{
    (void)self, (void)compiled;
    if (upper_max_length > 0 && len > (size_t)upper_max_length) {
        snprintf(err, errsz, "value of %zu bytes is longer than uppercase.ascii.max.length", len);
        return OD_ERR_INVALID;
    }
    for (size_t i = 0; i < len; i++) {
        if (data[i] < 0x20 || data[i] > 0x7e) {
            snprintf(err, errsz, "byte %zu (0x%02x) is not printable ASCII", i, data[i]);
            return OD_ERR_INVALID;
        }
        if (data[i] >= 'a' && data[i] <= 'z') {
            snprintf(err, errsz, "byte %zu ('%c') is lowercase", i, data[i]);
            return OD_ERR_INVALID;
        }
    }
    return OD_OK;
}

/* compatible (schema evolution) stays NULL: a schemaless format has none. */
static const od_serializer_ops_t upper_ops = {
    .struct_size = sizeof(od_serializer_ops_t),
    .name = "uppercase-ascii",
    .compile = upper_compile,
    .free_compiled = upper_free_compiled,
    .validate = upper_validate,
};

static int upper_init(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    if (od_register_config(ctx, upper_conf, sizeof upper_conf / sizeof upper_conf[0]) != 0 ||
        od_register_serializer(ctx, &upper_ops, NULL) != OD_OK) {
        snprintf(err, errsz, "cannot register the uppercase-ascii serializer");
        return -1;
    }
    return 0;
}

static void upper_fini(od_module_ctx_t *ctx)
{
    (void)ctx;
}

od_module_t od_module = {
    .abi_major = OD_ABI_MAJOR,
    .abi_minor = OD_ABI_MINOR,
    .name = "upper_ascii",
    .version = "1.0",
    .kinds = OD_KIND_SERIALIZER,
    .init = upper_init,
    .fini = upper_fini,
};
