/* odr_acl.c - `odr acl create|list|delete` through CreateAcls, DescribeAcls
 * and DeleteAcls. */
#include "odr.h"
#include "odr_json.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char acl_usage[] =
    "usage: odr acl create --allow|--deny --principal User:NAME --operation OP[,OP...]\n"
    "                      RESOURCE [--host H] [--pattern literal|prefixed]\n"
    "       odr acl list   [RESOURCE] [--principal P] [--operation OP] [--pattern ...]\n"
    "       odr acl delete [RESOURCE] [--principal P] [--operation OP] [--allow|--deny] ...\n"
    "  RESOURCE: --topic T | --group G | --cluster | --transactional-id ID\n"
    "  OP: all read write create delete alter describe cluster_action describe_configs\n"
    "      alter_configs idempotent_write";

#define MAX_OPS 16

typedef struct acl_args {
    rd_kafka_ResourceType_t rtype;
    const char *rname, *principal, *host;
    rd_kafka_ResourcePatternType_t pattern;
    rd_kafka_AclPermissionType_t perm;
    rd_kafka_AclOperation_t ops[MAX_OPS];
    int nops;
} acl_args_t;

static const struct {
    const char *name;
    rd_kafka_AclOperation_t op;
} op_names[] = {
    {"any", RD_KAFKA_ACL_OPERATION_ANY},
    {"all", RD_KAFKA_ACL_OPERATION_ALL},
    {"read", RD_KAFKA_ACL_OPERATION_READ},
    {"write", RD_KAFKA_ACL_OPERATION_WRITE},
    {"create", RD_KAFKA_ACL_OPERATION_CREATE},
    {"delete", RD_KAFKA_ACL_OPERATION_DELETE},
    {"alter", RD_KAFKA_ACL_OPERATION_ALTER},
    {"describe", RD_KAFKA_ACL_OPERATION_DESCRIBE},
    {"cluster_action", RD_KAFKA_ACL_OPERATION_CLUSTER_ACTION},
    {"describe_configs", RD_KAFKA_ACL_OPERATION_DESCRIBE_CONFIGS},
    {"alter_configs", RD_KAFKA_ACL_OPERATION_ALTER_CONFIGS},
    {"idempotent_write", RD_KAFKA_ACL_OPERATION_IDEMPOTENT_WRITE},
};

static int parse_ops(const char *list, acl_args_t *a)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        for (char *p = tok; *p; p++)
            if (*p == '-')
                *p = '_';
        size_t i;
        for (i = 0; i < sizeof op_names / sizeof op_names[0]; i++)
            if (strcasecmp(tok, op_names[i].name) == 0)
                break;
        if (i == sizeof op_names / sizeof op_names[0])
            return odr_usage("unknown ACL operation '%s'\n%s", tok, acl_usage);
        if (a->nops == MAX_OPS)
            return odr_usage("more than %d operations", MAX_OPS);
        a->ops[a->nops++] = op_names[i].op;
    }
    return 0;
}

static const char *op_name(rd_kafka_AclOperation_t op)
{
    for (size_t i = 0; i < sizeof op_names / sizeof op_names[0]; i++)
        if (op_names[i].op == op)
            return op_names[i].name;
    return "unknown";
}

