/* od_config.c - configuration file, --set, and table-driven validation. */
#include "od_config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void od_config_init(od_config_t *c) { memset(c, 0, sizeof(*c)); }

void od_config_free(od_config_t *c)
{
    for (size_t i = 0; i < c->nsettings; i++) {
        free(c->settings[i].key);
        free(c->settings[i].value);
        free(c->settings[i].file);
    }
    for (size_t i = 0; i < c->nmodules; i++) {
        free(c->modules[i].name);
        free(c->modules[i].file);
    }
    for (size_t i = 0; i < c->nowned; i++)
        free(c->owned[i]);
    free(c->settings);
    free(c->modules);
    free(c->keys);
    free(c->owned);
    memset(c, 0, sizeof(*c));
}

static char *trim(char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    return s;
}

static int add_setting(od_config_t *c, const char *key, const char *value, const char *file,
                       int line)
{
    od_conf_setting_t *s = realloc(c->settings, (c->nsettings + 1) * sizeof(*s));
    if (!s)
        return -1;
    c->settings = s;
    s = &c->settings[c->nsettings];
    s->key = strdup(key);
    s->value = strdup(value);
    s->file = strdup(file);
    s->line = line;
    s->used = 0;
    if (!s->key || !s->value || !s->file)
        return -1;
    c->nsettings++;
    return 0;
}

static int add_module(od_config_t *c, const char *name, const char *file, int line)
{
    od_conf_module_ref_t *m = realloc(c->modules, (c->nmodules + 1) * sizeof(*m));
    if (!m)
        return -1;
    c->modules = m;
    m = &c->modules[c->nmodules];
    m->name = strdup(name);
    m->file = strdup(file);
    m->line = line;
    if (!m->name || !m->file)
        return -1;
    c->nmodules++;
    return 0;
}

int od_config_read_file(od_config_t *c, const char *path, char *err, size_t errsz)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errsz, "%s: cannot open config file: %s", path, strerror(errno));
        return -1;
    }
    char buf[8192];
    int line = 0, rc = 0;
    while (fgets(buf, sizeof(buf), f)) {
        line++;
        size_t n = strlen(buf);
        if (n == sizeof(buf) - 1 && buf[n - 1] != '\n') {
            snprintf(err, errsz, "%s:%d: line longer than %zu bytes", path, line, sizeof(buf) - 2);
            rc = -1;
            break;
        }
        char *s = trim(buf);
        if (*s == 0 || *s == '#' || *s == '!')
            continue;
        if (strncmp(s, "load_module", 11) == 0 && (s[11] == ' ' || s[11] == '\t')) {
            char *name = trim(s + 11);
            if (*name == 0 || strpbrk(name, " \t")) {
                snprintf(err, errsz, "%s:%d: load_module takes one module name or path", path,
                         line);
                rc = -1;
                break;
            }
            if (add_module(c, name, path, line) < 0) {
                snprintf(err, errsz, "%s:%d: out of memory", path, line);
                rc = -1;
                break;
            }
            continue;
        }
        char *sep = strpbrk(s, "=:");
        if (!sep) {
            snprintf(err, errsz, "%s:%d: expected 'key=value' or 'load_module NAME', got '%.60s'",
                     path, line, s);
            rc = -1;
            break;
        }
        *sep = 0;
        char *key = trim(s), *value = trim(sep + 1);
        if (*key == 0) {
            snprintf(err, errsz, "%s:%d: empty key", path, line);
            rc = -1;
            break;
        }
        if (add_setting(c, key, value, path, line) < 0) {
            snprintf(err, errsz, "%s:%d: out of memory", path, line);
            rc = -1;
            break;
        }
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, errsz, "%s: read error: %s", path, strerror(errno));
        rc = -1;
    }
    fclose(f);
    return rc;
}

int od_config_add_set(od_config_t *c, const char *kv, char *err, size_t errsz)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) {
        snprintf(err, errsz, "--set %s: expected key=value", kv);
        return -1;
    }
    char key[512];
    size_t kl = (size_t)(eq - kv);
    if (kl >= sizeof(key)) {
        snprintf(err, errsz, "--set: key too long");
        return -1;
    }
    memcpy(key, kv, kl);
    key[kl] = 0;
    if (strcmp(trim(key), "load_module") == 0)
        return add_module(c, eq + 1, "--set", 0);
    if (add_setting(c, trim(key), eq + 1, "--set", 0) < 0) {
        snprintf(err, errsz, "--set: out of memory");
        return -1;
    }
    return 0;
}

const od_conf_key_t *od_config_find(const od_config_t *c, const char *name)
{
    for (size_t i = 0; i < c->nkeys; i++)
        if (strcmp(c->keys[i].def->name, name) == 0)
            return &c->keys[i];
    return NULL;
}

const char *od_config_get(const od_config_t *c, const char *name)
{
    const od_conf_key_t *k = od_config_find(c, name);
    return k ? k->value : NULL;
}

const char *od_config_where(const od_config_t *c, const char *name, char *buf, size_t bufsz)
{
    const od_conf_setting_t *hit = NULL;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < c->nsettings; i++)
            if ((strcmp(c->settings[i].file, "--set") == 0) == pass &&
                strcmp(c->settings[i].key, name) == 0)
                hit = &c->settings[i];
    if (!hit)
        snprintf(buf, bufsz, "default");
    else if (strcmp(hit->file, "--set") == 0)
        snprintf(buf, bufsz, "--set %s", name);
    else
        snprintf(buf, bufsz, "%s:%d", hit->file, hit->line);
    return buf;
}

