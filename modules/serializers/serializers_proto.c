/* serializers_proto.c - the `protobuf` serializer. The schema is the name
 * of the record's message type on the first line, then a
 * FileDescriptorSet in its binary form (what `protoc --include_imports
 * --descriptor_set_out` writes): "shop.Order\n<bytes>". protobuf-c has no
 * dynamic message API, so both the descriptor set and the records are read
 * by the small wire-format walker below rather than by generated code:
 * the descriptor needs only a handful of fields of descriptor.proto
 * (messages, their fields and nested types), and keeping the walker in one
 * place keeps every length and count bound-checked the same way.
 *
 * A record must be a well-formed message of that type: every tag valid,
 * each known field in the wire type its declared type uses (packed
 * repeated scalars accepted), strings UTF-8, nested messages valid to the
 * depth limit, proto2 required fields present. Unknown fields are allowed
 * (protobuf keeps them) but must be well-formed; groups are refused.
 * The types are in serializers_proto_int.h; from_json, and what it needs
 * of the descriptor beyond this file's reading, are in
 * serializers_proto_write.c and serializers_proto_desc.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "serializers.h"
#include "serializers_proto_int.h"

static void schema_free(pschema_t *s)
{
    proto_desc_free(s);
    for (size_t i = 0; s && i < s->nmsgs; i++) {
        for (size_t k = 0; k < s->msgs[i].nfields; k++) {
            free(s->msgs[i].fields[k].type_name);
            free(s->msgs[i].fields[k].name);
        }
        free(s->msgs[i].fields);
        free(s->msgs[i].full);
        free(s->msgs[i].nested);
    }
    if (s) {
        free(s->msgs);
        free(s->top);
    }
    free(s);
}

static int add_field(pmsg_t *m, wr_t f, char *err, size_t errsz)
{
    if (m->nfields == PROTO_MAX_FIELDS)
        return serializers_errf(err, errsz, "message %s has more than %d fields", m->full,
                                PROTO_MAX_FIELDS);
    pfield_t *g = proto_desc_grow(m->fields, m->nfields, &m->cap, 8, sizeof(*g));
    if (!g)
        return serializers_errf(err, errsz, "out of memory");
    m->fields = g;
    pfield_t *fd = &m->fields[m->nfields];
    memset(fd, 0, sizeof(*fd));
    fd->msg = fd->oneof = fd->packed = fd->enm = -1;
    fd->label = 1;
    uint32_t num;
    int wt, rc;
    wr_t sub;
    uint64_t v = 0;
    while ((rc = rd_field(&f, &num, &wt, &sub, &v)) == 1) {
        if (num == 1 && wt == 2 && !fd->name)
            fd->name = proto_desc_dup(sub);
        else if (num == 3 && wt == 0)
            fd->number = (uint32_t)v;
        else if (num == 4 && wt == 0)
            fd->label = (int)v;
        else if (num == 5 && wt == 0)
            fd->type = (int)v;
        else if (num == 6 && wt == 2 && !fd->type_name)
            fd->type_name = proto_desc_dup(sub);
        else if (proto_desc_field(fd, num, wt, sub, v) < 0)
            rc = -2;
    }
    m->nfields++;
    if (rc == -2)
        return serializers_errf(err, errsz, "out of memory");
    if (rc < 0 || fd->number == 0 || fd->type < T_DOUBLE || fd->type > T_SINT64)
        return serializers_errf(err, errsz, "bad field in message %s", m->full);
    return 0;
}

static int push_index(int **list, size_t *n, int idx)
{
    int *g = realloc(*list, (*n + 1) * sizeof(*g));
    if (!g)
        return -1;
    g[(*n)++] = idx;
    *list = g;
    return 0;
}

/* One DescriptorProto (and its nested types) under prefix; its index goes
 * to *parent_list. */
