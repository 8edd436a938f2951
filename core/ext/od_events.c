/* od_events.c - events (ABI 1.3): modules register callbacks during init;
 * the core fires an event through them in module load order, and the first
 * callback that decides (OD_ALLOW or OD_DENY) ends it. Also the admin check
 * handlers call once per resource. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_conn.h"
#include "od_core.h"
#include "od_ext_int.h"
#include "od_module.h"

int od_register_event(od_module_ctx_t *ctx, int event, od_event_cb cb, void *arg)
{
    if (!ctx || !ctx->core || !ctx->core->ext)
        return OD_ERR_INVALID;
    od_ext_t *x = ctx->core->ext;
    const char *mod = ctx->mod && ctx->mod->name ? ctx->mod->name : "?";
    if (!ctx->in_init) {
        od_logf(OD_LOG_ERROR, "module %s registered event %d outside init; ignored", mod, event);
        return OD_ERR_INVALID;
    }
    if (event < 1 || event > OD_EXT_MAX_EVENT || !cb) {
        /* A module built for a newer minor cannot load here, so an unknown
         * number is a bug in the module: stop the start. */
        od_ext_fail(x, "module %s registered for unknown event %d (this core knows 1-%d)", mod,
                    event, OD_EXT_MAX_EVENT);
        return OD_ERR_INVALID;
    }
    od_ext_listener_t *l = realloc(x->listeners[event], (x->nlisteners[event] + 1) * sizeof(*l));
    if (!l)
        return OD_ERR_NOMEM;
    x->listeners[event] = l;
    l[x->nlisteners[event]++] = (od_ext_listener_t){cb, arg, mod};
    return OD_OK;
}

int od_event_wanted(od_core_t *core, int event)
{
    od_ext_t *x = core ? core->ext : NULL;
    return x && event >= 1 && event <= OD_EXT_MAX_EVENT && x->nlisteners[event] > 0;
}

int od_event_fire(od_core_t *core, int event, const void *ev, const char **decider)
{
    if (decider)
        *decider = NULL;
    if (!od_event_wanted(core, event))
        return OD_DEFER;
    od_ext_t *x = core->ext;
    /* The array does not change after init, so callbacks cannot invalidate it. */
    for (size_t i = 0; i < x->nlisteners[event]; i++) {
        const od_ext_listener_t *l = &x->listeners[event][i];
        int d = l->cb(l->arg, event, ev);
        if (d == OD_ALLOW || d == OD_DENY) {
            if (decider)
                *decider = l->module;
            return d;
        }
        if (d != OD_DEFER)
            od_logf(OD_LOG_WARN, "module %s answered event %d with %d (not OD_DEFER, OD_ALLOW "
                    "or OD_DENY); taken as OD_DEFER", l->module, event, d);
    }
    return OD_DEFER;
}

void od_ext_set_admin_policy(od_core_t *core, od_ext_admin_policy_fn fn, void *arg)
{
    core->ext->admin_policy = fn;
    core->ext->admin_policy_arg = arg;
}

static const char *admin_op_name(int op)
{
    static const char *const names[] = {"?", "create_topics", "create_partitions",
                                        "delete_topics", "alter_configs", "delete_records",
                                        "create_acls", "delete_acls", "delete_groups"};
    return op >= 1 && op <= OD_ADMIN_DELETE_GROUPS ? names[op] : names[0];
}

int od_admin_refuse(od_req_t *r, od_ev_admin_t *ev, int16_t *error_code, od_str_t *error_message)
{
    char reason[512];
    ev->reason = reason;
    ev->reason_size = sizeof(reason);
    int d = od_admin_check(r, ev);
    ev->reason = NULL;
    ev->reason_size = 0;
    if (d != OD_DENY)
        return 0;
    *error_code = OD_ERR_POLICY_VIOLATION;
    if (error_message) {
        char *m = od_arena_strndup(&r->arena, reason, strlen(reason));
        *error_message = m ? od_str_c(m) : (od_str_t){NULL, -1};
    }
    return 1;
}

int od_admin_check(od_req_t *r, od_ev_admin_t *ev)
{
    static char fallback[256]; /* loop thread only: a caller that brought no buffer */
    od_core_t *core = r->core;
    ev->struct_size = sizeof(*ev);
    ev->client = od_req_client(r) ? od_req_client(r) : od_ext_nobody();
    if (!ev->reason || ev->reason_size == 0) {
        ev->reason = fallback;
        ev->reason_size = sizeof(fallback);
    }
    ev->reason[0] = 0;
    const char *who = NULL;
    int d = od_event_fire(core, OD_EVENT_ADMIN, ev, &who);
    char by[96];
    if (d == OD_DEFER && core->ext->admin_policy) {
        d = core->ext->admin_policy(core->ext->admin_policy_arg, ev, ev->reason, ev->reason_size);
        snprintf(by, sizeof(by), "a Lua policy");
    } else {
        snprintf(by, sizeof(by), "module %s", who ? who : "?");
    }
    if (d != OD_DENY)
        return OD_ALLOW;
    ev->reason[ev->reason_size - 1] = 0;
    if (!ev->reason[0])
        snprintf(ev->reason, ev->reason_size, "%s of %s denied by %s", admin_op_name(ev->op),
                 ev->resource ? ev->resource : "", by);
    od_logf(OD_LOG_INFO, "client %s (%s): %s of '%s' denied by %s: %s", ev->client->peer,
            ev->client->principal, admin_op_name(ev->op), ev->resource ? ev->resource : "", by,
            ev->reason);
    return OD_DENY;
}
