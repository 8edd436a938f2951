/* partitioners_algo.c - the hash functions and strategies of the Kafka
 * clients (see partitioners_algo.h). Each is written from the published
 * behaviour of the client it imitates; t/unit/test_partitioners.c checks
 * them against the clients' own test vectors and librdkafka's functions. */
#include "partitioners_algo.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

int32_t partitioners_murmur2(const uint8_t *data, size_t len)
{
    /* Java computes in int with wrap-around; uint32_t gives the same bits
     * without signed overflow. Its length is an int: keys are < 2 GiB. */
    const uint32_t m = 0x5bd1e995u;
    uint32_t h = 0x9747b28cu ^ (uint32_t)len;
    size_t blocks = len / 4;
    for (size_t i = 0; i < blocks; i++) {
        const uint8_t *b = data + 4 * i;
        uint32_t k = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                     (uint32_t)b[3] << 24;
        k *= m;
        k ^= k >> 24;
        k *= m;
        h *= m;
        h ^= k;
    }
    const uint8_t *tail = data + 4 * blocks;
    switch (len & 3) {
    case 3:
        h ^= (uint32_t)tail[2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t)tail[1] << 8;
        /* fall through */
    case 1:
        h ^= tail[0];
        h *= m;
        break;
    default:
        break;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return (int32_t)h;
}

uint32_t partitioners_crc32(const uint8_t *data, size_t len)
{
    uLong c = crc32(0L, Z_NULL, 0);
    /* zlib takes uInt lengths: feed long keys in pieces. */
    while (len > 0) {
        uInt step = len > 0x40000000u ? 0x40000000u : (uInt)len;
        c = crc32(c, data, step);
        data += step;
        len -= step;
    }
    return (uint32_t)c;
}

uint32_t partitioners_fnv1a(const uint8_t *data, size_t len)
{
    uint32_t h = 0x811c9dc5u;
    for (size_t i = 0; i < len; i++) {
        h ^= data[i];
        h *= 0x01000193u;
    }
    return h;
}

void partitioners_state_init(partitioners_state_t *st, uint64_t seed)
{
    if (seed == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 48);
    }
    st->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
    st->rr_next = (uint32_t)(st->rng >> 33);
    st->sticky = -1;
    st->sticky_bytes = 0;
    st->sticky_batch = 16384; /* Java's batch.size default */
}

static uint32_t next_random(partitioners_state_t *st)
{
    uint64_t x = st->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    st->rng = x;
    return (uint32_t)((x * 0x2545f4914f6cdd1dull) >> 32);
}

/* Java's Utils.toPositive: clear the sign bit (not abs()). */
static int32_t murmur2_of(const uint8_t *key, size_t len, int32_t n)
{
    return (int32_t)(((uint32_t)partitioners_murmur2(key, len) & 0x7fffffffu) % (uint32_t)n);
}

static int32_t random_of(partitioners_state_t *st, int32_t n)
{
    return (int32_t)(next_random(st) % (uint32_t)n);
}

/* A null key hashes as the empty key (librdkafka maps NULL keys to the
 * partition of the empty key). */
static const uint8_t empty_key[1];
#define KEY_OR_EMPTY(k) ((k) ? (k) : empty_key)

static int32_t p_murmur2(partitioners_state_t *st, const uint8_t *key, size_t len, size_t vlen,
                         int32_t n)
{
    (void)st;
    (void)vlen;
    return murmur2_of(KEY_OR_EMPTY(key), key ? len : 0, n);
}

static int32_t p_murmur2_random(partitioners_state_t *st, const uint8_t *key, size_t len,
                                size_t vlen, int32_t n)
{
    (void)vlen;
    return key ? murmur2_of(key, len, n) : random_of(st, n);
}

static int32_t crc32_of(const uint8_t *key, size_t len, int32_t n)
{
    return (int32_t)(partitioners_crc32(key, len) % (uint32_t)n);
}

static int32_t p_consistent(partitioners_state_t *st, const uint8_t *key, size_t len, size_t vlen,
                            int32_t n)
{
    (void)st;
    (void)vlen;
    return crc32_of(KEY_OR_EMPTY(key), key ? len : 0, n);
}

/* librdkafka's default: empty and null keys go to a random partition. */
static int32_t p_consistent_random(partitioners_state_t *st, const uint8_t *key, size_t len,
                                   size_t vlen, int32_t n)
{
    (void)vlen;
    return key && len > 0 ? crc32_of(key, len, n) : random_of(st, n);
}

