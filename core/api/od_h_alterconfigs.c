/* od_h_alterconfigs.c - AlterConfigs (v0-2) and IncrementalAlterConfigs
 * (v0-1) for topic configs.
 *
 * AlterConfigs replaces a topic's overrides as a whole: keys it does not
 * name lose their override (Kafka's semantics). IncrementalAlterConfigs
 * edits them: SET, DELETE, and APPEND/SUBTRACT for list keys (cleanup.policy;
 * the list starts from the effective value when there is no override).
 * Every resulting value is checked with od_topic_config_check: an unknown
 * key or a bad value is INVALID_CONFIG with the reason, and nothing of that
 * resource changes. The changes of one topic become ConfigRecords proposed
 * together (od_metadata_alter_configs); the answer waits until they are
 * committed, and applying them reconfigures the open logs, so they take
 * effect without a restart and survive one. validate_only checks and stops.
 *
 * BROKER resources (name "" for the cluster-wide default, or this node's
 * id) take the broker keys Kafka can update dynamically that Odradek has
 * (od_broker_config_dynamic: the topic-default keys such as
 * log.retention.ms); any other key is INVALID_REQUEST "Cannot update these
 * configs dynamically", as in Kafka. They become ConfigRecords of resource
 * type BROKER, and applying them reconfigures every open log. */
#include <stdio.h>
#include <string.h>

#include "od_authz.h"
#include "od_core.h"
#include "od_dispatch.h"
#include "od_ext.h"
#include "od_handlers.h"
#include "od_lifecycle.h"
#include "od_metadata_configs.h"
#include "od_topic_config.h"

#define RES_TOPIC  2
#define RES_BROKER 4

enum { OP_SET = 0, OP_DELETE = 1, OP_APPEND = 2, OP_SUBTRACT = 3 };

/* The outcome of one resource (both responses have the same fields). */
typedef struct ac_res {
    int16_t code;
    od_str_t msg;
    int8_t type;
    od_str_t name;
} ac_res_t;

typedef struct ac_pending {
    od_req_t *r;
    int incremental;
    int32_t n;
    ac_res_t *res;
    int outstanding;
    int started;
    int validate_only; /* nothing changes: nothing to audit */
} ac_pending_t;

typedef struct ac_slot {
    ac_pending_t *pd;
    int32_t i;
} ac_slot_t;

/* One config change of a resource, as the request states it (value NULL:
 * a null value). */
typedef struct ac_change {
    od_str_t name;
    int8_t op;
    od_str_t value;
} ac_change_t;

/* A topic's overrides while a request edits them (arena strings). */
typedef struct ac_entry {
    const char *key;
    const char *orig;  /* current override, NULL if none */
    const char *value; /* wanted override, NULL for none */
} ac_entry_t;

/* ---- answering ---- */

/* resp.responses from pd's results (NULL, none, out of memory). Both
 * responses have this shape with different generated types, hence a
 * macro. */
#define RESULTS(r, pd, resp)                                                                       \
    do {                                                                                           \
        (resp).responses = od_arena_calloc(&(r)->arena, (pd)->n ? (size_t)(pd)->n : 1,             \
                                           sizeof(*(resp).responses));                             \
        (resp).responses_count = (resp).responses ? (pd)->n : 0;                                   \
        for (int32_t i_ = 0; i_ < (resp).responses_count; i_++) {                                  \
            (resp).responses[i_].error_code = (pd)->res[i_].code;                                  \
            (resp).responses[i_].error_message = (pd)->res[i_].msg;                                \
            (resp).responses[i_].resource_type = (pd)->res[i_].type;                               \
            (resp).responses[i_].resource_name = (pd)->res[i_].name;                               \
        }                                                                                          \
    } while (0)

