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

/* Internal topics: one table (od_topicname.c), as Kafka's Topic.INTERNAL_TOPICS
 * plus the control plane's own topic. Clients never produce into an internal
 * topic and never delete one; an OD_ITOPIC_CONTROL_PLANE topic is not
 * created by clients either (its directory belongs to the control plane). */
#define OD_ITOPIC_CONTROL_PLANE 1u

typedef struct od_internal_topic {
    const char *name;
    unsigned flags; /* OD_ITOPIC_* */
} od_internal_topic_t;

/* The table entry for name[0..len), or NULL for an ordinary topic. */
const od_internal_topic_t *od_topic_internal(const char *name, size_t len);

/* 1 for a name of the table (exact match, as Kafka's Topic.isInternal). */
int od_topic_is_internal(const char *name);

#endif
