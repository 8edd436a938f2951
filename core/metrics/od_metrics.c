/* od_metrics.c - the metrics area's keys, start and stop, and the hooks
 * other areas call (see od_metrics.h). The hooks only count; the text is
 * made when a scraper asks (od_metrics_collect.c). */
#include "od_metrics_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "od_conn.h"
#include "od_core.h"
#include "od_metadata.h"

od_mstate_t od_mstate;

static int64_t idle_ms;

static const od_conf_def_t metrics_defs[] = {
    {"metrics.listener", OD_CONF_STRING, NULL, 0, 0, NULL,
     "http://host:port for the Prometheus endpoint GET /metrics (unset or empty: off)",
     NULL, 0},
    {"metrics.connections.max.idle.ms", OD_CONF_INT, "60000", 1, INT64_MAX, NULL,
     "close a metrics (scrape) connection idle this long", &idle_ms, 0},
};

int64_t od_metrics_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int od_metrics_register_config(od_core_t *core, char *err, size_t errsz)
{
    return od_config_register(&core->config, metrics_defs,
                              sizeof(metrics_defs) / sizeof(metrics_defs[0]), "core", err, errsz);
}

/* The key has no static target: its text is read from the configuration
 * (NULL when unset, which the parser takes as off). */
static const char *listener_text(const od_core_t *core)
{
    return od_config_get(&core->config, "metrics.listener");
}

int od_metrics_check(od_core_t *core, char *err, size_t errsz)
{
    char host[256], why[300], where[4200];
    int port;
    if (od_metrics_url_parse(listener_text(core), host, sizeof(host), &port, why, sizeof(why)) >= 0)
        return 0;
    snprintf(err, errsz, "%s: metrics.listener: %s",
             od_config_where(&core->config, "metrics.listener", where, sizeof(where)), why);
    return -1;
}

int od_metrics_start(od_core_t *core, char *err, size_t errsz)
{
    char host[256], why[300];
    int port;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    od_mstate.start_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    od_mstate.running = 1;
    int on = od_metrics_url_parse(listener_text(core), host, sizeof(host), &port, why, sizeof(why));
    if (on < 0) {
        snprintf(err, errsz, "metrics.listener: %s", why);
        return -1;
    }
    if (on == 0)
        return 0;
    return od_metrics_http_open(core, host, port, idle_ms, err, errsz);
}

void od_metrics_stop(od_core_t *core)
{
    od_metrics_http_close(core);
    free(od_mstate.topics);
    memset(&od_mstate, 0, sizeof(od_mstate));
    od_mmodule_reset();
}

/* ---- requests ---- */

void od_metrics_api_begin(od_req_t *r)
{
    r->metrics_ns = od_metrics_now_ns();
    if (r->hdr.api_key >= 0 && r->hdr.api_key < OD_MAPI_MAX)
        od_mstate.api_requests[r->hdr.api_key]++;
}

void od_metrics_api_done(od_req_t *r)
{
    /* metrics_ns is 0 for requests dispatch did not time (the ApiVersions
     * fallback answer for an unsupported version). */
    if (r->metrics_ns == 0 || r->hdr.api_key < 0 || r->hdr.api_key >= OD_MAPI_MAX)
        return;
    od_mhist_observe(&od_mstate.api_latency[r->hdr.api_key], od_metrics_now_ns() - r->metrics_ns);
    r->metrics_ns = 0;
}

void od_metrics_net_in(size_t bytes) { od_mstate.net_in += bytes; }
void od_metrics_net_out(size_t bytes) { od_mstate.net_out += bytes; }

/* ---- the loop: a turn is from epoll_wait returning to the next wait ---- */

void od_metrics_loop_wake(void) { od_mstate.loop_wake_ns = od_metrics_now_ns(); }

void od_metrics_loop_sleep(void)
{
    if (od_mstate.loop_wake_ns == 0)
        return;
    od_mhist_observe(&od_mstate.loop_turn, od_metrics_now_ns() - od_mstate.loop_wake_ns);
    od_mstate.loop_wake_ns = 0;
}

/* ---- per-topic traffic ---- */

static size_t slot_of(const od_uuid_t *id, size_t cap)
{
    uint64_t h = 0;
    memcpy(&h, id->b, sizeof(h)); /* topic ids are random */
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    return (size_t)(h ^ (h >> 32)) & (cap - 1);
}

static od_mtopic_t *lookup(const od_uuid_t *id, int create)
{
    od_mstate_t *m = &od_mstate;
    if (create && (m->ntopics + 1) * 2 > m->topics_cap) {
        size_t nc = m->topics_cap ? m->topics_cap * 2 : 64;
        od_mtopic_t *nt = calloc(nc, sizeof(*nt));
        if (!nt)
            return NULL; /* the figure is lost, the broker goes on */
        for (size_t i = 0; i < m->topics_cap; i++) {
            if (!m->topics[i].used)
                continue;
            size_t s = slot_of(&m->topics[i].id, nc);
            while (nt[s].used)
                s = (s + 1) & (nc - 1);
            nt[s] = m->topics[i];
        }
        free(m->topics);
        m->topics = nt;
        m->topics_cap = nc;
    }
    if (!m->topics_cap)
        return NULL;
    size_t s = slot_of(id, m->topics_cap);
    while (m->topics[s].used) {
        if (memcmp(m->topics[s].id.b, id->b, sizeof(id->b)) == 0)
            return &m->topics[s];
        s = (s + 1) & (m->topics_cap - 1);
    }
    if (!create)
        return NULL;
    memset(&m->topics[s], 0, sizeof(m->topics[s]));
    m->topics[s].used = 1;
    m->topics[s].id = *id;
    m->ntopics++;
    return &m->topics[s];
}

const od_mtopic_t *od_mtopic_find(const od_uuid_t *id) { return lookup(id, 0); }

void od_metrics_topic_in(const od_topic_t *t, size_t bytes, int64_t records)
{
    od_mtopic_t *e = od_mstate.running ? lookup(&t->id, 1) : NULL;
    if (!e)
        return;
    e->bytes_in += bytes;
    e->messages_in += records > 0 ? (uint64_t)records : 0;
}

void od_metrics_topic_out(const od_topic_t *t, size_t bytes)
{
    od_mtopic_t *e = od_mstate.running ? lookup(&t->id, 1) : NULL;
    if (e)
        e->bytes_out += bytes;
}

void od_mtopic_prune(od_core_t *core)
{
    od_mstate_t *m = &od_mstate;
    size_t gone = 0;
    for (size_t i = 0; i < m->topics_cap; i++)
        if (m->topics[i].used && !od_image_topic_by_id(&core->image, &m->topics[i].id))
            gone++;
    if (gone == 0)
        return;
    /* Rebuild without them (open addressing has no cheap delete). */
    od_mtopic_t *old = m->topics;
    size_t cap = m->topics_cap;
    m->topics = NULL;
    m->topics_cap = m->ntopics = 0;
    for (size_t i = 0; i < cap; i++) {
        if (!old[i].used || !od_image_topic_by_id(&core->image, &old[i].id))
            continue;
        od_mtopic_t *e = lookup(&old[i].id, 1);
        if (e) {
            e->bytes_in = old[i].bytes_in;
            e->bytes_out = old[i].bytes_out;
            e->messages_in = old[i].messages_in;
        }
    }
    free(old);
}