static void finish(ac_pending_t *pd)
{
    od_req_t *r = pd->r;
    int16_t ver = r->hdr.api_version;
    for (int32_t i = 0; i < pd->n && !pd->validate_only; i++) {
        ac_res_t *o = &pd->res[i];
        if (o->code == OD_ERR_TOPIC_AUTHORIZATION_FAILED ||
            o->code == OD_ERR_CLUSTER_AUTHORIZATION_FAILED)
            continue; /* the denial is in the audit log already */
        char detail[300];
        snprintf(detail, sizeof(detail), "%.*s", o->msg.len > 0 ? (int)o->msg.len : 0,
                 o->msg.p ? o->msg.p : "");
        od_audit_admin(r, pd->incremental ? "INCREMENTAL_ALTER_CONFIGS" : "ALTER_CONFIGS",
                       od_authz_config_res(o->type), o->name.p, OD_STR_LEN(o->name), o->code,
                       detail);
    }
    if (r->conn && pd->incremental) {
        od_IncrementalAlterConfigsResponse_t resp;
        od_IncrementalAlterConfigsResponse_init(&resp);
        RESULTS(r, pd, resp);
        od_IncrementalAlterConfigsResponse_encode(&r->resp, ver, &resp);
    } else if (r->conn) {
        od_AlterConfigsResponse_t resp;
        od_AlterConfigsResponse_init(&resp);
        RESULTS(r, pd, resp);
        od_AlterConfigsResponse_encode(&r->resp, ver, &resp);
    }
    od_req_done(r);
}

static void maybe_finish(ac_pending_t *pd)
{
    if (pd->started && pd->outstanding == 0)
        finish(pd);
}

static void set_res(od_req_t *r, ac_res_t *o, int16_t code, const char *msg)
{
    o->code = code;
    o->msg = msg ? od_str_c(od_arena_strndup(&r->arena, msg, strlen(msg))) : od_str_c(NULL);
}

static void slot_done(void *arg, int16_t code, const char *msg)
{
    ac_slot_t *s = arg;
    set_res(s->pd->r, &s->pd->res[s->i], code, code == OD_ERR_NONE ? NULL : msg);
    s->pd->outstanding--;
    maybe_finish(s->pd);
}

/* ---- editing a topic's overrides ---- */

static ac_entry_t *find_entry(ac_entry_t *e, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(e[i].key, key) == 0)
            return &e[i];
    return NULL;
}

/* Walk the items of a comma list (spaces around items ignored, empty items
 * skipped): *p advances; returns the item length, 0 at the end. */
static size_t next_item(const char **p, const char **item)
{
    for (;;) {
        const char *s = *p;
        if (!*s)
            return 0;
        while (*s == ' ')
            s++;
        size_t n = strcspn(s, ","), m = n;
        while (m > 0 && s[m - 1] == ' ')
            m--;
        *p = s + n + (s[n] == ',' ? 1 : 0);
        if (m > 0) {
            *item = s;
            return m;
        }
    }
}

static int list_has(const char *list, const char *item, size_t len)
{
    const char *it;
    size_t m;
    while ((m = next_item(&list, &it)) > 0)
        if (m == len && memcmp(it, item, len) == 0)
            return 1;
    return 0;
}

/* cur with arg's items appended (those not there yet) or removed. */
static char *list_edit(od_arena_t *a, const char *cur, const char *arg, int append)
{
    char *out = od_arena_alloc(a, strlen(cur) + strlen(arg) + 2);
    size_t len = 0, m;
    const char *srcs[2] = {cur, append ? arg : ""}, *it;
    if (!out)
        return NULL;
    out[0] = 0;
    for (int k = 0; k < 2; k++) {
        const char *p = srcs[k];
        while ((m = next_item(&p, &it)) > 0) {
            if (list_has(out, it, m) || (!append && list_has(arg, it, m)))
                continue;
            if (len > 0)
                out[len++] = ',';
            memcpy(out + len, it, m);
            len += m;
            out[len] = 0;
        }
    }
    return out;
}

static char *cstr(od_arena_t *a, od_str_t s)
{
    return s.len < 0 ? NULL : od_arena_strndup(a, s.p, (size_t)s.len);
}

