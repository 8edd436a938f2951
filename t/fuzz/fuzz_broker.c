/* fuzz_broker.c - libFuzzer target for the whole request path.
 *
 * One broker core (memory storage, KRaft metadata log in a temp dir, both
 * modules linked in through od_modules_set_static) lives across inputs, so
 * topics, groups, offsets and producer state made by one input are there
 * for the next; it is shut down and started afresh every RESET_EVERY inputs
 * so memory stays bounded (and leaks show up as unreachable blocks).
 *
 * An input is a sequence of records:
 *   [op][arg][len lo][len hi][body: len bytes]   op < 0x80: one request
 *   [op][arg]                                    op >= 0x80: a control step
 * A request record's op picks an API of the dispatch table ((op & 0x3f) mod
 * its size) and arg a version (mod its range); the harness writes the
 * request header (client id "fuzz") and frames it, and the frame goes
 * through a socketpair into the broker's connection code like a client's
 * bytes. The RecordBatches of a Produce get their CRC-32C recomputed unless
 * op has bit 0x40 (so both mutated records and bad CRCs are reached). In the body,
 * the string "@M" (classic or compact encoding) is replaced by the member id
 * of the last JoinGroup answer and the int32 0x7f47454e ("\x7fGEN") by its
 * generation, so SyncGroup, Heartbeat, OffsetCommit and LeaveGroup can be
 * those of a real member.
 * Control steps: 0 advance the clock by arg*arg*2 ms (timers fire: fetch
 * waits, rebalance delays, session expiry, ticks), 1 close the current
 * connection, 2 switch to the other connection slot, 3 run the loop.
 * The clock is the broker's own (clock_gettime is wrapped while the broker
 * runs), and randombytes_buf is deterministic, so a run depends on the
 * inputs only.
 *
 * Built by scripts/fuzz.sh. With ODFUZZ_SEEDGEN=DIR in the environment the
 * program writes a seed corpus into DIR and exits. ODFUZZ_RESET_EVERY=1 starts a fresh core for every input (to replay a
 * crash alone); ODFUZZ_LOG=1 keeps the broker's error log. */
#define OD_PROTO_TESTING 1
#include <dlfcn.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "od_conn.h"
#include "od_core.h"
#include "od_crc32c.h"
#include "od_dispatch.h"
#include "od_module.h"
#include "od_proto_gen.h"

#define RESET_EVERY_DEFAULT 200
#define NSLOTS 2
#define PUMP_ROUNDS 64

/* ---- broker clock and randomness ---------------------------------------- */

static __thread int in_broker; /* libFuzzer's own clock reads stay real */
static int64_t skew_ms;

/* The broker's monotonic clock is skewed, and its wall clock as read by
 * od_now_ms; libFuzzer's own (wall clock) timing, read from a SIGALRM
 * handler that may interrupt the broker, must stay real. */
