/* acl_index.c - the ACL authorizer's index and Kafka's decision rules (see
 * acl_index.h). */
#include "acl_index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct acl_entry {
    uint8_t id[16];
    char *principal, *host;
    int operation, permission;
    struct acl_bucket *bucket;
    struct acl_entry *next_by_id;
    struct acl_entry *prev, *next; /* in the bucket */
} acl_entry_t;

/* All bindings of one resource pattern. */
typedef struct acl_bucket {
    int resource_type, pattern_type;
    char *name;
    size_t len;
    uint64_t hash;
    acl_entry_t *head;
    struct acl_bucket *next;
} acl_bucket_t;

#define NTYPES 8

struct acl_index {
    acl_bucket_t **buckets;
    size_t nbuckets, nresources;
    acl_entry_t **ids;
    size_t nids_buckets, n;
    size_t max_prefix[NTYPES];    /* longest prefixed pattern per type, */
    size_t nprefixed[NTYPES];     /* how many there are */
};

#define FNV_OFFSET 14695981039346656037ULL
#define FNV_PRIME  1099511628211ULL

/* FNV-1a over (type, pattern) then the name's bytes: the hash of every
 * prefix of a name falls out of one pass. */
static uint64_t seed(int type, int pattern)
{
    uint64_t h = FNV_OFFSET;
    h = (h ^ (uint8_t)type) * FNV_PRIME;
    return (h ^ (uint8_t)pattern) * FNV_PRIME;
}

static uint64_t step(uint64_t h, char c) { return (h ^ (uint8_t)c) * FNV_PRIME; }

static uint64_t hash_name(int type, int pattern, const char *name, size_t len)
{
    uint64_t h = seed(type, pattern);
    for (size_t i = 0; i < len; i++)
        h = step(h, name[i]);
    return h;
}

acl_index_t *acl_index_new(void)
{
    acl_index_t *ix = calloc(1, sizeof(*ix));
    if (!ix)
        return NULL;
    ix->nbuckets = 64;
    ix->nids_buckets = 64;
    ix->buckets = calloc(ix->nbuckets, sizeof(*ix->buckets));
    ix->ids = calloc(ix->nids_buckets, sizeof(*ix->ids));
    if (!ix->buckets || !ix->ids) {
        acl_index_free(ix);
        return NULL;
    }
    return ix;
}

static void free_entry(acl_entry_t *e)
{
    free(e->principal);
    free(e->host);
    free(e);
}

void acl_index_free(acl_index_t *ix)
{
    if (!ix)
        return;
    for (size_t i = 0; ix->buckets && i < ix->nbuckets; i++)
        for (acl_bucket_t *b = ix->buckets[i], *nb; b; b = nb) {
            nb = b->next;
            for (acl_entry_t *e = b->head, *ne; e; e = ne) {
                ne = e->next;
                free_entry(e);
            }
            free(b->name);
            free(b);
        }
    free(ix->buckets);
    free(ix->ids);
    free(ix);
}

size_t acl_index_count(const acl_index_t *ix) { return ix->n; }

static size_t id_slot(const uint8_t id[16], size_t n)
{
    uint64_t h;
    memcpy(&h, id, sizeof(h)); /* ids are random */
    return (size_t)(h % n);
}

static acl_entry_t **find_id(const acl_index_t *ix, const uint8_t id[16])
{
    acl_entry_t **pp = &ix->ids[id_slot(id, ix->nids_buckets)];
    while (*pp && memcmp((*pp)->id, id, 16) != 0)
        pp = &(*pp)->next_by_id;
    return pp;
}

static acl_bucket_t *find_bucket(const acl_index_t *ix, int type, int pattern, const char *name,
                                 size_t len, uint64_t h)
{
    for (acl_bucket_t *b = ix->buckets[h % ix->nbuckets]; b; b = b->next)
        if (b->hash == h && b->len == len && b->resource_type == type &&
            b->pattern_type == pattern && memcmp(b->name, name, len) == 0)
            return b;
    return NULL;
}

