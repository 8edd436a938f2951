/* od_tls_principal.c - subject DNs and ssl.principal.mapping.rules. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "od_tls_principal.h"

#include <ctype.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/objects.h>

typedef struct rule {
    int is_default;
    pcre2_code *re;
    char *replacement; /* converted to PCRE2's substitution syntax */
    char fold;         /* 'L', 'U' or 0 */
} rule_t;

struct od_tls_rules {
    rule_t *rules;
    size_t n;
};

void od_tls_rules_free(od_tls_rules_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        pcre2_code_free(r->rules[i].re);
        free(r->rules[i].replacement);
    }
    free(r->rules);
    free(r);
}

/* One '/'-terminated field of a RULE: escapes are kept (they mean the same
 * to the regex and to the replacement converter). Returns the field's end
 * (the '/') or NULL. */
static const char *field_end(const char *p)
{
    for (; *p; p++) {
        if (*p == '\\') {
            if (!p[1])
                return NULL;
            p++;
        } else if (*p == '/') {
            return p;
        }
    }
    return NULL;
}

/* Java's replacement syntax ($1, ${name}, \x for a literal x) into PCRE2's
 * ($1, ${name}, $$ for a literal $). A $N naming a group the pattern does
 * not have stays literal text, as Kafka escapes it. */
static char *convert_replacement(const char *s, size_t len, uint32_t groups, char *err,
                                 size_t errsz)
{
    char *out = malloc(len * 2 + 1);
    if (!out) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (ch == '\\' && i + 1 < len) {
            ch = s[++i];
            if (ch == '$')
                out[o++] = '$';
            out[o++] = ch;
        } else if (ch == '$') {
            if (i + 1 < len && s[i + 1] == '{') {
                out[o++] = '$';
            } else if (i + 1 < len && isdigit((unsigned char)s[i + 1])) {
                uint32_t g = (uint32_t)(s[i + 1] - '0');
                out[o++] = '$';
                if (g > groups)
                    out[o++] = '$';
            } else {
                snprintf(err, errsz, "replacement '%.*s': '$' must name a group (write \\$ for "
                         "a dollar sign)", (int)len, s);
                free(out);
                return NULL;
            }
        } else {
            out[o++] = ch;
        }
    }
    out[o] = 0;
    return out;
}

static int add_rule(od_tls_rules_t *r, const rule_t *x, char *err, size_t errsz)
{
    rule_t *nr = realloc(r->rules, (r->n + 1) * sizeof(*nr));
    if (!nr) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    r->rules = nr;
    r->rules[r->n++] = *x;
    return 0;
}

static int parse_rule(od_tls_rules_t *r, const char **pp, char *err, size_t errsz)
{
    const char *p = *pp + 5; /* after "RULE:" */
    const char *pe = field_end(p);
    const char *re_end = pe ? field_end(pe + 1) : NULL;
    if (!pe || !re_end) {
        snprintf(err, errsz, "'%.60s' is not RULE:pattern/replacement/[LU]", *pp);
        return -1;
    }
    rule_t x = {0};
    int ec;
    PCRE2_SIZE eo;
    x.re = pcre2_compile((PCRE2_SPTR)p, (PCRE2_SIZE)(pe - p), PCRE2_UTF, &ec, &eo, NULL);
    if (!x.re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof(msg));
        snprintf(err, errsz, "pattern '%.*s': %s at offset %zu", (int)(pe - p), p, (char *)msg,
                 (size_t)eo);
        return -1;
    }
    uint32_t groups = 0;
    pcre2_pattern_info(x.re, PCRE2_INFO_CAPTURECOUNT, &groups);
    x.replacement = convert_replacement(pe + 1, (size_t)(re_end - pe - 1), groups, err, errsz);
    if (!x.replacement) {
        pcre2_code_free(x.re);
        return -1;
    }
    p = re_end + 1;
    if (*p == 'L' || *p == 'U')
        x.fold = *p++;
    if (*p && *p != ',' && !isspace((unsigned char)*p)) {
        snprintf(err, errsz, "after rule '%.*s': unexpected '%.20s' (flags are L or U)",
                 (int)(p - *pp), *pp, p);
        pcre2_code_free(x.re);
        free(x.replacement);
        return -1;
    }
    if (add_rule(r, &x, err, errsz) < 0) {
        pcre2_code_free(x.re);
        free(x.replacement);
        return -1;
    }
    *pp = p;
    return 0;
}

