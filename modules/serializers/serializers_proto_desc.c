/* serializers_proto_desc.c - the parts of a protobuf descriptor that only
 * from_json needs (validate and to_json go by field numbers alone): enum
 * types and their value names, each field's JSON name, oneof membership,
 * [packed] options, map entry types, and per message its fields in
 * field-number order (the order from_json writes them in) and a sorted
 * name table (both the declared and the JSON name find a field, as
 * protobuf's own JSON parsers accept). serializers_proto.c calls these
 * while it reads the descriptor; the tables are built once, at compile. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serializers.h"
#include "serializers_proto_int.h"

char *proto_desc_dup(wr_t sub)
{
    char *s = malloc(sub.len + 1);
    if (s) {
        memcpy(s, sub.p, sub.len);
        s[sub.len] = 0;
    }
    return s;
}

int proto_desc_type_name(wr_t d, const char *prefix, char name[PROTO_MAX_NAME])
{
    uint32_t num;
    int wt, rc;
    uint64_t val;
    wr_t sub;
    name[0] = 0;
    while ((rc = rd_field(&d, &num, &wt, &sub, &val)) == 1)
        if (num == 1 && wt == 2 && sub.len < 256)
            snprintf(name, PROTO_MAX_NAME, "%s%s%.*s", prefix, prefix[0] ? "." : "",
                     (int)sub.len, (const char *)sub.p);
    return rc < 0 || !name[0] ? -1 : 0;
}

void *proto_desc_grow(void *arr, size_t n, size_t *cap, size_t first, size_t elem)
{
    if (n < *cap)
        return arr;
    size_t c = *cap ? *cap * 2 : first;
    void *g = realloc(arr, c * elem);
    if (g)
        *cap = c;
    return g;
}

void proto_desc_bool_option(wr_t options, uint32_t number, int *flag)
{
    uint32_t on;
    int owt;
    wr_t osub;
    uint64_t ov = 0;
    while (rd_field(&options, &on, &owt, &osub, &ov) == 1)
        if (on == number && owt == 0)
            *flag = ov != 0;
}

int proto_desc_field(pfield_t *fd, uint32_t num, int wt, wr_t sub, uint64_t val)
{
    if (num == 8 && wt == 2) { /* FieldOptions: packed = 2 */
        proto_desc_bool_option(sub, 2, &fd->packed);
    } else if (num == 9 && wt == 0 && val < PROTO_MAX_FIELDS) {
        fd->oneof = (int)val;
    } else if (num == 10 && wt == 2 && !fd->json_name) {
        if (!(fd->json_name = proto_desc_dup(sub)))
            return -1;
    }
    return 0;
}

static int add_value(penum_t *e, wr_t v, char *err, size_t errsz)
{
    if (e->nvalues == PROTO_MAX_ENUM_VALUES)
        return serializers_errf(err, errsz, "enum %s has more than %d values", e->full,
                                PROTO_MAX_ENUM_VALUES);
    penum_value_t *g = proto_desc_grow(e->values, e->nvalues, &e->cap, 8, sizeof(*g));
    if (!g)
        return serializers_errf(err, errsz, "out of memory");
    e->values = g;
    penum_value_t *ev = &e->values[e->nvalues];
    memset(ev, 0, sizeof(*ev));
    ev->decl = (uint32_t)e->nvalues++;
    uint32_t num;
    int wt, rc;
    wr_t sub;
    uint64_t val = 0;
    while ((rc = rd_field(&v, &num, &wt, &sub, &val)) == 1) {
        if (num == 1 && wt == 2 && !ev->name && !(ev->name = proto_desc_dup(sub)))
            return serializers_errf(err, errsz, "out of memory");
        if (num == 2 && wt == 0)
            ev->number = (int32_t)(uint32_t)val;
    }
    if (rc < 0 || !ev->name)
        return serializers_errf(err, errsz, "bad value in enum %s", e->full);
    return OD_OK;
}

