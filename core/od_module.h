/* od_module.h - loading shared-object modules and keeping what they
 * registered. */
#ifndef OD_MODULE_H
#define OD_MODULE_H

#include <stddef.h>

#include "odradek-module.h"

struct od_core;

/* True when a backend's ops struct is new enough to hold `field` and fills
 * it: a module built for an older minor ABI has a shorter struct. */
#define OD_OPS_HAS(ops, field)                                                                     \
    ((ops)->struct_size >= offsetof(__typeof__(*(ops)), field) + sizeof((ops)->field) &&           \
     (ops)->field != NULL)

typedef struct od_backend_reg {
    const void *ops; /* od_storage_ops_t or od_controlplane_ops_t */
    void *self;
    const char *module;
} od_backend_reg_t;

struct od_module_ctx {
    struct od_core *core;
    const od_module_t *mod;
    const char *path;
    int in_init;
    void *data;
};

struct od_module_rec {
    char *path;
    void *handle;
    const od_module_t *mod;
    od_module_ctx_t *ctx; /* separately allocated: modules keep the pointer */
};

/* Load the modules named by load_module directives, or the default set
 * (storage_segment, storage_memory, kraft, the sasl_* mechanisms and
 * credential backends, acl) when there are none; each is
 * `<module.dir>/<name>.so` unless given as a path. */
int od_modules_load(struct od_core *core, const char *module_dir, char *err, size_t errsz);
void od_modules_unload(struct od_core *core);
/* Call each module's start() (ABI >= 1.1) once configuration is applied. */
int od_modules_start(struct od_core *core, char *err, size_t errsz);
/* Registered backends, by their ops' name. */
const od_backend_reg_t *od_modules_storage(const char *name);
const od_backend_reg_t *od_modules_controlplane(const char *name);
/* Names of all registered backends of one kind, comma separated. */
void od_modules_list(int controlplane, char *out, size_t outsz);
void od_modules_reset_registry(void);
/* Modules linked into the program (fuzzers): `load_module NAME` takes the
 * one whose od_module_t.name is NAME instead of dlopen'ing NAME.so. */
void od_modules_set_static(const od_module_t *const *mods, size_t n);

#endif
