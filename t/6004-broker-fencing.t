#!/usr/bin/python3
# 6004-broker-fencing.t - a broker that stops heartbeating (SIGSTOP) is
# fenced by the active controller after broker.session.timeout.ms: it
# disappears from Metadata and the partitions it led move to another ISR
# member; resumed (SIGCONT), its heartbeats unfence it and it is listed
# again.
import os
import signal
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import cluster  # noqa: E402
import odtest  # noqa: E402
import tap  # noqa: E402

odtest.watchdog(150)
c = cluster.Cluster(3, sets={"broker.session.timeout.ms": "3000",
                             "broker.heartbeat.interval.ms": "500"}).start()
leader, _ = c.wait_leader()
c.wait_brokers(3)
victim = [i for i in (1, 2, 3) if i != leader][0]
watcher = [i for i in (1, 2, 3) if i != victim][0]

with odtest.Conn(c.bports[watcher - 1]) as conn:
    r = odtest.create_topics(conn, [("fence", 6, 3)])
tap.is_(r.get("fence"), odtest.NONE, "a topic of 6 partitions, replication factor 3")

def md():
    with odtest.Conn(c.bports[watcher - 1]) as conn:
        return odtest.metadata(conn, ["fence"])

def led_by(m, node):
    return [p["partition"] for p in m["topics"]["fence"]["partitions"] if p["leader"] == node]

def full_isr(m):
    ps = m["topics"]["fence"]["partitions"]
    return len(ps) == 6 and all(len(p["isr"]) == 3 for p in ps)
odtest.wait_until(lambda: full_isr(md()), 30)
before = led_by(md(), victim)
tap.ok(before, "broker %d leads partitions %s" % (victim, before))

os.kill(c.node(victim).pid, signal.SIGSTOP)
try:
    fenced = odtest.wait_until(lambda: len(md()["brokers"]) == 2, 30)
    tap.ok(fenced, "stopped broker %d is fenced: Metadata lists two brokers" % victim)
    m = md()
    tap.ok(not led_by(m, victim) and
           all(p["leader"] in (1, 2, 3) and p["leader"] != victim
               for p in m["topics"]["fence"]["partitions"]),
           "its partitions have other leaders (%s)" %
           [(p["partition"], p["leader"], p["isr"]) for p in m["topics"]["fence"]["partitions"]])
    tap.ok(all(victim not in p["isr"] for p in m["topics"]["fence"]["partitions"]
               if p["partition"] in before),
           "and it left the ISR of the partitions it led")
finally:
    os.kill(c.node(victim).pid, signal.SIGCONT)
tap.ok(odtest.wait_until(lambda: len(md()["brokers"]) == 3, 30),
       "resumed, broker %d heartbeats and is unfenced" % victim)
log = c.node(leader).log_text()
tap.ok("fencing broker %d" % victim in log and "unfencing broker %d" % victim in log,
       "the controller logged the fencing and the unfencing")
sys.exit(odtest.finish())
