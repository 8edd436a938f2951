/* test_ext.c - the core side of ABI 1.3 without a broker: module-kind
 * registries (a name taken twice is an error naming both modules), events
 * (load order, first decision wins, defer falls through), od_loop_post
 * from several threads (every post runs once, each thread's in its order,
 * refused once shutdown began), and per-listener config overrides.
 * The post test is also clean under ThreadSanitizer: built by hand with
 * clang -fsanitize=thread from every core source and this file (as
 * scripts/fuzz.sh builds the core), it reports nothing. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_config.h"
#include "od_core.h"
#include "od_ext.h"
#include "od_module.h"
#include "tap.h"

/* ---- registries ---- */

static int m_begin(void *self, od_sasl_session_t *s, void **st, char *err, size_t errsz)
{
    (void)self, (void)s, (void)st, (void)err, (void)errsz;
    return OD_OK;
}
static int m_step(void *self, void *st, od_sasl_session_t *s, const uint8_t *in, size_t len,
                  char *err, size_t errsz)
{
    (void)self, (void)st, (void)s, (void)in, (void)len, (void)err, (void)errsz;
    return OD_SASL_DONE;
}
static const od_sasl_mech_ops_t plain = {sizeof(od_sasl_mech_ops_t), "PLAIN", m_begin, m_step, NULL};
static const od_sasl_mech_ops_t scram = {sizeof(od_sasl_mech_ops_t), "SCRAM-SHA-256", m_begin,
                                         m_step, NULL};
static const od_sasl_mech_ops_t shorty = {8, "SHORT", m_begin, m_step, NULL};

static int az(void *self, const od_client_t *c, const od_action_t *a, char *r, size_t rs)
{
    (void)self, (void)c, (void)a, (void)r, (void)rs;
    return OD_ALLOW;
}
static const char *const az_classes[] = {"kafka.security.authorizer.AclAuthorizer", NULL};
static const od_authorizer_ops_t acl = {sizeof(od_authorizer_ops_t), "acl", az_classes, NULL,
                                        NULL, az, NULL, NULL};

static od_module_t mod_a = {.abi_major = 1, .abi_minor = 3, .name = "mod_a"};
static od_module_t mod_b = {.abi_major = 1, .abi_minor = 3, .name = "mod_b"};

static void test_registries(od_core_t *core)
{
    od_module_ctx_t a = {.core = core, .mod = &mod_a, .in_init = 1};
    od_module_ctx_t b = {.core = core, .mod = &mod_b, .in_init = 1};
    char err[512];
    tap_is_int(od_register_sasl_mechanism(&a, &plain, (void *)1), OD_OK, "mod_a registers PLAIN");
    tap_is_int(od_register_sasl_mechanism(&b, &scram, (void *)2), OD_OK,
               "mod_b registers SCRAM-SHA-256 (several of a kind)");
    tap_is_int(od_ext_take_error(core, err, sizeof(err)), 0, "no error so far");
    const od_ext_reg_t *r = od_ext_find(core, OD_EXT_SASL_MECH, "SCRAM-SHA-256");
    tap_ok(r && r->self == (void *)2 && strcmp(r->module, "mod_b") == 0,
           "lookup by name finds mod_b's mechanism and self");
    tap_ok(od_ext_find(core, OD_EXT_SASL_MECH, "GSSAPI") == NULL, "an unknown name finds nothing");
    tap_is_int((int64_t)od_ext_count(core, OD_EXT_SASL_MECH), 2, "two mechanisms");
    tap_ok(strcmp(od_ext_at(core, OD_EXT_SASL_MECH, 0)->name, "PLAIN") == 0,
           "iteration is in registration order");
    tap_ok(od_register_sasl_mechanism(&b, &plain, NULL) != OD_OK, "PLAIN a second time fails");
    tap_ok(od_ext_take_error(core, err, sizeof(err)) < 0 && strstr(err, "PLAIN") &&
               strstr(err, "mod_a") && strstr(err, "mod_b"),
           "the start error names the mechanism and both modules");
    tap_diag("%s", err);
    tap_ok(od_register_sasl_mechanism(&a, &shorty, NULL) != OD_OK &&
               od_ext_take_error(core, err, sizeof(err)) < 0 && strstr(err, "SHORT"),
           "a short ops struct is refused with a start error");
    a.in_init = 0;
    tap_ok(od_register_authorizer(&a, &acl, NULL) != OD_OK, "registration outside init fails");
    a.in_init = 1;
    tap_is_int(od_register_authorizer(&a, &acl, NULL), OD_OK, "an authorizer registers");
    tap_ok(od_ext_authorizer(core, "kafka.security.authorizer.AclAuthorizer") ==
               od_ext_find(core, OD_EXT_AUTHORIZER, "acl"),
           "the authorizer is found by its Kafka class name too");
}

