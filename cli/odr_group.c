/* odr_group.c - `odr group list|describe|delete|reset-offsets`. */
#include "odr.h"
#include "odr_json.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char group_usage[] =
    "usage: odr group list\n"
    "       odr group describe GROUP\n"
    "       odr group delete GROUP...\n"
    "       odr group reset-offsets GROUP --topic T (--to-earliest|--to-latest|--to-offset N)\n"
    "                 [--execute]   (without --execute only shows what would change)";

#define MAX_GROUPS 256

/* ListGroups through rd_kafka_list_groups(): librdkafka 2.0.2's
 * ListConsumerGroups appends a byte after the ListGroups v4 body, which
 * Odradek refuses. */
static int group_list(odr_ctx_t *ctx, int argc, char **argv)
{
    int code = odr_no_options(argc, argv, group_usage);
    if (code >= 0)
        return code;
    if (optind != argc)
        return odr_usage("group list takes no GROUP\n%s", group_usage);
    code = 0;
    rd_kafka_t *rk = odr_admin(ctx, &code);
    if (!rk)
        return code;
    const struct rd_kafka_group_list *gl = NULL;
    rd_kafka_resp_err_t e = rd_kafka_list_groups(rk, NULL, &gl, ctx->timeout_ms);
    if (e) {
        code = odr_kafka_fail(e, NULL, "the group list", NULL);
    } else {
        odr_json_t j;
        odr_json_init(&j, stdout);
        if (ctx->json)
            odr_json_arr(&j);
        else
            printf("%-40s %-20s %s\n", "GROUP", "STATE", "MEMBERS");
        for (int i = 0; i < gl->group_cnt; i++) {
            const struct rd_kafka_group_info *g = &gl->groups[i];
            if (ctx->json) {
                odr_json_obj(&j);
                ODR_JSON_KS(&j, "group", g->group);
                ODR_JSON_KS(&j, "state", g->state);
                ODR_JSON_KS(&j, "protocol_type", g->protocol_type);
                ODR_JSON_KI(&j, "members", g->member_cnt);
                odr_json_end(&j, '}');
            } else {
                printf("%-40s %-20s %d\n", g->group, g->state, g->member_cnt);
            }
        }
        if (ctx->json) {
            odr_json_end(&j, ']');
            odr_json_line(&j);
        }
        rd_kafka_group_list_destroy(gl);
    }
    rd_kafka_destroy(rk);
    return code;
}

/* The committed offsets of a group: OffsetFetch for every partition of
 * every topic (or of one), by a consumer handle that never joins the group.
 * (librdkafka 2.0.2's ListConsumerGroupOffsets appends bytes after the
 * OffsetFetch v7 body, which Odradek refuses; the consumer's own OffsetFetch
 * is well-formed.) Only partitions with a commit are returned; NULL after a
 * message. */
static rd_kafka_topic_partition_list_t *committed(odr_ctx_t *ctx, rd_kafka_t *rk, const char *group,
                                                  const char *topic, int *code)
{
    const rd_kafka_metadata_t *md = odr_metadata(ctx, rk, topic, code);
    if (!md)
        return NULL;
    rd_kafka_topic_partition_list_t *all = rd_kafka_topic_partition_list_new(64);
    for (int t = 0; t < md->topic_cnt; t++)
        for (int i = 0; md->topics[t].err == 0 && i < md->topics[t].partition_cnt; i++)
            rd_kafka_topic_partition_list_add(all, md->topics[t].topic,
                                              md->topics[t].partitions[i].id);
    rd_kafka_metadata_destroy(md);
    const char *defaults[] = {"group.id", group, "enable.auto.commit", "false", NULL};
    rd_kafka_conf_t *conf = odr_conf_defaults(ctx, defaults, code);
    char err[512];
    rd_kafka_t *ck = conf ? rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err) : NULL;
    if (conf && !ck) {
        rd_kafka_conf_destroy(conf);
        *code = odr_usage("cannot make a client: %s", err);
    }
    rd_kafka_topic_partition_list_t *out = NULL;
    if (ck) {
        rd_kafka_resp_err_t e = all->cnt ? rd_kafka_committed(ck, all, ctx->timeout_ms) : 0;
        if (e) {
            *code = odr_kafka_fail(e, NULL, "group", group);
        } else {
            out = rd_kafka_topic_partition_list_new(16);
            for (int i = 0; i < all->cnt; i++)
                if (all->elems[i].offset >= 0)
                    rd_kafka_topic_partition_list_add(out, all->elems[i].topic,
                                                      all->elems[i].partition)
                        ->offset = all->elems[i].offset;
        }
        rd_kafka_destroy(ck);
    }
    rd_kafka_topic_partition_list_destroy(all);
    return out;
}

