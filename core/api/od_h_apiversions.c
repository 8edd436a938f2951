/* od_h_apiversions.c - ApiVersions, answered from the dispatch table. */
#include "od_core.h"
#include "od_dispatch.h"
#include "od_handlers.h"

void od_h_api_versions(od_req_t *r, void *body)
{
    od_ApiVersionsResponse_t resp;
    od_ApiVersionsResponse_init(&resp);
    /* body == NULL: the client asked for a version we do not have. */
    resp.error_code = body ? OD_ERR_NONE : OD_ERR_UNSUPPORTED_VERSION;
    size_t n = 0;
    while (od_dispatch_api_at(n))
        n++;
    resp.api_keys = od_arena_calloc(&r->arena, n, sizeof(*resp.api_keys));
    if (!resp.api_keys) {
        od_req_drop(r);
        return;
    }
    resp.api_keys_count = (int32_t)n;
    for (size_t i = 0; i < n; i++) {
        const od_api_entry_t *e = od_dispatch_api_at(i);
        resp.api_keys[i].api_key = e->key;
        resp.api_keys[i].min_version = e->min_ver;
        resp.api_keys[i].max_version = e->max_ver;
    }
    resp.throttle_time_ms = 0;
    od_ApiVersionsResponse_encode(&r->resp, r->hdr.api_version, &resp);
    od_req_done(r);
}
