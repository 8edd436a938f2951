/* od_group_store.c - group metadata and committed offsets as records of
 * __consumer_offsets, encoded as Kafka encodes them, and the loader that
 * rebuilds the coordinator's state from those records at start.
 *
 * Keys:   int16 version, then OffsetCommitKey (versions 0/1) or
 *         GroupMetadataKey (version 2). Higher versions (transactions,
 *         KIP-848 records) are skipped when loading.
 * Values: int16 version, then OffsetCommitValue (we write 3, or 1 when an
 *         expire timestamp is set) or GroupMetadataValue (we write 3).
 *         A null value is a tombstone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "od_batch.h"
#include "od_core.h"
#include "od_group.h"
#include "od_repl.h"
#include "od_topic_config.h"

/* ---- encoding ---- */

static uint8_t *finish(od_wbuf_t *w, size_t *len)
{
    uint8_t *p = w->err ? NULL : od_wbuf_flatten(w, len);
    od_wbuf_free(w);
    return p;
}

uint8_t *od_gstore_offset_key(const char *group, const char *topic, int32_t partition, size_t *len)
{
    od_wbuf_t w;
    od_wbuf_init(&w);
    od_OffsetCommitKey_t k;
    od_OffsetCommitKey_init(&k);
    k.group = od_str_c(group);
    k.topic = od_str_c(topic);
    k.partition = partition;
    od_write_i16(&w, 1);
    od_OffsetCommitKey_encode(&w, 1, &k);
    return finish(&w, len);
}

uint8_t *od_gstore_offset_value(const od_goffset_t *o, size_t *len)
{
    od_wbuf_t w;
    od_wbuf_init(&w);
    od_OffsetCommitValue_t v;
    od_OffsetCommitValue_init(&v);
    v.offset = o->offset;
    v.leader_epoch = o->leader_epoch;
    v.metadata.p = o->metadata ? o->metadata : "";
    v.metadata.len = o->metadata ? (int32_t)o->metadata_len : 0;
    v.commit_timestamp = o->commit_ts;
    v.expire_timestamp = o->expire_ts;
    int16_t ver = o->expire_ts >= 0 ? 1 : 3;
    od_write_i16(&w, ver);
    od_OffsetCommitValue_encode(&w, ver, &v);
    return finish(&w, len);
}

uint8_t *od_gstore_group_key(const char *group, size_t *len)
{
    od_wbuf_t w;
    od_wbuf_init(&w);
    od_GroupMetadataKey_t k;
    od_GroupMetadataKey_init(&k);
    k.group = od_str_c(group);
    od_write_i16(&w, 2);
    od_GroupMetadataKey_encode(&w, 2, &k);
    return finish(&w, len);
}

uint8_t *od_gstore_group_value(const od_group_t *g, size_t *len)
{
    od_GroupMetadataValue_t v;
    od_GroupMetadataValue_init(&v);
    v.protocol_type = od_str_c(g->protocol_type ? g->protocol_type : "");
    v.generation = g->generation;
    v.protocol = od_str_c(g->protocol);
    v.leader = od_str_c(g->leader);
    v.current_state_timestamp = g->state_ts;
    od_GroupMetadataValue_MemberMetadata_t *mm =
        calloc(g->nmembers ? g->nmembers : 1, sizeof(*mm));
    if (!mm)
        return NULL;
    for (size_t i = 0; i < g->nmembers; i++) {
        const od_gmember_t *m = g->members[i];
        od_GroupMetadataValue_MemberMetadata_init(&mm[i]);
        mm[i].member_id = od_str_c(m->id);
        mm[i].group_instance_id = od_str_c(m->instance_id);
        mm[i].client_id = od_str_c(m->client_id);
        mm[i].client_host = od_str_c(m->client_host);
        mm[i].rebalance_timeout = m->rebalance_timeout;
        mm[i].session_timeout = m->session_timeout;
        int32_t sl;
        const uint8_t *sub = od_gmember_meta(m, g->protocol, &sl);
        mm[i].subscription.p = sub ? sub : (const uint8_t *)"";
        mm[i].subscription.len = sub ? sl : 0;
        mm[i].assignment.p = m->assignment ? m->assignment : (const uint8_t *)"";
        mm[i].assignment.len = m->assignment ? m->assignment_len : 0;
    }
    v.members = mm;
    v.members_count = (int32_t)g->nmembers;
    od_wbuf_t w;
    od_wbuf_init(&w);
    od_write_i16(&w, 3);
    od_GroupMetadataValue_encode(&w, 3, &v);
    free(mm);
    return finish(&w, len);
}