/* ---- events ---- */

static int calls[3];
static int cb_defer(void *arg, int event, const void *ev)
{
    (void)event, (void)ev;
    calls[(intptr_t)arg]++;
    return OD_DEFER;
}
static int cb_deny(void *arg, int event, const void *ev)
{
    (void)event;
    const od_ev_request_t *rq = ev;
    calls[(intptr_t)arg]++;
    snprintf(rq->reason, rq->reason_size, "no api %d", rq->api_key);
    return OD_DENY;
}

static void test_events(od_core_t *core)
{
    od_module_ctx_t a = {.core = core, .mod = &mod_a, .in_init = 1};
    od_module_ctx_t b = {.core = core, .mod = &mod_b, .in_init = 1};
    char err[512];
    tap_ok(!od_event_wanted(core, OD_EVENT_REQUEST), "nobody listens yet");
    const char *who = "x";
    tap_is_int(od_event_fire(core, OD_EVENT_REQUEST, NULL, &who), OD_DEFER,
               "an event without listeners defers");
    tap_ok(who == NULL, "and names no decider");
    od_register_event(&a, OD_EVENT_REQUEST, cb_defer, (void *)0);
    od_register_event(&b, OD_EVENT_REQUEST, cb_deny, (void *)1);
    od_register_event(&a, OD_EVENT_REQUEST, cb_defer, (void *)2);
    char reason[64] = "";
    od_ev_request_t ev = {sizeof(ev), od_ext_nobody(), 19, 5, 7, 100, reason, sizeof(reason)};
    tap_is_int(od_event_fire(core, OD_EVENT_REQUEST, &ev, &who), OD_DENY,
               "the first defers, the second denies");
    tap_ok(who && strcmp(who, "mod_b") == 0, "the decider is mod_b");
    tap_ok(strcmp(reason, "no api 19") == 0, "the reason comes back");
    tap_ok(calls[0] == 1 && calls[1] == 1 && calls[2] == 0,
           "callbacks ran in load order and the third was not asked");
    tap_ok(od_register_event(&a, 99, cb_defer, NULL) != OD_OK &&
               od_ext_take_error(core, err, sizeof(err)) < 0 && strstr(err, "99"),
           "an unknown event number is a start error");
}

/* ---- od_loop_post ---- */

#define NTHREADS 4
#define PER_THREAD 2000
static int last_seen[NTHREADS];
static int in_order = 1, ran;
static od_core_t *C;

static void posted(void *arg)
{
    intptr_t v = (intptr_t)arg;
    int t = (int)(v / PER_THREAD), seq = (int)(v % PER_THREAD);
    if (seq != last_seen[t] + 1)
        in_order = 0;
    last_seen[t] = seq;
    if (++ran == NTHREADS * PER_THREAD)
        od_loop_stop(C->loop);
}

static void *poster(void *arg)
{
    intptr_t t = (intptr_t)arg;
    for (int i = 0; i < PER_THREAD; i++)
        while (od_loop_post(C, posted, (void *)(t * PER_THREAD + i)) == OD_ERR_NOMEM)
            ;
    return NULL;
}

static int safety_ran;
static void safety(void *arg)
{
    (void)arg;
    safety_ran = 1;
    od_loop_stop(C->loop);
}
static void never(void *arg) { *(int *)arg = 1; }

static void test_post(od_core_t *core)
{
    C = core;
    for (int i = 0; i < NTHREADS; i++)
        last_seen[i] = -1;
    pthread_t th[NTHREADS];
    for (intptr_t i = 0; i < NTHREADS; i++)
        pthread_create(&th[i], NULL, poster, (void *)i);
    /* A timer that ends the loop if posts went missing, so the test fails
     * instead of hanging. */
    int64_t guard = od_loop_timer(core->loop, 60000, safety, NULL);
    od_loop_run(core->loop);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    od_loop_cancel(core->loop, guard);
    tap_ok(!safety_ran, "every post ran before the guard timer");
    tap_is_int(ran, NTHREADS * PER_THREAD, "each of the posts ran once");
    tap_ok(in_order, "each thread's posts ran in the order posted");
    int queued = 0, touched = 0;
    tap_is_int(od_loop_post(core, never, &queued), OD_OK, "a post is accepted");
    od_ext_stop(core);
    tap_ok(queued, "stopping runs what was queued");
    tap_is_int(od_loop_post(core, never, &touched), OD_ERR_STOPPING,
               "after shutdown began a post is refused with OD_ERR_STOPPING");
    tap_ok(!touched, "and its function never runs");
}

