/* od_group_join.c - the classic rebalance protocol: JoinGroup, SyncGroup,
 * Heartbeat, LeaveGroup, session expiry and delayed joins, following
 * Kafka's GroupCoordinator state by state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_group.h"
#include "od_proto_gen.h"

static void prepare_rebalance(od_group_t *g, const char *reason);

static void answer_join_error(od_join_cb cb, void *ctx, int16_t err, const char *member_id)
{
    od_join_result_t res = {err, member_id ? member_id : "", -1, NULL, NULL, "", 0, NULL};
    cb(ctx, &res);
}

/* Hand the member's pending JoinGroup its answer (the callback is cleared
 * first: it may not be called twice). */
void od_group_answer_join(od_gmember_t *m, const od_join_result_t *res)
{
    od_join_cb cb = m->join_cb;
    void *ctx = m->join_ctx;
    m->join_cb = NULL;
    m->join_ctx = NULL;
    if (cb)
        cb(ctx, res);
}

static void answer_sync(od_gmember_t *m, int16_t err, const od_group_t *g)
{
    od_sync_cb cb = m->sync_cb;
    void *ctx = m->sync_ctx;
    m->sync_cb = NULL;
    m->sync_ctx = NULL;
    if (cb)
        cb(ctx, err, err == OD_ERR_NONE ? g : NULL, err == OD_ERR_NONE ? m->assignment : NULL,
           err == OD_ERR_NONE ? m->assignment_len : 0);
}

static void join_error_for(od_gmember_t *m, int16_t err)
{
    od_join_result_t res = {err, m->id, -1, NULL, NULL, "", 0, NULL};
    od_group_answer_join(m, &res);
}

/* ---- rebalancing ---- */

static void reset_assignments(od_group_t *g, int16_t err)
{
    for (size_t i = 0; i < g->nmembers; i++) {
        od_gmember_t *m = g->members[i];
        free(m->assignment);
        m->assignment = NULL;
        m->assignment_len = 0;
        if (m->sync_cb)
            answer_sync(m, err, g);
    }
}

static void maybe_prepare_rebalance(od_group_t *g, const char *reason)
{
    if (g->state == OD_GS_STABLE || g->state == OD_GS_COMPLETING || g->state == OD_GS_EMPTY)
        prepare_rebalance(g, reason);
}

static void complete_join(od_group_t *g);

static void join_timer_fired(void *arg)
{
    od_group_t *g = arg;
    g->join_timer = 0;
    if (g->initial_join && g->new_member_added && g->initial_remaining > 0) {
        /* Members are still arriving: wait once more, within the
         * rebalance timeout (Kafka's InitialDelayedJoin). */
        int64_t d = g->coord->conf.initial_delay_ms;
        int64_t delay = d < g->initial_remaining ? d : g->initial_remaining;
        g->new_member_added = 0;
        g->initial_remaining = g->initial_remaining - d > 0 ? g->initial_remaining - d : 0;
        g->join_timer = od_loop_timer(g->coord->loop, delay, join_timer_fired, g);
        return;
    }
    complete_join(g);
}

static void prepare_rebalance(od_group_t *g, const char *reason)
{
    od_coord_t *c = g->coord;
    if (g->state == OD_GS_COMPLETING)
        reset_assignments(g, OD_ERR_REBALANCE_IN_PROGRESS);
    int initial = g->state == OD_GS_EMPTY;
    int32_t rt = 0;
    for (size_t i = 0; i < g->nmembers; i++)
        if (g->members[i]->rebalance_timeout > rt)
            rt = g->members[i]->rebalance_timeout;
    g->rebalance_timeout = rt;
    if (g->join_timer && c->loop)
        od_loop_cancel(c->loop, g->join_timer);
    g->join_timer = 0;
    od_logf(OD_LOG_INFO, "group %s: preparing to rebalance in state %s with old generation %d (%s)",
            g->id, od_gstate_name(g->state), g->generation, reason);
    od_group_set_state(g, OD_GS_PREPARING);
    g->initial_join = initial;
    g->new_member_added = 0;
    if (initial) {
        int64_t d = c->conf.initial_delay_ms;
        g->initial_remaining = rt - d > 0 ? rt - d : 0;
        if (c->loop)
            g->join_timer = od_loop_timer(c->loop, d, join_timer_fired, g);
    } else {
        if (c->loop)
            g->join_timer = od_loop_timer(c->loop, rt, join_timer_fired, g);
        od_group_try_complete(g);
    }
}

