/* od_broker_life.h - brokers and the active controller (KIP-631):
 * registration and heartbeats (od_broker_life.c, the broker's side) and
 * registration, fencing and unfencing (od_broker_ctl.c, the controller's). */
#ifndef OD_BROKER_LIFE_H
#define OD_BROKER_LIFE_H

#include <stddef.h>
#include <stdint.h>

struct od_core;

/* When the active controller last heard from a broker. */
typedef struct od_broker_seen {
    int32_t id;
    int64_t epoch;       /* the registration heard from */
    int64_t last_ms;     /* monotonic */
    int pending;         /* a fence or unfence of it is being committed */
} od_broker_seen_t;

typedef struct od_broker_life {
    int is_broker;
    int inflight;
    int64_t last_log_ms;
    int64_t hb_interval_ms; /* broker.heartbeat.interval.ms */
    int64_t session_ms;     /* broker.session.timeout.ms */
    int64_t last_hb_ms;
    int shutting_down;      /* controlled shutdown in progress */
    int64_t shutdown_deadline;
    /* controller side */
    int was_controller;
    od_broker_seen_t *seen;
    size_t nseen, seen_cap;
} od_broker_life_t;

int od_broker_life_register_config(struct od_core *core, char *err, size_t errsz);
int od_broker_life_start(struct od_core *core, char *err, size_t errsz);
void od_broker_life_tick(struct od_core *core, int64_t now_ms);
void od_broker_life_stop(struct od_core *core);

/* od_broker_ctl.c: the controller's periodic check (fences brokers whose
 * session expired), and a heartbeat heard (unfences a caught-up broker).
 * heard returns a Kafka error code; *fenced and *caught_up may be NULL. */
void od_broker_ctl_tick(struct od_core *core, od_broker_life_t *bl, int is_controller,
                        int64_t now);
int16_t od_broker_ctl_heard(struct od_core *core, od_broker_life_t *bl, int32_t id, int64_t epoch,
                            int64_t offset, int want_shutdown, int64_t now);
/* Does broker id lead a partition another live ISR member could lead? */
int od_broker_ctl_movable(struct od_core *core, int32_t id);
/* SIGTERM: a broker that leads partitions first asks the controller to move
 * them (BrokerHeartbeat with WantShutDown) and stops once they moved, when
 * no controller is known, or after broker.session.timeout.ms (at most 5 s).
 * Returns 0 when that started (the loop
 * stops later), -1 when there is nothing to wait for. */
int od_broker_life_shutdown(struct od_core *core);

#endif
