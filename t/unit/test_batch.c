/* test_batch.c - RecordBatch validation, offsets, iteration and builder. */
#include "od_batch.h"
#include "od_compact_check.h"
#include "od_crc32c.h"
#include "tap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

static void fix_crc(uint8_t *b, size_t n)
{
    put32(b + OD_BATCH_OFF_CRC, od_batch_compute_crc(b, n));
}

/* A batch of three records with timestamps 1000, 1005 (max), 1002. */
static uint8_t *make_batch(int64_t base, size_t *len)
{
    od_batch_builder_t bb;
    od_record_header_t hd[2] = {{"h1", 2, (const uint8_t *)"v1", 2}, {"h2", 2, NULL, -1}};
    od_batch_builder_init(&bb, base);
    od_batch_builder_add(&bb, 1000, "k1", 2, "value-1", 7);
    od_batch_builder_add_hdrs(&bb, 1005, NULL, -1, "", 0, hd, 2);
    od_batch_builder_add(&bb, 1002, "k3", 2, NULL, -1);
    return od_batch_builder_finish(&bb, len);
}

/* A CRC-valid batch around a hand-made records section. */
static uint8_t *raw_batch(const uint8_t *recs, size_t rlen, int32_t count, int16_t attrs,
                          size_t *len)
{
    size_t n = OD_BATCH_HEADER_SIZE + rlen;
    uint8_t *b = calloc(1, n);
    put32(b + 8, (uint32_t)(n - 12));
    put32(b + 12, 0xFFFFFFFFu);
    b[16] = 2;
    b[21] = (uint8_t)(attrs >> 8);
    b[22] = (uint8_t)attrs;
    put32(b + 23, (uint32_t)(count - 1));
    put64(b + 43, (uint64_t)-1);
    put32(b + 57, (uint32_t)count);
    memcpy(b + OD_BATCH_HEADER_SIZE, recs, rlen);
    fix_crc(b, n);
    *len = n;
    return b;
}

static int validate(const uint8_t *p, size_t n, char *err)
{
    od_batch_summary_t s;
    return od_batch_validate(p, n, &s, err, 200);
}

static void test_good(void)
{
    size_t n, used, pos = 0, hpos = 0;
    uint8_t *b = make_batch(0, &n);
    od_batch_summary_t s;
    od_batch_hdr_t h;
    od_record_t r;
    od_record_header_t rh;
    char err[200];
    int rc;

    rc = od_batch_validate(b, n, &s, err, sizeof err);
    tap_is_int(rc, 0, "built batch validates");
    tap_is_int(s.batch_count, 1, "summary: one batch");
    tap_is_int(s.record_count, 3, "summary: three records");
    tap_is_int(s.max_timestamp, 1005, "summary: max timestamp from records");
    tap_is_int(s.max_ts_rel_offset, 1, "summary: offset of max timestamp");
    tap_is_int(s.first_producer_id, -1, "summary: producer id");
    tap_is_int((int64_t)s.total_len, (int64_t)n, "summary: total length");
    tap_is_int(od_batch_parse_header(b, n, &h), 0, "parse header");
    tap_ok(h.magic == 2 && h.record_count == 3 && h.last_offset_delta == 2 &&
               h.base_timestamp == 1000 && h.max_timestamp == 1005 &&
               h.batch_length == (int32_t)n - 12 && h.partition_leader_epoch == -1,
           "header fields");
    tap_is_int(od_batch_parse_header(b, 60, &h), -1, "header needs 61 bytes");

    pos = OD_BATCH_HEADER_SIZE;
    rc = od_record_iter(b + pos, n - pos, 0, &r, &used);
    tap_ok(rc == 0 && r.key_len == 2 && !memcmp(r.key, "k1", 2) && r.value_len == 7 &&
               !memcmp(r.value, "value-1", 7) && r.timestamp_delta == 0 && r.header_count == 0,
           "record 0");
    pos += used;
    rc = od_record_iter(b + pos, n - pos, 1, &r, &used);
    tap_ok(rc == 0 && r.key_len == -1 && !r.key && r.value_len == 0 && r.timestamp_delta == 5 &&
               r.header_count == 2,
           "record 1: null key, empty value, two headers");
    tap_ok(od_record_header_next(&r, &hpos, &rh) == 0 && rh.key_len == 2 &&
               !memcmp(rh.key, "h1", 2) && rh.value_len == 2 && !memcmp(rh.value, "v1", 2),
           "header 1");
    tap_ok(od_record_header_next(&r, &hpos, &rh) == 0 && rh.key_len == 2 && rh.value_len == -1 &&
               !rh.value,
           "header 2 with null value");
    tap_is_int(od_record_header_next(&r, &hpos, &rh), -1, "no third header");
    tap_is_int(od_record_iter(b + pos, n - pos, 0, &r, &used), -1,
               "record iter checks the expected offset delta");
    pos += used;
    rc = od_record_iter(b + pos, n - pos, 2, &r, &used);
    tap_ok(rc == 0 && r.value_len == -1 && !r.value && pos + used == n,
           "record 2: tombstone, ends batch");
    free(b);
}

