/* od_placement.c - replica placement (see od_placement.h). */
#include "od_placement.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_metadata.h"
#include "od_proto_gen.h"

typedef struct cand {
    int32_t id;
    const char *rack; /* "" when the broker has none: one rack of its own kind */
} cand_t;

static int by_rack_then_id(const void *a, const void *b)
{
    const cand_t *x = a, *y = b;
    int c = strcmp(x->rack, y->rack);
    if (c)
        return c;
    return (x->id > y->id) - (x->id < y->id);
}

/* Kafka's replicaIndex: the j-th follower after `first`, never `first`. */
static size_t follower_index(size_t first, size_t shift, size_t j, size_t n)
{
    size_t s = 1 + (shift + j) % (n - 1);
    return (first + s) % n;
}

/* Brokers sorted by rack and id, then taken one per rack in turn: rack a's
 * first, rack b's first, ..., rack a's second, ... (Kafka's
 * getRackAlternatedBrokerList). Returns the number of racks. */
static size_t rack_alternate(cand_t *sorted, size_t n, cand_t *out)
{
    size_t nracks = 0, placed = 0;
    size_t *start = calloc(n, sizeof(*start)), *len = calloc(n, sizeof(*len));
    if (!start || !len) {
        memcpy(out, sorted, n * sizeof(*out));
        free(start);
        free(len);
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(sorted[i].rack, sorted[i - 1].rack) != 0)
            start[nracks++] = i;
        len[nracks - 1]++;
    }
    for (size_t round = 0; placed < n; round++)
        for (size_t r = 0; r < nracks; r++)
            if (round < len[r])
                out[placed++] = sorted[start[r] + round];
    free(start);
    free(len);
    return nracks;
}

int od_place_check(const od_image_t *img, int32_t rf, char *err, size_t errsz)
{
    size_t n = 0;
    for (size_t i = 0; i < img->nbrokers; i++)
        n += !img->brokers[i].fenced;
    if (rf >= 1 && (size_t)rf <= n)
        return 0;
    if (n == 0 && img->nbrokers > 0)
        snprintf(err, errsz, "Unable to replicate the partition %d time(s): All brokers are "
                 "currently fenced.", rf);
    else
        snprintf(err, errsz, "Unable to replicate the partition %d time(s): The target "
                 "replication factor of %d cannot be reached because only %zu broker(s) are "
                 "registered.", rf, rf, n);
    return -OD_ERR_INVALID_REPLICATION_FACTOR;
}

int od_place_partition(const od_image_t *img, const od_uuid_t *topic_id, int32_t index,
                       int32_t rf, int32_t *out, char *err, size_t errsz)
{
    size_t n = 0;
    cand_t *c = calloc(img->nbrokers ? img->nbrokers : 1, sizeof(*c));
    cand_t *arranged = calloc(img->nbrokers ? img->nbrokers : 1, sizeof(*arranged));
    if (!c || !arranged) {
        free(c);
        free(arranged);
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < img->nbrokers; i++) {
        const od_broker_reg_t *b = &img->brokers[i];
        if (b->fenced)
            continue;
        c[n].id = b->id;
        c[n].rack = b->rack ? b->rack : "";
        n++;
    }
    if (od_place_check(img, rf, err, errsz) < 0) {
        free(c);
        free(arranged);
        return -OD_ERR_INVALID_REPLICATION_FACTOR;
    }
    qsort(c, n, sizeof(*c), by_rack_then_id);
    size_t nracks = rack_alternate(c, n, arranged);
    /* The stripe's start: fixed by the topic id, so partitions added later
     * continue the same stripe. */
    size_t start = (size_t)(((uint32_t)topic_id->b[0] << 8 | topic_id->b[1]) % n);
    size_t p = (size_t)index;
    size_t shift = start + p / n; /* grows by one every n partitions */
    size_t first = (p + start) % n;
    out[0] = arranged[first].id;
    if (rf == 1)
        goto done;
    if (nracks == 1) { /* Kafka's rack-unaware placement */
        for (int32_t j = 1; j < rf; j++)
            out[j] = arranged[follower_index(first, shift, (size_t)j - 1, n)].id;
        goto done;
    }
    /* Kafka's rack-aware loop: walk the followers' positions; take a broker
     * whose rack holds none of this partition's replicas yet (until every
     * rack has one) and which holds none itself (a broker is never taken
     * twice, and rf <= n, so the walk ends within n * n steps). */
    int32_t placed = 1;
    size_t nracks_used = 1;
    const char **racks_used = calloc((size_t)rf, sizeof(*racks_used));
    if (!racks_used) {
        free(c);
        free(arranged);
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    racks_used[0] = arranged[first].rack;
    for (size_t k = 0; placed < rf && k < n * n; k++) {
        const cand_t *b = &arranged[follower_index(first, shift * nracks, k, n)];
        int rack_taken = 0, broker_taken = 0;
        for (size_t r = 0; r < nracks_used; r++)
            rack_taken |= strcmp(racks_used[r], b->rack) == 0;
        for (int32_t r = 0; r < placed; r++)
            broker_taken |= out[r] == b->id;
        if ((rack_taken && nracks_used < nracks) || broker_taken)
            continue;
        out[placed++] = b->id;
        if (!rack_taken)
            racks_used[nracks_used++] = b->rack;
    }
    free(racks_used);
    if (placed < rf) { /* cannot happen with rf <= n; never hand out fewer */
        free(c);
        free(arranged);
        snprintf(err, errsz, "replica placement found only %d of %d brokers", placed, rf);
        return -OD_ERR_INVALID_REPLICATION_FACTOR;
    }
done:
    free(c);
    free(arranged);
    return 0;
}
