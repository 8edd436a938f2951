/* od_scram_store.c - SCRAM credentials of the metadata image (records 11
 * and 22), their snapshot records and the lookup service. */
#include "od_scram_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_nameset.h"
#include "od_proto_gen.h"

typedef struct scram_user {
    char *name;
    od_scram_cred_t cred[2]; /* SCRAM-SHA-256, SCRAM-SHA-512 */
    int has[2];
} scram_user_t;

struct od_scram_store {
    scram_user_t *users; /* unordered; removal swaps in the last */
    size_t n, cap;
    /* Open-addressing index by name: user index + 1, 0 empty; at least
     * twice the users, rebuilt when it grows or a user goes. */
    size_t *idx;
    size_t idx_cap;
};

static int reindex(od_scram_store_t *st, size_t want)
{
    size_t cap = st->idx_cap ? st->idx_cap : 64;
    while (cap < 2 * want)
        cap *= 2;
    size_t *idx = calloc(cap, sizeof(*idx));
    if (!idx)
        return -1;
    for (size_t i = 0; i < st->n; i++) {
        const char *nm = st->users[i].name;
        size_t h = (size_t)od_hash_bytes(nm, strlen(nm)) & (cap - 1);
        while (idx[h])
            h = (h + 1) & (cap - 1);
        idx[h] = i + 1;
    }
    free(st->idx);
    st->idx = idx;
    st->idx_cap = cap;
    return 0;
}

static scram_user_t *find(od_scram_store_t *st, const char *name, size_t len)
{
    if (!st || !st->idx_cap)
        return NULL;
    for (size_t h = (size_t)od_hash_bytes(name, len) & (st->idx_cap - 1); st->idx[h];
         h = (h + 1) & (st->idx_cap - 1)) {
        scram_user_t *u = &st->users[st->idx[h] - 1];
        if (strlen(u->name) == len && memcmp(u->name, name, len) == 0)
            return u;
    }
    return NULL;
}

static od_scram_store_t *store(od_core_t *core)
{
    if (!core->scram)
        core->scram = calloc(1, sizeof(*core->scram));
    return core->scram;
}

static int mech_slot(int8_t mech)
{
    return mech == OD_SCRAM_SHA_256 ? 0 : mech == OD_SCRAM_SHA_512 ? 1 : -1;
}

static int apply_set(od_core_t *core, const od_UserScramCredentialRecord_t *r, char *err,
                     size_t errsz)
{
    int slot = mech_slot(r->mechanism);
    size_t kl = od_scram_key_len(r->mechanism);
    if (slot < 0 || r->name.len <= 0 || r->salt.len <= 0 ||
        (size_t)r->salt.len > sizeof(((od_scram_cred_t *)0)->salt) ||
        (size_t)r->stored_key.len != kl || (size_t)r->server_key.len != kl ||
        r->iterations <= 0) {
        snprintf(err, errsz, "UserScramCredentialRecord for %.*s: bad mechanism, salt or keys",
                 r->name.len > 0 ? (int)r->name.len : 0, r->name.p);
        return -1;
    }
    od_scram_store_t *st = store(core);
    if (!st)
        goto oom;
    scram_user_t *u = find(st, r->name.p, (size_t)r->name.len);
    if (!u) {
        if (st->n == st->cap) {
            size_t c = st->cap ? st->cap * 2 : 16;
            scram_user_t *nu = realloc(st->users, c * sizeof(*nu));
            if (!nu)
                goto oom;
            st->users = nu;
            st->cap = c;
        }
        if (2 * (st->n + 1) > st->idx_cap && reindex(st, st->n + 1) < 0)
            goto oom;
        u = &st->users[st->n];
        memset(u, 0, sizeof(*u));
        if (!(u->name = strndup(r->name.p, (size_t)r->name.len)))
            goto oom;
        st->n++;
        size_t h = (size_t)od_hash_bytes(u->name, strlen(u->name)) & (st->idx_cap - 1);
        while (st->idx[h])
            h = (h + 1) & (st->idx_cap - 1);
        st->idx[h] = st->n;
    }
    od_scram_cred_t *c = &u->cred[slot];
    memset(c, 0, sizeof(*c));
    c->struct_size = sizeof(*c);
    c->mechanism = r->mechanism;
    memcpy(c->salt, r->salt.p, (size_t)r->salt.len);
    c->salt_len = (size_t)r->salt.len;
    memcpy(c->stored_key, r->stored_key.p, kl);
    memcpy(c->server_key, r->server_key.p, kl);
    c->key_len = kl;
    c->iterations = r->iterations;
    u->has[slot] = 1;
    return 0;
oom:
    snprintf(err, errsz, "out of memory");
    return -1;
}

