/* od_tls_principal.h - a client certificate's subject as Kafka names it,
 * and Kafka's ssl.principal.mapping.rules applied to it. */
#ifndef OD_TLS_PRINCIPAL_H
#define OD_TLS_PRINCIPAL_H

#include <stddef.h>

#include <openssl/x509.h>

typedef struct od_tls_rules od_tls_rules_t;

/* Parse "RULE:pattern/replacement/[LU],...,DEFAULT" (patterns are
 * Perl-compatible regular expressions, as close to Java's as C gets; a
 * pattern may hold commas, '/' and '\' are escaped with '\'). Returns 0 or
 * -1 with a reason. */
int od_tls_rules_parse(const char *text, od_tls_rules_t **out, char *err, size_t errsz);
void od_tls_rules_free(od_tls_rules_t *r);
/* The first rule whose pattern matches the whole DN gives the name (every
 * match replaced, as Java's replaceAll, then L or U); DEFAULT gives the DN
 * itself. Returns 0, or -1 when no rule matches (Kafka refuses the login)
 * or the name does not fit in out. */
int od_tls_rules_apply(const od_tls_rules_t *r, const char *dn, char *out, size_t outsz);

/* The subject of cert in RFC 2253 form exactly as Java's
 * X500Principal.getName() writes it (what Kafka's rules see): most specific
 * RDN first, CN/C/L/ST/O/OU/STREET/DC/UID by keyword, other attributes as
 * OID=#hex-of-DER. Returns 0, or -1 if it does not fit. */
int od_tls_subject_dn(const X509_NAME *name, char *out, size_t outsz);

#endif
