/* test_serializers.c - each format of modules/serializers on good,
 * bad and hostile input: string (UTF-8), int/long/double (sizes), json
 * (documents, the JSON Schema subset, compatibility), avro (schemas,
 * binary datums, schema resolution), and each one's to_json. */
#include <stdlib.h>
#include <string.h>

#include "serializers_tap.h"
#include "tap.h"

static int val(const od_serializer_ops_t *o, void *c, const void *d, size_t n)
{
    err[0] = 0;
    return o->validate(NULL, c, d, n, err, sizeof err);
}

static void test_prim(void)
{
    const od_serializer_ops_t *s = &serializers_string_ops;
    tap_ok(val(s, NULL, "h\xc3\xa9llo", 6) == OD_OK, "string: UTF-8 accepted");
    tap_ok(val(s, NULL, "", 0) == OD_OK, "string: empty accepted");
    tap_ok(val(s, NULL, "a\xff", 2) != OD_OK && strstr(err, "offset 1"), "string: bad byte: %s",
           err);
    tap_ok(val(s, NULL, "\xc0\xaf", 2) != OD_OK, "string: overlong refused");
    tap_ok(val(s, NULL, "\xed\xa0\x80", 3) != OD_OK, "string: surrogate refused");
    tap_ok(val(s, NULL, "\xe2\x82", 2) != OD_OK, "string: truncated sequence refused");
    tap_ok(val(s, NULL, "\xf0\x9f\x98\x80", 4) == OD_OK, "string: 4-byte sequence accepted");
    void *c = (void *)1;
    tap_ok(s->compile(NULL, "x", 1, &c, err, sizeof err) != OD_OK, "string: a schema is refused");
    tap_ok(val(&serializers_int_ops, NULL, "\0\0\0\1", 4) == OD_OK, "int: 4 bytes");
    tap_ok(val(&serializers_int_ops, NULL, "\0\0\0\1\0", 5) != OD_OK && strstr(err, "4 bytes"),
           "int: 5 bytes refused: %s", err);
    tap_ok(val(&serializers_long_ops, NULL, "12345678", 8) == OD_OK, "long: 8 bytes");
    tap_ok(val(&serializers_long_ops, NULL, "1234", 4) != OD_OK, "long: 4 bytes refused");
    tap_ok(val(&serializers_double_ops, NULL, "\x7f\xf8\0\0\0\0\0\0", 8) == OD_OK, "double: NaN");
    tap_ok(val(&serializers_double_ops, NULL, "", 0) != OD_OK, "double: empty refused");
}

static void test_json(void)
{
    const od_serializer_ops_t *j = &serializers_json_ops;
    tap_ok(val(j, NULL, "{\"a\":1}", 7) == OD_OK, "json: schemaless document");
    tap_ok(val(j, NULL, "{\"a\":", 5) != OD_OK && strstr(err, "not JSON"), "json: broken: %s", err);
    tap_ok(val(j, NULL, "{\"a\":1,\"a\":2}", 13) != OD_OK, "json: duplicate keys refused");
    char deep[4000];
    size_t n = 0;
    for (int i = 0; i < 1000; i++)
        deep[n++] = '[';
    for (int i = 0; i < 1000; i++)
        deep[n++] = ']';
    tap_ok(val(j, NULL, deep, n) != OD_OK && strstr(err, "deeper"), "json: deep nesting: %s", err);
    const char *schema = "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\","
                         "\"maxLength\":5},\"age\":{\"type\":\"integer\",\"minimum\":0}},"
                         "\"required\":[\"name\"],\"additionalProperties\":false}";
    void *c = comp(j, schema);
    tap_ok(c != NULL, "json: schema compiles %s", err);
    const char *good = "{\"name\":\"ann\",\"age\":3}";
    tap_ok(val(j, c, good, strlen(good)) == OD_OK, "json: valid document %s", err);
    const char *miss = "{\"age\":3}";
    tap_ok(val(j, c, miss, strlen(miss)) != OD_OK && strstr(err, "'name'"), "json: required: %s",
           err);
    const char *type = "{\"name\":7}";
    tap_ok(val(j, c, type, strlen(type)) != OD_OK && strstr(err, "$.name"), "json: type: %s", err);
    const char *extra = "{\"name\":\"a\",\"x\":1}";
    tap_ok(val(j, c, extra, strlen(extra)) != OD_OK, "json: additionalProperties false: %s", err);
    const char *neg = "{\"name\":\"a\",\"age\":-1}";
    tap_ok(val(j, c, neg, strlen(neg)) != OD_OK, "json: minimum: %s", err);
    const char *longn = "{\"name\":\"abcdef\"}";
    tap_ok(val(j, c, longn, strlen(longn)) != OD_OK, "json: maxLength: %s", err);
    tap_ok(comp(j, "{\"$ref\":\"#/x\"}") == NULL && strstr(err, "$ref"), "json: $ref refused: %s",
           err);
    tap_ok(comp(j, "{\"type\":\"bogus\"}") == NULL, "json: bad type refused: %s", err);
    tap_ok(comp(j, "{\"type\":") == NULL, "json: broken schema refused: %s", err);
    /* compatibility: reader = new, writer = old */
    void *opt = comp(j, "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}}}");
    void *req = comp(j, "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}},"
                        "\"required\":[\"name\"]}");
    void *num = comp(j, "{\"type\":\"number\"}"), *integer = comp(j, "{\"type\":\"integer\"}");
    tap_ok(j->compatible(NULL, opt, req, err, sizeof err) == OD_OK, "json: dropping required ok");
    tap_ok(j->compatible(NULL, req, opt, err, sizeof err) != OD_OK && strstr(err, "required"),
           "json: new required refused: %s", err);
    tap_ok(j->compatible(NULL, num, integer, err, sizeof err) == OD_OK, "json: integer -> number");
    tap_ok(j->compatible(NULL, integer, num, err, sizeof err) != OD_OK, "json: number -> integer "
           "refused: %s", err);
    j->free_compiled(NULL, c);
    j->free_compiled(NULL, opt);
    j->free_compiled(NULL, req);
    j->free_compiled(NULL, num);
    j->free_compiled(NULL, integer);
}

