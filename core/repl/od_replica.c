/* od_replica.c - a partition replica's role (leader, follower, neither) as
 * the image says, the leader's view of its followers, the high watermark,
 * and the replication subsystem's keys and hooks. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_batch.h"
#include "od_core.h"
#include "od_group.h"
#include "od_handlers.h"
#include "od_repl_int.h"

static const od_conf_def_t repl_defs[] = {
    {"replica.lag.time.max.ms", OD_CONF_INT, "30000", 1, INT32_MAX, NULL,
     "a follower that has not caught up with the leader for this long leaves the ISR", NULL, 0},
    {"replica.fetch.max.bytes", OD_CONF_INT, "1048576", 0, INT32_MAX, NULL,
     "bytes a follower asks for per partition in one fetch (a larger first batch still comes)",
     NULL, 0},
    {"replica.fetch.response.max.bytes", OD_CONF_INT, "10485760", 0, INT32_MAX, NULL,
     "bytes a follower asks for in one fetch response", NULL, 0},
    {"replica.fetch.wait.max.ms", OD_CONF_INT, "500", 0, INT32_MAX, NULL,
     "longest a follower's fetch waits at the leader for new data", NULL, 0},
    {"replica.fetch.min.bytes", OD_CONF_INT, "1", 1, INT32_MAX, NULL,
     "bytes a follower's fetch waits for at the leader", NULL, 0},
    {"replica.fetch.backoff.ms", OD_CONF_INT, "1000", 0, INT32_MAX, NULL,
     "pause of a follower after a fetch from its leader failed", NULL, 0},
    {"replica.socket.timeout.ms", OD_CONF_INT, "30000", 1, INT32_MAX, NULL,
     "timeout of a follower's fetch request (at least replica.fetch.wait.max.ms)", NULL, 0},
    {"replica.selector.class", OD_CONF_ENUM, "org.apache.kafka.common.replica.LeaderSelector", 0,
     0, "org.apache.kafka.common.replica.LeaderSelector,"
        "org.apache.kafka.common.replica.RackAwareReplicaSelector",
     "where consumers read (KIP-392): the leader, or with RackAwareReplicaSelector an in-sync "
     "replica in the consumer's client.rack", NULL, 0},
    {"offsets.commit.timeout.ms", OD_CONF_INT, "5000", 1, INT32_MAX, NULL,
     "longest an offset commit or a group record waits for the in-sync replicas of its "
     "__consumer_offsets partition (then COORDINATOR_NOT_AVAILABLE, a group record "
     "REBALANCE_IN_PROGRESS)", NULL, 0},
    {"auto.leader.rebalance.enable", OD_CONF_BOOL, "true", 0, 0, NULL,
     "the active controller moves leadership back to preferred replicas (see "
     "leader.imbalance.*)", NULL, 0},
    {"leader.imbalance.check.interval.seconds", OD_CONF_INT, "300", 1, INT32_MAX, NULL,
     "how often the active controller checks the leader imbalance", NULL, 0},
    {"leader.imbalance.per.broker.percentage", OD_CONF_INT, "10", 0, 100, NULL,
     "share of a broker's preferred partitions led elsewhere that triggers a preferred "
     "leader election", NULL, 0},
};
#define NDEFS (sizeof(repl_defs) / sizeof(repl_defs[0]))

int od_repl_register_config(od_core_t *core, char *err, size_t errsz)
{
    return od_config_register(&core->config, repl_defs, NDEFS, "core", err, errsz);
}

static int64_t conf(od_core_t *core, const char *key, char *err, size_t errsz, int *bad)
{
    for (size_t i = 0; i < NDEFS; i++)
        if (strcmp(repl_defs[i].name, key) == 0) {
            int64_t v = 0;
            if (od_conf_parse(&repl_defs[i], od_config_get(&core->config, key), &v, err, errsz) < 0)
                *bad = 1;
            return v;
        }
    *bad = 1;
    return 0;
}

static int32_t self_id(const od_core_t *core) { return (int32_t)core->conf.node_id; }

static int in_list(const int32_t *v, int32_t n, int32_t id)
{
    for (int32_t i = 0; i < n; i++)
        if (v[i] == id)
            return 1;
    return 0;
}

od_replica_t *od_replica_of(od_core_t *core, od_partition_t *p)
{
    (void)core;
    if (!p->repl) {
        p->repl = calloc(1, sizeof(*p->repl));
        if (p->repl)
            p->repl->p = p;
    }
    return p->repl;
}

int32_t od_repl_isr_size(const od_partition_t *p) { return p->nisr; }

int od_repl_serves_reads(od_core_t *core, const od_partition_t *p)
{
    (void)core;
    return p->log && p->repl && p->repl->role == OD_ROLE_FOLLOWER;
}

int32_t od_repl_preferred_read_replica(od_core_t *core, const od_partition_t *p, const char *rack,
                                       size_t len)
{
    if (!core->repl || !core->repl->rack_aware_reads || !p->repl || len == 0)
        return -1;
    const od_broker_reg_t *me = od_image_broker(&core->image, self_id(core));
    if (me && me->rack && strlen(me->rack) == len && memcmp(me->rack, rack, len) == 0)
        return -1; /* the leader is in the client's rack */
    int32_t best = -1;
    int64_t best_leo = -1;
    for (size_t k = 0; k < p->repl->nfollowers; k++) {
        const od_follower_t *f = &p->repl->followers[k];
        const od_broker_reg_t *b = od_image_broker(&core->image, f->id);
        if (!b || b->fenced || !b->rack || strlen(b->rack) != len || memcmp(b->rack, rack, len) ||
            !in_list(p->isr, p->nisr, f->id))
            continue;
        if (f->leo > best_leo) { /* the most caught-up one, as Kafka's selector */
            best = f->id;
            best_leo = f->leo;
        }
    }
    return best;
}

