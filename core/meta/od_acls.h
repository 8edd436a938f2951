/* od_acls.h - ACL bindings in the metadata image: applied from committed
 * AccessControlEntryRecord / RemoveAccessControlEntryRecord records, part of
 * snapshots, handed to the authorizer in log order, proposed by
 * CreateAcls/DeleteAcls. */
#ifndef OD_ACLS_H
#define OD_ACLS_H

#include <stddef.h>
#include <stdint.h>

#include "od_buf.h"
#include "od_metadata.h"
#include "od_proto_gen.h"
#include "odradek-module.h"

struct od_core;

typedef struct od_acl_entry {
    uint8_t id[16];
    od_acl_t acl; /* its strings are owned by the entry */
    struct od_acl_entry *next_by_id;
    struct od_acl_entry *prev, *next; /* in the order applied */
} od_acl_entry_t;

typedef struct od_acl_store {
    od_acl_entry_t **buckets;
    size_t nbuckets, n;
    od_acl_entry_t *head, *tail;
} od_acl_store_t;

/* Apply one committed record (the body after the record header was decoded
 * by od_metadata_apply). 0, or -1 with err. A binding that is not valid
 * or an id applied twice is logged and skipped, as a newer controller may
 * know more. */
int od_acls_apply_add(struct od_core *core, const od_AccessControlEntryRecord_t *r, char *err,
                      size_t errsz);
int od_acls_apply_remove(struct od_core *core, const od_RemoveAccessControlEntryRecord_t *r,
                         char *err, size_t errsz);
/* Every binding of the image to the authorizer, in the order applied. */
void od_acls_replay(struct od_core *core);
void od_acls_free(od_image_t *img);

/* Iterate: NULL starts; NULL at the end. */
const od_acl_entry_t *od_acls_next(const od_image_t *img, const od_acl_entry_t *prev);
size_t od_acls_count(const od_image_t *img);
/* The binding's AccessControlEntryRecord body (for snapshots). */
void od_acls_encode(const od_acl_entry_t *e, od_wbuf_t *w);

/* Propose n new bindings (each gets a fresh id) or the removal of n ids;
 * cb runs once committed. 0, or -1 with err. */
int od_acls_propose_add(struct od_core *core, const od_acl_t *acls, size_t n, od_meta_done_cb cb,
                        void *arg, char *err, size_t errsz);
int od_acls_propose_remove(struct od_core *core, const uint8_t (*ids)[16], size_t n,
                           od_meta_done_cb cb, void *arg, char *err, size_t errsz);

#endif
