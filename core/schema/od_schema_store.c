/* od_schema_store.c - the registry's part of the image: schemas by global
 * id, subjects with their versions, compatibility levels. Changed only by
 * applying committed records (SchemaRecord, RemoveSchemaSubjectRecord,
 * SchemaConfigRecord; api keys 10000-10002), so a restart replays it and a
 * snapshot rebuilds it. Schemas are compiled lazily by the serializer of
 * their type, on first use, and kept compiled. */
#include "od_schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_arena.h"
#include "od_core.h"
#include "od_ext.h"
#include "od_proto_gen.h"
#include "od_schema_int.h"

/* Most schemas and versions the store holds: a client that registers in
 * a loop cannot make the image grow without end. */
#define OD_SCHEMA_MAX_SCHEMAS 100000
#define OD_SCHEMA_MAX_VERSIONS 10000

typedef struct subject {
    char *name;
    int32_t *ids; /* ids[i] is version vers[i]; versions ascending */
    int32_t *vers;
    size_t n;
    od_compat_t compat; /* OD_COMPAT_UNSET: the global level */
} subject_t;

typedef struct od_schema_store {
    od_schema_t **byid; /* ascending ids */
    size_t nschemas;
    subject_t *subjects; /* ascending names */
    size_t nsubjects;
    od_compat_t compat; /* the global level set through the API, else UNSET */
    int32_t max_id;
    int32_t reserved_id; /* handed out for proposals (od_schema_reserve_id) */
    size_t text_bytes;   /* of every schema text held */
} od_schema_store_t;

static const char *const compat_names[] = {"NONE",         "BACKWARD",
                                           "BACKWARD_TRANSITIVE", "FORWARD",
                                           "FORWARD_TRANSITIVE",  "FULL",
                                           "FULL_TRANSITIVE"};

const char *od_compat_name(od_compat_t c)
{
    return c < OD_COMPAT_UNSET ? compat_names[c] : "";
}

int od_compat_parse(const char *s, od_compat_t *out)
{
    for (int i = 0; i < (int)OD_COMPAT_UNSET; i++)
        if (strcmp(s, compat_names[i]) == 0) {
            *out = (od_compat_t)i;
            return 0;
        }
    return -1;
}

static od_schema_store_t *store(od_core_t *core, int create)
{
    if (!core->schemas && create) {
        core->schemas = calloc(1, sizeof(od_schema_store_t));
        if (core->schemas)
            core->schemas->compat = OD_COMPAT_UNSET;
    }
    return core->schemas;
}