static int add_message(pschema_t *s, const char *prefix, wr_t d, int depth, int **parent_list,
                       size_t *parent_n, char *err, size_t errsz)
{
    if (depth > SERIALIZERS_MAX_DEPTH)
        return serializers_errf(err, errsz, "message types nested deeper than %d",
                                SERIALIZERS_MAX_DEPTH);
    if (s->nmsgs == PROTO_MAX_MESSAGES)
        return serializers_errf(err, errsz, "more than %d message types", PROTO_MAX_MESSAGES);
    char name[PROTO_MAX_NAME];
    if (proto_desc_type_name(d, prefix, name) < 0)
        return serializers_errf(err, errsz, "a message type without a name");
    pmsg_t *g = proto_desc_grow(s->msgs, s->nmsgs, &s->cap, 16, sizeof(*g));
    if (!g)
        return serializers_errf(err, errsz, "out of memory");
    s->msgs = g;
    uint32_t num;
    int wt, rc;
    uint64_t val;
    wr_t sub;
    size_t idx = s->nmsgs++;
    memset(&s->msgs[idx], 0, sizeof(pmsg_t));
    s->msgs[idx].full = strdup(name);
    if (!s->msgs[idx].full || push_index(parent_list, parent_n, (int)idx) < 0)
        return serializers_errf(err, errsz, "out of memory");
    while ((rc = rd_field(&d, &num, &wt, &sub, &val)) == 1) {
        if (num == 2 && wt == 2 && add_field(&s->msgs[idx], sub, err, errsz) < 0)
            return -1;
        /* s->msgs may move while nested types are added: index, not pointer */
        if (num == 3 && wt == 2) {
            int *nested = s->msgs[idx].nested;
            size_t nn = s->msgs[idx].nnested;
            s->msgs[idx].nested = NULL;
            int r = add_message(s, name, sub, depth + 1, &nested, &nn, err, errsz);
            s->msgs[idx].nested = nested;
            s->msgs[idx].nnested = nn;
            if (r < 0)
                return -1;
        }
        if (proto_desc_message(s, idx, name, num, wt, sub, err, errsz) != OD_OK)
            return -1;
    }
    return rc < 0 ? serializers_errf(err, errsz, "malformed message type %s", name) : 0;
}

/* Standard base64 with padding (whitespace skipped); NULL when it is not. */
static uint8_t *b64_decode(const char *in, size_t len, size_t *out_len)
{
    uint8_t *out = malloc(len / 4 * 3 + 3);
    if (!out)
        return NULL;
    size_t o = 0, n = 0, pad = 0;
    uint32_t acc = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
            continue;
        int v = c == '=' ? 0 : proto_b64_digit(c, 0);
        if (v < 0 || (pad && c != '=')) {
            free(out);
            return NULL;
        }
        pad += c == '=';
        acc = acc << 6 | (uint32_t)v;
        if (++n == 4) {
            out[o++] = (uint8_t)(acc >> 16);
            if (pad < 2)
                out[o++] = (uint8_t)(acc >> 8);
            if (pad < 1)
                out[o++] = (uint8_t)acc;
            n = 0;
            acc = 0;
        }
    }
    if (n != 0 || o == 0 || pad > 2) {
        free(out);
        return NULL;
    }
    *out_len = o;
    return out;
}

