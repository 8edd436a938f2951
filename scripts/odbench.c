/* odbench - produce/consume throughput and produce latency against any Kafka
 * broker, in the spirit of kafka-producer-perf-test and
 * kafka-consumer-perf-test, with librdkafka's C API.
 *
 *   odbench produce --brokers H:P --topic T --count N --size S [--rate R]
 *                   [--acks 1] [--linger-ms 5] [--batch-size B]
 *                   [--compression none] [--timeout-s 300]
 *   odbench consume --brokers H:P --topic T --count N [--timeout-s 300]
 *   odbench group   --brokers H:P --topic T --count N [--members 3] [--rounds 3]
 *                   [--rate 2000] [--timeout-s 300]
 *
 * group: --members consumers (threads) in one new group read N records of the
 * topic end to end, then --rounds times a member leaves while a producer
 * sends --rate msgs/s, timing the rebalance (see run_group below).
 *
 * Each run prints one human line and one `key=value` line (starting with
 * "result ") for scripts/bench.sh to parse.
 *
 * Produce latency is the time from a successful rd_kafka_produce() call to
 * the message's delivery report, measured with CLOCK_MONOTONIC per message.
 * Delivery reports are only served while we call rd_kafka_poll(), so the
 * loop polls after every message and, when rate limited, waits in
 * rd_kafka_poll() rather than in sleep so that a report is seen as soon as
 * it arrives. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>
#include <stdatomic.h>

#include <librdkafka/rdkafka.h>

typedef struct bench_opts {
    const char *brokers;
    const char *topic;
    long long count;
    long long size;
    long long rate; /* messages per second, 0 = unlimited */
    const char *acks;
    const char *linger_ms;
    const char *batch_size; /* NULL: librdkafka's default */
    const char *compression;
    long long timeout_s;
    const char *extra[32]; /* --set key=value, librdkafka properties */
    int nextra;
    int verbose;
    int members; /* group mode */
    int rounds;  /* group mode */
} bench_opts_t;

/* Producer state shared with the delivery report callback. */
typedef struct prod_state {
    int64_t *send_ns;   /* send time of message i, indexed by msg opaque */
    int64_t *lat_ns;    /* latencies of delivered messages, in arrival order */
    long long nlat;
    long long ndone;    /* delivery reports seen (ok or failed) */
    long long nerr;
    int64_t last_dr_ns; /* time of the last delivery report */
    char first_err[256];
} prod_state_t;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: odbench produce --brokers H:P --topic T --count N --size S\n"
            "                       [--rate MSGS_PER_SEC (0 = unlimited)] [--acks 1]\n"
            "                       [--linger-ms 5] [--batch-size BYTES]\n"
            "                       [--compression none|gzip|snappy|lz4|zstd]\n"
            "                       [--timeout-s 300] [--verbose] [--set PROP=VALUE]...\n"
            "       odbench consume --brokers H:P --topic T --count N\n"
            "                       [--timeout-s 300] [--verbose] [--set PROP=VALUE]...\n"
            "       odbench group   --brokers H:P --topic T --count N [--members 3]\n"
            "                       [--rounds 3] [--rate TRICKLE_MSGS_PER_SEC (2000)]\n"
            "                       [--timeout-s 300] [--verbose] [--set PROP=VALUE]...\n"
            "--set passes any librdkafka property (after odbench's own settings).\n");
}

static int set_conf(rd_kafka_conf_t *conf, const char *key, const char *val)
{
    char errstr[512];
    if (rd_kafka_conf_set(conf, key, val, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "odbench: config %s=%s: %s\n", key, val, errstr);
        return -1;
    }
    return 0;
}

static int parse_ll(const char *s, const char *what, long long min, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min) {
        fprintf(stderr, "odbench: bad %s: %s (want an integer >= %lld)\n", what, s, min);
        return -1;
    }
    *out = v;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array, in milliseconds. */