static int all_joined(const od_group_t *g)
{
    if (g->npending)
        return 0;
    for (size_t i = 0; i < g->nmembers; i++)
        if (!g->members[i]->join_cb)
            return 0;
    return 1;
}

void od_group_try_complete(od_group_t *g)
{
    if (g->state == OD_GS_PREPARING && !g->initial_join && all_joined(g))
        complete_join(g);
}

static void empty_stored(void *arg, int16_t ec)
{
    char *gid = arg;
    if (ec != OD_ERR_NONE)
        od_logf(OD_LOG_WARN, "group %s: the empty group's record was not replicated: %s", gid,
                od_err_name(ec));
    free(gid);
}

static void complete_join(od_group_t *g)
{
    od_coord_t *c = g->coord;
    if (g->join_timer && c->loop)
        od_loop_cancel(c->loop, g->join_timer);
    g->join_timer = 0;
    g->initial_join = 0;
    if (g->state != OD_GS_PREPARING)
        return;
    /* Members that did not rejoin in time leave the group. */
    for (size_t i = 0; i < g->nmembers;) {
        od_gmember_t *m = g->members[i];
        if (m->join_cb) {
            i++;
            continue;
        }
        od_logf(OD_LOG_INFO, "group %s: member %s did not rejoin in time; removing it", g->id, m->id);
        if (m->sync_cb)
            answer_sync(m, OD_ERR_UNKNOWN_MEMBER_ID, g);
        od_group_drop_member(g, m);
    }
    g->generation++;
    free(g->protocol);
    g->protocol = NULL;
    if (g->nmembers == 0) {
        free(g->leader);
        g->leader = NULL;
        od_group_set_state(g, OD_GS_EMPTY);
        /* No one waits for this record; as Kafka, a failure (seen once
         * the ISR has it or not) is only logged: the previous generation
         * becomes active again after a failover, and it times out. */
        char *gid = strdup(g->id);
        int16_t ec = gid ? od_gstore_group_then(g, empty_stored, gid) : OD_ERR_UNKNOWN_SERVER_ERROR;
        if (ec != OD_ERR_NONE) {
            free(gid);
            od_logf(OD_LOG_WARN, "group %s: storing the empty group failed: %s", g->id,
                    od_err_name(ec));
        }
        od_logf(OD_LOG_INFO, "group %s: generation %d is empty", g->id, g->generation);
        return;
    }
    const char *sel = od_group_select_protocol(g);
    g->protocol = sel ? strdup(sel) : NULL;
    if (!g->leader || !od_group_member(g, g->leader, strlen(g->leader))) {
        free(g->leader);
        g->leader = strdup(g->members[0]->id);
    }
    od_group_set_state(g, OD_GS_COMPLETING);
    od_logf(OD_LOG_INFO, "group %s: generation %d with %zu member(s), protocol %s, leader %s", g->id,
            g->generation, g->nmembers, g->protocol ? g->protocol : "-", g->leader);
    for (size_t i = 0; i < g->nmembers; i++) {
        od_gmember_t *m = g->members[i];
        int lead = strcmp(m->id, g->leader) == 0;
        od_join_result_t res = {OD_ERR_NONE, m->id, g->generation, g->protocol_type, g->protocol,
                                g->leader, 0, lead ? g : NULL};
        m->is_new = 0;
        od_gmember_touch(m);
        od_group_answer_join(m, &res);
    }
}

void od_group_member_gone(od_group_t *g, od_gmember_t *m, const char *reason)
{
    join_error_for(m, OD_ERR_UNKNOWN_MEMBER_ID);
    if (m->sync_cb)
        answer_sync(m, OD_ERR_UNKNOWN_MEMBER_ID, g);
    od_group_drop_member(g, m);
    if (g->state == OD_GS_STABLE || g->state == OD_GS_COMPLETING)
        maybe_prepare_rebalance(g, reason);
    else if (g->state == OD_GS_PREPARING)
        od_group_try_complete(g);
}

/* ---- JoinGroup ---- */

