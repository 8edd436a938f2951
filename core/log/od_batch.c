/* od_batch.c - RecordBatch (magic 2) parsing, validation, offset
 * assignment, iteration and building.
 *
 * Validation follows what a Kafka broker checks before it appends client
 * data: framing and CRC problems are CORRUPT_MESSAGE, a CRC-valid batch
 * whose counts or records do not add up is INVALID_RECORD. Everything read
 * from the payload is bounds-checked against the batch it belongs to. */
#include "od_batch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_crc32c.h"

/* Smallest possible record: length, attributes, timestampDelta,
 * offsetDelta, keyLength, valueLength, headerCount, one byte each. */
#define MIN_RECORD_SIZE 7

/* ---- big-endian helpers ------------------------------------------------ */

static uint64_t rd_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

static void wr_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static void seterr(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errsz, const char *fmt, ...)
{
    va_list ap;
    if (!err || !errsz)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
}

/* ---- header ------------------------------------------------------------ */

int64_t od_ts_add_sat(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

int64_t od_ts_sub_sat(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r))
        return b < 0 ? INT64_MAX : INT64_MIN;
    return r;
}

int od_ts_outside(int64_t ts, int64_t now, int64_t before, int64_t after)
{
    /* A saturated bound is only reached by a limit beyond the int64 range
     * of timestamps, so comparing against it is exact. */
    if (before != INT64_MAX && before >= 0 && ts < od_ts_sub_sat(now, before))
        return 1;
    if (after != INT64_MAX && after >= 0 && ts > od_ts_add_sat(now, after))
        return 1;
    return 0;
}

int od_batch_parse_header(const uint8_t *p, size_t len, od_batch_hdr_t *h)
{
    if (!p || len < OD_BATCH_HEADER_SIZE)
        return -1;
    h->base_offset = (int64_t)rd_be(p + 0, 8);
    h->batch_length = (int32_t)rd_be(p + 8, 4);
    h->partition_leader_epoch = (int32_t)rd_be(p + 12, 4);
    h->magic = (int8_t)p[16];
    h->crc = (uint32_t)rd_be(p + 17, 4);
    h->attributes = (int16_t)rd_be(p + 21, 2);
    h->last_offset_delta = (int32_t)rd_be(p + 23, 4);
    h->base_timestamp = (int64_t)rd_be(p + 27, 8);
    h->max_timestamp = (int64_t)rd_be(p + 35, 8);
    h->producer_id = (int64_t)rd_be(p + 43, 8);
    h->producer_epoch = (int16_t)rd_be(p + 51, 2);
    h->base_sequence = (int32_t)rd_be(p + 53, 4);
    h->record_count = (int32_t)rd_be(p + 57, 4);
    return 0;
}

uint32_t od_batch_compute_crc(const uint8_t *batch, size_t size)
{
    if (size < OD_BATCH_OFF_ATTRIBUTES)
        return 0;
    return od_crc32c(0, batch + OD_BATCH_OFF_ATTRIBUTES, size - OD_BATCH_OFF_ATTRIBUTES);
}

/* ---- records ----------------------------------------------------------- */

int od_record_iter(const uint8_t *records, size_t len, int32_t index_expected, od_record_t *out,
                   size_t *consumed)
{
    od_slice_t s, b;
    int32_t rlen, hc;
    size_t prefix;

    od_slice_init(&s, records, len);
    rlen = od_read_varint(&s);
    if (!od_slice_ok(&s) || rlen < 0 || (size_t)rlen > od_slice_left(&s))
        return -1;
    prefix = (size_t)(s.p - records);

    /* The record body is read from its own slice, so no field can reach
     * into the next record. */
    od_slice_init(&b, s.p, (size_t)rlen);
    out->attributes = od_read_i8(&b);
    out->timestamp_delta = od_read_varlong(&b);
    out->offset_delta = od_read_varint(&b);

    out->key_len = od_read_varint(&b);
    if (out->key_len < -1)
        return -1;
    out->key = out->key_len >= 0 ? od_read_raw(&b, (size_t)out->key_len) : NULL;

    out->value_len = od_read_varint(&b);
    if (out->value_len < -1)
        return -1;
    out->value = out->value_len >= 0 ? od_read_raw(&b, (size_t)out->value_len) : NULL;

    hc = od_read_varint(&b);
    /* A header needs at least two bytes (two length varints). */
    if (!od_slice_ok(&b) || hc < 0 || (size_t)hc > od_slice_left(&b) / 2)
        return -1;
    out->header_count = hc;
    out->headers = b.p;
    for (int32_t i = 0; i < hc && od_slice_ok(&b); i++) {
        int32_t kl = od_read_varint(&b), vl;
        if (kl < 0) /* header keys are never null */
            return -1;
        od_skip(&b, (size_t)kl);
        vl = od_read_varint(&b);
        if (vl < -1)
            return -1;
        if (vl > 0)
            od_skip(&b, (size_t)vl);
    }
    if (!od_slice_ok(&b) || od_slice_left(&b) != 0)
        return -1; /* short, or bytes left over inside the record */
    out->headers_len = (size_t)(b.p - out->headers);
    if (index_expected >= 0 && out->offset_delta != index_expected)
        return -1;
    *consumed = prefix + (size_t)rlen;
    return 0;
}

