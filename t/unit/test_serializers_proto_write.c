/* test_serializers_proto_write.c - protobuf's from_json against the
 * descriptors protoc made of t/unit/proto/kinds.proto and legacy.proto
 * (proto_kinds_desc.h): round trips both ways (to_json(from_json(j)) is j,
 * and from_json(to_json(x)) is x for bytes protoc encoded), every field
 * kind and JSON form the proto3 mapping accepts, the registry's form with
 * Confluent's message indexes, and hostile input (nesting, wrong types,
 * out-of-range and 64-bit edge numbers, bad base64, unknown fields). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "proto_kinds_desc.h"
#include "serializers_tap.h"
#include "tap.h"

static const od_serializer_ops_t *P = &serializers_proto_ops;

/* from_json of text; NULL with err on failure */
static uint8_t *fj(void *c, const char *message, const char *text, size_t *n)
{
    uint8_t *out = NULL;
    err[0] = 0;
    int rc = message ? serializers_proto_from_json_as(c, message, text, strlen(text), &out, n,
                                                      err, sizeof err)
                     : P->from_json(NULL, c, text, strlen(text), &out, n, err, sizeof err);
    if (rc != OD_OK) {
        free(out);
        return NULL;
    }
    return out;
}

static char *tj(void *c, const uint8_t *p, size_t n)
{
    char *out = NULL;
    err[0] = 0;
    return P->to_json(NULL, c, p, n, &out, err, sizeof err) == OD_OK ? out : NULL;
}

static int same_json(const char *a, const char *b)
{
    json_t *x = json_loads(a, JSON_ALLOW_NUL, NULL), *y = json_loads(b, JSON_ALLOW_NUL, NULL);
    int eq = x && y && json_equal(x, y);
    json_decref(x);
    json_decref(y);
    return eq;
}

/* from_json(in) validates and to_json of it is want (NULL: in itself). */
static void rt_as(void *c, const char *message, const char *in, const char *want,
                  const char *name)
{
    size_t n = 0;
    uint8_t *b = fj(c, message, in, &n);
    if (!tap_ok(b != NULL, "%s: from_json %s", name, err))
        return;
    char verr[512] = "";
    int valid = P->validate(NULL, c, b, n, verr, sizeof verr) == OD_OK;
    char *got = tj(c, b, n);
    int ok = tap_ok(valid && got && same_json(got, want ? want : in), "%s: validates, to_json "
                    "gives it back", name);
    if (!ok)
        tap_diag("validate: %s; to_json: %s (%s)", valid ? "ok" : verr, got ? got : "NULL", err);
    free(got);
    free(b);
}

static void rt(void *c, const char *in, const char *want, const char *name)
{
    rt_as(c, NULL, in, want, name);
}

/* from_json(in) fails with an error containing want */
static void bad(void *c, const char *in, const char *want, const char *name)
{
    size_t n;
    uint8_t *b = fj(c, NULL, in, &n);
    int ok = tap_ok(b == NULL && strstr(err, want) != NULL, "%s: %s", name, err);
    if (!ok)
        tap_diag("wanted an error with \"%s\"", want);
    free(b);
}

