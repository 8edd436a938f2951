/* od_h_offsets.c - OffsetCommit, OffsetFetch (single group and the v8
 * batch) and OffsetDelete. */
#include <stdio.h>
#include <string.h>

#include "od_authz.h"
#include "od_core.h"
#include "od_dispatch.h"
#include "od_group.h"
#include "od_handlers.h"
#include "od_repl.h"

static int partition_known(od_core_t *core, od_str_t topic, int32_t part)
{
    if (topic.len <= 0)
        return 0;
    od_topic_t *t = od_image_topic(&core->image, topic.p, (size_t)topic.len);
    return t && part >= 0 && part < t->npartitions;
}

/* ---- OffsetCommit ---- */

static void commit_answer(od_req_t *r, od_OffsetCommitRequest_t *req, od_gcommit_t *parts,
                          size_t total);
static void encode_commit(od_req_t *r, od_OffsetCommitRequest_t *req, od_gcommit_t *parts,
                          size_t total);

void od_h_offset_commit(od_req_t *r, void *body)
{
    od_core_t *core = r->conn->core;
    od_OffsetCommitRequest_t *req = body;
    int16_t v = r->hdr.api_version;
    int32_t nt = req->topics_count > 0 ? req->topics_count : 0;
    size_t total = 0;
    for (int32_t i = 0; i < nt; i++)
        total += req->topics[i].partitions_count > 0 ? (size_t)req->topics[i].partitions_count : 0;
    od_gcommit_t *parts = od_arena_calloc(&r->arena, total ? total : 1, sizeof(*parts));
    if (!parts) {
        od_req_drop(r);
        return;
    }
    size_t k = 0;
    int group_ok = od_authz_group(r, OD_ACL_OP_READ, req->group_id.p, OD_STR_LEN(req->group_id));
    for (int32_t i = 0; i < nt; i++) {
        od_OffsetCommitRequest_OffsetCommitRequestTopic_t *t = &req->topics[i];
        int16_t denied = !group_ok ? OD_ERR_GROUP_AUTHORIZATION_FAILED
                         : !od_authz_topic(r, OD_ACL_OP_READ, t->name.p, OD_STR_LEN(t->name))
                             ? OD_ERR_TOPIC_AUTHORIZATION_FAILED
                             : OD_ERR_NONE;
        for (int32_t j = 0; j < t->partitions_count; j++, k++) {
            od_OffsetCommitRequest_OffsetCommitRequestPartition_t *p = &t->partitions[j];
            od_gcommit_t *c = &parts[k];
            c->topic = t->name;
            c->partition = p->partition_index;
            c->offset = p->committed_offset;
            c->leader_epoch = v >= 6 ? p->committed_leader_epoch : -1;
            c->metadata = p->committed_metadata;
            c->commit_ts = v == 1 ? p->commit_timestamp : -1;
            c->error = denied ? denied
                       : partition_known(core, t->name, p->partition_index)
                           ? OD_ERR_NONE
                           : OD_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        }
    }
    od_str_t none = od_str_c(NULL);
    if (group_ok) /* else every partition carries GROUP_AUTHORIZATION_FAILED */
        od_group_commit(core->coord, req->group_id,
                        v >= 1 ? req->generation_id_or_member_epoch : -1,
                        v >= 1 ? req->member_id : none, v >= 7 ? req->group_instance_id : none,
                        v >= 2 && v <= 4 ? req->retention_time_ms : -1, parts, total);
    commit_answer(r, req, parts, total);
}

/* Kafka's mapping of a failed replicated write of offsets. */
static int16_t commit_error(int16_t e)
{
    switch (e) {
    case OD_ERR_NONE:
        return OD_ERR_NONE;
    case OD_ERR_NOT_LEADER_OR_FOLLOWER:
    case OD_ERR_KAFKA_STORAGE_ERROR:
        return OD_ERR_NOT_COORDINATOR;
    default: /* timed out, too few in-sync replicas */
        return OD_ERR_COORDINATOR_NOT_AVAILABLE;
    }
}

typedef struct commit_wait {
    od_req_t *r;
    od_OffsetCommitRequest_t *req;
    od_gcommit_t *parts;
    size_t total;
} commit_wait_t;

