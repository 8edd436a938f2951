/* od_compact_check.c - the per-record checks of a produce, as Kafka's
 * LogValidator makes them.
 *
 * A record fails for a null key on a topic whose cleanup.policy contains
 * "compact" (the cleaner could never replace or delete it:
 * INVALID_RECORD), otherwise for its timestamp (INVALID_TIMESTAMP). Every
 * record of the batch is checked and each refused one is listed by its
 * index, so that Produce v8+ can answer record_errors (KIP-467) and clients
 * tell the bad records from the good ones; the batch is rejected as a
 * whole all the same. */
#include "od_compact_check.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_batch.h"
#include "od_proto_gen.h"

void od_rec_result_free(od_rec_result_t *res)
{
    free(res->errors);
    res->errors = NULL;
    res->nlisted = res->nerrors = 0;
}

static int add_error(od_rec_result_t *res, const od_rec_error_t *e)
{
    if (res->nlisted < OD_REC_ERRORS_MAX) {
        if (!res->errors) {
            res->errors = malloc(OD_REC_ERRORS_MAX * sizeof(*res->errors));
            if (!res->errors)
                return -1;
        }
        res->errors[res->nlisted++] = *e;
    }
    res->nerrors++;
    return 0;
}

/* Kafka's validateKey, then validateTimestamp, for one record. */
static int check_one(const od_rec_rules_t *ru, const od_batch_hdr_t *h, const od_record_t *rec,
                     int32_t idx, od_rec_error_t *e)
{
    memset(e, 0, sizeof(*e));
    e->batch_index = idx;
    e->offset = od_ts_add_sat(h->base_offset, rec->offset_delta);
    if (ru->compacted && !rec->key) {
        e->code = OD_ERR_INVALID_RECORD;
        return 1;
    }
    int64_t ts = od_ts_add_sat(h->base_timestamp, rec->timestamp_delta);
    if (ru->create_time && ts != -1) {
        if (od_ts_outside(ts, ru->now, ru->before, ru->after)) {
            e->code = OD_ERR_INVALID_TIMESTAMP;
            e->timestamp = ts;
            return 1;
        }
    } else if (h->attributes & OD_BATCH_TS_LOG_APPEND) {
        /* Only the broker sets LogAppendTime. */
        e->code = OD_ERR_INVALID_TIMESTAMP;
        e->log_append = 1;
        return 1;
    }
    return 0;
}

int16_t od_record_check(const uint8_t *batches, size_t len, const od_rec_rules_t *rules,
                        od_rec_result_t *res, char *err, size_t errsz)
{
    od_batch_iter_t it;
    od_batch_hdr_t h;
    size_t off, size;

    memset(res, 0, sizeof(*res));
    res->lo = od_ts_sub_sat(rules->now, rules->before);
    res->hi = od_ts_add_sat(rules->now, rules->after);
    int ts_limited = rules->create_time && (rules->before != INT64_MAX || rules->after != INT64_MAX);
    od_batch_iter_init(&it, batches, len);
    while (od_batch_iter_next(&it, &h, &off, &size) == 1) {
        uint8_t *plain = NULL;
        const uint8_t *recs;
        size_t rlen = 0, pos = 0;
        int any_ts = 0;
        if (h.attributes & 0x20)
            continue; /* control batches carry no user records */
        if (!rules->compacted && !ts_limited && !(h.attributes & OD_BATCH_TS_LOG_APPEND))
            continue; /* no record of this batch can fail: do not decompress it */
        if (OD_BATCH_COMPRESSION(h.attributes) == OD_BATCH_CODEC_NONE) {
            recs = batches + off + OD_BATCH_HEADER_SIZE; /* read in place */
            rlen = size - OD_BATCH_HEADER_SIZE;
        } else if (od_batch_records_plain(batches + off, size, &plain, &rlen, err, errsz) < 0) {
            return res->code = OD_ERR_CORRUPT_MESSAGE;
        } else {
            recs = plain;
        }
        for (int32_t i = 0; i < h.record_count && pos < rlen; i++) {
            od_record_t rec;
            od_rec_error_t e;
            size_t used;
            if (od_record_iter(recs + pos, rlen - pos, -1, &rec, &used) < 0) {
                snprintf(err, errsz, "malformed record %d in the batch at byte %zu", i, off);
                free(plain);
                od_rec_result_free(res);
                return res->code = OD_ERR_CORRUPT_MESSAGE;
            }
            if (check_one(rules, &h, &rec, i, &e)) {
                if (add_error(res, &e) < 0) {
                    snprintf(err, errsz, "out of memory");
                    free(plain);
                    od_rec_result_free(res);
                    return res->code = OD_ERR_UNKNOWN_SERVER_ERROR;
                }
                any_ts |= e.code == OD_ERR_INVALID_TIMESTAMP;
            }
            pos += used;
        }
        free(plain);
        if (res->nerrors > 0) {
            res->code = any_ts ? OD_ERR_INVALID_TIMESTAMP : OD_ERR_INVALID_RECORD;
            return res->code;
        }
    }
    return res->code = OD_ERR_NONE;
}

void od_rec_error_message(const od_rec_result_t *res, const od_rec_error_t *e, const char *topic,
                          int32_t partition, char *out, size_t outsz)
{
    if (e->code == OD_ERR_INVALID_RECORD)
        snprintf(out, outsz, "Compacted topic cannot accept message without key in topic partition "
                 "%s-%" PRId32, topic, partition);
    else if (e->log_append)
        snprintf(out, outsz, "Invalid timestamp type in message with offset %" PRId64
                 ". Producer should not set timestamp type to LogAppendTime.", e->offset);
    else
        snprintf(out, outsz, "Timestamp %" PRId64 " of message with offset %" PRId64
                 " is out of range. The timestamp should be within [%" PRId64 ", %" PRId64 "]",
                 e->timestamp, e->offset, res->lo, res->hi);
}

void od_rec_result_message(const od_rec_result_t *res, const char *topic, int32_t partition,
                           char *out, size_t outsz)
{
    if (res->code == OD_ERR_INVALID_TIMESTAMP) {
        snprintf(out, outsz, "One or more records have been rejected due to invalid timestamp");
        return;
    }
    /* Kafka lists the first three as RecordError(batchIndex=.., message='..'). */
    size_t n = (size_t)snprintf(out, outsz, "One or more records have been rejected due to %" PRId32
                                " record errors in total, and only showing the first three errors "
                                "at most: [", res->nerrors);
    for (int32_t i = 0; i < res->nlisted && i < 3 && n < outsz; i++) {
        char m[300];
        od_rec_error_message(res, &res->errors[i], topic, partition, m, sizeof(m));
        n += (size_t)snprintf(out + n, outsz - n, "%sRecordError(batchIndex=%" PRId32 ", message='%s')",
                              i ? ", " : "", res->errors[i].batch_index, m);
    }
    if (n < outsz)
        snprintf(out + n, outsz - n, "]");
}
