/* odr_cluster.c - `odr cluster info|config|quorum`. */
#include "odr.h"
#include "odr_configs.h"
#include "odr_json.h"
#include "odr_raw.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char cluster_usage[] =
    "usage: odr cluster info\n"
    "       odr cluster config get [--broker ID] [KEY...]\n"
    "       odr cluster config set [--broker ID] [--no-incremental] key=value...\n"
    "       odr cluster config delete [--broker ID] [--no-incremental] KEY...\n"
    "       odr cluster quorum\n"
    "  get reads the controller's configs unless --broker names one; set and delete\n"
    "  change the cluster-wide default (or the one broker --broker names);\n"
    "  --no-incremental: AlterConfigs read-modify-write per broker instead of\n"
    "  IncrementalAlterConfigs";

#define MAX_ITEMS 256

static int by_id(const void *a, const void *b)
{
    const rd_kafka_metadata_broker_t *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

static int cluster_info(odr_ctx_t *ctx, int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return odr_usage("cluster info takes no arguments\n%s", cluster_usage);
    int code = 0;
    rd_kafka_t *rk = odr_admin(ctx, &code);
    if (!rk)
        return code;
    const rd_kafka_metadata_t *md = odr_metadata(ctx, rk, NULL, &code);
    if (md) {
        char *id = rd_kafka_clusterid(rk, ctx->timeout_ms);
        int32_t controller = rd_kafka_controllerid(rk, ctx->timeout_ms);
        rd_kafka_metadata_broker_t *b =
            odr_sorted_copy(md->brokers, (size_t)md->broker_cnt, sizeof *b, by_id);
        if (ctx->json) {
            odr_json_t j;
            odr_json_init(&j, stdout);
            odr_json_obj(&j);
            ODR_JSON_KS(&j, "cluster_id", id);
            odr_json_key(&j, "controller");
            controller >= 0 ? odr_json_int(&j, controller) : odr_json_null(&j);
            odr_json_key(&j, "brokers");
            odr_json_arr(&j);
            for (int i = 0; b && i < md->broker_cnt; i++) {
                odr_json_obj(&j);
                ODR_JSON_KI(&j, "id", b[i].id);
                ODR_JSON_KS(&j, "host", b[i].host);
                ODR_JSON_KI(&j, "port", b[i].port);
                odr_json_end(&j, '}');
            }
            odr_json_end(&j, ']');
            ODR_JSON_KI(&j, "topics", md->topic_cnt);
            odr_json_end(&j, '}');
            odr_json_line(&j);
        } else {
            printf("CLUSTER     %s\nCONTROLLER  %d\n\n%-6s %s\n", id ? id : "-", (int)controller,
                   "ID", "ADDRESS");
            for (int i = 0; b && i < md->broker_cnt; i++)
                printf("%-6d %s:%d%s\n", b[i].id, b[i].host, b[i].port,
                       b[i].id == controller ? "  (controller)" : "");
        }
        free(b);
        if (id)
            rd_kafka_mem_free(rk, id);
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_destroy(rk);
    return code;
}

static int cluster_config(odr_ctx_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"broker", required_argument, NULL, 'B'},
        {"no-incremental", no_argument, NULL, 'N'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    if (argc < 2)
        return odr_usage("cluster config needs get, set or delete\n%s", cluster_usage);
    const char *op = argv[1];
    if (strcmp(op, "get") && strcmp(op, "set") && strcmp(op, "delete"))
        return odr_usage("cluster config takes get, set or delete, not '%s'\n%s", op,
                         cluster_usage);
    const char *broker = "";
    int64_t id = -1;
    int c;
    odr_getopt_reset();
    while ((c = odr_getopt(argc - 1, argv + 1, "h", opts, cluster_usage)) >= 0)
        if (c == 'N') {
            ctx->no_incremental = 1;
        } else if (c == 'B') {
            if (odr_parse_i64(optarg, 0, INT32_MAX, &id) != 0)
                return odr_usage("--broker takes a broker id, not '%s'", optarg);
            broker = optarg;
        }
    if (c != -1)
        return ODR_GETOPT_EXIT(c);
    char **items = argv + 1 + optind;
    int n = argc - 1 - optind;
    if (strcmp(op, "get") && n < 1)
        return odr_usage("cluster config %s needs at least one key\n%s", op, cluster_usage);
    if (n > MAX_ITEMS)
        return odr_usage("more than %d keys", MAX_ITEMS);
    for (int i = 0; strcmp(op, "set") == 0 && i < n; i++)
        if (!strchr(items[i], '=') || items[i][0] == '=')
            return odr_usage("cluster config set takes key=value, not '%s'", items[i]);
    int code = 0;
    rd_kafka_t *rk = odr_admin(ctx, &code);
    if (!rk)
        return code;
    /* librdkafka 2.0.2 cannot address the cluster-wide default resource
     * (broker ""), so "the cluster" is every broker of the metadata. */
    int32_t ids[MAX_ITEMS];
    int nids = 0;
    if (*broker) {
        ids[nids++] = (int32_t)id;
    } else {
        const rd_kafka_metadata_t *md = odr_metadata(ctx, rk, NULL, &code);
        int32_t controller = md ? rd_kafka_controllerid(rk, ctx->timeout_ms) : -1;
        for (int i = 0; md && i < md->broker_cnt && nids < MAX_ITEMS; i++)
            if (strcmp(op, "get") != 0 || md->brokers[i].id == controller || md->broker_cnt == 1)
                ids[nids++] = md->brokers[i].id;
        if (md)
            rd_kafka_metadata_destroy(md);
        if (md && nids == 0)
            code = odr_fail(ODR_EXIT_KAFKA, "the cluster names no controller; use --broker ID");
    }
    char name[16];
    if (code == 0 && strcmp(op, "get") == 0) {
        odr_configs_t cfg;
        snprintf(name, sizeof name, "%d", (int)ids[0]);
        code = odr_configs_get(ctx, rk, RD_KAFKA_RESOURCE_BROKER, name, "broker", &cfg);
        if (code == 0) {
            odr_json_t j;
            odr_json_init(&j, stdout);
            if (ctx->json)
                odr_json_obj(&j);
            for (size_t i = 0; i < cfg.n; i++) {
                int want = n == 0;
                for (int k = 0; k < n; k++)
                    want |= strcmp(items[k], cfg.e[i].name) == 0;
                if (!want)
                    continue;
                if (ctx->json) {
                    odr_json_key(&j, cfg.e[i].name);
                    odr_json_obj(&j);
                    ODR_JSON_KS(&j, "value", cfg.e[i].value);
                    ODR_JSON_KS(&j, "source", odr_config_source_name(cfg.e[i].source));
                    odr_json_key(&j, "read_only");
                    odr_json_bool(&j, cfg.e[i].read_only);
                    odr_json_end(&j, '}');
                } else {
                    printf("%-50s %-30s %s\n", cfg.e[i].name, odr_config_value_text(&cfg.e[i]),
                           odr_config_source_name(cfg.e[i].source));
                }
            }
            if (ctx->json) {
                odr_json_end(&j, '}');
                odr_json_line(&j);
            }
            for (int k = 0; k < n && code == 0; k++) {
                int found = 0;
                for (size_t i = 0; i < cfg.n; i++)
                    found |= strcmp(items[k], cfg.e[i].name) == 0;
                if (!found)
                    code = odr_fail(ODR_EXIT_KAFKA, "INVALID_CONFIG: broker %s has no config '%s'; "
                                    "`odr cluster config get` lists them", name, items[k]);
            }
        }
        odr_configs_free(&cfg);
    } else if (code == 0) {
        int set = strcmp(op, "set") == 0;
        /* the cluster-wide default where IncrementalAlterConfigs can reach it */
        int dflt = *broker ? -1
                           : odr_configs_incremental(ctx, RD_KAFKA_RESOURCE_BROKER, "",
                                                     "the cluster default", set ? items : NULL,
                                                     set ? (size_t)n : 0, set ? NULL : items,
                                                     set ? 0 : (size_t)n);
        if (dflt >= 0) {
            code = dflt;
            nids = 0;
        }
        for (int b = 0; dflt < 0 && b < nids && code == 0; b++) {
            snprintf(name, sizeof name, "%d", (int)ids[b]);
            code = odr_configs_alter(ctx, rk, RD_KAFKA_RESOURCE_BROKER, name, "broker",
                                     set ? items : NULL, set ? (size_t)n : 0, set ? NULL : items,
                                     set ? 0 : (size_t)n);
        }
        if (code == 0 && !ctx->json && nids == 0)
            printf("%s %d config%s on the cluster default\n", set ? "set" : "deleted", n,
                   n == 1 ? "" : "s");
        else if (code == 0 && !ctx->json)
            printf("%s %d config%s on %d broker%s\n", set ? "set" : "deleted", n,
                   n == 1 ? "" : "s", nids, nids == 1 ? "" : "s");
        if (code == 0 && ctx->json) {
            odr_json_t j;
            odr_json_init(&j, stdout);
            odr_json_obj(&j);
            ODR_JSON_KI(&j, "changed", n);
            if (nids == 0)
                ODR_JSON_KS(&j, "resource", "cluster default");
            else
                ODR_JSON_KI(&j, "brokers", nids);
            odr_json_end(&j, '}');
            odr_json_line(&j);
        }
    }
    rd_kafka_destroy(rk);
    return code;
}

/* ---- DescribeQuorum (api 55), which librdkafka 2.0 cannot send --------- */

#define API_DESCRIBE_QUORUM 55

static int replicas(odr_rd_t *r, int version, odr_ctx_t *ctx, odr_json_t *j, const char *what)
{
    int64_t n = odr_rd_compact_count(r, 13);
    if (ctx->json) {
        odr_json_key(j, what);
        odr_json_arr(j);
    } else {
        printf("%s:\n", what);
    }
    for (int64_t i = 0; r->ok && i < n; i++) {
        int32_t id = odr_rd_i32(r);
        int64_t leo = odr_rd_i64(r), fetch = -1, caught = -1;
        if (version >= 1) {
            fetch = odr_rd_i64(r);
            caught = odr_rd_i64(r);
        }
        odr_rd_skip_tags(r);
        if (ctx->json) {
            odr_json_obj(j);
            ODR_JSON_KI(j, "id", id);
            ODR_JSON_KI(j, "log_end_offset", leo);
            ODR_JSON_KI(j, "last_fetch_timestamp", fetch);
            ODR_JSON_KI(j, "last_caught_up_timestamp", caught);
            odr_json_end(j, '}');
        } else {
            printf("  %-6d log end %-12lld last fetch %-14lld caught up %lld\n", (int)id,
                   (long long)leo, (long long)fetch, (long long)caught);
        }
    }
    if (ctx->json)
        odr_json_end(j, ']');
    return r->ok;
}

static int cluster_quorum(odr_ctx_t *ctx, int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return odr_usage("cluster quorum takes no arguments\n%s", cluster_usage);
    odr_raw_t c;
    int code = odr_raw_open(ctx, &c);
    if (code) {
        odr_raw_close(&c);
        return code;
    }
    int version = c.max_version[API_DESCRIBE_QUORUM] > 1 ? 1 : c.max_version[API_DESCRIBE_QUORUM];
    if (version < 0) {
        odr_raw_close(&c);
        return odr_fail(ODR_EXIT_KAFKA, "UNSUPPORTED_VERSION: DescribeQuorum is not supported by "
                        "this broker (its ApiVersions does not list api 55)");
    }
    /* Topics: [{"__cluster_metadata", Partitions: [0]}], compact and tagged */
    static const char topic[] = "__cluster_metadata";
    uint8_t body[64], *p = body;
    *p++ = 2; /* one topic */
    *p++ = (uint8_t)(sizeof topic); /* compact string: length + 1 */
    memcpy(p, topic, sizeof topic - 1);
    p += sizeof topic - 1;
    *p++ = 2; /* one partition */
    memset(p, 0, 4); /* index 0 */
    p += 4;
    *p++ = 0; /* partition tags */
    *p++ = 0; /* topic tags */
    *p++ = 0; /* request tags */
    uint8_t *resp = NULL;
    odr_rd_t r;
    code = odr_raw_call(&c, API_DESCRIBE_QUORUM, (int16_t)version, 1, body, (size_t)(p - body),
                        &resp, &r);
    odr_raw_close(&c);
    if (code)
        return code;
    odr_json_t j;
    odr_json_init(&j, stdout);
    int16_t err = odr_rd_i16(&r);
    if (r.ok && err) {
        free(resp);
        return odr_kafka_fail((rd_kafka_resp_err_t)err, NULL, "the quorum", NULL);
    }
    int64_t ntopics = odr_rd_compact_count(&r, 3);
    for (int64_t t = 0; r.ok && t < ntopics; t++) {
        const char *name;
        size_t nlen;
        odr_rd_compact_str(&r, &name, &nlen);
        int64_t nparts = odr_rd_compact_count(&r, 24);
        for (int64_t i = 0; r.ok && i < nparts; i++) {
            int32_t index = odr_rd_i32(&r);
            int16_t perr = odr_rd_i16(&r);
            int32_t leader = odr_rd_i32(&r), epoch = odr_rd_i32(&r);
            int64_t hw = odr_rd_i64(&r);
            if (!r.ok)
                break;
            if (perr) {
                free(resp);
                return odr_kafka_fail((rd_kafka_resp_err_t)perr, NULL, "the quorum", NULL);
            }
            if (ctx->json) {
                odr_json_obj(&j);
                odr_json_key(&j, "topic");
                odr_json_bytes(&j, name ? name : "", nlen);
                ODR_JSON_KI(&j, "partition", index);
                ODR_JSON_KI(&j, "leader", leader);
                ODR_JSON_KI(&j, "leader_epoch", epoch);
                ODR_JSON_KI(&j, "high_watermark", hw);
            } else {
                printf("TOPIC           %.*s\nPARTITION       %d\nLEADER          %d\n"
                       "LEADER EPOCH    %d\nHIGH WATERMARK  %lld\n",
                       (int)nlen, name ? name : "", (int)index, (int)leader, (int)epoch,
                       (long long)hw);
            }
            replicas(&r, version, ctx, &j, "voters");
            replicas(&r, version, ctx, &j, "observers");
            odr_rd_skip_tags(&r);
            if (ctx->json) {
                odr_json_end(&j, '}');
                odr_json_line(&j);
            }
        }
        odr_rd_skip_tags(&r);
    }
    free(resp);
    if (!r.ok)
        return odr_fail(ODR_EXIT_KAFKA, "the broker's DescribeQuorum answer is not readable");
    return 0;
}

int odr_cmd_cluster(odr_ctx_t *ctx, int argc, char **argv)
{
    if (argc < 2)
        return odr_usage("cluster needs a subcommand\n%s", cluster_usage);
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        puts(cluster_usage);
        return 0;
    }
    if (strcmp(argv[1], "info") == 0)
        return cluster_info(ctx, argc - 1, argv + 1);
    if (strcmp(argv[1], "config") == 0)
        return cluster_config(ctx, argc - 1, argv + 1);
    if (strcmp(argv[1], "quorum") == 0)
        return cluster_quorum(ctx, argc - 1, argv + 1);
    return odr_usage("unknown cluster subcommand '%s'\n%s", argv[1], cluster_usage);
}
