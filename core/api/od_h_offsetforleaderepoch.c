/* od_h_offsetforleaderepoch.c - OffsetForLeaderEpoch (api 23, v0-4): where
 * a leader epoch ends in the leader's log (KIP-101/279), so a returning
 * follower or a consumer after a leader change (KIP-320) finds where its
 * log or position diverged. Per partition: the largest epoch <= the one
 * asked for and its end offset (the start of the next epoch, or the log
 * end for the latest), from the leader epoch cache; -1/-1 when unknown.
 * Only the leader answers (NOT_LEADER_OR_FOLLOWER elsewhere), after the
 * current_leader_epoch check (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH). */
#include "od_core.h"
#include "od_dispatch.h"
#include "od_handlers.h"
#include "od_repl.h"

void od_h_offset_for_leader_epoch(od_req_t *r, void *body)
{
    od_core_t *core = r->conn->core;
    od_OffsetForLeaderEpochRequest_t *req = body;
    od_OffsetForLeaderEpochResponse_t resp;
    od_OffsetForLeaderEpochResponse_init(&resp);
    int32_t nt = req->topics_count > 0 ? req->topics_count : 0;
    resp.topics = od_arena_calloc(&r->arena, nt ? (size_t)nt : 1, sizeof(*resp.topics));
    if (!resp.topics) {
        od_req_drop(r);
        return;
    }
    resp.topics_count = nt;
    for (int32_t i = 0; i < nt; i++) {
        od_OffsetForLeaderEpochRequest_OffsetForLeaderTopic_t *it = &req->topics[i];
        od_OffsetForLeaderEpochResponse_OffsetForLeaderTopicResult_t *ot = &resp.topics[i];
        int32_t np = it->partitions_count > 0 ? it->partitions_count : 0;
        ot->topic = it->topic;
        ot->partitions = od_arena_calloc(&r->arena, np ? (size_t)np : 1, sizeof(*ot->partitions));
        if (!ot->partitions) {
            od_req_drop(r);
            return;
        }
        ot->partitions_count = np;
        od_topic_t *t = it->topic.len > 0
                            ? od_image_topic(&core->image, it->topic.p, (size_t)it->topic.len)
                            : NULL;
        for (int32_t j = 0; j < np; j++) {
            od_OffsetForLeaderEpochRequest_OffsetForLeaderPartition_t *ip = &it->partitions[j];
            od_OffsetForLeaderEpochResponse_EpochEndOffset_t *op = &ot->partitions[j];
            od_OffsetForLeaderEpochResponse_EpochEndOffset_init(op);
            op->partition = ip->partition;
            op->leader_epoch = -1;
            op->end_offset = -1;
            od_partition_t *p = od_partition_led_here(core, t, ip->partition, &op->error_code);
            if (!p)
                continue;
            op->error_code = od_partition_check_epoch(p, ip->current_leader_epoch);
            if (op->error_code != OD_ERR_NONE)
                continue;
            od_repl_end_offset_for_epoch(core, p, ip->leader_epoch, &op->leader_epoch,
                                         &op->end_offset);
        }
    }
    od_OffsetForLeaderEpochResponse_encode(&r->resp, r->hdr.api_version, &resp);
    od_req_done(r);
}
