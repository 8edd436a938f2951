/* scram_mech.c - the SCRAM-SHA-256 and SCRAM-SHA-512 mechanisms (RFC 5802,
 * RFC 7677) as Kafka's ScramSaslServer: client-first, server-first,
 * client-final, server-final; no channel binding; Kafka's tokenauth
 * extension (delegation tokens) is refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "od_scram.h"
#include "scram.h"

#define SCRAM_MAX_MESSAGE 4096
#define SCRAM_MAX_USER 1024

typedef struct scram_state {
    int mechanism;
    int step; /* 0: client-first expected, 1: client-final expected, 2: done */
    char user[SCRAM_MAX_USER + 1];
    char gs2[SCRAM_MAX_USER + 16]; /* the gs2 header, "n,," or "n,a=user," */
    char *client_first_bare;
    char *server_first;
    char nonce[256]; /* client nonce + server nonce */
    od_scram_cred_t cred;
} scram_state_t;

static int scram_begin(void *self, od_sasl_session_t *s, void **state, char *err, size_t errsz)
{
    scram_state_t *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, errsz, "out of memory");
        return OD_ERR_NOMEM;
    }
    st->mechanism = *(const int *)self;
    *state = st;
    return OD_OK;
}

static void scram_end(void *self, void *state)
{
    scram_state_t *st = state;
    if (!st)
        return;
    free(st->client_first_bare);
    free(st->server_first);
    OPENSSL_cleanse(st, sizeof(*st));
    free(st);
}

/* saslname (RFC 5802 5.1): "=2C" is ',', "=3D" is '='; any other '=' is
 * invalid. -1 on bad input or overflow. */
static int decode_saslname(const char *in, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '=') {
            if (n - i < 3)
                return -1;
            if (in[i + 1] == '2' && in[i + 2] == 'C')
                c = ',';
            else if (in[i + 1] == '3' && in[i + 2] == 'D')
                c = '=';
            else
                return -1;
            i += 2;
        } else if (c == ',' || c == '\0') {
            return -1;
        }
        if (o + 1 >= cap)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

/* The value of attribute `name` (one letter) in a comma-separated list of
 * a=value pairs, as a pointer into msg; NULL when missing. */
static const char *attr(const char *msg, char name, size_t *len)
{
    const char *p = msg;
    while (p && *p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n >= 2 && p[0] == name && p[1] == '=') {
            *len = n - 2;
            return p + 2;
        }
        p = e ? e + 1 : NULL;
    }
    return NULL;
}

static int invalid(char *err, size_t errsz, const char *why)
{
    snprintf(err, errsz, "Authentication failed: %s", why);
    return OD_ERR_DENIED;
}