/* filter: unset fields mean "any" (list, delete); create needs them all. */
static int parse_args(int argc, char **argv, acl_args_t *a, int filter)
{
    static const struct option opts[] = {
        {"allow", no_argument, NULL, 'A'},
        {"deny", no_argument, NULL, 'D'},
        {"principal", required_argument, NULL, 'p'},
        {"host", required_argument, NULL, 'H'},
        {"operation", required_argument, NULL, 'O'},
        {"topic", required_argument, NULL, 't'},
        {"group", required_argument, NULL, 'g'},
        {"cluster", no_argument, NULL, 'C'},
        {"transactional-id", required_argument, NULL, 'x'},
        {"pattern", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    a->rtype = RD_KAFKA_RESOURCE_ANY;
    a->pattern = filter ? RD_KAFKA_RESOURCE_PATTERN_ANY : RD_KAFKA_RESOURCE_PATTERN_LITERAL;
    a->perm = filter ? RD_KAFKA_ACL_PERMISSION_TYPE_ANY : RD_KAFKA_ACL_PERMISSION_TYPE_UNKNOWN;
    a->host = filter ? NULL : "*";
    int c, nres = 0, rc;
    odr_getopt_reset();
    while ((c = odr_getopt(argc, argv, "h", opts, acl_usage)) >= 0) {
        switch (c) {
        case 'A': a->perm = RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW; break;
        case 'D': a->perm = RD_KAFKA_ACL_PERMISSION_TYPE_DENY; break;
        case 'p':
            if (!strchr(optarg, ':'))
                return odr_usage("--principal takes TYPE:NAME (e.g. User:alice), not '%s'", optarg);
            a->principal = optarg;
            break;
        case 'H': a->host = optarg; break;
        case 'O':
            if ((rc = parse_ops(optarg, a)) != 0)
                return rc;
            break;
        case 't': a->rtype = RD_KAFKA_RESOURCE_TOPIC, a->rname = optarg, nres++; break;
        case 'g': a->rtype = RD_KAFKA_RESOURCE_GROUP, a->rname = optarg, nres++; break;
        case 'C': a->rtype = RD_KAFKA_RESOURCE_BROKER, a->rname = "kafka-cluster", nres++; break;
        case 'x':
            /* librdkafka 2.0 has no transactional-id resource type */
            return odr_usage("--transactional-id ACLs are not supported by librdkafka %s",
                             rd_kafka_version_str());
        case 'P':
            if (strcasecmp(optarg, "literal") == 0)
                a->pattern = RD_KAFKA_RESOURCE_PATTERN_LITERAL;
            else if (strcasecmp(optarg, "prefixed") == 0)
                a->pattern = RD_KAFKA_RESOURCE_PATTERN_PREFIXED;
            else if (filter && strcasecmp(optarg, "match") == 0)
                a->pattern = RD_KAFKA_RESOURCE_PATTERN_MATCH;
            else if (filter && strcasecmp(optarg, "any") == 0)
                a->pattern = RD_KAFKA_RESOURCE_PATTERN_ANY;
            else
                return odr_usage("--pattern takes literal or prefixed%s, not '%s'",
                                 filter ? " (or match, any)" : "", optarg);
            break;
        }
    }
    if (c != -1)
        return ODR_GETOPT_EXIT(c) ? ODR_EXIT_USAGE : -3;
    if (optind != argc)
        return odr_usage("unexpected argument '%s'\n%s", argv[optind], acl_usage);
    if (nres > 1)
        return odr_usage("give one resource (--topic, --group or --cluster)");
    if (!filter) {
        if (nres == 0 || !a->principal || a->nops == 0 ||
            a->perm == RD_KAFKA_ACL_PERMISSION_TYPE_UNKNOWN)
            return odr_usage("acl create needs --allow or --deny, --principal, --operation and a "
                             "resource\n%s", acl_usage);
    } else if (a->nops == 0) {
        a->ops[a->nops++] = RD_KAFKA_ACL_OPERATION_ANY;
    }
    return 0;
}

static rd_kafka_t *admin(odr_ctx_t *ctx, int *code)
{
    rd_kafka_conf_t *conf = odr_conf(ctx, code);
    return conf ? odr_client(ctx, RD_KAFKA_PRODUCER, conf, code) : NULL;
}

static void print_binding(odr_ctx_t *ctx, odr_json_t *j, const rd_kafka_AclBinding_t *b)
{
    const char *rtype = rd_kafka_ResourceType_name(rd_kafka_AclBinding_restype(b));
    const char *pattern =
        rd_kafka_ResourcePatternType_name(rd_kafka_AclBinding_resource_pattern_type(b));
    const char *op = op_name(rd_kafka_AclBinding_operation(b));
    const char *perm = rd_kafka_AclPermissionType_name(rd_kafka_AclBinding_permission_type(b));
    if (ctx->json) {
        odr_json_obj(j);
        ODR_JSON_KS(j, "principal", rd_kafka_AclBinding_principal(b));
        ODR_JSON_KS(j, "host", rd_kafka_AclBinding_host(b));
        ODR_JSON_KS(j, "resource_type", rtype);
        ODR_JSON_KS(j, "resource_name", rd_kafka_AclBinding_name(b));
        ODR_JSON_KS(j, "pattern", pattern);
        ODR_JSON_KS(j, "operation", op);
        ODR_JSON_KS(j, "permission", perm);
        odr_json_end(j, '}');
    } else {
        printf("%-24s %-10s %-8s %-30s %-9s %-17s %s\n", rd_kafka_AclBinding_principal(b),
               rd_kafka_AclBinding_host(b), rtype, rd_kafka_AclBinding_name(b), pattern, op, perm);
    }
}

static void print_header(odr_ctx_t *ctx, odr_json_t *j)
{
    odr_json_init(j, stdout);
    if (ctx->json)
        odr_json_arr(j);
    else
        printf("%-24s %-10s %-8s %-30s %-9s %-17s %s\n", "PRINCIPAL", "HOST", "TYPE", "NAME",
               "PATTERN", "OPERATION", "PERMISSION");
}

static void print_footer(odr_ctx_t *ctx, odr_json_t *j)
{
    if (ctx->json) {
        odr_json_end(j, ']');
        odr_json_line(j);
    }
}

static int acl_create(odr_ctx_t *ctx, int argc, char **argv)
{
    acl_args_t a;
    int code = parse_args(argc, argv, &a, 0);
    if (code)
        return code == -3 ? 0 : code;
    rd_kafka_t *rk = admin(ctx, &code);
    if (!rk)
        return code;
    rd_kafka_AclBinding_t *b[MAX_OPS];
    char err[512];
    for (int i = 0; i < a.nops; i++) {
        b[i] = rd_kafka_AclBinding_new(a.rtype, a.rname, a.pattern, a.principal, a.host, a.ops[i],
                                       a.perm, err, sizeof err);
        if (!b[i]) {
            rd_kafka_AclBinding_destroy_array(b, (size_t)i);
            rd_kafka_destroy(rk);
            return odr_usage("%s", err);
        }
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = odr_admin_options(ctx, rk, RD_KAFKA_ADMIN_OP_CREATEACLS);
    rd_kafka_CreateAcls(rk, b, (size_t)a.nops, o, q);
    rd_kafka_event_t *ev = odr_admin_wait(ctx, q, "the ACL", NULL, &code);
    if (ev) {
        size_t n = 0;
        const rd_kafka_acl_result_t **r =
            rd_kafka_CreateAcls_result_acls(rd_kafka_event_CreateAcls_result(ev), &n);
        for (size_t i = 0; i < n && code == 0; i++) {
            const rd_kafka_error_t *e = rd_kafka_acl_result_error(r[i]);
            if (e)
                code = odr_kafka_fail(rd_kafka_error_code(e), rd_kafka_error_string(e), "the ACL",
                                      NULL);
        }
        if (code == 0) {
            odr_json_t j;
            print_header(ctx, &j);
            for (int i = 0; i < a.nops; i++)
                print_binding(ctx, &j, b[i]);
            print_footer(ctx, &j);
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AclBinding_destroy_array(b, (size_t)a.nops);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return code;
}

/* list (DescribeAcls, one filter) and delete (DeleteAcls, one per operation) */
static int acl_filter(odr_ctx_t *ctx, int argc, char **argv, int delete)
{
    acl_args_t a;
    int code = parse_args(argc, argv, &a, 1);
    if (code)
        return code == -3 ? 0 : code;
    if (!delete && a.nops > 1)
        return odr_usage("acl list takes one --operation");
    rd_kafka_t *rk = admin(ctx, &code);
    if (!rk)
        return code;
    rd_kafka_AclBindingFilter_t *f[MAX_OPS];
    char err[512];
    for (int i = 0; i < a.nops; i++) {
        f[i] = rd_kafka_AclBindingFilter_new(a.rtype, a.rname, a.pattern, a.principal, a.host,
                                             a.ops[i], a.perm, err, sizeof err);
        if (!f[i]) {
            rd_kafka_AclBinding_destroy_array(f, (size_t)i);
            rd_kafka_destroy(rk);
            return odr_usage("%s", err);
        }
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = odr_admin_options(
        ctx, rk, delete ? RD_KAFKA_ADMIN_OP_DELETEACLS : RD_KAFKA_ADMIN_OP_DESCRIBEACLS);
    if (delete)
        rd_kafka_DeleteAcls(rk, f, (size_t)a.nops, o, q);
    else
        rd_kafka_DescribeAcls(rk, f[0], o, q);
    rd_kafka_event_t *ev = odr_admin_wait(ctx, q, "the ACLs", NULL, &code);
    if (ev) {
        odr_json_t j;
        if (delete) {
            size_t n = 0;
            const rd_kafka_DeleteAcls_result_response_t **r =
                rd_kafka_DeleteAcls_result_responses(rd_kafka_event_DeleteAcls_result(ev), &n);
            for (size_t i = 0; i < n && code == 0; i++) {
                const rd_kafka_error_t *e = rd_kafka_DeleteAcls_result_response_error(r[i]);
                if (e)
                    code = odr_kafka_fail(rd_kafka_error_code(e), rd_kafka_error_string(e),
                                          "the ACLs", NULL);
            }
            if (code == 0) {
                print_header(ctx, &j);
                for (size_t i = 0; i < n; i++) {
                    size_t m = 0;
                    const rd_kafka_AclBinding_t **b =
                        rd_kafka_DeleteAcls_result_response_matching_acls(r[i], &m);
                    for (size_t k = 0; k < m; k++)
                        print_binding(ctx, &j, b[k]);
                }
                print_footer(ctx, &j);
            }
        } else {
            size_t n = 0;
            const rd_kafka_AclBinding_t **b =
                rd_kafka_DescribeAcls_result_acls(rd_kafka_event_DescribeAcls_result(ev), &n);
            print_header(ctx, &j);
            for (size_t i = 0; i < n; i++)
                print_binding(ctx, &j, b[i]);
            print_footer(ctx, &j);
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AclBinding_destroy_array(f, (size_t)a.nops);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return code;
}

int odr_cmd_acl(odr_ctx_t *ctx, int argc, char **argv)
{
    if (argc < 2)
        return odr_usage("acl needs a subcommand\n%s", acl_usage);
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        puts(acl_usage);
        return 0;
    }
    if (strcmp(argv[1], "create") == 0)
        return acl_create(ctx, argc - 1, argv + 1);
    if (strcmp(argv[1], "list") == 0)
        return acl_filter(ctx, argc - 1, argv + 1, 0);
    if (strcmp(argv[1], "delete") == 0)
        return acl_filter(ctx, argc - 1, argv + 1, 1);
    return odr_usage("unknown acl subcommand '%s'\n%s", argv[1], acl_usage);
}
