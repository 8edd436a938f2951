/* odr_produce.c - `odr produce TOPIC`: one record per line of stdin. */
#include "odr.h"
#include "odr_encode.h"
#include "odr_format.h"
#include "odr_json.h"
#include "odr_lines.h"
#include "odr_part.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char produce_usage[] =
    "usage: odr produce TOPIC [--key-delimiter D] [-H key=value]... [--partition N]\n"
    "           [--partitioner NAME [--partitioner-module FILE.so | --partitioner-lua FILE.lua]]\n"
    "           [--compression none|gzip|snappy|lz4|zstd] [--acks 0|1|all] [--serializer string]\n"
    "  one record per line of standard input; with --key-delimiter the text before the\n"
    "  first D is the key; prints nothing unless -v; exit 1 when any record failed\n"
    ODR_ENCODE_USAGE
    "  partitioners: murmur2 murmur2_random sticky consistent crc32 consistent_random\n"
    "                fnv1a fnv1a_random random round_robin, or one a broker partitioner\n"
    "                module or a Lua script (odradek.partitioner(NAME, fn)) registers";

#define MAX_HEADERS 64

typedef struct produce_state {
    odr_ctx_t *ctx;
    int64_t sent, delivered, failed;
    rd_kafka_resp_err_t first_err;
    const char *topic;
    odr_part_t *part; /* --partitioner, else NULL */
    odr_json_t json;
} produce_state_t;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    produce_state_t *st = opaque;
    (void)rk;
    if (m->err) {
        /* the topic may have been made again with fewer partitions */
        if (st->part && (m->err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
                         m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART))
            odr_part_stale(st->part);
        /* the first few in full; the count says the rest */
        if (st->failed++ == 0)
            st->first_err = m->err;
        if (st->failed <= 5)
            odr_kafka_fail(m->err, NULL, "topic", st->topic);
        return;
    }
    st->delivered++;
    if (!st->ctx->verbose)
        return;
    if (st->ctx->json) {
        odr_json_obj(&st->json);
        ODR_JSON_KS(&st->json, "topic", st->topic);
        ODR_JSON_KI(&st->json, "partition", m->partition);
        ODR_JSON_KI(&st->json, "offset", m->offset);
        odr_json_end(&st->json, '}');
        odr_json_line(&st->json);
    } else {
        printf("%s %d %lld\n", st->topic, (int)m->partition, (long long)m->offset);
    }
}

/* While stdin is quiet: delivery reports (and -v's offsets) as they come,
 * and what they printed flushed, so a pipe sees it too (a busy input keeps
 * stdout's buffering). */
static void serve_reports(void *rk)
{
    rd_kafka_poll(rk, 0);
    fflush(stdout);
}

/* One record to partition pt (RD_KAFKA_PARTITION_UA: librdkafka chooses),
 * waiting while the producer's queue is full. */
static rd_kafka_resp_err_t produce_one(rd_kafka_t *rk, const char *topic, int32_t pt,
                                       const odr_part_rec_t *r, const rd_kafka_headers_t *hdrs)
{
    rd_kafka_resp_err_t e;
    /* The record owns its headers only once producev succeeded. */
    rd_kafka_headers_t *h = hdrs ? rd_kafka_headers_copy(hdrs) : NULL;
    do {
        e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(pt),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_KEY(r->key, r->key_len),
                              RD_KAFKA_V_VALUE((void *)r->value, r->value_len),
                              RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 100);
    } while (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && !odr_stop);
    if (e && h)
        rd_kafka_headers_destroy(h);
    return e;
}

