/* od_conn.h - one client connection: framing, pipelined requests answered
 * in order, and output with writev/sendfile. */
#ifndef OD_CONN_H
#define OD_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "od_arena.h"
#include "od_buf.h"
#include "od_proto_gen.h"
#include "od_transport.h"
#include "odradek-module.h"

struct od_core;
struct od_listener;
struct od_tls_conn;
typedef struct od_conn od_conn_t;
typedef struct od_req od_req_t;

/* One request in flight. Owned by the connection's queue until its response
 * has been written; if the connection closes first, the request is orphaned
 * (conn == NULL) and freed by od_req_done. */
struct od_req {
    od_conn_t *conn;
    struct od_core *core; /* the broker (stays when conn goes: its bytes stay counted) */
    od_request_header_t hdr;
    od_arena_t arena;    /* everything decoded from the request */
    od_slice_t body;     /* the request body (after the header) */
    uint8_t *frame_copy; /* owned copy of the frame for deferred requests */
    od_wbuf_t resp;      /* length + response header + body */
    size_t len_pos;      /* where the length prefix goes */
    int ready;           /* response complete, may be written */
    int64_t received_ms;
    int64_t metrics_ns; /* od_metrics: when dispatch decoded it (monotonic ns), 0 = untimed */
    /* A handler that keeps the request waiting sets cancel: when the
     * connection closes first, od_conn_close calls it, and it must unlink
     * and free the request (od_req_free) instead of waiting on. */
    void (*cancel)(od_req_t *r);
    void *wait; /* the handler's waiting state, for cancel */
    size_t charged;   /* bytes counted for it in queued.max.request.bytes */
    size_t frame_len; /* wire size of the request */
    /* The identity the request is judged as when it is not its connection's
     * (an Envelope's inner request: the client of the forwarding broker);
     * NULL: the connection's. See od_req_client. */
    const od_client_t *client;
    struct od_envelope *envelope; /* owned: an Envelope's inner request (od_envelope.c) */
    od_req_t *next;
};

struct od_conn {
    struct od_core *core;
    struct od_listener *listener;
    int fd;
    const od_transport_t *xport; /* all socket I/O: plaintext or TLS */
    struct od_tls_conn *tls;     /* the TLS transport's state (od_tls.c), NULL for plaintext */
    uint64_t id;
    char peer[64];
    char host[64]; /* peer address without the port, for per-IP limits */
    uint8_t *rbuf;
    size_t rlen, rcap;
    size_t rneed; /* bytes the frame at rbuf's start needs, once its size is read */
    od_req_t *q_head, *q_tail;
    size_t nq;
    size_t seg_idx; /* writing progress in q_head->resp */
    int closing;
    int write_blocked;
    int read_paused;
    int in_read; /* dispatching frames from rbuf right now */
    int64_t resume_timer; /* pending resume_reading, 0 if none */
    int64_t last_active_ms;
    size_t req_bytes; /* memory held by its requests in flight */
    size_t rcharged;  /* bytes of frames being read, counted in the total */
    int mem_waiting;  /* not read: requests in flight exceed queued.max.request.bytes */
    od_conn_t *mem_prev, *mem_next; /* connections waiting for memory */
    od_conn_t *prev, *next;
    /* Who the connection stands for (ABI 1.3), what every hook sees;
     * its strings point into the fields below or the listener. */
    od_client_t client;
    char *principal;      /* malloc'd; NULL: "User:ANONYMOUS" */
    char *sasl_mechanism; /* malloc'd; NULL until SASL authenticated */
    char *client_id;      /* malloc'd copy of the latest request's (at most 32767 bytes) */
    size_t client_id_len;
    struct od_sasl_conn *sasl;     /* SASL listeners: the login state (core/sec/od_sasl.c) */
    const char *close_after_flush; /* close once every response is written (why) */
};

od_conn_t *od_conn_new(struct od_core *core, int fd, const char *peer, const char *host,
                       struct od_listener *l);
/* The principal a TLS client certificate or a SASL login proved, with
 * the mechanism ("SSL" or the SASL mechanism; NULL keeps none) and when
 * the session expires (wall clock ms, 0: never). Copies the strings.
 * Returns OD_OK or OD_ERR_NOMEM (the old principal stays). */
int od_conn_set_principal(od_conn_t *c, const char *principal, const char *mechanism,
                          int64_t expiry_ms);
/* The client id of the latest request (len < 0: null). */
void od_conn_set_client_id(od_conn_t *c, const char *id, int len);
/* Close now: pending requests are orphaned, the socket closed. */
void od_conn_close(od_conn_t *c, const char *why);
/* Write out ready responses at the head of the queue. */
void od_conn_flush(od_conn_t *c);
/* Free connections closed but not yet freed (at shutdown). */
void od_conn_free_closed(struct od_core *core);
/* Close connections idle longer than connections.max.idle.ms. */
void od_conn_reap_idle(struct od_core *core, int64_t now_ms);

/* Allocate a request for a frame and queue it (a slot in response order). */
od_req_t *od_req_new(od_conn_t *c);
/* Mark the response complete, patch its length, and write what can go. */
void od_req_done(od_req_t *r);
/* Copy the frame into the request so decoded data survives the read buffer;
 * for requests that wait (long-poll fetch). */
int od_req_keep_frame(od_req_t *r, const uint8_t *frame, size_t len);
void od_req_free(od_req_t *r);
/* Recount the memory r holds (frame copy, decoded data, response) into its
 * connection's and the broker's totals. */
void od_req_account(od_req_t *r);
/* Who asks: the request's override, else its connection's client; NULL
 * when the connection went away. Authorization, admin policies, events
 * and the audit log use this, never r->conn->client. */
const od_client_t *od_req_client(const od_req_t *r);
/* Bytes held by requests in flight and frames being read, all connections. */
size_t od_conn_inflight_bytes(const struct od_core *core);

#endif
