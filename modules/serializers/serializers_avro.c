/* serializers_avro.c - the `avro` serializer. libavro parses and checks the
 * schema (avro_schema_from_json_length); a record is one Avro binary datum
 * of that schema, read by the walker below, which follows the schema and
 * checks every length, count, index and byte against what is left of the
 * record before using it. It is ours rather than libavro's generic reader
 * because that one allocates a string or bytes value of whatever length the
 * datum announces before reading it, which a hostile record would use to
 * make the broker allocate gigabytes. The datum must end exactly at the end
 * of the record.
 *
 * compatible(reader, writer) applies Avro's schema resolution rules
 * (the specification's "Schema Resolution"): reader fields missing in the
 * writer need a default (libavro keeps no defaults, so the schema's JSON is
 * kept beside it for them), writer fields the reader lacks are skipped,
 * numeric promotions int->long->float->double, string<->bytes, enum
 * symbols the writer may write must exist in the reader (or the reader has
 * a default symbol), unions branch by branch, fixed sizes equal, names of
 * named types equal (unqualified).
 *
 * from_json, the writer, is serializers_avro_write.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serializers_avro.h"

static int avro_compile(void *self, const char *schema, size_t len, void **compiled, char *err,
                        size_t errsz)
{
    (void)self;
    *compiled = NULL;
    if (!schema || len == 0)
        return serializers_errf(err, errsz, "avro needs a schema");
    if (len > SERIALIZERS_MAX_SCHEMA)
        return serializers_errf(err, errsz, "schema larger than %d bytes", SERIALIZERS_MAX_SCHEMA);
    json_error_t je;
    json_t *j = json_loadb(schema, len, JSON_DECODE_ANY, &je);
    if (!j)
        return serializers_errf(err, errsz, "schema is not JSON: %s (line %d column %d)", je.text,
                                je.line, je.column);
    if (!serializers_json_depth_ok(j, 0)) {
        json_decref(j);
        return serializers_errf(err, errsz, "schema nested deeper than %d", SERIALIZERS_MAX_DEPTH);
    }
    avro_compiled_t *c = calloc(1, sizeof(*c));
    if (!c) {
        json_decref(j);
        return serializers_errf(err, errsz, "out of memory");
    }
    if (avro_schema_from_json_length(schema, len, &c->schema) != 0) {
        serializers_errf(err, errsz, "bad Avro schema: %s", avro_strerror());
        json_decref(j);
        free(c);
        return OD_ERR_INVALID;
    }
    c->json = j;
    *compiled = c;
    return OD_OK;
}

static void avro_free_compiled(void *self, void *compiled)
{
    (void)self;
    avro_compiled_t *c = compiled;
    if (!c)
        return;
    avro_schema_decref(c->schema);
    json_decref(c->json);
    free(c);
}

/* ---- reading a datum ---- */

typedef struct rd {
    const uint8_t *p;
    size_t len, pos;
    size_t steps, max_steps; /* values read: bounds arrays of zero-size items */
    char *err;
    size_t errsz;
} rd_t;

static int read_long(rd_t *r, int64_t *out, int max_bytes)
{
    uint64_t v = 0;
    for (int shift = 0, n = 0;; shift += 7, n++) {
        if (n == max_bytes)
            return serializers_errf(r->err, r->errsz, "varint too long at byte %zu", r->pos);
        if (r->pos >= r->len)
            return serializers_errf(r->err, r->errsz, "datum ends inside a number");
        uint8_t b = r->p[r->pos++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
    }
    *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
    return OD_OK;
}

static int take(rd_t *r, int64_t n, const char *what)
{
    if (n < 0 || (uint64_t)n > r->len - r->pos)
        return serializers_errf(r->err, r->errsz, "%s of %lld bytes at byte %zu runs past the "
                                "datum's end", what, (long long)n, r->pos);
    r->pos += (size_t)n;
    return OD_OK;
}

/* The walker both validates and, given out != NULL, builds the datum as
 * JSON (Avro's JSON encoding: a union's non-null branch is {"type": value},
 * bytes and fixed are strings of the code points U+0000..U+00FF). */
static int read_value(rd_t *r, avro_schema_t s, int depth, json_t **out);

/* *out = v, or an out-of-memory error (v NULL). Callers build v only when
 * out is set: validation on the produce path allocates nothing. */
static int put(rd_t *r, json_t **out, json_t *v)
{
    if (!out) {
        json_decref(v);
        return OD_OK;
    }
    if (!v)
        return serializers_errf(r->err, r->errsz, "out of memory");
    *out = v;
    return OD_OK;
}

/* Bytes as Avro's JSON encoding writes them: one code point per byte. */
static json_t *bytes_json(const uint8_t *p, size_t n)
{
    char *u = malloc(2 * n + 1);
    if (!u)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x80) {
            u[k++] = (char)p[i];
        } else {
            u[k++] = (char)(0xc0 | (p[i] >> 6));
            u[k++] = (char)(0x80 | (p[i] & 0x3f));
        }
    }
    json_t *j = json_stringn(u, k);
    free(u);
    return j;
}

