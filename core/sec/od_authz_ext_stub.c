/* od_authz_ext_stub.c - TEMPORARY stand-ins for h-ext's registry, events
 * and od_client_t (see od_authz_ext_stub.h); deleted at the merge. */
#include "od_authz_ext_stub.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "od_module.h"
#include "od_net.h"

#define MAX_AUTHORIZERS 8

static struct {
    const od_authorizer_ops_t *ops;
    void *self;
} authorizers[MAX_AUTHORIZERS];
static size_t nauthorizers;

int od_register_authorizer(od_module_ctx_t *ctx, const od_authorizer_ops_t *ops, void *self)
{
    if (!ctx || !ctx->in_init || !ops || !ops->name || !ops->authorize || !ops->class_names ||
        nauthorizers >= MAX_AUTHORIZERS)
        return OD_ERR_INVALID;
    authorizers[nauthorizers].ops = ops;
    authorizers[nauthorizers].self = self;
    nauthorizers++;
    return OD_OK;
}

int od_event_fire(struct od_core *core, int event, void *ev)
{
    (void)core;
    (void)event;
    (void)ev;
    return OD_DEFER;
}

const od_authorizer_ops_t *od_ext_authorizer(const char *cls, void **self)
{
    for (size_t i = 0; i < nauthorizers; i++)
        for (const char *const *n = authorizers[i].ops->class_names; *n; n++)
            if (strcmp(*n, cls) == 0) {
                *self = authorizers[i].self;
                return authorizers[i].ops;
            }
    return NULL;
}

void od_ext_authorizer_names(char *out, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < nauthorizers; i++)
        for (const char *const *c = authorizers[i].ops->class_names; *c && used < n; c++)
            used += (size_t)snprintf(out + used, n - used, "%s%s", used ? ", " : "", *c);
}

void od_ext_client(od_conn_t *c, const od_request_header_t *h, od_client_t *out)
{
    memset(out, 0, sizeof(*out));
    out->struct_size = sizeof(*out);
    out->conn_id = c->id;
    out->listener = c->listener ? c->listener->spec.name : "PLAINTEXT";
    out->security_protocol = c->listener ? c->listener->spec.security_protocol : 0;
    out->peer = c->peer;
    out->host = c->host;
    out->principal = "User:ANONYMOUS";
    out->client_id = h && h->client_id.len > 0 ? h->client_id.p : NULL;
}

int od_admin_check(od_req_t *r, od_ev_admin_t *ev)
{
    (void)r;
    (void)ev;
    return OD_ALLOW;
}

void od_mlogf(od_module_ctx_t *ctx, int level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    od_logf(level, "%s: %s", ctx && ctx->mod ? ctx->mod->name : "module", msg);
}
