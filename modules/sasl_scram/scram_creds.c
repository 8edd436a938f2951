/* scram_creds.c - the `scram` credential backend: the SCRAM credentials
 * of the metadata log (AlterUserScramCredentials). SCRAM logins read them
 * as they are; a PLAIN login is checked by deriving the stored key from
 * the password with the stored salt and iterations, so one credential
 * serves both; that check runs on a worker thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "od_scram.h"
#include "sasl_worker.h"
#include "scram.h"

static sasl_worker_t worker;
static od_core_t *core_of;

static int lookup(void *self, const char *user, int mechanism, od_scram_cred_t *out)
{
    return od_scram_credential_get(self, user, mechanism, out);
}

/* PBKDF2 over thousands of iterations takes milliseconds: it runs on the
 * module's worker thread, the loop only looks the credential up. */
typedef struct plain_job {
    sasl_job_t job;
    od_cred_done_cb done;
    void *arg;
    int known; /* the user has a credential (else a stand-in gets the same work) */
    int ok;
    od_scram_cred_t stored;
    char password[1025];
} plain_job_t;

static void plain_work(sasl_job_t *j)
{
    plain_job_t *p = (plain_job_t *)j;
    od_scram_cred_t derived;
    p->ok = od_scram_cred_from_password(p->stored.mechanism, p->password, p->stored.salt,
                                        p->stored.salt_len, p->stored.iterations, &derived) == 0 &&
            od_scram_equal(derived.stored_key, p->stored.stored_key, p->stored.key_len) &&
            p->known;
    OPENSSL_cleanse(&derived, sizeof(derived));
    OPENSSL_cleanse(p->password, sizeof(p->password));
}

static void plain_free(sasl_job_t *j)
{
    OPENSSL_cleanse(j, sizeof(plain_job_t));
    free(j);
}

static void plain_done(sasl_job_t *j)
{
    plain_job_t *p = (plain_job_t *)j;
    p->done(p->arg, p->ok && !j->refused ? OD_OK : OD_ERR_DENIED, NULL);
    plain_free(j);
}

static int verify_password(void *self, const od_client_t *c, const char *user,
                           const char *password, od_cred_done_cb done, void *arg)
{
    if (strlen(password) >= sizeof(((plain_job_t *)0)->password)) {
        done(arg, OD_ERR_DENIED, NULL);
        return OD_OK;
    }
    plain_job_t *p = calloc(1, sizeof(*p));
    if (!p)
        return OD_ERR_NOMEM;
    p->job.work = plain_work;
    p->job.done = plain_done;
    p->done = done;
    p->arg = arg;
    p->known = od_scram_credential_get(self, user, OD_SCRAM_SHA_256, &p->stored) == OD_OK ||
               od_scram_credential_get(self, user, OD_SCRAM_SHA_512, &p->stored) == OD_OK;
    if (!p->known) {
        /* An unknown user costs what a known one does. */
        memset(&p->stored, 0, sizeof(p->stored));
        p->stored.mechanism = OD_SCRAM_SHA_256;
        p->stored.key_len = 32;
        p->stored.salt_len = 16;
        p->stored.iterations = OD_SCRAM_MIN_ITERATIONS;
    }
    snprintf(p->password, sizeof(p->password), "%s", password);
    int rc = sasl_worker_submit(&worker, &p->job);
    if (rc != OD_OK) {
        plain_free(&p->job);
        return rc;
    }
    return OD_OK;
}

static const od_credential_ops_t scram_backend = {
    .struct_size = sizeof(od_credential_ops_t),
    .name = "scram",
    .verify_password = verify_password,
    .scram_lookup = lookup,
};

int scram_register_backend(od_module_ctx_t *ctx)
{
    core_of = od_module_core(ctx);
    return od_register_credentials(ctx, &scram_backend, core_of);
}

static int scram_start(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    if (sasl_worker_start(&worker, core_of) < 0) {
        snprintf(err, errsz, "cannot start the PBKDF2 worker thread");
        return -1;
    }
    return 0;
}

static void scram_fini(od_module_ctx_t *ctx)
{
    sasl_worker_stop(&worker);
}

static int scram_init(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    if (scram_register_mechanisms(ctx) < 0 || scram_register_backend(ctx) < 0) {
        snprintf(err, errsz, "cannot register the SCRAM mechanisms or the scram backend");
        return -1;
    }
    return 0;
}

const od_module_t od_module = {
    .abi_major = OD_ABI_MAJOR,
    .abi_minor = OD_ABI_MINOR,
    .name = "sasl_scram",
    .version = "1.0",
    .kinds = OD_KIND_AUTHN,
    .init = scram_init,
    .fini = scram_fini,
    .start = scram_start,
};
