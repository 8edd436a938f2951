#!/usr/bin/python3
# Leadership moving in a 3-node cluster, on purpose and deterministically:
#  (a) AlterPartitionReassignments reorders the replicas (a broker listed twice is refused,
#      and says so; moves to other brokers are t/6160), ElectLeaders (preferred) then moves the leader; the new leader starts a
#      new leader epoch; an idempotent librdkafka producer and kafka-python with acks=all
#      go on through the move: every acknowledged record is there exactly once, in order;
#  (b) OffsetForLeaderEpoch on the new leader: epoch 0 ends where epoch 1 began;
#      ElectLeaders again: ELECTION_NOT_NEEDED; unknown partition: UNKNOWN_TOPIC_OR_PARTITION;
#  (c) the group coordinator follows its __consumer_offsets partition: committed offsets
#      are answered by the new coordinator after the move;
#  (d) a divergent tail: with one follower frozen (SIGSTOP, so it cannot fetch), the leader
#      takes acks=1 records the frozen follower never gets; leadership moves to the frozen
#      one (it is still in the ISR); thawed, it leads epoch 2 without them, and the old
#      leader and the other follower cut them off (OffsetForLeaderEpoch / DivergingEpoch)
#      so all three logs are equal again; nothing acknowledged with acks=all is lost.
import os
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import cluster  # noqa: E402
import odtest  # noqa: E402
import tap  # noqa: E402
from odtest import NO_TAGS, compact_array, compact_string, i8, i32  # noqa: E402

odtest.watchdog(int(os.environ.get("ODTEST_TIMEOUT", "300")))
import confluent_kafka as ck  # noqa: E402
from confluent_kafka.admin import NewTopic  # noqa: E402

ELECT_LEADERS, ALTER_REASSIGN, OFLE = 43, 45, 23
ELECTION_NOT_NEEDED = 84
INVALID_REPLICA_ASSIGNMENT = 39

c = cluster.Cluster(3, sets={"auto.leader.rebalance.enable": "false"})
c.start()
ctl, _ = c.wait_leader()
c.wait_brokers(3)
admin = odtest.ck_admin(c.bootstrap)


def layout(topic, via=None):
    """{partition: (leader, replicas, sorted isr)} from Metadata on one node (any running,
    not frozen, one by default)."""
    for n in ([via] if via else [x for x in (1, 2, 3) if x not in frozen_nodes]):
        try:
            with odtest.Conn(c.bports[n - 1], timeout=5) as cn:
                md = odtest.metadata(cn, [topic])
            return {q["partition"]: (q["leader"], q["replicas"], sorted(q["isr"]))
                    for q in md["topics"][topic]["partitions"]}
        except (OSError, odtest.ProtoError, odtest.ConnectionClosed):
            continue
    return {}


frozen_nodes = set()


def log_bytes(node_id, topic, part):
    d = os.path.join(c.node(node_id).data, "%s-%d" % (topic, part))
    out = b""
    for f in sorted(os.listdir(d)):
        if f.endswith(".log"):
            with open(os.path.join(d, f), "rb") as fh:
                out += fh.read()
    return out


def same_logs(topic, part):
    return odtest.wait_until(lambda: len({log_bytes(n, topic, part) for n in (1, 2, 3)}) == 1, 30)


def conn_to(node_id):
    return odtest.Conn(c.bports[node_id - 1])


def reassign(node_id, topic, part, replicas):
    with conn_to(node_id) as cn:
        body = (i32(30000) + compact_array([topic], lambda t: compact_string(t) + compact_array(
            [part], lambda p: i32(p) + compact_array(replicas, i32) + NO_TAGS) + NO_TAGS) + NO_TAGS)
        r = cn.request(ALTER_REASSIGN, 0, body, flexible=True)
        r.i32()
        top, _msg = r.i16(), r.compact_string()
        res = []
        r.compact_array(lambda rr: (rr.compact_string(), rr.compact_array(
            lambda x: res.append((x.i32(), x.i16(), x.compact_string(), x.tags())[1:3])), rr.tags()))
        return top, res


def elect(node_id, topic, parts, etype=0):
    with conn_to(node_id) as cn:
        body = (i8(etype) + compact_array([topic], lambda t: compact_string(t) + compact_array(
            parts, i32) + NO_TAGS) + i32(30000) + NO_TAGS)
        r = cn.request(ELECT_LEADERS, 2, body, flexible=True)
        r.i32()
        top = r.i16()
        res = []
        r.compact_array(lambda rr: (rr.compact_string(), rr.compact_array(
            lambda x: res.append((x.i32(), x.i16(), x.compact_string(), x.tags())[:3])), rr.tags()))
        return top, res


