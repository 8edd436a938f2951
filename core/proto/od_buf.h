/* od_buf.h - bounds-checked readers (od_slice_t) and a segmented writer
 * (od_wbuf_t) for the Kafka wire protocol.
 *
 * Readers fail softly: a short read sets s->err and returns zero values; the
 * caller checks od_slice_ok() once at the end of a decode. No reader ever
 * touches memory outside [p, end).
 *
 * The writer appends into owned memory segments and may also carry
 * references to memory or file ranges owned by someone else (record data
 * served from a log), so a fetch response can go out with writev/sendfile
 * without copying the records through the broker. */
#ifndef OD_BUF_H
#define OD_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- reading ---------------------------------------------------------- */

typedef struct od_slice {
    const uint8_t *p;   /* next byte to read */
    const uint8_t *end; /* one past the last readable byte */
    int err;            /* set to 1 on the first short or malformed read */
} od_slice_t;

/* A string or byte range borrowed from a buffer. len == -1 means null. */
typedef struct od_str {
    const char *p;
    int32_t len;
} od_str_t;

typedef struct od_bytes {
    const uint8_t *p;
    int32_t len;
} od_bytes_t;

typedef struct od_uuid {
    uint8_t b[16];
} od_uuid_t;

static inline void od_slice_init(od_slice_t *s, const void *p, size_t len)
{
    s->p = (const uint8_t *)p;
    s->end = p ? s->p + len : s->p; /* NULL + 0 is undefined in C */
    s->err = 0;
}
static inline size_t od_slice_left(const od_slice_t *s) { return (size_t)(s->end - s->p); }
static inline int od_slice_ok(const od_slice_t *s) { return !s->err; }

int8_t od_read_i8(od_slice_t *s);
int16_t od_read_i16(od_slice_t *s);
int32_t od_read_i32(od_slice_t *s);
int64_t od_read_i64(od_slice_t *s);
uint16_t od_read_u16(od_slice_t *s);
uint32_t od_read_u32(od_slice_t *s);
double od_read_f64(od_slice_t *s);
int od_read_bool(od_slice_t *s);
uint32_t od_read_uvarint(od_slice_t *s);   /* unsigned base-128, max 5 bytes */
int32_t od_read_varint(od_slice_t *s);     /* zig-zag, max 5 bytes */
int64_t od_read_varlong(od_slice_t *s);    /* zig-zag, max 10 bytes */
od_uuid_t od_read_uuid(od_slice_t *s);
/* Borrow n raw bytes; returns NULL (and sets err) if fewer remain. */
const uint8_t *od_read_raw(od_slice_t *s, size_t n);
void od_skip(od_slice_t *s, size_t n);
/* Classic (int16 length) and compact (uvarint length+1) strings. A length
 * below -1, or longer than what remains, sets err. `nullable` == 0 turns a
 * null into an error. */
od_str_t od_read_str(od_slice_t *s, int nullable);
od_str_t od_read_compact_str(od_slice_t *s, int nullable);
/* Classic (int32 length) and compact bytes. */
od_bytes_t od_read_bytes(od_slice_t *s, int nullable);
od_bytes_t od_read_compact_bytes(od_slice_t *s, int nullable);
/* Array lengths: classic int32 (-1 null), compact uvarint (0 null). Returns
 * -1 for null. Each element needs at least min_elem_size bytes, so a length
 * that cannot fit in what remains sets err (and returns 0) before anyone
 * allocates for it. */
int32_t od_read_array_len(od_slice_t *s, size_t min_elem_size);
int32_t od_read_compact_array_len(od_slice_t *s, size_t min_elem_size);

/* ---- writing ---------------------------------------------------------- */

typedef enum od_seg_kind {
    OD_SEG_OWNED = 0, /* bytes in seg memory owned by the wbuf */
    OD_SEG_MEMREF,    /* borrowed memory, released through ref */
    OD_SEG_FILEREF    /* file range, sent with sendfile, released through ref */
} od_seg_kind_t;

