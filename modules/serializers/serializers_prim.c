/* serializers_prim.c - the schemaless formats of Kafka's own serdes:
 * string (UTF-8, what StringSerializer writes), and the big-endian
 * fixed-size numbers of IntegerSerializer (4 bytes), LongSerializer (8)
 * and DoubleSerializer (8). A schema given to them is refused: they have
 * none. Their from_json takes the JSON scalar their to_json prints; the
 * JSON parsing every format's from_json shares is here too. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

/* ---- from_json: one JSON scalar as the format's bytes ---- */

int serializers_json_depth_ok(const json_t *v, int depth)
{
    if (depth > SERIALIZERS_MAX_DEPTH)
        return 0;
    size_t i;
    const char *k;
    json_t *x;
    if (json_is_array(v)) {
        json_array_foreach((json_t *)v, i, x)
        {
            if (!serializers_json_depth_ok(x, depth + 1))
                return 0;
        }
    } else if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, x)
        {
            if (!serializers_json_depth_ok(x, depth + 1))
                return 0;
        }
    }
    return 1;
}

json_t *serializers_parse_json(const char *json, size_t len, char *err, size_t errsz)
{
    if (len > SERIALIZERS_MAX_ENCODED) {
        serializers_errf(err, errsz, "$: JSON text larger than %d bytes", SERIALIZERS_MAX_ENCODED);
        return NULL;
    }
    json_error_t je;
    /* jansson refuses integers past int64 ("too big integer") and reals
     * past double ("real number overflow") itself */
    /* NUL is allowed: to_json writes bytes 00 as "\u0000" */
    json_t *v = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL,
                           &je);
    if (!v) {
        serializers_errf(err, errsz, "not JSON: %s at byte %d", je.text, je.position);
        return NULL;
    }
    if (!serializers_json_depth_ok(v, 0)) {
        json_decref(v);
        serializers_errf(err, errsz, "JSON nested deeper than %d", SERIALIZERS_MAX_DEPTH);
        return NULL;
    }
    return v;
}

void serializers_path_text(const serializers_path_t *p, char *out, size_t outsz)
{
    /* deeper than any document (SERIALIZERS_MAX_DEPTH) with room for the
     * few steps a schema's own nesting adds (Avro's defaults) */
    const serializers_path_t *chain[SERIALIZERS_MAX_DEPTH + 8];
    int n = 0;
    for (; p && n < (int)(sizeof chain / sizeof chain[0]); p = p->up)
        chain[n++] = p;
    size_t o = (size_t)snprintf(out, outsz, "$");
    while (n-- > 0 && o < outsz) {
        if (chain[n]->key)
            o += (size_t)snprintf(out + o, outsz - o, ".%s", chain[n]->key);
        else
            o += (size_t)snprintf(out + o, outsz - o, "[%zu]", chain[n]->idx);
    }
}

const char *serializers_json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

int serializers_json_real(const json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 0;
    }
    const char *s = json_string_value(v);
    if (!s)
        return -1;
    if (strcmp(s, "NaN") == 0)
        *out = NAN;
    else if (strcmp(s, "Infinity") == 0)
        *out = INFINITY;
    else if (strcmp(s, "-Infinity") == 0)
        *out = -INFINITY;
    else
        return -1;
    return 0;
}

/* An integer in [min, max]: a JSON integer, or a number without a fraction
 * (1e3 is a real to jansson). */
static int json_int_in(const json_t *v, int64_t min, int64_t max, int64_t *out, const char *what,
                       char *err, size_t errsz)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
    } else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
               json_real_value(v) >= -9223372036854775808.0 &&
               json_real_value(v) < 9223372036854775808.0) {
        *out = (int64_t)json_real_value(v);
    } else {
        return serializers_errf(err, errsz, "$: expected an integer (%s), got %s%s", what,
                                serializers_json_kind(v),
                                json_is_real(v) ? " with a fraction or out of range" : "");
    }
    if (*out < min || *out > max)
        return serializers_errf(err, errsz, "$: %lld is out of the %s range (%lld..%lld)",
                                (long long)*out, what, (long long)min, (long long)max);
    return OD_OK;
}

