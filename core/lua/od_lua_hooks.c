/* od_lua_hooks.c - named hooks: odradek.<kind>(NAME, fn).
 *
 * One generic table per VM, registry["odradek.hooks"][kind][name] = {fn,
 * ...}, in registration order. A kind is a row of `kinds` below: its
 * registration function and the names it takes (NULL: any name, as a
 * partitioner's or a route's will be). Hooks are registered only while a
 * script loads, so the set a VM serves is fixed once it is loaded. */
#include <stdio.h>
#include <string.h>

#include "od_lua_int.h"

#define HOOKS_KEY "odradek.hooks"

static const char *const policy_events[] = {
    "create_topics", "create_partitions", "delete_topics", "alter_configs", "delete_records",
    "create_acls",   "delete_acls",       "delete_groups", NULL};

/* partitioner: any name (a module's name is refused when the scripts are
 * loaded, od_lua_route.c); route: a topic name. */
static const od_lua_kind_t kinds[] = {
    {"policy", policy_events},
    {"partitioner", NULL},
    {"route", NULL},
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

void od_lua_where(lua_State *L, int idx, char *out, size_t outsz)
{
    lua_Debug ar;
    lua_pushvalue(L, idx);
    if (lua_getinfo(L, ">S", &ar))
        snprintf(out, outsz, "%s:%d", ar.short_src, ar.linedefined);
    else
        snprintf(out, outsz, "?");
}

/* odradek.<kind>(name, fn); the kind is upvalue 1 (an index in kinds). */
static int l_register(lua_State *L)
{
    const od_lua_kind_t *k = &kinds[lua_tointeger(L, lua_upvalueindex(1))];
    const char *name = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    if (!od_lua_vm_of(L)->loading)
        return luaL_error(L, "odradek.%s may only be called while a script loads", k->kind);
    if (k->names) {
        int known = 0;
        for (const char *const *n = k->names; *n && !known; n++)
            known = strcmp(*n, name) == 0;
        if (!known) {
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (const char *const *n = k->names; *n; n++) {
                luaL_addstring(&b, *n);
                if (n[1])
                    luaL_addstring(&b, ", ");
            }
            luaL_pushresult(&b);
            return luaL_error(L, "odradek.%s: unknown %s '%s' (one of: %s)", k->kind, k->kind,
                              name, lua_tostring(L, -1));
        }
    }
    lua_getfield(L, LUA_REGISTRYINDEX, HOOKS_KEY);
    if (lua_getfield(L, -1, k->kind) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, k->kind);
    }
    if (lua_getfield(L, -1, name) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, name);
    }
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    lua_pushvalue(L, 2);
    lua_rawseti(L, -2, n + 1);
    return 0;
}

void od_lua_hooks_open(lua_State *L)
{
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, HOOKS_KEY);
    lua_getglobal(L, "odradek");
    for (size_t i = 0; i < NKINDS; i++) {
        lua_pushinteger(L, (lua_Integer)i);
        lua_pushcclosure(L, l_register, 1);
        lua_setfield(L, -2, kinds[i].kind);
    }
    lua_pop(L, 1);
}

size_t od_lua_hooks_push(lua_State *L, const char *kind, const char *name)
{
    int base = lua_gettop(L);
    int ok = lua_getfield(L, LUA_REGISTRYINDEX, HOOKS_KEY) == LUA_TTABLE &&
             lua_getfield(L, -1, kind) == LUA_TTABLE && lua_getfield(L, -1, name) == LUA_TTABLE;
    if (!ok)
        lua_pushnil(L);
    /* Keep only the list (or nil) above what the caller had. */
    lua_replace(L, base + 1);
    lua_settop(L, base + 1);
    return ok ? lua_rawlen(L, -1) : 0;
}

void od_lua_hooks_push_kind(lua_State *L, const char *kind)
{
    int base = lua_gettop(L);
    int ok = lua_getfield(L, LUA_REGISTRYINDEX, HOOKS_KEY) == LUA_TTABLE &&
             lua_getfield(L, -1, kind) == LUA_TTABLE;
    if (!ok)
        lua_pushnil(L);
    lua_replace(L, base + 1);
    lua_settop(L, base + 1);
}
