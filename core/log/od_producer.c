/* od_producer.c - producer state of local partitions: loading (snapshot +
 * replay of batch headers), snapshots through the storage backend's
 * put_state, expiry, and the core hooks. The checks themselves are in
 * od_pstate.c. */
#include "od_producer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "od_batch.h"
#include "od_core.h"
#include "od_module.h"

#define STATE_NAME "producer-state"
/* A dirty state is written at most this often, or after this many appends
 * (whichever comes first, checked every tick): a restart then replays at
 * most about this much log. */
#define SNAPSHOT_INTERVAL_MS 10000
#define SNAPSHOT_APPENDS     5000
#define REPLAY_READ_BYTES    (1u << 20)

int64_t od_producer_id_expiration_ms;
int64_t od_transactional_id_expiration_ms;
static int64_t expiration_check_interval_ms;
static int64_t last_expiry_check_ms;

static const od_conf_def_t producer_defs[] = {
    {"producer.id.expiration.ms", OD_CONF_INT, "86400000", 1, INT64_MAX, NULL,
     "forget an idempotent producer's sequence state after it has not written for this long",
     &od_producer_id_expiration_ms, 0},
    {"producer.id.expiration.check.interval.ms", OD_CONF_INT, "600000", 1, INT64_MAX, NULL,
     "how often producer state is checked for expired producer ids",
     &expiration_check_interval_ms, 0},
    {"transactional.id.expiration.ms", OD_CONF_INT, "604800000", 1, INT32_MAX, NULL,
     "expiry of idle transactional ids (transactions are not supported yet)",
     &od_transactional_id_expiration_ms, 0},
};

int od_producer_register_config(od_core_t *core, char *err, size_t errsz)
{
    return od_config_register(&core->config, producer_defs,
                              sizeof(producer_defs) / sizeof(producer_defs[0]), "core", err, errsz);
}

static void pname(const od_partition_t *p, char *buf, size_t n)
{
    snprintf(buf, n, "%s-%d", p->topic ? p->topic->name : "?", p->index);
}

/* ---- replay ---- */

static void replay_batch(od_pstate_t *s, const od_batch_hdr_t *h, int64_t from, int64_t now)
{
    int64_t last = h->base_offset + h->last_offset_delta;
    if (last < from || h->magic != 2 || h->producer_id < 0 ||
        (h->attributes & OD_BATCH_CONTROL) || h->base_sequence < 0 || h->last_offset_delta < 0)
        return;
    int64_t ts = h->max_timestamp > 0 && h->max_timestamp <= now ? h->max_timestamp : now;
    od_pstate_update(s, h->producer_id, h->producer_epoch, h->base_sequence,
                     od_pseq_add(h->base_sequence, h->last_offset_delta), h->base_offset, last,
                     h->max_timestamp, ts);
}

/* Walk the batches of one read range; *next gets the offset after the
 * last whole batch seen. Returns -1 on a read error. */
static int replay_range(od_pstate_t *s, const od_log_range_t *r, int64_t from, int64_t now,
                        int64_t *next)
{
    od_batch_hdr_t h;
    if (!r->is_file) {
        od_batch_iter_t it;
        size_t off, size;
        od_batch_iter_init(&it, r->mem, r->len);
        while (od_batch_iter_next(&it, &h, &off, &size) == 1) {
            replay_batch(s, &h, from, now);
            *next = h.base_offset + h.last_offset_delta + 1;
        }
        return 0;
    }
    /* File ranges: only the 61-byte headers are read. */
    uint8_t hdr[OD_BATCH_HEADER_SIZE];
    size_t pos = 0;
    while (pos + OD_BATCH_HEADER_SIZE <= r->len) {
        ssize_t got = pread(r->fd, hdr, sizeof(hdr), r->file_off + (off_t)pos);
        if (got != (ssize_t)sizeof(hdr))
            return -1;
        if (od_batch_parse_header(hdr, sizeof(hdr), &h) < 0 || h.batch_length < OD_BATCH_MIN_LENGTH)
            return -1;
        size_t size = OD_BATCH_LOG_OVERHEAD + (size_t)h.batch_length;
        if (pos + size > r->len)
            break;
        replay_batch(s, &h, from, now);
        *next = h.base_offset + h.last_offset_delta + 1;
        pos += size;
    }
    return 0;
}

