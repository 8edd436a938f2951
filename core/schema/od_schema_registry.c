/* od_schema_registry.c - registering schemas: compatibility checks by
 * level, proposals of the registry's records through the control plane,
 * the schema.* keys, and the subsystem (schema.files at start, the REST
 * listener). A schema text is kept in a normal form (JSON without
 * insignificant whitespace, keys in their order) so the same schema sent
 * twice is recognised. */
#include "od_schema.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "od_core.h"
#include "od_ext.h"
#include "od_meta_batch.h"
#include "od_proto_gen.h"
#include "od_schema_int.h"

static const od_conf_def_t schema_defs[] = {
    {"schema.registry.listener", OD_CONF_STRING, NULL, 0, 0, NULL,
     "http://host:port for the Confluent-compatible Schema Registry REST API (unset: off)", NULL,
     0},
    {"schema.files", OD_CONF_LIST, NULL, 0, 0, NULL,
     "subject=path,... schemas registered at start (.avsc: AVRO, .json: JSON)", NULL, 0},
    {"schema.compatibility.level", OD_CONF_ENUM, "BACKWARD", 0, 0,
     "NONE,BACKWARD,BACKWARD_TRANSITIVE,FORWARD,FORWARD_TRANSITIVE,FULL,FULL_TRANSITIVE",
     "the registry's compatibility level until PUT /config sets one", NULL, 0},
};

int od_schema_register_config(od_core_t *core, char *err, size_t errsz)
{
    return od_config_register(&core->config, schema_defs,
                              sizeof(schema_defs) / sizeof(schema_defs[0]), "core", err, errsz);
}

int od_schema_normalize(const char *type, const char *text, size_t len, char **out, size_t *outlen,
                        char *err, size_t errsz)
{
    if (strcmp(type, "AVRO") != 0 && strcmp(type, "JSON") != 0 && strcmp(type, "PROTOBUF") != 0) {
        snprintf(err, errsz, "schema type %s is not supported (AVRO, JSON, PROTOBUF)", type);
        return -1;
    }
    if (len > OD_SCHEMA_MAX_TEXT) {
        snprintf(err, errsz, "schema larger than %d bytes", OD_SCHEMA_MAX_TEXT);
        return -1;
    }
    if (strcmp(type, "PROTOBUF") == 0) {
        /* base64 text (a FileDescriptorProto): only surrounding space goes */
        while (len > 0 && (text[0] == ' ' || text[0] == '\n' || text[0] == '\r'))
            text++, len--;
        while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\n' || text[len - 1] == '\r'))
            len--;
        char *s = malloc(len + 1);
        if (!s) {
            snprintf(err, errsz, "out of memory");
            return -1;
        }
        memcpy(s, text, len);
        s[len] = 0;
        *out = s;
        *outlen = len;
        return 0;
    }
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        snprintf(err, errsz, "schema is not JSON: %s", je.text);
        return -1;
    }
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!s) {
        snprintf(err, errsz, "schema cannot be written back (nested too deep?)");
        return -1;
    }
    *out = s;
    *outlen = strlen(s);
    return 0;
}

const char *od_schema_record_name(od_schema_t *s, char *why, size_t whysz)
{
    if (s->recname_state == 0) {
        s->recname_state = -1;
        json_t *j = strcmp(s->type, "PROTOBUF") != 0 ? json_loadb(s->text, s->len, 0, NULL) : NULL;
        json_t *n = json_object_get(j, strcmp(s->type, "AVRO") == 0 ? "name" : "title");
        json_t *ns = strcmp(s->type, "AVRO") == 0 ? json_object_get(j, "namespace") : NULL;
        if (json_is_string(n)) {
            const char *nv = json_string_value(n);
            if (json_is_string(ns) && !strchr(nv, '.') && json_string_length(ns) > 0)
                snprintf(s->recname, sizeof(s->recname), "%s.%s", json_string_value(ns), nv);
            else
                snprintf(s->recname, sizeof(s->recname), "%s", nv);
            s->recname_state = 1;
        }
        json_decref(j);
    }
    if (s->recname_state < 0) {
        snprintf(why, whysz, "schema id %d has no record name for the subject name strategy "
                 "(Avro: a named type; JSON: a title; Protobuf: not supported)", s->id);
        return NULL;
    }
    return s->recname;
}

