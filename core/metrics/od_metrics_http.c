/* od_metrics_http.c - the metrics endpoint on the shared HTTP server
 * (core/net/od_http.c): GET (or HEAD) /metrics answers the exposition
 * text, any other path 404, any other method 405; a request body is
 * refused. Connections are closed after metrics.connections.max.idle.ms
 * without progress, so a scraper that stops reading cannot hold memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_http.h"
#include "od_metrics_int.h"

static od_http_srv_t *metrics_srv;

int od_metrics_url_parse(const char *text, char *host, size_t hostsz, int *port, char *err,
                         size_t errsz)
{
    return od_http_url_parse(text, host, hostsz, port, err, errsz);
}

static void answer(void *arg, od_http_conn_t *c, const od_http_req_t *rq, const char *body,
                   size_t blen)
{
    od_core_t *core = arg;
    static const char plain[] = "text/plain; charset=utf-8";
    (void)body;
    (void)blen;
    int head = strcmp(rq->method, "HEAD") == 0;
    if (strcmp(rq->method, "GET") != 0 && !head) {
        static const char b[] = "only GET and HEAD\n";
        od_http_reply(c, 405, plain, "Allow: GET, HEAD\r\n", b, sizeof(b) - 1);
        return;
    }
    if (strcmp(rq->path, "/metrics") != 0) {
        static const char b[] = "not found; metrics are at /metrics\n";
        od_http_reply(c, 404, plain, NULL, b, sizeof(b) - 1);
        return;
    }
    static size_t last_len; /* the next scrape is about as large */
    od_mtext_t t = {0};
    od_mtext_reserve(&t, last_len + last_len / 8);
    od_metrics_render(core, &t);
    last_len = t.len;
    if (t.err) {
        static const char b[] = "out of memory\n";
        od_mtext_free(&t);
        od_http_reply(c, 500, plain, NULL, b, sizeof(b) - 1);
        return;
    }
    od_http_reply(c, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, t.p, t.len);
    od_mtext_free(&t);
}

int od_metrics_http_open(od_core_t *core, const char *host, int port, int64_t idle_ms, char *err,
                         size_t errsz)
{
    int bound = 0;
    metrics_srv = od_http_open(core->loop, "metrics.listener", host, port, idle_ms, 0, answer,
                               core, &bound, err, errsz);
    if (!metrics_srv)
        return -1;
    od_logf(OD_LOG_INFO, "metrics on http://%s%s%s:%d/metrics", strchr(host, ':') ? "[" : "",
            host[0] ? host : "*", strchr(host, ':') ? "]" : "", bound);
    return 0;
}

void od_metrics_http_close(od_core_t *core)
{
    (void)core;
    od_http_close(metrics_srv);
    metrics_srv = NULL;
}
