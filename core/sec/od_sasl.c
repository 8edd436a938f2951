/* od_sasl.c - the SASL state machine of a connection (Kafka's
 * SaslServerAuthenticator): ApiVersions and SaslHandshake first, then the
 * exchange as SaslAuthenticate requests (handshake v1) or as raw
 * length-prefixed tokens (handshake v0), then every request until the
 * session expires; re-authentication starts with a new handshake. */
#include "od_sasl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_dispatch.h"
#include "od_net.h"
#include "od_sasl_int.h"

int od_sasl_listener_wants(const od_conn_t *c)
{
    int p = c->listener ? c->listener->spec.security_protocol : OD_SECPROTO_PLAINTEXT;
    return p == OD_SECPROTO_SASL_PLAINTEXT || p == OD_SECPROTO_SASL_SSL;
}

od_sasl_conn_t *od_sasl_conn_get(od_conn_t *c)
{
    if (!c->sasl) {
        c->sasl = calloc(1, sizeof(*c->sasl));
        if (c->sasl)
            c->sasl->conn = c;
    }
    return c->sasl;
}

int od_sasl_holds_reading(const od_conn_t *c)
{
    return c->sasl && c->sasl->sess && c->sasl->sess->pending;
}

void od_sasl_conn_closed(od_conn_t *c)
{
    od_sasl_conn_t *sc = c->sasl;
    if (!sc)
        return;
    if (sc->sess) {
        od_sasl_session_t *s = sc->sess;
        sc->sess = NULL;
        s->sc = NULL;
        od_sasl_session_end(s);
    }
    free(sc);
    c->sasl = NULL;
}

int64_t od_sasl_max_frame(const od_conn_t *c)
{
    const od_core_t *core = c->core;
    if (od_sasl_listener_wants(c) && (!c->sasl || !c->sasl->authenticated) &&
        core->sasl_max_receive > 0 && core->sasl_max_receive < core->conf.socket_request_max_bytes)
        return core->sasl_max_receive;
    return core->conf.socket_request_max_bytes;
}

static void close_now(od_conn_t *c, const char *why)
{
    od_logf(OD_LOG_INFO, "client %s: %s; closing", c->peer, why);
    od_conn_close(c, why);
}

void od_sasl_fail(od_sasl_conn_t *sc, od_req_t *r, int16_t code, const char *msg)
{
    od_conn_t *c = sc->conn;
    sc->state = OD_SASLST_FAILED;
    od_logf(OD_LOG_INFO, "client %s: SASL %s failed: %s", c->peer,
            sc->mechanism[0] ? sc->mechanism : "authentication", msg ? msg : "");
    if (r && r->hdr.api_key == OD_API_SASL_AUTHENTICATE && r->hdr.api_version >= 0) {
        od_SaslAuthenticateResponse_t resp;
        od_SaslAuthenticateResponse_init(&resp);
        resp.error_code = code;
        resp.error_message = od_str_c(msg);
        resp.auth_bytes.p = (const uint8_t *)"";
        resp.auth_bytes.len = 0;
        od_SaslAuthenticateResponse_encode(&r->resp, r->hdr.api_version, &resp);
    } else if (r) {
        /* A raw token (after a v0 handshake) has no way to carry a
         * failure: Kafka closes the connection; the slot goes first. */
        od_req_no_response(r);
        r = NULL;
    }
    /* The answer goes out, then the connection closes (never a second
     * chance on the same connection, as Kafka). */
    c->close_after_flush = "SASL authentication failed";
    if (r)
        od_req_done(r);
    else if (!c->q_head)
        od_conn_close(c, c->close_after_flush);
}

/* Requests a SASL listener serves before the client has authenticated. */
static int served_before_auth(int16_t key)
{
    return key == OD_API_API_VERSIONS || key == OD_API_SASL_HANDSHAKE ||
           key == OD_API_SASL_AUTHENTICATE;
}

