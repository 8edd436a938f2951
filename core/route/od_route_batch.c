/* od_route_batch.c - a partition's validated batches as records for the
 * placement check and the routes, and the batches rebuilt from what the
 * routes left (headers changed, records dead-lettered).
 *
 * A rebuilt batch keeps its codec, timestamp type and producer fields; the
 * records keep their timestamps, keys and values; the CRC and lengths are
 * new. When an idempotent batch loses records to a dead-letter topic its
 * base sequence moves forward by as many, so that its last sequence - what
 * the producer state (and its rebuild from the log after a crash) keeps -
 * is the one the producer sent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_route_int.h"

void od_route_rec_clear(od_route_rec_t *r)
{
    free(r->reason);
    free(r->dlq_topic);
    for (size_t i = 0; i < r->nhdrs; i++) {
        free(r->hdrs[i].key);
        free(r->hdrs[i].value);
    }
    free(r->hdrs);
    for (size_t i = 0; i < r->ncopies; i++) {
        free(r->copies[i].topic);
        free(r->copies[i].partitioner);
        free(r->copies[i].key);
    }
    free(r->copies);
    r->reason = r->dlq_topic = NULL;
    r->hdrs = NULL;
    r->copies = NULL;
    r->nhdrs = r->ncopies = 0;
}

void od_route_set_free(od_route_set_t *s)
{
    for (size_t i = 0; i < s->nrecs; i++)
        od_route_rec_clear(&s->recs[i]);
    for (size_t i = 0; i < s->nbatches; i++)
        free(s->batches[i].plain);
    free(s->recs);
    free(s->batches);
    memset(s, 0, sizeof(*s));
}

int od_route_decode(const uint8_t *data, size_t len, int32_t partition, int64_t nrecords,
                    od_route_set_t *s, char *err, size_t errsz)
{
    memset(s, 0, sizeof(*s));
    od_batch_iter_t it;
    od_batch_hdr_t h;
    size_t off, sz, nb = 0;
    od_batch_iter_init(&it, data, len);
    while (od_batch_iter_next(&it, &h, &off, &sz) == 1)
        nb++;
    /* Counts from validated batches (od_batch_validate walked them). */
    s->batches = calloc(nb ? nb : 1, sizeof(*s->batches));
    s->recs = calloc(nrecords > 0 ? (size_t)nrecords : 1, sizeof(*s->recs));
    if (!s->batches || !s->recs) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    od_batch_iter_init(&it, data, len);
    while (od_batch_iter_next(&it, &h, &off, &sz) == 1) {
        od_route_batch_t *b = &s->batches[s->nbatches++];
        b->h = h;
        b->first = s->nrecs;
        if (od_batch_records_plain(data + off, sz, &b->plain, &b->plain_len, err, errsz) < 0)
            return -1;
        size_t pos = 0;
        for (int32_t i = 0; i < h.record_count; i++) {
            if ((int64_t)s->nrecs >= nrecords) {
                snprintf(err, errsz, "more records than the batches counted");
                return -1;
            }
            od_route_rec_t *r = &s->recs[s->nrecs];
            size_t used;
            if (od_record_iter(b->plain + pos, b->plain_len - pos, i, &r->raw, &used) < 0) {
                snprintf(err, errsz, "record %d of batch %zu does not parse", i, s->nbatches - 1);
                return -1;
            }
            pos += used;
            r->key = r->raw.key;
            r->key_len = r->raw.key_len;
            r->value = r->raw.value;
            r->value_len = r->raw.value_len;
            r->timestamp = od_ts_add_sat(h.base_timestamp, r->raw.timestamp_delta);
            r->partition = partition;
            s->nrecs++;
        }
        b->count = s->nrecs - b->first;
    }
    return 0;
}

/* The headers a record is appended with: the routes' when they changed
 * them, else the original ones (byte for byte, duplicates kept), then
 * extra. *out is malloc'd (NULL and 0 when there are none). */
static int record_headers(const od_route_rec_t *r, const od_route_hdr_t *extra, size_t nextra,
                          od_record_header_t **out, int32_t *n)
{
    size_t cap = (r->hdrs_changed ? r->nhdrs
                                  : (r->raw.header_count > 0 ? (size_t)r->raw.header_count : 0)) +
                 nextra;
    *out = NULL;
    *n = 0;
    if (cap == 0)
        return 0;
    od_record_header_t *a = calloc(cap, sizeof(*a));
    if (!a)
        return -1;
    size_t k = 0;
    if (r->hdrs_changed) {
        for (size_t i = 0; i < r->nhdrs; i++, k++)
            a[k] = (od_record_header_t){r->hdrs[i].key, (int32_t)r->hdrs[i].key_len,
                                        (const uint8_t *)r->hdrs[i].value,
                                        r->hdrs[i].value ? (int32_t)r->hdrs[i].value_len : -1};
    } else {
        size_t pos = 0;
        while (k < cap - nextra && od_record_header_next(&r->raw, &pos, &a[k]) == 0)
            k++;
    }
    for (size_t i = 0; i < nextra; i++, k++)
        a[k] = (od_record_header_t){extra[i].key, (int32_t)extra[i].key_len,
                                    (const uint8_t *)extra[i].value,
                                    extra[i].value ? (int32_t)extra[i].value_len : -1};
    *out = a;
    *n = (int32_t)k;
    return 0;
}