/* ---- batches ---- */

struct od_gbatch {
    od_batch_builder_t b;
    int n;
    int failed;
};

od_gbatch_t *od_gbatch_new(void)
{
    od_gbatch_t *b = calloc(1, sizeof(*b));
    if (b)
        od_batch_builder_init(&b->b, 0);
    return b;
}

void od_gbatch_free(od_gbatch_t *b)
{
    if (!b)
        return;
    od_batch_builder_free(&b->b);
    free(b);
}

/* Takes ownership of k and v. */
static int add_record(od_gbatch_t *b, uint8_t *k, size_t kl, uint8_t *v, size_t vl, int tombstone)
{
    int rc = -1;
    if (k && (v || tombstone))
        rc = od_batch_builder_add(&b->b, od_now_ms(), k, (int32_t)kl, tombstone ? NULL : v,
                                  tombstone ? -1 : (int32_t)vl);
    free(k);
    free(v);
    if (rc < 0)
        b->failed = 1;
    else
        b->n++;
    return rc;
}

int od_gbatch_offset(od_gbatch_t *b, const char *group, const od_goffset_t *o)
{
    size_t kl = 0, vl = 0;
    uint8_t *k = od_gstore_offset_key(group, o->topic, o->partition, &kl);
    uint8_t *v = od_gstore_offset_value(o, &vl);
    return add_record(b, k, kl, v, vl, 0);
}

int od_gbatch_offset_tombstone(od_gbatch_t *b, const char *group, const char *topic,
                               int32_t partition)
{
    size_t kl = 0;
    uint8_t *k = od_gstore_offset_key(group, topic, partition, &kl);
    return add_record(b, k, kl, NULL, 0, 1);
}

int od_gbatch_group(od_gbatch_t *b, const od_group_t *g)
{
    size_t kl = 0, vl = 0;
    uint8_t *k = od_gstore_group_key(g->id, &kl);
    uint8_t *v = od_gstore_group_value(g, &vl);
    return add_record(b, k, kl, v, vl, 0);
}

int od_gbatch_group_tombstone(od_gbatch_t *b, const char *group)
{
    size_t kl = 0;
    uint8_t *k = od_gstore_group_key(group, &kl);
    return add_record(b, k, kl, NULL, 0, 1);
}

int16_t od_gbatch_append(od_coord_t *c, od_gbatch_t *b, int32_t partition)
{
    if (b->failed)
        return OD_ERR_UNKNOWN_SERVER_ERROR;
    if (b->n == 0)
        return OD_ERR_NONE;
    size_t len = 0;
    uint8_t *buf = od_batch_builder_finish(&b->b, &len);
    if (!buf)
        return OD_ERR_UNKNOWN_SERVER_ERROR;
    int16_t ec = c && c->append ? c->append(c->append_arg, partition, buf, len)
                                : OD_ERR_COORDINATOR_NOT_AVAILABLE;
    free(buf);
    b->n = 0;
    return ec;
}

int16_t od_gstore_group(od_group_t *g)
{
    od_gbatch_t *b = od_gbatch_new();
    if (!b)
        return OD_ERR_UNKNOWN_SERVER_ERROR;
    od_gbatch_group(b, g);
    int16_t ec = od_gbatch_append(g->coord, b, g->partition);
    od_gbatch_free(b);
    if (ec == OD_ERR_INVALID_COMMIT_OFFSET_SIZE) /* Kafka's mapping for group writes */
        ec = OD_ERR_UNKNOWN_SERVER_ERROR;
    if (ec == OD_ERR_NONE)
        g->has_metadata = 1;
    return ec;
}