static void test_protoc_bytes(void *all)
{
    /* protoc's encoding of all.txtpb: every kind, read as JSON and back */
    char *j = tj(all, proto_kinds_all, sizeof proto_kinds_all);
    tap_ok(j != NULL, "to_json of protoc's bytes %s", err);
    if (!j)
        return;
    size_t n = 0;
    uint8_t *b = fj(all, NULL, j, &n);
    tap_ok(b && n == sizeof proto_kinds_all && memcmp(b, proto_kinds_all, n) == 0,
           "from_json(to_json(x)) is protoc's bytes x (%zu of %zu bytes) %s", n,
           sizeof proto_kinds_all, err);
    free(b);
    /* the declared names back through their JSON names give the same bytes */
    json_t *o = json_loads(j, JSON_ALLOW_NUL, NULL), *camel = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        char cc[64];
        size_t w = 0;
        for (const char *p = k; *p && w < sizeof cc - 1; p++)
            if (*p == '_' && p[1])
                cc[w++] = (char)(*++p - 'a' + 'A');
            else
                cc[w++] = *p;
        cc[w] = 0;
        json_object_set(camel, strcmp(k, "custom") == 0 ? "renamed" : cc, v);
    }
    char *cj = json_dumps(camel, JSON_COMPACT);
    b = fj(all, NULL, cj, &n);
    tap_ok(b && n == sizeof proto_kinds_all && memcmp(b, proto_kinds_all, n) == 0,
           "lowerCamelCase and json_name keys give the same bytes %s", err);
    free(b);
    free(cj);
    json_decref(camel);
    json_decref(o);
    free(j);
}

