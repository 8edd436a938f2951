#!/usr/bin/python3
# 6003-partition.t - cut nodes off from the quorum with loopback proxies
# (t/lib/proxy.py, one per direction between voters):
#  - an isolated follower asks for pre-votes and gets none; when it comes
#    back it follows the leader again without raising the epoch (KIP-996:
#    no disruption);
#  - an isolated leader resigns (no majority fetches from it), the other two
#    elect a new leader in a later epoch, CreateTopics works through them;
#    healed, the old leader follows and learns the topic.
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import cluster  # noqa: E402
import odtest  # noqa: E402
import tap  # noqa: E402

odtest.watchdog(150)
c = cluster.Cluster(3, proxies=True, sets={"controller.quorum.fetch.timeout.ms": "1000",
                                           "controller.quorum.election.timeout.ms": "500"})
c.start()
leader, epoch = c.wait_leader()
c.wait_brokers(3)
follower = [i for i in (1, 2, 3) if i != leader][0]

c.isolate(follower)
# Several fetch timeouts pass: the isolated node keeps asking for pre-votes.
odtest.wait_until(lambda: c.node(follower).log_text().count("asking for pre-votes") >= 3, 30)
q = c.describe_quorum(follower)
tap.ok(q["epoch"] == epoch and q["leader"] != follower,
       "isolated follower %d stays in epoch %d (pre-votes only)" % (follower, epoch))
c.heal(follower)
l2, e2 = c.wait_leader(timeout=30)
tap.ok(l2 == leader and e2 == epoch,
       "healed: %d follows leader %d, epoch still %d" % (follower, l2, e2))

c.isolate(leader)
others = [i for i in (1, 2, 3) if i != leader]

def new_leader():
    views = [c.describe_quorum(i) for i in others]
    return (all(v["leader"] == views[0]["leader"] and v["epoch"] == views[0]["epoch"]
                for v in views) and views[0]["leader"] in others and
            views[0]["epoch"] > epoch and views[0])
got = odtest.wait_until(new_leader, 30)
tap.ok(got, "isolated leader %d: the others elect %s" % (
    leader, got and "%d in epoch %d" % (got["leader"], got["epoch"])))
with odtest.Conn(c.bports[others[0] - 1]) as conn:
    r = odtest.create_topics(conn, [("during-partition", 1, 1)])
tap.is_(r.get("during-partition"), odtest.NONE, "CreateTopics works on the majority side")
odtest.wait_until(lambda: "resigns" in c.node(leader).log_text(), 20)
tap.ok("resigns" in c.node(leader).log_text(), "the cut-off leader resigned its epoch")
c.heal(leader)
l3, e3 = c.wait_leader(timeout=30)
tap.ok(got and l3 == got["leader"] and e3 == got["epoch"],
       "healed: %d follows %d in epoch %d" % (leader, l3, e3))

def knows():
    with odtest.Conn(c.bports[leader - 1]) as conn:
        t = odtest.metadata(conn, ["during-partition"])["topics"].get("during-partition")
    return t and t["error"] == 0
tap.ok(odtest.wait_until(knows, 20), "the old leader learns the topic created without it")
c.stop_proxies()
sys.exit(odtest.finish())
