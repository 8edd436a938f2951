#!/usr/bin/python3
"""bench-acl.py - what authorization costs. Starts three odradekd
(ODRADEK_BUILD, default _build-release as scripts/bench.sh builds it;
127.0.0.1 only) with:
  none   - no authorizer;
  super  - the ACL authorizer, the client a super user (no ACL lookups);
  acls   - the ACL authorizer with N literal and N/10 prefixed bindings of
           other principals and resources, the client allowed by one
           prefixed binding on its topics' prefix and one on the cluster;
and measures on one connection each, one request at a time: Produce
requests (one 10-record batch each, acks=1) per second, and Metadata of
all T topics (each checked for DESCRIBE) per second. The three run side
by side and are measured in turns (medians of the rounds). Prints each
figure and its ratio to `none`.
Usage: ODRADEK_BUILD=_build-release python3 scripts/bench-acl.py [N] [T]"""
import os
import statistics
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
PRODUCES, METADATAS = 4500, 450
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


def start(mode):
    sets = {}
    if mode != "none":
        sets = {"authorizer.class.name": acl.STANDARD, "authorizer.audit.log": "none",
                "super.users": ME}  # acls: for the set-up only, restarted without it
    b = odtest.Broker(sets=sets, name=mode).start()
    with odtest.Conn(b.port) as c:
        setup(c, mode)
    if mode == "acls":
        b.stop()
        b.sets = [(k, v) for k, v in b.sets if k != "super.users"]
        b.start()
    return b


BATCH = odtest.build_batch([(b"k%d" % i, b"v" * 100, []) for i in range(10)])


def burst(c, i0):
    """Rates of one burst: PRODUCES/ROUNDS produces, METADATAS/ROUNDS metadatas."""
    t0 = time.monotonic()
    for i in range(PRODUCES // ROUNDS):
        out = odtest.produce(c, {("bench-%d" % ((i0 + i) % T), 0): BATCH})
        assert next(iter(out.values()))[0] == 0, out
    p = (PRODUCES // ROUNDS) / (time.monotonic() - t0)
    t0 = time.monotonic()
    for _ in range(METADATAS // ROUNDS):
        md = odtest.metadata(c)
    assert len([t for t in md["topics"] if t.startswith("bench-")]) == T
    return p, (METADATAS // ROUNDS) / (time.monotonic() - t0)


# The three brokers run side by side and are measured in turns, so a
# change of the machine's load (it is shared) hits each the same; the
# figure of a mode is its median over the rounds.
MODES = ("none", "super", "acls")
ROUNDS = 15
brokers = {m: start(m) for m in MODES}
conns = {m: odtest.Conn(brokers[m].port) for m in MODES}
rates = {m: [] for m in MODES}
for rnd in range(ROUNDS):
    for m in MODES:
        rates[m].append(burst(conns[m], rnd * 1000))
for m in MODES:
    conns[m].close()
    brokers[m].stop()
results = {m: (statistics.median(r[0] for r in rates[m]), statistics.median(r[1] for r in rates[m]))
           for m in MODES}
base = results["none"]
print("bindings: %d literal + %d prefixed; topics: %d; build: %s; medians of %d rounds"
      % (N, N // 10, T, os.environ["ODRADEK_BUILD"], ROUNDS))
print("%-6s %14s %8s %16s %8s" % ("mode", "produce req/s", "ratio", "metadata req/s", "ratio"))
for m, (p, md) in results.items():
    print("%-6s %14.0f %8.2f %16.1f %8.2f" % (m, p, p / base[0], md, md / base[1]))
odtest.finish()
