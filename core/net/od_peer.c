/* od_peer.c - the outbound Kafka-protocol client (see od_peer.h). */
#include "od_peer.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "od_proto_gen.h"
#include "odradek-module.h"

typedef enum { PEER_IDLE, PEER_CONNECTING, PEER_CONNECTED, PEER_BACKOFF } peer_state_t;

typedef struct peer_req {
    od_peer_t *peer;
    int32_t corr;
    int16_t key, ver;
    int flags;
    uint8_t *bytes; /* the whole frame: size, header, body */
    size_t len, sent;
    int64_t timer;
    od_peer_cb cb;
    void *arg;
    struct peer_req *next;
} peer_req_t;

typedef struct req_list {
    peer_req_t *head, *tail;
    size_t n;
} req_list_t;

struct od_peer {
    od_loop_t *loop;
    char *host, *client_id;
    int port;
    od_peer_opts_t o;
    peer_state_t state;
    int fd;
    uint32_t watched; /* events watched on fd, 0 if none */
    uint64_t conn_gen; /* bumped on every disconnect */
    int64_t state_timer; /* connect timeout or backoff end */
    int64_t backoff_ms;
    uint32_t jitter;
    req_list_t unsent, inflight;
    size_t queued_bytes;
    int32_t next_corr;
    uint8_t *rbuf;
    size_t rlen, rcap;
    int busy;    /* entry points running on this peer */
    int closing; /* od_peer_free called */
};

static void peer_connect(od_peer_t *p);
static void peer_update_watch(od_peer_t *p);

const char *od_peer_status_name(od_peer_status_t s)
{
    switch (s) {
    case OD_PEER_OK:
        return "ok";
    case OD_PEER_ETIMEDOUT:
        return "timed out";
    case OD_PEER_EDISCONNECTED:
        return "disconnected";
    case OD_PEER_EMALFORMED:
        return "malformed response";
    case OD_PEER_ECLOSED:
        return "closed";
    }
    return "unknown";
}

/* ---- request lists ---------------------------------------------------- */

static void list_push(req_list_t *l, peer_req_t *r)
{
    r->next = NULL;
    if (l->tail)
        l->tail->next = r;
    else
        l->head = r;
    l->tail = r;
    l->n++;
}

static peer_req_t *list_pop(req_list_t *l)
{
    peer_req_t *r = l->head;
    if (!r)
        return NULL;
    l->head = r->next;
    if (!l->head)
        l->tail = NULL;
    l->n--;
    r->next = NULL;
    return r;
}

static int list_remove(req_list_t *l, peer_req_t *r)
{
    peer_req_t *prev = NULL, *c;
    for (c = l->head; c; prev = c, c = c->next) {
        if (c != r)
            continue;
        if (prev)
            prev->next = c->next;
        else
            l->head = c->next;
        if (l->tail == c)
            l->tail = prev;
        l->n--;
        c->next = NULL;
        return 1;
    }
    return 0;
}

static size_t req_cost(const peer_req_t *r) { return r->len + sizeof *r; }

/* Detach r (already off its list), run its callback, free it. */
static void req_finish(od_peer_t *p, peer_req_t *r, od_peer_status_t st,
                       const od_peer_response_t *resp)
{
    od_loop_cancel(p->loop, r->timer);
    r->cb(r->arg, st, resp);
    free(r->bytes);
    free(r);
}

static void fail_list(od_peer_t *p, req_list_t *l, od_peer_status_t st)
{
    peer_req_t *r;
    while ((r = list_pop(l)) != NULL) {
        if (l == &p->unsent)
            p->queued_bytes -= req_cost(r);
        req_finish(p, r, st, NULL);
    }
}

static void peer_destroy(od_peer_t *p)
{
    free(p->rbuf);
    free(p->host);
    free(p->client_id);
    free(p);
}

/* Every entry point from the loop brackets its work so a callback can free
 * the peer: the memory goes when the outermost entry point returns. */
