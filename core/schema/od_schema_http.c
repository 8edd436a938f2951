/* od_schema_http.c - the Confluent Schema Registry REST API on
 * schema.registry.listener, served by the shared HTTP server
 * (core/net/od_http.c). Paths, bodies and error bodies as Confluent's
 * registry has them ({"error_code": 40401, "message": ...}, the HTTP
 * status being error_code / 100), so its clients (SchemaRegistryClient,
 * the serializers) work unchanged:
 *   GET    /subjects                          GET /schemas/ids/{id}
 *   GET    /subjects/{s}/versions             GET /subjects/{s}/versions/{v|latest}
 *   POST   /subjects/{s}/versions             POST /subjects/{s} (look a schema up)
 *   DELETE /subjects/{s}                      POST /compatibility/subjects/{s}/versions/{v|latest}
 *   GET    /config[/{s}]                      PUT  /config[/{s}]
 * Changes are proposed through the control plane and answered on commit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "od_core.h"
#include "od_http.h"
#include "od_schema.h"
#include "od_schema_int.h"

#define CTYPE "application/vnd.schemaregistry.v1+json"

static od_http_srv_t *registry_srv;

static void reply_json(od_http_conn_t *c, int status, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    if (!s) {
        static const char b[] = "{\"error_code\":50001,\"message\":\"out of memory\"}";
        od_http_reply(c, 500, CTYPE, NULL, b, sizeof(b) - 1);
        return;
    }
    od_http_reply(c, status, CTYPE, NULL, s, strlen(s));
    free(s);
}

static void reply_error(od_http_conn_t *c, int code, const char *msg)
{
    reply_json(c, code / 100, json_pack("{s:i,s:s}", "error_code", code, "message", msg));
}

/* Percent-decode one path segment into out; -1 when malformed or too long. */
static int decode_seg(const char *p, size_t n, char *out, size_t outsz)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '%') {
            unsigned v = 0;
            char hex[3] = {0};
            if (i + 2 >= n)
                return -1;
            memcpy(hex, p + i + 1, 2);
            if (sscanf(hex, "%2x", &v) != 1)
                return -1;
            ch = (unsigned char)v;
            i += 2;
        }
        if (ch == 0 || o + 1 >= outsz)
            return -1;
        out[o++] = (char)ch;
    }
    out[o] = 0;
    return 0;
}

/* Split path into at most 6 decoded segments. */
static int split(const char *path, char seg[][OD_SCHEMA_MAX_SUBJECT], int max)
{
    int n = 0;
    const char *p = path;
    while (*p == '/')
        p++;
    while (*p) {
        size_t l = strcspn(p, "/");
        if (n == max || decode_seg(p, l, seg[n], OD_SCHEMA_MAX_SUBJECT) < 0)
            return -1;
        n++;
        p += l;
        while (*p == '/')
            p++;
    }
    return n;
}

static int parse_version(const char *s, int32_t *v)
{
    if (strcmp(s, "latest") == 0 || strcmp(s, "-1") == 0) {
        *v = -1;
        return 0;
    }
    char *end;
    long x = strtol(s, &end, 10);
    if (!*s || *end || x < 1 || x > INT32_MAX)
        return -1;
    *v = (int32_t)x;
    return 0;
}

static json_t *schema_obj(od_core_t *core, const char *subject, int32_t version, int32_t id)
{
    od_schema_t *s = od_schema_by_id(core, id);
    if (!s)
        return NULL;
    json_t *j = json_pack("{s:s,s:i,s:i,s:s%}", "subject", subject, "version", version, "id", id,
                          "schema", s->text, s->len);
    if (j && strcmp(s->type, "AVRO") != 0)
        json_object_set_new(j, "schemaType", json_string(s->type));
    return j;
}

/* The body's schema and schemaType (default AVRO, as Confluent's). */
static int body_schema(od_http_conn_t *c, const char *body, size_t blen, json_t **root,
                       const char **text, size_t *tlen, const char **type)
{
    json_error_t je;
    *root = json_loadb(body, blen, 0, &je);
    json_t *s = *root ? json_object_get(*root, "schema") : NULL;
    if (!s || !json_is_string(s)) {
        json_decref(*root);
        *root = NULL;
        reply_error(c, 42201, "the body must be a JSON object with a \"schema\" string");
        return -1;
    }
    json_t *t = json_object_get(*root, "schemaType");
    *type = json_is_string(t) ? json_string_value(t) : "AVRO";
    *text = json_string_value(s);
    *tlen = json_string_length(s);
    if (json_object_get(*root, "references") && json_array_size(json_object_get(*root, "references"))) {
        json_decref(*root);
        *root = NULL;
        reply_error(c, 42201, "schema references are not supported");
        return -1;
    }
    return 0;
}

