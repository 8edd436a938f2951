/* od_sasl_session.c - one SASL exchange: the mechanism's steps, the
 * services it calls (od_sasl_reply, od_sasl_set_principal, od_sasl_resume,
 * od_sasl_credentials, od_sasl_client), and the end of a login (the
 * AUTHENTICATE event, re-authentication rules, session lifetime). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_dispatch.h"
#include "od_ext.h"
#include "od_sasl_int.h"

/* A pending SaslAuthenticate whose connection closes: nothing to answer. */
static void cancel_pending(od_req_t *r)
{
    od_req_free(r);
}

od_sasl_session_t *od_sasl_session_begin(od_sasl_conn_t *sc, char *err, size_t errsz)
{
    od_core_t *core = sc->conn->core;
    const od_ext_reg_t *reg = od_ext_find(core, OD_EXT_SASL_MECH, sc->mechanism);
    if (!reg) {
        snprintf(err, errsz, "SASL mechanism %s is not loaded", sc->mechanism);
        return NULL;
    }
    od_sasl_session_t *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    s->sc = sc;
    s->ops = reg->ops;
    s->self = reg->self;
    if (s->ops->begin && s->ops->begin(s->self, s, &s->state, err, errsz) != OD_OK) {
        free(s);
        return NULL;
    }
    return s;
}

void od_sasl_session_end(od_sasl_session_t *s)
{
    if (!s->ended) {
        s->ended = 1;
        if (s->ops->end)
            s->ops->end(s->self, s->state);
        s->state = NULL;
    }
    if (s->req && s->pending) {
        /* The request stays queued until resume answers (or the connection
         * closes and its cancel frees it). */
        return;
    }
    if (!s->pending) {
        free(s->reply);
        free(s);
    }
}

/* The principal and mechanism are this connection's from now on. */
static int finish_login(od_sasl_session_t *s, char *err, size_t errsz)
{
    od_sasl_conn_t *sc = s->sc;
    od_conn_t *c = sc->conn;
    od_core_t *core = c->core;
    if (!s->have_principal) {
        snprintf(err, errsz, "the %s mechanism finished without a principal", sc->mechanism);
        return -1;
    }
    char principal[OD_SASL_MAX_PRINCIPAL];
    snprintf(principal, sizeof(principal), "%s", s->principal);
    char reason[256] = "";
    od_ev_auth_t ev = {.struct_size = sizeof(ev),
                       .client = &c->client,
                       .mechanism = sc->mechanism,
                       .principal = principal,
                       .principal_size = sizeof(principal),
                       .reason = reason,
                       .reason_size = sizeof(reason)};
    if (od_event_fire(core, OD_EVENT_AUTHENTICATE, &ev, NULL) == OD_DENY) {
        snprintf(err, errsz, "%s", reason[0] ? reason : "Authentication denied");
        return -1;
    }
    principal[sizeof(principal) - 1] = '\0';
    if (sc->authenticated && strcmp(principal, sc->principal) != 0) {
        /* KIP-368: a re-authentication proves the same identity. */
        snprintf(err, errsz,
                 "Cannot change principals during re-authentication from %.200s: %.200s",
                 sc->principal, principal);
        return -1;
    }
    int64_t lifetime = s->lifetime_ms > 0 ? s->lifetime_ms : 0;
    /* Kafka's listener.name.<l>.<mechanism>.connections.max.reauth.ms
     * first, then the listener's and the broker's key. */
    char key[OD_SASL_MAX_MECH + 32];
    od_sasl_mech_key(sc->mechanism, "connections.max.reauth.ms", key, sizeof(key));
    const char *mr = od_sasl_listener_value(c, key);
    int64_t max_reauth = mr ? strtoll(mr, NULL, 10) : 0;
    if (max_reauth > 0 && (lifetime == 0 || max_reauth < lifetime))
        lifetime = max_reauth;
    int64_t expiry = lifetime > 0 ? od_now_ms() + lifetime : 0;
    if (od_conn_set_principal(c, principal, sc->mechanism, expiry) != OD_OK) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    snprintf(sc->principal, sizeof(sc->principal), "%s", principal);
    sc->expiry_ms = expiry;
    s->lifetime_ms = lifetime;
    od_logf(OD_LOG_INFO, "client %s %sauthenticated as %s with %s%s", c->peer,
            sc->authenticated ? "re-" : "", principal, sc->mechanism,
            lifetime > 0 ? " (session lifetime limited)" : "");
    sc->authenticated = 1;
    sc->state = OD_SASLST_DONE;
    return 0;
}

/* What a step returned (directly or through od_sasl_resume): answer the
 * request in the framing of the handshake. */