struct od_gstore_wait {
    od_group_t *g; /* NULL once the group is freed */
    int32_t generation;
    od_gstored_fn done;
};

void od_gstore_detach(od_group_t *g)
{
    if (g->store_wait)
        g->store_wait->g = NULL;
    g->store_wait = NULL;
}

/* Kafka's GroupMetadataManager.storeGroup maps a failed append so. */
static int16_t store_error(int16_t ec)
{
    switch (ec) {
    case OD_ERR_NONE:
        return OD_ERR_NONE;
    case OD_ERR_UNKNOWN_TOPIC_OR_PARTITION:
    case OD_ERR_NOT_ENOUGH_REPLICAS:
    case OD_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
        return OD_ERR_COORDINATOR_NOT_AVAILABLE;
    case OD_ERR_NOT_LEADER_OR_FOLLOWER:
    case OD_ERR_KAFKA_STORAGE_ERROR:
        return OD_ERR_NOT_COORDINATOR;
    case OD_ERR_REQUEST_TIMED_OUT:
        return OD_ERR_REBALANCE_IN_PROGRESS;
    default:
        return OD_ERR_UNKNOWN_SERVER_ERROR;
    }
}

static void group_replicated(void *arg, int16_t ec)
{
    struct od_gstore_wait *w = arg;
    od_group_t *g = w->g;
    od_gstored_fn done = w->done;
    int32_t generation = w->generation;
    free(w);
    if (!g)
        return;
    g->store_wait = NULL;
    if (g->generation != generation || g->state != OD_GS_COMPLETING)
        return; /* moved on (a rebalance began): this outcome answers no one */
    if (ec != OD_ERR_NONE)
        od_logf(OD_LOG_WARN, "group %s: generation %d not replicated: %s", g->id, generation,
                od_err_name(ec));
    done(g, store_error(ec));
}

int16_t od_gstore_group_replicated(od_group_t *g, od_gstored_fn done)
{
    int16_t ec = od_gstore_group(g);
    if (ec != OD_ERR_NONE)
        return ec;
    od_core_t *core = g->coord ? g->coord->core : NULL;
    od_topic_t *t = core ? od_image_topic(&core->image, OD_GROUP_OFFSETS_TOPIC,
                                          strlen(OD_GROUP_OFFSETS_TOPIC))
                         : NULL;
    if (!core) { /* unit tests: the append is the store */
        done(g, OD_ERR_NONE);
        return OD_ERR_NONE;
    }
    if (!t || g->partition < 0 || g->partition >= t->npartitions)
        return OD_ERR_COORDINATOR_NOT_AVAILABLE;
    od_partition_t *p = t->partitions[g->partition];
    struct od_gstore_wait *w = calloc(1, sizeof(*w));
    if (!w)
        return OD_ERR_COORDINATOR_NOT_AVAILABLE;
    od_gstore_detach(g); /* a newer record supersedes an older wait */
    w->g = g;
    w->generation = g->generation;
    w->done = done;
    int rc = od_hw_wait(core, p, od_partition_log_end(core, p), od_repl_commit_timeout_ms(core),
                        group_replicated, w);
    if (rc != 0) {
        free(w);
        if (rc < 0)
            return OD_ERR_COORDINATOR_NOT_AVAILABLE;
        done(g, OD_ERR_NONE); /* already in the ISR (a lone replica) */
        return OD_ERR_NONE;
    }
    g->store_wait = w;
    return OD_ERR_NONE;
}

struct gstore_then {
    od_gstore_then_fn cb;
    void *arg;
};

static void then_replicated(void *arg, int16_t ec)
{
    struct gstore_then t = *(struct gstore_then *)arg;
    free(arg);
    t.cb(t.arg, store_error(ec));
}

