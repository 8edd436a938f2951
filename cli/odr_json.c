/* odr_json.c - see odr_json.h. */
#include "odr_json.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

void odr_json_init(odr_json_t *j, FILE *f)
{
    j->f = f;
    j->depth = 0;
    j->count[0] = 0;
    j->after_key = 0;
}

/* Before any value or key: the comma, unless it follows a key. */
static void sep(odr_json_t *j)
{
    if (j->after_key) {
        j->after_key = 0;
        return;
    }
    if (j->count[j->depth]++ > 0)
        fputs(", ", j->f);
}

static void open_nested(odr_json_t *j, char c)
{
    sep(j);
    fputc(c, j->f);
    if (j->depth + 1 < ODR_JSON_DEPTH)
        j->depth++;
    j->count[j->depth] = 0;
}

void odr_json_obj(odr_json_t *j) { open_nested(j, '{'); }
void odr_json_arr(odr_json_t *j) { open_nested(j, '['); }

void odr_json_end(odr_json_t *j, char close)
{
    fputc(close, j->f);
    if (j->depth > 0)
        j->depth--;
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

static void write_string(FILE *f, const unsigned char *p, size_t len)
{
    fputc('"', f);
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        size_t n = utf8_len(p + i, len - i);
        if (n == 0) {
            fprintf(f, "\\u%04x", c);
            i++;
            continue;
        }
        if (n > 1) {
            fwrite(p + i, 1, n, f);
            i += n;
            continue;
        }
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (c < 0x20 || c == 0x7f)
                fprintf(f, "\\u%04x", c);
            else
                fputc(c, f);
        }
        i++;
    }
    fputc('"', f);
}

void odr_json_key(odr_json_t *j, const char *key)
{
    sep(j);
    write_string(j->f, (const unsigned char *)key, strlen(key));
    fputs(": ", j->f);
    j->after_key = 1;
}

void odr_json_bytes(odr_json_t *j, const void *p, size_t len)
{
    if (!p) {
        odr_json_null(j);
        return;
    }
    sep(j);
    write_string(j->f, p, len);
}

void odr_json_str(odr_json_t *j, const char *s)
{
    odr_json_bytes(j, s, s ? strlen(s) : 0);
}

void odr_json_int(odr_json_t *j, int64_t v)
{
    sep(j);
    fprintf(j->f, "%" PRId64, v);
}

void odr_json_double(odr_json_t *j, double v)
{
    sep(j);
    if (isfinite(v))
        fprintf(j->f, "%.6g", v);
    else
        fputs("null", j->f);
}

void odr_json_raw(odr_json_t *j, const char *json_text)
{
    sep(j);
    fputs(json_text, j->f);
}

void odr_json_bool(odr_json_t *j, int v)
{
    sep(j);
    fputs(v ? "true" : "false", j->f);
}

void odr_json_null(odr_json_t *j)
{
    sep(j);
    fputs("null", j->f);
}

void odr_json_line(odr_json_t *j)
{
    fputc('\n', j->f);
    j->count[0] = 0;
    j->depth = 0;
    j->after_key = 0;
}