static void test_kinds(void *all)
{
    rt(all,
       "{\"f_double\":1.5,\"f_float\":0.25,\"f_int64\":\"-9223372036854775808\","
       "\"f_uint64\":\"18446744073709551615\",\"f_int32\":-2147483648,"
       "\"f_fixed64\":\"18446744073709551615\",\"f_fixed32\":4294967295,\"f_bool\":false,"
       "\"f_string\":\"h\\u00e9\\u0000llo\",\"f_bytes\":\"AAEC/w==\",\"f_uint32\":0,"
       "\"f_enum\":\"GREEN\",\"f_sfixed32\":-1,\"f_sfixed64\":\"9223372036854775807\","
       "\"f_sint32\":2147483647,\"f_sint64\":\"-9223372036854775808\","
       "\"inner\":{\"id\":7,\"color\":\"BELOW\",\"size\":\"LARGE\",\"all\":{\"f_int32\":1}},"
       "\"r_int32\":[1,-1,0],\"r_sint64\":[\"1\",\"-1\"],\"r_double\":[0.5,-2.0],"
       "\"r_fixed32\":[1,2],\"r_string\":[\"a\",\"\"],\"r_bytes\":[\"\",\"YQ==\"],"
       "\"r_inner\":[{\"id\":1},{}],\"r_enum\":[\"RED\",\"COLOR_UNSET\"],\"r_unpacked\":[5,6],"
       "\"m_str\":[{\"key\":\"a\",\"value\":\"1\"}],"
       "\"m_int\":[{\"key\":1,\"value\":{\"id\":2}}],\"m_bool\":[{\"key\":true,\"value\":\"t\"}],"
       "\"c_text\":\"x\",\"o_int32\":0,\"custom\":9}",
       NULL, "every field kind, as to_json prints it");
    rt(all, "{\"f_double\":\"NaN\",\"f_float\":\"-Infinity\",\"r_double\":[\"Infinity\"]}", NULL,
       "NaN and the infinities");
    rt(all, "{\"f_int32\":0,\"f_string\":\"\",\"f_bool\":false,\"inner\":{}}", NULL,
       "default values set explicitly are written (so they come back)");
    rt(all, "{}", NULL, "the empty message");
    rt(all, "{\"f_int32\":null,\"r_int32\":null,\"inner\":null,\"r_string\":[]}", "{}",
       "null and an empty array: not set");
    rt(all, "{\"fDouble\":1.5,\"renamed\":3,\"rInt32\":[1],\"mBool\":{\"true\":\"x\"}}",
       "{\"f_double\":1.5,\"custom\":3,\"r_int32\":[1],\"m_bool\":[{\"key\":true,\"value\":"
       "\"x\"}]}",
       "JSON names (lowerCamelCase, json_name)");
    rt(all, "{\"f_enum\":2,\"r_enum\":[\"RED\",-1,2],\"inner\":{\"size\":1}}",
       "{\"f_enum\":\"GREEN\",\"r_enum\":[\"RED\",\"BELOW\",\"GREEN\"],\"inner\":{\"size\":\"LARGE\"}}",
       "enums by name and number in, by name out (nested enum types too)");
    rt(all, "{\"f_enum\":7,\"r_enum\":[1,-5]}", "{\"f_enum\":7,\"r_enum\":[\"RED\",-5]}",
       "a number the enum does not declare stays a number (proto3 enums are open)");
    rt(all,
       "{\"m_str\":{\"a\":\"5\",\"b\":6},\"m_int\":{\"-3\":{\"id\":1}},\"m_bool\":{\"false\":\"f\"}}",
       "{\"m_str\":[{\"key\":\"a\",\"value\":\"5\"},{\"key\":\"b\",\"value\":\"6\"}],"
       "\"m_int\":[{\"key\":-3,\"value\":{\"id\":1}}],\"m_bool\":[{\"key\":false,\"value\":\"f\"}]}",
       "maps as JSON objects");
    rt(all,
       "{\"f_int64\":5,\"f_uint64\":1e3,\"f_int32\":\"12\",\"f_double\":\"2.5\",\"f_fixed32\":\"7\","
       "\"f_bytes\":\"-_8\",\"f_sint64\":100.0,\"f_float\":2,\"f_uint32\":\"4294967295\"}",
       "{\"f_int64\":\"5\",\"f_uint64\":\"1000\",\"f_int32\":12,\"f_double\":2.5,\"f_fixed32\":7,"
       "\"f_bytes\":\"+/8=\",\"f_sint64\":\"100\",\"f_float\":2.0,\"f_uint32\":4294967295}",
       "numbers as strings and strings as numbers, URL-safe unpadded base64");
    rt(all, "{\"f_int64\":9223372036854775807,\"f_sint64\":-9223372036854775808}",
       "{\"f_int64\":\"9223372036854775807\",\"f_sint64\":\"-9223372036854775808\"}",
       "64-bit edges as JSON numbers");
    rt(all, "{\"c_inner\":{\"id\":1},\"c_text\":null}", "{\"c_inner\":{\"id\":1}}",
       "one oneof member set, the other null");

    /* the order written is by field number, whatever the JSON's order */
    size_t n1 = 0, n2 = 0;
    uint8_t *a = fj(all, NULL, "{\"custom\":1,\"f_int32\":2,\"inner\":{\"size\":1,\"id\":2}}", &n1);
    uint8_t *b = fj(all, NULL, "{\"inner\":{\"id\":2,\"size\":1},\"f_int32\":2,\"custom\":1}", &n2);
    const uint8_t want[] = {0x28, 0x02, 0x9a, 0x01, 0x04, 0x08, 0x02, 0x20, 0x01, 0x98, 0x02,
                            0x01};
    tap_ok(a && b && n1 == sizeof want && n2 == n1 && memcmp(a, want, n1) == 0 &&
               memcmp(b, want, n2) == 0,
           "fields written in field-number order");
    free(a);
    free(b);
    /* proto3 packs repeated scalars; [packed = false] does not */
    a = fj(all, NULL, "{\"r_int32\":[1,2],\"r_unpacked\":[3,4]}", &n1);
    const uint8_t packed[] = {0xa2, 0x01, 0x02, 0x01, 0x02, 0xe0, 0x01, 0x03, 0xe0, 0x01, 0x04};
    tap_ok(a && n1 == sizeof packed && memcmp(a, packed, n1) == 0,
           "proto3 repeated scalars packed, [packed = false] unpacked");
    free(a);
    a = fj(all, NULL, "{\"f_int32\":-1}", &n1);
    tap_ok(a && n1 == 11 && a[1] == 0xff && a[10] == 0x01, "a negative int32 is 10 bytes (sign "
           "extended)");
    free(a);
    a = fj(all, NULL, "{}", &n1);
    tap_ok(a != NULL && n1 == 0, "the empty message is zero bytes, a non-NULL pointer");
    free(a);
}

