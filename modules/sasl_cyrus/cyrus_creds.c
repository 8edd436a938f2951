/* cyrus_creds.c - the `cyrus` credential backend: PLAIN logins checked by
 * Cyrus SASL's sasl_checkpass against a sasldb (saslpasswd2, pwcheck
 * method auxprop) or saslauthd. Cyrus calls block (files, a socket to
 * saslauthd), so they run on the module's worker thread. The options go
 * to Cyrus as per-connection callbacks, so that other users of libsasl2 in
 * the process (the GSSAPI mechanism) keep their own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sasl/sasl.h>

#include "odradek-module.h"
#include "sasl_worker.h"

#define CYRUS_MAX_FIELD 1024

static char *pwcheck, *sasldb, *saslauthd, *service, *realm; /* config targets */
static sasl_worker_t worker;
static od_core_t *core_of;
static od_module_ctx_t *module_ctx;
static int sasl_ready; /* sasl_server_init ran (on the worker thread) */

typedef struct check_job {
    sasl_job_t job;
    od_cred_done_cb done;
    void *arg;
    int status;
    char pwcheck[32], sasldb[1024], saslauthd[1024], service[64], realm[256];
    char user[CYRUS_MAX_FIELD + 1];
    char password[CYRUS_MAX_FIELD + 1];
    char why[256];
} check_job_t;

/* Cyrus asks its options through this, with the job as context. */
static int getopt_cb(void *context, const char *plugin, const char *option, const char **result,
                     unsigned *len)
{
    const check_job_t *j = context;
    const char *v = NULL;
    if (strcmp(option, "pwcheck_method") == 0)
        v = j->pwcheck;
    else if (strcmp(option, "auxprop_plugin") == 0 && strcmp(j->pwcheck, "auxprop") == 0)
        v = "sasldb";
    else if (strcmp(option, "sasldb_path") == 0 && j->sasldb[0])
        v = j->sasldb;
    else if (strcmp(option, "saslauthd_path") == 0 && j->saslauthd[0])
        v = j->saslauthd;
    else if (strcmp(option, "log_level") == 0)
        v = "0";
    if (!v)
        return SASL_FAIL;
    *result = v;
    if (len)
        *len = (unsigned)strlen(v);
    return SASL_OK;
}

static void check_work(sasl_job_t *job)
{
    check_job_t *j = (check_job_t *)job;
    j->status = OD_ERR_DENIED;
    if (!sasl_ready) {
        int rc = sasl_server_init(NULL, "odradek");
        if (rc != SASL_OK) {
            snprintf(j->why, sizeof(j->why), "sasl_server_init: %s",
                     sasl_errstring(rc, NULL, NULL));
            j->status = OD_ERR_IO;
            return;
        }
        sasl_ready = 1;
    }
    sasl_callback_t cbs[] = {
        {SASL_CB_GETOPT, (int (*)(void))(void (*)(void))getopt_cb, j},
        {SASL_CB_LIST_END, NULL, NULL},
    };
    sasl_conn_t *conn = NULL;
    int rc = sasl_server_new(j->service, NULL, j->realm[0] ? j->realm : NULL, NULL, NULL, cbs, 0,
                             &conn);
    if (rc != SASL_OK) {
        snprintf(j->why, sizeof(j->why), "sasl_server_new: %s", sasl_errstring(rc, NULL, NULL));
        j->status = OD_ERR_IO;
        return;
    }
    rc = sasl_checkpass(conn, j->user, (unsigned)strlen(j->user), j->password,
                        (unsigned)strlen(j->password));
    if (rc == SASL_OK) {
        j->status = OD_OK;
    } else if (rc != SASL_BADAUTH && rc != SASL_NOUSER && rc != SASL_NOVERIFY) {
        snprintf(j->why, sizeof(j->why), "sasl_checkpass of %.100s: %.120s", j->user,
                 sasl_errdetail(conn));
        j->status = OD_ERR_IO;
    }
    sasl_dispose(&conn);
    memset(j->password, 0, sizeof(j->password));
}

static void check_done(sasl_job_t *job)
{
    check_job_t *j = (check_job_t *)job;
    if (j->status == OD_ERR_IO)
        od_mlogf(module_ctx, OD_LOG_WARN, "%s", j->why);
    j->done(j->arg, j->status == OD_OK && !job->refused ? OD_OK : OD_ERR_DENIED, NULL);
    memset(j, 0, sizeof(*j));
    free(j);
}

static void check_free(sasl_job_t *job)
{
    memset(job, 0, sizeof(check_job_t));
    free(job);
}

