/* od_handlers_lifecycle.h - request handlers of the lifecycle area (rows in
 * od_api_lifecycle.inc). */
#ifndef OD_HANDLERS_LIFECYCLE_H
#define OD_HANDLERS_LIFECYCLE_H

#include "od_conn.h"

void od_h_delete_records(od_req_t *r, void *body);            /* od_h_deleterecords.c */
void od_h_alter_configs(od_req_t *r, void *body);             /* od_h_alterconfigs.c */
void od_h_incremental_alter_configs(od_req_t *r, void *body); /* od_h_alterconfigs.c */

#endif
