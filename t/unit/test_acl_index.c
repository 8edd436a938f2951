/* test_acl_index.c - the ACL authorizer's index against Kafka's semantics:
 * DENY wins, implied operations, wildcards, literal and prefixed patterns,
 * allow.everyone.if.no.acl.found, removal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../modules/acl/acl_index.h"
#include "tap.h"

static uint8_t next_id[16];

static const uint8_t *fresh_id(void)
{
    for (int i = 0; i < 16 && ++next_id[i] == 0; i++)
        ;
    return next_id;
}

static void add(acl_index_t *ix, int type, const char *name, int pattern, const char *principal,
                const char *host, int op, int perm)
{
    od_acl_t a = {sizeof(a), type, name, pattern, principal, host, op, perm};
    if (acl_index_add(ix, fresh_id(), &a) != OD_OK)
        tap_diag("add %s failed", name);
}

static int can(acl_index_t *ix, const char *principal, const char *host, int op, int type,
               const char *name, int allow_if_none)
{
    char why[256];
    return acl_index_authorize(ix, principal, host, op, type, name, strlen(name), allow_if_none,
                               why, sizeof(why)) == OD_ALLOW;
}

/* One row of Kafka's semantics: given the bindings the block set up, may
 * principal@host do op on type/name? */
typedef struct row {
    const char *principal, *host;
    int op, type;
    const char *name;
    int allow_if_none;
    int want;
    const char *why;
} row_t;

#define A "User:alice"
#define B "User:bob"
#define H1 "10.0.0.1"
#define H2 "10.0.0.2"