static void test_corrupt_every_byte(void)
{
    size_t n;
    uint8_t *b = make_batch(5, &n);
    int wrong = 0, crash_free = 1;
    char err[200];

    for (size_t i = 0; i < n; i++) {
        static const uint8_t masks[] = {0x01, 0x80, 0xFF};
        for (size_t m = 0; m < sizeof masks; m++) {
            int rc, outside;
            b[i] ^= masks[m];
            rc = validate(b, n, err);
            outside = i < 8 || (i >= 12 && i < 16);
            if (outside ? rc != 0 : rc == 0) {
                wrong++;
                tap_diag("byte %zu mask %02x: rc %d (%s)", i, masks[m], rc, err);
            }
            /* Same change with a fixed CRC: may be OK or INVALID_RECORD
             * but must never read out of bounds (the sanitizer watches). */
            if (i >= 21) {
                fix_crc(b, n);
                rc = validate(b, n, err);
                if (rc != 0 && rc != 87 && rc != 2)
                    crash_free = 0;
            }
            b[i] ^= masks[m];
            fix_crc(b, n);
        }
    }
    tap_is_int(wrong, 0, "every flipped byte is caught, except baseOffset and leader epoch");
    tap_ok(crash_free, "flips with a recomputed CRC give OK, CORRUPT or INVALID_RECORD");
    tap_is_int(validate(b, n, err), 0, "batch intact after the loop");
    free(b);
}

static void test_truncation(void)
{
    size_t n, n2;
    uint8_t *b = make_batch(0, &n), *two;
    int wrong = 0;
    char err[200];

    for (size_t i = 1; i < n; i++)
        if (validate(b, i, err) != 2)
            wrong++;
    tap_is_int(wrong, 0, "every truncation is CORRUPT_MESSAGE");
    tap_is_int(validate(b, 0, err), 0, "empty payload is valid (no batches)");

    two = malloc(2 * n);
    memcpy(two, b, n);
    memcpy(two + n, b, n);
    n2 = 2 * n;
    tap_is_int(validate(two, n2, err), 0, "two concatenated batches");
    wrong = 0;
    for (size_t i = n + 1; i < n2; i++)
        if (validate(two, i, err) != 2)
            wrong++;
    tap_is_int(wrong, 0, "truncated second batch is CORRUPT_MESSAGE");
    free(two);
    free(b);
}

static void test_magic_and_counts(void)
{
    size_t n;
    uint8_t *b = make_batch(0, &n);
    char err[200];

    b[16] = 0;
    tap_ok(validate(b, n, err) == 2 && strstr(err, "v0/v1"), "magic 0 rejected: %s", err);
    b[16] = 1;
    tap_ok(validate(b, n, err) == 2 && strstr(err, "v0/v1"), "magic 1 rejected");
    b[16] = 3;
    tap_ok(validate(b, n, err) == 2 && strstr(err, "magic"), "magic 3 rejected: %s", err);
    b[16] = 2;

    put32(b + 8, 48);
    tap_is_int(validate(b, n, err), 2, "batch length 48 is below the minimum");
    put32(b + 8, 0x7FFFFFFF);
    tap_is_int(validate(b, n, err), 2, "huge batch length is truncation");
    put32(b + 8, (uint32_t)(n - 12));

    put32(b + 57, 0x7FFFFFFF);
    put32(b + 23, 0x7FFFFFFE);
    fix_crc(b, n);
    tap_ok(validate(b, n, err) == 87, "absurd record count is INVALID_RECORD: %s", err);
    put32(b + 57, 0xFFFFFFFF);
    put32(b + 23, 0xFFFFFFFE);
    fix_crc(b, n);
    tap_is_int(validate(b, n, err), 87, "negative record count");
    put32(b + 57, 0);
    put32(b + 23, 0xFFFFFFFF);
    fix_crc(b, n);
    tap_is_int(validate(b, n, err), 87, "zero record count");
    put32(b + 57, 3);
    put32(b + 23, 5);
    fix_crc(b, n);
    tap_is_int(validate(b, n, err), 87, "lastOffsetDelta inconsistent with count");
    put32(b + 57, 2);
    put32(b + 23, 1);
    fix_crc(b, n);
    tap_ok(validate(b, n, err) == 87, "fewer records declared than present: %s", err);
    put32(b + 57, 3);
    put32(b + 23, 2);
    b[21] = 0;
    b[22] = 5;
    fix_crc(b, n);
    tap_is_int(validate(b, n, err), 2, "unknown compression codec 5");
    b[22] = 0;
    fix_crc(b, n);
    tap_is_int(validate(b, n, err), 0, "restored batch validates");
    free(b);
}

