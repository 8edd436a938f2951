/* kraft_module.c - the `kraft` control plane: module export, configuration,
 * committing and applying the metadata log, and the od_controlplane_ops_t
 * glue. The Raft state machine is kraft_raft.c, its messages
 * kraft_rpc.c/kraft_rpc_client.c, the connections kraft_net.c.
 *
 *   start    recover the log; a single voter elects itself at once and
 *            replays its log; a quorum member (or observer) starts
 *            unattached and applies records once the leader's high
 *            watermark says they are committed.
 *   propose  (leader) one batch written; the first of a loop turn is
 *            fdatasync'ed at once, the later ones of the turn share one
 *            fdatasync at its end (group commit); followers' fetches then
 *            carry it, and the high watermark - the largest offset on a
 *            majority of voters' disks - commits it -> apply -> callbacks.
 */
#include "kraft.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>



/* ---- helpers ----------------------------------------------------------------- */

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* Does the comma separated `list` hold `word`? Unknown roles are an error. */
static int roles_check(const char *roles, int *broker, int *controller, char *err, size_t errsz)
{
    *broker = *controller = 0;
    for (const char *p = roles; *p;) {
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ' && *e != '\t')
            e++;
        if (e == p)
            break;
        if ((size_t)(e - p) == 6 && memcmp(p, "broker", 6) == 0) {
            *broker = 1;
        } else if ((size_t)(e - p) == 10 && memcmp(p, "controller", 10) == 0) {
            *controller = 1;
        } else {
            snprintf(err, errsz, "process.roles: unknown role '%.*s' (want broker, controller)",
                     (int)(e - p), p);
            return -1;
        }
        p = e;
    }
    return 0;
}

static kraft_voter_t *self_voter(kraft_t *k)
{
    for (size_t i = 0; i < k->st.nvoters; i++)
        if (k->st.voters[i].id == k->st.node_id)
            return &k->st.voters[i];
    return NULL;
}

/* ---- committing and applying ---------------------------------------------------- */

/* A committed cluster-id control record: the first one in the log is the
 * cluster's id; every node adopts it and keeps it in meta.properties. */
static void adopt_cluster_id(kraft_t *k, const kraft_record_t *r)
{
    if (!r->value || r->value_len != 4 + KRAFT_CLUSTER_ID_LEN ||
        kraft_get_be16(r->value + 2) != KRAFT_CLUSTER_ID_LEN ||
        !kraft_valid_cluster_id((const char *)r->value + 4, KRAFT_CLUSTER_ID_LEN)) {
        od_logf(OD_LOG_WARN, "kraft: malformed cluster id record at offset %" PRId64 "; ignored",
                r->offset);
        return;
    }
    const char *id = (const char *)r->value + 4;
    if (k->cluster_id_adopted) {
        if (memcmp(id, k->cluster_id, KRAFT_CLUSTER_ID_LEN) != 0)
            od_logf(OD_LOG_DEBUG, "kraft: later cluster id record at offset %" PRId64
                    " ignored (the cluster is %s)", r->offset, k->cluster_id);
        return;
    }
    char err[512];
    memcpy(k->cluster_id, id, KRAFT_CLUSTER_ID_LEN);
    k->cluster_id[KRAFT_CLUSTER_ID_LEN] = '\0';
    k->cluster_id_adopted = 1;
    if (kraft_meta_props_write(k->meta_dir, k->st.node_id, k->cluster_id, err, sizeof err) < 0)
        od_logf(OD_LOG_ERROR, "kraft: cannot keep the cluster id in meta.properties: %s", err);
    od_logf(OD_LOG_INFO, "kraft: node %" PRId32 " joins cluster %s", k->st.node_id,
            k->cluster_id);
}