static double pct_ms(const int64_t *sorted, long long n, double p)
{
    if (n <= 0)
        return 0.0;
    long long rank = (long long)(p * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return (double)sorted[rank - 1] / 1e6;
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    prod_state_t *st = opaque;
    int64_t now = mono_ns();
    long long i = (long long)(uintptr_t)m->_private;
    st->ndone++;
    st->last_dr_ns = now;
    if (m->err) {
        if (st->nerr++ == 0)
            snprintf(st->first_err, sizeof st->first_err, "%s", rd_kafka_err2str(m->err));
        return;
    }
    st->lat_ns[st->nlat++] = now - st->send_ns[i];
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    fprintf(stderr, "odbench: librdkafka %d %s: %s\n", level, fac, buf);
}

/* The --set properties, applied last so that they override ours. */
static int apply_extra(rd_kafka_conf_t *conf, const bench_opts_t *o)
{
    for (int i = 0; i < o->nextra; i++) {
        char kv[512];
        snprintf(kv, sizeof kv, "%s", o->extra[i]);
        char *eq = strchr(kv, '=');
        if (!eq || eq == kv) {
            fprintf(stderr, "odbench: --set wants key=value, got %s\n", o->extra[i]);
            return -1;
        }
        *eq = '\0';
        if (set_conf(conf, kv, eq + 1))
            return -1;
    }
    return 0;
}

static rd_kafka_conf_t *base_conf(const bench_opts_t *o)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (set_conf(conf, "bootstrap.servers", o->brokers) ||
        set_conf(conf, "client.id", "odbench")) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    if (!o->verbose)
        set_conf(conf, "log_level", "3");
    rd_kafka_conf_set_log_cb(conf, log_cb);
    return conf;
}

static int run_produce(const bench_opts_t *o)
{
    char errstr[512];
    prod_state_t st;
    memset(&st, 0, sizeof st);
    st.send_ns = malloc((size_t)o->count * sizeof *st.send_ns);
    st.lat_ns = malloc((size_t)o->count * sizeof *st.lat_ns);
    char *payload = malloc((size_t)o->size ? (size_t)o->size : 1);
    if (!st.send_ns || !st.lat_ns || !payload) {
        fprintf(stderr, "odbench: out of memory for %lld messages\n", o->count);
        free(st.send_ns);
        free(st.lat_ns);
        free(payload);
        return 1;
    }
    /* Printable, not all-equal bytes, so that compression is not trivial. */
    for (long long i = 0; i < o->size; i++)
        payload[i] = (char)('A' + (i * 7 + i / 26) % 26);

    rd_kafka_conf_t *conf = base_conf(o);
    if (!conf || set_conf(conf, "acks", o->acks) ||
        set_conf(conf, "linger.ms", o->linger_ms) ||
        set_conf(conf, "compression.type", o->compression) ||
        set_conf(conf, "queue.buffering.max.messages", "1000000") ||
        set_conf(conf, "queue.buffering.max.kbytes", "1048576") ||
        set_conf(conf, "message.timeout.ms", "60000") ||
        (o->batch_size && set_conf(conf, "batch.size", o->batch_size)) ||
        apply_extra(conf, o)) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        free(st.send_ns);
        free(st.lat_ns);
        free(payload);
        return 1;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    rd_kafka_conf_set_opaque(conf, &st);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "odbench: rd_kafka_new: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        free(st.send_ns);
        free(st.lat_ns);
        free(payload);
        return 1;
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);

    int64_t start = mono_ns();
    int64_t deadline = start + (int64_t)o->timeout_s * 1000000000;
    int64_t interval = o->rate > 0 ? 1000000000 / o->rate : 0;
    long long sent = 0;
    int timed_out = 0;
    while (sent < o->count && !stop_requested) {
        int64_t now = mono_ns();
        if (now > deadline) {
            timed_out = 1;
            break;
        }
        if (interval) {
            int64_t due = start + sent * interval;
            if (now < due) {
                /* Ahead of schedule: sleep in poll for at least 1 ms and send
                 * what fell due meanwhile as a burst. Spinning on poll(0)
                 * here would take a core from librdkafka's threads and the
                 * broker on a small machine and distort the latencies. */
                int64_t wait_ms = (due - now) / 1000000;
                rd_kafka_poll(rk, wait_ms > 1 ? (int)wait_ms : 1);
                continue;
            }
        }
        st.send_ns[sent] = mono_ns();
        if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, 0, payload, (size_t)o->size, NULL, 0,
                             (void *)(uintptr_t)sent) == -1) {
            rd_kafka_resp_err_t err = rd_kafka_last_error();
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 5); /* let deliveries drain the queue */
                continue;
            }
            fprintf(stderr, "odbench: produce: %s\n", rd_kafka_err2str(err));
            break;
        }
        sent++;
        rd_kafka_poll(rk, 0);
    }
    /* Wait for the outstanding delivery reports, within the deadline. */
    while (st.ndone < sent && !stop_requested) {
        int64_t left_ms = (deadline - mono_ns()) / 1000000;
        if (left_ms <= 0) {
            timed_out = 1;
            break;
        }
        rd_kafka_flush(rk, left_ms > 100 ? 100 : (int)left_ms);
    }
    int64_t end = st.last_dr_ns > start ? st.last_dr_ns : mono_ns();

    double secs = (double)(end - start) / 1e9;
    qsort(st.lat_ns, (size_t)st.nlat, sizeof *st.lat_ns, cmp_i64);
    double rate = secs > 0 ? (double)st.nlat / secs : 0.0;
    double mbps = rate * (double)o->size / (1024.0 * 1024.0);
    double p50 = pct_ms(st.lat_ns, st.nlat, 0.50), p95 = pct_ms(st.lat_ns, st.nlat, 0.95);
    double p99 = pct_ms(st.lat_ns, st.nlat, 0.99), p999 = pct_ms(st.lat_ns, st.nlat, 0.999);
    double pmax = st.nlat ? (double)st.lat_ns[st.nlat - 1] / 1e6 : 0.0;

    printf("%lld records sent, %.1f records/sec (%.2f MB/sec), latency ms: p50 %.2f, "
           "p95 %.2f, p99 %.2f, p99.9 %.2f, max %.2f%s\n",
           st.nlat, rate, mbps, p50, p95, p99, p999, pmax,
           timed_out ? " (TIMED OUT)" : "");
    printf("result mode=produce topic=%s count=%lld size=%lld rate_target=%lld acks=%s "
           "linger_ms=%s compression=%s sent=%lld ok=%lld errors=%lld timed_out=%d "
           "elapsed_s=%.3f msgs_per_sec=%.1f mb_per_sec=%.2f p50_ms=%.3f p95_ms=%.3f "
           "p99_ms=%.3f p999_ms=%.3f max_ms=%.3f\n",
           o->topic, o->count, o->size, o->rate, o->acks, o->linger_ms, o->compression, sent,
           st.nlat, st.nerr, timed_out, secs, rate, mbps, p50, p95, p99, p999, pmax);
    if (st.nerr)
        fprintf(stderr, "odbench: %lld delivery errors, first: %s\n", st.nerr, st.first_err);
    fflush(stdout);

    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    int ok = st.nlat == o->count && !timed_out;
    free(st.send_ns);
    free(st.lat_ns);
    free(payload);
    return ok ? 0 : 1;
}

