/* od_group_offsets.c - committed offsets: OffsetCommit validation and
 * storage, DeleteGroups, OffsetDelete, and offset retention. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_group.h"

static void set_all(od_gcommit_t *parts, size_t n, int16_t ec)
{
    for (size_t i = 0; i < n; i++)
        if (parts[i].error == OD_ERR_NONE)
            parts[i].error = ec;
}

/* Kafka's validateOffsetCommit. */
static int16_t validate_commit(od_group_t *g, int32_t generation, od_str_t member,
                               od_str_t inst, od_gmember_t **mout)
{
    *mout = NULL;
    if (g->state == OD_GS_DEAD)
        return OD_ERR_COORDINATOR_NOT_AVAILABLE;
    if (generation >= 0 || member.len > 0 || inst.len >= 0) {
        if (od_group_static_fenced(g, member, inst))
            return OD_ERR_FENCED_INSTANCE_ID;
        od_gmember_t *m = od_group_member(g, member.p, member.len > 0 ? (size_t)member.len : 0);
        if (!m)
            return OD_ERR_UNKNOWN_MEMBER_ID;
        if (generation != g->generation)
            return OD_ERR_ILLEGAL_GENERATION;
        *mout = m;
        return OD_ERR_NONE;
    }
    /* Without membership only an empty group takes commits. */
    return g->state == OD_GS_EMPTY ? OD_ERR_NONE : OD_ERR_UNKNOWN_MEMBER_ID;
}

void od_group_commit(od_coord_t *coord, od_str_t gid, int32_t generation, od_str_t member,
                     od_str_t inst, int64_t retention_ms, od_gcommit_t *parts, size_t n)
{
    int32_t part;
    int16_t ec = gid.len < 0 ? OD_ERR_INVALID_GROUP_ID
                             : od_coord_check(coord, gid.p ? gid.p : "", (size_t)gid.len, &part);
    if (ec != OD_ERR_NONE) {
        set_all(parts, n, ec);
        return;
    }
    od_group_t *g = od_group_find(coord, gid.p ? gid.p : "", (size_t)gid.len);
    if (!g) {
        if (generation >= 0) { /* a commit from an older generation */
            set_all(parts, n, OD_ERR_ILLEGAL_GENERATION);
            return;
        }
        if (!(g = od_group_create(coord, gid.p ? gid.p : "", (size_t)gid.len))) {
            set_all(parts, n, OD_ERR_COORDINATOR_NOT_AVAILABLE);
            return;
        }
    }
    od_gmember_t *m;
    ec = validate_commit(g, generation, member, inst, &m);
    if (ec == OD_ERR_NONE && g->state == OD_GS_COMPLETING)
        ec = OD_ERR_REBALANCE_IN_PROGRESS;
    if (ec != OD_ERR_NONE) {
        set_all(parts, n, ec);
        return;
    }
    if (m)
        od_gmember_touch(m);
    int64_t now = od_now_ms();
    od_gbatch_t *b = od_gbatch_new();
    if (!b) {
        set_all(parts, n, OD_ERR_UNKNOWN_SERVER_ERROR);
        return;
    }
    /* Strings for the records and the cache, NUL-terminated. */
    od_goffset_t *offs = calloc(n ? n : 1, sizeof(*offs));
    if (!offs) {
        od_gbatch_free(b);
        set_all(parts, n, OD_ERR_UNKNOWN_SERVER_ERROR);
        return;
    }
    size_t nvalid = 0;
    for (size_t i = 0; i < n; i++) {
        od_gcommit_t *c = &parts[i];
        if (c->error != OD_ERR_NONE)
            continue;
        if (c->metadata.len > coord->conf.metadata_max) {
            c->error = OD_ERR_OFFSET_METADATA_TOO_LARGE;
            continue;
        }
        od_goffset_t *o = &offs[i];
        o->topic = strndup(c->topic.p ? c->topic.p : "", c->topic.len > 0 ? (size_t)c->topic.len : 0);
        o->metadata_len = c->metadata.len > 0 ? (size_t)c->metadata.len : 0;
        o->metadata = malloc(o->metadata_len + 1);
        if (o->metadata) {
            if (o->metadata_len)
                memcpy(o->metadata, c->metadata.p, o->metadata_len);
            o->metadata[o->metadata_len] = '\0';
        }
        o->partition = c->partition;
        o->offset = c->offset;
        o->leader_epoch = c->leader_epoch;
        o->commit_ts = c->commit_ts == -1 ? now : c->commit_ts;
        o->expire_ts = retention_ms == -1 ? -1 : now + retention_ms;
        if (!o->topic || !o->metadata || od_gbatch_offset(b, g->id, o) < 0) {
            c->error = OD_ERR_UNKNOWN_SERVER_ERROR;
            continue;
        }
        nvalid++;
    }
    ec = nvalid ? od_gbatch_append(coord, b, g->partition) : OD_ERR_NONE;
    od_gbatch_free(b);
    for (size_t i = 0; i < n; i++) {
        od_gcommit_t *c = &parts[i];
        if (c->error == OD_ERR_NONE && offs[i].topic) {
            if (ec != OD_ERR_NONE)
                c->error = ec;
            else if (od_group_offset_put(g, &offs[i]) < 0)
                c->error = OD_ERR_UNKNOWN_SERVER_ERROR;
        }
        free(offs[i].topic);
        free(offs[i].metadata);
    }
    free(offs);
    if (ec != OD_ERR_NONE)
        od_logf(OD_LOG_WARN, "group %s: offset commit failed: %s", g->id, od_err_name(ec));
}

