/* od_reassign.c - moving a partition's replicas to other brokers on the
 * active controller, as Kafka's KRaft controller does it (KIP-455):
 *
 * - start: one PartitionChangeRecord whose replicas are the target followed
 *   by the original replicas not in it, with adding (target - original) and
 *   removing (original - target). New replicas create their log and follow
 *   the leader; the leader takes them into the ISR once they caught up.
 * - complete (od_reassign_tick, once every target replica is in the ISR):
 *   replicas = target, the removing ones out of the ISR, the leader moved to
 *   the first target replica in the ISR when it is itself being removed,
 *   adding and removing emptied. The dropped replicas delete their logs.
 * - cancel: back to the original replicas (the union minus adding).
 * A new target while one is in progress starts from the original replicas. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_proto_gen.h"
#include "od_repl_int.h"

#define REASSIGN_REPROPOSE_MS 5000 /* a completion not committed by then is tried again */

static int in_list(const int32_t *v, int32_t n, int32_t id)
{
    for (int32_t i = 0; i < n; i++)
        if (v[i] == id)
            return 1;
    return 0;
}

/* v without the members of minus, into out (room for nv); the new count. */
static int32_t without(const int32_t *v, int32_t nv, const int32_t *minus, int32_t nminus,
                       int32_t *out)
{
    int32_t n = 0;
    for (int32_t i = 0; i < nv; i++)
        if (!in_list(minus, nminus, v[i]))
            out[n++] = v[i];
    return n;
}

static int32_t only(const int32_t *v, int32_t nv, const int32_t *keep, int32_t nkeep, int32_t *out)
{
    int32_t n = 0;
    for (int32_t i = 0; i < nv; i++)
        if (in_list(keep, nkeep, v[i]))
            out[n++] = v[i];
    return n;
}

typedef struct change {
    const int32_t *replicas, *isr, *adding, *removing;
    int32_t nreplicas, nisr, nadding, nremoving;
    int32_t leader; /* -2: unchanged */
} change_t;

static int propose(od_core_t *core, od_partition_t *p, const change_t *c,
                   void (*cb)(void *, int, const char *), void *arg, char *err, size_t errsz)
{
    od_PartitionChangeRecord_t r;
    od_PartitionChangeRecord_init(&r);
    r.leader = c->leader;
    r.replicas = (int32_t *)c->replicas;
    r.replicas_count = c->nreplicas;
    r.isr = (int32_t *)c->isr;
    r.isr_count = c->nisr;
    r.adding_replicas = (int32_t *)c->adding;
    r.adding_replicas_count = c->nadding;
    r.removing_replicas = (int32_t *)c->removing;
    r.removing_replicas_count = c->nremoving;
    int16_t code = od_repl_propose_change(core, p, &r, cb, arg, err, errsz);
    return code == OD_ERR_NONE ? 0 : -code;
}

/* The replicas p had before the reassignment in progress (all of them when
 * none is): the union without the adding ones. */
static int32_t original(const od_partition_t *p, int32_t *out)
{
    return without(p->replicas, p->nreplicas, p->adding, p->nadding, out);
}

int od_reassign_in_progress(const od_partition_t *p)
{
    return p->nadding > 0 || p->nremoving > 0;
}

int od_reassign_start(od_core_t *core, od_partition_t *p, const int32_t *target, int32_t n,
                      void (*cb)(void *, int, const char *), void *arg, char *err, size_t errsz)
{
    if (n <= 0 || n > 64) {
        snprintf(err, errsz, "The replica list must name 1 to 64 brokers.");
        return -OD_ERR_INVALID_REPLICA_ASSIGNMENT;
    }
    for (int32_t i = 0; i < n; i++) {
        const od_broker_reg_t *b = od_image_broker(&core->image, target[i]);
        if (in_list(target, i, target[i]) || !b || b->fenced) {
            snprintf(err, errsz, "Invalid replica assignment: broker %d is %s.", target[i],
                     in_list(target, i, target[i]) ? "listed twice"
                     : !b ? "not registered" : "fenced");
            return -OD_ERR_INVALID_REPLICA_ASSIGNMENT;
        }
    }
    int32_t *orig = malloc(sizeof(int32_t) * (size_t)(p->nreplicas + 1));
    int32_t *uni = malloc(sizeof(int32_t) * (size_t)(p->nreplicas + n));
    int32_t *add = malloc(sizeof(int32_t) * (size_t)n);
    int32_t *rem = malloc(sizeof(int32_t) * (size_t)(p->nreplicas + 1));
    int32_t *isr = malloc(sizeof(int32_t) * (size_t)(p->nisr + 1));
    int rc = 0;
    if (!orig || !uni || !add || !rem || !isr) {
        snprintf(err, errsz, "out of memory");
        rc = -OD_ERR_NOT_CONTROLLER; /* as od_repl_propose_change says it */
        goto out;
    }
    int32_t norig = original(p, orig);
    change_t c = {.leader = -2};
    int same_set = n == norig;
    for (int32_t i = 0; same_set && i < n; i++)
        same_set = in_list(orig, norig, target[i]);
    if (same_set) {
        /* A new order of the original replicas: committed at once (and
         * cancels a move in progress, as Kafka's does). */
        if (!od_reassign_in_progress(p) &&
            memcmp(target, p->replicas, (size_t)n * sizeof(*target)) == 0) {
            rc = 1; /* already so */
            goto out;
        }
        c.replicas = target;
        c.nreplicas = n;
        c.nisr = only(p->isr, p->nisr, target, n, isr);
        c.isr = isr;
        if (!in_list(target, n, p->leader))
            c.leader = c.nisr > 0 ? isr[0] : -1;
    } else {
        memcpy(uni, target, (size_t)n * sizeof(*target));
        int32_t nuni = n + without(orig, norig, target, n, uni + n);
        c.replicas = uni;
        c.nreplicas = nuni;
        c.nisr = only(p->isr, p->nisr, uni, nuni, isr);
        c.isr = isr;
        if (!in_list(uni, nuni, p->leader))
            c.leader = c.nisr > 0 ? isr[0] : -1;
        c.nadding = without(target, n, orig, norig, add);
        c.nremoving = without(orig, norig, target, n, rem);
    }
    c.adding = add;
    c.removing = rem;
    rc = propose(core, p, &c, cb, arg, err, errsz);
out:
    free(orig);
    free(uni);
    free(add);
    free(rem);
    free(isr);
    return rc;
}

