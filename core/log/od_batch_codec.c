/* od_batch_codec.c - compressed record batches: validation of the records
 * inside, and conversion between codecs (a topic's compression.type).
 *
 * Kafka validates compressed batches by decompressing them and checking
 * every record; a batch whose data does not decompress is CORRUPT_MESSAGE,
 * records that do not parse are INVALID_RECORD. Decompression is bounded
 * (od_batch_decompress_limit) so a small batch cannot make the broker
 * allocate gigabytes, and the batches of one request together by a budget
 * (od_batch_budget_begin: socket.request.max.bytes, what the request could
 * have carried uncompressed), so that many small bombs in one request
 * cannot make it work without end either. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_batch.h"
#include "od_codec.h"

static size_t decompress_limit = OD_BATCH_DECOMPRESS_LIMIT;
/* What validation may still decompress for the request being handled
 * (SIZE_MAX: no request budget). Requests are handled one at a time on the
 * loop thread, and only validation of produced batches draws on it. */
static size_t request_budget = SIZE_MAX;

size_t od_batch_decompress_limit(void) { return decompress_limit; }

void od_batch_set_decompress_limit(size_t bytes)
{
    decompress_limit = bytes ? bytes : OD_BATCH_DECOMPRESS_LIMIT;
}

void od_batch_budget_begin(size_t bytes) { request_budget = bytes; }

void od_batch_budget_end(void) { request_budget = SIZE_MAX; }

size_t od_batch_budget_left(void) { return request_budget; }

static void wr_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

int od_batch_records_plain(const uint8_t *b, size_t sz, uint8_t **out, size_t *out_len, char *err,
                           size_t errsz)
{
    od_batch_hdr_t h;
    const uint8_t *recs;
    size_t rlen;

    if (od_batch_parse_header(b, sz, &h) != 0) {
        snprintf(err, errsz, "batch shorter than its header");
        return -1;
    }
    recs = b + OD_BATCH_HEADER_SIZE;
    rlen = sz - OD_BATCH_HEADER_SIZE;
    if (OD_BATCH_COMPRESSION(h.attributes) == OD_BATCH_CODEC_NONE) {
        if (rlen > decompress_limit) {
            snprintf(err, errsz, "records section of %zu bytes exceeds the limit of %zu", rlen,
                     decompress_limit);
            return -1;
        }
        *out = malloc(rlen ? rlen : 1);
        if (!*out) {
            snprintf(err, errsz, "out of memory");
            return -1;
        }
        memcpy(*out, recs, rlen);
        *out_len = rlen;
        return 0;
    }
    return od_codec_decompress(OD_BATCH_COMPRESSION(h.attributes), recs, rlen, decompress_limit,
                               out, out_len, err, errsz);
}

int od_batch_check_compressed(const uint8_t *b, size_t sz, const od_batch_hdr_t *h, int32_t idx,
                              char *err, size_t errsz)
{
    uint8_t *plain;
    size_t plen;
    int64_t mts;
    int32_t mdelta;
    char why[200] = "";
    int rc = OD_BATCH_ERR_NONE;

    /* Bounded twice: the batch alone by the decompress limit, and all
     * batches of the request together by its budget, so that a request of
     * many small bombs cannot make the broker inflate without end. */
    size_t limit = decompress_limit < request_budget ? decompress_limit : request_budget;
    int drc = od_codec_decompress(OD_BATCH_COMPRESSION(h->attributes), b + OD_BATCH_HEADER_SIZE,
                                  sz - OD_BATCH_HEADER_SIZE, limit, &plain, &plen, why, sizeof why);
    if (drc == OD_CODEC_ERR_LIMIT && limit < decompress_limit) {
        snprintf(err, errsz, "batch %d: the records of this request decompress to more than "
                 "socket.request.max.bytes (%zu bytes left of the request's budget)", idx, limit);
        return OD_BATCH_ERR_RECORD_LIST_TOO_LARGE;
    }
    if (drc != 0) {
        snprintf(err, errsz, "batch %d: %s data does not decompress: %s", idx,
                 od_codec_name(OD_BATCH_COMPRESSION(h->attributes)), why);
        return OD_BATCH_ERR_CORRUPT_MESSAGE;
    }
    if (request_budget != SIZE_MAX)
        request_budget -= plen;
    if (od_batch_walk_records(plain, plen, h->record_count, h->base_timestamp, &mts, &mdelta, why,
                              sizeof why) != 0) {
        snprintf(err, errsz, "batch %d (%s): %s", idx,
                 od_codec_name(OD_BATCH_COMPRESSION(h->attributes)), why);
        rc = OD_BATCH_ERR_INVALID_RECORD;
    }
    free(plain);
    return rc;
}

