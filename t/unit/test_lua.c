/* test_lua.c - the Lua host's VM alone: the sandbox (what is there, what
 * is not, text-only load), the instruction budget (loops, loops that catch
 * the error, coroutines, finalizers), the memory cap (string.rep bombs,
 * growing tables), and admin policies (accept, reject with a reason,
 * errors and results of the wrong shape take the safe default). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "od_ext.h"
#include "od_lua.h"
#include "tap.h"

static char dir[] = "/tmp/test_lua.XXXXXX";
static int nfiles;

static const char *script(const char *text)
{
    static char path[256];
    snprintf(path, sizeof(path), "%s/s%d.lua", dir, nfiles++);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static od_lua_limits_t lim = {200000, 8 << 20, 0};

/* A VM with one script loaded; NULL (and err) when the load fails. */
static od_lua_vm_t *vm_with(const char *text, char *err, size_t errsz)
{
    od_lua_vm_t *vm = od_lua_vm_new(NULL, &lim, err, errsz);
    if (!vm)
        return NULL;
    if (od_lua_vm_load(vm, script(text), err, errsz) < 0) {
        od_lua_vm_free(vm);
        return NULL;
    }
    return vm;
}

static int admin(od_lua_vm_t *vm, const char *name, int32_t parts, char *reason, size_t rsz)
{
    od_config_entry_t cfg[] = {{"cleanup.policy", "compact"}, {"retention.ms", NULL}};
    od_ev_admin_t ev = {.struct_size = sizeof(ev), .client = od_ext_nobody(),
                        .op = OD_ADMIN_CREATE_TOPICS, .resource_type = OD_RES_TOPIC,
                        .resource = name, .partitions = parts, .replication_factor = 1,
                        .configs = cfg, .nconfigs = 2};
    reason[0] = 0;
    return od_lua_vm_admin(vm, &ev, reason, rsz);
}

static void test_sandbox(void)
{
    char err[600];
    od_lua_vm_t *vm = vm_with(
        "assert(os == nil and io == nil and package == nil and debug == nil, 'libs')\n"
        "assert(require == nil and dofile == nil and loadfile == nil, 'file access')\n"
        "assert(string.dump == nil, 'dump')\n"
        "assert(load('return 1 + 1')() == 2, 'text load works')\n"
        "local f, e = load('\\27LuaT\\0')\n"
        "assert(f == nil and e:find('binary chunk'), 'bytecode refused: ' .. tostring(e))\n"
        "assert(not pcall(load, 'return 1', 'x', 'b'), 'mode b refused')\n"
        "assert(not pcall(load, 'return 1', 'x', 'bt'), 'mode bt refused')\n"
        "assert(not pcall(collectgarbage, 'stop'), 'gc stop refused')\n"
        "assert(type(collectgarbage('count')) == 'number', 'gc count')\n"
        "assert(string.rep('ab', 3) == 'ababab' and math.max(1, 2) == 2 and utf8.char(65) == 'A')\n"
        "assert(coroutine.wrap(function() coroutine.yield(5) end)() == 5)\n"
        "assert(next(odradek.topics()) == nil and odradek.topic('x') == nil, 'no cluster')\n"
        "print('sandbox ok')\n",
        err, sizeof(err));
    if (!tap_ok(vm != NULL, "the sandbox has the safe libraries and nothing else"))
        tap_diag("%s", err);
    od_lua_vm_free(vm);

    char bc[64];
    snprintf(bc, sizeof(bc), "%s/bytecode.lua", dir);
    FILE *f = fopen(bc, "w");
    fwrite("\033LuaT\0\031\223\r\n", 1, 11, f);
    fclose(f);
    vm = od_lua_vm_new(NULL, &lim, err, sizeof(err));
    tap_ok(vm && od_lua_vm_load(vm, bc, err, sizeof(err)) < 0 && strstr(err, "binary"),
           "a script file of bytecode is refused");
    tap_diag("%s", err);
    od_lua_vm_free(vm);

    od_lua_limits_t with_os = lim;
    with_os.libs = OD_LUA_LIB_OS | OD_LUA_LIB_IO;
    vm = od_lua_vm_new(NULL, &with_os, err, sizeof(err));
    int ok = vm && od_lua_vm_load(vm, script("assert(type(os.time()) == 'number')\n"
                                             "assert(os.exit == nil, 'no exit')\n"
                                             "assert(io.open ~= nil)\n"), err, sizeof(err)) == 0;
    if (!tap_ok(ok, "lua.libraries.allow=os,io opens them (without os.exit)"))
        tap_diag("%s", err);
    od_lua_vm_free(vm);

    vm = vm_with("odradek.policy('create_topic', function() return true end)\n", err, sizeof(err));
    tap_ok(!vm && strstr(err, "unknown policy 'create_topic'") && strstr(err, "create_topics"),
           "an unknown policy event fails the load, listing the events");
    tap_diag("%s", err);
    vm = vm_with("local x = \n", err, sizeof(err));
    tap_ok(!vm && strstr(err, "s") && strstr(err, ".lua:"), "a syntax error names file and line");
    tap_diag("%s", err);
}

