#!/usr/bin/python3
# 6009-kraft-snapshots.t - metadata snapshots (KIP-630) in a 3-node quorum
# with tiny thresholds (a snapshot every 2000 bytes of records, 4 KiB
# segments):
#  - every node writes <offset>-<epoch>.checkpoint files and keeps two;
#  - the leader deletes the segments below them (its log no longer starts
#    at 0);
#  - a voter killed with -9 while topics are created and deleted catches up
#    and ends with the same topics and partitions as the others;
#  - a restarted node loads its newest snapshot instead of the whole log,
#    and admin requests (confluent_kafka, kafka-python) work afterwards.
import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import cluster  # noqa: E402
import odtest  # noqa: E402
import tap  # noqa: E402
from confluent_kafka.admin import NewTopic  # noqa: E402
from kafka.admin import KafkaAdminClient, NewTopic as KNewTopic  # noqa: E402

odtest.watchdog(150)
c = cluster.Cluster(3, sets={"metadata.log.max.record.bytes.between.snapshots": "2000",
                             "metadata.log.segment.bytes": "4096"})
c.start()
leader, epoch = c.wait_leader()
c.wait_brokers(3)


def part_dir(i):
    return os.path.join(c.node(i).data, "__cluster_metadata-0")


def files(i, suffix):
    try:
        return sorted(f for f in os.listdir(part_dir(i)) if f.endswith(suffix))
    except OSError:
        return []


def create(names, partitions=2, via=None):
    admin = odtest.ck_admin(c.bootstrap_of(via or c.running()))
    fs = admin.create_topics([NewTopic(n, partitions, 1) for n in names],
                             operation_timeout=20, request_timeout=20)
    bad = 0
    for n, f in fs.items():
        try:
            f.result(30)
        except Exception as e:
            tap.diag("create %s: %r" % (n, e))
            bad += 1
    return bad == 0


def delete(names, via=None):
    admin = odtest.ck_admin(c.bootstrap_of(via or c.running()))
    fs = admin.delete_topics(names, operation_timeout=20, request_timeout=20)
    bad = 0
    for n, f in fs.items():
        try:
            f.result(30)
        except Exception as e:
            tap.diag("delete %s: %r" % (n, e))
            bad += 1
    return bad == 0


def image(i):
    """{topic: partitions} in node i's Metadata (user topics only)."""
    with odtest.Conn(c.bports[i - 1]) as conn:
        md = odtest.metadata(conn, None)
    return {n: len(t["partitions"]) for n, t in md["topics"].items()
            if t["error"] == 0 and not n.startswith("__")}


tap.ok(create(["snap-%03d" % i for i in range(80)]), "80 topics created")
tap.ok(odtest.wait_until(lambda: all(len(files(i, ".checkpoint")) >= 1 for i in (1, 2, 3)), 30),
       "every node wrote snapshots: %s" % [files(i, ".checkpoint") for i in (1, 2, 3)])
tap.ok(all(len(files(i, ".checkpoint")) <= 2 for i in (1, 2, 3)),
       "at most two snapshots kept on each node")
name_re = re.compile(r"^\d{20}-\d{10}\.checkpoint$")
tap.ok(all(name_re.match(f) for i in (1, 2, 3) for f in files(i, ".checkpoint")),
       "named <20-digit end offset>-<10-digit epoch>.checkpoint")
tap.ok(odtest.wait_until(lambda: "00000000000000000000.log" not in files(leader, ".log"), 30),
       "the leader deleted its first segments: %s" % files(leader, ".log")[:3])
tap.ok("metadata log start offset" in c.node(leader).log_text(),
       "the leader logged its new log start offset")

# FetchSnapshot (api 59) on the leader's controller listener: the newest
# snapshot in chunks of at most MaxBytes, and its errors.
R = odtest
snaps = files(leader, ".checkpoint")
newest = snaps[-1]
snap_off, snap_epoch = int(newest[:20]), int(newest[21:31])
with open(os.path.join(part_dir(leader), newest), "rb") as f:
    snap_bytes = f.read()
q = c.describe_quorum(leader)


