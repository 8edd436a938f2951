/* oauth_mech.c - the OAUTHBEARER mechanism (RFC 7628) as Kafka's
 * OAuthBearerSaslServer: the client's one message carries
 * "auth=Bearer <JWT>"; a valid token logs in as User:<sub claim> for the
 * token's remaining lifetime (the core re-checks it, KIP-368). An invalid
 * token is answered with the RFC 7628 error JSON; the client's
 * acknowledgement (a single 0x01) then fails the login. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "odradek-module.h"
#include "oauth.h"

static od_core_t *core_of;
static od_module_ctx_t *module_ctx;
static char *jwks_url, *issuer, *audience, *sub_claim; /* config targets */
static int64_t clock_skew;

typedef struct oauth_state {
    int step;         /* 0: client message expected, 1: the acknowledgement of an error */
    char err[256];    /* why the token was refused */
} oauth_state_t;

static int oauth_begin(void *self, od_sasl_session_t *s, void **state, char *err, size_t errsz)
{
    oauth_state_t *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, errsz, "out of memory");
        return OD_ERR_NOMEM;
    }
    *state = st;
    return OD_OK;
}

static void oauth_end(void *self, void *state)
{
    free(state);
}

static const char *lv(od_sasl_session_t *s, const char *key)
{
    const od_client_t *c = od_sasl_client(s);
    char k[128];
    snprintf(k, sizeof(k), "oauthbearer.%s", key); /* Kafka's mechanism prefix */
    const char *v = od_config_listener_get(core_of, c ? c->listener : NULL, k);
    return v ? v : "";
}

/* Fields of "gs2-header \x01 key=value \x01 ... \x01\x01": the token of
 * auth=Bearer and the authzid; -1 when the message is not of that shape. */
static int parse(const char *msg, size_t len, char *token, size_t tcap, char *authz, size_t acap)
{
    const char *end = msg + len;
    if (len < 5 || strncmp(msg, "n,", 2) != 0) /* channel binding is not offered */
        return -1;
    const char *p = msg + 2;
    const char *comma = memchr(p, ',', (size_t)(end - p));
    if (!comma)
        return -1;
    authz[0] = '\0';
    if (comma > p) {
        if (strncmp(p, "a=", 2) != 0 || (size_t)(comma - p - 2) >= acap)
            return -1;
        memcpy(authz, p + 2, (size_t)(comma - p - 2));
        authz[comma - p - 2] = '\0';
    }
    p = comma + 1;
    if (p >= end || *p != '\x01' || end - msg < 2 || end[-1] != '\x01' || end[-2] != '\x01')
        return -1;
    int have = 0;
    for (p++; p < end - 1;) {
        const char *e = memchr(p, '\x01', (size_t)(end - p));
        if (!e)
            return -1;
        size_t n = (size_t)(e - p);
        if (n > 12 && strncmp(p, "auth=Bearer ", 12) == 0) {
            if (have || n - 12 >= tcap)
                return -1;
            memcpy(token, p + 12, n - 12);
            token[n - 12] = '\0';
            have = 1;
        } else if (n > 0 && !memchr(p, '=', n)) {
            return -1; /* key=value pairs only; other extensions are accepted, unused */
        }
        p = e + 1;
    }
    return have ? 0 : -1;
}

