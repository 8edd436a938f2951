/* test_metadata.c - the metadata image: applying records, refusing bad
 * ones, and a snapshot that rebuilds the same image. */
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_ext.h"
#include "od_topic_config.h"
#include "od_proto_gen.h"
#include "tap.h"

static uint8_t *frame_topic(const char *name, uint8_t idbyte, size_t *len)
{
    od_wbuf_t w;
    od_wbuf_init(&w);
    od_metarec_frame(&w, OD_METAREC_TOPIC, 0);
    od_TopicRecord_t r;
    od_TopicRecord_init(&r);
    r.name = od_str_c(name);
    memset(r.topic_id.b, idbyte, 16);
    od_TopicRecord_encode(&w, 0, &r);
    uint8_t *p = od_wbuf_flatten(&w, len);
    od_wbuf_free(&w);
    return p;
}

static uint8_t *frame_partition(uint8_t idbyte, int32_t index, int32_t leader, size_t *len)
{
    od_wbuf_t w;
    od_wbuf_init(&w);
    od_metarec_frame(&w, OD_METAREC_PARTITION, 0);
    od_PartitionRecord_t r;
    od_PartitionRecord_init(&r);
    int32_t replicas[2] = {leader, leader + 1};
    r.partition_id = index;
    memset(r.topic_id.b, idbyte, 16);
    r.replicas_count = 2;
    r.replicas = replicas;
    r.isr_count = 1;
    r.isr = replicas;
    r.removing_replicas_count = 0;
    r.adding_replicas_count = 0;
    r.leader = leader;
    r.leader_epoch = 3;
    r.partition_epoch = 4;
    od_PartitionRecord_encode(&w, 0, &r);
    uint8_t *p = od_wbuf_flatten(&w, len);
    od_wbuf_free(&w);
    return p;
}

static uint8_t *frame_config_type(int8_t type, const char *name, const char *k, const char *v,
                                  size_t *len)
{
    od_wbuf_t w;
    od_wbuf_init(&w);
    od_metarec_frame(&w, OD_METAREC_CONFIG, 0);
    od_ConfigRecord_t r;
    od_ConfigRecord_init(&r);
    r.resource_type = type;
    r.resource_name = od_str_c(name);
    r.name = od_str_c(k);
    r.value = od_str_c(v);
    od_ConfigRecord_encode(&w, 0, &r);
    uint8_t *p = od_wbuf_flatten(&w, len);
    od_wbuf_free(&w);
    return p;
}

static uint8_t *frame_config(const char *topic, const char *k, const char *v, size_t *len)
{
    return frame_config_type(2, topic, k, v, len);
}

static uint8_t *frame_topic_id(const char *name, const uint8_t id[16], size_t *len)
{
    od_wbuf_t w;
    od_wbuf_init(&w);
    od_metarec_frame(&w, OD_METAREC_TOPIC, 0);
    od_TopicRecord_t r;
    od_TopicRecord_init(&r);
    r.name = od_str_c(name);
    memcpy(r.topic_id.b, id, 16);
    od_TopicRecord_encode(&w, 0, &r);
    uint8_t *p = od_wbuf_flatten(&w, len);
    od_wbuf_free(&w);
    return p;
}

static uint8_t *frame_remove(const uint8_t id[16], size_t *len)
{
    od_wbuf_t w;
    od_wbuf_init(&w);
    od_metarec_frame(&w, OD_METAREC_REMOVE_TOPIC, 0);
    od_RemoveTopicRecord_t r;
    od_RemoveTopicRecord_init(&r);
    memcpy(r.topic_id.b, id, 16);
    od_RemoveTopicRecord_encode(&w, 0, &r);
    uint8_t *p = od_wbuf_flatten(&w, len);
    od_wbuf_free(&w);
    return p;
}

/* Takes the record and its length through a pointer: C leaves the order of
 * argument evaluation open, so `len` must be read after the framing call. */
static int apply(od_core_t *c, uint8_t *rec, const size_t *lenp, int64_t off)
{
    size_t len = *lenp;
    char err[256];
    int rc = od_metadata_apply(c, rec, len, off, err, sizeof(err));
    if (rc < 0)
        tap_diag("apply: %s", err);
    free(rec);
    return rc;
}

