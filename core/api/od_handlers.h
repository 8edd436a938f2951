/* od_handlers.h - request handlers, one file per request family. Each takes
 * the request and its decoded body (arena-allocated) and either finishes the
 * response (od_req_done) now or later. */
#ifndef OD_HANDLERS_H
#define OD_HANDLERS_H

#include "od_conn.h"
#include "od_partition.h"

struct od_core;

void od_h_api_versions(od_req_t *r, void *body);
void od_h_metadata(od_req_t *r, void *body);
void od_h_produce(od_req_t *r, void *body);
void od_h_fetch(od_req_t *r, void *body);
void od_h_list_offsets(od_req_t *r, void *body);
void od_h_create_topics(od_req_t *r, void *body);
void od_h_delete_topics(od_req_t *r, void *body);
void od_h_create_partitions(od_req_t *r, void *body);
void od_h_describe_configs(od_req_t *r, void *body);
void od_h_describe_cluster(od_req_t *r, void *body);
void od_h_delete_records(od_req_t *r, void *body);
void od_h_alter_configs(od_req_t *r, void *body);
void od_h_incremental_alter_configs(od_req_t *r, void *body);
void od_h_init_producer_id(od_req_t *r, void *body);
/* ACLs (core/sec/od_acl_api.c). */
void od_h_create_acls(od_req_t *r, void *body);
void od_h_describe_acls(od_req_t *r, void *body);
void od_h_delete_acls(od_req_t *r, void *body);
/* SCRAM credentials (core/sec/od_scram_api.c). */
void od_h_describe_user_scram_credentials(od_req_t *r, void *body);
void od_h_alter_user_scram_credentials(od_req_t *r, void *body);
/* Consumer groups (od_h_groups.c, od_h_offsets.c). */
void od_h_find_coordinator(od_req_t *r, void *body);
void od_h_join_group(od_req_t *r, void *body);
void od_h_sync_group(od_req_t *r, void *body);
void od_h_heartbeat(od_req_t *r, void *body);
void od_h_leave_group(od_req_t *r, void *body);
void od_h_describe_groups(od_req_t *r, void *body);
void od_h_list_groups(od_req_t *r, void *body);
void od_h_delete_groups(od_req_t *r, void *body);
void od_h_offset_commit(od_req_t *r, void *body);
void od_h_offset_fetch(od_req_t *r, void *body);
void od_h_offset_delete(od_req_t *r, void *body);

/* Long-poll fetches: wake those waiting on p (new data), forget p (deleted),
 * answer all now (shutdown). */
void od_fetch_wake(struct od_core *core, od_partition_t *p);
void od_fetch_partition_removed(struct od_core *core, od_partition_t *p);
void od_fetch_answer_all(struct od_core *core);
/* Declare fetch.wait.max.ms; the waiting fetches' state lives from start
 * to stop (core->fetch_waits). */
int od_fetch_register_config(struct od_core *core, char *err, size_t errsz);
int od_fetch_start(struct od_core *core, char *err, size_t errsz);
void od_fetch_stop(struct od_core *core);

#endif
