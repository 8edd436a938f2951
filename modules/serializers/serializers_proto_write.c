/* serializers_proto_write.c - protobuf's from_json: a JSON text in
 * proto3's JSON mapping encoded as the message's wire format.
 *
 * Accepted, as protobuf's own parsers accept it: fields by their declared
 * or their JSON (lowerCamelCase) name; integers as numbers (integral
 * values, exponents allowed) or decimal strings, 64-bit ones included;
 * floats and doubles as numbers, numeric strings, "NaN", "Infinity",
 * "-Infinity"; enums by value name or number; bytes as base64 (standard
 * or URL-safe alphabet, padding optional); null as "not set"; maps as an
 * object keyed by the key's text, or as the list of {"key", "value"}
 * entries to_json prints (to_json knows no map types). Refused, with the
 * JSON path: unknown fields, a field given twice (by both names), two
 * members of one oneof, missing proto2 required fields, values of the
 * wrong type or out of range, nesting past SERIALIZERS_MAX_DEPTH.
 *
 * Written: fields in field-number order (map entries and repeated
 * elements in the JSON's order), repeated scalars packed where the
 * descriptor packs them (proto3 unless [packed = false], proto2 only with
 * [packed = true]). Every field the JSON sets is written, a default value
 * included, so that to_json gives the same JSON value back; only an empty
 * array (repeated fields have no empty form on the wire) and null vanish.
 * In the registry's form of the schema the output starts with Confluent's
 * message indexes, as validate and to_json expect (serializers.h). */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "serializers.h"
#include "serializers_proto_int.h"

typedef struct enc {
    const pschema_t *s;
    uint8_t *p; /* the output */
    size_t len, cap;
    char path[512]; /* "$.items[2].price" of the value being encoded */
    size_t plen;
    char *err;
    size_t errsz;
} enc_t;

static int fail(enc_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(enc_t *e, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return serializers_errf(e->err, e->errsz, "%s: %s", e->path, msg);
}

/* ---- the JSON path: push returns the length to pop back to ---- */

static size_t path_push(enc_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static size_t path_push(enc_t *e, const char *fmt, ...)
{
    size_t was = e->plen;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->path + e->plen, sizeof e->path - e->plen, fmt, ap);
    va_end(ap);
    /* a path too long for the buffer stays cut short: it only names errors */
    e->plen = n < 0 ? was : e->plen + (size_t)n >= sizeof e->path ? sizeof e->path - 1
                                                                   : e->plen + (size_t)n;
    return was;
}

static void path_pop(enc_t *e, size_t was)
{
    e->plen = was;
    e->path[was] = 0;
}

/* ---- the output buffer ---- */

static int reserve(enc_t *e, size_t n)
{
    if (n > SERIALIZERS_PROTO_MAX_OUT - e->len)
        return fail(e, "the message would be larger than %d bytes", SERIALIZERS_PROTO_MAX_OUT);
    if (e->len + n <= e->cap)
        return OD_OK;
    size_t c = e->cap ? e->cap : 256;
    while (c < e->len + n)
        c *= 2;
    uint8_t *g = realloc(e->p, c);
    if (!g)
        return fail(e, "out of memory");
    e->p = g;
    e->cap = c;
    return OD_OK;
}

static int put_varint(enc_t *e, uint64_t v)
{
    if (reserve(e, 10) != OD_OK)
        return OD_ERR_INVALID;
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        e->p[e->len++] = (uint8_t)(b | (v ? 0x80 : 0));
    } while (v);
    return OD_OK;
}

static int put_tag(enc_t *e, uint32_t number, int wt)
{
    return put_varint(e, (uint64_t)number << 3 | (uint64_t)wt);
}

static int put_fixed(enc_t *e, uint64_t v, int n)
{
    if (reserve(e, (size_t)n) != OD_OK)
        return OD_ERR_INVALID;
    for (int i = 0; i < n; i++)
        e->p[e->len++] = (uint8_t)(v >> (8 * i));
    return OD_OK;
}

