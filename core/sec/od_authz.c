/* od_authz.c - od_authorize: events, super.users, the configured authorizer;
 * the authorizer's life (chosen by authorizer.class.name, started after the
 * metadata replay, fed the image's ACLs). */
#include "od_authz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_acls.h"
#include "od_core.h"
#include "od_ext.h"
#include "od_module.h"
#include "od_proto_gen.h"

/* The authorizer's state: what authorizer.class.name chose, the parsed
 * super.users, whether start() ran. */
typedef struct od_authz {
    const od_authorizer_ops_t *ops; /* NULL: no authorization (allow everything) */
    void *self;
    int started;
    char **super_users;
    size_t nsuper;
} od_authz_t;

static od_conf_def_t authz_defs[] = {
    {"authorizer.class.name", OD_CONF_STRING, "", 0, 0, NULL,
     "the authorizer: a class name a loaded authorizer module answers to (Kafka's "
     "org.apache.kafka.metadata.authorizer.StandardAuthorizer and "
     "kafka.security.authorizer.AclAuthorizer select the acl module); empty: no authorization",
     NULL, 0},
    {"super.users", OD_CONF_STRING, "", 0, 0, NULL,
     "principals allowed everything, separated by ';' (User:admin;User:ops)", NULL, 0},
    {"authorizer.audit.log", OD_CONF_STRING, "log", 0, 0, NULL,
     "where denials and admin changes go as JSON lines: 'log' (the broker log, tagged AUDIT), "
     "'none', or a file path (appended)", NULL, 0},
};

int od_authz_register_config(od_core_t *core, char *err, size_t errsz)
{
    return od_config_register(&core->config, authz_defs, sizeof(authz_defs) / sizeof(authz_defs[0]),
                              "core", err, errsz);
}

static void free_authz(od_authz_t *z)
{
    for (size_t i = 0; i < z->nsuper; i++)
        free(z->super_users[i]);
    free(z->super_users);
    free(z);
}

/* super.users is Kafka's: principals separated by ';', blanks around them
 * ignored; each must be "Type:name". */
static int parse_super_users(od_authz_t *z, const char *text, char *err, size_t errsz)
{
    const char *p = text ? text : "";
    while (*p) {
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *s = p;
        size_t n = len;
        while (n && (*s == ' ' || *s == '\t'))
            s++, n--;
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        if (n) {
            const char *colon = memchr(s, ':', n);
            if (!colon || colon == s || colon == s + n - 1) {
                snprintf(err, errsz, "super.users: '%.*s' is not a principal (Type:name)", (int)n,
                         s);
                return -1;
            }
            char **v = realloc(z->super_users, (z->nsuper + 1) * sizeof(*v));
            if (!v || !(v[z->nsuper] = strndup(s, n))) {
                if (v)
                    z->super_users = v;
                snprintf(err, errsz, "out of memory");
                return -1;
            }
            z->super_users = v;
            z->nsuper++;
        }
        p += len + (end ? 1 : 0);
    }
    return 0;
}

/* Every class name the loaded authorizers answer to, for the error. */
static void authorizer_names(od_core_t *core, char *out, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < od_ext_count(core, OD_EXT_AUTHORIZER); i++) {
        const od_authorizer_ops_t *ops = od_ext_at(core, OD_EXT_AUTHORIZER, i)->ops;
        for (const char *const *c = ops->class_names; c && *c && used + 1 < n; c++) {
            int k = snprintf(out + used, n - used, "%s%s", used ? ", " : "", *c);
            used = k > 0 && (size_t)k < n - used ? used + (size_t)k : n - 1;
        }
    }
}

int od_authz_start(od_core_t *core, char *err, size_t errsz)
{
    od_authz_t *z = calloc(1, sizeof(*z));
    if (!z) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    const char *cls = od_config_get(&core->config, "authorizer.class.name");
    if (parse_super_users(z, od_config_get(&core->config, "super.users"), err, errsz) < 0) {
        free_authz(z);
        return -1;
    }
    if (cls && *cls) {
        const od_ext_reg_t *reg = od_ext_authorizer(core, cls);
        z->ops = reg ? reg->ops : NULL;
        z->self = reg ? reg->self : NULL;
        if (!z->ops) {
            char names[512];
            authorizer_names(core, names, sizeof(names));
            snprintf(err, errsz, "authorizer.class.name=%s: no loaded module is that authorizer "
                     "(known: %s)", cls, *names ? names : "none");
            free_authz(z);
            return -1;
        }
        if (z->ops->start && z->ops->start(z->self, core, err, errsz) != OD_OK) {
            free_authz(z);
            return -1;
        }
        z->started = 1;
    }
    if (od_audit_open(core, err, errsz) < 0) {
        if (z->started && z->ops->stop)
            z->ops->stop(z->self);
        free_authz(z);
        return -1;
    }
    core->authz = z;
    /* ACLs replayed before the authorizer started reach it now, in log
     * order; the later ones as they are applied. */
    od_acls_replay(core);
    if (z->ops)
        od_logf(OD_LOG_INFO, "authorizer %s (%s), %zu super user(s)", z->ops->name, cls,
                z->nsuper);
    return 0;
}

