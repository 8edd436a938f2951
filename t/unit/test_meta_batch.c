/* test_meta_batch.c - od_meta_batch (records built and proposed, the status
 * as a Kafka error) and the topic proposals built on it, through a control
 * plane that commits by applying the records at once, refuses, or fails
 * the proposal afterwards. */
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_ext.h"
#include "od_meta_batch.h"
#include "od_proto_gen.h"
#include "od_repl.h"
#include "tap.h"

enum { CP_COMMIT, CP_REFUSE, CP_FAIL_LATER };

typedef struct fake_cp {
    od_core_t *core;
    int mode;
    int64_t offset;
    size_t proposals, records;
} fake_cp_t;

static int fake_propose(void *self, const od_meta_record_t *recs, size_t n, od_propose_cb cb,
                        void *arg, char *err, size_t errsz)
{
    fake_cp_t *f = self;
    if (f->mode == CP_REFUSE) {
        snprintf(err, errsz, "refused by the test");
        return -1;
    }
    f->proposals++;
    f->records += n;
    if (f->mode == CP_FAIL_LATER) {
        cb(arg, -OD_ERR_NOT_CONTROLLER, "failed by the test");
        return 0;
    }
    char why[256];
    for (size_t i = 0; i < n; i++)
        if (od_metadata_apply(f->core, recs[i].data, recs[i].len, f->offset++, why,
                              sizeof(why)) < 0) {
            tap_diag("apply: %s", why);
            cb(arg, -OD_ERR_UNKNOWN_SERVER_ERROR, why);
            return 0;
        }
    cb(arg, 0, NULL);
    return 0;
}

typedef struct done {
    int calls;
    int16_t code;
} done_t;

static void on_done(void *arg, int16_t code, const char *msg)
{
    done_t *d = arg;
    (void)msg;
    d->calls++;
    d->code = code;
}

static int register_broker(od_core_t *core, int32_t id)
{
    od_RegisterBrokerRecord_t r;
    od_RegisterBrokerRecord_init(&r);
    r.broker_id = id;
    r.incarnation_id.b[0] = (uint8_t)id;
    r.fenced = 0;
    char err[256];
    return od_metadata_propose_broker(core, &r, NULL, NULL, err, sizeof(err));
}

static int64_t pending_total(const od_core_t *core)
{
    int64_t n = 0;
    for (size_t i = 0; i < core->image.nbrokers; i++)
        n += core->image.brokers[i].npending;
    return n;
}

