/* od_lua_vm.c - one sandboxed Lua state: the capped allocator, the
 * instruction budget, loading scripts, budgeted calls.
 *
 * The budget: a count hook every OD_LUA_HOOK_STEP instructions adds them up;
 * past lua.instructions.max it raises an error, and from then on every
 * thread raises at its next instruction (the hook count drops to 1), so a
 * script that catches the error with pcall, or runs in a coroutine, cannot
 * go on. Lua calls into C (string.rep, table.concat) count as one
 * instruction; what they allocate meets the memory cap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lualib.h>

#include "od_lua_int.h"
#include "odradek-module.h"

/* ---- memory: the cap applies to the whole VM ---- */

static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    od_lua_vm_t *vm = ud;
    /* For a new block ptr is NULL and osize is a type tag, not a size. */
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        vm->mem_used -= old;
        return NULL;
    }
    if (nsize > old && vm->lim.memory > 0 &&
        vm->mem_used - old + nsize > (size_t)vm->lim.memory) {
        vm->mem_refused = 1;
        return NULL; /* Lua raises "not enough memory" */
    }
    void *n = realloc(ptr, nsize);
    if (n)
        vm->mem_used = vm->mem_used - old + nsize;
    return n;
}

size_t od_lua_vm_memory(const od_lua_vm_t *vm) { return vm->mem_used; }

od_lua_vm_t *od_lua_vm_of(lua_State *L) { return *(od_lua_vm_t **)lua_getextraspace(L); }

/* ---- instructions ---- */

static void count_hook(lua_State *L, lua_Debug *ar)
{
    od_lua_vm_t *vm = od_lua_vm_of(L);
    (void)ar;
    if (!vm->in_call)
        return;
    if (!vm->budget_blown) {
        vm->instr_used += OD_LUA_HOOK_STEP;
        if (vm->instr_used <= vm->lim.instructions)
            return;
        vm->budget_blown = 1;
    }
    lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
    lua_Debug here;
    char where[300] = "";
    if (lua_getstack(L, 0, &here) && lua_getinfo(L, "Sl", &here) && here.currentline > 0)
        snprintf(where, sizeof(where), "%s:%d: ", here.short_src, here.currentline);
    lua_pushfstring(L, "%sinstruction budget of %I exceeded (lua.instructions.max)", where,
                    (lua_Integer)vm->lim.instructions);
    lua_error(L);
}

static void begin_call(od_lua_vm_t *vm)
{
    vm->instr_used = 0;
    vm->budget_blown = 0;
    vm->mem_refused = 0;
    vm->in_call = 1;
    lua_sethook(vm->L, count_hook, LUA_MASKCOUNT, OD_LUA_HOOK_STEP);
}

static void end_call(od_lua_vm_t *vm)
{
    vm->in_call = 0;
    if (vm->budget_blown)
        lua_sethook(vm->L, count_hook, LUA_MASKCOUNT, OD_LUA_HOOK_STEP);
}

int od_lua_vm_pcall(od_lua_vm_t *vm, int nargs, int nres)
{
    lua_State *L = vm->L;
    begin_call(vm);
    int rc = lua_pcall(L, nargs, nres, 0);
    int blown = vm->budget_blown, refused = vm->mem_refused;
    end_call(vm);
    if (rc == LUA_OK)
        return rc;
    /* lua_tostring would convert a number in place (an allocation): take
     * strings only, describe anything else. */
    const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    char what[64];
    if (!msg) {
        snprintf(what, sizeof(what), "error object is a %s value", luaL_typename(L, -1));
        msg = what;
    }
    if (blown && !strstr(msg, "instruction budget"))
        snprintf(vm->error, sizeof(vm->error), "%s (after the instruction budget of %lld was "
                 "exceeded)", msg, (long long)vm->lim.instructions);
    else if (rc == LUA_ERRMEM || (refused && strstr(msg, "not enough memory")))
        snprintf(vm->error, sizeof(vm->error), "%s: the VM would hold more than %lld bytes "
                 "(lua.memory.max.bytes)", msg, (long long)vm->lim.memory);
    else
        snprintf(vm->error, sizeof(vm->error), "%s", msg);
    lua_pop(L, 1);
    /* Give back what the failed call left behind. */
    lua_gc(L, LUA_GCCOLLECT);
    return rc;
}

