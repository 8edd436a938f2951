/* test_kraft_repl.c - the metadata log's replication side
 * (kraft_log_repl.c): a leader's batches copied out raw and appended by a
 * follower give the same log; reads start only at batch boundaries; bad
 * batches are refused whole; truncation inside and across segments, and
 * appends after it, survive a reopen. */
#include "../../modules/kraft/kraft.h"
#include "tap.h"

#include <ftw.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void od_logf(int level, const char *fmt, ...)
{
    (void)level, (void)fmt;
}

static int append(kraft_log_t *log, int32_t epoch, const char *v, size_t n)
{
    od_meta_record_t recs[8];
    char err[256];
    int64_t base;
    for (size_t i = 0; i < n; i++) {
        recs[i].data = (const uint8_t *)v;
        recs[i].len = strlen(v);
    }
    return kraft_log_append(log, epoch, 0, NULL, recs, n, 1700000000000, &base, err, sizeof err);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

int main(void)
{
    char root[256], a[300], b[300], err[512];
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(root, sizeof root, "%s/test_kraft_repl.XXXXXX", tmp);
    if (!mkdtemp(root))
        return 1;
    snprintf(a, sizeof a, "%s/leader", root);
    snprintf(b, sizeof b, "%s/follower", root);
    kraft_log_t L, F;
    tap_ok(kraft_log_open(&L, a, 1024, err, sizeof err) == 0 &&
               kraft_log_open(&F, b, 1024, err, sizeof err) == 0, "open two logs");
    for (int i = 0; i < 30; i++) /* small segments: several rolls */
        append(&L, i < 10 ? 1 : i < 20 ? 2 : 3, "a-metadata-record-of-some-length", 3);
    tap_ok(L.end_offset == 90 && L.nsegs > 3, "leader: 90 records in %zu segments", L.nsegs);

    uint8_t *data;
    size_t len;
    int64_t at = 0;
    int rounds = 0, ok = 1;
    while (at < L.end_offset && rounds++ < 100) {
        if (kraft_log_read_raw(&L, at, 300, &data, &len, err, sizeof err) < 0 || len == 0) {
            ok = 0;
            break;
        }
        ok &= kraft_log_append_raw(&F, data, len, err, sizeof err) > 0;
        free(data);
        at = F.end_offset;
    }
    tap_ok(ok && F.end_offset == 90 && F.synced_end == 90,
           "follower: copied in %d raw reads of ~300 bytes, 90 records, durable", rounds);
    int32_t fe;
    tap_ok(kraft_log_last_epoch(&F) == 3 && kraft_log_end_offset_for_epoch(&F, 1, &fe) == 30 &&
               fe == 1 && kraft_log_end_offset_for_epoch(&F, 2, &fe) == 60,
           "follower: the same epochs (1 ends at 30, 2 at 60)");
    tap_ok(kraft_log_read_raw(&L, 90, 300, &data, &len, err, sizeof err) == 0 && len == 0,
           "a read at the log end is empty");
    tap_ok(kraft_log_read_raw(&L, 1, 300, &data, &len, err, sizeof err) == -2,
           "a read inside a batch is refused");
    tap_ok(kraft_log_read_raw(&L, 91, 300, &data, &len, err, sizeof err) == -2,
           "a read past the end is refused");

    /* Bad input for append_raw: a wrong base offset, a flipped CRC byte. */
    tap_ok(kraft_log_read_raw(&L, 0, 1, &data, &len, err, sizeof err) == 0 && len > 61,
           "one batch read");
    tap_ok(kraft_log_append_raw(&F, data, len, err, sizeof err) == -2 && F.end_offset == 90,
           "a batch at the wrong offset is refused, nothing appended");
    free(data);
    append(&L, 3, "x", 1);
    kraft_log_read_raw(&L, 90, 1000, &data, &len, err, sizeof err);
    data[len - 1] ^= 0x40;
    tap_ok(kraft_log_append_raw(&F, data, len, err, sizeof err) == -2 && strstr(err, "CRC"),
           "a corrupt batch is refused (%s)", err);
    data[len - 1] ^= 0x40;
    tap_ok(kraft_log_append_raw(&F, data, len - 5, err, sizeof err) == 0 && F.end_offset == 90,
           "a partial batch is left for the next fetch");
    tap_ok(kraft_log_append_raw(&F, data, len, err, sizeof err) == 1 && F.end_offset == 91,
           "the whole batch is appended");
    free(data);

    /* Truncation: inside a segment, then across segments to a boundary. */
    tap_ok(kraft_log_truncate(&F, 75, err, sizeof err) == 0 && F.end_offset == 75 &&
               kraft_log_last_epoch(&F) == 3, "truncate to 75 (inside epoch 3)");
    tap_ok(kraft_log_truncate(&F, 30, err, sizeof err) == 0 && F.end_offset == 30 &&
               kraft_log_last_epoch(&F) == 1, "truncate to 30: epochs 2 and 3 are gone");
    tap_ok(kraft_log_truncate(&F, 31, err, sizeof err) == 0 && F.end_offset == 30,
           "truncating above the end changes nothing");
    tap_ok(append(&F, 4, "after", 2) == 0 && F.end_offset == 32, "appends go on at 30");
    size_t nsegs = F.nsegs;
    kraft_log_close(&F);
    tap_ok(kraft_log_open(&F, b, 1024, err, sizeof err) == 0 && F.end_offset == 32 &&
               F.nsegs == nsegs && kraft_log_last_epoch(&F) == 4,
           "reopened: 32 records, %zu segments, last epoch 4", nsegs);
    tap_ok(kraft_log_truncate(&F, 0, err, sizeof err) == 0 && F.end_offset == 0 && F.nsegs == 1,
           "truncate to 0: one empty segment");
    kraft_log_close(&F);
    kraft_log_close(&L);
    nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return tap_done();
}
