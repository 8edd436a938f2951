/* od_metrics.h - broker metrics served to Prometheus (doc/metrics.md).
 *
 * Most figures are read at scrape time from the state that already exists
 * (the metadata image, partitions' offsets, the group coordinator, the
 * connection list, /proc/self). What cannot be read later is counted by
 * hooks: each is one line in another area's file, listed here, and cheap
 * (an array increment or a clock read). Everything runs on the loop thread.
 *
 * Hooks and where they sit:
 *   od_metrics_api_begin   od_dispatch.c, when a request is decoded
 *   od_metrics_api_done    od_conn.c od_req_done, when its response is complete
 *   od_metrics_net_in/out  od_conn.c, after read() / writev()+sendfile()
 *   od_metrics_loop_wake   od_loop.c, after epoll_wait returns
 *   od_metrics_loop_sleep  od_loop.c, before epoll_wait
 *   od_metrics_topic_in    od_h_produce.c, after a partition's append
 *   od_metrics_topic_out   od_h_fetch.c, when a partition's records go out
 *   od_metrics_add         storage modules (odradek-module.h, ABI 1.2) */
#ifndef OD_METRICS_H
#define OD_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct od_core;
struct od_req;
struct od_topic;

/* Core start-up and shutdown (one line each in od_core.c). */
int od_metrics_register_config(struct od_core *core, char *err, size_t errsz);
/* Validate metrics.listener ("file:line: reason" on error). */
int od_metrics_check(struct od_core *core, char *err, size_t errsz);
/* Open the HTTP listener when metrics.listener is set. */
int od_metrics_start(struct od_core *core, char *err, size_t errsz);
/* Close the listener and every scrape connection. */
void od_metrics_stop(struct od_core *core);

void od_metrics_api_begin(struct od_req *r);
void od_metrics_api_done(struct od_req *r);
void od_metrics_net_in(size_t bytes);
void od_metrics_net_out(size_t bytes);
void od_metrics_loop_wake(void);
void od_metrics_loop_sleep(void);
void od_metrics_topic_in(const struct od_topic *t, size_t bytes, int64_t records);
void od_metrics_topic_out(const struct od_topic *t, size_t bytes);

#endif
