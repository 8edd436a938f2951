/* acl_index.h - the ACL authorizer's bindings, indexed for authorize():
 * one hash table keyed by (resource type, pattern type, name), so a check
 * looks up the literal name, the literal "*" and every prefix of the name
 * (prefix hashes computed in one pass), then scans only those buckets.
 * Kafka's semantics: DENY wins over ALLOW; ALLOW of READ, WRITE, DELETE or
 * ALTER implies DESCRIBE, ALTER_CONFIGS implies DESCRIBE_CONFIGS, ALL
 * everything; principal "User:*" and host "*" are wildcards. Loop thread
 * only; no core services, so the unit test links it alone. */
#ifndef ACL_INDEX_H
#define ACL_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include <odradek-module.h>

typedef struct acl_index acl_index_t;

acl_index_t *acl_index_new(void);
void acl_index_free(acl_index_t *ix);
/* Add a binding under id (copied). OD_OK, OD_ERR_INVALID (id present,
 * unusable binding) or OD_ERR_NOMEM. */
int acl_index_add(acl_index_t *ix, const uint8_t id[16], const od_acl_t *acl);
/* OD_OK or OD_ERR_NOT_FOUND. */
int acl_index_remove(acl_index_t *ix, const uint8_t id[16]);
size_t acl_index_count(const acl_index_t *ix);

/* OD_ALLOW or OD_DENY for principal at host doing op on the resource;
 * allow_if_none: allow when no binding at all names the resource
 * (allow.everyone.if.no.acl.found). A reason goes into reason. */
int acl_index_authorize(const acl_index_t *ix, const char *principal, const char *host, int op,
                        int resource_type, const char *name, size_t len, int allow_if_none,
                        char *reason, size_t reason_size);

#endif
