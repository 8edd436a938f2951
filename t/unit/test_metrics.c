/* test_metrics.c - the metrics area's pieces that stand alone: the
 * exposition writer (escaping, histograms), metrics.listener parsing, the
 * HTTP request parser, and module metrics (declare, add, render). */
#include <string.h>

#include "od_metrics_int.h"
#include "od_module.h"
#include "tap.h"

static int has(const od_mtext_t *t, const char *s) { return t->p && strstr(t->p, s) != NULL; }

static void test_expo(void)
{
    od_mtext_t t = {0};
    od_expo_family(&t, "x_total", "counter", "a \\ b\nc");
    tap_ok(has(&t, "# HELP x_total a \\\\ b\\nc\n# TYPE x_total counter\n"),
           "HELP escapes backslash and newline");
    od_mlabel_t l[2] = {{"topic", "t1"}, {"consumergroup", "g\"1\\\n"}};
    od_expo_int(&t, "x_total", l, 2, -42);
    tap_ok(has(&t, "x_total{topic=\"t1\",consumergroup=\"g\\\"1\\\\\\n\"} -42\n"),
           "label values escape quote, backslash, newline");
    od_expo_int(&t, "y", NULL, 0, 7);
    tap_ok(has(&t, "\ny 7\n"), "no braces without labels");
    od_expo_int(&t, "y0", NULL, 0, 0);
    od_expo_int(&t, "ymin", NULL, 0, INT64_MIN);
    od_expo_int(&t, "ymax", NULL, 0, INT64_MAX);
    tap_ok(has(&t, "\ny0 0\nymin -9223372036854775808\nymax 9223372036854775807\n"),
           "0 and the int64 extremes");
    od_expo_double(&t, "z", NULL, 0, 0.5);
    tap_ok(has(&t, "\nz 0.5\n"), "double sample");
    tap_ok(!t.err, "no error");
    od_mtext_free(&t);

    od_mhist_t h = {0};
    od_mhist_observe(&h, 50000);      /* exactly the first bound: le is inclusive */
    od_mhist_observe(&h, 50001);      /* second bucket */
    od_mhist_observe(&h, 3000000000); /* 3 s: le=5 */
    od_mhist_observe(&h, 20000000000LL); /* 20 s: only +Inf */
    od_mhist_observe(&h, -5);            /* clock went back: counted as 0 */
    tap_is_int((int64_t)h.count, 5, "count");
    tap_is_int((int64_t)h.bucket[0], 2, "first bucket holds the bound and the negative");
    tap_is_int((int64_t)h.bucket[OD_MHIST_NB], 1, "overflow bucket");
    od_mlabel_t r = {"request", "Produce"};
    od_expo_hist(&t, "lat_seconds", &r, 1, &h);
    tap_ok(has(&t, "lat_seconds_bucket{request=\"Produce\",le=\"5e-05\"} 2\n"), "first bucket line");
    tap_ok(has(&t, "lat_seconds_bucket{request=\"Produce\",le=\"0.0001\"} 3\n"),
           "cumulative second bucket");
    tap_ok(has(&t, "lat_seconds_bucket{request=\"Produce\",le=\"2.5\"} 3\n"), "2.5 s bucket");
    tap_ok(has(&t, "lat_seconds_bucket{request=\"Produce\",le=\"5\"} 4\n"), "5 s bucket");
    tap_ok(has(&t, "lat_seconds_bucket{request=\"Produce\",le=\"10\"} 4\n"), "10 s bucket");
    tap_ok(has(&t, "lat_seconds_bucket{request=\"Produce\",le=\"+Inf\"} 5\n"), "+Inf = count");
    tap_ok(has(&t, "lat_seconds_count{request=\"Produce\"} 5\n"), "_count");
    tap_ok(has(&t, "lat_seconds_sum{request=\"Produce\"} 23.000100001"), "_sum in seconds: %s",
           strstr(t.p, "_sum") ? strstr(t.p, "_sum") : "-");
    int lines = 0;
    for (const char *p = t.p; *p; p++)
        lines += *p == '\n';
    tap_is_int(lines, OD_MHIST_NB + 1 + 2, "one line per bucket, +Inf, sum and count");
    od_mtext_free(&t);

    /* A long line goes through the vsnprintf-twice path. */
    char big[1000];
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    od_mlabel_t bl = {"topic", big};
    od_expo_int(&t, "m", &bl, 1, 1);
    tap_is_int((int64_t)t.len, (int64_t)(strlen("m{topic=\"\"} 1\n") + 999), "long label value");
    od_mtext_free(&t);
}

