/* oauth_jwt.c - JWT (RFC 7519) validation for OAUTHBEARER: the compact
 * JWS is split and base64url-decoded, its key found in a JWKS file (RFC
 * 7517) by kid and key type, the RS256 or ES256 signature verified with
 * OpenSSL, then exp/nbf (with the clock skew), iss, aud and the subject
 * claim are checked. JSON by jansson. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "oauth.h"

/* base64url without padding (RFC 7515 2); -1 on bad input or overflow. */
static long b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        int v = c >= 'A' && c <= 'Z'   ? c - 'A'
                : c >= 'a' && c <= 'z' ? c - 'a' + 26
                : c >= '0' && c <= '9' ? c - '0' + 52
                : c == '-'             ? 62
                : c == '_'             ? 63
                                       : -1;
        if (c == '=' && i + 2 >= n)
            break; /* tolerated trailing padding */
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap)
                return -1;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    return (long)o;
}

static json_t *decode_json(const char *b64, size_t n)
{
    size_t cap = n * 3 / 4 + 4;
    uint8_t *buf = malloc(cap + 1);
    if (!buf)
        return NULL;
    long len = b64url_decode(b64, n, buf, cap);
    json_t *j = len < 0 ? NULL : json_loadb((const char *)buf, (size_t)len, 0, NULL);
    free(buf);
    return j;
}

/* A JWK member (base64url) as a BIGNUM-sized byte string. */
static long jwk_bytes(json_t *k, const char *name, uint8_t *out, size_t cap)
{
    const char *v = json_string_value(json_object_get(k, name));
    return v ? b64url_decode(v, strlen(v), out, cap) : -1;
}

static EVP_PKEY *jwk_to_key(json_t *k, int want_ec, char *err, size_t errsz)
{
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    BIGNUM *n = NULL, *e = NULL;
    uint8_t a[1024], b[1024];
    uint8_t pub[65]; /* the builder keeps a pointer to it until to_param */
    if (!bld)
        goto out;
    if (want_ec) {
        const char *crv = json_string_value(json_object_get(k, "crv"));
        long xl = jwk_bytes(k, "x", a, 32), yl = jwk_bytes(k, "y", b, 32);
        if (!crv || strcmp(crv, "P-256") != 0 || xl != 32 || yl != 32) {
            snprintf(err, errsz, "the EC key is not a P-256 key with 32-byte x and y");
            goto out;
        }
        pub[0] = 0x04; /* uncompressed point */
        memcpy(pub + 1, a, 32);
        memcpy(pub + 33, b, 32);
        if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
            !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)))
            goto out;
    } else {
        long nl = jwk_bytes(k, "n", a, sizeof(a)), el = jwk_bytes(k, "e", b, sizeof(b));
        if (nl <= 0 || el <= 0 || nl < 256) {
            snprintf(err, errsz, "the RSA key has no n/e or is shorter than 2048 bits");
            goto out;
        }
        n = BN_bin2bn(a, (int)nl, NULL);
        e = BN_bin2bn(b, (int)el, NULL);
        if (!n || !e || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
            goto out;
    }
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, want_ec ? "EC" : "RSA", NULL);
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
        snprintf(err, errsz, "the JWKS key does not load");
        pkey = NULL;
    }
out:
    if (!pkey && !err[0])
        snprintf(err, errsz, "out of memory building the key");
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return pkey;
}

