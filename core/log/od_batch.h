/* od_batch.h - Kafka RecordBatch (magic 2): parse, validate, assign offsets,
 * iterate, build.
 *
 * Layout (big-endian), byte offsets from the start of the batch:
 *   0 baseOffset i64 | 8 batchLength i32 | 12 partitionLeaderEpoch i32 |
 *   16 magic i8 | 17 crc u32 | 21 attributes i16 | 23 lastOffsetDelta i32 |
 *   27 baseTimestamp i64 | 35 maxTimestamp i64 | 43 producerId i64 |
 *   51 producerEpoch i16 | 53 baseSequence i32 | 57 recordCount i32 |
 *   61 records...
 * batchLength counts the bytes after itself; the CRC-32C covers attributes
 * to the end, so baseOffset, batchLength and partitionLeaderEpoch can be
 * rewritten without a new CRC. */
#ifndef OD_BATCH_H
#define OD_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "od_buf.h"

#define OD_BATCH_HEADER_SIZE  61 /* bytes up to and including record_count */
#define OD_BATCH_LOG_OVERHEAD 12 /* baseOffset + batchLength */
/* The smallest legal batchLength: a header without records. */
#define OD_BATCH_MIN_LENGTH (OD_BATCH_HEADER_SIZE - OD_BATCH_LOG_OVERHEAD)

/* Field offsets, for in-place rewriting. */
#define OD_BATCH_OFF_BASE_OFFSET  0
#define OD_BATCH_OFF_LENGTH       8
#define OD_BATCH_OFF_LEADER_EPOCH 12
#define OD_BATCH_OFF_MAGIC        16
#define OD_BATCH_OFF_CRC          17
#define OD_BATCH_OFF_ATTRIBUTES   21
#define OD_BATCH_OFF_LAST_DELTA   23
#define OD_BATCH_OFF_BASE_TS      27
#define OD_BATCH_OFF_MAX_TS       35
#define OD_BATCH_OFF_PRODUCER_ID  43
#define OD_BATCH_OFF_RECORD_COUNT 57

/* attributes */
#define OD_BATCH_COMPRESSION(attr) ((attr) & 7)
#define OD_BATCH_TS_LOG_APPEND     0x08 /* timestamp type: LogAppendTime */
#define OD_BATCH_TRANSACTIONAL     0x10
#define OD_BATCH_CONTROL           0x20
#define OD_BATCH_DELETE_HORIZON    0x40

#define OD_BATCH_CODEC_NONE   0
#define OD_BATCH_CODEC_GZIP   1
#define OD_BATCH_CODEC_SNAPPY 2
#define OD_BATCH_CODEC_LZ4    3
#define OD_BATCH_CODEC_ZSTD   4

/* Kafka error codes od_batch_validate returns (the wire numbers). */
#define OD_BATCH_ERR_NONE            0
#define OD_BATCH_ERR_CORRUPT_MESSAGE 2
#define OD_BATCH_ERR_INVALID_RECORD  87
#define OD_BATCH_ERR_RECORD_LIST_TOO_LARGE 18 /* the request's decompression budget is spent */

typedef struct od_batch_hdr {
    int64_t base_offset;
    int32_t batch_length;
    int32_t partition_leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp, max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t record_count;
} od_batch_hdr_t;

/* Read the 61-byte header at p. Checks nothing but the length (the magic
 * is not checked: the caller looks at h->magic). 0 ok, -1 too short. */
int od_batch_parse_header(const uint8_t *p, size_t len, od_batch_hdr_t *h);

/* Timestamp arithmetic on client-set values: saturating at INT64_MIN and
 * INT64_MAX instead of overflowing. */
int64_t od_ts_add_sat(int64_t a, int64_t b);
int64_t od_ts_sub_sat(int64_t a, int64_t b);
/* Kafka's window check: ts < now - before or ts > now + after, a limit of
 * INT64_MAX meaning none (the default of message.timestamp.*.max.ms).
 * Exact for every int64 value (no wrap-around). */
int od_ts_outside(int64_t ts, int64_t now, int64_t before, int64_t after);

/* CRC-32C a batch should carry: over bytes [21, size) of the batch. */
uint32_t od_batch_compute_crc(const uint8_t *batch, size_t size);