static int oauth_step(void *self, void *state, od_sasl_session_t *s, const uint8_t *in, size_t len,
                      char *err, size_t errsz)
{
    oauth_state_t *st = state;
    if (st->step == 1) {
        /* The client acknowledged the error: Kafka fails the login with
         * the error JSON as its message. */
        snprintf(err, errsz, "{\"status\":\"invalid_token\"}");
        if (!(len == 1 && in[0] == 0x01))
            snprintf(err, errsz, "Authentication failed: unexpected OAUTHBEARER message");
        return OD_ERR_DENIED;
    }
    char *token = malloc(OAUTH_MAX_TOKEN + 1);
    char authz[256], sub[512];
    int64_t exp_ms = 0;
    if (!token)
        return OD_ERR_NOMEM;
    int rc;
    if (len > OAUTH_MAX_TOKEN + 64 || memchr(in, '\0', len) ||
        parse((const char *)in, len, token, OAUTH_MAX_TOKEN + 1, authz, sizeof(authz)) < 0) {
        free(token);
        snprintf(err, errsz, "Authentication failed: Invalid OAUTHBEARER client first message");
        return OD_ERR_DENIED;
    }
    const char *skew = lv(s, "sasl.oauthbearer.clock.skew.seconds");
    oauth_policy_t pol = {
        .jwks_url = lv(s, "sasl.oauthbearer.jwks.endpoint.url"),
        .issuer = lv(s, "sasl.oauthbearer.expected.issuer"),
        .audience = lv(s, "sasl.oauthbearer.expected.audience"),
        .clock_skew_s = *skew ? strtoll(skew, NULL, 10) : 30,
        .sub_claim = lv(s, "sasl.oauthbearer.sub.claim.name"),
    };
    int64_t now = od_now_ms();
    rc = oauth_validate(&pol, token, now, sub, sizeof(sub), &exp_ms, st->err, sizeof(st->err));
    free(token);
    if (rc == 0 && authz[0] && strcmp(authz, sub) != 0) {
        snprintf(st->err, sizeof(st->err), "the authorization id %.100s is not the token's "
                 "subject", authz);
        rc = -1;
    }
    if (rc < 0) {
        od_mlogf(module_ctx, OD_LOG_INFO, "client %s: OAUTHBEARER token refused: %s",
                 od_sasl_client(s) ? od_sasl_client(s)->peer : "?", st->err);
        static const char json[] = "{\"status\":\"invalid_token\"}";
        st->step = 1;
        if (od_sasl_reply(s, (const uint8_t *)json, sizeof(json) - 1) != OD_OK)
            return OD_ERR_NOMEM;
        return OD_SASL_CONTINUE;
    }
    char principal[520];
    snprintf(principal, sizeof(principal), "User:%s", sub);
    int64_t life = exp_ms - now > 0 ? exp_ms - now : 1; /* inside the clock skew: at once */
    if (od_sasl_reply(s, (const uint8_t *)"", 0) != OD_OK ||
        od_sasl_set_principal(s, principal, life) != OD_OK)
        return OD_ERR_NOMEM;
    return OD_SASL_DONE;
}

static const od_sasl_mech_ops_t oauth_ops = {
    .struct_size = sizeof(od_sasl_mech_ops_t),
    .name = "OAUTHBEARER",
    .begin = oauth_begin,
    .step = oauth_step,
    .end = oauth_end,
};

static const od_conf_def_t oauth_defs[] = {
    {"sasl.oauthbearer.jwks.endpoint.url", OD_CONF_STRING, "", 0, 0, NULL,
     "where OAUTHBEARER finds the keys that sign tokens: a JWKS file as file:///path (only "
     "file: URLs; read at every login)",
     &jwks_url, OD_CONF_F_LISTENER},
    {"sasl.oauthbearer.expected.issuer", OD_CONF_STRING, "", 0, 0, NULL,
     "the iss claim a token must have; empty: not checked", &issuer, OD_CONF_F_LISTENER},
    {"sasl.oauthbearer.expected.audience", OD_CONF_LIST, "", 0, 0, NULL,
     "audiences of which a token's aud claim must name one; empty: not checked", &audience,
     OD_CONF_F_LISTENER},
    {"sasl.oauthbearer.clock.skew.seconds", OD_CONF_INT, "30", 0, 3600, NULL,
     "seconds of clock difference tolerated for exp and nbf", &clock_skew, OD_CONF_F_LISTENER},
    {"sasl.oauthbearer.sub.claim.name", OD_CONF_STRING, "sub", 0, 0, NULL,
     "the claim whose value is the principal's name (User:<value>)", &sub_claim,
     OD_CONF_F_LISTENER},
};

static int oauth_init(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    module_ctx = ctx;
    core_of = od_module_core(ctx);
    if (od_register_config(ctx, oauth_defs, sizeof(oauth_defs) / sizeof(oauth_defs[0])) < 0 ||
        od_register_sasl_mechanism(ctx, &oauth_ops, NULL) < 0) {
        snprintf(err, errsz, "cannot register the OAUTHBEARER mechanism");
        return -1;
    }
    return 0;
}

const od_module_t od_module = {
    .abi_major = OD_ABI_MAJOR,
    .abi_minor = OD_ABI_MINOR,
    .name = "sasl_oauthbearer",
    .version = "1.0",
    .kinds = OD_KIND_AUTHN,
    .init = oauth_init,
};
