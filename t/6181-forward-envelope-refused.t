#!/usr/bin/python3
# 6181-forward-envelope-refused.t - a forwarded admin request whose Envelope the active controller
# refuses is answered in the API's own terms, as Kafka's ForwardingManager does: the client
# gets UNKNOWN_SERVER_ERROR in every topic of its CreateTopics (not the envelope's error, which
# it could not act on) and keeps its connection. A 3-node cluster with the ACL authorizer and
# allow.everyone.if.no.acl.found: the brokers reach the controller listener as User:ANONYMOUS,
# allowed CLUSTER_ACTION while the cluster resource has no ACL; an ACL naming another principal
# takes it away (CLUSTER_AUTHORIZATION_FAILED on the envelope), deleting it gives it back.
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import acl  # noqa: E402
import cluster  # noqa: E402
import odtest  # noqa: E402
import sasl  # noqa: E402
import tap  # noqa: E402

UNKNOWN_SERVER_ERROR = -1
odtest.watchdog(240)
c = cluster.Cluster(3, sasl=True, sets={
    "authorizer.class.name": acl.STANDARD,
    "super.users": "User:admin",
    "allow.everyone.if.no.acl.found": "true",
    "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256"}).start()
leader, _ = c.wait_leader()
c.wait_brokers(3)
follower = [i for i in (1, 2, 3) if i != leader][0]
sasl.add_user(c.bports[leader - 1], "admin", "admin-pw")
CLUSTER_ACL = acl.binding(acl.R_CLUSTER, "kafka-cluster", acl.P_LITERAL, "User:nobody", "*",
                          acl.CLUSTER_ACTION, acl.ALLOW)


with odtest.Conn(c.bports[follower - 1], timeout=30) as conn:
    r = odtest.create_topics(conn, [("fwd-ok-1", 1, 1)], timeout_ms=20000)
    tap.is_(r.get("fwd-ok-1"), odtest.NONE,
            "forwarded through node %d while the cluster resource has no ACL" % follower)
    with odtest.Conn(c.bports[leader - 1]) as lc:
        res = acl.create_acls(lc, [CLUSTER_ACL])
    tap.is_(res[0][0], 0, "an ACL on the cluster for User:nobody (ANONYMOUS loses CLUSTER_ACTION)")
    r = odtest.create_topics(conn, [("fwd-refused-1", 1, 1), ("fwd-refused-2", 1, 1)],
                             timeout_ms=20000)
    tap.is_((r.get("fwd-refused-1"), r.get("fwd-refused-2")),
            (UNKNOWN_SERVER_ERROR, UNKNOWN_SERVER_ERROR),
            "the envelope refused: every topic of the client's CreateTopics v0 gets "
            "UNKNOWN_SERVER_ERROR")
    r = cluster.create_topic_v5(conn, "fwd-refused-3")
    e, msg = r.get("fwd-refused-3", (None, None))
    tap.is_(e, UNKNOWN_SERVER_ERROR, "... a second request on the same connection too (v5)")
    tap.ok(msg, "... with a message (%r)" % msg)
    tap.ok(odtest.metadata(conn) is not None, "the connection stays usable")
    tap.ok(any("envelope refused with CLUSTER_AUTHORIZATION_FAILED" in ln
               for ln in c.node(follower).log_text().splitlines()),
           "the forwarding broker's log names the envelope's error")

    admin = odtest.Conn(c.sports[leader - 1], timeout=30)
    err, _ = sasl.handshake(admin, "PLAIN")
    ok = err == 0 and sasl.authenticate(admin, sasl.plain_token("admin", "admin-pw"))[0] == 0
    res = acl.delete_acls(admin, [CLUSTER_ACL]) if ok else []
    admin.close()
    tap.ok(res and res[0][0] == 0 and len(res[0][2]) == 1, "admin deletes the cluster ACL")
    got = []
    odtest.wait_until(lambda: got.append(odtest.create_topics(
        conn, [("fwd-ok-2", 1, 1)], timeout_ms=20000).get("fwd-ok-2")) or
        got[-1] in (odtest.NONE, 36), 30, 0.5)  # 36: TOPIC_ALREADY_EXISTS on a retry
    tap.ok(got and got[-1] in (odtest.NONE, 36),
           "CLUSTER_ACTION back: the same connection forwards again (%s)" % got[-1:])
sys.exit(odtest.finish())
