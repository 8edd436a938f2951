/* evmod.c - a test module for the events of module ABI 1.3 (t/70xx),
 * built by the tests against odradek-module.h. Compiled with
 * -DEVMOD_NAME=\"evmod\" (the deciding one) or \"evmod2\" (the second
 * module: it denies admin changes of resources naming "blocked").
 *
 *   CONN_OPENED  deny when the client's host is evmod.deny.host
 *   CONN_CLOSED  counted; logged with the reason
 *   REQUEST      deny api key evmod.deny.api
 *   APPEND       deny batches whose (decompressed) bytes hold "FORBIDDEN"
 *   ADMIN        allow resources named "allow-*" (decides: later modules are
 *                not asked), deny more than evmod.max.partitions partitions,
 *                defer the rest
 *   TICK         counted
 * start() runs a thread that posts 100 callbacks with od_loop_post; each
 * checks it runs on the loop thread and in order. fini() logs the counts
 * and what od_loop_post says once shutdown began. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <odradek-module.h>

#ifndef EVMOD_NAME
#define EVMOD_NAME "evmod"
#endif

static char *deny_host;
static int64_t deny_api, max_parts, per_listener;
static const od_conf_def_t defs[] = {
    {EVMOD_NAME ".deny.host", OD_CONF_STRING, "", 0, 0, NULL, "test: host to refuse", &deny_host,
     0},
    {EVMOD_NAME ".deny.api", OD_CONF_INT, "-1", -1, 1000, NULL, "test: api key to refuse",
     &deny_api, 0},
    {EVMOD_NAME ".max.partitions", OD_CONF_INT, "1000", 1, 100000, NULL, "test: partition cap",
     &max_parts, 0},
    {EVMOD_NAME ".limit", OD_CONF_INT, "5", 1, 100, NULL, "test: a per-listener key",
     &per_listener, OD_CONF_F_LISTENER},
};

static od_module_ctx_t *self_ctx;
static long opened, closed, ticks, posts_ran;
static int posts_in_order = 1, posts_on_loop = 1;
static pthread_t loop_thread, poster;
static int poster_started;

static int on_conn(void *arg, int event, const void *e)
{
    (void)arg;
    const od_ev_conn_t *ev = e;
    if (event == OD_EVENT_CONN_CLOSED) {
        closed++;
        od_mlogf(self_ctx, OD_LOG_INFO, "connection %llu closed: %s",
                 (unsigned long long)ev->client->conn_id, ev->why);
        return OD_DEFER;
    }
    opened++;
    od_mlogf(self_ctx, OD_LOG_INFO, "connection %llu opened from %s (host %s) on %s as %s",
             (unsigned long long)ev->client->conn_id, ev->client->peer, ev->client->host,
             ev->client->listener, ev->client->principal);
    if (deny_host && *deny_host && strcmp(ev->client->host, deny_host) == 0) {
        snprintf(ev->reason, ev->reason_size, "host %s is not welcome", ev->client->host);
        return OD_DENY;
    }
    return OD_DEFER;
}

static int on_request(void *arg, int event, const void *e)
{
    (void)arg, (void)event;
    const od_ev_request_t *ev = e;
    if (ev->api_key == deny_api) {
        snprintf(ev->reason, ev->reason_size, "api %d is switched off (client id %s)",
                 ev->api_key, ev->client->client_id ? ev->client->client_id : "(null)");
        return OD_DENY;
    }
    return OD_DEFER;
}

static int on_append(void *arg, int event, const void *e)
{
    (void)arg, (void)event;
    const od_ev_append_t *ev = e;
    if (memmem(ev->batches, ev->len, "FORBIDDEN", 9)) {
        snprintf(ev->reason, ev->reason_size, "%s: FORBIDDEN found in %s-%d (%d records)",
                 EVMOD_NAME, ev->topic, ev->partition, ev->record_count);
        return OD_DENY;
    }
    return OD_DEFER;
}

static int on_admin(void *arg, int event, const void *e)
{
    (void)arg, (void)event;
    const od_ev_admin_t *ev = e;
    const char *res = ev->resource ? ev->resource : "";
    od_mlogf(self_ctx, OD_LOG_INFO, "admin op %d on '%s' by %s partitions %d", ev->op, res,
             ev->client->principal, ev->partitions);
    if (strcmp(EVMOD_NAME, "evmod2") == 0) {
        if (strstr(res, "blocked")) {
            snprintf(ev->reason, ev->reason_size, "evmod2 says no to %s", res);
            return OD_DENY;
        }
        return OD_DEFER;
    }
    if (strncmp(res, "allow-", 6) == 0)
        return OD_ALLOW;
    if (ev->partitions > max_parts) {
        snprintf(ev->reason, ev->reason_size, "evmod: at most %lld partitions, not %d",
                 (long long)max_parts, ev->partitions);
        return OD_DENY;
    }
    return OD_DEFER;
}

static int on_tick(void *arg, int event, const void *e)
{
    (void)arg, (void)event, (void)e;
    ticks++;
    return OD_DEFER;
}

static void posted(void *arg)
{
    long seq = (long)(intptr_t)arg;
    if (!pthread_equal(pthread_self(), loop_thread))
        posts_on_loop = 0;
    if (seq != posts_ran)
        posts_in_order = 0;
    if (++posts_ran == 100)
        od_mlogf(self_ctx, OD_LOG_INFO, "100 posts ran: in order %d, on the loop thread %d",
                 posts_in_order, posts_on_loop);
}

static void *post_thread(void *arg)
{
    od_core_t *core = arg;
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
    for (long i = 0; i < 100; i++)
        if (od_loop_post(core, posted, (void *)(intptr_t)i) != OD_OK)
            od_mlogf(self_ctx, OD_LOG_ERROR, "od_loop_post failed");
    return NULL;
}

static int m_init(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    self_ctx = ctx;
    if (od_register_config(ctx, defs, sizeof defs / sizeof defs[0]) < 0 ||
        od_register_event(ctx, OD_EVENT_CONN_OPENED, on_conn, NULL) != OD_OK ||
        od_register_event(ctx, OD_EVENT_CONN_CLOSED, on_conn, NULL) != OD_OK ||
        od_register_event(ctx, OD_EVENT_REQUEST, on_request, NULL) != OD_OK ||
        od_register_event(ctx, OD_EVENT_APPEND, on_append, NULL) != OD_OK ||
        od_register_event(ctx, OD_EVENT_ADMIN, on_admin, NULL) != OD_OK ||
        od_register_event(ctx, OD_EVENT_TICK, on_tick, NULL) != OD_OK) {
        snprintf(err, errsz, "registration failed");
        return -1;
    }
    return 0;
}

static int m_start(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    loop_thread = pthread_self();
    const char *pl = od_config_listener_get(od_module_core(ctx), "PLAINTEXT", EVMOD_NAME ".limit");
    od_mlogf(ctx, OD_LOG_INFO, "limit %lld, on PLAINTEXT %s", (long long)per_listener,
             pl ? pl : "(null)");
    if (pthread_create(&poster, NULL, post_thread, od_module_core(ctx)) != 0) {
        snprintf(err, errsz, "pthread_create failed");
        return -1;
    }
    poster_started = 1;
    return 0;
}

static void nop(void *arg) { (void)arg; }

static void m_fini(od_module_ctx_t *ctx)
{
    if (poster_started)
        pthread_join(poster, NULL);
    int rc = od_loop_post(od_module_core(ctx), nop, NULL);
    od_mlogf(ctx, OD_LOG_INFO, "fini: opened %ld closed %ld ticks %ld posts %ld; a post now "
             "returns %d", opened, closed, ticks, posts_ran, rc);
}

od_module_t od_module = {
    .abi_major = OD_ABI_MAJOR, .abi_minor = OD_ABI_MINOR, .name = EVMOD_NAME, .version = "1",
    .kinds = OD_KIND_OTHER, .init = m_init, .fini = m_fini, .start = m_start,
};
