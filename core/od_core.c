/* od_core.c - the broker's settings, start-up and shutdown, and the core
 * services offered to modules. */
#include "od_core.h"

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "od_authz.h"
#include "od_broker_life.h"
#include "od_conn.h"
#include "od_ext.h"
#include "od_group.h"
#include "od_handlers.h"
#include "od_lifecycle.h"
#include "od_lua.h"
#include "od_route.h"
#include "od_metrics.h"
#include "od_module.h"
#include "od_net.h"
#include "od_repl.h"
#include "od_producer.h"
#include "od_sasl.h"
#include "od_schema.h"
#include "od_scram_store.h"
#include "od_topic_config.h"

/* Set by Makefile.am from configure's moduledir and localstatedir: with no
 * silent fallback, a build that forgets them fails here instead of giving a
 * daemon that looks for its modules under another prefix. */
#if !defined(OD_MODULE_DIR) || !defined(OD_LOCALSTATEDIR)
#error "OD_MODULE_DIR and OD_LOCALSTATEDIR must be defined (see libodcore_la_CPPFLAGS)"
#endif

#define LMAX INT64_MAX
#define IMAX INT32_MAX

/* The core's own keys; topic-default keys (log.segment.bytes, ...) come
 * from od_topic_config.c. */
static od_conf_def_t core_defs[] = {
    {"node.id", OD_CONF_INT, "1", 0, IMAX, NULL, "this node's id in the cluster", NULL, 0},
    {"process.roles", OD_CONF_LIST, "broker,controller", 0, 0, NULL,
     "broker, controller, or both (KRaft)", NULL, 0},
    {"listeners", OD_CONF_LIST, "PLAINTEXT://:9092", 0, 0, NULL,
     "NAME://host:port listeners to accept clients on", NULL, 0},
    {"advertised.listeners", OD_CONF_LIST, NULL, 0, 0, NULL,
     "listeners as clients should reach them (default: listeners)", NULL, 0},
    {"log.dirs", OD_CONF_LIST, NULL, 0, 0, NULL,
     "directories for partition data (default: log.dir)", NULL, 0},
    {"log.dir", OD_CONF_STRING, OD_LOCALSTATEDIR "/lib/odradek", 0, 0, NULL,
     "data directory used when log.dirs is unset", NULL, 0},
    {"socket.request.max.bytes", OD_CONF_INT, "104857600", 1, IMAX, NULL,
     "largest request accepted; bigger frames close the connection", NULL, OD_CONF_F_SIZE},
    {"socket.send.buffer.bytes", OD_CONF_INT, "102400", -1, IMAX, NULL,
     "SO_SNDBUF of client sockets (-1: OS default)", NULL, OD_CONF_F_SIZE},
    {"socket.receive.buffer.bytes", OD_CONF_INT, "102400", -1, IMAX, NULL,
     "SO_RCVBUF of client sockets (-1: OS default)", NULL, OD_CONF_F_SIZE},
    {"num.partitions", OD_CONF_INT, "1", 1, IMAX, NULL,
     "partitions of auto-created topics and of CreateTopics with -1", NULL, 0},
    {"default.replication.factor", OD_CONF_INT, "1", 1, 32767, NULL,
     "replication factor of auto-created topics", NULL, 0},
    {"auto.create.topics.enable", OD_CONF_BOOL, "true", 0, 0, NULL,
     "create a topic when Metadata asks for an unknown one", NULL, 0},
    {"delete.topic.enable", OD_CONF_BOOL, "true", 0, 0, NULL, "allow DeleteTopics", NULL, 0},
    {"connections.max.idle.ms", OD_CONF_INT, "600000", -1, LMAX, NULL,
     "close connections idle this long (-1: never)", NULL, 0},
    {"queued.max.requests", OD_CONF_INT, "500", 1, IMAX, NULL,
     "requests one connection may have in flight before the broker stops reading it", NULL, 0},
    {"fetch.max.bytes", OD_CONF_INT, "57671680", 1024, IMAX, NULL,
     "largest fetch response the broker builds", NULL, OD_CONF_F_SIZE},
    {"log.flush.scheduler.interval.ms", OD_CONF_INT, "9223372036854775807", 1, LMAX, NULL,
     "how often logs are checked for a time-based flush", NULL, 0},
    {"broker.rack", OD_CONF_STRING, NULL, 0, 0, NULL, "rack of this broker", NULL, 0},
    {"module.dir", OD_CONF_STRING, OD_MODULE_DIR, 0, 0, NULL,
     "where `load_module NAME` finds NAME.so", NULL, 0},
    {"log.storage.backend", OD_CONF_STRING, "segment", 0, 0, NULL,
     "storage backend for partition logs (segment, memory)", NULL, 0},
    {"control.plane.backend", OD_CONF_STRING, "kraft", 0, 0, NULL,
     "control plane that owns cluster metadata (kraft)", NULL, 0},
    {"log.level", OD_CONF_ENUM, "info", 0, 0, "error,warn,info,debug",
     "log verbosity of odradekd", NULL, 0},
    /* KIP-578's name; Kafka has not adopted it, so the default is its
     * "no limit" (int32 max). */
    {"max.broker.partitions", OD_CONF_INT, "2147483647", 1, IMAX, NULL,
     "partition replicas one broker may hold; creating topics or partitions beyond it fails "
     "with POLICY_VIOLATION", NULL, 0},
    /* Cluster keys. */
    {"controller.listener.names", OD_CONF_LIST, NULL, 0, 0, NULL,
     "listeners that serve the control plane's APIs (KRaft: Vote, Fetch of the metadata log, "
     "...); never advertised to clients", NULL, 0},
    {"inter.broker.listener.name", OD_CONF_STRING, NULL, 0, 0, NULL,
     "listener other brokers reach this one on (default: the one named PLAINTEXT)", NULL, 0},
    {"request.timeout.ms", OD_CONF_INT, "30000", 1, IMAX, NULL,
     "how long an admin request forwarded to the active controller may take, retries "
     "included, before its client gets REQUEST_TIMED_OUT", NULL, 0},
};

