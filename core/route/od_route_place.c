/* od_route_place.c - partitioners by name (a module's, else a Lua
 * script's) and the per-topic placement check (placement.partitioner,
 * placement.action; doc/routing.md).
 *
 * The check judges keyed records only, and only where the partitioner has
 * an opinion: a strategy's free choices (null keys, the random and
 * round-robin strategies) answer -1 and are never judged; a Lua
 * partitioner that fails (error, budget, out of range) does not judge
 * either - the record is accepted, the failure logged and counted. */
#include <stdio.h>
#include <string.h>

#include "od_conn.h"
#include "od_core.h"
#include "od_ext.h"
#include "od_lua.h"
#include "od_route_int.h"

int od_route_module_partitioner(od_core_t *core, const char *name)
{
    return od_ext_find(core, OD_EXT_PARTITIONER, name) != NULL;
}

int od_route_partitioner_known(od_core_t *core, const char *name)
{
    if (od_route_module_partitioner(core, name))
        return 1;
    od_lua_vm_t *vm = od_lua_current(core);
    return vm && od_lua_vm_hooks(vm, "partitioner", name) > 0;
}

int32_t od_route_copy_target(od_core_t *core, const char *topic)
{
    od_topic_t *t = od_image_topic(&core->image, topic, strlen(topic));
    if (!t || t->internal || t->npartitions <= 0)
        return -1;
    return t->npartitions;
}

int32_t od_route_partition(od_core_t *core, const char *name, const od_route_rec_t *rec,
                           int32_t n, int64_t *lua_budget)
{
    if (n <= 0)
        return -2;
    const od_ext_reg_t *reg = od_ext_find(core, OD_EXT_PARTITIONER, name);
    if (reg) {
        const od_partitioner_ops_t *ops = reg->ops;
        int32_t p = ops->partition(reg->self, rec->key, rec->key ? (size_t)rec->key_len : 0,
                                   rec->value, rec->value ? (size_t)rec->value_len : 0, n);
        if (p >= n) {
            od_logf(OD_LOG_WARN, "partitioner %s (module %s) answered %d for %d partitions",
                    name, reg->module, (int)p, (int)n);
            return -2;
        }
        return p < 0 ? -1 : p;
    }
    od_lua_vm_t *vm = od_lua_current(core);
    if (vm && od_lua_vm_hooks(vm, "partitioner", name) > 0)
        return od_lua_vm_partition(vm, name, rec, n, lua_budget);
    return -2;
}

/* A key for a message: printable ASCII as it is, other bytes as \xNN,
 * at most 48 bytes of the key shown. */
static void show_key(const uint8_t *k, int32_t len, char *out, size_t outsz)
{
    size_t o = 0;
    for (int32_t i = 0; i < len && i < 48 && o + 5 < outsz; i++) {
        if (k[i] >= 0x20 && k[i] < 0x7f && k[i] != '\'' && k[i] != '\\')
            out[o++] = (char)k[i];
        else
            o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", k[i]);
    }
    if (len > 48 && o + 4 < outsz) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = 0;
}

/* The warn action's log: at most one line a second for the broker, with
 * the count of the lines left out since the last one. */
static void warn_misplaced(const od_client_t *c, const char *topic, int64_t n, const char *first)
{
    static int64_t last_ms;
    static uint64_t suppressed;
    int64_t now = od_mono_ms();
    if (last_ms && now - last_ms < 1000) {
        suppressed += (uint64_t)n;
        return;
    }
    last_ms = now;
    od_logf(OD_LOG_WARN, "placement: client '%s' (%s, %s) produced %lld misplaced record(s) to "
            "%s: %s (%llu more misplaced since the last line)",
            c && c->client_id ? c->client_id : "", c && c->principal ? c->principal : "?",
            c && c->peer ? c->peer : "?", (long long)n, topic, first,
            (unsigned long long)suppressed);
    suppressed = 0;
}

int16_t od_route_place_check(od_core_t *core, const od_client_t *c, const od_topic_t *t,
                             const char *topic, const char *name, int reject,
                             const od_route_set_t *s, char *msg, size_t msgsz)
{
    if (!od_route_partitioner_known(core, name)) {
        snprintf(msg, msgsz, "placement.partitioner '%s' of topic %s is no partitioner of this "
                 "broker (load the partitioners module or define it in lua.scripts)", name, topic);
        if (reject)
            return OD_ERR_INVALID_RECORD;
        warn_misplaced(c, topic, 0, msg);
        return OD_ERR_NONE;
    }
    int64_t misplaced = 0;
    /* A Lua partitioner gets one lua.instructions.max for the whole batch,
     * as a route does: a slow one cannot hold the loop per record. */
    int64_t budget = OD_LUA_BUDGET_UNSET;
    char first[400] = "";
    for (size_t i = 0; i < s->nrecs; i++) {
        const od_route_rec_t *r = &s->recs[i];
        if (!r->key)
            continue; /* keyed records only */
        int32_t want = od_route_partition(core, name, r, t->npartitions, &budget);
        if (want < 0 || want == r->partition)
            continue;
        if (misplaced++ == 0) {
            char k[200];
            show_key(r->key, r->key_len, k, sizeof(k));
            snprintf(first, sizeof(first), "record %zu with key '%s' belongs in partition %d of "
                     "%d by placement.partitioner=%s, not in partition %d", i, k, (int)want,
                     (int)t->npartitions, name, (int)r->partition);
        }
        if (reject)
            break;
    }
    if (misplaced == 0)
        return OD_ERR_NONE;
    od_route_metric_misplaced(topic, reject ? "reject" : "warn", (uint64_t)misplaced);
    if (reject) {
        snprintf(msg, msgsz, "%s", first);
        od_logf(OD_LOG_DEBUG, "placement: client '%s' (%s): produce to %s refused: %s",
                c && c->client_id ? c->client_id : "", c && c->principal ? c->principal : "?",
                topic, first);
        return OD_ERR_INVALID_RECORD;
    }
    warn_misplaced(c, topic, misplaced, first);
    return OD_ERR_NONE;
}
