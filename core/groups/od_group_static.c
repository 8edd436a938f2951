/* od_group_static.c - KIP-345 static members replaced in a stable group:
 * the JoinGroup of a static member that restarted with a new member id is
 * answered once the group record naming the new id is in the ISR of the
 * group's __consumer_offsets partition (Kafka's storeGroup callback in
 * GroupCoordinator's stable-group replacement); a failed write makes the
 * old id valid again and answers the error. The rest of the replacement
 * (fencing the old id, the other group states) is od_group_join.c's. */
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_group.h"
#include "od_proto_gen.h"

/* A static member's replacement waits for the group record's replication
 * (Kafka's storeGroup callback): what the answer needs, held apart from the
 * group, which may be freed or move on meanwhile. */
typedef struct static_store {
    od_core_t *core;   /* its coordinator is found again: it is freed at shutdown */
    od_coord_t *coord; /* unit tests (no core): the answer comes at once */
    char *group_id, *instance_id, *new_id, *old_id, *old_leader;
    int was_leader;
    int32_t generation;
    od_join_cb cb;
    void *ctx;
} static_store_t;

static void static_store_free(static_store_t *st)
{
    char *strs[] = {st->group_id, st->instance_id, st->new_id, st->old_id, st->old_leader};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        free(strs[i]);
    free(st);
}

void od_group_restore_old_id(od_group_t *g, od_gmember_t *m, char **old_id, int was_leader)
{
    char *nid = m->id;
    m->id = *old_id;
    *old_id = nid;
    if (was_leader) {
        free(g->leader);
        g->leader = strdup(m->id);
    }
}

/* The record is in the ISR (or failed): the new member id is answered, or
 * the old one is valid again with the error (Kafka reverts the
 * replacement). Nothing is done when the join was answered otherwise
 * meanwhile (a rebalance began, the group went away with its partition). */
static void static_stored(void *arg, int16_t ec)
{
    static_store_t *st = arg;
    od_coord_t *c = st->core ? st->core->coord : st->coord;
    od_group_t *g = od_group_find(c, st->group_id, strlen(st->group_id));
    od_gmember_t *m = g ? od_group_static_member(g, st->instance_id, strlen(st->instance_id))
                        : NULL;
    if (!m || g->state != OD_GS_STABLE || g->generation != st->generation ||
        strcmp(m->id, st->new_id) != 0 || m->join_cb != st->cb || m->join_ctx != st->ctx) {
        static_store_free(st);
        return;
    }
    if (ec == OD_ERR_NONE) {
        /* The old leader id is returned so that a former leader does not
         * compute an assignment a stable group would not hand out (Kafka
         * 2.4+). */
        od_join_result_t res = {OD_ERR_NONE, m->id, g->generation, g->protocol_type,
                                g->protocol, st->old_leader ? st->old_leader : "", 0, NULL};
        od_group_answer_join(m, &res);
        static_store_free(st);
        return;
    }
    od_logf(OD_LOG_WARN, "group %s: static member %s: member id %s not stored (%s); %s is "
            "valid again", g->id, st->instance_id, st->new_id, od_err_name(ec), st->old_id);
    od_group_restore_old_id(g, m, &st->old_id, st->was_leader);
    od_gmember_touch(m);
    od_join_result_t res = {ec, "", g->generation, g->protocol_type, g->protocol,
                            g->leader ? g->leader : "", 0, NULL};
    od_group_answer_join(m, &res);
    static_store_free(st);
}

int16_t od_group_static_store(od_group_t *g, od_gmember_t *m, const char *old_id,
                              const char *old_leader, int was_leader)
{
    static_store_t *st = calloc(1, sizeof(*st));
    if (!st)
        return OD_ERR_COORDINATOR_NOT_AVAILABLE;
    st->coord = g->coord;
    st->core = g->coord->core;
    st->group_id = strdup(g->id);
    st->instance_id = strdup(m->instance_id);
    st->new_id = strdup(m->id);
    st->old_id = strdup(old_id);
    st->old_leader = old_leader ? strdup(old_leader) : NULL;
    st->was_leader = was_leader;
    st->generation = g->generation;
    st->cb = m->join_cb;
    st->ctx = m->join_ctx;
    int16_t ec = OD_ERR_COORDINATOR_NOT_AVAILABLE;
    if (st->group_id && st->instance_id && st->new_id && st->old_id &&
        (!old_leader || st->old_leader))
        ec = od_gstore_group_then(g, static_stored, st);
    if (ec != OD_ERR_NONE)
        static_store_free(st);
    return ec;
}
