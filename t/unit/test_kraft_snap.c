/* test_kraft_snap.c - snapshots of the metadata image: the file format
 * (write, list, load, CRC and framing checks, unfinished and damaged files,
 * pruning), trimming of the metadata log below a snapshot, and the module's
 * use of them: snapshots written by size, segments deleted, a restart that
 * loads the newest snapshot and replays only the log after it, and the
 * fallback to the older snapshot when the newest is damaged.
 *
 * Linked like test_kraft: the module's sources with the stand-in core of
 * kraft_fixture.c, whose image od_metadata_snapshot() hands back. */
#include "../../modules/kraft/kraft_snapshot.h"
#include "kraft_fixture.h"
#include "tap.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static int count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    size_t sl = strlen(suffix);
    while (d && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l > sl && strcmp(e->d_name + l - sl, suffix) == 0)
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

static void flip_byte(const char *path, off_t at)
{
    int fd = open(path, O_RDWR);
    uint8_t c;
    if (fd < 0 || pread(fd, &c, 1, at) != 1) {
        tap_diag("flip %s: cannot read", path);
    } else {
        c ^= 0x40;
        if (pwrite(fd, &c, 1, at) != 1)
            tap_diag("flip %s: cannot write", path);
    }
    if (fd >= 0)
        close(fd);
}

/* ---- the file format ------------------------------------------------------ */

typedef struct collected {
    int n;
    char first[32], last[32];
    int in_order;
} collected_t;

static int collect(void *arg, const kraft_record_t *r, char *err, size_t errsz)
{
    collected_t *c = arg;
    char want[32], got[32];
    (void)err, (void)errsz;
    snprintf(want, sizeof want, "rec-%d", c->n);
    snprintf(got, sizeof got, "%.*s", r->value_len, (const char *)r->value);
    if (strcmp(want, got) != 0)
        c->in_order = 0;
    if (c->n == 0)
        snprintf(c->first, sizeof c->first, "%s", got);
    snprintf(c->last, sizeof c->last, "%s", got);
    c->n++;
    return 0;
}

static void test_files(void)
{
    char dir[600], err[512] = "";
    snprintf(dir, sizeof dir, "%s/files", kfx_root);
    tap_ok(kraft_mkdirs(dir, err, sizeof err) == 0, "files: directory");
    enum { N = 2500 }; /* three data batches of 1024 records at most */
    static char vals[N][16];
    static od_meta_record_t recs[N];
    for (int i = 0; i < N; i++) {
        snprintf(vals[i], sizeof vals[i], "rec-%d", i);
        recs[i].data = (const uint8_t *)vals[i];
        recs[i].len = strlen(vals[i]);
    }
    kraft_snap_id_t a = {100, 3}, b = {250, 4};
    int64_t bytes = 0;
    tap_ok(kraft_snap_write(dir, a, recs, N, 1700000000000, &bytes, err, sizeof err) == 0 &&
               bytes > N * 6,
           "files: a snapshot of %d records is written (%s)", N, err);
    tap_ok(access(kfx_path(dir, "00000000000000000100-0000000003.checkpoint"), F_OK) == 0 &&
               count_files(dir, ".part") == 0,
           "files: named <20-digit end offset>-<10-digit epoch>.checkpoint, no .part left");
    collected_t c = {.in_order = 1};
    int64_t nrec = -1;
    tap_ok(kraft_snap_load(dir, a, collect, &c, &nrec, err, sizeof err) == 0 && nrec == N &&
               c.n == N && c.in_order && strcmp(c.last, "rec-2499") == 0,
           "files: loaded back, all records in order (%s)", err);
    tap_ok(kraft_snap_write(dir, b, recs, 10, 1700000000000, NULL, err, sizeof err) == 0,
           "files: a second snapshot");
    /* A write that did not finish: list deletes it and does not offer it. */
    FILE *f = fopen(kfx_path(dir, "00000000000000000300-0000000004.checkpoint.part"), "w");
    if (f)
        fclose(f);
    kraft_snap_id_t *ids;
    size_t n;
    tap_ok(kraft_snap_list(dir, &ids, &n, err, sizeof err) == 0 && n == 2 &&
               ids[0].end_offset == 100 && ids[0].epoch == 3 && ids[1].end_offset == 250 &&
               count_files(dir, ".part") == 0,
           "files: list gives both, oldest first, and removes the unfinished one");
    free(ids);

    char *pa = kraft_snap_path(dir, a, 0);
    struct stat st;
    stat(pa, &st);
    flip_byte(pa, st.st_size / 2);
    c = (collected_t){.in_order = 1};
    tap_ok(kraft_snap_load(dir, a, collect, &c, NULL, err, sizeof err) == -1 &&
               strstr(err, "CRC") && c.n == 0,
           "files: a flipped byte is a CRC mismatch and nothing is handed out (%s)", err);
    flip_byte(pa, st.st_size / 2);
    tap_ok(truncate(pa, st.st_size - 10) == 0 &&
               kraft_snap_load(dir, a, NULL, NULL, NULL, err, sizeof err) == -1 &&
               strstr(err, "partial"),
           "files: a cut file is refused (%s)", err);
    /* Whole batches but no footer: cut exactly before the last batch. */
    tap_ok(truncate(pa, 0) == 0 &&
               kraft_snap_write(dir, a, recs, 3, 1700000000000, &bytes, err, sizeof err) == 0,
           "files: rewritten small");
    kraft_snap_id_t none = {999, 9};
    tap_ok(kraft_snap_load(dir, none, NULL, NULL, NULL, err, sizeof err) == -1 &&
               strstr(err, "cannot open"),
           "files: a missing snapshot is an error");
    free(pa);
    kraft_snap_id_t cc = {400, 5};
    tap_ok(kraft_snap_write(dir, cc, recs, 1, 1700000000000, NULL, err, sizeof err) == 0 &&
               kraft_snap_prune(dir, 2, err, sizeof err) == 0 &&
               kraft_snap_list(dir, &ids, &n, err, sizeof err) == 0 && n == 2 &&
               ids[0].end_offset == 250 && ids[1].end_offset == 400,
           "files: prune keeps the newest two");
    free(ids);
}

