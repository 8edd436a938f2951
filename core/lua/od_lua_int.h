/* od_lua_int.h - what the files of core/lua/ share. */
#ifndef OD_LUA_INT_H
#define OD_LUA_INT_H

#include <lauxlib.h>
#include <lua.h>

#include "od_lua.h"

/* The instruction hook runs every OD_LUA_HOOK_STEP instructions. */
#define OD_LUA_HOOK_STEP 1000

struct od_lua_vm {
    lua_State *L;
    struct od_core *core;
    od_lua_limits_t lim;
    size_t mem_used;
    int mem_refused;     /* an allocation passed the cap since the call began */
    int64_t instr_used;  /* in the current call */
    int budget_blown;    /* every thread raises at its next hook */
    int in_call;         /* a budgeted call is running */
    const char *loading; /* the script being loaded (for registrations) */
    char hook_where[300]; /* "file:line" of the hook being called (for the log) */
    char error[700];      /* the last failed call's message (see od_lua_vm_pcall) */
};

/* The hook kinds: a kind is a registration function odradek.<kind>(NAME,
 * fn); names limits the NAMEs (NULL-terminated; NULL: any name). */
typedef struct od_lua_kind {
    const char *kind;
    const char *const *names;
} od_lua_kind_t;

/* The VM behind L (kept in the state's extra space, shared by coroutines). */
od_lua_vm_t *od_lua_vm_of(lua_State *L);

/* Run the function below its nargs arguments under the budget; leaves nres
 * results, or on failure pops the error and returns the status with the
 * message in vm->error (budget and memory errors worded for the log). The
 * message is kept in C so that no allocation happens outside a protected
 * call: an unprotected allocation failure would be a Lua panic. Everything
 * that may allocate in the VM therefore runs inside this call. */
int od_lua_vm_pcall(od_lua_vm_t *vm, int nargs, int nres);

/* od_lua_sandbox.c: open the allowed libraries, trim the base library,
 * make print and odradek.log write to the broker's log. */
void od_lua_sandbox_open(lua_State *L, unsigned libs);

/* od_lua_hooks.c: the odradek table's registration functions and the hook
 * table (registry["odradek.hooks"][kind][name] = {fn, ...}). */
void od_lua_hooks_open(lua_State *L);
/* Push the array of functions of kind/name (or nil); returns its length. */
size_t od_lua_hooks_push(lua_State *L, const char *kind, const char *name);
/* Push the table name -> {fn, ...} of kind (or nil). */
void od_lua_hooks_push_kind(lua_State *L, const char *kind);
/* "file:line" where the function at idx was defined. */
void od_lua_where(lua_State *L, int idx, char *out, size_t outsz);

/* od_lua_cluster.c: odradek.topics() and odradek.topic(name) (in the
 * VMs of od_lua_vm_new). Push a table whose "topics" field is built on first access. */
void od_lua_cluster_push(lua_State *L);

#endif
