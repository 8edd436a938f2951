#!/usr/bin/python3
# Racks (broker.rack) in a 3-node cluster:
#  (a) rack-aware placement: with two racks, every RF 2 partition has one replica in each;
#  (b) fetch from the closest replica (KIP-392, replica.selector.class=RackAwareReplicaSelector):
#      the leader answers a Fetch v11 from a consumer in another rack with
#      preferred_read_replica = the in-sync replica in its rack and no records; that follower
#      serves the consumer's fetch (up to its high watermark); without a rack, or in the
#      leader's rack, the leader serves it; a follower still refuses consumers of Fetch < v11;
#  (c) librdkafka with client.rack reads everything, in order.
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import cluster  # noqa: E402
import odtest  # noqa: E402
import tap  # noqa: E402
from odtest import i8, i32, i64, string, array  # noqa: E402

odtest.watchdog(int(os.environ.get("ODTEST_TIMEOUT", "300")))
import confluent_kafka as ck  # noqa: E402
from confluent_kafka.admin import NewTopic  # noqa: E402

RACK = {1: "rack-a", 2: "rack-b", 3: "rack-a"}
c = cluster.Cluster(3, sets={"replica.selector.class":
                             "org.apache.kafka.common.replica.RackAwareReplicaSelector"})
for n in c.nodes:
    n.sets.append(("broker.rack", RACK[n.node_id]))
c.start()
c.wait_leader()
c.wait_brokers(3)
admin = odtest.ck_admin(c.bootstrap)


def layout(topic):
    with odtest.Conn(c.bports[0], timeout=5) as cn:
        md = odtest.metadata(cn, [topic])
    return {q["partition"]: (q["leader"], q["replicas"], sorted(q["isr"]))
            for q in md["topics"][topic]["partitions"]}


# ---- (a) placement ---------------------------------------------------------------
fs = admin.create_topics([NewTopic("spread", 6, 2), NewTopic("near", 1, 3)],
                         operation_timeout=20, request_timeout=20)
for f in fs.values():
    f.result(30)
odtest.wait_topic(admin, "spread", 6)
odtest.wait_topic(admin, "near", 1)
lay = layout("spread")
tap.ok(all({RACK[r] for r in reps} == {"rack-a", "rack-b"} for _, reps, _ in lay.values()),
       "RF 2 over two racks: one replica in each, all 6 partitions")

# ---- (b) preferred read replica ------------------------------------------------------
p = ck.Producer(odtest.ck_conf(c.bootstrap, acks="all"), logger=odtest.RdLog())
for i in range(300):
    p.produce("near", value=b"n-%d" % i)
p.flush(30)
odtest.wait_until(lambda: len(layout("near")[0][2]) == 3, 30)
leader = layout("near")[0][0]
other_rack = "rack-b" if RACK[leader] == "rack-a" else "rack-a"
in_other = [n for n in (1, 2, 3) if RACK[n] == other_rack]


def fetch11(node_id, rack, version=11, offset=0):
    """Fetch v11 (or v10 without rack) of near-0 from one node; -> (error, hw, prr, nbytes)."""
    body = (i32(-1) + i32(100) + i32(1) + i32(1 << 20) + i8(0) + i32(0) + i32(-1) +
            array([("near", [0])], lambda tp: string(tp[0]) + array(
                tp[1], lambda pa: i32(pa) + i32(-1) + i64(offset) + i64(-1) + i32(1 << 20))) +
            array([], None))
    if version >= 11:
        body += string(rack)
    with odtest.Conn(c.bports[node_id - 1], timeout=10) as cn:
        r = cn.request(odtest.FETCH, version, body)
        r.i32(), r.i16(), r.i32()
        out = []

        def part(rr):
            idx, err, hw, lso, lstart = rr.i32(), rr.i16(), rr.i64(), rr.i64(), rr.i64()
            rr.array(lambda x: (x.i64(), x.i64()))
            prr = rr.i32() if version >= 11 else -1
            recs = rr.bytes_()
            out.append((err, hw, prr, len(recs or b"")))
        r.array(lambda rr: (rr.string(), rr.array(part)))
        return out[0]


err, hw, prr, nbytes = fetch11(leader, other_rack)
tap.ok(err == 0 and prr in in_other and nbytes == 0,
       "the leader (%s) sends a consumer in %s to replica %d, no records" % (RACK[leader], other_rack, prr))
odtest.wait_until(lambda: fetch11(prr, other_rack)[1] == 300, 20)
err, hw2, prr2, nbytes2 = fetch11(prr, other_rack)
tap.ok(err == 0 and prr2 == -1 and nbytes2 > 0 and hw2 == 300,
       "that follower serves it: records up to its high watermark %d" % hw2)
err, hw, prr, nbytes = fetch11(leader, RACK[leader])
tap.ok(err == 0 and prr == -1 and nbytes > 0, "a consumer in the leader's rack reads from the leader")
err, hw, prr, nbytes = fetch11(leader, "")
tap.ok(err == 0 and prr == -1 and nbytes > 0, "a consumer without a rack reads from the leader")
follower = [n for n in (1, 2, 3) if n != leader][0]
tap.is_(fetch11(follower, "", version=10)[0], 6, "a follower refuses a consumer's Fetch v10: NOT_LEADER_OR_FOLLOWER")

# ---- (c) librdkafka with client.rack -------------------------------------------------
got, hwm = odtest.ck_read(c.bootstrap, "near", [0], extra={"client.rack": other_rack})
tap.is_([m.value() for m in got[0]], [b"n-%d" % i for i in range(300)],
        "librdkafka with client.rack=%s reads all 300 in order" % other_rack)
c.stop()
sys.exit(odtest.finish())
