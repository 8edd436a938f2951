/* od_metadata_configs.c - topic config changes as metadata records.
 *
 * An AlterConfigs/IncrementalAlterConfigs never edits the image: each
 * change becomes a ConfigRecord (resource type 2 = topic; a null value
 * removes the override), all of one topic proposed together so they commit
 * atomically. When the control plane has committed them it applies them
 * (od_metadata.c apply_config), which pushes the new od_log_config_t to the
 * open logs; a restart replays the same records. The tiny record encoder
 * here mirrors od_metadata.c's private one (kept separate so that file
 * stays its owner's). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_lifecycle.h"
#include "od_proto_gen.h"

#define CONFIG_RESOURCE_TOPIC 2

typedef struct cfg_proposal {
    od_meta_done_cb cb;
    void *arg;
} cfg_proposal_t;

static void cfg_done(void *arg, int status, const char *msg)
{
    cfg_proposal_t *p = arg;
    int16_t code = status == 0                        ? OD_ERR_NONE
                   : (status < 0 && status > -1000) ? (int16_t)-status
                                                    : OD_ERR_UNKNOWN_SERVER_ERROR;
    if (p->cb)
        p->cb(p->arg, code, msg);
    free(p);
}

int od_metadata_alter_configs(od_core_t *core, const char *topic, const od_kv_t *kv, size_t n,
                              od_meta_done_cb cb, void *arg, char *err, size_t errsz)
{
    if (n == 0) { /* nothing to change: done at once */
        if (cb)
            cb(arg, OD_ERR_NONE, NULL);
        return 0;
    }
    if (!core->cp) {
        snprintf(err, errsz, "no control plane");
        return -1;
    }
    int rc = -1;
    od_meta_record_t *recs = calloc(n, sizeof(*recs));
    cfg_proposal_t *p = calloc(1, sizeof(*p));
    size_t built = 0;
    if (!recs || !p) {
        snprintf(err, errsz, "out of memory");
        goto out;
    }
    for (; built < n; built++) {
        od_wbuf_t w;
        od_ConfigRecord_t cr;
        od_wbuf_init(&w);
        od_metarec_frame(&w, OD_METAREC_CONFIG, 0);
        od_ConfigRecord_init(&cr);
        cr.resource_type = CONFIG_RESOURCE_TOPIC;
        cr.resource_name = od_str_c(topic);
        cr.name = od_str_c(kv[built].key);
        cr.value = od_str_c(kv[built].value); /* NULL -> null: delete */
        od_ConfigRecord_encode(&w, 0, &cr);
        uint8_t *flat = w.err ? NULL : od_wbuf_flatten(&w, &recs[built].len);
        od_wbuf_free(&w);
        if (!flat) {
            snprintf(err, errsz, "out of memory");
            goto out;
        }
        recs[built].data = flat;
    }
    p->cb = cb;
    p->arg = arg;
    if (core->cp->propose(core->cp_self, recs, n, cfg_done, p, err, errsz) < 0)
        goto out;
    p = NULL; /* the callback owns it now */
    rc = 0;
out:
    free(p);
    for (size_t i = 0; recs && i < built; i++)
        free((void *)recs[i].data);
    free(recs);
    return rc;
}
