#!/usr/bin/python3
# Partition reassignment to other brokers (KIP-455, KRaft) on a 3-node cluster, with kafkajs's
# admin client (alterPartitionReassignments, listPartitionReassignments) and the raw protocol
# for what kafkajs cannot send (a cancellation: null replicas) and for the error cases.
# X is the active controller, Y and Z the others (Z is the one frozen with SIGSTOP).
#  (a) ra [Y,X] -> [Y,Z] with Z frozen: the move stays in progress (Metadata shows the union,
#      ListPartitionReassignments replicas/adding/removing), acks=all produce goes on; thawed,
#      Z catches up, the move completes: replicas [Y,Z], X's directory is gone, every record
#      is read back exactly once, in order, and Z's log equals Y's;
#  (b) rb [X,Y] -> [Y,Z] under a producer: the leader X is removed, Y leads, X's log is gone;
#  (c) rc [Y,X] -> [Y,Z] with Z frozen, cancelled (null replicas): back to [Y,X], nothing
#      listed; thawed, Z deletes the log it had started;
#  (d) errors: duplicates and unknown brokers INVALID_REPLICA_ASSIGNMENT, unknown topic or
#      partition UNKNOWN_TOPIC_OR_PARTITION, cancelling nothing NO_REASSIGNMENT_IN_PROGRESS.
import json
import os
import shutil
import signal
import subprocess
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import cluster  # noqa: E402
import odtest  # noqa: E402
import tap  # noqa: E402
from odtest import NO_TAGS, compact_array, compact_string, i32  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
node_dir = os.path.join(here, "node")
if not shutil.which("node") or not os.path.isdir(os.path.join(node_dir, "node_modules", "kafkajs")):
    tap.skip_all("node or kafkajs is not installed (scripts/setup.sh installs them)")
odtest.watchdog(int(os.environ.get("ODTEST_TIMEOUT", "300")))
import confluent_kafka as ck  # noqa: E402
from confluent_kafka.admin import NewTopic  # noqa: E402

ALTER_REASSIGN, LIST_REASSIGN = 45, 46
INVALID_REPLICA_ASSIGNMENT, NO_REASSIGNMENT_IN_PROGRESS = 39, 85

c = cluster.Cluster(3, sets={"auto.leader.rebalance.enable": "false",
                             "replica.lag.time.max.ms": "3000"})
c.start()
X, _ = c.wait_leader()
c.wait_brokers(3)
Y, Z = [n for n in (1, 2, 3) if n != X]
admin = odtest.ck_admin(c.bootstrap)


def kafkajs(*actions):
    proc = subprocess.run(["node", os.path.join(node_dir, "kafkajs-reassign.js"), c.bootstrap]
                          + list(actions), capture_output=True, text=True, timeout=120)
    outs = []
    for ln in proc.stdout.splitlines():
        try:
            outs.append(json.loads(ln))
        except ValueError:
            pass
    return outs or [{"error": "no JSON from node: %r" % proc.stderr[-300:]}]


def layout(topic, via=None):
    for n in ([via] if via else [x for x in (X, Y, Z) if x not in frozen]):
        try:
            with odtest.Conn(c.bports[n - 1], timeout=5) as cn:
                md = odtest.metadata(cn, [topic])
            q = md["topics"][topic]["partitions"][0]
            return q["leader"], q["replicas"], sorted(q["isr"])
        except (OSError, odtest.ProtoError, odtest.ConnectionClosed, KeyError, IndexError):
            continue
    return None


frozen = set()


def reassign_raw(node_id, topic, part, replicas):
    """replicas None: cancel (a null array)."""
    with odtest.Conn(c.bports[node_id - 1]) as cn:
        reps = b"\x00" if replicas is None else compact_array(replicas, i32)
        body = (i32(30000) + compact_array([topic], lambda t: compact_string(t) + compact_array(
            [part], lambda p: i32(p) + reps + NO_TAGS) + NO_TAGS) + NO_TAGS)
        r = cn.request(ALTER_REASSIGN, 0, body, flexible=True)
        r.i32()
        r.i16(), r.compact_string()
        res = []
        r.compact_array(lambda rr: (rr.compact_string(), rr.compact_array(
            lambda x: res.append((x.i32(), x.i16(), x.compact_string(), x.tags())[1:3])), rr.tags()))
        return res[0]


