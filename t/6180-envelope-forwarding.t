#!/usr/bin/python3
# 6180-envelope-forwarding.t - KIP-590 Envelope: an admin request sent to a
# broker that is not the active controller is forwarded inside an Envelope
# naming its client, so the controller judges it as that client. A 3-node
# cluster with SASL PLAIN on the client listener and the ACL authorizer;
# the controller listener is PLAINTEXT, so the brokers reach each other as
# User:ANONYMOUS, which super.users names (as Kafka deployments with a
# PLAINTEXT inter-broker listener do; the kraft client cannot speak SASL).
# alice may CREATE topics prefixed alice-, bob may not: through a follower
# alice succeeds and bob gets TOPIC_AUTHORIZATION_FAILED (before envelopes
# both succeeded, as ANONYMOUS); the controller's audit log and its Lua
# create_topics policy see User:alice / User:bob and their host. Raw
# envelopes (on the controller listener, the only one that serves and lists
# Envelope, as Kafka): a sender without CLUSTER_ACTION (on a second,
# SASL_PLAINTEXT controller listener) gets CLUSTER_AUTHORIZATION_FAILED,
# malformed, huge, nested or non-forwardable envelopes INVALID_REQUEST, a
# wrong version UNSUPPORTED_VERSION, and an envelope naming bob is judged as
# bob; on a broker listener an envelope closes the connection. Forwarding
# failures are answered in the API's terms on a connection that stays
# usable: with the other two nodes frozen, CreateTopics through the
# follower gets REQUEST_TIMED_OUT after request.timeout.ms, twice on one
# connection; with the controller killed, the request is sent again and
# succeeds once a new controller is elected.
import json
import os
import signal
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import acl  # noqa: E402
import cluster  # noqa: E402
import odtest  # noqa: E402
import sasl  # noqa: E402
import tap  # noqa: E402
from odtest import array, i16, i32, string, uvarint  # noqa: E402

ENVELOPE = 58
POLICY_VIOLATION = 44
UNSUPPORTED_VERSION = 35
REQUEST_TIMED_OUT = 7
FORWARD_TIMEOUT_MS = 15000
odtest.watchdog(360)
tmp = odtest.scratch("envelope")
script = os.path.join(tmp, "policy.lua")
with open(script, "w") as f:
    f.write('''
odradek.policy("create_topics", function(req)
  if req.name:match("^alice%-lua") then
    if req.principal ~= "User:alice" or req.host ~= "127.0.0.1" then
      return false, "policy saw " .. req.principal .. " at " .. tostring(req.host)
    end
  end
  return true
end)
''')
c = cluster.Cluster(3, sasl=True, sets={
    "authorizer.class.name": acl.STANDARD,
    "super.users": "User:admin;User:ANONYMOUS",
    "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256",
    "request.timeout.ms": str(FORWARD_TIMEOUT_MS),
    "lua.scripts": script})
# A second controller listener, SASL_PLAINTEXT, so that a principal without
# CLUSTER_ACTION can reach the Envelope API (the voters use the first).
xports = [odtest.free_port() for _ in range(3)]
for i, node in enumerate(c.nodes):
    node.sets = [(k, v + ",CTLSASL://127.0.0.1:%d" % xports[i]) if k == "listeners" else
                 (k, "CONTROLLER,CTLSASL") if k == "controller.listener.names" else (k, v)
                 for k, v in node.sets]
    node.sets.append(("listener.security.protocol.map",
                      "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,"
                      "CONTROLLER:PLAINTEXT,CTLSASL:SASL_PLAINTEXT"))
c.start()
leader, _ = c.wait_leader()
c.wait_brokers(3)
follower = [i for i in (1, 2, 3) if i != leader][0]

for u in ("alice", "bob"):
    sasl.add_user(c.bports[leader - 1], u, u + "-pw")