static void peer_enter(od_peer_t *p) { p->busy++; }
static void peer_leave(od_peer_t *p)
{
    if (--p->busy == 0 && p->closing)
        peer_destroy(p);
}

/* ---- connection state ------------------------------------------------- */

static void close_socket(od_peer_t *p)
{
    if (p->fd >= 0) {
        if (p->watched)
            od_loop_unwatch(p->loop, p->fd);
        close(p->fd);
    }
    p->fd = -1;
    p->watched = 0;
    p->rlen = 0;
    p->conn_gen++;
    od_loop_cancel(p->loop, p->state_timer);
    p->state_timer = 0;
}

static void backoff_done(void *arg)
{
    od_peer_t *p = arg;
    peer_enter(p);
    p->state_timer = 0;
    p->state = PEER_IDLE;
    if (p->unsent.head && !p->closing)
        peer_connect(p);
    peer_leave(p);
}

/* The connection failed or broke: requests on the wire fail (their answers
 * are lost), requests not yet written wait for the next connection. */
static void peer_disconnect(od_peer_t *p, const char *why)
{
    int64_t wait;
    uint32_t x;
    if (p->state == PEER_CONNECTED || p->state == PEER_CONNECTING)
        od_logf(OD_LOG_INFO, "peer %s:%d: %s", p->host, p->port, why);
    close_socket(p);
    if (p->unsent.head)
        p->unsent.head->sent = 0; /* a partly written frame is written again in full */
    /* Kafka's jitter of +-20% keeps reconnecting nodes from moving in step. */
    x = p->jitter;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    p->jitter = x;
    wait = p->backoff_ms + (int64_t)(x % 41u) * p->backoff_ms / 100 - p->backoff_ms / 5;
    if (wait < 1)
        wait = 1;
    p->backoff_ms *= 2;
    if (p->backoff_ms > p->o.reconnect_backoff_max_ms)
        p->backoff_ms = p->o.reconnect_backoff_max_ms;
    p->state = PEER_BACKOFF;
    if (!p->closing)
        p->state_timer = od_loop_timer(p->loop, wait, backoff_done, p);
    fail_list(p, &p->inflight, OD_PEER_EDISCONNECTED);
}

static void connect_timeout(void *arg)
{
    od_peer_t *p = arg;
    peer_enter(p);
    p->state_timer = 0;
    if (p->state == PEER_CONNECTING)
        peer_disconnect(p, "connect timed out");
    peer_leave(p);
}

static void on_connected(od_peer_t *p)
{
    int one = 1;
    (void)setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    od_loop_cancel(p->loop, p->state_timer);
    p->state_timer = 0;
    p->state = PEER_CONNECTED;
    p->backoff_ms = p->o.reconnect_backoff_ms;
    peer_update_watch(p);
}

/* ---- writing ---------------------------------------------------------- */

static void peer_write(od_peer_t *p)
{
    while (p->state == PEER_CONNECTED && p->unsent.head &&
           p->inflight.n < p->o.max_in_flight) {
        peer_req_t *r = p->unsent.head;
        ssize_t n = send(p->fd, r->bytes + r->sent, r->len - r->sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                break;
            peer_disconnect(p, strerror(errno));
            return;
        }
        r->sent += (size_t)n;
        if (r->sent < r->len)
            break;
        list_pop(&p->unsent);
        p->queued_bytes -= req_cost(r);
        list_push(&p->inflight, r);
    }
    peer_update_watch(p);
}

/* ---- reading ---------------------------------------------------------- */

static void skip_tagged(od_slice_t *s)
{
    uint32_t k, n = od_read_uvarint(s);
    for (k = 0; k < n && !s->err; k++) {
        (void)od_read_uvarint(s);
        od_skip(s, od_read_uvarint(s));
    }
}

/* One complete response frame (without its size). Returns 0, or -1 when
 * the connection must go (the frame answers no request we sent). */
