/* od_acl_filter.c - validity of ACL bindings and filters, filter matching
 * (Kafka's ResourcePatternFilter and AccessControlEntryFilter). */
#include "od_acl.h"

#include <stdio.h>
#include <string.h>

static int known(int code, int lo, int hi) { return code >= lo && code <= hi; }

/* KafkaPrincipal.fromString: "Type:name" with a non-empty type. */
static int principal_ok(const char *p)
{
    const char *colon = p ? strchr(p, ':') : NULL;
    return colon && colon != p;
}

int od_acl_check_binding(const od_acl_t *b, char *err, size_t errsz)
{
    if (!known(b->resource_type, OD_RES_TOPIC, OD_RES_USER))
        snprintf(err, errsz, "Invalid resource type %d", b->resource_type);
    else if (b->pattern_type != OD_PATTERN_LITERAL && b->pattern_type != OD_PATTERN_PREFIXED)
        snprintf(err, errsz, "Invalid pattern type %d: ACLs are LITERAL or PREFIXED",
                 b->pattern_type);
    else if (!known(b->operation, OD_ACL_OP_ALL, OD_ACL_OP_IDEMPOTENT_WRITE))
        snprintf(err, errsz, "Invalid operation %d", b->operation);
    else if (b->permission != OD_PERM_DENY && b->permission != OD_PERM_ALLOW)
        snprintf(err, errsz, "Invalid permission type %d", b->permission);
    else if (!b->resource_name || !*b->resource_name)
        snprintf(err, errsz, "Resource name should not be empty");
    else if (!principal_ok(b->principal))
        snprintf(err, errsz, "Could not parse principal from `%.200s` (no colon is found "
                 "separating principal type from principal name)",
                 b->principal ? b->principal : "");
    else if (!b->host || !*b->host)
        snprintf(err, errsz, "Invalid host: empty");
    else if (b->resource_type == OD_RES_CLUSTER && strcmp(b->resource_name, "kafka-cluster") != 0)
        snprintf(err, errsz, "The only valid name for the CLUSTER resource is kafka-cluster");
    else
        return 0;
    return -1;
}

int od_acl_check_filter(const od_acl_t *f, char *err, size_t errsz)
{
    if (!known(f->resource_type, OD_RES_ANY, OD_RES_USER))
        snprintf(err, errsz, "Invalid resource type filter %d", f->resource_type);
    else if (!known(f->pattern_type, OD_PATTERN_ANY, OD_PATTERN_PREFIXED))
        snprintf(err, errsz, "Invalid pattern type filter %d", f->pattern_type);
    else if (!known(f->operation, OD_ACL_OP_ANY, OD_ACL_OP_IDEMPOTENT_WRITE))
        snprintf(err, errsz, "Invalid operation filter %d", f->operation);
    else if (!known(f->permission, OD_PERM_ANY, OD_PERM_ALLOW))
        snprintf(err, errsz, "Invalid permission type filter %d", f->permission);
    else
        return 0;
    return -1;
}

static int resource_matches(const od_acl_t *f, const od_acl_t *b)
{
    if (f->resource_type != OD_RES_ANY && f->resource_type != b->resource_type)
        return 0;
    if (f->pattern_type != OD_PATTERN_ANY && f->pattern_type != OD_PATTERN_MATCH &&
        f->pattern_type != b->pattern_type)
        return 0;
    if (!f->resource_name)
        return 1;
    if (f->pattern_type == OD_PATTERN_ANY || f->pattern_type == b->pattern_type)
        return strcmp(f->resource_name, b->resource_name) == 0;
    /* MATCH: the bindings that would apply to the resource so named. */
    if (b->pattern_type == OD_PATTERN_LITERAL)
        return strcmp(f->resource_name, b->resource_name) == 0 ||
               strcmp(b->resource_name, "*") == 0;
    size_t n = strlen(b->resource_name);
    return strncmp(f->resource_name, b->resource_name, n) == 0;
}

int od_acl_filter_matches(const od_acl_t *f, const od_acl_t *b)
{
    return resource_matches(f, b) && (!f->principal || strcmp(f->principal, b->principal) == 0) &&
           (!f->host || strcmp(f->host, b->host) == 0) &&
           (f->operation == OD_ACL_OP_ANY || f->operation == b->operation) &&
           (f->permission == OD_PERM_ANY || f->permission == b->permission);
}
