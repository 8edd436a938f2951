/* od_lifecycle.c - the periodic side of a log's life: the retention check
 * and the compaction scheduler.
 *
 * Retention: every log.retention.check.interval.ms the storage backend's
 * enforce_retention runs on every local log whose cleanup.policy has
 * "delete" (the backend deletes whole segments from the front and moves
 * the log start offset; od_partition_log_start reads it from there, so
 * Fetch and ListOffsets follow without anything else to update).
 *
 * Compaction: every log.cleaner.backoff.ms a pass starts over the local
 * logs whose cleanup.policy has "compact". A pass is a series of rounds; a
 * round gives each such log one compact_step of at most
 * OD_COMPACT_BUDGET bytes of work. While any log reports more work, the
 * next round is a 0 ms timer, so the loop serves sockets between rounds and
 * produce/fetch never wait behind a whole cleaning. Logs are looked up by
 * topic and partition each round, never kept by pointer, so topics deleted
 * meanwhile are simply gone. */
#include "od_lifecycle.h"

#include <stdio.h>
#include <string.h>

#include "od_core.h"
#include "od_module.h"
#include "od_topic_config.h"

#define OD_COMPACT_BUDGET (4LL << 20)

static int64_t check_interval_ms;
static int64_t cleaner_enable;
static int64_t cleaner_backoff_ms;

static const od_conf_def_t lifecycle_defs[] = {
    {"log.retention.check.interval.ms", OD_CONF_INT, "300000", 1, INT64_MAX, NULL,
     "how often logs are checked for segments to delete by retention.ms and retention.bytes",
     &check_interval_ms, 0},
    {"log.cleaner.enable", OD_CONF_BOOL, "true", 0, 0, NULL,
     "compact logs whose cleanup.policy has compact", &cleaner_enable, 0},
    {"log.cleaner.backoff.ms", OD_CONF_INT, "15000", 0, INT64_MAX, NULL,
     "pause between compaction passes when no log has cleaning work left", &cleaner_backoff_ms, 0},
};

static struct {
    int64_t retention_timer; /* 0 when not armed */
    int64_t compact_timer;   /* 0 when no round is pending */
    int compacting;          /* a pass is under way */
    int64_t last_pass_end;   /* monotonic ms; 0 = never */
} lc;

int od_lifecycle_register_config(od_core_t *core, char *err, size_t errsz)
{
    return od_config_register(&core->config, lifecycle_defs,
                              sizeof(lifecycle_defs) / sizeof(lifecycle_defs[0]), "core", err,
                              errsz);
}

static int64_t topic_policy(od_core_t *core, const od_topic_t *t)
{
    (void)core;
    return t->cfg.cleanup_policy;
}

int od_lifecycle_enforce_retention(od_core_t *core)
{
    const od_storage_ops_t *st = core->storage;
    int total = 0;
    if (!st || !OD_OPS_HAS(st, enforce_retention))
        return 0;
    int64_t now = od_now_ms(); /* record timestamps are wall-clock */
    for (od_topic_t *t = od_image_next_topic(&core->image, NULL); t;
         t = od_image_next_topic(&core->image, t)) {
        if (!(topic_policy(core, t) & OD_CLEANUP_DELETE))
            continue;
        for (int32_t i = 0; i < t->npartitions; i++) {
            od_partition_t *p = t->partitions[i];
            char err[512];
            if (!p->log)
                continue;
            int n = st->enforce_retention(p->log, now, err, sizeof(err));
            if (n < 0)
                od_logf(OD_LOG_WARN, "retention of %s-%d: %s", t->name, i, err);
            else if (n > 0) {
                total += n;
                od_logf(OD_LOG_INFO, "retention: %s-%d deleted %d segment(s); log start offset "
                        "now %lld", t->name, i, n, (long long)od_partition_log_start(core, p));
            }
        }
    }
    return total;
}

static void on_retention(void *arg)
{
    od_core_t *core = arg;
    lc.retention_timer = 0;
    if (core->stopping)
        return;
    od_lifecycle_enforce_retention(core);
    lc.retention_timer = od_loop_timer(core->loop, check_interval_ms, on_retention, core);
}

/* One round: a step for every compacted local log. Returns 1 if any has
 * more work right now. */
static int compact_round(od_core_t *core)
{
    const od_storage_ops_t *st = core->storage;
    int more = 0;
    int64_t now = od_now_ms();
    for (od_topic_t *t = od_image_next_topic(&core->image, NULL); t;
         t = od_image_next_topic(&core->image, t)) {
        if (!(topic_policy(core, t) & OD_CLEANUP_COMPACT))
            continue;
        for (int32_t i = 0; i < t->npartitions; i++) {
            od_partition_t *p = t->partitions[i];
            char err[512];
            if (!p->log)
                continue;
            int rc = st->compact_step(p->log, now, OD_COMPACT_BUDGET, err, sizeof(err));
            if (rc < 0)
                od_logf(OD_LOG_WARN, "compaction of %s-%d: %s", t->name, i, err);
            else if (rc > 0)
                more = 1;
        }
    }
    return more;
}

static void on_compact(void *arg)
{
    od_core_t *core = arg;
    lc.compact_timer = 0;
    if (core->stopping) {
        lc.compacting = 0;
        return;
    }
    if (compact_round(core)) {
        lc.compact_timer = od_loop_timer(core->loop, 0, on_compact, core);
        if (lc.compact_timer > 0)
            return;
    }
    lc.compacting = 0;
    lc.last_pass_end = od_mono_ms();
}

void od_lifecycle_tick(od_core_t *core, int64_t now_ms)
{
    (void)now_ms; /* its timers and backoff run on the monotonic clock */
    if (core->stopping || !core->storage)
        return;
    if (!lc.retention_timer && OD_OPS_HAS(core->storage, enforce_retention)) {
        int64_t id = od_loop_timer(core->loop, check_interval_ms, on_retention, core);
        lc.retention_timer = id > 0 ? id : 0;
    }
    if (cleaner_enable && !lc.compacting && OD_OPS_HAS(core->storage, compact_step) &&
        (lc.last_pass_end == 0 || od_mono_ms() - lc.last_pass_end >= cleaner_backoff_ms)) {
        int64_t id = od_loop_timer(core->loop, 0, on_compact, core);
        if (id > 0) {
            lc.compact_timer = id;
            lc.compacting = 1;
        }
    }
}

void od_lifecycle_stop(od_core_t *core)
{
    if (lc.retention_timer)
        od_loop_cancel(core->loop, lc.retention_timer);
    if (lc.compact_timer)
        od_loop_cancel(core->loop, lc.compact_timer);
    memset(&lc, 0, sizeof(lc));
}
