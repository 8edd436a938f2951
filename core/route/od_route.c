/* od_route.c - the routing step of the produce path (doc/routing.md):
 * the placement check, then the topic's Lua routes, then (after the
 * original append, in the same loop turn, before the answer) the copies
 * and dead letters.
 *
 * Nothing of a batch a route rejects, or whose routes fail, is appended
 * anywhere. Copies are at least once across crashes: the route checkpoint
 * (od_route_checkpoint.c) replays the routes of what a crash may have left
 * without copies. A copy that cannot be appended (no leader here, too
 * large, denied by a module, a storage error) is logged and counted. A
 * retry the idempotence check answers as a duplicate never reaches the
 * routes, so it makes no second copy. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "od_conn.h"
#include "od_core.h"
#include "od_ext.h"
#include "od_lua.h"
#include "od_route_int.h"
#include "od_topic_config.h"

static int64_t copies_max = 8;

static od_conf_def_t route_defs[] = {
    {"route.copies.max", OD_CONF_INT, "8", 0, 256, NULL,
     "copies (rec:copy) one record may ask for in a Lua route; more fails the route",
     &copies_max, 0},
};

int od_route_register_config(od_core_t *core, char *err, size_t errsz)
{
    if (od_config_register(&core->config, route_defs, sizeof(route_defs) / sizeof(route_defs[0]),
                           "core", err, errsz) < 0)
        return -1;
    return od_route_forward_register_config(core, err, errsz);
}

int od_route_start(od_core_t *core, char *err, size_t errsz)
{
    /* The forwarder first: the replay may forward copies. */
    if (od_route_forward_start(core) < 0) {
        snprintf(err, errsz, "cannot start the route forwarder");
        return -1;
    }
    return od_route_checkpoint_start(core, err, errsz);
}

void od_route_tick(od_core_t *core, int64_t now_ms)
{
    od_route_forward_tick(core);
    od_route_checkpoint_tick(core, now_ms);
}

void od_route_stop(od_core_t *core)
{
    /* The checkpoints first, held where forwarded copies are pending. */
    od_route_checkpoint_stop(core);
    od_route_forward_stop(core);
}

int od_route_copies_max(void) { return (int)copies_max; }

int64_t od_route_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct od_route_pending {
    const od_client_t *client; /* the producer (for the copies' APPEND event) */
    od_route_set_t set;
    od_route_buf_t rebuilt;
    char topic[256];
    int32_t partition;
};

void od_route_done(od_route_pending_t *p)
{
    if (!p)
        return;
    od_route_set_free(&p->set);
    free(p->rebuilt.p);
    free(p);
}

int od_route_summary(const od_route_pending_t *p, int32_t *batches, int64_t *max_ts,
                     int64_t *rel_offset)
{
    if (!p || !p->rebuilt.p)
        return 0;
    int32_t nb = 0;
    int64_t kept = 0;
    *max_ts = -1;
    *rel_offset = 0;
    for (size_t b = 0; b < p->set.nbatches; b++) {
        const od_route_batch_t *bt = &p->set.batches[b];
        int any = 0;
        for (size_t i = bt->first; i < bt->first + bt->count; i++) {
            const od_route_rec_t *r = &p->set.recs[i];
            if (r->action != OD_ROUTE_ACCEPT)
                continue;
            any = 1;
            if (r->timestamp > *max_ts) {
                *max_ts = r->timestamp;
                *rel_offset = kept;
            }
            kept++;
        }
        nb += any;
    }
    *batches = nb;
    return 1;
}

