#!/usr/bin/python3
"""bench-acl.py - what authorization costs. Starts its own odradekd three
times (ODRADEK_BUILD, default _build-release as scripts/bench.sh builds it;
127.0.0.1 only) with:
  none   - no authorizer;
  super  - the ACL authorizer, the client a super user (no ACL lookups);
  acls   - the ACL authorizer with N literal and N/10 prefixed bindings of
           other principals and resources, the client allowed by one
           prefixed binding on its topics' prefix and one on the cluster;
and measures on one connection, one request at a time: Produce requests
(one 10-record batch each, acks=1) per second, and Metadata of all T
topics (each checked for DESCRIBE) per second. Prints each figure and its
ratio to `none`.
Usage: ODRADEK_BUILD=_build-release python3 scripts/bench-acl.py [N] [T]"""
import os
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("ODRADEK_BUILD", os.path.join(TOP, "_build-release"))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(TOP, "t", "lib"))
import odtest  # noqa: E402
import acl  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
T = int(sys.argv[2]) if len(sys.argv) > 2 else 200
PRODUCES, METADATAS = 3000, 300
ME = "User:ANONYMOUS"


def setup(c, mode):
    if mode == "acls":
        many = [acl.binding(acl.R_TOPIC, "other-%d" % i, acl.P_LITERAL, "User:u%d" % (i % 97),
                            "*", acl.WRITE if i % 2 else acl.READ, acl.ALLOW) for i in range(N)]
        many += [acl.binding(acl.R_TOPIC, "pfx%d-" % i, acl.P_PREFIXED, "User:u%d" % i, "*",
                             acl.ALL, acl.ALLOW) for i in range(N // 10)]
        many += [acl.binding(acl.R_TOPIC, "bench-", acl.P_PREFIXED, ME, "*", acl.ALL, acl.ALLOW),
                 acl.binding(acl.R_CLUSTER, "kafka-cluster", acl.P_LITERAL, ME, "*", acl.ALL,
                             acl.ALLOW)]
        for i in range(0, len(many), 1000):
            res = acl.create_acls(c, many[i:i + 1000])
            assert all(r[0] == 0 for r in res), res[:3]
    for i in range(0, T, 100):
        res = odtest.create_topics(c, [("bench-%d" % j, 1, 1) for j in range(i, min(T, i + 100))])
        assert all(v == 0 for v in res.values()), res


def run(mode):
    sets = {}
    if mode != "none":
        sets = {"authorizer.class.name": acl.STANDARD, "authorizer.audit.log": "none"}
    if mode == "super":
        sets["super.users"] = ME
    if mode == "acls":
        sets["super.users"] = ME  # for the set-up only: restarted without it below
    b = odtest.Broker(sets=sets).start()
    with odtest.Conn(b.port) as c:
        setup(c, mode)
    if mode == "acls":
        b.stop()
        b.sets = [(k, v) for k, v in b.sets if k != "super.users"]
        b.start()
    batch = odtest.build_batch([(b"k%d" % i, b"v" * 100, []) for i in range(10)])
    with odtest.Conn(b.port) as c:
        odtest.metadata(c)
        t0 = time.monotonic()
        for i in range(PRODUCES):
            out = odtest.produce(c, {("bench-%d" % (i % T), 0): batch})
            assert next(iter(out.values()))[0] == 0, out
        produce_rate = PRODUCES / (time.monotonic() - t0)
        t0 = time.monotonic()
        for _ in range(METADATAS):
            md = odtest.metadata(c)
        assert len([t for t in md["topics"] if t.startswith("bench-")]) == T
        metadata_rate = METADATAS / (time.monotonic() - t0)
    b.stop()
    return produce_rate, metadata_rate


results = {m: run(m) for m in ("none", "super", "acls")}
base = results["none"]
print("bindings: %d literal + %d prefixed; topics: %d; build: %s"
      % (N, N // 10, T, os.environ["ODRADEK_BUILD"]))
print("%-6s %14s %8s %16s %8s" % ("mode", "produce req/s", "ratio", "metadata req/s", "ratio"))
for m, (p, md) in results.items():
    print("%-6s %14.0f %8.2f %16.1f %8.2f" % (m, p, p / base[0], md, md / base[1]))
odtest.finish()
