/* od_req_wait.h - a request answered once every proposal it made is done.
 * The handler counts each proposal before making it (od_req_wait_add); the
 * proposal's callback, or the handler when it could not be made, calls
 * od_req_wait_done; od_req_wait_issued says all are made. The last of
 * these answers: encode (when the client is still connected), then
 * od_req_done. */
#ifndef OD_REQ_WAIT_H
#define OD_REQ_WAIT_H

#include "od_dispatch.h"

typedef struct od_req_wait {
    od_req_t *r;
    void *resp;
    void (*encode)(od_req_t *r, const void *resp);
    int outstanding, started;
} od_req_wait_t;

void od_req_wait_add(od_req_wait_t *w);
void od_req_wait_done(od_req_wait_t *w);
void od_req_wait_issued(od_req_wait_t *w);
/* msg copied into the request's arena as an error message; null for a
 * NULL msg or out of memory. */
od_str_t od_req_msg(od_req_t *r, const char *msg);

#endif