static void test_raw_records(void)
{
    /* length 6: attrs 0, tsDelta 0, offsetDelta 0, key -1 (1), value -1, 0 headers */
    static const uint8_t one[] = {12, 0, 0, 0, 1, 1, 0};
    static const uint8_t ooo[] = {12, 0, 0, 2, 1, 1, 0}; /* offsetDelta 1 */
    static const uint8_t overflow_len[] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0, 0, 0, 1, 1, 0};
    static const uint8_t overflow_key[] = {20, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 1, 0};
    static const uint8_t key_past[] = {12, 0, 0, 0, 40, 1, 0};       /* key length 20 */
    static const uint8_t extra[] = {14, 0, 0, 0, 1, 1, 0, 9};        /* 1 byte left inside */
    static const uint8_t trailing[] = {12, 0, 0, 0, 1, 1, 0, 9};     /* 1 byte after record */
    static const uint8_t null_hkey[] = {16, 0, 0, 0, 1, 1, 2, 1, 1}; /* header key -1 */
    static const uint8_t neg_len[] = {3, 0, 0, 0, 1, 1, 0};          /* length -2 */
    static const uint8_t hcount[] = {20, 0, 0, 0, 1, 1, 0xFE, 0xFF, 0xFF, 0xFF, 0x0F};
    static const uint8_t ts_big[] = {30,   0,    0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                     0xFF, 0xFF, 0xFF, 0x01, 0,    1,    1,    0};
    struct {
        const uint8_t *r;
        size_t n;
        int32_t count;
        int want;
        const char *name;
    } cases[] = {
        {one, sizeof one, 1, 0, "minimal record"},
        {ooo, sizeof ooo, 1, 87, "offset delta out of order"},
        {overflow_len, sizeof overflow_len, 1, 87, "record length varint overflows"},
        {overflow_key, sizeof overflow_key, 1, 87, "key length varint overflows"},
        {key_past, sizeof key_past, 1, 87, "key longer than the record"},
        {extra, sizeof extra, 1, 87, "bytes left inside the record"},
        {trailing, sizeof trailing, 1, 87, "bytes after the last record"},
        {null_hkey, sizeof null_hkey, 1, 87, "null header key"},
        {neg_len, sizeof neg_len, 1, 87, "negative record length"},
        {hcount, sizeof hcount, 1, 87, "absurd header count"},
        {ts_big, sizeof ts_big, 1, 0, "large timestamp delta parses"},
        {one, sizeof one, 2, 87, "second record missing"},
    };
    char err[200];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n;
        uint8_t *b = raw_batch(cases[i].r, cases[i].n, cases[i].count, 0, &n);
        int rc = validate(b, n, err);
        tap_ok(rc == cases[i].want, "%s (rc %d: %s)", cases[i].name, rc, err);
        free(b);
    }
    {
        /* Timestamp overflow: base timestamp near INT64_MAX plus a delta. */
        size_t n;
        uint8_t *b = raw_batch(ts_big, sizeof ts_big, 1, 0, &n);
        put64(b + 27, (uint64_t)INT64_MAX - 5);
        fix_crc(b, n);
        tap_is_int(validate(b, n, err), 87, "timestamp overflow is INVALID_RECORD");
        free(b);
    }
    {
        /* A compressed batch: the records are decompressed and walked
         * (t/unit/test_codec.c tests that in depth); junk is corrupt. */
        static const uint8_t junk[] = {0xde, 0xad, 0xbe, 0xef};
        od_batch_summary_t s;
        od_batch_builder_t bb;
        size_t n, pn;
        uint8_t *b = raw_batch(junk, sizeof junk, 7, 3, &n), *plain;
        fix_crc(b, n);
        tap_is_int(od_batch_validate(b, n, &s, err, sizeof err), 2,
                   "lz4 batch with junk records is CORRUPT_MESSAGE");
        free(b);
        od_batch_builder_init(&bb, 0);
        for (int i = 0; i < 7; i++)
            od_batch_builder_add(&bb, 100 + i, "k", 1, "v", 1);
        plain = od_batch_builder_finish(&bb, &pn);
        b = NULL;
        if (od_batch_recompress(plain, pn, OD_BATCH_CODEC_LZ4, &b, &n, err, sizeof err) == 0) {
            put64(b + 35, 777);
            fix_crc(b, n);
        }
        tap_ok(b && od_batch_validate(b, n, &s, err, sizeof err) == 0 && s.compression == 3 &&
                   s.record_count == 7 && s.max_timestamp == 777 && s.max_ts_rel_offset == 6,
               "lz4 batch passes; summary from its header");
        free(plain);
        free(b);
    }
}