int od_tls_rules_parse(const char *text, od_tls_rules_t **out, char *err, size_t errsz)
{
    od_tls_rules_t *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    const char *p = text ? text : "";
    for (;;) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        if (strncmp(p, "DEFAULT", 7) == 0 && (!p[7] || p[7] == ',' || isspace((unsigned char)p[7]))) {
            rule_t x = {.is_default = 1};
            if (add_rule(r, &x, err, errsz) < 0)
                goto fail;
            p += 7;
        } else if (strncmp(p, "RULE:", 5) == 0) {
            if (parse_rule(r, &p, err, errsz) < 0)
                goto fail;
        } else {
            snprintf(err, errsz, "'%.40s' is neither DEFAULT nor RULE:pattern/replacement/[LU]", p);
            goto fail;
        }
    }
    if (r->n == 0) {
        snprintf(err, errsz, "no rule (write DEFAULT for the subject as it is)");
        goto fail;
    }
    *out = r;
    return 0;
fail:
    od_tls_rules_free(r);
    return -1;
}

static int rule_apply(const rule_t *x, const char *dn, char *out, size_t outsz)
{
    size_t len = strlen(dn);
    if (x->is_default) {
        if (len >= outsz)
            return -1;
        memcpy(out, dn, len + 1);
        return 0;
    }
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(x->re, NULL);
    if (!md)
        return -1;
    /* Java's matches(): the pattern must cover the whole DN. */
    int rc = pcre2_match(x->re, (PCRE2_SPTR)dn, len, 0, PCRE2_ANCHORED | PCRE2_ENDANCHORED, md,
                         NULL);
    if (rc < 0) {
        pcre2_match_data_free(md);
        return 1;
    }
    PCRE2_SIZE olen = outsz;
    rc = pcre2_substitute(x->re, (PCRE2_SPTR)dn, len, 0, PCRE2_SUBSTITUTE_GLOBAL, md, NULL,
                          (PCRE2_SPTR)x->replacement, PCRE2_ZERO_TERMINATED, (PCRE2_UCHAR *)out,
                          &olen);
    pcre2_match_data_free(md);
    if (rc < 0)
        return -1;
    for (size_t i = 0; i < olen; i++)
        if (x->fold)
            out[i] = (char)(x->fold == 'L' ? tolower((unsigned char)out[i])
                                           : toupper((unsigned char)out[i]));
    return 0;
}

int od_tls_rules_apply(const od_tls_rules_t *r, const char *dn, char *out, size_t outsz)
{
    for (size_t i = 0; i < r->n; i++) {
        int rc = rule_apply(&r->rules[i], dn, out, outsz);
        if (rc <= 0)
            return rc;
    }
    return -1;
}

/* ---- RFC 2253 as Java writes it ---- */

typedef struct dnbuf {
    char *p;
    size_t len, cap;
    int overflow;
} dnbuf_t;

