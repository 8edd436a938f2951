/* od_pstate.c - one partition's producer state (the pure part: checks,
 * updates, expiry, snapshot encoding). No I/O here; od_producer.c ties it
 * to partitions and the storage backend. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_crc32c.h"
#include "od_producer.h"
#include "od_proto_gen.h"

od_pstate_t *od_pstate_new(void) { return calloc(1, sizeof(od_pstate_t)); }

void od_pstate_free(od_pstate_t *s)
{
    if (!s)
        return;
    free(s->e);
    free(s);
}

/* Index of the first entry with pid >= the given one. */
static size_t lower_bound(const od_pstate_t *s, int64_t pid)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->e[mid].pid < pid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

od_pentry_t *od_pstate_find(od_pstate_t *s, int64_t pid)
{
    size_t i = lower_bound(s, pid);
    return i < s->n && s->e[i].pid == pid ? &s->e[i] : NULL;
}

static od_pentry_t *insert(od_pstate_t *s, int64_t pid)
{
    size_t i = lower_bound(s, pid);
    if (i < s->n && s->e[i].pid == pid)
        return &s->e[i];
    if (s->n == s->cap) {
        size_t c = s->cap ? s->cap * 2 : 4;
        od_pentry_t *e = realloc(s->e, c * sizeof(*e));
        if (!e)
            return NULL;
        s->e = e;
        s->cap = c;
    }
    memmove(&s->e[i + 1], &s->e[i], (s->n - i) * sizeof(*s->e));
    s->n++;
    memset(&s->e[i], 0, sizeof(s->e[i]));
    s->e[i].pid = pid;
    s->e[i].epoch = -1;
    return &s->e[i];
}

int32_t od_pseq_add(int32_t seq, int32_t delta)
{
    if (seq > INT32_MAX - delta)
        return delta - (INT32_MAX - seq) - 1;
    return seq + delta;
}

static int in_sequence(int32_t last, int32_t next)
{
    return (int64_t)next == (int64_t)last + 1 || (next == 0 && last == INT32_MAX);
}

int16_t od_pstate_check(od_pstate_t *s, int64_t pid, int16_t epoch, int32_t first_seq,
                        int32_t last_seq, od_pcheck_t *c, char *msg, size_t msgsz)
{
    memset(c, 0, sizeof(*c));
    if (first_seq < 0 || last_seq < 0 || epoch < 0) {
        snprintf(msg, msgsz, "producer %" PRId64 ": invalid epoch %d or sequence %d",
                 pid, epoch, first_seq);
        return OD_ERR_INVALID_RECORD;
    }
    od_pentry_t *e = od_pstate_find(s, pid);
    if (!e) {
        /* As Kafka 3.x: a producer this partition has no state for (new, or
         * expired) may start at any sequence. */
        return OD_ERR_NONE;
    }
    /* A duplicate is recognised first, as Kafka does: same epoch and
     * exactly the sequence range of a batch still remembered. */
    if (epoch == e->epoch)
        for (int32_t i = 0; i < e->nbatches; i++)
            if (e->batches[i].first_seq == first_seq && e->batches[i].last_seq == last_seq) {
                c->duplicate = 1;
                c->dup_first_offset = e->batches[i].first_offset;
                c->dup_last_offset = e->batches[i].last_offset;
                c->dup_timestamp = e->batches[i].timestamp;
                return OD_ERR_NONE;
            }
    if (epoch < e->epoch) {
        snprintf(msg, msgsz, "producer %" PRId64 ": epoch %d is older than the current epoch %d",
                 pid, epoch, e->epoch);
        return OD_ERR_INVALID_PRODUCER_EPOCH;
    }
    if (epoch > e->epoch) {
        if (first_seq != 0) {
            snprintf(msg, msgsz,
                     "producer %" PRId64 ": new epoch %d must start at sequence 0, not %d", pid,
                     epoch, first_seq);
            return OD_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
        }
        return OD_ERR_NONE;
    }
    if (e->nbatches == 0) { /* an entry without batches: like a new epoch */
        if (first_seq == 0)
            return OD_ERR_NONE;
        snprintf(msg, msgsz, "producer %" PRId64 ": sequence %d, expected 0", pid, first_seq);
        return OD_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    }
    int32_t last = e->batches[e->nbatches - 1].last_seq;
    if (!in_sequence(last, first_seq)) {
        snprintf(msg, msgsz,
                 "producer %" PRId64 " epoch %d: sequence %d does not follow the last one, %d",
                 pid, epoch, first_seq, last);
        return OD_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    }
    return OD_ERR_NONE;
}

int od_pstate_update(od_pstate_t *s, int64_t pid, int16_t epoch, int32_t first_seq,
                     int32_t last_seq, int64_t first_offset, int64_t last_offset,
                     int64_t timestamp, int64_t now_ms)
{
    od_pentry_t *e = insert(s, pid);
    if (!e)
        return -1;
    if (e->epoch != epoch) {
        e->epoch = epoch;
        e->nbatches = 0;
    }
    if (e->nbatches == OD_PSTATE_CACHED) {
        memmove(&e->batches[0], &e->batches[1], (OD_PSTATE_CACHED - 1) * sizeof(e->batches[0]));
        e->nbatches--;
    }
    od_pbatch_t *b = &e->batches[e->nbatches++];
    b->first_seq = first_seq;
    b->last_seq = last_seq;
    b->first_offset = first_offset;
    b->last_offset = last_offset;
    b->timestamp = timestamp;
    if (now_ms > e->last_update_ms)
        e->last_update_ms = now_ms;
    s->dirty = 1;
    s->appends_since_snapshot++;
    return 0;
}