int od_record_header_next(const od_record_t *r, size_t *pos, od_record_header_t *out)
{
    od_slice_t s;
    if (*pos >= r->headers_len)
        return -1;
    od_slice_init(&s, r->headers + *pos, r->headers_len - *pos);
    out->key_len = od_read_varint(&s);
    if (out->key_len < 0)
        return -1;
    out->key = (const char *)od_read_raw(&s, (size_t)out->key_len);
    out->value_len = od_read_varint(&s);
    if (out->value_len < -1)
        return -1;
    out->value = out->value_len >= 0 ? od_read_raw(&s, (size_t)out->value_len) : NULL;
    if (!od_slice_ok(&s))
        return -1;
    *pos = r->headers_len - od_slice_left(&s);
    return 0;
}

int od_batch_walk_records(const uint8_t *recs, size_t len, int32_t count, int64_t base_ts,
                          int64_t *max_ts, int32_t *max_delta, char *err, size_t errsz)
{
    size_t pos = 0;
    *max_ts = -1;
    *max_delta = -1;
    if ((size_t)count > len / MIN_RECORD_SIZE) {
        seterr(err, errsz, "record count %d cannot fit in %zu bytes of records", count, len);
        return -1;
    }
    for (int32_t i = 0; i < count; i++) {
        od_record_t r;
        size_t used;
        int64_t ts;
        if (od_record_iter(recs + pos, len - pos, i, &r, &used) != 0) {
            seterr(err, errsz, "record %d is malformed or out of order", i);
            return -1;
        }
        if (__builtin_add_overflow(base_ts, r.timestamp_delta, &ts)) {
            seterr(err, errsz, "record %d: timestamp overflows", i);
            return -1;
        }
        if (ts > *max_ts) {
            *max_ts = ts;
            *max_delta = i;
        }
        pos += used;
    }
    if (pos != len) {
        seterr(err, errsz, "%zu bytes left after the last of %d records", len - pos, count);
        return -1;
    }
    return 0;
}

/* ---- validation -------------------------------------------------------- */