static void test_assign(void)
{
    size_t n1, n2, n;
    uint8_t *a = make_batch(0, &n1), *c, *p;
    od_batch_builder_t bb;
    od_batch_summary_t s;
    od_batch_hdr_t h;
    char err[200];
    int64_t next;

    od_batch_builder_init(&bb, 0);
    od_batch_builder_add(&bb, 2000, "x", 1, "y", 1);
    od_batch_builder_add(&bb, 1999, "x", 1, "y", 1);
    c = od_batch_builder_finish(&bb, &n2);
    n = n1 + n2;
    p = malloc(n);
    memcpy(p, a, n1);
    memcpy(p + n1, c, n2);
    tap_ok(od_batch_validate(p, n, &s, err, sizeof err) == 0 && s.batch_count == 2 &&
               s.record_count == 5 && s.max_timestamp == 2000 && s.max_ts_batch_index == 1 &&
               s.max_ts_rel_offset == 3,
           "two batches: summary");

    next = od_batch_assign_offsets(p, n, 100, 7, -1);
    tap_is_int(next, 105, "assign returns next offset");
    od_batch_parse_header(p, n, &h);
    tap_ok(h.base_offset == 100 && h.partition_leader_epoch == 7 &&
               h.crc == od_batch_compute_crc(p, n1),
           "first batch offset 100, epoch 7, CRC untouched");
    od_batch_parse_header(p + n1, n2, &h);
    tap_ok(h.base_offset == 103 && h.partition_leader_epoch == 7, "second batch offset 103");
    tap_is_int(od_batch_validate(p, n, NULL, err, sizeof err), 0, "still valid after assign");

    next = od_batch_assign_offsets(p, n, 0, 8, 424242);
    tap_is_int(next, 5, "re-assign from 0");
    od_batch_parse_header(p + n1, n2, &h);
    tap_ok((h.attributes & OD_BATCH_TS_LOG_APPEND) && h.max_timestamp == 424242 &&
               h.base_timestamp == 2000,
           "LogAppendTime sets the bit and maxTimestamp");
    tap_is_int(od_batch_validate(p, n, NULL, err, sizeof err), 0, "CRC valid after LogAppendTime");

    /* Back to CreateTime: the bit goes and maxTimestamp comes from records,
     * even where the client sent a wrong one. */
    od_batch_assign_offsets(p, n, 0, 8, -1);
    od_batch_parse_header(p + n1, n2, &h);
    tap_ok(!(h.attributes & OD_BATCH_TS_LOG_APPEND) && h.max_timestamp == 2000,
           "CreateTime clears the bit and restores maxTimestamp");
    tap_is_int(od_batch_validate(p, n, NULL, err, sizeof err), 0, "CRC valid after CreateTime");
    free(a);
    free(c);
    free(p);
}