static int put_bytes(enc_t *e, const void *p, size_t n)
{
    if (put_varint(e, n) != OD_OK || reserve(e, n) != OD_OK)
        return OD_ERR_INVALID;
    if (n)
        memcpy(e->p + e->len, p, n);
    e->len += n;
    return OD_OK;
}

/* A length-delimited value whose size is known only once it is written:
 * open leaves room for the longest length varint (the output is bounded
 * well below 2^35), close writes the length and closes the gap. */
static int open_len(enc_t *e, size_t *at)
{
    if (reserve(e, 5) != OD_OK)
        return OD_ERR_INVALID;
    *at = e->len;
    e->len += 5;
    return OD_OK;
}

static void close_len(enc_t *e, size_t at)
{
    size_t n = e->len - at - 5, k = 0;
    uint8_t v[5];
    uint64_t x = n;
    do {
        v[k] = x & 0x7f;
        x >>= 7;
        v[k] |= x ? 0x80 : 0;
        k++;
    } while (x);
    memmove(e->p + at + k, e->p + at + 5, n);
    memcpy(e->p + at, v, k);
    e->len -= 5 - k;
}

/* ---- scalars ---- */

/* A JSON integer (number or decimal string) as sign and magnitude: 0, -1
 * not an integer, -2 past 64 bits. */
static int get_integer(const json_t *v, int *neg, uint64_t *mag)
{
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        *neg = x < 0;
        *mag = x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x;
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!isfinite(d) || floor(d) != d)
            return -1;
        if (fabs(d) >= 18446744073709551616.0)
            return -2;
        *neg = d < 0;
        *mag = (uint64_t)fabs(d);
        return 0;
    }
    if (!json_is_string(v))
        return -1;
    const char *t = json_string_value(v);
    size_t n = json_string_length(v), i = 0;
    *neg = n > 0 && t[0] == '-';
    i = (size_t)*neg;
    if (i == n)
        return -1;
    uint64_t m = 0;
    for (; i < n; i++) {
        if (t[i] < '0' || t[i] > '9')
            return -1;
        unsigned d = (unsigned)(t[i] - '0');
        if (m > (UINT64_MAX - d) / 10)
            return -2;
        m = m * 10 + d;
    }
    *mag = m;
    return 0;
}

/* A JSON number, numeric string or "NaN"/"Infinity"/"-Infinity": 0 or -1. */
static int get_real(const json_t *v, double *d)
{
    if (json_is_number(v)) {
        *d = json_number_value(v);
        return 0;
    }
    if (!json_is_string(v))
        return -1;
    const char *t = json_string_value(v);
    if (strcmp(t, "NaN") == 0 || strcmp(t, "Infinity") == 0 || strcmp(t, "-Infinity") == 0) {
        *d = t[0] == 'N' ? NAN : t[0] == '-' ? -INFINITY : INFINITY;
        return 0;
    }
    size_t n = json_string_length(v);
    if (n == 0 || strspn(t, "0123456789+-.eE") != n)
        return -1; /* strtod's "inf", hex and spaces are not JSON's numbers */
    char *end;
    *d = strtod(t, &end);
    return end == t + n && isfinite(*d) ? 0 : -1;
}

/* The bits of a scalar field's value: a varint's value (zigzag, sign
 * extension done) or a fixed field's little-endian bytes. */
