/* test_route.c - routing without a broker: a gzip batch of an idempotent
 * producer decoded to records, run through Lua routes (decisions, header
 * changes, copies, dead letters, rejects), rebuilt (codec kept, dead letter
 * removed, base sequence moved so that the last sequence stays), and Lua
 * partitioners (answers, errors and out-of-range results). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "od_lua.h"
#include "od_route_int.h"
#include "tap.h"

static char dir[] = "/tmp/test_route.XXXXXX";

static od_lua_vm_t *vm_with(const char *text, char *err, size_t errsz)
{
    static int n;
    char path[256];
    snprintf(path, sizeof(path), "%s/s%d.lua", dir, n++);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    od_lua_limits_t lim = {200000, 8 << 20, 0};
    od_lua_vm_t *vm = od_lua_vm_new(NULL, &lim, err, errsz);
    if (vm && od_lua_vm_load(vm, path, err, errsz) < 0) {
        od_lua_vm_free(vm);
        return NULL;
    }
    if (vm && od_lua_vm_check_partitioners(vm, NULL, err, errsz) < 0) {
        od_lua_vm_free(vm);
        return NULL;
    }
    return vm;
}

/* Three records, the second with a header, as a gzip batch of producer 5
 * starting at sequence 10. */
static uint8_t *sample(size_t *len)
{
    od_batch_builder_t b;
    od_batch_builder_init(&b, 0);
    b.producer_id = 5;
    b.producer_epoch = 0;
    b.base_sequence = 10;
    od_record_header_t h = {"region", 6, (const uint8_t *)"3", 1};
    od_batch_builder_add(&b, 1000, "k0", 2, "{a}", 3);
    od_batch_builder_add_hdrs(&b, 1001, "k1", 2, "{b}", 3, &h, 1);
    od_batch_builder_add(&b, 1002, "k2", 2, "bad", 3);
    size_t plain_len;
    uint8_t *plain = od_batch_builder_finish(&b, &plain_len);
    od_batch_builder_free(&b);
    uint8_t *gz = NULL;
    char err[200];
    if (od_batch_recompress(plain, plain_len, OD_BATCH_CODEC_GZIP, &gz, len, err, sizeof(err)))
        tap_diag("recompress: %s", err);
    free(plain);
    return gz;
}

static const char *routes =
    "odradek.partitioner('by_region', function(k, v, h, n)\n"
    "  return (tonumber(h.region) or 0) % n end)\n"
    "odradek.partitioner('broken', function() error('no') end)\n"
    "odradek.partitioner('far', function(k, v, h, n) return n end)\n"
    "odradek.partitioner('slow', function(k, v, h, n)\n"
    "  local x = 0 for i = 1, 40000 do x = x + i end return 0 end)\n"
    "odradek.route('t', function(rec)\n"
    "  if rec.value == 'bad' then return rec:dead_letter('d', 'not json') end\n"
    "  rec.headers['seen'] = rec.topic .. '/' .. rec.partition .. '/' .. rec.principal\n"
    "  rec:copy('c', 'by_region', rec.key == 'k0' and 'new' or nil)\n"
    "  return true\n"
    "end)\n"
    "odradek.route('r', function(rec)\n"
    "  if rec.key == 'k1' then return false, 'k1 is refused' end\n"
    "  return true\n"
    "end)\n";

