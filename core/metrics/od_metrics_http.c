/* od_metrics_http.c - the metrics endpoint: a small HTTP/1.1 server on
 * the broker's own loop. GET (or HEAD) /metrics answers the exposition
 * text, any other path 404, any other method 405. Everything is
 * non-blocking; requests are read into a fixed buffer (a request head
 * larger than it is answered 431 and closed), responses are built whole
 * and written as the socket takes them. Connections are kept alive
 * (HTTP/1.1) unless the client asks otherwise, at most OD_MHTTP_MAX_CONNS
 * at a time, and closed after metrics.connections.max.idle.ms without
 * progress, so a scraper that stops reading cannot hold memory. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "od_core.h"
#include "od_metrics_int.h"

#define OD_MHTTP_IN_MAX    8192
#define OD_MHTTP_MAX_CONNS 32
#define OD_MHTTP_DRAIN_MAX (256 * 1024)

typedef struct mconn {
    int fd;
    char in[OD_MHTTP_IN_MAX];
    size_t inlen;
    char *out; /* the response being written, NULL when none */
    size_t outlen, outpos;
    int close_after;
    size_t draining; /* > 0: answered and shut down for writing; bytes discarded + 1 */
    int64_t last_ms; /* monotonic: last read, write or accept */
    struct mconn *prev, *next;
} mconn_t;

static struct {
    int fd;
    int64_t idle_ms;
    int64_t sweep_timer;
    mconn_t *conns;
    size_t nconns;
    od_core_t *core;
} srv = {.fd = -1};

/* ---- parsing (pure, unit tested) ---- */

int od_metrics_url_parse(const char *text, char *host, size_t hostsz, int *port, char *err,
                         size_t errsz)
{
    static const char scheme[] = "http://";
    if (!text || !*text)
        return 0;
    if (strncasecmp(text, scheme, sizeof(scheme) - 1) != 0) {
        snprintf(err, errsz, "'%s' is not http://host:port (https is not offered)", text);
        return -1;
    }
    const char *hp = text + sizeof(scheme) - 1, *colon;
    size_t hl;
    if (*hp == '[') {
        const char *rb = strchr(hp, ']');
        if (!rb || rb[1] != ':') {
            snprintf(err, errsz, "'%s': bad IPv6 address (use http://[addr]:port)", text);
            return -1;
        }
        hp++;
        hl = (size_t)(rb - hp);
        colon = rb + 1;
    } else {
        colon = strrchr(hp, ':');
        if (!colon) {
            snprintf(err, errsz, "'%s' has no port (http://host:port)", text);
            return -1;
        }
        hl = (size_t)(colon - hp);
        if (memchr(hp, '/', hl)) {
            snprintf(err, errsz, "'%s': a path is not allowed (the endpoint is /metrics)", text);
            return -1;
        }
    }
    if (hl >= hostsz) {
        snprintf(err, errsz, "'%s': host name too long", text);
        return -1;
    }
    const char *ps = colon + 1;
    size_t pl = strlen(ps);
    if (pl > 0 && ps[pl - 1] == '/')
        pl--; /* "http://host:9644/" is common in copies from browsers */
    long v = 0;
    for (size_t i = 0; i < pl; i++) {
        if (!isdigit((unsigned char)ps[i])) {
            snprintf(err, errsz, "'%s': port must be 0-65535%s", text,
                     memchr(ps, '/', pl) ? " (a path is not allowed; the endpoint is /metrics)" : "");
            return -1;
        }
        if (v <= 65535)
            v = v * 10 + (ps[i] - '0');
    }
    if (pl == 0 || v > 65535) {
        snprintf(err, errsz, "'%s': port must be 0-65535", text);
        return -1;
    }
    memcpy(host, hp, hl);
    host[hl] = 0;
    *port = (int)v;
    return 1;
}

/* Whether the header value v (vl bytes) holds the token tok
 * (case-insensitive, comma or space separated). */
