/* od_lua_sandbox.c - the libraries a script gets (doc/lua.md "Sandbox").
 *
 * Always: base, string, table, math, utf8, coroutine, with
 *  - dofile and loadfile removed (they read files);
 *  - load limited to text chunks: bytecode is not verified by Lua, and a
 *    crafted chunk can crash the VM;
 *  - string.dump removed (it only makes bytecode);
 *  - collectgarbage limited to "collect", "step", "count" and "isrunning"
 *    ("stop" would let the VM fill its cap for good);
 *  - setmetatable refusing metatables with a __gc field: Lua runs
 *    finalizers with hooks off, so a finalizer would escape the
 *    instruction budget (and run at any allocation of any later call);
 *  - print writing to the broker's log.
 * io, os, package and debug only when lua.libraries.allow names them; os
 * never has os.exit (it would end the broker without a clean shutdown). */
#include <stdio.h>
#include <string.h>

#include <lualib.h>

#include "od_lua_int.h"

static void where_prefix(lua_State *L, char *out, size_t outsz)
{
    luaL_where(L, 1);
    snprintf(out, outsz, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
}

/* The arguments from `first` on, joined with tabs as print does. */
static const char *join_args(lua_State *L, int first)
{
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = first; i <= n; i++) {
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
        if (i < n)
            luaL_addchar(&b, '\t');
    }
    luaL_pushresult(&b);
    return lua_tostring(L, -1);
}

static int l_print(lua_State *L)
{
    char where[256];
    where_prefix(L, where, sizeof(where));
    const char *msg = join_args(L, 1);
    od_logf(OD_LOG_INFO, "lua: %s%s", where, msg);
    return 0;
}

/* odradek.log(level, ...): level "error", "warn", "info" or "debug". */
static int l_log(lua_State *L)
{
    static const char *const levels[] = {"error", "warn", "info", "debug", NULL};
    int level = luaL_checkoption(L, 1, NULL, levels);
    char where[256];
    where_prefix(L, where, sizeof(where));
    const char *msg = join_args(L, 2);
    od_logf(level, "lua: %s%s", where, msg);
    return 0;
}

/* load(chunk [, chunkname [, mode [, env]]]) with mode "t" only. */
static int l_load(lua_State *L)
{
    const char *mode = luaL_optstring(L, 3, "t");
    if (strcmp(mode, "t") != 0)
        return luaL_error(L, "load: only text chunks (mode \"t\") are allowed, not \"%s\"", mode);
    int n = lua_gettop(L);
    if (n < 3) {
        lua_settop(L, 3);
        n = 3;
    }
    lua_pushstring(L, "t");
    lua_replace(L, 3);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, n, LUA_MULTRET);
    return lua_gettop(L);
}

static int l_collectgarbage(lua_State *L)
{
    static const char *const allowed[] = {"collect", "step", "count", "isrunning", NULL};
    luaL_checkoption(L, 1, "collect", allowed);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

static int l_setmetatable(lua_State *L)
{
    if (lua_istable(L, 2)) {
        lua_pushliteral(L, "__gc");
        int has_gc = lua_rawget(L, 2) != LUA_TNIL; /* raw, as Lua's own check */
        lua_pop(L, 1);
        if (has_gc)
            return luaL_error(L, "setmetatable: __gc metamethods are not allowed (finalizers "
                              "would run outside the instruction budget)");
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

static void wrap_global(lua_State *L, const char *name, lua_CFunction fn)
{
    lua_getglobal(L, name);
    lua_pushcclosure(L, fn, 1);
    lua_setglobal(L, name);
}

static void drop_field(lua_State *L, const char *table, const char *field)
{
    lua_getglobal(L, table);
    if (lua_istable(L, -1)) {
        lua_pushnil(L);
        lua_setfield(L, -2, field);
    }
    lua_pop(L, 1);
}

void od_lua_sandbox_open(lua_State *L, unsigned libs)
{
    static const luaL_Reg always[] = {
        {LUA_GNAME, luaopen_base},          {LUA_STRLIBNAME, luaopen_string},
        {LUA_TABLIBNAME, luaopen_table},    {LUA_MATHLIBNAME, luaopen_math},
        {LUA_UTF8LIBNAME, luaopen_utf8},    {LUA_COLIBNAME, luaopen_coroutine},
    };
    for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++) {
        luaL_requiref(L, always[i].name, always[i].func, 1);
        lua_pop(L, 1);
    }
    static const struct {
        unsigned bit;
        luaL_Reg lib;
    } optional[] = {
        {OD_LUA_LIB_IO, {LUA_IOLIBNAME, luaopen_io}},
        {OD_LUA_LIB_OS, {LUA_OSLIBNAME, luaopen_os}},
        {OD_LUA_LIB_PACKAGE, {LUA_LOADLIBNAME, luaopen_package}},
        {OD_LUA_LIB_DEBUG, {LUA_DBLIBNAME, luaopen_debug}},
    };
    for (size_t i = 0; i < sizeof(optional) / sizeof(optional[0]); i++)
        if (libs & optional[i].bit) {
            luaL_requiref(L, optional[i].lib.name, optional[i].lib.func, 1);
            lua_pop(L, 1);
        }
    lua_pushnil(L);
    lua_setglobal(L, "dofile");
    lua_pushnil(L);
    lua_setglobal(L, "loadfile");
    wrap_global(L, "load", l_load);
    wrap_global(L, "collectgarbage", l_collectgarbage);
    wrap_global(L, "setmetatable", l_setmetatable);
    lua_pushcfunction(L, l_print);
    lua_setglobal(L, "print");
    drop_field(L, LUA_STRLIBNAME, "dump");
    drop_field(L, LUA_OSLIBNAME, "exit");
    lua_newtable(L);
    lua_pushcfunction(L, l_log);
    lua_setfield(L, -2, "log");
    lua_pushfstring(L, "%d.%d", OD_ABI_MAJOR, OD_ABI_MINOR);
    lua_setfield(L, -2, "abi"); /* the module ABI this broker has */
    lua_setglobal(L, "odradek");
}
