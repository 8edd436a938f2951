/* od_cp_route.h - frames for the control plane's own APIs, and admin
 * requests forwarded to the active controller (ABI 1.3). */
#ifndef OD_CP_ROUTE_H
#define OD_CP_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "od_conn.h"

/* The control plane's entry for api `key` on c's listener, or NULL. */
const od_cp_api_t *od_cp_api_for(const od_conn_t *c, int16_t key);
/* 1 when the core serves api `key` on c's listener: every API on broker
 * listeners, Kafka's controller-listener APIs on controller listeners
 * (ApiVersions lists the same). */
int od_listener_serves(const od_conn_t *c, int16_t key);
/* Hands the frame to the control plane if it claims its api key on this
 * listener. Returns 1 when taken (answered or queued), 0 for the core. */
int od_cp_route(od_conn_t *c, const uint8_t *frame, size_t len);
/* Sends an admin request (header already decoded, body slice into frame)
 * to the active controller when this node is not it. Returns 1 when taken. */
int od_cp_forward_maybe(od_conn_t *c, const od_request_header_t *h, const uint8_t *frame,
                        size_t len, const od_slice_t *body);

#endif