int od_sasl_gate(od_conn_t *c, const od_request_header_t *h)
{
    if (!od_sasl_listener_wants(c))
        return 0; /* the handlers answer SASL requests there with ILLEGAL_SASL_STATE */
    od_sasl_conn_t *sc = od_sasl_conn_get(c);
    if (!sc) {
        od_conn_close(c, "out of memory");
        return -1;
    }
    if (sc->state == OD_SASLST_FAILED)
        return -1; /* closing once the failure is written: nothing more */
    if (sc->state == OD_SASLST_DONE) {
        if (sc->expiry_ms > 0 && od_now_ms() >= sc->expiry_ms &&
            h->api_key != OD_API_SASL_HANDSHAKE && h->api_key != OD_API_SASL_AUTHENTICATE) {
            /* KIP-368: past its lifetime only re-authentication is served;
             * anything else closes the connection. */
            char why[160];
            snprintf(why, sizeof(why), "SASL session of %.80s expired %lld ms ago", sc->principal,
                     (long long)(od_now_ms() - sc->expiry_ms));
            close_now(c, why);
            return -1;
        }
        return 0;
    }
    if (!served_before_auth(h->api_key)) {
        char why[160];
        const od_proto_api_t *a = od_proto_api(h->api_key);
        snprintf(why, sizeof(why), "unexpected %s request during SASL authentication",
                 a ? a->name : "unknown");
        close_now(c, why);
        return -1;
    }
    return 0;
}

/* A token after a v0 handshake: 4-byte length and the mechanism's bytes,
 * no request header (Kafka's "raw" SASL framing). */
int od_sasl_raw_frame(od_conn_t *c, const uint8_t *frame, size_t len)
{
    od_sasl_conn_t *sc = c->sasl;
    if (!sc || !od_sasl_listener_wants(c))
        return 0;
    if (sc->state == OD_SASLST_FAILED)
        return 1;
    if (sc->state != OD_SASLST_AUTHENTICATE || sc->handshake_version != 0)
        return 0;
    if (sc->sess && sc->sess->pending) {
        close_now(c, "SASL token while the previous one is being checked");
        return 1;
    }
    od_req_t *r = od_req_new(c);
    if (!r) {
        od_conn_close(c, "out of memory");
        return 1;
    }
    r->hdr.api_key = OD_API_SASL_AUTHENTICATE;
    r->hdr.api_version = -1; /* raw: no Kafka response header */
    r->len_pos = od_wbuf_reserve(&r->resp, 4);
    if (!sc->sess) {
        char err[256] = "";
        if (!(sc->sess = od_sasl_session_begin(sc, err, sizeof(err)))) {
            od_sasl_fail(sc, r, OD_ERR_SASL_AUTHENTICATION_FAILED, err);
            return 1;
        }
    }
    sc->sess->req = r;
    od_sasl_session_step(sc->sess, frame, len);
    return 1;
}

/* ---- SaslHandshake ---- */

static void list_enabled(od_req_t *r, od_conn_t *c, od_SaslHandshakeResponse_t *resp)
{
    const char *list = od_sasl_listener_value(c, "sasl.enabled.mechanisms");
    size_t n = 0, cap = 1;
    for (const char *p = list ? list : ""; *p; p++)
        cap += *p == ',';
    resp->mechanisms = od_arena_calloc(&r->arena, cap, sizeof(*resp->mechanisms));
    if (!resp->mechanisms) {
        resp->mechanisms_count = 0;
        return;
    }
    for (const char *p = list ? list : ""; *p && n < cap;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && t[-1] == ' ')
            t--;
        if (t > p) {
            resp->mechanisms[n].p = p;
            resp->mechanisms[n].len = (int32_t)(t - p);
            n++;
        }
        p = e;
    }
    resp->mechanisms_count = (int32_t)n;
}

static void handshake_answer(od_req_t *r, int16_t code, int close_after)
{
    od_conn_t *c = r->conn;
    if (!c->sasl) { /* a listener without SASL (Kafka's KafkaApis answer) */
        od_SaslHandshakeResponse_t resp;
        od_SaslHandshakeResponse_init(&resp);
        resp.error_code = code;
        od_SaslHandshakeResponse_encode(&r->resp, r->hdr.api_version, &resp);
        od_req_done(r);
        return;
    }
    od_SaslHandshakeResponse_t resp;
    od_SaslHandshakeResponse_init(&resp);
    resp.error_code = code;
    list_enabled(r, c, &resp);
    od_SaslHandshakeResponse_encode(&r->resp, r->hdr.api_version, &resp);
    if (close_after) {
        c->sasl->state = OD_SASLST_FAILED;
        c->close_after_flush = "SASL handshake refused";
    }
    od_req_done(r);
}

