/* od_h_produce.c - Produce: validate batches, assign offsets, append. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_authz.h"
#include "od_acks.h"
#include "od_batch.h"
#include "od_codec.h"
#include "od_compact_check.h"
#include "od_core.h"
#include "od_dispatch.h"
#include "od_ext.h"
#include "od_handlers.h"
#include "od_metrics.h"
#include "od_producer.h"
#include "od_schema.h"
#include "od_repl.h"
#include "od_route.h"
#include "od_topic_config.h"
#include "od_topicname.h"

typedef od_ProduceResponse_PartitionProduceResponse_t part_resp_t;

/* Check one batch sequence against the topic's size limit. */
static int16_t check_sizes(const uint8_t *p, size_t len, int64_t max_bytes, char *err, size_t errsz)
{
    od_batch_iter_t it;
    od_batch_hdr_t h;
    size_t off, size;
    od_batch_iter_init(&it, p, len);
    while (od_batch_iter_next(&it, &h, &off, &size) == 1) {
        if ((int64_t)size > max_bytes) {
            snprintf(err, errsz, "batch of %zu bytes is larger than max.message.bytes=%" PRId64,
                     size, max_bytes);
            return OD_ERR_MESSAGE_TOO_LARGE;
        }
    }
    return OD_ERR_NONE;
}

/* message.timestamp.before.max.ms / after.max.ms (Kafka 3.6+), each
 * falling back to message.timestamp.difference.max.ms while left at its
 * default, as Kafka resolves them. */
static int64_t ts_limit(const od_topic_t *t, int64_t v)
{
    return v != INT64_MAX ? v : t->cfg.message_timestamp_difference_max_ms;
}

/* record_errors and error_message of a partition whose records failed the
 * per-record checks (Produce v8+, KIP-467), in the request's arena. */
static void record_errors_out(od_req_t *r, const od_rec_result_t *res, const char *topic,
                              int32_t partition, part_resp_t *out)
{
    char m[1024];
    od_rec_result_message(res, topic, partition, m, sizeof(m));
    char *pm = od_arena_strndup(&r->arena, m, strlen(m));
    if (pm)
        out->error_message = od_str_c(pm);
    out->record_errors = od_arena_calloc(&r->arena, (size_t)res->nlisted + 1,
                                         sizeof(*out->record_errors));
    if (!out->record_errors)
        return;
    const char *shared = NULL; /* the key message is the same for every record */
    int32_t n = 0;
    for (int32_t i = 0; i < res->nlisted; i++) {
        const od_rec_error_t *e = &res->errors[i];
        const char *em = e->code == OD_ERR_INVALID_RECORD ? shared : NULL;
        if (!em) {
            od_rec_error_message(res, e, topic, partition, m, sizeof(m));
            em = od_arena_strndup(&r->arena, m, strlen(m));
            if (!em)
                break;
            if (e->code == OD_ERR_INVALID_RECORD)
                shared = em;
        }
        out->record_errors[n].batch_index = e->batch_index;
        out->record_errors[n].batch_index_error_message = od_str_c(em);
        n++;
    }
    out->record_errors_count = n;
}

/* OD_EVENT_APPEND (ABI 1.3): modules see the partition's validated
 * batches, decompressed, before anything is appended; a deny refuses them
 * all with INVALID_RECORD and the module's reason. Returns 1 when denied
 * (msg set). A failure to decompress for the event refuses too: a module
 * that asked to see every append is never skipped. */