static const char *user_v1 = "{\"type\":\"record\",\"name\":\"User\",\"fields\":["
                             "{\"name\":\"name\",\"type\":\"string\"},"
                             "{\"name\":\"age\",\"type\":\"int\"}]}";

static void test_avro(void)
{
    const od_serializer_ops_t *a = &serializers_avro_ops;
    void *c = comp(a, user_v1);
    tap_ok(c != NULL, "avro: schema compiles %s", err);
    /* "ann" (len 3 -> zigzag 6), age 21 (zigzag 42) */
    const uint8_t good[] = {6, 'a', 'n', 'n', 42};
    tap_ok(val(a, c, good, sizeof good) == OD_OK, "avro: valid datum %s", err);
    tap_ok(val(a, c, good, 4) != OD_OK, "avro: truncated refused: %s", err);
    const uint8_t trail[] = {6, 'a', 'n', 'n', 42, 0};
    tap_ok(val(a, c, trail, sizeof trail) != OD_OK && strstr(err, "left"), "avro: trailing: %s",
           err);
    const uint8_t huge[] = {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    tap_ok(val(a, c, huge, sizeof huge) != OD_OK, "avro: huge string length: %s", err);
    const uint8_t neg[] = {1};
    tap_ok(val(a, c, neg, sizeof neg) != OD_OK, "avro: negative length: %s", err);
    const uint8_t badutf[] = {2, 0xff, 42};
    tap_ok(val(a, c, badutf, sizeof badutf) != OD_OK, "avro: non-UTF-8 string: %s", err);
    tap_ok(comp(a, "{\"type\":\"record\",\"name\":\"X\",\"fields\":[{\"name\":\"a\","
                   "\"type\":\"nosuch\"}]}") == NULL && err[0], "avro: unknown type: %s", err);
    tap_ok(comp(a, "not json") == NULL, "avro: not JSON: %s", err);
    tap_ok(comp(a, NULL) == NULL, "avro: a schema is needed");
    /* an array of nulls: the count cannot make the reader loop for long */
    void *arr = comp(a, "{\"type\":\"array\",\"items\":\"null\"}");
    const uint8_t many[] = {0xfe, 0xff, 0xff, 0xff, 0x0f, 0};
    tap_ok(arr && val(a, arr, many, sizeof many) != OD_OK, "avro: billions of nulls: %s", err);
    const uint8_t three[] = {6, 0};
    tap_ok(val(a, arr, three, sizeof three) == OD_OK, "avro: three nulls %s", err);
    /* a recursive type nested past the limit */
    void *list = comp(a, "{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":\"next\","
                         "\"type\":[\"null\",\"L\"]}]}");
    uint8_t chain[400];
    for (int i = 0; i < 399; i++)
        chain[i] = 2; /* branch 1: another L */
    chain[399] = 0;
    tap_ok(list && val(a, list, chain, sizeof chain) != OD_OK && strstr(err, "deeper"),
           "avro: deep recursion: %s", err);
    /* resolution: reader = new, writer = old */
    void *v2 = comp(a, "{\"type\":\"record\",\"name\":\"User\",\"fields\":["
                       "{\"name\":\"name\",\"type\":\"string\"},{\"name\":\"age\",\"type\":\"long\"},"
                       "{\"name\":\"email\",\"type\":[\"null\",\"string\"],\"default\":null}]}");
    void *v3 = comp(a, "{\"type\":\"record\",\"name\":\"User\",\"fields\":["
                       "{\"name\":\"name\",\"type\":\"string\"},{\"name\":\"zip\",\"type\":\"int\"}]}");
    tap_ok(v2 && a->compatible(NULL, v2, c, err, sizeof err) == OD_OK,
           "avro: added field with default, int->long %s", err);
    tap_ok(a->compatible(NULL, c, v2, err, sizeof err) != OD_OK && strstr(err, "age"),
           "avro: long->int refused: %s", err);
    tap_ok(v3 && a->compatible(NULL, v3, c, err, sizeof err) != OD_OK && strstr(err, "zip"),
           "avro: new field without default refused: %s", err);
    void *e1 = comp(a, "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]}");
    void *e2 = comp(a, "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\",\"C\"]}");
    tap_ok(a->compatible(NULL, e2, e1, err, sizeof err) == OD_OK, "avro: enum symbol added");
    tap_ok(a->compatible(NULL, e1, e2, err, sizeof err) != OD_OK, "avro: enum symbol removed: %s",
           err);
    tap_ok(a->compatible(NULL, list, list, err, sizeof err) == OD_OK, "avro: recursive vs itself");
    const uint8_t e_bad[] = {6};
    tap_ok(val(a, e1, e_bad, 1) != OD_OK, "avro: enum index out of range: %s", err);
    void *objs[] = {c, arr, list, v2, v3, e1, e2};
    for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++)
        a->free_compiled(NULL, objs[i]);
}