/* ---- compatibility ---- */

static int one_way(od_core_t *core, od_schema_t *reader, od_schema_t *writer, char *why,
                   size_t whysz)
{
    const void *ro, *wo;
    void *rself, *wself, *rc, *wc;
    if (od_schema_compiled(core, reader, &ro, &rself, &rc, why, whysz) < 0 ||
        od_schema_compiled(core, writer, &wo, &wself, &wc, why, whysz) < 0)
        return 0;
    const od_serializer_ops_t *o = ro;
    if (o->struct_size < offsetof(od_serializer_ops_t, compatible) + sizeof(o->compatible) ||
        !o->compatible)
        return 1; /* the format has no evolution rules */
    char e[256] = "";
    if (o->compatible(rself, rc, wc, e, sizeof(e)) == OD_OK)
        return 1;
    snprintf(why, whysz, "%s", e);
    return 0;
}

int od_schema_check_compat(od_core_t *core, const char *subject, const char *type,
                           const char *text, size_t len, int32_t version, char *why, size_t whysz)
{
    od_schema_t cand = {0};
    snprintf(cand.type, sizeof(cand.type), "%s", type);
    cand.text = (char *)text;
    cand.len = len;
    const void *ops;
    void *self, *compiled;
    if (od_schema_compiled(core, &cand, &ops, &self, &compiled, why, whysz) < 0)
        return -1;
    od_compat_t level = od_schema_compat(core, subject, 0);
    int32_t vers[OD_SCHEMA_MAX_LISTED];
    size_t nv = od_schema_versions(core, subject, vers, OD_SCHEMA_MAX_LISTED);
    if (nv > OD_SCHEMA_MAX_LISTED)
        nv = OD_SCHEMA_MAX_LISTED;
    int transitive = level == OD_COMPAT_BACKWARD_TRANSITIVE ||
                     level == OD_COMPAT_FORWARD_TRANSITIVE || level == OD_COMPAT_FULL_TRANSITIVE;
    int back = level != OD_COMPAT_FORWARD && level != OD_COMPAT_FORWARD_TRANSITIVE &&
               level != OD_COMPAT_NONE;
    int fwd = level == OD_COMPAT_FORWARD || level == OD_COMPAT_FORWARD_TRANSITIVE ||
              level == OD_COMPAT_FULL || level == OD_COMPAT_FULL_TRANSITIVE;
    int ok = 1;
    for (size_t i = nv; ok && i-- > 0;) {
        if (version >= 0 && vers[i] != version)
            continue;
        od_schema_t *old = od_schema_by_id(core, od_schema_version_id(core, subject, vers[i], NULL));
        if (!old)
            continue;
        if (version < 0 && level == OD_COMPAT_NONE)
            break;
        if (strcmp(old->type, cand.type) != 0) {
            snprintf(why, whysz, "version %d is of type %s, the new schema %s", vers[i], old->type,
                     cand.type);
            ok = 0;
            break;
        }
        char e[256] = "";
        if (back && !one_way(core, &cand, old, e, sizeof(e))) {
            snprintf(why, whysz, "new schema cannot read data written with version %d: %s",
                     vers[i], e);
            ok = 0;
        } else if (fwd && !one_way(core, old, &cand, e, sizeof(e))) {
            snprintf(why, whysz, "version %d cannot read data written with the new schema: %s",
                     vers[i], e);
            ok = 0;
        }
        if (version < 0 && !transitive)
            break; /* the latest only */
    }
    if (cand.compiled_state == 1) {
        const od_serializer_ops_t *o = cand.ops;
        o->free_compiled(cand.ops_self, cand.compiled);
    }
    return ok;
}

/* ---- proposals ---- */

typedef struct pending {
    od_schema_done_fn done;
    void *arg;
    int32_t id;
} pending_t;

