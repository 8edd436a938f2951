/* memory_module.c - the "memory" storage backend: partition logs kept in
 * process memory, for tests and throwaway brokers.
 *
 * Each append is copied once into a reference-counted chunk; the log keeps
 * an index entry per batch (offset range, max timestamp, place in a chunk).
 * A read hands out memory ranges that each hold a chunk reference, so the
 * bytes stay valid while a response is being sent even if the log is
 * removed meanwhile.
 *
 * A closed log keeps its data for the life of the process, so closing and
 * re-opening a partition (leadership moves, reconfiguration) loses nothing;
 * remove() deletes it.
 *
 * A module sees only the core symbols in odradek.dynlist, so the batch
 * header is parsed here by hand rather than with od_batch.c. */
#include "odradek-module.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEM_HEADER_SIZE      61 /* RecordBatch header through recordCount */
#define MEM_LOG_OVERHEAD     12
#define MEM_MIN_BATCH_LENGTH (MEM_HEADER_SIZE - MEM_LOG_OVERHEAD)

typedef struct mem_chunk {
    atomic_int refs; /* the log's reference plus one per handed-out range */
    size_t len;
    uint8_t data[];
} mem_chunk_t;

typedef struct mem_batch {
    int64_t base, last; /* offset range */
    int64_t max_ts;
    int64_t cum_max_ts; /* max of max_ts over this and all earlier batches */
    mem_chunk_t *chunk; /* borrowed from the chunk list; not a reference */
    size_t off, len;    /* the batch inside chunk->data */
} mem_batch_t;

typedef struct mem_store mem_store_t;

/* A named state blob (put_state/get_state). */
typedef struct mem_state {
    struct mem_state *next;
    char *name;
    void *data;
    size_t len;
} mem_state_t;

struct od_log {
    mem_store_t *store;
    struct od_log *next; /* in store->logs */
    char *name;          /* "<topic>-<partition>" */
    int is_open;
    mem_batch_t *batches;
    size_t nbatches, batches_cap;
    mem_chunk_t **chunks; /* one log reference each */
    size_t nchunks, chunks_cap;
    int64_t start, end; /* log start offset, next offset */
    int64_t bytes;
    od_log_config_t cfg;
    mem_state_t *states;
};

struct mem_store {
    od_log_t *logs;
};

static void seterr(char *err, size_t errsz, const char *msg, const char *name)
{
    if (err && errsz)
        snprintf(err, errsz, "%s%s%s", name ? name : "", name ? ": " : "", msg);
}

static uint64_t rd_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* ---- chunks ------------------------------------------------------------ */

static void chunk_release(void *opaque)
{
    mem_chunk_t *c = opaque;
    if (atomic_fetch_sub(&c->refs, 1) == 1)
        free(c);
}

/* ---- logs -------------------------------------------------------------- */

static void log_free(od_log_t *log)
{
    while (log->states) {
        mem_state_t *st = log->states;
        log->states = st->next;
        free(st->name);
        free(st->data);
        free(st);
    }
    for (size_t i = 0; i < log->nchunks; i++)
        chunk_release(log->chunks[i]);
    free(log->chunks);
    free(log->batches);
    free(log->name);
    free(log);
}

static void copy_cfg(od_log_t *log, const od_log_config_t *cfg)
{
    size_t n;
    memset(&log->cfg, 0, sizeof log->cfg);
    if (!cfg)
        return;
    n = cfg->struct_size < sizeof log->cfg ? cfg->struct_size : sizeof log->cfg;
    memcpy(&log->cfg, cfg, n);
    log->cfg.struct_size = sizeof log->cfg;
}

static int mem_start(void *self, const char *base_dir, char *err, size_t errsz)
{
    od_logf(OD_LOG_INFO, "storage memory: partition logs are kept in memory only");
    return 0;
}

static void mem_stop(void *self)
{
    mem_store_t *st = self;
    while (st->logs) {
        od_log_t *l = st->logs;
        st->logs = l->next;
        log_free(l);
    }
}

static int mem_open(void *self, const char *dir_name, const od_log_config_t *cfg, od_log_t **out,
                    char *err, size_t errsz)
{
    mem_store_t *st = self;
    od_log_t *log;

    for (log = st->logs; log; log = log->next) {
        if (strcmp(log->name, dir_name) == 0) {
            if (log->is_open) {
                seterr(err, errsz, "log is already open", dir_name);
                return -1;
            }
            log->is_open = 1;
            copy_cfg(log, cfg);
            *out = log;
            return 0;
        }
    }
    log = calloc(1, sizeof *log);
    if (!log || !(log->name = strdup(dir_name))) {
        free(log);
        seterr(err, errsz, "out of memory", dir_name);
        return -1;
    }
    log->store = st;
    log->is_open = 1;
    copy_cfg(log, cfg);
    log->next = st->logs;
    st->logs = log;
    *out = log;
    return 0;
}