static int by_topic_partition(const void *a, const void *b)
{
    const rd_kafka_topic_partition_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

static void print_members(odr_ctx_t *ctx, odr_json_t *j, const rd_kafka_ConsumerGroupDescription_t *d)
{
    size_t n = rd_kafka_ConsumerGroupDescription_member_count(d);
    if (ctx->json) {
        odr_json_key(j, "members");
        odr_json_arr(j);
    } else {
        printf("\n%-50s %-20s %-16s %s\n", "MEMBER", "CLIENT", "HOST", "PARTITIONS");
    }
    for (size_t i = 0; i < n; i++) {
        const rd_kafka_MemberDescription_t *m = rd_kafka_ConsumerGroupDescription_member(d, i);
        const rd_kafka_topic_partition_list_t *a =
            rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(m));
        if (ctx->json) {
            odr_json_obj(j);
            ODR_JSON_KS(j, "member_id", rd_kafka_MemberDescription_consumer_id(m));
            ODR_JSON_KS(j, "client_id", rd_kafka_MemberDescription_client_id(m));
            ODR_JSON_KS(j, "host", rd_kafka_MemberDescription_host(m));
            odr_json_key(j, "assignment");
            odr_json_arr(j);
            for (int k = 0; a && k < a->cnt; k++) {
                odr_json_obj(j);
                ODR_JSON_KS(j, "topic", a->elems[k].topic);
                ODR_JSON_KI(j, "partition", a->elems[k].partition);
                odr_json_end(j, '}');
            }
            odr_json_end(j, ']');
            odr_json_end(j, '}');
        } else {
            printf("%-50s %-20s %-16s", rd_kafka_MemberDescription_consumer_id(m),
                   rd_kafka_MemberDescription_client_id(m), rd_kafka_MemberDescription_host(m));
            for (int k = 0; a && k < a->cnt; k++)
                printf("%s%s/%d", k ? "," : " ", a->elems[k].topic, (int)a->elems[k].partition);
            printf("\n");
        }
    }
    if (ctx->json)
        odr_json_end(j, ']');
}

