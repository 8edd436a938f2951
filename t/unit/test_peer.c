/* test_peer.c - od_peer against a small server on the same loop: framing
 * and correlation ids (flexible and classic headers), decoded and raw
 * bodies, pipelining in order, request timeouts (the connection is
 * replaced), lost connections, answers to nothing we asked, oversized and
 * malformed responses, reconnect with backoff once a listener appears,
 * bounded queues, and freeing with requests pending (also from a callback). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "od_loop.h"
#include "od_peer.h"
#include "od_proto_gen.h"
#include "tap.h"

enum srv_mode { ANSWER, SILENT, CLOSE, WRONG_CORR, HUGE, GARBAGE };

typedef struct srv {
    od_loop_t *loop;
    int lfd, cfd;
    int port;
    enum srv_mode mode;
    uint8_t buf[65536];
    size_t len;
    int accepted, requests;
    int16_t last_key, last_ver;
    int32_t last_corr;
    char last_client[64];
} srv_t;

static od_loop_t *L;
static srv_t S;

static void stop_loop(void *arg)
{
    (void)arg;
    od_loop_stop(L);
}

/* Run the loop until *flag is set or ms pass. */
static void run_until(const int *flag, int64_t ms)
{
    int64_t t = od_loop_timer(L, ms, stop_loop, NULL);
    while (!*flag) {
        int64_t before = od_mono_ms();
        od_loop_run(L);
        if (od_mono_ms() - before >= ms || *flag)
            break;
    }
    od_loop_cancel(L, t);
}

static void send_frame(int fd, int32_t corr, int flex_hdr, const od_wbuf_t *body)
{
    od_wbuf_t w;
    uint8_t *flat;
    size_t n = 0;
    uint8_t *bb = NULL;
    size_t bl = 0;
    od_wbuf_init(&w);
    if (body->total)
        bb = od_wbuf_flatten(body, &bl);
    od_write_i32(&w, (int32_t)(4 + (flex_hdr ? 1 : 0) + bl));
    od_write_i32(&w, corr);
    if (flex_hdr)
        od_write_uvarint(&w, 0);
    if (bl)
        od_write_raw(&w, bb, bl);
    flat = od_wbuf_flatten(&w, &n);
    if (send(fd, flat, n, MSG_NOSIGNAL) != (ssize_t)n)
        tap_diag("short server send");
    free(flat);
    free(bb);
    od_wbuf_free(&w);
}

static void answer(srv_t *s, const od_request_header_t *h)
{
    od_wbuf_t body;
    od_wbuf_init(&body);
    if (h->api_key == OD_API_API_VERSIONS) {
        od_ApiVersionsResponse_t r;
        od_ApiVersionsResponse_ApiVersion_t k[2];
        od_ApiVersionsResponse_init(&r);
        od_ApiVersionsResponse_ApiVersion_init(&k[0]);
        od_ApiVersionsResponse_ApiVersion_init(&k[1]);
        k[0].api_key = 1;
        k[0].max_version = 12;
        k[1].api_key = 18;
        k[1].max_version = 3;
        r.api_keys = k;
        r.api_keys_count = 2;
        r.throttle_time_ms = h->correlation_id; /* echoes which request this answers */
        od_ApiVersionsResponse_encode(&body, h->api_version, &r);
    } else {
        od_write_raw(&body, "raw-bytes", 9);
    }
    /* ApiVersions answers with header v0 even when the request was flexible. */
    send_frame(s->cfd, h->correlation_id,
               od_proto_response_header_version(h->api_key, h->api_version), &body);
    od_wbuf_free(&body);
}

static void srv_close_conn(srv_t *s)
{
    if (s->cfd >= 0) {
        od_loop_unwatch(s->loop, s->cfd);
        close(s->cfd);
    }
    s->cfd = -1;
    s->len = 0;
}