/* Number of partitions of the topic, waiting (within the deadline) for the
 * topic to appear with leaders. Returns -1 on timeout. */
static int topic_partitions(rd_kafka_t *rk, const char *topic, int64_t deadline)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    int n = -1;
    while (n < 0 && !stop_requested && mono_ns() < deadline) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 5000);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 &&
            md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topics[0].partition_cnt > 0) {
            int leaders = 1;
            for (int i = 0; i < md->topics[0].partition_cnt; i++)
                if (md->topics[0].partitions[i].leader < 0)
                    leaders = 0;
            if (leaders)
                n = md->topics[0].partition_cnt;
        }
        if (md)
            rd_kafka_metadata_destroy(md);
        if (n < 0) {
            struct timespec ts = {0, 200 * 1000000};
            nanosleep(&ts, NULL);
        }
    }
    rd_kafka_topic_destroy(rkt);
    return n;
}

static int run_consume(const bench_opts_t *o)
{
    char errstr[512];
    rd_kafka_conf_t *conf = base_conf(o);
    /* group.id is required by the API; no group coordination is used (we
     * assign partitions ourselves and never commit). The fetch settings let
     * a fetch carry plenty of data and keep a deep local queue. */
    if (!conf || set_conf(conf, "group.id", "odbench-unused") ||
        set_conf(conf, "enable.auto.commit", "false") ||
        set_conf(conf, "enable.auto.offset.store", "false") ||
        set_conf(conf, "auto.offset.reset", "earliest") ||
        set_conf(conf, "fetch.min.bytes", "1") ||
        set_conf(conf, "fetch.wait.max.ms", "100") ||
        set_conf(conf, "fetch.max.bytes", "52428800") ||
        set_conf(conf, "max.partition.fetch.bytes", "4194304") ||
        set_conf(conf, "queued.min.messages", "1000000") ||
        set_conf(conf, "queued.max.messages.kbytes", "1048576") || apply_extra(conf, o)) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        return 1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "odbench: rd_kafka_new: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    int64_t start = mono_ns();
    int64_t deadline = start + (int64_t)o->timeout_s * 1000000000;
    int nparts = topic_partitions(rk, o->topic, deadline);
    if (nparts < 0) {
        fprintf(stderr, "odbench: topic %s not found (or has no leader) before the timeout\n",
                o->topic);
        rd_kafka_destroy(rk);
        return 1;
    }
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(nparts);
    for (int p = 0; p < nparts; p++)
        rd_kafka_topic_partition_list_add(parts, o->topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t aerr = rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (aerr) {
        fprintf(stderr, "odbench: assign: %s\n", rd_kafka_err2str(aerr));
        rd_kafka_destroy(rk);
        return 1;
    }

    start = mono_ns(); /* measure from the assignment on */
    long long got = 0, bytes = 0, errors = 0;
    int64_t first_ns = 0, last_ns = start;
    int timed_out = 0;
    /* Messages are taken in batches from the consumer queue, as the Java
     * consumer's poll() returns a batch: per-message polling measures the
     * client's queue overhead rather than the broker. */
    enum { BATCH = 10000 };
    rd_kafka_message_t **batch = malloc(BATCH * sizeof(*batch));
    rd_kafka_queue_t *queue = rd_kafka_queue_get_consumer(rk);
    while (batch && queue && got < o->count && !stop_requested) {
        if (mono_ns() > deadline) {
            timed_out = 1;
            break;
        }
        ssize_t n = rd_kafka_consume_batch_queue(queue, 100, batch, BATCH);
        for (ssize_t i = 0; i < n; i++) {
            rd_kafka_message_t *m = batch[i];
            if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && errors++ == 0)
                    fprintf(stderr, "odbench: consume error: %s\n", rd_kafka_message_errstr(m));
            } else {
                got++;
                bytes += (long long)m->len + (long long)m->key_len;
            }
            rd_kafka_message_destroy(m);
        }
        if (n > 0) {
            last_ns = mono_ns();
            if (!first_ns)
                first_ns = last_ns;
        }
    }
    if (queue)
        rd_kafka_queue_destroy(queue);
    free(batch);
    double secs = (double)(last_ns - start) / 1e9;
    double rate = secs > 0 ? (double)got / secs : 0.0;
    double mbps = secs > 0 ? (double)bytes / secs / (1024.0 * 1024.0) : 0.0;
    double first_ms = first_ns ? (double)(first_ns - start) / 1e6 : -1.0;
    /* Steady state: from the first record on, without the start-up fetch. */
    double ssecs = first_ns && last_ns > first_ns ? (double)(last_ns - first_ns) / 1e9 : 0.0;
    double srate = ssecs > 0 ? (double)got / ssecs : 0.0;
    printf("%lld records received from %d partitions, %.1f records/sec (%.2f MB/sec), "
           "%.1f records/sec from the first record, first record after %.1f ms%s\n",
           got, nparts, rate, mbps, srate, first_ms, timed_out ? " (TIMED OUT)" : "");
    printf("result mode=consume topic=%s count=%lld partitions=%d received=%lld bytes=%lld "
           "errors=%lld timed_out=%d elapsed_s=%.3f msgs_per_sec=%.1f mb_per_sec=%.2f "
           "steady_msgs_per_sec=%.1f first_msg_ms=%.1f\n",
           o->topic, o->count, nparts, got, bytes, errors, timed_out, secs, rate, mbps, srate,
           first_ms);
    fflush(stdout);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return got == o->count && !timed_out ? 0 : 1;
}

