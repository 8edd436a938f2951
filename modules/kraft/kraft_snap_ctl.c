/* kraft_snap_ctl.c - when the module snapshots its image, what it trims,
 * and how a start uses the newest snapshot (files: kraft_snapshot.c).
 *
 * Snapshots are written on the loop right after records were applied, so
 * the image and the applied offset agree: the snapshot's end offset is the
 * next batch to apply. Two snapshots are kept; trimming deletes segments
 * wholly below the older one (so that a start whose newest snapshot is
 * damaged can replay the log from the older one). As in Kafka, replicas'
 * progress does not hold the log back: one that falls below the leader's
 * log start fetches the leader's snapshot (kraft_snap_fetch.c), which
 * kraft_snap_install puts in place of its image and log. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kraft.h"
#include "kraft_log_int.h"
#include "kraft_snapshot.h"

#define KRAFT_SNAPSHOTS_KEPT 2

typedef struct snap_apply {
    kraft_t *k;
    int64_t offset; /* what the core is told: the snapshot's last offset */
} snap_apply_t;

static int apply_snap_record(void *arg, const kraft_record_t *r, char *err, size_t errsz)
{
    snap_apply_t *a = arg;
    char why[384] = "";
    if (!r->value || r->value_len <= 0) {
        snprintf(err, errsz, "snapshot record %" PRId64 " has no value", r->offset);
        return -1;
    }
    if (od_metadata_apply(a->k->core, r->value, (size_t)r->value_len, a->offset, why,
                          sizeof why) < 0) {
        snprintf(err, errsz, "snapshot record %" PRId64 " cannot be applied: %s", r->offset,
                 why[0] ? why : "rejected by the image");
        return -1;
    }
    a->k->snap_records_loaded++;
    return 0;
}

int kraft_snap_start(kraft_t *k, char *err, size_t errsz)
{
    kraft_snap_id_t *ids = NULL;
    size_t n = 0;
    int64_t good = -1; /* index into ids of the newest valid snapshot */
    k->snap_end = k->snap_oldest_end = -1;
    k->dl_active = 0;
    k->dl_fd = -1;
    k->snap_epoch = -1;
    k->applied_epoch = -1;
    k->snap_records_loaded = 0;
    k->snap_bytes_since = 0;
    k->snap_last_ms = od_mono_ms();
    if (kraft_snap_list(k->part_dir, &ids, &n, err, errsz) < 0)
        return -1;
    for (size_t i = n; i > 0 && good < 0; i--) {
        char why[512];
        if (kraft_snap_load(k->part_dir, ids[i - 1], NULL, NULL, NULL, why, sizeof why) == 0)
            good = (int64_t)i - 1;
        else
            od_logf(OD_LOG_WARN, "kraft: snapshot not used: %s", why);
    }
    if (kraft_log_open_from(&k->log, k->part_dir, k->cfg_segment_bytes,
                            good >= 0 ? ids[good].end_offset : -1, err, errsz) < 0) {
        free(ids);
        return -1;
    }
    /* A snapshot is only of use where the log can go on from it. */
    while (good >= 0) {
        char why[256];
        kraft_snap_id_t id = ids[good];
        if (id.end_offset >= kraft_log_start_offset(&k->log) &&
            kraft_log_cursor_at(&k->log, id.end_offset, &k->applied, why, sizeof why) == 0)
            break;
        od_logf(OD_LOG_WARN, "kraft: snapshot %020" PRId64 "-%010" PRId32 " not used: the "
                "metadata log [%" PRId64 ", %" PRId64 ") does not continue from it",
                id.end_offset, id.epoch, kraft_log_start_offset(&k->log), k->log.end_offset);
        good--;
    }
    if (good < 0) {
        free(ids);
        if (kraft_log_start_offset(&k->log) != 0) {
            snprintf(err, errsz, "the metadata log in %s starts at offset %" PRId64
                     " and no valid snapshot covers what is before it", k->part_dir,
                     kraft_log_start_offset(&k->log));
            kraft_log_close(&k->log);
            return -1;
        }
        kraft_log_cursor_init(&k->log, &k->applied);
        k->st.high_watermark = 0;
        return 0;
    }
    kraft_snap_id_t id = ids[good];
    k->snap_oldest_end = ids[0].end_offset <= id.end_offset ? ids[0].end_offset : id.end_offset;
    free(ids);
    snap_apply_t a = {k, id.end_offset - 1};
    char why[512];
    if (kraft_snap_load(k->part_dir, id, apply_snap_record, &a, NULL, why, sizeof why) < 0) {
        snprintf(err, errsz, "snapshot %020" PRId64 "-%010" PRId32 ": %s", id.end_offset,
                 id.epoch, why);
        kraft_log_close(&k->log);
        return -1;
    }
    k->snap_end = id.end_offset;
    k->snap_epoch = id.epoch;
    k->applied_epoch = id.epoch;
    if (k->log.nepochs == 0 && kraft_lg_note_epoch(&k->log, id.epoch, id.end_offset) < 0) {
        snprintf(err, errsz, "out of memory");
        kraft_log_close(&k->log);
        return -1;
    }
    k->st.high_watermark = id.end_offset; /* a snapshot is only taken of committed records */
    od_logf(OD_LOG_INFO, "kraft: loaded snapshot %020" PRId64 "-%010" PRId32 " (%" PRId64
            " records); the log is replayed from offset %" PRId64, id.end_offset, id.epoch,
            k->snap_records_loaded, id.end_offset);
    return 0;
}

