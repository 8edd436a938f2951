/* test_proto.c - the generated protocol codecs.
 *
 * 1. Every message at every version: fill with pseudo-random values,
 *    encode, decode, re-encode, compare bytes; every truncation fails.
 * 2. Hand-written byte vectors for known encodings.
 * 3. Headers, api table, errors, metadata record framing, records refs. */
#define OD_PROTO_TESTING 1
#include "od_proto_gen.h"
#include "tap.h"

#include <stdlib.h>

#define SEEDS 24

static void hexdump(const char *what, const uint8_t *p, size_t n)
{
    size_t i;
    printf("# %s (%zu):", what, n);
    for (i = 0; i < n && i < 200; i++)
        printf(" %02x", p[i]);
    printf("\n");
}

/* Encodes m at v into a malloc'd buffer; NULL on wbuf error. */
static uint8_t *encode(const odt_msg_t *d, int16_t v, const void *m, size_t *len)
{
    od_wbuf_t w;
    uint8_t *p;
    od_wbuf_init(&w);
    d->encode(&w, v, m);
    p = w.err ? NULL : od_wbuf_flatten(&w, len);
    od_wbuf_free(&w);
    return p;
}

/* Decodes exactly n bytes copied to their own allocation (so ASan sees any
 * read past the end); returns the decoder's result, -2 if bytes remain.
 * The decoded message borrows from *keep, which the caller frees. */
static int decode_exact(const odt_msg_t *d, int16_t v, const uint8_t *b, size_t n,
                        od_arena_t *a, void *out, uint8_t **keep)
{
    uint8_t *copy = malloc(n ? n : 1);
    od_slice_t s;
    int r;
    if (n)
        memcpy(copy, b, n);
    od_slice_init(&s, copy, n);
    r = d->decode(&s, v, a, out);
    if (r == 0 && od_slice_left(&s))
        r = -2;
    if (keep)
        *keep = copy;
    else
        free(copy);
    return r;
}

static void round_trips(void)
{
    size_t k;
    for (k = 0; k < ODT_NMSGS; k++) {
        const odt_msg_t *d = &odt_msgs[k];
        int16_t v;
        for (v = d->min_ver; v <= d->max_ver; v++) {
            int ok = 1, trunc_ok = 1;
            uint32_t seed;
            for (seed = 1; seed <= SEEDS && ok; seed++) {
                od_arena_t a;
                void *m1 = calloc(1, d->size), *m2 = calloc(1, d->size);
                uint8_t *b1 = NULL, *b2 = NULL, *keep = NULL;
                size_t n1 = 0, n2 = 0, cut;
                uint32_t sd = seed * 2654435761u + (uint32_t)k * 40503u + (uint32_t)v;
                od_arena_init(&a, 0);
                d->fill(m1, v, &a, &sd);
                b1 = encode(d, v, m1, &n1);
                if (!b1) {
                    tap_diag("%s v%d seed %u: encode failed", d->name, v, seed);
                    ok = 0;
                } else if (decode_exact(d, v, b1, n1, &a, m2, &keep) != 0) {
                    tap_diag("%s v%d seed %u: decode failed", d->name, v, seed);
                    hexdump("bytes", b1, n1);
                    ok = 0;
                } else if (!(b2 = encode(d, v, m2, &n2)) || n1 != n2 ||
                           memcmp(b1, b2, n1) != 0) {
                    tap_diag("%s v%d seed %u: re-encoding differs", d->name, v, seed);
                    hexdump("first", b1, n1);
                    if (b2)
                        hexdump("second", b2, n2);
                    ok = 0;
                }
                /* Every strict prefix must be rejected (checked for the
                 * first few seeds; the encodings are small). */
                for (cut = 0; ok && seed <= 3 && cut < n1; cut++) {
                    d->init(m2);
                    if (decode_exact(d, v, b1, cut, &a, m2, NULL) != -1) {
                        tap_diag("%s v%d: prefix of %zu/%zu bytes accepted", d->name, v, cut,
                                 n1);
                        trunc_ok = 0;
                        break;
                    }
                }
                free(b1);
                free(b2);
                free(keep);
                free(m1);
                free(m2);
                od_arena_free(&a);
            }
            tap_ok(ok && trunc_ok, "%s v%d: round trip and truncation", d->name, v);
        }
    }
}

