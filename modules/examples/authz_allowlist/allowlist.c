/* allowlist.c - an example authorizer module, built out of tree against an
 * installed Odradek (pkg-config odradek; see the Makefile beside it).
 *
 * It allows exactly the actions a file lists and denies everything else.
 * One rule per line, four columns separated by blanks, '#' starts a
 * comment, "*" matches anything in its column:
 *
 *     # principal      operation  resource type  resource name
 *     User:alice       WRITE      TOPIC          orders
 *     *                DESCRIBE   TOPIC          *
 *     User:ops         *          CLUSTER        kafka-cluster
 *
 * Load it and select it by one of its class names:
 *
 *     load_module storage_segment
 *     load_module kraft
 *     load_module /path/to/allowlist.so
 *     authorizer.class.name=com.example.AllowListAuthorizer
 *     allowlist.file=/etc/odradek/allowlist
 *
 * It shows the authorizer contract: register an od_authorizer_ops_t with
 * class names in init(), read the configuration in start(), answer
 * authorize() quickly on the loop thread, free everything in stop(). The
 * rules are read once at start; a bad line stops the start with its line
 * number. ACL records (acl_added/acl_removed) are not used. */
#define _POSIX_C_SOURCE 200809L /* strdup, strtok_r under -std=c11 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <odradek-module.h>

#define MAX_RULES 10000
#define MAX_LINE 1024

typedef struct rule {
    char *principal; /* NULL: any */
    int operation;   /* 0: any */
    int resource_type;
    char *name; /* NULL: any */
} rule_t;

typedef struct allowlist {
    od_module_ctx_t *ctx;
    rule_t *rules;
    size_t n;
} allowlist_t;

static allowlist_t the_list;
static char *allowlist_file; /* set by the core from allowlist.file */

static const od_conf_def_t allowlist_conf[] = {
    {.name = "allowlist.file",
     .type = OD_CONF_STRING,
     .dflt = "",
     .doc = "example authorizer: the file of allowed actions (principal operation type name)",
     .target = &allowlist_file},
};

static const char *const op_names[] = {"", "", "ALL", "READ", "WRITE", "CREATE", "DELETE",
                                       "ALTER", "DESCRIBE", "CLUSTER_ACTION",
                                       "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE"};
static const char *const type_names[] = {"", "", "TOPIC", "GROUP", "CLUSTER",
                                         "TRANSACTIONAL_ID", "DELEGATION_TOKEN", "USER"};

