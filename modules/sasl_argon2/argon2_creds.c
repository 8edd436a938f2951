/* argon2_creds.c - the `argon2` credential backend: PLAIN logins checked
 * against a file of Argon2id hashes (sasl.argon2.file), one
 * "user:$argon2id$..." line each, as `odradekd hash-password USER` prints
 * them (doc/security.md). Hashing is slow on purpose, so every check runs
 * on the module's worker thread; the file is read at each check, so an
 * edit takes effect without a restart. SCRAM needs the stored keys SCRAM
 * defines, which an Argon2 hash is not: scram_lookup finds nobody. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "odradek-module.h"
#include "sasl_worker.h"

#define ARGON2_MAX_LINE 1024
#define ARGON2_MAX_FIELD 1024

static char *file_key;                /* sasl.argon2.file (global value) */
static char dummy_hash[crypto_pwhash_STRBYTES]; /* verified for unknown users */
static sasl_worker_t worker;
static od_core_t *core_of;
static od_module_ctx_t *module_ctx;

typedef struct verify_job {
    sasl_job_t job;
    od_cred_done_cb done;
    void *arg;
    int status;
    char path[4096];
    char user[ARGON2_MAX_FIELD + 1];
    char password[ARGON2_MAX_FIELD + 1];
    char why[256];
} verify_job_t;

/* Look the user up in the file and verify; runs on the worker thread. */
static void verify_work(sasl_job_t *j)
{
    verify_job_t *v = (verify_job_t *)j;
    v->status = OD_ERR_DENIED;
    FILE *f = fopen(v->path, "r");
    if (!f) {
        snprintf(v->why, sizeof(v->why), "cannot read sasl.argon2.file %.200s", v->path);
        v->status = OD_ERR_IO;
        return;
    }
    char line[ARGON2_MAX_LINE + 2];
    size_t ulen = strlen(v->user);
    int found = 0;
    while (fgets(line, sizeof(line), f)) {
        size_t n = strlen(line);
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        if (n > ulen && memcmp(line, v->user, ulen) == 0 && line[ulen] == ':') {
            found = 1;
            if (crypto_pwhash_str_verify(line + ulen + 1, v->password, strlen(v->password)) == 0)
                v->status = OD_OK;
            break;
        }
    }
    fclose(f);
    if (!found) {
        /* The same work for an unknown user, so that timing does not tell
         * which users exist. */
        if (!dummy_hash[0]) { /* made once, on this thread */
            char pw[33];
            uint8_t rnd[16];
            randombytes_buf(rnd, sizeof(rnd));
            sodium_bin2hex(pw, sizeof(pw), rnd, sizeof(rnd));
            if (crypto_pwhash_str(dummy_hash, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                  crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
                dummy_hash[0] = '\0';
        }
        if (dummy_hash[0] &&
            crypto_pwhash_str_verify(dummy_hash, v->password, strlen(v->password)) == 0)
            v->status = OD_ERR_DENIED; /* (a random password: never) */
    }
    sodium_memzero(v->password, sizeof(v->password));
}

static void verify_done(sasl_job_t *j)
{
    verify_job_t *v = (verify_job_t *)j;
    if (v->status == OD_ERR_IO)
        od_mlogf(module_ctx, OD_LOG_WARN, "%s", v->why);
    v->done(v->arg, v->status == OD_OK && !j->refused ? OD_OK : OD_ERR_DENIED, NULL);
    sodium_memzero(v, sizeof(*v));
    free(v);
}

static void verify_free(sasl_job_t *j)
{
    verify_job_t *v = (verify_job_t *)j;
    sodium_memzero(v, sizeof(*v));
    free(v);
}

static int verify_password(void *self, const od_client_t *c, const char *user,
                           const char *password, od_cred_done_cb done, void *arg)
{
    const char *path = od_config_listener_get(core_of, c ? c->listener : NULL, "sasl.argon2.file");
    if (!path || !*path || strlen(user) > ARGON2_MAX_FIELD || strlen(password) > ARGON2_MAX_FIELD ||
        strlen(path) >= sizeof(((verify_job_t *)0)->path)) {
        if (!path || !*path)
            od_mlogf(module_ctx, OD_LOG_WARN, "sasl.argon2.file is not set: PLAIN login of %s "
                     "refused", user);
        done(arg, OD_ERR_DENIED, NULL);
        return OD_OK;
    }
    verify_job_t *v = calloc(1, sizeof(*v));
    if (!v)
        return OD_ERR_NOMEM;
    v->job.work = verify_work;
    v->job.done = verify_done;
    v->done = done;
    v->arg = arg;
    snprintf(v->path, sizeof(v->path), "%s", path);
    snprintf(v->user, sizeof(v->user), "%s", user);
    snprintf(v->password, sizeof(v->password), "%s", password);
    int rc = sasl_worker_submit(&worker, &v->job);
    if (rc != OD_OK) {
        verify_free(&v->job);
        return rc;
    }
    return OD_OK;
}

static int scram_lookup(void *self, const char *user, int mechanism, od_scram_cred_t *out)
{
    return OD_ERR_NOT_FOUND;
}

static const od_credential_ops_t argon2_backend = {
    .struct_size = sizeof(od_credential_ops_t),
    .name = "argon2",
    .verify_password = verify_password,
    .scram_lookup = scram_lookup,
};

static const od_conf_def_t argon2_defs[] = {
    {"sasl.argon2.file", OD_CONF_STRING, "", 0, 0, NULL,
     "file of user:Argon2id-hash lines for sasl.credential.backend=argon2 (PLAIN); entries "
     "made with `odradekd hash-password USER`; read at every login",
     &file_key, OD_CONF_F_LISTENER},
};

static int argon2_init(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    module_ctx = ctx;
    core_of = od_module_core(ctx);
    if (sodium_init() < 0) {
        snprintf(err, errsz, "libsodium does not initialise");
        return -1;
    }
    if (od_register_config(ctx, argon2_defs, 1) < 0 ||
        od_register_credentials(ctx, &argon2_backend, NULL) < 0) {
        snprintf(err, errsz, "cannot register the argon2 backend");
        return -1;
    }
    return 0;
}

static int argon2_start(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    if (sasl_worker_start(&worker, core_of) < 0) {
        snprintf(err, errsz, "cannot start the Argon2 worker thread");
        return -1;
    }
    return 0;
}

static void argon2_fini(od_module_ctx_t *ctx)
{
    sasl_worker_stop(&worker);
}

const od_module_t od_module = {
    .abi_major = OD_ABI_MAJOR,
    .abi_minor = OD_ABI_MINOR,
    .name = "sasl_argon2",
    .version = "1.0",
    .kinds = OD_KIND_AUTHN,
    .init = argon2_init,
    .fini = argon2_fini,
    .start = argon2_start,
};
