/* od_lua_route.c - the hook kinds of routing (doc/routing.md):
 * odradek.partitioner(NAME, function(key, value, headers, n)) and
 * odradek.route(TOPIC, function(rec)).
 *
 * One budgeted call runs every route of a topic over every record of one
 * partition's batches; what the routes decided is copied into the C
 * records (od_route_rec_t) inside that call, so nothing allocates in the VM
 * outside a protected call. A partitioner is one budgeted call per record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_lua_int.h"
#include "od_route.h"

/* ---- pushing a record ---- */

static void push_bytes(lua_State *L, const void *p, int32_t len)
{
    if (!p || len < 0)
        lua_pushnil(L);
    else
        lua_pushlstring(L, p, (size_t)len);
}

/* headers: name -> value (a null value is false; a name given twice shows
 * its last value). */
static void push_headers(lua_State *L, const od_record_t *raw)
{
    lua_createtable(L, 0, raw->header_count > 0 && raw->header_count < 64 ? raw->header_count : 0);
    size_t pos = 0;
    od_record_header_t h;
    while (od_record_header_next(raw, &pos, &h) == 0) {
        lua_pushlstring(L, h.key, (size_t)h.key_len);
        if (h.value)
            lua_pushlstring(L, (const char *)h.value, (size_t)h.value_len);
        else
            lua_pushboolean(L, 0);
        lua_rawset(L, -3);
    }
}

/* ---- partitioners ---- */

/* The headers of rec as the routes left them, else as produced. */
static void push_rec_headers(lua_State *L, const void *arg)
{
    const od_route_rec_t *rec = arg;
    if (!rec->hdrs_changed) {
        push_headers(L, &rec->raw);
        return;
    }
    lua_createtable(L, 0, (int)(rec->nhdrs < 64 ? rec->nhdrs : 0));
    for (size_t i = 0; i < rec->nhdrs; i++) {
        const od_route_hdr_t *h = &rec->hdrs[i];
        lua_pushlstring(L, h->key, h->key_len);
        if (h->value)
            lua_pushlstring(L, h->value, h->value_len);
        else
            lua_pushboolean(L, 0);
        lua_rawset(L, -3);
    }
}

int32_t od_lua_vm_partition(od_lua_vm_t *vm, const char *name, const od_route_rec_t *rec,
                            int32_t n, int64_t *budget)
{
    od_lua_part_in_t in = {
        .name = name,
        .key = rec->key && rec->key_len >= 0 ? rec->key : NULL,
        .key_len = rec->key_len > 0 ? (size_t)rec->key_len : 0,
        .value = rec->value && rec->value_len >= 0 ? rec->value : NULL,
        .value_len = rec->value_len > 0 ? (size_t)rec->value_len : 0,
        .push_headers = push_rec_headers,
        .headers = rec,
        .n = n,
    };
    int64_t full = vm->lim.instructions;
    if (budget && *budget == OD_LUA_BUDGET_UNSET)
        *budget = full;
    if (budget && *budget <= 0) {
        od_route_metric("partitioner", name, OD_RMETRIC_ERRORS, 1);
        return -2; /* the batch's budget is spent (logged when it was) */
    }
    int64_t t0 = od_route_now_ns();
    if (budget)
        vm->lim.instructions = *budget < full ? *budget : full;
    int32_t p;
    int rc = od_lua_part_call(vm, &in, &p);
    vm->lim.instructions = full;
    if (budget)
        *budget = vm->budget_blown ? 0 : *budget - vm->instr_used;
    od_route_metric("partitioner", name, OD_RMETRIC_CALLS, 1);
    od_route_metric("partitioner", name, OD_RMETRIC_NS, (uint64_t)(od_route_now_ns() - t0));
    if (rc != 0) {
        od_route_metric("partitioner", name, OD_RMETRIC_ERRORS, 1);
        od_logf(OD_LOG_WARN, "lua partitioner %s (%s) failed: %s", name,
                vm->hook_where[0] ? vm->hook_where : "?", vm->error);
        return -2;
    }
    return p;
}

/* ---- routes ---- */

