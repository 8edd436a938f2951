/* od_handlers_producer.h - request handlers of the producer area (rows in
 * od_api_producer.inc). */
#ifndef OD_HANDLERS_PRODUCER_H
#define OD_HANDLERS_PRODUCER_H

#include "od_conn.h"

void od_h_init_producer_id(od_req_t *r, void *body);

#endif
