/* od_metadata_brokers.c - brokers in the image: RegisterBrokerRecord,
 * FenceBrokerRecord and UnfenceBrokerRecord applied, this broker's own
 * registration proposed, and the records that rebuild a registration in a
 * snapshot. (The lifecycle around them is od_broker_life.c and
 * od_broker_ctl.c.) */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_metadata_int.h"
#include "od_net.h"
#include "od_route.h"

/* This process's registration is in the image and unfenced: the active
 * controller unfences a registration only once the broker's heartbeat
 * shows it has applied the metadata log up to it, so the image holds
 * everything that happened before this start (leaders moved away while
 * this broker was down among it). What the control plane replayed from
 * this node's own disk may be older than that: until then the broker
 * must not act on it for clients (answer as a leader or coordinator it no
 * longer is), and its listeners do not accept. Once caught up it stays
 * so: a broker fenced later keeps serving, as Kafka's does. */
static int apply_register(od_core_t *core, const od_RegisterBrokerRecord_t *r, char *err,
                          size_t errsz);

static void check_caught_up(od_core_t *core)
{
    if (core->caught_up)
        return;
    const od_broker_reg_t *b = od_image_broker(&core->image, (int32_t)core->conf.node_id);
    if (!b || b->fenced || memcmp(b->incarnation.b, core->incarnation, 16) != 0)
        return;
    core->caught_up = 1;
    if (core->ready) { /* else (a single node's start) the subsystems' start does this */
        od_logf(OD_LOG_INFO, "caught up with the cluster's metadata (registration %lld "
                "unfenced): accepting clients", (long long)b->epoch);
        od_route_checkpoint_caught_up(core);
    }
    od_net_listeners_rewatch(core);
}

int od_metadata_apply_register_broker(od_core_t *core, const od_RegisterBrokerRecord_t *r,
                                      char *err, size_t errsz)
{
    int rc = apply_register(core, r, err, errsz);
    check_caught_up(core);
    return rc;
}

static int apply_register(od_core_t *core, const od_RegisterBrokerRecord_t *r, char *err,
                          size_t errsz)
{
    od_image_t *img = &core->image;
    od_broker_reg_t *b = NULL;
    int64_t nreplicas = 0, npending = 0; /* survive a re-registration */
    for (size_t i = 0; i < img->nbrokers; i++)
        if (img->brokers[i].id == r->broker_id) {
            b = &img->brokers[i];
            nreplicas = b->nreplicas;
            npending = b->npending;
            od_image_free_broker(b);
        }
    if (!b) {
        od_broker_reg_t *a = realloc(img->brokers, (img->nbrokers + 1) * sizeof(*a));
        if (!a)
            goto oom;
        img->brokers = a;
        b = &a[img->nbrokers++];
    }
    memset(b, 0, sizeof(*b));
    b->reset_seen = 1;
    b->id = r->broker_id;
    b->incarnation = r->incarnation_id;
    b->epoch = r->broker_epoch;
    /* Fenced until the active controller unfences it (its own broker and a
     * single node register unfenced; BrokerRegistration fenced). */
    b->fenced = r->fenced != 0;
    b->nreplicas = nreplicas;
    b->npending = npending;
    if (r->rack.len >= 0)
        b->rack = strndup(r->rack.p, (size_t)r->rack.len);
    if (r->end_points_count > 0) {
        b->endpoints = calloc((size_t)r->end_points_count, sizeof(*b->endpoints));
        if (!b->endpoints)
            goto oom;
        for (int32_t i = 0; i < r->end_points_count; i++) {
            const od_RegisterBrokerRecord_BrokerEndpoint_t *e = &r->end_points[i];
            od_endpoint_t *o = &b->endpoints[i];
            o->name = strndup(e->name.p, e->name.len > 0 ? (size_t)e->name.len : 0);
            o->host = strndup(e->host.p, e->host.len > 0 ? (size_t)e->host.len : 0);
            o->port = e->port;
            o->security_protocol = e->security_protocol;
            b->nendpoints++;
        }
    }
    return 0;
oom:
    snprintf(err, errsz, "out of memory");
    return -1;
}

/* FenceBrokerRecord / UnfenceBrokerRecord: for the registration
 * they name (its broker epoch); a stale one changes nothing. */
static int apply_fencing(od_core_t *core, int32_t id, int64_t epoch, int fenced)
{
    for (size_t i = 0; i < core->image.nbrokers; i++)
        if (core->image.brokers[i].id == id && core->image.brokers[i].epoch == epoch)
            core->image.brokers[i].fenced = fenced;
    check_caught_up(core);
    return 0;
}

int od_metadata_apply_fence(od_core_t *core, const od_FenceBrokerRecord_t *r, char *err,
                            size_t errsz)
{
    (void)err, (void)errsz;
    return apply_fencing(core, r->id, r->epoch, 1);
}

