/* od_h_apiversions.c - ApiVersions, answered from the dispatch table. */
#include "od_core.h"
#include "od_cp_route.h"
#include "od_dispatch.h"
#include "od_handlers.h"
#include "od_net.h"

void od_h_api_versions(od_req_t *r, void *body)
{
    od_ApiVersionsResponse_t resp;
    od_ApiVersionsResponse_init(&resp);
    /* body == NULL: the client asked for a version we do not have. */
    resp.error_code = body ? OD_ERR_NONE : OD_ERR_UNSUPPORTED_VERSION;
    size_t n = 0;
    while (od_dispatch_api_at(n))
        n++;
    /* The control plane's own APIs on this listener (ABI 1.3): an entry
     * there replaces the core's range of the same key (Fetch of the
     * metadata log on the controller listener). */
    const od_controlplane_ops_t *cp = r->core->cp;
    size_t ncp = 0;
    if (r->conn && cp && cp->struct_size >= sizeof(od_controlplane_ops_t) && cp->apis)
        ncp = cp->napis;
    resp.api_keys = od_arena_calloc(&r->arena, n + ncp + 1, sizeof(*resp.api_keys));
    if (!resp.api_keys) {
        od_req_drop(r);
        return;
    }
    size_t listed = 0;
    for (size_t i = 0; i < n; i++) {
        const od_api_entry_t *e = od_dispatch_api_at(i);
        if (r->conn && !od_listener_serves(r->conn, e->key))
            continue; /* a controller listener: Kafka's controller APIs only */
        const od_cp_api_t *a = r->conn ? od_cp_api_for(r->conn, e->key) : NULL;
        resp.api_keys[listed].api_key = e->key;
        resp.api_keys[listed].min_version = a ? a->min_version : e->min_ver;
        resp.api_keys[listed].max_version = a ? a->max_version : e->max_ver;
        listed++;
    }
    n = listed;
    for (size_t i = 0; i < ncp; i++) {
        const od_cp_api_t *a = &cp->apis[i];
        if (od_dispatch_api(a->api_key) || od_cp_api_for(r->conn, a->api_key) != a)
            continue;
        resp.api_keys[n].api_key = a->api_key;
        resp.api_keys[n].min_version = a->min_version;
        resp.api_keys[n].max_version = a->max_version;
        n++;
    }
    /* Envelope is served on controller listeners only (od_envelope.c, not
     * from the API table), and Kafka lists it there only. */
    const od_proto_api_t *env = od_proto_api(OD_API_ENVELOPE);
    if (env && r->conn && r->conn->listener && r->conn->listener->spec.controller) {
        resp.api_keys[n].api_key = env->key;
        resp.api_keys[n].min_version = env->min_ver;
        resp.api_keys[n].max_version = env->max_ver;
        n++;
    }
    resp.api_keys_count = (int32_t)n;
    resp.throttle_time_ms = 0;
    od_ApiVersionsResponse_encode(&r->resp, r->hdr.api_version, &resp);
    od_req_done(r);
}
