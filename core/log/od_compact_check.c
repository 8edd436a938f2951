/* od_compact_check.c - compacted topics accept keyed records only.
 *
 * Kafka refuses a produce to a topic whose cleanup.policy contains
 * "compact" when a record has a null key ("Compacted topic cannot accept
 * message without key"): the cleaner could never replace or delete such a
 * record. The error is INVALID_RECORD for the whole partition. */
#include "od_compact_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_batch.h"
#include "od_proto_gen.h"
#include "od_topic_config.h"

int16_t od_compact_check_keys(const uint8_t *batches, size_t len, char *err, size_t errsz)
{
    od_batch_iter_t it;
    od_batch_hdr_t h;
    size_t off, size;

    od_batch_iter_init(&it, batches, len);
    while (od_batch_iter_next(&it, &h, &off, &size) == 1) {
        uint8_t *recs = NULL;
        size_t rlen = 0, pos = 0;
        int16_t ec = OD_ERR_NONE;
        if (h.attributes & 0x20)
            continue; /* control batches carry no user keys */
        if (od_batch_records_plain(batches + off, size, &recs, &rlen, err, errsz) < 0)
            return OD_ERR_CORRUPT_MESSAGE;
        for (int32_t i = 0; i < h.record_count && pos < rlen; i++) {
            od_record_t rec;
            size_t used;
            if (od_record_iter(recs + pos, rlen - pos, -1, &rec, &used) < 0) {
                snprintf(err, errsz, "malformed record in the batch at byte %zu", off);
                ec = OD_ERR_INVALID_RECORD;
                break;
            }
            if (!rec.key) {
                snprintf(err, errsz, "Compacted topic cannot accept message without key "
                         "(record %d of the batch at byte %zu)", i, off);
                ec = OD_ERR_INVALID_RECORD;
                break;
            }
            pos += used;
        }
        free(recs);
        if (ec != OD_ERR_NONE)
            return ec;
    }
    return OD_ERR_NONE;
}

int16_t od_compact_check(od_core_t *core, od_topic_t *t, const uint8_t *batches, size_t len,
                         char *err, size_t errsz)
{
    if (!(t->cfg.cleanup_policy & OD_CLEANUP_COMPACT))
        return OD_ERR_NONE;
    return od_compact_check_keys(batches, len, err, errsz);
}