static int apply_record(void *arg, const kraft_record_t *r, char *err, size_t errsz)
{
    kraft_t *k = arg;
    char why[384];
    k->applied_epoch = r->epoch;
    if (r->control) {
        /* Raft's own records (leader changes) mean nothing to the image. */
        if (r->key && r->key_len >= 4 && kraft_get_be16(r->key + 2) == KRAFT_CONTROL_CLUSTER_ID)
            adopt_cluster_id(k, r);
        return 0;
    }
    if (!r->value || r->value_len <= 0) {
        snprintf(err, errsz, "metadata record at offset %" PRId64 " has no value", r->offset);
        return -1;
    }
    why[0] = '\0';
    if (od_metadata_apply(k->core, r->value, (size_t)r->value_len, r->offset, why,
                          sizeof why) < 0) {
        snprintf(err, errsz, "metadata record at offset %" PRId64 " cannot be applied: %s",
                 r->offset, why[0] ? why : "rejected by the image");
        return -1;
    }
    k->records_applied++;
    k->snap_bytes_since += r->value_len;
    return 0;
}

/* The high watermark is the largest offset that a majority of voters has on
 * disk, counted only once it covers a batch of the current epoch (Raft never
 * commits older epochs' entries by counting replicas). With one voter it is
 * the leader's log end. */
void kraft_update_high_watermark(kraft_t *k)
{
    int64_t m[KRAFT_MAX_VOTERS];
    size_t n = k->st.nvoters;
    kraft_voter_t *self = self_voter(k);
    if (k->st.role != KRAFT_LEADER || !self)
        return;
    self->match_offset = k->log.synced_end; /* what is on our disk, not just written */
    for (size_t i = 0; i < n; i++)
        m[i] = k->st.voters[i].match_offset;
    for (size_t i = 1; i < n; i++) /* insertion sort, descending; n is tiny */
        for (size_t j = i; j > 0 && m[j] > m[j - 1]; j--) {
            int64_t t = m[j];
            m[j] = m[j - 1];
            m[j - 1] = t;
        }
    int64_t hw = m[n / 2];
    if (hw > k->st.epoch_start_offset && hw > k->st.high_watermark)
        k->st.high_watermark = hw;
}

/* Applies every committed batch not applied yet, then completes the
 * proposals the high watermark now covers. On failure the image and the log
 * disagree: the module refuses further proposals. */
void kraft_apply_committed(kraft_t *k)
{
    char err[512];
    if (!k->fatal[0] &&
        kraft_log_read(&k->log, &k->applied, k->st.high_watermark, apply_record, k, err,
                       sizeof err) < 0) {
        snprintf(k->fatal, sizeof k->fatal, "%s", err);
        od_logf(OD_LOG_ERROR, "kraft: %s; refusing further metadata changes", err);
    }
    kraft_snap_after_apply(k);
    while (k->pending &&
           (k->fatal[0] || k->pending->last_offset < k->applied.offset)) {
        kraft_pending_t *p = k->pending;
        k->pending = p->next;
        if (!k->pending)
            k->pending_tail = &k->pending;
        /* Unlinked first: the callback may propose again. */
        if (k->fatal[0])
            p->cb(p->arg, -KRAFT_ERR_KAFKA_STORAGE_ERROR, k->fatal);
        else
            p->cb(p->arg, 0, NULL);
        free(p);
    }
}

void kraft_fail_pending(kraft_t *k, int status, const char *msg)
{
    while (k->pending) {
        kraft_pending_t *p = k->pending;
        k->pending = p->next;
        p->cb(p->arg, status, msg);
        free(p);
    }
    k->pending_tail = &k->pending;
}

/* Fails the proposals whose batches a failed sync took back (all from
 * synced_end on); earlier ones are durable and complete normally. */
static void fail_unsynced(kraft_t *k, const char *msg)
{
    kraft_pending_t **pp = &k->pending;
    while (*pp) {
        kraft_pending_t *p = *pp;
        if (p->last_offset < k->log.synced_end) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        p->cb(p->arg, -KRAFT_ERR_KAFKA_STORAGE_ERROR, msg);
        free(p);
    }
    k->pending_tail = &k->pending;
    for (kraft_pending_t *p = k->pending; p; p = p->next)
        k->pending_tail = &p->next;
}

