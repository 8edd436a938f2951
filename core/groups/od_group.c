/* od_group.c - the coordinator's group table, members and offsets, the
 * group -> partition mapping, the config keys and the core hooks. */
#include "od_group.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_metadata.h"

od_coord_t od_coord;

/* ---- config keys (Kafka's names and defaults) ---- */

static od_coord_conf_t cfg;

#define IMAX INT32_MAX
static const od_conf_def_t group_defs[] = {
    {"group.initial.rebalance.delay.ms", OD_CONF_INT, "3000", 0, IMAX, NULL,
     "how long a new or empty group waits for more members before its first rebalance",
     &cfg.initial_delay_ms, 0},
    {"group.min.session.timeout.ms", OD_CONF_INT, "6000", 0, IMAX, NULL,
     "smallest session.timeout.ms a member may ask for", &cfg.min_session_ms, 0},
    {"group.max.session.timeout.ms", OD_CONF_INT, "1800000", 0, IMAX, NULL,
     "largest session.timeout.ms a member may ask for", &cfg.max_session_ms, 0},
    {"group.max.size", OD_CONF_INT, "2147483647", 1, IMAX, NULL,
     "most members one consumer group may have", &cfg.max_size, 0},
    {"offset.metadata.max.bytes", OD_CONF_INT, "4096", 0, IMAX, NULL,
     "longest metadata string an offset commit may carry", &cfg.metadata_max, OD_CONF_F_SIZE},
    {"offsets.retention.minutes", OD_CONF_INT, "10080", 1, IMAX, NULL,
     "committed offsets of a group that has been empty this long are deleted",
     &cfg.retention_minutes, 0},
    {"offsets.retention.check.interval.ms", OD_CONF_INT, "600000", 1, INT64_MAX, NULL,
     "how often expired offsets are looked for", &cfg.retention_check_ms, 0},
    {"offsets.topic.num.partitions", OD_CONF_INT, "50", 1, 100000, NULL,
     "partitions of __consumer_offsets (fixed once the topic exists)", &cfg.num_partitions, 0},
    {"offsets.topic.replication.factor", OD_CONF_INT, "3", 1, 32767, NULL,
     "replication factor of __consumer_offsets (fewer brokers: as many as there are)",
     &cfg.replication, 0},
    {"offsets.topic.segment.bytes", OD_CONF_INT, "104857600", 1, IMAX, NULL,
     "segment.bytes of __consumer_offsets", &cfg.segment_bytes, OD_CONF_F_SIZE},
    {"offsets.load.buffer.size", OD_CONF_INT, "5242880", 1, IMAX, NULL,
     "bytes read at a time while loading __consumer_offsets", &cfg.load_buffer, OD_CONF_F_SIZE},
};

int od_groups_register_config(od_core_t *core, char *err, size_t errsz)
{
    return od_config_register(&core->config, group_defs, sizeof(group_defs) / sizeof(group_defs[0]),
                              "core", err, errsz);
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

static size_t bucket_of(const char *id, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)id[i]) * 1099511628211ull;
    return (size_t)(h % od_coord.nbuckets);
}

void od_coord_init(od_loop_t *loop, od_core_t *core, const od_coord_conf_t *conf)
{
    memset(&od_coord, 0, sizeof(od_coord));
    od_coord.loop = loop;
    od_coord.core = core;
    od_coord.conf = *conf;
    od_coord.nbuckets = 1024;
    od_coord.buckets = calloc(od_coord.nbuckets, sizeof(*od_coord.buckets));
    od_coord.append = od_gstore_append_log;
    od_coord.last_retention_check = od_mono_ms();
}

od_group_t *od_group_find(const char *id, size_t len)
{
    if (!od_coord.buckets)
        return NULL;
    for (od_group_t *g = od_coord.buckets[bucket_of(id, len)]; g; g = g->next)
        if (strlen(g->id) == len && memcmp(g->id, id, len) == 0)
            return g;
    return NULL;
}

od_group_t *od_group_create(const char *id, size_t len)
{
    /* Ids are kept as C strings: one with a NUL would be stored cut short
     * in the bucket of its full length, and od_group_next would loop. */
    if (!od_coord.buckets || memchr(id, 0, len))
        return NULL;
    od_group_t *g = calloc(1, sizeof(*g));
    if (!g || !(g->id = strndup(id, len))) {
        free(g);
        return NULL;
    }
    g->partition = od_group_partition_for(id, len, (int32_t)od_coord.conf.num_partitions);
    g->state = OD_GS_EMPTY;
    g->state_ts = od_now_ms();
    size_t b = bucket_of(id, len);
    g->next = od_coord.buckets[b];
    od_coord.buckets[b] = g;
    od_coord.ngroups++;
    return g;
}

od_group_t *od_group_next(od_group_t *prev)
{
    size_t b = 0;
    if (prev) {
        if (prev->next)
            return prev->next;
        b = bucket_of(prev->id, strlen(prev->id)) + 1;
    }
    for (; od_coord.buckets && b < od_coord.nbuckets; b++)
        if (od_coord.buckets[b])
            return od_coord.buckets[b];
    return NULL;
}

void od_group_set_state(od_group_t *g, od_gstate_t s)
{
    g->state = s;
    g->state_ts = od_now_ms();
}

