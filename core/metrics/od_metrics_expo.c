/* od_metrics_expo.c - Prometheus text exposition format writer. */
#include "od_metrics_expo.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const int64_t od_mhist_bounds_ns[OD_MHIST_NB] = {
    50000LL,     100000LL,     250000LL,     500000LL,     1000000LL,   2500000LL,
    5000000LL,   10000000LL,   25000000LL,   50000000LL,   100000000LL, 250000000LL,
    500000000LL, 1000000000LL, 2500000000LL, 5000000000LL, 10000000000LL,
};

void od_mhist_observe(od_mhist_t *h, int64_t ns)
{
    size_t i = 0;
    if (ns < 0)
        ns = 0; /* a clock step backwards: count it as instant */
    while (i < OD_MHIST_NB && ns > od_mhist_bounds_ns[i])
        i++;
    h->bucket[i]++;
    h->count++;
    h->sum_ns += (uint64_t)ns;
}

void od_mtext_free(od_mtext_t *t)
{
    free(t->p);
    memset(t, 0, sizeof(*t));
}

static int reserve(od_mtext_t *t, size_t n)
{
    if (t->err)
        return -1;
    if (t->len + n + 1 <= t->cap)
        return 0;
    size_t nc = t->cap ? t->cap : 4096;
    while (nc < t->len + n + 1)
        nc *= 2;
    char *np = realloc(t->p, nc);
    if (!np) {
        t->err = 1;
        return -1;
    }
    t->p = np;
    t->cap = nc;
    return 0;
}

int od_mtext_reserve(od_mtext_t *t, size_t n) { return reserve(t, n); }

void od_mtext_put(od_mtext_t *t, const char *s, size_t n)
{
    if (reserve(t, n) < 0)
        return;
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = 0;
}

void od_mtext_printf(od_mtext_t *t, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->err = 1;
        return;
    }
    if ((size_t)n < sizeof(small)) {
        od_mtext_put(t, small, (size_t)n);
        return;
    }
    if (reserve(t, (size_t)n) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(t->p + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

/* HELP text escapes backslash and newline; label values also the double
 * quote (the format's only escapes). */
static void put_escaped(od_mtext_t *t, const char *s, int quote)
{
    const char *run = s;
    for (; *s; s++) {
        const char *esc = NULL;
        if (*s == '\\')
            esc = "\\\\";
        else if (*s == '\n')
            esc = "\\n";
        else if (quote && *s == '"')
            esc = "\\\"";
        if (!esc)
            continue;
        od_mtext_put(t, run, (size_t)(s - run));
        od_mtext_put(t, esc, 2);
        run = s + 1;
    }
    od_mtext_put(t, run, (size_t)(s - run));
}

void od_expo_family(od_mtext_t *t, const char *name, const char *type, const char *help)
{
    od_mtext_printf(t, "# HELP %s ", name);
    put_escaped(t, help, 0);
    od_mtext_printf(t, "\n# TYPE %s %s\n", name, type);
}

/* Samples are most of a scrape (thousands with many partitions), so they
 * are written without printf. */
static void put_str(od_mtext_t *t, const char *s) { od_mtext_put(t, s, strlen(s)); }

static void put_labels(od_mtext_t *t, const od_mlabel_t *l, size_t nl, const char *le)
{
    if (nl == 0 && !le)
        return;
    od_mtext_put(t, "{", 1);
    for (size_t i = 0; i < nl; i++) {
        if (i)
            od_mtext_put(t, ",", 1);
        put_str(t, l[i].name);
        od_mtext_put(t, "=\"", 2);
        put_escaped(t, l[i].value ? l[i].value : "", 1);
        od_mtext_put(t, "\"", 1);
    }
    if (le) {
        od_mtext_put(t, nl ? ",le=\"" : "le=\"", nl ? 5 : 4);
        put_str(t, le);
        od_mtext_put(t, "\"", 1);
    }
    od_mtext_put(t, "}", 1);
}

/* " <v>\n" */
static void put_value_u(od_mtext_t *t, uint64_t v, int neg)
{
    char b[24];
    size_t i = sizeof(b);
    b[--i] = '\n';
    do {
        b[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (neg)
        b[--i] = '-';
    b[--i] = ' ';
    od_mtext_put(t, b + i, sizeof(b) - i);
}

static void put_value(od_mtext_t *t, int64_t v)
{
    put_value_u(t, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, v < 0);
}

void od_expo_int(od_mtext_t *t, const char *name, const od_mlabel_t *l, size_t nl, int64_t v)
{
    put_str(t, name);
    put_labels(t, l, nl, NULL);
    put_value(t, v);
}

static void put_double(od_mtext_t *t, double v)
{
    if (isnan(v))
        od_mtext_put(t, "NaN", 3);
    else if (isinf(v))
        od_mtext_put(t, v > 0 ? "+Inf" : "-Inf", 4);
    else
        od_mtext_printf(t, "%.17g", v);
}

void od_expo_double(od_mtext_t *t, const char *name, const od_mlabel_t *l, size_t nl, double v)
{
    od_mtext_put(t, name, strlen(name));
    put_labels(t, l, nl, NULL);
    od_mtext_put(t, " ", 1);
    put_double(t, v);
    od_mtext_put(t, "\n", 1);
}

void od_expo_hist(od_mtext_t *t, const char *name, const od_mlabel_t *l, size_t nl,
                  const od_mhist_t *h)
{
    static char les[OD_MHIST_NB][16];
    uint64_t cum = 0;
    if (!les[0][0])
        for (size_t i = 0; i < OD_MHIST_NB; i++)
            snprintf(les[i], sizeof(les[i]), "%g", (double)od_mhist_bounds_ns[i] / 1e9);
    for (size_t i = 0; i <= OD_MHIST_NB; i++) {
        cum += h->bucket[i];
        put_str(t, name);
        od_mtext_put(t, "_bucket", 7);
        put_labels(t, l, nl, i < OD_MHIST_NB ? les[i] : "+Inf");
        put_value_u(t, cum, 0);
    }
    put_str(t, name);
    od_mtext_put(t, "_sum", 4);
    put_labels(t, l, nl, NULL);
    od_mtext_put(t, " ", 1);
    put_double(t, (double)h->sum_ns / 1e9);
    od_mtext_put(t, "\n", 1);
    put_str(t, name);
    od_mtext_put(t, "_count", 6);
    put_labels(t, l, nl, NULL);
    put_value_u(t, h->count, 0);
}