static int append_denied(od_req_t *r, const char *topic, int32_t partition, const uint8_t *data,
                         size_t len, int32_t nrecords, char *msg, size_t msgsz)
{
    od_core_t *core = r->core;
    if (!od_event_wanted(core, OD_EVENT_APPEND))
        return 0;
    od_batch_iter_t it;
    od_batch_hdr_t h;
    size_t off, sz;
    int compressed = 0;
    od_batch_iter_init(&it, data, len);
    while (!compressed && od_batch_iter_next(&it, &h, &off, &sz) == 1)
        compressed = OD_BATCH_COMPRESSION(h.attributes) != OD_CODEC_NONE;
    uint8_t *plain = NULL;
    size_t plain_len = len;
    /* Validation already charged these bytes to the request's
     * decompression budget; the event's copy lives only for the call, so it
     * is not charged again. */
    size_t budget = od_batch_budget_left();
    int bad = compressed && od_batch_recompress(data, len, OD_CODEC_NONE, &plain, &plain_len, msg,
                                                msgsz) != 0;
    od_batch_budget_begin(budget);
    if (bad) {
        od_logf(OD_LOG_WARN, "produce to %s-%d: cannot decompress for the append event: %s",
                topic, partition, msg);
        return 1;
    }
    char reason[256] = "";
    od_ev_append_t ev = {sizeof(ev), r->conn ? &r->conn->client : od_ext_nobody(), topic,
                         partition, plain ? plain : data, plain_len, nrecords, reason,
                         sizeof(reason)};
    const char *who;
    int d = od_event_fire(core, OD_EVENT_APPEND, &ev, &who);
    free(plain);
    if (d != OD_DENY)
        return 0;
    reason[sizeof(reason) - 1] = 0;
    if (reason[0])
        snprintf(msg, msgsz, "%s", reason);
    else
        snprintf(msg, msgsz, "append refused by module %s", who);
    od_logf(OD_LOG_DEBUG, "client %s: produce to %s-%d denied by module %s: %s", ev.client->peer,
            topic, partition, who, msg);
    return 1;
}

/* Kafka's NotEnoughReplicasException text: the ISR as a Scala Set. */
static void not_enough(const od_partition_t *p, char *msg, size_t msgsz)
{
    size_t n = (size_t)snprintf(msg, msgsz, "The size of the current ISR Set(");
    for (int32_t i = 0; i < p->nisr && n < msgsz; i++)
        n += (size_t)snprintf(msg + n, msgsz - n, "%s%d", i ? ", " : "", p->isr[i]);
    if (n < msgsz)
        snprintf(msg + n, msgsz - n, ") is insufficient to satisfy the min.isr requirement of %lld "
                 "for partition %s-%d", (long long)p->topic->cfg.min_insync_replicas,
                 p->topic->name, p->index);
}

/* *required: with acks=all, set to the offset the high watermark must
 * reach before the partition is acknowledged (-1: answer now). */
