/* odr_consume.c - `odr consume TOPIC`: print records.
 *
 * Without --group the partitions are assigned directly at --offset. With a
 * group the topic is subscribed and what was printed is committed: each
 * printed record's offset is stored, and the stored offsets are committed
 * synchronously before exit (also on Ctrl-C), so a record is never counted
 * as consumed before it was written out. */
#include "odr.h"
#include "odr_decode.h"
#include "odr_format.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char consume_usage[] =
    "usage: odr consume TOPIC [--group G] [--num N] [--offset oldest|newest|N|@TIMESTAMP_MS]\n"
    "           [--partition P]... [-e|--exit] [-f FORMAT] [--serializer string]\n"
    "           [--value-format F] [--key-format F] [--registry URL]\n"
    "  --output json prints one object per line: topic, partition, offset, timestamp,\n"
    "  key, value, headers; -f takes %t %p %o %T %k %s %K %S %h (default \"%s\\n\");\n"
    "  with --group, --offset only says where a group without commits starts;\n"
    "  --value-format/--key-format (avro, json, protobuf, string, int, long, double)\n"
    "  print records as JSON, schemas fetched by id from --registry";

#define MAX_PARTS 1024

typedef struct consume_opts {
    const char *topic, *group, *format;
    int64_t num;          /* -1: no limit */
    int64_t offset;       /* RD_KAFKA_OFFSET_* or an offset */
    int64_t timestamp;    /* >= 0: start at this time */
    int exit_at_end;
    int32_t parts[MAX_PARTS];
    int nparts;
    const odr_serde_t *serde;
    odr_decoder_t *key_dec, *value_dec; /* --key-format, --value-format */
} consume_opts_t;

static int parse_offset(const char *s, consume_opts_t *o)
{
    o->timestamp = -1;
    if (strcmp(s, "oldest") == 0 || strcmp(s, "earliest") == 0 || strcmp(s, "start") == 0)
        o->offset = RD_KAFKA_OFFSET_BEGINNING;
    else if (strcmp(s, "newest") == 0 || strcmp(s, "latest") == 0 || strcmp(s, "end") == 0)
        o->offset = RD_KAFKA_OFFSET_END;
    else if (s[0] == '@')
        return odr_parse_i64(s + 1, 0, INT64_MAX, &o->timestamp);
    else
        return odr_parse_i64(s, 0, INT64_MAX, &o->offset);
    return 0;
}

/* Direct assignment: every (or each chosen) partition at the start offset. */
static int assign_partitions(odr_ctx_t *ctx, rd_kafka_t *rk, consume_opts_t *o, int *eofs)
{
    int code = 0;
    const rd_kafka_metadata_t *md = odr_metadata(ctx, rk, o->topic, &code);
    if (!md)
        return code;
    const rd_kafka_metadata_topic_t *t = &md->topics[0];
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(t->partition_cnt);
    for (int i = 0; i < t->partition_cnt; i++) {
        int32_t id = t->partitions[i].id;
        int want = o->nparts == 0;
        for (int k = 0; k < o->nparts; k++)
            want |= o->parts[k] == id;
        if (want)
            rd_kafka_topic_partition_list_add(l, o->topic, id)->offset =
                o->timestamp >= 0 ? o->timestamp : o->offset;
    }
    for (int k = 0; k < o->nparts && code == 0; k++)
        if (!rd_kafka_topic_partition_list_find(l, o->topic, o->parts[k]))
            code = odr_fail(ODR_EXIT_KAFKA, "UNKNOWN_TOPIC_OR_PARTITION: topic '%s' has no partition %d",
                            o->topic, (int)o->parts[k]);
    rd_kafka_metadata_destroy(md);
    if (code == 0 && o->timestamp >= 0) {
        rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rk, l, ctx->timeout_ms);
        if (e)
            code = odr_kafka_fail(e, NULL, "topic", o->topic);
        /* no record at or after the time: start at the end */
        for (int i = 0; code == 0 && i < l->cnt; i++)
            if (l->elems[i].offset < 0)
                l->elems[i].offset = RD_KAFKA_OFFSET_END;
    }
    if (code == 0) {
        rd_kafka_resp_err_t e = rd_kafka_assign(rk, l);
        if (e)
            code = odr_kafka_fail(e, NULL, "topic", o->topic);
        *eofs = l->cnt;
    }
    rd_kafka_topic_partition_list_destroy(l);
    return code;
}

/* How many partitions must be at their end for -e: all assigned ones (a
 * group member holds only its share). */
static int wanted_ends(rd_kafka_t *rk, const char *group, int assigned)
{
    if (!group)
        return assigned;
    rd_kafka_topic_partition_list_t *a = NULL;
    int n = assigned;
    if (rd_kafka_assignment(rk, &a) == RD_KAFKA_RESP_ERR_NO_ERROR && a) {
        n = a->cnt;
        rd_kafka_topic_partition_list_destroy(a);
    }
    return n;
}