static void bind_targets(od_broker_conf_t *c)
{
    void *t[] = {&c->node_id, &c->process_roles, &c->listeners, &c->advertised_listeners,
                 &c->log_dirs, &c->log_dir, &c->socket_request_max_bytes,
                 &c->socket_send_buffer_bytes, &c->socket_receive_buffer_bytes,
                 &c->num_partitions, &c->default_replication_factor,
                 &c->auto_create_topics_enable, &c->delete_topic_enable,
                 &c->connections_max_idle_ms, &c->queued_max_requests, &c->fetch_max_bytes,
                 &c->log_flush_scheduler_interval_ms, &c->broker_rack, &c->module_dir,
                 &c->storage_backend, &c->control_plane, &c->log_level,
                 &c->max_broker_partitions, &c->controller_listener_names,
                 &c->inter_broker_listener_name, &c->request_timeout_ms};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        core_defs[i].target = t[i];
}

const od_conf_def_t *od_core_config_defs(size_t *n)
{
    *n = sizeof(core_defs) / sizeof(core_defs[0]);
    return core_defs;
}

od_core_t *od_core_new(void)
{
    od_core_t *core = calloc(1, sizeof(*core));
    if (!core)
        return NULL;
    od_config_init(&core->config);
    od_image_init(&core->image);
    core->loop = od_loop_new();
    if (core->loop)
        core->ext = od_ext_new(core);
    if (!core->loop || !core->image.buckets || !core->ext) {
        if (core->loop)
            od_loop_free(core->loop);
        free(core);
        return NULL;
    }
    return core;
}

/* The last value given for key (command line over file), before the tables
 * are complete; module.dir is needed to load the modules that declare the
 * rest of the keys. */
static const char *peek_setting(const od_config_t *c, const char *key)
{
    const char *v = NULL;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < c->nsettings; i++)
            if ((strcmp(c->settings[i].file, "--set") == 0) == pass &&
                strcmp(c->settings[i].key, key) == 0)
                v = c->settings[i].value;
    return v;
}

static int mkdirs(const char *path, char *err, size_t errsz)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST) {
            snprintf(err, errsz, "cannot create %s: %s", tmp, strerror(errno));
            return -1;
        }
        *p = '/';
    }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST) {
        snprintf(err, errsz, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    if (access(tmp, W_OK) < 0) {
        snprintf(err, errsz, "data directory %s is not writable: %s", tmp, strerror(errno));
        return -1;
    }
    return 0;
}

static void on_signal(void *arg, int fd, uint32_t ev)
{
    od_core_t *core = arg;
    struct signalfd_siginfo si;
    (void)ev;
    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGHUP) { /* reload what can be reloaded; connections stay */
            od_logf(OD_LOG_INFO, "signal SIGHUP received; reloading lua.scripts");
            od_lua_reload(core);
            continue;
        }
        od_logf(OD_LOG_INFO, "signal %s received; shutting down", strsignal((int)si.ssi_signo));
        /* In a cluster the partitions this broker leads move first; a
         * second signal does not wait. */
        if (core->stopping || od_broker_life_shutdown(core) < 0) {
            core->stopping = 1;
            od_loop_stop(core->loop);
        }
    }
}