static void add_member_and_rebalance(od_group_t *g, const char *id, const od_join_args_t *a,
                                     od_join_cb cb, void *ctx)
{
    od_gmember_t *m = od_gm_new(g, id, a);
    if (!m) {
        answer_join_error(cb, ctx, OD_ERR_UNKNOWN_SERVER_ERROR, "");
        return;
    }
    if (g->state == OD_GS_PREPARING && g->generation == 0)
        g->new_member_added = 1;
    if (!g->protocol_type || g->nmembers == 1) {
        free(g->protocol_type);
        g->protocol_type = strdup(m->protocol_type);
    }
    if (!g->leader)
        g->leader = strdup(m->id);
    m->is_new = 1;
    m->join_started = od_mono_ms();
    m->join_cb = cb;
    m->join_ctx = ctx;
    od_gmember_touch(m);
    od_logf(OD_LOG_INFO, "group %s: member %s joins (%s)", g->id, m->id,
            m->instance_id ? m->instance_id : "dynamic");
    maybe_prepare_rebalance(g, "adding a new member");
}

static void update_member_and_rebalance(od_group_t *g, od_gmember_t *m, const od_join_args_t *a,
                                        od_join_cb cb, void *ctx)
{
    if (m->join_cb)
        join_error_for(m, OD_ERR_REBALANCE_IN_PROGRESS);
    if (od_gm_set_protocols(m, a) < 0) {
        answer_join_error(cb, ctx, OD_ERR_UNKNOWN_SERVER_ERROR, m->id);
        return;
    }
    m->join_cb = cb;
    m->join_ctx = ctx;
    maybe_prepare_rebalance(g, "a member rejoined with new metadata or as the leader");
}

/* KIP-345: a static member restarted with a new member id. The old one is
 * fenced at once (its pending calls get FENCED_INSTANCE_ID); in a stable
 * group the new id is answered once the group record is replicated. */
static void replace_static_member(od_group_t *g, od_gmember_t *m, const char *new_id,
                                  const od_join_args_t *a, od_join_cb cb, void *ctx)
{
    if (m->join_cb)
        join_error_for(m, OD_ERR_FENCED_INSTANCE_ID);
    if (m->sync_cb)
        answer_sync(m, OD_ERR_FENCED_INSTANCE_ID, g);
    char *nid = strdup(new_id);
    if (!nid || od_gm_set_protocols(m, a) < 0) {
        free(nid);
        answer_join_error(cb, ctx, OD_ERR_UNKNOWN_SERVER_ERROR, "");
        return;
    }
    char *old_id = m->id;
    char *old_leader = g->leader;
    int was_leader = g->leader && strcmp(g->leader, old_id) == 0;
    m->id = nid;
    if (was_leader)
        g->leader = strdup(nid);
    m->join_cb = cb;
    m->join_ctx = ctx;
    od_gmember_touch(m);
    od_logf(OD_LOG_INFO, "group %s: static member %s replaced member id %s by %s", g->id,
            m->instance_id, old_id, nid);
    if (g->state == OD_GS_STABLE) {
        const char *sel = od_group_select_protocol(g);
        int16_t ec = OD_ERR_NONE;
        if (!g->protocol || !sel || strcmp(sel, g->protocol) != 0)
            maybe_prepare_rebalance(g, "static member rejoined with a different protocol");
        else if ((ec = od_group_static_store(g, m, old_id, old_leader, was_leader)) != 0) {
            od_group_restore_old_id(g, m, &old_id, was_leader); /* the old id stays valid */
            m->join_cb = NULL;
            m->join_ctx = NULL;
            answer_join_error(cb, ctx, ec, "");
        }
    } else if (g->state == OD_GS_COMPLETING) {
        prepare_rebalance(g, "static member replaced during CompletingRebalance");
    }
    free(old_id);
    if (was_leader)
        free(old_leader);
}

static int accept_joining(const od_group_t *g, const od_gmember_t *m)
{
    size_t max = (size_t)g->coord->conf.max_size;
    switch (g->state) {
    case OD_GS_EMPTY:
    case OD_GS_DEAD:
        return 1;
    case OD_GS_PREPARING: {
        if (m && m->join_cb)
            return 1;
        size_t awaiting = 0;
        for (size_t i = 0; i < g->nmembers; i++)
            awaiting += g->members[i]->join_cb != NULL;
        return awaiting < max;
    }
    default:
        return m != NULL || g->nmembers < max;
    }
}

