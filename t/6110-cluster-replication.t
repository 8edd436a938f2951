#!/usr/bin/python3
# Replication in a 3-node cluster (t/lib/cluster.py; every node broker+controller):
#  (a) RF 3 topics are placed over the three brokers, one leader each, full ISR;
#  (b) librdkafka and kafka-python producers with acks=all: every record acknowledged is
#      read back, in order, and every replica's log holds the same bytes as the leader's;
#  (c) a stopped follower leaves the ISR after replica.lag.time.max.ms (AlterPartition to
#      the active controller, wherever it is); with min.insync.replicas=3 acks=all is then
#      refused with NOT_ENOUGH_REPLICAS and nothing is appended; acks=1 still works;
#  (d) the follower restarts, catches up (what was written meanwhile included) and
#      rejoins the ISR; acks=all works again; its log equals the leader's;
#  (e) a follower that comes back to a leader whose log start moved past its log end
#      (DeleteRecords) restarts its log at the leader's start and rejoins the ISR.
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import cluster  # noqa: E402
import odtest  # noqa: E402
import tap  # noqa: E402

odtest.watchdog(int(os.environ.get("ODTEST_TIMEOUT", "300")))
import confluent_kafka as ck  # noqa: E402
from confluent_kafka.admin import NewTopic  # noqa: E402

LAG_MS = 2000
c = cluster.Cluster(3, sets={"replica.lag.time.max.ms": str(LAG_MS)})
c.start()
c.wait_leader()
c.wait_brokers(3)
admin = odtest.ck_admin(c.bootstrap)


def layout(topic):
    md = admin.list_topics(topic, timeout=10)
    return {p.id: (p.leader, list(p.replicas), sorted(p.isrs))
            for p in md.topics[topic].partitions.values()}


def log_bytes(node_id, topic, part):
    d = os.path.join(c.node(node_id).data, "%s-%d" % (topic, part))
    out = b""
    for f in sorted(os.listdir(d)):
        if f.endswith(".log"):
            with open(os.path.join(d, f), "rb") as fh:
                out += fh.read()
    return out


def same_logs(topic, part, nodes=(1, 2, 3)):
    """Every replica's log bytes equal (followers append the leader's batches as they are)."""
    return odtest.wait_until(lambda: len({log_bytes(n, topic, part) for n in nodes}) == 1, 20)


# ---- (a) placement ----------------------------------------------------------------
fs = admin.create_topics([NewTopic("r3", 3, 3, config={"min.insync.replicas": "2"}),
                          NewTopic("strict", 1, 3, config={"min.insync.replicas": "3"})],
                         operation_timeout=20, request_timeout=20)
for f in fs.values():
    f.result(30)
odtest.wait_topic(admin, "r3", 3)
odtest.wait_topic(admin, "strict", 1)
lay = layout("r3")
tap.is_(sorted(lay[p][0] for p in lay), [1, 2, 3], "three partitions, one leader on each broker")
tap.ok(all(sorted(r) == [1, 2, 3] and isr == [1, 2, 3] for _, r, isr in lay.values()),
       "each on all three brokers, full ISR")

# ---- (b) acks=all from both clients ------------------------------------------------
N = 3000
p = ck.Producer(odtest.ck_conf(c.bootstrap, acks="all", linger_ms=5), logger=odtest.RdLog())
acked = []
for i in range(N):
    p.produce("r3", key=b"k%d" % (i % 11), value=b"ck-%d" % i,
              on_delivery=lambda e, m: acked.append((e, m.partition(), m.offset(), m.value())))
    p.poll(0)
p.flush(60)
tap.is_(len(acked), N, "librdkafka: %d delivery reports" % N)
tap.ok(all(e is None for e, *_ in acked), "all acknowledged")

import kafka  # noqa: E402
kp = kafka.KafkaProducer(bootstrap_servers=c.bootstrap, acks="all", linger_ms=5,
                         api_version=(2, 5))
futs = [kp.send("r3", key=b"kp%d" % (i % 5), value=b"kp-%d" % i) for i in range(500)]
kp.flush(60)
kmeta = [f.get(timeout=30) for f in futs]
tap.is_(len(kmeta), 500, "kafka-python acks=all: 500 acknowledged")
kp.close()

got, hw = odtest.ck_read(c.bootstrap, "r3", [0, 1, 2])
tap.is_(sum(len(v) for v in got.values()), N + 500, "every acknowledged record read back")
ok = True
for part, msgs in got.items():
    offs = [m.offset() for m in msgs]
    ok &= offs == list(range(len(offs)))
    mine = [v for e, pp, o, v in sorted(acked, key=lambda a: a[2]) if pp == part]
    ok &= [m.value() for m in msgs if m.value().startswith(b"ck-")] == mine
