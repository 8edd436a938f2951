/* od_nameset.c - open addressing with linear probing; the table is never
 * more than half full, so probes stay short and always end. */
#include "od_nameset.h"

#include <stdlib.h>
#include <string.h>

uint64_t od_hash_bytes(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

int od_nameset_init(od_nameset_t *s, size_t max)
{
    memset(s, 0, sizeof(*s));
    size_t cap = 8;
    while (cap < max * 2) {
        if (cap > SIZE_MAX / 2 / sizeof(*s->slots))
            return -1;
        cap *= 2;
    }
    s->slots = calloc(cap, sizeof(*s->slots));
    if (!s->slots)
        return -1;
    s->cap = cap;
    s->max = max;
    return 0;
}

void od_nameset_free(od_nameset_t *s)
{
    free(s->slots);
    memset(s, 0, sizeof(*s));
}

static od_nameset_slot_t *find(const od_nameset_t *s, const char *p, size_t len)
{
    size_t i = (size_t)od_hash_bytes(p, len) & (s->cap - 1);
    for (;; i = (i + 1) & (s->cap - 1)) {
        od_nameset_slot_t *e = &s->slots[i];
        if (!e->p || (e->len == len && memcmp(e->p, p, len) == 0))
            return e;
    }
}

uint32_t od_nameset_add(od_nameset_t *s, const char *p, size_t len)
{
    if (!s->slots)
        return 0;
    if (!p)
        p = ""; /* a NULL pointer marks empty slots */
    od_nameset_slot_t *e = find(s, p, len);
    if (!e->p) {
        if (s->n >= s->max)
            return 0;
        e->p = p;
        e->len = len;
        s->n++;
    }
    return e->count < UINT32_MAX ? ++e->count : e->count;
}

uint32_t od_nameset_count(const od_nameset_t *s, const char *p, size_t len)
{
    if (!s->slots)
        return 0;
    return find(s, p ? p : "", len)->count;
}