/* ---- group mode ---------------------------------------------------------------------
 * odbench group: M consumers (one thread each) subscribe to the topic in one
 * new consumer group and read it end to end (msgs/s over the whole run, from
 * the first subscribe to the last message, so the join is included, and from
 * the first to the last message). Then the rebalance rounds: a producer
 * thread keeps a trickle of messages flowing into every partition, one member
 * close()s (LeaveGroup), and we time how long it takes until every remaining
 * member has its new assignment and has received a message after it ("the
 * group consumes again"); a new member then joins to restore M members for
 * the next round. Times are per round; the result line gives min/median/max.
 * Members use heartbeat.interval.ms=500 and session.timeout.ms=10000 (--set
 * overrides them): members hear of a rebalance through their heartbeat, so
 * the heartbeat interval bounds how fast a group can react to a leave. */

#define GROUP_MAX_MEMBERS 64
#define GROUP_MAX_ROUNDS 32

typedef struct gmember {
    rd_kafka_t *rk;
    pthread_t thread;
    int started;
    atomic_int close_now;      /* main -> thread: close() and exit */
    atomic_int done;           /* thread -> main: closed */
    atomic_int assigned;       /* partitions currently assigned */
    atomic_llong n_assign;     /* assign callbacks seen */
    atomic_llong assign_ns;    /* time of the last assign callback */
    atomic_llong first_msg_ns; /* first message after the last assign, 0 = none yet */
    atomic_llong received;
    int64_t close_start_ns, close_end_ns;
} gmember_t;