static void mem_close(od_log_t *log) { log->is_open = 0; }

static int mem_remove(od_log_t *log, char *err, size_t errsz)
{
    od_log_t **pp;
    for (pp = &log->store->logs; *pp; pp = &(*pp)->next) {
        if (*pp == log) {
            *pp = log->next;
            break;
        }
    }
    log_free(log); /* chunks still referenced by reads live on */
    return 0;
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    size_t ncap;
    void *p;
    if (need <= *cap)
        return 0;
    ncap = *cap ? *cap : 16;
    while (ncap < need)
        ncap *= 2;
    p = realloc(*arr, ncap * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = ncap;
    return 0;
}

static int mem_append(od_log_t *log, const uint8_t *data, size_t len, const od_append_info_t *info,
                      char *err, size_t errsz)
{
    size_t pos = 0, count = 0, first = log->nbatches;
    int64_t prev_last = log->end - 1;
    mem_chunk_t *chunk;

    if (len == 0)
        return 0;
    /* Check the framing and offsets of every batch before anything changes,
     * so a failed append leaves the log as it was. */
    while (pos < len) {
        size_t left = len - pos, sz;
        int32_t bl;
        int64_t base, last;
        if (left < MEM_HEADER_SIZE) {
            seterr(err, errsz, "append: truncated batch", log->name);
            return -1;
        }
        bl = (int32_t)rd_be(data + pos + 8, 4);
        sz = MEM_LOG_OVERHEAD + (size_t)(bl < 0 ? 0 : bl);
        if (bl < MEM_MIN_BATCH_LENGTH || sz > left || data[pos + 16] != 2) {
            seterr(err, errsz, "append: malformed batch", log->name);
            return -1;
        }
        base = (int64_t)rd_be(data + pos, 8);
        if (__builtin_add_overflow(base, (int32_t)rd_be(data + pos + 23, 4), &last) ||
            base <= prev_last || last < base) {
            seterr(err, errsz, "append: offsets go backwards", log->name);
            return -1;
        }
        prev_last = last;
        pos += sz;
        count++;
    }

    if (grow((void **)&log->batches, &log->batches_cap, log->nbatches + count,
             sizeof(mem_batch_t)) ||
        grow((void **)&log->chunks, &log->chunks_cap, log->nchunks + 1, sizeof(mem_chunk_t *)) ||
        !(chunk = malloc(sizeof *chunk + len))) {
        seterr(err, errsz, "append: out of memory", log->name);
        return -1;
    }
    atomic_init(&chunk->refs, 1);
    chunk->len = len;
    memcpy(chunk->data, data, len);
    log->chunks[log->nchunks++] = chunk;

    for (pos = 0; pos < len;) {
        mem_batch_t *b = &log->batches[log->nbatches];
        const uint8_t *p = chunk->data + pos;
        int64_t prev_cum = log->nbatches ? log->batches[log->nbatches - 1].cum_max_ts : INT64_MIN;
        b->base = (int64_t)rd_be(p, 8);
        b->last = b->base + (int32_t)rd_be(p + 23, 4); /* checked above */
        b->max_ts = (int64_t)rd_be(p + 35, 8);
        b->cum_max_ts = b->max_ts > prev_cum ? b->max_ts : prev_cum;
        b->chunk = chunk;
        b->off = pos;
        b->len = MEM_LOG_OVERHEAD + (size_t)rd_be(p + 8, 4);
        pos += b->len;
        log->nbatches++;
    }
    /* An empty log appended to past its end starts where the data starts. */
    if (first == 0 && log->batches[0].base > log->end)
        log->start = log->batches[0].base;
    log->end = log->batches[log->nbatches - 1].last + 1;
    log->bytes += (int64_t)len;
    (void)info; /* the batches themselves are the authority */
    return 0;
}

/* Index of the first batch whose last offset is >= offset (nbatches if none). */
static size_t find_batch(const od_log_t *log, int64_t offset)
{
    size_t lo = 0, hi = log->nbatches;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (log->batches[mid].last < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int mem_read(od_log_t *log, int64_t offset, size_t max_bytes, od_log_read_t *out, char *err,
                    size_t errsz)
{
    size_t i;
    od_log_range_t *r = NULL;

    out->nranges = 0;
    out->total = 0;
    if (offset < log->start || offset > log->end) {
        if (err && errsz)
            snprintf(err, errsz, "%s: offset %lld is outside [%lld, %lld]", log->name,
                     (long long)offset, (long long)log->start, (long long)log->end);
        return -1;
    }
    for (i = find_batch(log, offset); i < log->nbatches; i++) {
        const mem_batch_t *b = &log->batches[i];
        if (out->total > 0 && out->total + b->len > max_bytes)
            break;
        /* Batches appended together sit next to each other in one chunk
         * and extend the current range. */
        if (r && r->opaque == b->chunk && r->mem + r->len == b->chunk->data + b->off) {
            r->len += b->len;
        } else {
            if (out->nranges == OD_LOG_READ_MAX_RANGES)
                break;
            r = &out->ranges[out->nranges++];
            memset(r, 0, sizeof *r);
            r->is_file = 0;
            r->fd = -1;
            r->mem = b->chunk->data + b->off;
            r->len = b->len;
            r->release = chunk_release;
            r->opaque = b->chunk;
            atomic_fetch_add(&b->chunk->refs, 1);
        }
        out->total += b->len;
    }
    return 0;
}

static int64_t mem_start_offset(od_log_t *log) { return log->start; }
static int64_t mem_end_offset(od_log_t *log) { return log->end; }

static int64_t mem_offset_for_time(od_log_t *log, int64_t ts, int64_t *ts_out)
{
    /* cum_max_ts never decreases, so the first batch reaching ts is found
     * by binary search. */
    size_t lo = 0, hi = log->nbatches;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (log->batches[mid].cum_max_ts < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == log->nbatches)
        return -1;
    if (ts_out)
        *ts_out = log->batches[lo].max_ts;
    return log->batches[lo].base > log->start ? log->batches[lo].base : log->start;
}

/* ---- lifecycle (ABI 1.1): log start, retention, named state ------------ */

/* Forget the batches wholly below log->start and release the chunks that
 * no remaining batch uses (reads handed out keep their own references). */
static void drop_below_start(od_log_t *log)
{
    size_t n = 0, c = 0;
    while (n < log->nbatches && log->batches[n].last < log->start)
        log->bytes -= (int64_t)log->batches[n++].len;
    if (n == 0)
        return;
    memmove(log->batches, log->batches + n, (log->nbatches - n) * sizeof *log->batches);
    log->nbatches -= n;
    /* Chunks hold consecutive batches in append order. */
    while (c < log->nchunks && (log->nbatches == 0 || log->chunks[c] != log->batches[0].chunk))
        chunk_release(log->chunks[c++]);
    memmove(log->chunks, log->chunks + c, (log->nchunks - c) * sizeof *log->chunks);
    log->nchunks -= c;
}

static int mem_advance_start(od_log_t *log, int64_t new_start, char *err, size_t errsz)
{
    if (new_start < 0 || new_start > log->end) {
        if (err && errsz)
            snprintf(err, errsz, "%s: new log start offset %lld is outside [0, %lld]", log->name,
                     (long long)new_start, (long long)log->end);
        return -1;
    }
    if (new_start <= log->start)
        return 0;
    log->start = new_start;
    drop_below_start(log);
    return 0;
}

/* Whole batches play the part of segments: from the front, those older
 * than retention.ms, then those that bring the log down to retention.bytes.
 * The end offset stays, so offsets are never reused. */
static int mem_enforce_retention(od_log_t *log, int64_t now_ms, char *err, size_t errsz)
{
    size_t n = 0;
    int64_t total = log->bytes;
    if (!(log->cfg.cleanup_policy & OD_CLEANUP_DELETE))
        return 0;
    if (log->cfg.retention_ms >= 0)
        while (n < log->nbatches && now_ms - log->batches[n].max_ts > log->cfg.retention_ms)
            total -= (int64_t)log->batches[n++].len;
    if (log->cfg.retention_bytes >= 0 && total > log->cfg.retention_bytes) {
        int64_t diff = total - log->cfg.retention_bytes;
        while (n < log->nbatches && diff - (int64_t)log->batches[n].len >= 0)
            diff -= (int64_t)log->batches[n++].len;
    }
    if (n == 0)
        return 0;
    log->start = n < log->nbatches ? log->batches[n].base : log->end;
    drop_below_start(log);
    return (int)n;
}

/* ---- replication (ABI 1.3): cutting a divergent tail ------------------- */

static int mem_truncate_to(od_log_t *log, int64_t offset, char *err, size_t errsz)
{
    size_t i, keep_chunks = 0;
    (void)err;
    (void)errsz;
    if (offset == log->end)
        return 0;
    if (offset <= log->start || offset > log->end) { /* nothing stays: start over at offset */
        for (i = 0; i < log->nchunks; i++)
            chunk_release(log->chunks[i]);
        log->nchunks = 0;
        log->nbatches = 0;
        log->bytes = 0;
        log->start = log->end = offset < 0 ? 0 : offset;
        return 0;
    }
    i = find_batch(log, offset); /* the batch holding offset goes too */
    log->end = i < log->nbatches ? log->batches[i].base : offset;
    for (size_t k = i; k < log->nbatches; k++)
        log->bytes -= (int64_t)log->batches[k].len;
    log->nbatches = i;
    /* Chunks hold consecutive batches in append order: keep those up to
     * the last remaining batch's (reads handed out hold their own refs). */
    if (i > 0)
        while (keep_chunks < log->nchunks && log->chunks[keep_chunks++] != log->batches[i - 1].chunk)
            ;
    for (size_t k = keep_chunks; k < log->nchunks; k++)
        chunk_release(log->chunks[k]);
    log->nchunks = keep_chunks;
    if (log->end < log->start)
        log->start = log->end;
    return 0;
}

static int state_name_ok(const char *name, char *err, size_t errsz)
{
    size_t n = name ? strlen(name) : 0;
    int ok = n > 0 && n <= 200 && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
    for (size_t i = 0; ok && i < n; i++)
        ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
             name[i] == '.' || name[i] == '_' || name[i] == '-';
    if (!ok && err && errsz)
        snprintf(err, errsz, "memory: bad state name (want 1-200 of [a-z0-9._-], not . or ..)");
    return ok;
}

static int mem_put_state(od_log_t *log, const char *name, const void *data, size_t len,
                         char *err, size_t errsz)
{
    mem_state_t *st;
    void *copy;
    if (!state_name_ok(name, err, errsz))
        return -1;
    copy = malloc(len ? len : 1);
    if (!copy) {
        seterr(err, errsz, "put_state: out of memory", log->name);
        return -1;
    }
    if (len)
        memcpy(copy, data, len);
    for (st = log->states; st; st = st->next)
        if (strcmp(st->name, name) == 0)
            break;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st || !(st->name = strdup(name))) {
            free(st);
            free(copy);
            seterr(err, errsz, "put_state: out of memory", log->name);
            return -1;
        }
        st->next = log->states;
        log->states = st;
    }
    free(st->data); /* replaced as a whole: readers never see a mix */
    st->data = copy;
    st->len = len;
    return 0;
}

static int mem_get_state(od_log_t *log, const char *name, void **data, size_t *len, char *err,
                         size_t errsz)
{
    *data = NULL;
    *len = 0;
    if (!state_name_ok(name, err, errsz))
        return -1;
    for (mem_state_t *st = log->states; st; st = st->next) {
        if (strcmp(st->name, name) != 0)
            continue;
        *data = malloc(st->len ? st->len : 1);
        if (!*data) {
            seterr(err, errsz, "get_state: out of memory", log->name);
            return -1;
        }
        if (st->len)
            memcpy(*data, st->data, st->len);
        *len = st->len;
        return 1;
    }
    return 0;
}

static int mem_flush(od_log_t *log) { return 0; }
static void mem_tick(od_log_t *log, int64_t now_ms) {}
static void mem_reconfigure(od_log_t *log, const od_log_config_t *cfg) { copy_cfg(log, cfg); }
static int64_t mem_size_bytes(od_log_t *log) { return log->bytes; }

static const od_storage_ops_t mem_ops = {
    .struct_size = sizeof(od_storage_ops_t),
    .name = "memory",
    .start = mem_start,
    .stop = mem_stop,
    .open = mem_open,
    .close = mem_close,
    .remove = mem_remove,
    .append = mem_append,
    .read = mem_read,
    .start_offset = mem_start_offset,
    .end_offset = mem_end_offset,
    .offset_for_time = mem_offset_for_time,
    .flush = mem_flush,
    .tick = mem_tick,
    .reconfigure = mem_reconfigure,
    .size_bytes = mem_size_bytes,
    .advance_start = mem_advance_start,
    .enforce_retention = mem_enforce_retention,
    .put_state = mem_put_state,
    .get_state = mem_get_state,
    .truncate_to = mem_truncate_to,
    /* compact_step stays NULL: a memory log is for tests and throwaway
     * brokers, and the core skips compaction for backends without it. */
};

static int mem_init(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    mem_store_t *st = calloc(1, sizeof *st);
    if (!st) {
        seterr(err, errsz, "out of memory", NULL);
        return -1;
    }
    if (od_register_storage(ctx, &mem_ops, st) != 0) {
        free(st);
        seterr(err, errsz, "cannot register storage backend \"memory\"", NULL);
        return -1;
    }
    od_module_set_data(ctx, st);
    return 0;
}

static void mem_fini(od_module_ctx_t *ctx)
{
    mem_store_t *st = od_module_get_data(ctx);
    if (!st)
        return;
    mem_stop(st);
    free(st);
    od_module_set_data(ctx, NULL);
}

const od_module_t od_module = {
    .abi_major = OD_ABI_MAJOR,
    .abi_minor = OD_ABI_MINOR,
    .name = "storage_memory",
    .version = "0.1",
    .kinds = OD_KIND_STORAGE,
    .init = mem_init,
    .fini = mem_fini,
};