static void test_url(void)
{
    char host[256], err[300];
    int port = -1;
    tap_is_int(od_metrics_url_parse(NULL, host, sizeof host, &port, err, sizeof err), 0, "unset: off");
    tap_is_int(od_metrics_url_parse("", host, sizeof host, &port, err, sizeof err), 0, "empty: off");
    tap_is_int(od_metrics_url_parse("http://127.0.0.1:9644", host, sizeof host, &port, err,
                                    sizeof err), 1, "loopback");
    tap_ok(strcmp(host, "127.0.0.1") == 0 && port == 9644, "host and port");
    tap_is_int(od_metrics_url_parse("http://:9644/", host, sizeof host, &port, err, sizeof err), 1,
               "all interfaces, trailing slash");
    tap_ok(host[0] == 0 && port == 9644, "empty host");
    tap_is_int(od_metrics_url_parse("HTTP://[::1]:0", host, sizeof host, &port, err, sizeof err), 1,
               "IPv6, port 0");
    tap_ok(strcmp(host, "::1") == 0 && port == 0, "IPv6 host");
    const char *bad[] = {"127.0.0.1:9644", "https://h:1", "http://h", "http://h:", "http://h:65536",
                         "http://h:-1", "http://h:12a", "http://h:9644/metrics", "http://[::1]9644",
                         "http://a/b:1", "http://h:123456"};
    int nbad = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        if (od_metrics_url_parse(bad[i], host, sizeof host, &port, err, sizeof err) != -1 || !err[0]) {
            tap_diag("accepted or no reason: %s", bad[i]);
            nbad++;
        }
    }
    tap_is_int(nbad, 0, "bad listeners refused with a reason");
}

static int parse(const char *s, od_http_req_t *rq) { return od_http_parse(s, strlen(s), rq); }