static int header_has(const char *v, size_t vl, const char *tok)
{
    size_t tl = strlen(tok);
    for (size_t i = 0; i + tl <= vl; i++)
        if (strncasecmp(v + i, tok, tl) == 0 && (i == 0 || v[i - 1] == ' ' || v[i - 1] == ',') &&
            (i + tl == vl || v[i + tl] == ' ' || v[i + tl] == ',' || v[i + tl] == '\t'))
            return 1;
    return 0;
}

int od_http_parse(const char *buf, size_t len, od_http_req_t *out)
{
    memset(out, 0, sizeof(*out));
    const char *end = NULL;
    for (size_t i = 0; i + 3 < len; i++)
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
            end = buf + i + 2; /* keep the last header's CRLF */
            out->consumed = i + 4;
            break;
        }
    if (!end) {
        for (size_t i = 0; i < len; i++)
            if (buf[i] == 0)
                return OD_HTTP_BAD; /* not HTTP: do not wait for more */
        return OD_HTTP_INCOMPLETE;
    }
    /* Request line: METHOD SP target SP HTTP/1.x CRLF */
    const char *p = buf, *eol = memchr(buf, '\r', (size_t)(end - buf));
    if (!eol || eol[1] != '\n')
        return OD_HTTP_BAD;
    const char *sp1 = memchr(p, ' ', (size_t)(eol - p));
    if (!sp1 || sp1 == p || (size_t)(sp1 - p) >= sizeof(out->method))
        return OD_HTTP_BAD;
    const char *tgt = sp1 + 1, *sp2 = memchr(tgt, ' ', (size_t)(eol - tgt));
    if (!sp2 || sp2 == tgt || *tgt != '/')
        return OD_HTTP_BAD;
    const char *ver = sp2 + 1;
    size_t vl = (size_t)(eol - ver);
    if (vl != 8 || strncmp(ver, "HTTP/1.", 7) != 0 || (ver[7] != '0' && ver[7] != '1'))
        return OD_HTTP_BAD;
    for (const char *q = p; q < sp1; q++)
        if (!isupper((unsigned char)*q))
            return OD_HTTP_BAD;
    memcpy(out->method, p, (size_t)(sp1 - p));
    const char *qm = memchr(tgt, '?', (size_t)(sp2 - tgt));
    size_t tl = (size_t)((qm ? qm : sp2) - tgt);
    if (tl >= sizeof(out->path))
        tl = sizeof(out->path) - 1; /* an over-long path is not /metrics anyway */
    memcpy(out->path, tgt, tl);
    out->keep_alive = ver[7] == '1';
    /* Headers: Connection decides keep-alive; a body is refused (GET has
     * none, and we do not read one). */
    for (p = eol + 2; p < end;) {
        const char *le = memchr(p, '\r', (size_t)(end - p));
        if (!le || le[1] != '\n')
            return OD_HTTP_BAD;
        const char *c = memchr(p, ':', (size_t)(le - p));
        if (!c || c == p)
            return OD_HTTP_BAD;
        size_t nl = (size_t)(c - p);
        const char *v = c + 1;
        while (v < le && (*v == ' ' || *v == '\t'))
            v++;
        size_t vlen = (size_t)(le - v);
        if (nl == 10 && strncasecmp(p, "connection", 10) == 0) {
            if (header_has(v, vlen, "close"))
                out->keep_alive = 0;
            else if (header_has(v, vlen, "keep-alive"))
                out->keep_alive = 1;
        } else if (nl == 17 && strncasecmp(p, "transfer-encoding", 17) == 0) {
            return OD_HTTP_BAD;
        } else if (nl == 14 && strncasecmp(p, "content-length", 14) == 0) {
            for (const char *d = v; d < le; d++)
                if (*d != '0' && *d != ' ' && *d != '\t')
                    return OD_HTTP_BAD;
        }
        p = le + 2;
    }
    return OD_HTTP_OK;
}

/* ---- connections ---- */

static void on_conn(void *arg, int fd, uint32_t ev);

static void conn_close(mconn_t *c)
{
    od_loop_unwatch(srv.core->loop, c->fd);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv.conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv.nconns--;
    free(c->out);
    free(c);
}

