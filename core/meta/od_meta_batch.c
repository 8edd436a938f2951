/* od_meta_batch.c - building a proposal's metadata records and proposing
 * them through the control plane (od_meta_batch.h). */
#include "od_meta_batch.h"

#include <stdio.h>
#include <stdlib.h>

#include "od_core.h"
#include "od_proto_gen.h"

od_wbuf_t *od_meta_batch_add(od_meta_batch_t *b, int16_t key, int16_t ver)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 8;
        od_wbuf_t *bufs = realloc(b->bufs, cap * sizeof(*bufs));
        if (!bufs) {
            b->oom = 1;
            return NULL;
        }
        b->bufs = bufs;
        b->cap = cap;
    }
    od_wbuf_t *w = &b->bufs[b->n++];
    od_wbuf_init(w);
    od_metarec_frame(w, key, ver);
    return w;
}

void od_meta_batch_free(od_meta_batch_t *b)
{
    for (size_t i = 0; i < b->n; i++)
        od_wbuf_free(&b->bufs[i]);
    free(b->bufs);
    *b = (od_meta_batch_t){0};
}

int od_meta_batch_flatten(const od_meta_batch_t *b, od_meta_record_t **out, size_t *n)
{
    if (b->oom)
        return -1;
    if (b->n == 0)
        return 0;
    od_meta_record_t *recs = realloc(*out, (*n + b->n) * sizeof(*recs));
    if (!recs)
        return -1;
    *out = recs;
    for (size_t i = 0; i < b->n; i++) {
        uint8_t *flat = b->bufs[i].err ? NULL : od_wbuf_flatten(&b->bufs[i], &recs[*n].len);
        if (!flat)
            return -1;
        recs[(*n)++].data = flat;
    }
    return 0;
}

int16_t od_meta_status_error(int status)
{
    if (status == 0)
        return OD_ERR_NONE;
    return status < 0 && status > -1000 ? (int16_t)-status : OD_ERR_UNKNOWN_SERVER_ERROR;
}

int16_t od_meta_propose_raw(od_core_t *core, od_meta_batch_t *b, od_propose_cb cb, void *arg,
                            char *err, size_t errsz)
{
    od_meta_record_t *recs = NULL, none = {0};
    size_t n = 0;
    int16_t code = OD_ERR_UNKNOWN_SERVER_ERROR;
    if (od_meta_batch_flatten(b, &recs, &n) < 0)
        snprintf(err, errsz, "out of memory");
    else if (!core->cp)
        snprintf(err, errsz, "no control plane");
    else if (core->cp->propose(core->cp_self, n ? recs : &none, n, cb, arg, err, errsz) < 0)
        code = OD_ERR_NOT_CONTROLLER;
    else
        code = OD_ERR_NONE;
    for (size_t i = 0; i < n; i++)
        free((void *)recs[i].data);
    free(recs);
    od_meta_batch_free(b);
    return code;
}

typedef struct meta_proposal {
    od_meta_done_cb cb;
    void *arg;
} meta_proposal_t;

static void proposal_done(void *arg, int status, const char *msg)
{
    meta_proposal_t *p = arg;
    if (p->cb)
        p->cb(p->arg, od_meta_status_error(status), msg);
    free(p);
}

int od_meta_propose(od_core_t *core, od_meta_batch_t *b, od_meta_done_cb cb, void *arg,
                    char *err, size_t errsz)
{
    meta_proposal_t *p = malloc(sizeof(*p));
    if (!p) {
        snprintf(err, errsz, "out of memory");
        od_meta_batch_free(b);
        return -1;
    }
    *p = (meta_proposal_t){cb, arg};
    if (od_meta_propose_raw(core, b, proposal_done, p, err, errsz) != OD_ERR_NONE) {
        free(p);
        return -1;
    }
    return 0;
}
