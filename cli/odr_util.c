/* odr_util.c - client set-up, Kafka errors in a user's words, parsing. */
#include "odr.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <getopt.h>

volatile int odr_stop;

static void on_signal(int sig)
{
    (void)sig;
    odr_stop = 1;
}

void odr_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static void vsay(const char *fmt, va_list ap)
{
    fputs("odr: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int odr_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsay(fmt, ap);
    va_end(ap);
    return ODR_EXIT_USAGE;
}

int odr_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsay(fmt, ap);
    va_end(ap);
    return code;
}

int odr_exit_for(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
        return ODR_EXIT_UNREACHABLE;
    default:
        return ODR_EXIT_KAFKA;
    }
}

/* What an error means and what to do, with %1$s the subject ("topic 'x'")
 * and %2$s the bare name. */
static const struct {
    rd_kafka_resp_err_t err;
    const char *advice;
} advice[] = {
    {RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS, "%1$s already exists; use `odr topic describe %2$s`"},
    {RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
     "%1$s does not exist; `odr topic list` shows the topics, `odr topic create %2$s` makes it"},
    {RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC,
     "%1$s does not exist; `odr topic list` shows the topics, `odr topic create %2$s` makes it"},
    {RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION, "%1$s has no such partition; see `odr topic describe %2$s`"},
    {RD_KAFKA_RESP_ERR_INVALID_PARTITIONS,
     "the partition count for %1$s is not valid (at least 1, and more than it has now when adding)"},
    {RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR,
     "the replication factor for %1$s is not valid (at least 1, at most the number of brokers: "
     "`odr cluster info`)"},
    {RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION,
     "%1$s is not a valid topic name (letters, digits, '.', '_', '-'; at most 249 characters)"},
    {RD_KAFKA_RESP_ERR_INVALID_CONFIG, "a config key or value for %1$s is not valid"},
    {RD_KAFKA_RESP_ERR_POLICY_VIOLATION, "the broker's policy refused the change to %1$s"},
    {RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP,
     "%1$s still has members; stop its consumers first (`odr group describe %2$s`)"},
    {RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND, "%1$s does not exist; `odr group list` shows the groups"},
    {RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID,
     "%1$s has active members; stop its consumers before changing its offsets"},
    {RD_KAFKA_RESP_ERR_SECURITY_DISABLED,
     "the broker has no authorizer (set authorizer.class.name on the broker to use ACLs)"},
    {RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE,
     "the broker does not support this request (it is not in its ApiVersions)"},
    {RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION, "the broker does not support this request's version"},
    {RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
     "not allowed on %1$s; ask an administrator for an ACL (`odr acl list`)"},
    {RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED,
     "not allowed on %1$s; ask an administrator for an ACL (`odr acl list`)"},
    {RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED,
     "not allowed on the cluster; ask an administrator for an ACL (`odr acl list`)"},
    {RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED,
     "the broker refused the login; check sasl.username/sasl.password (-X or the profile)"},
    {RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE,
     "a record is larger than %1$s accepts (max.message.bytes)"},
    {RD_KAFKA_RESP_ERR_INVALID_RECORD, "the broker rejected a record for %1$s"},
    {RD_KAFKA_RESP_ERR_NOT_CONTROLLER, "the broker is not the controller; try again"},
    {RD_KAFKA_RESP_ERR__TIMED_OUT,
     "no answer within the timeout; check --brokers and that the broker runs (--timeout waits longer)"},
    {RD_KAFKA_RESP_ERR__TRANSPORT, "the connection to the broker failed; check --brokers"},
    {RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, "no broker is reachable; check --brokers"},
};

int odr_kafka_fail(rd_kafka_resp_err_t err, const char *broker_msg, const char *kind,
                   const char *name)
{
    char subject[512];
    if (kind && name)
        snprintf(subject, sizeof subject, "%s '%s'", kind, name);
    else
        snprintf(subject, sizeof subject, "%s", kind ? kind : "the request");
    const char *what = NULL;
    for (size_t i = 0; i < sizeof advice / sizeof advice[0]; i++)
        if (advice[i].err == err)
            what = advice[i].advice;
    fprintf(stderr, "odr: %s: ", rd_kafka_err2name(err));
    if (what) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        fprintf(stderr, what, subject, name ? name : "");
#pragma GCC diagnostic pop
    } else {
        fprintf(stderr, "%s failed: %s", subject, rd_kafka_err2str(err));
    }
    /* The broker's message adds detail unless it only repeats the name. */
    if (broker_msg && *broker_msg && strcmp(broker_msg, rd_kafka_err2str(err)) != 0)
        fprintf(stderr, " (broker: %s)", broker_msg);
    fputc('\n', stderr);
    return odr_exit_for(err);
}

static void quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    (void)level;
    (void)fac;
    (void)buf;
}

int odr_conf_set(rd_kafka_conf_t *conf, const char *key, const char *val)
{
    char err[512];
    if (rd_kafka_conf_set(conf, key, val, err, sizeof err) != RD_KAFKA_CONF_OK)
        return odr_usage("bad setting %s=%s: %s", key, val, err);
    return 0;
}

rd_kafka_conf_t *odr_conf(odr_ctx_t *ctx, int *code)
{
    return odr_conf_defaults(ctx, NULL, code);
}

