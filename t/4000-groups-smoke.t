#!/usr/bin/python3
# Consumer groups with real clients, a quick tour: confluent_kafka group
# consumers (range, cooperative-sticky, static membership), a rebalance
# after a leave, kafka-python's group consumer and admin calls, kcat -G,
# and committed offsets surviving a restart and a kill -9.
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

try:
    import confluent_kafka as ck
    from confluent_kafka import TopicPartition
except ImportError as e:
    tap.skip_all("confluent_kafka not available: %s" % e)

odtest.watchdog(int(os.environ.get("ODTEST_TIMEOUT", "240")))
b = odtest.Broker(sets={"group.initial.rebalance.delay.ms": "200",
                        "group.min.session.timeout.ms": "1000",
                        "offsets.topic.num.partitions": "10"}).start()
BS = b.bootstrap
log = odtest.RdLog()
admin = odtest.ck_admin(BS, logger=log)
odtest.ck_create_topic(admin, "gs", 6)

prod = ck.Producer(odtest.ck_conf(BS, **{"linger.ms": 5}), logger=log)
for i in range(600):
    prod.produce("gs", value=b"m%d" % i, partition=i % 6)
prod.flush(30)


def consumer(group, **extra):
    conf = odtest.ck_conf(BS, **{"group.id": group, "auto.offset.reset": "earliest",
                                 "enable.auto.commit": False, "session.timeout.ms": 6000,
                                 "heartbeat.interval.ms": 100, "fetch.wait.max.ms": 50})
    conf.update(extra)
    return ck.Consumer(conf, logger=log)


stash = {}  # messages polled while waiting for assignments, by consumer


def poll_all(cons, want, timeout=30):
    """Poll the consumers round-robin until `want` messages arrived."""
    got = {i: stash.pop(id(c), []) for i, c in enumerate(cons)}
    t0 = time.time()
    while sum(len(v) for v in got.values()) < want and time.time() - t0 < timeout:
        for i, c in enumerate(cons):
            m = c.poll(0.05)
            if m is not None and not m.error():
                got.setdefault(i, []).append(m.value())
    return got


def assignments(cons):
    return [sorted(tp.partition for tp in c.assignment()) for c in cons]


def wait_assigned(cons, total, timeout=20):
    t0 = time.time()
    while time.time() - t0 < timeout:
        for c in cons:
            m = c.poll(0.05)
            if m is not None and not m.error():
                stash.setdefault(id(c), []).append(m.value())
        a = assignments(cons)
        if sum(len(x) for x in a) == total and all(a):
            return a
    return assignments(cons)


# ---- three range consumers share six partitions -------------------------------
cons = [consumer("g-range", **{"client.id": "c%d" % i}) for i in range(3)]
for c in cons:
    c.subscribe(["gs"])
a = wait_assigned(cons, 6)
tap.is_(sorted(len(x) for x in a), [2, 2, 2], "3 range consumers get 2 partitions each")
got = poll_all(cons, 600)
vals = [v for lst in got.values() for v in lst]
tap.diag("per consumer: %s" % {k: len(v) for k, v in got.items()})
tap.is_(len(vals), 600, "all 600 messages consumed by the group")
tap.is_(len(set(vals)), 600, "no message consumed twice")
for c in cons:
    c.commit(asynchronous=False)

# a leave rebalances the remaining two quickly
t0 = time.time()
cons[0].close()
rest = cons[1:]
a = wait_assigned(rest, 6)
dt = time.time() - t0
tap.is_(sorted(len(x) for x in a), [3, 3], "after a leave the other two take 3 each")
tap.ok(dt < 3.0, "rebalance after the leave took %.2f s" % dt)
c_new = consumer("g-range")
committed = c_new.committed([TopicPartition("gs", p) for p in range(6)], timeout=10)
tap.is_(sum(tp.offset for tp in committed), 600, "committed offsets sum to 600")
c_new.close()
for c in rest:
    c.close()

# ---- cooperative-sticky (incremental) -----------------------------------------
coop = [consumer("g-coop", **{"partition.assignment.strategy": "cooperative-sticky"})
        for _ in range(2)]
