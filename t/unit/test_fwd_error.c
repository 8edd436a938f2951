/* test_fwd_error.c - the API-shaped error answers to forwarded admin
 * requests (core/proto/od_fwd_error.c): for each forwardable API, a request
 * encoded with the generated codec gets a response that decodes and names
 * every topic, resource or partition of the request with the error (and the
 * top-level code where the API has one); other APIs are refused. */
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_envelope.h"
#include "od_fwd_error.h"
#include "tap.h"

typedef void (*enc_fn)(od_wbuf_t *w, int16_t version, const void *in);

/* The decoded answers: they live until the end of the test. */
static od_arena_t answers;

/* A fresh request of API `key`, as the forwarder holds one. */
static void begin(od_req_t *r, int16_t key, int16_t version)
{
    memset(r, 0, sizeof(*r));
    od_arena_init(&r->arena, 1 << 20);
    od_wbuf_init(&r->resp);
    r->hdr.api_key = key;
    r->hdr.api_version = version;
}

static void done(od_req_t *r)
{
    od_arena_free(&r->arena);
    od_wbuf_free(&r->resp);
}

/* Encodes `req` with `enc`, decodes it into a fresh request as the
 * forwarder does, builds the error answer and decodes it into `answers`
 * (NULL: failed). */
static void *answer(int16_t key, int16_t version, enc_fn enc, const void *req, int16_t code)
{
    od_req_t request, *r = &request;
    od_arena_t *out_arena = &answers;
    begin(r, key, version);
    od_wbuf_t w;
    od_wbuf_init(&w);
    enc(&w, version, req);
    size_t n = 0;
    uint8_t *bytes = od_wbuf_flatten(&w, &n);
    od_wbuf_free(&w);
    od_slice_t s;
    od_slice_init(&s, bytes, n);
    void *body = od_proto_decode_request(key, version, &s, &r->arena);
    void *resp = NULL;
    if (body && od_fwd_error_response(r, body, code) == 0) {
        size_t rn = 0;
        uint8_t *rb = od_wbuf_flatten(&r->resp, &rn);
        /* The decoded strings point into the bytes: they live in the arena. */
        uint8_t *keep = rb ? od_arena_alloc(out_arena, rn ? rn : 1) : NULL;
        if (keep) {
            memcpy(keep, rb, rn);
            od_slice_t rs;
            od_slice_init(&rs, keep, rn);
            resp = od_proto_decode_response(key, version, &rs, out_arena);
            if (resp && od_slice_left(&rs) != 0)
                resp = NULL; /* the answer is exactly one response body */
        }
        free(rb);
    }
    free(bytes);
    done(r);
    return resp;
}