/* An item of an array, or a map entry (key at p[0..kl)), into *out. */
static int add_item(rd_t *r, json_t *out, const uint8_t *key, int64_t kl, json_t *v)
{
    int rc = json_is_array(out) ? json_array_append_new(out, v) : -1;
    if (json_is_object(out)) {
        char *k = strndup((const char *)key, (size_t)kl);
        rc = k ? json_object_set_new(out, k, v) : -1;
        free(k);
    }
    return rc == 0 ? OD_OK : serializers_errf(r->err, r->errsz, "out of memory");
}

static int read_blocks(rd_t *r, avro_schema_t items, int is_map, int depth, json_t *out)
{
    for (;;) {
        int64_t count = 0;
        if (read_long(r, &count, 10) != OD_OK)
            return OD_ERR_INVALID;
        if (count == 0)
            return OD_OK;
        if (count < 0) {
            int64_t block_bytes = 0;
            if (count == INT64_MIN || read_long(r, &block_bytes, 10) != OD_OK)
                return serializers_errf(r->err, r->errsz, "bad block at byte %zu", r->pos);
            if (block_bytes < 0 || (uint64_t)block_bytes > r->len - r->pos)
                return serializers_errf(r->err, r->errsz, "block size past the datum's end");
            count = -count;
        }
        for (int64_t i = 0; i < count; i++) {
            if (++r->steps > r->max_steps)
                return serializers_errf(r->err, r->errsz, "more items than the datum can hold");
            int64_t kl = 0;
            size_t at = r->pos;
            if (is_map) {
                size_t bad;
                if (read_long(r, &kl, 10) != OD_OK)
                    return OD_ERR_INVALID;
                at = r->pos;
                if (take(r, kl, "map key") != OD_OK)
                    return OD_ERR_INVALID;
                if (!serializers_utf8_ok(r->p + at, (size_t)kl, &bad))
                    return serializers_errf(r->err, r->errsz, "map key at byte %zu is not UTF-8",
                                            at);
            }
            json_t *v = NULL;
            if (read_value(r, items, depth + 1, out ? &v : NULL) != OD_OK)
                return OD_ERR_INVALID;
            if (out && add_item(r, out, r->p + at, kl, v) != OD_OK)
                return OD_ERR_INVALID;
        }
    }
}

/* The name a union branch is keyed by in Avro's JSON encoding. */
const char *serializers_avro_branch_name(avro_schema_t b)
{
    switch (avro_typeof(b)) {
    case AVRO_LINK: /* a recursive use: libavro names the target, not the link */
        return avro_schema_name(avro_schema_link_target(b));
    case AVRO_RECORD: case AVRO_ENUM: case AVRO_FIXED:
        return avro_schema_name(b);
    default:
        return avro_schema_type_name(b);
    }
}

