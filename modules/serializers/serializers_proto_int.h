/* serializers_proto_int.h - what the protobuf serializer's files share:
 * the compiled descriptor (serializers_proto.c reads the message types
 * for validate and to_json; serializers_proto_desc.c adds what from_json
 * needs: enum names, JSON names, oneofs, map entries, field order), the
 * bounded wire-format reader both walk descriptors and records with, and
 * the pieces of descriptor reading and of the wire format all three files
 * use (type names, array growth, wire types, base64 digits). */
#ifndef SERIALIZERS_PROTO_INT_H
#define SERIALIZERS_PROTO_INT_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_MAX_MESSAGES 10000
#define PROTO_MAX_FIELDS 1024 /* per message */
#define PROTO_MAX_ENUMS 10000
#define PROTO_MAX_ENUM_VALUES 10000 /* per enum */

enum { T_DOUBLE = 1, T_FLOAT, T_INT64, T_UINT64, T_INT32, T_FIXED64, T_FIXED32, T_BOOL,
       T_STRING, T_GROUP, T_MESSAGE, T_BYTES, T_UINT32, T_ENUM, T_SFIXED32, T_SFIXED64,
       T_SINT32, T_SINT64 };

typedef struct pfield {
    uint32_t number;
    int label; /* 1 optional, 2 required, 3 repeated */
    int type;
    char *type_name; /* ".pkg.Msg" for messages and enums, until resolved */
    int msg;         /* index of the message type, -1 */
    char *name;
    char *json_name; /* the descriptor's, else lowerCamelCase of name (prepare) */
    int oneof;       /* oneof_index, -1: in none */
    int packed;      /* [packed = ...]: -1 not said, 0, 1 */
    int enm;         /* index of the enum type, -1 */
} pfield_t;

/* A message's field names (declared and JSON) sorted for bsearch. */
typedef struct pname {
    const char *name;
    size_t field;
} pname_t;

typedef struct pmsg {
    char *full; /* "pkg.Outer.Inner" */
    pfield_t *fields;
    size_t nfields, cap;
    int *nested; /* indexes of the nested message types, in declaration order */
    size_t nnested;
    int map_entry;    /* the synthetic entry type of a map<K, V> field */
    int packs;        /* repeated scalars are packed unless said otherwise (proto3) */
    size_t noneofs;    /* 1 + the highest oneof_index of its fields */
    size_t *by_number; /* field indexes in field-number order (prepare) */
    pname_t *names;    /* nnames = 2 * nfields at most (prepare) */
    size_t nnames;
} pmsg_t;

typedef struct penum_value {
    char *name;
    int32_t number;
    uint32_t decl; /* its place in the declaration: of aliases, the first names the number */
} penum_value_t;

typedef struct penum {
    char *full; /* "pkg.Outer.Color" */
    penum_value_t *values; /* sorted by name (prepare) */
    size_t nvalues, cap;
    penum_value_t *by_number; /* the same values (names shared) by number, then decl */
} penum_t;

typedef struct pschema {
    pmsg_t *msgs;
    size_t nmsgs, cap;
    int *top; /* the file's top-level message types, in order */
    size_t ntop;
    int root; /* -1: chosen per record by Confluent's message indexes */
    penum_t *enums;
    size_t nenums, ecap;
} pschema_t;

typedef struct wr {
    const uint8_t *p;
    size_t len, pos;
} wr_t;

static inline int rd_varint(wr_t *r, uint64_t *v)
{
    *v = 0;
    for (int i = 0; i < 10; i++) {
        if (r->pos >= r->len)
            return -1;
        uint8_t b = r->p[r->pos++];
        *v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80))
            return 0;
    }
    return -1;
}

/* The next field: 1 with number, wire type, the value of a varint (wire
 * type 0) and the payload of wire type 2; 0 at the end; -1 malformed. */