static void join_current(od_group_t *g, const od_join_args_t *a, od_join_cb cb, void *ctx)
{
    od_str_t mid = a->member_id;
    ssize_t pi = od_gm_pending_index(g, mid);
    if (pi >= 0 && a->instance_id.len < 0) {
        char id[256];
        snprintf(id, sizeof(id), "%s", g->pending[pi].id);
        od_gm_pending_remove(g, (size_t)pi);
        add_member_and_rebalance(g, id, a, cb, ctx);
        return;
    }
    if (od_group_static_fenced(g, mid, a->instance_id)) {
        answer_join_error(cb, ctx, OD_ERR_FENCED_INSTANCE_ID, "");
        return;
    }
    od_gmember_t *m = od_group_member(g, mid.p, (size_t)mid.len);
    if (!m) {
        answer_join_error(cb, ctx, OD_ERR_UNKNOWN_MEMBER_ID, "");
        return;
    }
    switch (g->state) {
    case OD_GS_PREPARING:
        update_member_and_rebalance(g, m, a, cb, ctx);
        break;
    case OD_GS_COMPLETING:
        if (od_gm_same_protocols(m, a)) {
            /* A retried JoinGroup: answer with the current generation. */
            int lead = g->leader && strcmp(g->leader, m->id) == 0;
            od_join_result_t res = {OD_ERR_NONE, m->id, g->generation, g->protocol_type,
                                    g->protocol, g->leader, 0, lead ? g : NULL};
            cb(ctx, &res);
        } else {
            update_member_and_rebalance(g, m, a, cb, ctx);
        }
        break;
    case OD_GS_STABLE:
        if ((g->leader && strcmp(g->leader, m->id) == 0) || !od_gm_same_protocols(m, a)) {
            update_member_and_rebalance(g, m, a, cb, ctx);
        } else {
            od_join_result_t res = {OD_ERR_NONE, m->id, g->generation, g->protocol_type,
                                    g->protocol, g->leader, 0, NULL};
            od_gmember_touch(m);
            cb(ctx, &res);
        }
        break;
    default:
        answer_join_error(cb, ctx, OD_ERR_UNKNOWN_MEMBER_ID, "");
        break;
    }
}

void od_group_join(od_coord_t *c, const od_join_args_t *a, od_join_cb cb, void *ctx)
{
    od_str_t gid = a->group_id;
    if (gid.len <= 0) {
        answer_join_error(cb, ctx, OD_ERR_INVALID_GROUP_ID, "");
        return;
    }
    int32_t part;
    int16_t ec = od_coord_check(c, gid.p, (size_t)gid.len, &part);
    if (ec != OD_ERR_NONE) {
        answer_join_error(cb, ctx, ec, "");
        return;
    }
    if (a->session_timeout < c->conf.min_session_ms ||
        a->session_timeout > c->conf.max_session_ms) {
        answer_join_error(cb, ctx, OD_ERR_INVALID_SESSION_TIMEOUT, "");
        return;
    }
    int unknown = a->member_id.len <= 0;
    od_group_t *g = od_group_find(c, gid.p, (size_t)gid.len);
    if (!g) {
        if (!unknown) {
            answer_join_error(cb, ctx, OD_ERR_UNKNOWN_MEMBER_ID, "");
            return;
        }
        if (!(g = od_group_create(c, gid.p, (size_t)gid.len))) {
            answer_join_error(cb, ctx, OD_ERR_COORDINATOR_NOT_AVAILABLE, "");
            return;
        }
    }
    od_gmember_t *cur = unknown ? NULL : od_group_member(g, a->member_id.p, (size_t)a->member_id.len);
    if (!accept_joining(g, cur)) {
        answer_join_error(cb, ctx, OD_ERR_GROUP_MAX_SIZE_REACHED, "");
        return;
    }
    if (g->state == OD_GS_DEAD) {
        answer_join_error(cb, ctx, OD_ERR_COORDINATOR_NOT_AVAILABLE, "");
        return;
    }
    if (!od_gm_supports(g, a, cur)) {
        answer_join_error(cb, ctx, OD_ERR_INCONSISTENT_GROUP_PROTOCOL, "");
        return;
    }
    if (!unknown) {
        join_current(g, a, cb, ctx);
        od_group_try_complete(g);
        return;
    }
    char id[320];
    od_gm_new_id(a->instance_id.len >= 0 ? a->instance_id : a->client_id, id, sizeof(id));
    if (a->instance_id.len >= 0) {
        od_gmember_t *old = od_group_static_member(g, a->instance_id.p, (size_t)a->instance_id.len);
        if (old)
            replace_static_member(g, old, id, a, cb, ctx);
        else
            add_member_and_rebalance(g, id, a, cb, ctx);
    } else if (a->require_known_member_id) {
        /* KIP-394: the client must come back with this id. */
        if (od_gm_pending_add(g, id, a->session_timeout) < 0) {
            answer_join_error(cb, ctx, OD_ERR_UNKNOWN_SERVER_ERROR, "");
            return;
        }
        answer_join_error(cb, ctx, OD_ERR_MEMBER_ID_REQUIRED, id);
        return;
    } else {
        add_member_and_rebalance(g, id, a, cb, ctx);
    }
    od_group_try_complete(g);
}

