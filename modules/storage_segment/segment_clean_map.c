/* segment_clean_map.c - the bounded key digest -> offset map of the cleaner
 * (see segment_clean.h). Open addressing with linear probing; the table
 * never grows, so memory stays bounded whatever the log holds. */
#include "segment_clean.h"

#include <stdlib.h>
#include <string.h>

static uint64_t fmix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static uint64_t load64(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Two independently seeded 64-bit lanes, mixed with each other at the end. */
void seg_cmap_digest(const uint8_t *key, size_t len, uint8_t out[SEG_CMAP_DIGEST])
{
    uint64_t a = 0x9e3779b97f4a7c15ULL ^ (uint64_t)len;
    uint64_t b = 0xc2b2ae3d27d4eb4fULL + (uint64_t)len * 0x165667b19e3779f9ULL;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v = load64(key + i, 8);
        a = fmix64(a ^ v) + 0x27d4eb2f165667c5ULL;
        b = fmix64(b + (v * 0x9fb21c651e98df25ULL)) ^ (b >> 29);
    }
    if (i < len) {
        uint64_t v = load64(key + i, len - i) | (uint64_t)(len - i) << 59;
        a = fmix64(a ^ v) + 0x27d4eb2f165667c5ULL;
        b = fmix64(b + (v * 0x9fb21c651e98df25ULL)) ^ (b >> 29);
    }
    a = fmix64(a ^ (b >> 1));
    b = fmix64(b ^ a);
    for (int k = 0; k < 8; k++) {
        out[k] = (uint8_t)(a >> (8 * k));
        out[8 + k] = (uint8_t)(b >> (8 * k));
    }
}

int seg_cmap_init(seg_cmap_t *m, size_t want, size_t max_slots)
{
    size_t n = 16;
    memset(m, 0, sizeof *m);
    while (n < max_slots && n / 4 * 3 < want)
        n *= 2;
    if (n > max_slots && max_slots >= 4)
        n = max_slots;
    m->slots = malloc(n * sizeof *m->slots);
    if (!m->slots)
        return -1;
    for (size_t i = 0; i < n; i++)
        m->slots[i].offset = -1;
    m->nslots = n;
    m->max_used = n / 4 * 3;
    if (m->max_used == 0)
        m->max_used = 1;
    return 0;
}

void seg_cmap_free(seg_cmap_t *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* The slot holding the digest, or the empty slot where it would go. With
 * nslots not a power of two (tiny test maps) the modulo still works. */
static seg_cmap_slot_t *probe(const seg_cmap_t *m, const uint8_t d[SEG_CMAP_DIGEST])
{
    size_t i = (size_t)(load64(d, 8) % m->nslots);
    for (;;) {
        seg_cmap_slot_t *s = &m->slots[i];
        if (s->offset < 0 || memcmp(s->digest, d, SEG_CMAP_DIGEST) == 0)
            return s;
        i = (i + 1) % m->nslots;
    }
}

int seg_cmap_put(seg_cmap_t *m, const uint8_t digest[SEG_CMAP_DIGEST], int64_t offset)
{
    seg_cmap_slot_t *s = probe(m, digest);
    if (s->offset < 0) {
        if (m->used >= m->max_used)
            return -1;
        memcpy(s->digest, digest, SEG_CMAP_DIGEST);
        m->used++;
    }
    s->offset = offset;
    return 0;
}

int64_t seg_cmap_get(const seg_cmap_t *m, const uint8_t digest[SEG_CMAP_DIGEST])
{
    if (!m->slots)
        return -1;
    return probe(m, digest)->offset;
}