/* shop.proto (proto2): message Order { required int64 id = 1; optional
 * string name = 2; repeated int32 qty = 3 [packed = true]; optional Item
 * item = 4; repeated Order children = 5; message Item { optional double
 * price = 1; optional bytes tag = 2; } }, as
 * `protoc-c --include_imports --descriptor_set_out=shop.desc shop.proto`
 * writes it. */
static const uint8_t shop_desc[] = {
    0x0a, 0xd5, 0x01, 0x0a, 0x0a, 0x73, 0x68, 0x6f, 0x70, 0x2e, 0x70, 0x72,
    0x6f, 0x74, 0x6f, 0x12, 0x04, 0x73, 0x68, 0x6f, 0x70, 0x22, 0xc0, 0x01,
    0x0a, 0x05, 0x4f, 0x72, 0x64, 0x65, 0x72, 0x12, 0x0e, 0x0a, 0x02, 0x69,
    0x64, 0x18, 0x01, 0x20, 0x02, 0x28, 0x03, 0x52, 0x02, 0x69, 0x64, 0x12,
    0x12, 0x0a, 0x04, 0x6e, 0x61, 0x6d, 0x65, 0x18, 0x02, 0x20, 0x01, 0x28,
    0x09, 0x52, 0x04, 0x6e, 0x61, 0x6d, 0x65, 0x12, 0x14, 0x0a, 0x03, 0x71,
    0x74, 0x79, 0x18, 0x03, 0x20, 0x03, 0x28, 0x05, 0x42, 0x02, 0x10, 0x01,
    0x52, 0x03, 0x71, 0x74, 0x79, 0x12, 0x24, 0x0a, 0x04, 0x69, 0x74, 0x65,
    0x6d, 0x18, 0x04, 0x20, 0x01, 0x28, 0x0b, 0x32, 0x10, 0x2e, 0x73, 0x68,
    0x6f, 0x70, 0x2e, 0x4f, 0x72, 0x64, 0x65, 0x72, 0x2e, 0x49, 0x74, 0x65,
    0x6d, 0x52, 0x04, 0x69, 0x74, 0x65, 0x6d, 0x12, 0x27, 0x0a, 0x08, 0x63,
    0x68, 0x69, 0x6c, 0x64, 0x72, 0x65, 0x6e, 0x18, 0x05, 0x20, 0x03, 0x28,
    0x0b, 0x32, 0x0b, 0x2e, 0x73, 0x68, 0x6f, 0x70, 0x2e, 0x4f, 0x72, 0x64,
    0x65, 0x72, 0x52, 0x08, 0x63, 0x68, 0x69, 0x6c, 0x64, 0x72, 0x65, 0x6e,
    0x1a, 0x2e, 0x0a, 0x04, 0x49, 0x74, 0x65, 0x6d, 0x12, 0x14, 0x0a, 0x05,
    0x70, 0x72, 0x69, 0x63, 0x65, 0x18, 0x01, 0x20, 0x01, 0x28, 0x01, 0x52,
    0x05, 0x70, 0x72, 0x69, 0x63, 0x65, 0x12, 0x10, 0x0a, 0x03, 0x74, 0x61,
    0x67, 0x18, 0x02, 0x20, 0x01, 0x28, 0x0c, 0x52, 0x03, 0x74, 0x61, 0x67,
};

