/* plain.c - the PLAIN mechanism (RFC 4616) as Kafka's PlainSaslServer:
 * one client message "authzid NUL user NUL password", checked by the
 * listener's credential backend (sasl.credential.backend), which may answer
 * later (a backend on its own thread). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "odradek-module.h"

#define PLAIN_MAX_FIELD 1024

typedef struct plain_state {
    od_sasl_session_t *s;
    int in_verify;  /* inside verify_password: an answer now is synchronous */
    int answered;   /* done ran */
    int status;     /* its status */
    int ended;      /* the core ended the exchange while the backend was busy */
    int pending;    /* step returned OD_ERR_PENDING */
    char user[PLAIN_MAX_FIELD + 1];
    char err[256];
} plain_state_t;

static int plain_begin(void *self, od_sasl_session_t *s, void **state, char *err, size_t errsz)
{
    plain_state_t *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, errsz, "out of memory");
        return OD_ERR_NOMEM;
    }
    st->s = s;
    *state = st;
    return OD_OK;
}

static int finish(plain_state_t *st, char *err, size_t errsz)
{
    if (st->status != OD_OK) {
        snprintf(err, errsz, "%s",
                 st->status == OD_ERR_DENIED || !st->err[0]
                     ? "Authentication failed: Invalid username or password"
                     : st->err);
        return OD_ERR_DENIED;
    }
    char principal[PLAIN_MAX_FIELD + 8];
    snprintf(principal, sizeof(principal), "User:%s", st->user);
    if (od_sasl_reply(st->s, (const uint8_t *)"", 0) != OD_OK ||
        od_sasl_set_principal(st->s, principal, 0) != OD_OK) {
        snprintf(err, errsz, "out of memory");
        return OD_ERR_NOMEM;
    }
    return OD_SASL_DONE;
}

static void verified(void *arg, int status, const char *why)
{
    plain_state_t *st = arg;
    st->answered = 1;
    st->status = status;
    snprintf(st->err, sizeof(st->err), "%s", why ? why : "");
    if (st->in_verify)
        return; /* plain_step sees the answer when verify_password returns */
    if (st->ended) {
        /* The connection closed while the backend worked. */
        od_sasl_resume(st->s, OD_ERR, NULL);
        free(st);
        return;
    }
    char err[256] = "";
    st->pending = 0;
    int rc = finish(st, err, sizeof(err));
    od_sasl_resume(st->s, rc, err);
}

/* The three NUL-separated fields; -1 when the message is not of that shape. */
static int split(const uint8_t *in, size_t len, const char *f[3], size_t fl[3])
{
    size_t start = 0, n = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || in[i] == 0) {
            if (n == 3)
                return -1;
            f[n] = (const char *)in + start;
            fl[n++] = i - start;
            start = i + 1;
        }
    }
    return n == 3 ? 0 : -1;
}

static int plain_step(void *self, void *state, od_sasl_session_t *s, const uint8_t *in, size_t len,
                      char *err, size_t errsz)
{
    plain_state_t *st = state;
    const char *f[3];
    size_t fl[3];
    if (st->answered || st->pending) {
        snprintf(err, errsz, "Authentication failed: PLAIN takes one message");
        return OD_ERR_DENIED;
    }
    if (split(in, len, f, fl) < 0) {
        size_t tokens = 1;
        for (size_t i = 0; i < len; i++)
            tokens += in[i] == 0;
        snprintf(err, errsz, "Invalid SASL/PLAIN response: expected 3 tokens, got %zu", tokens);
        return OD_ERR_DENIED;
    }
    if (fl[1] == 0) {
        snprintf(err, errsz, "Authentication failed: username not specified");
        return OD_ERR_DENIED;
    }
    if (fl[2] == 0) {
        snprintf(err, errsz, "Authentication failed: password not specified");
        return OD_ERR_DENIED;
    }
    if (fl[0] > 0 && (fl[0] != fl[1] || memcmp(f[0], f[1], fl[0]) != 0)) {
        snprintf(err, errsz, "Authentication failed: Client requested an authorization id "
                             "that is different from username");
        return OD_ERR_DENIED;
    }
    if (fl[1] > PLAIN_MAX_FIELD || fl[2] > PLAIN_MAX_FIELD) {
        snprintf(err, errsz, "Authentication failed: username or password longer than %d bytes",
                 PLAIN_MAX_FIELD);
        return OD_ERR_DENIED;
    }
    void *cself = NULL;
    const od_credential_ops_t *creds = od_sasl_credentials(s, &cself);
    if (!creds || !creds->verify_password) {
        snprintf(err, errsz, "Authentication failed: no credential backend for PLAIN");
        return OD_ERR_DENIED;
    }
    char password[PLAIN_MAX_FIELD + 1];
    memcpy(st->user, f[1], fl[1]);
    st->user[fl[1]] = '\0';
    memcpy(password, f[2], fl[2]);
    password[fl[2]] = '\0';
    if (strlen(st->user) != fl[1] || strlen(password) != fl[2]) {
        snprintf(err, errsz, "Authentication failed: Invalid username or password");
        return OD_ERR_DENIED;
    }
    st->in_verify = 1;
    int rc = creds->verify_password(cself, od_sasl_client(s), st->user, password, verified, st);
    st->in_verify = 0;
    memset(password, 0, sizeof(password));
    if (rc != OD_OK && !st->answered) {
        snprintf(err, errsz, "Authentication failed: the credential backend is unavailable");
        return OD_ERR_DENIED;
    }
    if (st->answered)
        return finish(st, err, errsz);
    st->pending = 1;
    return OD_ERR_PENDING;
}

static void plain_end(void *self, void *state)
{
    plain_state_t *st = state;
    if (st->pending && !st->answered) {
        st->ended = 1; /* freed by verified() when the backend answers */
        return;
    }
    free(st);
}

static const od_sasl_mech_ops_t plain_ops = {
    .struct_size = sizeof(od_sasl_mech_ops_t),
    .name = "PLAIN",
    .begin = plain_begin,
    .step = plain_step,
    .end = plain_end,
};

static int plain_init(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    if (od_register_sasl_mechanism(ctx, &plain_ops, NULL) < 0) {
        snprintf(err, errsz, "cannot register the PLAIN mechanism");
        return -1;
    }
    return 0;
}

const od_module_t od_module = {
    .abi_major = OD_ABI_MAJOR,
    .abi_minor = OD_ABI_MINOR,
    .name = "sasl_plain",
    .version = "1.0",
    .kinds = OD_KIND_AUTHN,
    .init = plain_init,
};
