#!/usr/bin/python3
# A partition leader cut off from the cluster (t/lib/proxy.py on every link: the quorum's
# and the brokers' own listeners, which clients and followers reach through the proxies):
#  (a) the cut-off leader cannot acknowledge acks=all writes: no follower can fetch them and
#      it cannot shrink its ISR without the controller, so they time out;
#  (b) the majority fences it and elects a new leader; acks=all writes go on there;
#  (c) healed, the old leader learns it is a follower, cuts the tail only it had
#      (DivergingEpoch) and rejoins the ISR; all logs are equal; no acknowledged record is
#      lost and the unacknowledged ones are gone.
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import cluster  # noqa: E402
import odtest  # noqa: E402
import proxy  # noqa: E402
import tap  # noqa: E402

odtest.watchdog(int(os.environ.get("ODTEST_TIMEOUT", "300")))
import confluent_kafka as ck  # noqa: E402
from confluent_kafka.admin import NewTopic  # noqa: E402

c = cluster.Cluster(3, proxies=True, sets={"broker.session.timeout.ms": "3000",
                                           "broker.heartbeat.interval.ms": "500",
                                           "replica.lag.time.max.ms": "3000",
                                           "auto.leader.rebalance.enable": "false"})
bproxy = {}
for n in c.nodes:
    bp = proxy.Proxy(c.bports[n.node_id - 1]).start()
    bproxy[n.node_id] = bp
    n.sets.append(("advertised.listeners", "PLAINTEXT://127.0.0.1:%d" % bp.port))
c.start()
c.wait_leader()
c.wait_brokers(3)
via = ",".join("127.0.0.1:%d" % bproxy[i].port for i in (1, 2, 3))
admin = odtest.ck_admin(via)


def layout(node_id):
    try:
        with odtest.Conn(c.bports[node_id - 1], timeout=5) as cn:
            md = odtest.metadata(cn, ["part"])
        q = md["topics"]["part"]["partitions"][0]
        return q["leader"], sorted(q["isr"])
    except (OSError, odtest.ProtoError, odtest.ConnectionClosed, KeyError, IndexError):
        return -1, []


def log_bytes(node_id):
    d = os.path.join(c.node(node_id).data, "part-0")
    out = b""
    for f in sorted(os.listdir(d)):
        if f.endswith(".log"):
            with open(os.path.join(d, f), "rb") as fh:
                out += fh.read()
    return out


fs = admin.create_topics([NewTopic("part", 1, 3, config={"min.insync.replicas": "2"})],
                         operation_timeout=20, request_timeout=20)
fs["part"].result(30)
odtest.wait_topic(admin, "part", 1)
tap.ok(odtest.wait_until(lambda: len(layout(1)[1]) == 3, 30), "RF 3, full ISR")
p = ck.Producer(odtest.ck_conf(via, acks="all", enable_idempotence=True,
                               topic_metadata_refresh_interval_ms=500), logger=odtest.RdLog())
acked = []
for i in range(500):
    p.produce("part", value=b"a-%d" % i, on_delivery=lambda e, m: acked.append(e is None and m.value()))
p.flush(30)
tap.is_(sum(1 for a in acked if a), 500, "500 acknowledged before the cut")

# ---- (a) the cut ------------------------------------------------------------------------
x = layout(1)[0]
majority = [n for n in (1, 2, 3) if n != x]
c.isolate(x)
bproxy[x].block()
with odtest.Conn(c.bports[x - 1], timeout=30) as cn:  # the client that can still reach it
    res = odtest.produce(cn, {("part", 0): odtest.build_batch([(b"k", b"minority-%d" % i, [])
                                                              for i in range(5)])},
                         acks=-1, timeout_ms=6000)
err = res[("part", 0)][0]
tap.ok(err != 0, "the cut-off leader (node %d) does not acknowledge acks=all (error %d)" % (x, err))

# ---- (b) the majority goes on -------------------------------------------------------------
tap.ok(odtest.wait_until(lambda: layout(majority[0])[0] in majority, 60),
       "the majority elects a new leader (node %d)" % layout(majority[0])[0])
for i in range(500, 1000):
    p.produce("part", value=b"a-%d" % i, on_delivery=lambda e, m: acked.append(e is None and m.value()))
p.flush(60)
tap.is_(sum(1 for a in acked if a), 1000, "acks=all goes on with the majority: 1000 acknowledged")

# ---- (c) healed ------------------------------------------------------------------------------
bproxy[x].unblock()
c.heal(x)
tap.ok(odtest.wait_until(lambda: x in layout(majority[0])[1], 60), "node %d rejoins the ISR" % x)
tap.ok(odtest.wait_until(lambda: len({log_bytes(n) for n in (1, 2, 3)}) == 1, 30),
       "all three logs are equal")
got, hw = odtest.ck_read(via, "part", [0])
vals = [m.value() for m in got[0]]
tap.is_([v for v in vals if v.startswith(b"a-")], [b"a-%d" % i for i in range(1000)],
        "every acknowledged record, once, in order")
tap.ok(not any(v.startswith(b"minority-") for v in vals), "the minority's unacknowledged records are gone")
tap.ok("truncated divergent tail" in c.node(x).log_text(), "node %d cut its divergent tail" % x)
c.stop()
for bp in bproxy.values():
    bp.stop()
sys.exit(odtest.finish())