int od_reassign_cancel(od_core_t *core, od_partition_t *p, void (*cb)(void *, int, const char *),
                       void *arg, char *err, size_t errsz)
{
    if (!od_reassign_in_progress(p)) {
        snprintf(err, errsz, "No reassignment is in progress for this partition.");
        return -OD_ERR_NO_REASSIGNMENT_IN_PROGRESS;
    }
    int32_t *orig = malloc(sizeof(int32_t) * (size_t)(p->nreplicas + 1));
    int32_t *isr = malloc(sizeof(int32_t) * (size_t)(p->nisr + 1));
    if (!orig || !isr) {
        free(orig);
        free(isr);
        snprintf(err, errsz, "out of memory");
        return -OD_ERR_NOT_CONTROLLER; /* as od_repl_propose_change says it */
    }
    change_t c = {.leader = -2, .adding = orig, .removing = orig};
    c.nreplicas = original(p, orig);
    c.replicas = orig;
    c.nisr = only(p->isr, p->nisr, orig, c.nreplicas, isr);
    c.isr = isr;
    if (!in_list(orig, c.nreplicas, p->leader))
        c.leader = c.nisr > 0 ? isr[0] : -1;
    int rc = propose(core, p, &c, cb, arg, err, errsz);
    free(orig);
    free(isr);
    return rc;
}

static void completed(void *arg, int status, const char *msg)
{
    (void)arg;
    if (status != 0)
        od_logf(OD_LOG_INFO, "completing a reassignment: %d %s (tried again)", status,
                msg ? msg : "");
}

/* Complete p's reassignment when every target replica is in the ISR. */
static void maybe_complete(od_core_t *core, od_partition_t *p, int64_t now_mono)
{
    if (p->reassign_proposed_epoch == p->partition_epoch &&
        now_mono - p->reassign_proposed_ms < REASSIGN_REPROPOSE_MS)
        return;
    int32_t *target = malloc(sizeof(int32_t) * (size_t)(p->nreplicas + 1));
    int32_t *isr = malloc(sizeof(int32_t) * (size_t)(p->nisr + 1));
    if (!target || !isr)
        goto out;
    int32_t nt = without(p->replicas, p->nreplicas, p->removing, p->nremoving, target);
    for (int32_t i = 0; i < nt; i++)
        if (!in_list(p->isr, p->nisr, target[i]))
            goto out;
    change_t c = {.leader = -2, .adding = target, .removing = target};
    c.replicas = target;
    c.nreplicas = nt;
    c.nisr = only(p->isr, p->nisr, target, nt, isr);
    c.isr = isr;
    if (!in_list(target, nt, p->leader)) {
        c.leader = -1; /* the first target replica in the ISR */
        for (int32_t i = 0; i < nt && c.leader < 0; i++)
            if (in_list(isr, c.nisr, target[i]))
                c.leader = target[i];
    }
    char err[256];
    if (propose(core, p, &c, completed, NULL, err, sizeof(err)) == 0) {
        p->reassign_proposed_epoch = p->partition_epoch;
        p->reassign_proposed_ms = now_mono;
        od_logf(OD_LOG_INFO, "%s-%d: reassignment complete, replicas now %d broker(s)",
                p->topic->name, p->index, nt);
    }
out:
    free(target);
    free(isr);
}

void od_reassign_tick(od_core_t *core, int64_t now_mono)
{
    const od_controlplane_ops_t *cp = core->cp;
    if (!cp || !cp->controller_id || cp->controller_id(core->cp_self) != (int32_t)core->conf.node_id)
        return;
    for (od_topic_t *t = od_image_next_topic(&core->image, NULL); t;
         t = od_image_next_topic(&core->image, t))
        for (int32_t i = 0; i < t->npartitions; i++)
            if (od_reassign_in_progress(t->partitions[i]))
                maybe_complete(core, t->partitions[i], now_mono);
}