static int read_value(rd_t *r, avro_schema_t s, int depth, json_t **out)
{
    if (depth > SERIALIZERS_MAX_DEPTH)
        return serializers_errf(r->err, r->errsz, "datum nested deeper than %d",
                                SERIALIZERS_MAX_DEPTH);
    if (++r->steps > r->max_steps)
        return serializers_errf(r->err, r->errsz, "more values than the datum can hold");
    int64_t v = 0;
    switch (avro_typeof(s)) {
    case AVRO_NULL:
        return put(r, out, json_null());
    case AVRO_BOOLEAN:
        if (r->pos >= r->len)
            return serializers_errf(r->err, r->errsz, "datum ends before a boolean");
        if (r->p[r->pos] > 1)
            return serializers_errf(r->err, r->errsz, "boolean byte %u at byte %zu",
                                    r->p[r->pos], r->pos);
        r->pos++;
        return put(r, out, json_boolean(r->p[r->pos - 1]));
    case AVRO_INT32:
        if (read_long(r, &v, 5) != OD_OK)
            return OD_ERR_INVALID;
        if (v < INT32_MIN || v > INT32_MAX)
            return serializers_errf(r->err, r->errsz, "int out of range before byte %zu", r->pos);
        return out ? put(r, out, json_integer(v)) : OD_OK;
    case AVRO_INT64:
        if (read_long(r, &v, 10) != OD_OK)
            return OD_ERR_INVALID;
        return out ? put(r, out, json_integer(v)) : OD_OK;
    case AVRO_FLOAT:
    case AVRO_DOUBLE: {
        int is_float = avro_typeof(s) == AVRO_FLOAT;
        size_t at = r->pos;
        if (take(r, is_float ? 4 : 8, is_float ? "float" : "double") != OD_OK)
            return OD_ERR_INVALID;
        if (!out)
            return OD_OK;
        uint64_t bits = 0; /* little-endian IEEE 754 */
        for (int i = is_float ? 3 : 7; i >= 0; i--)
            bits = bits << 8 | r->p[at + (size_t)i];
        return put(r, out, serializers_real_json(serializers_avro_real_of(bits, is_float)));
    }
    case AVRO_BYTES:
    case AVRO_STRING: {
        int is_string = avro_typeof(s) == AVRO_STRING;
        if (read_long(r, &v, 10) != OD_OK)
            return OD_ERR_INVALID;
        size_t at = r->pos, bad;
        if (take(r, v, is_string ? "string" : "bytes") != OD_OK)
            return OD_ERR_INVALID;
        if (is_string && !serializers_utf8_ok(r->p + at, (size_t)v, &bad))
            return serializers_errf(r->err, r->errsz, "string at byte %zu is not UTF-8", at);
        if (!out)
            return OD_OK;
        return put(r, out, is_string ? json_stringn((const char *)r->p + at, (size_t)v)
                                     : bytes_json(r->p + at, (size_t)v));
    }
    case AVRO_FIXED: {
        size_t at = r->pos;
        if (take(r, avro_schema_fixed_size(s), "fixed") != OD_OK)
            return OD_ERR_INVALID;
        return out ? put(r, out, bytes_json(r->p + at, (size_t)avro_schema_fixed_size(s)))
                   : OD_OK;
    }
    case AVRO_ENUM:
        if (read_long(r, &v, 10) != OD_OK)
            return OD_ERR_INVALID;
        if (v < 0 || v >= avro_schema_enum_number_of_symbols(s))
            return serializers_errf(r->err, r->errsz, "enum index %lld outside %s's %d symbols",
                                    (long long)v, avro_schema_name(s),
                                    avro_schema_enum_number_of_symbols(s));
        return out ? put(r, out, json_string(avro_schema_enum_get(s, (int)v))) : OD_OK;
    case AVRO_UNION: {
        if (read_long(r, &v, 10) != OD_OK)
            return OD_ERR_INVALID;
        if (v < 0 || (uint64_t)v >= avro_schema_union_size(s))
            return serializers_errf(r->err, r->errsz, "union branch %lld of %zu", (long long)v,
                                    avro_schema_union_size(s));
        avro_schema_t b = avro_schema_union_branch(s, (int)v);
        json_t *bv = NULL;
        if (read_value(r, b, depth + 1, out ? &bv : NULL) != OD_OK)
            return OD_ERR_INVALID;
        if (!out || avro_typeof(b) == AVRO_NULL)
            return put(r, out, bv);
        json_t *o = json_object();
        if (!o || json_object_set_new(o, serializers_avro_branch_name(b), bv) != 0) {
            json_decref(o);
            return serializers_errf(r->err, r->errsz, "out of memory");
        }
        return put(r, out, o);
    }
    case AVRO_RECORD: {
        json_t *o = out ? json_object() : NULL;
        if (out && !o)
            return serializers_errf(r->err, r->errsz, "out of memory");
        for (size_t i = 0; i < avro_schema_record_size(s); i++) {
            json_t *fv = NULL;
            if (read_value(r, avro_schema_record_field_get_by_index(s, (int)i), depth + 1,
                           o ? &fv : NULL) != OD_OK) {
                size_t n = strlen(r->err);
                if (n + 1 < r->errsz && !strstr(r->err, " (field "))
                    snprintf(r->err + n, r->errsz - n, " (field %s.%s)", avro_schema_name(s),
                             avro_schema_record_field_name(s, (int)i));
                json_decref(o);
                return OD_ERR_INVALID;
            }
            if (o && json_object_set_new(o, avro_schema_record_field_name(s, (int)i), fv) != 0) {
                json_decref(o);
                return serializers_errf(r->err, r->errsz, "out of memory");
            }
        }
        return out ? put(r, out, o) : OD_OK;
    }
    case AVRO_ARRAY:
    case AVRO_MAP: {
        int is_map = avro_typeof(s) == AVRO_MAP;
        json_t *c = out ? (is_map ? json_object() : json_array()) : NULL;
        if (out && !c)
            return serializers_errf(r->err, r->errsz, "out of memory");
        if (read_blocks(r, is_map ? avro_schema_map_values(s) : avro_schema_array_items(s),
                        is_map, depth, c) != OD_OK) {
            json_decref(c);
            return OD_ERR_INVALID;
        }
        return out ? put(r, out, c) : OD_OK;
    }
    case AVRO_LINK:
        return read_value(r, avro_schema_link_target(s), depth + 1, out);
    default:
        return serializers_errf(r->err, r->errsz, "schema type %d not readable", avro_typeof(s));
    }
}