static void test_legacy(void)
{
    void *c = comp_proto("legacy.Legacy", proto_kinds_set, sizeof proto_kinds_set);
    tap_ok(c != NULL, "legacy.Legacy compiles %s", err);
    if (!c)
        return;
    size_t n;
    uint8_t *b = fj(c, NULL, "{\"id\":1,\"plain\":[1,2],\"packed\":[3,4]}", &n);
    const uint8_t want[] = {0x08, 0x01, 0x10, 0x01, 0x10, 0x02, 0x1a, 0x02, 0x03, 0x04};
    tap_ok(b && n == sizeof want && memcmp(b, want, n) == 0,
           "proto2: repeated unpacked unless [packed = true]");
    free(b);
    bad(c, "{\"label\":\"x\"}", "$: required field id is missing", "proto2 required field");
    bad(c, "{\"id\":null}", "required field id", "proto2 required field given as null");
    P->free_compiled(NULL, c);
}

static void test_registry(void)
{
    void *c = NULL;
    int rc = P->compile(NULL, proto_kinds_b64, strlen(proto_kinds_b64), &c, err, sizeof err);
    tap_ok(rc == OD_OK, "the registry's base64 FileDescriptorProto compiles %s", err);
    if (rc != OD_OK)
        return;
    size_t n;
    uint8_t *b = fj(c, NULL, "{\"f_int32\":1}", &n);
    tap_ok(b && n == 3 && b[0] == 0 && b[1] == 0x28 && b[2] == 1,
           "default: the first message type, index [0] as a lone 0");
    free(b);
    rt(c, "{\"f_int32\":1,\"inner\":{\"id\":2}}", NULL, "registry form round trip");
    b = fj(c, "kinds.Second", "{\"note\":\"x\"}", &n);
    const uint8_t second[] = {0x02, 0x02, 0x0a, 0x01, 'x'};
    tap_ok(b && n == sizeof second && memcmp(b, second, n) == 0,
           "kinds.Second: message indexes [1] %s", err);
    free(b);
    rt_as(c, "kinds.Second", "{\"note\":\"x\"}", NULL, "kinds.Second round trip");
    b = fj(c, "kinds.All.Inner", "{\"id\":3}", &n);
    /* protoc declares the map entry types (MStrEntry, MIntEntry,
     * MBoolEntry) before Inner among All's nested types */
    const uint8_t inner[] = {0x04, 0x00, 0x06, 0x08, 0x03};
    tap_ok(b && n == sizeof inner && memcmp(b, inner, n) == 0,
           "kinds.All.Inner: message indexes [0, 3] %s", err);
    free(b);
    rt_as(c, "kinds.All.Inner", "{\"id\":3,\"size\":\"LARGE\"}", NULL, "nested type round trip");
    b = fj(c, "kinds.Nope", "{}", &n);
    tap_ok(!b && strstr(err, "kinds.Nope"), "an unknown message type: %s", err);
    P->free_compiled(NULL, c);

    c = comp_proto("kinds.All", proto_kinds_set, sizeof proto_kinds_set);
    b = fj(c, "kinds.Second", "{}", &n);
    tap_ok(!b && strstr(err, "kinds.All"), "a named-root schema writes only its type: %s", err);
    b = fj(c, "kinds.All", "{\"f_int32\":1}", &n);
    tap_ok(b && n == 2 && b[0] == 0x28, "...which it may name; no indexes in that form");
    free(b);
    P->free_compiled(NULL, c);
    b = NULL;
    tap_ok(P->from_json(NULL, NULL, "{}", 2, &b, &n, err, sizeof err) != OD_OK && !b,
           "no schema: %s", err);
}

/* A descriptor without json_name (protoc writes it; other tools may not):
 * p.M { optional int32 foo_bar_baz = 1; }, encoded by hand. */