/* Every message: an out-of-range version is refused both ways. */
static void bad_versions(void)
{
    size_t k;
    int ok = 1;
    for (k = 0; k < ODT_NMSGS; k++) {
        const odt_msg_t *d = &odt_msgs[k];
        void *m = calloc(1, d->size);
        od_arena_t a;
        od_slice_t s;
        od_wbuf_t w;
        od_arena_init(&a, 0);
        od_slice_init(&s, "\0\0\0\0\0\0\0\0", 8);
        if (d->decode(&s, (int16_t)(d->max_ver + 1), &a, m) != -1)
            ok = 0;
        if (d->min_ver > 0 && d->decode(&s, (int16_t)(d->min_ver - 1), &a, m) != -1)
            ok = 0;
        od_wbuf_init(&w);
        d->init(m);
        d->encode(&w, (int16_t)(d->max_ver + 1), m);
        if (!w.err)
            ok = 0;
        od_wbuf_free(&w);
        od_arena_free(&a);
        free(m);
    }
    tap_ok(ok, "unsupported versions rejected by every decoder and encoder");
}

/* Compare an encoding against expected bytes. */
static int enc_is(od_wbuf_t *w, const void *want, size_t n, const char *name)
{
    size_t len = 0;
    uint8_t *p = od_wbuf_flatten(w, &len);
    int r = tap_ok(p && len == n && memcmp(p, want, n) == 0, "%s", name);
    if (!r && p)
        hexdump("got", p, len);
    free(p);
    od_wbuf_free(w);
    return r;
}

