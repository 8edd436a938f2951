/* serializers_json.c - the `json` serializer: a record is one JSON
 * document (jansson parses it; duplicate keys refused); with a schema, the
 * document must satisfy the JSON Schema subset of doc/serializers.md:
 * type (one or a list), properties, required, additionalProperties (bool
 * or schema), items (one schema), enum, const, minimum, maximum,
 * minLength, maxLength, minItems, maxItems. Annotations ($schema, $id,
 * title, description, default, examples, definitions) are ignored; any
 * other keyword, $ref above all, is refused when the schema compiles
 * rather than silently not checked.
 *
 * compatible(reader, writer): every document the writer schema allows
 * satisfies the reader schema, judged on the same keywords (below). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "serializers.h"

static const char *const known_types[] = {"null",   "boolean", "integer", "number",
                                          "string", "array",   "object"};
static const char *const annotations[] = {"$schema", "$id",     "id",          "title",
                                          "description", "default", "examples", "definitions",
                                          "$defs", "$comment", "format"};
static const char *const checked[] = {"type",      "properties", "required",  "additionalProperties",
                                      "items",     "enum",       "const",     "minimum",
                                      "maximum",   "minLength",  "maxLength", "minItems",
                                      "maxItems"};

static int in_list(const char *s, const char *const *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, l[i]) == 0)
            return 1;
    return 0;
}
#define IN(s, l) in_list(s, l, sizeof(l) / sizeof(l[0]))

/* ---- compiling: the schema is checked once, so validation can trust it ---- */

static int check_schema(json_t *s, int depth, const char *path, char *err, size_t errsz)
{
    if (depth > SERIALIZERS_MAX_DEPTH)
        return serializers_errf(err, errsz, "schema nested deeper than %d at %s",
                                SERIALIZERS_MAX_DEPTH, path);
    if (json_is_boolean(s))
        return OD_OK; /* true: anything, false: nothing */
    if (!json_is_object(s))
        return serializers_errf(err, errsz, "schema at %s is not an object or a boolean", path);
    const char *k;
    json_t *v;
    json_object_foreach(s, k, v)
    {
        if (IN(k, annotations))
            continue;
        if (!IN(k, checked))
            return serializers_errf(err, errsz, "keyword '%s' at %s is not supported "
                                    "(doc/serializers.md lists the supported ones)", k, path);
        if (strcmp(k, "type") == 0) {
            size_t n = json_is_array(v) ? json_array_size(v) : 1;
            for (size_t i = 0; i < n; i++) {
                json_t *t = json_is_array(v) ? json_array_get(v, i) : v;
                if (!json_is_string(t) || !IN(json_string_value(t), known_types))
                    return serializers_errf(err, errsz, "bad \"type\" at %s", path);
            }
        } else if (strcmp(k, "properties") == 0) {
            if (!json_is_object(v))
                return serializers_errf(err, errsz, "\"properties\" at %s is not an object", path);
            const char *pk;
            json_t *pv;
            json_object_foreach(v, pk, pv)
            {
                char sub[256];
                snprintf(sub, sizeof(sub), "%s.%s", path, pk);
                if (check_schema(pv, depth + 1, sub, err, errsz) != OD_OK)
                    return OD_ERR_INVALID;
            }
        } else if (strcmp(k, "required") == 0) {
            if (!json_is_array(v))
                return serializers_errf(err, errsz, "\"required\" at %s is not an array", path);
            for (size_t i = 0; i < json_array_size(v); i++)
                if (!json_is_string(json_array_get(v, i)))
                    return serializers_errf(err, errsz, "\"required\" at %s holds a non-string",
                                            path);
        } else if (strcmp(k, "additionalProperties") == 0 || strcmp(k, "items") == 0) {
            char sub[256];
            snprintf(sub, sizeof(sub), "%s/%s", path, k);
            if (check_schema(v, depth + 1, sub, err, errsz) != OD_OK)
                return OD_ERR_INVALID;
        } else if (strcmp(k, "enum") == 0) {
            if (!json_is_array(v))
                return serializers_errf(err, errsz, "\"enum\" at %s is not an array", path);
        } else if (strcmp(k, "const") == 0) {
            /* any value */
        } else if (strncmp(k, "min", 3) == 0 || strncmp(k, "max", 3) == 0) {
            int is_len = strcmp(k, "minimum") != 0 && strcmp(k, "maximum") != 0;
            if (!json_is_number(v) || (is_len && (!json_is_integer(v) || json_integer_value(v) < 0)))
                return serializers_errf(err, errsz, "\"%s\" at %s is not a %s", k, path,
                                        is_len ? "non-negative integer" : "number");
        }
    }
    return OD_OK;
}

