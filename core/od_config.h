/* od_config.h - configuration tables, the config file, and --set.
 *
 * One format: Java-properties style lines `key=value` (or `key: value`),
 * `#` and `!` comments, plus the directive `load_module NAME|PATH`. Every key
 * is declared in a table (od_conf_def_t rows, by the core or a module);
 * unknown keys and bad values stop the start with file, line and reason. */
#ifndef OD_CONFIG_H
#define OD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "odradek-module.h"

typedef enum od_conf_source {
    OD_CONF_SRC_DEFAULT = 0,
    OD_CONF_SRC_FILE,
    OD_CONF_SRC_CLI
} od_conf_source_t;

typedef struct od_conf_setting {
    char *key, *value;
    char *file; /* "--set" for the command line */
    int line;
    int used;
} od_conf_setting_t;

typedef struct od_conf_module_ref {
    char *name; /* as written */
    char *file;
    int line;
} od_conf_module_ref_t;

typedef struct od_conf_key {
    const od_conf_def_t *def;
    const char *owner;   /* "core" or the module name */
    const char *value;   /* effective text value (setting or default), may be NULL */
    od_conf_source_t source;
} od_conf_key_t;

/* A listener.name.<listener>.<key> setting (OD_CONF_F_LISTENER keys). */
typedef struct od_conf_override {
    char *listener; /* lowercase */
    char *key;      /* the key after the listener (may have a mechanism prefix) */
    const od_conf_def_t *def;
    const char *value;             /* the setting's text */
    const od_conf_setting_t *from; /* where it was set */
} od_conf_override_t;

typedef struct od_config {
    od_conf_setting_t *settings;
    size_t nsettings;
    od_conf_module_ref_t *modules;
    size_t nmodules;
    od_conf_key_t *keys;
    size_t nkeys;
    char **owned; /* strings handed out to targets, freed at the end */
    size_t nowned;
    od_conf_override_t *overrides; /* per-listener settings, by od_config_apply */
    size_t noverrides;
} od_config_t;

void od_config_init(od_config_t *c);
void od_config_free(od_config_t *c);
/* Read a file; syntax errors are reported with file and line. */
int od_config_read_file(od_config_t *c, const char *path, char *err, size_t errsz);
/* One `key=value` from the command line; overrides the file. */
int od_config_add_set(od_config_t *c, const char *kv, char *err, size_t errsz);
/* Declare keys. Duplicate names are an error. */
int od_config_register(od_config_t *c, const od_conf_def_t *defs, size_t n, const char *owner,
                       char *err, size_t errsz);
/* Check every setting against the tables and store every key's value into
 * its target. The first problem stops with "file:line: reason". */
int od_config_apply(od_config_t *c, char *err, size_t errsz);
const od_conf_key_t *od_config_find(const od_config_t *c, const char *name);
const char *od_config_get(const od_config_t *c, const char *name);
/* Where the effective value of `name` was set: "file:line", "--set", or
 * "default". For errors found after od_config_apply (cross-key checks). */
const char *od_config_where(const od_config_t *c, const char *name, char *buf, size_t bufsz);

/* The per-listener value of key (see od_config_listener_get in
 * odradek-module.h); the typed variants parse it with the key's
 * definition (0, or -1 when the key is unknown or not of that type). */
const char *od_config_listener_value(const od_config_t *c, const char *listener, const char *key);
int od_config_listener_int(const od_config_t *c, const char *listener, const char *key,
                           int64_t *out);
int od_config_listener_double(const od_config_t *c, const char *listener, const char *key,
                              double *out);

/* Parse one value for a definition (also used for topic configs). `out`
 * points to int64_t (BOOL/INT), double (DOUBLE) or may be NULL to only
 * validate. Returns 0 or -1 with a reason. */
int od_conf_parse(const od_conf_def_t *d, const char *value, void *out, char *err, size_t errsz);

#endif
