/* od_epochs.c - the leader epoch cache of a partition log: the first
 * offset of every leader epoch that wrote to it, as Kafka's
 * leader-epoch-checkpoint file ("0", the count, then "epoch start" lines),
 * kept with the log through the storage backend's put_state. A log without
 * one (written before replication existed, or its state lost) has its
 * batch headers scanned once at open. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "od_batch.h"
#include "od_core.h"
#include "od_module.h"
#include "od_repl_int.h"

#define STATE_NAME "leader-epoch-checkpoint"
#define MAX_ENTRIES 100000 /* a checkpoint claiming more is not ours */

static int push(od_replica_t *rs, int32_t epoch, int64_t start)
{
    if (rs->nepochs == rs->epochs_cap) {
        size_t cap = rs->epochs_cap ? rs->epochs_cap * 2 : 8;
        od_epoch_entry_t *e = realloc(rs->epochs, cap * sizeof(*e));
        if (!e)
            return -1;
        rs->epochs = e;
        rs->epochs_cap = cap;
    }
    rs->epochs[rs->nepochs].epoch = epoch;
    rs->epochs[rs->nepochs].start = start;
    rs->nepochs++;
    return 0;
}

static void persist(od_core_t *core, od_partition_t *p, od_replica_t *rs)
{
    if (!p->log || !OD_OPS_HAS(core->storage, put_state))
        return;
    size_t cap = 32 + rs->nepochs * 40, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return;
    len += (size_t)snprintf(buf + len, cap - len, "0\n%zu\n", rs->nepochs);
    for (size_t i = 0; i < rs->nepochs; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%" PRId32 " %" PRId64 "\n",
                                rs->epochs[i].epoch, rs->epochs[i].start);
    char why[256];
    if (core->storage->put_state(p->log, STATE_NAME, buf, len, why, sizeof(why)) < 0)
        od_logf(OD_LOG_WARN, "%s-%d: saving the leader epoch cache: %s", p->topic->name, p->index,
                why);
    free(buf);
}

/* Parse a checkpoint; 0, or -1 when it is not a well-formed ascending one. */
static int parse(od_replica_t *rs, const char *text, size_t len)
{
    char *copy = strndup(text, len), *save = NULL;
    if (!copy)
        return -1;
    char *line = strtok_r(copy, "\n", &save);
    int rc = -1;
    if (!line || strcmp(line, "0") != 0)
        goto out;
    line = strtok_r(NULL, "\n", &save);
    char *end;
    long long n = line ? strtoll(line, &end, 10) : -1;
    if (!line || *end || n < 0 || n > MAX_ENTRIES)
        goto out;
    for (long long i = 0; i < n; i++) {
        long long e, s;
        char extra;
        line = strtok_r(NULL, "\n", &save);
        if (!line || sscanf(line, "%lld %lld%c", &e, &s, &extra) != 2 || e < 0 || e > INT32_MAX ||
            s < 0)
            goto out;
        if (rs->nepochs && (e <= rs->epochs[rs->nepochs - 1].epoch ||
                            s < rs->epochs[rs->nepochs - 1].start))
            goto out;
        if (push(rs, (int32_t)e, s) < 0)
            goto out;
    }
    rc = strtok_r(NULL, "\n", &save) ? -1 : 0;
out:
    free(copy);
    if (rc < 0)
        rs->nepochs = 0;
    return rc;
}