/* The entries of a resource's current overrides cur, copied (applying the
 * records frees the image's strings); AlterConfigs (not incremental)
 * replaces them all. Returns how many, or -1 out of memory. */
static long load_entries(od_arena_t *a, ac_entry_t *e, const od_kv_t *cur, size_t ncur,
                         int incremental)
{
    for (size_t i = 0; i < ncur; i++) {
        e[i].key = od_arena_strndup(a, cur[i].key, strlen(cur[i].key));
        e[i].orig = od_arena_strndup(a, cur[i].value, strlen(cur[i].value));
        if (!e[i].key || !e[i].orig)
            return -1;
        e[i].value = incremental ? e[i].orig : NULL;
    }
    return (long)ncur;
}

/* The entry of key, added when there is none yet. */
static ac_entry_t *entry_for(ac_entry_t *e, size_t *n, const char *key)
{
    ac_entry_t *en = find_entry(e, *n, key);
    if (!en) {
        en = &e[(*n)++];
        en->key = key;
    }
    return en;
}

/* An APPEND or SUBTRACT of arg's items to the entry's list (the default of
 * key when it has no override); NULL out of memory. */
static char *list_value(od_core_t *core, od_arena_t *a, const ac_entry_t *en, const char *key,
                        const char *arg, int append)
{
    const char *base = en->value ? en->value : od_topic_config_value(core, NULL, key, NULL);
    return list_edit(a, base ? base : "", arg, append);
}

/* The entries that change into kv (a record each); returns how many. */
static size_t changed_entries(const ac_entry_t *e, size_t n, od_kv_t *kv)
{
    size_t nkv = 0;
    for (size_t i = 0; i < n; i++) {
        if ((!e[i].orig && !e[i].value) ||
            (e[i].orig && e[i].value && strcmp(e[i].orig, e[i].value) == 0))
            continue;
        kv[nkv].key = (char *)e[i].key;
        kv[nkv].value = (char *)e[i].value;
        nkv++;
    }
    return nkv;
}

/* Work out the new overrides of t from the changes; on a problem sets the
 * resource's error and returns -1. *kv_out and *nkv_out get the records to propose. */
static int plan(od_core_t *core, od_req_t *r, const od_topic_t *t, const ac_change_t *ch,
                int32_t nch, int incremental, ac_res_t *o, od_kv_t **kv_out, size_t *nkv_out)
{
    od_arena_t *a = &r->arena;
    size_t cap = t->nconfigs + (size_t)nch, n = 0;
    ac_entry_t *e = od_arena_calloc(a, cap ? cap : 1, sizeof(*e));
    od_kv_t *kv = od_arena_calloc(a, cap ? cap : 1, sizeof(*kv));
    char msg[512];
    if (!e || !kv)
        goto oom;
    long loaded = load_entries(a, e, t->configs, t->nconfigs, incremental);
    if (loaded < 0)
        goto oom;
    n = (size_t)loaded;
    for (int32_t i = 0; i < nch; i++) {
        const ac_change_t *c = &ch[i];
        char *key = cstr(a, c->name);
        if (!key || !*key) {
            set_res(r, o, OD_ERR_INVALID_REQUEST, "config name must not be empty or null");
            return -1;
        }
        for (int32_t j = 0; j < i; j++)
            if (od_str_eq(ch[j].name, key)) {
                snprintf(msg, sizeof(msg), "Error due to duplicate config keys: %s", key);
                set_res(r, o, OD_ERR_INVALID_REQUEST, msg);
                return -1;
            }
        const od_topic_key_t *k = od_topic_key_find(key, strlen(key));
        if (!k) {
            snprintf(msg, sizeof(msg), "Unknown topic config name: %s", key);
            set_res(r, o, OD_ERR_INVALID_CONFIG, msg);
            return -1;
        }
        key = (char *)k->def.name;
        ac_entry_t *en = entry_for(e, &n, key);
        const char *nv = NULL;
        char *arg = cstr(a, c->value);
        switch (incremental ? c->op : OP_SET) {
        case OP_SET:
            nv = arg;
            break;
        case OP_DELETE:
            en->value = NULL;
            continue;
        case OP_APPEND:
        case OP_SUBTRACT:
            if (k->def.type != OD_CONF_LIST) {
                snprintf(msg, sizeof(msg), "Config value %s is not allowed for config key: %s "
                         "(not a list)", c->op == OP_APPEND ? "append" : "subtract", key);
                set_res(r, o, OD_ERR_INVALID_CONFIG, msg);
                return -1;
            }
            if (!arg) {
                snprintf(msg, sizeof(msg), "null value for topic config '%s'", key);
                set_res(r, o, OD_ERR_INVALID_CONFIG, msg);
                return -1;
            }
            if (!(nv = list_value(core, a, en, key, arg, c->op == OP_APPEND)))
                goto oom;
            break;
        default:
            snprintf(msg, sizeof(msg), "unknown config operation %d for %s", c->op, key);
            set_res(r, o, OD_ERR_INVALID_REQUEST, msg);
            return -1;
        }
        if (od_topic_config_check(key, strlen(key), nv, nv ? (int32_t)strlen(nv) : -1, msg,
                                  sizeof(msg)) < 0) {
            char full[700];
            snprintf(full, sizeof(full), "Invalid value %s for configuration %s: %s",
                     nv ? nv : "null", key, msg);
            set_res(r, o, OD_ERR_INVALID_CONFIG, full);
            return -1;
        }
        en->value = nv;
    }
    *kv_out = kv;
    *nkv_out = changed_entries(e, n, kv);
    return 0;
oom:
    set_res(r, o, OD_ERR_UNKNOWN_SERVER_ERROR, "out of memory");
    return -1;
}

