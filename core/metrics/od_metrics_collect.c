/* od_metrics_collect.c - one scrape: every metric family in exposition
 * text. State is read here, at scrape time, wherever it already exists;
 * only what would otherwise be lost is counted by hooks (od_metrics.c).
 *
 * Series with topic or partition labels exist only for topics in the
 * metadata image (and groups' offsets only for such topics), so the number
 * of series follows the cluster's size, never what clients send. Names
 * are documented with their Kafka / Redpanda counterparts in
 * doc/metrics.md. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <string.h>

#include "od_conn.h"
#include "od_core.h"
#include "od_dispatch.h"
#include "od_group.h"
#include "od_metadata.h"
#include "od_metrics_int.h"
#include "od_route.h"
#include "od_net.h"
#include "od_tls.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

static void render_requests(od_core_t *core, od_mtext_t *t)
{
    const od_api_entry_t *a;
    od_expo_family(t, "odradek_kafka_requests_total", "counter",
                   "Requests received, by Kafka API (request label: Kafka's API name).");
    for (size_t i = 0; (a = od_dispatch_api_at(i)) != NULL; i++) {
        const od_proto_api_t *pa = od_proto_api(a->key);
        od_mlabel_t l = {"request", pa ? pa->name : "?"};
        if (a->key >= 0 && a->key < OD_MAPI_MAX)
            od_expo_int(t, "odradek_kafka_requests_total", &l, 1,
                        (int64_t)od_mstate.api_requests[a->key]);
    }
    od_expo_family(t, "odradek_kafka_request_latency_seconds", "histogram",
                   "Time from a request's decoding to its complete response, by Kafka API "
                   "(APIs seen since start).");
    for (size_t i = 0; (a = od_dispatch_api_at(i)) != NULL; i++) {
        const od_proto_api_t *pa = od_proto_api(a->key);
        od_mlabel_t l = {"request", pa ? pa->name : "?"};
        if (a->key >= 0 && a->key < OD_MAPI_MAX && od_mstate.api_latency[a->key].count > 0)
            od_expo_hist(t, "odradek_kafka_request_latency_seconds", &l, 1,
                         &od_mstate.api_latency[a->key]);
    }
    size_t inflight = 0;
    for (od_conn_t *c = core->conns; c; c = c->next)
        inflight += c->nq;
    od_expo_family(t, "odradek_kafka_requests_in_flight", "gauge",
                   "Requests received and not yet completely answered, over all connections.");
    od_expo_int(t, "odradek_kafka_requests_in_flight", NULL, 0, (int64_t)inflight);
}

/* TLS listeners (od_tls.c counts): handshakes, and the path file ranges
 * (fetched log data) took: kernel TLS (SSL_sendfile) or user-space copies. */
static void render_tls(od_mtext_t *t)
{
    od_expo_family(t, "odradek_tls_handshakes_total", "counter",
                   "TLS handshakes completed on SSL and SASL_SSL listeners.");
    od_expo_int(t, "odradek_tls_handshakes_total", NULL, 0, (int64_t)od_tls_stats.handshakes);
    od_expo_family(t, "odradek_tls_handshake_failures_total", "counter",
                   "TLS handshakes that failed, timed out or were refused.");
    od_expo_int(t, "odradek_tls_handshake_failures_total", NULL, 0,
                (int64_t)od_tls_stats.handshake_failures);
    od_expo_family(t, "odradek_tls_file_bytes_total", "counter",
                   "Log bytes sent over TLS, by path: ktls (SSL_sendfile) or copy (read + SSL_write).");
    od_mlabel_t k = {"path", "ktls"}, cp = {"path", "copy"};
    od_expo_int(t, "odradek_tls_file_bytes_total", &k, 1, (int64_t)od_tls_stats.ktls_file_bytes);
    od_expo_int(t, "odradek_tls_file_bytes_total", &cp, 1, (int64_t)od_tls_stats.copy_file_bytes);
}