static void test_proto(void)
{
    const od_serializer_ops_t *p = &serializers_proto_ops;
    void *c = comp_proto("shop.Order", shop_desc, sizeof shop_desc);
    tap_ok(c != NULL, "protobuf: descriptor set compiles %s", err);
    const uint8_t good[] = {0x08, 0x01, 0x12, 0x02, 'a', 'b', 0x1a, 0x02, 0x01, 0x02,
                            0x22, 0x09, 0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f,
                            0x2a, 0x02, 0x08, 0x02, 0x48, 0x05};
    tap_ok(val(p, c, good, sizeof good) == OD_OK, "protobuf: valid message (packed, nested, "
           "unknown field) %s", err);
    const uint8_t noid[] = {0x12, 0x00};
    tap_ok(val(p, c, noid, sizeof noid) != OD_OK && strstr(err, "required field id"),
           "protobuf: missing required field: %s", err);
    const uint8_t wt[] = {0x0d, 0, 0, 0, 0};
    tap_ok(val(p, c, wt, sizeof wt) != OD_OK && strstr(err, "wire type"),
           "protobuf: wrong wire type: %s", err);
    const uint8_t utf[] = {0x08, 0x01, 0x12, 0x01, 0xff};
    tap_ok(val(p, c, utf, sizeof utf) != OD_OK && strstr(err, "UTF-8"), "protobuf: bad string: %s",
           err);
    const uint8_t trunc[] = {0x08, 0x01, 0x12, 0x05, 'a'};
    tap_ok(val(p, c, trunc, sizeof trunc) != OD_OK, "protobuf: length past the end: %s", err);
    const uint8_t grp[] = {0x08, 0x01, 0x4b, 0x4c};
    tap_ok(val(p, c, grp, sizeof grp) != OD_OK, "protobuf: groups refused: %s", err);
    /* children nested 100 deep: each level is 08 01 2a <len> <inner> */
    uint8_t deep[600];
    size_t n = 2;
    deep[0] = 0x08, deep[1] = 0x01;
    for (int i = 0; i < 100 && n + 4 < sizeof deep; i++) {
        memmove(deep + 4, deep, n);
        deep[0] = 0x08, deep[1] = 0x01, deep[2] = 0x2a, deep[3] = (uint8_t)n;
        n += 4;
        if (n > 127)
            break; /* one-byte lengths only */
    }
    tap_ok(val(p, c, deep, n) == OD_OK, "protobuf: %zu bytes of nesting within the limit", n);
    uint8_t *chain = malloc(200000);
    size_t cl = 0;
    for (int i = 0; i < 70; i++) { /* 70 levels, lengths as varints, built inside out */
        uint8_t *next = malloc(cl + 16);
        size_t k = 0;
        next[k++] = 0x2a;
        size_t l = cl;
        do {
            next[k++] = (uint8_t)((l & 0x7f) | (l > 0x7f ? 0x80 : 0));
            l >>= 7;
        } while (l);
        memcpy(next + k, chain, cl);
        memcpy(chain, next, cl + k);
        cl += k;
        free(next);
    }
    tap_ok(val(p, c, chain, cl) != OD_OK && strstr(err, "deeper"), "protobuf: 70 levels: %s", err);
    free(chain);
    tap_ok(comp_proto("shop.Nope", shop_desc, sizeof shop_desc) == NULL && strstr(err, "shop.Nope"),
           "protobuf: unknown message name: %s", err);
    void *bad = NULL;
    tap_ok(p->compile(NULL, "shop.Order\n\xff\xff", 13, &bad, err, sizeof err) != OD_OK,
           "protobuf: garbage descriptor set: %s", err);
    tap_ok(p->compile(NULL, "shop.Order", 10, &bad, err, sizeof err) != OD_OK,
           "protobuf: no newline: %s", err);
    void *item = comp_proto("shop.Order.Item", shop_desc, sizeof shop_desc);
    const uint8_t it[] = {0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x00};
    tap_ok(item && val(p, item, it, sizeof it) == OD_OK, "protobuf: a nested type as the root");
    p->free_compiled(NULL, item);
    p->free_compiled(NULL, c);
    /* the registry's form: base64 of the FileDescriptorProto (the set's
     * first file: field 1, a 2-byte length, at offset 3), message indexes
     * before each message */
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const uint8_t *fd = shop_desc + 3;
    size_t fl = (size_t)(shop_desc[1] & 0x7f) | (size_t)shop_desc[2] << 7;
    char enc[400];
    size_t e = 0;
    for (size_t i = 0; i < fl; i += 3) {
        uint32_t v = (uint32_t)fd[i] << 16 | (i + 1 < fl ? (uint32_t)fd[i + 1] << 8 : 0) |
                     (i + 2 < fl ? fd[i + 2] : 0);
        enc[e++] = b64[v >> 18 & 63];
        enc[e++] = b64[v >> 12 & 63];
        enc[e++] = i + 1 < fl ? b64[v >> 6 & 63] : '=';
        enc[e++] = i + 2 < fl ? b64[v & 63] : '=';
    }
    void *reg = NULL;
    tap_ok(p->compile(NULL, enc, e, &reg, err, sizeof err) == OD_OK,
           "protobuf: a base64 FileDescriptorProto compiles %s", err);
    uint8_t msg[sizeof good + 3];
    msg[0] = 0x00; /* [0]: the first message type */
    memcpy(msg + 1, good, sizeof good);
    tap_ok(val(p, reg, msg, 1 + sizeof good) == OD_OK, "protobuf: index [0] + Order %s", err);
    const uint8_t nested[] = {0x04, 0x00, 0x00, 0x09, 0, 0, 0, 0, 0, 0, 0, 0};
    tap_ok(val(p, reg, nested, sizeof nested) == OD_OK, "protobuf: index [0, 0] + Order.Item %s",
           err);
    const uint8_t badix[] = {0x02, 0x08, 0x08, 0x01};
    tap_ok(val(p, reg, badix, sizeof badix) != OD_OK && strstr(err, "index"),
           "protobuf: an index naming no type: %s", err);
    tap_ok(val(p, reg, good, sizeof good) != OD_OK, "protobuf: without indexes: %s", err);
    p->free_compiled(NULL, reg);
    /* a group field (type 10) in the descriptor: the id field's type
     * (tag 0x28, INT64 = 3) rewritten; found by fuzzing as a use after free */
    uint8_t grpdesc[sizeof shop_desc + 11];
    memcpy(grpdesc, "shop.Order\n", 11);
    memcpy(grpdesc + 11, shop_desc, sizeof shop_desc);
    for (size_t i = 11; i + 1 < sizeof grpdesc; i++)
        if (grpdesc[i] == 0x28 && grpdesc[i + 1] == 0x03) {
            grpdesc[i + 1] = 10;
            break;
        }
    tap_ok(p->compile(NULL, (const char *)grpdesc, sizeof grpdesc, &reg, err, sizeof err) !=
                   OD_OK && strstr(err, "groups"),
           "protobuf: a group field in the schema is refused: %s", err);
    tap_ok(p->compile(NULL, "syntax = \"proto3\";", 18, &reg, err, sizeof err) != OD_OK &&
               strstr(err, ".proto"),
           "protobuf: .proto text is refused: %s", err);
}

