/* serializers_tap.h - what the unit tests of modules/serializers share
 * (test_serializers.c, test_serializers_write.c,
 * test_serializers_proto_write.c): the error buffer each call under test
 * writes, and compiling a schema, protobuf's "Message.Name\n" +
 * FileDescriptorSet form included. Static, as tap.h: each test is one
 * program. */
#ifndef SERIALIZERS_TAP_H
#define SERIALIZERS_TAP_H

#include <stdlib.h>
#include <string.h>

#include "../../modules/serializers/serializers.h"

static char err[512];

/* schema (NULL: none) compiled by o; NULL, with err, when it does not. */
static inline void *comp(const od_serializer_ops_t *o, const char *schema)
{
    void *c = NULL;
    err[0] = 0;
    if (o->compile(NULL, schema, schema ? strlen(schema) : 0, &c, err, sizeof err) != OD_OK)
        return NULL;
    return c;
}

/* The protobuf schema of message type msg of the descriptor set
 * set[0..n); NULL, with err, when it does not compile. */
static inline void *comp_proto(const char *msg, const void *set, size_t n)
{
    size_t m = strlen(msg);
    char *buf = malloc(m + 1 + n);
    if (!buf)
        return NULL;
    memcpy(buf, msg, m);
    buf[m] = '\n';
    memcpy(buf + m + 1, set, n);
    void *c = NULL;
    err[0] = 0;
    int rc = serializers_proto_ops.compile(NULL, buf, m + 1 + n, &c, err, sizeof err);
    free(buf);
    return rc == OD_OK ? c : NULL;
}

#endif