typedef struct od_batch_summary {
    int32_t batch_count;
    int64_t record_count;
    /* Largest timestamp: from the records for uncompressed batches, from
     * the header's maxTimestamp for compressed ones; -1 if none. */
    int64_t max_timestamp;
    int32_t max_ts_batch_index; /* batch holding max_timestamp, -1 if none */
    int64_t first_producer_id;  /* of the first batch */
    int16_t first_producer_epoch;
    int32_t first_base_sequence;
    int any_transactional;
    int any_control;
    int compression;  /* codec of the first compressed batch, 0 if none */
    size_t total_len; /* bytes covered by the batches (== len when valid) */
    /* Offset of the record with max_timestamp relative to the offset the
     * first batch will get (batches are numbered consecutively by
     * od_batch_assign_offsets). For compressed batches: the batch's last
     * offset. -1 if none. */
    int64_t max_ts_rel_offset;
} od_batch_summary_t;

/* Validate a produce payload (one or more concatenated batches) as a broker
 * must before it appends: every batch complete (batchLength >= 49 and
 * within len), magic 2, CRC-32C right, recordCount > 0 and equal to
 * lastOffsetDelta + 1, a known codec; every record is walked (lengths in
 * bounds, offset deltas 0..n-1 in order, no bytes left over), for
 * compressed batches after decompressing the records section (at most
 * od_batch_decompress_limit() bytes).
 * Returns OD_BATCH_ERR_NONE, OD_BATCH_ERR_CORRUPT_MESSAGE (framing, CRC,
 * truncation, magic 0/1 or unknown magic, compressed data that does not
 * decompress or exceeds the limit), OD_BATCH_ERR_RECORD_LIST_TOO_LARGE (the
 * request's decompression budget is spent) or OD_BATCH_ERR_INVALID_RECORD
 * (records that do not parse inside a CRC-valid batch, wrong counts),
 * with a message in err. sum may be NULL; it is filled as far as the
 * validation got. An empty payload (len 0) is valid with batch_count 0. */
int od_batch_validate(const uint8_t *p, size_t len, od_batch_summary_t *sum, char *err,
                      size_t errsz);

/* Walk the records section of a batch (uncompressed bytes): count records,
 * offset deltas 0..count-1 in order, nothing left over. Finds the largest
 * timestamp (first record wins a tie, as in Kafka) and its offset delta.
 * 0 ok, -1 with err set (err may be NULL). */
int od_batch_walk_records(const uint8_t *recs, size_t len, int32_t count, int64_t base_ts,
                          int64_t *max_ts, int32_t *max_delta, char *err, size_t errsz);

/* ---- compressed batches (od_batch_codec.c) ----------------------------- */

/* Largest decompressed records section validation and recompression
 * accept (default OD_BATCH_DECOMPRESS_LIMIT); larger is CORRUPT_MESSAGE,
 * refused without allocating it. */
#define OD_BATCH_DECOMPRESS_LIMIT ((size_t)64 << 20)
size_t od_batch_decompress_limit(void);
void od_batch_set_decompress_limit(size_t bytes);
/* The decompression budget of one request: od_batch_validate may inflate
 * at most `bytes` in total until od_batch_budget_end; past it a compressed
 * batch is OD_BATCH_ERR_RECORD_LIST_TOO_LARGE. The loop thread only. */
void od_batch_budget_begin(size_t bytes);
void od_batch_budget_end(void);
size_t od_batch_budget_left(void); /* SIZE_MAX when no budget is set */

/* The records section of one whole batch (b, sz bytes), decompressed with
 * the batch's codec (copied when uncompressed). *out is malloc'd, caller
 * frees. 0 ok, -1 with err. */
int od_batch_records_plain(const uint8_t *b, size_t sz, uint8_t **out, size_t *out_len, char *err,
                           size_t errsz);

/* For od_batch_validate: decompress and walk the records of the
 * CRC-checked compressed batch b (sz bytes, header h, index idx).
 * Returns OD_BATCH_ERR_*. */
int od_batch_check_compressed(const uint8_t *b, size_t sz, const od_batch_hdr_t *h, int32_t idx,
                              char *err, size_t errsz);

/* Rewrite validated batches (in, len) so that every one is compressed with
 * target_codec (OD_BATCH_CODEC_NONE: uncompressed): the records section is
 * re-encoded, the codec bits, batchLength and CRC follow; every other field
 * (offsets, timestamps, producer fields, record bytes) stays as it was.
 * Batches already in target_codec are copied. *out is malloc'd, caller
 * frees. 0 ok, -1 with err. */
int od_batch_recompress(const uint8_t *in, size_t len, int target_codec, uint8_t **out,
                        size_t *out_len, char *err, size_t errsz);

