/* kraft_rpc.h - what kraft_rpc.c (the answers) and kraft_rpc_client.c (the
 * requests) share: the generated codecs and a few helpers. */
#ifndef KRAFT_RPC_H
#define KRAFT_RPC_H

#include "kraft.h"
#include "kraft_proto_gen.h"

#define KRAFT_TOPIC "__cluster_metadata"

/* Is this the metadata log's topic-partition? */
int kraft_is_meta(od_str_t topic, int32_t partition);
/* A request's cluster id (null: any) matches ours (unknown: any). */
int kraft_cluster_ok(const kraft_t *k, od_str_t cid);
/* Flattens w (and frees it) into the answer. */
int kraft_send_wbuf(od_cp_reply_t *reply, od_wbuf_t *w);

/* kraft_rpc_snapshot.c: FetchSnapshot, answered by the leader. */
void kraft_handle_fetch_snapshot(kraft_t *k, const od_cp_request_t *req,
                                 const od_FetchSnapshotRequest_t *in, od_cp_reply_t *reply);

#endif
