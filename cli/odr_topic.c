/* odr_topic.c - `odr topic create|list|describe|delete|alter-config|add-partitions`. */
#include "odr.h"
#include "odr_configs.h"
#include "odr_json.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char topic_usage[] =
    "usage: odr topic create NAME -p PARTITIONS [-r REPLICATION_FACTOR] [-c key=value]...\n"
    "       odr topic list [-i|--internal]\n"
    "       odr topic describe NAME\n"
    "       odr topic delete NAME...\n"
    "       odr topic alter-config NAME [--set key=value]... [--delete key]... [--no-incremental]\n"
    "       odr topic add-partitions NAME -n TOTAL";

#define MAX_ITEMS 256

/* One admin request: its queue and options, and the event it answers with. */
typedef struct topic_call {
    rd_kafka_queue_t *q;
    rd_kafka_AdminOptions_t *o;
    rd_kafka_event_t *ev;
} topic_call_t;

static void call_begin(topic_call_t *c, odr_ctx_t *ctx, rd_kafka_t *rk, rd_kafka_admin_op_t op)
{
    c->q = rd_kafka_queue_new(rk);
    c->o = odr_admin_options(ctx, rk, op);
    c->ev = NULL;
}

static void call_end(topic_call_t *c)
{
    if (c->ev)
        rd_kafka_event_destroy(c->ev);
    rd_kafka_AdminOptions_destroy(c->o);
    rd_kafka_queue_destroy(c->q);
}

/* Waits for the call's answer and checks every topic result in it. */
static int topic_result(odr_ctx_t *ctx, topic_call_t *c, const char *name,
                        const rd_kafka_topic_result_t **(*get)(rd_kafka_event_t *, size_t *))
{
    int code = 0;
    c->ev = odr_admin_wait(ctx, c->q, "topic", name, &code);
    if (!c->ev)
        return code;
    size_t n = 0;
    const rd_kafka_topic_result_t **tr = get(c->ev, &n);
    for (size_t i = 0; i < n && code == 0; i++)
        if (rd_kafka_topic_result_error(tr[i]))
            code = odr_kafka_fail(rd_kafka_topic_result_error(tr[i]),
                                  rd_kafka_topic_result_error_string(tr[i]), "topic",
                                  rd_kafka_topic_result_name(tr[i]));
    return code;
}

/* What a change did to topic name: {"name": name, key: value...} as JSON,
 * else the text line. */
typedef struct topic_count {
    const char *key;
    int64_t value;
} topic_count_t;

static void print_changed(odr_ctx_t *ctx, const char *name, const topic_count_t *counts,
                          size_t n, const char *text)
{
    if (!ctx->json) {
        printf("%s\n", text);
        return;
    }
    odr_json_t j;
    odr_json_init(&j, stdout);
    odr_json_obj(&j);
    ODR_JSON_KS(&j, "name", name);
    for (size_t i = 0; i < n; i++)
        ODR_JSON_KI(&j, counts[i].key, counts[i].value);
    odr_json_end(&j, '}');
    odr_json_line(&j);
}

static const rd_kafka_topic_result_t **create_results(rd_kafka_event_t *ev, size_t *n)
{
    return rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), n);
}
static const rd_kafka_topic_result_t **delete_results(rd_kafka_event_t *ev, size_t *n)
{
    return rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), n);
}
static const rd_kafka_topic_result_t **partitions_results(rd_kafka_event_t *ev, size_t *n)
{
    return rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev), n);
}

