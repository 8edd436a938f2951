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
    for (size_t i = 0; i < c->noverrides; i++) {
        free(c->overrides[i].listener);
        free(c->overrides[i].key);
    }
    free(c->overrides);
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

/* ---- per-listener overrides: listener.name.<listener>.<key> ---- */

#define LISTENER_PREFIX "listener.name."

/* The listener key def names, or NULL. rest is "<key>" or
 * "<mechanism>.<key>" (Kafka's SASL form). */
static const od_conf_def_t *listener_def(const od_config_t *c, const char *rest)
{
    const od_conf_key_t *k = od_config_find(c, rest);
    if (k && (k->def->flags & OD_CONF_F_LISTENER))
        return k->def;
    const char *dot = strchr(rest, '.');
    if (!dot || dot == rest)
        return NULL;
    for (const char *p = rest; p < dot; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
            return NULL;
    k = od_config_find(c, dot + 1);
    return k && (k->def->flags & OD_CONF_F_LISTENER) ? k->def : NULL;
}

/* A setting named listener.name.*: 1 stored, 0 not such a name, -1 error. */
static int apply_override(od_config_t *c, od_conf_setting_t *s, char *err, size_t errsz)
{
    size_t pl = strlen(LISTENER_PREFIX);
    if (strncmp(s->key, LISTENER_PREFIX, pl) != 0)
        return 0;
    const char *name = s->key + pl, *dot = strchr(name, '.');
    char why[512];
    if (!dot || dot == name || !dot[1]) {
        snprintf(why, sizeof(why), "'%s' is not listener.name.<listener>.<key>", s->key);
        goto fail;
    }
    const od_conf_def_t *d = listener_def(c, dot + 1);
    if (!d) {
        const od_conf_key_t *k = od_config_find(c, dot + 1);
        snprintf(why, sizeof(why),
                 k ? "configuration key '%s' cannot be set per listener (in '%s')"
                   : "unknown configuration key '%s' (in '%s')",
                 dot + 1, s->key);
        goto fail;
    }
    if (od_conf_parse(d, s->value, NULL, why, sizeof(why)) < 0)
        goto fail;
    char *listener = strndup(name, (size_t)(dot - name)), *key = strdup(dot + 1);
    if (!listener || !key) {
        free(listener);
        free(key);
        snprintf(why, sizeof(why), "out of memory");
        goto fail;
    }
    for (char *p = listener; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    od_conf_override_t *o = NULL;
    for (size_t i = 0; i < c->noverrides && !o; i++)
        if (strcmp(c->overrides[i].listener, listener) == 0 &&
            strcmp(c->overrides[i].key, key) == 0)
            o = &c->overrides[i];
    if (o) { /* set again (the command line over the file) */
        free(listener);
        free(key);
    } else {
        o = realloc(c->overrides, (c->noverrides + 1) * sizeof(*o));
        if (!o) {
            free(listener);
            free(key);
            snprintf(why, sizeof(why), "out of memory");
            goto fail;
        }
        c->overrides = o;
        o = &c->overrides[c->noverrides++];
        o->listener = listener;
        o->key = key;
    }
    o->def = d;
    o->value = s->value;
    o->from = s;
    s->used = 1;
    return 1;
fail:
    if (strcmp(s->file, "--set") == 0)
        snprintf(err, errsz, "--set %s: %s", s->key, why);
    else
        snprintf(err, errsz, "%s:%d: %s", s->file, s->line, why);
    return -1;
}

static const od_conf_override_t *find_override(const od_config_t *c, const char *listener,
                                               const char *key)
{
    for (size_t i = 0; i < c->noverrides; i++)
        if (strcasecmp(c->overrides[i].listener, listener) == 0 &&
            strcmp(c->overrides[i].key, key) == 0)
            return &c->overrides[i];
    return NULL;
}

const char *od_config_listener_value(const od_config_t *c, const char *listener, const char *key)
{
    if (!key)
        return NULL;
    const od_conf_override_t *o = listener ? find_override(c, listener, key) : NULL;
    if (o)
        return o->value;
    const od_conf_key_t *k = od_config_find(c, key);
    if (k)
        return k->value;
    /* "<mechanism>.<key>": the listener's plain key, then the base key. */
    const char *dot = strchr(key, '.');
    if (!dot || !od_config_find(c, dot + 1))
        return NULL;
    return od_config_listener_value(c, listener, dot + 1);
}

static const od_conf_def_t *def_of(const od_config_t *c, const char *key)
{
    const od_conf_key_t *k = key ? od_config_find(c, key) : NULL;
    if (k)
        return k->def;
    const char *dot = key ? strchr(key, '.') : NULL;
    return dot ? def_of(c, dot + 1) : NULL;
}

int od_config_listener_int(const od_config_t *c, const char *listener, const char *key,
                           int64_t *out)
{
    const od_conf_def_t *d = def_of(c, key);
    char why[256];
    if (!d || (d->type != OD_CONF_INT && d->type != OD_CONF_BOOL))
        return -1;
    const char *v = od_config_listener_value(c, listener, key);
    if (!v) {
        *out = 0;
        return 0;
    }
    return od_conf_parse(d, v, out, why, sizeof(why));
}

int od_config_listener_double(const od_config_t *c, const char *listener, const char *key,
                              double *out)
{
    const od_conf_def_t *d = def_of(c, key);
    char why[256];
    if (!d || d->type != OD_CONF_DOUBLE)
        return -1;
    const char *v = od_config_listener_value(c, listener, key);
    if (!v) {
        *out = 0;
        return 0;
    }
    return od_conf_parse(d, v, out, why, sizeof(why));
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
                int o = apply_override(c, s, err, errsz);
                if (o < 0)
                    return -1;
                if (o > 0)
                    continue;
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
