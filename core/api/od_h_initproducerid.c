/* od_h_initproducerid.c - InitProducerId (versions 0-4) for idempotent
 * producers.
 *
 * Producer ids come in blocks allocated by the active controller
 * (od_h_allocpids.c: a ProducerIdsRecord whose NextProducerId is the end of
 * the block, as Kafka's controller commits; other brokers ask with
 * AllocateProducerIds), and the broker hands ids out of its block. Requests that
 * arrive while a block is being allocated wait for it. A restart starts a
 * new block; the rest of the old one is never reused.
 *
 * Without a transactional id: a new producer id with epoch 0. With v3+ and
 * the producer id and epoch of a producer this broker handed out (KIP-360),
 * the epoch is bumped instead (a retry of that bump gets the same answer);
 * an older epoch is INVALID_PRODUCER_EPOCH; an id this broker does not know
 * (e.g. from before a restart) gets a new producer id, as Kafka answers
 * non-transactional producers.
 *
 * Transactional ids: transactions are not implemented yet. The answer is
 * TRANSACTIONAL_ID_AUTHORIZATION_FAILED, which clients treat as fatal and
 * report plainly ("Transactional Id authorization failed"); a retriable
 * error (COORDINATOR_NOT_AVAILABLE) would make them retry forever. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_authz.h"
#include "od_core.h"
#include "od_dispatch.h"
#include "od_handlers.h"
#include "od_producer.h"

#define EPOCH_MAX 32766 /* Kafka bumps to a new id once the epoch would reach Short.MAX */

/* ---- the broker's producer-id state, hung off the core ----
 *
 * The registry of handed-out ids (for epoch bumps), the broker's block of
 * ids and the requests waiting for a block, in one struct that
 * core->pids points to (made on the first InitProducerId, freed by
 * od_initpid_reset at shutdown). */

typedef struct pid_rec {
    int64_t pid;
    int16_t epoch;
    int64_t last_ms;
} pid_rec_t;

typedef struct waiter {
    od_req_t *r;
    od_InitProducerIdRequest_t req;
    struct waiter *next;
} waiter_t;

struct od_pid_registry {
    pid_rec_t *reg; /* sorted by pid */
    size_t nreg, capreg;
    int64_t block_next, block_end; /* [next, end) */
    int64_t proposed_start;        /* a block proposal is in flight; -1: none */
    waiter_t *waiters, **waiters_tail;
};

static od_pid_registry_t *pids_of(od_core_t *core)
{
    if (!core->pids) {
        od_pid_registry_t *pr = calloc(1, sizeof(*pr));
        if (!pr)
            return NULL;
        pr->proposed_start = -1;
        pr->waiters_tail = &pr->waiters;
        core->pids = pr;
    }
    return core->pids;
}