static void respond(mconn_t *c, int status, const char *reason, const char *ctype,
                    const char *body, size_t blen, int head_only, int close_after)
{
    char hdr[512];
    int hl = snprintf(hdr, sizeof(hdr),
                      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                      "Connection: %s\r\n\r\n",
                      status, reason, ctype, blen, status == 405 ? "Allow: GET, HEAD\r\n" : "",
                      close_after ? "close" : "keep-alive");
    size_t total = (size_t)hl + (head_only ? 0 : blen);
    c->out = malloc(total);
    if (!c->out) {
        c->close_after = 1;
        return;
    }
    memcpy(c->out, hdr, (size_t)hl);
    if (!head_only && blen)
        memcpy(c->out + hl, body, blen);
    c->outlen = total;
    c->outpos = 0;
    c->close_after = close_after;
}

static void answer(mconn_t *c, const od_http_req_t *rq)
{
    static const char plain[] = "text/plain; charset=utf-8";
    int head = strcmp(rq->method, "HEAD") == 0;
    int close_after = !rq->keep_alive;
    if (strcmp(rq->method, "GET") != 0 && !head) {
        static const char b[] = "only GET and HEAD\n";
        respond(c, 405, "Method Not Allowed", plain, b, sizeof(b) - 1, 0, close_after);
        return;
    }
    if (strcmp(rq->path, "/metrics") != 0) {
        static const char b[] = "not found; metrics are at /metrics\n";
        respond(c, 404, "Not Found", plain, b, sizeof(b) - 1, head, close_after);
        return;
    }
    static size_t last_len; /* the next scrape is about as large */
    od_mtext_t t = {0};
    od_mtext_reserve(&t, last_len + last_len / 8);
    od_metrics_render(srv.core, &t);
    last_len = t.len;
    if (t.err) {
        static const char b[] = "out of memory\n";
        od_mtext_free(&t);
        respond(c, 500, "Internal Server Error", plain, b, sizeof(b) - 1, head, 1);
        return;
    }
    respond(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", t.p, t.len, head,
            close_after);
    od_mtext_free(&t);
}

static void watch(mconn_t *c)
{
    /* While a response is pending, read nothing more: pipelined requests
     * wait in the kernel, so one connection holds one response at most. */
    od_loop_watch(srv.core->loop, c->fd, c->out ? OD_LOOP_WRITE : OD_LOOP_READ, on_conn, c);
}

/* Write what the socket takes; then answer the next buffered request.
 * Returns -1 when the connection was closed. */
static int pump(mconn_t *c)
{
    for (;;) {
        while (c->out && c->outpos < c->outlen) {
            ssize_t w = write(c->fd, c->out + c->outpos, c->outlen - c->outpos);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                watch(c);
                return 0;
            }
            if (w <= 0) {
                conn_close(c);
                return -1;
            }
            c->outpos += (size_t)w;
            c->last_ms = od_mono_ms();
        }
        if (c->out) {
            free(c->out);
            c->out = NULL;
            if (c->close_after) {
                /* Closing with unread input would send a reset that can
                 * destroy the response before the client reads it; so
                 * shut down our side and discard what still comes, until
                 * the client closes (or a limit, or the idle sweep). */
                shutdown(c->fd, SHUT_WR);
                c->draining = 1;
                c->inlen = 0;
                od_loop_watch(srv.core->loop, c->fd, OD_LOOP_READ, on_conn, c);
                return 0;
            }
        }
        if (c->close_after) { /* out of memory for a response */
            conn_close(c);
            return -1;
        }
        od_http_req_t rq;
        int rc = od_http_parse(c->in, c->inlen, &rq);
        if (rc == OD_HTTP_INCOMPLETE) {
            if (c->inlen == sizeof(c->in)) {
                static const char b[] = "request head too large\n";
                respond(c, 431, "Request Header Fields Too Large", "text/plain", b,
                        sizeof(b) - 1, 0, 1);
                c->inlen = 0;
                continue;
            }
            watch(c);
            return 0;
        }
        if (rc == OD_HTTP_BAD) {
            static const char b[] = "bad request\n";
            respond(c, 400, "Bad Request", "text/plain", b, sizeof(b) - 1, 0, 1);
            c->inlen = 0;
            continue;
        }
        memmove(c->in, c->in + rq.consumed, c->inlen - rq.consumed);
        c->inlen -= rq.consumed;
        answer(c, &rq);
    }
}

