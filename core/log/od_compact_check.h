/* od_compact_check.h - the per-record checks of a produce (Kafka's
 * LogValidator): keys on compacted topics, CreateTime timestamps. */
#ifndef OD_COMPACT_CHECK_H
#define OD_COMPACT_CHECK_H

#include <stddef.h>
#include <stdint.h>

/* Most refused records listed one by one in a result (the count of all
 * refused records is kept): bounds what a batch of many bad records makes
 * the broker hold and answer. */
#define OD_REC_ERRORS_MAX 4096

/* What the records must satisfy. */
typedef struct od_rec_rules {
    int compacted;   /* cleanup.policy contains "compact": a key is required */
    int create_time; /* message.timestamp.type=CreateTime: timestamps are checked */
    int64_t now;     /* broker wall clock, ms */
    int64_t before;  /* message.timestamp.before.max.ms (resolved), INT64_MAX: none */
    int64_t after;   /* message.timestamp.after.max.ms (resolved), INT64_MAX: none */
} od_rec_rules_t;

/* One refused record. */
typedef struct od_rec_error {
    int32_t batch_index; /* index of the record in its batch */
    int16_t code;        /* OD_ERR_INVALID_RECORD or OD_ERR_INVALID_TIMESTAMP */
    int64_t timestamp;   /* the record's timestamp (INVALID_TIMESTAMP) */
    int64_t offset;      /* the record's offset as the client numbered it */
    int log_append;      /* INVALID_TIMESTAMP: the batch claims LogAppendTime */
} od_rec_error_t;

typedef struct od_rec_result {
    /* OD_ERR_NONE, OD_ERR_INVALID_RECORD, OD_ERR_INVALID_TIMESTAMP (any
     * record with a bad timestamp makes the whole error that, as in Kafka)
     * or OD_ERR_CORRUPT_MESSAGE (records that cannot be read). */
    int16_t code;
    int32_t nerrors;        /* refused records of the first batch with any */
    int32_t nlisted;        /* of them in errors[] (at most OD_REC_ERRORS_MAX) */
    od_rec_error_t *errors; /* malloc'd; od_rec_result_free */
    int64_t lo, hi;         /* the timestamp window, saturated */
} od_rec_result_t;

/* Check every record of validated batches (compressed ones decompressed)
 * as Kafka does: a record fails for a missing key on a compacted topic,
 * else for a CreateTime timestamp (not -1) outside [now - before, now +
 * after], or for a batch that claims LogAppendTime when the record has no
 * timestamp to check. All records of a batch are checked; the first batch
 * with refused records stops the walk (the request fails as a whole). err
 * gets a message for CORRUPT_MESSAGE. Returns res->code. */
int16_t od_record_check(const uint8_t *batches, size_t len, const od_rec_rules_t *rules,
                        od_rec_result_t *res, char *err, size_t errsz);
void od_rec_result_free(od_rec_result_t *res);

/* Kafka's per-record message for e (topic "t-0" names the partition). */
void od_rec_error_message(const od_rec_result_t *res, const od_rec_error_t *e, const char *topic,
                          int32_t partition, char *out, size_t outsz);
/* Kafka's partition-level error_message for the result. */
void od_rec_result_message(const od_rec_result_t *res, const char *topic, int32_t partition,
                           char *out, size_t outsz);

#endif
