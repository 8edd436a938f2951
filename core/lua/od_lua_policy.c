/* od_lua_policy.c - admin policies: odradek.policy(EVENT, function(req)).
 *
 * The functions of an event run in registration order under one budgeted
 * call. Each returns true (accept: the next is asked) or false and a
 * reason (reject: POLICY_VIOLATION with that message, the rest are not
 * asked). Anything else - an error, a blown budget or memory cap, another
 * result - rejects with "policy script failed" and is logged with the
 * script's file and line: a policy that cannot answer must not let the
 * change through (doc/lua.md). */
#include <stdio.h>
#include <string.h>

#include "od_lua_int.h"

static const char *event_name(int op)
{
    static const char *const names[] = {NULL,           "create_topics", "create_partitions",
                                        "delete_topics", "alter_configs", "delete_records",
                                        "create_acls",  "delete_acls",   "delete_groups"};
    return op >= 1 && op <= OD_ADMIN_DELETE_GROUPS ? names[op] : NULL;
}

static const char *resource_type_name(int t, int op)
{
    switch (t) {
    case OD_RES_TOPIC:
        return "topic";
    case OD_RES_GROUP:
        return "group";
    case OD_RES_CLUSTER:
        return op == OD_ADMIN_ALTER_CONFIGS ? "broker" : "cluster";
    case OD_RES_TRANSACTIONAL_ID:
        return "transactional_id";
    case OD_RES_DELEGATION_TOKEN:
        return "delegation_token";
    case OD_RES_USER:
        return "user";
    case OD_RES_ANY:
        return "any";
    }
    return "unknown";
}

static const char *acl_op_name(int op)
{
    static const char *const names[] = {"unknown", "any",    "all",      "read",
                                        "write",   "create", "delete",   "alter",
                                        "describe", "cluster_action", "describe_configs",
                                        "alter_configs", "idempotent_write"};
    return op >= 0 && op <= OD_ACL_OP_IDEMPOTENT_WRITE ? names[op] : "unknown";
}

static const char *pattern_name(int p)
{
    static const char *const names[] = {"unknown", "any", "match", "literal", "prefixed"};
    return p >= 0 && p <= OD_PATTERN_PREFIXED ? names[p] : "unknown";
}

static const char *permission_name(int p)
{
    static const char *const names[] = {"unknown", "any", "deny", "allow"};
    return p >= 0 && p <= OD_PERM_ALLOW ? names[p] : "unknown";
}

static void set_str(lua_State *L, const char *field, const char *v)
{
    if (!v)
        return;
    lua_pushstring(L, v);
    lua_setfield(L, -2, field);
}

static void set_int(lua_State *L, const char *field, lua_Integer v)
{
    if (v < 0)
        return; /* -1: not part of this change */
    lua_pushinteger(L, v);
    lua_setfield(L, -2, field);
}

static void push_req(lua_State *L, const od_ev_admin_t *ev)
{
    const od_client_t *c = ev->client;
    lua_createtable(L, 0, 16);
    set_str(L, "event", event_name(ev->op));
    set_str(L, "principal", c ? c->principal : "User:ANONYMOUS");
    set_str(L, "host", c ? c->host : NULL);
    set_str(L, "peer", c ? c->peer : NULL);
    set_str(L, "listener", c ? c->listener : NULL);
    set_str(L, "client_id", c ? c->client_id : NULL);
    set_str(L, "mechanism", c ? c->sasl_mechanism : NULL);
    set_str(L, "resource_type", resource_type_name(ev->resource_type, ev->op));
    set_str(L, "name", ev->resource);
    set_int(L, "partitions", ev->partitions);
    set_int(L, "replication_factor", ev->replication_factor);
    lua_createtable(L, 0, (int)ev->nconfigs);
    for (size_t i = 0; ev->configs && i < ev->nconfigs; i++) {
        if (!ev->configs[i].name)
            continue;
        if (ev->configs[i].value)
            lua_pushstring(L, ev->configs[i].value);
        else
            lua_pushboolean(L, 0); /* the change removes the override */
        lua_setfield(L, -2, ev->configs[i].name);
    }
    lua_setfield(L, -2, "configs");
    if (ev->acl) {
        const od_acl_t *a = ev->acl;
        lua_createtable(L, 0, 7);
        set_str(L, "resource_type", resource_type_name(a->resource_type, 0));
        set_str(L, "resource_name", a->resource_name);
        set_str(L, "pattern_type", pattern_name(a->pattern_type));
        set_str(L, "principal", a->principal);
        set_str(L, "host", a->host);
        set_str(L, "operation", acl_op_name(a->operation));
        set_str(L, "permission", permission_name(a->permission));
        lua_setfield(L, -2, "acl");
    }
    od_lua_cluster_push(L);
    lua_setfield(L, -2, "cluster");
}

