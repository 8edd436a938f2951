/* od_loop.h - the event loop: epoll for file descriptors plus a binary heap
 * of one-shot timers. One loop per process; everything runs on its thread. */
#ifndef OD_LOOP_H
#define OD_LOOP_H

#include <stdint.h>

typedef struct od_loop od_loop_t;
typedef void (*od_loop_fd_cb)(void *arg, int fd, uint32_t events);
typedef void (*od_loop_timer_cb)(void *arg);

#define OD_LOOP_READ  1u  /* EPOLLIN */
#define OD_LOOP_WRITE 4u  /* EPOLLOUT */
#define OD_LOOP_ERROR 8u  /* EPOLLERR */
#define OD_LOOP_HUP   16u /* EPOLLHUP */

od_loop_t *od_loop_new(void);
void od_loop_free(od_loop_t *l);
/* Watch fd for events (OD_LOOP_READ | OD_LOOP_WRITE); calling again changes
 * the events and the callback. */
int od_loop_watch(od_loop_t *l, int fd, uint32_t events, od_loop_fd_cb cb, void *arg);
void od_loop_unwatch(od_loop_t *l, int fd);
/* One-shot timer after `after_ms`; returns an id > 0, or -1. */
int64_t od_loop_timer(od_loop_t *l, int64_t after_ms, od_loop_timer_cb cb, void *arg);
void od_loop_cancel(od_loop_t *l, int64_t id);
/* Run until od_loop_stop(). Returns 0. */
int od_loop_run(od_loop_t *l);
void od_loop_stop(od_loop_t *l);
int64_t od_loop_now(const od_loop_t *l); /* monotonic ms, cached per iteration */

#endif
