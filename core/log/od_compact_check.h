/* od_compact_check.h - compacted topics accept keyed records only. */
#ifndef OD_COMPACT_CHECK_H
#define OD_COMPACT_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "od_core.h"
#include "od_metadata.h"

/* Walk the records of validated batches (compressed ones decompressed) and
 * return OD_ERR_INVALID_RECORD with a message if one has a null key, else
 * OD_ERR_NONE. */
int16_t od_compact_check_keys(const uint8_t *batches, size_t len, char *err, size_t errsz);

/* The produce-path check: od_compact_check_keys when the topic's
 * cleanup.policy contains "compact", as Kafka does. */
int16_t od_compact_check(od_core_t *core, od_topic_t *t, const uint8_t *batches, size_t len,
                         char *err, size_t errsz);

#endif
