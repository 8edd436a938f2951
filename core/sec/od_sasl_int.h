/* od_sasl_int.h - state shared by od_sasl.c (the state machine) and
 * od_sasl_session.c (the services a mechanism calls). */
#ifndef OD_SASL_INT_H
#define OD_SASL_INT_H

#include "od_sasl.h"

#define OD_SASL_MAX_PRINCIPAL 512
#define OD_SASL_MAX_MECH 64

typedef enum od_sasl_state {
    OD_SASLST_HANDSHAKE = 0, /* nothing yet: ApiVersions or SaslHandshake */
    OD_SASLST_AUTHENTICATE,  /* handshake done: SaslAuthenticate (or raw tokens after v0) */
    OD_SASLST_DONE,          /* authenticated: every request (until the session expires) */
    OD_SASLST_FAILED         /* answered with an error; closing once that is written */
} od_sasl_state_t;

struct od_sasl_session {
    od_sasl_conn_t *sc; /* NULL once the connection closed (a pending step) */
    const od_sasl_mech_ops_t *ops;
    void *self;
    void *state;
    od_req_t *req; /* the SaslAuthenticate being answered (NULL: raw framing) */
    int pending;   /* step returned OD_ERR_PENDING; od_sasl_resume finishes it */
    int ended;     /* ops->end ran */
    uint8_t *reply;
    size_t reply_len;
    int replied;
    int have_principal;
    char principal[OD_SASL_MAX_PRINCIPAL];
    int64_t lifetime_ms;
};

struct od_sasl_conn {
    od_conn_t *conn;
    od_sasl_state_t state;
    int16_t handshake_version; /* of the latest handshake; 0: raw tokens follow */
    char mechanism[OD_SASL_MAX_MECH];
    od_sasl_session_t *sess; /* the exchange in progress, or NULL */
    int authenticated;       /* once authenticated (re-authentication keeps the principal) */
    char principal[OD_SASL_MAX_PRINCIPAL];
    int64_t expiry_ms; /* wall clock end of the session, 0: none */
};

od_sasl_conn_t *od_sasl_conn_get(od_conn_t *c); /* made on first use; NULL: no memory */
/* Start an exchange with the mechanism the handshake chose. */
od_sasl_session_t *od_sasl_session_begin(od_sasl_conn_t *sc, char *err, size_t errsz);
/* Run one client message through the mechanism and answer (or go pending). */
void od_sasl_session_step(od_sasl_session_t *s, const uint8_t *in, size_t len);
/* End the mechanism's exchange (ops->end) and free s unless pending. */
void od_sasl_session_end(od_sasl_session_t *s);
/* The failure path: answer with SASL_AUTHENTICATION_FAILED (or the raw
 * close) and close the connection once written. */
void od_sasl_fail(od_sasl_conn_t *sc, od_req_t *r, int16_t code, const char *msg);

#endif
