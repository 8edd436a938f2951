/* od_dispatch.h - the API table and request dispatch. The table is the one
 * place that says which API versions the broker implements; ApiVersions is
 * answered from it. */
#ifndef OD_DISPATCH_H
#define OD_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "od_conn.h"

typedef void (*od_handler_fn)(od_req_t *r, void *body);

typedef struct od_api_entry {
    int16_t key;
    od_handler_fn fn;
    int may_wait; /* the handler may answer later: keep a copy of the frame */
    int16_t cap;  /* highest version the handler implements, -1: the schema's */
    /* What is served and advertised: the schema's range (od_proto_api),
     * its top lowered to cap. Filled on first lookup. */
    int16_t min_ver, max_ver;
} od_api_entry_t;

const od_api_entry_t *od_dispatch_api(int16_t key);
/* Iterate the table: returns NULL past the end. */
const od_api_entry_t *od_dispatch_api_at(size_t i);
/* Decode and run one request frame (borrowed bytes, valid during the call). */
void od_dispatch_frame(od_conn_t *c, const uint8_t *frame, size_t len);
/* Take a request out of the response queue without answering (acks=0). */
void od_req_no_response(od_req_t *r);
/* The request cannot be answered (out of memory): free it and close the
 * connection, so the client is never left waiting for nothing. */
void od_req_drop(od_req_t *r);

#endif
