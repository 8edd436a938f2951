/* test_acls.c - ACL bindings in the metadata image (core/meta/od_acls.c):
 * AccessControlEntryRecord / RemoveAccessControlEntryRecord applied in
 * order, bad and repeated records skipped, snapshots that rebuild the same
 * bindings in the same order. */
#include <stdlib.h>
#include <string.h>

#include "od_acls.h"
#include "od_core.h"
#include "od_proto_gen.h"
#include "tap.h"

static uint8_t *frame_acl(uint8_t idbyte, int8_t type, const char *name, int8_t pattern,
                          const char *principal, int8_t op, int8_t perm, size_t *len)
{
    od_wbuf_t w;
    od_wbuf_init(&w);
    od_metarec_frame(&w, OD_METAREC_ACCESS_CONTROL_ENTRY, 0);
    od_AccessControlEntryRecord_t r;
    od_AccessControlEntryRecord_init(&r);
    memset(r.id.b, idbyte, 16);
    r.resource_type = type;
    r.resource_name = od_str_c(name);
    r.pattern_type = pattern;
    r.principal = od_str_c(principal);
    r.host = od_str_c("*");
    r.operation = op;
    r.permission_type = perm;
    od_AccessControlEntryRecord_encode(&w, 0, &r);
    uint8_t *p = od_wbuf_flatten(&w, len);
    od_wbuf_free(&w);
    return p;
}

static uint8_t *frame_remove(uint8_t idbyte, size_t *len)
{
    od_wbuf_t w;
    od_wbuf_init(&w);
    od_metarec_frame(&w, OD_METAREC_REMOVE_ACCESS_CONTROL_ENTRY, 0);
    od_RemoveAccessControlEntryRecord_t r;
    od_RemoveAccessControlEntryRecord_init(&r);
    memset(r.id.b, idbyte, 16);
    od_RemoveAccessControlEntryRecord_encode(&w, 0, &r);
    uint8_t *p = od_wbuf_flatten(&w, len);
    od_wbuf_free(&w);
    return p;
}

/* The record's length is read after the framing call made it. */
static int apply(od_core_t *c, uint8_t *rec, const size_t *lenp, int64_t off)
{
    char err[256];
    int rc = od_metadata_apply(c, rec, *lenp, off, err, sizeof(err));
    if (rc < 0)
        tap_diag("apply: %s", err);
    free(rec);
    return rc;
}

/* The resource names of the image's bindings, in order, comma separated. */
static void names(od_image_t *img, char *out, size_t n)
{
    out[0] = '\0';
    for (const od_acl_entry_t *e = od_acls_next(img, NULL); e; e = od_acls_next(img, e)) {
        size_t k = strlen(out);
        snprintf(out + k, n - k, "%s%s", k ? "," : "", e->acl.resource_name);
    }
}