/* out: malloc'd copy of p[0..n) (at least one byte allocated). */
static int emit(const void *p, size_t n, uint8_t **out, size_t *out_len, char *err, size_t errsz)
{
    *out = malloc(n ? n : 1);
    if (!*out)
        return serializers_errf(err, errsz, "out of memory");
    if (n)
        memcpy(*out, p, n);
    *out_len = n;
    return OD_OK;
}

static int emit_be(uint64_t v, size_t n, uint8_t **out, size_t *out_len, char *err, size_t errsz)
{
    uint8_t b[8];
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    return emit(b, n, out, out_len, err, errsz);
}

static int string_from_json(void *self, void *compiled, const char *json, size_t json_len,
                            uint8_t **out, size_t *out_len, char *err, size_t errsz)
{
    (void)self, (void)compiled;
    json_t *v = serializers_parse_json(json, json_len, err, errsz);
    if (!v)
        return OD_ERR_INVALID;
    int rc = json_is_string(v) ? emit(json_string_value(v), json_string_length(v), out, out_len,
                                      err, errsz)
                               : serializers_errf(err, errsz, "$: expected a string, got %s",
                                                  serializers_json_kind(v));
    json_decref(v);
    return rc;
}

static int fixed_from_json(const char *json, size_t json_len, int64_t min, int64_t max,
                           size_t size, const char *what, uint8_t **out, size_t *out_len,
                           char *err, size_t errsz)
{
    json_t *v = serializers_parse_json(json, json_len, err, errsz);
    if (!v)
        return OD_ERR_INVALID;
    int64_t n = 0;
    int rc = json_int_in(v, min, max, &n, what, err, errsz);
    json_decref(v);
    return rc == OD_OK ? emit_be((uint64_t)n, size, out, out_len, err, errsz) : rc;
}

static int int_from_json(void *self, void *compiled, const char *json, size_t json_len,
                         uint8_t **out, size_t *out_len, char *err, size_t errsz)
{
    (void)self, (void)compiled;
    return fixed_from_json(json, json_len, INT32_MIN, INT32_MAX, 4, "int", out, out_len, err,
                           errsz);
}

static int long_from_json(void *self, void *compiled, const char *json, size_t json_len,
                          uint8_t **out, size_t *out_len, char *err, size_t errsz)
{
    (void)self, (void)compiled;
    return fixed_from_json(json, json_len, INT64_MIN, INT64_MAX, 8, "long", out, out_len, err,
                           errsz);
}

static int double_from_json(void *self, void *compiled, const char *json, size_t json_len,
                            uint8_t **out, size_t *out_len, char *err, size_t errsz)
{
    (void)self, (void)compiled;
    json_t *v = serializers_parse_json(json, json_len, err, errsz);
    if (!v)
        return OD_ERR_INVALID;
    double d;
    int ok = serializers_json_real(v, &d) == 0;
    if (!ok)
        serializers_errf(err, errsz, "$: expected a number (or \"NaN\", \"Infinity\", "
                         "\"-Infinity\"), got %s", serializers_json_kind(v));
    json_decref(v);
    if (!ok)
        return OD_ERR_INVALID;
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    return emit_be(bits, 8, out, out_len, err, errsz);
}

#define PRIM_OPS(var, nm, fn, js, fj)                                                              \
    const od_serializer_ops_t var = {                                                              \
        .struct_size = sizeof(od_serializer_ops_t),                                                \
        .name = nm,                                                                                \
        .compile = no_schema,                                                                      \
        .free_compiled = no_free,                                                                  \
        .validate = fn,                                                                            \
        .to_json = js,                                                                             \
        .from_json = fj,                                                                           \
    }

PRIM_OPS(serializers_string_ops, "string", string_validate, string_to_json, string_from_json);
PRIM_OPS(serializers_int_ops, "int", int_validate, int_to_json, int_from_json);
PRIM_OPS(serializers_long_ops, "long", long_validate, long_to_json, long_from_json);
PRIM_OPS(serializers_double_ops, "double", double_validate, double_to_json, double_from_json);