with odtest.Conn(c.bports[leader - 1]) as conn:
    res = acl.create_acls(conn, [acl.binding(acl.R_TOPIC, "alice-", acl.P_PREFIXED, "User:alice",
                                             "*", acl.CREATE, acl.ALLOW)])
tap.is_(res[0][0], 0, "ALLOW CREATE on topics prefixed alice- for User:alice (on the controller)")


def login(node, user, port=None):
    """A SASL PLAIN connection to node's SASL listener (or port), once the
    user's credentials have reached it through the metadata log."""
    def attempt():
        conn = odtest.Conn(port or c.sports[node - 1], timeout=30)
        err, _ = sasl.handshake(conn, "PLAIN")
        if err == 0 and sasl.authenticate(conn, sasl.plain_token(user, user + "-pw"))[0] == 0:
            return conn
        conn.close()
        return None
    got = []
    odtest.wait_until(lambda: got.append(attempt()) or got[-1], 20, 0.2)
    if not got or not got[-1]:
        raise odtest.BrokerError("%s cannot log in on node %d" % (user, node))
    return got[-1]


alice = login(follower, "alice")
bob = login(follower, "bob")
r = odtest.create_topics(alice, [("alice-1", 1, 1)], timeout_ms=20000)
tap.is_(r.get("alice-1"), odtest.NONE, "alice creates alice-1 through a follower (forwarded)")
r = odtest.create_topics(bob, [("bob-1", 1, 1)], timeout_ms=20000)
tap.is_(r.get("bob-1"), acl.TOPIC_AUTHORIZATION_FAILED,
        "bob's CreateTopics through the follower: TOPIC_AUTHORIZATION_FAILED (judged as bob)")
r = odtest.create_topics(bob, [("alice-2", 1, 1)], timeout_ms=20000)
tap.is_(r.get("alice-2"), acl.TOPIC_AUTHORIZATION_FAILED, "... also for a name alice may create")
r = odtest.create_topics(alice, [("alice-lua-1", 1, 1)], timeout_ms=20000)
tap.is_(r.get("alice-lua-1"), odtest.NONE,
        "the controller's Lua create_topics policy sees User:alice at 127.0.0.1")
with odtest.Conn(c.bports[follower - 1]) as anon:
    r = odtest.create_topics(anon, [("alice-lua-2", 1, 1)], timeout_ms=20000)
tap.is_(r.get("alice-lua-2"), POLICY_VIOLATION,
        "... and User:ANONYMOUS (a super user) for a plaintext client: POLICY_VIOLATION")


def audit(node):
    out = []
    for ln in c.node(node).log_text().splitlines():
        if "AUDIT" in ln and "{" in ln:
            try:
                out.append(json.loads(ln[ln.index("{"):]))
            except ValueError:
                pass
    return out


lines = audit(leader)
tap.ok(any(ln.get("principal") == "User:bob" and ln.get("api") == "CreateTopics" and
           ln.get("result") == "DENIED" and ln.get("host") == "127.0.0.1" for ln in lines),
       "the controller's audit log: bob's CreateTopics denied, with his host")
tap.ok(any(ln.get("principal") == "User:alice" and ln.get("change") == "CREATE_TOPICS" and
           ln.get("resource") == "alice-1" and ln.get("result") == "OK" for ln in lines),
       "... and alice's topic created under her name")
tap.ok(not any(ln.get("resource") in ("alice-1", "bob-1") and
               ln.get("principal") == "User:ANONYMOUS" for ln in lines),
       "... never as the forwarding broker's User:ANONYMOUS")


# ---- raw envelopes ------------------------------------------------------
def cbytes(b):
    return uvarint(len(b) + 1) + b


def inner_create(name, corr=77, key=19, version=0):
    body = array([name], lambda n: string(n) + i32(1) + i16(1) + array([], None) +
                 array([], None)) + i32(10000)
    return odtest.request_header(key, version, corr) + body


