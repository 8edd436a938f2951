/* serializers_avro_write.c - the avro serializer's from_json: a JSON text in
 * Avro's JSON encoding, exactly as avro_to_json (serializers_avro.c) prints
 * it, written as one Avro binary datum of the compiled schema:
 *  - null, booleans, strings as themselves; int and long as JSON integers
 *    (range-checked); float and double as numbers or "NaN", "Infinity",
 *    "-Infinity";
 *  - bytes and fixed as strings of the code points U+0000..U+00FF, one per
 *    byte (fixed: exactly its size);
 *  - enums by symbol; arrays as arrays; maps as objects;
 *  - a union value as null (its null branch) or as an object of one member
 *    naming the branch ({"string": "x"}, {"User": {...}}; a named type by
 *    its name, the namespace-qualified name accepted too);
 *  - a record as an object of its fields: a missing field takes the
 *    schema's default (a union's default is its first branch's value,
 *    unwrapped, as the specification has it), a member the record lacks is
 *    refused;
 *  - logical types as their underlying type (to_json shows them so).
 * Errors name the JSON path ("$.items[2].price: expected a number, got a
 * string"). Bounded: the JSON's nesting (SERIALIZERS_MAX_DEPTH), the datum's
 * size (SERIALIZERS_MAX_ENCODED; defaults can make it larger than the text)
 * and the values written (defaults of many nulls write no bytes). */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serializers_avro.h"

/* Record definitions whose field defaults one call remembers: the lookup
 * walks the schema's JSON, and an array of records would repeat it. */
#define AW_DEFAULTS_CACHE 32

typedef struct aw {
    uint8_t *p;
    size_t len, cap;
    size_t steps, max_steps;
    const avro_compiled_t *c;
    struct {
        avro_schema_t rec;
        json_t *fields; /* the record's "fields" in the schema's JSON, or NULL */
    } defaults[AW_DEFAULTS_CACHE];
    size_t ndefaults;
    char *err;
    size_t errsz;
} aw_t;

static int fail(aw_t *w, const serializers_path_t *at, int in_default, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(aw_t *w, const serializers_path_t *at, int in_default, const char *fmt, ...)
{
    char where[256], what[400];
    serializers_path_text(at, where, sizeof where);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return serializers_errf(w->err, w->errsz, "%s: %s%s", where, what,
                            in_default ? " (in the schema's default)" : "");
}

static int put(aw_t *w, const void *p, size_t n)
{
    if (n > SERIALIZERS_MAX_ENCODED - w->len)
        return serializers_errf(w->err, w->errsz, "the datum would be larger than %d bytes",
                                SERIALIZERS_MAX_ENCODED);
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 64;
        while (cap < w->len + n)
            cap *= 2;
        uint8_t *np = realloc(w->p, cap);
        if (!np)
            return serializers_errf(w->err, w->errsz, "out of memory");
        w->p = np;
        w->cap = cap;
    }
    if (n)
        memcpy(w->p + w->len, p, n);
    w->len += n;
    return OD_OK;
}

/* Avro's int and long: zigzag, then a base-128 varint. */
static int put_long(aw_t *w, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    uint8_t b[10];
    size_t n = 0;
    do {
        b[n] = (uint8_t)(z & 0x7f);
        z >>= 7;
        if (z)
            b[n] |= 0x80;
        n++;
    } while (z);
    return put(w, b, n);
}

/* float and double: IEEE 754, little-endian. */
static int put_real(aw_t *w, double d, int is_float)
{
    uint8_t b[8];
    uint64_t bits = serializers_avro_bits_of(d, is_float);
    size_t n = is_float ? 4 : 8;
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(bits >> (8 * i));
    return put(w, b, n);
}

/* A bytes or fixed value: each code point of s is one byte. *n gets the
 * byte count; the bytes are written when write is set. */