/* Sarama's NewHashPartitioner: the hash as int32, the remainder of that
 * (C and Go both truncate toward zero), negated when negative. librdkafka's
 * fnv1a gives the same partitions (abs() first, then an unsigned remainder). */
static int32_t fnv1a_of(const uint8_t *key, size_t len, int32_t n)
{
    int64_t h = (int32_t)partitioners_fnv1a(key, len);
    int64_t p = h % n;
    return (int32_t)(p < 0 ? -p : p);
}

static int32_t p_fnv1a(partitioners_state_t *st, const uint8_t *key, size_t len, size_t vlen,
                       int32_t n)
{
    (void)st;
    (void)vlen;
    return fnv1a_of(KEY_OR_EMPTY(key), key ? len : 0, n);
}

static int32_t p_fnv1a_random(partitioners_state_t *st, const uint8_t *key, size_t len,
                              size_t vlen, int32_t n)
{
    (void)vlen;
    return key ? fnv1a_of(key, len, n) : random_of(st, n);
}

static int32_t p_random(partitioners_state_t *st, const uint8_t *key, size_t len, size_t vlen,
                        int32_t n)
{
    (void)key;
    (void)len;
    (void)vlen;
    return random_of(st, n);
}

/* Java's RoundRobinPartitioner: every record to the next partition. */
static int32_t p_round_robin(partitioners_state_t *st, const uint8_t *key, size_t len,
                             size_t vlen, int32_t n)
{
    (void)key;
    (void)len;
    (void)vlen;
    int32_t p = (int32_t)(st->rr_next % (uint32_t)n);
    st->rr_next++;
    return p;
}

/* Java's default (KIP-480): keyed records by murmur2; null keys stay on one
 * partition until a batch's worth of bytes went there, then move to another. */
static int32_t p_sticky(partitioners_state_t *st, const uint8_t *key, size_t len, size_t vlen,
                        int32_t n)
{
    if (key)
        return murmur2_of(key, len, n);
    if (st->sticky < 0 || st->sticky >= n || st->sticky_bytes >= st->sticky_batch) {
        int32_t p = random_of(st, n);
        if (n > 1 && p == st->sticky)
            p = (p + 1) % n;
        st->sticky = p;
        st->sticky_bytes = 0;
    }
    st->sticky_bytes += vlen > 0 ? vlen : 1;
    return st->sticky;
}

const partitioners_algo_t partitioners_table[] = {
    {"murmur2", "Java's murmur2 of the key; null keys to one partition (librdkafka's murmur2)",
     p_murmur2, 0},
    {"murmur2_random", "Java's murmur2 of the key; null keys to a random partition",
     p_murmur2_random, PARTITIONERS_FREE_NULL},
    {"sticky", "Java's default: murmur2 of the key; null keys stick to one partition per batch",
     p_sticky, PARTITIONERS_FREE_NULL},
    {"consistent", "librdkafka's CRC32 of the key; empty and null keys to one partition",
     p_consistent, 0},
    {"crc32", "the same as consistent", p_consistent, 0},
    {"consistent_random", "librdkafka's default: CRC32 of the key; empty and null keys random",
     p_consistent_random, PARTITIONERS_FREE_NULL | PARTITIONERS_FREE_EMPTY},
    {"fnv1a", "Sarama's default: FNV-1a of the key; null keys to one partition", p_fnv1a, 0},
    {"fnv1a_random", "FNV-1a of the key; null keys to a random partition", p_fnv1a_random,
     PARTITIONERS_FREE_NULL},
    {"random", "a random partition for every record", p_random, PARTITIONERS_FREE_ALL},
    {"round_robin", "the next partition for every record (Java's RoundRobinPartitioner)",
     p_round_robin, PARTITIONERS_FREE_ALL},
    {NULL, NULL, NULL, 0},
};

const partitioners_algo_t *partitioners_find(const char *name)
{
    for (const partitioners_algo_t *a = partitioners_table; name && a->name; a++)
        if (strcmp(a->name, name) == 0)
            return a;
    return NULL;
}

int partitioners_is_free(const partitioners_algo_t *a, const uint8_t *key, size_t key_len)
{
    if (a->free & PARTITIONERS_FREE_ALL)
        return 1;
    if (!key)
        return (a->free & PARTITIONERS_FREE_NULL) != 0;
    return key_len == 0 && (a->free & PARTITIONERS_FREE_EMPTY) != 0;
}