typedef struct route_args {
    const char *topic, *principal;
    od_route_rec_t *recs;
    size_t n;
    int max_copies;
    size_t rejected; /* the record a route rejected (n: none) */
} route_args_t;

static char copies_key; /* rec[&copies_key] = {{topic, partitioner, key, rekey}, ...} */

/* rec:copy(topic, partitioner[, key]): key nil or absent keeps the
 * record's key, false makes it null, a string replaces it. */
static int l_copy(lua_State *L)
{
    const route_args_t *a = lua_touserdata(L, lua_upvalueindex(1));
    od_lua_vm_t *vm = od_lua_vm_of(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    const char *topic = luaL_checkstring(L, 2);
    const char *part = luaL_checkstring(L, 3);
    int rekey = !lua_isnoneornil(L, 4);
    if (rekey && !lua_isstring(L, 4) && !(lua_isboolean(L, 4) && !lua_toboolean(L, 4)))
        return luaL_error(L, "rec:copy: the key must be a string, false (null) or nil (keep)");
    if (vm->core && od_route_copy_target(vm->core, topic) < 0)
        return luaL_error(L, "rec:copy: no topic '%s' to copy to (or an internal one)", topic);
    if (vm->core && !od_route_partitioner_known(vm->core, part))
        return luaL_error(L, "rec:copy: unknown partitioner '%s'", part);
    if (lua_rawgetp(L, 1, &copies_key) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_rawsetp(L, 1, &copies_key);
    }
    lua_Integer k = (lua_Integer)lua_rawlen(L, -1);
    if (k >= a->max_copies)
        return luaL_error(L, "rec:copy: more than %d copies of one record (route.copies.max)",
                          a->max_copies);
    lua_createtable(L, 4, 0);
    lua_pushvalue(L, 2);
    lua_rawseti(L, -2, 1);
    lua_pushvalue(L, 3);
    lua_rawseti(L, -2, 2);
    if (rekey && lua_isstring(L, 4)) {
        lua_pushvalue(L, 4);
        lua_rawseti(L, -2, 3);
    }
    lua_pushboolean(L, rekey);
    lua_rawseti(L, -2, 4);
    lua_rawseti(L, -2, k + 1);
    return 0;
}

/* rec:dead_letter(topic, reason): the same as returning "dlq", topic, reason. */
static int l_dead_letter(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkstring(L, 2);
    lua_pushliteral(L, "dlq");
    lua_pushvalue(L, 2);
    if (lua_isnoneornil(L, 3))
        lua_pushliteral(L, "dead-lettered by a route");
    else
        lua_pushstring(L, luaL_checkstring(L, 3));
    return 3;
}

static char *dup_lua(lua_State *L, int idx, size_t *len)
{
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    char *d = malloc(n + 1);
    if (!d)
        luaL_error(L, "out of memory");
    memcpy(d, s, n);
    d[n] = 0;
    if (len)
        *len = n;
    return d;
}

/* Whether the headers table (at idx) still says what the raw headers say:
 * for each name its last value, and no other name. Linear in the headers
 * (a client chooses how many there are): the raw headers are collected
 * into a VM-owned array and walked from the end, a table remembering the
 * names seen. */
static int headers_same(lua_State *L, int idx, const od_record_t *raw)
{
    size_t cap = raw->header_count > 0 ? (size_t)raw->header_count : 0, n = 0, pos = 0;
    od_record_header_t *a = lua_newuserdatauv(L, (cap ? cap : 1) * sizeof(*a), 0);
    while (n < cap && od_record_header_next(raw, &pos, &a[n]) == 0)
        n++;
    lua_newtable(L); /* names seen */
    int seen = lua_gettop(L);
    size_t distinct = 0;
    for (size_t j = n; j-- > 0;) {
        const od_record_header_t *h = &a[j];
        lua_pushlstring(L, h->key, (size_t)h->key_len);
        lua_pushvalue(L, -1);
        if (lua_rawget(L, seen) != LUA_TNIL) {
            lua_pop(L, 2);
            continue; /* an earlier value of a name given again */
        }
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_pushboolean(L, 1);
        lua_rawset(L, seen);
        distinct++;
        int t = lua_rawget(L, idx);
        size_t vl;
        const char *v = t == LUA_TSTRING ? lua_tolstring(L, -1, &vl) : NULL;
        int same = h->value ? v && vl == (size_t)h->value_len && memcmp(v, h->value, vl) == 0
                            : t == LUA_TBOOLEAN && !lua_toboolean(L, -1);
        lua_pop(L, 1);
        if (!same) {
            lua_pop(L, 2);
            return 0;
        }
    }
    lua_pop(L, 2);
    size_t m = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        m++;
    }
    return m == distinct;
}

