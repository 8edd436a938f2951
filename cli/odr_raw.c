/* odr_raw.c - see odr_raw.h. */
#include "odr_raw.h"
#include "odr_format.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int take(odr_rd_t *r, size_t n, const uint8_t **p)
{
    if (!r->ok || r->left < n) {
        r->ok = 0;
        return -1;
    }
    *p = r->p;
    r->p += n;
    r->left -= n;
    return 0;
}

static uint64_t be(odr_rd_t *r, size_t n)
{
    const uint8_t *p;
    uint64_t v = 0;
    if (take(r, n, &p) != 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

int8_t odr_rd_i8(odr_rd_t *r) { return (int8_t)be(r, 1); }
int16_t odr_rd_i16(odr_rd_t *r) { return (int16_t)be(r, 2); }
int32_t odr_rd_i32(odr_rd_t *r) { return (int32_t)be(r, 4); }
int64_t odr_rd_i64(odr_rd_t *r) { return (int64_t)be(r, 8); }

uint64_t odr_rd_uvarint(odr_rd_t *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        const uint8_t *p;
        if (take(r, 1, &p) != 0)
            return 0;
        v |= (uint64_t)(*p & 0x7f) << shift;
        if (!(*p & 0x80))
            return v;
    }
    r->ok = 0; /* longer than 10 bytes */
    return 0;
}

int64_t odr_rd_compact_count(odr_rd_t *r, size_t min_size)
{
    uint64_t n = odr_rd_uvarint(r);
    if (!r->ok)
        return 0;
    if (n == 0)
        return -1;
    n--;
    if (min_size && n > r->left / min_size) {
        r->ok = 0;
        return 0;
    }
    return (int64_t)n;
}

int odr_rd_compact_str(odr_rd_t *r, const char **s, size_t *len)
{
    int64_t n = odr_rd_compact_count(r, 1);
    const uint8_t *p = NULL;
    *s = NULL;
    *len = 0;
    if (!r->ok || n < 0)
        return r->ok ? 0 : -1;
    if (take(r, (size_t)n, &p) != 0)
        return -1;
    *s = (const char *)p;
    *len = (size_t)n;
    return 0;
}

void odr_rd_skip_tags(odr_rd_t *r)
{
    uint64_t n = odr_rd_uvarint(r); /* the tag count is a plain uvarint */
    if (n > r->left)
        r->ok = 0;
    for (uint64_t i = 0; r->ok && i < n; i++) {
        const uint8_t *p;
        odr_rd_uvarint(r); /* tag */
        uint64_t size = odr_rd_uvarint(r);
        if (size > r->left) {
            r->ok = 0;
            return;
        }
        take(r, (size_t)size, &p);
    }
}

static int io_wait(int fd, short events, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = events};
    int n;
    do
        n = poll(&pfd, 1, timeout_ms);
    while (n < 0 && errno == EINTR);
    return n > 0 ? 0 : -1;
}