/* ---- broker resources ---- */

/* The new dynamic configs of broker resource `name` (scope: its current
 * list), as plan() does for a topic. Kafka's wording for refusals. */
static int plan_broker(od_core_t *core, od_req_t *r, const char *name, const od_kv_t *cur,
                       size_t ncur, const ac_change_t *ch, int32_t nch, int incremental,
                       ac_res_t *o, od_kv_t **kv_out, size_t *nkv_out)
{
    od_arena_t *a = &r->arena;
    size_t cap = ncur + (size_t)nch, n = 0;
    ac_entry_t *e = od_arena_calloc(a, cap ? cap : 1, sizeof(*e));
    od_kv_t *kv = od_arena_calloc(a, cap ? cap : 1, sizeof(*kv));
    char msg[1024], pre[128];
    if (!e || !kv)
        goto oom;
    snprintf(pre, sizeof(pre), "Invalid config value for resource ConfigResource(type=BROKER, name='%s')",
             name);
    /* Read-only keys first, all of them named, as Kafka does. */
    size_t ml = (size_t)snprintf(msg, sizeof(msg), "%s: Cannot update these configs dynamically: Set(",
                                 pre);
    int bad = 0;
    for (int32_t i = 0; i < nch; i++) {
        if (ch[i].name.len <= 0) {
            set_res(r, o, OD_ERR_INVALID_REQUEST, "config name must not be empty or null");
            return -1;
        }
        for (int32_t j = 0; j < i; j++)
            if (ch[j].name.len == ch[i].name.len &&
                memcmp(ch[j].name.p, ch[i].name.p, (size_t)ch[i].name.len) == 0) {
                char m[300];
                snprintf(m, sizeof(m), "Error due to duplicate config keys: %.*s",
                         (int)(ch[i].name.len > 255 ? 255 : ch[i].name.len), ch[i].name.p);
                set_res(r, o, OD_ERR_INVALID_REQUEST, m);
                return -1;
            }
        if (!od_broker_config_dynamic(ch[i].name.p, (size_t)ch[i].name.len, NULL) && ml < sizeof(msg)) {
            ml += (size_t)snprintf(msg + ml, sizeof(msg) - ml, "%s%.*s", bad ? ", " : "",
                                   (int)(ch[i].name.len > 255 ? 255 : ch[i].name.len), ch[i].name.p);
            bad = 1;
        }
    }
    if (bad) {
        if (ml < sizeof(msg))
            snprintf(msg + ml, sizeof(msg) - ml, ")");
        set_res(r, o, OD_ERR_INVALID_REQUEST, msg);
        return -1;
    }
    long loaded = load_entries(a, e, cur, ncur, incremental);
    if (loaded < 0)
        goto oom;
    n = (size_t)loaded;
    for (int32_t i = 0; i < nch; i++) {
        const ac_change_t *c = &ch[i];
        const od_topic_key_t *tk = NULL;
        od_broker_config_dynamic(c->name.p, (size_t)c->name.len, &tk);
        const char *key = tk->broker_key;
        ac_entry_t *en = entry_for(e, &n, key);
        const char *nv = NULL;
        char *arg = cstr(a, c->value);
        switch (incremental ? c->op : OP_SET) {
        case OP_SET:
            nv = arg;
            break;
        case OP_DELETE:
            en->value = NULL;
            continue;
        case OP_APPEND:
        case OP_SUBTRACT:
            if (tk->def.type != OD_CONF_LIST || !arg) {
                snprintf(msg, sizeof(msg), "%s: Config value %s is not allowed for config key: %s", pre,
                         c->op == OP_APPEND ? "append" : "subtract", key);
                set_res(r, o, OD_ERR_INVALID_REQUEST, msg);
                return -1;
            }
            if (!(nv = list_value(core, a, en, tk->def.name, arg, c->op == OP_APPEND)))
                goto oom;
            break;
        default:
            snprintf(msg, sizeof(msg), "unknown config operation %d for %s", c->op, key);
            set_res(r, o, OD_ERR_INVALID_REQUEST, msg);
            return -1;
        }
        char why[512];
        if (od_topic_config_check(tk->def.name, strlen(tk->def.name), nv,
                                  nv ? (int32_t)strlen(nv) : -1, why, sizeof(why)) < 0) {
            snprintf(msg, sizeof(msg), "%s: Invalid value %s for configuration %s: %s", pre,
                     nv ? nv : "null", key, why);
            set_res(r, o, OD_ERR_INVALID_REQUEST, msg);
            return -1;
        }
        en->value = nv;
    }
    *kv_out = kv;
    *nkv_out = changed_entries(e, n, kv);
    return 0;
oom:
    set_res(r, o, OD_ERR_UNKNOWN_SERVER_ERROR, "out of memory");
    return -1;
}

