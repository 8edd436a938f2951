/* od_h_deleterecords.c - DeleteRecords (v0-2): move partitions' log start
 * offsets forward (kafka-delete-records, AdminClient.deleteRecords).
 *
 * Per partition: offset -1 means the high watermark; any other offset must
 * lie in [0, high watermark] or the answer is OFFSET_OUT_OF_RANGE. An offset
 * at or below the current start changes nothing. The storage backend makes
 * the new start durable before we answer, deletes whole segments below it,
 * and refuses reads below it, so Fetch answers OFFSET_OUT_OF_RANGE and
 * ListOffsets(earliest) returns the new start. The answer's low_watermark is
 * the log start offset afterwards. timeout_ms is moot: a lone replica has
 * nothing to wait for. */
#include <stdio.h>

#include "od_authz.h"
#include "od_core.h"
#include "od_dispatch.h"
#include "od_ext.h"
#include "od_handlers.h"
#include "od_module.h"

static int16_t delete_one(od_core_t *core, od_req_t *r, const od_topic_t *t,
                          const od_DeleteRecordsRequest_DeleteRecordsPartition_t *in,
                          int64_t *low)
{
    *low = -1;
    int16_t ec;
    od_partition_t *p = od_partition_led_here(core, t, in->partition_index, &ec);
    if (!p)
        return ec;
    int64_t target = in->offset == -1 ? p->high_watermark : in->offset;
    if (target < 0 || target > p->high_watermark)
        return OD_ERR_OFFSET_OUT_OF_RANGE;
    if (!OD_OPS_HAS(core->storage, advance_start))
        return OD_ERR_KAFKA_STORAGE_ERROR; /* a 1.0 backend cannot do it */
    char err[512];
    if (core->storage->advance_start(p->log, target, err, sizeof(err)) < 0) {
        od_logf(OD_LOG_ERROR, "DeleteRecords %s-%d to %lld: %s", t->name, p->index,
                (long long)target, err);
        return OD_ERR_KAFKA_STORAGE_ERROR;
    }
    *low = od_partition_log_start(core, p);
    od_logf(OD_LOG_INFO, "client %s: DeleteRecords %s-%d: log start offset now %lld",
            r->conn ? r->conn->peer : "?", t->name, p->index, (long long)*low);
    return OD_ERR_NONE;
}

void od_h_delete_records(od_req_t *r, void *body)
{
    od_core_t *core = r->conn->core;
    od_DeleteRecordsRequest_t *req = body;
    od_DeleteRecordsResponse_t resp;
    od_DeleteRecordsResponse_init(&resp);
    int32_t nt = req->topics_count > 0 ? req->topics_count : 0;
    resp.topics = od_arena_calloc(&r->arena, nt ? (size_t)nt : 1, sizeof(*resp.topics));
    if (!resp.topics)
        goto oom;
    resp.topics_count = nt;
    for (int32_t i = 0; i < nt; i++) {
        od_DeleteRecordsRequest_DeleteRecordsTopic_t *it = &req->topics[i];
        od_DeleteRecordsResponse_DeleteRecordsTopicResult_t *ot = &resp.topics[i];
        int32_t np = it->partitions_count > 0 ? it->partitions_count : 0;
        ot->name = it->name;
        ot->partitions = od_arena_calloc(&r->arena, np ? (size_t)np : 1, sizeof(*ot->partitions));
        if (!ot->partitions)
            goto oom;
        ot->partitions_count = np;
        const od_topic_t *t =
            it->name.len > 0 ? od_image_topic(&core->image, it->name.p, (size_t)it->name.len) : NULL;
        int denied = !od_authz_topic(r, OD_ACL_OP_DELETE, it->name.p, OD_STR_LEN(it->name));
        /* Policies decide per topic; a refusal answers each of its
         * partitions (the response has no message field). */
        int16_t refused = denied ? OD_ERR_TOPIC_AUTHORIZATION_FAILED : OD_ERR_NONE;
        od_ev_admin_t pev = {.op = OD_ADMIN_DELETE_RECORDS, .resource_type = OD_RES_TOPIC,
                             .resource = t ? t->name : NULL, .partitions = -1,
                             .replication_factor = -1};
        if (!denied && t && np > 0)
            od_admin_refuse(r, &pev, &refused, NULL);
        for (int32_t j = 0; j < np; j++) {
            ot->partitions[j].partition_index = it->partitions[j].partition_index;
            ot->partitions[j].low_watermark = -1;
            ot->partitions[j].error_code =
                refused != OD_ERR_NONE
                    ? refused
                    : delete_one(core, r, t, &it->partitions[j], &ot->partitions[j].low_watermark);
            if (!denied) {
                char detail[64];
                snprintf(detail, sizeof(detail), "partition %d before offset %lld",
                         it->partitions[j].partition_index, (long long)it->partitions[j].offset);
                od_audit_admin(r, "DELETE_RECORDS", OD_RES_TOPIC, it->name.p, OD_STR_LEN(it->name),
                               ot->partitions[j].error_code, detail);
            }
        }
    }
    od_DeleteRecordsResponse_encode(&r->resp, r->hdr.api_version, &resp);
    od_req_done(r);
    return;
oom:
    od_req_drop(r);
}
