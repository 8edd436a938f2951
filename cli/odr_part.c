/* odr_part.c - the partitioner of `odr produce`, whichever its source:
 * the built-in strategies, a broker partitioner module, or a Lua script
 * run in the broker's sandbox (core/lua/: the same VM, budgets and
 * partitioner call the broker's placement check uses, so a script places
 * a record in odr where the broker expects it).
 *
 * The partition is chosen here for every record, with the topic's
 * partition count from the metadata, and handed to librdkafka as an
 * explicit partition: one path for the three sources, and the value and
 * headers reach the partitioner (librdkafka's callback has neither). */
#include "odr_part.h"

#include <stdlib.h>
#include <string.h>

#include <lua.h>

#include "od_lua.h"
#include "odr_modhost.h"
#include "partitioners_algo.h"

/* Kafka's metadata.max.age.ms: a count older than this is read again. */
#define PART_MAX_AGE_MS (5 * 60 * 1000)

struct odr_part {
    odr_ctx_t *ctx;
    const char *name;
    /* exactly one of the three */
    const partitioners_algo_t *algo;
    partitioners_state_t state;
    const od_partitioner_ops_t *ops;
    void *self;
    int module_loaded;
    od_lua_vm_t *vm;
    /* the target */
    rd_kafka_t *rk;
    const char *topic;
    int32_t n;
    int64_t n_read_at; /* odr_mono_ms() */
    int n_stale;       /* a delivery said UNKNOWN_PARTITION */
};

static void builtin_names(char *out, size_t outsz)
{
    size_t len = 0;
    out[0] = 0;
    for (const partitioners_algo_t *a = partitioners_table; a->name && len < outsz; a++) {
        int w = snprintf(out + len, outsz - len, "%s%s", len ? ", " : "", a->name);
        len += w > 0 ? (size_t)w : 0;
    }
}

static int open_builtin(odr_part_t *p)
{
    if ((p->algo = partitioners_find(p->name))) {
        partitioners_state_init(&p->state, 0);
        return 0;
    }
    char names[512];
    builtin_names(names, sizeof names);
    return odr_usage("unknown partitioner '%s' (built in: %s; or name a module with "
                     "--partitioner-module, a script with --partitioner-lua)", p->name, names);
}

static int open_module(odr_part_t *p, const char *path)
{
    char err[1024];
    odr_modhost_log_level(p->ctx->verbose ? OD_LOG_DEBUG : OD_LOG_WARN);
    if (odr_modhost_load(path, err, sizeof err) < 0)
        return odr_usage("--partitioner-module: %s", err);
    p->module_loaded = 1;
    if ((p->ops = odr_modhost_partitioner(p->name, &p->self)))
        return 0;
    char names[512];
    odr_modhost_names(names, sizeof names);
    return odr_usage("unknown partitioner '%s': module %s registers %s", p->name, path, names);
}

static int open_lua(odr_part_t *p, const char *path)
{
    /* The broker's budgets at their defaults, and its sandbox without the
     * libraries an operator may add (lua.libraries.allow): a script that
     * runs here runs in any broker. */
    const od_lua_limits_t lim = {OD_LUA_DEFAULT_INSTRUCTIONS, OD_LUA_DEFAULT_MEMORY, 0};
    char err[1024];
    odr_modhost_log_level(p->ctx->verbose ? OD_LOG_DEBUG : OD_LOG_WARN);
    if (!(p->vm = od_lua_vm_create(NULL, &lim, NULL, err, sizeof err)) ||
        od_lua_vm_load(p->vm, path, err, sizeof err) < 0 ||
        od_lua_part_check(p->vm, NULL, NULL, err, sizeof err) < 0)
        return odr_usage("--partitioner-lua: %s", err);
    if (od_lua_vm_hooks(p->vm, "partitioner", p->name) > 0)
        return 0;
    char names[512];
    od_lua_part_names(p->vm, names, sizeof names);
    return odr_usage("unknown partitioner '%s': %s registers %s", p->name, path,
                     names[0] ? names : "no partitioner (odradek.partitioner(NAME, fn))");
}

