/* odr_bench.c - `odr bench produce|consume`: load, then a summary with
 * records/s, MB/s and latency percentiles. The progress bar is drawn on
 * stderr only when stderr is a terminal. */
#include "odr.h"
#include "odr_json.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char bench_usage[] =
    "usage: odr bench produce TOPIC [-n RECORDS] [-s BYTES] [--acks 0|1|all]\n"
    "                 [--compression none|gzip|snappy|lz4|zstd]\n"
    "       odr bench consume TOPIC [-n RECORDS]\n"
    "  produce: latency is send to delivery report; consume: latency is now minus the\n"
    "  record's timestamp (end to end when the records were just produced)";

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

typedef struct bench {
    int64_t n, done, failed, bytes;
    int64_t *lat_us; /* per record */
    int64_t nlat;
    int64_t start_us, last_draw_us;
    int tty;
    rd_kafka_resp_err_t first_err;
} bench_t;

static void progress(bench_t *b, int final)
{
    if (!b->tty)
        return;
    int64_t t = now_us();
    if (!final && t - b->last_draw_us < 100000)
        return;
    b->last_draw_us = t;
    int width = 40, filled = b->n > 0 ? (int)(b->done * width / b->n) : 0;
    double secs = (double)(t - b->start_us) / 1e6;
    fprintf(stderr, "\r[");
    for (int i = 0; i < width; i++)
        fputc(i < filled ? '#' : '.', stderr);
    fprintf(stderr, "] %lld/%lld %.0f rec/s", (long long)b->done, (long long)b->n,
            secs > 0 ? (double)b->done / secs : 0.0);
    if (final)
        fputc('\n', stderr);
}

static int64_t pct(const int64_t *v, int64_t n, double p)
{
    if (n == 0)
        return -1;
    int64_t i = (int64_t)(p * (double)n);
    return v[i >= n ? n - 1 : i];
}

static int summary(odr_ctx_t *ctx, bench_t *b, const char *what, const char *topic)
{
    double secs = (double)(now_us() - b->start_us) / 1e6;
    if (secs <= 0)
        secs = 1e-6;
    qsort(b->lat_us, (size_t)b->nlat, sizeof *b->lat_us, cmp_i64);
    double rps = (double)b->done / secs, mbps = (double)b->bytes / secs / 1e6;
    int64_t p50 = pct(b->lat_us, b->nlat, 0.5), p99 = pct(b->lat_us, b->nlat, 0.99),
            p999 = pct(b->lat_us, b->nlat, 0.999);
    if (ctx->json) {
        odr_json_t j;
        odr_json_init(&j, stdout);
        odr_json_obj(&j);
        ODR_JSON_KS(&j, "bench", what);
        ODR_JSON_KS(&j, "topic", topic);
        ODR_JSON_KI(&j, "records", b->done);
        ODR_JSON_KI(&j, "failed", b->failed);
        ODR_JSON_KI(&j, "bytes", b->bytes);
        odr_json_key(&j, "seconds");
        odr_json_double(&j, secs);
        odr_json_key(&j, "records_per_sec");
        odr_json_double(&j, rps);
        odr_json_key(&j, "mb_per_sec");
        odr_json_double(&j, mbps);
        odr_json_key(&j, "latency_ms");
        odr_json_obj(&j);
        static const char *names[] = {"p50", "p99", "p999"};
        int64_t vals[] = {p50, p99, p999};
        for (int i = 0; i < 3; i++) {
            odr_json_key(&j, names[i]);
            vals[i] < 0 ? odr_json_null(&j) : odr_json_double(&j, (double)vals[i] / 1000.0);
        }
        odr_json_end(&j, '}');
        odr_json_end(&j, '}');
        odr_json_line(&j);
    } else {
        printf("%s %s: %lld records (%lld failed), %lld bytes in %.2f s\n", what, topic,
               (long long)b->done, (long long)b->failed, (long long)b->bytes, secs);
        printf("  %.0f records/s, %.2f MB/s\n", rps, mbps);
        if (b->nlat > 0)
            printf("  latency ms: p50 %.3f  p99 %.3f  p999 %.3f\n", (double)p50 / 1000.0,
                   (double)p99 / 1000.0, (double)p999 / 1000.0);
        else
            printf("  latency ms: no records\n");
    }
    return 0;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    bench_t *b = opaque;
    (void)rk;
    int64_t sent = (int64_t)(intptr_t)m->_private;
    b->done++;
    if (m->err) {
        if (b->failed++ == 0)
            b->first_err = m->err;
        return;
    }
    b->bytes += (int64_t)m->len;
    b->lat_us[b->nlat++] = now_us() - sent;
    progress(b, 0);
}