void od_h_sasl_handshake(od_req_t *r, void *body)
{
    od_SaslHandshakeRequest_t *req = body;
    od_conn_t *c = r->conn;
    od_sasl_conn_t *sc = c->sasl; /* the gate made it on SASL listeners */
    if (!sc) {
        handshake_answer(r, OD_ERR_ILLEGAL_SASL_STATE, 0);
        return;
    }
    char mech[OD_SASL_MAX_MECH];
    snprintf(mech, sizeof(mech), "%.*s", req->mechanism.len > 0 ? (int)req->mechanism.len : 0,
             req->mechanism.p ? req->mechanism.p : "");
    if (sc->state == OD_SASLST_DONE && (sc->expiry_ms == 0 || r->hdr.api_version < 1)) {
        /* Re-authentication is for sessions with a lifetime (KIP-368), in
         * SaslAuthenticate framing; otherwise Kafka's KafkaApis answers
         * the handshake of an authenticated connection like this. */
        handshake_answer(r, OD_ERR_ILLEGAL_SASL_STATE, 0);
        return;
    }
    if (sc->state == OD_SASLST_AUTHENTICATE) {
        /* A second handshake inside an exchange. */
        od_logf(OD_LOG_INFO, "client %s: SaslHandshake v%d in SASL state %d", c->peer,
                r->hdr.api_version, (int)sc->state);
        handshake_answer(r, OD_ERR_ILLEGAL_SASL_STATE, 1);
        return;
    }
    int known = req->mechanism.len > 0 && (size_t)req->mechanism.len < sizeof(mech) &&
                memchr(req->mechanism.p, '\0', (size_t)req->mechanism.len) == NULL &&
                od_sasl_mech_enabled(c, mech);
    if (!known || (sc->authenticated && strcmp(mech, sc->mechanism) != 0)) {
        od_logf(OD_LOG_INFO, "client %s: SASL mechanism %s is not %s", c->peer, mech,
                known ? "the one of the session being re-authenticated" : "enabled");
        handshake_answer(r, OD_ERR_UNSUPPORTED_SASL_MECHANISM, 1);
        return;
    }
    snprintf(sc->mechanism, sizeof(sc->mechanism), "%s", mech);
    sc->handshake_version = r->hdr.api_version;
    sc->state = OD_SASLST_AUTHENTICATE;
    handshake_answer(r, OD_ERR_NONE, 0);
}

/* ---- SaslAuthenticate ---- */

void od_h_sasl_authenticate(od_req_t *r, void *body)
{
    od_SaslAuthenticateRequest_t *req = body;
    od_conn_t *c = r->conn;
    od_sasl_conn_t *sc = c->sasl;
    if (!sc || sc->state == OD_SASLST_DONE) {
        /* No SASL on the listener, or already authenticated: Kafka's
         * KafkaApis answers and the connection stays. */
        od_SaslAuthenticateResponse_t resp;
        od_SaslAuthenticateResponse_init(&resp);
        resp.error_code = OD_ERR_ILLEGAL_SASL_STATE;
        resp.error_message = od_str_c("SaslAuthenticate request received after successful "
                                      "authentication");
        resp.auth_bytes.p = (const uint8_t *)"";
        od_SaslAuthenticateResponse_encode(&r->resp, r->hdr.api_version, &resp);
        od_req_done(r);
        return;
    }
    if (sc->state != OD_SASLST_AUTHENTICATE || sc->handshake_version < 1) {
        /* Before the handshake, after a v0 handshake (raw tokens were
         * expected), or on an authenticated session without a new
         * handshake: Kafka's IllegalSaslStateException. */
        od_sasl_fail(sc, r, OD_ERR_ILLEGAL_SASL_STATE,
                     "Unexpected SaslAuthenticate request: no SaslHandshake v1 before it");
        return;
    }
    if (sc->sess && sc->sess->pending) {
        od_sasl_fail(sc, r, OD_ERR_ILLEGAL_SASL_STATE,
                     "SaslAuthenticate while the previous one is being checked");
        return;
    }
    if (!sc->sess) {
        char err[256] = "";
        if (!(sc->sess = od_sasl_session_begin(sc, err, sizeof(err)))) {
            od_sasl_fail(sc, r, OD_ERR_SASL_AUTHENTICATION_FAILED, err);
            return;
        }
    }
    sc->sess->req = r;
    od_sasl_session_step(sc->sess, req->auth_bytes.p ? req->auth_bytes.p : (const uint8_t *)"",
                         req->auth_bytes.len > 0 ? (size_t)req->auth_bytes.len : 0);
}
