/* od_produce_codec.c - a topic's compression.type on the produce path.
 *
 * "producer" (the default) stores batches as the client compressed them;
 * "gzip", "snappy", "lz4", "zstd" re-encode batches with another codec;
 * "uncompressed" stores them uncompressed. As in Kafka, only the records
 * section changes: offsets deltas, timestamps and producer fields stay. */
#include <stdlib.h>

#include "od_batch.h"
#include "od_codec.h"
#include "od_core.h"
#include "od_proto_gen.h"
#include "od_topic_config.h"

int16_t od_produce_compression(od_core_t *core, od_topic_t *t, const uint8_t **data, size_t *len,
                               uint8_t **owned, char *msg, size_t msgsz)
{
    od_batch_iter_t it;
    od_batch_hdr_t h;
    size_t off, sz, nlen;
    uint8_t *nb;
    int target, differ = 0;

    *owned = NULL;
    target = (int)t->cfg.compression_type;
    if (target < 0)
        return OD_ERR_NONE; /* "producer": keep what the client sent */
    od_batch_iter_init(&it, *data, *len);
    while (!differ && od_batch_iter_next(&it, &h, &off, &sz) == 1)
        differ = OD_BATCH_COMPRESSION(h.attributes) != target;
    if (!differ)
        return OD_ERR_NONE;
    if (od_batch_recompress(*data, *len, target, &nb, &nlen, msg, msgsz) != 0) {
        od_logf(OD_LOG_ERROR, "cannot re-encode a batch as %s: %s", od_codec_name(target), msg);
        return OD_ERR_UNKNOWN_SERVER_ERROR;
    }
    *owned = nb;
    *data = nb;
    *len = nlen;
    return OD_ERR_NONE;
}