int main(void)
{
    tap_no_plan();
    od_core_t *core = od_core_new();
    core->conf.node_id = 99; /* not a replica of anything: no logs are opened */
    char err[256];

    /* ---- the batch itself ---- */
    od_meta_batch_t b = {0};
    od_RemoveTopicRecord_t rt;
    od_RemoveTopicRecord_init(&rt);
    for (int i = 0; i < 10; i++) {
        od_wbuf_t *w = od_meta_batch_add(&b, OD_METAREC_REMOVE_TOPIC, 0);
        if (w)
            od_RemoveTopicRecord_encode(w, 0, &rt);
    }
    od_meta_record_t *recs = NULL;
    size_t n = 0;
    tap_is_int(od_meta_batch_flatten(&b, &recs, &n), 0, "ten records flatten");
    int framed = n == 10;
    for (size_t i = 0; i < n; i++) {
        od_slice_t s;
        od_slice_init(&s, recs[i].data, recs[i].len);
        int16_t key, ver;
        framed &= od_metarec_peek(&s, &key, &ver) == 0 && key == OD_METAREC_REMOVE_TOPIC &&
                  ver == 0;
        free((void *)recs[i].data);
    }
    free(recs);
    tap_ok(framed, "each is framed with its api key and version");
    b.oom = 1; /* as after an add that could not allocate */
    recs = NULL;
    n = 0;
    tap_is_int(od_meta_batch_flatten(&b, &recs, &n), -1, "a batch that lost a record does not flatten");
    done_t d = {0};
    tap_is_int(od_meta_propose(core, &b, on_done, &d, err, sizeof(err)), -1, "nor is it proposed");
    tap_ok(strcmp(err, "out of memory") == 0 && d.calls == 0 && b.n == 0,
           "out of memory, no callback, the batch freed (%s)", err);

    tap_is_int(od_meta_status_error(0), OD_ERR_NONE, "status 0: NONE");
    tap_is_int(od_meta_status_error(-OD_ERR_NOT_CONTROLLER), OD_ERR_NOT_CONTROLLER,
               "a negative Kafka code: that code");
    tap_ok(od_meta_status_error(-100000) == OD_ERR_UNKNOWN_SERVER_ERROR &&
               od_meta_status_error(3) == OD_ERR_UNKNOWN_SERVER_ERROR,
           "anything else: UNKNOWN_SERVER_ERROR");

    od_wbuf_t *w = od_meta_batch_add(&b, OD_METAREC_REMOVE_TOPIC, 0);
    if (w)
        od_RemoveTopicRecord_encode(w, 0, &rt);
    tap_is_int(od_meta_propose_raw(core, &b, NULL, NULL, err, sizeof(err)),
               OD_ERR_UNKNOWN_SERVER_ERROR, "without a control plane: UNKNOWN_SERVER_ERROR");
    tap_ok(strcmp(err, "no control plane") == 0, "saying so (%s)", err);

    /* ---- proposals through a control plane ---- */
    fake_cp_t f = {core, CP_COMMIT, 0, 0, 0};
    od_controlplane_ops_t ops = {.struct_size = sizeof(ops), .name = "test",
                                 .propose = fake_propose};
    core->cp = &ops;
    core->cp_self = &f;
    tap_ok(register_broker(core, 1) == 0 && register_broker(core, 2) == 0 &&
               core->image.nbrokers == 2,
           "two brokers register through proposals");

    int32_t a0[] = {1, 2}, a1[] = {2, 1};
    od_assignment_t asg[] = {{a0, 2}, {a1, 2}};
    od_kv_t cfg[] = {{"retention.ms", "1234"}};
    od_new_topic_t nt = {"orders", 6, 2, 2, cfg, 1, asg};
    memset(&d, 0, sizeof(d));
    f.records = 0;
    tap_is_int(od_metadata_create_topic(core, &nt, on_done, &d, err, sizeof(err)), 0,
               "CreateTopics proposed");
    od_topic_t *t = od_image_topic(&core->image, "orders", 6);
    tap_ok(d.calls == 1 && d.code == OD_ERR_NONE && f.records == 4,
           "committed in one proposal of 4 records (%zu)", f.records);
    tap_ok(t && t->npartitions == 2 && t->partitions[0]->leader == 1 &&
               t->partitions[1]->leader == 2 && t->partitions[1]->nisr == 2 &&
               od_topic_config(t, "retention.ms") &&
               strcmp(od_topic_config(t, "retention.ms"), "1234") == 0,
           "the image holds its partitions as assigned and its config");
    tap_ok(od_image_broker(&core->image, 1)->nreplicas == 2 && pending_total(core) == 0,
           "replicas counted on their brokers, nothing left pending");
    tap_is_int(od_metadata_create_topic(core, &nt, on_done, &d, err, sizeof(err)),
               -OD_ERR_TOPIC_ALREADY_EXISTS, "a second create: TOPIC_ALREADY_EXISTS");

    memset(&d, 0, sizeof(d));
    tap_is_int(od_metadata_add_partitions(core, t, 3, NULL, on_done, &d, err, sizeof(err)), 0,
               "CreatePartitions to 3, placed by the broker");
    tap_ok(d.code == OD_ERR_NONE && t->npartitions == 3 && t->partitions[2]->nreplicas == 2 &&
               t->adding_to == 0,
           "the new partition has rf 2 and nothing is held");

    core->conf.max_broker_partitions = 3;
    tap_is_int(od_metadata_add_partitions(core, t, 5, NULL, on_done, &d, err, sizeof(err)),
               -OD_ERR_POLICY_VIOLATION, "beyond max.broker.partitions: POLICY_VIOLATION");
    tap_ok(strstr(err, "max.broker.partitions") && pending_total(core) == 0 && t->adding_to == 0,
           "with the reason, nothing reserved (%s)", err);
    core->conf.max_broker_partitions = 0;

    f.mode = CP_REFUSE;
    od_new_topic_t nx = {"other", 5, 1, 2, NULL, 0, NULL};
    tap_is_int(od_metadata_create_topic(core, &nx, on_done, &d, err, sizeof(err)), -1,
               "a refused proposal fails at once");
    tap_ok(strstr(err, "refused by the test") && pending_total(core) == 0,
           "with the control plane's reason, nothing reserved (%s)", err);
    f.mode = CP_COMMIT;
    memset(&d, 0, sizeof(d));
    tap_ok(od_metadata_create_topic(core, &nx, on_done, &d, err, sizeof(err)) == 0 &&
               d.code == OD_ERR_NONE && od_image_topic(&core->image, "other", 5),
           "the name is free again: the retry commits");

    /* Moves and elections say a proposal that cannot be made as
     * NOT_CONTROLLER: UNKNOWN_SERVER_ERROR (-1) negated would read as
     * their positive "nothing to do". */
    int32_t to2[] = {2};
    core->cp = NULL;
    tap_is_int(od_reassign_start(core, t->partitions[0], to2, 1, NULL, NULL, err, sizeof(err)),
               -OD_ERR_NOT_CONTROLLER, "a move without a control plane: NOT_CONTROLLER");
    core->cp = &ops;

    f.mode = CP_FAIL_LATER;
    memset(&d, 0, sizeof(d));
    tap_is_int(od_metadata_delete_topic(core, t, on_done, &d, err, sizeof(err)), 0,
               "DeleteTopics proposed");
    tap_ok(d.calls == 1 && d.code == OD_ERR_NOT_CONTROLLER && !t->deleting &&
               od_image_topic(&core->image, "orders", 6) == t,
           "failed afterwards: NOT_CONTROLLER, the topic stays and is not marked deleting");
    f.mode = CP_COMMIT;
    memset(&d, 0, sizeof(d));
    tap_ok(od_metadata_delete_topic(core, t, on_done, &d, err, sizeof(err)) == 0 &&
               d.code == OD_ERR_NONE && !od_image_topic(&core->image, "orders", 6) &&
               od_image_broker(&core->image, 1)->nreplicas == 1,
           "deleted on the retry; the brokers keep only the other topic's replicas");

    od_image_free(core, &core->image);
    core->cp = NULL;
    od_ext_free(core->ext);
    od_loop_free(core->loop);
    od_config_free(&core->config);
    free(core);
    return tap_done();
}
