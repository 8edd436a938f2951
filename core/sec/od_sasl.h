/* od_sasl.h - SASL authentication on SASL_PLAINTEXT and SASL_SSL
 * listeners: the SaslHandshake/SaslAuthenticate state machine of each
 * connection, the gate that serves nothing else before authentication,
 * re-authentication (KIP-368) and the services mechanisms call
 * (od_sasl_reply, od_sasl_set_principal, ...; odradek-module.h). The
 * mechanisms and credential backends are modules (doc/security.md). */
#ifndef OD_SASL_H
#define OD_SASL_H

#include <stddef.h>
#include <stdint.h>

#include "od_conn.h"
#include "odradek-module.h"

struct od_core;
typedef struct od_sasl_conn od_sasl_conn_t;

/* Subsystem hooks (od_core.c's table): keys; start checks that every
 * enabled mechanism and backend of every SASL listener is loaded (nothing
 * to stop: connection state goes with each connection, the SCRAM store
 * with the core). */
int od_sasl_register_config(struct od_core *core, char *err, size_t errsz);
int od_sasl_start(struct od_core *core, char *err, size_t errsz);

/* Is the listener's protocol one with SASL? */
int od_sasl_listener_wants(const od_conn_t *c);

/* Called by dispatch for every frame of a SASL listener's connection
 * before its header is decoded: 1 when SASL consumed the frame (a raw
 * token after a v0 handshake, or a frame dropped after a failure), else
 * 0. */
int od_sasl_raw_frame(od_conn_t *c, const uint8_t *frame, size_t len);
/* With the header decoded: 0 to go on with the request, -1 when it must not
 * be served (the connection is closed: a request before authentication, a
 * session past its lifetime). */
int od_sasl_gate(od_conn_t *c, const od_request_header_t *h);
/* The largest frame the connection may send now: sasl.server.max.receive.size
 * before authentication on a SASL listener, else socket.request.max.bytes. */
int64_t od_sasl_max_frame(const od_conn_t *c);
/* A login step is being checked (a backend's worker thread): the
 * connection reads no further frame until it is answered, as Kafka's
 * authenticator handles one at a time (a request pipelined after the last
 * SaslAuthenticate is then served, not refused). */
int od_sasl_holds_reading(const od_conn_t *c);
/* The connection closes: end any exchange, free the state. */
void od_sasl_conn_closed(od_conn_t *c);

/* `odradekd hash-password USER` (argv[0] is "hash-password"): prints a
 * sasl.argon2.file line for the password on standard input. Exit code. */
int od_sasl_hash_password_main(int argc, char **argv);

/* Handlers (the API table). */
void od_h_sasl_handshake(od_req_t *r, void *body);
void od_h_sasl_authenticate(od_req_t *r, void *body);

/* ---- shared between od_sasl*.c ---- */

/* A configuration value for the connection's listener (Kafka's
 * listener.name.<listener>.<key> before <key>). */
const char *od_sasl_listener_value(od_conn_t *c, const char *key);
/* "<mechanism, lowercase>.<key>" in buf, Kafka's per-mechanism form of a
 * listener key (the lookup falls back to the plain key). Returns buf. */
const char *od_sasl_mech_key(const char *mechanism, const char *key, char *buf, size_t bufsz);
/* Is name in the listener's sasl.enabled.mechanisms? */
int od_sasl_mech_enabled(od_conn_t *c, const char *name);

#endif