def ofle(node_id, topic, part, epoch):
    with conn_to(node_id) as cn:
        body = i32(-1) + compact_array([topic], lambda t: compact_string(t) + compact_array(
            [part], lambda p: i32(p) + i32(-1) + i32(epoch) + NO_TAGS) + NO_TAGS) + NO_TAGS
        r = cn.request(OFLE, 4, body, flexible=True)
        r.i32()
        res = []
        r.compact_array(lambda rr: (rr.compact_string(), rr.compact_array(
            lambda x: res.append((x.i16(), x.i32(), x.i32(), x.i64(), x.tags())[:4])), rr.tags()))
        return res[0]


def move_leader(topic, part, new_leader):
    """Reorder the replicas so new_leader is preferred, then elect it."""
    reps = layout(topic)[part][1]
    order = [new_leader] + [r for r in reps if r != new_leader]
    top, res = reassign(1 + (ctl % 3), topic, part, order)  # sent to a broker, forwarded
    if (top, res[0][0]) != (0, 0):
        return "reassign: %s %s" % (top, res)
    top, res = elect(1 + (ctl % 3), topic, [part])
    if (top, res[0][1]) != (0, 0):
        return "elect: %s %s" % (top, res)
    if not odtest.wait_until(lambda: layout(topic)[part][0] == new_leader, 30):
        return "metadata never showed leader %d" % new_leader
    return None


# ---- (a) a planned move under load ------------------------------------------------
others = [n for n in (1, 2, 3) if n != ctl]
first = others[0]
fs = admin.create_topics([NewTopic("mv", num_partitions=1, replica_assignment=[[first, ctl, others[1]]],
                                   config={"min.insync.replicas": "2"})],
                         operation_timeout=20, request_timeout=20)
fs["mv"].result(30)
odtest.wait_topic(admin, "mv", 1)
tap.is_(layout("mv")[0][0], first, "mv-0 led by node %d" % first)
top, res = reassign(ctl, "mv", 0, [first, ctl, 99])
tap.is_(res[0][0], INVALID_REPLICA_ASSIGNMENT, "a replica on an unknown broker: INVALID_REPLICA_ASSIGNMENT")
top, res = reassign(ctl, "mv", 0, [first, ctl, ctl])
tap.is_(res[0], (INVALID_REPLICA_ASSIGNMENT, "Invalid replica assignment: broker %d is listed twice."
                 % ctl), "a broker listed twice: refused, with why")

p = ck.Producer(odtest.ck_conf(c.bootstrap, acks="all", enable_idempotence=True, linger_ms=2,
                               topic_metadata_refresh_interval_ms=500), logger=odtest.RdLog())
acked, failed = [], []


def dr(e, m):
    (failed if e else acked).append((m.offset(), m.value()) if not e else e)


import kafka  # noqa: E402
kp = kafka.KafkaProducer(bootstrap_servers=c.bootstrap, acks="all", retries=0, linger_ms=2,
                         api_version=(2, 5), metadata_max_age_ms=500)
kacked = []
n = 0
for i in range(2000):
    p.produce("mv", value=b"ck-%d" % i, on_delivery=dr)
    p.poll(0)
p.flush(30)
tap.is_(len(acked), 2000, "2000 acknowledged before the move")
why = move_leader("mv", 0, ctl)
tap.ok(why is None, "leadership moved to node %d (%s)" % (ctl, why or "reorder + preferred election"))
for i in range(2000, 4000):
    p.produce("mv", value=b"ck-%d" % i, on_delivery=dr)
    p.poll(0)
    if i % 100 == 0:
        try:
            kacked.append(kp.send("mv", value=b"kp-%d" % i).get(timeout=30).offset)
        except kafka.errors.KafkaError:
            pass  # retries=0: a send into the move may fail; never acknowledged, never counted
p.flush(60)
kp.close(10)
tap.is_(len(acked) + len(failed), 4000, "every librdkafka message reported")
tap.is_(len(failed), 0, "none failed: the producer followed the new leader")
got, hw = odtest.ck_read(c.bootstrap, "mv", [0])
vals = [m.value() for m in got[0]]
ck_vals = [v for v in vals if v.startswith(b"ck-")]
tap.is_(ck_vals, [b"ck-%d" % i for i in range(4000)], "librdkafka's 4000, once each, in order")
by_off = {m.offset(): m.value() for m in got[0]}
tap.ok(all(by_off.get(o, b"").startswith(b"kp-") for o in kacked) and len(kacked) >= 15,
       "kafka-python's %d acknowledged records at their offsets" % len(kacked))
tap.ok(same_logs("mv", 0), "the three logs are equal")

# ---- (b) epochs --------------------------------------------------------------------------
epoch1_start = min(o for o, v in by_off.items() if v in (b"ck-%d" % i for i in range(2000, 4000)))
err, part, ep, end = ofle(ctl, "mv", 0, 0)
tap.is_((err, ep), (0, 0), "OffsetForLeaderEpoch(0) on the new leader: epoch 0")
tap.ok(2000 <= end <= epoch1_start, "ends at %d, where epoch 1 began" % end)
tap.is_(ofle(ctl, "mv", 0, 1)[2:], (1, hw[0]), "epoch 1 (the latest) ends at the log end")
tap.is_(ofle(first, "mv", 0, 0)[0], 6, "the old leader: NOT_LEADER_OR_FOLLOWER")
top, res = elect(ctl, "mv", [0])
tap.is_(res[0][1], ELECTION_NOT_NEEDED, "ElectLeaders again: ELECTION_NOT_NEEDED")
top, res = elect(ctl, "mv", [7])
tap.is_(res[0][1], odtest.UNKNOWN_TOPIC_OR_PARTITION, "unknown partition: UNKNOWN_TOPIC_OR_PARTITION")

