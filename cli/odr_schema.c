/* odr_schema.c - `odr schema register|get|list`: the schema registry's REST
 * API (Confluent-compatible, served by odradekd on schema.registry.listener,
 * doc/serializers.md) over a small blocking HTTP/1.1 client. The registry is
 * --registry URL, else $ODR_SCHEMA_REGISTRY, else the profile's
 * schema.registry.url, else http://127.0.0.1:8081.
 * Registry errors ({"error_code": 40401, ...}) exit 1 with the message. */
#include "odr.h"
#include "odr_decode.h"

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

static const char schema_usage[] =
    "usage: odr schema list [--registry URL]\n"
    "       odr schema get SUBJECT [--version N|latest] [--registry URL]\n"
    "       odr schema get --id ID [--registry URL]\n"
    "       odr schema register SUBJECT FILE [--type AVRO|JSON] [--registry URL]\n"
    "                          (type from the name: .avsc AVRO, .json JSON; FILE - is stdin)";

#define ODR_HTTP_MAX (8 * 1024 * 1024) /* largest answer read */
#define ODR_SCHEMA_FILE_MAX (1024 * 1024)

typedef struct reg {
    char host[256];
    char port[8];
} reg_t;

static int parse_url(const char *url, reg_t *r)
{
    const char *p = strncmp(url, "http://", 7) == 0 ? url + 7 : NULL;
    if (!p)
        return odr_usage("--registry takes http://host:port, not '%s'", url);
    const char *colon = strrchr(p, ':');
    size_t hl = colon ? (size_t)(colon - p) : 0;
    size_t pl = colon ? strcspn(colon + 1, "/") : 0;
    if (!colon || hl == 0 || hl >= sizeof(r->host) || pl == 0 || pl >= sizeof(r->port))
        return odr_usage("--registry takes http://host:port, not '%s'", url);
    memcpy(r->host, p, hl);
    r->host[hl] = 0;
    memcpy(r->port, colon + 1, pl);
    r->port[pl] = 0;
    return 0;
}

/* One request; *status and the body (malloc'd, NUL terminated) on success.
 * Returns 0, or an exit code after a message. */
static int http(odr_ctx_t *ctx, const reg_t *r, const char *method, const char *path,
                const char *body, int *status, char **out)
{
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(r->host, r->port, &hints, &ai) != 0)
        return odr_fail(ODR_EXIT_UNREACHABLE, "cannot resolve the registry host %s", r->host);
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        int e = errno;
        freeaddrinfo(ai);
        if (fd >= 0)
            close(fd);
        return odr_fail(ODR_EXIT_UNREACHABLE, "cannot reach the schema registry at %s:%s: %s",
                        r->host, r->port, strerror(e));
    }
    freeaddrinfo(ai);
    size_t blen = body ? strlen(body) : 0;
    char head[1024];
    int hl = snprintf(head, sizeof(head),
                      "%s %s HTTP/1.1\r\nHost: %s:%s\r\nAccept: application/json\r\n"
                      "Content-Type: application/vnd.schemaregistry.v1+json\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                      method, path, r->host, r->port, blen);
    int code = 0;
    if (hl < 0 || (size_t)hl >= sizeof(head))
        code = odr_usage("subject name too long");
    for (size_t off = 0, n = (size_t)hl; !code && off < n;) {
        ssize_t w = write(fd, head + off, n - off);
        if (w <= 0)
            code = odr_fail(ODR_EXIT_UNREACHABLE, "registry connection lost");
        else
            off += (size_t)w;
    }
    for (size_t off = 0; !code && off < blen;) {
        ssize_t w = write(fd, body + off, blen - off);
        if (w <= 0)
            code = odr_fail(ODR_EXIT_UNREACHABLE, "registry connection lost");
        else
            off += (size_t)w;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    while (!code) {
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, ctx->timeout_ms) <= 0) {
            code = odr_fail(ODR_EXIT_UNREACHABLE, "no answer from the registry in time");
            break;
        }
        if (len + 4096 + 1 > cap) {
            if (cap >= ODR_HTTP_MAX) {
                code = odr_fail(ODR_EXIT_KAFKA, "registry answer larger than %d bytes",
                                ODR_HTTP_MAX);
                break;
            }
            cap = cap ? cap * 2 : 16384;
            char *g = realloc(buf, cap);
            if (!g) {
                code = odr_fail(ODR_EXIT_KAFKA, "out of memory");
                break;
            }
            buf = g;
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    if (code) {
        free(buf);
        return code;
    }
    if (!buf || len < 12 || strncmp(buf, "HTTP/1.", 7) != 0) {
        free(buf);
        return odr_fail(ODR_EXIT_KAFKA, "not an HTTP answer from %s:%s", r->host, r->port);
    }
    buf[len] = 0;
    *status = atoi(buf + 9);
    char *b = strstr(buf, "\r\n\r\n");
    b = b ? b + 4 : buf + len;
    memmove(buf, b, strlen(b) + 1);
    *out = buf;
    return 0;
}

/* Decode the body; a registry error is printed and gives exit 1. */
static int answer(int status, char *body, json_t **out)
{
    json_error_t je;
    json_t *j = json_loads(body, JSON_DECODE_ANY, &je);
    if (status / 100 != 2) {
        json_t *m = j ? json_object_get(j, "message") : NULL;
        json_t *c = j ? json_object_get(j, "error_code") : NULL;
        int code = odr_fail(ODR_EXIT_KAFKA, "registry error %lld: %s",
                            c ? (long long)json_integer_value(c) : (long long)status,
                            json_is_string(m) ? json_string_value(m) : body);
        json_decref(j);
        free(body);
        return code;
    }
    free(body);
    if (!j)
        return odr_fail(ODR_EXIT_KAFKA, "the registry's answer is not JSON: %s", je.text);
    *out = j;
    return 0;
}

static int call(odr_ctx_t *ctx, const reg_t *r, const char *method, const char *path,
                const char *body, json_t **out)
{
    int status = 0;
    char *resp = NULL;
    int code = http(ctx, r, method, path, body, &status, &resp);
    return code ? code : answer(status, resp, out);
}

/* A subject as one path segment. */
static void escape_seg(const char *s, char *out, size_t outsz)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s && o + 4 < outsz; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.') {
            out[o++] = (char)ch;
        } else {
            out[o++] = '%';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    out[o] = 0;
}