static int handle_frame(od_peer_t *p, const uint8_t *f, size_t len)
{
    peer_req_t *r = p->inflight.head;
    od_peer_response_t resp;
    od_arena_t arena;
    od_slice_t s;
    od_peer_status_t st = OD_PEER_OK;
    if (!r)
        return -1;
    od_slice_init(&s, f, len);
    resp.correlation_id = od_read_i32(&s);
    if (s.err || resp.correlation_id != r->corr)
        return -1;
    list_pop(&p->inflight);
    if (od_proto_response_header_version(r->key, r->ver) == 1)
        skip_tagged(&s);
    resp.api_key = r->key;
    resp.api_version = r->ver;
    resp.body = s;
    resp.decoded = NULL;
    od_arena_init(&arena, 0);
    resp.arena = &arena;
    if (s.err) {
        st = OD_PEER_EMALFORMED;
    } else if (r->flags & OD_PEER_DECODE) {
        od_slice_t ds = s;
        resp.decoded = od_proto_decode_response(r->key, r->ver, &ds, &arena);
        if (!resp.decoded || od_slice_left(&ds) != 0)
            st = OD_PEER_EMALFORMED;
    }
    req_finish(p, r, st, st == OD_PEER_OK ? &resp : NULL);
    od_arena_free(&arena);
    return 0;
}

static int grow_rbuf(od_peer_t *p, size_t need)
{
    size_t cap = p->rcap ? p->rcap : 4096;
    uint8_t *nb;
    if (need <= p->rcap)
        return 0;
    while (cap < need)
        cap *= 2;
    nb = realloc(p->rbuf, cap);
    if (!nb)
        return -1;
    p->rbuf = nb;
    p->rcap = cap;
    return 0;
}

/* Dispatch every complete frame at the buffer's start. A callback may
 * disconnect (conn_gen moves) or free the peer: then stop at once. */
static void drain_frames(od_peer_t *p)
{
    size_t off = 0;
    uint64_t gen = p->conn_gen;
    while (p->rlen - off >= 4) {
        const uint8_t *q = p->rbuf + off;
        uint32_t sz = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
        if (sz < 4 || sz > p->o.max_response_bytes) {
            peer_disconnect(p, "bad response size");
            return;
        }
        if (p->rlen - off - 4 < sz)
            break;
        if (handle_frame(p, q + 4, sz) < 0) {
            peer_disconnect(p, "response does not match the request in flight");
            return;
        }
        if (p->closing || gen != p->conn_gen)
            return;
        off += 4 + (size_t)sz;
    }
    if (off) {
        memmove(p->rbuf, p->rbuf + off, p->rlen - off);
        p->rlen -= off;
    }
}

static void peer_read(od_peer_t *p)
{
    for (;;) {
        ssize_t n;
        size_t want = 4096;
        if (p->rlen >= 4) {
            const uint8_t *q = p->rbuf;
            uint32_t sz = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
            if (sz <= p->o.max_response_bytes && (size_t)sz + 4 > p->rlen)
                want = (size_t)sz + 4 - p->rlen;
        }
        if (want > (1u << 20))
            want = 1u << 20; /* grow as bytes arrive, never from the size alone */
        if (grow_rbuf(p, p->rlen + want) < 0) {
            peer_disconnect(p, "out of memory");
            return;
        }
        n = recv(p->fd, p->rbuf + p->rlen, p->rcap - p->rlen, 0);
        if (n == 0) {
            peer_disconnect(p, "connection closed by the peer");
            return;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            peer_disconnect(p, strerror(errno));
            return;
        }
        p->rlen += (size_t)n;
        drain_frames(p);
        if (p->closing || p->state != PEER_CONNECTED)
            return;
    }
}