static void test_budget(void)
{
    char err[600], reason[256];
    od_lua_vm_t *vm = vm_with("while true do end\n", err, sizeof(err));
    tap_ok(!vm && strstr(err, "instruction budget of 200000 exceeded") && strstr(err, ".lua:1"),
           "a script looping at load time is stopped, with file and line");
    tap_diag("%s", err);

    vm = vm_with(
        "odradek.policy('create_topics', function(req)\n"
        "  if req.name == 'loop' then while true do end end\n"
        "  if req.name == 'catch' then\n"
        "    while true do pcall(function() while true do end end) end\n"
        "  end\n"
        "  if req.name == 'co' then\n"
        "    while true do coroutine.resume(coroutine.create(function() while true do end end)) end\n"
        "  end\n"
        "  return true\n"
        "end)\n",
        err, sizeof(err));
    tap_ok(vm != NULL, "a policy script loads");
    tap_is_int(admin(vm, "loop", 1, reason, sizeof(reason)), OD_DENY, "an endless loop is denied");
    tap_ok(strcmp(reason, "policy script failed") == 0, "with the safe default's reason");
    tap_is_int(admin(vm, "catch", 1, reason, sizeof(reason)), OD_DENY,
               "a loop that catches the budget error with pcall is stopped too");
    tap_is_int(admin(vm, "co", 1, reason, sizeof(reason)), OD_DENY,
               "so is one that runs the loop in coroutines");
    tap_is_int(admin(vm, "fine", 1, reason, sizeof(reason)), OD_ALLOW,
               "the next call has a fresh budget");
    od_lua_vm_free(vm);

    vm = vm_with("setmetatable({}, {__gc = function() while true do end end})\n", err,
                 sizeof(err));
    tap_ok(!vm && strstr(err, "__gc metamethods are not allowed"),
           "a finalizer (run by Lua with hooks off) is refused");
    tap_diag("%s", err);
    vm = vm_with("local mt = {} setmetatable({}, mt) mt.__gc = function() while true do end end\n"
                 "collectgarbage()\n", err, sizeof(err));
    tap_ok(vm != NULL, "a __gc added after setmetatable never runs (Lua marks at setmetatable)");
    od_lua_vm_free(vm);
    vm = vm_with("do local x <close> = setmetatable({}, {__close = function() while true do end end})\n"
                 "end\n", err, sizeof(err));
    tap_ok(!vm && strstr(err, "instruction budget"), "a __close handler runs under the budget");
}

static void test_memory(void)
{
    char err[600], reason[256];
    od_lua_vm_t *vm = vm_with(
        "odradek.policy('create_topics', function(req)\n"
        "  if req.name == 'rep' then local s = string.rep('x', 1 << 30) end\n"
        "  if req.name == 'rep2' then local s = string.rep('x', 1 << 20):rep(1 << 12) end\n"
        "  if req.name == 'table' then local t = {} for i = 1, 1e9 do t[i] = {i} end end\n"
        "  if req.name == 'concat' then local t = {} for i = 1, 40 do t[i] = string.rep('y', 1 << 17) end\n"
        "    local s = table.concat(t) end\n"
        "  return true\n"
        "end)\n",
        err, sizeof(err));
    tap_ok(vm != NULL, "a memory-hungry policy loads");
    size_t before = od_lua_vm_memory(vm);
    tap_is_int(admin(vm, "rep", 1, reason, sizeof(reason)), OD_DENY,
               "string.rep of a GiB meets the memory cap: denied");
    tap_is_int(admin(vm, "rep2", 1, reason, sizeof(reason)), OD_DENY, "so does a rep of a rep");
    tap_is_int(admin(vm, "table", 1, reason, sizeof(reason)), OD_DENY,
               "so does a table growing without end");
    tap_is_int(admin(vm, "concat", 1, reason, sizeof(reason)), OD_DENY,
               "table.concat of 5 MiB next to its 5 MiB of parts passes the 8 MiB cap: denied");
    tap_ok(od_lua_vm_memory(vm) <= (size_t)lim.memory, "the VM never holds more than its cap");
    tap_is_int(admin(vm, "ok", 1, reason, sizeof(reason)), OD_ALLOW, "and serves the next call");
    tap_ok(od_lua_vm_memory(vm) < before + (1 << 20), "what failed calls held was collected");
    od_lua_vm_free(vm);
}

