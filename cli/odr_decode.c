/* odr_decode.c - record bytes as JSON (odr_decode.h). The formats are the
 * broker's own serializers (modules/serializers, compiled into odr too: the
 * CLI cannot load broker modules, which need the core's symbols). avro and
 * protobuf records are in Confluent's wire format; json records are when
 * they start with the magic byte 0 (no JSON text does), else plain JSON.
 * Schemas come from the registry by id and are compiled once. */
#include "odr_decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "odr_serializers.h"

/* Compiled schemas kept per run: bounds what a topic of many ids costs. */
#define ODR_DECODE_CACHE 64

typedef struct cached {
    int32_t id;
    void *compiled; /* NULL with failed: the id did not compile or fetch */
    int failed;
} cached_t;

struct odr_decoder {
    odr_ctx_t *ctx;
    const od_serializer_ops_t *ops;
    const char *schema_type; /* the registry's schemaType of the format */
    const char *registry;
    int wire; /* ODR_SCHEMA_ALWAYS: always Confluent's wire format; OPTIONAL: when the
               * magic byte is there */
    cached_t cache[ODR_DECODE_CACHE];
    size_t ncache, next_evict;
};

const char *odr_decode_formats(void)
{
    return odr_serializer_names();
}

odr_decoder_t *odr_decoder_new(odr_ctx_t *ctx, const char *format, const char *registry)
{
    const odr_serializer_t *f = odr_serializer_find(format);
    if (!f)
        return NULL;
    odr_decoder_t *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->ctx = ctx;
    d->ops = f->ops;
    d->schema_type = f->schema_type;
    d->wire = f->schema;
    d->registry = registry;
    return d;
}

/* The compiled schema of id, fetched and compiled at first use. */
static int schema_for(odr_decoder_t *d, int32_t id, void **compiled, char *err, size_t errsz)
{
    for (size_t i = 0; i < d->ncache; i++)
        if (d->cache[i].id == id) {
            if (d->cache[i].failed) {
                snprintf(err, errsz, "schema id %d is not usable (see above)", (int)id);
                return -1;
            }
            *compiled = d->cache[i].compiled;
            return 0;
        }
    char path[64];
    snprintf(path, sizeof path, "/schemas/ids/%d", (int)id);
    json_t *j = NULL;
    cached_t c = {id, NULL, 1};
    if (odr_registry_get(d->ctx, d->registry, path, &j) != 0) {
        snprintf(err, errsz, "schema id %d: not in the registry", (int)id);
    } else {
        json_t *text = json_object_get(j, "schema"), *type = json_object_get(j, "schemaType");
        const char *want = d->schema_type;
        const char *is = json_is_string(type) ? json_string_value(type) : "AVRO";
        if (!json_is_string(text))
            snprintf(err, errsz, "schema id %d: the registry's answer has no schema", (int)id);
        else if (strcmp(is, want) != 0)
            snprintf(err, errsz, "schema id %d is %s, not %s", (int)id, is, want);
        else if (d->ops->compile(NULL, json_string_value(text), json_string_length(text),
                                 &c.compiled, err, errsz) == OD_OK)
            c.failed = 0;
        json_decref(j);
    }
    /* a failure is remembered too: the registry is asked once per id */
    if (d->ncache < ODR_DECODE_CACHE) {
        d->cache[d->ncache++] = c;
    } else {
        cached_t *old = &d->cache[d->next_evict];
        d->next_evict = (d->next_evict + 1) % ODR_DECODE_CACHE;
        if (old->compiled)
            d->ops->free_compiled(NULL, old->compiled);
        *old = c;
    }
    if (c.failed)
        return -1;
    *compiled = c.compiled;
    return 0;
}

int odr_decode_json(odr_decoder_t *d, const uint8_t *data, size_t len, char **out, char *err,
                    size_t errsz)
{
    void *compiled = NULL;
    int wire = d->wire == ODR_SCHEMA_ALWAYS ||
               (d->wire == ODR_SCHEMA_OPTIONAL && len > 0 && data[0] == 0);
    if (wire) {
        if (len < 5 || data[0] != 0) {
            snprintf(err, errsz, "not in the schema registry's wire format (magic byte 0 and a "
                     "4-byte schema id)");
            return -1;
        }
        int32_t id = (int32_t)((uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 |
                               (uint32_t)data[3] << 8 | data[4]);
        if (schema_for(d, id, &compiled, err, errsz) != 0)
            return -1;
        data += 5;
        len -= 5;
    }
    if (!d->ops->to_json) {
        snprintf(err, errsz, "%s cannot be shown as JSON", d->ops->name);
        return -1;
    }
    return d->ops->to_json(NULL, compiled, data, len, out, err, errsz) == OD_OK ? 0 : -1;
}

void odr_decoder_free(odr_decoder_t *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->ncache; i++)
        if (d->cache[i].compiled)
            d->ops->free_compiled(NULL, d->cache[i].compiled);
    free(d);
}
