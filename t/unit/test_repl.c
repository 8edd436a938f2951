/* test_repl.c - pieces of core/repl without a cluster: the leader epoch
 * cache (Kafka's endOffsetFor rules, truncation, checkpoint text through a
 * fake storage backend, rebuilding from batch headers) and cutting a read
 * at the high watermark. */
#include <stdlib.h>
#include <string.h>

#include "od_batch.h"
#include "od_core.h"
#include "od_repl.h"
#include "od_repl_int.h"
#include "tap.h"

/* ---- a fake log: batches in memory, one named state ---- */
struct od_log {
    uint8_t *data;
    size_t len;
    int64_t end;
    char *state;
    size_t state_len;
};

static int64_t f_end(od_log_t *l) { return l->end; }
static int64_t f_start(od_log_t *l) { (void)l; return 0; }
static int f_put(od_log_t *l, const char *name, const void *d, size_t n, char *e, size_t es)
{
    (void)name, (void)e, (void)es;
    free(l->state);
    l->state = malloc(n + 1);
    memcpy(l->state, d, n);
    l->state_len = n;
    return 0;
}
static int f_get(od_log_t *l, const char *name, void **d, size_t *n, char *e, size_t es)
{
    (void)name, (void)e, (void)es;
    if (!l->state)
        return 0;
    *d = malloc(l->state_len + 1);
    memcpy(*d, l->state, l->state_len);
    *n = l->state_len;
    return 1;
}
static int f_read(od_log_t *l, int64_t off, size_t max, od_log_read_t *out, char *e, size_t es)
{
    (void)off, (void)max, (void)e, (void)es;
    memset(out, 0, sizeof(*out));
    out->nranges = 1;
    out->ranges[0].mem = l->data;
    out->ranges[0].len = l->len;
    out->ranges[0].fd = -1;
    out->total = l->len;
    return 0;
}

static void add_batch(od_log_t *l, int64_t base, int n, int32_t epoch)
{
    od_batch_builder_t bb;
    size_t len;
    od_batch_builder_init(&bb, base);
    for (int i = 0; i < n; i++)
        od_batch_builder_add(&bb, 1000 + i, "k", 1, "v", 1);
    uint8_t *b = od_batch_builder_finish(&bb, &len);
    od_batch_assign_offsets(b, len, base, epoch, -1);
    l->data = realloc(l->data, l->len + len);
    memcpy(l->data + l->len, b, len);
    l->len += len;
    l->end = base + n;
    free(b);
}