static int group_describe(odr_ctx_t *ctx, int argc, char **argv)
{
    int code = odr_no_options(argc, argv, group_usage);
    if (code >= 0)
        return code;
    if (optind + 1 != argc)
        return odr_usage("group describe takes one GROUP\n%s", group_usage);
    const char *group = argv[optind];
    code = 0;
    rd_kafka_t *rk = odr_admin(ctx, &code);
    if (!rk)
        return code;
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o =
        odr_admin_options(ctx, rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
    const char *groups[1] = {group};
    rd_kafka_DescribeConsumerGroups(rk, groups, 1, o, q);
    rd_kafka_event_t *ev = odr_admin_wait(ctx, q, "group", group, &code);
    const rd_kafka_ConsumerGroupDescription_t *d = NULL;
    if (ev) {
        size_t n = 0;
        const rd_kafka_ConsumerGroupDescription_t **ds =
            rd_kafka_DescribeConsumerGroups_result_groups(
                rd_kafka_event_DescribeConsumerGroups_result(ev), &n);
        if (n != 1)
            code = odr_fail(ODR_EXIT_KAFKA, "no answer for group '%s'", group);
        else if (rd_kafka_ConsumerGroupDescription_error(ds[0]))
            code = odr_kafka_fail(
                rd_kafka_error_code(rd_kafka_ConsumerGroupDescription_error(ds[0])),
                rd_kafka_error_string(rd_kafka_ConsumerGroupDescription_error(ds[0])), "group",
                group);
        else
            d = ds[0];
    }
    rd_kafka_topic_partition_list_t *offs = d ? committed(ctx, rk, group, NULL, &code) : NULL;
    if (d && offs) {
        rd_kafka_consumer_group_state_t state = rd_kafka_ConsumerGroupDescription_state(d);
        size_t nmembers = rd_kafka_ConsumerGroupDescription_member_count(d);
        /* Kafka answers an unknown group as Dead (or Empty) with nothing in it. */
        if ((state == RD_KAFKA_CONSUMER_GROUP_STATE_DEAD ||
             state == RD_KAFKA_CONSUMER_GROUP_STATE_UNKNOWN) &&
            nmembers == 0 && offs->cnt == 0) {
            code = odr_kafka_fail(RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND, NULL, "group", group);
        } else {
            /* Assigned partitions without a commit show too. */
            for (size_t i = 0; i < nmembers; i++) {
                const rd_kafka_topic_partition_list_t *a = rd_kafka_MemberAssignment_partitions(
                    rd_kafka_MemberDescription_assignment(
                        rd_kafka_ConsumerGroupDescription_member(d, i)));
                for (int k = 0; a && k < a->cnt; k++)
                    if (!rd_kafka_topic_partition_list_find(offs, a->elems[k].topic,
                                                            a->elems[k].partition))
                        rd_kafka_topic_partition_list_add(offs, a->elems[k].topic,
                                                          a->elems[k].partition)
                            ->offset = RD_KAFKA_OFFSET_INVALID;
            }
            qsort(offs->elems, (size_t)offs->cnt, sizeof offs->elems[0], by_topic_partition);
            odr_json_t j;
            odr_json_init(&j, stdout);
            const char *sname = rd_kafka_consumer_group_state_name(state);
            if (ctx->json) {
                odr_json_obj(&j);
                ODR_JSON_KS(&j, "group", group);
                ODR_JSON_KS(&j, "state", sname);
                odr_json_key(&j, "partitions");
                odr_json_arr(&j);
            } else {
                printf("GROUP  %s\nSTATE  %s\nMEMBERS %zu\n\n", group, sname, nmembers);
                printf("%-30s %-10s %-12s %-12s %s\n", "TOPIC", "PARTITION", "COMMITTED", "END",
                       "LAG");
            }
            int64_t total = 0;
            for (int i = 0; i < offs->cnt; i++) {
                rd_kafka_topic_partition_t *p = &offs->elems[i];
                int64_t lo = -1, hi = -1;
                rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
                    rk, p->topic, p->partition, &lo, &hi, ctx->timeout_ms);
                int has_commit = p->offset >= 0;
                /* without a commit everything from the log start is unread */
                int64_t lag = e ? -1 : hi - (has_commit ? p->offset : lo);
                if (lag < -1)
                    lag = 0;
                if (lag > 0)
                    total += lag;
                if (ctx->json) {
                    odr_json_obj(&j);
                    ODR_JSON_KS(&j, "topic", p->topic);
                    ODR_JSON_KI(&j, "partition", p->partition);
                    odr_json_key(&j, "committed");
                    has_commit ? odr_json_int(&j, p->offset) : odr_json_null(&j);
                    odr_json_key(&j, "end");
                    e ? odr_json_null(&j) : odr_json_int(&j, hi);
                    odr_json_key(&j, "lag");
                    lag < 0 ? odr_json_null(&j) : odr_json_int(&j, lag);
                    odr_json_end(&j, '}');
                } else {
                    char cbuf[32], ebuf[32], lbuf[32];
                    snprintf(cbuf, sizeof cbuf, has_commit ? "%lld" : "-", (long long)p->offset);
                    snprintf(ebuf, sizeof ebuf, e ? "-" : "%lld", (long long)hi);
                    snprintf(lbuf, sizeof lbuf, lag < 0 ? "-" : "%lld", (long long)lag);
                    printf("%-30s %-10d %-12s %-12s %s\n", p->topic, (int)p->partition, cbuf, ebuf,
                           lbuf);
                }
            }
            if (ctx->json) {
                odr_json_end(&j, ']');
                ODR_JSON_KI(&j, "total_lag", total);
                print_members(ctx, &j, d);
                odr_json_end(&j, '}');
                odr_json_line(&j);
            } else {
                printf("%-30s %-10s %-12s %-12s %lld\n", "TOTAL", "", "", "", (long long)total);
                print_members(ctx, &j, d);
            }
        }
    }
    if (offs)
        rd_kafka_topic_partition_list_destroy(offs);
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return code;
}

