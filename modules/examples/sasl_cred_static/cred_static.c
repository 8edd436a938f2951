/* cred_static.c - an example credential backend, built out of tree with
 * pkg-config odradek (see Makefile): PLAIN logins checked against the
 * user:password pairs of the `cred_static.users` key. It shows the
 * credential ops of ABI 1.3, a module key read per listener, and the
 * synchronous form of verify_password (done() before returning). Plain
 * passwords in a config file are for demonstrations only; real backends
 * keep hashes (see sasl_argon2) or ask a service on a worker thread (see
 * sasl_cyrus). Select it with sasl.credential.backend=static. */
#include <stdio.h>
#include <string.h>

#include <odradek-module.h>

static od_core_t *core;
static od_module_ctx_t *self_ctx;
static char *users; /* cred_static.users */

/* Compare without stopping at the first difference, so the time taken
 * does not tell how much of a password was right. */
static int same(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned diff = (unsigned)(alen ^ blen);
    for (size_t i = 0; i < alen && i < blen; i++)
        diff |= (unsigned)(a[i] ^ b[i]);
    return diff == 0;
}

static int verify_password(void *self, const od_client_t *c, const char *user,
                           const char *password, od_cred_done_cb done, void *arg)
{
    const char *list = od_config_listener_get(core, c ? c->listener : NULL, "cred_static.users");
    size_t ul = strlen(user);
    int ok = 0;
    for (const char *p = list ? list : ""; *p;) {
        while (*p == ',' || *p == ' ')
            p++;
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        const char *colon = memchr(p, ':', n);
        if (colon && (size_t)(colon - p) == ul && memcmp(p, user, ul) == 0)
            ok = same(colon + 1, n - ul - 1, password, strlen(password));
        p += n;
    }
    od_mlogf(self_ctx, OD_LOG_DEBUG, "PLAIN login of %s: %s", user, ok ? "ok" : "refused");
    done(arg, ok ? OD_OK : OD_ERR_DENIED, NULL);
    return OD_OK;
}

static int scram_lookup(void *self, const char *user, int mechanism, od_scram_cred_t *out)
{
    return OD_ERR_NOT_FOUND; /* PLAIN only */
}

static const od_credential_ops_t ops = {
    .struct_size = sizeof(od_credential_ops_t),
    .name = "static",
    .verify_password = verify_password,
    .scram_lookup = scram_lookup,
};

static const od_conf_def_t defs[] = {
    {"cred_static.users", OD_CONF_LIST, "", 0, 0, NULL,
     "user:password pairs for sasl.credential.backend=static (the example backend)", &users,
     OD_CONF_F_LISTENER | OD_CONF_F_SECRET},
};

static int init(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    self_ctx = ctx;
    core = od_module_core(ctx);
    if (od_register_config(ctx, defs, 1) < 0 || od_register_credentials(ctx, &ops, NULL) < 0) {
        snprintf(err, errsz, "cannot register the static backend");
        return -1;
    }
    return 0;
}

const od_module_t od_module = {
    .abi_major = OD_ABI_MAJOR,
    .abi_minor = OD_ABI_MINOR,
    .name = "cred_static",
    .version = "1.0",
    .kinds = OD_KIND_AUTHN,
    .init = init,
};