static void on_fd(void *arg, int fd, uint32_t ev)
{
    od_peer_t *p = arg;
    (void)fd;
    peer_enter(p);
    if (p->state == PEER_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof err;
        if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
            err = errno;
        if (err)
            peer_disconnect(p, strerror(err));
        else
            on_connected(p);
    } else if (p->state == PEER_CONNECTED) {
        if (ev & (OD_LOOP_READ | OD_LOOP_HUP | OD_LOOP_ERROR))
            peer_read(p);
        if (!p->closing && p->state == PEER_CONNECTED && (ev & OD_LOOP_WRITE))
            peer_write(p);
    }
    if (!p->closing && p->state == PEER_CONNECTED)
        peer_write(p);
    peer_leave(p);
}

static void peer_update_watch(od_peer_t *p)
{
    uint32_t ev;
    if (p->fd < 0 || p->closing)
        return;
    if (p->state == PEER_CONNECTING)
        ev = OD_LOOP_WRITE;
    else
        ev = OD_LOOP_READ | (p->unsent.head && p->inflight.n < p->o.max_in_flight
                                 ? OD_LOOP_WRITE
                                 : 0);
    if (ev == p->watched)
        return;
    if (od_loop_watch(p->loop, p->fd, ev, on_fd, p) < 0) {
        peer_disconnect(p, "cannot watch the socket");
        return;
    }
    p->watched = ev;
}

static void peer_connect(od_peer_t *p)
{
    struct addrinfo hints, *res = NULL, *ai;
    char port[16];
    int rc, fd = -1;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(port, sizeof port, "%d", p->port);
    rc = getaddrinfo(p->host, port, &hints, &res);
    p->state = PEER_CONNECTING;
    if (rc != 0) {
        peer_disconnect(p, gai_strerror(rc));
        return;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS)
            break;
        close(fd);
        fd = -1;
    }
    rc = errno;
    freeaddrinfo(res);
    if (fd < 0) {
        peer_disconnect(p, strerror(rc));
        return;
    }
    p->fd = fd;
    p->state_timer = od_loop_timer(p->loop, p->o.connect_timeout_ms, connect_timeout, p);
    peer_update_watch(p); /* writable once connected (or failed), also when instant */
}

/* ---- requests --------------------------------------------------------- */

static void req_timeout(void *arg)
{
    peer_req_t *r = arg;
    od_peer_t *p = r->peer;
    peer_enter(p);
    r->timer = 0;
    if (list_remove(&p->inflight, r)) {
        /* Its answer may still come; only a new connection is safe. */
        peer_disconnect(p, "request timed out");
        req_finish(p, r, OD_PEER_ETIMEDOUT, NULL);
    } else if (p->unsent.head == r && r->sent > 0) {
        list_pop(&p->unsent);
        p->queued_bytes -= req_cost(r);
        peer_disconnect(p, "request timed out while being written");
        req_finish(p, r, OD_PEER_ETIMEDOUT, NULL);
    } else if (list_remove(&p->unsent, r)) {
        p->queued_bytes -= req_cost(r);
        req_finish(p, r, OD_PEER_ETIMEDOUT, NULL);
    }
    peer_leave(p);
}