static int replay(od_core_t *core, od_log_t *log, od_pstate_t *s, int64_t from, char *err,
                  size_t errsz)
{
    int64_t end = core->storage->end_offset(log);
    int64_t now = od_now_ms();
    int64_t off = from;
    while (off < end) {
        od_log_read_t rd;
        memset(&rd, 0, sizeof(rd));
        if (core->storage->read(log, off, REPLAY_READ_BYTES, &rd, err, errsz) < 0)
            return -1;
        int64_t next = off;
        int rc = 0;
        for (size_t i = 0; i < rd.nranges; i++) {
            if (rc == 0 && replay_range(s, &rd.ranges[i], off, now, &next) < 0) {
                snprintf(err, errsz, "reading batch headers at offset %" PRId64 " failed", next);
                rc = -1;
            }
            if (rd.ranges[i].release)
                rd.ranges[i].release(rd.ranges[i].opaque);
        }
        if (rc < 0)
            return -1;
        if (next <= off) /* nothing whole came back: gap or end */
            break;
        off = next;
    }
    return 0;
}

/* ---- loading and snapshots ---- */

static od_pstate_t *load(od_core_t *core, od_partition_t *p)
{
    char name[300], why[256];
    pname(p, name, sizeof(name));
    int64_t start = core->storage->start_offset(p->log);
    int64_t end = core->storage->end_offset(p->log);
    od_pstate_t *s = NULL;
    int64_t covered = -1;
    if (OD_OPS_HAS(core->storage, get_state)) {
        void *data = NULL;
        size_t len = 0;
        int rc = core->storage->get_state(p->log, STATE_NAME, &data, &len, why, sizeof(why));
        if (rc < 0)
            od_logf(OD_LOG_WARN, "%s: cannot read the producer state snapshot (%s); "
                    "rebuilding it from the log", name, why);
        else if (rc == 1 && od_pstate_decode(data, len, &s, &covered, why, sizeof(why)) < 0)
            od_logf(OD_LOG_WARN, "%s: producer state snapshot refused (%s); rebuilding it from "
                    "the log", name, why);
        free(data);
        if (s && covered > end) {
            /* The log lost its tail after the snapshot was taken. */
            od_logf(OD_LOG_WARN, "%s: producer state snapshot covers offset %" PRId64
                    " beyond the log end %" PRId64 "; rebuilding it from the log", name, covered,
                    end);
            od_pstate_free(s);
            s = NULL;
        }
    }
    if (!s) {
        covered = start;
        if (!(s = od_pstate_new()))
            return NULL;
    }
    int64_t from = covered > start ? covered : start;
    int64_t t0 = od_mono_ms();
    if (replay(core, p->log, s, from, why, sizeof(why)) < 0)
        od_logf(OD_LOG_WARN, "%s: producer state replay stopped early: %s", name, why);
    s->last_snapshot_ms = od_now_ms();
    if (from < end)
        od_logf(OD_LOG_DEBUG, "%s: producer state: %zu producer(s), replayed offsets %" PRId64
                "..%" PRId64 " in %" PRId64 " ms", name, s->n, from, end, od_mono_ms() - t0);
    return s;
}

od_pstate_t *od_producer_state(od_core_t *core, od_partition_t *p)
{
    if (!p->producer_state && p->log)
        p->producer_state = load(core, p);
    return p->producer_state;
}

