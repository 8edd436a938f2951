/* od_tls.c - the TLS transport of one connection.
 *
 * The socket stays non-blocking; OpenSSL reads and writes it directly. The
 * handshake runs inside the transport's read (od_conn.c reads when the
 * socket is readable, and when it is writable while the transport wants to
 * write); a timer closes connections whose handshake does not finish.
 * Once done, the client certificate (if any) gives the principal through
 * ssl.principal.mapping.rules.
 *
 * Writes: OpenSSL needs a write that returned WANT_WRITE retried with the
 * same bytes. od_conn.c accounts only what a call reports as written, so
 * the next call sees the same bytes at the front; retry_len makes it pass
 * the same length again (from the stage buffer when they were gathered
 * there). File ranges go out with SSL_sendfile when OpenSSL put the
 * connection on kernel TLS, else pread into the stage and SSL_write. */
#include "od_tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "od_conn.h"
#include "od_core.h"
#include "od_ext.h"
#include "od_loop.h"
#include "od_net.h"
#include "od_tls_principal.h"

#define STAGE_BYTES 16384           /* one TLS record */
#define DIRECT_WRITE_MAX (256u << 10) /* one SSL_write from one segment */

od_tls_stats_t od_tls_stats;

typedef struct od_tls_conn {
    SSL *ssl;
    od_tls_ctx_t *ctx;
    int handshake_done;
    int want_write;   /* the handshake or a read waits for the socket to be writable */
    int ktls_send;    /* OpenSSL moved sending into the kernel */
    int64_t hs_timer; /* the handshake's deadline, 0 once done */
    size_t retry_len; /* > 0: the last write returned WANT_WRITE with this many bytes */
    int retry_staged; /* ... which were in stage */
    uint8_t *stage;   /* STAGE_BYTES, allocated on the first gathered write */
    char principal[512];
} od_tls_conn_t;

/* ---- logging without letting a flood of bad clients flood the log ---- */

static void log_limited(const od_conn_t *c, const char *what, const char *detail)
{
    static int64_t window_ms;
    static unsigned in_window, suppressed;
    int64_t now = od_mono_ms();
    if (now - window_ms >= 1000) {
        if (suppressed)
            od_logf(OD_LOG_INFO, "TLS: %u more connection failures not logged", suppressed);
        window_ms = now;
        in_window = suppressed = 0;
    }
    if (++in_window > 20) {
        suppressed++;
        return;
    }
    od_logf(OD_LOG_INFO, "connection %llu from %s (listener %s): %s%s%s",
            (unsigned long long)c->id, c->peer, c->listener ? c->listener->spec.name : "?", what,
            detail ? ": " : "", detail ? detail : "");
}

/* OpenSSL's reason for the last failure (the queue is cleared). */
static const char *ssl_reason(char *buf, size_t n)
{
    unsigned long e = ERR_get_error();
    if (!e)
        return NULL;
    const char *r = ERR_reason_error_string(e);
    snprintf(buf, n, "%s", r ? r : "unknown OpenSSL error");
    ERR_clear_error();
    return buf;
}

/* ---- handshake ---- */

static void handshake_timeout(void *arg)
{
    od_conn_t *c = arg;
    od_tls_conn_t *t = c->tls;
    t->hs_timer = 0;
    log_limited(c, "TLS handshake not done within ssl.handshake.timeout.ms", NULL);
    od_tls_stats.handshake_failures++;
    od_conn_close(c, "TLS handshake timeout");
}

/* On SSL listeners: the principal for the verified client certificate
 * (through the mapping rules, then OD_EVENT_AUTHENTICATE with mechanism
 * "SSL", which may rewrite or refuse it), or User:ANONYMOUS when none was
 * sent. -1: refused (no rule matched, as Kafka; or a module denied). */