/* Policies (modules, Lua) see the changes the resource would get (value
 * NULL: the override goes), validate_only too. 1: refused, o is set. */
static int policy_refuses(od_req_t *r, ac_res_t *o, int resource_type, const char *name,
                          const od_kv_t *kv, size_t nkv)
{
    od_config_entry_t *ce = od_arena_calloc(&r->arena, nkv ? nkv : 1, sizeof(*ce));
    for (size_t j = 0; ce && j < nkv; j++)
        ce[j] = (od_config_entry_t){kv[j].key, kv[j].value};
    od_ev_admin_t ev = {.op = OD_ADMIN_ALTER_CONFIGS, .resource_type = resource_type,
                        .resource = name, .partitions = -1, .replication_factor = -1,
                        .configs = ce, .nconfigs = ce ? nkv : 0};
    return od_admin_refuse(r, &ev, &o->code, &o->msg);
}

static void alter_broker(od_core_t *core, ac_pending_t *pd, ac_slot_t *slots, int32_t i,
                         const ac_change_t *ch, int32_t nch, int validate_only)
{
    od_req_t *r = pd->r;
    ac_res_t *o = &pd->res[i];
    char id[24], msg[512];
    snprintf(id, sizeof(id), "%lld", (long long)core->conf.node_id);
    int dflt = o->name.len <= 0;
    if (!dflt && !od_str_eq(o->name, id)) {
        snprintf(msg, sizeof(msg), "Unexpected broker id, expected %s or empty string, but received %.*s",
                 id, (int)(o->name.len > 255 ? 255 : o->name.len), o->name.p);
        set_res(r, o, OD_ERR_INVALID_REQUEST, msg);
        return;
    }
    const od_image_t *img = &core->image;
    od_kv_t *kv;
    size_t nkv;
    if (plan_broker(core, r, dflt ? "" : id, dflt ? img->broker_default_configs : img->broker_configs,
                    dflt ? img->nbroker_default_configs : img->nbroker_configs, ch, nch,
                    pd->incremental, o, &kv, &nkv) < 0)
        return;
    if (policy_refuses(r, o, OD_RES_CLUSTER, dflt ? "" : id, kv, nkv))
        return;
    o->code = OD_ERR_NONE;
    if (validate_only || nkv == 0)
        return;
    slots[i].pd = pd;
    slots[i].i = i;
    pd->outstanding++;
    if (od_metadata_alter_broker_configs(core, dflt ? "" : id, kv, nkv, slot_done, &slots[i], msg,
                                         sizeof(msg)) < 0) {
        pd->outstanding--;
        set_res(r, o, OD_ERR_UNKNOWN_SERVER_ERROR, msg);
        return;
    }
    od_logf(OD_LOG_INFO, "client %s: %zu dynamic broker config change(s) for %s",
            r->conn ? r->conn->peer : "?", nkv, dflt ? "the cluster default" : "this broker");
}