static inline int rd_field(wr_t *r, uint32_t *num, int *wt, wr_t *sub, uint64_t *val)
{
    if (r->pos == r->len)
        return 0;
    uint64_t key, v;
    if (rd_varint(r, &key) < 0 || (key >> 3) == 0 || (key >> 3) > 0x1fffffff)
        return -1;
    *num = (uint32_t)(key >> 3);
    *wt = (int)(key & 7);
    switch (*wt) {
    case 0:
        if (rd_varint(r, &v) < 0)
            return -1;
        *val = v;
        return 1;
    case 1:
        if (r->len - r->pos < 8)
            return -1;
        r->pos += 8;
        return 1;
    case 5:
        if (r->len - r->pos < 4)
            return -1;
        r->pos += 4;
        return 1;
    case 2:
        if (rd_varint(r, &v) < 0 || v > r->len - r->pos)
            return -1;
        sub->p = r->p + r->pos;
        sub->len = (size_t)v;
        sub->pos = 0;
        r->pos += (size_t)v;
        return 1;
    default:
        return -1; /* groups (3, 4) and the unused 6, 7 */
    }
}

/* The wire type a field of a declared type is written in (packed runs of
 * repeated scalars aside). */
static inline int proto_wire_type(int type)
{
    switch (type) {
    case T_DOUBLE: case T_FIXED64: case T_SFIXED64: return 1;
    case T_FLOAT: case T_FIXED32: case T_SFIXED32: return 5;
    case T_STRING: case T_BYTES: case T_MESSAGE: return 2;
    default: return 0;
    }
}

/* A base64 digit's value, -1 for none: the standard alphabet, and with
 * url_safe also the URL-safe one ('-', '_'), which proto3's JSON accepts. */
static inline int proto_b64_digit(unsigned char c, int url_safe)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || (url_safe && c == '-'))
        return 62;
    return c == '/' || (url_safe && c == '_') ? 63 : -1;
}

/* ---- serializers_proto_desc.c: reading descriptors ---- */

/* Longest qualified type name kept ("pkg.Outer.Inner"). */
#define PROTO_MAX_NAME 512

/* sub's bytes as a NUL-terminated string (malloc'd), NULL out of memory. */
char *proto_desc_dup(wr_t sub);
/* The name (field 1) of a DescriptorProto or EnumDescriptorProto d,
 * qualified by prefix (a package or an enclosing type; "" for none), into
 * name; 0, or -1 when d is malformed or has no name under 256 bytes. */
int proto_desc_type_name(wr_t d, const char *prefix, char name[PROTO_MAX_NAME]);
/* Room for element n of arr (capacity *cap, first first elements of elem
 * bytes, doubling): arr itself or its new place, NULL out of memory (arr
 * untouched). */
void *proto_desc_grow(void *arr, size_t n, size_t *cap, size_t first, size_t elem);
/* The bool option number of an options message (FieldOptions,
 * MessageOptions) into *flag when it is there. */
void proto_desc_bool_option(wr_t options, uint32_t number, int *flag);


/* A FieldDescriptorProto field add_field does not read itself (options,
 * oneof_index, json_name) into fd; 0, or -1 out of memory. */
int proto_desc_field(pfield_t *fd, uint32_t num, int wt, wr_t sub, uint64_t val);
/* A DescriptorProto field add_message does not read itself (enum_type,
 * options) for the message at index mi named full; OD_OK or an error. */
int proto_desc_message(pschema_t *s, size_t mi, const char *full, uint32_t num, int wt, wr_t sub,
                       char *err, size_t errsz);
/* One EnumDescriptorProto under prefix (a package or a message's name). */
int proto_desc_enum(pschema_t *s, const char *prefix, wr_t d, char *err, size_t errsz);
/* After every type is read: enum fields resolved, JSON names, the field
 * order and name tables of each message; OD_OK or an error. */
int proto_desc_prepare(pschema_t *s, char *err, size_t errsz);
/* Frees what the functions above allocated (fields' json_name included). */
void proto_desc_free(pschema_t *s);
/* The message type named full (leading '.' allowed), -1. */
int proto_desc_find_msg(const pschema_t *s, const char *full);
/* The field of m called name (declared or JSON name), NULL. */
const pfield_t *proto_desc_field_named(const pmsg_t *m, const char *name);
/* The number of the value called name in enum e; 0 found, -1 not. */
int proto_desc_enum_number(const penum_t *e, const char *name, int32_t *number);

/* The name of an enum's number (the first declared, when aliases share
 * it); NULL when the enum has no such value. */
const char *proto_desc_enum_name(const penum_t *e, int32_t number);

/* ---- serializers_proto_write.c ---- */
int proto_from_json(void *self, void *compiled, const char *json, size_t json_len,
                    uint8_t **out, size_t *out_len, char *err, size_t errsz);

#endif