def fetch_snapshot(port, end_offset, epoch, position, max_bytes, leader_epoch):
    part = (R.i32(0) + R.i32(leader_epoch) + R.i64(end_offset) + R.i32(epoch) + R.NO_TAGS +
            R.i64(position) + R.NO_TAGS)
    body = (R.i32(-1) + R.i32(max_bytes) +
            R.compact_array(["__cluster_metadata"], lambda t: R.compact_string(t) +
                            R.compact_array([0], lambda p: part) + R.NO_TAGS) + R.NO_TAGS)
    with R.Conn(port, timeout=10) as conn:
        r = conn.request(59, 0, body, flexible=True)
    r.i32()
    top = r.i16()

    def partition(x):
        d = {"index": x.i32(), "error": x.i16(), "end_offset": x.i64(), "epoch": x.i32()}
        x.tags()
        d.update(size=x.i64(), position=x.i64(), data=x.compact_bytes() or b"")
        x.tags()
        return d
    topics = r.compact_array(lambda t: (t.compact_string(), t.compact_array(partition),
                                        t.tags()))
    return top, topics[0][1][0] if topics else None


got, pos, chunks, bad = b"", 0, 0, None
while pos < len(snap_bytes) and chunks < 1000:
    top, p = fetch_snapshot(c.cports[leader - 1], snap_off, snap_epoch, pos, 5000, q["epoch"])
    if top != 0 or p["error"] != 0 or p["position"] != pos or not p["data"] or \
            len(p["data"]) > 5000 or p["size"] != len(snap_bytes):
        bad = (top, p and {k: v for k, v in p.items() if k != "data"})
        break
    got += p["data"]
    pos += len(p["data"])
    chunks += 1
tap.ok(bad is None and got == snap_bytes and chunks >= 2,
       "FetchSnapshot downloads %s (%d bytes) in %d chunks of <= 5000 bytes, byte for byte%s"
       % (newest, len(snap_bytes), chunks, "" if bad is None else ": %r" % (bad,)))
top, p = fetch_snapshot(c.cports[leader - 1], snap_off, snap_epoch, len(snap_bytes), 5000,
                        q["epoch"])
tap.is_(p["error"], 99, "a position at the end is POSITION_OUT_OF_RANGE")
top, p = fetch_snapshot(c.cports[leader - 1], snap_off, snap_epoch, -1, 5000, q["epoch"])
tap.is_(p["error"], 99, "a negative position is POSITION_OUT_OF_RANGE")
top, p = fetch_snapshot(c.cports[leader - 1], snap_off + 12345, snap_epoch, 0, 5000, q["epoch"])
tap.is_(p["error"], 98, "an unknown snapshot is SNAPSHOT_NOT_FOUND")
top, p = fetch_snapshot(c.cports[leader - 1], snap_off, snap_epoch, 0, 5000, q["epoch"] - 1)
tap.is_(p["error"], 74, "an old leader epoch is FENCED_LEADER_EPOCH")
follower = [i for i in (1, 2, 3) if i != leader][0]
top, p = fetch_snapshot(c.cports[follower - 1], snap_off, snap_epoch, 0, 5000, q["epoch"])
tap.is_(p["error"], 6, "a follower answers NOT_LEADER_OR_FOLLOWER")



def fetch_at(port, offset, leader_epoch):
    """KRaft Fetch v12 of the metadata log at offset (replica id -1);
    returns (partition error, log start offset, SnapshotId tag or None)."""
    part = (R.i32(0) + R.i32(leader_epoch) + R.i64(offset) + R.i32(-1) + R.i64(-1) +
            R.i32(1 << 20) + R.NO_TAGS)
    body = (R.i32(-1) + R.i32(0) + R.i32(0) + R.i32(1 << 20) + b"\x00" + R.i32(0) +
            R.i32(-1) + R.compact_array(["__cluster_metadata"], lambda t: R.compact_string(t) +
                                        R.compact_array([0], lambda p: part) + R.NO_TAGS) +
            R.uvarint(1) + R.compact_string("") + R.NO_TAGS)
    with R.Conn(port, timeout=10) as conn:
        r = conn.request(1, 12, body, flexible=True)
    r.i32(), r.i16(), r.i32()

    def partition(x):
        x.i32()
        err, _hw, _lso, lstart = x.i16(), x.i64(), x.i64(), x.i64()
        x.compact_array(lambda a: (a.i64(), a.i64(), a.tags()))
        x.i32()
        x.compact_bytes()
        tags = x.tags()
        snap = None
        if 2 in tags:
            t = R.Reader(tags[2])
            snap = (t.i64(), t.i32())
        return err, lstart, snap
    return r.compact_array(lambda t: (t.compact_string(), t.compact_array(partition),
                                      t.tags()))[0][1][0]


