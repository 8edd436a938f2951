/* kraft_net.c - the module's own small Kafka-protocol client, one per peer
 * (another voter's controller listener), on the core's loop: non-blocking
 * connect, framing, correlation ids, a timeout per request, and a backoff
 * after a failed connection. The core offers no outbound connections to
 * modules, and Raft needs only this much. */
#include "kraft_net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A response larger than this closes the connection: a peer's Fetch
 * answers are bounded by what we asked for (and a snapshot chunk). */
#define KRAFT_NET_MAX_FRAME (KRAFT_MAX_BATCH_BYTES + (1 << 20))

typedef struct kraft_call {
    struct kraft_call *next;
    kraft_peer_t *peer;
    int32_t correlation_id;
    int flex_response;
    int64_t timer;
    kraft_resp_fn fn;
    void *arg;
} kraft_call_t;

struct kraft_peer {
    od_core_t *core;
    int32_t id;
    char host[256];
    int port;
    int64_t backoff_ms;
    int fd;
    int connected;
    int watching;
    uint32_t events;
    int64_t down_until; /* mono ms: no new connection before */
    int32_t next_corr;
    uint8_t *out;
    size_t out_len, out_off, out_cap;
    uint8_t *in;
    size_t in_len, in_cap;
    kraft_call_t *calls, **calls_tail; /* in flight, in send order */
};

kraft_peer_t *kraft_peer_new(od_core_t *core, int32_t id, const char *host, int port,
                             int64_t backoff_ms)
{
    kraft_peer_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->core = core;
    p->id = id;
    snprintf(p->host, sizeof p->host, "%s", host);
    p->port = port;
    p->backoff_ms = backoff_ms;
    p->fd = -1;
    p->calls_tail = &p->calls;
    p->next_corr = 1;
    return p;
}

int32_t kraft_peer_id(const kraft_peer_t *p) { return p->id; }

/* Unlinks every call and fails it; callbacks run after the peer is
 * consistent (they may send again, which reconnects later). */
static void fail_calls(kraft_peer_t *p, int status)
{
    kraft_call_t *c = p->calls;
    p->calls = NULL;
    p->calls_tail = &p->calls;
    while (c) {
        kraft_call_t *n = c->next;
        if (c->timer > 0)
            od_timer_cancel(p->core, c->timer);
        c->fn(c->arg, status, NULL, 0);
        free(c);
        c = n;
    }
}

static void disconnect(kraft_peer_t *p, const char *why)
{
    if (p->fd >= 0) {
        if (p->watching)
            od_fd_unwatch(p->core, p->fd);
        close(p->fd);
        if (why)
            od_logf(OD_LOG_DEBUG, "kraft: connection to voter %d (%s:%d) closed: %s", p->id,
                    p->host, p->port, why);
    }
    p->fd = -1;
    p->connected = p->watching = 0;
    p->out_len = p->out_off = 0;
    p->in_len = 0;
    p->down_until = od_mono_ms() + p->backoff_ms;
    fail_calls(p, KRAFT_NET_ERR_DISCONNECTED);
}

void kraft_peer_free(kraft_peer_t *p)
{
    if (!p)
        return;
    disconnect(p, NULL);
    free(p->out);
    free(p->in);
    free(p);
}

static void on_io(void *arg, int fd, uint32_t events);

static void watch(kraft_peer_t *p)
{
    uint32_t ev = OD_EV_READ | (p->out_off < p->out_len || !p->connected ? OD_EV_WRITE : 0);
    if (p->watching && ev == p->events)
        return;
    if (p->watching)
        od_fd_unwatch(p->core, p->fd);
    p->watching = od_fd_watch(p->core, p->fd, ev, on_io, p) == 0;
    p->events = ev;
}

