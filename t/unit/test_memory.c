/* test_memory.c - the "memory" storage module, loaded through its
 * od_module entry point with the core services stubbed out. */
#include "od_batch.h"
#include "odradek-module.h"
#include "tap.h"

#include <stdlib.h>

extern const od_module_t od_module;

/* ---- core stubs -------------------------------------------------------- */

static const od_storage_ops_t *g_ops;
static void *g_self, *g_data;
static int g_registrations;

int od_register_storage(od_module_ctx_t *ctx, const od_storage_ops_t *ops, void *self)
{
    g_ops = ops;
    g_self = self;
    g_registrations++;
    return 0;
}
void od_module_set_data(od_module_ctx_t *ctx, void *data) { g_data = data; }
void *od_module_get_data(od_module_ctx_t *ctx) { return g_data; }
void od_logf(int level, const char *fmt, ...) {}

/* ---- helpers ----------------------------------------------------------- */

/* A batch of n records with timestamps ts, ts+1, ..., numbered from base. */
static uint8_t *batch(int64_t base, int n, int64_t ts, size_t *len)
{
    od_batch_builder_t bb;
    od_batch_builder_init(&bb, base);
    for (int i = 0; i < n; i++)
        od_batch_builder_add(&bb, ts + i, "k", 1, "value", 5);
    return od_batch_builder_finish(&bb, len);
}

static int append(od_log_t *log, const uint8_t *p, size_t n)
{
    char err[200];
    od_append_info_t info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    return g_ops->append(log, p, n, &info, err, sizeof err);
}

static void release_all(od_log_read_t *r)
{
    for (size_t i = 0; i < r->nranges; i++)
        r->ranges[i].release(r->ranges[i].opaque);
    r->nranges = 0;
}

/* Concatenate what a read returned. Caller frees. */
static uint8_t *flatten(const od_log_read_t *r)
{
    uint8_t *p = malloc(r->total ? r->total : 1);
    size_t pos = 0;
    for (size_t i = 0; i < r->nranges; i++) {
        memcpy(p + pos, r->ranges[i].mem, r->ranges[i].len);
        pos += r->ranges[i].len;
    }
    return p;
}