/* Group commit: one fdatasync for every batch written since the last one,
 * then commit, apply and call back, in log order. */
static void flush(kraft_t *k)
{
    char why[512];
    if (k->flush_timer > 0)
        od_timer_cancel(k->core, k->flush_timer);
    k->flush_timer = 0;
    if (kraft_log_sync(&k->log, why, sizeof why) < 0) {
        od_logf(OD_LOG_ERROR, "kraft: %s", why);
        fail_unsynced(k, why);
    }
    kraft_update_high_watermark(k);
    kraft_apply_committed(k);
    if (k->st.role == KRAFT_LEADER)
        kraft_leader_appended(k); /* followers waiting in Fetch get the new batches */
}

static void flush_timer_cb(void *arg)
{
    kraft_t *k = arg;
    k->flush_timer = 0; /* fired: nothing to cancel */
    flush(k);
}

/* ---- election ---------------------------------------------------------------------- */

/* LeaderChangeMessage v0 in a control record, as Kafka's leader writes at
 * the start of its epoch. Key: version 0, type LEADER_CHANGE. Value:
 * Version int16, LeaderId int32, Voters and GrantingVoters as compact
 * arrays of {VoterId int32, no tags}, no tags. A cluster that has no id
 * yet gets one in the same batch (KRAFT_CONTROL_CLUSTER_ID: version int16,
 * then the id as an int16-length string). */
int kraft_append_leader_change(kraft_t *k, char *err, size_t errsz)
{
    uint8_t key[2][4], val[8 + 2 * (1 + KRAFT_MAX_VOTERS * 5) + 1];
    uint8_t cid[4 + KRAFT_CLUSTER_ID_LEN];
    size_t n = 0;
    kraft_put_be16(key[0], 0);
    kraft_put_be16(key[0] + 2, KRAFT_CONTROL_LEADER_CHANGE);
    kraft_put_be16(val, 0);
    kraft_put_be32(val + 2, (uint32_t)k->st.node_id);
    n = 6;
    for (int list = 0; list < 2; list++) {
        size_t cnt = 0;
        for (size_t i = 0; i < k->st.nvoters; i++)
            cnt += list == 0 || k->granted[i];
        val[n++] = (uint8_t)(cnt + 1); /* uvarint, < 128 as KRAFT_MAX_VOTERS is 64 */
        for (size_t i = 0; i < k->st.nvoters; i++) {
            if (list == 1 && !k->granted[i])
                continue;
            kraft_put_be32(val + n, (uint32_t)k->st.voters[i].id);
            n += 4;
            val[n++] = 0;
        }
    }
    val[n++] = 0;
    od_meta_record_t keys[2] = {{key[0], sizeof key[0]}, {key[1], sizeof key[1]}};
    od_meta_record_t vals[2] = {{val, n}, {cid, sizeof cid}};
    size_t nrec = 1;
    if (!k->cluster_id_adopted) {
        if (!k->cluster_id[0] && kraft_new_cluster_id(k->cluster_id, err, errsz) < 0)
            return -1;
        kraft_put_be16(key[1], 0);
        kraft_put_be16(key[1] + 2, KRAFT_CONTROL_CLUSTER_ID);
        kraft_put_be16(cid, 0);
        kraft_put_be16(cid + 2, KRAFT_CLUSTER_ID_LEN);
        memcpy(cid + 4, k->cluster_id, KRAFT_CLUSTER_ID_LEN);
        nrec = 2;
    }
    int64_t base;
    if (kraft_log_append(&k->log, k->st.epoch, 1, keys, vals, nrec, od_now_ms(), &base, err,
                         errsz) < 0)
        return -1;
    k->st.epoch_start_offset = base;
    return 0;
}

/* ---- od_controlplane_ops_t ------------------------------------------------------------ */

static void kraft_stop(void *self);