static int validate_one(const uint8_t *b, size_t avail, int32_t idx, od_batch_hdr_t *h,
                        size_t *size, int64_t *max_ts, int32_t *max_delta, char *err, size_t errsz)
{
    uint32_t crc;
    int codec;
    size_t sz;

    if (avail < OD_BATCH_LOG_OVERHEAD) {
        seterr(err, errsz, "batch %d: truncated, %zu bytes left", idx, avail);
        return OD_BATCH_ERR_CORRUPT_MESSAGE;
    }
    /* Legacy message sets keep the magic byte at the same offset. */
    if (avail > OD_BATCH_OFF_MAGIC && (b[OD_BATCH_OFF_MAGIC] == 0 || b[OD_BATCH_OFF_MAGIC] == 1)) {
        seterr(err, errsz, "message format v0/v1 is not supported");
        return OD_BATCH_ERR_CORRUPT_MESSAGE;
    }
    h->batch_length = (int32_t)rd_be(b + OD_BATCH_OFF_LENGTH, 4);
    if (h->batch_length < OD_BATCH_MIN_LENGTH) {
        seterr(err, errsz, "batch %d: batch length %d is below the minimum %d", idx,
               h->batch_length, OD_BATCH_MIN_LENGTH);
        return OD_BATCH_ERR_CORRUPT_MESSAGE;
    }
    sz = OD_BATCH_LOG_OVERHEAD + (size_t)h->batch_length;
    if (sz > avail) {
        seterr(err, errsz, "batch %d: truncated, needs %zu bytes but %zu remain", idx, sz, avail);
        return OD_BATCH_ERR_CORRUPT_MESSAGE;
    }
    od_batch_parse_header(b, sz, h);
    if (h->magic != 2) {
        seterr(err, errsz, "batch %d: unknown magic %d", idx, h->magic);
        return OD_BATCH_ERR_CORRUPT_MESSAGE;
    }
    crc = od_batch_compute_crc(b, sz);
    if (crc != h->crc) {
        seterr(err, errsz, "batch %d: CRC mismatch (stored %08x, computed %08x)", idx, h->crc, crc);
        return OD_BATCH_ERR_CORRUPT_MESSAGE;
    }
    *size = sz;
    codec = OD_BATCH_COMPRESSION(h->attributes);
    if (codec > OD_BATCH_CODEC_ZSTD) {
        seterr(err, errsz, "batch %d: unknown compression type %d", idx, codec);
        return OD_BATCH_ERR_CORRUPT_MESSAGE;
    }
    /* Kafka refuses client batches without records, and requires the
     * offset range to match the count. */
    if (h->record_count <= 0) {
        seterr(err, errsz, "batch %d: invalid record count %d", idx, h->record_count);
        return OD_BATCH_ERR_INVALID_RECORD;
    }
    if (h->last_offset_delta != h->record_count - 1) {
        seterr(err, errsz, "batch %d: lastOffsetDelta %d does not match record count %d", idx,
               h->last_offset_delta, h->record_count);
        return OD_BATCH_ERR_INVALID_RECORD;
    }
    if (codec != OD_BATCH_CODEC_NONE) {
        /* Records are walked after decompression (od_batch_codec.c); the
         * summary keeps the header's maxTimestamp, as documented. */
        *max_ts = h->max_timestamp;
        *max_delta = h->last_offset_delta;
        return od_batch_check_compressed(b, sz, h, idx, err, errsz);
    }
    if (od_batch_walk_records(b + OD_BATCH_HEADER_SIZE, sz - OD_BATCH_HEADER_SIZE,
                              h->record_count, h->base_timestamp, max_ts, max_delta, err, errsz) != 0) {
        /* Prefix the batch number to the walker's message. */
        char tmp[200];
        snprintf(tmp, sizeof tmp, "%s", err && errsz ? err : "");
        seterr(err, errsz, "batch %d: %s", idx, tmp);
        return OD_BATCH_ERR_INVALID_RECORD;
    }
    return OD_BATCH_ERR_NONE;
}

int od_batch_validate(const uint8_t *p, size_t len, od_batch_summary_t *sum, char *err,
                      size_t errsz)
{
    od_batch_summary_t local;
    size_t pos = 0;
    int64_t rel = 0; /* offset of the current batch relative to the first */

    if (!sum)
        sum = &local;
    memset(sum, 0, sizeof *sum);
    sum->max_timestamp = -1;
    sum->max_ts_batch_index = -1;
    sum->max_ts_rel_offset = -1;
    sum->first_producer_id = -1;
    sum->first_producer_epoch = -1;
    sum->first_base_sequence = -1;
    seterr(err, errsz, "%s", "");
    if (len > 0 && !p) {
        seterr(err, errsz, "no data");
        return OD_BATCH_ERR_CORRUPT_MESSAGE;
    }

    while (pos < len) {
        od_batch_hdr_t h;
        size_t sz = 0;
        int64_t mts = -1;
        int32_t mdelta = -1;
        int rc =
            validate_one(p + pos, len - pos, sum->batch_count, &h, &sz, &mts, &mdelta, err, errsz);
        if (rc != OD_BATCH_ERR_NONE)
            return rc;
        if (sum->batch_count == 0) {
            sum->first_producer_id = h.producer_id;
            sum->first_producer_epoch = h.producer_epoch;
            sum->first_base_sequence = h.base_sequence;
        }
        if (h.attributes & OD_BATCH_TRANSACTIONAL)
            sum->any_transactional = 1;
        if (h.attributes & OD_BATCH_CONTROL)
            sum->any_control = 1;
        if (!sum->compression)
            sum->compression = OD_BATCH_COMPRESSION(h.attributes);
        if (mts > sum->max_timestamp) {
            sum->max_timestamp = mts;
            sum->max_ts_batch_index = sum->batch_count;
            sum->max_ts_rel_offset = rel + mdelta;
        }
        sum->record_count += h.record_count;
        sum->batch_count++;
        rel += (int64_t)h.last_offset_delta + 1;
        pos += sz;
        sum->total_len = pos;
    }
    return OD_BATCH_ERR_NONE;
}

/* ---- offsets ----------------------------------------------------------- */