static void on_conn(void *arg, int fd, uint32_t ev)
{
    mconn_t *c = arg;
    (void)fd;
    if (c->draining) {
        char sink[4096];
        ssize_t n = read(c->fd, sink, sizeof(sink));
        if (n > 0)
            c->draining += (size_t)n;
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ||
            c->draining > OD_MHTTP_DRAIN_MAX)
            conn_close(c);
        return;
    }
    if (!c->out && (ev & (OD_LOOP_READ | OD_LOOP_HUP | OD_LOOP_ERROR))) {
        ssize_t n;
        do
            n = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
        while (n < 0 && errno == EINTR);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            conn_close(c);
            return;
        }
        if (n > 0) {
            c->inlen += (size_t)n;
            c->last_ms = od_mono_ms();
        }
    }
    pump(c);
}

static void sweep(void *arg)
{
    (void)arg;
    srv.sweep_timer = 0;
    int64_t now = od_mono_ms();
    for (mconn_t *c = srv.conns, *n; c; c = n) {
        n = c->next;
        if (now - c->last_ms > srv.idle_ms)
            conn_close(c);
    }
    int64_t every = srv.idle_ms / 4 < 1000 ? (srv.idle_ms / 4 ? srv.idle_ms / 4 : 1) : 1000;
    srv.sweep_timer = od_loop_timer(srv.core->loop, every, sweep, NULL);
}

static void on_accept(void *arg, int fd, uint32_t ev)
{
    (void)arg;
    (void)ev;
    for (int i = 0; i < 16; i++) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                od_logf(OD_LOG_WARN, "metrics listener: accept: %s", strerror(errno));
            return;
        }
        mconn_t *c = srv.nconns < OD_MHTTP_MAX_CONNS ? calloc(1, sizeof(*c)) : NULL;
        if (!c) {
            od_logf(OD_LOG_DEBUG, "metrics listener: %zu scrape connections open; refusing one",
                    srv.nconns);
            close(cfd);
            continue;
        }
        c->fd = cfd;
        c->last_ms = od_mono_ms();
        if (od_loop_watch(srv.core->loop, cfd, OD_LOOP_READ, on_conn, c) < 0) {
            close(cfd);
            free(c);
            continue;
        }
        c->next = srv.conns;
        if (srv.conns)
            srv.conns->prev = c;
        srv.conns = c;
        srv.nconns++;
    }
}

int od_metrics_http_open(od_core_t *core, const char *host, int port, int64_t idle_ms, char *err,
                         size_t errsz)
{
    struct addrinfo hints = {0}, *ai = NULL;
    char ps[16];
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(ps, sizeof(ps), "%d", port);
    int gai = getaddrinfo(host[0] ? host : NULL, ps, &hints, &ai);
    if (gai != 0) {
        snprintf(err, errsz, "metrics.listener: cannot resolve '%s': %s", host, gai_strerror(gai));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
        snprintf(err, errsz, "metrics.listener: cannot listen on %s:%d: %s", host[0] ? host : "*",
                 port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    int bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    srv.core = core;
    srv.idle_ms = idle_ms;
    if (od_loop_watch(core->loop, fd, OD_LOOP_READ, on_accept, NULL) < 0) {
        close(fd);
        snprintf(err, errsz, "metrics.listener: cannot watch the socket");
        return -1;
    }
    srv.fd = fd;
    sweep(NULL);
    od_logf(OD_LOG_INFO, "metrics on http://%s%s%s:%d/metrics", strchr(host, ':') ? "[" : "",
            host[0] ? host : "*", strchr(host, ':') ? "]" : "", bound);
    return 0;
}

void od_metrics_http_close(od_core_t *core)
{
    (void)core;
    while (srv.conns)
        conn_close(srv.conns);
    if (srv.sweep_timer)
        od_loop_cancel(srv.core->loop, srv.sweep_timer);
    srv.sweep_timer = 0;
    if (srv.fd >= 0) {
        od_loop_unwatch(srv.core->loop, srv.fd);
        close(srv.fd);
        srv.fd = -1;
    }
}