/* Run the routes; OD_ERR_NONE or INVALID_RECORD with msg. */
static int16_t run_routes(od_lua_vm_t *vm, const od_client_t *c, const char *topic,
                          int32_t partition, od_route_set_t *s, char *msg, size_t msgsz)
{
    size_t rejected;
    int64_t t0 = od_route_now_ns();
    int rc = od_lua_vm_route(vm, topic, c->principal ? c->principal : "User:ANONYMOUS", s->recs,
                             s->nrecs, od_route_copies_max(), &rejected);
    od_route_metric("route", topic, OD_RMETRIC_CALLS, 1);
    od_route_metric("route", topic, OD_RMETRIC_NS, (uint64_t)(od_route_now_ns() - t0));
    if (rc < 0) {
        const char *where;
        const char *e = od_lua_vm_error(vm, &where);
        od_route_metric("route", topic, OD_RMETRIC_ERRORS, 1);
        od_logf(OD_LOG_ERROR, "lua route %s (%s) failed on a batch of %zu record(s) to %s-%d "
                "from client '%s' (%s): %s; the batch is rejected", topic,
                where ? where : "?", s->nrecs, topic, (int)partition,
                c->client_id ? c->client_id : "", c->principal ? c->principal : "?", e);
        snprintf(msg, msgsz, "route script failed: %s", e);
        return OD_ERR_INVALID_RECORD;
    }
    if (rejected < s->nrecs) {
        od_route_metric("route", topic, OD_RMETRIC_REJECTS, 1);
        const char *why = s->recs[rejected].reason;
        snprintf(msg, msgsz, "%s", why ? why : "rejected by a route script");
        od_logf(OD_LOG_DEBUG, "lua route %s rejected record %zu of a batch to %s-%d: %s", topic,
                rejected, topic, (int)partition, msg);
        return OD_ERR_INVALID_RECORD;
    }
    return OD_ERR_NONE;
}

int16_t od_route_produce(od_req_t *r, od_topic_t *t, const char *topic, int32_t partition,
                         const uint8_t **data, size_t *len, int32_t *nrecords,
                         od_route_pending_t **pending, char *msg, size_t msgsz)
{
    od_core_t *core = r->core;
    *pending = NULL;
    const char *pname = od_topic_config_value(core, t, "placement.partitioner", NULL);
    int place = pname && pname[0];
    od_lua_vm_t *vm = od_lua_current(core);
    int routed = vm && od_lua_vm_hooks(vm, "route", topic) > 0;
    if (!place && !routed)
        return OD_ERR_NONE;
    /* Copies another broker's routes forwarded here are not routed (nor
     * placement-checked) again: routes copying to each other cannot loop. */
    int forwarded = od_route_forwarded_request(r);
    if (forwarded > 0)
        return OD_ERR_NONE;
    if (forwarded < 0) {
        snprintf(msg, msgsz, "forwarded route copies need CLUSTER_ACTION on the cluster");
        return OD_ERR_CLUSTER_AUTHORIZATION_FAILED;
    }
    if (routed && od_route_forward_full()) {
        /* Refused before anything is appended, so every appended record's
         * copies are accounted for; producers retry NOT_ENOUGH_REPLICAS. */
        od_route_metric("route", topic, OD_RMETRIC_REFUSED, 1);
        snprintf(msg, msgsz, "route copies waiting for other brokers fill "
                 "route.forward.buffer.bytes; retry");
        return OD_ERR_NOT_ENOUGH_REPLICAS;
    }
    const od_client_t *c = r->conn ? &r->conn->client : od_ext_nobody();
    od_route_pending_t *p = od_route_pending_new(topic, partition, c);
    if (!p) {
        snprintf(msg, msgsz, "out of memory");
        return OD_ERR_UNKNOWN_SERVER_ERROR;
    }
    if (od_route_decode(*data, *len, partition, *nrecords, &p->set, msg, msgsz) < 0) {
        od_route_done(p);
        return OD_ERR_UNKNOWN_SERVER_ERROR;
    }
    int16_t ec = OD_ERR_NONE;
    if (place) {
        const char *act = od_topic_config_value(core, t, "placement.action", NULL);
        int reject = !act || strcmp(act, "warn") != 0;
        ec = od_route_place_check(core, c, t, topic, pname, reject, &p->set, msg, msgsz);
    }
    if (ec == OD_ERR_NONE && routed) {
        if (partition >= 0 && partition < t->npartitions)
            od_route_checkpoint_touch(core, t->partitions[partition]);
        ec = run_routes(vm, c, topic, partition, &p->set, msg, msgsz);
    }
    if (ec != OD_ERR_NONE) {
        od_route_done(p);
        return ec;
    }
    int rebuild = 0, later = 0; /* later: copies or dead letters after the append */
    for (size_t i = 0; i < p->set.nrecs; i++) {
        const od_route_rec_t *rec = &p->set.recs[i];
        rebuild |= rec->hdrs_changed || rec->action == OD_ROUTE_DLQ;
        later |= rec->ncopies > 0 || rec->action == OD_ROUTE_DLQ;
    }
    if (rebuild) {
        int32_t kept;
        if (od_route_rebuild(&p->set, &p->rebuilt, &kept, msg, msgsz) < 0) {
            od_route_done(p);
            return OD_ERR_INVALID_RECORD;
        }
        *data = p->rebuilt.p;
        *len = p->rebuilt.len;
        *nrecords = kept;
    }
    if (!rebuild && !later) {
        od_route_done(p);
        return OD_ERR_NONE;
    }
    *pending = p;
    return OD_ERR_NONE;
}

