/* od_arena.c - request-scoped bump allocator.
 *
 * Chunks form a list, newest first. A chunk is 8 KiB at first and each new
 * one doubles the previous size up to 1 MiB; an allocation larger than that
 * gets a chunk of its own. Allocations are rounded up to 16 bytes and start
 * on a 16-byte boundary; memory is zeroed on hand-out because a reset chunk
 * is reused. */
#include "od_arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 16u
#define CHUNK_MIN (8u * 1024u)
#define CHUNK_MAX (1024u * 1024u)

struct od_arena_chunk {
    od_arena_chunk_t *next; /* older chunk */
    uint8_t *base;          /* first 16-aligned byte after the header */
    size_t cap, used;
};

void od_arena_init(od_arena_t *a, size_t limit)
{
    a->head = NULL;
    a->used_total = 0;
    a->limit = limit;
    a->over_limit = 0;
}

static od_arena_chunk_t *chunk_new(size_t cap)
{
    od_arena_chunk_t *c;
    uintptr_t p;
    /* header + cap + slack to align base */
    if (cap > SIZE_MAX - sizeof *c - ARENA_ALIGN)
        return NULL;
    c = malloc(sizeof *c + cap + ARENA_ALIGN);
    if (!c)
        return NULL;
    p = (uintptr_t)(c + 1);
    p = (p + ARENA_ALIGN - 1) & ~(uintptr_t)(ARENA_ALIGN - 1);
    c->base = (uint8_t *)p;
    c->cap = cap;
    c->used = 0;
    c->next = NULL;
    return c;
}

void *od_arena_alloc(od_arena_t *a, size_t n)
{
    od_arena_chunk_t *c = a->head;
    void *p;
    if (n == 0)
        n = 1; /* still a distinct, valid pointer */
    if (n > SIZE_MAX - ARENA_ALIGN)
        return NULL;
    n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (a->limit && (n > a->limit || a->used_total > a->limit - n)) {
        a->over_limit = 1;
        return NULL;
    }
    if (!c || c->cap - c->used < n) {
        size_t cap = c ? (c->cap < CHUNK_MAX / 2 ? c->cap * 2 : CHUNK_MAX) : CHUNK_MIN;
        od_arena_chunk_t *nc;
        if (cap < n)
            cap = n;
        nc = chunk_new(cap);
        if (!nc)
            return NULL;
        nc->next = c;
        a->head = nc;
        c = nc;
    }
    p = c->base + c->used;
    c->used += n;
    a->used_total += n;
    memset(p, 0, n);
    return p;
}

void *od_arena_calloc(od_arena_t *a, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    return od_arena_alloc(a, count * size);
}

char *od_arena_strndup(od_arena_t *a, const char *p, size_t n)
{
    char *d;
    if (n == SIZE_MAX)
        return NULL;
    d = od_arena_alloc(a, n + 1);
    if (!d)
        return NULL;
    if (n)
        memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

void od_arena_reset(od_arena_t *a)
{
    od_arena_chunk_t *c = a->head, *first = NULL;
    while (c) {
        od_arena_chunk_t *next = c->next;
        if (!next)
            first = c; /* the oldest chunk stays for the next request */
        else
            free(c);
        c = next;
    }
    if (first) {
        first->used = 0;
        first->next = NULL;
    }
    a->head = first;
    a->used_total = 0;
}

void od_arena_free(od_arena_t *a)
{
    od_arena_chunk_t *c = a->head;
    while (c) {
        od_arena_chunk_t *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->used_total = 0;
}