static void render_connections(od_core_t *core, od_mtext_t *t)
{
    od_expo_family(t, "odradek_kafka_connections", "gauge", "Open client connections, by listener.");
    for (size_t i = 0; i < core->nlisteners; i++) {
        int64_t n = 0;
        for (od_conn_t *c = core->conns; c; c = c->next)
            n += c->listener == &core->listeners[i];
        od_mlabel_t l = {"listener", core->listeners[i].spec.name};
        od_expo_int(t, "odradek_kafka_connections", &l, 1, n);
    }
    od_expo_family(t, "odradek_kafka_connections_accepted_total", "counter",
                   "Client connections accepted since start.");
    od_expo_int(t, "odradek_kafka_connections_accepted_total", NULL, 0,
                (int64_t)core->next_conn_id);
    od_expo_family(t, "odradek_network_received_bytes_total", "counter",
                   "Bytes read from client connections.");
    od_expo_int(t, "odradek_network_received_bytes_total", NULL, 0, (int64_t)od_mstate.net_in);
    od_expo_family(t, "odradek_network_sent_bytes_total", "counter",
                   "Bytes written to client connections (writev and sendfile).");
    od_expo_int(t, "odradek_network_sent_bytes_total", NULL, 0, (int64_t)od_mstate.net_out);
    render_tls(t);
}

typedef enum { T_BYTES_IN, T_BYTES_OUT, T_MESSAGES_IN, T_PARTITIONS } topic_fig_t;

static void render_topic_family(od_core_t *core, od_mtext_t *t, const char *name,
                                const char *type, const char *help, topic_fig_t fig)
{
    od_expo_family(t, name, type, help);
    for (od_topic_t *tp = od_image_next_topic(&core->image, NULL); tp;
         tp = od_image_next_topic(&core->image, tp)) {
        const od_mtopic_t *e = od_mtopic_find(&tp->id);
        int64_t v = 0;
        switch (fig) {
        case T_BYTES_IN:
            v = e ? (int64_t)e->bytes_in : 0;
            break;
        case T_BYTES_OUT:
            v = e ? (int64_t)e->bytes_out : 0;
            break;
        case T_MESSAGES_IN:
            v = e ? (int64_t)e->messages_in : 0;
            break;
        case T_PARTITIONS:
            v = tp->npartitions;
            break;
        }
        od_mlabel_t l = {"topic", tp->name};
        od_expo_int(t, name, &l, 1, v);
    }
}

typedef enum { P_START, P_END, P_HWM, P_SIZE } part_fig_t;

static void render_partition_family(od_core_t *core, od_mtext_t *t, const char *name,
                                    const char *help, part_fig_t fig)
{
    char pbuf[16];
    od_expo_family(t, name, "gauge", help);
    for (od_topic_t *tp = od_image_next_topic(&core->image, NULL); tp;
         tp = od_image_next_topic(&core->image, tp))
        for (int32_t i = 0; i < tp->npartitions; i++) {
            od_partition_t *p = tp->partitions[i];
            if (!p->log)
                continue; /* no local replica: another broker reports it */
            int64_t v = 0;
            switch (fig) {
            case P_START:
                v = od_partition_log_start(core, p);
                break;
            case P_END:
                v = od_partition_log_end(core, p);
                break;
            case P_HWM:
                v = p->high_watermark;
                break;
            case P_SIZE:
                v = core->storage->size_bytes ? core->storage->size_bytes(p->log) : 0;
                break;
            }
            snprintf(pbuf, sizeof(pbuf), "%d", (int)i);
            od_mlabel_t l[2] = {{"topic", tp->name}, {"partition", pbuf}};
            od_expo_int(t, name, l, 2, v);
        }
}

/* Broker-level counts the standard Kafka dashboards show first. */
static void render_cluster(od_core_t *core, od_mtext_t *t)
{
    int64_t topics = 0, partitions = 0, led = 0, under = 0;
    int32_t me = (int32_t)core->conf.node_id;
    for (od_topic_t *tp = od_image_next_topic(&core->image, NULL); tp;
         tp = od_image_next_topic(&core->image, tp)) {
        topics++;
        for (int32_t i = 0; i < tp->npartitions; i++) {
            const od_partition_t *p = tp->partitions[i];
            partitions++;
            if (p->leader == me) {
                led++;
                under += p->nisr < p->nreplicas;
            }
        }
    }
    od_expo_family(t, "odradek_cluster_topics", "gauge", "Topics in the metadata image.");
    od_expo_int(t, "odradek_cluster_topics", NULL, 0, topics);
    od_expo_family(t, "odradek_cluster_partitions", "gauge", "Partitions in the metadata image.");
    od_expo_int(t, "odradek_cluster_partitions", NULL, 0, partitions);
    od_expo_family(t, "odradek_partitions_led", "gauge", "Partitions this broker leads.");
    od_expo_int(t, "odradek_partitions_led", NULL, 0, led);
    od_expo_family(t, "odradek_partitions_under_replicated", "gauge",
                   "Partitions led here whose ISR is smaller than their replica set.");
    od_expo_int(t, "odradek_partitions_under_replicated", NULL, 0, under);
}

