/* test_arena.c - alignment, zeroing, limits, overflow checks, reset. */
#include "od_arena.h"
#include "tap.h"

#include <stdint.h>

int main(void)
{
    od_arena_t a;
    size_t i;
    int aligned = 1, zeroed = 1, distinct = 1;
    unsigned char *prev = NULL;
    char *s;
    void *p;

    tap_no_plan();
    od_arena_init(&a, 0);
    for (i = 0; i < 2000; i++) {
        size_t n = (i * 37) % 300 + 1;
        unsigned char *q = od_arena_alloc(&a, n);
        size_t k;
        if (!q) {
            aligned = 0;
            break;
        }
        if ((uintptr_t)q % 16)
            aligned = 0;
        for (k = 0; k < n; k++)
            if (q[k])
                zeroed = 0;
        memset(q, 0xab, n);
        if (q == prev)
            distinct = 0;
        prev = q;
    }
    tap_ok(aligned, "2000 allocations, all 16-byte aligned");
    tap_ok(zeroed, "all zeroed");
    tap_ok(distinct, "all distinct");
    tap_ok(a.used_total >= 2000 * 16, "used_total counts");
    p = od_arena_alloc(&a, 3u << 20);
    tap_ok(p && (uintptr_t)p % 16 == 0, "allocation larger than a chunk");
    p = od_arena_alloc(&a, 0);
    tap_ok(p != NULL, "zero-size allocation gives a pointer");

    od_arena_reset(&a);
    tap_is_int((int64_t)a.used_total, 0, "reset clears used_total");
    tap_ok(a.head != NULL, "reset keeps a chunk");
    {
        unsigned char *q = od_arena_alloc(&a, 64);
        size_t k;
        int z = q != NULL;
        for (k = 0; q && k < 64; k++)
            if (q[k])
                z = 0;
        tap_ok(z, "memory reused after reset is zeroed");
    }

    tap_ok(od_arena_calloc(&a, SIZE_MAX / 2, 3) == NULL, "calloc overflow rejected");
    tap_ok(od_arena_calloc(&a, 2, SIZE_MAX / 2 + 1) == NULL, "calloc overflow (2 * big)");
    tap_ok(od_arena_alloc(&a, SIZE_MAX) == NULL, "alloc SIZE_MAX rejected");
    tap_ok(od_arena_alloc(&a, SIZE_MAX - 8) == NULL, "alloc near SIZE_MAX rejected");
    p = od_arena_calloc(&a, 10, 8);
    tap_ok(p && ((uint64_t *)p)[9] == 0, "calloc 10x8");

    s = od_arena_strndup(&a, "hello world", 5);
    tap_ok(s && strcmp(s, "hello") == 0, "strndup copies n bytes and terminates");
    s = od_arena_strndup(&a, NULL, 0);
    tap_ok(s && s[0] == '\0', "strndup of 0 bytes");
    od_arena_free(&a);
    tap_ok(a.head == NULL, "free releases everything");

    od_arena_init(&a, 1000);
    tap_ok(!a.over_limit, "a new arena is not over its limit");
    tap_ok(od_arena_alloc(&a, 1001) == NULL, "single allocation over the limit");
    tap_ok(a.over_limit, "the refusal is flagged as the limit's (not a malformed request)");
    tap_ok(od_arena_alloc(&a, 500) != NULL, "within limit");
    tap_ok(od_arena_alloc(&a, 400) != NULL, "still within limit");
    tap_ok(od_arena_alloc(&a, 200) == NULL, "cumulative limit enforced");
    tap_ok(od_arena_calloc(&a, 1u << 30, 1u << 30) == NULL, "huge calloc under limit fails");
    od_arena_reset(&a);
    tap_ok(od_arena_alloc(&a, 900) != NULL, "limit is per use: reset restores it");
    od_arena_free(&a);

    od_arena_init(&a, 0);
    od_arena_free(&a); /* free of an unused arena is fine */
    od_arena_reset(&a);
    tap_ok(a.head == NULL && a.used_total == 0, "reset of an empty arena");
    return tap_done();
}