static int set_principal(od_conn_t *c, od_tls_conn_t *t)
{
    X509 *peer = SSL_get1_peer_certificate(t->ssl);
    /* On SASL_SSL the principal is SASL's, as Kafka's principal builder
     * does it (a certificate, when asked for, is still verified). */
    if (!peer || c->client.security_protocol == OD_SECPROTO_SASL_SSL) {
        X509_free(peer);
        snprintf(t->principal, sizeof(t->principal), "User:ANONYMOUS");
        return 0;
    }
    char dn[1024], name[400];
    int rc = od_tls_subject_dn(X509_get_subject_name(peer), dn, sizeof(dn));
    X509_free(peer);
    if (rc < 0) {
        log_limited(c, "client certificate subject too long", NULL);
        return -1;
    }
    if (od_tls_rules_apply(t->ctx->rules, dn, name, sizeof(name)) < 0) {
        log_limited(c, "no ssl.principal.mapping.rules rule matches the client certificate", dn);
        return -1;
    }
    snprintf(t->principal, sizeof(t->principal), "User:%s", name);
    if (od_event_wanted(c->core, OD_EVENT_AUTHENTICATE)) {
        char reason[256] = "";
        od_ev_auth_t ev = {sizeof(ev), &c->client, "SSL", t->principal, sizeof(t->principal),
                           reason, sizeof(reason)};
        const char *who = NULL;
        int d = od_event_fire(c->core, OD_EVENT_AUTHENTICATE, &ev, &who);
        t->principal[sizeof(t->principal) - 1] = 0;
        reason[sizeof(reason) - 1] = 0;
        if (d == OD_DENY) {
            od_logf(OD_LOG_INFO, "connection %llu from %s: client certificate %s refused by "
                    "module %s: %s", (unsigned long long)c->id, c->peer, dn, who ? who : "?",
                    reason[0] ? reason : "no reason given");
            return -1;
        }
    }
    if (od_conn_set_principal(c, t->principal, NULL, 0) != OD_OK)
        return -1;
    od_logf(OD_LOG_DEBUG, "connection %llu from %s: client certificate %s -> principal %s",
            (unsigned long long)c->id, c->peer, dn, t->principal);
    return 0;
}

/* 1 done, 0 in progress (errno EAGAIN), -1 failed (logged; errno set). */
static int handshake(od_conn_t *c, od_tls_conn_t *t)
{
    ERR_clear_error();
    int r = SSL_do_handshake(t->ssl);
    t->want_write = 0;
    if (r == 1) {
        t->handshake_done = 1;
        if (t->hs_timer)
            od_loop_cancel(c->core->loop, t->hs_timer);
        t->hs_timer = 0;
        t->ktls_send = BIO_get_ktls_send(SSL_get_wbio(t->ssl)) ? 1 : 0;
        if (set_principal(c, t) < 0) {
            od_tls_stats.handshake_failures++;
            errno = EACCES;
            return -1;
        }
        od_tls_stats.handshakes++;
        od_logf(OD_LOG_DEBUG, "connection %llu from %s: %s %s, %s, principal %s",
                (unsigned long long)c->id, c->peer, SSL_get_version(t->ssl),
                SSL_get_cipher_name(t->ssl), t->ktls_send ? "kTLS send" : "user-space TLS",
                t->principal);
        return 1;
    }
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        t->want_write = e == SSL_ERROR_WANT_WRITE;
        errno = EAGAIN;
        return 0;
    }
    char buf[256];
    const char *why = ssl_reason(buf, sizeof(buf));
    if (!why && (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0)))
        log_limited(c, "closed by the peer during the TLS handshake", NULL);
    else if (e == SSL_ERROR_SYSCALL && !why)
        log_limited(c, "TLS handshake failed", strerror(errno));
    else
        log_limited(c, "TLS handshake failed", why ? why : "protocol error");
    od_tls_stats.handshake_failures++;
    errno = EPROTO;
    return -1;
}

/* ---- the transport ---- */

