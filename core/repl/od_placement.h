/* od_placement.h - where a new partition's replicas go: over the registered,
 * unfenced brokers of the image, with Kafka's rack-alternating placement
 * (brokers ordered so that consecutive ones sit in different racks, first
 * replicas striped over that order, followers shifted so that no broker and,
 * while racks remain, no rack holds two replicas of one partition). */
#ifndef OD_PLACEMENT_H
#define OD_PLACEMENT_H

#include <stddef.h>
#include <stdint.h>

#include "od_buf.h"

struct od_image;

/* 0 when rf replicas can be placed now, else -INVALID_REPLICATION_FACTOR
 * with Kafka's message (validation before anything is proposed). */
int od_place_check(const struct od_image *img, int32_t rf, char *err, size_t errsz);
/* Replicas of partition `index` of the topic `topic_id` (the id fixes the
 * stripe's start, as Kafka's random start does, but repeatably), rf of them
 * into out. Returns 0, or -INVALID_REPLICATION_FACTOR with Kafka's message
 * when fewer than rf brokers can take one. */
int od_place_partition(const struct od_image *img, const od_uuid_t *topic_id, int32_t index,
                       int32_t rf, int32_t *out, char *err, size_t errsz);

#endif