static int scalar_bits(enc_t *e, const pfield_t *f, const json_t *v, uint64_t *bits)
{
    int neg, rc;
    uint64_t mag;
    double d;
    switch (f->type) {
    case T_BOOL:
        if (!json_is_boolean(v))
            return fail(e, "expected true or false");
        *bits = json_is_true(v);
        return OD_OK;
    case T_FLOAT:
    case T_DOUBLE:
        if (get_real(v, &d) < 0)
            return fail(e, "expected a number (or \"NaN\", \"Infinity\", \"-Infinity\")");
        if (f->type == T_DOUBLE) {
            memcpy(bits, &d, sizeof d);
            return OD_OK;
        }
        if (isfinite(d) && fabs(d) > FLT_MAX)
            return fail(e, "%g is out of range for a float", d);
        float x = (float)d;
        uint32_t b;
        memcpy(&b, &x, sizeof b);
        *bits = b;
        return OD_OK;
    case T_ENUM:
        if (json_is_string(v) && get_integer(v, &neg, &mag) < 0) {
            const char *name = json_string_value(v);
            int32_t number;
            if (f->enm < 0)
                return fail(e, "enum %s is not in the descriptor: give the value's number",
                            f->type_name ? f->type_name : "?");
            if (proto_desc_enum_number(&e->s->enums[f->enm], name, &number) < 0)
                return fail(e, "enum %s has no value %s", e->s->enums[f->enm].full, name);
            *bits = (uint64_t)(int64_t)number;
            return OD_OK;
        }
        break;
    default:
        break;
    }
    rc = get_integer(v, &neg, &mag);
    if (rc == -1)
        return fail(e, f->type == T_ENUM ? "expected an enum value's name or number"
                                         : "expected an integer");
    int is64 = f->type == T_INT64 || f->type == T_UINT64 || f->type == T_SINT64 ||
               f->type == T_FIXED64 || f->type == T_SFIXED64;
    int unsig = f->type == T_UINT32 || f->type == T_UINT64 || f->type == T_FIXED32 ||
                f->type == T_FIXED64;
    uint64_t pos_max = unsig ? (is64 ? UINT64_MAX : UINT32_MAX) : (is64 ? INT64_MAX : INT32_MAX);
    uint64_t neg_max = unsig ? 0 : (is64 ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT32_MAX + 1);
    if (rc == -2 || (neg ? mag > neg_max : mag > pos_max)) {
        char shown[48];
        if (json_is_string(v))
            snprintf(shown, sizeof shown, "\"%.40s\"", json_string_value(v));
        else if (json_is_integer(v))
            snprintf(shown, sizeof shown, "%lld", (long long)json_integer_value(v));
        else
            snprintf(shown, sizeof shown, "%g", json_real_value(v));
        return fail(e, "%s is out of range for %s%d", shown, unsig ? "uint" : "int",
                    is64 ? 64 : 32);
    }
    /* two's complement of the signed value, sign-extended to 64 bits */
    uint64_t x = neg ? (uint64_t)0 - mag : mag;
    if (f->type == T_SINT32)
        x = (uint32_t)((uint32_t)x << 1) ^ (uint32_t)((int32_t)(uint32_t)x >> 31);
    else if (f->type == T_SINT64)
        x = (x << 1) ^ (uint64_t)((int64_t)x >> 63);
    else if (f->type == T_FIXED32 || f->type == T_SFIXED32)
        x = (uint32_t)x;
    *bits = x;
    return OD_OK;
}

static int put_scalar_bits(enc_t *e, int type, uint64_t bits)
{
    switch (type) {
    case T_DOUBLE: case T_FIXED64: case T_SFIXED64: return put_fixed(e, bits, 8);
    case T_FLOAT: case T_FIXED32: case T_SFIXED32: return put_fixed(e, bits, 4);
    default: return put_varint(e, bits);
    }
}

/* base64 in place of its own text (the output is shorter): the standard
 * or URL-safe alphabet, padding optional but, if there, correct. */
