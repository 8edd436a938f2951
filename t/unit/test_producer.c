/* test_producer.c - idempotent producer state: the checks (duplicates,
 * gaps, new producers, epochs, wrap-around), expiry, snapshot round trip,
 * and rebuilding a partition's state from snapshot + log replay through a
 * fake storage backend (a corrupt snapshot falls back to a full replay). */
#include <stdlib.h>
#include <string.h>

#include "od_batch.h"
#include "od_core.h"
#include "od_producer.h"
#include "od_proto_gen.h"
#include "tap.h"

static int16_t chk(od_pstate_t *s, int64_t pid, int16_t epoch, int32_t first, int32_t n,
                   od_pcheck_t *c)
{
    char msg[256];
    return od_pstate_check(s, pid, epoch, first, od_pseq_add(first, n - 1), c, msg, sizeof(msg));
}

/* Check and, when accepted and new, record a batch of n records at *next. */
static int16_t produce(od_pstate_t *s, int64_t pid, int16_t epoch, int32_t first, int32_t n,
                       int64_t *next, od_pcheck_t *c)
{
    int16_t ec = chk(s, pid, epoch, first, n, c);
    if (ec == OD_ERR_NONE && !c->duplicate) {
        od_pstate_update(s, pid, epoch, first, od_pseq_add(first, n - 1), *next, *next + n - 1,
                         1000 + *next, 5000);
        *next += n;
    }
    return ec;
}

static void test_checks(void)
{
    od_pstate_t *s = od_pstate_new();
    od_pcheck_t c;
    int64_t next = 0;
    {
        /* Checked on its own state so the rest of the test is unchanged. */
        od_pstate_t *fresh = od_pstate_new();
        char m[128];
        tap_is_int(od_pstate_check(fresh, 8, 0, 3, 3, &c, m, sizeof(m)), OD_ERR_NONE,
                   "unknown producer may start at any sequence (as Kafka 3.x)");
        od_pstate_free(fresh);
    }
    tap_is_int(produce(s, 7, 0, 0, 10, &next, &c), OD_ERR_NONE, "unknown producer at 0 accepted");
    tap_ok(!c.duplicate, "first batch is not a duplicate");
    /* Six more batches: 10..19, 20..29, ... so that the first falls out of
     * the cache of five. */
    for (int i = 1; i <= 6; i++)
        produce(s, 7, 0, i * 10, 10, &next, &c);
    tap_is_int(next, 70, "seven batches appended");
    od_pentry_t *e = od_pstate_find(s, 7);
    tap_ok(e && e->nbatches == OD_PSTATE_CACHED, "five batches cached");
    int dups_ok = 1;
    for (int i = 2; i <= 6; i++) {
        int16_t ec = chk(s, 7, 0, i * 10, 10, &c);
        dups_ok &= ec == OD_ERR_NONE && c.duplicate && c.dup_first_offset == i * 10 &&
                   c.dup_last_offset == i * 10 + 9 && c.dup_timestamp == 1000 + i * 10;
    }
    tap_ok(dups_ok, "each of the last five batches is a duplicate with its original offsets");
    tap_is_int(chk(s, 7, 0, 10, 10, &c), OD_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
               "a batch older than the cache is out of order");
    tap_is_int(chk(s, 7, 0, 20, 5, &c), OD_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
               "same first sequence, different range: not a duplicate");
    tap_is_int(chk(s, 7, 0, 71, 1, &c), OD_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, "a gap is refused");
    tap_is_int(chk(s, 7, 0, 69, 2, &c), OD_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
               "an overlap is refused");
    tap_is_int(produce(s, 7, 0, 70, 1, &next, &c), OD_ERR_NONE, "the next sequence is accepted");
    /* Epochs. */
    tap_is_int(chk(s, 7, 1, 71, 1, &c), OD_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
               "a new epoch must start at 0");
    tap_is_int(produce(s, 7, 1, 0, 2, &next, &c), OD_ERR_NONE, "new epoch at sequence 0");
    tap_is_int(chk(s, 7, 0, 71, 1, &c), OD_ERR_INVALID_PRODUCER_EPOCH, "old epoch is fenced");
    tap_is_int(chk(s, 7, 0, 70, 1, &c), OD_ERR_INVALID_PRODUCER_EPOCH,
               "a resend under the old epoch is fenced, not a duplicate");
    tap_is_int(chk(s, 7, 1, 0, 2, &c), OD_ERR_NONE, "resend under the new epoch...");
    tap_ok(c.duplicate, "...is a duplicate");
    e = od_pstate_find(s, 7);
    tap_ok(e && e->epoch == 1 && e->nbatches == 1, "epoch bump dropped the old batches");
    /* Other producers are independent. */
    tap_is_int(produce(s, 3, 5, 0, 1, &next, &c), OD_ERR_NONE, "second producer");
    tap_is_int(produce(s, 9, 0, 0, 1, &next, &c), OD_ERR_NONE, "third producer");
    tap_ok(s->n == 3 && s->e[0].pid == 3 && s->e[1].pid == 7 && s->e[2].pid == 9,
           "entries sorted by producer id");
    /* Wrap-around at INT32_MAX. */
    tap_is_int(od_pseq_add(INT32_MAX, 1), 0, "INT32_MAX + 1 wraps to 0");
    tap_is_int(od_pseq_add(INT32_MAX - 2, 5), 2, "a batch across the wrap ends at 2");
    od_pstate_update(s, 11, 0, INT32_MAX - 4, INT32_MAX, next, next + 4, 1, 5000);
    next += 5;
    tap_is_int(produce(s, 11, 0, 0, 3, &next, &c), OD_ERR_NONE, "sequence 0 follows INT32_MAX");
    tap_is_int(chk(s, 11, 0, 0, 3, &c), OD_ERR_NONE, "wrapped batch recognised...");
    tap_ok(c.duplicate, "...as a duplicate");
    tap_is_int(chk(s, 11, 0, 4, 1, &c), OD_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
               "gap after the wrap");
    char msg[128];
    tap_is_int(od_pstate_check(s, 12, 0, -1, -1, &c, msg, sizeof(msg)), OD_ERR_INVALID_RECORD,
               "negative sequence is invalid");
    /* Expiry by last write time. */
    od_pstate_update(s, 9, 0, 1, 1, next, next, 1, 90000);
    size_t gone = od_pstate_expire(s, 100000, 20000);
    tap_is_int((int64_t)gone, 3, "three idle producers expired");
    tap_ok(s->n == 1 && s->e[0].pid == 9, "the recently active one stays");
    tap_is_int(chk(s, 7, 1, 2, 1, &c), OD_ERR_NONE,
               "an expired producer is unknown again: any sequence is accepted");
    od_pstate_free(s);
}