def pdir(node_id, topic):
    return os.path.join(c.node(node_id).data, "%s-0" % topic)


def log_bytes(node_id, topic):
    d, out = pdir(node_id, topic), b""
    for f in sorted(os.listdir(d)):
        if f.endswith(".log"):
            with open(os.path.join(d, f), "rb") as fh:
                out += fh.read()
    return out


def create(topic, reps):
    fs = admin.create_topics([NewTopic(topic, num_partitions=1, replica_assignment=[reps],
                                       config={"min.insync.replicas": "1"})],
                             operation_timeout=20, request_timeout=20)
    fs[topic].result(30)
    odtest.wait_topic(admin, topic, 1)
    return odtest.wait_until(lambda: (layout(topic) or (0, 0, []))[2] == sorted(reps), 30)


def producer():
    return ck.Producer(odtest.ck_conf(c.bootstrap, acks="all", enable_idempotence=True, linger_ms=2,
                                      topic_metadata_refresh_interval_ms=500),
                       logger=odtest.RdLog())


def produce(p, topic, lo, hi, acked, failed):
    def dr(e, m):
        (failed if e else acked).append(e if e else m.value())
    for i in range(lo, hi):
        p.produce(topic, value=b"%s-%d" % (topic.encode(), i), on_delivery=dr)
        p.poll(0)
    p.flush(60)


def read_back(topic, n):
    got, _hw = odtest.ck_read(c.bootstrap, topic, [0])
    return [m.value() for m in got[0]] == [b"%s-%d" % (topic.encode(), i) for i in range(n)]


def freeze(n):
    os.kill(c.node(n).pid, signal.SIGSTOP)
    frozen.add(n)


def thaw(n):
    os.kill(c.node(n).pid, signal.SIGCONT)
    frozen.discard(n)


# ---- (a) a follower moved, with the new replica frozen --------------------------------
tap.ok(create("ra", [Y, X]), "ra on [%d,%d], both in sync" % (Y, X))
p = producer()
acked, failed = [], []
produce(p, "ra", 0, 2000, acked, failed)
tap.is_(len(acked), 2000, "2000 acknowledged (acks=all) before the move")
freeze(Z)
out = kafkajs("alter:ra:0:%d,%d" % (Y, Z), "list")
tap.ok(out[0].get("ok"), "kafkajs alterPartitionReassignments [%d,%d]: %s" % (Y, Z, out[0]))
lst = out[1].get("list") if len(out) > 1 else None
tap.is_(lst, [{"name": "ra", "partitions": [{"partition": 0, "replicas": [Y, Z, X],
                                               "addingReplicas": [Z], "removingReplicas": [X]}]}],
        "kafkajs listPartitionReassignments: replicas [Y,Z,X], adding [Z], removing [X]")
lo = layout("ra")
tap.is_(lo and (lo[0], lo[1]), (Y, [Y, Z, X]), "Metadata: the union, leader %d unchanged" % Y)
produce(p, "ra", 2000, 4000, acked, failed)
tap.is_((len(acked), len(failed)), (4000, 0), "2000 more acknowledged during the move")
tap.ok(os.path.isdir(pdir(X, "ra")), "the removed replica keeps its log while the move runs")
thaw(Z)
tap.ok(odtest.wait_until(lambda: (layout("ra") or (0, []))[1] == [Y, Z], 60),
       "thawed, %d catches up and the move completes: replicas [%d,%d] (%s)" % (Z, Y, Z, layout("ra")))
tap.ok(odtest.wait_until(lambda: not os.path.exists(pdir(X, "ra")), 30),
       "the removed replica's directory on node %d is gone" % X)
tap.is_(kafkajs("list")[0].get("list"), [], "nothing listed once complete")
tap.ok(read_back("ra", 4000), "all 4000 read back once each, in order")
tap.ok(odtest.wait_until(lambda: log_bytes(Y, "ra") == log_bytes(Z, "ra"), 30),
       "the new replica's log equals the leader's")

