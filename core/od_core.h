/* od_core.h - the running broker: configuration, loop, modules, image.
 * Internal to the core; modules see only odradek-module.h. */
#ifndef OD_CORE_H
#define OD_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "od_config.h"
#include "od_loop.h"
#include "od_metadata.h"
#include "odradek-module.h"

/* Broker settings owned by the core (Kafka key names; see od_core.c). */
typedef struct od_broker_conf {
    int64_t node_id;
    char *process_roles;
    char *listeners;
    char *advertised_listeners;
    char *log_dirs;
    char *log_dir;
    int64_t socket_request_max_bytes;
    int64_t socket_send_buffer_bytes;
    int64_t socket_receive_buffer_bytes;
    int64_t num_partitions;
    int64_t default_replication_factor;
    int64_t auto_create_topics_enable;
    int64_t delete_topic_enable;
    int64_t connections_max_idle_ms;
    int64_t queued_max_requests;
    int64_t fetch_max_bytes;
    int64_t log_flush_scheduler_interval_ms;
    char *broker_rack;
    char *module_dir;
    char *storage_backend;
    char *control_plane;
    char *log_level;
    int64_t max_broker_partitions;
    char *controller_listener_names;
    char *inter_broker_listener_name;
    int64_t request_timeout_ms;
} od_broker_conf_t;

typedef struct od_listener od_listener_t;
typedef struct od_conn od_conn_t;
typedef struct od_module_rec od_module_rec_t;
typedef struct od_pid_registry od_pid_registry_t;
typedef struct od_fetch_waits od_fetch_waits_t;
typedef struct od_pid_alloc od_pid_alloc_t;
struct od_net_state;
struct od_coord;
struct od_ext;
struct od_lua;
struct od_authz;
struct od_audit;

struct od_core {
    od_loop_t *loop;
    od_config_t config;
    od_broker_conf_t conf;
    char *config_file;

    od_module_rec_t *modules; /* loaded modules, in load order */
    size_t nmodules;

    const od_storage_ops_t *storage;
    void *storage_self;
    const od_controlplane_ops_t *cp;
    void *cp_self;

    od_image_t image;
    od_pid_registry_t *pids; /* InitProducerId's ids and block (od_h_initproducerid.c) */
    struct od_coord *coord;  /* the group coordinator (od_group.c: start to stop) */
    od_fetch_waits_t *fetch_waits; /* long-polling fetches (od_h_fetch.c: start to stop) */
    struct od_repl *repl; /* replication: fetchers, settings (core/repl: start to stop) */
    struct od_broker_life *blife;  /* registration with the controller (od_broker_life.c) */
    struct od_pid_alloc *pid_alloc; /* controller: producer id blocks (od_h_allocpids.c) */

    od_listener_t *listeners;
    size_t nlisteners;
    od_conn_t *conns; /* all open connections (doubly linked) */
    size_t nconns;
    od_conn_t *closed_conns; /* closed, freed on the next loop turn */
    struct od_net_state *net; /* connection limits, per-IP counts, memory in flight (od_net.h) */
    struct od_scram_store *scram; /* SCRAM credentials of the image (core/sec/od_scram_store.c) */
    struct od_schema_store *schemas; /* the schema registry's part of the image (core/schema/) */
    int64_t sasl_max_receive;     /* sasl.server.max.receive.size (core/sec/od_sasl_config.c) */
    struct od_authz *authz;   /* the authorizer and super.users (od_authz.c: start to stop) */
    struct od_audit *audit;   /* where audit lines go (od_authz_audit.c) */

    char data_dir[4096];
    uint8_t incarnation[16]; /* this process's registration (KIP-631), new at every start */
    int caught_up; /* the image holds that registration unfenced: the metadata replayed from
                    * disk may be stale until then (a restart after leaders moved), so the
                    * broker's listeners accept only from then on (od_metadata_brokers.c) */
    int ready;       /* control plane replayed, listeners open */
    int stopping;
    int64_t tick_timer;
    uint64_t next_conn_id;
    size_t nstarted; /* subsystems started, in table order (od_core.c) */
    struct od_ext *ext; /* ABI 1.3 registries, events, od_loop_post (core/ext/) */
    struct od_lua *lua; /* the Lua host, when lua.scripts is set (core/lua/) */
};

/* A part of the core with work at start-up, every second and at shutdown
 * (groups, producer state, log lifecycle, ...). od_core.c keeps them in one
 * table: keys are declared in table order, started in table order once the
 * metadata is replayed and the listeners are open, ticked every second in
 * table order, and stopped in reverse order before the logs close (only
 * those that were started). Any slot may be NULL. */
typedef struct od_subsystem {
    const char *name;
    int (*declare)(od_core_t *core, char *err, size_t errsz); /* config keys */
    int (*start)(od_core_t *core, char *err, size_t errsz);   /* -1 + err stops the start */
    void (*tick)(od_core_t *core, int64_t now_ms);           /* now_ms: wall clock */
    void (*stop)(od_core_t *core);
} od_subsystem_t;

/* There is no process-wide core pointer: everything reaches the broker
 * through a connection (r->conn->core), a module context (ctx->core), a
 * listener (l->core) or the argument of its timer or callback, so that the
 * process-wide state (producer ids: core->pids; the group coordinator:
 * core->coord; waiting fetches: core->fetch_waits; connection limits and
 * memory in flight: core->net; the loop, image, modules) hangs off this
 * object. */

od_core_t *od_core_new(void);
/* Load config and modules, start storage and control plane, open listeners.
 * On failure returns -1 with err ("file:line: reason" for config problems). */
int od_core_start(od_core_t *core, const char *config_file, char **sets, size_t nsets, char *err,
                  size_t errsz);
int od_core_run(od_core_t *core);
/* Print every configuration key (core, topic, loaded modules) as markdown. */
int od_core_config_doc(od_core_t *core, const char *config_file, char **sets, size_t nsets,
                       FILE *out, char *err, size_t errsz);
/* Close listeners and connections, flush and close logs, stop modules. */
void od_core_shutdown(od_core_t *core);
void od_core_free(od_core_t *core);

/* The core's configuration table (for docs and tests). */
const od_conf_def_t *od_core_config_defs(size_t *n);

/* Levels by name ("error", "warn", "info", "debug"). */
void od_logging_set_level(int level);
int od_logging_level_from_name(const char *name);

#endif
