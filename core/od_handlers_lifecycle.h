/* od_handlers_lifecycle.h - request handlers of the lifecycle area (rows in
 * od_api_lifecycle.inc). */
#ifndef OD_HANDLERS_LIFECYCLE_H
#define OD_HANDLERS_LIFECYCLE_H

#include "od_conn.h"

#endif
