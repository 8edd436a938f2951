/* kraft_fixture.h - the stand-in core the kraft module's unit tests
 * (test_kraft.c, test_kraft_snap.c, test_kraft_vote.c) link instead of
 * libodcore: the services the module calls (od_logf, od_register_*,
 * od_metadata_*, timers, od_cp_reply, ...) played by kraft_fixture.c, so
 * the module's start/propose/replay/answer glue runs without a loop. The
 * real core is exercised by the integration tests (t/6000-6009). */
#ifndef KRAFT_FIXTURE_H
#define KRAFT_FIXTURE_H

#include "../../modules/kraft/kraft.h"

#define KFX_IMAGE_MAX 4096

/* The stand-in core; its image is the list of records applied to it, so
 * od_metadata_snapshot() hands back exactly what was applied. */
struct od_core {
    int32_t node_id;
    char data_dir[512];
    const char *roles;          /* process.roles */
    const char *listener_names; /* controller.listener.names, NULL: unset */
    int64_t refuse_at;          /* od_metadata_apply fails at this offset; -1: never */
    int applied;                /* records in the image */
    int64_t offsets[KFX_IMAGE_MAX];
    char *values[KFX_IMAGE_MAX];
};

/* What od_module.init registers. */
struct od_module_ctx {
    const od_conf_def_t *conf;
    size_t nconf;
    const od_controlplane_ops_t *ops;
    void *self;
    void *data;
};

extern const od_module_t od_module;

/* The log: lines counted and kept (KRAFT_TEST_VERBOSE=1 prints them). */
extern int kfx_warnings;            /* lines at OD_LOG_WARN or worse */
extern char kfx_last_log[1024];     /* the last line of any level */
extern char kfx_last_warning[1024]; /* the last warning or error */

/* Answers od_cp_reply got: their count, the last one; od_cp_reply_close
 * calls counted. */
extern int kfx_replies, kfx_closes;
extern uint8_t kfx_reply_buf[65536];
extern size_t kfx_reply_len;

/* The test's temporary directory (kfx_root_make). */
extern char kfx_root[256];

/* Makes kfx_root, $TMPDIR/<name>.XXXXXX: 0, or -1 (reported). */
int kfx_root_make(const char *name);
/* Removes it, unless KRAFT_TEST_KEEP is set. */
void kfx_root_remove(void);
/* "<a>/<b>" in a ring of 16 buffers: a result stays valid for 15 more
 * calls. */
char *kfx_path(const char *a, const char *b);

/* A core of node node_id on kfx_root/<dir>, roles "broker,controller",
 * refusing nothing, with an empty image. */
void kfx_core_init(od_core_t *core, int32_t node_id, const char *dir);
/* Empties the image (as installing a snapshot does). */
void kfx_image_clear(od_core_t *core);

/* Sets a module config key as the core would: sval for strings, ival for
 * numbers. */
void kfx_set_conf(od_module_ctx_t *ctx, const char *name, const char *sval, int64_t ival);

/* The module's timer callbacks never run by themselves: this runs the one
 * armed last (the group commit at the end of a loop turn) as the loop
 * would. */
void kfx_end_of_turn(void);

#endif