/* answer() to the request `q` of the generated type od_<Name>Request_t. */
#define ANSWER(key, version, Name, q, code) \
    answer(key, version, (enc_fn)od_##Name##Request_encode, &(q), code)

/* Points the request array `field` of `q` at the one element `e`. */
#define ONE_OF(q, field, e) ((q).field = &(e), (q).field##_count = 1)

/* `out` = the v1 answer to a request of one config resource (type, name):
 * AlterConfigs and IncrementalAlterConfigs name their resources alike. */
#define CONFIG_ANSWER(out, key, Name, type, name, code)                        \
    do {                                                                       \
        od_##Name##Request_AlterConfigsResource_t res_;                        \
        od_##Name##Request_AlterConfigsResource_init(&res_);                   \
        res_.resource_type = (type);                                           \
        res_.resource_name = od_str_c(name);                                   \
        od_##Name##Request_t q_;                                               \
        od_##Name##Request_init(&q_);                                          \
        ONE_OF(q_, resources, res_);                                           \
        (out) = ANSWER(key, 1, Name, q_, code);                                \
    } while (0)

static int is(od_str_t s, const char *want)
{
    return s.len == (int32_t)strlen(want) && memcmp(s.p, want, (size_t)s.len) == 0;
}

int main(void)
{
    od_arena_init(&answers, 1 << 20);
    const int16_t TO = OD_ERR_REQUEST_TIMED_OUT;

    od_CreateTopicsRequest_CreatableTopic_t ct[2];
    od_CreateTopicsRequest_t cq;
    od_CreateTopicsRequest_init(&cq);
    for (int i = 0; i < 2; i++)
        od_CreateTopicsRequest_CreatableTopic_init(&ct[i]);
    ct[0].name = od_str_c("a");
    ct[1].name = od_str_c("b");
    cq.topics = ct;
    cq.topics_count = 2;
    for (int16_t v = 0; v <= 7; v += 5) {
        od_CreateTopicsResponse_t *cr = ANSWER(OD_API_CREATE_TOPICS, v, CreateTopics, cq, TO);
        tap_ok(cr && cr->topics_count == 2 && is(cr->topics[0].name, "a") &&
                   is(cr->topics[1].name, "b") && cr->topics[0].error_code == TO &&
                   cr->topics[1].error_code == TO,
               "CreateTopics v%d: each topic REQUEST_TIMED_OUT", v);
        if (v >= 1)
            tap_ok(cr && cr->topics[0].error_message.len > 0, "... with a message");
    }

    od_DeleteTopicsRequest_t dq;
    od_DeleteTopicsRequest_init(&dq);
    od_str_t names[1] = {od_str_c("gone")};
    dq.topic_names = names;
    dq.topic_names_count = 1;
    od_DeleteTopicsResponse_t *dr = ANSWER(OD_API_DELETE_TOPICS, 4, DeleteTopics, dq, TO);
    tap_ok(dr && dr->responses_count == 1 && is(dr->responses[0].name, "gone") &&
               dr->responses[0].error_code == TO,
           "DeleteTopics v4 (by name)");
    od_DeleteTopicsRequest_DeleteTopicState_t ds;
    od_DeleteTopicsRequest_DeleteTopicState_init(&ds);
    ds.name = od_str_c("gone6");
    ds.topic_id.b[15] = 7;
    od_DeleteTopicsRequest_init(&dq);
    ONE_OF(dq, topics, ds);
    dr = ANSWER(OD_API_DELETE_TOPICS, 6, DeleteTopics, dq, TO);
    tap_ok(dr && dr->responses_count == 1 && is(dr->responses[0].name, "gone6") &&
               dr->responses[0].topic_id.b[15] == 7 && dr->responses[0].error_code == TO,
           "DeleteTopics v6 (name and topic id)");

    od_CreatePartitionsRequest_CreatePartitionsTopic_t pt;
    od_CreatePartitionsRequest_CreatePartitionsTopic_init(&pt);
    pt.name = od_str_c("p");
    od_CreatePartitionsRequest_t pq;
    od_CreatePartitionsRequest_init(&pq);
    ONE_OF(pq, topics, pt);
    od_CreatePartitionsResponse_t *pr =
        ANSWER(OD_API_CREATE_PARTITIONS, 2, CreatePartitions, pq, TO);
    tap_ok(pr && pr->results_count == 1 && is(pr->results[0].name, "p") &&
               pr->results[0].error_code == TO,
           "CreatePartitions v2");

    od_AlterConfigsResponse_t *acr;
    CONFIG_ANSWER(acr, OD_API_ALTER_CONFIGS, AlterConfigs, 2, "t", TO);
    tap_ok(acr && acr->responses_count == 1 && acr->responses[0].resource_type == 2 &&
               is(acr->responses[0].resource_name, "t") && acr->responses[0].error_code == TO,
           "AlterConfigs v1");

    od_IncrementalAlterConfigsResponse_t *icr;
    CONFIG_ANSWER(icr, OD_API_INCREMENTAL_ALTER_CONFIGS, IncrementalAlterConfigs, 4, "1",
                  OD_ERR_UNKNOWN_SERVER_ERROR);
    tap_ok(icr && icr->responses_count == 1 && icr->responses[0].resource_type == 4 &&
               icr->responses[0].error_code == OD_ERR_UNKNOWN_SERVER_ERROR,
           "IncrementalAlterConfigs v1: UNKNOWN_SERVER_ERROR");

    int32_t parts[2] = {0, 3};
    od_ElectLeadersRequest_TopicPartitions_t et;
    od_ElectLeadersRequest_TopicPartitions_init(&et);
    et.topic = od_str_c("e");
    et.partitions = parts;
    et.partitions_count = 2;
    od_ElectLeadersRequest_t eq;
    od_ElectLeadersRequest_init(&eq);
    ONE_OF(eq, topic_partitions, et);
    od_ElectLeadersResponse_t *er = ANSWER(OD_API_ELECT_LEADERS, 2, ElectLeaders, eq, TO);
    tap_ok(er && er->error_code == TO && er->replica_election_results_count == 1 &&
               er->replica_election_results[0].partition_result_count == 2 &&
               er->replica_election_results[0].partition_result[1].partition_id == 3 &&
               er->replica_election_results[0].partition_result[1].error_code == TO,
           "ElectLeaders v2: top-level and per-partition codes");
    eq.topic_partitions = NULL;
    eq.topic_partitions_count = -1; /* every partition */
    er = ANSWER(OD_API_ELECT_LEADERS, 2, ElectLeaders, eq, TO);
    tap_ok(er && er->error_code == TO && er->replica_election_results_count == 0,
           "ElectLeaders for every partition: the top-level code");

    od_AlterPartitionReassignmentsRequest_ReassignablePartition_t rp;
    od_AlterPartitionReassignmentsRequest_ReassignablePartition_init(&rp);
    rp.partition_index = 5;
    od_AlterPartitionReassignmentsRequest_ReassignableTopic_t rt;
    od_AlterPartitionReassignmentsRequest_ReassignableTopic_init(&rt);
    rt.name = od_str_c("r");
    ONE_OF(rt, partitions, rp);
    od_AlterPartitionReassignmentsRequest_t rq;
    od_AlterPartitionReassignmentsRequest_init(&rq);
    ONE_OF(rq, topics, rt);
    od_AlterPartitionReassignmentsResponse_t *rr =
        ANSWER(OD_API_ALTER_PARTITION_REASSIGNMENTS, 0, AlterPartitionReassignments, rq, TO);
    tap_ok(rr && rr->error_code == TO && rr->responses_count == 1 &&
               rr->responses[0].partitions_count == 1 &&
               rr->responses[0].partitions[0].partition_index == 5 &&
               rr->responses[0].partitions[0].error_code == TO,
           "AlterPartitionReassignments v0");

    od_req_t r;
    begin(&r, OD_API_METADATA, 0);
    int dummy = 0;
    tap_is_int(od_fwd_error_response(&r, &dummy, TO), -1, "Metadata (not forwardable): refused");
    r.hdr.api_key = OD_API_CREATE_TOPICS;
    tap_is_int(od_fwd_error_response(&r, NULL, TO), -1, "no decoded body: refused");
    done(&r);
    od_arena_free(&answers);
    return tap_done();
}
