/* test_tls_principal.c - ssl.principal.mapping.rules and the RFC 2253
 * subject as Java (and so Kafka's rules) sees it. */
#include <string.h>

#include <openssl/objects.h>
#include <openssl/x509.h>

#include "od_tls_principal.h"
#include "tap.h"

static const char *map(const char *rules, const char *dn)
{
    static char out[512];
    char err[300];
    od_tls_rules_t *r = NULL;
    if (od_tls_rules_parse(rules, &r, err, sizeof err) < 0) {
        tap_diag("parse '%s': %s", rules, err);
        return "(parse error)";
    }
    int rc = od_tls_rules_apply(r, dn, out, sizeof out);
    od_tls_rules_free(r);
    return rc == 0 ? out : "(no match)";
}

static int parse_fails(const char *rules, const char *want_in_err)
{
    char err[300] = "";
    od_tls_rules_t *r = NULL;
    int rc = od_tls_rules_parse(rules, &r, err, sizeof err);
    od_tls_rules_free(r);
    if (rc == 0)
        return 0;
    if (!strstr(err, want_in_err)) {
        tap_diag("'%s': error '%s' lacks '%s'", rules, err, want_in_err);
        return 0;
    }
    return 1;
}

/* set 0: a new RDN; -1: into the previous entry's RDN (OpenSSL's meaning). */
static void add(X509_NAME *n, const char *field, const char *value, int set)
{
    X509_NAME_add_entry_by_txt(n, field, MBSTRING_UTF8, (const unsigned char *)value, -1, -1, set);
}

static const char *dn_of(X509_NAME *n)
{
    static char out[512];
    return od_tls_subject_dn(n, out, sizeof out) == 0 ? out : "(too long)";
}

#define IS(got, want, name) tap_ok(strcmp((got), (want)) == 0, "%s: '%s'", name, got)

int main(void)
{
    tap_no_plan();
    const char *dn = "CN=alice,OU=eng,O=Odradek Test,C=DE";
    IS(map("DEFAULT", dn), dn, "DEFAULT is the DN itself");
    IS(map("RULE:^CN=(.*?),OU=(.*?),O=(.*?),C=(.*?)$/$1@$2/L", dn), "alice@eng",
       "Kafka's documented example: lazy groups, $1@$2, /L");
    IS(map("RULE:^CN=(.*?),OU=.*$/$1/U", dn), "ALICE", "/U upper-cases");
    IS(map("RULE:^CN=bob,.*$/bob/,DEFAULT", dn), dn, "first rule does not match: DEFAULT");
    IS(map("RULE:^CN=bob,.*$/bob/", dn), "(no match)", "no rule matches: refused");
    IS(map("RULE:CN=alice/x/", dn), "(no match)", "the pattern must match the whole DN");
    IS(map("RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L", dn), "alice", "character classes");
    IS(map("RULE:^CN=(.*?),.*$/$1\\/x\\$/", dn), "alice/x$", "escaped / and $ in the replacement");
    IS(map("RULE:^CN=([^,]*),.*$/$1 $9/", dn), "alice $9", "$9 without such a group stays literal");
    IS(map("RULE:^CN=(?<who>[^,]*),.*$/${who}/", dn), "alice", "named group ${who}");
    IS(map(" RULE:^CN=x.*$/x/ ,\n RULE:^CN=a(.*?),.*$/$1/ , DEFAULT", dn), "lice",
       "rules separated by commas, spaces and newlines");
    IS(map("RULE:^(.*)$/$1-$1/", "a"), "a-a", "a group used twice");
    IS(map("RULE:.*/x/", "abc"), "xx", "replaceAll: the empty match at the end too, as Java");
    tap_ok(parse_fails("RULE:^CN=(.*)$", "not RULE:pattern/replacement"), "missing replacement");
    tap_ok(parse_fails("RULE:^CN=(.*$/$1/", "missing closing parenthesis"), "bad regex");
    tap_ok(parse_fails("RULE:^CN=(.*)$/$1/Q", "flags are L or U"), "bad flag");
    tap_ok(parse_fails("RULE:^CN=(.*)$/$/", "'$' must name a group"), "a bare $");
    tap_ok(parse_fails("DEFAULTX", "neither DEFAULT nor RULE"), "not a rule");
    tap_ok(parse_fails("", "no rule"), "empty rules");
    tap_ok(parse_fails("RULE:abc\\", "not RULE:pattern/replacement"), "trailing backslash");

    X509_NAME *n = X509_NAME_new();
    add(n, "C", "DE", 0);
    add(n, "O", "Odradek, Inc.", 0);
    add(n, "OU", "eng", 0);
    add(n, "CN", "alice", 0);
    IS(dn_of(n), "CN=alice,OU=eng,O=Odradek\\, Inc.,C=DE",
       "most specific first, ',' in a value escaped");
    X509_NAME_free(n);

    n = X509_NAME_new();
    add(n, "DC", "com", 0);
    add(n, "DC", "example", 0);
    add(n, "UID", "u1", 0);
    add(n, "CN", "#lead+plus ", 0);
    IS(dn_of(n), "CN=\\#lead\\+plus\\ ,UID=u1,DC=example,DC=com",
       "leading #, '+', trailing space escaped; DC and UID by keyword");
    X509_NAME_free(n);

    n = X509_NAME_new();
    add(n, "O", "Org", 0);
    add(n, "CN", "svc", 0);
    add(n, "emailAddress", "a@b.c", 0);
    IS(dn_of(n), "1.2.840.113549.1.9.1=#16056140622e63,CN=svc,O=Org",
       "emailAddress as Java writes it: OID=#hex of the DER IA5String");
    X509_NAME_free(n);

    n = X509_NAME_new();
    add(n, "O", "Org", 0);
    add(n, "CN", "a", 0);
    add(n, "OU", "b", -1); /* added to the previous entry's RDN */
    IS(dn_of(n), "CN=a+OU=b,O=Org", "a multi-valued RDN joined with '+'");
    X509_NAME_free(n);

    n = X509_NAME_new();
    add(n, "CN", "caf\xc3\xa9", 0);
    IS(dn_of(n), "CN=caf\xc3\xa9", "UTF-8 stays UTF-8 (Java does not escape it)");
    char small[8];
    tap_ok(od_tls_subject_dn(n, small, sizeof small) < 0, "a DN longer than the buffer fails");
    X509_NAME_free(n);
    return tap_done();
}
