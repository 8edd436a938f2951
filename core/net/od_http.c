/* od_http.c - the small HTTP/1.1 server of od_http.h. Everything is
 * non-blocking; a request head is read into a fixed buffer (one larger than
 * it is answered 431 and closed), a body into an allocation of exactly its
 * Content-Length once that is known and within the server's limit (else
 * 413 and close), responses are built whole and written as the socket takes
 * them. While a request waits for its answer the connection reads nothing
 * more, so one connection holds one request and one response at most; the
 * idle sweep closes connections without progress (a waiting one excepted:
 * its answer is owed). */
#include "od_http.h"

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
#include "od_loop.h"

#define OD_HTTP_IN_MAX    8192
#define OD_HTTP_MAX_CONNS 32
#define OD_HTTP_DRAIN_MAX (256 * 1024)

struct od_http_conn {
    od_http_srv_t *srv; /* NULL once the server closed with this reply owed */
    int fd;
    char in[OD_HTTP_IN_MAX];
    size_t inlen;
    od_http_req_t rq;  /* the request being answered */
    int have_head;     /* rq parsed, body being read */
    char *body;        /* content_length + 1 bytes */
    size_t bodylen;
    int waiting;       /* handed to the handler, no reply yet */
    int in_handler;    /* the handler runs: a reply is written by pump's loop */
    char *out;         /* the response being written, NULL when none */
    size_t outlen, outpos;
    int close_after;
    size_t draining;   /* > 0: answered and shut down for writing; bytes discarded + 1 */
    int64_t last_ms;   /* monotonic: last read, write or accept */
    struct od_http_conn *prev, *next;
};

struct od_http_srv {
    od_loop_t *loop;
    char name[64];
    int fd;
    int64_t idle_ms;
    size_t max_body;
    int64_t sweep_timer;
    od_http_handler_fn fn;
    void *arg;
    od_http_conn_t *conns;
    size_t nconns;
};

/* ---- parsing (pure, unit tested) ---- */

int od_http_url_parse(const char *text, char *host, size_t hostsz, int *port, char *err,
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
            snprintf(err, errsz, "'%s': a path is not allowed", text);
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
                     memchr(ps, '/', pl) ? " (a path is not allowed)" : "");
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
        tl = sizeof(out->path) - 1; /* cut: no endpoint has so long a path */
    memcpy(out->path, tgt, tl);
    if (qm) {
        size_t ql = (size_t)(sp2 - qm - 1);
        if (ql >= sizeof(out->query))
            ql = sizeof(out->query) - 1;
        memcpy(out->query, qm + 1, ql);
    }
    out->keep_alive = ver[7] == '1';
    /* Headers: Connection decides keep-alive, Content-Length the body's
     * size (chunked bodies are refused; no client of ours sends them). */
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
            int64_t n = 0;
            int digits = 0;
            const char *d = v;
            for (; d < le && isdigit((unsigned char)*d); d++, digits++) {
                n = n * 10 + (*d - '0');
                if (n > (1 << 30))
                    return OD_HTTP_BAD;
            }
            while (d < le && (*d == ' ' || *d == '\t'))
                d++;
            if (!digits || d != le)
                return OD_HTTP_BAD;
            out->content_length = n;
        }
        p = le + 2;
    }
    return OD_HTTP_OK;
}

/* ---- connections ---- */

static void on_conn(void *arg, int fd, uint32_t ev);
static int pump(od_http_conn_t *c);

static void unlink_conn(od_http_conn_t *c)
{
    od_http_srv_t *s = c->srv;
    od_loop_unwatch(s->loop, c->fd);
    close(c->fd);
    c->fd = -1;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    c->srv = NULL;
}

static void conn_close(od_http_conn_t *c)
{
    unlink_conn(c);
    free(c->body);
    free(c->out);
    free(c);
}

static const char *reason_of(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    default: return "Status";
    }
}

