/* od_ext.h - the core side of the extension points of module ABI 1.3:
 * the registries of the module kinds (SASL mechanisms, credential
 * backends, authorizers, partitioners, serializers), events
 * (od_register_event, od_event_fire), the admin check that handlers call
 * once per resource, and od_loop_post's queue. One od_ext_t per core
 * (core->ext), made by od_core_new. */
#ifndef OD_EXT_H
#define OD_EXT_H

#include <stddef.h>
#include <stdint.h>

#include "odradek-module.h"

struct od_core;
struct od_req;
struct od_conn;

/* The module kinds kept by name (several of a kind at once; the
 * configuration chooses). */
typedef enum od_ext_kind {
    OD_EXT_SASL_MECH = 0,
    OD_EXT_CREDENTIALS,
    OD_EXT_AUTHORIZER,
    OD_EXT_PARTITIONER,
    OD_EXT_SERIALIZER,
    OD_EXT_NKINDS
} od_ext_kind_t;

typedef struct od_ext_reg {
    const void *ops; /* the kind's ops struct (od_sasl_mech_ops_t, ...) */
    void *self;
    const char *name;   /* ops->name */
    const char *module; /* the registering module's name */
} od_ext_reg_t;

typedef struct od_ext od_ext_t;

/* Made with the core (eventfd watched by the core's loop); NULL on failure. */
od_ext_t *od_ext_new(struct od_core *core);
void od_ext_free(od_ext_t *x);
/* Once the broker is ready: the TICK timer (only when a module listens). */
int od_ext_start(struct od_core *core, char *err, size_t errsz);
/* Shutdown began: od_loop_post refuses (OD_ERR_STOPPING), posts already
 * queued run now, the TICK timer stops. */
void od_ext_stop(struct od_core *core);

/* A registration that failed a rule (a name registered twice, a bad ops
 * struct) while a module's init ran; od_module.c turns it into a start
 * error after init returns, whatever init returned. Cleared by the call. */
int od_ext_take_error(struct od_core *core, char *err, size_t errsz);

/* Registries: lookups by name (case-sensitive, as Kafka's mechanism and
 * class names), and iteration in registration (= module load) order.
 * od_ext_authorizer finds by name or by one of its class_names. */
const od_ext_reg_t *od_ext_find(struct od_core *core, od_ext_kind_t kind, const char *name);
const od_ext_reg_t *od_ext_at(struct od_core *core, od_ext_kind_t kind, size_t i);
size_t od_ext_count(struct od_core *core, od_ext_kind_t kind);
const od_ext_reg_t *od_ext_authorizer(struct od_core *core, const char *name_or_class);

/* Events. od_event_fire calls the event's callbacks in module load order
 * and returns the first decision (OD_ALLOW or OD_DENY), or OD_DEFER when
 * every callback deferred (the caller applies the event's default).
 * *decider (may be NULL) gets the deciding module's name. ev is the
 * event's od_ev_*_t; its reason buffer, when it has one, is cleared first. */
int od_event_fire(struct od_core *core, int event, const void *ev, const char **decider);
/* Whether any module listens to event (to skip building the event). */
int od_event_wanted(struct od_core *core, int event);

/* The administrative check of one resource: fills ev->client from the
 * request's connection, fires OD_EVENT_ADMIN, then (when no module
 * decided) the Lua policies of ev->op. Returns OD_ALLOW or OD_DENY; on a
 * deny ev->reason (the caller's buffer) holds the message for
 * POLICY_VIOLATION, and the deny is logged. */
int od_admin_check(struct od_req *r, od_ev_admin_t *ev);

/* od_admin_check for a handler: on a deny sets *error_code to
 * POLICY_VIOLATION and *error_message (may be NULL: the API has none) to
 * the reason, in the request's arena, and returns 1; 0 when allowed. */
struct od_str;
int od_admin_refuse(struct od_req *r, od_ev_admin_t *ev, int16_t *error_code,
                    struct od_str *error_message);

/* The client everything knows about a connection with none (an orphaned
 * request): "User:ANONYMOUS" on no listener. */
const od_client_t *od_ext_nobody(void);

#endif
