/* od_lua_cluster.c - read access to cluster metadata for scripts.
 *
 * odradek.topics() returns a new table, name -> topic; odradek.topic(name)
 * one topic or nil. A topic is {name=, partitions=, replication_factor=,
 * internal=, configs=}; configs (every topic key's effective value) is
 * built when first read, so a policy that only counts partitions does not
 * pay for them. The tables are copies: changing them changes nothing in
 * the broker. Everything counts against the VM's memory cap. The broker's
 * VMs are made here (od_lua_vm_new) with these functions. */
#include <string.h>

#include "od_core.h"
#include "od_lua_int.h"
#include "od_topic_config.h"
#include "od_topicname.h"

/* __index of a topic table: builds "configs" once (upvalue: the name). */
static int topic_index(lua_State *L)
{
    const char *key = lua_tostring(L, 2);
    if (!key || strcmp(key, "configs") != 0)
        return 0;
    od_lua_vm_t *vm = od_lua_vm_of(L);
    const char *name = lua_tostring(L, lua_upvalueindex(1));
    const od_topic_t *t = vm->core && name ? od_image_topic(&vm->core->image, name, strlen(name))
                                           : NULL;
    lua_newtable(L);
    for (size_t i = 0; t && i < od_topic_keys_count(); i++) {
        const od_topic_key_t *k = od_topic_key_at(i);
        od_cfg_source_t src;
        const char *v = od_topic_config_value(vm->core, t, k->def.name, &src);
        if (!v)
            continue;
        lua_pushstring(L, v);
        lua_setfield(L, -2, k->def.name);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, 1, "configs"); /* rawset would do too: the table has no __newindex */
    return 1;
}

static void push_topic(lua_State *L, const od_topic_t *t)
{
    lua_createtable(L, 0, 5);
    lua_pushstring(L, t->name);
    lua_setfield(L, -2, "name");
    lua_pushinteger(L, t->npartitions);
    lua_setfield(L, -2, "partitions");
    lua_pushinteger(L, t->npartitions > 0 ? t->partitions[0]->nreplicas : 0);
    lua_setfield(L, -2, "replication_factor");
    lua_pushboolean(L, t->internal || od_topic_is_internal(t->name));
    lua_setfield(L, -2, "internal");
    lua_createtable(L, 0, 1);
    lua_pushstring(L, t->name);
    lua_pushcclosure(L, topic_index, 1);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
}

static int l_topics(lua_State *L)
{
    od_lua_vm_t *vm = od_lua_vm_of(L);
    lua_newtable(L);
    if (!vm->core)
        return 1;
    const od_image_t *img = &vm->core->image;
    for (od_topic_t *t = od_image_next_topic(img, NULL); t; t = od_image_next_topic(img, t)) {
        push_topic(L, t);
        lua_setfield(L, -2, t->name);
    }
    return 1;
}

static int l_topic(lua_State *L)
{
    size_t len;
    const char *name = luaL_checklstring(L, 1, &len);
    od_lua_vm_t *vm = od_lua_vm_of(L);
    const od_topic_t *t = vm->core ? od_image_topic(&vm->core->image, name, len) : NULL;
    if (!t)
        lua_pushnil(L);
    else
        push_topic(L, t);
    return 1;
}

/* __index of req.cluster: "topics" is odradek.topics(), built once. */
static int cluster_index(lua_State *L)
{
    const char *key = lua_tostring(L, 2);
    if (!key || strcmp(key, "topics") != 0)
        return 0;
    l_topics(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, 1, "topics");
    return 1;
}

static int open_cluster(lua_State *L)
{
    lua_getglobal(L, "odradek");
    lua_pushcfunction(L, l_topics);
    lua_setfield(L, -2, "topics");
    lua_pushcfunction(L, l_topic);
    lua_setfield(L, -2, "topic");
    lua_pop(L, 1);
    return 0;
}

/* The broker's VM: what od_lua_vm_create gives every host, and the
 * cluster's metadata (odr's VM has none, so it does not link this file). */
od_lua_vm_t *od_lua_vm_new(struct od_core *core, const od_lua_limits_t *lim, char *err,
                           size_t errsz)
{
    return od_lua_vm_create(core, lim, open_cluster, err, errsz);
}

void od_lua_cluster_push(lua_State *L)
{
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, cluster_index);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
}
