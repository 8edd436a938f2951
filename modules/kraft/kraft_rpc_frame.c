/* kraft_rpc_frame.c - the frame every KRaft RPC shares, checked and built
 * in one place: the metadata log's topic-partition, the cluster id, the
 * top-level error of a request with the wrong frame, sending an encoded
 * answer and decoding one. */
#include "kraft_rpc.h"

#include <stdlib.h>
#include <string.h>

int kraft_is_meta(od_str_t topic, int32_t partition)
{
    size_t n = strlen(KRAFT_TOPIC);
    return partition == 0 && topic.len == (int32_t)n && memcmp(topic.p, KRAFT_TOPIC, n) == 0;
}

int kraft_cluster_ok(const kraft_t *k, od_str_t cid)
{
    if (cid.len < 0 || !k->cluster_id_adopted)
        return 1; /* a node that does not know the cluster yet accepts any */
    return cid.len == KRAFT_CLUSTER_ID_LEN && memcmp(cid.p, k->cluster_id, KRAFT_CLUSTER_ID_LEN) == 0;
}

od_str_t kraft_cluster_str(const kraft_t *k)
{
    od_str_t s = {NULL, -1};
    if (k->cluster_id_adopted)
        s = od_str_c(k->cluster_id);
    return s;
}

int16_t kraft_frame_error(const kraft_t *k, od_str_t cluster_id, int single)
{
    if (!kraft_cluster_ok(k, cluster_id))
        return OD_ERR_INCONSISTENT_CLUSTER_ID;
    return single ? OD_ERR_NONE : OD_ERR_INVALID_REQUEST;
}

int kraft_send_wbuf(od_cp_reply_t *reply, od_wbuf_t *w)
{
    size_t n = 0;
    uint8_t *b = w->err ? NULL : od_wbuf_flatten(w, &n);
    od_wbuf_free(w);
    if (!b) {
        od_cp_reply_close(reply, "out of memory for the answer");
        return -1;
    }
    int rc = od_cp_reply(reply, b, n);
    free(b);
    return rc;
}

void *kraft_decode_answer(od_arena_t *a, int16_t key, int16_t version, const uint8_t *body,
                          size_t len)
{
    od_slice_t s;
    od_arena_init(a, KRAFT_DECODE_LIMIT);
    od_slice_init(&s, body, len);
    return od_proto_decode_response(key, version, &s, a);
}