static void print(odr_ctx_t *ctx, json_t *j)
{
    (void)ctx;
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s)
        puts(s);
    free(s);
}

/* --registry, else $ODR_SCHEMA_REGISTRY, else the profile's
 * schema.registry.url, else the registry's usual local address. */
static const char *registry_url(const odr_ctx_t *ctx, const char *opt)
{
    const char *env = getenv("ODR_SCHEMA_REGISTRY");
    return opt ? opt : env && *env ? env : ctx->registry ? ctx->registry : "http://127.0.0.1:8081";
}

static int schema_list(odr_ctx_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"registry", required_argument, NULL, 'r'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *url = NULL;
    int c;
    odr_getopt_reset();
    while ((c = odr_getopt(argc, argv, "r:h", opts, schema_usage)) >= 0)
        url = optarg;
    if (c < -1)
        return ODR_GETOPT_EXIT(c);
    if (optind != argc)
        return odr_usage("schema list takes no arguments\n%s", schema_usage);
    reg_t r;
    json_t *j = NULL;
    int code = parse_url(registry_url(ctx, url), &r);
    if (!code)
        code = call(ctx, &r, "GET", "/subjects", NULL, &j);
    if (code)
        return code;
    if (ctx->json) {
        print(ctx, j);
    } else {
        size_t i;
        json_t *s;
        json_array_foreach(j, i, s)
        {
            if (json_is_string(s))
                puts(json_string_value(s));
        }
    }
    json_decref(j);
    return 0;
}

static int schema_get(odr_ctx_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"registry", required_argument, NULL, 'r'},
                                         {"version", required_argument, NULL, 'V'},
                                         {"id", required_argument, NULL, 'i'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *url = NULL, *version = "latest";
    int64_t id = -1;
    int c;
    odr_getopt_reset();
    while ((c = odr_getopt(argc, argv, "r:V:i:h", opts, schema_usage)) >= 0) {
        if (c == 'r')
            url = optarg;
        else if (c == 'V')
            version = optarg;
        else if (c == 'i' && odr_parse_i64(optarg, 1, INT32_MAX, &id) < 0)
            return odr_usage("--id takes a schema id, not '%s'", optarg);
    }
    if (c < -1)
        return ODR_GETOPT_EXIT(c);
    int64_t v;
    if (strcmp(version, "latest") != 0 && odr_parse_i64(version, 1, INT32_MAX, &v) < 0)
        return odr_usage("--version takes a number or latest, not '%s'", version);
    if ((id > 0) == (optind == argc - 1))
        return odr_usage("schema get takes a SUBJECT or --id ID\n%s", schema_usage);
    char path[1024], seg[800];
    if (id > 0) {
        snprintf(path, sizeof(path), "/schemas/ids/%lld", (long long)id);
    } else {
        escape_seg(argv[optind], seg, sizeof(seg));
        snprintf(path, sizeof(path), "/subjects/%s/versions/%s", seg, version);
    }
    reg_t r;
    json_t *j = NULL;
    int code = parse_url(registry_url(ctx, url), &r);
    if (!code)
        code = call(ctx, &r, "GET", path, NULL, &j);
    if (code)
        return code;
    if (ctx->json) {
        print(ctx, j);
    } else {
        json_t *t = json_object_get(j, "schemaType");
        if (id <= 0)
            printf("subject: %s\nversion: %lld\nid: %lld\n",
                   json_string_value(json_object_get(j, "subject")),
                   (long long)json_integer_value(json_object_get(j, "version")),
                   (long long)json_integer_value(json_object_get(j, "id")));
        printf("type: %s\n", json_is_string(t) ? json_string_value(t) : "AVRO");
        const char *s = json_string_value(json_object_get(j, "schema"));
        printf("%s\n", s ? s : "");
    }
    json_decref(j);
    return 0;
}