int main(void)
{
    static od_core_t core;
    static od_storage_ops_t ops;
    static od_topic_t topic;
    static od_partition_t p;
    static od_log_t log;
    int32_t e;
    int64_t end;

    tap_no_plan();
    ops.struct_size = sizeof(ops);
    ops.end_offset = f_end;
    ops.start_offset = f_start;
    ops.put_state = f_put;
    ops.get_state = f_get;
    ops.read = f_read;
    core.storage = &ops;
    topic.name = "t";
    p.topic = &topic;
    p.log = &log;

    /* Epochs 0 at 0, 2 at 10, 5 at 30; log end 40. */
    add_batch(&log, 0, 10, 0);
    add_batch(&log, 10, 20, 2);
    add_batch(&log, 30, 10, 5);
    od_repl_log_opened(&core, &p); /* no checkpoint: rebuilt from the headers */
    tap_ok(p.repl && p.repl->nepochs == 3, "rebuilt 3 epochs from the batch headers");
    tap_ok(log.state && strstr(log.state, "0\n3\n0 0\n2 10\n5 30\n") == log.state,
           "checkpoint in Kafka's text format");
    od_repl_end_offset_for_epoch(&core, &p, 5, &e, &end);
    tap_ok(e == 5 && end == 40, "latest epoch ends at the log end");
    od_repl_end_offset_for_epoch(&core, &p, 2, &e, &end);
    tap_ok(e == 2 && end == 30, "epoch 2 ends where 5 starts");
    od_repl_end_offset_for_epoch(&core, &p, 3, &e, &end);
    tap_ok(e == 2 && end == 30, "epoch 3 (absent): the largest below it, 2, ending at 30");
    od_repl_end_offset_for_epoch(&core, &p, 9, &e, &end);
    tap_ok(e == -1 && end == -1, "a newer epoch is unknown");
    od_repl_end_offset_for_epoch(&core, &p, -1, &e, &end);
    tap_ok(e == -1 && end == -1, "epoch -1 is unknown");
    tap_ok(od_repl_diverging(&core, &p, 2, 35, &e, &end) && e == 2 && end == 30,
           "a follower at 35 after epoch 2 diverged at 30");
    tap_ok(!od_repl_diverging(&core, &p, 2, 30, &e, &end), "one at 30 after epoch 2 has not");
    tap_ok(!od_repl_diverging(&core, &p, -1, 5, &e, &end), "no last epoch: no check");

    /* Truncation, then the checkpoint read back. */
    od_epochs_truncated(&core, &p, 30);
    tap_ok(p.repl->nepochs == 2 && strstr(log.state, "0\n2\n") == log.state,
           "cut at 30: epoch 5 goes, checkpoint rewritten");
    od_epochs_assign(&core, &p, 1, 31);
    tap_ok(p.repl->nepochs == 2, "an older epoch is never added");
    od_epochs_assign(&core, &p, 7, 30);
    tap_ok(p.repl->nepochs == 3 && od_epochs_latest(&p) == 7, "a newer one is");
    free(p.repl->epochs);
    free(p.repl);
    p.repl = NULL;
    log.end = 31;
    od_repl_log_opened(&core, &p);
    tap_ok(p.repl && p.repl->nepochs == 3 && p.repl->epochs[2].epoch == 7, "loaded from the checkpoint");
    log.end = 30;
    od_repl_log_opened(&core, &p);
    tap_ok(p.repl->nepochs == 2, "an epoch starting at the log end is dropped at load (Kafka's "
           "truncateFromEnd); a leader assigns it again");
    free(log.state);
    log.state = strdup("0\n2\n5 0\n3 10\n"); /* descending: not ours */
    log.state_len = strlen(log.state);
    od_repl_log_opened(&core, &p);
    tap_ok(p.repl->nepochs == 3 && p.repl->epochs[0].epoch == 0, "a bad checkpoint: rebuilt from the log");

    /* Cutting a read at the high watermark. */
    {
        od_log_read_t rd;
        f_read(&log, 0, 0, &rd, NULL, 0);
        size_t all = rd.total;
        od_repl_cut_read(&rd, 30);
        tap_ok(rd.nranges == 1 && rd.total < all && rd.total > 0, "cut at 30: the epoch-5 batch dropped");
        f_read(&log, 0, 0, &rd, NULL, 0);
        od_repl_cut_read(&rd, 10);
        od_batch_iter_t it;
        od_batch_hdr_t h;
        size_t off, sz;
        od_batch_iter_init(&it, rd.ranges[0].mem, rd.total);
        int n = 0;
        while (od_batch_iter_next(&it, &h, &off, &sz) == 1)
            n++;
        tap_ok(n == 1 && h.base_offset == 0, "cut at 10: only the first batch");
        f_read(&log, 0, 0, &rd, NULL, 0);
        od_repl_cut_read(&rd, 0);
        tap_ok(rd.nranges == 0 && rd.total == 0, "cut at 0: nothing");
        f_read(&log, 0, 0, &rd, NULL, 0);
        od_repl_cut_read(&rd, 1000);
        tap_ok(rd.total == all, "cut past the end: all of it");
    }
    /* The leader's high watermark counts an ISR change in flight with the
     * committed ISR (Kafka's maximal ISR): a follower being added holds it
     * until it has the records, so it is never elected without them. */
    {
        int32_t committed[2] = {1, 2};
        od_follower_t fol = {.id = 2, .leo = 25, .caught_up_ms = 0, .prev_fetch_ms = 0,
                             .leader_leo_at_prev = -1};
        od_replica_t *rs = p.repl;
        core.conf.node_id = 1;
        p.leader = 1;
        p.isr = committed;
        p.nisr = 1;
        log.end = 40;
        p.high_watermark = 20;
        rs->followers = &fol;
        rs->nfollowers = 1;
        rs->proposed_isr[0] = 1;
        rs->proposed_isr[1] = 2;
        rs->nproposed = 2;
        od_replica_update_hw(&core, &p);
        tap_ok(p.high_watermark == 25, "ISR {1}, {1,2} proposed: the watermark waits for 2 (%lld)",
               (long long)p.high_watermark);
        rs->nproposed = 0;
        od_replica_update_hw(&core, &p);
        tap_ok(p.high_watermark == 40, "the proposal answered: ISR {1} alone, the log end");
        p.nisr = 2;
        p.high_watermark = 20;
        rs->proposed_isr[0] = 1;
        rs->nproposed = 1;
        od_replica_update_hw(&core, &p);
        tap_ok(p.high_watermark == 25, "ISR {1,2}, {1} proposed: 2 still counts until committed");
        rs->followers = NULL;
        rs->nfollowers = 0;
        p.isr = NULL;
        p.nisr = 0;
    }
    free(p.repl->epochs);
    free(p.repl);
    free(log.data);
    free(log.state);
    return tap_done();
}