static int group_delete(odr_ctx_t *ctx, int argc, char **argv)
{
    int code = odr_no_options(argc, argv, group_usage);
    if (code >= 0)
        return code;
    int n = argc - optind;
    if (n < 1 || n > MAX_GROUPS)
        return odr_usage("group delete takes 1 to %d GROUPs\n%s", MAX_GROUPS, group_usage);
    code = 0;
    rd_kafka_t *rk = odr_admin(ctx, &code);
    if (!rk)
        return code;
    rd_kafka_DeleteGroup_t *dg[MAX_GROUPS];
    for (int i = 0; i < n; i++)
        dg[i] = rd_kafka_DeleteGroup_new(argv[optind + i]);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = odr_admin_options(ctx, rk, RD_KAFKA_ADMIN_OP_DELETEGROUPS);
    rd_kafka_DeleteGroups(rk, dg, (size_t)n, o, q);
    rd_kafka_event_t *ev = odr_admin_wait(ctx, q, "group", argv[optind], &code);
    if (ev) {
        size_t cnt = 0;
        const rd_kafka_group_result_t **gr =
            rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev), &cnt);
        odr_json_t j;
        odr_json_init(&j, stdout);
        if (ctx->json)
            odr_json_arr(&j);
        for (size_t i = 0; i < cnt; i++) {
            const rd_kafka_error_t *e = rd_kafka_group_result_error(gr[i]);
            if (e) {
                code = odr_kafka_fail(rd_kafka_error_code(e), rd_kafka_error_string(e), "group",
                                      rd_kafka_group_result_name(gr[i]));
                continue;
            }
            if (ctx->json)
                odr_json_str(&j, rd_kafka_group_result_name(gr[i]));
            else
                printf("deleted group %s\n", rd_kafka_group_result_name(gr[i]));
        }
        if (ctx->json) {
            odr_json_end(&j, ']');
            odr_json_line(&j);
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_DeleteGroup_destroy_array(dg, (size_t)n);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return code;
}

