/* od_handlers_groups.h - request handlers of the groups area (rows in
 * od_api_groups.inc). */
#ifndef OD_HANDLERS_GROUPS_H
#define OD_HANDLERS_GROUPS_H

#include "od_conn.h"

#endif
