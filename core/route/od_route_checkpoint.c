/* od_route_checkpoint.c - at-least-once copies across crashes
 * (doc/routing.md, "Guarantees").
 *
 * Every local partition of a topic with routes keeps a checkpoint, the
 * storage state "route-checkpoint": an offset below which every record's
 * copies are known to be appended. Local copies are appended in the same
 * loop turn as their original, so between turns the log end is such an
 * offset, unless copies forwarded to other brokers (od_route_forward.c)
 * are not acknowledged yet: then it is the lowest source offset among
 * them. It is written once a second when it moved, and at shutdown. At
 * start (or when the partition's log opens later, as in a cluster whose
 * image catches up with the quorum), the records from the checkpoint to
 * the log end (what a kill -9 may have left without copies) go through the
 * topic's routes again and their copies are made again: a copy may then
 * exist twice, never not at all. While route.forward.buffer.bytes of
 * forwarded copies wait, a replay pauses and goes on at the next ticks. A
 * partition without a checkpoint starts routing at its log end (records
 * from before its routes existed are not copied). Copies and dead letters
 * (records with an odradek.copy.of or odradek.dlq.topic header) are not
 * routed again, as they are not when they are appended. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "od_core.h"
#include "od_ext.h"
#include "od_lua.h"
#include "od_module.h"
#include "od_partition.h"
#include "od_route_int.h"

#define STATE_NAME "route-checkpoint"
#define REPLAY_CHUNK ((size_t)1 << 20)

typedef struct ckpt {
    char topic[256];
    int32_t partition;
    int64_t written;
    /* A replay paused while route.forward.buffer.bytes were waiting: it
     * goes on from resume (-1: none) to resume_end at the next ticks. */
    int64_t resume, resume_end, replay_from, replay_copies;
    int pause_logged;
} ckpt_t;

static ckpt_t *ckpts;
static size_t nckpts;

static ckpt_t *ckpt_find(const char *topic, int32_t partition)
{
    for (size_t i = 0; i < nckpts; i++)
        if (ckpts[i].partition == partition && strcmp(ckpts[i].topic, topic) == 0)
            return &ckpts[i];
    return NULL;
}

static ckpt_t *ckpt_of(const char *topic, int32_t partition)
{
    ckpt_t *found = ckpt_find(topic, partition);
    if (found)
        return found;
    ckpt_t *a = realloc(ckpts, (nckpts + 1) * sizeof(*a));
    if (!a)
        return NULL;
    ckpts = a;
    ckpt_t *c = &ckpts[nckpts++];
    snprintf(c->topic, sizeof(c->topic), "%s", topic);
    c->partition = partition;
    c->written = -1;
    c->resume = -1;
    return c;
}

/* Where p's checkpoint may be: the log end, or the lowest source offset
 * whose forwarded copies another broker has not acknowledged yet, or where
 * a paused replay goes on. */
static int64_t safe_end(od_core_t *core, od_partition_t *p)
{
    int64_t end = od_partition_log_end(core, p);
    int64_t low = od_route_forward_low(p->topic->name, p->index);
    if (low >= 0 && low < end)
        end = low;
    const ckpt_t *c = ckpt_find(p->topic->name, p->index);
    if (c && c->resume >= 0 && c->resume < end)
        end = c->resume;
    return end;
}

static int can_keep_state(od_core_t *core)
{
    return core->storage && OD_OPS_HAS(core->storage, put_state) &&
           OD_OPS_HAS(core->storage, get_state);
}

static void put(od_core_t *core, od_partition_t *p, ckpt_t *c, int64_t end)
{
    char text[64], why[256];
    int n = snprintf(text, sizeof(text), "v1 %" PRId64 "\n", end);
    if (core->storage->put_state(p->log, STATE_NAME, text, (size_t)n, why, sizeof(why)) < 0) {
        od_logf(OD_LOG_WARN, "route: %s-%d: writing the route checkpoint failed: %s",
                p->topic->name, (int)p->index, why);
        return;
    }
    c->written = end;
}