static int from_od_now_ms(const void *ret)
{
    uintptr_t f = (uintptr_t)&od_now_ms, r = (uintptr_t)ret;
    return r > f && r - f < 512;
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
    long rc = syscall(SYS_clock_gettime, id, ts);
    if (rc == 0 && in_broker && skew_ms > 0 &&
        (id == CLOCK_MONOTONIC || from_od_now_ms(__builtin_return_address(0)))) {
        ts->tv_sec += skew_ms / 1000;
        ts->tv_nsec += (skew_ms % 1000) * 1000000;
        if (ts->tv_nsec >= 1000000000) {
            ts->tv_nsec -= 1000000000;
            ts->tv_sec++;
        }
    }
    return rc == 0 ? 0 : -1;
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;

void randombytes_buf(void *const buf, const size_t size);
void randombytes_buf(void *const buf, const size_t size)
{
    uint8_t *p = buf;
    for (size_t i = 0; i < size; i++) {
        rnd_state ^= rnd_state << 13;
        rnd_state ^= rnd_state >> 7;
        rnd_state ^= rnd_state << 17;
        p[i] = (uint8_t)(rnd_state >> 24);
    }
}

/* ---- the core ------------------------------------------------------------ */

extern const od_module_t od_module_memory, od_module_kraft;
static const od_module_t *const static_mods[] = {&od_module_memory, &od_module_kraft};

static od_core_t *core;
static char data_dir[256];
static unsigned long inputs;
static unsigned long reset_every = RESET_EVERY_DEFAULT;

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

static void core_down(void)
{
    if (!core)
        return;
    in_broker = 1;
    od_core_shutdown(core);
    od_core_free(core);
    in_broker = 0;
    core = NULL;
    nftw(data_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The core leaves its signalfd open at shutdown (od_core_start makes it,
 * nothing closes it); a reset must not leak one per core. Only signalfds
 * are closed: libFuzzer and the sanitizers have descriptors of their own. */
static void close_stray_signalfds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[64], link[64];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(path, link, sizeof link - 1);
        if (n > 0) {
            link[n] = 0;
            if (strcmp(link, "anon_inode:[signalfd]") == 0)
                close(atoi(e->d_name));
        }
    }
    if (d)
        closedir(d);
}

static void core_up(void)
{
    char err[1024] = "", dirset[300];
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(data_dir, sizeof data_dir, "%s/odfuzz.XXXXXX", base);
    if (!mkdtemp(data_dir)) {
        perror("mkdtemp");
        abort();
    }
    snprintf(dirset, sizeof dirset, "log.dirs=%s", data_dir);
    char *sets[] = {"load_module=storage_memory",
                    "load_module=kraft",
                    "log.storage.backend=memory",
                    "listeners=PLAINTEXT://127.0.0.1:0",
                    "advertised.listeners=PLAINTEXT://127.0.0.1:9092",
                    "offsets.topic.num.partitions=3",
                    "offsets.topic.replication.factor=1",
                    "log.level=error",
                    dirset};
    rnd_state = 0x9e3779b97f4a7c15ull;
    skew_ms = 0;
    in_broker = 1;
    od_modules_set_static(static_mods, sizeof static_mods / sizeof static_mods[0]);
    core = od_core_new();
    if (!core || od_core_start(core, NULL, sets, sizeof sets / sizeof sets[0], err,
                               sizeof err) < 0) {
        fprintf(stderr, "fuzz_broker: cannot start the core: %s\n", err);
        abort();
    }
    if (!getenv("ODFUZZ_LOG"))
        od_logging_set_level(-1);
    in_broker = 0;
}

/* ---- connections: our end of a socketpair per slot ---------------------- */

typedef struct {
    int fd;          /* our end, -1 if none */
    uint64_t id;     /* the broker's od_conn id */
    uint8_t rx[1 << 16];
    size_t rxlen;
    int32_t corr;
    struct {
        int32_t corr;
        int16_t key, ver;
    } sent[64]; /* requests in flight, to parse JoinGroup answers */
    size_t nsent;
} slot_t;

static slot_t slots[NSLOTS];
static char member_id[256];
static int32_t member_len = -1;
static int32_t generation = -1;

static od_conn_t *find_conn(uint64_t id)
{
    for (od_conn_t *c = core->conns; c; c = c->next)
        if (c->id == id)
            return c;
    return NULL;
}

static int slot_open(slot_t *s)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    od_conn_t *c = od_conn_new(core, sv[0], "fuzz", "", core->listeners);
    if (!c) {
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    s->fd = sv[1];
    s->id = c->id;
    s->rxlen = 0;
    s->nsent = 0;
    return 0;
}

static void slot_close(slot_t *s)
{
    if (s->fd < 0)
        return;
    close(s->fd); /* the broker sees EOF and closes its end */
    s->fd = -1;
}

/* A JoinGroup answer tells which member id and generation to put in for
 * the placeholders. */
static void on_response(slot_t *s, const uint8_t *p, size_t n)
{
    if (n < 4)
        return;
    int32_t corr = (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
    for (size_t i = 0; i < s->nsent; i++) {
        if (s->sent[i].corr != corr)
            continue;
        int16_t key = s->sent[i].key, ver = s->sent[i].ver;
        memmove(&s->sent[i], &s->sent[i + 1], (s->nsent - i - 1) * sizeof(s->sent[0]));
        s->nsent--;
        if (key != OD_API_JOIN_GROUP)
            return;
        od_slice_t sl;
        od_slice_init(&sl, p + 4, n - 4);
        if (od_proto_response_header_version(key, ver) == 1) {
            uint32_t ntags = od_read_uvarint(&sl);
            if (!od_slice_ok(&sl) || ntags != 0)
                return;
        }
        od_arena_t a;
        od_JoinGroupResponse_t r;
        od_arena_init(&a, 1u << 20);
        if (od_JoinGroupResponse_decode(&sl, ver, &a, &r) == 0 && r.member_id.len > 0 &&
            (size_t)r.member_id.len < sizeof member_id) {
            memcpy(member_id, r.member_id.p, (size_t)r.member_id.len);
            member_len = r.member_id.len;
            if (r.error_code == 0)
                generation = r.generation_id;
        }
        od_arena_free(&a);
        return;
    }
}

static void slot_drain(slot_t *s)
{
    while (s->fd >= 0) {
        if (s->rxlen == sizeof s->rx) {
            s->rxlen = 0; /* a big fetch answer: we only parse small ones */
        }
        ssize_t r = read(s->fd, s->rx + s->rxlen, sizeof s->rx - s->rxlen);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
            slot_close(s);
            return;
        }
        if (r < 0)
            return;
        s->rxlen += (size_t)r;
        size_t pos = 0;
        while (s->rxlen - pos >= 4) {
            uint32_t len = (uint32_t)s->rx[pos] << 24 | (uint32_t)s->rx[pos + 1] << 16 |
                           (uint32_t)s->rx[pos + 2] << 8 | s->rx[pos + 3];
            if (len > sizeof s->rx - 4) {
                /* Larger than we keep: skip it by forgetting the stream
                 * position (answers after it are not parsed). */
                pos = s->rxlen;
                s->nsent = 0;
                break;
            }
            if (s->rxlen - pos - 4 < len)
                break;
            on_response(s, s->rx + pos + 4, len);
            pos += 4 + len;
        }
        memmove(s->rx, s->rx + pos, s->rxlen - pos);
        s->rxlen -= pos;
    }
}

/* ---- running the loop ---------------------------------------------------- */

static void stop_loop(void *arg) { od_loop_stop(arg); }

static void run_loop_once(void)
{
    if (od_loop_timer(core->loop, 0, stop_loop, core->loop) > 0)
        od_loop_run(core->loop);
}

static void drain_all(void)
{
    for (int i = 0; i < NSLOTS; i++)
        slot_drain(&slots[i]);
}

/* Write a frame into the slot's socket and let the broker read, answer and
 * run what became due; bounded, a paused connection may never read it all. */
static void send_frame(slot_t *s, const uint8_t *p, size_t n)
{
    size_t off = 0;
    for (int round = 0; round < PUMP_ROUNDS && s->fd >= 0; round++) {
        if (off < n) {
            ssize_t w = write(s->fd, p + off, n - off);
            if (w > 0)
                off += (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EINTR)
                slot_close(s);
        }
        run_loop_once();
        drain_all();
        if (off == n)
            break;
    }
    run_loop_once();
    drain_all();
}

/* ---- building requests --------------------------------------------------- */

static size_t napis(void)
{
    size_t n = 0;
    while (od_dispatch_api_at(n))
        n++;
    return n;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Body with placeholders replaced, written after the header into w. */
static void put_body(od_wbuf_t *w, const uint8_t *b, size_t n)
{
    size_t i = 0, from = 0;
    while (i < n) {
        int classic = i + 4 <= n && b[i] == 0 && b[i + 1] == 2 && b[i + 2] == '@' && b[i + 3] == 'M';
        int compact = !classic && i + 3 <= n && b[i] == 3 && b[i + 1] == '@' && b[i + 2] == 'M';
        int gen = !classic && !compact && i + 4 <= n && memcmp(b + i, "\x7fGEN", 4) == 0;
        if ((classic || compact) && member_len > 0) {
            od_write_raw(w, b + from, i - from);
            if (classic)
                od_write_str(w, (od_str_t){member_id, member_len});
            else {
                od_write_uvarint(w, (uint32_t)member_len + 1);
                od_write_raw(w, member_id, (size_t)member_len);
            }
            i += classic ? 4 : 3;
            from = i;
        } else if (gen && generation >= 0) {
            od_write_raw(w, b + from, i - from);
            od_write_i32(w, generation);
            i += 4;
            from = i;
        } else
            i++;
    }
    od_write_raw(w, b + from, n - from);
}

/* Give every RecordBatch v2 of a Produce request its right CRC-32C, so
 * mutated records get past the CRC check to the record walk, compression
 * and the log. frame is ours; the decoded records point into it. */
static void fix_crcs(uint8_t *frame, size_t len, size_t body_off, int16_t ver)
{
    od_slice_t sl;
    od_arena_t a;
    od_slice_init(&sl, frame + body_off, len - body_off);
    od_arena_init(&a, 1u << 24);
    od_ProduceRequest_t *m = od_proto_decode_request(OD_API_PRODUCE, ver, &sl, &a);
    for (int32_t t = 0; m && t < m->topic_data_count; t++)
        for (int32_t i = 0; i < m->topic_data[t].partition_data_count; i++) {
            const od_records_t *rec = &m->topic_data[t].partition_data[i].records;
            if (!rec->p || rec->len <= 0 || rec->p < frame || rec->p + rec->len > frame + len)
                continue;
            uint8_t *p = frame + (rec->p - frame);
            size_t n = (size_t)rec->len, pos = 0;
            while (pos + 61 <= n) {
                uint32_t blen = (uint32_t)p[pos + 8] << 24 | (uint32_t)p[pos + 9] << 16 |
                                (uint32_t)p[pos + 10] << 8 | p[pos + 11];
                if (blen < 49 || blen > n - pos - 12)
                    break;
                if (p[pos + 16] == 2)
                    put_be32(p + pos + 17, od_crc32c(0, p + pos + 21, 12 + blen - 21));
                pos += 12 + blen;
            }
        }
    od_arena_free(&a);
}

static void send_request(slot_t *s, uint8_t op, uint8_t arg, const uint8_t *body, size_t n)
{
    const od_api_entry_t *api = od_dispatch_api_at((op & 0x3f) % napis());
    int16_t ver = (int16_t)(api->min_ver + arg % (api->max_ver - api->min_ver + 1));
    if (s->fd < 0 && slot_open(s) < 0)
        return;
    od_wbuf_t w;
    od_wbuf_init(&w);
    size_t lenpos = od_wbuf_reserve(&w, 4);
    od_write_i16(&w, api->key);
    od_write_i16(&w, ver);
    od_write_i32(&w, ++s->corr);
    od_write_str(&w, od_str_c("fuzz"));
    if (od_proto_request_flexible(api->key, ver))
        od_write_uvarint(&w, 0);
    size_t body_off = w.total;
    put_body(&w, body, n);
    uint8_t be[4];
    put_be32(be, (uint32_t)(w.total - lenpos - 4));
    od_wbuf_patch(&w, lenpos, be, 4);
    size_t len = 0;
    uint8_t *frame = w.err ? NULL : od_wbuf_flatten(&w, &len);
    od_wbuf_free(&w);
    if (!frame)
        return;
    if (api->key == OD_API_PRODUCE && !(op & 0x40))
        fix_crcs(frame, len, body_off, ver);
    if (s->nsent == sizeof s->sent / sizeof s->sent[0]) {
        memmove(&s->sent[0], &s->sent[1], (s->nsent - 1) * sizeof(s->sent[0]));
        s->nsent--;
    }
    s->sent[s->nsent].corr = s->corr;
    s->sent[s->nsent].key = api->key;
    s->sent[s->nsent].ver = ver;
    s->nsent++;
    send_frame(s, frame, len);
    free(frame);
    /* The broker closed this connection (malformed request): next time a
     * new one. */
    if (s->fd >= 0 && !find_conn(s->id))
        slot_close(s);
}

static void on_exit_free(void) { core_down(); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    if (!once) {
        const char *e = getenv("ODFUZZ_RESET_EVERY");
        once = 1;
        if (e && atol(e) > 0)
            reset_every = (unsigned long)atol(e);
        atexit(on_exit_free);
        for (int i = 0; i < NSLOTS; i++)
            slots[i].fd = -1;
    }
    if (!core || inputs % reset_every == 0) {
        core_down();
        close_stray_signalfds();
        for (int i = 0; i < NSLOTS; i++)
            slots[i].fd = -1;
        member_len = -1;
        generation = -1;
        core_up();
    }
    inputs++;
    int cur = 0;
    size_t pos = 0;
    while (pos + 2 <= size) {
        uint8_t op = data[pos], arg = data[pos + 1];
        pos += 2;
        in_broker = 1;
        if (op & 0x80) {
            switch ((op & 0x7f) % 4) {
            case 0:
                skew_ms += (int64_t)arg * arg * 2;
                run_loop_once();
                run_loop_once();
                drain_all();
                break;
            case 1:
                slot_close(&slots[cur]);
                run_loop_once();
                break;
            case 2:
                cur = (cur + 1) % NSLOTS;
                break;
            default:
                run_loop_once();
                drain_all();
                break;
            }
        } else {
            if (pos + 2 > size) {
                in_broker = 0;
                break;
            }
            size_t n = (size_t)data[pos] | (size_t)data[pos + 1] << 8;
            pos += 2;
            if (n > size - pos)
                n = size - pos;
            send_request(&slots[cur], op, arg, data + pos, n);
            pos += n;
        }
        in_broker = 0;
    }
    /* Clients go away at the end of an input; what they made stays. */
    in_broker = 1;
    for (int i = 0; i < NSLOTS; i++)
        slot_close(&slots[i]);
    run_loop_once();
    run_loop_once();
    in_broker = 0;
    return 0;
}

/* ---- seed corpus ---------------------------------------------------------
 * Scenarios a client goes through (create, produce, fetch; a consumer group
 * from FindCoordinator to LeaveGroup; admin requests; an idempotent
 * producer), each at the lowest and highest version the broker takes, plus
 * one pseudo-random request per API and version. */
static od_wbuf_t seed;
static int seed_ver; /* 0: lowest version, 1: highest, 2: middle */

static size_t api_index(int16_t key, int16_t *ver)
{
    for (size_t i = 0; od_dispatch_api_at(i); i++) {
        const od_api_entry_t *a = od_dispatch_api_at(i);
        if (a->key == key) {
            int16_t span = (int16_t)(a->max_ver - a->min_ver);
            int16_t off = seed_ver == 0 ? 0 : seed_ver == 1 ? span : (int16_t)(span / 2);
            *ver = (int16_t)(a->min_ver + off);
            return i;
        }
    }
    abort();
}

static void add(int16_t key, const void *m, int16_t force_min)
{
    int16_t v;
    size_t i = api_index(key, &v);
    if (v < force_min)
        v = force_min;
    const odt_msg_t *d = NULL;
    for (size_t k = 0; k < ODT_NMSGS; k++)
        if (odt_msgs[k].key == key && strcmp(odt_msgs[k].kind, "request") == 0)
            d = &odt_msgs[k];
    od_wbuf_t b;
    od_wbuf_init(&b);
    d->encode(&b, v, m);
    size_t n;
    uint8_t *p = od_wbuf_flatten(&b, &n);
    const od_api_entry_t *a = od_dispatch_api_at(i);
    uint8_t hdr[4] = {(uint8_t)i, (uint8_t)(v - a->min_ver), (uint8_t)n, (uint8_t)(n >> 8)};
    od_write_raw(&seed, hdr, 4);
    od_write_raw(&seed, p, n);
    free(p);
    od_wbuf_free(&b);
}

static void ctl(uint8_t op, uint8_t arg)
{
    uint8_t c[2] = {(uint8_t)(0x80 | op), arg};
    od_write_raw(&seed, c, 2);
}

static void zz(od_wbuf_t *w, int64_t v) /* zigzag varint */
{
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    while (u >= 0x80) {
        uint8_t b = (uint8_t)(u | 0x80);
        od_write_raw(w, &b, 1);
        u >>= 7;
    }
    uint8_t b = (uint8_t)u;
    od_write_raw(w, &b, 1);
}

/* A RecordBatch v2 of n records with a correct CRC-32C. */
static uint8_t *record_batch(int n, int64_t pid, int16_t epoch, int32_t seq, int16_t attrs,
                             size_t *len)
{
    od_wbuf_t r;
    od_wbuf_init(&r);
    for (int i = 0; i < n; i++) {
        od_wbuf_t one;
        od_wbuf_init(&one);
        uint8_t zero = 0;
        od_write_raw(&one, &zero, 1); /* attributes */
        zz(&one, i);                  /* timestamp delta */
        zz(&one, i);                  /* offset delta */
        char key[8], val[16];
        snprintf(key, sizeof key, "k%d", i);
        snprintf(val, sizeof val, "value-%d", i);
        zz(&one, (int64_t)strlen(key));
        od_write_raw(&one, key, strlen(key));
        zz(&one, (int64_t)strlen(val));
        od_write_raw(&one, val, strlen(val));
        zz(&one, 0); /* headers */
        size_t on;
        uint8_t *op = od_wbuf_flatten(&one, &on);
        zz(&r, (int64_t)on);
        od_write_raw(&r, op, on);
        free(op);
        od_wbuf_free(&one);
    }
    size_t rn;
    uint8_t *rp = od_wbuf_flatten(&r, &rn);
    od_wbuf_free(&r);
    if (attrs & 7) {
        uint8_t *cp;
        size_t cn;
        char err[256];
        if (od_codec_compress(attrs & 7, rp, rn, &cp, &cn, err, sizeof err) < 0) {
            fprintf(stderr, "seedgen: %s\n", err);
            exit(1);
        }
        free(rp);
        rp = cp;
        rn = cn;
    }
    size_t total = 61 + rn;
    uint8_t *b = calloc(1, total);
    int64_t ts = 1700000000000;
    uint8_t *q = b + 8; /* base offset 0 */
    put_be32(q, (uint32_t)(total - 12));
    put_be32(q + 4, 0); /* partition leader epoch */
    q[8] = 2;           /* magic */
    q += 13;            /* crc at b[17..20] */
    q[0] = (uint8_t)(attrs >> 8);
    q[1] = (uint8_t)attrs;
    put_be32(q + 2, (uint32_t)(n - 1));
    put_be32(q + 6, (uint32_t)(ts >> 32));
    put_be32(q + 10, (uint32_t)ts);
    put_be32(q + 14, (uint32_t)((ts + n - 1) >> 32));
    put_be32(q + 18, (uint32_t)(ts + n - 1));
    put_be32(q + 22, (uint32_t)((uint64_t)pid >> 32));
    put_be32(q + 26, (uint32_t)pid);
    q[30] = (uint8_t)(epoch >> 8);
    q[31] = (uint8_t)epoch;
    put_be32(q + 32, (uint32_t)seq);
    put_be32(q + 36, (uint32_t)n);
    memcpy(q + 40, rp, rn);
    free(rp);
    put_be32(b + 17, od_crc32c(0, b + 21, total - 21));
    *len = total;
    return b;
}

#define S(x) od_str_c(x)
#define NUL ((od_str_t){NULL, -1})

static void create_topic(const char *name, int32_t parts)
{
    od_CreateTopicsRequest_CreatableTopic_t t = {S(name), parts, 1, 0, NULL, 0, NULL};
    od_CreateTopicsRequest_t m = {1, &t, 30000, 0};
    add(OD_API_CREATE_TOPICS, &m, 0);
}

static void produce_attrs(const char *topic, int32_t part, int64_t pid, int16_t epoch,
                          int32_t seq, int16_t acks, int16_t attrs)
{
    size_t n;
    uint8_t *b = record_batch(3, pid, epoch, seq, attrs, &n);
    od_ProduceRequest_PartitionProduceData_t pd = {part, {b, (int32_t)n, NULL}};
    od_ProduceRequest_TopicProduceData_t td = {S(topic), 1, &pd};
    od_ProduceRequest_t m = {NUL, acks, 30000, 1, &td};
    add(OD_API_PRODUCE, &m, 3);
    free(b);
}

static void produce(const char *topic, int32_t part, int64_t pid, int16_t epoch, int32_t seq,
                    int16_t acks)
{
    produce_attrs(topic, part, pid, epoch, seq, acks, 0);
}

static void create_topic_cfg(const char *name, const char *key, const char *value)
{
    od_CreateTopicsRequest_CreatableTopicConfig_t c = {S(key), S(value)};
    od_CreateTopicsRequest_CreatableTopic_t t = {S(name), 1, 1, 0, NULL, 1, &c};
    od_CreateTopicsRequest_t m = {1, &t, 30000, 0};
    add(OD_API_CREATE_TOPICS, &m, 0);
}

static void fetch(const char *topic, int32_t part, int64_t off, int32_t wait, int32_t min_bytes)
{
    od_FetchRequest_FetchPartition_t fp = {part, -1, off, -1, -1, 1 << 20};
    od_FetchRequest_FetchTopic_t ft = {S(topic), 1, &fp};
    od_FetchRequest_t m = {NUL, -1, wait, min_bytes, 1 << 20, 0, 0, -1, 1, &ft, 0, NULL, S("")};
    add(OD_API_FETCH, &m, 0);
}

static void list_offsets(const char *topic, int64_t ts)
{
    od_ListOffsetsRequest_ListOffsetsPartition_t p = {0, -1, ts, 1};
    od_ListOffsetsRequest_ListOffsetsTopic_t t = {S(topic), 1, &p};
    od_ListOffsetsRequest_t m = {-1, 0, 1, &t};
    add(OD_API_LIST_OFFSETS, &m, 0);
}

static void metadata(const char *topic)
{
    od_MetadataRequest_MetadataRequestTopic_t t = {{{0}}, S(topic)};
    od_MetadataRequest_t m = {topic ? 1 : -1, topic ? &t : NULL, 1, 0, 0};
    add(OD_API_METADATA, &m, 0);
}

static const uint8_t sub_meta[] = {0, 1, 0, 0, 0, 1, 0, 2, 't', '0', 0, 0, 0, 0};
static const uint8_t assign_meta[] = {0, 1, 0, 0, 0, 1, 0, 2, 't', '0', 0, 0, 0, 1,
                                      0, 0, 0, 0, 0, 0, 0, 0};

static void join(const char *member)
{
    od_JoinGroupRequest_JoinGroupRequestProtocol_t pr = {S("range"),
                                                          {sub_meta, sizeof sub_meta}};
    od_JoinGroupRequest_t m = {S("g0"), 10000, 10000, S(member), NUL, S("consumer"), 1, &pr,
                               NUL};
    add(OD_API_JOIN_GROUP, &m, 0);
}

static void group_scenario(void)
{
    od_FindCoordinatorRequest_t fc = {S("g0"), 0, 1, (od_str_t[]){S("g0")}};
    add(OD_API_FIND_COORDINATOR, &fc, 0);
    join("");
    ctl(0, 40); /* past group.initial.rebalance.delay.ms */
    join("@M"); /* v4+: the id from MEMBER_ID_REQUIRED */
    ctl(0, 40);
    od_str_t gen = {"\x7fGEN", 4}; /* replaced as an int32, below */
    int32_t genv = (int32_t)0x7f47454e;
    (void)gen;
    od_SyncGroupRequest_SyncGroupRequestAssignment_t as = {S("@M"),
                                                           {assign_meta, sizeof assign_meta}};
    od_SyncGroupRequest_t sg = {S("g0"), genv, S("@M"), NUL, S("consumer"), S("range"), 1, &as};
    add(OD_API_SYNC_GROUP, &sg, 0);
    od_HeartbeatRequest_t hb = {S("g0"), genv, S("@M"), NUL};
    add(OD_API_HEARTBEAT, &hb, 0);
    od_OffsetCommitRequest_OffsetCommitRequestPartition_t cp = {0, 2, -1, -1, S("meta")};
    od_OffsetCommitRequest_OffsetCommitRequestTopic_t ct = {S("t0"), 1, &cp};
    od_OffsetCommitRequest_t oc = {S("g0"), genv, S("@M"), NUL, -1, 1, &ct};
    add(OD_API_OFFSET_COMMIT, &oc, 0);
    int32_t pidx = 0;
    od_OffsetFetchRequest_OffsetFetchRequestTopic_t ft = {S("t0"), 1, &pidx};
    od_OffsetFetchRequest_OffsetFetchRequestTopics_t fts = {S("t0"), 1, &pidx};
    od_OffsetFetchRequest_OffsetFetchRequestGroup_t fg = {S("g0"), 1, &fts};
    od_OffsetFetchRequest_t of = {S("g0"), 1, &ft, 1, &fg, 0};
    add(OD_API_OFFSET_FETCH, &of, 0);
    od_DescribeGroupsRequest_t dg = {1, (od_str_t[]){S("g0")}, 0};
    add(OD_API_DESCRIBE_GROUPS, &dg, 0);
    ctl(2, 0); /* a second member on the other connection */
    join("");
    ctl(0, 40);
    ctl(2, 0);
    join("@M");
    ctl(0, 80); /* session timeouts */
    od_LeaveGroupRequest_MemberIdentity_t mi = {S("@M"), NUL, NUL};
    od_LeaveGroupRequest_t lg = {S("g0"), S("@M"), 1, &mi};
    add(OD_API_LEAVE_GROUP, &lg, 0);
}

static void write_seed(const char *dir, const char *name)
{
    char path[4096];
    size_t n;
    uint8_t *p = od_wbuf_flatten(&seed, &n);
    snprintf(path, sizeof path, "%s/%s-%d", dir, name, seed_ver);
    FILE *f = fopen(path, "wb");
    if (!f || !p || fwrite(p, 1, n, f) != n)
        exit(1);
    fclose(f);
    free(p);
    od_wbuf_free(&seed);
    od_wbuf_init(&seed);
}

static int seedgen(const char *dir)
{
    od_wbuf_init(&seed);
    for (seed_ver = 0; seed_ver < 3; seed_ver++) {
        /* create, produce, fetch */
        create_topic("t0", 2);
        metadata("t0");
        produce("t0", 0, -1, -1, -1, 1);
        produce("t0", 1, -1, -1, -1, -1);
        produce("t0", 0, -1, -1, -1, 0);
        fetch("t0", 0, 0, 100, 1);
        fetch("t0", 0, 6, 500, 1); /* waits for data */
        produce("t0", 0, -1, -1, -1, 1);
        ctl(0, 20);
        list_offsets("t0", -1);
        list_offsets("t0", -2);
        metadata(NULL);
        write_seed(dir, "produce-fetch");

        create_topic("t0", 2);
        produce("t0", 0, -1, -1, -1, 1);
        group_scenario();
        write_seed(dir, "group");

        /* admin */
        create_topic("t1", 1);
        od_DescribeConfigsRequest_DescribeConfigsResource_t dr = {2, S("t1"), -1, NULL};
        od_DescribeConfigsRequest_t dc = {1, &dr, 1, 0};
        add(OD_API_DESCRIBE_CONFIGS, &dc, 0);
        od_CreatePartitionsRequest_CreatePartitionsTopic_t cpt = {S("t1"), 3, -1, NULL};
        od_CreatePartitionsRequest_t cp = {1, &cpt, 30000, 0};
        add(OD_API_CREATE_PARTITIONS, &cp, 0);
        produce("t1", 2, -1, -1, -1, 1);
        od_DeleteRecordsRequest_DeleteRecordsPartition_t drp = {2, 2};
        od_DeleteRecordsRequest_DeleteRecordsTopic_t drt = {S("t1"), 1, &drp};
        od_DeleteRecordsRequest_t drq = {1, &drt, 30000};
        add(OD_API_DELETE_RECORDS, &drq, 0);
        fetch("t1", 2, 0, 0, 1);
        od_DeleteTopicsRequest_DeleteTopicState_t dts = {S("t1"), {{0}}};
        od_DeleteTopicsRequest_t dt = {1, &dts, 1, (od_str_t[]){S("t1")}, 30000};
        add(OD_API_DELETE_TOPICS, &dt, 0);
        metadata("t1");
        write_seed(dir, "admin");

        /* idempotent producer (the first producer id the broker hands out
         * is found by the fuzzer; 0 and 1000 are guesses) */
        create_topic("t0", 1);
        od_InitProducerIdRequest_t ip = {NUL, 60000, -1, -1};
        add(OD_API_INIT_PRODUCER_ID, &ip, 0);
        produce("t0", 0, 0, 0, 0, -1);
        produce("t0", 0, 0, 0, 3, -1);
        produce("t0", 0, 0, 0, 3, -1); /* duplicate */
        produce("t0", 0, 1000, 0, 0, -1);
        write_seed(dir, "idempotent");

        /* compressed batches, a topic that recompresses, a compacted one */
        create_topic("t0", 1);
        for (int16_t codec = 1; codec <= 4; codec++)
            produce_attrs("t0", 0, -1, -1, -1, 1, codec);
        produce_attrs("t0", 0, -1, -1, -1, 1, 0x08); /* LogAppendTime */
        fetch("t0", 0, 0, 0, 1);
        create_topic_cfg("tz", "compression.type", "zstd");
        produce_attrs("tz", 0, -1, -1, -1, 1, 1);
        produce("tz", 0, -1, -1, -1, 1);
        fetch("tz", 0, 0, 0, 1);
        create_topic_cfg("tc", "cleanup.policy", "compact");
        produce("tc", 0, -1, -1, -1, 1);
        create_topic_cfg("tt", "message.timestamp.type", "LogAppendTime");
        produce("tt", 0, -1, -1, -1, 1);
        write_seed(dir, "compression");
    }
    /* One pseudo-random request per API and version. */
    for (size_t i = 0; od_dispatch_api_at(i); i++) {
        const od_api_entry_t *a = od_dispatch_api_at(i);
        const odt_msg_t *d = NULL;
        for (size_t k = 0; k < ODT_NMSGS; k++)
            if (odt_msgs[k].key == a->key && strcmp(odt_msgs[k].kind, "request") == 0)
                d = &odt_msgs[k];
        for (int16_t v = a->min_ver; d && v <= a->max_ver; v++) {
            uint32_t sd = (uint32_t)(i * 131 + (size_t)v + 1);
            void *m = calloc(1, d->size);
            od_arena_t ar;
            od_arena_init(&ar, 0);
            d->fill(m, v, &ar, &sd);
            od_wbuf_t b;
            od_wbuf_init(&b);
            d->encode(&b, v, m);
            size_t n;
            uint8_t *p = od_wbuf_flatten(&b, &n);
            uint8_t hdr[4] = {(uint8_t)i, (uint8_t)(v - a->min_ver), (uint8_t)n, (uint8_t)(n >> 8)};
            od_write_raw(&seed, hdr, 4);
            od_write_raw(&seed, p, n);
            free(p);
            od_wbuf_free(&b);
            od_arena_free(&ar);
            free(m);
            char name[64];
            snprintf(name, sizeof name, "random-%s-v%d", d->name, v);
            seed_ver = 0;
            write_seed(dir, name);
        }
    }
    od_wbuf_free(&seed);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = getenv("ODFUZZ_SEEDGEN");
    (void)argc;
    (void)argv;
    if (dir)
        exit(seedgen(dir));
    return 0;
}
