/* od_fetcher.c - followers fetching from their leaders: one od_peer
 * connection per leader broker carries one Fetch (v12, replica_id = this
 * node) for every partition followed on it at a time. The leader's batches
 * are appended as they are; its high watermark and log start offset are
 * followed; a DivergingEpoch answer cuts our divergent tail first. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_batch.h"
#include "od_core.h"
#include "od_crc32c.h"
#include "od_handlers.h"
#include "od_module.h"
#include "od_net.h"
#include "od_producer.h"
#include "od_proto_gen.h"
#include "od_repl_int.h"

#define FETCH_VERSION 12

static void fetcher_kick(od_fetcher_t *f);

const od_endpoint_t *od_repl_broker_endpoint(od_core_t *core, const od_broker_reg_t *b)
{
    const char *want = core->conf.inter_broker_listener_name;
    for (size_t i = 0; want && *want && i < b->nendpoints; i++)
        if (strcmp(b->endpoints[i].name, want) == 0)
            return &b->endpoints[i];
    for (size_t i = 0; i < b->nendpoints; i++)
        if (!od_net_is_controller_listener(b->endpoints[i].name))
            return &b->endpoints[i];
    return b->nendpoints ? &b->endpoints[0] : NULL;
}

static void free_fetcher(od_fetcher_t *f)
{
    od_core_t *core = f->repl->core;
    od_loop_cancel(core->loop, f->retry_timer);
    od_loop_cancel(core->loop, f->idle_timer);
    for (size_t i = 0; i < f->nparts; i++)
        f->parts[i]->fetcher = NULL;
    od_peer_free(f->peer); /* an in-flight fetch gets ECLOSED: it only notes that */
    free(f->parts);
    free(f);
}

/* The fetcher for a leader, made (or remade, when its address changed) on
 * demand. NULL when the leader has no usable registration. */
static od_fetcher_t *fetcher_for(od_core_t *core, int32_t leader)
{
    od_repl_t *r = core->repl;
    const od_broker_reg_t *b = od_image_broker(&core->image, leader);
    const od_endpoint_t *ep = b ? od_repl_broker_endpoint(core, b) : NULL;
    if (!ep)
        return NULL;
    for (od_fetcher_t *f = r->fetchers; f; f = f->next)
        if (f->leader_id == leader) {
            if (strcmp(f->host, ep->host) == 0 && f->port == ep->port)
                return f;
            /* Re-registered elsewhere: a new connection. */
            od_peer_free(f->peer);
            f->peer = NULL;
            f->inflight = 0;
        }
    od_fetcher_t *f = NULL;
    for (od_fetcher_t *g = r->fetchers; g; g = g->next)
        if (g->leader_id == leader)
            f = g;
    if (!f) {
        f = calloc(1, sizeof(*f));
        if (!f)
            return NULL;
        f->repl = r;
        f->leader_id = leader;
        f->next = r->fetchers;
        r->fetchers = f;
    }
    snprintf(f->host, sizeof(f->host), "%s", ep->host);
    f->port = ep->port;
    if (!f->peer) {
        char cid[64];
        snprintf(cid, sizeof(cid), "odradek-replica-%" PRId64, core->conf.node_id);
        od_peer_opts_t o = {0};
        o.client_id = cid;
        o.reconnect_backoff_ms = 50;
        o.reconnect_backoff_max_ms = 1000;
        o.connect_timeout_ms = r->socket_timeout_ms;
        o.max_in_flight = 1;
        o.max_response_bytes = (size_t)r->fetch_response_max_bytes + (64u << 20);
        f->peer = od_peer_new(core->loop, f->host, f->port, &o);
    }
    return f->peer ? f : NULL;
}

void od_fetcher_add(od_core_t *core, od_replica_t *rs, int32_t leader)
{
    od_fetcher_t *f = fetcher_for(core, leader);
    if (!f) {
        if (!rs->warned_no_endpoint)
            od_logf(OD_LOG_WARN, "%s-%d: leader %d has no reachable endpoint; not replicating "
                    "yet", rs->p->topic->name, rs->p->index, leader);
        rs->warned_no_endpoint = 1; /* retried every second (od_repl_tick) */
        return;
    }
    rs->warned_no_endpoint = 0;
    if (f->nparts == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        od_replica_t **np = realloc(f->parts, cap * sizeof(*np));
        if (!np)
            return;
        f->parts = np;
        f->cap = cap;
    }
    f->parts[f->nparts++] = rs;
    rs->fetcher = f;
    rs->retry_at_ms = 0;
    fetcher_kick(f);
}