/* The checkpoint stored for p: 1 with *off, 0 none, -1 unreadable. */
static int get(od_core_t *core, od_partition_t *p, int64_t *off)
{
    void *data = NULL;
    size_t len = 0;
    char why[256];
    int rc = core->storage->get_state(p->log, STATE_NAME, &data, &len, why, sizeof(why));
    if (rc <= 0) {
        if (rc < 0)
            od_logf(OD_LOG_WARN, "route: %s-%d: cannot read the route checkpoint: %s",
                    p->topic->name, (int)p->index, why);
        return rc;
    }
    char text[64];
    snprintf(text, sizeof(text), "%.*s", (int)(len < 63 ? len : 63), (const char *)data);
    free(data);
    long long v;
    if (strncmp(text, "v1 none", 7) == 0)
        return 0; /* the topic had no routes any more */
    if (sscanf(text, "v1 %lld", &v) != 1 || v < 0) {
        od_logf(OD_LOG_WARN, "route: %s-%d: route checkpoint '%.20s' is damaged",
                p->topic->name, (int)p->index, text);
        return -1;
    }
    *off = v;
    return 1;
}

typedef void (*each_fn)(od_core_t *core, od_lua_vm_t *vm, od_partition_t *p);

/* fn for the local partitions of topics with routes; unrouted (may be
 * NULL) for the others. */
static void each_partition(od_core_t *core, each_fn routed, each_fn unrouted)
{
    od_lua_vm_t *vm = od_lua_current(core);
    if (!can_keep_state(core))
        return;
    for (od_topic_t *t = od_image_next_topic(&core->image, NULL); t;
         t = od_image_next_topic(&core->image, t)) {
        int has = vm && !t->internal && od_lua_vm_hooks(vm, "route", t->name) > 0;
        each_fn fn = has ? routed : unrouted;
        for (int32_t i = 0; fn && i < t->npartitions; i++)
            if (t->partitions[i]->log)
                fn(core, vm, t->partitions[i]);
    }
}

/* A checkpoint left from routes that are gone would make routes added
 * later replay everything since: it is cleared. */
static void clear_stale(od_core_t *core, od_lua_vm_t *vm, od_partition_t *p)
{
    (void)vm;
    int64_t off;
    char why[256];
    for (size_t i = 0; i < nckpts; i++)
        if (ckpts[i].partition == p->index && strcmp(ckpts[i].topic, p->topic->name) == 0) {
            ckpts[i] = ckpts[--nckpts];
            break;
        }
    if (get(core, p, &off) == 1 &&
        core->storage->put_state(p->log, STATE_NAME, "v1 none\n", 8, why, sizeof(why)) < 0)
        od_logf(OD_LOG_WARN, "route: %s-%d: clearing the route checkpoint failed: %s",
                p->topic->name, (int)p->index, why);
}

/* At tick: only partitions tracked since start (or since their routes
 * came) are cleared when their routes go. */
static void clear_tracked(od_core_t *core, od_lua_vm_t *vm, od_partition_t *p)
{
    for (size_t i = 0; i < nckpts; i++)
        if (ckpts[i].partition == p->index && strcmp(ckpts[i].topic, p->topic->name) == 0) {
            clear_stale(core, vm, p);
            return;
        }
}

/* The image has caught up with the cluster's metadata (core->caught_up:
 * this start's registration unfenced), so it knows the topics the copies
 * go to. */
static int caught_up(od_core_t *core)
{
    return core->caught_up;
}

static void replay(od_core_t *core, od_lua_vm_t *vm, od_partition_t *p);
static int replay_more(od_core_t *core, od_lua_vm_t *vm, od_partition_t *p, ckpt_t *c);