/* The JWKS of a file: URL (the only kind served here), parsed. */
static json_t *load_jwks(const char *url, char *err, size_t errsz)
{
    if (!url || strncmp(url, "file://", 7) != 0) {
        snprintf(err, errsz, "sasl.oauthbearer.jwks.endpoint.url must be a file:// URL");
        return NULL;
    }
    const char *path = url + 7;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errsz, "cannot read the JWKS file %.200s", path);
        return NULL;
    }
    char *buf = malloc(OAUTH_MAX_JWKS + 1);
    size_t n = buf ? fread(buf, 1, OAUTH_MAX_JWKS + 1, f) : 0;
    fclose(f);
    json_t *j = NULL;
    if (!buf)
        snprintf(err, errsz, "out of memory");
    else if (n > OAUTH_MAX_JWKS)
        snprintf(err, errsz, "the JWKS file is larger than %d bytes", OAUTH_MAX_JWKS);
    else if (!(j = json_loadb(buf, n, 0, NULL)) || !json_is_array(json_object_get(j, "keys"))) {
        snprintf(err, errsz, "the JWKS file is not a JSON object with a keys array");
        json_decref(j);
        j = NULL;
    }
    free(buf);
    return j;
}

static EVP_PKEY *find_key(json_t *jwks, const char *kid, int want_ec, char *err, size_t errsz)
{
    json_t *keys = json_object_get(jwks, "keys");
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) {
        const char *kty = json_string_value(json_object_get(k, "kty"));
        const char *kk = json_string_value(json_object_get(k, "kid"));
        const char *use = json_string_value(json_object_get(k, "use"));
        if (!kty || strcmp(kty, want_ec ? "EC" : "RSA") != 0 || (use && strcmp(use, "sig") != 0))
            continue;
        if (kid && (!kk || strcmp(kid, kk) != 0))
            continue;
        return jwk_to_key(k, want_ec, err, errsz);
    }
    snprintf(err, errsz, "no %s key%s%.100s%s in the JWKS", want_ec ? "EC" : "RSA",
             kid ? " with kid " : "", kid ? kid : "", "");
    return NULL;
}

