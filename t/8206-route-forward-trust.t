#!/usr/bin/python3
# Who may send forwarded route copies (doc/routing.md, "In a cluster"; doc/security.md,
# "Forwarded route copies"). A Produce is taken as another broker's forwarded copies - not
# routed again - only with a client id starting with odradek-route-, on the listener the
# broker's registration offers the other brokers, and (with an authorizer) from a principal
# allowed CLUSTER_ACTION; a forwarder's produce denied it is refused with
# CLUSTER_AUTHORIZATION_FAILED; anything else is an ordinary, routed produce.
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import acl  # noqa: E402
import odtest  # noqa: E402
import routetest as rt  # noqa: E402
import tap  # noqa: E402
from odtest import array, bytes_, i16, i32, string  # noqa: E402

odtest.watchdog(180)
TMP = odtest.scratch()
LUA = rt.write(TMP, "trust.lua", r'''
odradek.route("t", function(rec) rec:copy("t-copy", "murmur2"); return true end)
''')
CLUSTER_AUTHORIZATION_FAILED = 31
R_CLUSTER, P_LITERAL, OP_ALTER, OP_CLUSTER_ACTION, ALLOW = 4, 3, 7, 9, 3


def produce(conn, value, client_id):
    body = (string(None) + i16(1) + i32(10000) +
            array(["t"], lambda t: string(t) + array(
                [0], lambda p: i32(p) + bytes_(odtest.build_batch([(b"k", value)])))))
    r = conn.request(rt.PRODUCE, 8, body, client_id=client_id)
    out = []

    def part(x):
        p, err, off = x.i32(), x.i16(), x.i64()
        x.i64()
        x.i64()
        x.array(lambda y: (y.i32(), y.string()))
        out.append((err, off, x.string()))

    r.array(lambda rr: (rr.string(), rr.array(part)))
    return out[0]


def copies(b):
    with odtest.Conn(b.port) as c:
        return [x[3] for x in odtest.fetch_all(c, "t-copy", 0)[0]]


def setup(b):
    admin = odtest.ck_admin(b.bootstrap)
    for t in ("t", "t-copy"):
        odtest.ck_create_topic(admin, t, 1)


# ---- without an authorizer: the client id on the inter-broker listener is trusted --------
b = rt.broker(scripts=[LUA], metrics=False).start()
setup(b)
with odtest.Conn(b.port) as c:
    tap.is_(produce(c, b"plain", "app")[0], 0, "an ordinary produce is accepted")
    tap.is_(produce(c, b"forwarded", "odradek-route-7")[0], 0,
            "a produce with client id odradek-route-7 is accepted")
tap.is_(copies(b), [b"plain"], "only the ordinary produce was routed (no authorizer: the "
        "inter-broker listener is trusted, as in Kafka)")
b.stop()

# ---- another listener than the inter-broker one: an ordinary produce ----------------------
port2 = odtest.free_port()
b = rt.broker(scripts=[LUA], metrics=False, sets={
    "listeners": "PLAINTEXT://127.0.0.1:%d,CLIENTS://127.0.0.1:%d" % (odtest.free_port(), port2),
    "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CLIENTS:PLAINTEXT",
    "inter.broker.listener.name": "PLAINTEXT"})
b.port = port2
b.start()
setup(b)
with odtest.Conn(port2) as c:
    tap.is_(produce(c, b"other-listener", "odradek-route-7")[0], 0,
            "on a client listener the same produce is accepted")
tap.is_(copies(b), [b"other-listener"], "... and routed: only the inter-broker listener "
        "takes forwarded copies")
b.stop()

# ---- with an authorizer: CLUSTER_ACTION decides ---------------------------------------
b = rt.broker(scripts=[LUA], metrics=False, sets={
    "load_module": "acl", "authorizer.class.name": acl.STANDARD,
    "allow.everyone.if.no.acl.found": "true"}).start()
setup(b)
with odtest.Conn(b.port) as c:
    # CLUSTER_ACTION for the brokers' principal only; ANONYMOUS keeps ALTER (to add ACLs).
    got = acl.create_acls(c, [acl.binding(R_CLUSTER, "kafka-cluster", P_LITERAL, "User:broker",
                                          "*", OP_CLUSTER_ACTION, ALLOW),
                              acl.binding(R_CLUSTER, "kafka-cluster", P_LITERAL,
                                          "User:ANONYMOUS", "*", OP_ALTER, ALLOW)])
    tap.is_([e for e, _ in got], [0, 0], "CLUSTER_ACTION granted to User:broker only")
    denied = produce(c, b"denied", "odradek-route-7")
    tap.is_(denied[0], CLUSTER_AUTHORIZATION_FAILED, "a forwarder's produce from a principal "
            "without CLUSTER_ACTION is refused with CLUSTER_AUTHORIZATION_FAILED") or \
        tap.diag(repr(denied))
    tap.like(denied[2] or "", r"CLUSTER_ACTION", "the message says why")
    tap.is_(produce(c, b"app-under-acl", "app")[0], 0, "an ordinary produce is accepted")
    got = acl.create_acls(c, [acl.binding(R_CLUSTER, "kafka-cluster", P_LITERAL, "User:ANONYMOUS",
                                          "*", OP_CLUSTER_ACTION, ALLOW)])
    tap.is_([e for e, _ in got], [0], "CLUSTER_ACTION granted to User:ANONYMOUS")
    tap.is_(produce(c, b"allowed", "odradek-route-7")[0], 0,
            "then the forwarder's produce is accepted")
with odtest.Conn(b.port) as c:
    vals = [x[3] for x in odtest.fetch_all(c, "t", 0)[0]]
tap.is_(vals, [b"app-under-acl", b"allowed"], "the refused produce appended nothing")
tap.is_(copies(b), [b"app-under-acl"], "only the ordinary produce was routed")
sys.exit(odtest.finish())
