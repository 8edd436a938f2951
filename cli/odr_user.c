/* odr_user.c - `odr user list|create|delete`: SCRAM credentials through
 * DescribeUserScramCredentials (api 50) and AlterUserScramCredentials
 * (api 51), sent by odr_raw.c since librdkafka 2.0 has neither.
 *
 * The password never leaves this process: create sends the salt and
 * SaltedPassword = PBKDF2-HMAC(password, salt, iterations) (RFC 5802's Hi),
 * as Kafka's own tool does. */
#include "odr.h"
#include "odr_format.h"
#include "odr_json.h"
#include "odr_raw.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

static const char user_usage[] =
    "usage: odr user list [USER...]\n"
    "       odr user create USER [--password P] [--mechanism SCRAM-SHA-256|SCRAM-SHA-512]\n"
    "                       [--iterations N]   (without --password: the first line of stdin)\n"
    "       odr user delete USER [--mechanism SCRAM-SHA-256|SCRAM-SHA-512]";

#define API_DESCRIBE_SCRAM 50
#define API_ALTER_SCRAM 51
#define MAX_USERS 256

static const char *mech_name(int m)
{
    return m == 1 ? "SCRAM-SHA-256" : m == 2 ? "SCRAM-SHA-512" : "unknown";
}

static int parse_mech(const char *s)
{
    if (strcasecmp(s, "SCRAM-SHA-256") == 0)
        return 1;
    if (strcasecmp(s, "SCRAM-SHA-512") == 0)
        return 2;
    return -1;
}

static int open_for(odr_ctx_t *ctx, odr_raw_t *c, int api)
{
    int code = odr_raw_open(ctx, c);
    if (code == 0 && c->max_version[api] < 0)
        code = odr_fail(ODR_EXIT_KAFKA, "UNSUPPORTED_VERSION: %s is not supported by this broker "
                        "(its ApiVersions does not list api %d); SCRAM users need a broker with "
                        "SCRAM credentials", api == API_ALTER_SCRAM ? "AlterUserScramCredentials"
                                                                     : "DescribeUserScramCredentials",
                        api);
    if (code)
        odr_raw_close(c);
    return code;
}