coop[0].subscribe(["gs"])
a = wait_assigned(coop[:1], 6)
tap.is_(a, [[0, 1, 2, 3, 4, 5]], "cooperative-sticky: first member owns all")
coop[1].subscribe(["gs"])
a = wait_assigned(coop, 6, timeout=30)
tap.is_(sorted(len(x) for x in a), [3, 3], "cooperative-sticky: second member gets half")
for c in coop:
    c.close()

# ---- static membership: a restart within the session keeps the assignment -------
def static(inst):
    return consumer("g-static", **{"group.instance.id": inst, "session.timeout.ms": 10000})


st = [static("i1"), static("i2")]
for c in st:
    c.subscribe(["gs"])
before = wait_assigned(st, 6)
tap.is_(sorted(len(x) for x in before), [3, 3], "two static members share the partitions")
rebalances = b.log_text().count("group g-static: preparing to rebalance")
st[0].close()  # a static member does not send LeaveGroup
st[0] = static("i1")
st[0].subscribe(["gs"])
after = wait_assigned(st, 6)
tap.is_(after, before, "restarted static member gets the same partitions back")
tap.is_(b.log_text().count("group g-static: preparing to rebalance"), rebalances,
        "no rebalance for the static member's restart")
for c in st:
    c.close()

# ---- kafka-python -------------------------------------------------------------
try:
    import kafka
    from kafka.admin import KafkaAdminClient
    kc = kafka.KafkaConsumer("gs", bootstrap_servers=BS, group_id="g-kp",
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             consumer_timeout_ms=5000, api_version_auto_timeout_ms=10000)
    n = 0
    for msg in kc:
        n += 1
        if n == 600:
            break
    tap.is_(n, 600, "kafka-python group consumer reads all")
    kc.commit()
    parts = [kafka.TopicPartition("gs", p) for p in range(6)]
    tap.is_(sum(kc.committed(tp) or 0 for tp in parts), 600, "kafka-python commit/committed")
    kc.close()
    ka = KafkaAdminClient(bootstrap_servers=BS)
    groups = dict(ka.list_consumer_groups())
    tap.ok("g-kp" in groups and "g-range" in groups, "ListGroups shows the groups")
    offs = ka.list_consumer_group_offsets("g-kp")
    tap.is_(sum(v.offset for v in offs.values()), 600, "OffsetFetch (all topics) via admin")
    desc = ka.describe_consumer_groups(["g-kp"])
    tap.is_(desc[0].state, "Empty", "DescribeGroups: closed group is Empty")
    res = dict(ka.delete_consumer_groups(["g-kp"]))
    tap.is_(res.get("g-kp").errno if res.get("g-kp") else None, 0, "DeleteGroups of an empty group")
    tap.ok("g-kp" not in dict(ka.list_consumer_groups()), "deleted group gone")
    ka.close()
except ImportError:
    tap.skip("kafka-python not available", 8)

# ---- kcat -G --------------------------------------------------------------------
try:
    out = subprocess.run(["kcat", "-b", BS, "-G", "g-kcat", "-o", "beginning", "-c", "600",
                          "-f", "%s\n", "-X", "broker.address.family=v4", "gs"],
                         capture_output=True, timeout=60)
    lines = out.stdout.decode().split()
    tap.is_(len(lines), 600, "kcat -G balanced consumer reads 600")
except FileNotFoundError:
    tap.skip("kcat not installed")

# ---- raw protocol checks -----------------------------------------------------------
from odtest import i8, i16, i32, i64, string, bytes_, array, compact_string, compact_array, NO_TAGS  # noqa: E402

