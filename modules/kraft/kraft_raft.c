/* kraft_raft.c - the Raft state machine of a KRaft node (KIP-595 with
 * pre-vote, KIP-996): roles, timers, elections, the leader's view of its
 * replicas and the high watermark.
 *
 *   unattached/follower --fetch or election timeout--> prospective
 *   prospective --pre-votes of a majority--> candidate (epoch + 1, durable
 *                vote for itself) --votes of a majority--> leader
 *   any state --a higher epoch seen--> unattached or follower of its leader
 *   leader --no majority fetched within 1.5 x fetch timeout--> unattached
 *          (it resigns; it keeps its vote for itself in that epoch)
 *
 * A vote is written to quorum-state before it is sent or granted, so a
 * restarted voter never votes twice in one epoch. A node that is not in
 * controller.quorum.voters is an observer: it only follows, finding the
 * leader by asking the voters (their NOT_LEADER answers name it). The
 * messages themselves are encoded in kraft_rpc.c. */
#include "kraft_net.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *kraft_role_name(kraft_role_t r)
{
    switch (r) {
    case KRAFT_UNATTACHED:
        return "unattached";
    case KRAFT_PROSPECTIVE:
        return "prospective";
    case KRAFT_CANDIDATE:
        return "candidate";
    case KRAFT_LEADER:
        return "leader";
    case KRAFT_FOLLOWER:
        return "follower";
    }
    return "?";
}

static int64_t jitter(int64_t max) { return max > 0 ? (int64_t)(random() % (max + 1)) : 0; }

int kraft_voter_index(const kraft_t *k, int32_t id)
{
    for (size_t i = 0; i < k->st.nvoters; i++)
        if (k->st.voters[i].id == id)
            return (int)i;
    return -1;
}

static size_t majority(const kraft_t *k) { return k->st.nvoters / 2 + 1; }

static void cancel(kraft_t *k, int64_t *t)
{
    if (*t > 0)
        od_timer_cancel(k->core, *t);
    *t = 0;
}

int kraft_persist_state(kraft_t *k, char *err, size_t errsz)
{
    kraft_qstate_t qs;
    kraft_qstate_init(&qs);
    qs.leader_id = k->st.leader_id;
    qs.leader_epoch = k->st.epoch;
    /* Kafka records an elected leader with no vote; we keep our own vote
     * for ourselves in memory (see kraft_raft_start for the way back). */
    qs.voted_id = k->st.role == KRAFT_LEADER ? -1 : k->st.voted_id;
    for (size_t i = 0; i < k->st.nvoters; i++)
        qs.voters[qs.nvoters++] = k->st.voters[i].id;
    return kraft_qstate_write(k->qstate_path, &qs, err, errsz);
}

/* quorum-state could not be written: the node must not go on voting. */
static int persist_or_die(kraft_t *k)
{
    char err[400];
    if (kraft_persist_state(k, err, sizeof err) == 0)
        return 0;
    snprintf(k->fatal, sizeof k->fatal, "cannot persist the quorum state: %s", err);
    od_logf(OD_LOG_ERROR, "kraft: %s; this node stops taking part in elections", k->fatal);
    return -1;
}

static void election_timeout_cb(void *arg);
static void leader_timer_cb(void *arg);

static void arm_election(kraft_t *k, int64_t ms)
{
    cancel(k, &k->election_timer);
    k->election_timer = od_timer_add(k->core, ms, election_timeout_cb, k);
}

static void answer_all_parked(kraft_t *k)
{
    while (k->parked) {
        kraft_parked_t *pk = k->parked;
        k->parked = pk->next;
        kraft_answer_parked(k, pk);
    }
}

/* Leaving the leader role: proposals whose outcome we cannot know any more
 * fail with NOT_CONTROLLER (the client retries and the next leader decides),
 * parked fetches hear that we no longer lead. */
static void leave_leadership(kraft_t *k)
{
    if (k->st.role != KRAFT_LEADER)
        return;
    cancel(k, &k->leader_timer);
    kraft_fail_pending(k, -KRAFT_ERR_NOT_CONTROLLER, "the controller lost its leadership");
    k->st.role = KRAFT_UNATTACHED;
    answer_all_parked(k);
}

