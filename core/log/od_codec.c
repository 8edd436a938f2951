/* od_codec.c - gzip/snappy/lz4/zstd for record batches, bounded.
 *
 * Every decompressor writes into a buffer that grows geometrically but
 * never past max_out: a batch that would inflate beyond it is refused
 * before the memory is allocated (decompression bombs). Input is never
 * trusted: every length read from it is checked against what is left. */
#include "od_codec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

static void seterr(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errsz, const char *fmt, ...)
{
    va_list ap;
    if (!err || !errsz)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
}

const char *od_codec_name(int codec)
{
    switch (codec) {
    case OD_CODEC_NONE: return "none";
    case OD_CODEC_GZIP: return "gzip";
    case OD_CODEC_SNAPPY: return "snappy";
    case OD_CODEC_LZ4: return "lz4";
    case OD_CODEC_ZSTD: return "zstd";
    default: return "?";
    }
}

int od_codec_from_config(const char *v)
{
    if (!v)
        return -1;
    if (strcmp(v, "uncompressed") == 0)
        return OD_CODEC_NONE;
    for (int c = OD_CODEC_GZIP; c <= OD_CODEC_ZSTD; c++)
        if (strcmp(v, od_codec_name(c)) == 0)
            return c;
    return -1;
}

/* ---- a bounded growing output buffer ---------------------------------- */

typedef struct obuf {
    uint8_t *p;
    size_t len, cap, max;
} obuf_t;

/* Make room for at least `want` more bytes (fewer if max is near: the
 * caller sees how much via obuf_room). 0 ok, -1 out of memory, 1 full. */
static int obuf_grow(obuf_t *o, size_t want)
{
    size_t cap;
    uint8_t *np;
    if (o->cap - o->len >= want)
        return 0;
    if (o->cap >= o->max + 1)
        return o->cap > o->len ? 0 : 1; /* at the cap: use what is left, or full */
    cap = o->cap ? o->cap : 4096;
    while (cap - o->len < want && cap <= SIZE_MAX / 4)
        cap *= 2;
    /* Allow one byte more than max so "exactly max" and "more than max"
     * can be told apart. */
    if (cap > o->max + 1)
        cap = o->max + 1;
    np = realloc(o->p, cap);
    if (!np)
        return -1;
    o->p = np;
    o->cap = cap;
    return 0;
}

/* -1 out of memory, -2 the output would pass the limit: callers can tell a
 * bomb (or a budget spent) from corrupt data. */
static int obuf_fail_full(obuf_t *o, int rc, int codec, char *err, size_t errsz)
{
    if (rc < 0)
        seterr(err, errsz, "%s: out of memory", od_codec_name(codec));
    else
        seterr(err, errsz, "%s: decompressed data larger than the limit of %zu bytes",
               od_codec_name(codec), o->max);
    free(o->p);
    o->p = NULL;
    return rc < 0 ? -1 : OD_CODEC_ERR_LIMIT;
}

static int obuf_finish(obuf_t *o, int codec, uint8_t **out, size_t *out_len, char *err,
                       size_t errsz)
{
    if (o->len > o->max)
        return obuf_fail_full(o, 1, codec, err, errsz);
    if (!o->p && !(o->p = malloc(1)))
        return obuf_fail_full(o, -1, codec, err, errsz);
    *out = o->p;
    *out_len = o->len;
    return 0;
}

/* ---- gzip ------------------------------------------------------------- */

static int gzip_decompress(const uint8_t *in, size_t len, obuf_t *o, char *err, size_t errsz)
{
    z_stream z;
    int rc = Z_OK, g;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
        seterr(err, errsz, "gzip: inflateInit2 failed");
        return -1;
    }
    z.next_in = (Bytef *)(uintptr_t)in;
    /* Feed at most 1 GiB per call: avail_in is a uInt. */
    for (;;) {
        size_t used = (size_t)(z.next_in - in);
        size_t chunk = len - used > (1u << 30) ? (1u << 30) : len - used;
        if (rc == Z_STREAM_END) {
            if (used == len)
                break;
            /* Another gzip member follows (gzip allows concatenation). */
            if (inflateReset(&z) != Z_OK)
                goto corrupt;
        }
        if ((g = obuf_grow(o, 65536)) != 0) {
            inflateEnd(&z);
            return obuf_fail_full(o, g, OD_CODEC_GZIP, err, errsz);
        }
        z.avail_in = (uInt)chunk;
        size_t room = o->cap - o->len;
        z.next_out = o->p + o->len;
        z.avail_out = (uInt)(room > (1u << 30) ? (1u << 30) : room);
        uInt before = z.avail_out;
        rc = inflate(&z, Z_NO_FLUSH);
        o->len += before - z.avail_out;
        if (rc == Z_STREAM_END)
            continue;
        if (rc == Z_BUF_ERROR && z.avail_out == 0)
            continue; /* needs more output space */
        if (rc != Z_OK)
            goto corrupt;
        if (z.avail_in == 0 && z.avail_out != 0 && (size_t)(z.next_in - in) == len)
            goto corrupt; /* all input used, stream not finished: truncated */
    }
    inflateEnd(&z);
    return 0;