static void vectors_requests(void)
{
    /* ApiVersions v3 request, as librdkafka sends it (header v2). */
    static const uint8_t apiv3[] = {
        0x00, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x07, 'r', 'd', 'k', 'a', 'f',
        'k', 'a', 0x00,                                            /* header tags */
        0x0b, 'l', 'i', 'b', 'r', 'd', 'k', 'a', 'f', 'k', 'a',    /* name */
        0x06, '2', '.', '3', '.', '0', 0x00};                      /* version, tags */
    /* The same body with an unknown tag (7, 3 bytes) that must be skipped. */
    static const uint8_t apiv3_tag[] = {0x03, 'k', 'c', 0x03, '1', '.', 0x01, 0x07, 0x03,
                                        'a',  'b', 'c'};
    static const uint8_t apiv3_null[] = {0x00, 0x02, '1', '.', 0x00};
    /* Metadata v0 request for topic "test". */
    static const uint8_t md0[] = {0, 0, 0, 1, 0, 4, 't', 'e', 's', 't'};
    /* Metadata v12 request: one topic by id with a compact null name. */
    static const uint8_t md12[] = {0x02, 1, 2,    3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
                                   15,   16, 0x00, 0x00, 0x01, 0x00, 0x00};
    od_request_header_t h;
    od_slice_t s;
    od_arena_t a;
    od_wbuf_t w;
    od_ApiVersionsRequest_t *ar;
    od_ApiVersionsRequest_t av;
    od_MetadataRequest_t mr;
    od_MetadataRequest_MetadataRequestTopic_t topic;

    od_arena_init(&a, 0);
    od_slice_init(&s, apiv3, sizeof apiv3);
    tap_ok(od_request_header_decode(&s, &h) == 0 && h.api_key == OD_API_API_VERSIONS &&
               h.api_version == 3 && h.correlation_id == 1 && od_str_eq(h.client_id, "rdkafka"),
           "ApiVersions v3 request header (v2)");
    tap_is_int((int64_t)(s.p - apiv3), 18, "header v2 tag section skipped");
    ar = od_proto_decode_request(h.api_key, h.api_version, &s, &a);
    tap_ok(ar && od_str_eq(ar->client_software_name, "librdkafka") &&
               od_str_eq(ar->client_software_version, "2.3.0") && od_slice_left(&s) == 0,
           "ApiVersions v3 request body");
    od_wbuf_init(&w);
    od_ApiVersionsRequest_encode(&w, 3, ar);
    enc_is(&w, apiv3 + 18, sizeof apiv3 - 18, "ApiVersions v3 request encodes to the same bytes");

    od_slice_init(&s, apiv3_tag, sizeof apiv3_tag);
    tap_ok(od_ApiVersionsRequest_decode(&s, 3, &a, &av) == 0 &&
               od_str_eq(av.client_software_name, "kc") && od_slice_left(&s) == 0,
           "unknown tagged field skipped");
    od_slice_init(&s, apiv3_tag, sizeof apiv3_tag - 1);
    tap_is_int(od_ApiVersionsRequest_decode(&s, 3, &a, &av), -1,
               "unknown tagged field cut short fails");
    od_slice_init(&s, apiv3_null, sizeof apiv3_null);
    tap_is_int(od_ApiVersionsRequest_decode(&s, 3, &a, &av), -1,
               "compact null for a non-nullable string fails");
    od_slice_init(&s, apiv3, 3);
    tap_is_int(od_request_header_decode(&s, &h), -1, "short header fails");
    /* An unknown api key: header fills in, tags are left alone. */
    od_slice_init(&s, "\x03\xe7\x00\x05\x00\x00\x00\x09\xff\xff\x00", 11);
    tap_ok(od_request_header_decode(&s, &h) == 0 && h.api_key == 999 && h.api_version == 5 &&
               h.correlation_id == 9 && h.client_id.len == -1 && od_slice_left(&s) == 1,
           "unknown api: header decoded, tags not read");
    tap_ok(od_proto_decode_request(999, 0, &s, &a) == NULL, "unknown api: no body decoder");
    /* A known api at an unknown version: no tags read either. */
    od_slice_init(&s, "\x00\x12\x00\x63\x00\x00\x00\x02\x00\x00\x00", 11);
    tap_ok(od_request_header_decode(&s, &h) == 0 && h.api_version == 99 &&
               od_slice_left(&s) == 1,
           "ApiVersions v99: header decoded, tags not read");
    tap_ok(od_proto_decode_request(18, 99, &s, &a) == NULL, "ApiVersions v99: no body decoder");

    od_slice_init(&s, md0, sizeof md0);
    tap_ok(od_MetadataRequest_decode(&s, 0, &a, &mr) == 0 && mr.topics_count == 1 &&
               od_str_eq(mr.topics[0].name, "test") && mr.allow_auto_topic_creation == 1,
           "Metadata v0 request; absent field gets its default (true)");
    od_MetadataRequest_init(&mr);
    od_MetadataRequest_MetadataRequestTopic_init(&topic);
    topic.name = od_str_c("test");
    mr.topics_count = 1;
    mr.topics = &topic;
    od_wbuf_init(&w);
    od_MetadataRequest_encode(&w, 0, &mr);
    enc_is(&w, md0, sizeof md0, "Metadata v0 request encoding");
    mr.topics_count = -1;
    od_wbuf_init(&w);
    od_MetadataRequest_encode(&w, 0, &mr);
    enc_is(&w, "\0\0\0\0", 4, "null array in a version without null goes out empty");
    od_slice_init(&s, "\xff\xff\xff\xff", 4);
    tap_is_int(od_MetadataRequest_decode(&s, 0, &a, &mr), -1, "Metadata v0: null topics rejected");
    od_slice_init(&s, "\xff\xff\xff\xff\x01", 5);
    tap_ok(od_MetadataRequest_decode(&s, 4, &a, &mr) == 0 && mr.topics_count == -1,
           "Metadata v4: null topics (all topics)");

    od_slice_init(&s, md12, sizeof md12);
    tap_ok(od_MetadataRequest_decode(&s, 12, &a, &mr) == 0 && mr.topics_count == 1 &&
               mr.topics[0].name.len == -1 && mr.topics[0].topic_id.b[15] == 16 &&
               mr.allow_auto_topic_creation == 1 && od_slice_left(&s) == 0,
           "Metadata v12: compact null name");
    od_wbuf_init(&w);
    od_MetadataRequest_encode(&w, 12, &mr);
    enc_is(&w, md12, sizeof md12, "Metadata v12 re-encodes to the same bytes");
    od_arena_free(&a);
}