static int proto_compile(void *self, const char *schema, size_t len, void **compiled, char *err,
                         size_t errsz)
{
    (void)self;
    *compiled = NULL;
    if (!schema || len == 0)
        return serializers_errf(err, errsz, "protobuf needs a schema: the message name, a "
                                "newline, a FileDescriptorSet");
    if (len > SERIALIZERS_MAX_SCHEMA)
        return serializers_errf(err, errsz, "schema larger than %d bytes", SERIALIZERS_MAX_SCHEMA);
    const char *nl = memchr(schema, '\n', len < 512 ? len : 512);
    char root[512] = "";
    uint8_t *decoded = NULL;
    wr_t set, file, sub;
    int one_file = 0;
    if (nl && nl != schema) {
        snprintf(root, sizeof(root), "%.*s", (int)(nl - schema), schema);
        set = (wr_t){(const uint8_t *)nl + 1, len - (size_t)(nl + 1 - schema), 0};
    } else {
        /* the registry's form: a base64 FileDescriptorProto, as Confluent's
         * clients register it; records name their type by message indexes */
        size_t dl = 0;
        decoded = b64_decode(schema, len, &dl);
        if (!decoded)
            return serializers_errf(err, errsz, "the schema is neither \"Message.Name\\n\" and a "
                                    "FileDescriptorSet nor a base64 FileDescriptorProto (.proto "
                                    "text is not supported)");
        set = (wr_t){decoded, dl, 0};
        one_file = 1;
    }
    pschema_t *s = calloc(1, sizeof(*s));
    if (!s) {
        free(decoded);
        return serializers_errf(err, errsz, "out of memory");
    }
    uint32_t num;
    int wt, rc = 1;
    uint64_t val;
    for (int first = 1; one_file ? first : (rc = rd_field(&set, &num, &wt, &file, &val)) == 1;
         first = 0) {
        if (one_file) {
            file = set;
            num = 1, wt = 2;
        }
        if (num != 1 || wt != 2)
            continue;
        char pkg[256] = "";
        int proto2 = 1; /* no syntax field: proto2 */
        wr_t scan = file;
        while ((rc = rd_field(&scan, &num, &wt, &sub, &val)) == 1) {
            if (num == 2 && wt == 2 && sub.len < sizeof(pkg))
                snprintf(pkg, sizeof(pkg), "%.*s", (int)sub.len, (const char *)sub.p);
            if (num == 12 && wt == 2)
                proto2 = sub.len == 6 && memcmp(sub.p, "proto2", 6) == 0;
        }
        if (rc < 0)
            break;
        size_t first_msg = s->nmsgs;
        while ((rc = rd_field(&file, &num, &wt, &sub, &val)) == 1)
            if ((num == 4 && wt == 2 && add_message(s, pkg, sub, 0, &s->top, &s->ntop, err,
                                                    errsz) < 0) ||
                (num == 5 && wt == 2 && proto_desc_enum(s, pkg, sub, err, errsz) != OD_OK)) {
                schema_free(s);
                free(decoded);
                return OD_ERR_INVALID;
            }
        if (rc < 0)
            break;
        for (size_t i = first_msg; i < s->nmsgs; i++)
            s->msgs[i].packs = !proto2; /* proto3 and editions pack by default */
    }
    free(decoded);
    if (rc < 0) {
        schema_free(s);
        return serializers_errf(err, errsz, "not a FileDescriptorSet (malformed wire format)");
    }
    for (size_t i = 0; i < s->nmsgs; i++)
        for (size_t k = 0; k < s->msgs[i].nfields; k++) {
            pfield_t *f = &s->msgs[i].fields[k];
            if (f->type == T_GROUP) {
                serializers_errf(err, errsz, "%s.%s: groups are not supported", s->msgs[i].full,
                                 f->name ? f->name : "?");
                schema_free(s);
                return OD_ERR_INVALID;
            }
            if (f->type != T_MESSAGE)
                continue;
            f->msg = f->type_name ? proto_desc_find_msg(s, f->type_name) : -1;
            if (f->msg < 0) {
                serializers_errf(err, errsz, "%s.%s: message type %s is not in the set",
                                 s->msgs[i].full, f->name ? f->name : "?",
                                 f->type_name ? f->type_name : "(none)");
                schema_free(s);
                return OD_ERR_INVALID;
            }
        }
    s->root = root[0] ? proto_desc_find_msg(s, root) : -1;
    if (!root[0] && s->ntop == 0) {
        schema_free(s);
        return serializers_errf(err, errsz, "the descriptor has no message type");
    }
    if (root[0] && s->root < 0) {
        schema_free(s);
        return serializers_errf(err, errsz, "message type %s is not in the descriptor set", root);
    }
    if (proto_desc_prepare(s, err, errsz) != OD_OK) {
        schema_free(s);
        return OD_ERR_INVALID;
    }
    *compiled = s;
    return OD_OK;
}

static void proto_free(void *self, void *compiled)
{
    (void)self;
    schema_free(compiled);
}

static int packed_ok(int type, wr_t sub)
{
    int wt = proto_wire_type(type);
    if (wt == 1)
        return sub.len % 8 == 0;
    if (wt == 5)
        return sub.len % 4 == 0;
    uint64_t v;
    while (sub.pos < sub.len)
        if (rd_varint(&sub, &v) < 0)
            return 0;
    return 1;
}

/* ---- a field's value as JSON (proto3's JSON mapping: 64-bit integers as
 * strings, bytes as base64, enums by name, or by number when the value
 * (or the enum type) is not in the descriptor; fields by their declared
 * names) ---- */

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static json_t *int64_json(int64_t v)
{
    char t[24];
    snprintf(t, sizeof t, "%lld", (long long)v);
    return json_string(t);
}

static json_t *b64_json(const uint8_t *p, size_t n)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *o = malloc(4 * (n / 3 + 1) + 1);
    if (!o)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        o[k++] = a[v >> 18 & 63];
        o[k++] = a[v >> 12 & 63];
        o[k++] = i + 1 < n ? a[v >> 6 & 63] : '=';
        o[k++] = i + 2 < n ? a[v & 63] : '=';
    }
    json_t *j = json_stringn(o, k);
    free(o);
    return j;
}

static json_t *enum_json(const pschema_t *s, const pfield_t *f, int32_t number)
{
    const char *name = f->enm >= 0 ? proto_desc_enum_name(&s->enums[f->enm], number) : NULL;
    return name ? json_string(name) : json_integer(number);
}

