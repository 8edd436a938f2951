/* od_lua.c - the Lua host of a broker (core->lua): its configuration keys,
 * loading lua.scripts at start and on SIGHUP, and the admin-policy hook
 * od_admin_check asks after the modules. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_ext_int.h"
#include "od_lua.h"

#define LMAX INT64_MAX
#define TEXT_(x) #x
#define TEXT(x) TEXT_(x)

/* Kafka has no Lua; these are Odradek's keys (doc/lua.md). */
static od_conf_def_t lua_defs[] = {
    {"lua.scripts", OD_CONF_LIST, "", 0, 0, NULL,
     "Lua scripts (paths, comma separated) loaded in order at start and again on SIGHUP "
     "(doc/lua.md)", NULL, 0},
    {"lua.libraries.allow", OD_CONF_LIST, "", 0, 0, NULL,
     "Lua libraries scripts may use beyond the sandbox's: io, os, package, debug", NULL, 0},
    {"lua.instructions.max", OD_CONF_INT, TEXT(OD_LUA_DEFAULT_INSTRUCTIONS), 1000, LMAX, NULL,
     "Lua VM instructions one call into the scripts may run before it fails", NULL, 0},
    {"lua.memory.max.bytes", OD_CONF_INT, TEXT(OD_LUA_DEFAULT_MEMORY), 262144, LMAX, NULL,
     "memory the scripts' Lua state may hold; an allocation beyond it fails the call", NULL,
     OD_CONF_F_SIZE},
};
enum { K_SCRIPTS, K_ALLOW, K_INSTR, K_MEM };

struct od_lua {
    od_lua_vm_t *vm;
    od_lua_limits_t lim;
    char **scripts;
    size_t nscripts;
};

int od_lua_register_config(od_core_t *core, char *err, size_t errsz)
{
    return od_config_register(&core->config, lua_defs, sizeof(lua_defs) / sizeof(lua_defs[0]),
                              "core", err, errsz);
}

static const char *value(od_core_t *core, int k)
{
    const char *v = od_config_get(&core->config, lua_defs[k].name);
    return v ? v : "";
}

/* Split a comma-separated list into malloc'd, trimmed items. */
static int split(const char *list, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    const char *p = list;
    while (p && *p) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, ",");
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        char **a = realloc(*out, (*n + 1) * sizeof(*a));
        if (!a)
            return -1;
        *out = a;
        if (!(a[*n] = strndup(p, len)))
            return -1;
        (*n)++;
        p += strcspn(p, ",");
    }
    return 0;
}

static void free_list(char **a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(a[i]);
    free(a);
}

static int parse_libs(od_core_t *core, unsigned *libs, char *err, size_t errsz)
{
    static const struct {
        const char *name;
        unsigned bit;
    } known[] = {{"io", OD_LUA_LIB_IO}, {"os", OD_LUA_LIB_OS}, {"package", OD_LUA_LIB_PACKAGE},
                 {"debug", OD_LUA_LIB_DEBUG}};
    char **items;
    size_t n;
    *libs = 0;
    if (split(value(core, K_ALLOW), &items, &n) < 0) {
        free_list(items, n);
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned bit = 0;
        for (size_t j = 0; j < sizeof(known) / sizeof(known[0]); j++)
            if (strcmp(items[i], known[j].name) == 0)
                bit = known[j].bit;
        if (!bit) {
            char where[4200];
            snprintf(err, errsz, "%s: lua.libraries.allow: '%s' is not one of io, os, package, "
                     "debug (the others are always open)",
                     od_config_where(&core->config, "lua.libraries.allow", where, sizeof(where)),
                     items[i]);
            rc = -1;
        }
        *libs |= bit;
    }
    free_list(items, n);
    return rc;
}

/* A VM with every script loaded, or NULL with err. */
static od_lua_vm_t *load_all(od_core_t *core, struct od_lua *h, char *err, size_t errsz)
{
    od_lua_vm_t *vm = od_lua_vm_new(core, &h->lim, err, errsz);
    if (!vm)
        return NULL;
    for (size_t i = 0; i < h->nscripts; i++)
        if (od_lua_vm_load(vm, h->scripts[i], err, errsz) < 0) {
            od_lua_vm_free(vm);
            return NULL;
        }
    if (od_lua_vm_check_partitioners(vm, core, err, errsz) < 0) {
        od_lua_vm_free(vm);
        return NULL;
    }
    return vm;
}

od_lua_vm_t *od_lua_current(od_core_t *core)
{
    struct od_lua *h = core ? core->lua : NULL;
    return h ? h->vm : NULL;
}

static int admin_policy(void *arg, const od_ev_admin_t *ev, char *reason, size_t reason_size)
{
    struct od_lua *h = arg;
    return h->vm ? od_lua_vm_admin(h->vm, ev, reason, reason_size) : OD_DEFER;
}

static void log_loaded(const struct od_lua *h, const char *what)
{
    od_logf(OD_LOG_INFO, "lua: %s %zu script(s) (lua.instructions.max=%lld, "
            "lua.memory.max.bytes=%lld, %zu bytes in use)", what, h->nscripts,
            (long long)h->lim.instructions, (long long)h->lim.memory, od_lua_vm_memory(h->vm));
}

static int start(od_core_t *core, char *err, size_t errsz)
{
    struct od_lua *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    core->lua = h;
    if (parse_libs(core, &h->lim.libs, err, errsz) < 0)
        return -1;
    char why[512];
    if (od_conf_parse(&lua_defs[K_INSTR], value(core, K_INSTR), &h->lim.instructions, why,
                      sizeof(why)) < 0 ||
        od_conf_parse(&lua_defs[K_MEM], value(core, K_MEM), &h->lim.memory, why, sizeof(why)) < 0) {
        snprintf(err, errsz, "%s", why);
        return -1;
    }
    if (split(value(core, K_SCRIPTS), &h->scripts, &h->nscripts) < 0) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    if (h->nscripts == 0)
        return 0; /* no Lua state at all */
    if (!(h->vm = load_all(core, h, why, sizeof(why)))) {
        char where[4200];
        snprintf(err, errsz, "lua.scripts (%s): %s",
                 od_config_where(&core->config, "lua.scripts", where, sizeof(where)), why);
        return -1;
    }
    od_ext_set_admin_policy(core, admin_policy, h);
    log_loaded(h, "loaded");
    return 0;
}

int od_lua_start(od_core_t *core, char *err, size_t errsz)
{
    if (start(core, err, errsz) == 0)
        return 0;
    od_lua_stop(core); /* a subsystem that fails to start is not stopped */
    return -1;
}

int od_lua_reload(od_core_t *core)
{
    struct od_lua *h = core->lua;
    if (!h || h->nscripts == 0) {
        od_logf(OD_LOG_INFO, "lua: SIGHUP: no lua.scripts to reload");
        return 0;
    }
    char err[600];
    od_lua_vm_t *vm = load_all(core, h, err, sizeof(err));
    if (!vm) {
        od_logf(OD_LOG_ERROR, "lua: reload failed, the scripts loaded before stay in use: %s", err);
        return -1;
    }
    od_lua_vm_t *old = h->vm;
    h->vm = vm;
    od_lua_vm_free(old);
    od_ext_set_admin_policy(core, admin_policy, h);
    log_loaded(h, "reloaded");
    return 0;
}

void od_lua_stop(od_core_t *core)
{
    struct od_lua *h = core->lua;
    if (!h)
        return;
    od_ext_set_admin_policy(core, NULL, NULL);
    od_lua_vm_free(h->vm);
    free_list(h->scripts, h->nscripts);
    free(h);
    core->lua = NULL;
}