int64_t od_repl_commit_timeout_ms(const od_core_t *core)
{
    return core->repl ? core->repl->commit_timeout_ms : 5000;
}

/* Keep one entry per replica other than us, holding on to what is known. */
static void sync_followers(od_core_t *core, od_replica_t *rs, int64_t now)
{
    od_partition_t *p = rs->p;
    od_follower_t *nf = calloc(p->nreplicas ? (size_t)p->nreplicas : 1, sizeof(*nf));
    size_t n = 0;
    if (!nf)
        return;
    for (int32_t i = 0; i < p->nreplicas; i++) {
        if (p->replicas[i] == self_id(core))
            continue;
        od_follower_t f = {p->replicas[i], -1, now, now, -1};
        for (size_t k = 0; k < rs->nfollowers; k++)
            if (rs->followers[k].id == p->replicas[i])
                f = rs->followers[k];
        /* Kafka's rule for a new leader: ISR members count as caught up
         * now (they were, as far as the controller knew). */
        if (rs->role != OD_ROLE_LEADER && in_list(p->isr, p->nisr, f.id))
            f.caught_up_ms = now;
        nf[n++] = f;
    }
    free(rs->followers);
    rs->followers = nf;
    rs->nfollowers = n;
}

void od_replica_update_hw(od_core_t *core, od_partition_t *p)
{
    od_replica_t *rs = p->repl;
    if (!p->log || p->leader != self_id(core))
        return;
    int64_t hw = core->storage->end_offset(p->log);
    int32_t nproposed = rs ? rs->nproposed : 0;
    /* the committed ISR, then the members of a change in flight it lacks */
    for (int32_t i = 0; i < p->nisr + nproposed; i++) {
        int32_t id = i < p->nisr ? p->isr[i] : rs->proposed_isr[i - p->nisr];
        if (id == self_id(core) || (i >= p->nisr && in_list(p->isr, p->nisr, id)))
            continue;
        int64_t leo = -1;
        for (size_t k = 0; rs && k < rs->nfollowers; k++)
            if (rs->followers[k].id == id)
                leo = rs->followers[k].leo;
        if (leo < 0)
            leo = p->high_watermark; /* not heard of yet: holds the watermark where it is */
        if (leo < hw)
            hw = leo;
    }
    if (hw > p->high_watermark) {
        p->high_watermark = hw;
        od_fetch_wake(core, p);
        od_acks_hw_moved(core, p);
    }
}

void od_replica_hw_after_append(od_core_t *core, od_partition_t *p)
{
    od_replica_update_hw(core, p);
}