static int put_code_points(aw_t *w, const json_t *v, const serializers_path_t *at, int in_default,
                           size_t *n, int write)
{
    const unsigned char *s = (const unsigned char *)json_string_value(v);
    size_t len = json_string_length(v), count = 0;
    for (size_t i = 0; i < len; count++) {
        unsigned byte;
        if (s[i] < 0x80) {
            byte = s[i++];
        } else if ((s[i] == 0xc2 || s[i] == 0xc3) && i + 1 < len) {
            byte = (unsigned)((s[i] & 0x1f) << 6 | (s[i + 1] & 0x3f));
            i += 2;
        } else {
            return fail(w, at, in_default, "character %zu is not a byte (bytes are written as "
                        "the code points U+0000..U+00FF, one per byte)", count + 1);
        }
        uint8_t b = (uint8_t)byte;
        if (write && put(w, &b, 1) != OD_OK)
            return OD_ERR_INVALID;
    }
    *n = count;
    return OD_OK;
}

/* "a, b, c" of a union's branch names or an enum's symbols, shortened. */
static void names_of(avro_schema_t s, char *out, size_t outsz)
{
    int is_enum = avro_typeof(s) == AVRO_ENUM;
    size_t n = is_enum ? (size_t)avro_schema_enum_number_of_symbols(s) : avro_schema_union_size(s);
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < n && o + 8 < outsz; i++) {
        const char *name = is_enum ? avro_schema_enum_get(s, (int)i)
                                   : serializers_avro_branch_name(
                                         avro_schema_union_branch(s, (int)i));
        int k = snprintf(out + o, outsz - o, "%s%s", i ? ", " : "", name ? name : "?");
        if (k < 0 || (size_t)k >= outsz - o) {
            snprintf(out + (outsz > 5 ? outsz - 5 : 0), 5, "...");
            return;
        }
        o += (size_t)k;
    }
}

/* Whether key names union branch b: its JSON-encoding name, or a named
 * type's full name. */
static int branch_is(avro_schema_t b, const char *key)
{
    const char *name = serializers_avro_branch_name(b);
    if (name && strcmp(name, key) == 0)
        return 1;
    if (is_avro_link(b))
        b = avro_schema_link_target(b);
    if (!is_avro_named_type(b))
        return 0;
    const char *ns = avro_schema_namespace(b);
    size_t nl = ns ? strlen(ns) : 0;
    return nl && name && strncmp(key, ns, nl) == 0 && key[nl] == '.' &&
           strcmp(key + nl + 1, name) == 0;
}

/* The JSON object defining the record whose full name is `full`, in the
 * schema's JSON j: names qualified by their own dots, else by "namespace",
 * else by the enclosing named type's namespace, as the specification
 * resolves them (libavro keeps no defaults, so they are read from there). */
static json_t *find_record(json_t *j, const char *full, const char *ns, int depth)
{
    if (depth > SERIALIZERS_MAX_DEPTH)
        return NULL;
    size_t i;
    json_t *x;
    const char *k;
    if (json_is_array(j)) {
        json_array_foreach(j, i, x)
        {
            json_t *f = find_record(x, full, ns, depth + 1);
            if (f)
                return f;
        }
        return NULL;
    }
    if (!json_is_object(j))
        return NULL;
    const char *name = json_string_value(json_object_get(j, "name"));
    const char *type = json_string_value(json_object_get(j, "type"));
    char own_ns[512];
    if (name && type &&
        (!strcmp(type, "record") || !strcmp(type, "error") || !strcmp(type, "enum") ||
         !strcmp(type, "fixed"))) {
        const char *dot = strrchr(name, '.');
        const char *jns = json_string_value(json_object_get(j, "namespace"));
        if (dot)
            snprintf(own_ns, sizeof own_ns, "%.*s", (int)(dot - name), name);
        else
            snprintf(own_ns, sizeof own_ns, "%s", jns ? jns : ns ? ns : "");
        ns = own_ns;
        const char *base = dot ? dot + 1 : name;
        size_t nl = strlen(ns);
        int match = nl ? strncmp(full, ns, nl) == 0 && full[nl] == '.' &&
                             strcmp(full + nl + 1, base) == 0
                       : strcmp(full, base) == 0;
        if (match && (!strcmp(type, "record") || !strcmp(type, "error")))
            return j;
    }
    json_object_foreach(j, k, x)
    {
        json_t *f = find_record(x, full, ns, depth + 1);
        if (f)
            return f;
    }
    return NULL;
}