with odtest.Conn(b.port) as conn:
    # FindCoordinator v4: batched keys; key type 1 (transactions) not yet
    body = i8(0) + compact_array(["a", "b"], compact_string) + NO_TAGS
    r = conn.request(10, 4, body, flexible=True)
    r.i32()

    def coord(rd):
        c = (rd.compact_string(), rd.i32(), rd.compact_string(), rd.i32(), rd.i16(),
             rd.compact_string())
        rd.tags()
        return c
    cs = r.compact_array(coord)
    tap.is_([(c[0], c[1], c[3], c[4]) for c in cs], [("a", 1, b.port, 0), ("b", 1, b.port, 0)],
            "FindCoordinator v4 answers every key with this broker")
    r = conn.request(10, 1, string("x") + i8(1))
    r.i32()
    tap.is_(r.i16(), 15, "FindCoordinator key type 1: COORDINATOR_NOT_AVAILABLE")

    # OffsetFetch v1 without commits: -1, "" and no error
    body = string("raw-g") + array([("gs", [0, 1])], lambda t: string(t[0]) + array(t[1], i32))
    r = conn.request(9, 1, body)
    parts = []
    for _ in range(r.i32()):
        r.string()
        for _ in range(r.i32()):
            parts.append((r.i32(), r.i64(), r.string(), r.i16()))
    tap.is_(parts, [(0, -1, "", 0), (1, -1, "", 0)], "OffsetFetch of an uncommitted partition")

    # JoinGroup v5: the MEMBER_ID_REQUIRED handshake, bad session timeout
    def join_body(member, session=10000):
        return (string("raw-g") + i32(session) + i32(10000) + string(member) + string(None) +
                string("consumer") + array([("range", b"\0\0\0\0\0\0")],
                                           lambda p: string(p[0]) + bytes_(p[1])))
    r = conn.request(11, 5, join_body(""))
    r.i32()
    err, gen, proto, leader, member = r.i16(), r.i32(), r.string(), r.string(), r.string()
    tap.is_((err, gen), (79, -1), "JoinGroup v5 without member id: MEMBER_ID_REQUIRED")
    tap.ok(member.startswith("odtest-"), "the answer carries the new member id (%s)" % member)
    r = conn.request(11, 5, join_body("", session=10))
    r.i32()
    tap.is_(r.i16(), 26, "session timeout below the minimum: INVALID_SESSION_TIMEOUT")
    r = conn.request(12, 0, string("no-such-group") + i32(1) + string("m"))
    tap.is_(r.i16(), 25, "Heartbeat to an unknown group: UNKNOWN_MEMBER_ID")

    # OffsetCommit v2: unknown topic, metadata too large
    def commit_body(topic, meta):
        part = lambda p: i32(p) + i64(5) + string(meta)  # noqa: E731
        return (string("raw-g") + i32(-1) + string("") + i64(-1) +
                array([(topic, [0])], lambda t: string(t[0]) + array(t[1], part)))
    r = conn.request(8, 2, commit_body("no-such-topic", ""))
    r.i32(); r.string(); r.i32(); r.i32()  # noqa: E702
    tap.is_(r.i16(), 3, "commit to an unknown topic: UNKNOWN_TOPIC_OR_PARTITION")
    r = conn.request(8, 2, commit_body("gs", "x" * 5000))
    r.i32(); r.string(); r.i32(); r.i32()  # noqa: E702
    tap.is_(r.i16(), 12, "metadata over 4096 bytes: OFFSET_METADATA_TOO_LARGE")

# ---- committed offsets survive restart and kill -9 ----------------------------------
def commit_kp(offset, meta):
    from kafka.structs import OffsetAndMetadata
    k = kafka.KafkaConsumer(bootstrap_servers=BS, group_id="g-persist", enable_auto_commit=False,
                            api_version_auto_timeout_ms=10000)
    k.commit({kafka.TopicPartition("gs", 0): OffsetAndMetadata(offset, meta)})
    k.close()


def fetch_kp():
    ka = KafkaAdminClient(bootstrap_servers=BS)
    try:
        o = ka.list_consumer_group_offsets("g-persist")[kafka.TopicPartition("gs", 0)]
        return o.offset, o.metadata
    finally:
        ka.close()


try:
    import kafka
    from kafka.admin import KafkaAdminClient
    commit_kp(42, "meta-data")
    time.sleep(0.3)
    b.stop()
    b.start()
    tap.is_(fetch_kp(), (42, "meta-data"), "offset and metadata after a restart")
    commit_kp(43, "")
    b.kill9()
    b.start()
    tap.is_(fetch_kp(), (43, ""), "offset after kill -9")
    c = consumer("g-persist")
    got = c.committed([TopicPartition("gs", 0)], timeout=10)[0]
    tap.is_(got.offset, 43, "confluent_kafka sees the same committed offset")
    c.close()
except ImportError:
    tap.skip("kafka-python not available", 3)
time.sleep(0.3)
sys.exit(odtest.finish())
