/* od_lifecycle.h - log lifecycle: the retention check and compaction
 * scheduling (od_lifecycle.c), and topic config changes proposed to the
 * control plane (od_metadata_configs.c). */
#ifndef OD_LIFECYCLE_H
#define OD_LIFECYCLE_H

#include <stddef.h>
#include <stdint.h>

#include "od_metadata.h"

struct od_core;

/* Register the area's keys (log.retention.check.interval.ms, ...). */
int od_lifecycle_register_config(struct od_core *core, char *err, size_t errsz);
/* From the core's periodic work (every second): run the retention check
 * when log.retention.check.interval.ms has passed, and start a compaction
 * pass when log.cleaner.backoff.ms has passed. */
void od_lifecycle_tick(struct od_core *core, int64_t now_ms);
/* Cancel pending work (before the logs close at shutdown). */
void od_lifecycle_stop(struct od_core *core);
/* Apply retention to every local log now; returns segments deleted. */
int od_lifecycle_enforce_retention(struct od_core *core);

/* Propose ConfigRecords for one topic: each kv sets key to value, a NULL
 * value removes the override. Values must have been validated. cb runs
 * once committed (at once when n == 0). Returns 0, or -1 with err. */
int od_metadata_alter_configs(struct od_core *core, const char *topic, const od_kv_t *kv,
                              size_t n, od_meta_done_cb cb, void *arg, char *err, size_t errsz);

#endif