/* Tombstones for the group and all its offsets. */
static int16_t write_group_tombstones(od_group_t *g)
{
    od_gbatch_t *b = od_gbatch_new();
    if (!b)
        return OD_ERR_UNKNOWN_SERVER_ERROR;
    for (size_t i = 0; i < g->noffsets; i++)
        od_gbatch_offset_tombstone(b, g->id, g->offsets[i].topic, g->offsets[i].partition);
    od_gbatch_group_tombstone(b, g->id);
    int16_t ec = od_gbatch_append(g->coord, b, g->partition);
    od_gbatch_free(b);
    return ec;
}

int16_t od_group_delete(od_coord_t *c, od_str_t gid)
{
    int32_t part;
    if (gid.len < 0)
        return OD_ERR_INVALID_GROUP_ID;
    int16_t ec = od_coord_check(c, gid.p ? gid.p : "", (size_t)gid.len, &part);
    if (ec != OD_ERR_NONE)
        return ec;
    od_group_t *g = od_group_find(c, gid.p ? gid.p : "", (size_t)gid.len);
    if (!g || g->state == OD_GS_DEAD)
        return OD_ERR_GROUP_ID_NOT_FOUND;
    if (g->state != OD_GS_EMPTY)
        return OD_ERR_NON_EMPTY_GROUP;
    ec = write_group_tombstones(g);
    if (ec != OD_ERR_NONE)
        return ec;
    od_logf(OD_LOG_INFO, "group %s deleted (%zu offset(s))", g->id, g->noffsets);
    od_group_destroy(g);
    return OD_ERR_NONE;
}

