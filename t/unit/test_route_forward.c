/* test_route_forward.c - the route forwarder's queue without a broker
 * (core/route/od_route_fwd_queue.c): copies for one target partition join
 * the open batch at its tail while it fits the target's max.message.bytes,
 * records and bytes are counted, and every batch holds the route
 * checkpoint of its source partition at the lowest source offset of its
 * copies until it leaves the queue (od_route_forward_low). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_batch.h"
#include "od_metadata.h"
#include "od_route_fwd_int.h"
#include "tap.h"

/* A batch of n records of vlen-byte values, one header each (as the
 * outbox builds copies). */
static uint8_t *copies(int n, size_t vlen, size_t *len)
{
    od_batch_builder_t b;
    od_batch_builder_init(&b, 0);
    char *v = malloc(vlen);
    memset(v, 'v', vlen);
    od_record_header_t h = {"odradek.copy.of", 15, (const uint8_t *)"src/0/1", 7};
    for (int i = 0; i < n; i++)
        od_batch_builder_add_hdrs(&b, 1000 + i, "k", 1, v, (int32_t)vlen, &h, 1);
    free(v);
    uint8_t *out = od_batch_builder_finish(&b, len);
    od_batch_builder_free(&b);
    return out;
}

static size_t queued_batches(const char *topic)
{
    size_t n = 0;
    for (od_fwd_queue_t *q = od_route_fwd.queues; q; q = q->next)
        if (strcmp(q->topic, topic) == 0)
            for (od_fwd_item_t *it = q->head; it; it = it->next)
                n++;
    return n;
}

int main(void)
{
    od_topic_t t;
    memset(&t, 0, sizeof(t));
    t.name = "dst";
    t.npartitions = 1;
    t.cfg.max_message_bytes = 4000;

    size_t l1, l2, l3;
    uint8_t *b1 = copies(3, 100, &l1), *b2 = copies(2, 100, &l2), *b3 = copies(4, 900, &l3);
    tap_ok(od_route_forward_low("src", 0) == -1, "no holds before anything is queued");
    od_route_forward_add(&t, 0, b1, l1, 3, 0, "src", 0, 40);
    od_route_forward_add(&t, 0, b2, l2, 2, 0, "src", 0, 43);
    uint64_t recs, bytes;
    od_route_forward_stats(&recs, &bytes);
    tap_ok(recs == 5 && bytes == l1 + l2, "5 copies waiting, their bytes counted (%llu, %llu)",
           (unsigned long long)recs, (unsigned long long)bytes);
    tap_ok(queued_batches("dst") == 1, "the second batch joined the open one at the tail");
    tap_ok(od_route_forward_low("src", 0) == 40, "the source is held at its lowest offset (40)");
    od_route_forward_add(&t, 0, b3, l3, 4, 0, "src", 0, 45);
    tap_ok(queued_batches("dst") == 2, "a batch that does not fit max.message.bytes=4000 "
           "starts the next one");
    tap_ok(!od_route_forward_full(), "32 MiB (the default cap) are far away");

    od_fwd_queue_t *q = od_route_fwd.queues;
    od_fwd_item_t *head = od_route_fwd_seal_head(q);
    od_batch_hdr_t h;
    tap_ok(head && od_batch_parse_header(head->batch, head->len, &h) == 0 && h.record_count == 5 &&
               od_batch_compute_crc(head->batch, head->len) == h.crc,
           "the sealed head is one valid batch of the 5 copies");
    od_route_fwd_pop_head(q, 1, NULL); /* acknowledged */
    tap_ok(od_route_forward_low("src", 0) == 45, "acknowledged: the hold moves to 45");
    od_route_forward_stats(&recs, &bytes);
    tap_ok(recs == 4 && bytes == l3, "4 copies left");
    od_route_fwd_lose_head(q, "a test refusal");
    tap_ok(od_route_forward_low("src", 0) == -1, "refused for good: released, nothing held");
    od_route_forward_stats(&recs, &bytes);
    tap_ok(recs == 0 && bytes == 0, "nothing waits");

    /* Two source partitions, dead letters (no hold). */
    od_route_forward_add(&t, 0, copies(1, 10, &l1), l1, 1, 0, "src", 1, 7);
    od_route_forward_add(&t, 0, copies(1, 10, &l2), l2, 0, 1, "src", 2, -1);
    tap_ok(od_route_forward_low("src", 1) == 7 && od_route_forward_low("src", 2) == -1,
           "each source partition has its own hold; dead letters hold none");
    od_route_fwd_free_queues();
    tap_ok(od_route_forward_low("src", 1) == -1, "freed at stop");
    return tap_done();
}
