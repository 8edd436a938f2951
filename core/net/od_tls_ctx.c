/* od_tls_ctx.c - the ssl.* keys and one OpenSSL context per TLS listener:
 * keystore (PEM or PKCS12), truststore, client authentication, protocol
 * versions, cipher suites, principal mapping rules. Every problem stops
 * the start with where the key was set and why. */
#include "od_tls.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "od_core.h"
#include "od_tls_principal.h"

/* Kafka's keys, except the keystore and truststore types: Kafka defaults
 * to JKS, a Java format OpenSSL cannot read, so here PEM is the default. */
static const od_conf_def_t tls_defs[] = {
    {"ssl.keystore.type", OD_CONF_STRING, "PEM", 0, 0, NULL,
     "format of the keystore: PEM or PKCS12 (JKS is refused: convert it with keytool "
     "-importkeystore -deststoretype PKCS12)", NULL, OD_CONF_F_LISTENER},
    {"ssl.keystore.location", OD_CONF_STRING, NULL, 0, 0, NULL,
     "keystore file: PEM with the private key and the certificate chain (leaf first), or PKCS12",
     NULL, OD_CONF_F_LISTENER},
    {"ssl.keystore.password", OD_CONF_STRING, NULL, 0, 0, NULL,
     "password of a PKCS12 keystore", NULL, OD_CONF_F_SECRET | OD_CONF_F_LISTENER},
    {"ssl.keystore.certificate.chain", OD_CONF_STRING, NULL, 0, 0, NULL,
     "the certificate chain as PEM text in the config (instead of ssl.keystore.location)", NULL,
     OD_CONF_F_LISTENER},
    {"ssl.keystore.key", OD_CONF_STRING, NULL, 0, 0, NULL,
     "the private key as PEM text (PKCS#8, may be encrypted with ssl.key.password)", NULL,
     OD_CONF_F_SECRET | OD_CONF_F_LISTENER},
    {"ssl.key.password", OD_CONF_STRING, NULL, 0, 0, NULL,
     "password of an encrypted private key (PEM keystore or ssl.keystore.key)", NULL,
     OD_CONF_F_SECRET | OD_CONF_F_LISTENER},
    {"ssl.truststore.type", OD_CONF_STRING, "PEM", 0, 0, NULL,
     "format of the truststore: PEM or PKCS12 (JKS is refused)", NULL, OD_CONF_F_LISTENER},
    {"ssl.truststore.location", OD_CONF_STRING, NULL, 0, 0, NULL,
     "file of CA certificates client certificates are verified against (default: the system's)",
     NULL, OD_CONF_F_LISTENER},
    {"ssl.truststore.password", OD_CONF_STRING, NULL, 0, 0, NULL,
     "password of a PKCS12 truststore", NULL, OD_CONF_F_SECRET | OD_CONF_F_LISTENER},
    {"ssl.truststore.certificates", OD_CONF_STRING, NULL, 0, 0, NULL,
     "CA certificates as PEM text in the config (instead of ssl.truststore.location)", NULL, OD_CONF_F_LISTENER},
    {"ssl.client.auth", OD_CONF_ENUM, "none", 0, 0, "required,requested,none",
     "client certificates: required (no certificate, no connection), requested (verified when "
     "sent), none", NULL, OD_CONF_F_LISTENER},
    {"ssl.enabled.protocols", OD_CONF_LIST, "TLSv1.2,TLSv1.3", 0, 0, NULL,
     "TLS versions accepted (TLSv1.2, TLSv1.3)", NULL, OD_CONF_F_LISTENER},
    {"ssl.protocol", OD_CONF_STRING, "TLSv1.3", 0, 0, NULL,
     "TLS (or TLSv1.3): up to 1.3; TLSv1.2: no 1.3 even if enabled (as Java's SSLContext)", NULL,
     OD_CONF_F_LISTENER},
    {"ssl.cipher.suites", OD_CONF_LIST, "", 0, 0, NULL,
     "cipher suites by IANA name (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256) "
     "or OpenSSL name (empty: OpenSSL's defaults)", NULL, OD_CONF_F_LISTENER},
    {"ssl.endpoint.identification.algorithm", OD_CONF_STRING, "https", 0, 0, NULL,
     "client side (a broker does not check client host names): accepted and ignored", NULL, OD_CONF_F_LISTENER},
    {"ssl.principal.mapping.rules", OD_CONF_STRING, "DEFAULT", 0, 0, NULL,
     "client certificate subject to principal: RULE:pattern/replacement/[LU],...,DEFAULT", NULL,
     OD_CONF_F_LISTENER},
    {"ssl.handshake.timeout.ms", OD_CONF_INT, "10000", 1, INT32_MAX, NULL,
     "Odradek's: a TLS handshake not done in this time closes the connection", NULL, OD_CONF_F_LISTENER},
    {"ssl.ktls.enable", OD_CONF_BOOL, "true", 0, 0, NULL,
     "Odradek's: let OpenSSL hand records to kernel TLS when the kernel offers it (zero-copy "
     "fetches with SSL_sendfile)", NULL, OD_CONF_F_LISTENER},
};