static void test_routes(void)
{
    char err[600];
    od_lua_vm_t *vm = vm_with(routes, err, sizeof(err));
    if (!tap_ok(vm != NULL, "the routes load")) {
        tap_diag("%s", err);
        return;
    }
    size_t len;
    uint8_t *data = sample(&len);
    od_route_set_t s;
    tap_is_int(od_route_decode(data, len, 4, 3, &s, err, sizeof(err)), 0, "decode a gzip batch");
    tap_is_int((int64_t)s.nrecs, 3, "three records");
    tap_ok(s.recs[1].key_len == 2 && memcmp(s.recs[1].key, "k1", 2) == 0 &&
               s.recs[1].timestamp == 1001 && s.recs[1].partition == 4,
           "key, timestamp and partition of a record");
    size_t rejected;
    tap_is_int(od_lua_vm_route(vm, "t", "User:alice", s.recs, s.nrecs, 8, &rejected), 0,
               "the route runs");
    tap_is_int((int64_t)rejected, 3, "nothing rejected");
    tap_ok(s.recs[2].action == OD_ROUTE_DLQ && strcmp(s.recs[2].dlq_topic, "d") == 0 &&
               strcmp(s.recs[2].reason, "not json") == 0,
           "rec:dead_letter: the topic and the reason");
    tap_ok(s.recs[0].hdrs_changed && s.recs[0].nhdrs == 1 &&
               strcmp(s.recs[0].hdrs[0].value, "t/4/User:alice") == 0,
           "a header added (rec.topic, rec.partition, rec.principal)");
    tap_ok(s.recs[1].nhdrs == 2 && strcmp(s.recs[1].hdrs[0].key, "region") == 0 &&
               strcmp(s.recs[1].hdrs[1].key, "seen") == 0,
           "the producer's header kept, the new one after it (sorted by name)");
    tap_ok(s.recs[0].ncopies == 1 && s.recs[0].copies[0].rekey &&
               strcmp(s.recs[0].copies[0].key, "new") == 0 &&
               strcmp(s.recs[0].copies[0].partitioner, "by_region") == 0,
           "rec:copy with a new key");
    tap_ok(s.recs[1].ncopies == 1 && !s.recs[1].copies[0].rekey, "rec:copy keeping the key");
    tap_is_int(od_lua_vm_partition(vm, "by_region", &s.recs[1], 2, NULL), 1,
               "the Lua partitioner reads the headers (region 3 of 2 partitions: 1)");
    tap_is_int(od_lua_vm_partition(vm, "broken", &s.recs[1], 2, NULL), -2, "an error answers -2");
    tap_is_int(od_lua_vm_partition(vm, "far", &s.recs[1], 2, NULL), -2, "out of range answers -2");

    int64_t budget = OD_LUA_BUDGET_UNSET;
    int32_t p1 = od_lua_vm_partition(vm, "slow", &s.recs[0], 2, &budget);
    int32_t p2 = od_lua_vm_partition(vm, "slow", &s.recs[0], 2, &budget);
    int32_t p3 = od_lua_vm_partition(vm, "slow", &s.recs[0], 2, &budget);
    tap_ok(p1 == 0 && p2 == 0 && p3 == -2 && budget <= 0,
           "a batch's partitioner calls share one budget: the third slow call is refused "
           "(%d %d %d, %lld left)", (int)p1, (int)p2, (int)p3, (long long)budget);
    tap_is_int(od_lua_vm_partition(vm, "slow", &s.recs[0], 2, NULL), 0,
               "a call of its own has the whole budget again");

    od_route_buf_t w = {0};
    int32_t kept;
    tap_is_int(od_route_rebuild(&s, &w, &kept, err, sizeof(err)), 0, "rebuild");
    tap_is_int(kept, 2, "two records left");
    od_batch_summary_t sum;
    tap_is_int(od_batch_validate(w.p, w.len, &sum, err, sizeof(err)), 0,
               "the rebuilt batch validates (CRC, lengths, records)");
    od_batch_hdr_t h;
    od_batch_parse_header(w.p, w.len, &h);
    tap_ok(OD_BATCH_COMPRESSION(h.attributes) == OD_BATCH_CODEC_GZIP, "gzip is kept");
    tap_ok(h.producer_id == 5 && h.base_sequence == 11 && h.last_offset_delta == 1,
           "the base sequence moves by the record removed: the last sequence stays 12");
    free(w.p);
    od_route_set_free(&s);

    od_route_set_t s2;
    od_route_decode(data, len, 0, 3, &s2, err, sizeof(err));
    tap_is_int(od_lua_vm_route(vm, "r", "User:bob", s2.recs, s2.nrecs, 8, &rejected), 0,
               "a rejecting route runs");
    tap_ok(rejected == 1 && strcmp(s2.recs[1].reason, "k1 is refused") == 0,
           "false, reason: the record and the reason");
    od_route_set_free(&s2);
    free(data);
    od_lua_vm_free(vm);
}

static void test_names(void)
{
    char err[600];
    od_lua_vm_t *vm = vm_with("odradek.partitioner('p', function() return 0 end)\n"
                              "odradek.partitioner('p', function() return 1 end)\n",
                              err, sizeof(err));
    tap_ok(!vm && strstr(err, "registered 2 times"), "a partitioner registered twice is refused");
    od_lua_vm_free(vm);
}

int main(void)
{
    tap_no_plan();
    if (!mkdtemp(dir)) {
        tap_ok(0, "mkdtemp");
        return tap_done();
    }
    test_routes();
    test_names();
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", dir);
    return tap_done();
}