/* ---- after the original append: copies and dead letters ---- */

od_route_pending_t *od_route_pending_new(const char *topic, int32_t partition,
                                         const od_client_t *client)
{
    od_route_pending_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    snprintf(p->topic, sizeof(p->topic), "%s", topic);
    p->partition = partition;
    p->client = client;
    return p;
}

od_route_set_t *od_route_pending_set(od_route_pending_t *p) { return &p->set; }

/* Copies (and, with dlq, dead letters) of the records of p; each
 * record's offset is set. */
static void follow_up(od_core_t *core, od_route_pending_t *p, int dlq)
{
    char part[16];
    snprintf(part, sizeof(part), "%d", (int)p->partition);
    int64_t budget = OD_LUA_BUDGET_UNSET; /* Lua partitioners: one budget for the batch */
    od_route_outbox_t ob;
    od_route_outbox_init(&ob, core, p->client, p->topic, p->partition);
    for (size_t i = 0; i < p->set.nrecs; i++) {
        const od_route_rec_t *rec = &p->set.recs[i];
        if (rec->action == OD_ROUTE_DLQ && dlq) {
            const char *why = rec->reason ? rec->reason : "dead-lettered by a route";
            od_route_hdr_t extra[] = {
                {"odradek.dlq.reason", 18, (char *)why, strlen(why)},
                {"odradek.dlq.topic", 17, p->topic, strlen(p->topic)},
                {"odradek.dlq.partition", 21, part, strlen(part)},
            };
            int32_t n = od_route_copy_target(core, rec->dlq_topic);
            od_route_outbox_add(&ob, rec->dlq_topic, NULL, NULL, n > 0 ? p->partition % n : -1,
                                rec, 0, NULL, 0, extra, 3, 1);
            continue;
        }
        if (rec->action != OD_ROUTE_ACCEPT)
            continue;
        /* Where the copy comes from; it also keeps the copy from being
         * routed again by a replay (od_route_checkpoint.c). */
        char of[300];
        int ofn = snprintf(of, sizeof(of), "%s/%d/%" PRId64, p->topic, (int)p->partition,
                           rec->offset);
        od_route_hdr_t src = {"odradek.copy.of", 15, of, (size_t)ofn};
        for (size_t j = 0; j < rec->ncopies; j++) {
            const od_route_copy_t *c = &rec->copies[j];
            od_route_outbox_add(&ob, c->topic, c->partitioner, &budget, -1, rec, c->rekey,
                                c->key, c->key_len, &src, 1, 0);
        }
    }
    od_route_outbox_flush(&ob);
}

void od_route_appended(od_core_t *core, od_route_pending_t *p, int64_t base)
{
    if (!p)
        return;
    int64_t next = base;
    for (size_t i = 0; i < p->set.nrecs; i++)
        if (p->set.recs[i].action == OD_ROUTE_ACCEPT)
            p->set.recs[i].offset = next++;
    follow_up(core, p, 1);
}

void od_route_copies_only(od_core_t *core, od_route_pending_t *p) { follow_up(core, p, 0); }
