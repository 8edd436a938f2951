/* od_authz.h - the authorization path: every request's actions go through
 * od_authorize (OD_EVENT_AUTHORIZE callbacks, then super.users, then the
 * authorizer chosen by authorizer.class.name), and denials and admin
 * changes go to the audit log (doc/security.md, "Authorization"). */
#ifndef OD_AUTHZ_H
#define OD_AUTHZ_H

#include <stddef.h>
#include <stdint.h>

#include "od_conn.h"
#include "odradek-module.h"

struct od_core;

/* The length of a wire string for the helpers (a null one is empty). */
#define OD_STR_LEN(s) ((s).len > 0 ? (size_t)(s).len : 0)

/* The resource name of the cluster (Kafka's "kafka-cluster"). */
#define OD_CLUSTER_RESOURCE "kafka-cluster"

/* Subsystem hooks (od_core.c's table): the keys, choosing and starting the
 * authorizer (it then gets every ACL of the image), stopping it. */
int od_authz_register_config(struct od_core *core, char *err, size_t errsz);
int od_authz_start(struct od_core *core, char *err, size_t errsz);
void od_authz_stop(struct od_core *core);

/* Is an authorizer configured (authorizer.class.name not empty)? */
int od_authz_enabled(const struct od_core *core);

/* OD_ALLOW or OD_DENY for one action of request r (audited as the action
 * asks). Before the subsystem starts (unit tests) everything is allowed,
 * after it stopped nothing. */
int od_authorize(od_req_t *r, const od_action_t *a);
/* n actions of one request at once (Metadata, ListGroups filtering):
 * out[i] gets OD_ALLOW or OD_DENY. */
void od_authorize_many(od_req_t *r, const od_action_t *a, size_t n, int *out);

/* Shorthands for handlers: 1 when allowed. audit: log a denial (0 where a
 * denial only filters what is shown). */
int od_authz_topic(od_req_t *r, int op, const char *name, size_t len);
int od_authz_group(od_req_t *r, int op, const char *name, size_t len);
int od_authz_cluster(od_req_t *r, int op);
int od_authz_txn(od_req_t *r, int op, const char *name, size_t len);
int od_authz_quiet(od_req_t *r, int op, int resource_type, const char *name, size_t len);

/* InitProducerId without a transactional id: IDEMPOTENT_WRITE on the
 * cluster, or WRITE on some topic (Kafka's authorizeByResourceType, here
 * over the topics that exist). */
int od_authz_idempotent(od_req_t *r);

/* Config resources (DescribeConfigs, AlterConfigs, IncrementalAlterConfigs;
 * ConfigResource types 2 topic, 4 broker, 8 broker logger): op on the
 * topic (TOPIC_AUTHORIZATION_FAILED) or on the cluster
 * (CLUSTER_AUTHORIZATION_FAILED); 0 when allowed or another type. */
int16_t od_authz_config(od_req_t *r, int op, int8_t config_type, od_str_t name);
/* The OD_RES_* a config resource type is audited as. */
int od_authz_config_res(int8_t config_type);

/* Kafka's authorized-operations bitmask (bit 1 << AclOperation code) for a
 * resource: every operation the resource type has that r may do. */
int32_t od_authz_ops_bitmask(od_req_t *r, int resource_type, const char *name, size_t len);

/* The cluster's bitmask as Metadata and DescribeCluster report it: 0
 * unless r may DESCRIBE the cluster (Kafka's rule). */
int32_t od_authz_cluster_ops(od_req_t *r);

/* Names of the codes, as Kafka prints them ("WRITE", "TOPIC", ...);
 * "UNKNOWN" outside the range. */
const char *od_acl_op_name(int op);
const char *od_acl_res_name(int type);
const char *od_acl_pattern_name(int pattern);
const char *od_acl_perm_name(int perm);

/* The committed ACL bindings, handed to the authorizer in log order
 * (od_acls.c calls these while applying records). */
void od_authz_acl_added(struct od_core *core, const uint8_t id[16], const od_acl_t *acl);
void od_authz_acl_removed(struct od_core *core, const uint8_t id[16]);

/* ---- the audit log (od_authz_audit.c) ---- */

/* Open what authorizer.audit.log names; 0 or -1 with err. */
int od_audit_open(struct od_core *core, char *err, size_t errsz);
void od_audit_close(struct od_core *core);
/* One authorization decision. */
void od_audit_action(od_req_t *r, const od_client_t *c, const od_action_t *a, int decision,
                     const char *reason);
/* One administrative change (create/delete topics, partitions, configs,
 * ACLs, groups, users): what, on which resource, and its outcome (a Kafka
 * error code; 0 is success). */
void od_audit_admin(od_req_t *r, const char *change, int resource_type, const char *name,
                    size_t len, int16_t error_code, const char *detail);

/* The client behind r as hooks see it (principal, host, listener); false
 * when r's connection is gone. */
int od_authz_client(od_req_t *r, od_client_t *out);

#endif
