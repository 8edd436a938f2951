/* od_buf.c - bounds-checked wire readers and the segmented response writer.
 *
 * Readers: every read first checks what remains in the slice; a short or
 * malformed read sets s->err, consumes nothing more and yields zero values,
 * so a decoder may run to its end and check od_slice_ok() once.
 *
 * Writer: bytes go into OWNED segments (4 KiB first, doubling up to 1 MiB,
 * always at least as large as the write that needs a new one). A reference
 * (od_write_ref) becomes its own segment; the next write then opens a new
 * OWNED segment, so the segment list is exactly the iovec/sendfile order. */
#include "od_buf.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- reading ---------------------------------------------------------- */

/* Returns a pointer to n readable bytes and advances, or NULL (err set). */
static const uint8_t *take(od_slice_t *s, size_t n)
{
    const uint8_t *p;
    if (s->err || (size_t)(s->end - s->p) < n) {
        s->err = 1;
        return NULL;
    }
    p = s->p;
    s->p += n;
    return p;
}

static uint64_t be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    size_t i;
    for (i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

int8_t od_read_i8(od_slice_t *s)
{
    const uint8_t *p = take(s, 1);
    return p ? (int8_t)p[0] : 0;
}

int16_t od_read_i16(od_slice_t *s) { return (int16_t)od_read_u16(s); }

int32_t od_read_i32(od_slice_t *s) { return (int32_t)od_read_u32(s); }

int64_t od_read_i64(od_slice_t *s)
{
    const uint8_t *p = take(s, 8);
    return p ? (int64_t)be(p, 8) : 0;
}

uint16_t od_read_u16(od_slice_t *s)
{
    const uint8_t *p = take(s, 2);
    return p ? (uint16_t)be(p, 2) : 0;
}

uint32_t od_read_u32(od_slice_t *s)
{
    const uint8_t *p = take(s, 4);
    return p ? (uint32_t)be(p, 4) : 0;
}

double od_read_f64(od_slice_t *s)
{
    const uint8_t *p = take(s, 8);
    uint64_t bits;
    double d;
    if (!p)
        return 0.0;
    bits = be(p, 8);
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* Kafka treats any non-zero byte as true. */
int od_read_bool(od_slice_t *s) { return od_read_i8(s) != 0; }

/* Base-128, little-endian groups. At most maxbytes bytes; the last allowed
 * byte may only carry the bits that still fit (anything else is an overlong
 * or out-of-range encoding and is rejected). */
static uint64_t read_base128(od_slice_t *s, unsigned maxbytes, unsigned bits)
{
    uint64_t v = 0;
    unsigned i, shift = 0;
    if (s->err)
        return 0;
    for (i = 0; i < maxbytes; i++) {
        uint8_t b;
        if (s->p >= s->end) {
            s->err = 1;
            return 0;
        }
        b = *s->p++;
        if (i == maxbytes - 1 && (b >> (bits - shift)) != 0) {
            s->err = 1; /* continuation bit or bits past the type's width */
            return 0;
        }
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
        shift += 7;
    }
    s->err = 1; /* not reached: the last byte check above catches it */
    return 0;
}

uint32_t od_read_uvarint(od_slice_t *s) { return (uint32_t)read_base128(s, 5, 32); }

int32_t od_read_varint(od_slice_t *s)
{
    uint32_t u = (uint32_t)read_base128(s, 5, 32);
    return (int32_t)((u >> 1) ^ (0u - (u & 1u)));
}

int64_t od_read_varlong(od_slice_t *s)
{
    uint64_t u = read_base128(s, 10, 64);
    return (int64_t)((u >> 1) ^ (0u - (u & 1u)));
}

od_uuid_t od_read_uuid(od_slice_t *s)
{
    od_uuid_t u;
    const uint8_t *p = take(s, 16);
    if (p)
        memcpy(u.b, p, 16);
    else
        memset(u.b, 0, 16);
    return u;
}

const uint8_t *od_read_raw(od_slice_t *s, size_t n) { return take(s, n); }

void od_skip(od_slice_t *s, size_t n) { (void)take(s, n); }

static od_str_t null_str(void)
{
    od_str_t r = {NULL, -1};
    return r;
}

static od_bytes_t null_bytes(void)
{
    od_bytes_t r = {NULL, -1};
    return r;
}

/* len: decoded length, -1 for null, anything below -1 malformed. */
static od_str_t str_body(od_slice_t *s, int64_t len, int nullable)
{
    od_str_t r = null_str();
    const uint8_t *p;
    if (s->err || len < -1 || len > INT32_MAX || (len == -1 && !nullable)) {
        s->err = 1;
        return r;
    }
    if (len == -1)
        return r;
    p = take(s, (size_t)len);
    if (!p)
        return r;
    r.p = (const char *)p;
    r.len = (int32_t)len;
    return r;
}

od_str_t od_read_str(od_slice_t *s, int nullable)
{
    int16_t n = od_read_i16(s);
    return str_body(s, n, nullable);
}

od_str_t od_read_compact_str(od_slice_t *s, int nullable)
{
    uint32_t n = od_read_uvarint(s);
    return str_body(s, (int64_t)n - 1, nullable);
}

static od_bytes_t to_bytes(od_str_t st)
{
    od_bytes_t b;
    b.p = (const uint8_t *)st.p;
    b.len = st.len;
    return b;
}

od_bytes_t od_read_bytes(od_slice_t *s, int nullable)
{
    int32_t n = od_read_i32(s);
    if (s->err)
        return null_bytes();
    return to_bytes(str_body(s, n, nullable));
}

od_bytes_t od_read_compact_bytes(od_slice_t *s, int nullable)
{
    uint32_t n = od_read_uvarint(s);
    if (s->err)
        return null_bytes();
    return to_bytes(str_body(s, (int64_t)n - 1, nullable));
}

static int32_t array_len(od_slice_t *s, int64_t n, size_t min_elem_size)
{
    if (s->err || n < -1 || n > INT32_MAX) {
        s->err = 1;
        return 0;
    }
    if (n == -1)
        return -1;
    if (min_elem_size && (uint64_t)n > od_slice_left(s) / min_elem_size) {
        s->err = 1;
        return 0;
    }
    return (int32_t)n;
}

int32_t od_read_array_len(od_slice_t *s, size_t min_elem_size)
{
    int32_t n = od_read_i32(s);
    return array_len(s, n, min_elem_size);
}

int32_t od_read_compact_array_len(od_slice_t *s, size_t min_elem_size)
{
    uint32_t n = od_read_uvarint(s);
    return array_len(s, (int64_t)n - 1, min_elem_size);
}

/* ---- writing ---------------------------------------------------------- */

#define SEG_MIN (4u * 1024u)
#define SEG_MAX (1024u * 1024u)

void od_wbuf_init(od_wbuf_t *w) { memset(w, 0, sizeof *w); }

static void release_ref(const od_ref_t *r)
{
    if (r->release)
        r->release(r->opaque);
}

void od_wbuf_free(od_wbuf_t *w)
{
    size_t i;
    for (i = 0; i < w->nsegs; i++) {
        od_seg_t *g = &w->segs[i];
        if (g->kind == OD_SEG_OWNED)
            free(g->data);
        else
            release_ref(&g->ref);
    }
    free(w->segs);
    od_wbuf_init(w);
}

/* Appends an empty segment slot; NULL (err set) on allocation failure. */
static od_seg_t *new_seg(od_wbuf_t *w)
{
    od_seg_t *g;
    if (w->nsegs == w->segs_cap) {
        size_t ncap = w->segs_cap ? w->segs_cap * 2 : 8;
        od_seg_t *n = realloc(w->segs, ncap * sizeof *n);
        if (!n) {
            w->err = 1;
            return NULL;
        }
        w->segs = n;
        w->segs_cap = ncap;
    }
    g = &w->segs[w->nsegs++];
    memset(g, 0, sizeof *g);
    return g;
}

/* The last OWNED segment with at least one free byte, opening a new one
 * sized for `want` bytes if needed. */
static od_seg_t *owned_tail(od_wbuf_t *w, size_t want)
{
    od_seg_t *last = w->nsegs ? &w->segs[w->nsegs - 1] : NULL;
    size_t cap = SEG_MIN, i;
    od_seg_t *g;
    uint8_t *data;
    if (last && last->kind == OD_SEG_OWNED && last->len < last->cap)
        return last;
    /* Double the previous owned segment's size, up to SEG_MAX. */
    for (i = w->nsegs; i-- > 0;) {
        if (w->segs[i].kind == OD_SEG_OWNED) {
            cap = w->segs[i].cap < SEG_MAX / 2 ? w->segs[i].cap * 2 : SEG_MAX;
            break;
        }
    }
    if (cap < want)
        cap = want;
    data = malloc(cap);
    if (!data) {
        w->err = 1;
        return NULL;
    }
    g = new_seg(w);
    if (!g) {
        free(data);
        return NULL;
    }
    g->kind = OD_SEG_OWNED;
    g->data = data;
    g->cap = cap;
    return g;
}

void od_write_raw(od_wbuf_t *w, const void *p, size_t n)
{
    const uint8_t *src = p;
    if (w->err)
        return;
    if (n > SIZE_MAX - w->total) {
        w->err = 1;
        return;
    }
    while (n > 0) {
        od_seg_t *g = owned_tail(w, n);
        size_t room, k;
        if (!g)
            return;
        room = g->cap - g->len;
        k = n < room ? n : room;
        if (src)
            memcpy(g->data + g->len, src, k);
        else
            memset(g->data + g->len, 0, k); /* od_wbuf_reserve */
        g->len += k;
        w->total += k;
        if (src)
            src += k;
        n -= k;
    }
}

static void write_be(od_wbuf_t *w, uint64_t v, size_t n)
{
    uint8_t b[8];
    size_t i;
    for (i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    od_write_raw(w, b, n);
}

void od_write_i8(od_wbuf_t *w, int8_t v) { write_be(w, (uint8_t)v, 1); }
void od_write_i16(od_wbuf_t *w, int16_t v) { write_be(w, (uint16_t)v, 2); }
void od_write_i32(od_wbuf_t *w, int32_t v) { write_be(w, (uint32_t)v, 4); }
void od_write_i64(od_wbuf_t *w, int64_t v) { write_be(w, (uint64_t)v, 8); }
void od_write_u16(od_wbuf_t *w, uint16_t v) { write_be(w, v, 2); }
void od_write_u32(od_wbuf_t *w, uint32_t v) { write_be(w, v, 4); }

void od_write_f64(od_wbuf_t *w, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    write_be(w, bits, 8);
}

void od_write_bool(od_wbuf_t *w, int v) { write_be(w, v ? 1 : 0, 1); }

static void write_base128(od_wbuf_t *w, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;
    while (v >= 0x80) {
        b[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b[n++] = (uint8_t)v;
    od_write_raw(w, b, n);
}

void od_write_uvarint(od_wbuf_t *w, uint32_t v) { write_base128(w, v); }

void od_write_varint(od_wbuf_t *w, int32_t v)
{
    uint32_t u = (uint32_t)v;
    write_base128(w, (u << 1) ^ (0u - (u >> 31)));
}

void od_write_varlong(od_wbuf_t *w, int64_t v)
{
    uint64_t u = (uint64_t)v;
    write_base128(w, (u << 1) ^ (0u - (u >> 63)));
}

void od_write_uuid(od_wbuf_t *w, const od_uuid_t *u) { od_write_raw(w, u->b, 16); }

/* A negative length is written as null (-1). Classic strings cannot carry
 * more than INT16_MAX bytes; a longer one is a caller bug: flag the wbuf. */
void od_write_str(od_wbuf_t *w, od_str_t s)
{
    if (s.len < 0) {
        od_write_i16(w, -1);
        return;
    }
    if (s.len > INT16_MAX) {
        w->err = 1;
        return;
    }
    od_write_i16(w, (int16_t)s.len);
    od_write_raw(w, s.p, (size_t)s.len);
}

void od_write_compact_str(od_wbuf_t *w, od_str_t s)
{
    if (s.len < 0) {
        od_write_uvarint(w, 0);
        return;
    }
    od_write_uvarint(w, (uint32_t)s.len + 1u);
    od_write_raw(w, s.p, (size_t)s.len);
}

void od_write_bytes(od_wbuf_t *w, od_bytes_t b)
{
    if (b.len < 0) {
        od_write_i32(w, -1);
        return;
    }
    od_write_i32(w, b.len);
    od_write_raw(w, b.p, (size_t)b.len);
}

void od_write_compact_bytes(od_wbuf_t *w, od_bytes_t b)
{
    if (b.len < 0) {
        od_write_uvarint(w, 0);
        return;
    }
    od_write_uvarint(w, (uint32_t)b.len + 1u);
    od_write_raw(w, b.p, (size_t)b.len);
}

void od_write_array_len(od_wbuf_t *w, int32_t n) { od_write_i32(w, n < 0 ? -1 : n); }

void od_write_compact_array_len(od_wbuf_t *w, int32_t n)
{
    od_write_uvarint(w, n < 0 ? 0u : (uint32_t)n + 1u);
}

void od_write_ref(od_wbuf_t *w, od_seg_kind_t kind, const od_ref_t *ref)
{
    od_seg_t *g;
    if (w->err || ref->len == 0 || ref->len > SIZE_MAX - w->total ||
        (kind != OD_SEG_MEMREF && kind != OD_SEG_FILEREF)) {
        if (kind != OD_SEG_MEMREF && kind != OD_SEG_FILEREF)
            w->err = 1;
        release_ref(ref); /* nothing to send, or we cannot keep it */
        return;
    }
    g = new_seg(w);
    if (!g) {
        release_ref(ref);
        return;
    }
    g->kind = kind;
    g->len = ref->len;
    g->ref = *ref;
    w->total += ref->len;
}

size_t od_wbuf_reserve(od_wbuf_t *w, size_t n)
{
    size_t pos = w->total;
    od_write_raw(w, NULL, n);
    return pos;
}

/* Overwrites bytes at absolute position pos. Reserved bytes always sit in
 * OWNED segments; a patch that would touch a reference sets err. */
void od_wbuf_patch(od_wbuf_t *w, size_t pos, const void *p, size_t n)
{
    const uint8_t *src = p;
    size_t i, at = 0;
    if (w->err)
        return;
    if (pos > w->total || n > w->total - pos) {
        w->err = 1;
        return;
    }
    for (i = 0; i < w->nsegs && n > 0; i++) {
        od_seg_t *g = &w->segs[i];
        if (pos < at + g->len) {
            size_t off = pos - at, k = g->len - off;
            if (k > n)
                k = n;
            if (g->kind != OD_SEG_OWNED) {
                w->err = 1;
                return;
            }
            memcpy(g->data + off, src, k);
            src += k;
            pos += k;
            n -= k;
        }
        at += g->len;
    }
}

static int pread_all(int fd, uint8_t *dst, size_t len, off_t off)
{
    while (len > 0) {
        ssize_t r = pread(fd, dst, len, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1; /* error, or the file is shorter than the reference */
        dst += r;
        len -= (size_t)r;
        off += r;
    }
    return 0;
}

uint8_t *od_wbuf_flatten(const od_wbuf_t *w, size_t *len_out)
{
    uint8_t *out, *q;
    size_t i;
    if (w->err)
        return NULL;
    out = malloc(w->total ? w->total : 1);
    if (!out)
        return NULL;
    q = out;
    for (i = 0; i < w->nsegs; i++) {
        const od_seg_t *g = &w->segs[i];
        switch (g->kind) {
        case OD_SEG_OWNED:
            memcpy(q, g->data, g->len);
            break;
        case OD_SEG_MEMREF:
            memcpy(q, g->ref.mem, g->len);
            break;
        case OD_SEG_FILEREF:
            if (pread_all(g->ref.fd, q, g->len, g->ref.file_off) < 0) {
                free(out);
                return NULL;
            }
            break;
        }
        q += g->len;
    }
    if (len_out)
        *len_out = w->total;
    return out;
}