int od_tls_register_config(od_core_t *core, char *err, size_t errsz)
{
    return od_config_register(&core->config, tls_defs, sizeof(tls_defs) / sizeof(tls_defs[0]),
                              "core", err, errsz);
}

/* ---- reading a listener's value ---- */

typedef struct lconf {
    od_core_t *core;
    const char *name; /* listener name */
    char lower[64];   /* ... in lower case */
    char *err;
    size_t errsz;
} lconf_t;

/* The value of key for this listener: listener.name.<l>.<key> when that
 * is set, else the broker-wide key (od_config_listener_value). *used gets
 * the name that gave it, for error messages. */
static const char *get(lconf_t *lc, const char *key, char *used, size_t usedsz)
{
    char over[256], where[64];
    snprintf(over, sizeof(over), "listener.name.%s.%s", lc->lower, key);
    if (strcmp(od_config_where(&lc->core->config, over, where, sizeof(where)), "default") != 0)
        snprintf(used, usedsz, "%s", over);
    else
        snprintf(used, usedsz, "%s", key);
    const char *v = od_config_listener_value(&lc->core->config, lc->lower, key);
    return v && *v ? v : NULL;
}

static int fail(lconf_t *lc, const char *used, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(lconf_t *lc, const char *used, const char *fmt, ...)
{
    char why[1024], where[4200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    snprintf(lc->err, lc->errsz, "%s: %s: %s",
             od_config_where(&lc->core->config, used, where, sizeof(where)), used, why);
    return -1;
}

/* OpenSSL's first queued error, for messages. */
static const char *ssl_why(void)
{
    static char buf[256];
    unsigned long e = ERR_peek_last_error();
    if (!e)
        return "no detail from OpenSSL";
    ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return buf;
}

/* ---- PEM text from the config ----
 * Kafka accepts PEM on one line (a properties value rarely keeps line
 * breaks): markers and base64 with any whitespace or literal "\n" between.
 * Rebuild each block in the layout OpenSSL's parser expects. */
static char *pem_normalize(const char *in)
{
    size_t cap = strlen(in) * 2 + 64, o = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    const char *p = in;
    while ((p = strstr(p, "-----BEGIN ")) != NULL) {
        const char *le = strstr(p + 11, "-----");
        if (!le)
            break;
        size_t lab = (size_t)(le - (p + 11));
        char end_marker[96];
        if (lab >= 64)
            break;
        snprintf(end_marker, sizeof(end_marker), "-----END %.*s-----", (int)lab, p + 11);
        const char *body = le + 5;
        const char *e = strstr(body, end_marker);
        if (!e)
            break;
        o += (size_t)snprintf(out + o, cap - o, "-----BEGIN %.*s-----\n", (int)lab, p + 11);
        size_t col = 0;
        for (const char *q = body; q < e; q++) {
            if (q[0] == '\\' && q[1] == 'n') {
                q++;
                continue;
            }
            if (isspace((unsigned char)*q))
                continue;
            out[o++] = *q;
            if (++col == 64) {
                out[o++] = '\n';
                col = 0;
            }
        }
        if (col)
            out[o++] = '\n';
        o += (size_t)snprintf(out + o, cap - o, "%s\n", end_marker);
        p = e + strlen(end_marker);
    }
    out[o] = 0;
    return out;
}

static char *read_file(const char *path, size_t *len, char *why, size_t whysz)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, whysz, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 8192, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (n < cap)
            break;
        if (cap >= (16u << 20)) { /* far more than any keystore */
            snprintf(why, whysz, "%s is larger than 16 MiB", path);
            free(buf);
            fclose(f);
            return NULL;
        }
        char *nb = realloc(buf, cap * 2 + 1);
        if (!nb)
            free(buf);
        buf = nb;
        cap *= 2;
    }
    int rerr = ferror(f);
    fclose(f);
    if (!buf || rerr) {
        snprintf(why, whysz, "cannot read %s", path);
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

static int pass_cb(char *buf, int size, int rwflag, void *u)
{
    (void)rwflag;
    const char *pw = u;
    if (!pw) /* never ask a terminal */
        return -1;
    int n = (int)strlen(pw);
    if (n > size)
        n = size;
    memcpy(buf, pw, (size_t)n);
    return n;
}

/* Strings from the config, compared without case (Kafka's are upper). */
static int type_is(const char *t, const char *want) { return t && strcasecmp(t, want) == 0; }

static int check_type(lconf_t *lc, const char *key, int *pkcs12)
{
    char used[256];
    const char *t = get(lc, key, used, sizeof(used));
    *pkcs12 = 0;
    if (!t || type_is(t, "PEM"))
        return 0;
    if (type_is(t, "PKCS12")) {
        *pkcs12 = 1;
        return 0;
    }
    if (type_is(t, "JKS"))
        return fail(lc, used, "JKS stores are not supported (Java's format): convert with "
                    "keytool -importkeystore -deststoretype PKCS12, or use PEM");
    return fail(lc, used, "'%s' is not a supported store type (PEM, PKCS12)", t);
}

static int load_pkcs12(lconf_t *lc, const char *used, const char *path, const char *data,
                       size_t len, const char *pw, EVP_PKEY **key, X509 **cert,
                       STACK_OF(X509) **ca)
{
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    PKCS12 *p12 = bio ? d2i_PKCS12_bio(bio, NULL) : NULL;
    BIO_free(bio);
    if (!p12)
        return fail(lc, used, "%s is not a PKCS12 file: %s", path, ssl_why());
    int ok = PKCS12_parse(p12, pw ? pw : "", key, cert, ca);
    PKCS12_free(p12);
    if (!ok)
        return fail(lc, used, "cannot open PKCS12 %s (wrong password?): %s", path, ssl_why());
    return 0;
}

static int use_chain(lconf_t *lc, SSL_CTX *ctx, const char *used, const char *src, BIO *bio)
{
    X509 *leaf = PEM_read_bio_X509(bio, NULL, pass_cb, NULL);
    if (!leaf)
        return fail(lc, used, "no PEM certificate in %s: %s", src, ssl_why());
    int ok = SSL_CTX_use_certificate(ctx, leaf);
    X509_free(leaf);
    if (!ok)
        return fail(lc, used, "certificate of %s refused: %s", src, ssl_why());
    X509 *x;
    while ((x = PEM_read_bio_X509(bio, NULL, pass_cb, NULL)) != NULL)
        if (!SSL_CTX_add0_chain_cert(ctx, x)) {
            X509_free(x);
            return fail(lc, used, "chain certificate of %s refused: %s", src, ssl_why());
        }
    ERR_clear_error(); /* the loop ends on "no start line" */
    return 0;
}

static int use_key(lconf_t *lc, SSL_CTX *ctx, const char *used, const char *src, BIO *bio,
                   const char *pw)
{
    EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, pass_cb, (void *)pw);
    if (!k)
        return fail(lc, used, "cannot read a private key from %s%s: %s", src,
                    pw ? " (wrong ssl.key.password?)" : " (encrypted? set ssl.key.password)",
                    ssl_why());
    int ok = SSL_CTX_use_PrivateKey(ctx, k);
    EVP_PKEY_free(k);
    if (!ok)
        return fail(lc, used, "private key of %s refused: %s", src, ssl_why());
    return 0;
}

static int load_keystore(lconf_t *lc, SSL_CTX *ctx)
{
    char used[256], used_chain[256], used_key[256], used_pw[256];
    int pkcs12;
    if (check_type(lc, "ssl.keystore.type", &pkcs12) < 0)
        return -1;
    const char *loc = get(lc, "ssl.keystore.location", used, sizeof(used));
    const char *chain = get(lc, "ssl.keystore.certificate.chain", used_chain, sizeof(used_chain));
    const char *keytxt = get(lc, "ssl.keystore.key", used_key, sizeof(used_key));
    const char *keypw = get(lc, "ssl.key.password", used_pw, sizeof(used_pw));
    char why[512];
    if (loc && (chain || keytxt))
        return fail(lc, used, "set either ssl.keystore.location or ssl.keystore.certificate.chain "
                    "with ssl.keystore.key, not both");
    if (!loc && !(chain && keytxt))
        return fail(lc, "listeners",
                    "listener %s is TLS but has no keystore: set ssl.keystore.location, or "
                    "ssl.keystore.certificate.chain and ssl.keystore.key", lc->name);
    if (loc) {
        size_t len;
        char *data = read_file(loc, &len, why, sizeof(why));
        if (!data)
            return fail(lc, used, "%s", why);
        int rc;
        if (pkcs12) {
            char upw[256];
            const char *pw = get(lc, "ssl.keystore.password", upw, sizeof(upw));
            EVP_PKEY *key = NULL;
            X509 *cert = NULL;
            STACK_OF(X509) *ca = NULL;
            rc = load_pkcs12(lc, used, loc, data, len, pw, &key, &cert, &ca);
            if (rc == 0 && (!key || !cert))
                rc = fail(lc, used, "PKCS12 %s holds no private key with its certificate", loc);
            if (rc == 0 && (!SSL_CTX_use_certificate(ctx, cert) || !SSL_CTX_use_PrivateKey(ctx, key)))
                rc = fail(lc, used, "key or certificate of %s refused: %s", loc, ssl_why());
            for (int i = 0; rc == 0 && ca && i < sk_X509_num(ca); i++)
                if (SSL_CTX_add1_chain_cert(ctx, sk_X509_value(ca, i)) != 1)
                    rc = fail(lc, used, "chain certificate of %s refused: %s", loc, ssl_why());
            EVP_PKEY_free(key);
            X509_free(cert);
            sk_X509_pop_free(ca, X509_free);
        } else if (len >= 4 && (unsigned char)data[0] == 0xfe && (unsigned char)data[1] == 0xed) {
            rc = fail(lc, used, "%s is a JKS keystore (Java's format): convert it to PKCS12 or PEM",
                      loc);
        } else {
            BIO *b1 = BIO_new_mem_buf(data, (int)len), *b2 = BIO_new_mem_buf(data, (int)len);
            rc = !b1 || !b2 ? fail(lc, used, "out of memory")
                            : use_key(lc, ctx, used, loc, b1, keypw);
            if (rc == 0)
                rc = use_chain(lc, ctx, used, loc, b2);
            BIO_free(b1);
            BIO_free(b2);
        }
        OPENSSL_cleanse(data, len);
        free(data);
        if (rc < 0)
            return -1;
    } else {
        if (pkcs12)
            return fail(lc, used_chain, "PEM text in the config needs ssl.keystore.type=PEM");
        char *c = pem_normalize(chain), *k = pem_normalize(keytxt);
        BIO *bc = c ? BIO_new_mem_buf(c, -1) : NULL, *bk = k ? BIO_new_mem_buf(k, -1) : NULL;
        int rc = !bc || !bk ? fail(lc, used_chain, "out of memory")
                            : use_chain(lc, ctx, used_chain, "ssl.keystore.certificate.chain", bc);
        if (rc == 0)
            rc = use_key(lc, ctx, used_key, "ssl.keystore.key", bk, keypw);
        BIO_free(bc);
        BIO_free(bk);
        free(c);
        if (k)
            OPENSSL_cleanse(k, strlen(k));
        free(k);
        if (rc < 0)
            return -1;
        snprintf(used, sizeof(used), "%s", used_key);
    }
    if (SSL_CTX_check_private_key(ctx) != 1)
        return fail(lc, used, "the private key does not belong to the certificate: %s", ssl_why());
    return 0;
}

/* One trusted CA: verification, and the CertificateRequest's list of CA
 * names (a client holding several certificates picks by it, as Java's do). */
static int trust(SSL_CTX *ctx, X509 *x)
{
    return X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), x) && SSL_CTX_add_client_CA(ctx, x);
}