int16_t od_repl_follower_fetch(od_core_t *core, od_partition_t *p, int32_t replica_id,
                               int64_t fetch_offset)
{
    od_replica_t *rs = p->repl;
    if (p->leader != self_id(core) || !p->log || !rs)
        return OD_ERR_NOT_LEADER_OR_FOLLOWER;
    od_follower_t *f = NULL;
    for (size_t k = 0; k < rs->nfollowers; k++)
        if (rs->followers[k].id == replica_id)
            f = &rs->followers[k];
    if (!f)
        return OD_ERR_NOT_LEADER_OR_FOLLOWER; /* not a replica of this partition */
    int64_t now = od_mono_ms(), leo = core->storage->end_offset(p->log);
    /* Kafka's lastCaughtUpTime: caught up now when it has our whole log,
     * or as of its previous fetch when it has what we had then. */
    if (fetch_offset >= leo)
        f->caught_up_ms = now;
    else if (f->leader_leo_at_prev >= 0 && fetch_offset >= f->leader_leo_at_prev)
        f->caught_up_ms = f->prev_fetch_ms;
    f->leader_leo_at_prev = leo;
    f->prev_fetch_ms = now;
    if (fetch_offset <= leo)
        f->leo = fetch_offset;
    od_replica_update_hw(core, p);
    od_isr_check(core, p, now);
    return OD_ERR_NONE;
}

int od_repl_diverging(od_core_t *core, od_partition_t *p, int32_t last_fetched_epoch,
                      int64_t fetch_offset, int32_t *epoch, int64_t *end)
{
    if (last_fetched_epoch < 0)
        return 0;
    od_epochs_end_offset(core, p, last_fetched_epoch, epoch, end);
    return *epoch < last_fetched_epoch || *end < fetch_offset;
}

void od_repl_end_offset_for_epoch(od_core_t *core, od_partition_t *p, int32_t epoch,
                                  int32_t *epoch_out, int64_t *end_out)
{
    od_epochs_end_offset(core, p, epoch, epoch_out, end_out);
}

void od_repl_log_opened(od_core_t *core, od_partition_t *p)
{
    od_epochs_load(core, p);
}

void od_repl_appended(od_core_t *core, od_partition_t *p, const uint8_t *data, size_t len)
{
    od_batch_iter_t it;
    od_batch_hdr_t h;
    size_t off, size;
    od_batch_iter_init(&it, data, len);
    while (od_batch_iter_next(&it, &h, &off, &size) == 1)
        od_epochs_assign(core, p, h.partition_leader_epoch, h.base_offset);
}

/* Take the role the image gives p now. */
static void apply_role(od_core_t *core, od_partition_t *p)
{
    od_replica_t *rs = od_replica_of(core, p);
    if (!rs)
        return;
    int local = p->log && in_list(p->replicas, p->nreplicas, self_id(core));
    int role = !local ? OD_ROLE_NONE
               : p->leader == self_id(core) ? OD_ROLE_LEADER
               : OD_ROLE_FOLLOWER;
    int64_t now = od_mono_ms();
    int offsets = strcmp(p->topic->name, OD_GROUP_OFFSETS_TOPIC) == 0;
    if (role != OD_ROLE_LEADER && rs->role == OD_ROLE_LEADER) {
        od_acks_fail_partition(core, p, OD_ERR_NOT_LEADER_OR_FOLLOWER);
        if (offsets)
            od_groups_partition_lost(core, p);
    }
    if (role == OD_ROLE_LEADER) {
        od_fetcher_remove(core, rs);
        if (rs->role != OD_ROLE_LEADER || rs->role_epoch != p->leader_epoch) {
            rs->nproposed = 0; /* a change proposed in an older epoch is refused */
            /* A new epoch starts at our log end (Kafka's makeLeader). */
            od_epochs_assign(core, p, p->leader_epoch, core->storage->end_offset(p->log));
            rs->role_since_ms = now;
            if (offsets) /* before the groups subsystem starts, its start loads them */
                od_groups_partition_led(core, p);
            od_logf(p->nreplicas > 1 ? OD_LOG_INFO : OD_LOG_DEBUG, "%s-%d: leader in epoch %d (log end %" PRId64 ", high watermark %"
                    PRId64 ")", p->topic->name, p->index, p->leader_epoch,
                    core->storage->end_offset(p->log), p->high_watermark);
        }
        sync_followers(core, rs, now);
        rs->role = role;
        rs->role_epoch = p->leader_epoch;
        rs->alter_inflight = 0; /* the committed ISR is what counts now */
        od_replica_update_hw(core, p);
        /* A shrink may have let the watermark move; acks waiting on the
         * ISR may be done or short of replicas now. */
        od_acks_hw_moved(core, p);
        return;
    }
    free(rs->followers);
    rs->followers = NULL;
    rs->nfollowers = 0;
    rs->nproposed = 0;
    if (role == OD_ROLE_FOLLOWER && (rs->role != OD_ROLE_FOLLOWER || !rs->fetcher ||
                                     rs->role_epoch != p->leader_epoch)) {
        od_fetcher_remove(core, rs);
        if (p->leader >= 0 && core->repl)
            od_fetcher_add(core, rs, p->leader);
        od_logf(OD_LOG_INFO, "%s-%d: follower of %d in epoch %d", p->topic->name, p->index,
                p->leader, p->leader_epoch);
    } else if (role == OD_ROLE_NONE) {
        od_fetcher_remove(core, rs);
    }
    rs->role = role;
    rs->role_epoch = p->leader_epoch;
}