/* ---- per-listener overrides ---- */

static int64_t ival;
static char *sval;
static od_conf_def_t ldefs[] = {
    {"ssl.keystore.location", OD_CONF_STRING, NULL, 0, 0, NULL, "x", &sval, OD_CONF_F_LISTENER},
    {"sasl.max.bytes", OD_CONF_INT, "10", 1, 100, NULL, "x", &ival, OD_CONF_F_LISTENER},
    {"plain.key", OD_CONF_INT, "1", 0, 9, NULL, "not per listener", NULL, 0},
};

static int apply_with(const char *const *kv, size_t n, od_config_t *c, char *err, size_t errsz)
{
    od_config_init(c);
    if (od_config_register(c, ldefs, 3, "test", err, errsz) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (od_config_add_set(c, kv[i], err, errsz) < 0)
            return -1;
    return od_config_apply(c, err, errsz);
}

static void test_listener_conf(void)
{
    od_config_t c;
    char err[512];
    const char *good[] = {"sasl.max.bytes=20", "listener.name.SASL_SSL.sasl.max.bytes=50",
                          "listener.name.sasl_ssl.scram-sha-256.sasl.max.bytes=60",
                          "listener.name.internal.ssl.keystore.location=/k.jks"};
    if (!tap_is_int(apply_with(good, 4, &c, err, sizeof(err)), 0, "overrides are accepted"))
        tap_diag("%s", err);
    int64_t v = 0;
    tap_ok(od_config_listener_int(&c, "SASL_SSL", "sasl.max.bytes", &v) == 0 && v == 50,
           "the listener's override wins (name matched without case)");
    tap_ok(od_config_listener_int(&c, "PLAINTEXT", "sasl.max.bytes", &v) == 0 && v == 20,
           "another listener falls back to the base key");
    tap_ok(od_config_listener_int(&c, "sasl_ssl", "scram-sha-256.sasl.max.bytes", &v) == 0 &&
               v == 60,
           "a mechanism-prefixed override is found");
    tap_ok(od_config_listener_int(&c, "sasl_ssl", "plain.sasl.max.bytes", &v) == 0 && v == 50,
           "another mechanism falls back to the listener's key");
    tap_ok(od_config_listener_int(&c, "x", "plain.sasl.max.bytes", &v) == 0 && v == 20,
           "then to the base key");
    const char *s = od_config_listener_value(&c, "INTERNAL", "ssl.keystore.location");
    tap_ok(s && strcmp(s, "/k.jks") == 0, "a string override");
    tap_ok(od_config_listener_value(&c, "OTHER", "ssl.keystore.location") == NULL,
           "an unset key without default is NULL");
    tap_ok(ival == 20, "the base key's target holds the base value");
    od_config_free(&c);

    const char *bad_val[] = {"listener.name.sasl_ssl.sasl.max.bytes=500"};
    tap_ok(apply_with(bad_val, 1, &c, err, sizeof(err)) < 0 && strstr(err, "--set") &&
               strstr(err, "out of range"),
           "an override is validated like its key");
    tap_diag("%s", err);
    od_config_free(&c);
    const char *not_listener[] = {"listener.name.sasl_ssl.plain.key=3"};
    tap_ok(apply_with(not_listener, 1, &c, err, sizeof(err)) < 0 &&
               strstr(err, "cannot be set per listener"),
           "a key without the listener flag is refused");
    tap_diag("%s", err);
    od_config_free(&c);
    const char *unknown[] = {"listener.name.sasl_ssl.nope.nothing=3"};
    tap_ok(apply_with(unknown, 1, &c, err, sizeof(err)) < 0 &&
               strstr(err, "unknown configuration key"),
           "an unknown key under listener.name is refused");
    od_config_free(&c);
    const char *shape[] = {"listener.name.onlyname=3"};
    tap_ok(apply_with(shape, 1, &c, err, sizeof(err)) < 0 && strstr(err, "listener.name.<listener>"),
           "listener.name.X without a key is refused");
    od_config_free(&c);
}

int main(void)
{
    tap_no_plan();
    od_core_t *core = od_core_new();
    tap_ok(core && core->ext, "a core has its extension state");
    test_registries(core);
    test_events(core);
    test_post(core);
    test_listener_conf();
    od_image_free(core, &core->image); /* what od_core_shutdown does */
    od_core_free(core);
    return tap_done();
}
