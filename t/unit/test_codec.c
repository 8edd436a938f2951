/* test_codec.c - record compression: codec round trips, foreign framings,
 * corrupt and truncated input, decompression bombs, validation of
 * compressed batches, recompression between every pair of codecs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lz4frame.h>
#include <snappy-c.h>
#include <zstd.h>

#include "od_batch.h"
#include "od_codec.h"
#include "tap.h"

static const int codecs[] = {OD_CODEC_GZIP, OD_CODEC_SNAPPY, OD_CODEC_LZ4, OD_CODEC_ZSTD};
#define NCODECS 4

/* Deterministic, half compressible data. */
static uint8_t *make_data(size_t n, unsigned seed)
{
    uint8_t *p = malloc(n ? n : 1);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (i / 64) % 2 ? (uint8_t)(x >> 24) : (uint8_t)('a' + i % 7);
    }
    return p;
}

static void test_round_trips(void)
{
    static const size_t sizes[] = {0, 1, 100, 32768, 32769, 200000, 1 << 20};
    for (int c = 0; c < NCODECS; c++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            size_t n = sizes[s], clen = 0, dlen = 0;
            uint8_t *d = make_data(n, (unsigned)s), *cz = NULL, *back = NULL;
            char err[200] = "";
            int rc = od_codec_compress(codecs[c], d, n, &cz, &clen, err, sizeof err);
            int rc2 = rc == 0 ? od_codec_decompress(codecs[c], cz, clen, n, &back, &dlen, err,
                                                    sizeof err)
                              : -1;
            tap_ok(rc == 0 && rc2 == 0 && dlen == n && (n == 0 || memcmp(back, d, n) == 0),
                   "%s round trip of %zu bytes (%zu compressed) %s", od_codec_name(codecs[c]), n,
                   clen, err);
            /* Exactly n bytes allowed; one byte less must be refused. */
            if (n > 0 && rc == 0) {
                uint8_t *o2 = NULL;
                size_t l2 = 0;
                tap_ok(od_codec_decompress(codecs[c], cz, clen, n - 1, &o2, &l2, err,
                                           sizeof err) == OD_CODEC_ERR_LIMIT &&
                           o2 == NULL,
                       "%s: %zu bytes refused with max_out %zu (%s)", od_codec_name(codecs[c]), n,
                       n - 1, err);
            }
            free(d);
            free(cz);
            free(back);
        }
    }
}

/* Raw snappy (librdkafka) and xerial with several blocks (Java). */
static void test_snappy_framings(void)
{
    size_t n = 100000, rlen = snappy_max_compressed_length(n), dlen;
    uint8_t *d = make_data(n, 7), *raw = malloc(rlen), *back = NULL, *x = NULL;
    char err[200] = "";
    snappy_compress((const char *)d, n, (char *)raw, &rlen);
    tap_ok(od_codec_decompress(OD_CODEC_SNAPPY, raw, rlen, 1 << 20, &back, &dlen, err,
                               sizeof err) == 0 &&
               dlen == n && memcmp(back, d, n) == 0,
           "raw snappy input accepted %s", err);
    free(back);
    back = NULL;

    /* Our own output is xerial framed with 32 KiB blocks. */
    size_t xlen;
    od_codec_compress(OD_CODEC_SNAPPY, d, n, &x, &xlen, err, sizeof err);
    tap_ok(xlen > 16 && memcmp(x, "\x82SNAPPY\0\0\0\0\1\0\0\0\1", 16) == 0,
           "snappy output has the xerial header");
    /* A hand-made xerial stream with uneven blocks, as snappy-java might. */
    size_t cap = 16 + 3 * (4 + snappy_max_compressed_length(n)), pos = 16;
    uint8_t *hx = malloc(cap);
    memcpy(hx, x, 16);
    size_t cuts[] = {0, 1000, 70000, n};
    for (int i = 0; i < 3; i++) {
        size_t bl = cap - pos - 4;
        snappy_compress((const char *)d + cuts[i], cuts[i + 1] - cuts[i], (char *)hx + pos + 4,
                        &bl);
        hx[pos] = (uint8_t)(bl >> 24);
        hx[pos + 1] = (uint8_t)(bl >> 16);
        hx[pos + 2] = (uint8_t)(bl >> 8);
        hx[pos + 3] = (uint8_t)bl;
        pos += 4 + bl;
    }
    tap_ok(od_codec_decompress(OD_CODEC_SNAPPY, hx, pos, n, &back, &dlen, err, sizeof err) == 0 &&
               dlen == n && memcmp(back, d, n) == 0,
           "xerial input with uneven blocks accepted %s", err);
    free(back);
    back = NULL;
    /* A block length that points past the end. */
    hx[16] = 0x7f;
    tap_ok(od_codec_decompress(OD_CODEC_SNAPPY, hx, pos, n, &back, &dlen, err, sizeof err) == -1,
           "xerial block length past the end refused (%s)", err);
    free(hx);
    free(x);
    free(raw);
    free(d);
}