int16_t od_gstore_group_then(od_group_t *g, od_gstore_then_fn cb, void *arg)
{
    int16_t ec = od_gstore_group(g);
    od_core_t *core = g->coord ? g->coord->core : NULL;
    if (ec != OD_ERR_NONE || !core) {
        if (ec == OD_ERR_NONE)
            cb(arg, OD_ERR_NONE); /* unit tests: the append is the store */
        return ec;
    }
    od_topic_t *t = od_image_topic(&core->image, OD_GROUP_OFFSETS_TOPIC,
                                   strlen(OD_GROUP_OFFSETS_TOPIC));
    if (!t || g->partition < 0 || g->partition >= t->npartitions)
        return OD_ERR_COORDINATOR_NOT_AVAILABLE;
    od_partition_t *p = t->partitions[g->partition];
    struct gstore_then *w = malloc(sizeof(*w));
    if (!w)
        return OD_ERR_COORDINATOR_NOT_AVAILABLE;
    w->cb = cb;
    w->arg = arg;
    int rc = od_hw_wait(core, p, od_partition_log_end(core, p), od_repl_commit_timeout_ms(core),
                        then_replicated, w);
    if (rc != 0) {
        free(w);
        if (rc < 0)
            return OD_ERR_COORDINATOR_NOT_AVAILABLE;
        cb(arg, OD_ERR_NONE); /* already in the ISR (a lone replica) */
    }
    return OD_ERR_NONE;
}

int16_t od_gstore_append_log(void *arg, int32_t partition, uint8_t *batch, size_t len)
{
    const od_coord_t *c = arg;
    od_core_t *core = c ? c->core : NULL;
    if (!core)
        return OD_ERR_COORDINATOR_NOT_AVAILABLE;
    od_topic_t *t = od_image_topic(&core->image, OD_GROUP_OFFSETS_TOPIC,
                                   strlen(OD_GROUP_OFFSETS_TOPIC));
    if (!t || partition < 0 || partition >= t->npartitions)
        return OD_ERR_COORDINATOR_NOT_AVAILABLE;
    od_partition_t *p = t->partitions[partition];
    if (p->leader != (int32_t)core->conf.node_id || !p->log)
        return OD_ERR_NOT_COORDINATOR;
    if ((int64_t)len > t->cfg.max_message_bytes)
        return OD_ERR_INVALID_COMMIT_OFFSET_SIZE;
    od_batch_hdr_t h;
    if (od_batch_parse_header(batch, len, &h) < 0)
        return OD_ERR_UNKNOWN_SERVER_ERROR;
    int64_t base = od_partition_log_end(core, p);
    int64_t next = od_batch_assign_offsets(batch, len, base, p->leader_epoch, -1);
    od_batch_parse_header(batch, len, &h);
    od_append_info_t info = {0};
    info.struct_size = sizeof(info);
    info.base_offset = base;
    info.last_offset = next - 1;
    info.max_timestamp = h.max_timestamp;
    info.offset_of_max_timestamp = next - 1;
    info.record_count = h.record_count;
    info.batch_count = 1;
    char err[256];
    if (od_partition_append(core, p, batch, len, &info, err, sizeof(err)) < 0) {
        od_logf(OD_LOG_ERROR, "%s-%d: append failed: %s", OD_GROUP_OFFSETS_TOPIC, partition, err);
        return OD_ERR_NOT_COORDINATOR;
    }
    return OD_ERR_NONE;
}

/* ---- loading ---- */

static void clear_members(od_group_t *g)
{
    while (g->nmembers) {
        od_gmember_t *m = g->members[g->nmembers - 1];
        m->join_cb = NULL;
        m->sync_cb = NULL;
        od_group_drop_member(g, m);
    }
}

