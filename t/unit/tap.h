/* tap.h - a tiny TAP producer for C unit tests run by prove. */
#ifndef OD_TAP_H
#define OD_TAP_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed, tap_planned = -1;

static inline void tap_plan(int n)
{
    tap_planned = n;
    printf("1..%d\n", n);
}
static inline void tap_no_plan(void) { tap_planned = -1; }

static inline void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void tap_diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("# ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

static inline int tap_ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline int tap_ok(int cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tap_n++;
    printf("%s %d - ", cond ? "ok" : "not ok", tap_n);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (!cond)
        tap_failed++;
    fflush(stdout);
    return cond;
}

static inline int tap_is_int(int64_t got, int64_t want, const char *name)
{
    int r = tap_ok(got == want, "%s", name);
    if (!r)
        tap_diag("got %" PRId64 ", want %" PRId64, got, want);
    return r;
}

static inline int tap_is_mem(const void *p, const void *q, size_t n, const char *name)
{
    return tap_ok(p && q && memcmp(p, q, n) == 0, "%s", name);
}

static inline int tap_done(void)
{
    if (tap_planned < 0)
        printf("1..%d\n", tap_n);
    else if (tap_planned != tap_n) {
        tap_diag("planned %d tests but ran %d", tap_planned, tap_n);
        return 1;
    }
    return tap_failed ? 1 : 0;
}

#endif
