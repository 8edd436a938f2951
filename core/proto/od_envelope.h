/* od_envelope.h - KIP-590 Envelope (api 58): admin requests forwarded to the
 * active controller carry the client's identity. */
#ifndef OD_ENVELOPE_H
#define OD_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "od_conn.h"

/* The request-owned identity an envelope gives its inner request. */
typedef struct od_envelope {
    od_client_t client;
    int32_t outer_correlation_id;
    char principal[1024]; /* SASL principals are at most 512 bytes; TLS names get room too */
    char host[64];
} od_envelope_t;

/* Forwarding side: an EnvelopeRequest v0 body around frame (the client's
 * whole request, header and body) with c's principal and address. malloc'd;
 * NULL when out of memory. */
uint8_t *od_envelope_wrap(const od_conn_t *c, const uint8_t *frame, size_t len, size_t *out_len);

/* Forwarding side: the inner response body of an EnvelopeResponse body (the
 * inner response header skipped). 0 with *inner set, or the envelope's
 * error code (>0), or -1 when malformed. */
int od_envelope_unwrap(const uint8_t *body, size_t len, int16_t inner_key, int16_t inner_version,
                       const uint8_t **inner, size_t *inner_len);

/* Controller side: serve an Envelope frame (h decoded, s after the header). */
void od_envelope_serve(od_conn_t *c, const od_request_header_t *h, const uint8_t *frame,
                       size_t len, od_slice_t *s);

/* Controller side, from od_req_done: the inner response in r->resp becomes
 * the ResponseData of the EnvelopeResponse. -1 when out of memory. */
int od_envelope_finish(od_req_t *r);

/* The APIs a broker forwards to the controller (and the only ones an
 * envelope may carry). */
int od_envelope_forwardable(int16_t key);

#endif