static void tick_logs(od_core_t *core, int64_t now)
{
    if (!core->storage->tick)
        return;
    for (od_topic_t *t = od_image_next_topic(&core->image, NULL); t;
         t = od_image_next_topic(&core->image, t))
        for (int32_t i = 0; i < t->npartitions; i++)
            if (t->partitions[i]->log)
                core->storage->tick(t->partitions[i]->log, now);
}

static void tick_conns(od_core_t *core, int64_t now)
{
    (void)now; /* idle time is measured on the monotonic clock */
    od_conn_reap_idle(core, od_mono_ms());
}

/* Every subsystem's start/tick/stop, in start order (see od_subsystem_t):
 * the storage backend's per-log tick (time-based flush), the authorizer
 * (first, so it is stopped last), idle connections,
 * retention and compaction, idempotent producer state, consumer groups. */
static const od_subsystem_t subsystems[] = {
    {"logs", NULL, NULL, tick_logs, NULL},
    {"authorizer", od_authz_register_config, od_authz_start, NULL, od_authz_stop},
    {"connections", od_net_register_config, NULL, tick_conns, NULL},
    {"sasl", od_sasl_register_config, od_sasl_start, NULL, NULL},
    {"fetch", od_fetch_register_config, od_fetch_start, NULL, od_fetch_stop},
    {"replication", od_repl_register_config, od_repl_start, od_repl_tick, od_repl_stop},
    {"lifecycle", od_lifecycle_register_config, NULL, od_lifecycle_tick, od_lifecycle_stop},
    {"producer state", od_producer_register_config, od_producer_start, od_producer_tick,
     od_producer_stop},
    {"groups", od_groups_register_config, od_groups_start, od_groups_tick, od_groups_stop},
    {"metrics", od_metrics_register_config, od_metrics_start, NULL, od_metrics_stop},
    {"lua", od_lua_register_config, od_lua_start, NULL, od_lua_stop},
    {"schemas", od_schema_register_config, od_schema_start, NULL, od_schema_stop},
    {"brokers", od_broker_life_register_config, od_broker_life_start, od_broker_life_tick,
     od_broker_life_stop},
    {"routes", od_route_register_config, od_route_start, od_route_tick, od_route_stop},
};
#define NSUBSYSTEMS (sizeof(subsystems) / sizeof(subsystems[0]))

static void on_tick(void *arg)
{
    od_core_t *core = arg;
    core->tick_timer = 0;
    if (core->stopping)
        return;
    int64_t now = od_now_ms();
    for (size_t i = 0; i < core->nstarted; i++)
        if (subsystems[i].tick)
            subsystems[i].tick(core, now);
    core->tick_timer = od_loop_timer(core->loop, 1000, on_tick, core);
}

static int start_subsystems(od_core_t *core, char *err, size_t errsz)
{
    for (; core->nstarted < NSUBSYSTEMS; core->nstarted++) {
        const od_subsystem_t *s = &subsystems[core->nstarted];
        char why[512] = "";
        if (s->start && s->start(core, why, sizeof(why)) < 0) {
            snprintf(err, errsz, "%s: %s", s->name, why[0] ? why : "failed to start");
            return -1;
        }
    }
    return 0;
}

static void stop_subsystems(od_core_t *core)
{
    while (core->nstarted > 0) {
        const od_subsystem_t *s = &subsystems[--core->nstarted];
        if (s->stop)
            s->stop(core);
    }
}

static int pick_roles(od_core_t *core, char *err, size_t errsz)
{
    const char *r = core->conf.process_roles;
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", r);
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        if (strcmp(tok, "broker") != 0 && strcmp(tok, "controller") != 0) {
            snprintf(err, errsz, "process.roles: '%s' is not broker or controller", tok);
            return -1;
        }
        n++;
    }
    if (n == 0) {
        snprintf(err, errsz, "process.roles is empty (use broker,controller)");
        return -1;
    }
    return 0;
}

/* Declare every key (core, topic defaults, loaded modules) and read the
 * settings; shared by start and --config-doc. */
