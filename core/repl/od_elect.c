/* od_elect.c - leader elections the controller makes on request or on its
 * own: preferred (the first replica of the assignment takes over when it
 * is in the ISR and not fenced), unclean (a partition without a leader
 * takes any live replica, out of sync or not, when asked or when
 * unclean.leader.election.enable says so), and the periodic preferred
 * rebalance (auto.leader.rebalance.enable: every
 * leader.imbalance.check.interval.seconds, a broker leading fewer than
 * (100 - leader.imbalance.per.broker.percentage)% of the partitions it is
 * the preferred leader of gets them back). Each is one
 * PartitionChangeRecord naming the new leader (and, unclean, the ISR
 * of just that leader). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_proto_gen.h"
#include "od_repl_int.h"

static int in_list(const int32_t *v, int32_t n, int32_t id)
{
    for (int32_t i = 0; i < n; i++)
        if (v[i] == id)
            return 1;
    return 0;
}

static int live(od_core_t *core, int32_t id)
{
    const od_broker_reg_t *b = od_image_broker(&core->image, id);
    return b && !b->fenced;
}

static int propose_leader(od_core_t *core, od_partition_t *p, int32_t leader, const int32_t *isr,
                          int32_t nisr, void (*cb)(void *, int, const char *), void *arg,
                          char *err, size_t errsz)
{
    od_PartitionChangeRecord_t r;
    od_PartitionChangeRecord_init(&r);
    r.leader = leader;
    if (isr) {
        r.isr = (int32_t *)isr;
        r.isr_count = nisr;
    }
    int16_t code = od_repl_propose_change(core, p, &r, cb, arg, err, errsz);
    return code == OD_ERR_NONE ? 0 : -code;
}

int od_elect_leader(od_core_t *core, od_partition_t *p, int unclean,
                    void (*cb)(void *arg, int status, const char *msg), void *arg, char *err,
                    size_t errsz)
{
    if (!unclean) {
        int32_t pref = p->nreplicas > 0 ? p->replicas[0] : -1;
        if (pref < 0 || p->leader == pref) {
            snprintf(err, errsz, "Leader election not needed for topic partition.");
            return -OD_ERR_ELECTION_NOT_NEEDED;
        }
        if (!in_list(p->isr, p->nisr, pref) || !live(core, pref)) {
            snprintf(err, errsz, "Failed to elect leader for partition %s-%d under strategy "
                     "PreferredReplicaPartitionLeaderElectionStrategy", p->topic->name, p->index);
            return -OD_ERR_PREFERRED_LEADER_NOT_AVAILABLE;
        }
        return propose_leader(core, p, pref, NULL, 0, cb, arg, err, errsz);
    }
    if (p->leader >= 0 && live(core, p->leader)) {
        snprintf(err, errsz, "Leader election not needed for topic partition.");
        return -OD_ERR_ELECTION_NOT_NEEDED;
    }
    for (int32_t i = 0; i < p->nreplicas; i++) /* an in-sync one first */
        if (in_list(p->isr, p->nisr, p->replicas[i]) && live(core, p->replicas[i]))
            return propose_leader(core, p, p->replicas[i], NULL, 0, cb, arg, err, errsz);
    for (int32_t i = 0; i < p->nreplicas; i++)
        if (live(core, p->replicas[i])) {
            od_logf(OD_LOG_WARN, "%s-%d: unclean leader election: %d, out of sync, leads now; "
                    "records acknowledged only by the old ISR may be lost", p->topic->name,
                    p->index, p->replicas[i]);
            return propose_leader(core, p, p->replicas[i], &p->replicas[i], 1, cb, arg, err, errsz);
        }
    snprintf(err, errsz, "Failed to elect leader for partition %s-%d under strategy "
             "UncleanLeaderElectionStrategy", p->topic->name, p->index);
    return -OD_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE;
}

static void rebalanced(void *arg, int status, const char *msg)
{
    (void)arg;
    if (status != 0)
        od_logf(OD_LOG_DEBUG, "preferred leader election: %d %s", status, msg ? msg : "");
}

/* The controller's periodic work: preferred leaders back where the
 * imbalance is too large, unclean elections where the topic allows them. */
void od_elect_tick(od_core_t *core, int64_t now_mono)
{
    od_repl_t *r = core->repl;
    const od_controlplane_ops_t *cp = core->cp;
    if (!r || !cp || !cp->controller_id ||
        cp->controller_id(core->cp_self) != (int32_t)core->conf.node_id)
        return;
    int rebalance = r->auto_rebalance && now_mono - r->last_rebalance_ms >= r->imbalance_interval_ms;
    if (rebalance)
        r->last_rebalance_ms = now_mono;
    for (size_t b = 0; rebalance && b < core->image.nbrokers; b++) {
        int32_t id = core->image.brokers[b].id;
        int64_t preferred = 0, elsewhere = 0;
        if (core->image.brokers[b].fenced)
            continue;
        for (od_topic_t *t = od_image_next_topic(&core->image, NULL); t;
             t = od_image_next_topic(&core->image, t))
            for (int32_t i = 0; i < t->npartitions; i++) {
                od_partition_t *p = t->partitions[i];
                if (p->nreplicas > 0 && p->replicas[0] == id) {
                    preferred++;
                    elsewhere += p->leader != id;
                }
            }
        if (preferred == 0 || elsewhere * 100 <= preferred * r->imbalance_pct)
            continue;
        od_logf(OD_LOG_INFO, "broker %d leads %" PRId64 " of the %" PRId64 " partitions it is the "
                "preferred leader of: preferred leader election", id, preferred - elsewhere,
                preferred);
        for (od_topic_t *t = od_image_next_topic(&core->image, NULL); t;
             t = od_image_next_topic(&core->image, t))
            for (int32_t i = 0; i < t->npartitions; i++) {
                od_partition_t *p = t->partitions[i];
                char err[256];
                if (p->nreplicas > 0 && p->replicas[0] == id && p->leader != id)
                    (void)od_elect_leader(core, p, 0, rebalanced, NULL, err, sizeof(err));
            }
    }
    /* Leaderless partitions of topics with unclean.leader.election.enable. */
    for (od_topic_t *t = od_image_next_topic(&core->image, NULL); t;
         t = od_image_next_topic(&core->image, t)) {
        if (!t->cfg.unclean_leader_election_enable)
            continue;
        for (int32_t i = 0; i < t->npartitions; i++) {
            od_partition_t *p = t->partitions[i];
            char err[256];
            if (p->leader < 0)
                (void)od_elect_leader(core, p, 1, rebalanced, NULL, err, sizeof(err));
        }
    }
}