int od_config_register(od_config_t *c, const od_conf_def_t *defs, size_t n, const char *owner,
                       char *err, size_t errsz)
{
    od_conf_key_t *k = realloc(c->keys, (c->nkeys + n) * sizeof(*k));
    if (!k) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    c->keys = k;
    for (size_t i = 0; i < n; i++) {
        const od_conf_key_t *dup = od_config_find(c, defs[i].name);
        if (dup) {
            snprintf(err, errsz, "%s: configuration key '%s' is already declared by %s", owner,
                     defs[i].name, dup->owner);
            return -1;
        }
        od_conf_key_t *e = &c->keys[c->nkeys++];
        e->def = &defs[i];
        e->owner = owner;
        e->value = defs[i].dflt;
        e->source = OD_CONF_SRC_DEFAULT;
    }
    return 0;
}

static int parse_int64(const char *v, int64_t *out)
{
    if (!v || !*v)
        return -1;
    errno = 0;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (errno || *end)
        return -1;
    *out = (int64_t)x;
    return 0;
}

static int in_choices(const char *choices, const char *v)
{
    size_t vl = strlen(v);
    const char *p = choices;
    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == vl && strncasecmp(p, v, len) == 0)
            return 1;
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

int od_conf_parse(const od_conf_def_t *d, const char *v, void *out, char *err, size_t errsz)
{
    switch (d->type) {
    case OD_CONF_BOOL: {
        int64_t b;
        if (v && strcasecmp(v, "true") == 0)
            b = 1;
        else if (v && strcasecmp(v, "false") == 0)
            b = 0;
        else {
            snprintf(err, errsz, "value '%s' for %s is not a boolean (true or false)",
                     v ? v : "", d->name);
            return -1;
        }
        if (out)
            *(int64_t *)out = b;
        return 0;
    }
    case OD_CONF_INT: {
        int64_t x;
        if (parse_int64(v, &x) < 0) {
            snprintf(err, errsz, "value '%s' for %s is not an integer", v ? v : "", d->name);
            return -1;
        }
        if (x < d->min || x > d->max) {
            snprintf(err, errsz, "value %" PRId64 " for %s is out of range [%" PRId64 ", %" PRId64 "]",
                     x, d->name, d->min, d->max);
            return -1;
        }
        if (out)
            *(int64_t *)out = x;
        return 0;
    }
    case OD_CONF_DOUBLE: {
        char *end;
        errno = 0;
        double x = v && *v ? strtod(v, &end) : 0;
        if (!v || !*v || errno || *end) {
            snprintf(err, errsz, "value '%s' for %s is not a number", v ? v : "", d->name);
            return -1;
        }
        /* strtod takes "nan" and "inf", and nan passes any range check. */
        if (!isfinite(x)) {
            snprintf(err, errsz, "value '%s' for %s is not a finite number", v, d->name);
            return -1;
        }
        if (x < (double)d->min || x > (double)d->max) {
            snprintf(err, errsz, "value %s for %s is out of range [%" PRId64 ", %" PRId64 "]", v,
                     d->name, d->min, d->max);
            return -1;
        }
        if (out)
            *(double *)out = x;
        return 0;
    }
    case OD_CONF_ENUM:
        if (!v || !in_choices(d->choices, v)) {
            snprintf(err, errsz, "value '%s' for %s is not one of: %s", v ? v : "", d->name,
                     d->choices);
            return -1;
        }
        return 0;
    case OD_CONF_STRING:
    case OD_CONF_LIST:
        return 0;
    }
    snprintf(err, errsz, "%s: unknown key type", d->name);
    return -1;
}

static int store(od_config_t *c, od_conf_key_t *k, char *err, size_t errsz)
{
    const od_conf_def_t *d = k->def;
    if (!d->target)
        return 0;
    if (d->type == OD_CONF_STRING || d->type == OD_CONF_LIST || d->type == OD_CONF_ENUM) {
        char **owned = realloc(c->owned, (c->nowned + 1) * sizeof(*owned));
        if (!owned)
            return -1;
        c->owned = owned;
        char *s = strdup(k->value ? k->value : "");
        if (!s)
            return -1;
        c->owned[c->nowned++] = s;
        *(char **)d->target = s;
        return 0;
    }
    if (!k->value) { /* numeric key without default: zero */
        if (d->type == OD_CONF_DOUBLE)
            *(double *)d->target = 0;
        else
            *(int64_t *)d->target = 0;
        return 0;
    }
    return od_conf_parse(d, k->value, d->target, err, errsz);
}

int od_config_apply(od_config_t *c, char *err, size_t errsz)
{
    char why[512];
    /* File settings first, then the command line, so --set wins. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < c->nsettings; i++) {
            od_conf_setting_t *s = &c->settings[i];
            int is_cli = strcmp(s->file, "--set") == 0;
            if (is_cli != pass)
                continue;
            od_conf_key_t *k = (od_conf_key_t *)od_config_find(c, s->key);
            if (!k) {
                if (is_cli)
                    snprintf(err, errsz, "--set %s: unknown configuration key '%s'", s->key, s->key);
                else
                    snprintf(err, errsz, "%s:%d: unknown configuration key '%s'", s->file, s->line,
                             s->key);
                return -1;
            }
            if (od_conf_parse(k->def, s->value, NULL, why, sizeof(why)) < 0) {
                if (is_cli)
                    snprintf(err, errsz, "--set %s: %s", s->key, why);
                else
                    snprintf(err, errsz, "%s:%d: %s", s->file, s->line, why);
                return -1;
            }
            k->value = s->value;
            k->source = is_cli ? OD_CONF_SRC_CLI : OD_CONF_SRC_FILE;
            s->used = 1;
        }
    }
    for (size_t i = 0; i < c->nkeys; i++) {
        if (store(c, &c->keys[i], why, sizeof(why)) < 0) {
            snprintf(err, errsz, "default of %s: %s", c->keys[i].def->name, why);
            return -1;
        }
    }
    return 0;
}