/* A scalar of wire type 0 (val), 1 or 5 (the bytes at fixed). */
static json_t *scalar_json(const pschema_t *s, const pfield_t *f, uint64_t val,
                           const uint8_t *fixed)
{
    switch (f->type) {
    case T_INT32: return json_integer((int32_t)(uint32_t)val);
    case T_UINT32: return json_integer((uint32_t)val);
    case T_ENUM: return enum_json(s, f, (int32_t)(uint32_t)val);
    case T_SINT32: return json_integer((int32_t)((uint32_t)(val >> 1) ^ -(uint32_t)(val & 1)));
    case T_INT64: return int64_json((int64_t)val);
    case T_UINT64: {
        char t[24];
        snprintf(t, sizeof t, "%llu", (unsigned long long)val);
        return json_string(t);
    }
    case T_SINT64: return int64_json((int64_t)(val >> 1) ^ -(int64_t)(val & 1));
    case T_BOOL: return json_boolean(val != 0);
    case T_FIXED32: return json_integer((uint32_t)le(fixed, 4));
    case T_SFIXED32: return json_integer((int32_t)(uint32_t)le(fixed, 4));
    case T_FIXED64: {
        char t[24];
        snprintf(t, sizeof t, "%llu", (unsigned long long)le(fixed, 8));
        return json_string(t);
    }
    case T_SFIXED64: return int64_json((int64_t)le(fixed, 8));
    case T_FLOAT: {
        uint32_t b = (uint32_t)le(fixed, 4);
        float x;
        memcpy(&x, &b, sizeof x);
        return serializers_real_json(x);
    }
    case T_DOUBLE: {
        uint64_t b = le(fixed, 8);
        double d;
        memcpy(&d, &b, sizeof d);
        return serializers_real_json(d);
    }
    default: return NULL;
    }
}

/* Set (or, repeated, append) a field's value in obj; v NULL: no memory. */
static int put_field(json_t *obj, const pfield_t *f, json_t *v, char *err, size_t errsz)
{
    if (!v)
        return serializers_errf(err, errsz, "out of memory");
    int rc;
    if (f->label != 3) {
        rc = json_object_set_new(obj, f->name, v);
    } else {
        json_t *arr = json_object_get(obj, f->name);
        if (!arr && (!(arr = json_array()) || json_object_set_new(obj, f->name, arr) != 0)) {
            json_decref(v);
            return serializers_errf(err, errsz, "out of memory");
        }
        rc = json_array_append_new(arr, v);
    }
    return rc == 0 ? OD_OK : serializers_errf(err, errsz, "out of memory");
}

/* A packed repeated scalar field: each element into obj. */
static int put_packed(const pschema_t *s, json_t *obj, const pfield_t *f, wr_t sub, char *err,
                      size_t errsz)
{
    int wt = proto_wire_type(f->type);
    while (sub.pos < sub.len) {
        uint64_t v = 0;
        const uint8_t *at = sub.p + sub.pos;
        if (wt == 0)
            rd_varint(&sub, &v); /* packed_ok checked the whole run */
        else
            sub.pos += wt == 1 ? 8 : 4;
        if (put_field(obj, f, scalar_json(s, f, v, at), err, errsz) != OD_OK)
            return OD_ERR_INVALID;
    }
    return OD_OK;
}