static int hdr_cmp(const void *a, const void *b)
{
    const od_route_hdr_t *x = a, *y = b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/* Copy the headers table (at idx) into rec->hdrs, sorted by name. */
static void take_headers(lua_State *L, int idx, od_route_rec_t *rec)
{
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        n++;
    }
    rec->hdrs = calloc(n ? n : 1, sizeof(*rec->hdrs));
    if (!rec->hdrs)
        luaL_error(L, "out of memory");
    rec->hdrs_changed = 1;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "rec.headers: header names must be strings (got a %s)",
                       luaL_typename(L, -2));
        int vt = lua_type(L, -1);
        int null_value = vt == LUA_TBOOLEAN && !lua_toboolean(L, -1);
        if (vt != LUA_TSTRING && vt != LUA_TNUMBER && !null_value)
            luaL_error(L, "rec.headers[\"%s\"]: a value must be a string, a number or false "
                       "(null), not a %s", lua_tostring(L, -2), luaL_typename(L, -1));
        od_route_hdr_t *h = &rec->hdrs[rec->nhdrs];
        h->key = dup_lua(L, -2, &h->key_len);
        rec->nhdrs++;
        if (vt != LUA_TBOOLEAN)
            h->value = dup_lua(L, -1, &h->value_len); /* a number becomes its text */
        lua_pop(L, 1);
    }
    qsort(rec->hdrs, rec->nhdrs, sizeof(*rec->hdrs), hdr_cmp);
}

static void take_copies(lua_State *L, int rec_idx, od_route_rec_t *rec)
{
    if (lua_rawgetp(L, rec_idx, &copies_key) != LUA_TTABLE) {
        lua_pop(L, 1);
        return;
    }
    size_t n = lua_rawlen(L, -1);
    rec->copies = calloc(n ? n : 1, sizeof(*rec->copies));
    if (!rec->copies)
        luaL_error(L, "out of memory");
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i);
        od_route_copy_t *c = &rec->copies[rec->ncopies++];
        lua_rawgeti(L, -1, 1);
        c->topic = dup_lua(L, -1, NULL);
        lua_rawgeti(L, -2, 2);
        c->partitioner = dup_lua(L, -1, NULL);
        lua_rawgeti(L, -3, 4);
        c->rekey = lua_toboolean(L, -1);
        if (lua_rawgeti(L, -4, 3) == LUA_TSTRING)
            c->key = dup_lua(L, -1, &c->key_len);
        lua_pop(L, 5);
    }
    lua_pop(L, 1);
}

static void push_rec(lua_State *L, const route_args_t *a, const od_route_rec_t *r, int mt)
{
    lua_createtable(L, 0, 8);
    push_bytes(L, r->key, r->key_len);
    lua_setfield(L, -2, "key");
    push_bytes(L, r->value, r->value_len);
    lua_setfield(L, -2, "value");
    push_headers(L, &r->raw);
    lua_setfield(L, -2, "headers");
    lua_pushinteger(L, r->partition);
    lua_setfield(L, -2, "partition");
    lua_pushinteger(L, r->timestamp);
    lua_setfield(L, -2, "timestamp");
    lua_pushstring(L, a->topic);
    lua_setfield(L, -2, "topic");
    lua_pushstring(L, a->principal);
    lua_setfield(L, -2, "principal");
    lua_pushvalue(L, mt);
    lua_setmetatable(L, -2);
}

/* One record through the routes (the list at index 2); the record's table
 * is at rec_idx. 0: go on; 1: rejected (a->rejected set). */
