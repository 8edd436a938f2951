/* odr_part.h - `odr produce --partitioner NAME`: a built-in strategy
 * (modules/partitioners/partitioners_algo.c), a broker partitioner module
 * (--partitioner-module, odr_modhost.c) or a Lua script's partitioner
 * (--partitioner-lua, the broker's Lua VM from core/lua/), asked in odr
 * for every record before it is handed to librdkafka - whose partitioner
 * callback sees neither the value nor the headers. */
#ifndef ODR_PART_H
#define ODR_PART_H

#include "odr.h"

typedef struct odr_part odr_part_t;

/* One record as the partitioner sees it: key NULL for a null key; headers
 * the -H arguments ("name=value"). */
typedef struct odr_part_rec {
    const void *key, *value;
    size_t key_len, value_len;
    char *const *headers;
    size_t nheaders;
} odr_part_rec_t;

/* odr_part_place's answer when the partitioner failed for the record. */
#define ODR_PART_FAILED (-2)

/* The partitioner name from module_path or lua_path (at most one of them;
 * neither: the built-ins). NULL after a message on stderr, with *code
 * ODR_EXIT_USAGE (a file that does not load, an unknown name: the message
 * lists the names there are). */
odr_part_t *odr_part_open(odr_ctx_t *ctx, const char *name, const char *module_path,
                          const char *lua_path, int *code);
/* The topic the records go to and its partition count now (from the
 * metadata odr produce read); counts are read again after 5 minutes
 * (Kafka's metadata.max.age.ms) and by odr_part_refresh. */
void odr_part_target(odr_part_t *p, rd_kafka_t *rk, const char *topic, int32_t npartitions);
/* Read the partition count again (a produce said UNKNOWN_PARTITION): 0, or
 * -1 after a message. */
int odr_part_refresh(odr_part_t *p);
/* A delivery said UNKNOWN_PARTITION (or UNKNOWN_TOPIC_OR_PART): the next
 * odr_part_place reads the count again first (a delivery report must not
 * wait for a request). */
void odr_part_stale(odr_part_t *p);
/* The partition for rec: >= 0; RD_KAFKA_PARTITION_UA when a module's
 * partitioner has no opinion (librdkafka's own partitioner chooses); or
 * ODR_PART_FAILED, with the reason in err (a Lua error, blown budget or
 * memory cap, a result outside [0, n)). */
int32_t odr_part_place(odr_part_t *p, const odr_part_rec_t *rec, char *err, size_t errsz);
void odr_part_close(odr_part_t *p);

#endif