static void fetch_timer_cb(void *arg)
{
    kraft_t *k = arg;
    k->fetch_timer = 0;
    kraft_send_fetch(k);
}

void kraft_reset_fetch_timeout(kraft_t *k)
{
    k->leader_contact_ms = od_mono_ms();
    arm_election(k, k->cfg_fetch_timeout_ms);
}

void kraft_become_unattached(kraft_t *k, int32_t epoch, int32_t voted)
{
    leave_leadership(k);
    int changed = epoch != k->st.epoch || k->st.leader_id != -1 || voted != k->st.voted_id;
    k->st.role = KRAFT_UNATTACHED;
    k->st.epoch = epoch;
    k->st.leader_id = -1;
    k->st.voted_id = voted;
    k->generation++;
    if (changed && persist_or_die(k) < 0)
        return;
    cancel(k, &k->fetch_timer);
    if (k->is_voter) {
        arm_election(k, k->cfg_election_timeout_ms + jitter(k->cfg_election_timeout_ms));
    } else {
        /* An observer looks for the leader among the voters. */
        arm_election(k, k->cfg_fetch_timeout_ms);
        k->fetch_timer = od_timer_add(k->core, k->cfg_retry_backoff_ms, fetch_timer_cb, k);
    }
}

void kraft_become_follower(kraft_t *k, int32_t epoch, int32_t leader)
{
    leave_leadership(k);
    if (epoch != k->st.epoch)
        k->st.voted_id = -1;
    int changed = epoch != k->st.epoch || leader != k->st.leader_id;
    k->st.role = KRAFT_FOLLOWER;
    k->st.epoch = epoch;
    k->st.leader_id = leader;
    k->generation++;
    if (changed) {
        if (persist_or_die(k) < 0)
            return;
        od_logf(OD_LOG_INFO, "kraft: node %" PRId32 " follows leader %" PRId32 " in epoch %" PRId32,
                k->st.node_id, leader, epoch);
    }
    cancel(k, &k->fetch_timer);
    /* Not leader_contact_ms: we have not heard from this leader yet, and
     * until we do we grant pre-votes (a dead leader is not kept alive by
     * voters that only heard of it). */
    arm_election(k, k->cfg_fetch_timeout_ms);
    k->fetching = 0; /* an answer to an older Fetch is dropped by its generation */
    kraft_send_fetch(k);
}

static void become_leader(kraft_t *k)
{
    char err[400];
    k->st.role = KRAFT_LEADER;
    k->st.leader_id = k->st.node_id;
    k->st.voted_id = k->st.node_id;
    k->generation++;
    cancel(k, &k->election_timer);
    cancel(k, &k->fetch_timer);
    if (persist_or_die(k) < 0)
        return;
    int64_t now = od_mono_ms();
    k->leader_since_ms = now;
    for (size_t i = 0; i < k->st.nvoters; i++) {
        k->st.voters[i].match_offset = -1;
        kraft_replica_t *r = &k->voter_state[i];
        r->id = k->st.voters[i].id;
        r->end_offset = -1;
        r->last_fetch_ms = -1;
        r->caught_up_ms = -1;
        r->hw_sent = -1;
    }
    k->nobservers = 0;
    if (kraft_append_leader_change(k, err, sizeof err) < 0) {
        snprintf(k->fatal, sizeof k->fatal, "cannot start epoch %" PRId32 ": %s", k->st.epoch,
                 err);
        od_logf(OD_LOG_ERROR, "kraft: %s", k->fatal);
        return;
    }
    od_logf(OD_LOG_INFO, "kraft: node %" PRId32 " is the leader of epoch %" PRId32
            " (metadata log end offset %" PRId64 ", %zu voters)",
            k->st.node_id, k->st.epoch, k->log.end_offset, k->st.nvoters);
    for (size_t i = 0; i < k->st.nvoters; i++)
        if (k->peers[i])
            kraft_send_begin_epoch(k, i);
    if (k->st.nvoters > 1)
        k->leader_timer = od_timer_add(k->core, 500, leader_timer_cb, k);
    kraft_update_high_watermark(k);
    kraft_on_committed(k);
}