/* A reference to bytes owned elsewhere (a log segment). release(opaque) is
 * called exactly once when the writer no longer needs the bytes. */
typedef struct od_ref {
    const uint8_t *mem; /* OD_SEG_MEMREF */
    int fd;             /* OD_SEG_FILEREF */
    off_t file_off;     /* OD_SEG_FILEREF */
    size_t len;
    void (*release)(void *opaque);
    void *opaque;
} od_ref_t;

typedef struct od_seg {
    od_seg_kind_t kind;
    uint8_t *data; /* OD_SEG_OWNED: start of the allocation */
    size_t len;    /* bytes used */
    size_t cap;    /* OD_SEG_OWNED: bytes allocated */
    size_t sent;   /* bytes already written to a socket */
    od_ref_t ref;  /* OD_SEG_MEMREF / OD_SEG_FILEREF */
} od_seg_t;

typedef struct od_wbuf {
    od_seg_t *segs;
    size_t nsegs, segs_cap;
    size_t total; /* bytes written so far, all segments */
    int err;      /* 1 after an allocation failure; later writes are no-ops */
} od_wbuf_t;

void od_wbuf_init(od_wbuf_t *w);
/* Releases owned memory and calls release() of every reference. */
void od_wbuf_free(od_wbuf_t *w);
void od_write_raw(od_wbuf_t *w, const void *p, size_t n);
void od_write_i8(od_wbuf_t *w, int8_t v);
void od_write_i16(od_wbuf_t *w, int16_t v);
void od_write_i32(od_wbuf_t *w, int32_t v);
void od_write_i64(od_wbuf_t *w, int64_t v);
void od_write_u16(od_wbuf_t *w, uint16_t v);
void od_write_u32(od_wbuf_t *w, uint32_t v);
void od_write_f64(od_wbuf_t *w, double v);
void od_write_bool(od_wbuf_t *w, int v);
void od_write_uvarint(od_wbuf_t *w, uint32_t v);
void od_write_varint(od_wbuf_t *w, int32_t v);
void od_write_varlong(od_wbuf_t *w, int64_t v);
void od_write_uuid(od_wbuf_t *w, const od_uuid_t *u);
void od_write_str(od_wbuf_t *w, od_str_t s);         /* int16 length, -1 null */
void od_write_compact_str(od_wbuf_t *w, od_str_t s); /* uvarint len+1, 0 null */
void od_write_bytes(od_wbuf_t *w, od_bytes_t b);
void od_write_compact_bytes(od_wbuf_t *w, od_bytes_t b);
void od_write_array_len(od_wbuf_t *w, int32_t n);         /* -1 null */
void od_write_compact_array_len(od_wbuf_t *w, int32_t n); /* -1 null */
/* Append a borrowed range (OD_SEG_MEMREF or OD_SEG_FILEREF). The wbuf owns
 * the reference from here on, also on failure (then it releases at once). */
void od_write_ref(od_wbuf_t *w, od_seg_kind_t kind, const od_ref_t *ref);
/* Reserve n bytes in owned memory and return their position, to be filled
 * later with od_wbuf_patch (a length prefix). */
size_t od_wbuf_reserve(od_wbuf_t *w, size_t n);
void od_wbuf_patch(od_wbuf_t *w, size_t pos, const void *p, size_t n);
/* Copy everything (references included, files read with pread) into one
 * malloc'd buffer; for tests and small control-plane records. Caller frees. */
uint8_t *od_wbuf_flatten(const od_wbuf_t *w, size_t *len_out);

static inline od_str_t od_str_c(const char *c);
#include <string.h>
static inline od_str_t od_str_c(const char *c)
{
    od_str_t s;
    s.p = c;
    s.len = c ? (int32_t)strlen(c) : -1;
    return s;
}
static inline int od_str_eq(od_str_t a, const char *c)
{
    return a.len >= 0 && c && (size_t)a.len == strlen(c) && memcmp(a.p, c, (size_t)a.len) == 0;
}

#endif