static int parse_common(int argc, char **argv, int64_t *n, int64_t *size, const char **acks,
                        const char **compression)
{
    static const struct option opts[] = {
        {"num", required_argument, NULL, 'n'},
        {"size", required_argument, NULL, 's'},
        {"acks", required_argument, NULL, 'a'},
        {"compression", required_argument, NULL, 'z'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    odr_getopt_reset();
    while ((c = odr_getopt(argc, argv, "n:s:h", opts, bench_usage)) >= 0) {
        if (c == 'n' && odr_parse_i64(optarg, 1, 1000000000, n) != 0)
            return odr_usage("-n takes a record count (1..1e9), not '%s'", optarg);
        if (c == 's' && (!size || odr_parse_i64(optarg, 0, 64 << 20, size) != 0))
            return odr_usage("-s takes a record size in bytes (0..64 MiB), not '%s'", optarg);
        if (c == 'a') {
            if (!acks || (strcmp(optarg, "0") && strcmp(optarg, "1") && strcmp(optarg, "all")))
                return odr_usage("--acks takes 0, 1 or all, not '%s'", optarg);
            *acks = optarg;
        }
        if (c == 'z') {
            if (!compression || (strcmp(optarg, "none") && strcmp(optarg, "gzip") &&
                                 strcmp(optarg, "snappy") && strcmp(optarg, "lz4") &&
                                 strcmp(optarg, "zstd")))
                return odr_usage("--compression takes none, gzip, snappy, lz4 or zstd");
            *compression = optarg;
        }
    }
    if (c != -1)
        return ODR_GETOPT_EXIT(c) ? ODR_EXIT_USAGE : -3;
    if (optind + 1 != argc)
        return odr_usage("bench takes one TOPIC\n%s", bench_usage);
    return 0;
}

static int bench_produce(odr_ctx_t *ctx, int argc, char **argv)
{
    int64_t n = 100000, size = 100;
    const char *acks = "all", *compression = "none";
    int code = parse_common(argc, argv, &n, &size, &acks, &compression);
    if (code)
        return code == -3 ? 0 : code;
    const char *topic = argv[optind];
    const char *defaults[] = {"acks", acks, "compression.codec", compression, "linger.ms", "5",
                              NULL};
    rd_kafka_conf_t *conf = odr_conf_defaults(ctx, defaults, &code);
    if (!conf)
        return code;
    static bench_t b;
    b.n = n;
    b.lat_us = malloc(sizeof *b.lat_us * (size_t)n);
    char *payload = malloc((size_t)size + 1);
    if (!b.lat_us || !payload) {
        rd_kafka_conf_destroy(conf);
        free(b.lat_us);
        free(payload);
        return odr_fail(ODR_EXIT_USAGE, "out of memory for %lld records", (long long)n);
    }
    for (int64_t i = 0; i < size; i++)
        payload[i] = (char)('a' + i % 26);
    b.tty = isatty(2);
    rd_kafka_conf_set_opaque(conf, &b);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = odr_client(ctx, RD_KAFKA_PRODUCER, conf, &code);
    const rd_kafka_metadata_t *md = rk ? odr_metadata(ctx, rk, topic, &code) : NULL;
    if (md) {
        rd_kafka_metadata_destroy(md);
        odr_catch_signals();
        b.start_us = now_us();
        for (int64_t i = 0; i < n && !odr_stop && code == 0; i++) {
            rd_kafka_resp_err_t e;
            do {
                e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                      RD_KAFKA_V_VALUE(payload, (size_t)size),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                      RD_KAFKA_V_OPAQUE((void *)(intptr_t)now_us()),
                                      RD_KAFKA_V_END);
                if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                    rd_kafka_poll(rk, 10);
            } while (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && !odr_stop);
            if (e && e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                code = odr_kafka_fail(e, NULL, "topic", topic);
            rd_kafka_poll(rk, 0);
        }
        while (rd_kafka_outq_len(rk) > 0 && !odr_stop)
            rd_kafka_flush(rk, 200);
        progress(&b, 1);
        summary(ctx, &b, "produce", topic);
        if (b.failed && code == 0)
            code = odr_kafka_fail(b.first_err, NULL, "topic", topic);
    }
    if (rk)
        rd_kafka_destroy(rk);
    free(b.lat_us);
    free(payload);
    return code;
}

static int bench_consume(odr_ctx_t *ctx, int argc, char **argv)
{
    int64_t n = 100000;
    int code = parse_common(argc, argv, &n, NULL, NULL, NULL);
    if (code)
        return code == -3 ? 0 : code;
    const char *topic = argv[optind];
    /* assign() needs a group id; nothing joins or commits with it */
    const char *defaults[] = {"enable.auto.commit", "false", "enable.partition.eof", "true",
                              "group.id", "odr-bench-assign", NULL};
    rd_kafka_conf_t *conf = odr_conf_defaults(ctx, defaults, &code);
    if (!conf)
        return code;
    static bench_t b;
    b.n = n;
    b.lat_us = malloc(sizeof *b.lat_us * (size_t)n);
    if (!b.lat_us) {
        rd_kafka_conf_destroy(conf);
        return odr_fail(ODR_EXIT_USAGE, "out of memory for %lld records", (long long)n);
    }
    b.tty = isatty(2);
    rd_kafka_t *rk = odr_client(ctx, RD_KAFKA_CONSUMER, conf, &code);
    const rd_kafka_metadata_t *md = rk ? odr_metadata(ctx, rk, topic, &code) : NULL;
    if (md) {
        int nparts = md->topics[0].partition_cnt, eofs = 0;
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(nparts);
        for (int i = 0; i < nparts; i++)
            rd_kafka_topic_partition_list_add(l, topic, md->topics[0].partitions[i].id)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_metadata_destroy(md);
        rd_kafka_assign(rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        odr_catch_signals();
        b.start_us = now_us();
        /* until N records, or the end of every partition */
        while (b.done < n && eofs < nparts && !odr_stop) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
            if (!m)
                continue;
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                eofs++;
            } else if (!m->err) {
                int64_t ts = rd_kafka_message_timestamp(m, NULL);
                b.bytes += (int64_t)m->len + (int64_t)m->key_len;
                if (ts > 0)
                    b.lat_us[b.nlat++] = (odr_now_ms() - ts) * 1000;
                b.done++;
                progress(&b, 0);
            }
            rd_kafka_message_destroy(m);
        }
        progress(&b, 1);
        summary(ctx, &b, "consume", topic);
        rd_kafka_consumer_close(rk);
    }
    if (rk)
        rd_kafka_destroy(rk);
    free(b.lat_us);
    return code;
}

int odr_cmd_bench(odr_ctx_t *ctx, int argc, char **argv)
{
    if (argc < 2)
        return odr_usage("bench needs produce or consume\n%s", bench_usage);
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        puts(bench_usage);
        return 0;
    }
    if (strcmp(argv[1], "produce") == 0)
        return bench_produce(ctx, argc - 1, argv + 1);
    if (strcmp(argv[1], "consume") == 0)
        return bench_consume(ctx, argc - 1, argv + 1);
    return odr_usage("unknown bench subcommand '%s'\n%s", argv[1], bench_usage);
}
