/* od_ext_int.h - state shared by the files of core/ext/. */
#ifndef OD_EXT_INT_H
#define OD_EXT_INT_H

#include <pthread.h>

#include "od_ext.h"

#define OD_EXT_MAX_EVENT 8 /* highest OD_EVENT_* this core knows */

typedef struct od_ext_listener {
    od_event_cb cb;
    void *arg;
    const char *module;
} od_ext_listener_t;

typedef struct od_ext_post {
    od_loop_fn fn;
    void *arg;
    struct od_ext_post *next;
} od_ext_post_t;

/* What the core asks after the modules for an admin change (the Lua
 * policies): OD_ALLOW, OD_DENY with reason, or OD_DEFER. */
typedef int (*od_ext_admin_policy_fn)(void *arg, const od_ev_admin_t *ev, char *reason,
                                      size_t reason_size);

struct od_ext {
    struct od_core *core;
    od_ext_reg_t *regs[OD_EXT_NKINDS];
    size_t nregs[OD_EXT_NKINDS];
    od_ext_listener_t *listeners[OD_EXT_MAX_EVENT + 1];
    size_t nlisteners[OD_EXT_MAX_EVENT + 1];
    char pending_err[512]; /* a registration rule broken during init */
    int64_t tick_timer;
    od_ext_admin_policy_fn admin_policy;
    void *admin_policy_arg;
    /* od_loop_post: any thread appends under the mutex and writes the
     * eventfd; the loop drains in order. */
    pthread_mutex_t mu;
    od_ext_post_t *post_head, *post_tail;
    int post_stopping;
    int efd;
};

/* Record a broken registration rule for od_ext_take_error (first wins). */
void od_ext_fail(od_ext_t *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* od_post.c: create the eventfd and watch it; drain everything queued. */
int od_ext_post_init(od_ext_t *x);
void od_ext_post_fini(od_ext_t *x);
void od_ext_post_drain(od_ext_t *x);

/* The admin policy (the Lua host sets it at start, clears it at stop). */
void od_ext_set_admin_policy(struct od_core *core, od_ext_admin_policy_fn fn, void *arg);

#endif