corrupt:
    seterr(err, errsz, "gzip: %s", rc == Z_OK || rc == Z_BUF_ERROR ? "truncated stream"
                                   : z.msg                         ? z.msg
                                                                   : "corrupt stream");
    inflateEnd(&z);
    free(o->p);
    o->p = NULL;
    return -1;
}

static int gzip_compress(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len, char *err,
                         size_t errsz)
{
    z_stream z;
    uint8_t *buf;
    size_t cap;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        seterr(err, errsz, "gzip: deflateInit2 failed");
        return -1;
    }
    if (len > (1u << 30)) {
        deflateEnd(&z);
        seterr(err, errsz, "gzip: input of %zu bytes too large", len);
        return -1;
    }
    cap = deflateBound(&z, (uLong)len) + 32; /* + gzip header/trailer slack */
    if (!(buf = malloc(cap))) {
        deflateEnd(&z);
        seterr(err, errsz, "gzip: out of memory");
        return -1;
    }
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
        deflateEnd(&z);
        free(buf);
        seterr(err, errsz, "gzip: deflate failed");
        return -1;
    }
    *out_len = cap - z.avail_out;
    *out = buf;
    deflateEnd(&z);
    return 0;
}

/* ---- snappy ----------------------------------------------------------- */

static const uint8_t xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
#define XERIAL_HEADER 16     /* magic + version + compatible version */
#define XERIAL_BLOCK  32768  /* uncompressed bytes per block, as snappy-java */

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Append one raw snappy block to o. */
static int snappy_block(const uint8_t *in, size_t len, obuf_t *o, char *err, size_t errsz)
{
    size_t n;
    int g;
    if (snappy_uncompressed_length((const char *)in, len, &n) != SNAPPY_OK) {
        seterr(err, errsz, "snappy: corrupt block header");
        goto fail;
    }
    if (n > o->max - o->len) /* o->len <= o->max always holds here */
        return obuf_fail_full(o, 1, OD_CODEC_SNAPPY, err, errsz);
    if (n && (g = obuf_grow(o, n)) != 0)
        return obuf_fail_full(o, g, OD_CODEC_SNAPPY, err, errsz);
    if (n == 0) {
        /* snappy_uncompress wants a buffer; validate the block alone. */
        if (snappy_validate_compressed_buffer((const char *)in, len) != SNAPPY_OK) {
            seterr(err, errsz, "snappy: corrupt block");
            goto fail;
        }
        return 0;
    }
    size_t got = n;
    if (snappy_uncompress((const char *)in, len, (char *)o->p + o->len, &got) != SNAPPY_OK ||
        got != n) {
        seterr(err, errsz, "snappy: corrupt block");
        goto fail;
    }
    o->len += n;
    return 0;
fail:
    free(o->p);
    o->p = NULL;
    return -1;
}

static int snappy_decompress(const uint8_t *in, size_t len, obuf_t *o, char *err, size_t errsz)
{
    size_t pos;
    if (len < XERIAL_HEADER || memcmp(in, xerial_magic, sizeof xerial_magic) != 0)
        return snappy_block(in, len, o, err, errsz); /* raw snappy (librdkafka) */
    /* xerial framing: the two version ints are not interpreted (snappy-java
     * writes 1/1; readers accept any). */
    for (pos = XERIAL_HEADER; pos < len;) {
        uint32_t bl;
        if (len - pos < 4) {
            seterr(err, errsz, "snappy: truncated xerial block length");
            goto fail;
        }
        bl = rd32(in + pos);
        pos += 4;
        if (bl > len - pos) {
            seterr(err, errsz, "snappy: xerial block of %u bytes, only %zu left", bl, len - pos);
            goto fail;
        }
        int rc = snappy_block(in + pos, bl, o, err, errsz);
        if (rc != 0)
            return rc;
        pos += bl;
    }
    return 0;
fail:
    free(o->p);
    o->p = NULL;
    return -1;
}