static void commit_replicated(void *arg, int16_t error)
{
    commit_wait_t *w = arg;
    od_req_t *r = w->r;
    for (size_t k = 0; k < w->total; k++)
        if (w->parts[k].error == OD_ERR_NONE)
            w->parts[k].error = commit_error(error);
    if (!r->conn) {
        od_req_free(r);
        return;
    }
    encode_commit(r, w->req, w->parts, w->total);
}

/* The commit is answered once the followers in the ISR have it (the
 * coordinator's writes are acks=all, as Kafka's), so a committed offset
 * survives the coordinator's partition changing leader. */
static void commit_answer(od_req_t *r, od_OffsetCommitRequest_t *req, od_gcommit_t *parts,
                          size_t total)
{
    od_core_t *core = r->conn->core;
    int any = 0;
    for (size_t k = 0; k < total; k++)
        any |= parts[k].error == OD_ERR_NONE;
    od_topic_t *t = od_image_topic(&core->image, OD_GROUP_OFFSETS_TOPIC,
                                   strlen(OD_GROUP_OFFSETS_TOPIC));
    if (!any || !t || t->npartitions <= 0 || req->group_id.len < 0) {
        encode_commit(r, req, parts, total);
        return;
    }
    od_partition_t *p = t->partitions[od_group_partition_for(req->group_id.p,
                                                             (size_t)req->group_id.len,
                                                             t->npartitions)];
    commit_wait_t *w = od_arena_calloc(&r->arena, 1, sizeof(*w));
    int rc = -1;
    if (w && p->log) {
        w->r = r;
        w->req = req;
        w->parts = parts;
        w->total = total;
        /* Names borrow from the frame, which is gone once this returns. */
        for (int32_t i = 0; i < req->topics_count; i++) {
            od_str_t *n = &req->topics[i].name;
            char *c = n->len > 0 ? od_arena_strndup(&r->arena, n->p, (size_t)n->len) : NULL;
            if (c)
                n->p = c;
        }
        rc = od_hw_wait(core, p, od_partition_log_end(core, p), od_repl_commit_timeout_ms(core),
                        commit_replicated, w);
    }
    if (rc == 0) {
        od_slice_init(&r->body, NULL, 0);
        return;
    }
    if (rc < 0)
        for (size_t k = 0; k < total; k++)
            if (parts[k].error == OD_ERR_NONE)
                parts[k].error = OD_ERR_COORDINATOR_NOT_AVAILABLE;
    encode_commit(r, req, parts, total);
}

/* The response's topics `out` (nt, allocated by the caller) for the
 * request's topics `in`: each partition with its error from parts, in
 * request order. OffsetCommit and OffsetDelete answer in this shape with
 * different generated types, hence a macro. ok becomes 0 out of memory. */
#define PARTITION_ERRORS(r, out, in, nt, parts, ok)                                                \
    do {                                                                                           \
        size_t k_ = 0;                                                                             \
        for (int32_t i_ = 0; (ok) && i_ < (nt); i_++) {                                            \
            int32_t np_ = (in)[i_].partitions_count > 0 ? (in)[i_].partitions_count : 0;           \
            (out)[i_].name = (in)[i_].name;                                                        \
            (out)[i_].partitions = od_arena_calloc(&(r)->arena, np_ ? (size_t)np_ : 1,             \
                                                   sizeof(*(out)[i_].partitions));                 \
            (ok) = (out)[i_].partitions != NULL;                                                   \
            (out)[i_].partitions_count = (ok) ? np_ : 0;                                           \
            for (int32_t j_ = 0; (ok) && j_ < np_; j_++, k_++) {                                   \
                (out)[i_].partitions[j_].partition_index = (parts)[k_].partition;                  \
                (out)[i_].partitions[j_].error_code = (parts)[k_].error;                           \
            }                                                                                      \
        }                                                                                          \
    } while (0)

