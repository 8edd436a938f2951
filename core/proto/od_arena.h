/* od_arena.h - request-scoped bump allocator. Everything decoded from one
 * request (arrays, copies) lives in its arena and is freed in one go when the
 * response has been queued. */
#ifndef OD_ARENA_H
#define OD_ARENA_H

#include <stddef.h>

typedef struct od_arena_chunk od_arena_chunk_t;

typedef struct od_arena {
    od_arena_chunk_t *head;
    size_t used_total; /* bytes handed out, for limits and stats */
    size_t limit;      /* 0 = unlimited; past it od_arena_alloc returns NULL */
    int over_limit;    /* an allocation was refused because of the limit */
} od_arena_t;

void od_arena_init(od_arena_t *a, size_t limit);
/* Zeroed, 16-byte aligned memory; NULL if out of memory or over the limit. */
void *od_arena_alloc(od_arena_t *a, size_t n);
void *od_arena_calloc(od_arena_t *a, size_t count, size_t size); /* overflow-checked */
char *od_arena_strndup(od_arena_t *a, const char *p, size_t n);
void od_arena_reset(od_arena_t *a); /* frees all but the first chunk */
void od_arena_free(od_arena_t *a);

#endif