static void registered(void *arg, int status, int32_t id, const char *msg)
{
    od_http_conn_t *c = arg;
    if (status)
        reply_error(c, status, msg ? msg : "error");
    else
        reply_json(c, 200, json_pack("{s:i}", "id", id));
}

typedef struct change_reply {
    od_http_conn_t *c;
    json_t *body; /* answered on success */
} change_reply_t;

static void change_done(void *arg, int status, int32_t id, const char *msg)
{
    change_reply_t *r = arg;
    (void)id;
    if (status) {
        json_decref(r->body);
        reply_error(r->c, status, msg ? msg : "error");
    } else {
        reply_json(r->c, 200, r->body);
    }
    free(r);
}

static change_reply_t *change(od_http_conn_t *c, json_t *answer)
{
    change_reply_t *r = answer ? malloc(sizeof(*r)) : NULL;
    if (!r) {
        json_decref(answer);
        reply_error(c, 50001, "out of memory");
        return NULL;
    }
    r->c = c;
    r->body = answer;
    return r;
}

static void subjects_get(od_core_t *core, od_http_conn_t *c)
{
    json_t *a = json_array();
    for (size_t i = 0; a; i++) {
        const char *s = od_schema_subject_at(core, i);
        if (!s)
            break;
        int32_t v;
        if (od_schema_versions(core, s, &v, 1) > 0) /* not subjects with only a level */
            json_array_append_new(a, json_string(s));
    }
    reply_json(c, 200, a);
}

/* The subject's versions as a JSON array, or NULL when it has none (the
 * 40401 is answered) or out of memory. *found says which. */
static json_t *versions_json(od_core_t *core, od_http_conn_t *c, const char *subject, int *found)
{
    int32_t v[OD_SCHEMA_MAX_LISTED];
    size_t n = od_schema_versions(core, subject, v, OD_SCHEMA_MAX_LISTED);
    *found = n > 0;
    if (n == 0) {
        reply_error(c, 40401, "Subject not found.");
        return NULL;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n && i < OD_SCHEMA_MAX_LISTED; i++)
        json_array_append_new(a, json_integer(v[i]));
    return a;
}

static void versions_get(od_core_t *core, od_http_conn_t *c, const char *subject)
{
    int found;
    json_t *a = versions_json(core, c, subject, &found);
    if (found)
        reply_json(c, 200, a);
}

static void version_get(od_core_t *core, od_http_conn_t *c, const char *subject, const char *vs)
{
    int32_t v, got = 0;
    if (parse_version(vs, &v) < 0) {
        reply_error(c, 42202, "The specified version is not a valid version id.");
        return;
    }
    if (od_schema_versions(core, subject, &got, 1) == 0) {
        reply_error(c, 40401, "Subject not found.");
        return;
    }
    int32_t id = od_schema_version_id(core, subject, v, &got);
    json_t *j = id > 0 ? schema_obj(core, subject, got, id) : NULL;
    if (!j)
        reply_error(c, 40402, "Version not found.");
    else
        reply_json(c, 200, j);
}

static void lookup(od_core_t *core, od_http_conn_t *c, const char *subject, const char *body,
                   size_t blen)
{
    json_t *root;
    const char *text, *type;
    size_t tlen;
    if (body_schema(c, body, blen, &root, &text, &tlen, &type) < 0)
        return;
    char *norm = NULL, why[256];
    size_t nlen;
    int32_t id = -1, version = 0;
    if (od_schema_normalize(type, text, tlen, &norm, &nlen, why, sizeof(why)) == 0) {
        id = od_schema_find_text(core, type, norm, nlen);
        free(norm);
    }
    json_decref(root);
    int32_t any;
    if (od_schema_versions(core, subject, &any, 1) == 0)
        reply_error(c, 40401, "Subject not found.");
    else if (id < 0 || !od_schema_subject_has(core, subject, id, &version))
        reply_error(c, 40403, "Schema not found.");
    else
        reply_json(c, 200, schema_obj(core, subject, version, id));
}

