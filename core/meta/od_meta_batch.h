/* od_meta_batch.h - metadata records built for one proposal, and the one
 * way every writer proposes them: encode each record into the batch, hand
 * the batch to the control plane (all records commit together or none),
 * learn the outcome as a Kafka error code. */
#ifndef OD_META_BATCH_H
#define OD_META_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "od_buf.h"
#include "od_metadata.h"
#include "odradek-module.h"

typedef struct od_meta_batch {
    od_wbuf_t *bufs;
    size_t n, cap;
    int oom; /* a record could not be added: the batch cannot be proposed */
} od_meta_batch_t;

/* A new record framed as api key `key`, version `ver`, for the caller to
 * encode its body into; NULL when out of memory (noted in the batch, so
 * a later flatten or propose fails instead of dropping the record). */
od_wbuf_t *od_meta_batch_add(od_meta_batch_t *b, int16_t key, int16_t ver);
void od_meta_batch_free(od_meta_batch_t *b);
/* Append the batch's records, flattened, to *out (*n of them, grown with
 * realloc; each data is malloc'd and the caller's). 0, or -1 out of memory
 * (*out and *n then hold what was appended so far). */
int od_meta_batch_flatten(const od_meta_batch_t *b, od_meta_record_t **out, size_t *n);

/* The Kafka error code of a control plane's propose status (0, or a
 * negative Kafka-style code; anything else is UNKNOWN_SERVER_ERROR). */
int16_t od_meta_status_error(int status);

/* Propose the batch's records together; cb (the control plane's raw
 * callback) runs once when they are committed or failed. The batch is
 * freed. Returns OD_ERR_NONE, OD_ERR_UNKNOWN_SERVER_ERROR when the
 * records cannot be built or there is no control plane, or
 * OD_ERR_NOT_CONTROLLER when the control plane refused them; err says why
 * and cb does not run. */
int16_t od_meta_propose_raw(struct od_core *core, od_meta_batch_t *b, od_propose_cb cb, void *arg,
                            char *err, size_t errsz);
/* The same with cb given the Kafka error code (od_meta_status_error).
 * Returns 0, or -1 with err (cb does not run). */
int od_meta_propose(struct od_core *core, od_meta_batch_t *b, od_meta_done_cb cb, void *arg,
                    char *err, size_t errsz);

#endif