static size_t id_pos(const od_schema_store_t *st, int32_t id)
{
    size_t lo = 0, hi = st->nschemas;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (st->byid[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

od_schema_t *od_schema_by_id(od_core_t *core, int32_t id)
{
    od_schema_store_t *st = store(core, 0);
    if (!st)
        return NULL;
    size_t i = id_pos(st, id);
    return i < st->nschemas && st->byid[i]->id == id ? st->byid[i] : NULL;
}

static size_t subj_pos(const od_schema_store_t *st, const char *name, int *found)
{
    size_t lo = 0, hi = st->nsubjects;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(st->subjects[mid].name, name);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

static subject_t *find_subject(od_core_t *core, const char *name)
{
    od_schema_store_t *st = store(core, 0);
    int found = 0;
    size_t i = st ? subj_pos(st, name, &found) : 0;
    return found ? &st->subjects[i] : NULL;
}

int32_t od_schema_version_id(od_core_t *core, const char *subject, int32_t version,
                             int32_t *version_out)
{
    subject_t *s = find_subject(core, subject);
    if (!s || s->n == 0)
        return -1;
    for (size_t i = 0; i < s->n; i++)
        if (version < 0 ? i == s->n - 1 : s->vers[i] == version) {
            if (version_out)
                *version_out = s->vers[i];
            return s->ids[i];
        }
    return -1;
}

int od_schema_subject_has(od_core_t *core, const char *subject, int32_t id, int32_t *version)
{
    subject_t *s = find_subject(core, subject);
    for (size_t i = 0; s && i < s->n; i++)
        if (s->ids[i] == id) {
            if (version)
                *version = s->vers[i];
            return 1;
        }
    return 0;
}

const char *od_schema_subject_at(od_core_t *core, size_t i)
{
    od_schema_store_t *st = store(core, 0);
    return st && i < st->nsubjects ? st->subjects[i].name : NULL;
}

size_t od_schema_versions(od_core_t *core, const char *subject, int32_t *out, size_t max)
{
    subject_t *s = find_subject(core, subject);
    size_t n = 0;
    for (size_t i = 0; s && i < s->n; i++)
        if (n < max)
            out[n++] = s->vers[i];
    return s ? s->n : 0;
}

od_compat_t od_schema_compat(od_core_t *core, const char *subject, int own_only)
{
    od_schema_store_t *st = store(core, 0);
    subject_t *s = subject && subject[0] ? find_subject(core, subject) : NULL;
    if (s && s->compat != OD_COMPAT_UNSET)
        return s->compat;
    if (own_only && subject && subject[0])
        return OD_COMPAT_UNSET;
    if (st && st->compat != OD_COMPAT_UNSET)
        return st->compat;
    od_compat_t c = OD_COMPAT_BACKWARD;
    const char *v = od_config_get(&core->config, "schema.compatibility.level");
    if (v)
        od_compat_parse(v, &c);
    return c;
}

int32_t od_schema_next_id(od_core_t *core)
{
    od_schema_store_t *st = store(core, 0);
    return st ? st->max_id + 1 : 1;
}

int od_schema_full(od_core_t *core, const char *subject, int new_schema)
{
    od_schema_store_t *st = store(core, 0);
    if (!st)
        return 0;
    subject_t *s = find_subject(core, subject);
    return (new_schema && st->nschemas >= OD_SCHEMA_MAX_SCHEMAS) ||
           (!s && st->nsubjects >= OD_SCHEMA_MAX_SCHEMAS) ||
           (s && s->n >= OD_SCHEMA_MAX_VERSIONS);
}

size_t od_schema_text_bytes(od_core_t *core)
{
    od_schema_store_t *st = store(core, 0);
    return st ? st->text_bytes : 0;
}

int32_t od_schema_reserve_id(od_core_t *core)
{
    od_schema_store_t *st = store(core, 1);
    if (!st)
        return 1;
    int32_t base = st->max_id > st->reserved_id ? st->max_id : st->reserved_id;
    st->reserved_id = base + 1;
    return base + 1;
}

int32_t od_schema_find_text(od_core_t *core, const char *type, const char *text, size_t len)
{
    od_schema_store_t *st = store(core, 0);
    for (size_t i = 0; st && i < st->nschemas; i++) {
        od_schema_t *s = st->byid[i];
        if (s->len == len && strcmp(s->type, type) == 0 && memcmp(s->text, text, len) == 0)
            return s->id;
    }
    return -1;
}

/* ---- applying records ---- */

static int add_schema(od_schema_store_t *st, int32_t id, od_str_t type, od_str_t text, char *err,
                      size_t errsz)
{
    size_t i = id_pos(st, id);
    if (i < st->nschemas && st->byid[i]->id == id)
        return 0; /* the same id under another subject */
    if (st->nschemas >= OD_SCHEMA_MAX_SCHEMAS || type.len <= 0 ||
        (size_t)type.len >= sizeof(((od_schema_t *)0)->type) || text.len < 0) {
        snprintf(err, errsz, "schema %d: bad type or too many schemas", id);
        return -1;
    }
    od_schema_t *s = calloc(1, sizeof(*s));
    od_schema_t **grown = s ? realloc(st->byid, (st->nschemas + 1) * sizeof(*grown)) : NULL;
    char *t = grown ? malloc((size_t)text.len + 1) : NULL;
    if (!t) {
        free(s);
        if (grown)
            st->byid = grown;
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    st->byid = grown;
    memcpy(t, text.p, (size_t)text.len);
    t[text.len] = 0;
    s->id = id;
    memcpy(s->type, type.p, (size_t)type.len);
    s->text = t;
    s->len = (size_t)text.len;
    st->text_bytes += s->len;
    memmove(st->byid + i + 1, st->byid + i, (st->nschemas - i) * sizeof(*st->byid));
    st->byid[i] = s;
    st->nschemas++;
    if (id > st->max_id)
        st->max_id = id;
    return 0;
}

static subject_t *get_subject(od_schema_store_t *st, od_str_t name)
{
    char buf[1024];
    if (name.len <= 0 || (size_t)name.len >= sizeof(buf))
        return NULL;
    memcpy(buf, name.p, (size_t)name.len);
    buf[name.len] = 0;
    int found;
    size_t i = subj_pos(st, buf, &found);
    if (found)
        return &st->subjects[i];
    if (st->nsubjects >= OD_SCHEMA_MAX_SCHEMAS)
        return NULL; /* subjects with only a level would otherwise grow without end */
    subject_t *g = realloc(st->subjects, (st->nsubjects + 1) * sizeof(*g));
    if (!g)
        return NULL;
    st->subjects = g;
    char *n = strdup(buf);
    if (!n)
        return NULL;
    memmove(g + i + 1, g + i, (st->nsubjects - i) * sizeof(*g));
    memset(&g[i], 0, sizeof(g[i]));
    g[i].name = n;
    g[i].compat = OD_COMPAT_UNSET;
    st->nsubjects++;
    return &g[i];
}

static int apply_schema(od_schema_store_t *st, const od_SchemaRecord_t *r, char *err,
                        size_t errsz)
{
    if (r->id <= 0) {
        snprintf(err, errsz, "schema id %d", r->id);
        return -1;
    }
    /* Limits are checked before proposing (od_schema_register); a record
     * past them all the same (another broker's, a log written with other
     * limits) is logged and skipped: a replay must not stop the broker. */
    if (add_schema(st, r->id, r->schema_type, r->schema, err, errsz) < 0) {
        od_logf(OD_LOG_WARN, "schema registry: schema id %d not kept: %s", r->id, err);
        return 0;
    }
    if (r->subject.len <= 0)
        return 0; /* a schema whose subjects were deleted (ids stay resolvable) */
    subject_t *s = get_subject(st, r->subject);
    if (!s) {
        od_logf(OD_LOG_WARN, "schema registry: subject %.*s not kept (bad name, %d subjects or "
                "out of memory)", (int)r->subject.len, r->subject.p, OD_SCHEMA_MAX_SCHEMAS);
        return 0;
    }
    int32_t version = r->version;
    for (size_t i = 0; i < s->n; i++) {
        if (s->ids[i] == r->id)
            return 0; /* already applied (a snapshot and the log both hold it) */
        if (s->vers[i] == version)
            version = s->vers[s->n - 1] + 1; /* two proposals raced: the later one follows */
    }
    if (s->n >= OD_SCHEMA_MAX_VERSIONS) {
        od_logf(OD_LOG_WARN, "schema registry: %s has %d versions; id %d not added", s->name,
                OD_SCHEMA_MAX_VERSIONS, r->id);
        return 0;
    }
    int32_t *ids = realloc(s->ids, (s->n + 1) * sizeof(*ids));
    if (ids)
        s->ids = ids;
    int32_t *vers = ids ? realloc(s->vers, (s->n + 1) * sizeof(*vers)) : NULL;
    if (!vers) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    s->vers = vers;
    size_t i = s->n;
    while (i > 0 && s->vers[i - 1] > version) {
        s->vers[i] = s->vers[i - 1];
        s->ids[i] = s->ids[i - 1];
        i--;
    }
    s->vers[i] = version;
    s->ids[i] = r->id;
    s->n++;
    return 0;
}

static void free_subject(subject_t *s)
{
    free(s->name);
    free(s->ids);
    free(s->vers);
}

static void apply_remove(od_schema_store_t *st, od_str_t name)
{
    char buf[1024];
    if (name.len <= 0 || (size_t)name.len >= sizeof(buf))
        return;
    memcpy(buf, name.p, (size_t)name.len);
    buf[name.len] = 0;
    int found;
    size_t i = subj_pos(st, buf, &found);
    if (!found)
        return;
    free_subject(&st->subjects[i]);
    memmove(st->subjects + i, st->subjects + i + 1, (st->nsubjects - i - 1) * sizeof(subject_t));
    st->nsubjects--;
}

static int apply_config(od_schema_store_t *st, const od_SchemaConfigRecord_t *r, char *err,
                        size_t errsz)
{
    char lvl[32] = "";
    od_compat_t c = OD_COMPAT_UNSET;
    if (r->compatibility.len > 0 && (size_t)r->compatibility.len < sizeof(lvl)) {
        memcpy(lvl, r->compatibility.p, (size_t)r->compatibility.len);
        if (od_compat_parse(lvl, &c) < 0) {
            snprintf(err, errsz, "compatibility level '%s'", lvl);
            return -1;
        }
    }
    if (r->subject.len <= 0) {
        st->compat = c;
        return 0;
    }
    subject_t *s = get_subject(st, r->subject);
    if (!s) {
        /* skipped, not fatal: a replay must not stop the broker for a level */
        od_logf(OD_LOG_WARN, "schema registry: level of subject %.*s not kept (bad name, "
                "%d subjects or out of memory)", (int)r->subject.len, r->subject.p,
                OD_SCHEMA_MAX_SCHEMAS);
        return 0;
    }
    s->compat = c;
    return 0;
}

int od_schema_store_apply(od_core_t *core, int16_t key, int16_t version, od_slice_t *body,
                          char *err, size_t errsz)
{
    od_schema_store_t *st = store(core, 1);
    if (!st) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    od_arena_t a;
    od_arena_init(&a, 0);
    int rc = -1;
    if (key == OD_METAREC_SCHEMA) {
        od_SchemaRecord_t r;
        if (od_SchemaRecord_decode(body, version, &a, &r) < 0)
            snprintf(err, errsz, "SchemaRecord v%d does not decode", version);
        else
            rc = apply_schema(st, &r, err, errsz);
    } else if (key == OD_METAREC_REMOVE_SCHEMA_SUBJECT) {
        od_RemoveSchemaSubjectRecord_t r;
        if (od_RemoveSchemaSubjectRecord_decode(body, version, &a, &r) < 0)
            snprintf(err, errsz, "RemoveSchemaSubjectRecord v%d does not decode", version);
        else {
            apply_remove(st, r.subject);
            rc = 0;
        }
    } else {
        od_SchemaConfigRecord_t r;
        if (od_SchemaConfigRecord_decode(body, version, &a, &r) < 0)
            snprintf(err, errsz, "SchemaConfigRecord v%d does not decode", version);
        else
            rc = apply_config(st, &r, err, errsz);
    }
    od_arena_free(&a);
    return rc;
}

/* ---- snapshot ---- */

static int push(od_meta_record_t **out, size_t *n, od_wbuf_t *w)
{
    size_t len = 0;
    uint8_t *flat = w->err ? NULL : od_wbuf_flatten(w, &len);
    od_wbuf_free(w);
    od_meta_record_t *g = flat ? realloc(*out, (*n + 1) * sizeof(**out)) : NULL;
    if (!g) {
        free(flat);
        return -1;
    }
    *out = g;
    g[*n].data = flat;
    g[*n].len = len;
    (*n)++;
    return 0;
}

static int snap_schema(od_meta_record_t **out, size_t *n, const char *subject, int32_t version,
                       const od_schema_t *s)
{
    od_SchemaRecord_t r;
    od_SchemaRecord_init(&r);
    r.subject = od_str_c(subject);
    r.version = version;
    r.id = s->id;
    r.schema_type = od_str_c(s->type);
    r.schema.p = s->text;
    r.schema.len = (int32_t)s->len;
    od_wbuf_t w;
    od_wbuf_init(&w);
    od_metarec_frame(&w, OD_METAREC_SCHEMA, 0);
    od_SchemaRecord_encode(&w, 0, &r);
    return push(out, n, &w);
}

static int snap_config(od_meta_record_t **out, size_t *n, const char *subject, od_compat_t c)
{
    od_SchemaConfigRecord_t r;
    od_SchemaConfigRecord_init(&r);
    r.subject = od_str_c(subject);
    r.compatibility = od_str_c(od_compat_name(c));
    od_wbuf_t w;
    od_wbuf_init(&w);
    od_metarec_frame(&w, OD_METAREC_SCHEMA_CONFIG, 0);
    od_SchemaConfigRecord_encode(&w, 0, &r);
    return push(out, n, &w);
}

int od_schema_store_snapshot(od_core_t *core, od_meta_record_t **out, size_t *n)
{
    od_schema_store_t *st = store(core, 0);
    if (!st)
        return 0;
    /* every schema first (ids of deleted subjects stay resolvable), then
     * the subjects' versions, then the levels */
    for (size_t i = 0; i < st->nschemas; i++)
        if (snap_schema(out, n, "", 0, st->byid[i]) < 0)
            return -1;
    for (size_t i = 0; i < st->nsubjects; i++) {
        subject_t *s = &st->subjects[i];
        for (size_t v = 0; v < s->n; v++) {
            od_schema_t *sc = od_schema_by_id(core, s->ids[v]);
            if (sc && snap_schema(out, n, s->name, s->vers[v], sc) < 0)
                return -1;
        }
        if (s->compat != OD_COMPAT_UNSET && snap_config(out, n, s->name, s->compat) < 0)
            return -1;
    }
    if (st->compat != OD_COMPAT_UNSET && snap_config(out, n, "", st->compat) < 0)
        return -1;
    return 0;
}

void od_schema_store_free(od_core_t *core)
{
    od_schema_store_t *st = core->schemas;
    if (!st)
        return;
    for (size_t i = 0; i < st->nschemas; i++) {
        od_schema_t *s = st->byid[i];
        if (s->compiled_state == 1) {
            const od_serializer_ops_t *o = s->ops;
            o->free_compiled(s->ops_self, s->compiled);
        }
        free(s->text);
        free(s);
    }
    for (size_t i = 0; i < st->nsubjects; i++)
        free_subject(&st->subjects[i]);
    free(st->byid);
    free(st->subjects);
    free(st);
    core->schemas = NULL;
}

/* ---- compiling ---- */

static const char *serializer_of(const char *type)
{
    if (strcmp(type, "AVRO") == 0)
        return "avro";
    if (strcmp(type, "JSON") == 0)
        return "json";
    if (strcmp(type, "PROTOBUF") == 0)
        return "protobuf";
    return NULL;
}

int od_schema_compiled(od_core_t *core, od_schema_t *s, const void **ops, void **self,
                       void **compiled, char *err, size_t errsz)
{
    if (s->compiled_state == 0) {
        const char *name = serializer_of(s->type);
        const od_ext_reg_t *reg = name ? od_ext_find(core, OD_EXT_SERIALIZER, name) : NULL;
        if (!reg) {
            snprintf(s->why, sizeof(s->why), name ? "no serializer '%s' is loaded "
                     "(load_module serializers)" : "schema type %s is not supported",
                     name ? name : s->type);
            s->compiled_state = -1;
        } else {
            const od_serializer_ops_t *o = reg->ops;
            char why[256] = "";
            if (o->compile(reg->self, s->text, s->len, &s->compiled, why, sizeof(why)) != OD_OK) {
                if (s->id > 0)
                    snprintf(s->why, sizeof(s->why), "schema %d does not compile: %.200s", s->id,
                             why);
                else /* a candidate, not registered yet */
                    snprintf(s->why, sizeof(s->why), "%s", why);
                s->compiled_state = -1;
            } else {
                s->ops = o;
                s->ops_self = reg->self;
                s->compiled_state = 1;
            }
        }
    }
    if (s->compiled_state < 0) {
        snprintf(err, errsz, "%s", s->why);
        return -1;
    }
    *ops = s->ops;
    *self = s->ops_self;
    *compiled = s->compiled;
    return 0;
}