/* Walk every batch header of the log from its start (no checkpoint). */
static void scan(od_core_t *core, od_partition_t *p, od_replica_t *rs)
{
    int64_t off = core->storage->start_offset(p->log), end = core->storage->end_offset(p->log);
    while (off < end) {
        od_log_read_t rd;
        char why[256];
        int64_t next = off;
        if (core->storage->read(p->log, off, 1u << 20, &rd, why, sizeof(why)) < 0 || !rd.nranges) {
            od_logf(OD_LOG_WARN, "%s-%d: scanning leader epochs at %" PRId64 ": %s", p->topic->name,
                    p->index, off, rd.nranges ? why : "no data");
            break;
        }
        for (size_t i = 0; i < rd.nranges; i++) {
            const od_log_range_t *g = &rd.ranges[i];
            for (size_t pos = 0; pos + 61 <= g->len;) {
                uint8_t hb[61];
                const uint8_t *h = hb;
                if (g->is_file) {
                    if (pread(g->fd, hb, sizeof(hb), g->file_off + (off_t)pos) != (ssize_t)sizeof(hb))
                        break;
                } else {
                    h = g->mem + pos;
                }
                od_batch_hdr_t bh;
                if (od_batch_parse_header(h, 61, &bh) < 0 || bh.batch_length < 49)
                    break;
                if (!rs->nepochs || bh.partition_leader_epoch > rs->epochs[rs->nepochs - 1].epoch)
                    if (bh.partition_leader_epoch >= 0)
                        push(rs, bh.partition_leader_epoch, bh.base_offset);
                next = bh.base_offset + bh.last_offset_delta + 1;
                pos += 12 + (size_t)bh.batch_length;
            }
        }
        for (size_t i = 0; i < rd.nranges; i++)
            if (rd.ranges[i].release)
                rd.ranges[i].release(rd.ranges[i].opaque);
        if (next <= off)
            break; /* no progress: a header we cannot read */
        off = next;
    }
}

void od_epochs_load(od_core_t *core, od_partition_t *p)
{
    od_replica_t *rs = od_replica_of(core, p);
    if (!rs || !p->log)
        return;
    rs->nepochs = 0;
    void *data = NULL;
    size_t len = 0;
    char why[256];
    int rc = OD_OPS_HAS(core->storage, get_state)
                 ? core->storage->get_state(p->log, STATE_NAME, &data, &len, why, sizeof(why))
                 : 0;
    if (rc == 1 && parse(rs, data, len) == 0) {
        free(data);
        od_epochs_truncated(core, p, core->storage->end_offset(p->log)); /* a crash after a cut */
        return;
    }
    free(data);
    if (rc == 1)
        od_logf(OD_LOG_WARN, "%s-%d: leader epoch cache unreadable; rebuilding from the log",
                p->topic->name, p->index);
    scan(core, p, rs);
    if (rs->nepochs)
        persist(core, p, rs);
}

void od_epochs_assign(od_core_t *core, od_partition_t *p, int32_t epoch, int64_t start)
{
    od_replica_t *rs = od_replica_of(core, p);
    if (!rs || epoch < 0 || (rs->nepochs && epoch <= rs->epochs[rs->nepochs - 1].epoch))
        return;
    if (rs->nepochs && start < rs->epochs[rs->nepochs - 1].start)
        return; /* never goes backwards: a newer epoch starts at or after the last */
    if (push(rs, epoch, start) == 0)
        persist(core, p, rs);
}

void od_epochs_truncated(od_core_t *core, od_partition_t *p, int64_t end)
{
    od_replica_t *rs = od_replica_of(core, p);
    if (!rs)
        return;
    size_t n = rs->nepochs;
    while (n > 0 && rs->epochs[n - 1].start >= end)
        n--;
    if (n != rs->nepochs) {
        rs->nepochs = n;
        persist(core, p, rs);
    }
}

int32_t od_epochs_latest(const od_partition_t *p)
{
    const od_replica_t *rs = p->repl;
    return rs && rs->nepochs ? rs->epochs[rs->nepochs - 1].epoch : -1;
}

/* Kafka's LeaderEpochFileCache.endOffsetFor. */
void od_epochs_end_offset(od_core_t *core, od_partition_t *p, int32_t epoch, int32_t *epoch_out,
                          int64_t *end_out)
{
    od_replica_t *rs = od_replica_of(core, p);
    *epoch_out = -1;
    *end_out = -1;
    if (!rs || epoch < 0 || !p->log)
        return;
    if (rs->nepochs && rs->epochs[rs->nepochs - 1].epoch == epoch) {
        *epoch_out = epoch;
        *end_out = core->storage->end_offset(p->log);
        return;
    }
    size_t hi = 0; /* first entry with a larger epoch */
    while (hi < rs->nepochs && rs->epochs[hi].epoch <= epoch)
        hi++;
    if (hi == rs->nepochs)
        return; /* newer than anything here (or no entries): unknown */
    *epoch_out = hi > 0 ? rs->epochs[hi - 1].epoch : epoch;
    *end_out = rs->epochs[hi].start;
}