int main(void)
{
    acl_index_t *ix = acl_index_new();
    tap_ok(ix != NULL, "index made");

    /* Nothing stored: deny, unless allow.everyone.if.no.acl.found. */
    tap_ok(!can(ix, A, H1, OD_ACL_OP_READ, OD_RES_TOPIC, "t", 0), "no ACL: denied");
    tap_ok(can(ix, A, H1, OD_ACL_OP_READ, OD_RES_TOPIC, "t", 1), "no ACL + allow.everyone: allowed");

    add(ix, OD_RES_TOPIC, "orders", OD_PATTERN_LITERAL, A, "*", OD_ACL_OP_READ, OD_PERM_ALLOW);
    add(ix, OD_RES_TOPIC, "orders", OD_PATTERN_LITERAL, A, H2, OD_ACL_OP_READ, OD_PERM_DENY);
    add(ix, OD_RES_TOPIC, "pay-", OD_PATTERN_PREFIXED, B, "*", OD_ACL_OP_WRITE, OD_PERM_ALLOW);
    add(ix, OD_RES_TOPIC, "pay-secret", OD_PATTERN_PREFIXED, B, "*", OD_ACL_OP_ALL, OD_PERM_DENY);
    add(ix, OD_RES_TOPIC, "*", OD_PATTERN_LITERAL, "User:*", "*", OD_ACL_OP_DESCRIBE,
        OD_PERM_ALLOW);
    add(ix, OD_RES_TOPIC, "cfg", OD_PATTERN_LITERAL, A, H1, OD_ACL_OP_ALTER_CONFIGS,
        OD_PERM_ALLOW);
    add(ix, OD_RES_TOPIC, "all", OD_PATTERN_LITERAL, A, "*", OD_ACL_OP_ALL, OD_PERM_ALLOW);
    add(ix, OD_RES_TOPIC, "all", OD_PATTERN_LITERAL, A, "*", OD_ACL_OP_DESCRIBE, OD_PERM_DENY);
    add(ix, OD_RES_GROUP, "g", OD_PATTERN_LITERAL, A, "*", OD_ACL_OP_READ, OD_PERM_ALLOW);
    add(ix, OD_RES_CLUSTER, "kafka-cluster", OD_PATTERN_LITERAL, B, "*", OD_ACL_OP_ALTER,
        OD_PERM_ALLOW);
    add(ix, OD_RES_TRANSACTIONAL_ID, "tx", OD_PATTERN_PREFIXED, A, "*", OD_ACL_OP_WRITE,
        OD_PERM_ALLOW);
    tap_is_int((int64_t)acl_index_count(ix), 11, "eleven bindings");

    static const row_t rows[] = {
        {A, H1, OD_ACL_OP_READ, OD_RES_TOPIC, "orders", 0, 1, "literal ALLOW READ"},
        {A, H2, OD_ACL_OP_READ, OD_RES_TOPIC, "orders", 0, 0, "DENY from one host wins"},
        {A, H1, OD_ACL_OP_WRITE, OD_RES_TOPIC, "orders", 0, 0, "READ does not grant WRITE"},
        {A, H1, OD_ACL_OP_DESCRIBE, OD_RES_TOPIC, "orders", 0, 1, "READ implies DESCRIBE"},
        {A, H2, OD_ACL_OP_DESCRIBE, OD_RES_TOPIC, "orders", 0, 1,
         "DENY READ does not deny DESCRIBE"},
        {B, H1, OD_ACL_OP_READ, OD_RES_TOPIC, "orders", 0, 0, "another principal: denied"},
        {B, H1, OD_ACL_OP_READ, OD_RES_TOPIC, "orders", 1, 0,
         "ACLs exist on the resource: allow.everyone does not apply"},
        {B, H1, OD_ACL_OP_WRITE, OD_RES_TOPIC, "pay-in", 0, 1, "prefixed ALLOW WRITE"},
        {B, H1, OD_ACL_OP_DESCRIBE, OD_RES_TOPIC, "pay-in", 0, 1, "WRITE implies DESCRIBE"},
        {B, H1, OD_ACL_OP_WRITE, OD_RES_TOPIC, "pay-secret-1", 0, 0,
         "longer prefixed DENY ALL wins"},
        {B, H1, OD_ACL_OP_DESCRIBE, OD_RES_TOPIC, "pay-secret", 0, 0,
         "DENY ALL denies DESCRIBE too"},
        {B, H1, OD_ACL_OP_WRITE, OD_RES_TOPIC, "pay", 0, 0, "a name shorter than the prefix"},
        {B, H1, OD_ACL_OP_WRITE, OD_RES_TOPIC, "xpay-in", 0, 0, "a prefix matches at the start"},
        {B, H1, OD_ACL_OP_DESCRIBE, OD_RES_TOPIC, "anything", 0, 1,
         "User:* on literal * allows DESCRIBE"},
        {B, H1, OD_ACL_OP_READ, OD_RES_TOPIC, "anything", 0, 0,
         "... and nothing more"},
        {"User:carol", H2, OD_ACL_OP_DESCRIBE, OD_RES_TOPIC, "orders", 0, 1,
         "wildcard principal and resource"},
        {A, H1, OD_ACL_OP_DESCRIBE_CONFIGS, OD_RES_TOPIC, "cfg", 0, 1,
         "ALTER_CONFIGS implies DESCRIBE_CONFIGS"},
        {A, H2, OD_ACL_OP_DESCRIBE_CONFIGS, OD_RES_TOPIC, "cfg", 0, 0, "host must match"},
        {A, H1, OD_ACL_OP_ALTER, OD_RES_TOPIC, "cfg", 0, 0, "ALTER_CONFIGS is not ALTER"},
        {A, H1, OD_ACL_OP_DELETE, OD_RES_TOPIC, "all", 0, 1, "ALL grants DELETE"},
        {A, H1, OD_ACL_OP_DESCRIBE, OD_RES_TOPIC, "all", 0, 0, "DENY DESCRIBE beats ALLOW ALL"},
        {A, H1, OD_ACL_OP_READ, OD_RES_GROUP, "g", 0, 1, "group READ"},
        {A, H1, OD_ACL_OP_DESCRIBE, OD_RES_GROUP, "g", 0, 1, "group READ implies DESCRIBE"},
        {A, H1, OD_ACL_OP_READ, OD_RES_GROUP, "orders", 0, 0,
         "a topic binding says nothing about a group"},
        {A, H1, OD_ACL_OP_READ, OD_RES_GROUP, "orders", 1, 1,
         "group without ACLs + allow.everyone"},
        {B, H1, OD_ACL_OP_ALTER, OD_RES_CLUSTER, "kafka-cluster", 0, 1, "cluster ALTER"},
        {B, H1, OD_ACL_OP_DESCRIBE, OD_RES_CLUSTER, "kafka-cluster", 0, 1,
         "cluster ALTER implies DESCRIBE"},
        {B, H1, OD_ACL_OP_CLUSTER_ACTION, OD_RES_CLUSTER, "kafka-cluster", 0, 0,
         "ALTER is not CLUSTER_ACTION"},
        {A, H1, OD_ACL_OP_WRITE, OD_RES_TRANSACTIONAL_ID, "tx-1", 0, 1, "transactional id prefix"},
        {A, H1, OD_ACL_OP_WRITE, OD_RES_TRANSACTIONAL_ID, "t", 0, 0, "shorter than the prefix"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const row_t *r = &rows[i];
        tap_ok(can(ix, r->principal, r->host, r->op, r->type, r->name, r->allow_if_none) ==
                   r->want,
               "%s", r->why);
    }

    /* Removal by id: the DENY from H2 (the second binding) goes away. */
    uint8_t id2[16] = {2};
    tap_is_int(acl_index_remove(ix, id2), OD_OK, "remove by id");
    tap_is_int(acl_index_remove(ix, id2), OD_ERR_NOT_FOUND, "removed once only");
    tap_ok(can(ix, A, H2, OD_ACL_OP_READ, OD_RES_TOPIC, "orders", 0), "without the DENY: allowed");
    uint8_t id4[16] = {4};
    tap_is_int(acl_index_remove(ix, id4), OD_OK, "remove the longest prefix");
    tap_ok(can(ix, B, H1, OD_ACL_OP_WRITE, OD_RES_TOPIC, "pay-secret-1", 0),
           "the shorter prefix applies again");

    /* Bad bindings are refused, not stored. */
    od_acl_t bad = {sizeof(bad), OD_RES_TOPIC, "x", OD_PATTERN_MATCH, A, "*", OD_ACL_OP_READ,
                    OD_PERM_ALLOW};
    tap_is_int(acl_index_add(ix, fresh_id(), &bad), OD_ERR_INVALID, "MATCH is no stored pattern");
    od_acl_t again = {sizeof(again), OD_RES_TOPIC, "x", OD_PATTERN_LITERAL, A, "*",
                      OD_ACL_OP_READ, OD_PERM_ALLOW};
    tap_is_int(acl_index_add(ix, id4 /* freed: usable again */, &again), OD_OK, "id reused");
    tap_is_int(acl_index_add(ix, id4, &again), OD_ERR_INVALID, "an id twice is refused");

    /* Many bindings: the tables grow and every one stays findable. */
    char name[64];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "topic-%d", i);
        add(ix, OD_RES_TOPIC, name, i % 2 ? OD_PATTERN_PREFIXED : OD_PATTERN_LITERAL, A, "*",
            OD_ACL_OP_WRITE, OD_PERM_ALLOW);
    }
    int all_found = 1;
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "topic-%d%s", i, i % 2 ? "-suffix" : "");
        all_found &= can(ix, A, H1, OD_ACL_OP_WRITE, OD_RES_TOPIC, name, 0);
    }
    tap_ok(all_found, "5000 literal and prefixed bindings all apply");
    tap_ok(!can(ix, A, H1, OD_ACL_OP_WRITE, OD_RES_TOPIC, "topic-x", 0), "and no other name");
    acl_index_free(ix);
    return tap_done();
}