static void test_iter_and_wbuf(void)
{
    size_t n, off, sz, flen;
    uint8_t *b = make_batch(0, &n), *buf, *flat;
    od_batch_iter_t it;
    od_batch_hdr_t h;
    od_batch_builder_t bb;
    od_wbuf_t w;
    int got = 0;

    buf = malloc(2 * n + 30);
    memcpy(buf, b, n);
    memcpy(buf + n, b, n);
    memcpy(buf + 2 * n, b, 30); /* partial tail */
    od_batch_iter_init(&it, buf, 2 * n + 30);
    while (od_batch_iter_next(&it, &h, &off, &sz)) {
        if (off == (size_t)got * n && sz == n)
            got++;
    }
    tap_is_int(got, 2, "iterator yields two whole batches");
    tap_is_int((int64_t)it.pos, (int64_t)(2 * n), "iterator stops at the partial tail");
    od_batch_iter_init(&it, buf, 2 * n + 30);
    put32(buf + 8, 10);
    tap_is_int(od_batch_iter_next(&it, &h, &off, &sz), 0, "iterator stops at a bad length");
    free(buf);

    od_batch_builder_init(&bb, 0);
    od_batch_builder_add(&bb, 1000, "k1", 2, "value-1", 7);
    {
        od_record_header_t hd[2] = {{"h1", 2, (const uint8_t *)"v1", 2}, {"h2", 2, NULL, -1}};
        od_batch_builder_add_hdrs(&bb, 1005, NULL, -1, "", 0, hd, 2);
    }
    od_batch_builder_add(&bb, 1002, "k3", 2, NULL, -1);
    od_wbuf_init(&w);
    od_write_i32(&w, 42);
    tap_is_int(od_batch_builder_finish_wbuf(&bb, &w), 0, "finish into a wbuf");
    flat = od_wbuf_flatten(&w, &flen);
    tap_ok(flat && flen == n + 4 && !memcmp(flat + 4, b, n), "wbuf holds the same batch");
    free(flat);
    od_wbuf_free(&w);
    od_batch_builder_free(&bb);

    od_batch_builder_init(&bb, 0);
    tap_is_int(od_batch_builder_add(&bb, 0, "k", -5, "v", 1), 0, "negative key length is null key");
    {
        od_record_header_t bad = {NULL, -1, NULL, -1};
        tap_is_int(od_batch_builder_add_hdrs(&bb, 0, NULL, -1, NULL, -1, &bad, 1), -1,
                   "null header key refused");
    }
    tap_ok(od_batch_builder_finish(&bb, &flen) == NULL, "finish after an error gives NULL");
    od_batch_builder_free(&bb);
    free(b);
}

/* Saturating timestamp arithmetic: client timestamps and limits at the
 * int64 extremes (UBSan aborts on a signed overflow). */
static void test_ts_extremes(void)
{
    tap_ok(od_ts_add_sat(INT64_MAX, 1) == INT64_MAX && od_ts_add_sat(INT64_MIN, -1) == INT64_MIN,
           "add saturates at both ends");
    tap_ok(od_ts_sub_sat(INT64_MIN, 1) == INT64_MIN && od_ts_sub_sat(0, INT64_MIN) == INT64_MAX &&
               od_ts_sub_sat(5, 3) == 2,
           "sub saturates, exact in range");
    int64_t now = 1700000000000LL, big = INT64_MAX - 1;
    tap_ok(!od_ts_outside(INT64_MAX, now, big, big) && od_ts_outside(INT64_MIN, now, big, big) &&
               !od_ts_outside(INT64_MIN + now + 2, now, big, big),
           "limits near 2^63: exact bounds, now + limit saturates, no overflow");
    tap_ok(od_ts_outside(INT64_MIN, now, 1000, big) && od_ts_outside(INT64_MAX, now, big, 1000),
           "INT64_MIN too old, INT64_MAX too new for small limits");
    tap_ok(!od_ts_outside(INT64_MIN, now, INT64_MAX, INT64_MAX) &&
               !od_ts_outside(INT64_MAX, now, INT64_MAX, INT64_MAX),
           "INT64_MAX limits mean none");
    tap_ok(od_ts_outside(now - 1001, now, 1000, 0) && !od_ts_outside(now - 1000, now, 1000, 0) &&
               od_ts_outside(now + 1, now, 1000, 0) && !od_ts_outside(now, now, 1000, 0),
           "window bounds inclusive, as Kafka's diff > limit");
}