int od_peer_send(od_peer_t *p, int16_t api_key, int16_t api_version, const od_wbuf_t *body,
                 int64_t timeout_ms, int flags, od_peer_cb cb, void *arg)
{
    const od_proto_api_t *api = od_proto_api(api_key);
    od_wbuf_t w;
    peer_req_t *r;
    uint8_t *flat = NULL;
    size_t blen = 0, len = 0;
    uint32_t sz;
    if (p->closing || !cb || !api || api_version < api->min_ver || api_version > api->max_ver ||
        body->err)
        return -1;
    r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    if (body->total && !(flat = od_wbuf_flatten(body, &blen))) {
        free(r);
        return -1;
    }
    r->peer = p;
    r->key = api_key;
    r->ver = api_version;
    r->flags = flags;
    r->cb = cb;
    r->arg = arg;
    r->corr = p->next_corr;
    p->next_corr = p->next_corr == INT32_MAX ? 0 : p->next_corr + 1;
    od_wbuf_init(&w);
    od_write_i32(&w, 0); /* size, patched below */
    od_write_i16(&w, api_key);
    od_write_i16(&w, api_version);
    od_write_i32(&w, r->corr);
    od_write_str(&w, od_str_c(p->client_id));
    if (od_proto_request_flexible(api_key, api_version))
        od_write_uvarint(&w, 0); /* request header v2: no tagged fields */
    if (blen)
        od_write_raw(&w, flat, blen);
    free(flat);
    r->bytes = w.err ? NULL : od_wbuf_flatten(&w, &len);
    od_wbuf_free(&w);
    if (!r->bytes || len - 4 > INT32_MAX ||
        p->queued_bytes + len + sizeof *r > p->o.max_queued_bytes) {
        free(r->bytes);
        free(r);
        return -1;
    }
    r->len = len;
    sz = (uint32_t)(len - 4);
    r->bytes[0] = (uint8_t)(sz >> 24);
    r->bytes[1] = (uint8_t)(sz >> 16);
    r->bytes[2] = (uint8_t)(sz >> 8);
    r->bytes[3] = (uint8_t)sz;
    r->timer = od_loop_timer(p->loop, timeout_ms > 0 ? timeout_ms : 1, req_timeout, r);
    if (r->timer < 0) {
        free(r->bytes);
        free(r);
        return -1;
    }
    list_push(&p->unsent, r);
    p->queued_bytes += req_cost(r);
    if (p->state == PEER_IDLE)
        peer_connect(p); /* may fail at once: the request then waits for the backoff */
    else if (p->state == PEER_CONNECTED)
        peer_update_watch(p); /* written when the socket is writable */
    return 0;
}

/* ---- lifetime --------------------------------------------------------- */

od_peer_t *od_peer_new(od_loop_t *loop, const char *host, int port, const od_peer_opts_t *opts)
{
    od_peer_t *p;
    if (!loop || !host || !*host || port <= 0 || port > 65535)
        return NULL;
    p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    if (opts)
        p->o = *opts;
    if (p->o.connect_timeout_ms <= 0)
        p->o.connect_timeout_ms = 10000;
    if (p->o.reconnect_backoff_ms <= 0)
        p->o.reconnect_backoff_ms = 50;
    if (p->o.reconnect_backoff_max_ms < p->o.reconnect_backoff_ms)
        p->o.reconnect_backoff_max_ms =
            p->o.reconnect_backoff_ms > 1000 ? p->o.reconnect_backoff_ms : 1000;
    if (!p->o.max_in_flight)
        p->o.max_in_flight = 5;
    if (!p->o.max_queued_bytes)
        p->o.max_queued_bytes = 16u << 20;
    if (!p->o.max_response_bytes || p->o.max_response_bytes > INT32_MAX)
        p->o.max_response_bytes = 100u << 20;
    p->host = strdup(host);
    p->client_id = strdup(opts && opts->client_id ? opts->client_id : "odradek");
    p->o.client_id = p->client_id;
    if (!p->host || !p->client_id) {
        peer_destroy(p);
        return NULL;
    }
    p->loop = loop;
    p->port = port;
    p->fd = -1;
    p->backoff_ms = p->o.reconnect_backoff_ms;
    p->jitter = (uint32_t)((uintptr_t)p >> 4) ^ (uint32_t)od_mono_ms() ^ 0x9e3779b9u;
    if (!p->jitter)
        p->jitter = 1;
    return p;
}

void od_peer_free(od_peer_t *p)
{
    if (!p || p->closing)
        return;
    peer_enter(p);
    p->closing = 1;
    close_socket(p);
    p->state = PEER_IDLE;
    fail_list(p, &p->inflight, OD_PEER_ECLOSED);
    fail_list(p, &p->unsent, OD_PEER_ECLOSED);
    peer_leave(p);
}

int od_peer_connected(const od_peer_t *p) { return p->state == PEER_CONNECTED; }

size_t od_peer_pending(const od_peer_t *p) { return p->unsent.n + p->inflight.n; }