static size_t count_granted(const kraft_t *k)
{
    size_t n = 0;
    for (size_t i = 0; i < k->st.nvoters; i++)
        n += k->granted[i] != 0;
    return n;
}

static void become_candidate(kraft_t *k)
{
    int32_t last = kraft_log_last_epoch(&k->log);
    int32_t e = k->st.epoch > last ? k->st.epoch : last;
    if (e < 0)
        e = 0;
    if (e == INT32_MAX) {
        snprintf(k->fatal, sizeof k->fatal, "leader epoch exhausted");
        return;
    }
    leave_leadership(k);
    k->st.role = KRAFT_CANDIDATE;
    k->st.epoch = e + 1;
    k->st.leader_id = -1;
    k->st.voted_id = k->st.node_id;
    k->generation++;
    /* The vote must be durable before it counts (or is sent anywhere). */
    if (persist_or_die(k) < 0)
        return;
    memset(k->granted, 0, sizeof k->granted);
    int me = kraft_voter_index(k, k->st.node_id);
    if (me >= 0)
        k->granted[me] = 1;
    if (count_granted(k) >= majority(k)) {
        become_leader(k);
        return;
    }
    od_logf(OD_LOG_INFO, "kraft: node %" PRId32 " is a candidate in epoch %" PRId32, k->st.node_id,
            k->st.epoch);
    arm_election(k, k->cfg_election_timeout_ms + jitter(k->cfg_election_timeout_ms));
    kraft_send_vote_requests(k, 0);
}

/* KIP-996: ask first whether we would win, without touching any epoch, so a
 * node cut off from the others cannot disrupt the quorum when it returns. */
static void become_prospective(kraft_t *k)
{
    leave_leadership(k);
    k->st.role = KRAFT_PROSPECTIVE;
    k->st.leader_id = -1;
    k->generation++;
    memset(k->granted, 0, sizeof k->granted);
    int me = kraft_voter_index(k, k->st.node_id);
    if (me >= 0)
        k->granted[me] = 1;
    if (count_granted(k) >= majority(k)) {
        become_candidate(k);
        return;
    }
    arm_election(k, k->cfg_election_timeout_ms + jitter(k->cfg_election_timeout_ms));
    kraft_send_vote_requests(k, 1);
}

void kraft_vote_granted(kraft_t *k, int32_t voter, int pre_vote)
{
    int i = kraft_voter_index(k, voter);
    if (i < 0 || k->fatal[0])
        return;
    if ((pre_vote && k->st.role != KRAFT_PROSPECTIVE) ||
        (!pre_vote && k->st.role != KRAFT_CANDIDATE))
        return;
    k->granted[i] = 1;
    if (count_granted(k) < majority(k))
        return;
    if (pre_vote)
        become_candidate(k);
    else
        become_leader(k);
}

static void election_timeout_cb(void *arg)
{
    kraft_t *k = arg;
    k->election_timer = 0;
    if (!k->started || k->fatal[0])
        return;
    if (!k->is_voter) {
        /* Observer: the leader went quiet; look for it again. */
        if (k->st.role == KRAFT_FOLLOWER)
            kraft_become_unattached(k, k->st.epoch, -1);
        else
            arm_election(k, k->cfg_fetch_timeout_ms);
        return;
    }
    switch (k->st.role) {
    case KRAFT_UNATTACHED:
    case KRAFT_FOLLOWER:
        if (k->st.role == KRAFT_FOLLOWER)
            od_logf(OD_LOG_INFO, "kraft: no word from leader %" PRId32 " for %" PRId64
                    " ms (controller.quorum.fetch.timeout.ms); asking for pre-votes",
                    k->st.leader_id, k->cfg_fetch_timeout_ms);
        become_prospective(k);
        break;
    case KRAFT_PROSPECTIVE:
    case KRAFT_CANDIDATE:
        /* Lost or split: back off a random time (controller.quorum.election
         * .backoff.max.ms), then ask for pre-votes again. */
        if (!k->backing_off) {
            k->backing_off = 1;
            k->generation++; /* late answers of this round no longer count */
            arm_election(k, 1 + jitter(k->cfg_election_backoff_ms));
        } else {
            k->backing_off = 0;
            become_prospective(k);
        }
        break;
    case KRAFT_LEADER:
        break;
    }
}

