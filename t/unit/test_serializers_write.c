/* test_serializers_write.c - the from_json op of modules/serializers
 * (string, int, long, double, json, avro): exact bytes for known values,
 * round trips both ways (to_json(from_json(j)) == j and
 * from_json(to_json(x)) == x), what validate says of what from_json makes,
 * Avro field defaults, errors naming the JSON path, and hostile input
 * (deep nesting, huge numbers, wrong types, defaults that would blow a
 * record up). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "serializers_tap.h"
#include "tap.h"

static uint8_t *got;
static size_t got_len;

/* from_json of json into got/got_len; OD_OK or the error (in err). */
static int fj(const od_serializer_ops_t *o, void *c, const char *json)
{
    free(got);
    got = NULL;
    got_len = 0;
    err[0] = 0;
    return o->from_json(NULL, c, json, strlen(json), &got, &got_len, err, sizeof err);
}

static void bytes_are(const od_serializer_ops_t *o, void *c, const char *json, const void *want,
                      size_t n, const char *what)
{
    int rc = fj(o, c, json);
    tap_ok(rc == OD_OK && got_len == n && memcmp(got, want, n) == 0, "%s: %s -> %zu bytes %s",
           what, json, got_len, err);
}

/* The same JSON value (numbers by value: 0.1 comes back as
 * 0.10000000000000001, the same double), and members in the same order. */
