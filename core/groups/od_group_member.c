/* od_group_member.c - members of a group: ids, sessions, protocols and
 * metadata, and the ids handed out with MEMBER_ID_REQUIRED. The rebalance
 * itself is in od_group_join.c. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_group.h"

/* A new member whose JoinGroup waits this long is dropped (Kafka's
 * NewMemberJoinTimeoutMs); a client still there simply joins again. */
#define NEW_MEMBER_JOIN_TIMEOUT_MS 300000

static char *dup_str(od_str_t s) { return s.len >= 0 ? strndup(s.p ? s.p : "", (size_t)s.len) : NULL; }

void od_gm_new_id(od_str_t prefix, char *out, size_t outsz)
{
    uint8_t u[16];
    randombytes_buf(u, sizeof(u));
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
    char hex[40];
    size_t k = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            hex[k++] = '-';
        k += (size_t)snprintf(hex + k, sizeof(hex) - k, "%02x", u[i]);
    }
    int plen = prefix.len > 0 ? (prefix.len > 200 ? 200 : prefix.len) : 0;
    snprintf(out, outsz, "%.*s-%s", plen, plen ? prefix.p : "", hex);
}

/* ---- sessions ---- */

static void session_expired(void *arg);

/* Kafka's completeAndScheduleNextHeartbeatExpiration: the session restarts
 * now. One timer per member; moving the deadline does not touch the timer
 * heap, the timer re-arms itself when it fires early. */
void od_gmember_touch(od_gmember_t *m)
{
    od_loop_t *loop = m->g->coord->loop;
    m->deadline = od_mono_ms() + m->session_timeout;
    if (!m->timer && loop)
        m->timer = od_loop_timer(loop, m->session_timeout, session_expired, m);
}

static void session_expired(void *arg)
{
    od_gmember_t *m = arg;
    m->timer = 0;
    int64_t now = od_mono_ms();
    int keep = m->sync_cb ||
               (m->join_cb && (!m->is_new || now - m->join_started < NEW_MEMBER_JOIN_TIMEOUT_MS));
    if (keep && now >= m->deadline)
        m->deadline = now + m->session_timeout;
    if (now < m->deadline) {
        m->timer = od_loop_timer(m->g->coord->loop, m->deadline - now, session_expired, m);
        return;
    }
    od_group_t *g = m->g;
    od_logf(OD_LOG_INFO, "group %s: member %s (%s) expired after %d ms without a heartbeat", g->id,
            m->id, m->instance_id ? m->instance_id : "dynamic", m->session_timeout);
    od_group_member_gone(g, m, "member's session expired");
}

void od_group_start_sessions(od_group_t *g)
{
    for (size_t i = 0; i < g->nmembers; i++)
        od_gmember_touch(g->members[i]);
}

/* ---- protocols ---- */

static int member_supports(const od_gmember_t *m, const char *name, size_t len)
{
    for (int32_t i = 0; i < m->nprotos; i++)
        if (strlen(m->protos[i].name) == len && memcmp(m->protos[i].name, name, len) == 0)
            return 1;
    return 0;
}

/* Kafka's supportsProtocols: an empty group takes any non-empty protocol
 * type and list; otherwise the type must match and one protocol must be
 * supported by every other member. */
int od_gm_supports(const od_group_t *g, const od_join_args_t *a, const od_gmember_t *self)
{
    if (a->protocol_type.len <= 0 || a->nprotos <= 0)
        return 0;
    size_t others = 0;
    for (size_t i = 0; i < g->nmembers; i++)
        others += g->members[i] != self;
    if (others == 0)
        return 1;
    if (!g->protocol_type || strlen(g->protocol_type) != (size_t)a->protocol_type.len ||
        memcmp(g->protocol_type, a->protocol_type.p, (size_t)a->protocol_type.len) != 0)
        return 0;
    for (int32_t j = 0; j < a->nprotos; j++) {
        od_str_t n = a->protos[j].name;
        if (n.len < 0)
            continue;
        size_t ok = 0;
        for (size_t i = 0; i < g->nmembers; i++)
            if (g->members[i] != self && member_supports(g->members[i], n.p, (size_t)n.len))
                ok++;
        if (ok == others)
            return 1;
    }
    return 0;
}

const char *od_group_select_protocol(const od_group_t *g)
{
    if (g->nmembers == 0)
        return NULL;
    const od_gmember_t *first = g->members[0];
    const char *best = NULL;
    size_t best_votes = 0;
    for (int32_t c = 0; c < first->nprotos; c++) {
        const char *cand = first->protos[c].name;
        int all = 1;
        for (size_t i = 1; i < g->nmembers && all; i++)
            all = member_supports(g->members[i], cand, strlen(cand));
        if (!all)
            continue;
        /* Each member votes for its most preferred candidate. */
        size_t votes = 0;
        for (size_t i = 0; i < g->nmembers; i++) {
            const od_gmember_t *m = g->members[i];
            for (int32_t k = 0; k < m->nprotos; k++) {
                const char *p = m->protos[k].name;
                int p_all = 1;
                for (size_t x = 0; x < g->nmembers && p_all; x++)
                    p_all = member_supports(g->members[x], p, strlen(p));
                if (p_all) {
                    votes += strcmp(p, cand) == 0;
                    break;
                }
            }
        }
        if (!best || votes > best_votes) {
            best = cand;
            best_votes = votes;
        }
    }
    return best ? best : (first->nprotos ? first->protos[0].name : NULL);
}

