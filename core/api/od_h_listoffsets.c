/* od_h_listoffsets.c - ListOffsets: earliest (and earliest-local, v8),
 * latest, max timestamp (v7) and by timestamp. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "od_authz.h"
#include "od_batch.h"
#include "od_core.h"
#include "od_dispatch.h"
#include "od_handlers.h"

#define TS_LATEST (-1)
#define TS_EARLIEST (-2)

#define TS_MAX_TIMESTAMP (-3)     /* v7, KIP-734 */
#define TS_EARLIEST_LOCAL (-4)    /* v8, KIP-405: no tiered storage, the log start */

/* The first record of the batch at or after offset batch_off whose
 * timestamp is >= ts: the records of compressed batches are decompressed to
 * find it, as Kafka does; a LogAppendTime batch gives every record its max
 * timestamp, so the batch's first record. Returns batch_off when the batch
 * cannot be read. */
static int64_t first_record_at_or_after(od_core_t *core, od_partition_t *p, int64_t batch_off,
                                        int64_t ts, int64_t *ts_out)
{
    od_log_read_t rd;
    char why[128];
    if (core->storage->read(p->log, batch_off, 1, &rd, why, sizeof(why)) < 0 || rd.nranges == 0)
        return batch_off;
    od_log_range_t *rg = &rd.ranges[0];
    size_t len = rg->len;
    uint8_t *buf = NULL, *plain = NULL;
    const uint8_t *data = rg->mem;
    if (rg->is_file) {
        buf = malloc(len ? len : 1);
        if (!buf || pread(rg->fd, buf, len, rg->file_off) != (ssize_t)len)
            goto done;
        data = buf;
    }
    od_batch_iter_t it;
    od_batch_hdr_t h;
    size_t off, size;
    od_batch_iter_init(&it, data, len);
    while (od_batch_iter_next(&it, &h, &off, &size) == 1) {
        if (h.base_offset + h.last_offset_delta < batch_off || h.max_timestamp < ts)
            continue;
        if (h.attributes & OD_BATCH_TS_LOG_APPEND) {
            *ts_out = h.max_timestamp;
            batch_off = h.base_offset;
            break;
        }
        const uint8_t *rec = data + off + OD_BATCH_HEADER_SIZE;
        size_t left = size - OD_BATCH_HEADER_SIZE;
        if (OD_BATCH_COMPRESSION(h.attributes) != OD_BATCH_CODEC_NONE) {
            if (od_batch_records_plain(data + off, size, &plain, &left, why, sizeof(why)) < 0) {
                *ts_out = h.max_timestamp;
                batch_off = h.base_offset;
                break;
            }
            rec = plain;
        }
        for (int32_t i = 0; i < h.record_count; i++) {
            od_record_t r;
            size_t used;
            if (od_record_iter(rec, left, -1, &r, &used) < 0)
                break;
            int64_t rts = od_ts_add_sat(h.base_timestamp, r.timestamp_delta);
            if (rts >= ts && h.base_offset + r.offset_delta >= batch_off) {
                *ts_out = rts;
                batch_off = h.base_offset + r.offset_delta;
                goto done;
            }
            rec += used;
            left -= used;
        }
        break;
    }
done:
    free(buf);
    free(plain);
    for (size_t i = 0; i < rd.nranges; i++)
        if (rd.ranges[i].release)
            rd.ranges[i].release(rd.ranges[i].opaque);
    return batch_off;
}

/* The largest timestamp M in the log, with the first batch holding it,
 * from offset_for_time alone: offset_for_time(x) finds a batch iff M >= x,
 * and the batch it finds tells a timestamp <= M to start from, so a search
 * over the int64 range takes at most 64 lookups. Returns the batch's offset
 * (the first batch whose max timestamp is M, as Kafka picks it), -1 when the
 * log holds no batch below hw. */
static int64_t max_timestamp_batch(od_core_t *core, od_partition_t *p, int64_t *max_ts)
{
    int64_t bts = -1;
    int64_t off = core->storage->offset_for_time(p->log, INT64_MIN, &bts);
    if (off < 0 || off >= p->high_watermark)
        return -1;
    int64_t lo = bts, hi = INT64_MAX; /* M lies in [lo, hi] */
    while (lo < hi) {
        /* Upper middle without overflow. */
        int64_t mid = (int64_t)((uint64_t)lo + ((uint64_t)hi - (uint64_t)lo + 1) / 2);
        int64_t t = -1;
        int64_t o = core->storage->offset_for_time(p->log, mid, &t);
        if (o >= 0 && o < p->high_watermark && t >= mid)
            lo = t;
        else
            hi = mid - 1;
    }
    *max_ts = lo;
    return core->storage->offset_for_time(p->log, lo, &bts);
}