/* The code of name in names[2..n), 0 for "*", -1 when unknown. */
static int code_of(const char *name, const char *const *names, int n)
{
    if (strcmp(name, "*") == 0)
        return 0;
    for (int i = 2; i < n; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

static void free_rules(allowlist_t *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free(a->rules[i].principal);
        free(a->rules[i].name);
    }
    free(a->rules);
    a->rules = NULL;
    a->n = 0;
}

static char *any_or_copy(const char *s)
{
    return strcmp(s, "*") == 0 ? NULL : strdup(s);
}

static int parse_line(allowlist_t *a, char *line, int lineno, char *err, size_t errsz)
{
    char *hash = strchr(line, '#');
    if (hash)
        *hash = '\0';
    char *save = NULL, *col[5];
    int n = 0;
    for (char *tok = strtok_r(line, " \t\r\n", &save); tok && n < 5;
         tok = strtok_r(NULL, " \t\r\n", &save))
        col[n++] = tok;
    if (n == 0)
        return 0;
    if (n != 4) {
        snprintf(err, errsz, "%s:%d: expected principal operation type name", allowlist_file,
                 lineno);
        return -1;
    }
    int op = code_of(col[1], op_names, 13), type = code_of(col[2], type_names, 8);
    if (op < 0 || type < 0) {
        snprintf(err, errsz, "%s:%d: unknown %s '%s'", allowlist_file, lineno,
                 op < 0 ? "operation" : "resource type", op < 0 ? col[1] : col[2]);
        return -1;
    }
    if (a->n == MAX_RULES) {
        snprintf(err, errsz, "%s:%d: more than %d rules", allowlist_file, lineno, MAX_RULES);
        return -1;
    }
    rule_t *r = &a->rules[a->n];
    r->principal = any_or_copy(col[0]);
    r->name = any_or_copy(col[3]);
    r->operation = op;
    r->resource_type = type;
    if ((strcmp(col[0], "*") && !r->principal) || (strcmp(col[3], "*") && !r->name)) {
        free(r->principal);
        free(r->name);
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    a->n++;
    return 0;
}

static int allowlist_start(void *self, od_core_t *core, char *err, size_t errsz)
{
    (void)core;
    allowlist_t *a = self;
    if (!allowlist_file || !*allowlist_file) {
        snprintf(err, errsz, "allowlist: allowlist.file is not set");
        return OD_ERR_INVALID;
    }
    FILE *f = fopen(allowlist_file, "r");
    if (!f) {
        snprintf(err, errsz, "allowlist: cannot open %s", allowlist_file);
        return OD_ERR_IO;
    }
    a->rules = calloc(MAX_RULES, sizeof(*a->rules));
    if (!a->rules) {
        fclose(f);
        snprintf(err, errsz, "allowlist: out of memory");
        return OD_ERR_NOMEM;
    }
    char line[MAX_LINE];
    int lineno = 0, rc = OD_OK;
    while (rc == OD_OK && fgets(line, sizeof(line), f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            snprintf(err, errsz, "%s:%d: line longer than %d bytes", allowlist_file, lineno,
                     MAX_LINE - 2);
            rc = OD_ERR_INVALID;
        } else if (parse_line(a, line, lineno, err, errsz) < 0) {
            rc = OD_ERR_INVALID;
        }
    }
    fclose(f);
    if (rc != OD_OK) {
        free_rules(a);
        return rc;
    }
    od_mlogf(a->ctx, OD_LOG_INFO, "%zu rule(s) from %s", a->n, allowlist_file);
    return OD_OK;
}

static void allowlist_stop(void *self)
{
    free_rules(self);
}

static int allowlist_authorize(void *self, const od_client_t *c, const od_action_t *act,
                               char *reason, size_t reason_size)
{
    const allowlist_t *a = self;
    for (size_t i = 0; i < a->n; i++) {
        const rule_t *r = &a->rules[i];
        if ((r->principal && strcmp(r->principal, c->principal) != 0) ||
            (r->operation && r->operation != act->operation) ||
            (r->resource_type && r->resource_type != act->resource_type))
            continue;
        if (r->name && (strlen(r->name) != act->resource_name_len ||
                        memcmp(r->name, act->resource_name, act->resource_name_len) != 0))
            continue;
        return OD_ALLOW;
    }
    snprintf(reason, reason_size, "not in %s", allowlist_file);
    return OD_DENY;
}

static const char *const allowlist_classes[] = {"allowlist", "com.example.AllowListAuthorizer",
                                                NULL};

static const od_authorizer_ops_t allowlist_ops = {
    .struct_size = sizeof(od_authorizer_ops_t),
    .name = "allowlist",
    .class_names = allowlist_classes,
    .start = allowlist_start,
    .stop = allowlist_stop,
    .authorize = allowlist_authorize,
};

static int allowlist_init(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    the_list.ctx = ctx;
    if (od_register_config(ctx, allowlist_conf, 1) != 0 ||
        od_register_authorizer(ctx, &allowlist_ops, &the_list) != OD_OK) {
        snprintf(err, errsz, "allowlist: cannot register");
        return -1;
    }
    return 0;
}

static void allowlist_fini(od_module_ctx_t *ctx)
{
    (void)ctx;
    free_rules(&the_list);
}

od_module_t od_module = {
    .abi_major = OD_ABI_MAJOR,
    .abi_minor = OD_ABI_MINOR,
    .name = "authz_allowlist",
    .version = "1.0",
    .kinds = OD_KIND_AUTHZ,
    .init = allowlist_init,
    .fini = allowlist_fini,
};