/* Assign offsets in place to a validated payload: batch i gets
 * baseOffset = next, next += lastOffsetDelta + 1; partitionLeaderEpoch =
 * leader_epoch. With log_append_time >= 0 every batch gets the LogAppendTime
 * bit and maxTimestamp = log_append_time; otherwise (CreateTime) the bit is
 * cleared and, for uncompressed batches, maxTimestamp is set to the largest
 * record timestamp, as Kafka does. The CRC is recomputed where needed.
 * Returns the offset after the last one assigned. */
int64_t od_batch_assign_offsets(uint8_t *p, size_t len, int64_t first_offset, int32_t leader_epoch,
                                int64_t log_append_time);

/* Iterate whole batches in a buffer (storage recovery, index rebuild, fetch
 * scanning). Neither the magic nor the CRC is checked. */
typedef struct od_batch_iter {
    const uint8_t *p;
    size_t len;
    size_t pos; /* start of the next batch; where a partial tail begins */
} od_batch_iter_t;

void od_batch_iter_init(od_batch_iter_t *it, const uint8_t *p, size_t len);
/* 1: *h is the next complete batch at p + *batch_off, of *batch_size bytes
 * (12 + batchLength). 0: end of buffer, or a partial or impossible
 * (batchLength < 49) batch at it->pos. */
int od_batch_iter_next(od_batch_iter_t *it, od_batch_hdr_t *h, size_t *batch_off,
                       size_t *batch_size);

/* One record of an uncompressed batch; pointers borrow from the input. */
typedef struct od_record {
    int8_t attributes;
    int64_t timestamp_delta;
    int32_t offset_delta;
    const uint8_t *key; /* NULL when key_len == -1 */
    int32_t key_len;
    const uint8_t *value; /* NULL when value_len == -1 (a tombstone) */
    int32_t value_len;
    int32_t header_count;
    const uint8_t *headers; /* the encoded headers, header_count of them */
    size_t headers_len;
} od_record_t;

/* Parse the record at the start of records[0..len). index_expected >= 0
 * also requires offset_delta == index_expected. *consumed gets the
 * record's full size (length varint included). 0 ok, -1 malformed. */
int od_record_iter(const uint8_t *records, size_t len, int32_t index_expected, od_record_t *out,
                   size_t *consumed);

/* One record header, for the builder and od_record_header_next. */
typedef struct od_record_header {
    const char *key; /* never null */
    int32_t key_len;
    const uint8_t *value; /* NULL / -1: null */
    int32_t value_len;
} od_record_header_t;

/* Read the next header from an od_record_t's headers; *pos starts at 0.
 * 0 ok, -1 malformed or none left. */
int od_record_header_next(const od_record_t *r, size_t *pos, od_record_header_t *out);

/* ---- building batches (tests, the KRaft metadata log) ---------------- */

typedef struct od_batch_builder {
    /* Header fields; init sets the defaults, the caller may change them
     * before finish. */
    int64_t base_offset;
    int32_t partition_leader_epoch; /* default -1 */
    int16_t attributes;             /* default 0: uncompressed, CreateTime */
    int64_t producer_id;            /* default -1 */
    int16_t producer_epoch;         /* default -1 */
    int32_t base_sequence;          /* default -1 */
    /* Filled by add(). */
    int64_t base_timestamp; /* timestamp of the first record, -1 if none */
    int64_t max_timestamp;
    int32_t count;
    uint8_t *buf; /* header space + encoded records; owned */
    size_t len, cap;
    int err; /* 1 after an allocation failure or a bad argument */
} od_batch_builder_t;

void od_batch_builder_init(od_batch_builder_t *b, int64_t base_offset);
/* Append a record. key/value NULL or length -1 mean null. hdrs may be NULL
 * when nhdrs is 0. Returns 0, or -1 (and sets b->err). */
int od_batch_builder_add(od_batch_builder_t *b, int64_t timestamp, const void *key, int32_t key_len,
                         const void *value, int32_t value_len);
int od_batch_builder_add_hdrs(od_batch_builder_t *b, int64_t timestamp, const void *key,
                              int32_t key_len, const void *value, int32_t value_len,
                              const od_record_header_t *hdrs, int32_t nhdrs);
/* Write the header and CRC and hand over the batch: a malloc'd buffer the
 * caller frees (NULL on failure). The builder is empty afterwards and may be
 * initialised again; calling od_batch_builder_free is still allowed. */
uint8_t *od_batch_builder_finish(od_batch_builder_t *b, size_t *len_out);
/* Same, appended to w (copied). 0 ok, -1 failure. */
int od_batch_builder_finish_wbuf(od_batch_builder_t *b, od_wbuf_t *w);
void od_batch_builder_free(od_batch_builder_t *b);

#endif
