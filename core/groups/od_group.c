/* od_group.c - the coordinator's group table, members and offsets, the
 * group -> partition mapping, the config keys and the core hooks. */
#include "od_group.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_metadata.h"

/* ---- config keys (Kafka's names and defaults) ---- */

#define IMAX INT32_MAX
static const od_conf_def_t group_defs[] = {
    {"group.initial.rebalance.delay.ms", OD_CONF_INT, "3000", 0, IMAX, NULL,
     "how long a new or empty group waits for more members before its first rebalance",
     NULL, 0},
    {"group.min.session.timeout.ms", OD_CONF_INT, "6000", 0, IMAX, NULL,
     "smallest session.timeout.ms a member may ask for", NULL, 0},
    {"group.max.session.timeout.ms", OD_CONF_INT, "1800000", 0, IMAX, NULL,
     "largest session.timeout.ms a member may ask for", NULL, 0},
    {"group.max.size", OD_CONF_INT, "2147483647", 1, IMAX, NULL,
     "most members one consumer group may have", NULL, 0},
    {"offset.metadata.max.bytes", OD_CONF_INT, "4096", 0, IMAX, NULL,
     "longest metadata string an offset commit may carry", NULL, OD_CONF_F_SIZE},
    {"offsets.retention.minutes", OD_CONF_INT, "10080", 1, IMAX, NULL,
     "committed offsets of a group that has been empty this long are deleted",
     NULL, 0},
    {"offsets.retention.check.interval.ms", OD_CONF_INT, "600000", 1, INT64_MAX, NULL,
     "how often expired offsets are looked for", NULL, 0},
    {"offsets.topic.num.partitions", OD_CONF_INT, "50", 1, 100000, NULL,
     "partitions of __consumer_offsets (fixed once the topic exists)", NULL, 0},
    {"offsets.topic.replication.factor", OD_CONF_INT, "3", 1, 32767, NULL,
     "replication factor of __consumer_offsets (fewer brokers: as many as there are)",
     NULL, 0},
    {"offsets.topic.segment.bytes", OD_CONF_INT, "104857600", 1, IMAX, NULL,
     "segment.bytes of __consumer_offsets", NULL, OD_CONF_F_SIZE},
    {"offsets.load.buffer.size", OD_CONF_INT, "5242880", 1, IMAX, NULL,
     "bytes read at a time while loading __consumer_offsets", NULL, OD_CONF_F_SIZE},
};

#define NGROUP_DEFS (sizeof(group_defs) / sizeof(group_defs[0]))

/* The keys have no static targets: each coordinator reads its values into
 * its own conf at start (od_groups_start), where each key lands here, in
 * table order. */
static const size_t group_conf_at[] = {
    offsetof(od_coord_conf_t, initial_delay_ms),
    offsetof(od_coord_conf_t, min_session_ms),
    offsetof(od_coord_conf_t, max_session_ms),
    offsetof(od_coord_conf_t, max_size),
    offsetof(od_coord_conf_t, metadata_max),
    offsetof(od_coord_conf_t, retention_minutes),
    offsetof(od_coord_conf_t, retention_check_ms),
    offsetof(od_coord_conf_t, num_partitions),
    offsetof(od_coord_conf_t, replication),
    offsetof(od_coord_conf_t, segment_bytes),
    offsetof(od_coord_conf_t, load_buffer),
};
_Static_assert(sizeof(group_conf_at) / sizeof(group_conf_at[0]) == NGROUP_DEFS,
               "one od_coord_conf_t field per group key");

int od_groups_register_config(od_core_t *core, char *err, size_t errsz)
{
    return od_config_register(&core->config, group_defs, NGROUP_DEFS, "core", err, errsz);
}

/* The effective (already validated) values of the keys into conf. */
static int read_config(const od_core_t *core, od_coord_conf_t *conf, char *err, size_t errsz)
{
    for (size_t i = 0; i < NGROUP_DEFS; i++) {
        const od_conf_def_t *d = &group_defs[i];
        int64_t *out = (int64_t *)(void *)((char *)conf + group_conf_at[i]);
        if (od_conf_parse(d, od_config_get(&core->config, d->name), out, err, errsz) < 0)
            return -1;
    }
    return 0;
}

/* ---- names and hashing ---- */