static int load_config(od_core_t *core, const char *config_file, char **sets, size_t nsets,
                       char *err, size_t errsz)
{
    bind_targets(&core->conf);
    size_t nbd;
    const od_conf_def_t *bdefs = od_topic_broker_defs(&nbd);
    if (od_config_register(&core->config, core_defs, sizeof(core_defs) / sizeof(core_defs[0]),
                           "core", err, errsz) < 0 ||
        od_config_register(&core->config, bdefs, nbd, "core", err, errsz) < 0)
        return -1;
    for (size_t i = 0; i < NSUBSYSTEMS; i++)
        if (subsystems[i].declare && subsystems[i].declare(core, err, errsz) < 0)
            return -1;
    if (config_file) {
        core->config_file = strdup(config_file);
        if (od_config_read_file(&core->config, config_file, err, errsz) < 0)
            return -1;
    }
    for (size_t i = 0; i < nsets; i++)
        if (od_config_add_set(&core->config, sets[i], err, errsz) < 0)
            return -1;
    const char *mdir = peek_setting(&core->config, "module.dir");
    if (od_modules_load(core, mdir ? mdir : OD_MODULE_DIR, err, errsz) < 0)
        return -1;
    return od_config_apply(&core->config, err, errsz);
}

static const char *type_name(od_conf_type_t t)
{
    switch (t) {
    case OD_CONF_BOOL:
        return "boolean";
    case OD_CONF_INT:
        return "long";
    case OD_CONF_STRING:
        return "string";
    case OD_CONF_LIST:
        return "list";
    case OD_CONF_ENUM:
        return "enum";
    case OD_CONF_DOUBLE:
        return "double";
    }
    return "?";
}

int od_core_config_doc(od_core_t *core, const char *config_file, char **sets, size_t nsets,
                       FILE *out, char *err, size_t errsz)
{
    if (load_config(core, config_file, sets, nsets, err, errsz) < 0)
        return -1;
    fprintf(out, "| key | type | default | valid values | from | description |\n");
    fprintf(out, "| --- | --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < core->config.nkeys; i++) {
        const od_conf_def_t *d = core->config.keys[i].def;
        char valid[128] = "";
        if (d->type == OD_CONF_INT || d->type == OD_CONF_DOUBLE)
            snprintf(valid, sizeof(valid), "[%lld, %lld]", (long long)d->min, (long long)d->max);
        else if (d->type == OD_CONF_ENUM)
            snprintf(valid, sizeof(valid), "%s", d->choices);
        fprintf(out, "| `%s` | %s | %s%s%s | %s | %s | %s%s |\n", d->name, type_name(d->type),
                d->dflt ? "`" : "", d->dflt ? (*d->dflt ? d->dflt : "(empty)") : "(unset)",
                d->dflt ? "`" : "", valid, core->config.keys[i].owner, d->doc ? d->doc : "",
                d->flags & OD_CONF_F_LISTENER ? " (per listener: `listener.name.<listener>.<key>`)"
                                              : "");
    }
    size_t nt = od_topic_keys_count();
    fprintf(out, "\n| topic key | type | default | broker key |\n| --- | --- | --- | --- |\n");
    for (size_t i = 0; i < nt; i++) {
        const od_topic_key_t *k = od_topic_key_at(i);
        fprintf(out, "| `%s` | %s | `%s` | `%s` |\n", k->def.name, type_name(k->def.type),
                k->def.dflt, k->broker_key);
    }
    return 0;
}

/* Checks that need more than one key's syntax, done before anything is
 * started or written, and reported with the setting's file and line. */