/* The default of field `name` of record rec, or NULL when it has none. */
static json_t *field_default(aw_t *w, avro_schema_t rec, const char *name)
{
    json_t *fields = NULL;
    size_t i;
    for (i = 0; i < w->ndefaults; i++)
        if (w->defaults[i].rec == rec)
            break;
    if (i < w->ndefaults) {
        fields = w->defaults[i].fields;
    } else {
        char full[512];
        const char *ns = avro_schema_namespace(rec);
        snprintf(full, sizeof full, "%s%s%s", ns && *ns ? ns : "", ns && *ns ? "." : "",
                 avro_schema_name(rec));
        json_t *def = find_record(w->c->json, full, NULL, 0);
        fields = def ? json_object_get(def, "fields") : NULL;
        if (w->ndefaults < AW_DEFAULTS_CACHE) {
            w->defaults[w->ndefaults].rec = rec;
            w->defaults[w->ndefaults++].fields = fields;
        }
    }
    json_t *f;
    json_array_foreach(fields, i, f)
    {
        json_t *n = json_object_get(f, "name");
        if (json_is_string(n) && strcmp(json_string_value(n), name) == 0)
            return json_object_get(f, "default");
    }
    return NULL;
}

static int write_value(aw_t *w, avro_schema_t s, json_t *v, const serializers_path_t *at, int depth,
                       int in_default);

static int write_union(aw_t *w, avro_schema_t s, json_t *v, const serializers_path_t *at, int depth,
                       int in_default)
{
    size_t n = avro_schema_union_size(s);
    char names[200];
    if (in_default) {
        /* a union's default is a value of its first branch, not wrapped */
        if (n == 0)
            return fail(w, at, in_default, "an empty union has no value");
        if (put_long(w, 0) != OD_OK)
            return OD_ERR_INVALID;
        return write_value(w, avro_schema_union_branch(s, 0), v, at, depth + 1, in_default);
    }
    if (json_is_null(v)) {
        for (size_t i = 0; i < n; i++)
            if (avro_typeof(avro_schema_union_branch(s, (int)i)) == AVRO_NULL)
                return put_long(w, (int64_t)i);
        names_of(s, names, sizeof names);
        return fail(w, at, in_default, "null, but the union has no null branch (branches: %s)",
                    names);
    }
    if (!json_is_object(v) || json_object_size(v) != 1) {
        names_of(s, names, sizeof names);
        return fail(w, at, in_default, "expected null or an object of one member naming the "
                    "union's branch, such as {\"%s\": ...} (branches: %s), got %s",
                    n ? serializers_avro_branch_name(avro_schema_union_branch(s, (int)(n - 1)))
                      : "?",
                    names, serializers_json_kind(v));
    }
    const char *key = json_object_iter_key(json_object_iter(v));
    json_t *bv = json_object_get(v, key);
    for (size_t i = 0; i < n; i++) {
        avro_schema_t b = avro_schema_union_branch(s, (int)i);
        if (!branch_is(b, key))
            continue;
        serializers_path_t sub = {at, key, 0};
        if (put_long(w, (int64_t)i) != OD_OK)
            return OD_ERR_INVALID;
        return write_value(w, b, bv, &sub, depth + 1, in_default);
    }
    names_of(s, names, sizeof names);
    return fail(w, at, in_default, "'%s' is not a branch of the union (branches: %s)", key,
                names);
}

