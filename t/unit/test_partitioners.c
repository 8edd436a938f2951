/* test_partitioners.c - the placement algorithms of modules/partitioners
 * against the clients they imitate: Java's UtilsTest.testMurmur2 values,
 * librdkafka's rdmurmur2/rdfnv1a unit-test vectors, librdkafka's own
 * partitioner functions (when built with librdkafka), and the module's
 * registrations through its od_module entry point. */
#include <stdlib.h>
#include <string.h>

#include <odradek-module.h>

#include "../../modules/partitioners/partitioners_algo.h"
#include "tap.h"

#ifdef PARTITIONERS_TEST_RDKAFKA
#include <librdkafka/rdkafka.h>
#endif

/* ---- the core services the module calls, recorded -------------------- */
static const od_partitioner_ops_t *reg_ops[32];
static void *reg_self[32];
static int nreg;

int od_register_partitioner(od_module_ctx_t *ctx, const od_partitioner_ops_t *ops, void *self)
{
    (void)ctx;
    if (nreg == 32)
        return OD_ERR_LIMIT;
    reg_ops[nreg] = ops;
    reg_self[nreg++] = self;
    return OD_OK;
}

extern od_module_t od_module;

static const od_partitioner_ops_t *registered(const char *name, void **self)
{
    for (int i = 0; i < nreg; i++)
        if (strcmp(reg_ops[i]->name, name) == 0) {
            *self = reg_self[i];
            return reg_ops[i];
        }
    return NULL;
}

#define U8(s) ((const uint8_t *)(s))

static void java_vectors(void)
{
    /* org.apache.kafka.common.utils.UtilsTest.testMurmur2 */
    static const struct { const char *key; int32_t hash; } v[] = {
        {"21", -973932308},
        {"foobar", -790332482},
        {"a-little-bit-long-string", -985981536},
        {"a-little-bit-longer-string", -1486304829},
        {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
        {"abc", 479470107},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        int32_t h = partitioners_murmur2(U8(v[i].key), strlen(v[i].key));
        tap_ok(h == v[i].hash, "murmur2(\"%s\") = %d as Java's Utils.murmur2 (%d)", v[i].key, h,
               v[i].hash);
    }
}

/* The keys of librdkafka's rdmurmur2.c and rdfnv1a.c unit tests: the same
 * list, including unaligned tails of two strings. */
static const char *rdk_keys[] = {
    "kafka", "giberish123456789", "1234", "234", "34", "4",
    "PreAmbleWillBeRemoved,ThePrePartThatIs", "reAmbleWillBeRemoved,ThePrePartThatIs",
    "eAmbleWillBeRemoved,ThePrePartThatIs", "AmbleWillBeRemoved,ThePrePartThatIs", "",
};

static void librdkafka_vectors(void)
{
    static const uint32_t murmur2[] = {
        0xd067cf64, 0x8f552b0c, 0x9fc97b14, 0xe7c009ca, 0x873930da, 0x5a4b5ca1,
        0x78424f1c, 0x4a62b377, 0xe0e4e09e, 0x62b8b43f, 0x106e08d9,
    };
    /* librdkafka stores abs(int32 hash) (Sarama's handling); Go's hash/fnv
     * values those came from. */
    static const uint32_t fnv1a_abs[] = {
        0xd33c4e1, 0x77a58295, 0x23bdd03, 0x2dea3cd2, 0x740fa83e, 0x310ca263,
        0x65cbd69c, 0x6e49c79a, 0x69eed356, 0x6abcc023, 0x7ee3623b,
    };
    for (size_t i = 0; i < sizeof rdk_keys / sizeof rdk_keys[0]; i++) {
        const char *k = rdk_keys[i];
        uint32_t m = (uint32_t)partitioners_murmur2(U8(k), strlen(k));
        tap_ok(m == murmur2[i], "murmur2(\"%s\") = 0x%x as librdkafka's vector 0x%x", k, m,
               murmur2[i]);
        int32_t f = (int32_t)partitioners_fnv1a(U8(k), strlen(k));
        uint32_t fa = f < 0 ? (uint32_t)0 - (uint32_t)f : (uint32_t)f;
        tap_ok(fa == fnv1a_abs[i], "|fnv1a(\"%s\")| = 0x%x as librdkafka's vector 0x%x", k, fa,
               fnv1a_abs[i]);
    }
    /* zlib's crc32 check value */
    tap_ok(partitioners_crc32(U8("123456789"), 9) == 0xcbf43926u, "crc32(\"123456789\") = 0xcbf43926");
}

static void strategies(void)
{
    partitioners_state_t st;
    partitioners_state_init(&st, 42);
    const partitioners_algo_t *m = partitioners_find("murmur2");
    tap_ok(m && partitioners_find("nope") == NULL, "lookup by name");
    /* "21" -> -973932308 -> & 0x7fffffff = 1173551340 -> % 7 */
    tap_ok(m->fn(&st, U8("21"), 2, 0, 7) == (int32_t)(1173551340u % 7),
           "murmur2 clears the sign bit before the remainder (Java's toPositive)");
    tap_ok(m->fn(&st, NULL, 0, 0, 5) == (int32_t)((0x106e08d9u & 0x7fffffff) % 5),
           "murmur2: a null key goes where the empty key goes");
    const partitioners_algo_t *f = partitioners_find("fnv1a");
    /* find a key whose fnv1a is negative as int32 and check Sarama's rule */
    char key[16];
    int found = 0;
    for (int i = 0; i < 1000 && !found; i++) {
        snprintf(key, sizeof key, "k%d", i);
        int32_t h = (int32_t)partitioners_fnv1a(U8(key), strlen(key));
        if (h < 0) {
            found = 1;
            int32_t want = (int32_t)(-((int64_t)h % 11));
            tap_ok(f->fn(&st, U8(key), strlen(key), 0, 11) == want,
                   "fnv1a of a negative hash: -(h %% n) as Sarama (%s)", key);
        }
    }
    if (!found)
        tap_ok(0, "no key with a negative fnv1a hash found");
    const partitioners_algo_t *rr = partitioners_find("round_robin");
    int32_t a = rr->fn(&st, NULL, 0, 0, 3), b = rr->fn(&st, NULL, 0, 0, 3),
            c = rr->fn(&st, NULL, 0, 0, 3);
    tap_ok(b == (a + 1) % 3 && c == (b + 1) % 3, "round_robin cycles (%d %d %d)", a, b, c);
    const partitioners_algo_t *s = partitioners_find("sticky");
    int32_t first = s->fn(&st, NULL, 0, 1000, 8), same = 1;
    /* 17 records of 1000 bytes pass 16384 bytes: the 18th moves */
    for (int i = 0; i < 16; i++)
        same &= s->fn(&st, NULL, 0, 1000, 8) == first;
    int32_t after = s->fn(&st, NULL, 0, 1000, 8);
    tap_ok(same && after != first, "sticky keeps one partition for a batch (16 KiB), then moves");
    tap_ok(s->fn(&st, U8("21"), 2, 0, 7) == m->fn(&st, U8("21"), 2, 0, 7),
           "sticky places keyed records by murmur2");
    int seen[4] = {0};
    const partitioners_algo_t *cr = partitioners_find("consistent_random");
    for (int i = 0; i < 200; i++) {
        int32_t p = cr->fn(&st, U8(""), 0, 0, 4);
        if (p >= 0 && p < 4)
            seen[p] = 1;
    }
    tap_ok(seen[0] && seen[1] && seen[2] && seen[3], "consistent_random spreads empty keys");
    tap_ok(partitioners_is_free(cr, U8(""), 0) && !partitioners_is_free(cr, U8("x"), 1) &&
               !partitioners_is_free(m, NULL, 0) && partitioners_is_free(rr, U8("x"), 1),
           "free choices: empty keys of consistent_random, everything of round_robin");
}

#ifdef PARTITIONERS_TEST_RDKAFKA
static void against_librdkafka(void)
{
    static const struct {
        const char *name;
        int32_t (*native)(const rd_kafka_topic_t *, const void *, size_t, int32_t, void *,
                          void *);
    } pairs[] = {
        {"murmur2", rd_kafka_msg_partitioner_murmur2},
        {"murmur2_random", rd_kafka_msg_partitioner_murmur2_random},
        {"consistent", rd_kafka_msg_partitioner_consistent},
        {"consistent_random", rd_kafka_msg_partitioner_consistent_random},
        {"fnv1a", rd_kafka_msg_partitioner_fnv1a},
        {"fnv1a_random", rd_kafka_msg_partitioner_fnv1a_random},
    };
    static const int32_t counts[] = {1, 2, 3, 7, 12, 100, 1000};
    partitioners_state_t st;
    partitioners_state_init(&st, 7);
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        const partitioners_algo_t *a = partitioners_find(pairs[i].name);
        int mismatches = 0, checked = 0;
        char key[32];
        for (int k = 0; k < 2000; k++) {
            /* non-empty keys only: the random branches need a real topic */
            int len = snprintf(key, sizeof key, "key-%d-%x", k, (unsigned)(k * 2654435761u));
            for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
                int32_t want = pairs[i].native(NULL, key, (size_t)len, counts[c], NULL, NULL);
                int32_t got = a->fn(&st, U8(key), (size_t)len, 0, counts[c]);
                mismatches += want != got;
                checked++;
            }
        }
        tap_ok(mismatches == 0, "%s: %d placements equal librdkafka's own partitioner (%d differ)",
               pairs[i].name, checked, mismatches);
    }
}
#endif