void od_fetcher_remove(od_core_t *core, od_replica_t *rs)
{
    od_fetcher_t *f = rs->fetcher;
    (void)core;
    if (!f)
        return;
    for (size_t i = 0; i < f->nparts; i++)
        if (f->parts[i] == rs) {
            f->parts[i] = f->parts[--f->nparts];
            break;
        }
    rs->fetcher = NULL;
    /* An idle fetcher keeps its connection: leaders come back. */
}

void od_fetchers_free(od_core_t *core)
{
    od_repl_t *r = core->repl;
    while (r->fetchers) {
        od_fetcher_t *f = r->fetchers;
        r->fetchers = f->next;
        free_fetcher(f);
    }
}

static void retry_later(void *arg)
{
    od_fetcher_t *f = arg;
    f->retry_timer = 0;
    f->idle_timer = 0;
    fetcher_kick(f);
}

static void back_off(od_fetcher_t *f, int64_t ms)
{
    od_core_t *core = f->repl->core;
    if (!f->retry_timer)
        f->retry_timer = od_loop_timer(core->loop, ms > 0 ? ms : 1, retry_later, f);
}

static od_replica_t *find_part(od_fetcher_t *f, od_str_t topic, int32_t index)
{
    for (size_t i = 0; i < f->nparts; i++) {
        od_partition_t *p = f->parts[i]->p;
        if (p->index == index && topic.len >= 0 && strlen(p->topic->name) == (size_t)topic.len &&
            memcmp(p->topic->name, topic.p, (size_t)topic.len) == 0)
            return f->parts[i];
    }
    return NULL;
}

/* Cut our log where the leader's and ours part (KIP-320): at the leader's
 * end of the diverging epoch, or our own end of that epoch if earlier. */
static void truncate_diverged(od_core_t *core, od_partition_t *p, int32_t epoch, int64_t end)
{
    int64_t to = end;
    if (epoch >= 0) {
        int32_t le;
        int64_t lend;
        od_epochs_end_offset(core, p, epoch, &le, &lend);
        if (lend >= 0 && lend < to)
            to = lend;
    }
    if (to < 0)
        to = p->high_watermark; /* the leader knows no such epoch: keep what is committed */
    int64_t leo = core->storage->end_offset(p->log);
    if (to >= leo)
        return;
    char why[256];
    if (!OD_OPS_HAS(core->storage, truncate_to) ||
        core->storage->truncate_to(p->log, to, why, sizeof(why)) < 0) {
        od_logf(OD_LOG_ERROR, "%s-%d: cannot truncate to %" PRId64 ": %s", p->topic->name,
                p->index, to, OD_OPS_HAS(core->storage, truncate_to) ? why
                                                                      : "backend has no truncate_to");
        return;
    }
    od_epochs_truncated(core, p, core->storage->end_offset(p->log));
    od_producer_truncated(core, p);
    if (p->high_watermark > core->storage->end_offset(p->log))
        p->high_watermark = core->storage->end_offset(p->log);
    od_logf(OD_LOG_INFO, "%s-%d: truncated divergent tail %" PRId64 "..%" PRId64
            " (leader epoch %d ends at %" PRId64 ")", p->topic->name, p->index, to, leo - 1, epoch,
            end);
}

/* Append the leader's batches as they are. Returns 0, or -1 (logged). */
static int append_as_is(od_core_t *core, od_partition_t *p, const uint8_t *data, size_t len)
{
    int64_t leo = core->storage->end_offset(p->log);
    od_batch_iter_t it;
    od_batch_hdr_t h;
    size_t off, size, from = SIZE_MAX, to = 0;
    od_append_info_t info = {0};
    info.struct_size = sizeof(info);
    info.max_timestamp = -1;
    od_batch_iter_init(&it, data, len);
    while (od_batch_iter_next(&it, &h, &off, &size) == 1) {
        int64_t last = h.base_offset + h.last_offset_delta;
        if (last < leo)
            continue; /* already here */
        if (from == SIZE_MAX) {
            if (h.base_offset != leo) {
                od_logf(OD_LOG_WARN, "%s-%d: leader sent offset %" PRId64 ", our log ends at %"
                        PRId64 "; refetching", p->topic->name, p->index, h.base_offset, leo);
                return -1;
            }
            from = off;
            info.base_offset = h.base_offset;
        }
        if (h.magic != 2 || od_batch_compute_crc(data + off, size) != h.crc) {
            od_logf(OD_LOG_WARN, "%s-%d: corrupt batch at offset %" PRId64 " from the leader",
                    p->topic->name, p->index, h.base_offset);
            break; /* what came before it is fine */
        }
        to = off + size;
        info.last_offset = last;
        if (h.max_timestamp > info.max_timestamp) {
            info.max_timestamp = h.max_timestamp;
            info.offset_of_max_timestamp = last;
        }
        info.record_count += h.record_count;
        info.batch_count++;
    }
    if (from == SIZE_MAX || to <= from)
        return 0;
    char why[256];
    (void)od_producer_state(core, p); /* loaded up to the old end before the append */
    if (core->storage->append(p->log, data + from, to - from, &info, why, sizeof(why)) < 0) {
        od_logf(OD_LOG_ERROR, "%s-%d: appending the leader's batches: %s", p->topic->name, p->index,
                why);
        return -1;
    }
    od_repl_appended(core, p, data + from, to - from);
    /* The producer state follows the log, so a new leader deduplicates a
     * retry of what it received as a follower. */
    od_batch_iter_init(&it, data + from, to - from);
    while (od_batch_iter_next(&it, &h, &off, &size) == 1)
        if (h.producer_id >= 0 && !(h.attributes & 0x20))
            od_producer_appended(core, p, h.producer_id, h.producer_epoch, h.base_sequence,
                                 h.base_sequence >= 0 ? od_pseq_add(h.base_sequence,
                                                                    h.last_offset_delta)
                                                      : -1,
                                 h.base_offset, h.base_offset + h.last_offset_delta,
                                 h.max_timestamp);
    return 0;
}