void od_repl_partition_changed(od_core_t *core, od_partition_t *p)
{
    /* Before the subsystem starts (replay at start-up) only the roles are
     * noted; od_repl_start sets every partition up. */
    if (!core->repl) {
        od_replica_t *rs = od_replica_of(core, p);
        if (rs && p->log && p->leader == self_id(core))
            rs->role_epoch = -1;
        return;
    }
    apply_role(core, p);
}

void od_repl_partition_removed(od_core_t *core, od_partition_t *p)
{
    od_replica_t *rs = p->repl;
    if (!rs)
        return;
    od_acks_fail_partition(core, p, OD_ERR_NOT_LEADER_OR_FOLLOWER);
    od_fetcher_remove(core, rs);
    free(rs->followers);
    free(rs->epochs);
    free(rs);
    p->repl = NULL;
}

int od_repl_start(od_core_t *core, char *err, size_t errsz)
{
    od_repl_t *r = calloc(1, sizeof(*r));
    int bad = 0;
    if (!r) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    r->core = core;
    r->lag_max_ms = conf(core, "replica.lag.time.max.ms", err, errsz, &bad);
    r->fetch_max_bytes = conf(core, "replica.fetch.max.bytes", err, errsz, &bad);
    r->fetch_response_max_bytes = conf(core, "replica.fetch.response.max.bytes", err, errsz, &bad);
    r->fetch_wait_max_ms = conf(core, "replica.fetch.wait.max.ms", err, errsz, &bad);
    r->fetch_min_bytes = conf(core, "replica.fetch.min.bytes", err, errsz, &bad);
    r->fetch_backoff_ms = conf(core, "replica.fetch.backoff.ms", err, errsz, &bad);
    r->socket_timeout_ms = conf(core, "replica.socket.timeout.ms", err, errsz, &bad);
    r->commit_timeout_ms = conf(core, "offsets.commit.timeout.ms", err, errsz, &bad);
    const char *sel = od_config_get(&core->config, "replica.selector.class");
    r->rack_aware_reads = sel && strstr(sel, "RackAwareReplicaSelector") != NULL;
    r->auto_rebalance = conf(core, "auto.leader.rebalance.enable", err, errsz, &bad);
    r->imbalance_interval_ms =
        conf(core, "leader.imbalance.check.interval.seconds", err, errsz, &bad) * 1000;
    r->imbalance_pct = conf(core, "leader.imbalance.per.broker.percentage", err, errsz, &bad);
    r->last_rebalance_ms = od_mono_ms();
    if (bad) {
        free(r);
        return -1;
    }
    if (r->socket_timeout_ms < r->fetch_wait_max_ms) {
        snprintf(err, errsz, "replica.socket.timeout.ms (%" PRId64 ") must be at least "
                 "replica.fetch.wait.max.ms (%" PRId64 ")", r->socket_timeout_ms,
                 r->fetch_wait_max_ms);
        free(r);
        return -1;
    }
    core->repl = r;
    for (od_topic_t *t = od_image_next_topic(&core->image, NULL); t;
         t = od_image_next_topic(&core->image, t))
        for (int32_t i = 0; i < t->npartitions; i++)
            apply_role(core, t->partitions[i]);
    return 0;
}

void od_repl_tick(od_core_t *core, int64_t now_ms)
{
    (void)now_ms;
    int64_t now = od_mono_ms();
    for (od_topic_t *t = od_image_next_topic(&core->image, NULL); t;
         t = od_image_next_topic(&core->image, t))
        for (int32_t i = 0; i < t->npartitions; i++) {
            od_partition_t *p = t->partitions[i];
            if (p->repl && p->repl->role == OD_ROLE_LEADER)
                od_isr_check(core, p, now);
            /* A follower whose leader had no usable registration yet. */
            else if (p->repl && p->repl->role == OD_ROLE_FOLLOWER && !p->repl->fetcher &&
                     p->leader >= 0 && p->log)
                od_fetcher_add(core, p->repl, p->leader);
        }
    od_elect_tick(core, now);
    od_reassign_tick(core, now);
}

void od_repl_stop(od_core_t *core)
{
    if (!core->repl)
        return;
    od_fetchers_free(core);
    free(core->repl);
    core->repl = NULL;
}
