/* odr_raw.h - a tiny Kafka protocol client for the requests librdkafka 2.0
 * cannot send (DescribeQuorum). PLAINTEXT only, one connection to the first
 * bootstrap broker, one request at a time.
 *
 * Every length and count read from the broker is checked against what is
 * left of the response; a response is at most ODR_RAW_MAX bytes. */
#ifndef ODR_RAW_H
#define ODR_RAW_H

#include <stddef.h>
#include <stdint.h>

#include "odr.h"

#define ODR_RAW_MAX (16u << 20)

typedef struct odr_raw {
    int fd;
    int32_t next_corr;
    int timeout_ms;
    int16_t max_version[128]; /* from ApiVersions; -1: not offered */
} odr_raw_t;

/* A bounds-checked reader over one response. After a short read ok is 0
 * and every further read returns zero. */
typedef struct odr_rd {
    const uint8_t *p;
    size_t left;
    int ok;
} odr_rd_t;

int8_t odr_rd_i8(odr_rd_t *r);
int16_t odr_rd_i16(odr_rd_t *r);
int32_t odr_rd_i32(odr_rd_t *r);
int64_t odr_rd_i64(odr_rd_t *r);
uint64_t odr_rd_uvarint(odr_rd_t *r);
/* A compact array's count (uvarint N+1; -1 for null), checked against the
 * bytes left assuming each element takes at least min_size bytes. */
int64_t odr_rd_compact_count(odr_rd_t *r, size_t min_size);
/* A compact string: *s points into the response (not NUL-terminated). */
int odr_rd_compact_str(odr_rd_t *r, const char **s, size_t *len);
void odr_rd_skip_tags(odr_rd_t *r);

/* Writing request bodies into an odr_buf_t (odr_format.h); each returns 0,
 * or -1 when out of memory. */
struct odr_buf;
int odr_wr_uvarint(struct odr_buf *b, uint64_t v);
int odr_wr_be(struct odr_buf *b, uint64_t v, size_t n);             /* n bytes, big-endian */
int odr_wr_compact(struct odr_buf *b, const void *p, size_t len);   /* compact string/bytes */
int odr_wr_compact_null(struct odr_buf *b);                          /* a null one */

/* 1 when the raw client can talk to these brokers (a PLAINTEXT listener:
 * no security.protocol other than plaintext among the settings). */
int odr_raw_usable(const odr_ctx_t *ctx);

/* Connect to the first of ctx->brokers and read its ApiVersions. Returns 0,
 * or an exit code after a message. */
int odr_raw_open(odr_ctx_t *ctx, odr_raw_t *c);
void odr_raw_close(odr_raw_t *c);
/* Send one request (flexible header v2 when flexible, else v1) with body,
 * and read its response into *resp (malloc'd; the header is consumed: r
 * starts at the body). Returns 0 or an exit code after a message. */
int odr_raw_call(odr_raw_t *c, int16_t api, int16_t version, int flexible, const uint8_t *body,
                 size_t len, uint8_t **resp, odr_rd_t *r);

#endif