static int add_pem_cas(lconf_t *lc, SSL_CTX *ctx, const char *used, const char *src, BIO *bio)
{
    int n = 0;
    X509 *x;
    while ((x = PEM_read_bio_X509(bio, NULL, pass_cb, NULL)) != NULL) {
        int ok = trust(ctx, x);
        X509_free(x);
        if (!ok)
            return fail(lc, used, "CA certificate of %s refused: %s", src, ssl_why());
        n++;
    }
    ERR_clear_error();
    if (n == 0)
        return fail(lc, used, "no PEM certificate in %s", src);
    return 0;
}

static int load_truststore(lconf_t *lc, SSL_CTX *ctx)
{
    char used[256], used_txt[256], why[512];
    int pkcs12;
    if (check_type(lc, "ssl.truststore.type", &pkcs12) < 0)
        return -1;
    const char *loc = get(lc, "ssl.truststore.location", used, sizeof(used));
    const char *txt = get(lc, "ssl.truststore.certificates", used_txt, sizeof(used_txt));
    if (loc && txt)
        return fail(lc, used, "set either ssl.truststore.location or ssl.truststore.certificates");
    if (!loc && !txt) {
        SSL_CTX_set_default_verify_paths(ctx); /* as Java's default truststore */
        return 0;
    }
    if (txt) {
        char *t = pem_normalize(txt);
        BIO *b = t ? BIO_new_mem_buf(t, -1) : NULL;
        int rc = b ? add_pem_cas(lc, ctx, used_txt, "ssl.truststore.certificates", b)
                   : fail(lc, used_txt, "out of memory");
        BIO_free(b);
        free(t);
        return rc;
    }
    size_t len;
    char *data = read_file(loc, &len, why, sizeof(why));
    if (!data)
        return fail(lc, used, "%s", why);
    int rc = 0;
    if (pkcs12) {
        char upw[256];
        const char *pw = get(lc, "ssl.truststore.password", upw, sizeof(upw));
        EVP_PKEY *key = NULL;
        X509 *cert = NULL;
        STACK_OF(X509) *ca = NULL;
        rc = load_pkcs12(lc, used, loc, data, len, pw, &key, &cert, &ca);
        if (rc == 0 && cert && !trust(ctx, cert))
            rc = fail(lc, used, "CA certificate of %s refused: %s", loc, ssl_why());
        for (int i = 0; rc == 0 && ca && i < sk_X509_num(ca); i++)
            if (!trust(ctx, sk_X509_value(ca, i)))
                rc = fail(lc, used, "CA certificate of %s refused: %s", loc, ssl_why());
        if (rc == 0 && !cert && sk_X509_num(ca) <= 0)
            rc = fail(lc, used, "PKCS12 %s holds no certificate", loc);
        EVP_PKEY_free(key);
        X509_free(cert);
        sk_X509_pop_free(ca, X509_free);
    } else {
        BIO *b = BIO_new_mem_buf(data, (int)len);
        rc = b ? add_pem_cas(lc, ctx, used, loc, b) : fail(lc, used, "out of memory");
        BIO_free(b);
    }
    free(data);
    return rc;
}