static int write_all(int fd, const uint8_t *p, size_t n, int timeout_ms)
{
    while (n > 0) {
        if (io_wait(fd, POLLOUT, timeout_ms) != 0)
            return -1;
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, uint8_t *p, size_t n, int timeout_ms)
{
    while (n > 0) {
        if (io_wait(fd, POLLIN, timeout_ms) != 0)
            return -1;
        ssize_t got = recv(fd, p, n, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return -1;
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

static void put16(uint8_t *p, int16_t v)
{
    p[0] = (uint8_t)((uint16_t)v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, int32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)((uint32_t)v >> (24 - 8 * i));
}

int odr_raw_call(odr_raw_t *c, int16_t api, int16_t version, int flexible, const uint8_t *body,
                 size_t len, uint8_t **resp, odr_rd_t *r)
{
    static const char client_id[] = "odr";
    size_t hdr = 4 + 2 + 2 + 4 + 2 + (sizeof client_id - 1) + (flexible ? 1 : 0);
    uint8_t *buf = malloc(hdr + len);
    *resp = NULL;
    if (!buf)
        return odr_fail(ODR_EXIT_KAFKA, "out of memory");
    int32_t corr = c->next_corr++;
    put32(buf, (int32_t)(hdr - 4 + len));
    put16(buf + 4, api);
    put16(buf + 6, version);
    put32(buf + 8, corr);
    put16(buf + 12, (int16_t)(sizeof client_id - 1));
    memcpy(buf + 14, client_id, sizeof client_id - 1);
    if (flexible)
        buf[hdr - 1] = 0; /* no tagged fields */
    if (len)
        memcpy(buf + hdr, body, len);
    int rc = write_all(c->fd, buf, hdr + len, c->timeout_ms);
    free(buf);
    uint8_t sz[4];
    if (rc != 0 || read_all(c->fd, sz, 4, c->timeout_ms) != 0)
        return odr_fail(ODR_EXIT_UNREACHABLE, "the broker closed the connection or did not answer "
                        "within %d ms", c->timeout_ms);
    uint32_t n = (uint32_t)sz[0] << 24 | (uint32_t)sz[1] << 16 | (uint32_t)sz[2] << 8 | sz[3];
    if (n < 4 || n > ODR_RAW_MAX)
        return odr_fail(ODR_EXIT_KAFKA, "the broker sent a response of %u bytes", n);
    uint8_t *p = malloc(n);
    if (!p)
        return odr_fail(ODR_EXIT_KAFKA, "out of memory");
    if (read_all(c->fd, p, n, c->timeout_ms) != 0) {
        free(p);
        return odr_fail(ODR_EXIT_UNREACHABLE, "the broker did not finish its answer");
    }
    *r = (odr_rd_t){.p = p, .left = n, .ok = 1};
    /* ApiVersions answers with header v0 even in flexible versions. */
    if (odr_rd_i32(r) != corr) {
        free(p);
        return odr_fail(ODR_EXIT_KAFKA, "the broker answered another request");
    }
    if (flexible && api != 18)
        odr_rd_skip_tags(r);
    *resp = p;
    return 0;
}

int odr_wr_uvarint(odr_buf_t *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    do {
        tmp[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            tmp[n] |= 0x80;
        n++;
    } while (v);
    return odr_buf_put(b, tmp, n);
}

int odr_wr_be(odr_buf_t *b, uint64_t v, size_t n)
{
    uint8_t tmp[8];
    for (size_t i = 0; i < n && i < sizeof tmp; i++)
        tmp[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    return odr_buf_put(b, tmp, n < sizeof tmp ? n : sizeof tmp);
}

int odr_wr_compact(odr_buf_t *b, const void *p, size_t len)
{
    return odr_wr_uvarint(b, len + 1) || odr_buf_put(b, p, len);
}

int odr_wr_compact_null(odr_buf_t *b) { return odr_wr_uvarint(b, 0); }

int odr_raw_usable(const odr_ctx_t *ctx)
{
    for (size_t i = 0; i < ctx->nsettings; i++)
        if (strcmp(ctx->set_key[i], "security.protocol") == 0 &&
            strcasecmp(ctx->set_val[i], "plaintext") != 0)
            return 0;
    return 1;
}

static int split_first_broker(const char *list, char *host, size_t hsz, char *port, size_t psz)
{
    size_t n = strcspn(list, ",");
    const char *colon = NULL;
    for (size_t i = 0; i < n; i++)
        if (list[i] == ':')
            colon = list + i;
    const char *start = list;
    /* "PLAINTEXT://host:port" as librdkafka accepts it */
    const char *scheme = strstr(list, "://");
    if (scheme && (size_t)(scheme - list) < n)
        start = scheme + 3;
    if (!colon || colon < start)
        return -1;
    size_t hl = (size_t)(colon - start), pl = n - (size_t)(colon + 1 - list);
    if (*start == '[' && hl >= 2 && start[hl - 1] == ']') {
        start++;
        hl -= 2;
    }
    if (hl == 0 || hl >= hsz || pl == 0 || pl >= psz)
        return -1;
    memcpy(host, start, hl);
    host[hl] = '\0';
    memcpy(port, colon + 1, pl);
    port[pl] = '\0';
    return 0;
}

int odr_raw_open(odr_ctx_t *ctx, odr_raw_t *c)
{
    char host[256], port[16];
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->timeout_ms = ctx->timeout_ms;
    c->next_corr = 1;
    if (!odr_raw_usable(ctx))
        return odr_fail(ODR_EXIT_USAGE, "this command speaks to a PLAINTEXT listener only "
                        "(a security.protocol other than plaintext is set)");
    if (split_first_broker(ctx->brokers, host, sizeof host, port, sizeof port) != 0)
        return odr_usage("--brokers: cannot read host:port from '%s'", ctx->brokers);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    int e = getaddrinfo(host, port, &hints, &ai);
    if (e != 0)
        return odr_fail(ODR_EXIT_UNREACHABLE, "cannot resolve %s: %s", host, gai_strerror(e));
    for (struct addrinfo *a = ai; a && c->fd < 0; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0 ||
            (errno == EINPROGRESS && io_wait(fd, POLLOUT, c->timeout_ms) == 0)) {
            int err = 0;
            socklen_t el = sizeof err;
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0) {
                c->fd = fd;
                continue;
            }
        }
        close(fd);
    }
    freeaddrinfo(ai);
    if (c->fd < 0)
        return odr_fail(ODR_EXIT_UNREACHABLE, "cannot reach the broker %s:%s within %d ms; check "
                        "--brokers and that a broker runs there", host, port, c->timeout_ms);
    /* ApiVersions v0: what the broker offers, and in which versions. */
    uint8_t *resp;
    odr_rd_t r;
    int rc = odr_raw_call(c, 18, 0, 0, NULL, 0, &resp, &r);
    if (rc)
        return rc;
    for (size_t i = 0; i < sizeof c->max_version / sizeof c->max_version[0]; i++)
        c->max_version[i] = -1;
    int16_t err = odr_rd_i16(&r);
    int32_t n = odr_rd_i32(&r);
    if (n < 0 || (size_t)n > r.left / 6)
        r.ok = 0;
    for (int32_t i = 0; r.ok && i < n; i++) {
        int16_t key = odr_rd_i16(&r);
        odr_rd_i16(&r);
        int16_t max = odr_rd_i16(&r);
        if (key >= 0 && (size_t)key < sizeof c->max_version / sizeof c->max_version[0])
            c->max_version[key] = max;
    }
    free(resp);
    if (!r.ok || err)
        return odr_fail(ODR_EXIT_KAFKA, "the broker's ApiVersions answer is not readable (error %d)", err);
    return 0;
}

void odr_raw_close(odr_raw_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}
