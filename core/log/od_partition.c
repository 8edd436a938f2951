/* od_partition.c - one partition's log through the storage backend. */
#include "od_partition.h"

#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "od_core.h"
#include "od_handlers.h"
#include "od_metadata.h"
#include "od_module.h"
#include "od_proto_gen.h"
#include "od_producer.h"
#include "od_repl.h"
#include "od_topic_config.h"

static int is_local_replica(od_core_t *core, const od_partition_t *p)
{
    for (int32_t i = 0; i < p->nreplicas; i++)
        if (p->replicas[i] == (int32_t)core->conf.node_id)
            return 1;
    return 0;
}

/* The control plane's own directories (its metadata log) are never a
 * partition log, whatever a topic is called. */
static const char *owned_by_control_plane(const od_core_t *core, const char *dir)
{
    const od_controlplane_ops_t *cp = core->cp;
    if (!cp || cp->struct_size < offsetof(od_controlplane_ops_t, owned_dirs) + sizeof(cp->owned_dirs) ||
        !cp->owned_dirs)
        return NULL;
    for (const char *const *d = cp->owned_dirs; *d; d++)
        if (strcmp(*d, dir) == 0)
            return cp->name;
    return NULL;
}

/* File descriptors a partition log may not take: the listeners, client
 * connections, the metadata log and the groups' state need them, also at
 * the next start, where every log is opened before the listeners. */
#define OD_FD_RESERVE 64

/* Returns 0 when at least OD_FD_RESERVE descriptors stay free after the
 * lowest free one (descriptors are handed out lowest first, so everything
 * below it is in use); otherwise -1 with the figures in err. */
static int fd_headroom(char *err, size_t errsz)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
        return 0;
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0)
        close(fd);
    if (fd >= 0 && (rlim_t)fd + OD_FD_RESERVE <= rl.rlim_cur)
        return 0;
    snprintf(err, errsz, "too few file descriptors left (lowest free %d, RLIMIT_NOFILE %llu, %d "
             "kept for connections): raise ulimit -n or lower max.broker.partitions",
             fd, (unsigned long long)rl.rlim_cur, OD_FD_RESERVE);
    return -1;
}

/* A replicated partition's high watermark as of its last clean close
 * (committed then, so still committed), else its log start; never past
 * the log end. Without it a restarted leader would hide its committed
 * records until its followers have fetched again. */
#define HW_STATE "high-watermark"
static int64_t load_high_watermark(od_core_t *core, od_partition_t *p)
{
    int64_t start = core->storage->start_offset(p->log), end = core->storage->end_offset(p->log);
    void *data = NULL;
    size_t len = 0;
    char why[256];
    if (!OD_OPS_HAS(core->storage, get_state) ||
        core->storage->get_state(p->log, HW_STATE, &data, &len, why, sizeof(why)) != 1)
        return start;
    char buf[32];
    snprintf(buf, sizeof(buf), "%.*s", (int)(len < sizeof(buf) - 1 ? len : sizeof(buf) - 1),
             (const char *)data);
    free(data);
    char *e;
    long long v = strtoll(buf, &e, 10);
    if (e == buf || v < start)
        return start;
    return v > end ? end : v;
}

static void save_high_watermark(od_core_t *core, od_partition_t *p)
{
    if (p->nreplicas <= 1 || !OD_OPS_HAS(core->storage, put_state))
        return;
    char buf[32], why[256];
    int n = snprintf(buf, sizeof(buf), "%lld\n", (long long)p->high_watermark);
    if (core->storage->put_state(p->log, HW_STATE, buf, (size_t)n, why, sizeof(why)) < 0)
        od_logf(OD_LOG_WARN, "%s-%d: saving the high watermark: %s", p->topic->name, p->index, why);
}

