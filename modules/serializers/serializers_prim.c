/* serializers_prim.c - the schemaless formats of Kafka's own serdes:
 * string (UTF-8, what StringSerializer writes), and the big-endian
 * fixed-size numbers of IntegerSerializer (4 bytes), LongSerializer (8)
 * and DoubleSerializer (8). A schema given to them is refused: they have
 * none. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "serializers.h"

int serializers_errf(char *err, size_t errsz, const char *fmt, ...)
{
    if (err && errsz) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errsz, fmt, ap);
        va_end(ap);
    }
    return OD_ERR_INVALID;
}

int serializers_utf8_ok(const uint8_t *p, size_t len, size_t *bad)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = p[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1, cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2, cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3, cp = c & 0x07;
        } else {
            goto fail;
        }
        if (len - i <= n)
            goto fail;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                goto fail;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        /* overlong forms, UTF-16 surrogates, beyond Unicode */
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            goto fail;
        i += n + 1;
    }
    return 1;
fail:
    if (bad)
        *bad = i;
    return 0;
}

static int no_schema(void *self, const char *schema, size_t len, void **compiled, char *err,
                     size_t errsz)
{
    (void)self;
    (void)schema;
    *compiled = NULL;
    if (len > 0)
        return serializers_errf(err, errsz, "this format takes no schema");
    return OD_OK;
}

static void no_free(void *self, void *compiled)
{
    (void)self;
    (void)compiled;
}

static int string_validate(void *self, void *compiled, const uint8_t *data, size_t len, char *err,
                           size_t errsz)
{
    (void)self;
    (void)compiled;
    size_t bad = 0;
    if (!serializers_utf8_ok(data, len, &bad))
        return serializers_errf(err, errsz, "not UTF-8: bad byte sequence at offset %zu", bad);
    return OD_OK;
}

static int fixed_size(size_t want, const char *what, size_t len, char *err, size_t errsz)
{
    if (len != want)
        return serializers_errf(err, errsz, "%s must be %zu bytes (big-endian), got %zu", what,
                                want, len);
    return OD_OK;
}

static int int_validate(void *self, void *compiled, const uint8_t *data, size_t len, char *err,
                        size_t errsz)
{
    (void)self, (void)compiled, (void)data;
    return fixed_size(4, "an int", len, err, errsz);
}

static int long_validate(void *self, void *compiled, const uint8_t *data, size_t len, char *err,
                         size_t errsz)
{
    (void)self, (void)compiled, (void)data;
    return fixed_size(8, "a long", len, err, errsz);
}

/* Every 8-byte pattern is some IEEE 754 double (NaNs included, as Java's
 * DoubleDeserializer reads them), so the size is the whole check. */
static int double_validate(void *self, void *compiled, const uint8_t *data, size_t len, char *err,
                           size_t errsz)
{
    (void)self, (void)compiled, (void)data;
    return fixed_size(8, "a double", len, err, errsz);
}

/* ---- to_json: the value as one JSON scalar ---- */

static int dump(json_t *j, char **out, char *err, size_t errsz)
{
    *out = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    json_decref(j);
    return *out ? OD_OK : serializers_errf(err, errsz, "out of memory");
}

struct json_t *serializers_real_json(double d)
{
    if (isfinite(d))
        return json_real(d);
    return json_string(isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity");
}

static uint64_t be64(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static int string_to_json(void *self, void *compiled, const uint8_t *data, size_t len,
                          char **out, char *err, size_t errsz)
{
    if (string_validate(self, compiled, data, len, err, errsz) != OD_OK)
        return OD_ERR_INVALID;
    return dump(json_stringn((const char *)data, len), out, err, errsz);
}

static int int_to_json(void *self, void *compiled, const uint8_t *data, size_t len, char **out,
                       char *err, size_t errsz)
{
    if (int_validate(self, compiled, data, len, err, errsz) != OD_OK)
        return OD_ERR_INVALID;
    return dump(json_integer((int32_t)(uint32_t)be64(data, 4)), out, err, errsz);
}

static int long_to_json(void *self, void *compiled, const uint8_t *data, size_t len, char **out,
                        char *err, size_t errsz)
{
    if (long_validate(self, compiled, data, len, err, errsz) != OD_OK)
        return OD_ERR_INVALID;
    return dump(json_integer((int64_t)be64(data, 8)), out, err, errsz);
}

static int double_to_json(void *self, void *compiled, const uint8_t *data, size_t len,
                          char **out, char *err, size_t errsz)
{
    if (double_validate(self, compiled, data, len, err, errsz) != OD_OK)
        return OD_ERR_INVALID;
    uint64_t bits = be64(data, 8);
    double d;
    memcpy(&d, &bits, sizeof d);
    return dump(serializers_real_json(d), out, err, errsz);
}

#define PRIM_OPS(var, nm, fn, js)                                                                  \
    const od_serializer_ops_t var = {                                                              \
        .struct_size = sizeof(od_serializer_ops_t),                                                \
        .name = nm,                                                                                \
        .compile = no_schema,                                                                      \
        .free_compiled = no_free,                                                                  \
        .validate = fn,                                                                            \
        .to_json = js,                                                                             \
    }

PRIM_OPS(serializers_string_ops, "string", string_validate, string_to_json);
PRIM_OPS(serializers_int_ops, "int", int_validate, int_to_json);
PRIM_OPS(serializers_long_ops, "long", long_validate, long_to_json);
PRIM_OPS(serializers_double_ops, "double", double_validate, double_to_json);
