/* od_codec.h - record compression codecs (gzip, snappy, lz4, zstd) on top
 * of the system libraries (zlib, libsnappy, liblz4, libzstd).
 *
 * The two entry points, od_codec_decompress and od_codec_compress, are part
 * of the module API and declared in odradek-module.h together with the
 * OD_CODEC_* numbers (the RecordBatch attribute values). Formats, as Kafka
 * uses them:
 *   gzip   - a gzip stream (RFC 1952 header); concatenated members accepted.
 *   snappy - input: raw snappy (librdkafka) or the xerial framing the Java
 *            client writes ("\x82SNAPPY\0", two int32 versions, then blocks
 *            of int32 BE length + raw snappy). Output: xerial framing.
 *   lz4    - the LZ4 frame format; concatenated frames accepted.
 *   zstd   - zstd frames, content size in the header or not. */
#ifndef OD_CODEC_H
#define OD_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "odradek-module.h"

/* Name of a codec ("gzip"...), "none" for OD_CODEC_NONE, "?" otherwise. */
const char *od_codec_name(int codec);
/* A compression.type value to a codec: "gzip", "snappy", "lz4", "zstd",
 * "uncompressed" (OD_CODEC_NONE). -1 for anything else ("producer"). */
int od_codec_from_config(const char *value);

/* Produce path (od_produce_codec.c): apply topic t's compression.type to
 * validated batches *data and *len. When they must be re-encoded, *data and
 * *len are pointed at a new buffer that is also stored in *owned (caller
 * frees after the append; NULL when nothing changed). Returns OD_ERR_NONE
 * or an error code with msg. */
struct od_topic;
int16_t od_produce_compression(od_core_t *core, struct od_topic *t, const uint8_t **data,
                               size_t *len, uint8_t **owned, char *msg, size_t msgsz);

#endif