/* ---- trimming the log ------------------------------------------------------- */

static void test_trim(void)
{
    char dir[600], err[512] = "";
    snprintf(dir, sizeof dir, "%s/trim", kfx_root);
    kraft_log_t log;
    tap_ok(kraft_log_open(&log, dir, 1024, err, sizeof err) == 0, "trim: open");
    char v[64];
    memset(v, 'x', sizeof v);
    od_meta_record_t rec[4];
    for (int i = 0; i < 4; i++)
        rec[i] = (od_meta_record_t){(const uint8_t *)v, sizeof v};
    int64_t base;
    for (int i = 0; i < 40; i++)
        kraft_log_append(&log, 1 + i / 20, 0, NULL, rec, 4, 1700000000000, &base, err,
                         sizeof err);
    size_t nsegs = log.nsegs;
    int64_t cut = log.segs[3].base_offset;
    tap_ok(nsegs > 5 && log.end_offset == 160, "trim: 160 records in %zu segments", nsegs);
    tap_ok(kraft_log_trim(&log, cut + 1, err, sizeof err) == 3 && log.nsegs == nsegs - 3 &&
               kraft_log_start_offset(&log) == cut && log.epochs[0].start_offset == cut,
           "trim: the 3 segments wholly below offset %lld go, the log starts at it",
           (long long)cut + 1);
    tap_ok(kraft_log_trim(&log, 100000, err, sizeof err) == (int)(nsegs - 4) && log.nsegs == 1,
           "trim: the active segment always stays");
    int64_t start = kraft_log_start_offset(&log);
    kraft_log_cursor_t c;
    tap_ok(kraft_log_cursor_at(&log, start, &c, err, sizeof err) == 0 && c.seg == 0 &&
               kraft_log_cursor_at(&log, 2, &c, err, sizeof err) == -2,
           "trim: a cursor can start at the log start, not below it");
    kraft_log_close(&log);
    tap_ok(kraft_log_open(&log, dir, 1024, err, sizeof err) == -1 && strstr(err, "no snapshot"),
           "trim: without a snapshot a trimmed log does not open");
    tap_ok(kraft_log_open_from(&log, dir, 1024, start, err, sizeof err) == 0 &&
               log.end_offset == 160 && kraft_log_start_offset(&log) == start,
           "trim: with a snapshot at its start it opens (%s)", err);
    kraft_log_close(&log);
    tap_ok(kraft_log_open_from(&log, dir, 1024, start - 1, err, sizeof err) == -1,
           "trim: a snapshot that ends before the log start does not cover the gap");
}

/* ---- the module ------------------------------------------------------------- */

static void on_done(void *arg, int status, const char *msg)
{
    (void)msg;
    *(int *)arg = status;
}

static int propose_n(od_module_ctx_t *ctx, int from, int n)
{
    char err[256], vals[8][32];
    od_meta_record_t recs[8];
    for (int i = 0; i < n; i++) {
        snprintf(vals[i], sizeof vals[i], "rec-%d", from + i);
        recs[i] = (od_meta_record_t){(const uint8_t *)vals[i], strlen(vals[i])};
    }
    int status = 1;
    ctx->ops->propose(ctx->self, recs, (size_t)n, on_done, &status, err, sizeof err);
    kfx_end_of_turn();
    return status;
}

