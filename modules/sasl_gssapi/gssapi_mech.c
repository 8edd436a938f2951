/* gssapi_mech.c - the GSSAPI (Kerberos V5) mechanism through Cyrus SASL's
 * gssapiv2 plugin: Cyrus runs the RFC 4752 exchange (GSS context, then
 * the security-layer negotiation, where only "no layer" is offered, as in
 * Kafka); the authenticated Kerberos name becomes the principal by Kafka's
 * DEFAULT rule (User:<primary>: "alice/host@REALM" -> User:alice). The
 * acceptor only reads the keytab (sasl.kerberos.keytab, else KRB5_KTNAME
 * or the system default) and never talks to the KDC, so the steps run on
 * the loop thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sasl/sasl.h>

#include "odradek-module.h"

static od_core_t *core_of;
static od_module_ctx_t *module_ctx;
static char *service_name, *server_host, *keytab; /* config targets */
static int sasl_ready;

typedef struct gss_state {
    sasl_conn_t *conn;
    int started;
} gss_state_t;

static int getopt_cb(void *context, const char *plugin, const char *option, const char **result,
                     unsigned *len)
{
    const char *v = NULL;
    if (strcmp(option, "log_level") == 0)
        v = "0";
    else if (strcmp(option, "mech_list") == 0)
        v = "GSSAPI";
    if (!v)
        return SASL_FAIL;
    *result = v;
    if (len)
        *len = (unsigned)strlen(v);
    return SASL_OK;
}

/* Kafka's GSSAPI server authorizes every authenticated client and uses
 * the authenticated name, whatever authorization id the client sends
 * (kafka-python sends the service's name there). */
static int proxy_policy(sasl_conn_t *conn, void *context, const char *requested, unsigned rlen,
                        const char *authid, unsigned alen, const char *def_realm, unsigned urlen,
                        struct propctx *propctx)
{
    return SASL_OK;
}

static sasl_callback_t callbacks[] = {
    {SASL_CB_GETOPT, (int (*)(void))(void (*)(void))getopt_cb, NULL},
    {SASL_CB_PROXY_POLICY, (int (*)(void))(void (*)(void))proxy_policy, NULL},
    {SASL_CB_LIST_END, NULL, NULL},
};

static int gss_begin(void *self, od_sasl_session_t *s, void **state, char *err, size_t errsz)
{
    if (!sasl_ready) {
        int rc = sasl_server_init(NULL, "odradek");
        if (rc != SASL_OK) {
            snprintf(err, errsz, "Cyrus SASL does not start: %s", sasl_errstring(rc, NULL, NULL));
            return OD_ERR;
        }
        sasl_ready = 1;
    }
    const od_client_t *c = od_sasl_client(s);
    const char *svc = od_config_listener_get(core_of, c ? c->listener : NULL,
                                             "gssapi.sasl.kerberos.service.name");
    const char *host = od_config_listener_get(core_of, c ? c->listener : NULL,
                                              "gssapi.sasl.kerberos.server.hostname");
    char hn[256] = "";
    if (!host || !*host) {
        if (gethostname(hn, sizeof(hn) - 1) != 0)
            snprintf(hn, sizeof(hn), "localhost");
        host = hn;
    }
    gss_state_t *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, errsz, "out of memory");
        return OD_ERR_NOMEM;
    }
    int rc = sasl_server_new(svc && *svc ? svc : "kafka", host, NULL, NULL, NULL, callbacks, 0,
                             &st->conn);
    if (rc != SASL_OK) {
        snprintf(err, errsz, "sasl_server_new: %s", sasl_errstring(rc, NULL, NULL));
        free(st);
        return OD_ERR;
    }
    /* Kafka's GSSAPI has no security layer: max_ssf 0 offers "none". */
    sasl_security_properties_t sp = {.min_ssf = 0, .max_ssf = 0, .maxbufsize = 65536};
    sasl_setprop(st->conn, SASL_SEC_PROPS, &sp);
    *state = st;
    return OD_OK;
}

static void gss_end(void *self, void *state)
{
    gss_state_t *st = state;
    if (!st)
        return;
    if (st->conn)
        sasl_dispose(&st->conn);
    free(st);
}