static int write_record(aw_t *w, avro_schema_t s, json_t *v, const serializers_path_t *at,
                        int depth, int in_default)
{
    const char *rname = avro_schema_name(s);
    if (!json_is_object(v))
        return fail(w, at, in_default, "expected an object (record %s), got %s", rname,
                    serializers_json_kind(v));
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x)
    {
        if (avro_schema_record_field_get_index(s, k) < 0) {
            serializers_path_t sub = {at, k, 0};
            return fail(w, &sub, in_default, "record %s has no field '%s'", rname, k);
        }
    }
    size_t n = avro_schema_record_size(s);
    for (size_t i = 0; i < n; i++) {
        const char *fname = avro_schema_record_field_name(s, (int)i);
        serializers_path_t sub = {at, fname, 0};
        json_t *fv = json_object_get(v, fname);
        int from_default = in_default;
        if (!fv) {
            fv = field_default(w, s, fname);
            if (!fv)
                return fail(w, &sub, in_default, "missing, and record %s has no default for it",
                            rname);
            from_default = 1;
        }
        if (write_value(w, avro_schema_record_field_get_by_index(s, (int)i), fv, &sub,
                        depth + 1, from_default) != OD_OK)
            return OD_ERR_INVALID;
    }
    return OD_OK;
}

static int write_items(aw_t *w, avro_schema_t s, json_t *v, const serializers_path_t *at, int depth,
                       int in_default)
{
    int is_map = avro_typeof(s) == AVRO_MAP;
    if (is_map ? !json_is_object(v) : !json_is_array(v))
        return fail(w, at, in_default, "expected %s, got %s", is_map ? "an object (map)" :
                    "an array", serializers_json_kind(v));
    size_t n = is_map ? json_object_size(v) : json_array_size(v);
    /* one block of n items, then the empty block that ends them */
    if (n && put_long(w, (int64_t)n) != OD_OK)
        return OD_ERR_INVALID;
    if (is_map) {
        const char *k;
        size_t kl;
        json_t *x;
        json_object_keylen_foreach(v, k, kl, x)
        {
            serializers_path_t sub = {at, k, 0};
            if (put_long(w, (int64_t)kl) != OD_OK || put(w, k, kl) != OD_OK ||
                write_value(w, avro_schema_map_values(s), x, &sub, depth + 1, in_default) != OD_OK)
                return OD_ERR_INVALID;
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            serializers_path_t sub = {at, NULL, i};
            if (write_value(w, avro_schema_array_items(s), json_array_get(v, i), &sub, depth + 1,
                            in_default) != OD_OK)
                return OD_ERR_INVALID;
        }
    }
    return put_long(w, 0);
}