def envelope(conn, data, principal=b"User:bob", addr=bytes([127, 0, 0, 1]), raw=None):
    """(ResponseData or None, ErrorCode)."""
    body = raw if raw is not None else (cbytes(data) + cbytes(principal) + cbytes(addr) +
                                        odtest.NO_TAGS)
    r = conn.request(ENVELOPE, 0, body, flexible=True)
    n = r.uvarint()
    data = bytes(r.take(n - 1)) if n else None
    return data, r.i16()


with odtest.Conn(c.bports[leader - 1]) as conn:
    tap.ok(ENVELOPE not in odtest.api_versions(conn)["apis"],
           "ApiVersions on a broker listener does not list Envelope")
    conn.send_request(ENVELOPE, 0, cbytes(inner_create("bob-b")) + cbytes(b"User:bob") +
                      cbytes(bytes([127, 0, 0, 1])) + odtest.NO_TAGS, flexible=True)
    tap.is_(conn.wait_closed(), "closed",
            "an Envelope on a broker listener closes the connection (as Kafka)")
with odtest.Conn(c.cports[leader - 1]) as anon:
    tap.is_(odtest.api_versions(anon)["apis"].get(ENVELOPE), (0, 0),
            "ApiVersions on the controller listener lists Envelope v0")
    data, err = envelope(anon, inner_create("bob-raw"))
    tap.is_(err, 0, "an envelope from a super user is served")
    rr = odtest.Reader(data)
    tap.is_(rr.i32(), 77, "ResponseData starts with the inner correlation id")
    res = dict(rr.array(lambda x: (x.string(), x.i16())))
    tap.is_(res.get("bob-raw"), acl.TOPIC_AUTHORIZATION_FAILED,
            "the inner CreateTopics is judged as the envelope's User:bob")
    _, err = envelope(anon, b"", raw=b"\x05abc")
    tap.is_(err, acl.INVALID_REQUEST, "a truncated envelope: INVALID_REQUEST")
    _, err = envelope(anon, inner_create("x", key=3, version=1))
    tap.is_(err, acl.INVALID_REQUEST,
            "an envelope around Metadata (not forwardable): INVALID_REQUEST")
    nested = odtest.request_header(ENVELOPE, 0, 5, flexible=True) + cbytes(inner_create("y")) + \
        cbytes(b"User:alice") + cbytes(bytes(4)) + odtest.NO_TAGS
    _, err = envelope(anon, nested)
    tap.is_(err, acl.INVALID_REQUEST, "a nested envelope: INVALID_REQUEST")
    _, err = envelope(anon, inner_create("z"), addr=b"\x01\x02")
    tap.is_(err, acl.INVALID_REQUEST, "a 2-byte client address: INVALID_REQUEST")
    _, err = envelope(anon, inner_create("z")[:12])
    tap.is_(err, acl.INVALID_REQUEST, "a cut inner request: INVALID_REQUEST")
    _, err = envelope(anon, inner_create("z"), principal=b"")
    tap.is_(err, acl.INVALID_REQUEST, "an empty principal: INVALID_REQUEST")
    _, err = envelope(anon, inner_create("z"), principal=b"User:" + b"x" * 2000)
    tap.is_(err, acl.INVALID_REQUEST, "a 2005-byte principal: INVALID_REQUEST")
    _, err = envelope(anon, b"", raw=uvarint(0x7fffffff) + b"abc")
    tap.is_(err, acl.INVALID_REQUEST, "RequestData claiming 2 GB: INVALID_REQUEST")
    _, err = envelope(anon, b"", raw=cbytes(inner_create("z")) + uvarint(0x7fffffff) + b"User")
    tap.is_(err, acl.INVALID_REQUEST, "a principal claiming 2 GB: INVALID_REQUEST")
    _, err = envelope(anon, inner_create("z", version=99))
    tap.is_(err, UNSUPPORTED_VERSION, "an inner CreateTopics v99: UNSUPPORTED_VERSION")
    r = anon.request(ENVELOPE, 1, cbytes(inner_create("z")) + cbytes(b"User:bob") +
                     cbytes(bytes(4)) + odtest.NO_TAGS, flexible=True)
    r.uvarint()
    tap.is_(r.i16(), UNSUPPORTED_VERSION, "Envelope v1: UNSUPPORTED_VERSION")
    data, err = envelope(anon, inner_create("alice-v6"), principal=b"User:alice",
                         addr=bytes(15) + b"\x01")
    rr = odtest.Reader(data or b"\0\0\0\0")
    rr.i32()
    tap.ok(err == 0 and dict(rr.array(lambda x: (x.string(), x.i16()))).get("alice-v6") == 0,
           "an envelope naming alice at ::1 creates alice-v6")
    tap.ok(any(ln.get("principal") == "User:alice" and ln.get("host") == "::1" and
               ln.get("resource") == "alice-v6" for ln in audit(leader)),
           "... and the audit log says ::1")
    tap.is_(odtest.api_versions(anon)["error"], 0, "the controller listener still answers")
    apis = odtest.api_versions(anon)["apis"]
    tap.ok(0 not in apis and 3 not in apis and 11 not in apis and 19 in apis and 62 in apis,
           "... and lists Kafka's controller APIs only (CreateTopics, BrokerRegistration; "
           "not Produce, Metadata, JoinGroup)")
    anon.send_request(3, 1, i32(-1))
    tap.is_(anon.wait_closed(), "closed",
            "Metadata on the controller listener closes the connection (as Kafka)")