static int json_compile(void *self, const char *schema, size_t len, void **compiled, char *err,
                        size_t errsz)
{
    (void)self;
    *compiled = NULL;
    if (!schema || len == 0)
        return OD_OK; /* schemaless: any JSON document */
    if (len > SERIALIZERS_MAX_SCHEMA)
        return serializers_errf(err, errsz, "schema larger than %d bytes", SERIALIZERS_MAX_SCHEMA);
    json_error_t je;
    json_t *s = json_loadb(schema, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!s)
        return serializers_errf(err, errsz, "schema is not JSON: %s (line %d column %d)", je.text,
                                je.line, je.column);
    if (check_schema(s, 0, "#", err, errsz) != OD_OK) {
        json_decref(s);
        return OD_ERR_INVALID;
    }
    *compiled = s;
    return OD_OK;
}

static void json_free_compiled(void *self, void *compiled)
{
    (void)self;
    json_decref(compiled);
}

/* ---- validating a document ---- */

static const char *type_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    default: return "null";
    }
}

static int type_matches(const char *want, const json_t *v)
{
    const char *have = type_of(v);
    if (strcmp(want, have) == 0)
        return 1;
    if (strcmp(want, "number") == 0 && json_is_integer(v))
        return 1;
    /* 1.0 is an integer in JSON Schema */
    return strcmp(want, "integer") == 0 && json_is_real(v) &&
           json_real_value(v) == floor(json_real_value(v));
}

static size_t utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xc0) != 0x80;
    return c;
}

static int doc_err(char *err, size_t errsz, const serializers_path_t *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int doc_err(char *err, size_t errsz, const serializers_path_t *at, const char *fmt, ...)
{
    char where[200], what[200];
    serializers_path_text(at, where, sizeof(where));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return serializers_errf(err, errsz, "%s: %s", where, what);
}

static int check_doc(const json_t *s, const json_t *v, const serializers_path_t *at, char *err,
                     size_t errsz)
{
    if (json_is_true(s))
        return OD_OK;
    if (json_is_false(s))
        return doc_err(err, errsz, at, "not allowed by the schema");
    json_t *t = json_object_get(s, "type");
    if (t) {
        int ok = 0;
        size_t n = json_is_array(t) ? json_array_size(t) : 1;
        for (size_t i = 0; i < n && !ok; i++)
            ok = type_matches(json_string_value(json_is_array(t) ? json_array_get(t, i) : t), v);
        if (!ok)
            return doc_err(err, errsz, at, "%s where the schema wants %s", type_of(v),
                           json_is_string(t) ? json_string_value(t) : "another type");
    }
    json_t *e = json_object_get(s, "enum");
    if (e) {
        int ok = 0;
        for (size_t i = 0; i < json_array_size(e) && !ok; i++)
            ok = json_equal(json_array_get(e, i), (json_t *)v);
        if (!ok)
            return doc_err(err, errsz, at, "value not in the schema's enum");
    }
    json_t *c = json_object_get(s, "const");
    if (c && !json_equal(c, (json_t *)v))
        return doc_err(err, errsz, at, "value is not the schema's const");
    if (json_is_number(v)) {
        double d = json_number_value(v);
        json_t *mn = json_object_get(s, "minimum"), *mx = json_object_get(s, "maximum");
        if (mn && d < json_number_value(mn))
            return doc_err(err, errsz, at, "%g below minimum %g", d, json_number_value(mn));
        if (mx && d > json_number_value(mx))
            return doc_err(err, errsz, at, "%g above maximum %g", d, json_number_value(mx));
    } else if (json_is_string(v)) {
        json_t *mn = json_object_get(s, "minLength"), *mx = json_object_get(s, "maxLength");
        if (mn || mx) {
            size_t n = utf8_chars(json_string_value(v), json_string_length(v));
            if (mn && (json_int_t)n < json_integer_value(mn))
                return doc_err(err, errsz, at, "string shorter than minLength");
            if (mx && (json_int_t)n > json_integer_value(mx))
                return doc_err(err, errsz, at, "string longer than maxLength");
        }
    } else if (json_is_array(v)) {
        size_t n = json_array_size(v);
        json_t *mn = json_object_get(s, "minItems"), *mx = json_object_get(s, "maxItems");
        if (mn && (json_int_t)n < json_integer_value(mn))
            return doc_err(err, errsz, at, "fewer items than minItems");
        if (mx && (json_int_t)n > json_integer_value(mx))
            return doc_err(err, errsz, at, "more items than maxItems");
        json_t *items = json_object_get(s, "items");
        for (size_t i = 0; items && i < n; i++) {
            serializers_path_t sub = {at, NULL, i};
            if (check_doc(items, json_array_get(v, i), &sub, err, errsz) != OD_OK)
                return OD_ERR_INVALID;
        }
    } else if (json_is_object(v)) {
        json_t *req = json_object_get(s, "required");
        for (size_t i = 0; req && i < json_array_size(req); i++) {
            const char *name = json_string_value(json_array_get(req, i));
            if (!json_object_get(v, name))
                return doc_err(err, errsz, at, "required property '%s' is missing", name);
        }
        json_t *props = json_object_get(s, "properties");
        json_t *addl = json_object_get(s, "additionalProperties");
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            serializers_path_t sub = {at, k, 0};
            json_t *ps = props ? json_object_get(props, k) : NULL;
            if (!ps && addl && json_is_false(addl))
                return doc_err(err, errsz, &sub, "property not allowed (additionalProperties "
                               "is false)");
            if (!ps)
                ps = addl;
            if (ps && check_doc(ps, x, &sub, err, errsz) != OD_OK)
                return OD_ERR_INVALID;
        }
    }
    return OD_OK;
}