# ---- (c) the group coordinator moves with its partition ---------------------------------
cons = ck.Consumer(odtest.ck_conf(c.bootstrap, group_id="mover", enable_auto_commit=False,
                                  auto_offset_reset="earliest"), logger=odtest.RdLog())
cons.assign([ck.TopicPartition("mv", 0, 0)])
cons.commit(offsets=[ck.TopicPartition("mv", 0, 1234)], asynchronous=False)
cons.close()
# The group's partition: abs(javaHash(group.id)) % partitions, as Kafka's.
import struct  # noqa: E402


def java_hash(s):
    h = 0
    for ch in s.encode():
        h = (31 * h + (ch if ch < 128 else ch - 256)) & 0xffffffff
    return struct.unpack(">i", struct.pack(">I", h))[0]


nparts = len(layout("__consumer_offsets"))
gpart = abs(java_hash("mover")) % nparts
old_coord = layout("__consumer_offsets")[gpart][0]
new_coord = [n for n in (1, 2, 3) if n != old_coord][0]
why = move_leader("__consumer_offsets", gpart, new_coord)
tap.ok(why is None, "__consumer_offsets-%d moved from node %d to node %d (%s)"
       % (gpart, old_coord, new_coord, why or "ok"))
cons = ck.Consumer(odtest.ck_conf(c.bootstrap, group_id="mover", enable_auto_commit=False),
                   logger=odtest.RdLog())
com = cons.committed([ck.TopicPartition("mv", 0)], timeout=30)
cons.close()
tap.is_(com[0].offset, 1234, "the new coordinator answers the committed offset")

# ---- (d) a divergent tail is cut ----------------------------------------------------------
lead = layout("mv")[0][0]
frozen = [n for n in (1, 2, 3) if n not in (lead, c.wait_leader()[0])]
frozen = frozen[0] if frozen else [n for n in (1, 2, 3) if n != lead][0]
before_end = hw[0]
os.kill(c.node(frozen).pid, signal.SIGSTOP)
frozen_nodes.add(frozen)
try:
    p1 = ck.Producer(odtest.ck_conf(c.bootstrap_of([lead]), acks=1, linger_ms=0),
                     logger=odtest.RdLog())
    errs = []
    # One batch at a time: the frozen node's fetch that was already out may still bring
    # the first batch when it thaws, never the later ones.
    for i in range(50):
        p1.produce("mv", value=b"tail-%d" % i, on_delivery=lambda e, m: errs.append(e))
        p1.flush(20)
    tap.ok(len(errs) == 50 and all(e is None for e in errs),
           "acks=1: 50 single-record batches while a follower is frozen")
    tap.ok(frozen in layout("mv")[0][2], "the frozen follower is still in the ISR")
    reps = layout("mv")[0][1]
    top, res = reassign(lead, "mv", 0, [frozen] + [r for r in reps if r != frozen])
    tap.is_(res[0][0], 0, "reorder: node %d preferred" % frozen)
    top, res = elect(lead, "mv", [0])
    tap.is_(res[0][1], 0, "preferred election of the frozen node committed")
finally:
    os.kill(c.node(frozen).pid, signal.SIGCONT)
    frozen_nodes.discard(frozen)
tap.ok(odtest.wait_until(lambda: layout("mv")[0][0] == frozen, 30), "node %d leads" % frozen)
tap.ok(same_logs("mv", 0), "after the cut the three logs are equal again")
got, hw2 = odtest.ck_read(c.bootstrap, "mv", [0])
vals = [m.value() for m in got[0]]
tails = [v for v in vals if v.startswith(b"tail-")]
tap.ok(len(tails) < 50 and tails == [b"tail-%d" % i for i in range(len(tails))],
       "the divergent tail is gone (%d of the 50 had reached the frozen node)" % len(tails))
tap.is_([v for v in vals if v.startswith(b"ck-")], [b"ck-%d" % i for i in range(4000)],
        "every acks=all record is still there, once, in order")
tap.ok(any("truncated divergent tail" in c.node(n).log_text() for n in (1, 2, 3) if n != frozen),
       "a follower logged the truncation")
p2 = ck.Producer(odtest.ck_conf(c.bootstrap, acks="all"), logger=odtest.RdLog())
errs = []
p2.produce("mv", value=b"after", on_delivery=lambda e, m: errs.append(e))
p2.flush(30)
tap.is_(errs, [None], "acks=all works on the new leader")
c.stop()
sys.exit(odtest.finish())
