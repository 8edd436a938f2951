#!/usr/bin/python3
# 6002-racing-create-topics.t - two brokers that are not the active
# controller receive CreateTopics for the same name at the same moment:
# both forward to the active controller, which validates against its
# committed image, so exactly one gets NONE and the other
# TOPIC_ALREADY_EXISTS; the controller keeps working. Ten names, and a
# batch of names raced through all three nodes at once.
import os
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import cluster  # noqa: E402
import odtest  # noqa: E402
import tap  # noqa: E402

odtest.watchdog(120)
c = cluster.Cluster(3).start()
leader, _ = c.wait_leader()
c.wait_brokers(3)
followers = [i for i in (1, 2, 3) if i != leader]

def race(nodes, topics):
    conns = [odtest.Conn(c.bports[i - 1], timeout=30) for i in nodes]
    results = [None] * len(conns)
    go = threading.Barrier(len(conns))

    def run(k):
        go.wait()
        results[k] = odtest.create_topics(conns[k], topics, timeout_ms=20000)
    ts = [threading.Thread(target=run, args=(k,)) for k in range(len(conns))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    for x in conns:
        x.close()
    return results

bad = []
for n in range(10):
    name = "race-%d" % n
    res = race(followers, [(name, 1, 1)])
    codes = sorted(r[name] for r in res)
    if codes != [odtest.NONE, odtest.TOPIC_ALREADY_EXISTS]:
        bad.append((name, codes))
tap.ok(not bad, "10 races through two followers: one NONE and one TOPIC_ALREADY_EXISTS each %s"
       % (bad or ""))

names = [("batch-%d" % n, 2, 1) for n in range(20)]
res = race([1, 2, 3], names)
wins = {}
for r in res:
    for name, code in r.items():
        if code == odtest.NONE:
            wins[name] = wins.get(name, 0) + 1
        elif code != odtest.TOPIC_ALREADY_EXISTS:
            bad.append((name, code))
tap.ok(not bad and len(wins) == 20 and set(wins.values()) == {1},
       "20 names raced through all three nodes: each created exactly once")

with odtest.Conn(c.bports[followers[0] - 1]) as conn:
    r = odtest.create_topics(conn, [("after-race", 1, 1)])
tap.is_(r.get("after-race"), odtest.NONE, "the controller still creates topics afterwards")
sys.exit(odtest.finish())
