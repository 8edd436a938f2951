#!/usr/bin/python3
# CreateAcls / DescribeAcls / DeleteAcls: kafka-python's admin ACL calls and
# raw requests against the ACL authorizer (selected by Kafka's class name):
# create, describe by filters (ANY, MATCH, LITERAL, PREFIXED, principal,
# host), delete, persistence across a restart (replay), SECURITY_DISABLED
# without an authorizer, CLUSTER_AUTHORIZATION_FAILED without ALTER on the
# cluster, INVALID_REQUEST for bad bindings and filters, the audit log.
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402
import acl  # noqa: E402

try:
    from kafka.admin import (ACL, ACLFilter, ACLOperation, ACLPermissionType,
                             ACLResourcePatternType, ResourcePattern, ResourcePatternFilter,
                             ResourceType)
    from kafka.errors import SecurityDisabledError, ClusterAuthorizationFailedError
except ImportError as e:
    tap.skip_all("kafka-python with admin ACLs not available: %s" % e)

odtest.watchdog(240)

# ---- without an authorizer: SECURITY_DISABLED ---------------------------------
plain = odtest.Broker(name="plain").start()
with odtest.Conn(plain.port) as c:
    res = acl.create_acls(c, [acl.binding(acl.R_TOPIC, "t", acl.P_LITERAL, "User:a", "*",
                                          acl.READ, acl.ALLOW)])
    tap.is_(res[0][0], acl.SECURITY_DISABLED, "CreateAcls without an authorizer: SECURITY_DISABLED")
    ec, msg, _ = acl.describe_acls(c, acl.MATCH_ALL)
    tap.is_(ec, acl.SECURITY_DISABLED, "DescribeAcls without an authorizer: SECURITY_DISABLED")
    tap.ok(msg and "Authorizer" in msg, "... with Kafka's message (%r)" % msg)
    res = acl.delete_acls(c, [acl.MATCH_ALL])
    tap.is_(res[0][0], acl.SECURITY_DISABLED, "DeleteAcls without an authorizer: SECURITY_DISABLED")
ad = acl.kp_admin(plain.bootstrap)
try:
    ad.describe_acls(ACLFilter(None, None, ACLOperation.ANY, ACLPermissionType.ANY,
                               ResourcePatternFilter(ResourceType.ANY, None,
                                                     ACLResourcePatternType.ANY)))
    tap.ok(False, "kafka-python describe_acls without an authorizer raises")
except SecurityDisabledError:
    tap.ok(True, "kafka-python describe_acls without an authorizer raises SecurityDisabledError")
ad.close()
plain.stop()

# ---- bad settings stop the start with a reason ---------------------------------
for name, sets, want in [
        ("unknown class", {"authorizer.class.name": "com.example.Nope"},
         "authorizer.class.name=com.example.Nope: no loaded module is that authorizer "
         "(known: org.apache.kafka.metadata.authorizer.StandardAuthorizer"),
        ("bad super user", {"authorizer.class.name": acl.STANDARD,
                            "super.users": "User:ok; alice"},
         "super.users: 'alice' is not a principal (Type:name)")]:
    bad = odtest.Broker(sets=sets, name="bad-" + name.replace(" ", "-"))
    try:
        bad.start(timeout=10)
        tap.ok(False, "%s stops the start" % name)
    except odtest.BrokerError:
        tap.ok(bad.last_rc not in (None, 0) and want in bad.log_text(),
               "%s stops the start: %s" % (name, want[:60]))

# ---- not a super user, no ACLs: ALTER on the cluster is missing ---------------
locked = acl.broker(name="locked").start()
with odtest.Conn(locked.port) as c:
    res = acl.create_acls(c, [acl.binding(acl.R_TOPIC, "t", acl.P_LITERAL, "User:a", "*",
                                          acl.READ, acl.ALLOW)])
    tap.is_(res[0][0], acl.CLUSTER_AUTHORIZATION_FAILED,
            "CreateAcls without ALTER on the cluster: CLUSTER_AUTHORIZATION_FAILED")
    ec, _, _ = acl.describe_acls(c, acl.MATCH_ALL)
    tap.is_(ec, acl.CLUSTER_AUTHORIZATION_FAILED,
            "DescribeAcls without DESCRIBE on the cluster: CLUSTER_AUTHORIZATION_FAILED")