static int snappy_compress_xerial(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len,
                                  char *err, size_t errsz)
{
    size_t nblocks = (len + XERIAL_BLOCK - 1) / XERIAL_BLOCK;
    size_t cap = XERIAL_HEADER + nblocks * (4 + snappy_max_compressed_length(XERIAL_BLOCK));
    size_t pos = XERIAL_HEADER;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        seterr(err, errsz, "snappy: out of memory");
        return -1;
    }
    memcpy(buf, xerial_magic, sizeof xerial_magic);
    wr32(buf + 8, 1);  /* version */
    wr32(buf + 12, 1); /* compatible version */
    for (size_t off = 0; off < len; off += XERIAL_BLOCK) {
        size_t n = len - off < XERIAL_BLOCK ? len - off : XERIAL_BLOCK;
        size_t clen = cap - pos - 4;
        if (snappy_compress((const char *)in + off, n, (char *)buf + pos + 4, &clen) !=
            SNAPPY_OK) {
            free(buf);
            seterr(err, errsz, "snappy: compression failed");
            return -1;
        }
        wr32(buf + pos, (uint32_t)clen);
        pos += 4 + clen;
    }
    *out = buf;
    *out_len = pos;
    return 0;
}

/* ---- lz4 -------------------------------------------------------------- */

static int lz4_decompress(const uint8_t *in, size_t len, obuf_t *o, char *err, size_t errsz)
{
    LZ4F_dctx *d;
    size_t pos = 0, hint = 1;
    int g;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION))) {
        seterr(err, errsz, "lz4: cannot create a decompression context");
        return -1;
    }
    if (len == 0)
        goto truncated;
    /* hint 0: a frame ended and the context is ready for another one
     * (concatenated frames); done when the input is used up too. Calls with
     * no input left flush what the context still holds. */
    while (pos < len || hint != 0) {
        size_t src = len - pos, dst;
        if ((g = obuf_grow(o, 65536)) != 0) {
            LZ4F_freeDecompressionContext(d);
            return obuf_fail_full(o, g, OD_CODEC_LZ4, err, errsz);
        }
        dst = o->cap - o->len;
        hint = LZ4F_decompress(d, o->p + o->len, &dst, in + pos, &src, NULL);
        if (LZ4F_isError(hint)) {
            seterr(err, errsz, "lz4: %s", LZ4F_getErrorName(hint));
            goto fail;
        }
        pos += src;
        o->len += dst;
        if (src == 0 && dst == 0 && hint != 0)
            goto truncated; /* no progress: the frame wants input there is not */
    }
    LZ4F_freeDecompressionContext(d);
    return 0;
truncated:
    seterr(err, errsz, "lz4: truncated frame");
fail:
    LZ4F_freeDecompressionContext(d);
    free(o->p);
    o->p = NULL;
    return -1;
}

static int lz4_compress(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len, char *err,
                        size_t errsz)
{
    /* What Kafka's own writer produces: 64 KiB independent blocks, no
     * content size; readers of every client accept it. */
    LZ4F_preferences_t prefs;
    size_t cap, n;
    uint8_t *buf;
    memset(&prefs, 0, sizeof prefs);
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    cap = LZ4F_compressFrameBound(len, &prefs);
    if (!(buf = malloc(cap ? cap : 1))) {
        seterr(err, errsz, "lz4: out of memory");
        return -1;
    }
    n = LZ4F_compressFrame(buf, cap, in, len, &prefs);
    if (LZ4F_isError(n)) {
        free(buf);
        seterr(err, errsz, "lz4: %s", LZ4F_getErrorName(n));
        return -1;
    }
    *out = buf;
    *out_len = n;
    return 0;
}

/* ---- zstd ------------------------------------------------------------- */