/* Truncations and bit flips never crash; truncations are always refused. */
static void test_corrupt(void)
{
    size_t n = 50000;
    uint8_t *d = make_data(n, 3);
    for (int c = 0; c < NCODECS; c++) {
        uint8_t *cz, *back = NULL;
        size_t clen, dlen;
        char err[200] = "";
        int refused = 0, tries = 0, bad_ok = 0;
        od_codec_compress(codecs[c], d, n, &cz, &clen, err, sizeof err);
        for (size_t cut = 0; cut < clen; cut += clen / 37 + 1) {
            tries++;
            if (od_codec_decompress(codecs[c], cz, cut, 1 << 20, &back, &dlen, err,
                                    sizeof err) == -1 &&
                back == NULL)
                refused++;
            free(back);
            back = NULL;
        }
        tap_ok(refused == tries, "%s: %d/%d truncated inputs refused", od_codec_name(codecs[c]),
               refused, tries);
        /* Flipped bytes: either refused or (for checksum-less codecs) some
         * output; never a crash, never more than max_out. */
        for (size_t i = 0; i < clen; i += clen / 53 + 1) {
            uint8_t *m = malloc(clen);
            memcpy(m, cz, clen);
            m[i] ^= 0x5a;
            if (od_codec_decompress(codecs[c], m, clen, n + 10, &back, &dlen, err, sizeof err) ==
                0) {
                if (dlen > n + 10)
                    bad_ok++;
                free(back);
            }
            back = NULL;
            free(m);
        }
        tap_ok(bad_ok == 0, "%s: flipped bytes handled", od_codec_name(codecs[c]));
        /* Garbage. */
        uint8_t junk[300];
        for (size_t i = 0; i < sizeof junk; i++)
            junk[i] = (uint8_t)(i * 37 + 11);
        tap_ok(od_codec_decompress(codecs[c], junk, sizeof junk, 1 << 20, &back, &dlen, err,
                                   sizeof err) == -1,
               "%s: garbage refused (%s)", od_codec_name(codecs[c]), err);
        /* Trailing garbage after a complete stream. */
        uint8_t *t = malloc(clen + 5);
        memcpy(t, cz, clen);
        memcpy(t + clen, "\1\2\3\4\5", 5);
        back = NULL;
        int rc = od_codec_decompress(codecs[c], t, clen + 5, 1 << 20, &back, &dlen, err,
                                     sizeof err);
        /* (For xerial snappy the bytes are a block length past the end.) */
        tap_ok(rc == -1, "%s: trailing garbage refused (%s)", od_codec_name(codecs[c]), err);
        if (rc == 0)
            free(back);
        free(t);
        free(cz);
    }
    uint8_t *o;
    size_t ol;
    char err[100];
    tap_ok(od_codec_decompress(9, d, 10, 100, &o, &ol, err, sizeof err) == -1,
           "unknown codec refused");
    free(d);
}

/* A small input claiming a huge output is refused at the limit, without
 * allocating the whole output. */