static int topic_create(odr_ctx_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"partitions", required_argument, NULL, 'p'},
        {"replicas", required_argument, NULL, 'r'},
        {"replication-factor", required_argument, NULL, 'r'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int64_t partitions = -1, rf = -1;
    char *cfg[MAX_ITEMS];
    size_t ncfg = 0;
    int c;
    odr_getopt_reset();
    while ((c = odr_getopt(argc, argv, "p:r:c:h", opts, topic_usage)) >= 0) {
        if (c == 'p' && odr_parse_i64(optarg, 1, 1000000, &partitions) != 0)
            return odr_usage("-p takes a partition count >= 1, not '%s'", optarg);
        if (c == 'r' && odr_parse_i64(optarg, 1, 32767, &rf) != 0)
            return odr_usage("-r takes a replication factor >= 1, not '%s'", optarg);
        if (c == 'c') {
            if (!strchr(optarg, '=') || *optarg == '=')
                return odr_usage("-c takes key=value, not '%s'", optarg);
            if (ncfg == MAX_ITEMS)
                return odr_usage("more than %d -c settings", MAX_ITEMS);
            cfg[ncfg++] = optarg;
        }
    }
    if (c != -1)
        return ODR_GETOPT_EXIT(c);
    if (optind + 1 != argc)
        return odr_usage("topic create takes one NAME\n%s", topic_usage);
    if (partitions < 0)
        return odr_usage("topic create needs -p PARTITIONS\n%s", topic_usage);
    const char *name = argv[optind];
    int code = 0;
    rd_kafka_t *rk = odr_admin(ctx, &code);
    if (!rk)
        return code;
    char err[512];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(name, (int)partitions, (int)rf, err, sizeof err);
    if (!nt) {
        rd_kafka_destroy(rk);
        return odr_usage("%s", err);
    }
    for (size_t i = 0; i < ncfg; i++) {
        char kbuf[512];
        const char *k, *v;
        if (odr_split_kv(cfg[i], kbuf, sizeof kbuf, &k, &v) == 0)
            rd_kafka_NewTopic_set_config(nt, k, v);
    }
    topic_call_t call;
    call_begin(&call, ctx, rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_CreateTopics(rk, &nt, 1, call.o, call.q);
    code = topic_result(ctx, &call, name, create_results);
    if (code == 0) {
        const topic_count_t counts[] = {{"partitions", partitions}, {"replication_factor", rf}};
        char text[600];
        snprintf(text, sizeof text, "created topic %s (%lld partitions)", name,
                 (long long)partitions);
        print_changed(ctx, name, counts, 2, text);
    }
    call_end(&call);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_destroy(rk);
    return code;
}

static int by_name(const void *a, const void *b)
{
    const rd_kafka_metadata_topic_t *x = a, *y = b;
    return strcmp(x->topic, y->topic);
}

static int topic_list(odr_ctx_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"internal", no_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, internal = 0;
    odr_getopt_reset();
    while ((c = odr_getopt(argc, argv, "ih", opts, topic_usage)) >= 0)
        internal |= c == 'i';
    if (c != -1)
        return ODR_GETOPT_EXIT(c);
    if (optind != argc)
        return odr_usage("topic list takes no NAME\n%s", topic_usage);
    int code = 0;
    rd_kafka_t *rk = odr_admin(ctx, &code);
    if (!rk)
        return code;
    const rd_kafka_metadata_t *md = odr_metadata(ctx, rk, NULL, &code);
    if (md) {
        rd_kafka_metadata_topic_t *t = malloc(sizeof *t * (size_t)(md->topic_cnt + 1));
        int n = 0;
        for (int i = 0; t && i < md->topic_cnt; i++)
            if (internal || md->topics[i].topic[0] != '_' || md->topics[i].topic[1] != '_')
                t[n++] = md->topics[i];
        if (t)
            qsort(t, (size_t)n, sizeof *t, by_name);
        odr_json_t j;
        odr_json_init(&j, stdout);
        if (ctx->json)
            odr_json_arr(&j);
        else
            printf("%-40s %10s %8s\n", "NAME", "PARTITIONS", "REPLICAS");
        for (int i = 0; i < n; i++) {
            int rf = t[i].partition_cnt > 0 ? t[i].partitions[0].replica_cnt : 0;
            if (ctx->json) {
                odr_json_obj(&j);
                ODR_JSON_KS(&j, "name", t[i].topic);
                ODR_JSON_KI(&j, "partitions", t[i].partition_cnt);
                ODR_JSON_KI(&j, "replicas", rf);
                odr_json_end(&j, '}');
            } else {
                printf("%-40s %10d %8d\n", t[i].topic, t[i].partition_cnt, rf);
            }
        }
        if (ctx->json) {
            odr_json_end(&j, ']');
            odr_json_line(&j);
        }
        free(t);
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_destroy(rk);
    return code;
}

static int by_partition(const void *a, const void *b)
{
    const rd_kafka_metadata_partition_t *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

static void int_array(odr_json_t *j, const char *key, const int32_t *v, int n)
{
    odr_json_key(j, key);
    odr_json_arr(j);
    for (int i = 0; i < n; i++)
        odr_json_int(j, v[i]);
    odr_json_end(j, ']');
}

/* "1,2,3" (or "-") into buf */
static const char *int_list(char *buf, size_t size, const int32_t *v, int n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used < size; i++) {
        int w = snprintf(buf + used, size - used, "%s%d", i ? "," : "", (int)v[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    if (n == 0)
        snprintf(buf, size, "-");
    return buf;
}

static int topic_describe(odr_ctx_t *ctx, int argc, char **argv)
{
    int code = odr_no_options(argc, argv, topic_usage);
    if (code >= 0)
        return code;
    if (optind + 1 != argc)
        return odr_usage("topic describe takes one NAME\n%s", topic_usage);
    const char *name = argv[optind];
    code = 0;
    rd_kafka_t *rk = odr_admin(ctx, &code);
    if (!rk)
        return code;
    const rd_kafka_metadata_t *md = odr_metadata(ctx, rk, name, &code);
    odr_configs_t cfg = {0};
    if (md)
        code = odr_configs_get(ctx, rk, RD_KAFKA_RESOURCE_TOPIC, name, "topic", &cfg);
    if (md && code == 0) {
        const rd_kafka_metadata_topic_t *t = &md->topics[0];
        rd_kafka_metadata_partition_t *p =
            odr_sorted_copy(t->partitions, (size_t)t->partition_cnt, sizeof *p, by_partition);
        if (ctx->json) {
            odr_json_t j;
            odr_json_init(&j, stdout);
            odr_json_obj(&j);
            ODR_JSON_KS(&j, "name", name);
            odr_json_key(&j, "partitions");
            odr_json_arr(&j);
            for (int i = 0; p && i < t->partition_cnt; i++) {
                odr_json_obj(&j);
                ODR_JSON_KI(&j, "partition", p[i].id);
                ODR_JSON_KI(&j, "leader", p[i].leader);
                int_array(&j, "replicas", p[i].replicas, p[i].replica_cnt);
                int_array(&j, "isr", p[i].isrs, p[i].isr_cnt);
                odr_json_end(&j, '}');
            }
            odr_json_end(&j, ']');
            odr_json_key(&j, "configs");
            odr_json_obj(&j);
            for (size_t i = 0; i < cfg.n; i++)
                ODR_JSON_KS(&j, cfg.e[i].name, cfg.e[i].value);
            odr_json_end(&j, '}');
            odr_json_end(&j, '}');
            odr_json_line(&j);
        } else {
            printf("NAME        %s\nPARTITIONS  %d\n\n", name, t->partition_cnt);
            printf("%-10s %-7s %-16s %s\n", "PARTITION", "LEADER", "REPLICAS", "ISR");
            for (int i = 0; p && i < t->partition_cnt; i++) {
                char rb[256], ib[256];
                printf("%-10d %-7d %-16s %s\n", p[i].id, p[i].leader,
                       int_list(rb, sizeof rb, p[i].replicas, p[i].replica_cnt),
                       int_list(ib, sizeof ib, p[i].isrs, p[i].isr_cnt));
            }
            printf("\n%-45s %-30s %s\n", "CONFIG", "VALUE", "SOURCE");
            for (size_t i = 0; i < cfg.n; i++)
                printf("%-45s %-30s %s\n", cfg.e[i].name, odr_config_value_text(&cfg.e[i]),
                       odr_config_source_name(cfg.e[i].source));
        }
        free(p);
    }
    odr_configs_free(&cfg);
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return code;
}

static int topic_delete(odr_ctx_t *ctx, int argc, char **argv)
{
    int code = odr_no_options(argc, argv, topic_usage);
    if (code >= 0)
        return code;
    int n = argc - optind;
    if (n < 1 || n > MAX_ITEMS)
        return odr_usage("topic delete takes 1 to %d NAMEs\n%s", MAX_ITEMS, topic_usage);
    code = 0;
    rd_kafka_t *rk = odr_admin(ctx, &code);
    if (!rk)
        return code;
    rd_kafka_DeleteTopic_t *dt[MAX_ITEMS];
    for (int i = 0; i < n; i++)
        dt[i] = rd_kafka_DeleteTopic_new(argv[optind + i]);
    topic_call_t call;
    call_begin(&call, ctx, rk, RD_KAFKA_ADMIN_OP_DELETETOPICS);
    rd_kafka_DeleteTopics(rk, dt, (size_t)n, call.o, call.q);
    call.ev = odr_admin_wait(ctx, call.q, "topic", argv[optind], &code);
    if (call.ev) {
        /* each topic's own answer: the deleted ones print, the rest fail */
        size_t cnt = 0;
        const rd_kafka_topic_result_t **tr = delete_results(call.ev, &cnt);
        odr_json_t j;
        odr_json_init(&j, stdout);
        if (ctx->json)
            odr_json_arr(&j);
        for (size_t i = 0; i < cnt; i++) {
            const char *tn = rd_kafka_topic_result_name(tr[i]);
            if (rd_kafka_topic_result_error(tr[i])) {
                code = odr_kafka_fail(rd_kafka_topic_result_error(tr[i]),
                                      rd_kafka_topic_result_error_string(tr[i]), "topic", tn);
            } else if (ctx->json) {
                odr_json_str(&j, tn);
            } else {
                printf("deleted topic %s\n", tn);
            }
        }
        if (ctx->json) {
            odr_json_end(&j, ']');
            odr_json_line(&j);
        }
    }
    call_end(&call);
    rd_kafka_DeleteTopic_destroy_array(dt, (size_t)n);
    rd_kafka_destroy(rk);
    return code;
}

static int topic_alter_config(odr_ctx_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"set", required_argument, NULL, 's'},
        {"delete", required_argument, NULL, 'd'},
        {"no-incremental", no_argument, NULL, 'N'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char *sets[MAX_ITEMS], *dels[MAX_ITEMS];
    size_t nsets = 0, ndels = 0;
    int c;
    odr_getopt_reset();
    while ((c = odr_getopt(argc, argv, "s:d:h", opts, topic_usage)) >= 0) {
        if ((c == 's' && nsets == MAX_ITEMS) || (c == 'd' && ndels == MAX_ITEMS))
            return odr_usage("more than %d changes", MAX_ITEMS);
        if (c == 's') {
            if (!strchr(optarg, '=') || *optarg == '=')
                return odr_usage("--set takes key=value, not '%s'", optarg);
            sets[nsets++] = optarg;
        }
        if (c == 'd')
            dels[ndels++] = optarg;
        if (c == 'N')
            ctx->no_incremental = 1;
    }
    if (c != -1)
        return ODR_GETOPT_EXIT(c);
    if (optind + 1 != argc)
        return odr_usage("topic alter-config takes one NAME\n%s", topic_usage);
    if (nsets + ndels == 0)
        return odr_usage("topic alter-config needs --set key=value or --delete key");
    const char *name = argv[optind];
    int code = 0;
    rd_kafka_t *rk = odr_admin(ctx, &code);
    if (!rk)
        return code;
    code = odr_configs_alter(ctx, rk, RD_KAFKA_RESOURCE_TOPIC, name, "topic", sets, nsets, dels,
                             ndels);
    if (code == 0) {
        const topic_count_t counts[] = {{"set", (int64_t)nsets}, {"deleted", (int64_t)ndels}};
        char text[600];
        snprintf(text, sizeof text, "altered topic %s (%zu set, %zu deleted)", name, nsets, ndels);
        print_changed(ctx, name, counts, 2, text);
    }
    rd_kafka_destroy(rk);
    return code;
}

static int topic_add_partitions(odr_ctx_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"num", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int64_t total = -1;
    int c;
    odr_getopt_reset();
    while ((c = odr_getopt(argc, argv, "n:h", opts, topic_usage)) >= 0)
        if (c == 'n' && odr_parse_i64(optarg, 1, 1000000, &total) != 0)
            return odr_usage("-n takes the new total partition count, not '%s'", optarg);
    if (c != -1)
        return ODR_GETOPT_EXIT(c);
    if (optind + 1 != argc || total < 0)
        return odr_usage("topic add-partitions takes NAME and -n TOTAL\n%s", topic_usage);
    const char *name = argv[optind];
    int code = 0;
    rd_kafka_t *rk = odr_admin(ctx, &code);
    if (!rk)
        return code;
    char err[512];
    rd_kafka_NewPartitions_t *np = rd_kafka_NewPartitions_new(name, (size_t)total, err, sizeof err);
    if (!np) {
        rd_kafka_destroy(rk);
        return odr_usage("%s", err);
    }
    topic_call_t call;
    call_begin(&call, ctx, rk, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS);
    rd_kafka_CreatePartitions(rk, &np, 1, call.o, call.q);
    code = topic_result(ctx, &call, name, partitions_results);
    if (code == 0) {
        const topic_count_t counts[] = {{"partitions", total}};
        char text[600];
        snprintf(text, sizeof text, "topic %s now has %lld partitions", name, (long long)total);
        print_changed(ctx, name, counts, 1, text);
    }
    call_end(&call);
    rd_kafka_NewPartitions_destroy(np);
    rd_kafka_destroy(rk);
    return code;
}

int odr_cmd_topic(odr_ctx_t *ctx, int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(odr_ctx_t *, int, char **);
    } subs[] = {
        {"create", topic_create},
        {"list", topic_list},
        {"describe", topic_describe},
        {"delete", topic_delete},
        {"alter-config", topic_alter_config},
        {"add-partitions", topic_add_partitions},
    };
    if (argc < 2)
        return odr_usage("topic needs a subcommand\n%s", topic_usage);
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        puts(topic_usage);
        return 0;
    }
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].fn(ctx, argc - 1, argv + 1);
    return odr_usage("unknown topic subcommand '%s'\n%s", argv[1], topic_usage);
}
