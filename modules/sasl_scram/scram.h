/* scram.h - the sasl_scram module: the SCRAM mechanisms (scram_mech.c)
 * and the `scram` credential backend (scram_creds.c). */
#ifndef SCRAM_H
#define SCRAM_H

#include "odradek-module.h"

int scram_register_mechanisms(od_module_ctx_t *ctx);
int scram_register_backend(od_module_ctx_t *ctx);

#endif