static int version_of(const char *s, size_t n)
{
    if (n == 7 && strncmp(s, "TLSv1.2", 7) == 0)
        return TLS1_2_VERSION;
    if (n == 7 && strncmp(s, "TLSv1.3", 7) == 0)
        return TLS1_3_VERSION;
    return 0;
}

static int set_protocols(lconf_t *lc, SSL_CTX *ctx, int *min_out, int *max_out)
{
    char used[256], used_p[256];
    const char *list = get(lc, "ssl.enabled.protocols", used, sizeof(used));
    int lo = 0, hi = 0;
    for (const char *p = list ? list : ""; *p;) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t n = strcspn(p, ", ");
        if (!n)
            break;
        int v = version_of(p, n);
        if (!v)
            return fail(lc, used, "'%.*s' is not supported (TLSv1.2, TLSv1.3; older versions are "
                        "insecure)", (int)n, p);
        lo = !lo || v < lo ? v : lo;
        hi = v > hi ? v : hi;
        p += n;
    }
    if (!lo)
        return fail(lc, used, "no protocol enabled");
    const char *proto = get(lc, "ssl.protocol", used_p, sizeof(used_p));
    if (proto && strcmp(proto, "TLSv1.2") == 0) {
        if (hi > TLS1_2_VERSION)
            hi = TLS1_2_VERSION;
    } else if (proto && strcmp(proto, "TLSv1.3") != 0 && strcmp(proto, "TLS") != 0) {
        return fail(lc, used_p, "'%s' is not supported (TLS, TLSv1.2, TLSv1.3)", proto);
    }
    if (lo > hi)
        return fail(lc, used, "no enabled protocol is allowed by ssl.protocol=%s", proto);
    *min_out = lo;
    *max_out = hi;
    return 0;
}