static int route_one(lua_State *L, route_args_t *a, size_t i, int rec_idx, lua_Integer nfn)
{
    od_lua_vm_t *vm = od_lua_vm_of(L);
    od_route_rec_t *r = &a->recs[i];
    for (lua_Integer f = 1; f <= nfn; f++) {
        lua_rawgeti(L, 2, f);
        od_lua_where(L, -1, vm->hook_where, sizeof(vm->hook_where));
        lua_pushvalue(L, rec_idx);
        lua_call(L, 1, 3);
        int t1 = lua_type(L, -3);
        if (t1 == LUA_TBOOLEAN && lua_toboolean(L, -3)) {
            lua_pop(L, 3);
            continue;
        }
        if (t1 == LUA_TBOOLEAN && (lua_isstring(L, -2) || lua_isnil(L, -2))) {
            r->action = OD_ROUTE_REJECT;
            r->reason = lua_isstring(L, -2) ? dup_lua(L, -2, NULL) : NULL;
            a->rejected = i;
            return 1;
        }
        if (t1 == LUA_TSTRING && strcmp(lua_tostring(L, -3), "dlq") == 0 &&
            lua_type(L, -2) == LUA_TSTRING) {
            if (vm->core && od_route_copy_target(vm->core, lua_tostring(L, -2)) < 0)
                return luaL_error(L, "the route defined at %s dead-letters to '%s', which is no "
                                  "topic (or an internal one)", vm->hook_where,
                                  lua_tostring(L, -2));
            r->action = OD_ROUTE_DLQ;
            r->dlq_topic = dup_lua(L, -2, NULL);
            r->reason = lua_isstring(L, -1) ? dup_lua(L, -1, NULL) : NULL;
            lua_pop(L, 3);
            break;
        }
        return luaL_error(L, "the route defined at %s returned %s (expected true; false and a "
                          "reason; or \"dlq\", a topic and a reason)", vm->hook_where,
                          luaL_typename(L, -3));
    }
    /* hook_where stays the last route's: it left the headers so. */
    if (lua_getfield(L, rec_idx, "headers") != LUA_TTABLE)
        return luaL_error(L, "rec.headers is a %s after the routes (expected a table)",
                          luaL_typename(L, -1));
    int hidx = lua_gettop(L);
    if (!headers_same(L, hidx, &r->raw))
        take_headers(L, hidx, r);
    lua_pop(L, 1);
    take_copies(L, rec_idx, r);
    return 0;
}

static int run_routes(lua_State *L)
{
    route_args_t *a = lua_touserdata(L, 1);
    lua_Integer nfn = (lua_Integer)od_lua_hooks_push(L, "route", a->topic); /* 2 */
    /* The record's metatable: {__index = {copy=, dead_letter=}} (3). */
    lua_createtable(L, 0, 1);
    lua_createtable(L, 0, 2);
    lua_pushlightuserdata(L, a);
    lua_pushcclosure(L, l_copy, 1);
    lua_setfield(L, -2, "copy");
    lua_pushcfunction(L, l_dead_letter);
    lua_setfield(L, -2, "dead_letter");
    lua_setfield(L, -2, "__index");
    for (size_t i = 0; i < a->n; i++) {
        push_rec(L, a, &a->recs[i], 3);
        if (route_one(L, a, i, lua_gettop(L), nfn))
            return 0;
        lua_settop(L, 3);
    }
    return 0;
}

int od_lua_vm_route(od_lua_vm_t *vm, const char *topic, const char *principal,
                    od_route_rec_t *recs, size_t n, int max_copies, size_t *rejected)
{
    lua_State *L = vm->L;
    route_args_t a = {topic, principal, recs, n, max_copies, n};
    lua_pushcfunction(L, run_routes);
    lua_pushlightuserdata(L, &a);
    vm->hook_where[0] = 0;
    int rc = od_lua_vm_pcall(vm, 1, 0);
    *rejected = a.rejected;
    return rc == LUA_OK ? 0 : -1;
}

/* ---- names: a Lua partitioner may not take a module's name ---- */

static int module_has(void *core, const char *name)
{
    return od_route_module_partitioner(core, name);
}

int od_lua_vm_check_partitioners(od_lua_vm_t *vm, struct od_core *core, char *err, size_t errsz)
{
    return od_lua_part_check(vm, core ? module_has : NULL, core, err, errsz);
}
