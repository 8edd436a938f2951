/* od_schema_int.h - what the files of core/schema share. */
#ifndef OD_SCHEMA_INT_H
#define OD_SCHEMA_INT_H

#include <stddef.h>
#include <stdint.h>

#define OD_SCHEMA_MAX_TEXT    (1024 * 1024) /* one schema's text, bytes */
#define OD_SCHEMA_MAX_SUBJECT 256           /* a subject name, bytes with the NUL */
#define OD_SCHEMA_MAX_LISTED  10000         /* versions compared or listed */
/* All schema texts together: what registering clients can make the
 * broker hold (checked when a new schema is proposed). */
#define OD_SCHEMA_MAX_TOTAL   (64 * 1024 * 1024)

struct od_core;

/* The text in normal form (compact JSON, keys in their order), malloc'd.
 * 0, or -1 with err (not JSON, too large, a type other than AVRO/JSON). */
int od_schema_normalize(const char *type, const char *text, size_t len, char **out,
                        size_t *outlen, char *err, size_t errsz);
/* An id for a new schema: above every applied one and every one handed out
 * for a proposal still on its way. */
int32_t od_schema_reserve_id(struct od_core *core);
size_t od_schema_text_bytes(struct od_core *core);
/* Whether registering under subject (a new schema text or not) would pass
 * the store's count limits. */
int od_schema_full(struct od_core *core, const char *subject, int new_schema);

#endif