static void test_no_json_name(void)
{
    static const uint8_t set[] = {
        'p', '.', 'M', '\n', 0x0a, 0x26, 0x0a, 0x07, 'a', '.', 'p', 'r', 'o', 't', 'o', 0x12,
        0x01, 'p', 0x22, 0x18, 0x0a, 0x01, 'M', 0x12, 0x13, 0x0a, 0x0b, 'f', 'o', 'o', '_',
        'b', 'a', 'r', '_', 'b', 'a', 'z', 0x18, 0x01, 0x20, 0x01, 0x28, 0x05};
    void *c = NULL;
    tap_ok(P->compile(NULL, (const char *)set, sizeof set, &c, err, sizeof err) == OD_OK,
           "a hand-made descriptor without json_name compiles %s", err);
    size_t n;
    uint8_t *b = fj(c, NULL, "{\"fooBarBaz\":5}", &n);
    tap_ok(b && n == 2 && b[0] == 0x08 && b[1] == 5, "its JSON name is lowerCamelCase %s", err);
    free(b);
    b = fj(c, NULL, "{\"foo_bar_baz\":5}", &n);
    tap_ok(b && n == 2, "...and the declared name works too %s", err);
    free(b);
    P->free_compiled(NULL, c);
}

static char *nest(int pairs, const char *leaf)
{
    size_t cap = (size_t)pairs * 24 + strlen(leaf) + 4;
    char *s = malloc(cap);
    size_t k = 0;
    s[k++] = '{';
    for (int i = 0; i < pairs; i++)
        k += (size_t)sprintf(s + k, "\"inner\":{\"all\":{");
    k += (size_t)sprintf(s + k, "%s", leaf);
    for (int i = 0; i < pairs; i++)
        k += (size_t)sprintf(s + k, "}}");
    s[k++] = '}';
    s[k] = 0;
    return s;
}