void od_h_list_offsets(od_req_t *r, void *body)
{
    od_core_t *core = r->conn->core;
    od_ListOffsetsRequest_t *req = body;
    int16_t ver = r->hdr.api_version;
    od_ListOffsetsResponse_t resp;
    od_ListOffsetsResponse_init(&resp);
    int32_t nt = req->topics_count > 0 ? req->topics_count : 0;
    resp.topics = od_arena_calloc(&r->arena, nt ? (size_t)nt : 1, sizeof(*resp.topics));
    if (!resp.topics)
        goto oom;
    resp.topics_count = nt;
    for (int32_t i = 0; i < nt; i++) {
        od_ListOffsetsRequest_ListOffsetsTopic_t *rt = &req->topics[i];
        od_ListOffsetsResponse_ListOffsetsTopicResponse_t *ot = &resp.topics[i];
        ot->name = rt->name;
        int32_t np = rt->partitions_count > 0 ? rt->partitions_count : 0;
        ot->partitions = od_arena_calloc(&r->arena, np ? (size_t)np : 1, sizeof(*ot->partitions));
        if (!ot->partitions)
            goto oom;
        ot->partitions_count = np;
        od_topic_t *t = rt->name.len > 0 ? od_image_topic(&core->image, rt->name.p, (size_t)rt->name.len) : NULL;
        int denied = !od_authz_topic(r, OD_ACL_OP_DESCRIBE, rt->name.p, OD_STR_LEN(rt->name));
        for (int32_t j = 0; j < np; j++) {
            od_ListOffsetsRequest_ListOffsetsPartition_t *rp = &rt->partitions[j];
            od_ListOffsetsResponse_ListOffsetsPartitionResponse_t *op = &ot->partitions[j];
            op->partition_index = rp->partition_index;
            op->timestamp = -1;
            op->offset = -1;
            op->leader_epoch = -1;
            op->old_style_offsets_count = 0;
            if (denied) {
                op->error_code = OD_ERR_TOPIC_AUTHORIZATION_FAILED;
                continue;
            }
            od_partition_t *p = od_partition_led_here(core, t, rp->partition_index, &op->error_code);
            if (!p)
                continue;
            if ((op->error_code = od_partition_check_epoch(p, rp->current_leader_epoch)) != OD_ERR_NONE)
                continue;
            op->error_code = OD_ERR_NONE;
            op->leader_epoch = p->leader_epoch;
            int64_t off;
            int64_t ts = -1;
            if (rp->timestamp == TS_EARLIEST || rp->timestamp == TS_EARLIEST_LOCAL)
                off = od_partition_log_start(core, p);
            else if (rp->timestamp == TS_LATEST)
                off = p->high_watermark; /* no transactions yet: LSO == HWM */
            else if (rp->timestamp == TS_MAX_TIMESTAMP) {
                /* The record with the largest timestamp (first of ties). */
                int64_t mts = -1;
                off = max_timestamp_batch(core, p, &mts);
                if (off >= 0)
                    off = first_record_at_or_after(core, p, off, mts, &ts);
                if (off >= 0 && ts < 0)
                    ts = mts;
            } else if (rp->timestamp < 0) {
                op->error_code = OD_ERR_INVALID_REQUEST;
                continue;
            } else {
                int64_t bts = -1;
                off = core->storage->offset_for_time(p->log, rp->timestamp, &bts);
                if (off >= 0 && off < p->high_watermark)
                    off = first_record_at_or_after(core, p, off, rp->timestamp, &ts);
                else
                    off = -1;
                if (off >= 0 && ts < 0)
                    ts = bts;
            }
            op->offset = off;
            op->timestamp = ts;
            if (ver == 0) {
                int64_t *v = od_arena_alloc(&r->arena, sizeof(int64_t));
                if (!v)
                    goto oom;
                *v = off;
                op->old_style_offsets = v;
                op->old_style_offsets_count = off >= 0 ? 1 : 0;
            }
        }
    }
    od_ListOffsetsResponse_encode(&r->resp, ver, &resp);
    od_req_done(r);
    return;
oom:
    od_req_drop(r);
}