void od_authz_stop(od_core_t *core)
{
    od_authz_t *z = core->authz;
    if (!z)
        return;
    if (z->started && z->ops->stop)
        z->ops->stop(z->self);
    od_audit_close(core);
    free_authz(z);
    core->authz = NULL;
}

int od_authz_enabled(const od_core_t *core)
{
    return core->authz && core->authz->ops;
}

void od_authz_acl_added(od_core_t *core, const uint8_t id[16], const od_acl_t *acl)
{
    od_authz_t *z = core->authz;
    if (z && z->ops && OD_OPS_HAS(z->ops, acl_added))
        z->ops->acl_added(z->self, id, acl);
}

void od_authz_acl_removed(od_core_t *core, const uint8_t id[16])
{
    od_authz_t *z = core->authz;
    if (z && z->ops && OD_OPS_HAS(z->ops, acl_removed))
        z->ops->acl_removed(z->self, id);
}

int od_authz_client(od_req_t *r, od_client_t *out)
{
    const od_client_t *c = od_req_client(r); /* an envelope's client, else the connection's */
    if (!c)
        return 0;
    *out = *c;
    return 1;
}

static int is_super(const od_authz_t *z, const char *principal)
{
    for (size_t i = 0; i < z->nsuper; i++)
        if (strcmp(z->super_users[i], principal) == 0)
            return 1;
    return 0;
}

static int decide(od_req_t *r, const od_client_t *c, const od_action_t *a)
{
    od_authz_t *z = r->core->authz;
    char reason[256] = "";
    od_ev_authorize_t ev = {sizeof(ev), c, a, reason, sizeof(reason)};
    int d = od_event_fire(r->core, OD_EVENT_AUTHORIZE, &ev, NULL);
    if (d == OD_DEFER) {
        if (!z->ops || is_super(z, c->principal))
            d = OD_ALLOW;
        else
            d = z->ops->authorize(z->self, c, a, reason, sizeof(reason)) == OD_ALLOW ? OD_ALLOW
                                                                                   : OD_DENY;
    }
    if ((d == OD_DENY && a->audit_denied) || (d == OD_ALLOW && a->audit_allowed && z->ops))
        od_audit_action(r, c, a, d, reason);
    return d;
}

/* Without the subsystem's state: before it started (unit tests drive the
 * handlers without one) everything is allowed; once the broker served
 * requests, its absence means it stopped, and nothing is. */
static int unstarted(const od_core_t *core)
{
    return core->ready ? OD_DENY : OD_ALLOW;
}

int od_authorize(od_req_t *r, const od_action_t *a)
{
    if (!r->core->authz)
        return unstarted(r->core);
    od_client_t c;
    if (!od_authz_client(r, &c))
        return OD_DENY; /* nobody is asking any more */
    return decide(r, &c, a);
}

void od_authorize_many(od_req_t *r, const od_action_t *a, size_t n, int *out)
{
    od_client_t c;
    int have = r->core->authz && od_authz_client(r, &c);
    for (size_t i = 0; i < n; i++)
        out[i] = !r->core->authz ? unstarted(r->core) : have ? decide(r, &c, &a[i]) : OD_DENY;
}

static int check(od_req_t *r, int op, int type, const char *name, size_t len, int audit)
{
    od_action_t a = {sizeof(a), op, type, name ? name : "", name ? len : 0, r->hdr.api_key, 0,
                     audit};
    return od_authorize(r, &a) == OD_ALLOW;
}

int od_authz_topic(od_req_t *r, int op, const char *name, size_t len)
{
    return check(r, op, OD_RES_TOPIC, name, len, 1);
}

int od_authz_group(od_req_t *r, int op, const char *name, size_t len)
{
    return check(r, op, OD_RES_GROUP, name, len, 1);
}

int od_authz_cluster(od_req_t *r, int op)
{
    return check(r, op, OD_RES_CLUSTER, OD_CLUSTER_RESOURCE, strlen(OD_CLUSTER_RESOURCE), 1);
}

int od_authz_txn(od_req_t *r, int op, const char *name, size_t len)
{
    return check(r, op, OD_RES_TRANSACTIONAL_ID, name, len, 1);
}

int od_authz_quiet(od_req_t *r, int op, int type, const char *name, size_t len)
{
    return check(r, op, type, name, len, 0);
}