static int client_first(scram_state_t *st, od_sasl_session_t *s, const char *msg, char *err,
                        size_t errsz)
{
    /* gs2-header: ("n" | "y") "," [ "a=" authzid ] "," ; "p=" is channel
     * binding, which a TCP listener cannot offer. */
    if (msg[0] == 'p')
        return invalid(err, errsz, "channel binding is not supported");
    if ((msg[0] != 'n' && msg[0] != 'y') || msg[1] != ',')
        return invalid(err, errsz, "Invalid SCRAM client first message");
    const char *authz = msg + 2;
    const char *comma = strchr(authz, ',');
    if (!comma)
        return invalid(err, errsz, "Invalid SCRAM client first message");
    size_t gs2_len = (size_t)(comma + 1 - msg);
    if (gs2_len >= sizeof(st->gs2))
        return invalid(err, errsz, "authorization id too long");
    memcpy(st->gs2, msg, gs2_len);
    st->gs2[gs2_len] = '\0';
    const char *bare = comma + 1;
    size_t ulen = 0, nlen = 0;
    if (strncmp(bare, "n=", 2) != 0)
        return invalid(err, errsz, "Invalid SCRAM client first message: no user name");
    const char *u = attr(bare, 'n', &ulen);
    const char *r = attr(bare, 'r', &nlen);
    if (!u || !r || nlen == 0 || nlen > 128 ||
        decode_saslname(u, ulen, st->user, sizeof(st->user)) < 0 || st->user[0] == '\0')
        return invalid(err, errsz, "Invalid SCRAM client first message");
    if (attr(bare, 'm', &ulen))
        return invalid(err, errsz, "unsupported mandatory SCRAM extension");
    /* Extensions after the nonce: Kafka's tokenauth=true asks for a
     * delegation token login, which Odradek does not have. */
    for (const char *p = strchr(r, ','); p; p = strchr(p + 1, ','))
        if (strncmp(p + 1, "tokenauth=", 10) == 0)
            return invalid(err, errsz, "delegation token authentication (tokenauth) is not "
                                       "supported");
    if (authz[0] != ',') {
        size_t alen = 0;
        const char *a = authz[0] == 'a' && authz[1] == '=' ? authz + 2 : NULL;
        char az[SCRAM_MAX_USER + 1];
        alen = a ? (size_t)(comma - a) : 0;
        if (!a || decode_saslname(a, alen, az, sizeof(az)) < 0 || strcmp(az, st->user) != 0)
            return invalid(err, errsz, "Client requested an authorization id that is different "
                                       "from username");
    }
    void *cself = NULL;
    const od_credential_ops_t *creds = od_sasl_credentials(s, &cself);
    if (!creds || !creds->scram_lookup ||
        creds->scram_lookup(cself, st->user, st->mechanism, &st->cred) != OD_OK ||
        st->cred.key_len != od_scram_key_len(st->mechanism) || st->cred.salt_len == 0 ||
        st->cred.salt_len > sizeof(st->cred.salt))
        return invalid(err, errsz, "Invalid user credentials");
    uint8_t rnd[24];
    char snonce[40];
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        return invalid(err, errsz, "no random bytes for the server nonce");
    od_scram_b64_encode(rnd, sizeof(rnd), snonce);
    snprintf(st->nonce, sizeof(st->nonce), "%.*s%s", (int)nlen, r, snonce);
    char salt64[(64 + 2) / 3 * 4 + 1];
    od_scram_b64_encode(st->cred.salt, st->cred.salt_len, salt64);
    size_t sf_cap = strlen(st->nonce) + strlen(salt64) + 32;
    st->server_first = malloc(sf_cap);
    st->client_first_bare = strdup(bare);
    if (!st->server_first || !st->client_first_bare)
        return invalid(err, errsz, "out of memory");
    snprintf(st->server_first, sf_cap, "r=%s,s=%s,i=%d", st->nonce, salt64,
             (int)st->cred.iterations);
    if (od_sasl_reply(s, (const uint8_t *)st->server_first, strlen(st->server_first)) != OD_OK)
        return invalid(err, errsz, "out of memory");
    st->step = 1;
    return OD_SASL_CONTINUE;
}

