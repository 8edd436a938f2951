/* test_odr_json.c - the JSON builder behind `odr --output json` (on
 * jansson): the call sequence becomes the right nesting, top-level values
 * stream out as they complete, and bytes that are not UTF-8 become the code
 * points U+00XX, so the output stays valid JSON whatever a record holds. */
#include <stdlib.h>
#include <string.h>

#include "../../cli/odr_json.h"
#include "tap.h"

static char *render(void (*fn)(odr_json_t *))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    odr_json_t j;
    odr_json_init(&j, f);
    fn(&j);
    fclose(f);
    return buf;
}

static void nested(odr_json_t *j)
{
    odr_json_obj(j);
    ODR_JSON_KS(j, "name", "t");
    odr_json_key(j, "partitions");
    odr_json_arr(j);
    for (int i = 0; i < 2; i++) {
        odr_json_obj(j);
        ODR_JSON_KI(j, "partition", i);
        odr_json_key(j, "isr");
        odr_json_arr(j);
        odr_json_int(j, 1);
        odr_json_int(j, 2);
        odr_json_end(j, ']');
        odr_json_end(j, '}');
    }
    odr_json_end(j, ']');
    odr_json_key(j, "configs");
    odr_json_obj(j);
    odr_json_end(j, '}');
    odr_json_key(j, "none");
    odr_json_str(j, NULL);
    odr_json_key(j, "ok");
    odr_json_bool(j, 1);
    odr_json_end(j, '}');
    odr_json_line(j);
}

static void escapes(odr_json_t *j)
{
    odr_json_str(j, "q\"b\\s/\n\r\t\x01\x7f");
}

static void utf8(odr_json_t *j)
{
    odr_json_arr(j);
    odr_json_str(j, "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87");      /* valid 2-byte */
    odr_json_str(j, "\xf0\x9f\x98\x80");                      /* valid 4-byte */
    odr_json_bytes(j, "a\xff" "b\xc0\xaf" "c", 6);            /* bad byte, overlong */
    odr_json_bytes(j, "\xed\xa0\x80", 3);                     /* a surrogate */
    odr_json_bytes(j, "\xe2\x82", 2);                         /* cut short */
    odr_json_bytes(j, "z\0y", 3);                             /* a NUL inside */
    odr_json_end(j, ']');
}

static void two_lines(odr_json_t *j)
{
    for (int i = 0; i < 2; i++) {
        odr_json_obj(j);
        ODR_JSON_KI(j, "n", i);
        odr_json_end(j, '}');
        odr_json_line(j);
    }
}

int main(void)
{
    char *s = render(nested);
    tap_ok(strcmp(s, "{\"name\": \"t\", \"partitions\": [{\"partition\": 0, \"isr\": [1, 2]}, "
                     "{\"partition\": 1, \"isr\": [1, 2]}], \"configs\": {}, \"none\": null, "
                     "\"ok\": true}\n") == 0,
           "nesting and commas: %s", s);
    free(s);
    s = render(escapes);
    tap_ok(strcmp(s, "\"q\\\"b\\\\s/\\n\\r\\t\\u0001\x7f\"") == 0, "escapes: %s", s);
    free(s);
    s = render(utf8);
    tap_ok(strcmp(s, "[\"\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87\", \"\xf0\x9f\x98\x80\", "
                     "\"a\xc3\xbf" "b\xc3\x80\xc2\xaf" "c\", \"\xc3\xad\xc2\xa0\xc2\x80\", "
                     "\"\xc3\xa2\xc2\x82\", \"z\\u0000y\"]") == 0,
           "UTF-8 passes, other bytes become U+00XX: %s", s);
    free(s);
    s = render(two_lines);
    tap_ok(strcmp(s, "{\"n\": 0}\n{\"n\": 1}\n") == 0, "one document per line, no stray comma");
    free(s);
    return tap_done();
}