/* ---- SyncGroup ---- */

static int str_matches(const char *s, od_str_t v)
{
    return s && v.len >= 0 && strlen(s) == (size_t)v.len && memcmp(s, v.p, (size_t)v.len) == 0;
}

static void leader_stored(od_group_t *g, int16_t ec);

static void leader_sync(od_group_t *g, const od_sync_assign_t *asg, int32_t nasg)
{
    if (g->store_wait)
        return; /* a repeated SyncGroup of the leader: the first one's assignment is being stored */
    for (size_t i = 0; i < g->nmembers; i++) {
        od_gmember_t *m = g->members[i];
        free(m->assignment);
        m->assignment = NULL;
        m->assignment_len = 0;
        for (int32_t k = 0; k < nasg; k++) {
            if (!str_matches(m->id, asg[k].member_id))
                continue;
            int32_t l = asg[k].assignment.len > 0 ? asg[k].assignment.len : 0;
            if (l && (m->assignment = malloc((size_t)l))) {
                memcpy(m->assignment, asg[k].assignment.p, (size_t)l);
                m->assignment_len = l;
            }
            break;
        }
    }
    /* The members learn their assignment only once the group record is in
     * the ISR, so a new coordinator knows this generation (Kafka's
     * storeGroup with acks=-1). */
    int16_t ec = od_gstore_group_replicated(g, leader_stored);
    if (ec != OD_ERR_NONE)
        leader_stored(g, ec);
}

static void leader_stored(od_group_t *g, int16_t ec)
{
    if (ec != OD_ERR_NONE) {
        od_logf(OD_LOG_WARN, "group %s: storing generation %d failed: %s", g->id, g->generation,
                od_err_name(ec));
        reset_assignments(g, ec);
        maybe_prepare_rebalance(g, "storing the group failed");
        return;
    }
    od_group_set_state(g, OD_GS_STABLE);
    for (size_t i = 0; i < g->nmembers; i++) {
        od_gmember_t *m = g->members[i];
        if (m->sync_cb) {
            od_gmember_touch(m);
            answer_sync(m, OD_ERR_NONE, g);
        }
    }
    od_logf(OD_LOG_INFO, "group %s: generation %d is stable", g->id, g->generation);
}

void od_group_sync(od_coord_t *c, od_str_t gid, int32_t generation, od_str_t member_id,
                   od_str_t instance_id, od_str_t ptype, od_str_t pname,
                   const od_sync_assign_t *asg, int32_t nasg, od_sync_cb cb, void *ctx)
{
    int32_t part;
    int16_t ec = gid.len <= 0 ? OD_ERR_INVALID_GROUP_ID
                              : od_coord_check(c, gid.p, (size_t)gid.len, &part);
    od_group_t *g = ec == OD_ERR_NONE ? od_group_find(c, gid.p, (size_t)gid.len) : NULL;
    od_gmember_t *m = NULL;
    if (ec == OD_ERR_NONE) {
        if (!g)
            ec = OD_ERR_UNKNOWN_MEMBER_ID;
        else if (g->state == OD_GS_DEAD)
            ec = OD_ERR_COORDINATOR_NOT_AVAILABLE;
        else if (od_group_static_fenced(g, member_id, instance_id))
            ec = OD_ERR_FENCED_INSTANCE_ID;
        else if (!(m = od_group_member(g, member_id.p, member_id.len > 0 ? (size_t)member_id.len : 0)))
            ec = OD_ERR_UNKNOWN_MEMBER_ID;
        else if (generation != g->generation)
            ec = OD_ERR_ILLEGAL_GENERATION;
        else if (ptype.len >= 0 && !str_matches(g->protocol_type, ptype))
            ec = OD_ERR_INCONSISTENT_GROUP_PROTOCOL;
        else if (pname.len >= 0 && !str_matches(g->protocol, pname))
            ec = OD_ERR_INCONSISTENT_GROUP_PROTOCOL;
        else if (g->state == OD_GS_EMPTY)
            ec = OD_ERR_UNKNOWN_MEMBER_ID;
        else if (g->state == OD_GS_PREPARING)
            ec = OD_ERR_REBALANCE_IN_PROGRESS;
    }
    if (ec != OD_ERR_NONE) {
        cb(ctx, ec, NULL, NULL, 0);
        return;
    }
    if (g->state == OD_GS_STABLE) {
        od_gmember_touch(m);
        cb(ctx, OD_ERR_NONE, g, m->assignment, m->assignment_len);
        return;
    }
    /* CompletingRebalance: wait for the leader's assignment. */
    if (m->sync_cb)
        answer_sync(m, OD_ERR_REBALANCE_IN_PROGRESS, g);
    m->sync_cb = cb;
    m->sync_ctx = ctx;
    if (g->leader && strcmp(g->leader, m->id) == 0)
        leader_sync(g, asg, nasg);
}