static int load_group_value(od_group_t *g, const od_GroupMetadataValue_t *v)
{
    clear_members(g);
    free(g->protocol_type);
    free(g->protocol);
    free(g->leader);
    g->protocol_type = v->protocol_type.len > 0 ? strndup(v->protocol_type.p, (size_t)v->protocol_type.len) : NULL;
    g->protocol = v->protocol.len >= 0 ? strndup(v->protocol.p, (size_t)v->protocol.len) : NULL;
    g->leader = v->leader.len >= 0 ? strndup(v->leader.p, (size_t)v->leader.len) : NULL;
    g->generation = v->generation;
    g->has_metadata = 1;
    for (int32_t i = 0; i < v->members_count; i++) {
        const od_GroupMetadataValue_MemberMetadata_t *mm = &v->members[i];
        od_gproto_in_t proto = {od_str_c(g->protocol ? g->protocol : ""),
                                {mm->subscription.p, mm->subscription.len}};
        od_join_args_t a = {0};
        a.member_id = mm->member_id;
        a.instance_id = mm->group_instance_id;
        a.client_id = mm->client_id;
        a.protocol_type = od_str_c(g->protocol_type ? g->protocol_type : "");
        a.session_timeout = mm->session_timeout;
        a.rebalance_timeout = mm->rebalance_timeout >= 0 ? mm->rebalance_timeout : mm->session_timeout;
        a.protos = &proto;
        a.nprotos = 1;
        char host[256];
        snprintf(host, sizeof(host), "%.*s", mm->client_host.len > 0 ? (int)mm->client_host.len : 0,
                 mm->client_host.len > 0 ? mm->client_host.p : "");
        a.client_host = host;
        if (od_group_load_member(g, &a, mm->assignment.p, mm->assignment.len) < 0)
            return -1;
    }
    if (g->nmembers && !g->leader)
        g->leader = strdup(g->members[0]->id);
    g->state = g->nmembers ? OD_GS_STABLE : OD_GS_EMPTY;
    g->state_ts = v->current_state_timestamp;
    return 0;
}

int od_gstore_apply(od_coord_t *c, const uint8_t *key, int32_t klen, const uint8_t *value,
                    int32_t vlen, int32_t partition)
{
    if (!key || klen < 2)
        return -1;
    od_slice_t ks, vs;
    od_slice_init(&ks, key, (size_t)klen);
    int16_t kver = od_read_i16(&ks);
    if (kver > 2 || kver < 0)
        return 0; /* transaction or newer coordinator records: not ours */
    od_arena_t ar;
    od_arena_init(&ar, 0);
    int rc = -1;
    int16_t vver = 0;
    if (value) {
        od_slice_init(&vs, value, vlen > 0 ? (size_t)vlen : 0);
        vver = od_read_i16(&vs);
    }
    if (kver <= 1) {
        od_OffsetCommitKey_t k;
        if (od_OffsetCommitKey_decode(&ks, kver, &ar, &k) < 0 || k.group.len < 0 || k.topic.len < 0)
            goto out;
        od_group_t *g = od_group_find(c, k.group.p, (size_t)k.group.len);
        if (!value) {
            od_goffset_t *o = g ? od_group_offset(g, k.topic.p, (size_t)k.topic.len, k.partition) : NULL;
            if (o)
                od_group_offset_remove(g, o);
            rc = 0;
            goto out;
        }
        od_OffsetCommitValue_t v;
        if (vver < 0 || vver > 4 || od_OffsetCommitValue_decode(&vs, vver, &ar, &v) < 0)
            goto out;
        if (!g && !(g = od_group_create(c, k.group.p, (size_t)k.group.len)))
            goto out;
        g->partition = partition;
        char *topic = od_arena_strndup(&ar, k.topic.p, (size_t)k.topic.len);
        /* The metadata as bytes: od_group_offset_put copies metadata_len of
         * them, so a NUL inside survives the reload. */
        od_goffset_t o = {.topic = topic,
                          .partition = k.partition,
                          .leader_epoch = v.leader_epoch,
                          .offset = v.offset,
                          .metadata = (char *)(v.metadata.len > 0 ? v.metadata.p : ""),
                          .metadata_len = v.metadata.len > 0 ? (size_t)v.metadata.len : 0,
                          .commit_ts = v.commit_timestamp,
                          .expire_ts = vver == 1 ? v.expire_timestamp : -1};
        rc = topic ? od_group_offset_put(g, &o) : -1;
    } else {
        od_GroupMetadataKey_t k;
        if (od_GroupMetadataKey_decode(&ks, kver, &ar, &k) < 0 || k.group.len < 0)
            goto out;
        od_group_t *g = od_group_find(c, k.group.p, (size_t)k.group.len);
        if (!value) {
            if (g) {
                clear_members(g);
                g->has_metadata = 0;
                g->state = OD_GS_EMPTY;
                free(g->protocol_type);
                free(g->protocol);
                free(g->leader);
                g->protocol_type = g->protocol = g->leader = NULL;
                g->generation = 0;
                if (!g->noffsets)
                    od_group_destroy(g);
            }
            rc = 0;
            goto out;
        }
        od_GroupMetadataValue_t v;
        if (vver < 0 || vver > 4 || od_GroupMetadataValue_decode(&vs, vver, &ar, &v) < 0)
            goto out;
        if (!g && !(g = od_group_create(c, k.group.p, (size_t)k.group.len)))
            goto out;
        g->partition = partition;
        rc = load_group_value(g, &v);
    }
out:
    od_arena_free(&ar);
    return rc;
}