static void srv_on_conn(void *arg, int fd, uint32_t ev)
{
    srv_t *s = arg;
    ssize_t n;
    (void)ev;
    n = recv(fd, s->buf + s->len, sizeof s->buf - s->len, 0);
    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            srv_close_conn(s);
        return;
    }
    s->len += (size_t)n;
    while (s->len >= 4) {
        uint32_t sz = ntohl(*(uint32_t *)(void *)s->buf);
        od_slice_t sl;
        od_request_header_t h;
        if (s->len < 4 + sz)
            break;
        od_slice_init(&sl, s->buf + 4, sz);
        if (od_request_header_decode(&sl, &h) == 0) {
            s->requests++;
            s->last_key = h.api_key;
            s->last_ver = h.api_version;
            s->last_corr = h.correlation_id;
            snprintf(s->last_client, sizeof s->last_client, "%.*s",
                     h.client_id.len > 0 ? (int)h.client_id.len : 0, h.client_id.p);
            switch (s->mode) {
            case ANSWER:
                answer(s, &h);
                break;
            case SILENT:
                break;
            case CLOSE:
                srv_close_conn(s);
                return;
            case WRONG_CORR: {
                od_wbuf_t b;
                od_wbuf_init(&b);
                od_write_i32(&b, 0);
                send_frame(s->cfd, h.correlation_id + 7, 0, &b);
                od_wbuf_free(&b);
                break;
            }
            case HUGE: {
                uint8_t big[4] = {0x7f, 0xff, 0xff, 0xff};
                (void)!send(s->cfd, big, 4, MSG_NOSIGNAL);
                break;
            }
            case GARBAGE: {
                od_wbuf_t b;
                od_wbuf_init(&b);
                od_write_i16(&b, 0);
                od_write_i32(&b, 1000000); /* array count far beyond the bytes */
                send_frame(s->cfd, h.correlation_id, 0, &b);
                od_wbuf_free(&b);
                break;
            }
            }
        }
        memmove(s->buf, s->buf + 4 + sz, s->len - 4 - sz);
        s->len -= 4 + sz;
    }
}

static void srv_on_listen(void *arg, int fd, uint32_t ev)
{
    srv_t *s = arg;
    int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    (void)ev;
    if (c < 0)
        return;
    srv_close_conn(s); /* one client at a time: the peer makes one connection */
    s->cfd = c;
    s->accepted++;
    od_loop_watch(s->loop, c, OD_LOOP_READ, srv_on_conn, s);
}

static int srv_listen(srv_t *s, int port)
{
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int one = 1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s->lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(s->lfd, 8) < 0)
        return -1;
    getsockname(s->lfd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    return od_loop_watch(s->loop, s->lfd, OD_LOOP_READ, srv_on_listen, s);
}

static void srv_stop_listening(srv_t *s)
{
    od_loop_unwatch(s->loop, s->lfd);
    close(s->lfd);
    s->lfd = -1;
}

/* ---- client side -------------------------------------------------------- */

typedef struct result {
    int done;
    od_peer_status_t st;
    int32_t corr;
    int32_t echoed;  /* throttle_time_ms of a decoded ApiVersions response */
    int napis;
    char raw[32];
    int order;
} result_t;

static int order_seq;
static od_peer_t *free_me_in_cb;

static void on_resp(void *arg, od_peer_status_t st, const od_peer_response_t *resp)
{
    result_t *r = arg;
    r->done = 1;
    r->st = st;
    r->order = ++order_seq;
    if (resp) {
        r->corr = resp->correlation_id;
        if (resp->decoded) {
            const od_ApiVersionsResponse_t *av = resp->decoded;
            r->echoed = av->throttle_time_ms;
            r->napis = av->api_keys_count;
        } else {
            size_t n = od_slice_left(&resp->body);
            if (n >= sizeof r->raw)
                n = sizeof r->raw - 1;
            memcpy(r->raw, resp->body.p, n);
            r->raw[n] = 0;
        }
    }
    if (free_me_in_cb) {
        od_peer_t *p = free_me_in_cb;
        free_me_in_cb = NULL;
        od_peer_free(p);
    }
}

