/* test_acl_filter.c - ACL bindings and filters (core/sec/od_acl_filter.c)
 * with Kafka's rules: which bindings CreateAcls accepts, which filters are
 * valid, and which bindings a filter matches (ANY, MATCH, LITERAL, PREFIXED). */
#include <stdio.h>
#include <string.h>

#include "od_acl.h"
#include "tap.h"

static od_acl_t binding(int type, const char *name, int pattern, const char *principal,
                        const char *host, int op, int perm)
{
    od_acl_t a = {sizeof(a), type, name, pattern, principal, host, op, perm};
    return a;
}

int main(void)
{
    char why[256];
    od_acl_t ok = binding(OD_RES_TOPIC, "t", OD_PATTERN_LITERAL, "User:a", "*", OD_ACL_OP_READ,
                          OD_PERM_ALLOW);
    tap_is_int(od_acl_check_binding(&ok, why, sizeof(why)), 0, "a plain binding is valid");
    struct {
        od_acl_t a;
        const char *what;
    } bad[] = {
        {binding(OD_RES_ANY, "t", OD_PATTERN_LITERAL, "User:a", "*", 3, 3), "resource ANY"},
        {binding(0, "t", OD_PATTERN_LITERAL, "User:a", "*", 3, 3), "resource UNKNOWN"},
        {binding(99, "t", OD_PATTERN_LITERAL, "User:a", "*", 3, 3), "resource out of range"},
        {binding(OD_RES_TOPIC, "t", OD_PATTERN_MATCH, "User:a", "*", 3, 3), "pattern MATCH"},
        {binding(OD_RES_TOPIC, "t", OD_PATTERN_ANY, "User:a", "*", 3, 3), "pattern ANY"},
        {binding(OD_RES_TOPIC, "t", 3, "User:a", "*", OD_ACL_OP_ANY, 3), "operation ANY"},
        {binding(OD_RES_TOPIC, "t", 3, "User:a", "*", 13, 3), "operation out of range"},
        {binding(OD_RES_TOPIC, "t", 3, "User:a", "*", 3, OD_PERM_ANY), "permission ANY"},
        {binding(OD_RES_TOPIC, "", 3, "User:a", "*", 3, 3), "empty resource name"},
        {binding(OD_RES_TOPIC, "t", 3, "alice", "*", 3, 3), "principal without a type"},
        {binding(OD_RES_TOPIC, "t", 3, ":alice", "*", 3, 3), "principal with an empty type"},
        {binding(OD_RES_TOPIC, "t", 3, "User:a", "", 3, 3), "empty host"},
        {binding(OD_RES_CLUSTER, "c", 3, "User:a", "*", 3, 3), "cluster not kafka-cluster"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        tap_is_int(od_acl_check_binding(&bad[i].a, why, sizeof(why)), -1, bad[i].what);

    od_acl_t f = binding(OD_RES_ANY, NULL, OD_PATTERN_ANY, NULL, NULL, OD_ACL_OP_ANY, OD_PERM_ANY);
    tap_is_int(od_acl_check_filter(&f, why, sizeof(why)), 0, "the match-all filter is valid");
    f.pattern_type = 0;
    tap_is_int(od_acl_check_filter(&f, why, sizeof(why)), -1, "UNKNOWN pattern filter");
    f.pattern_type = OD_PATTERN_ANY;
    f.operation = 0;
    tap_is_int(od_acl_check_filter(&f, why, sizeof(why)), -1, "UNKNOWN operation filter");
    f.operation = OD_ACL_OP_ANY;
    f.resource_type = 8;
    tap_is_int(od_acl_check_filter(&f, why, sizeof(why)), -1, "resource type out of range");
    f.resource_type = OD_RES_ANY;

    od_acl_t lit = binding(OD_RES_TOPIC, "pay-in", OD_PATTERN_LITERAL, "User:a", "*",
                           OD_ACL_OP_READ, OD_PERM_ALLOW);
    od_acl_t star = binding(OD_RES_TOPIC, "*", OD_PATTERN_LITERAL, "User:a", "*", OD_ACL_OP_READ,
                            OD_PERM_ALLOW);
    od_acl_t pre = binding(OD_RES_TOPIC, "pay-", OD_PATTERN_PREFIXED, "User:b", "10.0.0.1",
                           OD_ACL_OP_WRITE, OD_PERM_DENY);
    tap_ok(od_acl_filter_matches(&f, &lit) && od_acl_filter_matches(&f, &pre),
           "match-all matches every binding");
    od_acl_t m = binding(OD_RES_TOPIC, "pay-in", OD_PATTERN_MATCH, NULL, NULL, OD_ACL_OP_ANY,
                         OD_PERM_ANY);
    tap_ok(od_acl_filter_matches(&m, &lit), "MATCH: the literal binding");
    tap_ok(od_acl_filter_matches(&m, &star), "MATCH: the wildcard binding");
    tap_ok(od_acl_filter_matches(&m, &pre), "MATCH: the prefixed binding");
    m.resource_name = "pay";
    tap_ok(!od_acl_filter_matches(&m, &pre), "MATCH: a name shorter than the prefix");
    od_acl_t any = binding(OD_RES_TOPIC, "pay-in", OD_PATTERN_ANY, NULL, NULL, OD_ACL_OP_ANY,
                           OD_PERM_ANY);
    tap_ok(od_acl_filter_matches(&any, &lit) && !od_acl_filter_matches(&any, &star) &&
               !od_acl_filter_matches(&any, &pre),
           "ANY pattern: exact names only");
    od_acl_t p = binding(OD_RES_TOPIC, "pay-", OD_PATTERN_PREFIXED, NULL, NULL, OD_ACL_OP_ANY,
                         OD_PERM_ANY);
    tap_ok(od_acl_filter_matches(&p, &pre) && !od_acl_filter_matches(&p, &lit),
           "PREFIXED filter: that prefixed binding only");
    od_acl_t who = binding(OD_RES_ANY, NULL, OD_PATTERN_ANY, "User:b", "10.0.0.1",
                           OD_ACL_OP_WRITE, OD_PERM_DENY);
    tap_ok(od_acl_filter_matches(&who, &pre) && !od_acl_filter_matches(&who, &lit),
           "entry filter: principal, host, operation, permission");
    who.host = "10.0.0.2";
    tap_ok(!od_acl_filter_matches(&who, &pre), "entry filter: another host");
    od_acl_t grp = binding(OD_RES_GROUP, NULL, OD_PATTERN_ANY, NULL, NULL, OD_ACL_OP_ANY,
                           OD_PERM_ANY);
    tap_ok(!od_acl_filter_matches(&grp, &lit), "resource type filter");
    return tap_done();
}