locked.stop()

# ---- super user: the whole cycle ------------------------------------------------
tmp = odtest.scratch("acl")
audit_path = os.path.join(tmp, "audit.jsonl")
b = acl.broker(sets={"super.users": "User:ANONYMOUS;User:admin"}, audit=audit_path).start()
ad = acl.kp_admin(b.bootstrap)


def kp_acl(principal, host, op, perm, rtype, name, pattern=ACLResourcePatternType.LITERAL):
    return ACL(principal, host, op, perm, ResourcePattern(rtype, name, pattern))


created = ad.create_acls([
    kp_acl("User:bob", "*", ACLOperation.READ, ACLPermissionType.ALLOW, ResourceType.TOPIC, "orders"),
    kp_acl("User:bob", "10.0.0.1", ACLOperation.WRITE, ACLPermissionType.DENY, ResourceType.TOPIC,
           "orders"),
    kp_acl("User:carol", "*", ACLOperation.ALL, ACLPermissionType.ALLOW, ResourceType.TOPIC, "pay-",
           ACLResourcePatternType.PREFIXED),
    kp_acl("User:*", "*", ACLOperation.DESCRIBE, ACLPermissionType.ALLOW, ResourceType.TOPIC, "*"),
    kp_acl("User:bob", "*", ACLOperation.READ, ACLPermissionType.ALLOW, ResourceType.GROUP, "g1"),
    kp_acl("User:ops", "*", ACLOperation.ALTER, ACLPermissionType.ALLOW, ResourceType.CLUSTER,
           "kafka-cluster"),
    kp_acl("User:bob", "*", ACLOperation.WRITE, ACLPermissionType.ALLOW,
           ResourceType.TRANSACTIONAL_ID, "tx-", ACLResourcePatternType.PREFIXED),
])
tap.is_(len(created["succeeded"]), 7, "kafka-python create_acls: seven bindings created")
tap.is_(len(created["failed"]), 0, "... none failed")


def describe(principal=None, host=None, op=ACLOperation.ANY, perm=ACLPermissionType.ANY,
             rtype=ResourceType.ANY, name=None, pattern=ACLResourcePatternType.ANY):
    got, err = ad.describe_acls(ACLFilter(principal, host, op, perm,
                                          ResourcePatternFilter(rtype, name, pattern)))
    return sorted((a.principal, a.host, a.operation.name, a.permission_type.name,
                   a.resource_pattern.resource_type.name, a.resource_pattern.resource_name,
                   a.resource_pattern.pattern_type.name) for a in got)


tap.is_(len(describe()), 7, "describe all: seven")
tap.is_(describe(principal="User:bob", rtype=ResourceType.TOPIC),
        [("User:bob", "*", "READ", "ALLOW", "TOPIC", "orders", "LITERAL"),
         ("User:bob", "10.0.0.1", "WRITE", "DENY", "TOPIC", "orders", "LITERAL")],
        "describe by principal and resource type")
tap.is_([x[5] for x in describe(rtype=ResourceType.TOPIC, name="pay-in",
                                pattern=ACLResourcePatternType.MATCH)],
        ["*", "pay-"], "MATCH pay-in: the wildcard and the prefix")
tap.is_([x[5] for x in describe(rtype=ResourceType.TOPIC, name="pay-",
                                pattern=ACLResourcePatternType.PREFIXED)],
        ["pay-"], "PREFIXED pay-: that binding")
tap.is_(len(describe(rtype=ResourceType.TOPIC, name="pay-",
                     pattern=ACLResourcePatternType.LITERAL)), 0,
        "LITERAL pay-: none (the binding is prefixed)")
