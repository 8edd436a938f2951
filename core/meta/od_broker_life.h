/* od_broker_life.h - registering this broker with the active controller
 * (the "brokers" subsystem, h-quorum). */
#ifndef OD_BROKER_LIFE_H
#define OD_BROKER_LIFE_H

#include <stddef.h>
#include <stdint.h>

struct od_core;
typedef struct od_broker_life od_broker_life_t;

int od_broker_life_start(struct od_core *core, char *err, size_t errsz);
void od_broker_life_tick(struct od_core *core, int64_t now_ms);
void od_broker_life_stop(struct od_core *core);

#endif
