/* test_buf.c - readers, writers, varints, references and flatten. */
#include "od_buf.h"
#include "tap.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

static int releases[4];
static void rel(void *opaque) { releases[(intptr_t)opaque]++; }

/* Flattens w, compares with want, frees w. */
static void check_bytes(od_wbuf_t *w, const void *want, size_t n, const char *name)
{
    size_t len = 0;
    uint8_t *f = od_wbuf_flatten(w, &len);
    tap_ok(f && len == n && memcmp(f, want, n) == 0, "%s", name);
    if (f && (len != n || memcmp(f, want, n) != 0)) {
        size_t i;
        printf("# got:");
        for (i = 0; i < len; i++)
            printf(" %02x", f[i]);
        printf("\n");
    }
    free(f);
    od_wbuf_free(w);
}

static void test_fixed(void)
{
    static const uint8_t in[] = {0x80,                                     /* i8 */
                                 0x12, 0x34,                               /* i16 */
                                 0xde, 0xad, 0xbe, 0xef,                   /* i32 */
                                 0x80, 0,    0,    0,    0, 0, 0, 1,       /* i64 */
                                 0xff, 0xfe,                               /* u16 */
                                 0x3f, 0xf0, 0,    0,    0, 0, 0, 0,       /* f64 */
                                 0,    0,                                  /* bools */
                                 9,    9,    9,    9,                      /* skipped */
                                 1,                                        /* bool */
                                 0xff, 0xff, 0xff, 0xfe};                  /* u32 */
    od_slice_t s;
    od_wbuf_t w;
    od_slice_init(&s, in, sizeof in);
    tap_is_int(od_read_i8(&s), -128, "read_i8");
    tap_is_int(od_read_i16(&s), 0x1234, "read_i16");
    tap_is_int(od_read_i32(&s), (int32_t)0xdeadbeef, "read_i32 negative");
    tap_is_int(od_read_i64(&s), (int64_t)0x8000000000000001ULL, "read_i64");
    tap_is_int(od_read_u16(&s), 0xfffe, "read_u16");
    tap_ok(od_read_f64(&s) == 1.0, "read_f64");
    tap_ok(od_read_bool(&s) == 0 && od_read_bool(&s) == 0, "read_bool false");
    od_skip(&s, 4);
    tap_is_int(od_read_bool(&s), 1, "read_bool true");
    tap_is_int(od_read_u32(&s), 0xfffffffeu, "read_u32");
    tap_ok(od_slice_ok(&s) && od_slice_left(&s) == 0, "consumed exactly");
    tap_is_int(od_read_i16(&s), 0, "short read yields 0");
    tap_ok(!od_slice_ok(&s), "short read sets err");

    od_slice_init(&s, in, 3);
    tap_is_int(od_read_i32(&s), 0, "i32 from 3 bytes fails");
    tap_ok(s.err && s.p == in, "failed read consumes nothing");
    tap_is_int(od_read_i8(&s), 0, "reads after err stay 0");
    od_slice_init(&s, "\x02", 1);
    tap_is_int(od_read_bool(&s), 1, "bool byte 2 reads as true");

    od_wbuf_init(&w);
    od_write_i8(&w, -128);
    od_write_i16(&w, 0x1234);
    od_write_i32(&w, (int32_t)0xdeadbeef);
    od_write_i64(&w, (int64_t)0x8000000000000001ULL);
    od_write_u16(&w, 0xfffe);
    od_write_f64(&w, 1.0);
    od_write_bool(&w, 0);
    od_write_bool(&w, 0);
    od_write_raw(&w, in + 27, 4);
    od_write_bool(&w, 7);
    od_write_u32(&w, 0xfffffffeu);
    tap_is_int((int64_t)w.total, sizeof in, "total counts bytes");
    check_bytes(&w, in, sizeof in, "writers mirror readers");
}

struct vcase {
    int64_t v;
    size_t n;
    uint8_t b[10];
};

