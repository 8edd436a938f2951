/* od_peer.h - the core's outbound Kafka-protocol client: one connection to
 * another node (host:port) on the event loop, used by followers to fetch
 * from leaders and by brokers to talk to the controller.
 *
 * Requests are framed here (length, request header v1/v2 with a correlation
 * id, the body the caller encoded with the generated encoders) and sent in
 * order; responses arrive in order and are matched to their request by
 * correlation id. Every request gets exactly one callback: with its response
 * (raw body bytes and, if asked for, the generated decoder's struct), or
 * with an error (timeout, connection lost, peer closed).
 *
 * The connection is made lazily (non-blocking connect) when a request is
 * queued, and again after a failure once a backoff has passed that doubles
 * from reconnect_backoff_ms up to reconnect_backoff_max_ms (Kafka's
 * reconnect.backoff.ms / reconnect.backoff.max.ms). A request that times out
 * closes the connection, as Kafka's NetworkClient does: a late response
 * would otherwise be read as the answer to the next request.
 *
 * Memory is bounded: at most max_in_flight requests on the wire, at most
 * max_queued_bytes of requests waiting to be written, at most
 * max_response_bytes for one response frame (a larger size closes the
 * connection). Host names are resolved with getaddrinfo, which may block:
 * give numeric addresses or names in /etc/hosts (loopback clusters do). */
#ifndef OD_PEER_H
#define OD_PEER_H

#include <stddef.h>
#include <stdint.h>

#include "od_arena.h"
#include "od_buf.h"
#include "od_loop.h"

typedef struct od_peer od_peer_t;

/* Outcome of a request, handed to its callback. */
typedef enum od_peer_status {
    OD_PEER_OK = 0,       /* response received */
    OD_PEER_ETIMEDOUT,    /* no response within the request's timeout */
    OD_PEER_EDISCONNECTED, /* connection failed or lost before the response */
    OD_PEER_EMALFORMED,   /* the response could not be decoded */
    OD_PEER_ECLOSED       /* the peer is being freed */
} od_peer_status_t;

typedef struct od_peer_response {
    int16_t api_key, api_version;
    int32_t correlation_id;
    od_slice_t body;   /* raw body after the response header (valid in the callback) */
    void *decoded;     /* od_<Name>Response_t in arena, when OD_PEER_DECODE was asked */
    od_arena_t *arena; /* request-scoped; freed after the callback returns */
} od_peer_response_t;

/* resp is NULL unless status == OD_PEER_OK. The callback may send more
 * requests on the same peer and may free the peer. */
typedef void (*od_peer_cb)(void *arg, od_peer_status_t status, const od_peer_response_t *resp);

typedef struct od_peer_opts {
    const char *client_id;          /* request header client id (copied) */
    int64_t connect_timeout_ms;     /* default 10000 */
    int64_t reconnect_backoff_ms;   /* default 50 */
    int64_t reconnect_backoff_max_ms; /* default 1000 */
    size_t max_in_flight;           /* default 5 */
    size_t max_queued_bytes;        /* default 16 MiB */
    size_t max_response_bytes;      /* default 100 MiB */
} od_peer_opts_t;

#define OD_PEER_DECODE 1 /* decode the response body with the generated decoder */

/* A peer for host:port; no connection is made yet. opts may be NULL
 * (defaults). Returns NULL on bad arguments or no memory. */
od_peer_t *od_peer_new(od_loop_t *loop, const char *host, int port, const od_peer_opts_t *opts);
/* Fails every pending request with OD_PEER_ECLOSED, closes the socket and
 * frees the peer (deferred to the end of a callback running on it). */
void od_peer_free(od_peer_t *p);

/* Queue a request whose body was encoded into `body` (api key, version must
 * be ones the generated tables know). The body bytes are copied. Returns 0,
 * or -1 (queue full, unknown api, peer closing): then cb is not called. */
int od_peer_send(od_peer_t *p, int16_t api_key, int16_t api_version, const od_wbuf_t *body,
                 int64_t timeout_ms, int flags, od_peer_cb cb, void *arg);

/* 1 while a connection is established. */
int od_peer_connected(const od_peer_t *p);
/* Requests queued or in flight. */
size_t od_peer_pending(const od_peer_t *p);
const char *od_peer_status_name(od_peer_status_t s);

#endif