typedef struct gbench {
    const bench_opts_t *o;
    char group[128];
    atomic_llong received; /* all members */
    atomic_llong first_ns, last_ns;
    atomic_int stop;       /* producer and members: stop */
    gmember_t m[GROUP_MAX_MEMBERS];
    int nm;
    int nparts;
} gbench_t;

static gbench_t *g_bench; /* for the rebalance callback's opaque lookup */

static void group_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                               rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    gmember_t *m = opaque;
    int coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (coop) {
            rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, parts);
            if (e)
                rd_kafka_error_destroy(e);
            atomic_fetch_add(&m->assigned, parts->cnt);
        } else {
            rd_kafka_assign(rk, parts);
            atomic_store(&m->assigned, parts->cnt);
        }
        atomic_store(&m->first_msg_ns, 0);
        atomic_store(&m->assign_ns, mono_ns());
        atomic_fetch_add(&m->n_assign, 1);
    } else {
        if (coop) {
            rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
            if (e)
                rd_kafka_error_destroy(e);
            atomic_fetch_sub(&m->assigned, parts->cnt);
        } else {
            rd_kafka_assign(rk, NULL);
            atomic_store(&m->assigned, 0);
        }
    }
}

static void *group_member_main(void *arg)
{
    gmember_t *m = arg;
    gbench_t *g = g_bench;
    while (!atomic_load(&g->stop) && !atomic_load(&m->close_now) && !stop_requested) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(m->rk, 50);
        if (!msg)
            continue;
        if (!msg->err) {
            int64_t now = mono_ns();
            long long zero = 0;
            atomic_compare_exchange_strong(&m->first_msg_ns, &zero, now);
            atomic_fetch_add(&m->received, 1);
            atomic_fetch_add(&g->received, 1);
            zero = 0;
            atomic_compare_exchange_strong(&g->first_ns, &zero, now);
            atomic_store(&g->last_ns, now);
        }
        rd_kafka_message_destroy(msg);
    }
    m->close_start_ns = mono_ns();
    rd_kafka_consumer_close(m->rk);
    m->close_end_ns = mono_ns();
    atomic_store(&m->done, 1);
    return NULL;
}

static int group_member_start(gbench_t *g, int i)
{
    char errstr[512], cid[64];
    gmember_t *m = &g->m[i];
    memset(m, 0, sizeof *m);
    snprintf(cid, sizeof cid, "odbench-member-%d", i);
    rd_kafka_conf_t *conf = base_conf(g->o);
    if (!conf || set_conf(conf, "client.id", cid) || set_conf(conf, "group.id", g->group) ||
        set_conf(conf, "auto.offset.reset", "earliest") ||
        set_conf(conf, "enable.auto.commit", "true") ||
        set_conf(conf, "heartbeat.interval.ms", "500") ||
        set_conf(conf, "session.timeout.ms", "10000") ||
        set_conf(conf, "fetch.wait.max.ms", "100") ||
        set_conf(conf, "queued.min.messages", "100000") || apply_extra(conf, g->o)) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_conf_set_rebalance_cb(conf, group_rebalance_cb);
    rd_kafka_conf_set_opaque(conf, m);
    m->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!m->rk) {
        fprintf(stderr, "odbench: rd_kafka_new: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_poll_set_consumer(m->rk);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, g->o->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(m->rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (err) {
        fprintf(stderr, "odbench: subscribe: %s\n", rd_kafka_err2str(err));
        rd_kafka_destroy(m->rk);
        m->rk = NULL;
        return -1;
    }
    if (pthread_create(&m->thread, NULL, group_member_main, m)) {
        fprintf(stderr, "odbench: pthread_create failed\n");
        rd_kafka_destroy(m->rk);
        m->rk = NULL;
        return -1;
    }
    m->started = 1;
    return 0;
}