static int start_connect(kraft_peer_t *p)
{
    char port[16];
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof port, "%d", p->port);
    if (getaddrinfo(p->host, port, &hints, &res) != 0 || !res) {
        p->down_until = od_mono_ms() + p->backoff_ms;
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(res);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc = connect(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (rc < 0 && errno != EINPROGRESS) {
        close(fd);
        p->down_until = od_mono_ms() + p->backoff_ms;
        return -1;
    }
    p->fd = fd;
    p->connected = rc == 0;
    p->watching = 0;
    watch(p);
    if (!p->watching) {
        close(fd);
        p->fd = -1;
        return -1;
    }
    return 0;
}

static int flush_out(kraft_peer_t *p)
{
    while (p->out_off < p->out_len) {
        ssize_t n = send(p->fd, p->out + p->out_off, p->out_len - p->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0)
            return -1;
        p->out_off += (size_t)n;
    }
    if (p->out_off == p->out_len)
        p->out_off = p->out_len = 0;
    return 0;
}

/* Hands out every complete response frame in the input buffer. */
static int parse_in(kraft_peer_t *p)
{
    size_t off = 0;
    while (p->in_len - off >= 4) {
        const uint8_t *f = p->in + off;
        uint32_t size = kraft_get_be32(f);
        if (size < 4 || size > KRAFT_NET_MAX_FRAME)
            return -1;
        if (p->in_len - off - 4 < size)
            break;
        int32_t corr = (int32_t)kraft_get_be32(f + 4);
        kraft_call_t *c = p->calls;
        if (!c || c->correlation_id != corr)
            return -1; /* answers come in request order on one connection */
        p->calls = c->next;
        if (!p->calls)
            p->calls_tail = &p->calls;
        if (c->timer > 0)
            od_timer_cancel(p->core, c->timer);
        const uint8_t *body = f + 8, *end = f + 4 + size;
        if (c->flex_response) {
            /* Response header v1: an empty tag section (nobody sends
             * tagged header fields). */
            if (body >= end || *body != 0) {
                c->fn(c->arg, KRAFT_NET_ERR_DISCONNECTED, NULL, 0);
                free(c);
                return -1;
            }
            body++;
        }
        off += 4 + size;
        /* The callback may send (appending to p->out) or even disconnect;
         * keep what is left of the input first. */
        size_t blen = (size_t)(end - body);
        uint8_t *copy = malloc(blen ? blen : 1);
        if (!copy) {
            c->fn(c->arg, KRAFT_NET_ERR_DISCONNECTED, NULL, 0);
            free(c);
            return -1;
        }
        memcpy(copy, body, blen);
        memmove(p->in, p->in + off, p->in_len - off);
        p->in_len -= off;
        off = 0;
        int fd = p->fd;
        c->fn(c->arg, 0, copy, blen);
        free(copy);
        free(c);
        if (p->fd != fd)
            return 0; /* the callback closed the connection */
    }
    if (off) {
        memmove(p->in, p->in + off, p->in_len - off);
        p->in_len -= off;
    }
    return 0;
}

static void on_io(void *arg, int fd, uint32_t events)
{
    kraft_peer_t *p = arg;
    (void)fd;
    if (!p->connected && (events & (OD_EV_WRITE | OD_EV_READ))) {
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
            disconnect(p, soerr ? strerror(soerr) : "connect failed");
            return;
        }
        p->connected = 1;
    }
    if (events & OD_EV_WRITE) {
        if (flush_out(p) < 0) {
            disconnect(p, "send failed");
            return;
        }
    }
    if (events & OD_EV_READ) {
        for (;;) {
            if (p->in_cap - p->in_len < 65536) {
                size_t cap = p->in_cap ? p->in_cap * 2 : 131072;
                if (cap > (size_t)KRAFT_NET_MAX_FRAME * 2) {
                    disconnect(p, "response too large");
                    return;
                }
                uint8_t *nb = realloc(p->in, cap);
                if (!nb) {
                    disconnect(p, "out of memory");
                    return;
                }
                p->in = nb;
                p->in_cap = cap;
            }
            ssize_t n = recv(p->fd, p->in + p->in_len, p->in_cap - p->in_len, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break;
            if (n <= 0) {
                disconnect(p, n == 0 ? "closed by the peer" : strerror(errno));
                return;
            }
            p->in_len += (size_t)n;
            int cur = p->fd;
            if (parse_in(p) < 0) {
                disconnect(p, "malformed response");
                return;
            }
            if (p->fd != cur)
                return;
        }
    }
    if (p->fd >= 0)
        watch(p);
}

static void call_timeout(void *arg)
{
    kraft_call_t *c = arg;
    c->timer = 0;
    /* A late answer would arrive out of step: the connection goes, and
     * every call on it fails (as Kafka's NetworkClient does). */
    disconnect(c->peer, "request timed out");
}

static int out_reserve(kraft_peer_t *p, size_t n)
{
    if (p->out_cap - p->out_len >= n)
        return 0;
    size_t cap = p->out_cap ? p->out_cap : 4096;
    while (cap - p->out_len < n)
        cap *= 2;
    uint8_t *nb = realloc(p->out, cap);
    if (!nb)
        return -1;
    p->out = nb;
    p->out_cap = cap;
    return 0;
}

int kraft_peer_send(kraft_peer_t *p, int16_t key, int16_t version, int flex_header,
                    const char *client_id, const uint8_t *body, size_t len, int64_t timeout_ms,
                    kraft_resp_fn fn, void *arg)
{
    if (p->fd < 0) {
        if (od_mono_ms() < p->down_until || start_connect(p) < 0)
            return -1;
    }
    size_t cid = strlen(client_id);
    if (cid > 255)
        cid = 255;
    size_t hdr = 4 + 2 + 2 + 4 + 2 + cid + (flex_header ? 1 : 0);
    if (len > (size_t)KRAFT_NET_MAX_FRAME || out_reserve(p, hdr + len) < 0)
        return -1;
    kraft_call_t *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    c->peer = p;
    c->correlation_id = p->next_corr++;
    if (p->next_corr == INT32_MAX)
        p->next_corr = 1;
    c->flex_response = flex_header;
    c->fn = fn;
    c->arg = arg;
    uint8_t *o = p->out + p->out_len;
    kraft_put_be32(o, (uint32_t)(hdr - 4 + len));
    kraft_put_be16(o + 4, (uint16_t)key);
    kraft_put_be16(o + 6, (uint16_t)version);
    kraft_put_be32(o + 8, (uint32_t)c->correlation_id);
    kraft_put_be16(o + 12, (uint16_t)cid);
    memcpy(o + 14, client_id, cid);
    if (flex_header)
        o[14 + cid] = 0; /* no tagged header fields */
    memcpy(o + hdr, body, len);
    p->out_len += hdr + len;
    c->timer = od_timer_add(p->core, timeout_ms, call_timeout, c);
    *p->calls_tail = c;
    p->calls_tail = &c->next;
    if (p->connected && flush_out(p) < 0) {
        disconnect(p, "send failed"); /* fails c too, through its callback */
        return 0;
    }
    watch(p);
    return 0;
}

int kraft_peer_busy(const kraft_peer_t *p) { return p->calls != NULL; }