/* Doubling keeps chains short; both tables rehash in place. */
static int grow_ids(acl_index_t *ix)
{
    size_t nn = ix->nids_buckets * 2;
    acl_entry_t **t = calloc(nn, sizeof(*t));
    if (!t)
        return -1;
    for (size_t i = 0; i < ix->nids_buckets; i++)
        for (acl_entry_t *e = ix->ids[i], *ne; e; e = ne) {
            ne = e->next_by_id;
            size_t s = id_slot(e->id, nn);
            e->next_by_id = t[s];
            t[s] = e;
        }
    free(ix->ids);
    ix->ids = t;
    ix->nids_buckets = nn;
    return 0;
}

static int grow_buckets(acl_index_t *ix)
{
    size_t nn = ix->nbuckets * 2;
    acl_bucket_t **t = calloc(nn, sizeof(*t));
    if (!t)
        return -1;
    for (size_t i = 0; i < ix->nbuckets; i++)
        for (acl_bucket_t *b = ix->buckets[i], *nb; b; b = nb) {
            nb = b->next;
            b->next = t[b->hash % nn];
            t[b->hash % nn] = b;
        }
    free(ix->buckets);
    ix->buckets = t;
    ix->nbuckets = nn;
    return 0;
}

int acl_index_add(acl_index_t *ix, const uint8_t id[16], const od_acl_t *a)
{
    if (!a->resource_name || !a->principal || !a->host || a->resource_type < 0 ||
        a->resource_type >= NTYPES ||
        (a->pattern_type != OD_PATTERN_LITERAL && a->pattern_type != OD_PATTERN_PREFIXED) ||
        *find_id(ix, id))
        return OD_ERR_INVALID;
    if ((ix->n + 1 > ix->nids_buckets && grow_ids(ix) < 0) ||
        (ix->nresources + 1 > ix->nbuckets && grow_buckets(ix) < 0))
        return OD_ERR_NOMEM;
    size_t len = strlen(a->resource_name);
    uint64_t h = hash_name(a->resource_type, a->pattern_type, a->resource_name, len);
    acl_bucket_t *b = find_bucket(ix, a->resource_type, a->pattern_type, a->resource_name, len, h);
    acl_entry_t *e = calloc(1, sizeof(*e));
    if (!e || !(e->principal = strdup(a->principal)) || !(e->host = strdup(a->host)))
        goto oom;
    if (!b) {
        if (!(b = calloc(1, sizeof(*b))) || !(b->name = strndup(a->resource_name, len))) {
            free(b);
            goto oom;
        }
        b->resource_type = a->resource_type;
        b->pattern_type = a->pattern_type;
        b->len = len;
        b->hash = h;
        b->next = ix->buckets[h % ix->nbuckets];
        ix->buckets[h % ix->nbuckets] = b;
        ix->nresources++;
        if (b->pattern_type == OD_PATTERN_PREFIXED) {
            ix->nprefixed[b->resource_type]++;
            if (len > ix->max_prefix[b->resource_type])
                ix->max_prefix[b->resource_type] = len;
        }
    }
    memcpy(e->id, id, 16);
    e->operation = a->operation;
    e->permission = a->permission;
    e->bucket = b;
    e->next = b->head;
    if (b->head)
        b->head->prev = e;
    b->head = e;
    acl_entry_t **slot = &ix->ids[id_slot(id, ix->nids_buckets)];
    e->next_by_id = *slot;
    *slot = e;
    ix->n++;
    return OD_OK;
oom:
    if (e)
        free_entry(e);
    return OD_ERR_NOMEM;
}

/* The longest prefixed pattern left of a type, after one went away. */
static void recompute_max_prefix(acl_index_t *ix, int type)
{
    size_t m = 0;
    for (size_t i = 0; ix->nprefixed[type] && i < ix->nbuckets; i++)
        for (acl_bucket_t *b = ix->buckets[i]; b; b = b->next)
            if (b->resource_type == type && b->pattern_type == OD_PATTERN_PREFIXED && b->len > m)
                m = b->len;
    ix->max_prefix[type] = m;
}