static void apply_records(od_coord_t *c, const uint8_t *p, size_t len, int32_t count,
                          int32_t partition, int64_t base)
{
    size_t pos = 0;
    for (int32_t i = 0; i < count && pos < len; i++) {
        od_record_t rec;
        size_t used;
        if (od_record_iter(p + pos, len - pos, -1, &rec, &used) < 0) {
            od_logf(OD_LOG_WARN, "%s-%d: malformed record in the batch at %lld; skipping the rest",
                    OD_GROUP_OFFSETS_TOPIC, partition, (long long)base);
            return;
        }
        pos += used;
        if (od_gstore_apply(c, rec.key, rec.key_len, rec.value, rec.value_len, partition) < 0)
            od_logf(OD_LOG_WARN, "%s-%d: offset %lld: record does not decode; skipped",
                    OD_GROUP_OFFSETS_TOPIC, partition, (long long)(base + rec.offset_delta));
    }
}

int od_gstore_apply_batches(od_coord_t *c, const uint8_t *buf, size_t len, int32_t partition,
                            int64_t *next)
{
    od_batch_iter_t it;
    od_batch_hdr_t h;
    size_t off, size;
    int n = 0;
    od_batch_iter_init(&it, buf, len);
    while (od_batch_iter_next(&it, &h, &off, &size) == 1) {
        n++;
        *next = h.base_offset + h.last_offset_delta + 1;
        if (h.magic != 2 || (h.attributes & OD_BATCH_CONTROL))
            continue;
        const uint8_t *recs = buf + off + OD_BATCH_HEADER_SIZE;
        size_t rlen = size - OD_BATCH_HEADER_SIZE;
        int codec = OD_BATCH_COMPRESSION(h.attributes);
        if (codec == OD_BATCH_CODEC_NONE) {
            apply_records(c, recs, rlen, h.record_count, partition, h.base_offset);
            continue;
        }
        uint8_t *plain = NULL;
        size_t plen = 0;
        char err[256];
        if (od_codec_decompress(codec, recs, rlen, (size_t)1 << 30, &plain, &plen, err,
                                sizeof(err)) < 0) {
            od_logf(OD_LOG_WARN, "%s-%d: batch at %lld does not decompress (%s); skipped",
                    OD_GROUP_OFFSETS_TOPIC, partition, (long long)h.base_offset, err);
            continue;
        }
        apply_records(c, plain, plen, h.record_count, partition, h.base_offset);
        free(plain);
    }
    return n;
}

