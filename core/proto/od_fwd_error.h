/* od_fwd_error.h - API-shaped error answers to forwarded admin requests. */
#ifndef OD_FWD_ERROR_H
#define OD_FWD_ERROR_H

#include <stdint.h>

#include "od_conn.h"

/* Writes into r->resp (its response header already there) the response of
 * r's forwardable request with `code` in every result, as Kafka's
 * getErrorResponse does; body is the request decoded into r->arena.
 * 0, or -1 (not a forwardable API, no body, out of memory). */
int od_fwd_error_response(od_req_t *r, const void *body, int16_t code);

#endif
