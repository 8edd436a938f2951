/* od_ext.c - the extension state of a core and the registries of the
 * module kinds (ABI 1.3): SASL mechanisms, credential backends,
 * authorizers, partitioners and serializers, several of each, found by
 * name. A name registered twice stops the start naming both modules. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_ext_int.h"
#include "od_module.h"

static const char *const kind_names[OD_EXT_NKINDS] = {
    "SASL mechanism", "credential backend", "authorizer", "partitioner", "serializer"};

od_ext_t *od_ext_new(od_core_t *core)
{
    od_ext_t *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->core = core;
    x->efd = -1;
    if (od_ext_post_init(x) < 0) {
        free(x);
        return NULL;
    }
    return x;
}

void od_ext_free(od_ext_t *x)
{
    if (!x)
        return;
    od_ext_post_fini(x);
    for (int k = 0; k < OD_EXT_NKINDS; k++)
        free(x->regs[k]);
    for (int e = 0; e <= OD_EXT_MAX_EVENT; e++)
        free(x->listeners[e]);
    free(x);
}

void od_ext_fail(od_ext_t *x, const char *fmt, ...)
{
    if (x->pending_err[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->pending_err, sizeof(x->pending_err), fmt, ap);
    va_end(ap);
}

int od_ext_take_error(od_core_t *core, char *err, size_t errsz)
{
    od_ext_t *x = core->ext;
    if (!x || !x->pending_err[0])
        return 0;
    snprintf(err, errsz, "%s", x->pending_err);
    x->pending_err[0] = 0;
    return -1;
}

const od_client_t *od_ext_nobody(void)
{
    static const od_client_t nobody = {
        .struct_size = sizeof(od_client_t),
        .listener = "",
        .security_protocol = OD_SECPROTO_PLAINTEXT,
        .peer = "",
        .host = "",
        .principal = "User:ANONYMOUS",
    };
    return &nobody;
}

/* ---- the TICK event ---- */

static void on_tick(void *arg)
{
    od_core_t *core = arg;
    od_ext_t *x = core->ext;
    x->tick_timer = 0;
    if (core->stopping)
        return;
    od_ev_tick_t ev = {sizeof(ev), od_now_ms()};
    od_event_fire(core, OD_EVENT_TICK, &ev, NULL);
    x->tick_timer = od_loop_timer(core->loop, 100, on_tick, core);
}

int od_ext_start(od_core_t *core, char *err, size_t errsz)
{
    od_ext_t *x = core->ext;
    if (!od_event_wanted(core, OD_EVENT_TICK))
        return 0;
    x->tick_timer = od_loop_timer(core->loop, 100, on_tick, core);
    if (x->tick_timer < 0) {
        x->tick_timer = 0;
        snprintf(err, errsz, "cannot arm the 100 ms timer of the TICK event");
        return -1;
    }
    return 0;
}

void od_ext_stop(od_core_t *core)
{
    od_ext_t *x = core->ext;
    if (!x)
        return;
    pthread_mutex_lock(&x->mu);
    x->post_stopping = 1;
    pthread_mutex_unlock(&x->mu);
    od_ext_post_drain(x);
    if (x->tick_timer > 0)
        od_loop_cancel(core->loop, x->tick_timer);
    x->tick_timer = 0;
}

/* ---- registries ---- */

static int add_reg(od_module_ctx_t *ctx, od_ext_kind_t kind, const void *ops, void *self,
                   const char *name)
{
    if (!ctx || !ctx->core || !ctx->core->ext)
        return OD_ERR_INVALID;
    od_ext_t *x = ctx->core->ext;
    const char *mod = ctx->mod && ctx->mod->name ? ctx->mod->name : "?";
    if (!ctx->in_init) {
        od_logf(OD_LOG_ERROR, "module %s registered %s %s outside init; ignored", mod,
                kind_names[kind], name ? name : "?");
        return OD_ERR_INVALID;
    }
    if (!name || !*name) {
        od_ext_fail(x, "module %s registered a %s without a name", mod, kind_names[kind]);
        return OD_ERR_INVALID;
    }
    for (size_t i = 0; i < x->nregs[kind]; i++)
        if (strcmp(x->regs[kind][i].name, name) == 0) {
            od_ext_fail(x, "%s %s is registered by both module %s and module %s",
                        kind_names[kind], name, x->regs[kind][i].module, mod);
            return OD_ERR_INVALID;
        }
    od_ext_reg_t *r = realloc(x->regs[kind], (x->nregs[kind] + 1) * sizeof(*r));
    if (!r)
        return OD_ERR_NOMEM;
    x->regs[kind] = r;
    r[x->nregs[kind]++] = (od_ext_reg_t){ops, self, name, mod};
    return OD_OK;
}

/* An ops struct must be at least as long as the first layout of its kind
 * (1.3) and fill the ops a caller needs. */