/* ---- the two APIs ---- */

static void alter_resource(od_core_t *core, ac_pending_t *pd, ac_slot_t *slots, int32_t i,
                           const ac_change_t *ch, int32_t nch, int validate_only)
{
    od_req_t *r = pd->r;
    ac_res_t *o = &pd->res[i];
    char msg[512];
    for (int32_t j = 0; j < pd->n; j++)
        if (j != i && pd->res[j].type == o->type && pd->res[j].name.len == o->name.len &&
            o->name.len >= 0 && memcmp(pd->res[j].name.p, o->name.p, (size_t)o->name.len) == 0) {
            set_res(r, o, OD_ERR_INVALID_REQUEST, "Error due to duplicate resources");
            return;
        }
    int16_t denied = od_authz_config(r, OD_ACL_OP_ALTER_CONFIGS, o->type, o->name);
    if (denied != OD_ERR_NONE) {
        set_res(r, o, denied, NULL);
        return;
    }
    if (o->type == RES_BROKER) {
        alter_broker(core, pd, slots, i, ch, nch, validate_only);
        return;
    }
    if (o->type != RES_TOPIC) {
        snprintf(msg, sizeof(msg), "Unsupported resource type %d", o->type);
        set_res(r, o, OD_ERR_INVALID_REQUEST, msg);
        return;
    }
    od_topic_t *t =
        o->name.len > 0 ? od_image_topic(&core->image, o->name.p, (size_t)o->name.len) : NULL;
    if (!t) {
        snprintf(msg, sizeof(msg), "Topic '%.*s' does not exist.",
                 o->name.len > 0 ? (int)(o->name.len > 255 ? 255 : o->name.len) : 0,
                 o->name.len > 0 ? o->name.p : "");
        set_res(r, o, OD_ERR_UNKNOWN_TOPIC_OR_PARTITION, msg);
        return;
    }
    od_kv_t *kv;
    size_t nkv;
    if (plan(core, r, t, ch, nch, pd->incremental, o, &kv, &nkv) < 0)
        return;
    if (policy_refuses(r, o, OD_RES_TOPIC, t->name, kv, nkv))
        return;
    o->code = OD_ERR_NONE;
    if (validate_only || nkv == 0)
        return;
    slots[i].pd = pd;
    slots[i].i = i;
    pd->outstanding++;
    if (od_metadata_alter_configs(core, t->name, kv, nkv, slot_done, &slots[i], msg,
                                  sizeof(msg)) < 0) {
        pd->outstanding--;
        set_res(r, o, OD_ERR_UNKNOWN_SERVER_ERROR, msg);
        return;
    }
    od_logf(OD_LOG_INFO, "client %s: %zu config change(s) for topic %s", r->conn ? r->conn->peer : "?",
            nkv, t->name);
}