static void module_entry(void)
{
    char err[128] = "";
    tap_ok(od_module.init(NULL, err, sizeof err) == 0, "module init registers (%s)", err);
    tap_ok(nreg >= 10 && od_module.kinds == OD_KIND_PARTITIONER, "%d partitioners registered", nreg);
    void *self = NULL;
    const od_partitioner_ops_t *m = registered("murmur2", &self);
    tap_ok(m && m->struct_size == sizeof *m &&
               m->partition(self, U8("foobar"), 6, U8("v"), 1, 10) ==
                   (int32_t)(((uint32_t)-790332482 & 0x7fffffff) % 10),
           "the module's murmur2 places \"foobar\" as Java");
    const od_partitioner_ops_t *r = registered("round_robin", &self);
    tap_ok(r && r->partition(self, U8("k"), 1, NULL, 0, 4) == -1,
           "round_robin has no opinion for the broker's check (-1)");
    const od_partitioner_ops_t *cr = registered("consistent_random", &self);
    tap_ok(cr && cr->partition(self, NULL, 0, NULL, 0, 4) == -1 &&
               cr->partition(self, U8("abc"), 3, NULL, 0, 4) ==
                   (int32_t)(partitioners_crc32(U8("abc"), 3) % 4),
           "consistent_random: no opinion on null keys, crc32 for keys");
    m = registered("murmur2", &self);
    tap_ok(m && m->partition(self, U8("x"), 1, NULL, 0, 0) == -1, "zero partitions: -1, no crash");
}

int main(void)
{
    java_vectors();
    librdkafka_vectors();
    strategies();
#ifdef PARTITIONERS_TEST_RDKAFKA
    against_librdkafka();
#endif
    module_entry();
    return tap_done();
}