static int same_json(const char *a, const char *b)
{
    json_t *x = json_loads(a, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    json_t *y = json_loads(b, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    int same = x && y && json_equal(x, y);
    if (same && json_is_object(x)) {
        void *i = json_object_iter(x), *k = json_object_iter(y);
        for (; same && i && k; i = json_object_iter_next(x, i), k = json_object_iter_next(y, k))
            same = strcmp(json_object_iter_key(i), json_object_iter_key(k)) == 0;
    }
    json_decref(x);
    json_decref(y);
    return same;
}

/* to_json(from_json(json)) == json, and validate accepts the bytes. */
static void round_trip(const od_serializer_ops_t *o, void *c, const char *json, const char *what)
{
    char *back = NULL;
    int rc = fj(o, c, json);
    int valid = rc == OD_OK && o->validate(NULL, c, got, got_len, err, sizeof err) == OD_OK;
    if (valid)
        o->to_json(NULL, c, got, got_len, &back, err, sizeof err);
    tap_ok(back && same_json(back, json), "%s: round trip of %s%s%s", what, json,
           back ? " gives " : ": ", back ? back : err);
    free(back);
}

/* from_json fails and the error says `want`. */
static void refused(const od_serializer_ops_t *o, void *c, const char *json, const char *want,
                    const char *what)
{
    int rc = fj(o, c, json);
    tap_ok(rc != OD_OK && strstr(err, want), "%s refused: %s", what, err);
}

/* One from_json check: the exact bytes, a round trip, or a refusal whose
 * error says `want`. */
typedef struct {
    enum { BYTES, ROUND_TRIP, REFUSED } kind;
    const char *json;
    const char *want; /* BYTES: the bytes; REFUSED: part of the error */
    size_t n;         /* BYTES: how many */
    const char *what;
} fj_case_t;

static void check_all(const od_serializer_ops_t *o, void *c, const fj_case_t *cases, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        const fj_case_t *t = &cases[k];
        if (t->kind == BYTES)
            bytes_are(o, c, t->json, t->want, t->n, t->what);
        else if (t->kind == ROUND_TRIP)
            round_trip(o, c, t->json, t->what);
        else
            refused(o, c, t->json, t->want, t->what);
    }
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const fj_case_t string_cases[] = {
    {BYTES, "\"h\\u00e9\"", "h\xc3\xa9", 3, "string"},
    {BYTES, "\"\"", "", 0, "string: empty"},
    {ROUND_TRIP, "\"tab\\tquote\\\"\"", NULL, 0, "string"},
    {REFUSED, "42", "$: expected a string, got an integer", 0, "string: a number"},
    {REFUSED, "\"a", "not JSON", 0, "string: broken JSON"},
    {REFUSED, "\"\\ud800\"", "not JSON", 0, "string: a lone surrogate"},
};

static const fj_case_t int_cases[] = {
    {BYTES, "-2", "\xff\xff\xff\xfe", 4, "int: big-endian"},
    {BYTES, "1e3", "\0\0\x03\xe8", 4, "int: 1e3 (a real without a fraction)"},
    {ROUND_TRIP, "2147483647", NULL, 0, "int"},
    {ROUND_TRIP, "-2147483648", NULL, 0, "int"},
    {REFUSED, "2147483648", "out of the int range", 0, "int: 2^31"},
    {REFUSED, "1.5", "expected an integer", 0, "int: a fraction"},
    {REFUSED, "\"7\"", "got a string", 0, "int: a string"},
    {REFUSED, "123456789012345678901234567890", "not JSON", 0, "int: past int64"},
};

static const fj_case_t long_cases[] = {
    {BYTES, "1099511627776", "\0\0\1\0\0\0\0\0", 8, "long"},
    {ROUND_TRIP, "9223372036854775807", NULL, 0, "long"},
    {ROUND_TRIP, "-9223372036854775808", NULL, 0, "long"},
    {REFUSED, "9223372036854775808", "not JSON", 0, "long: 2^63"},
    {REFUSED, "1e19", "expected an integer", 0, "long: 1e19"},
    {REFUSED, "null", "got null", 0, "long: null"},
};

static const fj_case_t double_cases[] = {
    {BYTES, "2.5", "\x40\x04\0\0\0\0\0\0", 8, "double"},
    {BYTES, "\"NaN\"", "\x7f\xf8\0\0\0\0\0\0", 8, "double: NaN"},
    {BYTES, "\"-Infinity\"", "\xff\xf0\0\0\0\0\0\0", 8, "double: -Infinity"},
    {BYTES, "3", "\x40\x08\0\0\0\0\0\0", 8, "double: an integer"},
    {ROUND_TRIP, "0.1", NULL, 0, "double"},
    {ROUND_TRIP, "\"Infinity\"", NULL, 0, "double"},
    {ROUND_TRIP, "-1.7976931348623157e+308", NULL, 0, "double"},
    {REFUSED, "1e400", "not JSON", 0, "double: past the range"},
    {REFUSED, "\"nan\"", "expected a number", 0, "double: another spelling of NaN"},
    {REFUSED, "[1]", "got an array", 0, "double: an array"},
};

static void test_prim(void)
{
    const od_serializer_ops_t *s = &serializers_string_ops, *i = &serializers_int_ops,
                              *l = &serializers_long_ops, *d = &serializers_double_ops;
    check_all(s, NULL, string_cases, COUNT(string_cases));
    check_all(i, NULL, int_cases, COUNT(int_cases));
    check_all(l, NULL, long_cases, COUNT(long_cases));
    check_all(d, NULL, double_cases, COUNT(double_cases));

    /* from_json(to_json(x)) == x for every bit pattern kind */
    const uint8_t xs[][8] = {{0x80, 0, 0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0, 0, 1},
                             {0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a}};
    for (size_t k = 0; k < sizeof xs / sizeof xs[0]; k++) {
        char *j = NULL;
        d->to_json(NULL, NULL, xs[k], 8, &j, err, sizeof err);
        int rc = j ? fj(d, NULL, j) : -1;
        tap_ok(rc == OD_OK && got_len == 8 && memcmp(got, xs[k], 8) == 0,
               "double: from_json(to_json(x)) == x for %s", j ? j : err);
        free(j);
    }
}

static void test_json(void)
{
    const od_serializer_ops_t *j = &serializers_json_ops;
    bytes_are(j, NULL, "{ \"b\": [1, 2.5],\t\"a\": null }", "{\"b\":[1,2.5],\"a\":null}", 22,
              "json: compact, key order kept");
    round_trip(j, NULL, "{\"x\":\"\xc3\xa9\",\"y\":[true,false,{}]}", "json");
    round_trip(j, NULL, "\"a scalar\"", "json");
    refused(j, NULL, "{\"a\":1,\"a\":2}", "duplicate", "json: duplicate keys");
    refused(j, NULL, "{\"a\":", "not JSON", "json: broken");
    char deep[300];
    memset(deep, '[', 150);
    memset(deep + 150, ']', 150);
    deep[299] = 0;
    deep[149] = '0';
    deep[150] = ']';
    refused(j, NULL, deep, "deeper", "json: nested 149 deep");
    void *c = comp(j, "{\"type\":\"object\",\"properties\":{\"price\":{\"type\":\"number\"},"
                      "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}},"
                      "\"required\":[\"price\"]}");
    tap_ok(c != NULL, "json: schema compiles %s", err);
    round_trip(j, c, "{\"price\":9.5,\"tags\":[\"a\"]}", "json with a schema");
    refused(j, c, "{\"price\":\"9\"}", "$.price: string where the schema wants number",
            "json: wrong type, with its path");
    refused(j, c, "{\"price\":1,\"tags\":[\"a\",2]}", "$.tags[1]", "json: an array item");
    refused(j, c, "{}", "'price' is missing", "json: a required property");
    j->free_compiled(NULL, c);
}

static const char *shop =
    "{\"type\":\"record\",\"name\":\"Shop\",\"namespace\":\"kit\",\"fields\":["
    "{\"name\":\"name\",\"type\":\"string\"},"
    "{\"name\":\"open\",\"type\":\"boolean\"},"
    "{\"name\":\"id\",\"type\":\"long\"},"
    "{\"name\":\"rank\",\"type\":\"float\"},"
    "{\"name\":\"owner\",\"type\":[\"null\",\"string\",{\"type\":\"record\",\"name\":\"Person\","
    "\"fields\":[{\"name\":\"first\",\"type\":\"string\"}]}]},"
    "{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"Kind\",\"symbols\":[\"BAKERY\","
    "\"BAR\"]}},"
    "{\"name\":\"items\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"record\",\"name\":"
    "\"Item\",\"fields\":[{\"name\":\"sku\",\"type\":\"string\"},{\"name\":\"price\",\"type\":"
    "\"double\"}]}}},"
    "{\"name\":\"stock\",\"type\":{\"type\":\"map\",\"values\":\"int\"}},"
    "{\"name\":\"code\",\"type\":{\"type\":\"fixed\",\"name\":\"Code\",\"size\":2}},"
    "{\"name\":\"blob\",\"type\":\"bytes\"},"
    "{\"name\":\"day\",\"type\":{\"type\":\"int\",\"logicalType\":\"date\"}},"
    "{\"name\":\"at\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}},"
    "{\"name\":\"amount\",\"type\":{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":"
    "6,\"scale\":2}},"
    "{\"name\":\"note\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"region\",\"type\":[\"string\",\"null\"],\"default\":\"eu\"},"
    "{\"name\":\"level\",\"type\":\"int\",\"default\":3},"
    "{\"name\":\"hq\",\"type\":\"Person\",\"default\":{\"first\":\"ann\"}},"
    "{\"name\":\"flags\",\"type\":{\"type\":\"array\",\"items\":\"boolean\"},\"default\":[true]}]}";

static const char *shop_full =
    "{\"name\":\"corner\",\"open\":true,\"id\":-1099511627776,\"rank\":0.5,"
    "\"owner\":{\"Person\":{\"first\":\"bo\"}},\"kind\":\"BAR\","
    "\"items\":[{\"sku\":\"a1\",\"price\":2.25},{\"sku\":\"b\",\"price\":\"NaN\"}],"
    "\"stock\":{\"a1\":7,\"b\":-1},\"code\":\"\\u0000\xc3\xbf\",\"blob\":\"hi\xc2\x80\","
    "\"day\":19000,\"at\":1700000000000,\"amount\":\"\\u0001\\u0002\","
    "\"note\":{\"string\":\"n\"},\"region\":null,\"level\":-4,\"hq\":{\"first\":\"cy\"},"
    "\"flags\":[]}";

/* Refusals by the error schema of test_avro: each names the JSON path. */
static const fj_case_t avro_error_cases[] = {
    {REFUSED, "{\"items\":[{\"price\":1},{\"price\":2},{\"price\":\"3\"}],\"e\":null,"
              "\"f\":\"abcd\",\"k\":\"A\",\"i\":1,\"r\":1,\"b\":\"\"}",
     "$.items[2].price: expected a number", 0, "avro: a string for a double"},
    {REFUSED, "{\"items\":[],\"e\":null,\"f\":\"abcd\",\"k\":\"A\",\"r\":1,\"b\":\"\"}",
     "$.i: missing, and record U has no default", 0, "avro: a missing field"},
    {REFUSED, "{\"items\":[],\"e\":null,\"f\":\"abcd\",\"k\":\"A\",\"i\":1,\"r\":1,"
              "\"b\":\"\",\"extra\":1}",
     "$.extra: record U has no field 'extra'", 0, "avro: a member the record lacks"},
    {REFUSED, "{\"items\":[],\"e\":5,\"f\":\"abcd\",\"k\":\"A\",\"i\":1,\"r\":1,\"b\":\"\"}",
     "$.e: expected null or an object of one member", 0, "avro: a bare union value"},
    {REFUSED, "{\"items\":[],\"e\":{\"int\":5},\"f\":\"abcd\",\"k\":\"A\",\"i\":1,\"r\":1,"
              "\"b\":\"\"}",
     "'int' is not a branch of the union (branches: null, long)", 0, "avro: a wrong branch"},
    {REFUSED, "{\"items\":[],\"e\":{\"long\":\"5\"},\"f\":\"abcd\",\"k\":\"A\",\"i\":1,"
              "\"r\":1,\"b\":\"\"}",
     "$.e.long: expected an integer", 0, "avro: a wrong type inside a branch"},
    {REFUSED, "{\"items\":[],\"e\":null,\"f\":\"abc\",\"k\":\"A\",\"i\":1,\"r\":1,\"b\":\"\"}",
     "$.f: fixed F takes 4 bytes, got 3", 0, "avro: a fixed of the wrong size"},
    {REFUSED, "{\"items\":[],\"e\":null,\"f\":\"abcd\",\"k\":\"C\",\"i\":1,\"r\":1,\"b\":\"\"}",
     "'C' is not a symbol of enum K (symbols: A, B)", 0, "avro: an unknown symbol"},
    {REFUSED, "{\"items\":[],\"e\":null,\"f\":\"abcd\",\"k\":\"A\",\"i\":2147483648,\"r\":1,"
              "\"b\":\"\"}",
     "$.i: 2147483648 is out of the int range", 0, "avro: an int past 2^31"},
    {REFUSED, "{\"items\":[],\"e\":null,\"f\":\"abcd\",\"k\":\"A\",\"i\":1,\"r\":1e39,"
              "\"b\":\"\"}",
     "$.r: 1e+39 is out of the float range", 0, "avro: a float past FLT_MAX"},
    {REFUSED, "{\"items\":[],\"e\":null,\"f\":\"abcd\",\"k\":\"A\",\"i\":1,\"r\":1,"
              "\"b\":\"\\u0100\"}",
     "$.b: character 1 is not a byte", 0, "avro: bytes with a code point past U+00FF"},
    {REFUSED, "[]", "$: expected an object (record U), got an array", 0, "avro: an array"},
    {REFUSED, "{\"items\":[],\"e\":null,\"f\":\"abcd\",\"k\":\"A\",\"i\":1,\"r\":1,"
              "\"b\":\"\",\"b\":\"\"}",
     "duplicate", 0, "avro: duplicate members"},
    {REFUSED, "{\"items\":[],\"e\":null,\"f\":\"abcd\",\"k\":\"A\",\"i\":1,\"r\":1e999,"
              "\"b\":\"\"}",
     "not JSON", 0, "avro: a huge number"},
};

static void test_avro(void)
{
    const od_serializer_ops_t *a = &serializers_avro_ops;
    void *c = comp(a, shop);
    tap_ok(c != NULL, "avro: the shop schema compiles %s", err);
    round_trip(a, c, shop_full, "avro: every kind of value, logical types as their base types");
    round_trip(a, c, "{\"name\":\"\",\"open\":false,\"id\":0,\"rank\":\"-Infinity\",\"owner\":"
                     "null,\"kind\":\"BAKERY\",\"items\":[],\"stock\":{},\"code\":\"ab\","
                     "\"blob\":\"\",\"day\":0,\"at\":0,\"amount\":\"\",\"note\":null,"
                     "\"region\":{\"string\":\"us\"},\"level\":0,\"hq\":{\"first\":\"\"},"
                     "\"flags\":[false,true]}",
               "avro: empty containers, null branches");
    /* the defaults: note null, region "eu" (its first branch), level 3,
     * hq {"first":"ann"}, flags [true] */
    char *back = NULL;
    int rc = fj(a, c, "{\"name\":\"x\",\"open\":true,\"id\":1,\"rank\":1,\"owner\":"
                      "{\"string\":\"me\"},\"kind\":\"BAR\",\"items\":[],\"stock\":{},"
                      "\"code\":\"zz\",\"blob\":\"\",\"day\":1,\"at\":2,\"amount\":\"\"}");
    if (rc == OD_OK)
        a->to_json(NULL, c, got, got_len, &back, err, sizeof err);
    tap_ok(back && strstr(back, "\"note\":null,\"region\":{\"string\":\"eu\"},\"level\":3,"
                                "\"hq\":{\"first\":\"ann\"},\"flags\":[true]}"),
           "avro: missing fields take the schema's defaults: %s", back ? back : err);
    free(back);
    /* the full name of a named branch is taken too */
    char *full = strdup(shop_full);
    char *at = strstr(full, "{\"Person\"");
    tap_ok(at != NULL, "avro: test text has the Person branch");
    char alt[4096];
    snprintf(alt, sizeof alt, "%.*s{\"kit.Person\"%s", (int)(at - full), full, at + 9);
    tap_ok(fj(a, c, alt) == OD_OK, "avro: a union branch by its full name %s", err);
    free(full);

    /* from_json(to_json(x)) == x for a datum written by hand: name "hi",
     * owner branch 1 "x", array of one Item, the rest minimal */
    round_trip(a, c, "{\"name\":\"hi\",\"open\":false,\"id\":5,\"rank\":1.0,\"owner\":"
                     "{\"string\":\"x\"},\"kind\":\"BAR\",\"items\":[{\"sku\":\"s\",\"price\":"
                     "1.0}],\"stock\":{\"k\":1},\"code\":\"cd\",\"blob\":\"\xc3\xbf\",\"day\":-1,"
                     "\"at\":-2,\"amount\":\"\\u0000\",\"note\":null,\"region\":null,\"level\":1,"
                     "\"hq\":{\"first\":\"a\"},\"flags\":[]}",
               "avro: a second record");
    uint8_t *x = got_len ? malloc(got_len) : NULL;
    size_t xn = got_len;
    if (x)
        memcpy(x, got, xn);
    char *j = NULL;
    if (x)
        a->to_json(NULL, c, x, xn, &j, err, sizeof err);
    tap_ok(j && fj(a, c, j) == OD_OK && got_len == xn && memcmp(got, x, xn) == 0,
           "avro: from_json(to_json(x)) == x, %zu bytes", xn);
    free(j);
    free(x);

    /* errors name the path */
    void *u = comp(a, "{\"type\":\"record\",\"name\":\"U\",\"fields\":[{\"name\":\"items\","
                      "\"type\":{\"type\":\"array\",\"items\":{\"type\":\"record\",\"name\":\"I\","
                      "\"fields\":[{\"name\":\"price\",\"type\":\"double\"}]}}},"
                      "{\"name\":\"e\",\"type\":[\"null\",\"long\"]},"
                      "{\"name\":\"f\",\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"size\":4}},"
                      "{\"name\":\"k\",\"type\":{\"type\":\"enum\",\"name\":\"K\","
                      "\"symbols\":[\"A\",\"B\"]}},{\"name\":\"i\",\"type\":\"int\"},"
                      "{\"name\":\"r\",\"type\":\"float\"},{\"name\":\"b\",\"type\":\"bytes\"}]}");
    tap_ok(u != NULL, "avro: the error schema compiles %s", err);
    const char *ok = "{\"items\":[],\"e\":null,\"f\":\"abcd\",\"k\":\"A\",\"i\":1,\"r\":1,"
                     "\"b\":\"\"}";
    tap_ok(fj(a, u, ok) == OD_OK, "avro: the error schema's good value %s", err);
    check_all(a, u, avro_error_cases, COUNT(avro_error_cases));
    a->free_compiled(NULL, u);
    a->free_compiled(NULL, c);
    tap_ok(fj(a, NULL, "{}") != OD_OK && strstr(err, "needs a schema"), "avro: no schema: %s",
           err);
}

/* Nesting, sizes and counts a hostile text or schema could push. */
static void test_hostile(void)
{
    const od_serializer_ops_t *a = &serializers_avro_ops;
    void *list = comp(a, "{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":\"next\","
                         "\"type\":[\"null\",\"L\"]}]}");
    char *deep = malloc(40 * 100 + 64);
    size_t n = 0;
    for (int i = 0; i < 40; i++)
        n += (size_t)sprintf(deep + n, "{\"next\":{\"L\":");
    n += (size_t)sprintf(deep + n, "{\"next\":null}");
    for (int i = 0; i < 40; i++)
        n += (size_t)sprintf(deep + n, "}}");
    deep[n] = 0;
    refused(a, list, deep, "deeper", "avro: a chain nested 80 deep in JSON");
    round_trip(a, list, "{\"next\":{\"L\":{\"next\":{\"L\":{\"next\":null}}}}}",
               "avro: a short recursive chain");
    free(deep);
    a->free_compiled(NULL, list);

    /* a default of 2000 bytes repeated by an array of 10000 empty records
     * would make 20 MB out of 30 kB of text */
    char *big = malloc(4096);
    n = (size_t)sprintf(big, "{\"type\":\"array\",\"items\":{\"type\":\"record\",\"name\":\"R\","
                             "\"fields\":[{\"name\":\"s\",\"type\":\"string\",\"default\":\"");
    memset(big + n, 'x', 2000);
    n += 2000;
    sprintf(big + n, "\"}]}}");
    void *c = comp(a, big);
    tap_ok(c != NULL, "avro: the big-default schema compiles %s", err);
    char *text = malloc(3 * 10000 + 8);
    n = 0;
    text[n++] = '[';
    for (int i = 0; i < 10000; i++)
        n += (size_t)sprintf(text + n, "%s{}", i ? "," : "");
    text[n++] = ']';
    text[n] = 0;
    refused(a, c, text, "larger than", "avro: defaults blowing a record past the size limit");
    tap_ok(fj(a, c, "[{},{\"s\":\"y\"}]") == OD_OK && got_len == 1 + 2 + 2000 + 1 + 1 + 1,
           "avro: two records, one by its default: %zu bytes %s", got_len, err);
    a->free_compiled(NULL, c);

    /* 500 null fields with defaults: each empty record writes no byte but
     * costs 500 values */
    n = (size_t)sprintf(big, "{\"type\":\"array\",\"items\":{\"type\":\"record\",\"name\":\"N\","
                             "\"fields\":[");
    char *schema = malloc(64 * 500 + 256);
    memcpy(schema, big, n);
    for (int i = 0; i < 500; i++)
        n += (size_t)sprintf(schema + n, "%s{\"name\":\"f%d\",\"type\":\"null\",\"default\":null}",
                             i ? "," : "", i);
    sprintf(schema + n, "]}}");
    c = comp(a, schema);
    tap_ok(c != NULL, "avro: the many-nulls schema compiles %s", err);
    refused(a, c, text, "more values", "avro: 10000 records of 500 defaulted nulls");
    tap_ok(fj(a, c, "[{}]") == OD_OK && got_len == 2, "avro: one such record %s", err);
    a->free_compiled(NULL, c);
    free(schema);
    free(big);
    free(text);

    /* two records named X in different namespaces: each field takes its own
     * record's default (a.X's from its own namespace, b.X's inherited from
     * the enclosing record's) */
    c = comp(a, "{\"type\":\"record\",\"name\":\"Top\",\"namespace\":\"b\",\"fields\":["
                "{\"name\":\"p\",\"type\":{\"type\":\"record\",\"name\":\"X\",\"namespace\":"
                "\"a\",\"fields\":[{\"name\":\"v\",\"type\":\"int\",\"default\":1}]}},"
                "{\"name\":\"q\",\"type\":{\"type\":\"record\",\"name\":\"X\",\"fields\":["
                "{\"name\":\"v\",\"type\":\"int\",\"default\":2}]}}]}");
    char *back = NULL;
    if (c && fj(a, c, "{\"p\":{},\"q\":{}}") == OD_OK)
        a->to_json(NULL, c, got, got_len, &back, err, sizeof err);
    tap_ok(back && strcmp(back, "{\"p\":{\"v\":1},\"q\":{\"v\":2}}") == 0,
           "avro: defaults of same-named records in two namespaces: %s", back ? back : err);
    free(back);
    if (c)
        a->free_compiled(NULL, c);

    /* a text past the size limit is refused before it is parsed */
    size_t huge = (size_t)SERIALIZERS_MAX_ENCODED + 1;
    char *blob = malloc(huge);
    if (blob) {
        memset(blob, ' ', huge);
        blob[0] = '1';
        size_t hl = 0;
        uint8_t *ho = NULL;
        err[0] = 0;
        tap_ok(serializers_long_ops.from_json(NULL, NULL, blob, huge, &ho, &hl, err, sizeof err) !=
                       OD_OK && strstr(err, "larger than"),
               "a JSON text past %d bytes: %s", SERIALIZERS_MAX_ENCODED, err);
        tap_ok(serializers_json_ops.from_json(NULL, NULL, blob, huge, &ho, &hl, err, sizeof err) !=
                       OD_OK && strstr(err, "larger than"),
               "json: a text past the limit: %s", err);
        free(blob);
    }

    /* a default of the wrong type is named as the schema's */
    c = comp(a, "{\"type\":\"record\",\"name\":\"D\",\"fields\":[{\"name\":\"n\",\"type\":"
                "\"int\",\"default\":\"three\"}]}");
    if (c) {
        refused(a, c, "{}", "(in the schema's default)", "avro: a bad default");
        a->free_compiled(NULL, c);
    } else {
        tap_ok(strstr(err, "default") != NULL, "avro: libavro refuses the bad default: %s", err);
    }
}

int main(void)
{
    test_prim();
    test_json();
    test_avro();
    test_hostile();
    free(got);
    return tap_done();
}