/* ---- Heartbeat and LeaveGroup ---- */

int16_t od_group_heartbeat(od_coord_t *c, od_str_t gid, int32_t generation, od_str_t member_id,
                           od_str_t instance_id)
{
    int32_t part;
    if (gid.len <= 0)
        return OD_ERR_INVALID_GROUP_ID;
    int16_t ec = od_coord_check(c, gid.p, (size_t)gid.len, &part);
    if (ec != OD_ERR_NONE)
        return ec;
    od_group_t *g = od_group_find(c, gid.p, (size_t)gid.len);
    if (!g)
        return OD_ERR_UNKNOWN_MEMBER_ID;
    if (g->state == OD_GS_DEAD)
        return OD_ERR_COORDINATOR_NOT_AVAILABLE;
    if (od_group_static_fenced(g, member_id, instance_id))
        return OD_ERR_FENCED_INSTANCE_ID;
    od_gmember_t *m = od_group_member(g, member_id.p, member_id.len > 0 ? (size_t)member_id.len : 0);
    if (!m)
        return OD_ERR_UNKNOWN_MEMBER_ID;
    if (generation != g->generation)
        return OD_ERR_ILLEGAL_GENERATION;
    switch (g->state) {
    case OD_GS_EMPTY:
        return OD_ERR_UNKNOWN_MEMBER_ID;
    case OD_GS_PREPARING:
        od_gmember_touch(m);
        return OD_ERR_REBALANCE_IN_PROGRESS;
    default:
        od_gmember_touch(m);
        return OD_ERR_NONE;
    }
}

int16_t od_group_leave(od_group_t *g, od_str_t member_id, od_str_t instance_id)
{
    if (g->state == OD_GS_DEAD)
        return OD_ERR_COORDINATOR_NOT_AVAILABLE;
    if (member_id.len <= 0) {
        /* Administrative removal by group.instance.id. */
        od_gmember_t *m = instance_id.len >= 0
                              ? od_group_static_member(g, instance_id.p, (size_t)instance_id.len)
                              : NULL;
        if (!m)
            return OD_ERR_UNKNOWN_MEMBER_ID;
        od_logf(OD_LOG_INFO, "group %s: static member %s removed by LeaveGroup", g->id, m->instance_id);
        od_group_member_gone(g, m, "static member removed");
        return OD_ERR_NONE;
    }
    ssize_t pi = od_gm_pending_index(g, member_id);
    if (pi >= 0) {
        od_gm_pending_remove(g, (size_t)pi);
        od_group_try_complete(g);
        return OD_ERR_NONE;
    }
    if (od_group_static_fenced(g, member_id, instance_id))
        return OD_ERR_FENCED_INSTANCE_ID;
    od_gmember_t *m = od_group_member(g, member_id.p, (size_t)member_id.len);
    if (!m)
        return OD_ERR_UNKNOWN_MEMBER_ID;
    od_logf(OD_LOG_INFO, "group %s: member %s leaves", g->id, m->id);
    od_group_member_gone(g, m, "member left the group");
    return OD_ERR_NONE;
}
