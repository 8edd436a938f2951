/* od_metrics_module.c - metrics that modules report (ABI 1.2): a module
 * declares its counters and gauges in init (od_register_metrics), then
 * adds to them by name (od_metrics_add) from the loop thread. The table is
 * fixed-size and filled only during module init, so modules cannot grow
 * the number of series at run time; names and help are copied, so nothing
 * points into a module after it is unloaded. */
#include <stdio.h>
#include <string.h>

#include "od_core.h"
#include "od_metrics_int.h"
#include "od_module.h"

#define MAX_MODULE_METRICS 64

typedef struct mmetric {
    char name[112]; /* as declared ("<module>_<what>"), exported with "odradek_" before it */
    char help[200];
    int type;
    int64_t value;
} mmetric_t;

static mmetric_t table[MAX_MODULE_METRICS];
static size_t ntable;

void od_mmodule_reset(void) { ntable = 0; }

static int valid_name(const char *name, const char *module, int type)
{
    size_t ml = strlen(module), n = strlen(name);
    if (n == 0 || n >= sizeof(table[0].name) || strncmp(name, module, ml) != 0 || name[ml] != '_' ||
        name[ml + 1] == 0)
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return 0;
    /* Prometheus convention: counters end in _total, gauges do not. */
    int total = n > 6 && strcmp(name + n - 6, "_total") == 0;
    return type == OD_METRIC_COUNTER ? total : !total;
}

int od_register_metrics(od_module_ctx_t *ctx, const od_metric_def_t *defs, size_t n)
{
    if (!ctx || !ctx->in_init || (!defs && n)) {
        od_logf(OD_LOG_ERROR, "od_register_metrics: only during a module's init");
        return -1;
    }
    const char *mod = ctx->mod->name;
    for (size_t i = 0; i < n; i++) {
        const od_metric_def_t *d = &defs[i];
        int type_ok = d->type == OD_METRIC_COUNTER || d->type == OD_METRIC_GAUGE;
        if (!d->name || !type_ok || !valid_name(d->name, mod, d->type)) {
            od_logf(OD_LOG_ERROR,
                    "module %s: metric '%s': name must be %s_<lowercase, digits, _>, counters "
                    "ending in _total, gauges not (type %d)",
                    mod, d->name ? d->name : "(null)", mod, d->type);
            return -1;
        }
        for (size_t j = 0; j < ntable; j++)
            if (strcmp(table[j].name, d->name) == 0) {
                od_logf(OD_LOG_ERROR, "module %s: metric %s declared twice", mod, d->name);
                return -1;
            }
        if (ntable == MAX_MODULE_METRICS) {
            od_logf(OD_LOG_ERROR, "module %s: more than %d module metrics", mod,
                    MAX_MODULE_METRICS);
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        mmetric_t *m = &table[ntable++];
        snprintf(m->name, sizeof(m->name), "%s", defs[i].name);
        snprintf(m->help, sizeof(m->help), "%s", defs[i].help ? defs[i].help : defs[i].name);
        m->type = defs[i].type;
        m->value = 0;
    }
    return 0;
}

int od_metrics_add(const char *name, int64_t delta)
{
    for (size_t i = 0; i < ntable; i++) {
        if (strcmp(table[i].name, name) != 0)
            continue;
        if (table[i].type == OD_METRIC_COUNTER && delta < 0)
            return -1; /* counters only go up */
        table[i].value += delta;
        return 0;
    }
    return -1; /* not declared (or a unit test without the module's init) */
}

void od_mmodule_render(od_mtext_t *t)
{
    char name[128];
    for (size_t i = 0; i < ntable; i++) {
        snprintf(name, sizeof(name), "odradek_%.111s", table[i].name);
        od_expo_family(t, name, table[i].type == OD_METRIC_COUNTER ? "counter" : "gauge",
                       table[i].help);
        od_expo_int(t, name, NULL, 0, table[i].value);
    }
}
