/* od_nameset.h - a small counting set of byte strings (borrowed, not
 * copied), sized once for a known number of names: duplicate checks over
 * the topics of one request in O(n) instead of O(n^2). */
#ifndef OD_NAMESET_H
#define OD_NAMESET_H

#include <stddef.h>
#include <stdint.h>

typedef struct od_nameset_slot {
    const char *p; /* NULL: empty slot */
    size_t len;
    uint32_t count;
} od_nameset_slot_t;

typedef struct od_nameset {
    od_nameset_slot_t *slots;
    size_t cap; /* a power of two, at least twice the names it was sized for */
    size_t n, max;
} od_nameset_t;

/* Room for up to max names. Returns 0, or -1 when out of memory. */
/* FNV-1a of n bytes: the hash of this set and of the metadata image. */
uint64_t od_hash_bytes(const char *p, size_t n);

int od_nameset_init(od_nameset_t *s, size_t max);
void od_nameset_free(od_nameset_t *s);
/* Counts one more occurrence of p[0..len); returns the new count (1 the
 * first time), or 0 when the set already holds max distinct names. p must
 * stay valid while the set is used. */
uint32_t od_nameset_add(od_nameset_t *s, const char *p, size_t len);
/* How many times p[0..len) was added (0: never). */
uint32_t od_nameset_count(const od_nameset_t *s, const char *p, size_t len);

#endif
