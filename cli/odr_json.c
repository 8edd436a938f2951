/* odr_json.c - see odr_json.h. */
#include "odr_json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void odr_json_init(odr_json_t *j, FILE *f)
{
    memset(j, 0, sizeof *j);
    j->f = f;
}

/* A complete top-level value goes out at once. */
static void emit(odr_json_t *j, json_t *v)
{
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));
    if (j->written++ > 0)
        fputs(", ", j->f);
    if (s)
        fputs(s, j->f);
    free(s);
}

/* Place v (a new reference, taken) where the document is: under the
 * pending key, in the open array, or at the top level. NULL (no memory)
 * becomes null, so the document keeps its shape. */
static void add(odr_json_t *j, json_t *v)
{
    if (!v)
        v = json_null();
    if (j->depth == 0) {
        emit(j, v);
        json_decref(v);
        return;
    }
    json_t *c = j->open[j->depth - 1];
    if (json_is_object(c)) {
        json_object_set_new(c, j->key ? j->key : "", v);
        free(j->key);
        j->key = NULL;
    } else {
        json_array_append_new(c, v);
    }
}

static void open_nested(odr_json_t *j, json_t *c)
{
    if (!c)
        c = json_null();
    if (j->depth == ODR_JSON_DEPTH) { /* deeper than any output of odr: kept empty */
        add(j, c);
        j->too_deep++;
        return;
    }
    if (j->depth > 0) {
        json_incref(c); /* one reference for the parent, one while open */
        add(j, c);
    }
    j->open[j->depth++] = c;
}

void odr_json_obj(odr_json_t *j) { open_nested(j, json_object()); }
void odr_json_arr(odr_json_t *j) { open_nested(j, json_array()); }

void odr_json_end(odr_json_t *j, char close)
{
    (void)close; /* the container knows what it is */
    if (j->too_deep > 0) {
        j->too_deep--;
        return;
    }
    if (j->depth == 0)
        return;
    json_t *c = j->open[--j->depth];
    if (j->depth == 0)
        emit(j, c); /* a top-level document is complete: written now */
    json_decref(c);
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *p, size_t left)
{
    unsigned char c = p[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0) {
        n = 2;
        cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        n = 3;
        cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n > left)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    /* overlong forms, surrogates and beyond U+10FFFF are not valid */
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return n;
}

/* Bytes as a JSON string: valid UTF-8 as it is, any other byte as U+00XX. */
static json_t *bytes_string(const unsigned char *p, size_t len)
{
    char *u = malloc(2 * len + 1);
    if (!u)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_len(p + i, len - i);
        if (n) {
            memcpy(u + k, p + i, n);
            k += n;
            i += n;
        } else {
            u[k++] = (char)(0xc0 | (p[i] >> 6));
            u[k++] = (char)(0x80 | (p[i] & 0x3f));
            i++;
        }
    }
    json_t *s = json_stringn(u, k);
    free(u);
    return s;
}

void odr_json_key(odr_json_t *j, const char *key)
{
    json_t *k = bytes_string((const unsigned char *)key, strlen(key));
    free(j->key);
    j->key = k ? strdup(json_string_value(k)) : NULL;
    json_decref(k);
}

void odr_json_bytes(odr_json_t *j, const void *p, size_t len)
{
    add(j, p ? bytes_string(p, len) : json_null());
}

void odr_json_str(odr_json_t *j, const char *s)
{
    odr_json_bytes(j, s, s ? strlen(s) : 0);
}

void odr_json_int(odr_json_t *j, int64_t v) { add(j, json_integer(v)); }

void odr_json_double(odr_json_t *j, double v)
{
    add(j, isfinite(v) ? json_real(v) : json_null());
}

void odr_json_raw(odr_json_t *j, const char *json_text)
{
    add(j, json_loads(json_text, JSON_DECODE_ANY, NULL));
}

void odr_json_bool(odr_json_t *j, int v) { add(j, json_boolean(v)); }
void odr_json_null(odr_json_t *j) { add(j, json_null()); }

void odr_json_line(odr_json_t *j)
{
    while (j->depth > 0) /* an unclosed document still ends the line */
        odr_json_end(j, 0);
    free(j->key);
    j->key = NULL;
    fputc('\n', j->f);
    j->written = 0;
}