static int write_value(aw_t *w, avro_schema_t s, json_t *v, const serializers_path_t *at, int depth,
                       int in_default)
{
    if (depth > SERIALIZERS_MAX_DEPTH)
        return fail(w, at, in_default, "nested deeper than %d", SERIALIZERS_MAX_DEPTH);
    if (++w->steps > w->max_steps)
        return fail(w, at, in_default, "more values than a datum of this text can hold");
    switch (avro_typeof(s)) {
    case AVRO_NULL:
        return json_is_null(v) ? OD_OK
                               : fail(w, at, in_default, "expected null, got %s",
                                      serializers_json_kind(v));
    case AVRO_BOOLEAN: {
        if (!json_is_boolean(v))
            return fail(w, at, in_default, "expected a boolean, got %s",
                        serializers_json_kind(v));
        uint8_t b = json_is_true(v);
        return put(w, &b, 1);
    }
    case AVRO_INT32:
    case AVRO_INT64: {
        int is_int = avro_typeof(s) == AVRO_INT32;
        json_int_t i;
        double d = json_is_real(v) ? json_real_value(v) : 0.5;
        if (json_is_integer(v))
            i = json_integer_value(v);
        else if (d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0)
            i = (json_int_t)d; /* 1e3 is a real to jansson */
        else
            return fail(w, at, in_default, "expected an integer (%s), got %s",
                        is_int ? "int" : "long", serializers_json_kind(v));
        if (is_int && (i < INT32_MIN || i > INT32_MAX))
            return fail(w, at, in_default, "%lld is out of the int range (%d..%d)", (long long)i,
                        INT32_MIN, INT32_MAX);
        return put_long(w, i);
    }
    case AVRO_FLOAT:
    case AVRO_DOUBLE: {
        int is_float = avro_typeof(s) == AVRO_FLOAT;
        double d;
        if (serializers_json_real(v, &d) != 0)
            return fail(w, at, in_default, "expected a number (or \"NaN\", \"Infinity\", "
                        "\"-Infinity\"), got %s", serializers_json_kind(v));
        if (is_float && isfinite(d) && fabs(d) > FLT_MAX)
            return fail(w, at, in_default, "%g is out of the float range", d);
        return put_real(w, d, is_float);
    }
    case AVRO_STRING: {
        if (!json_is_string(v))
            return fail(w, at, in_default, "expected a string, got %s",
                        serializers_json_kind(v));
        size_t n = json_string_length(v);
        if (put_long(w, (int64_t)n) != OD_OK)
            return OD_ERR_INVALID;
        return put(w, json_string_value(v), n);
    }
    case AVRO_BYTES:
    case AVRO_FIXED: {
        int is_fixed = avro_typeof(s) == AVRO_FIXED;
        if (!json_is_string(v))
            return fail(w, at, in_default, "expected a string of bytes (code points "
                        "U+0000..U+00FF), got %s", serializers_json_kind(v));
        size_t n = 0;
        if (put_code_points(w, v, at, in_default, &n, 0) != OD_OK)
            return OD_ERR_INVALID;
        if (is_fixed && (int64_t)n != avro_schema_fixed_size(s))
            return fail(w, at, in_default, "fixed %s takes %lld bytes, got %zu",
                        avro_schema_name(s), (long long)avro_schema_fixed_size(s), n);
        if (!is_fixed && put_long(w, (int64_t)n) != OD_OK)
            return OD_ERR_INVALID;
        return put_code_points(w, v, at, in_default, &n, 1);
    }
    case AVRO_ENUM: {
        char names[200];
        if (!json_is_string(v))
            return fail(w, at, in_default, "expected a symbol of enum %s, got %s",
                        avro_schema_name(s), serializers_json_kind(v));
        int i = avro_schema_enum_get_by_name(s, json_string_value(v));
        if (i < 0) {
            names_of(s, names, sizeof names);
            return fail(w, at, in_default, "'%s' is not a symbol of enum %s (symbols: %s)",
                        json_string_value(v), avro_schema_name(s), names);
        }
        return put_long(w, i);
    }
    case AVRO_UNION:
        return write_union(w, s, v, at, depth, in_default);
    case AVRO_RECORD:
        return write_record(w, s, v, at, depth, in_default);
    case AVRO_ARRAY:
    case AVRO_MAP:
        return write_items(w, s, v, at, depth, in_default);
    case AVRO_LINK:
        return write_value(w, avro_schema_link_target(s), v, at, depth + 1, in_default);
    default:
        return fail(w, at, in_default, "schema type %d cannot be written", avro_typeof(s));
    }
}

int serializers_avro_from_json(void *self, void *compiled, const char *json, size_t json_len,
                               uint8_t **out, size_t *out_len, char *err, size_t errsz)
{
    (void)self;
    const avro_compiled_t *c = compiled;
    if (!c)
        return serializers_errf(err, errsz, "avro needs a schema");
    json_t *v = serializers_parse_json(json, json_len, err, errsz);
    if (!v)
        return OD_ERR_INVALID;
    aw_t *w = calloc(1, sizeof *w);
    if (!w) {
        json_decref(v);
        return serializers_errf(err, errsz, "out of memory");
    }
    w->c = c;
    w->err = err;
    w->errsz = errsz;
    /* every value of the text is written once, plus defaults: their
     * values count too, so a default of many nulls cannot loop for long */
    w->max_steps = 16 * json_len + 65536;
    int rc = write_value(w, c->schema, v, NULL, 0, 0);
    json_decref(v);
    if (rc == OD_OK && !w->p && !(w->p = malloc(1))) /* a datum of no bytes (null) */
        rc = serializers_errf(err, errsz, "out of memory");
    if (rc == OD_OK) {
        *out = w->p;
        *out_len = w->len;
    } else {
        free(w->p);
    }
    free(w);
    return rc;
}