static void vectors_tagged(void)
{
    /* ApiVersions v3 response with FinalizedFeaturesEpoch (tag 1) = 5. */
    static const uint8_t want[] = {0x00, 0x00,                         /* error */
                                   0x02, 0x00, 0x12, 0x00, 0x00, 0x00, 0x03, 0x00, /* keys */
                                   0x00, 0x00, 0x00, 0x00,             /* throttle */
                                   0x01, 0x01, 0x08, 0, 0, 0, 0, 0, 0, 0, 5};
    static const uint8_t want_nodef[] = {0x00, 0x00, 0x02, 0x00, 0x12, 0x00, 0x00, 0x00,
                                         0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    od_ApiVersionsResponse_t r, r2;
    od_ApiVersionsResponse_ApiVersion_t k;
    od_wbuf_t w;
    od_slice_t s;
    od_arena_t a;

    od_ApiVersionsResponse_init(&r);
    tap_ok(r.finalized_features_epoch == -1 && r.supported_features_count == 0,
           "init applies schema defaults");
    od_ApiVersionsResponse_ApiVersion_init(&k);
    k.api_key = 18;
    k.max_version = 3;
    r.api_keys_count = 1;
    r.api_keys = &k;
    r.finalized_features_epoch = 5;
    od_wbuf_init(&w);
    od_ApiVersionsResponse_encode(&w, 3, &r);
    enc_is(&w, want, sizeof want, "flexible struct with a non-default tagged field");
    od_arena_init(&a, 0);
    od_slice_init(&s, want, sizeof want);
    tap_ok(od_ApiVersionsResponse_decode(&s, 3, &a, &r2) == 0 &&
               r2.finalized_features_epoch == 5 && r2.api_keys_count == 1 &&
               r2.api_keys[0].max_version == 3 && r2.zk_migration_ready == 0,
           "tagged field decoded");
    r.finalized_features_epoch = -1;
    od_wbuf_init(&w);
    od_ApiVersionsResponse_encode(&w, 3, &r);
    enc_is(&w, want_nodef, sizeof want_nodef, "default tagged field not sent");
    od_wbuf_init(&w);
    od_ApiVersionsResponse_encode(&w, 0, &r);
    enc_is(&w, "\0\0\0\0\0\1\0\x12\0\0\0\3", 12, "ApiVersions v0 response");
    od_arena_free(&a);
}

static void absurd_counts(void)
{
    static const uint8_t big[] = {0x7f, 0xff, 0xff, 0xff, 0, 4, 't', 'e', 's', 't'};
    static const uint8_t cbig[] = {0xff, 0xff, 0xff, 0xff, 0x07, 0x00, 0x01, 0x00, 0x00};
    od_MetadataRequest_t mr;
    od_ProduceRequest_t pr;
    od_arena_t a;
    od_slice_t s;
    od_arena_init(&a, 0);
    od_slice_init(&s, big, sizeof big);
    tap_is_int(od_MetadataRequest_decode(&s, 1, &a, &mr), -1, "array count 2^31-1 rejected");
    od_slice_init(&s, cbig, sizeof cbig);
    tap_is_int(od_MetadataRequest_decode(&s, 9, &a, &mr), -1, "compact count 2^31 rejected");
    od_slice_init(&s, "\xff\xff\0\1\0\0\0\0\0\0\x10\0", 12);
    tap_is_int(od_ProduceRequest_decode(&s, 3, &a, &pr), -1,
               "Produce: 4096 topics in 0 bytes rejected");
    tap_is_int((int64_t)a.used_total, 0, "nothing was allocated");
    od_arena_free(&a);
    /* The arena limit turns a large but plausible count into an error. */
    {
        uint8_t buf[4 + 4 * 1000];
        memset(buf, 0, sizeof buf);
        buf[2] = 0x03;
        buf[3] = 0xe8; /* 1000 topics, each "" */
        od_arena_init(&a, 256);
        od_slice_init(&s, buf, 4 + 2 * 1000);
        tap_is_int(od_MetadataRequest_decode(&s, 1, &a, &mr), -1, "arena limit is respected");
        od_arena_free(&a);
    }
}

static void headers_and_tables(void)
{
    const od_proto_api_t *api;
    od_wbuf_t w;
    size_t n = 0;

    api = od_proto_api(OD_API_PRODUCE);
    tap_ok(api && api->min_ver == 0 && api->max_ver == 9 && api->flex_from == 9 &&
               strcmp(api->name, "Produce") == 0,
           "api table: Produce 0-9, flexible from 9");
    api = od_proto_api(OD_API_FETCH);
    tap_ok(api && api->min_ver == 4 && api->max_ver == 12 && api->flex_from == 12, "Fetch 4-12");
    api = od_proto_api(OD_API_OFFSET_DELETE);
    tap_ok(api && api->max_ver == 0 && api->flex_from == -1, "OffsetDelete 0, never flexible");
    tap_ok(od_proto_api(4) == NULL && od_proto_api(-1) == NULL, "unknown apis are NULL");
    tap_ok(od_proto_apis(&n) != NULL && n == 42, "42 apis (Envelope among them)");
    tap_ok(od_proto_request_flexible(OD_API_API_VERSIONS, 3) &&
               !od_proto_request_flexible(OD_API_API_VERSIONS, 2) &&
               !od_proto_request_flexible(OD_API_API_VERSIONS, 4) &&
               od_proto_request_flexible(OD_API_METADATA, 9) &&
               !od_proto_request_flexible(OD_API_METADATA, 8),
           "request flexibility");
    tap_ok(od_proto_response_header_version(OD_API_API_VERSIONS, 3) == 0 &&
               od_proto_response_header_version(OD_API_METADATA, 9) == 1 &&
               od_proto_response_header_version(OD_API_METADATA, 8) == 0 &&
               od_proto_response_header_version(OD_API_DESCRIBE_CLUSTER, 0) == 1,
           "response header versions (ApiVersions always 0)");
    od_wbuf_init(&w);
    od_response_header_encode(&w, OD_API_API_VERSIONS, 3, 7);
    enc_is(&w, "\0\0\0\7", 4, "ApiVersions v3 response header v0");
    od_wbuf_init(&w);
    od_response_header_encode(&w, OD_API_METADATA, 12, 7);
    enc_is(&w, "\0\0\0\7\0", 5, "Metadata v12 response header v1");

    tap_ok(OD_ERR_NONE == 0 && OD_ERR_UNKNOWN_SERVER_ERROR == -1 &&
               OD_ERR_OFFSET_OUT_OF_RANGE == 1 && OD_ERR_UNSUPPORTED_VERSION == 35 &&
               OD_ERR_NOT_CONTROLLER == 41,
           "error enum");
    tap_ok(strcmp(od_err_name(35), "UNSUPPORTED_VERSION") == 0 &&
               strcmp(od_err_name(-1), "UNKNOWN_SERVER_ERROR") == 0 &&
               strcmp(od_err_name(12345), "UNKNOWN") == 0 &&
               strcmp(od_err_message(12345), "UNKNOWN") == 0 &&
               strncmp(od_err_message(3), "This server does not host", 25) == 0,
           "error names and messages");
    tap_ok(OD_API_PRODUCE == 0 && OD_API_LIST_OFFSETS == 2 && OD_API_API_VERSIONS == 18 &&
               OD_API_INIT_PRODUCER_ID == 22 && OD_API_DESCRIBE_CLUSTER == 60,
           "api constants");
    tap_ok(OD_METAREC_TOPIC == 2 && OD_METAREC_PARTITION == 3 && OD_METAREC_CONFIG == 4 &&
               OD_METAREC_PARTITION_CHANGE == 5 && OD_METAREC_REMOVE_TOPIC == 9 &&
               OD_METAREC_REGISTER_BROKER == 0 && OD_METAREC_FEATURE_LEVEL == 12 &&
               OD_METAREC_PRODUCER_IDS == 15 && OD_METAREC_NO_OP == 20,
           "metadata record constants");
}

static void metarec(void)
{
    od_TopicRecord_t t, t2;
    od_wbuf_t w;
    od_slice_t s;
    od_arena_t a;
    uint8_t *p;
    size_t n;
    int16_t key = -1, ver = -1;
    static const uint8_t want[] = {0x02, 0x00, 0x02, 'x', 1, 2, 3, 4, 5, 6, 7, 8,
                                   9,    10,   11,   12,  13, 14, 15, 16, 0x00};
    od_TopicRecord_init(&t);
    t.name = od_str_c("x");
    for (n = 0; n < 16; n++)
        t.topic_id.b[n] = (uint8_t)(n + 1);
    od_wbuf_init(&w);
    od_metarec_frame(&w, OD_METAREC_TOPIC, 0);
    od_TopicRecord_encode(&w, 0, &t);
    p = od_wbuf_flatten(&w, &n);
    tap_ok(p && n == sizeof want && memcmp(p, want, n) == 0, "TopicRecord framed encoding");
    od_arena_init(&a, 0);
    od_slice_init(&s, p, n);
    tap_ok(od_metarec_peek(&s, &key, &ver) == 0 && key == OD_METAREC_TOPIC && ver == 0 &&
               od_TopicRecord_decode(&s, ver, &a, &t2) == 0 && od_str_eq(t2.name, "x") &&
               t2.topic_id.b[15] == 16,
           "metadata record peek + decode");
    od_slice_init(&s, "\xff\xff\x03\x00", 4);
    tap_is_int(od_metarec_peek(&s, &key, &ver), -1, "record key > int16 rejected");
    free(p);
    od_wbuf_free(&w);
    od_arena_free(&a);
}

static int released[OD_LOG_READ_MAX_RANGES];
static void rel(void *opaque) { released[(intptr_t)opaque]++; }

static void records_refs(void)
{
    od_FetchResponse_t r, r2;
    od_FetchResponse_FetchableTopicResponse_t topic;
    od_FetchResponse_PartitionData_t part;
    od_log_read_t rd;
    od_wbuf_t w;
    od_slice_t s;
    od_arena_t a;
    uint8_t *p;
    size_t n;
    int16_t v;

    for (v = 11; v <= 12; v++) {
        memset(released, 0, sizeof released);
        memset(&rd, 0, sizeof rd);
        rd.nranges = 2;
        rd.ranges[0].mem = (const uint8_t *)"batch-one|";
        rd.ranges[0].len = 10;
        rd.ranges[0].release = rel;
        rd.ranges[0].opaque = (void *)(intptr_t)0;
        rd.ranges[1].mem = (const uint8_t *)"batch-two";
        rd.ranges[1].len = 9;
        rd.ranges[1].release = rel;
        rd.ranges[1].opaque = (void *)(intptr_t)1;
        rd.total = 19;
        od_FetchResponse_init(&r);
        od_FetchResponse_FetchableTopicResponse_init(&topic);
        od_FetchResponse_PartitionData_init(&part);
        part.records.read = &rd;
        topic.topic = od_str_c("t");
        topic.partitions_count = 1;
        topic.partitions = &part;
        r.responses_count = 1;
        r.responses = &topic;
        od_wbuf_init(&w);
        od_FetchResponse_encode(&w, v, &r);
        tap_ok(!w.err && w.nsegs == (v == 12 ? 4u : 3u) && w.segs[1].kind == OD_SEG_MEMREF &&
                   w.segs[2].kind == OD_SEG_MEMREF,
               "Fetch v%d: records go out as references", v);
        p = od_wbuf_flatten(&w, &n);
        od_arena_init(&a, 0);
        od_slice_init(&s, p, n);
        tap_ok(p && od_FetchResponse_decode(&s, v, &a, &r2) == 0 && od_slice_left(&s) == 0 &&
                   r2.responses[0].partitions[0].records.len == 19 &&
                   memcmp(r2.responses[0].partitions[0].records.p, "batch-one|batch-two", 19) ==
                       0,
               "Fetch v%d: records decode back", v);
        tap_ok(released[0] == 0 && released[1] == 0, "not released before the wbuf is freed");
        od_wbuf_free(&w);
        tap_ok(released[0] == 1 && released[1] == 1, "each range released once");
        free(p);
        od_arena_free(&a);
    }
    /* A total that disagrees with the ranges fails, still releasing them. */
    memset(released, 0, sizeof released);
    rd.total = 5;
    od_wbuf_init(&w);
    od_FetchResponse_encode(&w, 12, &r);
    tap_ok(w.err && released[0] == 1 && released[1] == 1, "bad total: error, ranges released");
    od_wbuf_free(&w);
    tap_ok(released[0] == 1 && released[1] == 1, "  ... exactly once");
}

int main(void)
{
    tap_no_plan();
    round_trips();
    bad_versions();
    vectors_requests();
    vectors_tagged();
    absurd_counts();
    headers_and_tables();
    metarec();
    records_refs();
    return tap_done();
}
