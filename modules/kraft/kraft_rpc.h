/* kraft_rpc.h - what the KRaft RPCs' answers (kraft_rpc.c,
 * kraft_rpc_snapshot.c) and requests (kraft_rpc_client.c,
 * kraft_snap_fetch.c) share: the generated codecs and the frame every one
 * of them has, a single topic-partition of the metadata log
 * (kraft_rpc_frame.c). */
#ifndef KRAFT_RPC_H
#define KRAFT_RPC_H

#include "kraft.h"
#include "kraft_proto_gen.h"

#define KRAFT_TOPIC "__cluster_metadata"
#define KRAFT_CLIENT_ID "odradek-kraft"

/* The RPCs are small; this bound on a decoded message keeps array counts
 * read from the wire from making it large. */
#define KRAFT_DECODE_LIMIT (1 << 20)

/* Is this the metadata log's topic-partition? */
int kraft_is_meta(od_str_t topic, int32_t partition);
/* A request's cluster id (null: any) matches ours (unknown: any). */
int kraft_cluster_ok(const kraft_t *k, od_str_t cid);
/* Our cluster id for a request, null while we know none. */
od_str_t kraft_cluster_str(const kraft_t *k);
/* The top-level error code of the answer to a request naming cluster_id
 * whose frame is single (one topic of one partition, KRAFT_SINGLE):
 * INCONSISTENT_CLUSTER_ID before INVALID_REQUEST, NONE when both hold. */
int16_t kraft_frame_error(const kraft_t *k, od_str_t cluster_id, int single);
/* Flattens w (and frees it) into the answer. */
int kraft_send_wbuf(od_cp_reply_t *reply, od_wbuf_t *w);
/* Decodes an answer of api key at version into the arena a (initialised
 * here; the caller frees it in every case): NULL when malformed. */
void *kraft_decode_answer(od_arena_t *a, int16_t key, int16_t version, const uint8_t *body,
                          size_t len);

/* The generated messages of the RPCs are distinct types with the same
 * field names, so the frame's fields are reached by macros.
 * Does message m (a pointer) hold one topic (array field `topics`) of one
 * partition? */
#define KRAFT_SINGLE(m, topics) ((m)->topics##_count == 1 && (m)->topics[0].partitions_count == 1)
/* Makes message m hold the one topic t (array field `topics`) holding the
 * one partition p. */
#define KRAFT_SET_SINGLE(m, topics, t, p)                                                          \
    do {                                                                                           \
        (t).partitions_count = 1;                                                                  \
        (t).partitions = &(p);                                                                     \
        (m).topics##_count = 1;                                                                    \
        (m).topics = &(t);                                                                         \
    } while (0)
/* Initialises the wbuf w, encodes message msg into it with the generated
 * function encode at version, and is w. */
#define KRAFT_ENCODE(w, encode, version, msg) (od_wbuf_init(w), encode((w), (version), (msg)), (w))

/* kraft_rpc_snapshot.c: FetchSnapshot, answered by the leader. */
void kraft_handle_fetch_snapshot(kraft_t *k, const od_cp_request_t *req,
                                 const od_FetchSnapshotRequest_t *in, od_cp_reply_t *reply);

#endif