static ac_pending_t *start(od_req_t *r, int incremental, int32_t n, ac_slot_t **slots)
{
    ac_pending_t *pd = od_arena_calloc(&r->arena, 1, sizeof(*pd));
    if (!pd)
        return NULL;
    pd->r = r;
    pd->incremental = incremental;
    pd->n = n;
    pd->res = od_arena_calloc(&r->arena, n ? (size_t)n : 1, sizeof(*pd->res));
    *slots = od_arena_calloc(&r->arena, n ? (size_t)n : 1, sizeof(**slots));
    return pd->res && *slots ? pd : NULL;
}

/* Resource i of either request into res (type, name) and, ch non-NULL,
 * its changes into ch; returns how many changes it has. The two requests
 * differ only here (AlterConfigs sets every key it names). */
typedef int32_t (*ac_read_fn)(void *body, int32_t i, ac_res_t *res, ac_change_t *ch);

static int32_t read_alter(void *body, int32_t i, ac_res_t *res, ac_change_t *ch)
{
    const od_AlterConfigsRequest_AlterConfigsResource_t *rs =
        &((od_AlterConfigsRequest_t *)body)->resources[i];
    res->type = rs->resource_type;
    res->name = rs->resource_name;
    for (int32_t j = 0; ch && j < rs->configs_count; j++)
        ch[j] = (ac_change_t){rs->configs[j].name, OP_SET, rs->configs[j].value};
    return rs->configs_count > 0 ? rs->configs_count : 0;
}

static int32_t read_incremental(void *body, int32_t i, ac_res_t *res, ac_change_t *ch)
{
    const od_IncrementalAlterConfigsRequest_AlterConfigsResource_t *rs =
        &((od_IncrementalAlterConfigsRequest_t *)body)->resources[i];
    res->type = rs->resource_type;
    res->name = rs->resource_name;
    for (int32_t j = 0; ch && j < rs->configs_count; j++)
        ch[j] = (ac_change_t){rs->configs[j].name, rs->configs[j].config_operation,
                              rs->configs[j].value};
    return rs->configs_count > 0 ? rs->configs_count : 0;
}

static void alter_all(od_req_t *r, void *body, int incremental, int32_t count, int validate_only,
                      ac_read_fn read)
{
    od_core_t *core = r->conn->core;
    int32_t n = count > 0 ? count : 0;
    ac_slot_t *slots;
    ac_pending_t *pd = start(r, incremental, n, &slots);
    if (!pd) {
        od_req_drop(r);
        return;
    }
    for (int32_t i = 0; i < n; i++) { /* every result named before any answer */
        read(body, i, &pd->res[i], NULL);
        pd->res[i].msg = od_str_c(NULL);
    }
    for (int32_t i = 0; i < n; i++) {
        int32_t nch = read(body, i, &pd->res[i], NULL);
        ac_change_t *ch = od_arena_calloc(&r->arena, nch ? (size_t)nch : 1, sizeof(*ch));
        if (!ch) {
            set_res(r, &pd->res[i], OD_ERR_UNKNOWN_SERVER_ERROR, "out of memory");
            continue;
        }
        read(body, i, &pd->res[i], ch);
        alter_resource(core, pd, slots, i, ch, nch, validate_only);
    }
    pd->validate_only = validate_only;
    pd->started = 1;
    maybe_finish(pd);
}

void od_h_alter_configs(od_req_t *r, void *body)
{
    od_AlterConfigsRequest_t *req = body;
    alter_all(r, body, 0, req->resources_count, req->validate_only, read_alter);
}

void od_h_incremental_alter_configs(od_req_t *r, void *body)
{
    od_IncrementalAlterConfigsRequest_t *req = body;
    alter_all(r, body, 1, req->resources_count, req->validate_only, read_incremental);
}