err, lstart, snap = fetch_at(c.cports[leader - 1], 0, q["epoch"])
newest_now = files(leader, ".checkpoint")[-1]
tap.ok(err == 0 and lstart > 0 and snap == (int(newest_now[:20]), int(newest_now[21:31])),
       "a Fetch below the log start (%d) answers the newest snapshot's id %r" % (lstart, snap))
err, lstart, snap = fetch_at(c.cports[leader - 1], lstart, q["epoch"])
tap.ok(err == 0 and snap is None, "a Fetch at the log start gets records, no SnapshotId")

# A follower dies; the others go on without it.
victim = [i for i in (1, 2, 3) if i != leader][0]
others = [i for i in (1, 2, 3) if i != victim]
victim_end = dict(c.describe_quorum(leader)["voters"])[victim]
c.node(victim).kill9()
# In six requests: each commit is one batch, and snapshots follow commits.
tap.ok(all([create(["late-%03d" % i for i in range(j, j + 10)], via=others)
            for j in range(0, 60, 10)]), "60 more topics without it")
tap.ok(delete(["snap-%03d" % i for i in range(0, 80, 2)], via=others), "40 topics deleted")
leader_start = lambda: int(files(c.wait_leader()[0], ".log")[0][:20])
tap.ok(odtest.wait_until(lambda: leader_start() > victim_end, 30),
       "the leader trimmed its log past node %d's end offset %d (log start %d)"
       % (victim, victim_end, leader_start()))
c.node(victim).start()
tap.ok(odtest.wait_until(lambda: "installed snapshot" in c.node(victim).log_text(), 40),
       "node %d caught up with FetchSnapshot: %s" % (victim, "; ".join(
           ln.split("kraft: ")[-1] for ln in c.node(victim).log_text().splitlines()
           if "fetching snapshot" in ln or "installed snapshot" in ln)))
want = image(others[0])
tap.is_(len(want), 100, "the survivors list 100 topics")
tap.ok(odtest.wait_until(lambda: image(victim) == want, 40),
       "node %d, restarted, lists the same topics and partitions as the others" % victim)
tap.ok(image(others[1]) == want, "so does node %d" % others[1])

# A restart loads the newest snapshot.
r = [i for i in (1, 2, 3) if i != c.wait_leader()[0]][0]
c.node(r).restart()
c.wait_leader()
log = c.node(r).log_text().split("==== start")[-1]
m = re.search(r"loaded snapshot (\d{20})-\d{10} \((\d+) records\)", log)
tap.ok(m and int(m.group(2)) > 0, "node %d started from snapshot %s" % (r, m and m.group(1)))
tap.ok(odtest.wait_until(lambda: image(r) == want, 30), "and has the same image")
tap.ok(create(["after-restart"], via=[r]), "confluent_kafka creates a topic through it")
ka = KafkaAdminClient(bootstrap_servers=c.bootstrap_of([r]), request_timeout_ms=20000)
res = ka.create_topics([KNewTopic("after-restart-kp", 1, 1)])
ka.close()
tap.ok(all(e[1] == 0 for e in res.topic_errors), "kafka-python creates one through it")
tap.ok(odtest.wait_until(lambda: all("after-restart-kp" in image(i) for i in (1, 2, 3)), 20),
       "every node knows it")
tap.ok(not any(c.node(i).sanitizer_reports() for i in (1, 2, 3)), "no sanitizer reports")
sys.exit(odtest.finish())
