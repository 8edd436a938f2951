/* od_authz_ext_stub.h - TEMPORARY: the few h-ext services the authorization
 * path needs (the authorizer registry, od_event_fire, the connection's
 * client), written here until h-ext's "ext-core" lands on this branch; the
 * merge deletes this file and od_authz_ext_stub.c and points the callers at
 * h-ext's versions. */
#ifndef OD_AUTHZ_EXT_STUB_H
#define OD_AUTHZ_EXT_STUB_H

#include "od_conn.h"
#include "odradek-module.h"

struct od_core;

/* Every callback of event in load order until one decides (OD_DEFER when
 * none did; none is registered before h-ext). */
int od_event_fire(struct od_core *core, int event, void *ev);
/* The registered authorizer one of whose class_names is cls, or NULL. */
const od_authorizer_ops_t *od_ext_authorizer(const char *cls, void **self);
/* Every registered class name, comma separated (for the error message). */
void od_ext_authorizer_names(char *out, size_t n);
/* The client of a connection (principal User:ANONYMOUS until h-ext's
 * od_client_t with SASL/TLS principals is merged). */
void od_ext_client(od_conn_t *c, const od_request_header_t *h, od_client_t *out);

/* h-ext's admin policy check: OD_EVENT_ADMIN then the Lua policies; the
 * decision (OD_ALLOW or OD_DENY with ev->reason). Allows until merged. */
int od_admin_check(od_req_t *r, od_ev_admin_t *ev);

#endif
