/* odr_main.c - the `odr` command line: global options, the profile file,
 * and dispatch to the command groups.
 *
 * Global options may stand anywhere before a `--`; each command parses the
 * rest. Precedence: the command line, then ODR_BROKERS, then the profile
 * (--profile FILE, else $ODR_PROFILE, else ~/.config/odr/profile when it
 * exists), then 127.0.0.1:9092. */
#include "odr.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifndef ODR_VERSION
#define ODR_VERSION "unknown"
#endif

static const char usage_text[] =
    "usage: odr [GLOBAL OPTIONS] COMMAND ...\n"
    "\n"
    "commands:\n"
    "  topic create|list|describe|delete|alter-config|add-partitions\n"
    "  produce TOPIC            one record per line of standard input\n"
    "  consume TOPIC            print records\n"
    "  group list|describe|delete|reset-offsets\n"
    "  cluster info|config|quorum\n"
    "  acl create|list|delete\n"
    "  user list|create|delete  SCRAM users\n"
    "  bench produce|consume    load and a summary of rates and latencies\n"
    "  schema register|get|list the schema registry (--registry URL)\n"
    "\n"
    "global options:\n"
    "  -b, --brokers H:P[,H:P]  bootstrap brokers (default: profile, else 127.0.0.1:9092)\n"
    "  -X key=value             any librdkafka setting (repeatable)\n"
    "      --profile FILE       key=value lines: brokers=, timeout=, output=,\n"
    "                           schema.registry.url=, librdkafka settings\n"
    "  -o, --output text|json   how results print\n"
    "      --timeout SECONDS    how long to wait for the brokers (default 10)\n"
    "  -v, --verbose            librdkafka's log and progress notes on stderr\n"
    "  -h, --help               this text; `odr COMMAND --help` for a command\n"
    "      --version\n"
    "\n"
    "exit codes: 0 ok, 1 the broker answered with an error, 2 usage error,\n"
    "            3 cannot reach the brokers or the timeout passed\n";

/* Strings from the profile live until exit. */
static int add_setting(odr_ctx_t *ctx, const char *key, const char *val)
{
    if (ctx->nsettings == ODR_MAX_SETTINGS)
        return odr_usage("more than %d settings", ODR_MAX_SETTINGS);
    ctx->set_key[ctx->nsettings] = key;
    ctx->set_val[ctx->nsettings++] = val;
    return 0;
}

static int set_output(odr_ctx_t *ctx, const char *v)
{
    if (strcmp(v, "json") == 0)
        ctx->json = 1;
    else if (strcmp(v, "text") == 0)
        ctx->json = 0;
    else
        return odr_usage("--output takes text or json, not '%s'", v);
    return 0;
}

static int set_timeout(odr_ctx_t *ctx, const char *v)
{
    char *end;
    errno = 0;
    double s = strtod(v, &end);
    if (errno || end == v || *end || s <= 0 || s > 86400)
        return odr_usage("--timeout takes seconds (0 < s <= 86400), not '%s'", v);
    ctx->timeout_ms = (int)(s * 1000);
    if (ctx->timeout_ms < 1)
        ctx->timeout_ms = 1;
    return 0;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

static int read_profile(odr_ctx_t *ctx, const char *path, int must_exist, const char **brokers)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (!must_exist && errno == ENOENT)
            return 0;
        return odr_usage("cannot read the profile %s: %s", path, strerror(errno));
    }
    char line[4096];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq || eq == s) {
            rc = odr_usage("%s:%d: expected key=value", path, lineno);
            break;
        }
        *eq = '\0';
        char *key = strdup(trim(s)), *val = strdup(trim(eq + 1));
        if (!key || !val) {
            rc = odr_fail(ODR_EXIT_USAGE, "out of memory");
        } else if (strcmp(key, "brokers") == 0) {
            free(key);
            free((char *)*brokers);
            ctx->brokers = *brokers = val;
        } else if (strcmp(key, "schema.registry.url") == 0) { /* Confluent's client key */
            free(key);
            ctx->registry = val;
        } else if (strcmp(key, "timeout") == 0 || strcmp(key, "output") == 0) {
            rc = key[0] == 't' ? set_timeout(ctx, val) : set_output(ctx, val);
            free(key);
            free(val);
        } else {
            rc = add_setting(ctx, key, val); /* a librdkafka setting */
        }
        if (rc != 0)
            fprintf(stderr, "odr: (in %s:%d)\n", path, lineno);
        /* key and val stay: the static context refers to them until exit */
    }
    fclose(f);
    return rc;
}

static const struct {
    const char *name;
    int (*fn)(odr_ctx_t *, int, char **);
} commands[] = {
    {"topic", odr_cmd_topic},     {"produce", odr_cmd_produce}, {"consume", odr_cmd_consume},
    {"group", odr_cmd_group},     {"cluster", odr_cmd_cluster}, {"acl", odr_cmd_acl},
    {"user", odr_cmd_user},       {"bench", odr_cmd_bench},     {"schema", odr_cmd_schema},
};

