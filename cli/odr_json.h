/* odr_json.h - a small streaming JSON writer for `--output json`.
 *
 * Commas are placed by the writer: begin/end nest objects and arrays, a key
 * inside an object is followed by exactly one value. Strings are written as
 * UTF-8; bytes that are not valid UTF-8 are written as the code point of the
 * byte (\u00XX), so any key or value prints as valid JSON. */
#ifndef ODR_JSON_H
#define ODR_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ODR_JSON_DEPTH 16

typedef struct odr_json {
    FILE *f;
    int depth;
    int count[ODR_JSON_DEPTH]; /* values written at each level */
    int after_key;
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