int od_metadata_apply_unfence(od_core_t *core, const od_UnfenceBrokerRecord_t *r, char *err,
                              size_t errsz)
{
    (void)err, (void)errsz;
    return apply_fencing(core, r->id, r->epoch, 0);
}

/* A RegisterBrokerRecord of these endpoints (at most OD_MAX_ENDPOINTS, in
 * eps) and rack; the caller sets the broker's id, incarnation, epoch and
 * fencing. */
#define OD_MAX_ENDPOINTS 16
static void broker_record(od_RegisterBrokerRecord_t *r,
                          od_RegisterBrokerRecord_BrokerEndpoint_t eps[OD_MAX_ENDPOINTS],
                          const od_endpoint_t *src, size_t n, const char *rack)
{
    od_RegisterBrokerRecord_init(r);
    if (n > OD_MAX_ENDPOINTS)
        n = OD_MAX_ENDPOINTS;
    for (size_t i = 0; i < n; i++) {
        memset(&eps[i], 0, sizeof(eps[i]));
        eps[i].name = od_str_c(src[i].name);
        eps[i].host = od_str_c(src[i].host);
        eps[i].port = (uint16_t)src[i].port;
        eps[i].security_protocol = src[i].security_protocol;
    }
    r->end_points_count = (int32_t)n;
    r->end_points = eps;
    r->features_count = 0;
    r->rack = od_str_c(rack);
}

void od_metadata_encode_broker(od_meta_batch_t *b, const od_broker_reg_t *reg)
{
    od_RegisterBrokerRecord_t r;
    od_RegisterBrokerRecord_BrokerEndpoint_t eps[OD_MAX_ENDPOINTS];
    broker_record(&r, eps, reg->endpoints, reg->nendpoints, reg->rack);
    r.broker_id = reg->id;
    r.incarnation_id = reg->incarnation;
    r.broker_epoch = reg->epoch;
    r.fenced = (int8_t)reg->fenced;
    od_wbuf_t *w = od_meta_batch_add(b, OD_METAREC_REGISTER_BROKER, 1);
    if (w)
        od_RegisterBrokerRecord_encode(w, 1, &r);
}

int od_metadata_propose_broker(od_core_t *core, od_RegisterBrokerRecord_t *r, od_meta_done_cb cb,
                               void *arg, char *err, size_t errsz)
{
    od_meta_batch_t b = {0};
    r->broker_epoch = core->image.last_offset + 1;
    od_wbuf_t *w = od_meta_batch_add(&b, OD_METAREC_REGISTER_BROKER, 1);
    if (w)
        od_RegisterBrokerRecord_encode(w, 1, r);
    return od_meta_propose(core, &b, cb, arg, err, errsz);
}

/* broker.rack, NULL when not set */
static const char *own_rack(const od_core_t *core)
{
    return core->conf.broker_rack && *core->conf.broker_rack ? core->conf.broker_rack : NULL;
}

int od_metadata_self_registered(od_core_t *core, const od_endpoint_t *eps, size_t neps)
{
    const od_broker_reg_t *cur = od_image_broker(&core->image, (int32_t)core->conf.node_id);
    int same = cur && cur->nendpoints == neps &&
               memcmp(cur->incarnation.b, core->incarnation, 16) == 0;
    for (size_t i = 0; same && i < neps; i++)
        same = strcmp(cur->endpoints[i].host, eps[i].host) == 0 &&
               cur->endpoints[i].port == eps[i].port &&
               strcmp(cur->endpoints[i].name, eps[i].name) == 0;
    const char *rack = own_rack(core);
    return same && ((cur->rack == NULL) == (rack == NULL)) && (!rack || strcmp(rack, cur->rack) == 0);
}

int od_metadata_register_self(od_core_t *core, char *err, size_t errsz)
{
    od_endpoint_t eps[8];
    size_t neps = 0;
    if (od_listeners_advertised(core, eps, 8, &neps, err, errsz) < 0)
        return -1;
    if (od_metadata_self_registered(core, eps, neps)) {
        od_listeners_advertised_free(eps, neps);
        return 0;
    }
    od_RegisterBrokerRecord_t r;
    od_RegisterBrokerRecord_BrokerEndpoint_t rep[OD_MAX_ENDPOINTS];
    broker_record(&r, rep, eps, neps, own_rack(core));
    r.broker_id = (int32_t)core->conf.node_id;
    memcpy(r.incarnation_id.b, core->incarnation, 16);
    r.fenced = 0;
    int rc = od_metadata_propose_broker(core, &r, NULL, NULL, err, errsz);
    od_listeners_advertised_free(eps, neps);
    return rc;
}
