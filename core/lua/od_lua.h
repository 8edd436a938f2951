/* od_lua.h - the Lua 5.4 host (doc/lua.md).
 *
 * The operator names scripts in lua.scripts; they run once at start in one
 * sandboxed Lua state (a "VM") and register named hooks through the
 * `odradek` table (odradek.policy(EVENT, fn) today). Hooks are kept per
 * kind in a generic table (kind -> name -> functions, in registration
 * order), so later kinds (partitioners, routes) are another row of the
 * kind table. Every call into Lua - a script's top level, a hook, a
 * finalizer - runs under an instruction budget (lua.instructions.max) and
 * the VM under a memory cap (lua.memory.max.bytes). SIGHUP loads the
 * scripts again into a new VM that replaces the old one only when every
 * script loaded. */
#ifndef OD_LUA_H
#define OD_LUA_H

#include <stddef.h>
#include <stdint.h>

#include "odradek-module.h"

struct od_core;

/* ---- one VM (used by the host; on its own in unit tests) ---- */

#define OD_LUA_LIB_IO      1u
#define OD_LUA_LIB_OS      2u
#define OD_LUA_LIB_PACKAGE 4u
#define OD_LUA_LIB_DEBUG   8u

/* lua.instructions.max and lua.memory.max.bytes by default (odr uses them
 * as they are). */
#define OD_LUA_DEFAULT_INSTRUCTIONS 1000000
#define OD_LUA_DEFAULT_MEMORY 33554432

typedef struct od_lua_limits {
    int64_t instructions; /* per call */
    int64_t memory;       /* bytes the VM may hold */
    unsigned libs;        /* OD_LUA_LIB_* the operator opened */
} od_lua_limits_t;

typedef struct od_lua_vm od_lua_vm_t;

/* A new VM with the sandboxed libraries and the odradek table; core (may be
 * NULL: no cluster metadata) serves odradek.topics(). NULL with err.
 * (od_lua_cluster.c: od_lua_vm_create with the cluster functions.) */
od_lua_vm_t *od_lua_vm_new(struct od_core *core, const od_lua_limits_t *lim, char *err,
                           size_t errsz);
/* A VM with what every host offers - the sandbox, print, odradek.log and
 * the hook kinds - and what open_more (may be NULL) adds in a protected
 * call of its own: the pieces odr links without the core's image. */
struct lua_State;
od_lua_vm_t *od_lua_vm_create(struct od_core *core, const od_lua_limits_t *lim,
                              int (*open_more)(struct lua_State *L), char *err, size_t errsz);
/* Run one script file's top level (it registers its hooks). -1 with err
 * ("file:line: reason") when it does not compile, fails or blows a limit. */
int od_lua_vm_load(od_lua_vm_t *vm, const char *path, char *err, size_t errsz);
/* Close the VM; finalizers run under the budget too. */
void od_lua_vm_free(od_lua_vm_t *vm);
/* Functions registered for kind/name (0 when none). */
size_t od_lua_vm_hooks(od_lua_vm_t *vm, const char *kind, const char *name);
/* Bytes the VM holds now (tests, metrics). */
size_t od_lua_vm_memory(const od_lua_vm_t *vm);

/* The admin policies of ev->op: OD_ALLOW when every policy function of
 * the event returned true (or there is none: OD_DEFER), OD_DENY with the
 * script's reason when one returned false, OD_DENY with "policy script
 * failed" when one failed (error, budget, memory, a result of another
 * shape; logged with the script's file and line). */
int od_lua_vm_admin(od_lua_vm_t *vm, const od_ev_admin_t *ev, char *reason, size_t reason_size);

/* ---- partitioner calls (od_lua_part.c; the broker's routing and odr) ---- */

/* One record for a Lua partitioner: key and value nil when NULL; the
 * headers table is pushed by push_headers(L, headers) (name -> value, a
 * null value false). */
typedef struct od_lua_part_in {
    const char *name;
    const void *key, *value;
    size_t key_len, value_len;
    void (*push_headers)(struct lua_State *L, const void *headers);
    const void *headers;
    int32_t n;
} od_lua_part_in_t;
/* One budgeted call of partitioner in->name: 0 with *out in [0, n), or -1
 * when it failed (no such partitioner, an error, a blown budget or memory
 * cap, a result that is no integer in range: od_lua_vm_error has the
 * message and the function's "file:line"). */
int od_lua_part_call(od_lua_vm_t *vm, const od_lua_part_in_t *in, int32_t *out);
/* The names of the registered Lua partitioners, ", "-separated (sorted),
 * into out ("" when none). */
void od_lua_part_names(od_lua_vm_t *vm, char *out, size_t outsz);
/* -1 with err ("file:line: ...") when a partitioner is registered twice or
 * taken(arg, name) says a module has the name (taken may be NULL). */
int od_lua_part_check(od_lua_vm_t *vm, int (*taken)(void *arg, const char *name), void *arg,
                      char *err, size_t errsz);

/* ---- routing hooks (od_lua_route.c, doc/routing.md) ---- */

struct od_route_rec;
/* Partitioner name's answer for rec among n: [0, n), or -2 when it failed
 * (error, budget, a result that is no integer in range; logged with the
 * script's file and line). budget (may be NULL: one lua.instructions.max
 * for this call) is what is left for all partitioner calls of one batch:
 * OD_LUA_BUDGET_UNSET the first time (set to lua.instructions.max), each
 * call spends from it, and once it is spent the calls answer -2 at once. */
#define OD_LUA_BUDGET_UNSET INT64_MIN
int32_t od_lua_vm_partition(od_lua_vm_t *vm, const char *name, const struct od_route_rec *rec,
                            int32_t n, int64_t *budget);
/* Run the routes of topic over recs in one budgeted call, filling each
 * record's decision, headers and copies. 0 (with *rejected the index of
 * the record a route rejected, n when none) or -1 when the call failed
 * (od_lua_vm_error). */
int od_lua_vm_route(od_lua_vm_t *vm, const char *topic, const char *principal,
                    struct od_route_rec *recs, size_t n, int max_copies, size_t *rejected);
/* The last failed call's message and the hook running then (NULL: none). */
const char *od_lua_vm_error(const od_lua_vm_t *vm, const char **where);
/* -1 with err when a Lua partitioner is registered twice or takes the name
 * of a module's partitioner (core may be NULL: no modules). */
int od_lua_vm_check_partitioners(od_lua_vm_t *vm, struct od_core *core, char *err, size_t errsz);

/* ---- the host (core->lua) ---- */

/* The VM in use (NULL: no lua.scripts). */
od_lua_vm_t *od_lua_current(struct od_core *core);

/* Declare lua.scripts, lua.libraries.allow, lua.instructions.max,
 * lua.memory.max.bytes (a subsystem's declare). */
int od_lua_register_config(struct od_core *core, char *err, size_t errsz);
/* Load the scripts; a script that fails stops the start (file, line, reason). */
int od_lua_start(struct od_core *core, char *err, size_t errsz);
void od_lua_stop(struct od_core *core);
/* SIGHUP: load the scripts into a new VM; on success it replaces the old
 * one, on failure the old one stays (logged). Returns 0 or -1. */
int od_lua_reload(struct od_core *core);

#endif