static void on_partition(od_core_t *core, od_fetcher_t *f, od_replica_t *rs,
                         const od_FetchResponse_PartitionData_t *pd, int64_t now)
{
    od_partition_t *p = rs->p;
    od_repl_t *r = f->repl;
    if (rs->role != OD_ROLE_FOLLOWER || p->leader != f->leader_id || !p->log)
        return; /* the image moved on while the fetch was out */
    if (pd->error_code == OD_ERR_OFFSET_OUT_OF_RANGE && pd->log_start_offset >= 0 &&
        pd->log_start_offset > core->storage->end_offset(p->log) &&
        OD_OPS_HAS(core->storage, truncate_to)) {
        /* Our log ends before the leader's starts (retention or
         * DeleteRecords there while we were away): start over at its start. */
        char why[256];
        int64_t leo = core->storage->end_offset(p->log);
        if (core->storage->truncate_to(p->log, pd->log_start_offset, why, sizeof(why)) < 0) {
            od_logf(OD_LOG_ERROR, "%s-%d: cannot restart the log at %" PRId64 ": %s",
                    p->topic->name, p->index, pd->log_start_offset, why);
        } else {
            od_epochs_truncated(core, p, 0);
            od_producer_truncated(core, p);
            p->high_watermark = pd->log_start_offset;
            od_logf(OD_LOG_INFO, "%s-%d: log ended at %" PRId64 ", before the leader's start %"
                    PRId64 ": restarted there", p->topic->name, p->index, leo,
                    pd->log_start_offset);
            return;
        }
    }
    if (pd->error_code != OD_ERR_NONE) {
        /* Stale metadata on either side: wait for the image to agree. */
        rs->retry_at_ms = now + r->fetch_backoff_ms;
        od_logf(OD_LOG_DEBUG, "%s-%d: fetch from leader %d: %s", p->topic->name, p->index,
                f->leader_id, od_err_name(pd->error_code));
        return;
    }
    if (pd->diverging_epoch.epoch >= 0 || pd->diverging_epoch.end_offset >= 0) {
        truncate_diverged(core, p, pd->diverging_epoch.epoch, pd->diverging_epoch.end_offset);
        return; /* the next fetch continues from the cut */
    }
    if (pd->records.len > 0 && append_as_is(core, p, pd->records.p, (size_t)pd->records.len) < 0) {
        rs->retry_at_ms = now + r->fetch_backoff_ms;
        return;
    }
    int64_t leo = core->storage->end_offset(p->log);
    int64_t hw = pd->high_watermark < leo ? pd->high_watermark : leo;
    if (hw > p->high_watermark) {
        p->high_watermark = hw;
        od_fetch_wake(core, p);
    }
    /* Retention and DeleteRecords on the leader move our start too. */
    if (pd->log_start_offset > core->storage->start_offset(p->log) &&
        pd->log_start_offset <= leo && OD_OPS_HAS(core->storage, advance_start)) {
        char why[256];
        if (core->storage->advance_start(p->log, pd->log_start_offset, why, sizeof(why)) < 0)
            od_logf(OD_LOG_WARN, "%s-%d: following the leader's log start: %s", p->topic->name,
                    p->index, why);
    }
}

