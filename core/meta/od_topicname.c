/* od_topicname.c - topic name validation and collision rules, as in
 * Kafka's Topic.validate / hasCollision. */
#include "od_topicname.h"

#include <stdio.h>
#include <string.h>

static int legal_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

int od_topic_name_valid(const char *name, size_t len, char *err, size_t errsz)
{
    const char *why = NULL;

    if (!name || len == 0)
        why = "Topic name is illegal, it can't be empty";
    else if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
        why = "Topic name cannot be \".\" or \"..\"";
    else if (len > OD_TOPIC_NAME_MAX) {
        if (err && errsz)
            snprintf(err, errsz,
                     "Topic name is illegal, it can't be longer than %d characters, topic "
                     "name: %.*s...",
                     OD_TOPIC_NAME_MAX, 40, name);
        return OD_TOPIC_ERR_INVALID;
    } else {
        for (size_t i = 0; i < len; i++) {
            if (!legal_char(name[i])) {
                if (err && errsz)
                    snprintf(err, errsz,
                             "Topic name \"%.*s\" is illegal, it contains a character other "
                             "than ASCII alphanumerics, '.', '_' and '-'",
                             (int)len, name);
                return OD_TOPIC_ERR_INVALID;
            }
        }
    }
    if (why) {
        if (err && errsz)
            snprintf(err, errsz, "%s", why);
        return OD_TOPIC_ERR_INVALID;
    }
    if (err && errsz)
        err[0] = '\0';
    return 0;
}

int od_topic_name_collides(const char *a, const char *b)
{
    if (!a || !b)
        return 0;
    for (; *a && *b; a++, b++) {
        char x = *a == '.' ? '_' : *a;
        char y = *b == '.' ? '_' : *b;
        if (x != y)
            return 0;
    }
    return *a == *b;
}

int od_topic_name_has_collision_chars(const char *name)
{
    return name && strpbrk(name, "._") != NULL;
}

/* Adding an internal topic is one line here. */
static const od_internal_topic_t internal_topics[] = {
    {"__consumer_offsets", 0},  /* group coordinator */
    {"__transaction_state", 0}, /* transaction coordinator */
    {"__share_group_state", 0}, /* share coordinator (KIP-932) */
    {"__cluster_metadata", OD_ITOPIC_CONTROL_PLANE}, /* KRaft metadata log */
};

const od_internal_topic_t *od_topic_internal(const char *name, size_t len)
{
    if (!name || len < 2 || name[0] != '_' || name[1] != '_')
        return NULL;
    for (size_t i = 0; i < sizeof(internal_topics) / sizeof(internal_topics[0]); i++)
        if (strlen(internal_topics[i].name) == len && memcmp(internal_topics[i].name, name, len) == 0)
            return &internal_topics[i];
    return NULL;
}

int od_topic_is_internal(const char *name)
{
    return name && od_topic_internal(name, strlen(name)) != NULL;
}
