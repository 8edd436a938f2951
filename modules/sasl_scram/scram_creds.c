/* scram_creds.c - the `scram` credential backend: the SCRAM credentials
 * of the metadata log (AlterUserScramCredentials). SCRAM logins read them
 * as they are; a PLAIN login is checked by deriving the stored key from
 * the password with the stored salt and iterations, so one credential
 * serves both. */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "od_scram.h"
#include "scram.h"

static int lookup(void *self, const char *user, int mechanism, od_scram_cred_t *out)
{
    return od_scram_credential_get(self, user, mechanism, out);
}

static int verify_password(void *self, const od_client_t *c, const char *user,
                           const char *password, od_cred_done_cb done, void *arg)
{
    od_scram_cred_t stored, derived;
    int mech = OD_SCRAM_SHA_256;
    int rc = od_scram_credential_get(self, user, mech, &stored);
    if (rc != OD_OK) {
        mech = OD_SCRAM_SHA_512;
        rc = od_scram_credential_get(self, user, mech, &stored);
    }
    int ok = 0;
    if (rc == OD_OK &&
        od_scram_cred_from_password(mech, password, stored.salt, stored.salt_len,
                                    stored.iterations, &derived) == 0)
        ok = od_scram_equal(derived.stored_key, stored.stored_key, stored.key_len);
    OPENSSL_cleanse(&stored, sizeof(stored));
    OPENSSL_cleanse(&derived, sizeof(derived));
    done(arg, ok ? OD_OK : OD_ERR_DENIED, NULL);
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
    return od_register_credentials(ctx, &scram_backend, od_module_core(ctx));
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
};