static void test_bombs(void)
{
    size_t n = 64 << 20;
    uint8_t *zeros = calloc(1, n);
    for (int c = 0; c < NCODECS; c++) {
        uint8_t *cz, *back = NULL;
        size_t clen, dlen = 0;
        char err[200] = "";
        od_codec_compress(codecs[c], zeros, n, &cz, &clen, err, sizeof err);
        tap_ok(od_codec_decompress(codecs[c], cz, clen, 1 << 20, &back, &dlen, err, sizeof err) ==
                       OD_CODEC_ERR_LIMIT &&
                   back == NULL && strstr(err, "limit"),
               "%s bomb (%zu -> %zu bytes) refused: %s", od_codec_name(codecs[c]), clen, n, err);
        free(cz);
    }
    /* Raw snappy claiming 4 GiB in its header. */
    uint8_t fake[] = {0x80, 0x80, 0x80, 0x80, 0x0f, 0x00};
    uint8_t *back = NULL;
    size_t dlen;
    char err[200];
    tap_ok(od_codec_decompress(OD_CODEC_SNAPPY, fake, sizeof fake, 1 << 20, &back, &dlen, err,
                               sizeof err) == OD_CODEC_ERR_LIMIT,
           "snappy header claiming 4 GiB refused before allocating: %s", err);
    /* Corrupt data is told apart from a bomb. */
    uint8_t junk[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff};
    tap_ok(od_codec_decompress(OD_CODEC_GZIP, junk, sizeof junk, 1 << 20, &back, &dlen, err,
                               sizeof err) == -1,
           "corrupt gzip is -1, not the limit: %s", err);
    free(zeros);
}

/* ---- batches ------------------------------------------------------------ */

typedef struct rec {
    int64_t ts;
    char key[16], val[64];
    int null_val;
} rec_t;

/* An uncompressed batch of n records with headers and some null values. */
static uint8_t *make_batch(int n, size_t *len)
{
    od_batch_builder_t b;
    od_batch_builder_init(&b, 0);
    for (int i = 0; i < n; i++) {
        char k[16], v[64];
        od_record_header_t h[2] = {{"h1", 2, (const uint8_t *)"x", 1}, {"h2", 2, NULL, -1}};
        snprintf(k, sizeof k, "k%d", i);
        snprintf(v, sizeof v, "value number %d of the batch", i);
        od_batch_builder_add_hdrs(&b, 1700000000000 + i * 3, k, (int32_t)strlen(k),
                                  i % 5 == 4 ? NULL : v, (int32_t)strlen(v), h, i % 3);
    }
    b.producer_id = -1;
    return od_batch_builder_finish(&b, len);
}

/* Put the records section of an uncompressed batch through codec. */
static uint8_t *compress_batch(const uint8_t *b, size_t len, int codec, size_t *out_len)
{
    uint8_t *out = NULL;
    char err[200];
    if (od_batch_recompress(b, len, codec, &out, out_len, err, sizeof err) != 0) {
        tap_diag("recompress: %s", err);
        return NULL;
    }
    return out;
}

/* Serialise every record of a payload (decompressed) for comparison. */
static int flatten(const uint8_t *p, size_t len, uint8_t **out, size_t *out_len)
{
    od_batch_iter_t it;
    od_batch_hdr_t h;
    size_t off, sz, cap = 1 << 16, n = 0;
    uint8_t *acc = malloc(cap);
    od_batch_iter_init(&it, p, len);
    while (od_batch_iter_next(&it, &h, &off, &sz) == 1) {
        uint8_t *plain;
        size_t plen, pos = 0;
        char err[200];
        if (od_batch_records_plain(p + off, sz, &plain, &plen, err, sizeof err) != 0)
            goto fail;
        /* Header fields other than length, CRC, attributes. */
        size_t need = n + 61 + plen;
        while (need > cap)
            cap *= 2;
        acc = realloc(acc, cap);
        memcpy(acc + n, p + off, 8);
        memcpy(acc + n + 8, p + off + 23, 61 - 23);
        n += 8 + 61 - 23;
        for (int32_t i = 0; i < h.record_count; i++) {
            od_record_t r;
            size_t used;
            if (od_record_iter(plain + pos, plen - pos, i, &r, &used) != 0) {
                free(plain);
                goto fail;
            }
            memcpy(acc + n, plain + pos, used);
            n += used;
            pos += used;
        }
        free(plain);
        if (pos != plen)
            goto fail;
    }
    *out = acc;
    *out_len = n;
    return 0;
fail:
    free(acc);
    return -1;
}