static void put(dnbuf_t *b, const char *s, size_t n)
{
    if (b->len + n >= b->cap) {
        b->overflow = 1;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void putc1(dnbuf_t *b, char c) { put(b, &c, 1); }

/* The attribute types Java's RFC 2253 output names by keyword. */
static const char *java_keyword(int nid)
{
    switch (nid) {
    case NID_commonName: return "CN";
    case NID_countryName: return "C";
    case NID_localityName: return "L";
    case NID_stateOrProvinceName: return "ST";
    case NID_organizationName: return "O";
    case NID_organizationalUnitName: return "OU";
    case NID_streetAddress: return "STREET";
    case NID_domainComponent: return "DC";
    case NID_userId: return "UID";
    default: return NULL;
    }
}

static void put_escaped(dnbuf_t *b, const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = s[i];
        int esc = strchr(",+\"\\<>;", ch) != NULL && ch != 0;
        if ((i == 0 && (ch == '#' || ch == ' ')) || (i == n - 1 && ch == ' '))
            esc = 1;
        if (esc)
            putc1(b, '\\');
        putc1(b, (char)ch);
    }
}

/* "#" and the hex of the value's DER encoding (tag, length, content). */
static void put_hex_der(dnbuf_t *b, const ASN1_STRING *v)
{
    static const char hex[] = "0123456789abcdef";
    int len = ASN1_STRING_length(v);
    const unsigned char *d = ASN1_STRING_get0_data(v);
    unsigned char hdr[6];
    size_t h = 0;
    hdr[h++] = (unsigned char)(ASN1_STRING_type(v) & 0x1f);
    if (len < 128) {
        hdr[h++] = (unsigned char)len;
    } else {
        unsigned char lb[4];
        size_t k = 0;
        for (unsigned x = (unsigned)len; x; x >>= 8)
            lb[k++] = (unsigned char)(x & 0xff);
        hdr[h++] = (unsigned char)(0x80 | k);
        while (k)
            hdr[h++] = lb[--k];
    }
    putc1(b, '#');
    for (size_t i = 0; i < h; i++) {
        putc1(b, hex[hdr[i] >> 4]);
        putc1(b, hex[hdr[i] & 15]);
    }
    for (int i = 0; i < len; i++) {
        putc1(b, hex[d[i] >> 4]);
        putc1(b, hex[d[i] & 15]);
    }
}

/* One attribute: keyword=escaped UTF-8, or OID=#hex. */
static int put_ava(dnbuf_t *b, const X509_NAME_ENTRY *e)
{
    const ASN1_OBJECT *obj = X509_NAME_ENTRY_get_object(e);
    const ASN1_STRING *v = X509_NAME_ENTRY_get_data(e);
    const char *kw = java_keyword(OBJ_obj2nid(obj));
    if (kw) {
        put(b, kw, strlen(kw));
        putc1(b, '=');
        unsigned char *utf8 = NULL;
        int ul = ASN1_STRING_to_UTF8(&utf8, v);
        if (ul < 0)
            return -1;
        put_escaped(b, utf8, (size_t)ul);
        OPENSSL_free(utf8);
        return 0;
    }
    char oid[128];
    if (OBJ_obj2txt(oid, sizeof(oid), obj, 1) <= 0)
        return -1;
    put(b, oid, strlen(oid));
    putc1(b, '=');
    put_hex_der(b, v);
    return 0;
}

int od_tls_subject_dn(const X509_NAME *name, char *out, size_t outsz)
{
    if (outsz == 0)
        return -1;
    dnbuf_t b = {out, 0, outsz, 0};
    out[0] = 0;
    int n = X509_NAME_entry_count(name);
    /* Most specific RDN first: RDNs (runs of entries sharing a set
     * number) in reverse; the values of a multi-valued RDN in their
     * encoded order, joined by '+' (Java sorts them only for its canonical
     * form). */
    int end = n;
    while (end > 0) {
        int set = X509_NAME_ENTRY_set(X509_NAME_get_entry(name, end - 1));
        int start = end - 1;
        while (start > 0 && X509_NAME_ENTRY_set(X509_NAME_get_entry(name, start - 1)) == set)
            start--;
        if (end != n)
            putc1(&b, ',');
        for (int i = start; i < end; i++) {
            if (i != start)
                putc1(&b, '+');
            if (put_ava(&b, X509_NAME_get_entry(name, i)) < 0)
                return -1;
        }
        end = start;
    }
    return b.overflow ? -1 : 0;
}