static void set_response(od_http_conn_t *c, int status, const char *ctype, const char *extra,
                         const char *body, size_t blen, int head_only, int close_after)
{
    char hdr[768];
    int hl = snprintf(hdr, sizeof(hdr),
                      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                      "Connection: %s\r\n\r\n",
                      status, reason_of(status), ctype, blen, extra ? extra : "",
                      close_after ? "close" : "keep-alive");
    if (hl < 0 || (size_t)hl >= sizeof(hdr)) {
        c->close_after = 1;
        return;
    }
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

void od_http_reply(od_http_conn_t *c, int status, const char *ctype, const char *extra,
                   const char *body, size_t blen)
{
    if (!c->waiting)
        return;
    c->waiting = 0;
    free(c->body);
    c->body = NULL;
    if (!c->srv) { /* the server closed while the answer was owed */
        free(c->out);
        free(c);
        return;
    }
    set_response(c, status, ctype, extra, body, blen, strcmp(c->rq.method, "HEAD") == 0,
                 !c->rq.keep_alive);
    c->last_ms = od_mono_ms();
    if (!c->in_handler)
        pump(c);
}

static void plain(od_http_conn_t *c, int status, const char *text)
{
    set_response(c, status, "text/plain; charset=utf-8", NULL, text, strlen(text), 0, 1);
    c->inlen = 0;
    c->have_head = 0;
}

static void watch(od_http_conn_t *c)
{
    /* While a response is pending or owed, read nothing more: pipelined
     * requests wait in the kernel. */
    if (c->waiting) /* not even hang-ups: they would fire level-triggered until the reply */
        od_loop_unwatch(c->srv->loop, c->fd);
    else
        od_loop_watch(c->srv->loop, c->fd, c->out ? OD_LOOP_WRITE : OD_LOOP_READ, on_conn, c);
}

/* The next request from the buffer, its body included: 1 when handed to
 * the handler, 0 when more bytes are needed, -1 when answered with an
 * error. */
static int next_request(od_http_conn_t *c)
{
    od_http_srv_t *s = c->srv;
    if (!c->have_head) {
        int rc = od_http_parse(c->in, c->inlen, &c->rq);
        if (rc == OD_HTTP_INCOMPLETE) {
            if (c->inlen == sizeof(c->in)) {
                plain(c, 431, "request head too large\n");
                return -1;
            }
            return 0;
        }
        if (rc == OD_HTTP_BAD) {
            plain(c, 400, "bad request\n");
            return -1;
        }
        if ((uint64_t)c->rq.content_length > s->max_body) {
            plain(c, s->max_body ? 413 : 400, s->max_body ? "request body too large\n"
                                                          : "no request body expected\n");
            return -1;
        }
        c->body = malloc((size_t)c->rq.content_length + 1);
        if (!c->body) {
            plain(c, 500, "out of memory\n");
            return -1;
        }
        c->bodylen = 0;
        memmove(c->in, c->in + c->rq.consumed, c->inlen - c->rq.consumed);
        c->inlen -= c->rq.consumed;
        c->have_head = 1;
    }
    size_t want = (size_t)c->rq.content_length - c->bodylen;
    size_t n = c->inlen < want ? c->inlen : want;
    memcpy(c->body + c->bodylen, c->in, n);
    c->bodylen += n;
    memmove(c->in, c->in + n, c->inlen - n);
    c->inlen -= n;
    if (c->bodylen < (size_t)c->rq.content_length)
        return 0;
    c->body[c->bodylen] = 0;
    c->have_head = 0;
    c->waiting = 1;
    c->in_handler = 1;
    s->fn(s->arg, c, &c->rq, c->body, c->bodylen);
    c->in_handler = 0;
    return 1;
}

/* Write what the socket takes; then take the next buffered request.
 * Returns -1 when the connection was closed. */
static int pump(od_http_conn_t *c)
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
                od_loop_watch(c->srv->loop, c->fd, OD_LOOP_READ, on_conn, c);
                return 0;
            }
        }
        if (c->close_after) { /* out of memory for a response */
            conn_close(c);
            return -1;
        }
        if (c->waiting) {
            watch(c);
            return 0;
        }
        int rc = next_request(c);
        if (rc == 0) {
            watch(c);
            return 0;
        }
        if (rc == 1 && c->waiting) { /* answered later */
            watch(c);
            return 0;
        }
        /* answered at once, or an error response is set: write it */
    }
}