int64_t od_batch_assign_offsets(uint8_t *p, size_t len, int64_t first_offset, int32_t leader_epoch,
                                int64_t log_append_time)
{
    od_batch_iter_t it;
    od_batch_hdr_t h;
    size_t off, sz;
    int64_t next = first_offset;

    od_batch_iter_init(&it, p, len);
    while (od_batch_iter_next(&it, &h, &off, &sz)) {
        uint8_t *b = p + off;
        int16_t attrs = h.attributes;
        int64_t max_ts = h.max_timestamp;

        wr_be(b + OD_BATCH_OFF_BASE_OFFSET, (uint64_t)next, 8);
        wr_be(b + OD_BATCH_OFF_LEADER_EPOCH, (uint32_t)leader_epoch, 4);
        if (log_append_time >= 0) {
            attrs = (int16_t)(attrs | OD_BATCH_TS_LOG_APPEND);
            max_ts = log_append_time;
        } else {
            attrs = (int16_t)(attrs & ~OD_BATCH_TS_LOG_APPEND);
            if (OD_BATCH_COMPRESSION(attrs) == OD_BATCH_CODEC_NONE && h.record_count > 0) {
                int64_t m;
                int32_t d;
                if (od_batch_walk_records(b + OD_BATCH_HEADER_SIZE, sz - OD_BATCH_HEADER_SIZE,
                                          h.record_count, h.base_timestamp, &m, &d, NULL, 0) == 0)
                    max_ts = m;
            }
        }
        if (attrs != h.attributes || max_ts != h.max_timestamp) {
            wr_be(b + OD_BATCH_OFF_ATTRIBUTES, (uint16_t)attrs, 2);
            wr_be(b + OD_BATCH_OFF_MAX_TS, (uint64_t)max_ts, 8);
            wr_be(b + OD_BATCH_OFF_CRC, od_batch_compute_crc(b, sz), 4);
        }
        next += (int64_t)h.last_offset_delta + 1;
    }
    return next;
}

/* ---- iteration --------------------------------------------------------- */

void od_batch_iter_init(od_batch_iter_t *it, const uint8_t *p, size_t len)
{
    it->p = p;
    it->len = len;
    it->pos = 0;
}

int od_batch_iter_next(od_batch_iter_t *it, od_batch_hdr_t *h, size_t *batch_off,
                       size_t *batch_size)
{
    size_t left, sz;
    int32_t bl;

    if (!it->p || it->pos >= it->len)
        return 0;
    left = it->len - it->pos;
    if (left < OD_BATCH_HEADER_SIZE)
        return 0;
    bl = (int32_t)rd_be(it->p + it->pos + OD_BATCH_OFF_LENGTH, 4);
    if (bl < OD_BATCH_MIN_LENGTH)
        return 0;
    sz = OD_BATCH_LOG_OVERHEAD + (size_t)bl;
    if (sz > left)
        return 0;
    od_batch_parse_header(it->p + it->pos, sz, h);
    *batch_off = it->pos;
    *batch_size = sz;
    it->pos += sz;
    return 1;
}

/* ---- building ---------------------------------------------------------- */

