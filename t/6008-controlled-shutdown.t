#!/usr/bin/python3
# 6008-controlled-shutdown.t - SIGTERM to a broker that leads partitions of
# a replicated topic: it first asks the active controller to move them
# (BrokerHeartbeat with WantShutDown), waits until its image shows them
# moved, then stops. With broker.session.timeout.ms at a minute, fencing
# cannot be what moved them. Done for a follower of the quorum and for the
# quorum's leader (which moves its partitions through its own controller).
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import cluster  # noqa: E402
import odtest  # noqa: E402
import tap  # noqa: E402

odtest.watchdog(150)
c = cluster.Cluster(3, sets={"broker.session.timeout.ms": "60000",
                             "broker.heartbeat.interval.ms": "500"}).start()
leader, _ = c.wait_leader()
c.wait_brokers(3)
with odtest.Conn(c.bports[0]) as conn:
    tap.is_(odtest.create_topics(conn, [("cs", 6, 3)]).get("cs"), odtest.NONE,
            "a topic of 6 partitions, replication factor 3")

def md(node):
    with odtest.Conn(c.bports[node - 1]) as conn:
        return odtest.metadata(conn, ["cs"])["topics"]["cs"]["partitions"]

def full_isr(node):
    ps = md(node)
    return len(ps) == 6 and all(len(p["isr"]) == 3 for p in ps)

for victim in [i for i in (1, 2, 3) if i != leader][:1] + [leader]:
    watcher = [i for i in (1, 2, 3) if i != victim and c.node(i).running()][0]
    odtest.wait_until(lambda: full_isr(watcher), 30)
    led = [p["partition"] for p in md(watcher) if p["leader"] == victim]
    tap.ok(led, "broker %d leads partitions %s" % (victim, led))
    rc = c.node(victim).stop(timeout=30)
    tap.is_(rc, 0, "broker %d stops cleanly on SIGTERM" % victim)
    tap.ok("controlled shutdown" in c.node(victim).log_text(),
           "it went through a controlled shutdown")
    ok = odtest.wait_until(lambda: not [p for p in md(watcher) if p["leader"] == victim], 10)
    tap.ok(ok, "none of its partitions is led by it any more (%s)" %
           [(p["partition"], p["leader"]) for p in md(watcher)])
    if victim != leader:
        c.node(victim).start()
        c.wait_leader()
sys.exit(odtest.finish())
