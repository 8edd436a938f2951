/* acl_module.c - the "acl" authorizer: Kafka's ACL model over the bindings
 * the metadata log commits (CreateAcls/DeleteAcls), selected by Kafka's
 * authorizer.class.name values so a Kafka server.properties works. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <odradek-module.h>

#include "acl_index.h"

typedef struct acl_authorizer {
    acl_index_t *index;
    int allow_if_none; /* allow.everyone.if.no.acl.found */
    od_module_ctx_t *ctx;
} acl_authorizer_t;

static acl_authorizer_t the_acl;

static const od_conf_def_t acl_conf[] = {
    {"allow.everyone.if.no.acl.found", OD_CONF_BOOL, "false", 0, 0, NULL,
     "acl authorizer: allow an action on a resource no ACL names (Kafka's key)", NULL, 0},
};

static int acl_start(void *self, od_core_t *core, char *err, size_t errsz)
{
    acl_authorizer_t *a = self;
    const char *v = od_core_config_get(core, "allow.everyone.if.no.acl.found");
    a->allow_if_none = v && strcasecmp(v, "true") == 0;
    if (!a->index && !(a->index = acl_index_new())) {
        snprintf(err, errsz, "acl: out of memory");
        return OD_ERR_NOMEM;
    }
    od_mlogf(a->ctx, OD_LOG_INFO, "ACL authorizer, allow.everyone.if.no.acl.found=%s",
             a->allow_if_none ? "true" : "false");
    return OD_OK;
}

static void acl_stop(void *self)
{
    acl_authorizer_t *a = self;
    acl_index_free(a->index);
    a->index = NULL;
}

static int acl_authorize(void *self, const od_client_t *c, const od_action_t *act, char *reason,
                         size_t reason_size)
{
    acl_authorizer_t *a = self;
    if (!a->index) {
        snprintf(reason, reason_size, "the ACL authorizer is not started");
        return OD_DENY;
    }
    return acl_index_authorize(a->index, c->principal, c->host, act->operation,
                               act->resource_type, act->resource_name, act->resource_name_len,
                               a->allow_if_none, reason, reason_size);
}

static void acl_added(void *self, const uint8_t id[16], const od_acl_t *acl)
{
    acl_authorizer_t *a = self;
    int rc = a->index ? acl_index_add(a->index, id, acl) : OD_ERR_INVALID;
    if (rc != OD_OK)
        od_mlogf(a->ctx, OD_LOG_WARN, "ACL binding for %s not indexed (%s)",
                 acl->principal ? acl->principal : "?",
                 rc == OD_ERR_NOMEM ? "out of memory" : "invalid or twice");
}

static void acl_removed(void *self, const uint8_t id[16])
{
    acl_authorizer_t *a = self;
    if (a->index)
        acl_index_remove(a->index, id);
}

static const char *const acl_classes[] = {
    "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    "kafka.security.authorizer.AclAuthorizer",
    "kafka.security.auth.SimpleAclAuthorizer",
    "acl",
    NULL,
};

static const od_authorizer_ops_t acl_ops = {
    .struct_size = sizeof(od_authorizer_ops_t),
    .name = "acl",
    .class_names = acl_classes,
    .start = acl_start,
    .stop = acl_stop,
    .authorize = acl_authorize,
    .acl_added = acl_added,
    .acl_removed = acl_removed,
};

static int acl_init(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    the_acl.ctx = ctx;
    if (od_register_config(ctx, acl_conf, sizeof(acl_conf) / sizeof(acl_conf[0])) != 0 ||
        od_register_authorizer(ctx, &acl_ops, &the_acl) != OD_OK) {
        snprintf(err, errsz, "acl: cannot register the authorizer");
        return -1;
    }
    return 0;
}

static void acl_fini(od_module_ctx_t *ctx)
{
    (void)ctx;
    acl_stop(&the_acl);
}

od_module_t od_module = {
    .abi_major = OD_ABI_MAJOR,
    .abi_minor = OD_ABI_MINOR,
    .name = "acl",
    .version = "1.0",
    .kinds = OD_KIND_AUTHZ,
    .init = acl_init,
    .fini = acl_fini,
};
