/* od_metadata_snapshot.c - the image as records and back: the records that
 * rebuild it from nothing (od_metadata_snapshot, for KRaft snapshots) and
 * installing a snapshot over an image that has state already
 * (od_metadata_reset_begin, the records, od_metadata_reset_end: what the
 * snapshot does not name goes, a topic it keeps keeps its logs). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_acls.h"
#include "od_authz.h"
#include "od_core.h"
#include "od_metadata_int.h"
#include "od_schema.h"
#include "od_scram_store.h"
#include "od_topic_config.h"

/* ---- installing a snapshot ---- */

/* A topic the snapshot holds with the same id: its configs are the
 * snapshot's from now on (ConfigRecords follow), partitions are updated in
 * place by the PartitionRecords. */
void od_metadata_reset_keep_topic(od_core_t *core, od_topic_t *t)
{
    t->reset_seen = 1;
    od_kvs_free(&t->configs, &t->nconfigs);
    od_topic_cfg_resolve(core, t, NULL, &t->cfg);
    for (int32_t i = 0; i < t->npartitions; i++)
        od_partition_reconfigure(core, t->partitions[i]);
}

void od_metadata_reset_begin(od_core_t *core)
{
    od_image_t *img = &core->image;
    img->resetting = 1;
    for (od_topic_t *t = od_image_next_topic(img, NULL); t; t = od_image_next_topic(img, t))
        t->reset_seen = 0;
    for (size_t i = 0; i < img->nbrokers; i++)
        img->brokers[i].reset_seen = 0;
    od_kvs_free(&img->broker_configs, &img->nbroker_configs);
    od_kvs_free(&img->broker_default_configs, &img->nbroker_default_configs);
    img->next_producer_id = 0;
    /* ACL bindings, SCRAM credentials and schemas come back with the
     * snapshot's records; one the snapshot lacks was removed while this node
     * was behind and must not survive (a stale ACL or password would). */
    for (const od_acl_entry_t *e = od_acls_next(img, NULL); e; e = od_acls_next(img, e))
        od_authz_acl_removed(core, e->id);
    od_acls_free(img);
    od_scram_store_free(core);
    od_schema_store_free(core);
}

void od_metadata_reset_end(od_core_t *core)
{
    od_image_t *img = &core->image;
    img->resetting = 0;
    od_topic_t *t = od_image_next_topic(img, NULL);
    while (t) {
        od_topic_t *next = od_image_next_topic(img, t);
        if (!t->reset_seen)
            od_image_remove_topic(core, t);
        t = next;
    }
    size_t kept = 0;
    for (size_t i = 0; i < img->nbrokers; i++) {
        if (img->brokers[i].reset_seen) {
            img->brokers[kept++] = img->brokers[i];
        } else {
            od_logf(OD_LOG_INFO, "broker %d is not in the installed snapshot: dropped",
                    (int)img->brokers[i].id);
            od_image_free_broker(&img->brokers[i]);
        }
    }
    img->nbrokers = kept;
}

/* ---- the image as records ---- */

static void snap_topic(od_meta_batch_t *b, const od_topic_t *t)
{
    od_TopicRecord_t tr;
    od_TopicRecord_init(&tr);
    tr.name = od_str_c(t->name);
    tr.topic_id = t->id;
    od_wbuf_t *w = od_meta_batch_add(b, OD_METAREC_TOPIC, 0);
    if (w)
        od_TopicRecord_encode(w, 0, &tr);
    for (size_t i = 0; i < t->nconfigs; i++)
        od_metadata_encode_config(b, OD_CONFIG_RESOURCE_TOPIC, t->name, t->configs[i].key,
                                  t->configs[i].value);
    for (int32_t i = 0; i < t->npartitions; i++)
        od_metadata_encode_partition(b, &t->id, t->partitions[i]);
}

static void snap_broker_configs(od_meta_batch_t *b, const char *resource, const od_kv_t *kv,
                                size_t n)
{
    for (size_t i = 0; i < n; i++)
        od_metadata_encode_config(b, OD_CONFIG_RESOURCE_BROKER, resource, kv[i].key, kv[i].value);
}

/* Records that rebuild the current image from nothing, in an order that
 * od_metadata_apply accepts (brokers, then each topic with its configs and
 * partitions, then broker configs, ACLs and the producer id block). */
int od_metadata_snapshot(od_core_t *core, od_meta_record_t **recs, size_t *n)
{
    od_image_t *img = &core->image;
    od_meta_batch_t b = {0};
    *recs = NULL;
    *n = 0;
    for (size_t i = 0; i < img->nbrokers; i++)
        od_metadata_encode_broker(&b, &img->brokers[i]);
    for (od_topic_t *t = od_image_next_topic(img, NULL); t; t = od_image_next_topic(img, t))
        snap_topic(&b, t);
    char id[24];
    snprintf(id, sizeof(id), "%lld", (long long)core->conf.node_id);
    snap_broker_configs(&b, id, img->broker_configs, img->nbroker_configs);
    snap_broker_configs(&b, "", img->broker_default_configs, img->nbroker_default_configs);
    for (const od_acl_entry_t *e = od_acls_next(img, NULL); e; e = od_acls_next(img, e)) {
        od_wbuf_t *w = od_meta_batch_add(&b, OD_METAREC_ACCESS_CONTROL_ENTRY, 0);
        if (w)
            od_acls_encode(e, w);
    }
    if (img->next_producer_id > 0) {
        od_ProducerIdsRecord_t pr;
        od_ProducerIdsRecord_init(&pr);
        pr.broker_id = (int32_t)core->conf.node_id;
        pr.next_producer_id = img->next_producer_id;
        od_wbuf_t *w = od_meta_batch_add(&b, OD_METAREC_PRODUCER_IDS, 0);
        if (w)
            od_ProducerIdsRecord_encode(w, 0, &pr);
    }
    od_meta_record_t *out = NULL;
    size_t nout = 0;
    int rc = od_meta_batch_flatten(&b, &out, &nout);
    if (rc == 0 && od_scram_store_snapshot(core, &out, &nout) < 0)
        rc = -1; /* SCRAM credentials (UserScramCredentialRecord) last */
    if (rc == 0 && od_schema_store_snapshot(core, &out, &nout) < 0)
        rc = -1; /* then the schema registry's records */
    if (rc < 0) {
        for (size_t i = 0; out && i < nout; i++)
            free((void *)out[i].data);
        free(out);
    } else {
        *recs = out;
        *n = nout;
    }
    od_meta_batch_free(&b);
    return rc;
}