/* JSON that from_json of kinds.All refuses, and what its error says. */
static const struct {
    const char *json, *want, *what;
} refused_json[] = {
    {"{\"r_int32\":[[[1]]]}", "$.r_int32[0]: expected an integer", "arrays in arrays"},

    {"{\"f_int32\":\"abc\"}", "$.f_int32: expected an integer", "a word for an integer"},
    {"{\"f_int32\":1.5}", "$.f_int32: expected an integer", "a fraction for an integer"},
    {"{\"f_int32\":\" 1\"}", "expected an integer", "a padded integer string"},
    {"{\"f_bool\":1}", "$.f_bool: expected true or false", "a number for a bool"},
    {"{\"f_string\":5}", "$.f_string: expected a string", "a number for a string"},
    {"{\"inner\":5}", "$.inner: expected an object", "a number for a message"},
    {"{\"r_int32\":5}", "$.r_int32: expected an array", "a scalar for a repeated field"},
    {"{\"r_inner\":[{\"id\":1},{\"id\":\"x\"}]}", "$.r_inner[1].id: expected an integer",
     "the path names the element"},
    {"{\"r_int32\":[1,null]}", "$.r_int32[1]: null", "null in a packed array"},
    {"{\"r_string\":[null]}", "$.r_string[0]: null", "null in a repeated string"},
    {"{\"f_double\":\"1e5x\"}", "expected a number", "a bad numeric string"},
    {"{\"f_double\":\"inf\"}", "expected a number", "strtod's inf is not JSON's"},
    {"{\"f_double\":true}", "expected a number", "a bool for a double"},

    {"{\"f_int32\":2147483648}", "out of range for int32", "int32 max + 1"},
    {"{\"f_int32\":-2147483649}", "out of range for int32", "int32 min - 1"},
    {"{\"f_uint32\":-1}", "out of range for uint32", "a negative uint32"},
    {"{\"f_uint32\":\"4294967296\"}", "out of range for uint32", "uint32 max + 1"},
    {"{\"f_int64\":\"9223372036854775808\"}", "out of range for int64", "int64 max + 1"},
    {"{\"f_int64\":\"-9223372036854775809\"}", "out of range for int64", "int64 min - 1"},
    {"{\"f_uint64\":\"18446744073709551616\"}", "out of range for uint64",
     "uint64 max + 1"},
    {"{\"f_uint64\":\"-1\"}", "out of range for uint64", "a negative uint64"},
    {"{\"f_fixed64\":1e20}", "out of range for uint64", "1e20 for a fixed64"},
    {"{\"f_int64\":\"99999999999999999999999999\"}", "out of range", "a 26-digit string"},
    {"{\"f_uint64\":18446744073709551615}", "not JSON",
     "uint64 max as a JSON number (past jansson's integers: give a string)"},
    {"{\"f_float\":1e39}", "out of range for a float", "a float past FLT_MAX"},
    {"{\"f_enum\":2147483648}", "out of range for int32", "an enum number past int32"},

    {"{\"f_bytes\":\"abc*\"}", "invalid base64 character", "a bad base64 character"},
    {"{\"f_bytes\":\"a\"}", "invalid base64", "base64 of impossible length"},
    {"{\"f_bytes\":\"ab=c\"}", "invalid base64", "padding inside base64"},
    {"{\"f_bytes\":\"ab===\"}", "invalid base64", "too much padding"},
    {"{\"f_bytes\":\"YQ=\"}", "invalid base64", "padding of a wrong length"},
    {"{\"f_bytes\":7}", "expected a base64 string", "a number for bytes"},

    {"{\"nope\":1}", "$.nope: kinds.All has no field nope", "an unknown field"},
    {"{\"inner\":{\"all\":{\"zz\":1}}}", "$.inner.all.zz: kinds.All has no field zz",
     "an unknown nested field"},
    {"{\"f_int32\":1,\"fInt32\":2}", "given twice", "a field by both names"},
    {"{\"f_int32\":1,\"f_int32\":2}", "not JSON", "a duplicate key"},
    {"{\"c_text\":\"a\",\"c_inner\":{}}", "c_text and c_inner are of one oneof",
     "two members of a oneof"},
    {"{\"f_enum\":\"BLUE\"}", "$.f_enum: enum kinds.Color has no value BLUE",
     "an unknown enum name"},
    {"{\"f_enum\":true}", "expected an enum value", "a bool for an enum"},
    {"{\"m_bool\":{\"yes\":\"x\"}}", "$.m_bool[\"yes\"]: a bool map key",
     "a bool map key that is not true/false"},
    {"{\"m_int\":{\"x\":{}}}", "$.m_int[\"x\"]: expected an integer",
     "an int map key that is no integer"},
    {"{\"m_str\":{\"a\":null}}", "a map value cannot be null", "a null map value"},
    {"{\"m_int\":[{\"key\":1,\"value\":{\"id\":\"q\"}}]}",
     "$.m_int[0].value.id: expected an integer", "a map as its entries, a bad value"},
    {"[1]", "$: expected an object", "an array at the top"},
    {"null", "$: expected an object", "null at the top"},
    {"{", "$: not JSON", "truncated JSON"},
    {"{\"f_string\":\"\\ud800\"}", "not JSON", "a lone surrogate in a string"},
};