int main(void)
{
    char err[200];
    od_log_config_t cfg;
    od_log_t *log, *log2;
    od_log_read_t rd;
    uint8_t *b1, *b2, *b3a, *b3b, *two, *all, *flat;
    size_t n1, n2, n3a, n3b, nall;
    int64_t ts;

    tap_no_plan();
    tap_ok(od_module.abi_major == OD_ABI_MAJOR && od_module.kinds == OD_KIND_STORAGE &&
               !strcmp(od_module.name, "storage_memory"),
           "module descriptor");
    tap_is_int(od_module.init((od_module_ctx_t *)&g_data, err, sizeof err), 0, "init");
    tap_ok(g_registrations == 1 && g_ops && !strcmp(g_ops->name, "memory") &&
               g_ops->struct_size == sizeof(od_storage_ops_t) && g_data == g_self,
           "registers the \"memory\" backend");
    tap_is_int(g_ops->start(g_self, "/nonexistent", err, sizeof err), 0, "start");

    memset(&cfg, 0, sizeof cfg);
    cfg.struct_size = sizeof cfg;
    tap_is_int(g_ops->open(g_self, "t-0", &cfg, &log, err, sizeof err), 0, "open t-0");
    tap_ok(g_ops->open(g_self, "t-0", &cfg, &log2, err, sizeof err) == -1,
           "second open refused: %s", err);
    tap_ok(g_ops->start_offset(log) == 0 && g_ops->end_offset(log) == 0, "new log is empty at 0");
    tap_ok(g_ops->read(log, 0, 1000, &rd, err, sizeof err) == 0 && rd.nranges == 0 && rd.total == 0,
           "read at the end is empty");
    tap_is_int(g_ops->read(log, 1, 1000, &rd, err, sizeof err), -1, "read past the end fails");
    tap_is_int(g_ops->offset_for_time(log, 0, &ts), -1, "no offset for time in an empty log");

    b1 = batch(0, 3, 1000, &n1);   /* 0..2, max ts 1002 */
    b2 = batch(3, 2, 5000, &n2);   /* 3..4, max ts 5001 */
    b3a = batch(5, 2, 2000, &n3a); /* 5..6, max ts 2001 */
    b3b = batch(7, 3, 9000, &n3b); /* 7..9, max ts 9002 */
    two = malloc(n3a + n3b);
    memcpy(two, b3a, n3a);
    memcpy(two + n3a, b3b, n3b);
    nall = n1 + n2 + n3a + n3b;
    all = malloc(nall);
    memcpy(all, b1, n1);
    memcpy(all + n1, b2, n2);
    memcpy(all + n1 + n2, two, n3a + n3b);

    tap_is_int(append(log, b1, n1), 0, "append batch 0..2");
    tap_is_int(append(log, b2, n2), 0, "append batch 3..4");
    tap_is_int(append(log, two, n3a + n3b), 0, "append two batches 5..9 at once");
    tap_is_int(g_ops->end_offset(log), 10, "end offset 10");
    tap_is_int(g_ops->size_bytes(log), (int64_t)nall, "size in bytes");
    tap_is_int(append(log, b2, n2), -1, "append with old offsets refused");
    tap_is_int(append(log, b1, n1 - 1), -1, "truncated append refused");
    tap_is_int(g_ops->end_offset(log), 10, "failed appends change nothing");
    tap_is_int(append(log, b1, 0), 0, "empty append is a no-op");

    tap_is_int(g_ops->read(log, 0, 1 << 20, &rd, err, sizeof err), 0, "read all");
    flat = flatten(&rd);
    tap_ok(rd.nranges == 3 && rd.total == nall && !memcmp(flat, all, nall),
           "three ranges (one per append) with every byte");
    tap_ok(!rd.ranges[0].is_file && rd.ranges[2].len == n3a + n3b,
           "memory ranges; batches of one append merge");
    free(flat);
    release_all(&rd);

    tap_ok(g_ops->read(log, 4, 1 << 20, &rd, err, sizeof err) == 0 && rd.total == nall - n1 &&
               rd.ranges[0].mem[7] == 3,
           "read inside a batch starts at that batch");
    release_all(&rd);
    tap_ok(g_ops->read(log, 0, 1, &rd, err, sizeof err) == 0 && rd.nranges == 1 && rd.total == n1,
           "max_bytes below one batch still returns that batch");
    release_all(&rd);
    tap_ok(g_ops->read(log, 5, n3a + 1, &rd, err, sizeof err) == 0 && rd.total == n3a,
           "max_bytes stops before the next whole batch");
    release_all(&rd);
    tap_ok(g_ops->read(log, 10, 100, &rd, err, sizeof err) == 0 && rd.nranges == 0, "read at end");
    tap_is_int(g_ops->read(log, 11, 100, &rd, err, sizeof err), -1, "read beyond end fails");
    tap_is_int(g_ops->read(log, -1, 100, &rd, err, sizeof err), -1, "negative offset fails");

    tap_ok(g_ops->offset_for_time(log, 0, &ts) == 0 && ts == 1002, "time 0 -> offset 0");
    tap_ok(g_ops->offset_for_time(log, 1002, &ts) == 0, "time 1002 -> offset 0");
    tap_ok(g_ops->offset_for_time(log, 1003, &ts) == 3 && ts == 5001, "time 1003 -> offset 3");
    tap_ok(g_ops->offset_for_time(log, 3000, &ts) == 3,
           "time 3000 -> offset 3 (not the later 2001 batch)");
    tap_ok(g_ops->offset_for_time(log, 5002, &ts) == 7 && ts == 9002, "time 5002 -> offset 7");
    tap_is_int(g_ops->offset_for_time(log, 9003, &ts), -1, "time after everything -> -1");

    /* Close keeps the data; re-open finds it. */
    g_ops->close(log);
    tap_is_int(g_ops->open(g_self, "t-0", &cfg, &log, err, sizeof err), 0, "re-open after close");
    tap_is_int(g_ops->end_offset(log), 10, "data survives close");
    g_ops->reconfigure(log, &cfg);
    tap_ok(g_ops->flush(log) == 0, "flush");
    g_ops->tick(log, 12345);

    /* A read outlives the log it came from. */
    tap_is_int(g_ops->read(log, 0, 1 << 20, &rd, err, sizeof err), 0, "read before remove");
    tap_is_int(g_ops->remove(log, err, sizeof err), 0, "remove");
    flat = flatten(&rd);
    tap_ok(!memcmp(flat, all, nall), "ranges stay valid after remove");
    free(flat);
    release_all(&rd);
    tap_is_int(g_ops->open(g_self, "t-0", &cfg, &log, err, sizeof err), 0, "open after remove");
    tap_is_int(g_ops->end_offset(log), 0, "removed log starts empty");

    /* More appends than ranges per read. */
    {
        int ok = 1;
        for (int i = 0; i < 10; i++) {
            size_t n;
            uint8_t *b = batch(i, 1, 100 + i, &n);
            ok &= append(log, b, n) == 0;
            free(b);
        }
        tap_ok(ok, "ten single appends");
        tap_ok(g_ops->read(log, 0, 1 << 20, &rd, err, sizeof err) == 0 &&
                   rd.nranges == OD_LOG_READ_MAX_RANGES,
               "read stops at OD_LOG_READ_MAX_RANGES ranges");
        release_all(&rd);
    }

    /* truncate_to (ABI 1.3): the ten single batches 0..9 are in log. */
    {
        size_t n;
        uint8_t *b;
        tap_ok(g_ops->truncate_to != NULL, "truncate_to offered");
        tap_is_int(g_ops->truncate_to(log, 7, err, sizeof err), 0, "truncate to 7");
        tap_ok(g_ops->end_offset(log) == 7, "end 7");
        tap_ok(g_ops->read(log, 0, 1 << 20, &rd, err, sizeof err) == 0 && rd.total > 0, "read after");
        release_all(&rd);
        tap_is_int(g_ops->read(log, 8, 100, &rd, err, sizeof err), -1, "cut offsets are gone");
        b = batch(7, 2, 500, &n);
        tap_is_int(append(log, b, n), 0, "append continues at 7");
        free(b);
        tap_ok(g_ops->end_offset(log) == 9, "end 9");
        tap_is_int(g_ops->truncate_to(log, 9, err, sizeof err), 0, "at the end: no-op");
        tap_ok(g_ops->end_offset(log) == 9 && g_ops->start_offset(log) == 0, "still 0..9");
        tap_is_int(g_ops->advance_start(log, 3, err, sizeof err), 0, "start at 3");
        tap_is_int(g_ops->truncate_to(log, 2, err, sizeof err), 0, "truncate below the start");
        tap_ok(g_ops->start_offset(log) == 2 && g_ops->end_offset(log) == 2 && g_ops->size_bytes(log) == 0,
               "empty at 2");
        tap_is_int(g_ops->truncate_to(log, 40, err, sizeof err), 0, "past the end (a leader's start)");
        tap_ok(g_ops->start_offset(log) == 40 && g_ops->end_offset(log) == 40, "empty, starting at 40");
        b = batch(40, 1, 600, &n);
        tap_is_int(append(log, b, n), 0, "appends continue at 40");
        free(b);
    }

    /* An empty log written first at a later offset starts there. */
    tap_is_int(g_ops->open(g_self, "g-0", &cfg, &log2, err, sizeof err), 0, "open g-0");
    {
        size_t n;
        uint8_t *b = batch(50, 2, 1, &n);
        tap_is_int(append(log2, b, n), 0, "append at offset 50 to an empty log");
        free(b);
    }
    tap_ok(g_ops->start_offset(log2) == 50 && g_ops->end_offset(log2) == 52, "log spans 50..52");
    tap_is_int(g_ops->read(log2, 10, 100, &rd, err, sizeof err), -1, "read before the start fails");

    /* An outstanding read across stop/fini. */
    g_ops->read(log2, 50, 100, &rd, err, sizeof err);
    g_ops->stop(g_self);
    od_module.fini((od_module_ctx_t *)&g_data);
    tap_ok(rd.nranges == 1 && rd.ranges[0].mem[7] == 50, "read still valid after stop");
    release_all(&rd);

    free(b1);
    free(b2);
    free(b3a);
    free(b3b);
    free(two);
    free(all);
    return tap_done();
}
