/* odr_modhost.c - the core services odr offers a partitioner module.
 *
 * odr is no broker: it has no loop, configuration, image or registries.
 * A partitioner needs none of them - od_register_partitioner at init, then
 * pure calls of its partition op - so odr hosts exactly that: the
 * registration, logging, the module's data pointer, the clocks, and
 * od_module_core (NULL: there is no core to hand to the services that take
 * one, and odr does not have those services). Every other registration a
 * module may call at init is refused with OD_ERR and a message naming it;
 * services odr does not define at all make dlopen fail (RTLD_NOW), with
 * dlerror() naming the symbol, instead of a crash when first called.
 * These functions are exported to modules by cli/odr.dynlist. */
#include "odr_modhost.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MODHOST_MAX_PARTITIONERS 64

/* The one module odr loads (opaque to the module, as the core's is). */
struct od_module_ctx {
    const od_module_t *mod;
    void *handle;
    int in_init;
    void *data;
    char rule[300]; /* a registration rule broken during init ("" if none) */
};

typedef struct modhost_part {
    const od_partitioner_ops_t *ops;
    void *self;
} modhost_part_t;

static struct od_module_ctx modhost_ctx;
static modhost_part_t modhost_parts[MODHOST_MAX_PARTITIONERS];
static size_t modhost_nparts;
static int modhost_level = OD_LOG_WARN;

static const char *const modhost_level_names[] = {"error", "warning", "info", "debug"};

void odr_modhost_log_level(int level) { modhost_level = level; }