static void test_http(void)
{
    od_http_req_t rq;
    const char *g = "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\nGET /";
    tap_is_int(parse(g, &rq), OD_HTTP_OK, "GET parses");
    tap_ok(strcmp(rq.method, "GET") == 0 && strcmp(rq.path, "/metrics") == 0, "method, path");
    tap_ok(rq.keep_alive, "HTTP/1.1 keeps alive");
    tap_is_int((int64_t)rq.consumed, (int64_t)(strlen(g) - 5), "consumed stops at the blank line");
    tap_is_int(parse("GET /metrics HTTP/1.1\r\nHost: a\r\n", &rq), OD_HTTP_INCOMPLETE, "incomplete");
    tap_is_int(parse("GET /metrics HTTP/1.0\r\n\r\n", &rq), OD_HTTP_OK, "HTTP/1.0");
    tap_ok(!rq.keep_alive, "HTTP/1.0 closes");
    tap_is_int(parse("GET /metrics HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &rq), OD_HTTP_OK,
               "1.0 keep-alive");
    tap_ok(rq.keep_alive, "Connection: keep-alive honoured");
    tap_is_int(parse("GET /metrics HTTP/1.1\r\nconnection: close\r\n\r\n", &rq), OD_HTTP_OK, "close");
    tap_ok(!rq.keep_alive, "Connection: close honoured");
    tap_is_int(parse("HEAD / HTTP/1.1\r\n\r\n", &rq), OD_HTTP_OK, "HEAD /");
    tap_is_int(parse("GET /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &rq), OD_HTTP_OK,
               "Content-Length 0 is fine");
    tap_is_int(parse("POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\n", &rq), OD_HTTP_OK,
               "a body's length parses");
    tap_is_int(rq.content_length, 5, "Content-Length read");
    const char *bad[] = {
        "GET /metrics HTTP/1.1\r\nContent-Length: 5x\r\n\r\n",
        "POST /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET metrics HTTP/1.1\r\n\r\n",
        "GET /metrics HTTP/2.0\r\n\r\n",
        "GET /metrics\r\n\r\n",
        "get /metrics HTTP/1.1\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nNoColon\r\n\r\n",
        "GETTTTTTTTTTTTTTTTTTTT /metrics HTTP/1.1\r\n\r\n",
        " /metrics HTTP/1.1\r\n\r\n",
    };
    int nbad = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (parse(bad[i], &rq) != OD_HTTP_BAD) {
            tap_diag("not refused: %s", bad[i]);
            nbad++;
        }
    tap_is_int(nbad, 0, "malformed requests and bodies refused");
    tap_is_int(od_http_parse("\x00\x00\x00\x10", 4, &rq), OD_HTTP_BAD,
               "binary (a Kafka frame) is refused at once");

    /* Every proper prefix of a request is incomplete, the whole is OK. */
    const char *full = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9644\r\nUser-Agent: x\r\n\r\n";
    int wrong = 0;
    for (size_t n = 0; n < strlen(full); n++)
        wrong += od_http_parse(full, n, &rq) != OD_HTTP_INCOMPLETE;
    tap_is_int(wrong, 0, "every prefix is incomplete");
    tap_is_int(od_http_parse(full, strlen(full), &rq), OD_HTTP_OK, "the whole request is OK");

    /* Random heads (sanitizers watch the reads): always one of the three
     * answers, and consumed within the input. */
    uint32_t x = 12345;
    char buf[512];
    int odd = 0;
    const char alphabet[] = "GET /metrics HTTP/1.1\r\n:Connection close keep-alive\0\x7f";
    for (int it = 0; it < 20000; it++) {
        size_t n = 0, len;
        x = x * 1103515245u + 12345u;
        len = (x >> 16) % sizeof(buf);
        if (it % 2)
            n = (size_t)snprintf(buf, sizeof(buf), "GET /metrics HTTP/1.1\r\n");
        for (; n < len; n++) {
            x = x * 1103515245u + 12345u;
            buf[n] = alphabet[(x >> 16) % (sizeof(alphabet) - 1)];
        }
        int rc = od_http_parse(buf, len, &rq);
        if ((rc != OD_HTTP_OK && rc != OD_HTTP_BAD && rc != OD_HTTP_INCOMPLETE) ||
            (rc == OD_HTTP_OK && rq.consumed > len))
            odd++;
    }
    tap_is_int(odd, 0, "20000 random heads parse without surprises");
}

static void test_module_metrics(void)
{
    od_module_t mod = {.name = "storage_x"};
    od_module_ctx_t ctx = {.mod = &mod, .in_init = 1};
    const od_metric_def_t good[] = {
        {"storage_x_rolls_total", OD_METRIC_COUNTER, "rolls"},
        {"storage_x_dirty_bytes", OD_METRIC_GAUGE, "dirty"},
    };
    const od_metric_def_t bad_prefix[] = {{"other_rolls_total", OD_METRIC_COUNTER, "x"}};
    const od_metric_def_t bad_total[] = {{"storage_x_rolls", OD_METRIC_COUNTER, "x"}};
    const od_metric_def_t bad_gauge[] = {{"storage_x_g_total", OD_METRIC_GAUGE, "x"}};
    const od_metric_def_t bad_chars[] = {{"storage_x_Rolls_total", OD_METRIC_COUNTER, "x"}};
    const od_metric_def_t bad_type[] = {{"storage_x_h_total", 9, "x"}};
    tap_is_int(od_register_metrics(&ctx, good, 2), 0, "declare a counter and a gauge");
    tap_is_int(od_register_metrics(&ctx, good, 1), -1, "twice declared refused");
    tap_is_int(od_register_metrics(&ctx, bad_prefix, 1), -1, "name without the module's prefix");
    tap_is_int(od_register_metrics(&ctx, bad_total, 1), -1, "counter without _total");
    tap_is_int(od_register_metrics(&ctx, bad_gauge, 1), -1, "gauge with _total");
    tap_is_int(od_register_metrics(&ctx, bad_chars, 1), -1, "upper case");
    tap_is_int(od_register_metrics(&ctx, bad_type, 1), -1, "unknown type");
    ctx.in_init = 0;
    tap_is_int(od_register_metrics(&ctx, good, 1), -1, "outside init refused");
    tap_is_int(od_metrics_add("storage_x_rolls_total", 3), 0, "add to a counter");
    tap_is_int(od_metrics_add("storage_x_rolls_total", -1), -1, "counters do not go down");
    tap_is_int(od_metrics_add("storage_x_dirty_bytes", 10), 0, "gauge up");
    tap_is_int(od_metrics_add("storage_x_dirty_bytes", -4), 0, "gauge down");
    tap_is_int(od_metrics_add("storage_x_nope_total", 1), -1, "undeclared name");
    od_mtext_t t = {0};
    od_mmodule_render(&t);
    tap_ok(has(&t, "# TYPE odradek_storage_x_rolls_total counter\nodradek_storage_x_rolls_total 3\n"),
           "counter rendered with the odradek_ prefix");
    tap_ok(has(&t, "# TYPE odradek_storage_x_dirty_bytes gauge\nodradek_storage_x_dirty_bytes 6\n"),
           "gauge rendered");
    od_mtext_free(&t);
    od_mmodule_reset();
    tap_is_int(od_metrics_add("storage_x_rolls_total", 1), -1, "reset forgets the declarations");
}

int main(void)
{
    tap_no_plan();
    test_expo();
    test_url();
    test_http();
    test_module_metrics();
    return tap_done();
}