/* A growing output buffer for recompress. */
typedef struct outbuf {
    uint8_t *p;
    size_t len, cap;
} outbuf_t;

static int out_put(outbuf_t *o, const uint8_t *d, size_t n)
{
    if (n > SIZE_MAX / 2 - o->len)
        return -1;
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        uint8_t *np;
        while (cap < o->len + n)
            cap *= 2;
        if (!(np = realloc(o->p, cap)))
            return -1;
        o->p = np;
        o->cap = cap;
    }
    if (n)
        memcpy(o->p + o->len, d, n);
    o->len += n;
    return 0;
}

/* Re-encode one batch (b, sz) into o with target codec. */
static int recompress_one(const uint8_t *b, size_t sz, const od_batch_hdr_t *h, int target,
                          outbuf_t *o, char *err, size_t errsz)
{
    uint8_t *plain = NULL, *packed = NULL;
    size_t plen, clen, start = o->len;
    const uint8_t *recs;
    int16_t attrs;
    int rc = -1;

    if (od_batch_records_plain(b, sz, &plain, &plen, err, errsz) != 0)
        return -1;
    if (target == OD_BATCH_CODEC_NONE) {
        recs = plain;
        clen = plen;
    } else {
        if (od_codec_compress(target, plain, plen, &packed, &clen, err, errsz) != 0)
            goto out;
        recs = packed;
    }
    if (clen > (size_t)INT32_MAX - OD_BATCH_MIN_LENGTH) {
        snprintf(err, errsz, "re-encoded batch too large (%zu bytes of records)", clen);
        goto out;
    }
    if (out_put(o, b, OD_BATCH_HEADER_SIZE) != 0 || out_put(o, recs, clen) != 0) {
        snprintf(err, errsz, "out of memory");
        goto out;
    }
    uint8_t *nb = o->p + start;
    size_t nsz = OD_BATCH_HEADER_SIZE + clen;
    attrs = (int16_t)((h->attributes & ~7) | target);
    nb[OD_BATCH_OFF_ATTRIBUTES] = (uint8_t)((uint16_t)attrs >> 8);
    nb[OD_BATCH_OFF_ATTRIBUTES + 1] = (uint8_t)attrs;
    wr_be32(nb + OD_BATCH_OFF_LENGTH, (uint32_t)(nsz - OD_BATCH_LOG_OVERHEAD));
    wr_be32(nb + OD_BATCH_OFF_CRC, od_batch_compute_crc(nb, nsz));
    rc = 0;
out:
    free(plain);
    free(packed);
    return rc;
}

int od_batch_recompress(const uint8_t *in, size_t len, int target_codec, uint8_t **out,
                        size_t *out_len, char *err, size_t errsz)
{
    outbuf_t o = {NULL, 0, 0};
    od_batch_iter_t it;
    od_batch_hdr_t h;
    size_t off, sz;

    if (target_codec < OD_BATCH_CODEC_NONE || target_codec > OD_BATCH_CODEC_ZSTD) {
        snprintf(err, errsz, "unknown target codec %d", target_codec);
        return -1;
    }
    od_batch_iter_init(&it, in, len);
    while (od_batch_iter_next(&it, &h, &off, &sz) == 1) {
        int rc;
        if (OD_BATCH_COMPRESSION(h.attributes) == target_codec)
            rc = out_put(&o, in + off, sz) == 0 ? 0 : (snprintf(err, errsz, "out of memory"), -1);
        else
            rc = recompress_one(in + off, sz, &h, target_codec, &o, err, errsz);
        if (rc != 0) {
            free(o.p);
            return -1;
        }
    }
    if (it.pos != len) {
        snprintf(err, errsz, "%zu bytes after the last whole batch", len - it.pos);
        free(o.p);
        return -1;
    }
    if (!o.p && !(o.p = malloc(1))) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    *out = o.p;
    *out_len = o.len;
    return 0;
}
