/* od_net.h - listeners: parse `listeners`/`advertised.listeners`, bind,
 * accept. */
#ifndef OD_NET_H
#define OD_NET_H

#include <stddef.h>
#include <stdint.h>

#include "od_metadata.h"

struct od_core;

typedef struct od_listen_spec {
    char name[64];    /* listener name, e.g. PLAINTEXT */
    char host[256];   /* empty = all interfaces */
    int port;
    int16_t security_protocol; /* OD_SECPROTO_* (listener.security.protocol.map) */
    int controller; /* named in controller.listener.names */
} od_listen_spec_t;

/* controller.listener.names, set before listeners are parsed. */
int od_net_set_controller_names(const char *controllers, char *err, size_t errsz);
int od_net_is_controller_listener(const char *name);

/* Accept again where the conditions allow it (core->caught_up changed). */
void od_net_listeners_rewatch(struct od_core *core);

struct od_listener {
    od_listen_spec_t spec;
    int fd;
    int bound_port;
    struct od_core *core; /* the broker accepting on it */
    int watching;         /* accepting; off while backing off or at max.connections */
    int64_t backoff_timer; /* accept failed for lack of descriptors; 0 if none */
    struct od_tls_ctx *tls; /* SSL and SASL_SSL listeners: TLS first (od_tls.h) */
};

struct od_conn;
struct od_ip_count;
struct od_ip_override;

#define OD_NET_IP_BUCKETS 1024

/* One broker's connection-layer state (core->net): made by
 * od_listeners_open, freed by od_net_free when the core is freed (requests
 * orphaned by closed connections are still counted until then). */
typedef struct od_net_state {
    /* max.connections, max.connections.per.ip(.overrides) */
    int64_t max_connections;
    int64_t max_per_ip;
    struct od_ip_override *overrides;
    size_t noverrides;
    /* Connections per peer address: a chained hash table, entries freed
     * when their count drops to zero, so it holds only addresses now
     * connected. */
    struct od_ip_count *ip_table[OD_NET_IP_BUCKETS];
    int full_paused; /* listeners off because of max.connections */
    int64_t accept_log_ms, refuse_log_ms, refused_unlogged; /* log rate limits */
    /* queued.max.request.bytes (<= 0: no bound) and what it bounds
     * (od_conn.c): bytes in flight, connections waiting for the total to
     * drop, the timer that wakes them. */
    int64_t queued_max_request_bytes;
    size_t inflight;
    struct od_conn *mem_waiters;
    int64_t mem_timer;
} od_net_state_t;

/* Declare max.connections, max.connections.per.ip(.overrides),
 * queued.max.request.bytes. */
int od_net_register_config(struct od_core *core, char *err, size_t errsz);
/* Free core->net (NULL is fine). */
void od_net_free(struct od_core *core);
/* A connection went away: per-IP counts, and accepting again below
 * max.connections. */
void od_net_conn_gone(struct od_core *core, struct od_conn *c);

/* Parse "NAME://host:port,..." into specs, each listener's security
 * protocol from protocol_map (listener.security.protocol.map). Returns
 * count or -1 with err. */
int od_listeners_parse(const char *text, const char *protocol_map, od_listen_spec_t *out,
                       size_t max, char *err, size_t errsz);
/* The effective listener.security.protocol.map. */
const char *od_net_protocol_map(const struct od_core *core);
/* Kafka's name of an OD_SECPROTO_* id. */
const char *od_secproto_name(int protocol);
/* Build (and drop) the TLS context of every SSL/SASL_SSL listener, so a
 * bad keystore stops the start before anything is written. */
int od_listeners_check_tls(struct od_core *core, char *err, size_t errsz);
int od_listeners_open(struct od_core *core, char *err, size_t errsz);
void od_listeners_close(struct od_core *core);
/* Endpoints to register and advertise (strings malloc'd; free with
 * od_listeners_advertised_free). */
int od_listeners_advertised(struct od_core *core, od_endpoint_t *out, size_t max, size_t *n,
                            char *err, size_t errsz);
void od_listeners_advertised_free(od_endpoint_t *eps, size_t n);

#endif