static int config_voters(kraft_t *k, int controller, char *err, size_t errsz)
{
    size_t n;
    if (kraft_parse_voters(k->cfg_voters, k->st.voters, KRAFT_MAX_VOTERS, &n, err, errsz) < 0)
        return -1;
    if (n == 0 && k->cfg_bootstrap && *k->cfg_bootstrap) {
        snprintf(err, errsz, "controller.quorum.bootstrap.servers without "
                 "controller.quorum.voters needs a dynamic quorum (KIP-853), which is not "
                 "implemented; list the voters in controller.quorum.voters");
        return -1;
    }
    if (n == 0) {
        if (!controller) {
            snprintf(err, errsz, "process.roles=broker needs controller.quorum.voters (the "
                     "controllers this broker fetches metadata from)");
            return -1;
        }
        /* Default: this node is the only voter. */
        memset(&k->st.voters[0], 0, sizeof k->st.voters[0]);
        k->st.voters[0].id = k->st.node_id;
        n = 1;
    }
    k->st.nvoters = n;
    k->is_voter = self_voter(k) != NULL;
    if (k->is_voter && !controller) {
        snprintf(err, errsz, "node.id %" PRId32 " is in controller.quorum.voters but "
                 "process.roles has no 'controller'", k->st.node_id);
        return -1;
    }
    if (!k->is_voter && controller) {
        snprintf(err, errsz, "process.roles has 'controller' but node.id %" PRId32
                 " is not in controller.quorum.voters", k->st.node_id);
        return -1;
    }
    const char *names = od_core_config_get(k->core, "controller.listener.names");
    size_t nl = names ? strcspn(names, ", ") : 0;
    if (n > 1 && nl == 0) {
        snprintf(err, errsz, "a quorum of %zu voters needs controller.listener.names (the "
                 "listener the voters reach each other on)", n);
        return -1;
    }
    if (nl >= sizeof k->controller_listener)
        nl = sizeof k->controller_listener - 1;
    memcpy(k->controller_listener, names ? names : "", nl);
    k->controller_listener[nl] = '\0';
    return 0;
}

static int kraft_start(void *self, od_core_t *core, char *err, size_t errsz)
{
    kraft_t *k = self;
    kraft_qstate_t qs;
    int broker, controller, created = 0;

    k->core = core;
    k->fatal[0] = '\0';
    memset(&k->st, 0, sizeof k->st);
    k->st.node_id = od_core_node_id(core);
    k->st.leader_id = k->st.voted_id = -1;
    k->pending = NULL;
    k->pending_tail = &k->pending;
    k->flush_timer = 0;
    k->cluster_id[0] = '\0';
    k->cluster_id_adopted = 0;

    /* A missing process.roles means the combined single-node setup. */
    const char *roles = od_core_config_get(core, "process.roles");
    if (!roles || !*roles)
        roles = "broker,controller";
    if (roles_check(roles, &broker, &controller, err, errsz) < 0)
        return -1;
    if (k->st.node_id < 0) {
        snprintf(err, errsz, "node.id must be set (>= 0) for the kraft control plane");
        return -1;
    }
    if (config_voters(k, controller, err, errsz) < 0)
        return -1;

    const char *dir = k->cfg_log_dir && *k->cfg_log_dir ? k->cfg_log_dir : od_core_data_dir(core);
    if (!dir || !*dir) {
        snprintf(err, errsz, "neither metadata.log.dir nor log.dirs is set");
        return -1;
    }
    k->meta_dir = strdup(dir);
    k->part_dir = k->meta_dir ? join(k->meta_dir, KRAFT_PARTITION_DIR) : NULL;
    k->qstate_path = k->part_dir ? join(k->part_dir, KRAFT_QUORUM_STATE_FILE) : NULL;
    if (!k->qstate_path) {
        snprintf(err, errsz, "out of memory");
        goto fail;
    }
    if (kraft_mkdirs(k->meta_dir, err, errsz) < 0)
        goto fail;
    /* A single voter makes up its cluster id at once; a quorum agrees on
     * the one its first leader writes into the log (no format step). */
    char props[4096];
    snprintf(props, sizeof props, "%s/%s", k->meta_dir, KRAFT_META_PROPERTIES);
    int solo = k->is_voter && k->st.nvoters == 1;
    if (solo || access(props, F_OK) == 0) {
        if (kraft_meta_props_load(k->meta_dir, k->st.node_id, k->cluster_id, &created, err,
                                  errsz) < 0)
            goto fail;
        k->cluster_id_adopted = 1;
    }
    if (created)
        od_logf(OD_LOG_INFO, "kraft: new cluster %s, meta.properties written in %s",
                k->cluster_id, k->meta_dir);

    /* The log first: it takes the directory lock before anything is written. */
    k->records_applied = 0;
    if (kraft_snap_start(k, err, errsz) < 0)
        goto fail;
    k->log_open = 1;
    if (kraft_qstate_read(k->qstate_path, &qs, err, errsz) < 0)
        goto fail;
    if (kraft_raft_start(k, &qs, err, errsz) < 0)
        goto fail;
    if (k->fatal[0]) {
        snprintf(err, errsz, "%s", k->fatal);
        goto fail;
    }
    if (solo)
        od_logf(OD_LOG_INFO,
                "kraft: metadata ready: %" PRId64 " snapshot records and %" PRId64
                " log records replayed from %s, log start offset %" PRId64 ", end offset %"
                PRId64, k->snap_records_loaded, k->records_applied, k->part_dir,
                kraft_log_start_offset(&k->log), k->log.end_offset);
    else
        od_logf(OD_LOG_INFO, "kraft: node %" PRId32 " is %s of a quorum of %zu voters; metadata "
                "log end offset %" PRId64 ", records are applied once committed",
                k->st.node_id, k->is_voter ? "a voter" : "an observer", k->st.nvoters,
                k->log.end_offset);
    return 0;
fail:
    kraft_stop(k);
    return -1;
}

