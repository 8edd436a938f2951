/* kraft_fixture.c - the stand-in core of the kraft module's unit tests
 * (kraft_fixture.h). */
#include "kraft_fixture.h"

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int kfx_warnings;
char kfx_last_log[1024];
char kfx_last_warning[1024];
int kfx_replies, kfx_closes;
uint8_t kfx_reply_buf[65536];
size_t kfx_reply_len;
char kfx_root[256];

void od_logf(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(kfx_last_log, sizeof kfx_last_log, fmt, ap);
    va_end(ap);
    if (level <= OD_LOG_WARN) {
        kfx_warnings++;
        snprintf(kfx_last_warning, sizeof kfx_last_warning, "%s", kfx_last_log);
    }
    if (getenv("KRAFT_TEST_VERBOSE"))
        printf("# log(%d): %s\n", level, kfx_last_log);
}

/* ---- files -------------------------------------------------------------------- */

int kfx_root_make(const char *name)
{
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(kfx_root, sizeof kfx_root, "%s/%s.XXXXXX", tmp, name);
    if (!mkdtemp(kfx_root)) {
        perror("mkdtemp");
        return -1;
    }
    return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

void kfx_root_remove(void)
{
    if (!getenv("KRAFT_TEST_KEEP"))
        nftw(kfx_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *kfx_path(const char *a, const char *b)
{
    static char buf[16][512];
    static int i;
    char *p = buf[i++ & 15];
    if (snprintf(p, 512, "%s/%s", a, b) >= 512)
        p[0] = '\0';
    return p;
}

/* ---- the core and its image ------------------------------------------------------ */

void kfx_core_init(od_core_t *core, int32_t node_id, const char *dir)
{
    memset(core, 0, sizeof *core);
    core->node_id = node_id;
    core->roles = "broker,controller";
    core->refuse_at = -1;
    snprintf(core->data_dir, sizeof core->data_dir, "%s/%s", kfx_root, dir);
}

void kfx_image_clear(od_core_t *core)
{
    for (int i = 0; i < core->applied; i++)
        free(core->values[i]);
    core->applied = 0;
}

int32_t od_core_node_id(od_core_t *core) { return core->node_id; }
const char *od_core_data_dir(od_core_t *core) { return core->data_dir; }
const char *od_core_config_get(od_core_t *core, const char *key)
{
    if (strcmp(key, "process.roles") == 0)
        return core->roles;
    if (strcmp(key, "controller.listener.names") == 0)
        return core->listener_names;
    return NULL;
}
int64_t od_now_ms(void) { return 1700000000000; }
int64_t od_mono_ms(void) { return 1000; }

int od_metadata_apply(od_core_t *core, const uint8_t *rec, size_t len, int64_t offset, char *err,
                      size_t errsz)
{
    if (offset == core->refuse_at) {
        snprintf(err, errsz, "cannot decode");
        return -1;
    }
    if (core->applied >= KFX_IMAGE_MAX) {
        snprintf(err, errsz, "stand-in image full");
        return -1;
    }
    core->offsets[core->applied] = offset;
    core->values[core->applied] = strndup((const char *)rec, len);
    core->applied++;
    return 0;
}
int od_metadata_snapshot(od_core_t *core, od_meta_record_t **recs, size_t *n)
{
    *recs = calloc((size_t)core->applied + 1, sizeof **recs);
    for (int i = 0; i < core->applied; i++) {
        (*recs)[i].data = (const uint8_t *)strdup(core->values[i]);
        (*recs)[i].len = strlen(core->values[i]);
    }
    *n = (size_t)core->applied;
    return 0;
}
/* Installing a snapshot rebuilds the image from nothing. */
void od_metadata_reset_begin(od_core_t *core) { kfx_image_clear(core); }
void od_metadata_reset_end(od_core_t *core) { (void)core; }

/* ---- the module's registrations ---------------------------------------------------- */

int od_register_config(od_module_ctx_t *ctx, const od_conf_def_t *defs, size_t n)
{
    ctx->conf = defs;
    ctx->nconf = n;
    return 0;
}
int od_register_controlplane(od_module_ctx_t *ctx, const od_controlplane_ops_t *ops, void *self)
{
    ctx->ops = ops;
    ctx->self = self;
    return 0;
}
void od_module_set_data(od_module_ctx_t *ctx, void *data) { ctx->data = data; }
void *od_module_get_data(od_module_ctx_t *ctx) { return ctx->data; }

void kfx_set_conf(od_module_ctx_t *ctx, const char *name, const char *sval, int64_t ival)
{
    for (size_t i = 0; i < ctx->nconf; i++)
        if (strcmp(ctx->conf[i].name, name) == 0) {
            if (ctx->conf[i].type == OD_CONF_INT)
                *(int64_t *)ctx->conf[i].target = ival;
            else if (ctx->conf[i].type == OD_CONF_STRING || ctx->conf[i].type == OD_CONF_LIST)
                *(const char **)ctx->conf[i].target = sval;
        }
}

/* ---- the loop and the connections ---------------------------------------------------- */

static od_timer_cb timer_fn;
static void *timer_arg;
static int64_t timer_id;
int64_t od_timer_add(od_core_t *core, int64_t after_ms, od_timer_cb cb, void *arg)
{
    (void)core, (void)after_ms;
    timer_fn = cb;
    timer_arg = arg;
    return ++timer_id;
}
void od_timer_cancel(od_core_t *core, int64_t id)
{
    (void)core;
    if (id == timer_id)
        timer_fn = NULL;
}
void kfx_end_of_turn(void)
{
    od_timer_cb cb = timer_fn;
    timer_fn = NULL;
    if (cb)
        cb(timer_arg);
}

/* A quorum's connections are watched and never become ready: the tests
 * drive every step (a single voter opens none). */
int od_fd_watch(od_core_t *core, int fd, uint32_t events, od_fd_cb cb, void *arg)
{
    (void)core, (void)fd, (void)events, (void)cb, (void)arg;
    return 0;
}
void od_fd_unwatch(od_core_t *core, int fd) { (void)core, (void)fd; }

int od_cp_reply(od_cp_reply_t *reply, const uint8_t *body, size_t len)
{
    (void)reply;
    kfx_replies++;
    kfx_reply_len = len < sizeof kfx_reply_buf ? len : sizeof kfx_reply_buf;
    memcpy(kfx_reply_buf, body, kfx_reply_len);
    return 0;
}
void od_cp_reply_close(od_cp_reply_t *reply, const char *why)
{
    (void)reply, (void)why;
    kfx_closes++;
}