/* The value of a global option: "--opt=v" or the next argument. */
static const char *option_value(int argc, char **argv, int *i, const char *opt)
{
    size_t n = strlen(opt);
    if (strncmp(argv[*i], opt, n) == 0 && argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (*i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

static int is_opt(const char *arg, const char *opt)
{
    size_t n = strlen(opt);
    return strncmp(arg, opt, n) == 0 && (arg[n] == '\0' || (opt[1] == '-' && arg[n] == '='));
}

int main(int argc, char **argv)
{
    /* Static: what the profile and -X strings hang off stays reachable. */
    static odr_ctx_t ctx = {.timeout_ms = 10000};
    const char *cli_brokers = NULL, *profile = NULL, *output = NULL, *timeout = NULL;
    const char *x[ODR_MAX_SETTINGS];
    size_t nx = 0;
    static char **rest;
    rest = calloc((size_t)argc + 1, sizeof *rest);
    int nrest = 0, help = 0;
    if (!rest)
        return odr_fail(ODR_EXIT_USAGE, "out of memory");

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--") == 0) {
            while (i < argc)
                rest[nrest++] = argv[i++];
            break;
        }
#define VALUE(opt)                                                                           \
    do {                                                                                     \
        if (!(v = option_value(argc, argv, &i, opt)))                                        \
            return odr_usage("%s needs a value", opt);                                       \
    } while (0)
        if (is_opt(a, "--brokers") || is_opt(a, "-b")) {
            VALUE(a[1] == '-' ? "--brokers" : "-b");
            cli_brokers = v;
        } else if (is_opt(a, "-X")) {
            VALUE("-X");
            if (nx == ODR_MAX_SETTINGS)
                return odr_usage("more than %d -X settings", ODR_MAX_SETTINGS);
            x[nx++] = v;
        } else if (is_opt(a, "--profile")) {
            VALUE("--profile");
            profile = v;
        } else if (is_opt(a, "--output") || is_opt(a, "-o")) {
            VALUE(a[1] == '-' ? "--output" : "-o");
            output = v;
        } else if (is_opt(a, "--timeout")) {
            VALUE("--timeout");
            timeout = v;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            ctx.verbose = 1;
        } else if (strcmp(a, "--version") == 0) {
            printf("odr %s (librdkafka %s)\n", ODR_VERSION, rd_kafka_version_str());
            return 0;
        } else {
            if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
                help = 1;
            rest[nrest++] = argv[i];
        }
#undef VALUE
    }

    /* The profile first, so the command line overrides it. */
    static const char *brokers; /* static: the profile's string stays reachable */
    int rc = 0;
    char home_profile[4096];
    if (!profile)
        profile = getenv("ODR_PROFILE");
    if (profile && *profile) {
        rc = read_profile(&ctx, profile, 1, &brokers);
    } else {
        const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
        if (xdg && *xdg)
            snprintf(home_profile, sizeof home_profile, "%s/odr/profile", xdg);
        else if (home && *home)
            snprintf(home_profile, sizeof home_profile, "%s/.config/odr/profile", home);
        else
            home_profile[0] = '\0';
        if (home_profile[0])
            rc = read_profile(&ctx, home_profile, 0, &brokers);
    }
    if (rc != 0)
        return rc;
    ctx.brokers = brokers ? brokers : "127.0.0.1:9092";
    if (getenv("ODR_BROKERS") && *getenv("ODR_BROKERS"))
        ctx.brokers = getenv("ODR_BROKERS");
    if (cli_brokers)
        ctx.brokers = cli_brokers;
    if (output && (rc = set_output(&ctx, output)) != 0)
        return rc;
    if (timeout && (rc = set_timeout(&ctx, timeout)) != 0)
        return rc;
    for (size_t i = 0; i < nx; i++) {
        char *kv = strdup(x[i]), *eq = kv ? strchr(kv, '=') : NULL;
        if (!eq || eq == kv)
            return odr_usage("-X takes key=value, not '%s'", x[i]);
        *eq = '\0';
        if ((rc = add_setting(&ctx, kv, eq + 1)) != 0)
            return rc;
    }

    if (nrest == 0 || (help && (strcmp(rest[0], "-h") == 0 || strcmp(rest[0], "--help") == 0))) {
        fputs(usage_text, nrest == 0 ? stderr : stdout);
        return nrest == 0 ? ODR_EXIT_USAGE : 0;
    }
    for (size_t c = 0; c < sizeof commands / sizeof commands[0]; c++)
        if (strcmp(rest[0], commands[c].name) == 0) {
            return commands[c].fn(&ctx, nrest, rest);
        }
    return odr_usage("unknown command '%s' (`odr --help` lists them)", rest[0]);
}
