/* od_route_int.h - what the files of core/route/ share. */
#ifndef OD_ROUTE_INT_H
#define OD_ROUTE_INT_H

#include "od_route.h"

/* A growable byte buffer (rebuilt payloads). */
typedef struct od_route_buf {
    uint8_t *p;
    size_t len, cap;
} od_route_buf_t;
int od_route_buf_put(od_route_buf_t *w, const void *p, size_t n);

/* One batch of a partition's payload, its records decompressed. */
typedef struct od_route_batch {
    od_batch_hdr_t h;
    uint8_t *plain; /* the records section; the records point into it */
    size_t plain_len;
    size_t first, count; /* its records in od_route_set_t.recs */
} od_route_batch_t;

typedef struct od_route_set {
    od_route_batch_t *batches;
    size_t nbatches;
    od_route_rec_t *recs;
    size_t nrecs;
} od_route_set_t;

/* od_route_batch.c. Decode validated batches (nrecords: their count). */
int od_route_decode(const uint8_t *data, size_t len, int32_t partition, int64_t nrecords,
                    od_route_set_t *s, char *err, size_t errsz);
void od_route_set_free(od_route_set_t *s);
/* The batches again with the accepted records only, headers as the routes
 * left them, appended to w; *nrecords: how many. -1 with err. */
int od_route_rebuild(const od_route_set_t *s, od_route_buf_t *w, int32_t *nrecords, char *err,
                     size_t errsz);
/* Add r to a batch being built: its key (or key/key_len with rekey, NULL
 * for a null key), its value and timestamp, its headers and extra. */
int od_route_add_record(od_batch_builder_t *b, const od_route_rec_t *r, int rekey,
                        const char *key, size_t key_len, const od_route_hdr_t *extra,
                        size_t nextra);

/* od_route_place.c: the placement check of a topic whose
 * placement.partitioner is name. Returns OD_ERR_NONE or INVALID_RECORD
 * (reject, msg set); warn counts and logs. */
struct od_client;
int16_t od_route_place_check(struct od_core *core, const struct od_client *c,
                             const struct od_topic *t, const char *topic, const char *name,
                             int reject, const od_route_set_t *s, char *msg, size_t msgsz);

/* od_route_copy.c: copies and dead letters of one partition's batches,
 * grouped per target partition into batches; add them, then flush. */
struct od_client;
struct out_group;
typedef struct od_route_outbox {
    struct od_core *core;
    const struct od_client *client; /* the producer (OD_EVENT_APPEND) */
    const char *source;             /* the routed topic (metrics) */
    int32_t source_partition;
    int64_t low; /* the lowest source offset copied, -1: none yet (forwarded copies hold it) */
    struct out_group *groups;
    size_t ngroups, cap;
} od_route_outbox_t;
void od_route_outbox_init(od_route_outbox_t *ob, struct od_core *core,
                          const struct od_client *client, const char *source,
                          int32_t source_partition);
/* rec to topic: partition chosen by partitioner (NULL: partition as given),
 * round robin when it has no opinion; key as od_route_add_record's; extra
 * headers after the record's. Failures are logged and counted as lost. */
void od_route_outbox_add(od_route_outbox_t *ob, const char *topic, const char *partitioner,
                         int64_t *budget, int32_t partition, const od_route_rec_t *rec, int rekey,
                         const char *key, size_t key_len, const od_route_hdr_t *extra,
                         size_t nextra, int dead_letter);
void od_route_outbox_flush(od_route_outbox_t *ob);
/* Append a batch of nrec copies (offsets from 0) to p, led here; 0 or -1
 * with err. The batch's offsets are rewritten in place. */
struct od_partition;
int od_route_append_here(struct od_core *core, struct od_topic *t, struct od_partition *p,
                         uint8_t *batch, size_t blen, int32_t nrec, char *err, size_t errsz);

/* od_route_forward.c: copies for partitions another broker leads. */
int od_route_forward_register_config(struct od_core *core, char *err, size_t errsz);
int od_route_forward_start(struct od_core *core);
void od_route_forward_tick(struct od_core *core);
void od_route_forward_stop(struct od_core *core);
/* Take over batch (len bytes, malloc'd, uncompressed, offsets from 0) of
 * ncopies copies and ndlq dead letters for t-partition from the routed
 * source-source_partition; hold_offset: the lowest source offset among the
 * copies (the route checkpoint stays at or below it until acknowledged),
 * -1 for none. */
void od_route_forward_add(struct od_topic *t, int32_t partition, uint8_t *batch, size_t len,
                          uint64_t ncopies, uint64_t ndlq, const char *source,
                          int32_t source_partition, int64_t hold_offset);
/* The lowest source offset of topic-partition whose forwarded copies are
 * not acknowledged yet, or -1. */
int64_t od_route_forward_low(const char *topic, int32_t partition);
/* 1 when route.forward.buffer.bytes of copies are waiting. */
int od_route_forward_full(void);

/* od_route.c: the broker-wide settings. */
int od_route_copies_max(void);
/* A pending set of records for topic/partition (the replay's), their
 * decoded set, and their copies (no dead letters) from their offsets. */
od_route_pending_t *od_route_pending_new(const char *topic, int32_t partition,
                                         const struct od_client *client);
od_route_set_t *od_route_pending_set(od_route_pending_t *p);
void od_route_copies_only(struct od_core *core, od_route_pending_t *p);
/* od_route_checkpoint.c: a partition's first routed produce writes its
 * first checkpoint (before the append), so a crash right after it is
 * replayed from there. */
struct od_partition;
void od_route_checkpoint_touch(struct od_core *core, struct od_partition *p);

#endif