static void write_moved(od_core_t *core, od_lua_vm_t *vm, od_partition_t *p)
{
    ckpt_t *c = ckpt_find(p->topic->name, p->index);
    if (!c) {
        /* A log that opened after the start (in a cluster the image may
         * catch up with the quorum only then): its replay is now, once
         * the image knows the topics the copies go to. */
        if (caught_up(core))
            replay(core, vm, p);
        return;
    }
    if (c->resume >= 0 && !od_route_forward_full() && vm)
        replay_more(core, vm, p, c);
    int64_t end = safe_end(core, p);
    if (c->written != end)
        put(core, p, c, end);
}

/* At stop: only what is tracked, and no more replaying (a paused replay
 * is the checkpoint: the next start goes on from there). */
static void write_tracked(od_core_t *core, od_lua_vm_t *vm, od_partition_t *p)
{
    (void)vm;
    ckpt_t *c = ckpt_find(p->topic->name, p->index);
    int64_t end = c ? safe_end(core, p) : -1;
    if (c && c->written != end)
        put(core, p, c, end);
}

static int has_header(const od_record_t *raw, const char *name)
{
    size_t pos = 0, n = strlen(name);
    od_record_header_t h;
    while (od_record_header_next(raw, &pos, &h) == 0)
        if ((size_t)h.key_len == n && memcmp(h.key, name, n) == 0)
            return 1;
    return 0;
}

/* Route one stored batch again and append its copies. */
static void replay_batch(od_core_t *core, od_lua_vm_t *vm, od_partition_t *p,
                         const uint8_t *b, size_t sz, const od_batch_hdr_t *h, int64_t *copies)
{
    od_route_pending_t *pend = od_route_pending_new(p->topic->name, p->index, od_ext_nobody());
    if (!pend)
        return;
    od_route_set_t *s = od_route_pending_set(pend);
    char err[256];
    if (od_route_decode(b, sz, p->index, h->record_count, s, err, sizeof(err)) < 0) {
        od_logf(OD_LOG_WARN, "route: %s-%d: replay: batch at %" PRId64 " does not decode: %s",
                p->topic->name, (int)p->index, h->base_offset, err);
        od_route_done(pend);
        return;
    }
    for (size_t i = 0; i < s->nrecs; i++)
        s->recs[i].offset = h->base_offset + s->recs[i].raw.offset_delta;
    size_t rejected;
    if (od_lua_vm_route(vm, p->topic->name, "", s->recs, s->nrecs, od_route_copies_max(),
                        &rejected) < 0) {
        const char *where;
        const char *e = od_lua_vm_error(vm, &where);
        od_logf(OD_LOG_ERROR, "route: %s-%d: replay of the batch at %" PRId64 " failed (%s): %s; "
                "its copies are not made", p->topic->name, (int)p->index, h->base_offset,
                where ? where : "?", e);
        od_route_done(pend);
        return;
    }
    /* Stored records stay as they are: only their copies are made again,
     * not of copies or dead letters, and not of what a route refuses now. */
    for (size_t i = 0; i < s->nrecs; i++) {
        od_route_rec_t *r = &s->recs[i];
        if (i >= rejected || r->action != OD_ROUTE_ACCEPT ||
            has_header(&r->raw, "odradek.copy.of") || has_header(&r->raw, "odradek.dlq.topic"))
            r->action = OD_ROUTE_REJECT; /* skipped below */
        else
            *copies += (int64_t)r->ncopies;
    }
    od_route_copies_only(core, pend);
    od_route_done(pend);
}

/* Go on with c's replay from c->resume; paused again (1) while the forward
 * buffer is full, so a replay holds no more than new produces would. */