static int same_state(const od_pstate_t *a, const od_pstate_t *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++) {
        const od_pentry_t *x = &a->e[i], *y = &b->e[i];
        if (x->pid != y->pid || x->epoch != y->epoch || x->nbatches != y->nbatches)
            return 0;
        if (memcmp(x->batches, y->batches, (size_t)x->nbatches * sizeof(x->batches[0])) != 0)
            return 0;
    }
    return 1;
}

static void test_snapshot_codec(void)
{
    od_pstate_t *s = od_pstate_new(), *d = NULL;
    for (int64_t pid = 0; pid < 20; pid++)
        for (int i = 0; i < (int)(pid % 8); i++)
            od_pstate_update(s, pid * 1000, (int16_t)(pid % 3), i * 4, i * 4 + 3, pid * 100 + i * 4,
                             pid * 100 + i * 4 + 3, 1234 + i, 777);
    size_t len;
    uint8_t *buf = od_pstate_encode(s, 5000, &len);
    char err[256];
    int64_t covered = -1;
    tap_ok(buf && od_pstate_decode(buf, len, &d, &covered, err, sizeof(err)) == 0,
           "snapshot decodes");
    tap_is_int(covered, 5000, "covered offset kept");
    tap_ok(d && same_state(s, d), "decoded state equals the original");
    tap_ok(d && d->n && d->e[0].last_update_ms == 777, "last update time kept");
    od_pstate_free(d);
    int refused = 1;
    for (size_t i = 0; i < len; i += 7) {
        buf[i] ^= 0x40;
        d = NULL;
        refused &= od_pstate_decode(buf, len, &d, &covered, err, sizeof(err)) < 0 && !d;
        buf[i] ^= 0x40;
    }
    tap_ok(refused, "every flipped byte is refused");
    d = NULL;
    tap_ok(od_pstate_decode(buf, len - 1, &d, &covered, err, sizeof(err)) < 0 && !d,
           "truncated snapshot refused");
    tap_ok(od_pstate_decode(buf, 3, &d, &covered, err, sizeof(err)) < 0, "tiny snapshot refused");
    free(buf);
    od_pstate_t *empty = od_pstate_new();
    buf = od_pstate_encode(empty, 0, &len);
    tap_ok(buf && od_pstate_decode(buf, len, &d, &covered, err, sizeof(err)) == 0 && d->n == 0,
           "empty state round trip");
    od_pstate_free(d);
    free(buf);
    od_pstate_free(empty);
    od_pstate_free(s);
}