static void modhost_vlog(const char *who, int level, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void modhost_vlog(const char *who, int level, const char *fmt, va_list ap)
{
    if (level > modhost_level)
        return;
    if (level < OD_LOG_ERROR)
        level = OD_LOG_ERROR;
    if (level > OD_LOG_DEBUG)
        level = OD_LOG_DEBUG;
    char line[2048];
    vsnprintf(line, sizeof line, fmt, ap);
    /* One write per line, so lines of the producer's threads do not mix in. */
    fprintf(stderr, "odr: %s%s%s: %s\n", who ? who : "", who ? ": " : "",
            modhost_level_names[level], line);
}

static const char *modhost_name(const od_module_ctx_t *ctx)
{
    return ctx && ctx->mod && ctx->mod->name ? ctx->mod->name : "module";
}

/* ---- logging, data, clocks ---- */

void od_logf(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    modhost_vlog(NULL, level, fmt, ap);
    va_end(ap);
}

void od_mlogf(od_module_ctx_t *ctx, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    modhost_vlog(modhost_name(ctx), level, fmt, ap);
    va_end(ap);
}

od_core_t *od_module_core(od_module_ctx_t *ctx)
{
    (void)ctx;
    return NULL;
}

void od_module_set_data(od_module_ctx_t *ctx, void *data) { ctx->data = data; }
void *od_module_get_data(od_module_ctx_t *ctx) { return ctx->data; }

static int64_t modhost_clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t od_now_ms(void) { return modhost_clock_ms(CLOCK_REALTIME); }
int64_t od_mono_ms(void) { return modhost_clock_ms(CLOCK_MONOTONIC); }

/* Undeclared names get -1, as the ABI says (od_register_metrics is refused). */
int od_metrics_add(const char *name, int64_t delta)
{
    (void)name, (void)delta;
    return -1;
}

/* ---- registrations ---- */

static void modhost_rule(od_module_ctx_t *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void modhost_rule(od_module_ctx_t *ctx, const char *fmt, ...)
{
    if (ctx->rule[0])
        return; /* the first broken rule is the one to show */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->rule, sizeof ctx->rule, fmt, ap);
    va_end(ap);
}

int od_register_partitioner(od_module_ctx_t *ctx, const od_partitioner_ops_t *ops, void *self)
{
    if (!ctx || !ctx->in_init) {
        od_logf(OD_LOG_ERROR, "%s registered a partitioner outside init; ignored",
                modhost_name(ctx));
        return OD_ERR_INVALID;
    }
    size_t need = offsetof(od_partitioner_ops_t, partition) + sizeof ops->partition;
    if (!ops || ops->struct_size < need || !ops->partition) {
        modhost_rule(ctx, "registered partitioner %s with a short ops struct or without its "
                     "partition op", ops && ops->name ? ops->name : "(no name)");
        return OD_ERR_INVALID;
    }
    if (!ops->name || !*ops->name) {
        modhost_rule(ctx, "registered a partitioner without a name");
        return OD_ERR_INVALID;
    }
    for (size_t i = 0; i < modhost_nparts; i++)
        if (strcmp(modhost_parts[i].ops->name, ops->name) == 0) {
            modhost_rule(ctx, "registered partitioner %s twice", ops->name);
            return OD_ERR_INVALID;
        }
    if (modhost_nparts == MODHOST_MAX_PARTITIONERS) {
        modhost_rule(ctx, "registered more than %d partitioners", MODHOST_MAX_PARTITIONERS);
        return OD_ERR_LIMIT;
    }
    modhost_parts[modhost_nparts++] = (modhost_part_t){ops, self};
    return OD_OK;
}

/* What a broker offers and odr does not: refused, with a line saying so. */
static int modhost_refuse(od_module_ctx_t *ctx, const char *what)
{
    od_mlogf(ctx, OD_LOG_WARN, "%s: odr hosts partitioners only; this registration is refused",
             what);
    return OD_ERR;
}

int od_register_config(od_module_ctx_t *ctx, const od_conf_def_t *defs, size_t n)
{
    (void)defs, (void)n;
    return modhost_refuse(ctx, "od_register_config (configuration keys)");
}

/* The registrations of the other kinds: (ctx, ops, self), refused. */
#define MODHOST_REFUSED_KIND(fn, ops_type, what)                              \
    int fn(od_module_ctx_t *ctx, const ops_type *ops, void *self)         \
    {                                                                     \
        (void)ops, (void)self;                                            \
        return modhost_refuse(ctx, #fn " (" what ")");                    \
    }
MODHOST_REFUSED_KIND(od_register_storage, od_storage_ops_t, "a storage backend")
MODHOST_REFUSED_KIND(od_register_controlplane, od_controlplane_ops_t, "a control plane")
MODHOST_REFUSED_KIND(od_register_sasl_mechanism, od_sasl_mech_ops_t, "a SASL mechanism")
MODHOST_REFUSED_KIND(od_register_credentials, od_credential_ops_t, "a credential backend")
MODHOST_REFUSED_KIND(od_register_authorizer, od_authorizer_ops_t, "an authorizer")
MODHOST_REFUSED_KIND(od_register_serializer, od_serializer_ops_t, "a serializer")

int od_register_metrics(od_module_ctx_t *ctx, const od_metric_def_t *defs, size_t n)
{
    (void)defs, (void)n;
    return modhost_refuse(ctx, "od_register_metrics (metrics)");
}

int od_register_event(od_module_ctx_t *ctx, int event, od_event_cb cb, void *arg)
{
    (void)event, (void)cb, (void)arg;
    return modhost_refuse(ctx, "od_register_event (an event callback)");
}

/* ---- loading ---- */

static void modhost_kinds(uint32_t kinds, char *out, size_t outsz)
{
    static const struct {
        uint32_t bit;
        const char *name;
    } names[] = {
        {OD_KIND_STORAGE, "storage"},       {OD_KIND_CONTROLPLANE, "control plane"},
        {OD_KIND_SERIALIZER, "serializer"}, {OD_KIND_PARTITIONER, "partitioner"},
        {OD_KIND_AUTHN, "authentication"},  {OD_KIND_AUTHZ, "authorizer"},
        {OD_KIND_OTHER, "other"},
    };
    size_t len = 0;
    out[0] = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && len < outsz; i++)
        if (kinds & names[i].bit) {
            int w = snprintf(out + len, outsz - len, "%s%s", len ? ", " : "", names[i].name);
            len += w > 0 ? (size_t)w : 0;
        }
    if (!out[0])
        snprintf(out, outsz, "none");
}

static void modhost_close(void)
{
    if (modhost_ctx.handle)
        dlclose(modhost_ctx.handle);
    memset(&modhost_ctx, 0, sizeof modhost_ctx);
    modhost_nparts = 0;
}

int odr_modhost_load(const char *path, char *err, size_t errsz)
{
    od_module_ctx_t *ctx = &modhost_ctx;
    if (ctx->mod) {
        snprintf(err, errsz, "%s: odr loads one partitioner module", path);
        return -1;
    }
    /* A relative name without a slash would be looked up in the library
     * path, not here: say ./ for it. */
    char local[4096];
    if (!strchr(path, '/') && snprintf(local, sizeof local, "./%s", path) < (int)sizeof local)
        path = local;
    if (!(ctx->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
        snprintf(err, errsz, "cannot load module %s: %s", path, dlerror());
        return -1;
    }
    const od_module_t *m = dlsym(ctx->handle, OD_MODULE_SYMBOL);
    if (!m) {
        snprintf(err, errsz, "%s has no '%s' symbol (not an Odradek module)", path,
                 OD_MODULE_SYMBOL);
        modhost_close();
        return -1;
    }
    /* The core's rule (core/od_module.c): same major, minor not newer. */
    if (m->abi_major != OD_ABI_MAJOR || m->abi_minor > OD_ABI_MINOR) {
        snprintf(err, errsz, "%s was built for module ABI %u.%u, but this odr has ABI %u.%u "
                 "(the major must match and the minor must not be newer); rebuild the module",
                 path, m->abi_major, m->abi_minor, OD_ABI_MAJOR, OD_ABI_MINOR);
        modhost_close();
        return -1;
    }
    if (!m->name || !m->init) {
        snprintf(err, errsz, "%s: od_module has no name or no init function", path);
        modhost_close();
        return -1;
    }
    if (!(m->kinds & OD_KIND_PARTITIONER)) {
        char kinds[128];
        modhost_kinds(m->kinds, kinds, sizeof kinds);
        snprintf(err, errsz, "module %s (%s) is not a partitioner module (its kinds: %s); odr "
                 "loads partitioner modules only", m->name, path, kinds);
        modhost_close();
        return -1;
    }
    ctx->mod = m;
    char why[512] = "";
    ctx->in_init = 1;
    int rc = m->init(ctx, why, sizeof why);
    ctx->in_init = 0;
    if (rc != 0 || ctx->rule[0]) {
        snprintf(err, errsz, "module %s (%s) failed to initialise: %s", m->name, path,
                 rc != 0 && why[0] ? why : ctx->rule[0] ? ctx->rule : "no reason given");
        /* A module whose init failed is not finalised: it undid its own work. */
        modhost_close();
        return -1;
    }
    if (modhost_nparts == 0) {
        snprintf(err, errsz, "module %s (%s) registered no partitioner", m->name, path);
        odr_modhost_unload();
        return -1;
    }
    return 0;
}

const od_partitioner_ops_t *odr_modhost_partitioner(const char *name, void **self)
{
    for (size_t i = 0; i < modhost_nparts; i++)
        if (strcmp(modhost_parts[i].ops->name, name) == 0) {
            *self = modhost_parts[i].self;
            return modhost_parts[i].ops;
        }
    return NULL;
}

void odr_modhost_names(char *out, size_t outsz)
{
    size_t len = 0;
    out[0] = 0;
    for (size_t i = 0; i < modhost_nparts && len < outsz; i++) {
        int w = snprintf(out + len, outsz - len, "%s%s", i ? ", " : "",
                         modhost_parts[i].ops->name);
        len += w > 0 ? (size_t)w : 0;
    }
}

void odr_modhost_unload(void)
{
    if (modhost_ctx.mod && modhost_ctx.mod->fini)
        modhost_ctx.mod->fini(&modhost_ctx);
    modhost_close();
}
