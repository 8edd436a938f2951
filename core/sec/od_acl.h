/* od_acl.h - Kafka's ACL bindings and filters: what a valid binding is
 * (CreateAcls, applied records), what a valid filter is (DescribeAcls,
 * DeleteAcls) and when a filter matches a binding. */
#ifndef OD_ACL_H
#define OD_ACL_H

#include <stddef.h>

#include "odradek-module.h"

/* A binding CreateAcls may store: resource type TOPIC..USER, pattern
 * LITERAL or PREFIXED, a non-empty resource name, a concrete operation and
 * permission, a principal "Type:name", a host. 0, or -1 with the reason
 * (INVALID_REQUEST). */
int od_acl_check_binding(const od_acl_t *b, char *err, size_t errsz);
/* A filter: every code known (ANY and MATCH allowed); names may be NULL
 * (any). 0, or -1 with the reason (INVALID_REQUEST). */
int od_acl_check_filter(const od_acl_t *f, char *err, size_t errsz);
/* Kafka's AclBindingFilter.matches: the resource pattern filter (MATCH
 * takes the name as a resource, matched by literal, "*" and prefixes)
 * and the entry filter. */
int od_acl_filter_matches(const od_acl_t *f, const od_acl_t *b);

#endif