tap.is_(len(describe(host="10.0.0.1")), 1, "describe by host")
tap.is_(len(describe(op=ACLOperation.READ, perm=ACLPermissionType.ALLOW)), 2,
        "describe by operation and permission")

# Restart: the bindings are replayed from the metadata log into the image and
# the authorizer.
ad.close()
b.stop()
b.start()
ad = acl.kp_admin(b.bootstrap)
tap.is_(len(describe()), 7, "after a restart: the seven bindings are back")

# Delete with a filter: the ALLOW READ bindings go.
res = ad.delete_acls([ACLFilter(None, None, ACLOperation.READ, ACLPermissionType.ALLOW,
                                ResourcePatternFilter(ResourceType.ANY, None,
                                                      ACLResourcePatternType.ANY))])
matched = res[0][1]
tap.is_(sorted(m[0].resource_pattern.resource_name for m in matched), ["g1", "orders"],
        "delete_acls READ ALLOW: the two bindings matched")
tap.is_(len(describe()), 5, "five left")
ad.close()

with odtest.Conn(b.port) as c:
    # Two filters matching the same binding: deleted once, reported under both.
    res = acl.delete_acls(c, [(acl.R_CLUSTER, None, acl.P_ANY, None, None, acl.ANY, acl.ANY),
                              (acl.R_ANY, None, acl.P_ANY, "User:ops", None, acl.ANY, acl.ANY)])
    tap.is_([(r[0], len(r[2])) for r in res], [(0, 1), (0, 1)],
            "raw DeleteAcls: one binding under two filters")
    ec, _, left = acl.describe_acls(c, acl.MATCH_ALL)
    tap.is_((ec, len(left)), (0, 4), "four left")

    # ---- bad bindings: INVALID_REQUEST, nothing stored --------------------------
    bad = [
        acl.binding(99, "t", acl.P_LITERAL, "User:a", "*", acl.READ, acl.ALLOW),
        acl.binding(acl.R_ANY, "t", acl.P_LITERAL, "User:a", "*", acl.READ, acl.ALLOW),
        acl.binding(acl.R_TOPIC, "t", acl.P_MATCH, "User:a", "*", acl.READ, acl.ALLOW),
        acl.binding(acl.R_TOPIC, "t", acl.P_LITERAL, "User:a", "*", acl.ANY, acl.ALLOW),
        acl.binding(acl.R_TOPIC, "t", acl.P_LITERAL, "User:a", "*", 77, acl.ALLOW),
        acl.binding(acl.R_TOPIC, "t", acl.P_LITERAL, "User:a", "*", acl.READ, acl.ANY),
        acl.binding(acl.R_TOPIC, "", acl.P_LITERAL, "User:a", "*", acl.READ, acl.ALLOW),
        acl.binding(acl.R_TOPIC, "t", acl.P_LITERAL, "alice", "*", acl.READ, acl.ALLOW),
        acl.binding(acl.R_CLUSTER, "other", acl.P_LITERAL, "User:a", "*", acl.READ, acl.ALLOW),
    ]
    res = acl.create_acls(c, bad + [acl.binding(acl.R_TOPIC, "ok", acl.P_LITERAL, "User:a", "*",
                                                acl.READ, acl.ALLOW)])
    tap.is_([r[0] for r in res], [acl.INVALID_REQUEST] * len(bad) + [0],
            "bad bindings: INVALID_REQUEST each, the good one created")
    tap.ok(all(r[1] for r in res[:-1]), "... each with a message (%r)" % res[7][1])
    ec, _, left = acl.describe_acls(c, acl.MATCH_ALL)
    tap.is_(len(left), 5, "only the good binding was added")
    # v0 (no pattern type: LITERAL)
    res = acl.create_acls(c, [acl.binding(acl.R_GROUP, "g0", None, "User:z", "*", acl.READ,
                                          acl.ALLOW)], version=0)
    tap.is_(res[0][0], 0, "CreateAcls v0 (literal pattern)")
    ec, _, got = acl.describe_acls(c, (acl.R_GROUP, "g0", acl.P_LITERAL, None, None, acl.ANY,
                                       acl.ANY))
    tap.is_(got, [(acl.R_GROUP, "g0", acl.P_LITERAL, "User:z", "*", acl.READ, acl.ALLOW)],
            "... stored as a literal binding")

    # ---- bad filters --------------------------------------------------------------
    for name, f in [("UNKNOWN operation", (acl.R_ANY, None, acl.P_ANY, None, None, 0, acl.ANY)),
                    ("UNKNOWN resource type", (0, None, acl.P_ANY, None, None, acl.ANY, acl.ANY)),
                    ("pattern type 9", (acl.R_ANY, None, 9, None, None, acl.ANY, acl.ANY)),
                    ("permission -1", (acl.R_ANY, None, acl.P_ANY, None, None, acl.ANY, -1))]:
        ec, msg, _ = acl.describe_acls(c, f)
        tap.is_(ec, acl.INVALID_REQUEST, "DescribeAcls %s: INVALID_REQUEST" % name)
        res = acl.delete_acls(c, [f, acl.MATCH_ALL[:3] + ("User:nobody", None, acl.ANY, acl.ANY)])
        tap.is_([r[0] for r in res], [acl.INVALID_REQUEST, 0],
                "DeleteAcls %s: INVALID_REQUEST for that filter only" % name)

    # ---- many bindings in one request, a huge filter -------------------------------
    many = [acl.binding(acl.R_TOPIC, "bulk-%d" % i, acl.P_LITERAL, "User:bulk", "*", acl.WRITE,
                        acl.ALLOW) for i in range(2000)]
    res = acl.create_acls(c, many)
    tap.ok(len(res) == 2000 and all(r[0] == 0 for r in res), "2000 bindings in one CreateAcls")
    ec, _, got = acl.describe_acls(c, (acl.R_ANY, None, acl.P_ANY, "User:bulk", None, acl.ANY,
                                       acl.ANY))
    tap.is_((ec, len(got)), (0, 2000), "... all described")
    ec, _, got = acl.describe_acls(c, (acl.R_TOPIC, "x" * 30000, acl.P_MATCH, "U:" + "y" * 30000,
                                       "h" * 1000, acl.ANY, acl.ANY))
    tap.is_((ec, got), (0, []), "a filter with 60 kB of names matches nothing")
    res = acl.delete_acls(c, [(acl.R_ANY, None, acl.P_ANY, "User:bulk", None, acl.ANY, acl.ANY)])
    tap.is_(len(res[0][2]), 2000, "... and all deleted with one filter")
    # A truncated request closes the connection; the broker stays up.
    c.send_raw(odtest.frame(odtest.request_header(acl.CREATE_ACLS, 1, 99) + odtest.i32(5) +
                            odtest.i8(2)))
    tap.ok(c.wait_closed() in ("closed", "closed_after_data"), "a truncated CreateAcls closes")
with odtest.Conn(b.port) as c:
    ec, _, left = acl.describe_acls(c, acl.MATCH_ALL)
    tap.is_((ec, len(left)), (0, 6), "the broker still answers")

lines = acl.audit_lines(audit_path)
creates = [ln for ln in lines if ln.get("change") == "CREATE_ACLS" and ln["result"] == "OK"]
tap.ok(len(creates) >= 8, "audit log: a line per created binding (%d)" % len(creates))
tap.ok(all(ln["principal"] == "User:ANONYMOUS" and ln["host"] == "127.0.0.1" for ln in creates),
       "... with the principal and host")
tap.ok(any(ln.get("change") == "CREATE_ACLS" and ln["result"] == "INVALID_REQUEST" for ln in lines),
       "... and the refused ones")
tap.ok(any(ln.get("change") == "DELETE_ACLS" and ln["resource"] == "orders" for ln in lines),
       "... and deletions")
sys.exit(odtest.finish())
