/* od_handlers_groups.h - request handlers of the groups area (rows in
 * od_api_groups.inc). */
#ifndef OD_HANDLERS_GROUPS_H
#define OD_HANDLERS_GROUPS_H

#include "od_conn.h"

/* od_h_groups.c */
void od_h_find_coordinator(od_req_t *r, void *body);
void od_h_join_group(od_req_t *r, void *body);
void od_h_sync_group(od_req_t *r, void *body);
void od_h_heartbeat(od_req_t *r, void *body);
void od_h_leave_group(od_req_t *r, void *body);
void od_h_describe_groups(od_req_t *r, void *body);
void od_h_list_groups(od_req_t *r, void *body);
void od_h_delete_groups(od_req_t *r, void *body);
/* od_h_offsets.c */
void od_h_offset_commit(od_req_t *r, void *body);
void od_h_offset_fetch(od_req_t *r, void *body);
void od_h_offset_delete(od_req_t *r, void *body);

#endif