int od_route_add_record(od_batch_builder_t *b, const od_route_rec_t *r, int rekey,
                        const char *key, size_t key_len, const od_route_hdr_t *extra,
                        size_t nextra)
{
    od_record_header_t *hv;
    int32_t nh;
    if (record_headers(r, extra, nextra, &hv, &nh) < 0)
        return -1;
    const void *k = rekey ? (const void *)key : (const void *)r->key;
    int32_t kl = rekey ? (key ? (int32_t)key_len : -1) : r->key_len;
    int rc = od_batch_builder_add_hdrs(b, r->timestamp, k, kl, r->value, r->value_len, hv, nh);
    free(hv);
    return rc;
}

int od_route_buf_put(od_route_buf_t *w, const void *p, size_t n)
{
    if (w->cap - w->len < n) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap - w->len < n)
            cap *= 2;
        uint8_t *q = realloc(w->p, cap);
        if (!q)
            return -1;
        w->p = q;
        w->cap = cap;
    }
    memcpy(w->p + w->len, p, n);
    w->len += n;
    return 0;
}

/* Append batch b rebuilt from its accepted records to w. */
static int rebuild_one(const od_route_set_t *s, const od_route_batch_t *b, od_route_buf_t *w,
                       int32_t *kept, char *err, size_t errsz)
{
    od_batch_builder_t bb;
    od_batch_builder_init(&bb, 0);
    bb.attributes = (int16_t)(b->h.attributes & ~7);
    bb.producer_id = b->h.producer_id;
    bb.producer_epoch = b->h.producer_epoch;
    int32_t n = 0;
    for (size_t i = b->first; i < b->first + b->count; i++) {
        if (s->recs[i].action != OD_ROUTE_ACCEPT)
            continue;
        if (od_route_add_record(&bb, &s->recs[i], 0, NULL, 0, NULL, 0) < 0) {
            od_batch_builder_free(&bb);
            snprintf(err, errsz, "out of memory rebuilding a batch");
            return -1;
        }
        n++;
    }
    *kept = n;
    if (n == 0) {
        od_batch_builder_free(&bb);
        return 0;
    }
    if (b->h.base_sequence >= 0) {
        int64_t moved = (int64_t)b->h.base_sequence + ((int64_t)b->count - n);
        bb.base_sequence = (int32_t)(moved % ((int64_t)INT32_MAX + 1));
    }
    size_t plain_len;
    uint8_t *plain = od_batch_builder_finish(&bb, &plain_len);
    od_batch_builder_free(&bb);
    if (!plain) {
        snprintf(err, errsz, "out of memory rebuilding a batch");
        return -1;
    }
    int codec = OD_BATCH_COMPRESSION(b->h.attributes);
    uint8_t *coded = NULL;
    size_t coded_len = 0;
    int rc = 0;
    if (codec != OD_BATCH_CODEC_NONE) {
        rc = od_batch_recompress(plain, plain_len, codec, &coded, &coded_len, err, errsz);
        if (rc == 0)
            rc = od_route_buf_put(w, coded, coded_len);
    } else {
        rc = od_route_buf_put(w, plain, plain_len);
    }
    free(coded);
    free(plain);
    if (rc < 0 && !err[0])
        snprintf(err, errsz, "out of memory rebuilding a batch");
    return rc < 0 ? -1 : 0;
}

int od_route_rebuild(const od_route_set_t *s, od_route_buf_t *w, int32_t *nrecords, char *err,
                     size_t errsz)
{
    *nrecords = 0;
    err[0] = 0;
    for (size_t i = 0; i < s->nbatches; i++) {
        int32_t kept;
        if (rebuild_one(s, &s->batches[i], w, &kept, err, errsz) < 0)
            return -1;
        if (kept == 0 && s->batches[i].h.producer_id >= 0) {
            snprintf(err, errsz, "every record of an idempotent producer's batch was "
                     "dead-lettered; a batch with a sequence needs a record in the topic");
            return -1;
        }
        *nrecords += kept;
    }
    return 0;
}