static int gss_step(void *self, void *state, od_sasl_session_t *s, const uint8_t *in, size_t len,
                    char *err, size_t errsz)
{
    gss_state_t *st = state;
    const char *out = NULL;
    unsigned outlen = 0;
    if (len > 65536) {
        snprintf(err, errsz, "Authentication failed: GSSAPI token too large");
        return OD_ERR_DENIED;
    }
    const char *tok = (const char *)in;
    int rc = st->started ? sasl_server_step(st->conn, tok, (unsigned)len, &out, &outlen)
                         : sasl_server_start(st->conn, "GSSAPI", tok, (unsigned)len, &out, &outlen);
    st->started = 1;
    if (rc != SASL_OK && rc != SASL_CONTINUE) {
        od_mlogf(module_ctx, OD_LOG_INFO, "GSSAPI: %s", sasl_errdetail(st->conn));
        snprintf(err, errsz, "Authentication failed during authentication due to invalid "
                             "credentials with SASL mechanism GSSAPI");
        return OD_ERR_DENIED;
    }
    /* The last step has no token (Java's GSSAPI server answers null, which
     * Kafka does not send in the v0 framing). */
    if ((rc == SASL_CONTINUE || (out && outlen > 0)) &&
        od_sasl_reply(s, (const uint8_t *)(out ? out : ""), out ? outlen : 0) != OD_OK)
        return OD_ERR_NOMEM;
    if (rc == SASL_CONTINUE)
        return OD_SASL_CONTINUE;
    const void *user = NULL;
    if (sasl_getprop(st->conn, SASL_AUTHUSER, &user) != SASL_OK || !user || !*(const char *)user) {
        snprintf(err, errsz, "Authentication failed: no Kerberos name");
        return OD_ERR_DENIED;
    }
    /* Kafka's DEFAULT principal.to.local rule: the primary component. */
    const char *u = user;
    size_t n = strcspn(u, "/@");
    char principal[600];
    snprintf(principal, sizeof(principal), "User:%.*s", (int)(n < 512 ? n : 512), u);
    if (od_sasl_set_principal(s, principal, 0) != OD_OK)
        return OD_ERR_NOMEM;
    return OD_SASL_DONE;
}

static const od_sasl_mech_ops_t gss_ops = {
    .struct_size = sizeof(od_sasl_mech_ops_t),
    .name = "GSSAPI",
    .begin = gss_begin,
    .step = gss_step,
    .end = gss_end,
};

static const od_conf_def_t gss_defs[] = {
    {"sasl.kerberos.service.name", OD_CONF_STRING, "kafka", 0, 0, NULL,
     "the Kerberos service name of the broker (its principal is <service>/<host>@REALM)",
     &service_name, OD_CONF_F_LISTENER},
    {"sasl.kerberos.server.hostname", OD_CONF_STRING, "", 0, 0, NULL,
     "the host part of the broker's Kerberos principal; empty: the host name",
     &server_host, OD_CONF_F_LISTENER},
    {"sasl.kerberos.keytab", OD_CONF_STRING, "", 0, 0, NULL,
     "the keytab with the broker's key (sets KRB5_KTNAME at start); empty: KRB5_KTNAME from "
     "the environment or the system default",
     &keytab, 0},
};

static int gss_init(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    module_ctx = ctx;
    core_of = od_module_core(ctx);
    if (od_register_config(ctx, gss_defs, sizeof(gss_defs) / sizeof(gss_defs[0])) < 0 ||
        od_register_sasl_mechanism(ctx, &gss_ops, NULL) < 0) {
        snprintf(err, errsz, "cannot register the GSSAPI mechanism");
        return -1;
    }
    return 0;
}

static int gss_start(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    /* Before any GSS call reads it (one thread runs at this point). */
    if (keytab && *keytab && setenv("KRB5_KTNAME", keytab, 1) != 0) {
        snprintf(err, errsz, "cannot set KRB5_KTNAME");
        return -1;
    }
    return 0;
}

static void gss_fini(od_module_ctx_t *ctx)
{
    /* sasl_server_done would also end the cyrus backend's use of libsasl2
     * in this process; the library's state goes with the process. */
}

const od_module_t od_module = {
    .abi_major = OD_ABI_MAJOR,
    .abi_minor = OD_ABI_MINOR,
    .name = "sasl_gssapi",
    .version = "1.0",
    .kinds = OD_KIND_AUTHN,
    .init = gss_init,
    .fini = gss_fini,
    .start = gss_start,
};