static int user_list(odr_ctx_t *ctx, int argc, char **argv)
{
    if (argc - 1 > MAX_USERS)
        return odr_usage("more than %d users", MAX_USERS);
    for (int i = 1; i < argc; i++)
        if (argv[i][0] == '-')
            return odr_usage("unknown option %s\n%s", argv[i], user_usage);
    odr_raw_t c;
    int code = open_for(ctx, &c, API_DESCRIBE_SCRAM);
    if (code)
        return code;
    odr_buf_t body = {0};
    int bad = 0;
    if (argc == 1) {
        bad |= odr_wr_uvarint(&body, 0); /* null: every user */
    } else {
        bad |= odr_wr_uvarint(&body, (uint64_t)argc);
        for (int i = 1; i < argc; i++)
            bad |= odr_wr_compact(&body, argv[i], strlen(argv[i])) || odr_wr_uvarint(&body, 0);
    }
    bad |= odr_wr_uvarint(&body, 0);
    uint8_t *resp = NULL;
    odr_rd_t r;
    code = bad ? odr_fail(ODR_EXIT_KAFKA, "out of memory")
               : odr_raw_call(&c, API_DESCRIBE_SCRAM, 0, 1, body.p, body.len, &resp, &r);
    odr_buf_free(&body);
    odr_raw_close(&c);
    if (code)
        return code;
    odr_rd_i32(&r); /* throttle */
    int16_t err = odr_rd_i16(&r);
    const char *msg;
    size_t mlen;
    odr_rd_compact_str(&r, &msg, &mlen);
    if (r.ok && err) {
        char m[512];
        snprintf(m, sizeof m, "%.*s", (int)mlen, msg ? msg : "");
        free(resp);
        return odr_kafka_fail((rd_kafka_resp_err_t)err, m, "the user list", NULL);
    }
    odr_json_t j;
    odr_json_init(&j, stdout);
    if (ctx->json)
        odr_json_arr(&j);
    else
        printf("%-30s %-15s %s\n", "USER", "MECHANISM", "ITERATIONS");
    int64_t n = odr_rd_compact_count(&r, 5);
    for (int64_t i = 0; r.ok && i < n; i++) {
        const char *user;
        size_t ulen;
        odr_rd_compact_str(&r, &user, &ulen);
        int16_t uerr = odr_rd_i16(&r);
        odr_rd_compact_str(&r, &msg, &mlen);
        int64_t ncred = odr_rd_compact_count(&r, 6);
        char name[512];
        snprintf(name, sizeof name, "%.*s", (int)ulen, user ? user : "");
        if (r.ok && uerr && code == 0)
            code = odr_kafka_fail((rd_kafka_resp_err_t)uerr, NULL, "user", name);
        if (ctx->json && !uerr) {
            odr_json_obj(&j);
            ODR_JSON_KS(&j, "user", name);
            odr_json_key(&j, "credentials");
            odr_json_arr(&j);
        }
        for (int64_t k = 0; r.ok && k < ncred; k++) {
            int8_t mech = odr_rd_i8(&r);
            int32_t iter = odr_rd_i32(&r);
            odr_rd_skip_tags(&r);
            if (ctx->json) {
                odr_json_obj(&j);
                ODR_JSON_KS(&j, "mechanism", mech_name(mech));
                ODR_JSON_KI(&j, "iterations", iter);
                odr_json_end(&j, '}');
            } else {
                printf("%-30s %-15s %d\n", name, mech_name(mech), (int)iter);
            }
        }
        odr_rd_skip_tags(&r);
        if (ctx->json && !uerr) {
            odr_json_end(&j, ']');
            odr_json_end(&j, '}');
        }
    }
    if (ctx->json) {
        odr_json_end(&j, ']');
        odr_json_line(&j);
    }
    free(resp);
    if (!r.ok)
        return odr_fail(ODR_EXIT_KAFKA, "the broker's DescribeUserScramCredentials answer is not readable");
    return code;
}

static int alter(odr_ctx_t *ctx, const char *user, int mech, int32_t iterations,
                 const char *password)
{
    odr_buf_t body = {0};
    int bad = 0;
    if (!password) {
        bad |= odr_wr_uvarint(&body, 2); /* one deletion */
        bad |= odr_wr_compact(&body, user, strlen(user)) || odr_wr_be(&body, (uint64_t)mech, 1) ||
               odr_wr_uvarint(&body, 0);
        bad |= odr_wr_uvarint(&body, 1); /* no upsertions */
    } else {
        uint8_t salt[32], salted[64];
        size_t klen = mech == 1 ? 32 : 64;
        if (RAND_bytes(salt, sizeof salt) != 1 ||
            PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, sizeof salt, iterations,
                              mech == 1 ? EVP_sha256() : EVP_sha512(), (int)klen, salted) != 1)
            return odr_fail(ODR_EXIT_USAGE, "cannot compute the SCRAM credential (OpenSSL)");
        bad |= odr_wr_uvarint(&body, 1); /* no deletions */
        bad |= odr_wr_uvarint(&body, 2); /* one upsertion */
        bad |= odr_wr_compact(&body, user, strlen(user)) || odr_wr_be(&body, (uint64_t)mech, 1) ||
               odr_wr_be(&body, (uint32_t)iterations, 4) || odr_wr_compact(&body, salt, sizeof salt) ||
               odr_wr_compact(&body, salted, klen) || odr_wr_uvarint(&body, 0);
    }
    bad |= odr_wr_uvarint(&body, 0);
    if (bad) {
        odr_buf_free(&body);
        return odr_fail(ODR_EXIT_KAFKA, "out of memory");
    }
    odr_raw_t c;
    int code = open_for(ctx, &c, API_ALTER_SCRAM);
    uint8_t *resp = NULL;
    odr_rd_t r;
    if (code == 0) {
        code = odr_raw_call(&c, API_ALTER_SCRAM, 0, 1, body.p, body.len, &resp, &r);
        odr_raw_close(&c);
    }
    odr_buf_free(&body);
    if (code)
        return code;
    odr_rd_i32(&r); /* throttle */
    int64_t n = odr_rd_compact_count(&r, 4);
    for (int64_t i = 0; r.ok && i < n; i++) {
        const char *u, *msg;
        size_t ulen, mlen;
        odr_rd_compact_str(&r, &u, &ulen);
        int16_t err = odr_rd_i16(&r);
        odr_rd_compact_str(&r, &msg, &mlen);
        odr_rd_skip_tags(&r);
        if (r.ok && err && code == 0) {
            char m[512];
            snprintf(m, sizeof m, "%.*s", (int)mlen, msg ? msg : "");
            code = odr_kafka_fail((rd_kafka_resp_err_t)err, m, "user", user);
        }
    }
    free(resp);
    if (!r.ok)
        return odr_fail(ODR_EXIT_KAFKA, "the broker's AlterUserScramCredentials answer is not readable");
    if (code == 0) {
        if (ctx->json) {
            odr_json_t j;
            odr_json_init(&j, stdout);
            odr_json_obj(&j);
            ODR_JSON_KS(&j, "user", user);
            ODR_JSON_KS(&j, "mechanism", mech_name(mech));
            ODR_JSON_KS(&j, "change", password ? "created" : "deleted");
            odr_json_end(&j, '}');
            odr_json_line(&j);
        } else
            printf("%s %s user %s\n", password ? "created" : "deleted", mech_name(mech), user);
    }
    return code;
}