size_t od_pstate_expire(od_pstate_t *s, int64_t now_ms, int64_t max_idle_ms)
{
    size_t w = 0, gone = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (now_ms - s->e[i].last_update_ms > max_idle_ms) {
            gone++;
            continue;
        }
        if (w != i)
            s->e[w] = s->e[i];
        w++;
    }
    s->n = w;
    if (gone)
        s->dirty = 1;
    return gone;
}

/* ---- snapshots ----
 * Big-endian:  "ODPS" | u16 version (1) | u32 crc32c of everything after
 * it | i64 covered offset | u32 entry count | entries: i64 pid, i16 epoch,
 * i64 last update, u8 batch count, batches: i32 first seq, i32 last seq,
 * i64 first offset, i64 last offset, i64 timestamp. */
#define SNAP_MAGIC "ODPS"
#define SNAP_VERSION 1
#define SNAP_HDR 10                /* magic, version, crc */
#define SNAP_ENTRY 19              /* without batches */
#define SNAP_BATCH 32

static uint8_t *put(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--)
        *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

static uint64_t get(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

uint8_t *od_pstate_encode(const od_pstate_t *s, int64_t covered_offset, size_t *len)
{
    size_t size = SNAP_HDR + 12;
    for (size_t i = 0; i < s->n; i++)
        size += SNAP_ENTRY + (size_t)s->e[i].nbatches * SNAP_BATCH;
    uint8_t *buf = malloc(size);
    if (!buf)
        return NULL;
    memcpy(buf, SNAP_MAGIC, 4);
    uint8_t *p = put(buf + 4, SNAP_VERSION, 2);
    p += 4; /* crc, below */
    p = put(p, (uint64_t)covered_offset, 8);
    p = put(p, (uint64_t)s->n, 4);
    for (size_t i = 0; i < s->n; i++) {
        const od_pentry_t *e = &s->e[i];
        p = put(p, (uint64_t)e->pid, 8);
        p = put(p, (uint16_t)e->epoch, 2);
        p = put(p, (uint64_t)e->last_update_ms, 8);
        *p++ = (uint8_t)e->nbatches;
        for (int32_t j = 0; j < e->nbatches; j++) {
            const od_pbatch_t *b = &e->batches[j];
            p = put(p, (uint32_t)b->first_seq, 4);
            p = put(p, (uint32_t)b->last_seq, 4);
            p = put(p, (uint64_t)b->first_offset, 8);
            p = put(p, (uint64_t)b->last_offset, 8);
            p = put(p, (uint64_t)b->timestamp, 8);
        }
    }
    put(buf + 6, od_crc32c(0, buf + SNAP_HDR, size - SNAP_HDR), 4);
    *len = size;
    return buf;
}

int od_pstate_decode(const uint8_t *p, size_t len, od_pstate_t **out, int64_t *covered_offset,
                     char *err, size_t errsz)
{
    *out = NULL;
    if (len < SNAP_HDR + 12 || memcmp(p, SNAP_MAGIC, 4) != 0) {
        snprintf(err, errsz, "not a producer state snapshot");
        return -1;
    }
    if (get(p + 4, 2) != SNAP_VERSION) {
        snprintf(err, errsz, "snapshot version %u is unknown", (unsigned)get(p + 4, 2));
        return -1;
    }
    if ((uint32_t)get(p + 6, 4) != od_crc32c(0, p + SNAP_HDR, len - SNAP_HDR)) {
        snprintf(err, errsz, "snapshot checksum mismatch");
        return -1;
    }
    const uint8_t *q = p + SNAP_HDR, *end = p + len;
    int64_t covered = (int64_t)get(q, 8);
    uint32_t n = (uint32_t)get(q + 8, 4);
    q += 12;
    if (covered < 0 || n > (size_t)(end - q) / SNAP_ENTRY) {
        snprintf(err, errsz, "snapshot header is inconsistent");
        return -1;
    }
    od_pstate_t *s = od_pstate_new();
    if (!s || (n && !(s->e = calloc(n, sizeof(*s->e))))) {
        od_pstate_free(s);
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    s->cap = n;
    for (uint32_t i = 0; i < n; i++) {
        if ((size_t)(end - q) < SNAP_ENTRY)
            goto bad;
        od_pentry_t *e = &s->e[i];
        e->pid = (int64_t)get(q, 8);
        e->epoch = (int16_t)get(q + 8, 2);
        e->last_update_ms = (int64_t)get(q + 10, 8);
        e->nbatches = q[18];
        q += SNAP_ENTRY;
        if (e->pid < 0 || e->epoch < 0 || e->nbatches > OD_PSTATE_CACHED ||
            (size_t)(end - q) < (size_t)e->nbatches * SNAP_BATCH ||
            (i > 0 && e->pid <= s->e[i - 1].pid))
            goto bad;
        for (int32_t j = 0; j < e->nbatches; j++, q += SNAP_BATCH) {
            od_pbatch_t *b = &e->batches[j];
            b->first_seq = (int32_t)get(q, 4);
            b->last_seq = (int32_t)get(q + 4, 4);
            b->first_offset = (int64_t)get(q + 8, 8);
            b->last_offset = (int64_t)get(q + 16, 8);
            b->timestamp = (int64_t)get(q + 24, 8);
            if (b->first_seq < 0 || b->last_seq < 0 || b->first_offset < 0 ||
                b->last_offset < b->first_offset || b->last_offset >= covered)
                goto bad;
        }
        s->n++;
    }
    if (q != end)
        goto bad;
    *out = s;
    *covered_offset = covered;
    return 0;
bad:
    od_pstate_free(s);
    snprintf(err, errsz, "snapshot entry out of bounds or inconsistent");
    return -1;
}
