/* test_envelope.c - the KIP-590 Envelope codec (core/proto/od_envelope.c):
 * what a forwarding broker wraps (the whole frame, the principal string,
 * the 4- or 16-byte address) and how it unwraps EnvelopeResponses, good,
 * refused and cut at every length. */
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_envelope.h"
#include "tap.h"

static size_t put_compact(uint8_t *o, const void *p, size_t n)
{
    o[0] = (uint8_t)(n + 1); /* the tests keep n < 127 */
    memcpy(o + 1, p, n);
    return n + 1;
}

int main(void)
{
    od_conn_t c;
    memset(&c, 0, sizeof(c));
    snprintf(c.host, sizeof(c.host), "127.0.0.1");
    c.client.principal = "User:alice";
    const uint8_t frame[] = {0, 19, 0, 0, 0, 0, 0, 7, 0, 0, 1, 2, 3};
    size_t n = 0;
    uint8_t *w = od_envelope_wrap(&c, frame, sizeof(frame), &n);
    tap_ok(w != NULL, "wrapped");
    od_slice_t s;
    od_slice_init(&s, w, n);
    od_bytes_t data = od_read_compact_bytes(&s, 0);
    od_bytes_t principal = od_read_compact_bytes(&s, 1);
    od_bytes_t addr = od_read_compact_bytes(&s, 0);
    tap_is_int(od_read_uvarint(&s), 0, "no tags");
    tap_ok(!s.err && od_slice_left(&s) == 0, "the body is exactly the four fields");
    tap_ok(data.len == (int32_t)sizeof(frame) && memcmp(data.p, frame, sizeof(frame)) == 0,
           "RequestData is the whole frame");
    tap_ok(principal.len == 10 && memcmp(principal.p, "User:alice", 10) == 0,
           "RequestPrincipal is the principal string");
    tap_ok(addr.len == 4 && memcmp(addr.p, "\x7f\0\0\x01", 4) == 0, "an IPv4 address: 4 bytes");
    free(w);
    snprintf(c.host, sizeof(c.host), "::1");
    w = od_envelope_wrap(&c, frame, sizeof(frame), &n);
    od_slice_init(&s, w, n);
    od_read_compact_bytes(&s, 0);
    od_read_compact_bytes(&s, 1);
    addr = od_read_compact_bytes(&s, 0);
    tap_ok(addr.len == 16 && addr.p[15] == 1, "an IPv6 address: 16 bytes");
    free(w);

    /* EnvelopeResponse around a CreateTopics v0 response (header v0). */
    uint8_t inner[] = {0, 0, 0, 9, 0xAA, 0xBB};
    uint8_t resp[64];
    size_t rl = put_compact(resp, inner, sizeof(inner));
    resp[rl++] = 0;
    resp[rl++] = 0; /* ErrorCode NONE */
    resp[rl++] = 0; /* tags */
    const uint8_t *body = NULL;
    size_t blen = 0;
    tap_is_int(od_envelope_unwrap(resp, rl, OD_API_CREATE_TOPICS, 0, &body, &blen), 0, "unwrapped");
    tap_ok(blen == 2 && body[0] == 0xAA && body[1] == 0xBB,
           "the inner body without its correlation id");
    uint8_t refused[] = {0, 0, 31, 0}; /* ResponseData null, CLUSTER_AUTHORIZATION_FAILED */
    tap_is_int(od_envelope_unwrap(refused, sizeof(refused), OD_API_CREATE_TOPICS, 0, &body, &blen),
               31, "a refused envelope gives its error");
    int bad = 0;
    for (size_t cut = 0; cut < rl - 1; cut++)
        if (od_envelope_unwrap(resp, cut, OD_API_CREATE_TOPICS, 0, &body, &blen) != -1)
            bad++;
    tap_is_int(bad, 0, "every cut EnvelopeResponse is malformed (-1)");
    uint8_t short_data[] = {3, 0, 0, 0, 0, 0};
    tap_is_int(od_envelope_unwrap(short_data, sizeof(short_data), OD_API_CREATE_TOPICS, 0, &body,
                                  &blen),
               -1, "ResponseData shorter than a correlation id is malformed");
    tap_ok(od_envelope_forwardable(OD_API_CREATE_TOPICS) &&
               !od_envelope_forwardable(OD_API_ENVELOPE) &&
               !od_envelope_forwardable(OD_API_METADATA),
           "forwardable: CreateTopics, not Envelope nor Metadata");
    return tap_done();
}