static int verify_sig(EVP_PKEY *key, int ec, const char *data, size_t dlen, const uint8_t *sig,
                      size_t slen)
{
    uint8_t der[80];
    const uint8_t *s = sig;
    size_t sl = slen;
    if (ec) {
        /* JWS carries r || s; OpenSSL wants a DER ECDSA-Sig-Value. */
        if (slen != 64)
            return 0;
        ECDSA_SIG *es = ECDSA_SIG_new();
        BIGNUM *r = BN_bin2bn(sig, 32, NULL), *ss = BN_bin2bn(sig + 32, 32, NULL);
        if (!es || !r || !ss || !ECDSA_SIG_set0(es, r, ss)) {
            BN_free(r);
            BN_free(ss);
            ECDSA_SIG_free(es);
            return 0;
        }
        uint8_t *p = der;
        int n = i2d_ECDSA_SIG(es, NULL) <= (int)sizeof(der) ? i2d_ECDSA_SIG(es, &p) : -1;
        ECDSA_SIG_free(es);
        if (n <= 0)
            return 0;
        s = der;
        sl = (size_t)n;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestVerify(md, s, sl, (const uint8_t *)data, dlen) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

static int audience_ok(json_t *aud, const char *expected)
{
    /* Every expected audience listed... Kafka: the token's aud must
     * contain one of the expected ones. */
    for (const char *p = expected; *p;) {
        while (*p == ',' || *p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        size_t n = (size_t)(e - p);
        while (n && p[n - 1] == ' ')
            n--;
        if (n) {
            if (json_is_string(aud) && strlen(json_string_value(aud)) == n &&
                memcmp(json_string_value(aud), p, n) == 0)
                return 1;
            size_t i;
            json_t *a;
            json_array_foreach(aud, i, a) {
                if (json_is_string(a) && strlen(json_string_value(a)) == n &&
                    memcmp(json_string_value(a), p, n) == 0)
                    return 1;
            }
        }
        p = e;
    }
    return 0;
}

static int check_claims(const oauth_policy_t *p, json_t *c, int64_t now_ms, char *sub,
                        size_t subsz, int64_t *exp_ms, char *err, size_t errsz)
{
    json_t *exp = json_object_get(c, "exp"), *nbf = json_object_get(c, "nbf");
    int64_t skew_ms = p->clock_skew_s * 1000;
    if (!json_is_number(exp)) {
        snprintf(err, errsz, "the token has no exp claim");
        return -1;
    }
    int64_t e = (int64_t)(json_number_value(exp) * 1000.0);
    if (now_ms > e + skew_ms) {
        snprintf(err, errsz, "the token expired");
        return -1;
    }
    if (json_is_number(nbf) && (int64_t)(json_number_value(nbf) * 1000.0) > now_ms + skew_ms) {
        snprintf(err, errsz, "the token is not valid yet (nbf)");
        return -1;
    }
    if (p->issuer && *p->issuer) {
        const char *iss = json_string_value(json_object_get(c, "iss"));
        if (!iss || strcmp(iss, p->issuer) != 0) {
            snprintf(err, errsz, "the token's issuer is not %.100s", p->issuer);
            return -1;
        }
    }
    if (p->audience && *p->audience && !audience_ok(json_object_get(c, "aud"), p->audience)) {
        snprintf(err, errsz, "the token's audience is none of %.100s", p->audience);
        return -1;
    }
    const char *s = json_string_value(json_object_get(c, p->sub_claim ? p->sub_claim : "sub"));
    if (!s || !*s || strlen(s) >= subsz) {
        snprintf(err, errsz, "the token has no usable %.40s claim",
                 p->sub_claim ? p->sub_claim : "sub");
        return -1;
    }
    snprintf(sub, subsz, "%s", s);
    *exp_ms = e;
    return 0;
}

int oauth_validate(const oauth_policy_t *p, const char *token, int64_t now_ms, char *sub,
                   size_t subsz, int64_t *exp_ms, char *err, size_t errsz)
{
    err[0] = '\0';
    size_t tl = strlen(token);
    const char *d1 = memchr(token, '.', tl);
    const char *d2 = d1 ? memchr(d1 + 1, '.', tl - (size_t)(d1 + 1 - token)) : NULL;
    if (tl > OAUTH_MAX_TOKEN || !d1 || !d2 || memchr(d2 + 1, '.', tl - (size_t)(d2 + 1 - token))) {
        snprintf(err, errsz, "the token is not a compact JWS (three dot-separated parts)");
        return -1;
    }
    json_t *hdr = decode_json(token, (size_t)(d1 - token));
    json_t *claims = decode_json(d1 + 1, (size_t)(d2 - d1 - 1));
    json_t *jwks = NULL;
    EVP_PKEY *key = NULL;
    int rc = -1;
    const char *alg = hdr ? json_string_value(json_object_get(hdr, "alg")) : NULL;
    if (!hdr || !claims || !json_is_object(claims)) {
        snprintf(err, errsz, "the token's header or claims are not JSON");
        goto out;
    }
    int ec = alg && strcmp(alg, "ES256") == 0;
    if (!alg || (!ec && strcmp(alg, "RS256") != 0)) {
        snprintf(err, errsz, "the token's alg %.20s is not RS256 or ES256", alg ? alg : "(none)");
        goto out;
    }
    if (!(jwks = load_jwks(p->jwks_url, err, errsz)))
        goto out;
    if (!(key = find_key(jwks, json_string_value(json_object_get(hdr, "kid")), ec, err, errsz)))
        goto out;
    size_t slen = strlen(d2 + 1);
    uint8_t *sig = malloc(slen * 3 / 4 + 4);
    long sl = sig ? b64url_decode(d2 + 1, slen, sig, slen * 3 / 4 + 4) : -1;
    int ok = sl > 0 && verify_sig(key, ec, token, (size_t)(d2 - token), sig, (size_t)sl);
    free(sig);
    if (!ok) {
        snprintf(err, errsz, "the token's signature does not verify");
        goto out;
    }
    rc = check_claims(p, claims, now_ms, sub, subsz, exp_ms, err, errsz);
out:
    EVP_PKEY_free(key);
    json_decref(jwks);
    json_decref(hdr);
    json_decref(claims);
    return rc;
}