static void encode_commit(od_req_t *r, od_OffsetCommitRequest_t *req, od_gcommit_t *parts,
                          size_t total)
{
    int16_t v = r->hdr.api_version;
    int32_t nt = req->topics_count > 0 ? req->topics_count : 0;
    od_OffsetCommitResponse_t resp;
    od_OffsetCommitResponse_init(&resp);
    resp.topics = od_arena_calloc(&r->arena, nt ? (size_t)nt : 1, sizeof(*resp.topics));
    if (!resp.topics) {
        od_req_drop(r);
        return;
    }
    (void)total;
    resp.topics_count = nt;
    int ok = 1;
    PARTITION_ERRORS(r, resp.topics, req->topics, nt, parts, ok);
    if (!ok) {
        od_req_drop(r);
        return;
    }
    od_OffsetCommitResponse_encode(&r->resp, v, &resp);
    od_req_done(r);
}

/* ---- OffsetFetch ---- */

/* The answer for one group, independent of the response version. */
typedef struct fpart {
    int32_t index;
    int64_t offset;
    int32_t epoch;
    od_str_t metadata;
    int16_t error;
} fpart_t;

typedef struct ftopic {
    od_str_t name;
    int32_t n;
    fpart_t *parts;
} ftopic_t;

/* The response's topics `out` (nt, allocated by the caller) from the
 * group's answer ts. The v0-7 and v8+ responses have this shape with
 * different generated types, hence a macro. ok becomes 0 out of memory. */
#define FETCHED_TOPICS(r, out, ts, nt, ok)                                                         \
    do {                                                                                           \
        for (int32_t i_ = 0; (ok) && i_ < (nt); i_++) {                                            \
            (out)[i_].name = (ts)[i_].name;                                                        \
            size_t n_ = (ts)[i_].n > 0 ? (size_t)(ts)[i_].n : 1;                                   \
            (out)[i_].partitions = od_arena_calloc(&(r)->arena, n_, sizeof(*(out)[i_].partitions));\
            (ok) = (out)[i_].partitions != NULL;                                                   \
            (out)[i_].partitions_count = (ok) ? (ts)[i_].n : 0;                                    \
            for (int32_t j_ = 0; (ok) && j_ < (ts)[i_].n; j_++) {                                  \
                (out)[i_].partitions[j_].partition_index = (ts)[i_].parts[j_].index;               \
                (out)[i_].partitions[j_].committed_offset = (ts)[i_].parts[j_].offset;             \
                (out)[i_].partitions[j_].committed_leader_epoch = (ts)[i_].parts[j_].epoch;        \
                (out)[i_].partitions[j_].metadata = (ts)[i_].parts[j_].metadata;                   \
                (out)[i_].partitions[j_].error_code = (ts)[i_].parts[j_].error;                    \
            }                                                                                      \
        }                                                                                          \
    } while (0)

typedef struct freq_topic {
    od_str_t name;
    int32_t n;
    const int32_t *parts;
} freq_topic_t;

static void fill_part(const od_group_t *g, od_str_t topic, int32_t idx, fpart_t *o)
{
    const od_goffset_t *off =
        g && topic.len >= 0 ? od_group_offset(g, topic.p, (size_t)topic.len, idx) : NULL;
    o->index = idx;
    o->offset = off ? off->offset : -1;
    o->epoch = off ? off->leader_epoch : -1;
    o->metadata.p = off ? off->metadata : "";
    o->metadata.len = off ? (int32_t)off->metadata_len : 0;
    o->error = OD_ERR_NONE;
}

/* The requested partitions, with the group's offsets (g may be NULL). */
static int16_t build_wanted(od_req_t *r, const od_group_t *g, const freq_topic_t *want,
                            int32_t nwant, ftopic_t **out, int32_t *nout)
{
    ftopic_t *ts = od_arena_calloc(&r->arena, nwant ? (size_t)nwant : 1, sizeof(*ts));
    if (!ts)
        return OD_ERR_UNKNOWN_SERVER_ERROR;
    for (int32_t i = 0; i < nwant; i++) {
        ts[i].name = want[i].name;
        int32_t np = want[i].n > 0 ? want[i].n : 0;
        ts[i].parts = od_arena_calloc(&r->arena, np ? (size_t)np : 1, sizeof(fpart_t));
        if (!ts[i].parts)
            return OD_ERR_UNKNOWN_SERVER_ERROR;
        ts[i].n = np;
        int denied = !od_authz_topic(r, OD_ACL_OP_DESCRIBE, want[i].name.p,
                                     OD_STR_LEN(want[i].name));
        for (int32_t j = 0; j < np; j++) {
            fill_part(denied ? NULL : g, want[i].name, want[i].parts[j], &ts[i].parts[j]);
            if (denied)
                ts[i].parts[j].error = OD_ERR_TOPIC_AUTHORIZATION_FAILED;
        }
    }
    *out = ts;
    *nout = nwant;
    return OD_ERR_NONE;
}