int proto_desc_enum(pschema_t *s, const char *prefix, wr_t d, char *err, size_t errsz)
{
    if (s->nenums == PROTO_MAX_ENUMS)
        return serializers_errf(err, errsz, "more than %d enum types", PROTO_MAX_ENUMS);
    char name[PROTO_MAX_NAME];
    if (proto_desc_type_name(d, prefix, name) < 0)
        return serializers_errf(err, errsz, "an enum type without a name");
    penum_t *g = proto_desc_grow(s->enums, s->nenums, &s->ecap, 8, sizeof(*g));
    if (!g)
        return serializers_errf(err, errsz, "out of memory");
    s->enums = g;
    uint32_t num;
    int wt, rc;
    uint64_t val;
    wr_t sub;
    penum_t *e = &s->enums[s->nenums++];
    memset(e, 0, sizeof(*e));
    if (!(e->full = strdup(name)))
        return serializers_errf(err, errsz, "out of memory");
    while ((rc = rd_field(&d, &num, &wt, &sub, &val)) == 1)
        if (num == 2 && wt == 2 && add_value(e, sub, err, errsz) != OD_OK)
            return OD_ERR_INVALID;
    return rc < 0 ? serializers_errf(err, errsz, "malformed enum type %s", name) : OD_OK;
}

int proto_desc_message(pschema_t *s, size_t mi, const char *full, uint32_t num, int wt, wr_t sub,
                       char *err, size_t errsz)
{
    if (num == 4 && wt == 2)
        return proto_desc_enum(s, full, sub, err, errsz);
    if (num == 7 && wt == 2) /* MessageOptions: map_entry = 7 */
        proto_desc_bool_option(sub, 7, &s->msgs[mi].map_entry);
    return OD_OK;
}

int proto_desc_find_msg(const pschema_t *s, const char *full)
{
    if (full[0] == '.')
        full++;
    for (size_t i = 0; i < s->nmsgs; i++)
        if (strcmp(s->msgs[i].full, full) == 0)
            return (int)i;
    return -1;
}

static int by_value_name(const void *a, const void *b)
{
    return strcmp(((const penum_value_t *)a)->name, ((const penum_value_t *)b)->name);
}

static int by_value_number(const void *a, const void *b)
{
    const penum_value_t *x = a, *y = b;
    if (x->number != y->number)
        return x->number < y->number ? -1 : 1;
    return x->decl < y->decl ? -1 : x->decl > y->decl;
}

static int by_full_name(const void *a, const void *b)
{
    return strcmp(((const penum_t *)a)->full, ((const penum_t *)b)->full);
}

/* s->enums and their values are sorted by name (prepare): a descriptor
 * of many enum fields and types, and a JSON text of many enum names, cost
 * a binary search each, not a scan. */
static int find_enum(const pschema_t *s, const char *full)
{
    penum_t key = {.full = (char *)(full[0] == '.' ? full + 1 : full)};
    const penum_t *hit = s->nenums ? bsearch(&key, s->enums, s->nenums, sizeof(penum_t),
                                             by_full_name)
                                   : NULL;
    return hit ? (int)(hit - s->enums) : -1;
}

/* protoc's default JSON name: underscores dropped, the letter after one
 * capitalized ("foo_bar_baz" -> "fooBarBaz"). */
static char *lower_camel(const char *name)
{
    char *j = malloc(strlen(name) + 1);
    if (!j)
        return NULL;
    size_t k = 0;
    int up = 0;
    for (const char *c = name; *c; c++) {
        if (*c == '_') {
            up = 1;
            continue;
        }
        j[k++] = up && *c >= 'a' && *c <= 'z' ? (char)(*c - 'a' + 'A') : *c;
        up = 0;
    }
    j[k] = 0;
    return j;
}

typedef struct numbered {
    uint32_t number;
    size_t field;
} numbered_t;

static int by_number(const void *a, const void *b)
{
    uint32_t x = ((const numbered_t *)a)->number, y = ((const numbered_t *)b)->number;
    return x < y ? -1 : x > y;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const pname_t *)a)->name, ((const pname_t *)b)->name);
}