static void register_post(od_core_t *core, od_http_conn_t *c, const char *subject,
                          const char *body, size_t blen)
{
    json_t *root;
    const char *text, *type;
    size_t tlen;
    if (body_schema(c, body, blen, &root, &text, &tlen, &type) < 0)
        return;
    od_schema_register(core, subject, type, text, tlen, registered, c);
    json_decref(root);
}

static void compat_post(od_core_t *core, od_http_conn_t *c, const char *subject, const char *vs,
                        const char *body, size_t blen)
{
    int32_t v, got;
    if (parse_version(vs, &v) < 0) {
        reply_error(c, 42202, "The specified version is not a valid version id.");
        return;
    }
    if (od_schema_versions(core, subject, &got, 1) == 0) {
        reply_error(c, 40401, "Subject not found.");
        return;
    }
    if (od_schema_version_id(core, subject, v, &got) < 0) {
        reply_error(c, 40402, "Version not found.");
        return;
    }
    json_t *root;
    const char *text, *type;
    size_t tlen;
    if (body_schema(c, body, blen, &root, &text, &tlen, &type) < 0)
        return;
    char *norm = NULL, why[512] = "";
    size_t nlen;
    int ok = -1;
    if (od_schema_normalize(type, text, tlen, &norm, &nlen, why, sizeof(why)) == 0) {
        ok = od_schema_check_compat(core, subject, type, norm, nlen, v, why, sizeof(why));
        free(norm);
    }
    json_decref(root);
    if (ok < 0) {
        reply_error(c, 42201, why);
        return;
    }
    json_t *j = json_pack("{s:b}", "is_compatible", ok);
    if (j && !ok)
        json_object_set_new(j, "messages", json_pack("[s]", why));
    reply_json(c, 200, j);
}

static void config(od_core_t *core, od_http_conn_t *c, const od_http_req_t *rq,
                   const char *subject, const char *body, size_t blen)
{
    if (strcmp(rq->method, "GET") == 0) {
        od_compat_t lv = od_schema_compat(core, subject, subject[0] != 0);
        if (lv == OD_COMPAT_UNSET && !strstr(rq->query, "defaultToGlobal=true"))
            reply_error(c, 40408, "Subject does not have subject-level compatibility configured");
        else {
            if (lv == OD_COMPAT_UNSET)
                lv = od_schema_compat(core, subject, 0);
            reply_json(c, 200, json_pack("{s:s}", "compatibilityLevel", od_compat_name(lv)));
        }
        return;
    }
    if (strcmp(rq->method, "PUT") == 0) {
        json_error_t je;
        json_t *root = json_loadb(body, blen, 0, &je);
        json_t *lv = root ? json_object_get(root, "compatibility") : NULL;
        od_compat_t cv;
        if (!json_is_string(lv) || od_compat_parse(json_string_value(lv), &cv) < 0) {
            json_decref(root);
            reply_error(c, 42203, "Invalid compatibility level.");
            return;
        }
        json_decref(root);
        int32_t any;
        int known = od_schema_versions(core, subject, &any, 1) > 0 ||
                    od_schema_compat(core, subject, 1) != OD_COMPAT_UNSET;
        if (subject[0] && !known && od_schema_full(core, subject, 0)) {
            reply_error(c, 50001, "the registry holds its limit of subjects");
            return;
        }
        change_reply_t *r = change(c, json_pack("{s:s}", "compatibility", od_compat_name(cv)));
        if (r)
            od_schema_set_compat(core, subject, cv, change_done, r);
        return;
    }
    if (strcmp(rq->method, "DELETE") == 0 && subject[0]) {
        od_compat_t lv = od_schema_compat(core, subject, 1);
        if (lv == OD_COMPAT_UNSET) {
            reply_error(c, 40401, "Subject not found.");
            return;
        }
        change_reply_t *r = change(c, json_pack("{s:s}", "compatibilityLevel", od_compat_name(lv)));
        if (r)
            od_schema_set_compat(core, subject, OD_COMPAT_UNSET, change_done, r);
        return;
    }
    reply_error(c, 40501, "Method not allowed.");
}

static void subject_delete(od_core_t *core, od_http_conn_t *c, const char *subject)
{
    int found;
    json_t *a = versions_json(core, c, subject, &found);
    if (!found)
        return;
    change_reply_t *r = change(c, a);
    if (r)
        od_schema_delete_subject(core, subject, change_done, r);
}