odr_part_t *odr_part_open(odr_ctx_t *ctx, const char *name, const char *module_path,
                          const char *lua_path, int *code)
{
    odr_part_t *p = calloc(1, sizeof *p);
    if (!p) {
        *code = odr_fail(ODR_EXIT_USAGE, "out of memory");
        return NULL;
    }
    p->ctx = ctx;
    p->name = name;
    *code = module_path ? open_module(p, module_path)
            : lua_path  ? open_lua(p, lua_path)
                        : open_builtin(p);
    if (*code) {
        odr_part_close(p);
        return NULL;
    }
    return p;
}

void odr_part_target(odr_part_t *p, rd_kafka_t *rk, const char *topic, int32_t npartitions)
{
    p->rk = rk;
    p->topic = topic;
    p->n = npartitions;
    p->n_read_at = odr_mono_ms();
}

int odr_part_refresh(odr_part_t *p)
{
    int code = 0;
    const rd_kafka_metadata_t *md = odr_metadata(p->ctx, p->rk, p->topic, &code);
    if (!md)
        return -1;
    p->n = md->topics[0].partition_cnt;
    p->n_read_at = odr_mono_ms();
    p->n_stale = 0;
    rd_kafka_metadata_destroy(md);
    return 0;
}

void odr_part_stale(odr_part_t *p) { p->n_stale = 1; }

typedef struct lua_headers {
    char *const *h;
    size_t n;
} lua_headers_t;

/* -H name=value as the broker shows produced headers: name -> value, the
 * last of a name given twice. */
static void push_headers(lua_State *L, const void *arg)
{
    const lua_headers_t *hs = arg;
    lua_createtable(L, 0, (int)hs->n);
    for (size_t i = 0; i < hs->n; i++) {
        const char *eq = strchr(hs->h[i], '=');
        lua_pushlstring(L, hs->h[i], (size_t)(eq - hs->h[i]));
        lua_pushstring(L, eq + 1);
        lua_rawset(L, -3);
    }
}

static int32_t place_lua(odr_part_t *p, const odr_part_rec_t *rec, char *err, size_t errsz)
{
    lua_headers_t hs = {rec->headers, rec->nheaders};
    od_lua_part_in_t in = {
        .name = p->name,
        .key = rec->key,
        .key_len = rec->key_len,
        .value = rec->value,
        .value_len = rec->value_len,
        .push_headers = push_headers,
        .headers = &hs,
        .n = p->n,
    };
    int32_t out;
    if (od_lua_part_call(p->vm, &in, &out) == 0)
        return out;
    const char *where;
    const char *msg = od_lua_vm_error(p->vm, &where);
    snprintf(err, errsz, "Lua partitioner %s (%s) failed: %s", p->name, where ? where : "?", msg);
    return ODR_PART_FAILED;
}

int32_t odr_part_place(odr_part_t *p, const odr_part_rec_t *rec, char *err, size_t errsz)
{
    if ((p->n_stale || odr_mono_ms() - p->n_read_at > PART_MAX_AGE_MS) &&
        odr_part_refresh(p) < 0) {
        snprintf(err, errsz, "cannot read the partition count of topic '%s' again", p->topic);
        return ODR_PART_FAILED;
    }
    if (p->n <= 0) {
        snprintf(err, errsz, "topic '%s' has no partitions", p->topic);
        return ODR_PART_FAILED;
    }
    odr_part_rec_t r = *rec;
    if (!r.value)
        r.value = ""; /* a line is never a null value */
    if (p->vm)
        return place_lua(p, &r, err, errsz);
    if (p->algo)
        return p->algo->fn(&p->state, r.key, r.key_len, r.value_len, p->n);
    int32_t part = p->ops->partition(p->self, r.key, r.key_len, r.value, r.value_len, p->n);
    if (part < 0)
        return RD_KAFKA_PARTITION_UA; /* no opinion: the producer's own choice */
    if (part >= p->n) {
        snprintf(err, errsz, "module partitioner %s returned %d for %d partitions", p->name,
                 (int)part, (int)p->n);
        return ODR_PART_FAILED;
    }
    return part;
}

void odr_part_close(odr_part_t *p)
{
    if (!p)
        return;
    if (p->vm)
        od_lua_vm_free(p->vm);
    if (p->module_loaded)
        odr_modhost_unload();
    free(p);
}
