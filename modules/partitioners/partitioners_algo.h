/* partitioners_algo.h - the placement algorithms of the Kafka clients, as
 * plain functions shared by the `partitioners` module and the `odr` CLI, so
 * the broker's placement check and `odr produce --partitioner` agree with
 * each other and with the client they imitate.
 *
 * Every function is pure except the stateful strategies (round robin,
 * sticky, random), which keep their state in a partitioners_state_t the
 * caller owns (one per topic or per registration; not thread-safe). */
#ifndef PARTITIONERS_ALGO_H
#define PARTITIONERS_ALGO_H

#include <stddef.h>
#include <stdint.h>

/* Java's Utils.murmur2 (seed 0x9747b28c), as a signed 32-bit value. */
int32_t partitioners_murmur2(const uint8_t *data, size_t len);
/* zlib's crc32 (IEEE 802.3), which librdkafka's consistent partitioners use. */
uint32_t partitioners_crc32(const uint8_t *data, size_t len);
/* 32-bit FNV-1a (offset basis 0x811c9dc5, prime 0x01000193). */
uint32_t partitioners_fnv1a(const uint8_t *data, size_t len);

/* What a strategy remembers between records. */
typedef struct partitioners_state {
    uint64_t rng;            /* xorshift64* state; never 0 */
    uint32_t rr_next;        /* round robin: the next partition */
    int32_t sticky;          /* sticky: the current partition, -1 none yet */
    size_t sticky_bytes;     /* sticky: value bytes sent to it so far */
    size_t sticky_batch;     /* sticky: switch after this many bytes */
} partitioners_state_t;

/* seed 0 takes one from the clock and the process id. */
void partitioners_state_init(partitioners_state_t *st, uint64_t seed);

/* One strategy. key == NULL is a null key (distinct from an empty key for
 * the strategies that care). Returns a partition in [0, n); n must be > 0. */
typedef int32_t (*partitioners_fn)(partitioners_state_t *st, const uint8_t *key, size_t key_len,
                                   size_t value_len, int32_t n);

/* Which records a strategy places by chance or by its own state rather than
 * by their key: there the partition is the producer's free choice, and a
 * placement check must not judge it. */
#define PARTITIONERS_FREE_NULL  1u /* null keys */
#define PARTITIONERS_FREE_EMPTY 2u /* empty keys */
#define PARTITIONERS_FREE_ALL   4u /* every record (random, round robin) */

typedef struct partitioners_algo {
    const char *name;
    const char *doc;    /* one line for `odr produce --help` and doc/cli.md */
    partitioners_fn fn;
    unsigned free;      /* PARTITIONERS_FREE_* */
} partitioners_algo_t;

/* 1 when the strategy's choice for this key is free (see above). */
int partitioners_is_free(const partitioners_algo_t *a, const uint8_t *key, size_t key_len);

/* The table, NULL-name terminated, and a lookup by name (NULL: unknown). */
extern const partitioners_algo_t partitioners_table[];
const partitioners_algo_t *partitioners_find(const char *name);

#endif