/* to_json of data: the JSON text, or NULL (err set). Caller frees. */
static char *js(const od_serializer_ops_t *o, void *c, const void *d, size_t n)
{
    char *out = NULL;
    err[0] = 0;
    return o->to_json(NULL, c, d, n, &out, err, sizeof err) == OD_OK ? out : NULL;
}

static void is_json(char *got, const char *want, const char *what)
{
    tap_ok(got && strcmp(got, want) == 0, "to_json: %s: %s", what, got ? got : err);
    free(got);
}

static void test_to_json(void)
{
    is_json(js(&serializers_string_ops, NULL, "h\xc3\xa9\"", 4), "\"h\u00e9\\\"\"",
            "string, escaped");
    is_json(js(&serializers_int_ops, NULL, "\xff\xff\xff\xfe", 4), "-2", "int, big-endian");
    is_json(js(&serializers_long_ops, NULL, "\0\0\1\0\0\0\0\0", 8), "1099511627776", "long");
    is_json(js(&serializers_double_ops, NULL, "\x40\x04\0\0\0\0\0\0", 8), "2.5", "double");
    is_json(js(&serializers_double_ops, NULL, "\x7f\xf8\0\0\0\0\0\0", 8), "\"NaN\"",
            "double NaN as a string");
    tap_ok(js(&serializers_int_ops, NULL, "abc", 3) == NULL && strstr(err, "4 bytes"),
           "to_json: a bad int gives validate's error: %s", err);
    is_json(js(&serializers_json_ops, NULL, "{ \"b\": [1, 2.5], \"a\": null }", 28),
            "{\"b\":[1,2.5],\"a\":null}", "json, compact, key order kept");
    void *jc = comp(&serializers_json_ops, "{\"type\":\"object\",\"required\":[\"x\"]}");
    tap_ok(js(&serializers_json_ops, jc, "{}", 2) == NULL && strstr(err, "required"),
           "to_json: json against its schema: %s", err);
    serializers_json_ops.free_compiled(NULL, jc);

    const od_serializer_ops_t *a = &serializers_avro_ops;
    void *c = comp(a, "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                      "{\"name\":\"s\",\"type\":\"string\"},"
                      "{\"name\":\"u\",\"type\":[\"null\",\"long\"]},"
                      "{\"name\":\"n\",\"type\":[\"null\",\"long\"]},"
                      "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"boolean\"}},"
                      "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"float\"}},"
                      "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"X\",\"Y\"]}},"
                      "{\"name\":\"b\",\"type\":\"bytes\"}]}");
    tap_ok(c != NULL, "avro: the to_json schema compiles %s", err);
    /* s "hi"; u branch 1 = 3; n null; m {"k": true}; a [1.0f]; e Y; b 00 ff */
    const uint8_t d[] = {4, 'h', 'i', 2, 6, 0, 2, 2, 'k', 1, 0, 2, 0, 0, 0x80, 0x3f, 0,
                         2, 4, 0x00, 0xff};
    is_json(js(a, c, d, sizeof d),
            "{\"s\":\"hi\",\"u\":{\"long\":3},\"n\":null,\"m\":{\"k\":true},"
            "\"a\":[1.0],\"e\":\"Y\",\"b\":\"\\u0000\u00ff\"}",
            "avro record with a union, map, array, enum and bytes");
    tap_ok(js(a, c, d, sizeof d - 1) == NULL && err[0], "to_json: a truncated datum: %s", err);
    a->free_compiled(NULL, c);

    const od_serializer_ops_t *p = &serializers_proto_ops;
    void *pc = comp_proto("shop.Order", shop_desc, sizeof shop_desc);
    const uint8_t good[] = {0x08, 0x01, 0x12, 0x02, 'a', 'b', 0x1a, 0x02, 0x01, 0x02,
                            0x22, 0x09, 0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f,
                            0x2a, 0x02, 0x08, 0x02, 0x48, 0x05};
    /* int64 id as a string, packed qty as an array, a nested message, a
     * repeated message field; the unknown field 9 is left out */
    is_json(js(p, pc, good, sizeof good),
            "{\"id\":\"1\",\"name\":\"ab\",\"qty\":[1,2],\"item\":{\"price\":1.0},"
            "\"children\":[{\"id\":\"2\"}]}",
            "protobuf message (proto3 JSON mapping)");
    const uint8_t utf[] = {0x08, 0x01, 0x12, 0x01, 0xff};
    tap_ok(js(p, pc, utf, sizeof utf) == NULL && strstr(err, "UTF-8"),
           "to_json: protobuf error as validate's: %s", err);
    p->free_compiled(NULL, pc);
}

int main(void)
{
    test_prim();
    test_json();
    test_avro();
    test_proto();
    test_to_json();
    return tap_done();
}