int od_partition_open_log(od_core_t *core, od_partition_t *p, char *err, size_t errsz)
{
    if (p->log || !is_local_replica(core, p))
        return 0;
    p->offline = 1; /* until the open below succeeds */
    char dir[600];
    snprintf(dir, sizeof(dir), "%s-%d", p->topic->name, p->index);
    const char *owner = owned_by_control_plane(core, dir);
    if (owner) {
        snprintf(err, errsz, "directory %s belongs to the %s control plane, not to a partition log",
                 dir, owner);
        return -1;
    }
    if (!core->storage) {
        snprintf(err, errsz, "no storage backend");
        return -1;
    }
    if (fd_headroom(err, errsz) < 0)
        return -1;
    od_log_config_t lc;
    od_topic_log_config(core, p->topic, &lc);
    char why[512];
    if (core->storage->open(core->storage_self, dir, &lc, &p->log, why, sizeof(why)) < 0) {
        snprintf(err, errsz, "opening log %s: %s", dir, why);
        p->log = NULL;
        return -1;
    }
    p->offline = 0;
    /* A lone replica is the whole ISR: everything in its log is committed.
     * A replicated one learns its high watermark again (a leader from its
     * followers' fetches, a follower from its leader); until then only
     * its log start is known to be committed. */
    p->high_watermark = p->nreplicas <= 1 ? core->storage->end_offset(p->log)
                                          : load_high_watermark(core, p);
    od_repl_log_opened(core, p);
    return 0;
}

void od_partition_close_log(od_core_t *core, od_partition_t *p)
{
    if (!p->log)
        return;
    od_producer_partition_closing(core, p, 0);
    save_high_watermark(core, p);
    core->storage->close(p->log);
    p->log = NULL;
}

int od_partition_delete_log(od_core_t *core, od_partition_t *p, char *err, size_t errsz)
{
    if (!p->log)
        return 0;
    od_producer_partition_closing(core, p, 1);
    int rc = core->storage->remove(p->log, err, errsz);
    p->log = NULL;
    return rc;
}

int od_partition_append(od_core_t *core, od_partition_t *p, const uint8_t *data, size_t len,
                        const od_append_info_t *info, char *err, size_t errsz)
{
    if (!p->log) {
        snprintf(err, errsz, "no local log");
        return -1;
    }
    if (core->storage->append(p->log, data, len, info, err, errsz) < 0)
        return -1;
    od_repl_appended(core, p, data, len);
    if (p->nisr <= 1) {
        p->high_watermark = info->last_offset + 1;
        od_acks_hw_moved(core, p);
    } else {
        od_replica_hw_after_append(core, p);
    }
    od_fetch_wake(core, p);
    return 0;
}

int64_t od_partition_log_start(od_core_t *core, od_partition_t *p)
{
    return p->log ? core->storage->start_offset(p->log) : 0;
}

int64_t od_partition_log_end(od_core_t *core, od_partition_t *p)
{
    return p->log ? core->storage->end_offset(p->log) : 0;
}

void od_partition_reconfigure(od_core_t *core, od_partition_t *p)
{
    if (!p->log || !core->storage->reconfigure)
        return;
    od_log_config_t lc;
    od_topic_log_config(core, p->topic, &lc);
    core->storage->reconfigure(p->log, &lc);
}

od_partition_t *od_partition_led_here(od_core_t *core, const od_topic_t *t, int32_t index,
                                      int16_t *err)
{
    if (!t || index < 0 || index >= t->npartitions) {
        *err = OD_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        return NULL;
    }
    od_partition_t *p = t->partitions[index];
    if (p->leader != (int32_t)core->conf.node_id || !p->log) {
        *err = p->offline && p->leader == (int32_t)core->conf.node_id ? OD_ERR_KAFKA_STORAGE_ERROR
                                                                       : OD_ERR_NOT_LEADER_OR_FOLLOWER;
        return NULL;
    }
    *err = OD_ERR_NONE;
    return p;
}

int16_t od_partition_check_epoch(const od_partition_t *p, int32_t current_leader_epoch)
{
    if (current_leader_epoch < 0 || current_leader_epoch == p->leader_epoch)
        return OD_ERR_NONE;
    return current_leader_epoch > p->leader_epoch ? OD_ERR_UNKNOWN_LEADER_EPOCH
                                                   : OD_ERR_FENCED_LEADER_EPOCH;
}