static int user_change(odr_ctx_t *ctx, int argc, char **argv, int create)
{
    static const struct option opts[] = {
        {"password", required_argument, NULL, 'p'},
        {"mechanism", required_argument, NULL, 'm'},
        {"iterations", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *password = NULL;
    int mech = 1, c;
    int64_t iterations = 4096;
    odr_getopt_reset();
    while ((c = odr_getopt(argc, argv, "h", opts, user_usage)) >= 0) {
        if (c == 'p') {
            if (!create)
                return odr_usage("user delete takes no --password");
            password = optarg;
        }
        if (c == 'm' && (mech = parse_mech(optarg)) < 0)
            return odr_usage("--mechanism takes SCRAM-SHA-256 or SCRAM-SHA-512, not '%s'", optarg);
        /* Kafka accepts 4096..16384 iterations */
        if (c == 'i' && odr_parse_i64(optarg, 4096, 16384, &iterations) != 0)
            return odr_usage("--iterations takes 4096..16384, not '%s'", optarg);
    }
    if (c != -1)
        return ODR_GETOPT_EXIT(c);
    if (optind + 1 != argc)
        return odr_usage("user %s takes one USER\n%s", create ? "create" : "delete", user_usage);
    char *line = NULL;
    if (create && !password) {
        size_t cap = 0;
        ssize_t len = getline(&line, &cap, stdin);
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        if (len <= 0) {
            free(line);
            return odr_usage("user create needs --password or a password on stdin");
        }
        password = line;
    }
    int code = alter(ctx, argv[optind], mech, (int32_t)iterations, create ? password : NULL);
    if (line) {
        memset(line, 0, strlen(line));
        free(line);
    }
    return code;
}

int odr_cmd_user(odr_ctx_t *ctx, int argc, char **argv)
{
    if (argc < 2)
        return odr_usage("user needs a subcommand\n%s", user_usage);
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        puts(user_usage);
        return 0;
    }
    if (strcmp(argv[1], "list") == 0)
        return user_list(ctx, argc - 1, argv + 1);
    if (strcmp(argv[1], "create") == 0)
        return user_change(ctx, argc - 1, argv + 1, 1);
    if (strcmp(argv[1], "delete") == 0)
        return user_change(ctx, argc - 1, argv + 1, 0);
    return odr_usage("unknown user subcommand '%s'\n%s", argv[1], user_usage);
}