const char *od_gstate_name(od_gstate_t s)
{
    static const char *names[] = {"Empty", "PreparingRebalance", "CompletingRebalance", "Stable",
                                  "Dead"};
    return (unsigned)s < 5 ? names[s] : "Unknown";
}

/* Decode one UTF-8 sequence; malformed input counts as U+FFFD for one byte,
 * as Java's decoder replaces it. */
static uint32_t utf8_next(const unsigned char *p, size_t len, size_t *used)
{
    uint32_t c = p[0];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    *used = 1;
    if (n == 1)
        return c;
    if (n == 0 || n > len)
        return 0xFFFD;
    uint32_t v = c & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0xFFFD;
        v = (v << 6) | (p[i] & 0x3F);
    }
    *used = n;
    return v;
}

int32_t od_java_string_hash(const char *p, size_t len)
{
    uint32_t h = 0;
    const unsigned char *u = (const unsigned char *)p;
    for (size_t i = 0; i < len;) {
        size_t used;
        uint32_t c = utf8_next(u + i, len - i, &used);
        i += used;
        if (c >= 0x10000) { /* a surrogate pair in UTF-16 */
            c -= 0x10000;
            h = 31 * h + (0xD800 + (c >> 10));
            h = 31 * h + (0xDC00 + (c & 0x3FF));
        } else {
            h = 31 * h + c;
        }
    }
    return (int32_t)h;
}

int32_t od_group_partition_for(const char *id, size_t len, int32_t n)
{
    uint32_t h = (uint32_t)od_java_string_hash(id, len) & 0x7fffffffu;
    return n > 0 ? (int32_t)(h % (uint32_t)n) : 0;
}

/* ---- the table ---- */

static size_t bucket_of(const od_coord_t *c, const char *id, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)id[i]) * 1099511628211ull;
    return (size_t)(h % c->nbuckets);
}

void od_coord_init(od_coord_t *c, od_loop_t *loop, od_core_t *core, const od_coord_conf_t *conf)
{
    memset(c, 0, sizeof(*c));
    c->loop = loop;
    c->core = core;
    c->conf = *conf;
    c->nbuckets = 1024;
    c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
    c->append = od_gstore_append_log;
    c->append_arg = c;
    c->last_retention_check = od_mono_ms();
}

od_group_t *od_group_find(od_coord_t *c, const char *id, size_t len)
{
    if (!c || !c->buckets)
        return NULL;
    for (od_group_t *g = c->buckets[bucket_of(c, id, len)]; g; g = g->next)
        if (strlen(g->id) == len && memcmp(g->id, id, len) == 0)
            return g;
    return NULL;
}

od_group_t *od_group_create(od_coord_t *c, const char *id, size_t len)
{
    /* Ids are kept as C strings: one with a NUL would be stored cut short
     * in the bucket of its full length, and od_group_next would loop. */
    if (!c || !c->buckets || memchr(id, 0, len))
        return NULL;
    od_group_t *g = calloc(1, sizeof(*g));
    if (!g || !(g->id = strndup(id, len))) {
        free(g);
        return NULL;
    }
    g->partition = od_group_partition_for(id, len, (int32_t)c->conf.num_partitions);
    g->state = OD_GS_EMPTY;
    g->state_ts = od_now_ms();
    g->coord = c;
    size_t b = bucket_of(c, id, len);
    g->next = c->buckets[b];
    c->buckets[b] = g;
    c->ngroups++;
    return g;
}

od_group_t *od_group_next(od_coord_t *c, od_group_t *prev)
{
    size_t b = 0;
    if (!c)
        return NULL;
    if (prev) {
        if (prev->next)
            return prev->next;
        b = bucket_of(c, prev->id, strlen(prev->id)) + 1;
    }
    for (; c->buckets && b < c->nbuckets; b++)
        if (c->buckets[b])
            return c->buckets[b];
    return NULL;
}

void od_group_set_state(od_group_t *g, od_gstate_t s)
{
    g->state = s;
    g->state_ts = od_now_ms();
}

static void free_member(od_gmember_t *m)
{
    od_coord_t *c = m->g->coord;
    if (m->timer && c->loop)
        od_loop_cancel(c->loop, m->timer);
    for (int32_t i = 0; i < m->nprotos; i++) {
        free(m->protos[i].name);
        free(m->protos[i].meta);
    }
    free(m->protos);
    free(m->id);
    free(m->instance_id);
    free(m->client_id);
    free(m->client_host);
    free(m->protocol_type);
    free(m->assignment);
    free(m);
}