static const char *lv(const od_client_t *c, const char *key)
{
    const char *v = od_config_listener_get(core_of, c ? c->listener : NULL, key);
    return v ? v : "";
}

static int verify_password(void *self, const od_client_t *c, const char *user,
                           const char *password, od_cred_done_cb done, void *arg)
{
    if (strlen(user) > CYRUS_MAX_FIELD || strlen(password) > CYRUS_MAX_FIELD) {
        done(arg, OD_ERR_DENIED, NULL);
        return OD_OK;
    }
    check_job_t *j = calloc(1, sizeof(*j));
    if (!j)
        return OD_ERR_NOMEM;
    j->job.work = check_work;
    j->job.done = check_done;
    j->done = done;
    j->arg = arg;
    snprintf(j->pwcheck, sizeof(j->pwcheck), "%s", lv(c, "sasl.cyrus.pwcheck.method"));
    snprintf(j->sasldb, sizeof(j->sasldb), "%s", lv(c, "sasl.cyrus.sasldb.path"));
    snprintf(j->saslauthd, sizeof(j->saslauthd), "%s", lv(c, "sasl.cyrus.saslauthd.path"));
    snprintf(j->service, sizeof(j->service), "%s", lv(c, "sasl.cyrus.service"));
    snprintf(j->realm, sizeof(j->realm), "%s", lv(c, "sasl.cyrus.realm"));
    snprintf(j->user, sizeof(j->user), "%s", user);
    snprintf(j->password, sizeof(j->password), "%s", password);
    int rc = sasl_worker_submit(&worker, &j->job);
    if (rc != OD_OK) {
        check_free(&j->job);
        return rc;
    }
    return OD_OK;
}

static int scram_lookup(void *self, const char *user, int mechanism, od_scram_cred_t *out)
{
    return OD_ERR_NOT_FOUND; /* Cyrus keeps no Kafka SCRAM credentials */
}

static const od_credential_ops_t cyrus_backend = {
    .struct_size = sizeof(od_credential_ops_t),
    .name = "cyrus",
    .verify_password = verify_password,
    .scram_lookup = scram_lookup,
};

static const od_conf_def_t cyrus_defs[] = {
    {"sasl.cyrus.pwcheck.method", OD_CONF_ENUM, "auxprop", 0, 0, "auxprop,saslauthd",
     "how sasl.credential.backend=cyrus checks PLAIN passwords: auxprop (a sasldb made with "
     "saslpasswd2) or saslauthd",
     &pwcheck, OD_CONF_F_LISTENER},
    {"sasl.cyrus.sasldb.path", OD_CONF_STRING, "/etc/sasldb2", 0, 0, NULL,
     "the sasldb file for pwcheck method auxprop", &sasldb, OD_CONF_F_LISTENER},
    {"sasl.cyrus.saslauthd.path", OD_CONF_STRING, "", 0, 0, NULL,
     "saslauthd's socket (its mux file) for pwcheck method saslauthd; empty: Cyrus's default",
     &saslauthd, OD_CONF_F_LISTENER},
    {"sasl.cyrus.service", OD_CONF_STRING, "kafka", 0, 0, NULL,
     "the service name Cyrus SASL checks passwords for (saslauthd passes it to PAM)", &service,
     OD_CONF_F_LISTENER},
    {"sasl.cyrus.realm", OD_CONF_STRING, "", 0, 0, NULL,
     "the realm of the users (saslpasswd2 -u); empty: Cyrus's default, the host name", &realm,
     OD_CONF_F_LISTENER},
};

static int cyrus_init(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    module_ctx = ctx;
    core_of = od_module_core(ctx);
    if (od_register_config(ctx, cyrus_defs, sizeof(cyrus_defs) / sizeof(cyrus_defs[0])) < 0 ||
        od_register_credentials(ctx, &cyrus_backend, NULL) < 0) {
        snprintf(err, errsz, "cannot register the cyrus backend");
        return -1;
    }
    return 0;
}

static int cyrus_start(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    if (sasl_worker_start(&worker, core_of) < 0) {
        snprintf(err, errsz, "cannot start the Cyrus SASL worker thread");
        return -1;
    }
    return 0;
}

static void cyrus_fini(od_module_ctx_t *ctx)
{
    sasl_worker_stop(&worker);
}

const od_module_t od_module = {
    .abi_major = OD_ABI_MAJOR,
    .abi_minor = OD_ABI_MINOR,
    .name = "sasl_cyrus",
    .version = "1.0",
    .kinds = OD_KIND_AUTHN,
    .init = cyrus_init,
    .fini = cyrus_fini,
    .start = cyrus_start,
};