/* Keeps the newest KRAFT_SNAPSHOTS_KEPT snapshots and notes where the
 * oldest one left ends (the trim bound). */
static void prune(kraft_t *k)
{
    char err[512];
    if (kraft_snap_prune(k->part_dir, KRAFT_SNAPSHOTS_KEPT, err, sizeof err) < 0)
        od_logf(OD_LOG_WARN, "kraft: %s", err);
    kraft_snap_id_t *ids;
    size_t n;
    if (kraft_snap_list(k->part_dir, &ids, &n, err, sizeof err) == 0 && n > 0)
        k->snap_oldest_end = ids[0].end_offset;
    free(ids);
}

static void write_snapshot(kraft_t *k)
{
    char err[512];
    od_meta_record_t *recs = NULL;
    size_t n = 0;
    kraft_snap_id_t id = {k->applied.offset, k->applied_epoch < 0 ? 0 : k->applied_epoch};
    int64_t t0 = od_mono_ms(), bytes = 0;
    if (od_metadata_snapshot(k->core, &recs, &n) < 0) {
        od_logf(OD_LOG_ERROR, "kraft: cannot take a snapshot of the image: out of memory");
        return;
    }
    int rc = kraft_snap_write(k->part_dir, id, recs, n, od_now_ms(), &bytes, err, sizeof err);
    for (size_t i = 0; i < n; i++)
        free((void *)recs[i].data);
    free(recs);
    /* Failed or not, the next try waits for the next threshold: a full
     * disk is not retried on every commit. */
    k->snap_bytes_since = 0;
    k->snap_last_ms = od_mono_ms();
    if (rc < 0) {
        od_logf(OD_LOG_ERROR, "kraft: snapshot at offset %" PRId64 " failed: %s",
                id.end_offset, err);
        return;
    }
    k->snap_end = id.end_offset;
    k->snap_epoch = id.epoch;
    k->snapshots_written++;
    od_logf(OD_LOG_INFO, "kraft: wrote snapshot %020" PRId64 "-%010" PRId32 ".checkpoint: %zu "
            "records, %" PRId64 " bytes, %" PRId64 " ms", id.end_offset, id.epoch, n, bytes,
            od_mono_ms() - t0);
    prune(k);
}

/* Where the log may start: the oldest snapshot kept (-1: keep everything).
 * As in Kafka, replicas that fall below it load the snapshot with
 * FetchSnapshot (kraft_snap_fetch.c). */
static int64_t trim_bound(const kraft_t *k)
{
    return k->snap_oldest_end;
}

int kraft_snap_install(kraft_t *k, int64_t end_offset, int32_t epoch, char *err, size_t errsz)
{
    kraft_snap_id_t id = {end_offset, epoch};
    snap_apply_t a = {k, end_offset - 1};
    char why[512];
    int64_t before = k->snap_records_loaded;
    /* The log goes first: if that fails the image is still the old one,
     * consistent with nothing, so the module stops taking changes. */
    if (kraft_log_reset(&k->log, end_offset, epoch, err, errsz) < 0)
        return -1;
    od_metadata_reset_begin(k->core);
    int rc = kraft_snap_load(k->part_dir, id, apply_snap_record, &a, NULL, why, sizeof why);
    od_metadata_reset_end(k->core);
    if (rc < 0) {
        snprintf(err, errsz, "%s", why);
        return -1;
    }
    kraft_log_cursor_init(&k->log, &k->applied);
    k->st.high_watermark = end_offset;
    k->applied_epoch = epoch;
    k->snap_end = end_offset;
    k->snap_epoch = epoch;
    k->snap_bytes_since = 0;
    k->snap_last_ms = od_mono_ms();
    prune(k);
    od_logf(OD_LOG_INFO, "kraft: installed snapshot %020" PRId64 "-%010" PRId32 " fetched from "
            "the leader (%" PRId64 " records); fetching goes on from offset %" PRId64,
            end_offset, epoch, k->snap_records_loaded - before, end_offset);
    return 0;
}

void kraft_snap_after_apply(kraft_t *k)
{
    if (k->fatal[0] || !k->core)
        return;
    int64_t since = od_mono_ms() - k->snap_last_ms;
    if (k->snap_bytes_since > 0 && k->applied.offset > k->snap_end &&
        (k->snap_bytes_since >= k->cfg_snap_bytes ||
         (k->cfg_snap_interval_ms > 0 && since >= k->cfg_snap_interval_ms)))
        write_snapshot(k);
    int64_t bound = trim_bound(k);
    if (bound <= kraft_log_start_offset(&k->log) || k->log.nsegs < 2 ||
        k->log.segs[1].base_offset > bound)
        return;
    char err[512];
    int64_t before = kraft_log_start_offset(&k->log);
    int dropped = kraft_log_trim(&k->log, bound, err, sizeof err);
    if (dropped < 0) {
        od_logf(OD_LOG_WARN, "kraft: trimming the metadata log: %s", err);
        return;
    }
    k->applied.seg -= (size_t)dropped;
    k->segments_trimmed += dropped;
    od_logf(OD_LOG_INFO, "kraft: metadata log start offset %" PRId64 " -> %" PRId64
            " (%d segments deleted below snapshot %" PRId64 ")", before,
            kraft_log_start_offset(&k->log), dropped, k->snap_oldest_end);
}