/* A batch with the given timestamps (keys NULL where keyed[i] is 0). */
static uint8_t *ts_batch(const int64_t *ts, const int *keyed, int n, size_t *len)
{
    od_batch_builder_t bb;
    od_batch_builder_init(&bb, 0);
    for (int i = 0; i < n; i++)
        od_batch_builder_add(&bb, ts[i], keyed[i] ? "k" : NULL, keyed[i] ? 1 : -1, "v", 1);
    return od_batch_builder_finish(&bb, len);
}

static void test_record_check(void)
{
    char err[200];
    size_t n;
    od_rec_result_t res;
    int64_t now = 1700000000000LL;
    int64_t ts[4] = {now, now - 5000, now - 5000, now + 5000};
    int keyed[4] = {1, 0, 1, 0};
    uint8_t *b = ts_batch(ts, keyed, 4, &n);
    od_rec_rules_t keys = {1, 1, now, INT64_MAX, INT64_MAX};
    tap_is_int(od_record_check(b, n, &keys, &res, err, sizeof err), 87, "keyless on compacted: INVALID_RECORD");
    tap_ok(res.nerrors == 2 && res.nlisted == 2 && res.errors[0].batch_index == 1 &&
               res.errors[1].batch_index == 3,
           "records 1 and 3 listed");
    char m[600];
    od_rec_result_message(&res, "t", 0, m, sizeof m);
    tap_ok(strstr(m, "due to 2 record errors in total") && strstr(m, "RecordError(batchIndex=3, message="
                                                                   "'Compacted topic cannot accept message "
                                                                   "without key in topic partition t-0')"),
           "partition message lists them as Kafka does");
    od_rec_result_free(&res);
    od_rec_rules_t both = {1, 1, now, 1000, INT64_MAX};
    tap_is_int(od_record_check(b, n, &both, &res, err, sizeof err), 32,
               "a timestamp error makes it INVALID_TIMESTAMP");
    tap_ok(res.nerrors == 3 && res.errors[0].code == 87 && res.errors[1].code == 32 &&
               res.errors[1].batch_index == 2 && res.errors[2].code == 87,
           "key errors win per record (record 1 has both), record 2 too old");
    od_rec_result_free(&res);
    keyed[1] = keyed[3] = 1;
    free(b);
    b = ts_batch(ts, keyed, 4, &n);
    tap_is_int(od_record_check(b, n, &both, &res, err, sizeof err), 32, "old record: INVALID_TIMESTAMP");
    tap_ok(res.nerrors == 2 && res.errors[0].batch_index == 1 && res.errors[0].timestamp == now - 5000,
           "records 1 and 2 are too old, 3 (5 s ahead) is not checked (after = none)");
    od_rec_error_message(&res, &res.errors[0], "t", 0, m, sizeof m);
    tap_ok(strstr(m, "is out of range. The timestamp should be within [1699999999000, 9223372036854775807]") != NULL,
           "record message with the saturated window: %s", m);
    od_rec_result_free(&res);
    od_rec_rules_t lat = {0, 0, now, 1000, 1000};
    tap_is_int(od_record_check(b, n, &lat, &res, err, sizeof err), 0, "LogAppendTime topics skip the window");
    od_rec_result_free(&res);
    free(b);
    /* Extreme client timestamps and limits near 2^63 (UBSan would abort). */
    od_batch_builder_t bb;
    od_batch_builder_init(&bb, 0);
    od_batch_builder_add(&bb, 0, "k", 1, "v", 1);
    od_batch_builder_add(&bb, INT64_MAX, "k", 1, "v", 1);
    b = od_batch_builder_finish(&bb, &n);
    od_rec_rules_t huge = {0, 1, now, INT64_MAX - 1, INT64_MAX - 1};
    tap_is_int(od_record_check(b, n, &huge, &res, err, sizeof err), 0, "INT64_MAX timestamp with limits 2^63-2: accepted");
    od_rec_result_free(&res);
    od_rec_rules_t small = {0, 1, now, 10, 10};
    tap_is_int(od_record_check(b, n, &small, &res, err, sizeof err), 32, "0 and INT64_MAX outside a 10 ms window");
    tap_ok(res.nerrors == 2, "both listed");
    od_rec_result_free(&res);
    free(b);
}

int main(void)
{
    tap_no_plan();
    test_good();
    test_corrupt_every_byte();
    test_truncation();
    test_magic_and_counts();
    test_raw_records();
    test_assign();
    test_iter_and_wbuf();
    test_ts_extremes();
    test_record_check();
    return tap_done();
}