/* ---- a fake storage backend: one partition in memory ---- */

static uint8_t *flog;
static size_t flog_len;
static int64_t flog_end;
static void *fstate;
static size_t fstate_len;
static int reads;

static int64_t f_start(od_log_t *l) { return (void)l, 0; }
static int64_t f_end(od_log_t *l) { return (void)l, flog_end; }
static int f_read(od_log_t *l, int64_t offset, size_t max, od_log_read_t *out, char *err,
                  size_t errsz)
{
    (void)l, (void)max, (void)err, (void)errsz;
    reads++;
    od_batch_iter_t it;
    od_batch_hdr_t h;
    size_t off, size;
    memset(out, 0, sizeof(*out));
    od_batch_iter_init(&it, flog, flog_len);
    while (od_batch_iter_next(&it, &h, &off, &size) == 1)
        if (h.base_offset + h.last_offset_delta >= offset) {
            /* Only up to two batches per read, to exercise the loop. */
            size_t n = size;
            if (od_batch_iter_next(&it, &h, &off, &size) == 1)
                n += size;
            out->nranges = 1;
            out->ranges[0].mem = flog + (it.pos - n);
            out->ranges[0].len = n;
            out->total = n;
            return 0;
        }
    return 0;
}
static int f_put(od_log_t *l, const char *name, const void *d, size_t len, char *err, size_t errsz)
{
    (void)l, (void)name, (void)err, (void)errsz;
    free(fstate);
    fstate = malloc(len);
    memcpy(fstate, d, len);
    fstate_len = len;
    return 0;
}
static int f_get(od_log_t *l, const char *name, void **d, size_t *len, char *err, size_t errsz)
{
    (void)l, (void)name, (void)err, (void)errsz;
    if (!fstate)
        return 0;
    *d = malloc(fstate_len);
    memcpy(*d, fstate, fstate_len);
    *len = fstate_len;
    return 1;
}

/* Append a batch of n records to the fake log (pid -1: not idempotent). */
static void log_batch(int64_t pid, int16_t epoch, int32_t seq, int n)
{
    od_batch_builder_t b;
    od_batch_builder_init(&b, flog_end);
    b.producer_id = pid;
    b.producer_epoch = pid >= 0 ? epoch : -1;
    b.base_sequence = pid >= 0 ? seq : -1;
    for (int i = 0; i < n; i++)
        od_batch_builder_add(&b, 1700000000000LL + flog_end, "k", 1, "v", 1);
    size_t len;
    uint8_t *p = od_batch_builder_finish(&b, &len);
    flog = realloc(flog, flog_len + len);
    memcpy(flog + flog_len, p, len);
    flog_len += len;
    flog_end += n;
    free(p);
    od_batch_builder_free(&b);
}

