/* segment_clean.h - log compaction internals (segment_clean.c and
 * segment_clean_map.c). The storage op is seg_clean_step (segment.h). */
#ifndef SEGMENT_CLEAN_H
#define SEGMENT_CLEAN_H

#include <stddef.h>
#include <stdint.h>

/* The key -> latest offset map, like Kafka's SkimpyOffsetMap: a fixed
 * open-addressing table of 16-byte key digests and offsets, allocated once
 * per cleaning round. It accepts new keys until it is 75% full; updating a
 * key already in it always works. */
#define SEG_CMAP_DIGEST 16

typedef struct seg_cmap_slot {
    uint8_t digest[SEG_CMAP_DIGEST];
    int64_t offset; /* -1 = empty slot */
} seg_cmap_slot_t;

typedef struct seg_cmap {
    seg_cmap_slot_t *slots;
    size_t nslots; /* power of two */
    size_t used, max_used;
} seg_cmap_t;

/* 128-bit digest of a key (not cryptographic; a collision would merge two
 * keys, as an MD5 collision would in Kafka). */
void seg_cmap_digest(const uint8_t *key, size_t len, uint8_t out[SEG_CMAP_DIGEST]);
/* Allocate room for about `want` keys, at most `max_slots` slots. */
int seg_cmap_init(seg_cmap_t *m, size_t want, size_t max_slots);
void seg_cmap_free(seg_cmap_t *m);
/* Record `offset` as the latest for the key. Returns 0, or -1 when the key is
 * new and the map is full (nothing changed). */
int seg_cmap_put(seg_cmap_t *m, const uint8_t digest[SEG_CMAP_DIGEST], int64_t offset);
/* Latest offset recorded for the key, or -1. */
int64_t seg_cmap_get(const seg_cmap_t *m, const uint8_t digest[SEG_CMAP_DIGEST]);

/* Largest number of slots a cleaning round may use (24 bytes each); the
 * default is 1 << 17 (3 MiB). Tests make it tiny to force partial rounds. */
void seg_clean_set_map_slots(size_t slots);

/* Tests only: when > 0, the next swap stops at that point as if the process
 * died there (1: after the rename to .swap, 2: after unlinking the old files,
 * 3: after the rename to .log) and the step fails; then it resets to 0. */
extern int seg_clean_test_crash_at;

#endif
