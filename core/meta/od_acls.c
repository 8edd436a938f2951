/* od_acls.c - ACL bindings in the image (see od_acls.h). The store is
 * keyed by the binding's id (removals name only the id) and keeps the
 * order bindings were applied, so the authorizer sees a replay in log
 * order. */
#include "od_acls.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_acl.h"
#include "od_authz.h"
#include "od_core.h"
#include "od_meta_batch.h"
#include "od_proto_gen.h"

static size_t id_bucket(const uint8_t id[16], size_t nb)
{
    uint64_t h;
    memcpy(&h, id, sizeof(h)); /* ids are random */
    return (size_t)(h % nb);
}

static od_acl_entry_t *find(const od_acl_store_t *s, const uint8_t id[16])
{
    if (!s || !s->nbuckets)
        return NULL;
    for (od_acl_entry_t *e = s->buckets[id_bucket(id, s->nbuckets)]; e; e = e->next_by_id)
        if (memcmp(e->id, id, 16) == 0)
            return e;
    return NULL;
}

static int grow(od_acl_store_t *s)
{
    size_t nb = s->nbuckets ? s->nbuckets * 2 : 64;
    od_acl_entry_t **b = calloc(nb, sizeof(*b));
    if (!b)
        return -1;
    for (od_acl_entry_t *e = s->head; e; e = e->next) {
        size_t i = id_bucket(e->id, nb);
        e->next_by_id = b[i];
        b[i] = e;
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = nb;
    return 0;
}

static void free_entry(od_acl_entry_t *e)
{
    free((char *)e->acl.resource_name);
    free((char *)e->acl.principal);
    free((char *)e->acl.host);
    free(e);
}

static char *dup_str(od_str_t s)
{
    return strndup(s.p ? s.p : "", s.len > 0 ? (size_t)s.len : 0);
}

int od_acls_apply_add(od_core_t *core, const od_AccessControlEntryRecord_t *r, char *err,
                      size_t errsz)
{
    od_image_t *img = &core->image;
    if (!img->acls && !(img->acls = calloc(1, sizeof(*img->acls))))
        goto oom;
    od_acl_store_t *s = img->acls;
    if (find(s, r->id.b)) {
        od_logf(OD_LOG_WARN, "metadata: ACL id applied twice; the second is skipped");
        return 0;
    }
    od_acl_entry_t *e = calloc(1, sizeof(*e));
    if (!e)
        goto oom;
    memcpy(e->id, r->id.b, 16);
    e->acl.struct_size = sizeof(e->acl);
    e->acl.resource_type = r->resource_type;
    e->acl.pattern_type = r->pattern_type;
    e->acl.operation = r->operation;
    e->acl.permission = r->permission_type;
    e->acl.resource_name = dup_str(r->resource_name);
    e->acl.principal = dup_str(r->principal);
    e->acl.host = dup_str(r->host);
    if (!e->acl.resource_name || !e->acl.principal || !e->acl.host) {
        free_entry(e);
        goto oom;
    }
    char why[256];
    if (od_acl_check_binding(&e->acl, why, sizeof(why)) < 0) {
        od_logf(OD_LOG_WARN, "metadata: ACL record skipped: %s", why);
        free_entry(e);
        return 0;
    }
    if (s->n + 1 > s->nbuckets && grow(s) < 0) {
        free_entry(e);
        goto oom;
    }
    size_t b = id_bucket(e->id, s->nbuckets);
    e->next_by_id = s->buckets[b];
    s->buckets[b] = e;
    e->prev = s->tail;
    if (s->tail)
        s->tail->next = e;
    else
        s->head = e;
    s->tail = e;
    s->n++;
    od_authz_acl_added(core, e->id, &e->acl);
    return 0;
oom:
    snprintf(err, errsz, "out of memory");
    return -1;
}

int od_acls_apply_remove(od_core_t *core, const od_RemoveAccessControlEntryRecord_t *r,
                         char *err, size_t errsz)
{
    (void)err;
    (void)errsz;
    od_acl_store_t *s = core->image.acls;
    od_acl_entry_t *e = find(s, r->id.b);
    if (!e)
        return 0; /* removed already: nothing to do */
    od_acl_entry_t **pp = &s->buckets[id_bucket(e->id, s->nbuckets)];
    while (*pp != e)
        pp = &(*pp)->next_by_id;
    *pp = e->next_by_id;
    if (e->prev)
        e->prev->next = e->next;
    else
        s->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        s->tail = e->prev;
    s->n--;
    od_authz_acl_removed(core, e->id);
    free_entry(e);
    return 0;
}

void od_acls_replay(od_core_t *core)
{
    for (const od_acl_entry_t *e = od_acls_next(&core->image, NULL); e;
         e = od_acls_next(&core->image, e))
        od_authz_acl_added(core, e->id, &e->acl);
}

void od_acls_free(od_image_t *img)
{
    od_acl_store_t *s = img->acls;
    if (!s)
        return;
    for (od_acl_entry_t *e = s->head, *n; e; e = n) {
        n = e->next;
        free_entry(e);
    }
    free(s->buckets);
    free(s);
    img->acls = NULL;
}

const od_acl_entry_t *od_acls_next(const od_image_t *img, const od_acl_entry_t *prev)
{
    if (prev)
        return prev->next;
    return img->acls ? img->acls->head : NULL;
}

size_t od_acls_count(const od_image_t *img)
{
    return img->acls ? img->acls->n : 0;
}

static void fill_record(od_AccessControlEntryRecord_t *r, const uint8_t id[16], const od_acl_t *a)
{
    od_AccessControlEntryRecord_init(r);
    memcpy(r->id.b, id, 16);
    r->resource_type = (int8_t)a->resource_type;
    r->resource_name = od_str_c(a->resource_name);
    r->pattern_type = (int8_t)a->pattern_type;
    r->principal = od_str_c(a->principal);
    r->host = od_str_c(a->host);
    r->operation = (int8_t)a->operation;
    r->permission_type = (int8_t)a->permission;
}

void od_acls_encode(const od_acl_entry_t *e, od_wbuf_t *w)
{
    od_AccessControlEntryRecord_t r;
    fill_record(&r, e->id, &e->acl);
    od_AccessControlEntryRecord_encode(w, 0, &r);
}

/* One record per binding (add) or id (remove), proposed together so a
 * request's changes commit at once. */
static int propose(od_core_t *core, const od_acl_t *acls, const uint8_t (*ids)[16], size_t n,
                   od_meta_done_cb cb, void *arg, char *err, size_t errsz)
{
    if (n == 0) {
        if (cb)
            cb(arg, OD_ERR_NONE, NULL);
        return 0;
    }
    od_meta_batch_t b = {0};
    for (size_t i = 0; i < n; i++) {
        if (acls) {
            uint8_t id[16];
            randombytes_buf(id, sizeof(id));
            od_AccessControlEntryRecord_t r;
            fill_record(&r, id, &acls[i]);
            od_wbuf_t *w = od_meta_batch_add(&b, OD_METAREC_ACCESS_CONTROL_ENTRY, 0);
            if (w)
                od_AccessControlEntryRecord_encode(w, 0, &r);
        } else {
            od_RemoveAccessControlEntryRecord_t r;
            od_RemoveAccessControlEntryRecord_init(&r);
            memcpy(r.id.b, ids[i], 16);
            od_wbuf_t *w = od_meta_batch_add(&b, OD_METAREC_REMOVE_ACCESS_CONTROL_ENTRY, 0);
            if (w)
                od_RemoveAccessControlEntryRecord_encode(w, 0, &r);
        }
    }
    return od_meta_propose(core, &b, cb, arg, err, errsz);
}

int od_acls_propose_add(od_core_t *core, const od_acl_t *acls, size_t n, od_meta_done_cb cb,
                        void *arg, char *err, size_t errsz)
{
    return propose(core, acls, NULL, n, cb, arg, err, errsz);
}

int od_acls_propose_remove(od_core_t *core, const uint8_t (*ids)[16], size_t n,
                           od_meta_done_cb cb, void *arg, char *err, size_t errsz)
{
    return propose(core, NULL, ids, n, cb, arg, err, errsz);
}