static void produce_partition(od_core_t *core, od_req_t *r, od_topic_t *t,
                              const od_ProduceRequest_PartitionProduceData_t *pd, part_resp_t *out,
                              const char *topic_name, int acks, int64_t *required, char *msg,
                              size_t msgsz)
{
    *required = -1;
    out->index = pd->index;
    out->base_offset = -1;
    out->log_append_time_ms = -1;
    out->log_start_offset = -1;
    out->error_message.len = -1;
    if (od_topic_is_internal(topic_name)) { /* as Kafka's ReplicaManager: owners append, clients not */
        out->error_code = OD_ERR_INVALID_TOPIC_EXCEPTION;
        snprintf(msg, msgsz, "Cannot append to internal topic %s", topic_name);
        return;
    }
    od_partition_t *p = od_partition_led_here(core, t, pd->index, &out->error_code);
    if (!p)
        return;
    out->log_start_offset = od_partition_log_start(core, p);
    if (acks == -1 && od_repl_isr_size(p) < t->cfg.min_insync_replicas) {
        out->error_code = OD_ERR_NOT_ENOUGH_REPLICAS;
        not_enough(p, msg, msgsz);
        return;
    }
    if (pd->records.len <= 0) {
        out->error_code = OD_ERR_CORRUPT_MESSAGE;
        snprintf(msg, msgsz, "produce request without records");
        return;
    }
    const uint8_t *data = pd->records.p;
    size_t len = (size_t)pd->records.len;
    od_batch_summary_t sum;
    int rc = od_batch_validate(data, len, &sum, msg, msgsz);
    if (rc != OD_BATCH_ERR_NONE) {
        out->error_code = (int16_t)rc;
        od_logf(OD_LOG_WARN, "client %s correlation %d: produce to %s-%d rejected: %s",
                r->conn ? r->conn->peer : "?", r->hdr.correlation_id, topic_name, pd->index, msg);
        return;
    }
    if (r->hdr.api_version >= 3 && sum.batch_count != 1) {
        out->error_code = OD_ERR_INVALID_RECORD;
        snprintf(msg, msgsz, "Produce v3+ carries exactly one record batch per partition, got %d",
                 sum.batch_count);
        return;
    }
    if (sum.batch_count == 0) {
        out->error_code = OD_ERR_CORRUPT_MESSAGE;
        snprintf(msg, msgsz, "produce request without batches");
        return;
    }
    int64_t max_bytes = t->cfg.max_message_bytes;
    int16_t ec = check_sizes(data, len, max_bytes, msg, msgsz);
    if (ec != OD_ERR_NONE) {
        out->error_code = ec;
        return;
    }
    if (sum.any_transactional) {
        /* Transactions (and so transactional batches) are not offered yet;
         * InitProducerId refuses transactional ids with the same error. */
        out->error_code = OD_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
        snprintf(msg, msgsz, "transactional batches are not supported yet");
        return;
    }
    if (sum.any_control) {
        out->error_code = OD_ERR_INVALID_RECORD;
        snprintf(msg, msgsz, "clients may not produce control batches");
        return;
    }
    /* The per-record checks (od_compact_check.c): keys on compacted topics,
     * CreateTime timestamps within message.timestamp.before/after.max.ms. */
    int log_append = t->cfg.log_append_time != 0;
    od_rec_rules_t rules = {(t->cfg.cleanup_policy & OD_CLEANUP_COMPACT) != 0, !log_append,
                            od_now_ms(), ts_limit(t, t->cfg.message_timestamp_before_max_ms),
                            ts_limit(t, t->cfg.message_timestamp_after_max_ms)};
    od_rec_result_t rres;
    if ((ec = od_record_check(data, len, &rules, &rres, msg, msgsz)) != OD_ERR_NONE) {
        out->error_code = ec;
        if (rres.nerrors > 0) {
            record_errors_out(r, &rres, topic_name, pd->index, out);
            od_logf(OD_LOG_DEBUG, "client %s correlation %d: produce to %s-%d: %d record(s) refused",
                    r->conn ? r->conn->peer : "?", r->hdr.correlation_id, topic_name, pd->index,
                    (int)rres.nerrors);
            msg[0] = 0; /* error_message is set */
        }
        od_rec_result_free(&rres);
        return;
    }
    od_rec_result_free(&rres);
    /* Broker-side schema validation (core/schema/od_schema_check.c). */
    if (od_schema_produce_check(r, t, topic_name, pd->index, data, len, out))
        return;
    /* Idempotent producers (KIP-98): one batch per partition (v3+) whose
     * header names the producer; check it against the partition's state. */
    od_batch_hdr_t ph;
    od_batch_parse_header(data, len, &ph);
    int32_t last_seq = -1;
    if (ph.producer_id >= 0) {
        if (sum.batch_count != 1) {
            out->error_code = OD_ERR_INVALID_RECORD;
            snprintf(msg, msgsz, "idempotent batches need Produce v3+ (one batch per partition)");
            return;
        }
        od_pstate_t *ps = od_producer_state(core, p);
        if (!ps) {
            out->error_code = OD_ERR_KAFKA_STORAGE_ERROR;
            snprintf(msg, msgsz, "producer state unavailable");
            return;
        }
        last_seq = ph.base_sequence >= 0 ? od_pseq_add(ph.base_sequence, ph.last_offset_delta) : -1;
        od_pcheck_t pc;
        ec = od_pstate_check(ps, ph.producer_id, ph.producer_epoch, ph.base_sequence, last_seq,
                             &pc, msg, msgsz);
        if (ec != OD_ERR_NONE) {
            out->error_code = ec;
            od_logf(OD_LOG_DEBUG, "client %s: produce to %s-%d refused: %s",
                    r->conn ? r->conn->peer : "?", topic_name, pd->index, msg);
            return;
        }
        if (pc.duplicate) {
            /* Already stored: answer as the first time, append nothing. */
            out->error_code = OD_ERR_NONE;
            out->base_offset = pc.dup_first_offset;
            out->log_append_time_ms = log_append ? pc.dup_timestamp : -1;
            return;
        }
    }
    /* Placement check and Lua routes (core/route/): after the idempotence
     * check, so a deduplicated retry is not routed twice; they may replace
     * the payload (rebuilt batches owned by routed). */
    int32_t nrecords = (int32_t)sum.record_count;
    od_route_pending_t *routed = NULL;
    if ((ec = od_route_produce(r, t, topic_name, pd->index, &data, &len, &nrecords, &routed, msg,
                               msgsz)) != OD_ERR_NONE) {
        out->error_code = ec;
        return;
    }
    if (nrecords == 0) { /* every record went to a dead-letter topic */
        od_route_appended(core, routed, -1);
        od_route_done(routed);
        msg[0] = 0;
        out->error_code = OD_ERR_NONE;
        return;
    }
    if (append_denied(r, topic_name, pd->index, data, len, nrecords, msg, msgsz)) {
        od_route_done(routed);
        out->error_code = OD_ERR_INVALID_RECORD;
        return;
    }
    /* The topic's compression.type (od_produce_codec.c); recoded is owned. */
    uint8_t *recoded = NULL;
    int16_t cec = od_produce_compression(core, t, &data, &len, &recoded, msg, msgsz);
    if (cec != OD_ERR_NONE) {
        od_route_done(routed);
        out->error_code = cec;
        return;
    }
    /* Re-encoded batches (uncompressed ones above all) may have grown past
     * max.message.bytes: refused as Kafka does (RecordTooLargeException). */
    if ((recoded || routed) &&
        (ec = check_sizes(data, len, max_bytes, msg, msgsz)) != OD_ERR_NONE) {
        free(recoded);
        od_route_done(routed);
        out->error_code = ec;
        return;
    }
    int64_t append_time = log_append ? od_now_ms() : -1;
    int64_t base = od_partition_log_end(core, p);
    /* The records point into this connection's own read buffer, which the
     * broker allocated and owns; writing offsets into it in place saves a
     * copy of every produced byte. */
    uint8_t *mut = (uint8_t *)(uintptr_t)data;
    int64_t next = od_batch_assign_offsets(mut, len, base, p->leader_epoch, append_time);
    od_append_info_t info = {0};
    info.struct_size = sizeof(info);
    info.base_offset = base;
    info.last_offset = next - 1;
    info.max_timestamp = append_time >= 0 ? append_time : sum.max_timestamp;
    info.offset_of_max_timestamp =
        append_time >= 0 ? base : (sum.max_ts_rel_offset >= 0 ? base + sum.max_ts_rel_offset : base);
    info.record_count = nrecords;
    info.batch_count = sum.batch_count;
    int64_t rts, rrel;
    if (od_route_summary(routed, &info.batch_count, &rts, &rrel) && append_time < 0) {
        info.max_timestamp = rts; /* the rebuilt batches' */
        info.offset_of_max_timestamp = base + rrel;
    }
    if (od_partition_append(core, p, mut, len, &info, msg, msgsz) < 0) {
        free(recoded);
        od_route_done(routed);
        od_logf(OD_LOG_ERROR, "produce to %s-%d: append failed: %s", topic_name, pd->index, msg);
        out->error_code = OD_ERR_KAFKA_STORAGE_ERROR;
        return;
    }
    free(recoded);
    od_route_appended(core, routed, base);
    od_route_done(routed);
    od_metrics_topic_in(t, (size_t)pd->records.len, info.record_count);
    if (ph.producer_id >= 0)
        od_producer_appended(core, p, ph.producer_id, ph.producer_epoch, ph.base_sequence, last_seq,
                             base, next - 1, info.max_timestamp);
    msg[0] = 0;
    out->error_code = OD_ERR_NONE;
    out->base_offset = base;
    out->log_append_time_ms = append_time;
    if (acks == -1 && p->high_watermark < next)
        *required = next;
}

