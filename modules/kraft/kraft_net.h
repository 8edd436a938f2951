/* kraft_net.h - outbound connections to other voters (kraft_net.c). */
#ifndef KRAFT_NET_H
#define KRAFT_NET_H

#include "kraft.h"

#define KRAFT_NET_ERR_DISCONNECTED (-1) /* connection failed, closed or timed out */

/* status 0: body/len is the response body after its header (borrowed for
 * the call); else status < 0 and no body. Called exactly once per call
 * that kraft_peer_send accepted. */
typedef void (*kraft_resp_fn)(void *arg, int status, const uint8_t *body, size_t len);

typedef struct kraft_peer kraft_peer_t;

/* A peer at host:port; connects on the first send, and again after a
 * failure once backoff_ms (controller.quorum.retry.backoff.ms) passed. */
kraft_peer_t *kraft_peer_new(od_core_t *core, int32_t id, const char *host, int port,
                             int64_t backoff_ms);
/* Closes the connection; calls in flight fail (their callbacks run). */
void kraft_peer_free(kraft_peer_t *p);
int32_t kraft_peer_id(const kraft_peer_t *p);
/* Queues one request (header v1, or v2 with flex_header) and sends it.
 * Returns 0 when accepted (fn will be called once, possibly before the
 * return), -1 when not (not connected and in backoff, out of memory): fn
 * is then never called. */
int kraft_peer_send(kraft_peer_t *p, int16_t key, int16_t version, int flex_header,
                    const char *client_id, const uint8_t *body, size_t len, int64_t timeout_ms,
                    kraft_resp_fn fn, void *arg);
/* Requests in flight. */
int kraft_peer_busy(const kraft_peer_t *p);

#endif
