/* od_scram.c - SCRAM arithmetic (RFC 5802, RFC 7677) on OpenSSL. */
#include "od_scram.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

static const EVP_MD *md_of(int mechanism)
{
    switch (mechanism) {
    case OD_SCRAM_SHA_256:
        return EVP_sha256();
    case OD_SCRAM_SHA_512:
        return EVP_sha512();
    default:
        return NULL;
    }
}

size_t od_scram_key_len(int mechanism)
{
    return mechanism == OD_SCRAM_SHA_256 ? 32 : mechanism == OD_SCRAM_SHA_512 ? 64 : 0;
}

int od_scram_mech_by_name(const char *name)
{
    if (strcmp(name, "SCRAM-SHA-256") == 0)
        return OD_SCRAM_SHA_256;
    if (strcmp(name, "SCRAM-SHA-512") == 0)
        return OD_SCRAM_SHA_512;
    return 0;
}

const char *od_scram_mech_name(int mechanism)
{
    return mechanism == OD_SCRAM_SHA_256   ? "SCRAM-SHA-256"
           : mechanism == OD_SCRAM_SHA_512 ? "SCRAM-SHA-512"
                                           : "UNKNOWN";
}

int od_scram_hash(int mechanism, const uint8_t *in, size_t len, uint8_t *out)
{
    const EVP_MD *md = md_of(mechanism);
    unsigned int n = 0;
    if (!md || EVP_Digest(in, len, out, &n, md, NULL) != 1)
        return -1;
    return 0;
}

int od_scram_hmac(int mechanism, const uint8_t *key, size_t klen, const uint8_t *msg, size_t mlen,
                  uint8_t *out)
{
    const EVP_MD *md = md_of(mechanism);
    unsigned int n = 0;
    if (!md || klen > INT32_MAX || !HMAC(md, key, (int)klen, msg, mlen, out, &n))
        return -1;
    return 0;
}

int od_scram_salted_password(int mechanism, const char *password, size_t plen,
                             const uint8_t *salt, size_t slen, int32_t iterations, uint8_t *out)
{
    const EVP_MD *md = md_of(mechanism);
    if (!md || iterations < 1 || plen > INT32_MAX || slen > INT32_MAX)
        return -1;
    if (PKCS5_PBKDF2_HMAC(password, (int)plen, salt, (int)slen, iterations, md,
                          (int)od_scram_key_len(mechanism), out) != 1)
        return -1;
    return 0;
}

int od_scram_keys(int mechanism, const uint8_t *salted, uint8_t *stored_key, uint8_t *server_key)
{
    size_t kl = od_scram_key_len(mechanism);
    uint8_t client_key[OD_SCRAM_MAX_KEY];
    if (kl == 0 ||
        od_scram_hmac(mechanism, salted, kl, (const uint8_t *)"Client Key", 10, client_key) < 0 ||
        od_scram_hash(mechanism, client_key, kl, stored_key) < 0 ||
        od_scram_hmac(mechanism, salted, kl, (const uint8_t *)"Server Key", 10, server_key) < 0)
        return -1;
    OPENSSL_cleanse(client_key, sizeof(client_key));
    return 0;
}

int od_scram_cred_from_password(int mechanism, const char *password, const uint8_t *salt,
                                size_t slen, int32_t iterations, od_scram_cred_t *out)
{
    uint8_t salted[OD_SCRAM_MAX_KEY];
    if (slen > sizeof(out->salt))
        return -1;
    memset(out, 0, sizeof(*out));
    out->struct_size = sizeof(*out);
    out->mechanism = mechanism;
    out->key_len = od_scram_key_len(mechanism);
    out->iterations = iterations;
    memcpy(out->salt, salt, slen);
    out->salt_len = slen;
    int rc = od_scram_salted_password(mechanism, password, strlen(password), salt, slen,
                                      iterations, salted);
    if (rc == 0)
        rc = od_scram_keys(mechanism, salted, out->stored_key, out->server_key);
    OPENSSL_cleanse(salted, sizeof(salted));
    return rc;
}

int od_scram_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t od_scram_b64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = B64[(v >> 18) & 63];
        out[o++] = B64[(v >> 12) & 63];
        out[o++] = i + 1 < n ? B64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? B64[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

static int b64_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int od_scram_b64_decode(const char *in, size_t n, uint8_t *out, size_t max)
{
    if (n % 4 != 0)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int pad = 0;
        uint32_t v = 0;
        for (int k = 0; k < 4; k++) {
            int d;
            if (in[i + k] == '=' && i + 4 == n && k >= 2) {
                pad++;
                d = 0;
            } else if (pad || (d = b64_val(in[i + k])) < 0) {
                return -1;
            }
            v = (v << 6) | (uint32_t)d;
        }
        size_t take = 3 - (size_t)pad;
        if (o + take > max)
            return -1;
        out[o++] = (uint8_t)(v >> 16);
        if (take > 1)
            out[o++] = (uint8_t)(v >> 8);
        if (take > 2)
            out[o++] = (uint8_t)v;
    }
    return (int)o;
}