void od_h_produce(od_req_t *r, void *body)
{
    od_core_t *core = r->conn->core;
    od_ProduceRequest_t *req = body;
    int acks0 = req->acks == 0;
    od_ProduceResponse_t resp;
    od_ProduceResponse_init(&resp);
    int any_error = 0;
    int16_t global_err = OD_ERR_NONE;
    if (req->acks != 0 && req->acks != 1 && req->acks != -1)
        global_err = OD_ERR_INVALID_REQUIRED_ACKS;
    if (req->transactional_id.len >= 0)
        global_err = OD_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    int32_t nt = req->topic_data_count > 0 ? req->topic_data_count : 0;
    resp.responses = od_arena_calloc(&r->arena, nt ? (size_t)nt : 1, sizeof(*resp.responses));
    if (!resp.responses) {
        od_req_drop(r);
        return;
    }
    resp.responses_count = nt;
    /* All compressed batches of the request may inflate to at most what
     * the request could have carried uncompressed (od_batch_codec.c). */
    od_batch_budget_begin((size_t)core->conf.socket_request_max_bytes);
    size_t nparts = 0, npending = 0;
    for (int32_t i = 0; i < nt; i++)
        nparts += req->topic_data[i].partition_data_count > 0
                      ? (size_t)req->topic_data[i].partition_data_count
                      : 0;
    od_ack_pending_t *pending =
        req->acks == -1 ? od_arena_calloc(&r->arena, nparts + 1, sizeof(*pending)) : NULL;
    for (int32_t i = 0; i < nt; i++) {
        od_ProduceRequest_TopicProduceData_t *td = &req->topic_data[i];
        od_ProduceResponse_TopicProduceResponse_t *tr = &resp.responses[i];
        tr->name = td->name;
        int32_t np = td->partition_data_count > 0 ? td->partition_data_count : 0;
        tr->partition_responses = od_arena_calloc(&r->arena, np ? (size_t)np : 1,
                                                  sizeof(*tr->partition_responses));
        if (!tr->partition_responses) {
            od_batch_budget_end();
            od_req_drop(r);
            return;
        }
        tr->partition_responses_count = np;
        char name[256] = "";
        int name_ok = td->name.len > 0 &&
                      od_topic_name_valid(td->name.p, (size_t)td->name.len, NULL, 0) == OD_ERR_NONE;
        if (name_ok)
            snprintf(name, sizeof(name), "%.*s", (int)td->name.len, td->name.p);
        od_topic_t *t = name_ok ? od_image_topic(&core->image, td->name.p, (size_t)td->name.len) : NULL;
        int16_t topic_err = global_err != OD_ERR_NONE ? global_err
                            : !name_ok ? OD_ERR_INVALID_TOPIC_EXCEPTION
                            : !od_authz_topic(r, OD_ACL_OP_WRITE, td->name.p, (size_t)td->name.len)
                                ? OD_ERR_TOPIC_AUTHORIZATION_FAILED
                                : OD_ERR_NONE;
        for (int32_t j = 0; j < np; j++) {
            part_resp_t *out = &tr->partition_responses[j];
            char msg[256] = "";
            if (topic_err != OD_ERR_NONE) {
                out->index = td->partition_data[j].index;
                out->error_code = topic_err;
                out->base_offset = -1;
                out->log_append_time_ms = -1;
                out->log_start_offset = -1;
                out->error_message.len = -1;
            } else {
                int64_t required = -1;
                produce_partition(core, r, t, &td->partition_data[j], out, name, req->acks,
                                  &required, msg, sizeof(msg));
                if (required >= 0 && pending) {
                    pending[npending].p = t->partitions[td->partition_data[j].index];
                    pending[npending].required = required;
                    pending[npending].out = out;
                    npending++;
                } else if (required >= 0) { /* no memory to wait: Kafka's answer to a timeout */
                    out->error_code = OD_ERR_REQUEST_TIMED_OUT;
                }
            }
            if (out->error_code != OD_ERR_NONE) {
                any_error = 1;
                if (msg[0]) {
                    char *m = od_arena_strndup(&r->arena, msg, strlen(msg));
                    out->error_message = od_str_c(m);
                }
            }
        }
    }
    od_batch_budget_end();
    if (acks0) {
        /* No response for acks=0; on an error Kafka closes the connection
         * so that the producer notices and refreshes its metadata. */
        od_conn_t *c = r->conn;
        od_req_no_response(r);
        if (any_error)
            od_conn_close(c, "error in an acks=0 produce");
        return;
    }
    if (npending > 0 && od_acks_wait(core, r, &resp, pending, npending, req->timeout_ms) == 0)
        return; /* answered once the in-sync replicas have the batches */
    for (size_t k = 0; k < npending; k++) /* could not wait */
        pending[k].out->error_code = OD_ERR_REQUEST_TIMED_OUT;
    od_ProduceResponse_encode(&r->resp, r->hdr.api_version, &resp);
    od_req_done(r);
}