/* Parse and check a document; out (may be NULL) keeps it. */
static int read_doc(void *compiled, const uint8_t *data, size_t len, json_t **out, char *err,
                    size_t errsz)
{
    json_error_t je;
    json_t *v = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!v)
        return serializers_errf(err, errsz, "not JSON: %s at byte %d", je.text, je.position);
    int rc = OD_OK;
    if (!serializers_json_depth_ok(v, 0))
        rc = serializers_errf(err, errsz, "JSON nested deeper than %d", SERIALIZERS_MAX_DEPTH);
    else if (compiled)
        rc = check_doc(compiled, v, NULL, err, errsz);
    if (rc == OD_OK && out)
        *out = v;
    else
        json_decref(v);
    return rc;
}

static int json_validate(void *self, void *compiled, const uint8_t *data, size_t len, char *err,
                         size_t errsz)
{
    (void)self;
    return read_doc(compiled, data, len, NULL, err, errsz);
}

static int json_to_json(void *self, void *compiled, const uint8_t *data, size_t len, char **out,
                        char *err, size_t errsz)
{
    (void)self;
    json_t *v = NULL;
    if (read_doc(compiled, data, len, &v, err, errsz) != OD_OK)
        return OD_ERR_INVALID;
    *out = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(v);
    return *out ? OD_OK : serializers_errf(err, errsz, "out of memory");
}

/* The text checked as validate checks it, written compact: what
 * validate accepts, and to_json's form, so the round trip is exact. */
static int json_from_json(void *self, void *compiled, const char *json, size_t json_len,
                          uint8_t **out, size_t *out_len, char *err, size_t errsz)
{
    (void)self;
    json_t *v = NULL;
    if (json_len > SERIALIZERS_MAX_ENCODED)
        return serializers_errf(err, errsz, "$: JSON text larger than %d bytes",
                                SERIALIZERS_MAX_ENCODED);
    if (read_doc(compiled, (const uint8_t *)json, json_len, &v, err, errsz) != OD_OK)
        return OD_ERR_INVALID;
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(v);
    if (!text)
        return serializers_errf(err, errsz, "out of memory");
    *out = (uint8_t *)text;
    *out_len = strlen(text);
    return OD_OK;
}

/* ---- compatibility: can the reader schema accept what the writer allows? ---- */

static int types_of(const json_t *s, unsigned *mask)
{
    json_t *t = json_is_object(s) ? json_object_get(s, "type") : NULL;
    *mask = 0;
    if (!t)
        return 0; /* any type */
    size_t n = json_is_array(t) ? json_array_size(t) : 1;
    for (size_t i = 0; i < n; i++) {
        const char *name = json_string_value(json_is_array(t) ? json_array_get(t, i) : t);
        for (unsigned k = 0; k < sizeof(known_types) / sizeof(known_types[0]); k++)
            if (strcmp(name, known_types[k]) == 0)
                *mask |= 1u << k;
    }
    return 1;
}

enum { T_INTEGER = 1u << 2, T_NUMBER = 1u << 3 };