tap.ok(ok, "per partition: dense offsets, librdkafka's records in acknowledged order")
tap.ok(all(same_logs("r3", part) for part in range(3)), "all three replicas hold the same log bytes")

# ---- (c) a follower stops ------------------------------------------------------------
leader = layout("strict")[0][0]
victim = [n for n in (1, 2, 3) if n != leader][0]
c.node(victim).stop()
c.wait_leader()
tap.ok(odtest.wait_until(lambda: victim not in layout("strict")[0][2], 30),
       "a stopped follower (node %d) leaves the ISR" % victim)
err = []
p2 = ck.Producer(odtest.ck_conf(c.bootstrap_of([n for n in (1, 2, 3) if n != victim]), acks="all",
                                retries=0, message_timeout_ms=10000), logger=odtest.RdLog())
p2.produce("strict", value=b"refused", on_delivery=lambda e, m: err.append(e))
p2.flush(20)
tap.is_([e.code() if e else None for e in err], [ck.KafkaError.NOT_ENOUGH_REPLICAS],
        "min.insync.replicas=3 with ISR 2: NOT_ENOUGH_REPLICAS")
err = []
p3 = ck.Producer(odtest.ck_conf(c.bootstrap_of([n for n in (1, 2, 3) if n != victim]), acks=1),
                 logger=odtest.RdLog())
for i in range(100):
    p3.produce("strict", value=b"while-down-%d" % i, on_delivery=lambda e, m: err.append(e))
p3.flush(20)
tap.ok(len(err) == 100 and all(e is None for e in err), "acks=1 goes on with the ISR of 2")

# ---- (d) it comes back -----------------------------------------------------------------
c.node(victim).start()
c.wait_brokers(3)
tap.ok(odtest.wait_until(lambda: sorted(layout("strict")[0][2]) == [1, 2, 3], 30),
       "the follower catches up and rejoins the ISR")
err = []
p2.produce("strict", value=b"accepted", on_delivery=lambda e, m: err.append(e))
p2.flush(20)
tap.is_(err, [None], "acks=all accepted again")
tap.ok(same_logs("strict", 0), "the returned follower's log equals the leader's")
got, hw = odtest.ck_read(c.bootstrap, "strict", [0])
tap.is_([m.value() for m in got[0]], [b"while-down-%d" % i for i in range(100)] + [b"accepted"],
        "nothing of the refused write, everything else in order")

# ---- (e) a follower that comes back behind the leader's log start ------------------------
fs = admin.create_topics([NewTopic("trimmed", 1, 3)], operation_timeout=20, request_timeout=20)
fs["trimmed"].result(30)
odtest.wait_topic(admin, "trimmed", 1)
lead = layout("trimmed")[0][0]
away = [n for n in (1, 2, 3) if n != lead][0]
c.node(away).stop()
c.wait_leader()
tap.ok(odtest.wait_until(lambda: away not in layout("trimmed")[0][2], 30), "node %d out of the ISR" % away)
p4 = ck.Producer(odtest.ck_conf(c.bootstrap_of([lead]), acks=1), logger=odtest.RdLog())
for i in range(300):
    p4.produce("trimmed", value=b"t-%d" % i)
    if i % 100 == 99:
        p4.flush(20)  # a batch at a time: DeleteRecords below cuts at a batch boundary


def hw_of(node_id):
    with odtest.Conn(c.bports[node_id - 1]) as cn:
        return odtest.list_offsets(cn, {("trimmed", 0): -1})[("trimmed", 0)][2]


tap.ok(odtest.wait_until(lambda: hw_of(lead) == 300, 30), "the remaining ISR has all 300")
with odtest.Conn(c.bports[lead - 1]) as cn:
    body = (odtest.array([("trimmed", [(0, 200)])], lambda tp: odtest.string(tp[0]) + odtest.array(
        tp[1], lambda po: odtest.i32(po[0]) + odtest.i64(po[1]))) + odtest.i32(5000))
    r = cn.request(21, 0, body)
    r.i32()
    res = r.array(lambda x: (x.string(), x.array(lambda y: (y.i32(), y.i64(), y.i16()))))
tap.is_(res[0][1][0][1:], (200, 0), "DeleteRecords on the leader: log start 200")
c.node(away).start()
c.wait_brokers(3)
tap.ok(odtest.wait_until(lambda: sorted(layout("trimmed")[0][2]) == [1, 2, 3], 30),
       "the follower, whose log ended at 0, restarts it at the leader's start and rejoins")
tap.ok(b"log ended at 0, before the leader's start 200" in
       c.node(away).log_text().encode(), "it says so")
data = log_bytes(away, "trimmed", 0)
tap.ok(len(data) > 12 and int.from_bytes(data[:8], "big") == 200,
       "its log begins with offset 200, as the leader's readable log does")
c.stop()
sys.exit(odtest.finish())
