/* od_http.h - a small HTTP/1.1 server on the broker's loop, shared by the
 * metrics endpoint (core/metrics) and the schema registry (core/schema):
 * non-blocking, one response in flight per connection, request heads read
 * into a fixed buffer, bodies (Content-Length only) up to a per-server
 * limit, keep-alive, a connection cap and an idle sweep. A handler answers
 * at once or later (after a control-plane commit) with od_http_reply. */
#ifndef OD_HTTP_H
#define OD_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct od_loop;

/* "http://host:port" -> host (empty: all interfaces) and port. Returns 1,
 * 0 for an empty or NULL text (off), -1 with err. */
int od_http_url_parse(const char *text, char *host, size_t hostsz, int *port, char *err,
                      size_t errsz);

typedef struct od_http_req {
    char method[16];
    char path[256];   /* without the query string */
    char query[256];  /* after '?', may be empty */
    int keep_alive;
    size_t consumed;  /* bytes of the request head (line and headers) */
    int64_t content_length; /* 0 when absent */
} od_http_req_t;
#define OD_HTTP_INCOMPLETE 0
#define OD_HTTP_OK         1
#define OD_HTTP_BAD        -1
/* Parse one request head from buf. INCOMPLETE when the blank line has not
 * arrived yet; BAD for anything malformed (chunked bodies included). */
int od_http_parse(const char *buf, size_t len, od_http_req_t *out);

typedef struct od_http_srv od_http_srv_t;
typedef struct od_http_conn od_http_conn_t;

/* Called for each complete request (body: content_length bytes, NUL
 * terminated). The handler calls od_http_reply now or later; until then
 * the connection reads nothing more. */
typedef void (*od_http_handler_fn)(void *arg, od_http_conn_t *c, const od_http_req_t *rq,
                                   const char *body, size_t blen);

/* name prefixes log lines and errors ("metrics.listener"). NULL with err. */
od_http_srv_t *od_http_open(struct od_loop *loop, const char *name, const char *host, int port,
                            int64_t idle_ms, size_t max_body, od_http_handler_fn fn, void *arg,
                            int *bound_port, char *err, size_t errsz);
/* Closes every connection; replies still owed go nowhere (od_http_reply
 * on them frees them). */
void od_http_close(od_http_srv_t *s);

/* The response to c's current request; HEAD gets the headers only. extra:
 * more header lines ("Allow: GET\r\n"), may be NULL. */
void od_http_reply(od_http_conn_t *c, int status, const char *ctype, const char *extra,
                   const char *body, size_t blen);

#endif
