/* odr_format.h - how records are read from and written to the terminal:
 * serializers (text <-> record bytes) and the consume output format.
 *
 * The serializer seam: `odr produce --serializer NAME` encodes each key and
 * value with NAME before sending, `odr consume --serializer NAME` decodes
 * before printing. "string" (bytes as they are) is the one text serde;
 * records in a schema's format are decoded to JSON by odr_decode.h
 * (`odr consume --value-format`). */
#ifndef ODR_FORMAT_H
#define ODR_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <librdkafka/rdkafka.h>

/* A growable byte buffer. */
typedef struct odr_buf {
    uint8_t *p;
    size_t len, cap;
} odr_buf_t;
int odr_buf_put(odr_buf_t *b, const void *p, size_t len); /* 0 or -1 (no memory) */
void odr_buf_free(odr_buf_t *b);

typedef struct odr_serde {
    const char *name;
    const char *doc;
    /* text typed by the user -> record bytes (out is reset first); 0, or -1 with err */
    int (*encode)(const char *text, size_t len, odr_buf_t *out, char *err, size_t errsz);
    /* record bytes -> text to print (out is reset first); 0, or -1 with err */
    int (*decode)(const uint8_t *data, size_t len, odr_buf_t *out, char *err, size_t errsz);
} odr_serde_t;

const odr_serde_t *odr_serde_find(const char *name);
/* "string" (or the list of names for messages) */
const char *odr_serde_names(void);

/* -f FORMAT for `odr consume`: kcat's tokens %t topic, %p partition,
 * %o offset, %T timestamp (ms), %k key, %s value, %K and %S their lengths
 * (-1 for null), %h headers (k=v,...), %% and the escapes \n \t \\.
 * Returns 0, or -1 with err naming a bad token. */
int odr_format_check(const char *fmt, char *err, size_t errsz);
/* Print one message; key and value are already decoded (NULL: null). */
void odr_format_print(FILE *f, const char *fmt, const rd_kafka_message_t *m, const odr_buf_t *key,
                      const odr_buf_t *value);
/* The JSON line of one message: {"topic","partition","offset","timestamp","key","value","headers"}.
 * decoded: the key or value buffer already holds one JSON text (NUL
 * terminated, from --key-format/--value-format), written as it is. */
#define ODR_DECODED_KEY   1u
#define ODR_DECODED_VALUE 2u
void odr_format_json(FILE *f, const rd_kafka_message_t *m, const odr_buf_t *key,
                     const odr_buf_t *value, unsigned decoded);

#endif