int16_t od_group_delete_offsets(od_coord_t *coord, od_str_t gid, od_gcommit_t *parts, size_t n)
{
    int32_t part;
    if (gid.len <= 0)
        return OD_ERR_INVALID_GROUP_ID;
    int16_t ec = od_coord_check(coord, gid.p, (size_t)gid.len, &part);
    if (ec != OD_ERR_NONE)
        return ec;
    od_group_t *g = od_group_find(coord, gid.p, (size_t)gid.len);
    if (!g || g->state == OD_GS_DEAD)
        return OD_ERR_GROUP_ID_NOT_FOUND;
    int consumer = g->protocol_type && strcmp(g->protocol_type, "consumer") == 0;
    if (g->state != OD_GS_EMPTY && !consumer)
        return OD_ERR_NON_EMPTY_GROUP;
    od_gbatch_t *b = od_gbatch_new();
    if (!b)
        return OD_ERR_UNKNOWN_SERVER_ERROR;
    for (size_t i = 0; i < n; i++) {
        od_gcommit_t *c = &parts[i];
        if (c->error != OD_ERR_NONE || c->topic.len < 0)
            continue;
        if (g->state != OD_GS_EMPTY && od_group_subscribed(g, c->topic.p, (size_t)c->topic.len)) {
            c->error = OD_ERR_GROUP_SUBSCRIBED_TO_TOPIC;
            continue;
        }
        if (od_group_offset(g, c->topic.p, (size_t)c->topic.len, c->partition)) {
            char *t = strndup(c->topic.p, (size_t)c->topic.len);
            if (t)
                od_gbatch_offset_tombstone(b, g->id, t, c->partition);
            free(t);
        }
    }
    ec = od_gbatch_append(coord, b, g->partition);
    od_gbatch_free(b);
    if (ec != OD_ERR_NONE)
        return ec;
    for (size_t i = 0; i < n; i++) {
        od_gcommit_t *c = &parts[i];
        if (c->error != OD_ERR_NONE || c->topic.len < 0)
            continue;
        od_goffset_t *o = od_group_offset(g, c->topic.p, (size_t)c->topic.len, c->partition);
        if (o)
            od_group_offset_remove(g, o);
    }
    return OD_ERR_NONE;
}

/* Kafka's GroupMetadata.removeExpiredOffsets and cleanupGroupMetadata. */
static void expire_group(od_group_t *g, int64_t now)
{
    int64_t retention = g->coord->conf.retention_minutes * 60000;
    int simple = !g->protocol_type;
    int empty_typed = g->protocol_type && g->state == OD_GS_EMPTY;
    int stable_consumer = g->protocol_type && strcmp(g->protocol_type, "consumer") == 0 &&
                          g->state == OD_GS_STABLE;
    od_gbatch_t *b = od_gbatch_new();
    if (!b)
        return;
    size_t nexp = 0;
    unsigned char *expired = calloc(g->noffsets ? g->noffsets : 1, 1);
    if (!expired) {
        od_gbatch_free(b);
        return;
    }
    for (size_t i = 0; i < g->noffsets; i++) {
        od_goffset_t *o = &g->offsets[i];
        int due;
        if (o->expire_ts >= 0) {
            due = (simple || empty_typed || stable_consumer) && now >= o->expire_ts;
        } else if (simple) {
            due = now - o->commit_ts >= retention;
        } else if (empty_typed) {
            int64_t base = g->state_ts >= 0 ? g->state_ts : o->commit_ts;
            due = now - base >= retention;
        } else if (stable_consumer) {
            due = !od_group_subscribed(g, o->topic, strlen(o->topic)) &&
                  now - o->commit_ts >= retention;
        } else {
            due = 0;
        }
        if (due) {
            expired[i] = 1;
            nexp++;
            od_gbatch_offset_tombstone(b, g->id, o->topic, o->partition);
        }
    }
    int dead = g->state == OD_GS_EMPTY && g->noffsets == nexp && g->npending == 0;
    if (dead && g->has_metadata)
        od_gbatch_group_tombstone(b, g->id);
    int16_t ec = od_gbatch_append(g->coord, b, g->partition);
    od_gbatch_free(b);
    if (ec != OD_ERR_NONE) {
        od_logf(OD_LOG_WARN, "group %s: writing offset tombstones failed: %s", g->id,
                od_err_name(ec));
        free(expired);
        return;
    }
    for (size_t i = g->noffsets; i-- > 0;)
        if (expired[i])
            od_group_offset_remove(g, &g->offsets[i]);
    free(expired);
    if (nexp)
        od_logf(OD_LOG_INFO, "group %s: removed %zu expired offset(s)", g->id, nexp);
    if (dead) {
        od_logf(OD_LOG_INFO, "group %s: empty without offsets; removed", g->id);
        od_group_destroy(g);
    }
}

void od_groups_expire(od_coord_t *c, int64_t now)
{
    od_group_t *g = od_group_next(c, NULL);
    while (g) {
        od_group_t *next = od_group_next(c, g);
        expire_group(g, now);
        g = next;
    }
}