/* What a failed SSL_* call means for od_conn.c: -1 with errno. */
static ssize_t io_error(od_conn_t *c, od_tls_conn_t *t, int ret, int is_read)
{
    int e = SSL_get_error(t->ssl, ret);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        if (is_read)
            t->want_write = e == SSL_ERROR_WANT_WRITE;
        errno = EAGAIN;
        return -1;
    }
    if (e == SSL_ERROR_ZERO_RETURN) { /* close_notify */
        errno = 0;
        return 0;
    }
    char buf[256];
    const char *why = ssl_reason(buf, sizeof(buf));
    if (e == SSL_ERROR_SYSCALL && !why) {
        if (errno == 0 && is_read)
            return 0; /* peer closed without close_notify */
        if (errno == 0)
            errno = EPIPE;
        return -1;
    }
    log_limited(c, is_read ? "TLS error reading" : "TLS error writing", why ? why : "protocol error");
    errno = EPROTO;
    return -1;
}

static ssize_t tls_read(od_conn_t *c, void *buf, size_t len)
{
    od_tls_conn_t *t = c->tls;
    if (!t->handshake_done) {
        int h = handshake(c, t);
        if (h <= 0)
            return -1; /* errno: EAGAIN or the failure */
    }
    size_t n = 0;
    ERR_clear_error();
    errno = 0;
    int ok = SSL_read_ex(t->ssl, buf, len, &n);
    if (ok) {
        t->want_write = 0;
        return (ssize_t)n;
    }
    return io_error(c, t, 0, 1);
}

/* One SSL_write of p[0..len); remembers len for a retry after EAGAIN. */
static ssize_t write_bytes(od_conn_t *c, od_tls_conn_t *t, const void *p, size_t len, int staged)
{
    size_t w = 0;
    ERR_clear_error();
    errno = 0;
    if (SSL_write_ex(t->ssl, p, len, &w)) {
        t->retry_len = 0;
        return (ssize_t)w;
    }
    ssize_t r = io_error(c, t, 0, 0);
    if (r < 0 && errno == EAGAIN) {
        t->retry_len = len;
        t->retry_staged = staged;
    }
    return r;
}