int odr_cmd_produce(odr_ctx_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"key-delimiter", required_argument, NULL, 'K'},
        {"header", required_argument, NULL, 'H'},
        {"partition", required_argument, NULL, 'P'},
        {"partitioner", required_argument, NULL, 'Q'},
        {"partitioner-module", required_argument, NULL, 'M'},
        {"partitioner-lua", required_argument, NULL, 'L'},
        {"compression", required_argument, NULL, 'z'},
        {"acks", required_argument, NULL, 'a'},
        {"serializer", required_argument, NULL, 's'},
        ODR_ENCODE_LONGOPTS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    odr_encode_args_t enc_args = {0}; /* --value-format and the like */
    odr_encoder_t *kenc = NULL, *venc = NULL;
    int enc_code = 0;
    const char *delim = NULL, *compression = "none", *acks = "all";
    char *headers[MAX_HEADERS];
    size_t nheaders = 0;
    int64_t partition = RD_KAFKA_PARTITION_UA;
    const odr_serde_t *serde = odr_serde_find("string");
    const char *part_name = NULL, *part_module = NULL, *part_lua = NULL;
    int c;
    odr_getopt_reset();
    while ((c = odr_getopt(argc, argv, "K:H:P:Q:M:L:z:a:s:h", opts, produce_usage)) >= 0) {
        switch (c) {
        case 'K':
            if (!*optarg)
                return odr_usage("--key-delimiter must not be empty");
            delim = optarg;
            break;
        case 'H':
            if (!strchr(optarg, '=') || *optarg == '=')
                return odr_usage("-H takes key=value, not '%s'", optarg);
            if (nheaders == MAX_HEADERS)
                return odr_usage("more than %d headers", MAX_HEADERS);
            headers[nheaders++] = optarg;
            break;
        case 'P':
            if (odr_parse_i64(optarg, 0, INT32_MAX, &partition) != 0)
                return odr_usage("--partition takes a partition number, not '%s'", optarg);
            break;
        case 'Q':
            part_name = optarg;
            break;
        case 'M':
            part_module = optarg;
            break;
        case 'L':
            part_lua = optarg;
            break;
        case 'z':
            if (strcmp(optarg, "none") && strcmp(optarg, "gzip") && strcmp(optarg, "snappy") &&
                strcmp(optarg, "lz4") && strcmp(optarg, "zstd"))
                return odr_usage("--compression takes none, gzip, snappy, lz4 or zstd, not '%s'",
                                 optarg);
            compression = optarg;
            break;
        case 'a':
            if (strcmp(optarg, "0") && strcmp(optarg, "1") && strcmp(optarg, "all") &&
                strcmp(optarg, "-1"))
                return odr_usage("--acks takes 0, 1 or all, not '%s'", optarg);
            acks = optarg;
            break;
        case 's':
            if (!(serde = odr_serde_find(optarg)))
                return odr_usage("unknown serializer '%s' (known: %s)", optarg, odr_serde_names());
            break;
        default:
            if (odr_encode_option(&enc_args, c, optarg, &enc_code) && enc_code)
                return enc_code;
        }
    }
    if (c != -1)
        return ODR_GETOPT_EXIT(c);
    if ((enc_code = odr_encode_check(&enc_args)) != 0)
        return enc_code;
    if (optind + 1 != argc)
        return odr_usage("produce takes one TOPIC\n%s", produce_usage);
    if (part_name && partition != RD_KAFKA_PARTITION_UA)
        return odr_usage("--partition and --partitioner exclude each other");
    if ((part_module || part_lua) && !part_name)
        return odr_usage("--partitioner-module and --partitioner-lua need --partitioner NAME");
    if (part_module && part_lua)
        return odr_usage("--partitioner-module and --partitioner-lua exclude each other");
    const char *topic = argv[optind];
    int code = 0;
    odr_part_t *part = NULL;
    if (part_name && !(part = odr_part_open(ctx, part_name, part_module, part_lua, &code)))
        return code;

    char timeout[32];
    snprintf(timeout, sizeof timeout, "%d", ctx->timeout_ms < 1000 ? 1000 : ctx->timeout_ms);
    const char *defaults[] = {"compression.codec", compression, "acks", acks,
                              "message.timeout.ms", timeout, NULL};
    rd_kafka_conf_t *conf = odr_conf_defaults(ctx, defaults, &code);
    if (!conf) {
        odr_part_close(part);
        return code;
    }
    static produce_state_t st;
    st.ctx = ctx;
    st.topic = topic;
    st.part = part;
    odr_json_init(&st.json, stdout);
    rd_kafka_conf_set_opaque(conf, &st);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = odr_client(ctx, RD_KAFKA_PRODUCER, conf, &code);
    if (!rk) {
        odr_part_close(part);
        return code;
    }
    /* Say "no such topic" before reading any input. */
    const rd_kafka_metadata_t *md = odr_metadata(ctx, rk, topic, &code);
    if (!md) {
        odr_part_close(part);
        rd_kafka_destroy(rk);
        return code;
    }
    if (partition != RD_KAFKA_PARTITION_UA && partition >= md->topics[0].partition_cnt) {
        code = odr_fail(ODR_EXIT_KAFKA, "UNKNOWN_TOPIC_OR_PARTITION: topic '%s' has %d partitions; "
                        "there is no partition %lld", topic, md->topics[0].partition_cnt,
                        (long long)partition);
        rd_kafka_metadata_destroy(md);
        odr_part_close(part);
        rd_kafka_destroy(rk);
        return code;
    }
    if (part)
        odr_part_target(part, rk, topic, md->topics[0].partition_cnt);
    rd_kafka_metadata_destroy(md);

    odr_catch_signals();
    /* the schemas before any input: a missing subject stops the run, nothing read or sent */
    if ((code = odr_encoders_new(ctx, topic, &enc_args, &kenc, &venc)) != 0)
        odr_stop = 1;
    rd_kafka_headers_t *hdrs = NULL;
    if (nheaders) {
        hdrs = rd_kafka_headers_new(nheaders);
        for (size_t i = 0; i < nheaders; i++) {
            const char *eq = strchr(headers[i], '=');
            rd_kafka_header_add(hdrs, headers[i], eq - headers[i], eq + 1, -1);
        }
    }
    odr_lines_t input;
    odr_lines_init(&input, STDIN_FILENO);
    char *line;
    size_t len;
    int got;
    odr_buf_t kb = {0}, vb = {0};
    char err[256], perr[1024]; /* a script's message with its file and line */
    int64_t lineno = 0;
    while ((got = odr_lines_next(&input, &line, &len, serve_reports, rk, 100)) > 0) {
        lineno++;
        const char *val = line, *key = NULL;
        size_t vlen = len, klen = 0;
        char *d = delim ? strstr(line, delim) : NULL;
        if (d) {
            key = line;
            klen = (size_t)(d - line);
            val = d + strlen(delim);
            vlen = len - klen - strlen(delim);
        }
        if ((key && (kenc ? odr_encode(kenc, key, klen, &kb, err, sizeof err)
                          : serde->encode(key, klen, &kb, err, sizeof err)) != 0) ||
            (venc ? odr_encode(venc, val, vlen, &vb, err, sizeof err)
                  : serde->encode(val, vlen, &vb, err, sizeof err)) != 0) {
            code = odr_fail(ODR_EXIT_USAGE, "line %lld: %s", (long long)lineno, err);
            odr_fail(code, "nothing from line %lld on is sent%s", (long long)lineno,
                     lineno > 1 ? " (the lines before it are)" : "");
            break;
        }
        const odr_part_rec_t prec = {key ? kb.p : NULL, vb.p, key ? kb.len : 0, vb.len,
                                     headers, nheaders};
        rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
        int32_t pt = (int32_t)partition;
        int tries = 0;
        /* A partition the topic no longer has (it was made again with fewer):
         * the count is read again and the record placed once more. */
        do {
            if (part && (pt = odr_part_place(part, &prec, perr, sizeof perr)) == ODR_PART_FAILED)
                break;
            e = produce_one(rk, topic, pt, &prec, hdrs);
        } while (e == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION && part && tries++ == 0 &&
                 odr_part_refresh(part) == 0);
        if (pt == ODR_PART_FAILED) {
            if (++st.failed <= 5)
                odr_fail(ODR_EXIT_KAFKA, "line %lld: %s", (long long)lineno, perr);
            continue;
        }
        if (e) {
            code = odr_kafka_fail(e, NULL, "topic", topic);
            break;
        }
        st.sent++;
        rd_kafka_poll(rk, 0);
    }
    if (got < 0 && code == 0)
        code = odr_fail(ODR_EXIT_USAGE, "reading standard input: %s", strerror(errno));
    odr_lines_free(&input);
    odr_buf_free(&kb);
    odr_buf_free(&vb);
    odr_encoder_free(kenc);
    odr_encoder_free(venc);
    if (hdrs)
        rd_kafka_headers_destroy(hdrs);
    /* Every record is delivered or failed within message.timeout.ms. */
    while (rd_kafka_outq_len(rk) > 0 && !(odr_stop && code))
        rd_kafka_flush(rk, 500);
    if (st.failed > 5)
        fprintf(stderr, "odr: %lld records failed in all\n", (long long)st.failed);
    if (st.failed && code == 0)
        code = odr_exit_for(st.first_err);
    if (ctx->verbose)
        fprintf(stderr, "odr: %lld records sent, %lld delivered, %lld failed\n",
                (long long)st.sent, (long long)st.delivered, (long long)st.failed);
    rd_kafka_destroy(rk);
    odr_part_close(part);
    return code;
}
