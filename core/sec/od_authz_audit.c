/* od_authz_audit.c - the audit log: every denial and every administrative
 * change as one JSON line, into the broker log (tagged AUDIT) or a file
 * (authorizer.audit.log). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "od_authz.h"
#include "od_core.h"
#include "od_proto_gen.h"

#define AUDIT_NONE 0
#define AUDIT_LOG  1
#define AUDIT_FILE 2

struct od_audit {
    int mode;
    FILE *f;
};

int od_audit_open(od_core_t *core, char *err, size_t errsz)
{
    const char *where = od_config_get(&core->config, "authorizer.audit.log");
    struct od_audit *au = calloc(1, sizeof(*au));
    if (!au) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    if (!where || !*where || strcmp(where, "log") == 0) {
        au->mode = AUDIT_LOG;
    } else if (strcmp(where, "none") == 0) {
        au->mode = AUDIT_NONE;
    } else {
        au->mode = AUDIT_FILE;
        au->f = fopen(where, "ae");
        if (!au->f) {
            snprintf(err, errsz, "authorizer.audit.log=%s: %s", where, strerror(errno));
            free(au);
            return -1;
        }
        setvbuf(au->f, NULL, _IOLBF, 0); /* a line is on disk's way when logged */
    }
    core->audit = au;
    return 0;
}

void od_audit_close(od_core_t *core)
{
    if (!core->audit)
        return;
    if (core->audit->f)
        fclose(core->audit->f);
    free(core->audit);
    core->audit = NULL;
}

/* A JSON string of s[0..len) into out (always terminated, cut to fit). */
static void json_str(char *out, size_t outsz, const char *s, size_t len)
{
    size_t o = 0;
    if (outsz < 3)
        return;
    out[o++] = '"';
    for (size_t i = 0; s && i < len && o + 8 < outsz; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch < 0x20 || ch == 0x7f) {
            o += (size_t)snprintf(out + o, outsz - o, "\\u%04x", ch);
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
}

static void emit(od_core_t *core, const char *line)
{
    struct od_audit *au = core->audit;
    if (!au || au->mode == AUDIT_NONE)
        return;
    if (au->mode == AUDIT_FILE)
        fprintf(au->f, "%s\n", line);
    else
        od_logf(OD_LOG_INFO, "AUDIT %s", line);
}

static void timestamp(char *out, size_t n)
{
    int64_t ms = od_now_ms();
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, n - k, ".%03dZ", (int)(ms % 1000));
}

/* The fields every line starts with: time, event, principal, host, listener, api. */
static void head(od_req_t *r, const od_client_t *c, const char *event, char *out, size_t n)
{
    char ts[40], principal[600], host[160], listener[160];
    timestamp(ts, sizeof(ts));
    const char *p = c ? c->principal : "";
    const char *h = c ? c->host : "";
    const char *l = c && c->listener ? c->listener : "";
    json_str(principal, sizeof(principal), p, strlen(p));
    json_str(host, sizeof(host), h, strlen(h));
    json_str(listener, sizeof(listener), l, strlen(l));
    const od_proto_api_t *api = od_proto_api(r->hdr.api_key);
    snprintf(out, n, "{\"time\":\"%s\",\"event\":\"%s\",\"principal\":%s,\"host\":%s,"
             "\"listener\":%s,\"api\":\"%s\",\"correlation_id\":%d", ts, event, principal, host,
             listener, api ? api->name : "?", r->hdr.correlation_id);
}

void od_audit_action(od_req_t *r, const od_client_t *c, const od_action_t *a, int decision,
                     const char *reason)
{
    if (!r->core->audit || r->core->audit->mode == AUDIT_NONE)
        return;
    char line[4096], name[1200], why[600];
    head(r, c, "authorize", line, sizeof(line));
    json_str(name, sizeof(name), a->resource_name, a->resource_name_len);
    json_str(why, sizeof(why), reason ? reason : "", reason ? strlen(reason) : 0);
    size_t k = strlen(line);
    snprintf(line + k, sizeof(line) - k, ",\"operation\":\"%s\",\"resource_type\":\"%s\","
             "\"resource\":%s,\"result\":\"%s\",\"reason\":%s}", od_acl_op_name(a->operation),
             od_acl_res_name(a->resource_type), name, decision == OD_ALLOW ? "ALLOWED" : "DENIED",
             why);
    emit(r->core, line);
}

void od_audit_admin(od_req_t *r, const char *change, int resource_type, const char *rname,
                    size_t len, int16_t error_code, const char *detail)
{
    if (!r->core->audit || r->core->audit->mode == AUDIT_NONE)
        return;
    od_client_t c, *cp = od_authz_client(r, &c) ? &c : NULL;
    char line[4096], name[1200], det[1200];
    head(r, cp, "admin", line, sizeof(line));
    json_str(name, sizeof(name), rname, len);
    json_str(det, sizeof(det), detail ? detail : "", detail ? strlen(detail) : 0);
    size_t k = strlen(line);
    snprintf(line + k, sizeof(line) - k, ",\"change\":\"%s\",\"resource_type\":\"%s\","
             "\"resource\":%s,\"result\":\"%s\",\"error_code\":%d,\"detail\":%s}", change,
             od_acl_res_name(resource_type), name, error_code ? od_err_name(error_code) : "OK",
             error_code, det);
    emit(r->core, line);
}