int32_t od_authz_ops_bitmask(od_req_t *r, int type, const char *name, size_t len)
{
    /* The operations Kafka lists per resource type (AclEntry.supportedOperations). */
    static const int topic_ops[] = {OD_ACL_OP_READ, OD_ACL_OP_WRITE, OD_ACL_OP_CREATE,
                                    OD_ACL_OP_DELETE, OD_ACL_OP_ALTER, OD_ACL_OP_DESCRIBE,
                                    OD_ACL_OP_DESCRIBE_CONFIGS, OD_ACL_OP_ALTER_CONFIGS};
    static const int cluster_ops[] = {OD_ACL_OP_CREATE, OD_ACL_OP_CLUSTER_ACTION,
                                      OD_ACL_OP_DESCRIBE_CONFIGS, OD_ACL_OP_ALTER_CONFIGS,
                                      OD_ACL_OP_IDEMPOTENT_WRITE, OD_ACL_OP_ALTER,
                                      OD_ACL_OP_DESCRIBE};
    static const int group_ops[] = {OD_ACL_OP_READ, OD_ACL_OP_DESCRIBE, OD_ACL_OP_DELETE};
    const int *ops = type == OD_RES_TOPIC ? topic_ops : type == OD_RES_CLUSTER ? cluster_ops
                                                                               : group_ops;
    size_t n = type == OD_RES_TOPIC     ? sizeof(topic_ops) / sizeof(int)
               : type == OD_RES_CLUSTER ? sizeof(cluster_ops) / sizeof(int)
                                        : sizeof(group_ops) / sizeof(int);
    od_action_t a[8];
    int out[8];
    for (size_t i = 0; i < n; i++)
        a[i] = (od_action_t){sizeof(a[i]), ops[i], type, name, len, r->hdr.api_key, 0, 0};
    od_authorize_many(r, a, n, out);
    int32_t mask = 0;
    for (size_t i = 0; i < n; i++)
        if (out[i] == OD_ALLOW)
            mask |= (int32_t)(1u << ops[i]);
    return mask;
}

int od_authz_idempotent(od_req_t *r)
{
    if (od_authz_quiet(r, OD_ACL_OP_IDEMPOTENT_WRITE, OD_RES_CLUSTER, OD_CLUSTER_RESOURCE,
                       strlen(OD_CLUSTER_RESOURCE)))
        return 1;
    od_image_t *img = &r->core->image;
    for (od_topic_t *t = od_image_next_topic(img, NULL); t; t = od_image_next_topic(img, t))
        if (od_authz_quiet(r, OD_ACL_OP_WRITE, OD_RES_TOPIC, t->name, strlen(t->name)))
            return 1;
    /* The denial an operator sees: the cluster permission asked for. */
    return od_authz_cluster(r, OD_ACL_OP_IDEMPOTENT_WRITE);
}

int16_t od_authz_config(od_req_t *r, int op, int8_t config_type, od_str_t name)
{
    if (config_type == 2)
        return od_authz_topic(r, op, name.p, OD_STR_LEN(name)) ? OD_ERR_NONE
                                                               : OD_ERR_TOPIC_AUTHORIZATION_FAILED;
    if (config_type == 4 || config_type == 8)
        return od_authz_cluster(r, op) ? OD_ERR_NONE : OD_ERR_CLUSTER_AUTHORIZATION_FAILED;
    return OD_ERR_NONE;
}

int od_authz_config_res(int8_t config_type)
{
    return config_type == 2 ? OD_RES_TOPIC : config_type == 4 || config_type == 8 ? OD_RES_CLUSTER
                                                                                  : 0;
}

int32_t od_authz_cluster_ops(od_req_t *r)
{
    size_t n = strlen(OD_CLUSTER_RESOURCE);
    return od_authz_quiet(r, OD_ACL_OP_DESCRIBE, OD_RES_CLUSTER, OD_CLUSTER_RESOURCE, n)
               ? od_authz_ops_bitmask(r, OD_RES_CLUSTER, OD_CLUSTER_RESOURCE, n)
               : 0;
}

const char *od_acl_op_name(int op)
{
    static const char *const names[] = {"UNKNOWN", "ANY", "ALL", "READ", "WRITE", "CREATE",
                                        "DELETE", "ALTER", "DESCRIBE", "CLUSTER_ACTION",
                                        "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE"};
    return op >= 0 && op <= 12 ? names[op] : "UNKNOWN";
}

const char *od_acl_res_name(int type)
{
    static const char *const names[] = {"UNKNOWN", "ANY", "TOPIC", "GROUP", "CLUSTER",
                                        "TRANSACTIONAL_ID", "DELEGATION_TOKEN", "USER"};
    return type >= 0 && type <= 7 ? names[type] : "UNKNOWN";
}

const char *od_acl_pattern_name(int pattern)
{
    static const char *const names[] = {"UNKNOWN", "ANY", "MATCH", "LITERAL", "PREFIXED"};
    return pattern >= 0 && pattern <= 4 ? names[pattern] : "UNKNOWN";
}

const char *od_acl_perm_name(int perm)
{
    static const char *const names[] = {"UNKNOWN", "ANY", "DENY", "ALLOW"};
    return perm >= 0 && perm <= 3 ? names[perm] : "UNKNOWN";
}
