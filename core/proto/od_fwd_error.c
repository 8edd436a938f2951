/* od_fwd_error.c - the answer a broker gives its client when a request it
 * forwarded to the active controller got no usable answer (no controller
 * within request.timeout.ms, an EnvelopeResponse error, a malformed answer).
 *
 * Kafka's forwarding broker answers such a request with the API's own error
 * response (AbstractRequest.getErrorResponse): every topic, resource or
 * partition the request named gets the error code and its message, and
 * APIs with a top-level error code get it there too. Clients then handle it
 * as any other per-item error (retry on REQUEST_TIMED_OUT), and the
 * connection stays usable. */
#include "od_fwd_error.h"

#include "od_core.h"
#include "od_envelope.h"

#define ALLOC(r, n, type) od_arena_calloc(&(r)->arena, (size_t)(n) ? (size_t)(n) : 1, sizeof(type))

static int create_topics(od_req_t *r, const od_CreateTopicsRequest_t *q, int16_t code,
                         od_str_t msg)
{
    od_CreateTopicsResponse_t resp;
    od_CreateTopicsResponse_init(&resp);
    resp.topics = ALLOC(r, q->topics_count, *resp.topics);
    if (!resp.topics)
        return -1;
    resp.topics_count = q->topics_count;
    for (int32_t i = 0; i < q->topics_count; i++) {
        od_CreateTopicsResponse_CreatableTopicResult_init(&resp.topics[i]);
        resp.topics[i].name = q->topics[i].name;
        resp.topics[i].error_code = code;
        resp.topics[i].error_message = msg;
    }
    od_CreateTopicsResponse_encode(&r->resp, r->hdr.api_version, &resp);
    return 0;
}

static int delete_topics(od_req_t *r, const od_DeleteTopicsRequest_t *q, int16_t code,
                         od_str_t msg)
{
    /* v6+ names topics as (name, id) pairs, earlier versions by name. */
    int by_state = q->topics_count > 0;
    int32_t n = by_state ? q->topics_count : q->topic_names_count;
    od_DeleteTopicsResponse_t resp;
    od_DeleteTopicsResponse_init(&resp);
    resp.responses = ALLOC(r, n, *resp.responses);
    if (!resp.responses)
        return -1;
    resp.responses_count = n;
    for (int32_t i = 0; i < n; i++) {
        od_DeleteTopicsResponse_DeletableTopicResult_init(&resp.responses[i]);
        if (by_state) {
            resp.responses[i].name = q->topics[i].name;
            resp.responses[i].topic_id = q->topics[i].topic_id;
        } else {
            resp.responses[i].name = q->topic_names[i];
        }
        resp.responses[i].error_code = code;
        resp.responses[i].error_message = msg;
    }
    od_DeleteTopicsResponse_encode(&r->resp, r->hdr.api_version, &resp);
    return 0;
}

static int create_partitions(od_req_t *r, const od_CreatePartitionsRequest_t *q, int16_t code,
                             od_str_t msg)
{
    od_CreatePartitionsResponse_t resp;
    od_CreatePartitionsResponse_init(&resp);
    resp.results = ALLOC(r, q->topics_count, *resp.results);
    if (!resp.results)
        return -1;
    resp.results_count = q->topics_count;
    for (int32_t i = 0; i < q->topics_count; i++) {
        od_CreatePartitionsResponse_CreatePartitionsTopicResult_init(&resp.results[i]);
        resp.results[i].name = q->topics[i].name;
        resp.results[i].error_code = code;
        resp.results[i].error_message = msg;
    }
    od_CreatePartitionsResponse_encode(&r->resp, r->hdr.api_version, &resp);
    return 0;
}

static int alter_configs(od_req_t *r, const od_AlterConfigsRequest_t *q, int16_t code,
                         od_str_t msg)
{
    od_AlterConfigsResponse_t resp;
    od_AlterConfigsResponse_init(&resp);
    resp.responses = ALLOC(r, q->resources_count, *resp.responses);
    if (!resp.responses)
        return -1;
    resp.responses_count = q->resources_count;
    for (int32_t i = 0; i < q->resources_count; i++) {
        od_AlterConfigsResponse_AlterConfigsResourceResponse_init(&resp.responses[i]);
        resp.responses[i].resource_type = q->resources[i].resource_type;
        resp.responses[i].resource_name = q->resources[i].resource_name;
        resp.responses[i].error_code = code;
        resp.responses[i].error_message = msg;
    }
    od_AlterConfigsResponse_encode(&r->resp, r->hdr.api_version, &resp);
    return 0;
}