static int load_partition(od_core_t *core, od_partition_t *p, char *err, size_t errsz)
{
    int64_t off = core->storage->start_offset(p->log);
    int64_t end = core->storage->end_offset(p->log);
    size_t chunk = (size_t)core->coord->conf.load_buffer;
    int64_t batches = 0;
    while (off < end) {
        od_log_read_t rd;
        memset(&rd, 0, sizeof(rd));
        if (core->storage->read(p->log, off, chunk, &rd, err, errsz) < 0)
            return -1;
        if (rd.nranges == 0)
            break;
        size_t len;
        uint8_t *buf = od_log_read_gather(&rd, &len);
        if (!buf) {
            snprintf(err, errsz, "%s-%d: reading the log at %lld failed", OD_GROUP_OFFSETS_TOPIC,
                     p->index, (long long)off);
            return -1;
        }
        int64_t next = off;
        int n = od_gstore_apply_batches(core->coord, buf, len, p->index, &next);
        free(buf);
        batches += n;
        if (n == 0 || next <= off) {
            od_logf(OD_LOG_WARN, "%s-%d: no whole batch at %lld; loading stops there",
                    OD_GROUP_OFFSETS_TOPIC, p->index, (long long)off);
            break;
        }
        off = next;
    }
    if (batches)
        od_logf(OD_LOG_DEBUG, "%s-%d: loaded %lld batch(es)", OD_GROUP_OFFSETS_TOPIC, p->index,
                (long long)batches);
    return 0;
}

void od_gstore_load_done(od_coord_t *c)
{
    od_group_t *g = od_group_next(c, NULL);
    while (g) {
        od_group_t *next = od_group_next(c, g);
        if (!g->has_metadata && g->noffsets == 0 && g->nmembers == 0)
            od_group_destroy(g);
        else
            od_group_start_sessions(g);
        g = next;
    }
}

int od_gstore_load(od_core_t *core, char *err, size_t errsz)
{
    od_topic_t *t = od_image_topic(&core->image, OD_GROUP_OFFSETS_TOPIC,
                                   strlen(OD_GROUP_OFFSETS_TOPIC));
    if (!t)
        return 0;
    int64_t t0 = od_mono_ms();
    for (int32_t i = 0; i < t->npartitions; i++) {
        od_partition_t *p = t->partitions[i];
        if (p->leader != (int32_t)core->conf.node_id || !p->log)
            continue;
        char why[256];
        if (load_partition(core, p, why, sizeof(why)) < 0) {
            snprintf(err, errsz, "loading %s-%d: %s", OD_GROUP_OFFSETS_TOPIC, i, why);
            return -1;
        }
    }
    od_gstore_load_done(core->coord);
    od_logf(OD_LOG_INFO, "group coordinator: loaded %zu group(s) from %s in %lld ms",
            core->coord->ngroups, OD_GROUP_OFFSETS_TOPIC, (long long)(od_mono_ms() - t0));
    return 0;
}

void od_groups_partition_led(od_core_t *core, od_partition_t *p)
{
    od_coord_t *c = core->coord;
    if (!c || !c->buckets || !p->log)
        return;
    od_groups_partition_lost(core, p); /* whatever is left from an older leadership */
    char why[256];
    int64_t t0 = od_mono_ms();
    if (load_partition(core, p, why, sizeof(why)) < 0)
        od_logf(OD_LOG_ERROR, "loading %s-%d: %s", OD_GROUP_OFFSETS_TOPIC, p->index, why);
    size_t n = 0;
    od_group_t *g = od_group_next(c, NULL);
    while (g) {
        od_group_t *next = od_group_next(c, g);
        if (g->partition == p->index) {
            if (!g->has_metadata && g->noffsets == 0 && g->nmembers == 0) {
                od_group_destroy(g);
            } else {
                od_group_start_sessions(g);
                n++;
            }
        }
        g = next;
    }
    od_logf(OD_LOG_INFO, "group coordinator: %s-%d led here; loaded %zu group(s) in %lld ms",
            OD_GROUP_OFFSETS_TOPIC, p->index, n, (long long)(od_mono_ms() - t0));
}

void od_groups_partition_lost(od_core_t *core, od_partition_t *p)
{
    od_coord_t *c = core->coord;
    if (!c || !c->buckets)
        return;
    od_group_t *g = od_group_next(c, NULL);
    while (g) {
        od_group_t *next = od_group_next(c, g);
        if (g->partition == p->index)
            od_group_destroy(g);
        g = next;
    }
}
