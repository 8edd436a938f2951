/* od_lua_part.c - calling odradek.partitioner(NAME, function(key, value,
 * headers, n)) functions, and the rules of their names.
 *
 * Shared by the broker (od_lua_route.c: placement checks, copies) and the
 * odr command line (odr produce --partitioner-lua), which links the VM,
 * the sandbox, the hook table and this file without the rest of the core:
 * nothing here may reach the core's state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_lua_int.h"

static int run_partitioner(lua_State *L)
{
    const od_lua_part_in_t *in = lua_touserdata(L, 1);
    od_lua_vm_t *vm = od_lua_vm_of(L);
    if (od_lua_hooks_push(L, "partitioner", in->name) == 0) /* 2 */
        return luaL_error(L, "no Lua partitioner '%s'", in->name);
    lua_rawgeti(L, 2, 1);
    od_lua_where(L, -1, vm->hook_where, sizeof(vm->hook_where));
    if (in->key)
        lua_pushlstring(L, in->key, in->key_len);
    else
        lua_pushnil(L);
    if (in->value)
        lua_pushlstring(L, in->value, in->value_len);
    else
        lua_pushnil(L);
    in->push_headers(L, in->headers);
    lua_pushinteger(L, in->n);
    lua_call(L, 4, 1);
    int isint;
    lua_Integer p = lua_tointegerx(L, -1, &isint);
    if (!isint)
        return luaL_error(L, "the partitioner defined at %s returned %s (expected an integer)",
                          vm->hook_where, luaL_typename(L, -1));
    if (p < 0 || p >= in->n)
        return luaL_error(L, "the partitioner defined at %s returned %I for %d partitions",
                          vm->hook_where, p, (int)in->n);
    lua_pushinteger(L, p);
    return 1;
}

int od_lua_part_call(od_lua_vm_t *vm, const od_lua_part_in_t *in, int32_t *out)
{
    lua_State *L = vm->L;
    lua_pushcfunction(L, run_partitioner);
    lua_pushlightuserdata(L, (void *)(uintptr_t)in);
    vm->hook_where[0] = 0;
    if (od_lua_vm_pcall(vm, 1, 1) != LUA_OK)
        return -1;
    *out = (int32_t)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return 0;
}

/* ---- names ---- */

typedef struct names_args {
    char *out;
    size_t outsz;
} names_args_t;

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int list_names(lua_State *L)
{
    names_args_t *a = lua_touserdata(L, 1);
    od_lua_hooks_push_kind(L, "partitioner"); /* 2 */
    if (!lua_istable(L, 2))
        return 0;
    /* Sorted, so a message reads the same every run: the names go into a
     * Lua array (under the VM's cap), then C sorts pointers into it. */
    lua_newtable(L); /* 3 */
    lua_Integer n = 0;
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_rawseti(L, 3, ++n);
    }
    const char **names = lua_newuserdatauv(L, (size_t)n * sizeof(*names) + 1, 0);
    for (lua_Integer i = 0; i < n; i++) {
        lua_rawgeti(L, 3, i + 1);
        names[i] = lua_tostring(L, -1); /* the array keeps the string alive */
        lua_pop(L, 1);
    }
    qsort(names, (size_t)n, sizeof(*names), cmp_names);
    size_t len = 0;
    for (lua_Integer i = 0; i < n && len < a->outsz; i++) {
        int w = snprintf(a->out + len, a->outsz - len, "%s%s", i ? ", " : "", names[i]);
        len += w > 0 ? (size_t)w : 0;
    }
    return 0;
}

void od_lua_part_names(od_lua_vm_t *vm, char *out, size_t outsz)
{
    names_args_t a = {out, outsz};
    out[0] = 0;
    lua_pushcfunction(vm->L, list_names);
    lua_pushlightuserdata(vm->L, &a);
    if (od_lua_vm_pcall(vm, 1, 0) != LUA_OK)
        snprintf(out, outsz, "(cannot list them: %s)", vm->error);
}

typedef struct check_args {
    int (*taken)(void *arg, const char *name);
    void *arg;
    char *err;
    size_t errsz;
    int bad;
} check_args_t;

static int check_names(lua_State *L)
{
    check_args_t *a = lua_touserdata(L, 1);
    od_lua_hooks_push_kind(L, "partitioner");
    if (!lua_istable(L, -1))
        return 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        const char *name = lua_tostring(L, -2);
        lua_rawgeti(L, -1, 1);
        char where[300];
        od_lua_where(L, -1, where, sizeof(where));
        lua_pop(L, 1);
        if (lua_rawlen(L, -1) > 1) {
            snprintf(a->err, a->errsz, "%s: odradek.partitioner('%s') registered %zu times "
                     "(a partitioner has one function)", where, name, (size_t)lua_rawlen(L, -1));
            a->bad = 1;
            return 0;
        }
        if (a->taken && a->taken(a->arg, name)) {
            snprintf(a->err, a->errsz, "%s: odradek.partitioner('%s'): a module already "
                     "registers a partitioner of that name", where, name);
            a->bad = 1;
            return 0;
        }
        lua_pop(L, 1);
    }
    return 0;
}

int od_lua_part_check(od_lua_vm_t *vm, int (*taken)(void *arg, const char *name), void *arg,
                      char *err, size_t errsz)
{
    check_args_t a = {taken, arg, err, errsz, 0};
    lua_pushcfunction(vm->L, check_names);
    lua_pushlightuserdata(vm->L, &a);
    if (od_lua_vm_pcall(vm, 1, 0) != LUA_OK) {
        snprintf(err, errsz, "checking the partitioners: %s", vm->error);
        return -1;
    }
    return a.bad ? -1 : 0;
}
