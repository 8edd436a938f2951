/* odr_format.c - serializers and consume output formats (see odr_format.h). */
#include "odr_format.h"
#include "odr_json.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

int odr_buf_put(odr_buf_t *b, const void *p, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len + 1)
            cap *= 2;
        uint8_t *n = realloc(b->p, cap);
        if (!n)
            return -1;
        b->p = n;
        b->cap = cap;
    }
    if (len)
        memcpy(b->p + b->len, p, len);
    b->len += len;
    b->p[b->len] = '\0'; /* text users may print it as a C string */
    return 0;
}

void odr_buf_free(odr_buf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static int string_copy(const char *text, size_t len, odr_buf_t *out, char *err, size_t errsz)
{
    out->len = 0;
    if (odr_buf_put(out, text, len) != 0) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    return 0;
}

static int string_encode(const char *text, size_t len, odr_buf_t *out, char *err, size_t errsz)
{
    return string_copy(text, len, out, err, errsz);
}

static int string_decode(const uint8_t *data, size_t len, odr_buf_t *out, char *err, size_t errsz)
{
    return string_copy((const char *)data, len, out, err, errsz);
}

static const odr_serde_t odr_serde_table[] = {
    {"string", "the bytes as they are", string_encode, string_decode},
};

const odr_serde_t *odr_serde_find(const char *name)
{
    for (size_t i = 0; i < sizeof odr_serde_table / sizeof odr_serde_table[0]; i++)
        if (strcmp(odr_serde_table[i].name, name) == 0)
            return &odr_serde_table[i];
    return NULL;
}

const char *odr_serde_names(void) { return "string"; }

int odr_format_check(const char *fmt, char *err, size_t errsz)
{
    for (const char *p = fmt; *p; p++) {
        if (*p == '%') {
            if (!p[1] || !strchr("tpoTksKSh%", p[1])) {
                snprintf(err, errsz, "unknown format token %%%c (known: %%t %%p %%o %%T %%k %%s %%K %%S %%h %%%%)",
                         p[1] ? p[1] : ' ');
                return -1;
            }
            p++;
        } else if (*p == '\\') {
            if (!p[1] || !strchr("nt\\", p[1])) {
                snprintf(err, errsz, "unknown escape \\%c (known: \\n \\t \\\\)", p[1] ? p[1] : ' ');
                return -1;
            }
            p++;
        }
    }
    return 0;
}

static void print_headers(FILE *f, const rd_kafka_message_t *m)
{
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    const char *name;
    const void *val;
    size_t size;
    for (size_t i = 0; rd_kafka_header_get_all(h, i, &name, &val, &size) == 0; i++) {
        fprintf(f, "%s%s=", i ? "," : "", name);
        if (val)
            fwrite(val, 1, size, f);
    }
}

void odr_format_print(FILE *f, const char *fmt, const rd_kafka_message_t *m, const odr_buf_t *key,
                      const odr_buf_t *value)
{
    for (const char *p = fmt; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            fputc(*p == 'n' ? '\n' : *p == 't' ? '\t' : *p, f);
            continue;
        }
        if (*p != '%' || !p[1]) {
            fputc(*p, f);
            continue;
        }
        switch (*++p) {
        case 't': fputs(rd_kafka_topic_name(m->rkt), f); break;
        case 'p': fprintf(f, "%" PRId32, m->partition); break;
        case 'o': fprintf(f, "%" PRId64, m->offset); break;
        case 'T': fprintf(f, "%" PRId64, rd_kafka_message_timestamp(m, NULL)); break;
        case 'k':
            if (key)
                fwrite(key->p, 1, key->len, f);
            break;
        case 's':
            if (value)
                fwrite(value->p, 1, value->len, f);
            break;
        case 'K': fprintf(f, "%lld", key ? (long long)key->len : -1LL); break;
        case 'S': fprintf(f, "%lld", value ? (long long)value->len : -1LL); break;
        case 'h': print_headers(f, m); break;
        default: fputc(*p, f);
        }
    }
}

void odr_format_json(FILE *f, const rd_kafka_message_t *m, const odr_buf_t *key,
                     const odr_buf_t *value, unsigned decoded)
{
    odr_json_t j;
    odr_json_init(&j, f);
    odr_json_obj(&j);
    ODR_JSON_KS(&j, "topic", rd_kafka_topic_name(m->rkt));
    ODR_JSON_KI(&j, "partition", m->partition);
    ODR_JSON_KI(&j, "offset", m->offset);
    ODR_JSON_KI(&j, "timestamp", rd_kafka_message_timestamp(m, NULL));
    odr_json_key(&j, "key");
    if (key && (decoded & ODR_DECODED_KEY))
        odr_json_raw(&j, (const char *)key->p);
    else
        odr_json_bytes(&j, key ? key->p : NULL, key ? key->len : 0);
    odr_json_key(&j, "value");
    if (value && (decoded & ODR_DECODED_VALUE))
        odr_json_raw(&j, (const char *)value->p);
    else
        odr_json_bytes(&j, value ? value->p : NULL, value ? value->len : 0);
    /* An array: a record may carry one header name more than once. */
    odr_json_key(&j, "headers");
    odr_json_arr(&j);
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char *name;
        const void *val;
        size_t size;
        for (size_t i = 0; rd_kafka_header_get_all(h, i, &name, &val, &size) == 0; i++) {
            odr_json_obj(&j);
            ODR_JSON_KS(&j, "key", name);
            odr_json_key(&j, "value");
            odr_json_bytes(&j, val, size);
            odr_json_end(&j, '}');
        }
    }
    odr_json_end(&j, ']');
    odr_json_end(&j, '}');
    odr_json_line(&j);
}
