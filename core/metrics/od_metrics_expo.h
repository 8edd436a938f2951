/* od_metrics_expo.h - the Prometheus text exposition format (version
 * 0.0.4): a growable text buffer, metric families (# HELP / # TYPE),
 * samples with escaped labels, and fixed-bucket histograms.
 *
 * Kept apart from the collectors so the format can be unit tested alone
 * (t/unit/test_metrics.c). */
#ifndef OD_METRICS_EXPO_H
#define OD_METRICS_EXPO_H

#include <stddef.h>
#include <stdint.h>

/* Text being built. Out of memory sets err and later writes are dropped,
 * so callers check once at the end. */
typedef struct od_mtext {
    char *p;
    size_t len, cap;
    int err;
} od_mtext_t;

void od_mtext_free(od_mtext_t *t);
/* Room for n more bytes at once (a size hint: one allocation per scrape). */
int od_mtext_reserve(od_mtext_t *t, size_t n);
void od_mtext_put(od_mtext_t *t, const char *s, size_t n);
void od_mtext_printf(od_mtext_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef struct od_mlabel {
    const char *name;  /* a valid label name (ours, never from clients) */
    const char *value; /* any UTF-8 text; escaped on output */
} od_mlabel_t;

/* Latency-style histogram: bucket upper bounds are fixed (seconds, from
 * 50 us to 10 s, roughly 1-2.5-5 steps) so every histogram of the broker
 * aggregates with every other. Counts are per bucket (not cumulative);
 * the writer makes them cumulative. */
#define OD_MHIST_NB 17
typedef struct od_mhist {
    uint64_t bucket[OD_MHIST_NB + 1]; /* last: above the largest bound */
    uint64_t count;
    uint64_t sum_ns;
} od_mhist_t;

extern const int64_t od_mhist_bounds_ns[OD_MHIST_NB];
void od_mhist_observe(od_mhist_t *h, int64_t ns);

/* "# HELP name help\n# TYPE name type\n"; type is counter, gauge,
 * histogram or untyped. */
void od_expo_family(od_mtext_t *t, const char *name, const char *type, const char *help);
/* One sample: name{labels} value. */
void od_expo_int(od_mtext_t *t, const char *name, const od_mlabel_t *l, size_t nl, int64_t v);
void od_expo_double(od_mtext_t *t, const char *name, const od_mlabel_t *l, size_t nl, double v);
/* name_bucket{labels,le="..."} (cumulative, ending with +Inf), name_sum
 * (seconds) and name_count. */
void od_expo_hist(od_mtext_t *t, const char *name, const od_mlabel_t *l, size_t nl,
                  const od_mhist_t *h);

#endif