static int check_settings(od_core_t *core, char *err, size_t errsz)
{
    char where[4200], why[512];
    od_listen_spec_t specs[8];
    if (od_net_set_controller_names(core->conf.controller_listener_names, why, sizeof(why)) < 0) {
        snprintf(err, errsz, "%s", why);
        return -1;
    }
    if (od_listeners_parse(core->conf.listeners, od_net_protocol_map(core), specs, 8, why,
                           sizeof(why)) < 0) {
        snprintf(err, errsz, "%s: listeners: %s",
                 od_config_where(&core->config, "listeners", where, sizeof(where)), why);
        return -1;
    }
    if (od_listeners_check_tls(core, err, errsz) < 0)
        return -1;
    if (core->conf.advertised_listeners && *core->conf.advertised_listeners) {
        int n = od_listeners_parse(core->conf.advertised_listeners, od_net_protocol_map(core), specs,
                                   8, why, sizeof(why));
        for (int i = 0; i < n && n > 0; i++)
            if (specs[i].port == 0) {
                snprintf(why, sizeof(why), "advertised port of %s must not be 0", specs[i].name);
                n = -1;
            }
        if (n < 0) {
            snprintf(err, errsz, "%s: advertised.listeners: %s",
                     od_config_where(&core->config, "advertised.listeners", where, sizeof(where)), why);
            return -1;
        }
    }
    /* listener.name.<listener>.* must name a listener of `listeners`. */
    int nspecs = od_listeners_parse(core->conf.listeners, od_net_protocol_map(core), specs, 8, why,
                                    sizeof(why));
    for (size_t i = 0; i < core->config.noverrides; i++) {
        const od_conf_override_t *o = &core->config.overrides[i];
        int known = 0;
        for (int j = 0; j < nspecs; j++)
            known |= strcasecmp(specs[j].name, o->listener) == 0;
        if (!known) {
            if (strcmp(o->from->file, "--set") == 0)
                snprintf(err, errsz, "--set %s: ", o->from->key);
            else
                snprintf(err, errsz, "%s:%d: ", o->from->file, o->from->line);
            size_t l = strlen(err);
            snprintf(err + l, errsz - l, "%s names listener '%s', which is not in listeners (%s)",
                     o->from->key, o->listener, core->conf.listeners);
            return -1;
        }
    }
    const char *ibl = core->conf.inter_broker_listener_name;
    int found = !ibl || !*ibl;
    for (int i = 0; !found && i < nspecs; i++)
        found = strcmp(specs[i].name, ibl) == 0 && !specs[i].controller;
    if (!found) {
        snprintf(err, errsz, "%s: inter.broker.listener.name=%s is not a broker listener of "
                 "listeners",
                 od_config_where(&core->config, "inter.broker.listener.name", where,
                                 sizeof(where)), ibl);
        return -1;
    }
    if (pick_roles(core, why, sizeof(why)) < 0) {
        snprintf(err, errsz, "%s: %s",
                 od_config_where(&core->config, "process.roles", where, sizeof(where)), why);
        return -1;
    }
    return 0;
}

/* Every client costs a descriptor; distributions start processes with a
 * soft limit (often 1024) far below the hard one, so take the hard one. */
static void raise_nofile_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
        return;
    rlim_t old = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
        od_logf(OD_LOG_WARN, "cannot raise open-file limit from %llu to %llu: %s",
                (unsigned long long)old, (unsigned long long)rl.rlim_max, strerror(errno));
        return;
    }
    od_logf(OD_LOG_INFO, "raised open-file limit from %llu to %llu", (unsigned long long)old,
            (unsigned long long)rl.rlim_max);
}