static void test_hostile(void *all)
{
    char *deep = nest(32, "\"f_int32\":1"); /* 64 levels below the root */
    size_t n;
    uint8_t *b = fj(all, NULL, deep, &n);
    tap_ok(b != NULL, "64 levels of nesting accepted %s", err);
    free(b);
    free(deep);
    deep = nest(33, "");
    bad(all, deep, "nested deeper than 64", "66 levels of nesting");
    free(deep);
    size_t big = 100000;
    char *arr = malloc(2 * big + 16);
    strcpy(arr, "{\"r_int32\":");
    size_t k = strlen(arr);
    memset(arr + k, '[', big);
    memset(arr + k + big, ']', big);
    strcpy(arr + k + 2 * big, "}");
    bad(all, arr, "not JSON", "100000 nested arrays (the parser's own limit)");
    free(arr);
    for (size_t i = 0; i < sizeof refused_json / sizeof refused_json[0]; i++)
        bad(all, refused_json[i].json, refused_json[i].want, refused_json[i].what);

    size_t huge = SERIALIZERS_PROTO_MAX_JSON + 1;
    char *h = malloc(huge);
    memset(h, ' ', huge);
    h[0] = '{';
    h[huge - 1] = '}';
    uint8_t *o = NULL;
    tap_ok(P->from_json(NULL, all, h, huge, &o, &n, err, sizeof err) != OD_OK && !o &&
               strstr(err, "larger than"),
           "a JSON text past the limit: %s", err);
    free(h);
}

/* Deterministic mutations (a fixed-seed xorshift): of protoc's bytes, any
 * record validate accepts must come back from to_json -> from_json ->
 * to_json as the same JSON; of a JSON text, anything from_json accepts must
 * validate and survive the same trip. ASan watches every step. */
static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int stable(void *c, const char *j)
{
    size_t n;
    uint8_t *b = fj(c, NULL, j, &n);
    char *j2 = b ? tj(c, b, n) : NULL;
    int ok = j2 && same_json(j, j2);
    if (!ok)
        tap_diag("not stable: %s -> %s (%s)", j, j2 ? j2 : "NULL", err);
    free(j2);
    free(b);
    return ok;
}

static void test_mutations(void *all)
{
    uint8_t w[sizeof proto_kinds_all];
    int valid = 0, unstable = 0;
    for (int i = 0; i < 10000; i++) {
        memcpy(w, proto_kinds_all, sizeof w);
        for (int k = 0, flips = 1 + (int)(next_rand() % 3); k < flips; k++)
            w[next_rand() % sizeof w] ^= (uint8_t)(1u << (next_rand() % 8));
        char *j = tj(all, w, sizeof w);
        if (!j)
            continue;
        valid++;
        unstable += !stable(all, j);
        free(j);
    }
    tap_ok(valid > 1000 && unstable == 0, "mutated records: %d valid, each stable through "
           "to_json/from_json (%d not)", valid, unstable);

    static const char alphabet[] = "0123456789\"{}[],:-.eE aznul";
    char *base = tj(all, proto_kinds_all, sizeof proto_kinds_all);
    size_t len = base ? strlen(base) : 0;
    char *m = malloc(len + 1);
    int accepted = 0, broken = 0;
    for (int i = 0; base && i < 10000; i++) {
        memcpy(m, base, len + 1);
        for (int k = 0, edits = 1 + (int)(next_rand() % 2); k < edits; k++)
            m[next_rand() % len] = alphabet[next_rand() % (sizeof alphabet - 1)];
        size_t n;
        uint8_t *b = fj(all, NULL, m, &n);
        if (!b)
            continue;
        accepted++;
        char verr[512];
        char *j = P->validate(NULL, all, b, n, verr, sizeof verr) == OD_OK ? tj(all, b, n) : NULL;
        broken += !j || !stable(all, j);
        free(j);
        free(b);
    }
    tap_ok(base && accepted > 100 && broken == 0, "mutated JSON: %d accepted, each valid and "
           "stable (%d not)", accepted, broken);
    free(m);
    free(base);
}

int main(void)
{
    void *all = comp_proto("kinds.All", proto_kinds_set, sizeof proto_kinds_set);
    tap_ok(all != NULL, "kinds.All compiles %s", err);
    if (!all)
        return tap_done();
    test_protoc_bytes(all);
    test_kinds(all);
    test_legacy();
    test_no_json_name();
    test_registry();
    test_hostile(all);
    test_mutations(all);
    P->free_compiled(NULL, all);
    return tap_done();
}