void od_group_drop_member(od_group_t *g, od_gmember_t *m)
{
    size_t i;
    for (i = 0; i < g->nmembers && g->members[i] != m; i++)
        ;
    if (i == g->nmembers)
        return;
    memmove(&g->members[i], &g->members[i + 1], (g->nmembers - i - 1) * sizeof(*g->members));
    g->nmembers--;
    if (g->leader && strcmp(g->leader, m->id) == 0) {
        free(g->leader);
        g->leader = g->nmembers ? strdup(g->members[0]->id) : NULL;
    }
    free_member(m);
}

static void free_group(od_group_t *g)
{
    od_coord_t *c = g->coord;
    od_gstore_detach(g);
    if (g->join_timer && c->loop)
        od_loop_cancel(c->loop, g->join_timer);
    for (size_t i = 0; i < g->nmembers; i++) {
        od_gmember_t *m = g->members[i];
        if (m->join_cb) {
            od_join_result_t res = {OD_ERR_COORDINATOR_NOT_AVAILABLE, m->id, -1, NULL, NULL, "", 0,
                                    NULL};
            m->join_cb(m->join_ctx, &res);
        }
        if (m->sync_cb)
            m->sync_cb(m->sync_ctx, OD_ERR_COORDINATOR_NOT_AVAILABLE, NULL, NULL, 0);
        free_member(m);
    }
    free(g->members);
    for (size_t i = 0; i < g->npending; i++)
        free(g->pending[i].id);
    free(g->pending);
    for (size_t i = 0; i < g->noffsets; i++) {
        free(g->offsets[i].topic);
        free(g->offsets[i].metadata);
    }
    free(g->offsets);
    free(g->id);
    free(g->protocol_type);
    free(g->protocol);
    free(g->leader);
    free(g);
}

void od_group_destroy(od_group_t *g)
{
    od_coord_t *c = g->coord;
    od_group_t **pp = &c->buckets[bucket_of(c, g->id, strlen(g->id))];
    for (; *pp; pp = &(*pp)->next)
        if (*pp == g) {
            *pp = g->next;
            c->ngroups--;
            break;
        }
    g->state = OD_GS_DEAD;
    free_group(g);
}

void od_coord_reset(od_coord_t *c)
{
    for (size_t b = 0; c->buckets && b < c->nbuckets; b++) {
        while (c->buckets[b]) {
            od_group_t *g = c->buckets[b];
            c->buckets[b] = g->next;
            free_group(g);
        }
    }
    free(c->buckets);
    c->buckets = NULL;
    c->ngroups = 0;
}

/* ---- members ---- */

static int str_is(const char *s, const char *p, size_t len)
{
    return s && strlen(s) == len && memcmp(s, p, len) == 0;
}

od_gmember_t *od_group_member(const od_group_t *g, const char *id, size_t len)
{
    for (size_t i = 0; i < g->nmembers; i++)
        if (str_is(g->members[i]->id, id, len))
            return g->members[i];
    return NULL;
}

od_gmember_t *od_group_static_member(const od_group_t *g, const char *inst, size_t len)
{
    for (size_t i = 0; i < g->nmembers; i++)
        if (str_is(g->members[i]->instance_id, inst, len))
            return g->members[i];
    return NULL;
}

int od_group_static_fenced(const od_group_t *g, od_str_t member, od_str_t inst)
{
    if (inst.len < 0)
        return 0;
    od_gmember_t *m = od_group_static_member(g, inst.p, (size_t)inst.len);
    return m && !str_is(m->id, member.p, member.len > 0 ? (size_t)member.len : 0);
}

const uint8_t *od_gmember_meta(const od_gmember_t *m, const char *proto, int32_t *len)
{
    for (int32_t i = 0; proto && i < m->nprotos; i++)
        if (strcmp(m->protos[i].name, proto) == 0) {
            *len = m->protos[i].meta_len;
            return m->protos[i].meta;
        }
    *len = 0;
    return NULL;
}

/* ---- offsets ---- */

od_goffset_t *od_group_offset(const od_group_t *g, const char *topic, size_t tlen, int32_t part)
{
    for (size_t i = 0; i < g->noffsets; i++)
        if (g->offsets[i].partition == part && str_is(g->offsets[i].topic, topic, tlen))
            return &g->offsets[i];
    return NULL;
}