static void apply_remove(od_core_t *core, const od_RemoveUserScramCredentialRecord_t *r)
{
    od_scram_store_t *st = core->scram;
    int slot = mech_slot(r->mechanism);
    scram_user_t *u = r->name.len > 0 ? find(st, r->name.p, (size_t)r->name.len) : NULL;
    if (!u || slot < 0)
        return;
    u->has[slot] = 0;
    memset(&u->cred[slot], 0, sizeof(u->cred[slot]));
    if (!u->has[0] && !u->has[1]) {
        free(u->name);
        *u = st->users[--st->n];
        /* Indexes moved: rebuild at the same size (a removal is rare). If
         * that fails the old index is kept, which may name a slot past n:
         * then drop the index entirely so lookups find nothing wrong. */
        if (reindex(st, st->n) < 0) {
            free(st->idx);
            st->idx = NULL;
            st->idx_cap = 0;
        }
    }
}

int od_scram_store_apply(od_core_t *core, int16_t key, int16_t version, od_slice_t *body,
                         char *err, size_t errsz)
{
    od_arena_t a;
    od_arena_init(&a, 0);
    int rc = 0;
    if (key == OD_METAREC_USER_SCRAM_CREDENTIAL) {
        od_UserScramCredentialRecord_t r;
        if (od_UserScramCredentialRecord_decode(body, version, &a, &r) < 0) {
            snprintf(err, errsz, "UserScramCredentialRecord v%d does not decode", version);
            rc = -1;
        } else {
            rc = apply_set(core, &r, err, errsz);
        }
    } else {
        od_RemoveUserScramCredentialRecord_t r;
        if (od_RemoveUserScramCredentialRecord_decode(body, version, &a, &r) < 0) {
            snprintf(err, errsz, "RemoveUserScramCredentialRecord v%d does not decode", version);
            rc = -1;
        } else {
            apply_remove(core, &r);
        }
    }
    od_arena_free(&a);
    return rc;
}

int od_scram_store_snapshot(od_core_t *core, od_meta_record_t **out, size_t *n)
{
    od_scram_store_t *st = core->scram;
    for (size_t i = 0; st && i < st->n; i++) {
        for (int slot = 0; slot < 2; slot++) {
            const scram_user_t *u = &st->users[i];
            if (!u->has[slot])
                continue;
            const od_scram_cred_t *c = &u->cred[slot];
            od_UserScramCredentialRecord_t r;
            od_UserScramCredentialRecord_init(&r);
            r.name = od_str_c(u->name);
            r.mechanism = (int8_t)c->mechanism;
            r.salt.p = c->salt;
            r.salt.len = (int32_t)c->salt_len;
            r.stored_key.p = c->stored_key;
            r.stored_key.len = (int32_t)c->key_len;
            r.server_key.p = c->server_key;
            r.server_key.len = (int32_t)c->key_len;
            r.iterations = c->iterations;
            od_wbuf_t w;
            od_wbuf_init(&w);
            od_metarec_frame(&w, OD_METAREC_USER_SCRAM_CREDENTIAL, 0);
            od_UserScramCredentialRecord_encode(&w, 0, &r);
            size_t len = 0;
            uint8_t *flat = w.err ? NULL : od_wbuf_flatten(&w, &len);
            od_wbuf_free(&w);
            od_meta_record_t *grown = flat ? realloc(*out, (*n + 1) * sizeof(**out)) : NULL;
            if (!grown) {
                free(flat);
                return -1;
            }
            *out = grown;
            grown[*n].data = flat;
            grown[*n].len = len;
            (*n)++;
        }
    }
    return 0;
}

void od_scram_store_free(od_core_t *core)
{
    od_scram_store_t *st = core->scram;
    if (!st)
        return;
    for (size_t i = 0; i < st->n; i++) {
        free(st->users[i].name);
        memset(st->users[i].cred, 0, sizeof(st->users[i].cred));
    }
    free(st->users);
    free(st->idx);
    free(st);
    core->scram = NULL;
}

const char *od_scram_store_user_at(od_core_t *core, size_t i)
{
    od_scram_store_t *st = core->scram;
    return st && i < st->n ? st->users[i].name : NULL;
}

unsigned od_scram_store_mechs(od_core_t *core, const char *user, int32_t *iter256,
                              int32_t *iter512)
{
    scram_user_t *u = find(core->scram, user, strlen(user));
    unsigned m = 0;
    if (u && u->has[0]) {
        m |= 1u << OD_SCRAM_SHA_256;
        *iter256 = u->cred[0].iterations;
    }
    if (u && u->has[1]) {
        m |= 1u << OD_SCRAM_SHA_512;
        *iter512 = u->cred[1].iterations;
    }
    return m;
}

int od_scram_credential_get(od_core_t *core, const char *user, int mechanism,
                            od_scram_cred_t *out)
{
    int slot = mech_slot((int8_t)mechanism);
    scram_user_t *u = user && core ? find(core->scram, user, strlen(user)) : NULL;
    if (slot < 0 || !u || !u->has[slot])
        return OD_ERR_NOT_FOUND;
    *out = u->cred[slot];
    return OD_OK;
}
