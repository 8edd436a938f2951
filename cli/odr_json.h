/* odr_json.h - the JSON builder for `--output json`, on jansson.
 *
 * Calls describe a document in order: begin/end nest objects and arrays, a
 * key inside an object is followed by exactly one value. Each top-level
 * value is written (jansson's encoder: `{"a": 1, "b": [1, 2]}`) as soon as
 * it is complete, so a consumer's records stream out one line at a time.
 * Bytes that are not valid UTF-8 become the code point of the byte
 * (U+0000..U+00FF), so any key or value prints as valid JSON. */
#ifndef ODR_JSON_H
#define ODR_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#define ODR_JSON_DEPTH 16

typedef struct odr_json {
    FILE *f;
    int depth;                   /* open containers */
    json_t *open[ODR_JSON_DEPTH]; /* the open containers, outermost first */
    char *key;                   /* the key waiting for its value (malloc'd) */
    int written;                 /* top-level values on the current line */
    int too_deep;                /* containers opened past ODR_JSON_DEPTH, not yet ended */
} odr_json_t;

void odr_json_init(odr_json_t *j, FILE *f);
void odr_json_obj(odr_json_t *j);     /* { */
void odr_json_arr(odr_json_t *j);     /* [ */
void odr_json_end(odr_json_t *j, char close); /* } or ] */
void odr_json_key(odr_json_t *j, const char *key);
void odr_json_str(odr_json_t *j, const char *s);               /* NULL writes null */
void odr_json_bytes(odr_json_t *j, const void *p, size_t len); /* NULL writes null */
void odr_json_int(odr_json_t *j, int64_t v);
void odr_json_double(odr_json_t *j, double v);
void odr_json_bool(odr_json_t *j, int v);
void odr_json_null(odr_json_t *j);
/* A value that is already one JSON text (a decoded record, odr_decode.h). */
void odr_json_raw(odr_json_t *j, const char *json_text);
/* Finish one document: a newline (one object per line). */
void odr_json_line(odr_json_t *j);

/* key + value in one call */
#define ODR_JSON_KS(j, k, v) (odr_json_key((j), (k)), odr_json_str((j), (v)))
#define ODR_JSON_KI(j, k, v) (odr_json_key((j), (k)), odr_json_int((j), (v)))

#endif