static int ensure_stage(od_tls_conn_t *t)
{
    if (!t->stage)
        t->stage = malloc(STAGE_BYTES);
    if (!t->stage) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

static ssize_t tls_writev(od_conn_t *c, const struct iovec *iov, int niov)
{
    od_tls_conn_t *t = c->tls;
    if (!t->handshake_done || niov <= 0) {
        errno = EAGAIN; /* responses exist only after requests, so after the handshake */
        return -1;
    }
    if (t->retry_len) /* the same bytes again (see the top of the file) */
        return write_bytes(c, t, t->retry_staged ? t->stage : iov[0].iov_base, t->retry_len,
                           t->retry_staged);
    /* A large segment goes as it is; small ones are gathered into records
     * (a record per few-byte segment would cost a header and a MAC each). */
    if (niov == 1 || iov[0].iov_len >= STAGE_BYTES) {
        size_t len = iov[0].iov_len < DIRECT_WRITE_MAX ? iov[0].iov_len : DIRECT_WRITE_MAX;
        return write_bytes(c, t, iov[0].iov_base, len, 0);
    }
    if (ensure_stage(t) < 0)
        return -1;
    size_t n = 0;
    for (int i = 0; i < niov && n < STAGE_BYTES; i++) {
        size_t take = iov[i].iov_len < STAGE_BYTES - n ? iov[i].iov_len : STAGE_BYTES - n;
        memcpy(t->stage + n, iov[i].iov_base, take);
        n += take;
    }
    return write_bytes(c, t, t->stage, n, 1);
}

static ssize_t tls_sendfile(od_conn_t *c, int fd, off_t *off, size_t len)
{
    od_tls_conn_t *t = c->tls;
    if (!t->handshake_done) {
        errno = EAGAIN;
        return -1;
    }
    ssize_t w;
    if (t->retry_len) {
        /* od_conn.c calls again with the same queue head after EAGAIN, so
         * a retry left here is met here, and its bytes are in the stage. */
        w = write_bytes(c, t, t->stage, t->retry_len, 1);
        if (w < 0)
            return -1;
        od_tls_stats.copy_file_bytes += (uint64_t)w;
    } else if (t->ktls_send) {
        /* Kernel TLS: the kernel encrypts straight from the page cache. */
        ERR_clear_error();
        errno = 0;
        w = SSL_sendfile(t->ssl, fd, *off, len, 0);
        if (w < 0)
            return io_error(c, t, (int)w, 0);
        od_tls_stats.ktls_file_bytes += (uint64_t)w;
    } else {
        /* No kernel TLS: copy through the stage, one record at a time. */
        if (ensure_stage(t) < 0)
            return -1;
        size_t want = len < STAGE_BYTES ? len : STAGE_BYTES;
        ssize_t r = pread(fd, t->stage, want, *off);
        if (r <= 0)
            return r; /* 0: the file is shorter than the range, as sendfile says */
        w = write_bytes(c, t, t->stage, (size_t)r, 1);
        if (w < 0)
            return -1;
        od_tls_stats.copy_file_bytes += (uint64_t)w;
    }
    *off += w;
    return w;
}

static uint32_t tls_wants(const od_conn_t *c)
{
    const od_tls_conn_t *t = c->tls;
    return t->want_write ? OD_LOOP_WRITE : 0;
}

static int tls_pending(const od_conn_t *c)
{
    const od_tls_conn_t *t = c->tls;
    /* Decrypted bytes, or records read ahead and not yet decrypted. */
    return t->handshake_done && SSL_has_pending(t->ssl);
}

static void tls_close(od_conn_t *c)
{
    od_tls_conn_t *t = c->tls;
    if (!t)
        return;
    if (t->hs_timer)
        od_loop_cancel(c->core->loop, t->hs_timer);
    if (t->handshake_done) {
        /* One try at close_notify; a peer that is not reading misses it. */
        SSL_set_quiet_shutdown(t->ssl, 0);
        ERR_clear_error();
        SSL_shutdown(t->ssl);
    }
    ERR_clear_error();
    SSL_free(t->ssl);
    od_tls_ctx_unref(t->ctx);
    free(t->stage);
    free(t);
    c->tls = NULL;
    c->xport = &od_transport_plain;
}

static const od_transport_t od_transport_tls = {
    "tls", tls_read, tls_writev, tls_sendfile, tls_wants, tls_pending, tls_close,
};

int od_tls_conn_start(od_conn_t *c, od_tls_ctx_t *ctx)
{
    od_tls_conn_t *t = calloc(1, sizeof(*t));
    if (!t)
        return -1;
    t->ssl = SSL_new(ctx->ssl_ctx);
    if (!t->ssl || !SSL_set_fd(t->ssl, c->fd)) {
        SSL_free(t->ssl);
        free(t);
        ERR_clear_error();
        return -1;
    }
    SSL_set_accept_state(t->ssl);
    t->hs_timer = od_loop_timer(c->core->loop, ctx->handshake_timeout_ms, handshake_timeout, c);
    if (t->hs_timer < 0) {
        SSL_free(t->ssl);
        free(t);
        return -1;
    }
    ctx->refs++;
    t->ctx = ctx;
    c->tls = t;
    c->xport = &od_transport_tls;
    return 0;
}

void od_tls_log_support(void)
{
    /* The kernel lists the upper-layer protocols it can attach to TCP;
     * "tls" appears once the tls module is loaded (it may also load on
     * first use, which OpenSSL then gets per connection). */
    char ulp[256] = "";
    FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "r");
    if (f) {
        if (!fgets(ulp, sizeof(ulp), f))
            ulp[0] = 0;
        fclose(f);
    }
    ulp[strcspn(ulp, "\n")] = 0;
    int kernel = strstr(ulp, "tls") != NULL;
#ifdef OPENSSL_NO_KTLS
    const char *lib = "OpenSSL built without kTLS";
#else
    const char *lib = "OpenSSL has kTLS";
#endif
    od_logf(OD_LOG_INFO, "TLS: %s (%s); kernel tls ULP %s (tcp_available_ulp: %s): file ranges "
            "go out %s", OpenSSL_version(OPENSSL_VERSION), lib, kernel ? "loaded" : "not loaded",
            ulp[0] ? ulp : "?",
            kernel ? "with SSL_sendfile where a connection gets kTLS, else copied"
                   : "copied through user space (read + SSL_write) unless the module loads on demand");
}