static void group_member_join(gmember_t *m)
{
    if (!m->started)
        return;
    atomic_store(&m->close_now, 1);
    pthread_join(m->thread, NULL);
    rd_kafka_destroy(m->rk);
    m->started = 0;
}

/* The live members (started, not closing) all have an assignment that
 * together covers the topic, and each has received a message since its last
 * assign. Sets *settled_ns to the latest of those first messages. */
static int group_consuming(gbench_t *g, int nparts, int64_t *settled_ns, int64_t *assigned_ns)
{
    int total = 0;
    int64_t latest = 0, latest_assign = 0;
    for (int i = 0; i < g->nm; i++) {
        gmember_t *m = &g->m[i];
        if (!m->started || atomic_load(&m->close_now))
            continue;
        int a = atomic_load(&m->assigned);
        long long f = atomic_load(&m->first_msg_ns), as = atomic_load(&m->assign_ns);
        if (a > 0 && !f)
            return 0;
        total += a;
        if (f > latest)
            latest = f;
        if (as > latest_assign)
            latest_assign = as;
    }
    if (total != nparts)
        return 0;
    *settled_ns = latest;
    *assigned_ns = latest_assign;
    return 1;
}

static void *group_producer_main(void *arg)
{
    gbench_t *g = arg;
    char errstr[512];
    rd_kafka_conf_t *conf = base_conf(g->o);
    if (!conf || set_conf(conf, "linger.ms", "1") || set_conf(conf, "acks", "1")) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, g->o->topic, NULL);
    long long rate = g->o->rate > 0 ? g->o->rate : 2000;
    int64_t start = mono_ns(), interval = 1000000000 / rate;
    long long sent = 0;
    static const char payload[] = "odbench-group-trickle";
    while (!atomic_load(&g->stop) && !stop_requested) {
        int64_t due = start + sent * interval, now = mono_ns();
        if (now < due) {
            int64_t w = (due - now) / 1000000;
            rd_kafka_poll(rk, w > 0 ? (int)w : 0);
            continue;
        }
        /* Explicit round robin: every partition must see traffic (the default
         * partitioner is sticky for null keys). */
        if (rd_kafka_produce(rkt, (int32_t)(sent % g->nparts), 0, (void *)payload,
                             sizeof payload - 1, NULL, 0, NULL) == -1)
            rd_kafka_poll(rk, 5);
        else
            sent++;
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 5000);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return NULL;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static int run_group(bench_opts_t *o)
{
    static gbench_t g;
    memset(&g, 0, sizeof g);
    g.o = o;
    g_bench = &g;
    snprintf(g.group, sizeof g.group, "odbench-%ld-%lld", (long)getpid(), (long long)mono_ns());
    srand((unsigned)mono_ns());
    int members = o->members, rounds = o->rounds;
    int64_t start = mono_ns();
    int64_t deadline = start + (int64_t)o->timeout_s * 1000000000;

    /* The partition count, with a throwaway consumer handle. */
    char errstr[512];
    rd_kafka_conf_t *mconf = base_conf(o);
    if (!mconf)
        return 1;
    rd_kafka_t *mrk = rd_kafka_new(RD_KAFKA_PRODUCER, mconf, errstr, sizeof errstr);
    if (!mrk) {
        fprintf(stderr, "odbench: rd_kafka_new: %s\n", errstr);
        rd_kafka_conf_destroy(mconf);
        return 1;
    }
    int nparts = topic_partitions(mrk, o->topic, deadline);
    rd_kafka_destroy(mrk);
    if (nparts < 1) {
        fprintf(stderr, "odbench: topic %s not found before the timeout\n", o->topic);
        return 1;
    }
    g.nparts = nparts;

    /* Phase 1: read the topic end to end. */
    start = mono_ns();
    for (int i = 0; i < members; i++)
        if (group_member_start(&g, g.nm++))
            goto fail;
    int64_t joined_ns = 0;
    int timed_out = 0;
    while (atomic_load(&g.received) < o->count && !stop_requested) {
        if (mono_ns() > deadline) {
            timed_out = 1;
            break;
        }
        if (!joined_ns) {
            int total = 0;
            for (int i = 0; i < g.nm; i++)
                total += atomic_load(&g.m[i].assigned);
            if (total == nparts)
                joined_ns = mono_ns();
        }
        sleep_ms(5);
    }
    long long got = atomic_load(&g.received);
    int64_t first = atomic_load(&g.first_ns), last = atomic_load(&g.last_ns);
    double total_s = (double)(last - start) / 1e9;
    double flow_s = (double)(last - first) / 1e9;
    double rate_total = total_s > 0 ? (double)got / total_s : 0;
    double rate_flow = flow_s > 0 ? (double)got / flow_s : 0;
    double join_ms = joined_ns ? (double)(joined_ns - start) / 1e6 : -1;
    printf("%d members read %lld records from %d partitions: %.1f records/sec from subscribe, "
           "%.1f records/sec from the first record; group assigned after %.1f ms%s\n",
           members, got, nparts, rate_total, rate_flow, join_ms, timed_out ? " (TIMED OUT)" : "");
    fflush(stdout);
    if (timed_out)
        goto fail;

    /* Phase 2: rebalance rounds with a trickle of messages. */
    pthread_t prod;
    if (pthread_create(&prod, NULL, group_producer_main, &g)) {
        fprintf(stderr, "odbench: pthread_create failed\n");
        goto fail;
    }
    double reb_ms[GROUP_MAX_ROUNDS], asg_ms[GROUP_MAX_ROUNDS], close_ms[GROUP_MAX_ROUNDS];
    int nrounds = 0;
    for (int r = 0; r < rounds && !stop_requested; r++) {
        /* Wait until everyone consumes (after the previous join). */
        int64_t s_ns, a_ns;
        while (!group_consuming(&g, nparts, &s_ns, &a_ns) && mono_ns() < deadline)
            sleep_ms(5);
        /* A random pause: the remaining members learn of the rebalance from
         * their next heartbeat (every 500 ms here), so a fixed pause would
         * always hit the same phase of the heartbeat cycle. */
        sleep_ms(500 + rand() % 500);
        /* The oldest live member leaves. */
        gmember_t *leaver = NULL;
        for (int i = 0; i < g.nm && !leaver; i++)
            if (g.m[i].started && !atomic_load(&g.m[i].close_now))
                leaver = &g.m[i];
        long long before[GROUP_MAX_MEMBERS];
        for (int i = 0; i < g.nm; i++)
            before[i] = atomic_load(&g.m[i].n_assign);
        int64_t t0 = mono_ns();
        atomic_store(&leaver->close_now, 1);
        int settled = 0;
        while (mono_ns() < deadline && !stop_requested) {
            int all_new = 1;
            for (int i = 0; i < g.nm; i++) {
                gmember_t *m = &g.m[i];
                if (m->started && !atomic_load(&m->close_now) && atomic_load(&m->n_assign) == before[i])
                    all_new = 0;
            }
            if (all_new && group_consuming(&g, nparts, &s_ns, &a_ns)) {
                settled = 1;
                break;
            }
            sleep_ms(1);
        }
        pthread_join(leaver->thread, NULL);
        rd_kafka_destroy(leaver->rk);
        leaver->started = 0;
        if (!settled) {
            fprintf(stderr, "odbench: round %d: the group did not settle before the timeout\n", r + 1);
            break;
        }
        reb_ms[nrounds] = (double)(s_ns - t0) / 1e6;
        asg_ms[nrounds] = (double)(a_ns - t0) / 1e6;
        close_ms[nrounds] = (double)(leaver->close_end_ns - leaver->close_start_ns) / 1e6;
        printf("round %d: member left; remaining %d members assigned after %.1f ms, consuming "
               "again after %.1f ms (the leaver's close() took %.1f ms)\n",
               r + 1, members - 1, asg_ms[nrounds], reb_ms[nrounds], close_ms[nrounds]);
        fflush(stdout);
        nrounds++;
        /* A new member restores the group size for the next round. */
        if (r + 1 < rounds) {
            if (g.nm == GROUP_MAX_MEMBERS || group_member_start(&g, g.nm++))
                break;
        }
    }
    atomic_store(&g.stop, 1);
    pthread_join(prod, NULL);
    for (int i = 0; i < g.nm; i++)
        group_member_join(&g.m[i]);

    double sorted[GROUP_MAX_ROUNDS];
    memcpy(sorted, reb_ms, sizeof(double) * (size_t)nrounds);
    qsort(sorted, (size_t)nrounds, sizeof(double), cmp_dbl);
    double rmin = nrounds ? sorted[0] : -1, rmax = nrounds ? sorted[nrounds - 1] : -1;
    double rmed = nrounds ? sorted[nrounds / 2] : -1;
    printf("result mode=group topic=%s count=%lld members=%d partitions=%d received=%lld "
           "timed_out=0 elapsed_s=%.3f msgs_per_sec=%.1f flow_msgs_per_sec=%.1f join_ms=%.1f "
           "rounds=%d rebalance_min_ms=%.1f rebalance_med_ms=%.1f rebalance_max_ms=%.1f\n",
           o->topic, o->count, members, nparts, got, total_s, rate_total, rate_flow, join_ms,
           nrounds, rmin, rmed, rmax);
    fflush(stdout);
    return nrounds == rounds ? 0 : 1;

fail:
    atomic_store(&g.stop, 1);
    for (int i = 0; i < g.nm; i++)
        group_member_join(&g.m[i]);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *mode = argv[1];
    int produce = !strcmp(mode, "produce"), group = !strcmp(mode, "group");
    if (!produce && !group && strcmp(mode, "consume")) {
        fprintf(stderr, "odbench: unknown mode %s\n", mode);
        usage(stderr);
        return 2;
    }
    bench_opts_t o = {
        .count = -1, .size = 100, .rate = 0, .acks = "1", .linger_ms = "5",
        .compression = "none", .timeout_s = 300, .members = 3, .rounds = 3,
    };
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},
        {"count", required_argument, NULL, 'n'},
        {"size", required_argument, NULL, 's'},
        {"rate", required_argument, NULL, 'r'},
        {"acks", required_argument, NULL, 'a'},
        {"linger-ms", required_argument, NULL, 'l'},
        {"batch-size", required_argument, NULL, 'B'},
        {"compression", required_argument, NULL, 'z'},
        {"timeout-s", required_argument, NULL, 'T'},
        {"verbose", no_argument, NULL, 'v'},
        {"set", required_argument, NULL, 'X'},
        {"members", required_argument, NULL, 'M'},
        {"rounds", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "b:t:n:s:r:a:l:B:z:T:X:M:R:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'b': o.brokers = optarg; break;
        case 't': o.topic = optarg; break;
        case 'n': if (parse_ll(optarg, "--count", 1, &o.count)) return 2; break;
        case 's': if (parse_ll(optarg, "--size", 0, &o.size)) return 2; break;
        case 'r': if (parse_ll(optarg, "--rate", 0, &o.rate)) return 2; break;
        case 'a': o.acks = optarg; break;
        case 'l': o.linger_ms = optarg; break;
        case 'B': o.batch_size = optarg; break;
        case 'z': o.compression = optarg; break;
        case 'T': if (parse_ll(optarg, "--timeout-s", 1, &o.timeout_s)) return 2; break;
        case 'v': o.verbose = 1; break;
        case 'X':
            if (o.nextra == (int)(sizeof o.extra / sizeof o.extra[0])) {
                fprintf(stderr, "odbench: too many --set\n");
                return 2;
            }
            o.extra[o.nextra++] = optarg;
            break;
        case 'M':
        case 'R': {
            long long v;
            if (parse_ll(optarg, c == 'M' ? "--members" : "--rounds", 1, &v))
                return 2;
            if (v > (c == 'M' ? GROUP_MAX_MEMBERS - GROUP_MAX_ROUNDS : GROUP_MAX_ROUNDS)) {
                fprintf(stderr, "odbench: %s too large\n", c == 'M' ? "--members" : "--rounds");
                return 2;
            }
            if (c == 'M')
                o.members = (int)v;
            else
                o.rounds = (int)v;
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || !o.brokers || !o.topic || o.count < 1) {
        fprintf(stderr, "odbench: --brokers, --topic and --count are required\n");
        usage(stderr);
        return 2;
    }
    if (o.count > 200000000) { /* two int64 per message are kept in memory */
        fprintf(stderr, "odbench: --count at most 200000000\n");
        return 2;
    }
    if (o.rate > 1000000000) {
        fprintf(stderr, "odbench: --rate too large\n");
        return 2;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (group && o.members < 2) {
        fprintf(stderr, "odbench: group mode wants --members >= 2 (one of them leaves)\n");
        return 2;
    }
    return produce ? run_produce(&o) : group ? run_group(&o) : run_consume(&o);
}