static void kraft_stop(void *self)
{
    kraft_t *k = self;
    /* A leader resigns (EndQuorumEpoch) so that the others elect a new one
     * without waiting for a timeout; connections close. */
    kraft_raft_stop(k);
    kraft_snap_fetch_stop(k);
    /* Proposals written in the last loop turn are made durable but not
     * applied: the core has let go of its image by now. They are applied at
     * the next start; their callers hear NOT_CONTROLLER (retriable), as for
     * any change whose outcome a client cannot know. */
    if (k->flush_timer > 0 && k->core)
        od_timer_cancel(k->core, k->flush_timer);
    k->flush_timer = 0;
    if (k->log_open && k->pending) {
        char why[512];
        if (kraft_log_sync(&k->log, why, sizeof why) < 0)
            od_logf(OD_LOG_ERROR, "kraft: at shutdown: %s", why);
    }
    kraft_fail_pending(k, -KRAFT_ERR_NOT_CONTROLLER, "the controller is shutting down");
    if (k->log_open)
        kraft_log_close(&k->log);
    k->log_open = 0;
    k->st.role = KRAFT_UNATTACHED;
    k->st.leader_id = -1;
    free(k->meta_dir);
    free(k->part_dir);
    free(k->qstate_path);
    k->meta_dir = k->part_dir = k->qstate_path = NULL;
}