int main(void)
{
    tap_no_plan();
    od_core_t *a = od_core_new();
    a->conf.node_id = 99;
    size_t len;
    int64_t off = 0;
    char got[256];
    int rc = apply(a, frame_acl(1, OD_RES_TOPIC, "orders", OD_PATTERN_LITERAL, "User:a",
                                OD_ACL_OP_READ, OD_PERM_ALLOW, &len), &len, off++);
    rc |= apply(a, frame_acl(2, OD_RES_GROUP, "g", OD_PATTERN_LITERAL, "User:a", OD_ACL_OP_READ,
                             OD_PERM_ALLOW, &len), &len, off++);
    rc |= apply(a, frame_acl(3, OD_RES_TOPIC, "pay-", OD_PATTERN_PREFIXED, "User:b",
                             OD_ACL_OP_WRITE, OD_PERM_DENY, &len), &len, off++);
    tap_is_int(rc, 0, "three AccessControlEntryRecords applied");
    tap_is_int(apply(a, frame_acl(2, OD_RES_TOPIC, "again", OD_PATTERN_LITERAL, "User:a",
                                  OD_ACL_OP_READ, OD_PERM_ALLOW, &len), &len, off++), 0,
               "an id applied twice is skipped, not fatal");
    tap_is_int(apply(a, frame_acl(4, OD_RES_ANY, "bad", OD_PATTERN_LITERAL, "User:a",
                                  OD_ACL_OP_READ, OD_PERM_ALLOW, &len), &len, off++), 0,
               "a binding that is not valid is skipped, not fatal");
    names(&a->image, got, sizeof(got));
    tap_ok(strcmp(got, "orders,g,pay-") == 0, "the image holds the three in order (%s)", got);
    tap_is_int((int64_t)od_acls_count(&a->image), 3, "three bindings");

    tap_is_int(apply(a, frame_remove(2, &len), &len, off++), 0, "RemoveAccessControlEntryRecord");
    tap_is_int(apply(a, frame_remove(2, &len), &len, off++), 0, "removing it again is a no-op");
    tap_is_int(apply(a, frame_remove(77, &len), &len, off++), 0, "an unknown id is a no-op");
    names(&a->image, got, sizeof(got));
    tap_ok(strcmp(got, "orders,pay-") == 0, "two left (%s)", got);
    rc = apply(a, frame_acl(5, OD_RES_CLUSTER, "kafka-cluster", OD_PATTERN_LITERAL, "User:ops",
                            OD_ACL_OP_ALTER, OD_PERM_ALLOW, &len), &len, off++);
    tap_is_int(rc, 0, "a cluster binding");

    od_meta_record_t *recs;
    size_t n;
    tap_is_int(od_metadata_snapshot(a, &recs, &n), 0, "snapshot");
    tap_is_int((int64_t)n, 3, "the snapshot has the three bindings");
    od_image_t saved = a->image;
    od_image_init(&a->image);
    char err[256];
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        ok &= od_metadata_apply(a, recs[i].data, recs[i].len, (int64_t)i, err, sizeof(err)) == 0;
        free((void *)recs[i].data);
    }
    free(recs);
    tap_ok(ok, "the snapshot replays");
    names(&a->image, got, sizeof(got));
    tap_ok(strcmp(got, "orders,pay-,kafka-cluster") == 0, "same bindings, same order (%s)", got);
    const od_acl_entry_t *e = od_acls_next(&a->image, NULL);
    e = od_acls_next(&a->image, e);
    uint8_t id3[16];
    memset(id3, 3, 16);
    tap_ok(e && memcmp(e->id, id3, 16) == 0 && e->acl.pattern_type == OD_PATTERN_PREFIXED &&
               e->acl.permission == OD_PERM_DENY && strcmp(e->acl.principal, "User:b") == 0,
           "ids and fields survive the snapshot");

    /* Many bindings: the id table grows, removals by id stay right. */
    int bad = 0;
    for (int i = 0; i < 2000; i++) {
        char nm[32];
        snprintf(nm, sizeof(nm), "t%d", i);
        od_wbuf_t w;
        od_wbuf_init(&w);
        od_metarec_frame(&w, OD_METAREC_ACCESS_CONTROL_ENTRY, 0);
        od_AccessControlEntryRecord_t r;
        od_AccessControlEntryRecord_init(&r);
        memset(r.id.b, 0, 16);
        memcpy(r.id.b, &i, sizeof(i));
        r.id.b[15] = 0xee;
        r.resource_type = OD_RES_TOPIC;
        r.resource_name = od_str_c(nm);
        r.pattern_type = OD_PATTERN_LITERAL;
        r.principal = od_str_c("User:x");
        r.host = od_str_c("*");
        r.operation = OD_ACL_OP_WRITE;
        r.permission_type = OD_PERM_ALLOW;
        od_AccessControlEntryRecord_encode(&w, 0, &r);
        uint8_t *p = od_wbuf_flatten(&w, &len);
        od_wbuf_free(&w);
        bad |= apply(a, p, &len, off++);
    }
    for (int i = 0; i < 2000; i += 2) {
        od_wbuf_t w;
        od_wbuf_init(&w);
        od_metarec_frame(&w, OD_METAREC_REMOVE_ACCESS_CONTROL_ENTRY, 0);
        od_RemoveAccessControlEntryRecord_t r;
        od_RemoveAccessControlEntryRecord_init(&r);
        memset(r.id.b, 0, 16);
        memcpy(r.id.b, &i, sizeof(i));
        r.id.b[15] = 0xee;
        od_RemoveAccessControlEntryRecord_encode(&w, 0, &r);
        uint8_t *p = od_wbuf_flatten(&w, &len);
        od_wbuf_free(&w);
        bad |= apply(a, p, &len, off++);
    }
    tap_is_int(bad, 0, "2000 bindings added, 1000 removed");
    tap_is_int((int64_t)od_acls_count(&a->image), 3 + 1000, "1003 left");
    od_image_free(a, &a->image);
    od_image_free(a, &saved);
    od_core_free(a);
    return tap_done();
}