static int image_is_sequence(const od_core_t *core, int n)
{
    if (core->applied != n)
        return 0;
    for (int i = 0; i < n; i++) {
        char want[32];
        snprintf(want, sizeof want, "rec-%d", i);
        if (strcmp(core->values[i], want) != 0)
            return 0;
    }
    return 1;
}

static void test_module(void)
{
    od_module_ctx_t ctx = {0};
    static od_core_t core; /* its image is large for the stack */
    char err[512] = "", part[600];
    kfx_core_init(&core, 1, "module");
    snprintf(part, sizeof part, "%s/__cluster_metadata-0", core.data_dir);
    tap_ok(od_module.init(&ctx, err, sizeof err) == 0, "module: init");
    kfx_set_conf(&ctx, "metadata.log.segment.bytes", NULL, 1024);
    kfx_set_conf(&ctx, "metadata.log.max.record.bytes.between.snapshots", NULL, 400);
    tap_ok(ctx.ops->start(ctx.self, &core, err, sizeof err) == 0, "module: start (%s)", err);
    int ok = 1, total = 0;
    for (int i = 0; i < 200; i++, total += 4)
        ok &= propose_n(&ctx, total, 4) == 0;
    tap_ok(ok && image_is_sequence(&core, total), "module: %d records committed and applied",
           total);
    kraft_t *k = ctx.self;
    tap_ok(k->snapshots_written >= 5 && count_files(part, ".checkpoint") == 2,
           "module: snapshots written by size (%lld), the newest two kept",
           (long long)k->snapshots_written);
    tap_ok(k->segments_trimmed > 0 &&
               access(kfx_path(part, "00000000000000000000.log"), F_OK) != 0 &&
               kraft_log_start_offset(&k->log) > 0 &&
               kraft_log_start_offset(&k->log) <= k->snap_oldest_end,
           "module: segments below the older snapshot deleted, log start %lld",
           (long long)kraft_log_start_offset(&k->log));
    ctx.ops->stop(ctx.self);

    kfx_image_clear(&core);
    tap_ok(ctx.ops->start(ctx.self, &core, err, sizeof err) == 0 && image_is_sequence(&core, total),
           "module: a restart rebuilds the same image (%s)", err);
    tap_ok(k->snap_records_loaded > 0 && k->records_applied < total / 4 &&
               k->snap_records_loaded + k->records_applied == total,
           "module: from the snapshot (%lld records) and a short log tail (%lld), not the "
           "whole log", (long long)k->snap_records_loaded, (long long)k->records_applied);
    tap_ok(propose_n(&ctx, total, 4) == 0 && image_is_sequence(&core, total + 4),
           "module: proposals go on after a start from a snapshot");
    total += 4;
    ctx.ops->stop(ctx.self);

    /* The newest snapshot damaged: the older one and the log after it. */
    kraft_snap_id_t *ids;
    size_t n;
    tap_ok(kraft_snap_list(part, &ids, &n, err, sizeof err) == 0 && n == 2, "module: two snapshots");
    char *newest = kraft_snap_path(part, ids[1], 0);
    struct stat st;
    stat(newest, &st);
    flip_byte(newest, st.st_size - 20);
    kfx_image_clear(&core);
    kfx_warnings = 0;
    tap_ok(ctx.ops->start(ctx.self, &core, err, sizeof err) == 0 &&
               image_is_sequence(&core, total) && kfx_warnings >= 1 &&
               strstr(kfx_last_warning, "snapshot not used"),
           "module: a damaged newest snapshot is skipped with a warning (%s)", kfx_last_warning);
    tap_ok(k->snap_records_loaded > 0 && k->snap_records_loaded < total,
           "module: the older snapshot was used");
    ctx.ops->stop(ctx.self);

    /* All damaged (the start above may have written a new one from the
     * replayed tail): the log no longer starts at 0, so the start stops. */
    free(ids);
    tap_ok(kraft_snap_list(part, &ids, &n, err, sizeof err) == 0 && n >= 1, "module: listed");
    for (size_t i = 0; i < n; i++) {
        char *p = kraft_snap_path(part, ids[i], 0);
        stat(p, &st);
        if (kraft_snap_load(part, ids[i], NULL, NULL, NULL, err, sizeof err) == 0)
            flip_byte(p, st.st_size - 20); /* the one damaged above stays so */
        free(p);
    }
    kfx_image_clear(&core);
    tap_ok(ctx.ops->start(ctx.self, &core, err, sizeof err) == -1 &&
               strstr(err, "starts at offset") && strstr(err, "snapshot"),
           "module: with no valid snapshot for a trimmed log the start stops (%s)", err);
    free(newest);
    free(ids);
    kfx_image_clear(&core);
    od_module.fini(&ctx);
}

int main(void)
{
    if (kfx_root_make("test_kraft_snap") < 0)
        return 1;
    test_files();
    test_trim();
    test_module();
    kfx_root_remove();
    return tap_done();
}