static int zstd_decompress(const uint8_t *in, size_t len, obuf_t *o, char *err, size_t errsz)
{
    ZSTD_DStream *d = ZSTD_createDStream();
    ZSTD_inBuffer ib = {in, len, 0};
    size_t hint = 1;
    int wl = 23, g;
    if (!d) {
        seterr(err, errsz, "zstd: out of memory");
        return -1;
    }
    /* A frame's window is allocated up front: keep it near what the output
     * may hold (at least 8 MiB, which every usual compressor level fits). */
    while (wl < 27 && ((size_t)1 << wl) < o->max)
        wl++;
    ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, wl);
    if (len == 0)
        goto truncated;
    /* hint 0: a frame is fully decoded and flushed; more input is another
     * frame. With the input used up, calls flush buffered output. */
    while (ib.pos < ib.size || hint != 0) {
        ZSTD_outBuffer ob;
        size_t in_before = ib.pos;
        if ((g = obuf_grow(o, 65536)) != 0) {
            ZSTD_freeDStream(d);
            return obuf_fail_full(o, g, OD_CODEC_ZSTD, err, errsz);
        }
        ob = (ZSTD_outBuffer){o->p + o->len, o->cap - o->len, 0};
        hint = ZSTD_decompressStream(d, &ob, &ib);
        if (ZSTD_isError(hint)) {
            seterr(err, errsz, "zstd: %s", ZSTD_getErrorName(hint));
            goto fail;
        }
        o->len += ob.pos;
        if (ib.pos == in_before && ob.pos == 0 && hint != 0)
            goto truncated; /* no progress: the frame wants input there is not */
    }
    ZSTD_freeDStream(d);
    return 0;
truncated:
    seterr(err, errsz, "zstd: truncated frame");
fail:
    ZSTD_freeDStream(d);
    free(o->p);
    o->p = NULL;
    return -1;
}

static int zstd_compress(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len, char *err,
                         size_t errsz)
{
    size_t cap = ZSTD_compressBound(len), n;
    uint8_t *buf = malloc(cap ? cap : 1);
    if (!buf) {
        seterr(err, errsz, "zstd: out of memory");
        return -1;
    }
    n = ZSTD_compress(buf, cap, in, len, ZSTD_CLEVEL_DEFAULT);
    if (ZSTD_isError(n)) {
        free(buf);
        seterr(err, errsz, "zstd: %s", ZSTD_getErrorName(n));
        return -1;
    }
    *out = buf;
    *out_len = n;
    return 0;
}

/* ---- entry points ----------------------------------------------------- */

int od_codec_decompress(int codec, const uint8_t *in, size_t len, size_t max_out, uint8_t **out,
                        size_t *out_len, char *err, size_t errsz)
{
    obuf_t o = {NULL, 0, 0, max_out};
    int rc;
    if (!out || !out_len || (len && !in)) {
        seterr(err, errsz, "bad arguments");
        return -1;
    }
    if (max_out >= SIZE_MAX / 2)
        o.max = SIZE_MAX / 2 - 1;
    *out = NULL;
    *out_len = 0;
    switch (codec) {
    case OD_CODEC_GZIP: rc = gzip_decompress(in, len, &o, err, errsz); break;
    case OD_CODEC_SNAPPY: rc = snappy_decompress(in, len, &o, err, errsz); break;
    case OD_CODEC_LZ4: rc = lz4_decompress(in, len, &o, err, errsz); break;
    case OD_CODEC_ZSTD: rc = zstd_decompress(in, len, &o, err, errsz); break;
    default: seterr(err, errsz, "unknown codec %d", codec); return -1;
    }
    if (rc != 0)
        return rc; /* the decoder freed o.p; -1 or OD_CODEC_ERR_LIMIT */
    return obuf_finish(&o, codec, out, out_len, err, errsz);
}

int od_codec_compress(int codec, const uint8_t *in, size_t len, uint8_t **out, size_t *out_len,
                      char *err, size_t errsz)
{
    static const uint8_t empty[1];
    if (!out || !out_len || (len && !in)) {
        seterr(err, errsz, "bad arguments");
        return -1;
    }
    if (!in)
        in = empty; /* the libraries want a pointer even for no bytes */
    *out = NULL;
    *out_len = 0;
    switch (codec) {
    case OD_CODEC_GZIP: return gzip_compress(in, len, out, out_len, err, errsz);
    case OD_CODEC_SNAPPY: return snappy_compress_xerial(in, len, out, out_len, err, errsz);
    case OD_CODEC_LZ4: return lz4_compress(in, len, out, out_len, err, errsz);
    case OD_CODEC_ZSTD: return zstd_compress(in, len, out, out_len, err, errsz);
    default: seterr(err, errsz, "unknown codec %d", codec); return -1;
    }
}