static int incremental_alter_configs(od_req_t *r, const od_IncrementalAlterConfigsRequest_t *q,
                                     int16_t code, od_str_t msg)
{
    od_IncrementalAlterConfigsResponse_t resp;
    od_IncrementalAlterConfigsResponse_init(&resp);
    resp.responses = ALLOC(r, q->resources_count, *resp.responses);
    if (!resp.responses)
        return -1;
    resp.responses_count = q->resources_count;
    for (int32_t i = 0; i < q->resources_count; i++) {
        od_IncrementalAlterConfigsResponse_AlterConfigsResourceResponse_init(&resp.responses[i]);
        resp.responses[i].resource_type = q->resources[i].resource_type;
        resp.responses[i].resource_name = q->resources[i].resource_name;
        resp.responses[i].error_code = code;
        resp.responses[i].error_message = msg;
    }
    od_IncrementalAlterConfigsResponse_encode(&r->resp, r->hdr.api_version, &resp);
    return 0;
}

static int elect_leaders(od_req_t *r, const od_ElectLeadersRequest_t *q, int16_t code,
                         od_str_t msg)
{
    od_ElectLeadersResponse_t resp;
    od_ElectLeadersResponse_init(&resp);
    resp.error_code = code; /* v1+; v0 carries the code per partition only */
    /* A null topic list (every partition) is answered with the top-level code. */
    int32_t nt = q->topic_partitions_count > 0 ? q->topic_partitions_count : 0;
    resp.replica_election_results = ALLOC(r, nt, *resp.replica_election_results);
    if (!resp.replica_election_results)
        return -1;
    resp.replica_election_results_count = nt;
    for (int32_t i = 0; i < nt; i++) {
        const od_ElectLeadersRequest_TopicPartitions_t *t = &q->topic_partitions[i];
        od_ElectLeadersResponse_ReplicaElectionResult_t *o = &resp.replica_election_results[i];
        od_ElectLeadersResponse_ReplicaElectionResult_init(o);
        o->topic = t->topic;
        o->partition_result = ALLOC(r, t->partitions_count, *o->partition_result);
        if (!o->partition_result)
            return -1;
        o->partition_result_count = t->partitions_count;
        for (int32_t j = 0; j < t->partitions_count; j++) {
            od_ElectLeadersResponse_PartitionResult_init(&o->partition_result[j]);
            o->partition_result[j].partition_id = t->partitions[j];
            o->partition_result[j].error_code = code;
            o->partition_result[j].error_message = msg;
        }
    }
    od_ElectLeadersResponse_encode(&r->resp, r->hdr.api_version, &resp);
    return 0;
}

static int alter_reassignments(od_req_t *r, const od_AlterPartitionReassignmentsRequest_t *q,
                               int16_t code, od_str_t msg)
{
    od_AlterPartitionReassignmentsResponse_t resp;
    od_AlterPartitionReassignmentsResponse_init(&resp);
    resp.error_code = code;
    resp.error_message = msg;
    resp.responses = ALLOC(r, q->topics_count, *resp.responses);
    if (!resp.responses)
        return -1;
    resp.responses_count = q->topics_count;
    for (int32_t i = 0; i < q->topics_count; i++) {
        const od_AlterPartitionReassignmentsRequest_ReassignableTopic_t *t = &q->topics[i];
        od_AlterPartitionReassignmentsResponse_ReassignableTopicResponse_t *o = &resp.responses[i];
        od_AlterPartitionReassignmentsResponse_ReassignableTopicResponse_init(o);
        o->name = t->name;
        o->partitions = ALLOC(r, t->partitions_count, *o->partitions);
        if (!o->partitions)
            return -1;
        o->partitions_count = t->partitions_count;
        for (int32_t j = 0; j < t->partitions_count; j++) {
            od_AlterPartitionReassignmentsResponse_ReassignablePartitionResponse_init(
                &o->partitions[j]);
            o->partitions[j].partition_index = t->partitions[j].partition_index;
            o->partitions[j].error_code = code;
            o->partitions[j].error_message = msg;
        }
    }
    od_AlterPartitionReassignmentsResponse_encode(&r->resp, r->hdr.api_version, &resp);
    return 0;
}

int od_fwd_error_response(od_req_t *r, const void *body, int16_t code)
{
    if (!body)
        return -1;
    od_str_t msg = od_str_c(od_err_message(code));
    int rc;
    switch (r->hdr.api_key) {
    case OD_API_CREATE_TOPICS:
        rc = create_topics(r, body, code, msg);
        break;
    case OD_API_DELETE_TOPICS:
        rc = delete_topics(r, body, code, msg);
        break;
    case OD_API_CREATE_PARTITIONS:
        rc = create_partitions(r, body, code, msg);
        break;
    case OD_API_ALTER_CONFIGS:
        rc = alter_configs(r, body, code, msg);
        break;
    case OD_API_INCREMENTAL_ALTER_CONFIGS:
        rc = incremental_alter_configs(r, body, code, msg);
        break;
    case OD_API_ELECT_LEADERS:
        rc = elect_leaders(r, body, code, msg);
        break;
    case OD_API_ALTER_PARTITION_REASSIGNMENTS:
        rc = alter_reassignments(r, body, code, msg);
        break;
    default:
        return -1; /* od_envelope_forwardable() and this switch name the same APIs */
    }
    return rc < 0 || r->resp.err ? -1 : 0;
}