/* One side of a record into out: as JSON text with a decoder (compact and
 * NUL terminated for --output json, indented for -f), else by the serde. */
static int decode_side(odr_ctx_t *ctx, const consume_opts_t *o, odr_decoder_t *dec,
                       const void *data, size_t len, odr_buf_t *out, char *err, size_t errsz)
{
    if (!dec)
        return o->serde->decode(data, len, out, err, errsz);
    char *text = NULL;
    if (odr_decode_json(dec, data, len, &text, err, errsz) != 0)
        return -1;
    if (!ctx->json) { /* pretty: parse the compact text again and indent it */
        json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
        char *pretty = j ? json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY) : NULL;
        json_decref(j);
        if (pretty) {
            free(text);
            text = pretty;
        }
    }
    out->len = 0;
    int rc = odr_buf_put(out, text, strlen(text) + (ctx->json ? 1 : 0));
    if (rc == 0 && ctx->json)
        out->len--; /* the NUL stays behind the text for odr_json_raw */
    free(text);
    if (rc != 0)
        snprintf(err, errsz, "out of memory");
    return rc;
}

int odr_cmd_consume(odr_ctx_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"group", required_argument, NULL, 'g'},
        {"num", required_argument, NULL, 'n'},
        {"offset", required_argument, NULL, 'O'},
        {"partition", required_argument, NULL, 'P'},
        {"exit", no_argument, NULL, 'e'},
        {"format", required_argument, NULL, 'f'},
        {"serializer", required_argument, NULL, 's'},
        {"value-format", required_argument, NULL, 'V'},
        {"key-format", required_argument, NULL, 'K'},
        {"registry", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static consume_opts_t o;
    o.num = -1;
    o.offset = RD_KAFKA_OFFSET_BEGINNING;
    o.timestamp = -1;
    o.format = "%s\\n";
    o.serde = odr_serde_find("string");
    const char *offset_arg = NULL, *value_format = NULL, *key_format = NULL, *registry = NULL;
    int c;
    odr_getopt_reset();
    while ((c = odr_getopt(argc, argv, "g:n:O:P:ef:s:h", opts, consume_usage)) >= 0) {
        int64_t v;
        switch (c) {
        case 'g': o.group = optarg; break;
        case 'n':
            if (odr_parse_i64(optarg, 1, INT64_MAX, &o.num) != 0)
                return odr_usage("--num takes a count >= 1, not '%s'", optarg);
            break;
        case 'O':
            offset_arg = optarg;
            if (parse_offset(optarg, &o) != 0)
                return odr_usage("--offset takes oldest, newest, an offset or @TIMESTAMP_MS, not '%s'",
                                 optarg);
            break;
        case 'P':
            if (odr_parse_i64(optarg, 0, INT32_MAX, &v) != 0 || o.nparts == MAX_PARTS)
                return odr_usage("--partition takes a partition number, not '%s'", optarg);
            o.parts[o.nparts++] = (int32_t)v;
            break;
        case 'e': o.exit_at_end = 1; break;
        case 'f': o.format = optarg; break;
        case 's':
            if (!(o.serde = odr_serde_find(optarg)))
                return odr_usage("unknown serializer '%s' (known: %s)", optarg, odr_serde_names());
            break;
        case 'V': value_format = optarg; break;
        case 'K': key_format = optarg; break;
        case 'r': registry = optarg; break;
        }
    }
    if (c != -1)
        return ODR_GETOPT_EXIT(c);
    if (optind + 1 != argc)
        return odr_usage("consume takes one TOPIC\n%s", consume_usage);
    o.topic = argv[optind];
    char err[256];
    if (odr_format_check(o.format, err, sizeof err) != 0)
        return odr_usage("-f: %s", err);
    if (o.group && offset_arg && (o.timestamp >= 0 || o.offset >= 0))
        return odr_usage("with --group, --offset takes oldest or newest (where a group without "
                         "commits starts); move a group with `odr group reset-offsets`");
    if (o.group && o.nparts)
        return odr_usage("--partition and --group exclude each other");
    odr_decoder_free(o.key_dec);
    odr_decoder_free(o.value_dec);
    o.key_dec = key_format ? odr_decoder_new(ctx, key_format, registry) : NULL;
    o.value_dec = value_format ? odr_decoder_new(ctx, value_format, registry) : NULL;
    if ((key_format && !o.key_dec) || (value_format && !o.value_dec))
        return odr_usage("unknown format '%s' (known: %s)",
                         key_format && !o.key_dec ? key_format : value_format,
                         odr_decode_formats());

    const char *defaults[] = {
        "enable.auto.commit", "false", /* the commit is ours: of what was printed */
        "enable.partition.eof", o.exit_at_end ? "true" : "false",
        "auto.offset.reset", o.offset == RD_KAFKA_OFFSET_END ? "latest" : "earliest",
        /* librdkafka's assign() needs a group id even when nothing joins
         * or commits; this one is never used for either */
        "group.id", o.group ? o.group : "odr-consume-assign",
        NULL,
    };
    int code = 0;
    rd_kafka_conf_t *conf = odr_conf_defaults(ctx, defaults, &code);
    if (!conf)
        return code;
    rd_kafka_t *rk = odr_client(ctx, RD_KAFKA_CONSUMER, conf, &code);
    if (!rk)
        return code;
    rd_kafka_poll_set_consumer(rk);
    int eofs_wanted = -1;
    rd_kafka_topic_partition_list_t *at_end = rd_kafka_topic_partition_list_new(16);
    if (o.group) {
        const rd_kafka_metadata_t *md = odr_metadata(ctx, rk, o.topic, &code);
        if (md) {
            eofs_wanted = md->topics[0].partition_cnt;
            rd_kafka_metadata_destroy(md);
            rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
            rd_kafka_topic_partition_list_add(l, o.topic, RD_KAFKA_PARTITION_UA);
            rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, l);
            if (e)
                code = odr_kafka_fail(e, NULL, "group", o.group);
            rd_kafka_topic_partition_list_destroy(l);
        }
    } else {
        code = assign_partitions(ctx, rk, &o, &eofs_wanted);
    }
    odr_catch_signals();
    odr_buf_t kb = {0}, vb = {0};
    int64_t printed = 0;
    rd_kafka_topic_partition_list_t *done = o.group ? rd_kafka_topic_partition_list_new(16) : NULL;
    while (code == 0 && !odr_stop && (o.num < 0 || printed < o.num)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m) {
            /* idle: what was printed reaches a pipe now, not at exit */
            fflush(stdout);
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            /* -e: stop once every partition consumed from is at its end at
             * the same time (a partition may report its end again later) */
            if (!rd_kafka_topic_partition_list_find(at_end, o.topic, m->partition))
                rd_kafka_topic_partition_list_add(at_end, o.topic, m->partition);
            if (o.exit_at_end && at_end->cnt >= wanted_ends(rk, o.group, eofs_wanted))
                odr_stop = 1;
        } else if (m->err) {
            /* a fatal error ends the run; the rest are retried by librdkafka */
            if (m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
                m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
                m->err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED ||
                m->err == RD_KAFKA_RESP_ERR__FATAL)
                code = odr_kafka_fail(m->err, rd_kafka_message_errstr(m), "topic", o.topic);
            else if (ctx->verbose)
                fprintf(stderr, "odr: %s\n", rd_kafka_message_errstr(m));
        } else {
            rd_kafka_topic_partition_list_del(at_end, o.topic, m->partition);
            int bad = (m->key && decode_side(ctx, &o, o.key_dec, m->key, m->key_len, &kb, err,
                                             sizeof err) != 0) ||
                      (m->payload && decode_side(ctx, &o, o.value_dec, m->payload, m->len, &vb,
                                                 err, sizeof err) != 0);
            if (bad) {
                fprintf(stderr, "odr: partition %d offset %lld: %s\n", (int)m->partition,
                        (long long)m->offset, err);
            } else {
                const odr_buf_t *k = m->key ? &kb : NULL, *v = m->payload ? &vb : NULL;
                if (ctx->json)
                    odr_format_json(stdout, m, k, v,
                                    (o.key_dec ? ODR_DECODED_KEY : 0) |
                                        (o.value_dec ? ODR_DECODED_VALUE : 0));
                else
                    odr_format_print(stdout, o.format, m, k, v);
                printed++;
            }
            /* Printed (or reported): it counts as consumed; the commit
             * below is of the offset after it. */
            if (done) {
                rd_kafka_topic_partition_t *tp =
                    rd_kafka_topic_partition_list_find(done, o.topic, m->partition);
                if (!tp)
                    tp = rd_kafka_topic_partition_list_add(done, o.topic, m->partition);
                tp->offset = m->offset + 1;
            }
        }
        rd_kafka_message_destroy(m);
    }
    fflush(stdout);
    if (done && done->cnt > 0) {
        rd_kafka_resp_err_t e = rd_kafka_commit(rk, done, 0); /* synchronous */
        if (e && code == 0)
            code = odr_kafka_fail(e, NULL, "group", o.group);
        if (ctx->verbose)
            fprintf(stderr, "odr: committed %d partitions for group %s (%s)\n", done->cnt, o.group,
                    rd_kafka_err2name(e));
    }
    if (done)
        rd_kafka_topic_partition_list_destroy(done);
    rd_kafka_topic_partition_list_destroy(at_end);
    odr_buf_free(&kb);
    odr_buf_free(&vb);
    odr_decoder_free(o.key_dec);
    odr_decoder_free(o.value_dec);
    o.key_dec = o.value_dec = NULL;
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return code;
}