ctrl_alice = login(leader, "alice", port=xports[leader - 1])
_, err = envelope(ctrl_alice, inner_create("alice-raw"), principal=b"User:admin")
tap.is_(err, acl.CLUSTER_AUTHORIZATION_FAILED,
        "alice (no CLUSTER_ACTION) sends an envelope: CLUSTER_AUTHORIZATION_FAILED")
ctrl_alice.close()
bob.close()


# ---- forwarding failures --------------------------------------------------
others = [i for i in (1, 2, 3) if i != follower]
for i in others:
    os.kill(c.node(i).pid, signal.SIGSTOP)
try:
    r = cluster.create_topic_v5(alice, "alice-frozen-1")
    tap.is_(r.get("alice-frozen-1", (None,))[0], REQUEST_TIMED_OUT,
            "the other nodes frozen: CreateTopics through the follower gets REQUEST_TIMED_OUT "
            "in its own response")
    tap.ok(r.get("alice-frozen-1", (0, ""))[1], "... with a message")
    tap.ok(odtest.metadata(alice) is not None, "the client's connection stays usable")
    r = odtest.create_topics(alice, [("alice-frozen-2", 1, 1)], timeout_ms=20000)
    tap.is_(r.get("alice-frozen-2"), REQUEST_TIMED_OUT,
            "... and a second CreateTopics (v0) on it: REQUEST_TIMED_OUT too")
finally:
    for i in others:
        os.kill(c.node(i).pid, signal.SIGCONT)
leader, _ = c.wait_leader(timeout=60)
c.wait_brokers(3, timeout=60)  # the thawed nodes were fenced meanwhile
r = odtest.create_topics(alice, [("alice-thawed", 1, 1)], timeout_ms=20000)
tap.is_(r.get("alice-thawed"), odtest.NONE,
        "thawed: the same connection creates a topic through the follower")

via = follower if follower != leader else [i for i in (1, 2, 3) if i != leader][0]
conn = alice if via == follower else login(via, "alice")
c.node(leader).kill9()
r = odtest.create_topics(conn, [("alice-failover", 1, 1)], timeout_ms=20000)
tap.is_(r.get("alice-failover"), odtest.NONE,
        "the controller killed: the forwarded CreateTopics is sent again and succeeds once "
        "another controller is elected")
if conn is not alice:
    conn.close()
alice.close()
sys.exit(odtest.finish())