int od_core_start(od_core_t *core, const char *config_file, char **sets, size_t nsets, char *err,
                  size_t errsz)
{
    if (sodium_init() < 0) {
        snprintf(err, errsz, "libsodium failed to initialise");
        return -1;
    }
    randombytes_buf(core->incarnation, sizeof(core->incarnation));
    signal(SIGPIPE, SIG_IGN);
    /* SIGTERM, SIGINT (shutdown) and SIGHUP (reload) are taken by a
     * signalfd on the loop (below). Block them before any module or
     * subsystem can start a thread, which would inherit the mask: a thread
     * with them unblocked would die of them. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    if (load_config(core, config_file, sets, nsets, err, errsz) < 0)
        return -1;
    od_logging_set_level(od_logging_level_from_name(core->conf.log_level));
    if (check_settings(core, err, errsz) < 0)
        return -1;
    if (od_metrics_check(core, err, errsz) < 0)
        return -1;
    raise_nofile_limit();
    if (od_modules_start(core, err, errsz) < 0)
        return -1;
    /* The first of log.dirs holds partition data (JBOD comes later). */
    const char *dirs = core->conf.log_dirs && *core->conf.log_dirs ? core->conf.log_dirs : core->conf.log_dir;
    size_t dl = strcspn(dirs, ",");
    if (dl == 0 || dl >= sizeof(core->data_dir)) {
        snprintf(err, errsz, "log.dirs: no usable directory in '%s'", dirs);
        return -1;
    }
    memcpy(core->data_dir, dirs, dl);
    core->data_dir[dl] = 0;
    if (mkdirs(core->data_dir, err, errsz) < 0)
        return -1;
    char names[256];
    const od_backend_reg_t *st = od_modules_storage(core->conf.storage_backend);
    if (!st) {
        od_modules_list(0, names, sizeof(names));
        snprintf(err, errsz, "log.storage.backend=%s: no loaded module provides it (loaded: %s)",
                 core->conf.storage_backend, names[0] ? names : "none");
        return -1;
    }
    core->storage = st->ops;
    core->storage_self = st->self;
    if (core->storage->start && core->storage->start(core->storage_self, core->data_dir, err, errsz) < 0)
        return -1;
    const od_backend_reg_t *cp = od_modules_controlplane(core->conf.control_plane);
    if (!cp) {
        od_modules_list(1, names, sizeof(names));
        snprintf(err, errsz, "control.plane.backend=%s: no loaded module provides it (loaded: %s)",
                 core->conf.control_plane, names[0] ? names : "none");
        return -1;
    }
    core->cp = cp->ops;
    core->cp_self = cp->self;
    char why[512];
    if (core->cp->start(core->cp_self, core, why, sizeof(why)) < 0) {
        snprintf(err, errsz, "control plane %s: %s", core->cp->name, why);
        core->cp = NULL;
        return -1;
    }
    if (od_listeners_open(core, err, errsz) < 0)
        return -1;
    if (od_metadata_register_self(core, why, sizeof(why)) < 0) {
        snprintf(err, errsz, "registering this broker: %s", why);
        return -1;
    }
    if (start_subsystems(core, err, errsz) < 0)
        return -1;
    if (od_ext_start(core, err, errsz) < 0)
        return -1;
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0 || od_loop_watch(core->loop, sfd, OD_LOOP_READ, on_signal, core) < 0) {
        snprintf(err, errsz, "signalfd: %s", strerror(errno));
        return -1;
    }
    core->tick_timer = od_loop_timer(core->loop, 1000, on_tick, core);
    core->ready = 1;
    const char *cid = core->cp->cluster_id(core->cp_self);
    od_logf(OD_LOG_INFO, "odradekd ready: node %lld, cluster %s, %zu topic(s), data in %s",
            (long long)core->conf.node_id, cid ? cid : "(not agreed yet)",
            core->image.ntopics, core->data_dir);
    return 0;
}

int od_core_run(od_core_t *core) { return od_loop_run(core->loop); }

void od_core_shutdown(od_core_t *core)
{
    core->stopping = 1;
    /* Module threads may no longer post; what they posted runs now, while
     * everything it may touch still exists. */
    od_ext_stop(core);
    od_listeners_close(core);
    od_fetch_answer_all(core);
    /* Give queued responses a last chance to go out, then close. */
    while (core->conns) {
        od_conn_flush(core->conns);
        od_conn_close(core->conns, "broker shutting down");
    }
    od_conn_free_closed(core);
    /* Subsystems stop (in reverse) before the logs close: producer state
     * is snapshotted into them. */
    stop_subsystems(core);
    /* Closing partition logs flushes them: the log is consistent on disk. */
    od_image_free(core, &core->image);
    od_scram_store_free(core);
    od_schema_store_free(core);
    if (core->cp && core->cp->stop)
        core->cp->stop(core->cp_self);
    if (core->storage && core->storage->stop)
        core->storage->stop(core->storage_self);
    od_modules_unload(core);
    od_logf(OD_LOG_INFO, "odradekd stopped");
}

void od_core_free(od_core_t *core)
{
    if (!core)
        return;
    od_ext_free(core->ext);
    /* Run pending zero-delay cleanups (closed connections). */
    od_loop_free(core->loop);
    od_net_free(core);
    od_config_free(&core->config);
    free(core->config_file);
    free(core);
}

/* ---- services for modules ---- */

int32_t od_core_node_id(od_core_t *core) { return (int32_t)core->conf.node_id; }
const char *od_core_data_dir(od_core_t *core) { return core->data_dir; }
const char *od_core_config_get(od_core_t *core, const char *key)
{
    return od_config_get(&core->config, key);
}
const char *od_config_listener_get(od_core_t *core, const char *listener, const char *key)
{
    return od_config_listener_value(&core->config, listener, key);
}
int64_t od_timer_add(od_core_t *core, int64_t after_ms, od_timer_cb cb, void *arg)
{
    return od_loop_timer(core->loop, after_ms, cb, arg);
}
void od_timer_cancel(od_core_t *core, int64_t id) { od_loop_cancel(core->loop, id); }
int od_fd_watch(od_core_t *core, int fd, uint32_t events, od_fd_cb cb, void *arg)
{
    return od_loop_watch(core->loop, fd, events, cb, arg);
}
void od_fd_unwatch(od_core_t *core, int fd) { od_loop_unwatch(core->loop, fd); }