/* Topics null (all == 1): every committed offset of the group. Returns
 * the group error; *out and *nout get the topics. */
static int16_t fetch_group(od_req_t *r, od_str_t gid, int all, const freq_topic_t *want,
                           int32_t nwant, ftopic_t **out, int32_t *nout)
{
    *out = NULL;
    *nout = 0;
    int32_t part;
    struct od_coord *c = r->conn->core->coord;
    if (!od_authz_group(r, OD_ACL_OP_DESCRIBE, gid.p, OD_STR_LEN(gid)))
        return OD_ERR_GROUP_AUTHORIZATION_FAILED;
    int16_t ec = gid.len < 0 ? OD_ERR_INVALID_GROUP_ID
                             : od_coord_check(c, gid.p ? gid.p : "", (size_t)gid.len, &part);
    if (ec != OD_ERR_NONE)
        return ec;
    const od_group_t *g = od_group_find(c, gid.p ? gid.p : "", (size_t)gid.len);
    if (all) {
        size_t n = g ? g->noffsets : 0;
        ftopic_t *ts = od_arena_calloc(&r->arena, n ? n : 1, sizeof(*ts));
        if (!ts)
            return OD_ERR_UNKNOWN_SERVER_ERROR;
        int32_t nt = 0;
        for (size_t i = 0; i < n; i++) {
            const od_goffset_t *o = &g->offsets[i];
            if (!od_authz_quiet(r, OD_ACL_OP_DESCRIBE, OD_RES_TOPIC, o->topic, strlen(o->topic)))
                continue; /* all topics: only those it may describe */
            int32_t t;
            for (t = 0; t < nt && !od_str_eq(ts[t].name, o->topic); t++)
                ;
            if (t == nt) {
                ts[nt].name = od_str_c(o->topic);
                ts[nt].parts = od_arena_calloc(&r->arena, n, sizeof(fpart_t));
                if (!ts[nt].parts)
                    return OD_ERR_UNKNOWN_SERVER_ERROR;
                nt++;
            }
            fill_part(g, ts[t].name, o->partition, &ts[t].parts[ts[t].n++]);
        }
        *out = ts;
        *nout = nt;
        return OD_ERR_NONE;
    }
    return build_wanted(r, g, want, nwant, out, nout);
}

