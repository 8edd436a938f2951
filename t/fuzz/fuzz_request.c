/* fuzz_request.c - libFuzzer target for the request decoders.
 *
 * Input: a request header and body. Known (api key, version) pairs go
 * through the broker's path (od_proto_decode_request); any other key picks
 * one of all generated decoders (responses and records too) so every decoder
 * is reachable. Whatever decodes must survive the round trip
 * decode -> encode -> decode -> encode with identical bytes.
 *
 * Built by scripts/fuzz.sh. With -DOD_FUZZ_SEEDGEN the file instead becomes
 * a program writing a seed corpus (one encoded request per api and version)
 * into the directory given as its argument. */
#define OD_PROTO_TESTING 1
#include "od_proto_gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const odt_msg_t *find_msg(const char *kind, int16_t key)
{
    size_t i;
    for (i = 0; i < ODT_NMSGS; i++)
        if (odt_msgs[i].key == key && strcmp(odt_msgs[i].kind, kind) == 0)
            return &odt_msgs[i];
    return NULL;
}

static uint8_t *encode(const odt_msg_t *d, int16_t v, const void *m, size_t *n)
{
    od_wbuf_t w;
    uint8_t *p;
    od_wbuf_init(&w);
    d->encode(&w, v, m);
    p = w.err ? NULL : od_wbuf_flatten(&w, n);
    od_wbuf_free(&w);
    return p;
}

/* decode(x) succeeded into m: check enc(m) is a fixed point. */
static void round_trip(const odt_msg_t *d, int16_t v, const void *m)
{
    size_t n1 = 0, n2 = 0;
    uint8_t *b1 = encode(d, v, m, &n1), *b2;
    void *m2 = calloc(1, d->size);
    od_arena_t a;
    od_slice_t s;
    if (!b1 || !m2)
        abort(); /* encoding a decoded message cannot fail */
    od_arena_init(&a, 64u << 20);
    od_slice_init(&s, b1, n1);
    if (d->decode(&s, v, &a, m2) != 0 || od_slice_left(&s) != 0) {
        fprintf(stderr, "%s v%d: re-decode failed\n", d->name, v);
        abort();
    }
    b2 = encode(d, v, m2, &n2);
    if (!b2 || n1 != n2 || memcmp(b1, b2, n1) != 0) {
        fprintf(stderr, "%s v%d: re-encoding differs\n", d->name, v);
        abort();
    }
    free(b1);
    free(b2);
    free(m2);
    od_arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    od_request_header_t h;
    od_slice_t s;
    od_arena_t a;
    const odt_msg_t *d;
    int16_t v;
    void *m;

    od_slice_init(&s, data, size);
    if (od_request_header_decode(&s, &h) < 0)
        return 0;
    od_arena_init(&a, 64u << 20);
    m = od_proto_decode_request(h.api_key, h.api_version, &s, &a);
    d = find_msg("request", h.api_key);
    v = h.api_version;
    if (!d || v < d->min_ver || v > d->max_ver) {
        /* Not a supported request: let the key choose any decoder. */
        d = &odt_msgs[(uint16_t)h.api_key % ODT_NMSGS];
        v = (int16_t)(d->min_ver + (uint16_t)h.api_version % (d->max_ver - d->min_ver + 1));
        m = od_arena_alloc(&a, d->size);
        if (m && d->decode(&s, v, &a, m) != 0)
            m = NULL;
    }
    if (m)
        round_trip(d, v, m);
    od_arena_free(&a);
    return 0;
}

#ifdef OD_FUZZ_SEEDGEN
int main(int argc, char **argv)
{
    size_t k;
    if (argc != 2)
        return 2;
    for (k = 0; k < ODT_NMSGS; k++) {
        const odt_msg_t *d = &odt_msgs[k];
        int16_t v;
        if (strcmp(d->kind, "request") != 0)
            continue;
        for (v = d->min_ver; v <= d->max_ver; v++) {
            char path[4096];
            uint32_t sd = (uint32_t)(k * 131 + (size_t)v + 1);
            void *m = calloc(1, d->size);
            od_arena_t a;
            od_wbuf_t w;
            uint8_t *p;
            size_t n;
            FILE *f;
            od_arena_init(&a, 0);
            d->fill(m, v, &a, &sd);
            od_wbuf_init(&w);
            od_write_i16(&w, d->key);
            od_write_i16(&w, v);
            od_write_i32(&w, 42);
            od_write_str(&w, od_str_c("seed"));
            if (od_proto_request_flexible(d->key, v))
                od_write_uvarint(&w, 0);
            d->encode(&w, v, m);
            p = od_wbuf_flatten(&w, &n);
            snprintf(path, sizeof path, "%s/%s-v%d", argv[1], d->name, v);
            f = fopen(path, "wb");
            if (!f || !p || fwrite(p, 1, n, f) != n)
                return 1;
            fclose(f);
            free(p);
            free(m);
            od_wbuf_free(&w);
            od_arena_free(&a);
        }
    }
    return 0;
}
#endif