static pid_rec_t *reg_find(od_pid_registry_t *pr, int64_t pid)
{
    size_t lo = 0, hi = pr->nreg;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (pr->reg[mid].pid == pid)
            return &pr->reg[mid];
        if (pr->reg[mid].pid < pid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Ids are handed out in increasing order, so appending keeps it sorted. */
static int reg_add(od_pid_registry_t *pr, int64_t pid, int16_t epoch, int64_t now)
{
    if (pr->nreg && pr->reg[pr->nreg - 1].pid >= pid)
        return -1;
    if (pr->nreg == pr->capreg) {
        size_t c = pr->capreg ? pr->capreg * 2 : 64;
        pid_rec_t *n = realloc(pr->reg, c * sizeof(*n));
        if (!n)
            return -1;
        pr->reg = n;
        pr->capreg = c;
    }
    pr->reg[pr->nreg++] = (pid_rec_t){pid, epoch, now};
    return 0;
}

void od_initpid_expire(od_core_t *core, int64_t now_ms, int64_t max_idle_ms)
{
    od_pid_registry_t *pr = core->pids;
    if (!pr)
        return;
    size_t w = 0;
    for (size_t i = 0; i < pr->nreg; i++)
        if (now_ms - pr->reg[i].last_ms <= max_idle_ms)
            pr->reg[w++] = pr->reg[i];
    pr->nreg = w;
}

void od_initpid_reset(od_core_t *core)
{
    od_pids_alloc_free(core);
    od_pid_registry_t *pr = core->pids;
    if (!pr)
        return;
    free(pr->reg);
    /* Waiting requests belong to connections that are gone by now. */
    while (pr->waiters) {
        waiter_t *w = pr->waiters;
        pr->waiters = w->next;
        od_req_free(w->r);
        free(w);
    }
    free(pr);
    core->pids = NULL;
}

static void respond(od_req_t *r, int16_t err, int64_t pid, int16_t epoch)
{
    if (!r->conn) {
        od_req_free(r);
        return;
    }
    od_InitProducerIdResponse_t resp;
    od_InitProducerIdResponse_init(&resp);
    resp.error_code = err;
    resp.producer_id = err == OD_ERR_NONE ? pid : -1;
    resp.producer_epoch = err == OD_ERR_NONE ? epoch : -1;
    od_InitProducerIdResponse_encode(&r->resp, r->hdr.api_version, &resp);
    od_req_done(r);
}

/* Answer r if an id is at hand; 0 when it must wait for a block. */
static int try_answer(od_pid_registry_t *pr, od_req_t *r, const od_InitProducerIdRequest_t *req)
{
    int64_t now = od_now_ms();
    if (r->hdr.api_version >= 3 && req->producer_id >= 0) {
        pid_rec_t *e = reg_find(pr, req->producer_id);
        if (e && req->producer_epoch == e->epoch && e->epoch < EPOCH_MAX) {
            e->epoch++;
            e->last_ms = now;
            respond(r, OD_ERR_NONE, e->pid, e->epoch);
            return 1;
        }
        if (e && req->producer_epoch == e->epoch - 1) { /* our answer to a bump got lost */
            e->last_ms = now;
            respond(r, OD_ERR_NONE, e->pid, e->epoch);
            return 1;
        }
        if (e && req->producer_epoch < e->epoch) {
            respond(r, OD_ERR_INVALID_PRODUCER_EPOCH, -1, -1);
            return 1;
        }
        /* Unknown here, or its epoch is exhausted: a new id. */
    }
    if (pr->block_next >= pr->block_end)
        return 0;
    int64_t pid = pr->block_next++;
    reg_add(pr, pid, 0, now);
    respond(r, OD_ERR_NONE, pid, 0);
    return 1;
}

static int propose_block(od_core_t *core, char *err, size_t errsz);

static void block_allocated(void *arg, int16_t code, int64_t start, int32_t len)
{
    od_core_t *core = arg;
    od_pid_registry_t *pr = core->pids;
    if (!pr)
        return; /* shut down meanwhile */
    int16_t err = code;
    if (err == OD_ERR_NONE) {
        pr->block_next = start;
        pr->block_end = start + len;
    } else {
        od_logf(OD_LOG_WARN, "no producer id block from the active controller: %s",
                od_err_name(code));
        err = OD_ERR_COORDINATOR_NOT_AVAILABLE;
    }
    pr->proposed_start = -1;
    /* Answer waiters in order; if the block runs out again, the rest wait
     * for the next one. */
    while (pr->waiters) {
        waiter_t *w = pr->waiters;
        if (err == OD_ERR_NONE && !try_answer(pr, w->r, &w->req))
            break;
        if (err != OD_ERR_NONE)
            respond(w->r, err, -1, -1);
        pr->waiters = w->next;
        free(w);
    }
    if (!pr->waiters) {
        pr->waiters_tail = &pr->waiters;
        return;
    }
    char why[256];
    if (pr->proposed_start < 0 && propose_block(core, why, sizeof(why)) < 0) {
        od_logf(OD_LOG_WARN, "cannot ask for a producer id block: %s", why);
        block_allocated(core, OD_ERR_COORDINATOR_NOT_AVAILABLE, -1, 0);
    }
}

static void wait_for_block(od_core_t *core, od_pid_registry_t *pr, od_req_t *r,
                           const od_InitProducerIdRequest_t *req)
{
    waiter_t *w = calloc(1, sizeof(*w));
    if (!w) {
        respond(r, OD_ERR_COORDINATOR_NOT_AVAILABLE, -1, -1);
        return;
    }
    w->r = r;
    w->req = *req; /* strings point into the kept frame (may_wait) */
    *pr->waiters_tail = w;
    pr->waiters_tail = &w->next;
    char why[256];
    if (pr->proposed_start < 0 && propose_block(core, why, sizeof(why)) < 0) {
        od_logf(OD_LOG_WARN, "cannot ask for a producer id block: %s", why);
        block_allocated(core, OD_ERR_COORDINATOR_NOT_AVAILABLE, -1, 0);
    }
}

/* A block from the active controller (od_h_allocpids.c): committed here
 * when this node is the controller, else asked for with AllocateProducerIds. */
static int propose_block(od_core_t *core, char *err, size_t errsz)
{
    core->pids->proposed_start = 0; /* in flight */
    if (od_pids_allocate(core, block_allocated, core) < 0) {
        snprintf(err, errsz, "no control plane to allocate from");
        if (core->pids)
            core->pids->proposed_start = -1;
        return -1;
    }
    return 0;
}

void od_h_init_producer_id(od_req_t *r, void *body)
{
    od_core_t *core = r->conn->core;
    od_InitProducerIdRequest_t *req = body;
    if (req->transactional_id.len >= 0) {
        od_logf(OD_LOG_INFO, "client %s: InitProducerId with transactional.id '%.*s' refused: "
                "transactions are not supported yet", r->conn->peer,
                (int)req->transactional_id.len, req->transactional_id.p);
        respond(r, OD_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED, -1, -1);
        return;
    }
    if (!od_authz_idempotent(r)) {
        respond(r, OD_ERR_CLUSTER_AUTHORIZATION_FAILED, -1, -1);
        return;
    }
    if (r->hdr.api_version >= 3 && (req->producer_id >= 0) != (req->producer_epoch >= 0)) {
        respond(r, OD_ERR_INVALID_REQUEST, -1, -1);
        return;
    }
    od_pid_registry_t *pr = pids_of(core);
    if (!pr) {
        respond(r, OD_ERR_COORDINATOR_NOT_AVAILABLE, -1, -1);
        return;
    }
    if (pr->waiters || !try_answer(pr, r, req))
        wait_for_block(core, pr, r, req);
}