static void render_log(od_core_t *core, od_mtext_t *t)
{
    render_cluster(core, t);
    od_mtopic_prune(core);
    render_topic_family(core, t, "odradek_topic_bytes_in_total", "counter",
                        "Record bytes produced to the topic (as received, before any recompression).",
                        T_BYTES_IN);
    render_topic_family(core, t, "odradek_topic_bytes_out_total", "counter",
                        "Record bytes sent to fetchers of the topic.", T_BYTES_OUT);
    render_topic_family(core, t, "odradek_topic_messages_in_total", "counter",
                        "Records appended to the topic.", T_MESSAGES_IN);
    render_topic_family(core, t, "odradek_topic_partitions", "gauge",
                        "Partitions of the topic.", T_PARTITIONS);
    render_partition_family(core, t, "odradek_log_start_offset",
                            "First offset of the partition's log (local replicas).", P_START);
    render_partition_family(core, t, "odradek_log_end_offset",
                            "Offset the next record of the partition will get (local replicas).",
                            P_END);
    render_partition_family(core, t, "odradek_log_high_watermark",
                            "High watermark of the partition (local replicas).", P_HWM);
    render_partition_family(core, t, "odradek_log_size_bytes",
                            "Bytes of the partition's log in its storage backend (local replicas).",
                            P_SIZE);
}

/* The committed offsets of groups this broker coordinates, for partitions
 * of topics in the image; lag where the partition's log is here. As
 * kafka_exporter: lag = high watermark - committed offset. */
static void render_groups(od_core_t *core, od_mtext_t *t)
{
    char pbuf[16];
    for (int pass = 0; pass < 3; pass++) {
        const char *name = pass == 0   ? "odradek_consumergroup_members"
                           : pass == 1 ? "odradek_consumergroup_current_offset"
                                       : "odradek_consumergroup_lag";
        od_expo_family(t, name, "gauge",
                       pass == 0   ? "Members of the consumer group (groups coordinated here)."
                       : pass == 1 ? "Committed offset of the group for the partition."
                                   : "High watermark minus the group's committed offset.");
        for (od_group_t *g = od_group_next(core->coord, NULL); g;
             g = od_group_next(core->coord, g)) {
            if (pass == 0) {
                od_mlabel_t l = {"consumergroup", g->id};
                od_expo_int(t, name, &l, 1, (int64_t)g->nmembers);
                continue;
            }
            for (size_t i = 0; i < g->noffsets; i++) {
                const od_goffset_t *o = &g->offsets[i];
                od_topic_t *tp = od_image_topic(&core->image, o->topic, strlen(o->topic));
                if (!tp || o->partition < 0 || o->partition >= tp->npartitions || o->offset < 0)
                    continue;
                od_partition_t *p = tp->partitions[o->partition];
                if (pass == 2 && !p->log)
                    continue;
                int64_t v = o->offset;
                if (pass == 2)
                    v = p->high_watermark > o->offset ? p->high_watermark - o->offset : 0;
                snprintf(pbuf, sizeof(pbuf), "%d", (int)o->partition);
                od_mlabel_t l[3] = {{"consumergroup", g->id}, {"topic", tp->name}, {"partition", pbuf}};
                od_expo_int(t, name, l, 3, v);
            }
        }
    }
}

void od_metrics_render(od_core_t *core, od_mtext_t *t)
{
    od_mstate.scrapes++;
    od_mlabel_t v = {"version", PACKAGE_VERSION};
    od_expo_family(t, "odradek_build_info", "gauge", "Always 1; the version label says which.");
    od_expo_int(t, "odradek_build_info", &v, 1, 1);
    render_requests(core, t);
    render_connections(core, t);
    render_log(core, t);
    render_groups(core, t);
    od_expo_family(t, "odradek_loop_turn_seconds", "histogram",
                   "Time the event loop spent on one turn, from epoll_wait returning to the next "
                   "wait; long turns are stalls every connection waits behind.");
    od_expo_hist(t, "odradek_loop_turn_seconds", NULL, 0, &od_mstate.loop_turn);
    od_mproc_render(t);
    od_mmodule_render(t);
    od_route_metrics_render(t);
    od_expo_family(t, "odradek_metrics_scrapes_total", "counter",
                   "Scrapes of this endpoint answered, this one included.");
    od_expo_int(t, "odradek_metrics_scrapes_total", NULL, 0, (int64_t)od_mstate.scrapes);
}