int od_group_offset_put(od_group_t *g, const od_goffset_t *o)
{
    size_t mlen = o->metadata ? o->metadata_len : 0;
    char *md = malloc(mlen + 1);
    if (!md)
        return -1;
    if (mlen)
        memcpy(md, o->metadata, mlen);
    md[mlen] = '\0';
    od_goffset_t *cur = od_group_offset(g, o->topic, strlen(o->topic), o->partition);
    if (!cur) {
        if (g->noffsets == g->offsets_cap) {
            size_t nc = g->offsets_cap ? g->offsets_cap * 2 : 8;
            od_goffset_t *no = realloc(g->offsets, nc * sizeof(*no));
            if (!no) {
                free(md);
                return -1;
            }
            g->offsets = no;
            g->offsets_cap = nc;
        }
        cur = &g->offsets[g->noffsets];
        memset(cur, 0, sizeof(*cur));
        if (!(cur->topic = strdup(o->topic))) {
            free(md);
            return -1;
        }
        g->noffsets++;
    }
    free(cur->metadata);
    cur->metadata = md;
    cur->metadata_len = mlen;
    cur->partition = o->partition;
    cur->offset = o->offset;
    cur->leader_epoch = o->leader_epoch;
    cur->commit_ts = o->commit_ts;
    cur->expire_ts = o->expire_ts;
    return 0;
}

void od_group_offset_remove(od_group_t *g, od_goffset_t *o)
{
    size_t i = (size_t)(o - g->offsets);
    if (i >= g->noffsets)
        return;
    free(o->topic);
    free(o->metadata);
    g->offsets[i] = g->offsets[g->noffsets - 1];
    g->noffsets--;
}

/* ConsumerProtocolSubscription (any version) starts with
 * version int16, topics [string] (classic encoding). */
static int subscription_has(const uint8_t *p, int32_t len, const char *topic, size_t tlen)
{
    od_slice_t s;
    od_slice_init(&s, p, len > 0 ? (size_t)len : 0);
    (void)od_read_i16(&s);
    int32_t n = od_read_array_len(&s, 2);
    for (int32_t i = 0; i < n && od_slice_ok(&s); i++) {
        od_str_t t = od_read_str(&s, 0);
        if (od_slice_ok(&s) && t.len >= 0 && (size_t)t.len == tlen && memcmp(t.p, topic, tlen) == 0)
            return 1;
    }
    return 0;
}

int od_group_subscribed(const od_group_t *g, const char *topic, size_t len)
{
    if (!g->protocol_type || strcmp(g->protocol_type, "consumer") != 0)
        return 0;
    for (size_t i = 0; i < g->nmembers; i++) {
        const od_gmember_t *m = g->members[i];
        int32_t ml;
        const uint8_t *md = od_gmember_meta(m, g->protocol, &ml);
        if (!md && m->nprotos > 0) {
            md = m->protos[0].meta;
            ml = m->protos[0].meta_len;
        }
        if (md && subscription_has(md, ml, topic, len))
            return 1;
    }
    return 0;
}

/* ---- __consumer_offsets ---- */

static void topic_created(void *arg, int16_t code, const char *msg)
{
    od_coord_t *c = arg;
    c->creating_topic = 0;
    if (code != OD_ERR_NONE)
        od_logf(OD_LOG_WARN, "creating %s failed: %s (%s)", OD_GROUP_OFFSETS_TOPIC,
                od_err_name(code), msg ? msg : "");
    else
        od_logf(OD_LOG_INFO, "created %s", OD_GROUP_OFFSETS_TOPIC);
}

static od_topic_t *offsets_topic(od_core_t *core)
{
    return od_image_topic(&core->image, OD_GROUP_OFFSETS_TOPIC, strlen(OD_GROUP_OFFSETS_TOPIC));
}