static void conclude(od_sasl_session_t *s, int status, const char *err_in)
{
    od_sasl_conn_t *sc = s->sc;
    od_req_t *r = s->req;
    s->req = NULL;
    char err[512];
    snprintf(err, sizeof(err), "%s", err_in ? err_in : "");
    if (status == OD_SASL_DONE && sc->state == OD_SASLST_FAILED) {
        /* The connection failed meanwhile (a request while this step was
         * pending): it closes; this login does not count. */
        status = OD_ERR_DENIED;
        snprintf(err, sizeof(err), "Authentication failed: the connection is closing");
    }
    if (status == OD_SASL_DONE && finish_login(s, err, sizeof(err)) < 0)
        status = OD_ERR_DENIED;
    if (status != OD_SASL_CONTINUE && status != OD_SASL_DONE) {
        if (!err[0] || status != OD_ERR_DENIED)
            snprintf(err + strlen(err), sizeof(err) - strlen(err), "%s%s", err[0] ? ": " : "",
                     "Authentication failed");
        sc->sess = NULL;
        od_sasl_session_end(s);
        od_sasl_fail(sc, r, OD_ERR_SASL_AUTHENTICATION_FAILED, err);
        return;
    }
    if (r->hdr.api_version < 0) { /* raw token framing (v0 handshake) */
        /* A token goes back only when the mechanism gave one (even an
         * empty one, as PLAIN's); Kafka sends nothing for a null answer
         * (GSSAPI's last step) and clients read exactly what is sent. */
        if (s->replied)
            od_write_raw(&r->resp, s->reply ? s->reply : (const uint8_t *)"", s->reply_len);
        else
            od_req_no_response(r), r = NULL;
    } else {
        od_SaslAuthenticateResponse_t resp;
        od_SaslAuthenticateResponse_init(&resp);
        resp.error_code = OD_ERR_NONE;
        resp.error_message.len = -1;
        resp.auth_bytes.p = s->reply ? s->reply : (const uint8_t *)"";
        resp.auth_bytes.len = (int32_t)s->reply_len;
        resp.session_lifetime_ms = status == OD_SASL_DONE ? s->lifetime_ms : 0;
        od_SaslAuthenticateResponse_encode(&r->resp, r->hdr.api_version, &resp);
    }
    free(s->reply);
    s->reply = NULL;
    s->reply_len = 0;
    s->replied = 0;
    if (status == OD_SASL_DONE) {
        sc->sess = NULL;
        od_sasl_session_end(s);
    }
    if (r)
        od_req_done(r);
}

void od_sasl_session_step(od_sasl_session_t *s, const uint8_t *in, size_t len)
{
    char err[512] = "";
    int rc = s->ops->step(s->self, s->state, s, in, len, err, sizeof(err));
    if (rc == OD_ERR_PENDING) {
        s->pending = 1;
        s->req->cancel = cancel_pending;
        return;
    }
    conclude(s, rc, err);
}

/* ---- services for mechanisms (odradek-module.h) ---- */

const od_client_t *od_sasl_client(od_sasl_session_t *s)
{
    return s && s->sc ? &s->sc->conn->client : od_ext_nobody();
}

const od_credential_ops_t *od_sasl_credentials(od_sasl_session_t *s, void **self)
{
    if (!s || !s->sc)
        return NULL;
    char key[OD_SASL_MAX_MECH + 32];
    const char *name = od_sasl_listener_value(
        s->sc->conn,
        od_sasl_mech_key(s->sc->mechanism, "sasl.credential.backend", key, sizeof(key)));
    const od_ext_reg_t *reg = name ? od_ext_find(s->sc->conn->core, OD_EXT_CREDENTIALS, name)
                                   : NULL;
    if (!reg)
        return NULL;
    if (self)
        *self = reg->self;
    return reg->ops;
}

int od_sasl_reply(od_sasl_session_t *s, const uint8_t *data, size_t len)
{
    if (!s || s->replied || len > (size_t)INT32_MAX)
        return OD_ERR_INVALID;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return OD_ERR_NOMEM;
    if (len)
        memcpy(copy, data, len);
    s->reply = copy;
    s->reply_len = len;
    s->replied = 1;
    return OD_OK;
}

int od_sasl_set_principal(od_sasl_session_t *s, const char *principal, int64_t lifetime_ms)
{
    if (!s || !principal || strlen(principal) >= sizeof(s->principal))
        return OD_ERR_INVALID;
    snprintf(s->principal, sizeof(s->principal), "%s", principal);
    s->have_principal = 1;
    s->lifetime_ms = lifetime_ms;
    return OD_OK;
}

void od_sasl_resume(od_sasl_session_t *s, int status, const char *err)
{
    if (!s || !s->pending)
        return;
    s->pending = 0;
    if (!s->sc) {
        /* The connection closed meanwhile; its request was freed with it. */
        od_sasl_session_end(s);
        return;
    }
    if (s->req)
        s->req->cancel = NULL;
    if (status == OD_ERR_PENDING)
        status = OD_ERR; /* a resume must conclude the step */
    od_conn_t *c = s->sc->conn;
    conclude(s, status, err);
    /* Reading was held for this step: the flush resumes it (frames the
     * client pipelined behind the login are buffered). */
    if (!c->closing && !c->in_read)
        od_conn_flush(c);
}