static int kraft_propose(void *self, const od_meta_record_t *recs, size_t n, od_propose_cb cb,
                         void *arg, char *err, size_t errsz)
{
    kraft_t *k = self;
    char why[512];
    (void)err; /* every outcome goes through cb, as the brief of propose allows */
    (void)errsz;
    if (k->st.role != KRAFT_LEADER) {
        /* The core forwards admin requests to the active controller
         * (ABI 1.3 forward op); what still arrives here is retried by its
         * caller once the controller is known. */
        cb(arg, -KRAFT_ERR_NOT_CONTROLLER, "this node is not the active controller");
        return 0;
    }
    if (k->fatal[0]) {
        cb(arg, -KRAFT_ERR_KAFKA_STORAGE_ERROR, k->fatal);
        return 0;
    }
    if (n == 0) {
        cb(arg, 0, NULL);
        return 0;
    }
    kraft_pending_t *p = calloc(1, sizeof *p);
    if (!p) {
        cb(arg, -KRAFT_ERR_KAFKA_STORAGE_ERROR, "out of memory");
        return 0;
    }
    int64_t base;
    int rc = kraft_log_write(&k->log, k->st.epoch, 0, NULL, recs, n, od_now_ms(), &base, why,
                             sizeof why);
    if (rc < 0) {
        free(p);
        od_logf(OD_LOG_ERROR, "kraft: proposal of %zu records failed: %s", n, why);
        fail_unsynced(k, why); /* a sync before a roll may have failed too */
        cb(arg, rc == -2 ? -KRAFT_ERR_MESSAGE_TOO_LARGE : -KRAFT_ERR_KAFKA_STORAGE_ERROR, why);
        return 0;
    }
    p->last_offset = base + (int64_t)n - 1;
    p->cb = cb;
    p->arg = arg;
    *k->pending_tail = p;
    k->pending_tail = &p->next;
    /* Group commit. The first proposal of a loop turn is committed at once
     * (a lone change keeps its latency, and its caller sees the result on
     * return) and opens the turn: a 0 ms timer, which the loop runs after
     * the turn's events. Later proposals of the same turn only write; the
     * timer's one fdatasync covers them all, then they are applied and
     * called back (durable first). Raft: with followers the high watermark
     * moves when their Fetch requests report the new offsets; with one
     * voter our own sync is the majority. */
    if (k->flush_timer <= 0) {
        k->flush_timer = od_timer_add(k->core, 0, flush_timer_cb, k);
        int64_t turn = k->flush_timer;
        k->flush_timer = 0; /* flush() must not cancel the turn's timer */
        flush(k);
        k->flush_timer = turn; /* -1: no timer, every proposal commits alone */
    }
    return 0;
}

static int32_t kraft_controller_id(void *self)
{
    kraft_t *k = self;
    return k->st.role == KRAFT_LEADER ? k->st.node_id : k->st.leader_id;
}

static const char *kraft_cluster_id(void *self)
{
    kraft_t *k = self;
    return k->cluster_id_adopted ? k->cluster_id : NULL;
}

/* The metadata log's directory is the kraft module's, even when
 * metadata.log.dir is one of log.dirs: the core refuses to open a partition
 * log there (a topic named __cluster_metadata would otherwise share it). */
static const char *const kraft_owned_dirs[] = {KRAFT_PARTITION_DIR, NULL};

static const od_controlplane_ops_t kraft_ops = {
    .struct_size = sizeof(od_controlplane_ops_t),
    .name = "kraft",
    .start = kraft_start,
    .stop = kraft_stop,
    .propose = kraft_propose,
    .controller_id = kraft_controller_id,
    .cluster_id = kraft_cluster_id,
    .owned_dirs = kraft_owned_dirs,
    .apis = kraft_apis,
    .napis = KRAFT_NAPIS,
    .handle = kraft_handle,
    .forward = kraft_forward,
};

/* ---- module ------------------------------------------------------------------------ */