/* Read the whole datum; out (may be NULL) gets it as JSON. */
static int read_datum(void *compiled, const uint8_t *data, size_t len, json_t **out, char *err,
                      size_t errsz)
{
    avro_compiled_t *c = compiled;
    if (!c)
        return serializers_errf(err, errsz, "avro needs a schema");
    if (errsz)
        err[0] = 0;
    /* every value read either consumes a byte or is one of a bounded
     * number of zero-size values (null, empty records) */
    rd_t r = {data, len, 0, 0, 8 * len + 4096, err, errsz};
    json_t *j = NULL;
    if (read_value(&r, c->schema, 0, out ? &j : NULL) != OD_OK)
        return OD_ERR_INVALID;
    if (r.pos != len) {
        json_decref(j);
        return serializers_errf(err, errsz, "%zu bytes left after the datum", len - r.pos);
    }
    if (out)
        *out = j;
    return OD_OK;
}

static int avro_validate(void *self, void *compiled, const uint8_t *data, size_t len, char *err,
                         size_t errsz)
{
    (void)self;
    return read_datum(compiled, data, len, NULL, err, errsz);
}

static int avro_to_json(void *self, void *compiled, const uint8_t *data, size_t len, char **out,
                        char *err, size_t errsz)
{
    (void)self;
    json_t *j = NULL;
    if (read_datum(compiled, data, len, &j, err, errsz) != OD_OK)
        return OD_ERR_INVALID;
    *out = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(j);
    return *out ? OD_OK : serializers_errf(err, errsz, "out of memory");
}

/* ---- schema resolution ---- */

static const char *base_name(const char *n)
{
    const char *d = n ? strrchr(n, '.') : NULL;
    return d ? d + 1 : n ? n : "";
}