static void free_member(od_gmember_t *m)
{
    if (m->timer && od_coord.loop)
        od_loop_cancel(od_coord.loop, m->timer);
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
    if (g->join_timer && od_coord.loop)
        od_loop_cancel(od_coord.loop, g->join_timer);
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
    od_group_t **pp = &od_coord.buckets[bucket_of(g->id, strlen(g->id))];
    for (; *pp; pp = &(*pp)->next)
        if (*pp == g) {
            *pp = g->next;
            od_coord.ngroups--;
            break;
        }
    g->state = OD_GS_DEAD;
    free_group(g);
}

void od_coord_reset(void)
{
    for (size_t b = 0; od_coord.buckets && b < od_coord.nbuckets; b++) {
        while (od_coord.buckets[b]) {
            od_group_t *g = od_coord.buckets[b];
            od_coord.buckets[b] = g->next;
            free_group(g);
        }
    }
    free(od_coord.buckets);
    od_coord.buckets = NULL;
    od_coord.ngroups = 0;
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
    char *md = strdup(o->metadata ? o->metadata : "");
    if (!md)
        return -1;
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
    (void)arg;
    od_coord.creating_topic = 0;
    if (code != OD_ERR_NONE)
        od_logf(OD_LOG_WARN, "creating %s failed: %s (%s)", OD_GROUP_OFFSETS_TOPIC,
                od_err_name(code), msg ? msg : "");
    else
        od_logf(OD_LOG_INFO, "created %s", OD_GROUP_OFFSETS_TOPIC);
}

static od_topic_t *offsets_topic(void)
{
    od_core_t *core = od_coord.core;
    return od_image_topic(&core->image, OD_GROUP_OFFSETS_TOPIC, strlen(OD_GROUP_OFFSETS_TOPIC));
}

int16_t od_coord_ensure_topic(void)
{
    od_core_t *core = od_coord.core;
    if (!core || offsets_topic())
        return OD_ERR_NONE;
    if (od_coord.creating_topic || core->image.nbrokers == 0)
        return OD_ERR_COORDINATOR_NOT_AVAILABLE;
    int64_t rf = od_coord.conf.replication;
    if ((size_t)rf > core->image.nbrokers) {
        od_logf(OD_LOG_WARN,
                "offsets.topic.replication.factor=%lld but only %zu broker(s) registered; "
                "creating %s with replication factor %zu",
                (long long)rf, core->image.nbrokers, OD_GROUP_OFFSETS_TOPIC, core->image.nbrokers);
        rf = (int64_t)core->image.nbrokers;
    }
    char seg[32];
    snprintf(seg, sizeof(seg), "%lld", (long long)od_coord.conf.segment_bytes);
    od_kv_t kv[3] = {{"cleanup.policy", "compact"},
                     {"compression.type", "producer"},
                     {"segment.bytes", seg}};
    od_new_topic_t nt = {0};
    nt.name = OD_GROUP_OFFSETS_TOPIC;
    nt.name_len = strlen(OD_GROUP_OFFSETS_TOPIC);
    nt.partitions = (int32_t)od_coord.conf.num_partitions;
    nt.replication_factor = (int16_t)rf;
    nt.configs = kv;
    nt.nconfigs = 3;
    char err[256];
    od_coord.creating_topic = 1;
    if (od_metadata_create_topic(core, &nt, topic_created, NULL, err, sizeof(err)) != 0) {
        od_coord.creating_topic = 0;
        od_logf(OD_LOG_WARN, "cannot create %s: %s", OD_GROUP_OFFSETS_TOPIC, err);
        return OD_ERR_COORDINATOR_NOT_AVAILABLE;
    }
    return offsets_topic() ? OD_ERR_NONE : OD_ERR_COORDINATOR_NOT_AVAILABLE;
}

int16_t od_coord_check(const char *id, size_t len, int32_t *part)
{
    od_core_t *core = od_coord.core;
    if (!od_coord.buckets)
        return OD_ERR_COORDINATOR_NOT_AVAILABLE;
    if (!core) {
        *part = od_group_partition_for(id, len, (int32_t)od_coord.conf.num_partitions);
        return OD_ERR_NONE;
    }
    int16_t ec = od_coord_ensure_topic();
    if (ec != OD_ERR_NONE)
        return ec;
    od_topic_t *t = offsets_topic();
    if (!t || t->npartitions <= 0)
        return OD_ERR_COORDINATOR_NOT_AVAILABLE;
    /* The topic's own partition count wins over the setting. */
    od_coord.conf.num_partitions = t->npartitions;
    *part = od_group_partition_for(id, len, t->npartitions);
    od_partition_t *p = t->partitions[*part];
    if (p->leader < 0)
        return OD_ERR_COORDINATOR_NOT_AVAILABLE;
    if (p->leader != (int32_t)core->conf.node_id || !p->log)
        return OD_ERR_NOT_COORDINATOR;
    return OD_ERR_NONE;
}

/* ---- core hooks ---- */

int od_groups_start(od_core_t *core, char *err, size_t errsz)
{
    od_coord_init(core->loop, core, &cfg);
    od_topic_t *t = offsets_topic();
    if (t && t->npartitions > 0)
        od_coord.conf.num_partitions = t->npartitions;
    return od_gstore_load(core, err, errsz);
}

void od_groups_tick(od_core_t *core)
{
    (void)core;
    if (!od_coord.buckets)
        return;
    int64_t now = od_mono_ms();
    od_group_purge_pending(now);
    if (now - od_coord.last_retention_check >= od_coord.conf.retention_check_ms) {
        od_coord.last_retention_check = now;
        od_groups_expire(od_now_ms());
    }
}

void od_groups_stop(od_core_t *core)
{
    (void)core;
    od_coord_reset();
}
