/* od_h_describelogdirs.c - DescribeLogDirs (api 35, v1-4): this broker's
 * log directory (the first of log.dirs; partitions live in one), the local
 * replicas in it with their size and offset lag (how far the log end is
 * behind the high watermark, 0 for an in-sync replica), and the file
 * system's total and usable bytes. A null topic list means every local
 * replica; named partitions that have no replica here are left out, as in
 * Kafka. Versions from 1: v0 is deprecated in Kafka and not served. */
#include <string.h>
#include <sys/statvfs.h>

#include "od_core.h"
#include "od_dispatch.h"
#include "od_handlers.h"

typedef od_DescribeLogDirsResponse_DescribeLogDirsTopic_t dl_topic_t;
typedef od_DescribeLogDirsResponse_DescribeLogDirsPartition_t dl_part_t;

static int fill_part(od_core_t *core, od_partition_t *p, dl_part_t *o)
{
    if (!p->log)
        return 0;
    int64_t leo = core->storage->end_offset(p->log);
    o->partition_index = p->index;
    o->partition_size = core->storage->size_bytes ? core->storage->size_bytes(p->log) : 0;
    o->offset_lag = p->high_watermark > leo ? p->high_watermark - leo : 0;
    o->is_future_key = 0;
    return 1;
}

/* Local replicas of t among parts (NULL: all of them) into ot; 0 when none. */
static int fill_topic(od_core_t *core, od_req_t *r, od_topic_t *t, const int32_t *parts,
                      int32_t nparts, dl_topic_t *ot)
{
    int32_t n = parts ? nparts : t->npartitions;
    ot->partitions = od_arena_calloc(&r->arena, n > 0 ? (size_t)n : 1, sizeof(*ot->partitions));
    if (!ot->partitions)
        return -1;
    ot->name = od_str_c(t->name);
    int32_t k = 0;
    for (int32_t i = 0; i < n; i++) {
        int32_t idx = parts ? parts[i] : i;
        if (idx >= 0 && idx < t->npartitions)
            k += fill_part(core, t->partitions[idx], &ot->partitions[k]);
    }
    ot->partitions_count = k;
    return k > 0;
}

void od_h_describe_log_dirs(od_req_t *r, void *body)
{
    od_core_t *core = r->conn->core;
    od_DescribeLogDirsRequest_t *req = body;
    od_DescribeLogDirsResponse_t resp;
    od_DescribeLogDirsResponse_init(&resp);
    od_DescribeLogDirsResponse_DescribeLogDirsResult_t *res =
        od_arena_calloc(&r->arena, 1, sizeof(*res));
    int all = req->topics_count < 0;
    size_t nt = all ? core->image.ntopics : (size_t)req->topics_count;
    if (!res) {
        od_req_drop(r);
        return;
    }
    od_DescribeLogDirsResponse_DescribeLogDirsResult_init(res);
    res->topics = od_arena_calloc(&r->arena, nt ? nt : 1, sizeof(*res->topics));
    if (!res->topics) {
        od_req_drop(r);
        return;
    }
    res->log_dir = od_str_c(core->data_dir);
    struct statvfs vfs;
    if (statvfs(core->data_dir, &vfs) == 0) {
        res->total_bytes = (int64_t)vfs.f_blocks * (int64_t)vfs.f_frsize;
        res->usable_bytes = (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize;
    }
    int32_t k = 0;
    od_topic_t *it = all ? od_image_next_topic(&core->image, NULL) : NULL;
    for (size_t i = 0; i < nt; i++) {
        od_topic_t *t;
        const int32_t *parts = NULL;
        int32_t nparts = 0;
        if (all) {
            if (!it)
                break;
            t = it;
            it = od_image_next_topic(&core->image, it);
        } else {
            od_DescribeLogDirsRequest_DescribableLogDirTopic_t *rt = &req->topics[i];
            t = rt->topic.len > 0 ? od_image_topic(&core->image, rt->topic.p, (size_t)rt->topic.len)
                                  : NULL;
            parts = rt->partitions;
            nparts = rt->partitions_count > 0 ? rt->partitions_count : 0;
            if (!t)
                continue;
        }
        int rc = fill_topic(core, r, t, parts, nparts, &res->topics[k]);
        if (rc < 0) {
            od_req_drop(r);
            return;
        }
        k += rc;
    }
    res->topics_count = k;
    resp.results = res;
    resp.results_count = 1;
    od_DescribeLogDirsResponse_encode(&r->resp, r->hdr.api_version, &resp);
    od_req_done(r);
}