static int b64_decode(enc_t *e, const char *t, size_t n, uint8_t *out, size_t *out_len)
{
    size_t body = n;
    while (body > 0 && t[body - 1] == '=' && n - body < 2)
        body--;
    if ((n != body && n % 4 != 0) || body % 4 == 1)
        return fail(e, "invalid base64 (length %zu)", n);
    uint32_t acc = 0;
    size_t o = 0, bits = 0;
    for (size_t i = 0; i < body; i++) {
        int d = proto_b64_digit((unsigned char)t[i], 1);
        if (d < 0)
            return fail(e, "invalid base64 character at offset %zu", i);
        acc = acc << 6 | (uint32_t)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    *out_len = o;
    return OD_OK;
}

/* ---- messages ---- */

static int put_message(enc_t *e, int mi, const json_t *obj, int depth);

/* One value of field f (an element, if repeated) with its tag. */
static int put_value(enc_t *e, const pfield_t *f, const json_t *v, int depth)
{
    size_t at;
    if (json_is_null(v))
        return fail(e, "null is not a value here");
    switch (f->type) {
    case T_MESSAGE:
        if (put_tag(e, f->number, 2) != OD_OK || open_len(e, &at) != OD_OK ||
            put_message(e, f->msg, v, depth + 1) != OD_OK)
            return OD_ERR_INVALID;
        close_len(e, at);
        return OD_OK;
    case T_STRING:
        if (!json_is_string(v))
            return fail(e, "expected a string");
        return put_tag(e, f->number, 2) == OD_OK
                   ? put_bytes(e, json_string_value(v), json_string_length(v))
                   : OD_ERR_INVALID;
    case T_BYTES: {
        if (!json_is_string(v))
            return fail(e, "expected a base64 string");
        size_t n = json_string_length(v), dl = 0;
        if (put_tag(e, f->number, 2) != OD_OK || open_len(e, &at) != OD_OK ||
            reserve(e, n) != OD_OK ||
            b64_decode(e, json_string_value(v), n, e->p + e->len, &dl) != OD_OK)
            return OD_ERR_INVALID;
        e->len += dl;
        close_len(e, at);
        return OD_OK;
    }
    default: {
        uint64_t bits;
        if (scalar_bits(e, f, v, &bits) != OD_OK ||
            put_tag(e, f->number, proto_wire_type(f->type)) != OD_OK)
            return OD_ERR_INVALID;
        return put_scalar_bits(e, f->type, bits);
    }
    }
}

static const pfield_t *field_numbered(const pmsg_t *m, uint32_t number)
{
    for (size_t k = 0; k < m->nfields; k++)
        if (m->fields[k].number == number)
            return &m->fields[k];
    return NULL;
}

/* A map field given as a JSON object: one entry message per key. */
static int put_map(enc_t *e, const pfield_t *f, const json_t *obj, int depth)
{
    const pmsg_t *entry = &e->s->msgs[f->msg];
    const pfield_t *kf = field_numbered(entry, 1), *vf = field_numbered(entry, 2);
    if (!kf || !vf)
        return fail(e, "map entry %s lacks its key or value field", entry->full);
    if (depth + 1 > SERIALIZERS_MAX_DEPTH)
        return fail(e, "messages nested deeper than %d", SERIALIZERS_MAX_DEPTH);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        size_t was = path_push(e, "[\"%s\"]", key);
        if (json_is_null(v))
            return fail(e, "a map value cannot be null");
        json_t *kj;
        if (kf->type == T_BOOL) {
            if (strcmp(key, "true") != 0 && strcmp(key, "false") != 0)
                return fail(e, "a bool map key is \"true\" or \"false\"");
            kj = json_boolean(key[0] == 't');
        } else if (kf->type == T_STRING ||
                   (proto_wire_type(kf->type) != 2 && kf->type != T_FLOAT &&
                    kf->type != T_DOUBLE && kf->type != T_ENUM)) {
            kj = json_string(key);
        } else {
            return fail(e, "map %s has a key type JSON keys cannot give", entry->full);
        }
        size_t at = 0;
        int rc = kj ? OD_OK : fail(e, "out of memory");
        if (rc == OD_OK)
            rc = put_tag(e, f->number, 2) == OD_OK && open_len(e, &at) == OD_OK &&
                         put_value(e, kf, kj, depth + 1) == OD_OK &&
                         put_value(e, vf, v, depth + 1) == OD_OK
                     ? OD_OK
                     : OD_ERR_INVALID;
        json_decref(kj);
        if (rc != OD_OK)
            return rc;
        close_len(e, at);
        path_pop(e, was);
    }
    return OD_OK;
}