/* The OpenSSL name of a TLS 1.2 suite given by its IANA (Java) name or
 * its OpenSSL name; NULL if OpenSSL has no such suite. */
static const char *openssl_cipher_name(SSL_CTX *all, const char *name)
{
    STACK_OF(SSL_CIPHER) *sk = SSL_CTX_get_ciphers(all);
    for (int i = 0; i < sk_SSL_CIPHER_num(sk); i++) {
        const SSL_CIPHER *c = sk_SSL_CIPHER_value(sk, i);
        const char *std = SSL_CIPHER_standard_name(c);
        if ((std && strcmp(std, name) == 0) || strcmp(SSL_CIPHER_get_name(c), name) == 0)
            return SSL_CIPHER_get_name(c);
    }
    return NULL;
}

static int set_ciphers(lconf_t *lc, SSL_CTX *ctx, int *min_v, int *max_v)
{
    char used[256];
    const char *list = get(lc, "ssl.cipher.suites", used, sizeof(used));
    if (!list)
        return 0;
    static const char *const tls13[] = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                        "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_CCM_SHA256",
                                        "TLS_AES_128_CCM_8_SHA256"};
    char s12[2048] = "", s13[512] = "";
    SSL_CTX *all = SSL_CTX_new(TLS_method());
    if (!all || !SSL_CTX_set_cipher_list(all, "ALL:COMPLEMENTOFALL:@SECLEVEL=0")) {
        SSL_CTX_free(all);
        return fail(lc, used, "OpenSSL cannot list its cipher suites: %s", ssl_why());
    }
    int rc = 0;
    for (const char *p = list; *p && rc == 0;) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t n = strcspn(p, ", ");
        if (!n)
            break;
        char name[128];
        if (n >= sizeof(name)) {
            rc = fail(lc, used, "suite name '%.40s...' is too long", p);
            break;
        }
        memcpy(name, p, n);
        name[n] = 0;
        p += n;
        int is13 = 0;
        for (size_t i = 0; i < sizeof(tls13) / sizeof(tls13[0]); i++)
            is13 |= strcmp(name, tls13[i]) == 0;
        char *dst = is13 ? s13 : s12;
        size_t dsz = is13 ? sizeof(s13) : sizeof(s12);
        const char *os = is13 ? name : openssl_cipher_name(all, name);
        if (!os) {
            rc = fail(lc, used, "OpenSSL has no cipher suite '%s'", name);
            break;
        }
        size_t dl = strlen(dst);
        if (dl + strlen(os) + 2 > dsz) {
            rc = fail(lc, used, "too many cipher suites");
            break;
        }
        snprintf(dst + dl, dsz - dl, "%s%s", dl ? ":" : "", os);
    }
    SSL_CTX_free(all);
    if (rc < 0)
        return -1;
    /* Suites of one version only: the other version cannot be agreed on,
     * so it is switched off rather than left to fail every handshake. */
    if (!s12[0] && s13[0] && *min_v < TLS1_3_VERSION)
        *min_v = TLS1_3_VERSION;
    if (!s13[0] && s12[0] && *max_v > TLS1_2_VERSION)
        *max_v = TLS1_2_VERSION;
    if (*min_v > *max_v)
        return fail(lc, used, "no suite for any enabled protocol version");
    if (s12[0] && !SSL_CTX_set_cipher_list(ctx, s12))
        return fail(lc, used, "OpenSSL refuses '%s': %s", s12, ssl_why());
    if (!SSL_CTX_set_ciphersuites(ctx, s13))
        return fail(lc, used, "OpenSSL refuses '%s': %s", s13, ssl_why());
    return 0;
}