static void test_batches(void)
{
    size_t plen, flen0;
    uint8_t *plain = make_batch(500, &plen), *flat0;
    char err[200];
    od_batch_summary_t sum;
    tap_is_int(od_batch_validate(plain, plen, &sum, err, sizeof err), 0, "plain batch valid");
    tap_ok(flatten(plain, plen, &flat0, &flen0) == 0, "plain batch flattened");

    for (int c = 0; c < NCODECS; c++) {
        const char *cn = od_codec_name(codecs[c]);
        size_t clen;
        uint8_t *cb = compress_batch(plain, plen, codecs[c], &clen);
        if (!cb) {
            tap_ok(0, "%s batch built", cn);
            continue;
        }
        int rc = od_batch_validate(cb, clen, &sum, err, sizeof err);
        tap_ok(rc == 0 && sum.compression == codecs[c] && sum.record_count == 500,
               "%s batch validates (%zu -> %zu bytes) %s", cn, plen, clen, err);

        /* Every codec to every codec (and back to none): records identical. */
        int same = 1;
        for (int t = 0; t <= OD_CODEC_ZSTD; t++) {
            size_t rlen, flen;
            uint8_t *rb = compress_batch(cb, clen, t, &rlen), *flat;
            if (!rb || od_batch_validate(rb, rlen, NULL, err, sizeof err) != 0 ||
                (rb[22] & 7) != t || flatten(rb, rlen, &flat, &flen) != 0) {
                tap_diag("%s -> %s failed: %s", cn, od_codec_name(t), err);
                same = 0;
                free(rb);
                continue;
            }
            if (flen != flen0 || memcmp(flat, flat0, flen) != 0) {
                tap_diag("%s -> %s: records differ", cn, od_codec_name(t));
                same = 0;
            }
            free(flat);
            free(rb);
        }
        tap_ok(same, "%s recompressed to every codec keeps records identical", cn);

        /* Corrupt compressed data with a right CRC: CORRUPT_MESSAGE. */
        uint8_t *bad = malloc(clen);
        memcpy(bad, cb, clen);
        for (size_t i = 61 + 4; i < clen && i < 61 + 40; i++)
            bad[i] ^= 0xff;
        uint32_t crc = od_batch_compute_crc(bad, clen);
        bad[17] = (uint8_t)(crc >> 24), bad[18] = (uint8_t)(crc >> 16);
        bad[19] = (uint8_t)(crc >> 8), bad[20] = (uint8_t)crc;
        rc = od_batch_validate(bad, clen, NULL, err, sizeof err);
        tap_ok(rc == OD_BATCH_ERR_CORRUPT_MESSAGE || rc == OD_BATCH_ERR_INVALID_RECORD,
               "%s batch with damaged data refused (%d: %s)", cn, rc, err);
        free(bad);

        /* Truncated compressed data (batchLength fixed, CRC right). */
        size_t tl = 61 + (clen - 61) / 2;
        bad = malloc(tl);
        memcpy(bad, cb, tl);
        uint32_t bl = (uint32_t)(tl - 12);
        bad[8] = (uint8_t)(bl >> 24), bad[9] = (uint8_t)(bl >> 16), bad[10] = (uint8_t)(bl >> 8),
        bad[11] = (uint8_t)bl;
        crc = od_batch_compute_crc(bad, tl);
        bad[17] = (uint8_t)(crc >> 24), bad[18] = (uint8_t)(crc >> 16);
        bad[19] = (uint8_t)(crc >> 8), bad[20] = (uint8_t)crc;
        tap_is_int(od_batch_validate(bad, tl, NULL, err, sizeof err),
                   OD_BATCH_ERR_CORRUPT_MESSAGE, "truncated compressed batch is CORRUPT_MESSAGE");
        free(bad);

        /* Good compression of bad records: INVALID_RECORD. Declare one
         * record more than there are. */
        size_t wlen;
        uint8_t *wb = malloc(plen);
        memcpy(wb, plain, plen);
        wb[60] = (uint8_t)(wb[60] + 1); /* record count 501 */
        wb[26] = (uint8_t)(wb[26] + 1); /* lastOffsetDelta 500 */
        crc = od_batch_compute_crc(wb, plen);
        wb[17] = (uint8_t)(crc >> 24), wb[18] = (uint8_t)(crc >> 16);
        wb[19] = (uint8_t)(crc >> 8), wb[20] = (uint8_t)crc;
        uint8_t *wc = compress_batch(wb, plen, codecs[c], &wlen);
        tap_is_int(wc ? od_batch_validate(wc, wlen, NULL, err, sizeof err) : -1,
                   OD_BATCH_ERR_INVALID_RECORD, "compressed batch with a missing record is INVALID_RECORD");
        free(wc);
        free(wb);
        free(cb);
    }

    /* A batch inflating past the limit is CORRUPT_MESSAGE. */
    {
        size_t zlen;
        uint8_t *zb = compress_batch(plain, plen, OD_CODEC_ZSTD, &zlen);
        od_batch_set_decompress_limit(4096);
        tap_ok(zb && od_batch_validate(zb, zlen, NULL, err, sizeof err) ==
                         OD_BATCH_ERR_CORRUPT_MESSAGE &&
                   strstr(err, "limit"),
               "batch over the decompression limit refused: %s", err);
        free(zb);
    }
    od_batch_set_decompress_limit(0); /* back to the default */

    /* The request budget: three gzip bombs of 4 MiB of zeros each (a few
     * KiB compressed) inflate 12 MiB; a 10 MiB budget stops the third. */
    {
        size_t vn = 4 << 20, blen, zl;
        uint8_t *zeros = calloc(1, vn);
        od_batch_builder_t bb;
        od_batch_builder_init(&bb, 0);
        od_batch_builder_add(&bb, 1700000000000, "k", 1, zeros, (int32_t)vn);
        uint8_t *big = od_batch_builder_finish(&bb, &blen);
        uint8_t *zb1 = compress_batch(big, blen, OD_CODEC_GZIP, &zl);
        uint8_t *three = malloc(3 * zl);
        for (int i = 0; i < 3; i++)
            memcpy(three + (size_t)i * zl, zb1, zl);
        tap_ok(od_batch_validate(three, 3 * zl, NULL, err, sizeof err) == OD_BATCH_ERR_NONE,
               "three 4 MiB gzip bombs (%zu bytes each) without a budget: valid", zl);
        od_batch_budget_begin((size_t)10 << 20);
        tap_ok(od_batch_validate(three, 3 * zl, NULL, err, sizeof err) ==
                   OD_BATCH_ERR_RECORD_LIST_TOO_LARGE,
               "with a 10 MiB budget: RECORD_LIST_TOO_LARGE (%s)", err);
        tap_ok(od_batch_budget_left() < (size_t)(3 << 20), "budget spent by the first two");
        tap_is_int(od_batch_validate(zb1, zl, NULL, err, sizeof err),
                   OD_BATCH_ERR_RECORD_LIST_TOO_LARGE, "a later batch of the same request is refused too");
        od_batch_budget_end();
        tap_is_int(od_batch_validate(zb1, zl, NULL, err, sizeof err), OD_BATCH_ERR_NONE,
                   "the next request starts without the budget");
        od_batch_budget_begin((size_t)13 << 20);
        tap_is_int(od_batch_validate(three, 3 * zl, NULL, err, sizeof err), OD_BATCH_ERR_NONE,
                   "a 13 MiB budget takes all three");
        od_batch_budget_end();
        free(three);
        free(zb1);
        free(big);
        free(zeros);
    }

    /* Two batches of different codecs in one payload, to one codec. */
    size_t g, z;
    uint8_t *gb = compress_batch(plain, plen, OD_CODEC_GZIP, &g);
    uint8_t *zb = compress_batch(plain, plen, OD_CODEC_ZSTD, &z);
    uint8_t *two = malloc(g + z);
    memcpy(two, gb, g);
    memcpy(two + g, zb, z);
    size_t olen;
    uint8_t *o = compress_batch(two, g + z, OD_CODEC_LZ4, &olen);
    tap_ok(o && od_batch_validate(o, olen, &sum, err, sizeof err) == 0 && sum.batch_count == 2 &&
               (o[22] & 7) == OD_CODEC_LZ4,
           "two batches of different codecs converted to lz4");
    free(o);
    free(two);
    free(gb);
    free(zb);
    free(flat0);
    free(plain);
}

int main(void)
{
    tap_no_plan();
    test_round_trips();
    test_snappy_framings();
    test_corrupt();
    test_bombs();
    test_batches();
    return tap_done();
}