int od_gm_set_protocols(od_gmember_t *m, const od_join_args_t *a)
{
    od_gproto_t *np = calloc(a->nprotos > 0 ? (size_t)a->nprotos : 1, sizeof(*np));
    if (!np)
        return -1;
    for (int32_t i = 0; i < a->nprotos; i++) {
        np[i].name = dup_str(a->protos[i].name.len >= 0 ? a->protos[i].name : od_str_c(""));
        int32_t ml = a->protos[i].meta.len > 0 ? a->protos[i].meta.len : 0;
        np[i].meta = malloc(ml ? (size_t)ml : 1);
        if (!np[i].name || !np[i].meta) {
            for (int32_t k = 0; k <= i; k++) {
                free(np[k].name);
                free(np[k].meta);
            }
            free(np);
            return -1;
        }
        if (ml)
            memcpy(np[i].meta, a->protos[i].meta.p, (size_t)ml);
        np[i].meta_len = ml;
    }
    for (int32_t i = 0; i < m->nprotos; i++) {
        free(m->protos[i].name);
        free(m->protos[i].meta);
    }
    free(m->protos);
    m->protos = np;
    m->nprotos = a->nprotos;
    m->session_timeout = a->session_timeout;
    m->rebalance_timeout = a->rebalance_timeout;
    return 0;
}

/* Kafka's member.matches: the same protocols with the same metadata. */
int od_gm_same_protocols(const od_gmember_t *m, const od_join_args_t *a)
{
    if (m->nprotos != a->nprotos)
        return 0;
    for (int32_t i = 0; i < a->nprotos; i++) {
        od_str_t n = a->protos[i].name;
        od_bytes_t b = a->protos[i].meta;
        int32_t bl = b.len > 0 ? b.len : 0;
        if (n.len < 0 || strlen(m->protos[i].name) != (size_t)n.len ||
            memcmp(m->protos[i].name, n.p, (size_t)n.len) != 0 || m->protos[i].meta_len != bl ||
            (bl && memcmp(m->protos[i].meta, b.p, (size_t)bl) != 0))
            return 0;
    }
    return 1;
}

od_gmember_t *od_gm_new(od_group_t *g, const char *id, const od_join_args_t *a)
{
    if (g->nmembers == g->members_cap) {
        size_t nc = g->members_cap ? g->members_cap * 2 : 4;
        od_gmember_t **nm = realloc(g->members, nc * sizeof(*nm));
        if (!nm)
            return NULL;
        g->members = nm;
        g->members_cap = nc;
    }
    od_gmember_t *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->g = g;
    m->id = strdup(id);
    m->instance_id = dup_str(a->instance_id);
    m->client_id = dup_str(a->client_id.len >= 0 ? a->client_id : od_str_c(""));
    m->client_host = strdup(a->client_host ? a->client_host : "");
    m->protocol_type = dup_str(a->protocol_type);
    if (!m->id || !m->client_id || !m->client_host || !m->protocol_type ||
        (a->instance_id.len >= 0 && !m->instance_id) || od_gm_set_protocols(m, a) < 0) {
        free(m->id);
        free(m->instance_id);
        free(m->client_id);
        free(m->client_host);
        free(m->protocol_type);
        free(m);
        return NULL;
    }
    g->members[g->nmembers++] = m;
    return m;
}

ssize_t od_gm_pending_index(const od_group_t *g, od_str_t id)
{
    for (size_t i = 0; i < g->npending; i++)
        if (strlen(g->pending[i].id) == (size_t)id.len && memcmp(g->pending[i].id, id.p, (size_t)id.len) == 0)
            return (ssize_t)i;
    return -1;
}

void od_gm_pending_remove(od_group_t *g, size_t i)
{
    free(g->pending[i].id);
    g->pending[i] = g->pending[--g->npending];
}

int od_gm_pending_add(od_group_t *g, const char *id, int32_t session)
{
    if (g->npending == g->pending_cap) {
        size_t nc = g->pending_cap ? g->pending_cap * 2 : 4;
        od_gpending_t *np = realloc(g->pending, nc * sizeof(*np));
        if (!np)
            return -1;
        g->pending = np;
        g->pending_cap = nc;
    }
    char *d = strdup(id);
    if (!d)
        return -1;
    g->pending[g->npending].id = d;
    g->pending[g->npending].deadline = od_mono_ms() + session;
    g->npending++;
    return 0;
}

void od_group_purge_pending(od_coord_t *c, int64_t now)
{
    for (od_group_t *g = od_group_next(c, NULL); g; g = od_group_next(c, g)) {
        int removed = 0;
        for (size_t i = 0; i < g->npending;) {
            if (g->pending[i].deadline <= now) {
                od_gm_pending_remove(g, i);
                removed = 1;
            } else {
                i++;
            }
        }
        if (removed)
            od_group_try_complete(g);
    }
}

int od_group_load_member(od_group_t *g, const od_join_args_t *a, const uint8_t *assignment,
                         int32_t assignment_len)
{
    char id[512];
    snprintf(id, sizeof(id), "%.*s", a->member_id.len > 0 ? (int)a->member_id.len : 0,
             a->member_id.len > 0 ? a->member_id.p : "");
    od_gmember_t *m = od_gm_new(g, id, a);
    if (!m)
        return -1;
    if (assignment_len > 0 && (m->assignment = malloc((size_t)assignment_len))) {
        memcpy(m->assignment, assignment, (size_t)assignment_len);
        m->assignment_len = assignment_len;
    }
    return 0;
}
