/* oauth.h - the sasl_oauthbearer module: the OAUTHBEARER mechanism
 * (oauth_mech.c) and JWT validation against a JWKS file (oauth_jwt.c). */
#ifndef OAUTH_H
#define OAUTH_H

#include <stddef.h>
#include <stdint.h>

#define OAUTH_MAX_TOKEN 16384
#define OAUTH_MAX_JWKS (1 << 20)

/* What a token must satisfy (Kafka's sasl.oauthbearer.* keys). */
typedef struct oauth_policy {
    const char *jwks_url;  /* file:///path */
    const char *issuer;    /* "" : not checked */
    const char *audience;  /* comma-separated; "" : not checked */
    int64_t clock_skew_s;
    const char *sub_claim; /* the claim naming the principal */
} oauth_policy_t;

/* Verify token (compact JWS, RS256 or ES256) with the JWKS of the policy
 * and check its claims at now_ms. On success *sub gets the principal's
 * name (without "User:") and *exp_ms the token's expiry (wall clock ms).
 * 0, or -1 with err. */
int oauth_validate(const oauth_policy_t *p, const char *token, int64_t now_ms, char *sub,
                   size_t subsz, int64_t *exp_ms, char *err, size_t errsz);

#endif
