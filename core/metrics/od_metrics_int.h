/* od_metrics_int.h - what the files of core/metrics share: the counters
 * the hooks fill, module metrics, the scrape renderer and the HTTP side. */
#ifndef OD_METRICS_INT_H
#define OD_METRICS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "od_buf.h"
#include "od_metrics.h"
#include "od_metrics_expo.h"

struct od_core;

#define OD_MAPI_MAX 128 /* api keys counted (Kafka's are far below) */

/* Per-topic traffic, keyed by topic id so a re-created topic starts at 0.
 * Entries exist only for topics of the image (the hooks get an
 * od_topic_t); ones for deleted topics are dropped at the next scrape. */
typedef struct od_mtopic {
    od_uuid_t id;
    int used;
    uint64_t bytes_in, bytes_out, messages_in;
} od_mtopic_t;

typedef struct od_mstate {
    uint64_t api_requests[OD_MAPI_MAX];
    od_mhist_t api_latency[OD_MAPI_MAX];
    uint64_t net_in, net_out;
    od_mhist_t loop_turn;
    int64_t loop_wake_ns; /* 0 while the loop waits */
    od_mtopic_t *topics; /* open addressing, cap a power of two */
    size_t ntopics, topics_cap;
    double start_time; /* wall clock seconds at start-up */
    uint64_t scrapes;
    int running; /* between start and stop: topic hooks may allocate */
} od_mstate_t;

extern od_mstate_t od_mstate;

int64_t od_metrics_now_ns(void);
/* The entry of a topic id, or NULL. */
const od_mtopic_t *od_mtopic_find(const od_uuid_t *id);
/* Drop entries of topics that left the image. */
void od_mtopic_prune(struct od_core *core);

/* Module metrics (od_metrics_module.c). */
void od_mmodule_render(od_mtext_t *t);
void od_mmodule_reset(void);

/* Process figures from /proc/self (od_metrics_proc.c). */
void od_mproc_render(od_mtext_t *t);

/* The whole exposition (od_metrics_collect.c). */
void od_metrics_render(struct od_core *core, od_mtext_t *t);

/* The HTTP side (od_metrics_http.c). */
/* "http://host:port" -> host (empty: all interfaces) and port. Returns 1,
 * 0 for an empty text (metrics off), -1 with err. */
int od_metrics_url_parse(const char *text, char *host, size_t hostsz, int *port, char *err,
                         size_t errsz);

#include "od_http.h" /* od_http_req_t, od_http_parse: the shared server */

int od_metrics_http_open(struct od_core *core, const char *host, int port, int64_t idle_ms,
                         char *err, size_t errsz);
void od_metrics_http_close(struct od_core *core);

#endif