static int packs(const pmsg_t *m, const pfield_t *f)
{
    return proto_wire_type(f->type) != 2 && (f->packed == 1 || (f->packed == -1 && m->packs));
}

/* Field f of message m set to v (not null). */
static int put_field(enc_t *e, const pmsg_t *m, const pfield_t *f, const json_t *v, int depth)
{
    if (f->label != 3)
        return put_value(e, f, v, depth);
    if (f->type == T_MESSAGE && e->s->msgs[f->msg].map_entry && json_is_object(v))
        return put_map(e, f, v, depth);
    if (!json_is_array(v))
        return fail(e, "expected an array");
    size_t n = json_array_size(v);
    if (n == 0)
        return OD_OK;
    if (packs(m, f)) {
        size_t at;
        if (put_tag(e, f->number, 2) != OD_OK || open_len(e, &at) != OD_OK)
            return OD_ERR_INVALID;
        for (size_t i = 0; i < n; i++) {
            size_t was = path_push(e, "[%zu]", i);
            uint64_t bits;
            const json_t *x = json_array_get(v, i);
            if (json_is_null(x))
                return fail(e, "null is not a value here");
            if (scalar_bits(e, f, x, &bits) != OD_OK ||
                put_scalar_bits(e, f->type, bits) != OD_OK)
                return OD_ERR_INVALID;
            path_pop(e, was);
        }
        close_len(e, at);
        return OD_OK;
    }
    for (size_t i = 0; i < n; i++) {
        size_t was = path_push(e, "[%zu]", i);
        if (put_value(e, f, json_array_get(v, i), depth) != OD_OK)
            return OD_ERR_INVALID;
        path_pop(e, was);
    }
    return OD_OK;
}

static int put_message(enc_t *e, int mi, const json_t *obj, int depth)
{
    const pmsg_t *m = &e->s->msgs[mi];
    if (depth > SERIALIZERS_MAX_DEPTH)
        return fail(e, "messages nested deeper than %d", SERIALIZERS_MAX_DEPTH);
    if (!json_is_object(obj))
        return fail(e, "expected an object (message %s)", m->full);
    /* per field: the value and the key it came by; per oneof: its member */
    size_t nslots = 2 * m->nfields + m->noneofs + 1;
    const void **slot = calloc(nslots, sizeof(*slot));
    if (!slot)
        return fail(e, "out of memory");
    const json_t **val = (const json_t **)slot;
    const char **by = (const char **)(slot + m->nfields);
    const pfield_t **member = (const pfield_t **)(slot + 2 * m->nfields);
    int rc = OD_OK;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        const pfield_t *f = proto_desc_field_named(m, key);
        size_t was = path_push(e, ".%s", key);
        size_t k = f ? (size_t)(f - m->fields) : 0;
        if (!f)
            rc = fail(e, "%s has no field %s", m->full, key);
        else if (by[k])
            rc = fail(e, "field %s is given twice (also as %s)", f->name, by[k]);
        else if (!json_is_null(v) && f->oneof >= 0 && member[f->oneof])
            rc = fail(e, "%s and %s are of one oneof: set one of them", member[f->oneof]->name,
                      f->name);
        if (rc != OD_OK)
            break;
        path_pop(e, was);
        by[k] = key;
        if (json_is_null(v))
            continue; /* null: the field is not set */
        val[k] = v;
        if (f->oneof >= 0)
            member[f->oneof] = f;
    }
    for (size_t i = 0; rc == OD_OK && i < m->nfields; i++) {
        size_t k = m->by_number[i];
        const pfield_t *f = &m->fields[k];
        if (!val[k]) {
            if (f->label == 2)
                rc = fail(e, "required field %s is missing", f->name);
            continue;
        }
        size_t was = path_push(e, ".%s", by[k]);
        rc = put_field(e, m, f, val[k], depth);
        if (rc == OD_OK)
            path_pop(e, was);
    }
    free(slot);
    return rc;
}