# ---- (b) the leader removed, under a producer -------------------------------------------
tap.ok(create("rb", [X, Y]), "rb on [%d,%d], led by %d" % (X, Y, X))
acked_b, failed_b = [], []
pb = producer()
produce(pb, "rb", 0, 1000, acked_b, failed_b)
th = threading.Thread(target=produce, args=(pb, "rb", 1000, 5000, acked_b, failed_b))
th.start()
out = kafkajs("alter:rb:0:%d,%d" % (Y, Z))
tap.ok(out[0].get("ok"), "reassign rb to [%d,%d]: %s" % (Y, Z, out[0]))
th.join(120)
tap.ok(odtest.wait_until(lambda: (layout("rb") or (0, []))[:2] == (Y, [Y, Z]), 60),
       "complete: replicas [%d,%d], %d leads (%s)" % (Y, Z, Y, layout("rb")))
tap.is_((len(acked_b), len(failed_b)), (5000, 0), "every record acknowledged through the leader move")
tap.ok(read_back("rb", 5000), "all 5000 read back once each, in order")
tap.ok(odtest.wait_until(lambda: not os.path.exists(pdir(X, "rb")), 30),
       "the old leader's directory is gone")

# ---- (c) cancellation --------------------------------------------------------------------
tap.ok(create("rc", [Y, X]), "rc on [%d,%d]" % (Y, X))
acked_c, failed_c = [], []
produce(p, "rc", 0, 500, acked_c, failed_c)
freeze(Z)
tap.is_(reassign_raw(X, "rc", 0, [Y, Z]), (0, None), "move rc to [%d,%d] (raw)" % (Y, Z))
lst = kafkajs("list")[0].get("list")
tap.is_([t["name"] for t in lst or []], ["rc"], "listed while in progress")
tap.is_(reassign_raw(Y, "rc", 0, None), (0, None), "cancel (null replicas), sent to a broker")
tap.ok(odtest.wait_until(lambda: (layout("rc") or (0, []))[1] == [Y, X], 30),
       "reverted to [%d,%d]" % (Y, X))
tap.is_(kafkajs("list")[0].get("list"), [], "nothing listed after the cancellation")
thaw(Z)
c.wait_brokers(3)
tap.ok(odtest.wait_until(lambda: not os.path.exists(pdir(Z, "rc")), 30),
       "thawed, node %d deletes the replica it had started" % Z)
produce(p, "rc", 500, 1000, acked_c, failed_c)
tap.ok(read_back("rc", 1000) and len(failed_c) == 0, "rc: 1000 read back once each")

# ---- (d) errors ------------------------------------------------------------------------
tap.is_(reassign_raw(Y, "ra", 0, [Y, Y])[0], INVALID_REPLICA_ASSIGNMENT,
        "a broker twice: INVALID_REPLICA_ASSIGNMENT")
tap.is_(reassign_raw(Y, "ra", 0, [Y, 99])[0], INVALID_REPLICA_ASSIGNMENT,
        "an unknown broker: INVALID_REPLICA_ASSIGNMENT")
tap.is_(reassign_raw(Y, "ra", 0, [])[0], INVALID_REPLICA_ASSIGNMENT, "no replicas: INVALID_REPLICA_ASSIGNMENT")
tap.is_(reassign_raw(Y, "nope", 0, [Y])[0], odtest.UNKNOWN_TOPIC_OR_PARTITION,
        "an unknown topic: UNKNOWN_TOPIC_OR_PARTITION")
tap.is_(reassign_raw(Y, "ra", 5, [Y])[0], odtest.UNKNOWN_TOPIC_OR_PARTITION,
        "an unknown partition: UNKNOWN_TOPIC_OR_PARTITION")
tap.is_(reassign_raw(Y, "ra", 0, None)[0], NO_REASSIGNMENT_IN_PROGRESS,
        "cancelling with nothing in progress: NO_REASSIGNMENT_IN_PROGRESS")
out = kafkajs("alter:ra:0:%d,%d" % (Z, Z))
tap.ok(out[0].get("error"), "kafkajs reports the refusal: %s" % out[0].get("error"))
tap.ok(all(c.node(n).proc.poll() is None for n in (1, 2, 3)), "every node still runs")
p.flush(10)
c.stop()
tap.done()