static void committed(void *arg, int16_t code, const char *msg)
{
    pending_t *p = arg;
    if (code == OD_ERR_NONE)
        p->done(p->arg, 0, p->id, NULL);
    else
        p->done(p->arg, 50001, -1, msg && msg[0] ? msg : "the control plane refused the change");
    free(p);
}

/* Propose the change (one record in b); done answers when it is committed. */
static void propose(od_core_t *core, od_meta_batch_t *b, int32_t id, od_schema_done_fn done,
                    void *arg)
{
    pending_t *p = malloc(sizeof(*p));
    if (!p) {
        od_meta_batch_free(b);
        done(arg, 50001, -1, "out of memory");
        return;
    }
    *p = (pending_t){done, arg, id};
    char err[256] = "";
    if (od_meta_propose(core, b, committed, p, err, sizeof(err)) < 0)
        committed(p, OD_ERR_UNKNOWN_SERVER_ERROR, err);
}

void od_schema_register(od_core_t *core, const char *subject, const char *type, const char *text,
                        size_t len, od_schema_done_fn done, void *arg)
{
    char why[512] = "";
    char *norm = NULL;
    size_t nlen = 0;
    json_t *name = json_string(subject); /* NULL when not UTF-8 */
    json_decref(name);
    if (!subject[0] || strlen(subject) >= OD_SCHEMA_MAX_SUBJECT || !name) {
        done(arg, 42201, -1, "bad subject name (empty, too long or not UTF-8)");
        return;
    }
    if (od_schema_normalize(type, text, len, &norm, &nlen, why, sizeof(why)) < 0) {
        done(arg, 42201, -1, why);
        return;
    }
    int32_t existing = od_schema_find_text(core, type, norm, nlen);
    if (existing > 0 && od_schema_subject_has(core, subject, existing, NULL)) {
        free(norm);
        done(arg, 0, existing, NULL);
        return;
    }
    if (od_schema_full(core, subject, existing <= 0)) {
        free(norm);
        done(arg, 50001, -1, "the registry holds its limit of schemas, subjects or versions");
        return;
    }
    if (existing <= 0 && od_schema_text_bytes(core) + nlen > OD_SCHEMA_MAX_TOTAL) {
        free(norm);
        done(arg, 50001, -1, "the registry holds its limit of schema text (64 MiB)");
        return;
    }
    int c = od_schema_check_compat(core, subject, type, norm, nlen, -1, why, sizeof(why));
    if (c <= 0) {
        free(norm);
        done(arg, c < 0 ? 42201 : 40901, -1, why);
        return;
    }
    int32_t latest = 0;
    od_schema_version_id(core, subject, -1, &latest);
    int32_t id = existing > 0 ? existing : od_schema_reserve_id(core);
    od_SchemaRecord_t r;
    od_SchemaRecord_init(&r);
    r.subject = od_str_c(subject);
    r.version = latest + 1;
    r.id = id;
    r.schema_type = od_str_c(type);
    r.schema.p = norm;
    r.schema.len = (int32_t)nlen;
    od_meta_batch_t b = {0};
    od_wbuf_t *w = od_meta_batch_add(&b, OD_METAREC_SCHEMA, 0);
    if (w)
        od_SchemaRecord_encode(w, 0, &r);
    free(norm);
    propose(core, &b, id, done, arg);
}

void od_schema_delete_subject(od_core_t *core, const char *subject, od_schema_done_fn done,
                              void *arg)
{
    od_RemoveSchemaSubjectRecord_t r;
    od_RemoveSchemaSubjectRecord_init(&r);
    r.subject = od_str_c(subject);
    od_meta_batch_t b = {0};
    od_wbuf_t *w = od_meta_batch_add(&b, OD_METAREC_REMOVE_SCHEMA_SUBJECT, 0);
    if (w)
        od_RemoveSchemaSubjectRecord_encode(w, 0, &r);
    propose(core, &b, 0, done, arg);
}