/* Run under the budget: (ev) -> nil when the event has no policies; true;
 * or false, reason, where. Errors propagate (with the hook's location). */
static int run_policies(lua_State *L)
{
    const od_ev_admin_t *ev = lua_touserdata(L, 1);
    lua_Integer n = (lua_Integer)od_lua_hooks_push(L, "policy", event_name(ev->op)); /* 2 */
    if (n == 0) {
        lua_pushnil(L);
        return 1;
    }
    push_req(L, ev); /* index 3 */
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 2, i);
        od_lua_vm_t *vm = od_lua_vm_of(L);
        char *where = vm->hook_where;
        od_lua_where(L, -1, where, sizeof(vm->hook_where));
        lua_pushvalue(L, 3);
        lua_call(L, 1, 2);
        if (lua_isboolean(L, -2) && lua_toboolean(L, -2)) {
            lua_pop(L, 2);
            continue;
        }
        if (lua_isboolean(L, -2) && (lua_isstring(L, -1) || lua_isnil(L, -1))) {
            lua_pushboolean(L, 0);
            lua_pushvalue(L, -2);
            lua_pushstring(L, where);
            return 3;
        }
        return luaL_error(L, "the policy defined at %s returned %s%s%s (expected true, or false "
                          "and a reason)", where, luaL_typename(L, -2),
                          lua_isboolean(L, -2) ? " and a " : "",
                          lua_isboolean(L, -2) ? luaL_typename(L, -1) : "");
    }
    lua_pushboolean(L, 1);
    return 1;
}

int od_lua_vm_admin(od_lua_vm_t *vm, const od_ev_admin_t *ev, char *reason, size_t reason_size)
{
    lua_State *L = vm->L;
    const char *event = event_name(ev->op);
    if (!event)
        return OD_DEFER;
    int base = lua_gettop(L);
    lua_pushcfunction(L, run_policies);
    lua_pushlightuserdata(L, (void *)(uintptr_t)ev);
    vm->hook_where[0] = 0;
    int rc = od_lua_vm_pcall(vm, 1, 3);
    int d;
    if (rc != LUA_OK) {
        od_logf(OD_LOG_ERROR, "lua policy %s (%s) of '%s' failed: %s; rejected (policy script "
                "failed)", event, vm->hook_where[0] ? vm->hook_where : "building the request",
                ev->resource ? ev->resource : "", vm->error);
        snprintf(reason, reason_size, "policy script failed");
        d = OD_DENY;
    } else if (lua_isnil(L, -3)) {
        d = OD_DEFER; /* no policy for this event */
    } else if (lua_toboolean(L, -3)) {
        d = OD_ALLOW;
    } else {
        /* run_policies made both strings (reason may be a number: take it
         * as Lua prints it without converting in place). */
        const char *why = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        const char *where = lua_tostring(L, -1);
        if (why)
            snprintf(reason, reason_size, "%s", why);
        else if (lua_type(L, -2) == LUA_TNUMBER)
            snprintf(reason, reason_size, "%g", (double)lua_tonumber(L, -2));
        else
            snprintf(reason, reason_size, "rejected by a policy script");
        od_logf(OD_LOG_INFO, "lua policy %s (%s) rejected '%s': %s", event, where ? where : "?",
                ev->resource ? ev->resource : "", reason);
        d = OD_DENY;
    }
    lua_settop(L, base);
    return d;
}