static int prepare_msg(pschema_t *s, pmsg_t *m, char *err, size_t errsz)
{
    size_t n = m->nfields ? m->nfields : 1;
    numbered_t *order = malloc(n * sizeof(*order));
    m->by_number = malloc(n * sizeof(size_t));
    m->names = malloc(2 * n * sizeof(pname_t));
    if (!order || !m->by_number || !m->names) {
        free(order);
        return serializers_errf(err, errsz, "out of memory");
    }
    for (size_t k = 0; k < m->nfields; k++) {
        pfield_t *f = &m->fields[k];
        if (!f->name || (!f->json_name && !(f->json_name = lower_camel(f->name)))) {
            free(order);
            return f->name ? serializers_errf(err, errsz, "out of memory")
                           : serializers_errf(err, errsz, "%s: field %u has no name", m->full,
                                              f->number);
        }
        if (f->type == T_ENUM && f->type_name)
            f->enm = find_enum(s, f->type_name); /* -1 (not in the set): numbers only */
        order[k] = (numbered_t){f->number, k};
        if (f->oneof >= 0 && (size_t)f->oneof >= m->noneofs)
            m->noneofs = (size_t)f->oneof + 1;
        m->names[m->nnames++] = (pname_t){f->name, k};
        if (strcmp(f->json_name, f->name) != 0)
            m->names[m->nnames++] = (pname_t){f->json_name, k};
    }
    qsort(order, m->nfields, sizeof(*order), by_number);
    qsort(m->names, m->nnames, sizeof(pname_t), by_name);
    int twice = 0;
    for (size_t k = 0; k < m->nfields; k++) {
        m->by_number[k] = order[k].field;
        if (k > 0 && order[k].number == order[k - 1].number)
            twice = (int)k;
    }
    uint32_t dup = twice ? order[twice].number : 0;
    free(order);
    if (twice)
        return serializers_errf(err, errsz, "%s: field number %u used twice", m->full, dup);
    return OD_OK;
}

int proto_desc_prepare(pschema_t *s, char *err, size_t errsz)
{
    if (s->nenums)
        qsort(s->enums, s->nenums, sizeof(penum_t), by_full_name);
    for (size_t i = 0; i < s->nenums; i++) {
        penum_t *e = &s->enums[i];
        if (!e->nvalues)
            continue;
        if (!(e->by_number = malloc(e->nvalues * sizeof(penum_value_t))))
            return serializers_errf(err, errsz, "out of memory");
        memcpy(e->by_number, e->values, e->nvalues * sizeof(penum_value_t));
        qsort(e->by_number, e->nvalues, sizeof(penum_value_t), by_value_number);
        qsort(e->values, e->nvalues, sizeof(penum_value_t), by_value_name);
    }
    for (size_t i = 0; i < s->nmsgs; i++)
        if (prepare_msg(s, &s->msgs[i], err, errsz) != OD_OK)
            return OD_ERR_INVALID;
    return OD_OK;
}

const pfield_t *proto_desc_field_named(const pmsg_t *m, const char *name)
{
    pname_t key = {name, 0};
    const pname_t *hit = bsearch(&key, m->names, m->nnames, sizeof(pname_t), by_name);
    return hit ? &m->fields[hit->field] : NULL;
}

int proto_desc_enum_number(const penum_t *e, const char *name, int32_t *number)
{
    penum_value_t key = {.name = (char *)name};
    const penum_value_t *hit = e->nvalues ? bsearch(&key, e->values, e->nvalues,
                                                    sizeof(penum_value_t), by_value_name)
                                          : NULL;
    if (!hit)
        return -1;
    *number = hit->number;
    return 0;
}

const char *proto_desc_enum_name(const penum_t *e, int32_t number)
{
    size_t lo = 0, hi = e->by_number ? e->nvalues : 0;
    while (lo < hi) { /* the first value with this number: lowest decl among aliases */
        size_t mid = lo + (hi - lo) / 2;
        if (e->by_number[mid].number < number)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < e->nvalues && e->by_number && e->by_number[lo].number == number
               ? e->by_number[lo].name
               : NULL;
}

void proto_desc_free(pschema_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nmsgs; i++) {
        for (size_t k = 0; k < s->msgs[i].nfields; k++)
            free(s->msgs[i].fields[k].json_name);
        free(s->msgs[i].by_number);
        free(s->msgs[i].names);
    }
    for (size_t i = 0; i < s->nenums; i++) {
        for (size_t k = 0; k < s->enums[i].nvalues; k++)
            free(s->enums[i].values[k].name);
        free(s->enums[i].values);
        free(s->enums[i].by_number);
        free(s->enums[i].full);
    }
    free(s->enums);
}