void od_schema_set_compat(od_core_t *core, const char *subject, od_compat_t c,
                          od_schema_done_fn done, void *arg)
{
    od_SchemaConfigRecord_t r;
    od_SchemaConfigRecord_init(&r);
    r.subject = od_str_c(subject);
    r.compatibility = od_str_c(od_compat_name(c));
    od_meta_batch_t b = {0};
    od_wbuf_t *w = od_meta_batch_add(&b, OD_METAREC_SCHEMA_CONFIG, 0);
    if (w)
        od_SchemaConfigRecord_encode(w, 0, &r);
    propose(core, &b, 0, done, arg);
}

/* ---- the subsystem ---- */

typedef struct file_reg {
    char subject[OD_SCHEMA_MAX_SUBJECT];
    char path[1024];
    int status;  /* -1 until done runs */
    int in_call; /* done ran inside od_schema_register: the caller decides */
    char msg[512];
} file_reg_t;

static void file_done(void *arg, int status, int32_t id, const char *msg)
{
    file_reg_t *f = arg;
    f->status = status;
    snprintf(f->msg, sizeof(f->msg), "%s", msg ? msg : "");
    if (status == 0)
        od_logf(OD_LOG_INFO, "schema.files: %s from %s has id %d", f->subject, f->path, id);
    else if (!f->in_call)
        od_logf(OD_LOG_ERROR, "schema.files: %s from %s: %s", f->subject, f->path, f->msg);
    if (!f->in_call)
        free(f);
}

static int load_file(od_core_t *core, const char *item, size_t n, char *err, size_t errsz)
{
    const char *eq = memchr(item, '=', n);
    size_t sl = eq ? (size_t)(eq - item) : 0;
    size_t pl = eq ? n - sl - 1 : 0;
    if (!eq || sl == 0 || pl == 0 || sl >= OD_SCHEMA_MAX_SUBJECT || pl >= 1024) {
        snprintf(err, errsz, "schema.files: '%.*s' is not subject=path", (int)n, item);
        return -1;
    }
    char path[1024];
    memcpy(path, eq + 1, pl);
    path[pl] = 0;
    const char *dot = strrchr(path, '.');
    const char *type = dot && strcmp(dot, ".avsc") == 0   ? "AVRO"
                       : dot && strcmp(dot, ".json") == 0 ? "JSON"
                                                          : NULL;
    if (!type) {
        snprintf(err, errsz, "schema.files: %s: the name must end in .avsc (Avro) or .json "
                 "(JSON Schema)", path);
        return -1;
    }
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, errsz, "schema.files: %s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = malloc(OD_SCHEMA_MAX_TEXT + 1);
    size_t len = buf ? fread(buf, 1, OD_SCHEMA_MAX_TEXT + 1, fp) : 0;
    fclose(fp);
    if (!buf || len > OD_SCHEMA_MAX_TEXT) {
        free(buf);
        snprintf(err, errsz, "schema.files: %s: larger than %d bytes", path, OD_SCHEMA_MAX_TEXT);
        return -1;
    }
    file_reg_t *f = calloc(1, sizeof(*f));
    if (!f) {
        free(buf);
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    memcpy(f->subject, item, sl);
    snprintf(f->path, sizeof(f->path), "%s", path);
    f->status = -1;
    /* Checks fail at once (done runs inside the call, and the start stops);
     * a proposal may be answered later, on commit (then file_done frees f). */
    f->in_call = 1;
    od_schema_register(core, f->subject, type, buf, len, file_done, f);
    free(buf);
    f->in_call = 0;
    if (f->status == -1)
        return 0;
    int rc = f->status == 0 ? 0 : -1;
    if (rc < 0)
        snprintf(err, errsz, "schema.files: %s from %s: %s", f->subject, f->path, f->msg);
    free(f);
    return rc;
}

int od_schema_start(od_core_t *core, char *err, size_t errsz)
{
    const char *files = od_config_get(&core->config, "schema.files");
    for (const char *p = files; p && *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ",");
        while (n > 0 && p[n - 1] == ' ')
            n--;
        if (n > 0 && load_file(core, p, n, err, errsz) < 0)
            return -1;
        p += strcspn(p, ",");
    }
    return od_schema_http_open(core, od_config_get(&core->config, "schema.registry.listener"), err,
                               errsz);
}

void od_schema_stop(od_core_t *core)
{
    od_schema_http_close(core);
}