static int replay_more(od_core_t *core, od_lua_vm_t *vm, od_partition_t *p, ckpt_t *c)
{
    int64_t off = c->resume, end = c->resume_end, stop = -1;
    while (off < end && stop < 0) {
        od_log_read_t rd;
        memset(&rd, 0, sizeof(rd));
        char err[256];
        if (core->storage->read(p->log, off, REPLAY_CHUNK, &rd, err, sizeof(err)) < 0 ||
            rd.nranges == 0)
            break;
        size_t len;
        uint8_t *buf = od_log_read_gather(&rd, &len);
        if (!buf)
            break;
        od_batch_iter_t it;
        od_batch_hdr_t h;
        size_t boff, bsz;
        int64_t next = off;
        od_batch_iter_init(&it, buf, len);
        while (od_batch_iter_next(&it, &h, &boff, &bsz) == 1) {
            int64_t last = h.base_offset + h.last_offset_delta;
            if (last >= off && od_route_forward_full()) {
                stop = h.base_offset > off ? h.base_offset : off;
                break;
            }
            if (last >= off && !(h.attributes & OD_BATCH_CONTROL))
                replay_batch(core, vm, p, buf + boff, bsz, &h, &c->replay_copies);
            next = last + 1;
        }
        free(buf);
        if (stop < 0 && next <= off)
            break;
        off = next;
    }
    if (stop >= 0) {
        if (!c->pause_logged++)
            od_logf(OD_LOG_INFO, "route: %s-%d: the replay waits while copies for other "
                    "brokers fill route.forward.buffer.bytes", p->topic->name, (int)p->index);
        c->resume = stop;
        put(core, p, c, safe_end(core, p));
        return 1;
    }
    c->resume = -1;
    od_logf(OD_LOG_INFO, "route: %s-%d: replayed the routes of offsets %" PRId64 "..%" PRId64
            " after the last checkpoint: %" PRId64 " copies appended again (at least once)",
            p->topic->name, (int)p->index, c->replay_from, end - 1, c->replay_copies);
    put(core, p, c, safe_end(core, p)); /* held where forwarded copies are pending */
    return 0;
}

static void replay(od_core_t *core, od_lua_vm_t *vm, od_partition_t *p)
{
    ckpt_t *c = ckpt_of(p->topic->name, p->index);
    int64_t end = od_partition_log_end(core, p), from;
    int got = get(core, p, &from);
    if (!c)
        return;
    if (got <= 0 || from >= end) {
        put(core, p, c, end); /* routes begin here */
        return;
    }
    int64_t start = od_partition_log_start(core, p);
    if (from < start)
        from = start;
    c->replay_from = c->resume = from;
    c->resume_end = end;
    c->replay_copies = 0;
    c->pause_logged = 0;
    replay_more(core, vm, p, c);
}

void od_route_checkpoint_touch(od_core_t *core, od_partition_t *p)
{
    if (!p || !p->log || !can_keep_state(core))
        return;
    if (!ckpt_find(p->topic->name, p->index)) {
        /* Not seen since the start (its log opened since): what the
         * stored checkpoint says is replayed before anything is added;
         * before the image has caught up, the checkpoint is left alone
         * (a tick replays this produce's records too). */
        if (!caught_up(core))
            return;
        replay(core, od_lua_current(core), p);
    }
    ckpt_t *c = ckpt_of(p->topic->name, p->index);
    if (c && c->written < 0) /* the first routed produce: routes begin here */
        put(core, p, c, safe_end(core, p));
}

int od_route_checkpoint_start(od_core_t *core, char *err, size_t errsz)
{
    (void)err;
    (void)errsz;
    each_partition(core, replay, clear_stale);
    return 0;
}

void od_route_checkpoint_tick(od_core_t *core, int64_t now_ms)
{
    (void)now_ms;
    each_partition(core, write_moved, clear_tracked);
}

void od_route_checkpoint_caught_up(od_core_t *core)
{
    each_partition(core, write_moved, clear_tracked);
}

void od_route_checkpoint_stop(od_core_t *core)
{
    each_partition(core, write_tracked, clear_tracked);
    free(ckpts);
    ckpts = NULL;
    nckpts = 0;
}