rd_kafka_conf_t *odr_conf_defaults(odr_ctx_t *ctx, const char *const *defaults, int *code)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int rc = odr_conf_set(conf, "bootstrap.servers", ctx->brokers);
    /* Looking a topic up must not create it (Metadata's auto-creation);
     * -X allow.auto.create.topics=true turns it back on. */
    if (rc == 0)
        rc = odr_conf_set(conf, "allow.auto.create.topics", "false");
    if (rc == 0)
        rc = odr_conf_set(conf, "client.id", "odr");
    for (size_t i = 0; rc == 0 && defaults && defaults[i]; i += 2)
        rc = odr_conf_set(conf, defaults[i], defaults[i + 1]);
    for (size_t i = 0; rc == 0 && i < ctx->nsettings; i++)
        rc = odr_conf_set(conf, ctx->set_key[i], ctx->set_val[i]);
    if (rc != 0) {
        rd_kafka_conf_destroy(conf);
        *code = rc;
        return NULL;
    }
    if (!ctx->verbose)
        rd_kafka_conf_set_log_cb(conf, quiet_log);
    return conf;
}

rd_kafka_t *odr_client(odr_ctx_t *ctx, rd_kafka_type_t type, rd_kafka_conf_t *conf, int *code)
{
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        *code = odr_usage("cannot make a client: %s", err);
        return NULL;
    }
    /* One Metadata round trip tells "cannot reach" apart from everything
     * else, quickly, before any request with side effects. */
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, NULL, &md, ctx->timeout_ms);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        *code = odr_exit_for(e) == ODR_EXIT_UNREACHABLE
                    ? odr_fail(ODR_EXIT_UNREACHABLE,
                               "cannot reach the brokers %s within %d ms (%s); check --brokers "
                               "and that a broker runs there",
                               ctx->brokers, ctx->timeout_ms, rd_kafka_err2name(e))
                    : odr_kafka_fail(e, NULL, "the cluster", NULL);
        rd_kafka_destroy(rk);
        return NULL;
    }
    rd_kafka_metadata_destroy(md);
    return rk;
}

rd_kafka_t *odr_admin(odr_ctx_t *ctx, int *code)
{
    rd_kafka_conf_t *conf = odr_conf(ctx, code);
    return conf ? odr_client(ctx, RD_KAFKA_PRODUCER, conf, code) : NULL;
}

rd_kafka_AdminOptions_t *odr_admin_options(odr_ctx_t *ctx, rd_kafka_t *rk, rd_kafka_admin_op_t op)
{
    char err[256];
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, op);
    rd_kafka_AdminOptions_set_request_timeout(o, ctx->timeout_ms, err, sizeof err);
    if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS ||
        op == RD_KAFKA_ADMIN_OP_CREATEPARTITIONS)
        rd_kafka_AdminOptions_set_operation_timeout(o, ctx->timeout_ms, err, sizeof err);
    return o;
}

rd_kafka_event_t *odr_admin_wait(odr_ctx_t *ctx, rd_kafka_queue_t *q, const char *kind,
                                 const char *name, int *code)
{
    /* The request timeout is enforced by librdkafka; wait a little longer. */
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, ctx->timeout_ms + 2000);
    if (!ev) {
        *code = odr_fail(ODR_EXIT_UNREACHABLE, "no answer from the brokers within %d ms",
                         ctx->timeout_ms);
        return NULL;
    }
    rd_kafka_resp_err_t e = rd_kafka_event_error(ev);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        *code = odr_kafka_fail(e, rd_kafka_event_error_string(ev), kind, name);
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    return ev;
}

const rd_kafka_metadata_t *odr_metadata(odr_ctx_t *ctx, rd_kafka_t *rk, const char *topic,
                                        int *code)
{
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_t *rkt = topic ? rd_kafka_topic_new(rk, topic, NULL) : NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, topic ? 0 : 1, rkt, &md, ctx->timeout_ms);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        *code = odr_kafka_fail(e, NULL, topic ? "topic" : "the cluster", topic);
        return NULL;
    }
    if (topic && (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR)) {
        e = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
        *code = odr_kafka_fail(e, NULL, "topic", topic);
        rd_kafka_metadata_destroy(md);
        return NULL;
    }
    return md;
}

int odr_split_kv(const char *arg, char *buf, size_t bufsz, const char **key, const char **val)
{
    const char *eq = strchr(arg, '=');
    size_t klen = eq ? (size_t)(eq - arg) : 0;
    if (!eq || klen == 0 || klen >= bufsz)
        return -1;
    memcpy(buf, arg, klen);
    buf[klen] = '\0';
    *key = buf;
    *val = eq + 1;
    return 0;
}

int odr_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    if (!s || !*s)
        return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int64_t odr_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t odr_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int odr_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
               const char *usage)
{
    opterr = 0;
    int c = getopt_long(argc, argv, shortopts, longopts, NULL);
    if (c == '?') {
        if (optopt)
            odr_usage("unknown option -%c, or it needs a value\n%s", optopt, usage);
        else
            odr_usage("unknown option %s, or it needs a value\n%s", argv[optind - 1], usage);
        return -2;
    }
    if (c == 'h') {
        fputs(usage, stdout);
        fputc('\n', stdout);
        return -3;
    }
    return c;
}

void odr_getopt_reset(void)
{
    optind = 0; /* GNU: start over, with its permuting of arguments */
}

int odr_no_options(int argc, char **argv, const char *usage)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    odr_getopt_reset();
    while ((c = odr_getopt(argc, argv, "h", opts, usage)) >= 0)
        ;
    return c == -1 ? -1 : ODR_GETOPT_EXIT(c);
}

void *odr_sorted_copy(const void *v, size_t n, size_t size,
                      int (*cmp)(const void *, const void *))
{
    void *copy = malloc(size * (n + 1)); /* + 1: never malloc(0) */
    if (copy && n) {
        memcpy(copy, v, size * n);
        qsort(copy, n, size, cmp);
    }
    return copy;
}