static void on_conn(void *arg, int fd, uint32_t ev)
{
    od_http_conn_t *c = arg;
    (void)fd;
    if (c->draining) {
        char sink[4096];
        ssize_t n = read(c->fd, sink, sizeof(sink));
        if (n > 0)
            c->draining += (size_t)n;
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ||
            c->draining > OD_HTTP_DRAIN_MAX)
            conn_close(c);
        return;
    }
    if (c->waiting)
        return;
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
    od_http_srv_t *s = arg;
    s->sweep_timer = 0;
    int64_t now = od_mono_ms();
    for (od_http_conn_t *c = s->conns, *n; c; c = n) {
        n = c->next;
        if (!c->waiting && now - c->last_ms > s->idle_ms)
            conn_close(c);
    }
    int64_t every = s->idle_ms / 4 < 1000 ? (s->idle_ms / 4 ? s->idle_ms / 4 : 1) : 1000;
    s->sweep_timer = od_loop_timer(s->loop, every, sweep, s);
}

static void on_accept(void *arg, int fd, uint32_t ev)
{
    od_http_srv_t *s = arg;
    (void)ev;
    for (int i = 0; i < 16; i++) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                od_logf(OD_LOG_WARN, "%s: accept: %s", s->name, strerror(errno));
            return;
        }
        od_http_conn_t *c = s->nconns < OD_HTTP_MAX_CONNS ? calloc(1, sizeof(*c)) : NULL;
        if (!c) {
            od_logf(OD_LOG_DEBUG, "%s: %zu connections open; refusing one", s->name, s->nconns);
            close(cfd);
            continue;
        }
        c->srv = s;
        c->fd = cfd;
        c->last_ms = od_mono_ms();
        if (od_loop_watch(s->loop, cfd, OD_LOOP_READ, on_conn, c) < 0) {
            close(cfd);
            free(c);
            continue;
        }
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        s->nconns++;
    }
}

od_http_srv_t *od_http_open(od_loop_t *loop, const char *name, const char *host, int port,
                            int64_t idle_ms, size_t max_body, od_http_handler_fn fn, void *arg,
                            int *bound_port, char *err, size_t errsz)
{
    struct addrinfo hints = {0}, *ai = NULL;
    char ps[16];
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(ps, sizeof(ps), "%d", port);
    int gai = getaddrinfo(host[0] ? host : NULL, ps, &hints, &ai);
    if (gai != 0) {
        snprintf(err, errsz, "%s: cannot resolve '%s': %s", name, host, gai_strerror(gai));
        return NULL;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
        snprintf(err, errsz, "%s: cannot listen on %s:%d: %s", name, host[0] ? host : "*", port,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return NULL;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    if (bound_port)
        *bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                     : ((struct sockaddr_in *)&ss)->sin_port);
    od_http_srv_t *s = calloc(1, sizeof(*s));
    if (!s) {
        close(fd);
        snprintf(err, errsz, "%s: out of memory", name);
        return NULL;
    }
    s->loop = loop;
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->idle_ms = idle_ms;
    s->max_body = max_body;
    s->fn = fn;
    s->arg = arg;
    if (od_loop_watch(loop, fd, OD_LOOP_READ, on_accept, s) < 0) {
        close(fd);
        free(s);
        snprintf(err, errsz, "%s: cannot watch the socket", name);
        return NULL;
    }
    s->fd = fd;
    sweep(s);
    return s;
}

void od_http_close(od_http_srv_t *s)
{
    if (!s)
        return;
    while (s->conns) {
        od_http_conn_t *c = s->conns;
        if (c->waiting)
            unlink_conn(c); /* freed by the owed od_http_reply */
        else
            conn_close(c);
    }
    if (s->sweep_timer)
        od_loop_cancel(s->loop, s->sweep_timer);
    od_loop_unwatch(s->loop, s->fd);
    close(s->fd);
    free(s);
}