static void on_response(void *arg, od_peer_status_t st, const od_peer_response_t *resp)
{
    od_fetcher_t *f = arg;
    od_core_t *core = f->repl->core;
    f->inflight = 0;
    if (st == OD_PEER_ECLOSED)
        return; /* the fetcher is being freed */
    if (st != OD_PEER_OK) {
        od_logf(OD_LOG_DEBUG, "fetch from leader %d: %s", f->leader_id, od_peer_status_name(st));
        back_off(f, f->repl->fetch_backoff_ms);
        return;
    }
    const od_FetchResponse_t *fr = resp->decoded;
    int64_t now = od_mono_ms();
    if (fr->error_code != OD_ERR_NONE) {
        od_logf(OD_LOG_WARN, "fetch from leader %d: %s", f->leader_id, od_err_name(fr->error_code));
        back_off(f, f->repl->fetch_backoff_ms);
        return;
    }
    for (int32_t i = 0; i < fr->responses_count; i++) {
        const od_FetchResponse_FetchableTopicResponse_t *tr = &fr->responses[i];
        for (int32_t j = 0; j < tr->partitions_count; j++) {
            od_replica_t *rs = find_part(f, tr->topic, tr->partitions[j].partition_index);
            if (rs)
                on_partition(core, f, rs, &tr->partitions[j], now);
        }
    }
    fetcher_kick(f);
}

/* Send the next fetch for every partition not backing off. */
static void fetcher_kick(od_fetcher_t *f)
{
    od_repl_t *r = f->repl;
    od_core_t *core = r->core;
    if (f->inflight || f->retry_timer || !f->peer || core->stopping)
        return;
    int64_t now = od_mono_ms(), next_retry = INT64_MAX;
    od_arena_t a;
    od_arena_init(&a, 0);
    od_FetchRequest_FetchTopic_t *topics = od_arena_calloc(&a, f->nparts + 1, sizeof(*topics));
    od_FetchRequest_FetchPartition_t *parts = od_arena_calloc(&a, f->nparts + 1, sizeof(*parts));
    od_partition_t **owner = od_arena_calloc(&a, f->nparts + 1, sizeof(*owner));
    int32_t nt = 0;
    size_t np = 0;
    if (!topics || !parts || !owner) {
        od_arena_free(&a);
        back_off(f, r->fetch_backoff_ms);
        return;
    }
    /* Partitions of one topic next to each other: the request groups them. */
    for (size_t i = 0; i < f->nparts; i++) {
        od_replica_t *rs = f->parts[i];
        od_partition_t *p = rs->p;
        if (!p->log)
            continue;
        if (rs->retry_at_ms > now) {
            if (rs->retry_at_ms < next_retry)
                next_retry = rs->retry_at_ms;
            continue;
        }
        size_t k = np;
        while (k > 0 && owner[k - 1]->topic != p->topic)
            k--;
        if (k > 0) { /* its topic is in the list: insert after its last partition */
            memmove(&parts[k + 1], &parts[k], (np - k) * sizeof(*parts));
            memmove(&owner[k + 1], &owner[k], (np - k) * sizeof(*owner));
        } else {
            k = np;
        }
        od_FetchRequest_FetchPartition_t *fp = &parts[k];
        od_FetchRequest_FetchPartition_init(fp);
        fp->partition = p->index;
        fp->current_leader_epoch = p->leader_epoch;
        fp->fetch_offset = core->storage->end_offset(p->log);
        fp->last_fetched_epoch = od_epochs_latest(p);
        fp->log_start_offset = core->storage->start_offset(p->log);
        fp->partition_max_bytes = (int32_t)r->fetch_max_bytes;
        owner[k] = p;
        np++;
    }
    for (size_t i = 0; i < np;) {
        size_t j = i;
        while (j < np && owner[j]->topic == owner[i]->topic)
            j++;
        od_FetchRequest_FetchTopic_init(&topics[nt]);
        topics[nt].topic = od_str_c(owner[i]->topic->name);
        topics[nt].partitions = &parts[i];
        topics[nt].partitions_count = (int32_t)(j - i);
        nt++;
        i = j;
    }
    if (np == 0) {
        od_arena_free(&a);
        if (next_retry != INT64_MAX)
            back_off(f, next_retry - now);
        return;
    }
    od_FetchRequest_t req;
    od_FetchRequest_init(&req);
    req.replica_id = (int32_t)core->conf.node_id;
    req.max_wait_ms = (int32_t)r->fetch_wait_max_ms;
    req.min_bytes = (int32_t)r->fetch_min_bytes;
    req.max_bytes = (int32_t)r->fetch_response_max_bytes;
    req.isolation_level = 0;
    req.session_id = 0;
    req.session_epoch = -1;
    req.topics = topics;
    req.topics_count = nt;
    od_wbuf_t w;
    od_wbuf_init(&w);
    od_FetchRequest_encode(&w, FETCH_VERSION, &req);
    int rc = od_peer_send(f->peer, OD_API_FETCH, FETCH_VERSION, &w,
                          r->socket_timeout_ms + r->fetch_wait_max_ms, OD_PEER_DECODE, on_response,
                          f);
    od_wbuf_free(&w);
    od_arena_free(&a);
    if (rc < 0)
        back_off(f, r->fetch_backoff_ms);
    else
        f->inflight = 1;
}