static size_t uv_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint64_t zz64(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static uint64_t zz32(int32_t v) { return (uint32_t)(((uint32_t)v << 1) ^ (uint32_t)(v >> 31)); }

static uint8_t *put_uv(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static uint8_t *put_bytes(uint8_t *p, const void *d, int32_t n)
{
    p = put_uv(p, zz32(n));
    if (n > 0) {
        memcpy(p, d, (size_t)n);
        p += n;
    }
    return p;
}

void od_batch_builder_init(od_batch_builder_t *b, int64_t base_offset)
{
    memset(b, 0, sizeof *b);
    b->base_offset = base_offset;
    b->partition_leader_epoch = -1;
    b->producer_id = -1;
    b->producer_epoch = -1;
    b->base_sequence = -1;
    b->base_timestamp = -1;
    b->max_timestamp = -1;
}

static int builder_reserve(od_batch_builder_t *b, size_t n)
{
    size_t need, cap;
    uint8_t *nb;
    if (b->len == 0)
        b->len = OD_BATCH_HEADER_SIZE; /* room for the header, written last */
    if (n > SIZE_MAX - b->len)
        return -1;
    need = b->len + n;
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    nb = realloc(b->buf, cap);
    if (!nb)
        return -1;
    b->buf = nb;
    b->cap = cap;
    return 0;
}

/* A header value given as NULL or with a negative length is null. */
static int32_t hdr_value_len(const od_record_header_t *h)
{
    return h->value && h->value_len >= 0 ? h->value_len : -1;
}

int od_batch_builder_add_hdrs(od_batch_builder_t *b, int64_t timestamp, const void *key,
                              int32_t key_len, const void *value, int32_t value_len,
                              const od_record_header_t *hdrs, int32_t nhdrs)
{
    int64_t delta;
    uint64_t body;
    uint8_t *w;

    if (b->err)
        return -1;
    if (!key || key_len < 0)
        key_len = -1;
    if (!value || value_len < 0)
        value_len = -1;
    if (nhdrs < 0 || (nhdrs > 0 && !hdrs) || b->count == INT32_MAX)
        goto bad;
    if (b->count == 0)
        b->base_timestamp = timestamp;
    if (__builtin_sub_overflow(timestamp, b->base_timestamp, &delta))
        goto bad;

    body = 1 + uv_size(zz64(delta)) + uv_size(zz32(b->count)) + uv_size(zz32(key_len)) +
           (uint64_t)(key_len > 0 ? key_len : 0) + uv_size(zz32(value_len)) +
           (uint64_t)(value_len > 0 ? value_len : 0) + uv_size(zz32(nhdrs));
    for (int32_t i = 0; i < nhdrs; i++) {
        int32_t kl = hdrs[i].key ? hdrs[i].key_len : -1;
        int32_t vl = hdr_value_len(&hdrs[i]);
        if (kl < 0)
            goto bad;
        body += uv_size(zz32(kl)) + (uint64_t)kl + uv_size(zz32(vl)) + (uint64_t)(vl > 0 ? vl : 0);
        if (body > INT32_MAX)
            goto bad;
    }
    if (body > INT32_MAX || builder_reserve(b, uv_size(zz32((int32_t)body)) + body) != 0)
        goto bad;

    w = b->buf + b->len;
    w = put_uv(w, zz32((int32_t)body));
    *w++ = 0; /* record attributes: unused */
    w = put_uv(w, zz64(delta));
    w = put_uv(w, zz32(b->count));
    w = put_bytes(w, key, key_len);
    w = put_bytes(w, value, value_len);
    w = put_uv(w, zz32(nhdrs));
    for (int32_t i = 0; i < nhdrs; i++) {
        w = put_bytes(w, hdrs[i].key, hdrs[i].key_len);
        w = put_bytes(w, hdrs[i].value, hdr_value_len(&hdrs[i]));
    }
    b->len = (size_t)(w - b->buf);
    if (timestamp > b->max_timestamp)
        b->max_timestamp = timestamp;
    b->count++;
    return 0;
bad:
    b->err = 1;
    return -1;
}

int od_batch_builder_add(od_batch_builder_t *b, int64_t timestamp, const void *key, int32_t key_len,
                         const void *value, int32_t value_len)
{
    return od_batch_builder_add_hdrs(b, timestamp, key, key_len, value, value_len, NULL, 0);
}

uint8_t *od_batch_builder_finish(od_batch_builder_t *b, size_t *len_out)
{
    uint8_t *p;
    size_t len;

    if (b->err || builder_reserve(b, 0) != 0 || b->len - OD_BATCH_LOG_OVERHEAD > INT32_MAX) {
        od_batch_builder_free(b);
        return NULL;
    }
    p = b->buf;
    len = b->len;
    wr_be(p + 0, (uint64_t)b->base_offset, 8);
    wr_be(p + 8, (uint64_t)(len - OD_BATCH_LOG_OVERHEAD), 4);
    wr_be(p + 12, (uint32_t)b->partition_leader_epoch, 4);
    p[16] = 2;
    wr_be(p + 21, (uint16_t)b->attributes, 2);
    wr_be(p + 23, (uint32_t)(b->count - 1), 4);
    wr_be(p + 27, (uint64_t)b->base_timestamp, 8);
    wr_be(p + 35, (uint64_t)b->max_timestamp, 8);
    wr_be(p + 43, (uint64_t)b->producer_id, 8);
    wr_be(p + 51, (uint16_t)b->producer_epoch, 2);
    wr_be(p + 53, (uint32_t)b->base_sequence, 4);
    wr_be(p + 57, (uint32_t)b->count, 4);
    wr_be(p + 17, od_batch_compute_crc(p, len), 4);

    b->buf = NULL; /* ownership goes to the caller */
    b->len = b->cap = 0;
    b->count = 0;
    if (len_out)
        *len_out = len;
    return p;
}

int od_batch_builder_finish_wbuf(od_batch_builder_t *b, od_wbuf_t *w)
{
    size_t len;
    uint8_t *p = od_batch_builder_finish(b, &len);
    if (!p)
        return -1;
    od_write_raw(w, p, len);
    free(p);
    return w->err ? -1 : 0;
}

void od_batch_builder_free(od_batch_builder_t *b)
{
    free(b->buf);
    b->buf = NULL;
    b->len = b->cap = 0;
    b->count = 0;
}