/* Everything that may allocate runs in protected calls, so this is a bug
 * of the host: say so before Lua aborts. */
static int on_panic(lua_State *L)
{
    od_logf(OD_LOG_ERROR, "lua: error outside a protected call (a bug of the Lua host): %s",
            lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?");
    return 0;
}

static int open_all(lua_State *L)
{
    od_lua_vm_t *vm = od_lua_vm_of(L);
    od_lua_sandbox_open(L, vm->lim.libs);
    od_lua_hooks_open(L);
    return 0;
}

od_lua_vm_t *od_lua_vm_create(struct od_core *core, const od_lua_limits_t *lim,
                              int (*open_more)(struct lua_State *L), char *err, size_t errsz)
{
    od_lua_vm_t *vm = calloc(1, sizeof(*vm));
    if (!vm) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    vm->core = core;
    vm->lim = *lim;
    vm->L = lua_newstate(capped_alloc, vm);
    if (!vm->L) {
        snprintf(err, errsz, "cannot create a Lua state (lua.memory.max.bytes=%lld too small?)",
                 (long long)lim->memory);
        free(vm);
        return NULL;
    }
    *(od_lua_vm_t **)lua_getextraspace(vm->L) = vm;
    lua_atpanic(vm->L, on_panic);
    lua_sethook(vm->L, count_hook, LUA_MASKCOUNT, OD_LUA_HOOK_STEP);
    /* Opening the libraries allocates: run it protected, under the cap. */
    lua_pushcfunction(vm->L, open_all);
    int rc = od_lua_vm_pcall(vm, 0, 0);
    if (rc == LUA_OK && open_more) {
        lua_pushcfunction(vm->L, open_more);
        rc = od_lua_vm_pcall(vm, 0, 0);
    }
    if (rc != LUA_OK) {
        snprintf(err, errsz, "cannot open the Lua libraries: %s", vm->error);
        od_lua_vm_free(vm);
        return NULL;
    }
    return vm;
}

/* Protected part of od_lua_vm_load: (path) -> compile and run. */
static int load_entry(lua_State *L)
{
    const char *path = lua_touserdata(L, 1);
    /* Text only: Lua does not check bytecode, and a crafted chunk can
     * crash the VM. */
    if (luaL_loadfilex(L, path, "t") != LUA_OK)
        return lua_error(L);
    lua_call(L, 0, 0);
    return 0;
}

int od_lua_vm_load(od_lua_vm_t *vm, const char *path, char *err, size_t errsz)
{
    lua_State *L = vm->L;
    lua_pushcfunction(L, load_entry);
    lua_pushlightuserdata(L, (void *)(uintptr_t)path);
    vm->loading = path;
    int rc = od_lua_vm_pcall(vm, 1, 0);
    vm->loading = NULL;
    if (rc != LUA_OK) {
        /* Lua's messages name the file (syntax and runtime errors, "cannot
         * open"); memory and budget failures at the top level may not. */
        if (strstr(vm->error, path))
            snprintf(err, errsz, "%s", vm->error);
        else
            snprintf(err, errsz, "%s: %s", path, vm->error);
        return -1;
    }
    return 0;
}

static int hooks_entry(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)od_lua_hooks_push(L, lua_touserdata(L, 1),
                                                      lua_touserdata(L, 2)));
    return 1;
}

size_t od_lua_vm_hooks(od_lua_vm_t *vm, const char *kind, const char *name)
{
    lua_pushcfunction(vm->L, hooks_entry);
    lua_pushlightuserdata(vm->L, (void *)(uintptr_t)kind);
    lua_pushlightuserdata(vm->L, (void *)(uintptr_t)name);
    if (od_lua_vm_pcall(vm, 2, 1) != LUA_OK)
        return 0;
    size_t n = (size_t)lua_tointeger(vm->L, -1);
    lua_pop(vm->L, 1);
    return n;
}

const char *od_lua_vm_error(const od_lua_vm_t *vm, const char **where)
{
    if (where)
        *where = vm->hook_where[0] ? vm->hook_where : NULL;
    return vm->error;
}

void od_lua_vm_free(od_lua_vm_t *vm)
{
    if (!vm)
        return;
    /* Finalizers (__gc) run in lua_close: under the budget too. */
    begin_call(vm);
    lua_close(vm->L);
    free(vm);
}
