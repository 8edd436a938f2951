/* od_h_cluster.c - DescribeCluster. */
#include <string.h>

#include "od_authz.h"
#include "od_core.h"
#include "od_handlers.h"

void od_h_describe_cluster(od_req_t *r, void *body)
{
    od_core_t *core = r->conn->core; /* answered at once: the connection is there */
    od_DescribeClusterRequest_t *req = body;
    od_DescribeClusterResponse_t resp;
    od_DescribeClusterResponse_init(&resp);
    resp.error_code = OD_ERR_NONE;
    resp.error_message.len = -1;
    resp.endpoint_type = req->endpoint_type;
    if (req->endpoint_type != 1) { /* 1 = brokers; controllers (2) are not exposed yet */
        resp.error_code = OD_ERR_UNSUPPORTED_ENDPOINT_TYPE;
        resp.error_message = od_str_c("only the broker endpoint type is served");
    }
    const char *cid = core->cp->cluster_id(core->cp_self);
    resp.cluster_id = od_str_c(cid ? cid : "");
    resp.controller_id = core->cp->controller_id(core->cp_self);
    resp.cluster_authorized_operations =
        req->include_cluster_authorized_operations ? od_authz_cluster_ops(r) : INT32_MIN;
    od_image_t *img = &core->image;
    resp.brokers = od_arena_calloc(&r->arena, img->nbrokers ? img->nbrokers : 1, sizeof(*resp.brokers));
    resp.brokers_count = 0;
    for (size_t i = 0; resp.brokers && i < img->nbrokers && resp.error_code == OD_ERR_NONE; i++) {
        const od_broker_reg_t *b = &img->brokers[i];
        if (b->fenced || b->nendpoints == 0)
            continue;
        od_DescribeClusterResponse_DescribeClusterBroker_t *o = &resp.brokers[resp.brokers_count++];
        o->broker_id = b->id;
        o->host = od_str_c(b->endpoints[0].host);
        o->port = b->endpoints[0].port;
        o->rack = od_str_c(b->rack);
    }
    od_DescribeClusterResponse_encode(&r->resp, r->hdr.api_version, &resp);
    od_req_done(r);
}