static int group_reset(odr_ctx_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"topic", required_argument, NULL, 't'},
        {"to-earliest", no_argument, NULL, 'E'},
        {"to-latest", no_argument, NULL, 'L'},
        {"to-offset", required_argument, NULL, 'O'},
        {"execute", no_argument, NULL, 'x'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *topic = NULL;
    int to = 0, execute = 0, c;
    int64_t target = -1;
    odr_getopt_reset();
    while ((c = odr_getopt(argc, argv, "t:h", opts, group_usage)) >= 0) {
        if (c == 't')
            topic = optarg;
        if (c == 'E' || c == 'L' || c == 'O') {
            if (to)
                return odr_usage("give one of --to-earliest, --to-latest, --to-offset");
            to = c;
        }
        if (c == 'O' && odr_parse_i64(optarg, 0, INT64_MAX, &target) != 0)
            return odr_usage("--to-offset takes an offset >= 0, not '%s'", optarg);
        if (c == 'x')
            execute = 1;
    }
    if (c != -1)
        return ODR_GETOPT_EXIT(c);
    if (optind + 1 != argc || !topic || !to)
        return odr_usage("group reset-offsets takes GROUP, --topic and a --to-... option\n%s",
                         group_usage);
    const char *group = argv[optind];
    int code = 0;
    rd_kafka_t *rk = odr_admin(ctx, &code);
    if (!rk)
        return code;
    const rd_kafka_metadata_t *md = odr_metadata(ctx, rk, topic, &code);
    rd_kafka_topic_partition_list_t *cur = md ? committed(ctx, rk, group, topic, &code) : NULL;
    rd_kafka_topic_partition_list_t *plan = rd_kafka_topic_partition_list_new(16);
    if (md && cur) {
        const rd_kafka_metadata_topic_t *t = &md->topics[0];
        for (int i = 0; i < t->partition_cnt && code == 0; i++) {
            int64_t lo, hi;
            rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
                rk, topic, t->partitions[i].id, &lo, &hi, ctx->timeout_ms);
            if (e) {
                code = odr_kafka_fail(e, NULL, "topic", topic);
                break;
            }
            /* Kafka's tool clamps an offset into the log */
            int64_t want = to == 'E' ? lo : to == 'L' ? hi : target < lo ? lo : target > hi ? hi : target;
            rd_kafka_topic_partition_list_add(plan, topic, t->partitions[i].id)->offset = want;
        }
        qsort(plan->elems, (size_t)plan->cnt, sizeof plan->elems[0], by_topic_partition);
    }
    if (code == 0 && md && cur && execute) {
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_AdminOptions_t *o =
            odr_admin_options(ctx, rk, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS);
        rd_kafka_AlterConsumerGroupOffsets_t *req =
            rd_kafka_AlterConsumerGroupOffsets_new(group, plan);
        rd_kafka_AlterConsumerGroupOffsets(rk, &req, 1, o, q);
        rd_kafka_event_t *ev = odr_admin_wait(ctx, q, "group", group, &code);
        if (ev) {
            size_t n = 0;
            const rd_kafka_group_result_t **gr = rd_kafka_AlterConsumerGroupOffsets_result_groups(
                rd_kafka_event_AlterConsumerGroupOffsets_result(ev), &n);
            const rd_kafka_error_t *e = n == 1 ? rd_kafka_group_result_error(gr[0]) : NULL;
            if (e)
                code = odr_kafka_fail(rd_kafka_error_code(e), rd_kafka_error_string(e), "group",
                                      group);
            const rd_kafka_topic_partition_list_t *pr =
                n == 1 ? rd_kafka_group_result_partitions(gr[0]) : NULL;
            for (int i = 0; code == 0 && pr && i < pr->cnt; i++)
                if (pr->elems[i].err)
                    code = odr_kafka_fail(pr->elems[i].err, NULL, "group", group);
            rd_kafka_event_destroy(ev);
        }
        rd_kafka_AlterConsumerGroupOffsets_destroy(req);
        rd_kafka_AdminOptions_destroy(o);
        rd_kafka_queue_destroy(q);
    }
    if (code == 0 && md && cur) {
        odr_json_t j;
        odr_json_init(&j, stdout);
        if (ctx->json) {
            odr_json_obj(&j);
            ODR_JSON_KS(&j, "group", group);
            odr_json_key(&j, "executed");
            odr_json_bool(&j, execute);
            odr_json_key(&j, "partitions");
            odr_json_arr(&j);
        } else {
            printf("%-30s %-10s %-12s %s\n", "TOPIC", "PARTITION", "CURRENT", "NEW");
        }
        for (int i = 0; i < plan->cnt; i++) {
            const rd_kafka_topic_partition_t *p = &plan->elems[i];
            const rd_kafka_topic_partition_t *was =
                rd_kafka_topic_partition_list_find(cur, p->topic, p->partition);
            int64_t before = was && was->offset >= 0 ? was->offset : -1;
            if (ctx->json) {
                odr_json_obj(&j);
                ODR_JSON_KS(&j, "topic", p->topic);
                ODR_JSON_KI(&j, "partition", p->partition);
                odr_json_key(&j, "current");
                before < 0 ? odr_json_null(&j) : odr_json_int(&j, before);
                ODR_JSON_KI(&j, "new", p->offset);
                odr_json_end(&j, '}');
            } else {
                char b[32];
                snprintf(b, sizeof b, before < 0 ? "-" : "%lld", (long long)before);
                printf("%-30s %-10d %-12s %lld\n", p->topic, (int)p->partition, b,
                       (long long)p->offset);
            }
        }
        if (ctx->json) {
            odr_json_end(&j, ']');
            odr_json_end(&j, '}');
            odr_json_line(&j);
        } else if (!execute) {
            printf("(dry run: nothing changed; add --execute to apply)\n");
        }
    }
    rd_kafka_topic_partition_list_destroy(plan);
    if (cur)
        rd_kafka_topic_partition_list_destroy(cur);
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return code;
}

int odr_cmd_group(odr_ctx_t *ctx, int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(odr_ctx_t *, int, char **);
    } subs[] = {
        {"list", group_list},
        {"describe", group_describe},
        {"delete", group_delete},
        {"reset-offsets", group_reset},
    };
    if (argc < 2)
        return odr_usage("group needs a subcommand\n%s", group_usage);
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        puts(group_usage);
        return 0;
    }
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].fn(ctx, argc - 1, argv + 1);
    return odr_usage("unknown group subcommand '%s'\n%s", argv[1], group_usage);
}