static void leader_timer_cb(void *arg)
{
    kraft_t *k = arg;
    k->leader_timer = 0;
    if (!k->started || k->st.role != KRAFT_LEADER)
        return;
    int64_t now = od_mono_ms();
    size_t live = 0;
    for (size_t i = 0; i < k->st.nvoters; i++) {
        kraft_replica_t *r = &k->voter_state[i];
        if (!k->peers[i]) {
            live++;
            continue;
        }
        if (r->last_fetch_ms < 0)
            kraft_send_begin_epoch(k, i); /* until it fetches from us */
        else if (now - r->last_fetch_ms <= k->cfg_fetch_timeout_ms * 3 / 2)
            live++;
    }
    /* Check quorum: a leader a majority no longer fetches from resigns, so
     * that the others can elect one they reach. */
    if (live < majority(k) && now - k->leader_since_ms > k->cfg_fetch_timeout_ms * 3 / 2) {
        od_logf(OD_LOG_WARN, "kraft: only %zu of %zu voters fetched within %" PRId64
                " ms; leader %" PRId32 " resigns epoch %" PRId32, live, k->st.nvoters,
                k->cfg_fetch_timeout_ms * 3 / 2, k->st.node_id, k->st.epoch);
        kraft_become_unattached(k, k->st.epoch, k->st.node_id);
        return;
    }
    k->leader_timer = od_timer_add(k->core, 500, leader_timer_cb, k);
}

static kraft_replica_t *replica_state(kraft_t *k, int32_t id)
{
    int i = kraft_voter_index(k, id);
    if (i >= 0)
        return &k->voter_state[i];
    for (size_t j = 0; j < k->nobservers; j++)
        if (k->observers[j].id == id)
            return &k->observers[j];
    if (k->nobservers == KRAFT_MAX_VOTERS) /* bounded: the oldest entry goes */
        memmove(k->observers, k->observers + 1, --k->nobservers * sizeof k->observers[0]);
    kraft_replica_t *r = &k->observers[k->nobservers++];
    r->id = id;
    r->end_offset = r->last_fetch_ms = r->caught_up_ms = r->hw_sent = -1;
    return r;
}

kraft_replica_t *kraft_replica(kraft_t *k, int32_t id) { return replica_state(k, id); }

void kraft_leader_fetched(kraft_t *k, int32_t replica, int64_t offset)
{
    int64_t now = od_mono_ms();
    kraft_replica_t *r = replica_state(k, replica);
    r->end_offset = offset;
    r->last_fetch_ms = now;
    if (offset >= k->log.end_offset)
        r->caught_up_ms = now;
    int i = kraft_voter_index(k, replica);
    if (i >= 0 && offset > k->st.voters[i].match_offset)
        k->st.voters[i].match_offset = offset;
    int64_t hw = k->st.high_watermark;
    kraft_update_high_watermark(k);
    if (k->st.high_watermark > hw) {
        kraft_on_committed(k);
        answer_all_parked(k); /* everyone learns the new high watermark */
    } else {
        kraft_snap_after_apply(k); /* replicas moved on: segments may go */
    }
}

void kraft_leader_appended(kraft_t *k)
{
    kraft_parked_t **pp = &k->parked;
    while (*pp) {
        kraft_parked_t *pk = *pp;
        if (pk->fetch_offset < k->log.end_offset) {
            *pp = pk->next;
            kraft_answer_parked(k, pk);
        } else {
            pp = &pk->next;
        }
    }
}