int16_t od_coord_ensure_topic(od_coord_t *c)
{
    od_core_t *core = c->core;
    if (!core || offsets_topic(core))
        return OD_ERR_NONE;
    if (c->creating_topic || core->image.nbrokers == 0)
        return OD_ERR_COORDINATOR_NOT_AVAILABLE;
    int64_t rf = c->conf.replication;
    size_t live = 0; /* registered and not fenced: where replicas can go */
    for (size_t i = 0; i < core->image.nbrokers; i++)
        live += !core->image.brokers[i].fenced;
    if (live == 0)
        return OD_ERR_COORDINATOR_NOT_AVAILABLE;
    if ((size_t)rf > live) {
        od_logf(OD_LOG_WARN,
                "offsets.topic.replication.factor=%lld but only %zu live broker(s); "
                "creating %s with replication factor %zu",
                (long long)rf, live, OD_GROUP_OFFSETS_TOPIC, live);
        rf = (int64_t)live;
    }
    char seg[32];
    snprintf(seg, sizeof(seg), "%lld", (long long)c->conf.segment_bytes);
    od_kv_t kv[3] = {{"cleanup.policy", "compact"},
                     {"compression.type", "producer"},
                     {"segment.bytes", seg}};
    od_new_topic_t nt = {0};
    nt.name = OD_GROUP_OFFSETS_TOPIC;
    nt.name_len = strlen(OD_GROUP_OFFSETS_TOPIC);
    nt.partitions = (int32_t)c->conf.num_partitions;
    nt.replication_factor = (int16_t)rf;
    nt.configs = kv;
    nt.nconfigs = 3;
    char err[256];
    c->creating_topic = 1;
    if (od_metadata_create_topic(core, &nt, topic_created, c, err, sizeof(err)) != 0) {
        c->creating_topic = 0;
        od_logf(OD_LOG_WARN, "cannot create %s: %s", OD_GROUP_OFFSETS_TOPIC, err);
        return OD_ERR_COORDINATOR_NOT_AVAILABLE;
    }
    return offsets_topic(core) ? OD_ERR_NONE : OD_ERR_COORDINATOR_NOT_AVAILABLE;
}

int16_t od_coord_check(od_coord_t *c, const char *id, size_t len, int32_t *part)
{
    if (!c || !c->buckets)
        return OD_ERR_COORDINATOR_NOT_AVAILABLE;
    od_core_t *core = c->core;
    if (!core) {
        *part = od_group_partition_for(id, len, (int32_t)c->conf.num_partitions);
        return OD_ERR_NONE;
    }
    int16_t ec = od_coord_ensure_topic(c);
    if (ec != OD_ERR_NONE)
        return ec;
    od_topic_t *t = offsets_topic(core);
    if (!t || t->npartitions <= 0)
        return OD_ERR_COORDINATOR_NOT_AVAILABLE;
    /* The topic's own partition count wins over the setting. */
    c->conf.num_partitions = t->npartitions;
    *part = od_group_partition_for(id, len, t->npartitions);
    od_partition_t *p = t->partitions[*part];
    if (p->leader < 0)
        return OD_ERR_COORDINATOR_NOT_AVAILABLE;
    if (p->leader != (int32_t)core->conf.node_id || !p->log)
        return OD_ERR_NOT_COORDINATOR;
    return OD_ERR_NONE;
}

/* ---- core hooks ---- */

/* A coordinator that failed to start is freed here too: stop is called
 * only for subsystems that started. */
static void free_coord(od_core_t *core)
{
    if (!core->coord)
        return;
    od_coord_reset(core->coord);
    free(core->coord);
    core->coord = NULL;
}

int od_groups_start(od_core_t *core, char *err, size_t errsz)
{
    od_coord_conf_t conf;
    if (read_config(core, &conf, err, errsz) < 0)
        return -1;
    od_coord_t *c = malloc(sizeof(*c));
    if (!c) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    od_coord_init(c, core->loop, core, &conf);
    core->coord = c;
    od_topic_t *t = offsets_topic(core);
    if (t && t->npartitions > 0)
        c->conf.num_partitions = t->npartitions;
    if (od_gstore_load(core, err, errsz) < 0) {
        free_coord(core);
        return -1;
    }
    return 0;
}

void od_groups_tick(od_core_t *core, int64_t now_ms)
{
    od_coord_t *c = core->coord;
    if (!c || !c->buckets)
        return;
    /* Pending joins and the retention check run on the monotonic clock;
     * offsets expire by wall-clock commit time. */
    int64_t now = od_mono_ms();
    od_group_purge_pending(c, now);
    if (now - c->last_retention_check >= c->conf.retention_check_ms) {
        c->last_retention_check = now;
        od_groups_expire(c, now_ms);
    }
}

void od_groups_stop(od_core_t *core) { free_coord(core); }