static int compat(const json_t *r, const json_t *w, const char *path, int depth, char *err,
                  size_t errsz)
{
    if (depth > SERIALIZERS_MAX_DEPTH)
        return serializers_errf(err, errsz, "%s: schemas nested too deep to compare", path);
    if (json_is_true(r) || json_is_false(w))
        return OD_OK;
    if (json_is_false(r))
        return serializers_errf(err, errsz, "%s: the new schema allows nothing here", path);
    if (json_is_true(w)) {
        /* the writer allowed any value: only a reader that checks nothing takes them all */
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)r, k, x)
        {
            if (!IN(k, annotations))
                return serializers_errf(err, errsz, "%s: any value was allowed, now '%s' "
                                        "constrains it", path, k);
        }
        return OD_OK;
    }
    unsigned rm, wm;
    int rt = types_of(r, &rm), wt = types_of(w, &wm);
    int rc = OD_OK;
    if (rt) {
        unsigned widened = (rm & T_NUMBER) ? (rm | T_INTEGER) : rm;
        if (!wt || (wm & ~widened))
            rc = serializers_errf(err, errsz, "%s: type narrowed", path);
    }
    json_t *re = json_object_get(r, "enum"), *we = json_object_get(w, "enum");
    if (rc == OD_OK && re) {
        for (size_t i = 0; we && i < json_array_size(we) && rc == OD_OK; i++) {
            int found = 0;
            for (size_t j = 0; j < json_array_size(re) && !found; j++)
                found = json_equal(json_array_get(we, i), json_array_get(re, j));
            if (!found)
                rc = serializers_errf(err, errsz, "%s: enum value removed", path);
        }
        if (!we && rc == OD_OK)
            rc = serializers_errf(err, errsz, "%s: enum added", path);
    }
    json_t *rreq = json_object_get(r, "required"), *wreq = json_object_get(w, "required");
    for (size_t i = 0; rc == OD_OK && rreq && i < json_array_size(rreq); i++) {
        json_t *name = json_array_get(rreq, i);
        int found = 0;
        for (size_t j = 0; wreq && j < json_array_size(wreq) && !found; j++)
            found = json_equal(name, json_array_get(wreq, j));
        if (!found)
            rc = serializers_errf(err, errsz, "%s: property '%s' became required", path,
                                  json_string_value(name));
    }
    json_t *rp = json_object_get(r, "properties"), *wp = json_object_get(w, "properties");
    json_t *raddl = json_object_get(r, "additionalProperties");
    const char *k;
    json_t *x;
    if (rc == OD_OK && wp) {
        json_object_foreach(wp, k, x)
        {
            char sub[256];
            snprintf(sub, sizeof(sub), "%s.%s", path, k);
            json_t *rs = rp ? json_object_get(rp, k) : NULL;
            if (!rs && raddl && json_is_false(raddl)) {
                rc = serializers_errf(err, errsz, "%s: property removed while "
                                      "additionalProperties is false", sub);
                break;
            }
            if (!rs)
                rs = raddl;
            if (rs && (rc = compat(rs, x, sub, depth + 1, err, errsz)) != OD_OK)
                break;
        }
    }
    if (rc == OD_OK && rp) {
        json_t *waddl = json_object_get(w, "additionalProperties");
        int w_open = !waddl || !json_is_false(waddl);
        json_object_foreach(rp, k, x)
        {
            if (wp && json_object_get(wp, k))
                continue;
            if (w_open && !json_is_true(x)) {
                /* the writer let any value through under this name */
                char sub[256];
                snprintf(sub, sizeof(sub), "%s.%s", path, k);
                json_t *any = waddl ? waddl : json_true();
                if ((rc = compat(x, any, sub, depth + 1, err, errsz)) != OD_OK)
                    break;
            }
        }
    }
    json_t *ri = json_object_get(r, "items"), *wi = json_object_get(w, "items");
    if (rc == OD_OK && ri)
        rc = compat(ri, wi ? wi : json_true(), path, depth + 1, err, errsz);
    static const char *const lower[] = {"minimum", "minLength", "minItems"};
    static const char *const upper[] = {"maximum", "maxLength", "maxItems"};
    for (int i = 0; rc == OD_OK && i < 3; i++) {
        json_t *a = json_object_get(r, lower[i]), *b = json_object_get(w, lower[i]);
        if (a && (!b || json_number_value(b) < json_number_value(a)))
            rc = serializers_errf(err, errsz, "%s: %s raised", path, lower[i]);
        a = json_object_get(r, upper[i]), b = json_object_get(w, upper[i]);
        if (rc == OD_OK && a && (!b || json_number_value(b) > json_number_value(a)))
            rc = serializers_errf(err, errsz, "%s: %s lowered", path, upper[i]);
    }
    json_t *rc_ = json_object_get(r, "const");
    if (rc == OD_OK && rc_ && !json_equal(rc_, json_object_get(w, "const")))
        rc = serializers_errf(err, errsz, "%s: const changed", path);
    return rc;
}

static int json_compatible(void *self, void *reader, void *writer, char *err, size_t errsz)
{
    (void)self;
    if (!reader)
        return OD_OK; /* schemaless reader takes any document */
    json_t *w = writer ? writer : json_true();
    return compat(reader, w, "#", 0, err, errsz);
}

const od_serializer_ops_t serializers_json_ops = {
    .struct_size = sizeof(od_serializer_ops_t),
    .name = "json",
    .compile = json_compile,
    .free_compiled = json_free_compiled,
    .validate = json_validate,
    .compatible = json_compatible,
    .to_json = json_to_json,
    .from_json = json_from_json,
};