int kraft_log_up_to_date(const kraft_t *k, int32_t last_epoch, int64_t last_offset)
{
    int32_t my_epoch = kraft_log_last_epoch(&k->log);
    if (last_epoch != my_epoch)
        return last_epoch > my_epoch;
    return last_offset >= k->log.end_offset;
}

void kraft_on_committed(kraft_t *k) { kraft_apply_committed(k); }

int kraft_raft_start(kraft_t *k, const kraft_qstate_t *qs, char *err, size_t errsz)
{
    srandom((unsigned)(od_mono_ms() ^ ((int64_t)getpid() << 16) ^ k->st.node_id));
    k->backing_off = 0;
    for (size_t i = 0; i < k->st.nvoters; i++) {
        kraft_voter_t *v = &k->st.voters[i];
        k->peers[i] = k->fwd_peers[i] = NULL;
        if (v->id == k->st.node_id)
            continue;
        k->peers[i] = kraft_peer_new(k->core, v->id, v->host, v->port, k->cfg_retry_backoff_ms);
        k->fwd_peers[i] = kraft_peer_new(k->core, v->id, v->host, v->port,
                                         k->cfg_retry_backoff_ms);
        if (!k->peers[i] || !k->fwd_peers[i]) {
            snprintf(err, errsz, "out of memory");
            return -1;
        }
    }
    k->st.epoch = qs->leader_epoch;
    k->st.voted_id = qs->voted_id;
    k->st.leader_id = -1;
    if (qs->leader_id == k->st.node_id)
        k->st.voted_id = k->st.node_id; /* we led that epoch: our vote went to us */
    k->started = 1;
    if (k->is_voter && k->st.nvoters == 1) {
        /* The single voter elects itself at once, as before quorums. */
        become_candidate(k);
        if (k->fatal[0] || k->st.role != KRAFT_LEADER) {
            snprintf(err, errsz, "%s", k->fatal[0] ? k->fatal : "could not become the leader");
            return -1;
        }
        return 0;
    }
    if (qs->leader_id >= 0 && qs->leader_id != k->st.node_id)
        kraft_become_follower(k, qs->leader_epoch, qs->leader_id);
    else
        kraft_become_unattached(k, k->st.epoch, k->st.voted_id);
    if (k->fatal[0]) {
        snprintf(err, errsz, "%s", k->fatal);
        return -1;
    }
    return 0;
}

void kraft_raft_stop(kraft_t *k)
{
    if (!k->started)
        return;
    if (k->st.role == KRAFT_LEADER && k->st.nvoters > 1)
        kraft_send_end_epoch(k); /* the others elect a successor at once */
    k->started = 0;
    cancel(k, &k->election_timer);
    cancel(k, &k->fetch_timer);
    cancel(k, &k->leader_timer);
    k->generation++;
    answer_all_parked(k);
    for (size_t i = 0; i < k->st.nvoters; i++) {
        kraft_peer_free(k->peers[i]); /* answers in flight fail; callbacks see !started */
        kraft_peer_free(k->fwd_peers[i]);
        k->peers[i] = k->fwd_peers[i] = NULL;
    }
}

/* The follower's fetch loop is driven from kraft_rpc.c; after an error it
 * waits controller.quorum.retry.backoff.ms. */
void kraft_leader_resigned(kraft_t *k, int position)
{
    k->st.role = KRAFT_UNATTACHED;
    k->st.leader_id = -1;
    k->generation++;
    cancel(k, &k->fetch_timer);
    if (persist_or_die(k) < 0)
        return;
    /* KIP-595: the first preferred successor starts at once, the others
     * after an exponentially growing share of the backoff. */
    int64_t wait = position <= 0 ? 0 : k->cfg_election_backoff_ms;
    for (int i = 1; i < position && wait < k->cfg_election_timeout_ms; i++)
        wait *= 2;
    k->backing_off = 0;
    arm_election(k, wait + jitter(wait / 2 + 1));
}

void kraft_fetch_later(kraft_t *k)
{
    cancel(k, &k->fetch_timer);
    k->fetch_timer = od_timer_add(k->core, k->cfg_retry_backoff_ms, fetch_timer_cb, k);
}