static void test_varints(void)
{
    static const struct vcase vi[] = {
        {0, 1, {0}},
        {-1, 1, {1}},
        {1, 1, {2}},
        {63, 1, {0x7e}},
        {-64, 1, {0x7f}},
        {64, 2, {0x80, 1}},
        {INT32_MAX, 5, {0xfe, 0xff, 0xff, 0xff, 0x0f}},
        {INT32_MIN, 5, {0xff, 0xff, 0xff, 0xff, 0x0f}},
    };
    static const struct vcase vl[] = {
        {0, 1, {0}},
        {-1, 1, {1}},
        {INT64_MAX, 10, {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1}},
        {INT64_MIN, 10, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1}},
        {(int64_t)1 << 40, 6, {0x80, 0x80, 0x80, 0x80, 0x80, 0x40}},
    };
    static const uint8_t u_max[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    static const uint8_t overlong5[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    static const uint8_t toobig5[] = {0xff, 0xff, 0xff, 0xff, 0x1f};
    static const uint8_t overlong10[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                         0x80, 0x80, 0x80, 0x80, 0x00};
    static const uint8_t toobig10[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    static const uint8_t trunc[] = {0x80, 0x80};
    static const uint8_t pad5[] = {0x81, 0x80, 0x80, 0x80, 0x00}; /* non-minimal but legal */
    size_t i;
    od_slice_t s;
    od_wbuf_t w;

    for (i = 0; i < sizeof vi / sizeof vi[0]; i++) {
        char name[64];
        od_wbuf_init(&w);
        od_write_varint(&w, (int32_t)vi[i].v);
        snprintf(name, sizeof name, "varint %lld encodes", (long long)vi[i].v);
        check_bytes(&w, vi[i].b, vi[i].n, name);
        od_slice_init(&s, vi[i].b, vi[i].n);
        snprintf(name, sizeof name, "varint %lld decodes", (long long)vi[i].v);
        tap_ok(od_read_varint(&s) == vi[i].v && od_slice_ok(&s) && !od_slice_left(&s), "%s",
               name);
    }
    for (i = 0; i < sizeof vl / sizeof vl[0]; i++) {
        char name[64];
        od_wbuf_init(&w);
        od_write_varlong(&w, vl[i].v);
        snprintf(name, sizeof name, "varlong %lld encodes", (long long)vl[i].v);
        check_bytes(&w, vl[i].b, vl[i].n, name);
        od_slice_init(&s, vl[i].b, vl[i].n);
        snprintf(name, sizeof name, "varlong %lld decodes", (long long)vl[i].v);
        tap_ok(od_read_varlong(&s) == vl[i].v && od_slice_ok(&s) && !od_slice_left(&s), "%s",
               name);
    }
    od_wbuf_init(&w);
    od_write_uvarint(&w, UINT32_MAX);
    check_bytes(&w, u_max, sizeof u_max, "uvarint max is 5 bytes");
    od_slice_init(&s, u_max, sizeof u_max);
    tap_ok(od_read_uvarint(&s) == UINT32_MAX && od_slice_ok(&s), "uvarint max decodes");
    od_wbuf_init(&w);
    od_write_uvarint(&w, 300);
    check_bytes(&w, "\xac\x02", 2, "uvarint 300");

    od_slice_init(&s, overlong5, sizeof overlong5);
    od_read_uvarint(&s);
    tap_ok(s.err, "uvarint with 6 bytes rejected");
    od_slice_init(&s, toobig5, sizeof toobig5);
    od_read_varint(&s);
    tap_ok(s.err, "varint with bits past 32 rejected");
    od_slice_init(&s, overlong10, sizeof overlong10);
    od_read_varlong(&s);
    tap_ok(s.err, "varlong with 11 bytes rejected");
    od_slice_init(&s, toobig10, sizeof toobig10);
    od_read_varlong(&s);
    tap_ok(s.err, "varlong with bits past 64 rejected");
    od_slice_init(&s, trunc, sizeof trunc);
    od_read_uvarint(&s);
    tap_ok(s.err, "truncated varint rejected");
    od_slice_init(&s, pad5, sizeof pad5);
    tap_ok(od_read_uvarint(&s) == 1 && od_slice_ok(&s), "padded 5-byte uvarint accepted");
}

static void test_strings(void)
{
    static const uint8_t cls[] = {0, 3, 'a', 'b', 'c', 0xff, 0xff, 0, 0, 0, 2, 'x', 'y',
                                  0xff, 0xff, 0xff, 0xff};
    static const uint8_t cmp[] = {4, 'a', 'b', 'c', 0, 3, 'x', 'y', 0, 1};
    od_slice_t s;
    od_str_t st;
    od_bytes_t b;
    od_wbuf_t w;
    od_uuid_t u, u2;

    od_slice_init(&s, cls, sizeof cls);
    st = od_read_str(&s, 0);
    tap_ok(od_str_eq(st, "abc"), "classic string");
    st = od_read_str(&s, 1);
    tap_ok(st.len == -1 && st.p == NULL && od_slice_ok(&s), "classic null string");
    b = od_read_bytes(&s, 0);
    tap_ok(b.len == 2 && memcmp(b.p, "xy", 2) == 0, "classic bytes");
    b = od_read_bytes(&s, 1);
    tap_ok(b.len == -1 && od_slice_ok(&s) && !od_slice_left(&s), "classic null bytes");

    od_slice_init(&s, cls + 5, 2);
    od_read_str(&s, 0);
    tap_ok(s.err, "null for non-nullable string rejected");
    od_slice_init(&s, cls, 4);
    od_read_str(&s, 0);
    tap_ok(s.err, "string longer than the slice rejected");
    od_slice_init(&s, (const uint8_t *)"\xff\xfe", 2);
    od_read_str(&s, 1);
    tap_ok(s.err, "string length -2 rejected");
    od_slice_init(&s, (const uint8_t *)"\x80\0\0\0", 4);
    od_read_bytes(&s, 1);
    tap_ok(s.err, "bytes length INT_MIN rejected");

    od_slice_init(&s, cmp, sizeof cmp);
    st = od_read_compact_str(&s, 0);
    tap_ok(od_str_eq(st, "abc"), "compact string");
    st = od_read_compact_str(&s, 1);
    tap_ok(st.len == -1, "compact null string");
    b = od_read_compact_bytes(&s, 0);
    tap_ok(b.len == 2 && memcmp(b.p, "xy", 2) == 0, "compact bytes");
    b = od_read_compact_bytes(&s, 1);
    tap_ok(b.len == -1 && od_slice_ok(&s), "compact null bytes");
    b = od_read_compact_bytes(&s, 1);
    tap_ok(b.len == 0 && od_slice_ok(&s), "compact empty bytes");
    od_read_compact_bytes(&s, 1);
    tap_ok(s.err, "empty slice: compact bytes fail");
    od_slice_init(&s, cmp + 4, 1);
    od_read_compact_str(&s, 0);
    tap_ok(s.err, "compact null for non-nullable rejected");
    od_slice_init(&s, (const uint8_t *)"\xff\xff\xff\xff\x0f", 5);
    od_read_compact_bytes(&s, 0);
    tap_ok(s.err, "compact bytes of 4G rejected");

    od_wbuf_init(&w);
    od_write_str(&w, od_str_c("abc"));
    od_write_str(&w, od_str_c(NULL));
    b.p = (const uint8_t *)"xy";
    b.len = 2;
    od_write_bytes(&w, b);
    b.len = -1;
    od_write_bytes(&w, b);
    check_bytes(&w, cls, sizeof cls, "classic string/bytes writers");
    od_wbuf_init(&w);
    od_write_compact_str(&w, od_str_c("abc"));
    od_write_compact_str(&w, od_str_c(NULL));
    b.len = 2;
    od_write_compact_bytes(&w, b);
    b.len = -1;
    od_write_compact_bytes(&w, b);
    check_bytes(&w, cmp, 9, "compact string/bytes writers");

    memset(u.b, 0, 16);
    u.b[0] = 0xaa;
    u.b[15] = 0x55;
    od_wbuf_init(&w);
    od_write_uuid(&w, &u);
    {
        size_t len;
        uint8_t *f = od_wbuf_flatten(&w, &len);
        od_slice_init(&s, f, len);
        u2 = od_read_uuid(&s);
        tap_ok(len == 16 && memcmp(u.b, u2.b, 16) == 0, "uuid round trip");
        free(f);
        od_wbuf_free(&w);
    }
    od_slice_init(&s, u.b, 15);
    u2 = od_read_uuid(&s);
    tap_ok(s.err && u2.b[0] == 0, "short uuid yields zero uuid");
    od_slice_init(&s, u.b, 16);
    tap_ok(od_read_raw(&s, 16) == u.b && od_read_raw(&s, 1) == NULL && s.err, "read_raw");
}

static void test_arrays(void)
{
    static const uint8_t big[] = {0x00, 0x00, 0x10, 0x00, 1, 2, 3, 4};
    static const uint8_t cnull[] = {0};
    od_slice_t s;
    od_wbuf_t w;

    od_slice_init(&s, big, sizeof big);
    tap_is_int(od_read_array_len(&s, 1), 0, "array count past the data rejected");
    tap_ok(s.err, "  ... sets err");
    od_slice_init(&s, big, sizeof big);
    od_read_array_len(&s, 0);
    tap_ok(od_slice_ok(&s), "min_elem_size 0 does not bound");
    od_slice_init(&s, (const uint8_t *)"\0\0\0\2ab", 6);
    tap_is_int(od_read_array_len(&s, 1), 2, "array count that fits");
    od_slice_init(&s, (const uint8_t *)"\0\0\0\2ab", 6);
    od_read_array_len(&s, 2);
    tap_ok(s.err, "array count * min size past the data rejected");
    od_slice_init(&s, (const uint8_t *)"\xff\xff\xff\xff", 4);
    tap_is_int(od_read_array_len(&s, 4), -1, "null array");
    od_slice_init(&s, (const uint8_t *)"\xff\xff\xff\xfe", 4);
    od_read_array_len(&s, 4);
    tap_ok(s.err, "array count -2 rejected");
    od_slice_init(&s, cnull, 1);
    tap_ok(od_read_compact_array_len(&s, 4) == -1 && od_slice_ok(&s), "compact null array");
    od_slice_init(&s, (const uint8_t *)"\xff\xff\xff\xff\x0f", 5);
    od_read_compact_array_len(&s, 1);
    tap_ok(s.err, "compact array of 4G rejected");
    od_slice_init(&s, (const uint8_t *)"\x03xy", 3);
    tap_is_int(od_read_compact_array_len(&s, 1), 2, "compact array count");

    od_wbuf_init(&w);
    od_write_array_len(&w, -1);
    od_write_array_len(&w, 3);
    od_write_compact_array_len(&w, -1);
    od_write_compact_array_len(&w, 3);
    check_bytes(&w, "\xff\xff\xff\xff\0\0\0\3\0\4", 10, "array length writers");
}

static void test_segments(void)
{
    od_wbuf_t w;
    od_ref_t r;
    uint8_t *big = malloc(100000), *f;
    char path[] = "/tmp/test_buf_XXXXXX";
    int fd = mkstemp(path), i;
    size_t len, pos;
    size_t j;

    for (j = 0; j < 100000; j++)
        big[j] = (uint8_t)(j * 7);
    od_wbuf_init(&w);
    od_write_raw(&w, big, 3000);
    od_write_raw(&w, big + 3000, 97000);
    tap_ok(w.nsegs >= 2 && w.segs[0].cap == 4096, "owned segments grow from 4 KiB");
    tap_ok(w.nsegs < 2 || w.segs[1].cap >= 8192, "  ... doubling");
    f = od_wbuf_flatten(&w, &len);
    tap_ok(f && len == 100000 && memcmp(f, big, len) == 0, "large write spans segments");
    free(f);
    od_wbuf_free(&w);
    tap_ok(w.nsegs == 0 && w.segs == NULL && w.total == 0, "free resets the wbuf");

    tap_ok(fd >= 0 && write(fd, "0123456789", 10) == 10, "temp file");
    memset(releases, 0, sizeof releases);
    od_wbuf_init(&w);
    pos = od_wbuf_reserve(&w, 4);
    od_write_raw(&w, "head", 4);
    memset(&r, 0, sizeof r);
    r.mem = (const uint8_t *)"MEM";
    r.len = 3;
    r.release = rel;
    r.opaque = (void *)(intptr_t)0;
    od_write_ref(&w, OD_SEG_MEMREF, &r);
    memset(&r, 0, sizeof r);
    r.fd = fd;
    r.file_off = 2;
    r.len = 5;
    r.release = rel;
    r.opaque = (void *)(intptr_t)1;
    od_write_ref(&w, OD_SEG_FILEREF, &r);
    od_write_raw(&w, "tail", 4);
    r.len = 0;
    r.opaque = (void *)(intptr_t)2;
    od_write_ref(&w, OD_SEG_FILEREF, &r);
    tap_is_int(releases[2], 1, "empty ref released at once");
    od_wbuf_patch(&w, pos, "\0\0\0\x10", 4);
    tap_ok(w.nsegs == 4 && w.segs[1].kind == OD_SEG_MEMREF && w.segs[2].kind == OD_SEG_FILEREF &&
               w.segs[3].kind == OD_SEG_OWNED,
           "a write after a ref opens a new owned segment");
    tap_is_int((int64_t)w.total, 20, "total includes refs");
    f = od_wbuf_flatten(&w, &len);
    tap_ok(f && len == 20 && memcmp(f, "\0\0\0\x10headMEM23456tail", 20) == 0,
           "flatten with memref, fileref (pread) and patch");
    free(f);
    tap_ok(releases[0] == 0 && releases[1] == 0, "refs not released before free");
    od_wbuf_patch(&w, 5, "X", 1);
    od_wbuf_patch(&w, 9, "X", 1);
    tap_ok(w.err, "patching a ref sets err");
    od_wbuf_free(&w);
    tap_ok(releases[0] == 1 && releases[1] == 1, "each ref released exactly once");

    /* A failed wbuf releases new refs at once and writes nothing. */
    od_wbuf_init(&w);
    w.err = 1;
    r.len = 5;
    r.opaque = (void *)(intptr_t)3;
    od_write_ref(&w, OD_SEG_FILEREF, &r);
    od_write_i32(&w, 1);
    tap_ok(releases[3] == 1 && w.total == 0 && od_wbuf_flatten(&w, &len) == NULL,
           "writes after err are no-ops; ref released");
    od_wbuf_free(&w);
    tap_is_int(releases[3], 1, "  ... and not released again");

    /* A reference past the end of the file makes flatten fail cleanly. */
    od_wbuf_init(&w);
    r.file_off = 8;
    r.len = 5;
    r.release = NULL;
    od_write_ref(&w, OD_SEG_FILEREF, &r);
    tap_ok(od_wbuf_flatten(&w, &len) == NULL, "flatten of a short file fails");
    od_wbuf_free(&w);

    /* Many small refs: the segment array grows. */
    memset(releases, 0, sizeof releases);
    od_wbuf_init(&w);
    for (i = 0; i < 50; i++) {
        memset(&r, 0, sizeof r);
        r.mem = (const uint8_t *)"ab";
        r.len = 2;
        r.release = rel;
        r.opaque = (void *)(intptr_t)0;
        od_write_ref(&w, OD_SEG_MEMREF, &r);
        od_write_i8(&w, 'c');
    }
    f = od_wbuf_flatten(&w, &len);
    tap_ok(f && len == 150 && memcmp(f + 147, "abc", 3) == 0, "100 segments flatten");
    free(f);
    od_wbuf_free(&w);
    tap_is_int(releases[0], 50, "50 refs released");

    od_wbuf_init(&w);
    tap_ok((f = od_wbuf_flatten(&w, &len)) != NULL && len == 0, "flatten of empty wbuf");
    free(f);
    od_wbuf_free(&w);

    if (fd >= 0) {
        close(fd);
        unlink(path);
    }
    free(big);
}

int main(void)
{
    tap_no_plan();
    test_fixed();
    test_varints();
    test_strings();
    test_arrays();
    test_segments();
    return tap_done();
}