int acl_index_remove(acl_index_t *ix, const uint8_t id[16])
{
    acl_entry_t **pp = find_id(ix, id), *e = *pp;
    if (!e)
        return OD_ERR_NOT_FOUND;
    *pp = e->next_by_id;
    acl_bucket_t *b = e->bucket;
    if (e->prev)
        e->prev->next = e->next;
    else
        b->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    free_entry(e);
    ix->n--;
    if (!b->head) { /* the last binding of the pattern: the bucket goes too */
        acl_bucket_t **bp = &ix->buckets[b->hash % ix->nbuckets];
        while (*bp != b)
            bp = &(*bp)->next;
        *bp = b->next;
        ix->nresources--;
        int type = b->resource_type, prefixed = b->pattern_type == OD_PATTERN_PREFIXED;
        size_t len = b->len;
        free(b->name);
        free(b);
        if (prefixed) {
            ix->nprefixed[type]--;
            if (len == ix->max_prefix[type])
                recompute_max_prefix(ix, type);
        }
    }
    return OD_OK;
}

/* Does an ALLOW of acl_op grant op? (Kafka's implied operations.) */
static int allow_grants(int acl_op, int op)
{
    if (acl_op == OD_ACL_OP_ALL || acl_op == op)
        return 1;
    if (op == OD_ACL_OP_DESCRIBE)
        return acl_op == OD_ACL_OP_READ || acl_op == OD_ACL_OP_WRITE ||
               acl_op == OD_ACL_OP_DELETE || acl_op == OD_ACL_OP_ALTER;
    if (op == OD_ACL_OP_DESCRIBE_CONFIGS)
        return acl_op == OD_ACL_OP_ALTER_CONFIGS;
    return 0;
}

typedef struct verdict {
    int found;   /* some binding names the resource */
    int allowed; /* an ALLOW applies */
    const acl_entry_t *deny; /* a DENY applies: the decision */
    const acl_bucket_t *deny_bucket;
} verdict_t;

static void scan(const acl_bucket_t *b, const char *principal, const char *host, int op,
                 verdict_t *v)
{
    if (!b)
        return;
    v->found = 1;
    for (const acl_entry_t *e = b->head; e && !v->deny; e = e->next) {
        if (strcmp(e->principal, principal) != 0 && strcmp(e->principal, "User:*") != 0)
            continue;
        if (strcmp(e->host, host) != 0 && strcmp(e->host, "*") != 0)
            continue;
        if (e->permission == OD_PERM_DENY) {
            if (e->operation == OD_ACL_OP_ALL || e->operation == op) {
                v->deny = e;
                v->deny_bucket = b;
            }
        } else if (allow_grants(e->operation, op)) {
            v->allowed = 1;
        }
    }
}

int acl_index_authorize(const acl_index_t *ix, const char *principal, const char *host, int op,
                        int type, const char *name, size_t len, int allow_if_none, char *reason,
                        size_t reason_size)
{
    verdict_t v = {0};
    if (!principal || !host || type < 0 || type >= NTYPES || !name) {
        snprintf(reason, reason_size, "incomplete request");
        return OD_DENY;
    }
    scan(find_bucket(ix, type, OD_PATTERN_LITERAL, name, len,
                     hash_name(type, OD_PATTERN_LITERAL, name, len)),
         principal, host, op, &v);
    if (!(len == 1 && name[0] == '*'))
        scan(find_bucket(ix, type, OD_PATTERN_LITERAL, "*", 1,
                         hash_name(type, OD_PATTERN_LITERAL, "*", 1)),
             principal, host, op, &v);
    if (ix->nprefixed[type]) {
        size_t upto = len < ix->max_prefix[type] ? len : ix->max_prefix[type];
        uint64_t h = seed(type, OD_PATTERN_PREFIXED);
        for (size_t i = 0; i < upto && !v.deny; i++) {
            h = step(h, name[i]);
            scan(find_bucket(ix, type, OD_PATTERN_PREFIXED, name, i + 1, h), principal, host, op,
                 &v);
        }
    }
    if (v.deny) {
        snprintf(reason, reason_size, "denied by ACL (%s DENY on %s pattern '%.*s' from host %s)",
                 v.deny->principal,
                 v.deny_bucket->pattern_type == OD_PATTERN_PREFIXED ? "PREFIXED" : "LITERAL",
                 (int)(v.deny_bucket->len < 200 ? v.deny_bucket->len : 200), v.deny_bucket->name,
                 v.deny->host);
        return OD_DENY;
    }
    if (v.allowed)
        return OD_ALLOW;
    if (!v.found && allow_if_none)
        return OD_ALLOW;
    snprintf(reason, reason_size, v.found ? "no ACL allows it" : "no ACL names the resource");
    return OD_DENY;
}