static int send_av(od_peer_t *p, int16_t ver, int64_t timeout, result_t *r)
{
    od_wbuf_t b;
    od_ApiVersionsRequest_t q;
    int rc;
    od_ApiVersionsRequest_init(&q);
    q.client_software_name = od_str_c("test");
    q.client_software_version = od_str_c("1");
    od_wbuf_init(&b);
    od_ApiVersionsRequest_encode(&b, ver, &q);
    memset(r, 0, sizeof *r);
    rc = od_peer_send(p, OD_API_API_VERSIONS, ver, &b, timeout, OD_PEER_DECODE, on_resp, r);
    od_wbuf_free(&b);
    return rc;
}

static int all_done(result_t *r, int n)
{
    int i;
    for (i = 0; i < n; i++)
        if (!r[i].done)
            return 0;
    return 1;
}

static void run_until_all(result_t *r, int n, int64_t ms)
{
    int64_t end = od_mono_ms() + ms;
    while (!all_done(r, n) && od_mono_ms() < end) {
        int64_t t = od_loop_timer(L, 20, stop_loop, NULL);
        od_loop_run(L);
        od_loop_cancel(L, t);
    }
}

int main(void)
{
    od_peer_opts_t o;
    od_peer_t *p;
    result_t r[4];
    od_wbuf_t b;
    int port, i;

    tap_no_plan();
    L = od_loop_new();
    memset(&S, 0, sizeof S);
    S.loop = L;
    S.cfd = -1;
    if (srv_listen(&S, 0) < 0) {
        tap_ok(0, "listen");
        return tap_done();
    }
    memset(&o, 0, sizeof o);
    o.client_id = "peer-test";
    o.reconnect_backoff_ms = 20;
    o.reconnect_backoff_max_ms = 80;
    o.max_response_bytes = 1 << 20;
    p = od_peer_new(L, "127.0.0.1", S.port, &o);
    tap_ok(p != NULL, "peer made");
    tap_ok(!od_peer_connected(p), "no connection before the first request");

    /* Pipelined, flexible (v3) and classic (v1) headers, decoded. */
    tap_ok(send_av(p, 3, 2000, &r[0]) == 0, "send ApiVersions v3");
    tap_ok(send_av(p, 1, 2000, &r[1]) == 0, "send ApiVersions v1");
    tap_ok(send_av(p, 3, 2000, &r[2]) == 0, "send ApiVersions v3 again");
    run_until_all(r, 3, 3000);
    tap_ok(all_done(r, 3), "three answers");
    for (i = 0; i < 3; i++)
        tap_ok(r[i].st == OD_PEER_OK && r[i].echoed == r[i].corr && r[i].napis == 2,
               "answer %d: ok, decoded, its own correlation id (%d)", i, r[i].corr);
    tap_ok(r[0].order < r[1].order && r[1].order < r[2].order, "in request order");
    tap_ok(r[0].corr != r[1].corr && r[1].corr != r[2].corr, "distinct correlation ids");
    tap_ok(!strcmp(S.last_client, "peer-test"), "client id in the header");
    tap_ok(S.accepted == 1 && od_peer_connected(p), "one connection for all of them");

    /* Raw body of a classic request (Metadata v1, empty topic list). */
    od_wbuf_init(&b);
    od_write_i32(&b, -1);
    memset(&r[0], 0, sizeof r[0]);
    tap_ok(od_peer_send(p, OD_API_METADATA, 1, &b, 2000, 0, on_resp, &r[0]) == 0, "send raw");
    od_wbuf_free(&b);
    run_until_all(r, 1, 3000);
    tap_ok(r[0].st == OD_PEER_OK && !strcmp(r[0].raw, "raw-bytes"), "raw body handed over");
    tap_ok(S.last_key == OD_API_METADATA && S.last_ver == 1, "api key and version in header");

    /* Bad arguments. */
    od_wbuf_init(&b);
    tap_ok(od_peer_send(p, 9999, 0, &b, 100, 0, on_resp, &r[0]) < 0, "unknown api refused");
    tap_ok(od_peer_send(p, OD_API_API_VERSIONS, 99, &b, 100, 0, on_resp, &r[0]) < 0,
           "unknown version refused");
    od_wbuf_free(&b);
    tap_ok(od_peer_new(L, "127.0.0.1", 0, NULL) == NULL, "port 0 refused");

    /* Timeout: the connection is replaced, the next request is answered. */
    S.mode = SILENT;
    send_av(p, 3, 150, &r[0]);
    run_until_all(r, 1, 3000);
    tap_ok(r[0].st == OD_PEER_ETIMEDOUT, "silent server: timed out (%s)",
           od_peer_status_name(r[0].st));
    S.mode = ANSWER;
    send_av(p, 3, 3000, &r[0]);
    run_until_all(r, 1, 4000);
    tap_ok(r[0].st == OD_PEER_OK && S.accepted == 2, "after a timeout: new connection, answered");

    /* Lost connection with requests in flight. */
    S.mode = CLOSE;
    send_av(p, 3, 3000, &r[0]);
    run_until_all(r, 1, 4000);
    tap_ok(r[0].st == OD_PEER_EDISCONNECTED, "closed by the server: disconnected");

    /* An answer to another correlation id, an oversized frame, garbage. */
    S.mode = WRONG_CORR;
    send_av(p, 3, 3000, &r[0]);
    run_until_all(r, 1, 4000);
    tap_ok(r[0].st == OD_PEER_EDISCONNECTED, "wrong correlation id: connection dropped");
    S.mode = HUGE;
    send_av(p, 3, 3000, &r[0]);
    run_until_all(r, 1, 4000);
    tap_ok(r[0].st == OD_PEER_EDISCONNECTED, "response over max_response_bytes: dropped");
    S.mode = GARBAGE;
    send_av(p, 0, 3000, &r[0]);
    run_until_all(r, 1, 4000);
    tap_ok(r[0].st == OD_PEER_EMALFORMED, "undecodable body: malformed");

    /* Nothing listening, then a listener: reconnects after backoff. */
    S.mode = ANSWER;
    port = S.port;
    srv_stop_listening(&S);
    srv_close_conn(&S);
    od_peer_free(p);
    p = od_peer_new(L, "127.0.0.1", port, &o);
    send_av(p, 3, 5000, &r[0]);
    {
        int never = 0;
        run_until(&never, 300);
    }
    tap_ok(!r[0].done, "refused: the request waits for a connection");
    srv_listen(&S, port);
    run_until_all(r, 1, 6000);
    tap_ok(r[0].done && r[0].st == OD_PEER_OK, "listener back: reconnected and answered");

    /* Bounded queue. */
    {
        od_peer_opts_t small = o;
        od_peer_t *q;
        int accepted = 0;
        small.max_queued_bytes = 2000;
        q = od_peer_new(L, "127.0.0.1", S.port, &small);
        static result_t many[100];
        for (i = 0; i < 100; i++)
            if (send_av(q, 3, 1000, &many[i]) == 0)
                accepted++;
        tap_ok(accepted > 0 && accepted < 100, "queue bounded by bytes (%d of 100 queued)", accepted);
        od_peer_free(q);
        for (i = 0; i < accepted; i++)
            if (many[i].st != OD_PEER_ECLOSED)
                break;
        tap_ok(i == accepted, "free: all %d pending requests closed", accepted);
    }

    /* Free with requests pending, and free from inside a callback. */
    S.mode = SILENT;
    send_av(p, 3, 5000, &r[0]);
    send_av(p, 3, 5000, &r[1]);
    run_until_all(r, 0, 100);
    od_peer_free(p);
    tap_ok(r[0].st == OD_PEER_ECLOSED && r[1].st == OD_PEER_ECLOSED, "free: pending get closed");
    S.mode = ANSWER;
    p = od_peer_new(L, "127.0.0.1", S.port, &o);
    send_av(p, 3, 3000, &r[0]);
    send_av(p, 3, 3000, &r[1]);
    free_me_in_cb = p;
    run_until_all(r, 2, 4000);
    tap_ok(r[0].st == OD_PEER_OK && r[1].st == OD_PEER_ECLOSED,
           "freed in the first callback: the second is closed");

    srv_close_conn(&S);
    srv_stop_listening(&S);
    od_loop_free(L);
    return tap_done();
}
