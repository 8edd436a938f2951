/* od_acks.h - acks=all produce requests waiting for the ISR (od_acks.c). */
#ifndef OD_ACKS_H
#define OD_ACKS_H

#include <stddef.h>
#include <stdint.h>

#include "od_conn.h"
#include "od_partition.h"
#include "od_proto_gen.h"

struct od_core;

/* One partition of a produce request whose batch was appended here and
 * must reach the high watermark before it is acknowledged. */
typedef struct od_ack_pending {
    od_partition_t *p;
    int64_t required; /* the offset after the batch's last one */
    od_ProduceResponse_PartitionProduceResponse_t *out; /* in the request's arena */
} od_ack_pending_t;

/* Let r wait (at most timeout_ms) until every pending partition is
 * decided, then answer it with resp (copied; its topic names are copied
 * out of the frame). Returns 0 (r is the waiter's now; it may already be
 * answered), or -1 when it cannot wait (no memory): answer it now. */
int od_acks_wait(struct od_core *core, od_req_t *r, const od_ProduceResponse_t *resp,
                 const od_ack_pending_t *pending, size_t n, int64_t timeout_ms);

#endif
