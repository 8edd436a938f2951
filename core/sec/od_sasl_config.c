/* od_sasl_config.c - the SASL keys, the sasl subsystem's start (every
 * mechanism a SASL listener enables and its credential backend must be
 * loaded), and per-listener values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_ext.h"
#include "od_net.h"
#include "od_sasl.h"
#include "od_scram_store.h"

/* No static targets: values are read as text per listener (a listener
 * may override each with listener.name.<listener>.<key>). */
static const od_conf_def_t sasl_defs[] = {
    {"sasl.enabled.mechanisms", OD_CONF_LIST, "GSSAPI", 0, 0, NULL,
     "SASL mechanisms offered on SASL_PLAINTEXT and SASL_SSL listeners (PLAIN, SCRAM-SHA-256, "
     "SCRAM-SHA-512, OAUTHBEARER, GSSAPI; each needs its sasl_* module)",
     NULL, OD_CONF_F_LISTENER},
    {"sasl.credential.backend", OD_CONF_STRING, "scram", 0, 0, NULL,
     "where PLAIN and SCRAM logins find credentials: scram (SCRAM credentials in the metadata "
     "log, AlterUserScramCredentials), argon2 (sasl.argon2.file), cyrus (Cyrus SASL), or a "
     "module's backend",
     NULL, OD_CONF_F_LISTENER},
    {"connections.max.reauth.ms", OD_CONF_INT, "0", 0, INT64_MAX, NULL,
     "longest SASL session before the client must re-authenticate (KIP-368); 0: no limit "
     "beyond the credential's own expiry",
     NULL, OD_CONF_F_LISTENER},
    {"sasl.server.max.receive.size", OD_CONF_INT, "524288", 1, INT32_MAX, NULL,
     "largest request a SASL listener reads before the client has authenticated",
     NULL, OD_CONF_F_SIZE},
};
#define SASL_DEF_MAX_RECEIVE 3

int od_sasl_register_config(od_core_t *core, char *err, size_t errsz)
{
    return od_config_register(&core->config, sasl_defs, sizeof(sasl_defs) / sizeof(sasl_defs[0]),
                              "core", err, errsz);
}

static const char *value_for(od_core_t *core, const char *listener, const char *key)
{
    return listener ? od_config_listener_value(&core->config, listener, key)
                    : od_config_get(&core->config, key);
}

const char *od_sasl_listener_value(od_conn_t *c, const char *key)
{
    return value_for(c->core, c->listener ? c->listener->spec.name : NULL, key);
}

const char *od_sasl_mech_key(const char *mechanism, const char *key, char *buf, size_t bufsz)
{
    size_t o = 0;
    for (const char *m = mechanism; *m && o + 1 < bufsz; m++)
        buf[o++] = (char)(*m >= 'A' && *m <= 'Z' ? *m - 'A' + 'a' : *m);
    snprintf(buf + o, bufsz - o, ".%s", key);
    return buf;
}

/* Is name one of the comma-separated items of list? */
static int list_has(const char *list, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = list ? list : ""; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && t[-1] == ' ')
            t--;
        if ((size_t)(t - p) == nl && memcmp(p, name, nl) == 0)
            return 1;
        p = e;
    }
    return 0;
}

int od_sasl_mech_enabled(od_conn_t *c, const char *name)
{
    return list_has(od_sasl_listener_value(c, "sasl.enabled.mechanisms"), name) &&
           od_ext_find(c->core, OD_EXT_SASL_MECH, name) != NULL;
}

static int check_listener(od_core_t *core, const char *listener, char *err, size_t errsz)
{
    const char *list = value_for(core, listener, "sasl.enabled.mechanisms");
    int any = 0;
    for (const char *p = list ? list : ""; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        char name[64];
        size_t n = (size_t)(e - p);
        while (n > 0 && p[n - 1] == ' ')
            n--;
        if (n == 0) {
            p = e;
            continue;
        }
        if (n >= sizeof(name)) {
            snprintf(err, errsz, "listener %s: SASL mechanism name '%.20s...' is too long",
                     listener, p);
            return -1;
        }
        memcpy(name, p, n);
        name[n] = '\0';
        if (!od_ext_find(core, OD_EXT_SASL_MECH, name)) {
            snprintf(err, errsz,
                     "listener %s: sasl.enabled.mechanisms has %s, which no loaded module "
                     "provides (load_module sasl_...)",
                     listener, name);
            return -1;
        }
        any = 1;
        if (strcmp(name, "PLAIN") == 0 || od_scram_mech_by_name(name)) {
            char key[128];
            od_sasl_mech_key(name, "sasl.credential.backend", key, sizeof(key));
            const char *backend = value_for(core, listener, key);
            if (!od_ext_find(core, OD_EXT_CREDENTIALS, backend ? backend : "")) {
                snprintf(err, errsz,
                         "listener %s: sasl.credential.backend %s (for %s) is not provided by "
                         "a loaded module",
                         listener, backend ? backend : "(empty)", name);
                return -1;
            }
        }
        p = e;
    }
    if (!any) {
        snprintf(err, errsz, "listener %s: sasl.enabled.mechanisms is empty", listener);
        return -1;
    }
    return 0;
}

int od_sasl_start(od_core_t *core, char *err, size_t errsz)
{
    core->sasl_max_receive = 524288;
    const char *mr = od_config_get(&core->config, sasl_defs[SASL_DEF_MAX_RECEIVE].name);
    if (mr)
        core->sasl_max_receive = strtoll(mr, NULL, 10);
    for (size_t i = 0; i < core->nlisteners; i++) {
        const od_listen_spec_t *s = &core->listeners[i].spec;
        if (s->security_protocol != OD_SECPROTO_SASL_PLAINTEXT &&
            s->security_protocol != OD_SECPROTO_SASL_SSL)
            continue;
        if (check_listener(core, s->name, err, errsz) < 0)
            return -1;
    }
    return 0;
}