/* The JSON object defining the named type `name` somewhere in j. */
static json_t *find_named(json_t *j, const char *name, int depth)
{
    if (depth > SERIALIZERS_MAX_DEPTH)
        return NULL;
    size_t i;
    json_t *x;
    const char *k;
    if (json_is_object(j)) {
        json_t *n = json_object_get(j, "name"), *t = json_object_get(j, "type");
        if (json_is_string(n) && json_is_string(t) &&
            strcmp(base_name(json_string_value(n)), base_name(name)) == 0 &&
            (strcmp(json_string_value(t), "record") == 0 ||
             strcmp(json_string_value(t), "enum") == 0 || strcmp(json_string_value(t), "error") == 0))
            return j;
        json_object_foreach(j, k, x)
        {
            json_t *f = find_named(x, name, depth + 1);
            if (f)
                return f;
        }
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, x)
        {
            json_t *f = find_named(x, name, depth + 1);
            if (f)
                return f;
        }
    }
    return NULL;
}

static int field_has_default(json_t *root, avro_schema_t rec, const char *field)
{
    json_t *def = find_named(root, avro_schema_name(rec), 0);
    json_t *fields = def ? json_object_get(def, "fields") : NULL;
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f)
    {
        json_t *n = json_object_get(f, "name");
        if (json_is_string(n) && strcmp(json_string_value(n), field) == 0)
            return json_object_get(f, "default") != NULL;
    }
    return 0;
}

/* Comparisons one compatibility check may make: unions of unions can
 * multiply the work, and the check runs on the broker's loop. */
#define AVRO_CMP_MAX_STEPS 1000000

typedef struct cmp {
    json_t *rjson;
    size_t steps;
    avro_schema_t seen_r[SERIALIZERS_MAX_DEPTH + 2], seen_w[SERIALIZERS_MAX_DEPTH + 2];
    char *err;
    size_t errsz;
} cmp_t;

static avro_schema_t resolve(avro_schema_t s)
{
    for (int i = 0; i < 16 && is_avro_link(s); i++)
        s = avro_schema_link_target(s);
    return s;
}

static int promotable(avro_type_t w, avro_type_t r)
{
    if (w == r)
        return 1;
    switch (w) {
    case AVRO_INT32: return r == AVRO_INT64 || r == AVRO_FLOAT || r == AVRO_DOUBLE;
    case AVRO_INT64: return r == AVRO_FLOAT || r == AVRO_DOUBLE;
    case AVRO_FLOAT: return r == AVRO_DOUBLE;
    case AVRO_STRING: return r == AVRO_BYTES;
    case AVRO_BYTES: return r == AVRO_STRING;
    default: return 0;
    }
}

