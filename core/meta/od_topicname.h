/* od_topicname.h - Kafka's rules for topic names. */
#ifndef OD_TOPICNAME_H
#define OD_TOPICNAME_H

#include <stddef.h>

#define OD_TOPIC_NAME_MAX 249 /* leaves room for "-<partition>" in a 255-byte file name */

/* Kafka error code for a bad name (the wire number). */
#define OD_TOPIC_ERR_INVALID 17 /* INVALID_TOPIC_EXCEPTION */

/* Check name[0..len): non-empty, not "." or "..", at most 249 bytes, only
 * [a-zA-Z0-9._-]. name need not be NUL-terminated. Returns 0, or
 * OD_TOPIC_ERR_INVALID with a message in err. */
int od_topic_name_valid(const char *name, size_t len, char *err, size_t errsz);

/* 1 if the names are the same once '.' and '_' are treated as equal (they
 * would share metric names), which includes identical names; else 0. */
int od_topic_name_collides(const char *a, const char *b);

/* 1 if the name contains '.' or '_' (could collide with another name). */
int od_topic_name_has_collision_chars(const char *name);

/* 1 for internal topics: names starting with "__" (__consumer_offsets,
 * __transaction_state, ...). */
int od_topic_is_internal(const char *name);

#endif