static int kraft_init(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    kraft_t *k = calloc(1, sizeof *k);
    if (!k) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    k->pending_tail = &k->pending;
    k->st.leader_id = k->st.voted_id = -1;
    k->conf[0] = (od_conf_def_t){
        .name = "controller.quorum.voters", .type = OD_CONF_LIST, .dflt = "",
        .doc = "Raft voters as id@host:port,... (their controller listeners); empty: this "
               "node is the single voter",
        .target = &k->cfg_voters};
    k->conf[1] = (od_conf_def_t){
        .name = "metadata.log.dir", .type = OD_CONF_STRING, .dflt = "",
        .doc = "directory of the KRaft metadata log and meta.properties; empty: the first of "
               "log.dirs",
        .target = &k->cfg_log_dir};
    k->conf[2] = (od_conf_def_t){
        .name = "metadata.log.segment.bytes", .type = OD_CONF_INT, .dflt = "1073741824",
        .min = 1024, .max = INT32_MAX,
        .doc = "size at which the metadata log rolls to a new segment",
        .target = &k->cfg_segment_bytes, .flags = OD_CONF_F_SIZE};
    k->conf[3] = (od_conf_def_t){
        .name = "controller.quorum.bootstrap.servers", .type = OD_CONF_LIST, .dflt = "",
        .doc = "host:port of controllers to discover a dynamic quorum from (KIP-853; not "
               "implemented: set controller.quorum.voters)",
        .target = &k->cfg_bootstrap};
    static const struct {
        const char *name, *dflt, *doc;
    } ms[] = {
        {"controller.quorum.election.timeout.ms", "1000",
         "a voter that knows no leader waits this long (plus up to as much at random) before "
         "it asks for (pre-)votes"},
        {"controller.quorum.fetch.timeout.ms", "2000",
         "a follower that hears nothing from its leader this long starts an election; a leader "
         "that a majority has not fetched from for 1.5 times this long resigns"},
        {"controller.quorum.election.backoff.max.ms", "1000",
         "longest random wait after a lost or split election before the next one"},
        {"controller.quorum.request.timeout.ms", "2000",
         "a quorum request (Vote, BeginQuorumEpoch, Fetch) unanswered this long fails and its "
         "connection is closed"},
        {"controller.quorum.retry.backoff.ms", "20",
         "wait before reconnecting to a voter or retrying a failed Fetch"},
    };
    int64_t *ms_targets[] = {&k->cfg_election_timeout_ms, &k->cfg_fetch_timeout_ms,
                             &k->cfg_election_backoff_ms, &k->cfg_request_timeout_ms,
                             &k->cfg_retry_backoff_ms};
    for (size_t i = 0; i < 5; i++) {
        k->conf[4 + i] = (od_conf_def_t){.name = ms[i].name, .type = OD_CONF_INT,
                                         .dflt = ms[i].dflt, .min = i == 4 ? 0 : 1,
                                         .max = INT32_MAX, .doc = ms[i].doc,
                                         .target = ms_targets[i]};
        *ms_targets[i] = atoll(ms[i].dflt);
    }
    k->cfg_segment_bytes = 1073741824;
    k->conf[9] = (od_conf_def_t){
        .name = "metadata.log.max.record.bytes.between.snapshots", .type = OD_CONF_INT,
        .dflt = "20971520", .min = 1, .max = INT64_MAX,
        .doc = "a snapshot of the metadata image is written once this many bytes of records "
               "were committed since the last one",
        .target = &k->cfg_snap_bytes, .flags = OD_CONF_F_SIZE};
    k->conf[10] = (od_conf_def_t){
        .name = "metadata.log.max.snapshot.interval.ms", .type = OD_CONF_INT,
        .dflt = "3600000", .min = 0, .max = INT64_MAX,
        .doc = "a snapshot is also written at the first commit this long after the last one "
               "(0: only by size)",
        .target = &k->cfg_snap_interval_ms};
    k->cfg_snap_bytes = 20971520;
    k->cfg_snap_interval_ms = 3600000;
    od_module_set_data(ctx, k);
    if (od_register_config(ctx, k->conf, sizeof k->conf / sizeof k->conf[0]) < 0 ||
        od_register_controlplane(ctx, &kraft_ops, k) < 0) {
        snprintf(err, errsz, "cannot register the kraft control plane");
        od_module_set_data(ctx, NULL);
        free(k);
        return -1;
    }
    return 0;
}

static void kraft_fini(od_module_ctx_t *ctx)
{
    kraft_t *k = od_module_get_data(ctx);
    if (k && k->log_open)
        kraft_stop(k);
    free(k);
}

const od_module_t od_module = {
    .abi_major = OD_ABI_MAJOR,
    .abi_minor = OD_ABI_MINOR,
    .name = "kraft",
    .version = "0.1.0",
    .kinds = OD_KIND_CONTROLPLANE,
    .init = kraft_init,
    .fini = kraft_fini,
};
