/* od_schema.h - the schema registry of the core (doc/serializers.md):
 * schemas versioned per subject with global ids, compatibility levels,
 * kept as metadata records (api keys 10000+, schema-registry.ods) so they
 * are replayed and snapshotted with the rest of the image; a Confluent
 * Schema Registry compatible REST API on schema.registry.listener; and the
 * produce-path validation of keys and values (confluent.*.schema.validation).
 * The formats themselves are serializer modules (ABI 1.3), found by name. */
#ifndef OD_SCHEMA_H
#define OD_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "od_buf.h"

struct od_core;
struct od_req;
struct od_topic;
struct od_meta_record;
struct od_ProduceResponse_PartitionProduceResponse;

/* One schema, by global id. */
typedef struct od_schema {
    int32_t id;
    char type[16]; /* Confluent's schemaType: AVRO, JSON or PROTOBUF */
    char *text;    /* as registered, NUL terminated */
    size_t len;
    /* compiled on first use by the serializer for type */
    void *compiled;
    const void *ops; /* const od_serializer_ops_t * that compiled it */
    void *ops_self;
    int compiled_state; /* 0 not yet, 1 compiled, -1 failed (why holds the reason) */
    char why[256];
    /* the record name for RecordNameStrategy: computed on first use */
    int recname_state; /* 0 not yet, 1 known, -1 none */
    char recname[256];
} od_schema_t;

/* Compatibility levels (Confluent's names). */
typedef enum od_compat {
    OD_COMPAT_NONE = 0,
    OD_COMPAT_BACKWARD,
    OD_COMPAT_BACKWARD_TRANSITIVE,
    OD_COMPAT_FORWARD,
    OD_COMPAT_FORWARD_TRANSITIVE,
    OD_COMPAT_FULL,
    OD_COMPAT_FULL_TRANSITIVE,
    OD_COMPAT_UNSET /* a subject without its own level */
} od_compat_t;
const char *od_compat_name(od_compat_t c);
int od_compat_parse(const char *s, od_compat_t *out); /* 0, or -1 */

/* ---- the store (od_schema_store.c), part of the image ---- */

/* Apply a committed SchemaRecord, RemoveSchemaSubjectRecord or
 * SchemaConfigRecord (od_metadata_apply). 0, or -1 with err. */
int od_schema_store_apply(struct od_core *core, int16_t key, int16_t version, od_slice_t *body,
                          char *err, size_t errsz);
/* Append the records that rebuild the store to *out (od_metadata_snapshot). */
int od_schema_store_snapshot(struct od_core *core, struct od_meta_record **out, size_t *n);
void od_schema_store_free(struct od_core *core);

od_schema_t *od_schema_by_id(struct od_core *core, int32_t id);
/* The id of version (-1: latest) of subject, or -1 when there is none. */
int32_t od_schema_version_id(struct od_core *core, const char *subject, int32_t version,
                             int32_t *version_out);
/* Whether id is one of subject's versions (then *version gets it). */
int od_schema_subject_has(struct od_core *core, const char *subject, int32_t id,
                          int32_t *version);
/* Subjects in name order (i from 0; NULL past the end) and their versions. */
const char *od_schema_subject_at(struct od_core *core, size_t i);
size_t od_schema_versions(struct od_core *core, const char *subject, int32_t *out, size_t max);
/* The subject's level, or the global one (unset: schema.compatibility.level). */
od_compat_t od_schema_compat(struct od_core *core, const char *subject, int own_only);
int32_t od_schema_next_id(struct od_core *core);
/* The id a schema of this type and text already has anywhere, or -1. */
int32_t od_schema_find_text(struct od_core *core, const char *type, const char *text, size_t len);

/* The serializer of a schema type ("AVRO" -> "avro"), compiling s on first
 * use. 0 with *ops, *self and *compiled set, or -1 with err. */
int od_schema_compiled(struct od_core *core, od_schema_t *s, const void **ops, void **self,
                       void **compiled, char *err, size_t errsz);

/* The fully qualified record name of a schema (RecordNameStrategy): Avro
 * the top-level named type's namespace.name, JSON the "title". NULL when
 * it has none (why set). */
const char *od_schema_record_name(od_schema_t *s, char *why, size_t whysz);

/* ---- registering (od_schema_registry.c) ---- */

/* Compatibility of a candidate (type, text) with subject's versions under
 * level (version -1: per level's rule, latest or all; else that version
 * only). 1 compatible, 0 not (why set), -1 the candidate does not compile
 * (why set). */
int od_schema_check_compat(struct od_core *core, const char *subject, const char *type,
                           const char *text, size_t len, int32_t version, char *why,
                           size_t whysz);

typedef void (*od_schema_done_fn)(void *arg, int status, int32_t id, const char *msg);
/* Register (type, text) under subject: the existing id when the subject
 * already has it, else compatibility checked and a SchemaRecord proposed;
 * done runs on commit (possibly before the call returns). status: 0, or
 * an HTTP-style Confluent error (40901 incompatible, 42201 invalid
 * schema, 50001 store error). */
void od_schema_register(struct od_core *core, const char *subject, const char *type,
                        const char *text, size_t len, od_schema_done_fn done, void *arg);
/* Propose a RemoveSchemaSubjectRecord or a SchemaConfigRecord (subject ""
 * for the global level; OD_COMPAT_UNSET removes a subject's own). */
void od_schema_delete_subject(struct od_core *core, const char *subject, od_schema_done_fn done,
                              void *arg);
void od_schema_set_compat(struct od_core *core, const char *subject, od_compat_t c,
                          od_schema_done_fn done, void *arg);

/* The subsystem: schema.* keys, schema.files at start, the REST listener. */
int od_schema_register_config(struct od_core *core, char *err, size_t errsz);
int od_schema_start(struct od_core *core, char *err, size_t errsz);
void od_schema_stop(struct od_core *core);

/* The REST API (od_schema_http.c). */
int od_schema_http_open(struct od_core *core, const char *url, char *err, size_t errsz);
void od_schema_http_close(struct od_core *core);

/* ---- the produce path (od_schema_check.c) ---- */

/* With confluent.key/value.schema.validation on for t, every record's key
 * and/or value must parse (registry wire format: the id must exist under
 * <topic>-key / <topic>-value and the payload validate against it; else
 * the format of odradek.key/value.serializer). Returns 0 when the
 * partition's batches pass; 1 when refused: out gets INVALID_RECORD, the
 * error_message and the record_errors (request arena), and nothing of the
 * partition may be appended. */
int od_schema_produce_check(struct od_req *r, const struct od_topic *t, const char *topic,
                            int32_t partition, const uint8_t *batches, size_t len,
                            struct od_ProduceResponse_PartitionProduceResponse *out);

#endif
