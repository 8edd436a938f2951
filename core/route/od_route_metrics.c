/* od_route_metrics.c - per-hook counters of Lua routes and partitioners,
 * and the placement check's misplaced records, on the metrics page.
 *
 * Series stay bounded: hooks are named by the operator's scripts, at most
 * ROUTE_HOOKS_MAX of them are kept (more are counted under the name
 * "(other)"), and misplaced records per topic for at most ROUTE_TOPICS_MAX
 * topics (more under "(other)"). Counters are not reset by SIGHUP. */
#include <stdio.h>
#include <string.h>

#include "od_metrics_expo.h"
#include "od_route.h"

#define ROUTE_HOOKS_MAX  64
#define ROUTE_TOPICS_MAX 256
#define NAME_MAX_LEN     250

typedef struct hook_stat {
    char kind[16];
    char name[NAME_MAX_LEN];
    uint64_t v[OD_RMETRIC_N];
} hook_stat_t;

typedef struct misplaced_stat {
    char topic[NAME_MAX_LEN];
    uint64_t reject, warn;
} misplaced_stat_t;

static hook_stat_t hooks[ROUTE_HOOKS_MAX + 1];
static size_t nhooks;
static misplaced_stat_t topics[ROUTE_TOPICS_MAX + 1];
static size_t ntopics;

static hook_stat_t *hook_of(const char *kind, const char *name)
{
    for (size_t i = 0; i < nhooks; i++)
        if (strcmp(hooks[i].kind, kind) == 0 && strcmp(hooks[i].name, name) == 0)
            return &hooks[i];
    hook_stat_t *h = nhooks < ROUTE_HOOKS_MAX ? &hooks[nhooks++] : &hooks[ROUTE_HOOKS_MAX];
    if (h == &hooks[ROUTE_HOOKS_MAX])
        name = "(other)";
    snprintf(h->kind, sizeof(h->kind), "%s", kind);
    snprintf(h->name, sizeof(h->name), "%s", name);
    return h;
}

void od_route_metric(const char *kind, const char *name, int what, uint64_t v)
{
    if (what < 0 || what >= OD_RMETRIC_N)
        return;
    hook_of(kind, name)->v[what] += v;
}

void od_route_metric_misplaced(const char *topic, const char *action, uint64_t n)
{
    misplaced_stat_t *m = NULL;
    for (size_t i = 0; i < ntopics && !m; i++)
        if (strcmp(topics[i].topic, topic) == 0)
            m = &topics[i];
    if (!m) {
        m = ntopics < ROUTE_TOPICS_MAX ? &topics[ntopics++] : &topics[ROUTE_TOPICS_MAX];
        snprintf(m->topic, sizeof(m->topic), "%s", m == &topics[ROUTE_TOPICS_MAX] ? "(other)"
                                                                                    : topic);
    }
    if (strcmp(action, "reject") == 0)
        m->reject += n;
    else
        m->warn += n;
}

static void render_hook_family(od_mtext_t *t, const char *metric, const char *help, int what)
{
    int any = 0;
    for (size_t i = 0; i <= ROUTE_HOOKS_MAX; i++) {
        const hook_stat_t *h = &hooks[i];
        if (!h->kind[0])
            continue;
        if (!any++)
            od_expo_family(t, metric, "counter", help);
        od_mlabel_t l[2] = {{"kind", h->kind}, {"hook", h->name}};
        if (what == OD_RMETRIC_NS)
            od_expo_double(t, metric, l, 2, (double)h->v[what] / 1e9);
        else
            od_expo_int(t, metric, l, 2, (int64_t)h->v[what]);
    }
}

void od_route_metrics_render(od_mtext_t *t)
{
    render_hook_family(t, "odradek_lua_hook_calls_total",
                       "Calls of a Lua route (one per partition's batches) or partitioner "
                       "(one per record).", OD_RMETRIC_CALLS);
    render_hook_family(t, "odradek_lua_hook_rejects_total",
                       "Batches a Lua route rejected (false, reason).", OD_RMETRIC_REJECTS);
    render_hook_family(t, "odradek_lua_hook_errors_total",
                       "Failed calls of a Lua hook: errors, blown budgets, results of the "
                       "wrong shape.", OD_RMETRIC_ERRORS);
    render_hook_family(t, "odradek_lua_hook_seconds_total", "Time spent in a Lua hook.",
                       OD_RMETRIC_NS);
    render_hook_family(t, "odradek_route_copies_total", "Copies a route appended (rec:copy).",
                       OD_RMETRIC_COPIES);
    render_hook_family(t, "odradek_route_dead_letters_total",
                       "Records a route sent to a dead-letter topic.", OD_RMETRIC_DLQ);
    render_hook_family(t, "odradek_route_lost_total",
                       "Copies and dead letters that could not be appended (best-effort).",
                       OD_RMETRIC_LOST);
    render_hook_family(t, "odradek_route_forwarded_total",
                       "Copies and dead letters the leader of their target, another broker, "
                       "acknowledged (also in copies_total / dead_letters_total).",
                       OD_RMETRIC_FORWARDED);
    render_hook_family(t, "odradek_route_forward_retries_total",
                       "Forwarded batches of copies sent again or waiting for a leader.",
                       OD_RMETRIC_RETRIES);
    render_hook_family(t, "odradek_route_forward_refused_total",
                       "Produces to a routed topic refused with NOT_ENOUGH_REPLICAS while "
                       "route.forward.buffer.bytes of copies were waiting.", OD_RMETRIC_REFUSED);
    uint64_t precs, pbytes;
    od_route_forward_stats(&precs, &pbytes);
    od_expo_family(t, "odradek_route_forward_pending_records", "gauge",
                   "Copies and dead letters waiting for another broker's acknowledgement.");
    od_expo_int(t, "odradek_route_forward_pending_records", NULL, 0, (int64_t)precs);
    od_expo_family(t, "odradek_route_forward_pending_bytes", "gauge",
                   "Bytes of them (bounded by route.forward.buffer.bytes).");
    od_expo_int(t, "odradek_route_forward_pending_bytes", NULL, 0, (int64_t)pbytes);
    int any = 0;
    for (size_t i = 0; i <= ROUTE_TOPICS_MAX; i++) {
        const misplaced_stat_t *m = &topics[i];
        if (!m->topic[0])
            continue;
        if (!any++)
            od_expo_family(t, "odradek_placement_misplaced_records_total", "counter",
                           "Keyed records in another partition than placement.partitioner "
                           "gives them, by topic and placement.action.");
        od_mlabel_t r[2] = {{"topic", m->topic}, {"action", "reject"}};
        od_expo_int(t, "odradek_placement_misplaced_records_total", r, 2, (int64_t)m->reject);
        od_mlabel_t w[2] = {{"topic", m->topic}, {"action", "warn"}};
        od_expo_int(t, "odradek_placement_misplaced_records_total", w, 2, (int64_t)m->warn);
    }
}
