/* odr_modhost.h - odr as a small module host: it loads one partitioner
 * module built for the broker (`odr produce --partitioner-module PATH`)
 * and offers it the core services a partitioner may call from init
 * (cli/odr.dynlist names them; the rest of core/odradek.dynlist is absent,
 * so a module that needs more fails at dlopen with the missing symbol). */
#ifndef ODR_MODHOST_H
#define ODR_MODHOST_H

#include <stddef.h>

#include <odradek-module.h>

/* The most verbose od_logf/od_mlogf level written to stderr (OD_LOG_*). */
void odr_modhost_log_level(int level);
/* Load the module at path and run its init. 0, or -1 with err: it cannot
 * be loaded (dlerror's words, e.g. a symbol odr lacks), has no od_module,
 * was built for another ABI, is not of the partitioner kind, its init
 * failed or broke a registration rule, or it registered no partitioner. */
int odr_modhost_load(const char *path, char *err, size_t errsz);
/* The loaded module's partitioner called name (*self its pointer), or NULL. */
const od_partitioner_ops_t *odr_modhost_partitioner(const char *name, void **self);
/* Its partitioners' names, ", "-separated, in registration order. */
void odr_modhost_names(char *out, size_t outsz);
/* The module's fini, then dlclose. */
void odr_modhost_unload(void);

#endif