/* Validate one message; with out (an object) also build it as JSON. */
static int walk(const pschema_t *s, int mi, wr_t r, int depth, json_t *out, char *err,
                size_t errsz)
{
    const pmsg_t *m = &s->msgs[mi];
    if (depth > SERIALIZERS_MAX_DEPTH)
        return serializers_errf(err, errsz, "messages nested deeper than %d",
                                SERIALIZERS_MAX_DEPTH);
    uint8_t seen[PROTO_MAX_FIELDS];
    memset(seen, 0, m->nfields);
    uint32_t num;
    int wt, rc;
    uint64_t val = 0;
    wr_t sub;
    while ((rc = rd_field(&r, &num, &wt, &sub, &val)) == 1) {
        const pfield_t *f = NULL;
        size_t k;
        for (k = 0; k < m->nfields; k++)
            if (m->fields[k].number == num) {
                f = &m->fields[k];
                break;
            }
        if (!f)
            continue; /* an unknown field, well-formed */
        seen[k] = 1;
        int want = proto_wire_type(f->type);
        if (wt != want) {
            if (!(wt == 2 && f->label == 3 && want != 2 && packed_ok(f->type, sub)))
                return serializers_errf(err, errsz, "%s.%s (field %u): wire type %d, the "
                                        "declared type needs %d", m->full, f->name, num, wt,
                                        want);
            if (out && put_packed(s, out, f, sub, err, errsz) != OD_OK)
                return OD_ERR_INVALID;
            continue;
        }
        if (f->type == T_STRING) {
            size_t bad;
            if (!serializers_utf8_ok(sub.p, sub.len, &bad))
                return serializers_errf(err, errsz, "%s.%s: string is not UTF-8", m->full,
                                        f->name);
            if (out && put_field(out, f, json_stringn((const char *)sub.p, sub.len), err,
                                 errsz) != OD_OK)
                return OD_ERR_INVALID;
        } else if (f->type == T_MESSAGE) {
            json_t *o = out ? json_object() : NULL;
            if (out && !o)
                return serializers_errf(err, errsz, "out of memory");
            if (walk(s, f->msg, sub, depth + 1, o, err, errsz) != OD_OK) {
                json_decref(o);
                return OD_ERR_INVALID;
            }
            if (out && put_field(out, f, o, err, errsz) != OD_OK)
                return OD_ERR_INVALID;
        } else if (out) {
            json_t *v = f->type == T_BYTES ? b64_json(sub.p, sub.len)
                                           : scalar_json(s, f, val,
                                                         r.p + r.pos - (wt == 1 ? 8 : 4));
            if (put_field(out, f, v, err, errsz) != OD_OK)
                return OD_ERR_INVALID;
        }
    }
    if (rc < 0)
        return serializers_errf(err, errsz, "%s: malformed wire format at byte %zu", m->full,
                                r.pos);
    for (size_t k = 0; k < m->nfields; k++)
        if (m->fields[k].label == 2 && !seen[k])
            return serializers_errf(err, errsz, "%s: required field %s is missing", m->full,
                                    m->fields[k].name);
    return OD_OK;
}

/* Validate a record (message indexes, then the message); out as in walk. */
static int read_record(void *compiled, const uint8_t *data, size_t len, json_t *out, char *err,
                       size_t errsz)
{
    const pschema_t *s = compiled;
    if (!s)
        return serializers_errf(err, errsz, "protobuf needs a schema");
    wr_t r = {data, len, 0};
    int mi = s->root;
    if (mi < 0) {
        /* Confluent's message indexes: zigzag varints, a count and then the
         * path (top-level index, nested indexes); a lone 0 is [0], the
         * file's first message type */
        uint64_t v;
        if (rd_varint(&r, &v) < 0)
            return serializers_errf(err, errsz, "no message indexes before the message");
        int64_t count = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
        if (count < 0 || count > SERIALIZERS_MAX_DEPTH)
            return serializers_errf(err, errsz, "bad message index count %lld",
                                    (long long)count);
        const int *list = s->top;
        size_t n = s->ntop;
        mi = count == 0 ? (s->ntop ? s->top[0] : -1) : -1;
        for (int64_t i = 0; i < count; i++) {
            if (rd_varint(&r, &v) < 0)
                return serializers_errf(err, errsz, "message indexes end early");
            int64_t ix = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            if (ix < 0 || (uint64_t)ix >= n)
                return serializers_errf(err, errsz, "message index %lld names no message type",
                                        (long long)ix);
            mi = list[ix];
            list = s->msgs[mi].nested;
            n = s->msgs[mi].nnested;
        }
        if (mi < 0)
            return serializers_errf(err, errsz, "the descriptor has no message type");
        r = (wr_t){r.p + r.pos, r.len - r.pos, 0};
    }
    return walk(s, mi, r, 0, out, err, errsz);
}

static int proto_validate(void *self, void *compiled, const uint8_t *data, size_t len, char *err,
                          size_t errsz)
{
    (void)self;
    return read_record(compiled, data, len, NULL, err, errsz);
}

static int proto_to_json(void *self, void *compiled, const uint8_t *data, size_t len, char **out,
                         char *err, size_t errsz)
{
    (void)self;
    json_t *o = json_object();
    if (!o)
        return serializers_errf(err, errsz, "out of memory");
    int rc = read_record(compiled, data, len, o, err, errsz);
    *out = rc == OD_OK ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (rc == OD_OK && !*out)
        return serializers_errf(err, errsz, "out of memory");
    return rc;
}

const od_serializer_ops_t serializers_proto_ops = {
    .struct_size = sizeof(od_serializer_ops_t),
    .name = "protobuf",
    .compile = proto_compile,
    .free_compiled = proto_free,
    .validate = proto_validate,
    .to_json = proto_to_json,
    .from_json = proto_from_json,
};