#define OPS_COVERS(ops, field) ((ops)->struct_size >= offsetof(__typeof__(*(ops)), field) + \
                                                          sizeof((ops)->field))

static int bad_ops(od_module_ctx_t *ctx, const char *kind, const char *name)
{
    if (ctx && ctx->core && ctx->core->ext && ctx->in_init)
        od_ext_fail(ctx->core->ext, "module %s registered %s %s with a short ops struct or "
                    "without its required ops", ctx->mod ? ctx->mod->name : "?", kind,
                    name ? name : "(no name)");
    return OD_ERR_INVALID;
}

int od_register_sasl_mechanism(od_module_ctx_t *ctx, const od_sasl_mech_ops_t *ops, void *self)
{
    if (!ops || !OPS_COVERS(ops, end) || !ops->begin || !ops->step)
        return bad_ops(ctx, "SASL mechanism", ops ? ops->name : NULL);
    return add_reg(ctx, OD_EXT_SASL_MECH, ops, self, ops->name);
}

int od_register_credentials(od_module_ctx_t *ctx, const od_credential_ops_t *ops, void *self)
{
    if (!ops || !OPS_COVERS(ops, scram_lookup) || (!ops->verify_password && !ops->scram_lookup))
        return bad_ops(ctx, "credential backend", ops ? ops->name : NULL);
    return add_reg(ctx, OD_EXT_CREDENTIALS, ops, self, ops->name);
}

int od_register_authorizer(od_module_ctx_t *ctx, const od_authorizer_ops_t *ops, void *self)
{
    if (!ops || !OPS_COVERS(ops, acl_removed) || !ops->authorize)
        return bad_ops(ctx, "authorizer", ops ? ops->name : NULL);
    int rc = add_reg(ctx, OD_EXT_AUTHORIZER, ops, self, ops->name);
    if (rc != OD_OK || !ops->class_names)
        return rc;
    /* A class name selects one authorizer only. */
    od_ext_t *x = ctx->core->ext;
    for (const char *const *c = ops->class_names; *c; c++) {
        const od_ext_reg_t *o = od_ext_authorizer(ctx->core, *c);
        if (o && o->ops != ops) {
            od_ext_fail(x, "authorizer class name %s is claimed by both module %s and module %s",
                        *c, o->module, ctx->mod->name);
            return OD_ERR_INVALID;
        }
    }
    return OD_OK;
}

int od_register_partitioner(od_module_ctx_t *ctx, const od_partitioner_ops_t *ops, void *self)
{
    if (!ops || !OPS_COVERS(ops, partition) || !ops->partition)
        return bad_ops(ctx, "partitioner", ops ? ops->name : NULL);
    return add_reg(ctx, OD_EXT_PARTITIONER, ops, self, ops->name);
}

int od_register_serializer(od_module_ctx_t *ctx, const od_serializer_ops_t *ops, void *self)
{
    if (!ops || !OPS_COVERS(ops, validate) || !ops->validate)
        return bad_ops(ctx, "serializer", ops ? ops->name : NULL);
    return add_reg(ctx, OD_EXT_SERIALIZER, ops, self, ops->name);
}

const od_ext_reg_t *od_ext_find(od_core_t *core, od_ext_kind_t kind, const char *name)
{
    od_ext_t *x = core ? core->ext : NULL;
    if (!x || (unsigned)kind >= OD_EXT_NKINDS || !name)
        return NULL;
    for (size_t i = 0; i < x->nregs[kind]; i++)
        if (strcmp(x->regs[kind][i].name, name) == 0)
            return &x->regs[kind][i];
    return NULL;
}

const od_ext_reg_t *od_ext_at(od_core_t *core, od_ext_kind_t kind, size_t i)
{
    od_ext_t *x = core ? core->ext : NULL;
    if (!x || (unsigned)kind >= OD_EXT_NKINDS || i >= x->nregs[kind])
        return NULL;
    return &x->regs[kind][i];
}

size_t od_ext_count(od_core_t *core, od_ext_kind_t kind)
{
    od_ext_t *x = core ? core->ext : NULL;
    return x && (unsigned)kind < OD_EXT_NKINDS ? x->nregs[kind] : 0;
}

const od_ext_reg_t *od_ext_authorizer(od_core_t *core, const char *name_or_class)
{
    const od_ext_reg_t *r = od_ext_find(core, OD_EXT_AUTHORIZER, name_or_class);
    if (r || !name_or_class)
        return r;
    for (size_t i = 0; i < od_ext_count(core, OD_EXT_AUTHORIZER); i++) {
        r = od_ext_at(core, OD_EXT_AUTHORIZER, i);
        const od_authorizer_ops_t *ops = r->ops;
        for (const char *const *c = ops->class_names; c && *c; c++)
            if (strcmp(*c, name_or_class) == 0)
                return r;
    }
    return NULL;
}
