/* od_scram_store.h - SCRAM credentials in the metadata image, as Kafka's
 * controller keeps them: UserScramCredentialRecord (11) sets one user's
 * credential of one mechanism, RemoveUserScramCredentialRecord (22)
 * removes it; both are applied from the metadata log (replay included)
 * and written back into snapshots. Read by the `scram` credential backend
 * (modules/sasl_scram) through od_scram_credential_get. */
#ifndef OD_SCRAM_STORE_H
#define OD_SCRAM_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "od_buf.h"
#include "od_scram.h"

struct od_core;
typedef struct od_scram_store od_scram_store_t;

/* Apply a committed record of type OD_METAREC_USER_SCRAM_CREDENTIAL or
 * OD_METAREC_REMOVE_USER_SCRAM_CREDENTIAL (body after the frame header). 0,
 * or -1 with err (the record does not decode or is invalid). */
int od_scram_store_apply(struct od_core *core, int16_t key, int16_t version, od_slice_t *body,
                         char *err, size_t errsz);
/* Encoded records of every credential, for od_metadata_snapshot: each a
 * flattened buffer the caller frees; *out grows by realloc. 0, or -1. */
int od_scram_store_snapshot(struct od_core *core, od_meta_record_t **out, size_t *n);
void od_scram_store_free(struct od_core *core);

/* Iterate users in the store: i from 0 while it returns a name. */
const char *od_scram_store_user_at(struct od_core *core, size_t i);
/* The mechanisms a user has: bit (1 << mechanism). */
unsigned od_scram_store_mechs(struct od_core *core, const char *user, int32_t *iter256,
                              int32_t *iter512);

#endif