static void snapshot(od_core_t *core, od_partition_t *p, int64_t now)
{
    od_pstate_t *s = p->producer_state;
    if (!s || !s->dirty || !p->log || !OD_OPS_HAS(core->storage, put_state))
        return;
    size_t len;
    uint8_t *buf = od_pstate_encode(s, core->storage->end_offset(p->log), &len);
    if (!buf)
        return;
    char why[256];
    if (core->storage->put_state(p->log, STATE_NAME, buf, len, why, sizeof(why)) < 0) {
        char name[300];
        pname(p, name, sizeof(name));
        od_logf(OD_LOG_WARN, "%s: writing the producer state snapshot failed: %s", name, why);
    } else {
        s->dirty = 0;
        s->appends_since_snapshot = 0;
    }
    s->last_snapshot_ms = now;
    free(buf);
}

void od_producer_appended(od_core_t *core, od_partition_t *p, int64_t pid, int16_t epoch,
                          int32_t first_seq, int32_t last_seq, int64_t first_offset,
                          int64_t last_offset, int64_t timestamp)
{
    od_pstate_t *s = od_producer_state(core, p);
    if (s && od_pstate_update(s, pid, epoch, first_seq, last_seq, first_offset, last_offset,
                              timestamp, od_now_ms()) < 0)
        od_logf(OD_LOG_ERROR, "producer state: out of memory");
}

void od_producer_truncated(od_core_t *core, od_partition_t *p)
{
    (void)core;
    od_pstate_free(p->producer_state); /* a snapshot past the new end is refused at load */
    p->producer_state = NULL;
}

void od_producer_partition_closing(od_core_t *core, od_partition_t *p, int deleted)
{
    if (!p->producer_state)
        return;
    if (!deleted)
        snapshot(core, p, od_now_ms());
    od_pstate_free(p->producer_state);
    p->producer_state = NULL;
}

/* ---- core hooks ---- */

typedef void (*part_fn)(od_core_t *core, od_partition_t *p, int64_t now);

static void each_local_partition(od_core_t *core, part_fn fn, int64_t now)
{
    for (od_topic_t *t = od_image_next_topic(&core->image, NULL); t;
         t = od_image_next_topic(&core->image, t))
        for (int32_t i = 0; i < t->npartitions; i++)
            if (t->partitions[i]->log)
                fn(core, t->partitions[i], now);
}

static void load_one(od_core_t *core, od_partition_t *p, int64_t now)
{
    (void)now;
    od_producer_state(core, p);
}

int od_producer_start(od_core_t *core, char *err, size_t errsz)
{
    (void)err;
    (void)errsz;
    if (!OD_OPS_HAS(core->storage, put_state))
        od_logf(OD_LOG_WARN, "storage backend %s keeps no producer state snapshots: idempotent "
                "producer state is rebuilt from the whole log at start", core->storage->name);
    last_expiry_check_ms = od_now_ms();
    each_local_partition(core, load_one, 0);
    return 0;
}

static void tick_one(od_core_t *core, od_partition_t *p, int64_t now)
{
    od_pstate_t *s = p->producer_state;
    if (!s)
        return;
    if (now - last_expiry_check_ms >= expiration_check_interval_ms) {
        size_t gone = od_pstate_expire(s, now, od_producer_id_expiration_ms);
        if (gone) {
            char name[300];
            pname(p, name, sizeof(name));
            od_logf(OD_LOG_INFO, "%s: %zu idle producer id(s) expired", name, gone);
        }
    }
    if (s->dirty && (now - s->last_snapshot_ms >= SNAPSHOT_INTERVAL_MS ||
                     s->appends_since_snapshot >= SNAPSHOT_APPENDS))
        snapshot(core, p, now);
}

void od_producer_tick(od_core_t *core, int64_t now_ms)
{
    each_local_partition(core, tick_one, now_ms);
    if (now_ms - last_expiry_check_ms >= expiration_check_interval_ms) {
        od_initpid_expire(core, now_ms, od_producer_id_expiration_ms);
        last_expiry_check_ms = now_ms;
    }
}

static void snapshot_one(od_core_t *core, od_partition_t *p, int64_t now)
{
    snapshot(core, p, now);
}

void od_producer_stop(od_core_t *core)
{
    each_local_partition(core, snapshot_one, od_now_ms());
    od_initpid_reset(core);
}
