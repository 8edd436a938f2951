/* od_tls.h - TLS listeners (SSL and SASL_SSL) with OpenSSL.
 *
 * od_tls_ctx.c builds one context per TLS listener from Kafka's ssl.* keys
 * (listener.name.<listener>.ssl.* overrides them); od_tls.c is the TLS
 * transport of a connection: the non-blocking handshake on the loop, its
 * timeout, the client certificate's principal, reads and writes, and file
 * ranges through kTLS (SSL_sendfile) or read+SSL_write copies. */
#ifndef OD_TLS_H
#define OD_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "od_transport.h"

struct od_core;
struct od_conn;
struct od_tls_rules;

typedef struct od_tls_ctx {
    int refs; /* the listener and each connection made from it */
    struct ssl_ctx_st *ssl_ctx;
    struct od_tls_rules *rules; /* ssl.principal.mapping.rules */
    char listener[64];
    int64_t handshake_timeout_ms;
    int ktls;        /* ssl.ktls.enable */
    int client_auth; /* OD_TLS_AUTH_* */
} od_tls_ctx_t;

#define OD_TLS_AUTH_NONE      0
#define OD_TLS_AUTH_REQUESTED 1
#define OD_TLS_AUTH_REQUIRED  2

/* Declare the ssl.* keys (called by od_net_register_config). */
int od_tls_register_config(struct od_core *core, char *err, size_t errsz);
/* The context of one TLS listener; NULL with "file:line: key: reason". */
od_tls_ctx_t *od_tls_ctx_new(struct od_core *core, const char *listener, char *err, size_t errsz);
void od_tls_ctx_unref(od_tls_ctx_t *t);
/* One log line at start: whether kTLS can be used here. */
void od_tls_log_support(void);

/* Make c a TLS connection of ctx: SSL object, handshake timer, transport.
 * Returns 0 or -1 (c is then unchanged and the caller closes the socket). */
int od_tls_conn_start(struct od_conn *c, od_tls_ctx_t *ctx);

/* Bytes of file ranges sent over TLS, by path (od_metrics). */
typedef struct od_tls_stats {
    uint64_t ktls_file_bytes;
    uint64_t copy_file_bytes;
    uint64_t handshakes, handshake_failures;
} od_tls_stats_t;
extern od_tls_stats_t od_tls_stats;

#endif