static void handle(void *arg, od_http_conn_t *c, const od_http_req_t *rq, const char *body,
                   size_t blen)
{
    od_core_t *core = arg;
    char seg[6][OD_SCHEMA_MAX_SUBJECT];
    int n = split(rq->path, seg, 6);
    const char *m = rq->method;
    int get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0, post = strcmp(m, "POST") == 0;
    if (n < 0) {
        reply_error(c, 40401, "Subject not found (bad path).");
    } else if (n >= 1 && strcmp(seg[0], "subjects") == 0) {
        if (n == 1 && get)
            subjects_get(core, c);
        else if (n == 2 && post)
            lookup(core, c, seg[1], body, blen);
        else if (n == 2 && strcmp(m, "DELETE") == 0)
            subject_delete(core, c, seg[1]);
        else if (n == 3 && strcmp(seg[2], "versions") == 0 && get)
            versions_get(core, c, seg[1]);
        else if (n == 3 && strcmp(seg[2], "versions") == 0 && post)
            register_post(core, c, seg[1], body, blen);
        else if (n == 4 && strcmp(seg[2], "versions") == 0 && get)
            version_get(core, c, seg[1], seg[3]);
        else if (n == 5 && strcmp(seg[2], "versions") == 0 && get && strcmp(seg[4], "schema") == 0) {
            int32_t v, got;
            int32_t id = parse_version(seg[3], &v) == 0 ? od_schema_version_id(core, seg[1], v, &got)
                                                        : -1;
            od_schema_t *s = id > 0 ? od_schema_by_id(core, id) : NULL;
            if (!s)
                reply_error(c, 40402, "Version not found.");
            else
                od_http_reply(c, 200, CTYPE, NULL, s->text, s->len);
        } else
            reply_error(c, 40401, "Not found.");
    } else if (n == 3 && strcmp(seg[0], "schemas") == 0 && strcmp(seg[1], "ids") == 0 && get) {
        char *end;
        long id = strtol(seg[2], &end, 10);
        od_schema_t *s = *end || id <= 0 || id > INT32_MAX ? NULL : od_schema_by_id(core, (int32_t)id);
        if (!s) {
            reply_error(c, 40403, "Schema not found");
        } else {
            json_t *j = json_pack("{s:s%}", "schema", s->text, s->len);
            if (j && strcmp(s->type, "AVRO") != 0)
                json_object_set_new(j, "schemaType", json_string(s->type));
            reply_json(c, 200, j);
        }
    } else if (n == 5 && strcmp(seg[0], "compatibility") == 0 && strcmp(seg[1], "subjects") == 0 &&
               strcmp(seg[3], "versions") == 0 && post) {
        compat_post(core, c, seg[2], seg[4], body, blen);
    } else if ((n == 1 || n == 2) && strcmp(seg[0], "config") == 0) {
        config(core, c, rq, n == 2 ? seg[1] : "", body, blen);
    } else if (n == 2 && strcmp(seg[0], "schemas") == 0 && strcmp(seg[1], "types") == 0 && get) {
        reply_json(c, 200, json_pack("[s,s,s]", "AVRO", "JSON", "PROTOBUF"));
    } else if (n == 0 && get) {
        reply_json(c, 200, json_object());
    } else {
        reply_error(c, 40401, "Not found.");
    }
}

int od_schema_http_open(od_core_t *core, const char *url, char *err, size_t errsz)
{
    char host[256], why[300];
    int port, bound = 0;
    int on = od_http_url_parse(url, host, sizeof(host), &port, why, sizeof(why));
    if (on < 0) {
        snprintf(err, errsz, "schema.registry.listener: %s", why);
        return -1;
    }
    if (on == 0)
        return 0;
    /* a body carries one schema, JSON-escaped: up to about twice its size */
    registry_srv = od_http_open(core->loop, "schema.registry.listener", host, port, 60000,
                                2 * OD_SCHEMA_MAX_TEXT + 4096, handle, core, &bound, err, errsz);
    if (!registry_srv)
        return -1;
    od_logf(OD_LOG_INFO, "schema registry on http://%s:%d", host[0] ? host : "*", bound);
    return 0;
}

void od_schema_http_close(od_core_t *core)
{
    (void)core;
    od_http_close(registry_srv);
    registry_srv = NULL;
}