void od_h_offset_fetch(od_req_t *r, void *body)
{
    od_OffsetFetchRequest_t *req = body;
    int16_t v = r->hdr.api_version;
    od_OffsetFetchResponse_t resp;
    od_OffsetFetchResponse_init(&resp);
    if (v >= 8) {
        int32_t ng = req->groups_count > 0 ? req->groups_count : 0;
        resp.groups = od_arena_calloc(&r->arena, ng ? (size_t)ng : 1, sizeof(*resp.groups));
        if (!resp.groups)
            goto oom;
        resp.groups_count = ng;
        for (int32_t gi = 0; gi < ng; gi++) {
            od_OffsetFetchRequest_OffsetFetchRequestGroup_t *rg = &req->groups[gi];
            od_OffsetFetchResponse_OffsetFetchResponseGroup_t *og = &resp.groups[gi];
            og->group_id = rg->group_id;
            int32_t nw = rg->topics_count > 0 ? rg->topics_count : 0;
            freq_topic_t *want = od_arena_calloc(&r->arena, nw ? (size_t)nw : 1, sizeof(*want));
            if (!want)
                goto oom;
            for (int32_t i = 0; i < nw; i++)
                want[i] = (freq_topic_t){rg->topics[i].name, rg->topics[i].partition_indexes_count,
                                         rg->topics[i].partition_indexes};
            ftopic_t *ts;
            int32_t nt;
            og->error_code = fetch_group(r, rg->group_id, rg->topics_count < 0, want, nw, &ts, &nt);
            og->topics = od_arena_calloc(&r->arena, nt ? (size_t)nt : 1, sizeof(*og->topics));
            if (!og->topics)
                goto oom;
            og->topics_count = nt;
            int ok = 1;
            FETCHED_TOPICS(r, og->topics, ts, nt, ok);
            if (!ok)
                goto oom;
        }
    } else {
        int32_t nw = req->topics_count > 0 ? req->topics_count : 0;
        freq_topic_t *want = od_arena_calloc(&r->arena, nw ? (size_t)nw : 1, sizeof(*want));
        if (!want)
            goto oom;
        for (int32_t i = 0; i < nw; i++)
            want[i] = (freq_topic_t){req->topics[i].name, req->topics[i].partition_indexes_count,
                                     req->topics[i].partition_indexes};
        ftopic_t *ts;
        int32_t nt;
        int all = v >= 2 && req->topics_count < 0;
        int16_t ec = fetch_group(r, req->group_id, all, want, nw, &ts, &nt);
        if (ec != OD_ERR_NONE && v < 2) {
            /* v0-1 have no group error: every partition carries it. */
            if (build_wanted(r, NULL, want, nw, &ts, &nt) != OD_ERR_NONE)
                goto oom;
            for (int32_t i = 0; i < nt; i++)
                for (int32_t j = 0; j < ts[i].n; j++)
                    ts[i].parts[j].error = ec;
        } else if (ec != OD_ERR_NONE) {
            resp.error_code = ec;
            nt = 0;
        }
        resp.topics = od_arena_calloc(&r->arena, nt > 0 ? (size_t)nt : 1, sizeof(*resp.topics));
        if (!resp.topics)
            goto oom;
        resp.topics_count = nt;
        int ok = 1;
        FETCHED_TOPICS(r, resp.topics, ts, nt, ok);
        if (!ok)
            goto oom;
    }
    od_OffsetFetchResponse_encode(&r->resp, v, &resp);
    od_req_done(r);
    return;
oom:
    od_req_drop(r);
}

/* ---- OffsetDelete ---- */

void od_h_offset_delete(od_req_t *r, void *body)
{
    od_core_t *core = r->conn->core;
    od_OffsetDeleteRequest_t *req = body;
    od_OffsetDeleteResponse_t resp;
    od_OffsetDeleteResponse_init(&resp);
    int32_t nt = req->topics_count > 0 ? req->topics_count : 0;
    size_t total = 0;
    for (int32_t i = 0; i < nt; i++)
        total += req->topics[i].partitions_count > 0 ? (size_t)req->topics[i].partitions_count : 0;
    od_gcommit_t *parts = od_arena_calloc(&r->arena, total ? total : 1, sizeof(*parts));
    resp.topics = od_arena_calloc(&r->arena, nt ? (size_t)nt : 1, sizeof(*resp.topics));
    if (!parts || !resp.topics) {
        od_req_drop(r);
        return;
    }
    size_t k = 0;
    for (int32_t i = 0; i < nt; i++) {
        od_OffsetDeleteRequest_OffsetDeleteRequestTopic_t *t = &req->topics[i];
        int denied = !od_authz_topic(r, OD_ACL_OP_READ, t->name.p, OD_STR_LEN(t->name));
        for (int32_t j = 0; j < t->partitions_count; j++, k++) {
            parts[k].topic = t->name;
            parts[k].partition = t->partitions[j].partition_index;
            parts[k].error = denied ? OD_ERR_TOPIC_AUTHORIZATION_FAILED
                             : partition_known(core, t->name, parts[k].partition)
                                 ? OD_ERR_NONE
                                 : OD_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        }
    }
    resp.error_code =
        !od_authz_group(r, OD_ACL_OP_DELETE, req->group_id.p, OD_STR_LEN(req->group_id))
            ? OD_ERR_GROUP_AUTHORIZATION_FAILED
            : od_group_delete_offsets(core->coord, req->group_id, parts, total);
    if (resp.error_code == OD_ERR_NONE) {
        resp.topics_count = nt;
        int ok = 1;
        PARTITION_ERRORS(r, resp.topics, req->topics, nt, parts, ok);
        if (!ok) {
            od_req_drop(r);
            return;
        }
    }
    od_OffsetDeleteResponse_encode(&r->resp, r->hdr.api_version, &resp);
    od_req_done(r);
}
