/* od_module.c - dlopen, ABI check, registrations. */
#include "od_module.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_ext.h"

#define MAX_BACKENDS 16

static od_backend_reg_t storages[MAX_BACKENDS], cplanes[MAX_BACKENDS];
static size_t nstorages, ncplanes;

void od_modules_reset_registry(void)
{
    nstorages = ncplanes = 0;
}

static const char *const default_modules[] = {"storage_segment", "storage_memory", "kraft",
                                              "sasl_plain", "sasl_scram", "sasl_argon2",
                                              "sasl_cyrus", "sasl_oauthbearer", "sasl_gssapi",
                                              "acl"};

/* Modules linked into the program (the fuzzer), found by name before dlopen. */
static const od_module_t *const *static_mods;
static size_t nstatic_mods;

void od_modules_set_static(const od_module_t *const *mods, size_t n)
{
    static_mods = mods;
    nstatic_mods = n;
}

static void close_handle(void *h)
{
    if (h)
        dlclose(h);
}

static int load_one(od_core_t *core, const char *name, const char *module_dir, const char *where,
                    char *err, size_t errsz)
{
    char path[4096];
    if (strchr(name, '/'))
        snprintf(path, sizeof(path), "%s", name);
    else {
        size_t n = strlen(name);
        int has_so = n > 3 && strcmp(name + n - 3, ".so") == 0;
        snprintf(path, sizeof(path), "%s/%s%s", module_dir, name, has_so ? "" : ".so");
    }
    od_module_rec_t *recs = realloc(core->modules, (core->nmodules + 1) * sizeof(*recs));
    if (!recs) {
        snprintf(err, errsz, "%s: out of memory", where);
        return -1;
    }
    core->modules = recs;
    od_module_rec_t *rec = &recs[core->nmodules];
    memset(rec, 0, sizeof(*rec));
    const od_module_t *m = NULL;
    void *h = NULL;
    for (size_t i = 0; i < nstatic_mods; i++)
        if (strcmp(static_mods[i]->name, name) == 0)
            m = static_mods[i];
    if (!m && !(h = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
        snprintf(err, errsz, "%s: cannot load module %s: %s", where, path, dlerror());
        return -1;
    }
    if (!m && !(m = dlsym(h, OD_MODULE_SYMBOL))) {
        snprintf(err, errsz, "%s: %s has no '%s' symbol (not an Odradek module)", where, path,
                 OD_MODULE_SYMBOL);
        close_handle(h);
        return -1;
    }
    if (m->abi_major != OD_ABI_MAJOR || m->abi_minor > OD_ABI_MINOR) {
        snprintf(err, errsz,
                 "%s: %s was built for module ABI %u.%u, but this broker has ABI %u.%u "
                 "(the major must match and the minor must not be newer); rebuild the module",
                 where, path, m->abi_major, m->abi_minor, OD_ABI_MAJOR, OD_ABI_MINOR);
        close_handle(h);
        return -1;
    }
    if (!m->name || !m->init) {
        snprintf(err, errsz, "%s: %s: od_module has no name or no init function", where, path);
        close_handle(h);
        return -1;
    }
    for (size_t i = 0; i < core->nmodules; i++)
        if (strcmp(core->modules[i].mod->name, m->name) == 0) {
            snprintf(err, errsz, "%s: module %s (%s) is loaded twice", where, m->name, path);
            close_handle(h);
            return -1;
        }
    rec->path = strdup(path);
    rec->handle = h;
    rec->mod = m;
    rec->ctx = calloc(1, sizeof(*rec->ctx));
    if (!rec->path || !rec->ctx) {
        free(rec->path);
        free(rec->ctx);
        close_handle(h);
        snprintf(err, errsz, "%s: out of memory", where);
        return -1;
    }
    rec->ctx->core = core;
    rec->ctx->mod = m;
    rec->ctx->path = rec->path;
    core->nmodules++;
    /* Registrations are accepted only while init runs. */
    size_t st0 = nstorages, cp0 = ncplanes;
    rec->ctx->in_init = 1;
    char why[512] = "";
    int rc = m->init(rec->ctx, why, sizeof(why));
    rec->ctx->in_init = 0;
    char rule[512];
    if (rc == 0 && od_ext_take_error(core, rule, sizeof(rule)) < 0) {
        /* A registration broke a rule (a name taken twice, a bad ops
         * struct): stop even when init ignored the return value. */
        snprintf(why, sizeof(why), "%s", rule);
        rc = -1;
    } else if (rc != 0) {
        od_ext_take_error(core, rule, sizeof(rule)); /* its own reason is the one to show */
    }
    if (rc != 0) {
        nstorages = st0;
        ncplanes = cp0;
        snprintf(err, errsz, "%s: module %s (%s) failed to initialise: %s", where, m->name, path,
                 why[0] ? why : "no reason given");
        /* A module whose init failed is not finalised: it undid its own work. */
        core->nmodules--;
        free(rec->path);
        free(rec->ctx);
        close_handle(h);
        return -1;
    }
    od_logf(OD_LOG_DEBUG, "loaded module %s %s from %s", m->name, m->version ? m->version : "",
            path);
    return 0;
}

int od_modules_load(od_core_t *core, const char *module_dir, char *err, size_t errsz)
{
    const od_config_t *c = &core->config;
    if (c->nmodules == 0) {
        for (size_t i = 0; i < sizeof(default_modules) / sizeof(default_modules[0]); i++) {
            char where[300];
            snprintf(where, sizeof(where), "default module %s (module.dir=%s)", default_modules[i],
                     module_dir);
            if (load_one(core, default_modules[i], module_dir, where, err, errsz) < 0)
                return -1;
        }
        return 0;
    }
    for (size_t i = 0; i < c->nmodules; i++) {
        char where[300];
        if (c->modules[i].line > 0)
            snprintf(where, sizeof(where), "%s:%d", c->modules[i].file, c->modules[i].line);
        else
            snprintf(where, sizeof(where), "--set load_module");
        if (load_one(core, c->modules[i].name, module_dir, where, err, errsz) < 0)
            return -1;
    }
    return 0;
}

int od_modules_start(od_core_t *core, char *err, size_t errsz)
{
    for (size_t i = 0; i < core->nmodules; i++) {
        const od_module_rec_t *rec = &core->modules[i];
        if (rec->mod->abi_minor < 1 || !rec->mod->start)
            continue;
        char why[512] = "";
        if (rec->mod->start(rec->ctx, why, sizeof(why)) != 0) {
            snprintf(err, errsz, "module %s (%s) failed to start: %s", rec->mod->name, rec->path,
                     why[0] ? why : "no reason given");
            return -1;
        }
    }
    return 0;
}

void od_modules_unload(od_core_t *core)
{
    for (size_t i = core->nmodules; i-- > 0;) {
        od_module_rec_t *rec = &core->modules[i];
        if (rec->mod && rec->mod->fini)
            rec->mod->fini(rec->ctx);
    }
    for (size_t i = core->nmodules; i-- > 0;) {
        /* Under sanitizers, keep modules mapped so leak reports can
         * symbolize their frames. */
#if !defined(__SANITIZE_ADDRESS__)
        if (core->modules[i].handle)
            dlclose(core->modules[i].handle);
#endif
        free(core->modules[i].path);
        free(core->modules[i].ctx);
    }
    free(core->modules);
    core->modules = NULL;
    core->nmodules = 0;
    od_modules_reset_registry();
}

static int add_backend(od_backend_reg_t *arr, size_t *n, od_module_ctx_t *ctx, const void *ops,
                       void *self, const char *name)
{
    if (!ctx || !ctx->in_init) {
        od_logf(OD_LOG_ERROR, "module %s registered backend %s outside init; ignored",
                ctx && ctx->mod ? ctx->mod->name : "?", name ? name : "?");
        return -1;
    }
    if (!name || *n >= MAX_BACKENDS)
        return -1;
    for (size_t i = 0; i < *n; i++)
        if (strcmp(((const od_storage_ops_t *)arr[i].ops)->name, name) == 0 && arr == storages)
            return -1;
    arr[*n].ops = ops;
    arr[*n].self = self;
    arr[*n].module = ctx->mod->name;
    (*n)++;
    return 0;
}

int od_register_storage(od_module_ctx_t *ctx, const od_storage_ops_t *ops, void *self)
{
    /* ABI 1.0 backends end at size_bytes; newer ops are checked per call. */
    size_t v10 = offsetof(od_storage_ops_t, size_bytes) + sizeof(ops->size_bytes);
    if (!ops || ops->struct_size < v10 || !ops->open || !ops->append ||
        !ops->read || !ops->end_offset || !ops->start_offset)
        return -1;
    return add_backend(storages, &nstorages, ctx, ops, self, ops->name);
}

int od_register_controlplane(od_module_ctx_t *ctx, const od_controlplane_ops_t *ops, void *self)
{
    /* ABI 1.1 control planes end at cluster_id; owned_dirs is read only
     * when struct_size covers it. */
    size_t v11 = offsetof(od_controlplane_ops_t, cluster_id) + sizeof(ops->cluster_id);
    if (!ops || ops->struct_size < v11 || !ops->start || !ops->propose ||
        !ops->controller_id || !ops->cluster_id)
        return -1;
    return add_backend(cplanes, &ncplanes, ctx, ops, self, ops->name);
}

int od_register_config(od_module_ctx_t *ctx, const od_conf_def_t *defs, size_t n)
{
    if (!ctx || !ctx->in_init)
        return -1;
    char err[256];
    if (od_config_register(&ctx->core->config, defs, n, ctx->mod->name, err, sizeof(err)) < 0) {
        od_logf(OD_LOG_ERROR, "%s", err);
        return -1;
    }
    return 0;
}

void od_mlogf(od_module_ctx_t *ctx, int level, const char *fmt, ...)
{
    char line[1800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    od_logf(level, "%s: %s", ctx && ctx->mod && ctx->mod->name ? ctx->mod->name : "?", line);
}

od_core_t *od_module_core(od_module_ctx_t *ctx) { return ctx ? ctx->core : NULL; }

void od_module_set_data(od_module_ctx_t *ctx, void *data) { ctx->data = data; }
void *od_module_get_data(od_module_ctx_t *ctx) { return ctx->data; }

static const od_backend_reg_t *find(const od_backend_reg_t *arr, size_t n, const char *name,
                                    int cp)
{
    for (size_t i = 0; i < n; i++) {
        const char *bn = cp ? ((const od_controlplane_ops_t *)arr[i].ops)->name
                            : ((const od_storage_ops_t *)arr[i].ops)->name;
        if (strcmp(bn, name) == 0)
            return &arr[i];
    }
    return NULL;
}

const od_backend_reg_t *od_modules_storage(const char *name) { return find(storages, nstorages, name, 0); }
const od_backend_reg_t *od_modules_controlplane(const char *name)
{
    return find(cplanes, ncplanes, name, 1);
}

void od_modules_list(int controlplane, char *out, size_t outsz)
{
    const od_backend_reg_t *arr = controlplane ? cplanes : storages;
    size_t n = controlplane ? ncplanes : nstorages;
    out[0] = 0;
    for (size_t i = 0; i < n; i++) {
        const char *bn = controlplane ? ((const od_controlplane_ops_t *)arr[i].ops)->name
                                      : ((const od_storage_ops_t *)arr[i].ops)->name;
        size_t l = strlen(out);
        snprintf(out + l, outsz - l, "%s%s", l ? ", " : "", bn);
    }
}