static int resolves(cmp_t *c, avro_schema_t r, avro_schema_t w, const char *path, int depth,
                    int quiet)
{
    r = resolve(r);
    w = resolve(w);
    if (++c->steps > AVRO_CMP_MAX_STEPS)
        return serializers_errf(c->err, c->errsz, "%s: schemas too complex to compare", path);
    if (depth > SERIALIZERS_MAX_DEPTH)
        return quiet ? OD_ERR_INVALID
                     : serializers_errf(c->err, c->errsz, "%s: schemas too deep to compare", path);
    for (int i = 0; i < depth; i++)
        if (c->seen_r[i] == r && c->seen_w[i] == w)
            return OD_OK; /* a recursive type compared further up */
    c->seen_r[depth] = r;
    c->seen_w[depth] = w;
    avro_type_t rt = avro_typeof(r), wt = avro_typeof(w);
    char sub[256];
    if (wt == AVRO_UNION) {
        for (size_t i = 0; i < avro_schema_union_size(w); i++) {
            snprintf(sub, sizeof(sub), "%s|%zu", path, i);
            if (resolves(c, r, avro_schema_union_branch(w, (int)i), sub, depth + 1, quiet) != OD_OK)
                return OD_ERR_INVALID;
        }
        return OD_OK;
    }
    if (rt == AVRO_UNION) {
        for (size_t i = 0; i < avro_schema_union_size(r); i++)
            if (resolves(c, avro_schema_union_branch(r, (int)i), w, path, depth + 1, 1) == OD_OK)
                return OD_OK;
        return quiet ? OD_ERR_INVALID
                     : serializers_errf(c->err, c->errsz, "%s: no branch of the reader's union "
                                        "reads the writer's %s", path, avro_schema_type_name(w));
    }
    if (!promotable(wt, rt))
        return quiet ? OD_ERR_INVALID
                     : serializers_errf(c->err, c->errsz, "%s: reader's %s cannot read writer's %s",
                                        path, avro_schema_type_name(r), avro_schema_type_name(w));
    int named = rt == AVRO_RECORD || rt == AVRO_ENUM || rt == AVRO_FIXED;
    if (named && strcmp(base_name(avro_schema_name(r)), base_name(avro_schema_name(w))) != 0)
        return quiet ? OD_ERR_INVALID
                     : serializers_errf(c->err, c->errsz, "%s: name %s is now %s", path,
                                        avro_schema_name(w), avro_schema_name(r));
    switch (rt) {
    case AVRO_RECORD:
        for (size_t i = 0; i < avro_schema_record_size(r); i++) {
            const char *fname = avro_schema_record_field_name(r, (int)i);
            snprintf(sub, sizeof(sub), "%s.%s", path, fname);
            /* by index: avro_schema_record_field_get reads an unset
             * pointer for a name the record lacks */
            int wi = avro_schema_record_field_get_index(w, fname);
            avro_schema_t wf = wi >= 0 ? avro_schema_record_field_get_by_index(w, wi) : NULL;
            if (!wf) {
                if (!field_has_default(c->rjson, r, fname))
                    return quiet ? OD_ERR_INVALID
                                 : serializers_errf(c->err, c->errsz, "%s: new field without a "
                                                    "default", sub);
                continue;
            }
            if (resolves(c, avro_schema_record_field_get_by_index(r, (int)i), wf, sub, depth + 1,
                         quiet) != OD_OK)
                return OD_ERR_INVALID;
        }
        return OD_OK;
    case AVRO_ENUM: {
        json_t *def = find_named(c->rjson, avro_schema_name(r), 0);
        int has_default = def && json_object_get(def, "default");
        for (int i = 0; i < avro_schema_enum_number_of_symbols(w); i++) {
            const char *sym = avro_schema_enum_get(w, i);
            if (avro_schema_enum_get_by_name(r, sym) < 0 && !has_default)
                return quiet ? OD_ERR_INVALID
                             : serializers_errf(c->err, c->errsz, "%s: enum symbol %s removed",
                                                path, sym);
        }
        return OD_OK;
    }
    case AVRO_FIXED:
        if (avro_schema_fixed_size(r) != avro_schema_fixed_size(w))
            return quiet ? OD_ERR_INVALID
                         : serializers_errf(c->err, c->errsz, "%s: fixed size changed", path);
        return OD_OK;
    case AVRO_ARRAY:
        snprintf(sub, sizeof(sub), "%s[]", path);
        return resolves(c, avro_schema_array_items(r), avro_schema_array_items(w), sub, depth + 1,
                        quiet);
    case AVRO_MAP:
        snprintf(sub, sizeof(sub), "%s{}", path);
        return resolves(c, avro_schema_map_values(r), avro_schema_map_values(w), sub, depth + 1,
                        quiet);
    default:
        return OD_OK;
    }
}

static int avro_compatible(void *self, void *reader, void *writer, char *err, size_t errsz)
{
    (void)self;
    avro_compiled_t *r = reader, *w = writer;
    if (!r || !w)
        return serializers_errf(err, errsz, "avro needs a schema");
    cmp_t *c = calloc(1, sizeof(*c));
    if (!c)
        return serializers_errf(err, errsz, "out of memory");
    c->rjson = r->json;
    c->err = err;
    c->errsz = errsz;
    int rc = resolves(c, r->schema, w->schema, "$", 0, 0);
    free(c);
    return rc;
}

const od_serializer_ops_t serializers_avro_ops = {
    .struct_size = sizeof(od_serializer_ops_t),
    .name = "avro",
    .compile = avro_compile,
    .free_compiled = avro_free_compiled,
    .validate = avro_validate,
    .compatible = avro_compatible,
    .to_json = avro_to_json,
    .from_json = serializers_avro_from_json,
};