/* The index path of message type mi from list (Confluent's message
 * indexes); its length, or -1 when mi is not under list. */
static int index_path(const pschema_t *s, const int *list, size_t n, int mi, int *path,
                      int depth)
{
    if (depth >= SERIALIZERS_MAX_DEPTH + 1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        path[depth] = (int)i;
        if (list[i] == mi)
            return depth + 1;
        int r = index_path(s, s->msgs[list[i]].nested, s->msgs[list[i]].nnested, mi, path,
                           depth + 1);
        if (r > 0)
            return r;
    }
    return -1;
}

static int put_indexes(enc_t *e, int mi)
{
    int path[SERIALIZERS_MAX_DEPTH + 1];
    int n = index_path(e->s, e->s->top, e->s->ntop, mi, path, 0);
    if (n < 0)
        return fail(e, "message type %s has no message indexes", e->s->msgs[mi].full);
    if (n == 1 && path[0] == 0)
        return put_varint(e, 0); /* [0], the file's first type: Confluent writes a lone 0 */
    if (put_varint(e, (uint64_t)n << 1) != OD_OK)
        return OD_ERR_INVALID;
    for (int i = 0; i < n; i++)
        if (put_varint(e, (uint64_t)path[i] << 1) != OD_OK)
            return OD_ERR_INVALID;
    return OD_OK;
}

int serializers_proto_from_json_as(void *compiled, const char *message, const char *json,
                                   size_t json_len, uint8_t **out, size_t *out_len, char *err,
                                   size_t errsz)
{
    const pschema_t *s = compiled;
    *out = NULL;
    *out_len = 0;
    if (!s)
        return serializers_errf(err, errsz, "protobuf needs a schema");
    if (json_len > SERIALIZERS_PROTO_MAX_JSON)
        return serializers_errf(err, errsz, "$: JSON text larger than %d bytes",
                                SERIALIZERS_PROTO_MAX_JSON);
    int mi = s->root >= 0 ? s->root : s->top[0];
    if (message) {
        int want = proto_desc_find_msg(s, message);
        if (want < 0)
            return serializers_errf(err, errsz, "message type %s is not in the schema", message);
        if (s->root >= 0 && want != s->root)
            return serializers_errf(err, errsz, "this schema's records are %s, not %s",
                                    s->msgs[s->root].full, message);
        mi = want;
    }
    json_error_t je;
    json_t *j = json_loadb(json, json_len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY |
                           JSON_ALLOW_NUL, &je);
    if (!j)
        return serializers_errf(err, errsz, "$: not JSON: %s (line %d, column %d)", je.text,
                                je.line, je.column);
    enc_t e = {.s = s, .path = "$", .plen = 1, .err = err, .errsz = errsz};
    int rc = s->root < 0 ? put_indexes(&e, mi) : OD_OK;
    if (rc == OD_OK)
        rc = put_message(&e, mi, j, 0);
    json_decref(j);
    if (rc != OD_OK) {
        free(e.p);
        return OD_ERR_INVALID;
    }
    *out = e.p ? e.p : malloc(1);
    *out_len = e.len;
    return *out ? OD_OK : serializers_errf(err, errsz, "out of memory");
}

int proto_from_json(void *self, void *compiled, const char *json, size_t json_len, uint8_t **out,
                    size_t *out_len, char *err, size_t errsz)
{
    (void)self;
    return serializers_proto_from_json_as(compiled, NULL, json, json_len, out, out_len, err,
                                          errsz);
}