static int client_final(scram_state_t *st, od_sasl_session_t *s, const char *msg, char *err,
                        size_t errsz)
{
    const char *failed = "Authentication failed during authentication due to invalid "
                         "credentials with SASL mechanism %s";
    size_t clen = 0, rlen = 0, plen = 0;
    const char *c = attr(msg, 'c', &clen);
    const char *r = attr(msg, 'r', &rlen);
    const char *p = strstr(msg, ",p=");
    if (!c || !r || !p || strncmp(msg, "c=", 2) != 0 || strchr(p + 3, ','))
        return invalid(err, errsz, "Invalid SCRAM client final message");
    p += 3;
    plen = strlen(p);
    uint8_t cb[sizeof(st->gs2)];
    int cbl = od_scram_b64_decode(c, clen, cb, sizeof(cb));
    if (cbl < 0 || (size_t)cbl != strlen(st->gs2) || memcmp(cb, st->gs2, (size_t)cbl) != 0)
        return invalid(err, errsz, "Invalid SCRAM client final message: channel binding "
                                   "does not match");
    /* As Kafka, the nonce must end with the one of server-first: librdkafka
     * sends its client nonce before the whole combined nonce. */
    size_t nl = strlen(st->nonce);
    if (rlen < nl || memcmp(r + rlen - nl, st->nonce, nl) != 0)
        return invalid(err, errsz, "Invalid SCRAM client final message: nonce does not match");
    size_t kl = st->cred.key_len;
    uint8_t proof[OD_SCRAM_MAX_KEY + 3];
    int pl = od_scram_b64_decode(p, plen, proof, sizeof(proof));
    if (pl < 0 || (size_t)pl != kl) {
        snprintf(err, errsz, failed, od_scram_mech_name(st->mechanism));
        return OD_ERR_DENIED;
    }
    /* AuthMessage = client-first-bare "," server-first "," client-final
     * without its proof. */
    size_t without = (size_t)(p - 3 - msg);
    size_t am_len = strlen(st->client_first_bare) + 1 + strlen(st->server_first) + 1 + without;
    char *am = malloc(am_len + 1);
    if (!am)
        return invalid(err, errsz, "out of memory");
    snprintf(am, am_len + 1, "%s,%s,%.*s", st->client_first_bare, st->server_first, (int)without,
             msg);
    uint8_t sig[OD_SCRAM_MAX_KEY], client_key[OD_SCRAM_MAX_KEY], stored[OD_SCRAM_MAX_KEY];
    uint8_t server_sig[OD_SCRAM_MAX_KEY];
    int ok = od_scram_hmac(st->mechanism, st->cred.stored_key, kl, (const uint8_t *)am, am_len,
                           sig) == 0;
    for (size_t i = 0; ok && i < kl; i++)
        client_key[i] = proof[i] ^ sig[i];
    ok = ok && od_scram_hash(st->mechanism, client_key, kl, stored) == 0 &&
         od_scram_equal(stored, st->cred.stored_key, kl);
    ok = ok && od_scram_hmac(st->mechanism, st->cred.server_key, kl, (const uint8_t *)am, am_len,
                             server_sig) == 0;
    free(am);
    OPENSSL_cleanse(client_key, sizeof(client_key));
    if (!ok) {
        snprintf(err, errsz, failed, od_scram_mech_name(st->mechanism));
        return OD_ERR_DENIED;
    }
    char final[2 + (OD_SCRAM_MAX_KEY + 2) / 3 * 4 + 1];
    memcpy(final, "v=", 2);
    od_scram_b64_encode(server_sig, kl, final + 2);
    char principal[SCRAM_MAX_USER + 8];
    snprintf(principal, sizeof(principal), "User:%s", st->user);
    if (od_sasl_reply(s, (const uint8_t *)final, strlen(final)) != OD_OK ||
        od_sasl_set_principal(s, principal, 0) != OD_OK)
        return invalid(err, errsz, "out of memory");
    st->step = 2;
    return OD_SASL_DONE;
}

static int scram_step(void *self, void *state, od_sasl_session_t *s, const uint8_t *in, size_t len,
                      char *err, size_t errsz)
{
    scram_state_t *st = state;
    if (len == 0 || len > SCRAM_MAX_MESSAGE || memchr(in, '\0', len))
        return invalid(err, errsz, "Invalid SCRAM message (empty, too long or with NUL)");
    char msg[SCRAM_MAX_MESSAGE + 1];
    memcpy(msg, in, len);
    msg[len] = '\0';
    switch (st->step) {
    case 0:
        return client_first(st, s, msg, err, errsz);
    case 1:
        return client_final(st, s, msg, err, errsz);
    default:
        return invalid(err, errsz, "SCRAM exchange already complete");
    }
}

static const int mech256 = OD_SCRAM_SHA_256, mech512 = OD_SCRAM_SHA_512;

static const od_sasl_mech_ops_t ops256 = {
    .struct_size = sizeof(od_sasl_mech_ops_t),
    .name = "SCRAM-SHA-256",
    .begin = scram_begin,
    .step = scram_step,
    .end = scram_end,
};
static const od_sasl_mech_ops_t ops512 = {
    .struct_size = sizeof(od_sasl_mech_ops_t),
    .name = "SCRAM-SHA-512",
    .begin = scram_begin,
    .step = scram_step,
    .end = scram_end,
};

int scram_register_mechanisms(od_module_ctx_t *ctx)
{
    if (od_register_sasl_mechanism(ctx, &ops256, (void *)&mech256) < 0 ||
        od_register_sasl_mechanism(ctx, &ops512, (void *)&mech512) < 0)
        return -1;
    return 0;
}