static int build(lconf_t *lc, od_tls_ctx_t *t)
{
    char used[256];
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return fail(lc, "listeners", "OpenSSL: %s", ssl_why());
    t->ssl_ctx = ctx;
    int minv = 0, maxv = 0;
    if (set_protocols(lc, ctx, &minv, &maxv) < 0 || set_ciphers(lc, ctx, &minv, &maxv) < 0)
        return -1;
    SSL_CTX_set_min_proto_version(ctx, minv);
    SSL_CTX_set_max_proto_version(ctx, maxv);
    /* Renegotiation off (a client could make the broker redo handshakes at
     * will); a peer closing without close_notify is a close, not an error
     * (clients rarely send it; Kafka's framing detects truncation); partial
     * and moving writes: od_conn.c hands the same bytes
     * again after EAGAIN, possibly from another address. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    /* Read ahead: one read(2) takes what the socket has, several records
     * at a time, instead of a header and a body per record (od_tls.c asks
     * SSL_has_pending, not SSL_pending, for what is buffered). */
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_max_cert_list(ctx, 100 * 1024); /* a client's chain, bounded */
    const char *ktls = get(lc, "ssl.ktls.enable", used, sizeof(used));
    t->ktls = !ktls || strcmp(ktls, "true") == 0;
    if (t->ktls)
        SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
    if (load_keystore(lc, ctx) < 0 || load_truststore(lc, ctx) < 0)
        return -1;
    const char *auth = get(lc, "ssl.client.auth", used, sizeof(used));
    t->client_auth = auth && strcmp(auth, "required") == 0    ? OD_TLS_AUTH_REQUIRED
                     : auth && strcmp(auth, "requested") == 0 ? OD_TLS_AUTH_REQUESTED
                                                              : OD_TLS_AUTH_NONE;
    if (t->client_auth == OD_TLS_AUTH_REQUIRED)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    else if (t->client_auth == OD_TLS_AUTH_REQUESTED)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    const char *rules = get(lc, "ssl.principal.mapping.rules", used, sizeof(used));
    char why[512];
    if (od_tls_rules_parse(rules ? rules : "DEFAULT", &t->rules, why, sizeof(why)) < 0)
        return fail(lc, used, "%s", why);
    const char *to = get(lc, "ssl.handshake.timeout.ms", used, sizeof(used));
    t->handshake_timeout_ms = to ? strtoll(to, NULL, 10) : 10000;
    return 0;
}

od_tls_ctx_t *od_tls_ctx_new(od_core_t *core, const char *listener, char *err, size_t errsz)
{
    od_tls_ctx_t *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    t->refs = 1;
    snprintf(t->listener, sizeof(t->listener), "%s", listener);
    lconf_t lc = {.core = core, .name = listener, .err = err, .errsz = errsz};
    size_t i = 0;
    for (; listener[i] && i < sizeof(lc.lower) - 1; i++)
        lc.lower[i] = (char)tolower((unsigned char)listener[i]);
    lc.lower[i] = 0;
    if (build(&lc, t) < 0) {
        od_tls_ctx_unref(t);
        return NULL;
    }
    return t;
}

void od_tls_ctx_unref(od_tls_ctx_t *t)
{
    if (!t || --t->refs > 0)
        return;
    SSL_CTX_free(t->ssl_ctx);
    od_tls_rules_free(t->rules);
    free(t);
}
