/* test_schema.c - the schema registry's part of the image
 * (core/schema/od_schema_store.c): SchemaRecord, RemoveSchemaSubjectRecord
 * and SchemaConfigRecord through od_metadata_apply, lookups, two proposals
 * that raced for one version, a snapshot replayed into a fresh core. */
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_metadata.h"
#include "od_proto_gen.h"
#include "od_schema.h"
#include "tap.h"

static int apply_schema(od_core_t *c, const char *subject, int32_t version, int32_t id,
                        const char *type, const char *text)
{
    od_wbuf_t w;
    od_wbuf_init(&w);
    od_metarec_frame(&w, OD_METAREC_SCHEMA, 0);
    od_SchemaRecord_t r;
    od_SchemaRecord_init(&r);
    r.subject = od_str_c(subject);
    r.version = version;
    r.id = id;
    r.schema_type = od_str_c(type);
    r.schema = od_str_c(text);
    od_SchemaRecord_encode(&w, 0, &r);
    size_t len;
    uint8_t *p = od_wbuf_flatten(&w, &len);
    od_wbuf_free(&w);
    char err[256];
    int rc = od_metadata_apply(c, p, len, 0, err, sizeof(err));
    if (rc < 0)
        tap_diag("apply: %s", err);
    free(p);
    return rc;
}

static int apply_simple(od_core_t *c, int16_t key, const char *subject, const char *level)
{
    od_wbuf_t w;
    od_wbuf_init(&w);
    od_metarec_frame(&w, key, 0);
    if (key == OD_METAREC_SCHEMA_CONFIG) {
        od_SchemaConfigRecord_t r;
        od_SchemaConfigRecord_init(&r);
        r.subject = od_str_c(subject);
        r.compatibility = od_str_c(level);
        od_SchemaConfigRecord_encode(&w, 0, &r);
    } else {
        od_RemoveSchemaSubjectRecord_t r;
        od_RemoveSchemaSubjectRecord_init(&r);
        r.subject = od_str_c(subject);
        od_RemoveSchemaSubjectRecord_encode(&w, 0, &r);
    }
    size_t len;
    uint8_t *p = od_wbuf_flatten(&w, &len);
    od_wbuf_free(&w);
    char err[256];
    int rc = od_metadata_apply(c, p, len, 0, err, sizeof(err));
    free(p);
    return rc;
}

int main(void)
{
    od_core_t *a = od_core_new();
    int rc = apply_schema(a, "t-value", 1, 1, "AVRO", "\"string\"");
    rc |= apply_schema(a, "t-value", 2, 2, "AVRO", "\"long\"");
    rc |= apply_schema(a, "u-value", 1, 1, "AVRO", "\"string\""); /* same schema, same id */
    rc |= apply_schema(a, "t-value", 2, 3, "JSON", "{}"); /* raced for version 2 */
    tap_is_int(rc, 0, "SchemaRecords applied");
    int32_t v = 0;
    tap_is_int(od_schema_version_id(a, "t-value", -1, &v), 3, "latest of t-value is id 3");
    tap_is_int(v, 3, "the raced proposal became version 3");
    tap_ok(od_schema_subject_has(a, "u-value", 1, NULL) && !od_schema_subject_has(a, "u-value", 2,
                                                                                  NULL),
           "u-value has id 1 only");
    tap_is_int(apply_schema(a, "t-value", 1, 1, "AVRO", "\"string\""), 0,
               "a record applied twice (snapshot and log) is harmless");
    int32_t vers[8];
    tap_is_int((int64_t)od_schema_versions(a, "t-value", vers, 8), 3, "still three versions");
    tap_is_int(apply_simple(a, OD_METAREC_SCHEMA_CONFIG, "u-value", "FULL"), 0, "level of u-value");
    tap_is_int(apply_simple(a, OD_METAREC_SCHEMA_CONFIG, "", "NONE"), 0, "global level");
    tap_is_int(apply_simple(a, OD_METAREC_SCHEMA_CONFIG, "", "SIDEWAYS"), -1,
               "an unknown level is refused");
    tap_is_int(od_schema_compat(a, "u-value", 0), OD_COMPAT_FULL, "u-value is FULL");
    tap_is_int(od_schema_compat(a, "t-value", 0), OD_COMPAT_NONE, "t-value takes the global NONE");
    tap_is_int(apply_simple(a, OD_METAREC_REMOVE_SCHEMA_SUBJECT, "t-value", NULL), 0, "t-value removed");
    tap_ok(od_schema_version_id(a, "t-value", -1, NULL) < 0 && od_schema_by_id(a, 2),
           "its versions are gone, its ids still resolve");
    tap_is_int(apply_schema(a, "x", 1, 0, "AVRO", "\"int\""), -1, "id 0 is refused");
    tap_is_int(od_schema_next_id(a), 4, "next id follows the highest");

    od_meta_record_t *recs = NULL;
    size_t n = 0;
    tap_is_int(od_schema_store_snapshot(a, &recs, &n), 0, "snapshot");
    od_core_t *b = od_core_new();
    char err[256];
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        ok &= od_metadata_apply(b, recs[i].data, recs[i].len, (int64_t)i, err, sizeof(err)) == 0;
        free((void *)recs[i].data);
    }
    free(recs);
    tap_ok(ok, "the snapshot replays (%zu records)", n);
    od_schema_t *s3 = od_schema_by_id(b, 3);
    tap_ok(s3 && strcmp(s3->type, "JSON") == 0 && strcmp(s3->text, "{}") == 0,
           "ids of the removed subject survive the snapshot");
    tap_ok(od_schema_subject_has(b, "u-value", 1, NULL), "u-value survives");
    tap_is_int(od_schema_compat(b, "u-value", 1), OD_COMPAT_FULL, "its level survives");
    tap_is_int(od_schema_compat(b, "other", 0), OD_COMPAT_NONE, "the global level survives");
    tap_ok(od_schema_subject_at(b, 0) && strcmp(od_schema_subject_at(b, 0), "u-value") == 0 &&
               !od_schema_subject_at(b, 1),
           "one subject after the replay");
    od_schema_store_free(a);
    od_schema_store_free(b);
    od_image_free(a, &a->image);
    od_image_free(b, &b->image);
    od_core_free(a);
    od_core_free(b);
    return tap_done();
}