static char *read_all(const char *path, int *code)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        *code = odr_fail(ODR_EXIT_USAGE, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(ODR_SCHEMA_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, ODR_SCHEMA_FILE_MAX + 1, f) : 0;
    if (f != stdin)
        fclose(f);
    if (!buf || n > ODR_SCHEMA_FILE_MAX) {
        free(buf);
        *code = odr_fail(ODR_EXIT_USAGE, "%s: larger than %d bytes", path, ODR_SCHEMA_FILE_MAX);
        return NULL;
    }
    buf[n] = 0;
    return buf;
}

static int schema_register(odr_ctx_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"registry", required_argument, NULL, 'r'},
                                         {"type", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *url = NULL, *type = NULL;
    int c;
    odr_getopt_reset();
    while ((c = odr_getopt(argc, argv, "r:t:h", opts, schema_usage)) >= 0) {
        if (c == 'r')
            url = optarg;
        else
            type = optarg;
    }
    if (c < -1)
        return ODR_GETOPT_EXIT(c);
    if (optind != argc - 2)
        return odr_usage("schema register takes SUBJECT FILE\n%s", schema_usage);
    const char *subject = argv[optind], *file = argv[optind + 1];
    const char *dot = strrchr(file, '.');
    if (!type)
        type = dot && strcmp(dot, ".avsc") == 0 ? "AVRO" : dot && strcmp(dot, ".json") == 0 ? "JSON"
                                                                                              : NULL;
    if (!type || (strcmp(type, "AVRO") != 0 && strcmp(type, "JSON") != 0))
        return odr_usage("--type takes AVRO or JSON (or name the file .avsc or .json)");
    int code = 0;
    char *text = read_all(file, &code);
    if (!text)
        return code;
    json_t *req = json_pack("{s:s,s:s}", "schema", text, "schemaType", type);
    free(text);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body)
        return odr_fail(ODR_EXIT_USAGE, "%s is not UTF-8 text", file);
    char path[1024], seg[800];
    escape_seg(subject, seg, sizeof(seg));
    snprintf(path, sizeof(path), "/subjects/%s/versions", seg);
    reg_t r;
    json_t *j = NULL;
    code = parse_url(registry_url(ctx, url), &r);
    if (!code)
        code = call(ctx, &r, "POST", path, body, &j);
    free(body);
    if (code)
        return code;
    if (ctx->json)
        print(ctx, j);
    else
        printf("registered %s: id %lld\n", subject,
               (long long)json_integer_value(json_object_get(j, "id")));
    json_decref(j);
    return 0;
}

int odr_cmd_schema(odr_ctx_t *ctx, int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(odr_ctx_t *, int, char **);
    } subs[] = {
        {"list", schema_list},
        {"get", schema_get},
        {"register", schema_register},
    };
    if (argc < 2)
        return odr_usage("schema needs a subcommand\n%s", schema_usage);
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        puts(schema_usage);
        return 0;
    }
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].fn(ctx, argc - 1, argv + 1);
    return odr_usage("unknown schema subcommand '%s'\n%s", argv[1], schema_usage);
}

/* For `odr consume --value-format` (odr_decode.c): one GET against the
 * registry, the answer's JSON in *out. */
int odr_registry_get(odr_ctx_t *ctx, const char *url, const char *path, json_t **out)
{
    reg_t r;
    int code = parse_url(registry_url(ctx, url), &r);
    return code ? code : call(ctx, &r, "GET", path, NULL, out);
}

/* For `odr produce --value-subject` (odr_encode.c): a subject as one path
 * segment of a registry URL. */
void odr_registry_escape(const char *subject, char *out, size_t outsz)
{
    escape_seg(subject, out, outsz);
}