int main(void)
{
    tap_no_plan();
    od_core_t *a = od_core_new();
    a->conf.node_id = 99; /* not a replica of anything: no logs are opened */
    size_t len;
    int64_t off = 0;
    tap_is_int(apply(a, frame_topic("orders", 1, &len), &len, off++), 0, "TopicRecord applied");
    tap_is_int(apply(a, frame_partition(1, 0, 5, &len), &len, off++), 0, "PartitionRecord 0 applied");
    tap_is_int(apply(a, frame_partition(1, 1, 6, &len), &len, off++), 0, "PartitionRecord 1 applied");
    tap_is_int(apply(a, frame_config("orders", "retention.ms", "1000", &len), &len, off++), 0,
               "ConfigRecord applied");
    tap_is_int(apply(a, frame_topic("orders", 2, &len), &len, off++), -1, "duplicate topic name refused");
    tap_is_int(apply(a, frame_partition(7, 0, 1, &len), &len, off++), -1,
               "partition of an unknown topic refused");
    tap_is_int(apply(a, frame_partition(1, 5, 1, &len), &len, off++), -1,
               "partition index out of order refused");
    /* Dynamic broker configs: the cluster default (""), this node's own
     * (99), another node's (98, ignored here). */
    int bc = apply(a, frame_config_type(4, "", "log.retention.ms", "5000", &len), &len, off++);
    bc |= apply(a, frame_config_type(4, "99", "message.max.bytes", "777", &len), &len, off++);
    bc |= apply(a, frame_config_type(4, "98", "log.segment.bytes", "1", &len), &len, off++);
    tap_is_int(bc, 0, "broker ConfigRecords applied");
    tap_ok(a->image.nbroker_default_configs == 1 && a->image.nbroker_configs == 1,
           "one cluster default, one of this node, the other node's ignored");
    tap_is_int(apply(a, frame_config("gone", "retention.ms", "1", &len), &len, off++), 0,
               "a ConfigRecord for a topic deleted before it committed is skipped, not fatal");
    tap_ok(!od_image_topic(&a->image, "gone", 4), "and creates nothing");
    uint8_t junk[] = {0x02, 0x00, 0xff, 0xff};
    char err[256];
    tap_is_int(od_metadata_apply(a, junk, sizeof(junk), 42, err, sizeof(err)), -1,
               "undecodable record refused");
    tap_ok(strstr(err, "offset 42") != NULL, "error names the offset: %s", err);
    uint8_t noop[] = {0x14, 0x00, 0x00}; /* NoOpRecord (20), v0, no tags */
    tap_is_int(od_metadata_apply(a, noop, sizeof(noop), 43, err, sizeof(err)), 0,
               "records the broker does not act on are skipped");

    od_topic_t *t = od_image_topic(&a->image, "orders", 6);
    tap_ok(t && t->npartitions == 2 && t->partitions[1]->leader == 6 &&
               t->partitions[0]->leader_epoch == 3 && t->partitions[0]->nreplicas == 2,
           "image holds the topic and its partitions");
    tap_ok(t && od_topic_config(t, "retention.ms") && strcmp(od_topic_config(t, "retention.ms"), "1000") == 0,
           "image holds the topic override");

    od_meta_record_t *recs;
    size_t n;
    tap_is_int(od_metadata_snapshot(a, &recs, &n), 0, "snapshot");
    tap_ok(n == 6, "snapshot has topic, config, two partitions and two broker configs (%zu records)", n);

    od_image_t saved = a->image;
    od_image_init(&a->image); /* replay into a fresh image */
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        ok &= od_metadata_apply(a, recs[i].data, recs[i].len, (int64_t)i, err, sizeof(err)) == 0;
        free((void *)recs[i].data);
    }
    free(recs);
    tap_ok(ok, "snapshot replays cleanly");
    od_topic_t *u = od_image_topic(&a->image, "orders", 6);
    tap_ok(u && u->npartitions == 2 && u->partitions[1]->leader == 6 &&
               u->partitions[0]->partition_epoch == 4 && u->partitions[0]->nisr == 1 &&
               memcmp(u->id.b, t->id.b, 16) == 0,
           "replayed image has the same partitions");
    tap_ok(u && od_topic_config(u, "retention.ms") && strcmp(od_topic_config(u, "retention.ms"), "1000") == 0,
           "replayed image has the same configs");
    od_cfg_source_t s1, s2, s3;
    const char *v1 = od_topic_config_value(a, NULL, "retention.ms", &s1);
    const char *v2 = od_topic_config_value(a, u, "max.message.bytes", &s2);
    const char *v3 = od_topic_config_value(a, u, "segment.bytes", &s3);
    tap_ok(v1 && strcmp(v1, "5000") == 0 && s1 == OD_CFGSRC_DYNAMIC_DEFAULT_BROKER,
           "replayed cluster default: retention.ms 5000, DYNAMIC_DEFAULT_BROKER_CONFIG");
    tap_ok(v2 && strcmp(v2, "777") == 0 && s2 == OD_CFGSRC_DYNAMIC_BROKER,
           "replayed per-broker value: max.message.bytes 777, DYNAMIC_BROKER_CONFIG");
    tap_ok(v3 && strcmp(v3, "1073741824") == 0 && s3 == OD_CFGSRC_DEFAULT,
           "another node's value does not apply here");

    /* Installing a snapshot over an image that moved on since
     * (od_metadata_reset_*): the original image's snapshot over the
     * replayed one with a new topic and changed configs. */
    od_image_t replayed = a->image;
    a->image = saved;
    tap_is_int(od_metadata_snapshot(a, &recs, &n), 0, "snapshot of the original image");
    saved = a->image;
    a->image = replayed;
    int moved = apply(a, frame_topic("extra", 3, &len), &len, off++);
    moved |= apply(a, frame_partition(3, 0, 1, &len), &len, off++);
    moved |= apply(a, frame_config("orders", "retention.ms", "2000", &len), &len, off++);
    moved |= apply(a, frame_config("orders", "cleanup.policy", "compact", &len), &len, off++);
    tap_is_int(moved, 0, "the image moves on: a new topic, changed configs");
    od_partition_t *kept = u ? u->partitions[0] : NULL;
    od_metadata_reset_begin(a);
    ok = 1;
    for (size_t i = 0; i < n; i++) {
        ok &= od_metadata_apply(a, recs[i].data, recs[i].len, 99, err, sizeof(err)) == 0;
        free((void *)recs[i].data);
    }
    free(recs);
    od_metadata_reset_end(a);
    od_topic_t *w = od_image_topic(&a->image, "orders", 6);
    tap_ok(ok && w == u && w && w->partitions[0] == kept && w->npartitions == 2,
           "reset: the topic the snapshot holds is kept in place, partitions and all");
    tap_ok(!od_image_topic(&a->image, "extra", 5) && a->image.ntopics == 1,
           "reset: the topic the snapshot does not hold is removed");
    tap_ok(w && od_topic_config(w, "retention.ms") &&
               strcmp(od_topic_config(w, "retention.ms"), "1000") == 0 &&
               !od_topic_config(w, "cleanup.policy"),
           "reset: configs are exactly the snapshot's");
    tap_ok(a->image.nbroker_default_configs == 1 && a->image.nbroker_configs == 1 &&
               !a->image.resetting,
           "reset: broker configs are the snapshot's, the reset is over");
    od_image_free(a, &a->image);
    od_image_free(a, &saved);

    /* Thousands of topics: the hash chains grow; lookups by name, id and
     * collision stay right, also after removals. */
    od_image_init(&a->image);
    int nt = 3000, bad_apply = 0, bad_name = 0, bad_id = 0;
    uint8_t id[16];
    char name[32];
    for (int i = 0; i < nt; i++) {
        memset(id, 0, sizeof(id));
        id[0] = (uint8_t)(i >> 8);
        id[1] = (uint8_t)i;
        id[15] = 0x5a;
        snprintf(name, sizeof(name), "t_%d", i);
        bad_apply += apply(a, frame_topic_id(name, id, &len), &len, off++) != 0;
    }
    tap_is_int(bad_apply, 0, "3000 topics applied");
    tap_ok(a->image.nbuckets > 256 && a->image.ntopics == (size_t)nt,
           "buckets grew to %zu for %zu topics", a->image.nbuckets, a->image.ntopics);
    for (int i = 0; i < nt; i++) {
        memset(id, 0, sizeof(id));
        id[0] = (uint8_t)(i >> 8);
        id[1] = (uint8_t)i;
        id[15] = 0x5a;
        snprintf(name, sizeof(name), "t_%d", i);
        od_uuid_t uid;
        memcpy(uid.b, id, 16);
        od_topic_t *x = od_image_topic_by_id(&a->image, &uid);
        bad_id += !x || strcmp(x->name, name) != 0;
        bad_name += od_image_topic(&a->image, name, strlen(name)) != x;
    }
    tap_is_int(bad_id, 0, "every topic found by id");
    tap_is_int(bad_name, 0, "every topic found by name");
    od_topic_t *c = od_image_topic_colliding(&a->image, "t.17", 4);
    tap_ok(c && strcmp(c->name, "t_17") == 0, "t.17 collides with t_17");
    tap_ok(od_image_topic_colliding(&a->image, "t-17", 4) == NULL, "t-17 collides with nothing");
    memset(id, 0, sizeof(id));
    id[1] = 17;
    id[15] = 0x5a;
    tap_is_int(apply(a, frame_remove(id, &len), &len, off++), 0, "RemoveTopicRecord applied");
    od_uuid_t u17;
    memcpy(u17.b, id, 16);
    tap_ok(!od_image_topic_by_id(&a->image, &u17) && !od_image_topic(&a->image, "t_17", 4) &&
               !od_image_topic_colliding(&a->image, "t.17", 4),
           "removed topic gone from all three chains");
    size_t seen = 0;
    for (od_topic_t *x = od_image_next_topic(&a->image, NULL); x; x = od_image_next_topic(&a->image, x))
        seen++;
    tap_is_int((long long)seen, nt - 1, "iteration sees every remaining topic once");
    od_image_free(a, &a->image);

    /* A local replica whose log cannot be opened (here: no storage backend)
     * is offline, and replay goes on. */
    od_image_init(&a->image);
    a->conf.node_id = 5;
    tap_is_int(apply(a, frame_topic("orders", 1, &len), &len, off++), 0, "topic applied");
    tap_is_int(apply(a, frame_partition(1, 0, 5, &len), &len, off++), 0,
               "PartitionRecord with a log that cannot open is still applied");
    tap_is_int(apply(a, frame_partition(1, 1, 4, &len), &len, off++), 0, "replay goes on");
    t = od_image_topic(&a->image, "orders", 6);
    tap_ok(t && t->npartitions == 2 && t->partitions[0]->offline && !t->partitions[0]->log,
           "partition 0 is offline");
    int16_t ec = 0;
    tap_ok(!od_partition_led_here(a, t, 0, &ec) && ec == OD_ERR_KAFKA_STORAGE_ERROR,
           "led here: KAFKA_STORAGE_ERROR (%d)", ec);
    tap_ok(t && t->partitions[1]->offline && !od_partition_led_here(a, t, 1, &ec) &&
               ec == OD_ERR_NOT_LEADER_OR_FOLLOWER,
           "a follower replica offline: NOT_LEADER_OR_FOLLOWER (%d)", ec);
    od_image_free(a, &a->image);

    /* The control plane's directory is never a partition log, even for a
     * topic a client once managed to create with its name. */
    static const char *const owned[] = {"__cluster_metadata-0", NULL};
    od_controlplane_ops_t cp = {.struct_size = sizeof(cp), .name = "kraft", .owned_dirs = owned};
    a->cp = &cp;
    od_image_init(&a->image);
    tap_is_int(apply(a, frame_topic("__cluster_metadata", 9, &len), &len, off++), 0,
               "a __cluster_metadata TopicRecord (from an old log) applies");
    tap_is_int(apply(a, frame_partition(9, 0, 5, &len), &len, off++), 0,
               "its PartitionRecord applies, offline");
    t = od_image_topic(&a->image, "__cluster_metadata", 18);
    char why[700] = "";
    tap_ok(t && t->internal && t->partitions[0]->offline &&
               od_partition_open_log(a, t->partitions[0], why, sizeof(why)) < 0 &&
               strstr(why, "belongs to the kraft control plane"),
           "opening its log is refused: %s", why);
    od_image_free(a, &a->image);
    a->cp = NULL;
    od_ext_free(a->ext);
    od_loop_free(a->loop);
    od_config_free(&a->config);
    free(a);
    return tap_done();
}
