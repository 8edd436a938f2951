/* od_route_fwd_int.h - what the two files of the route forwarder share:
 * od_route_fwd_queue.c (the batches waiting per target partition, the
 * checkpoint holds, the buffer) and od_route_forward.c (sending them). */
#ifndef OD_ROUTE_FWD_INT_H
#define OD_ROUTE_FWD_INT_H

#include "od_batch.h"
#include "od_route_int.h"

struct od_peer;

/* Where copies come from: a routed partition and its unacknowledged
 * offsets (holds), each shared by the batches of one routed produce. */
typedef struct od_fwd_hold {
    struct od_fwd_hold *prev, *next;
    int64_t offset;
    uint32_t refs;
} od_fwd_hold_t;

typedef struct od_fwd_source {
    struct od_fwd_source *next;
    char topic[256];
    int32_t partition;
    od_fwd_hold_t *holds;
} od_fwd_source_t;

typedef struct od_fwd_origin {
    od_fwd_source_t *src;
    od_fwd_hold_t *hold; /* NULL: dead letters only (not replayed, so nothing to hold) */
    uint64_t ncopies, ndlq;
} od_fwd_origin_t;

typedef struct od_fwd_item {
    struct od_fwd_item *next;
    od_batch_builder_t b; /* records while open */
    uint8_t *batch;       /* once sealed (sent once at least) */
    size_t len;
    size_t bytes; /* counted in the buffer */
    od_fwd_origin_t *origins;
    size_t norigins, ocap;
} od_fwd_item_t;

typedef struct od_fwd_queue {
    struct od_fwd_queue *next;
    char topic[256];
    int32_t partition;
    od_fwd_item_t *head, *tail;
    int inflight;          /* head is in a request */
    int attempts;          /* of the head, for the backoff */
    int64_t not_before_ms; /* monotonic */
} od_fwd_queue_t;

typedef struct od_fwd_broker {
    struct od_fwd_broker *next;
    int32_t id;
    char host[256];
    int port;
    struct od_peer *peer;
    od_fwd_queue_t **sent; /* the partitions of the request in flight */
    size_t nsent, cap;
    int busy;
} od_fwd_broker_t;

typedef struct od_route_fwd {
    struct od_core *core;
    od_fwd_queue_t *queues;
    od_fwd_source_t *sources;
    od_fwd_broker_t *brokers;
    size_t bytes;
    uint64_t records;
    int64_t kick_timer; /* pump at the end of this loop turn (new copies, answers) */
    int64_t wake_timer; /* pump when the earliest backoff ends (wake_at, monotonic) */
    int64_t wake_at;
} od_route_fwd_t;

extern od_route_fwd_t od_route_fwd;

/* od_route_fwd_queue.c */
/* The head batch of q, sealed (its bytes final). NULL: out of memory. */
od_fwd_item_t *od_route_fwd_seal_head(od_fwd_queue_t *q);
/* The head leaves q: acknowledged (counted as copies, forwarded) or not
 * (why: lost, logged by lose_head and counted; NULL: dropped at stop). */
void od_route_fwd_pop_head(od_fwd_queue_t *q, int acked, const char *why);
void od_route_fwd_lose_head(od_fwd_queue_t *q, const char *why);
/* Everything queued, at stop. */
void od_route_fwd_free_queues(void);

/* od_route_forward.c: pump at the end of this loop turn. */
void od_route_fwd_kick(void);

#endif