static void test_replay(void)
{
    od_storage_ops_t ops;
    memset(&ops, 0, sizeof(ops));
    ops.struct_size = sizeof(ops);
    ops.name = "fake";
    ops.read = f_read;
    ops.start_offset = f_start;
    ops.end_offset = f_end;
    ops.put_state = f_put;
    ops.get_state = f_get;
    od_core_t *core = calloc(1, sizeof(*core));
    core->storage = &ops;
    od_topic_t topic;
    memset(&topic, 0, sizeof(topic));
    topic.name = "t";
    od_partition_t p;
    memset(&p, 0, sizeof(p));
    p.topic = &topic;
    p.log = (od_log_t *)&p; /* any non-NULL handle */

    /* A log with two producers, a non-idempotent batch and an epoch bump. */
    for (int i = 0; i < 8; i++)
        log_batch(100, 0, i * 3, 3);
    log_batch(-1, 0, 0, 4);
    log_batch(200, 2, 0, 1);
    log_batch(100, 1, 0, 2);
    od_pstate_t *full = od_producer_state(core, &p);
    tap_ok(full && full->n == 2, "full replay found two producers");
    od_pentry_t *e = full ? od_pstate_find(full, 100) : NULL;
    tap_ok(e && e->epoch == 1 && e->nbatches == 1 && e->batches[0].first_offset == 29 &&
           e->batches[0].last_seq == 1, "producer 100 at its bumped epoch");
    e = full ? od_pstate_find(full, 200) : NULL;
    tap_ok(e && e->epoch == 2 && e->batches[0].first_offset == 28, "producer 200 replayed");

    /* Close (writes a snapshot), append more, reopen: snapshot + replay of
     * the tail equals a full replay. */
    od_producer_appended(core, &p, 200, 2, 1, 1, 31, 31, 1700000000000LL + 31); /* keeps state dirty */
    log_batch(200, 2, 1, 1);
    od_producer_partition_closing(core, &p, 0);
    tap_ok(fstate != NULL && p.producer_state == NULL, "closing wrote a snapshot");
    for (int i = 0; i < 6; i++)
        log_batch(300, 0, i * 2, 2);
    reads = 0;
    od_pstate_t *fast = od_producer_state(core, &p);
    int fast_reads = reads;
    uint8_t *saved = malloc(fstate_len);
    memcpy(saved, fstate, fstate_len);
    size_t saved_len = fstate_len;
    /* The same with the snapshot gone. */
    free(fstate);
    fstate = NULL;
    p.producer_state = NULL;
    reads = 0;
    od_pstate_t *slow = od_producer_state(core, &p);
    tap_ok(fast && slow && same_state(fast, slow), "snapshot + tail replay equals full replay");
    tap_ok(fast_reads < reads, "the snapshot saved reads (%d vs %d)", fast_reads, reads);
    e = fast ? od_pstate_find(fast, 300) : NULL;
    tap_ok(e && e->nbatches == 5 && e->batches[4].last_seq == 11, "tail producer replayed");
    od_pcheck_t c;
    tap_is_int(chk(fast, 100, 1, 0, 2, &c), OD_ERR_NONE, "duplicate known after reload...");
    tap_ok(c.duplicate && c.dup_first_offset == 29, "...with its original offset");
    od_pstate_free(slow);

    /* A corrupt snapshot is refused and the whole log replayed. */
    saved[saved_len / 2] ^= 1;
    f_put(NULL, NULL, saved, saved_len, NULL, 0);
    p.producer_state = NULL;
    od_pstate_t *again = od_producer_state(core, &p);
    tap_ok(again && same_state(again, fast), "corrupt snapshot: state rebuilt from the log");
    od_pstate_free(again);
    /* A snapshot beyond the log end (lost tail) is not trusted either. */
    od_pstate_t *big = od_pstate_new();
    od_pstate_update(big, 999, 0, 0, 0, 0, 0, 0, 0);
    size_t blen;
    uint8_t *bbuf = od_pstate_encode(big, flog_end + 100, &blen);
    f_put(NULL, NULL, bbuf, blen, NULL, 0);
    p.producer_state = NULL;
    again = od_producer_state(core, &p);
    tap_ok(again && !od_pstate_find(again, 999) && same_state(again, fast),
           "snapshot beyond the log end ignored");
    od_pstate_free(again);
    p.producer_state = NULL;
    od_pstate_free(big);
    free(bbuf);
    od_pstate_free(fast);
    free(saved);
    free(fstate);
    free(flog);
    free(core);
}

int main(void)
{
    tap_no_plan();
    test_checks();
    test_snapshot_codec();
    test_replay();
    return tap_done();
}