static void test_policy(void)
{
    char err[600], reason[256];
    od_lua_vm_t *vm = vm_with(
        "odradek.policy(\"create_topics\", function(req)\n"
        "  if not req.name:match(\"^team%-\") then return false, \"topic names must start with team-\" end\n"
        "  if req.partitions > 12 then return false, \"at most 12 partitions per topic\" end\n"
        "  return true\n"
        "end)\n"
        "odradek.policy('create_topics', function(req)\n"
        "  assert(req.principal == 'User:ANONYMOUS' and req.event == 'create_topics')\n"
        "  assert(req.configs['cleanup.policy'] == 'compact' and req.configs['retention.ms'] == false)\n"
        "  assert(req.replication_factor == 1 and req.resource_type == 'topic')\n"
        "  assert(next(req.cluster.topics) == nil)\n"
        "  if req.name == 'team-err' then error('boom') end\n"
        "  if req.name == 'team-shape' then return 'yes' end\n"
        "  if req.name == 'team-bare' then return false end\n"
        "  if req.name == 'team-register' then odradek.policy('delete_topics', print) end\n"
        "  return true\n"
        "end)\n",
        err, sizeof(err));
    if (!tap_ok(vm != NULL, "the issue's example policy loads"))
        tap_diag("%s", err);
    tap_is_int((int64_t)od_lua_vm_hooks(vm, "policy", "create_topics"), 2,
               "two functions for create_topics");
    tap_is_int(admin(vm, "team-a", 3, reason, sizeof(reason)), OD_ALLOW, "team-a, 3 partitions: accepted");
    tap_is_int(admin(vm, "other", 3, reason, sizeof(reason)), OD_DENY, "other: rejected");
    tap_ok(strcmp(reason, "topic names must start with team-") == 0, "with the script's reason");
    tap_is_int(admin(vm, "team-b", 13, reason, sizeof(reason)), OD_DENY, "13 partitions: rejected");
    tap_ok(strcmp(reason, "at most 12 partitions per topic") == 0, "with the script's reason");
    tap_is_int(admin(vm, "team-err", 1, reason, sizeof(reason)), OD_DENY, "an error: rejected");
    tap_ok(strcmp(reason, "policy script failed") == 0, "as the safe default");
    tap_is_int(admin(vm, "team-shape", 1, reason, sizeof(reason)), OD_DENY,
               "a string result: rejected as failed");
    tap_ok(strcmp(reason, "policy script failed") == 0, "as the safe default");
    tap_is_int(admin(vm, "team-bare", 1, reason, sizeof(reason)), OD_DENY, "a bare false: rejected");
    tap_ok(strcmp(reason, "rejected by a policy script") == 0, "with a generic reason");
    tap_is_int(admin(vm, "team-register", 1, reason, sizeof(reason)), OD_DENY,
               "registering a hook outside loading fails the call");
    od_ev_admin_t del = {.struct_size = sizeof(del), .client = od_ext_nobody(),
                         .op = OD_ADMIN_DELETE_TOPICS, .resource = "x", .partitions = -1,
                         .replication_factor = -1};
    tap_is_int(od_lua_vm_admin(vm, &del, reason, sizeof(reason)), OD_DEFER,
               "an event without policies defers");
    od_lua_vm_free(vm);
}

static void test_acl_req(void)
{
    char err[600], reason[256];
    od_lua_vm_t *vm = vm_with(
        "odradek.policy('create_acls', function(req)\n"
        "  local a = req.acl\n"
        "  assert(a.resource_type == 'topic' and a.resource_name == 'pay-' and\n"
        "         a.pattern_type == 'prefixed' and a.principal == 'User:bob' and a.host == '*' and\n"
        "         a.operation == 'describe_configs' and a.permission == 'allow', 'acl fields')\n"
        "  if a.principal == 'User:bob' then return false, 'no grants to bob' end\n"
        "  return true\n"
        "end)\n"
        "odradek.policy('delete_acls', function(req) return req.name == nil end)\n",
        err, sizeof(err));
    if (!tap_ok(vm != NULL, "an ACL policy loads"))
        tap_diag("%s", err);
    od_acl_t acl = {sizeof(acl), OD_RES_TOPIC, "pay-", OD_PATTERN_PREFIXED, "User:bob", "*",
                    OD_ACL_OP_DESCRIBE_CONFIGS, OD_PERM_ALLOW};
    od_ev_admin_t ev = {.struct_size = sizeof(ev), .client = od_ext_nobody(),
                        .op = OD_ADMIN_CREATE_ACLS, .resource_type = OD_RES_TOPIC,
                        .resource = "pay-", .partitions = -1, .replication_factor = -1,
                        .acl = &acl};
    tap_is_int(od_lua_vm_admin(vm, &ev, reason, sizeof(reason)), OD_DENY,
               "create_acls sees req.acl with lowercase names and rejects");
    tap_ok(strcmp(reason, "no grants to bob") == 0, "with its reason");
    od_acl_t filter = {sizeof(filter), OD_RES_ANY, NULL, OD_PATTERN_ANY, NULL, NULL,
                       OD_ACL_OP_ANY, OD_PERM_ANY};
    od_ev_admin_t del = ev;
    del.op = OD_ADMIN_DELETE_ACLS;
    del.resource = NULL;
    del.acl = &filter;
    tap_is_int(od_lua_vm_admin(vm, &del, reason, sizeof(reason)), OD_ALLOW,
               "delete_acls with a filter for any name: req.name is nil");
    od_lua_vm_free(vm);
}

int main(void)
{
    tap_no_plan();
    if (!mkdtemp(dir)) {
        tap_ok(0, "mkdtemp");
        return tap_done();
    }
    test_sandbox();
    test_budget();
    test_memory();
    test_policy();
    test_acl_req();
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", dir);
    return tap_done();
}
